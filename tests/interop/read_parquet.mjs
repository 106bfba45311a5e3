// Reads every Parquet file that zetl's writer test left in a directory (each
// NAME.parquet next to NAME.expect.json, the expected values built from the
// writer's inputs) with two independent readers, DuckDB and hyparquet, and
// compares every value exactly: integers and decimals as text, floats bit for
// bit (NaN, infinities, -0), timestamps and times in microseconds, dates in
// days, bytes as hex, uuids canonical. With DuckDB it also reads the columns by
// Iceberg field id (read_parquet's schema=MAP{...}) and checks
// parquet_schema() (field ids, logical types, repetition) and
// parquet_metadata() (codec, dictionary encoding where expected, min/max
// statistics and null counts per row group).
//
//   node tests/interop/read_parquet.mjs DIR
//
// Prints TAP-like "ok -" / "not ok -" lines; exits 1 on any mismatch.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node read_parquet.mjs DIR');
  process.exit(2);
}

let failures = 0;
function ok(cond, what, detail) {
  if (cond) {
    console.log(`ok - ${what}`);
  } else {
    failures++;
    console.log(`not ok - ${what}${detail ? `: ${detail}` : ''}`);
  }
}

const q = (s) => `'${s.replaceAll("'", "''")}'`;
const ident = (s) => `"${s.replaceAll('"', '""')}"`;

// ---- canonical forms --------------------------------------------------------

function floatFromText(s, single) {
  const m = { NaN: NaN, nan: NaN, '-nan': NaN, Infinity: Infinity, inf: Infinity, '-Infinity': -Infinity, '-inf': -Infinity };
  const v = s in m ? m[s] : Number(s);
  return single ? Math.fround(v) : v;
}

