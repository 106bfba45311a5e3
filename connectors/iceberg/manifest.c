/*
 * Iceberg v2 manifests and manifest lists on top of avro.c (contract in
 * manifest.h). The Avro schemas below follow the Iceberg table spec's v2
 * tables field by field (ids, optionality, element ids, maps with int keys
 * as arrays of key/value records with logicalType "map"), with record names
 * in the reference implementation's style (r<id>, k<key id>_v<value id>)
 * because some readers look records up by name.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "manifest.h"
#include "parquet.h"

/* ---- schemas -------------------------------------------------------------- */

/* One schema field per line: clang-format would break the literals apart. */
/* clang-format off */

#define OPT(type) "[\"null\"," type "],\"default\":null"

/* A map with int keys, as the spec requires: array of key/value records. */
#define ID_MAP(name, id, kid, vid, vtype)                                                          \
        "{\"name\":\"" name "\",\"type\":" OPT(                                                    \
                "{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"k" #kid "_v" #vid   \
                "\",\"fields\":[{\"name\":\"key\",\"type\":\"int\",\"field-id\":" #kid             \
                "},{\"name\":\"value\",\"type\":\"" vtype "\",\"field-id\":" #vid                  \
                "}]},\"logicalType\":\"map\"}") ",\"field-id\":" #id "}"

#define LIST(items, eid) "{\"type\":\"array\",\"items\":\"" items "\",\"element-id\":" #eid "}"

const char ice_manifest_entry_schema[] =
        "{\"type\":\"record\",\"name\":\"manifest_entry\",\"fields\":["
        "{\"name\":\"status\",\"type\":\"int\",\"field-id\":0},"
        "{\"name\":\"snapshot_id\",\"type\":" OPT("\"long\"") ",\"field-id\":1},"
        "{\"name\":\"sequence_number\",\"type\":" OPT("\"long\"") ",\"field-id\":3},"
        "{\"name\":\"file_sequence_number\",\"type\":" OPT("\"long\"") ",\"field-id\":4},"
        "{\"name\":\"data_file\",\"type\":{\"type\":\"record\",\"name\":\"r2\",\"fields\":["
          "{\"name\":\"content\",\"type\":\"int\",\"field-id\":134},"
          "{\"name\":\"file_path\",\"type\":\"string\",\"field-id\":100},"
          "{\"name\":\"file_format\",\"type\":\"string\",\"field-id\":101},"
          "{\"name\":\"partition\",\"type\":{\"type\":\"record\",\"name\":\"r102\",\"fields\":[]},"
            "\"field-id\":102},"
          "{\"name\":\"record_count\",\"type\":\"long\",\"field-id\":103},"
          "{\"name\":\"file_size_in_bytes\",\"type\":\"long\",\"field-id\":104},"
          ID_MAP("column_sizes", 108, 117, 118, "long") ","
          ID_MAP("value_counts", 109, 119, 120, "long") ","
          ID_MAP("null_value_counts", 110, 121, 122, "long") ","
          ID_MAP("nan_value_counts", 137, 138, 139, "long") ","
          ID_MAP("lower_bounds", 125, 126, 127, "bytes") ","
          ID_MAP("upper_bounds", 128, 129, 130, "bytes") ","
          "{\"name\":\"key_metadata\",\"type\":" OPT("\"bytes\"") ",\"field-id\":131},"
          "{\"name\":\"split_offsets\",\"type\":" OPT(LIST("long", 133)) ",\"field-id\":132},"
          "{\"name\":\"equality_ids\",\"type\":" OPT(LIST("int", 136)) ",\"field-id\":135},"
          "{\"name\":\"sort_order_id\",\"type\":" OPT("\"int\"") ",\"field-id\":140},"
          "{\"name\":\"referenced_data_file\",\"type\":" OPT("\"string\"") ",\"field-id\":143}"
        "]},\"field-id\":2}]}";

const char ice_manifest_file_schema[] =
        "{\"type\":\"record\",\"name\":\"manifest_file\",\"fields\":["
        "{\"name\":\"manifest_path\",\"type\":\"string\",\"field-id\":500},"
        "{\"name\":\"manifest_length\",\"type\":\"long\",\"field-id\":501},"
        "{\"name\":\"partition_spec_id\",\"type\":\"int\",\"field-id\":502},"
        "{\"name\":\"content\",\"type\":\"int\",\"field-id\":517},"
        "{\"name\":\"sequence_number\",\"type\":\"long\",\"field-id\":515},"
        "{\"name\":\"min_sequence_number\",\"type\":\"long\",\"field-id\":516},"
        "{\"name\":\"added_snapshot_id\",\"type\":\"long\",\"field-id\":503},"
        "{\"name\":\"added_files_count\",\"type\":\"int\",\"field-id\":504},"
        "{\"name\":\"existing_files_count\",\"type\":\"int\",\"field-id\":505},"
        "{\"name\":\"deleted_files_count\",\"type\":\"int\",\"field-id\":506},"
        "{\"name\":\"added_rows_count\",\"type\":\"long\",\"field-id\":512},"
        "{\"name\":\"existing_rows_count\",\"type\":\"long\",\"field-id\":513},"
        "{\"name\":\"deleted_rows_count\",\"type\":\"long\",\"field-id\":514},"
        "{\"name\":\"partitions\",\"type\":" OPT(
          "{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"r508\",\"fields\":["
            "{\"name\":\"contains_null\",\"type\":\"boolean\",\"field-id\":509},"
            "{\"name\":\"contains_nan\",\"type\":" OPT("\"boolean\"") ",\"field-id\":518},"
            "{\"name\":\"lower_bound\",\"type\":" OPT("\"bytes\"") ",\"field-id\":510},"
            "{\"name\":\"upper_bound\",\"type\":" OPT("\"bytes\"") ",\"field-id\":511}"
          "]},\"element-id\":508}") ",\"field-id\":507},"
        "{\"name\":\"key_metadata\",\"type\":" OPT("\"bytes\"") ",\"field-id\":519}"
        "]}";

