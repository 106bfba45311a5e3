/*
 * my_rows: the row-based events of a MySQL or MariaDB binlog (TABLE_MAP and
 * WRITE/UPDATE/DELETE_ROWS, v1 and v2) decoded from their raw bytes straight
 * into batches. Every function takes an event's body: the bytes after the
 * 19-byte common header, without the 4-byte CRC32 trailer when the binlog
 * has checksums. Nothing here talks to a server or needs libmariadb.
 *
 * Mapping of column types to logical types (my_column_map):
 *
 *   TINYINT, SMALLINT              int16 (TINYINT too: there is no int8)
 *   TINYINT UNSIGNED               int16
 *   SMALLINT UNSIGNED              int32
 *   MEDIUMINT [UNSIGNED], INT      int32
 *   INT UNSIGNED, BIGINT           int64
 *   BIGINT UNSIGNED                decimal(20,0), so that it stays exact
 *   FLOAT, DOUBLE                  float32, float64
 *   DECIMAL(p,s)                   decimal(p,s), canonical text with exactly
 *                                  s fractional digits ("-0.50", "0")
 *   DATE                           date
 *   TIME(n)                        time (precision n); see "TIME" below
 *   DATETIME(n)                    timestamp (precision n)
 *   TIMESTAMP(n)                   timestamptz (precision n): the binlog holds
 *                                  UTC seconds, whatever the time zone
 *   YEAR                           int16 (0 for the zero year, else 1901..2155)
 *   CHAR, VARCHAR, TEXT            string, transcoded to UTF-8 from the
 *                                  column's character set (precision: the
 *                                  length in characters when known)
 *   BINARY, VARBINARY, BLOB        bytes (character set "binary", 63);
 *                                  BINARY(n) values are padded back to n
 *                                  bytes with 0x00, as SELECT returns them
 *   ENUM                           string: the label (index 0, MySQL's error
 *                                  value, is "")
 *   SET                            string: the labels of the set bits in
 *                                  definition order, joined by ","
 *   BIT(1..63)                     int64; BIT(64) is bytes (8, big-endian)
 *                                  because its top bit does not fit an int64
 *   JSON                           json. MySQL 8 writes binary JSON, decoded
 *                                  by my_json; MariaDB's JSON is a LONGTEXT
 *                                  and arrives as text (string, or json when
 *                                  the caller publishes the column as json:
 *                                  the bytes are copied)
 *   GEOMETRY and its subtypes      bytes: standard WKB. MySQL stores a 4-byte
 *                                  SRID before the WKB; it is dropped (the
 *                                  snapshot must read ST_AsWKB(col) to match)
 *
 * Character sets: utf8mb4, utf8mb3 and ascii are copied as sent; latin1
 * (MySQL's latin1 is Windows-1252) is transcoded; ucs2, utf16, utf16le and
 * utf32 are transcoded; binary gives bytes. my_column_map refuses (with
 * ZETL_EUNSUPPORTED) any other character set; a caller may publish such a
 * column as bytes instead, and the decoder then copies the raw bytes. When
 * the TABLE_MAP carries no character sets (binlog_row_metadata=NO_LOG or a
 * server before MySQL 8.0.1 / MariaDB 10.5) and the caller has not supplied
 * them (my_table_map_set_col), CHAR/VARCHAR are taken as UTF-8 strings and
 * BLOB/TEXT as bytes. ENUM and SET labels only come with
 * binlog_row_metadata=FULL: without them (and until the caller supplies
 * them) their values are refused with ZETL_EUNSUPPORTED.
 *
 * TIME: a time column holds 00:00:00 to 24:00:00. MySQL's TIME also holds
 * durations (-838:59:59 to 838:59:59): such a value in a time column is
 * refused with ZETL_EUNSUPPORTED (never clamped), naming the column; a caller
 * that publishes the column as string instead gets MySQL's text form
 * ("-838:59:59", "12:34:56.789": as many fractional digits as the column's
 * precision), which is also what a SELECT returns.
 *
 * Zero and invalid dates: '0000-00-00', dates with a zero month or day, and
 * dates that only ALLOW_INVALID_DATES lets in ('2024-02-30') have no value in
 * the calendar: in date and timestamp columns they become NULL, as Debezium
 * does; so does the zero TIMESTAMP ('0000-00-00 00:00:00', 0 seconds). The
 * snapshot must do the same.
 *
 * Partial row images (binlog_row_image=MINIMAL or NOBLOB): a column absent
 * from an image is marked unchanged in the batch (zetl_batch_set_unchanged),
 * never NULL.
 *
 * Errors: malformed bytes (anything past the end, impossible metadata,
 * digits out of range) return ZETL_EPROTO; a valid value or type zetl cannot
 * hold returns ZETL_EUNSUPPORTED; a cell too big for the batch returns the
 * batch's ZETL_ELIMIT or ZETL_ENOMEM; a batch column of a logical type the
 * value cannot be stored as (a caller bug) returns ZETL_EINVAL. Decoding
 * errors are fatal class, with a message naming the table and column. Nothing outside the bytes
 * given is ever read. Not handled: MySQL's PARTIAL_UPDATE_ROWS_EVENT (binlog_row_value_options=
 * PARTIAL_JSON), MariaDB's compressed row events (log_bin_compress=ON), the
 * pre-5.0 DECIMAL type and MariaDB's pre-10.1 fractional temporal format
 * (mysql56_temporal_format=OFF).
 */
