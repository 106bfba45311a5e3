/*
 * Avro binary encoding and object container files, written from the Avro
 * 1.11 specification (see avro.h for the contract). Only what Iceberg's
 * manifests need: no schema parsing, the caller knows its records' layout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <zlib.h>

#include "avro.h"
#include "fsutil.h"

static const uint8_t avro_magic[4] = { 'O', 'b', 'j', 1 };

/* ---- encoding ------------------------------------------------------------- */

void ice_avro_buf_init(struct ice_avro_buf *b, size_t max)
{
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
        b->max = max ? max : ICE_AVRO_MAX_BLOCK;
        b->status = 0;
}

void ice_avro_buf_free(struct ice_avro_buf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
        b->status = 0;
}

void ice_avro_buf_reset(struct ice_avro_buf *b)
{
        b->len = 0;
        b->status = 0;
}

static int buf_reserve(struct ice_avro_buf *b, size_t n)
{
        size_t ncap;
        uint8_t *nd;

        if (b->status)
                return b->status;
        if (n > b->max - b->len)
                return b->status = ZETL_ELIMIT;
        if (b->len + n <= b->cap)
                return 0;
        ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + n)
                ncap = ncap > b->max / 2 ? b->max : ncap * 2;
        nd = realloc(b->data, ncap);
        if (!nd)
                return b->status = ZETL_ENOMEM;
        b->data = nd;
        b->cap = ncap;
        return 0;
}

int ice_avro_put_raw(struct ice_avro_buf *b, const void *p, size_t n)
{
        int rc = buf_reserve(b, n);

        if (rc)
                return rc;
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        return 0;
}

int ice_avro_put_long(struct ice_avro_buf *b, int64_t v)
{
        /* Zigzag maps small magnitudes of either sign to small unsigned values. */
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        uint8_t tmp[10];
        size_t n = 0;

        do {
                uint8_t byte = u & 0x7f;

                u >>= 7;
                tmp[n++] = byte | (u ? 0x80 : 0);
        } while (u);
        return ice_avro_put_raw(b, tmp, n);
}

int ice_avro_put_int(struct ice_avro_buf *b, int32_t v)
{
        return ice_avro_put_long(b, v);
}

int ice_avro_put_bool(struct ice_avro_buf *b, bool v)
{
        uint8_t byte = v ? 1 : 0;

        return ice_avro_put_raw(b, &byte, 1);
}

static int put_le(struct ice_avro_buf *b, uint64_t bits, size_t n)
{
        uint8_t tmp[8];

        for (size_t i = 0; i < n; i++)
                tmp[i] = (uint8_t)(bits >> (8 * i));
        return ice_avro_put_raw(b, tmp, n);
}

int ice_avro_put_float(struct ice_avro_buf *b, float v)
{
        uint32_t bits;

        memcpy(&bits, &v, sizeof(bits));
        return put_le(b, bits, 4);
}

int ice_avro_put_double(struct ice_avro_buf *b, double v)
{
        uint64_t bits;

        memcpy(&bits, &v, sizeof(bits));
        return put_le(b, bits, 8);
}

int ice_avro_put_bytes(struct ice_avro_buf *b, const void *p, size_t n)
{
        int rc;

        if (n > (size_t)INT64_MAX)
                return b->status ? b->status : (b->status = ZETL_ELIMIT);
        rc = ice_avro_put_long(b, (int64_t)n);
        return rc ? rc : ice_avro_put_raw(b, p, n);
}

int ice_avro_put_string(struct ice_avro_buf *b, const char *s)
{
        return ice_avro_put_bytes(b, s, strlen(s));
}

int ice_avro_put_fixed(struct ice_avro_buf *b, const void *p, size_t n)
{
        return ice_avro_put_raw(b, p, n);
}

int ice_avro_put_union(struct ice_avro_buf *b, int branch)
{
        return ice_avro_put_long(b, branch);
}

int ice_avro_put_block(struct ice_avro_buf *b, size_t n)
{
        if (n > (size_t)INT64_MAX)
                return b->status ? b->status : (b->status = ZETL_ELIMIT);
        return ice_avro_put_long(b, (int64_t)n);
}

int ice_avro_put_block_end(struct ice_avro_buf *b)
{
        return ice_avro_put_long(b, 0);
}