/* clang-format on */

/* ---- reader memory -------------------------------------------------------- */

/* Every allocation of a read manifest, freed together. */
struct arena_node {
        struct arena_node *next;
        void *ptr;
};

struct ice_manifest_arena {
        struct arena_node *head;
};

/* Hand a malloc'd pointer to the arena; on failure it is freed here. */
static void *arena_adopt(struct ice_manifest_arena *a, void *ptr)
{
        struct arena_node *n;

        if (!ptr)
                return NULL;
        n = malloc(sizeof(*n));
        if (!n) {
                free(ptr);
                return NULL;
        }
        n->ptr = ptr;
        n->next = a->head;
        a->head = n;
        return ptr;
}

static void arena_free(struct ice_manifest_arena *a)
{
        if (!a)
                return;
        while (a->head) {
                struct arena_node *n = a->head;

                a->head = n->next;
                free(n->ptr);
                free(n);
        }
        free(a);
}

static int nomem(struct zetl_err *err)
{
        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "manifest: out of memory");
}

/* ---- encoding helpers ----------------------------------------------------- */

static void put_opt_long(struct ice_avro_buf *b, bool has, int64_t v)
{
        ice_avro_put_union(b, has ? 1 : 0);
        if (has)
                ice_avro_put_long(b, v);
}

static void put_id_longs(struct ice_avro_buf *b, const struct ice_id_long *a, size_t n)
{
        ice_avro_put_union(b, n ? 1 : 0);
        if (!n)
                return;
        ice_avro_put_block(b, n);
        for (size_t i = 0; i < n; i++) {
                ice_avro_put_int(b, a[i].id);
                ice_avro_put_long(b, a[i].value);
        }
        ice_avro_put_block_end(b);
}

static void put_id_bytes(struct ice_avro_buf *b, const struct ice_id_bytes *a, size_t n)
{
        ice_avro_put_union(b, n ? 1 : 0);
        if (!n)
                return;
        ice_avro_put_block(b, n);
        for (size_t i = 0; i < n; i++) {
                ice_avro_put_int(b, a[i].id);
                ice_avro_put_bytes(b, a[i].data, a[i].len);
        }
        ice_avro_put_block_end(b);
}

static int check_entry(const struct ice_manifest *m, size_t i, struct zetl_err *err)
{
        const struct ice_manifest_entry *e = &m->entries[i];
        const struct ice_data_file *f = &e->file;
        bool deletes = f->content != ICE_CONTENT_DATA;

        if (e->status < ICE_STATUS_EXISTING || e->status > ICE_STATUS_DELETED)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "manifest entry %zu: bad status %d", i, (int)e->status);
        if (f->content < ICE_CONTENT_DATA || f->content > ICE_CONTENT_EQUALITY_DELETES)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "manifest entry %zu: bad content %d", i, (int)f->content);
        if (deletes != (m->content == ICE_MANIFEST_DELETES))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "manifest entry %zu: a %s file in a %s manifest", i,
                                    deletes ? "delete" : "data", deletes ? "data" : "deletes");
        if (!f->file_path || !*f->file_path)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "manifest entry %zu: no file_path", i);
        if (f->record_count < 0 || f->file_size_in_bytes < 0)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "manifest entry %zu: negative record count or size", i);
        /* Only ADDED entries may inherit; anything else must say its numbers. */
        if (e->status != ICE_STATUS_ADDED &&
            (!e->has_snapshot_id || !e->has_sequence_number || !e->has_file_sequence_number))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "manifest entry %zu: an EXISTING or DELETED entry needs its "
                                    "snapshot id and sequence numbers",
                                    i);
        if ((f->content == ICE_CONTENT_EQUALITY_DELETES) != (f->n_equality_ids > 0))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "manifest entry %zu: equality_ids are required for equality "
                                    "deletes and only for them",
                                    i);
        return 0;
}

