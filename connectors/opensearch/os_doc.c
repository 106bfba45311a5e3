/*
 * os_doc: names, ids, documents, mappings and bulk lines for the OpenSearch
 * sink, and the reading of bulk responses (see os_doc.h for the rules). Pure
 * functions over batches and buffers: no I/O, no global state.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os_doc.h"
#include "zetl/value.h"

/* ---- buffers --------------------------------------------------------------- */

static int buf_grow(struct os_buf *b, size_t need)
{
        size_t max = b->max ? b->max : (SIZE_MAX / 2);
        size_t ncap;
        char *n;

        if (need > max)
                return ZETL_ELIMIT;
        if (need <= b->cap)
                return 0;
        ncap = b->cap ? b->cap : 256;
        while (ncap < need)
                ncap *= 2;
        if (ncap > max)
                ncap = max;
        n = realloc(b->p, ncap);
        if (!n)
                return ZETL_ENOMEM;
        b->p = n;
        b->cap = ncap;
        return 0;
}

int os_buf_put(struct os_buf *b, const void *p, size_t n)
{
        /* One spare byte so that a NUL can always follow the content. */
        int rc = buf_grow(b, b->len + n + 1);

        if (rc)
                return rc;
        if (n)
                memcpy(b->p + b->len, p, n);
        b->len += n;
        b->p[b->len] = '\0';
        return 0;
}

int os_buf_puts(struct os_buf *b, const char *s)
{
        return os_buf_put(b, s, strlen(s));
}

int os_buf_printf(struct os_buf *b, const char *fmt, ...)
{
        char small[256];
        va_list ap;
        int n, rc;

        va_start(ap, fmt);
        n = vsnprintf(small, sizeof(small), fmt, ap);
        va_end(ap);
        if (n < 0)
                return ZETL_EINVAL;
        if ((size_t)n < sizeof(small))
                return os_buf_put(b, small, (size_t)n);
        if ((rc = buf_grow(b, b->len + (size_t)n + 1)))
                return rc;
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
        return 0;
}

void os_buf_reset(struct os_buf *b)
{
        b->len = 0;
        if (b->p)
                b->p[0] = '\0';
}

void os_buf_free(struct os_buf *b)
{
        free(b->p);
        b->p = NULL;
        b->len = b->cap = 0;
}

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 when invalid
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
        unsigned c = s[0];
        size_t len;
        unsigned cp;

        if (c < 0x80)
                return 1;
        if (c >= 0xC2 && c <= 0xDF) {
                len = 2;
                cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
                len = 3;
                cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
                len = 4;
                cp = c & 0x07;
        } else {
                return 0;
        }
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
                return 0;
        return len;
}

int os_json_str(struct os_buf *b, const char *s, size_t n)
{
        const unsigned char *u = (const unsigned char *)s;
        size_t i = 0, run = 0;
        int rc;

        if ((rc = buf_grow(b, b->len + n + 3)))
                return rc;
        b->p[b->len++] = '"';
        while (i < n) {
                unsigned c = u[i];
                size_t l = c < 0x80 ? 1 : utf8_len(u + i, n - i);

                if (l == 0)
                        return ZETL_EINVAL;
                if (c >= 0x20 && c != '"' && c != '\\') {
                        i += l;
                        run += l;
                        continue;
                }
                /* Copy the plain run, then the escape. */
                if ((rc = os_buf_put(b, s + i - run, run)))
                        return rc;
                run = 0;
                char esc[6];
                size_t el = zetl_json_escape((unsigned char)c, esc);
                if ((rc = os_buf_put(b, esc, el)))
                        return rc;
                i++;
        }
        if ((rc = os_buf_put(b, s + i - run, run)))
                return rc;
        return os_buf_put(b, "\"", 1);
}

/* ---- a small JSON validator (the text of json cells is embedded as it is) -- */

struct jscan {
        const char *p, *end;
        int depth;
};

static void js_ws(struct jscan *j)
{
        while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
                j->p++;
}

static bool js_lit(struct jscan *j, const char *lit)
{
        size_t n = strlen(lit);

        if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
                return false;
        j->p += n;
        return true;
}

