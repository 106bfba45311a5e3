/*
 * my_snapshot against the harness's MariaDB 10.11: a table with a column of
 * every type my_rows decodes is filled with NULLs, extremes, zero and
 * invalid dates and non-ASCII text, then read twice, by the snapshot reader
 * and from the binlog (its WRITE_ROWS decoded by my_rows into a batch of the
 * snapshot's schema), and the two batches must be identical cell for cell:
 * validity, fixed-width values and var-length bytes. The snapshot's schema
 * must also equal the one my_column_map gives for the binlog's TABLE_MAP.
 * Then: 200k rows read with batch_rows=1000 arrive in 200 batches while the
 * SELECT is still running on the server (mysql_use_result streams), none
 * larger than a few thousand rows' worth of bytes; a byte ceiling splits
 * batches early; identifiers with backticks; a TIME outside a day refused in
 * a time column and read as MySQL's text in a string column (my_rows.h).
 * One line per check.
 *
 * Needs ZETL_TEST_MY_URI (a user with ALL PRIVILEGES, binlog_format=ROW,
 * binlog_row_metadata=FULL); exits 77 without it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "../../connectors/mysql/my_binlog.h"
#include "../../connectors/mysql/my_conn.h"
#include "../../connectors/mysql/my_rows.h"
#include "../../connectors/mysql/my_snapshot.h"

#define DB        "mysnap_t"
#define NAME      "test_my_snapshot"
#define BIG_ROWS  200000
#define MAX_BATCH 512

static int checks, failures;
static struct my_conn_params params;
static MYSQL *sql;
static enum my_flavor flavor = MY_FLAVOR_MARIADB;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(bool ok, const char *fmt, ...)
{
        va_list ap;

        checks++;
        if (!ok)
                failures++;
        printf("%s - ", ok ? "ok" : "not ok");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

static bool sql_ok(const char *q)
{
        struct zetl_err err = { 0 };

        if (my_exec(sql, q, "test statement", &err) == 0)
                return true;
        printf("# SQL failed: %.300s\n#   %s\n", q, err.msg);
        return false;
}

/* Where the server's binlog ends now. */
static bool master_pos(struct my_binlog_pos *out)
{
        struct zetl_err err = { 0 };
        char off[32];
        bool found;

        memset(out, 0, sizeof(*out));
        if (my_query_value(sql, "SHOW MASTER STATUS", "test", 0, out->file, sizeof(out->file),
                           &found, &err) ||
            my_query_value(sql, "SHOW MASTER STATUS", "test", 1, off, sizeof(off), &found, &err)) {
                printf("# master status: %s\n", err.msg);
                return false;
        }
        out->offset = strtoull(off, NULL, 10);
        return found;
}

/* ---- collecting what the reader emits --------------------------------------------- */

struct sink {
        struct zetl_batch *b[MAX_BATCH];
        int n;
        bool keep;         /* keep the batches (else free them at once) */
        size_t max_rows;   /* the largest batch, in rows */
        size_t max_bytes;  /* and in bytes */
        int64_t next_id;   /* big table: the id expected next (column 0) */
        bool in_order;     /* every id as expected */
        int streaming;     /* -1 unknown, 0 no, 1: the SELECT still ran at the first batch */
        unsigned long tid; /* the snapshot connection's id */
        bool bad_op;       /* a row not ZETL_OP_SNAPSHOT at position 0 */
};

