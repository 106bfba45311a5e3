/*
 * libFuzzer target for PostgreSQL's value decoders (connectors/postgres/pg_types.h).
 *
 * Input: the first byte picks a column type among the built-in OIDs, their
 * array types, a few text-only types and a few user types described by a
 * pg_type row (an enum, a domain, arrays of them, an array with ';' as its
 * delimiter); the rest is one value, decoded both as PostgreSQL's binary form
 * (pg_decode_binary) and as its text form (pg_decode_text) into a fresh
 * one-column batch of the type pg_type_map gives. An empty value is also
 * decoded as SQL NULL.
 *
 * Checked, from pg_types.h: a refusal is one of the documented codes, fatal,
 * with a message, and leaves the cell NULL; an accepted decimal is canonical
 * text (zetl_decimal_valid); an array, whose JSON the decoder writes itself,
 * parses as JSON whenever the input is valid UTF-8 and its elements are not
 * json or jsonb (those are embedded as the server sent them).
 *
 * Seeds: ZETL_FUZZ_WRITE_SEEDS=<dir> writes values from tests/unit/test_pg_types.c
 * (text as PostgreSQL prints it, binary as its send functions write it) into
 * <dir> and exits; tests/fuzz/corpus/fuzz_pg_types was made that way.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "../../connectors/postgres/pg_types.h"
#include "zetl/batch.h"
#include "zetl/schema.h"
#include "zetl/value.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* User types, as pg_catalog would describe them. */
#define OID_MOOD       16390u /* enum */
#define OID_MOOD_ARRAY 16391u
#define OID_PRICE      16392u /* domain over numeric(10,2) */
#define OID_PRICE_ARR  16393u
#define OID_BOXES      16394u /* an array of box: elements separated by ';' */

static const struct pg_type_info mood = {
        .oid = OID_MOOD, .typtype = 'e', .typcategory = 'E', .typdelim = ','
};
static const struct pg_type_info mood_array = { .oid = OID_MOOD_ARRAY,
                                                .typtype = 'b',
                                                .typcategory = 'A',
                                                .typdelim = ',',
                                                .typelem = OID_MOOD,
                                                .elem = &mood };
static const struct pg_type_info price = { .oid = OID_PRICE,
                                           .typtype = 'd',
                                           .typcategory = 'N',
                                           .typdelim = ',',
                                           .typbasetype = PG_OID_NUMERIC,
                                           .typtypmod = ((10 << 16) | 2) + 4 };
static const struct pg_type_info price_array = { .oid = OID_PRICE_ARR,
                                                 .typtype = 'b',
                                                 .typcategory = 'A',
                                                 .typdelim = ',',
                                                 .typelem = OID_PRICE,
                                                 .elem = &price };
static const struct pg_type_info boxes = {
        .oid = OID_BOXES, .typtype = 'b', .typcategory = 'A', .typdelim = ',', .typelem = PG_OID_BOX
};

struct fuzz_type {
        uint32_t oid;
        const struct pg_type_info *info;
};

