/*
 * ice_meta: Iceberg v2 table metadata, its files and its commit protocol
 * (see ice_meta.h for the layout, the location form and the conventions).
 *
 * The model holds what zetl changes (schemas, snapshots, logs, properties,
 * the main ref) as C structures and everything else as the JSON it was read
 * from, so a table touched by another tool (a partition spec, statistics, a
 * tag) keeps those parts when zetl commits the next version.
 *
 * Durability: a version becomes visible only through link(), which never
 * replaces an existing name, and only after its bytes are fsynced; the
 * directory is fsynced before the version is reported committed. Writes,
 * fsyncs and the link go through zetl_fault_hit so tests can fail each step.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "ice_meta.h"

#define SNAPSHOT_ID_BITS 52
#define HINT_NAME        "version-hint.text"

/* ---- small helpers ---------------------------------------------------------- */

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Make room for one more element of an array of n; 0 or -1. */
static int grow(void *arrp, int n, size_t elem)
{
        void **arr = arrp;
        void *p = realloc(*arr, ((size_t)n + 1) * elem);

        if (!p)
                return -1;
        *arr = p;
        return 0;
}

static int join(char *buf, size_t len, const char *a, const char *b)
{
        int n = snprintf(buf, len, "%s/%s", a, b);

        return n < 0 || (size_t)n >= len ? ZETL_ELIMIT : 0;
}

static int random_bytes(void *buf, size_t len)
{
        size_t got = 0;

        while (got < len) {
                ssize_t n = getrandom((char *)buf + got, len - got, 0);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -1;
                got += (size_t)n;
        }
        return 0;
}

static void kv_free(struct ice_kv *kv, int n)
{
        for (int i = 0; i < n; i++) {
                free(kv[i].key);
                free(kv[i].value);
        }
        free(kv);
}

static const char *kv_get(const struct ice_kv *kv, int n, const char *key)
{
        for (int i = 0; i < n; i++) {
                if (strcmp(kv[i].key, key) == 0)
                        return kv[i].value;
        }
        return NULL;
}

/* Set key to value, replacing an existing entry. 0 or ZETL_ENOMEM. */
static int kv_set(struct ice_kv **kv, int *n, const char *key, const char *value)
{
        char *v = strdup(value);
        char *k;

        if (!v)
                return ZETL_ENOMEM;
        for (int i = 0; i < *n; i++) {
                if (strcmp((*kv)[i].key, key) == 0) {
                        free((*kv)[i].value);
                        (*kv)[i].value = v;
                        return 0;
                }
        }
        k = strdup(key);
        if (!k || grow(kv, *n, sizeof(**kv))) {
                free(k);
                free(v);
                return ZETL_ENOMEM;
        }
        (*kv)[*n].key = k;
        (*kv)[*n].value = v;
        (*n)++;
        return 0;
}

/* "v12.metadata.json" -> 12; anything else -> 0. */
static int version_of(const char *name)
{
        long v = 0;
        const char *p = name;

        if (*p++ != 'v' || *p < '1' || *p > '9')
                return 0;
        for (; *p >= '0' && *p <= '9'; p++) {
                v = v * 10 + (*p - '0');
                if (v > INT_MAX / 10)
                        return 0;
        }
        return strcmp(p, ".metadata.json") == 0 ? (int)v : 0;
}

static void snapshot_clear(struct ice_snapshot *s)
{
        free(s->manifest_list);
        kv_free(s->summary, s->nsummary);
        memset(s, 0, sizeof(*s));
}