static bool js_string(struct jscan *j)
{
        const unsigned char *u;

        if (j->p >= j->end || *j->p != '"')
                return false;
        j->p++;
        while (j->p < j->end) {
                u = (const unsigned char *)j->p;
                if (*u == '"') {
                        j->p++;
                        return true;
                }
                if (*u < 0x20)
                        return false;
                if (*u == '\\') {
                        if (j->end - j->p < 2)
                                return false;
                        char e = j->p[1];
                        if (e == 'u') {
                                if (j->end - j->p < 6)
                                        return false;
                                for (int i = 2; i < 6; i++)
                                        if (!strchr("0123456789abcdefABCDEF", j->p[i]) ||
                                            j->p[i] == '\0')
                                                return false;
                                j->p += 6;
                        } else if (strchr("\"\\/bfnrt", e) && e != '\0') {
                                j->p += 2;
                        } else {
                                return false;
                        }
                        continue;
                }
                size_t l = utf8_len(u, (size_t)(j->end - j->p));
                if (l == 0)
                        return false;
                j->p += l;
        }
        return false;
}

static bool js_digits(struct jscan *j)
{
        const char *s = j->p;

        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
                j->p++;
        return j->p > s;
}

static bool js_number(struct jscan *j)
{
        if (j->p < j->end && *j->p == '-')
                j->p++;
        if (j->p < j->end && *j->p == '0')
                j->p++;
        else if (!js_digits(j))
                return false;
        if (j->p < j->end && *j->p == '.') {
                j->p++;
                if (!js_digits(j))
                        return false;
        }
        if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
                j->p++;
                if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
                        j->p++;
                if (!js_digits(j))
                        return false;
        }
        return true;
}

static bool js_value(struct jscan *j)
{
        bool first = true;

        js_ws(j);
        if (j->p >= j->end)
                return false;
        switch (*j->p) {
        case '{':
        case '[': {
                char close = *j->p == '{' ? '}' : ']';
                bool obj = close == '}';
                if (++j->depth > 512)
                        return false;
                j->p++;
                for (;;) {
                        js_ws(j);
                        if (j->p < j->end && *j->p == close && first) {
                                j->p++;
                                break;
                        }
                        if (obj) {
                                if (!js_string(j))
                                        return false;
                                js_ws(j);
                                if (j->p >= j->end || *j->p != ':')
                                        return false;
                                j->p++;
                        }
                        if (!js_value(j))
                                return false;
                        js_ws(j);
                        if (j->p < j->end && *j->p == ',') {
                                j->p++;
                                first = false;
                                continue;
                        }
                        if (j->p < j->end && *j->p == close) {
                                j->p++;
                                break;
                        }
                        return false;
                }
                j->depth--;
                return true;
        }
        case '"':
                return js_string(j);
        case 't':
                return js_lit(j, "true");
        case 'f':
                return js_lit(j, "false");
        case 'n':
                return js_lit(j, "null");
        default:
                return js_number(j);
        }
}

bool os_json_valid(const char *p, size_t n)
{
        struct jscan j = { p, p + n, 0 };

        if (!js_value(&j))
                return false;
        js_ws(&j);
        return j.p == j.end;
}

int os_json_get(const char *obj, size_t n, const char *key, const char **vp, size_t *vl)
{
        struct jscan j = { obj, obj + n, 0 };
        size_t klen = strlen(key);

        js_ws(&j);
        if (j.p >= j.end || *j.p != '{')
                return -1;
        j.p++;
        js_ws(&j);
        if (j.p < j.end && *j.p == '}')
                return 0;
        for (;;) {
                const char *ks = j.p, *v;
                js_ws(&j);
                ks = j.p;
                if (!js_string(&j))
                        return -1;
                /* The key token without its quotes, compared byte for byte:
                 * both sides were escaped by os_json_str. */
                bool match = (size_t)(j.p - ks) == klen + 2 && memcmp(ks + 1, key, klen) == 0;
                js_ws(&j);
                if (j.p >= j.end || *j.p != ':')
                        return -1;
                j.p++;
                js_ws(&j);
                v = j.p;
                if (!js_value(&j))
                        return -1;
                if (match) {
                        *vp = v;
                        *vl = (size_t)(j.p - v);
                        return 1;
                }
                js_ws(&j);
                if (j.p < j.end && *j.p == ',') {
                        j.p++;
                        continue;
                }
                return j.p < j.end && *j.p == '}' ? 0 : -1;
        }
}

