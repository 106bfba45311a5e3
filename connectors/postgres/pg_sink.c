/*
 * The warehouse sink: a PostgreSQL database (or, with ?dialect=redshift, an
 * Amazon Redshift one) as the target. Each source table becomes
 * "<db>_<schema>"."<table>" with mapped types and the same primary key.
 *
 * Everything between two commits is one target transaction: the DDL of
 * schema changes, every batch (staged into a temporary table by binary COPY,
 * then applied by one MERGE per batch), truncates, and the integration's row
 * in "_zetl"."checkpoints". So the data and the position it reaches become
 * durable together, and resume() reads the position back: a crash anywhere
 * replays exactly what the target does not have.
 *
 * Each write, schema change and truncate runs under a savepoint: when one
 * table's statement fails on its data (a constraint, a type, a value the
 * target refuses) the savepoint is rolled back and ZETL_ETABLE tells the core
 * to set that table aside (needs_attention) while the others keep flowing in
 * the same transaction. A lost connection is transient: the core reopens and
 * replays from resume().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>

#include "pg_repl.h"
#include "pg_sink_copy.h"
#include "pg_sink_sql.h"
#include "zetl/config.h"
#include "zetl/log.h"
#include "zetl/sink.h"

/* Staged bytes handed to libpq at a time, and the ceiling of one buffer (a
 * single value can be 1 GiB). */
#define COPY_CHUNK     ((size_t)1 << 20)
#define BUF_MAX        (((size_t)1 << 30) + ((size_t)64 << 20))
#define RS_STMT_TARGET ((size_t)8 << 20) /* Redshift statements are at most 16 MB */
#define SQL_MAX        ((size_t)256 << 20)

struct wh_table {
        struct zetl_table_id id;
        const struct zetl_schema *schema; /* the shape the target has (a reference) */
        int no;                           /* numbers its staging tables */
        bool warned_nokey;
        /* Emptied for an initial sync in this session, and its columns have
         * the staging types: its snapshot rows are copied straight in. */
        bool direct;
};

struct pg_sink {
        PGconn *conn;
        struct wh_opts o;
        char *integration;
        bool in_txn;
        struct wh_table *tables;
        int ntables, cap;
        struct wh_buf sql, data;
};

/* ---- options and connection -------------------------------------------------- */

static int parse_bool(const char *v, bool *out)
{
        if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") ||
            !strcasecmp(v, "on"))
                *out = true;
        else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") ||
                 !strcasecmp(v, "off"))
                *out = false;
        else
                return -1;
        return 0;
}

static bool our_param(const char *k)
{
        return !strcmp(k, "dialect") || !strcmp(k, "drop-columns") || !strcmp(k, "soft-delete");
}

/* The sink's options from URI parameters, then --option warehouse-*. */
static int read_opts(const struct zetl_uri *u, const struct zetl_conn_cfg *cfg, struct wh_opts *o,
                     struct zetl_err *err)
{
        static const struct {
                const char *param, *opt;
        } keys[] = {
                { "dialect", "warehouse-dialect" },
                { "drop-columns", "warehouse-drop-columns" },
                { "soft-delete", "warehouse-soft-delete" },
        };

        memset(o, 0, sizeof(*o));
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                const char *v = u ? zetl_uri_param(u, keys[k].param) : NULL;
                const char *name = keys[k].param;
                if (cfg && zetl_cfg_opt(cfg, keys[k].opt)) {
                        v = zetl_cfg_opt(cfg, keys[k].opt);
                        name = keys[k].opt;
                }
                if (!v)
                        continue;
                if (k == 0) {
                        if (!strcasecmp(v, "redshift"))
                                o->dialect = WH_REDSHIFT;
                        else if (!strcasecmp(v, "postgres") || !strcasecmp(v, "postgresql"))
                                o->dialect = WH_POSTGRES;
                        else
                                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                                    "%s must be postgresql or redshift, not "
                                                    "\"%s\"",
                                                    name, v);
                } else if (parse_bool(v, k == 1 ? &o->drop_columns : &o->soft_delete)) {
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                            "%s must be true or false, not \"%s\"", name, v);
                }
        }
        return 0;
}

static int pg_sink_parse(const char *uri, struct zetl_err *err)
{
        struct zetl_uri u;
        struct wh_opts o;
        int rc;

        if (zetl_is_conninfo(uri))
                return 0;
        if ((rc = zetl_uri_parse(uri, &u, err)))
                return rc;
        if (u.opaque || !u.path || strlen(u.path) < 2)
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "a PostgreSQL target needs a database: "
                                  "postgresql://user@host:port/database");
        else
                rc = read_opts(&u, NULL, &o, err);
        zetl_uri_free(&u);
        return rc;
}

/* Connect with the URI's parts as libpq keywords (our own parameters
 * removed: libpq refuses unknown ones). */
