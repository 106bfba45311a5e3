/*
 * pg_types: PostgreSQL's types as zetl's logical types, and the decoders that
 * turn one column value, in PostgreSQL's binary (send/recv) or text (output
 * function) form, into one cell of a batch. The snapshot path (COPY or
 * queries) and the streaming path (pgoutput, text or binary) both go through
 * here, and for the same value the two forms give byte-identical cells.
 *
 * Mapping (pg_type_map):
 *
 *   smallint, integer, bigint       int16, int32, int64
 *   oid                             int64 (an unsigned 32-bit value)
 *   real, double precision          float32, float64
 *   numeric(p,s)                    decimal(p,s); unconstrained numeric is
 *                                   decimal precision 0 scale -1; a negative
 *                                   scale s gives decimal(p-s,0) and s > p gives
 *                                   decimal(s,s), which hold the same values
 *   money                           decimal(19,2): see "money" below
 *   text, varchar(n), char(n),      string (precision n, 0 when unbounded;
 *   name, "char", enums             63 for name, 1 for "char")
 *   bytea                           bytes
 *   boolean, date, uuid             bool, date, uuid
 *   time(p), timestamp(p),          time, timestamp, timestamptz (precision p,
 *   timestamptz(p)                  6 when not given)
 *   timetz                          string "HH:MM:SS[.ffffff]+HH[:MM[:SS]]":
 *                                   there is no logical type for a time with a
 *                                   zone; the time is written as value.h writes
 *                                   times, the offset as PostgreSQL prints it
 *   interval                        string, ISO 8601 exactly as PostgreSQL
 *                                   prints it with IntervalStyle iso_8601:
 *                                   "P1Y2M3DT4H5M6.5S", "PT0S", "P-1Y-2M3DT-4H"
 *                                   (each component carries its own sign)
 *   json, jsonb                     json (the text; jsonb as jsonb_out spaces it)
 *   inet, cidr, macaddr, macaddr8   string, as PostgreSQL prints them
 *   arrays of anything              json: a JSON array, nested for several
 *                                   dimensions (lower bounds are dropped)
 *   domains                         their base type, with the domain's typmod
 *   anything else (composite,       string holding the text form; the column
 *   range, tsvector, point, ...)    must be fetched in text (PG_TYPE_TEXT_ONLY)
 *
 * Array elements in the JSON: integers and oids as JSON numbers; floats as the
 * shortest JSON number that reads back to the same float (PostgreSQL's own
 * layout: "1.5", "1e+15", "1.5e-05"), NaN and ±Infinity as the strings "NaN",
 * "Infinity", "-Infinity"; numeric and money as strings holding the canonical
 * decimal text, so no reader rounds them through a double; booleans as
 * true/false; NULL as null; json and jsonb embedded as they are; bytea as a
 * base64 string (value.h's text form of bytes); dates, times and timestamps as
 * value.h formats them ("2024-01-02", "03:04:05.500000",
 * "2024-01-02T03:04:05", "...Z" for timestamptz), ±infinity as the strings
 * "infinity" and "-infinity"; everything else as a JSON string of the same text
 * a scalar of that type gets (uuid, interval, timetz, inet, enum labels, text,
 * and the text form of types with no decoder). Strings are escaped as
 * PostgreSQL's to_json escapes them.
 *
 * Values zetl keeps exactly, and the few it refuses:
 *
 * - numeric: canonical decimal text (types.h), digits padded to the value's
 *   dscale: "0", "-0.0001", "12345.6789", "NaN", "Infinity", "-Infinity".
 * - date: ±infinity become INT32_MAX / INT32_MIN days, the extremes of the
 *   date type, which no finite PostgreSQL date comes near (its range ends in
 *   5874897 AD); a sink with an infinity of its own can write it for them.
 * - timestamp, timestamptz: ±infinity become INT64_MAX / INT64_MIN µs.
 *   zetl's int64 µs since 1970 end at 294247-01-10T04:00:54.775807, while
 *   PostgreSQL goes on to the end of 294276: a value past
 *   294247-01-10T04:00:54.775806 (including the instant INT64_MAX itself, so
 *   that the sentinel stays unambiguous) is refused with ZETL_EUNSUPPORTED,
 *   never clamped. Inside arrays timestamps are text, and every PostgreSQL
 *   value is kept.
 * - float NaN: every NaN becomes the one quiet NaN (the text form carries no
 *   payload, and both paths must agree); -0 stays -0.
 * - money: PostgreSQL sends an int64 count of the smallest currency unit,
 *   whose scale comes from lc_monetary. zetl assumes 2 fractional digits (C,
 *   POSIX and most locales): the value is int64 / 100, exact in decimal(19,2).
 * - "char": a byte with the high bit set is written as PostgreSQL 15 prints
 *   it, a backslash and three octal digits.
 *
 * The session that produces the values (the query connection, and the
 * walsender through the replication connection's options) must be set to:
 *   client_encoding UTF8, DateStyle ISO, TimeZone UTC, IntervalStyle iso_8601,
 *   extra_float_digits 3, bytea_output hex, lc_monetary C.
 * The text decoders accept exactly what PostgreSQL prints under them; text in
 * another style is rejected, never guessed at (bytea's escape format is also
 * read). Strings are copied as sent: UTF-8 is the server's to guarantee.
 *
 * Errors: malformed input (wrong length, bad header, digits out of range,
 * unparseable text) returns ZETL_EPROTO; a valid value zetl cannot hold, or a
 * binary value for a column with no binary decoder, returns ZETL_EUNSUPPORTED;
 * a cell too big for the batch returns the batch's ZETL_ELIMIT or ZETL_ENOMEM.
 * All are fatal class, with a message naming the type. Decoders never read
 * outside p[0..len); on error the cell is left as it was (NULL unless set
 * before), and the caller aborts the row.
 */
