/*
 * Tests of the Parquet reader (connectors/iceberg/pq_reader.h).
 *
 * Round trips: rows generated here (every zetl type, NULLs in every optional
 * column, low- and high-cardinality values) are written with zetl's writer
 * (parquet.h) under every combination of codec and encoding, with small
 * page and row-group sizes so that files have several of each, then read
 * back from a file descriptor and from memory and compared cell by cell with
 * the generated values (the expectation is the input, never the reader's
 * output). Binding by field id is checked with a reordered, renamed and
 * promoted schema. Malformed inputs (truncation, bad magic, a footer length
 * past the file, and every single-byte corruption of a small file) must be
 * refused with ZETL_EPROTO or read without a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../connectors/iceberg/parquet.h"
#include "../../connectors/iceberg/pq_reader.h"
#include "zetl/batch.h"
#include "zetl/schema.h"

/* Column layout of the generated table: name, type, precision, scale, field id. */
struct spec {
        const char *name;
        enum zetl_type type;
        int precision, scale;
        int field_id;
        bool required;
};

static const struct spec specs[] = {
        { "id", ZETL_T_INT64, 0, 0, 1, true },
        { "b", ZETL_T_BOOL, 0, 0, 2, false },
        { "i16", ZETL_T_INT16, 0, 0, 3, false },
        { "i32", ZETL_T_INT32, 0, 0, 4, false },
        { "f32", ZETL_T_FLOAT32, 0, 0, 5, false },
        { "f64", ZETL_T_FLOAT64, 0, 0, 6, false },
        { "d9", ZETL_T_DECIMAL, 9, 2, 7, false },
        { "d18", ZETL_T_DECIMAL, 18, 4, 8, false },
        { "d38", ZETL_T_DECIMAL, 38, 10, 9, false },
        { "name", ZETL_T_STRING, 0, 0, 10, false },
        { "text", ZETL_T_STRING, 0, 0, 11, false },
        { "blob", ZETL_T_BYTES, 0, 0, 12, false },
        { "day", ZETL_T_DATE, 0, 0, 13, false },
        { "tod", ZETL_T_TIME, 0, 0, 14, false },
        { "ts", ZETL_T_TIMESTAMP, 0, 0, 15, false },
        { "tstz", ZETL_T_TIMESTAMPTZ, 0, 0, 16, false },
        { "u", ZETL_T_UUID, 0, 0, 17, false },
        { "doc", ZETL_T_JSON, 0, 0, 18, false },
};
#define NSPEC ((int)(sizeof(specs) / sizeof(specs[0])))

static const char *const names[] = { "alpha", "beta", "gamma", "délta", "ε" };

static bool is_null(int row, int col)
{
        return !specs[col].required && (row + col) % 11 == 0;
}

/* Decimal text of unscaled v at scale s, written independently of the reader. */
static void dec_str(__int128 v, int s, char *out)
{
        char tmp[64];
        unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
        int n = 0, at = 0;

        do {
                tmp[n++] = (char)('0' + (int)(u % 10));
                u /= 10;
        } while (u);
        while (n <= s)
                tmp[n++] = '0';
        if (v < 0)
                out[at++] = '-';
        while (n > 0) {
                out[at++] = tmp[--n];
                if (n == s && s > 0)
                        out[at++] = '.';
        }
        out[at] = '\0';
}

static __int128 d38_value(int row)
{
        __int128 v = (__int128)(row + 1) * 1000000007;

        v = v * 1000000000000000000LL + row; /* up to 28 digits */
        return row % 2 ? -v : v;
}

/* The generated value of (row, col) as text or bytes, for var-length types. */
static size_t var_value(int row, int col, char *buf)
{
        switch (col) {
        case 6:
                dec_str((__int128)(row * 37 % 200000) - 100000, 2, buf);
                break;
        case 7:
                dec_str((__int128)row * 123456789LL - 99999999999LL, 4, buf);
                break;
        case 8:
                dec_str(d38_value(row), 10, buf);
                break;
        case 9:
                strcpy(buf, names[row % 5]);
                break;
        case 10:
                sprintf(buf, "row %d ü %ld", row, (long)row * row);
                break;
        case 11:
                for (int k = 0; k < row % 5; k++)
                        buf[k] = (char)(row + k);
                return (size_t)(row % 5);
        case 17:
                sprintf(buf, "{\"i\":%d}", row);
                break;
        }
        return strlen(buf);
}

