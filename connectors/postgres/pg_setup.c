/*
 * The PostgreSQL source's set-up, "fix it for me" style: create-integration
 * checks every prerequisite it can see over a connection (wal_level, free
 * replication slots and WAL senders, the REPLICATION privilege, each selected
 * table's primary key or replica identity) and reports what cannot be fixed
 * from here with the exact statement to run; then it creates the publication
 * and the logical slot and records them in postgres.json, so that
 * delete-integration drops exactly those and never an object it did not
 * create.
 */
#include <ctype.h>
#include <stdarg.h>
#include <unistd.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "pg_source.h"
#include "zetl/filter.h"
#include "zetl/log.h"

#define STATE_FILE "postgres.json"

void pg_object_name(const char *integration, char *buf, size_t len)
{
        size_t n = (size_t)snprintf(buf, len, "zetl_");

        /* Slot names allow [a-z0-9_] only; integration names are letters,
         * digits and hyphens (at most 63, so the name may be cut to fit). */
        for (const char *p = integration; *p && n + 1 < len; p++)
                buf[n++] = *p == '-' ? '_' : (char)tolower((unsigned char)*p);
        buf[n] = '\0';
}

static int conn_error(PGconn *c, const char *what, struct zetl_err *err)
{
        const char *m = c ? PQerrorMessage(c) : "out of memory";
        size_t n = strlen(m);
        bool auth = pg_conn_error_is_config(m);

        while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
                n--;
        return zetl_err_set(err, ZETL_ECONN, auth ? ZETL_ERRC_CONFIG : ZETL_ERRC_TRANSIENT,
                            "%s: %.*s", what, (int)n, m);
}

int pg_connect(const char *conninfo, PGconn **out, struct zetl_err *err)
{
        const char *keys[] = { "dbname", "fallback_application_name", NULL };
        const char *vals[] = { conninfo, "zetl", NULL };
        static const char *const settings =
                "SET DateStyle = ISO; SET TimeZone = 'UTC'; SET IntervalStyle = iso_8601; "
                "SET extra_float_digits = 3; SET client_encoding = 'UTF8'";
        PGconn *c = PQconnectdbParams(keys, vals, 1);
        int rc;

        if (!c || PQstatus(c) != CONNECTION_OK) {
                rc = conn_error(c, "connecting to PostgreSQL", err);
                PQfinish(c);
                return rc;
        }
        if ((rc = pg_exec(c, settings, "setting the session up", err))) {
                PQfinish(c);
                return rc;
        }
        *out = c;
        return 0;
}

static int result_error(PGconn *c, PGresult *r, const char *what, struct zetl_err *err)
{
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
        size_t n = strlen(m);
        enum zetl_err_class cls = ZETL_ERRC_FATAL;
        int code = ZETL_EIO;

        while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
                n--;
        if (PQstatus(c) != CONNECTION_OK || (state && strncmp(state, "08", 2) == 0) ||
            (state && strncmp(state, "57P", 3) == 0)) {
                cls = ZETL_ERRC_TRANSIENT; /* connection lost, server shutting down */
                code = ZETL_ECONN;
        } else if (state && strcmp(state, "42501") == 0) {
                cls = ZETL_ERRC_CONFIG; /* insufficient privilege */
        }
        return zetl_err_set(err, code, cls, "%s: %.*s", what, (int)n, m);
}

int pg_exec(PGconn *c, const char *sql, const char *what, struct zetl_err *err)
{
        PGresult *r = PQexec(c, sql);
        int rc = 0;

        if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK))
                rc = result_error(c, r, what, err);
        PQclear(r);
        return rc;
}

int pg_query_value(PGconn *c, const char *sql, const char *what, char *buf, size_t len,
                   struct zetl_err *err)
{
        PGresult *r = PQexec(c, sql);
        int rc = 0;

