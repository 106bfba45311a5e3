/*
 * Parquet encodings (see pq_enc.h): byte buffers, the RLE / bit-packing
 * hybrid and the dictionary. Written from parquet-format's Encodings.md:
 *
 *   rle-bit-packed-hybrid := <run>*
 *   bit-packed-run := varint(groups << 1 | 1) then groups of 8 values packed
 *                     LSB first, bw bytes per group
 *   rle-run        := varint(count << 1) then the value in ceil(bw / 8) bytes LE
 */
#include "pq_enc.h"

#include <stdlib.h>

#include "zetl/err.h"

void pq_buf_free(struct pq_buf *b)
{
        free(b->p);
        b->p = NULL;
        b->len = b->cap = 0;
}

int pq_buf_reserve(struct pq_buf *b, size_t n)
{
        size_t cap;
        uint8_t *p;

        if (n <= b->cap - b->len)
                return 0;
        if (n > PQ_BUF_MAX - b->len)
                return ZETL_ELIMIT;
        cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
                cap = cap > PQ_BUF_MAX / 2 ? PQ_BUF_MAX : cap * 2;
        p = realloc(b->p, cap);
        if (!p)
                return ZETL_ENOMEM;
        b->p = p;
        b->cap = cap;
        return 0;
}

int pq_buf_append(struct pq_buf *b, const void *p, size_t n)
{
        int rc = pq_buf_reserve(b, n);

        if (rc == 0)
                pq_put_bytes(b, p, n);
        return rc;
}

int pq_bit_width(uint32_t max_value)
{
        int w = 0;

        while (max_value) {
                w++;
                max_value >>= 1;
        }
        return w;
}

size_t pq_rle_bound(size_t n, int bw)
{
        /* Bit-packed: bw bytes per group plus a header per 63 groups; an RLE
         * run covers 8+ values in at most 5 + 4 bytes. Either fits in this. */
        return ((n + 7) / 8 + 1) * ((size_t)bw + 10) + 16;
}

static void put_varint(struct pq_buf *out, uint64_t v)
{
        while (v >= 0x80) {
                out->p[out->len++] = (uint8_t)(v | 0x80);
                v >>= 7;
        }
        out->p[out->len++] = (uint8_t)v;
}

static void put_rle_run(struct pq_buf *out, uint32_t value, size_t count, int bw)
{
        int bytes = (bw + 7) / 8, i;

        put_varint(out, (uint64_t)count << 1);
        for (i = 0; i < bytes; i++)
                out->p[out->len++] = (uint8_t)(value >> (8 * i));
}

/* The two element widths share one body: definition levels are bytes,
 * dictionary indices 32-bit. */
#define PQ_RLE_BODY(T)                                                                             \
        size_t i = 0, start = 0, j, k, g, groups;                                                  \
        int rc = pq_buf_reserve(out, pq_rle_bound(n, bw));                                         \
        if (rc)                                                                                    \
                return rc;                                                                         \
        while (start < n) {                                                                        \
                /* Find the next run of 8+ equal values that can start an RLE run                  \
                 * after a whole number of bit-packed groups from start. */                        \
                size_t rle_at = n, rle_len = 0;                                                    \
                while (i < n) {                                                                    \
                        size_t pad, len;                                                           \
                        T x = v[i];                                                                \
                        for (j = i + 1; j < n && v[j] == x; j++)                                   \
                                ;                                                                  \
                        len = j - i;                                                               \
                        pad = (8 - (i - start) % 8) % 8;                                           \
                        if (len >= pad + 8) {                                                      \
                                rle_at = i + pad;                                                  \
                                rle_len = len - pad;                                               \
                                i = j;                                                             \
                                break;                                                             \
                        }                                                                          \
                        i = j;                                                                     \
                }                                                                                  \
                /* Bit-pack [start, rle_at), padding only the very last group. */                  \
                while (start < rle_at) {                                                           \
                        groups = (rle_at - start + 7) / 8;                                         \
                        if (groups > 63)                                                           \
                                groups = 63;                                                       \
                        put_varint(out, groups << 1 | 1);                                          \
                        for (g = 0; g < groups; g++) {                                             \
                                uint64_t acc = 0;                                                  \
                                int nbits = 0;                                                     \
                                for (k = 0; k < 8; k++) {                                          \
                                        size_t at = start + g * 8 + k;                             \
                                        uint64_t x = at < rle_at ? (uint64_t)v[at] : 0;            \
                                        acc |= x << nbits;                                         \
                                        nbits += bw;                                               \
                                        while (nbits >= 8) {                                       \
                                                out->p[out->len++] = (uint8_t)acc;                 \
                                                acc >>= 8;                                         \
                                                nbits -= 8;                                        \
                                        }                                                          \
                                }                                                                  \
                        }                                                                          \
                        start += groups * 8;                                                       \
                        if (start > rle_at)                                                        \
                                start = rle_at;                                                    \
                }                                                                                  \
                if (rle_len) {                                                                     \
                        put_rle_run(out, (uint32_t)v[rle_at], rle_len, bw);                        \
                        start = rle_at + rle_len;                                                  \
                }                                                                                  \
        }                                                                                          \
        return 0

int pq_rle_encode_u32(struct pq_buf *out, const uint32_t *v, size_t n, int bw)
{
        PQ_RLE_BODY(uint32_t);
}

int pq_rle_encode_u8(struct pq_buf *out, const uint8_t *v, size_t n, int bw)
{
        PQ_RLE_BODY(uint8_t);
}

