/*
 * The Parquet reader of zetl's own files (see pq_reader.h), written from
 * parquet-format's parquet.thrift, Encodings.md and LogicalTypes.md, like the
 * writer it mirrors (parquet.c). Three layers:
 *
 *   - the footer: FileMetaData decoded with thrift_dec.h into columns and
 *     row groups, each checked against the writer's subset and the file size;
 *   - pages: per bound column of the current row group, the chunk bytes,
 *     its dictionary, and one data page decoded at a time (definition levels
 *     into a byte per row, dictionary indices into an array, PLAIN values
 *     left in the page body after one validating walk);
 *   - rows: one row at a time across the columns into the caller's batch,
 *     with the per-column cursors saved before each row so that a row the
 *     batch cannot hold (ZETL_ELIMIT) is given back whole.
 */
#include "pq_reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "thrift_dec.h"
#include "zetl/value.h"

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
enum { CT_UTF8 = 0, CT_DECIMAL = 5, CT_DATE = 6, CT_TIME_MICROS = 8, CT_TS_MICROS = 10 };
enum { LT_STRING = 1, LT_DECIMAL = 5, LT_DATE = 6, LT_TIME = 7, LT_TIMESTAMP = 8, LT_UUID = 14 };
enum { ENC_PLAIN = 0, ENC_PLAIN_DICTIONARY = 2, ENC_RLE = 3, ENC_RLE_DICTIONARY = 8 };
enum { PAGE_DATA = 0, PAGE_DICTIONARY = 2 };
enum { CODEC_UNCOMPRESSED = 0, CODEC_ZSTD = 6 };
enum { REP_REQUIRED = 0, REP_OPTIONAL = 1 };
enum { UNIT_MICROS = 2 };

#define DEFAULT_MAX_PAGE   (((size_t)1 << 30) + ((size_t)1 << 20))
#define DEFAULT_MAX_FOOTER ((size_t)64 << 20)
/* Rows of one data page: the writer makes at most 65536; more than this is
 * not ours, and the per-page arrays stay bounded whatever the header says. */
#define PAGE_MAX_ROWS (1u << 20)
#define MAX_COLUMNS   100000

/* ---- the model ------------------------------------------------------------ */

struct rcol {
        struct pq_reader_col pub; /* name owned */
        int phys;
        int width; /* PLAIN bytes per value; 0: BYTE_ARRAY; -1: bit-packed booleans */
        bool optional;
};

struct rchunk {
        int64_t start; /* first byte: the dictionary page, or the first data page */
        int64_t len;   /* total_compressed_size */
        bool has_dict; /* a dictionary page comes first */
        int codec;
};

struct rgroup {
        int64_t rows;
        int64_t first_row; /* file row number of its first row */
        struct rchunk *chunks;
};

struct kv {
        char *key, *value;
};

/* A bound output column's cursor in the current row group. */
struct cur {
        int fc;             /* file column, -1: reads NULL */
        enum zetl_type out; /* output type */
        const struct rcol *col;
        /* the chunk */
        const uint8_t *chunk;
        uint8_t *chunk_own;
        size_t clen, cpos;
        int codec;
        bool expect_dict;
        int64_t rows_left; /* of the chunk, not yet in a page */
        /* the dictionary */
        bool has_dict;
        uint32_t dict_n;
        const uint8_t *dict; /* its values (PLAIN) */
        uint8_t *dict_own;
        uint32_t *dict_offs; /* BYTE_ARRAY: where each value's bytes start */
        uint32_t *dict_lens;
        /* the data page */
        uint8_t *pbuf;
        size_t pcap;
        uint32_t prow, prows;
        uint8_t *def; /* definition level per row; NULL for a required column */
        uint32_t *idx;
        uint32_t def_cap, idx_cap; /* entries def and idx hold */
        bool pdict;
        const uint8_t *vals; /* PLAIN values */
        size_t vlen;
        uint32_t val; /* next value */
        size_t vpos;  /* byte offset of the next BYTE_ARRAY value */
};

/* What is saved before a row, to give the row back. */
struct saved {
        uint32_t prow, val;
        size_t vpos;
};

struct pq_reader {
        int fd; /* -1: in memory */
        const uint8_t *mem;
        uint64_t size;
        struct pq_reader_opts o;
        uint8_t *footer_own;
        int ncols;
        struct rcol *cols;
        int nrg;
        struct rgroup *rgs;
        int64_t rows;
        int nkv;
        struct kv *kvs;
        /* binding and position */
        const struct zetl_schema *s; /* a reference */
        struct cur *curs;
        struct saved *saved;
        int rg;         /* current row group, -1: none loaded */
        int64_t rg_row; /* rows of it read */
        int64_t row;    /* file row number of the next row */
        ZSTD_DCtx *zd;
        int failed;
        struct zetl_err ferr;
};

/* ---- errors ----------------------------------------------------------------- */

static int proto(struct zetl_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int proto(struct zetl_err *err, const char *fmt, ...)
{
        char msg[ZETL_ERR_MSG_MAX - 16];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL, "parquet: %s", msg);
}

static int enomem(struct zetl_err *err)
{
        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "parquet: out of memory");
}

/* Make the reader failed: every later read returns this error. */
static int failed(struct pq_reader *r, int rc, const struct zetl_err *err)
{
        r->failed = rc;
        if (err)
                r->ferr = *err;
        return rc;
}

static uint32_t le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
        return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* ---- reading bytes ------------------------------------------------------------ */

/* n bytes at off, into a malloc'd buffer (fd) or a pointer into the input
 * (memory; *own stays NULL). The range was checked against the size. */
static int read_at(struct pq_reader *r, uint64_t off, size_t n, const uint8_t **p, uint8_t **own,
                   struct zetl_err *err)
{
        size_t got = 0;

        *own = NULL;
        if (off > r->size || n > r->size - off)
                return proto(err, "a range past the end of the file");
        if (!r->mem) {
                if (!(*own = malloc(n ? n : 1)))
                        return enomem(err);
                while (got < n) {
                        ssize_t k = pread(r->fd, *own + got, n - got, (off_t)(off + got));
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0) {
                                free(*own);
                                *own = NULL;
                                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT,
                                                    "parquet: read: %s",
                                                    k < 0 ? strerror(errno) : "file shrank");
                        }
                        got += (size_t)k;
                }
                *p = *own;
                return 0;
        }
        *p = r->mem + off;
        return 0;
}

/* ---- footer ---------------------------------------------------------------- */

struct selem {
        bool has_type;
        int32_t type, type_len, rep, num_children, conv, scale, precision, field_id;
        const uint8_t *name;
        size_t name_len;
        int lt; /* LogicalType member, 0: none */
        int32_t lt_scale, lt_precision;
        bool lt_utc;
        int lt_unit; /* TimeUnit member */
};

