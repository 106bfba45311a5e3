/*
 * my_json (see my_json.h): a recursive walk over MySQL's binary JSON that
 * writes the text as it goes. The same walk measures (no buffer) and writes
 * (a buffer big enough), so the two always agree on the length.
 *
 * The binary format (MySQL WL#8132, json_binary.h): a document is a type byte
 * and a value. Objects and arrays start with an element count and a total
 * size (2 bytes each when "small", 4 when "large"), then for objects one key
 * entry per member (offset, 2-byte length), then one value entry per element
 * (type byte, then an offset from the container's start, or the value itself
 * when it fits: literals, int16 and uint16 always, int32 and uint32 in large
 * containers). Scalars are little-endian; strings and opaque data carry a
 * length of 7-bit groups, low group first, high bit set on all but the last.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "my_json.h"
#include "my_rows.h"
#include "zetl/batch.h"
#include "zetl/value.h"

enum {
        J_SMALL_OBJ = 0x00,
        J_LARGE_OBJ = 0x01,
        J_SMALL_ARR = 0x02,
        J_LARGE_ARR = 0x03,
        J_LITERAL = 0x04,
        J_INT16 = 0x05,
        J_UINT16 = 0x06,
        J_INT32 = 0x07,
        J_UINT32 = 0x08,
        J_INT64 = 0x09,
        J_UINT64 = 0x0a,
        J_DOUBLE = 0x0b,
        J_STRING = 0x0c,
        J_OPAQUE = 0x0f,
};

/* Output: counts every byte, stores them while they fit. */
struct jout {
        char *buf;
        size_t cap;
        size_t n;
        size_t max;
        struct zetl_err *err;
};

