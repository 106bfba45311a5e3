/*
 * ice_schema: zetl schemas as Iceberg schemas, with field ids that survive
 * schema evolution, and their JSON form in table metadata.
 *
 * Type mapping (ice_type_from_zetl):
 *
 *   bool                 boolean
 *   int16, int32         int
 *   int64                long
 *   float32, float64     float, double
 *   decimal(p,s)         decimal(p,s); see ice_decimal_resolve for the
 *                        unconstrained and over-wide cases
 *   string, json         string
 *   bytes                binary
 *   date, time           date, time (µs)
 *   timestamp(tz)        timestamp, timestamptz (µs)
 *   uuid                 uuid
 *
 * Field ids: the table's last-column-id only grows. A new column takes the
 * next id; a renamed column keeps its id; a dropped column's id is never
 * reused; a promotion (int -> long, float -> double, decimal precision up at
 * the same scale) keeps the id and changes the type. A source narrowing
 * (long back to int) keeps the wider Iceberg type: the writer converts. Any
 * other type change, and any change of the key, is "incompatible": the new
 * schema is still built (the changed column under a fresh id, so old files
 * never feed it) but the table's existing rows must be rewritten (resync).
 * Key columns are required and listed, in key order, in identifier-field-ids;
 * every other column is optional, whatever its NOT NULL, because Iceberg
 * cannot add a required column to a table that has rows.
 */
#ifndef ZETL_ICE_SCHEMA_H
#define ZETL_ICE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "zetl/err.h"
#include "zetl/schema.h"

enum ice_type_id {
        ICE_T_BOOLEAN = 0,
        ICE_T_INT,
        ICE_T_LONG,
        ICE_T_FLOAT,
        ICE_T_DOUBLE,
        ICE_T_DECIMAL,
        ICE_T_DATE,
        ICE_T_TIME,
        ICE_T_TIMESTAMP,
        ICE_T_TIMESTAMPTZ,
        ICE_T_STRING,
        ICE_T_UUID,
        ICE_T_BINARY,
};

struct ice_type {
        enum ice_type_id id;
        int precision; /* decimal only: 1..38 */
        int scale;     /* decimal only: 0..precision */
};

/* Iceberg's decimal ceiling, and the scale given to a decimal whose scale the
 * source does not fix (PostgreSQL's unconstrained numeric: precision 0, scale
 * -1). 18 with precision 38 is Spark's DecimalType.SYSTEM_DEFAULT, which is
 * also what Spark's JDBC reader makes of the same PostgreSQL column, so a
 * table loaded by zetl reads like one loaded by Spark: 20 integer digits and
 * 18 fractional ones (enough for money, coordinates and 18-decimal tokens). */
#define ICE_DECIMAL_MAX_PRECISION 38
#define ICE_DECIMAL_DEFAULT_SCALE 18

/* The Iceberg decimal(p,s) that holds a zetl decimal column declared with
 * (precision, scale) as in struct zetl_column:
 *   precision 0 (unconstrained)      -> p = 38, s = scale, or 18 when unknown
 *   precision 1..38                  -> p = precision, s = scale (0 when unknown)
 *   precision > 38                   -> p = 38, s = min(scale, 38)
 * The writer (Parquet side) must then store a value with more fractional
 * digits than s rounded half away from zero (PostgreSQL's own rounding), and
 * refuse, never truncate, a value whose integer part needs more than p - s
 * digits; NaN and infinities have no decimal value. */
void ice_decimal_resolve(int32_t precision, int32_t scale, int *p, int *s);

/* The Iceberg type of a zetl column. Returns 0 or ZETL_EINVAL (unknown type). */
int ice_type_from_zetl(const struct zetl_column *c, struct ice_type *out);
/* "long", "decimal(38,18)", ... into buf (always NUL-terminated); returns buf. */
const char *ice_type_str(const struct ice_type *t, char *buf, size_t len);
/* Parse a primitive type name as written in table metadata. Returns 0 or
 * ZETL_EUNSUPPORTED (nested, fixed, v3 types, or garbage). */
int ice_type_parse(const char *s, struct ice_type *out);
bool ice_type_eq(const struct ice_type *a, const struct ice_type *b);
/* The zetl type data of an Iceberg type is written from and read into (the
 * widest of the zetl types ice_type_from_zetl maps to it). */
enum zetl_type ice_type_to_zetl(const struct ice_type *t);

