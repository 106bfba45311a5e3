/*
 * The PostgreSQL source's set-up, "fix it for me" style: create-integration
 * checks every prerequisite it can see over a connection (wal_level, free
 * replication slots and WAL senders, the REPLICATION privilege, each selected
 * table's primary key or replica identity) and reports what cannot be fixed
 * from here with the exact statement to run; then it creates the publication
 * and the logical slot and records them in postgres.json, so that
 * delete-integration drops exactly those and never an object it did not
 * create.
 *
 * Row and column filters (zetl-filters(5)) are checked against each selected
 * table's columns here, and pushed down into the publication where
 * PostgreSQL 15 can apply them exactly as zetl does: WHERE (...) over
 * replica identity columns of types compared alike, and column lists on
 * tables whose replica identity is a key. zetl still applies every filter
 * itself; pushdown only keeps rows and columns from leaving the server. Run
 * again on an integration that is set up (modify-integration), set-up only
 * brings the publication in line with the filters.
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
#include "pg_types.h"
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

/* Types whose comparisons PostgreSQL and zetl agree on (with COLLATE "C"
 * for text): a row filter over other columns stays with zetl. char(n) is
 * left out for its blank-padded comparisons, floats for rounding. */
static bool pushable_type(uint32_t oid)
{
        switch (oid) {
        case PG_OID_INT2:
        case PG_OID_INT4:
        case PG_OID_INT8:
        case PG_OID_NUMERIC:
        case PG_OID_TEXT:
        case PG_OID_VARCHAR:
        case PG_OID_BOOL:
        case PG_OID_BYTEA:
        case PG_OID_DATE:
        case PG_OID_TIME:
        case PG_OID_TIMESTAMP:
        case PG_OID_TIMESTAMPTZ:
        case PG_OID_UUID:
                return true;
        default:
                return false;
        }
}

/* The table's shape as zetl will see it, for checking its filters. NULL in
 * *out when a column's type needs more than its oid to map (an enum, a
 * domain...): then the check waits for zetl run. */
static int table_schema(struct pg_src *s, uint32_t relid, const struct zetl_table_id *id,
                        struct pg_coldesc *cols, int *n, struct zetl_schema **out,
                        struct zetl_err *err)
{
        char nsp[ZETL_NAME_MAX], rel[ZETL_NAME_MAX];
        struct zetl_schema *sch;
        int rc;

        *out = NULL;
        if ((rc = pg_describe(s, relid, nsp, rel, cols, PG_MAX_COLS, n, err)))
                return rc;
        if (!(sch = zetl_schema_new(id, *n)))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        for (int i = 0; i < *n; i++) {
                struct zetl_column c = { 0 };
                struct zetl_err terr;
                if (cols[i].typoid >= PG_FIRST_NORMAL_OID ||
                    pg_type_map(cols[i].typoid, cols[i].typmod, NULL, &c, &terr) < 0) {
                        zetl_schema_unref(sch);
                        return 0;
                }
                c.name = cols[i].name;
                c.nullable = !cols[i].notnull;
                c.key_pos = cols[i].key_pos;
                c.source_id = (uint32_t)cols[i].attnum;
                if (zetl_schema_set_col(sch, i, &c)) {
                        zetl_schema_unref(sch);
                        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                }
        }
        if ((rc = zetl_schema_finish(sch, err))) {
                zetl_schema_unref(sch);
                return rc;
        }
        *out = sch;
        return 0;
}

/* Which columns are the replica identity (what PostgreSQL logs of an old
 * row, and all a publication's row filter may read for updates and
 * deletes), in attnum order like pg_describe. *ident: relreplident;
 * *toastable: some column may be stored out of line (TOAST). */
