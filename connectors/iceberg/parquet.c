/*
 * zetl's Parquet writer (see parquet.h), written from parquet-format's
 * parquet.thrift, Encodings.md and LogicalTypes.md, and the Iceberg spec's
 * Parquet type mapping and Appendix D (single-value serialization).
 *
 * Shape of a file: "PAR1", then per row group one column chunk per column
 * (an optional dictionary page, then data pages v1), then the FileMetaData
 * footer (Thrift compact), its 4-byte length and "PAR1".
 *
 * Encoding choice, per column chunk, decided while writing (no second pass):
 * a chunk starts in dictionary mode (booleans never do). When its first data
 * page is complete we compare dictionary + indices with the PLAIN size of the
 * same values; if the dictionary does not win, that page is re-encoded PLAIN
 * from the dictionary's entries, the dictionary is dropped, and the rest of
 * the chunk is PLAIN. If the dictionary later outgrows dict_max_bytes, the
 * page being built is finished with dictionary indices and the chunk goes on
 * PLAIN (as parquet-mr does): such a chunk lists both encodings.
 *
 * Statistics: chunk min/max in the Parquet sort order of the logical type
 * (signed integers and decimals, IEEE floats without NaN, unsigned bytewise
 * for strings, binary and uuids); in dictionary mode only new dictionary
 * entries are compared, which keeps the per-value cost to the hash lookup.
 * The same chunk extremes are folded into the file's Iceberg bounds.
 */
#include "parquet.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "pq_enc.h"
#include "thrift.h"

#ifndef ZETL_VERSION
#define ZETL_VERSION "unknown"
#endif

/* parquet.thrift enums. */
enum {
        PT_BOOLEAN = 0,
        PT_INT32 = 1,
        PT_INT64 = 2,
        PT_FLOAT = 4,
        PT_DOUBLE = 5,
        PT_BYTE_ARRAY = 6,
        PT_FLBA = 7,
};
enum {
        CT_NONE = -1,
        CT_UTF8 = 0,
        CT_DECIMAL = 5,
        CT_DATE = 6,
        CT_TIME_MICROS = 8,
        CT_TS_MICROS = 10
};
enum { ENC_PLAIN = 0, ENC_RLE = 3, ENC_RLE_DICTIONARY = 8 };
enum { PAGE_DATA = 0, PAGE_DICTIONARY = 2 };
enum { CODEC_UNCOMPRESSED = 0, CODEC_ZSTD = 6 };
enum { REP_REQUIRED = 0, REP_OPTIONAL = 1 };
/* LogicalType union members. */
enum { LT_STRING = 1, LT_DECIMAL = 5, LT_DATE = 6, LT_TIME = 7, LT_TIMESTAMP = 8, LT_UUID = 14 };

#define DEFAULT_ROW_GROUP_BYTES ((size_t)128 << 20)
#define DEFAULT_PAGE_BYTES      ((size_t)1 << 20)
#define DEFAULT_DICT_BYTES      ((size_t)1 << 20)
/* Rows per page at most, so the per-page level and index arrays stay small
 * even for a column of booleans or a one-value dictionary. */
#define PAGE_MAX_ROWS 65536
/* Rows appended to every column before the row group's size is checked. */
#define SLICE_ROWS 4096
/* Parquet statistics for longer byte values are left out rather than truncated. */
#define STAT_MAX_BYTES 256
/* Iceberg truncates string and binary bounds to 16 characters/bytes. */
#define ICE_TRUNC 16

/* How a column's values are read from a batch: one loop per kind. */
enum kind { K_BOOL, K_I32, K_I64, K_F32, K_F64, K_DEC, K_VAR, K_UUID };

/* Extremes of a set of values, in the column's own domain. */
struct extremes {
        bool has;
        int64_t imin, imax;       /* ints, bools, dates, times, timestamps */
        double dmin, dmax;        /* floats, NaN excluded */
        __int128 qmin, qmax;      /* decimals (unscaled) */
        struct pq_buf bmin, bmax; /* strings, binary, uuid */
};

/* What the footer needs of one column chunk. */
struct chunk_meta {
        int64_t num_values;
        int64_t null_count;
        int64_t uncompressed; /* page headers included */
        int64_t compressed;
        int64_t data_page_offset;
        int64_t dict_page_offset; /* -1: none */
        bool enc_plain, enc_dict;
        uint8_t *min, *max; /* encoded Parquet statistics, NULL when none */
        uint8_t min_len, max_len;
        int64_t nulls;
};

struct col {
        struct pq_column c; /* name owned */
        enum kind kind;
        int phys;
        int type_len;  /* FIXED_LEN_BYTE_ARRAY width */
        int precision; /* decimal, after defaulting */
        bool dict_ok;  /* the type may use a dictionary at all */

        /* The page being built. */
        uint8_t *def; /* definition level per row (optional columns) */
        uint32_t *idx;
        struct pq_buf plain; /* PLAIN values (bit-packed for booleans) */
        uint32_t page_rows, page_vals;
        size_t page_plain; /* PLAIN size of the page's values */

        /* The chunk being built. */
        bool dict_mode;
        struct pq_dict dict;
        struct pq_buf pages; /* finished data pages: header + (compressed) body */
        int dict_pages, plain_pages;
        int64_t chunk_rows, chunk_nulls, chunk_uncomp;
        struct extremes st;

        /* The file so far. */
        struct extremes file_st;
        int64_t file_nulls, file_nans, file_bytes;
        struct chunk_meta *metas; /* one per row group */
};

struct pq_writer {
        int fd;
        struct pq_options o;
        char *iceberg_schema;
        int ncols;
        struct col *cols;
        uint64_t offset; /* bytes written to fd */
        int64_t rows;    /* all rows */
        int64_t rg_rows; /* rows of the row group being built */
        int nrg, rg_cap;
        struct rg_meta {
                int64_t rows, offset, uncompressed, compressed;
        } * rgs;
        struct pq_buf body; /* scratch: a page's uncompressed body */
        struct pq_buf comp; /* scratch: compressed body */
        struct thrift_buf th;
        ZSTD_CCtx *zctx;
        int failed; /* sticky error code */
        struct zetl_err ferr;
};

/* ---- small helpers -------------------------------------------------------- */

static int fail(struct pq_writer *w, struct zetl_err *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Record the first error in the writer (every later call returns it) and in err. */
static int fail(struct pq_writer *w, struct zetl_err *err, int code, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        zetl_err_vset(&w->ferr, code, code == ZETL_EIO ? ZETL_ERRC_TRANSIENT : ZETL_ERRC_FATAL, fmt,
                      ap);
        va_end(ap);
        w->failed = code;
        if (err)
                *err = w->ferr;
        return code;
}

static int fail_mem(struct pq_writer *w, struct zetl_err *err, int rc, const char *what)
{
        if (rc == ZETL_ELIMIT)
                return fail(w, err, rc, "parquet: %s exceeds 2 GiB", what);
        return fail(w, err, rc, "parquet: out of memory (%s)", what);
}

static void le32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
}

static void le64(uint8_t *p, uint64_t v)
{
        le32(p, (uint32_t)v);
        le32(p + 4, (uint32_t)(v >> 32));
}

/* Big-endian two's complement of v in n bytes (n <= 16). */
static void be_int128(uint8_t *p, __int128 v, int n)
{
        unsigned __int128 u = (unsigned __int128)v;
        int i;

        for (i = n - 1; i >= 0; i--) {
                p[i] = (uint8_t)u;
                u >>= 8;
        }
}

/* Fewest bytes holding v as big-endian two's complement (Java's
 * BigInteger.toByteArray, which Iceberg uses for decimal bounds). */