static void put_entry(struct ice_avro_buf *b, const struct ice_manifest_entry *e)
{
        const struct ice_data_file *f = &e->file;

        ice_avro_put_int(b, e->status);
        put_opt_long(b, e->has_snapshot_id, e->snapshot_id);
        put_opt_long(b, e->has_sequence_number, e->sequence_number);
        put_opt_long(b, e->has_file_sequence_number, e->file_sequence_number);
        ice_avro_put_int(b, f->content);
        ice_avro_put_string(b, f->file_path);
        ice_avro_put_string(b, f->file_format ? f->file_format : "PARQUET");
        /* partition: an empty record encodes as nothing */
        ice_avro_put_long(b, f->record_count);
        ice_avro_put_long(b, f->file_size_in_bytes);
        put_id_longs(b, f->column_sizes, f->n_column_sizes);
        put_id_longs(b, f->value_counts, f->n_value_counts);
        put_id_longs(b, f->null_value_counts, f->n_null_value_counts);
        put_id_longs(b, f->nan_value_counts, f->n_nan_value_counts);
        put_id_bytes(b, f->lower_bounds, f->n_lower_bounds);
        put_id_bytes(b, f->upper_bounds, f->n_upper_bounds);
        ice_avro_put_union(b, 0); /* key_metadata */
        ice_avro_put_union(b, f->n_split_offsets ? 1 : 0);
        if (f->n_split_offsets) {
                ice_avro_put_block(b, f->n_split_offsets);
                for (size_t i = 0; i < f->n_split_offsets; i++)
                        ice_avro_put_long(b, f->split_offsets[i]);
                ice_avro_put_block_end(b);
        }
        ice_avro_put_union(b, f->n_equality_ids ? 1 : 0);
        if (f->n_equality_ids) {
                ice_avro_put_block(b, f->n_equality_ids);
                for (size_t i = 0; i < f->n_equality_ids; i++)
                        ice_avro_put_int(b, f->equality_ids[i]);
                ice_avro_put_block_end(b);
        }
        put_opt_long(b, f->has_sort_order_id, f->sort_order_id);
        ice_avro_put_union(b, f->referenced_data_file ? 1 : 0);
        if (f->referenced_data_file)
                ice_avro_put_string(b, f->referenced_data_file);
}

static int check_file(const struct ice_manifest_file *f, size_t i, struct zetl_err *err)
{
        if (!f->manifest_path || !*f->manifest_path)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "manifest list entry %zu: no manifest_path", i);
        if (f->content != ICE_MANIFEST_DATA && f->content != ICE_MANIFEST_DELETES)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "manifest list entry %zu: bad content %d", i, (int)f->content);
        if (f->manifest_length < 0 || f->added_files_count < 0 || f->existing_files_count < 0 ||
            f->deleted_files_count < 0 || f->added_rows_count < 0 || f->existing_rows_count < 0 ||
            f->deleted_rows_count < 0)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "manifest list entry %zu: negative length or count", i);
        return 0;
}

static void put_file(struct ice_avro_buf *b, const struct ice_manifest_file *f)
{
        ice_avro_put_string(b, f->manifest_path);
        ice_avro_put_long(b, f->manifest_length);
        ice_avro_put_int(b, f->partition_spec_id);
        ice_avro_put_int(b, f->content);
        ice_avro_put_long(b, f->sequence_number);
        ice_avro_put_long(b, f->min_sequence_number);
        ice_avro_put_long(b, f->added_snapshot_id);
        ice_avro_put_int(b, f->added_files_count);
        ice_avro_put_int(b, f->existing_files_count);
        ice_avro_put_int(b, f->deleted_files_count);
        ice_avro_put_long(b, f->added_rows_count);
        ice_avro_put_long(b, f->existing_rows_count);
        ice_avro_put_long(b, f->deleted_rows_count);
        /* partitions: an empty list (unpartitioned), key_metadata: null */
        ice_avro_put_union(b, 1);
        ice_avro_put_block_end(b);
        ice_avro_put_union(b, 0);
}

/* ---- writing -------------------------------------------------------------- */

/* What a manifest or a manifest list has in common for the container. */
struct records {
        const void *items;
        size_t n;
        size_t size;
        void (*put)(struct ice_avro_buf *b, const void *item);
};

static void put_entry_cb(struct ice_avro_buf *b, const void *item)
{
        put_entry(b, item);
}

static void put_file_cb(struct ice_avro_buf *b, const void *item)
{
        put_file(b, item);
}

/* Open (path or memory), append every record, finish. */
static int write_container(const char *path, const struct ice_avro_writer_opts *o,
                           const struct records *r, int64_t *length, uint8_t **data, size_t *len,
                           struct zetl_err *err)
{
        struct ice_avro_writer *w = NULL;
        struct ice_avro_buf rec;
        uint64_t flen = 0;
        int rc;

        ice_avro_buf_init(&rec, ICE_AVRO_MAX_BLOCK);
        rc = path ? ice_avro_writer_open(path, o, &w, err) : ice_avro_writer_open_mem(o, &w, err);
        if (rc)
                goto out_rec;
        for (size_t i = 0; i < r->n; i++) {
                ice_avro_buf_reset(&rec);
                r->put(&rec, (const char *)r->items + i * r->size);
                if (rec.status) {
                        rc = zetl_err_set(
                                err, rec.status, ZETL_ERRC_FATAL, "manifest: record %zu: %s", i,
                                rec.status == ZETL_ENOMEM ? "out of memory" : "too large");
                        goto out_abort;
                }
                rc = ice_avro_writer_append(w, rec.data, rec.len, err);
                if (rc)
                        goto out_abort;
        }
        if (path) {
                rc = ice_avro_writer_close(w, &flen, err);
                if (rc == 0 && length)
                        *length = (int64_t)flen;
        } else {
                rc = ice_avro_writer_finish_mem(w, data, len, err);
        }
        goto out_rec;
out_abort:
        ice_avro_writer_abort(w);
out_rec:
        ice_avro_buf_free(&rec);
        return rc;
}