static int sink_emit(void *arg, struct zetl_batch *b, struct zetl_err *err)
{
        struct sink *k = arg;

        (void)err;
        if (b->nrows > k->max_rows)
                k->max_rows = b->nrows;
        if (b->bytes > k->max_bytes)
                k->max_bytes = b->bytes;
        for (uint32_t r = 0; r < b->nrows; r++)
                if (b->ops[r] != ZETL_OP_SNAPSHOT || b->pos[r] != 0)
                        k->bad_op = true;
        if (k->next_id > 0) {
                for (uint32_t r = 0; r < b->nrows; r++)
                        if (zetl_batch_get_i32(b, 0, r) != k->next_id++)
                                k->in_order = false;
        }
        if (k->streaming < 0 && k->tid) {
                /* Another connection looks at the snapshot's session: with
                 * mysql_use_result its SELECT is still sending rows. */
                MYSQL *o = NULL;
                struct zetl_err e = { 0 };
                char q[256], v[32] = "";
                if (my_conn_open(&params, &o, &e) == 0) {
                        snprintf(q, sizeof(q),
                                 "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = "
                                 "%lu AND COMMAND = 'Query' AND INFO LIKE 'SELECT%%'",
                                 k->tid);
                        my_query_value(o, q, "test", 0, v, sizeof(v), NULL, &e);
                        my_conn_close(o);
                }
                k->streaming = strcmp(v, "1") == 0;
        }
        if (k->keep && k->n < MAX_BATCH) {
                k->b[k->n++] = b;
                return 0;
        }
        k->n++;
        zetl_batch_free(b);
        return 0;
}

static void sink_free(struct sink *k)
{
        for (int i = 0; k->keep && i < k->n && i < MAX_BATCH; i++)
                zetl_batch_free(k->b[i]);
        memset(k, 0, sizeof(*k));
}

/* Describe and snapshot db.table inside a consistent snapshot. */
static int snapshot(const char *table, struct my_table_map *tm, struct zetl_schema **s,
                    const struct zetl_schema *use, const struct my_snapshot_opts *o, struct sink *k,
                    uint64_t *nrows, struct zetl_err *err)
{
        struct my_binlog_pos pos;
        int rc;

        if ((rc = my_snapshot_start(sql, MY_SNAPSHOT_AUTO, &pos, err)))
                return rc;
        if (!tm->cols && (rc = my_snapshot_describe(sql, flavor, DB, table, tm, err)))
                goto out;
        if (!*s && !use && (rc = my_snapshot_schema(tm, s, err)))
                goto out;
        k->tid = mysql_thread_id(sql);
        rc = my_snapshot_table(sql, tm, use ? use : *s, o, sink_emit, k, nrows, err);
out:
        my_exec(sql, "COMMIT", "test", NULL);
        return rc;
}

/* ---- the types table --------------------------------------------------------------- */

static const char *const types_ddl =
        "CREATE TABLE " DB ".types ("
        "id INT NOT NULL PRIMARY KEY,"
        "ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,"
        "mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,"
        "bi BIGINT, biu BIGINT UNSIGNED, izf INT(6) ZEROFILL,"
        "f FLOAT, d DOUBLE, f73 FLOAT(7,3),"
        "d65 DECIMAL(65,30), d52 DECIMAL(5,2), d10 DECIMAL(10,0), d55 DECIMAL(5,5),"
        "dzf DECIMAL(8,3) ZEROFILL,"
        "dt DATE, t0 TIME, t1 TIME(1), t2 TIME(2), t3 TIME(3), t4 TIME(4), t5 TIME(5),"
        "t6 TIME(6), dtm DATETIME(6), dtm0 DATETIME, ts TIMESTAMP(3) NULL DEFAULT NULL,"
        "ts0 TIMESTAMP NULL DEFAULT NULL, yr YEAR,"
        "cu CHAR(10) CHARACTER SET utf8mb4, vu VARCHAR(100) CHARACTER SET utf8mb4,"
        "cl CHAR(10) CHARACTER SET latin1, vl VARCHAR(100) CHARACTER SET latin1,"
        "cbig CHAR(255) CHARACTER SET utf8mb4, u3 VARCHAR(20) CHARACTER SET utf8mb3,"
        "bn BINARY(4), vb VARBINARY(300), bl BLOB, tbl TINYBLOB, mbl MEDIUMBLOB, lbl LONGBLOB,"
        "tx TEXT, ttx TINYTEXT, ltl LONGTEXT CHARACTER SET latin1,"
        "e ENUM('small','it''s','größe','x,y','b\\\\c'), st SET('a','b','ü','d'),"
        "b1 BIT(1), b12 BIT(12), b64 BIT(64), j JSON, g GEOMETRY, p POINT"
        ") DEFAULT CHARSET utf8mb4";

