/*
 * pg_types (see pg_types.h): PostgreSQL values, binary or text, into batch
 * cells. Each type is read into a native value (PostgreSQL's own encoding:
 * days and µs since 2000-01-01, months/days/µs for intervals, ...) by one
 * reader per form, and every cell or JSON element is written from that native
 * value by one writer: that is what makes the binary and the text path agree
 * byte for byte.
 *
 * Var-length cells are written straight into the batch in two passes over
 * the input: the first checks it and measures the output, the second writes
 * exactly that many bytes into space reserved in the batch. Nothing is
 * allocated per value except an unescaped copy of an array element that
 * arrived with backslash escapes in the text form.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "pg_types.h"
#include "zetl/value.h"

#define USEC_PER_SEC  INT64_C(1000000)
#define USEC_PER_MIN  INT64_C(60000000)
#define USEC_PER_HOUR INT64_C(3600000000)
/* timetz offsets must stay within ±15:59:59 (PostgreSQL's TZDISP_LIMIT). */
#define TZ_LIMIT_SEC (16 * 3600)
/* PostgreSQL arrays have at most MAXDIM dimensions. */
#define ARRAY_MAX_DIMS 6
/* Domains over domains: a deeper chain than this is a cycle or a caller bug. */
#define MAX_TYPE_DEPTH 32

/* ---- errors ------------------------------------------------------------- */

static const char *const wire_names[PG_W__COUNT] = {
        [PG_W_TEXT_ONLY] = "text-form type",
        [PG_W_BOOL] = "boolean",
        [PG_W_INT2] = "smallint",
        [PG_W_INT4] = "integer",
        [PG_W_INT8] = "bigint",
        [PG_W_OID] = "oid",
        [PG_W_FLOAT4] = "real",
        [PG_W_FLOAT8] = "double precision",
        [PG_W_NUMERIC] = "numeric",
        [PG_W_MONEY] = "money",
        [PG_W_TEXT] = "text",
        [PG_W_CHAR] = "\"char\"",
        [PG_W_BYTEA] = "bytea",
        [PG_W_DATE] = "date",
        [PG_W_TIME] = "time",
        [PG_W_TIMETZ] = "timetz",
        [PG_W_TIMESTAMP] = "timestamp",
        [PG_W_TIMESTAMPTZ] = "timestamptz",
        [PG_W_INTERVAL] = "interval",
        [PG_W_UUID] = "uuid",
        [PG_W_JSON] = "json",
        [PG_W_JSONB] = "jsonb",
        [PG_W_INET] = "inet",
        [PG_W_MACADDR] = "macaddr",
        [PG_W_MACADDR8] = "macaddr8",
        [PG_W_ARRAY] = "array",
};

const char *pg_wire_name(int wire)
{
        return wire >= 0 && wire < PG_W__COUNT ? wire_names[wire] : "unknown type";
}

static int fail(struct zetl_err *err, int code, int wire, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* One message for every decoding failure: "PostgreSQL <type> value: <why>". */
static int fail(struct zetl_err *err, int code, int wire, const char *fmt, ...)
{
        char why[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        return zetl_err_set(err, code, ZETL_ERRC_FATAL, "PostgreSQL %s value: %s",
                            pg_wire_name(wire), why);
}

#define BAD(err, wire, ...) fail(err, ZETL_EPROTO, wire, __VA_ARGS__)

/* ---- big-endian readers --------------------------------------------------- */

static inline uint16_t rd16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t rd64(const uint8_t *p)
{
        return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

/* A fixed-size binary value must have exactly its size. */
static int need_len(size_t len, size_t want, int wire, struct zetl_err *err)
{
        if (len != want)
                return BAD(err, wire, "%zu bytes, expected %zu", len, want);
        return 0;
}

/* ---- output: measure, then write ------------------------------------------ */

struct out {
        uint8_t *p; /* NULL while measuring */
        size_t n;   /* bytes produced so far */
        size_t cap; /* room at p */
};

static void put(struct out *o, const void *s, size_t len)
{
        if (o->p && len && o->n <= o->cap && len <= o->cap - o->n)
                memcpy(o->p + o->n, s, len);
        o->n += len;
}

static void put_ch(struct out *o, char c)
{
        put(o, &c, 1);
}

static void put_str(struct out *o, const char *s)
{
        put(o, s, strlen(s));
}

typedef int (*render_fn)(struct out *o, const struct pg_col_decoder *d, const uint8_t *p,
                         size_t len, struct zetl_err *err);

/* Run fn once to check and measure, reserve that much in the cell, run it again to write. */
static int set_rendered(struct zetl_batch *b, int col, render_fn fn, const struct pg_col_decoder *d,
                        const uint8_t *p, size_t len, struct zetl_err *err)
{
        struct out o = { 0 };
        uint8_t *dst;
        int rc = fn(&o, d, p, len, err);

        if (rc)
                return rc;
        size_t need = o.n;
        if (!(dst = zetl_batch_var_reserve(b, col, need, err)))
                return err->code ? err->code : ZETL_ENOMEM;
        o = (struct out){ .p = dst, .n = 0, .cap = need };
        rc = fn(&o, d, p, len, err);
        if (rc)
                return rc;
        if (o.n != need)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "PostgreSQL %s value: wrote %zu bytes after measuring %zu",
                                    pg_wire_name(d->wire), o.n, need);
        zetl_batch_var_commit(b, col, need);
        return 0;
}

/* Bytes, or their base64 (array elements), written as they are decoded. */
struct bsink {
        struct out *o;
        bool b64;
        uint8_t pend[3];
        int npend;
};

static void bsink_put(struct bsink *bs, const uint8_t *p, size_t len)
{
        char enc[8];

        if (!bs->b64) {
                put(bs->o, p, len);
                return;
        }
        for (size_t i = 0; i < len; i++) {
                bs->pend[bs->npend++] = p[i];
                if (bs->npend == 3) {
                        put(bs->o, enc, zetl_base64_encode(bs->pend, 3, enc));
                        bs->npend = 0;
                }
        }
}

static void bsink_finish(struct bsink *bs)
{
        char enc[8];

        if (bs->b64 && bs->npend)
                put(bs->o, enc, zetl_base64_encode(bs->pend, (size_t)bs->npend, enc));
        bs->npend = 0;
}

/* A JSON string, escaped as PostgreSQL's escape_json does. With unescape, s is
 * an array element's text: a backslash takes the next byte literally. */
static void put_json_str(struct out *o, const uint8_t *s, size_t len, bool unescape)
{
        size_t from = 0; /* s[from..i) is waiting to be copied as it is */
        char esc[8];

        put_ch(o, '"');
        for (size_t i = 0; i < len; i++) {
                uint8_t c = s[i];
                const char *e = NULL;

                if (unescape && c == '\\' && i + 1 < len) {
                        put(o, s + from, i - from);
                        from = ++i;
                        c = s[i];
                }
                switch (c) {
                case '"':
                        e = "\\\"";
                        break;
                case '\\':
                        e = "\\\\";
                        break;
                case '\b':
                        e = "\\b";
                        break;
                case '\f':
                        e = "\\f";
                        break;
                case '\n':
                        e = "\\n";
                        break;
                case '\r':
                        e = "\\r";
                        break;
                case '\t':
                        e = "\\t";
                        break;
                default:
                        if (c < 0x20) {
                                snprintf(esc, sizeof(esc), "\\u%04x", c);
                                e = esc;
                        }
                }
                if (!e)
                        continue;
                put(o, s + from, i - from);
                put_str(o, e);
                from = i + 1;
        }
        put(o, s + from, len - from);
        put_ch(o, '"');
}

/* Copy an array element's text, dropping its backslash escapes (raw json). */
static void put_unescaped(struct out *o, const uint8_t *s, size_t len)
{
        size_t from = 0;

        for (size_t i = 0; i < len; i++) {
                if (s[i] == '\\' && i + 1 < len) {
                        put(o, s + from, i - from);
                        from = ++i; /* keep the escaped byte */
                }
        }
        put(o, s + from, len - from);
}

/* ---- the type table and the mapping ---------------------------------------- */

struct builtin {
        uint32_t oid;
        uint32_t array_oid;
        uint8_t wire;
};

static const struct builtin builtins[] = {
        { PG_OID_BOOL, 1000, PG_W_BOOL },
        { PG_OID_BYTEA, 1001, PG_W_BYTEA },
        { PG_OID_CHAR, 1002, PG_W_CHAR },
        { PG_OID_NAME, 1003, PG_W_TEXT },
        { PG_OID_INT8, 1016, PG_W_INT8 },
        { PG_OID_INT2, 1005, PG_W_INT2 },
        { PG_OID_INT4, 1007, PG_W_INT4 },
        { PG_OID_TEXT, 1009, PG_W_TEXT },
        { PG_OID_OID, 1028, PG_W_OID },
        { PG_OID_JSON, 199, PG_W_JSON },
        { PG_OID_CIDR, 651, PG_W_INET },
        { PG_OID_FLOAT4, 1021, PG_W_FLOAT4 },
        { PG_OID_FLOAT8, 1022, PG_W_FLOAT8 },
        { PG_OID_MACADDR8, 775, PG_W_MACADDR8 },
        { PG_OID_MONEY, 791, PG_W_MONEY },
        { PG_OID_MACADDR, 1040, PG_W_MACADDR },
        { PG_OID_INET, 1041, PG_W_INET },
        { PG_OID_BPCHAR, 1014, PG_W_TEXT },
        { PG_OID_VARCHAR, 1015, PG_W_TEXT },
        { PG_OID_DATE, 1182, PG_W_DATE },
        { PG_OID_TIME, 1183, PG_W_TIME },
        { PG_OID_TIMESTAMP, 1115, PG_W_TIMESTAMP },
        { PG_OID_TIMESTAMPTZ, 1185, PG_W_TIMESTAMPTZ },
        { PG_OID_INTERVAL, 1187, PG_W_INTERVAL },
        { PG_OID_TIMETZ, 1270, PG_W_TIMETZ },
        { PG_OID_NUMERIC, 1231, PG_W_NUMERIC },
        { PG_OID_UUID, 2951, PG_W_UUID },
        { PG_OID_JSONB, 3807, PG_W_JSONB },
};

static enum zetl_type wire_type(int wire)
{
        switch (wire) {
        case PG_W_BOOL:
                return ZETL_T_BOOL;
        case PG_W_INT2:
                return ZETL_T_INT16;
        case PG_W_INT4:
                return ZETL_T_INT32;
        case PG_W_INT8:
        case PG_W_OID:
                return ZETL_T_INT64;
        case PG_W_FLOAT4:
                return ZETL_T_FLOAT32;
        case PG_W_FLOAT8:
                return ZETL_T_FLOAT64;
        case PG_W_NUMERIC:
        case PG_W_MONEY:
                return ZETL_T_DECIMAL;
        case PG_W_BYTEA:
                return ZETL_T_BYTES;
        case PG_W_DATE:
                return ZETL_T_DATE;
        case PG_W_TIME:
                return ZETL_T_TIME;
        case PG_W_TIMESTAMP:
                return ZETL_T_TIMESTAMP;
        case PG_W_TIMESTAMPTZ:
                return ZETL_T_TIMESTAMPTZ;
        case PG_W_UUID:
                return ZETL_T_UUID;
        case PG_W_JSON:
        case PG_W_JSONB:
        case PG_W_ARRAY:
                return ZETL_T_JSON;
        default:
                return ZETL_T_STRING;
        }
}

struct resolved {
        uint8_t wire;
        uint8_t elem_wire;
        char delim;
        uint32_t elem_oid;
        uint32_t scalar_oid; /* the type whose typmod applies, after domains */
        int32_t typmod;
};

static int resolve(uint32_t oid, int32_t typmod, const struct pg_type_info *info, int depth,
                   struct resolved *r, struct zetl_err *err)
{
        memset(r, 0, sizeof(*r));
        r->delim = ',';
        r->scalar_oid = oid;
        r->typmod = typmod;
        if (depth > MAX_TYPE_DEPTH)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "PostgreSQL type %" PRIu32 ": domains nest deeper than %d", oid,
                                    MAX_TYPE_DEPTH);
        /* Array-like in binary, but "1 2 3" in text: keep them as text. */
        if (oid == PG_OID_INT2VECTOR || oid == PG_OID_OIDVECTOR) {
                r->wire = PG_W_TEXT_ONLY;
                return 0;
        }
        for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
                if (builtins[i].oid == oid) {
                        r->wire = builtins[i].wire;
                        return 0;
                }
                if (builtins[i].array_oid == oid) {
                        r->wire = PG_W_ARRAY;
                        r->elem_wire = builtins[i].wire;
                        r->elem_oid = builtins[i].oid;
                        return 0;
                }
        }
        if (!info) {
                if (oid < PG_FIRST_NORMAL_OID) {
                        r->wire = PG_W_TEXT_ONLY;
                        return 0;
                }
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "PostgreSQL type %" PRIu32
                                    " is not built in: its pg_type row is needed",
                                    oid);
        }
        if (info->oid != oid)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "PostgreSQL type %" PRIu32
                                    " came with the pg_type row of %" PRIu32,
                                    oid, info->oid);
        if (info->typtype == 'd')
                return resolve(info->typbasetype, info->typtypmod, info->base, depth + 1, r, err);
        if (info->typtype == 'e') {
                r->wire = PG_W_TEXT; /* enum_send sends the label */
                return 0;
        }
        if (info->typcategory == 'A' && info->typelem != 0) {
                struct resolved er;
                int rc = resolve(info->typelem, -1, info->elem, depth + 1, &er, err);

                if (rc)
                        return rc;
                r->wire = PG_W_ARRAY;
                r->elem_oid = info->typelem;
                /* An element that is an array itself (a domain over one) stays text. */
                r->elem_wire = er.wire == PG_W_ARRAY ? PG_W_TEXT_ONLY : er.wire;
                if (info->elem && info->elem->typdelim)
                        r->delim = info->elem->typdelim;
                else if (info->typelem == PG_OID_BOX)
                        r->delim = ';';
                return 0;
        }
        r->wire = PG_W_TEXT_ONLY;
        return 0;
}