/* TIME and TIMESTAMP: {1: isAdjustedToUTC, 2: unit {1 MILLIS | 2 MICROS | 3 NANOS}}. */
static int parse_time_lt(struct td *t, struct selem *e)
{
        int16_t last = 0, id, ul = 0, uid;
        int ty, uty, rc;

        while ((rc = td_field(t, &last, &id, &ty)) == 1) {
                if (id == 1) {
                        td_bool(t, ty, &e->lt_utc);
                } else if (id == 2 && td_struct(t, ty) == 0) {
                        while ((rc = td_field(t, &ul, &uid, &uty)) == 1) {
                                e->lt_unit = uid;
                                td_skip(t, uty);
                        }
                        if (rc < 0)
                                return -1;
                } else {
                        td_skip(t, ty);
                }
        }
        return rc;
}

static int parse_logical(struct td *t, struct selem *e)
{
        int16_t last = 0, id, dl, did;
        int ty, dty, rc;

        while ((rc = td_field(t, &last, &id, &ty)) == 1) {
                if (td_struct(t, ty))
                        return -1;
                if (e->lt)
                        return -1; /* a union has one member */
                e->lt = id;
                if (id == LT_DECIMAL) {
                        dl = 0;
                        while ((rc = td_field(t, &dl, &did, &dty)) == 1) {
                                if (did == 1)
                                        td_i32(t, dty, &e->lt_scale);
                                else if (did == 2)
                                        td_i32(t, dty, &e->lt_precision);
                                else
                                        td_skip(t, dty);
                        }
                        if (rc < 0)
                                return -1;
                } else if (id == LT_TIME || id == LT_TIMESTAMP) {
                        if (parse_time_lt(t, e))
                                return -1;
                } else if (td_skip(t, THRIFT_STRUCT)) {
                        return -1;
                }
        }
        return rc;
}

static int parse_selem(struct td *t, struct selem *e)
{
        int16_t last = 0, id;
        int ty, rc;

        memset(e, 0, sizeof(*e));
        e->type_len = e->rep = e->num_children = e->conv = -1;
        e->scale = e->precision = e->field_id = -1;
        e->lt_scale = e->lt_precision = -1;
        while ((rc = td_field(t, &last, &id, &ty)) == 1) {
                switch (id) {
                case 1:
                        e->has_type = true;
                        td_i32(t, ty, &e->type);
                        break;
                case 2:
                        td_i32(t, ty, &e->type_len);
                        break;
                case 3:
                        td_i32(t, ty, &e->rep);
                        break;
                case 4:
                        td_binary(t, ty, &e->name, &e->name_len);
                        break;
                case 5:
                        td_i32(t, ty, &e->num_children);
                        break;
                case 6:
                        td_i32(t, ty, &e->conv);
                        break;
                case 7:
                        td_i32(t, ty, &e->scale);
                        break;
                case 8:
                        td_i32(t, ty, &e->precision);
                        break;
                case 9:
                        td_i32(t, ty, &e->field_id);
                        break;
                case 10:
                        if (td_struct(t, ty) == 0)
                                parse_logical(t, e);
                        break;
                default:
                        td_skip(t, ty);
                }
        }
        return rc < 0 || t->bad ? -1 : 0;
}

/* Fewest bytes of a FIXED_LEN_BYTE_ARRAY holding precision p (the writer's rule). */
static int flba_bytes(int p)
{
        unsigned __int128 need = 1;
        int n;

        for (n = 0; n < p; n++)
                need *= 10;
        for (n = 1; n < 16; n++)
                if (need <= (unsigned __int128)1 << (8 * n - 1))
                        break;
        return n;
}

/* The leaf's zetl type, from its physical and logical types; refuses what
 * the writer never makes. */
static int classify(struct rcol *c, const struct selem *e, struct zetl_err *err)
{
        const char *name = c->pub.name;
        int lt = e->lt;

        /* The converted type must agree with the logical type when both are given. */
        if (e->conv >= 0) {
                int want = lt == LT_STRING      ? CT_UTF8
                           : lt == LT_DECIMAL   ? CT_DECIMAL
                           : lt == LT_DATE      ? CT_DATE
                           : lt == LT_TIME      ? CT_TIME_MICROS
                           : lt == LT_TIMESTAMP ? CT_TS_MICROS
                                                : -2;
                if (lt == 0 && e->conv == CT_UTF8 && e->type == PT_BYTE_ARRAY)
                        lt = LT_STRING;
                else if (want != e->conv)
                        return proto(err,
                                     "column %s: converted type %d does not match its "
                                     "logical type",
                                     name, e->conv);
        }
        c->pub.precision = c->pub.scale = 0;
        switch (e->type) {
        case PT_BOOLEAN:
                c->width = -1;
                c->pub.type = ZETL_T_BOOL;
                if (lt)
                        goto bad;
                return 0;
        case PT_INT32:
        case PT_INT64:
                c->width = e->type == PT_INT32 ? 4 : 8;
                if (lt == 0) {
                        c->pub.type = e->type == PT_INT32 ? ZETL_T_INT32 : ZETL_T_INT64;
                        return 0;
                }
                if (lt == LT_DATE && e->type == PT_INT32) {
                        c->pub.type = ZETL_T_DATE;
                        return 0;
                }
                if ((lt == LT_TIME || lt == LT_TIMESTAMP) && e->type == PT_INT64) {
                        if (e->lt_unit != UNIT_MICROS || (lt == LT_TIME && e->lt_utc))
                                goto bad;
                        c->pub.type = lt == LT_TIME ? ZETL_T_TIME
                                      : e->lt_utc   ? ZETL_T_TIMESTAMPTZ
                                                    : ZETL_T_TIMESTAMP;
                        return 0;
                }
                if (lt == LT_DECIMAL)
                        break;
                goto bad;
        case PT_FLOAT:
        case PT_DOUBLE:
                c->width = e->type == PT_FLOAT ? 4 : 8;
                c->pub.type = e->type == PT_FLOAT ? ZETL_T_FLOAT32 : ZETL_T_FLOAT64;
                if (lt)
                        goto bad;
                return 0;
        case PT_BYTE_ARRAY:
                c->width = 0;
                c->pub.type = lt == LT_STRING ? ZETL_T_STRING : ZETL_T_BYTES;
                if (lt && lt != LT_STRING)
                        goto bad;
                return 0;
        case PT_FLBA:
                if (e->type_len < 1 || e->type_len > 16)
                        goto bad;
                c->width = e->type_len;
                if (lt == LT_UUID && e->type_len == 16) {
                        c->pub.type = ZETL_T_UUID;
                        return 0;
                }
                if (lt == LT_DECIMAL)
                        break;
                goto bad;
        default:
                goto bad;
        }
        /* Decimals: precision 1..38 fitting the physical type, scale 0..precision,
         * the same in the logical type and the schema element. */
        if (e->lt_precision < 1 || e->lt_precision > 38 || e->lt_scale < 0 ||
            e->lt_scale > e->lt_precision ||
            (e->precision >= 0 && e->precision != e->lt_precision) ||
            (e->scale >= 0 && e->scale != e->lt_scale))
                goto bad;
        if ((e->type == PT_INT32 && e->lt_precision > 9) ||
            (e->type == PT_INT64 && e->lt_precision > 18) ||
            (e->type == PT_FLBA && e->type_len < flba_bytes(e->lt_precision)))
                goto bad;
        c->pub.type = ZETL_T_DECIMAL;
        c->pub.precision = e->lt_precision;
        c->pub.scale = e->lt_scale;
        return 0;
bad:
        return proto(err, "column %s: physical type %d with logical type %d is not one zetl writes",
                     name, e->type, lt);
}