/* ---- SHA-256 (FIPS 180-4) -------------------------------------------------- */

static const uint32_t sha_k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
        return (x >> n) | (x << (32 - n));
}

static void sha_block(uint32_t h[8], const uint8_t *blk)
{
        uint32_t w[64], a, b, c, d, e, f, g, k;

        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16 |
                       (uint32_t)blk[4 * i + 2] << 8 | blk[4 * i + 3];
        for (int i = 16; i < 64; i++) {
                uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
        for (int i = 0; i < 64; i++) {
                uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) +
                              sha_k[i] + w[i];
                uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

void os_sha256(const void *p, size_t n, uint8_t out[32])
{
        uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
        const uint8_t *s = p;
        uint8_t tail[128] = { 0 };
        size_t full = n / 64 * 64, rest = n - full, tl;
        uint64_t bits = (uint64_t)n * 8;

        for (size_t i = 0; i < full; i += 64)
                sha_block(h, s + i);
        if (rest)
                memcpy(tail, s + full, rest);
        tail[rest] = 0x80;
        tl = rest + 1 + 8 <= 64 ? 64 : 128;
        for (int i = 0; i < 8; i++)
                tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
        sha_block(h, tail);
        if (tl == 128)
                sha_block(h, tail + 64);
        for (int i = 0; i < 8; i++) {
                out[4 * i] = (uint8_t)(h[i] >> 24);
                out[4 * i + 1] = (uint8_t)(h[i] >> 16);
                out[4 * i + 2] = (uint8_t)(h[i] >> 8);
                out[4 * i + 3] = (uint8_t)h[i];
        }
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
        static const char hex[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex[p[i] >> 4];
                out[2 * i + 1] = hex[p[i] & 15];
        }
        out[2 * n] = '\0';
}

/* ---- index names ----------------------------------------------------------- */

int os_template_check(const char *tmpl, struct zetl_err *err)
{
        const char *p = tmpl;

        if (!tmpl || !*tmpl)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "index-template is empty");
        while ((p = strchr(p, '{')) != NULL) {
                if (strncmp(p, "{db}", 4) && strncmp(p, "{schema}", 8) && strncmp(p, "{table}", 7))
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                            "index-template \"%s\": only {db}, {schema} and "
                                            "{table} may appear in braces",
                                            tmpl);
                p++;
        }
        return 0;
}

/* The template with the table's names in place (see os_doc.h). */
static int expand(const char *tmpl, const struct zetl_table_id *id, struct os_buf *out)
{
        const char *p = tmpl;
        int rc = 0;

        while (*p && rc == 0) {
                if (strncmp(p, "{db}", 4) == 0) {
                        rc = os_buf_puts(out, id->db);
                        p += 4;
                } else if (strncmp(p, "{table}", 7) == 0) {
                        rc = os_buf_puts(out, id->table);
                        p += 7;
                } else if (strncmp(p, "{schema}", 8) == 0) {
                        p += 8;
                        if (id->schema[0]) {
                                rc = os_buf_puts(out, id->schema);
                        } else if (*p == '.') {
                                p++; /* "{db}.{schema}.{table}" -> "db.table" */
                        } else if (out->len && out->p[out->len - 1] == '.') {
                                out->p[--out->len] = '\0';
                        }
                } else {
                        rc = os_buf_put(out, p, 1);
                        p++;
                }
        }
        return rc;
}

int os_index_name(const char *tmpl, const struct zetl_table_id *id, char *out, struct zetl_err *err)
{
        struct os_buf x = { 0 };
        bool changed = false;
        size_t n = 0, limit;
        int rc;

        if ((rc = os_template_check(tmpl, err)))
                return rc;
        if ((rc = expand(tmpl, id, &x)) || (rc = os_buf_put(&x, "", 0))) {
                os_buf_free(&x);
                return zetl_err_set(err, rc, ZETL_ERRC_FATAL, "out of memory");
        }
        if (x.len == 0 || strchr("-_+.", x.p[0]) != NULL) {
                out[n++] = 'z';
                changed = true;
        }
        for (size_t i = 0; i < x.len && n < OS_INDEX_MAX; i++) {
                unsigned char c = (unsigned char)x.p[i];
                if (c >= 'A' && c <= 'Z') {
                        c = (unsigned char)(c - 'A' + 'a');
                } else if (c < 0x20 || c >= 0x7F || strchr("\\/*?\"<>| ,#:", c)) {
                        c = '_';
                        changed = true;
                }
                out[n++] = (char)c;
        }
        out[n] = '\0';
        limit = changed ? OS_ALIAS_MAX - 9 : OS_ALIAS_MAX;
        if (n > limit) {
                n = OS_ALIAS_MAX - 9;
                changed = true;
        }
        if (changed) {
                uint8_t h[32];
                char hex[65];
                os_sha256(x.p, x.len, h);
                hex_of(h, 4, hex);
                snprintf(out + n, OS_INDEX_MAX + 1 - n, "-%s", hex);
        }
        os_buf_free(&x);
        return 0;
}

