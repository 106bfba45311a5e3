/*
 * Tests of connectors/iceberg/manifest.c: the Avro schemas against the
 * Iceberg v2 spec's field ids, record bytes derived by hand from those
 * schemas, header keys, round trips through our reader, the writer's
 * validation, exclusive file creation, and corrupted files rejected.
 *
 * With ZETL_AVRO_INTEROP_DIR set, main() instead writes a data manifest, a
 * delete manifest, a manifest list and expect.json (built from the same C
 * inputs) into that directory for tests/interop/read_avro.mjs (avsc).
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../connectors/iceberg/manifest.h"

#define TABLE_SCHEMA                                                                               \
        "{\"type\":\"struct\",\"schema-id\":3,\"fields\":[{\"id\":1,\"name\":\"id\",\"required\":" \
        "true,\"type\":\"long\"},{\"id\":2,\"name\":\"name\",\"required\":false,\"type\":"         \
        "\"string\"},{\"id\":3,\"name\":\"score\",\"required\":false,\"type\":\"double\"}]}"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fixtures --------------------------------------------------------------- */

static const struct ice_id_long col_sizes[] = { { 1, 120 }, { 2, 4567 }, { 3, 80 } };
static const struct ice_id_long val_counts[] = { { 1, 10 }, { 2, 10 }, { 3, 10 } };
static const struct ice_id_long null_counts[] = { { 1, 0 }, { 2, 3 }, { 3, 1 } };
static const struct ice_id_long nan_counts[] = { { 3, 2 } };
static const uint8_t lo_id[8] = { 0x01 }; /* long 1, little-endian */
static const uint8_t hi_id[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }; /* max */
static const struct ice_id_bytes lower[] = { { 1, lo_id, 8 }, { 2, (const uint8_t *)"apple", 5 } };
static const struct ice_id_bytes upper[] = { { 1, hi_id, 8 },
                                             { 2, (const uint8_t *)"pe\xc3\xa4r", 5 } };
static const int64_t splits[] = { 4, 1048580 };
static const int32_t eq_ids[] = { 1 };

/* Three entries, one per status, with big longs (above 2^53) on purpose. */
static void data_manifest(struct ice_manifest *m, struct ice_manifest_entry e[3])
{
        memset(e, 0, 3 * sizeof(*e));
        e[0].status = ICE_STATUS_ADDED;
        e[0].has_snapshot_id = true;
        e[0].snapshot_id = 9007199254740991; /* 2^53 - 1 */
        e[0].has_sequence_number = true;
        e[0].sequence_number = 7;
        e[0].has_file_sequence_number = true;
        e[0].file_sequence_number = 7;
        e[0].file.content = ICE_CONTENT_DATA;
        e[0].file.file_path = "/warehouse/db/t/data/00000-1-a.parquet";
        e[0].file.record_count = 9007199254740993; /* 2^53 + 1: JS numbers cannot hold it */
        e[0].file.file_size_in_bytes = 4242;
        e[0].file.column_sizes = col_sizes;
        e[0].file.n_column_sizes = N_ELEMS(col_sizes);
        e[0].file.value_counts = val_counts;
        e[0].file.n_value_counts = N_ELEMS(val_counts);
        e[0].file.null_value_counts = null_counts;
        e[0].file.n_null_value_counts = N_ELEMS(null_counts);
        e[0].file.nan_value_counts = nan_counts;
        e[0].file.n_nan_value_counts = N_ELEMS(nan_counts);
        e[0].file.lower_bounds = lower;
        e[0].file.n_lower_bounds = N_ELEMS(lower);
        e[0].file.upper_bounds = upper;
        e[0].file.n_upper_bounds = N_ELEMS(upper);
        e[0].file.split_offsets = splits;
        e[0].file.n_split_offsets = N_ELEMS(splits);
        e[0].file.has_sort_order_id = true;
        e[0].file.sort_order_id = 0;

        /* ADDED, inheriting its numbers (written as null) */
        e[1].status = ICE_STATUS_ADDED;
        e[1].file.content = ICE_CONTENT_DATA;
        e[1].file.file_path = "/warehouse/db/t/data/00001-1-b.parquet";
        e[1].file.file_format = "PARQUET";
        e[1].file.record_count = 0;
        e[1].file.file_size_in_bytes = 1;

        e[2].status = ICE_STATUS_DELETED;
        e[2].has_snapshot_id = true;
        e[2].snapshot_id = 12;
        e[2].has_sequence_number = true;
        e[2].sequence_number = -1; /* negative longs survive too */
        e[2].has_file_sequence_number = true;
        e[2].file_sequence_number = INT64_MAX;
        e[2].file.content = ICE_CONTENT_DATA;
        e[2].file.file_path = "/warehouse/db/t/data/old.parquet";
        e[2].file.record_count = 5;
        e[2].file.file_size_in_bytes = 77;
        e[2].file.split_offsets = splits;
        e[2].file.n_split_offsets = 1;

        memset(m, 0, sizeof(*m));
        m->schema_json = TABLE_SCHEMA;
        m->schema_id = 3;
        m->content = ICE_MANIFEST_DATA;
        m->entries = e;
        m->n_entries = 3;
}

static void delete_manifest(struct ice_manifest *m, struct ice_manifest_entry e[2])
{
        memset(e, 0, 2 * sizeof(*e));
        e[0].status = ICE_STATUS_ADDED;
        e[0].has_snapshot_id = true;
        e[0].snapshot_id = 5;
        e[0].has_sequence_number = true;
        e[0].sequence_number = 8;
        e[0].has_file_sequence_number = true;
        e[0].file_sequence_number = 8;
        e[0].file.content = ICE_CONTENT_EQUALITY_DELETES;
        e[0].file.file_path = "/warehouse/db/t/data/eq-1.parquet";
        e[0].file.record_count = 2;
        e[0].file.file_size_in_bytes = 500;
        e[0].file.equality_ids = eq_ids;
        e[0].file.n_equality_ids = N_ELEMS(eq_ids);
        e[0].file.lower_bounds = lower;
        e[0].file.n_lower_bounds = 1;

        e[1].status = ICE_STATUS_EXISTING;
        e[1].has_snapshot_id = true;
        e[1].snapshot_id = 4;
        e[1].has_sequence_number = true;
        e[1].sequence_number = 6;
        e[1].has_file_sequence_number = true;
        e[1].file_sequence_number = 6;
        e[1].file.content = ICE_CONTENT_POSITION_DELETES;
        e[1].file.file_path = "/warehouse/db/t/data/pos-1.parquet";
        e[1].file.record_count = 1;
        e[1].file.file_size_in_bytes = 300;
        e[1].file.referenced_data_file = "/warehouse/db/t/data/00000-1-a.parquet";

        memset(m, 0, sizeof(*m));
        m->schema_json = TABLE_SCHEMA;
        m->schema_id = 3;
        m->content = ICE_MANIFEST_DELETES;
        m->entries = e;
        m->n_entries = 2;
}