static int connect_target(struct pg_sink *s, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        const char *kw[64], *val[64];
        char port[16];
        struct zetl_uri u = { 0 };
        bool parsed = false;
        int n = 0, rc = 0;

        if (zetl_is_conninfo(cfg->uri)) {
                kw[n] = "dbname", val[n++] = cfg->uri;
                if ((rc = read_opts(NULL, cfg, &s->o, err)))
                        return rc;
        } else {
                if ((rc = zetl_uri_parse(cfg->uri, &u, err)))
                        return rc;
                parsed = true;
                if ((rc = read_opts(&u, cfg, &s->o, err)))
                        goto out;
                /* Our defaults first: libpq takes a keyword's last value, so
                 * the URI's own connect_timeout or keepalives win. */
                kw[n] = "connect_timeout", val[n++] = "10";
                kw[n] = "keepalives_idle", val[n++] = "30";
                kw[n] = "keepalives_interval", val[n++] = "10";
                kw[n] = "keepalives_count", val[n++] = "3";
                if (u.host)
                        kw[n] = "host", val[n++] = u.host;
                if (u.port) {
                        snprintf(port, sizeof(port), "%d", u.port);
                        kw[n] = "port", val[n++] = port;
                }
                if (u.user)
                        kw[n] = "user", val[n++] = u.user;
                if (u.password)
                        kw[n] = "password", val[n++] = u.password;
                kw[n] = "dbname", val[n++] = u.path + (u.path[0] == '/');
                for (int i = 0; i < u.nparams && n < 50; i++)
                        if (!our_param(u.params[i].key))
                                kw[n] = u.params[i].key, val[n++] = u.params[i].value;
        }
        kw[n] = "client_encoding", val[n++] = "UTF8";
        kw[n] = "fallback_application_name", val[n++] = "zetl";
        if (!parsed) { /* a conninfo string: its values are expanded first */
                kw[n] = "connect_timeout", val[n++] = "10";
                kw[n] = "keepalives_idle", val[n++] = "30";
        }
        kw[n] = NULL, val[n] = NULL;
        /* expand_dbname: a conninfo string in "dbname" is expanded; our own
         * keywords after it win where both are set. */
        s->conn = PQconnectdbParams(kw, val, parsed ? 0 : 1);
        if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
                char msg[ZETL_ERR_MSG_MAX];
                snprintf(msg, sizeof(msg), "%s",
                         s->conn ? PQerrorMessage(s->conn) : "out of memory");
                msg[strcspn(msg, "\n")] = '\0';
                /* A password, certificate or pg_hba.conf refusal does not heal. */
                rc = zetl_err_set(err, ZETL_ECONN,
                                  pg_conn_error_is_config(msg) ? ZETL_ERRC_CONFIG
                                                               : ZETL_ERRC_TRANSIENT,
                                  "cannot connect to the warehouse: %s", msg);
                PQfinish(s->conn);
                s->conn = NULL;
        }
out:
        if (parsed)
                zetl_uri_free(&u);
        return rc;
}

/* ---- errors ------------------------------------------------------------------- */

/* Classify a failed statement: a lost connection or a server going away is
 * transient; an error caused by one table's data or shape is ZETL_ETABLE;
 * anything else is fatal. */
static int sql_fail(struct pg_sink *s, PGresult *res, const char *what, struct zetl_err *err)
{
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        char msg[ZETL_ERR_MSG_MAX];
        int code = ZETL_EIO;
        enum zetl_err_class cls = ZETL_ERRC_FATAL;

        snprintf(msg, sizeof(msg), "%s",
                 res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res)
                                                     : PQerrorMessage(s->conn));
        msg[strcspn(msg, "\n")] = '\0';
        if (PQstatus(s->conn) != CONNECTION_OK || !state) {
                code = ZETL_ECONN;
                cls = ZETL_ERRC_TRANSIENT;
        } else if (!strncmp(state, "08", 2) || !strncmp(state, "40", 2) ||
                   !strncmp(state, "53", 2) || !strncmp(state, "57", 2) ||
                   !strncmp(state, "58", 2) || !strcmp(state, "55P03")) {
                cls = ZETL_ERRC_TRANSIENT;
        } else if (!strncmp(state, "22", 2) || !strncmp(state, "23", 2) ||
                   !strncmp(state, "42", 2) || !strncmp(state, "44", 2) ||
                   !strncmp(state, "0A", 2)) {
                code = ZETL_ETABLE;
        }
        return zetl_err_set(err, code, cls, "%s: %s%s%s%s", what, msg, state ? " (SQLSTATE " : "",
                            state ? state : "", state ? ")" : "");
}

/* Run sql (one or several statements); 0 or a classified error. */
static int exec(struct pg_sink *s, const char *sql, const char *what, struct zetl_err *err)
{
        PGresult *res = PQexec(s->conn, sql);
        int rc = 0;

        if (!res ||
            (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK))
                rc = sql_fail(s, res, what, err);
        PQclear(res);
        return rc;
}

static PGresult *query(struct pg_sink *s, const char *sql, int n, const char *const *params,
                       const char *what, struct zetl_err *err)
{
        PGresult *res = PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);

        if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
                sql_fail(s, res, what, err);
                PQclear(res);
                return NULL;
        }
        return res;
}

