/*
 * Data filters. Table filters follow AWS Zero-ETL's data filters: a list of
 * "include:" and "exclude:" patterns (database.table for MySQL,
 * database.schema.table for PostgreSQL), each part a literal, '*' or /regex/,
 * evaluated in order, the last match wins; no pattern includes everything;
 * once a pattern exists, evaluation starts from "exclude everything".
 *
 * Row filters (a boolean expression per table) and column filters (columns
 * dropped per table) will come from the filter file; for now the file holds
 * table patterns only. With ZETL_FILTER_ANY, two-part patterns match tables
 * without a schema part (MySQL-shaped), three-part ones the others.
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
/* Check the row and column filters of the table against its schema. */
int zetl_filter_check_schema(const struct zetl_filter *f, const struct zetl_schema *s,
                             struct zetl_err *err);
/* True when the table has row or column filters, i.e. zetl_filter_apply changes batches. */
bool zetl_filter_transforms(const struct zetl_filter *f, const struct zetl_table_id *id);

#endif