static void manifest_list(struct ice_manifest_list *l, struct ice_manifest_file f[2])
{
        memset(f, 0, 2 * sizeof(*f));
        f[0] = (struct ice_manifest_file){ .manifest_path = "/warehouse/db/t/metadata/m1.avro",
                                           .manifest_length = 6543,
                                           .content = ICE_MANIFEST_DATA,
                                           .sequence_number = 8,
                                           .min_sequence_number = 7,
                                           .added_snapshot_id = 9007199254740991,
                                           .added_files_count = 2,
                                           .existing_files_count = 0,
                                           .deleted_files_count = 1,
                                           .added_rows_count = 9007199254740993,
                                           .existing_rows_count = 0,
                                           .deleted_rows_count = 5 };
        f[1] = (struct ice_manifest_file){ .manifest_path = "/warehouse/db/t/metadata/m2.avro",
                                           .manifest_length = 1234,
                                           .content = ICE_MANIFEST_DELETES,
                                           .sequence_number = 8,
                                           .min_sequence_number = 6,
                                           .added_snapshot_id = 5,
                                           .added_files_count = 1,
                                           .existing_files_count = 1,
                                           .deleted_files_count = 0,
                                           .added_rows_count = 2,
                                           .existing_rows_count = 1,
                                           .deleted_rows_count = 0 };
        memset(l, 0, sizeof(*l));
        l->snapshot_id = 9007199254740991;
        l->has_parent_snapshot_id = true;
        l->parent_snapshot_id = 4;
        l->sequence_number = 8;
        l->files = f;
        l->n_files = 2;
}

/* ---- comparisons -------------------------------------------------------------- */

static void assert_id_longs(const struct ice_id_long *a, size_t na, const struct ice_id_long *b,
                            size_t nb)
{
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++) {
                assert_int_equal(a[i].id, b[i].id);
                assert_true(a[i].value == b[i].value);
        }
}

static void assert_id_bytes(const struct ice_id_bytes *a, size_t na, const struct ice_id_bytes *b,
                            size_t nb)
{
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++) {
                assert_int_equal(a[i].id, b[i].id);
                assert_int_equal(a[i].len, b[i].len);
                assert_memory_equal(a[i].data, b[i].data, a[i].len);
        }
}

static void assert_opt_str(const char *a, const char *b)
{
        if (!a || !b)
                assert_true(a == b);
        else
                assert_string_equal(a, b);
}

static void assert_entry_equal(const struct ice_manifest_entry *a,
                               const struct ice_manifest_entry *b)
{
        const struct ice_data_file *fa = &a->file, *fb = &b->file;

        assert_int_equal(a->status, b->status);
        assert_int_equal(a->has_snapshot_id, b->has_snapshot_id);
        assert_true(a->snapshot_id == b->snapshot_id);
        assert_int_equal(a->has_sequence_number, b->has_sequence_number);
        assert_true(a->sequence_number == b->sequence_number);
        assert_int_equal(a->has_file_sequence_number, b->has_file_sequence_number);
        assert_true(a->file_sequence_number == b->file_sequence_number);
        assert_int_equal(fa->content, fb->content);
        assert_string_equal(fa->file_path, fb->file_path);
        assert_string_equal(fa->file_format ? fa->file_format : "PARQUET",
                            fb->file_format ? fb->file_format : "PARQUET");
        assert_true(fa->record_count == fb->record_count);
        assert_true(fa->file_size_in_bytes == fb->file_size_in_bytes);
        assert_id_longs(fa->column_sizes, fa->n_column_sizes, fb->column_sizes, fb->n_column_sizes);
        assert_id_longs(fa->value_counts, fa->n_value_counts, fb->value_counts, fb->n_value_counts);
        assert_id_longs(fa->null_value_counts, fa->n_null_value_counts, fb->null_value_counts,
                        fb->n_null_value_counts);
        assert_id_longs(fa->nan_value_counts, fa->n_nan_value_counts, fb->nan_value_counts,
                        fb->n_nan_value_counts);
        assert_id_bytes(fa->lower_bounds, fa->n_lower_bounds, fb->lower_bounds, fb->n_lower_bounds);
        assert_id_bytes(fa->upper_bounds, fa->n_upper_bounds, fb->upper_bounds, fb->n_upper_bounds);
        assert_int_equal(fa->n_split_offsets, fb->n_split_offsets);
        for (size_t i = 0; i < fa->n_split_offsets; i++)
                assert_true(fa->split_offsets[i] == fb->split_offsets[i]);
        assert_int_equal(fa->n_equality_ids, fb->n_equality_ids);
        for (size_t i = 0; i < fa->n_equality_ids; i++)
                assert_int_equal(fa->equality_ids[i], fb->equality_ids[i]);
        assert_int_equal(fa->has_sort_order_id, fb->has_sort_order_id);
        assert_int_equal(fa->sort_order_id, fb->sort_order_id);
        assert_opt_str(fa->referenced_data_file, fb->referenced_data_file);
}

static void assert_file_equal(const struct ice_manifest_file *a, const struct ice_manifest_file *b)
{
        assert_string_equal(a->manifest_path, b->manifest_path);
        assert_true(a->manifest_length == b->manifest_length);
        assert_int_equal(a->partition_spec_id, b->partition_spec_id);
        assert_int_equal(a->content, b->content);
        assert_true(a->sequence_number == b->sequence_number);
        assert_true(a->min_sequence_number == b->min_sequence_number);
        assert_true(a->added_snapshot_id == b->added_snapshot_id);
        assert_int_equal(a->added_files_count, b->added_files_count);
        assert_int_equal(a->existing_files_count, b->existing_files_count);
        assert_int_equal(a->deleted_files_count, b->deleted_files_count);
        assert_true(a->added_rows_count == b->added_rows_count);
        assert_true(a->existing_rows_count == b->existing_rows_count);
        assert_true(a->deleted_rows_count == b->deleted_rows_count);
}