/* ---- decoding ------------------------------------------------------------- */

static int truncated(const struct ice_avro_cur *c, const char *what, struct zetl_err *err)
{
        return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                            "avro: truncated %s at byte %zu of %zu", what, c->pos, c->len);
}

int ice_avro_get_long(struct ice_avro_cur *c, int64_t *v, struct zetl_err *err)
{
        uint64_t u = 0;
        size_t start = c->pos;

        for (int shift = 0;; shift += 7) {
                uint8_t byte;

                if (c->pos >= c->len)
                        return truncated(c, "varint", err);
                byte = c->p[c->pos++];
                /* The tenth byte may only carry the top bit of 64. */
                if (shift == 63 && (byte & 0xfe))
                        return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                            "avro: varint longer than 64 bits at byte %zu", start);
                u |= (uint64_t)(byte & 0x7f) << shift;
                if (!(byte & 0x80))
                        break;
        }
        *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        return 0;
}

int ice_avro_get_int(struct ice_avro_cur *c, int32_t *v, struct zetl_err *err)
{
        size_t start = c->pos;
        int64_t l;
        int rc = ice_avro_get_long(c, &l, err);

        if (rc)
                return rc;
        if (l < INT32_MIN || l > INT32_MAX)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "avro: int out of range at byte %zu", start);
        *v = (int32_t)l;
        return 0;
}

int ice_avro_get_bool(struct ice_avro_cur *c, bool *v, struct zetl_err *err)
{
        if (c->pos >= c->len)
                return truncated(c, "boolean", err);
        if (c->p[c->pos] > 1)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "avro: boolean byte %u at byte %zu", c->p[c->pos], c->pos);
        *v = c->p[c->pos++] == 1;
        return 0;
}

static int get_le(struct ice_avro_cur *c, size_t n, uint64_t *bits, const char *what,
                  struct zetl_err *err)
{
        if (c->len - c->pos < n)
                return truncated(c, what, err);
        *bits = 0;
        for (size_t i = 0; i < n; i++)
                *bits |= (uint64_t)c->p[c->pos + i] << (8 * i);
        c->pos += n;
        return 0;
}

int ice_avro_get_float(struct ice_avro_cur *c, float *v, struct zetl_err *err)
{
        uint64_t bits;
        uint32_t b32;
        int rc = get_le(c, 4, &bits, "float", err);

        if (rc)
                return rc;
        b32 = (uint32_t)bits;
        memcpy(v, &b32, sizeof(*v));
        return 0;
}

int ice_avro_get_double(struct ice_avro_cur *c, double *v, struct zetl_err *err)
{
        uint64_t bits;
        int rc = get_le(c, 8, &bits, "double", err);

        if (rc)
                return rc;
        memcpy(v, &bits, sizeof(*v));
        return 0;
}

int ice_avro_get_bytes(struct ice_avro_cur *c, const uint8_t **p, size_t *n, struct zetl_err *err)
{
        size_t start = c->pos;
        int64_t l;
        int rc = ice_avro_get_long(c, &l, err);

        if (rc)
                return rc;
        if (l < 0)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "avro: negative length %lld at byte %zu", (long long)l, start);
        if ((uint64_t)l > c->len - c->pos)
                return truncated(c, "bytes", err);
        *p = c->p + c->pos;
        *n = (size_t)l;
        c->pos += (size_t)l;
        return 0;
}

int ice_avro_get_fixed(struct ice_avro_cur *c, size_t n, const uint8_t **p, struct zetl_err *err)
{
        if (c->len - c->pos < n)
                return truncated(c, "fixed", err);
        *p = c->p + c->pos;
        c->pos += n;
        return 0;
}

int ice_avro_get_union(struct ice_avro_cur *c, int nbranches, int *branch, struct zetl_err *err)
{
        size_t start = c->pos;
        int64_t l;
        int rc = ice_avro_get_long(c, &l, err);

        if (rc)
                return rc;
        if (l < 0 || l >= nbranches)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "avro: union branch %lld of %d at byte %zu", (long long)l,
                                    nbranches, start);
        *branch = (int)l;
        return 0;
}

