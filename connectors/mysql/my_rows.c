/*
 * my_rows (see my_rows.h): TABLE_MAP and rows events into batches.
 *
 * A TABLE_MAP is parsed once per table and transaction; from its types and
 * metadata each column gets a "wire" (how its values are laid out in a row
 * image), so walking a row is one switch per value. A value is first measured
 * (value_span: length prefix and length, checked against the end of the
 * event), then written into the batch by the writer of its wire, which also
 * checks that the batch column's logical type can hold it. Skipping a row
 * (for the iterator, or a column a keys-only image does not keep) uses the
 * measuring step alone.
 *
 * Encodings (MySQL's binlog event documentation, the MariaDB knowledge base
 * pages TABLE_MAP_EVENT and ROWS_EVENT_V1, WL#5928/WL#946 for the 5.6
 * temporal formats): integers little-endian; NEWDECIMAL in groups of nine
 * digits per four bytes, big-endian, with the sign in the inverted top bit
 * and every byte inverted for a negative value; TIME2, DATETIME2, TIMESTAMP2
 * big-endian with their fractional part in (fsp + 1) / 2 bytes.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "my_json.h"
#include "my_rows.h"
#include "zetl/value.h"

#define USEC_PER_SEC INT64_C(1000000)

/* How a value is laid out in a row image. */
enum wire {
        W_NONE = 0, /* no decoder: pre-5.0 DECIMAL, NULL type, unknown types */
        W_INT8,
        W_INT16,
        W_INT24,
        W_INT32,
        W_INT64,
        W_FLOAT,
        W_DOUBLE,
        W_DECIMAL,
        W_YEAR,
        W_DATE,
        W_TIME,      /* 3 bytes: [-]HHMMSS as a decimal number */
        W_DATETIME,  /* 8 bytes: YYYYMMDDhhmmss as a decimal number */
        W_TIMESTAMP, /* 4 bytes: seconds */
        W_TIME2,
        W_DATETIME2,
        W_TIMESTAMP2,
        W_VARSTR, /* VARCHAR: 1 or 2 length bytes */
        W_STRING, /* CHAR, BINARY: 1 or 2 length bytes */
        W_BLOB,   /* BLOB, TEXT: pack_len length bytes */
        W_JSON,
        W_GEOMETRY,
        W_ENUM,
        W_SET,
        W_BIT,
};

/* ---- little helpers ----------------------------------------------------- */

