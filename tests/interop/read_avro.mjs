// Reads the manifests and manifest list that test_manifest wrote (with zetl's
// own Avro writer) using avsc, an independent Avro implementation, and checks
// them against expect.json, which test_manifest built from its C inputs:
//  - the header keys Iceberg readers need, and the codec;
//  - the writer schema: every record field carries an integer field-id,
//    every list an element-id, primitives are plain strings;
//  - every record, value by value (longs compared exactly as decimal strings
//    through a BigInt long type, bytes as hex).
// Usage: node read_avro.mjs DIR. Prints TAP-like lines; exits 0, 1, or 77
// ("skip: ...") when avsc is not installed.
import fs from 'node:fs';
import path from 'node:path';

let avro;
try {
  avro = (await import('avsc')).default;
} catch (e) {
  console.log(`skip: avsc is not installed in tests/interop/node_modules (${e.code || e.message})`);
  process.exit(77);
}

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node read_avro.mjs DIR');
  process.exit(2);
}

let failures = 0;
function ok(cond, what) {
  console.log(`${cond ? 'ok' : 'not ok'} - ${what}`);
  if (!cond) failures++;
  return cond;
}

// avsc's own long type refuses values past 2^53; this one keeps all 64 bits.
const bigLong = avro.types.LongType.__with({
  fromBuffer: (buf) => buf.readBigInt64LE(),
  toBuffer: (n) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(n));
    return b;
  },
  fromJSON: (v) => BigInt(v),
  toJSON: (n) => n.toString(),
  isValid: (n) => typeof n === 'bigint',
  compare: (a, b) => (a === b ? 0 : a < b ? -1 : 1),
});

function withBigLongs(schema) {
  if (schema === 'long') return bigLong;
  if (Array.isArray(schema)) return schema.map(withBigLongs);
  if (schema && typeof schema === 'object') {
    const out = { ...schema };
    if (out.fields) out.fields = out.fields.map((f) => ({ ...f, type: withBigLongs(f.type) }));
    if (out.items) out.items = withBigLongs(out.items);
    if (out.values) out.values = withBigLongs(out.values);
    return out;
  }
  return schema;
}

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

// Field ids everywhere, primitives as strings. Returns a list of problems.
function schemaProblems(schema, where, problems = []) {
  if (Array.isArray(schema)) {
    schema.forEach((s, i) => schemaProblems(s, `${where}|${i}`, problems));
  } else if (typeof schema === 'object') {
    if (PRIMITIVES.has(schema.type) && !schema.logicalType) {
      problems.push(`${where}: primitive ${schema.type} written as an object`);
    }
    if (schema.type === 'record') {
      for (const f of schema.fields) {
        if (!Number.isInteger(f['field-id'])) problems.push(`${where}.${f.name}: no field-id`);
        schemaProblems(f.type, `${where}.${f.name}`, problems);
      }
    } else if (schema.type === 'array') {
      const isMap = schema.logicalType === 'map';
      if (!isMap && !Number.isInteger(schema['element-id'])) {
        problems.push(`${where}: array without element-id`);
      }
      if (isMap) {
        const names = (schema.items.fields || []).map((f) => f.name).join(',');
        if (names !== 'key,value') problems.push(`${where}: map entries are not key,value`);
      }
      schemaProblems(schema.items, `${where}[]`, problems);
    }
  }
  return problems;
}

// A decoded value in expect.json's shape, checking JS types on the way.
function norm(schema, v, where) {
  if (Array.isArray(schema)) {
    if (v === null) return null;
    return norm(schema.find((s) => s !== 'null'), v, where);
  }
  const t = typeof schema === 'string' ? schema : schema.type;
  switch (t) {
    case 'long':
      if (typeof v !== 'bigint') throw new Error(`${where}: long decoded as ${typeof v}`);
      return v.toString();
    case 'int':
      if (!Number.isInteger(v)) throw new Error(`${where}: int decoded as ${typeof v}`);
      return v;
    case 'boolean':
    case 'string':
      return v;
    case 'bytes':
      return Buffer.from(v).toString('hex');
    case 'array':
      return v.map((x, i) => norm(schema.items, x, `${where}[${i}]`));
    case 'record': {
      const o = {};
      for (const f of schema.fields) o[f.name] = norm(f.type, v[f.name], `${where}.${f.name}`);
      return o;
    }
    default:
      throw new Error(`${where}: unexpected type ${t}`);
  }
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
}

function decode(file) {
  return new Promise((resolve, reject) => {
    const out = { records: [] };
    avro
      .createFileDecoder(file, { parseHook: withBigLongs })
      .on('metadata', (type, codec, header) => {
        out.codec = codec;
        out.meta = {};
        for (const [k, v] of Object.entries(header.meta)) out.meta[k] = v.toString();
      })
      .on('data', (r) => out.records.push(r))
      .on('error', reject)
      .on('end', () => resolve(out));
  });
}

const expect = JSON.parse(fs.readFileSync(path.join(dir, 'expect.json'), 'utf8'));
for (const want of expect.files) {
  const name = want.file;
  let got;
  try {
    got = await decode(path.join(dir, name));
  } catch (e) {
    ok(false, `${name}: avsc reads it (${e.message})`);
    continue;
  }
  ok(true, `${name}: avsc reads it`);
  ok(got.codec === want.codec, `${name}: codec ${got.codec} is ${want.codec}`);
  for (const [k, v] of Object.entries(want.meta)) {
    ok(got.meta[k] === v, `${name}: header ${k} = ${JSON.stringify(got.meta[k])}`);
  }
  const schema = JSON.parse(got.meta['avro.schema']);
  const problems = schemaProblems(schema, schema.name);
  const detail = problems.length ? ` (${problems.join('; ')})` : '';
  ok(problems.length === 0, `${name}: every field has a field-id, primitives are strings${detail}`);
  ok(got.records.length === want.records.length,
     `${name}: ${got.records.length} records, want ${want.records.length}`);
  got.records.forEach((r, i) => {
    let n;
    try {
      n = norm(schema, r, `${name}#${i}`);
    } catch (e) {
      ok(false, `${name}: record ${i}: ${e.message}`);
      return;
    }
    if (!ok(deepEqual(n, want.records[i]), `${name}: record ${i} equals the C input`)) {
      console.log(`# got  ${JSON.stringify(n)}`);
      console.log(`# want ${JSON.stringify(want.records[i])}`);
    }
  });
}

console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