void ice_strings_free(char **v, int n)
{
        for (int i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

void ice_meta_free(struct ice_meta *m)
{
        if (!m)
                return;
        free(m->dir);
        free(m->location);
        for (int i = 0; i < m->nschemas; i++)
                ice_schema_free(m->schemas[i]);
        free(m->schemas);
        for (int i = 0; i < m->nsnapshots; i++)
                snapshot_clear(&m->snapshots[i]);
        free(m->snapshots);
        free(m->snapshot_log);
        for (int i = 0; i < m->nmetadata_log; i++)
                free(m->metadata_log[i].file);
        free(m->metadata_log);
        kv_free(m->props, m->nprops);
        json_decref(m->other_refs);
        json_decref(m->extra);
        free(m);
}

/* ---- locations ------------------------------------------------------------------ */

int ice_path_to_location(const char *path, char *buf, size_t len)
{
        int n;

        if (!path || path[0] != '/')
                return ZETL_EINVAL;
        for (const char *p = path; *p; p++) {
                if (*p == '%' || *p == '?' || *p == '#' || (unsigned char)*p < 0x20 || *p == 0x7f)
                        return ZETL_EINVAL;
        }
        n = snprintf(buf, len, "file://%s", path);
        return n < 0 || (size_t)n >= len ? ZETL_ELIMIT : 0;
}

int ice_location_to_path(const char *location, char *buf, size_t len)
{
        const char *p = location;
        int n;

        if (strncmp(p, "file://", 7) == 0)
                p += 7;
        else if (strncmp(p, "file:", 5) == 0)
                p += 5;
        if (p[0] != '/')
                return ZETL_EINVAL;
        n = snprintf(buf, len, "%s", p);
        return n < 0 || (size_t)n >= len ? ZETL_ELIMIT : 0;
}

int ice_meta_location_of(const struct ice_meta *m, const char *rel, char *buf, size_t len)
{
        size_t l = strlen(m->location);
        int n;

        /* A location recorded with a trailing slash must not give "//". */
        while (l > 0 && m->location[l - 1] == '/')
                l--;
        n = snprintf(buf, len, "%.*s/%s", (int)l, m->location, rel);
        return n < 0 || (size_t)n >= len ? ZETL_ELIMIT : 0;
}

/* ---- JSON to model ------------------------------------------------------------------- */

struct parse_ctx {
        const char *path;
        struct zetl_err *err;
};

static int perr(const struct parse_ctx *p, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int perr(const struct parse_ctx *p, int code, const char *fmt, ...)
{
        char msg[ZETL_ERR_MSG_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return zetl_err_set(p->err, code, ZETL_ERRC_FATAL, "%s: %s", p->path, msg);
}

/* An integer member in [lo, hi]; absent gives def when not required. */
static int get_int(const struct parse_ctx *p, const json_t *o, const char *key, bool required,
                   int64_t lo, int64_t hi, int64_t def, int64_t *out)
{
        const json_t *v = json_object_get(o, key);

        if (!v && !required) {
                *out = def;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
                return perr(p, ZETL_EPROTO, "\"%s\" is missing or not an integer in range", key);
        *out = json_integer_value(v);
        return 0;
}

static int get_str(const struct parse_ctx *p, const json_t *o, const char *key, char **out)
{
        const json_t *v = json_object_get(o, key);

        if (!json_is_string(v))
                return perr(p, ZETL_EPROTO, "\"%s\" is missing or not a string", key);
        *out = strdup(json_string_value(v));
        return *out ? 0 : perr(p, ZETL_ENOMEM, "out of memory");
}

/* An object of strings into a kv list. */
static int get_kv(const struct parse_ctx *p, const json_t *o, const char *what, struct ice_kv **kv,
                  int *n)
{
        const char *key;
        json_t *v;

        if (!json_is_object(o))
                return perr(p, ZETL_EPROTO, "%s is not an object", what);
        json_object_foreach((json_t *)o, key, v)
        {
                if (!json_is_string(v))
                        return perr(p, ZETL_EPROTO, "%s: \"%s\" is not a string", what, key);
                if (kv_set(kv, n, key, json_string_value(v)))
                        return perr(p, ZETL_ENOMEM, "out of memory");
        }
        return 0;
}

static int parse_schemas(const struct parse_ctx *p, const json_t *root, struct ice_meta *m)
{
        const json_t *arr = json_object_get(root, "schemas");
        int64_t cur;
        int rc;

        if (!json_is_array(arr) || json_array_size(arr) == 0)
                return perr(p, ZETL_EPROTO, "\"schemas\" is missing or empty");
        m->schemas = calloc(json_array_size(arr), sizeof(*m->schemas));
        if (!m->schemas)
                return perr(p, ZETL_ENOMEM, "out of memory");
        for (size_t i = 0; i < json_array_size(arr); i++) {
                rc = ice_schema_from_json(json_array_get(arr, i), &m->schemas[i], p->err);
                if (rc)
                        return zetl_err_prefix(p->err, "%s: schema %zu: ", p->path, i + 1);
                m->nschemas++;
                for (int k = 0; k < m->nschemas - 1; k++) {
                        if (m->schemas[k]->schema_id == m->schemas[i]->schema_id)
                                return perr(p, ZETL_EPROTO, "schema-id %d appears twice",
                                            m->schemas[i]->schema_id);
                }
        }
        rc = get_int(p, root, "current-schema-id", true, 0, INT32_MAX, 0, &cur);
        if (rc)
                return rc;
        m->current_schema_id = (int)cur;
        if (!ice_meta_schema(m, m->current_schema_id))
                return perr(p, ZETL_EPROTO, "current-schema-id %d names no schema",
                            m->current_schema_id);
        return 0;
}

static int parse_snapshot(const struct parse_ctx *p, const json_t *o, struct ice_snapshot *s)
{
        const json_t *summary = json_object_get(o, "summary");
        int64_t v = 0;
        int rc;

        if (!json_is_object(o))
                return perr(p, ZETL_EPROTO, "a snapshot is not an object");
        if (!json_object_get(o, "manifest-list"))
                return perr(p, ZETL_EUNSUPPORTED, "a snapshot has no manifest-list");
        rc = get_int(p, o, "snapshot-id", true, 1, INT64_MAX, 0, &s->snapshot_id);
        if (!rc)
                rc = get_int(p, o, "parent-snapshot-id", false, -1, INT64_MAX, -1, &s->parent_id);
        if (!rc)
                rc = get_int(p, o, "sequence-number", false, 0, INT64_MAX, 0, &s->sequence_number);
        if (!rc)
                rc = get_int(p, o, "timestamp-ms", true, INT64_MIN, INT64_MAX, 0, &s->timestamp_ms);
        if (!rc)
                rc = get_int(p, o, "schema-id", false, 0, INT32_MAX, -1, &v);
        if (rc)
                return rc;
        s->schema_id = (int)v;
        rc = get_str(p, o, "manifest-list", &s->manifest_list);
        if (!rc)
                rc = get_kv(p, summary, "a snapshot summary", &s->summary, &s->nsummary);
        if (!rc && !kv_get(s->summary, s->nsummary, "operation"))
                rc = perr(p, ZETL_EPROTO, "snapshot %" PRId64 " has no operation", s->snapshot_id);
        return rc;
}

static int parse_snapshots(const struct parse_ctx *p, const json_t *root, struct ice_meta *m)
{
        const json_t *arr = json_object_get(root, "snapshots");
        const json_t *cur = json_object_get(root, "current-snapshot-id");
        int rc;

        if (arr && !json_is_array(arr))
                return perr(p, ZETL_EPROTO, "\"snapshots\" is not an array");
        m->snapshots = calloc(json_array_size(arr) + 1, sizeof(*m->snapshots));
        if (!m->snapshots)
                return perr(p, ZETL_ENOMEM, "out of memory");
        for (size_t i = 0; i < json_array_size(arr); i++) {
                rc = parse_snapshot(p, json_array_get(arr, i), &m->snapshots[i]);
                m->nsnapshots++;
                if (rc)
                        return rc;
        }
        /* Absent, null and -1 all mean "no snapshot" to the readers we know. */
        m->current_snapshot_id = -1;
        if (cur && !json_is_null(cur)) {
                rc = get_int(p, root, "current-snapshot-id", true, -1, INT64_MAX, -1,
                             &m->current_snapshot_id);
                if (rc)
                        return rc;
        }
        if (m->current_snapshot_id != -1 && !ice_meta_snapshot(m, m->current_snapshot_id))
                return perr(p, ZETL_EPROTO, "current-snapshot-id %" PRId64 " names no snapshot",
                            m->current_snapshot_id);
        return 0;
}

static int parse_logs(const struct parse_ctx *p, const json_t *root, struct ice_meta *m)
{
        const json_t *sl = json_object_get(root, "snapshot-log");
        const json_t *ml = json_object_get(root, "metadata-log");
        int rc = 0;

        if ((sl && !json_is_array(sl)) || (ml && !json_is_array(ml)))
                return perr(p, ZETL_EPROTO, "\"snapshot-log\" or \"metadata-log\" is not an array");
        m->snapshot_log = calloc(json_array_size(sl) + 1, sizeof(*m->snapshot_log));
        m->metadata_log = calloc(json_array_size(ml) + 1, sizeof(*m->metadata_log));
        if (!m->snapshot_log || !m->metadata_log)
                return perr(p, ZETL_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < json_array_size(sl); i++) {
                struct ice_snapshot_log *e = &m->snapshot_log[i];
                const json_t *o = json_array_get(sl, i);

                rc = get_int(p, o, "timestamp-ms", true, INT64_MIN, INT64_MAX, 0, &e->timestamp_ms);
                if (!rc)
                        rc = get_int(p, o, "snapshot-id", true, 1, INT64_MAX, 0, &e->snapshot_id);
                m->nsnapshot_log += !rc;
        }
        for (size_t i = 0; !rc && i < json_array_size(ml); i++) {
                struct ice_metadata_log *e = &m->metadata_log[i];
                const json_t *o = json_array_get(ml, i);

                rc = get_int(p, o, "timestamp-ms", true, INT64_MIN, INT64_MAX, 0, &e->timestamp_ms);
                if (!rc)
                        rc = get_str(p, o, "metadata-file", &e->file);
                m->nmetadata_log += !rc;
        }
        return rc;
}

static int parse_refs(const struct parse_ctx *p, const json_t *root, struct ice_meta *m)
{
        const json_t *refs = json_object_get(root, "refs");
        const json_t *main_ref;
        int64_t id = 0;
        int rc;

        m->other_refs = json_object();
        if (!m->other_refs)
                return perr(p, ZETL_ENOMEM, "out of memory");
        if (!refs)
                return 0;
        if (!json_is_object(refs))
                return perr(p, ZETL_EPROTO, "\"refs\" is not an object");
        main_ref = json_object_get(refs, "main");
        if (main_ref) {
                rc = get_int(p, main_ref, "snapshot-id", true, 1, INT64_MAX, 0, &id);
                if (rc)
                        return rc;
                if (id != m->current_snapshot_id)
                        return perr(p, ZETL_EPROTO,
                                    "the main ref and current-snapshot-id disagree");
        }
        if (json_object_update(m->other_refs, (json_t *)refs) ||
            (main_ref && json_object_del(m->other_refs, "main")))
                return perr(p, ZETL_ENOMEM, "out of memory");
        return 0;
}

/* Keys the model owns; everything else is kept in m->extra. */
static const char *const modeled_keys[] = {
        "format-version",    "table-uuid",
        "location",          "last-sequence-number",
        "last-updated-ms",   "last-column-id",
        "current-schema-id", "schemas",
        "properties",        "current-snapshot-id",
        "snapshots",         "snapshot-log",
        "metadata-log",      "refs",
};

static int parse_extra(const struct parse_ctx *p, const json_t *root, struct ice_meta *m)
{
        static const char *const required[] = { "partition-specs", "default-spec-id",
                                                "last-partition-id", "sort-orders",
                                                "default-sort-order-id" };

        for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
                if (!json_object_get(root, required[i]))
                        return perr(p, ZETL_EPROTO, "\"%s\" is missing", required[i]);
        }
        m->extra = json_deep_copy(root);
        if (!m->extra)
                return perr(p, ZETL_ENOMEM, "out of memory");
        for (size_t i = 0; i < sizeof(modeled_keys) / sizeof(modeled_keys[0]); i++)
                json_object_del(m->extra, modeled_keys[i]);
        return 0;
}

static int parse_header(const struct parse_ctx *p, const json_t *root, struct ice_meta *m)
{
        const json_t *uuid = json_object_get(root, "table-uuid");
        const json_t *props = json_object_get(root, "properties");
        int64_t v = 0;
        int rc;

        if (!json_is_object(root))
                return perr(p, ZETL_EPROTO, "not a JSON object");
        rc = get_int(p, root, "format-version", true, 1, INT32_MAX, 0, &v);
        if (rc)
                return rc;
        if (v != 2)
                return perr(p, ZETL_EUNSUPPORTED, "format-version %" PRId64 " (zetl reads 2)", v);
        if (!json_is_string(uuid) || strlen(json_string_value(uuid)) != 36)
                return perr(p, ZETL_EPROTO, "\"table-uuid\" is missing or not a UUID");
        memcpy(m->table_uuid, json_string_value(uuid), 37);
        rc = get_str(p, root, "location", &m->location);
        if (!rc)
                rc = get_int(p, root, "last-sequence-number", true, 0, INT64_MAX, 0,
                             &m->last_sequence_number);
        if (!rc)
                rc = get_int(p, root, "last-updated-ms", true, INT64_MIN, INT64_MAX, 0,
                             &m->last_updated_ms);
        if (!rc)
                rc = get_int(p, root, "last-column-id", true, 0, INT32_MAX, 0, &v);
        if (rc)
                return rc;
        m->last_column_id = (int)v;
        m->version_updated_ms = m->last_updated_ms;
        if (props)
                rc = get_kv(p, props, "\"properties\"", &m->props, &m->nprops);
        return rc;
}

static int meta_from_json(const struct parse_ctx *p, const json_t *root, struct ice_meta *m)
{
        int rc = parse_header(p, root, m);

        if (!rc)
                rc = parse_schemas(p, root, m);
        if (!rc)
                rc = parse_snapshots(p, root, m);
        if (!rc)
                rc = parse_logs(p, root, m);
        if (!rc)
                rc = parse_refs(p, root, m);
        if (!rc)
                rc = parse_extra(p, root, m);
        return rc;
}

/* ---- model to JSON --------------------------------------------------------------------- */

static json_t *kv_to_json(const struct ice_kv *kv, int n)
{
        json_t *o = json_object();

        for (int i = 0; o && i < n; i++) {
                if (json_object_set_new(o, kv[i].key, json_string(kv[i].value))) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

static json_t *snapshot_to_json(const struct ice_snapshot *s)
{
        json_t *o = json_object();
        int bad = !o;

        bad = bad || json_object_set_new(o, "snapshot-id", json_integer(s->snapshot_id));
        if (s->parent_id >= 0)
                bad = bad ||
                      json_object_set_new(o, "parent-snapshot-id", json_integer(s->parent_id));
        bad = bad || json_object_set_new(o, "sequence-number", json_integer(s->sequence_number));
        bad = bad || json_object_set_new(o, "timestamp-ms", json_integer(s->timestamp_ms));
        bad = bad || json_object_set_new(o, "manifest-list", json_string(s->manifest_list));
        bad = bad || json_object_set_new(o, "summary", kv_to_json(s->summary, s->nsummary));
        if (s->schema_id >= 0)
                bad = bad || json_object_set_new(o, "schema-id", json_integer(s->schema_id));
        if (bad) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static json_t *snapshots_json(const struct ice_meta *m)
{
        json_t *a = json_array();

        for (int i = 0; a && i < m->nsnapshots; i++) {
                if (json_array_append_new(a, snapshot_to_json(&m->snapshots[i]))) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

static json_t *schemas_json(const struct ice_meta *m)
{
        json_t *a = json_array();

        for (int i = 0; a && i < m->nschemas; i++) {
                if (json_array_append_new(a, ice_schema_to_json(m->schemas[i]))) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

static json_t *refs_json(const struct ice_meta *m)
{
        json_t *o = json_deep_copy(m->other_refs);

        if (o && m->current_snapshot_id >= 0 &&
            json_object_set_new(o, "main",
                                json_pack("{s:I, s:s}", "snapshot-id",
                                          (json_int_t)m->current_snapshot_id, "type", "branch"))) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static json_t *logs_json(const struct ice_meta *m, const struct ice_metadata_log *ml, int nml,
                         bool metadata)
{
        json_t *a = json_array();
        json_t *e;

        if (!a)
                return NULL;
        for (int i = 0; metadata && i < nml; i++) {
                e = json_pack("{s:I, s:s}", "timestamp-ms", (json_int_t)ml[i].timestamp_ms,
                              "metadata-file", ml[i].file);
                if (json_array_append_new(a, e))
                        goto free_array;
        }
        for (int i = 0; !metadata && i < m->nsnapshot_log; i++) {
                e = json_pack("{s:I, s:I}", "timestamp-ms",
                              (json_int_t)m->snapshot_log[i].timestamp_ms, "snapshot-id",
                              (json_int_t)m->snapshot_log[i].snapshot_id);
                if (json_array_append_new(a, e))
                        goto free_array;
        }
        return a;

free_array:
        json_decref(a);
        return NULL;
}

/* The whole table metadata, with ml as its metadata log. NULL on ENOMEM. */
static json_t *meta_to_json(const struct ice_meta *m, const struct ice_metadata_log *ml, int nml)
{
        json_t *o = json_object();
        int bad = !o;

        bad = bad || json_object_set_new(o, "format-version", json_integer(2));
        bad = bad || json_object_set_new(o, "table-uuid", json_string(m->table_uuid));
        bad = bad || json_object_set_new(o, "location", json_string(m->location));
        bad = bad ||
              json_object_set_new(o, "last-sequence-number", json_integer(m->last_sequence_number));
        bad = bad || json_object_set_new(o, "last-updated-ms", json_integer(m->last_updated_ms));
        bad = bad || json_object_set_new(o, "last-column-id", json_integer(m->last_column_id));
        bad = bad ||
              json_object_set_new(o, "current-schema-id", json_integer(m->current_schema_id));
        bad = bad || json_object_set_new(o, "schemas", schemas_json(m));
        bad = bad || json_object_update(o, m->extra);
        bad = bad || json_object_set_new(o, "properties", kv_to_json(m->props, m->nprops));
        bad = bad ||
              json_object_set_new(o, "current-snapshot-id", json_integer(m->current_snapshot_id));
        bad = bad || json_object_set_new(o, "refs", refs_json(m));
        bad = bad || json_object_set_new(o, "snapshots", snapshots_json(m));
        bad = bad || json_object_set_new(o, "snapshot-log", logs_json(m, NULL, 0, false));
        bad = bad || json_object_set_new(o, "metadata-log", logs_json(m, ml, nml, true));
        if (bad) {
                json_decref(o);
                return NULL;
        }
        return o;
}

/* ---- load ------------------------------------------------------------------------------ */

static bool version_exists(const char *metadir, int v)
{
        char path[PATH_MAX];

        if (snprintf(path, sizeof(path), "%s/v%d.metadata.json", metadir, v) >= (int)sizeof(path))
                return false;
        return access(path, F_OK) == 0;
}

/* The highest vN.metadata.json in metadir (0: none). */
static int scan_versions(const char *metadir, int *out, struct zetl_err *err)
{
        DIR *d = opendir(metadir);
        struct dirent *e;

        *out = 0;
        if (!d && errno == ENOENT)
                return 0;
        if (!d)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "%s: %s", metadir,
                                    strerror(errno));
        while ((e = readdir(d))) {
                int v = version_of(e->d_name);

                if (v > *out)
                        *out = v;
        }
        closedir(d);
        return 0;
}

/* The hint's N, 0 when missing or not a number (writers may add a newline). */
static int read_hint(const char *metadir)
{
        char path[PATH_MAX], *buf = NULL, *end;
        size_t len;
        long v = 0;

        if (join(path, sizeof(path), metadir, HINT_NAME) ||
            zetl_file_read(path, 64, &buf, &len, NULL))
                return 0;
        errno = 0;
        v = strtol(buf, &end, 10);
        while (*end == '\n' || *end == '\r' || *end == ' ')
                end++;
        if (errno || end == buf || *end != '\0' || v <= 0 || v > INT_MAX)
                v = 0;
        free(buf);
        return (int)v;
}

/* The newest version: the hint, followed forward (a crash may have left it
 * one behind); without a usable hint, the directory's highest. */
static int find_version(const char *metadir, int *out, struct zetl_err *err)
{
        int v = read_hint(metadir);

        if (v > 0 && version_exists(metadir, v)) {
                while (v < INT_MAX && version_exists(metadir, v + 1))
                        v++;
                *out = v;
                return 0;
        }
        return scan_versions(metadir, out, err);
}

static int load_version(struct ice_meta *m, const char *metadir, int v, struct zetl_err *err)
{
        char path[PATH_MAX + 32], *buf = NULL;
        struct parse_ctx p = { .path = path, .err = err };
        json_error_t jerr;
        json_t *root;
        size_t len;
        int rc;

        if (snprintf(path, sizeof(path), "%s/v%d.metadata.json", metadir, v) >= (int)sizeof(path))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "%s: path too long",
                                    metadir);
        rc = zetl_file_read(path, ICE_META_MAX_BYTES, &buf, &len, err);
        if (rc)
                return rc;
        root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                rc = perr(&p, ZETL_EPROTO, "not valid JSON: line %d column %d: %s", jerr.line,
                          jerr.column, jerr.text);
                goto free_buf;
        }
        rc = meta_from_json(&p, root, m);
        if (!rc)
                m->version = v;
        json_decref(root);
free_buf:
        free(buf);
        return rc;
}

int ice_meta_load(const char *dir, struct ice_meta **out, struct zetl_err *err)
{
        char metadir[PATH_MAX];
        struct ice_meta *m;
        int v, rc;

        *out = NULL;
        if (join(metadir, sizeof(metadir), dir, "metadata"))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "%s: path too long", dir);
        rc = find_version(metadir, &v, err);
        if (rc)
                return rc;
        if (v == 0)
                return zetl_err_set(err, ZETL_ENOTFOUND, ZETL_ERRC_FATAL,
                                    "%s: no Iceberg table here (no metadata/v*.metadata.json)",
                                    dir);
        m = calloc(1, sizeof(*m));
        if (!m || !(m->dir = strdup(dir))) {
                free(m);
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "%s: out of memory", dir);
        }
        rc = load_version(m, metadir, v, err);
        if (rc) {
                ice_meta_free(m);
                return rc;
        }
        *out = m;
        return 0;
}

/* ---- commit ----------------------------------------------------------------------------- */

static int write_all(int fd, const char *buf, size_t len, const char *path, struct zetl_err *err)
{
        while (len > 0) {
                ssize_t n;

                if (zetl_fault_hit(ZETL_FAULT_WRITE) < 0)
                        n = -1;
                else
                        n = write(fd, buf, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "%s: write: %s",
                                            path, strerror(errno));
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

static int fsync_dir(const char *dir, struct zetl_err *err)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int rc = 0;

        if (fd < 0 || zetl_fault_hit(ZETL_FAULT_FSYNC) < 0 || fsync(fd) < 0)
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "%s: fsync: %s", dir,
                                  strerror(errno));
        if (fd >= 0)
                close(fd);
        return rc;
}

/* A durable temporary copy of text in metadir, named into tmp. */
static int write_temp(const char *metadir, int v, const char *text, char *tmp, size_t tlen,
                      struct zetl_err *err)
{
        unsigned long long r = 0;
        int fd, rc;

        random_bytes(&r, sizeof(r));
        if (snprintf(tmp, tlen, "%s/.v%d.metadata.json.%ld.%llx.tmp", metadir, v, (long)getpid(),
                     r) >= (int)tlen)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "%s: path too long",
                                    metadir);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "%s: create: %s", tmp,
                                    strerror(errno));
        rc = write_all(fd, text, strlen(text), tmp, err);
        if (!rc && (zetl_fault_hit(ZETL_FAULT_FSYNC) < 0 || fsync(fd) < 0))
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "%s: fsync: %s", tmp,
                                  strerror(errno));
        if (close(fd) < 0 && !rc)
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "%s: close: %s", tmp,
                                  strerror(errno));
        if (rc)
                unlink(tmp);
        return rc;
}

/* Make text version v: temp file, then link() so that an existing v wins. */
static int publish(const char *metadir, int v, const char *text, struct zetl_err *err)
{
        char tmp[PATH_MAX], final[PATH_MAX];
        int rc;

        if (snprintf(final, sizeof(final), "%s/v%d.metadata.json", metadir, v) >=
            (int)sizeof(final))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "%s: path too long",
                                    metadir);
        rc = write_temp(metadir, v, text, tmp, sizeof(tmp), err);
        if (rc)
                return rc;
        if (zetl_fault_hit(ZETL_FAULT_RENAME) < 0 || link(tmp, final) < 0) {
                if (errno == EEXIST)
                        rc = zetl_err_set(err, ZETL_EEXIST, ZETL_ERRC_TRANSIENT,
                                          "%s: exists: another writer committed version %d "
                                          "first; load the table again",
                                          final, v);
                else
                        rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "%s: link: %s", final,
                                          strerror(errno));
                unlink(tmp);
                return rc;
        }
        unlink(tmp);
        return fsync_dir(metadir, err);
}

static int64_t prop_int(const struct ice_meta *m, const char *key, int64_t def)
{
        const char *v = ice_meta_prop(m, key);
        char *end;
        long long n;

        if (!v)
                return def;
        errno = 0;
        n = strtoll(v, &end, 10);
        return errno || end == v || *end || n < 0 ? def : n;
}

static void log_free(struct ice_metadata_log *ml, int n)
{
        for (int i = 0; i < n; i++)
                free(ml[i].file);
        free(ml);
}

/* The metadata log of the next version: the current one plus this version,
 * keeping the newest previous-versions-max entries. */
static int next_log(const struct ice_meta *m, struct ice_metadata_log **out, int *nout)
{
        int64_t max = prop_int(m, ICE_PROP_PREVIOUS_VERSIONS_MAX, ICE_PREVIOUS_VERSIONS_DEFAULT);
        int total = m->nmetadata_log + (m->version > 0);
        int skip = total > max ? total - (int)max : 0;
        struct ice_metadata_log *ml = calloc((size_t)total + 1, sizeof(*ml));
        char rel[64], loc[PATH_MAX + 64];
        int n = 0;

        if (!ml)
                return ZETL_ENOMEM;
        for (int i = skip; i < m->nmetadata_log; i++) {
                ml[n].timestamp_ms = m->metadata_log[i].timestamp_ms;
                if (!(ml[n++].file = strdup(m->metadata_log[i].file)))
                        goto free_log;
        }
        if (m->version > 0 && skip <= m->nmetadata_log) {
                snprintf(rel, sizeof(rel), "metadata/v%d.metadata.json", m->version);
                if (ice_meta_location_of(m, rel, loc, sizeof(loc)))
                        goto free_log;
                ml[n].timestamp_ms = m->version_updated_ms;
                if (!(ml[n++].file = strdup(loc)))
                        goto free_log;
        }
        *out = ml;
        *nout = n;
        return 0;

free_log:
        log_free(ml, n);
        return ZETL_ENOMEM;
}

static void write_hint(struct ice_meta *m, const char *metadir)
{
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%d", m->version);

        m->hint_stale = zetl_file_write_atomic(metadir, HINT_NAME, buf, (size_t)n, 0644, NULL) != 0;
}

int ice_meta_commit(struct ice_meta *m, struct zetl_err *err)
{
        struct ice_metadata_log *ml = NULL;
        char metadir[PATH_MAX], *text = NULL;
        int64_t prev_updated = m->last_updated_ms;
        json_t *root = NULL;
        int nml = 0, rc;

        if (join(metadir, sizeof(metadir), m->dir, "metadata"))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "%s: path too long",
                                    m->dir);
        /* Each metadata file records when it was written. */
        if (now_ms() > m->last_updated_ms)
                m->last_updated_ms = now_ms();
        if (next_log(m, &ml, &nml) || !(root = meta_to_json(m, ml, nml)) ||
            !(text = json_dumps(root, JSON_INDENT(2)))) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                  "%s: out of memory writing metadata", m->dir);
                goto undo;
        }
        rc = publish(metadir, m->version + 1, text, err);
        if (rc)
                goto undo;
        log_free(m->metadata_log, m->nmetadata_log);
        m->metadata_log = ml;
        m->nmetadata_log = nml;
        ml = NULL;
        nml = 0;
        m->version++;
        m->version_updated_ms = m->last_updated_ms;
        write_hint(m, metadir);
        if (ice_meta_prop(m, ICE_PROP_DELETE_AFTER_COMMIT) &&
            strcmp(ice_meta_prop(m, ICE_PROP_DELETE_AFTER_COMMIT), "true") == 0)
                ice_meta_clean_metadata(m, NULL);
        goto free_text;