static bool resolved_binary(const struct resolved *r)
{
        return r->wire != PG_W_TEXT_ONLY &&
               !(r->wire == PG_W_ARRAY && r->elem_wire == PG_W_TEXT_ONLY);
}

int pg_type_map(uint32_t typoid, int32_t typmod, const struct pg_type_info *info,
                struct zetl_column *out, struct zetl_err *err)
{
        struct resolved r;
        int rc = resolve(typoid, typmod, info, 0, &r, err);

        if (rc)
                return rc;
        out->type = wire_type(r.wire);
        out->precision = 0;
        out->scale = 0;
        switch (r.wire) {
        case PG_W_NUMERIC:
                out->scale = -1;
                if (r.typmod >= 4) {
                        int32_t m = r.typmod - 4;
                        int32_t p = (m >> 16) & 0xffff;
                        int32_t s = ((m & 0x7ff) ^ 1024) - 1024; /* 11-bit signed scale */

                        if (s < 0) {
                                out->precision = p - s;
                                out->scale = 0;
                        } else {
                                out->precision = s > p ? s : p;
                                out->scale = s;
                        }
                }
                break;
        case PG_W_MONEY:
                out->precision = 19;
                out->scale = 2;
                break;
        case PG_W_TEXT:
                if ((r.scalar_oid == PG_OID_VARCHAR || r.scalar_oid == PG_OID_BPCHAR) &&
                    r.typmod >= 4)
                        out->precision = r.typmod - 4;
                else if (r.scalar_oid == PG_OID_NAME)
                        out->precision = 63;
                break;
        case PG_W_CHAR:
                out->precision = 1;
                break;
        case PG_W_TIME:
        case PG_W_TIMESTAMP:
        case PG_W_TIMESTAMPTZ:
                out->precision = r.typmod >= 0 && r.typmod <= 6 ? r.typmod : 6;
                break;
        }
        return resolved_binary(&r) ? 0 : PG_TYPE_TEXT_ONLY;
}

int pg_col_decoder_init(struct pg_col_decoder *d, uint32_t typoid, const struct pg_type_info *info,
                        struct zetl_err *err)
{
        struct resolved r;
        int rc = resolve(typoid, -1, info, 0, &r, err);

        if (rc)
                return rc;
        memset(d, 0, sizeof(*d));
        d->type = wire_type(r.wire);
        d->wire = r.wire;
        d->elem_wire = r.elem_wire;
        d->elem_delim = r.delim;
        d->binary = resolved_binary(&r);
        d->oid = typoid;
        d->elem_oid = r.elem_oid;
        return 0;
}

/* ---- text helpers ------------------------------------------------------------ */

static bool is_digit(uint8_t c)
{
        return c >= '0' && c <= '9';
}