/* Append name[0..n) to buf at *at as one directory name of a table's path
 * (the sink's layout PATH/<db>[/<schema>]/<table>): [A-Za-z0-9_.-] and the
 * bytes of UTF-8 sequences stay, anything else and a leading '.' become
 * "~HH", so no name is ".", ".." or hidden and no location needs encoding.
 * Returns 0, or -1 when n is 0 or buf is too small. */
int ice_dir_component(char *buf, size_t len, size_t *at, const char *name, size_t n);
/* True when a column of type from may become type to in place under the v2
 * rules: same type, int -> long, float -> double, decimal(P,S) -> decimal(P',S)
 * with P' >= P. */
bool ice_type_promotable(const struct ice_type *from, const struct ice_type *to);

struct ice_field {
        int id;
        char *name;
        bool required;
        struct ice_type type;
};

struct ice_schema {
        int schema_id;
        int nfields;
        struct ice_field *fields; /* in the zetl column order of the schema it came from */
        int nident;
        int *ident_ids; /* identifier-field-ids, in key order */
};

/* An empty schema with room for nfields (names NULL) and nident identifier
 * ids. NULL when out of memory. Free with ice_schema_free. */
struct ice_schema *ice_schema_new(int nfields, int nident);
void ice_schema_free(struct ice_schema *s);
struct ice_schema *ice_schema_clone(const struct ice_schema *s);
/* Same fields (ids, names, types, required, order) and identifier ids;
 * schema_id is not compared (that is how metadata finds a schema to reuse). */
bool ice_schema_equal(const struct ice_schema *a, const struct ice_schema *b);
/* Index of the field with that name / id, or -1. */
int ice_schema_find_name(const struct ice_schema *s, const char *name);
int ice_schema_find_id(const struct ice_schema *s, int id);
/* Highest field id in s (0 when empty). */
int ice_schema_max_id(const struct ice_schema *s);

/* The result of ice_schema_evolve. */
struct ice_evolution {
        struct ice_schema *schema; /* owned; schema_id left at cur's (0 without cur):
                                      ice_meta_set_schema assigns the real one */
        int last_column_id;        /* the table's new last-column-id */
        int nfields;               /* = the new zetl schema's ncols */
        int *field_ids;            /* owned: field id of zetl column j */
        bool changed;              /* schema differs from cur (or there was no cur) */
        bool incompatible;         /* existing rows must be rewritten: resync the table */
        char reason[256];          /* the first incompatibility, for people */
};

/* Build the next Iceberg schema for zetl schema `new`.
 *   cur              the table's current Iceberg schema, NULL for a new table
 *   last_column_id   the table's last-column-id (0 for a new table)
 *   old, diff        the zetl schema cur was built from and the diff old ->
 *                    new, as the core hands them to a sink; both NULL when
 *                    unknown (a restart: columns are then matched by name,
 *                    so a rename cannot be told from a drop and an add)
 * Columns are matched to cur's fields by name through the diff (a rename
 * looks up the old name, then the new one, so applying the same change twice
 * after a crash gives the same ids). Fills *out (free with
 * ice_evolution_free) and returns 0, or ZETL_EINVAL (diff without old, a
 * type with no Iceberg equivalent) or ZETL_ENOMEM. An incompatible change is
 * not an error: it is reported in out->incompatible. */
int ice_schema_evolve(const struct ice_schema *cur, int last_column_id,
                      const struct zetl_schema *old, const struct zetl_schema *new,
                      const struct zetl_schema_diff *diff, struct ice_evolution *out,
                      struct zetl_err *err);
void ice_evolution_free(struct ice_evolution *ev);

/* The schema as a metadata JSON object ({"type": "struct", "schema-id", ...}).
 * New reference, NULL when out of memory. */
json_t *ice_schema_to_json(const struct ice_schema *s);
/* The same as a compact malloc'd string (the Parquet footer's
 * "iceberg.schema"), NULL when out of memory. */
char *ice_schema_dumps(const struct ice_schema *s);
/* Parse one schema object of table metadata. Returns 0 and *out (free with
 * ice_schema_free), ZETL_EPROTO (malformed: the message says which part),
 * ZETL_EUNSUPPORTED (a nested or unknown type) or ZETL_ENOMEM. Fatal class. */
int ice_schema_from_json(const json_t *j, struct ice_schema **out, struct zetl_err *err);

#endif