static struct zetl_schema *make_schema(const struct spec *sp, int n)
{
        struct zetl_table_id id;
        struct zetl_schema *s;
        int k = 0;

        assert_int_equal(zetl_table_id_set(&id, "db", "public", "t"), 0);
        s = zetl_schema_new(&id, n);
        assert_non_null(s);
        for (int i = 0; i < n; i++) {
                struct zetl_column c = {
                        .name = (char *)sp[i].name,
                        .type = sp[i].type,
                        .precision = sp[i].precision,
                        .scale = sp[i].scale,
                        .nullable = !sp[i].required,
                        .key_pos = sp[i].required ? ++k : 0,
                };
                assert_int_equal(zetl_schema_set_col(s, i, &c), 0);
        }
        assert_int_equal(zetl_schema_finish(s, NULL), 0);
        return s;
}

static void fill_row(struct zetl_batch *b, int row)
{
        struct zetl_err err;
        char buf[128];
        uint8_t u[16];

        assert_int_equal(zetl_batch_row_begin(b, ZETL_OP_SNAPSHOT, (uint64_t)row, &err), 0);
        for (int c = 0; c < NSPEC; c++) {
                if (is_null(row, c))
                        continue;
                switch (specs[c].type) {
                case ZETL_T_BOOL:
                        zetl_batch_set_bool(b, c, row % 3 == 0);
                        break;
                case ZETL_T_INT16:
                        zetl_batch_set_i16(b, c, (int16_t)(row * 7 - 300));
                        break;
                case ZETL_T_INT32:
                        zetl_batch_set_i32(b, c, (int32_t)((uint32_t)row * 2654435761u));
                        break;
                case ZETL_T_INT64:
                        zetl_batch_set_i64(b, c, (int64_t)row * 1000000007LL - 5);
                        break;
                case ZETL_T_FLOAT32:
                        zetl_batch_set_f32(b, c, (float)row * 0.5f - 10.0f);
                        break;
                case ZETL_T_FLOAT64:
                        zetl_batch_set_f64(b, c, row % 97 == 5 ? NAN : row * 1.25 - 3);
                        break;
                case ZETL_T_DATE:
                        zetl_batch_set_i32(b, c, row - 1000);
                        break;
                case ZETL_T_TIME:
                        zetl_batch_set_i64(b, c, (int64_t)row * 1000003 % 86400000000LL);
                        break;
                case ZETL_T_TIMESTAMP:
                        zetl_batch_set_i64(b, c, 1600000000000000LL + row * 1000LL);
                        break;
                case ZETL_T_TIMESTAMPTZ:
                        zetl_batch_set_i64(b, c, -86400000000LL * row);
                        break;
                case ZETL_T_UUID:
                        for (int k = 0; k < 16; k++)
                                u[k] = (uint8_t)(row * 16 + k);
                        zetl_batch_set_uuid(b, c, u);
                        break;
                default: {
                        size_t n = var_value(row, c, buf);
                        assert_int_equal(zetl_batch_set_var(b, c, buf, n, &err), 0);
                }
                }
        }
        zetl_batch_row_end(b);
}