static bool is_space(uint8_t c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool text_is(const uint8_t *s, size_t len, const char *lit)
{
        return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

static int hexval(uint8_t c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Exactly n digits at s[*i]. */
static bool digits_n(const uint8_t *s, size_t len, size_t *i, int n, int64_t *out)
{
        int64_t v = 0;

        for (int k = 0; k < n; k++, (*i)++) {
                if (*i >= len || !is_digit(s[*i]))
                        return false;
                v = v * 10 + (s[*i] - '0');
        }
        *out = v;
        return true;
}

/* An optional '-' and decimal digits, the whole of s, within [min, max]. */
static bool parse_int(const uint8_t *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
        size_t i = 0;
        bool neg = false;
        uint64_t u = 0;
        const uint64_t lim = (uint64_t)INT64_MAX + 1;

        if (len && s[0] == '-') {
                neg = true;
                i = 1;
        }
        if (i == len)
                return false;
        for (; i < len; i++) {
                if (!is_digit(s[i]) || u > (lim - (uint64_t)(s[i] - '0')) / 10)
                        return false;
                u = u * 10 + (uint64_t)(s[i] - '0');
        }
        int64_t v;
        if (neg)
                v = u == lim ? INT64_MIN : -(int64_t)u;
        else if (u > (uint64_t)INT64_MAX)
                return false;
        else
                v = (int64_t)u;
        if (v < min || v > max)
                return false;
        *out = v;
        return true;
}

/* ---- floats ------------------------------------------------------------------- */

/* Every NaN is the one quiet NaN: text carries no payload and the paths must agree. */
static double canon_nan_d(void)
{
        uint64_t bits = UINT64_C(0x7ff8000000000000);
        double v;

        memcpy(&v, &bits, sizeof(v));
        return v;
}

static float canon_nan_f(void)
{
        uint32_t bits = 0x7fc00000u;
        float v;

        memcpy(&v, &bits, sizeof(v));
        return v;
}

static double bin_float8(const uint8_t *p)
{
        uint64_t bits = rd64(p);
        double v;

        memcpy(&v, &bits, sizeof(v));
        return isnan(v) ? canon_nan_d() : v;
}

static float bin_float4(const uint8_t *p)
{
        uint32_t bits = rd32(p);
        float v;

        memcpy(&v, &bits, sizeof(v));
        return isnan(v) ? canon_nan_f() : v;
}

/* PostgreSQL's float output (extra_float_digits > 0): "NaN", "[-]Infinity", or a
 * decimal number with an optional exponent. strtod is correctly rounded, so the
 * shortest text PostgreSQL writes reads back to the very same bits. (strtod
 * follows LC_NUMERIC, which stays "C": zetl never calls setlocale.) */
static int parse_float(const uint8_t *s, size_t len, int wire, double *dv, float *fv,
                       struct zetl_err *err)
{
        char buf[64];
        size_t i = 0;
        char *end;

        if (text_is(s, len, "NaN")) {
                *dv = canon_nan_d();
                *fv = canon_nan_f();
                return 0;
        }
        if (text_is(s, len, "Infinity") || text_is(s, len, "-Infinity")) {
                *dv = s[0] == '-' ? -INFINITY : INFINITY;
                *fv = s[0] == '-' ? -INFINITY : INFINITY;
                return 0;
        }
        if (len && s[i] == '-')
                i++;
        size_t st = i;
        while (i < len && is_digit(s[i]))
                i++;
        bool ok = i > st;
        if (ok && i < len && s[i] == '.') {
                st = ++i;
                while (i < len && is_digit(s[i]))
                        i++;
                ok = i > st;
        }
        if (ok && i < len && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < len && (s[i] == '+' || s[i] == '-'))
                        i++;
                st = i;
                while (i < len && is_digit(s[i]))
                        i++;
                ok = i > st;
        }
        if (!ok || i != len || len >= sizeof(buf))
                return BAD(err, wire, "\"%.*s\" is not a number", (int)(len > 40 ? 40 : len),
                           (const char *)s);
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (wire == PG_W_FLOAT4) {
                *fv = strtof(buf, &end);
                *dv = *fv;
        } else {
                *dv = strtod(buf, &end);
                *fv = (float)*dv;
        }
        return 0;
}

/* A float as a JSON value: the shortest digits that read back to the same
 * float, laid out as PostgreSQL's float output is (exponent form below 1e-4
 * or from 1e15, 1e6 for real, at least two exponent digits). */
static void put_float_json(struct out *o, double v, bool single)
{
        char e[48], buf[64], dig[24];
        int prec, nd = 0, n = 0, exp;

        if (isnan(v) || isinf(v)) {
                put_str(o, isnan(v) ? "\"NaN\"" : v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
                return;
        }
        for (prec = 1; prec < (single ? 9 : 17); prec++) {
                snprintf(e, sizeof(e), "%.*e", prec - 1, v);
                if (single ? strtof(e, NULL) == (float)v : strtod(e, NULL) == v)
                        break;
        }
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        /* e is [-]d[.ddd]e(+|-)dd[d] */
        const char *q = e;
        if (*q == '-') {
                buf[n++] = '-';
                q++;
        }
        for (; *q && *q != 'e'; q++)
                if (*q != '.')
                        dig[nd++] = *q;
        exp = (int)strtol(q + 1, NULL, 10);
        while (nd > 1 && dig[nd - 1] == '0')
                nd--;
        if (v == 0)
                exp = 0;
        if (exp < -4 || exp >= (single ? 6 : 15)) {
                buf[n++] = dig[0];
                if (nd > 1) {
                        buf[n++] = '.';
                        memcpy(buf + n, dig + 1, (size_t)nd - 1);
                        n += nd - 1;
                }
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, "e%c%02d", exp < 0 ? '-' : '+',
                              exp < 0 ? -exp : exp);
        } else if (exp < 0) {
                buf[n++] = '0';
                buf[n++] = '.';
                for (int k = 0; k < -exp - 1; k++)
                        buf[n++] = '0';
                memcpy(buf + n, dig, (size_t)nd);
                n += nd;
        } else {
                for (int k = 0; k <= exp || k < nd; k++) {
                        if (k == exp + 1)
                                buf[n++] = '.';
                        buf[n++] = k < nd ? dig[k] : '0';
                }
        }
        put(o, buf, (size_t)n);
}

/* ---- numeric ------------------------------------------------------------------ */

#define NUMERIC_POS  0x0000
#define NUMERIC_NEG  0x4000
#define NUMERIC_NAN  0xC000
#define NUMERIC_PINF 0xD000
#define NUMERIC_NINF 0xF000

static const int pow10_4[4] = { 1000, 100, 10, 1 };

/*
 * numeric_send: int16 ndigits, int16 weight (of the first base-10000 digit),
 * uint16 sign, int16 dscale, then ndigits int16 digits 0..9999. Written as
 * canonical decimal text with exactly dscale fraction digits. Nonzero digits
 * that dscale would hide are refused rather than dropped.
 */
static int render_numeric_bin(struct out *o, const struct pg_col_decoder *d, const uint8_t *p,
                              size_t len, struct zetl_err *err)
{
        (void)d;
        if (len < 8)
                return BAD(err, PG_W_NUMERIC, "%zu bytes, the header alone is 8", len);
        int ndigits = (int16_t)rd16(p);
        int weight = (int16_t)rd16(p + 2);
        unsigned sign = rd16(p + 4);
        int dscale = (int16_t)rd16(p + 6);
        const uint8_t *dg = p + 8;
        bool zero = true;

        if (ndigits < 0 || len != 8 + 2 * (size_t)ndigits)
                return BAD(err, PG_W_NUMERIC, "%zu bytes for %d digits", len, ndigits);
        if (dscale < 0 || dscale > 0x3FFF)
                return BAD(err, PG_W_NUMERIC, "display scale %d", dscale);
        for (int i = 0; i < ndigits; i++) {
                int v = rd16(dg + 2 * i);
                if (v > 9999)
                        return BAD(err, PG_W_NUMERIC, "base-10000 digit %d", v);
                if (v)
                        zero = false;
        }
        switch (sign) {
        case NUMERIC_NAN:
        case NUMERIC_PINF:
        case NUMERIC_NINF:
                if (ndigits)
                        return BAD(err, PG_W_NUMERIC, "%d digits in a special value", ndigits);
                put_str(o, sign == NUMERIC_NAN    ? "NaN"
                           : sign == NUMERIC_PINF ? "Infinity"
                                                  : "-Infinity");
                return 0;
        case NUMERIC_POS:
        case NUMERIC_NEG:
                break;
        default:
                return BAD(err, PG_W_NUMERIC, "sign word 0x%04x", sign);
        }
        for (int i = 0; i < ndigits; i++) {
                long e = (long)weight - i; /* digit i weighs 10000^e */
                if (e >= 0)
                        continue;
                long first = 4 * (-e - 1); /* position of its first fraction digit */
                int v = rd16(dg + 2 * i);
                for (int k = 0; k < 4; k++)
                        if (first + k >= dscale && (v / pow10_4[k]) % 10)
                                return BAD(err, PG_W_NUMERIC,
                                           "nonzero digits beyond its display scale %d", dscale);
        }
        if (sign == NUMERIC_NEG && !zero)
                put_ch(o, '-');
        if (weight < 0) {
                put_ch(o, '0');
        } else {
                bool started = false;
                for (int i = 0; i <= weight; i++) {
                        int v = i < ndigits ? rd16(dg + 2 * i) : 0;
                        for (int k = 0; k < 4; k++) {
                                int c = (v / pow10_4[k]) % 10;
                                if (!started && c == 0)
                                        continue;
                                started = true;
                                put_ch(o, (char)('0' + c));
                        }
                }
                if (!started)
                        put_ch(o, '0');
        }
        if (dscale > 0) {
                put_ch(o, '.');
                for (int k = 0; k < dscale; k++) {
                        long gi = (long)weight + 1 + k / 4;
                        int v = gi >= 0 && gi < ndigits ? rd16(dg + 2 * gi) : 0;
                        put_ch(o, (char)('0' + (v / pow10_4[k % 4]) % 10));
                }
        }
        return 0;
}

/* numeric_out's text, checked and written canonically (it already is). */
static int render_numeric_text(struct out *o, const struct pg_col_decoder *d, const uint8_t *s,
                               size_t len, struct zetl_err *err)
{
        size_t i = 0, ib, ie, fb, fe;
        bool neg = false, zero = true;

        (void)d;
        if (text_is(s, len, "NaN") || text_is(s, len, "Infinity") || text_is(s, len, "-Infinity")) {
                put(o, s, len);
                return 0;
        }
        if (i < len && s[i] == '-') {
                neg = true;
                i++;
        }
        ib = i;
        while (i < len && is_digit(s[i]))
                i++;
        ie = fb = fe = i;
        if (i < len && s[i] == '.') {
                fb = ++i;
                while (i < len && is_digit(s[i]))
                        i++;
                fe = i;
        }
        if (ie == ib || (fb != ie && fe == fb) || i != len)
                return BAD(err, PG_W_NUMERIC, "\"%.*s\" is not a decimal number",
                           (int)(len > 40 ? 40 : len), (const char *)s);
        while (ie - ib > 1 && s[ib] == '0')
                ib++;
        for (size_t k = ib; k < fe; k++)
                if (s[k] != '0' && s[k] != '.')
                        zero = false;
        if (neg && !zero)
                put_ch(o, '-');
        put(o, s + ib, ie - ib);
        if (fe > fb) {
                put_ch(o, '.');
                put(o, s + fb, fe - fb);
        }
        return 0;
}

/* ---- money -------------------------------------------------------------------- */

/* An int64 count of cents (see pg_types.h) as decimal(19,2) text. */
static void put_money(struct out *o, int64_t v)
{
        char buf[32];
        uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        int n = snprintf(buf, sizeof(buf), "%s%" PRIu64 ".%02u", v < 0 ? "-" : "", u / 100,
                         (unsigned)(u % 100));

        put(o, buf, (size_t)n);
}

/* cash_out's text with lc_monetary C: "-$1,234.56". */
static int parse_money(const uint8_t *s, size_t len, int64_t *out, struct zetl_err *err)
{
        size_t i = 0;
        bool neg = false, any = false;
        uint64_t u = 0;
        int64_t frac;

        if (i < len && s[i] == '-') {
                neg = true;
                i++;
        }
        if (i < len && s[i] == '$')
                i++;
        for (; i < len && (is_digit(s[i]) || (s[i] == ',' && any)); i++) {
                if (s[i] == ',') {
                        if (i + 1 >= len || !is_digit(s[i + 1]))
                                goto bad;
                        continue;
                }
                if (u > (UINT64_MAX - 9) / 10)
                        goto bad;
                u = u * 10 + (uint64_t)(s[i] - '0');
                any = true;
        }
        if (!any || i >= len || s[i++] != '.' || !digits_n(s, len, &i, 2, &frac) || i != len)
                goto bad;
        if (u > (UINT64_MAX - 99) / 100)
                goto bad;
        u = u * 100 + (uint64_t)frac;
        if (u > (uint64_t)INT64_MAX + (neg ? 1 : 0))
                goto bad;
        *out = neg ? (u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u) : (int64_t)u;
        return 0;
bad:
        return BAD(err, PG_W_MONEY, "\"%.*s\" is not money as lc_monetary C prints it",
                   (int)(len > 40 ? 40 : len), (const char *)s);
}

/* ---- dates and times ------------------------------------------------------------ */

static int days_in_month(int64_t y, int m)
{
        static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);

        return m == 2 && leap ? 29 : mdays[m - 1];
}

/* ISO DateStyle's date: at least four year digits, then -MM-DD; bc from a " BC" suffix. */
static bool parse_ymd(const uint8_t *s, size_t len, size_t *i, bool bc, int64_t *days1970)
{
        int64_t y = 0, m, d;
        size_t st = *i;

        while (*i < len && is_digit(s[*i]) && *i - st < 8)
                y = y * 10 + (s[(*i)++] - '0');
        if (*i - st < 4 || *i >= len || s[(*i)++] != '-' || !digits_n(s, len, i, 2, &m) ||
            *i >= len || s[(*i)++] != '-' || !digits_n(s, len, i, 2, &d) || y == 0)
                return false;
        if (bc)
                y = 1 - y; /* 1 BC is year 0 */
        if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, (int)m))
                return false;
        *days1970 = zetl_civil_to_days(y, (int)m, (int)d);
        return true;
}