/* ---- schema ------------------------------------------------------------------- */

struct want_field {
        const char *name;
        int id;
};

/* Iceberg spec v2, manifest_entry / data_file / manifest_file / field_summary. */
static const struct want_field entry_fields[] = {
        { "status", 0 },          { "snapshot_id", 1 },
        { "sequence_number", 3 }, { "file_sequence_number", 4 },
        { "data_file", 2 },
};
static const struct want_field data_file_fields[] = {
        { "content", 134 },
        { "file_path", 100 },
        { "file_format", 101 },
        { "partition", 102 },
        { "record_count", 103 },
        { "file_size_in_bytes", 104 },
        { "column_sizes", 108 },
        { "value_counts", 109 },
        { "null_value_counts", 110 },
        { "nan_value_counts", 137 },
        { "lower_bounds", 125 },
        { "upper_bounds", 128 },
        { "key_metadata", 131 },
        { "split_offsets", 132 },
        { "equality_ids", 135 },
        { "sort_order_id", 140 },
        { "referenced_data_file", 143 },
};
static const struct want_field list_fields[] = {
        { "manifest_path", 500 },        { "manifest_length", 501 },
        { "partition_spec_id", 502 },    { "content", 517 },
        { "sequence_number", 515 },      { "min_sequence_number", 516 },
        { "added_snapshot_id", 503 },    { "added_files_count", 504 },
        { "existing_files_count", 505 }, { "deleted_files_count", 506 },
        { "added_rows_count", 512 },     { "existing_rows_count", 513 },
        { "deleted_rows_count", 514 },   { "partitions", 507 },
        { "key_metadata", 519 },
};
static const struct want_field summary_fields[] = {
        { "contains_null", 509 },
        { "contains_nan", 518 },
        { "lower_bound", 510 },
        { "upper_bound", 511 },
};

/* Spec: optional fields are a union with null first and default null;
 * required ones are not unions. Returns the non-null type. */
static json_t *field_type(json_t *field, bool optional)
{
        json_t *t = json_object_get(field, "type");

        if (!json_is_array(t)) {
                assert_false(optional);
                return t;
        }
        assert_true(optional);
        assert_int_equal(json_array_size(t), 2);
        assert_string_equal(json_string_value(json_array_get(t, 0)), "null");
        assert_true(json_is_null(json_object_get(field, "default")));
        return json_array_get(t, 1);
}

static void check_fields(json_t *record, const struct want_field *want, size_t n,
                         const char *const *optional)
{
        json_t *fields = json_object_get(record, "fields");

        assert_string_equal(json_string_value(json_object_get(record, "type")), "record");
        assert_int_equal(json_array_size(fields), n);
        for (size_t i = 0; i < n; i++) {
                json_t *f = json_array_get(fields, i);
                bool opt = false;

                assert_string_equal(json_string_value(json_object_get(f, "name")), want[i].name);
                assert_int_equal(json_integer_value(json_object_get(f, "field-id")), want[i].id);
                for (const char *const *o = optional; *o; o++)
                        opt |= strcmp(*o, want[i].name) == 0;
                (void)field_type(f, opt);
        }
}

/* A map with int keys: array of records k<kid>_v<vid> with key/value field ids. */
static void check_id_map(json_t *record, const char *name, int kid, int vid, const char *vtype)
{
        json_t *fields = json_object_get(record, "fields"), *f = NULL, *arr, *items, *kv;
        char rec_name[32];

        for (size_t i = 0; i < json_array_size(fields); i++)
                if (strcmp(json_string_value(json_object_get(json_array_get(fields, i), "name")),
                           name) == 0)
                        f = json_array_get(fields, i);
        assert_non_null(f);
        arr = field_type(f, true);
        assert_string_equal(json_string_value(json_object_get(arr, "type")), "array");
        assert_string_equal(json_string_value(json_object_get(arr, "logicalType")), "map");
        items = json_object_get(arr, "items");
        snprintf(rec_name, sizeof(rec_name), "k%d_v%d", kid, vid);
        assert_string_equal(json_string_value(json_object_get(items, "name")), rec_name);
        kv = json_object_get(items, "fields");
        assert_int_equal(json_array_size(kv), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(kv, 0), "type")),
                            "int");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(kv, 0), "field-id")),
                         kid);
        assert_string_equal(json_string_value(json_object_get(json_array_get(kv, 1), "type")),
                            vtype);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(kv, 1), "field-id")),
                         vid);
}

static json_t *find_field(json_t *record, const char *name)
{
        json_t *fields = json_object_get(record, "fields");

        for (size_t i = 0; i < json_array_size(fields); i++) {
                json_t *f = json_array_get(fields, i);

                if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
                        return f;
        }
        fail_msg("no field %s", name);
        return NULL;
}

static void test_entry_schema_matches_spec(void **state)
{
        static const char *const entry_opt[] = { "snapshot_id", "sequence_number",
                                                 "file_sequence_number", NULL };
        static const char *const file_opt[] = {
                "column_sizes", "value_counts",  "null_value_counts",    "nan_value_counts",
                "lower_bounds", "upper_bounds",  "key_metadata",         "split_offsets",
                "equality_ids", "sort_order_id", "referenced_data_file", NULL
        };
        json_error_t jerr;
        json_t *root = json_loads(ice_manifest_entry_schema, 0, &jerr), *df, *arr, *part;

        (void)state;
        assert_non_null(root);
        assert_string_equal(json_string_value(json_object_get(root, "name")), "manifest_entry");
        check_fields(root, entry_fields, N_ELEMS(entry_fields), entry_opt);
        df = json_object_get(find_field(root, "data_file"), "type");
        check_fields(df, data_file_fields, N_ELEMS(data_file_fields), file_opt);
        check_id_map(df, "column_sizes", 117, 118, "long");
        check_id_map(df, "value_counts", 119, 120, "long");
        check_id_map(df, "null_value_counts", 121, 122, "long");
        check_id_map(df, "nan_value_counts", 138, 139, "long");
        check_id_map(df, "lower_bounds", 126, 127, "bytes");
        check_id_map(df, "upper_bounds", 129, 130, "bytes");
        arr = field_type(find_field(df, "split_offsets"), true);
        assert_int_equal(json_integer_value(json_object_get(arr, "element-id")), 133);
        assert_string_equal(json_string_value(json_object_get(arr, "items")), "long");
        arr = field_type(find_field(df, "equality_ids"), true);
        assert_int_equal(json_integer_value(json_object_get(arr, "element-id")), 136);
        assert_string_equal(json_string_value(json_object_get(arr, "items")), "int");
        /* unpartitioned: an empty record */
        part = json_object_get(find_field(df, "partition"), "type");
        assert_string_equal(json_string_value(json_object_get(part, "type")), "record");
        assert_int_equal(json_array_size(json_object_get(part, "fields")), 0);
        json_decref(root);
}

