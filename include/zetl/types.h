/*
 * Logical types of the columnar intermediate. Every source type maps to one of
 * these and every sink maps each of them to its own type. The physical layout
 * of a value follows the Arrow C Data Interface so a batch can be exported
 * without copying:
 *
 *   type         storage              Arrow format
 *   bool         bit-packed values    "b"
 *   int16/32/64  int16/32/64_t        "s" "i" "l"
 *   float32/64   float / double       "f" "g"
 *   decimal      var: canonical text  "u" (+ metadata zetl.decimal=p,s)
 *   string       var: UTF-8           "u"
 *   bytes        var                  "z"
 *   date         int32 days since 1970-01-01              "tdD"
 *   time         int64 µs since midnight                  "ttu"
 *   timestamp    int64 µs since 1970-01-01, no zone       "tsu:"
 *   timestamptz  int64 µs since 1970-01-01 UTC            "tsu:UTC"
 *   uuid         fixed 16 bytes, network order            "w:16"
 *   json         var: UTF-8 JSON text                     "u" (+ metadata zetl.json)
 *
 * Decimals are kept as text ("-123.4500", "NaN", "Infinity", "-Infinity") so
 * that any precision stays exact and nothing ever goes through a double. The
 * text is canonical: an optional '-', at least one digit before an optional
 * '.', exactly `scale` digits after it when the column's scale is known.
 * Var-length values use int32 offsets, as Arrow's utf8/binary do.
 */
#ifndef ZETL_TYPES_H
#define ZETL_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum zetl_type {
        ZETL_T_BOOL = 0,
        ZETL_T_INT16,
        ZETL_T_INT32,
        ZETL_T_INT64,
        ZETL_T_FLOAT32,
        ZETL_T_FLOAT64,
        ZETL_T_DECIMAL,
        ZETL_T_STRING,
        ZETL_T_BYTES,
        ZETL_T_DATE,
        ZETL_T_TIME,
        ZETL_T_TIMESTAMP,
        ZETL_T_TIMESTAMPTZ,
        ZETL_T_UUID,
        ZETL_T_JSON,
        ZETL_T__COUNT
};

/* How a type's values are stored in a batch vector. */
enum zetl_storage {
        ZETL_ST_BIT,   /* bit-packed booleans */
        ZETL_ST_FIXED, /* fixed width: zetl_type_width() bytes per value */
        ZETL_ST_VAR,   /* int32 offsets + bytes */
};

/* "int64", "decimal", ... (stable names: used in JSON, status and docs). */
const char *zetl_type_name(enum zetl_type t);
/* Parse a name written by zetl_type_name. Returns 0 or ZETL_EINVAL. */
int zetl_type_parse(const char *name, enum zetl_type *out);
enum zetl_storage zetl_type_storage(enum zetl_type t);
/* Bytes per value for ZETL_ST_FIXED types, 0 otherwise. */
size_t zetl_type_width(enum zetl_type t);
/* The Arrow C Data Interface format string of the type. */
const char *zetl_type_arrow_format(enum zetl_type t);

/* Microseconds per day, and the offset of PostgreSQL's 2000-01-01 epoch. */
#define ZETL_USEC_PER_DAY  INT64_C(86400000000)
#define ZETL_PG_EPOCH_USEC INT64_C(946684800000000)
#define ZETL_PG_EPOCH_DAYS 10957

#endif