/* HH:MM:SS[.f{1,6}]; 24:00:00 only when allow24 (the time types). */
static bool parse_hms(const uint8_t *s, size_t len, size_t *i, bool allow24, int64_t *usec)
{
        int64_t h, mi, sec, frac = 0;
        int n = 0;

        if (!digits_n(s, len, i, 2, &h) || *i >= len || s[(*i)++] != ':' ||
            !digits_n(s, len, i, 2, &mi) || *i >= len || s[(*i)++] != ':' ||
            !digits_n(s, len, i, 2, &sec))
                return false;
        if (*i < len && s[*i] == '.') {
                (*i)++;
                while (*i < len && is_digit(s[*i])) {
                        if (++n > 6)
                                return false;
                        frac = frac * 10 + (s[(*i)++] - '0');
                }
                if (n == 0)
                        return false;
                for (; n < 6; n++)
                        frac *= 10;
        }
        if (mi > 59 || sec > 59 || h > 24 || (h == 24 && (!allow24 || mi || sec || frac)))
                return false;
        *usec = ((h * 60 + mi) * 60 + sec) * USEC_PER_SEC + frac;
        return true;
}

/* +HH[:MM[:SS]] or -..., as EncodeTimezone writes it: seconds east of UTC. */
static bool parse_offset(const uint8_t *s, size_t len, size_t *i, int32_t *east)
{
        int64_t h, mi = 0, sec = 0;
        int sign;

        if (*i >= len || (s[*i] != '+' && s[*i] != '-'))
                return false;
        sign = s[(*i)++] == '-' ? -1 : 1;
        if (!digits_n(s, len, i, 2, &h))
                return false;
        if (*i < len && s[*i] == ':') {
                (*i)++;
                if (!digits_n(s, len, i, 2, &mi))
                        return false;
                if (*i < len && s[*i] == ':') {
                        (*i)++;
                        if (!digits_n(s, len, i, 2, &sec))
                                return false;
                }
        }
        if (mi > 59 || sec > 59)
                return false;
        *east = (int32_t)(sign * (h * 3600 + mi * 60 + sec));
        return *east > -TZ_LIMIT_SEC && *east < TZ_LIMIT_SEC;
}

static bool strip_bc(const uint8_t *s, size_t *len)
{
        if (*len >= 3 && memcmp(s + *len - 3, " BC", 3) == 0) {
                *len -= 3;
                return true;
        }
        return false;
}

/* date_out's text to PostgreSQL's days since 2000-01-01 (INT32_MAX/MIN: ±infinity). */
static int parse_pg_date(const uint8_t *s, size_t len, int32_t *pg, struct zetl_err *err)
{
        size_t i = 0, n = len;
        int64_t days;

        if (text_is(s, len, "infinity") || text_is(s, len, "-infinity")) {
                *pg = s[0] == '-' ? INT32_MIN : INT32_MAX;
                return 0;
        }
        bool bc = strip_bc(s, &n);
        if (!parse_ymd(s, n, &i, bc, &days) || i != n)
                return BAD(err, PG_W_DATE, "\"%.*s\" is not an ISO date",
                           (int)(len > 40 ? 40 : len), (const char *)s);
        days -= ZETL_PG_EPOCH_DAYS;
        if (days <= INT32_MIN || days >= INT32_MAX)
                return BAD(err, PG_W_DATE, "\"%.*s\" is out of range", (int)len, (const char *)s);
        *pg = (int32_t)days;
        return 0;
}

/* timestamp(tz)_out's text to PostgreSQL's µs since 2000-01-01 UTC (INT64_MAX/MIN: ±infinity). */
static int parse_pg_timestamp(const uint8_t *s, size_t len, int wire, int64_t *pg,
                              struct zetl_err *err)
{
        size_t i = 0, n = len;
        int64_t days, tod, v;
        int32_t east = 0;

        if (text_is(s, len, "infinity") || text_is(s, len, "-infinity")) {
                *pg = s[0] == '-' ? INT64_MIN : INT64_MAX;
                return 0;
        }
        bool bc = strip_bc(s, &n);
        if (!parse_ymd(s, n, &i, bc, &days) || i >= n || s[i++] != ' ' ||
            !parse_hms(s, n, &i, false, &tod) ||
            (wire == PG_W_TIMESTAMPTZ && !parse_offset(s, n, &i, &east)) || i != n)
                return BAD(err, wire, "\"%.*s\" is not an ISO %s", (int)(len > 48 ? 48 : len),
                           (const char *)s, pg_wire_name(wire));
        days -= ZETL_PG_EPOCH_DAYS;
        if (__builtin_mul_overflow(days, ZETL_USEC_PER_DAY, &v) ||
            __builtin_add_overflow(v, tod - (int64_t)east * USEC_PER_SEC, &v) || v == INT64_MAX ||
            v == INT64_MIN)
                return BAD(err, wire, "\"%.*s\" is out of range", (int)len, (const char *)s);
        *pg = v;
        return 0;
}

/* PostgreSQL days to zetl's (see pg_types.h for infinity and range). */
static int date_to_zetl(int32_t pg, int32_t *out, struct zetl_err *err)
{
        if (pg == INT32_MAX || pg == INT32_MIN) {
                *out = pg;
                return 0;
        }
        int64_t z = (int64_t)pg + ZETL_PG_EPOCH_DAYS;
        if (z >= INT32_MAX)
                return fail(err, ZETL_EUNSUPPORTED, PG_W_DATE,
                            "%" PRId32 " days after 2000-01-01 is past the last date zetl holds",
                            pg);
        *out = (int32_t)z;
        return 0;
}

/* "YYYY-MM-DDTHH:MM:SS[.ffffff][Z]" of a finite PostgreSQL timestamp, as value.h
 * writes timestamps, but from PostgreSQL's epoch so that every PostgreSQL
 * timestamp can be written (buf: 64 bytes). */
static int fmt_pg_ts(int64_t pg, bool utc, char *buf)
{
        int64_t days = pg / ZETL_USEC_PER_DAY, rest = pg % ZETL_USEC_PER_DAY;
        int n;

        if (rest < 0) {
                days--;
                rest += ZETL_USEC_PER_DAY;
        }
        n = zetl_format_date((int32_t)(days + ZETL_PG_EPOCH_DAYS), buf);
        buf[n++] = 'T';
        n += zetl_format_time(rest, buf + n);
        if (utc)
                buf[n++] = 'Z';
        buf[n] = '\0';
        return n;
}

static int ts_to_zetl(int64_t pg, int wire, int64_t *out, struct zetl_err *err)
{
        char buf[64];

        if (pg == INT64_MAX || pg == INT64_MIN) {
                *out = pg;
                return 0;
        }
        /* zetl's INT64_MAX is +infinity: the last finite instant is one µs before. */
        if (pg >= INT64_MAX - ZETL_PG_EPOCH_USEC) {
                fmt_pg_ts(pg, wire == PG_W_TIMESTAMPTZ, buf);
                return fail(err, ZETL_EUNSUPPORTED, wire,
                            "%s is past 294247-01-10T04:00:54.775806, the last instant zetl holds",
                            buf);
        }
        *out = pg + ZETL_PG_EPOCH_USEC;
        return 0;
}

static int check_time(int64_t usec, int wire, struct zetl_err *err)
{
        if (usec < 0 || usec > ZETL_USEC_PER_DAY)
                return BAD(err, wire, "%" PRId64 " µs is not a time of day", usec);
        return 0;
}

/* timetz: the time as value.h writes it, the offset as PostgreSQL does. */
static void put_timetz(struct out *o, int64_t usec, int32_t zone_west)
{
        char buf[64];
        int n = zetl_format_time(usec, buf);
        int a = zone_west < 0 ? -zone_west : zone_west;

        buf[n++] = zone_west <= 0 ? '+' : '-';
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%02d", a / 3600);
        if (a % 3600)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, ":%02d", a / 60 % 60);
        if (a % 60)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, ":%02d", a % 60);
        put(o, buf, (size_t)n);
}

static int bin_timetz(const uint8_t *p, size_t len, int64_t *usec, int32_t *zone,
                      struct zetl_err *err)
{
        int rc = need_len(len, 12, PG_W_TIMETZ, err);

        if (rc)
                return rc;
        *usec = (int64_t)rd64(p);
        *zone = (int32_t)rd32(p + 8);
        if ((rc = check_time(*usec, PG_W_TIMETZ, err)))
                return rc;
        if (*zone <= -TZ_LIMIT_SEC || *zone >= TZ_LIMIT_SEC)
                return BAD(err, PG_W_TIMETZ, "zone offset of %" PRId32 " s", *zone);
        return 0;
}

static int parse_timetz(const uint8_t *s, size_t len, int64_t *usec, int32_t *zone,
                        struct zetl_err *err)
{
        size_t i = 0;
        int32_t east;

        if (!parse_hms(s, len, &i, true, usec) || !parse_offset(s, len, &i, &east) || i != len)
                return BAD(err, PG_W_TIMETZ, "\"%.*s\" is not an ISO time with offset",
                           (int)(len > 40 ? 40 : len), (const char *)s);
        *zone = -east;
        return 0;
}

/* ---- interval ------------------------------------------------------------------- */

struct interval {
        int64_t time; /* µs */
        int32_t days;
        int32_t months;
};

/* As EncodeInterval writes IntervalStyle iso_8601: each component with its own
 * sign, zero components left out, seconds without trailing fraction zeros. */
