/*
 * The PostgreSQL source (postgresql://... or a libpq keyword/value string):
 * a consistent snapshot copied in parallel, then pgoutput streaming, behind
 * the source ops. Set-up and tear-down are in pg_setup.c, the table catalog
 * in pg_catalog.c, the initial sync in pg_snapshot.c, streaming in
 * pg_stream.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_source.h"
#include "zetl/log.h"

/* Session settings the decoders rely on, for the walsender too (the SQL
 * connection sets them itself, see pg_connect). */
#define WALSENDER_OPTIONS                                                                          \
        "-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=iso_8601 -c extra_float_digits=3 "      \
        "-c bytea_output=hex -c lc_monetary=C"

static int pgs_parse(const char *uri, struct zetl_err *err)
{
        /* A URI (not a keyword/value string) also obeys zetl's URI rules, so
         * zetl_uri_redact hides its password wherever it is printed. */
        if (!zetl_is_conninfo(uri)) {
                struct zetl_uri u;
                int rc = zetl_uri_parse(uri, &u, err);
                if (rc)
                        return rc;
                zetl_uri_free(&u);
        }
        char *msg = NULL;
        PQconninfoOption *o = PQconninfoParse(uri, &msg);
        int rc = 0;

        if (!o) {
                size_t n = msg ? strlen(msg) : 0;
                while (n > 0 && msg[n - 1] == '\n')
                        n--;
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "PostgreSQL source: %.*s",
                                  (int)n, msg ? msg : "cannot parse the connection string");
                PQfreemem(msg);
                return rc;
        }
        for (PQconninfoOption *p = o; p->keyword; p++) {
                if (strcmp(p->keyword, "replication") == 0 && p->val)
                        rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                          "PostgreSQL source: leave out \"replication\": zetl "
                                          "opens its replication connection itself");
        }
        PQconninfoFree(o);
        return rc;
}

/* The SQL connection, the database name and what set-up recorded. */
static int open_sql(struct pg_src *s, const struct zetl_conn_cfg *cfg, bool *found,
                    struct zetl_err *err)
{
        int rc;

        s->cfg = cfg;
        if ((rc = pg_connect(cfg->uri, &s->conn, err)) ||
            (rc = pg_query_value(s->conn, "SELECT current_database()", "reading the database",
                                 s->dbname, sizeof(s->dbname), err)))
                return rc;
        return pg_setup_load(cfg->state_dir, &s->setup, found, err);
}

static void pgs_close(void *priv)
{
        struct pg_src *s = priv;

        pg_repl_close(s->repl);
        PQfinish(s->conn);
        pg_rels_free(s);
        memset(s, 0, sizeof(*s));
}

static int pgs_setup(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct pg_src *s = priv;
        bool found;
        int rc = open_sql(s, cfg, &found, err);

        if (rc == 0)
                rc = pg_setup_run(s, err);
        pgs_close(s);
        return rc;
}

static int pgs_check(void *priv, const struct zetl_conn_cfg *cfg, bool fix,
                     struct zetl_check_report *r, struct zetl_err *err)
{
        struct pg_src *s = priv;
        int rc;

        s->cfg = cfg;
        if (pg_connect(cfg->uri, &s->conn, err)) {
                /* Not reaching the server is the first thing check reports. */
                struct zetl_check_item *it =
                        zetl_check_add(r, ZETL_CHECK_FAIL, "connection", "%s", err->msg);
                if (it)
                        snprintf(it->fix, sizeof(it->fix),
                                 "check the URI, the server, pg_hba.conf and the password");
                zetl_err_clear(err);
                rc = 0;
        } else if ((rc = pg_query_value(s->conn, "SELECT current_database()",
                                        "reading the database", s->dbname, sizeof(s->dbname),
                                        err)) == 0) {
                rc = pg_check_run(s, fix, r, err);
        }
        pgs_close(s);
        return rc;
}