#define COLS                                                                                       \
        "(id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, izf, f, d, f73, d65, d52, d10, d55, "     \
        "dzf, dt, t0, t1, t2, t3, t4, t5, t6, dtm, dtm0, ts, ts0, yr, cu, vu, cl, vl, cbig, "      \
        "u3, bn, vb, bl, tbl, mbl, lbl, tx, ttx, ltl, e, st, b1, b12, b64, j, g, p)"

static const char *const rows_sql[] = {
        /* 1: NULL everywhere but the key */
        "(1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        "NULL, NULL,"
        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        /* 2: minimums, empty strings */
        "(2, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, 0,"
        " -3.4028e38, -1.7976931348623157e308, -9999.999,"
        " '-99999999999999999999999999999999999.999999999999999999999999999999', -999.99,"
        " -9999999999, -0.99999, 0,"
        " '1000-01-01', '00:00:00', '00:00:00.0', '00:00:00.00', '00:00:00.000',"
        " '00:00:00.0000', '00:00:00.00000', '00:00:00.000000',"
        " '1000-01-01 00:00:00.000000', '1000-01-01 00:00:00', '1970-01-01 00:00:01.000',"
        " '1970-01-01 00:00:01', 1901, '', '', '', '', '', '', x'', x'', x'', x'', x'', x'',"
        " '', '', '', 'small', '', b'0', b'0', b'0', '{}', ST_GeomFromText('POINT(0 0)'),"
        " ST_GeomFromText('POINT(0 0)'))",
        /* 3: maximums, non-ASCII text */
        "(3, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,"
        " 9223372036854775807, 18446744073709551615, 999999,"
        " 3.4028e38, 1.7976931348623157e308, 9999.999,"
        " '99999999999999999999999999999999999.999999999999999999999999999999', 999.99,"
        " 9999999999, 0.99999, 99999.999,"
        " '9999-12-31', '23:59:59', '23:59:59.9', '23:59:59.99', '23:59:59.999',"
        " '23:59:59.9999', '23:59:59.99999', '23:59:59.999999',"
        " '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59', '2038-01-19 03:14:07.999',"
        " '2038-01-19 03:14:07', 2155, 'ü€😀 ñ', CONCAT(REPEAT('é', 99), '😀'),"
        " 'àé€‚ÿ', REPEAT('ÿ', 100), REPEAT('😀', 255), 'ñandú',"
        " x'ffffffff', REPEAT(x'ff00', 150), @all256, x'00', x'0102', x'7f',"
        " 'Grüße 😀', 'é', 'déjà vu €', 'größe', 'a,b,ü,d', b'1', b'111111111111',"
        " x'ffffffffffffffff', '{\"k\": [1, 2.5, \"ü\"], \"n\": null}',"
        " ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'), POINT(1.5, -2.25))",
        /* 4: zero and invalid dates, the zero TIMESTAMP and year, an invalid enum */
        "(4, 0, 1, -1, 1, -1, 1, -1, 1, -1, 1, 42, 1.00000012, 0.30000000000000004, 1.5,"
        " '-0.000000000000000000000000000001', -0.5, 0, 0.00001, 12.5,"
        " '0000-00-00', '24:00:00', NULL, NULL, NULL, NULL, NULL, NULL,"
        " '0000-00-00 00:00:00', '2024-02-30 12:00:00', '0000-00-00 00:00:00',"
        " '0000-00-00 00:00:00', 0, 'a  ', 'a  ', ' x', 'tab\there', NULL, 'ü',"
        " x'01', x'000000', REPEAT('z', 65535), NULL, REPEAT(x'00ab', 40000), NULL, '',"
        " NULL, NULL, 'zzz', '', b'1', b'100000000001', b'0', '[]', NULL, NULL)",
        /* 5: fractions, odd floats, Windows-1252's C1 holes */
        "(5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16777217, 5e-324, -0.001, '0.5', 0.01, -1,"
        " -0.00001, 0.001, '2024-02-30', '12:34:56', '12:34:56.7', '12:34:56.78',"
        " '12:34:56.789', '12:34:56.7891', '12:34:56.78912', '00:00:00.000001',"
        " '2024-02-29 23:59:59.000001', '1999-12-31 23:59:59', '2024-06-01 12:00:00.5',"
        " '2000-01-01 00:00:00', 1999, 'it''s', 'back\\\\slash', _latin1 x'80818d8f909d9e9f',"
        " _latin1 x'a0ff', 'x', 'ok', x'00000001', x'', x'00', x'', x'', x'', 'ü', 'x',"
        " _latin1 x'e9e8', 'it''s', 'ü', NULL, b'1', x'8000000000000000',"
        " '{\"a\":\"\\\\u00fc\"}', ST_GeomFromText('LINESTRING(0 0,1 1,2 0.5)'),"
        " POINT(-1e300, 1e-300))",
        /* 6: the other labels */
        "(6, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0.1, 0.1, 0.1, '1.5', 1.5, 15, 0.5, 1.5,"
        " '2024-02-29', '01:02:03', '01:02:03.4', NULL, NULL, NULL, NULL, '23:59:59.5',"
        " '1970-01-01 00:00:00', '1970-01-01 00:00:00', '1970-01-01 00:00:00.001', NULL,"
        " 2000, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        " NULL, NULL, NULL, 'x,y', 'a,d', b'0', b'0', b'1', 'null', NULL, NULL)",
        "(7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        " NULL, NULL, NULL, NULL, NULL, NULL, 'b\\\\c', 'b,ü', NULL, NULL, NULL, NULL, NULL,"
        " NULL)",
};
#define NROWS ((int)(sizeof(rows_sql) / sizeof(rows_sql[0])))

