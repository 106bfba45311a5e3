// Reads an Iceberg v2 table that zetl wrote, with two independent readers,
// and prints or checks its current rows.
//
//  duckdb:  the metadata JSON, then avsc for the manifest list and manifests
//           (sequence numbers inherited as the spec says), then DuckDB's
//           read_parquet(f, schema=MAP{field_id: {name, type, default_value}})
//           so columns are found by field id (renamed columns read right,
//           added ones read NULL in older files), and equality deletes
//           applied in SQL: a delete file of sequence number S removes the
//           rows with equal key values from data files of sequence < S.
//  icebird: icebird 0.3.1's icebergRead (with a fetch shim for file://
//           locations); its Parquet reader (hyparquet) gives decimals as
//           doubles, so decimals are compared to 1e-12 relative there, and
//           exactly (as text) with DuckDB; its dates, timestamps and byte
//           arrays are taken raw (hyparquet's parsers) to stay exact.
//
// Every value is printed as text (or null), normalized by its Iceberg type
// so that PostgreSQL can produce the same text: integers and decimals as
// digits (decimals without trailing fractional zeros), floats as JavaScript
// prints the double (real widened to double), date as days since
// 1970-01-01, time and timestamps as microseconds, uuid lowercase, binary as
// lowercase hex, boolean true/false.
//
// Usage:
//   node read_iceberg.mjs [--reader duckdb|icebird] TABLE_DIR     rows as JSON lines
//   node read_iceberg.mjs --orphans TABLE_DIR   files no snapshot references
//   node read_iceberg.mjs --check EXPECTED.jsonl TABLE_DIR [NAME]
//       compares both readers with EXPECTED (JSON lines, values as text
//       like the above); prints TAP-like lines; exit 0 or 1; exit 77 with
//       "skip: ..." when the npm readers are not installed.
import fs from 'node:fs';
import path from 'node:path';

let avro, DuckDBInstance, icebird, hyparquet;
try {
  avro = (await import('avsc')).default;
  ({ DuckDBInstance } = await import('@duckdb/node-api'));
  icebird = await import('icebird');
  hyparquet = await import('hyparquet/src/convert.js');
} catch (e) {
  console.log(`skip: the npm readers are not installed in tests/interop/node_modules (${e.code || e.message})`);
  process.exit(77);
}

// ---- table metadata and manifests (avsc) ---------------------------------

function latestMetadata(dir) {
  const md = path.join(dir, 'metadata');
  let v = 0;
  try {
    v = parseInt(fs.readFileSync(path.join(md, 'version-hint.text'), 'utf8'), 10) || 0;
  } catch {}
  // The hint may trail a commit: follow the versions after it.
  while (fs.existsSync(path.join(md, `v${v + 1}.metadata.json`))) v++;
  if (v === 0) throw new Error(`${dir}: no metadata`);
  return { version: v, metadata: JSON.parse(fs.readFileSync(path.join(md, `v${v}.metadata.json`), 'utf8')) };
}

function localPath(location) {
  if (location.startsWith('file://')) return location.slice('file://'.length);
  if (location.startsWith('file:')) return location.slice('file:'.length);
  return location;
}

function readAvro(file) {
  return new Promise((resolve, reject) => {
    const out = [];
    avro.createFileDecoder(localPath(file))
      .on('data', (r) => out.push(r))
      .on('error', reject)
      .on('end', () => resolve(out));
  });
}

// The live files of the current snapshot, each with its data sequence number.
async function liveFiles(metadata) {
  const cur = metadata['current-snapshot-id'];
  const snap = (metadata.snapshots || []).find((s) => s['snapshot-id'] === cur);
  if (!snap) return { data: [], deletes: [] };
  const data = [];
  const deletes = [];
  for (const mf of await readAvro(snap['manifest-list'])) {
    for (const e of await readAvro(mf.manifest_path)) {
      if (e.status === 2) continue; // DELETED
      const seq = e.sequence_number ?? mf.sequence_number; // inherited by ADDED entries
      const f = { ...e.data_file, seq: Number(seq) };
      if (f.content === 0) data.push(f);
      else if (f.content === 2) deletes.push(f);
      else throw new Error(`position deletes are not expected from zetl: ${f.file_path}`);
    }
  }
  return { data, deletes };
}

function currentSchema(metadata) {
  return metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']);
}

// ---- normalization -------------------------------------------------------

