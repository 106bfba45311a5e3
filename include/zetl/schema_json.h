/*
 * Schemas as JSON (jansson), for connectors that speak JSON and for the
 * core's own record of the last shape applied per table (schemas.json):
 *
 *   {"table":["db","schema","t"],"version":1,
 *    "columns":[{"name":"id","type":"int64","precision":0,"scale":0,
 *                "nullable":false,"key":1,"source_type":"bigint","source_id":1}],
 *    "changes":[{"kind":"rename","compatible":true,"detail":"...",
 *                "column":"new_name","old_column":"old_name"}]}   (with a diff)
 */
#ifndef ZETL_SCHEMA_JSON_H
#define ZETL_SCHEMA_JSON_H

#include <jansson.h>

#include "zetl/err.h"
#include "zetl/schema.h"

/* ["db","schema","table"]; NULL when out of memory. */
json_t *zetl_table_id_to_json(const struct zetl_table_id *id);
int zetl_table_id_from_json(json_t *v, struct zetl_table_id *id, struct zetl_err *err);
/* New reference; d (may be NULL) adds "changes", each naming its "column"
 * (in s) and "old_column" (in old, which may be NULL). */
json_t *zetl_schema_to_json(const struct zetl_schema *old, const struct zetl_schema *s,
                            const struct zetl_schema_diff *d);
/* A schema (refs = 1) from the object above. Errors are fatal class. */
int zetl_schema_from_json(json_t *o, struct zetl_schema **out, struct zetl_err *err);

#endif