/* ---- cell text ------------------------------------------------------------- */

/* The shortest decimal text that reads back to the same float or double. */
static int float_text(double d, bool single, char *buf, size_t len)
{
        for (int prec = 1; prec <= 17; prec++) {
                int n = snprintf(buf, len, "%.*g", prec, d);
                if (single ? strtof(buf, NULL) == (float)d : strtod(buf, NULL) == d)
                        return n;
        }
        return snprintf(buf, len, "%.17g", d);
}

/* The text of a non-NULL cell, for ids and for documents (strings quoted by
 * the caller). Writes into scratch or points into the batch. */
static int cell_text(const struct zetl_batch *b, int c, uint32_t r, struct os_buf *scratch,
                     const char **p, size_t *n)
{
        enum zetl_type t = b->schema->cols[c].type;
        char tmp[64];
        int len = 0, rc;

        switch (t) {
        case ZETL_T_BOOL:
                len = snprintf(tmp, sizeof(tmp), "%s",
                               zetl_batch_get_bool(b, c, r) ? "true" : "false");
                break;
        case ZETL_T_INT16:
                len = snprintf(tmp, sizeof(tmp), "%d", zetl_batch_get_i16(b, c, r));
                break;
        case ZETL_T_INT32:
                len = snprintf(tmp, sizeof(tmp), "%d", zetl_batch_get_i32(b, c, r));
                break;
        case ZETL_T_INT64:
                len = snprintf(tmp, sizeof(tmp), "%lld", (long long)zetl_batch_get_i64(b, c, r));
                break;
        case ZETL_T_FLOAT32:
        case ZETL_T_FLOAT64: {
                double d = t == ZETL_T_FLOAT32 ? zetl_batch_get_f32(b, c, r)
                                               : zetl_batch_get_f64(b, c, r);
                if (isnan(d))
                        len = snprintf(tmp, sizeof(tmp), "NaN");
                else if (isinf(d))
                        len = snprintf(tmp, sizeof(tmp), "%s", d > 0 ? "Infinity" : "-Infinity");
                else
                        len = float_text(d, t == ZETL_T_FLOAT32, tmp, sizeof(tmp));
                break;
        }
        case ZETL_T_DECIMAL:
        case ZETL_T_STRING:
        case ZETL_T_JSON:
                *p = (const char *)zetl_batch_get_var(b, c, r, n);
                if (!*p)
                        *p = "";
                return 0;
        case ZETL_T_BYTES: {
                size_t bl;
                const uint8_t *bp = zetl_batch_get_var(b, c, r, &bl);
                os_buf_reset(scratch);
                if ((rc = buf_grow(scratch, 4 * ((bl + 2) / 3) + 1)))
                        return rc;
                scratch->len = zetl_base64_encode(bp, bl, scratch->p);
                *p = scratch->p;
                *n = scratch->len;
                return 0;
        }
        case ZETL_T_DATE:
                len = zetl_format_date(zetl_batch_get_i32(b, c, r), tmp);
                break;
        case ZETL_T_TIME:
                len = zetl_format_time(zetl_batch_get_i64(b, c, r), tmp);
                break;
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                len = zetl_format_timestamp(zetl_batch_get_i64(b, c, r), t == ZETL_T_TIMESTAMPTZ,
                                            tmp);
                break;
        case ZETL_T_UUID:
                len = zetl_format_uuid(zetl_batch_get_uuid(b, c, r), tmp);
                break;
        default:
                return ZETL_EINVAL;
        }
        os_buf_reset(scratch);
        if ((rc = os_buf_put(scratch, tmp, (size_t)len)))
                return rc;
        *p = scratch->p;
        *n = scratch->len;
        return 0;
}

