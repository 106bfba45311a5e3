/*
 * Tests of the text forms of values (zetl/value.h): the proleptic Gregorian
 * calendar against known day numbers and against an independent day-by-day
 * walk, ISO 8601 formatting (expanded signed years, fractions only when
 * non-zero, "Z"), parsers that accept exactly what the formatters write plus
 * the documented extras and refuse the rest, canonical UUIDs, base64 against
 * the RFC 4648 vectors, and the canonical decimal text of zetl/types.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zetl/types.h"
#include "zetl/value.h"

/* ---- calendar ------------------------------------------------------------- */

struct civil_case {
        int64_t y;
        int m, d;
        int64_t days;
};

/* Day numbers from the calendar's definition: 719468 days from 0000-03-01 to
 * 1970-01-01, Julian day 0 = -4713-11-24 (proleptic Gregorian) is 2440588 days
 * before the epoch, 146097 days per 400 years. */
static const struct civil_case civil_cases[] = {
        { 1970, 1, 1, 0 },
        { 1969, 12, 31, -1 },
        { 1970, 1, 2, 1 },
        { 2000, 1, 1, 10957 },
        { 2000, 3, 1, 11017 },
        { 2024, 2, 29, 19782 },
        { 1900, 3, 1, -25508 },
        { 1900, 2, 28, -25509 },
        { 1, 1, 1, -719162 },
        { 0, 3, 1, -719468 },
        { 0, 2, 29, -719469 }, /* year 0 is a leap year */
        { -1, 12, 31, -719529 },
        { -44, 3, 15, -735525 },
        { -4713, 11, 24, -2440588 },
        { 10000, 1, 1, 2932897 },
        { 294276, 1, 1, 106762574 },
        { 294276, 12, 31, 106762939 },
        { -5877641, 6, 23, INT32_MIN },
        { 5881580, 7, 11, INT32_MAX },
};

static void test_civil_known(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(civil_cases) / sizeof(civil_cases[0]); i++) {
                const struct civil_case *c = &civil_cases[i];
                int64_t y = 0;
                int m = 0, d = 0;

                zetl_days_to_civil(c->days, &y, &m, &d);
                if (y != c->y || m != c->m || d != c->d)
                        fail_msg("%lld -> %lld-%d-%d, expected %lld-%d-%d", (long long)c->days,
                                 (long long)y, m, d, (long long)c->y, c->m, c->d);
                assert_true(zetl_civil_to_days(c->y, c->m, c->d) == c->days);
        }
}

static bool leap(int64_t y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
        static const int len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

        return m == 2 && leap(y) ? 29 : len[m - 1];
}

/* Walk every day of ±1,000,000 days with an independent calendar: each day is
 * the successor of the previous one, and both conversions agree. */
static void test_civil_walk(void **state)
{
        int64_t y, ny;
        int m, d, nm, nd;

        (void)state;
        zetl_days_to_civil(-1000000, &y, &m, &d);
        for (int64_t n = -1000000; n < 1000000; n++) {
                /* Successor of (y, m, d). */
                ny = y;
                nm = m;
                nd = d + 1;
                if (nd > month_days(y, m)) {
                        nd = 1;
                        if (++nm > 12) {
                                nm = 1;
                                ny++;
                        }
                }
                zetl_days_to_civil(n + 1, &y, &m, &d);
                if (y != ny || m != nm || d != nd)
                        fail_msg("day %lld is %lld-%d-%d, expected %lld-%d-%d", (long long)n + 1,
                                 (long long)y, m, d, (long long)ny, nm, nd);
                if (zetl_civil_to_days(y, m, d) != n + 1)
                        fail_msg("civil_to_days(%lld-%d-%d) != %lld", (long long)y, m, d,
                                 (long long)n + 1);
        }
}

/* ---- formatting ----------------------------------------------------------- */

static void check_fmt(int len, const char *buf, const char *exp)
{
        assert_string_equal(buf, exp);
        assert_int_equal(len, (int)strlen(exp));
}

