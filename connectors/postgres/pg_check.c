/*
 * `zetl check --source postgresql://...`: what logical replication needs from
 * the server, the role and each selected table, without creating anything.
 * The only fix applied by --fix is REPLICA IDENTITY FULL on a table without
 * a primary key (online, and nothing else depends on it); wal_level, slots
 * and WAL senders need a restart, and a role's privileges an administrator:
 * those are listed with their statements.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_source.h"

/* The one-row result of sql, or NULL with err set. */
static PGresult *one_row(PGconn *c, const char *sql, const char *what, struct zetl_err *err)
{
        PGresult *r = PQexec(c, sql);

        if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
                return r;
        zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "%s: %s", what,
                     r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        return NULL;
}

static int check_server(struct pg_src *s, struct zetl_check_report *rep, struct zetl_err *err)
{
        PGresult *r = one_row(
                s->conn,
                "SELECT current_setting('server_version_num')::int, "
                "current_setting('server_version'), current_setting('wal_level'), "
                "current_setting('max_replication_slots')::int - "
                "(SELECT count(*) FROM pg_replication_slots), "
                "current_setting('max_replication_slots'), "
                "current_setting('max_wal_senders')::int - "
                "(SELECT count(*) FROM pg_stat_replication), current_setting('max_wal_senders'), "
                "r.rolreplication OR r.rolsuper, r.rolsuper, quote_ident(current_user), "
                "has_database_privilege(current_database(), 'CREATE'), "
                "current_setting('max_slot_wal_keep_size') "
                "FROM pg_roles r WHERE r.rolname = current_user",
                "checking the server's settings", err);
        struct zetl_check_item *it;

        if (!r)
                return err->code;
        int version = atoi(PQgetvalue(r, 0, 0));
        const char *user = PQgetvalue(r, 0, 9);
        bool super = PQgetvalue(r, 0, 8)[0] == 't';

        zetl_check_add(rep, ZETL_CHECK_OK, "connection",
                       "connected to PostgreSQL %s as %s, database %s", PQgetvalue(r, 0, 1), user,
                       s->dbname);
        if (version >= 150000)
                zetl_check_add(rep, ZETL_CHECK_OK, "server_version", "%s", PQgetvalue(r, 0, 1));
        else if (version >= 100000 &&
                 (it = zetl_check_add(rep, ZETL_CHECK_WARN, "server_version",
                                      "%s: replication works; publication row filters "
                                      "and column lists (filter pushdown) need 15",
                                      PQgetvalue(r, 0, 1))))
                snprintf(it->fix, sizeof(it->fix), "upgrade to PostgreSQL 15 or later");
        else if ((it = zetl_check_add(rep, ZETL_CHECK_FAIL, "server_version",
                                      "%s has no pgoutput logical decoding", PQgetvalue(r, 0, 1))))
                snprintf(it->fix, sizeof(it->fix), "upgrade to PostgreSQL 15 or later");
        if (strcmp(PQgetvalue(r, 0, 2), "logical") == 0)
                zetl_check_add(rep, ZETL_CHECK_OK, "wal_level", "logical");
        else if ((it = zetl_check_add(rep, ZETL_CHECK_FAIL, "wal_level",
                                      "%s: logical decoding needs logical", PQgetvalue(r, 0, 2))))
                snprintf(it->fix, sizeof(it->fix),
                         "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL");
        if (atoi(PQgetvalue(r, 0, 3)) >= 1)
                zetl_check_add(rep, ZETL_CHECK_OK, "max_replication_slots", "%d of %s free",
                               atoi(PQgetvalue(r, 0, 3)), PQgetvalue(r, 0, 4));
        else if ((it = zetl_check_add(rep, ZETL_CHECK_FAIL, "max_replication_slots",
                                      "all %s replication slots are in use", PQgetvalue(r, 0, 4))))
                snprintf(it->fix, sizeof(it->fix),
                         "ALTER SYSTEM SET max_replication_slots = %d; then restart PostgreSQL",
                         atoi(PQgetvalue(r, 0, 4)) + 1);
        if (atoi(PQgetvalue(r, 0, 5)) >= 1)
                zetl_check_add(rep, ZETL_CHECK_OK, "max_wal_senders", "%d of %s free",
                               atoi(PQgetvalue(r, 0, 5)), PQgetvalue(r, 0, 6));
        else if ((it = zetl_check_add(rep, ZETL_CHECK_FAIL, "max_wal_senders",
                                      "all %s WAL senders are in use", PQgetvalue(r, 0, 6))))
                snprintf(it->fix, sizeof(it->fix),
                         "ALTER SYSTEM SET max_wal_senders = %d; then restart PostgreSQL",
                         atoi(PQgetvalue(r, 0, 6)) + 1);
        if (PQgetvalue(r, 0, 7)[0] == 't')
                zetl_check_add(rep, ZETL_CHECK_OK, "replication_privilege",
                               "%s may start replication", user);
        else if ((it = zetl_check_add(rep, ZETL_CHECK_FAIL, "replication_privilege",
                                      "%s has neither REPLICATION nor SUPERUSER", user)))
                snprintf(it->fix, sizeof(it->fix),
                         "as an administrator: ALTER ROLE %s REPLICATION;", user);
        if (super)
                zetl_check_add(rep, ZETL_CHECK_OK, "publication",
                               "%s is a superuser: the publication covers all tables, also those "
                               "created later",
                               user);
        else if (PQgetvalue(r, 0, 10)[0] == 't' &&
                 (it = zetl_check_add(rep, ZETL_CHECK_WARN, "publication",
                                      "%s may create a publication of the selected tables (it "
                                      "must own them); tables created later are not in it",
                                      user)))
                snprintf(it->fix, sizeof(it->fix),
                         "to follow new tables, let a superuser create the integration");
        else if ((it = zetl_check_add(rep, ZETL_CHECK_FAIL, "publication",
                                      "%s may not create a publication in %s", user, s->dbname)))
                snprintf(it->fix, sizeof(it->fix),
                         "as an administrator: GRANT CREATE ON DATABASE %s TO %s;", s->dbname,
                         user);
        if (strcmp(PQgetvalue(r, 0, 11), "-1") == 0) {
                if ((it = zetl_check_add(rep, ZETL_CHECK_WARN, "max_slot_wal_keep_size",
                                         "unlimited: a stopped integration keeps WAL until the "
                                         "disk fills")))
                        snprintf(it->fix, sizeof(it->fix),
                                 "ALTER SYSTEM SET max_slot_wal_keep_size = '100GB'; SELECT "
                                 "pg_reload_conf(); (a slot that falls behind it needs a "
                                 "resync)");
        } else {
                zetl_check_add(rep, ZETL_CHECK_OK, "max_slot_wal_keep_size", "%s",
                               PQgetvalue(r, 0, 11));
        }
        PQclear(r);
        return 0;
}