static int sql_ready(struct wh_buf *b, struct zetl_err *err)
{
        if (b->failed)
                return zetl_err_set(err, ZETL_ELIMIT, ZETL_ERRC_FATAL,
                                    "a statement grew past %zu bytes", b->max);
        return 0;
}

static int begin(struct pg_sink *s, struct zetl_err *err)
{
        int rc;

        if (s->in_txn)
                return 0;
        if ((rc = exec(s, "BEGIN", "BEGIN", err)))
                return rc;
        s->in_txn = true;
        return 0;
}

/* After a table's statement failed: undo it, keep the transaction. Returns
 * rc, or the error of the rollback itself. */
static int undo_table(struct pg_sink *s, int rc, const struct zetl_table_id *id,
                      struct zetl_err *err)
{
        struct zetl_err e2;
        char name[ZETL_NAME_MAX * 3];

        if (rc != ZETL_ETABLE)
                return rc;
        if (exec(s, "ROLLBACK TO SAVEPOINT zetl_t; RELEASE SAVEPOINT zetl_t",
                 "ROLLBACK TO SAVEPOINT", &e2)) {
                *err = e2;
                return err->code;
        }
        zetl_err_prefix(err, "warehouse table for %s: ", zetl_table_id_str(id, name, sizeof(name)));
        return rc;
}

/* ---- tables --------------------------------------------------------------------- */

static struct wh_table *table_get(struct pg_sink *s, const struct zetl_table_id *id, bool add)
{
        for (int i = 0; i < s->ntables; i++)
                if (zetl_table_id_eq(&s->tables[i].id, id))
                        return &s->tables[i];
        if (!add)
                return NULL;
        if (s->ntables == s->cap) {
                int ncap = s->cap ? s->cap * 2 : 16;
                struct wh_table *n = realloc(s->tables, (size_t)ncap * sizeof(*n));
                if (!n)
                        return NULL;
                s->tables = n;
                s->cap = ncap;
        }
        struct wh_table *t = &s->tables[s->ntables];
        memset(t, 0, sizeof(*t));
        t->id = *id;
        t->no = ++s->ntables;
        return t;
}

/* ---- sink ops ------------------------------------------------------------------- */

static int ensure_control(struct pg_sink *s, struct zetl_err *err)
{
        static const char *const q = "SELECT 1 FROM information_schema.tables WHERE "
                                     "table_schema = '_zetl' AND table_name = 'checkpoints'";
        PGresult *res = query(s, q, 0, NULL, "looking for _zetl.checkpoints", err);
        int rc;

        if (!res)
                return err->code;
        rc = PQntuples(res) > 0;
        PQclear(res);
        if (rc)
                return 0;
        wh_buf_reset(&s->sql);
        wh_sql_checkpoint_ddl(&s->sql, s->o.dialect);
        if ((rc = sql_ready(&s->sql, err)))
                return rc;
        return exec(s, wh_buf_str(&s->sql), "creating _zetl.checkpoints", err);
}

static void sink_free(struct pg_sink *s)
{
        for (int i = 0; i < s->ntables; i++)
                if (s->tables[i].schema)
                        zetl_schema_unref(s->tables[i].schema);
        free(s->tables);
        s->tables = NULL;
        s->ntables = s->cap = 0;
        free(s->integration);
        s->integration = NULL;
        wh_buf_free(&s->sql);
        wh_buf_free(&s->data);
        if (s->conn)
                PQfinish(s->conn);
        s->conn = NULL;
        s->in_txn = false;
}

static int pg_sink_open(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct pg_sink *s = priv;
        int rc;

        memset(s, 0, sizeof(*s));
        wh_buf_init(&s->sql, SQL_MAX);
        wh_buf_init(&s->data, BUF_MAX);
        if (!(s->integration = strdup(cfg->integration ? cfg->integration : ""))) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto fail;
        }
        if ((rc = connect_target(s, cfg, err)))
                goto fail;
        /* NOTICEs ("already exists, skipping") are noise on stderr. */
        if ((rc = exec(s, "SET client_min_messages = warning", "SET", err)))
                goto fail;
        /* A batch is small next to its table: the MERGE should probe the
         * primary key per staged row. The planner, blind to a fresh temporary
         * table's size, otherwise hashes the whole target for every batch
         * (0.5 s per 100k rows into 1M, quadratic over an initial sync). */
        if (s->o.dialect == WH_POSTGRES &&
            (rc = exec(s, "SET enable_hashjoin = off; SET enable_mergejoin = off", "SET", err)))
                goto fail;
        if ((rc = ensure_control(s, err)))
                goto fail;
        return 0;
fail:
        sink_free(s);
        return rc;
}

static int pg_sink_setup(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        int rc = pg_sink_open(priv, cfg, err);

        if (rc == 0)
                sink_free(priv);
        return rc;
}