        buf[0] = '\0';
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
                rc = result_error(c, r, what, err);
        else if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
                snprintf(buf, len, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        return rc;
}

int pg_setup_load(const char *idir, struct pg_setup_state *st, bool *found, struct zetl_err *err)
{
        char path[4096];
        json_error_t jerr;
        json_t *o;
        const char *slot = "", *pub = "";
        int cs = 0, cp = 0;

        memset(st, 0, sizeof(*st));
        *found = false;
        snprintf(path, sizeof(path), "%s/%s", idir, STATE_FILE);
        o = json_load_file(path, 0, &jerr);
        if (!o) {
                if (access(path, F_OK) != 0)
                        return 0;
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "%s:%d: %s", path, jerr.line,
                                    jerr.text);
        }
        if (json_unpack(o, "{s:s,s:s,s:b,s:b}", "slot", &slot, "publication", &pub, "created_slot",
                        &cs, "created_publication", &cp)) {
                json_decref(o);
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "%s: malformed", path);
        }
        snprintf(st->slot, sizeof(st->slot), "%s", slot);
        snprintf(st->publication, sizeof(st->publication), "%s", pub);
        st->created_slot = cs;
        st->created_publication = cp;
        json_decref(o);
        *found = true;
        return 0;
}

int pg_setup_save(const char *idir, const struct pg_setup_state *st, struct zetl_err *err)
{
        json_t *o = json_pack("{s:s,s:s,s:b,s:b}", "slot", st->slot, "publication", st->publication,
                              "created_slot", st->created_slot, "created_publication",
                              st->created_publication);
        char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        int rc;

        json_decref(o);
        if (!text)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        rc = zetl_file_write_atomic(idir, STATE_FILE, text, strlen(text), 0600, err);
        free(text);
        return rc;
}

/* Append a line to the report of what must change. */
static void fix(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fix(char *buf, size_t len, const char *fmt, ...)
{
        size_t n = strlen(buf);
        va_list ap;

        if (n + 4 >= len)
                return;
        buf[n++] = '\n';
        buf[n++] = ' ';
        buf[n++] = ' ';
        va_start(ap, fmt);
        vsnprintf(buf + n, len - n, fmt, ap);
        va_end(ap);
}

/* The server-wide prerequisites; what is wrong goes into fixes. */
static int check_server(PGconn *c, char *fixes, size_t len, bool *superuser, struct zetl_err *err)
{
        PGresult *r = PQexec(
                c, "SELECT current_setting('wal_level'), "
                   "current_setting('max_replication_slots')::int - "
                   "(SELECT count(*) FROM pg_replication_slots), "
                   "current_setting('max_wal_senders')::int - "
                   "(SELECT count(*) FROM pg_stat_replication), "
                   "r.rolreplication OR r.rolsuper, r.rolsuper, current_user, "
                   "current_setting('max_replication_slots'), current_setting('max_wal_senders') "
                   "FROM pg_roles r WHERE r.rolname = current_user");
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
                int rc = result_error(c, r, "checking the server's settings", err);
                PQclear(r);
                return rc;
        }
        if (strcmp(PQgetvalue(r, 0, 0), "logical") != 0)
                fix(fixes, len,
                    "wal_level is %s: ALTER SYSTEM SET wal_level = logical; then restart "
                    "PostgreSQL",
                    PQgetvalue(r, 0, 0));
        if (atoi(PQgetvalue(r, 0, 1)) < 1)
                fix(fixes, len,
                    "no free replication slot: ALTER SYSTEM SET max_replication_slots = %d; then "
                    "restart PostgreSQL",
                    atoi(PQgetvalue(r, 0, 6)) + 1);
        if (atoi(PQgetvalue(r, 0, 2)) < 1)
                fix(fixes, len,
                    "no free WAL sender: ALTER SYSTEM SET max_wal_senders = %d; then restart "
                    "PostgreSQL",
                    atoi(PQgetvalue(r, 0, 7)) + 1);
        if (strcmp(PQgetvalue(r, 0, 3), "t") != 0) {
                char *id = PQescapeIdentifier(c, PQgetvalue(r, 0, 5), strlen(PQgetvalue(r, 0, 5)));
                fix(fixes, len, "role lacks REPLICATION: ALTER ROLE %s REPLICATION;",
                    id ? id : "?");
                PQfreemem(id);
        }
        *superuser = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
        PQclear(r);
        return 0;
}