static void test_list_schema_matches_spec(void **state)
{
        static const char *const list_opt[] = { "partitions", "key_metadata", NULL };
        static const char *const sum_opt[] = { "contains_nan", "lower_bound", "upper_bound", NULL };
        json_error_t jerr;
        json_t *root = json_loads(ice_manifest_file_schema, 0, &jerr), *arr;

        (void)state;
        assert_non_null(root);
        assert_string_equal(json_string_value(json_object_get(root, "name")), "manifest_file");
        check_fields(root, list_fields, N_ELEMS(list_fields), list_opt);
        arr = field_type(find_field(root, "partitions"), true);
        assert_int_equal(json_integer_value(json_object_get(arr, "element-id")), 508);
        check_fields(json_object_get(arr, "items"), summary_fields, N_ELEMS(summary_fields),
                     sum_opt);
        json_decref(root);
}

/* ---- known bytes ---------------------------------------------------------------- */

/* The only block of a one-record container. */
static void first_block(const uint8_t *data, size_t len, const uint8_t *want, size_t n)
{
        struct ice_avro_file *f;
        struct ice_avro_cur blk;
        struct zetl_err err = { 0 };
        int64_t count;

        assert_int_equal(ice_avro_file_open(data, len, &f, &err), 0);
        assert_int_equal(ice_avro_file_next_block(f, &blk, &count, &err), 1);
        assert_int_equal(count, 1);
        assert_int_equal(blk.len, n);
        assert_memory_equal(blk.p, want, n);
        assert_int_equal(ice_avro_file_next_block(f, &blk, &count, &err), 0);
        ice_avro_file_free(f);
}

static void test_entry_known_bytes(void **state)
{
        static const struct ice_id_long cs[] = { { 1, 50 } };
        /* Derived by hand from the schema, field by field. */
        static const uint8_t want[] = {
                0x02,                                    /* status 1 */
                0x02, 0x0a,                              /* snapshot_id: branch 1, 5 */
                0x02, 0x0e,                              /* sequence_number: 7 */
                0x00,                                    /* file_sequence_number: null */
                0x00,                                    /* content 0 */
                0x02, 'a',                               /* file_path "a" */
                0x0e, 'P', 'A', 'R', 'Q', 'U', 'E', 'T', /* file_format */
                                                         /* partition: empty record */
                0x06,                                    /* record_count 3 */
                0xc8, 0x01,                              /* file_size_in_bytes 100 */
                0x02, 0x02, 0x02, 0x64, 0x00,            /* column_sizes [{1: 50}] */
                0x00, 0x00, 0x00, 0x00, 0x00,            /* four maps: null */
                0x00, 0x00, 0x00,                        /* key_metadata, splits, eq ids */
                0x02, 0x00,                              /* sort_order_id 0 */
                0x00,                                    /* referenced_data_file null */
        };
        struct ice_manifest_entry e = { 0 };
        struct ice_manifest m = { .schema_json = TABLE_SCHEMA, .entries = &e, .n_entries = 1 };
        struct zetl_err err = { 0 };
        uint8_t *data;
        size_t len;

        (void)state;
        e.status = ICE_STATUS_ADDED;
        e.has_snapshot_id = true;
        e.snapshot_id = 5;
        e.has_sequence_number = true;
        e.sequence_number = 7;
        e.file.file_path = "a";
        e.file.record_count = 3;
        e.file.file_size_in_bytes = 100;
        e.file.column_sizes = cs;
        e.file.n_column_sizes = 1;
        e.file.has_sort_order_id = true;
        assert_int_equal(ice_manifest_encode(&m, ICE_AVRO_CODEC_NULL, &data, &len, &err), 0);
        first_block(data, len, want, sizeof(want));
        free(data);
}

static void test_list_entry_known_bytes(void **state)
{
        static const uint8_t want[] = {
                0x02, 'm',        /* manifest_path */
                0xd0, 0x0f,       /* manifest_length 1000 */
                0x00,             /* partition_spec_id 0 */
                0x02,             /* content 1 */
                0x04,             /* sequence_number 2 */
                0x02,             /* min_sequence_number 1 */
                0x0a,             /* added_snapshot_id 5 */
                0x02, 0x00, 0x00, /* files: added 1, existing 0, deleted 0 */
                0x06, 0x00, 0x00, /* rows: added 3, existing 0, deleted 0 */
                0x02, 0x00,       /* partitions: branch 1, empty array */
                0x00,             /* key_metadata null */
        };
        struct ice_manifest_file f = { .manifest_path = "m",
                                       .manifest_length = 1000,
                                       .content = ICE_MANIFEST_DELETES,
                                       .sequence_number = 2,
                                       .min_sequence_number = 1,
                                       .added_snapshot_id = 5,
                                       .added_files_count = 1,
                                       .added_rows_count = 3 };
        struct ice_manifest_list l = {
                .snapshot_id = 5, .sequence_number = 2, .files = &f, .n_files = 1
        };
        struct zetl_err err = { 0 };
        uint8_t *data;
        size_t len;

        (void)state;
        assert_int_equal(ice_manifest_list_encode(&l, ICE_AVRO_CODEC_NULL, &data, &len, &err), 0);
        first_block(data, len, want, sizeof(want));
        free(data);
}