#ifndef ZETL_PG_TYPES_H
#define ZETL_PG_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "zetl/batch.h"
#include "zetl/err.h"
#include "zetl/schema.h"
#include "zetl/types.h"

/* Built-in type OIDs (fixed since they were assigned; pg_type_d.h). */
#define PG_OID_BOOL        16u
#define PG_OID_BYTEA       17u
#define PG_OID_CHAR        18u
#define PG_OID_NAME        19u
#define PG_OID_INT8        20u
#define PG_OID_INT2        21u
#define PG_OID_INT2VECTOR  22u
#define PG_OID_INT4        23u
#define PG_OID_TEXT        25u
#define PG_OID_OID         26u
#define PG_OID_OIDVECTOR   30u
#define PG_OID_JSON        114u
#define PG_OID_BOX         603u
#define PG_OID_CIDR        650u
#define PG_OID_FLOAT4      700u
#define PG_OID_FLOAT8      701u
#define PG_OID_MACADDR8    774u
#define PG_OID_MONEY       790u
#define PG_OID_MACADDR     829u
#define PG_OID_INET        869u
#define PG_OID_BPCHAR      1042u
#define PG_OID_VARCHAR     1043u
#define PG_OID_DATE        1082u
#define PG_OID_TIME        1083u
#define PG_OID_TIMESTAMP   1114u
#define PG_OID_TIMESTAMPTZ 1184u
#define PG_OID_INTERVAL    1186u
#define PG_OID_TIMETZ      1266u
#define PG_OID_NUMERIC     1700u
#define PG_OID_UUID        2950u
#define PG_OID_TSVECTOR    3614u
#define PG_OID_JSONB       3802u
/* Arrays of the above (typarray). */
#define PG_OID_BOOL_ARRAY        1000u
#define PG_OID_INT4_ARRAY        1007u
#define PG_OID_TEXT_ARRAY        1009u
#define PG_OID_NUMERIC_ARRAY     1231u
#define PG_OID_TIMESTAMPTZ_ARRAY 1185u
/* OIDs below this belong to the system catalogs' own types. */
#define PG_FIRST_NORMAL_OID 16384u

/*
 * What the caller read from pg_type for a type that is not built in (an enum,
 * a domain, an array of one, a composite...). Built-in types need none: pass
 * NULL. Filling it for every type is fine too; it is ignored for the
 * built-in types pg_types knows.
 */