static int pg_sink_teardown(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct pg_sink *s = priv;
        const char *params[1];
        PGresult *res;
        int rc;

        /* The replicated tables stay (they are the user's data now); only the
         * integration's checkpoint row goes. */
        if ((rc = pg_sink_open(priv, cfg, err)))
                return rc;
        wh_buf_reset(&s->sql);
        wh_sql_checkpoint_delete(&s->sql, s->o.dialect, s->integration);
        params[0] = s->integration;
        if (s->o.dialect == WH_POSTGRES) {
                res = PQexecParams(s->conn, wh_buf_str(&s->sql), 1, NULL, params, NULL, NULL, 0);
                if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
                        rc = sql_fail(s, res, "deleting the checkpoint row", err);
                PQclear(res);
        } else {
                rc = exec(s, wh_buf_str(&s->sql), "deleting the checkpoint row", err);
        }
        sink_free(s);
        return rc;
}

static int pg_sink_resume(void *priv, struct zetl_position *out, struct zetl_err *err)
{
        struct pg_sink *s = priv;
        const char *params[1] = { s->integration };
        PGresult *res;

        memset(out, 0, sizeof(*out));
        wh_buf_reset(&s->sql);
        wh_sql_checkpoint_select(&s->sql, s->o.dialect, s->integration);
        res = query(s, wh_buf_str(&s->sql), s->o.dialect == WH_POSTGRES ? 1 : 0, params,
                    "reading the checkpoint row", err);
        if (!res)
                return err->code;
        if (PQntuples(res) == 1) {
                zetl_pos_set(out, strtoull(PQgetvalue(res, 0, 0), NULL, 10), PQgetvalue(res, 0, 1));
                out->time_us = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        }
        PQclear(res);
        return 0;
}

/* Names of the target table's columns (empty when it does not exist). */
static PGresult *target_columns(struct pg_sink *s, const struct zetl_table_id *id,
                                struct zetl_err *err)
{
        char schema[ZETL_NAME_MAX * 2 + 1];
        const char *params[2] = { schema, id->table };

        wh_target_schema(id, schema, sizeof(schema));
        return query(s,
                     "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 "
                     "AND table_name = $2",
                     2, params, "reading the target's columns", err);
}

static bool has_col(PGresult *cols, const char *name, const char *const *renamed_from,
                    const char *const *renamed_to, int nren)
{
        for (int k = 0; k < nren; k++) {
                if (!strcmp(renamed_to[k], name))
                        return true;
                if (!strcmp(renamed_from[k], name))
                        return false;
        }
        for (int i = 0; i < PQntuples(cols); i++)
                if (!strcmp(PQgetvalue(cols, i, 0), name))
                        return true;
        return false;
}

static int run_sql(struct pg_sink *s, const char *what, struct zetl_err *err)
{
        int rc;

        if ((rc = sql_ready(&s->sql, err)))
                return rc;
        rc = exec(s, wh_buf_str(&s->sql), what, err);
        wh_buf_reset(&s->sql);
        return rc;
}

static int pk_constraint(struct pg_sink *s, const struct zetl_table_id *id, char *out, size_t len,
                         struct zetl_err *err)
{
        char schema[ZETL_NAME_MAX * 2 + 1];
        const char *params[2] = { schema, id->table };
        PGresult *res;

        out[0] = '\0';
        wh_target_schema(id, schema, sizeof(schema));
        res = query(s,
                    "SELECT constraint_name FROM information_schema.table_constraints WHERE "
                    "table_schema = $1 AND table_name = $2 AND constraint_type = 'PRIMARY KEY'",
                    2, params, "reading the target's primary key", err);
        if (!res)
                return err->code;
        if (PQntuples(res) > 0)
                snprintf(out, len, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        return 0;
}

/* Evolve an existing target table to shape nw; every step checks the
 * catalog first, so a change replayed after a crash is a no-op. */
static int evolve(struct pg_sink *s, PGresult *cols, const struct zetl_schema *old,
                  const struct zetl_schema *nw, const struct zetl_schema_diff *diff,
                  struct zetl_err *err)
{
        const char *from[64], *to[64];
        int nren = 0, rc = 0;

