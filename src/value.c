/*
 * Text forms of values (see zetl/value.h). The civil-date conversion is the
 * classic era-based computation over 400-year cycles of the proleptic
 * Gregorian calendar, exact for every int32 day count.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "zetl/types.h"
#include "zetl/value.h"

static int64_t floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;
        return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

void zetl_days_to_civil(int64_t days, int64_t *y, int *m, int *d)
{
        int64_t z = days + 719468; /* days since 0000-03-01 */
        int64_t era = floor_div(z, 146097);
        int64_t doe = z - era * 146097;                                      /* [0, 146096] */
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
        int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */

        *d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *y = yoe + era * 400 + (*m <= 2);
}

int64_t zetl_civil_to_days(int64_t y, int m, int d)
{
        y -= m <= 2;
        int64_t era = floor_div(y, 400);
        int64_t yoe = y - era * 400;
        int64_t mp = m > 2 ? m - 3 : m + 9;
        int64_t doy = (153 * mp + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static int format_ymd(int64_t days, char *buf)
{
        int64_t y;
        int m, d;

        zetl_days_to_civil(days, &y, &m, &d);
        if (y >= 0 && y <= 9999)
                return sprintf(buf, "%04" PRId64 "-%02d-%02d", y, m, d);
        return sprintf(buf, "%c%04" PRId64 "-%02d-%02d", y < 0 ? '-' : '+', y < 0 ? -y : y, m, d);
}

int zetl_format_date(int32_t days, char *buf)
{
        return format_ymd(days, buf);
}

static int format_hms(int64_t usec, char *buf)
{
        int64_t s = usec / 1000000, frac = usec % 1000000;
        int n = sprintf(buf, "%02d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));

        if (frac)
                n += sprintf(buf + n, ".%06d", (int)frac);
        return n;
}

int zetl_format_time(int64_t usec, char *buf)
{
        return format_hms(usec, buf);
}

int zetl_format_timestamp(int64_t usec, bool utc, char *buf)
{
        /* Split without multiplying back, so INT64_MIN cannot overflow. */
        int64_t days = usec / 86400000000LL;
        int64_t rest = usec % 86400000000LL;

        if (rest < 0) {
                days--;
                rest += 86400000000LL;
        }
        int n = format_ymd(days, buf);

        buf[n++] = 'T';
        n += format_hms(rest, buf + n);
        if (utc) {
                buf[n++] = 'Z';
                buf[n] = '\0';
        }
        return n;
}

int zetl_format_uuid(const uint8_t u[16], char *buf)
{
        static const char hex[] = "0123456789abcdef";
        int n = 0;

        for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        buf[n++] = '-';
                buf[n++] = hex[u[i] >> 4];
                buf[n++] = hex[u[i] & 15];
        }
        buf[n] = '\0';
        return n;
}

/* Read exactly n digits. */
static int digits(const char **p, const char *end, int n, int64_t *out)
{
        int64_t v = 0;

        for (int i = 0; i < n; i++) {
                if (*p >= end || !isdigit((unsigned char)**p))
                        return -1;
                v = v * 10 + (*(*p)++ - '0');
        }
        *out = v;
        return 0;
}

static int parse_ymd(const char **p, const char *end, int64_t *days)
{
        int64_t y, m, d;
        int sign = 1;

        if (*p < end && (**p == '+' || **p == '-')) {
                sign = **p == '-' ? -1 : 1;
                (*p)++;
        }
        const char *start = *p;
        y = 0;
        while (*p < end && isdigit((unsigned char)**p) && *p - start < 7)
                y = y * 10 + (*(*p)++ - '0');
        if (*p - start < 4 || *p >= end || *(*p)++ != '-' || digits(p, end, 2, &m) || *p >= end ||
            *(*p)++ != '-' || digits(p, end, 2, &d))
                return -1;
        y *= sign;
        if (m < 1 || m > 12 || d < 1 || d > 31)
                return -1;
        *days = zetl_civil_to_days(y, (int)m, (int)d);
        int64_t yy;
        int mm, dd;
        zetl_days_to_civil(*days, &yy, &mm, &dd);
        return (mm == m && dd == d) ? 0 : -1; /* rejects 2023-02-30 */
}

static int parse_hms(const char **p, const char *end, int64_t *usec)
{
        int64_t h, mi, s, frac = 0;

        if (digits(p, end, 2, &h) || *p >= end || *(*p)++ != ':' || digits(p, end, 2, &mi) ||
            *p >= end || *(*p)++ != ':' || digits(p, end, 2, &s))
                return -1;
        if (*p < end && **p == '.') {
                int n = 0;
                (*p)++;
                while (*p < end && isdigit((unsigned char)**p)) {
                        if (n < 6) {
                                frac = frac * 10 + (**p - '0');
                                n++;
                        } else if (**p != '0') {
                                return -1; /* below a microsecond: refuse to round */
                        }
                        (*p)++;
                }
                if (n == 0)
                        return -1;
                for (; n < 6; n++)
                        frac *= 10;
        }
        /* 24:00:00 is valid for PostgreSQL's time type. */
        if (h > 24 || mi > 59 || s > 60 || (h == 24 && (mi || s || frac)))
                return -1;
        *usec = ((h * 60 + mi) * 60 + s) * 1000000 + frac;
        return 0;
}

int zetl_parse_date(const char *s, size_t len, int32_t *out)
{
        const char *p = s, *end = s + len;
        int64_t days;

        if (parse_ymd(&p, end, &days) || p != end || days < INT32_MIN || days > INT32_MAX)
                return -1;
        *out = (int32_t)days;
        return 0;
}

int zetl_parse_time(const char *s, size_t len, int64_t *out)
{
        const char *p = s, *end = s + len;

        /* A leap second (23:59:60.5) would make a time past 24:00:00 that
         * cannot be written back (found by fuzz_jsonl). */
        if (parse_hms(&p, end, out) || p != end || *out > ZETL_USEC_PER_DAY)
                return -1;
        return 0;
}

int zetl_parse_timestamp(const char *s, size_t len, int64_t *out)
{
        const char *p = s, *end = s + len;
        int64_t days, usec, oh = 0, om = 0;

        if (parse_ymd(&p, end, &days) || p >= end || (*p != 'T' && *p != ' '))
                return -1;
        p++;
        if (parse_hms(&p, end, &usec))
                return -1;
        if (p < end && *p == 'Z') {
                p++;
        } else if (p < end && (*p == '+' || *p == '-')) {
                int sign = *p++ == '-' ? -1 : 1;
                if (digits(&p, end, 2, &oh))
                        return -1;
                if (p < end && *p == ':')
                        p++;
                if (p < end && digits(&p, end, 2, &om))
                        return -1;
                usec -= sign * (oh * 3600 + om * 60) * 1000000;
        }
        if (p != end)
                return -1;
        /* Refuse what an int64 of microseconds cannot hold (the sum is taken
         * in 128 bits: days * 86400e6 alone may pass INT64_MIN while the
         * timestamp itself fits). */
        __int128 total = (__int128)days * 86400000000LL + usec;
        if (total < INT64_MIN || total > INT64_MAX)
                return -1;
        *out = (int64_t)total;
        return 0;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char)tolower((unsigned char)c);
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int zetl_parse_uuid(const char *s, size_t len, uint8_t out[16])
{
        size_t i = 0;
        int n = 0;

        if (len != 36)
                return -1;
        while (n < 16) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i++] != '-')
                                return -1;
                        continue;
                }
                int hi = hexval(s[i]), lo = hexval(s[i + 1]);
                if (hi < 0 || lo < 0)
                        return -1;
                out[n++] = (uint8_t)(hi << 4 | lo);
                i += 2;
        }
        return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t zetl_base64_encode(const uint8_t *p, size_t len, char *buf)
{
        size_t n = 0, i = 0;

        for (; i + 2 < len; i += 3) {
                uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
                buf[n++] = b64[v >> 18];
                buf[n++] = b64[(v >> 12) & 63];
                buf[n++] = b64[(v >> 6) & 63];
                buf[n++] = b64[v & 63];
        }
        if (i < len) {
                uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
                buf[n++] = b64[v >> 18];
                buf[n++] = b64[(v >> 12) & 63];
                buf[n++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
                buf[n++] = '=';
        }
        buf[n] = '\0';
        return n;
}

static int b64val(char c)
{
        const char *p = c ? strchr(b64, c) : NULL;
        return p ? (int)(p - b64) : -1;
}

long zetl_base64_decode(const char *s, size_t len, uint8_t *out)
{
        long n = 0;

        if (len % 4)
                return -1;
        for (size_t i = 0; i < len; i += 4) {
                int v[4];
                int pad = 0;
                for (int k = 0; k < 4; k++) {
                        if (s[i + k] == '=' && i + 4 == len && k >= 2) {
                                v[k] = 0;
                                pad++;
                        } else if (pad || (v[k] = b64val(s[i + k])) < 0) {
                                return -1;
                        }
                }
                uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                             (uint32_t)v[3];
                out[n++] = (uint8_t)(w >> 16);
                if (pad < 2)
                        out[n++] = (uint8_t)(w >> 8);
                if (pad < 1)
                        out[n++] = (uint8_t)w;
        }
        return n;
}

bool zetl_decimal_valid(const char *s, size_t len)
{
        size_t i = 0, before = 0, after = 0;

        if ((len == 3 && memcmp(s, "NaN", 3) == 0) || (len == 8 && memcmp(s, "Infinity", 8) == 0) ||
            (len == 9 && memcmp(s, "-Infinity", 9) == 0))
                return true;
        if (i < len && s[i] == '-')
                i++;
        while (i < len && isdigit((unsigned char)s[i])) {
                i++;
                before++;
        }
        if (i < len && s[i] == '.') {
                i++;
                while (i < len && isdigit((unsigned char)s[i])) {
                        i++;
                        after++;
                }
                if (after == 0)
                        return false;
        }
        return before > 0 && i == len;
}

bool zetl_utf8_valid(const void *text, size_t n)
{
        const uint8_t *p = text;
        size_t i = 0;

        while (i < n) {
                uint8_t c = p[i];
                size_t k, j;
                uint32_t cp;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf) {
                        k = 1;
                        cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        k = 2;
                        cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        k = 3;
                        cp = c & 0x07;
                } else {
                        return false;
                }
                if (n - i <= k)
                        return false;
                for (j = 1; j <= k; j++) {
                        if ((p[i + j] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i + j] & 0x3f);
                }
                if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += k + 1;
        }
        return true;
}

size_t zetl_json_escape(unsigned char c, char out[6])
{
        static const char hex[] = "0123456789abcdef";
        static const char short_form[] = { ['"'] = '"',  ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
                                           ['\n'] = 'n', ['\r'] = 'r',  ['\t'] = 't' };

        out[0] = '\\';
        if (c < sizeof(short_form) && short_form[c]) {
                out[1] = short_form[c];
                return 2;
        }
        memcpy(out + 1, "u00", 3);
        out[4] = hex[c >> 4];
        out[5] = hex[c & 15];
        return 6;
}