/* Two batches hold the same cells (ops and positions aside). */
static bool same_cells(const struct zetl_batch *a, const struct zetl_batch *b, char *why,
                       size_t len)
{
        const struct zetl_schema *s = a->schema;

        if (a->nrows != b->nrows || s->ncols != b->schema->ncols) {
                snprintf(why, len, "%u rows vs %u", a->nrows, b->nrows);
                return false;
        }
        for (int c = 0; c < s->ncols; c++) {
                enum zetl_type t = s->cols[c].type;
                if (t != b->schema->cols[c].type) {
                        snprintf(why, len, "column %s: types differ", s->cols[c].name);
                        return false;
                }
                for (uint32_t r = 0; r < a->nrows; r++) {
                        bool na = zetl_batch_is_null(a, c, r), nb = zetl_batch_is_null(b, c, r);
                        bool same = na == nb;
                        if (same &&
                            zetl_batch_is_unchanged(a, c, r) != zetl_batch_is_unchanged(b, c, r))
                                same = false;
                        if (same && !na) {
                                if (zetl_type_storage(t) == ZETL_ST_VAR) {
                                        size_t la, lb;
                                        const uint8_t *pa = zetl_batch_get_var(a, c, r, &la);
                                        const uint8_t *pb = zetl_batch_get_var(b, c, r, &lb);
                                        same = la == lb && (la == 0 || memcmp(pa, pb, la) == 0);
                                } else if (zetl_type_storage(t) == ZETL_ST_FIXED) {
                                        size_t w = zetl_type_width(t);
                                        same = memcmp(a->cols[c].values + r * w,
                                                      b->cols[c].values + r * w, w) == 0;
                                } else {
                                        same = zetl_batch_get_bool(a, c, r) ==
                                               zetl_batch_get_bool(b, c, r);
                                }
                        }
                        if (!same) {
                                snprintf(why, len, "column %s, row %u (id %d) differs",
                                         s->cols[c].name, r, zetl_batch_get_i32(a, 0, r));
                                return false;
                        }
                }
        }
        return true;
}

