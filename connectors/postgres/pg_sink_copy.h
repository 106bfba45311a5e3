/*
 * pg_sink_copy: what the warehouse sink stages for one batch, and how.
 *
 * The plan reduces a batch to its net effect: one staging row per key, the
 * last change by position (the batch's row order) winning. An update whose
 * cell was not sent (unchanged TOAST) takes the value from the key's earlier
 * row in the same batch when there is one; else the cell stays "unchanged"
 * and the target keeps its value (from the row's own key, or, for a row whose
 * key changed, from the target row at the old key). A key-changing update
 * also stages a delete of its old key.
 *
 * Rows are then encoded as PostgreSQL's binary COPY (header, per row a field
 * count and length-prefixed fields in network order, trailer), or for
 * Redshift as the literal rows of a multi-row INSERT.
 */
#ifndef ZETL_PG_SINK_COPY_H
#define ZETL_PG_SINK_COPY_H

#include <stdbool.h>
#include <stdint.h>

#include "pg_sink_sql.h"
#include "zetl/batch.h"
#include "zetl/err.h"

#define WH_NO_ROW UINT32_MAX

struct wh_prow {
        uint8_t op;    /* WH_OP_UPSERT or WH_OP_DELETE */
        bool from_old; /* a delete of the key in row `row` of batch->old */
        uint32_t row;  /* row of the batch (or of batch->old) */
        uint32_t fill; /* WH_NO_ROW, or the row whose old key/key the target's kept values
                          come from when that is not the row's own key */
        bool fill_old; /* fill names a row of batch->old (its old key) */
};

struct wh_plan {
        const struct zetl_batch *b;
        uint32_t n; /* staging rows */
        struct wh_prow *rows;
        uint32_t *prev;   /* per batch row: the key's previous upserting row, or WH_NO_ROW */
        bool *unch;       /* per column: a staging row keeps the target's value */
        bool old_fill;    /* a staging row takes kept values from an old key */
        uint32_t skipped; /* updates and deletes of a table without key (append only) */
};

/* Build the plan of batch b (borrowed: it must outlive the plan). Returns 0,
 * ZETL_ENOMEM. */
int wh_plan_build(struct wh_plan *p, const struct zetl_batch *b, struct zetl_err *err);
void wh_plan_free(struct wh_plan *p);
/* The batch row whose value staging row i takes for column col, or
 * WH_NO_ROW when the target keeps its value. */
uint32_t wh_plan_cell_row(const struct wh_plan *p, uint32_t i, int col);

/* The binary COPY header and trailer. */
void wh_copy_header(struct wh_buf *o);
void wh_copy_trailer(struct wh_buf *o);
/* Cell col of row r (NULL when null) in the staging column's binary form.
 * Returns 0 or an error (ZETL_ETABLE for a value PostgreSQL cannot hold). */
int wh_copy_cell(struct wh_buf *o, const struct zetl_batch *b, int col, uint32_t r,
                 struct zetl_err *err);
/* A numeric's canonical text as numeric_send writes it. */
int wh_copy_numeric(struct wh_buf *o, const char *s, size_t len, struct zetl_err *err);
/* Staging row i of the plan, with the columns wh_sql_staging_cols lists for sh. */
int wh_copy_row(struct wh_buf *o, const struct wh_plan *p, uint32_t i,
                const struct wh_stage_shape *sh, struct zetl_err *err);
/* Row i with the table's columns only (no _zetl_op, no flags): for a COPY
 * straight into the target table (wh_sql_copy_target). */
int wh_copy_row_direct(struct wh_buf *o, const struct wh_plan *p, uint32_t i, struct zetl_err *err);
/* The same row as "(lit, lit, ...)" for a Redshift INSERT. */
int wh_values_row(struct wh_buf *o, enum wh_dialect d, const struct wh_plan *p, uint32_t i,
                  const struct wh_stage_shape *sh, struct zetl_err *err);

#endif