static char *dup_bytes(const uint8_t *p, size_t n)
{
        char *s = malloc(n + 1);

        if (s) {
                if (n)
                        memcpy(s, p, n);
                s[n] = '\0';
        }
        return s;
}

static int parse_schema(struct pq_reader *r, struct td *t, int ty, struct zetl_err *err)
{
        struct selem e;
        uint32_t n, i;
        int elem;

        if (r->cols)
                return proto(err, "two schemas in the footer");
        if (td_list(t, ty, &elem, &n) || td_struct(t, elem))
                return proto(err, "malformed schema");
        if (n < 2 || n - 1 > MAX_COLUMNS)
                return proto(err, "a schema of %u elements", n);
        if (parse_selem(t, &e))
                return proto(err, "malformed schema root");
        if (e.has_type || e.num_children != (int32_t)(n - 1))
                return proto(err, "the schema is not flat (root with %d children of %u)",
                             e.num_children, n - 1);
        r->cols = calloc(n - 1, sizeof(*r->cols));
        if (!r->cols)
                return enomem(err);
        r->ncols = (int)(n - 1);
        for (i = 0; i < n - 1; i++) {
                struct rcol *c = &r->cols[i];
                int rc;
                if (parse_selem(t, &e))
                        return proto(err, "malformed schema element %u", i + 1);
                if (!(c->pub.name = dup_bytes(e.name, e.name ? e.name_len : 0)))
                        return enomem(err);
                if (!e.has_type || e.num_children > 0 ||
                    (e.rep != REP_REQUIRED && e.rep != REP_OPTIONAL))
                        return proto(err, "column %s is not a required or optional primitive",
                                     c->pub.name);
                c->phys = e.type;
                c->optional = e.rep == REP_OPTIONAL;
                c->pub.required = !c->optional;
                c->pub.field_id = e.field_id;
                if ((rc = classify(c, &e, err)))
                        return rc;
        }
        return 0;
}

static int parse_chunk_meta(struct pq_reader *r, const struct rcol *c, struct td *t,
                            struct rchunk *ch, int64_t rows, uint64_t limit, struct zetl_err *err)
{
        int16_t last = 0, id;
        int ty, elem, rc;
        int32_t type = -1, codec = -1, v;
        int64_t num_values = -1, data_off = -1, dict_off = -1, comp = -1;
        uint32_t n, k;
        bool path_ok = false;

        while ((rc = td_field(t, &last, &id, &ty)) == 1) {
                switch (id) {
                case 1:
                        td_i32(t, ty, &type);
                        break;
                case 2: /* encodings: only what the writer uses */
                        if (td_list(t, ty, &elem, &n))
                                break;
                        for (k = 0; k < n && !t->bad; k++)
                                if (td_elem_i32(t, elem, &v) == 0 && v != ENC_PLAIN &&
                                    v != ENC_RLE && v != ENC_RLE_DICTIONARY &&
                                    v != ENC_PLAIN_DICTIONARY)
                                        return proto(err, "column %s: encoding %d", c->pub.name, v);
                        break;
                case 3: {
                        const uint8_t *p;
                        size_t len;
                        if (td_list(t, ty, &elem, &n) || n != 1 ||
                            td_elem_binary(t, elem, &p, &len))
                                break;
                        path_ok = len == strlen(c->pub.name) && memcmp(p, c->pub.name, len) == 0;
                        break;
                }
                case 4:
                        td_i32(t, ty, &codec);
                        break;
                case 5:
                        td_i64(t, ty, &num_values);
                        break;
                case 7:
                        td_i64(t, ty, &comp);
                        break;
                case 9:
                        td_i64(t, ty, &data_off);
                        break;
                case 11:
                        td_i64(t, ty, &dict_off);
                        break;
                default:
                        td_skip(t, ty);
                }
        }
        if (rc < 0 || t->bad)
                return proto(err, "malformed column chunk of %s", c->pub.name);
        (void)r;
        if (type != c->phys || !path_ok)
                return proto(err, "column chunk of %s does not match the schema", c->pub.name);
        if (codec != CODEC_UNCOMPRESSED && codec != CODEC_ZSTD)
                return proto(err, "column %s: codec %d (zetl writes ZSTD or none)", c->pub.name,
                             codec);
        if (num_values != rows)
                return proto(err, "column %s: %lld values in a row group of %lld rows", c->pub.name,
                             (long long)num_values, (long long)rows);
        if (data_off < 4 || comp < 0 || (dict_off >= 0 && (dict_off < 4 || dict_off >= data_off)))
                return proto(err, "column %s: bad page offsets", c->pub.name);
        ch->start = dict_off >= 0 ? dict_off : data_off;
        ch->has_dict = dict_off >= 0;
        ch->len = comp;
        ch->codec = codec;
        if ((uint64_t)ch->start > limit || (uint64_t)comp > limit - (uint64_t)ch->start ||
            (uint64_t)(data_off - ch->start) >= (uint64_t)comp + (comp == 0))
                return proto(err, "column %s: chunk outside the file's data", c->pub.name);
        return 0;
}

static int parse_column_chunk(struct pq_reader *r, const struct rcol *c, struct td *t,
                              struct rchunk *ch, int64_t rows, uint64_t limit, struct zetl_err *err)
{
        int16_t last = 0, id;
        int ty, rc;
        bool has_meta = false;

        while ((rc = td_field(t, &last, &id, &ty)) == 1) {
                if (id == 1)
                        return proto(err, "column %s: chunk in another file", c->pub.name);
                if (id == 3 && td_struct(t, ty) == 0 && !has_meta) {
                        if ((rc = parse_chunk_meta(r, c, t, ch, rows, limit, err)))
                                return rc;
                        has_meta = true;
                } else {
                        td_skip(t, ty);
                }
        }
        if (rc < 0 || t->bad || !has_meta)
                return proto(err, "malformed column chunk of %s", c->pub.name);
        return 0;
}

static int parse_row_group(struct pq_reader *r, struct td *t, struct rgroup *g, uint64_t limit,
                           struct zetl_err *err)
{
        int16_t last = 0, id;
        int ty, elem, rc;
        uint32_t n, k;
        const uint8_t *cols_at = NULL;
        struct td sub;

