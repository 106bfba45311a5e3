/*
 * Parquet value encodings used by zetl's writer (parquet.c), written from
 * parquet-format's Encodings.md:
 *
 *   - a growable byte buffer with a ceiling (pages and chunks carry i32 sizes
 *     in their headers, so nothing may reach 2 GiB);
 *   - the RLE / bit-packing hybrid, for definition levels (bit width 1) and
 *     dictionary indices;
 *   - PLAIN little-endian helpers;
 *   - a dictionary: distinct values in first-seen order, stored already in
 *     their PLAIN form so that the dictionary page body is the buffer itself,
 *     found again through an open-addressing hash table (no allocation per
 *     value).
 */
#ifndef ZETL_PQ_ENC_H
#define ZETL_PQ_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Ceiling of any one buffer: Parquet page and chunk sizes are i32. */
#define PQ_BUF_MAX ((size_t)INT32_MAX)

struct pq_buf {
        uint8_t *p;
        size_t len;
        size_t cap;
};

void pq_buf_free(struct pq_buf *b);
/* Make room for n more bytes. Returns 0, ZETL_ENOMEM, or ZETL_ELIMIT past PQ_BUF_MAX. */
int pq_buf_reserve(struct pq_buf *b, size_t n);
int pq_buf_append(struct pq_buf *b, const void *p, size_t n);

/* PLAIN writers into reserved room (the caller called pq_buf_reserve). */
static inline void pq_put_u32le(struct pq_buf *b, uint32_t v)
{
        uint8_t *p = b->p + b->len;

        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
        b->len += 4;
}

static inline void pq_put_u64le(struct pq_buf *b, uint64_t v)
{
        pq_put_u32le(b, (uint32_t)v);
        pq_put_u32le(b, (uint32_t)(v >> 32));
}

static inline void pq_put_bytes(struct pq_buf *b, const void *p, size_t n)
{
        if (n)
                memcpy(b->p + b->len, p, n);
        b->len += n;
}

/* Bits needed for values 0..max_value (0 for 0). */
int pq_bit_width(uint32_t max_value);

/* Upper bound of the hybrid encoding of n values of bit width bw. */
size_t pq_rle_bound(size_t n, int bw);
/* Append the RLE / bit-packed hybrid encoding of n values (each < 2^bw,
 * 1 <= bw <= 32) to out, without length prefix or bit-width byte: runs of 8
 * or more equal values become RLE runs, the rest bit-packed runs of at most
 * 63 groups of 8, the last group padded with zeros. Returns 0 or an error. */
int pq_rle_encode_u32(struct pq_buf *out, const uint32_t *v, size_t n, int bw);
int pq_rle_encode_u8(struct pq_buf *out, const uint8_t *v, size_t n, int bw);

/* ---- dictionary --------------------------------------------------------- */

struct pq_dict {
        size_t width;       /* bytes per fixed-width value; 0 = BYTE_ARRAY */
        uint32_t n;         /* distinct values */
        uint32_t mask;      /* slots - 1 (slots is a power of two) */
        uint32_t *slots;    /* entry index + 1, 0 = empty */
        uint32_t *hashes;   /* per entry, so growing the table need not rehash values */
        uint32_t *offs;     /* BYTE_ARRAY: offset of the entry's length prefix in vals */
        uint32_t ent_cap;   /* capacity of hashes/offs */
        struct pq_buf vals; /* the dictionary page body: PLAIN values in index order */
};

/* width: bytes per value, 0 for length-prefixed BYTE_ARRAY values. */
void pq_dict_init(struct pq_dict *d, size_t width);
void pq_dict_free(struct pq_dict *d);
/* Empty it, keeping memory, for the next column chunk. */
void pq_dict_reset(struct pq_dict *d);
/* Index of the value (len bytes at p; len == width for fixed values), adding
 * it when new. Returns 1 when added, 0 when found, or a negative error. */
int pq_dict_put(struct pq_dict *d, const uint8_t *p, size_t len, uint32_t *idx);
/* Entry i: fixed values point at width bytes; BYTE_ARRAY values at their
 * bytes (after the length prefix) with *len set. */
const uint8_t *pq_dict_get(const struct pq_dict *d, uint32_t i, size_t *len);

#endif