static int bad(struct jout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct jout *o, const char *fmt, ...)
{
        char why[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        return zetl_err_set(o->err, ZETL_EPROTO, ZETL_ERRC_FATAL, "MySQL binary JSON: %s", why);
}

static void put(struct jout *o, const void *s, size_t n)
{
        if (o->buf && o->n + n <= o->cap)
                memcpy(o->buf + o->n, s, n);
        o->n += n;
}

static void puts_(struct jout *o, const char *s)
{
        put(o, s, strlen(s));
}

static void putc_(struct jout *o, char c)
{
        put(o, &c, 1);
}

static int check_size(struct jout *o)
{
        if (o->n > o->max)
                return zetl_err_set(o->err, ZETL_ELIMIT, ZETL_ERRC_FATAL,
                                    "MySQL binary JSON: text longer than %zu bytes", o->max);
        return 0;
}

static inline uint16_t le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const uint8_t *p)
{
        return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A string as MySQL quotes it. */
static void put_quoted(struct jout *o, const uint8_t *s, size_t n)
{
        size_t run = 0;

        putc_(o, '"');
        for (size_t i = 0; i < n; i++) {
                uint8_t c = s[i];
                char esc[6];

                if (c > 0x1f && c != '"' && c != '\\')
                        continue;
                put(o, s + run, i - run);
                run = i + 1;
                put(o, esc, zetl_json_escape(c, esc));
        }
        put(o, s + run, n - run);
        putc_(o, '"');
}

/* MySQL's my_gcvt layout of the shortest round-trip digits (see my_json.h). */
static void put_double(struct jout *o, double v)
{
        char e[40], out[48], dig[20];
        int prec, nd = 0, n = 0;

        for (prec = 1; prec < 17; prec++) {
                snprintf(e, sizeof(e), "%.*e", prec - 1, v);
                if (strtod(e, NULL) == v)
                        break;
        }
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        const char *q = e;
        if (*q == '-') {
                out[n++] = '-';
                q++;
        }
        for (; *q && *q != 'e'; q++)
                if (*q != '.')
                        dig[nd++] = *q;
        int decpt = (int)strtol(q + 1, NULL, 10) + 1;
        while (nd > 1 && dig[nd - 1] == '0')
                nd--;
        if (v == 0)
                decpt = 1;
        if ((decpt >= -14 && decpt <= 15) || (decpt > 15 && nd > decpt)) {
                if (decpt <= 0) {
                        out[n++] = '0';
                        out[n++] = '.';
                        for (int k = 0; k < -decpt; k++)
                                out[n++] = '0';
                        memcpy(out + n, dig, (size_t)nd);
                        n += nd;
                } else if (decpt < nd) {
                        memcpy(out + n, dig, (size_t)decpt);
                        n += decpt;
                        out[n++] = '.';
                        memcpy(out + n, dig + decpt, (size_t)(nd - decpt));
                        n += nd - decpt;
                } else {
                        memcpy(out + n, dig, (size_t)nd);
                        n += nd;
                        for (int k = nd; k < decpt; k++)
                                out[n++] = '0';
                        out[n++] = '.';
                        out[n++] = '0';
                }
        } else {
                int x = decpt - 1;
                out[n++] = dig[0];
                if (nd > 1) {
                        out[n++] = '.';
                        memcpy(out + n, dig + 1, (size_t)nd - 1);
                        n += nd - 1;
                }
                n += snprintf(out + n, sizeof(out) - (size_t)n, "e%s%d", x < 0 ? "-" : "",
                              x < 0 ? -x : x);
        }
        put(o, out, (size_t)n);
}

/* The 7-bit-group length of strings and opaque data (at most 5 groups: 32 bits). */
static int read_varlen(struct jout *o, const uint8_t *p, size_t n, uint32_t *len, size_t *used)
{
        uint64_t v = 0;

        for (size_t i = 0; i < 5; i++) {
                if (i >= n)
                        return bad(o, "length runs past the value");
                v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
                if (!(p[i] & 0x80)) {
                        if (v > UINT32_MAX)
                                return bad(o, "length over 32 bits");
                        *len = (uint32_t)v;
                        *used = i + 1;
                        return 0;
                }
        }
        return bad(o, "length of more than 5 bytes");
}

/* MySQL's packed temporal (8 bytes, little-endian): date and time parts over
 * the 24-bit microsecond field (my_time.h's "packed" longlong). */
static int put_packed_time(struct jout *o, uint8_t ftype, const uint8_t *p, size_t n)
{
        char buf[64];
        int k;

        if (n != 8)
                return bad(o, "temporal of %zu bytes, expected 8", n);
        int64_t v = (int64_t)le64(p);
        if (v == INT64_MIN)
                return bad(o, "temporal out of range");
        bool neg = v < 0;
        uint64_t a = (uint64_t)(neg ? -v : v);
        uint32_t usec = (uint32_t)(a & 0xffffff);
        uint64_t ip = a >> 24;

        if (usec > 999999)
                return bad(o, "temporal fraction %u", usec);
        if (ftype == MY_T_TIME) {
                unsigned h = (unsigned)((ip >> 12) & 0x3ff), mi = (unsigned)((ip >> 6) & 63),
                         s = (unsigned)(ip & 63);
                k = snprintf(buf, sizeof(buf), "\"%s%02u:%02u:%02u.%06u\"", neg ? "-" : "", h, mi,
                             s, usec);
        } else {
                uint64_t ymd = ip >> 17, ym = ymd >> 5;
                unsigned hms = (unsigned)(ip & 0x1ffff);
                unsigned y = (unsigned)(ym / 13), mo = (unsigned)(ym % 13),
                         d = (unsigned)(ymd & 31);
                if (neg || y > 9999)
                        return bad(o, "date out of range");
                if (ftype == MY_T_DATE)
                        k = snprintf(buf, sizeof(buf), "\"%04u-%02u-%02u\"", y, mo, d);
                else
                        k = snprintf(buf, sizeof(buf), "\"%04u-%02u-%02u %02u:%02u:%02u.%06u\"", y,
                                     mo, d, hms >> 12, (hms >> 6) & 63, hms & 63, usec);
        }
        put(o, buf, (size_t)k);
        return 0;
}

static int put_opaque(struct jout *o, const uint8_t *p, size_t n)
{
        uint32_t len;
        size_t used;
        int rc;

        if (n < 1)
                return bad(o, "opaque value without its type");
        uint8_t ftype = p[0];
        if ((rc = read_varlen(o, p + 1, n - 1, &len, &used)))
                return rc;
        if (len > n - 1 - used)
                return bad(o, "opaque value of %u bytes runs past the document", len);
        const uint8_t *d = p + 1 + used;

        switch (ftype) {
        case MY_T_NEWDECIMAL: {
                char txt[MY_DECIMAL_TEXT_MAX];
                int tl;
                if (len < 2)
                        return bad(o, "decimal without precision and scale");
                tl = my_decimal_to_text(d + 2, len - 2, d[0], d[1], txt);
                if (tl < 0)
                        return bad(o, "malformed decimal(%u,%u)", d[0], d[1]);
                put(o, txt, (size_t)tl);
                return 0;
        }
        case MY_T_DATE:
        case MY_T_TIME:
        case MY_T_DATETIME:
        case MY_T_TIMESTAMP:
                return put_packed_time(o, ftype, d, len);
        case MY_T_VAR_STRING:
                put_quoted(o, d, len);
                return 0;
        default: {
                /* base64 in lines of 76 characters (57 bytes), as MySQL writes it. */
                char hdr[32], b64[80];
                put(o, "\"", 1);
                put(o, hdr, (size_t)snprintf(hdr, sizeof(hdr), "base64:type%u:", ftype));
                for (uint32_t i = 0; i < len; i += 57) {
                        if (i)
                                puts_(o, "\\n");
                        put(o, b64, zetl_base64_encode(d + i, len - i < 57 ? len - i : 57, b64));
                        if ((rc = check_size(o)))
                                return rc;
                }
                put(o, "\"", 1);
                return 0;
        }
        }
}

static int put_value(struct jout *o, uint8_t type, const uint8_t *p, size_t n, int depth);

/* Offsets and counts are 2 bytes in small containers, 4 in large ones. */
static uint32_t rd_off(const uint8_t *p, bool large)
{
        return large ? le32(p) : le16(p);
}

static bool inlined(uint8_t type, bool large)
{
        return type == J_LITERAL || type == J_INT16 || type == J_UINT16 ||
               (large && (type == J_INT32 || type == J_UINT32));
}

static int put_container(struct jout *o, const uint8_t *p, size_t n, bool large, bool obj,
                         int depth)
{
        size_t w = large ? 4 : 2, ke = obj ? w + 2 : 0, ve = 1 + w;
        int rc;

        if (depth >= MY_JSON_MAX_DEPTH)
                return bad(o, "nested deeper than %d", MY_JSON_MAX_DEPTH);
        if (n < 2 * w)
                return bad(o, "%s header runs past the document", obj ? "object" : "array");
        uint32_t count = rd_off(p, large), size = rd_off(p + w, large);
        if (size > n || size < 2 * w)
                return bad(o, "%s size %u, %zu bytes available", obj ? "object" : "array", size, n);
        uint64_t hdr = 2 * w + (uint64_t)count * (ke + ve);
        if (hdr > size)
                return bad(o, "%u entries do not fit in %u bytes", count, size);

        putc_(o, obj ? '{' : '[');
        for (uint32_t i = 0; i < count; i++) {
                if (i)
                        put(o, ", ", 2);
                if (obj) {
                        const uint8_t *k = p + 2 * w + (size_t)i * ke;
                        uint32_t koff = rd_off(k, large);
                        uint16_t klen = le16(k + w);
                        if (koff < hdr || (uint64_t)koff + klen > size)
                                return bad(o, "key %u out of its object", i);
                        put_quoted(o, p + koff, klen);
                        put(o, ": ", 2);
                }
                const uint8_t *e = p + 2 * w + (size_t)count * ke + (size_t)i * ve;
                if (inlined(e[0], large)) {
                        rc = put_value(o, e[0], e + 1, w, depth + 1);
                } else {
                        uint32_t off = rd_off(e + 1, large);
                        if (off < hdr || off >= size)
                                return bad(o, "value %u out of its container", i);
                        rc = put_value(o, e[0], p + off, size - off, depth + 1);
                }
                if (rc || (rc = check_size(o)))
                        return rc;
        }
        putc_(o, obj ? '}' : ']');
        return 0;
}

static int put_value(struct jout *o, uint8_t type, const uint8_t *p, size_t n, int depth)
{
        static const uint8_t width[] = {
                [J_LITERAL] = 1, [J_INT16] = 2, [J_UINT16] = 2, [J_INT32] = 4,
                [J_UINT32] = 4,  [J_INT64] = 8, [J_UINT64] = 8, [J_DOUBLE] = 8
        };
        char buf[32];

        if (type >= J_LITERAL && type <= J_DOUBLE && n < width[type])
                return bad(o, "scalar of type %u runs past the document", type);
        switch (type) {
        case J_SMALL_OBJ:
        case J_LARGE_OBJ:
                return put_container(o, p, n, type == J_LARGE_OBJ, true, depth);
        case J_SMALL_ARR:
        case J_LARGE_ARR:
                return put_container(o, p, n, type == J_LARGE_ARR, false, depth);
        case J_LITERAL:
                if (p[0] > 2)
                        return bad(o, "literal %u", p[0]);
                puts_(o, p[0] == 0 ? "null" : p[0] == 1 ? "true" : "false");
                return 0;
        case J_INT16:
                put(o, buf, (size_t)snprintf(buf, sizeof(buf), "%d", (int16_t)le16(p)));
                return 0;
        case J_UINT16:
                put(o, buf, (size_t)snprintf(buf, sizeof(buf), "%u", le16(p)));
                return 0;
        case J_INT32:
                put(o, buf, (size_t)snprintf(buf, sizeof(buf), "%" PRId32, (int32_t)le32(p)));
                return 0;
        case J_UINT32:
                put(o, buf, (size_t)snprintf(buf, sizeof(buf), "%" PRIu32, le32(p)));
                return 0;
        case J_INT64:
                put(o, buf, (size_t)snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)le64(p)));
                return 0;
        case J_UINT64:
                put(o, buf, (size_t)snprintf(buf, sizeof(buf), "%" PRIu64, le64(p)));
                return 0;
        case J_DOUBLE: {
                uint64_t bits = le64(p);
                double d;
                memcpy(&d, &bits, sizeof(d));
                if (!isfinite(d))
                        return bad(o, "double that is not finite");
                put_double(o, d);
                return 0;
        }
        case J_STRING: {
                uint32_t len;
                size_t used;
                int rc = read_varlen(o, p, n, &len, &used);
                if (rc)
                        return rc;
                if (len > n - used)
                        return bad(o, "string of %u bytes runs past the document", len);
                put_quoted(o, p + used, len);
                return 0;
        }
        case J_OPAQUE:
                return put_opaque(o, p, n);
        default:
                return bad(o, "unknown value type 0x%02x", type);
        }
}

int my_json_to_text(const uint8_t *p, size_t len, char *buf, size_t cap, size_t *out_len,
                    struct zetl_err *err)
{
        struct jout o = { .buf = buf, .cap = buf ? cap : 0, .err = err };
        int rc;

        o.max = len > (ZETL_VALUE_MAX_BYTES - 64) / MY_JSON_MAX_EXPANSION
                        ? ZETL_VALUE_MAX_BYTES
                        : len * MY_JSON_MAX_EXPANSION + 64;
        if (len == 0)
                puts_(&o, "null");
        else if ((rc = put_value(&o, p[0], p + 1, len - 1, 0)) || (rc = check_size(&o)))
                return rc;
        *out_len = o.n;
        return 0;
}