static void test_format_date(void **state)
{
        char buf[ZETL_TS_TEXT_MAX];

        (void)state;
        check_fmt(zetl_format_date(0, buf), buf, "1970-01-01");
        check_fmt(zetl_format_date(-1, buf), buf, "1969-12-31");
        check_fmt(zetl_format_date(10957, buf), buf, "2000-01-01");
        check_fmt(zetl_format_date(19782, buf), buf, "2024-02-29");
        check_fmt(zetl_format_date(-719162, buf), buf, "0001-01-01");
        check_fmt(zetl_format_date(-719468, buf), buf, "0000-03-01");
        check_fmt(zetl_format_date(2932896, buf), buf, "9999-12-31");
        /* Outside 0000..9999: expanded form with a sign. */
        check_fmt(zetl_format_date(2932897, buf), buf, "+10000-01-01");
        check_fmt(zetl_format_date(-735525, buf), buf, "-0044-03-15");
        check_fmt(zetl_format_date(-719529, buf), buf, "-0001-12-31");
        check_fmt(zetl_format_date(-2440588, buf), buf, "-4713-11-24");
        check_fmt(zetl_format_date(106762574, buf), buf, "+294276-01-01");
        check_fmt(zetl_format_date(INT32_MIN, buf), buf, "-5877641-06-23");
        check_fmt(zetl_format_date(INT32_MAX, buf), buf, "+5881580-07-11");
}

static void test_format_time(void **state)
{
        char buf[ZETL_TS_TEXT_MAX];

        (void)state;
        check_fmt(zetl_format_time(0, buf), buf, "00:00:00");
        check_fmt(zetl_format_time(INT64_C(43200000000), buf), buf, "12:00:00");
        check_fmt(zetl_format_time(INT64_C(43200500000), buf), buf, "12:00:00.500000");
        check_fmt(zetl_format_time(1, buf), buf, "00:00:00.000001");
        check_fmt(zetl_format_time(INT64_C(45296789012), buf), buf, "12:34:56.789012");
        check_fmt(zetl_format_time(ZETL_USEC_PER_DAY - 1, buf), buf, "23:59:59.999999");
        check_fmt(zetl_format_time(INT64_C(3723000000), buf), buf, "01:02:03");
}

static void test_format_timestamp(void **state)
{
        char buf[ZETL_TS_TEXT_MAX];

        (void)state;
        check_fmt(zetl_format_timestamp(0, false, buf), buf, "1970-01-01T00:00:00");
        check_fmt(zetl_format_timestamp(0, true, buf), buf, "1970-01-01T00:00:00Z");
        /* Before 1970 the fraction still counts forward from the second. */
        check_fmt(zetl_format_timestamp(-1, false, buf), buf, "1969-12-31T23:59:59.999999");
        check_fmt(zetl_format_timestamp(-1, true, buf), buf, "1969-12-31T23:59:59.999999Z");
        check_fmt(zetl_format_timestamp(-1000000, false, buf), buf, "1969-12-31T23:59:59");
        check_fmt(zetl_format_timestamp(-500000, true, buf), buf, "1969-12-31T23:59:59.500000Z");
        check_fmt(zetl_format_timestamp(-ZETL_USEC_PER_DAY, false, buf), buf,
                  "1969-12-31T00:00:00");
        check_fmt(zetl_format_timestamp(ZETL_PG_EPOCH_USEC + 1500000, true, buf), buf,
                  "2000-01-01T00:00:01.500000Z");
        check_fmt(zetl_format_timestamp(INT64_C(1709210096000001), false, buf), buf,
                  "2024-02-29T12:34:56.000001");
        check_fmt(zetl_format_timestamp(INT64_C(253402300800000000), true, buf), buf,
                  "+10000-01-01T00:00:00Z");
        check_fmt(zetl_format_timestamp(-735525 * ZETL_USEC_PER_DAY + 1, false, buf), buf,
                  "-0044-03-15T00:00:00.000001");
}