        g->rows = -1;
        /* num_rows (3) follows the columns (1): find both, then parse the columns. */
        while ((rc = td_field(t, &last, &id, &ty)) == 1) {
                if (id == 1 && !cols_at) {
                        cols_at = t->p;
                        td_skip(t, ty);
                } else if (id == 3) {
                        td_i64(t, ty, &g->rows);
                } else {
                        td_skip(t, ty);
                }
        }
        if (rc < 0 || t->bad || !cols_at || g->rows < 0)
                return proto(err, "malformed row group");
        sub = (struct td){ .p = cols_at, .end = t->end };
        if (td_list(&sub, THRIFT_LIST, &elem, &n) || td_struct(&sub, elem) ||
            n != (uint32_t)r->ncols)
                return proto(err, "a row group with %u column chunks for %d columns", n, r->ncols);
        if (!(g->chunks = calloc((size_t)r->ncols, sizeof(*g->chunks))))
                return enomem(err);
        for (k = 0; k < n; k++)
                if ((rc = parse_column_chunk(r, &r->cols[k], &sub, &g->chunks[k], g->rows, limit,
                                             err)))
                        return rc;
        return 0;
}

static int parse_kv(struct pq_reader *r, struct td *t, int ty, struct zetl_err *err)
{
        int elem;
        uint32_t n, k;

        if (r->kvs || td_list(t, ty, &elem, &n) || td_struct(t, elem))
                return proto(err, "malformed key/value metadata");
        if (!(r->kvs = calloc((size_t)n + 1, sizeof(*r->kvs))))
                return enomem(err);
        for (k = 0; k < n; k++) {
                int16_t last = 0, id;
                int fty, rc;
                const uint8_t *key = NULL, *val = NULL;
                size_t klen = 0, vlen = 0;
                while ((rc = td_field(t, &last, &id, &fty)) == 1) {
                        if (id == 1)
                                td_binary(t, fty, &key, &klen);
                        else if (id == 2)
                                td_binary(t, fty, &val, &vlen);
                        else
                                td_skip(t, fty);
                }
                if (rc < 0 || t->bad || !key)
                        return proto(err, "malformed key/value metadata");
                r->kvs[r->nkv].key = dup_bytes(key, klen);
                r->kvs[r->nkv].value = val ? dup_bytes(val, vlen) : NULL;
                r->nkv++;
                if (!r->kvs[r->nkv - 1].key || (val && !r->kvs[r->nkv - 1].value))
                        return enomem(err);
        }
        return 0;
}

/* FileMetaData; limit is where the footer starts (chunks must end before). */
static int parse_footer(struct pq_reader *r, const uint8_t *p, size_t n, uint64_t limit,
                        struct zetl_err *err)
{
        struct td t;
        int16_t last = 0, id;
        int ty, rc, elem;
        int64_t rows = -1, sum = 0;
        uint32_t ng, k;

        td_init(&t, p, n);
        while ((rc = td_field(&t, &last, &id, &ty)) == 1) {
                switch (id) {
                case 2:
                        if ((rc = parse_schema(r, &t, ty, err)))
                                return rc;
                        break;
                case 3:
                        td_i64(&t, ty, &rows);
                        break;
                case 4:
                        if (!r->cols || r->rgs)
                                return proto(err, "row groups before the schema");
                        if (td_list(&t, ty, &elem, &ng) || td_struct(&t, elem))
                                return proto(err, "malformed row groups");
                        if (!(r->rgs = calloc((size_t)ng + 1, sizeof(*r->rgs))))
                                return enomem(err);
                        for (k = 0; k < ng; k++) {
                                r->nrg++;
                                if ((rc = parse_row_group(r, &t, &r->rgs[k], limit, err)))
                                        return rc;
                                r->rgs[k].first_row = sum;
                                if (r->rgs[k].rows > INT64_MAX / 2 - sum)
                                        return proto(err, "row counts overflow");
                                sum += r->rgs[k].rows;
                        }
                        break;
                case 5:
                        if ((rc = parse_kv(r, &t, ty, err)))
                                return rc;
                        break;
                default:
                        td_skip(&t, ty);
                }
        }
        if (rc < 0 || t.bad)
                return proto(err, "malformed footer");
        if (!r->cols)
                return proto(err, "the footer has no schema");
        if (rows != sum)
                return proto(err, "the footer says %lld rows, its row groups %lld", (long long)rows,
                             (long long)sum);
        if (t.p != t.end)
                return proto(err, "bytes after the footer");
        r->rows = rows;
        return 0;
}

static int open_common(struct pq_reader *r, const struct pq_reader_opts *opts, struct zetl_err *err)
{
        uint8_t tail[8];
        const uint8_t *p;
        uint8_t *own = NULL;
        uint32_t flen;
        int rc;

        if (opts)
                r->o = *opts;
        if (!r->o.max_page_bytes)
                r->o.max_page_bytes = DEFAULT_MAX_PAGE;
        if (!r->o.max_footer_bytes)
                r->o.max_footer_bytes = DEFAULT_MAX_FOOTER;
        r->rg = -1;
        if (r->size < 12)
                return proto(err, "a file of %llu bytes", (unsigned long long)r->size);
        if ((rc = read_at(r, 0, 4, &p, &own, err)))
                return rc;
        rc = memcmp(p, "PAR1", 4) != 0;
        free(own);
        if (rc)
                return proto(err, "no leading PAR1 magic");
        if ((rc = read_at(r, r->size - 8, 8, &p, &own, err)))
                return rc;
        memcpy(tail, p, 8);
        free(own);
        if (memcmp(tail + 4, "PAR1", 4) != 0)
                return proto(err, "no trailing PAR1 magic");
        flen = le32(tail);
        if (flen == 0 || flen > r->size - 12 || flen > r->o.max_footer_bytes)
                return proto(err, "a footer of %u bytes in a file of %llu", flen,
                             (unsigned long long)r->size);
        if ((rc = read_at(r, r->size - 8 - flen, flen, &p, &r->footer_own, err)))
                return rc;
        rc = parse_footer(r, p, flen, r->size - 8 - flen, err);
        free(r->footer_own);
        r->footer_own = NULL;
        if (rc)
                return rc;
        if (!(r->zd = ZSTD_createDCtx()))
                return enomem(err);
        return 0;
}

int pq_reader_open_fd(int fd, const struct pq_reader_opts *opts, struct pq_reader **out,
                      struct zetl_err *err)
{
        struct pq_reader *r = calloc(1, sizeof(*r));
        struct stat st;
        int rc;

        if (!r)
                return enomem(err);
        r->fd = fd;
        if (fstat(fd, &st) < 0) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "parquet: fstat: %s",
                                  strerror(errno));
                goto free_r;
        }
        r->size = (uint64_t)st.st_size;
        if ((rc = open_common(r, opts, err)))
                goto free_r;
        *out = r;
        return 0;
free_r:
        pq_reader_free(r);
        return rc;
}

int pq_reader_open_mem(const uint8_t *data, size_t len, const struct pq_reader_opts *opts,
                       struct pq_reader **out, struct zetl_err *err)
{
        static const uint8_t empty[1];
        struct pq_reader *r = calloc(1, sizeof(*r));
        int rc;

        if (!r)
                return enomem(err);
        r->fd = -1;
        r->mem = data ? data : empty;
        r->size = data ? len : 0;
        if ((rc = open_common(r, opts, err))) {
                pq_reader_free(r);
                return rc;
        }
        *out = r;
        return 0;
}

/* ---- accessors ----------------------------------------------------------------- */

