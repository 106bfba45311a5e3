/*
 * my_json: MySQL 8's binary JSON (what a JSON column holds in a row image of
 * the binlog) turned into JSON text. MariaDB stores JSON as text in a LONGTEXT
 * and never needs this.
 *
 * The text is laid out exactly as MySQL prints a JSON value (JSON_PRETTY
 * aside), so that a row read by the snapshot (SELECT of the column) and the
 * same row decoded from the binlog give the same bytes:
 *
 * - ", " between elements, ": " after a key, no other white space;
 * - members in stored order (MySQL sorts keys by length, then bytes);
 * - strings escaped as MySQL escapes them: \" \\ \b \f \n \r \t, other bytes
 *   below 0x20 as \u00xx (lowercase hex), every other byte as it is;
 * - integers in decimal; doubles with the shortest digits that read back to
 *   the same double, in fixed notation when the decimal point position
 *   (decpt, as in 0.DDD x 10^decpt) is within [-14, 15] or falls inside
 *   the digits, otherwise "De[-]X" / "D.DDDe[-]X" (no '+', no padding), and
 *   ".0" appended when neither '.' nor 'e' was written ("1.0", "1e20",
 *   "0.000001", "1.5e-16"), which is MySQL's my_gcvt layout;
 * - opaque values: DECIMAL as a bare number with exactly its scale's digits
 *   ("1.50"), DATE as "YYYY-MM-DD", DATETIME and TIMESTAMP as
 *   "YYYY-MM-DD HH:MM:SS.ffffff", TIME as "[-]HH:MM:SS.ffffff" (always six
 *   fractional digits), VAR_STRING as a string, any other type as MySQL
 *   writes it: "base64:typeNN:<base64>" with a "\n" after every 76 base64
 *   characters;
 * - an empty value (0 bytes, what MySQL reads as JSON null) gives "null".
 *
 * Limits, so a malformed or hostile value cannot exhaust the stack, the
 * memory or the time: containers nest at most MY_JSON_MAX_DEPTH deep (MySQL's
 * own limit), and the text may be at most MY_JSON_MAX_EXPANSION times the
 * binary size (a document MySQL wrote never comes near: only offsets that
 * point several entries at one shared value could) and at most
 * ZETL_VALUE_MAX_BYTES. Every read is bounds-checked: nothing outside
 * p[0..len) is ever read.
 */
#ifndef ZETL_MY_JSON_H
#define ZETL_MY_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "zetl/err.h"

#define MY_JSON_MAX_DEPTH     100
#define MY_JSON_MAX_EXPANSION 16

/*
 * Convert the binary JSON document p[0..len) to text. *out_len receives the
 * full length of the text; the text is written to buf when it fits in cap
 * bytes (no NUL is added), so a caller measures with buf NULL, reserves, and
 * calls again. Returns 0, ZETL_EPROTO (malformed: out of bounds, unknown
 * type, NaN, nesting too deep) or ZETL_ELIMIT (text past the limits above),
 * fatal class, with a message starting "MySQL binary JSON: ".
 */
int my_json_to_text(const uint8_t *p, size_t len, char *buf, size_t cap, size_t *out_len,
                    struct zetl_err *err);

#endif
