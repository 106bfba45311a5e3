/*
 * libFuzzer target for the jsonl codec (connectors/jsonl/jsonl.h): the input
 * is a jsonl stream, read line by line as the jsonl source reads it.
 *
 * "schema" lines go through jsonl_parse_schema; a schema that parses is
 * written back with jsonl_schema (with the diff from the previous schema) and
 * parsed again, and must come back with the same table, version and shape.
 * "change" lines fill a row of the current schema (at first, one column of
 * every logical type, named c0..c14) with jsonl_set_value, their "old_key"
 * the old key, their "unchanged" list unchanged cells; every cell that was
 * set is then written with jsonl_value, dumped to text, read back and set
 * again, and must be the same cell: value.h promises that the text forms are
 * exact inverses for every value a batch holds. "pos", "table" and
 * "time_us" of any line are parsed too.
 *
 * Seeds: ZETL_FUZZ_WRITE_SEEDS=<dir> writes jsonl streams in the format of
 * jsonl.h (schema, change, truncate and commit lines, values of every type)
 * into <dir> and exits; tests/fuzz/corpus/fuzz_jsonl was made that way.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "../../connectors/jsonl/jsonl.h"
#include "zetl/batch.h"
#include "zetl/schema.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 64

static struct zetl_schema *all_types;

/* One column of every logical type; c3 (int64) is the key. */
static struct zetl_schema *make_all_types(void)
{
        struct zetl_table_id id;
        struct zetl_err err;
        struct zetl_schema *s;

        CHECK(zetl_table_id_set(&id, "db", "public", "t") == 0);
        s = zetl_schema_new(&id, ZETL_T__COUNT);
        CHECK(s != NULL);
        for (int i = 0; i < ZETL_T__COUNT; i++) {
                char name[8];
                struct zetl_column c = { .name = name,
                                         .type = (enum zetl_type)i,
                                         .nullable = i != ZETL_T_INT64,
                                         .key_pos = i == ZETL_T_INT64 };

                snprintf(name, sizeof(name), "c%d", i);
                CHECK(zetl_schema_set_col(s, i, &c) == 0);
        }
        CHECK(zetl_schema_finish(s, &err) == 0);
        return s;
}

static bool same_cell(const struct zetl_batch *a, uint32_t ra, const struct zetl_batch *b,
                      uint32_t rb, int c)
{
        enum zetl_type t = a->schema->cols[c].type;
        const uint8_t *p, *q;
        size_t n, m;
        float fa, fb;
        double da, db;

        if (zetl_batch_is_null(a, c, ra) || zetl_batch_is_null(b, c, rb))
                return zetl_batch_is_null(a, c, ra) == zetl_batch_is_null(b, c, rb);
        switch (t) {
        case ZETL_T_BOOL:
                return zetl_batch_get_bool(a, c, ra) == zetl_batch_get_bool(b, c, rb);
        case ZETL_T_INT16:
                return zetl_batch_get_i16(a, c, ra) == zetl_batch_get_i16(b, c, rb);
        case ZETL_T_INT32:
        case ZETL_T_DATE:
                return zetl_batch_get_i32(a, c, ra) == zetl_batch_get_i32(b, c, rb);
        case ZETL_T_INT64:
        case ZETL_T_TIME:
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                return zetl_batch_get_i64(a, c, ra) == zetl_batch_get_i64(b, c, rb);
        case ZETL_T_FLOAT32:
                fa = zetl_batch_get_f32(a, c, ra);
                fb = zetl_batch_get_f32(b, c, rb);
                return (isnan(fa) && isnan(fb)) || memcmp(&fa, &fb, sizeof(fa)) == 0;
        case ZETL_T_FLOAT64:
                da = zetl_batch_get_f64(a, c, ra);
                db = zetl_batch_get_f64(b, c, rb);
                return (isnan(da) && isnan(db)) || memcmp(&da, &db, sizeof(da)) == 0;
        case ZETL_T_UUID:
                return memcmp(zetl_batch_get_uuid(a, c, ra), zetl_batch_get_uuid(b, c, rb), 16) ==
                       0;
        default:
                p = zetl_batch_get_var(a, c, ra, &n);
                q = zetl_batch_get_var(b, c, rb, &m);
                return n == m && (n == 0 || memcmp(p, q, n) == 0);
        }
}

/* Every cell of row r of b, written as jsonl text and read back, is the same cell. */
static void round_trip_row(const struct zetl_batch *b, uint32_t r)
{
        struct zetl_batch *b2 = zetl_batch_new(b->schema, 0);
        struct zetl_err err = { 0 };

        CHECK(b2 != NULL);
        CHECK(zetl_batch_row_begin(b2, ZETL_OP_INSERT, 0, &err) == 0);
        for (int c = 0; c < b->schema->ncols; c++) {
                json_t *v, *back;
                char *text;
                int rc;

                if (zetl_batch_is_null(b, c, r))
                        continue;
                v = jsonl_value(b, c, r);
                CHECK(v != NULL);
                text = json_dumps(v, JSON_ENCODE_ANY);
                CHECK(text != NULL);
                back = json_loads(text, JSON_DECODE_ANY, NULL);
                CHECK(back != NULL);
                rc = jsonl_set_value(b2, c, back, &err);
                if (rc != 0 || !same_cell(b, r, b2, 0, c)) {
                        fprintf(stderr, "column %s (%s): \"%s\" does not read back: %s\n",
                                b->schema->cols[c].name, zetl_type_name(b->schema->cols[c].type),
                                text, rc ? err.msg : "another value");
                        CHECK(!"a value does not survive jsonl");
                }
                json_decref(back);
                free(text);
                json_decref(v);
        }
        zetl_batch_row_end(b2);
        zetl_batch_free(b2);
}