function sameFloat(a, b) {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

function hex(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function uuidText(bytes) {
  const h = hex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function decimalText(unscaled, scale) {
  const neg = unscaled < 0n;
  let digits = (neg ? -unscaled : unscaled).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }
  return (neg ? '-' : '') + digits;
}

function bigFromBytes(bytes) {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  if (bytes.length && bytes[0] & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return v;
}

// Compare one value as read with the expected one (both non-null here).
function equalValue(col, got, want) {
  switch (col.type) {
    case 'float32':
    case 'float64': {
      const single = col.type === 'float32';
      const g = typeof got === 'number' ? (single ? Math.fround(got) : got) : floatFromText(String(got), single);
      return sameFloat(g, floatFromText(want, single));
    }
    case 'boolean':
      return String(got) === String(want);
    default:
      return String(got) === String(want);
  }
}

function compareColumn(what, col, got) {
  const want = col.values;
  if (got.length !== want.length) {
    ok(false, what, `${got.length} values, expected ${want.length}`);
    return;
  }
  const bad = [];
  for (let i = 0; i < want.length; i++) {
    const g = got[i] ?? null;
    const w = want[i];
    const same = w === null ? g === null : g !== null && equalValue(col, g, w);
    if (!same && bad.length < 3) bad.push(`row ${i}: got ${String(g).slice(0, 80)}, want ${String(w).slice(0, 80)}`);
    if (!same && bad.length >= 3) break;
  }
  ok(bad.length === 0, what, bad.join('; '));
}

// ---- DuckDB -------------------------------------------------------------------

const duckType = {
  boolean: 'BOOLEAN', int16: 'INTEGER', int32: 'INTEGER', int64: 'BIGINT', float32: 'FLOAT',
  float64: 'DOUBLE', string: 'VARCHAR', json: 'VARCHAR', bytes: 'BLOB', date: 'DATE',
  time: 'TIME', timestamp: 'TIMESTAMP', timestamptz: 'TIMESTAMPTZ', uuid: 'UUID',
};

function duckTypeOf(col) {
  return col.type === 'decimal' ? `DECIMAL(${col.precision},${col.scale})` : duckType[col.type];
}

// A SQL expression giving the canonical text of column expression e.
function duckExpr(col, e) {
  switch (col.type) {
    case 'bytes': return `lower(hex(${e}))`;
    case 'date': return `CAST(${e} - DATE '1970-01-01' AS VARCHAR)`;
    case 'time': case 'timestamp': case 'timestamptz': return `CAST(epoch_us(${e}) AS VARCHAR)`;
    default: return `CAST(${e} AS VARCHAR)`;
  }
}

async function duckRows(con, sql) {
  const r = await con.runAndReadAll(sql);
  return r.getRowObjectsJson();
}

// Expected Parquet statistics text as DuckDB shows it, or undefined for types
// whose text form we do not predict (floats, bytes, booleans).
function statOrder(col) {
  switch (col.type) {
    case 'int16': case 'int32': case 'int64': case 'date': case 'time': case 'timestamp': case 'timestamptz':
      return { key: (v) => BigInt(v), text: (v) => v };
    case 'decimal':
      return { key: (v) => BigInt(v.replace('.', '')), text: (v) => v };
    case 'string': case 'json':
      return { key: (v) => Buffer.from(v, 'utf8'), text: (v) => v, bytes: true };
    case 'uuid':
      return { key: (v) => v, text: (v) => v };
    default:
      return undefined;
  }
}

function cmpKeys(a, b, bytes) {
  if (bytes) return Buffer.compare(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

// DuckDB prints date/time statistics in ISO form; compare those after
// converting the expected number instead.
function statText(col, v) {
  const us = (x) => BigInt(x);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  if (col.type === 'date') return new Date(Number(v) * 86400000).toISOString().slice(0, 10);
  if (col.type === 'time' || col.type === 'timestamp' || col.type === 'timestamptz') {
    const t = us(v);
    const frac = ((t % 1000000n) + 1000000n) % 1000000n;
    const secs = (t - frac) / 1000000n;
    let s;
    if (col.type === 'time') {
      const n = Number(secs);
      s = `${pad(Math.floor(n / 3600))}:${pad(Math.floor(n / 60) % 60)}:${pad(n % 60)}`;
    } else {
      s = new Date(Number(secs) * 1000).toISOString().slice(0, 19).replace('T', ' ');
    }
    if (frac) s += `.${String(frac).padStart(6, '0').replace(/0+$/, '')}`;
    if (col.type === 'timestamptz') s += '+00';
    return s;
  }
  return v;
}

async function checkDuck(con, exp) {
  const f = exp.file;
  const name = exp.file.split('/').pop();
  const cols = exp.columns;

  // Values by name, in file order.
  const select = cols.map((c) => `${duckExpr(c, ident(c.name))} AS ${ident(c.name)}`).join(', ');
  const rows = await duckRows(con, `SELECT ${select} FROM read_parquet(${q(f)}, file_row_number=true) ORDER BY file_row_number`);
  ok(rows.length === exp.rows, `${name}: duckdb reads ${exp.rows} rows`, `got ${rows.length}`);
  for (const c of cols) compareColumn(`${name}: duckdb ${c.name} (${c.type})`, c, rows.map((r) => r[c.name]));

  // Values by field id, under other names.
  const map = cols.map((c) => `${c.field_id}: {name: ${q(`fid_${c.field_id}`)}, type: ${q(duckTypeOf(c))}, default_value: NULL}`).join(', ');
  const sel2 = cols.map((c) => `${duckExpr(c, ident(`fid_${c.field_id}`))} AS ${ident(`fid_${c.field_id}`)}`).join(', ');
  const byId = await duckRows(con, `SELECT ${sel2} FROM read_parquet(${q(f)}, schema=MAP{${map}}, file_row_number=true) ORDER BY file_row_number`);
  let idBad = [];
  for (const c of cols) {
    const before = failures;
    compareColumn(`${name}: duckdb by field id ${c.field_id}`, c, byId.map((r) => r[`fid_${c.field_id}`]));
    if (failures !== before) idBad.push(c.name);
  }

  // Schema: field ids, repetition, logical types.
  const schema = await duckRows(con, `SELECT * FROM parquet_schema(${q(f)})`);
  const wantLogical = {
    string: 'StringType()', json: 'StringType()', date: 'DateType()', uuid: 'UUIDType()',
    time: 'TimeType(isAdjustedToUTC=0', timestamp: 'TimestampType(isAdjustedToUTC=0', timestamptz: 'TimestampType(isAdjustedToUTC=1',
  };
  const schemaBad = [];
  for (const c of cols) {
    const e = schema.find((s) => s.name === c.name);
    if (!e) { schemaBad.push(`${c.name} missing`); continue; }
    if (String(e.field_id) !== String(c.field_id)) schemaBad.push(`${c.name} field_id ${e.field_id}`);
    if (e.repetition_type !== (c.required ? 'REQUIRED' : 'OPTIONAL')) schemaBad.push(`${c.name} ${e.repetition_type}`);
    let lt = wantLogical[c.type];
    if (c.type === 'decimal') lt = `DecimalType(scale=${c.scale}, precision=${c.precision})`;
    if (lt && !(e.logical_type || '').startsWith(lt)) schemaBad.push(`${c.name} logical ${e.logical_type}`);
    if (lt && (c.type === 'time' || c.type.startsWith('timestamp')) && !e.logical_type.includes('MICROS=MicroSeconds()')) schemaBad.push(`${c.name} unit`);
  }
  ok(schemaBad.length === 0, `${name}: parquet_schema field ids, repetition, logical types`, schemaBad.join('; '));

  // Metadata per chunk: codec, encodings, statistics.
  const meta = await duckRows(con, `SELECT * FROM parquet_metadata(${q(f)}) ORDER BY row_group_id, column_id`);
  const rgs = new Map();
  for (const m of meta) rgs.set(Number(m.row_group_id), Number(m.row_group_num_rows));
  ok(rgs.size === exp.row_groups, `${name}: ${exp.row_groups} row groups`, `duckdb sees ${rgs.size}`);
  const metaBad = [];
  const rgStart = [];
  let at = 0;
  for (const [g, n] of [...rgs.entries()].sort((a, b) => a[0] - b[0])) { rgStart[g] = [at, at + n]; at += n; }
  for (const m of meta) {
    const c = cols.find((x) => x.name === m.path_in_schema);
    if (!c) { metaBad.push(`unknown column ${m.path_in_schema}`); continue; }
    if (m.compression !== exp.codec) metaBad.push(`${c.name} rg ${m.row_group_id} compression ${m.compression}`);
    const encs = String(m.encodings);
    if (c.dictionary === true && !encs.includes('RLE_DICTIONARY')) metaBad.push(`${c.name} rg ${m.row_group_id} lacks a dictionary: ${encs}`);
    if (c.dictionary === false && encs.includes('DICTIONARY')) metaBad.push(`${c.name} rg ${m.row_group_id} uses a dictionary: ${encs}`);
    const [lo, hi] = rgStart[Number(m.row_group_id)];
    const slice = c.values.slice(lo, hi);
    const nulls = slice.filter((v) => v === null).length;
    if (String(m.stats_null_count) !== String(nulls)) metaBad.push(`${c.name} rg ${m.row_group_id} null_count ${m.stats_null_count}, want ${nulls}`);
    const ord = statOrder(c);
    const vals = slice.filter((v) => v !== null);
    if (!ord) continue;
    if (!vals.length) {
      if (m.stats_min_value !== null) metaBad.push(`${c.name} rg ${m.row_group_id}: stats on an all-null chunk`);
      continue;
    }
    let mn = vals[0], mx = vals[0];
    for (const v of vals) {
      if (cmpKeys(ord.key(v), ord.key(mn), ord.bytes) < 0) mn = v;
      if (cmpKeys(ord.key(v), ord.key(mx), ord.bytes) > 0) mx = v;
    }
    if (m.stats_min_value !== statText(c, mn) || m.stats_max_value !== statText(c, mx)) {
      metaBad.push(`${c.name} rg ${m.row_group_id} min/max ${m.stats_min_value}/${m.stats_max_value}, want ${statText(c, mn)}/${statText(c, mx)}`);
    }
  }
  ok(metaBad.length === 0, `${name}: parquet_metadata codec ${exp.codec}, dictionary use, statistics`, metaBad.slice(0, 5).join('; '));
}

// ---- hyparquet ------------------------------------------------------------------

async function checkHyparquet(exp) {
  const name = exp.file.split('/').pop();
  const buf = readFileSync(exp.file);
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const metadata = await parquetMetadataAsync(file);
  // hyparquet turns decimals into JavaScript numbers (inexact past 2^53): drop
  // the annotation so it hands back the raw unscaled integers, and rebuild the
  // exact text here. DuckDB checks the annotation itself.
  const raw = structuredClone(metadata);
  for (const el of raw.schema) {
    if (el.converted_type === 'DECIMAL' || el.logical_type?.type === 'DECIMAL') {
      delete el.converted_type;
      delete el.logical_type;
    }
  }
  ok(Number(metadata.num_rows) === exp.rows, `${name}: hyparquet sees ${exp.rows} rows`, `got ${metadata.num_rows}`);
  const fids = exp.columns.map((c) => metadata.schema.find((s) => s.name === c.name)?.field_id);
  ok(exp.columns.every((c, i) => fids[i] === c.field_id), `${name}: hyparquet field ids`, JSON.stringify(fids));
  const rows = await parquetReadObjects({
    file,
    metadata: raw,
    compressors,
    utf8: false,
    parsers: {
      timestampFromMilliseconds: (v) => v,
      timestampFromMicroseconds: (v) => v,
      timestampFromNanoseconds: (v) => v,
      dateFromDays: (v) => v,
      stringFromBytes: (b) => (b === undefined || b === null ? b : new TextDecoder().decode(b)),
      geometryFromBytes: (b) => b,
      geographyFromBytes: (b) => b,
    },
  });
  for (const c of exp.columns) {
    const got = rows.map((r) => {
      const v = r[c.name];
      if (v === null || v === undefined) return null;
      switch (c.type) {
        case 'decimal': return decimalText(v instanceof Uint8Array ? bigFromBytes(v) : BigInt(v), c.scale);
        case 'bytes': return hex(v);
        case 'uuid': return uuidText(v);
        default: return v;
      }
    });
    compareColumn(`${name}: hyparquet ${c.name} (${c.type})`, c, got);
  }
}

// ---- main -----------------------------------------------------------------------

const files = readdirSync(dir).filter((f) => f.endsWith('.expect.json')).sort();
ok(files.length > 0, `expectations found in ${dir}`);
const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
for (const e of files) {
  const exp = JSON.parse(readFileSync(join(dir, e), 'utf8'));
  try {
    await checkDuck(con, exp);
  } catch (err) {
    ok(false, `${e}: duckdb`, err.message);
  }
  try {
    await checkHyparquet(exp);
  } catch (err) {
    ok(false, `${e}: hyparquet`, err.stack);
  }
}
console.log(failures ? `${failures} check(s) failed` : 'all parquet interop checks passed');
process.exit(failures ? 1 : 0);