static void test_format_uuid(void **state)
{
        static const uint8_t u[16] = { 0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
                                       0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00 };
        static const uint8_t ff[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        static const uint8_t zero[16] = { 0 };
        char buf[64];

        (void)state;
        check_fmt(zetl_format_uuid(u, buf), buf, "123e4567-e89b-12d3-a456-426614174000");
        check_fmt(zetl_format_uuid(ff, buf), buf, "ffffffff-ffff-ffff-ffff-ffffffffffff");
        check_fmt(zetl_format_uuid(zero, buf), buf, "00000000-0000-0000-0000-000000000000");
}

/* ---- parsing -------------------------------------------------------------- */

static int pdate(const char *s, int32_t *out)
{
        return zetl_parse_date(s, strlen(s), out);
}

static int ptime(const char *s, int64_t *out)
{
        return zetl_parse_time(s, strlen(s), out);
}

static int pts(const char *s, int64_t *out)
{
        return zetl_parse_timestamp(s, strlen(s), out);
}

static void test_parse_date(void **state)
{
        static const char *const bad[] = {
                "",           "2023-02-30", "2023-02-29",          "2023-04-31",  "2023-13-01",
                "2023-00-10", "2023-01-00", "2023-01-32",          "2023-1-01",   "2023-01-1",
                "23-01-01",   "2023/01/01", "2023-01-01x",         "2023-01-01 ", " 2023-01-01",
                "2023-01",    "20230101",   "2023-01-01T00:00:00", "+",           "-",
                "abcd-01-01", "2023-0a-01",
        };
        int32_t d = 12345;

        (void)state;
        assert_int_equal(pdate("1970-01-01", &d), 0);
        assert_int_equal(d, 0);
        assert_int_equal(pdate("2024-02-29", &d), 0);
        assert_int_equal(d, 19782);
        assert_int_equal(pdate("1900-03-01", &d), 0);
        assert_int_equal(d, -25508);
        assert_int_equal(pdate("0000-03-01", &d), 0);
        assert_int_equal(d, -719468);
        assert_int_equal(pdate("+10000-01-01", &d), 0);
        assert_int_equal(d, 2932897);
        assert_int_equal(pdate("-0044-03-15", &d), 0);
        assert_int_equal(d, -735525);
        assert_int_equal(pdate("-4713-11-24", &d), 0);
        assert_int_equal(d, -2440588);
        assert_int_equal(pdate("+294276-12-31", &d), 0);
        assert_int_equal(d, 106762939);
        /* The length bounds the text: what follows is not read. */
        assert_int_equal(zetl_parse_date("2000-01-01junk", 10, &d), 0);
        assert_int_equal(d, 10957);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                d = 777;
                if (pdate(bad[i], &d) != ZETL_EINVAL)
                        fail_msg("date \"%s\" accepted (%d)", bad[i], d);
        }
        /* Cut anywhere, a valid date is no longer one. */
        for (size_t n = 0; n < 10; n++)
                assert_int_equal(zetl_parse_date("2000-01-01", n, &d), ZETL_EINVAL);
}

static void test_parse_time(void **state)
{
        static const char *const bad[] = {
                "",          "12:00",     "12",          "24:00:01",         "25:00:00",
                "12:60:00",  "12:00:61",  "1:00:00",     "12:0:00",          "12:00:0",
                "12:00:00x", "12:00:00.", "12:00:00.5x", "12:00:00.0000001", "12:00:00.1234561",
                "12-00-00",  " 12:00:00", "12:00:00 ",   "ab:cd:ef",         "12:00:00Z",
        };
        int64_t t = 0;

        (void)state;
        assert_int_equal(ptime("00:00:00", &t), 0);
        assert_true(t == 0);
        assert_int_equal(ptime("12:00:00", &t), 0);
        assert_true(t == INT64_C(43200000000));
        assert_int_equal(ptime("12:00:00.500000", &t), 0);
        assert_true(t == INT64_C(43200500000));
        assert_int_equal(ptime("23:59:59.999999", &t), 0);
        assert_true(t == ZETL_USEC_PER_DAY - 1);
        assert_int_equal(ptime("00:00:00.000001", &t), 0);
        assert_true(t == 1);
        /* Digits below a microsecond are accepted only when they are zeros. */
        assert_int_equal(ptime("12:34:56.7890120", &t), 0);
        assert_true(t == INT64_C(45296789012));
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                t = 777;
                if (ptime(bad[i], &t) != ZETL_EINVAL)
                        fail_msg("time \"%s\" accepted (%lld)", bad[i], (long long)t);
        }
}

