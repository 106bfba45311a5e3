/*
 * A Parquet reader for the files zetl's own writer makes (parquet.h): the
 * data and equality-delete files of zetl's Iceberg tables, read back by
 * compaction (ice_compact.h). It reads exactly the subset the writer
 * produces and refuses everything else with ZETL_EPROTO:
 *
 *   - a flat schema (a root and primitive leaves, REQUIRED or OPTIONAL,
 *     never REPEATED), physical types BOOLEAN, INT32, INT64, FLOAT, DOUBLE,
 *     BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY with the logical types of the
 *     Iceberg mapping (STRING, DECIMAL, DATE, TIME and TIMESTAMP in
 *     microseconds, UUID);
 *   - column chunks in the file itself, codec UNCOMPRESSED or ZSTD;
 *   - an optional PLAIN dictionary page first, then data pages v1 with
 *     RLE/bit-packed definition levels (bit width 1) and PLAIN or
 *     RLE_DICTIONARY values.
 *
 * The input is untrusted (it is fuzzed: tests/fuzz/fuzz_pq_reader.c): every
 * offset, length and count is checked against the file and against each
 * other (page values add up to the chunk's, chunks to the row group's, row
 * groups to the file's), and a decimal must fit its precision, a string be
 * valid UTF-8, a dictionary index be inside its dictionary.
 *
 * Columns are matched by Iceberg field id, not name or position, so a
 * renamed or reordered column still maps; a field id the file does not have
 * reads as NULL (a column added after the file was written). A file column
 * may be read as a wider type under Iceberg's promotion rules (int -> long,
 * float -> double, decimal(P,S) -> decimal(P',S) with P' >= P).
 *
 * Memory: the footer, then per row group only the chunks of the bound
 * columns (compressed, as stored) plus one decompressed page and the
 * dictionary per column; rows go straight into the caller's batch.
 */
#ifndef ZETL_PQ_READER_H
#define ZETL_PQ_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/batch.h"
#include "zetl/err.h"
#include "zetl/schema.h"
#include "zetl/types.h"

/* Ceilings; 0 means the default. */
struct pq_reader_opts {
        size_t max_page_bytes;   /* largest page body after decompression: 0 = 1 GiB + 1 MiB */
        size_t max_footer_bytes; /* largest FileMetaData: 0 = 64 MiB */
};

/* One leaf column of the file, as its footer describes it. */
struct pq_reader_col {
        int32_t field_id;    /* Iceberg field id, -1 when the file has none */
        const char *name;    /* owned by the reader */
        enum zetl_type type; /* the zetl type it reads as without promotion */
        int32_t precision;   /* decimal only */
        int32_t scale;       /* decimal only */
        bool required;
};

struct pq_reader;

/* Read the footer of the file open on fd (borrowed: never closed; read with
 * pread, so the offset does not matter) or of len bytes at data (borrowed:
 * they must outlive the reader). opts may be NULL. Returns 0 and *out (free
 * with pq_reader_free), ZETL_EPROTO (not a Parquet file our writer could
 * have made; the message says what is wrong), ZETL_EIO or ZETL_ENOMEM. */
int pq_reader_open_fd(int fd, const struct pq_reader_opts *opts, struct pq_reader **out,
                      struct zetl_err *err);
int pq_reader_open_mem(const uint8_t *data, size_t len, const struct pq_reader_opts *opts,
                       struct pq_reader **out, struct zetl_err *err);
void pq_reader_free(struct pq_reader *r);

/* Rows, row groups and columns of the file. */
int64_t pq_reader_num_rows(const struct pq_reader *r);
int pq_reader_num_row_groups(const struct pq_reader *r);
int pq_reader_ncols(const struct pq_reader *r);
/* Column i (0 <= i < ncols), borrowed. */
const struct pq_reader_col *pq_reader_col(const struct pq_reader *r, int i);
/* The value of a footer key_value_metadata entry ("iceberg.schema"), NUL-
 * terminated and borrowed, or NULL if absent. */
const char *pq_reader_meta(const struct pq_reader *r, const char *key);

/* Choose the output: column j of schema s (the reader takes a reference)
 * reads the file column whose field id is field_ids[j]; -1 or an id
 * the file lacks reads NULL. Rewinds to the first row. Returns 0, or
 * ZETL_EPROTO when a file column cannot be read as the output type (e.g.
 * long as int, decimal of another scale, string as uuid), ZETL_EINVAL (two
 * output columns with one field id) or ZETL_ENOMEM. */
int pq_reader_bind(struct pq_reader *r, const struct zetl_schema *s, const int32_t *field_ids,
                   struct zetl_err *err);

/* Append up to max_rows of the next rows to b (a batch of the bound schema),
 * each with op ZETL_OP_SNAPSHOT and pos = its row number in the file.
 * Returns the number of rows appended (> 0), 0 at the end of the file, or a
 * negative error: ZETL_EPROTO (malformed data, the message names the column
 * and row group), ZETL_EIO, ZETL_ENOMEM, ZETL_ELIMIT (one row alone does not
 * fit in an empty batch). When b fills up (its max_bytes) the rows that fit
 * are returned and the next call goes on from the first row left out.
 * After an error the reader is failed: every later call returns the error. */
int pq_reader_read(struct pq_reader *r, struct zetl_batch *b, uint32_t max_rows,
                   struct zetl_err *err);

#endif