int64_t pq_reader_num_rows(const struct pq_reader *r)
{
        return r->rows;
}

int pq_reader_num_row_groups(const struct pq_reader *r)
{
        return r->nrg;
}

int pq_reader_ncols(const struct pq_reader *r)
{
        return r->ncols;
}

const struct pq_reader_col *pq_reader_col(const struct pq_reader *r, int i)
{
        return i >= 0 && i < r->ncols ? &r->cols[i].pub : NULL;
}

const char *pq_reader_meta(const struct pq_reader *r, const char *key)
{
        for (int i = 0; i < r->nkv; i++)
                if (strcmp(r->kvs[i].key, key) == 0)
                        return r->kvs[i].value;
        return NULL;
}

/* ---- cursors ------------------------------------------------------------------- */

static void cur_release(struct cur *c)
{
        free(c->chunk_own);
        free(c->dict_own);
        free(c->dict_offs);
        free(c->dict_lens);
        c->chunk = c->dict = NULL;
        c->chunk_own = c->dict_own = NULL;
        c->dict_offs = c->dict_lens = NULL;
        c->clen = c->cpos = 0;
        c->has_dict = false;
        c->dict_n = 0;
        c->prow = c->prows = 0;
        c->val = 0;
        c->vpos = 0;
}

static void cur_free(struct cur *c)
{
        cur_release(c);
        free(c->pbuf);
        free(c->def);
        free(c->idx);
}

static void unbind(struct pq_reader *r)
{
        for (int j = 0; r->curs && r->s && j < r->s->ncols; j++)
                cur_free(&r->curs[j]);
        free(r->curs);
        free(r->saved);
        if (r->s)
                zetl_schema_unref(r->s);
        r->curs = NULL;
        r->saved = NULL;
        r->s = NULL;
}

void pq_reader_free(struct pq_reader *r)
{
        if (!r)
                return;
        unbind(r);
        for (int i = 0; r->cols && i < r->ncols; i++)
                free((char *)r->cols[i].pub.name);
        free(r->cols);
        for (int g = 0; r->rgs && g < r->nrg; g++)
                free(r->rgs[g].chunks);
        free(r->rgs);
        for (int i = 0; i < r->nkv; i++) {
                free(r->kvs[i].key);
                free(r->kvs[i].value);
        }
        free(r->kvs);
        free(r->footer_own);
        ZSTD_freeDCtx(r->zd);
        free(r);
}

/* May a file column of type f be read as output column o? Iceberg's
 * promotions, plus string read as json. */
static bool compatible(const struct pq_reader_col *f, const struct zetl_column *o)
{
        switch (o->type) {
        case ZETL_T_INT16:
        case ZETL_T_INT32:
                return f->type == ZETL_T_INT32;
        case ZETL_T_INT64:
                return f->type == ZETL_T_INT32 || f->type == ZETL_T_INT64;
        case ZETL_T_FLOAT64:
                return f->type == ZETL_T_FLOAT32 || f->type == ZETL_T_FLOAT64;
        case ZETL_T_DECIMAL:
                return f->type == ZETL_T_DECIMAL && o->scale == f->scale &&
                       (o->precision == 0 ? 38 : o->precision) >= f->precision;
        case ZETL_T_JSON:
                return f->type == ZETL_T_STRING;
        default:
                return f->type == o->type;
        }
}

int pq_reader_bind(struct pq_reader *r, const struct zetl_schema *s, const int32_t *field_ids,
                   struct zetl_err *err)
{
        int j, k, i;

        unbind(r);
        r->rg = -1;
        r->rg_row = 0;
        r->row = 0;
        r->failed = 0;
        r->curs = calloc((size_t)s->ncols + 1, sizeof(*r->curs));
        r->saved = calloc((size_t)s->ncols + 1, sizeof(*r->saved));
        if (!r->curs || !r->saved) {
                free(r->curs);
                free(r->saved);
                r->curs = NULL;
                r->saved = NULL;
                return enomem(err);
        }
        r->s = zetl_schema_ref(s);
        for (j = 0; j < s->ncols; j++) {
                struct cur *c = &r->curs[j];
                c->fc = -1;
                c->out = s->cols[j].type;
                if (field_ids[j] < 0)
                        continue;
                for (k = 0; k < j; k++)
                        if (field_ids[k] == field_ids[j]) {
                                unbind(r);
                                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                                    "parquet: field id %d bound twice",
                                                    field_ids[j]);
                        }
                for (i = 0; i < r->ncols; i++)
                        if (r->cols[i].pub.field_id == field_ids[j])
                                break;
                if (i == r->ncols)
                        continue;
                if (!compatible(&r->cols[i].pub, &s->cols[j])) {
                        const struct pq_reader_col *f = &r->cols[i].pub;
                        char name[ZETL_NAME_MAX];
                        snprintf(name, sizeof(name), "%s", s->cols[j].name);
                        unbind(r);
                        return proto(err,
                                     "column %s (field %d): a %s(%d,%d) in the file cannot "
                                     "be read as %s",
                                     name, field_ids[j], zetl_type_name(f->type), f->precision,
                                     f->scale, zetl_type_name(s->cols[j].type));
                }
                c->fc = i;
                c->col = &r->cols[i];
        }
        return 0;
}

/* ---- pages ------------------------------------------------------------------------ */

/* Decode n values of the RLE / bit-packing hybrid (bit width bw, 0..32) from
 * p[0..len) into u32 (or u8, for levels); the runs must cover exactly n
 * values (a bit-packed run's last group may be padding) and end at len. */
static int rle_decode(const uint8_t *p, size_t len, int bw, uint32_t n, uint32_t *u32, uint8_t *u8)
{
        size_t at = 0;
        uint32_t got = 0;
        uint64_t mask = bw == 32 ? 0xffffffffu : ((uint64_t)1 << bw) - 1;

        while (got < n) {
                uint64_t h = 0;
                int shift;
                for (shift = 0;; shift += 7) {
                        if (at >= len || shift > 28)
                                return -1;
                        h |= (uint64_t)(p[at] & 0x7f) << shift;
                        if (!(p[at++] & 0x80))
                                break;
                }
                if (h & 1) {
                        uint64_t groups = h >> 1, count, bytes, i;
                        if (groups == 0)
                                return -1;
                        count = groups * 8;
                        bytes = groups * (uint64_t)bw;
                        if (bytes > len - at)
                                return -1;
                        if (count > n - got)
                                count = n - got;
                        for (i = 0; i < count; i++) {
                                uint64_t bit = i * (uint64_t)bw, acc = 0;
                                size_t byte = (size_t)(bit >> 3), b;
                                for (b = 0; b < 5 && byte + b < bytes; b++)
                                        acc |= (uint64_t)p[at + byte + b] << (8 * b);
                                uint32_t v = (uint32_t)((acc >> (bit & 7)) & mask);
                                if (u32)
                                        u32[got] = v;
                                else
                                        u8[got] = (uint8_t)v;
                                got++;
                        }
                        at += bytes;
                } else {
                        uint64_t count = h >> 1, v = 0;
                        int vb = (bw + 7) / 8, b;
                        if (count == 0 || count > n - got || (size_t)vb > len - at)
                                return -1;
                        for (b = 0; b < vb; b++)
                                v |= (uint64_t)p[at + b] << (8 * b);
                        at += (size_t)vb;
                        if (v > mask)
                                return -1;
                        while (count--) {
                                if (u32)
                                        u32[got] = (uint32_t)v;
                                else
                                        u8[got] = (uint8_t)v;
                                got++;
                        }
                }
        }
        return at == len ? 0 : -1;
}