static int manifest_emit(const char *path, const struct ice_manifest *m, enum ice_avro_codec codec,
                         int64_t *length, uint8_t **data, size_t *len, struct zetl_err *err)
{
        char schema_id[16];
        struct ice_avro_meta meta[6];
        struct ice_avro_writer_opts o = { 0 };
        struct records r = { m->entries, m->n_entries, sizeof(*m->entries), put_entry_cb };
        int rc;

        if (!m->schema_json || !*m->schema_json)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "manifest: no table schema");
        if (m->content != ICE_MANIFEST_DATA && m->content != ICE_MANIFEST_DELETES)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "manifest: bad content %d",
                                    (int)m->content);
        for (size_t i = 0; i < m->n_entries; i++) {
                rc = check_entry(m, i, err);
                if (rc)
                        return rc;
        }
        snprintf(schema_id, sizeof(schema_id), "%" PRId32, m->schema_id);
        meta[0] = (struct ice_avro_meta){ "schema", m->schema_json };
        meta[1] = (struct ice_avro_meta){ "schema-id", schema_id };
        meta[2] = (struct ice_avro_meta){ "partition-spec", "[]" };
        meta[3] = (struct ice_avro_meta){ "partition-spec-id", "0" };
        meta[4] = (struct ice_avro_meta){ "format-version", "2" };
        meta[5] = (struct ice_avro_meta){ "content",
                                          m->content == ICE_MANIFEST_DELETES ? "deletes" : "data" };
        o.schema = ice_manifest_entry_schema;
        o.codec = codec;
        o.meta = meta;
        o.nmeta = 6;
        return write_container(path, &o, &r, length, data, len, err);
}

int ice_manifest_write(const char *path, const struct ice_manifest *m, enum ice_avro_codec codec,
                       int64_t *length, struct zetl_err *err)
{
        return manifest_emit(path, m, codec, length, NULL, NULL, err);
}

int ice_manifest_encode(const struct ice_manifest *m, enum ice_avro_codec codec, uint8_t **data,
                        size_t *len, struct zetl_err *err)
{
        *data = NULL;
        *len = 0;
        return manifest_emit(NULL, m, codec, NULL, data, len, err);
}

static int list_emit(const char *path, const struct ice_manifest_list *l, enum ice_avro_codec codec,
                     int64_t *length, uint8_t **data, size_t *len, struct zetl_err *err)
{
        char sid[24], parent[24], seq[24];
        struct ice_avro_meta meta[4];
        struct ice_avro_writer_opts o = { 0 };
        struct records r = { l->files, l->n_files, sizeof(*l->files), put_file_cb };
        int rc;

        for (size_t i = 0; i < l->n_files; i++) {
                rc = check_file(&l->files[i], i, err);
                if (rc)
                        return rc;
        }
        snprintf(sid, sizeof(sid), "%" PRId64, l->snapshot_id);
        /* Written as "null" without a parent, as the reference implementation does. */
        if (l->has_parent_snapshot_id)
                snprintf(parent, sizeof(parent), "%" PRId64, l->parent_snapshot_id);
        else
                snprintf(parent, sizeof(parent), "null");
        snprintf(seq, sizeof(seq), "%" PRId64, l->sequence_number);
        meta[0] = (struct ice_avro_meta){ "snapshot-id", sid };
        meta[1] = (struct ice_avro_meta){ "parent-snapshot-id", parent };
        meta[2] = (struct ice_avro_meta){ "sequence-number", seq };
        meta[3] = (struct ice_avro_meta){ "format-version", "2" };
        o.schema = ice_manifest_file_schema;
        o.codec = codec;
        o.meta = meta;
        o.nmeta = 4;
        return write_container(path, &o, &r, length, data, len, err);
}

int ice_manifest_list_write(const char *path, const struct ice_manifest_list *l,
                            enum ice_avro_codec codec, int64_t *length, struct zetl_err *err)
{
        return list_emit(path, l, codec, length, NULL, NULL, err);
}

int ice_manifest_list_encode(const struct ice_manifest_list *l, enum ice_avro_codec codec,
                             uint8_t **data, size_t *len, struct zetl_err *err)
{
        *data = NULL;
        *len = 0;
        return list_emit(NULL, l, codec, NULL, data, len, err);
}

/* ---- decoding helpers ----------------------------------------------------- */

static int get_opt_long(struct ice_avro_cur *c, bool *has, int64_t *v, struct zetl_err *err)
{
        int branch, rc = ice_avro_get_union(c, 2, &branch, err);

        *has = false;
        *v = 0;
        if (rc || branch == 0)
                return rc;
        *has = true;
        return ice_avro_get_long(c, v, err);
}