static int identity_cols(struct pg_src *s, uint32_t relid, bool *in, int n, char *ident,
                         bool *toastable, struct zetl_err *err)
{
        char oidtext[16];
        const char *params[1] = { oidtext };
        PGresult *r;
        int rc = 0;

        snprintf(oidtext, sizeof(oidtext), "%u", relid);
        r = PQexecParams(
                s->conn,
                "SELECT c.relreplident, CASE c.relreplident WHEN 'f' THEN true "
                "WHEN 'd' THEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND "
                "i.indisprimary AND a.attnum = ANY (i.indkey::int2[])) "
                "WHEN 'i' THEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND "
                "i.indisreplident AND a.attnum = ANY (i.indkey::int2[])) ELSE false END, "
                "a.attstorage <> 'p' "
                "FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
                "WHERE c.oid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                1, NULL, params, NULL, NULL, 0);
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != n) {
                rc = r && PQresultStatus(r) == PGRES_TUPLES_OK
                             ? zetl_err_set(err, ZETL_ESTATE, ZETL_ERRC_TRANSIENT,
                                            "table %u changed while zetl looked at it", relid)
                             : result_error(s->conn, r, "reading a table's replica identity", err);
                PQclear(r);
                return rc;
        }
        *ident = n ? PQgetvalue(r, 0, 0)[0] : 'n';
        *toastable = false;
        for (int i = 0; i < n; i++) {
                in[i] = PQgetvalue(r, i, 1)[0] == 't';
                *toastable |= PQgetvalue(r, i, 2)[0] == 't';
        }
        PQclear(r);
        return 0;
}

/* A selected table with row or column filters: check them against its
 * columns, and the publication's entry for it, "ns"."t" [(cols)] [WHERE
 * (...)], into *entry (malloc'd). *pushed: something is filtered at the
 * source. */
static int table_entry(struct pg_src *s, uint32_t relid, char relkind, bool utf8,
                       const struct zetl_table_id *id, const char *qualified, char **entry,
                       bool *pushed, struct zetl_err *err)
{
        static struct pg_coldesc cols[PG_MAX_COLS];
        struct zetl_schema *sch = NULL;
        char tname[ZETL_NAME_MAX * 3], ident = 'n';
        bool *where_ok = NULL, *must = NULL;
        char *where = NULL, *list = NULL;
        int n = 0, rc;

        *entry = NULL;
        zetl_table_id_str(id, tname, sizeof(tname));
        if ((rc = table_schema(s, relid, id, cols, &n, &sch, err)))
                return rc;
        if (!sch) {
                zlog_warn("table %s has a column of a type defined in the database: its row and "
                          "column filters are checked when zetl run meets it, and applied by "
                          "zetl only",
                          tname);
                return (*entry = strdup(qualified)) ? 0 : ZETL_ENOMEM;
        }
        if ((rc = zetl_filter_check_schema(s->cfg->filter, sch, err)))
                goto out;
        if (!(where_ok = calloc((size_t)n + 1, 1)) || !(must = calloc((size_t)n + 1, 1))) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out;
        }
        bool toastable = false;
        if ((rc = identity_cols(s, relid, must, n, &ident, &toastable, err)))
                goto out;
        /* A large value an update leaves alone is not sent again: the row
         * filter could not judge such an update (zetl-filters(5)). */
        char *rules = NULL;
        if (ident != 'f' && toastable && zetl_filter_table_rules(s->cfg->filter, id, &rules) == 0 &&
            strstr(rules, "rows: "))
                zlog_warn("table %s has a row filter and columns PostgreSQL does not send again "
                          "when an update leaves them alone (TOAST): such an update may be one "
                          "the filter cannot judge (the table then needs attention), or bring a "
                          "row in without those values. Fix: ALTER TABLE %s REPLICA IDENTITY "
                          "FULL;",
                          tname, qualified);
        free(rules);
        for (int i = 0; i < n; i++)
                where_ok[i] = must[i] && pushable_type(cols[i].typoid) &&
                              (utf8 ||
                               (cols[i].typoid != PG_OID_TEXT && cols[i].typoid != PG_OID_VARCHAR));
        /* A partitioned table publishes through its partitions: left to zetl.
         * A column list must hold the replica identity, so it needs one that
         * is a key (with FULL it would be every column). */
        bool any_key = false;
        for (int i = 0; i < n; i++)
                any_key |= must[i];
        if (relkind == 'r' &&
            (rc = zetl_filter_pg_pushdown(s->cfg->filter, sch, where_ok,
                                          (ident == 'd' || ident == 'i') && any_key ? must : NULL,
                                          &where, &list, err)))
                goto out;
        if (asprintf(entry, "%s%s%s%s%s%s%s", qualified, list ? " (" : "", list ? list : "",
                     list ? ")" : "", where ? " WHERE (" : "", where ? where : "",
                     where ? ")" : "") < 0) {
                *entry = NULL;
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out;
        }
        *pushed |= where || list;
        if (where || list)
                zlog_info("table %s is filtered at the source:%s%s%s%s", tname,
                          list ? " columns " : "", list ? list : "", where ? " WHERE " : "",
                          where ? where : "");
        else
                zlog_info("table %s: its filters are applied by zetl only (nothing PostgreSQL "
                          "could apply alike: see zetl-filters(5))",
                          tname);
