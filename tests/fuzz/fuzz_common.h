/*
 * Helpers shared by the fuzz targets: a check that aborts (a finding), a
 * strict UTF-8 validator for decoders that must emit text, and a small
 * big-endian writer for building seed inputs.
 */
#ifndef ZETL_FUZZ_COMMON_H
#define ZETL_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "zetl/value.h"

#define CHECK(c)                                                                                   \
        do {                                                                                       \
                if (!(c)) {                                                                        \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);      \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

/* Well-formed UTF-8 (the library's own check, src/value.c). */
static inline bool valid_utf8(const uint8_t *p, size_t n)
{
        return zetl_utf8_valid(p, n);
}

/* A seed being written, big-endian as the wire formats are (bytes past the
 * end are dropped). */
struct wbuf {
        uint8_t b[512];
        size_t n;
};

static inline void w8(struct wbuf *w, uint8_t v)
{
        if (w->n < sizeof(w->b))
                w->b[w->n++] = v;
}

static inline void w16(struct wbuf *w, uint16_t v)
{
        w8(w, (uint8_t)(v >> 8));
        w8(w, (uint8_t)v);
}

static inline void w32(struct wbuf *w, uint32_t v)
{
        w16(w, (uint16_t)(v >> 16));
        w16(w, (uint16_t)v);
}

static inline void w64(struct wbuf *w, uint64_t v)
{
        w32(w, (uint32_t)(v >> 32));
        w32(w, (uint32_t)v);
}

static inline void wbytes(struct wbuf *w, const void *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                w8(w, ((const uint8_t *)p)[i]);
}

#endif