undo:
        m->last_updated_ms = prev_updated;
free_text:
        free(text);
        json_decref(root);
        log_free(ml, nml);
        return rc;
}

/* ---- create ------------------------------------------------------------------------------ */

static int make_uuid(char out[40])
{
        unsigned char b[16];

        if (random_bytes(b, sizeof(b)))
                return -1;
        b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
        b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
        snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                 b[13], b[14], b[15]);
        return 0;
}

/* The parts of a new table the model keeps as JSON: unpartitioned, unsorted. */
static json_t *default_extra(void)
{
        return json_pack("{s:i, s:[{s:i, s:[]}], s:i, s:i, s:[{s:i, s:[]}]}", "default-spec-id", 0,
                         "partition-specs", "spec-id", 0, "fields", "last-partition-id", 999,
                         "default-sort-order-id", 0, "sort-orders", "order-id", 0, "fields");
}

static int create_model(const char *dir, const struct ice_schema *schema, int last_column_id,
                        const struct ice_kv *props, int nprops, struct ice_meta *m)
{
        char loc[PATH_MAX + 8];
        int rc = ice_path_to_location(dir, loc, sizeof(loc));

        if (rc)
                return rc;
        m->current_snapshot_id = -1;
        m->dir = strdup(dir);
        m->location = strdup(loc);
        m->schemas = calloc(1, sizeof(*m->schemas));
        m->snapshots = calloc(1, sizeof(*m->snapshots));
        m->snapshot_log = calloc(1, sizeof(*m->snapshot_log));
        m->metadata_log = calloc(1, sizeof(*m->metadata_log));
        m->other_refs = json_object();
        m->extra = default_extra();
        if (!m->dir || !m->location || !m->schemas || !m->snapshots || !m->snapshot_log ||
            !m->metadata_log || !m->other_refs || !m->extra ||
            !(m->schemas[0] = ice_schema_clone(schema)))
                return ZETL_ENOMEM;
        m->nschemas = 1;
        m->schemas[0]->schema_id = 0;
        m->last_column_id = last_column_id > ice_schema_max_id(schema) ? last_column_id
                                                                       : ice_schema_max_id(schema);
        m->last_updated_ms = now_ms();
        rc = kv_set(&m->props, &m->nprops, "write.format.default", "parquet");
        rc = rc ? rc : kv_set(&m->props, &m->nprops, "write.parquet.compression-codec", "zstd");
        rc = rc ? rc : kv_set(&m->props, &m->nprops, ICE_PROP_DELETE_AFTER_COMMIT, "true");
        rc = rc ? rc : kv_set(&m->props, &m->nprops, ICE_PROP_PREVIOUS_VERSIONS_MAX, "100");
        for (int i = 0; !rc && i < nprops; i++)
                rc = kv_set(&m->props, &m->nprops, props[i].key, props[i].value);
        return rc;
}