int ice_avro_get_block(struct ice_avro_cur *c, int64_t *count, struct zetl_err *err)
{
        size_t start = c->pos;
        int64_t l, size;
        int rc = ice_avro_get_long(c, &l, err);

        if (rc)
                return rc;
        if (l < 0) {
                /* A negative count is followed by the block's size in bytes. */
                if (l == INT64_MIN)
                        return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                            "avro: bad block count at byte %zu", start);
                l = -l;
                rc = ice_avro_get_long(c, &size, err);
                if (rc)
                        return rc;
                if (size < 0 || (uint64_t)size > c->len - c->pos)
                        return truncated(c, "block", err);
        }
        /* Every item takes at least one byte in the schemas we read; this
         * stops a forged count before anyone sizes an allocation by it. */
        if ((uint64_t)l > c->len - c->pos)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "avro: block count %lld exceeds the %zu bytes left at byte %zu",
                                    (long long)l, c->len - c->pos, start);
        *count = l;
        return 0;
}

/* ---- container writer ----------------------------------------------------- */

struct ice_avro_writer {
        int fd;                    /* -1 for a memory writer */
        char *path;                /* file writers: removed on failure */
        struct ice_avro_buf out;   /* memory writers: the whole file; else pending bytes */
        struct ice_avro_buf block; /* records of the open block */
        struct ice_avro_buf zbuf;  /* deflated block */
        uint64_t block_count;      /* records in block */
        uint64_t count;            /* records in all */
        uint64_t written;          /* bytes written to fd */
        size_t block_bytes;
        enum ice_avro_codec codec;
        bool zinit;
        z_stream z;
        uint8_t sync[ICE_AVRO_SYNC_LEN];
};

static int buf_error(int rc, const char *what, struct zetl_err *err)
{
        if (rc == ZETL_ENOMEM)
                return zetl_err_set(err, rc, ZETL_ERRC_FATAL, "avro: out of memory (%s)", what);
        return zetl_err_set(err, rc, ZETL_ERRC_FATAL, "avro: %s larger than %zu bytes", what,
                            ICE_AVRO_MAX_BLOCK);
}

static int write_all(struct ice_avro_writer *w, const uint8_t *p, size_t n, struct zetl_err *err)
{
        while (n > 0) {
                ssize_t k = zetl_fault_hit(ZETL_FAULT_WRITE) < 0 ? -1 : write(w->fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "write %s: %s",
                                            w->path, strerror(errno));
                }
                p += k;
                n -= (size_t)k;
                w->written += (uint64_t)k;
        }
        return 0;
}

/* File writers push what is pending in out to the file. */
static int drain(struct ice_avro_writer *w, struct zetl_err *err)
{
        int rc;

        if (w->fd < 0 || w->out.len == 0)
                return 0;
        rc = write_all(w, w->out.data, w->out.len, err);
        ice_avro_buf_reset(&w->out);
        return rc;
}

static int deflate_block(struct ice_avro_writer *w, const uint8_t **data, size_t *len,
                         struct zetl_err *err)
{
        uLong bound;
        int zrc, rc;

        if (deflateReset(&w->z) != Z_OK)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "avro: deflateReset failed");
        bound = deflateBound(&w->z, (uLong)w->block.len);
        ice_avro_buf_reset(&w->zbuf);
        rc = buf_reserve(&w->zbuf, bound);
        if (rc)
                return buf_error(rc, "deflated block", err);
        w->z.next_in = w->block.data;
        w->z.avail_in = (uInt)w->block.len;
        w->z.next_out = w->zbuf.data;
        w->z.avail_out = (uInt)bound;
        zrc = deflate(&w->z, Z_FINISH);
        if (zrc != Z_STREAM_END)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "avro: deflate failed (%d)",
                                    zrc);
        w->zbuf.len = bound - w->z.avail_out;
        *data = w->zbuf.data;
        *len = w->zbuf.len;
        return 0;
}

/* Close the open block: count, size, data, sync. */
static int flush_block(struct ice_avro_writer *w, struct zetl_err *err)
{
        const uint8_t *data = w->block.data;
        size_t len = w->block.len;
        int rc;

        if (w->block_count == 0)
                return 0;
        if (w->codec == ICE_AVRO_CODEC_DEFLATE) {
                rc = deflate_block(w, &data, &len, err);
                if (rc)
                        return rc;
        }
        ice_avro_put_long(&w->out, (int64_t)w->block_count);
        ice_avro_put_long(&w->out, (int64_t)len);
        ice_avro_put_raw(&w->out, data, len);
        rc = ice_avro_put_raw(&w->out, w->sync, ICE_AVRO_SYNC_LEN);
        if (rc)
                return buf_error(rc, "file", err);
        ice_avro_buf_reset(&w->block);
        w->block_count = 0;
        return drain(w, err);
}

