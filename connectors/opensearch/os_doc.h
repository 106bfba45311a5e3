/*
 * os_doc: the pure half of the OpenSearch sink, everything that turns zetl's
 * tables and rows into OpenSearch's names, documents, mappings and bulk lines,
 * and reads bulk responses back. No I/O here, so all of it is unit-tested
 * (tests/unit/test_os_doc.c). The rules are written down in docs/opensearch.md;
 * the short form:
 *
 * Index names: the template ("{db}.{schema}.{table}" by default; "{schema}"
 * and one dot next to it vanish when the schema is "", as for MySQL) is
 * expanded, then lowercased; a byte OpenSearch refuses (\ / * ? " < > | space
 * , # : control characters) or any non-ASCII byte becomes '_'; a leading
 * - _ + or . gets a 'z' in front. When anything but the lowercasing changed
 * the name, or it had to be cut to OS_ALIAS_MAX bytes, "-" and the first 8
 * hex digits of the SHA-256 of the expanded template are appended, so two
 * tables never meet in one index because of sanitizing. The result names an
 * alias; the physical indexes behind it are "<alias>_v<N>".
 *
 * Document ids: the primary key's parts in key order, each as its text form
 * (the same text as in the document, see below) with '%' and '|' percent-
 * escaped (%25, %7C), a NULL part written "%N" and an empty one "%E", joined
 * by '|'. Since an escaped part never holds '|' and has '%' only before two
 * hex digits (or as the whole "%N" / "%E"), the encoding splits back
 * unambiguously (os_doc_id_split). An id longer than OS_ID_MAX bytes becomes
 * "%H" followed by the 64 hex digits of its SHA-256, a form no escaped key
 * can take.
 *
 * Values in documents: booleans and integers as JSON; floats as the shortest
 * number that reads back to the same float32/float64, NaN and infinities as
 * the strings "NaN", "Infinity", "-Infinity"; decimals as their exact text
 * (a JSON string); bytes as base64; dates "YYYY-MM-DD"; times
 * "HH:MM:SS[.ffffff]"; timestamps ISO 8601 with microseconds ("Z" for
 * timestamptz); uuids canonical; json values that are objects as they are,
 * any other JSON value wrapped as {"value": v}; NULL as null. Unchanged cells
 * (an unchanged TOASTed value) are left out of the document and reported.
 */
#ifndef ZETL_OS_DOC_H
#define ZETL_OS_DOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/batch.h"
#include "zetl/err.h"
#include "zetl/schema.h"

#define OS_INDEX_MAX 255 /* OpenSearch's limit on an index name, in bytes */
#define OS_ALIAS_MAX 240 /* room left for "_v<N>" behind the alias */
#define OS_ID_MAX    512 /* OpenSearch's limit on _id, in bytes */

/* A growable byte buffer with a ceiling (max 0: no ceiling but SIZE_MAX/2). */
struct os_buf {
        char *p;
        size_t len, cap, max;
};