/* Check cell (r of b, column c of the output) against generated (row, col). */
static void check_cell(const struct zetl_batch *b, uint32_t r, int c, int row, int col)
{
        char buf[128];
        size_t len;
        const uint8_t *p;

        assert_int_equal(zetl_batch_is_null(b, c, r), is_null(row, col));
        if (is_null(row, col))
                return;
        switch (specs[col].type) {
        case ZETL_T_BOOL:
                assert_int_equal(zetl_batch_get_bool(b, c, r), row % 3 == 0);
                break;
        case ZETL_T_INT16:
                assert_int_equal(zetl_batch_get_i16(b, c, r), (int16_t)(row * 7 - 300));
                break;
        case ZETL_T_INT32:
                if (b->schema->cols[c].type == ZETL_T_INT64)
                        assert_int_equal(zetl_batch_get_i64(b, c, r),
                                         (int32_t)((uint32_t)row * 2654435761u));
                else
                        assert_int_equal(zetl_batch_get_i32(b, c, r),
                                         (int32_t)((uint32_t)row * 2654435761u));
                break;
        case ZETL_T_INT64:
                assert_int_equal(zetl_batch_get_i64(b, c, r), (int64_t)row * 1000000007LL - 5);
                break;
        case ZETL_T_FLOAT32:
                if (b->schema->cols[c].type == ZETL_T_FLOAT64)
                        assert_true(zetl_batch_get_f64(b, c, r) == (double)row * 0.5 - 10.0);
                else
                        assert_true(zetl_batch_get_f32(b, c, r) == (float)row * 0.5f - 10.0f);
                break;
        case ZETL_T_FLOAT64:
                if (row % 97 == 5)
                        assert_true(isnan(zetl_batch_get_f64(b, c, r)));
                else
                        assert_true(zetl_batch_get_f64(b, c, r) == row * 1.25 - 3);
                break;
        case ZETL_T_DATE:
                assert_int_equal(zetl_batch_get_i32(b, c, r), row - 1000);
                break;
        case ZETL_T_TIME:
                assert_int_equal(zetl_batch_get_i64(b, c, r),
                                 (int64_t)row * 1000003 % 86400000000LL);
                break;
        case ZETL_T_TIMESTAMP:
                assert_int_equal(zetl_batch_get_i64(b, c, r), 1600000000000000LL + row * 1000LL);
                break;
        case ZETL_T_TIMESTAMPTZ:
                assert_int_equal(zetl_batch_get_i64(b, c, r), -86400000000LL * row);
                break;
        case ZETL_T_UUID:
                p = zetl_batch_get_uuid(b, c, r);
                for (int k = 0; k < 16; k++)
                        assert_int_equal(p[k], (uint8_t)(row * 16 + k));
                break;
        default: {
                size_t n = var_value(row, col, buf);
                p = zetl_batch_get_var(b, c, r, &len);
                assert_int_equal(len, n);
                assert_memory_equal(p, buf, n);
        }
        }
}

static struct pq_column *pq_cols(void)
{
        static struct pq_column cols[NSPEC];

        for (int i = 0; i < NSPEC; i++)
                cols[i] = (struct pq_column){
                        .field_id = specs[i].field_id,
                        .name = specs[i].name,
                        .type = specs[i].type,
                        .precision = specs[i].precision,
                        .scale = specs[i].scale,
                        .required = specs[i].required,
                        .batch_col = i,
                };
        return cols;
}

/* Write rows [0, nrows) with opts into a memfd; returns the fd. */
static int write_file(int nrows, const struct pq_options *o)
{
        struct zetl_schema *s = make_schema(specs, NSPEC);
        struct zetl_batch *b = zetl_batch_new(s, 0);
        struct pq_writer *w = NULL;
        struct zetl_err err;
        int fd = memfd_create("pq", 0);

        assert_true(fd >= 0);
        assert_non_null(b);
        for (int r = 0; r < nrows; r++)
                fill_row(b, r);
        assert_int_equal(pq_writer_open(fd, pq_cols(), NSPEC, o, &w, &err), 0);
        assert_int_equal(pq_writer_write(w, b, NULL, b->nrows, &err), 0);
        assert_int_equal(pq_writer_close(w, NULL, &err), 0);
        zetl_batch_free(b);
        zetl_schema_unref(s);
        return fd;
}

static uint8_t *slurp(int fd, size_t *len)
{
        off_t n = lseek(fd, 0, SEEK_END);
        uint8_t *p = malloc((size_t)n + 1);

        assert_non_null(p);
        assert_int_equal(pread(fd, p, (size_t)n, 0), n);
        *len = (size_t)n;
        return p;
}