out:
        free(where);
        free(list);
        free(where_ok);
        free(must);
        if (sch)
                zetl_schema_unref(sch);
        return rc;
}

/* The tables the filter selects, checked for a usable replica identity; the
 * ones without get a warning with the statement that fixes them (their
 * changes cannot be applied by key: they will be put in needs_attention).
 * Fills *list with the publication's table list: "schema"."table" quoted
 * names, comma-separated, with the column lists and row filters pushed
 * down (*pushed: some are). */
static int check_tables(struct pg_src *s, char **list, int *ntables, bool *pushed,
                        struct zetl_err *err)
{
        PGresult *r = PQexec(
                s->conn,
                "SELECT n.nspname, c.relname, c.relreplident, "
                "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), "
                "c.oid, c.relkind, current_setting('server_encoding') "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
                "ORDER BY 1, 2");
        size_t cap = 256, len = 0;
        char *out = NULL;
        int rc = 0;

        *ntables = 0;
        *pushed = false;
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
                char *entry = NULL;

                if (zetl_table_id_set(&id, s->dbname, nsp, rel) ||
                    !zetl_filter_table(s->cfg->filter, &id))
                        continue;
                char *qn = PQescapeIdentifier(s->conn, nsp, strlen(nsp));
                char *qr = PQescapeIdentifier(s->conn, rel, strlen(rel));
                if (!qn || !qr || asprintf(&entry, "%s.%s", qn, qr) < 0) {
                        entry = NULL;
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
                PQfreemem(qn);
                PQfreemem(qr);
                if (zetl_filter_transforms(s->cfg->filter, &id)) {
                        char *plain = entry;
                        uint32_t relid = (uint32_t)strtoul(PQgetvalue(r, i, 4), NULL, 10);
                        rc = table_entry(s, relid, PQgetvalue(r, i, 5)[0],
                                         strcmp(PQgetvalue(r, i, 6), "UTF8") == 0, &id, plain,
                                         &entry, pushed, err);
                        free(plain);
                        if (rc)
                                goto out;
                }
                size_t need = len + strlen(entry) + 4;
                if (need > cap) {
                        while (cap < need)
                                cap *= 2;
                        char *n = realloc(out, cap);
                        if (!n) {
                                free(entry);
                                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                                  "out of memory");
                                goto out;
                        }
                        out = n;
                }
                len += (size_t)sprintf(out + len, "%s%s", len ? ", " : "", entry);
                free(entry);
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

/* FOR ALL TABLES (tables created later are published too) or the tables
 * selected now, with their filters. A superuser gets ALL TABLES unless
 * something can be filtered at the source; the source option
 * publication=all|tables decides otherwise. */
static int publication_mode(struct pg_src *s, bool superuser, bool pushed, bool *all,
                            struct zetl_err *err)
{
        const char *o = zetl_cfg_opt(s->cfg, "publication");

        if (o && strcmp(o, "all") != 0 && strcmp(o, "tables") != 0)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "option publication=%s: expected all or tables", o);
        if (o && strcmp(o, "all") == 0 && !superuser)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "option publication=all needs a superuser (CREATE "
                                    "PUBLICATION ... FOR ALL TABLES)");
        *all = o ? strcmp(o, "all") == 0 : superuser && !pushed;
        return 0;
}

/* The statement that (re)creates the publication. */
static char *publication_sql(const char *qp, bool all, const char *list, int ntables)
{
        char *sql = NULL;
        int n;

        if (all)
                n = asprintf(&sql, "CREATE PUBLICATION %s FOR ALL TABLES", qp);
        else if (ntables > 0)
                n = asprintf(&sql, "CREATE PUBLICATION %s FOR TABLE %s", qp, list);
        else
                n = asprintf(&sql, "CREATE PUBLICATION %s", qp);
        return n < 0 ? NULL : sql;
}

