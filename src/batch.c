/*
 * The columnar batch (see zetl/batch.h): row-by-row building into per-column
 * vectors laid out as Arrow arrays. Growth doubles every buffer of every
 * column at once (rows are appended in lockstep), so the cost of a row is a
 * few stores; var-length data grows on its own. Every allocation is counted
 * against the batch's ceiling.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "zetl/batch.h"

#define INITIAL_ROWS 64u
#define INITIAL_DATA 256u

static const char *const op_names[] = { "snapshot", "insert", "update", "delete" };

const char *zetl_op_name(enum zetl_op op)
{
        return (unsigned)op < 4 ? op_names[op] : "unknown";
}

int zetl_op_parse(const char *name, enum zetl_op *out)
{
        for (int i = 0; i < 4; i++) {
                if (strcmp(op_names[i], name) == 0) {
                        *out = (enum zetl_op)i;
                        return 0;
                }
        }
        return ZETL_EINVAL;
}

static inline void bit_set(uint8_t *bits, uint32_t i)
{
        bits[i >> 3] |= (uint8_t)(1u << (i & 7));
}

static inline void bit_clear(uint8_t *bits, uint32_t i)
{
        bits[i >> 3] &= (uint8_t) ~(1u << (i & 7));
}

static size_t bitmap_bytes(uint32_t rows)
{
        return ((size_t)rows + 7) / 8;
}

/* realloc that accounts its growth against the ceiling. */
static int grow(struct zetl_batch *b, void **p, size_t old_sz, size_t new_sz, struct zetl_err *e)
{
        if (b->bytes - old_sz + new_sz > b->max_bytes)
                return zetl_err_set(e, ZETL_ELIMIT, ZETL_ERRC_FATAL,
                                    "batch of %s would exceed its ceiling of %zu bytes",
                                    b->schema->id.table, b->max_bytes);
        void *n = realloc(*p, new_sz);
        if (!n)
                return zetl_err_set(e, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                    "out of memory growing a batch to %zu bytes", new_sz);
        if (new_sz > old_sz)
                memset((uint8_t *)n + old_sz, 0, new_sz - old_sz);
        *p = n;
        b->bytes = b->bytes - old_sz + new_sz;
        return 0;
}

static size_t values_bytes(enum zetl_type t, uint32_t rows)
{
        switch (zetl_type_storage(t)) {
        case ZETL_ST_BIT:
                return bitmap_bytes(rows);
        case ZETL_ST_FIXED:
                return zetl_type_width(t) * rows;
        case ZETL_ST_VAR:
                return 0;
        }
        return 0;
}

/* realloc that zeroes the new part, without accounting. */
static int resize(void **p, size_t old_sz, size_t new_sz)
{
        void *n = realloc(*p, new_sz);

        if (!n)
                return ZETL_ENOMEM;
        if (new_sz > old_sz)
                memset((uint8_t *)n + old_sz, 0, new_sz - old_sz);
        *p = n;
        return 0;
}

/* Bytes of every per-row buffer for cap rows. */
static size_t row_bytes(const struct zetl_batch *b, uint32_t cap)
{
        size_t n = cap + (size_t)cap * sizeof(uint64_t);

        if (b->old_key)
                n += (size_t)cap * sizeof(int32_t);
        for (int c = 0; c < b->schema->ncols; c++) {
                enum zetl_type t = b->schema->cols[c].type;
                n += bitmap_bytes(cap) * (b->cols[c].unchanged ? 2 : 1);
                if (zetl_type_storage(t) == ZETL_ST_VAR)
                        n += cap ? ((size_t)cap + 1) * sizeof(int32_t) : 0;
                else
                        n += values_bytes(t, cap);
        }
        return n;
}

/* Grow every per-row buffer to hold new_cap rows. The ceiling is checked for
 * the whole growth first, so a refusal changes nothing; b->bytes only counts
 * a growth that completed. */