/* Read every row of r bound to the full schema and check it. */
static void read_all(struct pq_reader *r, int nrows, size_t batch_bytes, uint32_t step)
{
        struct zetl_schema *s = make_schema(specs, NSPEC);
        int32_t ids[NSPEC];
        struct zetl_err err;
        int row = 0, n;

        for (int i = 0; i < NSPEC; i++)
                ids[i] = specs[i].field_id;
        assert_int_equal(pq_reader_bind(r, s, ids, &err), 0);
        for (;;) {
                struct zetl_batch *b = zetl_batch_new(s, batch_bytes);
                assert_non_null(b);
                n = pq_reader_read(r, b, step, &err);
                if (n < 0)
                        fail_msg("read: %s", err.msg);
                assert_int_equal((uint32_t)n, b->nrows);
                for (uint32_t k = 0; k < b->nrows; k++) {
                        assert_int_equal(b->ops[k], ZETL_OP_SNAPSHOT);
                        assert_int_equal(b->pos[k], (uint64_t)row);
                        for (int c = 0; c < NSPEC; c++)
                                check_cell(b, k, c, row, c);
                        row++;
                }
                zetl_batch_free(b);
                if (n == 0)
                        break;
        }
        assert_int_equal(row, nrows);
        zetl_schema_unref(s);
}

static void round_trip(enum pq_codec codec, bool no_dict, int nrows, size_t page, size_t rg)
{
        struct pq_options o = {
                .codec = codec,
                .no_dictionary = no_dict,
                .page_bytes = page,
                .row_group_bytes = rg,
        };
        struct pq_reader *r = NULL;
        struct zetl_err err;
        int fd = write_file(nrows, &o);
        size_t len;
        uint8_t *mem = slurp(fd, &len);

        if (pq_reader_open_fd(fd, NULL, &r, &err))
                fail_msg("open: %s", err.msg);
        assert_int_equal(pq_reader_num_rows(r), nrows);
        assert_int_equal(pq_reader_ncols(r), NSPEC);
        for (int i = 0; i < NSPEC; i++) {
                const struct pq_reader_col *c = pq_reader_col(r, i);
                enum zetl_type t = specs[i].type;
                assert_string_equal(c->name, specs[i].name);
                assert_int_equal(c->field_id, specs[i].field_id);
                assert_int_equal(c->required, specs[i].required);
                /* int16 is stored as INT32, json as a UTF-8 string. */
                assert_int_equal(c->type, t == ZETL_T_INT16  ? ZETL_T_INT32
                                          : t == ZETL_T_JSON ? ZETL_T_STRING
                                                             : t);
                if (t == ZETL_T_DECIMAL) {
                        assert_int_equal(c->precision, specs[i].precision);
                        assert_int_equal(c->scale, specs[i].scale);
                }
        }
        if (rg)
                assert_true(pq_reader_num_row_groups(r) > 1);
        read_all(r, nrows, 0, 1000);
        /* A second bind rewinds. */
        read_all(r, nrows, 0, 333);
        pq_reader_free(r);

        r = NULL;
        assert_int_equal(pq_reader_open_mem(mem, len, NULL, &r, &err), 0);
        read_all(r, nrows, 0, UINT32_MAX);
        pq_reader_free(r);
        free(mem);
        close(fd);
}

static void test_zstd_dict(void **state)
{
        (void)state;
        round_trip(PQ_CODEC_ZSTD, false, 5000, 4096, 64 * 1024);
}

static void test_zstd_plain(void **state)
{
        (void)state;
        round_trip(PQ_CODEC_ZSTD, true, 5000, 4096, 64 * 1024);
}

static void test_none_dict(void **state)
{
        (void)state;
        round_trip(PQ_CODEC_NONE, false, 5000, 2048, 32 * 1024);
}

static void test_none_plain(void **state)
{
        (void)state;
        round_trip(PQ_CODEC_NONE, true, 6000, 2048, 32 * 1024);
}

static void test_one_group_defaults(void **state)
{
        (void)state;
        round_trip(PQ_CODEC_ZSTD, false, 70000, 0, 0);
}