static inline uint32_t le16(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static inline uint32_t le24(const uint8_t *p)
{
        return le16(p) | (uint32_t)p[2] << 16;
}

static inline uint32_t le32(const uint8_t *p)
{
        return le24(p) | (uint32_t)p[3] << 24;
}

static inline uint64_t le_n(const uint8_t *p, size_t n)
{
        uint64_t v = 0;

        for (size_t i = n; i-- > 0;)
                v = v << 8 | p[i];
        return v;
}

static inline uint64_t be_n(const uint8_t *p, size_t n)
{
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

static inline bool bit_lsb(const uint8_t *bits, uint32_t i)
{
        return (bits[i >> 3] >> (i & 7)) & 1;
}

static inline bool bit_msb(const uint8_t *bits, uint32_t i)
{
        return (bits[i >> 3] >> (7 - (i & 7))) & 1;
}

/* MySQL's length-encoded ("packed") integer. */
static int rd_packed(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
        const uint8_t *q = *p;
        size_t n;

        if (q >= end)
                return -1;
        switch (q[0]) {
        case 251: /* NULL: never valid where a count is expected */
        case 255:
                return -1;
        case 252:
                n = 2;
                break;
        case 253:
                n = 3;
                break;
        case 254:
                n = 8;
                break;
        default:
                *v = q[0];
                *p = q + 1;
                return 0;
        }
        if ((size_t)(end - q) < 1 + n)
                return -1;
        *v = le_n(q + 1, n);
        *p = q + 1 + n;
        return 0;
}

static const char *const type_names[256] = {
        [MY_T_DECIMAL] = "decimal",
        [MY_T_TINY] = "tiny",
        [MY_T_SHORT] = "short",
        [MY_T_LONG] = "long",
        [MY_T_FLOAT] = "float",
        [MY_T_DOUBLE] = "double",
        [MY_T_NULL] = "null",
        [MY_T_TIMESTAMP] = "timestamp",
        [MY_T_LONGLONG] = "longlong",
        [MY_T_INT24] = "int24",
        [MY_T_DATE] = "date",
        [MY_T_TIME] = "time",
        [MY_T_DATETIME] = "datetime",
        [MY_T_YEAR] = "year",
        [MY_T_NEWDATE] = "newdate",
        [MY_T_VARCHAR] = "varchar",
        [MY_T_BIT] = "bit",
        [MY_T_TIMESTAMP2] = "timestamp2",
        [MY_T_DATETIME2] = "datetime2",
        [MY_T_TIME2] = "time2",
        [MY_T_JSON] = "json",
        [MY_T_NEWDECIMAL] = "newdecimal",
        [MY_T_ENUM] = "enum",
        [MY_T_SET] = "set",
        [MY_T_TINY_BLOB] = "tiny_blob",
        [MY_T_MEDIUM_BLOB] = "medium_blob",
        [MY_T_LONG_BLOB] = "long_blob",
        [MY_T_BLOB] = "blob",
        [MY_T_VAR_STRING] = "var_string",
        [MY_T_STRING] = "string",
        [MY_T_GEOMETRY] = "geometry",
};

const char *my_type_name(uint8_t type)
{
        return type_names[type] ? type_names[type] : "unknown type";
}

/* ---- character sets ------------------------------------------------------ */

enum cs_kind {
        CS_UNKNOWN = 0, /* not sent: strings taken as UTF-8 */
        CS_BINARY,
        CS_UTF8, /* utf8mb4, utf8mb3, ascii: copied */
        CS_LATIN1,
        CS_UCS2,
        CS_UTF16,
        CS_UTF16LE,
        CS_UTF32,
        CS_OTHER, /* known to MySQL, not to zetl */
};

struct cs_info {
        uint8_t kind;
        uint8_t mbmax; /* bytes per character at most */
};

/* Collation id to character set. Ids below 256 are shared by MySQL and
 * MariaDB; 255-323 are MySQL 8's utf8mb4 UCA 9.0.0 collations; MariaDB adds
 * 576-738 (UCA 5.2 variants), 1024 + id for the NO PAD twin of id, and
 * 2048 + 256 * k for its UCA 14.0.0 collations (k: utf8mb3, utf8mb4, ucs2,
 * utf16, utf32). */
static struct cs_info cs_lookup(uint32_t id)
{
        static const struct cs_info uca1400[5] = {
                { CS_UTF8, 3 }, { CS_UTF8, 4 }, { CS_UCS2, 2 }, { CS_UTF16, 4 }, { CS_UTF32, 4 }
        };

        if (id == 0)
                return (struct cs_info){ CS_UNKNOWN, 1 };
        if (id >= 2048 && id < 2048 + 5 * 256)
                return uca1400[(id - 2048) / 256];
        if (id >= 1024 && id < 2048)
                id -= 1024;
        if (id >= 255 && id <= 323)
                return (struct cs_info){ CS_UTF8, 4 };
        if (id >= 576 && id <= 578)
                return (struct cs_info){ CS_UTF8, 3 };
        if (id >= 608 && id <= 610)
                return (struct cs_info){ CS_UTF8, 4 };
        if (id >= 640 && id <= 642)
                return (struct cs_info){ CS_UCS2, 2 };
        if (id >= 672 && id <= 674)
                return (struct cs_info){ CS_UTF16, 4 };
        if (id >= 736 && id <= 738)
                return (struct cs_info){ CS_UTF32, 4 };
        if ((id >= 192 && id <= 215) || id == 223)
                return (struct cs_info){ CS_UTF8, 3 };
        if (id >= 224 && id <= 247)
                return (struct cs_info){ CS_UTF8, 4 };
        if ((id >= 128 && id <= 151) || id == 159)
                return (struct cs_info){ CS_UCS2, 2 };
        if (id >= 101 && id <= 124)
                return (struct cs_info){ CS_UTF16, 4 };
        if (id >= 160 && id <= 183)
                return (struct cs_info){ CS_UTF32, 4 };
        if (id >= 248 && id <= 250) /* MySQL's gb18030 */
                return (struct cs_info){ CS_OTHER, 4 };
        switch (id) {
        case MY_COLLATION_BINARY:
                return (struct cs_info){ CS_BINARY, 1 };
        case 11: /* ascii */
        case 65:
                return (struct cs_info){ CS_UTF8, 1 };
        case 33: /* utf8mb3 */
        case 76:
        case 83:
                return (struct cs_info){ CS_UTF8, 3 };
        case 45: /* utf8mb4 */
        case 46:
                return (struct cs_info){ CS_UTF8, 4 };
        case 5: /* latin1 */
        case 8:
        case 15:
        case 31:
        case 47:
        case 48:
        case 49:
        case 94:
                return (struct cs_info){ CS_LATIN1, 1 };
        case 35: /* ucs2 */
        case 90:
                return (struct cs_info){ CS_UCS2, 2 };
        case 54: /* utf16 */
        case 55:
                return (struct cs_info){ CS_UTF16, 4 };
        case 56: /* utf16le */
        case 62:
                return (struct cs_info){ CS_UTF16LE, 4 };
        case 60: /* utf32 */
        case 61:
                return (struct cs_info){ CS_UTF32, 4 };
        case 12: /* ujis, eucjpms */
        case 91:
        case 97:
        case 98:
                return (struct cs_info){ CS_OTHER, 3 };
        case 1: /* big5, sjis, euckr, gb2312, gbk, cp932 */
        case 84:
        case 13:
        case 88:
        case 19:
        case 85:
        case 24:
        case 86:
        case 28:
        case 87:
        case 95:
        case 96:
                return (struct cs_info){ CS_OTHER, 2 };
        default:
                return (struct cs_info){ CS_OTHER, 1 };
        }
}

/* MySQL's latin1 is Windows-1252; its five holes map to the C1 controls. */
static const uint16_t cp1252_80[32] = {
        0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x008d, 0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
        0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

/* Most UTF-8 bytes n bytes of a character set can become. */
static size_t utf8_bound(enum cs_kind k, size_t n)
{
        switch (k) {
        case CS_LATIN1:
                return n * 3;
        case CS_UCS2:
        case CS_UTF16:
        case CS_UTF16LE:
                return n / 2 * 3;
        default:
                return n;
        }
}

static size_t put_utf8(uint8_t *o, uint32_t cp)
{
        if (cp < 0x80) {
                o[0] = (uint8_t)cp;
                return 1;
        }
        if (cp < 0x800) {
                o[0] = (uint8_t)(0xc0 | cp >> 6);
                o[1] = (uint8_t)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                o[0] = (uint8_t)(0xe0 | cp >> 12);
                o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
                o[2] = (uint8_t)(0x80 | (cp & 0x3f));
                return 3;
        }
        o[0] = (uint8_t)(0xf0 | cp >> 18);
        o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (uint8_t)(0x80 | (cp & 0x3f));
        return 4;
}

/* Transcode s[0..n) to UTF-8 into o (utf8_bound bytes); returns the length
 * written, or -1 for bytes that are not text in that character set. */
static long to_utf8(enum cs_kind k, const uint8_t *s, size_t n, uint8_t *o)
{
        size_t w = 0;

        switch (k) {
        case CS_LATIN1:
                for (size_t i = 0; i < n; i++) {
                        uint32_t c = s[i];
                        w += put_utf8(o + w, c >= 0x80 && c < 0xa0 ? cp1252_80[c - 0x80] : c);
                }
                return (long)w;
        case CS_UCS2:
        case CS_UTF16:
        case CS_UTF16LE:
                if (n % 2)
                        return -1;
                for (size_t i = 0; i < n; i += 2) {
                        uint32_t c = k == CS_UTF16LE ? le16(s + i) : (uint32_t)be_n(s + i, 2);
                        if (k != CS_UCS2 && c >= 0xd800 && c < 0xdc00) {
                                uint32_t lo;
                                if (i + 4 > n)
                                        return -1;
                                lo = k == CS_UTF16LE ? le16(s + i + 2)
                                                     : (uint32_t)be_n(s + i + 2, 2);
                                if (lo < 0xdc00 || lo > 0xdfff)
                                        return -1;
                                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                                i += 2;
                        } else if (c >= 0xd800 && c <= 0xdfff) {
                                return -1;
                        }
                        w += put_utf8(o + w, c);
                }
                return (long)w;
        case CS_UTF32:
                if (n % 4)
                        return -1;
                for (size_t i = 0; i < n; i += 4) {
                        uint32_t c = (uint32_t)be_n(s + i, 4);
                        if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                                return -1;
                        w += put_utf8(o + w, c);
                }
                return (long)w;
        default:
                memcpy(o, s, n);
                return (long)n;
        }
}

/* ---- decimals ------------------------------------------------------------ */

static const uint8_t dig2bytes[10] = { 0, 1, 1, 2, 2, 3, 3, 4, 4, 4 };
static const uint32_t pow10_9[10] = { 1,      10,      100,      1000,      10000,
                                      100000, 1000000, 10000000, 100000000, 1000000000 };

size_t my_decimal_bin_size(int precision, int scale)
{
        if (precision < 1 || precision > 65 || scale < 0 || scale > 30 || scale > precision)
                return 0;
        int intg = precision - scale;
        return (size_t)(intg / 9 * 4 + dig2bytes[intg % 9] + scale / 9 * 4 + dig2bytes[scale % 9]);
}

/* Append one group of `digits` digits read from `bytes` big-endian bytes. */
static int dec_group(const uint8_t **p, int bytes, int digits, char *out, int *n)
{
        uint32_t v = (uint32_t)be_n(*p, (size_t)bytes);

        static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                    "25262728293031323334353637383940414243444546474849"
                                    "50515253545556575859606162636465666768697071727374"
                                    "75767778798081828384858687888990919293949596979899";
        int i = digits - 1;

        *p += bytes;
        if (v >= pow10_9[digits])
                return -1;
        /* Two digits per division: decimals are a fifth of the decoding. */
        for (; i >= 1; i -= 2) {
                memcpy(out + *n + i - 1, pairs + 2 * (v % 100), 2);
                v /= 100;
        }
        if (i == 0)
                out[*n] = (char)('0' + v);
        *n += digits;
        return 0;
}

int my_decimal_to_text(const uint8_t *p, size_t len, int precision, int scale, char *buf)
{
        size_t size = my_decimal_bin_size(precision, scale);
        uint8_t b[40];
        char dig[80];
        int intg = precision - scale, nd = 0, n = 0;

        if (!size || len != size)
                return -1;
        memcpy(b, p, size);
        bool neg = !(b[0] & 0x80);
        b[0] ^= 0x80;
        if (neg)
                for (size_t i = 0; i < size; i++)
                        b[i] = (uint8_t)~b[i];
        const uint8_t *q = b;
        if (intg % 9 && dec_group(&q, dig2bytes[intg % 9], intg % 9, dig, &nd))
                return -1;
        for (int i = 0; i < intg / 9; i++)
                if (dec_group(&q, 4, 9, dig, &nd))
                        return -1;
        for (int i = 0; i < scale / 9; i++)
                if (dec_group(&q, 4, 9, dig, &nd))
                        return -1;
        if (scale % 9 && dec_group(&q, dig2bytes[scale % 9], scale % 9, dig, &nd))
                return -1;

        int lead = 0; /* integer digits to drop: leading zeros, keeping one */
        while (lead < intg - 1 && dig[lead] == '0')
                lead++;
        bool zero = true;
        for (int i = 0; i < nd; i++)
                zero &= dig[i] == '0';
        if (neg && !zero)
                buf[n++] = '-';
        if (intg == 0)
                buf[n++] = '0';
        memcpy(buf + n, dig + lead, (size_t)(intg - lead));
        n += intg - lead;
        if (scale) {
                buf[n++] = '.';
                memcpy(buf + n, dig + intg, (size_t)scale);
                n += scale;
        }
        buf[n] = '\0';
        return n;
}

/* ---- TABLE_MAP ------------------------------------------------------------ */

/* Memory a table map owns: a chain of blocks freed together. */
struct blk {
        struct blk *next;
        max_align_t data[];
};

static void *tm_alloc(struct my_table_map *tm, size_t n)
{
        struct blk *b = calloc(1, sizeof(*b) + n);

        if (!b)
                return NULL;
        b->next = tm->mem;
        tm->mem = b;
        return b->data;
}

void my_table_map_free(struct my_table_map *tm)
{
        struct blk *b = tm ? tm->mem : NULL;

        while (b) {
                struct blk *next = b->next;
                free(b);
                b = next;
        }
        if (tm)
                memset(tm, 0, sizeof(*tm));
}

/* Where the strings and labels of one event are copied: sized from the event
 * length, which bounds them (each has at least a length byte in the event). */
struct pool {
        char *s;
        size_t s_used, s_cap;
        struct my_label *l;
        size_t l_used, l_cap;
};

static char *pool_str(struct pool *pl, const uint8_t *s, size_t n)
{
        char *r;

        if (pl->s_cap - pl->s_used < n + 1)
                return NULL;
        r = pl->s + pl->s_used;
        memcpy(r, s, n);
        r[n] = '\0';
        pl->s_used += n + 1;
        return r;
}

struct tmctx {
        struct my_table_map *tm;
        struct pool pl;
        struct zetl_err *err;
};

static int tm_bad(struct tmctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int tm_bad(struct tmctx *c, const char *fmt, ...)
{
        char why[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        return zetl_err_set(c->err, ZETL_EPROTO, ZETL_ERRC_FATAL, "MySQL TABLE_MAP of %s.%s: %s",
                            c->tm->db ? c->tm->db : "?", c->tm->table ? c->tm->table : "?", why);
}

/* Per-type metadata of the TABLE_MAP: its length and what it says. */
static int col_meta(struct tmctx *c, struct my_col *col, const uint8_t **q, const uint8_t *end)
{
        const uint8_t *m = *q;
        size_t need;

        switch (col->type) {
        case MY_T_FLOAT:
        case MY_T_DOUBLE:
        case MY_T_TINY_BLOB:
        case MY_T_MEDIUM_BLOB:
        case MY_T_LONG_BLOB:
        case MY_T_BLOB:
        case MY_T_GEOMETRY:
        case MY_T_JSON:
        case MY_T_TIME2:
        case MY_T_DATETIME2:
        case MY_T_TIMESTAMP2:
                need = 1;
                break;
        case MY_T_VARCHAR:
        case MY_T_VAR_STRING:
        case MY_T_BIT:
        case MY_T_NEWDECIMAL:
        case MY_T_STRING:
        case MY_T_ENUM:
        case MY_T_SET:
                need = 2;
                break;
        default:
                need = 0;
        }
        if ((size_t)(end - m) < need)
                return tm_bad(c, "metadata block ends before column %d's",
                              (int)(col - c->tm->cols));
        *q = m + need;
        col->real_type = col->type;
        switch (col->type) {
        case MY_T_FLOAT:
        case MY_T_DOUBLE:
        case MY_T_TINY_BLOB:
        case MY_T_MEDIUM_BLOB:
        case MY_T_LONG_BLOB:
        case MY_T_BLOB:
        case MY_T_GEOMETRY:
        case MY_T_JSON:
                col->pack_len = m[0];
                break;
        case MY_T_TIME2:
        case MY_T_DATETIME2:
        case MY_T_TIMESTAMP2:
                col->fsp = m[0];
                break;
        case MY_T_VARCHAR:
        case MY_T_VAR_STRING:
                col->max_len = le16(m);
                break;
        case MY_T_BIT:
                /* bits % 8, then whole bytes */
                col->bits = (uint16_t)(m[1] * 8 + m[0]);
                if (m[0] > 7)
                        return tm_bad(c, "bit metadata %u/%u", m[0], m[1]);
                break;
        case MY_T_NEWDECIMAL:
                col->precision = m[0];
                col->scale = m[1];
                break;
        case MY_T_STRING:
        case MY_T_ENUM:
        case MY_T_SET:
                /* real type, then length; a CHAR longer than 255 bytes keeps
                 * bits 8-9 of its length in the real type's bits 4-5, inverted. */
                if ((m[0] & 0x30) != 0x30) {
                        col->real_type = (uint8_t)(m[0] | 0x30);
                        col->max_len = m[1] | (((uint32_t)(m[0] & 0x30) ^ 0x30) << 4);
                } else {
                        col->real_type = m[0];
                        col->max_len = m[1];
                }
                if (col->real_type == MY_T_ENUM || col->real_type == MY_T_SET) {
                        col->pack_len = m[1];
                        col->max_len = 0;
                } else if (col->real_type != MY_T_STRING) {
                        return tm_bad(c, "string column of real type %u", col->real_type);
                }
                break;
        }
        return 0;
}

static int col_wire_of(struct tmctx *c, struct my_col *col);

static size_t frac_bytes(uint8_t fsp)
{
        return (fsp + 1u) / 2;
}

/* Bytes of a value of a fixed-width wire (0 for length-prefixed ones): the
 * decoder's fast path, set once per TABLE_MAP instead of per value. */
static size_t wire_width(const struct my_col *c)
{
        switch (c->wire) {
        case W_INT8:
        case W_YEAR:
                return 1;
        case W_INT16:
                return 2;
        case W_INT24:
        case W_DATE:
        case W_TIME:
                return 3;
        case W_INT32:
        case W_FLOAT:
        case W_TIMESTAMP:
                return 4;
        case W_INT64:
        case W_DOUBLE:
        case W_DATETIME:
                return 8;
        case W_DECIMAL:
                return my_decimal_bin_size(c->precision, c->scale);
        case W_TIME2:
                return 3 + frac_bytes(c->fsp);
        case W_DATETIME2:
                return 5 + frac_bytes(c->fsp);
        case W_TIMESTAMP2:
                return 4 + frac_bytes(c->fsp);
        case W_ENUM:
        case W_SET:
                return c->pack_len;
        case W_BIT:
                return (c->bits + 7u) / 8;
        default:
                return 0;
        }
}

/* The wire of a column, once its metadata is known; checks the metadata. */
static int col_wire(struct tmctx *c, struct my_col *col)
{
        int rc = col_wire_of(c, col);

        col->width = rc == 0 ? (uint16_t)wire_width(col) : 0;
        return rc;
}

static int col_wire_of(struct tmctx *c, struct my_col *col)
{
        int i = (int)(col - c->tm->cols);

        switch (col->real_type) {
        case MY_T_TINY:
                col->wire = W_INT8;
                break;
        case MY_T_SHORT:
                col->wire = W_INT16;
                break;
        case MY_T_INT24:
                col->wire = W_INT24;
                break;
        case MY_T_LONG:
                col->wire = W_INT32;
                break;
        case MY_T_LONGLONG:
                col->wire = W_INT64;
                break;
        case MY_T_FLOAT:
        case MY_T_DOUBLE:
                if (col->pack_len != (col->type == MY_T_FLOAT ? 4 : 8))
                        return tm_bad(c, "column %d: %s of %u bytes", i, my_type_name(col->type),
                                      col->pack_len);
                col->wire = col->type == MY_T_FLOAT ? W_FLOAT : W_DOUBLE;
                break;
        case MY_T_NEWDECIMAL:
                if (!my_decimal_bin_size(col->precision, col->scale))
                        return tm_bad(c, "column %d: decimal(%u,%u)", i, col->precision,
                                      col->scale);
                col->wire = W_DECIMAL;
                break;
        case MY_T_YEAR:
                col->wire = W_YEAR;
                break;
        case MY_T_DATE:
        case MY_T_NEWDATE:
                col->wire = W_DATE;
                break;
        case MY_T_TIME:
                col->wire = W_TIME;
                break;
        case MY_T_DATETIME:
                col->wire = W_DATETIME;
                break;
        case MY_T_TIMESTAMP:
                col->wire = W_TIMESTAMP;
                break;
        case MY_T_TIME2:
        case MY_T_DATETIME2:
        case MY_T_TIMESTAMP2:
                if (col->fsp > 6)
                        return tm_bad(c, "column %d: %u fractional digits", i, col->fsp);
                col->wire = col->type == MY_T_TIME2       ? W_TIME2
                            : col->type == MY_T_DATETIME2 ? W_DATETIME2
                                                          : W_TIMESTAMP2;
                break;
        case MY_T_VARCHAR:
        case MY_T_VAR_STRING:
                col->wire = W_VARSTR;
                break;
        case MY_T_STRING:
                col->wire = W_STRING;
                break;
        case MY_T_TINY_BLOB:
        case MY_T_MEDIUM_BLOB:
        case MY_T_LONG_BLOB:
        case MY_T_BLOB:
        case MY_T_JSON:
        case MY_T_GEOMETRY:
                if (col->pack_len < 1 || col->pack_len > 4)
                        return tm_bad(c, "column %d: %u length bytes", i, col->pack_len);
                col->wire = col->type == MY_T_JSON       ? W_JSON
                            : col->type == MY_T_GEOMETRY ? W_GEOMETRY
                                                         : W_BLOB;
                break;
        case MY_T_ENUM:
                if (col->pack_len < 1 || col->pack_len > 2)
                        return tm_bad(c, "column %d: enum of %u bytes", i, col->pack_len);
                col->wire = W_ENUM;
                break;
        case MY_T_SET:
                if (col->pack_len < 1 || col->pack_len > 8)
                        return tm_bad(c, "column %d: set of %u bytes", i, col->pack_len);
                col->wire = W_SET;
                break;
        case MY_T_BIT:
                if (col->bits < 1 || col->bits > 64)
                        return tm_bad(c, "column %d: bit(%u)", i, col->bits);
                col->wire = W_BIT;
                break;
        default:
                col->wire = W_NONE;
        }
        return 0;
}

/* Which columns each optional metadata list covers (they differ by server:
 * MariaDB counts YEAR as numeric and GEOMETRY as a character column). */
static bool is_numeric(const struct my_col *c, enum my_flavor f)
{
        switch (c->real_type) {
        case MY_T_TINY:
        case MY_T_SHORT:
        case MY_T_INT24:
        case MY_T_LONG:
        case MY_T_LONGLONG:
        case MY_T_NEWDECIMAL:
        case MY_T_FLOAT:
        case MY_T_DOUBLE:
                return true;
        case MY_T_YEAR:
        case MY_T_DECIMAL:
                return f == MY_FLAVOR_MARIADB;
        default:
                return false;
        }
}

static bool is_charcol(const struct my_col *c, enum my_flavor f)
{
        switch (c->real_type) {
        case MY_T_STRING:
        case MY_T_VAR_STRING:
        case MY_T_VARCHAR:
        case MY_T_TINY_BLOB:
        case MY_T_MEDIUM_BLOB:
        case MY_T_LONG_BLOB:
        case MY_T_BLOB:
                return true;
        case MY_T_GEOMETRY:
                return f == MY_FLAVOR_MARIADB;
        default:
                return false;
        }
}

static bool is_enumset(const struct my_col *c, enum my_flavor f)
{
        (void)f;
        return c->real_type == MY_T_ENUM || c->real_type == MY_T_SET;
}

/* The next column after *i (starting from -1) that pred selects, or -1. */
static int next_col(const struct my_table_map *tm, int i,
                    bool (*pred)(const struct my_col *, enum my_flavor))
{
        for (i++; i < tm->ncols; i++)
                if (pred(&tm->cols[i], tm->flavor))
                        return i;
        return -1;
}

/* DEFAULT_CHARSET (a default, then pairs of index among the selected columns
 * and collation) or COLUMN_CHARSET (one collation per selected column). */
static int opt_charsets(struct tmctx *c, const uint8_t *v, const uint8_t *ve, bool with_default,
                        bool enumset)
{
        struct my_table_map *tm = c->tm;
        bool (*pred)(const struct my_col *, enum my_flavor) = enumset ? is_enumset : is_charcol;
        uint64_t x, idx;

        if (with_default) {
                if (rd_packed(&v, ve, &x) || x > UINT32_MAX)
                        return tm_bad(c, "default charset");
                for (int i = next_col(tm, -1, pred); i >= 0; i = next_col(tm, i, pred))
                        *(enumset ? &tm->cols[i].label_collation : &tm->cols[i].collation) =
                                (uint32_t)x;
                while (v < ve) {
                        int i = -1;
                        if (rd_packed(&v, ve, &idx) || rd_packed(&v, ve, &x) || x > UINT32_MAX)
                                return tm_bad(c, "charset pair");
                        for (i = next_col(tm, -1, pred); i >= 0 && idx > 0; idx--)
                                i = next_col(tm, i, pred);
                        if (i < 0)
                                return tm_bad(c, "charset of a column that is not there");
                        *(enumset ? &tm->cols[i].label_collation : &tm->cols[i].collation) =
                                (uint32_t)x;
                }
                return 0;
        }
        for (int i = next_col(tm, -1, pred); i >= 0; i = next_col(tm, i, pred)) {
                if (rd_packed(&v, ve, &x) || x > UINT32_MAX)
                        return tm_bad(c, "column charsets end early");
                *(enumset ? &tm->cols[i].label_collation : &tm->cols[i].collation) = (uint32_t)x;
        }
        return v == ve ? 0 : tm_bad(c, "more column charsets than columns");
}

static bool is_enum(const struct my_col *c, enum my_flavor f)
{
        (void)f;
        return c->real_type == MY_T_ENUM;
}

static bool is_set(const struct my_col *c, enum my_flavor f)
{
        (void)f;
        return c->real_type == MY_T_SET;
}

static bool is_geometry(const struct my_col *c, enum my_flavor f)
{
        (void)f;
        return c->real_type == MY_T_GEOMETRY;
}

static int opt_labels(struct tmctx *c, const uint8_t *v, const uint8_t *ve, bool set)
{
        struct my_table_map *tm = c->tm;
        bool (*pred)(const struct my_col *, enum my_flavor) = set ? is_set : is_enum;
        uint64_t n, len;

        for (int i = next_col(tm, -1, pred); i >= 0; i = next_col(tm, i, pred)) {
                struct my_col *col = &tm->cols[i];
                if (rd_packed(&v, ve, &n) || n > (uint64_t)(ve - v) || n > INT32_MAX)
                        return tm_bad(c, "label count of column %d", i);
                if (c->pl.l_cap - c->pl.l_used < n)
                        return tm_bad(c, "more labels than the event holds");
                col->labels = c->pl.l + c->pl.l_used;
                c->pl.l_used += n;
                col->nlabels = (int)n;
                for (uint64_t k = 0; k < n; k++) {
                        if (rd_packed(&v, ve, &len) || len > (uint64_t)(ve - v))
                                return tm_bad(c, "label %" PRIu64 " of column %d", k, i);
                        col->labels[k].s = pool_str(&c->pl, v, (size_t)len);
                        col->labels[k].len = (uint32_t)len;
                        if (!col->labels[k].s)
                                return tm_bad(c, "labels larger than the event");
                        v += len;
                }
        }
        return v == ve ? 0 : tm_bad(c, "labels of more columns than there are");
}

static int opt_key(struct tmctx *c, const uint8_t *v, const uint8_t *ve, bool prefix)
{
        struct my_table_map *tm = c->tm;
        uint64_t idx, plen = 0;

        while (v < ve) {
                if (rd_packed(&v, ve, &idx) || (prefix && rd_packed(&v, ve, &plen)))
                        return tm_bad(c, "primary key list");
                if (idx >= (uint64_t)tm->ncols || tm->cols[idx].key_pos || plen > UINT32_MAX)
                        return tm_bad(c, "primary key column %" PRIu64, idx);
                tm->cols[idx].key_pos = ++tm->nkeys;
                tm->cols[idx].key_prefix = (uint32_t)plen;
        }
        tm->has_key = true;
        return 0;
}

/* The optional metadata: type, packed length, value; unknown types skipped. */
static int opt_meta(struct tmctx *c, const uint8_t *q, const uint8_t *end)
{
        struct my_table_map *tm = c->tm;
        uint64_t len, x;
        int rc = 0;

        while (q < end && rc == 0) {
                uint8_t t = *q++;
                if (rd_packed(&q, end, &len) || len > (uint64_t)(end - q))
                        return tm_bad(c, "optional metadata field %u runs past the event", t);
                const uint8_t *v = q, *ve = q + len;
                q = ve;
                switch (t) {
                case 1: { /* SIGNEDNESS: numeric columns, most significant bit first */
                        uint32_t k = 0;
                        for (int i = next_col(tm, -1, is_numeric); i >= 0;
                             i = next_col(tm, i, is_numeric), k++) {
                                if (k / 8 >= len)
                                        return tm_bad(c, "signedness bitmap too short");
                                tm->cols[i].is_unsigned = bit_msb(v, k);
                        }
                        tm->has_signedness = true;
                        break;
                }
                case 2: /* DEFAULT_CHARSET */
                case 3: /* COLUMN_CHARSET */
                        rc = opt_charsets(c, v, ve, t == 2, false);
                        tm->has_charsets = true;
                        break;
                case 4: /* COLUMN_NAME */
                        for (int i = 0; i < tm->ncols; i++) {
                                if (rd_packed(&v, ve, &x) || x > (uint64_t)(ve - v))
                                        return tm_bad(c, "name of column %d", i);
                                if (!(tm->cols[i].name = pool_str(&c->pl, v, (size_t)x)))
                                        return tm_bad(c, "names larger than the event");
                                v += x;
                        }
                        tm->has_names = true;
                        break;
                case 5: /* SET_STR_VALUE */
                case 6: /* ENUM_STR_VALUE */
                        rc = opt_labels(c, v, ve, t == 5);
                        tm->has_labels = true;
                        break;
                case 7: /* GEOMETRY_TYPE */
                        for (int i = next_col(tm, -1, is_geometry); i >= 0;
                             i = next_col(tm, i, is_geometry)) {
                                if (rd_packed(&v, ve, &x) || x > UINT32_MAX)
                                        return tm_bad(c, "geometry type of column %d", i);
                                tm->cols[i].geometry_type = (uint32_t)x;
                        }
                        break;
                case 8: /* SIMPLE_PRIMARY_KEY */
                case 9: /* PRIMARY_KEY_WITH_PREFIX */
                        rc = opt_key(c, v, ve, t == 9);
                        break;
                case 10: /* ENUM_AND_SET_DEFAULT_CHARSET */
                case 11: /* ENUM_AND_SET_COLUMN_CHARSET */
                        rc = opt_charsets(c, v, ve, t == 10, true);
                        break;
                case 12: /* COLUMN_VISIBILITY: every column, most significant bit first */
                        if (len < ((size_t)tm->ncols + 7) / 8)
                                return tm_bad(c, "visibility bitmap too short");
                        for (int i = 0; i < tm->ncols; i++)
                                tm->cols[i].visible = bit_msb(v, (uint32_t)i);
                        tm->has_visibility = true;
                        break;
                default:
                        break;
                }
        }
        return rc;
}

/* The MySQL type as a person writes it, for zetl_column.source_type. */
static void type_text(const struct my_col *c, char *buf, size_t n)
{
        static const char *const blobs[2][5] = {
                { "blob", "tinyblob", "blob", "mediumblob", "longblob" },
                { "text", "tinytext", "text", "mediumtext", "longtext" },
        };
        static const char *const geoms[8] = { "geometry",     "point",
                                              "linestring",   "polygon",
                                              "multipoint",   "multilinestring",
                                              "multipolygon", "geometrycollection" };
        struct cs_info cs = cs_lookup(c->collation);
        bool bin = cs.kind == CS_BINARY;
        const char *u = c->is_unsigned ? " unsigned" : "";

        switch (c->real_type) {
        case MY_T_TINY:
                snprintf(buf, n, "tinyint%s", u);
                break;
        case MY_T_SHORT:
                snprintf(buf, n, "smallint%s", u);
                break;
        case MY_T_INT24:
                snprintf(buf, n, "mediumint%s", u);
                break;
        case MY_T_LONG:
                snprintf(buf, n, "int%s", u);
                break;
        case MY_T_LONGLONG:
                snprintf(buf, n, "bigint%s", u);
                break;
        case MY_T_FLOAT:
                snprintf(buf, n, "float%s", u);
                break;
        case MY_T_DOUBLE:
                snprintf(buf, n, "double%s", u);
                break;
        case MY_T_NEWDECIMAL:
                snprintf(buf, n, "decimal(%u,%u)%s", c->precision, c->scale, u);
                break;
        case MY_T_TIME2:
                snprintf(buf, n, c->fsp ? "time(%u)" : "time", c->fsp);
                break;
        case MY_T_DATETIME2:
                snprintf(buf, n, c->fsp ? "datetime(%u)" : "datetime", c->fsp);
                break;
        case MY_T_TIMESTAMP2:
                snprintf(buf, n, c->fsp ? "timestamp(%u)" : "timestamp", c->fsp);
                break;
        case MY_T_VARCHAR:
        case MY_T_VAR_STRING:
        case MY_T_STRING: {
                const char *base = c->real_type == MY_T_STRING ? (bin ? "binary" : "char")
                                                               : (bin ? "varbinary" : "varchar");
                if (cs.kind == CS_UNKNOWN)
                        snprintf(buf, n, "%s", base);
                else
                        snprintf(buf, n, "%s(%u)", base, c->max_len / cs.mbmax);
                break;
        }
        case MY_T_TINY_BLOB:
        case MY_T_MEDIUM_BLOB:
        case MY_T_LONG_BLOB:
        case MY_T_BLOB:
                snprintf(buf, n, "%s", blobs[!bin && cs.kind != CS_UNKNOWN][c->pack_len % 5]);
                break;
        case MY_T_GEOMETRY:
                snprintf(buf, n, "%s", geoms[c->geometry_type < 8 ? c->geometry_type : 0]);
                break;
        case MY_T_BIT:
                snprintf(buf, n, "bit(%u)", c->bits);
                break;
        case MY_T_NEWDATE:
                snprintf(buf, n, "date");
                break;
        default:
                snprintf(buf, n, "%s", my_type_name(c->real_type));
        }
}

static int read_name(struct tmctx *c, const uint8_t **q, const uint8_t *end, char **out)
{
        const uint8_t *p = *q;

        if (p >= end || (size_t)(end - p) < (size_t)p[0] + 2 || p[1 + p[0]] != 0)
                return -1;
        *out = pool_str(&c->pl, p + 1, p[0]);
        *q = p + p[0] + 2;
        return *out ? 0 : -1;
}

int my_table_map_parse(const uint8_t *p, size_t len, const struct my_rows_fmt *fmt,
                       struct my_table_map *out, struct zetl_err *err)
{
        struct tmctx c = { .tm = out, .err = err };
        const uint8_t *q = p, *end = p + len;
        size_t idlen = fmt && fmt->table_id_len == 4 ? 4 : 6;
        uint64_t ncols, metalen;
        int rc;

        memset(out, 0, sizeof(*out));
        out->flavor = fmt ? fmt->flavor : MY_FLAVOR_MARIADB;
        /* Every string and label has a length byte in the event, so 2 * len
         * bytes hold their copies and len entries their labels. */
        c.pl.s_cap = 2 * len + 2;
        c.pl.l_cap = len;
        c.pl.s = tm_alloc(out, c.pl.s_cap);
        c.pl.l = tm_alloc(out, c.pl.l_cap * sizeof(struct my_label));
        if (!c.pl.s || !c.pl.l)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        if (len < idlen + 2)
                return tm_bad(&c, "%zu bytes", len);
        out->table_id = le_n(q, idlen);
        out->flags = (uint16_t)le16(q + idlen);
        q += idlen + 2;
        if (read_name(&c, &q, end, &out->db) || read_name(&c, &q, end, &out->table))
                return tm_bad(&c, "database or table name runs past the event");
        /* MySQL and MariaDB allow 4096 columns; the cap keeps counts in an int. */
        if (rd_packed(&q, end, &ncols) || ncols > (uint64_t)(end - q) || ncols > 65535)
                return tm_bad(&c, "column count runs past the event");
        out->ncols = (int)ncols;
        const uint8_t *types = q;
        q += ncols;
        if (rd_packed(&q, end, &metalen) || metalen > (uint64_t)(end - q))
                return tm_bad(&c, "metadata block runs past the event");
        const uint8_t *meta = q, *meta_end = q + metalen;
        q = meta_end;
        if ((size_t)(end - q) < (ncols + 7) / 8)
                return tm_bad(&c, "null bitmap runs past the event");
        const uint8_t *nulls = q;
        q += (ncols + 7) / 8;

        out->cols = tm_alloc(out, (ncols ? ncols : 1) * sizeof(struct my_col));
        if (!out->cols)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        for (int i = 0; i < out->ncols; i++) {
                struct my_col *col = &out->cols[i];
                col->type = types[i];
                col->nullable = bit_lsb(nulls, (uint32_t)i);
                col->visible = true;
                col->nlabels = -1;
                if ((rc = col_meta(&c, col, &meta, meta_end)))
                        return rc;
        }
        if (meta != meta_end)
                return tm_bad(&c, "%zu metadata bytes left over", (size_t)(meta_end - meta));
        for (int i = 0; i < out->ncols; i++)
                if ((rc = col_wire(&c, &out->cols[i])))
                        return rc;
        if ((rc = opt_meta(&c, q, end)))
                return rc;
        for (int i = 0; i < out->ncols; i++)
                type_text(&out->cols[i], out->cols[i].type_text, sizeof(out->cols[i].type_text));
        return 0;
}

static char *tm_strdup(struct my_table_map *tm, const char *s, size_t n)
{
        char *r = tm_alloc(tm, n + 1);

        if (r) {
                memcpy(r, s, n);
                r[n] = '\0';
        }
        return r;
}

int my_table_map_set_col(struct my_table_map *tm, int col, const struct my_col_info *info,
                         struct zetl_err *err)
{
        if (col < 0 || col >= tm->ncols)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "table %s.%s has no column %d", tm->db, tm->table, col);
        struct my_col *c = &tm->cols[col];

        if (info->name && !(c->name = tm_strdup(tm, info->name, strlen(info->name))))
                goto nomem;
        if (info->is_unsigned >= 0)
                c->is_unsigned = info->is_unsigned != 0;
        if (info->collation)
                c->collation = info->collation;
        if (info->key_pos >= 0)
                c->key_pos = info->key_pos;
        if (info->labels) {
                if (info->nlabels < 0)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "label count %d",
                                            info->nlabels);
                c->labels = tm_alloc(tm, ((size_t)info->nlabels + 1) * sizeof(struct my_label));
                if (!c->labels)
                        goto nomem;
                for (int k = 0; k < info->nlabels; k++) {
                        size_t n = strlen(info->labels[k]);
                        if (!(c->labels[k].s = tm_strdup(tm, info->labels[k], n)))
                                goto nomem;
                        c->labels[k].len = (uint32_t)n;
                }
                c->nlabels = info->nlabels;
                c->label_collation = 0; /* UTF-8 from information_schema */
        }
        tm->nkeys = 0;
        for (int i = 0; i < tm->ncols; i++)
                tm->nkeys += tm->cols[i].key_pos > 0;
        type_text(c, c->type_text, sizeof(c->type_text));
        return 0;
nomem:
        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
}

/* ---- logical types ---------------------------------------------------------- */

int my_column_map(const struct my_table_map *tm, int col, struct zetl_column *out,
                  struct zetl_err *err)
{
        if (col < 0 || col >= tm->ncols)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "table %s.%s has no column %d", tm->db, tm->table, col);
        const struct my_col *c = &tm->cols[col];
        struct cs_info cs = cs_lookup(c->collation);

        memset(out, 0, sizeof(*out));
        out->name = c->name;
        out->nullable = c->nullable;
        out->key_pos = c->key_pos;
        out->source_type = (char *)c->type_text;
        switch (c->wire) {
        case W_INT8:
        case W_YEAR:
                out->type = ZETL_T_INT16;
                break;
        case W_INT16:
                out->type = c->is_unsigned ? ZETL_T_INT32 : ZETL_T_INT16;
                break;
        case W_INT24:
                out->type = ZETL_T_INT32;
                break;
        case W_INT32:
                out->type = c->is_unsigned ? ZETL_T_INT64 : ZETL_T_INT32;
                break;
        case W_INT64:
                if (c->is_unsigned) {
                        out->type = ZETL_T_DECIMAL;
                        out->precision = 20;
                } else {
                        out->type = ZETL_T_INT64;
                }
                break;
        case W_FLOAT:
                out->type = ZETL_T_FLOAT32;
                break;
        case W_DOUBLE:
                out->type = ZETL_T_FLOAT64;
                break;
        case W_DECIMAL:
                out->type = ZETL_T_DECIMAL;
                out->precision = c->precision;
                out->scale = c->scale;
                break;
        case W_DATE:
                out->type = ZETL_T_DATE;
                break;
        case W_TIME:
        case W_TIME2:
                out->type = ZETL_T_TIME;
                out->precision = c->fsp;
                break;
        case W_DATETIME:
        case W_DATETIME2:
                out->type = ZETL_T_TIMESTAMP;
                out->precision = c->fsp;
                break;
        case W_TIMESTAMP:
        case W_TIMESTAMP2:
                out->type = ZETL_T_TIMESTAMPTZ;
                out->precision = c->fsp;
                break;
        case W_VARSTR:
        case W_STRING:
        case W_BLOB:
                if (cs.kind == CS_OTHER)
                        return zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_CONFIG,
                                            "column %s.%s.%s: character set of collation %u "
                                            "cannot be converted to UTF-8 (publish it as bytes, "
                                            "or convert the column to utf8mb4)",
                                            tm->db, tm->table, c->name ? c->name : "?",
                                            c->collation);
                if (cs.kind == CS_BINARY || (c->wire == W_BLOB && cs.kind == CS_UNKNOWN)) {
                        out->type = ZETL_T_BYTES;
                } else {
                        out->type = ZETL_T_STRING;
                        if (c->wire != W_BLOB && cs.kind != CS_UNKNOWN)
                                out->precision = (int32_t)(c->max_len / cs.mbmax);
                }
                break;
        case W_JSON:
                out->type = ZETL_T_JSON;
                break;
        case W_GEOMETRY:
                out->type = ZETL_T_BYTES;
                break;
        case W_ENUM:
        case W_SET:
                out->type = ZETL_T_STRING;
                break;
        case W_BIT:
                out->type = c->bits < 64 ? ZETL_T_INT64 : ZETL_T_BYTES;
                break;
        default:
                return zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_CONFIG,
                                    "column %s.%s.%s: MySQL type %s is not supported", tm->db,
                                    tm->table, c->name ? c->name : "?", my_type_name(c->type));
        }
        return 0;
}

