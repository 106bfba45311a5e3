/*
 * Unit tests for connectors/postgres/pg_types: the type mapping, and every
 * binary decoder against golden byte strings written by hand from
 * PostgreSQL's documented send/recv formats, the text decoders against the
 * text PostgreSQL prints for the same values (the cells must be
 * byte-identical), every truncation of every fixed-structure golden buffer,
 * and random bytes (run under ASan/UBSan: nothing may read out of bounds).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../connectors/postgres/pg_types.h"
#include "zetl/batch.h"
#include "zetl/schema.h"

/* One column per logical type, column i of type i, so a decoder's type is its column. */
static struct zetl_schema *S;
static struct zetl_batch *B;
static struct zetl_err E;
static int last_col;
static uint8_t cellbuf[1 << 16];

#define BY(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

static int setup(void **state)
{
        struct zetl_table_id id;
        char name[32];

        (void)state;
        zetl_table_id_set(&id, "db", "public", "t");
        S = zetl_schema_new(&id, ZETL_T__COUNT);
        for (int i = 0; i < ZETL_T__COUNT; i++) {
                struct zetl_column c = { .name = name,
                                         .type = (enum zetl_type)i,
                                         .nullable = true };
                snprintf(name, sizeof(name), "c%d", i);
                if (zetl_schema_set_col(S, i, &c))
                        return -1;
        }
        if (zetl_schema_finish(S, &E))
                return -1;
        B = zetl_batch_new(S, 0);
        return B ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        zetl_batch_free(B);
        zetl_schema_unref(S);
        return 0;
}

static struct pg_col_decoder decoder(uint32_t oid)
{
        struct pg_col_decoder d;

        assert_int_equal(pg_col_decoder_init(&d, oid, NULL, &E), 0);
        return d;
}

/* Decode one value into a fresh row; returns the decoder's code. */
static int dec_with(const struct pg_col_decoder *d, bool text, const void *p, int len)
{
        zetl_batch_reset(B);
        assert_int_equal(zetl_batch_row_begin(B, ZETL_OP_INSERT, 0, &E), 0);
        memset(&E, 0, sizeof(E));
        int rc = text ? pg_decode_text(B, (int)d->type, d, p, len, &E)
                      : pg_decode_binary(B, (int)d->type, d, p, len, &E);
        zetl_batch_row_end(B);
        last_col = (int)d->type;
        if (rc)
                assert_true(E.msg[0] != '\0'); /* every failure says why */
        return rc;
}

static int dec(bool text, uint32_t oid, const void *p, int len)
{
        struct pg_col_decoder d = decoder(oid);
        return dec_with(&d, text, p, len);
}

/* The cell just decoded, as bytes (SIZE_MAX for NULL). */
static size_t cell(uint8_t *out)
{
        size_t len;
        int col = last_col;

        if (zetl_batch_is_null(B, col, 0))
                return SIZE_MAX;
        switch (zetl_type_storage(S->cols[col].type)) {
        case ZETL_ST_BIT:
                out[0] = zetl_batch_get_bool(B, col, 0);
                return 1;
        case ZETL_ST_FIXED:
                len = zetl_type_width(S->cols[col].type);
                memcpy(out, B->cols[col].values, len);
                return len;
        case ZETL_ST_VAR:
        default: {
                const uint8_t *p = zetl_batch_get_var(B, col, 0, &len);
                assert_true(len < sizeof(cellbuf));
                memcpy(out, p, len);
                return len;
        }
        }
}

static const char *got(void)
{
        size_t n = cell(cellbuf);

        assert_true(n != SIZE_MAX);
        cellbuf[n] = '\0';
        return (const char *)cellbuf;
}

static void ok_bin(uint32_t oid, const uint8_t *p, size_t len)
{
        int rc = dec(false, oid, p, (int)len);
        if (rc)
                fail_msg("binary decode of type %u failed: %s", oid, E.msg);
}

static void ok_text(uint32_t oid, const char *s)
{
        int rc = dec(true, oid, s, (int)strlen(s));
        if (rc)
                fail_msg("text decode of type %u \"%s\" failed: %s", oid, s, E.msg);
}

/* Every shorter prefix of a fixed-structure value is refused. */
static void truncations(uint32_t oid, const uint8_t *p, size_t len)
{
        for (size_t l = 0; l < len; l++)
                if (dec(false, oid, p, (int)l) == 0)
                        fail_msg("type %u: a %zu-byte prefix of %zu bytes was accepted", oid, l,
                                 len);
}

/*
 * The binary value p decodes to want, the text decodes to the very same
 * cell, and no truncation of p is accepted.
 */
static void both_str(uint32_t oid, const uint8_t *p, size_t len, const char *text, const char *want)
{
        ok_bin(oid, p, len);
        assert_string_equal(got(), want);
        if (text) {
                ok_text(oid, text);
                assert_string_equal(got(), want);
        }
        truncations(oid, p, len);
}

/* Same for fixed-width cells: the binary and text cells are byte-identical. */
static void both_fixed(uint32_t oid, const uint8_t *p, size_t len, const char *text,
                       const void *want, size_t wlen)
{
        uint8_t a[16], t[16];

        ok_bin(oid, p, len);
        assert_int_equal(cell(a), wlen);
        assert_memory_equal(a, want, wlen);
        if (text) {
                ok_text(oid, text);
                assert_int_equal(cell(t), wlen);
                assert_memory_equal(t, want, wlen);
        }
        truncations(oid, p, len);
}

static void bad_bin(uint32_t oid, const uint8_t *p, size_t len, int code)
{
        if (dec(false, oid, p, (int)len) != code)
                fail_msg("type %u: expected %d, got %d (%s)", oid, code, E.code, E.msg);
        assert_true(zetl_batch_is_null(B, last_col, 0)); /* the cell stays unset */
}

static void bad_text(uint32_t oid, const char *s, int code)
{
        int rc = dec(true, oid, s, (int)strlen(s));
        if (rc != code)
                fail_msg("type %u text \"%s\": expected %d, got %d (%s)", oid, s, code, rc, E.msg);
        assert_true(zetl_batch_is_null(B, last_col, 0));
}

/* ---- byte builders ----------------------------------------------------------- */

struct wb {
        uint8_t b[2048];
        size_t n;
};

static void w16(struct wb *w, uint16_t v)
{
        w->b[w->n++] = (uint8_t)(v >> 8);
        w->b[w->n++] = (uint8_t)v;
}

static void w32(struct wb *w, uint32_t v)
{
        w16(w, (uint16_t)(v >> 16));
        w16(w, (uint16_t)v);
}

static void w64(struct wb *w, uint64_t v)
{
        w32(w, (uint32_t)(v >> 32));
        w32(w, (uint32_t)v);
}

static void wraw(struct wb *w, const void *p, size_t n)
{
        memcpy(w->b + w->n, p, n);
        w->n += n;
}

/* numeric_send: ndigits, weight, sign, dscale, then the base-10000 digits. */
static struct wb num(int weight, unsigned sign, int dscale, int ndigits, ...)
{
        struct wb w = { .n = 0 };
        va_list ap;

        w16(&w, (uint16_t)ndigits);
        w16(&w, (uint16_t)weight);
        w16(&w, (uint16_t)sign);
        w16(&w, (uint16_t)dscale);
        va_start(ap, ndigits);
        for (int i = 0; i < ndigits; i++)
                w16(&w, (uint16_t)va_arg(ap, int));
        va_end(ap);
        return w;
}

/* array_send header for a one- or two-dimensional array (dim2 0: one dimension). */
static void arr_hdr(struct wb *w, int flags, uint32_t elem, int32_t dim1, int32_t dim2)
{
        w32(w, dim2 ? 2 : 1);
        w32(w, (uint32_t)flags);
        w32(w, elem);
        w32(w, (uint32_t)dim1);
        w32(w, 1);
        if (dim2) {
                w32(w, (uint32_t)dim2);
                w32(w, 1);
        }
}