static void test_small_batches(void **state)
{
        struct pq_options o = { .codec = PQ_CODEC_NONE, .page_bytes = 4096 };
        struct pq_reader *r = NULL;
        struct zetl_err err;
        int fd = write_file(2000, &o);

        (void)state;
        assert_int_equal(pq_reader_open_fd(fd, NULL, &r, &err), 0);
        /* A batch ceiling far below the data: many short reads, no row lost. */
        read_all(r, 2000, 1 << 16, 100000);
        pq_reader_free(r);
        close(fd);
}

static void test_bind_by_field_id(void **state)
{
        /* Reordered, renamed, promoted, and a column the file does not have. */
        static const struct spec out[] = {
                { "renamed_text", ZETL_T_STRING, 0, 0, 11, false },
                { "id", ZETL_T_INT64, 0, 0, 1, true },
                { "i32_as_long", ZETL_T_INT64, 0, 0, 4, false },
                { "f32_as_double", ZETL_T_FLOAT64, 0, 0, 5, false },
                { "d9_wider", ZETL_T_DECIMAL, 20, 2, 7, false },
                { "added", ZETL_T_STRING, 0, 0, 99, false },
                { "doc_as_string", ZETL_T_STRING, 0, 0, 18, false },
        };
        static const int from[] = { 10, 0, 3, 4, 6, -1, 17 };
        struct pq_options o = { .codec = PQ_CODEC_ZSTD, .page_bytes = 4096 };
        struct zetl_schema *s = make_schema(out, 7);
        struct pq_reader *r = NULL;
        struct zetl_batch *b = zetl_batch_new(s, 0);
        struct zetl_err err;
        int32_t ids[7];
        int fd = write_file(1500, &o), n;

        (void)state;
        for (int i = 0; i < 7; i++)
                ids[i] = out[i].field_id;
        assert_int_equal(pq_reader_open_fd(fd, NULL, &r, &err), 0);
        assert_int_equal(pq_reader_bind(r, s, ids, &err), 0);
        n = pq_reader_read(r, b, UINT32_MAX, &err);
        assert_int_equal(n, 1500);
        for (uint32_t k = 0; k < b->nrows; k++)
                for (int c = 0; c < 7; c++) {
                        if (from[c] < 0)
                                assert_true(zetl_batch_is_null(b, c, k));
                        else
                                check_cell(b, k, c, (int)k, from[c]);
                }
        assert_int_equal(pq_reader_read(r, b, 10, &err), 0);
        zetl_batch_free(b);
        zetl_schema_unref(s);
        pq_reader_free(r);
        close(fd);
}

static void test_bind_refuses_narrowing(void **state)
{
        static const struct spec bad[][1] = {
                { { "x", ZETL_T_INT32, 0, 0, 1, true } },       /* long as int */
                { { "x", ZETL_T_FLOAT32, 0, 0, 6, false } },    /* double as float */
                { { "x", ZETL_T_DECIMAL, 9, 3, 7, false } },    /* another scale */
                { { "x", ZETL_T_DECIMAL, 8, 2, 7, false } },    /* narrower precision */
                { { "x", ZETL_T_UUID, 0, 0, 10, false } },      /* string as uuid */
                { { "x", ZETL_T_BYTES, 0, 0, 10, false } },     /* string as bytes */
                { { "x", ZETL_T_TIMESTAMP, 0, 0, 16, false } }, /* tstz as ts */
        };
        struct pq_options o = { .codec = PQ_CODEC_NONE };
        struct pq_reader *r = NULL;
        struct zetl_err err;
        int fd = write_file(10, &o);

        (void)state;
        assert_int_equal(pq_reader_open_fd(fd, NULL, &r, &err), 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct zetl_schema *s = make_schema(bad[i], 1);
                int32_t id = bad[i][0].field_id;
                assert_int_equal(pq_reader_bind(r, s, &id, &err), ZETL_EPROTO);
                zetl_schema_unref(s);
        }
        pq_reader_free(r);
        close(fd);
}

static void test_empty_file(void **state)
{
        struct pq_options o = { .codec = PQ_CODEC_ZSTD };
        struct pq_reader *r = NULL;
        struct zetl_err err;
        int fd = write_file(0, &o);

        (void)state;
        assert_int_equal(pq_reader_open_fd(fd, NULL, &r, &err), 0);
        assert_int_equal(pq_reader_num_rows(r), 0);
        read_all(r, 0, 0, 100);
        pq_reader_free(r);
        close(fd);
}