static int create_dirs(const char *dir, struct zetl_err *err)
{
        char path[PATH_MAX];
        int rc;

        if (join(path, sizeof(path), dir, "data"))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "%s: path too long", dir);
        rc = zetl_mkdir_p(path, 0755, err);
        if (rc)
                return rc;
        join(path, sizeof(path), dir, "metadata");
        return zetl_mkdir_p(path, 0755, err);
}

int ice_meta_create(const char *dir, const struct ice_schema *schema, int last_column_id,
                    const struct ice_kv *props, int nprops, struct ice_meta **out,
                    struct zetl_err *err)
{
        char metadir[PATH_MAX];
        struct ice_meta *m;
        int v = 0, rc;

        *out = NULL;
        m = calloc(1, sizeof(*m));
        rc = m ? create_model(dir, schema, last_column_id, props, nprops, m) : ZETL_ENOMEM;
        if (rc == ZETL_ENOMEM) {
                rc = zetl_err_set(err, rc, ZETL_ERRC_FATAL, "%s: out of memory", dir);
                goto free_model;
        }
        if (rc || join(metadir, sizeof(metadir), dir, "metadata")) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "%s: an Iceberg table needs an absolute path without '%%', "
                                  "'?', '#' or control characters",
                                  dir);
                goto free_model;
        }
        if (make_uuid(m->table_uuid)) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "getrandom: %s",
                                  strerror(errno));
                goto free_model;
        }
        rc = create_dirs(dir, err);
        if (!rc)
                rc = scan_versions(metadir, &v, err);
        /* link() guards v1 only: a table whose v1 was cleaned away has later versions. */
        if (!rc && v > 0)
                rc = zetl_err_set(err, ZETL_EEXIST, ZETL_ERRC_FATAL,
                                  "%s: an Iceberg table exists here already (version %d)", dir, v);
        if (!rc)
                rc = ice_meta_commit(m, err);
        if (rc)
                goto free_model;
        *out = m;
        return 0;

