/*
 * Unit tests for connectors/mysql/my_json: MySQL 8's binary JSON to text.
 *
 * No MySQL 8 server runs here, so every document is built by hand, byte by
 * byte, from the published format: MySQL WL#8132 "JSON datatype and binary
 * storage format" and the grammar at the top of sql-common/json_binary.h
 * (type codes 0x00-0x0c and 0x0f, small containers with 2-byte counts,
 * sizes and offsets, large ones with 4-byte ones, values inlined in their
 * entries: literals, int16 and uint16 always, int32 and uint32 in large
 * containers; strings with a 7-bit-group length). Opaque temporal values
 * follow my_time.h's packed longlong layout (the PACKED_* macros below) and
 * the decimal one decimal.c's binary form. The expected text is MySQL's own
 * output for the same values (json_dom.cc: ", " and ": " separators, the
 * escapes of double_quote(), my_gcvt doubles with ".0" appended to integral
 * ones, temporals with six fractional digits, other opaque types as
 * "base64:typeNN:..."), as the MySQL reference manual shows it, e.g.
 * ["a", 1, "2015-07-27 09:43:47.000000"].
 *
 * Every fixture is also cut at every length (each prefix must be refused
 * with ZETL_EPROTO) and mutated at random (nothing may read out of bounds:
 * run under ASan/UBSan).
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

#include "../../connectors/mysql/my_json.h"
#include "zetl/batch.h"

static struct zetl_err E;
static char out[1 << 16];
static size_t out_len;

#define BY(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

/* Convert, checking that measuring and writing agree and that a buffer one
 * byte short is never overrun. Returns the code; the text is in out. */
static int conv(const uint8_t *p, size_t len)
{
        size_t n1 = 0, n2 = 0;
        int rc;

        memset(&E, 0, sizeof(E));
        rc = my_json_to_text(p, len, NULL, 0, &n1, &E);
        if (rc)
                return rc;
        assert_true(n1 < sizeof(out) - 1);
        memset(out, '#', sizeof(out));
        if (n1 > 0) {
                assert_int_equal(my_json_to_text(p, len, out, n1 - 1, &n2, &E), 0);
                assert_int_equal(n2, n1);
                assert_int_equal(out[n1 - 1], '#'); /* nothing past cap */
        }
        assert_int_equal(my_json_to_text(p, len, out, sizeof(out), &n2, &E), 0);
        assert_int_equal(n2, n1);
        out[n1] = '\0';
        out_len = n1;
        return 0;
}

static void expect(const uint8_t *p, size_t len, const char *text)
{
        int rc = conv(p, len);

        if (rc)
                fail_msg("conversion failed: %s", E.msg);
        assert_string_equal(out, text);
        assert_int_equal(out_len, strlen(text));
}

static void expect_err(const uint8_t *p, size_t len, int code)
{
        assert_int_equal(conv(p, len), code);
        assert_int_equal(E.code, code);
        assert_non_null(strstr(E.msg, "MySQL binary JSON"));
}

/* Every proper prefix of a document is malformed. */
static void truncations(const uint8_t *p, size_t len)
{
        for (size_t l = 1; l < len; l++) {
                size_t n;
                memset(&E, 0, sizeof(E));
                int rc = my_json_to_text(p, l, NULL, 0, &n, &E);
                if (rc != ZETL_EPROTO)
                        fail_msg("prefix of %zu of %zu bytes: rc %d", l, len, rc);
        }
}

/* Random single-byte changes: any outcome but a crash or an overrun. */
static void mutations(const uint8_t *p, size_t len)
{
        uint8_t *m = malloc(len);
        unsigned seed = 12345;

        assert_non_null(m);
        for (int it = 0; it < 3000; it++) {
                size_t n;
                memcpy(m, p, len);
                for (int k = 0; k < 1 + it % 3; k++) {
                        seed = seed * 1103515245u + 12345u;
                        m[(seed >> 8) % len] = (uint8_t)(seed >> 20);
                }
                int rc = my_json_to_text(m, len, NULL, 0, &n, &E);
                assert_true(rc == 0 || rc == ZETL_EPROTO || rc == ZETL_ELIMIT);
                if (rc == 0 && n < sizeof(out))
                        assert_int_equal(my_json_to_text(m, len, out, sizeof(out), &n, &E), 0);
        }
        free(m);
}