struct pg_type_info {
        uint32_t oid;         /* pg_type.oid: must equal the typoid it is passed with */
        char typtype;         /* 'b' base, 'e' enum, 'd' domain, 'c' composite, 'r' range,
                                 'm' multirange, 'p' pseudo */
        char typcategory;     /* 'A' for arrays (typelem alone is not enough: name has one) */
        char typdelim;        /* delimiter between elements of arrays of this type (',') */
        uint32_t typelem;     /* arrays: the element type */
        uint32_t typbasetype; /* domains: the type the domain is over */
        int32_t typtypmod;    /* domains: the typmod of the base type, -1 for none */
        /* The pg_type rows of typelem and typbasetype when they are not
         * built-in types (borrowed; NULL otherwise). */
        const struct pg_type_info *elem;
        const struct pg_type_info *base;
};

/* How a value arrives: one decoder per PostgreSQL wire format. */
enum pg_wire {
        PG_W_TEXT_ONLY = 0, /* no binary decoder: the text form, as a string */
        PG_W_BOOL,
        PG_W_INT2,
        PG_W_INT4,
        PG_W_INT8,
        PG_W_OID,
        PG_W_FLOAT4,
        PG_W_FLOAT8,
        PG_W_NUMERIC,
        PG_W_MONEY,
        PG_W_TEXT, /* text, varchar, bpchar, name, enum labels: raw bytes */
        PG_W_CHAR, /* "char": one byte */
        PG_W_BYTEA,
        PG_W_DATE,
        PG_W_TIME,
        PG_W_TIMETZ,
        PG_W_TIMESTAMP,
        PG_W_TIMESTAMPTZ,
        PG_W_INTERVAL,
        PG_W_UUID,
        PG_W_JSON,
        PG_W_JSONB,
        PG_W_INET, /* inet and cidr: the value says which */
        PG_W_MACADDR,
        PG_W_MACADDR8,
        PG_W_ARRAY,
        PG_W__COUNT
};

/* How to decode one column (filled by pg_col_decoder_init; plain data, copy it freely). */
struct pg_col_decoder {
        enum zetl_type type; /* the cell's logical type: the batch column must have it */
        uint8_t wire;        /* enum pg_wire */
        uint8_t elem_wire;   /* arrays: enum pg_wire of the elements */
        char elem_delim;     /* arrays: the element delimiter of the text form */
        bool binary;         /* false: request this column in text (format 0) */
        uint32_t oid;        /* the column's type */
        uint32_t elem_oid;   /* arrays: the element type the binary header must name */
};

/* pg_type_map's positive result: only the text form can be decoded. */
#define PG_TYPE_TEXT_ONLY 1

/*
 * Map a column's type (pg_attribute.atttypid and atttypmod) to a logical type:
 * sets out->type, out->precision and out->scale as the table above says and
 * leaves every other field of *out alone. info is the type's pg_type row
 * (borrowed), needed for types that are not built in, may be NULL otherwise.
 * Returns 0 when the column may be fetched in binary or text,
 * PG_TYPE_TEXT_ONLY when it must be fetched in text, or ZETL_EINVAL (config
 * class) when a non-built-in type comes without its info, the info does not
 * match typoid, or domains nest too deep.
 */
int pg_type_map(uint32_t typoid, int32_t typmod, const struct pg_type_info *info,
                struct zetl_column *out, struct zetl_err *err);

/* Fill *d for a column of type typoid (info as for pg_type_map). Returns 0 or
 * ZETL_EINVAL as pg_type_map does. */
int pg_col_decoder_init(struct pg_col_decoder *d, uint32_t typoid, const struct pg_type_info *info,
                        struct zetl_err *err);

/*
 * Decode one value into column col of the row being built in b (whose type
 * must be d->type). p[0..len) is the value in PostgreSQL's binary form
 * (pg_decode_binary) or text form (pg_decode_text, not NUL-terminated);
 * len -1 means SQL NULL (p is not read). Returns 0 or an error as described at
 * the top of this file. Reentrant: no state outside the arguments.
 */
int pg_decode_binary(struct zetl_batch *b, int col, const struct pg_col_decoder *d, const char *p,
                     int len, struct zetl_err *err);
int pg_decode_text(struct zetl_batch *b, int col, const struct pg_col_decoder *d, const char *p,
                   int len, struct zetl_err *err);

/* Name of a wire format for messages ("numeric", "array"). */
const char *pg_wire_name(int wire);

#endif