int os_buf_put(struct os_buf *b, const void *p, size_t n); /* 0, ZETL_ENOMEM or ZETL_ELIMIT */
int os_buf_puts(struct os_buf *b, const char *s);
int os_buf_printf(struct os_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void os_buf_reset(struct os_buf *b); /* len = 0, keeps the memory */
void os_buf_free(struct os_buf *b);
/* A JSON string literal of n bytes of s. Returns 0, ZETL_EINVAL when s is not
 * valid UTF-8, or a buffer error. */
int os_json_str(struct os_buf *b, const char *s, size_t n);
/* True when p[0..n) is one complete JSON value (RFC 8259), whitespace around. */
bool os_json_valid(const char *p, size_t n);

/* The value of top-level key (as os_json_str escapes it, without quotes) of
 * the JSON object obj: 1 and *vp, *vl set when found, 0 when absent, -1 when
 * obj is not a JSON object. */
int os_json_get(const char *obj, size_t n, const char *key, const char **vp, size_t *vl);

void os_sha256(const void *p, size_t n, uint8_t out[32]);

/* ---- names and ids ------------------------------------------------------- */

/* Check a template: only {db}, {schema} and {table} placeholders, not empty.
 * Returns 0 or ZETL_EINVAL (config class). */
int os_template_check(const char *tmpl, struct zetl_err *err);
/* The alias name for table id under tmpl (see the top of this file) into out
 * (at least OS_INDEX_MAX + 1 bytes). Returns 0 or ZETL_EINVAL. */
int os_index_name(const char *tmpl, const struct zetl_table_id *id, char *out,
                  struct zetl_err *err);
/* The _id of row r of b (its key columns) into out (replacing its content,
 * NUL-terminated). Returns 0, ZETL_EINVAL (a table without a key) or a buffer
 * error. */
int os_doc_id(const struct zetl_batch *b, uint32_t r, struct os_buf *out, struct zetl_err *err);
/* Split an unhashed id back into its nparts parts: parts[i] is a malloc'd
 * NUL-terminated string, or NULL for a NULL part. Returns the number of parts
 * (<= max), or -1 when id is not a valid encoding (or is hashed). */
int os_doc_id_split(const char *id, char **parts, int max);

/* ---- documents ----------------------------------------------------------- */

enum os_json_mode {
        OS_JSON_OBJECT = 0, /* json columns mapped as "object", dynamic */
        OS_JSON_FLAT,       /* json columns mapped as "flat_object" (OpenSearch 2.7+) */
};

/* The JSON form of cell (c, r) appended to out (see the top of this file).
 * Returns 0, ZETL_EINVAL (invalid UTF-8 or JSON text, message naming the
 * column) or a buffer error. */
int os_doc_value(struct os_buf *out, const struct zetl_batch *b, int c, uint32_t r,
                 struct zetl_err *err);
/* The document of row r, every column but the unchanged ones, appended to out
 * as one line of JSON (no newline). *nunchanged gets how many were left out.
 * Returns as os_doc_value. */
int os_doc_build(struct os_buf *out, const struct zetl_batch *b, uint32_t r, int *nunchanged,
                 struct zetl_err *err);

/* ---- mappings ------------------------------------------------------------ */

/* The mapping of one column (new reference): see docs/opensearch.md. */
json_t *os_mapping_field(const struct zetl_column *c, enum os_json_mode mode);
/* {"dynamic": ..., "properties": {...}, "_meta": {"zetl": {...}}} for s;
 * truncated_at goes into _meta (the position of the truncate the index was
 * created for, 0 otherwise). New reference or NULL. */
json_t *os_mapping(const struct zetl_schema *s, enum os_json_mode mode, uint64_t truncated_at);
/* True when a value of zetl type a reads the same in a field mapped for zetl
 * type b (a reindex keeps it): same JSON form and a mapping that accepts it. */
bool os_type_keeps_values(enum zetl_type a, enum zetl_type b);

/* ---- bulk ---------------------------------------------------------------- */

enum os_action_kind { OS_ACT_INDEX = 0, OS_ACT_DELETE };

/* One action line ("index" or "delete", with _index, _id, version and
 * version_type external) and a newline, appended to out. */
int os_bulk_action(struct os_buf *out, enum os_action_kind kind, const char *index, const char *id,
                   uint64_t version);

/* What to do with one bulk item's result. */
enum os_fate {
        OS_FATE_OK = 0, /* 200/201; 409 version conflict (the target is newer); delete 404 */
        OS_FATE_RETRY,  /* 429 or 5xx: send again after a backoff */
        OS_FATE_DEAD,   /* any other failure: the dead-letter file */
};

struct os_item {
        int status;
        enum os_fate fate;
        char *error; /* malloc'd compact JSON of the item's "error", or NULL */
};

enum os_fate os_item_fate(int status, const char *error_type, enum os_action_kind kind);
/* Parse a bulk response for nitems actions into items (caller's array;
 * free each .error with free). Returns 0, or ZETL_EPROTO when the body is not
 * a bulk response with exactly nitems items. */
int os_bulk_parse(const char *body, size_t len, size_t nitems, const enum os_action_kind *kinds,
                  struct os_item *items, struct zetl_err *err);
/* The message of an error body ({"error": {"type", "reason"}, "status"} or
 * plain text) into buf, at most len bytes. Returns buf. */
const char *os_error_text(const char *body, size_t blen, char *buf, size_t len);

#endif