static void test_parse_timestamp(void **state)
{
        static const char *const bad[] = {
                "",
                "2024-01-01",
                "2024-01-01T",
                "2024-01-01T12:00",
                "2024-01-01X12:00:00",
                "2024-01-01t12:00:00",
                "2024-01-01T12:00:00Zjunk",
                "2024-01-01T12:00:00 ",
                "2024-01-01T12:00:00+",
                "2024-01-01T12:00:00+5",
                "2024-01-01T12:00:00+05:3",
                "2024-02-30T00:00:00",
                "2024-01-01T24:00:01",
                "2024-01-01T12:00:00.0000001",
                "2024-01-01T12:00:00.",
                "2024-01-01  12:00:00",
        };
        const int64_t noon = INT64_C(1704110400000000); /* 2024-01-01T12:00:00Z */
        int64_t t = 0;

        (void)state;
        assert_int_equal(pts("2024-01-01T12:00:00", &t), 0);
        assert_true(t == noon);
        assert_int_equal(pts("2024-01-01T12:00:00Z", &t), 0);
        assert_true(t == noon);
        assert_int_equal(pts("2024-01-01 12:00:00", &t), 0);
        assert_true(t == noon);
        assert_int_equal(pts("2024-01-01 12:00:00Z", &t), 0);
        assert_true(t == noon);
        /* Offsets are converted to UTC. */
        assert_int_equal(pts("2024-01-01T12:00:00+05:30", &t), 0);
        assert_true(t == noon - INT64_C(19800000000));
        assert_int_equal(pts("2024-01-01T12:00:00-08", &t), 0);
        assert_true(t == noon + INT64_C(28800000000));
        assert_int_equal(pts("2024-01-01T12:00:00-08:00", &t), 0);
        assert_true(t == noon + INT64_C(28800000000));
        assert_int_equal(pts("2024-01-01T12:00:00+00", &t), 0);
        assert_true(t == noon);
        assert_int_equal(pts("2024-01-01 12:00:00.123456+05:30", &t), 0);
        assert_true(t == noon - INT64_C(19800000000) + 123456);
        /* An offset that crosses midnight and the year. */
        assert_int_equal(pts("2024-01-01T01:00:00+05:30", &t), 0);
        assert_true(t == INT64_C(1704051000000000)); /* 2023-12-31T19:30:00Z */
        assert_int_equal(pts("1969-12-31T23:59:59.999999", &t), 0);
        assert_true(t == -1);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                t = 777;
                if (pts(bad[i], &t) != ZETL_EINVAL)
                        fail_msg("timestamp \"%s\" accepted (%lld)", bad[i], (long long)t);
        }
}

/* What the formatters write, the parsers read back: dates every 7919th day
 * across ±1,000,000 days, times with microseconds, timestamps both ways. */
