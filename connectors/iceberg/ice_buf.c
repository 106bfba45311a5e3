/*
 * ice_buf: the per-commit change buffer of one Iceberg table, collapsed by
 * primary key (see ice_buf.h for why and for the delete rule). Versions are
 * appended to a zetl_batch arena; an open-addressing hash table maps a key
 * to the arena row of its last version, and a flag byte per row says
 * whether the row is that last version and whether its key needs a delete.
 */
#include <stdlib.h>
#include <string.h>

#include "ice_buf.h"

#define F_LIVE   1 /* the last version of its key */
#define F_DELETE 2 /* the key needs an equality delete */

struct ice_buf {
        struct zetl_batch *arena;
        uint8_t *flags;  /* per arena row */
        uint32_t *hash;  /* per arena row: the key's hash */
        uint32_t rowcap; /* capacity of flags and hash */
        uint32_t *slots; /* arena row + 1; 0 = empty */
        uint32_t nslots; /* power of two */
        uint32_t nkeys;
        uint64_t max_pos;
        int *keycols; /* column index per key position */
        int nkeycols;
};

struct ice_buf *ice_buf_new(const struct zetl_schema *s, size_t max_bytes)
{
        struct ice_buf *buf = calloc(1, sizeof(*buf));

        if (!buf)
                return NULL;
        buf->arena = zetl_batch_new(s, max_bytes);
        buf->keycols = calloc((size_t)s->nkeys + 1, sizeof(int));
        if (!buf->arena || !buf->keycols) {
                ice_buf_free(buf);
                return NULL;
        }
        for (int k = 1; k <= s->nkeys; k++)
                buf->keycols[buf->nkeycols++] = zetl_schema_key_col(s, k);
        return buf;
}

void ice_buf_free(struct ice_buf *buf)
{
        if (!buf)
                return;
        zetl_batch_free(buf->arena);
        free(buf->flags);
        free(buf->hash);
        free(buf->slots);
        free(buf->keycols);
        free(buf);
}

const struct zetl_batch *ice_buf_batch(const struct ice_buf *buf)
{
        return buf->arena;
}

uint32_t ice_buf_keys(const struct ice_buf *buf)
{
        return buf->nkeys;
}

size_t ice_buf_bytes(const struct ice_buf *buf)
{
        return buf->arena->bytes + (size_t)buf->rowcap * 5 + (size_t)buf->nslots * 4;
}

uint64_t ice_buf_max_pos(const struct ice_buf *buf)
{
        return buf->max_pos;
}

/* FNV-1a over the bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
        const uint8_t *c = p;

        for (size_t i = 0; i < n; i++) {
                h ^= c[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

/* The hash of row r's key: its cells' bytes as stored, so equal keys (as
 * zetl_batch_keys_equal sees them) hash alike. */
static uint32_t key_hash(const struct ice_buf *buf, const struct zetl_batch *b, uint32_t r)
{
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (int k = 0; k < buf->nkeycols; k++) {
                int c = buf->keycols[k];
                enum zetl_type t = b->schema->cols[c].type;
                uint8_t tag = zetl_batch_is_null(b, c, r) ? 0 : 1;

                h = fnv(h, &tag, 1);
                if (!tag)
                        continue;
                switch (zetl_type_storage(t)) {
                case ZETL_ST_BIT: {
                        uint8_t v = zetl_batch_get_bool(b, c, r);
                        h = fnv(h, &v, 1);
                        break;
                }
                case ZETL_ST_FIXED: {
                        size_t w = zetl_type_width(t);
                        h = fnv(h, b->cols[c].values + (size_t)r * w, w);
                        break;
                }
                case ZETL_ST_VAR: {
                        size_t len;
                        const uint8_t *p = zetl_batch_get_var(b, c, r, &len);
                        uint32_t l32 = (uint32_t)len;
                        h = fnv(h, &l32, sizeof(l32));
                        h = fnv(h, p, len);
                        break;
                }
                }
        }
        /* Fold and mix: the slot index takes the low bits. */
        h ^= h >> 29;
        h *= UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 32;
        return (uint32_t)h;
}