static int grow_rows(struct zetl_batch *b, uint32_t new_cap, struct zetl_err *e)
{
        uint32_t old = b->cap;
        size_t delta = row_bytes(b, new_cap) - row_bytes(b, old);
        int rc = 0;

        if (b->bytes + delta > b->max_bytes)
                return zetl_err_set(e, ZETL_ELIMIT, ZETL_ERRC_FATAL,
                                    "batch of %s would exceed its ceiling of %zu bytes",
                                    b->schema->id.table, b->max_bytes);
        rc |= resize((void **)&b->ops, old, new_cap);
        rc |= resize((void **)&b->pos, old * sizeof(uint64_t), new_cap * sizeof(uint64_t));
        if (b->old_key)
                rc |= resize((void **)&b->old_key, old * sizeof(int32_t),
                             new_cap * sizeof(int32_t));
        for (int c = 0; c < b->schema->ncols && rc == 0; c++) {
                struct zetl_vec *v = &b->cols[c];
                enum zetl_type t = b->schema->cols[c].type;

                rc |= resize((void **)&v->validity, bitmap_bytes(old), bitmap_bytes(new_cap));
                if (v->unchanged)
                        rc |= resize((void **)&v->unchanged, bitmap_bytes(old),
                                     bitmap_bytes(new_cap));
                if (zetl_type_storage(t) == ZETL_ST_VAR)
                        rc |= resize((void **)&v->offsets, old ? (old + 1) * sizeof(int32_t) : 0,
                                     (new_cap + 1) * sizeof(int32_t));
                else
                        rc |= resize((void **)&v->values, values_bytes(t, old),
                                     values_bytes(t, new_cap));
        }
        if (rc)
                return zetl_err_set(e, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                    "out of memory growing a batch to %u rows", new_cap);
        b->bytes += delta;
        b->cap = new_cap;
        return 0;
}

struct zetl_batch *zetl_batch_new(const struct zetl_schema *s, size_t max_bytes)
{
        struct zetl_batch *b = calloc(1, sizeof(*b));

        if (!b)
                return NULL;
        b->cols = calloc(s->ncols ? (size_t)s->ncols : 1, sizeof(*b->cols));
        if (!b->cols) {
                free(b);
                return NULL;
        }
        b->schema = zetl_schema_ref(s);
        b->max_bytes = max_bytes ? max_bytes : ZETL_BATCH_DEFAULT_MAX_BYTES;
        b->cur = -1;
        return b;
}

void zetl_batch_free(struct zetl_batch *b)
{
        if (!b)
                return;
        for (int c = 0; c < b->schema->ncols; c++) {
                free(b->cols[c].validity);
                free(b->cols[c].unchanged);
                free(b->cols[c].values);
                free(b->cols[c].offsets);
                free(b->cols[c].data);
        }
        free(b->cols);
        free(b->ops);
        free(b->pos);
        free(b->old_key);
        zetl_batch_free(b->old);
        zetl_schema_unref(b->schema);
        free(b);
}

void zetl_batch_reset(struct zetl_batch *b)
{
        for (int c = 0; c < b->schema->ncols; c++) {
                struct zetl_vec *v = &b->cols[c];
                v->data_len = 0;
                v->null_count = 0;
                v->unchanged_count = 0;
                if (v->offsets)
                        v->offsets[0] = 0;
                if (v->unchanged)
                        memset(v->unchanged, 0, bitmap_bytes(b->cap));
        }
        if (b->old)
                zetl_batch_reset(b->old);
        b->nrows = 0;
        b->cur = -1;
}

int zetl_batch_row_begin(struct zetl_batch *b, enum zetl_op op, uint64_t pos, struct zetl_err *e)
{
        uint32_t r = b->nrows;
        int rc;

        assert(b->cur < 0 && "previous row not ended");
        if (r == INT32_MAX)
                return zetl_err_set(e, ZETL_ELIMIT, ZETL_ERRC_FATAL, "batch row count limit");
        if (r >= b->cap) {
                uint32_t ncap = b->cap ? b->cap * 2 : INITIAL_ROWS;
                if ((rc = grow_rows(b, ncap, e)))
                        return rc;
        }
        b->ops[r] = (uint8_t)op;
        b->pos[r] = pos;
        if (b->old_key)
                b->old_key[r] = -1;
        for (int c = 0; c < b->schema->ncols; c++) {
                struct zetl_vec *v = &b->cols[c];
                bit_clear(v->validity, r);
                if (v->offsets) {
                        if (r == 0)
                                v->offsets[0] = 0;
                        v->offsets[r + 1] = v->offsets[r];
                }
        }
        b->cur = (int)r;
        return 0;
}