/* Walk n BYTE_ARRAY values in p[0..len): lengths in bounds, strings UTF-8;
 * fills offs/lens when given. They must end exactly at len. */
static int walk_bytes(const struct rcol *c, const uint8_t *p, size_t len, uint32_t n,
                      uint32_t *offs, uint32_t *lens)
{
        size_t at = 0;
        uint32_t i, l;

        for (i = 0; i < n; i++) {
                if (len - at < 4)
                        return -1;
                l = le32(p + at);
                at += 4;
                if (l > len - at)
                        return -1;
                if (c->pub.type == ZETL_T_STRING && !zetl_utf8_valid(p + at, l))
                        return -1;
                if (offs) {
                        offs[i] = (uint32_t)at;
                        lens[i] = l;
                }
                at += l;
        }
        return at == len ? 0 : -1;
}

/* Bytes of n PLAIN values of fixed width (booleans bit-packed). */
static uint64_t plain_bytes(const struct rcol *c, uint32_t n)
{
        return c->width < 0 ? ((uint64_t)n + 7) / 8 : (uint64_t)n * (uint64_t)c->width;
}

/* The body of the page whose compressed bytes are src[0..clen): a pointer
 * into the chunk (uncompressed) or into *buf (grown as needed). */
static int page_body(struct pq_reader *r, struct cur *c, const uint8_t *src, size_t clen,
                     size_t ulen, uint8_t **buf, size_t *cap, const uint8_t **body,
                     struct zetl_err *err)
{
        unsigned long long fs;
        size_t got;