/* Open and read everything; the result code. */
static int try_read(const uint8_t *p, size_t len)
{
        struct pq_reader_opts ro = { .max_page_bytes = 1 << 20 };
        struct zetl_schema *s = make_schema(specs, NSPEC);
        struct pq_reader *r = NULL;
        struct zetl_err err;
        int32_t ids[NSPEC];
        int rc;

        for (int i = 0; i < NSPEC; i++)
                ids[i] = specs[i].field_id;
        rc = pq_reader_open_mem(p, len, &ro, &r, &err);
        if (rc == 0)
                rc = pq_reader_bind(r, s, ids, &err);
        struct zetl_batch *b = zetl_batch_new(s, 0);
        while (rc == 0) {
                zetl_batch_reset(b);
                rc = pq_reader_read(r, b, UINT32_MAX, &err);
                if (rc == 0)
                        break;
                if (rc > 0)
                        rc = 0;
        }
        zetl_batch_free(b);
        pq_reader_free(r);
        zetl_schema_unref(s);
        return rc;
}

static void test_malformed(void **state)
{
        struct pq_options o = { .codec = PQ_CODEC_NONE, .page_bytes = 512 };
        int fd = write_file(60, &o);
        size_t len;
        uint8_t *mem = slurp(fd, &len);
        uint8_t *copy = malloc(len);
        uint32_t flen;

        (void)state;
        assert_int_equal(try_read(mem, len), 0);
        /* Truncated anywhere: no trailing magic, or a footer that does not fit. */
        for (size_t n = 0; n < len; n += 7)
                assert_int_equal(try_read(mem, n), ZETL_EPROTO);
        memcpy(copy, mem, len);
        copy[0] = 'Q';
        assert_int_equal(try_read(copy, len), ZETL_EPROTO);
        memcpy(copy, mem, len);
        copy[len - 1] = '2';
        assert_int_equal(try_read(copy, len), ZETL_EPROTO);
        /* A footer length past the start of the file. */
        memcpy(copy, mem, len);
        flen = (uint32_t)len;
        memcpy(copy + len - 8, &flen, 4);
        assert_int_equal(try_read(copy, len), ZETL_EPROTO);
        /* Every single-byte corruption: refused or read, never anything else
         * (ASan and UBSan watch the reads). */
        for (size_t i = 0; i < len; i++) {
                static const uint8_t x[] = { 0x01, 0x80, 0xff };
                for (size_t k = 0; k < sizeof(x); k++) {
                        int rc;
                        memcpy(copy, mem, len);
                        copy[i] ^= x[k];
                        rc = try_read(copy, len);
                        if (rc != 0 && rc != ZETL_EPROTO)
                                fail_msg("byte %zu ^ 0x%02x: rc %d", i, x[k], rc);
                }
        }
        free(copy);
        free(mem);
        close(fd);
}

static void test_corrupt_zstd(void **state)
{
        struct pq_options o = { .codec = PQ_CODEC_ZSTD, .page_bytes = 1024 };
        int fd = write_file(300, &o);
        size_t len;
        uint8_t *mem = slurp(fd, &len);
        uint8_t *copy = malloc(len);

        (void)state;
        for (size_t i = 4; i < len; i += 3) {
                int rc;
                memcpy(copy, mem, len);
                copy[i] ^= 0x5a;
                rc = try_read(copy, len);
                if (rc != 0 && rc != ZETL_EPROTO)
                        fail_msg("byte %zu: rc %d", i, rc);
        }
        free(copy);
        free(mem);
        close(fd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_zstd_dict),
                cmocka_unit_test(test_zstd_plain),
                cmocka_unit_test(test_none_dict),
                cmocka_unit_test(test_none_plain),
                cmocka_unit_test(test_one_group_defaults),
                cmocka_unit_test(test_small_batches),
                cmocka_unit_test(test_bind_by_field_id),
                cmocka_unit_test(test_bind_refuses_narrowing),
                cmocka_unit_test(test_empty_file),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_corrupt_zstd),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