static int min_be_bytes(__int128 v)
{
        int n;

        for (n = 1; n < 16; n++) {
                __int128 lim = (__int128)1 << (8 * n - 1);
                if (v >= -lim && v < lim)
                        break;
        }
        return n;
}

static unsigned __int128 pow10_u128(int k)
{
        unsigned __int128 r = 1;

        while (k-- > 0)
                r *= 10;
        return r;
}

/* Bytes of a FIXED_LEN_BYTE_ARRAY decimal of precision p: the fewest n with
 * 10^p - 1 <= 2^(8n-1) - 1. */
static int decimal_flba_bytes(int p)
{
        unsigned __int128 need = pow10_u128(p);
        int n;

        for (n = 1; n < 16; n++)
                if (need <= (unsigned __int128)1 << (8 * n - 1))
                        break;
        return n;
}

static int write_all(struct pq_writer *w, const void *p, size_t n, struct zetl_err *err)
{
        const uint8_t *q = p;

        while (n > 0) {
                ssize_t k = write(w->fd, q, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return fail(w, err, ZETL_EIO, "parquet: write: %s", strerror(errno));
                }
                q += k;
                n -= (size_t)k;
                w->offset += (uint64_t)k;
        }
        return 0;
}

/* ---- decimals --------------------------------------------------------------- */

int pq_decimal_parse(const char *s, size_t len, int precision, int scale, __int128 *out,
                     struct zetl_err *err)
{
        unsigned __int128 acc = 0, lim;
        size_t i = 0;
        bool neg = false, digits = false;
        int frac = 0;

        if (precision < 1 || precision > 38 || scale < 0 || scale > precision)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "parquet: bad decimal(%d,%d)", precision, scale);
        /* acc * 10 + d stays below 10^p exactly when acc < 10^(p-1). */
        lim = pow10_u128(precision - 1);
        if (i < len && (s[i] == '-' || s[i] == '+'))
                neg = s[i++] == '-';
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
                digits = true;
                if (acc >= lim)
                        goto too_big;
                acc = acc * 10 + (unsigned)(s[i] - '0');
        }
        if (i < len && s[i] == '.') {
                for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
                        digits = true;
                        if (frac == scale) {
                                if (s[i] != '0')
                                        return zetl_err_set(
                                                err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                                "parquet: decimal value '%.*s' has more than %d "
                                                "fractional digits (decimal(%d,%d)); not rounded",
                                                (int)(len > 64 ? 64 : len), s, scale, precision,
                                                scale);
                                continue;
                        }
                        if (acc >= lim)
                                goto too_big;
                        acc = acc * 10 + (unsigned)(s[i] - '0');
                        frac++;
                }
        }
        if (!digits || i != len)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "parquet: '%.*s' is not a finite decimal for decimal(%d,%d)",
                                    (int)(len > 64 ? 64 : len), s, precision, scale);
        for (; frac < scale; frac++) {
                if (acc >= lim)
                        goto too_big;
                acc *= 10;
        }
        *out = neg ? -(__int128)acc : (__int128)acc;
        return 0;
too_big:
        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                            "parquet: decimal value '%.*s' does not fit decimal(%d,%d)",
                            (int)(len > 64 ? 64 : len), s, precision, scale);
}

/* ---- opening ---------------------------------------------------------------- */

static int setup_col(struct col *c, const struct pq_column *in, struct zetl_err *err)
{
        c->c = *in;
        c->c.name = NULL;
        c->type_len = 0;
        c->dict_ok = true;
        switch (in->type) {
        case ZETL_T_BOOL:
                c->kind = K_BOOL;
                c->phys = PT_BOOLEAN;
                c->dict_ok = false;
                break;
        case ZETL_T_INT16:
        case ZETL_T_INT32:
        case ZETL_T_DATE:
                c->kind = K_I32;
                c->phys = PT_INT32;
                break;
        case ZETL_T_INT64:
        case ZETL_T_TIME:
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                c->kind = K_I64;
                c->phys = PT_INT64;
                break;
        case ZETL_T_FLOAT32:
                c->kind = K_F32;
                c->phys = PT_FLOAT;
                break;
        case ZETL_T_FLOAT64:
                c->kind = K_F64;
                c->phys = PT_DOUBLE;
                break;
        case ZETL_T_DECIMAL:
                c->kind = K_DEC;
                c->precision = in->precision ? in->precision : 38;
                if (c->precision < 1 || c->precision > 38 || in->scale < 0 ||
                    in->scale > c->precision)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                            "parquet: column %s: decimal(%d,%d) cannot be written "
                                            "(precision 1..38, scale 0..precision)",
                                            in->name, in->precision, in->scale);
                if (c->precision <= 9) {
                        c->phys = PT_INT32;
                } else if (c->precision <= 18) {
                        c->phys = PT_INT64;
                } else {
                        c->phys = PT_FLBA;
                        c->type_len = decimal_flba_bytes(c->precision);
                }
                break;
        case ZETL_T_STRING:
        case ZETL_T_JSON:
        case ZETL_T_BYTES:
                c->kind = K_VAR;
                c->phys = PT_BYTE_ARRAY;
                break;
        case ZETL_T_UUID:
                c->kind = K_UUID;
                c->phys = PT_FLBA;
                c->type_len = 16;
                break;
        default:
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "parquet: column %s: unknown type %d", in->name, (int)in->type);
        }
        if (in->required && in->batch_col < 0)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "parquet: required column %s has no batch column", in->name);
        c->c.name = strdup(in->name ? in->name : "");
        if (!c->c.name)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "parquet: out of memory");
        c->def = malloc(PAGE_MAX_ROWS);
        c->idx = malloc(PAGE_MAX_ROWS * sizeof(*c->idx));
        if (!c->def || !c->idx)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "parquet: out of memory");
        pq_dict_init(&c->dict, c->phys == PT_BYTE_ARRAY                     ? 0
                               : c->phys == PT_FLBA                         ? (size_t)c->type_len
                               : c->phys == PT_INT32 || c->phys == PT_FLOAT ? 4
                                                                            : 8);
        return 0;
}

int pq_writer_open(int fd, const struct pq_column *cols, int ncols, const struct pq_options *opts,
                   struct pq_writer **out, struct zetl_err *err)
{
        struct pq_writer *w;
        int i, rc;

        if (ncols < 1 || !cols)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "parquet: a file needs at least one column");
        w = calloc(1, sizeof(*w));
        if (!w)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "parquet: out of memory");
        w->fd = fd;
        if (opts)
                w->o = *opts;
        w->o.iceberg_schema = NULL;
        if (!w->o.zstd_level)
                w->o.zstd_level = 3;
        if (!w->o.row_group_bytes)
                w->o.row_group_bytes = DEFAULT_ROW_GROUP_BYTES;
        if (!w->o.page_bytes)
                w->o.page_bytes = DEFAULT_PAGE_BYTES;
        if (!w->o.dict_max_bytes)
                w->o.dict_max_bytes = DEFAULT_DICT_BYTES;
        thrift_init(&w->th);
        w->cols = calloc((size_t)ncols, sizeof(*w->cols));
        if (!w->cols) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "parquet: out of memory");
                goto free_w;
        }
        w->ncols = ncols;
        for (i = 0; i < ncols; i++) {
                rc = setup_col(&w->cols[i], &cols[i], err);
                if (rc)
                        goto free_w;
                w->cols[i].dict_ok = w->cols[i].dict_ok && !w->o.no_dictionary;
                w->cols[i].dict_mode = w->cols[i].dict_ok;
        }
        if (opts && opts->iceberg_schema) {
                w->iceberg_schema = strdup(opts->iceberg_schema);
                if (!w->iceberg_schema) {
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                          "parquet: out of memory");
                        goto free_w;
                }
        }
        if (w->o.codec == PQ_CODEC_ZSTD) {
                w->zctx = ZSTD_createCCtx();
                if (!w->zctx) {
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                          "parquet: out of memory (zstd)");
                        goto free_w;
                }
        } else if (w->o.codec != PQ_CODEC_NONE) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "parquet: unknown codec %d",
                                  (int)w->o.codec);
                goto free_w;
        }
        rc = write_all(w, "PAR1", 4, err);
        if (rc)
                goto free_w;
        *out = w;
        return 0;