        if (c->codec == CODEC_UNCOMPRESSED) {
                if (clen != ulen)
                        return proto(err, "column %s: an uncompressed page of %zu bytes says %zu",
                                     c->col->pub.name, clen, ulen);
                *body = src;
                return 0;
        }
        if (ulen > r->o.max_page_bytes)
                return proto(err, "column %s: a page of %zu bytes (limit %zu)", c->col->pub.name,
                             ulen, r->o.max_page_bytes);
        fs = ZSTD_getFrameContentSize(src, clen);
        if (fs != (unsigned long long)ulen)
                return proto(err, "column %s: a zstd frame that does not hold %zu bytes",
                             c->col->pub.name, ulen);
        if (*cap < ulen + 1) {
                uint8_t *p = realloc(*buf, ulen + 1);
                if (!p)
                        return enomem(err);
                *buf = p;
                *cap = ulen + 1;
        }
        got = ZSTD_decompressDCtx(r->zd, *buf, ulen, src, clen);
        if (ZSTD_isError(got) || got != ulen)
                return proto(err, "column %s: zstd: %s", c->col->pub.name,
                             ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short page");
        *body = *buf;
        return 0;
}

struct page_header {
        int32_t type, ulen, clen;
        int32_t nvals, enc, def_enc; /* data or dictionary page header */
        bool has_data, has_dict;
};

static int parse_page_header(struct td *t, struct page_header *h)
{
        int16_t last = 0, id, sl, sid;
        int ty, sty, rc;

        memset(h, 0, sizeof(*h));
        h->type = h->ulen = h->clen = h->nvals = h->enc = h->def_enc = -1;
        while ((rc = td_field(t, &last, &id, &ty)) == 1) {
                if (id == 1) {
                        td_i32(t, ty, &h->type);
                } else if (id == 2) {
                        td_i32(t, ty, &h->ulen);
                } else if (id == 3) {
                        td_i32(t, ty, &h->clen);
                } else if ((id == 5 || id == 7) && td_struct(t, ty) == 0) {
                        if (h->has_data || h->has_dict)
                                return -1;
                        h->has_data = id == 5;
                        h->has_dict = id == 7;
                        sl = 0;
                        while ((rc = td_field(t, &sl, &sid, &sty)) == 1) {
                                if (sid == 1)
                                        td_i32(t, sty, &h->nvals);
                                else if (sid == 2)
                                        td_i32(t, sty, &h->enc);
                                else if (sid == 3 && id == 5)
                                        td_i32(t, sty, &h->def_enc);
                                else
                                        td_skip(t, sty);
                        }
                        if (rc < 0)
                                return -1;
                } else {
                        td_skip(t, ty);
                }
        }
        return rc < 0 || t->bad ? -1 : 0;
}

static int load_dict(struct pq_reader *r, struct cur *c, const struct page_header *h,
                     const uint8_t *src, struct zetl_err *err)
{
        const struct rcol *col = c->col;
        const uint8_t *body;
        size_t cap = 0;
        uint32_t n;
        int rc;

        if (!c->expect_dict || c->has_dict || c->cpos != 0 || col->width < 0)
                return proto(err, "column %s: an unexpected dictionary page", col->pub.name);
        if (h->nvals < 0 || (h->enc != ENC_PLAIN && h->enc != ENC_PLAIN_DICTIONARY))
                return proto(err, "column %s: a bad dictionary page", col->pub.name);
        n = (uint32_t)h->nvals;
        if ((rc = page_body(r, c, src, (size_t)h->clen, (size_t)h->ulen, &c->dict_own, &cap, &body,
                            err)))
                return rc;
        if (col->width > 0) {
                if (plain_bytes(col, n) != (uint64_t)h->ulen)
                        return proto(err, "column %s: a dictionary of %u values in %d bytes",
                                     col->pub.name, n, h->ulen);
        } else {
                /* Every entry takes at least its 4-byte length. */
                if ((uint64_t)n * 4 > (uint64_t)h->ulen)
                        return proto(err, "column %s: a dictionary of %u values in %d bytes",
                                     col->pub.name, n, h->ulen);
                c->dict_offs = malloc(((size_t)n + 1) * sizeof(uint32_t));
                c->dict_lens = malloc(((size_t)n + 1) * sizeof(uint32_t));
                if (!c->dict_offs || !c->dict_lens)
                        return enomem(err);
                if (walk_bytes(col, body, (size_t)h->ulen, n, c->dict_offs, c->dict_lens))
                        return proto(err, "column %s: a malformed dictionary", col->pub.name);
        }
        c->dict = body;
        c->dict_n = n;
        c->has_dict = true;
        return 0;
}

static int grow_page_arrays(struct cur *c, uint32_t rows, struct zetl_err *err)
{
        /* Grown to the largest page seen: PAGE_MAX_ROWS bounds them. */
        if (c->col->optional && rows > c->def_cap) {
                uint8_t *d = realloc(c->def, rows);
                if (!d)
                        return enomem(err);
                c->def = d;
                c->def_cap = rows;
        }
        if (c->has_dict && rows > c->idx_cap) {
                uint32_t *x = realloc(c->idx, (size_t)rows * sizeof(uint32_t));
                if (!x)
                        return enomem(err);
                c->idx = x;
                c->idx_cap = rows;
        }
        return 0;
}

static int load_data(struct pq_reader *r, struct cur *c, const struct page_header *h,
                     const uint8_t *src, struct zetl_err *err)
{
        const struct rcol *col = c->col;
        const uint8_t *body, *v;
        size_t len, at = 0;
        uint32_t rows, nvals = 0, i;
        int rc;

        if (h->nvals <= 0 || (int64_t)h->nvals > c->rows_left || (uint32_t)h->nvals > PAGE_MAX_ROWS)
                return proto(err, "column %s: a data page of %d rows (%lld left in the chunk)",
                             col->pub.name, h->nvals, (long long)c->rows_left);
        if (h->enc != ENC_PLAIN && h->enc != ENC_RLE_DICTIONARY && h->enc != ENC_PLAIN_DICTIONARY)
                return proto(err, "column %s: page encoding %d", col->pub.name, h->enc);
        if (h->enc != ENC_PLAIN && !c->has_dict)
                return proto(err, "column %s: dictionary indices without a dictionary",
                             col->pub.name);
        rows = (uint32_t)h->nvals;
        if ((rc = page_body(r, c, src, (size_t)h->clen, (size_t)h->ulen, &c->pbuf, &c->pcap, &body,
                            err)))
                return rc;
        len = (size_t)h->ulen;
        if ((rc = grow_page_arrays(c, rows, err)))
                return rc;
        if (col->optional) {
                uint32_t dl;
                if (h->def_enc != ENC_RLE || len < 4)
                        return proto(err, "column %s: bad definition levels", col->pub.name);
                dl = le32(body);
                if (dl > len - 4 || rle_decode(body + 4, dl, 1, rows, NULL, c->def))
                        return proto(err, "column %s: malformed definition levels", col->pub.name);
                at = 4 + (size_t)dl;
                for (i = 0; i < rows; i++)
                        nvals += c->def[i];
        } else {
                nvals = rows;
        }
        v = body + at;
        len -= at;
        c->pdict = h->enc != ENC_PLAIN;
        if (c->pdict) {
                if (len < 1 || v[0] > 32 || rle_decode(v + 1, len - 1, v[0], nvals, c->idx, NULL))
                        return proto(err, "column %s: malformed dictionary indices", col->pub.name);
                for (i = 0; i < nvals; i++)
                        if (c->idx[i] >= c->dict_n)
                                return proto(err, "column %s: dictionary index %u of %u",
                                             col->pub.name, c->idx[i], c->dict_n);
        } else if (col->width != 0) {
                if (plain_bytes(col, nvals) != (uint64_t)len)
                        return proto(err, "column %s: %u values in %zu bytes", col->pub.name, nvals,
                                     len);
        } else if (walk_bytes(col, v, len, nvals, NULL, NULL)) {
                return proto(err, "column %s: malformed values", col->pub.name);
        }
        c->vals = v;
        c->vlen = len;
        c->val = 0;
        c->vpos = 0;
        c->prow = 0;
        c->prows = rows;
        c->rows_left -= rows;
        return 0;
}

/* Load the next data page of c (after the dictionary page, if any). */
static int next_page(struct pq_reader *r, struct cur *c, struct zetl_err *err)
{
        for (;;) {
                struct page_header h;
                struct td t;
                const uint8_t *src;
                size_t hlen;
                int rc;

                if (c->cpos >= c->clen)
                        return proto(err, "column %s: the chunk ends %lld rows early",
                                     c->col->pub.name, (long long)c->rows_left);
                td_init(&t, c->chunk + c->cpos, c->clen - c->cpos);
                if (parse_page_header(&t, &h) || h.ulen < 0 || h.clen < 0)
                        return proto(err, "column %s: a malformed page header", c->col->pub.name);
                hlen = td_used(&t, c->chunk + c->cpos);
                if ((size_t)h.clen > c->clen - c->cpos - hlen)
                        return proto(err, "column %s: a page past its chunk", c->col->pub.name);
                src = c->chunk + c->cpos + hlen;
                if (h.type == PAGE_DICTIONARY && h.has_dict) {
                        if ((rc = load_dict(r, c, &h, src, err)))
                                return rc;
                        c->cpos += hlen + (size_t)h.clen;
                        continue;
                }
                if (h.type != PAGE_DATA || !h.has_data)
                        return proto(err, "column %s: page type %d", c->col->pub.name, h.type);
                if (c->expect_dict && !c->has_dict)
                        return proto(err, "column %s: no dictionary page first", c->col->pub.name);
                if ((rc = load_data(r, c, &h, src, err)))
                        return rc;
                c->cpos += hlen + (size_t)h.clen;
                return 0;
        }
}

/* Load row group g's chunks for the bound columns. */
static int load_row_group(struct pq_reader *r, int g, struct zetl_err *err)
{
        int rc;

        for (int j = 0; j < r->s->ncols; j++) {
                struct cur *c = &r->curs[j];
                const struct rchunk *ch;
                cur_release(c);
                if (c->fc < 0)
                        continue;
                ch = &r->rgs[g].chunks[c->fc];
                if ((rc = read_at(r, (uint64_t)ch->start, (size_t)ch->len, &c->chunk, &c->chunk_own,
                                  err)))
                        return rc;
                c->clen = (size_t)ch->len;
                c->codec = ch->codec;
                c->expect_dict = ch->has_dict;
                c->rows_left = r->rgs[g].rows;
        }
        r->rg = g;
        r->rg_row = 0;
        return 0;
}

/* Every bound chunk of the finished row group must be used up exactly. */
static int finish_row_group(struct pq_reader *r, struct zetl_err *err)
{
        for (int j = 0; j < r->s->ncols; j++) {
                const struct cur *c = &r->curs[j];
                if (c->fc >= 0 && (c->prow != c->prows || c->rows_left != 0 || c->cpos != c->clen))
                        return proto(err, "column %s: pages beyond the row group's %lld rows",
                                     c->col->pub.name, (long long)r->rgs[r->rg].rows);
        }
        return 0;
}

/* ---- rows ------------------------------------------------------------------------- */

static __int128 load_be(const uint8_t *p, int n)
{
        unsigned __int128 u = (p[0] & 0x80) ? ~(unsigned __int128)0 : 0;

        for (int i = 0; i < n; i++)
                u = u << 8 | p[i];
        return (__int128)u;
}

/* The canonical decimal text of unscaled value v at scale s. */
static size_t dec_text(__int128 v, int s, char *out)
{
        char digits[48];
        unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
        int n = 0, at = 0;

        do {
                digits[n++] = (char)('0' + (int)(u % 10));
                u /= 10;
        } while (u);
        while (n < s + 1)
                digits[n++] = '0';
        if (v < 0)
                out[at++] = '-';
        for (int i = n - 1; i >= 0; i--) {
                out[at++] = digits[i];
                if (i == s && s > 0)
                        out[at++] = '.';
        }
        return (size_t)at;
}

static bool dec_fits(__int128 v, int precision)
{
        unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v, lim = 1;

        for (int i = 0; i < precision; i++)
                lim *= 10;
        return u < lim;
}

/* The next value of c: its bytes (and length for BYTE_ARRAY); for booleans
 * *bit is set instead. */
static void take_value(struct cur *c, const uint8_t **p, size_t *len, bool *bit)
{
        const struct rcol *col = c->col;
        uint32_t i = c->val++;

        if (col->width < 0) {
                *bit = (c->vals[i >> 3] >> (i & 7)) & 1;
                return;
        }
        if (c->pdict) {
                uint32_t k = c->idx[i];
                if (col->width > 0) {
                        *p = c->dict + (size_t)k * (size_t)col->width;
                        *len = (size_t)col->width;
                } else {
                        *p = c->dict + c->dict_offs[k];
                        *len = c->dict_lens[k];
                }
                return;
        }
        if (col->width > 0) {
                *p = c->vals + (size_t)i * (size_t)col->width;
                *len = (size_t)col->width;
                return;
        }
        *len = le32(c->vals + c->vpos);
        *p = c->vals + c->vpos + 4;
        c->vpos += 4 + *len;
}

/* Set cell j of the row being built from c's next value. */
static int put_cell(struct pq_reader *r, struct cur *c, struct zetl_batch *b, int j,
                    struct zetl_err *err)
{
        const struct rcol *col = c->col;
        const uint8_t *p = NULL;
        size_t len = 0;
        bool bit = false;