/* ---- headers and round trips ------------------------------------------------------ */

static void assert_meta(const uint8_t *data, size_t len, const char *const *kv)
{
        struct ice_avro_file *f;
        struct zetl_err err = { 0 };

        assert_int_equal(ice_avro_file_open(data, len, &f, &err), 0);
        for (; *kv; kv += 2) {
                const char *v = ice_avro_file_meta(f, kv[0], NULL);

                assert_non_null(v);
                assert_string_equal(v, kv[1]);
        }
        ice_avro_file_free(f);
}

static void test_manifest_roundtrip(void **state)
{
        static const char *const data_meta[] = { "schema",
                                                 TABLE_SCHEMA,
                                                 "schema-id",
                                                 "3",
                                                 "partition-spec",
                                                 "[]",
                                                 "partition-spec-id",
                                                 "0",
                                                 "format-version",
                                                 "2",
                                                 "content",
                                                 "data",
                                                 NULL };
        static const char *const del_meta[] = { "content", "deletes", "format-version", "2", NULL };
        struct ice_manifest_entry e[3], d[2];
        struct ice_manifest m, dm, *back;
        struct zetl_err err = { 0 };
        uint8_t *data;
        size_t len;

        (void)state;
        data_manifest(&m, e);
        delete_manifest(&dm, d);
        for (int codec = 0; codec < 2; codec++) {
                assert_int_equal(ice_manifest_encode(&m, codec, &data, &len, &err), 0);
                assert_meta(data, len, data_meta);
                assert_int_equal(ice_manifest_decode(data, len, &back, &err), 0);
                assert_string_equal(back->schema_json, TABLE_SCHEMA);
                assert_int_equal(back->schema_id, 3);
                assert_int_equal(back->content, ICE_MANIFEST_DATA);
                assert_int_equal(back->n_entries, 3);
                for (size_t i = 0; i < 3; i++)
                        assert_entry_equal(&back->entries[i], &e[i]);
                ice_manifest_free(back);
                free(data);

                assert_int_equal(ice_manifest_encode(&dm, codec, &data, &len, &err), 0);
                assert_meta(data, len, del_meta);
                assert_int_equal(ice_manifest_decode(data, len, &back, &err), 0);
                assert_int_equal(back->content, ICE_MANIFEST_DELETES);
                assert_int_equal(back->n_entries, 2);
                for (size_t i = 0; i < 2; i++)
                        assert_entry_equal(&back->entries[i], &d[i]);
                /* What was read can be written again (carrying files forward). */
                free(data);
                assert_int_equal(ice_manifest_encode(back, codec, &data, &len, &err), 0);
                ice_manifest_free(back);
                assert_int_equal(ice_manifest_decode(data, len, &back, &err), 0);
                assert_entry_equal(&back->entries[1], &d[1]);
                ice_manifest_free(back);
                free(data);
        }
}

static void test_manifest_many_entries(void **state)
{
        enum { N = 20000 };
        struct ice_manifest_entry *e = calloc(N, sizeof(*e));
        struct ice_manifest m = { .schema_json = TABLE_SCHEMA, .entries = e, .n_entries = N };
        struct ice_manifest *back;
        struct zetl_err err = { 0 };
        char(*paths)[48] = calloc(N, 48);
        uint8_t *data;
        size_t len;

        (void)state;
        for (int i = 0; i < N; i++) {
                snprintf(paths[i], 48, "/t/data/%06d.parquet", i);
                e[i].status = ICE_STATUS_ADDED;
                e[i].file.file_path = paths[i];
                e[i].file.record_count = i;
                e[i].file.column_sizes = col_sizes;
                e[i].file.n_column_sizes = N_ELEMS(col_sizes);
        }
        /* Several blocks (records of ~40 bytes, blocks of 256 KiB). */
        assert_int_equal(ice_manifest_encode(&m, ICE_AVRO_CODEC_DEFLATE, &data, &len, &err), 0);
        assert_int_equal(ice_manifest_decode(data, len, &back, &err), 0);
        assert_int_equal(back->n_entries, N);
        for (int i = 0; i < N; i++)
                assert_entry_equal(&back->entries[i], &e[i]);
        ice_manifest_free(back);
        free(data);
        free(paths);
        free(e);
}

static void test_list_roundtrip(void **state)
{
        static const char *const meta[] = { "snapshot-id",
                                            "9007199254740991",
                                            "parent-snapshot-id",
                                            "4",
                                            "sequence-number",
                                            "8",
                                            "format-version",
                                            "2",
                                            NULL };
        static const char *const meta_np[] = { "parent-snapshot-id", "null", NULL };
        struct ice_manifest_file f[2];
        struct ice_manifest_list l, *back;
        struct zetl_err err = { 0 };
        uint8_t *data;
        size_t len;

        (void)state;
        manifest_list(&l, f);
        for (int codec = 0; codec < 2; codec++) {
                assert_int_equal(ice_manifest_list_encode(&l, codec, &data, &len, &err), 0);
                assert_meta(data, len, meta);
                assert_int_equal(ice_manifest_list_decode(data, len, &back, &err), 0);
                assert_true(back->snapshot_id == l.snapshot_id);
                assert_true(back->has_parent_snapshot_id);
                assert_int_equal(back->parent_snapshot_id, 4);
                assert_int_equal(back->sequence_number, 8);
                assert_int_equal(back->n_files, 2);
                for (size_t i = 0; i < 2; i++)
                        assert_file_equal(&back->files[i], &f[i]);
                ice_manifest_list_free(back);
                free(data);
        }
        l.has_parent_snapshot_id = false;
        l.n_files = 0;
        assert_int_equal(ice_manifest_list_encode(&l, 0, &data, &len, &err), 0);
        assert_meta(data, len, meta_np);
        assert_int_equal(ice_manifest_list_decode(data, len, &back, &err), 0);
        assert_false(back->has_parent_snapshot_id);
        assert_int_equal(back->n_files, 0);
        ice_manifest_list_free(back);
        free(data);
}

/* ---- validation ------------------------------------------------------------------- */

