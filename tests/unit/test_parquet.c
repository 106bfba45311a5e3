/*
 * Tests of the Parquet writer (connectors/iceberg/parquet.h).
 *
 * Each case builds a batch from generated values, writes a file, and checks
 * it structurally with a tiny Thrift compact decoder of its own: the magic
 * bytes, the footer length, the schema (physical types from the Iceberg spec's
 * Parquet mapping, field ids, repetition), row groups against the returned
 * split offsets, every page of every chunk walked from its offset (sizes add
 * up to the chunk's, dictionary page first when the chunk uses one), and the
 * Iceberg metrics (counts, and bounds in the spec's Appendix D binary form,
 * derived here by hand from the input values).
 *
 * The values themselves are proven by independent readers: when ZETL_PQ_OUT
 * names a directory, every file is kept there next to NAME.expect.json, the
 * expected values built from the inputs (never from reading the output), and
 * tests/interop/test_parquet_duckdb reads them back with DuckDB and hyparquet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../connectors/iceberg/parquet.h"
#include "zetl/batch.h"
#include "zetl/schema.h"
#include "zetl/value.h"

/* ---- a tiny Thrift compact decoder ---------------------------------------- */

struct tn {
        uint8_t type;
        int16_t id;
        int64_t i;
        const uint8_t *bin;
        size_t len;
        int n;
        struct tn *kids; /* struct fields or list elements */
};

static const uint8_t *tn_value(const uint8_t *p, const uint8_t *end, uint8_t type, struct tn *t);

static const uint8_t *varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
        int shift = 0;

        *v = 0;
        while (p && p < end && shift < 64) {
                *v |= (uint64_t)(*p & 0x7f) << shift;
                if (!(*p++ & 0x80))
                        return p;
                shift += 7;
        }
        return NULL;
}

