/*
 * Tests of os_doc (connectors/opensearch/os_doc.h): index names under
 * OpenSearch's naming rules, the _id encoding of primary keys (unambiguous,
 * hashed past 512 bytes), documents, mappings, bulk action lines and the
 * reading of bulk responses. Expectations come from the header's rules, from
 * OpenSearch's documented limits and formats, and for SHA-256 from the test
 * vectors of FIPS 180-4 (NIST's examples).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../connectors/opensearch/os_doc.h"
#include "zetl/batch.h"
#include "zetl/schema.h"

/* ---- fixture: a schema and a batch, freed even when an assertion fails ---- */

struct fx {
        struct zetl_schema *s;
        struct zetl_batch *b;
        struct os_buf out;
        struct zetl_err e;
};

static int fx_setup(void **state)
{
        struct fx *f = calloc(1, sizeof(*f));

        *state = f;
        return f ? 0 : -1;
}

static int fx_teardown(void **state)
{
        struct fx *f = *state;

        zetl_batch_free(f->b);
        if (f->s)
                zetl_schema_unref(f->s);
        os_buf_free(&f->out);
        free(f);
        return 0;
}

struct tcol {
        const char *name;
        enum zetl_type type;
        int key_pos;
};

static void make(struct fx *f, const struct tcol *cols, int n)
{
        struct zetl_table_id id;

        assert_int_equal(zetl_table_id_set(&id, "db", "public", "t"), 0);
        f->s = zetl_schema_new(&id, n);
        assert_non_null(f->s);
        for (int i = 0; i < n; i++) {
                struct zetl_column c = { .name = (char *)cols[i].name,
                                         .type = cols[i].type,
                                         .key_pos = cols[i].key_pos,
                                         .nullable = true,
                                         .scale = -1 };
                assert_int_equal(zetl_schema_set_col(f->s, i, &c), 0);
        }
        assert_int_equal(zetl_schema_finish(f->s, &f->e), 0);
        f->b = zetl_batch_new(f->s, 0);
        assert_non_null(f->b);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
        for (size_t i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", p[i]);
}

/* ---- SHA-256 -------------------------------------------------------------- */

static void test_sha256_vectors(void **state)
{
        uint8_t h[32];
        char x[65];
        char *million = malloc(1000000);

        (void)state;
        os_sha256("", 0, h);
        hex(h, 32, x);
        assert_string_equal(x, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        os_sha256("abc", 3, h);
        hex(h, 32, x);
        assert_string_equal(x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        /* 56 bytes: the padding spills into a second block. */
        os_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
        hex(h, 32, x);
        assert_string_equal(x, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        assert_non_null(million);
        memset(million, 'a', 1000000);
        os_sha256(million, 1000000, h);
        hex(h, 32, x);
        free(million);
        assert_string_equal(x, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* ---- index names ------------------------------------------------------------ */

static void name_of(const char *tmpl, const char *db, const char *schema, const char *table,
                    char *out)
{
        struct zetl_table_id id;
        struct zetl_err e;

        assert_int_equal(zetl_table_id_set(&id, db, schema, table), 0);
        assert_int_equal(os_index_name(tmpl, &id, out, &e), 0);
}

/* "-" and the first 8 hex digits of SHA-256(text). */
static void suffix_of(const char *text, char *out)
{
        uint8_t h[32];

        os_sha256(text, strlen(text), h);
        out[0] = '-';
        hex(h, 4, out + 1);
}

static void test_index_names(void **state)
{
        char n[OS_INDEX_MAX + 1], want[OS_INDEX_MAX + 1], sfx[16];
        char longt[250];
        struct zetl_err e;

        (void)state;
        /* Lowercasing alone changes nothing else: no suffix. */
        name_of("{db}.{schema}.{table}", "Shop", "public", "Orders", n);
        assert_string_equal(n, "shop.public.orders");
        /* MySQL: no schema, and the dot next to it goes too. */
        name_of("{db}.{schema}.{table}", "shop", "", "orders", n);
        assert_string_equal(n, "shop.orders");
        name_of("{table}-{schema}", "shop", "", "orders", n);
        assert_string_equal(n, "orders-");
        name_of("cdc-{table}", "shop", "s", "orders", n);
        assert_string_equal(n, "cdc-orders");
        /* Forbidden characters become '_', and the name gets the hash suffix. */
        name_of("{db}.{schema}.{table}", "db", "public", "my table*?", n);
        suffix_of("db.public.my table*?", sfx);
        snprintf(want, sizeof(want), "db.public.my_table__%s", sfx);
        assert_string_equal(n, want);
        name_of("{table}", "db", "public", "a\\b/c\"d<e>f|g,h#i:j", n);
        assert_int_equal(strncmp(n, "a_b_c_d_e_f_g_h_i_j-", 20), 0);
        /* Non-ASCII bytes too (OpenSearch would refuse upper-case ones). */
        name_of("{table}", "db", "public", "caf\xc3\xa9", n);
        suffix_of("caf\xc3\xa9", sfx);
        snprintf(want, sizeof(want), "caf__%s", sfx);
        assert_string_equal(n, want);
        /* A name may not start with - _ + or . (nor be . or ..). */
        name_of("{table}", "db", "public", "_tmp", n);
        suffix_of("_tmp", sfx);
        snprintf(want, sizeof(want), "z_tmp%s", sfx);
        assert_string_equal(n, want);
        name_of("{table}", "db", "public", "..", n);
        assert_int_equal(n[0], 'z');
        /* Too long: cut, with the suffix, at most OS_ALIAS_MAX bytes. */
        memset(longt, 'x', 240);
        longt[240] = '\0';
        name_of("{db}.{table}", "db", "public", longt, n);
        assert_int_equal(strlen(n), OS_ALIAS_MAX);
        assert_int_equal(n[OS_ALIAS_MAX - 9], '-');
        /* Two tables that sanitize alike still get two names. */
        name_of("{table}", "db", "public", "a b", n);
        name_of("{table}", "db", "public", "a,b", want);
        assert_string_not_equal(n, want);
        /* Templates: only the three placeholders. */
        assert_int_equal(os_template_check("{db}-{bogus}", &e), ZETL_EINVAL);
        assert_int_equal(e.cls, ZETL_ERRC_CONFIG);
        assert_int_equal(os_template_check("", &e), ZETL_EINVAL);
        assert_int_equal(os_template_check("x{table}", &e), 0);
}

/* ---- ids ---------------------------------------------------------------------- */

static void test_id_single_key(void **state)
{
        struct fx *f = *state;
        const struct tcol cols[] = { { "v", ZETL_T_STRING, 0 }, { "id", ZETL_T_INT64, 1 } };

        make(f, cols, 2);
        assert_int_equal(zetl_batch_row_begin(f->b, ZETL_OP_INSERT, 1, &f->e), 0);
        zetl_batch_set_i64(f->b, 1, -42);
        zetl_batch_row_end(f->b);
        assert_int_equal(os_doc_id(f->b, 0, &f->out, &f->e), 0);
        assert_string_equal(f->out.p, "-42");
}

static void add_pair(struct fx *f, int a, const char *b)
{
        assert_int_equal(zetl_batch_row_begin(f->b, ZETL_OP_INSERT, 1, &f->e), 0);
        zetl_batch_set_i32(f->b, 0, a);
        if (b)
                assert_int_equal(zetl_batch_set_var(f->b, 1, b, strlen(b), &f->e), 0);
        zetl_batch_row_end(f->b);
}

static void test_id_composite(void **state)
{
        struct fx *f = *state;
        const struct tcol cols[] = { { "a", ZETL_T_INT32, 1 }, { "b", ZETL_T_STRING, 2 } };
        const char *want[] = { "1|x%7Cy", "2|%25", "3|%E", "4|%N", "5|%25E", "6|%25N" };
        const char *b[] = { "x|y", "%", "", NULL, "%E", "%N" };
        char *parts[4];

        make(f, cols, 2);
        for (int i = 0; i < 6; i++)
                add_pair(f, i + 1, b[i]);
        for (uint32_t r = 0; r < 6; r++) {
                assert_int_equal(os_doc_id(f->b, r, &f->out, &f->e), 0);
                assert_string_equal(f->out.p, want[r]);
                /* It splits back into exactly the parts it was made of. */
                assert_int_equal(os_doc_id_split(f->out.p, parts, 4), 2);
                char num[8];
                snprintf(num, sizeof(num), "%u", r + 1);
                assert_string_equal(parts[0], num);
                if (b[r])
                        assert_string_equal(parts[1], b[r]);
                else
                        assert_null(parts[1]);
                free(parts[0]);
                free(parts[1]);
        }
        /* Text that no encoder writes is refused. */
        assert_int_equal(os_doc_id_split("a|%zz", parts, 4), -1);
        assert_int_equal(os_doc_id_split("a||b", parts, 4), -1);
}

static void test_id_long_is_hashed(void **state)
{
        struct fx *f = *state;
        const struct tcol cols[] = { { "k", ZETL_T_STRING, 1 } };
        char big[700], x[65], want[80];
        uint8_t h[32];
        char *parts[2];

        make(f, cols, 1);
        memset(big, 'k', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(zetl_batch_row_begin(f->b, ZETL_OP_INSERT, 1, &f->e), 0);
        assert_int_equal(zetl_batch_set_var(f->b, 0, big, 512, &f->e), 0);
        zetl_batch_row_end(f->b);
        assert_int_equal(zetl_batch_row_begin(f->b, ZETL_OP_INSERT, 1, &f->e), 0);
        assert_int_equal(zetl_batch_set_var(f->b, 0, big, 513, &f->e), 0);
        zetl_batch_row_end(f->b);
        /* Exactly 512 bytes is OpenSearch's limit: kept as it is. */
        assert_int_equal(os_doc_id(f->b, 0, &f->out, &f->e), 0);
        assert_int_equal(f->out.len, 512);
        assert_int_equal(os_doc_id(f->b, 1, &f->out, &f->e), 0);
        os_sha256(big, 513, h);
        hex(h, 32, x);
        snprintf(want, sizeof(want), "%%H%s", x);
        assert_string_equal(f->out.p, want);
        assert_int_equal(os_doc_id_split(f->out.p, parts, 2), -1);
}

static void test_id_needs_a_key(void **state)
{
        struct fx *f = *state;
        const struct tcol cols[] = { { "v", ZETL_T_INT32, 0 } };

        make(f, cols, 1);
        assert_int_equal(zetl_batch_row_begin(f->b, ZETL_OP_INSERT, 1, &f->e), 0);
        zetl_batch_row_end(f->b);
        assert_int_equal(os_doc_id(f->b, 0, &f->out, &f->e), ZETL_EINVAL);
        assert_non_null(strstr(f->e.msg, "primary key"));
}

/* ---- documents --------------------------------------------------------------- */

static void test_doc_all_types(void **state)
{
        struct fx *f = *state;
        const struct tcol cols[] = {
                { "id", ZETL_T_INT32, 1 },       { "b", ZETL_T_BOOL, 0 },
                { "i2", ZETL_T_INT16, 0 },       { "i8", ZETL_T_INT64, 0 },
                { "f4", ZETL_T_FLOAT32, 0 },     { "f8", ZETL_T_FLOAT64, 0 },
                { "nan", ZETL_T_FLOAT64, 0 },    { "inf", ZETL_T_FLOAT32, 0 },
                { "dec", ZETL_T_DECIMAL, 0 },    { "s", ZETL_T_STRING, 0 },
                { "by", ZETL_T_BYTES, 0 },       { "d", ZETL_T_DATE, 0 },
                { "t", ZETL_T_TIME, 0 },         { "ts", ZETL_T_TIMESTAMP, 0 },
                { "tz", ZETL_T_TIMESTAMPTZ, 0 }, { "u", ZETL_T_UUID, 0 },
                { "jo", ZETL_T_JSON, 0 },        { "ja", ZETL_T_JSON, 0 },
                { "n", ZETL_T_STRING, 0 },       { "q\"", ZETL_T_INT16, 0 },
        };
        const uint8_t uuid[16] = { 0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8,
                                   0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11 };
        const uint8_t bytes[2] = { 1, 2 };
        struct zetl_batch *b;
        int nunch;

        make(f, cols, 20);
        b = f->b;
        assert_int_equal(zetl_batch_row_begin(b, ZETL_OP_INSERT, 7, &f->e), 0);
        zetl_batch_set_i32(b, 0, 1);
        zetl_batch_set_bool(b, 1, true);
        zetl_batch_set_i16(b, 2, -32768);
        zetl_batch_set_i64(b, 3, INT64_MAX);
        zetl_batch_set_f32(b, 4, 0.1f);
        zetl_batch_set_f64(b, 5, 1e300);
        zetl_batch_set_f64(b, 6, 0.0 / 0.0);
        zetl_batch_set_f32(b, 7, -1.0f / 0.0f);
        assert_int_equal(zetl_batch_set_var(b, 8, "12.340", 6, &f->e), 0);
        assert_int_equal(zetl_batch_set_var(b, 9, "a\"b\\\n\x01\xc3\xa9", 8, &f->e), 0);
        assert_int_equal(zetl_batch_set_var(b, 10, bytes, 2, &f->e), 0);
        zetl_batch_set_i32(b, 11, 19782);                /* 2024-02-29 */
        zetl_batch_set_i64(b, 12, INT64_C(43200500000)); /* 12:00:00.5 */
        zetl_batch_set_i64(b, 13, INT64_C(1709208000000001));
        zetl_batch_set_i64(b, 14, 0);
        zetl_batch_set_uuid(b, 15, uuid);
        assert_int_equal(zetl_batch_set_var(b, 16, " {\"a\":\n1}", 9, &f->e), 0);
        assert_int_equal(zetl_batch_set_var(b, 17, "[1,2]", 5, &f->e), 0);
        zetl_batch_set_i16(b, 19, 3);
        zetl_batch_row_end(b);
        assert_int_equal(os_doc_build(&f->out, b, 0, &nunch, &f->e), 0);
        assert_int_equal(nunch, 0);
        assert_string_equal(
                f->out.p,
                "{\"id\":1,\"b\":true,\"i2\":-32768,\"i8\":9223372036854775807,\"f4\":0.1,"
                "\"f8\":1e+300,\"nan\":\"NaN\",\"inf\":\"-Infinity\",\"dec\":\"12.340\","
                "\"s\":\"a\\\"b\\\\\\n\\u0001\xc3\xa9\",\"by\":\"AQI=\",\"d\":\"2024-02-29\","
                "\"t\":\"12:00:00.500000\",\"ts\":\"2024-02-29T12:00:00.000001\","
                "\"tz\":\"1970-01-01T00:00:00Z\",\"u\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\","
                "\"jo\": {\"a\": 1},\"ja\":{\"value\":[1,2]},\"n\":null,\"q\\\"\":3}");
        /* The document is one line of valid JSON. */
        assert_null(strchr(f->out.p, '\n'));
        assert_true(os_json_valid(f->out.p, f->out.len));
}

static void test_doc_unchanged_and_bad_values(void **state)
{
        struct fx *f = *state;
        const struct tcol cols[] = { { "id", ZETL_T_INT32, 1 },
                                     { "big", ZETL_T_STRING, 0 },
                                     { "j", ZETL_T_JSON, 0 } };
        int nunch;

        make(f, cols, 3);
        assert_int_equal(zetl_batch_row_begin(f->b, ZETL_OP_UPDATE, 9, &f->e), 0);
        zetl_batch_set_i32(f->b, 0, 5);
        assert_int_equal(zetl_batch_set_unchanged(f->b, 1, &f->e), 0);
        zetl_batch_row_end(f->b);
        assert_int_equal(os_doc_build(&f->out, f->b, 0, &nunch, &f->e), 0);
        /* An unchanged value is left out, never written as null. */
        assert_string_equal(f->out.p, "{\"id\":5,\"j\":null}");
        assert_int_equal(nunch, 1);
        /* Invalid UTF-8 and invalid JSON text fail the document, naming the column. */
        assert_int_equal(zetl_batch_row_begin(f->b, ZETL_OP_INSERT, 9, &f->e), 0);
        zetl_batch_set_i32(f->b, 0, 6);
        assert_int_equal(zetl_batch_set_var(f->b, 1, "a\xff", 2, &f->e), 0);
        zetl_batch_row_end(f->b);
        os_buf_reset(&f->out);
        assert_int_equal(os_doc_build(&f->out, f->b, 1, &nunch, &f->e), ZETL_EINVAL);
        assert_non_null(strstr(f->e.msg, "\"big\""));
        assert_int_equal(zetl_batch_row_begin(f->b, ZETL_OP_INSERT, 9, &f->e), 0);
        zetl_batch_set_i32(f->b, 0, 7);
        assert_int_equal(zetl_batch_set_var(f->b, 2, "{\"a\":}", 6, &f->e), 0);
        zetl_batch_row_end(f->b);
        os_buf_reset(&f->out);
        assert_int_equal(os_doc_build(&f->out, f->b, 2, &nunch, &f->e), ZETL_EINVAL);
        assert_non_null(strstr(f->e.msg, "\"j\""));
}

static void test_json_valid_and_get(void **state)
{
        const char *doc = "{\"a\":1,\"b\":{\"c\":[1,\"}\"]},\"q\\\"\":null}";
        const char *v;
        size_t vl;
        const char *good = "  {\"a\": [1, -2.5e+3, true, null, \"\\u00e9\"], \"b\": {}} ";

        (void)state;
        assert_true(os_json_valid(good, strlen(good)));
        assert_false(os_json_valid(good, strlen(good) - 3));
        assert_true(os_json_valid("0", 1));
        assert_false(os_json_valid("01", 2));
        assert_false(os_json_valid("{\"a\":1,}", 8));
        assert_false(os_json_valid("[1] 2", 5));
        assert_false(os_json_valid("\"\x01\"", 3));
        assert_false(os_json_valid("\"\\x\"", 4));
        assert_false(os_json_valid("", 0));
        assert_int_equal(os_json_get(doc, strlen(doc), "b", &v, &vl), 1);
        assert_int_equal(vl, strlen("{\"c\":[1,\"}\"]}"));
        assert_memory_equal(v, "{\"c\":[1,\"}\"]}", vl);
        assert_int_equal(os_json_get(doc, strlen(doc), "q\\\"", &v, &vl), 1);
        assert_memory_equal(v, "null", 4);
        assert_int_equal(os_json_get(doc, strlen(doc), "c", &v, &vl), 0);
        assert_int_equal(os_json_get("[1]", 3, "a", &v, &vl), -1);
}

/* ---- mappings -------------------------------------------------------------------- */

static const char *type_of(json_t *m, const char *field)
{
        return json_string_value(json_object_get(json_object_get(m, field), "type"));
}

static void test_mapping(void **state)
{
        struct fx *f = *state;
        const struct tcol cols[] = {
                { "id", ZETL_T_STRING, 1 },      { "s", ZETL_T_STRING, 0 },
                { "i2", ZETL_T_INT16, 0 },       { "i4", ZETL_T_INT32, 0 },
                { "i8", ZETL_T_INT64, 0 },       { "f4", ZETL_T_FLOAT32, 0 },
                { "f8", ZETL_T_FLOAT64, 0 },     { "dec", ZETL_T_DECIMAL, 0 },
                { "bo", ZETL_T_BOOL, 0 },        { "d", ZETL_T_DATE, 0 },
                { "ts", ZETL_T_TIMESTAMPTZ, 0 }, { "t", ZETL_T_TIME, 0 },
                { "by", ZETL_T_BYTES, 0 },       { "u", ZETL_T_UUID, 0 },
                { "j", ZETL_T_JSON, 0 },
        };
        json_t *m, *p, *meta;

        make(f, cols, 15);
        m = os_mapping(f->s, OS_JSON_OBJECT, 42);
        assert_non_null(m);
        assert_string_equal(json_string_value(json_object_get(m, "dynamic")), "strict");
        p = json_object_get(m, "properties");
        assert_string_equal(type_of(p, "id"), "keyword");
        assert_string_equal(type_of(p, "s"), "text");
        assert_string_equal(type_of(json_object_get(json_object_get(p, "s"), "fields"), "keyword"),
                            "keyword");
        assert_string_equal(type_of(p, "i2"), "short");
        assert_string_equal(type_of(p, "i4"), "integer");
        assert_string_equal(type_of(p, "i8"), "long");
        assert_string_equal(type_of(p, "f4"), "float");
        assert_string_equal(type_of(p, "f8"), "double");
        /* Decimals stay exact text, with a double sub-field for ranges. */
        assert_string_equal(type_of(p, "dec"), "keyword");
        assert_string_equal(type_of(json_object_get(json_object_get(p, "dec"), "fields"), "num"),
                            "double");
        assert_string_equal(type_of(p, "bo"), "boolean");
        assert_string_equal(type_of(p, "d"), "date");
        assert_string_equal(json_string_value(json_object_get(json_object_get(p, "d"), "format")),
                            "strict_date");
        assert_string_equal(type_of(p, "ts"), "date");
        assert_string_equal(type_of(p, "t"), "keyword");
        assert_string_equal(type_of(p, "by"), "binary");
        assert_string_equal(type_of(p, "u"), "keyword");
        assert_string_equal(type_of(p, "j"), "object");
        meta = json_object_get(json_object_get(m, "_meta"), "zetl");
        assert_string_equal(json_string_value(json_object_get(meta, "table")), "db.public.t");
        assert_string_equal(json_string_value(json_object_get(meta, "truncated_at")), "42");
        assert_string_equal(
                json_string_value(json_object_get(json_object_get(meta, "columns"), "dec")),
                "decimal");
        json_decref(m);
        m = os_mapping(f->s, OS_JSON_FLAT, 0);
        assert_string_equal(type_of(json_object_get(m, "properties"), "j"), "flat_object");
        json_decref(m);

        assert_true(os_type_keeps_values(ZETL_T_INT16, ZETL_T_INT64));
        assert_true(os_type_keeps_values(ZETL_T_INT32, ZETL_T_FLOAT64));
        assert_false(os_type_keeps_values(ZETL_T_INT64, ZETL_T_INT32));
        assert_false(os_type_keeps_values(ZETL_T_INT64, ZETL_T_FLOAT64));
        assert_false(os_type_keeps_values(ZETL_T_INT32, ZETL_T_STRING));
        assert_true(os_type_keeps_values(ZETL_T_DECIMAL, ZETL_T_DECIMAL));
}

/* ---- bulk ---------------------------------------------------------------------- */

static void test_bulk_action(void **state)
{
        struct os_buf b = { 0 };

        (void)state;
        assert_int_equal(os_bulk_action(&b, OS_ACT_INDEX, "db.t_v1", "a\"b", UINT64_MAX), 0);
        assert_int_equal(os_bulk_action(&b, OS_ACT_DELETE, "db.t_v1", "7", 0), 0);
        assert_string_equal(b.p,
                            "{\"index\":{\"_index\":\"db.t_v1\",\"_id\":\"a\\\"b\","
                            "\"version\":18446744073709551615,\"version_type\":\"external\"}}\n"
                            "{\"delete\":{\"_index\":\"db.t_v1\",\"_id\":\"7\","
                            "\"version\":0,\"version_type\":\"external\"}}\n");
        os_buf_free(&b);
}

static void test_item_fate(void **state)
{
        (void)state;
        assert_int_equal(os_item_fate(201, NULL, OS_ACT_INDEX), OS_FATE_OK);
        assert_int_equal(os_item_fate(200, NULL, OS_ACT_DELETE), OS_FATE_OK);
        assert_int_equal(os_item_fate(409, "version_conflict_engine_exception", OS_ACT_INDEX),
                         OS_FATE_OK);
        assert_int_equal(os_item_fate(404, NULL, OS_ACT_DELETE), OS_FATE_OK);
        assert_int_equal(os_item_fate(404, "index_not_found_exception", OS_ACT_INDEX),
                         OS_FATE_DEAD);
        assert_int_equal(os_item_fate(429, "es_rejected_execution_exception", OS_ACT_INDEX),
                         OS_FATE_RETRY);
        assert_int_equal(os_item_fate(503, "unavailable_shards_exception", OS_ACT_DELETE),
                         OS_FATE_RETRY);
        assert_int_equal(os_item_fate(400, "mapper_parsing_exception", OS_ACT_INDEX), OS_FATE_DEAD);
}

static void test_bulk_parse(void **state)
{
        const char *ok = "{\"took\":3,\"errors\":false,\"items\":[{\"index\":{\"status\":201}},"
                         "{\"delete\":{\"status\":404,\"result\":\"not_found\"}}]}";
        const char *mixed =
                "{\"took\":3,\"errors\":true,\"items\":["
                "{\"index\":{\"_id\":\"1\",\"status\":201,\"result\":\"created\"}},"
                "{\"index\":{\"_id\":\"2\",\"status\":409,\"error\":{\"type\":"
                "\"version_conflict_engine_exception\",\"reason\":\"[2]: version conflict\"}}},"
                "{\"index\":{\"_id\":\"3\",\"status\":429,\"error\":{\"type\":"
                "\"es_rejected_execution_exception\",\"reason\":\"busy\"}}},"
                "{\"index\":{\"_id\":\"4\",\"status\":400,\"error\":{\"type\":"
                "\"mapper_parsing_exception\",\"reason\":\"failed to parse field [a]\"}}}]}";
        enum os_action_kind kinds[4] = { OS_ACT_INDEX, OS_ACT_DELETE, OS_ACT_INDEX, OS_ACT_INDEX };
        struct os_item it[4];
        struct zetl_err e;
        char buf[128];

        (void)state;
        assert_int_equal(os_bulk_parse(ok, strlen(ok), 2, kinds, it, &e), 0);
        assert_int_equal(it[0].fate, OS_FATE_OK);
        assert_int_equal(it[1].fate, OS_FATE_OK);
        kinds[1] = OS_ACT_INDEX;
        assert_int_equal(os_bulk_parse(mixed, strlen(mixed), 4, kinds, it, &e), 0);
        assert_int_equal(it[0].fate, OS_FATE_OK);
        assert_int_equal(it[1].fate, OS_FATE_OK);
        assert_int_equal(it[2].fate, OS_FATE_RETRY);
        assert_int_equal(it[3].fate, OS_FATE_DEAD);
        assert_int_equal(it[3].status, 400);
        assert_non_null(strstr(it[3].error, "mapper_parsing_exception"));
        for (int i = 0; i < 4; i++)
                free(it[i].error);
        /* A response that does not match the request is an error, not a guess. */
        assert_int_equal(os_bulk_parse(mixed, strlen(mixed), 3, kinds, it, &e), ZETL_EPROTO);
        assert_int_equal(os_bulk_parse("nope", 4, 1, kinds, it, &e), ZETL_EPROTO);
        const char *eb = "{\"error\":{\"type\":\"x_exception\",\"reason\":\"why\"},\"status\":400}";
        assert_string_equal(os_error_text(eb, strlen(eb), buf, sizeof(buf)), "x_exception: why");
        assert_string_equal(os_error_text("Unauthorized", 12, buf, sizeof(buf)), "Unauthorized");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sha256_vectors),
                cmocka_unit_test(test_index_names),
                cmocka_unit_test_setup_teardown(test_id_single_key, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_id_composite, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_id_long_is_hashed, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_id_needs_a_key, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_doc_all_types, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_doc_unchanged_and_bad_values, fx_setup,
                                                fx_teardown),
                cmocka_unit_test(test_json_valid_and_get),
                cmocka_unit_test_setup_teardown(test_mapping, fx_setup, fx_teardown),
                cmocka_unit_test(test_bulk_action),
                cmocka_unit_test(test_item_fate),
                cmocka_unit_test(test_bulk_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
