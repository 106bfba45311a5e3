/*
 * libFuzzer target for the Parquet reader (connectors/iceberg/pq_reader.h):
 * the input is a whole file, read from memory.
 *
 * A file the reader opens is bound to its own columns (their natural zetl
 * types, by field id; columns without a usable id read NULL) and read to the
 * end in small batches. The reader must either refuse the input with
 * ZETL_EPROTO or hand back rows that are valid batch values: strings valid
 * UTF-8, decimals canonical text that parses back within the column's
 * precision and scale, never more rows than the footer promised, and
 * exactly that many when the whole file was read. A second bind must give
 * the same first batch again (binding rewinds).
 *
 * Seeds: ZETL_FUZZ_WRITE_SEEDS=<dir> writes files made by zetl's own writer
 * (every type, NULLs, dictionary and PLAIN, both codecs, several pages and
 * row groups) into <dir> and exits; tests/fuzz/corpus/fuzz_pq_reader was
 * made that way.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "../../connectors/iceberg/parquet.h"
#include "../../connectors/iceberg/pq_reader.h"
#include "zetl/batch.h"
#include "zetl/schema.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rows read per input at most, so a footer promising billions stays fast. */
#define MAX_ROWS 200000

/* A schema of the file's own columns; ids[j] their field ids or -1. */
static struct zetl_schema *own_schema(const struct pq_reader *r, int32_t *ids)
{
        struct zetl_table_id id;
        struct zetl_schema *s;
        int n = pq_reader_ncols(r), k = 0;

        CHECK(zetl_table_id_set(&id, "db", "", "t") == 0);
        s = zetl_schema_new(&id, n);
        CHECK(s != NULL);
        for (int i = 0; i < n; i++) {
                const struct pq_reader_col *c = pq_reader_col(r, i);
                char name[16];
                struct zetl_column zc = { .name = name,
                                          .type = c->type,
                                          .precision = c->precision,
                                          .scale = c->scale,
                                          .nullable = true };
                snprintf(name, sizeof(name), "c%d", i);
                CHECK(zetl_schema_set_col(s, i, &zc) == 0);
                ids[i] = c->field_id;
                for (int j = 0; j < i; j++)
                        if (ids[j] == ids[i])
                                ids[i] = -1;
                k += ids[i] >= 0;
        }
        CHECK(zetl_schema_finish(s, NULL) == 0);
        (void)k;
        return s;
}

