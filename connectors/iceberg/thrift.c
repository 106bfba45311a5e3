/*
 * Thrift compact protocol encoder (see thrift.h). Written from the compact
 * protocol specification: field headers carry the id delta in the high
 * nibble when it is 1..15 and fall back to a zigzag varint id otherwise;
 * booleans live in the field header's type nibble; i16/i32/i64 are zigzag
 * varints; doubles are 8 bytes little-endian; binary is a varint length and
 * the bytes; lists carry their size in the high nibble below 15 elements.
 */
#include "thrift.h"

#include <stdlib.h>
#include <string.h>

void thrift_init(struct thrift_buf *t)
{
        memset(t, 0, sizeof(*t));
}

void thrift_free(struct thrift_buf *t)
{
        free(t->p);
        memset(t, 0, sizeof(*t));
}

void thrift_reset(struct thrift_buf *t)
{
        t->len = 0;
        t->failed = false;
        t->depth = 0;
}

/* Make room for n more bytes; on failure the buffer is marked failed. */
static bool reserve(struct thrift_buf *t, size_t n)
{
        size_t cap;
        uint8_t *p;

        if (t->failed)
                return false;
        if (n <= t->cap - t->len)
                return true;
        if (n > THRIFT_MAX_BYTES - t->len) {
                t->failed = true;
                return false;
        }
        cap = t->cap ? t->cap : 256;
        while (cap - t->len < n)
                cap *= 2;
        if (cap > THRIFT_MAX_BYTES)
                cap = THRIFT_MAX_BYTES;
        p = realloc(t->p, cap);
        if (!p) {
                t->failed = true;
                return false;
        }
        t->p = p;
        t->cap = cap;
        return true;
}

void thrift_put_byte(struct thrift_buf *t, uint8_t b)
{
        if (reserve(t, 1))
                t->p[t->len++] = b;
}

void thrift_put_varint(struct thrift_buf *t, uint64_t v)
{
        if (!reserve(t, 10))
                return;
        while (v >= 0x80) {
                t->p[t->len++] = (uint8_t)(v | 0x80);
                v >>= 7;
        }
        t->p[t->len++] = (uint8_t)v;
}

/* Zigzag: 0, -1, 1, -2, ... become 0, 1, 2, 3, ...; shifts done unsigned so
 * that negative numbers are well defined. */
void thrift_put_i32(struct thrift_buf *t, int32_t v)
{
        uint32_t u = ((uint32_t)v << 1) ^ (uint32_t)(v < 0 ? -1 : 0);

        thrift_put_varint(t, u);
}

void thrift_put_i64(struct thrift_buf *t, int64_t v)
{
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v < 0 ? -1 : 0);

        thrift_put_varint(t, u);
}

void thrift_put_binary(struct thrift_buf *t, const void *p, size_t len)
{
        thrift_put_varint(t, len);
        if (len && reserve(t, len)) {
                memcpy(t->p + t->len, p, len);
                t->len += len;
        }
}

void thrift_put_string(struct thrift_buf *t, const char *s)
{
        thrift_put_binary(t, s, strlen(s));
}

void thrift_put_bool_elem(struct thrift_buf *t, bool v)
{
        thrift_put_byte(t, v ? 1 : 0);
}

void thrift_put_list_header(struct thrift_buf *t, enum thrift_ctype elem, uint32_t n)
{
        if (n < 15) {
                thrift_put_byte(t, (uint8_t)(n << 4 | elem));
        } else {
                thrift_put_byte(t, (uint8_t)(0xf0 | elem));
                thrift_put_varint(t, n);
        }
}

void thrift_struct_begin(struct thrift_buf *t)
{
        if (t->depth >= THRIFT_MAX_DEPTH) {
                t->failed = true;
                return;
        }
        t->last_id[t->depth++] = 0;
}

void thrift_struct_end(struct thrift_buf *t)
{
        thrift_put_byte(t, THRIFT_STOP);
        if (t->depth > 0)
                t->depth--;
        else
                t->failed = true;
}

void thrift_field_header(struct thrift_buf *t, int16_t id, enum thrift_ctype type)
{
        int16_t *last;
        int delta;

        if (t->depth == 0) {
                t->failed = true;
                return;
        }
        last = &t->last_id[t->depth - 1];
        delta = id - *last;
        if (delta > 0 && delta <= 15) {
                thrift_put_byte(t, (uint8_t)(delta << 4 | type));
        } else {
                thrift_put_byte(t, (uint8_t)type);
                thrift_put_i32(t, id);
        }
        *last = id;
}

void thrift_field_bool(struct thrift_buf *t, int16_t id, bool v)
{
        thrift_field_header(t, id, v ? THRIFT_TRUE : THRIFT_FALSE);
}

void thrift_field_i8(struct thrift_buf *t, int16_t id, int8_t v)
{
        thrift_field_header(t, id, THRIFT_I8);
        thrift_put_byte(t, (uint8_t)v);
}

void thrift_field_i16(struct thrift_buf *t, int16_t id, int16_t v)
{
        thrift_field_header(t, id, THRIFT_I16);
        thrift_put_i32(t, v);
}

void thrift_field_i32(struct thrift_buf *t, int16_t id, int32_t v)
{
        thrift_field_header(t, id, THRIFT_I32);
        thrift_put_i32(t, v);
}

void thrift_field_i64(struct thrift_buf *t, int16_t id, int64_t v)
{
        thrift_field_header(t, id, THRIFT_I64);
        thrift_put_i64(t, v);
}

void thrift_field_double(struct thrift_buf *t, int16_t id, double v)
{
        uint64_t u;
        int i;

        memcpy(&u, &v, 8);
        thrift_field_header(t, id, THRIFT_DOUBLE);
        if (!reserve(t, 8))
                return;
        for (i = 0; i < 8; i++)
                t->p[t->len++] = (uint8_t)(u >> (8 * i));
}

void thrift_field_binary(struct thrift_buf *t, int16_t id, const void *p, size_t len)
{
        thrift_field_header(t, id, THRIFT_BINARY);
        thrift_put_binary(t, p, len);
}

void thrift_field_string(struct thrift_buf *t, int16_t id, const char *s)
{
        thrift_field_binary(t, id, s, strlen(s));
}

void thrift_field_struct(struct thrift_buf *t, int16_t id)
{
        thrift_field_header(t, id, THRIFT_STRUCT);
        thrift_struct_begin(t);
}

void thrift_field_list(struct thrift_buf *t, int16_t id, enum thrift_ctype elem, uint32_t n)
{
        thrift_field_header(t, id, THRIFT_LIST);
        thrift_put_list_header(t, elem, n);
}
