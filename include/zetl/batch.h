/*
 * The columnar batch: rows of one table under one schema version, built by a
 * source straight from wire bytes, read by sinks. The layout follows the Arrow
 * C Data Interface (validity bitmaps with 1 = present, LSB first; int32
 * offsets for var-length values; bit-packed booleans), so zetl_batch_export_arrow
 * can hand it to any Arrow consumer without copying.
 *
 * Per column, on top of Arrow: an "unchanged" bitmap (1 = the source did not
 * send this value, e.g. an unchanged TOASTed value; the sink must keep what the
 * target has and never write NULL). It stays NULL until a row of the column
 * has an unchanged value (then unchanged_count tells whether any row does).
 *
 * Per row: the operation, the 64-bit source position (orders the changes of a
 * row), and for updates that change the primary key, the old key: row r's old
 * key is row old_key[r] of the batch `old` (same schema, only key columns set).
 * A delete carries its key in the key columns; its other columns are unchanged.
 *
 * Building is row by row (zetl_batch_row_begin, then setters per column, in
 * any order; a column not set is NULL). Every buffer has a ceiling: a batch
 * refuses to grow past max_bytes with ZETL_ELIMIT, so a huge transaction is
 * split into several batches by the core, never an OOM kill.
 *
 * Ownership: batches belong to the core. A sink reads them during write() and
 * copies what it keeps.
 */
#ifndef ZETL_BATCH_H
#define ZETL_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/err.h"
#include "zetl/schema.h"
#include "zetl/types.h"

enum zetl_op {
        ZETL_OP_SNAPSHOT = 0, /* a row of the initial sync */
        ZETL_OP_INSERT = 1,
        ZETL_OP_UPDATE = 2,
        ZETL_OP_DELETE = 3,
};

const char *zetl_op_name(enum zetl_op op); /* "snapshot", "insert", "update", "delete" */
int zetl_op_parse(const char *name, enum zetl_op *out);

struct zetl_vec {
        uint8_t *validity;  /* bit r = 1: value present */
        uint8_t *unchanged; /* bit r = 1: value not sent; NULL until first used */
        uint8_t *values;    /* fixed-width values, or bits for bool */
        int32_t *offsets;   /* var-length: nrows + 1 offsets into data */
        uint8_t *data;      /* var-length bytes */
        size_t data_len;
        size_t data_cap;
        int64_t null_count;
        int64_t unchanged_count;
};

#define ZETL_BATCH_DEFAULT_MAX_BYTES ((size_t)256 << 20)
/* A single var-length value may not exceed this (PostgreSQL's own limit is 1 GiB). */
#define ZETL_VALUE_MAX_BYTES ((size_t)1 << 30)

struct zetl_batch {
        const struct zetl_schema *schema; /* holds a reference */
        uint32_t nrows;
        uint32_t cap;
        uint8_t *ops;     /* enum zetl_op per row */
        uint64_t *pos;    /* source position per row */
        int32_t *old_key; /* NULL, or per row: row in `old`, -1 for none */
        struct zetl_batch *old;
        struct zetl_vec *cols;
        size_t bytes;     /* bytes allocated by all buffers */
        size_t max_bytes; /* ceiling for bytes */
        int cur;          /* row being built, -1 when none */
};

/* A new empty batch for schema s (takes a reference). max_bytes 0 means the
 * default. Returns NULL when out of memory. */
struct zetl_batch *zetl_batch_new(const struct zetl_schema *s, size_t max_bytes);
void zetl_batch_free(struct zetl_batch *b);
/* Empty the batch, keeping its buffers (for reuse by a source). */
void zetl_batch_reset(struct zetl_batch *b);

/* Start row nrows with op and pos; every column starts NULL. Returns 0,
 * ZETL_ENOMEM or ZETL_ELIMIT (fill e). */
int zetl_batch_row_begin(struct zetl_batch *b, enum zetl_op op, uint64_t pos, struct zetl_err *e);
/* Finish the row being built. */
void zetl_batch_row_end(struct zetl_batch *b);
/* Drop the row being built (after a decode error): the batch is as before row_begin. */
void zetl_batch_row_abort(struct zetl_batch *b);

/* Setters for the row being built. The value must match the column's storage
 * (checked with assert in debug builds). Var-length setters copy the bytes. */