/* ---- ids -------------------------------------------------------------------- */

static int id_part(struct os_buf *out, const char *p, size_t n)
{
        size_t run = 0;
        int rc;

        if (n == 0)
                return os_buf_put(out, "%E", 2);
        for (size_t i = 0; i < n; i++) {
                if (p[i] != '%' && p[i] != '|') {
                        run++;
                        continue;
                }
                if ((rc = os_buf_put(out, p + i - run, run)) ||
                    (rc = os_buf_put(out, p[i] == '%' ? "%25" : "%7C", 3)))
                        return rc;
                run = 0;
        }
        return os_buf_put(out, p + n - run, run);
}

int os_doc_id(const struct zetl_batch *b, uint32_t r, struct os_buf *out, struct zetl_err *err)
{
        const struct zetl_schema *s = b->schema;
        struct os_buf scratch = { 0 };
        int rc = 0;

        os_buf_reset(out);
        if (s->nkeys == 0)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "the table has no primary key: a document needs one for its "
                                    "_id (add a key, or REPLICA IDENTITY FULL)");
        for (int k = 1; k <= s->nkeys && rc == 0; k++) {
                int c = zetl_schema_key_col(s, k);
                const char *p = NULL;
                size_t n = 0;

                if (k > 1 && (rc = os_buf_put(out, "|", 1)))
                        break;
                if (zetl_batch_is_null(b, c, r)) {
                        rc = os_buf_put(out, "%N", 2);
                        continue;
                }
                if ((rc = cell_text(b, c, r, &scratch, &p, &n)))
                        break;
                rc = id_part(out, p, n);
        }
        if (rc == 0 && out->len > OS_ID_MAX) {
                uint8_t h[32];
                char hex[65];
                os_sha256(out->p, out->len, h);
                hex_of(h, 32, hex);
                os_buf_reset(out);
                rc = os_buf_printf(out, "%%H%s", hex);
        }
        os_buf_free(&scratch);
        if (rc)
                return zetl_err_set(err, rc, ZETL_ERRC_FATAL, "building a document id: %s",
                                    zetl_errcode_name(rc));
        return 0;
}