static void arr_el(struct wb *w, const void *p, int32_t len)
{
        w32(w, (uint32_t)len);
        if (len > 0)
                wraw(w, p, (size_t)len);
}

static void arr_i32(struct wb *w, int32_t v)
{
        w32(w, 4);
        w32(w, (uint32_t)v);
}

static void arr_i64(struct wb *w, uint64_t v)
{
        w32(w, 8);
        w64(w, v);
}

/* ---- mapping --------------------------------------------------------------------- */

static void map(uint32_t oid, int32_t typmod, const struct pg_type_info *info, int want_rc,
                enum zetl_type t, int32_t prec, int32_t scale)
{
        struct zetl_column c = { .name = "x", .key_pos = 3 };
        int rc = pg_type_map(oid, typmod, info, &c, &E);

        if (rc != want_rc)
                fail_msg("pg_type_map(%u, %d): %d, expected %d (%s)", oid, typmod, rc, want_rc,
                         E.msg);
        if (rc < 0)
                return;
        assert_int_equal(c.type, t);
        assert_int_equal(c.precision, prec);
        assert_int_equal(c.scale, scale);
        assert_string_equal(c.name, "x"); /* nothing else touched */
        assert_int_equal(c.key_pos, 3);
}

#define NUMERIC_TYPMOD(p, s) ((int32_t)((((p) << 16) | ((s)&0x7ff)) + 4))

static void test_map_builtin(void **state)
{
        (void)state;
        map(PG_OID_INT2, -1, NULL, 0, ZETL_T_INT16, 0, 0);
        map(PG_OID_INT4, -1, NULL, 0, ZETL_T_INT32, 0, 0);
        map(PG_OID_INT8, -1, NULL, 0, ZETL_T_INT64, 0, 0);
        map(PG_OID_OID, -1, NULL, 0, ZETL_T_INT64, 0, 0);
        map(PG_OID_FLOAT4, -1, NULL, 0, ZETL_T_FLOAT32, 0, 0);
        map(PG_OID_FLOAT8, -1, NULL, 0, ZETL_T_FLOAT64, 0, 0);
        map(PG_OID_NUMERIC, -1, NULL, 0, ZETL_T_DECIMAL, 0, -1);
        map(PG_OID_NUMERIC, NUMERIC_TYPMOD(10, 2), NULL, 0, ZETL_T_DECIMAL, 10, 2);
        map(PG_OID_NUMERIC, NUMERIC_TYPMOD(5, 0), NULL, 0, ZETL_T_DECIMAL, 5, 0);
        map(PG_OID_NUMERIC, NUMERIC_TYPMOD(5, -2), NULL, 0, ZETL_T_DECIMAL, 7, 0);
        map(PG_OID_NUMERIC, NUMERIC_TYPMOD(3, 5), NULL, 0, ZETL_T_DECIMAL, 5, 5);
        map(PG_OID_MONEY, -1, NULL, 0, ZETL_T_DECIMAL, 19, 2);
        map(PG_OID_TEXT, -1, NULL, 0, ZETL_T_STRING, 0, 0);
        map(PG_OID_VARCHAR, 24, NULL, 0, ZETL_T_STRING, 20, 0);
        map(PG_OID_VARCHAR, -1, NULL, 0, ZETL_T_STRING, 0, 0);
        map(PG_OID_BPCHAR, 9, NULL, 0, ZETL_T_STRING, 5, 0);
        map(PG_OID_NAME, -1, NULL, 0, ZETL_T_STRING, 63, 0);
        map(PG_OID_CHAR, -1, NULL, 0, ZETL_T_STRING, 1, 0);
        map(PG_OID_BYTEA, -1, NULL, 0, ZETL_T_BYTES, 0, 0);
        map(PG_OID_BOOL, -1, NULL, 0, ZETL_T_BOOL, 0, 0);
        map(PG_OID_DATE, -1, NULL, 0, ZETL_T_DATE, 0, 0);
        map(PG_OID_TIME, -1, NULL, 0, ZETL_T_TIME, 6, 0);
        map(PG_OID_TIME, 0, NULL, 0, ZETL_T_TIME, 0, 0);
        map(PG_OID_TIMETZ, -1, NULL, 0, ZETL_T_STRING, 0, 0);
        map(PG_OID_TIMESTAMP, 3, NULL, 0, ZETL_T_TIMESTAMP, 3, 0);
        map(PG_OID_TIMESTAMPTZ, -1, NULL, 0, ZETL_T_TIMESTAMPTZ, 6, 0);
        map(PG_OID_INTERVAL, -1, NULL, 0, ZETL_T_STRING, 0, 0);
        map(PG_OID_UUID, -1, NULL, 0, ZETL_T_UUID, 0, 0);
        map(PG_OID_JSON, -1, NULL, 0, ZETL_T_JSON, 0, 0);
        map(PG_OID_JSONB, -1, NULL, 0, ZETL_T_JSON, 0, 0);
        map(PG_OID_INET, -1, NULL, 0, ZETL_T_STRING, 0, 0);
        map(PG_OID_CIDR, -1, NULL, 0, ZETL_T_STRING, 0, 0);
        map(PG_OID_MACADDR, -1, NULL, 0, ZETL_T_STRING, 0, 0);
        map(PG_OID_MACADDR8, -1, NULL, 0, ZETL_T_STRING, 0, 0);
        map(PG_OID_INT4_ARRAY, -1, NULL, 0, ZETL_T_JSON, 0, 0);
        map(PG_OID_NUMERIC_ARRAY, NUMERIC_TYPMOD(10, 2), NULL, 0, ZETL_T_JSON, 0, 0);
        /* No decoder: the text form, as a string. */
        map(PG_OID_TSVECTOR, -1, NULL, PG_TYPE_TEXT_ONLY, ZETL_T_STRING, 0, 0);
        map(PG_OID_BOX, -1, NULL, PG_TYPE_TEXT_ONLY, ZETL_T_STRING, 0, 0);
        map(PG_OID_INT2VECTOR, -1, NULL, PG_TYPE_TEXT_ONLY, ZETL_T_STRING, 0, 0);
}

static void test_map_user_types(void **state)
{
        struct pg_type_info en = {
                .oid = 20001, .typtype = 'e', .typcategory = 'E', .typdelim = ','
        };
        struct pg_type_info dom = { .oid = 20002,
                                    .typtype = 'd',
                                    .typcategory = 'N',
                                    .typdelim = ',',
                                    .typbasetype = PG_OID_NUMERIC,
                                    .typtypmod = NUMERIC_TYPMOD(10, 2) };
        struct pg_type_info dom2 = {
                .oid = 20003, .typtype = 'd', .typbasetype = 20002, .typtypmod = -1, .base = &dom
        };
        struct pg_type_info en_arr = { .oid = 20004,
                                       .typtype = 'b',
                                       .typcategory = 'A',
                                       .typdelim = ',',
                                       .typelem = 20001,
                                       .elem = &en };
        struct pg_type_info box_arr = { .oid = 1020,
                                        .typtype = 'b',
                                        .typcategory = 'A',
                                        .typdelim = ',',
                                        .typelem = PG_OID_BOX };
        struct pg_type_info comp = { .oid = 20005, .typtype = 'c', .typcategory = 'C' };
        struct pg_type_info range = { .oid = 20006, .typtype = 'r', .typcategory = 'R' };
        struct pg_type_info loop = { .oid = 20007, .typtype = 'd', .typbasetype = 20007 };
        struct pg_col_decoder d;
        (void)state;

        loop.base = &loop;
        map(20001, -1, &en, 0, ZETL_T_STRING, 0, 0);
        map(20002, -1, &dom, 0, ZETL_T_DECIMAL, 10, 2);
        map(20003, -1, &dom2, 0, ZETL_T_DECIMAL, 10, 2); /* a domain over a domain */
        map(20004, -1, &en_arr, 0, ZETL_T_JSON, 0, 0);
        map(1020, -1, &box_arr, PG_TYPE_TEXT_ONLY, ZETL_T_JSON, 0, 0);
        map(20005, -1, &comp, PG_TYPE_TEXT_ONLY, ZETL_T_STRING, 0, 0);
        map(20006, -1, &range, PG_TYPE_TEXT_ONLY, ZETL_T_STRING, 0, 0);
        /* A built-in type ignores the info. */
        map(PG_OID_INT4, -1, &en, 0, ZETL_T_INT32, 0, 0);

        /* Caller mistakes are config errors. */
        map(20001, -1, NULL, ZETL_EINVAL, 0, 0, 0);
        map(20001, -1, &dom, ZETL_EINVAL, 0, 0, 0);
        map(20007, -1, &loop, ZETL_EINVAL, 0, 0, 0);
        assert_int_equal(E.cls, ZETL_ERRC_CONFIG);

        assert_int_equal(pg_col_decoder_init(&d, 20004, &en_arr, &E), 0);
        assert_int_equal(d.wire, PG_W_ARRAY);
        assert_int_equal(d.elem_wire, PG_W_TEXT);
        assert_int_equal(d.elem_oid, 20001);
        assert_true(d.binary);
        assert_int_equal(pg_col_decoder_init(&d, 1020, &box_arr, &E), 0);
        assert_false(d.binary);
        assert_int_equal(d.elem_delim, ';');
        assert_int_equal(pg_col_decoder_init(&d, PG_OID_INT4_ARRAY, NULL, &E), 0);
        assert_int_equal(d.elem_oid, PG_OID_INT4);
        assert_int_equal(d.elem_delim, ',');
}