/* The tables the filter selects, checked for a usable replica identity; the
 * ones without get a warning with the statement that fixes them (their
 * changes cannot be applied by key: they will be put in needs_attention).
 * Fills *list with "schema"."table" quoted names, comma-separated. */
static int check_tables(struct pg_src *s, char **list, int *ntables, struct zetl_err *err)
{
        PGresult *r = PQexec(
                s->conn,
                "SELECT n.nspname, c.relname, c.relreplident, "
                "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
                "ORDER BY 1, 2");
        size_t cap = 256, len = 0;
        char *out = NULL;
        int rc = 0;

        *ntables = 0;
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
                rc = result_error(s->conn, r, "listing tables", err);
                goto out;
        }
        if (!(out = calloc(1, cap))) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out;
        }
        for (int i = 0; i < PQntuples(r); i++) {
                struct zetl_table_id id;
                const char *nsp = PQgetvalue(r, i, 0), *rel = PQgetvalue(r, i, 1);
                char ident = PQgetvalue(r, i, 2)[0];
                bool pk = PQgetvalue(r, i, 3)[0] == 't';

                if (zetl_table_id_set(&id, s->dbname, nsp, rel) ||
                    !zetl_filter_table(s->cfg->filter, &id))
                        continue;
                char *qn = PQescapeIdentifier(s->conn, nsp, strlen(nsp));
                char *qr = PQescapeIdentifier(s->conn, rel, strlen(rel));
                if (!qn || !qr) {
                        PQfreemem(qn);
                        PQfreemem(qr);
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                        goto out;
                }
                if (ident == 'n' || (ident == 'd' && !pk))
                        zlog_warn("table %s.%s has no primary key and no usable replica "
                                  "identity: its updates and deletes cannot be replicated and it "
                                  "will need attention. Fix: ALTER TABLE %s.%s ADD PRIMARY KEY "
                                  "(...); or ALTER TABLE %s.%s REPLICA IDENTITY FULL;",
                                  nsp, rel, qn, qr, qn, qr);
                size_t need = len + strlen(qn) + strlen(qr) + 4;
                if (need > cap) {
                        while (cap < need)
                                cap *= 2;
                        char *n = realloc(out, cap);
                        if (!n) {
                                PQfreemem(qn);
                                PQfreemem(qr);
                                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                                  "out of memory");
                                goto out;
                        }
                        out = n;
                }
                len += (size_t)sprintf(out + len, "%s%s.%s", len ? ", " : "", qn, qr);
                PQfreemem(qn);
                PQfreemem(qr);
                (*ntables)++;
        }
        *list = out;
        out = NULL;
out:
        free(out);
        PQclear(r);
        return rc;
}

static int exists(PGconn *c, const char *catalog_sql, const char *name, bool *found,
                  struct zetl_err *err)
{
        const char *params[1] = { name };
        PGresult *r = PQexecParams(c, catalog_sql, 1, NULL, params, NULL, NULL, 0);
        int rc = 0;

        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
                rc = result_error(c, r, "looking up a replication object", err);
        else
                *found = PQntuples(r) > 0;
        PQclear(r);
        return rc;
}

#define SLOT_SQL "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1"
#define PUB_SQL  "SELECT 1 FROM pg_publication WHERE pubname = $1"