static void put_interval(struct out *o, const struct interval *iv)
{
        char buf[128];
        int n = 0;
        int32_t year = iv->months / 12, mon = iv->months % 12;
        int64_t t = iv->time;
        int64_t hour = t / USEC_PER_HOUR;
        t -= hour * USEC_PER_HOUR;
        int64_t min = t / USEC_PER_MIN;
        t -= min * USEC_PER_MIN;
        int64_t sec = t / USEC_PER_SEC;
        int64_t fsec = t - sec * USEC_PER_SEC;

        if (!year && !mon && !iv->days && !hour && !min && !sec && !fsec) {
                put_str(o, "PT0S");
                return;
        }
        buf[n++] = 'P';
        if (year)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%" PRId32 "Y", year);
        if (mon)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%" PRId32 "M", mon);
        if (iv->days)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%" PRId32 "D", iv->days);
        if (hour || min || sec || fsec)
                buf[n++] = 'T';
        if (hour)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%" PRId64 "H", hour);
        if (min)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%" PRId64 "M", min);
        if (sec || fsec) {
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%" PRId64,
                              sec < 0 || fsec < 0 ? "-" : "", sec < 0 ? -sec : sec);
                if (fsec) {
                        int w = 6;
                        int64_t f = fsec < 0 ? -fsec : fsec;
                        while (f % 10 == 0) {
                                f /= 10;
                                w--;
                        }
                        n += snprintf(buf + n, sizeof(buf) - (size_t)n, ".%0*" PRId64, w, f);
                }
                buf[n++] = 'S';
        }
        put(o, buf, (size_t)n);
}

static int bin_interval(const uint8_t *p, size_t len, struct interval *iv, struct zetl_err *err)
{
        int rc = need_len(len, 16, PG_W_INTERVAL, err);

        if (rc)
                return rc;
        iv->time = (int64_t)rd64(p);
        iv->days = (int32_t)rd32(p + 8);
        iv->months = (int32_t)rd32(p + 12);
        return 0;
}

/* [-]digits (at most 18) at s[*i]. */
static bool signed_num(const uint8_t *s, size_t len, size_t *i, bool *neg, int64_t *v)
{
        size_t st;

        *neg = *i < len && s[*i] == '-';
        if (*neg)
                (*i)++;
        st = *i;
        *v = 0;
        while (*i < len && is_digit(s[*i]) && *i - st < 18)
                *v = *v * 10 + (s[(*i)++] - '0');
        return *i > st && !(*i < len && is_digit(s[*i]));
}

/* The text put_interval writes (PostgreSQL's iso_8601 style) back to its parts. */
static int parse_interval(const uint8_t *s, size_t len, struct interval *iv, struct zetl_err *err)
{
        static const char date_units[] = "YMD", time_units[] = "HMS";
        int64_t date_v[3] = { 0 }, time_v[3] = { 0 }, frac = 0, t;
        bool neg_v[3] = { false }, fneg = false, any = false;
        size_t i = 1;
        int next = 0;

        if (len < 2 || s[0] != 'P')
                goto bad;
        while (i < len && s[i] != 'T') {
                bool neg;
                int64_t v;
                const char *u;
                if (!signed_num(s, len, &i, &neg, &v) || i >= len ||
                    !(u = memchr(date_units + next, s[i], sizeof(date_units) - 1 - (size_t)next)))
                        goto bad;
                next = (int)(u - date_units) + 1;
                date_v[next - 1] = neg ? -v : v;
                i++;
                any = true;
        }
        if (i < len) {
                i++; /* 'T' */
                next = 0;
                bool anyt = false;
                while (i < len) {
                        bool neg;
                        int64_t v;
                        const char *u;
                        if (!signed_num(s, len, &i, &neg, &v) || i >= len)
                                goto bad;
                        if (s[i] == '.') {
                                int nd = 0;
                                i++;
                                while (i < len && is_digit(s[i]) && nd < 6) {
                                        frac = frac * 10 + (s[i++] - '0');
                                        nd++;
                                }
                                if (nd == 0 || i >= len || s[i] != 'S')
                                        goto bad;
                                for (; nd < 6; nd++)
                                        frac *= 10;
                                fneg = neg;
                        }
                        if (!(u = memchr(time_units + next, s[i],
                                         sizeof(time_units) - 1 - (size_t)next)))
                                goto bad;
                        next = (int)(u - time_units) + 1;
                        time_v[next - 1] = v;
                        neg_v[next - 1] = neg;
                        i++;
                        anyt = true;
                }
                if (!anyt)
                        goto bad;
                any = true;
        }
        if (!any)
                goto bad;
        /* Each part is below 10^18: the years alone may overflow the product. */
        int64_t months;
        if (__builtin_mul_overflow(date_v[0], 12, &months) ||
            __builtin_add_overflow(months, date_v[1], &months) || months < INT32_MIN ||
            months > INT32_MAX || date_v[2] < INT32_MIN || date_v[2] > INT32_MAX)
                goto bad;
        int64_t h, m, sec;
        if (__builtin_mul_overflow(time_v[0], USEC_PER_HOUR, &h) ||
            __builtin_mul_overflow(time_v[1], USEC_PER_MIN, &m) ||
            __builtin_mul_overflow(time_v[2], USEC_PER_SEC, &sec) ||
            __builtin_add_overflow(sec, frac, &sec) ||
            __builtin_add_overflow(neg_v[0] ? -h : h, neg_v[1] ? -m : m, &t) ||
            __builtin_add_overflow(t, neg_v[2] || fneg ? -sec : sec, &t))
                goto bad;
        iv->months = (int32_t)months;
        iv->days = (int32_t)date_v[2];
        iv->time = t;
        return 0;
bad:
        return BAD(err, PG_W_INTERVAL,
                   "\"%.*s\" is not an ISO 8601 interval (IntervalStyle iso_8601)",
                   (int)(len > 40 ? 40 : len), (const char *)s);
}

/* ---- network addresses -------------------------------------------------------- */

/* IPv6 as PostgreSQL's inet_net_ntop writes it: the longest run (the first of
 * equal ones) of two or more zero words becomes "::", and an address whose
 * first five words are zero and sixth is 0 or ffff ends in dotted IPv4. */
static int fmt_ipv6(const uint8_t a[16], char *buf)
{
        unsigned w[8];
        int best = -1, bestlen = 0, cur = -1, curlen = 0, n = 0;

        for (int i = 0; i < 8; i++)
                w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
        for (int i = 0; i < 8; i++) {
                if (w[i] != 0) {
                        cur = -1;
                        continue;
                }
                if (cur < 0) {
                        cur = i;
                        curlen = 0;
                }
                if (++curlen > bestlen) {
                        best = cur;
                        bestlen = curlen;
                }
        }
        if (bestlen < 2)
                best = -1;
        for (int i = 0; i < 8; i++) {
                if (best >= 0 && i >= best && i < best + bestlen) {
                        if (i == best)
                                buf[n++] = ':';
                        continue;
                }
                if (i)
                        buf[n++] = ':';
                if (i == 6 && best == 0 && (bestlen == 6 || (bestlen == 5 && w[5] == 0xffff))) {
                        n += sprintf(buf + n, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
                        break;
                }
                n += sprintf(buf + n, "%x", w[i]);
        }
        if (best >= 0 && best + bestlen == 8)
                buf[n++] = ':';
        buf[n] = '\0';
        return n;
}

/* inet_out: the address, then "/bits" unless a host address of inet. */
static void put_inet(struct out *o, bool v6, const uint8_t *addr, int bits, bool is_cidr)
{
        char buf[80];
        int n = v6 ? fmt_ipv6(addr, buf)
                   : sprintf(buf, "%u.%u.%u.%u", addr[0], addr[1], addr[2], addr[3]);

        if (bits != (v6 ? 128 : 32) || is_cidr)
                n += sprintf(buf + n, "/%d", bits);
        put(o, buf, (size_t)n);
}

/* inet_send: family (2 or 3), bits, is_cidr, address length, address. */
static int render_inet_bin(struct out *o, const struct pg_col_decoder *d, const uint8_t *p,
                           size_t len, struct zetl_err *err)
{
        (void)d;
        if (len < 4)
                return BAD(err, PG_W_INET, "%zu bytes, the header alone is 4", len);
        bool v6 = p[0] == 3;
        int max = v6 ? 128 : 32;
        if ((p[0] != 2 && p[0] != 3) || p[3] != (v6 ? 16 : 4) || len != 4 + (size_t)p[3])
                return BAD(err, PG_W_INET, "family %u with %u address bytes in %zu", p[0], p[3],
                           len);
        if (p[1] > max || p[2] > 1)
                return BAD(err, PG_W_INET, "%u bits, cidr flag %u", p[1], p[2]);
        put_inet(o, v6, p + 4, p[1], p[2]);
        return 0;
}

static int render_inet_text(struct out *o, const struct pg_col_decoder *d, const uint8_t *s,
                            size_t len, struct zetl_err *err)
{
        char buf[64];
        uint8_t addr[16];
        int64_t bits = -1;

        (void)d;
        if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len))
                goto bad;
        memcpy(buf, s, len);
        buf[len] = '\0';
        char *slash = strchr(buf, '/');
        if (slash) {
                *slash = '\0';
                if (!parse_int((const uint8_t *)slash + 1, strlen(slash + 1), 0, 128, &bits))
                        goto bad;
        }
        bool v6 = strchr(buf, ':') != NULL;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, addr) != 1 || bits > (v6 ? 128 : 32))
                goto bad;
        if (bits < 0)
                bits = v6 ? 128 : 32;
        put_inet(o, v6, addr, (int)bits, slash && bits == (v6 ? 128 : 32));
        return 0;
bad:
        return BAD(err, PG_W_INET, "\"%.*s\" is not an address", (int)(len > 48 ? 48 : len),
                   (const char *)s);
}

static void put_mac(struct out *o, const uint8_t *a, int n)
{
        char buf[32];
        int k = 0;

        for (int i = 0; i < n; i++)
                k += sprintf(buf + k, i ? ":%02x" : "%02x", a[i]);
        put(o, buf, (size_t)k);
}