/* ---- scalars ------------------------------------------------------------------------ */

static void test_ints(void **state)
{
        int16_t s;
        int32_t i;
        int64_t l;
        (void)state;

        s = -32768;
        both_fixed(PG_OID_INT2, BY(0x80, 0x00), "-32768", &s, 2);
        s = 32767;
        both_fixed(PG_OID_INT2, BY(0x7f, 0xff), "32767", &s, 2);
        i = INT32_MIN;
        both_fixed(PG_OID_INT4, BY(0x80, 0, 0, 0), "-2147483648", &i, 4);
        i = 258;
        both_fixed(PG_OID_INT4, BY(0, 0, 1, 2), "258", &i, 4);
        l = INT64_MIN;
        both_fixed(PG_OID_INT8, BY(0x80, 0, 0, 0, 0, 0, 0, 0), "-9223372036854775808", &l, 8);
        l = INT64_MAX;
        both_fixed(PG_OID_INT8, BY(0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
                   "9223372036854775807", &l, 8);
        l = 4294967295;
        both_fixed(PG_OID_OID, BY(0xff, 0xff, 0xff, 0xff), "4294967295", &l, 8);

        bad_bin(PG_OID_INT4, BY(0, 0, 0, 0, 0), ZETL_EPROTO);
        bad_text(PG_OID_INT2, "32768", ZETL_EPROTO);
        bad_text(PG_OID_INT8, "9223372036854775808", ZETL_EPROTO);
        bad_text(PG_OID_INT8, "-9223372036854775809", ZETL_EPROTO);
        bad_text(PG_OID_INT4, "", ZETL_EPROTO);
        bad_text(PG_OID_INT4, "-", ZETL_EPROTO);
        bad_text(PG_OID_INT4, "1a", ZETL_EPROTO);
        bad_text(PG_OID_INT4, " 1", ZETL_EPROTO);
        bad_text(PG_OID_OID, "-1", ZETL_EPROTO);
        assert_int_equal(E.cls, ZETL_ERRC_FATAL);
        assert_non_null(strstr(E.msg, "oid"));
}

static void test_bool_null_mismatch(void **state)
{
        struct pg_col_decoder d = decoder(PG_OID_INT4);
        uint8_t t = 1, f = 0;
        (void)state;

        both_fixed(PG_OID_BOOL, BY(1), "t", &t, 1);
        both_fixed(PG_OID_BOOL, BY(0), "f", &f, 1);
        bad_bin(PG_OID_BOOL, BY(2), ZETL_EPROTO);
        bad_text(PG_OID_BOOL, "true", ZETL_EPROTO);

        /* len -1 is NULL, in both forms. */
        assert_int_equal(dec(false, PG_OID_NUMERIC, NULL, -1), 0);
        assert_int_equal(cell(cellbuf), SIZE_MAX);
        assert_int_equal(dec(true, PG_OID_TEXT, NULL, -1), 0);
        assert_int_equal(cell(cellbuf), SIZE_MAX);

        /* A decoder on a column of another type is refused. */
        zetl_batch_reset(B);
        assert_int_equal(zetl_batch_row_begin(B, ZETL_OP_INSERT, 0, &E), 0);
        assert_int_equal(pg_decode_binary(B, ZETL_T_STRING, &d, "\0\0\0\1", 4, &E), ZETL_EINVAL);
        assert_int_equal(pg_decode_binary(B, 99, &d, "\0\0\0\1", 4, &E), ZETL_EINVAL);
        assert_int_equal(pg_decode_binary(B, ZETL_T_INT32, &d, "\0\0\0\1", 4, NULL), 0);
        zetl_batch_row_end(B);
        assert_int_equal(zetl_batch_get_i32(B, ZETL_T_INT32, 0), 1);
}

static void test_floats(void **state)
{
        float f;
        double d;
        (void)state;

        f = 1.5f;
        both_fixed(PG_OID_FLOAT4, BY(0x3f, 0xc0, 0, 0), "1.5", &f, 4);
        f = 0.1f;
        both_fixed(PG_OID_FLOAT4, BY(0x3d, 0xcc, 0xcc, 0xcd), "0.1", &f, 4);
        f = -INFINITY;
        both_fixed(PG_OID_FLOAT4, BY(0xff, 0x80, 0, 0), "-Infinity", &f, 4);
        d = 1.5;
        both_fixed(PG_OID_FLOAT8, BY(0x3f, 0xf8, 0, 0, 0, 0, 0, 0), "1.5", &d, 8);
        d = -0.0;
        both_fixed(PG_OID_FLOAT8, BY(0x80, 0, 0, 0, 0, 0, 0, 0), "-0", &d, 8);
        d = INFINITY;
        both_fixed(PG_OID_FLOAT8, BY(0x7f, 0xf0, 0, 0, 0, 0, 0, 0), "Infinity", &d, 8);
        d = 1e15;
        both_fixed(PG_OID_FLOAT8, BY(0x43, 0x0c, 0x6b, 0xf5, 0x26, 0x34, 0, 0), "1e+15", &d, 8);
        /* The smallest subnormal. */
        uint64_t tiny = 1;
        both_fixed(PG_OID_FLOAT8, BY(0, 0, 0, 0, 0, 0, 0, 1), "5e-324", &tiny, 8);
        /* Every NaN, whatever its payload or sign, is the one quiet NaN. */
        uint64_t qnan = UINT64_C(0x7ff8000000000000);
        both_fixed(PG_OID_FLOAT8, BY(0xff, 0xf0, 0, 0, 0, 0, 0, 1), "NaN", &qnan, 8);
        uint32_t qnanf = 0x7fc00000;
        both_fixed(PG_OID_FLOAT4, BY(0x7f, 0x80, 0, 1), "NaN", &qnanf, 4);

        bad_text(PG_OID_FLOAT8, "inf", ZETL_EPROTO);
        bad_text(PG_OID_FLOAT8, "nan", ZETL_EPROTO);
        bad_text(PG_OID_FLOAT8, "0x1p3", ZETL_EPROTO);
        bad_text(PG_OID_FLOAT8, "1.", ZETL_EPROTO);
        bad_text(PG_OID_FLOAT8, "1e", ZETL_EPROTO);
        bad_text(PG_OID_FLOAT8, "", ZETL_EPROTO);
}

static void test_numeric(void **state)
{
        struct wb w;
        (void)state;

#define NUM_OK(text, want, ...)                                                                    \
        do {                                                                                       \
                w = num(__VA_ARGS__);                                                              \
                both_str(PG_OID_NUMERIC, w.b, w.n, text, want);                                    \
        } while (0)
        NUM_OK("0", "0", 0, 0x0000, 0, 0);
        NUM_OK("0.00", "0.00", 0, 0x0000, 2, 0);
        NUM_OK("1", "1", 0, 0x0000, 0, 1, 1);
        NUM_OK("-1", "-1", 0, 0x4000, 0, 1, 1);
        NUM_OK("0.0001", "0.0001", -1, 0x0000, 4, 1, 1);
        NUM_OK("12345.6789", "12345.6789", 1, 0x0000, 4, 3, 1, 2345, 6789);
        NUM_OK("0.00000000000000000001", "0.00000000000000000001", -5, 0x0000, 20, 1, 1);
        NUM_OK("0.0000000000000000000100", "0.0000000000000000000100", -5, 0x0000, 22, 1, 1);
        NUM_OK("10000", "10000", 1, 0x0000, 0, 1, 1);
        NUM_OK("1.5", "1.5", 0, 0x0000, 1, 2, 1, 5000);
        NUM_OK("NaN", "NaN", 0, 0xC000, 0, 0);
        NUM_OK("Infinity", "Infinity", 0, 0xD000, 0, 0);
        NUM_OK("-Infinity", "-Infinity", 0, 0xF000, 0, 0);
        NUM_OK("123456789012345678901234567890123456789012345678901234567890",
               "123456789012345678901234567890123456789012345678901234567890", 14, 0x0000, 0, 15,
               1234, 5678, 9012, 3456, 7890, 1234, 5678, 9012, 3456, 7890, 1234, 5678, 9012, 3456,
               7890);
        NUM_OK("-123456789012345678901234567890.123456789012345678901234567890",
               "-123456789012345678901234567890.123456789012345678901234567890", 7, 0x4000, 30, 16,
               12, 3456, 7890, 1234, 5678, 9012, 3456, 7890, 1234, 5678, 9012, 3456, 7890, 1234,
               5678, 9000);
        /* Not as PostgreSQL stores them, still read canonically: a leading zero
         * digit, trailing zero digits, a negative zero. */
        NUM_OK(NULL, "1", 1, 0x0000, 0, 2, 0, 1);
        NUM_OK(NULL, "1.50", 0, 0x0000, 2, 3, 1, 5000, 0);
        NUM_OK(NULL, "0.0", 0, 0x4000, 1, 1, 0);
#undef NUM_OK

        /* Text in other spellings comes out canonical. */
        ok_text(PG_OID_NUMERIC, "007.50");
        assert_string_equal(got(), "7.50");
        ok_text(PG_OID_NUMERIC, "-0.00");
        assert_string_equal(got(), "0.00");

        w = num(0, 0x0000, 0, 1, 10000); /* digit out of range */
        bad_bin(PG_OID_NUMERIC, w.b, w.n, ZETL_EPROTO);
        w = num(0, 0x1234, 0, 1, 1); /* unknown sign */
        bad_bin(PG_OID_NUMERIC, w.b, w.n, ZETL_EPROTO);
        w = num(0, 0x0000, 0, 2, 1, 5); /* 1.0005 shown with dscale 0 */
        bad_bin(PG_OID_NUMERIC, w.b, w.n, ZETL_EPROTO);
        w = num(0, 0x0000, 1, 2, 1, 5); /* 1.0005 shown with dscale 1 */
        bad_bin(PG_OID_NUMERIC, w.b, w.n, ZETL_EPROTO);
        w = num(0, 0xC000, 0, 1, 1); /* NaN with digits */
        bad_bin(PG_OID_NUMERIC, w.b, w.n, ZETL_EPROTO);
        w = num(0, 0x0000, -1, 0); /* negative dscale */
        bad_bin(PG_OID_NUMERIC, w.b, w.n, ZETL_EPROTO);
        w = num(0, 0x0000, 0, 1, 1);
        w.b[w.n++] = 0; /* a trailing byte */
        bad_bin(PG_OID_NUMERIC, w.b, w.n, ZETL_EPROTO);
        w = num(0, 0x0000, 0, 0);
        w.b[0] = 0xff; /* ndigits -1 */
        w.b[1] = 0xff;
        bad_bin(PG_OID_NUMERIC, w.b, w.n, ZETL_EPROTO);
        assert_non_null(strstr(E.msg, "numeric"));
        bad_text(PG_OID_NUMERIC, "1e5", ZETL_EPROTO);
        bad_text(PG_OID_NUMERIC, "", ZETL_EPROTO);
        bad_text(PG_OID_NUMERIC, "-", ZETL_EPROTO);
        bad_text(PG_OID_NUMERIC, "1.", ZETL_EPROTO);
        bad_text(PG_OID_NUMERIC, ".5", ZETL_EPROTO);
        bad_text(PG_OID_NUMERIC, "+1", ZETL_EPROTO);
        bad_text(PG_OID_NUMERIC, "nan", ZETL_EPROTO);
}

static void test_money(void **state)
{
        (void)state;
        both_str(PG_OID_MONEY, BY(0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0x1d, 0xc0), "-$1,234.56",
                 "-1234.56"); /* -123456 */
        both_str(PG_OID_MONEY, BY(0, 0, 0, 0, 0, 0, 0, 5), "$0.05", "0.05");
        both_str(PG_OID_MONEY, BY(0, 0, 0, 0, 0, 0, 0, 0), "$0.00", "0.00");
        both_str(PG_OID_MONEY, BY(0x80, 0, 0, 0, 0, 0, 0, 0), "-$92,233,720,368,547,758.08",
                 "-92233720368547758.08");
        both_str(PG_OID_MONEY, BY(0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
                 "$92,233,720,368,547,758.07", "92233720368547758.07");
        bad_text(PG_OID_MONEY, "$92,233,720,368,547,758.08", ZETL_EPROTO);
        bad_text(PG_OID_MONEY, "$1,234.5", ZETL_EPROTO);
        bad_text(PG_OID_MONEY, "$,1.00", ZETL_EPROTO);
        bad_text(PG_OID_MONEY, "1.00 EUR", ZETL_EPROTO);
}

static void test_strings(void **state)
{
        const char *s = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";
        (void)state;

        ok_bin(PG_OID_TEXT, (const uint8_t *)s, strlen(s));
        assert_string_equal(got(), s);
        ok_text(PG_OID_VARCHAR, s);
        assert_string_equal(got(), s);
        ok_bin(PG_OID_BPCHAR, BY('a', 'b', ' ', ' '));
        assert_string_equal(got(), "ab  ");
        ok_bin(PG_OID_TEXT, (const uint8_t *)"", 0);
        assert_string_equal(got(), ""); /* empty, not NULL */
        /* "char": one byte, a high-bit byte written as PostgreSQL 15 prints it. */
        both_str(PG_OID_CHAR, BY('A'), "A", "A");
        both_str(PG_OID_CHAR, BY(0xc3), "\\303", "\\303");
        both_str(PG_OID_CHAR, BY(0), "", "");
        bad_bin(PG_OID_CHAR, BY('a', 'b'), ZETL_EPROTO);
        /* A type with no decoder: text only. */
        ok_text(PG_OID_TSVECTOR, "'a' 'b'");
        assert_string_equal(got(), "'a' 'b'");
        bad_bin(PG_OID_TSVECTOR, BY(1, 2, 3), ZETL_EUNSUPPORTED);
}

static void test_bytea_json_uuid(void **state)
{
        uint8_t u[16] = { 0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8,
                          0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11 };
        (void)state;

        ok_bin(PG_OID_BYTEA, BY(1, 2, 0xff, 0));
        assert_int_equal(cell(cellbuf), 4);
        assert_memory_equal(cellbuf, "\x01\x02\xff\x00", 4);
        ok_text(PG_OID_BYTEA, "\\x0102fF00");
        assert_int_equal(cell(cellbuf), 4);
        assert_memory_equal(cellbuf, "\x01\x02\xff\x00", 4);
        ok_text(PG_OID_BYTEA, "a\\\\b\\001\\377");
        assert_int_equal(cell(cellbuf), 5);
        assert_memory_equal(cellbuf, "a\\b\x01\xff", 5);
        ok_text(PG_OID_BYTEA, "\\x");
        assert_int_equal(cell(cellbuf), 0);
        bad_text(PG_OID_BYTEA, "\\x0", ZETL_EPROTO);
        bad_text(PG_OID_BYTEA, "\\xzz", ZETL_EPROTO);
        bad_text(PG_OID_BYTEA, "\\9", ZETL_EPROTO);
        bad_text(PG_OID_BYTEA, "ab\\", ZETL_EPROTO);

        both_fixed(PG_OID_UUID, u, 16, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", u, 16);
        bad_text(PG_OID_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", ZETL_EPROTO);

        ok_bin(PG_OID_JSON, (const uint8_t *)"{\"a\":1}", 7);
        assert_string_equal(got(), "{\"a\":1}");
        ok_bin(PG_OID_JSONB, (const uint8_t *)"\x01{\"a\": 1}", 9);
        assert_string_equal(got(), "{\"a\": 1}");
        ok_text(PG_OID_JSONB, "{\"a\": 1}");
        assert_string_equal(got(), "{\"a\": 1}");
        bad_bin(PG_OID_JSONB, BY(2, '1'), ZETL_EPROTO);
        bad_bin(PG_OID_JSONB, (const uint8_t *)"", 0, ZETL_EPROTO);
}

static void test_dates(void **state)
{
        int32_t d;
        (void)state;

        d = 10957; /* 2000-01-01 is day 10957 after 1970-01-01 */
        both_fixed(PG_OID_DATE, BY(0, 0, 0, 0), "2000-01-01", &d, 4);
        d = 10956;
        both_fixed(PG_OID_DATE, BY(0xff, 0xff, 0xff, 0xff), "1999-12-31", &d, 4);
        d = 0;
        both_fixed(PG_OID_DATE, BY(0xff, 0xff, 0xd5, 0x33), "1970-01-01", &d, 4); /* -10957 */
        d = INT32_MAX;
        both_fixed(PG_OID_DATE, BY(0x7f, 0xff, 0xff, 0xff), "infinity", &d, 4);
        d = INT32_MIN;
        both_fixed(PG_OID_DATE, BY(0x80, 0, 0, 0), "-infinity", &d, 4);
        /* Julian day 0, 4714-11-24 BC: 2451545 days before 2000, 2440588 before 1970. */
        d = -2440588;
        both_fixed(PG_OID_DATE, BY(0xff, 0xda, 0x97, 0xa7), "4714-11-24 BC", &d, 4);
        /* 1 BC is the proleptic year 0, 719528 days before 1970. */
        d = -719528;
        both_fixed(PG_OID_DATE, BY(0xff, 0xf4, 0xda, 0x8b), "0001-01-01 BC", &d, 4);
        ok_text(PG_OID_DATE, "0001-01-01");
        assert_int_equal(zetl_batch_get_i32(B, ZETL_T_DATE, 0), -719162);
        ok_text(PG_OID_DATE, "2024-02-29");
        assert_int_equal(zetl_batch_get_i32(B, ZETL_T_DATE, 0), 19782);
        /* PostgreSQL's last date, the day before its END_DATE (Julian day 2147483494). */
        ok_text(PG_OID_DATE, "5874897-12-31");
        assert_int_equal(zetl_batch_get_i32(B, ZETL_T_DATE, 0), 2147483494 - 1 - 2440588);

        bad_text(PG_OID_DATE, "2023-02-29", ZETL_EPROTO);
        bad_text(PG_OID_DATE, "2024-13-01", ZETL_EPROTO);
        bad_text(PG_OID_DATE, "24-01-01", ZETL_EPROTO);
        bad_text(PG_OID_DATE, "0000-01-01", ZETL_EPROTO);
        bad_text(PG_OID_DATE, "2024-01-01 AD", ZETL_EPROTO);
        bad_text(PG_OID_DATE, "01/02/2024", ZETL_EPROTO);
        bad_text(PG_OID_DATE, "Infinity", ZETL_EPROTO);
}

static void test_times(void **state)
{
        int64_t t;
        (void)state;

        t = 0;
        both_fixed(PG_OID_TIME, BY(0, 0, 0, 0, 0, 0, 0, 0), "00:00:00", &t, 8);
        t = INT64_C(14706500000); /* 04:05:06.5 */
        both_fixed(PG_OID_TIME, BY(0, 0, 0, 0x03, 0x6c, 0x93, 0x61, 0xa0), "04:05:06.5", &t, 8);
        t = INT64_C(86400000000);
        both_fixed(PG_OID_TIME, BY(0, 0, 0, 0x14, 0x1d, 0xd7, 0x60, 0x00), "24:00:00", &t, 8);
        bad_bin(PG_OID_TIME, BY(0, 0, 0, 0x14, 0x1d, 0xd7, 0x60, 0x01), ZETL_EPROTO);
        bad_bin(PG_OID_TIME, BY(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), ZETL_EPROTO);
        bad_text(PG_OID_TIME, "04:05:06.1234567", ZETL_EPROTO);
        bad_text(PG_OID_TIME, "25:00:00", ZETL_EPROTO);
        bad_text(PG_OID_TIME, "24:00:01", ZETL_EPROTO);
        bad_text(PG_OID_TIME, "4:05:06", ZETL_EPROTO);

        /* timetz: µs, then the zone in seconds west of UTC. */
        both_str(PG_OID_TIMETZ, BY(0, 0, 0, 0x03, 0x6c, 0x93, 0x61, 0xa0, 0xff, 0xff, 0xb2, 0xa8),
                 "04:05:06.5+05:30", "04:05:06.500000+05:30"); /* zone -19800 */
        both_str(PG_OID_TIMETZ, BY(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), "00:00:00+00",
                 "00:00:00+00");
        both_str(PG_OID_TIMETZ, BY(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0e, 0x10), "00:00:00-01",
                 "00:00:00-01"); /* zone 3600 */
        both_str(PG_OID_TIMETZ, BY(0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xb2, 0x99),
                 "00:00:00+05:30:15", "00:00:00+05:30:15"); /* zone -19815 */
        bad_bin(PG_OID_TIMETZ, BY(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe1, 0x00), ZETL_EPROTO);
        bad_text(PG_OID_TIMETZ, "04:05:06", ZETL_EPROTO);
}

static void test_timestamps(void **state)
{
        int64_t t;
        struct wb w;
        (void)state;

        t = ZETL_PG_EPOCH_USEC;
        both_fixed(PG_OID_TIMESTAMP, BY(0, 0, 0, 0, 0, 0, 0, 0), "2000-01-01 00:00:00", &t, 8);
        both_fixed(PG_OID_TIMESTAMPTZ, BY(0, 0, 0, 0, 0, 0, 0, 0), "2000-01-01 00:00:00+00", &t, 8);
        /* One µs before 1970. */
        t = -1;
        w = (struct wb){ .n = 0 };
        w64(&w, (uint64_t)(-ZETL_PG_EPOCH_USEC - 1));
        both_fixed(PG_OID_TIMESTAMP, w.b, w.n, "1969-12-31 23:59:59.999999", &t, 8);
        /* 2024-01-02 03:04:05.123456 UTC: day 19724, 11045 s into it. */
        t = INT64_C(1704164645123456);
        w = (struct wb){ .n = 0 };
        w64(&w, (uint64_t)(t - ZETL_PG_EPOCH_USEC));
        both_fixed(PG_OID_TIMESTAMPTZ, w.b, w.n, "2024-01-02 03:04:05.123456+00", &t, 8);
        ok_text(PG_OID_TIMESTAMPTZ, "2024-01-02 08:34:05.123456+05:30");
        assert_int_equal(zetl_batch_get_i64(B, ZETL_T_TIMESTAMPTZ, 0), t);
        /* Julian day 0. */
        t = -INT64_C(2440588) * ZETL_USEC_PER_DAY;
        w = (struct wb){ .n = 0 };
        w64(&w, (uint64_t)(t - ZETL_PG_EPOCH_USEC));
        both_fixed(PG_OID_TIMESTAMPTZ, w.b, w.n, "4714-11-24 00:00:00+00 BC", &t, 8);
        /* ±infinity are the int64 extremes. */
        t = INT64_MAX;
        both_fixed(PG_OID_TIMESTAMP, BY(0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "infinity",
                   &t, 8);
        t = INT64_MIN;
        both_fixed(PG_OID_TIMESTAMPTZ, BY(0x80, 0, 0, 0, 0, 0, 0, 0), "-infinity", &t, 8);
        /* The last instant zetl holds, then the first it refuses. */
        t = INT64_MAX - 1;
        w = (struct wb){ .n = 0 };
        w64(&w, (uint64_t)(t - ZETL_PG_EPOCH_USEC));
        both_fixed(PG_OID_TIMESTAMP, w.b, w.n, "294247-01-10 04:00:54.775806", &t, 8);
        w = (struct wb){ .n = 0 };
        w64(&w, (uint64_t)(INT64_MAX - ZETL_PG_EPOCH_USEC));
        bad_bin(PG_OID_TIMESTAMP, w.b, w.n, ZETL_EUNSUPPORTED);
        bad_text(PG_OID_TIMESTAMP, "294247-01-10 04:00:54.775807", ZETL_EUNSUPPORTED);
        /* PostgreSQL's last timestamp: one µs before its END_TIMESTAMP, 294277-01-01. */
        w = (struct wb){ .n = 0 };
        w64(&w, UINT64_C(9223371331199999999));
        bad_bin(PG_OID_TIMESTAMPTZ, w.b, w.n, ZETL_EUNSUPPORTED);
        assert_non_null(strstr(E.msg, "+294276-12-31T23:59:59.999999Z"));
        bad_text(PG_OID_TIMESTAMPTZ, "294276-12-31 23:59:59.999999+00", ZETL_EUNSUPPORTED);

        bad_text(PG_OID_TIMESTAMP, "2024-01-02 03:04:05+00", ZETL_EPROTO);
        bad_text(PG_OID_TIMESTAMPTZ, "2024-01-02 03:04:05", ZETL_EPROTO);
        bad_text(PG_OID_TIMESTAMPTZ, "2024-01-02T03:04:05+00", ZETL_EPROTO);
        bad_text(PG_OID_TIMESTAMP, "2024-01-02 24:00:00", ZETL_EPROTO);
        bad_text(PG_OID_TIMESTAMP, "99999999-01-01 00:00:00", ZETL_EPROTO);
}

static void interval_bytes(struct wb *w, int64_t time, int32_t days, int32_t months)
{
        *w = (struct wb){ .n = 0 };
        w64(w, (uint64_t)time);
        w32(w, (uint32_t)days);
        w32(w, (uint32_t)months);
}

static void test_interval(void **state)
{
        struct wb w;
        const int64_t hms = INT64_C(14706500000); /* 4 h 5 min 6.5 s */
        (void)state;

        interval_bytes(&w, 0, 0, 0);
        both_str(PG_OID_INTERVAL, w.b, w.n, "PT0S", "PT0S");
        interval_bytes(&w, hms, 3, 14);
        both_str(PG_OID_INTERVAL, w.b, w.n, "P1Y2M3DT4H5M6.5S", "P1Y2M3DT4H5M6.5S");
        interval_bytes(&w, -hms, 3, -14);
        both_str(PG_OID_INTERVAL, w.b, w.n, "P-1Y-2M3DT-4H-5M-6.5S", "P-1Y-2M3DT-4H-5M-6.5S");
        interval_bytes(&w, -500000, 0, 0);
        both_str(PG_OID_INTERVAL, w.b, w.n, "PT-0.5S", "PT-0.5S");
        interval_bytes(&w, 0, -1, 1);
        both_str(PG_OID_INTERVAL, w.b, w.n, "P1M-1D", "P1M-1D");
        interval_bytes(&w, 1000001, 0, 0);
        both_str(PG_OID_INTERVAL, w.b, w.n, "PT1.000001S", "PT1.000001S");
        interval_bytes(&w, -1000000, 0, 12);
        both_str(PG_OID_INTERVAL, w.b, w.n, "P1YT-1S", "P1YT-1S");
        /* The extremes: INT64_MIN µs is -2562047788 h and -54.775808 s. */
        interval_bytes(&w, INT64_MIN, INT32_MIN, INT32_MIN);
        both_str(PG_OID_INTERVAL, w.b, w.n, "P-178956970Y-8M-2147483648DT-2562047788H-54.775808S",
                 "P-178956970Y-8M-2147483648DT-2562047788H-54.775808S");
        interval_bytes(&w, INT64_MAX, INT32_MAX, INT32_MAX);
        both_str(PG_OID_INTERVAL, w.b, w.n, "P178956970Y7M2147483647DT2562047788H54.775807S",
                 "P178956970Y7M2147483647DT2562047788H54.775807S");

        bad_text(PG_OID_INTERVAL, "1 year", ZETL_EPROTO);
        bad_text(PG_OID_INTERVAL, "P", ZETL_EPROTO);
        bad_text(PG_OID_INTERVAL, "PT", ZETL_EPROTO);
        bad_text(PG_OID_INTERVAL, "P1H", ZETL_EPROTO);
        bad_text(PG_OID_INTERVAL, "PT1Y", ZETL_EPROTO);
        bad_text(PG_OID_INTERVAL, "P1M1Y", ZETL_EPROTO);
        bad_text(PG_OID_INTERVAL, "PT1.5M", ZETL_EPROTO);
        bad_text(PG_OID_INTERVAL, "P178956971Y", ZETL_EPROTO);
        bad_text(PG_OID_INTERVAL, "P999999999999999999Y", ZETL_EPROTO);
        bad_text(PG_OID_INTERVAL, "P-999999999999999999Y-999999999999999999M", ZETL_EPROTO);
        bad_text(PG_OID_INTERVAL, "PT2562047789H", ZETL_EPROTO);
        bad_text(PG_OID_INTERVAL, "PT1S2S", ZETL_EPROTO);
}

static void test_inet_mac(void **state)
{
        (void)state;
        both_str(PG_OID_INET, BY(2, 32, 0, 4, 192, 168, 0, 1), "192.168.0.1", "192.168.0.1");
        both_str(PG_OID_INET, BY(2, 24, 0, 4, 192, 168, 0, 1), "192.168.0.1/24", "192.168.0.1/24");
        both_str(PG_OID_CIDR, BY(2, 8, 1, 4, 10, 0, 0, 0), "10.0.0.0/8", "10.0.0.0/8");
        both_str(PG_OID_CIDR, BY(2, 32, 1, 4, 1, 2, 3, 4), "1.2.3.4/32", "1.2.3.4/32");
        both_str(PG_OID_CIDR, BY(3, 128, 1, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
                 "::1/128", "::1/128");
        both_str(PG_OID_INET, BY(3, 128, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
                 "::1", "::1");
        both_str(PG_OID_INET,
                 BY(3, 64, 0, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
                 "2001:db8::1/64", "2001:db8::1/64");
        both_str(PG_OID_INET,
                 BY(3, 128, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4),
                 "::ffff:1.2.3.4", "::ffff:1.2.3.4");
        both_str(PG_OID_INET, BY(3, 128, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4),
                 "::1.2.3.4", "::1.2.3.4");
        both_str(PG_OID_INET, BY(3, 128, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2),
                 "::2", "::2");
        both_str(PG_OID_INET, BY(3, 128, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
                 "::", "::");
        both_str(PG_OID_INET, BY(3, 128, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
                 "1::", "1::");
        both_str(PG_OID_INET, BY(3, 128, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0),
                 "::1:0:0", "::1:0:0");
        /* The longer run wins; of two equal runs, the first. */
        both_str(PG_OID_INET, BY(3, 128, 0, 16, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1),
                 "1:0:0:1::1", "1:0:0:1::1");
        both_str(PG_OID_INET, BY(3, 128, 0, 16, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1),
                 "1::1:0:0:1:1", "1::1:0:0:1:1");
        bad_bin(PG_OID_INET, BY(4, 32, 0, 4, 1, 2, 3, 4), ZETL_EPROTO);
        bad_bin(PG_OID_INET, BY(2, 32, 0, 16, 1, 2, 3, 4), ZETL_EPROTO);
        bad_bin(PG_OID_INET, BY(2, 33, 0, 4, 1, 2, 3, 4), ZETL_EPROTO);
        bad_bin(PG_OID_INET, BY(2, 32, 2, 4, 1, 2, 3, 4), ZETL_EPROTO);
        bad_bin(PG_OID_INET, BY(2, 32, 0, 4, 1, 2, 3, 4, 5), ZETL_EPROTO);
        bad_text(PG_OID_INET, "1.2.3", ZETL_EPROTO);
        bad_text(PG_OID_INET, "1.2.3.4/33", ZETL_EPROTO);
        bad_text(PG_OID_INET, "::1/129", ZETL_EPROTO);
        bad_text(PG_OID_INET, "example.com", ZETL_EPROTO);

        both_str(PG_OID_MACADDR, BY(0x08, 0x00, 0x2b, 0x01, 0x02, 0x03), "08:00:2B:01:02:03",
                 "08:00:2b:01:02:03");
        both_str(PG_OID_MACADDR8, BY(0x08, 0x00, 0x2b, 0x01, 0x02, 0x03, 0x04, 0x05),
                 "08:00:2b:01:02:03:04:05", "08:00:2b:01:02:03:04:05");
        bad_text(PG_OID_MACADDR, "08-00-2b-01-02-03", ZETL_EPROTO);
        bad_text(PG_OID_MACADDR, "08:00:2b:01:02:0g", ZETL_EPROTO);
}

/* ---- arrays --------------------------------------------------------------------------- */

static void test_arrays_binary(void **state)
{
        struct wb w = { .n = 0 };
        (void)state;

        /* One dimension with a NULL. */
        arr_hdr(&w, 1, PG_OID_INT4, 3, 0);
        arr_i32(&w, 1);
        arr_el(&w, NULL, -1);
        arr_i32(&w, -5);
        both_str(PG_OID_INT4_ARRAY, w.b, w.n, "{1,NULL,-5}", "[1,null,-5]");
        /* Two dimensions. */
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_INT4, 2, 2);
        for (int i = 1; i <= 4; i++)
                arr_i32(&w, i);
        both_str(PG_OID_INT4_ARRAY, w.b, w.n, "{{1,2},{3,4}}", "[[1,2],[3,4]]");
        /* Empty: no dimensions at all. */
        w = (struct wb){ .n = 0 };
        w32(&w, 0);
        w32(&w, 0);
        w32(&w, PG_OID_INT4);
        both_str(PG_OID_INT4_ARRAY, w.b, w.n, "{}", "[]");
        ok_text(PG_OID_INT4_ARRAY, "[0:2]={1,2,3}"); /* lower bounds are dropped */
        assert_string_equal(got(), "[1,2,3]");

        /* Text, escaped as to_json does; "NULL" quoted is a string. */
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 1, PG_OID_TEXT, 7, 0);
        arr_el(&w, "a b", 3);
        arr_el(&w, "x\"y\\", 4);
        arr_el(&w, "", 0);
        arr_el(&w, "\xe6\x97\xa5\xe6\x9c\xac", 6);
        arr_el(&w, "\n\t\x01", 3);
        arr_el(&w, "NULL", 4);
        arr_el(&w, NULL, -1);
        both_str(
                PG_OID_TEXT_ARRAY, w.b, w.n,
                "{\"a b\",\"x\\\"y\\\\\",\"\",\xe6\x97\xa5\xe6\x9c\xac,\"\n\t\x01\",\"NULL\",NULL}",
                "[\"a b\",\"x\\\"y\\\\\",\"\",\"\xe6\x97\xa5\xe6\x9c\xac\",\"\\n\\t\\u0001\","
                "\"NULL\",null]");
        ok_text(PG_OID_TEXT_ARRAY, "{a\\,b,\\\"q}"); /* escapes in bare elements */
        assert_string_equal(got(), "[\"a,b\",\"\\\"q\"]");

        /* Numerics as strings, to stay exact. */
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 1, PG_OID_NUMERIC, 3, 0);
        struct wb n1 = num(0, 0x0000, 2, 2, 1, 5000), nn = num(0, 0xC000, 0, 0);
        arr_el(&w, n1.b, (int32_t)n1.n);
        arr_el(&w, nn.b, (int32_t)nn.n);
        arr_el(&w, NULL, -1);
        both_str(PG_OID_NUMERIC_ARRAY, w.b, w.n, "{1.50,NaN,NULL}", "[\"1.50\",\"NaN\",null]");

        /* Floats: shortest numbers, NaN and infinities as strings. */
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_FLOAT8, 7, 0);
        arr_i64(&w, UINT64_C(0x3ff8000000000000));
        arr_i64(&w, UINT64_C(0x7ff8000000000000));
        arr_i64(&w, UINT64_C(0xfff0000000000000));
        arr_i64(&w, UINT64_C(0x430c6bf526340000));
        arr_i64(&w, UINT64_C(0x3ee4f8b588e368f1));
        arr_i64(&w, UINT64_C(0x8000000000000000));
        arr_i64(&w, UINT64_C(0x3f1a36e2eb1c432d)); /* 1e-4 */
        both_str(1022, w.b, w.n, "{1.5,NaN,-Infinity,1e+15,1e-05,-0,0.0001}",
                 "[1.5,\"NaN\",\"-Infinity\",1e+15,1e-05,-0,0.0001]");
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_FLOAT4, 3, 0);
        arr_i32(&w, 0x3dcccccd);
        arr_i32(&w, 0x49742400);
        arr_i32(&w, 0x47c35000);
        both_str(1021, w.b, w.n, "{0.1,1e+06,100000}", "[0.1,1e+06,100000]");

        /* Timestamps as value.h writes them, every PostgreSQL value included. */
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 1, PG_OID_TIMESTAMPTZ, 4, 0);
        arr_i64(&w, 0);
        arr_i64(&w, UINT64_C(0x7fffffffffffffff));
        arr_el(&w, NULL, -1);
        arr_i64(&w, UINT64_C(9223371331199999999));
        both_str(PG_OID_TIMESTAMPTZ_ARRAY, w.b, w.n,
                 "{\"2000-01-01 00:00:00+00\",infinity,NULL,\"294276-12-31 23:59:59.999999+00\"}",
                 "[\"2000-01-01T00:00:00Z\",\"infinity\",null,\"+294276-12-31T23:59:59.999999Z\"]");
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_DATE, 2, 0);
        arr_i32(&w, 0);
        arr_i32(&w, INT32_MIN);
        both_str(1182, w.b, w.n, "{2000-01-01,-infinity}", "[\"2000-01-01\",\"-infinity\"]");

        /* The other element types. */
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_BOOL, 2, 0);
        arr_el(&w, "\1", 1);
        arr_el(&w, "\0", 1);
        both_str(PG_OID_BOOL_ARRAY, w.b, w.n, "{t,f}", "[true,false]");
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_BYTEA, 2, 0);
        arr_el(&w, "\1\2\3", 3);
        arr_el(&w, "", 0);
        both_str(1001, w.b, w.n, "{\"\\\\x010203\",\"\\\\x\"}", "[\"AQID\",\"\"]");
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_JSONB, 1, 0);
        arr_el(&w, "\1{\"a\": [1, \"x\"]}", 16);
        both_str(3807, w.b, w.n, "{\"{\\\"a\\\": [1, \\\"x\\\"]}\"}", "[{\"a\": [1, \"x\"]}]");
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_INET, 1, 0);
        arr_el(&w, "\3\200\1\20\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 20);
        both_str(1041, w.b, w.n, "{::1/128}", "[\"::1/128\"]");
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_INTERVAL, 1, 0);
        arr_el(&w, "\0\0\0\0\0\0\0\0\0\0\0\1\0\0\0\0", 16);
        both_str(1187, w.b, w.n, "{P1D}", "[\"P1D\"]");
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_MONEY, 1, 0);
        arr_i64(&w, 100);
        both_str(791, w.b, w.n, "{$1.00}", "[\"1.00\"]");
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_CHAR, 1, 0);
        arr_el(&w, "\303", 1);
        both_str(1002, w.b, w.n, "{\"\\\\303\"}", "[\"\\\\303\"]");
}