static int get_string(struct ice_avro_cur *c, struct ice_manifest_arena *a, const char **out,
                      struct zetl_err *err)
{
        const uint8_t *p;
        size_t n;
        char *s;
        int rc = ice_avro_get_bytes(c, &p, &n, err);

        if (rc)
                return rc;
        if (memchr(p, '\0', n))
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "manifest: a string holds a NUL byte at byte %zu", c->pos - n);
        s = malloc(n + 1);
        if (s) {
                memcpy(s, p, n);
                s[n] = '\0';
        }
        *out = arena_adopt(a, s);
        return *out ? 0 : nomem(err);
}

/* Grow a malloc'd array of size-byte items to hold want items. */
static int grow(void **arr, size_t *cap, size_t want, size_t size, struct zetl_err *err)
{
        size_t ncap;
        void *na;

        if (want <= *cap)
                return 0;
        ncap = *cap ? *cap : 4;
        while (ncap < want)
                ncap *= 2;
        if (ncap > SIZE_MAX / size)
                return nomem(err);
        na = realloc(*arr, ncap * size);
        if (!na)
                return nomem(err);
        *arr = na;
        *cap = ncap;
        return 0;
}

enum item_kind { ITEM_ID_LONG, ITEM_ID_BYTES, ITEM_LONG, ITEM_INT };

static const size_t item_size[] = {
        [ITEM_ID_LONG] = sizeof(struct ice_id_long),
        [ITEM_ID_BYTES] = sizeof(struct ice_id_bytes),
        [ITEM_LONG] = sizeof(int64_t),
        [ITEM_INT] = sizeof(int32_t),
};

static int get_item(struct ice_avro_cur *c, struct ice_manifest_arena *a, enum item_kind kind,
                    void *item, struct zetl_err *err)
{
        struct ice_id_long *il = item;
        struct ice_id_bytes *ib = item;
        const uint8_t *p;
        uint8_t *copy;
        int rc;

        switch (kind) {
        case ITEM_ID_LONG:
                rc = ice_avro_get_int(c, &il->id, err);
                return rc ? rc : ice_avro_get_long(c, &il->value, err);
        case ITEM_ID_BYTES:
                rc = ice_avro_get_int(c, &ib->id, err);
                if (rc == 0)
                        rc = ice_avro_get_bytes(c, &p, &ib->len, err);
                if (rc)
                        return rc;
                copy = malloc(ib->len ? ib->len : 1);
                if (copy && ib->len)
                        memcpy(copy, p, ib->len);
                ib->data = arena_adopt(a, copy);
                return ib->data ? 0 : nomem(err);
        case ITEM_LONG:
                return ice_avro_get_long(c, item, err);
        case ITEM_INT:
                return ice_avro_get_int(c, item, err);
        }
        return ZETL_EINVAL;
}

/* An optional array (a map as array, or a list) into an arena-owned array. */
static int get_opt_array(struct ice_avro_cur *c, struct ice_manifest_arena *a, enum item_kind kind,
                         const void **out, size_t *n, struct zetl_err *err)
{
        size_t size = item_size[kind], cap = 0;
        void *arr = NULL;
        int branch, rc;

        *out = NULL;
        *n = 0;
        rc = ice_avro_get_union(c, 2, &branch, err);
        if (rc || branch == 0)
                return rc;
        for (;;) {
                int64_t count;

                rc = ice_avro_get_block(c, &count, err);
                if (rc)
                        goto out_free;
                if (count == 0)
                        break;
                rc = grow(&arr, &cap, *n + (size_t)count, size, err);
                if (rc)
                        goto out_free;
                for (int64_t i = 0; i < count; i++) {
                        rc = get_item(c, a, kind, (char *)arr + *n * size, err);
                        if (rc)
                                goto out_free;
                        (*n)++;
                }
        }
        if (*n == 0) {
                free(arr);
                return 0;
        }
        *out = arena_adopt(a, arr);
        return *out ? 0 : nomem(err);
out_free:
        free(arr);
        *n = 0;
        return rc;
}

static int get_entry(struct ice_avro_cur *c, struct ice_manifest_arena *a,
                     struct ice_manifest_entry *e, struct zetl_err *err)
{
        struct ice_data_file *f = &e->file;
        const void *arr;
        const uint8_t *p;
        size_t n;
        int branch, rc;