/* "08:00:2b:01:02:03" (n = 6) or eight groups (macaddr8). */
static int parse_mac(const uint8_t *s, size_t len, int n, int wire, uint8_t *a,
                     struct zetl_err *err)
{
        if (len != (size_t)n * 3 - 1)
                goto bad;
        for (int i = 0; i < n; i++) {
                int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
                if (hi < 0 || lo < 0 || (i + 1 < n && s[3 * i + 2] != ':'))
                        goto bad;
                a[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
bad:
        return BAD(err, wire, "\"%.*s\" is not a MAC address", (int)(len > 40 ? 40 : len),
                   (const char *)s);
}

/* ---- "char" and bytea ---------------------------------------------------------- */

/* charout: a high-bit byte as \ooo, NUL as nothing. buf: 5 bytes. */
static int fmt_char(uint8_t c, char *buf)
{
        if (c & 0x80)
                return sprintf(buf, "\\%o%o%o", c >> 6, (c >> 3) & 7, c & 7);
        buf[0] = (char)c;
        return c ? 1 : 0;
}

/* byteaout's hex form ("\x0102"), or the escape form (\\ and \ooo). */
static int bytea_text(const uint8_t *s, size_t len, struct bsink *bs, struct zetl_err *err)
{
        uint8_t chunk[96];
        size_t n = 0;

        if (len >= 2 && s[0] == '\\' && s[1] == 'x') {
                if (len % 2)
                        return BAD(err, PG_W_BYTEA, "odd number of hex digits");
                for (size_t i = 2; i < len; i += 2) {
                        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
                        if (hi < 0 || lo < 0)
                                return BAD(err, PG_W_BYTEA, "bad hex digit at %zu", i);
                        chunk[n++] = (uint8_t)(hi << 4 | lo);
                        if (n == sizeof(chunk)) {
                                bsink_put(bs, chunk, n);
                                n = 0;
                        }
                }
                bsink_put(bs, chunk, n);
                bsink_finish(bs);
                return 0;
        }
        for (size_t i = 0; i < len;) {
                uint8_t c = s[i];
                if (c != '\\') {
                        i++;
                } else if (i + 1 < len && s[i + 1] == '\\') {
                        i += 2;
                } else if (i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                           s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        c = (uint8_t)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 |
                                      (s[i + 3] - '0'));
                        i += 4;
                } else {
                        return BAD(err, PG_W_BYTEA, "bad escape at %zu", i);
                }
                chunk[n++] = c;
                if (n == sizeof(chunk)) {
                        bsink_put(bs, chunk, n);
                        n = 0;
                }
        }
        bsink_put(bs, chunk, n);
        bsink_finish(bs);
        return 0;
}

static int render_bytea_text(struct out *o, const struct pg_col_decoder *d, const uint8_t *s,
                             size_t len, struct zetl_err *err)
{
        struct bsink bs = { .o = o };

        (void)d;
        return bytea_text(s, len, &bs, err);
}

/* ---- scalar readers shared by cells and array elements ----------------------------- */

static int bin_date(const uint8_t *p, size_t len, int32_t *pg, struct zetl_err *err)
{
        int rc = need_len(len, 4, PG_W_DATE, err);

        if (!rc)
                *pg = (int32_t)rd32(p);
        return rc;
}

static int bin_time(const uint8_t *p, size_t len, int64_t *usec, struct zetl_err *err)
{
        int rc = need_len(len, 8, PG_W_TIME, err);

        if (rc)
                return rc;
        *usec = (int64_t)rd64(p);
        return check_time(*usec, PG_W_TIME, err);
}

static int parse_time(const uint8_t *s, size_t len, int64_t *usec, struct zetl_err *err)
{
        size_t i = 0;

        if (!parse_hms(s, len, &i, true, usec) || i != len)
                return BAD(err, PG_W_TIME, "\"%.*s\" is not an ISO time",
                           (int)(len > 40 ? 40 : len), (const char *)s);
        return 0;
}

static int parse_bool(const uint8_t *s, size_t len, bool *v, struct zetl_err *err)
{
        if (len == 1 && (s[0] == 't' || s[0] == 'f')) {
                *v = s[0] == 't';
                return 0;
        }
        return BAD(err, PG_W_BOOL, "\"%.*s\" is neither t nor f", (int)(len > 40 ? 40 : len),
                   (const char *)s);
}

static int bin_bool(const uint8_t *p, size_t len, bool *v, struct zetl_err *err)
{
        int rc = need_len(len, 1, PG_W_BOOL, err);

        if (rc)
                return rc;
        if (p[0] > 1)
                return BAD(err, PG_W_BOOL, "byte %u", p[0]);
        *v = p[0];
        return 0;
}

/* Integers of every width, binary or text, as int64. */
static int read_int(int wire, bool text, const uint8_t *p, size_t len, int64_t *v,
                    struct zetl_err *err)
{
        static const struct {
                size_t size;
                int64_t min, max;
        } lim[] = {
                [PG_W_INT2] = { 2, INT16_MIN, INT16_MAX },
                [PG_W_INT4] = { 4, INT32_MIN, INT32_MAX },
                [PG_W_INT8] = { 8, INT64_MIN, INT64_MAX },
                [PG_W_OID] = { 4, 0, UINT32_MAX },
        };
        int rc;

        if (text) {
                if (!parse_int(p, len, lim[wire].min, lim[wire].max, v))
                        return BAD(err, wire, "\"%.*s\" is not an integer in range",
                                   (int)(len > 40 ? 40 : len), (const char *)p);
                return 0;
        }
        if ((rc = need_len(len, lim[wire].size, wire, err)))
                return rc;
        switch (wire) {
        case PG_W_INT2:
                *v = (int16_t)rd16(p);
                break;
        case PG_W_INT4:
                *v = (int32_t)rd32(p);
                break;
        case PG_W_OID:
                *v = rd32(p);
                break;
        default:
                *v = (int64_t)rd64(p);
                break;
        }
        return 0;
}

static int read_float(int wire, bool text, const uint8_t *p, size_t len, double *dv, float *fv,
                      struct zetl_err *err)
{
        int rc;

        if (text)
                return parse_float(p, len, wire, dv, fv, err);
        if (wire == PG_W_FLOAT4) {
                if ((rc = need_len(len, 4, wire, err)))
                        return rc;
                *fv = bin_float4(p);
                *dv = *fv;
        } else {
                if ((rc = need_len(len, 8, wire, err)))
                        return rc;
                *dv = bin_float8(p);
                *fv = (float)*dv;
        }
        return 0;
}

static int read_money(bool text, const uint8_t *p, size_t len, int64_t *v, struct zetl_err *err)
{
        int rc;

        if (text)
                return parse_money(p, len, v, err);
        if ((rc = need_len(len, 8, PG_W_MONEY, err)))
                return rc;
        *v = (int64_t)rd64(p);
        return 0;
}

static int read_ts(int wire, bool text, const uint8_t *p, size_t len, int64_t *pg,
                   struct zetl_err *err)
{
        int rc;

        if (text)
                return parse_pg_timestamp(p, len, wire, pg, err);
        if ((rc = need_len(len, 8, wire, err)))
                return rc;
        *pg = (int64_t)rd64(p);
        return 0;
}

static int read_uuid(bool text, const uint8_t *p, size_t len, uint8_t u[16], struct zetl_err *err)
{
        int rc;

        if (text) {
                if (zetl_parse_uuid((const char *)p, len, u))
                        return BAD(err, PG_W_UUID, "\"%.*s\" is not a UUID",
                                   (int)(len > 40 ? 40 : len), (const char *)p);
                return 0;
        }
        if ((rc = need_len(len, 16, PG_W_UUID, err)))
                return rc;
        memcpy(u, p, 16);
        return 0;
}

static int read_mac(int wire, bool text, const uint8_t *p, size_t len, uint8_t *a,
                    struct zetl_err *err)
{
        int n = wire == PG_W_MACADDR ? 6 : 8;
        int rc;

        if (text)
                return parse_mac(p, len, n, wire, a, err);
        if ((rc = need_len(len, (size_t)n, wire, err)))
                return rc;
        memcpy(a, p, (size_t)n);
        return 0;
}

/* jsonb_send: a version byte (1), then the text. */
static int jsonb_body(const uint8_t **p, size_t *len, struct zetl_err *err)
{
        if (*len < 1 || (*p)[0] != 1)
                return BAD(err, PG_W_JSONB, "%s", *len ? "unknown format version" : "empty");
        (*p)++;
        (*len)--;
        return 0;
}

/* ---- array elements as JSON ---------------------------------------------------------- */

static void put_quoted(struct out *o, const char *s, size_t len)
{
        put_ch(o, '"');
        put(o, s, len);
        put_ch(o, '"');
}

/*
 * One element, in binary (text false) or as its unescaped text, as a JSON
 * value (see pg_types.h). Strings, json and "char" from the text form are
 * written by the array parser directly; here they come from binary.
 */
static int elem_json(struct out *o, int wire, bool text, const uint8_t *p, size_t len,
                     struct zetl_err *err)
{
        char buf[128];
        int64_t iv;
        double dv;
        float fv;
        bool bv;
        int32_t d32;
        int64_t t64;
        uint8_t u[16];
        struct interval itv;
        int rc = 0, n;

