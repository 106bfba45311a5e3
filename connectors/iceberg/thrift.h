/*
 * A Thrift compact protocol encoder, just enough to write Parquet's page
 * headers and footer (parquet.thrift): structs with delta-encoded field
 * headers, zigzag varint integers, binary/string, doubles, booleans folded
 * into the field header, and lists. Encoding only: zetl never reads Thrift.
 *
 * The buffer is growable with a ceiling; an allocation failure or the ceiling
 * makes the buffer "failed" (sticky), so a writer can emit a whole struct and
 * check thrift_failed() once at the end instead of after every field.
 *
 * Nesting: thrift_struct_begin() opens a struct (the top-level one, or a list
 * element) and thrift_field_struct() opens a struct-typed field; both are
 * closed by thrift_struct_end(), which writes the stop byte. Field ids inside a
 * struct must be increasing for the short header form to be used; any order is
 * valid (a decreasing id uses the long form).
 */
#ifndef ZETL_THRIFT_H
#define ZETL_THRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Compact protocol type nibbles of field headers. */
enum thrift_ctype {
        THRIFT_STOP = 0,
        THRIFT_TRUE = 1, /* a boolean field whose value is true */
        THRIFT_FALSE = 2,
        THRIFT_I8 = 3,
        THRIFT_I16 = 4,
        THRIFT_I32 = 5,
        THRIFT_I64 = 6,
        THRIFT_DOUBLE = 7,
        THRIFT_BINARY = 8,
        THRIFT_LIST = 9,
        THRIFT_SET = 10,
        THRIFT_MAP = 11,
        THRIFT_STRUCT = 12,
};

/* Element type of a list of booleans (elements are then one byte, 1 or 0). */
#define THRIFT_ELEM_BOOL 2

#define THRIFT_MAX_DEPTH 16
/* Ceiling of one encoded buffer: Parquet footers and page headers are small. */
#define THRIFT_MAX_BYTES ((size_t)1 << 30)

struct thrift_buf {
        uint8_t *p;
        size_t len;
        size_t cap;
        bool failed; /* out of memory, ceiling, or nesting too deep */
        int depth;   /* open structs */
        int16_t last_id[THRIFT_MAX_DEPTH];
};

void thrift_init(struct thrift_buf *t);
void thrift_free(struct thrift_buf *t);
/* Forget the content, keep the memory (and clear the failed flag). */
void thrift_reset(struct thrift_buf *t);
static inline bool thrift_failed(const struct thrift_buf *t)
{
        return t->failed;
}

/* Raw building blocks (also used for list elements). */
void thrift_put_byte(struct thrift_buf *t, uint8_t b);
void thrift_put_varint(struct thrift_buf *t, uint64_t v);
void thrift_put_i32(struct thrift_buf *t, int32_t v); /* zigzag varint */
void thrift_put_i64(struct thrift_buf *t, int64_t v); /* zigzag varint */
void thrift_put_binary(struct thrift_buf *t, const void *p, size_t len);
void thrift_put_string(struct thrift_buf *t, const char *s);
void thrift_put_bool_elem(struct thrift_buf *t, bool v);
/* A list header: size and element type (short form below 15 elements). */
void thrift_put_list_header(struct thrift_buf *t, enum thrift_ctype elem, uint32_t n);

/* Open a struct that has no field header of its own (the top level, or a
 * list element), and close any struct with its stop byte. */
void thrift_struct_begin(struct thrift_buf *t);
void thrift_struct_end(struct thrift_buf *t);

/* Fields of the innermost open struct. */
void thrift_field_header(struct thrift_buf *t, int16_t id, enum thrift_ctype type);
void thrift_field_bool(struct thrift_buf *t, int16_t id, bool v);
void thrift_field_i8(struct thrift_buf *t, int16_t id, int8_t v);
void thrift_field_i16(struct thrift_buf *t, int16_t id, int16_t v);
void thrift_field_i32(struct thrift_buf *t, int16_t id, int32_t v);
void thrift_field_i64(struct thrift_buf *t, int16_t id, int64_t v);
void thrift_field_double(struct thrift_buf *t, int16_t id, double v);
void thrift_field_binary(struct thrift_buf *t, int16_t id, const void *p, size_t len);
void thrift_field_string(struct thrift_buf *t, int16_t id, const char *s);
/* A struct-typed field: header, then the struct is open until thrift_struct_end. */
void thrift_field_struct(struct thrift_buf *t, int16_t id);
/* A list-typed field: header and list header; the caller then writes n elements
 * (with thrift_put_* or, for structs, thrift_struct_begin/end each). */
void thrift_field_list(struct thrift_buf *t, int16_t id, enum thrift_ctype elem, uint32_t n);

#endif
