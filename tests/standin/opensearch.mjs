// A stand-in for the parts of the OpenSearch 2.x REST API that zetl's
// OpenSearch sink uses, for tests and benchmarks where no cluster can run.
// It keeps the REST semantics (external versions with their conflicts and
// tombstones, per-item bulk statuses, mappings that refuse incompatible
// changes and documents that do not fit them, aliases switched atomically,
// reindex, basic auth) and none of the search engine: no scoring, no
// analysis beyond a lowercase word split for term queries on text fields.
//
//   node opensearch.mjs [--port N] [--user U --password P] [--quiet] [--record DIR]
//
// prints the port it listens on (127.0.0.1) as one line on stdout. Test
// controls, never authenticated:
//   POST /_standin/faults {"bulk_429": n, "bulk_503": n, "bulk_reset": n,
//        "item_429_every": k, "item_503_every": k, "item_fault_budget": n,
//        "delay_ms": ms, "slow_every": k,
//        "path_503": "substring of a path", "path_503_count": n}   (merged into the current faults)
//   POST /_standin/reset-faults
//   GET  /_standin/dump     every index, alias, mapping and document with its version
//   GET  /_standin/stats    counters: calls per endpoint, items, conflicts, faults,
//                           regressions (accepted writes that lowered a version: must be 0)
// Written from the OpenSearch documentation; no code from OpenSearch.
import fs from 'node:fs';
import http from 'node:http';

const args = process.argv.slice(2);
const opt = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const AUTH = opt('--user') ? 'Basic ' + Buffer.from(`${opt('--user')}:${opt('--password', '')}`).toString('base64') : null;
const QUIET = args.includes('--quiet');
// --record DIR: every API request is also written to DIR/NNNNNNNN.req, "METHOD PATH?QUERY"
// on the first line and the body after it (benchmarks replay them).
const RECORD = opt('--record');
let recorded = 0;

// ---- state ------------------------------------------------------------------
const indices = new Map(); // name -> {mappings, settings, docs: Map(id -> {raw, src, version, seq}), tombstones: Map(id -> version), seq}
const aliases = new Map(); // alias -> Set(index)
let faults = {};
const stats = { calls: {}, bulk_requests: 0, bulk_items: 0, conflicts: 0, regressions: 0, faults_injected: 0, auth_failures: 0, dead_items: 0 };
let reqCount = 0;

// ---- errors ------------------------------------------------------------------
class HttpError extends Error {
  constructor(status, type, reason, extra = {}) {
    super(reason);
    this.status = status;
    this.type = type;
    this.extra = extra;
  }
  body() {
    const cause = { type: this.type, reason: this.message, ...this.extra };
    return { error: { root_cause: [cause], ...cause }, status: this.status };
  }
}
const notFound = (name) => new HttpError(404, 'index_not_found_exception', `no such index [${name}]`, { 'resource.type': 'index_or_alias', 'resource.id': name, index: name });