free_model:
        ice_meta_free(m);
        return rc;
}

/* ---- schemas, properties ------------------------------------------------------------------ */

const struct ice_schema *ice_meta_schema(const struct ice_meta *m, int schema_id)
{
        if (schema_id < 0)
                schema_id = m->current_schema_id;
        for (int i = 0; i < m->nschemas; i++) {
                if (m->schemas[i]->schema_id == schema_id)
                        return m->schemas[i];
        }
        return NULL;
}

int ice_meta_set_schema(struct ice_meta *m, const struct ice_schema *s, int last_column_id,
                        struct zetl_err *err)
{
        struct ice_schema *c;
        int max_id = -1;

        if (last_column_id > m->last_column_id)
                m->last_column_id = last_column_id;
        if (ice_schema_max_id(s) > m->last_column_id)
                m->last_column_id = ice_schema_max_id(s);
        for (int i = 0; i < m->nschemas; i++) {
                if (ice_schema_equal(m->schemas[i], s)) {
                        m->current_schema_id = m->schemas[i]->schema_id;
                        return 0;
                }
                if (m->schemas[i]->schema_id > max_id)
                        max_id = m->schemas[i]->schema_id;
        }
        c = ice_schema_clone(s);
        if (!c || grow(&m->schemas, m->nschemas, sizeof(*m->schemas))) {
                ice_schema_free(c);
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "%s: out of memory", m->dir);
        }
        c->schema_id = max_id + 1;
        m->schemas[m->nschemas++] = c;
        m->current_schema_id = c->schema_id;
        return 0;
}