free_w:
        pq_writer_free(w);
        return rc;
}

static void extremes_free(struct extremes *x)
{
        pq_buf_free(&x->bmin);
        pq_buf_free(&x->bmax);
}

void pq_writer_free(struct pq_writer *w)
{
        int i, g;

        if (!w)
                return;
        for (i = 0; i < w->ncols; i++) {
                struct col *c = &w->cols[i];
                free((char *)c->c.name);
                free(c->def);
                free(c->idx);
                pq_buf_free(&c->plain);
                pq_dict_free(&c->dict);
                pq_buf_free(&c->pages);
                extremes_free(&c->st);
                extremes_free(&c->file_st);
                for (g = 0; c->metas && g < w->rg_cap; g++) {
                        free(c->metas[g].min);
                        free(c->metas[g].max);
                }
                free(c->metas);
        }
        free(w->cols);
        free(w->rgs);
        free(w->iceberg_schema);
        pq_buf_free(&w->body);
        pq_buf_free(&w->comp);
        thrift_free(&w->th);
        ZSTD_freeCCtx(w->zctx);
        free(w);
}

/* ---- statistics ----------------------------------------------------------- */

static inline void ext_int(struct extremes *x, int64_t v)
{
        if (!x->has) {
                x->has = true;
                x->imin = x->imax = v;
        } else if (v < x->imin) {
                x->imin = v;
        } else if (v > x->imax) {
                x->imax = v;
        }
}

static inline void ext_dbl(struct extremes *x, double v)
{
        if (isnan(v))
                return;
        if (!x->has) {
                x->has = true;
                x->dmin = x->dmax = v;
                return;
        }
        /* -0.0 and +0.0 compare equal; keep whichever came first, the
         * statistics writer normalises zero extremes anyway. */
        if (v < x->dmin)
                x->dmin = v;
        else if (v > x->dmax)
                x->dmax = v;
}

static inline void ext_dec(struct extremes *x, __int128 v)
{
        if (!x->has) {
                x->has = true;
                x->qmin = x->qmax = v;
        } else if (v < x->qmin) {
                x->qmin = v;
        } else if (v > x->qmax) {
                x->qmax = v;
        }
}

/* Unsigned bytewise order, a prefix before its extensions. */
static int cmp_bytes(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
        size_t n = al < bl ? al : bl;
        int c = n ? memcmp(a, b, n) : 0;

        if (c)
                return c;
        return al < bl ? -1 : al > bl;
}

static int set_buf(struct pq_buf *b, const uint8_t *p, size_t len)
{
        b->len = 0;
        return pq_buf_append(b, p, len);
}

static int ext_bytes(struct extremes *x, const uint8_t *p, size_t len)
{
        int rc = 0;

        if (!x->has) {
                x->has = true;
                rc = set_buf(&x->bmin, p, len);
                if (rc == 0)
                        rc = set_buf(&x->bmax, p, len);
                return rc;
        }
        if (cmp_bytes(p, len, x->bmin.p, x->bmin.len) < 0)
                rc = set_buf(&x->bmin, p, len);
        else if (cmp_bytes(p, len, x->bmax.p, x->bmax.len) > 0)
                rc = set_buf(&x->bmax, p, len);
        return rc;
}

/* Fold a chunk's extremes into the file's. */
static int ext_merge(struct extremes *f, const struct extremes *c, enum kind k)
{
        int rc = 0;

        if (!c->has)
                return 0;
        switch (k) {
        case K_BOOL:
        case K_I32:
        case K_I64:
                ext_int(f, c->imin);
                ext_int(f, c->imax);
                break;
        case K_F32:
        case K_F64:
                ext_dbl(f, c->dmin);
                ext_dbl(f, c->dmax);
                break;
        case K_DEC:
                ext_dec(f, c->qmin);
                ext_dec(f, c->qmax);
                break;
        case K_VAR:
        case K_UUID:
                rc = ext_bytes(f, c->bmin.p, c->bmin.len);
                if (rc == 0)
                        rc = ext_bytes(f, c->bmax.p, c->bmax.len);
                break;
        }
        return rc;
}

/* ---- pages ---------------------------------------------------------------- */

static int compress_body(struct pq_writer *w, const uint8_t **out, size_t *out_len,
                         struct zetl_err *err)
{
        size_t bound, n;
        int rc;

        if (w->o.codec == PQ_CODEC_NONE) {
                *out = w->body.p;
                *out_len = w->body.len;
                return 0;
        }
        bound = ZSTD_compressBound(w->body.len);
        w->comp.len = 0;
        rc = pq_buf_reserve(&w->comp, bound);
        if (rc)
                return fail_mem(w, err, rc, "compressed page");
        n = ZSTD_compressCCtx(w->zctx, w->comp.p, bound, w->body.p, w->body.len, w->o.zstd_level);
        if (ZSTD_isError(n))
                return fail(w, err, ZETL_EIO, "parquet: zstd: %s", ZSTD_getErrorName(n));
        *out = w->comp.p;
        *out_len = n;
        return 0;
}

/* Append a page (header + body from w->body) to c->pages. dict_n >= 0 makes it
 * a dictionary page of that many entries; else a data page. */
static int emit_page(struct pq_writer *w, struct col *c, int dict_n, int encoding,
                     struct pq_buf *dst, struct zetl_err *err)
{
        const uint8_t *body = NULL;
        size_t blen = 0;
        int rc;

        rc = compress_body(w, &body, &blen, err);
        if (rc)
                return rc;
        thrift_reset(&w->th);
        thrift_struct_begin(&w->th);
        thrift_field_i32(&w->th, 1, dict_n >= 0 ? PAGE_DICTIONARY : PAGE_DATA);
        thrift_field_i32(&w->th, 2, (int32_t)w->body.len);
        thrift_field_i32(&w->th, 3, (int32_t)blen);
        if (dict_n >= 0) {
                thrift_field_struct(&w->th, 7); /* DictionaryPageHeader */
                thrift_field_i32(&w->th, 1, dict_n);
                thrift_field_i32(&w->th, 2, ENC_PLAIN);
                thrift_struct_end(&w->th);
        } else {
                thrift_field_struct(&w->th, 5); /* DataPageHeader */
                thrift_field_i32(&w->th, 1, (int32_t)c->page_rows);
                thrift_field_i32(&w->th, 2, encoding);
                thrift_field_i32(&w->th, 3, ENC_RLE);
                thrift_field_i32(&w->th, 4, ENC_RLE);
                thrift_struct_end(&w->th);
        }
        thrift_struct_end(&w->th);
        if (thrift_failed(&w->th))
                return fail_mem(w, err, ZETL_ENOMEM, "page header");
        rc = pq_buf_reserve(dst, w->th.len + blen);
        if (rc)
                return fail_mem(w, err, rc, "column chunk");
        pq_put_bytes(dst, w->th.p, w->th.len);
        pq_put_bytes(dst, body, blen);
        c->chunk_uncomp += (int64_t)(w->th.len + w->body.len);
        return 0;
}