#ifndef ZETL_MY_ROWS_H
#define ZETL_MY_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "my_binlog.h" /* event types (enum my_event_type), enum my_flavor */
#include "zetl/batch.h"
#include "zetl/err.h"
#include "zetl/schema.h"

/* Column types (MySQL's enum_field_types), as a TABLE_MAP lists them. */
#define MY_T_DECIMAL     0
#define MY_T_TINY        1
#define MY_T_SHORT       2
#define MY_T_LONG        3
#define MY_T_FLOAT       4
#define MY_T_DOUBLE      5
#define MY_T_NULL        6
#define MY_T_TIMESTAMP   7
#define MY_T_LONGLONG    8
#define MY_T_INT24       9
#define MY_T_DATE        10
#define MY_T_TIME        11
#define MY_T_DATETIME    12
#define MY_T_YEAR        13
#define MY_T_NEWDATE     14
#define MY_T_VARCHAR     15
#define MY_T_BIT         16
#define MY_T_TIMESTAMP2  17
#define MY_T_DATETIME2   18
#define MY_T_TIME2       19
#define MY_T_JSON        245
#define MY_T_NEWDECIMAL  246
#define MY_T_ENUM        247
#define MY_T_SET         248
#define MY_T_TINY_BLOB   249
#define MY_T_MEDIUM_BLOB 250
#define MY_T_LONG_BLOB   251
#define MY_T_BLOB        252
#define MY_T_VAR_STRING  253
#define MY_T_STRING      254
#define MY_T_GEOMETRY    255

/* Flags of a rows event. */
#define MY_ROWS_F_STMT_END 0x0001 /* last event of its statement */

/* Collation id of the "binary" character set. */
#define MY_COLLATION_BINARY 63

/* Bytes a decimal's canonical text can take: sign, 65 digits, point, a
 * leading "0", NUL. */
#define MY_DECIMAL_TEXT_MAX 72

/* What the binlog's FORMAT_DESCRIPTION_EVENT says that matters here (the
 * connection layer fills it; NULL means MariaDB with 6-byte table ids). */
struct my_rows_fmt {
        enum my_flavor flavor; /* MariaDB: JSON as text; MySQL: binary JSON */
        /* 6, or 4 for servers whose TABLE_MAP post-header length is 6
         * (MySQL before 5.1.4); 0 means 6. */
        uint8_t table_id_len;
};

/* Fill *f for a server of that flavor from the FORMAT_DESCRIPTION_EVENT's
 * post-header lengths (indexed by event type - 1; NULL or too short: the
 * defaults). */
void my_rows_fmt_init(struct my_rows_fmt *f, enum my_flavor flavor, const uint8_t *post_header_len,
                      size_t n);

struct my_label {
        char *s; /* NUL-terminated copy; bytes in label_collation's character set */
        uint32_t len;
};