const char *ice_meta_prop(const struct ice_meta *m, const char *key)
{
        return kv_get(m->props, m->nprops, key);
}

int ice_meta_set_prop(struct ice_meta *m, const char *key, const char *value, struct zetl_err *err)
{
        if (kv_set(&m->props, &m->nprops, key, value))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "%s: out of memory", m->dir);
        return 0;
}

/* ---- snapshots ------------------------------------------------------------------------------ */

const struct ice_snapshot *ice_meta_snapshot(const struct ice_meta *m, int64_t snapshot_id)
{
        if (snapshot_id == -1)
                snapshot_id = m->current_snapshot_id;
        if (snapshot_id < 0)
                return NULL;
        for (int i = 0; i < m->nsnapshots; i++) {
                if (m->snapshots[i].snapshot_id == snapshot_id)
                        return &m->snapshots[i];
        }
        return NULL;
}

const char *ice_snapshot_get(const struct ice_snapshot *s, const char *key)
{
        return s ? kv_get(s->summary, s->nsummary, key) : NULL;
}

int ice_meta_new_snapshot_id(const struct ice_meta *m, int64_t *out, struct zetl_err *err)
{
        uint64_t r;

        do {
                if (random_bytes(&r, sizeof(r)))
                        return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "getrandom: %s",
                                            strerror(errno));
                r &= (UINT64_C(1) << SNAPSHOT_ID_BITS) - 1;
        } while (r == 0 || ice_meta_snapshot(m, (int64_t)r));
        *out = (int64_t)r;
        return 0;
}