/* PLAIN form of the page's dictionary-encoded values, into w->body. */
static int plain_from_dict(struct pq_writer *w, struct col *c)
{
        uint32_t i;
        size_t len;
        const uint8_t *p;
        int rc = pq_buf_reserve(&w->body, c->page_plain);

        if (rc)
                return rc;
        for (i = 0; i < c->page_vals; i++) {
                p = pq_dict_get(&c->dict, c->idx[i], &len);
                if (c->phys == PT_BYTE_ARRAY)
                        pq_put_u32le(&w->body, (uint32_t)len);
                pq_put_bytes(&w->body, p, len);
        }
        return 0;
}

static int flush_page(struct pq_writer *w, struct col *c, struct zetl_err *err)
{
        size_t at;
        int rc, bw, enc;

        if (c->page_rows == 0)
                return 0;
        w->body.len = 0;
        if (!c->c.required) {
                rc = pq_buf_reserve(&w->body, 4);
                if (rc)
                        return fail_mem(w, err, rc, "page");
                at = w->body.len;
                w->body.len += 4;
                rc = pq_rle_encode_u8(&w->body, c->def, c->page_rows, 1);
                if (rc)
                        return fail_mem(w, err, rc, "page");
                le32(w->body.p + at, (uint32_t)(w->body.len - at - 4));
        }
        if (c->dict_mode) {
                size_t levels = w->body.len;

                bw = pq_bit_width(c->dict.n ? c->dict.n - 1 : 0);
                if (bw == 0)
                        bw = 1;
                rc = pq_buf_reserve(&w->body, 1);
                if (rc)
                        return fail_mem(w, err, rc, "page");
                w->body.p[w->body.len++] = (uint8_t)bw;
                rc = pq_rle_encode_u32(&w->body, c->idx, c->page_vals, bw);
                if (rc)
                        return fail_mem(w, err, rc, "page");
                enc = ENC_RLE_DICTIONARY;
                /* The first page decides whether the dictionary pays off. */
                if (c->dict_pages == 0 &&
                    c->dict.vals.len + (w->body.len - levels) >= c->page_plain) {
                        w->body.len = levels;
                        rc = plain_from_dict(w, c);
                        if (rc)
                                return fail_mem(w, err, rc, "page");
                        c->dict_mode = false;
                        pq_dict_reset(&c->dict);
                        enc = ENC_PLAIN;
                }
        } else {
                rc = pq_buf_append(&w->body, c->plain.p, c->plain.len);
                if (rc)
                        return fail_mem(w, err, rc, "page");
                enc = ENC_PLAIN;
        }
        rc = emit_page(w, c, -1, enc, &c->pages, err);
        if (rc)
                return rc;
        if (enc == ENC_PLAIN)
                c->plain_pages++;
        else
                c->dict_pages++;
        c->page_rows = c->page_vals = 0;
        c->page_plain = 0;
        c->plain.len = 0;
        return 0;
}

/* ---- appending values --------------------------------------------------------- */

/* The page is full when its encoded size reaches page_bytes; a dictionary
 * page's indices are estimated from the current bit width. */
static inline bool page_full(const struct pq_writer *w, const struct col *c)
{
        size_t est;

        if (c->page_rows >= PAGE_MAX_ROWS)
                return true;
        if (c->page_plain < w->o.page_bytes)
                return false;
        if (!c->dict_mode)
                return true;
        /* While the first page still has to prove the dictionary worth it,
         * its entries count too: else a column of unique values would build
         * one huge index page before falling back to PLAIN. */
        est = (size_t)c->page_vals * (size_t)pq_bit_width(c->dict.n) / 8;
        if (c->dict_pages == 0)
                est += c->dict.vals.len;
        return est >= w->o.page_bytes;
}

static inline int after_row(struct pq_writer *w, struct col *c, struct zetl_err *err)
{
        if (page_full(w, c))
                return flush_page(w, c, err);
        return 0;
}

static int put_null(struct pq_writer *w, struct col *c, const struct zetl_batch *b, uint32_t r,
                    struct zetl_err *err)
{
        if (c->c.required)
                return fail(w, err, ZETL_EINVAL,
                            "parquet: NULL in required column %s (batch row %u)", c->c.name, r);
        (void)b;
        c->def[c->page_rows++] = 0;
        c->chunk_rows++;
        c->chunk_nulls++;
        return after_row(w, c, err);
}

/* Append one value in its PLAIN byte form (for BYTE_ARRAY: the bytes, the
 * length prefix is added here). Returns 1 when the caller must fold the value
 * into the statistics (PLAIN mode, or a new dictionary entry), 0 when not,
 * or a negative error. The page is flushed by the caller via after_row. */
static int put_value(struct pq_writer *w, struct col *c, const uint8_t *p, size_t len,
                     struct zetl_err *err)
{
        size_t plain = len + (c->phys == PT_BYTE_ARRAY ? 4 : 0);
        uint32_t idx;
        int rc, added = 1;

        if (c->dict_mode && plain > w->o.dict_max_bytes / 16) {
                /* A value this large would fill the dictionary on its own
                 * (and may be up to 1 GiB): the chunk goes on PLAIN. */
                rc = flush_page(w, c, err);
                if (rc)
                        return rc;
                if (c->dict_pages == 0)
                        pq_dict_reset(&c->dict);
                c->dict_mode = false;
        }
        if (!c->c.required)
                c->def[c->page_rows] = 1;
        if (c->dict_mode) {
                rc = pq_dict_put(&c->dict, p, len, &idx);
                if (rc < 0)
                        return fail_mem(w, err, rc, "dictionary");
                added = rc;
                c->idx[c->page_vals] = idx;
        } else {
                rc = pq_buf_reserve(&c->plain, plain);
                if (rc)
                        return fail_mem(w, err, rc, "page");
                if (c->phys == PT_BYTE_ARRAY)
                        pq_put_u32le(&c->plain, (uint32_t)len);
                pq_put_bytes(&c->plain, p, len);
        }
        c->page_rows++;
        c->page_vals++;
        c->page_plain += plain;
        c->chunk_rows++;
        if (c->dict_mode && added && c->dict.vals.len > w->o.dict_max_bytes) {
                /* Finish this page with indices, go on PLAIN. */
                rc = flush_page(w, c, err);
                if (rc)
                        return rc;
                c->dict_mode = false;
        }
        return added;
}

static int put_bool(struct pq_writer *w, struct col *c, bool v, struct zetl_err *err)
{
        int rc;

        if (c->page_vals % 8 == 0) {
                rc = pq_buf_reserve(&c->plain, 1);
                if (rc)
                        return fail_mem(w, err, rc, "page");
                c->plain.p[c->plain.len++] = 0;
        }
        if (v)
                c->plain.p[c->plain.len - 1] |= (uint8_t)(1u << (c->page_vals % 8));
        if (!c->c.required)
                c->def[c->page_rows] = 1;
        c->page_rows++;
        c->page_vals++;
        c->page_plain = c->plain.len;
        c->chunk_rows++;
        ext_int(&c->st, v);
        return 0;
}

/* Width in bytes of source type st when it may feed kind k, 0 when it may not. */
static size_t source_width(enum kind k, enum zetl_type dst, enum zetl_type st)
{
        switch (k) {
        case K_BOOL:
                return st == ZETL_T_BOOL;
        case K_I32:
                if (dst == ZETL_T_DATE)
                        return st == ZETL_T_DATE ? 4 : 0;
                if (dst == ZETL_T_INT16)
                        return st == ZETL_T_INT16 ? 2 : 0;
                return st == ZETL_T_INT16 ? 2 : st == ZETL_T_INT32 ? 4 : 0;
        case K_I64:
                if (dst == ZETL_T_INT64)
                        return st == ZETL_T_INT16   ? 2
                               : st == ZETL_T_INT32 ? 4
                               : st == ZETL_T_INT64 ? 8
                                                    : 0;
                return st == dst ? 8 : 0;
        case K_F32:
                return st == ZETL_T_FLOAT32 ? 4 : 0;
        case K_F64:
                return st == ZETL_T_FLOAT32 ? 4 : st == ZETL_T_FLOAT64 ? 8 : 0;
        case K_DEC:
                return st == ZETL_T_DECIMAL;
        case K_VAR:
                if (dst == ZETL_T_BYTES)
                        return st == ZETL_T_BYTES;
                return st == ZETL_T_STRING || st == ZETL_T_JSON;
        case K_UUID:
                return st == ZETL_T_UUID ? 16 : 0;
        }
        return 0;
}