/* One column of a TABLE_MAP, with what its optional metadata said. */
struct my_col {
        uint8_t type;      /* the type byte of the TABLE_MAP */
        uint8_t real_type; /* MY_T_ENUM or MY_T_SET for a STRING carrying them; else type */
        bool nullable;
        bool is_unsigned;         /* SIGNEDNESS (false when not sent) */
        bool visible;             /* COLUMN_VISIBILITY (true when not sent) */
        uint8_t precision, scale; /* NEWDECIMAL */
        uint8_t fsp;              /* TIME2, DATETIME2, TIMESTAMP2: fractional digits */
        uint8_t pack_len;         /* BLOB/TEXT/JSON/GEOMETRY length bytes; ENUM/SET value bytes */
        uint16_t bits;            /* BIT(n) */
        uint32_t max_len;         /* CHAR/VARCHAR: maximum length in bytes */
        uint32_t collation;       /* character set collation id, 0 = unknown */
        uint32_t label_collation; /* of ENUM/SET labels, 0 = unknown (taken as UTF-8) */
        uint32_t geometry_type;   /* GEOMETRY_TYPE: 0 geometry, 1 point, ... */
        int key_pos;              /* 1..n: position in the primary key; 0: not in it */
        uint32_t key_prefix;      /* PRIMARY_KEY_WITH_PREFIX: prefix length, 0 = whole */
        char *name;               /* NULL unless COLUMN_NAME was sent or supplied */
        int nlabels;              /* ENUM/SET labels, -1 when not known */
        struct my_label *labels;
        char type_text[40]; /* the MySQL type, e.g. "decimal(14,4)", "varchar(20)" */
        uint8_t wire;       /* private: how the decoder reads a value */
        uint16_t width;     /* private: bytes of a fixed-width value, 0 if length-prefixed */
};

/* A parsed TABLE_MAP event. Owns every string it points to. */
struct my_table_map {
        uint64_t table_id;
        uint16_t flags;
        enum my_flavor flavor;
        char *db;
        char *table;
        int ncols;
        struct my_col *cols;
        int nkeys; /* columns with key_pos > 0 */
        /* Which optional metadata the event carried (binlog_row_metadata). */
        bool has_signedness, has_charsets, has_names, has_labels, has_key, has_visibility;
        void *mem; /* private */
};

/*
 * Parse a TABLE_MAP event body p[0..len). fmt may be NULL (MariaDB, 6-byte
 * table ids). Fills *out, which owns copies of the names and labels: free it
 * with my_table_map_free (also after an error, and on a zeroed struct).
 * Unknown optional metadata types are skipped. Returns 0, ZETL_EPROTO,
 * ZETL_ENOMEM.
 */
int my_table_map_parse(const uint8_t *p, size_t len, const struct my_rows_fmt *fmt,
                       struct my_table_map *out, struct zetl_err *err);
void my_table_map_free(struct my_table_map *tm);

/*
 * What the caller learnt from information_schema about a column whose
 * TABLE_MAP left it out (binlog_row_metadata NO_LOG or MINIMAL). Fields left
 * at "keep" change nothing.
 */
struct my_col_info {
        const char *name;          /* NULL: keep */
        int is_unsigned;           /* -1: keep, 0, 1 */
        uint32_t collation;        /* 0: keep */
        int key_pos;               /* -1: keep, 0, 1..n */
        const char *const *labels; /* ENUM/SET labels in UTF-8, NULL: keep */
        int nlabels;
};

/* Apply info to column col (copies the strings; recounts keys). Returns 0,
 * ZETL_EINVAL (no such column) or ZETL_ENOMEM. */
int my_table_map_set_col(struct my_table_map *tm, int col, const struct my_col_info *info,
                         struct zetl_err *err);

/*
 * The logical type of column col, as the table at the top of this file says:
 * sets out->name (borrowed from tm, NULL when unknown: the caller names it),
 * type, precision, scale, nullable, key_pos and source_type (borrowed), and
 * source_id 0. Returns 0, ZETL_EINVAL (no such column), or ZETL_EUNSUPPORTED
 * (pre-5.0 DECIMAL, a character set zetl cannot transcode, an unknown type),
 * config class, with a message naming the column.
 */
int my_column_map(const struct my_table_map *tm, int col, struct zetl_column *out,
                  struct zetl_err *err);

/* Name of a column type ("varchar", "newdecimal"), for messages. */
const char *my_type_name(uint8_t type);

