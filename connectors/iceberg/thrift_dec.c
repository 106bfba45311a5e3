/*
 * Thrift compact protocol decoder (see thrift_dec.h), written from the same
 * specification as thrift.c: field headers with a 1..15 id delta in the high
 * nibble or a zigzag varint id after a zero nibble, booleans in the type
 * nibble, zigzag varint integers, 8-byte little-endian doubles, varint-length
 * binaries, and list/set headers with the size in the high nibble below 15.
 * Everything is bounds-checked: the input is untrusted (it is fuzzed).
 */
#include "thrift_dec.h"

void td_init(struct td *t, const uint8_t *p, size_t n)
{
        t->p = p;
        t->end = p + n;
        t->bad = false;
}

static int bad(struct td *t)
{
        t->bad = true;
        return -1;
}

/* Unsigned LEB128, at most 10 bytes (64 bits). */
static int varint(struct td *t, uint64_t *v)
{
        uint64_t r = 0;
        int shift;

        if (t->bad)
                return -1;
        for (shift = 0; shift < 64; shift += 7) {
                uint8_t b;
                if (t->p >= t->end)
                        return bad(t);
                b = *t->p++;
                r |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *v = r;
                        return 0;
                }
        }
        return bad(t);
}

static int64_t unzigzag(uint64_t u)
{
        return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

int td_field(struct td *t, int16_t *last, int16_t *id, int *type)
{
        uint8_t b;
        int delta;

        if (t->bad)
                return -1;
        if (t->p >= t->end)
                return bad(t);
        b = *t->p++;
        if (b == THRIFT_STOP)
                return 0;
        *type = b & 0x0f;
        delta = b >> 4;
        if (*type > THRIFT_STRUCT)
                return bad(t);
        if (delta) {
                if (*last > INT16_MAX - delta)
                        return bad(t);
                *id = (int16_t)(*last + delta);
        } else {
                uint64_t u;
                int64_t v;
                if (varint(t, &u))
                        return -1;
                v = unzigzag(u);
                if (v < INT16_MIN || v > INT16_MAX)
                        return bad(t);
                *id = (int16_t)v;
        }
        *last = *id;
        return 1;
}

static int zz(struct td *t, int64_t *v)
{
        uint64_t u;

        if (varint(t, &u))
                return -1;
        *v = unzigzag(u);
        return 0;
}

int td_i32(struct td *t, int type, int32_t *v)
{
        int64_t x;

        if (type == THRIFT_I8) {
                if (t->bad || t->p >= t->end)
                        return bad(t);
                *v = (int8_t)*t->p++;
                return 0;
        }
        if (type != THRIFT_I16 && type != THRIFT_I32)
                return bad(t);
        if (zz(t, &x))
                return -1;
        if (x < INT32_MIN || x > INT32_MAX)
                return bad(t);
        *v = (int32_t)x;
        return 0;
}

int td_i64(struct td *t, int type, int64_t *v)
{
        int32_t x;

        if (type == THRIFT_I64)
                return zz(t, v);
        if (td_i32(t, type, &x))
                return -1;
        *v = x;
        return 0;
}

int td_bool(struct td *t, int type, bool *v)
{
        if (type != THRIFT_TRUE && type != THRIFT_FALSE)
                return bad(t);
        *v = type == THRIFT_TRUE;
        return t->bad ? -1 : 0;
}

int td_binary(struct td *t, int type, const uint8_t **p, size_t *n)
{
        uint64_t len;

        if (type != THRIFT_BINARY)
                return bad(t);
        if (varint(t, &len))
                return -1;
        if (len > (uint64_t)(t->end - t->p))
                return bad(t);
        *p = t->p;
        *n = (size_t)len;
        t->p += len;
        return 0;
}

int td_list(struct td *t, int type, int *elem, uint32_t *n)
{
        uint8_t b;
        uint64_t size;

        if (type != THRIFT_LIST && type != THRIFT_SET)
                return bad(t);
        if (t->bad || t->p >= t->end)
                return bad(t);
        b = *t->p++;
        *elem = b & 0x0f;
        size = b >> 4;
        if (size == 15 && varint(t, &size))
                return -1;
        /* A list of booleans carries one byte per element; in a list, type 1
         * (THRIFT_TRUE) is the usual boolean element type and 2 is also seen. */
        if (*elem == THRIFT_STOP || *elem > THRIFT_STRUCT)
                return bad(t);
        if (size > (uint64_t)(t->end - t->p))
                return bad(t);
        *n = (uint32_t)size;
        return 0;
}

int td_elem_i32(struct td *t, int elem, int32_t *v)
{
        return td_i32(t, elem, v);
}

int td_elem_binary(struct td *t, int elem, const uint8_t **p, size_t *n)
{
        return td_binary(t, elem, p, n);
}

int td_struct(struct td *t, int type)
{
        if (type != THRIFT_STRUCT)
                return bad(t);
        return t->bad ? -1 : 0;
}

static int skip(struct td *t, int type, int depth, bool in_list)
{
        const uint8_t *q;
        size_t n;
        int64_t x;

        if (t->bad)
                return -1;
        if (depth > THRIFT_MAX_DEPTH)
                return bad(t);
        switch (type) {
        case THRIFT_TRUE:
        case THRIFT_FALSE:
                /* A field's boolean lives in its header; a list element is a byte. */
                if (in_list) {
                        if (t->p >= t->end)
                                return bad(t);
                        t->p++;
                }
                return 0;
        case THRIFT_I8:
                if (t->p >= t->end)
                        return bad(t);
                t->p++;
                return 0;
        case THRIFT_I16:
        case THRIFT_I32:
        case THRIFT_I64:
                return zz(t, &x);
        case THRIFT_DOUBLE:
                if (t->end - t->p < 8)
                        return bad(t);
                t->p += 8;
                return 0;
        case THRIFT_BINARY:
                return td_binary(t, type, &q, &n);
        case THRIFT_LIST:
        case THRIFT_SET: {
                int elem;
                uint32_t k, i;
                if (td_list(t, type, &elem, &k))
                        return -1;
                for (i = 0; i < k; i++)
                        if (skip(t, elem, depth + 1, true))
                                return -1;
                return 0;
        }
        case THRIFT_MAP: {
                uint64_t k, i;
                uint8_t kv;
                if (varint(t, &k))
                        return -1;
                if (k == 0)
                        return 0;
                if (k > (uint64_t)(t->end - t->p) || t->p >= t->end)
                        return bad(t);
                kv = *t->p++;
                for (i = 0; i < k; i++)
                        if (skip(t, kv >> 4, depth + 1, true) ||
                            skip(t, kv & 0x0f, depth + 1, true))
                                return -1;
                return 0;
        }
        case THRIFT_STRUCT: {
                int16_t last = 0, id;
                int ft, rc;
                while ((rc = td_field(t, &last, &id, &ft)) == 1)
                        if (skip(t, ft, depth + 1, false))
                                return -1;
                return rc;
        }
        default:
                return bad(t);
        }
}

int td_skip(struct td *t, int type)
{
        return skip(t, type, 0, false);
}
