/*
 * A driver of zetl's Parquet writer for scripts/bench-parquet.sh: writes N
 * rows of a typical narrow table (int64 key, text, numeric(12,2), timestamptz)
 * built in batches of 64Ki rows, as the Iceberg sink would, and prints the
 * time spent in the writer alone (batch building excluded) and its rate.
 *
 *   pq_write_fixture OUT.parquet ROWS [ZSTD_LEVEL]
 *
 * Output (one line): "rows N bytes B write_s S rows_per_s R".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../connectors/iceberg/parquet.h"
#include "zetl/batch.h"
#include "zetl/schema.h"

#define BATCH_ROWS 65536

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct zetl_schema *make_schema(void)
{
        static const struct zetl_column cols[] = {
                { "id", ZETL_T_INT64, 0, 0, false, 1, 0, NULL },
                { "name", ZETL_T_STRING, 0, 0, true, 0, 0, NULL },
                { "amount", ZETL_T_DECIMAL, 12, 2, true, 0, 0, NULL },
                { "created", ZETL_T_TIMESTAMPTZ, 6, 0, true, 0, 0, NULL },
        };
        struct zetl_table_id id;
        struct zetl_schema *s;
        int i;

        if (zetl_table_id_set(&id, "bench", "public", "t"))
                return NULL;
        s = zetl_schema_new(&id, 4);
        for (i = 0; s && i < 4; i++)
                if (zetl_schema_set_col(s, i, &cols[i]))
                        return NULL;
        if (!s || zetl_schema_finish(s, NULL))
                return NULL;
        return s;
}

int main(int argc, char **argv)
{
        static const struct pq_column cols[] = {
                { 1, "id", ZETL_T_INT64, 0, 0, true, 0 },
                { 2, "name", ZETL_T_STRING, 0, 0, false, 1 },
                { 3, "amount", ZETL_T_DECIMAL, 12, 2, false, 2 },
                { 4, "created", ZETL_T_TIMESTAMPTZ, 0, 0, false, 3 },
        };
        struct pq_options o = { 0 };
        struct zetl_err err = { 0 };
        struct pq_writer *w = NULL;
        struct pq_file_metrics m;
        struct zetl_schema *s;
        struct zetl_batch *b;
        long rows, done = 0;
        double spent = 0, t0;
        int fd, rc;

        if (argc < 3) {
                fprintf(stderr, "usage: %s OUT.parquet ROWS [ZSTD_LEVEL]\n", argv[0]);
                return 2;
        }
        rows = atol(argv[2]);
        if (argc > 3)
                o.zstd_level = atoi(argv[3]);
        s = make_schema();
        b = s ? zetl_batch_new(s, 0) : NULL;
        fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (!b || fd < 0) {
                fprintf(stderr, "setup failed\n");
                return 1;
        }
        t0 = now();
        rc = pq_writer_open(fd, cols, 4, &o, &w, &err);
        spent += now() - t0;
        while (rc == 0 && done < rows) {
                long n = rows - done < BATCH_ROWS ? rows - done : BATCH_ROWS, i;
                zetl_batch_reset(b);
                for (i = 0; i < n && rc == 0; i++) {
                        long r = done + i;
                        char name[32], amount[32];
                        uint64_t x = rnd();
                        int len;
                        rc = zetl_batch_row_begin(b, ZETL_OP_SNAPSHOT, (uint64_t)r, &err);
                        if (rc)
                                break;
                        zetl_batch_set_i64(b, 0, r + 1);
                        len = snprintf(name, sizeof(name), "customer %05u", (unsigned)(x % 100000));
                        rc = zetl_batch_set_var(b, 1, name, (size_t)len, &err);
                        len = snprintf(amount, sizeof(amount), "%llu.%02u",
                                       (unsigned long long)(x >> 20) % 1000000,
                                       (unsigned)(x >> 50) % 100);
                        if (rc == 0)
                                rc = zetl_batch_set_var(b, 2, amount, (size_t)len, &err);
                        zetl_batch_set_i64(
                                b, 3, INT64_C(1700000000000000) + r * 1000 + (int64_t)(x % 997));
                        zetl_batch_row_end(b);
                }
                if (rc)
                        break;
                t0 = now();
                rc = pq_writer_write(w, b, NULL, (uint32_t)n, &err);
                spent += now() - t0;
                done += n;
        }
        if (rc == 0) {
                t0 = now();
                rc = pq_writer_close(w, &m, &err);
                spent += now() - t0;
                w = NULL;
        }
        if (rc) {
                fprintf(stderr, "pq_write_fixture: %s\n", err.msg);
                pq_writer_free(w);
                return 1;
        }
        printf("rows %ld bytes %llu write_s %.3f rows_per_s %.0f\n", done,
               (unsigned long long)m.file_size, spent, (double)done / spent);
        pq_file_metrics_free(&m);
        close(fd);
        zetl_batch_free(b);
        zetl_schema_unref(s);
        return 0;
}