void zetl_batch_row_end(struct zetl_batch *b)
{
        assert(b->cur >= 0);
        uint32_t r = (uint32_t)b->cur;
        for (int c = 0; c < b->schema->ncols; c++) {
                struct zetl_vec *v = &b->cols[c];
                if (!zetl_bit_get(v->validity, r))
                        v->null_count++;
                if (zetl_bit_get(v->unchanged, r))
                        v->unchanged_count++;
        }
        b->nrows = r + 1;
        b->cur = -1;
        if (b->old && b->old->cur >= 0)
                zetl_batch_row_end(b->old);
}

void zetl_batch_row_abort(struct zetl_batch *b)
{
        if (b->cur < 0)
                return;
        uint32_t r = (uint32_t)b->cur;
        for (int c = 0; c < b->schema->ncols; c++) {
                struct zetl_vec *v = &b->cols[c];
                if (v->offsets)
                        v->data_len = (size_t)v->offsets[r];
                if (v->unchanged)
                        bit_clear(v->unchanged, r);
        }
        if (b->old && b->old->cur >= 0)
                zetl_batch_row_abort(b->old);
        if (b->old_key)
                b->old_key[r] = -1;
        b->cur = -1;
}

static inline uint32_t cur_row(const struct zetl_batch *b)
{
        assert(b->cur >= 0);
        return (uint32_t)b->cur;
}

void zetl_batch_set_null(struct zetl_batch *b, int col)
{
        struct zetl_vec *v = &b->cols[col];
        uint32_t r = cur_row(b);

        bit_clear(v->validity, r);
        if (v->offsets) {
                v->data_len = (size_t)v->offsets[r];
                v->offsets[r + 1] = v->offsets[r];
        }
}

int zetl_batch_set_unchanged(struct zetl_batch *b, int col, struct zetl_err *e)
{
        struct zetl_vec *v = &b->cols[col];
        uint32_t r = cur_row(b);

        if (!v->unchanged) {
                int rc = grow(b, (void **)&v->unchanged, 0, bitmap_bytes(b->cap), e);
                if (rc)
                        return rc;
        }
        zetl_batch_set_null(b, col);
        bit_set(v->unchanged, r);
        return 0;
}

#define FIXED_SETTER(fn, ctype, check)                                                             \
        void fn(struct zetl_batch *b, int col, ctype val)                                          \
        {                                                                                          \
                struct zetl_vec *v = &b->cols[col];                                                \
                uint32_t r = cur_row(b);                                                           \
                assert(check);                                                                     \
                memcpy(v->values + (size_t)r * sizeof(ctype), &val, sizeof(ctype));                \
                bit_set(v->validity, r);                                                           \
        }

#define TYPE_OF(c) (b->schema->cols[col].type)
FIXED_SETTER(zetl_batch_set_i16, int16_t, TYPE_OF(c) == ZETL_T_INT16)
FIXED_SETTER(zetl_batch_set_i32, int32_t, TYPE_OF(c) == ZETL_T_INT32 || TYPE_OF(c) == ZETL_T_DATE)
FIXED_SETTER(zetl_batch_set_i64, int64_t,
             TYPE_OF(c) == ZETL_T_INT64 || TYPE_OF(c) == ZETL_T_TIME ||
                     TYPE_OF(c) == ZETL_T_TIMESTAMP || TYPE_OF(c) == ZETL_T_TIMESTAMPTZ)
FIXED_SETTER(zetl_batch_set_f32, float, TYPE_OF(c) == ZETL_T_FLOAT32)
FIXED_SETTER(zetl_batch_set_f64, double, TYPE_OF(c) == ZETL_T_FLOAT64)

