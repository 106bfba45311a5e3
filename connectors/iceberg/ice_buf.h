/*
 * ice_buf: the Iceberg sink's per-table change buffer for one commit,
 * collapsed by primary key. An equality delete only applies to data files
 * of a smaller sequence number, so within one snapshot a key may appear in
 * at most one data row: the buffer keeps, per key, the last change only
 * (the earlier versions stay in the arena, marked dead) and a flag telling
 * whether the table may already hold an older version of the key, in which
 * case the commit writes an equality delete for it.
 *
 * That flag is decided by the first change of a key in the buffer and
 * inherited by the later ones: a SNAPSHOT row never needs a delete (the
 * initial sync starts from an empty table, keys are unique); an INSERT needs
 * one only when its position is at or below `insert_floor` (the highest row
 * position the table has ever committed: such an insert may be a replay of
 * one the table already has); UPDATE and DELETE always need one.
 *
 * Rows are copied (the batches belong to the core). Memory is bounded by
 * the arena's max_bytes: zetl_batch's ceiling gives ZETL_ELIMIT, upon which
 * the caller commits what it has and starts a fresh buffer.
 */
#ifndef ZETL_ICE_BUF_H
#define ZETL_ICE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/batch.h"
#include "zetl/err.h"
#include "zetl/schema.h"

struct ice_buf;

/* An empty buffer for schema s (a reference is taken); max_bytes bounds
 * the arena (0: the batch default). NULL when out of memory. */
struct ice_buf *ice_buf_new(const struct zetl_schema *s, size_t max_bytes);
void ice_buf_free(struct ice_buf *buf);

/* Add row r of b (whose schema has buf's shape). A key-changing update
 * (b->old holds its old key) first buries the old key. An "unchanged" cell
 * is taken from the key's previous version in the buffer; when there is
 * none, nothing is added, *missing_col is set to the column's index and
 * ZETL_ENOTFOUND returned (the caller decides what the table does). Other
 * errors: ZETL_ELIMIT (the arena is full: commit and retry the row with a
 * new buffer; a half-added row is harmless to add again), ZETL_ENOMEM. */
int ice_buf_add(struct ice_buf *buf, const struct zetl_batch *b, uint32_t r, uint64_t insert_floor,
                int *missing_col, struct zetl_err *err);

/* The arena holding every version added (rows listed by ice_buf_rows). */
const struct zetl_batch *ice_buf_batch(const struct ice_buf *buf);
/* Number of keys whose last change is in the buffer. */
uint32_t ice_buf_keys(const struct ice_buf *buf);
size_t ice_buf_bytes(const struct ice_buf *buf);
/* Highest row position added (0 when empty). */
uint64_t ice_buf_max_pos(const struct ice_buf *buf);

enum ice_buf_select {
        ICE_BUF_DATA,    /* last versions that are rows (not deletes) */
        ICE_BUF_DELETES, /* last versions whose key needs an equality delete */
};

/* Arena row numbers of the selected last versions, in arrival order, into
 * *rows (malloc'd, caller frees; NULL when *n is 0). Returns 0 or ZETL_ENOMEM. */
int ice_buf_rows(const struct ice_buf *buf, enum ice_buf_select sel, uint32_t **rows, uint32_t *n,
                 struct zetl_err *err);

#endif