        for (int k = 0; diff && k < diff->n; k++) {
                const struct zetl_change *c = &diff->changes[k];
                const char *oname = c->old_col >= 0 && old ? old->cols[c->old_col].name : NULL;
                const struct zetl_column *ncol = c->new_col >= 0 ? &nw->cols[c->new_col] : NULL;

                switch (c->kind) {
                case ZETL_CHG_RENAME:
                        if (!oname || !ncol || nren == 64)
                                break;
                        if (has_col(cols, oname, from, to, nren) &&
                            !has_col(cols, ncol->name, from, to, nren)) {
                                wh_sql_rename_column(&s->sql, &nw->id, oname, ncol->name);
                                if ((rc = run_sql(s, "renaming a column", err)))
                                        return rc;
                        }
                        from[nren] = oname;
                        to[nren++] = ncol->name;
                        break;
                case ZETL_CHG_DROP:
                        /* Kept by default: old rows keep their values, new rows get NULL. */
                        if (!s->o.drop_columns || !oname || !has_col(cols, oname, from, to, nren))
                                break;
                        wh_sql_drop_column(&s->sql, &nw->id, oname);
                        if ((rc = run_sql(s, "dropping a column", err)))
                                return rc;
                        if (nren < 64) {
                                from[nren] = oname;
                                to[nren++] = "";
                        }
                        break;
                case ZETL_CHG_WIDEN:
                case ZETL_CHG_TYPE:
                        if (!ncol || !has_col(cols, ncol->name, from, to, nren))
                                break;
                        wh_sql_alter_type(&s->sql, &s->o, &nw->id, ncol);
                        if ((rc = run_sql(s, "changing a column's type", err)))
                                return rc;
                        break;
                case ZETL_CHG_KEY: {
                        char con[ZETL_NAME_MAX];
                        if ((rc = pk_constraint(s, &nw->id, con, sizeof(con), err)))
                                return rc;
                        wh_sql_replace_pk(&s->sql, nw, con[0] ? con : NULL);
                        if (s->sql.len && (rc = run_sql(s, "replacing the primary key", err)))
                                return rc;
                        break;
                }
                default:
                        /* ADD below; NARROW keeps the wider type; nullability and
                         * order do not matter (non-key columns are nullable). */
                        break;
                }
        }
        for (int i = 0; i < nw->ncols; i++) {
                if (has_col(cols, nw->cols[i].name, from, to, nren))
                        continue;
                wh_sql_add_column(&s->sql, &s->o, &nw->id, &nw->cols[i]);
                if ((rc = run_sql(s, "adding a column", err)))
                        return rc;
        }
        if (s->o.soft_delete && !has_col(cols, "_zetl_deleted", from, to, nren)) {
                wh_buf_puts(&s->sql, "ALTER TABLE ");
                wh_target_name(&s->sql, &nw->id);
                wh_buf_puts(&s->sql, " ADD COLUMN \"_zetl_deleted\" boolean NOT NULL DEFAULT "
                                     "false;\nALTER TABLE ");
                wh_target_name(&s->sql, &nw->id);
                wh_buf_puts(&s->sql, " ADD COLUMN \"_zetl_synced_at\" timestamptz");
                if ((rc = run_sql(s, "adding the soft-delete columns", err)))
                        return rc;
        }
        return 0;
}

static int pg_sink_schema(void *priv, const struct zetl_schema *old, const struct zetl_schema *nw,
                          const struct zetl_schema_diff *diff, struct zetl_err *err)
{
        struct pg_sink *s = priv;
        struct wh_table *t = table_get(s, &nw->id, true);
        char schema[ZETL_NAME_MAX * 2 + 1];
        PGresult *cols = NULL;
        int rc;

        if (!t)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        if ((rc = begin(s, err)) || (rc = exec(s, "SAVEPOINT zetl_t", "SAVEPOINT", err)))
                return rc;
        wh_buf_reset(&s->sql);
        if (!(cols = target_columns(s, &nw->id, err))) {
                rc = err->code;
                goto out;
        }
        if (PQntuples(cols) == 0) {
                wh_target_schema(&nw->id, schema, sizeof(schema));
                wh_sql_create_schema(&s->sql, schema);
                wh_buf_puts(&s->sql, ";\n");
                wh_sql_create_table(&s->sql, &s->o, nw);
                rc = run_sql(s, "creating the table", err);
        } else {
                rc = evolve(s, cols, old, nw, diff, err);
        }
        if (rc == 0)
                rc = exec(s, "RELEASE SAVEPOINT zetl_t", "RELEASE SAVEPOINT", err);
out:
        PQclear(cols);
        if (rc)
                return undo_table(s, rc, &nw->id, err);
        if (t->schema)
                zetl_schema_unref(t->schema);
        t->schema = zetl_schema_ref(nw);
        t->direct = false; /* checked against the shape of its truncate */
        return 0;
}

static double mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Send the plan's rows by binary COPY with the statement in s->sql: into
 * staging (sh), or straight into the target table (direct). */
static int copy_in(struct pg_sink *s, const struct wh_plan *p, const struct wh_stage_shape *sh,
                   bool direct, struct zetl_err *err)
{
        PGresult *res;
        int rc = 0;

        if ((rc = sql_ready(&s->sql, err)))
                return rc;
        res = PQexec(s->conn, wh_buf_str(&s->sql));
        if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
                rc = sql_fail(s, res, "starting COPY into staging", err);
                PQclear(res);
                return rc;
        }
        PQclear(res);
        wh_buf_reset(&s->data);
        wh_copy_header(&s->data);
        for (uint32_t i = 0; i < p->n && rc == 0; i++) {
                rc = direct ? wh_copy_row_direct(&s->data, p, i, err)
                            : wh_copy_row(&s->data, p, i, sh, err);
                if (i + 1 == p->n)
                        wh_copy_trailer(&s->data);
                if (rc == 0 && s->data.failed)
                        rc = zetl_err_set(err, ZETL_ELIMIT, ZETL_ERRC_FATAL,
                                          "a staging row is larger than %zu bytes", s->data.max);
                if (rc == 0 && (s->data.len >= COPY_CHUNK || i + 1 == p->n)) {
                        if (PQputCopyData(s->conn, s->data.p, (int)s->data.len) != 1)
                                rc = sql_fail(s, NULL, "sending COPY data", err);
                        wh_buf_reset(&s->data);
                }
        }
        /* End the COPY either way: with an error message it aborts. */
        if (PQputCopyEnd(s->conn, rc ? "zetl: staging aborted" : NULL) != 1 && rc == 0)
                rc = sql_fail(s, NULL, "ending COPY", err);
        while ((res = PQgetResult(s->conn)) != NULL) {
                if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
                        rc = sql_fail(s, res, direct ? "COPY into the table" : "COPY into staging",
                                      err);
                PQclear(res);
        }
        return rc;
}