static int put_header(struct ice_avro_writer *w, const struct ice_avro_writer_opts *o,
                      struct zetl_err *err)
{
        const char *codec = o->codec == ICE_AVRO_CODEC_DEFLATE ? "deflate" : "null";
        int rc;

        ice_avro_put_raw(&w->out, avro_magic, sizeof(avro_magic));
        /* The metadata is a map<bytes> written as a single block. */
        ice_avro_put_block(&w->out, 2 + o->nmeta);
        ice_avro_put_string(&w->out, "avro.schema");
        ice_avro_put_string(&w->out, o->schema);
        ice_avro_put_string(&w->out, "avro.codec");
        ice_avro_put_string(&w->out, codec);
        for (size_t i = 0; i < o->nmeta; i++) {
                ice_avro_put_string(&w->out, o->meta[i].key);
                ice_avro_put_string(&w->out, o->meta[i].value);
        }
        ice_avro_put_block_end(&w->out);
        rc = ice_avro_put_raw(&w->out, w->sync, ICE_AVRO_SYNC_LEN);
        return rc ? buf_error(rc, "header", err) : 0;
}

static int check_opts(const struct ice_avro_writer_opts *o, struct zetl_err *err)
{
        if (!o || !o->schema || !*o->schema)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "avro: no schema");
        if (o->codec != ICE_AVRO_CODEC_NULL && o->codec != ICE_AVRO_CODEC_DEFLATE)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "avro: unknown codec %d",
                                    (int)o->codec);
        for (size_t i = 0; i < o->nmeta; i++) {
                if (!o->meta[i].key || !o->meta[i].value)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                            "avro: metadata entry %zu has no key or value", i);
                /* The avro.* namespace is the format's own. */
                if (strncmp(o->meta[i].key, "avro.", 5) == 0)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                            "avro: metadata key %s is reserved", o->meta[i].key);
        }
        return 0;
}

static int writer_new(const struct ice_avro_writer_opts *o, bool mem, struct ice_avro_writer **out,
                      struct zetl_err *err)
{
        struct ice_avro_writer *w;
        int rc;

        *out = NULL;
        rc = check_opts(o, err);
        if (rc)
                return rc;
        w = calloc(1, sizeof(*w));
        if (!w)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "avro: out of memory");
        w->fd = -1;
        /* A memory writer's out holds the whole file, so it gets a wider ceiling. */
        ice_avro_buf_init(&w->out, mem ? 16 * ICE_AVRO_MAX_BLOCK : 2 * ICE_AVRO_MAX_BLOCK);
        ice_avro_buf_init(&w->block, ICE_AVRO_MAX_BLOCK);
        ice_avro_buf_init(&w->zbuf, 2 * ICE_AVRO_MAX_BLOCK);
        w->block_bytes = o->block_bytes ? o->block_bytes : ICE_AVRO_BLOCK_BYTES;
        if (w->block_bytes > ICE_AVRO_MAX_BLOCK)
                w->block_bytes = ICE_AVRO_MAX_BLOCK;
        w->codec = o->codec;
        if (o->sync) {
                memcpy(w->sync, o->sync, ICE_AVRO_SYNC_LEN);
        } else if (getrandom(w->sync, ICE_AVRO_SYNC_LEN, 0) != ICE_AVRO_SYNC_LEN) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "avro: getrandom: %s",
                                  strerror(errno));
                goto out_free;
        }
        if (w->codec == ICE_AVRO_CODEC_DEFLATE) {
                /* Negative window bits: a raw deflate stream, no zlib header or checksum. */
                if (deflateInit2(&w->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
                                 Z_DEFAULT_STRATEGY) != Z_OK) {
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                          "avro: deflateInit2 failed");
                        goto out_free;
                }
                w->zinit = true;
        }
        rc = put_header(w, o, err);
        if (rc)
                goto out_free;
        *out = w;
        return 0;
out_free:
        ice_avro_writer_abort(w);
        return rc;
}