static void expect_einval(const struct ice_manifest *m, const char *needle)
{
        struct zetl_err err = { 0 };
        uint8_t *data;
        size_t len;

        assert_int_equal(ice_manifest_encode(m, ICE_AVRO_CODEC_NULL, &data, &len, &err),
                         ZETL_EINVAL);
        assert_null(data);
        assert_non_null(strstr(err.msg, needle));
}

static void test_writer_validation(void **state)
{
        struct ice_manifest_entry e[3], d[2];
        struct ice_manifest m, dm;

        (void)state;
        data_manifest(&m, e);
        e[2].has_sequence_number = false; /* DELETED must not inherit */
        expect_einval(&m, "sequence numbers");
        data_manifest(&m, e);
        e[1].status = 3;
        expect_einval(&m, "status");
        data_manifest(&m, e);
        e[0].file.content = ICE_CONTENT_POSITION_DELETES; /* delete file in a data manifest */
        expect_einval(&m, "data manifest");
        data_manifest(&m, e);
        e[0].file.equality_ids = eq_ids; /* only for equality deletes */
        e[0].file.n_equality_ids = 1;
        expect_einval(&m, "equality_ids");
        data_manifest(&m, e);
        e[0].file.file_path = "";
        expect_einval(&m, "file_path");
        data_manifest(&m, e);
        m.schema_json = NULL;
        expect_einval(&m, "schema");

        delete_manifest(&dm, d);
        d[0].file.n_equality_ids = 0; /* equality deletes need them */
        expect_einval(&dm, "equality_ids");
        delete_manifest(&dm, d);
        d[1].file.content = ICE_CONTENT_DATA;
        expect_einval(&dm, "deletes manifest");
}

/* ---- corrupt input ------------------------------------------------------------------ */

static void test_truncated_manifest_rejected(void **state)
{
        struct ice_manifest_entry e[3];
        struct ice_manifest m, *back;
        struct ice_manifest_list *lback;
        struct zetl_err err = { 0 };
        uint8_t *data;
        size_t len;

        (void)state;
        data_manifest(&m, e);
        for (int codec = 0; codec < 2; codec++) {
                assert_int_equal(ice_manifest_encode(&m, codec, &data, &len, &err), 0);
                for (size_t cut = 0; cut < len; cut++) {
                        uint8_t *copy = malloc(cut ? cut : 1);
                        int rc;

                        memcpy(copy, data, cut);
                        rc = ice_manifest_decode(copy, cut, &back, &err);
                        free(copy);
                        /* Cut right after the header: a valid manifest of no entries. */
                        if (rc == 0) {
                                assert_int_equal(back->n_entries, 0);
                                ice_manifest_free(back);
                                continue;
                        }
                        assert_null(back);
                        assert_true(rc == ZETL_EPROTO);
                        assert_true(err.msg[0] != '\0');
                }
                /* a manifest is not a manifest list */
                assert_int_equal(ice_manifest_list_decode(data, len, &lback, &err), ZETL_EPROTO);
                assert_non_null(strstr(err.msg, "schema differs"));
                free(data);
        }
}

static void test_flipped_bytes_never_crash(void **state)
{
        struct ice_manifest_entry e[3];
        struct ice_manifest_file f[2];
        struct ice_manifest m, *back;
        struct ice_manifest_list l, *lback;
        struct zetl_err err = { 0 };
        uint8_t *data;
        size_t len, rejected = 0;

        (void)state;
        data_manifest(&m, e);
        manifest_list(&l, f);
        assert_int_equal(ice_manifest_encode(&m, ICE_AVRO_CODEC_NULL, &data, &len, &err), 0);
        for (size_t i = 0; i < len; i++) {
                for (int bit = 0; bit < 8; bit += 3) {
                        data[i] ^= (uint8_t)(1u << bit);
                        if (ice_manifest_decode(data, len, &back, &err) == 0)
                                ice_manifest_free(back);
                        else
                                rejected++;
                        data[i] ^= (uint8_t)(1u << bit);
                }
        }
        /* The header (schema compare, sync) catches most; record damage the rest. */
        assert_true(rejected > len);
        free(data);
        assert_int_equal(ice_manifest_list_encode(&l, ICE_AVRO_CODEC_DEFLATE, &data, &len, &err),
                         0);
        for (size_t i = 0; i < len; i++) {
                data[i] ^= 0xff;
                if (ice_manifest_list_decode(data, len, &lback, &err) == 0)
                        ice_manifest_list_free(lback);
                data[i] ^= 0xff;
        }
        free(data);
}

static void test_bad_headers_rejected(void **state)
{
        static const struct ice_avro_meta v1[] = { { "schema", TABLE_SCHEMA },
                                                   { "schema-id", "0" },
                                                   { "content", "data" },
                                                   { "format-version", "1" } };
        static const struct ice_avro_meta noid[] = { { "schema", TABLE_SCHEMA },
                                                     { "content", "data" },
                                                     { "format-version", "2" } };
        static const struct ice_avro_meta badcontent[] = { { "schema", TABLE_SCHEMA },
                                                           { "schema-id", "1" },
                                                           { "content", "both" },
                                                           { "format-version", "2" } };
        const struct {
                const struct ice_avro_meta *meta;
                size_t n;
                const char *schema;
                int rc;
        } cases[] = {
                { v1, N_ELEMS(v1), ice_manifest_entry_schema, ZETL_EUNSUPPORTED },
                { noid, N_ELEMS(noid), ice_manifest_entry_schema, ZETL_EPROTO },
                { badcontent, N_ELEMS(badcontent), ice_manifest_entry_schema, ZETL_EPROTO },
                { noid, N_ELEMS(noid), "\"long\"", ZETL_EPROTO },
        };

        (void)state;
        for (size_t i = 0; i < N_ELEMS(cases); i++) {
                struct ice_avro_writer_opts o = { .schema = cases[i].schema,
                                                  .meta = cases[i].meta,
                                                  .nmeta = cases[i].n };
                struct ice_avro_writer *w;
                struct ice_manifest *back;
                struct zetl_err err = { 0 };
                uint8_t *data;
                size_t len;

                assert_int_equal(ice_avro_writer_open_mem(&o, &w, &err), 0);
                assert_int_equal(ice_avro_writer_finish_mem(w, &data, &len, &err), 0);
                assert_int_equal(ice_manifest_decode(data, len, &back, &err), cases[i].rc);
                assert_null(back);
                free(data);
        }
}