        memset(e, 0, sizeof(*e));
        if ((rc = ice_avro_get_int(c, &e->status, err)) ||
            (rc = get_opt_long(c, &e->has_snapshot_id, &e->snapshot_id, err)) ||
            (rc = get_opt_long(c, &e->has_sequence_number, &e->sequence_number, err)) ||
            (rc = get_opt_long(c, &e->has_file_sequence_number, &e->file_sequence_number, err)) ||
            (rc = ice_avro_get_int(c, &f->content, err)) ||
            (rc = get_string(c, a, &f->file_path, err)) ||
            (rc = get_string(c, a, &f->file_format, err)) ||
            (rc = ice_avro_get_long(c, &f->record_count, err)) ||
            (rc = ice_avro_get_long(c, &f->file_size_in_bytes, err)))
                return rc;
#define ARRAY(kind, field)                                                                         \
        do {                                                                                       \
                rc = get_opt_array(c, a, kind, &arr, &n, err);                                     \
                if (rc)                                                                            \
                        return rc;                                                                 \
                f->field = arr;                                                                    \
                f->n_##field = n;                                                                  \
        } while (0)
        ARRAY(ITEM_ID_LONG, column_sizes);
        ARRAY(ITEM_ID_LONG, value_counts);
        ARRAY(ITEM_ID_LONG, null_value_counts);
        ARRAY(ITEM_ID_LONG, nan_value_counts);
        ARRAY(ITEM_ID_BYTES, lower_bounds);
        ARRAY(ITEM_ID_BYTES, upper_bounds);
        /* key_metadata: zetl writes null; skipped if present */
        rc = ice_avro_get_union(c, 2, &branch, err);
        if (rc == 0 && branch == 1)
                rc = ice_avro_get_bytes(c, &p, &n, err);
        if (rc)
                return rc;
        ARRAY(ITEM_LONG, split_offsets);
        ARRAY(ITEM_INT, equality_ids);
#undef ARRAY
        rc = ice_avro_get_union(c, 2, &branch, err);
        if (rc == 0 && branch == 1) {
                f->has_sort_order_id = true;
                rc = ice_avro_get_int(c, &f->sort_order_id, err);
        }
        if (rc == 0)
                rc = ice_avro_get_union(c, 2, &branch, err);
        if (rc == 0 && branch == 1)
                rc = get_string(c, a, &f->referenced_data_file, err);
        return rc;
}

static int get_file(struct ice_avro_cur *c, struct ice_manifest_arena *a,
                    struct ice_manifest_file *f, struct zetl_err *err)
{
        const uint8_t *p;
        size_t n;
        int branch, rc;

        memset(f, 0, sizeof(*f));
        if ((rc = get_string(c, a, &f->manifest_path, err)) ||
            (rc = ice_avro_get_long(c, &f->manifest_length, err)) ||
            (rc = ice_avro_get_int(c, &f->partition_spec_id, err)) ||
            (rc = ice_avro_get_int(c, &f->content, err)) ||
            (rc = ice_avro_get_long(c, &f->sequence_number, err)) ||
            (rc = ice_avro_get_long(c, &f->min_sequence_number, err)) ||
            (rc = ice_avro_get_long(c, &f->added_snapshot_id, err)) ||
            (rc = ice_avro_get_int(c, &f->added_files_count, err)) ||
            (rc = ice_avro_get_int(c, &f->existing_files_count, err)) ||
            (rc = ice_avro_get_int(c, &f->deleted_files_count, err)) ||
            (rc = ice_avro_get_long(c, &f->added_rows_count, err)) ||
            (rc = ice_avro_get_long(c, &f->existing_rows_count, err)) ||
            (rc = ice_avro_get_long(c, &f->deleted_rows_count, err)) ||
            (rc = ice_avro_get_union(c, 2, &branch, err)))
                return rc;
        /* Partition summaries: zetl writes none; any present are checked and skipped. */
        while (branch == 1) {
                int64_t count;

                rc = ice_avro_get_block(c, &count, err);
                if (rc || count == 0)
                        break;
                for (int64_t i = 0; i < count && rc == 0; i++) {
                        bool b;
                        int br;

                        rc = ice_avro_get_bool(c, &b, err);
                        if (rc == 0)
                                rc = ice_avro_get_union(c, 2, &br, err);
                        if (rc == 0 && br == 1)
                                rc = ice_avro_get_bool(c, &b, err);
                        for (int k = 0; k < 2 && rc == 0; k++) {
                                rc = ice_avro_get_union(c, 2, &br, err);
                                if (rc == 0 && br == 1)
                                        rc = ice_avro_get_bytes(c, &p, &n, err);
                        }
                }
                if (rc)
                        break;
        }
        if (rc)
                return rc;
        rc = ice_avro_get_union(c, 2, &branch, err);
        if (rc == 0 && branch == 1)
                rc = ice_avro_get_bytes(c, &p, &n, err);
        return rc;
}

/* ---- reading -------------------------------------------------------------- */

static int parse_i64(const char *s, int64_t *v)
{
        char *end;
        long long x;

        if (!s || !*s)
                return -1;
        errno = 0;
        x = strtoll(s, &end, 10);
        if (errno || *end)
                return -1;
        *v = x;
        return 0;
}

/* Open a container and check it is one of ours with the given schema. */
static int open_ours(const uint8_t *data, size_t len, const char *schema, const char *what,
                     struct ice_avro_file **out, struct zetl_err *err)
{
        const char *v;
        int rc = ice_avro_file_open(data, len, out, err);