int ice_avro_writer_open_mem(const struct ice_avro_writer_opts *o, struct ice_avro_writer **out,
                             struct zetl_err *err)
{
        return writer_new(o, true, out, err);
}

int ice_avro_writer_open(const char *path, const struct ice_avro_writer_opts *o,
                         struct ice_avro_writer **out, struct zetl_err *err)
{
        struct ice_avro_writer *w;
        int rc;

        *out = NULL;
        rc = writer_new(o, false, &w, err);
        if (rc)
                return rc;
        w->path = strdup(path);
        if (!w->path) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "avro: out of memory");
                goto out_free;
        }
        w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (w->fd < 0) {
                if (errno == EEXIST)
                        rc = zetl_err_set(err, ZETL_EEXIST, ZETL_ERRC_FATAL,
                                          "avro: %s already exists", path);
                else
                        rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "avro: create %s: %s",
                                          path, strerror(errno));
                /* Not ours: abort must not remove it. */
                free(w->path);
                w->path = NULL;
                goto out_free;
        }
        rc = drain(w, err);
        if (rc)
                goto out_free;
        *out = w;
        return 0;
out_free:
        ice_avro_writer_abort(w);
        return rc;
}

int ice_avro_writer_append(struct ice_avro_writer *w, const void *rec, size_t len,
                           struct zetl_err *err)
{
        int rc;

        if (len > ICE_AVRO_MAX_BLOCK)
                return zetl_err_set(err, ZETL_ELIMIT, ZETL_ERRC_FATAL,
                                    "avro: a record of %zu bytes is over the %zu-byte limit", len,
                                    ICE_AVRO_MAX_BLOCK);
        if (w->block.len + len > ICE_AVRO_MAX_BLOCK) {
                rc = flush_block(w, err);
                if (rc)
                        return rc;
        }
        rc = ice_avro_put_raw(&w->block, rec, len);
        if (rc)
                return buf_error(rc, "block", err);
        w->block_count++;
        w->count++;
        if (w->block.len >= w->block_bytes)
                return flush_block(w, err);
        return 0;
}

uint64_t ice_avro_writer_count(const struct ice_avro_writer *w)
{
        return w->count;
}

static void writer_free(struct ice_avro_writer *w)
{
        if (w->zinit)
                deflateEnd(&w->z);
        ice_avro_buf_free(&w->out);
        ice_avro_buf_free(&w->block);
        ice_avro_buf_free(&w->zbuf);
        free(w->path);
        free(w);
}

void ice_avro_writer_abort(struct ice_avro_writer *w)
{
        if (!w)
                return;
        if (w->fd >= 0) {
                close(w->fd);
                if (w->path)
                        unlink(w->path);
        }
        writer_free(w);
}

int ice_avro_writer_close(struct ice_avro_writer *w, uint64_t *file_len, struct zetl_err *err)
{
        int rc, fd;

        if (w->fd < 0) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                  "avro: close of a memory writer");
                goto out_abort;
        }
        rc = flush_block(w, err);
        if (rc)
                goto out_abort;
        if (zetl_fault_hit(ZETL_FAULT_FSYNC) < 0 || fsync(w->fd) < 0) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "fsync %s: %s", w->path,
                                  strerror(errno));
                goto out_abort;
        }
        fd = w->fd;
        w->fd = -1;
        if (close(fd) < 0) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "close %s: %s", w->path,
                                  strerror(errno));
                unlink(w->path);
                writer_free(w);
                return rc;
        }
        if (file_len)
                *file_len = w->written;
        writer_free(w);
        return 0;
out_abort:
        ice_avro_writer_abort(w);
        return rc;
}

int ice_avro_writer_finish_mem(struct ice_avro_writer *w, uint8_t **data, size_t *len,
                               struct zetl_err *err)
{
        int rc;

        *data = NULL;
        *len = 0;
        if (w->fd >= 0) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                  "avro: finish_mem of a file writer");
                goto out_abort;
        }
        rc = flush_block(w, err);
        if (rc)
                goto out_abort;
        *data = w->out.data;
        *len = w->out.len;
        w->out.data = NULL;
        writer_free(w);
        return 0;
out_abort:
        ice_avro_writer_abort(w);
        return rc;
}

/* ---- container reader ----------------------------------------------------- */

