/*
 * zetl's Parquet writer, for the Iceberg sink's data files and equality
 * delete files. Flat schemas only (every column a top-level primitive), data
 * pages v1, PLAIN or dictionary encoding chosen per column chunk, ZSTD or no
 * compression, statistics per chunk, and the per-file metrics an Iceberg
 * manifest entry needs (column sizes, value/null/NaN counts, lower and upper
 * bounds in Iceberg's single-value binary form, split offsets).
 *
 * Type mapping (Iceberg spec, "Parquet" appendix):
 *   bool -> BOOLEAN; int16, int32 -> INT32; int64 -> INT64; float32 -> FLOAT;
 *   float64 -> DOUBLE; decimal(p,s) -> INT32 (p <= 9), INT64 (p <= 18) or
 *   FIXED_LEN_BYTE_ARRAY of the fewest bytes holding p digits, DECIMAL(p,s);
 *   string, json -> BYTE_ARRAY STRING (UTF8); bytes -> BYTE_ARRAY;
 *   date -> INT32 DATE; time -> INT64 TIME(MICROS, not UTC);
 *   timestamp -> INT64 TIMESTAMP(MICROS, not UTC); timestamptz -> INT64
 *   TIMESTAMP(MICROS, UTC); uuid -> FIXED_LEN_BYTE_ARRAY(16) UUID.
 * Decimals arrive as text and are rescaled to the column's scale exactly: a
 * value with more non-zero fractional digits than the scale, or more digits
 * than the precision, or NaN/Infinity, is an error (ZETL_EINVAL), never
 * rounded. A decimal column with precision 0 (unconstrained at the source) is
 * written as decimal(38, scale); the scale must then be known (>= 0).
 *
 * Memory: one row group is buffered, as compressed pages per column chunk,
 * plus each column's page being built and its dictionary; raw rows are never
 * kept. A row group is written out when that buffer reaches row_group_bytes.
 *
 * Durability: the writer writes to a file descriptor the caller opened (at
 * offset 0, typically a temporary name) and never closes it. With
 * opts.fsync, pq_writer_close fsyncs it; the caller renames or links it into
 * place.
 */
#ifndef ZETL_PARQUET_H
#define ZETL_PARQUET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/batch.h"
#include "zetl/err.h"
#include "zetl/types.h"

/* One output column. */
struct pq_column {
        int32_t field_id;    /* Iceberg field id */
        const char *name;    /* copied */
        enum zetl_type type; /* zetl type; the Parquet type follows from it */
        int32_t precision;   /* decimal only: 1..38, or 0 = 38 */
        int32_t scale;       /* decimal only: 0..precision */
        bool required;       /* Iceberg required (e.g. key columns): REQUIRED, nulls refused */
        int batch_col;       /* index of the column in the batches written, -1: always NULL */
};

enum pq_codec {
        PQ_CODEC_ZSTD = 0, /* the default */
        PQ_CODEC_NONE,
};

struct pq_options {
        enum pq_codec codec;
        int zstd_level;             /* 0: 3 */
        size_t row_group_bytes;     /* 0: 128 MiB (compressed bytes buffered per row group) */
        size_t page_bytes;          /* 0: 1 MiB (encoded bytes per data page, before compression) */
        size_t dict_max_bytes;      /* 0: 1 MiB (largest dictionary page); SIZE_MAX never */
        bool no_dictionary;         /* PLAIN only */
        const char *iceberg_schema; /* JSON text for the footer's "iceberg.schema", or NULL */
        bool fsync;                 /* fsync the fd in pq_writer_close */
};

/* Iceberg bounds are at most 16 characters of UTF-8 (4 bytes each). */
#define PQ_BOUND_MAX 64

/* Metrics of one column over the whole file, for the manifest entry. */
struct pq_col_metrics {
        int32_t field_id;
        int64_t column_size; /* compressed bytes of its chunks, page headers included */
        int64_t value_count; /* values including nulls (= the file's record count) */
        int64_t null_count;
        int64_t nan_count; /* float32/float64 only; -1 for other types */
        bool has_lower, has_upper;
        uint8_t lower_len, upper_len;
        uint8_t lower[PQ_BOUND_MAX]; /* Iceberg single-value binary form */
        uint8_t upper[PQ_BOUND_MAX];
};

struct pq_file_metrics {
        uint64_t file_size;
        int64_t record_count;
        int ncols; /* as given to pq_writer_open, same order */
        struct pq_col_metrics *cols;
        int nsplits;
        int64_t *split_offsets; /* file offset of each row group */
};

struct pq_writer;

/* Start a file on fd (writes the leading magic). cols (ncols >= 1) and opts
 * are copied; opts may be NULL for defaults. Returns 0 or ZETL_EINVAL (bad
 * column: unknown type, bad decimal precision/scale, required column without
 * a batch column), ZETL_ENOMEM, ZETL_EIO; *out is set only on success. */
int pq_writer_open(int fd, const struct pq_column *cols, int ncols, const struct pq_options *opts,
                   struct pq_writer **out, struct zetl_err *err);

/* Append rows rows[0..n) of b (rows NULL: rows 0..n-1). Each output column
 * reads column batch_col of b, whose type must be the column's (or a
 * narrower one of the same kind: int16 -> int32/int64, int32 -> int64,
 * float32 -> float64; string and json interchange). Errors (ZETL_EINVAL:
 * NULL in a required column, an "unchanged" cell, a decimal that does not
 * fit; ZETL_ENOMEM; ZETL_ELIMIT; ZETL_EIO) leave the writer failed: free it
 * and discard the file. */
int pq_writer_write(struct pq_writer *w, const struct zetl_batch *b, const uint32_t *rows,
                    uint32_t n, struct zetl_err *err);

/* Rows written so far, and bytes: written to the file plus buffered (compressed
 * pages, plus an estimate of the pages being built), for rolling files by size. */
int64_t pq_writer_rows(const struct pq_writer *w);
uint64_t pq_writer_bytes(const struct pq_writer *w);

/* Write the last row group and the footer, fsync if asked, and fill *metrics
 * (free with pq_file_metrics_free; may be NULL). The fd stays open. The
 * writer is freed whatever the outcome. Returns 0, ZETL_EIO, ZETL_ENOMEM or
 * the writer's earlier error. */
int pq_writer_close(struct pq_writer *w, struct pq_file_metrics *metrics, struct zetl_err *err);

/* Drop a writer without finishing the file (the caller discards it). NULL is fine. */
void pq_writer_free(struct pq_writer *w);

void pq_file_metrics_free(struct pq_file_metrics *m);

/* Decimal text -> unscaled integer at scale `scale`, checked against
 * precision (1..38). Exposed for tests and for the sink's partition values.
 * Returns 0 or ZETL_EINVAL with a message. */
int pq_decimal_parse(const char *s, size_t len, int precision, int scale, __int128 *out,
                     struct zetl_err *err);

#endif