static int64_t unzigzag(uint64_t u)
{
        return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static const uint8_t *tn_struct(const uint8_t *p, const uint8_t *end, struct tn *t)
{
        int16_t last = 0;
        uint64_t u;

        t->type = 12;
        t->n = 0;
        t->kids = NULL;
        while (p && p < end) {
                uint8_t h = *p++, type = h & 0x0f;
                struct tn *k;
                if (h == 0)
                        return p;
                t->kids = realloc(t->kids, (size_t)(t->n + 1) * sizeof(*t->kids));
                k = &t->kids[t->n++];
                memset(k, 0, sizeof(*k));
                if (h >> 4) {
                        k->id = (int16_t)(last + (h >> 4));
                } else {
                        p = varint(p, end, &u);
                        k->id = (int16_t)unzigzag(u);
                }
                last = k->id;
                if (type == 1 || type == 2) {
                        k->type = 1;
                        k->i = type == 1;
                        continue;
                }
                p = tn_value(p, end, type, k);
        }
        return NULL;
}

static const uint8_t *tn_value(const uint8_t *p, const uint8_t *end, uint8_t type, struct tn *t)
{
        uint64_t u;
        int i;

        t->type = type;
        if (!p)
                return NULL;
        switch (type) {
        case 2: /* bool list element */
        case 3:
                if (p >= end)
                        return NULL;
                t->i = (int8_t)*p++;
                return p;
        case 4:
        case 5:
        case 6:
                p = varint(p, end, &u);
                t->i = unzigzag(u);
                return p;
        case 7:
                return p + 8 <= end ? p + 8 : NULL;
        case 8:
                p = varint(p, end, &u);
                if (!p || u > (uint64_t)(end - p))
                        return NULL;
                t->bin = p;
                t->len = (size_t)u;
                return p + u;
        case 9: {
                uint8_t h, et;
                if (p >= end)
                        return NULL;
                h = *p++;
                et = h & 0x0f;
                t->n = h >> 4;
                if (t->n == 15) {
                        p = varint(p, end, &u);
                        t->n = (int)u;
                }
                t->kids = calloc((size_t)t->n + 1, sizeof(*t->kids));
                for (i = 0; i < t->n && p; i++) {
                        if (et == 12)
                                p = tn_struct(p, end, &t->kids[i]);
                        else
                                p = tn_value(p, end, et, &t->kids[i]);
                }
                return p;
        }
        case 12:
                return tn_struct(p, end, t);
        }
        return NULL;
}

static void tn_free(struct tn *t)
{
        int i;

        for (i = 0; i < t->n; i++)
                tn_free(&t->kids[i]);
        free(t->kids);
        t->kids = NULL;
        t->n = 0;
}

static const struct tn *tn_get(const struct tn *t, int16_t id)
{
        int i;

        for (i = 0; t && t->type == 12 && i < t->n; i++)
                if (t->kids[i].id == id)
                        return &t->kids[i];
        return NULL;
}

static int64_t tn_i(const struct tn *t, int16_t id)
{
        const struct tn *k = tn_get(t, id);

        assert_non_null(k);
        return k->i;
}

static bool tn_str_eq(const struct tn *t, const char *s)
{
        return t && t->type == 8 && t->len == strlen(s) && memcmp(t->bin, s, t->len) == 0;
}

/* ---- files ---------------------------------------------------------------- */

static char out_dir[512];
static bool keep_files;

static int setup_dir(void **state)
{
        const char *d = getenv("ZETL_PQ_OUT");

        (void)state;
        if (d && *d) {
                snprintf(out_dir, sizeof(out_dir), "%s", d);
                mkdir(out_dir, 0755);
                keep_files = true;
        } else {
                snprintf(out_dir, sizeof(out_dir), "/tmp/zetl_test_parquet.XXXXXX");
                if (!mkdtemp(out_dir))
                        return -1;
        }
        return 0;
}

static int teardown_dir(void **state)
{
        (void)state;
        if (!keep_files)
                rmdir(out_dir);
        return 0;
}

static uint8_t *slurp(const char *path, size_t *len)
{
        struct stat st;
        uint8_t *p;
        int fd = open(path, O_RDONLY);

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        p = malloc((size_t)st.st_size + 1);
        assert_non_null(p);
        assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
        close(fd);
        *len = (size_t)st.st_size;
        return p;
}

/* ---- the columns of a case and their expected values ----------------------- */

/* The physical type the Iceberg spec maps each type to (parquet.thrift Type). */
static int expected_phys(enum zetl_type t, int precision)
{
        switch (t) {
        case ZETL_T_BOOL:
                return 0;
        case ZETL_T_INT16:
        case ZETL_T_INT32:
        case ZETL_T_DATE:
                return 1;
        case ZETL_T_INT64:
        case ZETL_T_TIME:
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                return 2;
        case ZETL_T_FLOAT32:
                return 4;
        case ZETL_T_FLOAT64:
                return 5;
        case ZETL_T_DECIMAL:
                if (precision == 0)
                        precision = 38;
                return precision <= 9 ? 1 : precision <= 18 ? 2 : 7;
        case ZETL_T_UUID:
                return 7;
        default:
                return 6;
        }
}

struct tcase {
        const char *name;
        const struct pq_column *cols;
        int ncols;
        struct pq_options opts;
        struct zetl_schema *schema; /* batch columns = output columns with batch_col >= 0 */
        struct zetl_batch *batch;
        json_t *values; /* per output column: array of expected values */
        json_t *dict;   /* per output column: true/false/null expected dictionary use */
};

static struct zetl_schema *make_schema(const struct pq_column *cols, int ncols)
{
        struct zetl_table_id id;
        struct zetl_schema *s;
        int i, n = 0, k = 0;

        for (i = 0; i < ncols; i++)
                if (cols[i].batch_col >= 0)
                        n++;
        assert_int_equal(zetl_table_id_set(&id, "db", "public", "t"), 0);
        s = zetl_schema_new(&id, n);
        assert_non_null(s);
        for (i = 0; i < ncols; i++) {
                struct zetl_column c = { 0 };
                if (cols[i].batch_col < 0)
                        continue;
                assert_true(cols[i].batch_col < n);
                c.name = (char *)cols[i].name;
                c.type = cols[i].type;
                c.precision = cols[i].precision;
                c.scale = cols[i].type == ZETL_T_DECIMAL ? cols[i].scale : 0;
                c.nullable = !cols[i].required;
                c.key_pos = cols[i].required ? ++k : 0;
                assert_int_equal(zetl_schema_set_col(s, cols[i].batch_col, &c), 0);
        }
        assert_int_equal(zetl_schema_finish(s, NULL), 0);
        return s;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
        /* xorshift64* */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(2685821657736338717);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";
        size_t i;

        for (i = 0; i < n; i++) {
                out[2 * i] = digits[p[i] >> 4];
                out[2 * i + 1] = digits[p[i] & 15];
        }
        out[2 * n] = 0;
}

/* Text of an unscaled decimal at a scale, the canonical form of zetl/types.h. */
static void dec_text(__int128 v, int scale, char *out)
{
        char digits[64];
        unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
        int n = 0, i, o = 0;

        do {
                digits[n++] = (char)('0' + (int)(u % 10));
                u /= 10;
        } while (u);
        while (n <= scale)
                digits[n++] = '0';
        if (v < 0)
                out[o++] = '-';
        for (i = n - 1; i >= 0; i--) {
                out[o++] = digits[i];
                if (i == scale && scale > 0)
                        out[o++] = '.';
        }
        out[o] = 0;
}

static void set_str(struct zetl_batch *b, int bc, const char *s, size_t len)
{
        assert_int_equal(zetl_batch_set_var(b, bc, s, len, NULL), 0);
}

/* Row r of one column: set the batch cell and append the expected value. The
 * first rows hold the extremes; optional columns are NULL every 7th row. */
static void gen_cell(const struct pq_column *c, uint32_t r, bool lowcard, struct zetl_batch *b,
                     json_t *vals)
{
        int bc = c->batch_col;
        char buf[256];
        uint64_t x = rnd();

        if (bc < 0 || (!c->required && r % 7 == 6)) {
                if (bc >= 0)
                        zetl_batch_set_null(b, bc);
                json_array_append_new(vals, json_null());
                return;
        }
        switch (c->type) {
        case ZETL_T_BOOL: {
                bool v = x & 1;
                zetl_batch_set_bool(b, bc, v);
                json_array_append_new(vals, json_boolean(v));
                return;
        }
        case ZETL_T_INT16: {
                int16_t v = r == 0 ? INT16_MIN : r == 1 ? INT16_MAX : (int16_t)(x % 2000) - 1000;
                if (lowcard)
                        v = (int16_t)(r % 5);
                zetl_batch_set_i16(b, bc, v);
                snprintf(buf, sizeof(buf), "%d", v);
                break;
        }
        case ZETL_T_INT32: {
                int32_t v = r == 0 ? INT32_MIN : r == 1 ? INT32_MAX : (int32_t)(uint32_t)x;
                if (lowcard)
                        v = (int32_t)(r % 11) * 1000 - 3000;
                zetl_batch_set_i32(b, bc, v);
                snprintf(buf, sizeof(buf), "%d", v);
                break;
        }
        case ZETL_T_INT64: {
                int64_t v = r == 0 ? INT64_MIN : r == 1 ? INT64_MAX : (int64_t)x;
                if (c->required) /* the key: unique and ordered */
                        v = (int64_t)r * 3 + 1;
                zetl_batch_set_i64(b, bc, v);
                snprintf(buf, sizeof(buf), "%lld", (long long)v);
                break;
        }
        case ZETL_T_FLOAT32: {
                static const float special[] = { NAN,     INFINITY,     -INFINITY, -0.0f,
                                                 FLT_MAX, FLT_TRUE_MIN, -FLT_MAX };
                float v = r < 7 ? special[r] : (float)((int64_t)(x % 100000) - 50000) / 64.0f;
                zetl_batch_set_f32(b, bc, v);
                if (isnan(v))
                        snprintf(buf, sizeof(buf), "NaN");
                else if (isinf(v))
                        snprintf(buf, sizeof(buf), v > 0 ? "Infinity" : "-Infinity");
                else
                        snprintf(buf, sizeof(buf), "%.9g", (double)v);
                break;
        }
        case ZETL_T_FLOAT64: {
                static const double special[] = { NAN,     INFINITY,     -INFINITY, -0.0,
                                                  DBL_MAX, DBL_TRUE_MIN, -DBL_MAX };
                double v = r < 7 ? special[r] : (double)(int64_t)x / 3.0;
                zetl_batch_set_f64(b, bc, v);
                if (isnan(v))
                        snprintf(buf, sizeof(buf), "NaN");
                else if (isinf(v))
                        snprintf(buf, sizeof(buf), v > 0 ? "Infinity" : "-Infinity");
                else
                        snprintf(buf, sizeof(buf), "%.17g", v);
                break;
        }
        case ZETL_T_DECIMAL: {
                int p = c->precision ? c->precision : 38, s = c->scale;
                /* Inputs that must be rescaled exactly, with their expected text. */
                static const char *const in[] = { "1.5", "-0.5", "7", "2.500", "-0" };
                unsigned __int128 lim = 1;
                __int128 v;
                char text[64];
                int i;
                for (i = 0; i < p; i++)
                        lim *= 10;
                if (r == 0 || r == 1) { /* +-(10^p - 1): every digit a 9 */
                        v = (__int128)(lim - 1) * (r == 0 ? 1 : -1);
                } else if (r >= 2 && r < 7) {
                        __int128 one = 1;
                        for (i = 0; i < s; i++)
                                one *= 10;
                        set_str(b, bc, in[r - 2], strlen(in[r - 2]));
                        v = r == 2   ? one * 3 / 2
                            : r == 3 ? -one / 2
                            : r == 4 ? one * 7
                            : r == 5 ? one * 5 / 2
                                     : 0;
                        dec_text(v, s, buf);
                        break;
                } else {
                        unsigned __int128 u = ((unsigned __int128)rnd() << 64 | x) % lim;
                        v = (x & 1) ? -(__int128)u : (__int128)u;
                        if (lowcard)
                                v = (__int128)(r % 4) * 125 - 250;
                }
                dec_text(v, s, text);
                set_str(b, bc, text, strlen(text));
                memcpy(buf, text, strlen(text) + 1);
                break;
        }
        case ZETL_T_STRING:
        case ZETL_T_JSON: {
                static const char *const special[] = {
                        "",
                        "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x98\x80",
                        "a string that is longer than sixteen characters",
                };
                if (c->type == ZETL_T_JSON)
                        snprintf(buf, sizeof(buf), "{\"k\": %u, \"v\": [1, 2]}", r % 13);
                else if (r < 3)
                        snprintf(buf, sizeof(buf), "%s", special[r]);
                else if (lowcard)
                        snprintf(buf, sizeof(buf), "name-%u", r % 50);
                else
                        snprintf(buf, sizeof(buf), "v%llx", (unsigned long long)x);
                set_str(b, bc, buf, strlen(buf));
                break;
        }
        case ZETL_T_BYTES: {
                size_t n = r == 0 ? 0 : r == 1 ? 100000 : 1 + x % 40, i;
                uint8_t *p = calloc(1, n + 1);
                char *h = malloc(2 * n + 1);
                for (i = 0; i < n; i++)
                        p[i] = (uint8_t)(r == 1 ? i * 7 : rnd());
                assert_int_equal(zetl_batch_set_var(b, bc, p, n, NULL), 0);
                hex(p, n, h);
                json_array_append_new(vals, json_string(h));
                free(p);
                free(h);
                return;
        }
        case ZETL_T_DATE: {
                /* 0001-01-01, 9999-12-31, the epoch, then days around it. */
                int32_t v = r == 0   ? -719162
                            : r == 1 ? 2932896
                            : r == 2 ? 0
                                     : (int32_t)(x % 40000) - 20000;
                zetl_batch_set_i32(b, bc, v);
                snprintf(buf, sizeof(buf), "%d", v);
                break;
        }
        case ZETL_T_TIME: {
                int64_t v = r == 0   ? 0
                            : r == 1 ? ZETL_USEC_PER_DAY - 1
                                     : (int64_t)(x % (uint64_t)ZETL_USEC_PER_DAY);
                zetl_batch_set_i64(b, bc, v);
                snprintf(buf, sizeof(buf), "%lld", (long long)v);
                break;
        }
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ: {
                /* 0001-01-01T00:00:00 and 9999-12-31T23:59:59.999999. */
                int64_t v = r == 0   ? INT64_C(-62135596800000000)
                            : r == 1 ? INT64_C(253402300799999999)
                                     : (int64_t)(x % UINT64_C(4000000000000000)) -
                                               INT64_C(1000000000000000);
                zetl_batch_set_i64(b, bc, v);
                snprintf(buf, sizeof(buf), "%lld", (long long)v);
                break;
        }
        case ZETL_T_UUID: {
                uint8_t u[16];
                int i;
                for (i = 0; i < 16; i++)
                        u[i] = r == 0 ? 0 : r == 1 ? 0xff : (uint8_t)(rnd() >> 17);
                zetl_batch_set_uuid(b, bc, u);
                zetl_format_uuid(u, buf);
                break;
        }
        default:
                fail();
        }
        json_array_append_new(vals, json_string(buf));
}

/* Build the case's batch with nrows rows. lowcard: column names starting
 * with "lc_" get few distinct values (so a dictionary is expected). */
static void build(struct tcase *t, uint32_t nrows, uint64_t seed)
{
        uint32_t r;
        int i;

        rng_state = seed;
        t->schema = make_schema(t->cols, t->ncols);
        t->batch = zetl_batch_new(t->schema, (size_t)1 << 30);
        assert_non_null(t->batch);
        t->values = json_array();
        for (i = 0; i < t->ncols; i++)
                json_array_append_new(t->values, json_array());
        for (r = 0; r < nrows; r++) {
                assert_int_equal(zetl_batch_row_begin(t->batch, ZETL_OP_INSERT, r, NULL), 0);
                for (i = 0; i < t->ncols; i++)
                        gen_cell(&t->cols[i], r, strncmp(t->cols[i].name, "lc_", 3) == 0, t->batch,
                                 json_array_get(t->values, (size_t)i));
                zetl_batch_row_end(t->batch);
        }
}

static void tcase_free(struct tcase *t)
{
        zetl_batch_free(t->batch);
        zetl_schema_unref(t->schema);
        json_decref(t->values);
        json_decref(t->dict);
}

/* ---- structural checks ---------------------------------------------------- */

struct chunk_summary {
        int dict_chunks; /* chunks with a dictionary page */
        int plain_pages; /* data pages PLAIN */
        int dict_pages;  /* data pages RLE_DICTIONARY */
        int data_pages;
};

/* Walk the pages of one chunk: each a PageHeader then compressed_page_size bytes. */
static void walk_chunk(const uint8_t *file, size_t flen, const struct tn *md, int64_t rg_rows,
                       struct chunk_summary *sum)
{
        int64_t start = tn_get(md, 11) ? tn_i(md, 11) : tn_i(md, 9);
        int64_t total = tn_i(md, 7), at = start, values = 0;
        bool first = true;

        assert_true(start >= 4 && start + total <= (int64_t)flen);
        while (at < start + total) {
                struct tn ph = { 0 };
                const uint8_t *end = tn_struct(file + at, file + flen, &ph);
                int64_t type = tn_i(&ph, 1), csize = tn_i(&ph, 3);
                assert_non_null(end);
                assert_true(tn_i(&ph, 2) >= 0);
                if (type == 2) { /* dictionary page: only first, only when announced */
                        assert_true(first);
                        assert_non_null(tn_get(md, 11));
                        assert_int_equal(tn_i(tn_get(&ph, 7), 2), 0); /* PLAIN */
                        sum->dict_chunks++;
                } else {
                        const struct tn *dh = tn_get(&ph, 5);
                        assert_int_equal(type, 0);
                        assert_non_null(dh);
                        values += tn_i(dh, 1);
                        assert_int_equal(tn_i(dh, 3), 3); /* RLE levels */
                        if (tn_i(dh, 2) == 8) {
                                sum->dict_pages++;
                                assert_non_null(tn_get(md, 11));
                        } else {
                                assert_int_equal(tn_i(dh, 2), 0);
                                sum->plain_pages++;
                        }
                        sum->data_pages++;
                        if (first)
                                assert_int_equal(at, tn_i(md, 9));
                }
                first = false;
                at = (int64_t)(end - file) + csize;
                tn_free(&ph);
        }
        assert_int_equal(at, start + total);
        assert_int_equal(values, rg_rows);
}

static void check_file(const char *path, const struct tcase *t, int64_t rows,
                       const struct pq_file_metrics *m, struct chunk_summary *sums)
{
        size_t flen;
        uint8_t *f = slurp(path, &flen);
        uint32_t mlen;
        struct tn fmd = { 0 };
        const struct tn *schema, *rgs, *kv, *cb;
        int64_t total_rows = 0, col_bytes, *nulls = calloc((size_t)t->ncols, sizeof(*nulls));
        int i, g;

        assert_true(flen > 12);
        assert_memory_equal(f, "PAR1", 4);
        assert_memory_equal(f + flen - 4, "PAR1", 4);
        assert_int_equal(m->file_size, flen);
        mlen = (uint32_t)f[flen - 8] | (uint32_t)f[flen - 7] << 8 | (uint32_t)f[flen - 6] << 16 |
               (uint32_t)f[flen - 5] << 24;
        assert_true(mlen + 12 <= flen);
        assert_ptr_equal(tn_struct(f + flen - 8 - mlen, f + flen - 8, &fmd), f + flen - 8);

        assert_int_equal(tn_i(&fmd, 1), 1);
        assert_int_equal(tn_i(&fmd, 3), rows);
        cb = tn_get(&fmd, 6);
        assert_non_null(cb);
        assert_true(cb->len > 13 && memcmp(cb->bin, "zetl version ", 13) == 0);
        kv = tn_get(&fmd, 5);
        if (t->opts.iceberg_schema) {
                assert_non_null(kv);
                assert_int_equal(kv->n, 1);
                assert_true(tn_str_eq(tn_get(&kv->kids[0], 1), "iceberg.schema"));
                assert_true(tn_str_eq(tn_get(&kv->kids[0], 2), t->opts.iceberg_schema));
        }
        assert_int_equal(tn_get(&fmd, 7)->n, t->ncols); /* column orders */

        schema = tn_get(&fmd, 2);
        assert_non_null(schema);
        assert_int_equal(schema->n, t->ncols + 1);
        assert_int_equal(tn_i(&schema->kids[0], 5), t->ncols);
        assert_null(tn_get(&schema->kids[0], 1));
        for (i = 0; i < t->ncols; i++) {
                const struct tn *e = &schema->kids[i + 1];
                const struct pq_column *c = &t->cols[i];
                assert_true(tn_str_eq(tn_get(e, 4), c->name));
                assert_int_equal(tn_i(e, 9), c->field_id);
                assert_int_equal(tn_i(e, 3), c->required ? 0 : 1);
                assert_int_equal(tn_i(e, 1), expected_phys(c->type, c->precision));
                if (c->type == ZETL_T_UUID)
                        assert_int_equal(tn_i(e, 2), 16);
                if (c->type == ZETL_T_DECIMAL) {
                        int p = c->precision ? c->precision : 38;
                        assert_int_equal(tn_i(e, 8), p);
                        assert_int_equal(tn_i(e, 7), c->scale);
                        assert_int_equal(tn_i(e, 6), 5);
                        assert_int_equal(tn_i(tn_get(tn_get(e, 10), 5), 2), p);
                }
                if (c->type == ZETL_T_TIMESTAMPTZ || c->type == ZETL_T_TIMESTAMP) {
                        const struct tn *ts = tn_get(tn_get(e, 10), 8);
                        assert_non_null(ts);
                        assert_int_equal(tn_i(ts, 1), c->type == ZETL_T_TIMESTAMPTZ);
                        assert_non_null(tn_get(tn_get(ts, 2), 2)); /* MICROS */
                        assert_int_equal(tn_i(e, 6), 10);
                }
        }

        rgs = tn_get(&fmd, 4);
        assert_non_null(rgs);
        assert_int_equal(rgs->n, m->nsplits);
        for (i = 0; i < t->ncols; i++)
                memset(&sums[i], 0, sizeof(sums[i]));
        for (g = 0; g < rgs->n; g++) {
                const struct tn *rg = &rgs->kids[g], *chunks = tn_get(rg, 1);
                int64_t rg_rows = tn_i(rg, 3), comp = 0;
                assert_int_equal(tn_i(rg, 5), m->split_offsets[g]);
                assert_int_equal(chunks->n, t->ncols);
                for (i = 0; i < t->ncols; i++) {
                        const struct tn *md = tn_get(&chunks->kids[i], 3);
                        assert_non_null(md);
                        assert_int_equal(tn_i(md, 4), t->opts.codec == PQ_CODEC_NONE ? 0 : 6);
                        assert_int_equal(tn_i(md, 5), rg_rows);
                        assert_true(tn_str_eq(&tn_get(md, 3)->kids[0], t->cols[i].name));
                        if (i == 0)
                                assert_int_equal(tn_i(&chunks->kids[i], 2), tn_i(rg, 5));
                        walk_chunk(f, flen, md, rg_rows, &sums[i]);
                        nulls[i] += tn_i(tn_get(md, 12), 3);
                        comp += tn_i(md, 7);
                }
                assert_int_equal(tn_i(rg, 6), comp);
                total_rows += rg_rows;
        }
        assert_int_equal(total_rows, rows);
        for (i = 0; i < t->ncols; i++) {
                col_bytes = 0;
                for (g = 0; g < rgs->n; g++)
                        col_bytes += tn_i(tn_get(&tn_get(&rgs->kids[g], 1)->kids[i], 3), 7);
                assert_int_equal(m->cols[i].column_size, col_bytes);
                assert_int_equal(m->cols[i].field_id, t->cols[i].field_id);
                assert_int_equal(m->cols[i].value_count, rows);
                assert_int_equal(m->cols[i].null_count, nulls[i]);
        }
        free(nulls);
        tn_free(&fmd);
        free(f);
}

/* Count the NULLs the generator put in output column i. */
static int64_t expected_nulls(const struct tcase *t, int i)
{
        json_t *a = json_array_get(t->values, (size_t)i), *v;
        size_t k;
        int64_t n = 0;

        json_array_foreach(a, k, v)
        {
                if (json_is_null(v))
                        n++;
        }
        return n;
}

/* Write rows of t's batch (rows NULL: all) with t's options, check the file,
 * keep the expectations when asked. */
static void write_case(struct tcase *t, const uint32_t *rows, uint32_t n, struct pq_file_metrics *m,
                       struct chunk_summary *sums)
{
        char path[600], epath[640];
        struct pq_writer *w = NULL;
        struct zetl_err err = { 0 };
        int fd, i;

        snprintf(path, sizeof(path), "%s/%s.parquet", out_dir, t->name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(pq_writer_open(fd, t->cols, t->ncols, &t->opts, &w, &err), 0);
        /* Several write calls, as the sink makes. */
        for (uint32_t at = 0; at < n;) {
                uint32_t k = n - at < 2500 ? n - at : 2500;
                if (rows) {
                        assert_int_equal(pq_writer_write(w, t->batch, rows + at, k, &err), 0);
                } else {
                        uint32_t *idx = malloc(k * sizeof(*idx));
                        for (uint32_t j = 0; j < k; j++)
                                idx[j] = at + j;
                        assert_int_equal(pq_writer_write(w, t->batch, idx, k, &err), 0);
                        free(idx);
                }
                at += k;
                assert_int_equal(pq_writer_rows(w), at);
                assert_true(pq_writer_bytes(w) >= 4);
        }
        if (pq_writer_close(w, m, &err) != 0)
                fail_msg("%s", err.msg);
        close(fd);
        check_file(path, t, n, m, sums);
        for (i = 0; i < t->ncols; i++) {
                if (!rows)
                        assert_int_equal(m->cols[i].null_count, expected_nulls(t, i));
                if (t->cols[i].type == ZETL_T_FLOAT32 || t->cols[i].type == ZETL_T_FLOAT64)
                        assert_true(m->cols[i].nan_count >= 0);
                else
                        assert_int_equal(m->cols[i].nan_count, -1);
        }
        if (keep_files) {
                json_t *e = json_object(), *cols = json_array();
                for (i = 0; i < t->ncols; i++) {
                        const struct pq_column *c = &t->cols[i];
                        json_t *vals = json_array_get(t->values, (size_t)i), *sel = vals;
                        if (rows) {
                                sel = json_array();
                                for (uint32_t j = 0; j < n; j++)
                                        json_array_append(sel, json_array_get(vals, rows[j]));
                        } else {
                                json_incref(sel);
                        }
                        json_array_append_new(
                                cols,
                                json_pack("{s:s, s:i, s:s, s:i, s:i, s:b, s:O, s:o}", "name",
                                          c->name, "field_id", c->field_id, "type",
                                          zetl_type_name(c->type), "precision",
                                          c->precision ? c->precision
                                                       : (c->type == ZETL_T_DECIMAL ? 38 : 0),
                                          "scale", c->scale, "required", c->required, "dictionary",
                                          t->dict ? json_array_get(t->dict, (size_t)i)
                                                  : json_null(),
                                          "values", sel));
                }
                json_object_set_new(e, "file", json_string(path));
                json_object_set_new(e, "rows", json_integer(n));
                json_object_set_new(e, "row_groups", json_integer(m->nsplits));
                json_object_set_new(
                        e, "codec",
                        json_string(t->opts.codec == PQ_CODEC_NONE ? "UNCOMPRESSED" : "ZSTD"));
                json_object_set_new(e, "columns", cols);
                snprintf(epath, sizeof(epath), "%s/%s.expect.json", out_dir, t->name);
                assert_int_equal(json_dump_file(e, epath, JSON_INDENT(1)), 0);
                json_decref(e);
        } else {
                unlink(path);
        }
}

/* ---- cases ---------------------------------------------------------------- */

#define ALL_TYPES_COLS(B)                                                                          \
        { 1, "id", ZETL_T_INT64, 0, 0, true, 0 }, { 2, "b", ZETL_T_BOOL, 0, 0, false, 1 },         \
                { 3, "i16", ZETL_T_INT16, 0, 0, false, 2 },                                        \
                { 4, "i32", ZETL_T_INT32, 0, 0, false, 3 },                                        \
                { 5, "i64", ZETL_T_INT64, 0, 0, false, 4 },                                        \
                { 6, "f32", ZETL_T_FLOAT32, 0, 0, false, 5 },                                      \
                { 7, "f64", ZETL_T_FLOAT64, 0, 0, false, 6 },                                      \
                { 8, "d9", ZETL_T_DECIMAL, 9, 2, false, 7 },                                       \
                { 9, "d18", ZETL_T_DECIMAL, 18, 4, false, 8 },                                     \
                { 10, "d38", ZETL_T_DECIMAL, 38, 10, false, 9 },                                   \
                { 11, "dun", ZETL_T_DECIMAL, 0, 3, false, 10 },                                    \
                { 12, "s", ZETL_T_STRING, 0, 0, false, 11 },                                       \
                { 13, "j", ZETL_T_JSON, 0, 0, false, 12 },                                         \
                { 14, "bin", ZETL_T_BYTES, 0, 0, false, 13 },                                      \
                { 15, "dt", ZETL_T_DATE, 0, 0, false, 14 },                                        \
                { 16, "tm", ZETL_T_TIME, 0, 0, false, 15 },                                        \
                { 17, "ts", ZETL_T_TIMESTAMP, 0, 0, false, 16 },                                   \
                { 18, "tstz", ZETL_T_TIMESTAMPTZ, 0, 0, false, 17 },                               \
                { 19, "u", ZETL_T_UUID, 0, 0, false, 18 },                                         \
                { 20, "lc_s", ZETL_T_STRING, 0, 0, false, 19 },                                    \
                { 21, "lc_i32", ZETL_T_INT32, 0, 0, false, 20 },                                   \
                { 22, "lc_d9", ZETL_T_DECIMAL, 9, 2, false, 21 },                                  \
        {                                                                                          \
                23, "absent", ZETL_T_INT32, 0, 0, false, -1                                        \
        }

static const struct pq_column all_cols[] = { ALL_TYPES_COLS(0) };
#define NALL ((int)(sizeof(all_cols) / sizeof(all_cols[0])))

static const char iceberg_schema_json[] =
        "{\"type\":\"struct\",\"schema-id\":0,\"fields\":[{\"id\":1,\"name\":\"id\","
        "\"required\":true,\"type\":\"long\"}]}";

/* Expected dictionary use: low-cardinality columns yes; unique random values
 * and booleans no; the rest is the writer's call. */
static json_t *dict_expectations(const struct pq_column *cols, int n, bool none)
{
        json_t *a = json_array();
        int i;

        for (i = 0; i < n; i++) {
                const char *nm = cols[i].name;
                if (none || !strcmp(nm, "b") || !strcmp(nm, "id") || !strcmp(nm, "i64") ||
                    !strcmp(nm, "d38") || !strcmp(nm, "u"))
                        json_array_append_new(a, json_false());
                else if (!strncmp(nm, "lc_", 3))
                        json_array_append_new(a, json_true());
                else
                        json_array_append_new(a, json_null());
        }
        return a;
}

static void check_dict(const struct tcase *t, const struct chunk_summary *sums)
{
        int i;

        for (i = 0; i < t->ncols; i++) {
                json_t *d = json_array_get(t->dict, (size_t)i);
                if (json_is_true(d)) {
                        assert_int_equal(sums[i].plain_pages, 0);
                        assert_true(sums[i].dict_chunks > 0);
                } else if (json_is_false(d)) {
                        assert_int_equal(sums[i].dict_chunks, 0);
                        assert_int_equal(sums[i].dict_pages, 0);
                }
        }
}

static void test_all_types_zstd(void **state)
{
        struct tcase t = { "all_types_zstd", all_cols, NALL };
        struct pq_file_metrics m;
        struct chunk_summary sums[NALL];

        (void)state;
        t.opts.iceberg_schema = iceberg_schema_json;
        t.dict = dict_expectations(all_cols, NALL, false);
        build(&t, 3000, 1);
        write_case(&t, NULL, 3000, &m, sums);
        check_dict(&t, sums);
        assert_int_equal(m.record_count, 3000);
        assert_int_equal(m.nsplits, 1);
        assert_int_equal(m.split_offsets[0], 4);
        /* NaN counted once per float column (row 0); the absent column all NULL. */
        assert_int_equal(m.cols[5].nan_count, 1);
        assert_int_equal(m.cols[6].nan_count, 1);
        assert_int_equal(m.cols[22].null_count, 3000);
        assert_false(m.cols[22].has_lower);
        pq_file_metrics_free(&m);
        tcase_free(&t);
}

static void test_all_types_plain_uncompressed(void **state)
{
        struct tcase t = { "all_types_plain", all_cols, NALL };
        struct pq_file_metrics m;
        struct chunk_summary sums[NALL];
        int i;

        (void)state;
        t.opts.codec = PQ_CODEC_NONE;
        t.opts.no_dictionary = true;
        t.opts.page_bytes = 4096; /* many pages */
        t.dict = dict_expectations(all_cols, NALL, true);
        build(&t, 5000, 2);
        write_case(&t, NULL, 5000, &m, sums);
        check_dict(&t, sums);
        for (i = 0; i < NALL; i++)
                assert_true(sums[i].data_pages >= 1);
        assert_true(sums[0].data_pages >= 5000 * 8 / 4096);
        pq_file_metrics_free(&m);
        tcase_free(&t);
}

/* Small row groups and pages: many of each, with a dictionary per chunk. */
static void test_row_groups(void **state)
{
        static const struct pq_column cols[] = {
                { 1, "id", ZETL_T_INT64, 0, 0, true, 0 },
                { 2, "lc_s", ZETL_T_STRING, 0, 0, false, 1 },
                { 3, "ts", ZETL_T_TIMESTAMPTZ, 0, 0, false, 2 },
                { 4, "d18", ZETL_T_DECIMAL, 18, 4, false, 3 },
        };
        struct tcase t = { "row_groups", cols, 4 };
        struct pq_file_metrics m;
        struct chunk_summary sums[4];
        int g;

        (void)state;
        t.opts.row_group_bytes = 256 << 10;
        t.opts.page_bytes = 16 << 10;
        t.opts.zstd_level = 1;
        t.dict = dict_expectations(cols, 4, false);
        build(&t, 200000, 3);
        write_case(&t, NULL, 200000, &m, sums);
        check_dict(&t, sums);
        assert_true(m.nsplits >= 4);
        for (g = 1; g < m.nsplits; g++)
                assert_true(m.split_offsets[g] > m.split_offsets[g - 1]);
        assert_int_equal(sums[1].dict_chunks, m.nsplits);
        assert_true(sums[0].data_pages > m.nsplits);
        /* id = 3r + 1: bounds 1 and 599998, 8 bytes little-endian. */
        assert_int_equal(m.cols[0].lower_len, 8);
        assert_memory_equal(m.cols[0].lower, "\x01\0\0\0\0\0\0\0", 8);
        assert_memory_equal(m.cols[0].upper, "\xbe\x27\x09\0\0\0\0\0", 8);
        pq_file_metrics_free(&m);
        tcase_free(&t);
}

/* A dictionary that outgrows its limit mid-chunk: the chunk goes on PLAIN and
 * lists both encodings. */
static void test_dict_fallback(void **state)
{
        static const struct pq_column cols[] = {
                { 1, "s", ZETL_T_STRING, 0, 0, false, 0 },
        };
        struct tcase t = { "dict_fallback", cols, 1 };
        struct pq_file_metrics m;
        struct chunk_summary sums[1];
        uint32_t *rows, i;

        (void)state;
        t.opts.dict_max_bytes = 8192;
        t.opts.page_bytes = 4096;
        build(&t, 20000, 4);
        /* Rows in an order that starts repetitive (rows 3, 4, 5 again and
         * again), so the dictionary pays off on the first page, then grows
         * past 8 KiB on the other rows' random strings. */
        rows = malloc(20000 * sizeof(*rows));
        for (i = 0; i < 20000; i++)
                rows[i] = i < 3000 ? 3 + i % 3 : i;
        write_case(&t, rows, 20000, &m, sums);
        assert_int_equal(sums[0].dict_chunks, 1);
        assert_true(sums[0].dict_pages >= 1);
        assert_true(sums[0].plain_pages >= 1);
        free(rows);
        pq_file_metrics_free(&m);
        tcase_free(&t);
}

/* A subset of rows in a different order, as the sink writes collapsed changes,
 * and an equality-delete style file with only required key columns. */
static void test_row_selection_and_keys(void **state)
{
        static const struct pq_column cols[] = {
                { 1, "id", ZETL_T_INT64, 0, 0, true, 0 },
                { 7, "k2", ZETL_T_STRING, 0, 0, true, 1 },
        };
        struct tcase t = { "delete_keys", cols, 2 };
        struct pq_file_metrics m;
        struct chunk_summary sums[2];
        uint32_t rows[500], i;

        (void)state;
        t.dict = dict_expectations(cols, 2, false);
        build(&t, 1000, 5);
        for (i = 0; i < 500; i++)
                rows[i] = 999 - 2 * i;
        write_case(&t, rows, 500, &m, sums);
        assert_int_equal(m.cols[0].null_count, 0);
        assert_int_equal(m.cols[1].null_count, 0);
        /* ids 3r + 1 of rows 999, 997, ..., 1: 4 .. 2998. */
        assert_memory_equal(m.cols[0].lower, "\x04\0\0\0\0\0\0\0", 8);
        assert_memory_equal(m.cols[0].upper, "\xb6\x0b\0\0\0\0\0\0", 8);
        pq_file_metrics_free(&m);
        tcase_free(&t);
}

/* ---- Iceberg bounds, by hand ---------------------------------------------------- */

static struct zetl_schema *one_col_schema(enum zetl_type type, int p, int s)
{
        struct pq_column c = { 1, "c", type, p, s, false, 0 };

        return make_schema(&c, 1);
}

/* Write the given texts (NULL entries are NULLs) to one var-length column and
 * return its metrics. */
static void bounds_of(enum zetl_type type, int p, int s, const char *const *vals, int n,
                      struct pq_col_metrics *out)
{
        struct zetl_schema *sc = one_col_schema(type, p, s);
        struct zetl_batch *b = zetl_batch_new(sc, 0);
        struct pq_column c = { 42, "c", type, p, s, false, 0 };
        struct pq_writer *w;
        struct pq_file_metrics m;
        int fd = open("/dev/null", O_WRONLY), i;

        for (i = 0; i < n; i++) {
                assert_int_equal(zetl_batch_row_begin(b, ZETL_OP_INSERT, 1, NULL), 0);
                if (vals[i])
                        set_str(b, 0, vals[i], strlen(vals[i]));
                zetl_batch_row_end(b);
        }
        assert_int_equal(pq_writer_open(fd, &c, 1, NULL, &w, NULL), 0);
        assert_int_equal(pq_writer_write(w, b, NULL, (uint32_t)n, NULL), 0);
        assert_int_equal(pq_writer_close(w, &m, NULL), 0);
        *out = m.cols[0];
        pq_file_metrics_free(&m);
        close(fd);
        zetl_batch_free(b);
        zetl_schema_unref(sc);
}

static void test_bounds_strings(void **state)
{
        static const char *const v1[] = { "banana", NULL, "apple", "cherry" };
        /* 20 characters: truncated to 16, the upper bound's 16th incremented. */
        static const char *const v2[] = { "abcdefghijklmnopqrst" };
        /* 17 characters ending the 16-prefix with U+10FFFF: that one cannot be
         * incremented, so the 15th ('o' -> 'p') is, and the rest dropped. */
        static const char *const v3[] = { "abcdefghijklmno\xf4\x8f\xbf\xbfz" };
        /* Non-ASCII: 16 code points of 2 bytes each are 32 bytes. */
        static const char *const v4[] = {
                "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
        };
        struct pq_col_metrics m;

        (void)state;
        bounds_of(ZETL_T_STRING, 0, 0, v1, 4, &m);
        assert_int_equal(m.field_id, 42);
        assert_int_equal(m.value_count, 4);
        assert_int_equal(m.null_count, 1);
        assert_int_equal(m.lower_len, 5);
        assert_memory_equal(m.lower, "apple", 5);
        assert_int_equal(m.upper_len, 6);
        assert_memory_equal(m.upper, "cherry", 6);

        bounds_of(ZETL_T_STRING, 0, 0, v2, 1, &m);
        assert_int_equal(m.lower_len, 16);
        assert_memory_equal(m.lower, "abcdefghijklmnop", 16);
        assert_true(m.has_upper);
        assert_int_equal(m.upper_len, 16);
        assert_memory_equal(m.upper, "abcdefghijklmnoq", 16);

        bounds_of(ZETL_T_STRING, 0, 0, v3, 1, &m);
        assert_int_equal(m.lower_len, 19);
        assert_int_equal(m.upper_len, 15);
        assert_memory_equal(m.upper, "abcdefghijklmnp", 15);

        bounds_of(ZETL_T_STRING, 0, 0, v4, 1, &m);
        assert_int_equal(m.lower_len, 32);
        assert_int_equal(m.upper_len, 32);
        assert_memory_equal(m.upper + 30, "\xc3\xaa", 2); /* U+00E9 + 1 = U+00EA */
}

static void test_bounds_binary(void **state)
{
        /* 17 bytes of 0xff after "a": the upper bound is "b" after truncation
         * to 16 bytes ("a" + 15 x 0xff; the 0xff cannot be incremented). */
        char big[19];
        const char *v[] = { big, "a" };
        struct pq_col_metrics m;

        (void)state;
        big[0] = 'a';
        memset(big + 1, 0xff, 17);
        big[18] = 0;
        bounds_of(ZETL_T_BYTES, 0, 0, v, 2, &m);
        assert_int_equal(m.lower_len, 1);
        assert_memory_equal(m.lower, "a", 1);
        assert_int_equal(m.upper_len, 1);
        assert_memory_equal(m.upper, "b", 1);
}

static void test_bounds_decimal(void **state)
{
        /* decimal(38,10): -1.5 is unscaled -15000000000 = -0x37E11D600, in five
         * bytes of two's complement 0xFC81EE2A00; 0.0000000127 is 127 = 0x7F,
         * one byte; 128 would need a leading zero byte. */
        static const char *const v[] = { "0.0000000127", "-1.5", NULL, "0.0000000001" };
        static const char *const v2[] = { "0.0000000128", "-0.0000000128" };
        struct pq_col_metrics m;

        (void)state;
        bounds_of(ZETL_T_DECIMAL, 38, 10, v, 4, &m);
        assert_int_equal(m.lower_len, 5);
        assert_memory_equal(m.lower, "\xfc\x81\xee\x2a\x00", 5);
        assert_int_equal(m.upper_len, 1);
        assert_memory_equal(m.upper, "\x7f", 1);
        assert_int_equal(m.null_count, 1);
        bounds_of(ZETL_T_DECIMAL, 9, 2, v2, 0, &m); /* no rows: no bounds */
        assert_false(m.has_lower);
        assert_false(m.has_upper);
        bounds_of(ZETL_T_DECIMAL, 20, 10, v2, 2, &m);
        assert_int_equal(m.upper_len, 2);
        assert_memory_equal(m.upper, "\x00\x80", 2);
        assert_int_equal(m.lower_len, 1);
        assert_memory_equal(m.lower, "\x80", 1); /* -128 */
}

/* Fixed-width bounds straight from the writer's metrics on the all-types
 * data would depend on random values; here known values instead. */
static void test_bounds_fixed(void **state)
{
        static const struct pq_column cols[] = {
                { 1, "i", ZETL_T_INT32, 0, 0, false, 0 },
                { 2, "f", ZETL_T_FLOAT64, 0, 0, false, 1 },
                { 3, "b", ZETL_T_BOOL, 0, 0, false, 2 },
                { 4, "u", ZETL_T_UUID, 0, 0, false, 3 },
                { 5, "w", ZETL_T_INT64, 0, 0, false, 0 }, /* int32 batch column widened */
        };
        struct zetl_schema *sc = make_schema(cols, 4);
        struct zetl_batch *b = zetl_batch_new(sc, 0);
        struct pq_writer *w;
        struct pq_file_metrics m;
        uint8_t u1[16] = { 0x80 }, u2[16] = { 0x7f, 1 };
        double one = 1.0, zero = 0.0;
        uint8_t le_one[8], le_zero[8];
        int fd = open("/dev/null", O_WRONLY);

        (void)state;
        assert_int_equal(zetl_batch_row_begin(b, ZETL_OP_INSERT, 1, NULL), 0);
        zetl_batch_set_i32(b, 0, -5);
        zetl_batch_set_f64(b, 1, NAN);
        zetl_batch_set_bool(b, 2, true);
        zetl_batch_set_uuid(b, 3, u1);
        zetl_batch_row_end(b);
        assert_int_equal(zetl_batch_row_begin(b, ZETL_OP_INSERT, 2, NULL), 0);
        zetl_batch_set_i32(b, 0, 100);
        zetl_batch_set_f64(b, 1, 1.0);
        zetl_batch_set_bool(b, 2, true);
        zetl_batch_set_uuid(b, 3, u2);
        zetl_batch_row_end(b);
        assert_int_equal(zetl_batch_row_begin(b, ZETL_OP_INSERT, 3, NULL), 0);
        zetl_batch_set_f64(b, 1, -0.0);
        zetl_batch_row_end(b);
        assert_int_equal(pq_writer_open(fd, cols, 5, NULL, &w, NULL), 0);
        assert_int_equal(pq_writer_write(w, b, NULL, 3, NULL), 0);
        assert_int_equal(pq_writer_close(w, &m, NULL), 0);
        /* int: 4 bytes LE, -5 = 0xFFFFFFFB, 100 = 0x64. */
        assert_int_equal(m.cols[0].lower_len, 4);
        assert_memory_equal(m.cols[0].lower, "\xfb\xff\xff\xff", 4);
        assert_memory_equal(m.cols[0].upper, "\x64\0\0\0", 4);
        /* double: NaN counted, not a bound; -0.0 lower (sign bit set), 1.0 upper. */
        assert_int_equal(m.cols[1].nan_count, 1);
        memcpy(le_one, &one, 8);
        zero = -zero;
        memcpy(le_zero, &zero, 8);
        assert_memory_equal(m.cols[1].upper, le_one, 8);
        assert_memory_equal(m.cols[1].lower, le_zero, 8);
        assert_int_equal(m.cols[1].lower[7], 0x80);
        /* boolean: one byte; uuid: 16 bytes, unsigned order (0x7f.. < 0x80..). */
        assert_int_equal(m.cols[2].lower_len, 1);
        assert_int_equal(m.cols[2].lower[0], 1);
        assert_int_equal(m.cols[2].null_count, 1);
        assert_memory_equal(m.cols[3].lower, u2, 16);
        assert_memory_equal(m.cols[3].upper, u1, 16);
        /* long from an int column: 8 bytes. */
        assert_int_equal(m.cols[4].lower_len, 8);
        assert_memory_equal(m.cols[4].lower, "\xfb\xff\xff\xff\xff\xff\xff\xff", 8);
        pq_file_metrics_free(&m);
        close(fd);
        zetl_batch_free(b);
        zetl_schema_unref(sc);
}

/* ---- errors ----------------------------------------------------------------- */

static void test_decimal_parse(void **state)
{
        struct zetl_err err = { 0 };
        __int128 v;

        (void)state;
        assert_int_equal(pq_decimal_parse("-123.4500", 9, 9, 4, &v, &err), 0);
        assert_true(v == -1234500);
        assert_int_equal(pq_decimal_parse("12", 2, 5, 3, &v, &err), 0);
        assert_true(v == 12000);
        assert_int_equal(pq_decimal_parse("1.2300", 6, 3, 2, &v, &err), 0);
        assert_true(v == 123);
        /* 99999999999999999999999999999999999999 (38 nines) fits (38, 0). */
        assert_int_equal(
                pq_decimal_parse("99999999999999999999999999999999999999", 38, 38, 0, &v, &err), 0);
        assert_true(v == (__int128)((((unsigned __int128)1) * 10000000000000000000u *
                                     10000000000000000000u) -
                                    1) /* 10^38 - 1 */);
        /* Refused: too many digits, a non-zero digit past the scale, NaN, junk. */
        assert_int_equal(pq_decimal_parse("100000", 6, 5, 0, &v, &err), ZETL_EINVAL);
        assert_non_null(strstr(err.msg, "does not fit"));
        assert_int_equal(pq_decimal_parse("1000.0", 6, 5, 2, &v, &err), ZETL_EINVAL);
        assert_int_equal(pq_decimal_parse("1.005", 5, 5, 2, &v, &err), ZETL_EINVAL);
        assert_non_null(strstr(err.msg, "not rounded"));
        assert_int_equal(pq_decimal_parse("NaN", 3, 5, 2, &v, &err), ZETL_EINVAL);
        assert_int_equal(pq_decimal_parse("Infinity", 8, 5, 2, &v, &err), ZETL_EINVAL);
        assert_int_equal(pq_decimal_parse("", 0, 5, 2, &v, &err), ZETL_EINVAL);
        assert_int_equal(pq_decimal_parse("1e5", 3, 9, 2, &v, &err), ZETL_EINVAL);
        assert_int_equal(pq_decimal_parse("-", 1, 9, 2, &v, &err), ZETL_EINVAL);
        assert_int_equal(
                pq_decimal_parse("999999999999999999999999999999999999999", 39, 38, 0, &v, &err),
                ZETL_EINVAL);
}

static void expect_write_error(const struct pq_column *c, int ncols, struct zetl_batch *b,
                               const char *msg_part)
{
        struct pq_writer *w;
        struct zetl_err err = { 0 };
        int fd = open("/dev/null", O_WRONLY);

        assert_int_equal(pq_writer_open(fd, c, ncols, NULL, &w, &err), 0);
        assert_int_equal(pq_writer_write(w, b, NULL, b->nrows, &err), ZETL_EINVAL);
        if (!strstr(err.msg, msg_part))
                fail_msg("message '%s' lacks '%s'", err.msg, msg_part);
        /* The writer stays failed. */
        assert_int_equal(pq_writer_write(w, b, NULL, b->nrows, &err), ZETL_EINVAL);
        assert_int_equal(pq_writer_close(w, NULL, &err), ZETL_EINVAL);
        close(fd);
}

static void test_write_errors(void **state)
{
        struct pq_column req = { 1, "c", ZETL_T_INT32, 0, 0, true, 0 };
        struct pq_column dec = { 1, "c", ZETL_T_DECIMAL, 5, 2, false, 0 };
        struct pq_column wrong = { 1, "c", ZETL_T_INT16, 0, 0, false, 0 };
        struct zetl_schema *s = one_col_schema(ZETL_T_INT32, 0, 0);
        struct zetl_schema *sd = one_col_schema(ZETL_T_DECIMAL, 5, 2);
        struct zetl_batch *b = zetl_batch_new(s, 0), *bd = zetl_batch_new(sd, 0);
        struct pq_writer *w;
        struct zetl_err err = { 0 };

        (void)state;
        /* NULL in a required column. */
        assert_int_equal(zetl_batch_row_begin(b, ZETL_OP_INSERT, 1, NULL), 0);
        zetl_batch_row_end(b);
        expect_write_error(&req, 1, b, "NULL in required column c");
        /* An unchanged value. */
        zetl_batch_reset(b);
        assert_int_equal(zetl_batch_row_begin(b, ZETL_OP_UPDATE, 1, NULL), 0);
        assert_int_equal(zetl_batch_set_unchanged(b, 0, NULL), 0);
        zetl_batch_row_end(b);
        req.required = false;
        expect_write_error(&req, 1, b, "unchanged");
        /* A batch column of another type (int32 into int16 would narrow). */
        expect_write_error(&wrong, 1, b, "cannot be written from a int32");
        /* A decimal that does not fit. */
        assert_int_equal(zetl_batch_row_begin(bd, ZETL_OP_INSERT, 1, NULL), 0);
        set_str(bd, 0, "1234.00", 7);
        zetl_batch_row_end(bd);
        expect_write_error(&dec, 1, bd, "column c: parquet: decimal value '1234.00' does not fit");
        /* Bad columns at open. */
        dec.precision = 39;
        assert_int_equal(pq_writer_open(1, &dec, 1, NULL, &w, &err), ZETL_EINVAL);
        dec.precision = 5;
        dec.scale = -1;
        assert_int_equal(pq_writer_open(1, &dec, 1, NULL, &w, &err), ZETL_EINVAL);
        req.required = true;
        req.batch_col = -1;
        assert_int_equal(pq_writer_open(1, &req, 1, NULL, &w, &err), ZETL_EINVAL);
        assert_int_equal(pq_writer_open(1, &req, 0, NULL, &w, &err), ZETL_EINVAL);
        /* A write error of the file descriptor. */
        req.batch_col = 0;
        req.required = false;
        assert_int_equal(pq_writer_open(-1, &req, 1, NULL, &w, &err), ZETL_EIO);
        zetl_batch_free(b);
        zetl_batch_free(bd);
        zetl_schema_unref(s);
        zetl_schema_unref(sd);
}

/* An empty file: magic, an empty row group list, the footer. */
static void test_empty_file(void **state)
{
        struct tcase t = { "empty", all_cols, NALL };
        struct pq_file_metrics m;
        struct chunk_summary sums[NALL];

        (void)state;
        t.dict = dict_expectations(all_cols, NALL, false);
        build(&t, 0, 6);
        write_case(&t, NULL, 0, &m, sums);
        assert_int_equal(m.nsplits, 0);
        assert_int_equal(m.record_count, 0);
        pq_file_metrics_free(&m);
        tcase_free(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decimal_parse),
                cmocka_unit_test(test_all_types_zstd),
                cmocka_unit_test(test_all_types_plain_uncompressed),
                cmocka_unit_test(test_row_groups),
                cmocka_unit_test(test_dict_fallback),
                cmocka_unit_test(test_row_selection_and_keys),
                cmocka_unit_test(test_empty_file),
                cmocka_unit_test(test_bounds_strings),
                cmocka_unit_test(test_bounds_binary),
                cmocka_unit_test(test_bounds_decimal),
                cmocka_unit_test(test_bounds_fixed),
                cmocka_unit_test(test_write_errors),
        };

        return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
