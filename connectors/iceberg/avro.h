/*
 * A small Avro 1.11 writer and reader, enough for Iceberg manifests and
 * manifest lists. Debian's avro-c drops the `field-id` attributes Iceberg
 * needs and cannot set file metadata, so the object container is ours.
 *
 * Three layers:
 *  - ice_avro_buf: a growable output buffer with a ceiling and the binary
 *    encoders (zigzag varints, floats, bytes, strings, unions, blocks). There
 *    is no schema interpretation: the caller writes fields in schema order.
 *    Errors are sticky: after a failure every put returns the same code and
 *    writes nothing, so a caller may encode a whole record and check once.
 *  - ice_avro_cur: a bounds-checked cursor over encoded bytes with the
 *    matching decoders; anything truncated, overlong or out of range is
 *    ZETL_EPROTO (fatal) naming the byte offset, never a read past the end.
 *  - the object container file: writer (to a new file created with O_EXCL,
 *    or to memory) and reader (header, metadata, null and deflate blocks,
 *    sync markers checked on every block).
 */
#ifndef ZETL_ICE_AVRO_H
#define ZETL_ICE_AVRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/err.h"

/* Ceiling of one block's data (encoded or inflated) and of a memory buffer
 * whose caller gave none: a record or block larger than this is ZETL_ELIMIT. */
#define ICE_AVRO_MAX_BLOCK ((size_t)64 << 20)
/* Default size at which the writer closes a block. */
#define ICE_AVRO_BLOCK_BYTES ((size_t)256 << 10)
#define ICE_AVRO_SYNC_LEN    16

/* ---- encoding ------------------------------------------------------------- */

struct ice_avro_buf {
        uint8_t *data;
        size_t len;
        size_t cap;
        size_t max; /* ceiling on len; 0 at init means ICE_AVRO_MAX_BLOCK */
        int status; /* 0, or the sticky ZETL_ENOMEM / ZETL_ELIMIT */
};

/* Initialise an empty buffer (no allocation yet) with a ceiling of max bytes. */
void ice_avro_buf_init(struct ice_avro_buf *b, size_t max);
/* Free the data; the buffer may be initialised again. */
void ice_avro_buf_free(struct ice_avro_buf *b);
/* Forget the contents and any sticky error, keeping the allocation. */
void ice_avro_buf_reset(struct ice_avro_buf *b);

/* Each put returns 0, or ZETL_ENOMEM / ZETL_ELIMIT (sticky, see above). */
int ice_avro_put_raw(struct ice_avro_buf *b, const void *p, size_t n);
int ice_avro_put_long(struct ice_avro_buf *b, int64_t v); /* zigzag varint */
int ice_avro_put_int(struct ice_avro_buf *b, int32_t v);  /* same encoding as long */
int ice_avro_put_bool(struct ice_avro_buf *b, bool v);
int ice_avro_put_float(struct ice_avro_buf *b, float v);                 /* 4 bytes little-endian */
int ice_avro_put_double(struct ice_avro_buf *b, double v);               /* 8 bytes little-endian */
int ice_avro_put_bytes(struct ice_avro_buf *b, const void *p, size_t n); /* length + bytes */
int ice_avro_put_string(struct ice_avro_buf *b, const char *s);          /* NUL-terminated */
int ice_avro_put_fixed(struct ice_avro_buf *b, const void *p, size_t n); /* n bytes, no length */
/* The branch index of a union, before the value of that branch. */
int ice_avro_put_union(struct ice_avro_buf *b, int branch);
/* Arrays and maps: put_block(n) then n items (maps: key string + value),
 * repeated, then put_block_end (a zero count). */
int ice_avro_put_block(struct ice_avro_buf *b, size_t n);
int ice_avro_put_block_end(struct ice_avro_buf *b);

/* ---- decoding ------------------------------------------------------------- */

/* A cursor over borrowed bytes: p[0..len), next read at pos. */
struct ice_avro_cur {
        const uint8_t *p;
        size_t len;
        size_t pos;
};

/* Every get returns 0 or ZETL_EPROTO (fatal, message names the offset). */
int ice_avro_get_long(struct ice_avro_cur *c, int64_t *v, struct zetl_err *err);
int ice_avro_get_int(struct ice_avro_cur *c, int32_t *v, struct zetl_err *err);
int ice_avro_get_bool(struct ice_avro_cur *c, bool *v, struct zetl_err *err);
int ice_avro_get_float(struct ice_avro_cur *c, float *v, struct zetl_err *err);
int ice_avro_get_double(struct ice_avro_cur *c, double *v, struct zetl_err *err);
/* Bytes and strings point into the cursor's buffer (not NUL-terminated). */
int ice_avro_get_bytes(struct ice_avro_cur *c, const uint8_t **p, size_t *n, struct zetl_err *err);
int ice_avro_get_fixed(struct ice_avro_cur *c, size_t n, const uint8_t **p, struct zetl_err *err);
/* A union branch index, which must be below nbranches. */
int ice_avro_get_union(struct ice_avro_cur *c, int nbranches, int *branch, struct zetl_err *err);
/* The count of the next array or map block (0: the end). A negative count on
 * the wire (count followed by the block's byte size) is returned positive.
 * A count larger than the bytes left is refused (ZETL_EPROTO): it assumes
 * every item takes at least a byte, true of every schema zetl reads, so a
 * forged count can never size an allocation. */