static void test_arrays_malformed(void **state)
{
        struct wb w;
        (void)state;

        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_TEXT, 1, 0); /* elements of the wrong type */
        arr_el(&w, "a", 1);
        bad_bin(PG_OID_INT4_ARRAY, w.b, w.n, ZETL_EPROTO);
        w = (struct wb){ .n = 0 };
        w32(&w, 7); /* too many dimensions */
        w32(&w, 0);
        w32(&w, PG_OID_INT4);
        bad_bin(PG_OID_INT4_ARRAY, w.b, w.n, ZETL_EPROTO);
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 2, PG_OID_INT4, 1, 0); /* bad flags */
        arr_i32(&w, 1);
        bad_bin(PG_OID_INT4_ARRAY, w.b, w.n, ZETL_EPROTO);
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_INT4, 1, 0);
        arr_i32(&w, 1);
        w.b[w.n++] = 0; /* a trailing byte */
        bad_bin(PG_OID_INT4_ARRAY, w.b, w.n, ZETL_EPROTO);
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_INT4, 1, 0);
        arr_el(&w, NULL, -2); /* negative length */
        bad_bin(PG_OID_INT4_ARRAY, w.b, w.n, ZETL_EPROTO);
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_INT4, 1, 0);
        arr_el(&w, "\0\0\1", 3); /* an int4 of 3 bytes */
        bad_bin(PG_OID_INT4_ARRAY, w.b, w.n, ZETL_EPROTO);
        assert_non_null(strstr(E.msg, "array element 0"));
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_INT4, INT32_MAX, INT32_MAX); /* 2^62 elements in 28 bytes */
        bad_bin(PG_OID_INT4_ARRAY, w.b, w.n, ZETL_EPROTO);
        w = (struct wb){ .n = 0 };
        arr_hdr(&w, 0, PG_OID_INT4, -1, 0);
        bad_bin(PG_OID_INT4_ARRAY, w.b, w.n, ZETL_EPROTO);

        static const char *const bad[] = {
                "{1,2",     "{1,,2}", "{{1},2}", "{1,{2}}", "1,2",           "{1}}",
                "{1}x",     "{\"1}",  "{1 2}",   "",        "{a}",           "{{{{{{{1}}}}}}}",
                "[0:1]{1}", "{1,}",   "{,1}",    "{\"\"}",  "{99999999999}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                bad_text(PG_OID_INT4_ARRAY, bad[i], ZETL_EPROTO);
        bad_text(PG_OID_TEXT_ARRAY, "{a\\}", ZETL_EPROTO);
        bad_text(PG_OID_TEXT_ARRAY, "{\"a\\\"}", ZETL_EPROTO);
        ok_text(PG_OID_INT4_ARRAY, " { 1 , 2 } ");
        assert_string_equal(got(), "[1,2]");
        ok_text(PG_OID_INT4_ARRAY, "{{{{{{1}}}}}}");
        assert_string_equal(got(), "[[[[[[1]]]]]]");
}