static inline int64_t load_int(const uint8_t *vals, size_t width, uint32_t r)
{
        if (width == 2)
                return ((const int16_t *)(const void *)vals)[r];
        if (width == 4)
                return ((const int32_t *)(const void *)vals)[r];
        return ((const int64_t *)(const void *)vals)[r];
}

/* Checks shared by every kind: unchanged cells and NULLs. Returns 1 when the
 * row is a value to append, 0 when it was handled as NULL, or an error. */
static inline int row_prelude(struct pq_writer *w, struct col *c, const struct zetl_batch *b,
                              int bc, uint32_t r, struct zetl_err *err)
{
        const struct zetl_vec *v = &b->cols[bc];

        if (v->unchanged && zetl_bit_get(v->unchanged, r))
                return fail(w, err, ZETL_EINVAL,
                            "parquet: column %s, batch row %u: an unchanged value must be resolved "
                            "by the sink before writing",
                            c->c.name, r);
        if (!zetl_bit_get(v->validity, r))
                return put_null(w, c, b, r, err);
        return 1;
}

/* Append rows[0..n) of b to column c: one loop per kind. */
static int append_col(struct pq_writer *w, struct col *c, const struct zetl_batch *b,
                      const uint32_t *rows, uint32_t first, uint32_t n, struct zetl_err *err)
{
        int bc = c->c.batch_col, rc = 0;
        size_t width = 0;
        const uint8_t *vals;
        uint32_t i, r;
        uint8_t buf[16];

        if (bc < 0) {
                for (i = 0; i < n && rc == 0; i++)
                        rc = put_null(w, c, b, 0, err);
                return rc;
        }
        if (bc >= b->schema->ncols)
                return fail(w, err, ZETL_EINVAL,
                            "parquet: column %s: batch column %d does not exist (%d columns)",
                            c->c.name, bc, b->schema->ncols);
        width = source_width(c->kind, c->c.type, b->schema->cols[bc].type);
        if (!width)
                return fail(w, err, ZETL_EINVAL,
                            "parquet: column %s (%s) cannot be written from a %s batch column",
                            c->c.name, zetl_type_name(c->c.type),
                            zetl_type_name(b->schema->cols[bc].type));
        vals = b->cols[bc].values;
#define ROW(i) (rows ? rows[first + (i)] : first + (i))
        for (i = 0; i < n; i++) {
                r = ROW(i);
                rc = row_prelude(w, c, b, bc, r, err);
                if (rc <= 0) {
                        if (rc < 0)
                                return rc;
                        continue;
                }
                switch (c->kind) {
                case K_BOOL:
                        rc = put_bool(w, c, zetl_bit_get(vals, r), err);
                        break;
                case K_I32: {
                        int32_t x = (int32_t)load_int(vals, width, r);
                        le32(buf, (uint32_t)x);
                        rc = put_value(w, c, buf, 4, err);
                        if (rc > 0)
                                ext_int(&c->st, x);
                        break;
                }
                case K_I64: {
                        int64_t x = load_int(vals, width, r);
                        le64(buf, (uint64_t)x);
                        rc = put_value(w, c, buf, 8, err);
                        if (rc > 0)
                                ext_int(&c->st, x);
                        break;
                }
                case K_F32: {
                        float x = ((const float *)(const void *)vals)[r];
                        uint32_t u;
                        memcpy(&u, &x, 4);
                        le32(buf, u);
                        if (isnan(x))
                                c->file_nans++;
                        rc = put_value(w, c, buf, 4, err);
                        if (rc > 0)
                                ext_dbl(&c->st, x);
                        break;
                }
                case K_F64: {
                        double x = width == 4 ? ((const float *)(const void *)vals)[r]
                                              : ((const double *)(const void *)vals)[r];
                        uint64_t u;
                        memcpy(&u, &x, 8);
                        le64(buf, u);
                        if (isnan(x))
                                c->file_nans++;
                        rc = put_value(w, c, buf, 8, err);
                        if (rc > 0)
                                ext_dbl(&c->st, x);
                        break;
                }
                case K_DEC: {
                        size_t len;
                        const uint8_t *p = zetl_batch_get_var(b, bc, r, &len);
                        __int128 q;
                        rc = pq_decimal_parse((const char *)p, len, c->precision, c->c.scale, &q,
                                              &w->ferr);
                        if (rc) {
                                zetl_err_prefix(&w->ferr, "column %s: ", c->c.name);
                                w->failed = rc;
                                if (err)
                                        *err = w->ferr;
                                return rc;
                        }
                        if (c->phys == PT_INT32) {
                                le32(buf, (uint32_t)(int32_t)q);
                                rc = put_value(w, c, buf, 4, err);
                        } else if (c->phys == PT_INT64) {
                                le64(buf, (uint64_t)(int64_t)q);
                                rc = put_value(w, c, buf, 8, err);
                        } else {
                                be_int128(buf, q, c->type_len);
                                rc = put_value(w, c, buf, (size_t)c->type_len, err);
                        }
                        if (rc > 0)
                                ext_dec(&c->st, q);
                        break;
                }
                case K_VAR: {
                        size_t len;
                        const uint8_t *p = zetl_batch_get_var(b, bc, r, &len);
                        rc = put_value(w, c, p, len, err);
                        if (rc > 0 && ext_bytes(&c->st, p, len))
                                return fail_mem(w, err, ZETL_ENOMEM, "statistics");
                        break;
                }
                case K_UUID: {
                        const uint8_t *p = vals + (size_t)r * 16;
                        rc = put_value(w, c, p, 16, err);
                        if (rc > 0 && ext_bytes(&c->st, p, 16))
                                return fail_mem(w, err, ZETL_ENOMEM, "statistics");
                        break;
                }
                }
                if (rc < 0)
                        return rc;
                rc = after_row(w, c, err);
                if (rc)
                        return rc;
        }
#undef ROW
        return 0;
}

/* ---- column chunks and row groups ------------------------------------------ */