/* The slot holding row r's key, or the empty slot where it would go. */
static uint32_t find_slot(const struct ice_buf *buf, const struct zetl_batch *b, uint32_t r,
                          uint32_t h)
{
        uint32_t mask = buf->nslots - 1;
        uint32_t i = h & mask;

        for (;;) {
                uint32_t v = buf->slots[i];
                if (v == 0)
                        return i;
                if (buf->hash[v - 1] == h && zetl_batch_keys_equal(buf->arena, v - 1, b, r))
                        return i;
                i = (i + 1) & mask;
        }
}

static int grow_slots(struct ice_buf *buf, struct zetl_err *err)
{
        uint32_t n = buf->nslots ? buf->nslots * 2 : 1024;
        uint32_t *slots = calloc(n, sizeof(uint32_t));

        if (!slots || n < buf->nslots)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "iceberg: out of memory");
        for (uint32_t i = 0; i < buf->nslots; i++) {
                uint32_t v = buf->slots[i];
                if (v == 0)
                        continue;
                uint32_t j = buf->hash[v - 1] & (n - 1);
                while (slots[j])
                        j = (j + 1) & (n - 1);
                slots[j] = v;
        }
        free(buf->slots);
        buf->slots = slots;
        buf->nslots = n;
        return 0;
}

static int grow_rows(struct ice_buf *buf, struct zetl_err *err)
{
        uint32_t n = buf->rowcap ? buf->rowcap * 2 : 1024;
        uint8_t *f = realloc(buf->flags, n);
        uint32_t *h;

        if (f)
                buf->flags = f;
        h = f ? realloc(buf->hash, (size_t)n * sizeof(uint32_t)) : NULL;
        if (!h)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "iceberg: out of memory");
        buf->hash = h;
        buf->rowcap = n;
        return 0;
}

/* Copy cell c of arena row src into the row being built. The arena may
 * move its bytes while growing, so a var value is copied out first. */
static int copy_self(struct ice_buf *buf, int c, uint32_t src, struct zetl_err *err)
{
        struct zetl_batch *a = buf->arena;
        size_t len;
        const uint8_t *p;
        uint8_t *tmp;
        int rc;

        if (zetl_type_storage(a->schema->cols[c].type) != ZETL_ST_VAR ||
            zetl_batch_is_null(a, c, src))
                return zetl_batch_copy_cell(a, c, a, src, err);
        p = zetl_batch_get_var(a, c, src, &len);
        tmp = malloc(len ? len : 1);
        if (!tmp)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "iceberg: out of memory");
        memcpy(tmp, p, len);
        rc = zetl_batch_set_var(a, c, tmp, len, err);
        free(tmp);
        return rc;
}

/*
 * Append a version of the key of row r of b (op, pos) and make it the key's
 * last. prev is the arena row of the previous version (-1: none). A delete
 * copies the key columns only; any other op copies every cell, taking
 * unchanged ones from prev.
 */
static int append(struct ice_buf *buf, const struct zetl_batch *b, uint32_t r, enum zetl_op op,
                  uint64_t pos, int64_t prev, bool need_delete, uint32_t slot, uint32_t h,
                  struct zetl_err *err)
{
        struct zetl_batch *a = buf->arena;
        uint32_t row = a->nrows;
        int rc = 0;

        if (row >= buf->rowcap && (rc = grow_rows(buf, err)))
                return rc;
        if ((rc = zetl_batch_row_begin(a, op, pos, err)))
                return rc;
        for (int c = 0; c < a->schema->ncols && rc == 0; c++) {
                if (op == ZETL_OP_DELETE && a->schema->cols[c].key_pos == 0)
                        continue; /* left NULL: a delete row only carries its key */
                if (zetl_batch_is_unchanged(b, c, r))
                        rc = copy_self(buf, c, (uint32_t)prev, err);
                else
                        rc = zetl_batch_copy_cell(a, c, b, r, err);
        }
        if (rc) {
                zetl_batch_row_abort(a);
                return rc;
        }
        zetl_batch_row_end(a);
        buf->hash[row] = h;
        buf->flags[row] = F_LIVE;
        if (prev >= 0) {
                buf->flags[prev] &= (uint8_t)~F_LIVE;
                buf->flags[row] |= buf->flags[prev] & F_DELETE;
        } else {
                buf->nkeys++;
                if (need_delete)
                        buf->flags[row] |= F_DELETE;
        }
        buf->slots[slot] = row + 1;
        if (pos > buf->max_pos)
                buf->max_pos = pos;
        return 0;
}