/* A box[] has no element decoder and uses ';' between elements. */
static void test_arrays_text_only(void **state)
{
        struct pg_type_info box_arr = { .oid = 1020,
                                        .typtype = 'b',
                                        .typcategory = 'A',
                                        .typdelim = ',',
                                        .typelem = PG_OID_BOX };
        struct pg_col_decoder d;
        const char *s = "{(3,4),(1,2);(1,1),(0,0)}";
        (void)state;

        assert_int_equal(pg_col_decoder_init(&d, 1020, &box_arr, &E), 0);
        assert_int_equal(dec_with(&d, true, s, (int)strlen(s)), 0);
        assert_string_equal(got(), "[\"(3,4),(1,2)\",\"(1,1),(0,0)\"]");
        assert_int_equal(dec_with(&d, false, "\0\0\0\0", 4), ZETL_EUNSUPPORTED);
}

/* ---- robustness --------------------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static const uint32_t all_oids[] = {
        PG_OID_BOOL,
        PG_OID_BYTEA,
        PG_OID_CHAR,
        PG_OID_NAME,
        PG_OID_INT8,
        PG_OID_INT2,
        PG_OID_INT4,
        PG_OID_TEXT,
        PG_OID_OID,
        PG_OID_JSON,
        PG_OID_CIDR,
        PG_OID_FLOAT4,
        PG_OID_FLOAT8,
        PG_OID_MACADDR8,
        PG_OID_MONEY,
        PG_OID_MACADDR,
        PG_OID_INET,
        PG_OID_BPCHAR,
        PG_OID_VARCHAR,
        PG_OID_DATE,
        PG_OID_TIME,
        PG_OID_TIMESTAMP,
        PG_OID_TIMESTAMPTZ,
        PG_OID_INTERVAL,
        PG_OID_TIMETZ,
        PG_OID_NUMERIC,
        PG_OID_UUID,
        PG_OID_JSONB,
        PG_OID_TSVECTOR,
        1000,
        1001,
        1002,
        1005,
        1007,
        1009,
        1016,
        1021,
        1022,
        1041,
        1182,
        1183,
        1185,
        1187,
        1231,
        1270,
        2951,
        3807,
        791,
        1040,
        775,
        199,
};

/* Random bytes, and golden values with random bytes changed, in both forms:
 * any result is fine, reading out of bounds is not (ASan/UBSan builds). */