/* Parquet statistics bytes of extremes x for column c (min or max). */
static int stat_bytes(const struct col *c, const struct extremes *x, bool max, uint8_t **out,
                      uint8_t *out_len)
{
        uint8_t buf[16];
        const uint8_t *p = buf;
        size_t n = 0;

        switch (c->kind) {
        case K_BOOL:
                buf[0] = (uint8_t)(max ? x->imax : x->imin);
                n = 1;
                break;
        case K_I32:
                le32(buf, (uint32_t)(int32_t)(max ? x->imax : x->imin));
                n = 4;
                break;
        case K_I64:
                le64(buf, (uint64_t)(max ? x->imax : x->imin));
                n = 8;
                break;
        case K_F32:
        case K_F64: {
                double d = max ? x->dmax : x->dmin;
                /* Zero extremes are written -0.0 for min and +0.0 for max. */
                if (d == 0)
                        d = max ? 0.0 : -0.0;
                if (c->kind == K_F32) {
                        float f = (float)d;
                        uint32_t u;
                        memcpy(&u, &f, 4);
                        le32(buf, u);
                        n = 4;
                } else {
                        uint64_t u;
                        memcpy(&u, &d, 8);
                        le64(buf, u);
                        n = 8;
                }
                break;
        }
        case K_DEC: {
                __int128 q = max ? x->qmax : x->qmin;
                if (c->phys == PT_INT32) {
                        le32(buf, (uint32_t)(int32_t)q);
                        n = 4;
                } else if (c->phys == PT_INT64) {
                        le64(buf, (uint64_t)(int64_t)q);
                        n = 8;
                } else {
                        be_int128(buf, q, c->type_len);
                        n = (size_t)c->type_len;
                }
                break;
        }
        case K_VAR:
        case K_UUID: {
                const struct pq_buf *b = max ? &x->bmax : &x->bmin;
                if (b->len > STAT_MAX_BYTES)
                        return 0;
                p = b->p;
                n = b->len;
                break;
        }
        }
        *out = malloc(n ? n : 1);
        if (!*out)
                return ZETL_ENOMEM;
        if (n)
                memcpy(*out, p, n);
        *out_len = (uint8_t)n;
        return 0;
}

static int grow_rgs(struct pq_writer *w, struct zetl_err *err)
{
        int cap = w->rg_cap ? w->rg_cap * 2 : 8, i;
        struct rg_meta *r;

        if (w->nrg < w->rg_cap)
                return 0;
        r = realloc(w->rgs, (size_t)cap * sizeof(*r));
        if (!r)
                return fail_mem(w, err, ZETL_ENOMEM, "row groups");
        w->rgs = r;
        for (i = 0; i < w->ncols; i++) {
                struct chunk_meta *m = realloc(w->cols[i].metas, (size_t)cap * sizeof(*m));
                if (!m)
                        return fail_mem(w, err, ZETL_ENOMEM, "row groups");
                /* Zeroed, so that pq_writer_free can free every entry. */
                memset(m + w->rg_cap, 0, (size_t)(cap - w->rg_cap) * sizeof(*m));
                w->cols[i].metas = m;
        }
        w->rg_cap = cap;
        return 0;
}

/* Finish column c's chunk of row group g: dictionary page, data pages, metadata. */
static int write_chunk(struct pq_writer *w, struct col *c, int g, struct zetl_err *err)
{
        struct chunk_meta *m = &c->metas[g];
        struct pq_buf dict_page = { 0 };
        int rc;

        memset(m, 0, sizeof(*m));
        rc = flush_page(w, c, err);
        if (rc)
                return rc;
        m->dict_page_offset = -1;
        m->num_values = c->chunk_rows;
        m->null_count = c->chunk_nulls;
        if (c->dict_pages > 0) {
                w->body.len = 0;
                rc = pq_buf_append(&w->body, c->dict.vals.p, c->dict.vals.len);
                if (rc)
                        return fail_mem(w, err, rc, "dictionary page");
                rc = emit_page(w, c, (int)c->dict.n, ENC_PLAIN, &dict_page, err);
                if (rc)
                        goto free_dict;
                m->dict_page_offset = (int64_t)w->offset;
                rc = write_all(w, dict_page.p, dict_page.len, err);
                if (rc)
                        goto free_dict;
        }
        m->data_page_offset = (int64_t)w->offset;
        rc = write_all(w, c->pages.p, c->pages.len, err);
        if (rc)
                goto free_dict;
        m->compressed = (int64_t)(dict_page.len + c->pages.len);
        m->uncompressed = c->chunk_uncomp;
        m->enc_dict = c->dict_pages > 0;
        m->enc_plain = c->plain_pages > 0 || c->dict_pages > 0; /* the dictionary page is PLAIN */
        if (c->st.has) {
                if (stat_bytes(c, &c->st, false, &m->min, &m->min_len) ||
                    stat_bytes(c, &c->st, true, &m->max, &m->max_len)) {
                        rc = fail_mem(w, err, ZETL_ENOMEM, "statistics");
                        goto free_dict;
                }
                if (!m->min || !m->max) {
                        free(m->min);
                        free(m->max);
                        m->min = m->max = NULL;
                }
        }
        if (ext_merge(&c->file_st, &c->st, c->kind)) {
                rc = fail_mem(w, err, ZETL_ENOMEM, "statistics");
                goto free_dict;
        }
        c->file_nulls += c->chunk_nulls;
        c->file_bytes += m->compressed;
        /* Reset for the next chunk. */
        c->pages.len = 0;
        c->dict_pages = c->plain_pages = 0;
        c->chunk_rows = c->chunk_nulls = c->chunk_uncomp = 0;
        c->st.has = false;
        pq_dict_reset(&c->dict);
        c->dict_mode = c->dict_ok;
free_dict:
        pq_buf_free(&dict_page);
        return rc;
}

static int flush_row_group(struct pq_writer *w, struct zetl_err *err)
{
        struct rg_meta *rg;
        int i, rc;

        if (w->rg_rows == 0)
                return 0;
        rc = grow_rgs(w, err);
        if (rc)
                return rc;
        rg = &w->rgs[w->nrg];
        memset(rg, 0, sizeof(*rg));
        rg->rows = w->rg_rows;
        rg->offset = (int64_t)w->offset;
        for (i = 0; i < w->ncols; i++) {
                rc = write_chunk(w, &w->cols[i], w->nrg, err);
                if (rc)
                        return rc;
                rg->uncompressed += w->cols[i].metas[w->nrg].uncompressed;
                rg->compressed += w->cols[i].metas[w->nrg].compressed;
        }
        w->nrg++;
        w->rg_rows = 0;
        return 0;
}

static uint64_t buffered_bytes(const struct pq_writer *w)
{
        uint64_t n = 0;
        int i;

        for (i = 0; i < w->ncols; i++) {
                const struct col *c = &w->cols[i];
                n += c->pages.len + c->page_plain + c->dict.vals.len;
        }
        return n;
}

int pq_writer_write(struct pq_writer *w, const struct zetl_batch *b, const uint32_t *rows,
                    uint32_t n, struct zetl_err *err)
{
        uint32_t first, k, i;
        int c, rc;

        if (w->failed) {
                if (err)
                        *err = w->ferr;
                return w->failed;
        }
        if (!rows && n > b->nrows)
                return fail(w, err, ZETL_EINVAL, "parquet: %u rows asked of a batch of %u", n,
                            b->nrows);
        for (i = 0; rows && i < n; i++)
                if (rows[i] >= b->nrows)
                        return fail(w, err, ZETL_EINVAL, "parquet: row %u of a batch of %u",
                                    rows[i], b->nrows);
        for (first = 0; first < n; first += k) {
                k = n - first < SLICE_ROWS ? n - first : SLICE_ROWS;
                for (c = 0; c < w->ncols; c++) {
                        rc = append_col(w, &w->cols[c], b, rows, first, k, err);
                        if (rc)
                                return rc;
                }
                w->rows += k;
                w->rg_rows += k;
                if (buffered_bytes(w) >= w->o.row_group_bytes) {
                        rc = flush_row_group(w, err);
                        if (rc)
                                return rc;
                }
        }
        return 0;
}

int64_t pq_writer_rows(const struct pq_writer *w)
{
        return w->rows;
}

uint64_t pq_writer_bytes(const struct pq_writer *w)
{
        return w->offset + buffered_bytes(w);
}

/* ---- footer ------------------------------------------------------------------ */