static int pgs_teardown(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct pg_src *s = priv;
        bool found = false;
        int rc = open_sql(s, cfg, &found, err);

        if (rc == 0 && found)
                rc = pg_teardown_run(s, err);
        pgs_close(s);
        return rc;
}

static int pgs_open(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct pg_src *s = priv;
        long long workers;
        bool found;
        int rc;

        long long proto;

        if ((rc = zetl_cfg_opt_int(cfg, "snapshot-workers", 2, 1, 64, &workers, err)) ||
            (rc = zetl_cfg_opt_int(cfg, "pgoutput-protocol", 0, 1, 2, &proto, err)))
                return rc;
        s->proto_version = (int)proto;
        s->apply_in_progress = true;
        const char *aip = zetl_cfg_opt(cfg, "apply-in-progress");
        if (aip && !strcmp(aip, "false"))
                s->apply_in_progress = false;
        else if (aip && strcmp(aip, "true"))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "apply-in-progress must be true or false, not \"%s\"", aip);
        s->decoding_work_mem = zetl_cfg_opt(cfg, "logical-decoding-work-mem");
        if (s->decoding_work_mem && !pg_repl_size_ok(s->decoding_work_mem))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "logical-decoding-work-mem must be a size such as 16MB "
                                    "(digits, then kB, MB or GB), not \"%.40s\"",
                                    s->decoding_work_mem);
        if ((rc = open_sql(s, cfg, &found, err)))
                return rc;
        if (!found || !s->setup.created_slot)
                return zetl_err_set(err, ZETL_ESTATE, ZETL_ERRC_CONFIG,
                                    "the PostgreSQL source of this integration has no slot "
                                    "(postgres.json is missing or incomplete): delete and "
                                    "create the integration again");
        s->snapshot_workers = (int)workers;
        s->binary = true;
        /* libpq reads PGOPTIONS when the connection string has no options:
         * the walsender then formats text values as the decoders expect.
         * Ours come last, so they win over the same settings given before. */
        const char *user = getenv("PGOPTIONS");
        if (!user || !strstr(user, WALSENDER_OPTIONS)) {
                char opts[1024];
                snprintf(opts, sizeof(opts), "%s%s%s", user ? user : "", user ? " " : "",
                         WALSENDER_OPTIONS);
                setenv("PGOPTIONS", opts, 1);
        }
        return pg_repl_open(cfg->uri, &s->repl, err);
}

static int pgs_run(void *priv, struct zetl_emitter *em, const struct zetl_resume *resume,
                   struct zetl_err *err)
{
        struct pg_src *s = priv;
        uint64_t start = resume->pos.order;
        bool text_only = false;
        int rc;

        if (!resume->snapshot_done) {
                if ((rc = pg_snapshot_run(s, em, &start, err)))
                        return rc;
        } else if (resume->pos.token[0] && zetl_lsn_parse(resume->pos.token, &start)) {
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "checkpoint position \"%s\" is not an LSN", resume->pos.token);
        }
        for (struct pg_rel *r = s->rels; r; r = r->next)
                text_only |= !r->excluded && r->text_only;
        if ((rc = pg_tables_text_only(s, em, &text_only, err)) ||
            (resume->snapshot_done && (rc = pg_report_keyless(s, em, err))))
                return rc;
        s->binary = !text_only;
        return pg_stream_run(s, em, start, err);
}

static const char *const pg_schemes[] = { "postgresql", "postgres", NULL };

const struct zetl_source_ops zetl_pg_source = {
        .name = "postgres",
        .schemes = pg_schemes,
        .caps = ZETL_SRC_SNAPSHOT | ZETL_SRC_STREAM | ZETL_SRC_SETUP,
        .priv_size = sizeof(struct pg_src),
        .filter_dialect = ZETL_FILTER_PG,
        .parse = pgs_parse,
        .setup = pgs_setup,
        .teardown = pgs_teardown,
        .check = pgs_check,
        .open = pgs_open,
        .run = pgs_run,
        .close = pgs_close,
};