/* Set the members of row that name columns; returns the first error. */
static int set_row(struct zetl_batch *b, json_t *row, bool keys_only, struct zetl_err *err)
{
        const char *name;
        json_t *v;

        json_object_foreach(row, name, v)
        {
                int c = zetl_schema_find(b->schema, name);
                int rc;

                if (c < 0 || (keys_only && b->schema->cols[c].key_pos == 0))
                        continue;
                rc = jsonl_set_value(b, c, v, err);
                if (rc != 0) {
                        CHECK(err->msg[0] != '\0');
                        return rc;
                }
        }
        return 0;
}

static void on_change(const struct zetl_schema *s, json_t *o)
{
        struct zetl_batch *b = zetl_batch_new(s, 0);
        struct zetl_err err = { 0 };
        json_t *row = json_object_get(o, "row");
        json_t *old = json_object_get(o, "old_key");
        json_t *unch = json_object_get(o, "unchanged");
        json_t *v;
        size_t i;
        int rc;

        CHECK(b != NULL);
        CHECK(zetl_batch_row_begin(b, ZETL_OP_UPDATE, 1, &err) == 0);
        if (json_is_object(row) && (rc = set_row(b, row, false, &err)) != 0)
                goto abort;
        json_array_foreach(unch, i, v)
        {
                int c = zetl_schema_find(s, json_string_value(v) ? json_string_value(v) : "");

                if (c >= 0 && (rc = zetl_batch_set_unchanged(b, c, &err)) != 0)
                        goto abort;
        }
        if (json_is_object(old)) {
                if ((rc = zetl_batch_old_key_begin(b, &err)) != 0 ||
                    (rc = set_row(b->old, old, true, &err)) != 0)
                        goto abort;
        }
        zetl_batch_row_end(b);
        round_trip_row(b, 0);
        if (b->old && zetl_batch_old_key_row(b, 0) >= 0)
                round_trip_row(b->old, (uint32_t)zetl_batch_old_key_row(b, 0));
        zetl_batch_free(b);
        return;
abort:
        zetl_batch_row_abort(b);
        zetl_batch_free(b);
}

/* Parse a schema line; returns the schema (a new reference) or NULL. */
static struct zetl_schema *on_schema(json_t *o, const struct zetl_schema *prev)
{
        struct zetl_schema *s = NULL, *s2 = NULL;
        struct zetl_schema_diff diff = { 0 };
        struct zetl_err err = { 0 };
        bool have_diff = false;
        json_t *line;
        int rc = jsonl_parse_schema(o, &s, &err);

        if (rc != 0) {
                CHECK(err.code == rc && err.msg[0] != '\0');
                return NULL;
        }
        if (prev && zetl_schema_diff(prev, s, &diff, &err) == 0)
                have_diff = true;
        line = jsonl_schema(have_diff ? prev : NULL, s, have_diff ? &diff : NULL);
        CHECK(line != NULL);
        rc = jsonl_parse_schema(line, &s2, &err);
        if (rc != 0)
                fprintf(stderr, "schema written by jsonl_schema does not parse: %s\n", err.msg);
        CHECK(rc == 0);
        CHECK(zetl_table_id_eq(&s->id, &s2->id) && s->version == s2->version);
        CHECK(zetl_schema_same_shape(s, s2));
        zetl_schema_unref(s2);
        json_decref(line);
        if (have_diff)
                zetl_schema_diff_free(&diff);
        return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct zetl_schema *cur = zetl_schema_ref(all_types);
        size_t at = 0;

        for (int n = 0; n < MAX_LINES && at < size; n++) {
                const uint8_t *nl = memchr(data + at, '\n', size - at);
                size_t len = nl ? (size_t)(nl - (data + at)) : size - at;
                json_t *o = json_loadb((const char *)data + at, len, 0, NULL);
                struct zetl_table_id id;
                struct zetl_err err = { 0 };
                uint64_t pos;
                const char *type;

                at += len + 1;
                if (!o)
                        continue;
                if (json_object_get(o, "pos"))
                        (void)jsonl_parse_pos(json_object_get(o, "pos"), &pos);
                if (json_object_get(o, "table") &&
                    jsonl_parse_table(json_object_get(o, "table"), &id, &err) != 0)
                        CHECK(err.msg[0] != '\0');
                type = json_string_value(json_object_get(o, "type"));
                if (type && strcmp(type, "schema") == 0) {
                        struct zetl_schema *s = on_schema(o, cur);

                        if (s) {
                                zetl_schema_unref(cur);
                                cur = s;
                        }
                } else if (type && strcmp(type, "change") == 0) {
                        on_change(cur, o);
                }
                json_decref(o);
        }
        zetl_schema_unref(cur);
        return 0;
}