static void test_format_parse_sweep(void **state)
{
        char buf[ZETL_TS_TEXT_MAX];
        int32_t d;
        int64_t t;

        (void)state;
        for (int64_t n = -1000000; n <= 1000000; n += 7919) {
                int64_t us = n * ZETL_USEC_PER_DAY + ((n * 7919 * 104729) % ZETL_USEC_PER_DAY);
                int len = zetl_format_date((int32_t)n, buf);

                assert_int_equal(len, (int)strlen(buf));
                if (zetl_parse_date(buf, (size_t)len, &d) || d != n)
                        fail_msg("date %lld -> \"%s\" does not read back", (long long)n, buf);
                for (int utc = 0; utc < 2; utc++) {
                        len = zetl_format_timestamp(us, utc, buf);
                        assert_int_equal(len, (int)strlen(buf));
                        if (zetl_parse_timestamp(buf, (size_t)len, &t) || t != us)
                                fail_msg("timestamp %lld -> \"%s\" does not read back",
                                         (long long)us, buf);
                        *strchr(buf, 'T') = ' ';
                        if (zetl_parse_timestamp(buf, (size_t)len, &t) || t != us)
                                fail_msg("timestamp \"%s\" does not read back", buf);
                }
        }
        for (int64_t us = 0; us < ZETL_USEC_PER_DAY; us += INT64_C(105671561)) {
                int len = zetl_format_time(us, buf);

                assert_int_equal(len, (int)strlen(buf));
                if (zetl_parse_time(buf, (size_t)len, &t) || t != us)
                        fail_msg("time %lld -> \"%s\" does not read back", (long long)us, buf);
                /* 6 fraction digits exactly when the fraction is not zero. */
                if (us % 1000000)
                        assert_int_equal(len, 15);
                else
                        assert_int_equal(len, 8);
        }
        /* Every int32 day count, at the ends. */
        for (int64_t n = INT32_MIN; n < (int64_t)INT32_MIN + 1000; n++) {
                int len = zetl_format_date((int32_t)n, buf);

                assert_int_equal(zetl_parse_date(buf, (size_t)len, &d), 0);
                assert_int_equal(d, n);
                len = zetl_format_date((int32_t)(INT32_MAX - (n - INT32_MIN)), buf);
                assert_int_equal(zetl_parse_date(buf, (size_t)len, &d), 0);
                assert_int_equal(d, INT32_MAX - (n - INT32_MIN));
        }
}

/* Every int64 is a timestamp a batch can hold, and value.h promises exact
 * round trips for all of them; text beyond that range is refused. Kept last:
 * an overflow here aborts a -fno-sanitize-recover UBSan run. */
static void test_timestamp_int64_range(void **state)
{
        static const char *const beyond[] = {
                "+294247-01-10T04:00:54.775808Z",
                "-290308-12-21T19:59:05.224191Z",
                "+9999999-01-01T00:00:00",
                "-9999999-01-01T00:00:00Z",
        };
        char buf[ZETL_TS_TEXT_MAX];
        int64_t t;

        (void)state;
        check_fmt(zetl_format_timestamp(INT64_MAX, true, buf), buf,
                  "+294247-01-10T04:00:54.775807Z");
        assert_int_equal(pts("+294247-01-10T04:00:54.775807Z", &t), 0);
        assert_true(t == INT64_MAX);
        for (int64_t k = 0; k < 1000; k++) {
                const int64_t ends[2] = { INT64_MAX - k * 999983, INT64_MIN + k * 999983 };

                for (int i = 0; i < 2; i++) {
                        int len = zetl_format_timestamp(ends[i], true, buf);

                        if (zetl_parse_timestamp(buf, (size_t)len, &t) || t != ends[i])
                                fail_msg("timestamp %lld -> \"%s\" does not read back",
                                         (long long)ends[i], buf);
                }
        }
        check_fmt(zetl_format_timestamp(INT64_MIN, true, buf), buf,
                  "-290308-12-21T19:59:05.224192Z");
        assert_int_equal(pts("-290308-12-21T19:59:05.224192Z", &t), 0);
        assert_true(t == INT64_MIN);
        for (size_t i = 0; i < sizeof(beyond) / sizeof(beyond[0]); i++) {
                t = 777;
                if (pts(beyond[i], &t) != ZETL_EINVAL)
                        fail_msg("timestamp \"%s\" accepted (%lld)", beyond[i], (long long)t);
        }
}

/* ---- uuid ----------------------------------------------------------------- */