/* A parsed rows event: header fields, and the row images as a cursor. */
struct my_rows_event {
        uint8_t type;    /* event type */
        int version;     /* 1 (MariaDB, MySQL 5.x) or 2 (MySQL 5.6+ with v2 events) */
        enum zetl_op op; /* ZETL_OP_INSERT, ZETL_OP_UPDATE or ZETL_OP_DELETE */
        uint64_t table_id;
        uint16_t flags;
        uint32_t ncols;
        const uint8_t *cols_before; /* columns in before images (update, delete), else NULL */
        const uint8_t *cols_after;  /* columns in after images (write, update), else NULL */
        const uint8_t *extra;       /* v2 extra row info (without its length), else NULL */
        size_t extra_len;
        const uint8_t *rows; /* the row images */
        const uint8_t *end;
        const uint8_t *cur; /* where my_rows_next, or a caller decoding in place, is */
};

/*
 * Parse a rows event body p[0..len) of event type `type` (MY_EV_WRITE_ROWS_V1 ...
 * MY_EV_DELETE_ROWS_V2). Pointers in *out point into p, which must outlive *out. Returns 0,
 * ZETL_EPROTO, or ZETL_EUNSUPPORTED (another event type, e.g.
 * PARTIAL_UPDATE_ROWS).
 */
int my_rows_parse(const uint8_t *p, size_t len, uint8_t type, const struct my_rows_fmt *fmt,
                  struct my_rows_event *out, struct zetl_err *err);

/* One row image: its bytes (null bitmap and values) and its columns. */
struct my_row_image {
        const uint8_t *p;
        size_t len;
        const uint8_t *cols; /* columns-present bitmap, LSB first */
};

/*
 * Next row of ev: for an update, its before and after images; for a write,
 * after only; for a delete, before only (the other is zeroed). tm must be the
 * TABLE_MAP of ev->table_id. Returns 1 with a row, 0 at the end, or
 * ZETL_EPROTO (an image runs past the event, or tm does not match the event).
 */
int my_rows_next(struct my_rows_event *ev, const struct my_table_map *tm,
                 struct my_row_image *before, struct my_row_image *after, struct zetl_err *err);

/*
 * The one-pass alternative to my_rows_next, for a caller that decodes every
 * image anyway (the stream): my_rows_more checks tm against ev and returns 1
 * while a row remains at ev->cur (0 at the end, or ZETL_EPROTO); the caller
 * decodes the row's images from ev->cur in event order (before, then after)
 * with my_decode_row and hands the end to my_rows_advance, which refuses a
 * row that took no bytes. Each image is walked once instead of twice.
 */
int my_rows_more(const struct my_rows_event *ev, const struct my_table_map *tm,
                 struct zetl_err *err);
int my_rows_advance(struct my_rows_event *ev, const uint8_t *p, struct zetl_err *err);

/*
 * Decode one row image at *p (not past end) into the row being built in b
 * (zetl_batch_row_begin called; b's schema has tm's columns in tm's order,
 * each of the type my_column_map gave it or another the table above allows):
 * the null bitmap over the columns present in cols ((tm->ncols + 7) / 8
 * bytes, as my_rows_parse found them), then each present,
 * non-null value. Absent columns are marked unchanged. With keys_only, only
 * the primary key columns of b's schema are stored and the others are marked
 * unchanged (a delete, or the old key of a key-changing update). Advances *p
 * past the image. On error the row is half set: the caller aborts it.
 * Returns 0 or an error as described at the top of this file.
 */
int my_decode_row(struct zetl_batch *b, const struct my_table_map *tm, const uint8_t *cols,
                  const uint8_t **p, const uint8_t *end, bool keys_only, struct zetl_err *err);

/* Walk one row image without decoding it: advances *p past it. Returns 0 or
 * ZETL_EPROTO. */
int my_row_skip(const struct my_table_map *tm, const uint8_t *cols, const uint8_t **p,
                const uint8_t *end, struct zetl_err *err);

/* Bytes of a DECIMAL(precision, scale) in its binary form, 0 when precision
 * or scale are out of MySQL's range (1..65, 0..30, scale <= precision). */
size_t my_decimal_bin_size(int precision, int scale);
/* Canonical text (zetl/types.h) of the binary decimal p[0..len) into buf
 * (MY_DECIMAL_TEXT_MAX bytes, NUL-terminated). Returns its length, or -1 when
 * len is not the binary size or a digit group is out of range. */
int my_decimal_to_text(const uint8_t *p, size_t len, int precision, int scale, char *buf);

#endif