        if (rc)
                return zetl_err_prefix(err, "%s: ", what);
        if (strcmp(ice_avro_file_meta(*out, "avro.schema", NULL), schema) != 0) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "%s: not written by zetl (its Avro schema differs)", what);
                goto out_close;
        }
        v = ice_avro_file_meta(*out, "format-version", NULL);
        if (!v || strcmp(v, "2") != 0) {
                rc = zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_FATAL,
                                  "%s: format-version %.16s, not 2", what, v ? v : "missing");
                goto out_close;
        }
        return 0;
out_close:
        ice_avro_file_free(*out);
        *out = NULL;
        return rc;
}

/* Decode every record of every block with get(), growing *items. */
static int read_records(struct ice_avro_file *af, struct ice_manifest_arena *a, size_t size,
                        int (*get)(struct ice_avro_cur *, struct ice_manifest_arena *, void *,
                                   struct zetl_err *),
                        void **items, size_t *n, const char *what, struct zetl_err *err)
{
        struct ice_avro_cur block;
        size_t cap = 0;
        int64_t count;
        int rc;

        while ((rc = ice_avro_file_next_block(af, &block, &count, err)) == 1) {
                for (int64_t i = 0; i < count; i++) {
                        rc = grow(items, &cap, *n + 1, size, err);
                        if (rc)
                                return rc;
                        rc = get(&block, a, (char *)*items + *n * size, err);
                        if (rc)
                                return zetl_err_prefix(err, "%s record %zu: ", what, *n);
                        (*n)++;
                }
                if (block.pos != block.len)
                        return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                            "%s: %zu bytes left over after a block's %lld "
                                            "records",
                                            what, block.len - block.pos, (long long)count);
        }
        return rc < 0 ? zetl_err_prefix(err, "%s: ", what) : 0;
}

static int get_entry_cb(struct ice_avro_cur *c, struct ice_manifest_arena *a, void *item,
                        struct zetl_err *err)
{
        struct ice_manifest_entry *e = item;
        int rc = get_entry(c, a, e, err);

        if (rc)
                return rc;
        if (e->status < ICE_STATUS_EXISTING || e->status > ICE_STATUS_DELETED ||
            e->file.content < ICE_CONTENT_DATA || e->file.content > ICE_CONTENT_EQUALITY_DELETES)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "bad status %d or content %d", (int)e->status,
                                    (int)e->file.content);
        return 0;
}

static int get_file_cb(struct ice_avro_cur *c, struct ice_manifest_arena *a, void *item,
                       struct zetl_err *err)
{
        struct ice_manifest_file *f = item;
        int rc = get_file(c, a, f, err);

        if (rc)
                return rc;
        if (f->content != ICE_MANIFEST_DATA && f->content != ICE_MANIFEST_DELETES)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL, "bad content %d",
                                    (int)f->content);
        return 0;
}

int ice_manifest_decode(const uint8_t *data, size_t len, struct ice_manifest **out,
                        struct zetl_err *err)
{
        struct ice_avro_file *af = NULL;
        struct ice_manifest *m;
        const char *v;
        void *items = NULL;
        int64_t id;
        int rc;

        *out = NULL;
        m = calloc(1, sizeof(*m));
        if (!m || !(m->arena = calloc(1, sizeof(*m->arena)))) {
                free(m);
                return nomem(err);
        }
        rc = open_ours(data, len, ice_manifest_entry_schema, "manifest", &af, err);
        if (rc)
                goto out_free;
        v = ice_avro_file_meta(af, "content", NULL);
        if (v && strcmp(v, "data") == 0) {
                m->content = ICE_MANIFEST_DATA;
        } else if (v && strcmp(v, "deletes") == 0) {
                m->content = ICE_MANIFEST_DELETES;
        } else {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "manifest: header content is not \"data\" or \"deletes\"");
                goto out_free;
        }
        if (parse_i64(ice_avro_file_meta(af, "schema-id", NULL), &id) || id < INT32_MIN ||
            id > INT32_MAX) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "manifest: header schema-id missing or not a number");
                goto out_free;
        }
        m->schema_id = (int32_t)id;
        v = ice_avro_file_meta(af, "schema", NULL);
        if (!v) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "manifest: header has no schema");
                goto out_free;
        }
        m->schema_json = arena_adopt(m->arena, strdup(v));
        if (!m->schema_json) {
                rc = nomem(err);
                goto out_free;
        }
        rc = read_records(af, m->arena, sizeof(*m->entries), get_entry_cb, &items, &m->n_entries,
                          "manifest", err);
        m->entries = items;
        if (rc)
                goto out_free;
        ice_avro_file_free(af);
        *out = m;
        return 0;
out_free:
        ice_avro_file_free(af);
        ice_manifest_free(m);
        return rc;
}

int ice_manifest_list_decode(const uint8_t *data, size_t len, struct ice_manifest_list **out,
                             struct zetl_err *err)
{
        struct ice_avro_file *af = NULL;
        struct ice_manifest_list *l;
        const char *v;
        void *items = NULL;
        int rc;

