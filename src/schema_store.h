/*
 * The last shape of each table the target has been given (schemas.json in
 * the integration's folder), so that a restart continues version numbers and
 * diffs a table's shape against what the target really has, not against
 * nothing. Written by the sink thread at commit time, after the sink's commit
 * (a crash in between makes the next run send the change again: sinks apply
 * schema changes idempotently).
 */
#ifndef ZETL_SCHEMA_STORE_H
#define ZETL_SCHEMA_STORE_H

#include <stdbool.h>

#include "zetl/err.h"
#include "zetl/schema.h"

struct zetl_schema_set {
        struct zetl_schema **v; /* references */
        int n, cap;
        bool dirty;
};

/* Load schemas.json (a missing file is an empty set). */
int zetl_schema_set_load(const char *idir, struct zetl_schema_set *set, struct zetl_err *err);
/* Write it atomically if dirty. */
int zetl_schema_set_save(const char *idir, struct zetl_schema_set *set, struct zetl_err *err);
const struct zetl_schema *zetl_schema_set_find(const struct zetl_schema_set *set,
                                               const struct zetl_table_id *id);
/* Record s (a reference is taken) as the table's current shape. */
int zetl_schema_set_put(struct zetl_schema_set *set, const struct zetl_schema *s);
void zetl_schema_set_free(struct zetl_schema_set *set);

#endif