static void test_parse_uuid(void **state)
{
        static const uint8_t want[16] = { 0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
                                          0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00 };
        static const char *const bad[] = {
                "",
                "123e4567-e89b-12d3-a456-42661417400",   /* 35 */
                "123e4567-e89b-12d3-a456-4266141740000", /* 37 */
                "123e4567e89b12d3a456426614174000",      /* no dashes */
                "123e4567-e89b-12d3-a456_426614174000",
                "123e4567-e89b-12d3a-456-426614174000", /* dash moved */
                "123e456-7e89b-12d3-a456-426614174000",
                "-123e4567e89b-12d3-a456-426614174000",
                "123e4567-e89b-12d3-a456-42661417400g",
                "{23e4567-e89b-12d3-a456-42661417400}",
                "123e4567 e89b 12d3 a456 426614174000",
        };
        uint8_t u[16], v[16];
        char buf[64];

        (void)state;
        assert_int_equal(zetl_parse_uuid("123e4567-e89b-12d3-a456-426614174000", 36, u), 0);
        assert_memory_equal(u, want, 16);
        memset(u, 0, 16);
        assert_int_equal(zetl_parse_uuid("123E4567-E89B-12D3-A456-426614174000", 36, u), 0);
        assert_memory_equal(u, want, 16);
        assert_int_equal(zetl_parse_uuid("123e4567-E89b-12D3-a456-426614174000", 36, u), 0);
        assert_memory_equal(u, want, 16);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (zetl_parse_uuid(bad[i], strlen(bad[i]), u) != ZETL_EINVAL)
                        fail_msg("uuid \"%s\" accepted", bad[i]);
        /* Round trips of varied bytes. */
        for (int k = 0; k < 256; k++) {
                for (int i = 0; i < 16; i++)
                        u[i] = (uint8_t)(k * 31 + i * 17);
                assert_int_equal(zetl_format_uuid(u, buf), 36);
                assert_int_equal(zetl_parse_uuid(buf, 36, v), 0);
                assert_memory_equal(u, v, 16);
        }
}

/* ---- base64 --------------------------------------------------------------- */