struct avro_kv {
        char *key;
        char *value;
        size_t len;
};

struct ice_avro_file {
        struct ice_avro_cur cur; /* over the whole file */
        struct avro_kv *meta;
        size_t nmeta;
        enum ice_avro_codec codec;
        uint8_t sync[ICE_AVRO_SYNC_LEN];
        struct ice_avro_buf inflated;
        bool zinit;
        z_stream z;
};

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

static int read_meta(struct ice_avro_file *f, struct zetl_err *err)
{
        struct ice_avro_cur *c = &f->cur;
        size_t cap = 0;
        int rc;

        for (;;) {
                int64_t count;

                rc = ice_avro_get_block(c, &count, err);
                if (rc)
                        return zetl_err_prefix(err, "avro header: ");
                if (count == 0)
                        return 0;
                for (int64_t i = 0; i < count; i++) {
                        const uint8_t *k, *v;
                        size_t kn, vn;
                        struct avro_kv *kv;

                        if (ice_avro_get_bytes(c, &k, &kn, err) ||
                            ice_avro_get_bytes(c, &v, &vn, err))
                                return zetl_err_prefix(err, "avro header: ");
                        if (f->nmeta == cap) {
                                size_t ncap = cap ? cap * 2 : 8;
                                struct avro_kv *nm = realloc(f->meta, ncap * sizeof(*nm));

                                if (!nm)
                                        goto nomem;
                                f->meta = nm;
                                cap = ncap;
                        }
                        kv = &f->meta[f->nmeta];
                        kv->key = dup_bytes(k, kn);
                        kv->value = dup_bytes(v, vn);
                        kv->len = vn;
                        f->nmeta++;
                        if (!kv->key || !kv->value)
                                goto nomem;
                }
        }
nomem:
        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "avro: out of memory");
}

int ice_avro_file_open(const uint8_t *data, size_t len, struct ice_avro_file **out,
                       struct zetl_err *err)
{
        struct ice_avro_file *f;
        const uint8_t *p = NULL;
        const char *codec;
        int rc;

        *out = NULL;
        f = calloc(1, sizeof(*f));
        if (!f)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "avro: out of memory");
        f->cur.p = data;
        f->cur.len = len;
        ice_avro_buf_init(&f->inflated, ICE_AVRO_MAX_BLOCK);
        if (len < sizeof(avro_magic) || memcmp(data, avro_magic, sizeof(avro_magic)) != 0) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "avro: not an Avro object container file (bad magic)");
                goto out_free;
        }
        f->cur.pos = sizeof(avro_magic);
        rc = read_meta(f, err);
        if (rc)
                goto out_free;
        rc = ice_avro_get_fixed(&f->cur, ICE_AVRO_SYNC_LEN, &p, err);
        if (rc) {
                zetl_err_prefix(err, "avro header: ");
                goto out_free;
        }
        memcpy(f->sync, p, ICE_AVRO_SYNC_LEN);
        if (!ice_avro_file_meta(f, "avro.schema", NULL)) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "avro: header has no avro.schema");
                goto out_free;
        }
        codec = ice_avro_file_meta(f, "avro.codec", NULL);
        if (!codec || strcmp(codec, "null") == 0) {
                f->codec = ICE_AVRO_CODEC_NULL;
        } else if (strcmp(codec, "deflate") == 0) {
                f->codec = ICE_AVRO_CODEC_DEFLATE;
                if (inflateInit2(&f->z, -15) != Z_OK) {
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                          "avro: inflateInit2 failed");
                        goto out_free;
                }
                f->zinit = true;
        } else {
                rc = zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_FATAL,
                                  "avro: codec \"%.64s\" is not supported (null, deflate)", codec);
                goto out_free;
        }
        *out = f;
        return 0;
out_free:
        ice_avro_file_free(f);
        return rc;
}

const char *ice_avro_file_meta(const struct ice_avro_file *f, const char *key, size_t *len)
{
        /* The last occurrence wins, like a map read into a dictionary. */
        for (size_t i = f->nmeta; i-- > 0;) {
                if (strcmp(f->meta[i].key, key) == 0) {
                        if (len)
                                *len = f->meta[i].len;
                        return f->meta[i].value;
                }
        }
        return NULL;
}