        *out = NULL;
        l = calloc(1, sizeof(*l));
        if (!l || !(l->arena = calloc(1, sizeof(*l->arena)))) {
                free(l);
                return nomem(err);
        }
        rc = open_ours(data, len, ice_manifest_file_schema, "manifest list", &af, err);
        if (rc)
                goto out_free;
        v = ice_avro_file_meta(af, "parent-snapshot-id", NULL);
        if (parse_i64(ice_avro_file_meta(af, "snapshot-id", NULL), &l->snapshot_id) ||
            parse_i64(ice_avro_file_meta(af, "sequence-number", NULL), &l->sequence_number) || !v ||
            (strcmp(v, "null") != 0 && parse_i64(v, &l->parent_snapshot_id) != 0)) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "manifest list: header snapshot-id, parent-snapshot-id or "
                                  "sequence-number missing or not a number");
                goto out_free;
        }
        l->has_parent_snapshot_id = strcmp(v, "null") != 0;
        rc = read_records(af, l->arena, sizeof(*l->files), get_file_cb, &items, &l->n_files,
                          "manifest list", err);
        l->files = items;
        if (rc)
                goto out_free;
        ice_avro_file_free(af);
        *out = l;
        return 0;
out_free:
        ice_avro_file_free(af);
        ice_manifest_list_free(l);
        return rc;
}

static int read_whole(const char *path, char **buf, size_t *len, struct zetl_err *err)
{
        return zetl_file_read(path, ICE_MANIFEST_MAX_FILE, buf, len, err);
}

int ice_manifest_read(const char *path, struct ice_manifest **out, struct zetl_err *err)
{
        char *buf;
        size_t len;
        int rc;

        *out = NULL;
        rc = read_whole(path, &buf, &len, err);
        if (rc)
                return rc;
        rc = ice_manifest_decode((const uint8_t *)buf, len, out, err);
        if (rc)
                zetl_err_prefix(err, "%s: ", path);
        free(buf);
        return rc;
}

int ice_manifest_list_read(const char *path, struct ice_manifest_list **out, struct zetl_err *err)
{
        char *buf;
        size_t len;
        int rc;

        *out = NULL;
        rc = read_whole(path, &buf, &len, err);
        if (rc)
                return rc;
        rc = ice_manifest_list_decode((const uint8_t *)buf, len, out, err);
        if (rc)
                zetl_err_prefix(err, "%s: ", path);
        free(buf);
        return rc;
}

void ice_manifest_free(struct ice_manifest *m)
{
        if (!m)
                return;
        free(m->entries);
        arena_free(m->arena);
        free(m);
}

void ice_manifest_list_free(struct ice_manifest_list *l)
{
        if (!l)
                return;
        free(l->files);
        arena_free(l->arena);
        free(l);
}

int ice_data_file_from_parquet(const struct pq_file_metrics *m, int32_t content, const char *path,
                               struct ice_file_lists *a, struct ice_data_file *out)
{
        size_t n = (size_t)m->ncols + 1, nnans = 0, nlower = 0, nupper = 0;

        memset(a, 0, sizeof(*a));
        a->sizes = calloc(n, sizeof(*a->sizes));
        a->values = calloc(n, sizeof(*a->values));
        a->nulls = calloc(n, sizeof(*a->nulls));
        a->nans = calloc(n, sizeof(*a->nans));
        a->lower = calloc(n, sizeof(*a->lower));
        a->upper = calloc(n, sizeof(*a->upper));
        if (!a->sizes || !a->values || !a->nulls || !a->nans || !a->lower || !a->upper)
                return ZETL_ENOMEM;
        for (int i = 0; i < m->ncols; i++) {
                const struct pq_col_metrics *col = &m->cols[i];
                a->sizes[i] = (struct ice_id_long){ col->field_id, col->column_size };
                a->values[i] = (struct ice_id_long){ col->field_id, col->value_count };
                a->nulls[i] = (struct ice_id_long){ col->field_id, col->null_count };
                if (col->nan_count >= 0)
                        a->nans[nnans++] = (struct ice_id_long){ col->field_id, col->nan_count };
                if (col->has_lower)
                        a->lower[nlower++] =
                                (struct ice_id_bytes){ col->field_id, col->lower, col->lower_len };
                if (col->has_upper)
                        a->upper[nupper++] =
                                (struct ice_id_bytes){ col->field_id, col->upper, col->upper_len };
        }
        *out = (struct ice_data_file){
                .content = content,
                .file_path = path,
                .record_count = m->record_count,
                .file_size_in_bytes = (int64_t)m->file_size,
                .column_sizes = a->sizes,
                .n_column_sizes = (size_t)m->ncols,
                .value_counts = a->values,
                .n_value_counts = (size_t)m->ncols,
                .null_value_counts = a->nulls,
                .n_null_value_counts = (size_t)m->ncols,
                .nan_value_counts = a->nans,
                .n_nan_value_counts = nnans,
                .lower_bounds = a->lower,
                .n_lower_bounds = nlower,
                .upper_bounds = a->upper,
                .n_upper_bounds = nupper,
                .split_offsets = m->split_offsets,
                .n_split_offsets = (size_t)m->nsplits,
        };
        return 0;
}

void ice_file_lists_free(struct ice_file_lists *a)
{
        free(a->sizes);
        free(a->values);
        free(a->nulls);
        free(a->nans);
        free(a->lower);
        free(a->upper);
}