/* The rows of DB.table written since start, decoded by my_rows into a batch of schema s. */
static int binlog_rows(const struct my_binlog_pos *start, const char *table,
                       const struct zetl_schema *s, int want, struct zetl_batch **out,
                       struct zetl_schema **bs, struct zetl_err *err)
{
        struct my_binlog_opts o = { .server_id = my_binlog_server_id(NAME, 1),
                                    .heartbeat_ms = 200 };
        struct my_binlog *r = NULL;
        struct my_rows_fmt fmt;
        struct my_table_map tm = { 0 };
        struct zetl_batch *b = zetl_batch_new(s, 0);
        struct my_event ev;
        int rc, idle = 0;

        my_rows_fmt_init(&fmt, flavor, NULL, 0);
        if (!b)
                return ZETL_ENOMEM;
        if ((rc = my_binlog_open(&params, start, &o, &r, err)))
                goto out;
        while ((int)b->nrows < want && idle < 25) {
                if ((rc = my_binlog_next(r, &ev, err)))
                        goto out;
                if (ev.type == MY_EV_HEARTBEAT) {
                        idle++;
                } else if (ev.type == MY_EV_FORMAT_DESCRIPTION) {
                        my_rows_fmt_init(&fmt, flavor, ev.u.fde.post_header_len,
                                         ev.u.fde.n_post_header_len);
                } else if (ev.type == MY_EV_TABLE_MAP) {
                        my_table_map_free(&tm);
                        if ((rc = my_table_map_parse(ev.body, ev.body_len, &fmt, &tm, err)))
                                goto out;
                } else if ((ev.type == MY_EV_WRITE_ROWS_V1 || ev.type == MY_EV_WRITE_ROWS_V2) &&
                           tm.table && strcmp(tm.db, DB) == 0 && strcmp(tm.table, table) == 0) {
                        struct my_rows_event re;
                        struct my_row_image before, after;
                        if ((rc = my_rows_parse(ev.body, ev.body_len, ev.type, &fmt, &re, err)))
                                goto out;
                        if (!*bs && (rc = my_snapshot_schema(&tm, bs, err)))
                                goto out;
                        while ((rc = my_rows_next(&re, &tm, &before, &after, err)) == 1) {
                                const uint8_t *p = after.p;
                                if ((rc = zetl_batch_row_begin(b, ZETL_OP_INSERT, 0, err)))
                                        goto out;
                                if ((rc = my_decode_row(b, &tm, after.cols, &p, after.p + after.len,
                                                        false, err))) {
                                        zetl_batch_row_abort(b);
                                        goto out;
                                }
                                zetl_batch_row_end(b);
                        }
                        if (rc < 0)
                                goto out;
                        rc = 0;
                }
        }
out:
        my_table_map_free(&tm);
        my_binlog_close(r);
        if (rc) {
                zetl_batch_free(b);
                b = NULL;
        }
        *out = b;
        return rc;
}

/* The two schemas, column by column, as the core would compare them. */
static bool same_schema(const struct zetl_schema *a, const struct zetl_schema *b, char *why,
                        size_t len)
{
        if (a->ncols != b->ncols || a->nkeys != b->nkeys) {
                snprintf(why, len, "%d/%d columns, %d/%d keys", a->ncols, b->ncols, a->nkeys,
                         b->nkeys);
                return false;
        }
        for (int i = 0; i < a->ncols; i++) {
                const struct zetl_column *x = &a->cols[i], *y = &b->cols[i];
                if (strcmp(x->name, y->name) || x->type != y->type ||
                    x->precision != y->precision || x->scale != y->scale ||
                    x->nullable != y->nullable || x->key_pos != y->key_pos ||
                    strcmp(x->source_type ? x->source_type : "",
                           y->source_type ? y->source_type : "")) {
                        snprintf(why, len,
                                 "column %s: %s(%d,%d) %s key %d vs %s: %s(%d,%d) %s key %d",
                                 x->name, zetl_type_name(x->type), x->precision, x->scale,
                                 x->source_type, x->key_pos, y->name, zetl_type_name(y->type),
                                 y->precision, y->scale, y->source_type, y->key_pos);
                        return false;
                }
        }
        return true;
}