void zetl_batch_set_null(struct zetl_batch *b, int col);
int zetl_batch_set_unchanged(struct zetl_batch *b, int col, struct zetl_err *e);
void zetl_batch_set_bool(struct zetl_batch *b, int col, bool v);
void zetl_batch_set_i16(struct zetl_batch *b, int col, int16_t v);
void zetl_batch_set_i32(struct zetl_batch *b, int col, int32_t v); /* int32, date */
void zetl_batch_set_i64(struct zetl_batch *b, int col, int64_t v); /* int64, time, timestamps */
void zetl_batch_set_f32(struct zetl_batch *b, int col, float v);
void zetl_batch_set_f64(struct zetl_batch *b, int col, double v);
void zetl_batch_set_uuid(struct zetl_batch *b, int col, const uint8_t v[16]);
int zetl_batch_set_var(struct zetl_batch *b, int col, const void *p, size_t len,
                       struct zetl_err *e);
/* Reserve len bytes for a var-length value the caller writes in place (e.g. a
 * decoder formatting a decimal); returns the pointer or NULL (e filled).
 * zetl_batch_var_commit then fixes its final length (<= len). */
uint8_t *zetl_batch_var_reserve(struct zetl_batch *b, int col, size_t len, struct zetl_err *e);
void zetl_batch_var_commit(struct zetl_batch *b, int col, size_t len);
/* Attach the old key of a key-changing update to the row being built: begins
 * a row of b->old, to fill with the setters above called on b->old (key
 * columns only); it ends with the row of b. Returns 0 or an error. */
int zetl_batch_old_key_begin(struct zetl_batch *b, struct zetl_err *e);

/* Readers. */
static inline bool zetl_bit_get(const uint8_t *bits, uint32_t i)
{
        return bits && (bits[i >> 3] >> (i & 7)) & 1;
}
static inline bool zetl_batch_is_null(const struct zetl_batch *b, int col, uint32_t r)
{
        return !zetl_bit_get(b->cols[col].validity, r);
}
static inline bool zetl_batch_is_unchanged(const struct zetl_batch *b, int col, uint32_t r)
{
        return zetl_bit_get(b->cols[col].unchanged, r);
}
bool zetl_batch_get_bool(const struct zetl_batch *b, int col, uint32_t r);
int16_t zetl_batch_get_i16(const struct zetl_batch *b, int col, uint32_t r);
int32_t zetl_batch_get_i32(const struct zetl_batch *b, int col, uint32_t r);
int64_t zetl_batch_get_i64(const struct zetl_batch *b, int col, uint32_t r);
float zetl_batch_get_f32(const struct zetl_batch *b, int col, uint32_t r);
double zetl_batch_get_f64(const struct zetl_batch *b, int col, uint32_t r);
const uint8_t *zetl_batch_get_uuid(const struct zetl_batch *b, int col, uint32_t r);
/* Var-length value: pointer and length (not NUL-terminated). */
const uint8_t *zetl_batch_get_var(const struct zetl_batch *b, int col, uint32_t r, size_t *len);
/* True when rows ra of a and rb of b (the same table) have equal primary
 * keys: every key column both NULL, or both set to the same bytes. */
bool zetl_batch_keys_equal(const struct zetl_batch *a, uint32_t ra, const struct zetl_batch *b,
                           uint32_t rb);
/* Set cell col of the row being built in dst from row srow of src (same
 * column type), clearing its unchanged mark. Returns 0 or an error. */
int zetl_batch_copy_cell(struct zetl_batch *dst, int col, const struct zetl_batch *src,
                         uint32_t srow, struct zetl_err *e);
/* Drop the old key begun for the row being built (it turned out unchanged). */
void zetl_batch_old_key_drop(struct zetl_batch *b);
/* Row of b->old holding row r's old key, or -1. */
int32_t zetl_batch_old_key_row(const struct zetl_batch *b, uint32_t r);

/* ---- Arrow C Data Interface export ------------------------------------ */

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE           2
#define ARROW_FLAG_MAP_KEYS_SORTED    4
struct ArrowSchema {
        const char *format;
        const char *name;
        const char *metadata;
        int64_t flags;
        int64_t n_children;
        struct ArrowSchema **children;
        struct ArrowSchema *dictionary;
        void (*release)(struct ArrowSchema *);
        void *private_data;
};
struct ArrowArray {
        int64_t length;
        int64_t null_count;
        int64_t offset;
        int64_t n_buffers;
        int64_t n_children;
        const void **buffers;
        struct ArrowArray **children;
        struct ArrowArray *dictionary;
        void (*release)(struct ArrowArray *);
        void *private_data;
};
#endif

/* Export the batch's columns as a struct array (one child per column) that
 * borrows the batch's buffers: the batch must outlive the release of *array.
 * The per-row operation and position are exported as two extra children,
 * "_zetl_op" (int8) and "_zetl_pos" (uint64). Returns 0 or ZETL_ENOMEM. */
int zetl_batch_export_arrow(const struct zetl_batch *b, struct ArrowSchema *schema,
                            struct ArrowArray *array, struct zetl_err *e);

#endif
