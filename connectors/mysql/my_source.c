/*
 * The MySQL/MariaDB source (mysql://... or mariadb://...): a consistent
 * snapshot whose binlog coordinates are known exactly (MariaDB:
 * START TRANSACTION WITH CONSISTENT SNAPSHOT and binlog_snapshot_*, no lock;
 * MySQL: a short FLUSH TABLES WITH READ LOCK), read table by table with
 * bounded memory, then the binlog from those coordinates (my_stream.c).
 * There is nothing to create on the server: set-up only checks the
 * prerequisites and prints the statements that fix what is wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "my_snapshot.h"
#include "my_source.h"
#include "zetl/log.h"
#include "zetl/source.h"

static int mys_parse(const char *uri, struct zetl_err *err)
{
        struct my_conn_params p = { 0 };
        int rc = my_conn_parse(uri, &p, err);

        my_conn_params_free(&p);
        return rc;
}

static void mys_close(void *priv)
{
        struct my_src *s = priv;

        my_binlog_close(s->bl);
        my_conn_close(s->conn);
        my_tables_free(s);
        my_conn_params_free(&s->params);
        memset(s, 0, sizeof(*s));
}

static int connect_sql(struct my_src *s, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct my_server_info info;
        int rc;

        s->cfg = cfg;
        if ((rc = my_conn_parse(cfg->uri, &s->params, err)) ||
            (rc = my_conn_open(&s->params, &s->conn, err)) ||
            (rc = my_server_info(s->conn, &info, err)))
                return rc;
        s->flavor = info.flavor;
        return 0;
}

static int mys_setup(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct my_src *s = priv;
        struct my_setup_report *r = calloc(1, sizeof(*r));
        char *text = malloc(8192);
        int rc;

        if (!r || !text) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out;
        }
        if ((rc = connect_sql(s, cfg, err)) || (rc = my_setup_check(s->conn, r, err)))
                goto out;
        my_setup_format(r, text, 8192);
        if (r->nfail > 0) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "the source is not ready for binlog replication:\n%s", text);
                goto out;
        }
        if (r->nwarn > 0)
                zlog_warn("the source works, with these consequences:\n%s", text);
out:
        free(r);
        free(text);
        mys_close(s);
        return rc;
}

/* The selected tables without a primary key: warnings (not fixable by zetl). */
static int check_keys(struct my_src *s, struct zetl_check_report *rep, struct zetl_err *err)
{
        MYSQL_RES *res;
        MYSQL_ROW row;
        int selected = 0, keyed = 0;

        if (mysql_query(s->conn,
                        "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, EXISTS (SELECT 1 FROM "
                        "information_schema.TABLE_CONSTRAINTS c WHERE c.TABLE_SCHEMA = "
                        "t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND c.CONSTRAINT_TYPE = "
                        "'PRIMARY KEY') FROM information_schema.TABLES t WHERE t.TABLE_TYPE = "
                        "'BASE TABLE' AND t.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', "
                        "'performance_schema', 'sys') ORDER BY 1, 2") ||
            !(res = mysql_store_result(s->conn)))
                return my_conn_error(s->conn, "listing tables", err);
        while ((row = mysql_fetch_row(res))) {
                struct zetl_table_id id;
                struct zetl_check_item *it;
                if (zetl_table_id_set(&id, row[0], "", row[1]) ||
                    !zetl_filter_table(s->cfg->filter, &id))
                        continue;
                selected++;
                if (row[2] && strcmp(row[2], "1") == 0) {
                        keyed++;
                        continue;
                }
                if ((it = zetl_check_add(rep, ZETL_CHECK_WARN, "table_key",
                                         "%.100s.%.100s has no primary key: its changes cannot be "
                                         "applied by key and it will need attention",
                                         row[0], row[1])))
                        snprintf(it->fix, sizeof(it->fix),
                                 "ALTER TABLE `%.100s`.`%.100s` ADD PRIMARY KEY (...);", row[0],
                                 row[1]);
        }
        mysql_free_result(res);
        if (selected == 0)
                zetl_check_add(rep, ZETL_CHECK_WARN, "tables", "the filter selects no table");
        else
                zetl_check_add(rep, keyed == selected ? ZETL_CHECK_OK : ZETL_CHECK_WARN, "tables",
                               "%d table%s selected, %d with a primary key", selected,
                               selected == 1 ? "" : "s", keyed);
        return 0;
}

/* zetl check: my_setup_check's items; --fix sets the binlog variables that are
 * dynamic (for new sessions; the configuration file keeps them over a restart,
 * which the fix text says). */