void zetl_batch_set_bool(struct zetl_batch *b, int col, bool val)
{
        struct zetl_vec *v = &b->cols[col];
        uint32_t r = cur_row(b);

        assert(TYPE_OF(c) == ZETL_T_BOOL);
        if (val)
                bit_set(v->values, r);
        else
                bit_clear(v->values, r);
        bit_set(v->validity, r);
}

void zetl_batch_set_uuid(struct zetl_batch *b, int col, const uint8_t val[16])
{
        struct zetl_vec *v = &b->cols[col];
        uint32_t r = cur_row(b);

        assert(TYPE_OF(c) == ZETL_T_UUID);
        memcpy(v->values + (size_t)r * 16, val, 16);
        bit_set(v->validity, r);
}

uint8_t *zetl_batch_var_reserve(struct zetl_batch *b, int col, size_t len, struct zetl_err *e)
{
        struct zetl_vec *v = &b->cols[col];
        uint32_t r = cur_row(b);
        size_t start = (size_t)v->offsets[r];

        assert(zetl_type_storage(TYPE_OF(c)) == ZETL_ST_VAR);
        if (len > ZETL_VALUE_MAX_BYTES || start + len > INT32_MAX) {
                zetl_err_set(e, ZETL_ELIMIT, ZETL_ERRC_FATAL,
                             "value of %zu bytes in column \"%s\" exceeds the limit", len,
                             b->schema->cols[col].name);
                return NULL;
        }
        if (start + len > v->data_cap || !v->data) {
                size_t ncap = v->data_cap ? v->data_cap : INITIAL_DATA;
                while (ncap < start + len)
                        ncap *= 2;
                /* On refusal the cell keeps what it had: nothing moved yet. */
                if (grow(b, (void **)&v->data, v->data_cap, ncap, e))
                        return NULL;
                v->data_cap = ncap;
        }
        /* A second set of the same cell replaces the first. */
        v->data_len = start;
        return v->data + start;
}

void zetl_batch_var_commit(struct zetl_batch *b, int col, size_t len)
{
        struct zetl_vec *v = &b->cols[col];
        uint32_t r = cur_row(b);

        v->data_len = (size_t)v->offsets[r] + len;
        v->offsets[r + 1] = (int32_t)v->data_len;
        bit_set(v->validity, r);
}

int zetl_batch_set_var(struct zetl_batch *b, int col, const void *p, size_t len, struct zetl_err *e)
{
        uint8_t *dst = zetl_batch_var_reserve(b, col, len, e);

        if (!dst)
                return e ? e->code : ZETL_ENOMEM;
        if (len)
                memcpy(dst, p, len);
        zetl_batch_var_commit(b, col, len);
        return 0;
}

int zetl_batch_old_key_begin(struct zetl_batch *b, struct zetl_err *e)
{
        uint32_t r = cur_row(b);
        int rc;

        if (!b->old) {
                b->old = zetl_batch_new(b->schema, b->max_bytes);
                if (!b->old)
                        return zetl_err_set(e, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                            "out of memory for old keys");
        }
        if (!b->old_key) {
                if ((rc = grow(b, (void **)&b->old_key, 0, b->cap * sizeof(int32_t), e)))
                        return rc;
                for (uint32_t i = 0; i < b->cap; i++)
                        b->old_key[i] = -1;
        }
        if (b->old->cur >= 0) /* called twice for one row: start over */
                zetl_batch_row_abort(b->old);
        if ((rc = zetl_batch_row_begin(b->old, (enum zetl_op)b->ops[r], b->pos[r], e)))
                return rc;
        b->old_key[r] = b->old->cur;
        return 0;
}

/* ---- readers ------------------------------------------------------------ */

#define FIXED_GETTER(fn, ctype)                                                                    \
        ctype fn(const struct zetl_batch *b, int col, uint32_t r)                                  \
        {                                                                                          \
                ctype val;                                                                         \
                memcpy(&val, b->cols[col].values + (size_t)r * sizeof(ctype), sizeof(ctype));      \
                return val;                                                                        \
        }

