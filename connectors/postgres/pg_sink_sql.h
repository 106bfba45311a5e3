/*
 * pg_sink_sql: the SQL text of the warehouse sink (pg_sink.c), for the two
 * dialects it speaks: PostgreSQL and Amazon Redshift. Nothing here talks to a
 * server, so every statement can be checked by unit tests against what the
 * PostgreSQL and Redshift manuals say it must be.
 *
 * Identifiers are always double-quoted with embedded quotes doubled, so a
 * table named `a"b; drop table x` is one identifier and nothing else. Values
 * never go into PostgreSQL statements as text: rows travel by binary COPY
 * (pg_sink_copy.c) and the checkpoint by parameters. Redshift has no COPY
 * FROM STDIN, so its staging rows are literals, escaped as its QUOTE_LITERAL
 * does (quotes and backslashes doubled).
 *
 * Staging tables have internal column names that no source name can clash
 * with: `_zetl_op` (1 upsert, 3 delete), `c<i>` for column i of the schema,
 * `u<i>` (true: the value was not sent, keep the target's) and `o<i>` (the old
 * key a moved row takes its unsent values from) for key column i.
 */
#ifndef ZETL_PG_SINK_SQL_H
#define ZETL_PG_SINK_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/batch.h"
#include "zetl/err.h"
#include "zetl/schema.h"

enum wh_dialect {
        WH_POSTGRES = 0,
        WH_REDSHIFT = 1,
};

/* Staging row operations (the `_zetl_op` column). */
enum {
        WH_OP_UPSERT = 1,
        WH_OP_DELETE = 3,
};

/* A growable text/byte buffer with a ceiling: past max, `failed` is set and
 * further appends are ignored, so callers check once at the end. */
struct wh_buf {
        char *p;
        size_t len, cap, max;
        bool failed;
};