        if (col->optional && !c->def[c->prow])
                return 0; /* NULL: the row starts with every cell NULL */
        take_value(c, &p, &len, &bit);
        switch (col->pub.type) {
        case ZETL_T_BOOL:
                zetl_batch_set_bool(b, j, bit);
                return 0;
        case ZETL_T_INT32:
        case ZETL_T_DATE: {
                int32_t x = (int32_t)le32(p);
                if (c->out == ZETL_T_INT64)
                        zetl_batch_set_i64(b, j, x);
                else if (c->out == ZETL_T_INT16 && (x < INT16_MIN || x > INT16_MAX))
                        return proto(err, "column %s: %d does not fit int16", col->pub.name, x);
                else if (c->out == ZETL_T_INT16)
                        zetl_batch_set_i16(b, j, (int16_t)x);
                else
                        zetl_batch_set_i32(b, j, x);
                return 0;
        }
        case ZETL_T_INT64:
        case ZETL_T_TIME:
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                zetl_batch_set_i64(b, j, (int64_t)le64(p));
                return 0;
        case ZETL_T_FLOAT32: {
                uint32_t u = le32(p);
                float f;
                memcpy(&f, &u, 4);
                if (c->out == ZETL_T_FLOAT64)
                        zetl_batch_set_f64(b, j, f);
                else
                        zetl_batch_set_f32(b, j, f);
                return 0;
        }
        case ZETL_T_FLOAT64: {
                uint64_t u = le64(p);
                double d;
                memcpy(&d, &u, 8);
                zetl_batch_set_f64(b, j, d);
                return 0;
        }
        case ZETL_T_DECIMAL: {
                __int128 v = col->phys == PT_INT32   ? (int32_t)le32(p)
                             : col->phys == PT_INT64 ? (int64_t)le64(p)
                                                     : load_be(p, col->width);
                char text[48];
                size_t n;
                uint8_t *dst;
                if (!dec_fits(v, col->pub.precision))
                        return proto(err, "column %s: a value with more than %d digits",
                                     col->pub.name, col->pub.precision);
                n = dec_text(v, col->pub.scale, text);
                if (!(dst = zetl_batch_var_reserve(b, j, n, err)))
                        return err->code;
                memcpy(dst, text, n);
                zetl_batch_var_commit(b, j, n);
                return 0;
        }
        case ZETL_T_UUID:
                zetl_batch_set_uuid(b, j, p);
                return 0;
        default: /* string, bytes */
                (void)r;
                return zetl_batch_set_var(b, j, p, len, err);
        }
}

/* Before a row: every bound column has a page with rows left. */
static int ready_row(struct pq_reader *r, struct zetl_err *err)
{
        int rc;

        while (r->rg < 0 || r->rg_row == r->rgs[r->rg].rows) {
                if (r->rg >= 0 && (rc = finish_row_group(r, err)))
                        return rc;
                if (r->rg + 1 >= r->nrg)
                        return 0;
                if ((rc = load_row_group(r, r->rg + 1, err)))
                        return rc;
        }
        for (int j = 0; j < r->s->ncols; j++) {
                struct cur *c = &r->curs[j];
                if (c->fc >= 0 && c->prow == c->prows && (rc = next_page(r, c, err)))
                        return rc;
        }
        return 1;
}

static int read_rows(struct pq_reader *r, struct zetl_batch *b, uint32_t max_rows,
                     struct zetl_err *err)
{
        uint32_t n = 0;
        int rc = 0, j;

        if (r->failed) {
                if (err)
                        *err = r->ferr;
                return r->failed;
        }
        if (!r->s || b->schema->ncols != r->s->ncols)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "parquet: read into a batch of another schema");
        if (max_rows > INT32_MAX)
                max_rows = INT32_MAX;
        while (n < max_rows) {
                if ((rc = ready_row(r, err)) <= 0)
                        break;
                for (j = 0; j < r->s->ncols; j++)
                        r->saved[j] =
                                (struct saved){ r->curs[j].prow, r->curs[j].val, r->curs[j].vpos };
                rc = zetl_batch_row_begin(b, ZETL_OP_SNAPSHOT, (uint64_t)r->row, err);
                for (j = 0; rc == 0 && j < r->s->ncols; j++) {
                        struct cur *c = &r->curs[j];
                        if (c->fc < 0)
                                continue;
                        rc = put_cell(r, c, b, j, err);
                        c->prow++;
                }
                if (rc) {
                        if (b->cur >= 0)
                                zetl_batch_row_abort(b);
                        for (j = 0; j < r->s->ncols; j++) {
                                r->curs[j].prow = r->saved[j].prow;
                                r->curs[j].val = r->saved[j].val;
                                r->curs[j].vpos = r->saved[j].vpos;
                        }
                        if (rc == ZETL_ELIMIT && n > 0) {
                                zetl_err_clear(err);
                                rc = 0;
                        }
                        break;
                }
                zetl_batch_row_end(b);
                r->rg_row++;
                r->row++;
                n++;
        }
        if (rc < 0) {
                /* ELIMIT of a lone row may succeed with a larger batch: not sticky. */
                if (rc != ZETL_ELIMIT)
                        failed(r, rc, err);
                return rc;
        }
        return (int)n;
}

int pq_reader_read(struct pq_reader *r, struct zetl_batch *b, uint32_t max_rows,
                   struct zetl_err *err)
{
        struct zetl_err lerr = { 0 };
        int rc = read_rows(r, b, max_rows, &lerr);

        if (rc < 0 && err)
                *err = lerr;
        return rc;
}