FIXED_GETTER(zetl_batch_get_i16, int16_t)
FIXED_GETTER(zetl_batch_get_i32, int32_t)
FIXED_GETTER(zetl_batch_get_i64, int64_t)
FIXED_GETTER(zetl_batch_get_f32, float)
FIXED_GETTER(zetl_batch_get_f64, double)

bool zetl_batch_get_bool(const struct zetl_batch *b, int col, uint32_t r)
{
        return zetl_bit_get(b->cols[col].values, r);
}

const uint8_t *zetl_batch_get_uuid(const struct zetl_batch *b, int col, uint32_t r)
{
        return b->cols[col].values + (size_t)r * 16;
}

const uint8_t *zetl_batch_get_var(const struct zetl_batch *b, int col, uint32_t r, size_t *len)
{
        const struct zetl_vec *v = &b->cols[col];

        *len = (size_t)(v->offsets[r + 1] - v->offsets[r]);
        return v->data ? v->data + v->offsets[r] : (const uint8_t *)"";
}

int32_t zetl_batch_old_key_row(const struct zetl_batch *b, uint32_t r)
{
        return b->old_key ? b->old_key[r] : -1;
}

static bool cell_equal(const struct zetl_batch *a, uint32_t ra, const struct zetl_batch *b,
                       uint32_t rb, int col)
{
        enum zetl_type t = a->schema->cols[col].type;
        bool na = zetl_batch_is_null(a, col, ra), nb = zetl_batch_is_null(b, col, rb);
        size_t la, lb, w;

        if (na || nb)
                return na && nb;
        switch (zetl_type_storage(t)) {
        case ZETL_ST_BIT:
                return zetl_batch_get_bool(a, col, ra) == zetl_batch_get_bool(b, col, rb);
        case ZETL_ST_FIXED:
                w = zetl_type_width(t);
                return memcmp(a->cols[col].values + (size_t)ra * w,
                              b->cols[col].values + (size_t)rb * w, w) == 0;
        case ZETL_ST_VAR: {
                const uint8_t *pa = zetl_batch_get_var(a, col, ra, &la);
                const uint8_t *pb = zetl_batch_get_var(b, col, rb, &lb);
                return la == lb && (la == 0 || memcmp(pa, pb, la) == 0);
        }
        }
        return false;
}

bool zetl_batch_keys_equal(const struct zetl_batch *a, uint32_t ra, const struct zetl_batch *b,
                           uint32_t rb)
{
        for (int c = 0; c < a->schema->ncols; c++)
                if (a->schema->cols[c].key_pos > 0 && !cell_equal(a, ra, b, rb, c))
                        return false;
        return true;
}

void zetl_batch_old_key_drop(struct zetl_batch *b)
{
        if (b->old && b->old->cur >= 0)
                zetl_batch_row_abort(b->old);
        if (b->old_key && b->cur >= 0)
                b->old_key[b->cur] = -1;
}

int zetl_batch_copy_cell(struct zetl_batch *dst, int col, const struct zetl_batch *src,
                         uint32_t srow, struct zetl_err *e)
{
        enum zetl_type t = dst->schema->cols[col].type;
        struct zetl_vec *v = &dst->cols[col];
        uint32_t r = cur_row(dst);
        size_t len, w;

        if (v->unchanged)
                bit_clear(v->unchanged, r);
        if (zetl_batch_is_null(src, col, srow)) {
                zetl_batch_set_null(dst, col);
                return 0;
        }
        switch (zetl_type_storage(t)) {
        case ZETL_ST_BIT:
                zetl_batch_set_bool(dst, col, zetl_batch_get_bool(src, col, srow));
                return 0;
        case ZETL_ST_FIXED:
                w = zetl_type_width(t);
                memcpy(v->values + (size_t)r * w, src->cols[col].values + (size_t)srow * w, w);
                bit_set(v->validity, r);
                return 0;
        case ZETL_ST_VAR: {
                const uint8_t *p = zetl_batch_get_var(src, col, srow, &len);
                return zetl_batch_set_var(dst, col, p, len, e);
        }
        }
        return 0;
}