/* ---- rows events ----------------------------------------------------------- */

void my_rows_fmt_init(struct my_rows_fmt *f, enum my_flavor flavor, const uint8_t *post_header_len,
                      size_t n)
{
        f->flavor = flavor;
        /* A 6-byte TABLE_MAP post-header holds a 4-byte table id (MySQL < 5.1.4). */
        f->table_id_len =
                post_header_len && n >= MY_EV_TABLE_MAP && post_header_len[MY_EV_TABLE_MAP - 1] == 6
                        ? 4
                        : 6;
}

static int rows_bad(struct zetl_err *err, uint8_t type, const char *why)
{
        return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL, "MySQL rows event (type %u): %s",
                            type, why);
}

int my_rows_parse(const uint8_t *p, size_t len, uint8_t type, const struct my_rows_fmt *fmt,
                  struct my_rows_event *out, struct zetl_err *err)
{
        const uint8_t *q = p, *end = p + len;
        size_t idlen = fmt && fmt->table_id_len == 4 ? 4 : 6;
        uint64_t ncols;

        memset(out, 0, sizeof(*out));
        out->type = type;
        switch (type) {
        case MY_EV_WRITE_ROWS_V1:
        case MY_EV_UPDATE_ROWS_V1:
        case MY_EV_DELETE_ROWS_V1:
                out->version = 1;
                out->op = (enum zetl_op)(ZETL_OP_INSERT + (type - MY_EV_WRITE_ROWS_V1));
                break;
        case MY_EV_WRITE_ROWS_V2:
        case MY_EV_UPDATE_ROWS_V2:
        case MY_EV_DELETE_ROWS_V2:
                out->version = 2;
                out->op = (enum zetl_op)(ZETL_OP_INSERT + (type - MY_EV_WRITE_ROWS_V2));
                break;
        case MY_EV_PARTIAL_UPDATE_ROWS:
                return zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_CONFIG,
                                    "MySQL partial JSON updates are not supported: set "
                                    "binlog_row_value_options to ''");
        default:
                return zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_FATAL,
                                    "binlog event type %u is not a rows event zetl reads", type);
        }
        if (len < idlen + 2)
                return rows_bad(err, type, "header runs past the event");
        out->table_id = le_n(q, idlen);
        out->flags = (uint16_t)le16(q + idlen);
        q += idlen + 2;
        if (out->version == 2) {
                /* The extra data length counts its own two bytes. */
                if (end - q < 2 || le16(q) < 2 || le16(q) > (size_t)(end - q))
                        return rows_bad(err, type, "extra data runs past the event");
                out->extra_len = le16(q) - 2;
                out->extra = q + 2;
                q += le16(q);
        }
        if (rd_packed(&q, end, &ncols) || ncols > (uint64_t)(end - q) * 8)
                return rows_bad(err, type, "column count runs past the event");
        size_t nb = (size_t)(ncols + 7) / 8;
        size_t nbm = out->op == ZETL_OP_UPDATE ? 2 : 1;
        if ((size_t)(end - q) < nb * nbm)
                return rows_bad(err, type, "column bitmaps run past the event");
        out->ncols = (uint32_t)ncols;
        if (out->op == ZETL_OP_INSERT) {
                out->cols_after = q;
        } else {
                out->cols_before = q;
                if (out->op == ZETL_OP_UPDATE)
                        out->cols_after = q + nb;
        }
        q += nb * nbm;
        out->rows = out->cur = q;
        out->end = end;
        return 0;
}