/* ---- seeds ------------------------------------------------------------------------ */

static void write_seeds(const char *dir)
{
        static const char *const seeds[] = {
                ("{\"type\":\"change\",\"table\":[\"db\",\"public\",\"t\"],\"op\":\"insert\","
                 "\"pos\":\"42\",\"row\":{\"c0\":true,\"c1\":-32768,\"c2\":2147483647,"
                 "\"c3\":-9223372036854775808,\"c4\":\"NaN\",\"c5\":-0.0,\"c6\":\"-123.4500\","
                 "\"c7\":\"h\\u00e9llo\",\"c8\":\"AP8=\",\"c9\":\"-0044-03-15\","
                 "\"c10\":\"23:59:59.999999\",\"c11\":\"2024-01-02T03:04:05.500000\","
                 "\"c12\":\"2024-01-02T03:04:05Z\","
                 "\"c13\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\",\"c14\":\"{\\\"a\\\": [1]}\"}}\n"
                 "{\"type\":\"commit\",\"pos\":\"43\",\"token\":\"0/"
                 "2B\",\"time_us\":1700000000000000}\n"),
                ("{\"type\":\"change\",\"table\":[\"db\",\"public\",\"t\"],\"op\":\"update\","
                 "\"pos\":\"7\",\"row\":{\"c3\":2,\"c4\":1.5,\"c5\":\"-Infinity\","
                 "\"c9\":\"+10000-01-01\",\"c12\":\"2024-01-02 03:04:05+05:30\"},"
                 "\"unchanged\":[\"c7\",\"c8\"],\"old_key\":{\"c3\":1}}\n"),
                ("{\"type\":\"schema\",\"table\":[\"shop\",\"public\",\"orders\"],\"version\":1,"
                 "\"columns\":[{\"name\":\"id\",\"type\":\"int64\",\"precision\":0,\"scale\":0,"
                 "\"nullable\":false,\"key\":1,\"source_type\":\"bigint\",\"source_id\":1},"
                 "{\"name\":\"price\",\"type\":\"decimal\",\"precision\":10,\"scale\":2,"
                 "\"nullable\":true,\"key\":0,\"source_type\":\"numeric(10,2)\",\"source_id\":2},"
                 "{\"name\":\"at\",\"type\":\"timestamptz\",\"precision\":6,\"scale\":0,"
                 "\"nullable\":true,\"key\":0,\"source_type\":null,\"source_id\":3}]}\n"
                 "{\"type\":\"change\",\"table\":[\"shop\",\"public\",\"orders\"],\"op\":"
                 "\"insert\","
                 "\"pos\":\"1\",\"row\":{\"id\":1,\"price\":\"9.99\",\"at\":\"1970-01-01T00:00:"
                 "00Z\"}}\n"
                 "{\"type\":\"schema\",\"table\":[\"shop\",\"public\",\"orders\"],\"version\":2,"
                 "\"columns\":[{\"name\":\"id\",\"type\":\"int64\",\"key\":1,\"nullable\":false,"
                 "\"source_id\":1},{\"name\":\"cost\",\"type\":\"decimal\",\"precision\":12,"
                 "\"scale\":2,\"source_id\":2},{\"name\":\"note\",\"type\":\"string\"}],"
                 "\"changes\":[{\"kind\":\"rename\",\"compatible\":true,\"detail\":\"x\","
                 "\"column\":\"cost\",\"old_column\":\"price\"}]}\n"
                 "{\"type\":\"change\",\"table\":[\"shop\",\"public\",\"orders\"],\"op\":"
                 "\"delete\","
                 "\"pos\":\"18446744073709551615\",\"row\":{\"id\":1}}\n"
                 "{\"type\":\"truncate\",\"table\":[\"shop\",\"public\",\"orders\"],\"pos\":\"9\"}"
                 "\n"),
                ("{\"type\":\"change\",\"op\":\"insert\",\"row\":{\"c6\":\"Infinity\","
                 "\"c10\":\"00:00:00\",\"c11\":\"-294247-01-10T04:00:54.775807\","
                 "\"c8\":\"\",\"c7\":\"\",\"c14\":\"null\",\"c0\":null}}\n"),
        };

        for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
                char path[4096];
                FILE *f;

                snprintf(path, sizeof(path), "%s/jsonl_%02zu", dir, i);
                f = fopen(path, "wb");
                if (!f || fputs(seeds[i], f) < 0 || fclose(f) != 0) {
                        perror(path);
                        exit(1);
                }
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *dir = getenv("ZETL_FUZZ_WRITE_SEEDS");

        (void)argc;
        (void)argv;
        if (dir) {
                write_seeds(dir);
                exit(0);
        }
        all_types = make_all_types();
        return 0;
}