/* ---- files ------------------------------------------------------------------------- */

static char tmpdir[] = "/tmp/zetl-test-manifest.XXXXXX";

static void test_files_exclusive_and_length(void **state)
{
        struct ice_manifest_entry e[3];
        struct ice_manifest_file f[2];
        struct ice_manifest m, *back;
        struct ice_manifest_list l, *lback;
        struct zetl_err err = { 0 };
        char mpath[128], lpath[128];
        int64_t mlen = -1, llen = -1, again = -1;
        struct stat st;

        (void)state;
        data_manifest(&m, e);
        manifest_list(&l, f);
        snprintf(mpath, sizeof(mpath), "%s/m1.avro", tmpdir);
        snprintf(lpath, sizeof(lpath), "%s/snap-1.avro", tmpdir);
        assert_int_equal(ice_manifest_write(mpath, &m, ICE_AVRO_CODEC_DEFLATE, &mlen, &err), 0);
        assert_int_equal(stat(mpath, &st), 0);
        assert_int_equal(st.st_size, mlen);
        f[0].manifest_length = mlen;
        assert_int_equal(ice_manifest_list_write(lpath, &l, ICE_AVRO_CODEC_DEFLATE, &llen, &err),
                         0);
        assert_int_equal(stat(lpath, &st), 0);
        assert_int_equal(st.st_size, llen);

        /* never overwritten */
        assert_int_equal(ice_manifest_write(mpath, &m, ICE_AVRO_CODEC_NULL, &again, &err),
                         ZETL_EEXIST);
        assert_int_equal(again, -1);
        assert_int_equal(ice_manifest_list_write(lpath, &l, ICE_AVRO_CODEC_NULL, NULL, &err),
                         ZETL_EEXIST);
        assert_int_equal(stat(mpath, &st), 0);
        assert_int_equal(st.st_size, mlen);

        assert_int_equal(ice_manifest_read(mpath, &back, &err), 0);
        assert_int_equal(back->n_entries, 3);
        assert_entry_equal(&back->entries[0], &e[0]);
        ice_manifest_free(back);
        assert_int_equal(ice_manifest_list_read(lpath, &lback, &err), 0);
        assert_int_equal(lback->n_files, 2);
        assert_file_equal(&lback->files[0], &f[0]);
        ice_manifest_list_free(lback);

        /* invalid input leaves no file behind */
        e[2].has_snapshot_id = false;
        snprintf(mpath, sizeof(mpath), "%s/m2.avro", tmpdir);
        assert_int_equal(ice_manifest_write(mpath, &m, ICE_AVRO_CODEC_NULL, NULL, &err),
                         ZETL_EINVAL);
        assert_int_equal(access(mpath, F_OK), -1);
        assert_int_equal(ice_manifest_read(mpath, &back, &err), ZETL_ENOTFOUND);
        assert_null(back);

        snprintf(mpath, sizeof(mpath), "%s/m1.avro", tmpdir);
        unlink(mpath);
        unlink(lpath);
}

/* ---- interop export (for tests/interop/read_avro.mjs) -------------------------------- */

static json_t *jlong(int64_t v)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%" PRId64, v);
        return json_string(buf);
}

static json_t *jopt_long(bool has, int64_t v)
{
        return has ? jlong(v) : json_null();
}

static json_t *jhex(const uint8_t *p, size_t n)
{
        char *s = malloc(2 * n + 1);
        json_t *j;

        for (size_t i = 0; i < n; i++)
                snprintf(s + 2 * i, 3, "%02x", p[i]);
        s[2 * n] = '\0';
        j = json_string(s);
        free(s);
        return j;
}

static json_t *jid_longs(const struct ice_id_long *a, size_t n)
{
        json_t *arr;

        if (!n)
                return json_null();
        arr = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(arr, json_pack("{s:i,s:o}", "key", (int)a[i].id, "value",
                                                     jlong(a[i].value)));
        return arr;
}

static json_t *jid_bytes(const struct ice_id_bytes *a, size_t n)
{
        json_t *arr;

        if (!n)
                return json_null();
        arr = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(arr, json_pack("{s:i,s:o}", "key", (int)a[i].id, "value",
                                                     jhex(a[i].data, a[i].len)));
        return arr;
}

static json_t *jentry(const struct ice_manifest_entry *e)
{
        const struct ice_data_file *f = &e->file;
        json_t *df = json_object(), *jsplits = json_null(), *eq = json_null();

        if (f->n_split_offsets) {
                jsplits = json_array();
                for (size_t i = 0; i < f->n_split_offsets; i++)
                        json_array_append_new(jsplits, jlong(f->split_offsets[i]));
        }
        if (f->n_equality_ids) {
                eq = json_array();
                for (size_t i = 0; i < f->n_equality_ids; i++)
                        json_array_append_new(eq, json_integer(f->equality_ids[i]));
        }
        json_object_set_new(df, "content", json_integer(f->content));
        json_object_set_new(df, "file_path", json_string(f->file_path));
        json_object_set_new(df, "file_format",
                            json_string(f->file_format ? f->file_format : "PARQUET"));
        json_object_set_new(df, "partition", json_object());
        json_object_set_new(df, "record_count", jlong(f->record_count));
        json_object_set_new(df, "file_size_in_bytes", jlong(f->file_size_in_bytes));
        json_object_set_new(df, "column_sizes", jid_longs(f->column_sizes, f->n_column_sizes));
        json_object_set_new(df, "value_counts", jid_longs(f->value_counts, f->n_value_counts));
        json_object_set_new(df, "null_value_counts",
                            jid_longs(f->null_value_counts, f->n_null_value_counts));
        json_object_set_new(df, "nan_value_counts",
                            jid_longs(f->nan_value_counts, f->n_nan_value_counts));
        json_object_set_new(df, "lower_bounds", jid_bytes(f->lower_bounds, f->n_lower_bounds));
        json_object_set_new(df, "upper_bounds", jid_bytes(f->upper_bounds, f->n_upper_bounds));
        json_object_set_new(df, "key_metadata", json_null());
        json_object_set_new(df, "split_offsets", jsplits);
        json_object_set_new(df, "equality_ids", eq);
        json_object_set_new(df, "sort_order_id",
                            f->has_sort_order_id ? json_integer(f->sort_order_id) : json_null());
        json_object_set_new(df, "referenced_data_file",
                            f->referenced_data_file ? json_string(f->referenced_data_file)
                                                    : json_null());
        return json_pack(
                "{s:i,s:o,s:o,s:o,s:o}", "status", (int)e->status, "snapshot_id",
                jopt_long(e->has_snapshot_id, e->snapshot_id), "sequence_number",
                jopt_long(e->has_sequence_number, e->sequence_number), "file_sequence_number",
                jopt_long(e->has_file_sequence_number, e->file_sequence_number), "data_file", df);
}