// ---- names -------------------------------------------------------------------
function checkIndexName(name) {
  const bad = (why) => { throw new HttpError(400, 'invalid_index_name_exception', `Invalid index name [${name}], ${why}`, { index: name }); };
  if (name !== name.toLowerCase()) bad('must be lowercase');
  if (/[\\/*?"<>| ,#:]/.test(name)) bad('must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?, #, :]');
  if (/^[-_+]/.test(name)) bad("must not start with '_', '-', or '+'");
  if (name === '.' || name === '..') bad("must not be '.' or '..'");
  if (Buffer.byteLength(name) > 255) bad('index name is too long, (' + Buffer.byteLength(name) + ' > 255)');
}

// An index or alias name to concrete index names ([] when none).
function resolve(name) {
  if (indices.has(name)) return [name];
  if (aliases.has(name)) return [...aliases.get(name)];
  return [];
}
function resolveOne(name, forWrite = false) {
  const r = resolve(name);
  if (r.length === 0) throw notFound(name);
  if (r.length > 1) {
    if (forWrite) throw new HttpError(400, 'illegal_argument_exception', `no write index is defined for alias [${name}]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple indices without one being designated as a write index`);
  }
  return r[0];
}

// ---- mappings and document checks -------------------------------------------
const INT_RANGE = { byte: [-128, 127], short: [-32768, 32767], integer: [-2147483648, 2147483647], long: [-9223372036854775808, 9223372036854775807] };
const fieldType = (m) => m.type || (m.properties ? 'object' : 'object');

function mappingError(field, type, id, value, why) {
  const preview = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return new HttpError(400, 'mapper_parsing_exception', `failed to parse field [${field}] of type [${type}] in document with id '${id}'. Preview of field's value: '${preview}'`, { caused_by: { type: 'illegal_argument_exception', reason: why } });
}

const DATE_RE = {
  strict_date: /^\d{4}-\d{2}-\d{2}$/,
  strict_date_optional_time: /^\d{4}(-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?$/,
};
function dateOk(v, format) {
  const formats = (format || 'strict_date_optional_time||epoch_millis').split('||');
  for (const f of formats) {
    if (f === 'epoch_millis' && (typeof v === 'number' || /^-?\d+$/.test(String(v)))) return true;
    const re = DATE_RE[f] || DATE_RE.strict_date_optional_time;
    if (typeof v === 'string' && re.test(v)) {
      const [y, mo, d] = v.slice(0, 10).split('-').map(Number);
      if (v.length >= 10 && (mo < 1 || mo > 12 || d < 1 || d > 31)) continue;
      if (v.length >= 7 && mo !== undefined && (mo < 1 || mo > 12)) continue;
      void y;
      return true;
    }
  }
  return false;
}

// Check value against field mapping m; throws the error OpenSearch would give.
function checkValue(path, m, v, id, additions) {
  if (v === null) return;
  if (Array.isArray(v)) {
    for (const e of v) checkValue(path, m, e, id, additions);
    return;
  }
  const t = fieldType(m);
  const fail = (why) => {
    if (m.ignore_malformed) return;
    throw mappingError(path, t, id, v, why);
  };
  switch (t) {
    case 'object':
      if (typeof v !== 'object') throw new HttpError(400, 'mapper_parsing_exception', `object mapping for [${path}] tried to parse field [${path}] as object, but found a concrete value`);
      checkObject(path + '.', m, v, id, additions, m.dynamic);
      return;
    case 'flat_object':
      if (typeof v !== 'object') throw new HttpError(400, 'mapper_parsing_exception', `[${path}] unexpected token [${typeof v}] in flat_object field value`);
      return;
    case 'byte': case 'short': case 'integer': case 'long': {
      let n = v;
      if (typeof v === 'string') n = v.trim() === '' ? NaN : Number(v);
      if (typeof n !== 'number' || !Number.isFinite(n)) return fail(typeof v === 'object' ? `Current token (START_OBJECT) not numeric, can not use numeric value accessors` : `For input string: "${v}"`);
      const [lo, hi] = INT_RANGE[t];
      if (Math.trunc(n) < lo || Math.trunc(n) > hi) return fail(`Value [${v}] is out of range for ${t === 'integer' ? 'an integer' : 'a ' + t}`);
      return;
    }
    case 'float': case 'double': case 'half_float': case 'scaled_float': {
      let n = v;
      if (typeof v === 'string') n = v.trim() === '' ? NaN : Number(v);
      if (typeof n !== 'number' || Number.isNaN(n) && v !== 'NaN') return fail(`For input string: "${v}"`);
      if (!Number.isFinite(n)) return fail(`[${t}] supports only finite values, but got [${v}]`);
      return;
    }
    case 'keyword': case 'text': case 'match_only_text': case 'wildcard':
      if (typeof v === 'object') throw mappingError(path, t, id, v, `Can't get text on a START_OBJECT`);
      return;
    case 'boolean':
      if (v === true || v === false || v === 'true' || v === 'false') return;
      return fail(`Failed to parse value [${v}] as only [true] or [false] are allowed.`);
    case 'date': case 'date_nanos':
      if (dateOk(v, m.format)) return;
      return fail(`failed to parse date field [${v}] with format [${m.format || 'strict_date_optional_time||epoch_millis'}]`);
    case 'binary':
      if (typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v) && v.length % 4 === 0) return;
      return fail(`failed to decode base64 value [${v}]`);
    default:
      return;
  }
}

// A mapping for an unmapped value, as dynamic mapping would infer it.
function infer(v) {
  if (Array.isArray(v)) {
    const first = v.find((e) => e !== null);
    return first === undefined ? null : infer(first);
  }
  switch (typeof v) {
    case 'boolean': return { type: 'boolean' };
    case 'number': return Number.isInteger(v) ? { type: 'long' } : { type: 'float' };
    case 'string':
      if (DATE_RE.strict_date_optional_time.test(v) && v.length >= 10) return { type: 'date' };
      return { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } };
    case 'object': {
      const props = {};
      for (const [k, e] of Object.entries(v)) {
        if (e === null) continue;
        const m = infer(e);
        if (m) props[k] = m;
      }
      return { properties: props };
    }
  }
  return null;
}

function checkObject(prefix, m, obj, id, additions, dynamic) {
  m.properties = m.properties || {};
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix + k;
    let fm = m.properties[k];
    if (!fm) {
      const pend = additions.find((a) => a.props === m.properties && a.key === k);
      if (pend) fm = pend.mapping;
    }
    if (!fm) {
      const dyn = String(dynamic === undefined ? true : dynamic);
      if (dyn === 'strict') throw new HttpError(400, 'strict_dynamic_mapping_exception', `mapping set to strict, dynamic introduction of [${k}] within [${prefix ? prefix.slice(0, -1) : '_doc'}] is not allowed`);
      if (dyn === 'false' || v === null) continue;
      const inf = infer(v);
      if (!inf) continue;
      additions.push({ props: m.properties, key: k, mapping: inf });
      fm = inf;
    }
    const sub = fieldType(fm) === 'object' ? { ...fm, dynamic: fm.dynamic === undefined ? dynamic : fm.dynamic } : fm;
    checkValue(path, sub, v, id, additions);
    if (sub !== fm && sub.properties !== fm.properties) fm.properties = sub.properties;
  }
}

// Parse and check a document against index idx; returns the parsed source.
function checkDoc(idx, src, id) {
  const additions = [];
  if (typeof src !== 'object' || src === null || Array.isArray(src)) throw new HttpError(400, 'mapper_parsing_exception', 'failed to parse, document is empty');
  // The check never changes the mapping: fields that dynamic mapping would
  // add are collected and added only once the whole document passed.
  checkObject('', idx.mappings, src, id, additions, idx.mappings.dynamic);
  for (const a of additions) if (!(a.key in a.props)) a.props[a.key] = a.mapping;
}

// Merge new mapping properties into old (PUT _mapping): new fields are added,
// a changed type is refused as OpenSearch refuses it.
function mergeMapping(old, add, path = '') {
  for (const [k, m] of Object.entries(add.properties || {})) {
    const cur = old.properties?.[k];
    if (!cur) {
      old.properties = old.properties || {};
      old.properties[k] = m;
      continue;
    }
    if (fieldType(cur) !== fieldType(m)) throw new HttpError(400, 'illegal_argument_exception', `mapper [${path}${k}] cannot be changed from type [${fieldType(cur)}] to [${fieldType(m)}]`);
    if (fieldType(m) === 'object') mergeMapping(cur, m, path + k + '.');
  }
  if ('_meta' in add) old._meta = add._meta;
  if ('dynamic' in add) old.dynamic = add.dynamic;
}

function newIndex(name, body = {}) {
  checkIndexName(name);
  if (indices.has(name)) throw new HttpError(400, 'resource_already_exists_exception', `index [${name}/standin] already exists`, { index: name });
  if (aliases.has(name)) throw new HttpError(400, 'invalid_index_name_exception', `Invalid index name [${name}], an alias with the same name already exists`, { index: name });
  const mappings = { dynamic: 'true', properties: {} };
  if (body.mappings) {
    const m = structuredClone(body.mappings);
    for (const [k, f] of Object.entries(m.properties || {})) if (!f.type && !f.properties) throw new HttpError(400, 'mapper_parsing_exception', `No type specified for field [${k}]`);
    Object.assign(mappings, m);
    if (mappings.dynamic !== undefined) mappings.dynamic = String(mappings.dynamic);
  }
  for (const a of Object.keys(body.aliases || {})) if (indices.has(a)) throw new HttpError(400, 'invalid_alias_name_exception', `Invalid alias name [${a}]: an index or data stream exists with the same name as the alias`);
  indices.set(name, { name, mappings, settings: body.settings || {}, docs: new Map(), tombstones: new Map(), seq: 0 });
  for (const a of Object.keys(body.aliases || {})) {
    if (!aliases.has(a)) aliases.set(a, new Set());
    aliases.get(a).add(name);
  }
}

// ---- documents ----------------------------------------------------------------
function currentVersion(idx, id) {
  const d = idx.docs.get(id);
  if (d) return d.version;
  return idx.tombstones.has(id) ? idx.tombstones.get(id) : null;
}

function versionConflict(idx, id, cur, given) {
  stats.conflicts++;
  return new HttpError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, current version [${cur}] is higher or equal to the one provided [${given}]`, { index: idx.name, shard: '0', index_uuid: 'standin' });
}

function checkId(id) {
  if (id === undefined || id === null) throw new HttpError(400, 'action_request_validation_exception', 'Validation Failed: 1: an id is required;');
  if (id === '') throw new HttpError(400, 'illegal_argument_exception', 'if _id is specified it must not be empty');
  if (Buffer.byteLength(id) > 512) throw new HttpError(400, 'illegal_argument_exception', `id [${id.slice(0, 40)}...] is too long, must be no longer than 512 bytes but was: ${Buffer.byteLength(id)}`);
}

// Index one document (raw JSON text + parsed); returns the item result.
function indexDoc(idx, id, raw, src, meta, opType) {
  checkId(id);
  const cur = currentVersion(idx, id);
  const exists = idx.docs.has(id);
  let version;
  if (meta.version_type === 'external' || meta.version_type === 'external_gte') {
    const v = Number(meta.version);
    if (meta.version === undefined || !Number.isInteger(v) || v < 0) throw new HttpError(400, 'action_request_validation_exception', 'Validation Failed: 1: illegal version value [' + meta.version + '] for version type [EXTERNAL];');
    const gte = meta.version_type === 'external_gte';
    if (cur !== null && (gte ? cur > v : cur >= v)) throw versionConflict(idx, id, cur, v);
    version = v;
  } else {
    if (opType === 'create' && exists) { stats.conflicts++; throw new HttpError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists (current version [${cur}])`, { index: idx.name }); }
    version = (cur ?? 0) + 1;
  }
  checkDoc(idx, src, id);
  if (cur !== null && version <= cur && meta.version_type === 'external') stats.regressions++;
  idx.docs.set(id, { raw, src, version, seq: idx.seq++ });
  idx.tombstones.delete(id);
  return { _index: idx.name, _id: id, _version: version, result: exists ? 'updated' : 'created', _shards: { total: 1, successful: 1, failed: 0 }, _seq_no: idx.seq - 1, _primary_term: 1, status: exists ? 200 : 201 };
}

function deleteDoc(idx, id, meta) {
  checkId(id);
  const cur = currentVersion(idx, id);
  const exists = idx.docs.has(id);
  let version;
  if (meta.version_type === 'external' || meta.version_type === 'external_gte') {
    const v = Number(meta.version);
    if (cur !== null && cur >= v) throw versionConflict(idx, id, cur, v);
    version = v;
  } else {
    version = (cur ?? 0) + 1;
  }
  idx.docs.delete(id);
  idx.tombstones.set(id, version); // kept (index.gc_deletes is 60 s on a real cluster)
  idx.seq++;
  return { _index: idx.name, _id: id, _version: version, result: exists ? 'deleted' : 'not_found', _shards: { total: 1, successful: 1, failed: 0 }, _seq_no: idx.seq - 1, _primary_term: 1, status: exists ? 200 : 404 };
}

function getIndexForWrite(name) {
  const r = resolve(name);
  if (r.length === 0) {
    // auto_create_index: true, as a default cluster does
    newIndex(name, {});
    return indices.get(name);
  }
  return indices.get(resolveOne(name, true));
}

function itemFault(kind) {
  const f = faults;
  if (f.item_fault_budget !== undefined && f.item_fault_budget <= 0) return null;
  f._items = (f._items || 0) + 1;
  let status = 0;
  if (f.item_429_every && f._items % f.item_429_every === 0) status = 429;
  else if (f.item_503_every && f._items % f.item_503_every === 0) status = 503;
  if (!status) return null;
  if (f.item_fault_budget !== undefined) f.item_fault_budget--;
  stats.faults_injected++;
  return status === 429
    ? new HttpError(429, 'es_rejected_execution_exception', `rejected execution of coordinating operation [${kind}] (stand-in fault)`)
    : new HttpError(503, 'unavailable_shards_exception', '[standin][0] primary shard is not active (stand-in fault)');
}

function bulk(body, defaultIndex) {
  if (body.length > 0 && !body.endsWith('\n')) throw new HttpError(400, 'illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]');
  const lines = body.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const items = [];
  let errors = false;
  stats.bulk_requests++;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    let action;
    try { action = JSON.parse(lines[i]); } catch (e) { throw new HttpError(400, 'x_content_parse_exception', `[1:1] Unexpected character in bulk action line ${i + 1}: ${e.message}`); }
    const kind = Object.keys(action)[0];
    const meta = action[kind] || {};
    if (!['index', 'create', 'delete', 'update'].includes(kind)) throw new HttpError(400, 'illegal_argument_exception', `Malformed action/metadata line [${i + 1}], expected one of [create, delete, index, update] but found [${kind}]`);
    let raw = null, src = null;
    if (kind !== 'delete') {
      raw = lines[++i];
      if (raw === undefined) throw new HttpError(400, 'action_request_validation_exception', 'Validation Failed: 1: no requests added;');
      try { src = JSON.parse(raw); } catch (e) { src = undefined; }
    }
    stats.bulk_items++;
    const name = meta._index || defaultIndex;
    let res;
    try {
      const f = itemFault(kind);
      if (f) throw f;
      if (!name) throw new HttpError(400, 'action_request_validation_exception', 'Validation Failed: 1: index is missing;');
      if (src === undefined) throw new HttpError(400, 'mapper_parsing_exception', 'failed to parse', { caused_by: { type: 'json_parse_exception', reason: 'Unexpected character' } });
      const idx = getIndexForWrite(name);
      if (kind === 'delete') res = deleteDoc(idx, meta._id, meta);
      else if (kind === 'update') res = updateDoc(idx, meta._id, src, meta);
      else res = indexDoc(idx, meta._id, raw, src, meta, kind);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      errors = true;
      if (e.status !== 409 && e.status !== 429 && e.status < 500) stats.dead_items++;
      res = { _index: name, _id: meta._id ?? null, status: e.status, error: { type: e.type, reason: e.message, ...e.extra } };
    }
    items.push({ [kind]: res });
  }
  return { took: 1, errors, items };
}

function updateDoc(idx, id, body, meta) {
  checkId(id);
  if (meta.version_type) throw new HttpError(400, 'action_request_validation_exception', `Validation Failed: 1: version type [${meta.version_type.toUpperCase()}] is not supported by the update API;`);
  const d = idx.docs.get(id);
  if (!d && !body.doc_as_upsert && !body.upsert) throw new HttpError(404, 'document_missing_exception', `[${id}]: document missing`, { index: idx.name });
  const merged = { ...(d ? d.src : body.upsert || {}), ...(body.doc || {}) };
  return indexDoc(idx, id, JSON.stringify(merged), merged, {}, 'index');
}

// ---- search helpers -----------------------------------------------------------------
function fieldValues(src, path) {
  let cur = [src];
  for (const part of path.split('.')) {
    const next = [];
    for (const c of cur) {
      if (c && typeof c === 'object' && part in c) {
        const v = c[part];
        if (Array.isArray(v)) next.push(...v); else next.push(v);
      }
    }
    cur = next;
  }
  return cur;
}

function mappingOf(idx, path) {
  let m = idx.mappings;
  for (const part of path.split('.')) {
    if (m.properties && m.properties[part]) m = m.properties[part];
    else if (m.fields && m.fields[part]) m = m.fields[part];
    else return null;
  }
  return m;
}

function matches(idx, src, id, q) {
  if (!q || q.match_all) return true;
  if (q.ids) return (q.ids.values || []).includes(id);
  if (q.term) {
    const [field, spec] = Object.entries(q.term)[0];
    const want = spec !== null && typeof spec === 'object' ? spec.value : spec;
    const m = mappingOf(idx, field);
    const base = field.endsWith('.keyword') || field.endsWith('.num') ? field.replace(/\.(keyword|num)$/, '') : field;
    for (const v of fieldValues(src, base)) {
      if (m && m.type === 'text') {
        if (String(v).toLowerCase().split(/[^\p{L}\p{N}]+/u).includes(String(want))) return true;
      } else if (String(v) === String(want)) return true;
    }
    return false;
  }
  if (q.bool) {
    const all = (l) => (Array.isArray(l) ? l : l ? [l] : []);
    return all(q.bool.must).every((c) => matches(idx, src, id, c)) && all(q.bool.filter).every((c) => matches(idx, src, id, c)) && !all(q.bool.must_not).some((c) => matches(idx, src, id, c));
  }
  throw new HttpError(400, 'parsing_exception', `unknown query [${Object.keys(q)[0]}] (the stand-in knows match_all, term, ids, bool)`);
}

function filterSource(src, inc) {
  if (inc === undefined || inc === true) return src;
  if (inc === false) return undefined;
  const list = Array.isArray(inc) ? inc : typeof inc === 'string' ? [inc] : inc.includes || inc.include || [];
  const out = {};
  for (const f of list) if (src && f in src) out[f] = src[f];
  return out;
}

function docResponse(name, idx, id, inc) {
  const d = idx?.docs.get(id);
  if (!d) return { _index: name, _id: id, found: false };
  const r = { _index: idx.name, _id: id, _version: d.version, _seq_no: d.seq, _primary_term: 1, found: true };
  if (inc === undefined) r._source = d.src;
  else { const s = filterSource(d.src, inc); if (s !== undefined) r._source = s; }
  return r;
}

// ---- reindex --------------------------------------------------------------------------
const RENAME_SCRIPT = /params\.renames\.entrySet\(\)/;
function reindex(body) {
  const srcName = body.source?.index;
  const dst = indices.get(resolveOne(body.dest?.index, true));
  const names = (Array.isArray(srcName) ? srcName : [srcName]).flatMap((n) => { const r = resolve(n); if (!r.length) throw notFound(n); return r; });
  if (body.script && !RENAME_SCRIPT.test(body.script.source || '')) throw new HttpError(400, 'illegal_argument_exception', 'the stand-in runs only zetl\'s reindex script (renames, to_string)');
  const renames = body.script?.params?.renames || {};
  const toString = body.script?.params?.to_string || [];
  const out = { took: 1, timed_out: false, total: 0, updated: 0, created: 0, deleted: 0, batches: 1, version_conflicts: 0, noops: 0, retries: { bulk: 0, search: 0 }, throttled_millis: 0, requests_per_second: -1, throttled_until_millis: 0, failures: [] };
  for (const n of names) {
    const idx = indices.get(n);
    for (const [id, d] of idx.docs) {
      if (body.source.query && !matches(idx, d.src, id, body.source.query)) continue;
      out.total++;
      let src = filterSource(d.src, body.source._source);
      src = { ...src };
      for (const [from, to] of Object.entries(renames)) if (from in src) { src[to] = src[from]; delete src[from]; }
      for (const f of toString) if (src[f] !== undefined && src[f] !== null && typeof src[f] !== 'string') src[f] = String(src[f]);
      const meta = body.dest.version_type === 'external' ? { version: d.version, version_type: 'external' } : {};
      try {
        const r = indexDoc(dst, id, JSON.stringify(src), src, meta, body.dest.op_type || 'index');
        if (r.result === 'created') out.created++; else out.updated++;
      } catch (e) {
        if (!(e instanceof HttpError)) throw e;
        if (e.status === 409) {
          out.version_conflicts++;
          if (body.conflicts === 'proceed') continue;
        }
        out.failures.push({ index: dst.name, id, cause: { type: e.type, reason: e.message }, status: e.status });
        if (e.status !== 409) return out; // a bulk failure stops a real reindex too
      }
    }
  }
  return out;
}

// ---- aliases ---------------------------------------------------------------------------
function updateAliases(body) {
  const acts = body.actions || [];
  // Validate everything first: the real call is atomic.
  for (const a of acts) {
    const [kind, p] = Object.entries(a)[0];
    const idxs = p.index ? [p.index] : p.indices || [];
    for (const i of idxs) if (!indices.has(i)) throw notFound(i);
    if (kind === 'remove') {
      const al = p.alias || (p.aliases || [])[0];
      if (!aliases.has(al) || !idxs.some((i) => aliases.get(al).has(i))) throw new HttpError(404, 'aliases_not_found_exception', `aliases [${al}] missing`, { 'resource.type': 'aliases', 'resource.id': al });
    } else if (kind === 'add') {
      const al = p.alias || (p.aliases || [])[0];
      if (indices.has(al)) throw new HttpError(400, 'invalid_alias_name_exception', `Invalid alias name [${al}]: an index or data stream exists with the same name as the alias`);
    } else if (kind !== 'remove_index') {
      throw new HttpError(400, 'illegal_argument_exception', `unknown alias action [${kind}]`);
    }
  }
  for (const a of acts) {
    const [kind, p] = Object.entries(a)[0];
    const idxs = p.index ? [p.index] : p.indices || [];
    const al = p.alias || (p.aliases || [])[0];
    if (kind === 'add') { if (!aliases.has(al)) aliases.set(al, new Set()); idxs.forEach((i) => aliases.get(al).add(i)); }
    else if (kind === 'remove') { idxs.forEach((i) => aliases.get(al).delete(i)); if (!aliases.get(al).size) aliases.delete(al); }
    else if (kind === 'remove_index') idxs.forEach(dropIndex);
  }
  return { acknowledged: true };
}

function dropIndex(name) {
  if (!indices.has(name)) throw notFound(name);
  indices.delete(name);
  for (const [a, set] of aliases) { set.delete(name); if (!set.size) aliases.delete(a); }
}

// ---- dump (raw sources, so 64-bit integers survive) ------------------------------------------------
function dump() {
  const parts = [];
  for (const [name, idx] of indices) {
    const docs = [];
    for (const [id, d] of idx.docs) docs.push(`${JSON.stringify(id)}:{"_version":${d.version},"_source":${d.raw}}`);
    const al = [...aliases].filter(([, s]) => s.has(name)).map(([a]) => a);
    parts.push(`${JSON.stringify(name)}:{"aliases":${JSON.stringify(al)},"mappings":${JSON.stringify(idx.mappings)},"tombstones":${idx.tombstones.size},"docs":{${docs.join(',')}}}`);
  }
  return `{"indices":{${parts.join(',')}},"stats":${JSON.stringify(stats)}}`;
}

// ---- routing ------------------------------------------------------------------------
function route(method, path, query, body) {
  const seg = path.split('/').filter((s) => s !== '').map(decodeURIComponent);
  const json = () => {
    if (!body) return {};
    try { return JSON.parse(body); } catch (e) { throw new HttpError(400, 'parsing_exception', `request body is not JSON: ${e.message}`); }
  };
  const key = (m, p) => { stats.calls[`${m} ${p}`] = (stats.calls[`${m} ${p}`] || 0) + 1; };
  if (seg.length === 0) {
    if (method === 'GET' || method === 'HEAD') { key('GET', '/'); return [200, { name: 'standin', cluster_name: 'zetl-standin', cluster_uuid: 'standin', version: { distribution: 'opensearch', number: '2.11.0', build_type: 'standin', lucene_version: '9.7.0', minimum_wire_compatibility_version: '7.10.0', minimum_index_compatibility_version: '7.0.0' }, tagline: 'The OpenSearch Project: https://opensearch.org/' }]; }
  }
  const [a, b, c] = seg;
  if (a === '_bulk' && (method === 'POST' || method === 'PUT')) { key('POST', '/_bulk'); return [200, bulk(body || '', null)]; }
  if (a === '_mget' && (method === 'POST' || method === 'GET')) {
    key('POST', '/_mget');
    const docs = (json().docs || []).map((d) => {
      const r = resolve(d._index);
      if (!r.length) return { _index: d._index, _id: d._id, error: { root_cause: [], type: 'index_not_found_exception', reason: `no such index [${d._index}]` } };
      return docResponse(d._index, indices.get(r[0]), d._id, d._source);
    });
    return [200, { docs }];
  }
  if (a === '_aliases' && method === 'POST') { key('POST', '/_aliases'); return [200, updateAliases(json())]; }
  if (a === '_reindex' && method === 'POST') { key('POST', '/_reindex'); return [200, reindex(json())]; }
  if (a === '_alias' && method === 'GET') {
    key('GET', '/_alias/{alias}');
    const out = {};
    for (const [al, set] of aliases) if (!b || al === b) for (const i of set) { out[i] = out[i] || { aliases: {} }; out[i].aliases[al] = {}; }
    if (b && !Object.keys(out).length) return [404, { error: `alias [${b}] missing`, status: 404 }];
    return [200, out];
  }
  if (a === '_cat' && b === 'indices' && method === 'GET') {
    key('GET', '/_cat/indices');
    return [200, [...indices.values()].map((i) => ({ health: 'green', status: 'open', index: i.name, uuid: 'standin', pri: '1', rep: '0', 'docs.count': String(i.docs.size), 'docs.deleted': String(i.tombstones.size) }))];
  }
  if (a && a.startsWith('_') && a !== '_all') throw new HttpError(400, 'illegal_argument_exception', `no handler found for uri [${path}] and method [${method}]`);
  // /<index>...
  const name = a;
  if (seg.length === 1) {
    if (method === 'HEAD') { key('HEAD', '/{index}'); return [resolve(name).length ? 200 : 404, null]; }
    if (method === 'PUT') { key('PUT', '/{index}'); newIndex(name, json()); return [200, { acknowledged: true, shards_acknowledged: true, index: name }]; }
    if (method === 'DELETE') {
      key('DELETE', '/{index}');
      if (!indices.has(name)) {
        if (aliases.has(name)) throw new HttpError(400, 'illegal_argument_exception', `The provided expression [${name}] matches an alias, specify the corresponding concrete indices instead.`);
        throw notFound(name);
      }
      dropIndex(name);
      return [200, { acknowledged: true }];
    }
    if (method === 'GET') {
      key('GET', '/{index}');
      const out = {};
      for (const i of resolve(name)) out[i] = { aliases: Object.fromEntries([...aliases].filter(([, s]) => s.has(i)).map(([al]) => [al, {}])), mappings: indices.get(i).mappings, settings: { index: indices.get(i).settings } };
      if (!Object.keys(out).length) throw notFound(name);
      return [200, out];
    }
  }
  if (b === '_mapping') {
    if (method === 'GET') {
      key('GET', '/{index}/_mapping');
      const r = resolve(name);
      if (!r.length) throw notFound(name);
      return [200, Object.fromEntries(r.map((i) => [i, { mappings: indices.get(i).mappings }]))];
    }
    if (method === 'PUT' || method === 'POST') {
      key('PUT', '/{index}/_mapping');
      const r = resolve(name);
      if (!r.length) throw notFound(name);
      const add = json();
      // Check on copies first: one refused field leaves every index as it was.
      const copies = r.map((i) => structuredClone(indices.get(i).mappings));
      copies.forEach((m) => mergeMapping(m, add));
      r.forEach((i, k) => { indices.get(i).mappings = copies[k]; });
      return [200, { acknowledged: true }];
    }
  }
  if (b === '_doc' && c !== undefined) {
    const idxName = resolve(name)[0];
    const id = seg.slice(2).join('/');
    if (method === 'GET' || method === 'HEAD') {
      key('GET', '/{index}/_doc/{id}');
      if (!idxName) throw notFound(name);
      const r = docResponse(name, indices.get(idxName), id, query.get('_source') ? query.get('_source').split(',') : undefined);
      return [r.found ? 200 : 404, r];
    }
    if (method === 'PUT' || method === 'POST') {
      key('PUT', '/{index}/_doc/{id}');
      const idx = getIndexForWrite(name);
      const meta = { version: query.get('version') ?? undefined, version_type: query.get('version_type') ?? undefined };
      const r = indexDoc(idx, id, body, json(), meta, query.get('op_type') || 'index');
      return [r.status, r];
    }
    if (method === 'DELETE') {
      key('DELETE', '/{index}/_doc/{id}');
      if (!idxName) throw notFound(name);
      const r = deleteDoc(indices.get(idxName), id, { version: query.get('version') ?? undefined, version_type: query.get('version_type') ?? undefined });
      return [r.status, r];
    }
  }
  if (b === '_bulk' && (method === 'POST' || method === 'PUT')) { key('POST', '/{index}/_bulk'); return [200, bulk(body || '', name)]; }
  if ((b === '_search' || b === '_count') && (method === 'POST' || method === 'GET')) {
    key(`POST`, `/{index}/${b}`);
    const q = json();
    const r = resolve(name);
    if (!r.length) throw notFound(name);
    const hits = [];
    for (const i of r) {
      const idx = indices.get(i);
      for (const [id, d] of idx.docs) if (matches(idx, d.src, id, q.query)) hits.push({ _index: i, _id: id, _score: 1.0, _version: d.version, _source: d.src });
    }
    if (b === '_count') return [200, { count: hits.length, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 } }];
    const size = q.size ?? Number(query.get('size') ?? 10);
    return [200, { took: 1, timed_out: false, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 }, hits: { total: { value: hits.length, relation: 'eq' }, max_score: hits.length ? 1.0 : null, hits: hits.slice(0, size) } }];
  }
  if (b === '_delete_by_query' && method === 'POST') {
    key('POST', '/{index}/_delete_by_query');
    const q = json();
    const r = resolve(name);
    if (!r.length) throw notFound(name);
    let deleted = 0;
    for (const i of r) {
      const idx = indices.get(i);
      for (const [id, d] of [...idx.docs]) if (matches(idx, d.src, id, q.query)) { idx.docs.delete(id); idx.tombstones.set(id, d.version + 1); deleted++; }
    }
    return [200, { took: 1, timed_out: false, total: deleted, deleted, batches: 1, version_conflicts: 0, noops: 0, retries: { bulk: 0, search: 0 }, failures: [] }];
  }
  if (b === '_refresh' && (method === 'POST' || method === 'GET')) {
    key('POST', '/{index}/_refresh');
    if (!resolve(name).length) throw notFound(name);
    return [200, { _shards: { total: 1, successful: 1, failed: 0 } }];
  }
  throw new HttpError(400, 'illegal_argument_exception', `no handler found for uri [${path}] and method [${method}]`);
}

// ---- server -----------------------------------------------------------------------
function send(res, status, obj, raw) {
  const text = raw !== undefined ? raw : obj === null ? '' : JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function admin(method, path, body, res) {
  if (path === '/_standin/faults' && method === 'POST') {
    faults = { ...faults, ...JSON.parse(body || '{}') };
    return send(res, 200, { faults });
  }
  if (path === '/_standin/reset-faults' && method === 'POST') { faults = {}; return send(res, 200, { faults }); }
  if (path === '/_standin/dump' && method === 'GET') return send(res, 200, null, dump());
  if (path === '/_standin/stats' && method === 'GET') return send(res, 200, stats);
  return send(res, 404, { error: 'unknown stand-in control' });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    const body = Buffer.concat(chunks).toString('utf8');
    if (url.pathname.startsWith('/_standin/')) return admin(req.method, url.pathname, body, res);
    if (AUTH && req.headers.authorization !== AUTH) {
      stats.auth_failures++;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="OpenSearch Security"', 'content-type': 'text/plain; charset=UTF-8' });
      return res.end('Unauthorized');
    }
    const n = ++reqCount;
    const isBulk = /\/_bulk$/.test(url.pathname);
    if (RECORD) fs.writeFileSync(`${RECORD}/${String(++recorded).padStart(8, '0')}.req`, `${req.method} ${req.url}\n${body}`);
    const run = () => {
      if (faults.path_503 && url.pathname.includes(faults.path_503) && faults.path_503_count > 0) {
        faults.path_503_count--;
        stats.faults_injected++;
        return send(res, 503, new HttpError(503, 'unavailable_shards_exception', `${url.pathname} refused (stand-in fault)`).body());
      }
      if (isBulk) {
        if (faults.bulk_reset > 0) { faults.bulk_reset--; stats.faults_injected++; return req.socket.destroy(); }
        if (faults.bulk_429 > 0) { faults.bulk_429--; stats.faults_injected++; return send(res, 429, new HttpError(429, 'es_rejected_execution_exception', 'rejected execution of bulk (stand-in fault)').body()); }
        if (faults.bulk_503 > 0) { faults.bulk_503--; stats.faults_injected++; return send(res, 503, new HttpError(503, 'cluster_block_exception', 'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized] (stand-in fault)').body()); }
      }
      let status, obj;
      try {
        [status, obj] = route(req.method, url.pathname, url.searchParams, body);
      } catch (e) {
        if (!(e instanceof HttpError)) {
          console.error(e);
          e = new HttpError(500, 'exception', String(e && e.message));
        }
        [status, obj] = [e.status, e.body()];
      }
      if (req.method === 'HEAD') { res.writeHead(status); return res.end(); }
      send(res, status, obj);
    };
    const delay = faults.delay_ms && (!faults.slow_every || n % faults.slow_every === 0) ? faults.delay_ms : 0;
    if (delay) setTimeout(run, delay); else run();
  });
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 125000;
server.requestTimeout = 0;
server.listen(Number(opt('--port', 0)), '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
  if (!QUIET) process.stderr.write(`opensearch stand-in listening on 127.0.0.1:${server.address().port}${AUTH ? ' (basic auth)' : ''}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