        switch (wire) {
        case PG_W_BOOL:
                if (!(rc = text ? parse_bool(p, len, &bv, err) : bin_bool(p, len, &bv, err)))
                        put_str(o, bv ? "true" : "false");
                return rc;
        case PG_W_INT2:
        case PG_W_INT4:
        case PG_W_INT8:
        case PG_W_OID:
                if ((rc = read_int(wire, text, p, len, &iv, err)))
                        return rc;
                n = snprintf(buf, sizeof(buf), "%" PRId64, iv);
                put(o, buf, (size_t)n);
                return 0;
        case PG_W_FLOAT4:
        case PG_W_FLOAT8:
                if (!(rc = read_float(wire, text, p, len, &dv, &fv, err)))
                        put_float_json(o, wire == PG_W_FLOAT4 ? (double)fv : dv,
                                       wire == PG_W_FLOAT4);
                return rc;
        case PG_W_NUMERIC:
                put_ch(o, '"');
                rc = text ? render_numeric_text(o, NULL, p, len, err)
                          : render_numeric_bin(o, NULL, p, len, err);
                put_ch(o, '"');
                return rc;
        case PG_W_MONEY:
                if ((rc = read_money(text, p, len, &iv, err)))
                        return rc;
                put_ch(o, '"');
                put_money(o, iv);
                put_ch(o, '"');
                return 0;
        case PG_W_TEXT:
        case PG_W_TEXT_ONLY:
                put_json_str(o, p, len, false);
                return 0;
        case PG_W_CHAR:
                if (text) {
                        put_json_str(o, p, len, false);
                        return 0;
                }
                if ((rc = need_len(len, 1, wire, err)))
                        return rc;
                n = fmt_char(p[0], buf);
                put_json_str(o, (const uint8_t *)buf, (size_t)n, false);
                return 0;
        case PG_W_BYTEA: {
                struct bsink bs = { .o = o, .b64 = true };
                put_ch(o, '"');
                if (text) {
                        rc = bytea_text(p, len, &bs, err);
                } else {
                        bsink_put(&bs, p, len);
                        bsink_finish(&bs);
                }
                put_ch(o, '"');
                return rc;
        }
        case PG_W_DATE:
                rc = text ? parse_pg_date(p, len, &d32, err) : bin_date(p, len, &d32, err);
                if (rc || (rc = date_to_zetl(d32, &d32, err)))
                        return rc;
                if (d32 == INT32_MAX || d32 == INT32_MIN)
                        put_str(o, d32 == INT32_MAX ? "\"infinity\"" : "\"-infinity\"");
                else
                        put_quoted(o, buf, (size_t)zetl_format_date(d32, buf));
                return 0;
        case PG_W_TIME:
                rc = text ? parse_time(p, len, &t64, err) : bin_time(p, len, &t64, err);
                if (!rc)
                        put_quoted(o, buf, (size_t)zetl_format_time(t64, buf));
                return rc;
        case PG_W_TIMETZ:
                rc = text ? parse_timetz(p, len, &t64, &d32, err)
                          : bin_timetz(p, len, &t64, &d32, err);
                if (!rc) {
                        put_ch(o, '"');
                        put_timetz(o, t64, d32);
                        put_ch(o, '"');
                }
                return rc;
        case PG_W_TIMESTAMP:
        case PG_W_TIMESTAMPTZ:
                if ((rc = read_ts(wire, text, p, len, &t64, err)))
                        return rc;
                if (t64 == INT64_MAX || t64 == INT64_MIN)
                        put_str(o, t64 == INT64_MAX ? "\"infinity\"" : "\"-infinity\"");
                else
                        put_quoted(o, buf, (size_t)fmt_pg_ts(t64, wire == PG_W_TIMESTAMPTZ, buf));
                return 0;
        case PG_W_INTERVAL:
                rc = text ? parse_interval(p, len, &itv, err) : bin_interval(p, len, &itv, err);
                if (!rc) {
                        put_ch(o, '"');
                        put_interval(o, &itv);
                        put_ch(o, '"');
                }
                return rc;
        case PG_W_UUID:
                if (!(rc = read_uuid(text, p, len, u, err)))
                        put_quoted(o, buf, (size_t)zetl_format_uuid(u, buf));
                return rc;
        case PG_W_JSONB:
                if (!text && (rc = jsonb_body(&p, &len, err)))
                        return rc;
                /* fall through */
        case PG_W_JSON:
                if (len == 0)
                        return BAD(err, wire, "empty document");
                put(o, p, len);
                return 0;
        case PG_W_INET:
                put_ch(o, '"');
                rc = text ? render_inet_text(o, NULL, p, len, err)
                          : render_inet_bin(o, NULL, p, len, err);
                put_ch(o, '"');
                return rc;
        case PG_W_MACADDR:
        case PG_W_MACADDR8:
                if ((rc = read_mac(wire, text, p, len, u, err)))
                        return rc;
                put_ch(o, '"');
                put_mac(o, u, wire == PG_W_MACADDR ? 6 : 8);
                put_ch(o, '"');
                return 0;
        default:
                return fail(err, ZETL_EUNSUPPORTED, wire, "not decodable as an array element");
        }
}

/* ---- arrays in binary ------------------------------------------------------------------- */

struct bin_cursor {
        const uint8_t *p;
        const uint8_t *end;
        uint32_t index; /* element number, for messages */
};

static int array_bin_level(struct out *o, const struct pg_col_decoder *d, const int32_t *dims,
                           int ndim, int level, struct bin_cursor *c, struct zetl_err *err)
{
        int rc;

        put_ch(o, '[');
        for (int32_t k = 0; k < dims[level]; k++) {
                if (k)
                        put_ch(o, ',');
                if (level + 1 < ndim) {
                        if ((rc = array_bin_level(o, d, dims, ndim, level + 1, c, err)))
                                return rc;
                        continue;
                }
                if (c->end - c->p < 4)
                        return BAD(err, PG_W_ARRAY, "element %" PRIu32 " is cut short", c->index);
                int32_t elen = (int32_t)rd32(c->p);
                c->p += 4;
                if (elen == -1) {
                        put_str(o, "null");
                } else if (elen < 0 || elen > c->end - c->p) {
                        return BAD(err, PG_W_ARRAY, "element %" PRIu32 " of %" PRId32 " bytes",
                                   c->index, elen);
                } else {
                        if ((rc = elem_json(o, d->elem_wire, false, c->p, (size_t)elen, err)))
                                return zetl_err_prefix(err, "array element %" PRIu32 ": ",
                                                       c->index);
                        c->p += elen;
                }
                c->index++;
        }
        put_ch(o, ']');
        return 0;
}

/* array_send: int32 ndim, int32 has-nulls flag, uint32 element type, per
 * dimension int32 size and lower bound, then each element as int32 length
 * (-1 for NULL) and its bytes, last dimension varying fastest. */
static int render_array_bin(struct out *o, const struct pg_col_decoder *d, const uint8_t *p,
                            size_t len, struct zetl_err *err)
{
        int32_t dims[ARRAY_MAX_DIMS];
        int rc;

        if (len < 12)
                return BAD(err, PG_W_ARRAY, "%zu bytes, the header alone is 12", len);
        int32_t ndim = (int32_t)rd32(p), flags = (int32_t)rd32(p + 4);
        uint32_t elem = rd32(p + 8);
        if (ndim < 0 || ndim > ARRAY_MAX_DIMS || (flags != 0 && flags != 1))
                return BAD(err, PG_W_ARRAY, "%" PRId32 " dimensions, flags %" PRId32, ndim, flags);
        if (elem != d->elem_oid)
                return BAD(err, PG_W_ARRAY, "elements of type %" PRIu32 ", expected %" PRIu32, elem,
                           d->elem_oid);
        size_t hdr = 12 + 8 * (size_t)ndim;
        if (len < hdr)
                return BAD(err, PG_W_ARRAY, "%zu bytes for %" PRId32 " dimensions", len, ndim);
        /* Every element takes at least its 4-byte length: bounds the loops below. */
        uint64_t nitems = ndim ? 1 : 0, room = (len - hdr) / 4;
        for (int i = 0; i < ndim; i++) {
                dims[i] = (int32_t)rd32(p + 12 + 8 * i);
                if (dims[i] < 0)
                        return BAD(err, PG_W_ARRAY, "dimension of size %" PRId32, dims[i]);
        }
        for (int i = 0; i < ndim && nitems; i++) {
                nitems *= (uint64_t)dims[i];
                if (nitems > room && i + 1 < ndim)
                        nitems = room + 1; /* too many, unless a later dimension is 0 */
        }
        if (nitems == 0) {
                if (len != hdr)
                        return BAD(err, PG_W_ARRAY, "%zu bytes after an empty array", len - hdr);
                put_str(o, "[]");
                return 0;
        }
        if (nitems > room)
                return BAD(err, PG_W_ARRAY, "more elements than %zu bytes can hold", len);
        struct bin_cursor c = { .p = p + hdr, .end = p + len };
        if ((rc = array_bin_level(o, d, dims, ndim, 0, &c, err)))
                return rc;
        if (c.p != c.end)
                return BAD(err, PG_W_ARRAY, "%td bytes after the last element", c.end - c.p);
        return 0;
}

/* ---- arrays in text -------------------------------------------------------------------- */

struct text_cursor {
        const uint8_t *s;
        size_t i;
        size_t len;
        char delim;
};

static void skip_space(struct text_cursor *c)
{
        while (c->i < c->len && is_space(c->s[c->i]))
                c->i++;
}

static bool string_like(int wire)
{
        return wire == PG_W_TEXT || wire == PG_W_TEXT_ONLY || wire == PG_W_CHAR ||
               wire == PG_W_JSON || wire == PG_W_JSONB;
}

/* One element of an array literal: quoted ("..." with \" and \\), or bare up
 * to the delimiter or '}' (backslash escapes too, trailing blanks dropped);
 * a bare NULL is null. */
static int array_text_elem(struct out *o, const struct pg_col_decoder *d, struct text_cursor *c,
                           struct zetl_err *err)
{
        const uint8_t *s = c->s;
        size_t st, en, i = c->i;
        bool esc = false;
        int rc;

        if (s[i] == '"') {
                st = ++i;
                while (i < c->len && s[i] != '"') {
                        if (s[i] == '\\') {
                                esc = true;
                                i++;
                        }
                        i++;
                }
                if (i >= c->len)
                        return BAD(err, PG_W_ARRAY, "unterminated quoted element");
                en = i++;
        } else {
                st = i;
                en = i;
                while (i < c->len && s[i] != c->delim && s[i] != '}') {
                        if (s[i] == '"' || s[i] == '{')
                                return BAD(err, PG_W_ARRAY, "'%c' in a bare element", s[i]);
                        if (s[i] == '\\') {
                                if (i + 1 >= c->len)
                                        return BAD(err, PG_W_ARRAY, "backslash at the end");
                                esc = true;
                                i += 2;
                                en = i;
                                continue;
                        }
                        if (!is_space(s[i]))
                                en = i + 1;
                        i++;
                }
                if (en == st)
                        return BAD(err, PG_W_ARRAY, "empty bare element at %zu", st);
                if (!esc && en - st == 4 && strncasecmp((const char *)s + st, "NULL", 4) == 0) {
                        c->i = i;
                        put_str(o, "null");
                        return 0;
                }
        }
        c->i = i;
        if (string_like(d->elem_wire)) {
                if (d->elem_wire == PG_W_JSON || d->elem_wire == PG_W_JSONB) {
                        if (en == st)
                                return BAD(err, d->elem_wire, "empty document");
                        put_unescaped(o, s + st, en - st);
                } else {
                        put_json_str(o, s + st, en - st, esc);
                }
                return 0;
        }
        if (!esc)
                return elem_json(o, d->elem_wire, true, s + st, en - st, err);
        uint8_t *tmp = malloc(en - st);
        size_t n = 0;
        if (!tmp)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                    "out of memory unescaping an array element");
        for (size_t k = st; k < en; k++) {
                if (s[k] == '\\' && k + 1 < en)
                        k++;
                tmp[n++] = s[k];
        }
        rc = elem_json(o, d->elem_wire, true, tmp, n, err);
        free(tmp);
        return rc;
}