/* Every built-in type pg_types knows and its array, then the text-only and user types. */
static const struct fuzz_type types[] = {
        { PG_OID_BOOL, NULL },        { 1000, NULL },
        { PG_OID_BYTEA, NULL },       { 1001, NULL },
        { PG_OID_CHAR, NULL },        { 1002, NULL },
        { PG_OID_NAME, NULL },        { 1003, NULL },
        { PG_OID_INT8, NULL },        { 1016, NULL },
        { PG_OID_INT2, NULL },        { 1005, NULL },
        { PG_OID_INT4, NULL },        { 1007, NULL },
        { PG_OID_TEXT, NULL },        { 1009, NULL },
        { PG_OID_OID, NULL },         { 1028, NULL },
        { PG_OID_JSON, NULL },        { 199, NULL },
        { PG_OID_CIDR, NULL },        { 651, NULL },
        { PG_OID_FLOAT4, NULL },      { 1021, NULL },
        { PG_OID_FLOAT8, NULL },      { 1022, NULL },
        { PG_OID_MACADDR8, NULL },    { 775, NULL },
        { PG_OID_MONEY, NULL },       { 791, NULL },
        { PG_OID_MACADDR, NULL },     { 1040, NULL },
        { PG_OID_INET, NULL },        { 1041, NULL },
        { PG_OID_BPCHAR, NULL },      { 1014, NULL },
        { PG_OID_VARCHAR, NULL },     { 1015, NULL },
        { PG_OID_DATE, NULL },        { 1182, NULL },
        { PG_OID_TIME, NULL },        { 1183, NULL },
        { PG_OID_TIMESTAMP, NULL },   { 1115, NULL },
        { PG_OID_TIMESTAMPTZ, NULL }, { 1185, NULL },
        { PG_OID_INTERVAL, NULL },    { 1187, NULL },
        { PG_OID_TIMETZ, NULL },      { 1270, NULL },
        { PG_OID_NUMERIC, NULL },     { 1231, NULL },
        { PG_OID_UUID, NULL },        { 2951, NULL },
        { PG_OID_JSONB, NULL },       { 3807, NULL },
        { PG_OID_INT2VECTOR, NULL },  { PG_OID_OIDVECTOR, NULL },
        { PG_OID_BOX, NULL },         { PG_OID_TSVECTOR, NULL },
        { OID_MOOD, &mood },          { OID_MOOD_ARRAY, &mood_array },
        { OID_PRICE, &price },        { OID_PRICE_ARR, &price_array },
        { OID_BOXES, &boxes },
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

/* Decode value p[0..len) (len -1: NULL) one way and check the outcome. */
static void decode_one(struct zetl_batch *b, const struct pg_col_decoder *d, bool text,
                       const uint8_t *p, int len, bool utf8)
{
        struct zetl_err err = { 0 };
        int rc;

        CHECK(zetl_batch_row_begin(b, ZETL_OP_INSERT, 1, &err) == 0);
        rc = text ? pg_decode_text(b, 0, d, (const char *)p, len, &err)
                  : pg_decode_binary(b, 0, d, (const char *)p, len, &err);
        if (rc != 0) {
                CHECK(rc == ZETL_EPROTO || rc == ZETL_EUNSUPPORTED || rc == ZETL_ELIMIT ||
                      rc == ZETL_ENOMEM);
                CHECK(err.code == rc && err.cls == ZETL_ERRC_FATAL && err.msg[0] != '\0');
                CHECK(zetl_batch_is_null(b, 0, b->nrows));
                zetl_batch_row_abort(b);
                return;
        }
        zetl_batch_row_end(b);
        if (len < 0) {
                CHECK(zetl_batch_is_null(b, 0, b->nrows - 1));
                return;
        }
        CHECK(!zetl_batch_is_null(b, 0, b->nrows - 1));
        if (zetl_type_storage(d->type) != ZETL_ST_VAR)
                return;

        size_t n;
        const uint8_t *v = zetl_batch_get_var(b, 0, b->nrows - 1, &n);

        CHECK(n <= ZETL_VALUE_MAX_BYTES);
        if (d->type == ZETL_T_DECIMAL)
                CHECK(zetl_decimal_valid((const char *)v, n));
        if (d->wire == PG_W_ARRAY && utf8 && d->elem_wire != PG_W_JSON &&
            d->elem_wire != PG_W_JSONB) {
                json_error_t je;
                json_t *j = json_loadb((const char *)v, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);

                if (!j)
                        fprintf(stderr, "array JSON does not parse: %s: %.*s\n", je.text,
                                (int)(n > 400 ? 400 : n), (const char *)v);
                CHECK(j != NULL);
                CHECK(json_is_array(j));
                json_decref(j);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const struct fuzz_type *t;
        struct zetl_table_id id;
        struct zetl_column col = { .name = "c", .nullable = true };
        struct zetl_err err = { 0 };
        struct pg_col_decoder d;
        struct zetl_schema *s;
        struct zetl_batch *b;
        const uint8_t *p;
        int len;
        bool utf8;
        int rc;

        if (size < 1 || size - 1 > (size_t)INT32_MAX)
                return 0;
        t = &types[data[0] % NTYPES];
        p = data + 1;
        len = (int)(size - 1);
        utf8 = valid_utf8(p, (size_t)len);

        rc = pg_type_map(t->oid, -1, t->info, &col, &err);
        CHECK(rc == 0 || rc == PG_TYPE_TEXT_ONLY);
        CHECK(pg_col_decoder_init(&d, t->oid, t->info, &err) == 0);
        CHECK(d.type == col.type);
        CHECK(d.binary == (rc == 0));

        CHECK(zetl_table_id_set(&id, "db", "public", "t") == 0);
        s = zetl_schema_new(&id, 1);
        CHECK(s != NULL);
        CHECK(zetl_schema_set_col(s, 0, &col) == 0);
        CHECK(zetl_schema_finish(s, &err) == 0);
        b = zetl_batch_new(s, 0);
        CHECK(b != NULL);

        decode_one(b, &d, false, p, len, utf8);
        decode_one(b, &d, true, p, len, utf8);
        if (len == 0) {
                decode_one(b, &d, false, NULL, -1, utf8);
                decode_one(b, &d, true, NULL, -1, utf8);
        }

        zetl_batch_free(b);
        zetl_schema_unref(s);
        return 0;
}

/* ---- seeds ------------------------------------------------------------------------ */

static const char *seed_dir;
static int seed_no;

static uint8_t type_index(uint32_t oid)
{
        for (size_t i = 0; i < NTYPES; i++)
                if (types[i].oid == oid)
                        return (uint8_t)i;
        fprintf(stderr, "no type %u in the table\n", oid);
        exit(1);
}

static void put_seed(uint32_t oid, const void *p, size_t n)
{
        char path[4096];
        uint8_t ti = type_index(oid);
        FILE *f;

        snprintf(path, sizeof(path), "%s/%03d_%u", seed_dir, seed_no++, oid);
        f = fopen(path, "wb");
        if (!f || fwrite(&ti, 1, 1, f) != 1 || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
                perror(path);
                exit(1);
        }
}

static void text_seed(uint32_t oid, const char *s)
{
        put_seed(oid, s, strlen(s));
}

static void bin_seed(uint32_t oid, const struct wbuf *w)
{
        put_seed(oid, w->b, w->n);
}

/* Binary numeric: ndigits, weight, sign, dscale, then the base-10000 digits. */
static struct wbuf numeric(int16_t weight, uint16_t sign, uint16_t dscale, int n, const int *digits)
{
        struct wbuf w = { .n = 0 };

        w16(&w, (uint16_t)n);
        w16(&w, (uint16_t)weight);
        w16(&w, sign);
        w16(&w, dscale);
        for (int i = 0; i < n; i++)
                w16(&w, (uint16_t)digits[i]);
        return w;
}

/* Binary one-dimensional array header. */
static void array_hdr(struct wbuf *w, uint32_t elem, int nelems, bool hasnull)
{
        w->n = 0;
        w32(w, 1);
        w32(w, hasnull);
        w32(w, elem);
        w32(w, (uint32_t)nelems);
        w32(w, 1);
}

static void array_el(struct wbuf *w, const void *p, int32_t len)
{
        w32(w, (uint32_t)len);
        if (len > 0)
                wbytes(w, p, (size_t)len);
}

static void write_seeds(void)
{
        static const struct {
                uint32_t oid;
                const char *text;
        } texts[] = {
                { PG_OID_BOOL, "t" },
                { PG_OID_INT2, "-32768" },
                { PG_OID_INT4, "258" },
                { PG_OID_INT8, "-9223372036854775808" },
                { PG_OID_OID, "4294967295" },
                { PG_OID_FLOAT4, "0.1" },
                { PG_OID_FLOAT8, "1e+15" },
                { PG_OID_FLOAT8, "-Infinity" },
                { PG_OID_FLOAT8, "5e-324" },
                { PG_OID_NUMERIC,
                  "-123456789012345678901234567890.123456789012345678901234567890" },
                { PG_OID_NUMERIC, "007.50" },
                { PG_OID_NUMERIC, "NaN" },
                { PG_OID_MONEY, "-$92,233,720,368,547,758.08" },
                { PG_OID_MONEY, "$1,234.56" },
                { PG_OID_TEXT, "h\xc3\xa9llo" },
                { PG_OID_CHAR, "\\303" },
                { PG_OID_BYTEA, "\\x0102fF00" },
                { PG_OID_BYTEA, "a\\\\b\\001\\377" },
                { PG_OID_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" },
                { PG_OID_JSONB, "{\"a\": 1}" },
                { PG_OID_DATE, "2024-02-29" },
                { PG_OID_DATE, "0044-03-15 BC" },
                { PG_OID_DATE, "infinity" },
                { PG_OID_TIME, "24:00:00" },
                { PG_OID_TIMETZ, "04:05:06.789-08" },
                { PG_OID_TIMESTAMP, "2024-01-02 03:04:05.5" },
                { PG_OID_TIMESTAMPTZ, "2024-01-02 08:34:05.123456+05:30" },
                { PG_OID_TIMESTAMPTZ, "294247-01-10 04:00:54.775806+00" },
                { PG_OID_INTERVAL, "P-1Y-2M3DT-4H-5M-6.5S" },
                { PG_OID_INTERVAL, "PT0S" },
                { PG_OID_INET, "2001:db8::1/64" },
                { PG_OID_CIDR, "10.0.0.0/8" },
                { PG_OID_MACADDR, "08:00:2b:01:02:03" },
                { PG_OID_MACADDR8, "08:00:2b:01:02:03:04:05" },
                { PG_OID_TSVECTOR, "'a' 'b'" },
                { PG_OID_INT4_ARRAY, "{{1,2},{3,4}}" },
                { PG_OID_INT4_ARRAY, "[0:2]={1,2,3}" },
                { PG_OID_TEXT_ARRAY, "{\"a b\",\"x\\\"y\\\\\",\"\",NULL,\"NULL\"}" },
                { PG_OID_TEXT_ARRAY, "{a\\,b,\\\"q}" },
                { PG_OID_NUMERIC_ARRAY, "{1.50,NaN,NULL}" },
                { 1022, "{1.5,NaN,-Infinity,1e+15,1e-05,-0,0.0001}" },
                { PG_OID_TIMESTAMPTZ_ARRAY, "{\"2000-01-01 00:00:00+00\",infinity,NULL}" },
                { PG_OID_BOOL_ARRAY, "{t,f,NULL}" },
                { 1001, "{\"\\\\x0102\"}" },
                { 199, "{\"{\\\"a\\\": 1}\"}" },
                { 1187, "{PT1S,P1D}" },
                { OID_MOOD, "happy" },
                { OID_MOOD_ARRAY, "{happy,sad}" },
                { OID_PRICE, "12.50" },
                { OID_PRICE_ARR, "{1.00,2.50}" },
                { OID_BOXES, "{(1,1),(0,0);(2,2),(1,1)}" },
        };
        struct wbuf w = { .n = 0 };

        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
                text_seed(texts[i].oid, texts[i].text);

        w.n = 0;
        w32(&w, 258);
        bin_seed(PG_OID_INT4, &w);
        w.n = 0;
        w64(&w, UINT64_C(0x8000000000000000));
        bin_seed(PG_OID_INT8, &w);
        w.n = 0;
        w64(&w, UINT64_C(0x430c6bf526340000));
        bin_seed(PG_OID_FLOAT8, &w);
        w.n = 0;
        w64(&w, UINT64_C(0xfffffffffffe1dc0));
        bin_seed(PG_OID_MONEY, &w);
        w.n = 0;
        w32(&w, 0xffffd533);
        bin_seed(PG_OID_DATE, &w);
        w.n = 0;
        w64(&w, UINT64_C(0x7fffffffffffffff));
        bin_seed(PG_OID_TIMESTAMPTZ, &w);
        w.n = 0;
        wbytes(&w, "\x00\x00\x00\x03\x6c\x93\x61\xa0\xff\xff\xb2\xa8", 12);
        bin_seed(PG_OID_TIMETZ, &w);
        w.n = 0;
        w64(&w, (uint64_t)-6500000); /* interval: µs, days, months */
        w32(&w, 3);
        w32(&w, (uint32_t)-14);
        bin_seed(PG_OID_INTERVAL, &w);
        w.n = 0;
        wbytes(&w,
               "\x03\x80\x00\x10\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01",
               20);
        bin_seed(PG_OID_INET, &w);
        w.n = 0;
        wbytes(&w, "\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11", 16);
        bin_seed(PG_OID_UUID, &w);
        w.n = 0;
        wbytes(&w, "\x01{\"a\": 1}", 9);
        bin_seed(PG_OID_JSONB, &w);

        static const int d1[] = { 12, 3456, 7890, 1234, 5678, 9012, 3456, 7890, 1234, 5678, 9000 };
        w = numeric(2, 0x4000, 30, 11, d1);
        bin_seed(PG_OID_NUMERIC, &w);
        static const int d2[] = { 1, 5000 };
        w = numeric(0, 0x0000, 2, 2, d2);
        bin_seed(PG_OID_NUMERIC, &w);
        w = numeric(0, 0xD000, 0, 0, NULL);
        bin_seed(PG_OID_NUMERIC, &w);

        uint8_t el[4];
        array_hdr(&w, PG_OID_INT4, 3, true);
        memcpy(el, "\x00\x00\x00\x01", 4);
        array_el(&w, el, 4);
        array_el(&w, NULL, -1);
        memcpy(el, "\xff\xff\xff\xfb", 4);
        array_el(&w, el, 4);
        bin_seed(PG_OID_INT4_ARRAY, &w);

        array_hdr(&w, PG_OID_TEXT, 4, false);
        array_el(&w, "a b", 3);
        array_el(&w, "x\"y\\", 4);
        array_el(&w, "\n\t\x01", 3);
        array_el(&w, "\xe6\x97\xa5", 3);
        bin_seed(PG_OID_TEXT_ARRAY, &w);

        struct wbuf n1 = numeric(0, 0x0000, 2, 2, d2);
        array_hdr(&w, PG_OID_NUMERIC, 2, true);
        array_el(&w, n1.b, (int32_t)n1.n);
        array_el(&w, NULL, -1);
        bin_seed(PG_OID_NUMERIC_ARRAY, &w);

        array_hdr(&w, PG_OID_FLOAT8, 2, false);
        w32(&w, 8);
        w64(&w, UINT64_C(0x7ff8000000000000));
        w32(&w, 8);
        w64(&w, UINT64_C(0x3ee4f8b588e368f1));
        bin_seed(1022, &w);

        /* Two dimensions: {{1,2},{3,4}}. */
        w.n = 0;
        w32(&w, 2);
        w32(&w, 0);
        w32(&w, PG_OID_INT4);
        w32(&w, 2);
        w32(&w, 1);
        w32(&w, 2);
        w32(&w, 1);
        for (uint32_t i = 1; i <= 4; i++) {
                w32(&w, 4);
                w32(&w, i);
        }
        bin_seed(PG_OID_INT4_ARRAY, &w);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        seed_dir = getenv("ZETL_FUZZ_WRITE_SEEDS");
        if (seed_dir) {
                write_seeds();
                exit(0);
        }
        return 0;
}