void wh_buf_init(struct wh_buf *b, size_t max);
void wh_buf_free(struct wh_buf *b);
void wh_buf_reset(struct wh_buf *b);
void wh_buf_put(struct wh_buf *b, const void *p, size_t n);
void wh_buf_puts(struct wh_buf *b, const char *s);
void wh_buf_printf(struct wh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far, NUL-terminated ("" when failed). */
const char *wh_buf_str(struct wh_buf *b);

/* How the sink shapes the target (from URI parameters and options). */
struct wh_opts {
        enum wh_dialect dialect;
        bool drop_columns; /* DROP COLUMN when the source drops one (default: keep) */
        bool soft_delete;  /* _zetl_deleted / _zetl_synced_at instead of DELETE */
};

/* "name" with embedded quotes doubled. */
void wh_quote_ident(struct wh_buf *b, const char *name);
/* A string literal that means exactly s[0..n) whatever the server's
 * standard_conforming_strings: PostgreSQL E'...' and Redshift '...' with
 * quotes and backslashes doubled. */
void wh_quote_literal(struct wh_buf *b, enum wh_dialect d, const char *s, size_t n);

/* The target schema of a source table: "<db>_<schema>", or "<db>" when the
 * source has no schema level (MySQL). Always NUL-terminated. */
void wh_target_schema(const struct zetl_table_id *id, char *buf, size_t len);
/* "schema"."table" of the target. */
void wh_target_name(struct wh_buf *b, const struct zetl_table_id *id);

/* The target column type of c ("numeric(12,3)", "VARCHAR(65535)", ...). */
void wh_type_sql(struct wh_buf *b, enum wh_dialect d, const struct zetl_column *c);
/* The staging column type of c. PostgreSQL: the unconstrained type of its
 * logical type (numeric, text, ...), which binary COPY encodes for and every
 * batch value fits; Redshift: the target's type. */
void wh_staging_type(struct wh_buf *b, enum wh_dialect d, const struct zetl_column *c);
/* True when the schema's key can be a PRIMARY KEY (it has one and no key
 * column is nullable: a REPLICA IDENTITY FULL table's "key" can hold NULLs). */
bool wh_has_pk(const struct zetl_schema *s);

/* ---- DDL (each appends one statement, no trailing semicolon) ------------ */

void wh_sql_create_schema(struct wh_buf *b, const char *schema);
/* CREATE TABLE IF NOT EXISTS with every column, non-key columns nullable,
 * the primary key when wh_has_pk, and the soft-delete columns if asked. */
void wh_sql_create_table(struct wh_buf *b, const struct wh_opts *o, const struct zetl_schema *s);
void wh_sql_add_column(struct wh_buf *b, const struct wh_opts *o, const struct zetl_table_id *id,
                       const struct zetl_column *c);
void wh_sql_drop_column(struct wh_buf *b, const struct zetl_table_id *id, const char *name);
void wh_sql_rename_column(struct wh_buf *b, const struct zetl_table_id *id, const char *from,
                          const char *to);
/* Change the column's type to c's. PostgreSQL: ALTER COLUMN TYPE ... USING;
 * Redshift can only do that for VARCHAR, so it copies through a new column
 * (several statements separated by ";\n"). */
void wh_sql_alter_type(struct wh_buf *b, const struct wh_opts *o, const struct zetl_table_id *id,
                       const struct zetl_column *c);
/* Replace the primary key (constraint name as the catalog reports it, NULL
 * when there is none) with the schema's. */
void wh_sql_replace_pk(struct wh_buf *b, const struct zetl_schema *s, const char *constraint);
/* Remove every row: TRUNCATE in PostgreSQL; DELETE in Redshift, whose
 * TRUNCATE commits the transaction it runs in. */
void wh_sql_truncate(struct wh_buf *b, enum wh_dialect d, const struct zetl_table_id *id);
/* Soft delete: mark every live row deleted instead. */
void wh_sql_soft_truncate(struct wh_buf *b, enum wh_dialect d, const struct zetl_table_id *id);

/* ---- staging and apply ---------------------------------------------------- */

/* What one staged batch needs beyond the plain columns. */
struct wh_stage_shape {
        const bool *unch; /* per column: some staged row keeps the target's value (u<i>) */
        bool old_fill;    /* some staged row takes values from the target at an old key */
};

void wh_staging_name(char *buf, size_t len, int table_no, uint32_t version);
/* COPY "<schema>"."<table>" ("<col>", ...) FROM STDIN (FORMAT binary): the
 * rows of an initial sync straight into the table it emptied. */
void wh_sql_copy_target(struct wh_buf *b, const struct zetl_schema *s);
/* A query whose one value is true when the target table can take such a
 * COPY: each column has the staging column's type, and no other column
 * needs a value (NOT NULL without a default). */
void wh_sql_copy_target_check(struct wh_buf *b, const struct zetl_schema *s);
/* CREATE TEMP TABLE IF NOT EXISTS with every staging column. */
void wh_sql_staging_create(struct wh_buf *b, enum wh_dialect d, const char *stg,
                           const struct zetl_schema *s);
/* The staging column list of a batch: "_zetl_op, c0, ..., u<i>..., o<i>...". */
void wh_sql_staging_cols(struct wh_buf *b, const struct zetl_schema *s,
                         const struct wh_stage_shape *sh);
void wh_sql_copy(struct wh_buf *b, const char *stg, const struct zetl_schema *s,
                 const struct wh_stage_shape *sh);
/* Redshift: "INSERT INTO stg (cols) VALUES " (rows follow, comma-separated). */
void wh_sql_insert_head(struct wh_buf *b, const char *stg, const struct zetl_schema *s,
                        const struct wh_stage_shape *sh);
/* Statements that apply the staged rows to the target: the net effect per
 * key, unsent values kept. PostgreSQL: an UPDATE of the staging rows that
 * take values from an old key (when sh->old_fill), then one MERGE. Redshift:
 * UPDATEs that fill unsent values, then DELETE and INSERT (its MERGE has no
 * conditional WHEN clauses). Tables without a usable key get an INSERT of
 * the upserts (append only). Statements are separated by ";\n". */
void wh_sql_apply(struct wh_buf *b, const struct wh_opts *o, const char *stg,
                  const struct zetl_schema *s, const struct wh_stage_shape *sh);

/* ---- the checkpoint row --------------------------------------------------- */

/* CREATE SCHEMA and TABLE IF NOT EXISTS for "_zetl"."checkpoints". */
void wh_sql_checkpoint_ddl(struct wh_buf *b, enum wh_dialect d);
/* PostgreSQL: one statement with parameters $1 integration, $2 order (text),
 * $3 token, $4 source time µs (text). Redshift: DELETE and INSERT of
 * literals (it has neither ON CONFLICT nor server-side parameters here). */
void wh_sql_checkpoint_upsert(struct wh_buf *b, enum wh_dialect d, const char *integration,
                              uint64_t order, const char *token, int64_t time_us);
/* SELECT order (text), token, time µs for $1 (PostgreSQL) or a literal. */
void wh_sql_checkpoint_select(struct wh_buf *b, enum wh_dialect d, const char *integration);
void wh_sql_checkpoint_delete(struct wh_buf *b, enum wh_dialect d, const char *integration);

/* ---- literals (Redshift staging rows) ------------------------------------- */

/* Cell col of row r as a Redshift literal (NULL when null). Returns 0, or
 * ZETL_ETABLE for a value Redshift cannot hold (NaN numeric, infinite
 * dates, strings over 65535 bytes). */
int wh_sql_literal_cell(struct wh_buf *b, enum wh_dialect d, const struct zetl_batch *bt, int col,
                        uint32_t r, struct zetl_err *err);

#endif