enum ice_avro_codec ice_avro_file_codec(const struct ice_avro_file *f)
{
        return f->codec;
}

static int inflate_block(struct ice_avro_file *f, const uint8_t *data, size_t len,
                         struct zetl_err *err)
{
        struct ice_avro_buf *b = &f->inflated;
        int zrc, rc;

        ice_avro_buf_reset(b);
        if (inflateReset(&f->z) != Z_OK)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL, "avro: inflateReset");
        f->z.next_in = (Bytef *)(uintptr_t)data;
        f->z.avail_in = (uInt)len;
        do {
                size_t room;

                if (b->len == b->cap) {
                        size_t want = b->cap ? b->cap : (len < 4096 ? 4096 : len * 4);

                        if (want > b->max - b->len)
                                want = b->max - b->len;
                        if (want == 0)
                                return zetl_err_set(err, ZETL_ELIMIT, ZETL_ERRC_FATAL,
                                                    "avro: a block inflates past %zu bytes",
                                                    ICE_AVRO_MAX_BLOCK);
                        rc = buf_reserve(b, want);
                        if (rc)
                                return buf_error(rc, "inflated block", err);
                }
                room = b->cap - b->len;
                f->z.next_out = b->data + b->len;
                f->z.avail_out = (uInt)room;
                zrc = inflate(&f->z, Z_NO_FLUSH);
                b->len += room - f->z.avail_out;
                if (zrc != Z_OK && zrc != Z_STREAM_END &&
                    !(zrc == Z_BUF_ERROR && f->z.avail_out == 0))
                        return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                            "avro: corrupt deflate block (%s)",
                                            f->z.msg ? f->z.msg : "truncated");
        } while (zrc != Z_STREAM_END);
        if (f->z.avail_in != 0)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "avro: %u bytes after the end of a deflate block",
                                    f->z.avail_in);
        return 0;
}

int ice_avro_file_next_block(struct ice_avro_file *f, struct ice_avro_cur *block, int64_t *count,
                             struct zetl_err *err)
{
        struct ice_avro_cur *c = &f->cur;
        size_t start = c->pos;
        const uint8_t *data = NULL, *sync = NULL;
        int64_t n, size;
        int rc;

        if (c->pos == c->len)
                return 0;
        rc = ice_avro_get_long(c, &n, err);
        if (rc == 0)
                rc = ice_avro_get_long(c, &size, err);
        if (rc)
                return zetl_err_prefix(err, "avro block at byte %zu: ", start);
        if (n < 0 || size < 0)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "avro block at byte %zu: negative count or size", start);
        if ((uint64_t)size > c->len - c->pos || c->len - c->pos - (size_t)size < ICE_AVRO_SYNC_LEN)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "avro block at byte %zu: %lld bytes and a sync marker do not "
                                    "fit in the %zu bytes left",
                                    start, (long long)size, c->len - c->pos);
        if ((uint64_t)size > ICE_AVRO_MAX_BLOCK)
                return zetl_err_set(err, ZETL_ELIMIT, ZETL_ERRC_FATAL,
                                    "avro block at byte %zu: %lld bytes is over the limit", start,
                                    (long long)size);
        ice_avro_get_fixed(c, (size_t)size, &data, err);
        ice_avro_get_fixed(c, ICE_AVRO_SYNC_LEN, &sync, err);
        if (memcmp(sync, f->sync, ICE_AVRO_SYNC_LEN) != 0)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "avro block at byte %zu: sync marker does not match the "
                                    "header's",
                                    start);
        if (f->codec == ICE_AVRO_CODEC_DEFLATE) {
                rc = inflate_block(f, data, (size_t)size, err);
                if (rc)
                        return zetl_err_prefix(err, "avro block at byte %zu: ", start);
                data = f->inflated.data;
                size = (int64_t)f->inflated.len;
        }
        block->p = data;
        block->len = (size_t)size;
        block->pos = 0;
        *count = n;
        return 1;
}

void ice_avro_file_free(struct ice_avro_file *f)
{
        if (!f)
                return;
        for (size_t i = 0; i < f->nmeta; i++) {
                free(f->meta[i].key);
                free(f->meta[i].value);
        }
        free(f->meta);
        if (f->zinit)
                inflateEnd(&f->z);
        ice_avro_buf_free(&f->inflated);
        free(f);
}