static void check_types(void)
{
        struct my_binlog_pos start;
        struct my_table_map tm = { 0 };
        struct zetl_schema *s = NULL, *bs = NULL;
        struct zetl_batch *bb = NULL;
        struct my_snapshot_opts o = { .batch_rows = 1000 };
        struct sink k = { .keep = true, .streaming = 0 };
        struct zetl_err err = { 0 };
        char why[512] = "", all256[600] = "SET @all256 = x'";
        uint64_t n = 0;
        int rc;

        for (int i = 0; i < 256; i++)
                snprintf(all256 + strlen(all256), 3, "%02x", i);
        strcat(all256, "'");
        if (!sql_ok(types_ddl) || !sql_ok(all256) || !master_pos(&start)) {
                check(false, "types table created");
                return;
        }
        bool ok = sql_ok("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'") && sql_ok("BEGIN");
        for (int i = 0; ok && i < NROWS; i++) {
                char q[8192];
                snprintf(q, sizeof(q), "INSERT INTO " DB ".types " COLS " VALUES %s", rows_sql[i]);
                ok = sql_ok(q);
        }
        ok = ok && sql_ok("COMMIT") && sql_ok("SET SESSION sql_mode = DEFAULT");
        check(ok, "%d rows of every type inserted", NROWS);
        if (!ok)
                return;

        rc = snapshot("types", &tm, &s, NULL, &o, &k, &n, &err);
        check(rc == 0 && n == NROWS && k.n == 1,
              "snapshot of %d columns: %" PRIu64 " rows in %d batch %s", tm.ncols, n, k.n, err.msg);
        check(!k.bad_op, "snapshot rows are ZETL_OP_SNAPSHOT at position 0");
        if (rc || k.n != 1)
                goto out;
        rc = binlog_rows(&start, "types", s, NROWS, &bb, &bs, &err);
        check(rc == 0 && bb && bb->nrows == NROWS, "binlog: %u rows decoded by my_rows %s",
              bb ? bb->nrows : 0, err.msg);
        if (rc || !bb || !bs)
                goto out;
        check(same_schema(s, bs, why, sizeof(why)),
              "schema from information_schema = my_column_map of the binlog TABLE_MAP %s", why);
        why[0] = '\0';
        check(same_cells(k.b[0], bb, why, sizeof(why)),
              "snapshot and binlog batches identical cell for cell %s", why);

        /* A few cells against the documented mapping, so both paths are not wrong alike. */
        int c_biu = zetl_schema_find(s, "biu"), c_dt = zetl_schema_find(s, "dt");
        int c_ts = zetl_schema_find(s, "ts"), c_bn = zetl_schema_find(s, "bn");
        int c_e = zetl_schema_find(s, "e"), c_dzf = zetl_schema_find(s, "dzf");
        int c_f = zetl_schema_find(s, "f"), c_g = zetl_schema_find(s, "g");
        size_t len;
        const uint8_t *v;
        const struct zetl_batch *a = k.b[0];
        v = zetl_batch_get_var(a, c_biu, 2, &len);
        check(s->cols[c_biu].type == ZETL_T_DECIMAL && len == 20 &&
                      memcmp(v, "18446744073709551615", 20) == 0,
              "BIGINT UNSIGNED max as decimal(20,0) text");
        check(zetl_batch_is_null(a, c_dt, 3) && zetl_batch_is_null(a, c_dt, 4) &&
                      zetl_batch_is_null(a, c_ts, 3),
              "zero and invalid dates and the zero TIMESTAMP are NULL");
        check(zetl_batch_get_i64(a, c_ts, 1) == 1000000, "TIMESTAMP 1970-01-01 00:00:01 UTC");
        v = zetl_batch_get_var(a, c_bn, 3, &len);
        check(len == 4 && memcmp(v, "\x01\0\0\0", 4) == 0, "BINARY(4) x'01' padded to 4 bytes");
        v = zetl_batch_get_var(a, c_e, 3, &len);
        check(len == 0 && !zetl_batch_is_null(a, c_e, 3), "invalid ENUM value is ''");
        v = zetl_batch_get_var(a, c_dzf, 3, &len);
        check(len == 6 && memcmp(v, "12.500", 6) == 0, "DECIMAL ZEROFILL without its zeros");
        check(zetl_batch_get_f32(a, c_f, 4) == 16777216.0f &&
                      zetl_batch_get_f32(a, c_f, 3) == 1.00000012f,
              "FLOAT values exact (16777216, 1.00000012)");
        v = zetl_batch_get_var(a, c_g, 1, &len);
        check(len == 21 && v[0] == 1 && v[1] == 1, "GEOMETRY as 21-byte little-endian WKB point");
out:
        zetl_batch_free(bb);
        zetl_schema_unref(bs);
        zetl_schema_unref(s);
        my_table_map_free(&tm);
        sink_free(&k);
}

