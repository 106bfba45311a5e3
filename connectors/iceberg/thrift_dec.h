/*
 * A Thrift compact protocol decoder, the reading half of thrift.h: just
 * enough to read back Parquet footers and page headers (pq_reader.c). It
 * works on a bounded byte range and never reads past it; every malformed
 * input (a truncated varint, a length past the end, a type nibble that does
 * not match the field, nesting deeper than THRIFT_MAX_DEPTH) makes the
 * cursor "bad" (sticky) and the call return -1, so a parser can read a
 * whole struct and check once.
 *
 * Usage: the caller walks a struct with td_field() until it returns 0 (the
 * stop byte), keeping the previous field id of that struct in a local (the
 * compact protocol encodes ids as deltas), reads the fields it knows with
 * the typed readers and hands the others to td_skip().
 */
#ifndef ZETL_THRIFT_DEC_H
#define ZETL_THRIFT_DEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "thrift.h"

struct td {
        const uint8_t *p;   /* next byte */
        const uint8_t *end; /* one past the last byte */
        bool bad;           /* malformed input seen */
};

void td_init(struct td *t, const uint8_t *p, size_t n);
/* Bytes consumed since p was given to td_init. */
static inline size_t td_used(const struct td *t, const uint8_t *start)
{
        return (size_t)(t->p - start);
}

/* The next field header of the struct being read: 1 with *id and *type
 * (enum thrift_ctype; THRIFT_TRUE/THRIFT_FALSE for boolean fields), 0 at the
 * struct's stop byte, -1 when malformed. *last is the struct's previous field
 * id (start it at 0). */
int td_field(struct td *t, int16_t *last, int16_t *id, int *type);

/* Typed readers of a field of type `type` (its header already read). Each
 * returns 0, or -1 (cursor bad) when the type does not match or the bytes are
 * malformed. td_i32 accepts i8/i16/i32 fields, td_i64 any integer field. */
int td_i32(struct td *t, int type, int32_t *v);
int td_i64(struct td *t, int type, int64_t *v);
int td_bool(struct td *t, int type, bool *v);
/* Binary or string: *p points into the input (not NUL-terminated). */
int td_binary(struct td *t, int type, const uint8_t **p, size_t *n);
/* A list or set header: element type and count. The count is checked
 * against the bytes left (every element takes at least one byte), so a
 * caller may allocate n elements without trusting the input further. */
int td_list(struct td *t, int type, int *elem, uint32_t *n);
/* Bare values inside a list: i32 elements and binary elements. */
int td_elem_i32(struct td *t, int elem, int32_t *v);
int td_elem_binary(struct td *t, int elem, const uint8_t **p, size_t *n);
/* Check that a field is a struct (its fields follow). */
int td_struct(struct td *t, int type);

/* Skip a value of the given type (a field's, or a list element's). */
int td_skip(struct td *t, int type);

#endif
