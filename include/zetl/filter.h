/*
 * Data filters. Table filters follow AWS Zero-ETL's data filters: a list of
 * "include:" and "exclude:" patterns (database.table for MySQL,
 * database.schema.table for PostgreSQL), each part a literal, '*' or /regex/,
 * evaluated in order, the last match wins; no pattern includes everything;
 * once a pattern exists, evaluation starts from "exclude everything".
 *
 * A filter file also holds row filters ("rows: PATTERN: condition", a SQL
 * boolean expression over the table's columns) and column filters
 * ("columns: PATTERN: exclude a, b" or "include a, b"); see zetl-filters(5).
 * Every rule whose pattern matches a table applies to it: the conditions of
 * several rows: rules must all hold, the column lists all apply. With
 * ZETL_FILTER_ANY, two-part patterns match tables without a schema part
 * (MySQL-shaped), three-part ones the others.
 *
 * Row semantics (the target holds exactly the source rows that pass): a
 * snapshot row or insert that does not pass is dropped; an update whose new
 * image does not pass becomes a delete of its key (the old key when the key
 * changed); an update that passes stays an update (an upsert in sinks); a
 * delete always passes (deleting a row the target never had is harmless). A
 * row the condition cannot judge because a cell it reads arrived
 * "unchanged" (a TOASTed value PostgreSQL did not send) makes the table need
 * attention: either choice could be wrong.
 */
#ifndef ZETL_FILTER_H
#define ZETL_FILTER_H

#include <stdbool.h>

#include "zetl/batch.h"
#include "zetl/err.h"
#include "zetl/schema.h"

enum zetl_filter_dialect {
        ZETL_FILTER_PG,    /* database.schema.table, no regex in the database part */
        ZETL_FILTER_MYSQL, /* database.table */
        ZETL_FILTER_ANY,   /* either form (sources without a fixed shape) */
};

#define ZETL_FILTER_MAX_PATTERNS    99
#define ZETL_FILTER_MAX_PATTERN_LEN 256

struct zetl_filter;

/* Parse the --data-filter text (NULL: none) and the text of a filter file
 * (file_text NULL: none; file_name is used in messages) into *out (free with
 * zetl_filter_free). Errors are config class and name "--data-filter" or the
 * file, with line and column. Returns 0, ZETL_EINVAL or ZETL_ENOMEM. */
int zetl_filter_parse(const char *data_filter, const char *file_name, const char *file_text,
                      enum zetl_filter_dialect d, struct zetl_filter **out, struct zetl_err *err);
void zetl_filter_free(struct zetl_filter *f);
/* Does the table pass the table filter? */
bool zetl_filter_table(const struct zetl_filter *f, const struct zetl_table_id *id);
/* Number of table patterns (0: everything is included). */
int zetl_filter_npatterns(const struct zetl_filter *f);
/* Check the row and column filters that match s's table against s: the
 * columns they name exist, literals fit their column's type, no key column
 * is left out. For create/modify-integration. Returns 0, ZETL_EINVAL (config
 * class, "FILE:LINE:COL: reason") or ZETL_ENOMEM. */
int zetl_filter_check_schema(const struct zetl_filter *f, const struct zetl_schema *s,
                             struct zetl_err *err);
/* True when the table has row or column filters, i.e. zetl_filter_apply changes batches. */
bool zetl_filter_transforms(const struct zetl_filter *f, const struct zetl_table_id *id);

/* ---- applying row and column filters (the core; thread-safe) ------------- */

/* Prepare schema s (a version the source announced): check the filters that
 * match its table (as zetl_filter_check_schema, except that a column named
 * in a column list and missing from s is only warned about: the source may
 * have dropped it), compile its row filter and build the shape sinks see,
 * *sink: s without the columns left out (s itself when none is). *sink is
 * owned by f and lives as long as f; its version is the caller's to set
 * (the same as s's). The result is kept per s (f holds a reference to s), so
 * calling again is cheap. Returns 0, ZETL_ETABLE (fatal class, the reason in
 * err: put the table into needs_attention) or ZETL_ENOMEM. */
int zetl_filter_prepare(const struct zetl_filter *f, const struct zetl_schema *s,
                        const struct zetl_schema **sink, struct zetl_err *err);
/* The shape sinks see for s: s, or the one zetl_filter_prepare built. */
const struct zetl_schema *zetl_filter_sink_schema(const struct zetl_filter *f,
                                                  const struct zetl_schema *s);
/* Apply the row and column filters to a complete batch *b (of a schema
 * prepared or not): *b is replaced by the batch sinks should get (the same
 * one when nothing changes, a batch of the sink schema otherwise) or NULL
 * when no row remains; whatever is not returned is freed, on error too.
 * Returns 0, ZETL_ETABLE (the table's filters do not fit its schema, or a
 * row cannot be judged: see above), ZETL_ENOMEM or ZETL_ELIMIT. */
int zetl_filter_apply(const struct zetl_filter *f, struct zetl_batch **b, struct zetl_err *err);

/* ---- changing an integration's filters (modify-integration) -------------- */

/* The row and column rules that apply to the table, one per line in a
 * canonical form (layout and comments do not count): two filters treat the
 * table alike when the texts are equal. *out is malloc'd ("" for none).
 * Returns 0 or ZETL_ENOMEM. */
int zetl_filter_table_rules(const struct zetl_filter *f, const struct zetl_table_id *id,
                            char **out);
/* False only when every table newf includes was included by oldf too (newf
 * differs from oldf by removed include: patterns and added exclude:
 * patterns); true when newf may include tables oldf did not. */
bool zetl_filter_may_add_tables(const struct zetl_filter *oldf, const struct zetl_filter *newf);

/* ---- PostgreSQL publication pushdown ------------------------------------- */

/* What a PostgreSQL 15 publication can filter for table s: *where, the part
 * of its row filter PostgreSQL evaluates exactly as zetl does over columns
 * with where_ok[i] (NULL: any), as SQL (NULL: none); *columns, a quoted
 * column list when columns can be left out at the source (NULL: none, or
 * list_must NULL): the columns sinks get, those the row filter reads (zetl
 * still evaluates it on what arrives) and those with list_must[i] (the
 * replica identity, which PostgreSQL requires). Both malloc'd. zetl still
 * applies the whole filter: a publication that lets more through is never
 * wrong. Returns 0, ZETL_EINVAL (the filters do not fit s) or ZETL_ENOMEM. */
int zetl_filter_pg_pushdown(const struct zetl_filter *f, const struct zetl_schema *s,
                            const bool *where_ok, const bool *list_must, char **where,
                            char **columns, struct zetl_err *err);

#endif