static int array_text_level(struct out *o, const struct pg_col_decoder *d, struct text_cursor *c,
                            int depth, struct zetl_err *err)
{
        int rc, kind = 0; /* 1: this level holds sub-arrays, 2: elements */

        if (depth > ARRAY_MAX_DIMS)
                return BAD(err, PG_W_ARRAY, "more than %d dimensions", ARRAY_MAX_DIMS);
        if (c->i >= c->len || c->s[c->i] != '{')
                return BAD(err, PG_W_ARRAY, "expected '{' at %zu", c->i);
        c->i++;
        put_ch(o, '[');
        skip_space(c);
        if (c->i < c->len && c->s[c->i] == '}') {
                c->i++;
                put_ch(o, ']');
                return 0;
        }
        for (int n = 0;; n++) {
                if (n)
                        put_ch(o, ',');
                skip_space(c);
                if (c->i >= c->len)
                        return BAD(err, PG_W_ARRAY, "unterminated array");
                bool sub = c->s[c->i] == '{';
                if (kind && kind != (sub ? 1 : 2))
                        return BAD(err, PG_W_ARRAY, "elements and sub-arrays mixed at %zu", c->i);
                kind = sub ? 1 : 2;
                rc = sub ? array_text_level(o, d, c, depth + 1, err)
                         : array_text_elem(o, d, c, err);
                if (rc)
                        return rc;
                skip_space(c);
                if (c->i >= c->len)
                        return BAD(err, PG_W_ARRAY, "unterminated array");
                if (c->s[c->i] == c->delim) {
                        c->i++;
                        continue;
                }
                if (c->s[c->i] == '}') {
                        c->i++;
                        break;
                }
                return BAD(err, PG_W_ARRAY, "unexpected '%c' at %zu", c->s[c->i], c->i);
        }
        put_ch(o, ']');
        return 0;
}

/* array_out: "{1,2,NULL,\"a b\"}", "{{1,2},{3,4}}", "[0:1]={1,2}" (bounds dropped). */
static int render_array_text(struct out *o, const struct pg_col_decoder *d, const uint8_t *s,
                             size_t len, struct zetl_err *err)
{
        struct text_cursor c = { .s = s, .i = 0, .len = len, .delim = d->elem_delim };
        int rc;

        if (len && s[0] == '[') {
                while (c.i < len && s[c.i] != '=') {
                        uint8_t ch = s[c.i++];
                        if (!is_digit(ch) && ch != '[' && ch != ']' && ch != ':' && ch != '-' &&
                            ch != '+')
                                return BAD(err, PG_W_ARRAY, "bad dimension decoration");
                }
                if (c.i++ >= len)
                        return BAD(err, PG_W_ARRAY, "bad dimension decoration");
        }
        skip_space(&c);
        if ((rc = array_text_level(o, d, &c, 1, err)))
                return rc;
        skip_space(&c);
        if (c.i != len)
                return BAD(err, PG_W_ARRAY, "text after the array at %zu", c.i);
        return 0;
}

/* ---- cells --------------------------------------------------------------------------------- */

static int check_target(struct zetl_batch *b, int col, const struct pg_col_decoder *d, int len,
                        const char *p, struct zetl_err *err)
{
        if (!b || !d || col < 0 || col >= b->schema->ncols || b->cur < 0 || (len > 0 && !p) ||
            len < -1 || d->wire >= PG_W__COUNT)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "pg_decode: bad arguments (column %d)", col);
        if (b->schema->cols[col].type != d->type)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "pg_decode: column \"%s\" is %s, the decoder gives %s",
                                    b->schema->cols[col].name,
                                    zetl_type_name(b->schema->cols[col].type),
                                    zetl_type_name(d->type));
        return 0;
}

/* A short var-length value rendered on the stack, then copied into the cell. */
struct small {
        uint8_t buf[160];
        struct out o;
};

static void small_init(struct small *sm)
{
        sm->o = (struct out){ .p = sm->buf, .n = 0, .cap = sizeof(sm->buf) };
}

static int small_set(struct zetl_batch *b, int col, struct small *sm, struct zetl_err *err)
{
        return zetl_batch_set_var(b, col, sm->buf, sm->o.n, err);
}

/* The cell of every type whose binary and text readers share a native value. */
static int decode(struct zetl_batch *b, int col, const struct pg_col_decoder *d, bool text,
                  const uint8_t *p, size_t len, struct zetl_err *err)
{
        struct small sm;
        int64_t iv;
        double dv;
        float fv;
        bool bv;
        int32_t d32;
        uint8_t u[16];
        struct interval itv;
        int rc;

        small_init(&sm);
        switch (d->wire) {
        case PG_W_BOOL:
                if (!(rc = text ? parse_bool(p, len, &bv, err) : bin_bool(p, len, &bv, err)))
                        zetl_batch_set_bool(b, col, bv);
                return rc;
        case PG_W_INT2:
        case PG_W_INT4:
        case PG_W_INT8:
        case PG_W_OID:
                if ((rc = read_int(d->wire, text, p, len, &iv, err)))
                        return rc;
                if (d->wire == PG_W_INT2)
                        zetl_batch_set_i16(b, col, (int16_t)iv);
                else if (d->wire == PG_W_INT4)
                        zetl_batch_set_i32(b, col, (int32_t)iv);
                else
                        zetl_batch_set_i64(b, col, iv);
                return 0;
        case PG_W_FLOAT4:
        case PG_W_FLOAT8:
                if ((rc = read_float(d->wire, text, p, len, &dv, &fv, err)))
                        return rc;
                if (d->wire == PG_W_FLOAT4)
                        zetl_batch_set_f32(b, col, fv);
                else
                        zetl_batch_set_f64(b, col, dv);
                return 0;
        case PG_W_NUMERIC:
                return set_rendered(b, col, text ? render_numeric_text : render_numeric_bin, d, p,
                                    len, err);
        case PG_W_MONEY:
                if ((rc = read_money(text, p, len, &iv, err)))
                        return rc;
                put_money(&sm.o, iv);
                return small_set(b, col, &sm, err);
        case PG_W_TEXT:
        case PG_W_JSON:
                return zetl_batch_set_var(b, col, p, len, err);
        case PG_W_TEXT_ONLY:
                if (!text)
                        return fail(err, ZETL_EUNSUPPORTED, d->wire,
                                    "type %" PRIu32 " has no binary decoder: request it as text",
                                    d->oid);
                return zetl_batch_set_var(b, col, p, len, err);
        case PG_W_JSONB:
                if (!text && (rc = jsonb_body(&p, &len, err)))
                        return rc;
                return zetl_batch_set_var(b, col, p, len, err);
        case PG_W_CHAR:
                if (text)
                        return zetl_batch_set_var(b, col, p, len, err);
                if ((rc = need_len(len, 1, d->wire, err)))
                        return rc;
                return zetl_batch_set_var(b, col, sm.buf, (size_t)fmt_char(p[0], (char *)sm.buf),
                                          err);
        case PG_W_BYTEA:
                if (text)
                        return set_rendered(b, col, render_bytea_text, d, p, len, err);
                return zetl_batch_set_var(b, col, p, len, err);
        case PG_W_DATE:
                rc = text ? parse_pg_date(p, len, &d32, err) : bin_date(p, len, &d32, err);
                if (rc || (rc = date_to_zetl(d32, &d32, err)))
                        return rc;
                zetl_batch_set_i32(b, col, d32);
                return 0;
        case PG_W_TIME:
                if (!(rc = text ? parse_time(p, len, &iv, err) : bin_time(p, len, &iv, err)))
                        zetl_batch_set_i64(b, col, iv);
                return rc;
        case PG_W_TIMETZ:
                rc = text ? parse_timetz(p, len, &iv, &d32, err)
                          : bin_timetz(p, len, &iv, &d32, err);
                if (rc)
                        return rc;
                put_timetz(&sm.o, iv, d32);
                return small_set(b, col, &sm, err);
        case PG_W_TIMESTAMP:
        case PG_W_TIMESTAMPTZ:
                if ((rc = read_ts(d->wire, text, p, len, &iv, err)) ||
                    (rc = ts_to_zetl(iv, d->wire, &iv, err)))
                        return rc;
                zetl_batch_set_i64(b, col, iv);
                return 0;
        case PG_W_INTERVAL:
                rc = text ? parse_interval(p, len, &itv, err) : bin_interval(p, len, &itv, err);
                if (rc)
                        return rc;
                put_interval(&sm.o, &itv);
                return small_set(b, col, &sm, err);
        case PG_W_UUID:
                if (!(rc = read_uuid(text, p, len, u, err)))
                        zetl_batch_set_uuid(b, col, u);
                return rc;
        case PG_W_INET:
                rc = text ? render_inet_text(&sm.o, d, p, len, err)
                          : render_inet_bin(&sm.o, d, p, len, err);
                return rc ? rc : small_set(b, col, &sm, err);
        case PG_W_MACADDR:
        case PG_W_MACADDR8:
                if ((rc = read_mac(d->wire, text, p, len, u, err)))
                        return rc;
                put_mac(&sm.o, u, d->wire == PG_W_MACADDR ? 6 : 8);
                return small_set(b, col, &sm, err);
        case PG_W_ARRAY:
                if (!text && !d->binary)
                        return fail(err, ZETL_EUNSUPPORTED, d->wire,
                                    "elements of type %" PRIu32
                                    " have no binary decoder: request it as text",
                                    d->elem_oid);
                return set_rendered(b, col, text ? render_array_text : render_array_bin, d, p, len,
                                    err);
        default:
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "pg_decode: wire format %d",
                                    d->wire);
        }
}

static int decode_cell(struct zetl_batch *b, int col, const struct pg_col_decoder *d, bool text,
                       const char *p, int len, struct zetl_err *err)
{
        struct zetl_err local = { 0 };
        int rc;

        if (!err)
                err = &local; /* messages of the batch's setters need somewhere to go */
        if ((rc = check_target(b, col, d, len, p, err)))
                return rc;
        if (len < 0) {
                zetl_batch_set_null(b, col);
                return 0;
        }
        if (!p)
                p = ""; /* len 0: no arithmetic or printing on a null pointer below */
        return decode(b, col, d, text, (const uint8_t *)p, (size_t)len, err);
}

int pg_decode_binary(struct zetl_batch *b, int col, const struct pg_col_decoder *d, const char *p,
                     int len, struct zetl_err *err)
{
        return decode_cell(b, col, d, false, p, len, err);
}

int pg_decode_text(struct zetl_batch *b, int col, const struct pg_col_decoder *d, const char *p,
                   int len, struct zetl_err *err)
{
        return decode_cell(b, col, d, true, p, len, err);
}