static int create_publication(struct pg_src *s, bool superuser, struct zetl_err *err)
{
        char *list = NULL, *qp = NULL, *sql = NULL;
        bool found = false;
        int ntables = 0, rc;

        if ((rc = check_tables(s, &list, &ntables, err)))
                return rc;
        if ((rc = exists(s->conn, PUB_SQL, s->setup.publication, &found, err)))
                goto out;
        if (found) {
                /* Somebody's publication of that name: used, never dropped by us. */
                zlog_warn("publication %s exists already: using it as it is", s->setup.publication);
                goto out;
        }
        qp = PQescapeIdentifier(s->conn, s->setup.publication, strlen(s->setup.publication));
        sql = malloc(strlen(list) + 128);
        if (!qp || !sql) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out;
        }
        /* A superuser's publication covers tables created later too; zetl
         * filters on its side. Otherwise it lists the tables selected now. */
        if (superuser)
                sprintf(sql, "CREATE PUBLICATION %s FOR ALL TABLES", qp);
        else if (ntables > 0)
                sprintf(sql, "CREATE PUBLICATION %s FOR TABLE %s", qp, list);
        else
                sprintf(sql, "CREATE PUBLICATION %s", qp);
        if ((rc = pg_exec(s->conn, sql, "creating the publication", err)))
                goto out;
        s->setup.created_publication = true;
        zlog_info("created publication %s (%s)", s->setup.publication,
                  superuser ? "all tables" : "the selected tables");
out:
        free(list);
        free(sql);
        PQfreemem(qp);
        return rc;
}

int pg_setup_run(struct pg_src *s, struct zetl_err *err)
{
        char fixes[2048] = "";
        bool superuser = false, found = false;
        const char *params[1];
        PGresult *r;
        int rc;

        if ((rc = check_server(s->conn, fixes, sizeof(fixes), &superuser, err)))
                return rc;
        if (fixes[0])
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "the source is not ready for logical replication:%s", fixes);
        pg_object_name(s->cfg->integration, s->setup.slot, sizeof(s->setup.slot));
        pg_object_name(s->cfg->integration, s->setup.publication, sizeof(s->setup.publication));
        if ((rc = exists(s->conn, SLOT_SQL, s->setup.slot, &found, err)))
                return rc;
        if (found)
                return zetl_err_set(err, ZETL_EEXIST, ZETL_ERRC_CONFIG,
                                    "replication slot %s exists and was not created for this "
                                    "integration: drop it with SELECT "
                                    "pg_drop_replication_slot('%s'); or choose another name",
                                    s->setup.slot, s->setup.slot);
        if ((rc = create_publication(s, superuser, err)))
                return rc;
        /* Saved before the slot exists, so a crash in between still lets
         * delete-integration remove the publication. */
        if ((rc = pg_setup_save(s->cfg->state_dir, &s->setup, err)))
                return rc;
        params[0] = s->setup.slot;
        r = PQexecParams(s->conn, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", 1,
                         NULL, params, NULL, NULL, 0);
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
                rc = result_error(s->conn, r, "creating the replication slot", err);
                PQclear(r);
                return rc;
        }
        PQclear(r);
        s->setup.created_slot = true;
        zlog_info("created replication slot %s", s->setup.slot);
        return pg_setup_save(s->cfg->state_dir, &s->setup, err);
}

int pg_teardown_run(struct pg_src *s, struct zetl_err *err)
{
        const char *params[1];
        PGresult *r;
        int rc = 0;

        if (s->setup.created_slot) {
                params[0] = s->setup.slot;
                r = PQexecParams(s->conn,
                                 "SELECT pg_drop_replication_slot(slot_name) FROM "
                                 "pg_replication_slots WHERE slot_name = $1",
                                 1, NULL, params, NULL, NULL, 0);
                if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
                        rc = result_error(s->conn, r, "dropping the replication slot", err);
                PQclear(r);
                if (rc)
                        return rc;
                zlog_info("dropped replication slot %s", s->setup.slot);
        }
        if (s->setup.created_publication) {
                char *qp = PQescapeIdentifier(s->conn, s->setup.publication,
                                              strlen(s->setup.publication));
                char sql[256];
                if (!qp)
                        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                snprintf(sql, sizeof(sql), "DROP PUBLICATION IF EXISTS %s", qp);
                PQfreemem(qp);
                if ((rc = pg_exec(s->conn, sql, "dropping the publication", err)))
                        return rc;
                zlog_info("dropped publication %s", s->setup.publication);
        }
        return 0;
}