static void put_logical_type(struct thrift_buf *t, const struct col *c)
{
        int lt = 0;

        switch (c->c.type) {
        case ZETL_T_STRING:
        case ZETL_T_JSON:
                lt = LT_STRING;
                break;
        case ZETL_T_DECIMAL:
                lt = LT_DECIMAL;
                break;
        case ZETL_T_DATE:
                lt = LT_DATE;
                break;
        case ZETL_T_TIME:
                lt = LT_TIME;
                break;
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                lt = LT_TIMESTAMP;
                break;
        case ZETL_T_UUID:
                lt = LT_UUID;
                break;
        default:
                return;
        }
        thrift_field_struct(t, 10);
        thrift_field_struct(t, (int16_t)lt);
        if (lt == LT_DECIMAL) {
                thrift_field_i32(t, 1, c->c.scale);
                thrift_field_i32(t, 2, c->precision);
        } else if (lt == LT_TIME || lt == LT_TIMESTAMP) {
                thrift_field_bool(t, 1, c->c.type == ZETL_T_TIMESTAMPTZ);
                thrift_field_struct(t, 2); /* TimeUnit */
                thrift_field_struct(t, 2); /* MICROS */
                thrift_struct_end(t);
                thrift_struct_end(t);
        }
        thrift_struct_end(t);
        thrift_struct_end(t);
}

static int converted_type(const struct col *c)
{
        switch (c->c.type) {
        case ZETL_T_STRING:
        case ZETL_T_JSON:
                return CT_UTF8;
        case ZETL_T_DECIMAL:
                return CT_DECIMAL;
        case ZETL_T_DATE:
                return CT_DATE;
        case ZETL_T_TIME:
                return CT_TIME_MICROS;
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                return CT_TS_MICROS;
        default:
                return CT_NONE;
        }
}

static void put_schema(struct thrift_buf *t, const struct pq_writer *w)
{
        int i, ct;

        thrift_field_list(t, 2, THRIFT_STRUCT, (uint32_t)w->ncols + 1);
        thrift_struct_begin(t);
        thrift_field_string(t, 4, "table");
        thrift_field_i32(t, 5, w->ncols);
        thrift_struct_end(t);
        for (i = 0; i < w->ncols; i++) {
                const struct col *c = &w->cols[i];
                thrift_struct_begin(t);
                thrift_field_i32(t, 1, c->phys);
                if (c->phys == PT_FLBA)
                        thrift_field_i32(t, 2, c->type_len);
                thrift_field_i32(t, 3, c->c.required ? REP_REQUIRED : REP_OPTIONAL);
                thrift_field_string(t, 4, c->c.name);
                ct = converted_type(c);
                if (ct != CT_NONE)
                        thrift_field_i32(t, 6, ct);
                if (c->kind == K_DEC) {
                        thrift_field_i32(t, 7, c->c.scale);
                        thrift_field_i32(t, 8, c->precision);
                }
                thrift_field_i32(t, 9, c->c.field_id);
                put_logical_type(t, c);
                thrift_struct_end(t);
        }
}

static void put_column_chunk(struct thrift_buf *t, const struct pq_writer *w, const struct col *c,
                             const struct chunk_meta *m)
{
        uint32_t nenc = 1 + (m->enc_plain ? 1 : 0) + (m->enc_dict ? 1 : 0);

        thrift_struct_begin(t);
        thrift_field_i64(t, 2,
                         m->dict_page_offset >= 0 ? m->dict_page_offset : m->data_page_offset);
        thrift_field_struct(t, 3); /* ColumnMetaData */
        thrift_field_i32(t, 1, c->phys);
        thrift_field_list(t, 2, THRIFT_I32, nenc);
        if (m->enc_plain)
                thrift_put_i32(t, ENC_PLAIN);
        thrift_put_i32(t, ENC_RLE);
        if (m->enc_dict)
                thrift_put_i32(t, ENC_RLE_DICTIONARY);
        thrift_field_list(t, 3, THRIFT_BINARY, 1);
        thrift_put_string(t, c->c.name);
        thrift_field_i32(t, 4, w->o.codec == PQ_CODEC_ZSTD ? CODEC_ZSTD : CODEC_UNCOMPRESSED);
        thrift_field_i64(t, 5, m->num_values);
        thrift_field_i64(t, 6, m->uncompressed);
        thrift_field_i64(t, 7, m->compressed);
        thrift_field_i64(t, 9, m->data_page_offset);
        if (m->dict_page_offset >= 0)
                thrift_field_i64(t, 11, m->dict_page_offset);
        thrift_field_struct(t, 12); /* Statistics */
        thrift_field_i64(t, 3, m->null_count);
        if (m->min && m->max) {
                thrift_field_binary(t, 5, m->max, m->max_len);
                thrift_field_binary(t, 6, m->min, m->min_len);
        }
        thrift_struct_end(t);
        thrift_struct_end(t); /* ColumnMetaData */
        thrift_struct_end(t); /* ColumnChunk */
}

static void put_footer(struct thrift_buf *t, const struct pq_writer *w)
{
        int g, i;

        thrift_struct_begin(t);
        thrift_field_i32(t, 1, 1);
        put_schema(t, w);
        thrift_field_i64(t, 3, w->rows);
        thrift_field_list(t, 4, THRIFT_STRUCT, (uint32_t)w->nrg);
        for (g = 0; g < w->nrg; g++) {
                thrift_struct_begin(t);
                thrift_field_list(t, 1, THRIFT_STRUCT, (uint32_t)w->ncols);
                for (i = 0; i < w->ncols; i++)
                        put_column_chunk(t, w, &w->cols[i], &w->cols[i].metas[g]);
                thrift_field_i64(t, 2, w->rgs[g].uncompressed);
                thrift_field_i64(t, 3, w->rgs[g].rows);
                thrift_field_i64(t, 5, w->rgs[g].offset);
                thrift_field_i64(t, 6, w->rgs[g].compressed);
                thrift_field_i16(t, 7, (int16_t)g);
                thrift_struct_end(t);
        }
        if (w->iceberg_schema) {
                thrift_field_list(t, 5, THRIFT_STRUCT, 1);
                thrift_struct_begin(t);
                thrift_field_string(t, 1, "iceberg.schema");
                thrift_field_string(t, 2, w->iceberg_schema);
                thrift_struct_end(t);
        }
        thrift_field_string(t, 6, "zetl version " ZETL_VERSION);
        /* TYPE_ORDER for every column: readers then trust min_value/max_value. */
        thrift_field_list(t, 7, THRIFT_STRUCT, (uint32_t)w->ncols);
        for (i = 0; i < w->ncols; i++) {
                thrift_struct_begin(t);
                thrift_field_struct(t, 1);
                thrift_struct_end(t);
                thrift_struct_end(t);
        }
        thrift_struct_end(t);
}

/* ---- Iceberg metrics --------------------------------------------------------- */

/* Length of the UTF-8 sequence starting with byte c (1 for stray bytes). */
static size_t utf8_len(uint8_t c)
{
        if (c >= 0xf0 && c < 0xf8)
                return 4;
        if (c >= 0xe0)
                return c < 0xf0 ? 3 : 1;
        if (c >= 0xc0)
                return 2;
        return 1;
}