function trimDecimal(s) {
  if (!s.includes('.')) return s === '-0' ? '0' : s;
  s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

// Text from PostgreSQL (or DuckDB) into the canonical text of its Iceberg type.
function normText(type, v) {
  if (v === null || v === undefined) return null;
  if (type === 'float' || type === 'double') return String(Number(v));
  if (type.startsWith('decimal')) return trimDecimal(String(v));
  return String(v);
}

const sqlName = (n) => '"' + n.replace(/"/g, '""') + '"';
const sqlStr = (s) => "'" + s.replace(/'/g, "''") + "'";

function duckType(type) {
  const m = {
    boolean: 'BOOLEAN', int: 'INTEGER', long: 'BIGINT', float: 'FLOAT', double: 'DOUBLE',
    date: 'DATE', time: 'TIME', timestamp: 'TIMESTAMP', timestamptz: 'TIMESTAMPTZ',
    string: 'VARCHAR', uuid: 'UUID', binary: 'BLOB',
  };
  if (type.startsWith('decimal')) return type.toUpperCase();
  if (!m[type]) throw new Error(`unexpected type ${type}`);
  return m[type];
}

// A DuckDB expression giving the canonical text of column c (floats stay
// doubles: JavaScript formats them).
function duckNorm(type, c) {
  switch (type) {
    case 'boolean': return `CASE WHEN ${c} THEN 'true' WHEN NOT ${c} THEN 'false' END`;
    case 'float': case 'double': return `CAST(${c} AS DOUBLE)`;
    case 'date': return `CAST(${c} - DATE '1970-01-01' AS VARCHAR)`;
    case 'time': return `CAST(epoch_us(DATE '1970-01-01' + ${c}) AS VARCHAR)`;
    case 'timestamp': case 'timestamptz': return `CAST(epoch_us(${c}) AS VARCHAR)`;
    case 'binary': return `lower(hex(${c}))`;
    default: return `CAST(${c} AS VARCHAR)`;
  }
}

// ---- reader (a): avsc + DuckDB --------------------------------------------

async function readDuckdb(dir) {
  const { metadata } = latestMetadata(dir);
  const schema = currentSchema(metadata);
  const fields = schema.fields;
  const byId = new Map(fields.map((f) => [f.id, f]));
  const { data, deletes } = await liveFiles(metadata);
  if (data.length === 0) return { fields, rows: [] };
  const mapOf = (ids) => 'MAP{' + ids.map((id) => {
    const f = byId.get(id);
    return `${id}: {name: ${sqlStr(f.name)}, type: ${sqlStr(duckType(f.type))}, default_value: NULL}`;
  }).join(', ') + '}';
  const allIds = fields.map((f) => f.id);
  const cols = fields.map((f) => `${duckNorm(f.type, sqlName(f.name))} AS ${sqlName(f.name)}`).join(', ');
  const dataSql = data.map((f) =>
    `SELECT ${cols}, ${f.seq} AS _seq FROM read_parquet(${sqlStr(localPath(f.file_path))}, schema=${mapOf(allIds)})`).join(' UNION ALL ');
  let where = '';
  const groups = new Map();
  for (const f of deletes) {
    const ids = Array.from(f.equality_ids).map(Number);
    for (const id of ids) if (!byId.has(id)) throw new Error(`equality field ${id} not in the current schema`);
    const k = ids.join(',');
    if (!groups.has(k)) groups.set(k, { ids, files: [] });
    groups.get(k).files.push(f);
  }
  let g = 0;
  for (const { ids, files } of groups.values()) {
    const kcols = ids.map((id) => { const f = byId.get(id); return `${duckNorm(f.type, sqlName(f.name))} AS ${sqlName(f.name)}`; }).join(', ');
    const delSql = files.map((f) =>
      `SELECT ${kcols}, ${f.seq} AS _dseq FROM read_parquet(${sqlStr(localPath(f.file_path))}, schema=${mapOf(ids)})`).join(' UNION ALL ');
    const on = ids.map((id) => { const n = sqlName(byId.get(id).name); return `del.${n} IS NOT DISTINCT FROM d.${n}`; }).join(' AND ');
    where += `${where ? ' AND' : ' WHERE'} NOT EXISTS (SELECT 1 FROM (${delSql}) del WHERE del._dseq > d._seq AND ${on})`;
    g++;
  }
  const sql = `SELECT * EXCLUDE (_seq) FROM (${dataSql}) d${where}`;
  if (process.env.ICE_DEBUG) console.error(sql);
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  const reader = await conn.runAndReadAll(sql);
  const rows = reader.getRowObjects().map((r) => {
    const o = {};
    for (const f of fields) o[f.name] = normText(f.type, r[f.name] === null ? null : r[f.name]);
    return o;
  });
  return { fields, rows };
}

// ---- reader (b): icebird ---------------------------------------------------

function installFetchShim() {
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url, init = {}) => {
    const u = String(url);
    if (!u.startsWith('file:')) return realFetch(url, init);
    const p = localPath(u);
    let buf;
    try {
      buf = fs.readFileSync(p);
    } catch {
      return new Response(null, { status: 404, statusText: 'Not Found' });
    }
    const headers = new Headers(init.headers || {});
    if ((init.method || 'GET') === 'HEAD')
      return new Response(null, { status: 200, headers: { 'content-length': String(buf.length) } });
    const range = headers.get('Range');
    const m = range && /^bytes=(\d+)-(\d*)$/.exec(range);
    if (m) {
      const start = Number(m[1]);
      const end = m[2] === '' ? buf.length : Number(m[2]) + 1;
      return new Response(buf.subarray(start, end), { status: 206 });
    }
    return new Response(buf, { status: 200, headers: { 'content-length': String(buf.length) } });
  };
  // Exact temporal values: raw days and microseconds instead of Dates.
  hyparquet.DEFAULT_PARSERS.dateFromDays = (d) => d;
  hyparquet.DEFAULT_PARSERS.timestampFromMicroseconds = (us) => us;
  // hyparquet decodes every BYTE_ARRAY as UTF-8 text, binary columns too
  // (icebird asks for nothing else): latin1 keeps each byte, so strings are
  // decoded as UTF-8 and binary values are hex-encoded afterwards, and both
  // sides of icebird's equality-delete match still see the same strings.
  hyparquet.DEFAULT_PARSERS.stringFromBytes = (b) => b && Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

function hex(u8) {
  return Buffer.from(u8).toString('hex');
}

function uuidText(v) {
  if (typeof v === 'string') return v.toLowerCase();
  const h = hex(v);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function icebirdNorm(type, v) {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'boolean': return v ? 'true' : 'false';
    case 'float': case 'double': return String(Number(v));
    case 'binary': return typeof v === 'string' ? Buffer.from(v, 'latin1').toString('hex') : hex(v);
    case 'uuid': return uuidText(v);
    case 'string': return typeof v === 'string' ? Buffer.from(v, 'latin1').toString('utf8') : JSON.stringify(v);
    default:
      if (type.startsWith('decimal')) return String(v); // a double: compared approximately
      return String(v);
  }
}

async function readIcebird(dir) {
  installFetchShim();
  const { version, metadata } = latestMetadata(dir);
  const fields = currentSchema(metadata).fields;
  const { data } = await liveFiles(metadata);
  if (data.length === 0) return { fields, rows: [] }; // icebird refuses a table without data files
  const tableUrl = 'file://' + path.resolve(dir);
  const raw = await icebird.icebergRead({ tableUrl, metadataFileName: `v${version}.metadata.json` });
  const rows = raw.map((r) => {
    const o = {};
    for (const f of fields) o[f.name] = icebirdNorm(f.type, r[f.name]);
    return o;
  });
  return { fields, rows };
}

// ---- orphans: files in data/ and metadata/ that no snapshot reaches ----------

async function orphans(dir) {
  const { metadata } = latestMetadata(dir);
  const keep = new Set();
  for (const snap of metadata.snapshots || []) {
    const list = localPath(snap['manifest-list']);
    if (keep.has(list)) continue;
    keep.add(list);
    for (const mf of await readAvro(list)) {
      const m = localPath(mf.manifest_path);
      if (keep.has(m)) continue;
      keep.add(m);
      for (const e of await readAvro(m)) keep.add(localPath(e.data_file.file_path));
    }
  }
  const out = [];
  for (const [sub, ext] of [['data', '.parquet'], ['metadata', '.avro']]) {
    const d = path.join(path.resolve(dir), sub);
    if (!fs.existsSync(d)) continue;
    for (const n of fs.readdirSync(d)) if (n.endsWith(ext) && !keep.has(path.join(d, n))) out.push(path.join(d, n));
  }
  return out;
}

// ---- check -----------------------------------------------------------------

function keyNames(dir) {
  const { metadata } = latestMetadata(dir);
  const s = currentSchema(metadata);
  const ids = s['identifier-field-ids'] || [];
  return ids.map((id) => s.fields.find((f) => f.id === id).name);
}

function canonical(fields, row) {
  const o = {};
  for (const f of fields) o[f.name] = row[f.name] === undefined ? null : row[f.name];
  return JSON.stringify(o);
}

function sameValue(type, a, b, approxDecimals) {
  if (a === b) return true;
  if (a === null || b === null) return false;
  if (approxDecimals && type.startsWith('decimal')) {
    const x = Number(a), y = Number(b);
    return Math.abs(x - y) <= 1e-12 * Math.max(1, Math.abs(x), Math.abs(y));
  }
  return false;
}

function compare(label, fields, keys, expected, got, approxDecimals) {
  const kf = (r) => JSON.stringify(keys.map((k) => r[k]));
  const exp = new Map(expected.map((r) => [kf(r), r]));
  const problems = [];
  const seen = new Set();
  for (const r of got) {
    const k = kf(r);
    if (seen.has(k)) problems.push(`duplicate key ${k}`);
    seen.add(k);
    const e = exp.get(k);
    if (!e) { problems.push(`extra row ${canonical(fields, r)}`); continue; }
    for (const f of fields) {
      const ev = e[f.name] === undefined ? null : e[f.name];
      const gv = r[f.name] === undefined ? null : r[f.name];
      if (!sameValue(f.type, ev, gv, approxDecimals)) problems.push(`key ${k} column ${f.name}: expected ${JSON.stringify(ev)}, read ${JSON.stringify(gv)}`);
    }
  }
  for (const [k, e] of exp) if (!seen.has(k)) problems.push(`missing row ${canonical(fields, e)}`);
  const ok = problems.length === 0;
  console.log(`${ok ? 'ok' : 'not ok'} - ${label}: ${got.length} rows read, ${expected.length} expected`);
  for (const p of problems.slice(0, 10)) console.log(`#   ${p}`);
  if (problems.length > 10) console.log(`#   ... ${problems.length - 10} more`);
  return ok;
}

// ---- main --------------------------------------------------------------------

const args = process.argv.slice(2);
let reader = 'duckdb';
let expectedFile = null;
while (args[0] && args[0].startsWith('--')) {
  const a = args.shift();
  if (a === '--reader') reader = args.shift();
  else if (a === '--check') expectedFile = args.shift();
  else if (a === '--orphans') reader = 'orphans';
  else { console.error(`unknown option ${a}`); process.exit(2); }
}
const dir = args[0];
if (!dir) {
  console.error('usage: node read_iceberg.mjs [--reader duckdb|icebird | --check EXPECTED] TABLE_DIR [NAME]');
  process.exit(2);
}

if (reader === 'orphans') {
  const text = (await orphans(dir)).map((f) => f + '\n').join('');
  process.stdout.write(text, () => process.exit(0));
  await new Promise(() => {});
}

if (!expectedFile) {
  const { rows } = reader === 'icebird' ? await readIcebird(dir) : await readDuckdb(dir);
  // One write, and an exit only once it is flushed: process.exit would cut a piped stdout.
  const text = rows.map((r) => JSON.stringify(r) + '\n').join('');
  process.stdout.write(text, () => process.exit(0));
  await new Promise(() => {});
}

const name = args[1] || path.basename(dir);
const lines = fs.readFileSync(expectedFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
let failed = 0;
try {
  const a = await readDuckdb(dir);
  const keys = keyNames(dir);
  const expected = lines.map((l) => {
    const r = JSON.parse(l);
    const o = {};
    for (const f of a.fields) o[f.name] = normText(f.type, r[f.name] ?? null);
    return o;
  });
  if (!compare(`${name}: DuckDB (by field id, deletes applied) equals the source`, a.fields, keys, expected, a.rows, false)) failed++;
  let b;
  try {
    b = await readIcebird(dir);
  } catch (e) {
    console.log(`not ok - ${name}: icebird reads the table (${e.message})`);
    failed++;
  }
  if (b && !compare(`${name}: icebird equals the source`, b.fields, keys, expected, b.rows, true)) failed++;
} catch (e) {
  console.log(`not ok - ${name}: reading the table (${e.stack || e.message})`);
  failed++;
}
process.stdout.write('', () => process.exit(failed ? 1 : 0));