static json_t *jfile(const struct ice_manifest_file *f)
{
        json_t *o = json_object();

        json_object_set_new(o, "manifest_path", json_string(f->manifest_path));
        json_object_set_new(o, "manifest_length", jlong(f->manifest_length));
        json_object_set_new(o, "partition_spec_id", json_integer(f->partition_spec_id));
        json_object_set_new(o, "content", json_integer(f->content));
        json_object_set_new(o, "sequence_number", jlong(f->sequence_number));
        json_object_set_new(o, "min_sequence_number", jlong(f->min_sequence_number));
        json_object_set_new(o, "added_snapshot_id", jlong(f->added_snapshot_id));
        json_object_set_new(o, "added_files_count", json_integer(f->added_files_count));
        json_object_set_new(o, "existing_files_count", json_integer(f->existing_files_count));
        json_object_set_new(o, "deleted_files_count", json_integer(f->deleted_files_count));
        json_object_set_new(o, "added_rows_count", jlong(f->added_rows_count));
        json_object_set_new(o, "existing_rows_count", jlong(f->existing_rows_count));
        json_object_set_new(o, "deleted_rows_count", jlong(f->deleted_rows_count));
        json_object_set_new(o, "partitions", json_array());
        json_object_set_new(o, "key_metadata", json_null());
        return o;
}

static json_t *jmanifest_meta(const struct ice_manifest *m)
{
        char id[16];

        snprintf(id, sizeof(id), "%" PRId32, m->schema_id);
        return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "schema", m->schema_json, "schema-id", id,
                         "partition-spec", "[]", "partition-spec-id", "0", "format-version", "2",
                         "content", m->content == ICE_MANIFEST_DELETES ? "deletes" : "data");
}

static int export_interop(const char *dir)
{
        struct ice_manifest_entry e[3], d[2];
        struct ice_manifest_file f[2];
        struct ice_manifest m, dm;
        struct ice_manifest_list l;
        struct zetl_err err = { 0 };
        char path[4096];
        json_t *files = json_array(), *recs, *root;
        int64_t len;

        data_manifest(&m, e);
        delete_manifest(&dm, d);
        manifest_list(&l, f);

        snprintf(path, sizeof(path), "%s/data-manifest.avro", dir);
        if (ice_manifest_write(path, &m, ICE_AVRO_CODEC_DEFLATE, &len, &err))
                goto fail;
        f[0].manifest_length = len;
        recs = json_array();
        for (size_t i = 0; i < m.n_entries; i++)
                json_array_append_new(recs, jentry(&e[i]));
        json_array_append_new(files,
                              json_pack("{s:s,s:s,s:o,s:o}", "file", "data-manifest.avro", "codec",
                                        "deflate", "meta", jmanifest_meta(&m), "records", recs));

        snprintf(path, sizeof(path), "%s/delete-manifest.avro", dir);
        if (ice_manifest_write(path, &dm, ICE_AVRO_CODEC_NULL, &len, &err))
                goto fail;
        f[1].manifest_length = len;
        recs = json_array();
        for (size_t i = 0; i < dm.n_entries; i++)
                json_array_append_new(recs, jentry(&d[i]));
        json_array_append_new(files, json_pack("{s:s,s:s,s:o,s:o}", "file", "delete-manifest.avro",
                                               "codec", "null", "meta", jmanifest_meta(&dm),
                                               "records", recs));

        snprintf(path, sizeof(path), "%s/snap-manifest-list.avro", dir);
        if (ice_manifest_list_write(path, &l, ICE_AVRO_CODEC_DEFLATE, &len, &err))
                goto fail;
        recs = json_array();
        for (size_t i = 0; i < l.n_files; i++)
                json_array_append_new(recs, jfile(&f[i]));
        json_array_append_new(files, json_pack("{s:s,s:s,s:{s:o,s:o,s:o,s:s},s:o}", "file",
                                               "snap-manifest-list.avro", "codec", "deflate",
                                               "meta", "snapshot-id", jlong(l.snapshot_id),
                                               "parent-snapshot-id", jlong(l.parent_snapshot_id),
                                               "sequence-number", jlong(l.sequence_number),
                                               "format-version", "2", "records", recs));

        snprintf(path, sizeof(path), "%s/expect.json", dir);
        root = json_pack("{s:o}", "files", files);
        if (!root || json_dump_file(root, path, JSON_INDENT(1)) != 0) {
                fprintf(stderr, "cannot write %s\n", path);
                json_decref(root);
                return 1;
        }
        json_decref(root);
        printf("wrote %s\n", path);
        return 0;
fail:
        fprintf(stderr, "export failed: %s\n", err.msg);
        json_decref(files);
        return 1;
}

static int setup(void **state)
{
        (void)state;
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        return rmdir(tmpdir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_entry_schema_matches_spec),
                cmocka_unit_test(test_list_schema_matches_spec),
                cmocka_unit_test(test_entry_known_bytes),
                cmocka_unit_test(test_list_entry_known_bytes),
                cmocka_unit_test(test_manifest_roundtrip),
                cmocka_unit_test(test_manifest_many_entries),
                cmocka_unit_test(test_list_roundtrip),
                cmocka_unit_test(test_writer_validation),
                cmocka_unit_test(test_truncated_manifest_rejected),
                cmocka_unit_test(test_flipped_bytes_never_crash),
                cmocka_unit_test(test_bad_headers_rejected),
                cmocka_unit_test(test_files_exclusive_and_length),
        };
        const char *dir = getenv("ZETL_AVRO_INTEROP_DIR");

        if (dir && *dir)
                return export_interop(dir);
        return cmocka_run_group_tests(tests, setup, teardown);
}
