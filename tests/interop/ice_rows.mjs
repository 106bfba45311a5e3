// Reads the current rows of one of zetl's Iceberg tables independently of
// zetl: the metadata JSON (version-hint, then any later vN), the manifest
// list and manifests with avsc, and the live data and equality-delete files
// with DuckDB's read_parquet by Iceberg field id (schema=MAP{...}), applying
// the deletes by the spec's rule (a delete of data sequence number S removes
// matching rows, NULL-safe on every equality field, from data files whose
// sequence number is below S). For test_compact.sh.
//
//   node tests/interop/ice_rows.mjs TABLE_DIR [--no-deletes]
//
// Prints one JSON object: {"data_files", "delete_files", "snapshot",
// "operation", "rows": [row objects of the current schema, values as text,
// sorted by the identifier fields]}. --no-deletes reads the data files as a
// reader without equality-delete support would. Exits 77 ("skip: ...") when
// the readers are not installed, 1 on an error.
import fs from 'node:fs';
import path from 'node:path';

let avro, DuckDBInstance;
try {
  avro = (await import('avsc')).default;
  ({ DuckDBInstance } = await import('@duckdb/node-api'));
} catch (e) {
  console.log(`skip: avsc or @duckdb/node-api is not installed (${e.code || e.message})`);
  process.exit(77);
}

const dir = process.argv[2];
const noDeletes = process.argv.includes('--no-deletes');
if (!dir) {
  console.error('usage: node ice_rows.mjs TABLE_DIR [--no-deletes]');
  process.exit(2);
}

const local = (loc) => loc.replace(/^file:(\/\/)?/, '');
const q = (s) => `'${String(s).replaceAll("'", "''")}'`;
const ident = (s) => `"${String(s).replaceAll('"', '""')}"`;

function readAvro(file) {
  return new Promise((resolve, reject) => {
    const out = [];
    avro.createFileDecoder(file)
      .on('data', (r) => out.push(r))
      .on('end', () => resolve(out))
      .on('error', reject);
  });
}

function duckType(t) {
  const m = /^decimal\((\d+),\s*(\d+)\)$/.exec(t);
  if (m) return `DECIMAL(${m[1]},${m[2]})`;
  return {
    boolean: 'BOOLEAN', int: 'INTEGER', long: 'BIGINT', float: 'FLOAT', double: 'DOUBLE',
    date: 'DATE', time: 'TIME', timestamp: 'TIMESTAMP', timestamptz: 'TIMESTAMPTZ',
    string: 'VARCHAR', uuid: 'UUID', binary: 'BLOB',
  }[t];
}

// The newest metadata: the hint, then every later version that exists.
const mdir = path.join(dir, 'metadata');
let v = parseInt(fs.readFileSync(path.join(mdir, 'version-hint.text'), 'utf8'), 10);
while (fs.existsSync(path.join(mdir, `v${v + 1}.metadata.json`))) v++;
const meta = JSON.parse(fs.readFileSync(path.join(mdir, `v${v}.metadata.json`), 'utf8'));
const schema = meta.schemas.find((s) => s['schema-id'] === meta['current-schema-id']);
const keys = schema['identifier-field-ids'];
const snap = (meta.snapshots || []).find((s) => s['snapshot-id'] === meta['current-snapshot-id']);

const data = [];
const deletes = [];
if (snap) {
  for (const mf of await readAvro(local(snap['manifest-list']))) {
    for (const e of await readAvro(local(mf.manifest_path))) {
      if (e.status === 2) continue;
      const seq = e.sequence_number ?? mf.sequence_number;
      const f = { path: local(e.data_file.file_path), seq, ids: e.data_file.equality_ids };
      if (e.data_file.content === 0) data.push(f);
      else if (e.data_file.content === 2) deletes.push(f);
      else throw new Error(`content ${e.data_file.content} in ${mf.manifest_path}`);
    }
  }
}

const field = (id) => schema.fields.find((f) => f.id === id);
const name = (id) => `f${id}`;
function scan(f, ids) {
  const map = ids.map((id) => `${id}: {name: ${q(name(id))}, type: ${q(duckType(field(id).type))}, default_value: NULL}`).join(', ');
  return `SELECT *, ${f.seq}::BIGINT AS __seq FROM read_parquet(${q(f.path)}, schema=MAP{${map}})`;
}

const all = schema.fields.map((f) => f.id);
const out = {
  data_files: data.length,
  delete_files: deletes.length,
  snapshot: snap ? snap['snapshot-id'] : null,
  operation: snap ? snap.summary.operation : null,
  rows: [],
};
if (data.length) {
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  let sql = `WITH d AS (${data.map((f) => scan(f, all)).join(' UNION ALL ')})`;
  let where = '';
  if (deletes.length && !noDeletes) {
    for (const del of deletes)
      if (JSON.stringify(del.ids) !== JSON.stringify(deletes[0].ids)) throw new Error('mixed equality ids');
    const ids = deletes[0].ids;
    sql += `, x AS (${deletes.map((f) => scan(f, ids)).join(' UNION ALL ')})`;
    where = ` WHERE NOT EXISTS (SELECT 1 FROM x WHERE x.__seq > d.__seq AND ${ids.map((id) => `x.${name(id)} IS NOT DISTINCT FROM d.${name(id)}`).join(' AND ')})`;
  }
  const sel = schema.fields.map((f) => `CAST(d.${name(f.id)} AS VARCHAR) AS ${ident(f.name)}`).join(', ');
  const order = keys.map((id) => `d.${name(id)}`).join(', ');
  sql += ` SELECT ${sel} FROM d${where} ORDER BY ${order}`;
  const r = await con.runAndReadAll(sql);
  out.rows = r.getRowObjectsJson();
}
console.log(JSON.stringify(out));