static int stage_copy(struct pg_sink *s, const char *stg, const struct wh_plan *p,
                      const struct wh_stage_shape *sh, struct zetl_err *err)
{
        wh_buf_reset(&s->sql);
        wh_sql_copy(&s->sql, stg, p->b->schema, sh);
        return copy_in(s, p, sh, false, err);
}

/* Rows of an initial sync into a table emptied for it: no key can be there
 * yet, so a COPY straight into the table does what staging and MERGE would,
 * at the cost of the COPY alone (the way PostgreSQL's own table sync loads). */
static bool direct_batch(const struct wh_table *t, const struct zetl_batch *b)
{
        if (!t->direct || (b->old && b->old->nrows > 0))
                return false;
        for (uint32_t r = 0; r < b->nrows; r++)
                if (b->ops[r] != ZETL_OP_SNAPSHOT)
                        return false;
        return true;
}

static int apply_direct(struct pg_sink *s, const struct wh_plan *p, struct zetl_err *err)
{
        double t0 = mono_ms();
        int rc;

        wh_buf_reset(&s->sql);
        wh_sql_copy_target(&s->sql, p->b->schema);
        rc = copy_in(s, p, NULL, true, err);
        zlog_debug("%s: %u rows copied into the table in %.1f ms", p->b->schema->id.table, p->n,
                   mono_ms() - t0);
        return rc;
}

/* After a truncate for an initial sync: may its rows be copied straight in? */
static int check_direct(struct pg_sink *s, struct wh_table *t, const struct zetl_schema *sch,
                        struct zetl_err *err)
{
        PGresult *res;

        t->direct = false;
        /* Without a primary key nothing would refuse a row twice: MERGE
         * matches it (null-safe) instead. */
        if (s->o.dialect != WH_POSTGRES || s->o.soft_delete || !wh_has_pk(sch))
                return 0;
        wh_buf_reset(&s->sql);
        wh_sql_copy_target_check(&s->sql, sch);
        if (s->sql.failed)
                return 0;
        /* Under a savepoint: whatever goes wrong here only means "no". */
        if (exec(s, "SAVEPOINT zetl_c", "SAVEPOINT", err))
                return err->code;
        if (!(res = query(s, wh_buf_str(&s->sql), 0, NULL, "checking the table's types", err))) {
                if (err->code != ZETL_ETABLE)
                        return err->code;
                zetl_err_clear(err);
                return exec(s, "ROLLBACK TO SAVEPOINT zetl_c; RELEASE SAVEPOINT zetl_c",
                            "ROLLBACK TO SAVEPOINT", err);
        }
        t->direct = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        return exec(s, "RELEASE SAVEPOINT zetl_c", "RELEASE SAVEPOINT", err);
}

/* Stage the plan's rows as multi-row INSERTs (Redshift). */
static int stage_insert(struct pg_sink *s, const char *stg, const struct wh_plan *p,
                        const struct wh_stage_shape *sh, struct zetl_err *err)
{
        int rc = 0;
        uint32_t rows = 0;

        wh_buf_reset(&s->data);
        for (uint32_t i = 0; i < p->n && rc == 0; i++) {
                if (rows == 0)
                        wh_sql_insert_head(&s->data, stg, p->b->schema, sh);
                else
                        wh_buf_puts(&s->data, ", ");
                rc = wh_values_row(&s->data, s->o.dialect, p, i, sh, err);
                rows++;
                if (rc == 0 && (s->data.len >= RS_STMT_TARGET || i + 1 == p->n)) {
                        if ((rc = sql_ready(&s->data, err)) == 0)
                                rc = exec(s, wh_buf_str(&s->data), "INSERT into staging", err);
                        wh_buf_reset(&s->data);
                        rows = 0;
                }
        }
        return rc;
}

static int apply_plan(struct pg_sink *s, struct wh_table *t, const struct wh_plan *p,
                      struct zetl_err *err)
{
        const struct zetl_schema *sch = p->b->schema;
        struct wh_stage_shape sh = { p->unch, p->old_fill };
        char stg[64];
        int rc;