/* ---- row images --------------------------------------------------------------- */

struct dctx {
        struct zetl_batch *b;
        const struct my_table_map *tm;
        struct zetl_err *err;
};

static int col_fail(const struct my_table_map *tm, int ci, struct zetl_err *err, int code,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* One message for every value failure: "MySQL db.table column c (type): why". */
static int col_fail(const struct my_table_map *tm, int ci, struct zetl_err *err, int code,
                    const char *fmt, ...)
{
        char why[256], num[16];
        const struct my_col *c = &tm->cols[ci];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        snprintf(num, sizeof(num), "#%d", ci + 1);
        return zetl_err_set(err, code, ZETL_ERRC_FATAL, "MySQL %s.%s column %s (%s): %s", tm->db,
                            tm->table, c->name ? c->name : num, c->type_text, why);
}

/* Bytes of the fractional part of TIME2/DATETIME2/TIMESTAMP2. */

/* Where the value at p lies: hdr length bytes, then len value bytes. */
static int value_span(const struct my_table_map *tm, int ci, const uint8_t *p, const uint8_t *end,
                      size_t *hdr, size_t *len, struct zetl_err *err)
{
        const struct my_col *c = &tm->cols[ci];
        size_t avail = (size_t)(end - p), h = 0, n;

        if (c->width) {
                if (c->width > avail)
                        goto past;
                *hdr = 0;
                *len = c->width;
                return 0;
        }
        switch (c->wire) {
        case W_INT8:
        case W_YEAR:
                n = 1;
                break;
        case W_INT16:
                n = 2;
                break;
        case W_INT24:
        case W_DATE:
        case W_TIME:
                n = 3;
                break;
        case W_INT32:
        case W_FLOAT:
        case W_TIMESTAMP:
                n = 4;
                break;
        case W_INT64:
        case W_DOUBLE:
        case W_DATETIME:
                n = 8;
                break;
        case W_DECIMAL:
                n = my_decimal_bin_size(c->precision, c->scale);
                break;
        case W_TIME2:
                n = 3 + frac_bytes(c->fsp);
                break;
        case W_DATETIME2:
                n = 5 + frac_bytes(c->fsp);
                break;
        case W_TIMESTAMP2:
                n = 4 + frac_bytes(c->fsp);
                break;
        case W_ENUM:
        case W_SET:
                n = c->pack_len;
                break;
        case W_BIT:
                n = (c->bits + 7u) / 8;
                break;
        case W_VARSTR:
        case W_STRING:
                h = c->max_len > 255 ? 2 : 1;
                if (avail < h)
                        goto past;
                n = h == 2 ? le16(p) : p[0];
                break;
        case W_BLOB:
        case W_JSON:
        case W_GEOMETRY:
                h = c->pack_len;
                if (avail < h)
                        goto past;
                n = (size_t)le_n(p, h);
                break;
        default:
                return col_fail(tm, ci, err, ZETL_EUNSUPPORTED, "type %s has no decoder",
                                my_type_name(c->type));
        }
        if (n > avail - h)
                goto past;
        *hdr = h;
        *len = n;
        return 0;
past:
        return col_fail(tm, ci, err, ZETL_EPROTO, "value runs past the event");
}

static int type_mismatch(struct dctx *d, int ci)
{
        return col_fail(d->tm, ci, d->err, ZETL_EINVAL, "cannot be stored as %s",
                        zetl_type_name(d->b->schema->cols[ci].type));
}

static int set_text(struct dctx *d, int ci, const char *s, size_t n)
{
        return zetl_batch_set_var(d->b, ci, s, n, d->err);
}

/* Decimal digits of v, at least `width` of them (zero-padded); returns the
 * count. snprintf costs more than the rest of a row's decoding. */
static size_t put_digits(char *buf, uint64_t v, size_t width)
{
        char tmp[24];
        size_t n = 0;

        do {
                tmp[n++] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        while (n < width)
                tmp[n++] = '0';
        for (size_t i = 0; i < n; i++)
                buf[i] = tmp[n - 1 - i];
        return n;
}

/* An integer into an int16/32/64 or decimal column, refusing what does not fit. */
static int put_int(struct dctx *d, int ci, bool neg, uint64_t mag)
{
        enum zetl_type t = d->b->schema->cols[ci].type;
        char buf[32];
        uint64_t lim;

        switch (t) {
        case ZETL_T_INT16:
                lim = INT16_MAX;
                break;
        case ZETL_T_INT32:
                lim = INT32_MAX;
                break;
        case ZETL_T_INT64:
                lim = INT64_MAX;
                break;
        case ZETL_T_DECIMAL:
        case ZETL_T_STRING: {
                size_t n = 0;
                if (neg && mag)
                        buf[n++] = '-';
                n += put_digits(buf + n, mag, 1);
                return set_text(d, ci, buf, n);
        }
        default:
                return type_mismatch(d, ci);
        }
        if (mag > lim + neg)
                return col_fail(d->tm, ci, d->err, ZETL_EUNSUPPORTED,
                                "%s%" PRIu64 " does not fit %s", neg ? "-" : "", mag,
                                zetl_type_name(t));
        int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        if (t == ZETL_T_INT16)
                zetl_batch_set_i16(d->b, ci, (int16_t)v);
        else if (t == ZETL_T_INT32)
                zetl_batch_set_i32(d->b, ci, (int32_t)v);
        else
                zetl_batch_set_i64(d->b, ci, v);
        return 0;
}

static int put_integer(struct dctx *d, int ci, const struct my_col *c, const uint8_t *v, size_t n)
{
        uint64_t u = le_n(v, n);

        if (c->wire == W_YEAR)
                return put_int(d, ci, false, u ? u + 1900 : 0);
        if (!c->is_unsigned && n < 8 && (u >> (8 * n - 1)) & 1)
                u |= ~UINT64_C(0) << (8 * n); /* sign-extend */
        if (!c->is_unsigned && (int64_t)u < 0)
                return put_int(d, ci, true, 0 - u);
        return put_int(d, ci, false, u);
}

static int put_float(struct dctx *d, int ci, const struct my_col *c, const uint8_t *v)
{
        enum zetl_type t = d->b->schema->cols[ci].type;

        if (c->wire == W_FLOAT) {
                uint32_t bits = le32(v);
                float f;
                memcpy(&f, &bits, sizeof(f));
                if (t == ZETL_T_FLOAT32)
                        zetl_batch_set_f32(d->b, ci, f);
                else if (t == ZETL_T_FLOAT64)
                        zetl_batch_set_f64(d->b, ci, f);
                else
                        return type_mismatch(d, ci);
                return 0;
        }
        uint64_t bits = le_n(v, 8);
        double x;
        memcpy(&x, &bits, sizeof(x));
        if (t != ZETL_T_FLOAT64)
                return type_mismatch(d, ci);
        zetl_batch_set_f64(d->b, ci, x);
        return 0;
}

static int put_decimal(struct dctx *d, int ci, const struct my_col *c, const uint8_t *v, size_t n)
{
        enum zetl_type t = d->b->schema->cols[ci].type;
        char buf[MY_DECIMAL_TEXT_MAX];
        int len;

        if (t != ZETL_T_DECIMAL && t != ZETL_T_STRING)
                return type_mismatch(d, ci);
        if ((len = my_decimal_to_text(v, n, c->precision, c->scale, buf)) < 0)
                return col_fail(d->tm, ci, d->err, ZETL_EPROTO, "malformed decimal");
        return set_text(d, ci, buf, (size_t)len);
}

/* Fractional part of TIME2/DATETIME2/TIMESTAMP2 in µs: hundredths in one
 * byte, ten-thousandths in two, µs in three. */
static int64_t frac_usec(uint64_t f, uint8_t fsp)
{
        return fsp <= 2 ? (int64_t)f * 10000 : fsp <= 4 ? (int64_t)f * 100 : (int64_t)f;
}

static bool civil_valid(int64_t y, int m, int dd)
{
        static const uint8_t mdays[13] = { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        return m >= 1 && m <= 12 && dd >= 1 && dd <= mdays[m] && (m != 2 || dd < 29 || leap);
}

static int put_date(struct dctx *d, int ci, const uint8_t *v)
{
        uint32_t x = le24(v);
        int64_t y = x >> 9;
        int m = (x >> 5) & 15, dd = x & 31;

        if (d->b->schema->cols[ci].type != ZETL_T_DATE)
                return type_mismatch(d, ci);
        if (y > 9999)
                return col_fail(d->tm, ci, d->err, ZETL_EPROTO, "year %" PRId64, y);
        if (!civil_valid(y, m, dd)) {
                zetl_batch_set_null(d->b, ci); /* zero or invalid date: see my_rows.h */
                return 0;
        }
        zetl_batch_set_i32(d->b, ci, (int32_t)zetl_civil_to_days(y, m, dd));
        return 0;
}

/* A TIME value: into a time column when within a day, else a string. */
static int put_time(struct dctx *d, int ci, const struct my_col *c, bool neg, uint64_t h,
                    unsigned mi, unsigned s, int64_t usec)
{
        enum zetl_type t = d->b->schema->cols[ci].type;
        int64_t total = (int64_t)((h * 60 + mi) * 60 + s) * USEC_PER_SEC + usec;

        if (mi > 59 || s > 59 || usec > 999999 || h > 1023)
                return col_fail(d->tm, ci, d->err, ZETL_EPROTO, "time %" PRIu64 ":%u:%u", h, mi, s);
        if (t == ZETL_T_STRING) {
                /* MySQL's text: [-]HH:MM:SS[.fraction of fsp digits] */
                char buf[48], f[8];
                size_t n = 0;
                if (neg && total)
                        buf[n++] = '-';
                n += put_digits(buf + n, h, 2);
                buf[n++] = ':';
                n += put_digits(buf + n, mi, 2);
                buf[n++] = ':';
                n += put_digits(buf + n, s, 2);
                if (c->fsp) {
                        put_digits(f, (uint64_t)usec, 6);
                        buf[n++] = '.';
                        memcpy(buf + n, f, c->fsp);
                        n += c->fsp;
                }
                return set_text(d, ci, buf, n);
        }
        if (t != ZETL_T_TIME)
                return type_mismatch(d, ci);
        if ((neg && total) || total > ZETL_USEC_PER_DAY)
                return col_fail(d->tm, ci, d->err, ZETL_EUNSUPPORTED,
                                "%s%02" PRIu64 ":%02u:%02u is outside a day: publish the column "
                                "as string",
                                neg ? "-" : "", h, mi, s);
        zetl_batch_set_i64(d->b, ci, total);
        return 0;
}

static int put_time_value(struct dctx *d, int ci, const struct my_col *c, const uint8_t *v)
{
        if (c->wire == W_TIME) {
                /* [-]HHMMSS as a signed 3-byte number */
                int32_t x = (int32_t)(le24(v) << 8) >> 8;
                uint32_t a = (uint32_t)(x < 0 ? -x : x);
                return put_time(d, ci, c, x < 0, a / 10000, a / 100 % 100, a % 100, 0);
        }
        /* TIME2: big-endian, offset by half the range: ±(hms << k | fraction),
         * 1 bit sign, 1 spare, 10 bits hour, 6 minute, 6 second. */
        size_t fb = frac_bytes(c->fsp);
        int64_t x = (int64_t)be_n(v, 3 + fb) - (INT64_C(1) << (8 * (3 + fb) - 1));
        bool neg = x < 0;
        uint64_t a = (uint64_t)(neg ? -x : x);
        uint64_t hms = a >> (8 * fb);
        int64_t usec = frac_usec(a & ((UINT64_C(1) << (8 * fb)) - 1), c->fsp);
        return put_time(d, ci, c, neg, (hms >> 12) & 0x3ff, (hms >> 6) & 63, hms & 63, usec);
}

static int put_datetime(struct dctx *d, int ci, int64_t y, int mo, int dd, unsigned h, unsigned mi,
                        unsigned s, int64_t usec)
{
        if (d->b->schema->cols[ci].type != ZETL_T_TIMESTAMP)
                return type_mismatch(d, ci);
        if (h > 23 || mi > 59 || s > 59 || usec > 999999 || y > 9999 || mo > 12)
                return col_fail(d->tm, ci, d->err, ZETL_EPROTO,
                                "datetime %" PRId64 "-%d-%d %u:%u:%u", y, mo, dd, h, mi, s);
        if (!civil_valid(y, mo, dd)) {
                zetl_batch_set_null(d->b, ci); /* zero or invalid date: see my_rows.h */
                return 0;
        }
        int64_t days = zetl_civil_to_days(y, mo, dd);
        zetl_batch_set_i64(d->b, ci,
                           days * ZETL_USEC_PER_DAY +
                                   (int64_t)((h * 60 + mi) * 60 + s) * USEC_PER_SEC + usec);
        return 0;
}

static int put_datetime_value(struct dctx *d, int ci, const struct my_col *c, const uint8_t *v)
{
        if (c->wire == W_DATETIME) {
                uint64_t x = le_n(v, 8); /* YYYYMMDDhhmmss */
                return put_datetime(d, ci, (int64_t)(x / 10000000000), (int)(x / 100000000 % 100),
                                    (int)(x / 1000000 % 100), (unsigned)(x / 10000 % 100),
                                    (unsigned)(x / 100 % 100), (unsigned)(x % 100), 0);
        }
        /* DATETIME2: 40 bits big-endian, offset by 2^39: sign, 17 bits
         * year * 13 + month, 5 day, 5 hour, 6 minute, 6 second. */
        int64_t x = (int64_t)be_n(v, 5) - (INT64_C(1) << 39);
        if (x < 0)
                return col_fail(d->tm, ci, d->err, ZETL_EPROTO, "negative datetime");
        uint64_t ymd = (uint64_t)x >> 17, ym = ymd >> 5, hms = (uint64_t)x & 0x1ffff;
        int64_t usec = frac_usec(be_n(v + 5, frac_bytes(c->fsp)), c->fsp);
        return put_datetime(d, ci, (int64_t)(ym / 13), (int)(ym % 13), (int)(ymd & 31),
                            (unsigned)(hms >> 12), (unsigned)((hms >> 6) & 63),
                            (unsigned)(hms & 63), usec);
}

static int put_timestamp_value(struct dctx *d, int ci, const struct my_col *c, const uint8_t *v)
{
        uint64_t sec;
        int64_t usec = 0;

        if (d->b->schema->cols[ci].type != ZETL_T_TIMESTAMPTZ)
                return type_mismatch(d, ci);
        if (c->wire == W_TIMESTAMP) {
                sec = le32(v);
        } else {
                sec = be_n(v, 4);
                usec = frac_usec(be_n(v + 4, frac_bytes(c->fsp)), c->fsp);
        }
        if (usec > 999999)
                return col_fail(d->tm, ci, d->err, ZETL_EPROTO, "fraction %" PRId64, usec);
        if (sec == 0 && usec == 0) {
                zetl_batch_set_null(d->b, ci); /* the zero TIMESTAMP: see my_rows.h */
                return 0;
        }
        zetl_batch_set_i64(d->b, ci, (int64_t)sec * USEC_PER_SEC + usec);
        return 0;
}

/* Text in character set cs into a string cell, transcoded to UTF-8. */
static int put_transcoded(struct dctx *d, int ci, uint32_t collation, const uint8_t *v, size_t n)
{
        enum cs_kind k = (enum cs_kind)cs_lookup(collation).kind;
        uint8_t *dst;
        long w;

        if (k == CS_UTF8 || k == CS_UNKNOWN || k == CS_BINARY)
                return zetl_batch_set_var(d->b, ci, v, n, d->err);
        if (k == CS_OTHER)
                return col_fail(d->tm, ci, d->err, ZETL_EUNSUPPORTED,
                                "collation %u cannot be converted to UTF-8", collation);
        if (!(dst = zetl_batch_var_reserve(d->b, ci, utf8_bound(k, n), d->err)))
                return d->err ? d->err->code : ZETL_ENOMEM;
        if ((w = to_utf8(k, v, n, dst)) < 0)
                return col_fail(d->tm, ci, d->err, ZETL_EPROTO, "invalid text in collation %u",
                                collation);
        zetl_batch_var_commit(d->b, ci, (size_t)w);
        return 0;
}

static int put_bytes(struct dctx *d, int ci, const struct my_col *c, const uint8_t *v, size_t n)
{
        /* BINARY(n) is stored without its trailing 0x00 padding: put it back. */
        size_t full = c->wire == W_STRING && c->max_len > n ? c->max_len : n;
        uint8_t *dst = zetl_batch_var_reserve(d->b, ci, full, d->err);

        if (!dst)
                return d->err ? d->err->code : ZETL_ENOMEM;
        memcpy(dst, v, n);
        memset(dst + n, 0, full - n);
        zetl_batch_var_commit(d->b, ci, full);
        return 0;
}

static int put_string(struct dctx *d, int ci, const struct my_col *c, const uint8_t *v, size_t n)
{
        switch (d->b->schema->cols[ci].type) {
        case ZETL_T_STRING:
                return put_transcoded(d, ci, c->collation, v, n);
        case ZETL_T_JSON:
                return zetl_batch_set_var(d->b, ci, v, n, d->err);
        case ZETL_T_BYTES:
                if (c->wire == W_STRING && cs_lookup(c->collation).kind == CS_BINARY)
                        return put_bytes(d, ci, c, v, n);
                return zetl_batch_set_var(d->b, ci, v, n, d->err);
        default:
                return type_mismatch(d, ci);
        }
}

static int put_json(struct dctx *d, int ci, const uint8_t *v, size_t n)
{
        enum zetl_type t = d->b->schema->cols[ci].type;
        size_t len;
        int rc;

        if (t != ZETL_T_JSON && t != ZETL_T_STRING)
                return type_mismatch(d, ci);
        if (d->tm->flavor != MY_FLAVOR_MYSQL)
                return zetl_batch_set_var(d->b, ci, v, n, d->err);
        if ((rc = my_json_to_text(v, n, NULL, 0, &len, d->err))) {
                if (d->err)
                        zetl_err_prefix(d->err, "%s.%s column #%d: ", d->tm->db, d->tm->table,
                                        ci + 1);
                return rc;
        }
        uint8_t *dst = zetl_batch_var_reserve(d->b, ci, len, d->err);
        if (!dst)
                return d->err ? d->err->code : ZETL_ENOMEM;
        if ((rc = my_json_to_text(v, n, (char *)dst, len, &len, d->err)))
                return rc;
        zetl_batch_var_commit(d->b, ci, len);
        return 0;
}

static int put_geometry(struct dctx *d, int ci, const uint8_t *v, size_t n)
{
        if (d->b->schema->cols[ci].type != ZETL_T_BYTES)
                return type_mismatch(d, ci);
        if (n < 4)
                return col_fail(d->tm, ci, d->err, ZETL_EPROTO, "geometry of %zu bytes", n);
        return zetl_batch_set_var(d->b, ci, v + 4, n - 4, d->err); /* drop the SRID */
}

/* ENUM: its label; SET: the labels of its bits joined by ','. */
static int put_enumset(struct dctx *d, int ci, const struct my_col *c, const uint8_t *v, size_t n)
{
        uint64_t x = le_n(v, n);
        enum cs_kind k = (enum cs_kind)cs_lookup(c->label_collation).kind;
        size_t total = 0;

        if (d->b->schema->cols[ci].type != ZETL_T_STRING)
                return type_mismatch(d, ci);
        if (c->nlabels < 0)
                return col_fail(d->tm, ci, d->err, ZETL_EUNSUPPORTED,
                                "labels unknown: set binlog_row_metadata=FULL");
        if (k == CS_OTHER)
                return col_fail(d->tm, ci, d->err, ZETL_EUNSUPPORTED,
                                "labels in collation %u cannot be converted to UTF-8",
                                c->label_collation);
        if (c->wire == W_ENUM) {
                if (x > (uint64_t)c->nlabels)
                        return col_fail(d->tm, ci, d->err, ZETL_EPROTO, "enum index %" PRIu64, x);
                if (x == 0)
                        return zetl_batch_set_var(d->b, ci, "", 0, d->err);
                return put_transcoded(d, ci, c->label_collation,
                                      (const uint8_t *)c->labels[x - 1].s, c->labels[x - 1].len);
        }
        if (c->nlabels < 64 && x >> c->nlabels)
                return col_fail(d->tm, ci, d->err, ZETL_EPROTO, "set bits 0x%" PRIx64, x);
        for (int i = 0; i < c->nlabels && i < 64; i++)
                if ((x >> i) & 1)
                        total += utf8_bound(k, c->labels[i].len) + 1;
        uint8_t *dst = zetl_batch_var_reserve(d->b, ci, total, d->err), *o = dst;
        if (!dst)
                return d->err ? d->err->code : ZETL_ENOMEM;
        for (int i = 0; i < c->nlabels && i < 64; i++) {
                if (!((x >> i) & 1))
                        continue;
                if (o != dst)
                        *o++ = ',';
                long w = to_utf8(k, (const uint8_t *)c->labels[i].s, c->labels[i].len, o);
                if (w < 0)
                        return col_fail(d->tm, ci, d->err, ZETL_EPROTO, "invalid label text");
                o += w;
        }
        zetl_batch_var_commit(d->b, ci, (size_t)(o - dst));
        return 0;
}

static int put_bit(struct dctx *d, int ci, const struct my_col *c, const uint8_t *v, size_t n)
{
        enum zetl_type t = d->b->schema->cols[ci].type;
        uint64_t x = be_n(v, n);

        if (t == ZETL_T_BYTES)
                return zetl_batch_set_var(d->b, ci, v, n, d->err);
        if (t != ZETL_T_INT64)
                return type_mismatch(d, ci);
        if (c->bits < 64 && x >> c->bits)
                return col_fail(d->tm, ci, d->err, ZETL_EPROTO, "bits past bit(%u)", c->bits);
        if (x > INT64_MAX)
                return col_fail(d->tm, ci, d->err, ZETL_EUNSUPPORTED,
                                "0x%" PRIx64 " does not fit int64: publish the column as bytes", x);
        zetl_batch_set_i64(d->b, ci, (int64_t)x);
        return 0;
}

static int put_value(struct dctx *d, int ci, const uint8_t *v, size_t n)
{
        const struct my_col *c = &d->tm->cols[ci];

        switch (c->wire) {
        case W_INT8:
        case W_INT16:
        case W_INT24:
        case W_INT32:
        case W_INT64:
        case W_YEAR:
                return put_integer(d, ci, c, v, n);
        case W_FLOAT:
        case W_DOUBLE:
                return put_float(d, ci, c, v);
        case W_DECIMAL:
                return put_decimal(d, ci, c, v, n);
        case W_DATE:
                return put_date(d, ci, v);
        case W_TIME:
        case W_TIME2:
                return put_time_value(d, ci, c, v);
        case W_DATETIME:
        case W_DATETIME2:
                return put_datetime_value(d, ci, c, v);
        case W_TIMESTAMP:
        case W_TIMESTAMP2:
                return put_timestamp_value(d, ci, c, v);
        case W_VARSTR:
        case W_STRING:
        case W_BLOB:
                if (c->wire != W_BLOB && n > c->max_len)
                        return col_fail(d->tm, ci, d->err, ZETL_EPROTO,
                                        "%zu bytes, longer than the column's %u", n, c->max_len);
                return put_string(d, ci, c, v, n);
        case W_JSON:
                return put_json(d, ci, v, n);
        case W_GEOMETRY:
                return put_geometry(d, ci, v, n);
        case W_ENUM:
        case W_SET:
                return put_enumset(d, ci, c, v, n);
        case W_BIT:
                return put_bit(d, ci, c, v, n);
        default:
                return col_fail(d->tm, ci, d->err, ZETL_EUNSUPPORTED, "no decoder");
        }
}

/* Bits set in a byte (without -mpopcnt, __builtin_popcount is a libgcc call). */
static uint32_t bits8(uint8_t v)
{
        static const uint8_t nibble[16] = { 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4 };

        return nibble[v & 15] + nibble[v >> 4];
}

static uint32_t count_present(const uint8_t *cols, uint32_t n)
{
        uint32_t k = 0;

        for (uint32_t i = 0; i < n / 8; i++)
                k += bits8(cols[i]);
        if (n % 8)
                k += bits8((uint8_t)(cols[n / 8] & ((1u << (n % 8)) - 1)));
        return k;
}

/* Walk one image; decode into d->b when d->b is set. */
static int walk_row(struct dctx *d, const uint8_t *cols, const uint8_t **pp, const uint8_t *end,
                    bool keys_only)
{
        const struct my_table_map *tm = d->tm;
        const uint8_t *p = *pp;
        uint32_t n = (uint32_t)tm->ncols, k = 0;
        size_t nb = (count_present(cols, n) + 7) / 8, hdr = 0, len = 0;
        int rc;

        if ((size_t)(end - p) < nb)
                return zetl_err_set(d->err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "MySQL %s.%s: row image runs past the event", tm->db,
                                    tm->table);
        const uint8_t *nulls = p;
        p += nb;
        for (uint32_t i = 0; i < n; i++) {
                int ci = (int)i;
                bool keep = d->b && (!keys_only || d->b->schema->cols[ci].key_pos > 0);

                if (!bit_lsb(cols, i)) {
                        if (d->b && (rc = zetl_batch_set_unchanged(d->b, ci, d->err)))
                                return rc;
                        continue;
                }
                if (bit_lsb(nulls, k++)) {
                        if (keep)
                                zetl_batch_set_null(d->b, ci);
                        else if (d->b && (rc = zetl_batch_set_unchanged(d->b, ci, d->err)))
                                return rc;
                        continue;
                }
                if ((rc = value_span(tm, ci, p, end, &hdr, &len, d->err)))
                        return rc;
                if (keep)
                        rc = put_value(d, ci, p + hdr, len);
                else if (d->b)
                        rc = zetl_batch_set_unchanged(d->b, ci, d->err);
                if (rc)
                        return rc;
                p += hdr + len;
        }
        *pp = p;
        return 0;
}

int my_decode_row(struct zetl_batch *b, const struct my_table_map *tm, const uint8_t *cols,
                  const uint8_t **p, const uint8_t *end, bool keys_only, struct zetl_err *err)
{
        struct dctx d = { .b = b, .tm = tm, .err = err };

        if (b->schema->ncols != tm->ncols)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "MySQL %s.%s: %d columns in the TABLE_MAP, %d in the schema",
                                    tm->db, tm->table, tm->ncols, b->schema->ncols);
        return walk_row(&d, cols, p, end, keys_only);
}

int my_row_skip(const struct my_table_map *tm, const uint8_t *cols, const uint8_t **p,
                const uint8_t *end, struct zetl_err *err)
{
        struct dctx d = { .tm = tm, .err = err };

        return walk_row(&d, cols, p, end, false);
}

static int next_image(struct my_rows_event *ev, const struct my_table_map *tm, const uint8_t *cols,
                      struct my_row_image *img, struct zetl_err *err)
{
        const uint8_t *p = ev->cur;
        int rc;

        if ((rc = my_row_skip(tm, cols, &p, ev->end, err)))
                return rc;
        img->p = ev->cur;
        img->len = (size_t)(p - ev->cur);
        img->cols = cols;
        ev->cur = p;
        return 0;
}

int my_rows_more(const struct my_rows_event *ev, const struct my_table_map *tm,
                 struct zetl_err *err)
{
        if (ev->cur >= ev->end)
                return 0;
        if (ev->table_id != tm->table_id || ev->ncols != (uint32_t)tm->ncols)
                return zetl_err_set(
                        err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                        "MySQL rows event for table %" PRIu64 " with %u columns "
                        "does not match the TABLE_MAP of %s.%s (table %" PRIu64 ", %d columns)",
                        ev->table_id, ev->ncols, tm->db, tm->table, tm->table_id, tm->ncols);
        return 1;
}

int my_rows_advance(struct my_rows_event *ev, const uint8_t *p, struct zetl_err *err)
{
        /* A row that takes no bytes (no column present) would never end the
         * event (found by fuzz_my_rows): a real row image has a null bitmap
         * of at least a byte over at least one column. */
        if (p <= ev->cur || p > ev->end)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "MySQL rows event has an empty row image");
        ev->cur = p;
        return 0;
}

int my_rows_next(struct my_rows_event *ev, const struct my_table_map *tm,
                 struct my_row_image *before, struct my_row_image *after, struct zetl_err *err)
{
        int rc;

        memset(before, 0, sizeof(*before));
        memset(after, 0, sizeof(*after));
        if ((rc = my_rows_more(ev, tm, err)) != 1)
                return rc;
        const uint8_t *start = ev->cur;
        if (ev->cols_before && (rc = next_image(ev, tm, ev->cols_before, before, err)))
                return rc;
        if (ev->cols_after && (rc = next_image(ev, tm, ev->cols_after, after, err)))
                return rc;
        if (ev->cur == start)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "MySQL rows event for %s.%s has an empty row image", tm->db,
                                    tm->table);
        return 1;
}