/* Each selected table's key; REPLICA IDENTITY FULL is the fix --fix applies. */
static int check_tables(struct pg_src *s, bool fix, struct zetl_check_report *rep,
                        struct zetl_err *err)
{
        PGresult *r = PQexec(
                s->conn,
                "SELECT n.nspname, c.relname, c.relreplident, "
                "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), "
                "format('%I.%I', n.nspname, c.relname) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
                "ORDER BY 1, 2");
        int selected = 0, keyed = 0;
        char name[3 * ZETL_NAME_MAX];

        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
                zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "listing tables: %s",
                             r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn));
                PQclear(r);
                return ZETL_EIO;
        }
        for (int i = 0; i < PQntuples(r); i++) {
                struct zetl_table_id id;
                struct zetl_check_item *it;
                char ident = PQgetvalue(r, i, 2)[0];
                bool pk = PQgetvalue(r, i, 3)[0] == 't';

                if (zetl_table_id_set(&id, s->dbname, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)) ||
                    !zetl_filter_table(s->cfg->filter, &id))
                        continue;
                selected++;
                if (pk || ident == 'f' || ident == 'i') {
                        keyed++;
                        continue;
                }
                if (!(it = zetl_check_add(rep, ZETL_CHECK_WARN, "table_key",
                                          "%s has no primary key and no replica identity: its "
                                          "updates and deletes cannot be replicated and it will "
                                          "need attention",
                                          zetl_table_id_str(&id, name, sizeof(name)))))
                        continue;
                snprintf(it->fix, sizeof(it->fix),
                         "ALTER TABLE %s ADD PRIMARY KEY (...); or ALTER TABLE %s REPLICA "
                         "IDENTITY FULL;",
                         PQgetvalue(r, i, 4), PQgetvalue(r, i, 4));
                snprintf(it->fix_sql, sizeof(it->fix_sql), "ALTER TABLE %s REPLICA IDENTITY FULL",
                         PQgetvalue(r, i, 4));
                if (fix) {
                        struct zetl_err e2;
                        if (pg_exec(s->conn, it->fix_sql, "setting REPLICA IDENTITY FULL", &e2)) {
                                snprintf(it->fix_error, sizeof(it->fix_error), "%.250s", e2.msg);
                        } else {
                                it->fixed = true;
                                it->level = ZETL_CHECK_OK;
                                keyed++;
                        }
                }
        }
        PQclear(r);
        if (selected == 0)
                zetl_check_add(rep, ZETL_CHECK_WARN, "tables",
                               "the filter selects no table in database %s", s->dbname);
        else
                zetl_check_add(rep, keyed == selected ? ZETL_CHECK_OK : ZETL_CHECK_WARN, "tables",
                               "%d table%s selected, %d with a primary key or replica identity",
                               selected, selected == 1 ? "" : "s", keyed);
        return 0;
}

int pg_check_run(struct pg_src *s, bool fix, struct zetl_check_report *rep, struct zetl_err *err)
{
        int rc = check_server(s, rep, err);

        return rc ? rc : check_tables(s, fix, rep, err);
}