static void test_random_input(void **state)
{
        static const char alphabet[] = "{}\",\\0123456789.:-+ NULaefxTPYMDHS";
        uint8_t buf[96];
        struct wb w = { .n = 0 };
        (void)state;

        arr_hdr(&w, 1, PG_OID_NUMERIC, 2, 0);
        struct wb n1 = num(3, 0x4000, 6, 3, 12, 3456, 7890);
        arr_el(&w, n1.b, (int32_t)n1.n);
        arr_el(&w, NULL, -1);
        for (int round = 0; round < 4000; round++) {
                uint32_t oid = all_oids[next_rand() % (sizeof(all_oids) / sizeof(all_oids[0]))];
                size_t len = next_rand() % sizeof(buf);
                for (size_t i = 0; i < len; i++) {
                        uint64_t r = next_rand();
                        /* Half of them bytes that the text forms are made of. */
                        buf[i] = r & 1 ? (uint8_t)alphabet[(r >> 8) % (sizeof(alphabet) - 1)]
                                       : (uint8_t)(r >> 16);
                }
                (void)dec(false, oid, buf, (int)len);
                (void)dec(true, oid, buf, (int)len);
                memcpy(buf, w.b, w.n);
                buf[next_rand() % w.n] ^= (uint8_t)(1u << (next_rand() % 8));
                (void)dec(false, PG_OID_NUMERIC_ARRAY, buf, (int)w.n);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_map_builtin),
                cmocka_unit_test(test_map_user_types),
                cmocka_unit_test(test_ints),
                cmocka_unit_test(test_bool_null_mismatch),
                cmocka_unit_test(test_floats),
                cmocka_unit_test(test_numeric),
                cmocka_unit_test(test_money),
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_bytea_json_uuid),
                cmocka_unit_test(test_dates),
                cmocka_unit_test(test_times),
                cmocka_unit_test(test_timestamps),
                cmocka_unit_test(test_interval),
                cmocka_unit_test(test_inet_mac),
                cmocka_unit_test(test_arrays_binary),
                cmocka_unit_test(test_arrays_malformed),
                cmocka_unit_test(test_arrays_text_only),
                cmocka_unit_test(test_random_input),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