        wh_staging_name(stg, sizeof(stg), t->no, sch->version);
        wh_buf_reset(&s->sql);
        wh_sql_staging_create(&s->sql, s->o.dialect, stg, sch);
        /* Redshift's TRUNCATE would commit the transaction. */
        wh_buf_puts(&s->sql, s->o.dialect == WH_POSTGRES ? ";\nTRUNCATE " : ";\nDELETE FROM ");
        wh_quote_ident(&s->sql, stg);
        if ((rc = run_sql(s, "creating the staging table", err)))
                return rc;
        double t0 = mono_ms();
        rc = s->o.dialect == WH_POSTGRES ? stage_copy(s, stg, p, &sh, err)
                                         : stage_insert(s, stg, p, &sh, err);
        if (rc)
                return rc;
        double t1 = mono_ms();
        wh_buf_reset(&s->sql);
        wh_sql_apply(&s->sql, &s->o, stg, sch, &sh);
        rc = run_sql(s, "applying the batch", err);
        zlog_debug("%s: %u rows staged in %.1f ms, applied in %.1f ms", sch->id.table, p->n,
                   t1 - t0, mono_ms() - t1);
        return rc;
}

static int pg_sink_write(void *priv, const struct zetl_batch *b, struct zetl_err *err)
{
        struct pg_sink *s = priv;
        struct wh_table *t = table_get(s, &b->schema->id, false);
        char name[ZETL_NAME_MAX * 3];
        struct wh_plan p;
        int rc;

        if (!t || !t->schema)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "rows for %s before its schema",
                                    zetl_table_id_str(&b->schema->id, name, sizeof(name)));
        if ((rc = wh_plan_build(&p, b, err)))
                return rc;
        if (p.skipped && !t->warned_nokey) {
                zlog_warn("table %s has no primary key: its updates and deletes are not applied "
                          "in the warehouse (append only)",
                          zetl_table_id_str(&b->schema->id, name, sizeof(name)));
                t->warned_nokey = true;
        }
        if (p.n == 0)
                goto out;
        if ((rc = begin(s, err)) || (rc = exec(s, "SAVEPOINT zetl_t", "SAVEPOINT", err)))
                goto out;
        if (direct_batch(t, b)) {
                if ((rc = apply_direct(s, &p, err)) == 0) {
                        rc = exec(s, "RELEASE SAVEPOINT zetl_t", "RELEASE SAVEPOINT", err);
                        goto out;
                }
                /* A key already there (a source that broke the initial sync's
                 * promise) or a value the table refuses: MERGE decides. */
                if (rc != ZETL_ETABLE ||
                    (rc = exec(s, "ROLLBACK TO SAVEPOINT zetl_t", "ROLLBACK TO SAVEPOINT", err)))
                        goto out;
                zlog_debug("%s: copying straight into the table failed (%s): staging instead",
                           b->schema->id.table, err->msg);
                zetl_err_clear(err);
        }
        t->direct = false;
        if ((rc = apply_plan(s, t, &p, err)) == 0)
                rc = exec(s, "RELEASE SAVEPOINT zetl_t", "RELEASE SAVEPOINT", err);
        if (rc)
                rc = undo_table(s, rc, &b->schema->id, err);
out:
        wh_plan_free(&p);
        return rc;
}

static int pg_sink_truncate(void *priv, const struct zetl_schema *sch, uint64_t pos,
                            struct zetl_err *err)
{
        struct pg_sink *s = priv;
        struct wh_table *t = table_get(s, &sch->id, false);
        int rc;

        if (!t)
                return 0;
        if ((rc = begin(s, err)) || (rc = exec(s, "SAVEPOINT zetl_t", "SAVEPOINT", err)))
                return rc;
        wh_buf_reset(&s->sql);
        /* A source TRUNCATE is soft with soft delete; the restart of an
         * initial sync (pos 0) empties the table for real. */
        if (s->o.soft_delete && pos != 0)
                wh_sql_soft_truncate(&s->sql, s->o.dialect, &sch->id);
        else
                wh_sql_truncate(&s->sql, s->o.dialect, &sch->id);
        wh_buf_puts(&s->sql, ";\nRELEASE SAVEPOINT zetl_t");
        if ((rc = run_sql(s, "truncating", err)))
                return undo_table(s, rc, &sch->id, err);
        /* pos 0: emptied for an initial sync, whose rows may go straight in. */
        if (pos == 0)
                return check_direct(s, t, sch, err);
        t->direct = false;
        return 0;
}

static int pg_sink_commit(void *priv, const struct zetl_position *pos, struct zetl_err *err)
{
        struct pg_sink *s = priv;
        char order[32], tus[32];
        const char *params[4] = { s->integration, order, pos->token, tus };
        PGresult *res;
        int rc;

        if (!s->in_txn && !zetl_pos_is_set(pos))
                return 0;
        if ((rc = begin(s, err)))
                return rc;
        if (zetl_pos_is_set(pos)) {
                snprintf(order, sizeof(order), "%" PRIu64, pos->order);
                snprintf(tus, sizeof(tus), "%" PRId64, pos->time_us);
                wh_buf_reset(&s->sql);
                wh_sql_checkpoint_upsert(&s->sql, s->o.dialect, s->integration, pos->order,
                                         pos->token, pos->time_us);
                if ((rc = sql_ready(&s->sql, err)))
                        return rc;
                if (s->o.dialect == WH_POSTGRES) {
                        res = PQexecParams(s->conn, wh_buf_str(&s->sql), 4, NULL, params, NULL,
                                           NULL, 0);
                        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
                                rc = sql_fail(s, res, "writing the checkpoint row", err);
                        PQclear(res);
                } else {
                        rc = exec(s, wh_buf_str(&s->sql), "writing the checkpoint row", err);
                }
        }
        if (rc == 0)
                rc = exec(s, "COMMIT", "COMMIT", err);
        s->in_txn = false;
        /* Not a table's fault at this point: the whole unit is replayed. */
        if (rc == ZETL_ETABLE)
                err->code = rc = ZETL_EIO;
        return rc;
}