static int create_publication(struct pg_src *s, bool superuser, struct zetl_err *err)
{
        char *list = NULL, *qp = NULL, *sql = NULL;
        bool found = false, pushed = false, all = false;
        int ntables = 0, rc;

        if ((rc = check_tables(s, &list, &ntables, &pushed, err)) ||
            (rc = publication_mode(s, superuser, pushed, &all, err)))
                goto out;
        if ((rc = exists(s->conn, PUB_SQL, s->setup.publication, &found, err)))
                goto out;
        if (found) {
                /* Somebody's publication of that name: used, never dropped by us. */
                zlog_warn("publication %s exists already: using it as it is", s->setup.publication);
                goto out;
        }
        qp = PQescapeIdentifier(s->conn, s->setup.publication, strlen(s->setup.publication));
        if (!qp || !(sql = publication_sql(qp, all, list, ntables))) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out;
        }
        if ((rc = pg_exec(s->conn, sql, "creating the publication", err)))
                goto out;
        s->setup.created_publication = true;
        zlog_info("created publication %s (%s)", s->setup.publication,
                  all ? "all tables" : "the selected tables");
        if (!all && superuser && pushed && !zetl_cfg_opt(s->cfg, "publication"))
                zlog_info("the publication lists the tables selected now, so that PostgreSQL "
                          "filters their rows: tables created later join it at the next "
                          "modify-integration (option publication=all publishes every table "
                          "and leaves the filtering to zetl)");
out:
        free(list);
        free(sql);
        PQfreemem(qp);
        return rc;
}

/* modify-integration on a set-up integration: the publication it created
 * takes the new filters (tables, row filters, column lists), in one
 * transaction. A change between ALL TABLES and a list recreates it. */
static int update_publication(struct pg_src *s, struct zetl_err *err)
{
        char *list = NULL, *qp = NULL, *sql = NULL, buf[8] = "";
        bool superuser = false, pushed = false, all = false;
        int ntables = 0, rc;

        if (!s->setup.created_publication) {
                zlog_info("publication %s is not zetl's: left as it is", s->setup.publication);
                return 0;
        }
        if ((rc = pg_query_value(s->conn,
                                 "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
                                 "checking the role", buf, sizeof(buf), err)))
                return rc;
        superuser = buf[0] == 't';
        if ((rc = check_tables(s, &list, &ntables, &pushed, err)) ||
            (rc = publication_mode(s, superuser, pushed, &all, err)))
                goto out;
        const char *params[1] = { s->setup.publication };
        PGresult *r = PQexecParams(s->conn,
                                   "SELECT puballtables FROM pg_publication "
                                   "WHERE pubname = $1",
                                   1, NULL, params, NULL, NULL, 0);
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
                rc = result_error(s->conn, r, "reading the publication", err);
                PQclear(r);
                goto out;
        }
        bool missing = PQntuples(r) == 0, was_all = !missing && PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (!missing && was_all && all)
                goto out; /* every table, filtered by zetl: nothing to change */
        qp = PQescapeIdentifier(s->conn, s->setup.publication, strlen(s->setup.publication));
        char *create = qp ? publication_sql(qp, all, list, ntables) : NULL;
        int n = 0;
        if (!create)
                n = -1;
        else if (missing)
                sql = create; /* dropped by hand since: made again */
        else if (!all && !was_all && ntables > 0)
                n = asprintf(&sql, "ALTER PUBLICATION %s SET TABLE %s", qp, list);
        else
                n = asprintf(&sql, "DROP PUBLICATION %s; %s", qp, create);
        if (sql != create)
                free(create);
        if (n < 0) {
                sql = NULL;
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out;
        }
        if ((rc = pg_exec(s->conn, "BEGIN", "updating the publication", err)))
                goto out;
        if ((rc = pg_exec(s->conn, sql, "updating the publication", err)) ||
            (rc = pg_exec(s->conn, "COMMIT", "updating the publication", err))) {
                pg_exec(s->conn, "ROLLBACK", "updating the publication", NULL);
                goto out;
        }
        zlog_info("publication %s now publishes %s", s->setup.publication,
                  all ? "all tables" : "the selected tables with their filters");
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

        /* Set up already (postgres.json names a slot it made): modify-integration. */
        if (s->setup.created_slot)
                return update_publication(s, err);

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