int64_t ice_meta_next_sequence(const struct ice_meta *m)
{
        return m->last_sequence_number + 1;
}

static bool operation_ok(const char *op)
{
        return op && (strcmp(op, "append") == 0 || strcmp(op, "overwrite") == 0 ||
                      strcmp(op, "delete") == 0 || strcmp(op, "replace") == 0);
}

/* Copy key from the parent's summary, if it has it. */
static int inherit(struct ice_snapshot *s, const struct ice_snapshot *parent, const char *key)
{
        const char *v = ice_snapshot_get(parent, key);

        return v ? kv_set(&s->summary, &s->nsummary, key, v) : 0;
}

static int snapshot_summary(struct ice_snapshot *s, const struct ice_snapshot_new *ns,
                            const struct ice_snapshot *parent)
{
        const struct zetl_position *pos = ns->pos;
        char num[32];
        int rc = kv_set(&s->summary, &s->nsummary, "operation", ns->operation);

        for (int i = 0; !rc && i < ns->nsummary; i++)
                rc = kv_set(&s->summary, &s->nsummary, ns->summary[i].key, ns->summary[i].value);
        if (rc)
                return rc;
        if (pos && zetl_pos_is_set(pos)) {
                snprintf(num, sizeof(num), "%" PRIu64, pos->order);
                rc = kv_set(&s->summary, &s->nsummary, ICE_SUMMARY_POS_ORDER, num);
                rc = rc ? rc : kv_set(&s->summary, &s->nsummary, ICE_SUMMARY_POS_TOKEN, pos->token);
                snprintf(num, sizeof(num), "%" PRId64, pos->time_us);
                if (!rc && pos->time_us != 0)
                        rc = kv_set(&s->summary, &s->nsummary, ICE_SUMMARY_POS_TIME, num);
        } else {
                rc = inherit(s, parent, ICE_SUMMARY_POS_ORDER);
                rc = rc ? rc : inherit(s, parent, ICE_SUMMARY_POS_TOKEN);
                rc = rc ? rc : inherit(s, parent, ICE_SUMMARY_POS_TIME);
        }
        if (!rc && ns->integration)
                rc = kv_set(&s->summary, &s->nsummary, ICE_SUMMARY_INTEGRATION, ns->integration);
        else if (!rc)
                rc = inherit(s, parent, ICE_SUMMARY_INTEGRATION);
        return rc;
}

int ice_meta_add_snapshot(struct ice_meta *m, const struct ice_snapshot_new *ns,
                          struct zetl_err *err)
{
        const struct ice_snapshot *parent = ice_meta_snapshot(m, -1);
        struct ice_snapshot s = { 0 };
        int64_t ts = now_ms();

        if (!operation_ok(ns->operation) || !ns->manifest_list || ns->snapshot_id <= 0 ||
            ns->snapshot_id >= (INT64_C(1) << 53) || ice_meta_snapshot(m, ns->snapshot_id))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "%s: a snapshot needs a known operation, a manifest list "
                                    "and a new id below 2^53",
                                    m->dir);
        s.snapshot_id = ns->snapshot_id;
        s.parent_id = parent ? parent->snapshot_id : -1;
        s.sequence_number = ice_meta_next_sequence(m);
        s.timestamp_ms = ts > m->last_updated_ms ? ts : m->last_updated_ms;
        s.schema_id = m->current_schema_id;
        s.manifest_list = strdup(ns->manifest_list);
        /* Grow both arrays first: after this nothing can fail half-way. */
        if (!s.manifest_list || snapshot_summary(&s, ns, parent) ||
            grow(&m->snapshots, m->nsnapshots, sizeof(*m->snapshots)) ||
            grow(&m->snapshot_log, m->nsnapshot_log, sizeof(*m->snapshot_log))) {
                snapshot_clear(&s);
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "%s: out of memory", m->dir);
        }
        m->snapshots[m->nsnapshots++] = s;
        m->snapshot_log[m->nsnapshot_log].timestamp_ms = s.timestamp_ms;
        m->snapshot_log[m->nsnapshot_log++].snapshot_id = s.snapshot_id;
        m->current_snapshot_id = s.snapshot_id;
        m->last_sequence_number = s.sequence_number;
        m->last_updated_ms = s.timestamp_ms;
        return 0;
}