static void check_batch(const struct zetl_batch *b)
{
        for (int c = 0; c < b->schema->ncols; c++) {
                const struct zetl_column *col = &b->schema->cols[c];
                for (uint32_t r = 0; r < b->nrows; r++) {
                        size_t len;
                        const uint8_t *p;
                        if (zetl_batch_is_null(b, c, r))
                                continue;
                        if (col->type == ZETL_T_STRING) {
                                p = zetl_batch_get_var(b, c, r, &len);
                                CHECK(valid_utf8(p, len));
                        } else if (col->type == ZETL_T_DECIMAL) {
                                __int128 v;
                                struct zetl_err err;
                                p = zetl_batch_get_var(b, c, r, &len);
                                CHECK(pq_decimal_parse((const char *)p, len, col->precision,
                                                       col->scale, &v, &err) == 0);
                                /* canonical: exactly `scale` fractional digits */
                                if (col->scale > 0)
                                        CHECK(len > (size_t)col->scale &&
                                              p[len - (size_t)col->scale - 1] == '.');
                        }
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct pq_reader_opts o = { .max_page_bytes = 8 << 20, .max_footer_bytes = 1 << 20 };
        struct pq_reader *r = NULL;
        struct zetl_schema *s;
        struct zetl_batch *b, *first;
        struct zetl_err err;
        int32_t *ids;
        int64_t rows = 0;
        uint32_t first_rows;
        int rc, n, first_rc;

        rc = pq_reader_open_mem(data, size, &o, &r, &err);
        if (rc) {
                CHECK(rc == ZETL_EPROTO);
                return 0;
        }
        ids = calloc((size_t)pq_reader_ncols(r) + 1, sizeof(*ids));
        CHECK(ids != NULL);
        s = own_schema(r, ids);
        CHECK(pq_reader_bind(r, s, ids, &err) == 0);
        b = zetl_batch_new(s, 16 << 20);
        first = zetl_batch_new(s, 16 << 20);
        CHECK(b && first);
        rc = first_rc = pq_reader_read(r, first, 256, &err);
        first_rows = first->nrows;
        while (rc > 0 && rows < MAX_ROWS) {
                rows += rc;
                zetl_batch_reset(b);
                rc = pq_reader_read(r, b, 1024, &err);
                check_batch(b);
        }
        check_batch(first);
        CHECK(rc >= 0 || rc == ZETL_EPROTO || rc == ZETL_ELIMIT);
        CHECK(rows <= pq_reader_num_rows(r) || pq_reader_num_rows(r) < 0);
        if (rc == 0)
                CHECK(rows == pq_reader_num_rows(r));
        /* Binding again rewinds: the same first rows. */
        CHECK(pq_reader_bind(r, s, ids, &err) == 0);
        zetl_batch_reset(b);
        n = pq_reader_read(r, b, 256, &err);
        /* (An error after some rows leaves those rows in the batch.) */
        CHECK(n == first_rc && b->nrows == first_rows);
        if (first_rows > 0) {
                for (int c = 0; c < s->ncols; c++)
                        for (uint32_t k = 0; k < first_rows; k++) {
                                CHECK(zetl_batch_is_null(b, c, k) ==
                                      zetl_batch_is_null(first, c, k));
                                if (zetl_type_storage(s->cols[c].type) == ZETL_ST_VAR &&
                                    !zetl_batch_is_null(b, c, k)) {
                                        size_t la, lb;
                                        const uint8_t *pa = zetl_batch_get_var(b, c, k, &la);
                                        const uint8_t *pb = zetl_batch_get_var(first, c, k, &lb);
                                        CHECK(la == lb && (la == 0 || memcmp(pa, pb, la) == 0));
                                }
                        }
        }
        zetl_batch_free(b);
        zetl_batch_free(first);
        zetl_schema_unref(s);
        free(ids);
        pq_reader_free(r);
        return 0;
}

/* ---- seeds ------------------------------------------------------------------ */

static void seed(const char *dir, int k, int nrows, const struct pq_options *o)
{
        static const struct {
                const char *name;
                enum zetl_type type;
                int p, s;
        } cols[] = {
                { "id", ZETL_T_INT64, 0, 0 },     { "b", ZETL_T_BOOL, 0, 0 },
                { "i", ZETL_T_INT32, 0, 0 },      { "f", ZETL_T_FLOAT32, 0, 0 },
                { "d", ZETL_T_FLOAT64, 0, 0 },    { "n9", ZETL_T_DECIMAL, 9, 2 },
                { "n18", ZETL_T_DECIMAL, 18, 4 }, { "n38", ZETL_T_DECIMAL, 38, 6 },
                { "s", ZETL_T_STRING, 0, 0 },     { "x", ZETL_T_BYTES, 0, 0 },
                { "day", ZETL_T_DATE, 0, 0 },     { "t", ZETL_T_TIME, 0, 0 },
                { "ts", ZETL_T_TIMESTAMP, 0, 0 }, { "tz", ZETL_T_TIMESTAMPTZ, 0, 0 },
                { "u", ZETL_T_UUID, 0, 0 },
        };
        enum { N = sizeof(cols) / sizeof(cols[0]) };
        struct pq_column pc[N];
        struct zetl_table_id id;
        struct zetl_schema *s;
        struct zetl_batch *b;
        struct pq_writer *w;
        struct zetl_err err;
        char path[512], buf[64];
        int fd;

        CHECK(zetl_table_id_set(&id, "db", "", "t") == 0);
        s = zetl_schema_new(&id, N);
        for (int i = 0; i < N; i++) {
                struct zetl_column c = { .name = (char *)cols[i].name,
                                         .type = cols[i].type,
                                         .precision = cols[i].p,
                                         .scale = cols[i].s,
                                         .nullable = i > 0,
                                         .key_pos = i == 0 };
                CHECK(zetl_schema_set_col(s, i, &c) == 0);
                pc[i] = (struct pq_column){ .field_id = i + 1,
                                            .name = cols[i].name,
                                            .type = cols[i].type,
                                            .precision = cols[i].p,
                                            .scale = cols[i].s,
                                            .required = i == 0,
                                            .batch_col = i };
        }
        CHECK(zetl_schema_finish(s, NULL) == 0);
        b = zetl_batch_new(s, 0);
        for (int r = 0; r < nrows; r++) {
                uint8_t u[16];
                CHECK(zetl_batch_row_begin(b, ZETL_OP_SNAPSHOT, 0, &err) == 0);
                zetl_batch_set_i64(b, 0, r * 7919LL);
                for (int i = 1; i < N; i++) {
                        if ((r + i) % 5 == 0)
                                continue;
                        switch (cols[i].type) {
                        case ZETL_T_BOOL:
                                zetl_batch_set_bool(b, i, r & 1);
                                break;
                        case ZETL_T_INT32:
                        case ZETL_T_DATE:
                                zetl_batch_set_i32(b, i, r % 7 - 3);
                                break;
                        case ZETL_T_FLOAT32:
                                zetl_batch_set_f32(b, i, (float)r / 3);
                                break;
                        case ZETL_T_FLOAT64:
                                zetl_batch_set_f64(b, i, r * 1.5);
                                break;
                        case ZETL_T_TIME:
                        case ZETL_T_TIMESTAMP:
                        case ZETL_T_TIMESTAMPTZ:
                                zetl_batch_set_i64(b, i, r * 1000003LL);
                                break;
                        case ZETL_T_UUID:
                                memset(u, r, sizeof(u));
                                zetl_batch_set_uuid(b, i, u);
                                break;
                        case ZETL_T_DECIMAL:
                                snprintf(buf, sizeof(buf), "%d.%0*d", r % 100 - 50, cols[i].s,
                                         r % 10);
                                CHECK(zetl_batch_set_var(b, i, buf, strlen(buf), &err) == 0);
                                break;
                        default:
                                snprintf(buf, sizeof(buf), "v%d é", r % 4);
                                CHECK(zetl_batch_set_var(b, i, buf, strlen(buf), &err) == 0);
                        }
                }
                zetl_batch_row_end(b);
        }
        snprintf(path, sizeof(path), "%s/pq_%02d", dir, k);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        CHECK(fd >= 0);
        CHECK(pq_writer_open(fd, pc, N, o, &w, &err) == 0);
        CHECK(pq_writer_write(w, b, NULL, b->nrows, &err) == 0);
        CHECK(pq_writer_close(w, NULL, &err) == 0);
        close(fd);
        zetl_batch_free(b);
        zetl_schema_unref(s);
}

static void write_seeds(const char *dir)
{
        struct pq_options o[] = {
                { .codec = PQ_CODEC_NONE },
                { .codec = PQ_CODEC_ZSTD },
                { .codec = PQ_CODEC_NONE, .no_dictionary = true },
                { .codec = PQ_CODEC_NONE, .page_bytes = 256 },
                { .codec = PQ_CODEC_ZSTD, .page_bytes = 512, .row_group_bytes = 2048 },
        };
        static const int rows[] = { 3, 40, 25, 60, 300 };

        for (int k = 0; k < 5; k++)
                seed(dir, k, rows[k], &o[k]);
        seed(dir, 5, 0, &o[0]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *dir = getenv("ZETL_FUZZ_WRITE_SEEDS");

        (void)argc;
        (void)argv;
        if (dir) {
                write_seeds(dir);
                exit(0);
        }
        return 0;
}