int ice_avro_get_block(struct ice_avro_cur *c, int64_t *count, struct zetl_err *err);

/* ---- object container files ----------------------------------------------- */

enum ice_avro_codec {
        ICE_AVRO_CODEC_NULL = 0,
        ICE_AVRO_CODEC_DEFLATE = 1, /* raw RFC 1951 deflate, as the Avro spec says */
};

/* One caller key/value of the file header (both NUL-terminated strings). */
struct ice_avro_meta {
        const char *key;
        const char *value;
};

struct ice_avro_writer_opts {
        const char *schema; /* the writer schema as JSON ("avro.schema"); required */
        enum ice_avro_codec codec;
        const struct ice_avro_meta *meta; /* extra header entries; keys must not start "avro." */
        size_t nmeta;
        const uint8_t *sync; /* 16 bytes for reproducible output; NULL: random */
        size_t block_bytes;  /* close a block at this many data bytes; 0: ICE_AVRO_BLOCK_BYTES */
};

struct ice_avro_writer;

/*
 * Create path (O_CREAT|O_EXCL, 0644: an existing file is never overwritten,
 * ZETL_EEXIST) and write the header. Errors: ZETL_EINVAL (bad options),
 * ZETL_EEXIST, ZETL_EIO (transient), ZETL_ENOMEM. Writes and fsync go
 * through zetl_fault_hit() so tests can fail them.
 */
int ice_avro_writer_open(const char *path, const struct ice_avro_writer_opts *o,
                         struct ice_avro_writer **out, struct zetl_err *err);
/* The same, building the file in memory (see ice_avro_writer_finish_mem). */
int ice_avro_writer_open_mem(const struct ice_avro_writer_opts *o, struct ice_avro_writer **out,
                             struct zetl_err *err);
/* Append one encoded record (its bytes in schema order). Closes a block when
 * it reaches block_bytes. ZETL_ELIMIT for a record over ICE_AVRO_MAX_BLOCK. */
int ice_avro_writer_append(struct ice_avro_writer *w, const void *rec, size_t len,
                           struct zetl_err *err);
/* Records appended so far. */
uint64_t ice_avro_writer_count(const struct ice_avro_writer *w);
/*
 * File writers: write the last block, fsync and close the file; *file_len
 * (may be NULL) gets its length. The directory is not fsynced (the caller
 * does that once for all the files of a commit). Always frees w; on failure
 * the partial file is removed.
 */
int ice_avro_writer_close(struct ice_avro_writer *w, uint64_t *file_len, struct zetl_err *err);
/* Memory writers: hand over the file's bytes (*data malloc'd, caller frees).
 * Always frees w. */
int ice_avro_writer_finish_mem(struct ice_avro_writer *w, uint8_t **data, size_t *len,
                               struct zetl_err *err);
/* Give up: close and remove the file (file writers), free everything. NULL is fine. */
void ice_avro_writer_abort(struct ice_avro_writer *w);

struct ice_avro_file;

/*
 * Parse a container's header from data[0..len), which is borrowed and must
 * outlive the returned reader. Checks the magic, the metadata map, the codec
 * ("null" or "deflate", else ZETL_EUNSUPPORTED) and that avro.schema exists.
 * Errors: ZETL_EPROTO (fatal) for anything malformed, ZETL_ENOMEM.
 */
int ice_avro_file_open(const uint8_t *data, size_t len, struct ice_avro_file **out,
                       struct zetl_err *err);
/* A header value (NUL-terminated copy owned by f; *len may be NULL), or NULL. */
const char *ice_avro_file_meta(const struct ice_avro_file *f, const char *key, size_t *len);
enum ice_avro_codec ice_avro_file_codec(const struct ice_avro_file *f);
/*
 * Next data block: returns 1 with *block over its (inflated) data and *count
 * its number of records, 0 at a clean end of file, or a negative error
 * (ZETL_EPROTO for a bad count, size, sync marker or deflate stream;
 * ZETL_ELIMIT when it inflates past ICE_AVRO_MAX_BLOCK). The block's bytes
 * stay valid until the next call.
 */
int ice_avro_file_next_block(struct ice_avro_file *f, struct ice_avro_cur *block, int64_t *count,
                             struct zetl_err *err);
void ice_avro_file_free(struct ice_avro_file *f);

#endif