/* The source chose not to commit what it gave since the last commit (a
 * streamed transaction that aborted, or that it applies at its commit after
 * all). Only rows were written since: no DDL to take back from the tables'
 * cached shapes. */
static int pg_sink_rollback(void *priv, struct zetl_err *err)
{
        struct pg_sink *s = priv;

        if (!s->in_txn)
                return 0;
        s->in_txn = false;
        return exec(s, "ROLLBACK", "ROLLBACK", err);
}

/* zetl check: the warehouse is reachable, speaks MERGE (PostgreSQL 15; not
 * asked of Redshift) and lets the role create schemas. Nothing is created. */
static int pg_sink_check(void *priv, const struct zetl_conn_cfg *cfg, bool fix,
                         struct zetl_check_report *r, struct zetl_err *err)
{
        struct pg_sink *s = priv;
        struct zetl_check_item *it;
        PGresult *res;

        (void)fix;
        if (connect_target(s, cfg, err)) {
                if ((it = zetl_check_add(r, ZETL_CHECK_FAIL, "connection", "%s", err->msg)))
                        snprintf(it->fix, sizeof(it->fix),
                                 "check the URI, the server, pg_hba.conf and the password");
                zetl_err_clear(err);
                sink_free(s);
                return 0;
        }
        res = PQexec(s->conn, "SELECT current_setting('server_version_num')::int, version(), "
                              "quote_ident(current_user), current_database(), "
                              "has_database_privilege(current_database(), 'CREATE'), "
                              "EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '_zetl')");
        if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
                zetl_check_add(r, ZETL_CHECK_FAIL, "connection", "checking the warehouse: %s",
                               PQerrorMessage(s->conn));
                goto out;
        }
        zetl_check_add(r, ZETL_CHECK_OK, "connection", "connected as %s to database %s",
                       PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
        if (s->o.dialect == WH_REDSHIFT)
                zetl_check_add(r, ZETL_CHECK_OK, "server_version", "%.200s (Redshift dialect)",
                               PQgetvalue(res, 0, 1));
        else if (atoi(PQgetvalue(res, 0, 0)) >= 150000)
                zetl_check_add(r, ZETL_CHECK_OK, "server_version", "%.200s", PQgetvalue(res, 0, 1));
        else if ((it = zetl_check_add(r, ZETL_CHECK_FAIL, "server_version",
                                      "%.200s: zetl applies changes with MERGE (PostgreSQL 15)",
                                      PQgetvalue(res, 0, 1))))
                snprintf(it->fix, sizeof(it->fix),
                         "upgrade the warehouse to PostgreSQL 15 or later");
        if (PQgetvalue(res, 0, 4)[0] == 't')
                zetl_check_add(r, ZETL_CHECK_OK, "privileges",
                               "%s may create the target schemas and _zetl.checkpoints",
                               PQgetvalue(res, 0, 2));
        else if ((it = zetl_check_add(r, ZETL_CHECK_FAIL, "privileges",
                                      "%s may not create schemas in %s", PQgetvalue(res, 0, 2),
                                      PQgetvalue(res, 0, 3))))
                snprintf(it->fix, sizeof(it->fix),
                         "as an administrator: GRANT CREATE ON DATABASE %s TO %s;",
                         PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 2));
        zetl_check_add(r, ZETL_CHECK_OK, "checkpoints", "%s",
                       PQgetvalue(res, 0, 5)[0] == 't'
                               ? "_zetl.checkpoints exists (other integrations write here)"
                               : "_zetl.checkpoints will be created by the first integration");
out:
        PQclear(res);
        sink_free(s);
        return 0;
}

static void pg_sink_close(void *priv)
{
        /* An open transaction dies with the connection: the core replays it. */
        sink_free(priv);
}

static const char *const pg_sink_schemes[] = { "postgresql", "postgres", NULL };

const struct zetl_sink_ops zetl_pg_sink = {
        .name = "postgresql",
        .schemes = pg_sink_schemes,
        .caps = ZETL_SINK_STORES_POSITION,
        .priv_size = sizeof(struct pg_sink),
        .check = pg_sink_check,
        .parse = pg_sink_parse,
        .setup = pg_sink_setup,
        .teardown = pg_sink_teardown,
        .open = pg_sink_open,
        .resume = pg_sink_resume,
        .schema = pg_sink_schema,
        .write = pg_sink_write,
        .truncate = pg_sink_truncate,
        .commit = pg_sink_commit,
        .rollback = pg_sink_rollback,
        .close = pg_sink_close,
};