static int position_of(const struct ice_meta *m, const struct ice_snapshot *s,
                       struct zetl_position *out, struct zetl_err *err)
{
        const char *order = ice_snapshot_get(s, ICE_SUMMARY_POS_ORDER);
        const char *token = ice_snapshot_get(s, ICE_SUMMARY_POS_TOKEN);
        const char *time = ice_snapshot_get(s, ICE_SUMMARY_POS_TIME);
        unsigned long long o;
        char *end;

        errno = 0;
        o = strtoull(order, &end, 10);
        if (errno || end == order || *end || order[0] == '-')
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "%s: snapshot %" PRId64 ": %s \"%s\" is not a position", m->dir,
                                    s->snapshot_id, ICE_SUMMARY_POS_ORDER, order);
        zetl_pos_set(out, (uint64_t)o, token);
        out->time_us = time ? strtoll(time, NULL, 10) : 0;
        return 0;
}

int ice_meta_position(const struct ice_meta *m, struct zetl_position *out, struct zetl_err *err)
{
        const struct ice_snapshot *s = ice_meta_snapshot(m, -1);

        memset(out, 0, sizeof(*out));
        /* The step count bounds the walk should parent ids ever form a cycle. */
        for (int steps = 0; s && steps <= m->nsnapshots; steps++) {
                if (ice_snapshot_get(s, ICE_SUMMARY_POS_ORDER))
                        return position_of(m, s, out, err);
                s = s->parent_id >= 0 ? ice_meta_snapshot(m, s->parent_id) : NULL;
        }
        return 0;
}

/* ---- maintenance --------------------------------------------------------------------------- */

static int snapshot_index(const struct ice_meta *m, int64_t id)
{
        for (int i = 0; id >= 0 && i < m->nsnapshots; i++) {
                if (m->snapshots[i].snapshot_id == id)
                        return i;
        }
        return -1;
}

/* Which snapshots stay: recent ones, the current one and its nearest
 * ancestors, and those other refs (tags, branches) point at. */
static void mark_kept(const struct ice_meta *m, int64_t older_than_ms, int keep_ancestors,
                      bool *keep)
{
        const char *name;
        json_t *ref;
        int i = snapshot_index(m, m->current_snapshot_id);

        for (int n = 0; i >= 0 && n <= keep_ancestors && !keep[i]; n++) {
                keep[i] = true;
                i = snapshot_index(m, m->snapshots[i].parent_id);
        }
        json_object_foreach(m->other_refs, name, ref)
        {
                i = snapshot_index(m, json_integer_value(json_object_get(ref, "snapshot-id")));
                if (i >= 0)
                        keep[i] = true;
        }
        for (i = 0; i < m->nsnapshots; i++) {
                if (m->snapshots[i].timestamp_ms >= older_than_ms)
                        keep[i] = true;
        }
}

static bool list_kept(const struct ice_meta *m, const bool *keep, const char *list)
{
        for (int i = 0; i < m->nsnapshots; i++) {
                if (keep[i] && strcmp(m->snapshots[i].manifest_list, list) == 0)
                        return true;
        }
        return false;
}

/* Drop the snapshots not kept, and the snapshot log entries naming them. */
static void drop_expired(struct ice_meta *m, const bool *keep)
{
        int n = 0;

        for (int i = 0; i < m->nsnapshots; i++) {
                if (keep[i])
                        m->snapshots[n++] = m->snapshots[i];
                else
                        snapshot_clear(&m->snapshots[i]);
        }
        m->nsnapshots = n;
        n = 0;
        for (int i = 0; i < m->nsnapshot_log; i++) {
                if (snapshot_index(m, m->snapshot_log[i].snapshot_id) >= 0)
                        m->snapshot_log[n++] = m->snapshot_log[i];
        }
        m->nsnapshot_log = n;
}

int ice_meta_expire_snapshots(struct ice_meta *m, int64_t older_than_ms, int keep_ancestors,
                              char ***lists, int *nlists, struct zetl_err *err)
{
        bool *keep = calloc((size_t)m->nsnapshots + 1, sizeof(bool));
        char **out = calloc((size_t)m->nsnapshots + 1, sizeof(char *));
        int n = 0;

        *lists = NULL;
        *nlists = 0;
        if (!keep || !out)
                goto enomem;
        mark_kept(m, older_than_ms, keep_ancestors, keep);
        /* Collect first: the model changes only once nothing can fail. */
        for (int i = 0; i < m->nsnapshots; i++) {
                const char *list = m->snapshots[i].manifest_list;
                bool seen = false;

                for (int k = 0; k < n; k++)
                        seen = seen || strcmp(out[k], list) == 0;
                if (keep[i] || seen || list_kept(m, keep, list))
                        continue;
                if (!(out[n++] = strdup(list)))
                        goto enomem;
        }
        drop_expired(m, keep);
        free(keep);
        *lists = out;
        *nlists = n;
        return 0;

enomem:
        free(keep);
        ice_strings_free(out, n);
        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "%s: out of memory", m->dir);
}

/* Is version v in the metadata log? */
static bool logged(const struct ice_meta *m, int v)
{
        for (int i = 0; i < m->nmetadata_log; i++) {
                const char *slash = strrchr(m->metadata_log[i].file, '/');

                if (version_of(slash ? slash + 1 : m->metadata_log[i].file) == v)
                        return true;
        }
        return false;
}

int ice_meta_clean_metadata(const struct ice_meta *m, struct zetl_err *err)
{
        char metadir[PATH_MAX], path[PATH_MAX];
        struct dirent *e;
        DIR *d;
        int rc = 0;

        if (join(metadir, sizeof(metadir), m->dir, "metadata"))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "%s: path too long",
                                    m->dir);
        d = opendir(metadir);
        if (!d)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "%s: %s", metadir,
                                    strerror(errno));
        while ((e = readdir(d))) {
                int v = version_of(e->d_name);

                if (v == 0 || v >= m->version || logged(m, v))
                        continue;
                if ((join(path, sizeof(path), metadir, e->d_name) || unlink(path) < 0) && !rc)
                        rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "%s: unlink: %s",
                                          path, strerror(errno));
        }
        closedir(d);
        return rc;
}