static int hexdig(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int os_doc_id_split(const char *id, char **parts, int max)
{
        int np = 0;
        const char *p = id;

        if (strncmp(id, "%H", 2) == 0)
                return -1;
        for (;;) {
                const char *e = strchr(p, '|');
                size_t n = e ? (size_t)(e - p) : strlen(p);
                char *s = NULL;

                if (np == max)
                        goto fail;
                if (n == 2 && strncmp(p, "%N", 2) == 0) {
                        s = NULL;
                } else if (n == 2 && strncmp(p, "%E", 2) == 0) {
                        s = strdup("");
                        if (!s)
                                goto fail;
                } else {
                        size_t o = 0;
                        if (n == 0 || !(s = malloc(n + 1)))
                                goto fail;
                        for (size_t i = 0; i < n; i++) {
                                if (p[i] != '%') {
                                        s[o++] = p[i];
                                        continue;
                                }
                                if (i + 2 >= n || hexdig(p[i + 1]) < 0 || hexdig(p[i + 2]) < 0) {
                                        free(s);
                                        goto fail;
                                }
                                s[o++] = (char)(hexdig(p[i + 1]) * 16 + hexdig(p[i + 2]));
                                i += 2;
                        }
                        s[o] = '\0';
                }
                parts[np++] = s;
                if (!e)
                        return np;
                p = e + 1;
        }
fail:
        for (int i = 0; i < np; i++)
                free(parts[i]);
        return -1;
}

/* ---- documents --------------------------------------------------------------- */

static int value_err(struct zetl_err *err, int rc, const struct zetl_batch *b, int c,
                     const char *what)
{
        if (rc == ZETL_EINVAL)
                return zetl_err_set(err, rc, ZETL_ERRC_FATAL, "column \"%s\": %s",
                                    b->schema->cols[c].name, what);
        return zetl_err_set(err, rc, ZETL_ERRC_FATAL, "column \"%s\": %s", b->schema->cols[c].name,
                            zetl_errcode_name(rc));
}

/* A json cell: objects as they are, anything else wrapped as {"value": v}.
 * Line breaks (whitespace outside strings in valid JSON) become spaces so
 * that the document stays on one NDJSON line. */
static int json_cell(struct os_buf *out, const char *p, size_t n)
{
        size_t i = 0, start;
        int rc;

        while (i < n && strchr(" \t\r\n", p[i]) && p[i])
                i++;
        bool obj = i < n && p[i] == '{';
        if (!obj && (rc = os_buf_puts(out, "{\"value\":")))
                return rc;
        start = out->len;
        if ((rc = os_buf_put(out, p, n)))
                return rc;
        for (size_t k = start; k < out->len; k++)
                if (out->p[k] == '\n' || out->p[k] == '\r')
                        out->p[k] = ' ';
        return obj ? 0 : os_buf_put(out, "}", 1);
}

int os_doc_value(struct os_buf *out, const struct zetl_batch *b, int c, uint32_t r,
                 struct zetl_err *err)
{
        enum zetl_type t = b->schema->cols[c].type;
        struct os_buf scratch = { 0 };
        const char *p = NULL;
        size_t n = 0;
        int rc;

        if (zetl_batch_is_null(b, c, r))
                return os_buf_put(out, "null", 4) ? value_err(err, ZETL_ENOMEM, b, c, "") : 0;
        if ((rc = cell_text(b, c, r, &scratch, &p, &n)))
                goto out;
        switch (t) {
        case ZETL_T_BOOL:
        case ZETL_T_INT16:
        case ZETL_T_INT32:
        case ZETL_T_INT64:
                rc = os_buf_put(out, p, n);
                break;
        case ZETL_T_FLOAT32:
        case ZETL_T_FLOAT64:
                rc = (p[0] == 'N' || p[0] == 'I' || (p[0] == '-' && p[1] == 'I'))
                             ? os_json_str(out, p, n)
                             : os_buf_put(out, p, n);
                break;
        case ZETL_T_JSON:
                if (!os_json_valid(p, n)) {
                        rc = value_err(err, ZETL_EINVAL, b, c, "not valid JSON text");
                        goto out;
                }
                rc = json_cell(out, p, n);
                break;
        default:
                rc = os_json_str(out, p, n);
                if (rc == ZETL_EINVAL) {
                        rc = value_err(err, rc, b, c, "not valid UTF-8");
                        goto out;
                }
        }
        if (rc)
                rc = value_err(err, rc, b, c, "");
out:
        os_buf_free(&scratch);
        return rc;
}

int os_doc_build(struct os_buf *out, const struct zetl_batch *b, uint32_t r, int *nunchanged,
                 struct zetl_err *err)
{
        const struct zetl_schema *s = b->schema;
        bool first = true;
        int rc;

        *nunchanged = 0;
        if ((rc = os_buf_put(out, "{", 1)))
                return value_err(err, rc, b, 0, "");
        for (int c = 0; c < s->ncols; c++) {
                if (zetl_batch_is_unchanged(b, c, r)) {
                        (*nunchanged)++;
                        continue;
                }
                if ((!first && (rc = os_buf_put(out, ",", 1))) ||
                    (rc = os_json_str(out, s->cols[c].name, strlen(s->cols[c].name))) ||
                    (rc = os_buf_put(out, ":", 1)))
                        return value_err(err, rc, b, c, "column name is not valid UTF-8");
                if ((rc = os_doc_value(out, b, c, r, err)))
                        return rc;
                first = false;
        }
        if ((rc = os_buf_put(out, "}", 1)))
                return value_err(err, rc, b, 0, "");
        return 0;
}

/* ---- mappings -------------------------------------------------------------------- */

json_t *os_mapping_field(const struct zetl_column *c, enum os_json_mode mode)
{
        switch (c->type) {
        case ZETL_T_BOOL:
                return json_pack("{s:s}", "type", "boolean");
        case ZETL_T_INT16:
                return json_pack("{s:s}", "type", "short");
        case ZETL_T_INT32:
                return json_pack("{s:s}", "type", "integer");
        case ZETL_T_INT64:
                return json_pack("{s:s}", "type", "long");
        case ZETL_T_FLOAT32:
                /* NaN and the infinities arrive as strings: kept in _source,
                 * not indexed, instead of failing the document. */
                return json_pack("{s:s,s:b}", "type", "float", "ignore_malformed", 1);
        case ZETL_T_FLOAT64:
                return json_pack("{s:s,s:b}", "type", "double", "ignore_malformed", 1);
        case ZETL_T_DECIMAL:
                /* Exact text for _source, term queries and sorting by text;
                 * a double sub-field for ranges and aggregations. */
                return json_pack("{s:s,s:{s:{s:s,s:b}}}", "type", "keyword", "fields", "num",
                                 "type", "double", "ignore_malformed", 1);
        case ZETL_T_STRING:
                if (c->key_pos > 0)
                        return json_pack("{s:s}", "type", "keyword");
                return json_pack("{s:s,s:{s:{s:s,s:i}}}", "type", "text", "fields", "keyword",
                                 "type", "keyword", "ignore_above", 256);
        case ZETL_T_BYTES:
                return json_pack("{s:s}", "type", "binary");
        case ZETL_T_DATE:
                return json_pack("{s:s,s:s,s:b}", "type", "date", "format", "strict_date",
                                 "ignore_malformed", 1);
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                return json_pack("{s:s,s:s,s:b}", "type", "date", "format",
                                 "strict_date_optional_time", "ignore_malformed", 1);
        case ZETL_T_TIME:
        case ZETL_T_UUID:
                return json_pack("{s:s}", "type", "keyword");
        case ZETL_T_JSON:
                if (mode == OS_JSON_FLAT)
                        return json_pack("{s:s}", "type", "flat_object");
                return json_pack("{s:s,s:b}", "type", "object", "dynamic", 1);
        default:
                return NULL;
        }
}

json_t *os_mapping(const struct zetl_schema *s, enum os_json_mode mode, uint64_t truncated_at)
{
        json_t *props = json_object(), *cols = json_object(), *keys = json_array();
        char name[ZETL_NAME_MAX * 3], pos[24];
        json_t *m = NULL;

        if (!props || !cols || !keys)
                goto out;
        for (int c = 0; c < s->ncols; c++) {
                json_t *f = os_mapping_field(&s->cols[c], mode);
                if (!f || json_object_set_new(props, s->cols[c].name, f) ||
                    json_object_set_new(cols, s->cols[c].name,
                                        json_string(zetl_type_name(s->cols[c].type))))
                        goto out;
        }
        for (int k = 1; k <= s->nkeys; k++)
                json_array_append_new(keys, json_string(s->cols[zetl_schema_key_col(s, k)].name));
        snprintf(pos, sizeof(pos), "%llu", (unsigned long long)truncated_at);
        /* strict: a field that is not a column is a bug, not something to map. */
        m = json_pack("{s:s,s:O,s:{s:{s:s,s:I,s:O,s:O,s:s}}}", "dynamic", "strict", "properties",
                      props, "_meta", "zetl", "table",
                      zetl_table_id_str(&s->id, name, sizeof(name)), "schema_version",
                      (json_int_t)s->version, "columns", cols, "keys", keys, "truncated_at", pos);
out:
        json_decref(props);
        json_decref(cols);
        json_decref(keys);
        return m;
}

bool os_type_keeps_values(enum zetl_type a, enum zetl_type b)
{
        bool ia = a == ZETL_T_INT16 || a == ZETL_T_INT32 || a == ZETL_T_INT64;
        bool ib = b == ZETL_T_INT16 || b == ZETL_T_INT32 || b == ZETL_T_INT64;

        if (a == b)
                return true;
        /* Integers widen into wider integers; into floats only when exact. */
        if (ia && ib)
                return zetl_type_width(a) <= zetl_type_width(b);
        if (b == ZETL_T_FLOAT64)
                return a == ZETL_T_INT16 || a == ZETL_T_INT32 || a == ZETL_T_FLOAT32;
        if (b == ZETL_T_FLOAT32)
                return a == ZETL_T_INT16;
        return false;
}

/* ---- bulk ------------------------------------------------------------------------- */

int os_bulk_action(struct os_buf *out, enum os_action_kind kind, const char *index, const char *id,
                   uint64_t version)
{
        int rc;

        if ((rc = os_buf_puts(out, kind == OS_ACT_DELETE ? "{\"delete\":{\"_index\":"
                                                         : "{\"index\":{\"_index\":")) ||
            (rc = os_json_str(out, index, strlen(index))) || (rc = os_buf_puts(out, ",\"_id\":")) ||
            (rc = os_json_str(out, id, strlen(id))))
                return rc;
        return os_buf_printf(out, ",\"version\":%llu,\"version_type\":\"external\"}}\n",
                             (unsigned long long)version);
}

enum os_fate os_item_fate(int status, const char *error_type, enum os_action_kind kind)
{
        if (status >= 200 && status < 300)
                return OS_FATE_OK;
        /* The target already holds this version or a newer one. */
        if (status == 409 && error_type &&
            strcmp(error_type, "version_conflict_engine_exception") == 0)
                return OS_FATE_OK;
        /* Deleting what is not there (its tombstone still records the version). */
        if (status == 404 && kind == OS_ACT_DELETE && !error_type)
                return OS_FATE_OK;
        if (status == 429 || status >= 500)
                return OS_FATE_RETRY;
        return OS_FATE_DEAD;
}

/* Bulk responses say "errors": false before the items when all went well:
 * then nothing needs parsing (the usual case, and 5000 items are ~1 MB). */
static bool all_ok(const char *body, size_t len)
{
        size_t n = len < 256 ? len : 256;
        const char *p = memmem(body, n, "\"errors\"", 8);

        if (!p)
                return false;
        p += 8;
        while (p < body + n && (*p == ' ' || *p == ':' || *p == '\n' || *p == '\t'))
                p++;
        return (size_t)(body + n - p) >= 5 && memcmp(p, "false", 5) == 0;
}

int os_bulk_parse(const char *body, size_t len, size_t nitems, const enum os_action_kind *kinds,
                  struct os_item *items, struct zetl_err *err)
{
        json_error_t jerr;
        json_t *o, *arr;
        int rc = 0;

        memset(items, 0, nitems * sizeof(*items));
        if (all_ok(body, len)) {
                for (size_t i = 0; i < nitems; i++)
                        items[i].status = 200;
                return 0;
        }
        o = json_loadb(body, len, 0, &jerr);
        if (!o)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_TRANSIENT,
                                    "bulk response is not JSON: %s", jerr.text);
        arr = json_object_get(o, "items");
        if (!json_is_array(arr) || json_array_size(arr) != nitems) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_TRANSIENT,
                                  "bulk response has %zu items for %zu actions",
                                  json_is_array(arr) ? json_array_size(arr) : 0, nitems);
                goto out;
        }
        for (size_t i = 0; i < nitems; i++) {
                json_t *it = json_array_get(arr, i), *res = NULL, *e;
                const char *key, *etype = NULL;

                if (!json_is_object(it) || json_object_size(it) != 1) {
                        rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_TRANSIENT,
                                          "bulk response item %zu is malformed", i);
                        goto out;
                }
                json_object_foreach(it, key, res)
                {
                        break;
                }
                (void)key;
                items[i].status = (int)json_integer_value(json_object_get(res, "status"));
                e = json_object_get(res, "error");
                if (e) {
                        etype = json_string_value(json_object_get(e, "type"));
                        items[i].error = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
                        if (!etype)
                                etype = "unknown";
                }
                items[i].fate = os_item_fate(items[i].status, etype, kinds[i]);
        }
out:
        json_decref(o);
        if (rc)
                for (size_t i = 0; i < nitems; i++) {
                        free(items[i].error);
                        items[i].error = NULL;
                }
        return rc;
}

const char *os_error_text(const char *body, size_t blen, char *buf, size_t len)
{
        json_t *o = body && blen ? json_loadb(body, blen, 0, NULL) : NULL;
        json_t *e = o ? json_object_get(o, "error") : NULL;

        buf[0] = '\0';
        if (json_is_object(e)) {
                snprintf(buf, len, "%s: %s",
                         json_string_value(json_object_get(e, "type")) ?: "error",
                         json_string_value(json_object_get(e, "reason")) ?: "(no reason)");
        } else if (json_is_string(e)) {
                snprintf(buf, len, "%s", json_string_value(e));
        } else if (body && blen) {
                size_t n = blen < len - 1 ? blen : len - 1;
                for (size_t i = 0; i < n; i++)
                        buf[i] = (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : ' ';
                buf[n] = '\0';
                while (n > 0 && buf[n - 1] == ' ')
                        buf[--n] = '\0';
        }
        json_decref(o);
        return buf;
}