static int mys_check(void *priv, const struct zetl_conn_cfg *cfg, bool fix,
                     struct zetl_check_report *rep, struct zetl_err *err)
{
        static const struct {
                const char *name, *value;
        } dynamic[] = { { "binlog_format", "ROW" },
                        { "binlog_row_image", "FULL" },
                        { "binlog_row_metadata", "FULL" } };
        struct my_src *s = priv;
        struct my_setup_report *r = calloc(1, sizeof(*r));
        struct zetl_err e2;
        unsigned fixed = 0; /* bit k: dynamic[k] set by --fix */
        int rc = 0;

        if (!r)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        if (connect_sql(s, cfg, &e2)) {
                struct zetl_check_item *it =
                        zetl_check_add(rep, ZETL_CHECK_FAIL, "connection", "%s", e2.msg);
                if (it)
                        snprintf(it->fix, sizeof(it->fix),
                                 "check the URI, the server and the user's password");
                goto out;
        }
        for (int pass = 0; pass < 2; pass++) {
                bool changed = false;
                memset(r, 0, sizeof(*r));
                if ((rc = my_setup_check(s->conn, r, err)))
                        goto out;
                for (int i = 0; pass == 0 && fix && i < r->nitems; i++) {
                        for (size_t k = 0; k < sizeof(dynamic) / sizeof(dynamic[0]); k++) {
                                char sql[128];
                                if (r->items[i].level == MY_CHECK_OK ||
                                    strcmp(r->items[i].name, dynamic[k].name) != 0)
                                        continue;
                                snprintf(sql, sizeof(sql), "SET GLOBAL %s = '%s'", dynamic[k].name,
                                         dynamic[k].value);
                                if (my_exec(s->conn, sql, "fixing a binlog setting", &e2) == 0) {
                                        changed = true;
                                        fixed |= 1u << k;
                                }
                        }
                }
                if (!changed)
                        break;
        }
        zetl_check_add(rep, ZETL_CHECK_OK, "connection", "connected as %s", r->user);
        for (int i = 0; i < r->nitems; i++) {
                const struct my_check_item *m = &r->items[i];
                struct zetl_check_item *it =
                        zetl_check_add(rep,
                                       m->level == MY_CHECK_OK     ? ZETL_CHECK_OK
                                       : m->level == MY_CHECK_WARN ? ZETL_CHECK_WARN
                                                                   : ZETL_CHECK_FAIL,
                                       m->name, "%s", m->detail);
                if (!it)
                        continue;
                snprintf(it->fix, sizeof(it->fix), "%s", m->fix);
                for (size_t k = 0; k < sizeof(dynamic) / sizeof(dynamic[0]); k++) {
                        if (strcmp(m->name, dynamic[k].name) != 0)
                                continue;
                        if (m->level != MY_CHECK_OK || (fixed & (1u << k)))
                                snprintf(it->fix_sql, sizeof(it->fix_sql), "SET GLOBAL %s = '%s'",
                                         dynamic[k].name, dynamic[k].value);
                        it->fixed = (fixed & (1u << k)) && m->level == MY_CHECK_OK;
                }
        }
        rc = check_keys(s, rep, err);
out:
        free(r);
        mys_close(s);
        return rc;
}

static int mys_teardown(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        (void)priv;
        (void)cfg;
        (void)err;
        return 0; /* nothing was created on the server */
}

static int mys_open(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        return connect_sql(priv, cfg, err);
}

/* The initial sync's running totals, for its progress line. */
struct snap_emit {
        struct zetl_emitter *em;
        long long done, expect, t0_ms;
        int ntables;
};

static int hand_on(void *arg, struct zetl_batch *b, struct zetl_err *err)
{
        struct snap_emit *se = arg;

        se->done += b->nrows;
        zetl_emit_progress_line(se->em, se->done, se->expect, se->ntables, se->t0_ms, false);
        return zetl_emit_batch(se->em, b, err);
}

/* One table of the snapshot: described, announced, emptied, copied. */
static int snapshot_table(struct my_src *s, struct snap_emit *se, const char *db, const char *table,
                          struct zetl_err *err)
{
        struct zetl_emitter *em = se->em;
        struct my_tbl *t = calloc(1, sizeof(*t));
        long long before = se->done;
        uint64_t rows = 0;
        int rc;

