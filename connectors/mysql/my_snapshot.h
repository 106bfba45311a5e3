/*
 * The initial snapshot of the MySQL/MariaDB source: a table described from
 * information_schema exactly as its binlog TABLE_MAP describes it, and its
 * rows read with bounded memory into batches whose cells are byte for byte
 * the ones my_rows would decode from the binlog for the same rows. The
 * snapshot and the stream must agree, or a row read by both (the handoff)
 * would flap in the target.
 *
 * How the agreement is kept:
 *  - Types: my_snapshot_describe turns information_schema.COLUMNS into the
 *    TABLE_MAP event MariaDB would write with binlog_row_metadata=FULL (type
 *    bytes, per-type metadata, nullability, names, geometry types, primary
 *    key), parses it with my_table_map_parse, then adds signedness,
 *    collations and ENUM/SET labels with my_table_map_set_col. The schema is
 *    then my_column_map's, column by column: there is no second mapping to
 *    drift from the first.
 *  - Values: each column is selected in a form whose text has one exact
 *    reading (my_snapshot_table, below), and converted with the decoder's
 *    rules: zero and invalid dates and the zero TIMESTAMP become NULL, a
 *    TIME outside a day is refused, BINARY(n) keeps its padding, BIT(64) is
 *    its 8 bytes, GEOMETRY loses its SRID, BIGINT UNSIGNED is decimal text.
 *
 * Needs a connection made by my_conn_open (utf8mb4 results, time zone
 * '+00:00'), normally inside my_snapshot_start's transaction.
 */
#ifndef ZETL_MY_SNAPSHOT_H
#define ZETL_MY_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "my_conn.h"
#include "my_rows.h"
#include "zetl/batch.h"
#include "zetl/err.h"
#include "zetl/schema.h"

/*
 * Describe db.table from information_schema into *tm as a TABLE_MAP of a
 * server of that flavor with binlog_row_metadata=FULL would: column types and
 * metadata, nullability, names, signedness, collations, ENUM/SET labels (in
 * UTF-8, from COLUMN_TYPE), geometry types and the primary key (from
 * KEY_COLUMN_USAGE, in key order). Columns come in ordinal order, invisible
 * ones included (the binlog has them). table_id is 0. Free *tm with
 * my_table_map_free, also after an error.
 *
 * Returns 0, ZETL_ENOTFOUND (config: no such table), ZETL_EUNSUPPORTED
 * (config: a type the binlog decoder has no reading for, e.g. MariaDB's
 * UUID/INET6, naming the column), ZETL_ENOMEM, or the connection's errors
 * (my_conn_error).
 */
int my_snapshot_describe(struct st_mysql *m, enum my_flavor flavor, const char *db,
                         const char *table, struct my_table_map *tm, struct zetl_err *err);

/*
 * The schema of tm as the stream publishes it: id (db, "", table), version 1,
 * and each column from my_column_map (a column left unnamed by tm is refused).
 * *out has one reference, given back with zetl_schema_unref. Returns 0,
 * my_column_map's errors, ZETL_EINVAL or ZETL_ENOMEM.
 */
int my_snapshot_schema(const struct my_table_map *tm, struct zetl_schema **out,
                       struct zetl_err *err);

struct my_snapshot_opts {
        size_t batch_rows;  /* rows per batch handed to emit; 0: 4096 */
        size_t batch_bytes; /* each batch's max_bytes (zetl_batch_new); 0: its default */
};

/*
 * Read every row of s's table (SELECT of tm's columns FROM `db`.`table`,
 * identifiers quoted with backticks, backticks doubled) through
 * mysql_use_result, so the client holds one row at a time, into batches of
 * schema s with op ZETL_OP_SNAPSHOT and position 0.
 *
 * tm describes the source columns (my_snapshot_describe's, or the stream's
 * TABLE_MAP of the same table version); s has tm's columns in tm's order,
 * each of the logical type my_column_map gives or one of the alternatives
 * my_rows.h allows (integers as decimal or string, FLOAT as float64, DECIMAL
 * as string, TIME as string, text as json or bytes, MariaDB JSON as json).
 *
 * A batch is handed to emit(arg, b, err) when it holds o->batch_rows rows,
 * or earlier when the next row would pass o->batch_bytes, and at the end
 * (never an empty batch; an empty table emits nothing). emit takes ownership
 * of b at once, whatever it returns; the reader keeps no other batch, so at
 * most one batch is alive in it. emit returns 0 to go on, or an error (with
 * err filled) that stops the read and is returned, e.g. ZETL_ECANCELED.
 *
 * How each column is read, so that its text means one thing:
 *  - FLOAT as CAST(c AS DOUBLE): its text is the double's shortest
 *    round-trip form, which a FLOAT's own text (6 digits) is not;
 *  - text published as bytes as CAST(c AS BINARY) (the stored bytes, as the
 *    binlog has them); other text converted by the server to utf8mb4;
 *  - binary strings, BIT and GEOMETRY as raw bytes (mysql_fetch_lengths);
 *    GEOMETRY's first 4 bytes, the SRID, are dropped as the decoder does;
 *  - temporal values as text in the session time zone '+00:00' (set here),
 *    so TIMESTAMP reads as the binlog's UTC seconds; DECIMAL as exact text
 *    (ZEROFILL's leading zeros removed).
 * The session's net_write_timeout is raised to at least an hour: with
 * mysql_use_result the server waits on us while emit blocks downstream.
 *
 * *nrows (may be NULL) gets the rows emitted. On error the unread rest of
 * the result is drained by mysql_free_result (the connection stays usable).
 * Returns 0, emit's error, the connection's errors, ZETL_EUNSUPPORTED (fatal:
 * a value the decoder would refuse too, e.g. a TIME outside a day in a time
 * column), ZETL_EPROTO (text we cannot read), ZETL_EINVAL (s and tm do not
 * match, or a type s cannot hold), ZETL_ELIMIT (one row larger than
 * batch_bytes) or ZETL_ENOMEM.
 */
int my_snapshot_table(struct st_mysql *m, const struct my_table_map *tm,
                      const struct zetl_schema *s, const struct my_snapshot_opts *o,
                      int (*emit)(void *arg, struct zetl_batch *b, struct zetl_err *err), void *arg,
                      uint64_t *nrows, struct zetl_err *err);

#endif