/* {"a": [1, 2.5, "x"], "b": null}: a small object (header 4 + 2 key entries
 * of 4 + 2 value entries of 3 = 18 bytes, keys at 18 and 19, the array at
 * 20), holding a small array (header 4 + 3 entries of 3 = 13, the double at
 * 13, the string at 21: 23 bytes); 43 bytes in all. */
static const uint8_t doc_nested[] = {
        0x00,                                     /* small object */
        0x02, 0x00, 0x2b, 0x00,                   /* 2 members, 43 bytes */
        0x12, 0x00, 0x01, 0x00,                   /* key "a" at 18, 1 byte */
        0x13, 0x00, 0x01, 0x00,                   /* key "b" at 19 */
        0x02, 0x14, 0x00,                         /* a: small array at 20 */
        0x04, 0x00, 0x00,                         /* b: literal null, inlined */
        'a',  'b',                                /* keys */
        0x03, 0x00, 0x17, 0x00,                   /* the array: 3 elements, 23 bytes */
        0x05, 0x01, 0x00,                         /* int16 1, inlined */
        0x0b, 0x0d, 0x00,                         /* double at 13 */
        0x0c, 0x15, 0x00,                         /* string at 21 */
        0,    0,    0,    0,    0, 0, 0x04, 0x40, /* 2.5 */
        0x01, 'x',                                /* "x" */
};

/* {"k": 70000, "n": -1, "s": "str", "t": true} as a large object: 4-byte
 * counts and offsets, key entries of 6, value entries of 5 bytes (header
 * 8 + 24 + 20 = 52), int32 inlined as large containers allow. */
static const uint8_t doc_large_obj[] = {
        0x01,                                           /* large object */
        0x04, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, /* 4 members, 60 bytes */
        0x34, 0x00, 0x00, 0x00, 0x01, 0x00,             /* "k" at 52 */
        0x35, 0x00, 0x00, 0x00, 0x01, 0x00,             /* "n" at 53 */
        0x36, 0x00, 0x00, 0x00, 0x01, 0x00,             /* "s" at 54 */
        0x37, 0x00, 0x00, 0x00, 0x01, 0x00,             /* "t" at 55 */
        0x07, 0x70, 0x11, 0x01, 0x00,                   /* int32 70000 inlined */
        0x05, 0xff, 0xff, 0x00, 0x00,                   /* int16 -1 inlined */
        0x0c, 0x38, 0x00, 0x00, 0x00,                   /* string at 56 */
        0x04, 0x01, 0x00, 0x00, 0x00,                   /* true */
        'k',  'n',  's',  't',  0x03, 's',  't',  'r',
};

/* [4000000000, -9223372036854775808, 18446744073709551615, false] as a
 * large array (header 8 + 4 entries of 5 = 28; the int64 at 28, the uint64
 * at 36). */
