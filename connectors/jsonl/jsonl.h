/*
 * The jsonl format shared by the jsonl sink (writes it) and the jsonl source
 * (reads it back): one JSON object per line.
 *
 *   {"type":"schema","table":["db","schema","t"],"version":1,
 *    "columns":[{"name":"id","type":"int64","precision":0,"scale":0,
 *                "nullable":false,"key":1,"source_type":"bigint"}, ...],
 *    "changes":[{"kind":"rename","compatible":true,"detail":"...",
 *                "column":"c2","old_column":"c"}]}
 *   {"type":"change","table":[...],"op":"insert","pos":"42","row":{...},
 *    "unchanged":["big"],"old_key":{"id":1}}
 *   {"type":"truncate","table":[...],"pos":"43"}
 *   {"type":"drop","table":[...]}
 *   {"type":"commit","pos":"43","token":"0/2B","time_us":1700000000000000}
 *
 * A drop line says the table left the integration (modify-integration with
 * filters that no longer select it): a reader forgets its rows and shape; a
 * later schema line starts it afresh.
 *
 * Values: booleans and integers as JSON; floats as numbers, NaN and infinities
 * as the strings "NaN", "Infinity", "-Infinity"; decimals as exact strings;
 * bytes as base64; dates, times and timestamps as ISO 8601 strings with
 * microseconds (timestamptz with "Z"); uuids canonical; json as its text.
 * Positions are strings so all 64 bits survive any JSON reader.
 */
#ifndef ZETL_JSONL_H
#define ZETL_JSONL_H

#include <jansson.h>

#include "zetl/batch.h"
#include "zetl/err.h"
#include "zetl/schema.h"

/* New reference to the JSON form of cell (col, r); NULL when out of memory. */
json_t *jsonl_value(const struct zetl_batch *b, int col, uint32_t r);
/* Set cell col of the row being built from its JSON form. */
int jsonl_set_value(struct zetl_batch *b, int col, json_t *v, struct zetl_err *err);
json_t *jsonl_table(const struct zetl_table_id *id);
int jsonl_parse_table(json_t *v, struct zetl_table_id *id, struct zetl_err *err);
json_t *jsonl_schema(const struct zetl_schema *old, const struct zetl_schema *s,
                     const struct zetl_schema_diff *d);
/* A schema from a schema line (refs = 1). */
int jsonl_parse_schema(json_t *line, struct zetl_schema **out, struct zetl_err *err);
json_t *jsonl_pos(uint64_t pos);
int jsonl_parse_pos(json_t *v, uint64_t *out);

#endif