static uint32_t utf8_decode(const uint8_t *p, size_t n)
{
        switch (n) {
        case 2:
                return (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
        case 3:
                return (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
        case 4:
                return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
                       (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
        default:
                return p[0];
        }
}

static size_t utf8_encode(uint32_t cp, uint8_t *out)
{
        if (cp < 0x80) {
                out[0] = (uint8_t)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (uint8_t)(0xc0 | cp >> 6);
                out[1] = (uint8_t)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (uint8_t)(0xe0 | cp >> 12);
                out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
                out[2] = (uint8_t)(0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (uint8_t)(0xf0 | cp >> 18);
        out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        out[3] = (uint8_t)(0x80 | (cp & 0x3f));
        return 4;
}

/* Iceberg string bounds: the first 16 code points; the upper bound of a
 * longer value has its last incrementable code point incremented (skipping
 * the surrogate range) and the rest dropped, or there is no upper bound. */
static void string_bounds(struct pq_col_metrics *m, const struct extremes *x)
{
        size_t starts[ICE_TRUNC + 1], at = 0, n = 0, len;
        const uint8_t *p = x->bmin.p;
        int k;

        len = x->bmin.len;
        while (at < len && n < ICE_TRUNC) {
                at += utf8_len(p[at]);
                n++;
        }
        if (at > len)
                at = len;
        if (at)
                memcpy(m->lower, p, at);
        m->lower_len = (uint8_t)at;
        m->has_lower = true;

        p = x->bmax.p;
        len = x->bmax.len;
        at = n = 0;
        while (at < len && n < ICE_TRUNC) {
                starts[n++] = at;
                at += utf8_len(p[at]);
        }
        if (at > len)
                at = len;
        if (at == len) {
                if (len)
                        memcpy(m->upper, p, len);
                m->upper_len = (uint8_t)len;
                m->has_upper = true;
                return;
        }
        for (k = (int)n - 1; k >= 0; k--) {
                size_t cl = utf8_len(p[starts[k]]);
                uint32_t cp;
                if (starts[k] + cl > len)
                        continue;
                cp = utf8_decode(p + starts[k], cl) + 1;
                if (cp >= 0xd800 && cp <= 0xdfff)
                        cp = 0xe000;
                if (cp > 0x10ffff)
                        continue;
                memcpy(m->upper, p, starts[k]);
                m->upper_len = (uint8_t)(starts[k] + utf8_encode(cp, m->upper + starts[k]));
                m->has_upper = true;
                return;
        }
}

/* Iceberg binary bounds: 16 bytes; a longer upper bound gets its last
 * non-0xff byte incremented and the rest dropped. */
static void binary_bounds(struct pq_col_metrics *m, const struct extremes *x)
{
        size_t n = x->bmin.len < ICE_TRUNC ? x->bmin.len : ICE_TRUNC;
        int k;

        if (n)
                memcpy(m->lower, x->bmin.p, n);
        m->lower_len = (uint8_t)n;
        m->has_lower = true;
        if (x->bmax.len <= ICE_TRUNC) {
                if (x->bmax.len)
                        memcpy(m->upper, x->bmax.p, x->bmax.len);
                m->upper_len = (uint8_t)x->bmax.len;
                m->has_upper = true;
                return;
        }
        for (k = ICE_TRUNC - 1; k >= 0; k--) {
                if (x->bmax.p[k] != 0xff) {
                        memcpy(m->upper, x->bmax.p, (size_t)k + 1);
                        m->upper[k]++;
                        m->upper_len = (uint8_t)(k + 1);
                        m->has_upper = true;
                        return;
                }
        }
}

static void col_metrics(const struct pq_writer *w, const struct col *c, struct pq_col_metrics *m)
{
        const struct extremes *x = &c->file_st;

        memset(m, 0, sizeof(*m));
        m->field_id = c->c.field_id;
        m->column_size = c->file_bytes;
        m->value_count = w->rows;
        m->null_count = c->file_nulls;
        m->nan_count = c->kind == K_F32 || c->kind == K_F64 ? c->file_nans : -1;
        if (!x->has)
                return;
        m->has_lower = m->has_upper = true;
        switch (c->kind) {
        case K_BOOL:
                m->lower[0] = (uint8_t)x->imin;
                m->upper[0] = (uint8_t)x->imax;
                m->lower_len = m->upper_len = 1;
                break;
        case K_I32:
                le32(m->lower, (uint32_t)(int32_t)x->imin);
                le32(m->upper, (uint32_t)(int32_t)x->imax);
                m->lower_len = m->upper_len = 4;
                break;
        case K_I64:
                le64(m->lower, (uint64_t)x->imin);
                le64(m->upper, (uint64_t)x->imax);
                m->lower_len = m->upper_len = 8;
                break;
        case K_F32: {
                float lo = x->dmin == 0 ? -0.0f : (float)x->dmin;
                float hi = x->dmax == 0 ? 0.0f : (float)x->dmax;
                uint32_t u;
                memcpy(&u, &lo, 4);
                le32(m->lower, u);
                memcpy(&u, &hi, 4);
                le32(m->upper, u);
                m->lower_len = m->upper_len = 4;
                break;
        }
        case K_F64: {
                double lo = x->dmin == 0 ? -0.0 : x->dmin;
                double hi = x->dmax == 0 ? 0.0 : x->dmax;
                uint64_t u;
                memcpy(&u, &lo, 8);
                le64(m->lower, u);
                memcpy(&u, &hi, 8);
                le64(m->upper, u);
                m->lower_len = m->upper_len = 8;
                break;
        }
        case K_DEC:
                m->lower_len = (uint8_t)min_be_bytes(x->qmin);
                be_int128(m->lower, x->qmin, m->lower_len);
                m->upper_len = (uint8_t)min_be_bytes(x->qmax);
                be_int128(m->upper, x->qmax, m->upper_len);
                break;
        case K_UUID:
                memcpy(m->lower, x->bmin.p, 16);
                memcpy(m->upper, x->bmax.p, 16);
                m->lower_len = m->upper_len = 16;
                break;
        case K_VAR:
                m->has_lower = m->has_upper = false;
                if (c->c.type == ZETL_T_BYTES)
                        binary_bounds(m, x);
                else
                        string_bounds(m, x);
                break;
        }
}

static int fill_metrics(const struct pq_writer *w, struct pq_file_metrics *out,
                        struct zetl_err *err)
{
        int i;

        memset(out, 0, sizeof(*out));
        out->cols = calloc((size_t)w->ncols, sizeof(*out->cols));
        out->split_offsets = calloc((size_t)w->nrg + 1, sizeof(*out->split_offsets));
        if (!out->cols || !out->split_offsets) {
                pq_file_metrics_free(out);
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "parquet: out of memory");
        }
        out->file_size = w->offset;
        out->record_count = w->rows;
        out->ncols = w->ncols;
        for (i = 0; i < w->ncols; i++)
                col_metrics(w, &w->cols[i], &out->cols[i]);
        out->nsplits = w->nrg;
        for (i = 0; i < w->nrg; i++)
                out->split_offsets[i] = w->rgs[i].offset;
        return 0;
}

void pq_file_metrics_free(struct pq_file_metrics *m)
{
        if (!m)
                return;
        free(m->cols);
        free(m->split_offsets);
        memset(m, 0, sizeof(*m));
}

int pq_writer_close(struct pq_writer *w, struct pq_file_metrics *metrics, struct zetl_err *err)
{
        uint8_t tail[8];
        int rc;

        if (w->failed) {
                if (err)
                        *err = w->ferr;
                rc = w->failed;
                goto free_w;
        }
        rc = flush_row_group(w, err);
        if (rc)
                goto free_w;
        thrift_reset(&w->th);
        put_footer(&w->th, w);
        if (thrift_failed(&w->th)) {
                rc = fail_mem(w, err, ZETL_ENOMEM, "footer");
                goto free_w;
        }
        rc = write_all(w, w->th.p, w->th.len, err);
        if (rc)
                goto free_w;
        le32(tail, (uint32_t)w->th.len);
        memcpy(tail + 4, "PAR1", 4);
        rc = write_all(w, tail, 8, err);
        if (rc)
                goto free_w;
        if (w->o.fsync && fsync(w->fd) != 0) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "parquet: fsync: %s",
                                  strerror(errno));
                goto free_w;
        }
        if (metrics)
                rc = fill_metrics(w, metrics, err);
free_w:
        pq_writer_free(w);
        return rc;
}
