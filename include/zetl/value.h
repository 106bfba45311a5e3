/*
 * Text forms of values, shared by every connector that reads or writes text
 * (jsonl, SQL literals, OpenSearch documents): ISO 8601 dates and times with
 * microseconds, canonical UUIDs, base64 for bytes. Formatting and parsing are
 * exact inverses for every value a batch can hold, including years outside
 * 0000..9999 (written with a sign, as ISO 8601's expanded form:
 * "+10000-01-01", "-0044-03-15"; year 0 is 1 BC).
 */
#ifndef ZETL_VALUE_H
#define ZETL_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/err.h"

/* Days since 1970-01-01 <-> proleptic Gregorian year, month (1-12), day (1-31). */
void zetl_days_to_civil(int64_t days, int64_t *y, int *m, int *d);
int64_t zetl_civil_to_days(int64_t y, int m, int d);

#define ZETL_TS_TEXT_MAX 40

/* Each writes a NUL-terminated string into buf (at least ZETL_TS_TEXT_MAX
 * bytes) and returns its length. Fractions are written only when non-zero,
 * always with 6 digits: "12:00:00", "12:00:00.500000". */
int zetl_format_date(int32_t days, char *buf);
int zetl_format_time(int64_t usec, char *buf);
int zetl_format_timestamp(int64_t usec, bool utc, char *buf); /* 'T' separator, "Z" if utc */
int zetl_format_uuid(const uint8_t u[16], char *buf);         /* 36 chars, lowercase */

/* Parsers accept what the formatters write; timestamps also accept a space
 * instead of 'T' and "+HH[:MM]" / "-HH[:MM]" offsets (converted to UTC).
 * They return 0 or ZETL_EINVAL. */
int zetl_parse_date(const char *s, size_t len, int32_t *out);
int zetl_parse_time(const char *s, size_t len, int64_t *out);
int zetl_parse_timestamp(const char *s, size_t len, int64_t *out);
int zetl_parse_uuid(const char *s, size_t len, uint8_t out[16]);

/* Base64 (RFC 4648, with padding). encode returns the length written
 * (buf needs 4 * ((len + 2) / 3) + 1 bytes); decode returns the length or -1. */
size_t zetl_base64_encode(const uint8_t *p, size_t len, char *buf);
long zetl_base64_decode(const char *s, size_t len, uint8_t *out);

/* JSON's escape of byte c (a control character, '"' or '\\') into out:
 * \" \\ \b \f \n \r \t or \u00XX (lowercase hex). Returns its length
 * (2 or 6). */
size_t zetl_json_escape(unsigned char c, char out[6]);

/* Well-formed UTF-8: no overlong forms, surrogates or code points past
 * U+10FFFF (what string columns must hold). */
bool zetl_utf8_valid(const void *p, size_t n);

/* Check a decimal's canonical text (see zetl/types.h). */
bool zetl_decimal_valid(const char *s, size_t len);

#endif