/* Look up row r's key: fills *slot, *h and *prev (-1: not in the buffer). */
static int lookup(struct ice_buf *buf, const struct zetl_batch *b, uint32_t r, uint32_t *slot,
                  uint32_t *h, int64_t *prev, struct zetl_err *err)
{
        int rc;

        /* Keep the load under one half so probes stay short. */
        if ((uint64_t)(buf->nkeys + 1) * 2 > buf->nslots && (rc = grow_slots(buf, err)))
                return rc;
        *h = key_hash(buf, b, r);
        *slot = find_slot(buf, b, r, *h);
        *prev = buf->slots[*slot] ? (int64_t)buf->slots[*slot] - 1 : -1;
        return 0;
}

int ice_buf_add(struct ice_buf *buf, const struct zetl_batch *b, uint32_t r, uint64_t insert_floor,
                int *missing_col, struct zetl_err *err)
{
        enum zetl_op op = (enum zetl_op)b->ops[r];
        int32_t okr = zetl_batch_old_key_row(b, r);
        uint32_t slot, h;
        int64_t prev;
        bool need;
        int rc;

        *missing_col = -1;
        if (op == ZETL_OP_UPDATE && okr >= 0) {
                /* The key changed: the old key's row goes, as a delete. */
                if ((rc = lookup(buf, b->old, (uint32_t)okr, &slot, &h, &prev, err)))
                        return rc;
                if ((rc = append(buf, b->old, (uint32_t)okr, ZETL_OP_DELETE, b->pos[r], prev, true,
                                 slot, h, err)))
                        return rc;
        }
        if ((rc = lookup(buf, b, r, &slot, &h, &prev, err)))
                return rc;
        if (op != ZETL_OP_DELETE) {
                bool prev_row = prev >= 0 && buf->arena->ops[prev] != ZETL_OP_DELETE;
                for (int c = 0; c < b->schema->ncols; c++) {
                        if (zetl_batch_is_unchanged(b, c, r) && !prev_row) {
                                *missing_col = c;
                                return zetl_err_set(err, ZETL_ENOTFOUND, ZETL_ERRC_FATAL,
                                                    "unchanged value of column %s without an "
                                                    "earlier version",
                                                    b->schema->cols[c].name);
                        }
                }
        }
        need = op == ZETL_OP_UPDATE || op == ZETL_OP_DELETE ||
               (op == ZETL_OP_INSERT && b->pos[r] <= insert_floor);
        return append(buf, b, r, op, b->pos[r], prev, need, slot, h, err);
}

int ice_buf_rows(const struct ice_buf *buf, enum ice_buf_select sel, uint32_t **rows, uint32_t *n,
                 struct zetl_err *err)
{
        const struct zetl_batch *a = buf->arena;
        uint32_t *out;
        uint32_t k = 0;

        *rows = NULL;
        *n = 0;
        if (buf->nkeys == 0)
                return 0;
        out = malloc((size_t)buf->nkeys * sizeof(uint32_t));
        if (!out)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "iceberg: out of memory");
        for (uint32_t r = 0; r < a->nrows; r++) {
                if (!(buf->flags[r] & F_LIVE))
                        continue;
                if (sel == ICE_BUF_DATA ? a->ops[r] == ZETL_OP_DELETE : !(buf->flags[r] & F_DELETE))
                        continue;
                out[k++] = r;
        }
        if (k == 0) {
                free(out);
                out = NULL;
        }
        *rows = out;
        *n = k;
        return 0;
}