        if (!t)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        zetl_table_id_set(&t->id, db, "", table);
        t->next = s->tables;
        s->tables = t;
        rc = my_snapshot_describe(s->conn, s->flavor, db, table, &t->tm, err);
        t->tm.table_id = MY_NO_TABLE_ID; /* not an id of the binlog's */
        if (rc || (rc = my_snapshot_schema(&t->tm, &t->schema, err)))
                return zetl_err_prefix(err, "table %s.%s: ", db, table);
        if (t->schema->nkeys == 0) {
                char msg[ZETL_ERR_MSG_MAX];
                snprintf(msg, sizeof(msg),
                         "no primary key: its changes cannot be applied by key. Fix: ALTER TABLE "
                         "`%.100s`.`%.100s` ADD PRIMARY KEY (...); then resync",
                         db, table);
                zetl_emit_table_error(em, &t->id, msg);
                t->failed = true;
                return 0;
        }
        /* Column identities, kept through later renames (my_stream.c). */
        for (int i = 0; i < t->schema->ncols; i++)
                t->schema->cols[i].source_id = my_colid(t, t->schema->cols[i].name);
        if ((rc = zetl_emit_schema(em, t->schema, err)) ||
            (rc = zetl_emit_snapshot_table(em, t->schema, err)) ||
            (rc = my_snapshot_table(s->conn, &t->tm, t->schema, NULL, hand_on, se, &rows, err)))
                return rc;
        se->done = before + (long long)rows;
        zetl_emit_progress(em, &t->id, (int64_t)rows, (int64_t)rows);
        return 0;
}

static int snapshot(struct my_src *s, struct zetl_emitter *em, struct my_binlog_pos *pos,
                    struct zetl_err *err)
{
        int rc;
        MYSQL_RES *res;
        MYSQL_ROW row;
        char text[ZETL_POS_TOKEN_MAX];
        struct snap_emit se = { .em = em };

        if ((rc = my_snapshot_start(s->conn, MY_SNAPSHOT_AUTO, pos, err)))
                return rc;
        /* TABLE_ROWS is InnoDB's estimate: only for the progress line. */
        if (mysql_query(s->conn, "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS "
                                 "FROM information_schema.TABLES "
                                 "WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN "
                                 "('mysql', 'information_schema', 'performance_schema', 'sys') "
                                 "ORDER BY 1, 2") ||
            !(res = mysql_store_result(s->conn))) {
                rc = my_conn_error(s->conn, "listing tables", err);
                goto out;
        }
        while ((row = mysql_fetch_row(res))) {
                struct zetl_table_id id;
                if (zetl_table_id_set(&id, row[0], "", row[1]) || !zetl_emit_wants(em, &id))
                        continue;
                se.expect += row[2] ? atoll(row[2]) : 0;
                se.ntables++;
        }
        mysql_data_seek(res, 0);
        se.t0_ms = zetl_now_ms();
        while ((row = mysql_fetch_row(res)) && rc == 0) {
                struct zetl_table_id id;
                if (zetl_table_id_set(&id, row[0], "", row[1]) || !zetl_emit_wants(em, &id))
                        continue;
                rc = snapshot_table(s, &se, row[0], row[1], err);
        }
        mysql_free_result(res);
        if (rc)
                goto out;
        zetl_emit_progress_line(em, se.done, se.expect, se.ntables, se.t0_ms, true);
        my_binlog_pos_format(pos, text, sizeof(text));
        struct zetl_position p = { 0 };
        if (my_binlog_order(pos->file, pos->offset, &p.order)) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL, "bad binlog file name %s",
                                  pos->file);
                goto out;
        }
        zetl_pos_set(&p, p.order, text);
        rc = zetl_emit_snapshot_done(em, &p, err);
        zlog_info("initial sync consistent at %s", text);
out : {
        struct zetl_err e2;
        my_exec(s->conn, "COMMIT", "ending the snapshot", &e2);
}
        return rc;
}

static int mys_run(void *priv, struct zetl_emitter *em, const struct zetl_resume *resume,
                   struct zetl_err *err)
{
        struct my_src *s = priv;
        struct my_binlog_pos start;
        int rc;

        if (!resume->snapshot_done) {
                if ((rc = snapshot(s, em, &start, err)))
                        return rc;
        } else if ((rc = my_binlog_pos_parse(resume->pos.token, &start, err))) {
                return rc;
        }
        return my_stream_run(s, em, &start, err);
}

static const char *const my_schemes[] = { "mysql", "mariadb", NULL };

const struct zetl_source_ops zetl_my_source = {
        .name = "mysql",
        .schemes = my_schemes,
        .caps = ZETL_SRC_SNAPSHOT | ZETL_SRC_STREAM,
        .priv_size = sizeof(struct my_src),
        .filter_dialect = ZETL_FILTER_MYSQL,
        .parse = mys_parse,
        .setup = mys_setup,
        .teardown = mys_teardown,
        .check = mys_check,
        .open = mys_open,
        .run = mys_run,
        .close = mys_close,
};