/* ---- dictionary --------------------------------------------------------- */

void pq_dict_init(struct pq_dict *d, size_t width)
{
        memset(d, 0, sizeof(*d));
        d->width = width;
}

void pq_dict_free(struct pq_dict *d)
{
        free(d->slots);
        free(d->hashes);
        free(d->offs);
        pq_buf_free(&d->vals);
        pq_dict_init(d, d->width);
}

void pq_dict_reset(struct pq_dict *d)
{
        if (d->slots)
                memset(d->slots, 0, ((size_t)d->mask + 1) * sizeof(*d->slots));
        d->n = 0;
        d->vals.len = 0;
}

static inline uint64_t load64(const uint8_t *p)
{
        uint64_t v;

        memcpy(&v, p, 8);
        return v;
}

static inline uint32_t mix(uint64_t h)
{
        h ^= h >> 33;
        h *= UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 33;
        h *= UINT64_C(0xc4ceb9fe1a85ec53);
        h ^= h >> 33;
        return (uint32_t)h;
}

static uint32_t hash_bytes(const uint8_t *p, size_t len)
{
        uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ len;
        uint64_t tail = 0;
        size_t i = 0;

        for (; i + 8 <= len; i += 8)
                h = (h ^ load64(p + i)) * UINT64_C(0x100000001b3) + (h >> 29);
        if (i < len) {
                memcpy(&tail, p + i, len - i);
                h = (h ^ tail) * UINT64_C(0x100000001b3) + (h >> 29);
        }
        return mix(h);
}

static inline uint32_t hash_value(const struct pq_dict *d, const uint8_t *p, size_t len)
{
        uint32_t v32;

        if (d->width == 8)
                return mix(load64(p));
        if (d->width == 4) {
                memcpy(&v32, p, 4);
                return mix(v32);
        }
        return hash_bytes(p, len);
}

static bool entry_equal(const struct pq_dict *d, uint32_t e, const uint8_t *p, size_t len)
{
        const uint8_t *q;
        uint32_t elen;

        if (d->width == 8)
                return load64(d->vals.p + (size_t)e * 8) == load64(p);
        if (d->width)
                return memcmp(d->vals.p + (size_t)e * d->width, p, d->width) == 0;
        q = d->vals.p + d->offs[e];
        elen = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
        return elen == len && (len == 0 || memcmp(q + 4, p, len) == 0);
}

/* Double the table (or create it) and reinsert every entry from its hash. */
static int grow_slots(struct pq_dict *d)
{
        uint32_t nslots = d->slots ? (d->mask + 1) * 2 : 1024, e, s;
        uint32_t *slots;

        if (nslots == 0 || nslots > (UINT32_MAX >> 1))
                return ZETL_ELIMIT;
        slots = calloc(nslots, sizeof(*slots));
        if (!slots)
                return ZETL_ENOMEM;
        for (e = 0; e < d->n; e++) {
                s = d->hashes[e] & (nslots - 1);
                while (slots[s])
                        s = (s + 1) & (nslots - 1);
                slots[s] = e + 1;
        }
        free(d->slots);
        d->slots = slots;
        d->mask = nslots - 1;
        return 0;
}

static int grow_entries(struct pq_dict *d)
{
        uint32_t cap = d->ent_cap ? d->ent_cap * 2 : 1024;
        uint32_t *h, *o;

        if (cap <= d->ent_cap)
                return ZETL_ELIMIT;
        h = realloc(d->hashes, (size_t)cap * sizeof(*h));
        if (!h)
                return ZETL_ENOMEM;
        d->hashes = h;
        if (!d->width) {
                o = realloc(d->offs, (size_t)cap * sizeof(*o));
                if (!o)
                        return ZETL_ENOMEM;
                d->offs = o;
        }
        d->ent_cap = cap;
        return 0;
}

int pq_dict_put(struct pq_dict *d, const uint8_t *p, size_t len, uint32_t *idx)
{
        uint32_t h, s, e;
        int rc;

        if (!d->slots || (size_t)d->n * 2 >= (size_t)d->mask + 1) {
                rc = grow_slots(d);
                if (rc)
                        return rc;
        }
        h = hash_value(d, p, len);
        for (s = h & d->mask; d->slots[s]; s = (s + 1) & d->mask) {
                e = d->slots[s] - 1;
                if (d->hashes[e] == h && entry_equal(d, e, p, len)) {
                        *idx = e;
                        return 0;
                }
        }
        if (d->n == d->ent_cap) {
                rc = grow_entries(d);
                if (rc)
                        return rc;
        }
        rc = pq_buf_reserve(&d->vals, len + (d->width ? 0 : 4));
        if (rc)
                return rc;
        e = d->n++;
        d->hashes[e] = h;
        if (!d->width) {
                d->offs[e] = (uint32_t)d->vals.len;
                pq_put_u32le(&d->vals, (uint32_t)len);
        }
        pq_put_bytes(&d->vals, p, len);
        d->slots[s] = e + 1;
        *idx = e;
        return 1;
}

const uint8_t *pq_dict_get(const struct pq_dict *d, uint32_t i, size_t *len)
{
        const uint8_t *q;

        if (d->width) {
                *len = d->width;
                return d->vals.p + (size_t)i * d->width;
        }
        q = d->vals.p + d->offs[i];
        *len = (size_t)q[0] | (size_t)q[1] << 8 | (size_t)q[2] << 16 | (size_t)q[3] << 24;
        return q + 4;
}