static const uint8_t doc_large_arr[] = {
        0x03, 0x04, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, /* 4 elements, 44 bytes */
        0x08, 0x00, 0x28, 0x6b, 0xee,                         /* uint32 inlined */
        0x09, 0x1c, 0x00, 0x00, 0x00,                         /* int64 at 28 */
        0x0a, 0x24, 0x00, 0x00, 0x00,                         /* uint64 at 36 */
        0x04, 0x02, 0x00, 0x00, 0x00,                         /* false */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

static void test_containers(void **state)
{
        (void)state;
        expect(doc_nested, sizeof(doc_nested), "{\"a\": [1, 2.5, \"x\"], \"b\": null}");
        expect(doc_large_obj, sizeof(doc_large_obj),
               "{\"k\": 70000, \"n\": -1, \"s\": \"str\", \"t\": true}");
        expect(doc_large_arr, sizeof(doc_large_arr),
               "[4000000000, -9223372036854775808, 18446744073709551615, false]");
        /* empty containers: count 0, size 4 (small) or 8 (large) */
        expect(BY(0x00, 0x00, 0x00, 0x04, 0x00), "{}");
        expect(BY(0x02, 0x00, 0x00, 0x04, 0x00), "[]");
        expect(BY(0x01, 0, 0, 0, 0, 0x08, 0, 0, 0), "{}");
        expect(BY(0x03, 0, 0, 0, 0, 0x08, 0, 0, 0), "[]");
        /* [[]]: the inner array at offset 7 */
        expect(BY(0x02, 0x01, 0x00, 0x0b, 0x00, 0x02, 0x07, 0x00, 0x00, 0x00, 0x04, 0x00), "[[]]");
}

static void test_scalars(void **state)
{
        (void)state;
        expect(BY(0x04, 0x00), "null");
        expect(BY(0x04, 0x01), "true");
        expect(BY(0x04, 0x02), "false");
        expect(BY(0x05, 0x00, 0x80), "-32768");
        expect(BY(0x06, 0xff, 0xff), "65535");
        expect(BY(0x07, 0x00, 0x00, 0x00, 0x80), "-2147483648");
        expect(BY(0x08, 0xff, 0xff, 0xff, 0xff), "4294967295");
        expect(BY(0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), "9223372036854775807");
        expect(BY(0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80), "9223372036854775808");
        /* A zero-length JSON value is what MySQL reads as null. */
        expect(NULL, 0, "null");
}

/* A double document: type 0x0b and the IEEE 754 bits, little-endian. */
static void expect_double(double d, const char *text)
{
        uint8_t b[9] = { 0x0b };
        uint64_t bits;

        memcpy(&bits, &d, 8);
        for (int i = 0; i < 8; i++)
                b[1 + i] = (uint8_t)(bits >> (8 * i));
        expect(b, sizeof(b), text);
}

static void test_doubles(void **state)
{
        (void)state;
        /* my_gcvt: fixed notation while the decimal point position is in
         * [-14, 15] or within the digits, else exponent; ".0" for integral. */
        expect_double(1.0, "1.0");
        expect_double(0.0, "0.0");
        expect_double(-0.0, "-0.0");
        expect_double(0.1, "0.1");
        expect_double(-2.5, "-2.5");
        expect_double(100.0, "100.0");
        expect_double(123456789012345.0, "123456789012345.0");
        expect_double(1e15, "1e15");
        expect_double(1e20, "1e20");
        expect_double(1125899906842624.5, "1125899906842624.5");
        expect_double(0.00001, "0.00001");
        expect_double(1e-15, "0.000000000000001");
        expect_double(1e-16, "1e-16");
        expect_double(1.5e-16, "1.5e-16");
        expect_double(-3.25e100, "-3.25e100");
        expect_double(5e-324, "5e-324");
        expect_double(1.7976931348623157e308, "1.7976931348623157e308");
        expect_double(0.30000000000000004, "0.30000000000000004");
        {
                uint8_t nan[9] = { 0x0b, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f };
                expect_err(nan, sizeof(nan), ZETL_EPROTO);
        }
}

static void test_strings(void **state)
{
        (void)state;
        /* escapes as MySQL's double_quote writes them; 0x7f and UTF-8 as is */
        expect(BY(0x0c, 0x0a, 'a', '"', 'b', '\\', '\n', 0x01, 0xc3, 0xa9, 0x1f, 0x7f),
               "\"a\\\"b\\\\\\n\\u0001\xc3\xa9\\u001f\x7f\"");
        expect(BY(0x0c, 0x06, '\b', '\f', '\r', '\t', 0x00, '/'), "\"\\b\\f\\r\\t\\u0000/\"");
        expect(BY(0x0c, 0x00), "\"\"");
        /* a 200-byte string: its length in two 7-bit groups (0xc8 0x01) */
        uint8_t s[3 + 200];
        char want[203];
        s[0] = 0x0c;
        s[1] = 0xc8;
        s[2] = 0x01;
        memset(s + 3, 'x', 200);
        want[0] = '"';
        memset(want + 1, 'x', 200);
        want[201] = '"';
        want[202] = '\0';
        expect(s, sizeof(s), want);
        truncations(s, sizeof(s));
        /* a length of six groups is refused */
        expect_err(BY(0x0c, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), ZETL_EPROTO);
}

/* my_time.h's packed temporal: ((year * 13 + month) << 5 | day) << 17 |
 * hour << 12 | minute << 6 | second, then << 24 | microseconds; negated for
 * a negative TIME. Stored as 8 bytes little-endian. */
#define PACKED_DT(y, mo, d, h, mi, s, us)                                                          \
        ((((((uint64_t)(y)*13 + (mo)) << 5 | (d)) << 17 | (uint64_t)(h) << 12 | (mi) << 6 | (s))   \
          << 24) |                                                                                 \
         (us))
#define PACKED_T(h, mi, s, us) (((uint64_t)(h) << 12 | (mi) << 6 | (s)) << 24 | (us))

static void expect_opaque_time(uint8_t ftype, uint64_t packed, const char *text)
{
        uint8_t b[11] = { 0x0f, ftype, 0x08 };

        for (int i = 0; i < 8; i++)
                b[3 + i] = (uint8_t)(packed >> (8 * i));
        expect(b, sizeof(b), text);
        truncations(b, sizeof(b));
}

static void test_opaque(void **state)
{
        (void)state;
        /* DECIMAL(3,2): precision, scale, then the binary decimal (one byte
         * for the integer digit with the sign bit, one for two decimals). */
        expect(BY(0x0f, 0xf6, 0x04, 0x03, 0x02, 0x81, 0x32), "1.50");
        expect(BY(0x0f, 0xf6, 0x04, 0x03, 0x02, 0x7e, 0xcd), "-1.50");
        expect(BY(0x0f, 0xf6, 0x04, 0x03, 0x02, 0x80, 0x00), "0.00");
        expect_err(BY(0x0f, 0xf6, 0x04, 0x03, 0x02, 0x81, 0x64), ZETL_EPROTO); /* 100 hundredths */
        expect_err(BY(0x0f, 0xf6, 0x03, 0x03, 0x02, 0x81), ZETL_EPROTO);       /* too short */
        /* temporals: DATETIME (12), TIMESTAMP (7), DATE (10), TIME (11) */
        expect_opaque_time(12, PACKED_DT(2015, 1, 15, 23, 24, 25, 0),
                           "\"2015-01-15 23:24:25.000000\"");
        expect_opaque_time(7, PACKED_DT(2038, 1, 19, 3, 14, 7, 500000),
                           "\"2038-01-19 03:14:07.500000\"");
        expect_opaque_time(10, PACKED_DT(2015, 1, 15, 0, 0, 0, 0), "\"2015-01-15\"");
        expect_opaque_time(11, PACKED_T(12, 34, 56, 789000), "\"12:34:56.789000\"");
        expect_opaque_time(11, 0 - PACKED_T(838, 59, 59, 500000), "\"-838:59:59.500000\"");
        /* VAR_STRING is printed as a string */
        expect(BY(0x0f, 0xfd, 0x03, 'a', '"', 'c'), "\"a\\\"c\"");
        /* anything else as base64, a "\n" after every 76 characters */
        uint8_t blob[3 + 60];
        blob[0] = 0x0f;
        blob[1] = 0xfc;
        blob[2] = 60;
        memset(blob + 3, 0, 57);
        memcpy(blob + 3 + 57, "abc", 3);
        char want[128];
        snprintf(want, sizeof(want), "\"base64:type252:%.76s\\nYWJj\"",
                 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        expect(blob, sizeof(blob), want);
        truncations(blob, sizeof(blob));
        expect(BY(0x0f, 0x10, 0x02, 0xff, 0xfe), "\"base64:type16://4=\"");
        /* a temporal that is not 8 bytes */
        expect_err(BY(0x0f, 0x0c, 0x02, 0x01, 0x02), ZETL_EPROTO);
}

static void test_malformed(void **state)
{
        (void)state;
        expect_err(BY(0x0d, 0x00), ZETL_EPROTO);                   /* unknown type */
        expect_err(BY(0x04, 0x03), ZETL_EPROTO);                   /* unknown literal */
        expect_err(BY(0x02, 0x01, 0x00, 0x08, 0x00), ZETL_EPROTO); /* size past the end */
        /* an entry count that does not fit the size */
        expect_err(BY(0x02, 0x05, 0x00, 0x07, 0x00, 0x04, 0x00, 0x00), ZETL_EPROTO);
        /* a value offset inside the header, or past the container */
        expect_err(BY(0x02, 0x01, 0x00, 0x08, 0x00, 0x0c, 0x02, 0x00, 0x00), ZETL_EPROTO);
        expect_err(BY(0x02, 0x01, 0x00, 0x08, 0x00, 0x0c, 0x09, 0x00, 0x00), ZETL_EPROTO);
        /* a key past its object */
        expect_err(BY(0x00, 0x01, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 'k'),
                   ZETL_EPROTO);
        /* int32 is not inlined in a small container: its entry is an offset */
        expect_err(BY(0x02, 0x01, 0x00, 0x07, 0x00, 0x07, 0x01, 0x00), ZETL_EPROTO);
}

/* n arrays, each holding the next one: [[[...[]...]]] */
static size_t nested_arrays(uint8_t *b, int n)
{
        size_t len = 1 + 4 + (size_t)(n - 1) * 7;

        b[0] = 0x02;
        for (int i = 0; i < n; i++) {
                uint8_t *a = b + 1 + (size_t)i * 7;
                size_t size = len - 1 - (size_t)i * 7;
                a[0] = i < n - 1;
                a[1] = 0;
                a[2] = (uint8_t)size;
                a[3] = (uint8_t)(size >> 8);
                if (i < n - 1) {
                        a[4] = 0x02;
                        a[5] = 7;
                        a[6] = 0;
                }
        }
        return len;
}

static void test_limits(void **state)
{
        uint8_t b[1024];
        size_t len;

        (void)state;
        len = nested_arrays(b, MY_JSON_MAX_DEPTH);
        assert_int_equal(conv(b, len), 0);
        assert_int_equal(out_len, 2 * MY_JSON_MAX_DEPTH);
        assert_int_equal(out[MY_JSON_MAX_DEPTH - 1], '[');
        assert_int_equal(out[MY_JSON_MAX_DEPTH], ']');
        len = nested_arrays(b, MY_JSON_MAX_DEPTH + 1);
        expect_err(b, len, ZETL_EPROTO);
        assert_non_null(strstr(E.msg, "deeper"));

        /* 1000 entries that all point at one array of 1000 trues: 6 kB of
         * binary, 6 MB of text, refused past 16 times the binary size. */
        size_t n = 1000, inner = 4 + 3 * n, total = 1 + 4 + 3 * n + inner;
        uint8_t *d = calloc(1, total);
        assert_non_null(d);
        d[0] = 0x02;
        d[1] = (uint8_t)n;
        d[2] = (uint8_t)(n >> 8);
        d[3] = (uint8_t)((total - 1) & 0xff);
        d[4] = (uint8_t)((total - 1) >> 8);
        for (size_t i = 0; i < n; i++) {
                d[5 + 3 * i] = 0x02;
                d[6 + 3 * i] = (uint8_t)(inner & 0xff);
                d[7 + 3 * i] = (uint8_t)(inner >> 8);
        }
        uint8_t *a = d + 1 + inner;
        a[0] = (uint8_t)n;
        a[1] = (uint8_t)(n >> 8);
        a[2] = (uint8_t)(inner & 0xff);
        a[3] = (uint8_t)(inner >> 8);
        for (size_t i = 0; i < n; i++) {
                a[4 + 3 * i] = 0x04;
                a[5 + 3 * i] = 0x01;
        }
        size_t m;
        assert_int_equal(my_json_to_text(d, total, NULL, 0, &m, &E), ZETL_ELIMIT);
        assert_int_equal(E.code, ZETL_ELIMIT);
        free(d);
}

static void test_truncations_and_mutations(void **state)
{
        (void)state;
        truncations(doc_nested, sizeof(doc_nested));
        truncations(doc_large_obj, sizeof(doc_large_obj));
        truncations(doc_large_arr, sizeof(doc_large_arr));
        mutations(doc_nested, sizeof(doc_nested));
        mutations(doc_large_obj, sizeof(doc_large_obj));
        mutations(doc_large_arr, sizeof(doc_large_arr));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_containers), cmocka_unit_test(test_scalars),
                cmocka_unit_test(test_doubles),    cmocka_unit_test(test_strings),
                cmocka_unit_test(test_opaque),     cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_limits),     cmocka_unit_test(test_truncations_and_mutations),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