/* ---- bounded memory ------------------------------------------------------------------ */

static void check_big(void)
{
        struct my_table_map tm = { 0 };
        struct zetl_schema *s = NULL;
        struct my_snapshot_opts o = { .batch_rows = 1000 };
        struct sink k = { .next_id = 1, .in_order = true, .streaming = -1 };
        struct zetl_err err = { 0 };
        uint64_t n = 0;
        int rc;

        bool ok =
                sql_ok("CREATE TABLE " DB ".big (id INT PRIMARY KEY, pad VARCHAR(250))") &&
                sql_ok("INSERT INTO " DB ".big SELECT seq, REPEAT('x', 200) FROM seq_1_to_200000");
        check(ok, "%d rows of about 200 bytes inserted", BIG_ROWS);
        if (!ok)
                return;
        rc = snapshot("big", &tm, &s, NULL, &o, &k, &n, &err);
        check(rc == 0 && n == BIG_ROWS && k.in_order, "big: %" PRIu64 " rows, in key order %s", n,
              err.msg);
        check(k.n == BIG_ROWS / 1000 && k.max_rows == 1000,
              "big: %d batches of at most %zu rows (batch_rows=1000)", k.n, k.max_rows);
        check(k.max_bytes < ((size_t)1 << 20), "big: no batch over 1 MiB (largest %zu bytes)",
              k.max_bytes);
        check(k.streaming == 1, "big: the SELECT still ran on the server at the first batch "
                                "(rows streamed, not stored)");

        /* A byte ceiling: batches end early, every row still arrives once. */
        memset(&k, 0, sizeof(k));
        k.next_id = 1;
        k.in_order = true;
        o.batch_rows = 100000;
        o.batch_bytes = (size_t)1 << 20;
        rc = snapshot("big", &tm, &s, NULL, &o, &k, &n, &err);
        check(rc == 0 && n == BIG_ROWS && k.in_order && k.n > 2 && k.max_bytes <= o.batch_bytes,
              "batch_bytes=1 MiB: %d batches, largest %zu bytes, %" PRIu64 " rows %s", k.n,
              k.max_bytes, n, err.msg);
        zetl_schema_unref(s);
        my_table_map_free(&tm);
}

/* ---- identifiers and TIME outside a day -------------------------------------------------- */

static void check_quoting(void)
{
        struct my_table_map tm = { 0 };
        struct zetl_schema *s = NULL;
        struct sink k = { .keep = true };
        struct zetl_err err = { 0 };
        uint64_t n = 0;
        size_t len;
        int rc;

        bool ok = sql_ok("CREATE TABLE " DB ".`we``ird` (`c``1` INT PRIMARY KEY, `sp ace` "
                         "VARCHAR(10))") &&
                  sql_ok("INSERT INTO " DB ".`we``ird` VALUES (7, 'seven')");
        rc = ok ? snapshot("we`ird", &tm, &s, NULL, NULL, &k, &n, &err) : -1;
        const uint8_t *v = rc == 0 && k.n == 1 ? zetl_batch_get_var(k.b[0], 1, 0, &len) : NULL;
        check(rc == 0 && n == 1 && s && strcmp(s->cols[0].name, "c`1") == 0 &&
                      s->cols[0].key_pos == 1 && zetl_batch_get_i32(k.b[0], 0, 0) == 7 && v &&
                      len == 5 && memcmp(v, "seven", 5) == 0,
              "backticks in table and column names %s", err.msg);
        sink_free(&k);
        zetl_schema_unref(s);
        my_table_map_free(&tm);
}