static void test_base64_rfc4648(void **state)
{
        /* RFC 4648 section 10. */
        static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
        static const char *const coded[] = { "",         "Zg==",     "Zm8=",    "Zm9v",
                                             "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
        char buf[64];
        uint8_t out[64];

        (void)state;
        for (int i = 0; i < 7; i++) {
                size_t n = strlen(plain[i]);
                long m;

                memset(buf, '#', sizeof(buf));
                assert_int_equal(zetl_base64_encode((const uint8_t *)plain[i], n, buf),
                                 strlen(coded[i]));
                assert_string_equal(buf, coded[i]);
                assert_int_equal(strlen(buf) + 1, 4 * ((n + 2) / 3) + 1);
                m = zetl_base64_decode(coded[i], strlen(coded[i]), out);
                assert_int_equal(m, (long)n);
                assert_memory_equal(out, plain[i], n);
        }
}

static void test_base64_bytes_and_bad(void **state)
{
        static const char *const bad[] = {
                "Zg",   "Zg=",      "Zm9vY",    "Zg=a", "Z===",   "====", "Zm9v!A==",
                "Zm=v", "Zg==Zg==", "Zm9vYg=a", "Zm 9", "Zm9v\n", "Zm-_", "Zm9v====",
        };
        uint8_t in[256], out[400];
        char buf[400];

        (void)state;
        for (int i = 0; i < 256; i++)
                in[i] = (uint8_t)i;
        for (size_t n = 0; n <= 256; n += 1) {
                size_t len = zetl_base64_encode(in + 256 - n, n, buf);

                assert_int_equal(len, 4 * ((n + 2) / 3));
                assert_int_equal(strlen(buf), len);
                assert_int_equal(zetl_base64_decode(buf, len, out), (long)n);
                if (n)
                        assert_memory_equal(out, in + 256 - n, n);
        }
        /* All 64 symbols, '+' and '/' included. */
        assert_int_equal(zetl_base64_decode("+/+/", 4, out), 3);
        assert_int_equal(out[0], 0xfb);
        assert_int_equal(out[1], 0xff);
        assert_int_equal(out[2], 0xbf);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (zetl_base64_decode(bad[i], strlen(bad[i]), out) != -1)
                        fail_msg("base64 \"%s\" accepted", bad[i]);
        /* A NUL inside the text is not a symbol. */
        assert_int_equal(zetl_base64_decode("Zm\0v", 4, out), -1);
}

/* ---- decimals ------------------------------------------------------------- */

static void test_decimal_valid(void **state)
{
        static const char *const good[] = {
                "0",        "-1.50",     "NaN",
                "Infinity", "-Infinity", "123456789012345678901234567890.123",
                "-0.5",     "42",        "0.00",
                "-7",
        };
        static const char *const bad[] = {
                "",     "-",         "1.",        ".5",  "1e5",  "+1",       "1.2.3",
                " 1",   "1 ",        "-.5",       "--1", "1-",   "nan",      "inf",
                "-NaN", "+Infinity", "Infinity1", "1,5", "0x10", "\xd9\xa1",
        };

        (void)state;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                if (!zetl_decimal_valid(good[i], strlen(good[i])))
                        fail_msg("decimal \"%s\" refused", good[i]);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (zetl_decimal_valid(bad[i], strlen(bad[i])))
                        fail_msg("decimal \"%s\" accepted", bad[i]);
        /* The length bounds the text. */
        assert_true(zetl_decimal_valid("12.5x", 4));
        assert_false(zetl_decimal_valid("12.5", 3));
        assert_true(zetl_decimal_valid("NaNa", 3));
}

/* Found by fuzz_jsonl: "23:59:60.999999" parsed to a time past 24:00:00
 * that is written as "24:00:00.999999" and cannot be read back. */
static void test_time_past_midnight_refused(void **state)
{
        int64_t t;

        (void)state;
        assert_int_not_equal(zetl_parse_time("23:59:60.999999", 15, &t), 0);
        assert_int_not_equal(zetl_parse_time("23:59:60.000001", 15, &t), 0);
        assert_int_equal(zetl_parse_time("24:00:00", 8, &t), 0);
        assert_int_equal(t, 86400000000LL);
}

/* RFC 8259 section 7: the two-character escapes, \u00XX for other controls. */
static void test_json_escape(void **state)
{
        static const struct {
                unsigned char c;
                const char *want;
        } cases[] = { { '"', "\\\"" },     { '\\', "\\\\" },   { '\b', "\\b" }, { '\f', "\\f" },
                      { '\n', "\\n" },     { '\r', "\\r" },    { '\t', "\\t" }, { 0x00, "\\u0000" },
                      { 0x1f, "\\u001f" }, { 0x0b, "\\u000b" } };
        char out[6];

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t n = zetl_json_escape(cases[i].c, out);
                assert_int_equal(n, strlen(cases[i].want));
                assert_memory_equal(out, cases[i].want, n);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_time_past_midnight_refused),
                cmocka_unit_test(test_civil_known),
                cmocka_unit_test(test_civil_walk),
                cmocka_unit_test(test_format_date),
                cmocka_unit_test(test_format_time),
                cmocka_unit_test(test_format_timestamp),
                cmocka_unit_test(test_format_uuid),
                cmocka_unit_test(test_parse_date),
                cmocka_unit_test(test_parse_time),
                cmocka_unit_test(test_parse_timestamp),
                cmocka_unit_test(test_format_parse_sweep),
                cmocka_unit_test(test_parse_uuid),
                cmocka_unit_test(test_base64_rfc4648),
                cmocka_unit_test(test_base64_bytes_and_bad),
                cmocka_unit_test(test_decimal_valid),
                cmocka_unit_test(test_timestamp_int64_range),
                cmocka_unit_test(test_json_escape),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