static void check_time_range(void)
{
        struct my_table_map tm = { 0 };
        struct zetl_schema *s = NULL, *str = NULL;
        struct sink k = { .keep = true };
        struct zetl_err err = { 0 };
        uint64_t n = 0;
        size_t len;
        int rc;

        bool ok = sql_ok("CREATE TABLE " DB ".tod (id INT PRIMARY KEY, t TIME(1))") &&
                  sql_ok("INSERT INTO " DB ".tod VALUES (1, '838:59:59'), (2, '-12:00:00.5')");
        if (!ok) {
                check(false, "TIME table created");
                return;
        }
        rc = snapshot("tod", &tm, &s, NULL, NULL, &k, &n, &err);
        check(rc == ZETL_EUNSUPPORTED && k.n == 0 && strstr(err.msg, "outside a day"),
              "TIME 838:59:59 refused in a time column (%s)", err.msg);
        sink_free(&k);
        k.keep = true;
        memset(&err, 0, sizeof(err));
        str = s ? zetl_schema_clone(s) : NULL;
        if (str)
                str->cols[1].type = ZETL_T_STRING;
        rc = str ? snapshot("tod", &tm, &s, str, NULL, &k, &n, &err) : -1;
        const uint8_t *a = rc == 0 && k.n == 1 ? zetl_batch_get_var(k.b[0], 1, 0, &len) : NULL;
        bool first = a && len == 11 && memcmp(a, "838:59:59.0", 11) == 0;
        const uint8_t *b = a ? zetl_batch_get_var(k.b[0], 1, 1, &len) : NULL;
        check(first && b && len == 11 && memcmp(b, "-12:00:00.5", 11) == 0,
              "TIME published as string: MySQL's text (838:59:59.0, -12:00:00.5) %s", err.msg);
        sink_free(&k);
        zetl_schema_unref(str);
        zetl_schema_unref(s);
        my_table_map_free(&tm);
}

static void check_missing(void)
{
        struct my_table_map tm = { 0 };
        struct zetl_err err = { 0 };
        int rc = my_snapshot_describe(sql, flavor, DB, "no_such_table", &tm, &err);

        check(rc == ZETL_ENOTFOUND && err.cls == ZETL_ERRC_CONFIG, "missing table: %s", err.msg);
        my_table_map_free(&tm);
}

int main(void)
{
        const char *uri = getenv("ZETL_TEST_MY_URI");
        struct zetl_err err = { 0 };
        struct my_server_info info;

        if (!uri || !*uri) {
                printf("skip: ZETL_TEST_MY_URI is not set (run through scripts/run-tests.sh)\n");
                return 77;
        }
        if (my_conn_parse(uri, &params, &err) || my_conn_open(&params, &sql, &err)) {
                printf("cannot connect to ZETL_TEST_MY_URI: %s\n", err.msg);
                my_conn_params_free(&params);
                return 1;
        }
        if (my_server_info(sql, &info, &err) == 0)
                flavor = info.flavor;
        if (sql_ok("DROP DATABASE IF EXISTS " DB) && sql_ok("CREATE DATABASE " DB)) {
                check_types();
                check_big();
                check_quoting();
                check_time_range();
                check_missing();
                sql_ok("DROP DATABASE IF EXISTS " DB);
        } else {
                check(false, "database " DB " created");
        }
        my_conn_close(sql);
        my_conn_params_free(&params);
        mysql_library_end();
        printf("%d checks, %d failed\n", checks, failures);
        return failures ? 1 : 0;
}
