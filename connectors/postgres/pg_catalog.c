/*
 * The PostgreSQL source's view of its tables: the catalog queries that
 * describe a table (columns, types, key), the cache of pg_type rows for types
 * that are not built in (enums, domains, arrays of them), and the per-table
 * state shared by the snapshot and the stream: its current schema version and
 * one decoder per column.
 *
 * The key of a table is its primary key; without one, the index its replica
 * identity uses; with REPLICA IDENTITY FULL and neither, every column. A table
 * with none of these cannot have its updates and deletes applied by key: it is
 * put into needs_attention.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_source.h"
#include "zetl/filter.h"
#include "zetl/log.h"

#define MAX_TYPE_DEPTH 8

struct pg_rel *pg_rel_find(struct pg_src *s, uint32_t relid)
{
        if (s->last_rel && s->last_rel->relid == relid)
                return s->last_rel;
        for (struct pg_rel *r = s->rels; r; r = r->next) {
                if (r->relid == relid) {
                        s->last_rel = r;
                        return r;
                }
        }
        return NULL;
}

void pg_rels_free(struct pg_src *s)
{
        for (struct pg_rel *r = s->rels, *next; r; r = next) {
                next = r->next;
                if (r->schema)
                        zetl_schema_unref(r->schema);
                free(r->dec);
                free(r);
        }
        for (struct pg_type_node *t = s->types, *next; t; t = next) {
                next = t->next;
                free(t);
        }
        s->rels = NULL;
        s->last_rel = NULL;
        s->types = NULL;
}

static int query_error(PGconn *c, PGresult *r, const char *what, struct zetl_err *err)
{
        const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
        size_t n = strlen(m);

        while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
                n--;
        return zetl_err_set(err, ZETL_ECONN,
                            PQstatus(c) == CONNECTION_OK ? ZETL_ERRC_FATAL : ZETL_ERRC_TRANSIENT,
                            "%s: %.*s", what, (int)n, m);
}

/* The cached pg_type row of oid (fetched with its element and base types). */
static int type_info(struct pg_src *s, uint32_t oid, int depth, const struct pg_type_info **out,
                     struct zetl_err *err)
{
        char oidtext[16];
        const char *params[1] = { oidtext };
        struct pg_type_node *t;
        PGresult *r;
        int rc = 0;

        for (t = s->types; t; t = t->next) {
                if (t->info.oid == oid) {
                        *out = &t->info;
                        return 0;
                }
        }
        if (depth > MAX_TYPE_DEPTH)
                return zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_FATAL,
                                    "type %u nests too deep", oid);
        snprintf(oidtext, sizeof(oidtext), "%u", oid);
        r = PQexecParams(s->conn,
                         "SELECT typtype, typcategory, typdelim, typelem, typbasetype, typtypmod "
                         "FROM pg_type WHERE oid = $1",
                         1, NULL, params, NULL, NULL, 0);
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
                rc = r && PQresultStatus(r) == PGRES_TUPLES_OK
                             ? zetl_err_set(err, ZETL_ENOTFOUND, ZETL_ERRC_FATAL,
                                            "type %u not found", oid)
                             : query_error(s->conn, r, "reading pg_type", err);
                PQclear(r);
                return rc;
        }
        if (!(t = calloc(1, sizeof(*t)))) {
                PQclear(r);
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        }
        t->info.oid = oid;
        t->info.typtype = PQgetvalue(r, 0, 0)[0];
        t->info.typcategory = PQgetvalue(r, 0, 1)[0];
        t->info.typdelim = PQgetvalue(r, 0, 2)[0];
        t->info.typelem = (uint32_t)strtoul(PQgetvalue(r, 0, 3), NULL, 10);
        t->info.typbasetype = (uint32_t)strtoul(PQgetvalue(r, 0, 4), NULL, 10);
        t->info.typtypmod = (int32_t)strtol(PQgetvalue(r, 0, 5), NULL, 10);
        PQclear(r);
        t->next = s->types;
        s->types = t;
        if (t->info.typelem && (rc = type_info(s, t->info.typelem, depth + 1, &t->info.elem, err)))
                return rc;
        if (t->info.typbasetype &&
            (rc = type_info(s, t->info.typbasetype, depth + 1, &t->info.base, err)))
                return rc;
        *out = &t->info;
        return 0;
}

int pg_describe(struct pg_src *s, uint32_t relid, char *nsp, char *rel, struct pg_coldesc *cols,
                int max, int *n, struct zetl_err *err)
{
        char oidtext[16];
        const char *params[1] = { oidtext };
        PGresult *r;
        char ident;
        bool any_key = false;
        int rc = 0;

        snprintf(oidtext, sizeof(oidtext), "%u", relid);
        r = PQexecParams(s->conn,
                         "SELECT n.nspname, c.relname, c.relreplident, c.relpages, "
                         "c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = "
                         "c.relnamespace WHERE c.oid = $1",
                         1, NULL, params, NULL, NULL, 0);
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
                rc = r && PQresultStatus(r) == PGRES_TUPLES_OK
                             ? zetl_err_set(err, ZETL_ENOTFOUND, ZETL_ERRC_FATAL,
                                            "table %u not found", relid)
                             : query_error(s->conn, r, "describing a table", err);
                PQclear(r);
                return rc;
        }
        snprintf(nsp, ZETL_NAME_MAX, "%s", PQgetvalue(r, 0, 0));
        snprintf(rel, ZETL_NAME_MAX, "%s", PQgetvalue(r, 0, 1));
        ident = PQgetvalue(r, 0, 2)[0];
        PQclear(r);

        /* The key: the primary key, else the replica identity index. */
        r = PQexecParams(
                s->conn,
                "SELECT a.attname, a.atttypid, a.atttypmod, a.attnum, a.attnotnull, "
                "format_type(a.atttypid, a.atttypmod), "
                "COALESCE(array_position(k.indkey::int2[], a.attnum) - "
                "array_lower(k.indkey::int2[], 1) + 1, 0) "
                "FROM pg_attribute a LEFT JOIN LATERAL (SELECT i.indkey FROM pg_index i "
                "WHERE i.indrelid = a.attrelid AND (i.indisprimary OR i.indisreplident) "
                "ORDER BY i.indisprimary DESC LIMIT 1) k ON true "
                "WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                1, NULL, params, NULL, NULL, 0);
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
                rc = query_error(s->conn, r, "describing a table's columns", err);
                PQclear(r);
                return rc;
        }
        if (PQntuples(r) > max) {
                PQclear(r);
                return zetl_err_set(err, ZETL_ELIMIT, ZETL_ERRC_FATAL, "table %s has %d columns",
                                    rel, PQntuples(r));
        }
        *n = PQntuples(r);
        for (int i = 0; i < *n; i++) {
                struct pg_coldesc *c = &cols[i];
                snprintf(c->name, sizeof(c->name), "%s", PQgetvalue(r, i, 0));
                c->typoid = (uint32_t)strtoul(PQgetvalue(r, i, 1), NULL, 10);
                c->typmod = (int32_t)strtol(PQgetvalue(r, i, 2), NULL, 10);
                c->attnum = atoi(PQgetvalue(r, i, 3));
                c->notnull = PQgetvalue(r, i, 4)[0] == 't';
                snprintf(c->type_text, sizeof(c->type_text), "%s", PQgetvalue(r, i, 5));
                c->key_pos = atoi(PQgetvalue(r, i, 6));
                any_key |= c->key_pos > 0;
        }
        PQclear(r);
        /* REPLICA IDENTITY FULL without a key: the whole row identifies it. */
        if (!any_key && ident == 'f')
                for (int i = 0; i < *n; i++)
                        cols[i].key_pos = i + 1;
        return 0;
}

static int build_schema(struct pg_src *s, const struct zetl_table_id *id,
                        const struct pg_coldesc *cols, int n, struct zetl_schema **out,
                        struct pg_col_decoder *dec, bool *text_only, struct zetl_err *err)
{
        struct zetl_schema *sch = zetl_schema_new(id, n);
        int rc = 0;

        if (!sch)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        *text_only = false;
        for (int i = 0; i < n && rc == 0; i++) {
                const struct pg_type_info *info = NULL;
                struct zetl_column c = { 0 };

                if (cols[i].typoid >= PG_FIRST_NORMAL_OID &&
                    (rc = type_info(s, cols[i].typoid, 0, &info, err)))
                        break;
                rc = pg_type_map(cols[i].typoid, cols[i].typmod, info, &c, err);
                if (rc == ZETL_EINVAL && !info) {
                        /* A catalog type pg_types does not know by oid: ask pg_type. */
                        if ((rc = type_info(s, cols[i].typoid, 0, &info, err)))
                                break;
                        rc = pg_type_map(cols[i].typoid, cols[i].typmod, info, &c, err);
                }
                if (rc < 0)
                        break;
                *text_only |= rc == PG_TYPE_TEXT_ONLY;
                if ((rc = pg_col_decoder_init(&dec[i], cols[i].typoid, info, err)))
                        break;
                c.name = (char *)cols[i].name;
                c.nullable = !cols[i].notnull;
                c.key_pos = cols[i].key_pos;
                c.source_id = (uint32_t)cols[i].attnum;
                c.source_type = (char *)cols[i].type_text;
                rc = zetl_schema_set_col(sch, i, &c);
        }
        if (rc == 0)
                rc = zetl_schema_finish(sch, err);
        if (rc) {
                zetl_schema_unref(sch);
                return rc;
        }
        *out = sch;
        return 0;
}

int pg_rel_update(struct pg_src *s, struct zetl_emitter *em, uint32_t relid, const char *nsp,
                  const char *relname, const struct pg_coldesc *cols, int n, struct pg_rel **out,
                  struct zetl_err *err)
{
        struct pg_rel *rel = pg_rel_find(s, relid);
        struct zetl_table_id id;
        struct zetl_schema *sch = NULL;
        struct pg_col_decoder *dec = calloc(n ? (size_t)n : 1, sizeof(*dec));
        bool text_only = false;
        int rc;

        if (!dec)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        if (zetl_table_id_set(&id, s->dbname, nsp, relname)) {
                free(dec);
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "table name too long");
        }
        if (!rel) {
                if (!(rel = calloc(1, sizeof(*rel)))) {
                        free(dec);
                        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                }
                rel->relid = relid;
                rel->next = s->rels;
                s->rels = rel;
        }
        *out = rel;
        rel->excluded = !zetl_emit_wants(em, &id);
        if (rel->excluded) {
                free(dec);
                return 0;
        }
        if ((rc = build_schema(s, &id, cols, n, &sch, dec, &text_only, err))) {
                free(dec);
                return zetl_err_prefix(err, "table %s.%s: ", nsp, relname);
        }
        sch->version = rel->schema ? rel->schema->version : 1;
        if (rel->schema && !zetl_schema_same_shape(rel->schema, sch))
                sch->version++;
        if (rel->schema && zetl_schema_same_shape(rel->schema, sch) &&
            zetl_table_id_eq(&rel->schema->id, &sch->id)) {
                zetl_schema_unref(sch); /* same shape: keep the announced version */
                free(rel->dec);
                rel->dec = dec;
                return 0;
        }
        if (rel->schema)
                zetl_schema_unref(rel->schema);
        rel->schema = sch;
        free(rel->dec);
        rel->dec = dec;
        rel->text_only = text_only;
        rel->no_key = sch->nkeys == 0;
        if ((rc = zetl_emit_schema(em, sch, err)))
                return rc;
        if (rel->no_key && !rel->reported) {
                char msg[512];
                snprintf(msg, sizeof(msg),
                         "no primary key and no replica identity: its changes cannot be applied "
                         "by key. Fix: ALTER TABLE \"%s\".\"%s\" ADD PRIMARY KEY (...); or "
                         "ALTER TABLE \"%s\".\"%s\" REPLICA IDENTITY FULL; then resync",
                         nsp, relname, nsp, relname);
                zetl_emit_table_error(em, &id, msg);
                rel->reported = true;
        }
        return 0;
}

int pg_rel_would_announce(struct pg_src *s, struct zetl_emitter *em, uint32_t relid,
                          const char *nsp, const char *relname, const struct pg_coldesc *cols,
                          int n, enum pg_announce *out, struct zetl_err *err)
{
        struct pg_rel *rel = pg_rel_find(s, relid);
        const struct zetl_schema *known;
        struct zetl_table_id id;
        struct zetl_schema *sch = NULL;
        struct pg_col_decoder *dec;
        bool text_only;
        int rc;

        *out = PG_ANNOUNCE_CHANGE;
        if (zetl_table_id_set(&id, s->dbname, nsp, relname))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "table name too long");
        if (!zetl_emit_wants(em, &id)) {
                /* Ignored either way, unless it was selected under its old name. */
                *out = rel && !rel->excluded ? PG_ANNOUNCE_CHANGE : PG_ANNOUNCE_NONE;
                return 0;
        }
        if (rel && rel->excluded)
                return 0;
        if (!(dec = calloc(n ? (size_t)n : 1, sizeof(*dec))))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        if ((rc = build_schema(s, &id, cols, n, &sch, dec, &text_only, err)) == 0) {
                if (rel && rel->schema) {
                        if (zetl_schema_same_shape(rel->schema, sch) &&
                            zetl_table_id_eq(&rel->schema->id, &sch->id))
                                *out = PG_ANNOUNCE_NONE;
                } else if ((known = zetl_emit_known(em, &id)) &&
                           zetl_schema_same_shape(known, sch)) {
                        /* New to this run, as the target already has it. */
                        *out = PG_ANNOUNCE_KNOWN;
                }
                zetl_schema_unref(sch);
        } else {
                /* The update will meet the same error: let it, at the commit. */
                zetl_err_clear(err);
                rc = 0;
        }
        free(dec);
        return rc;
}

int pg_tables_text_only(struct pg_src *s, struct zetl_emitter *em, bool *any, struct zetl_err *err)
{
        PGresult *r = PQexec(
                s->conn, "SELECT n.nspname, c.relname, a.atttypid, a.atttypmod FROM pg_attribute a "
                         "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = "
                         "c.relnamespace WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT "
                         "a.attisdropped AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                         "AND n.nspname NOT LIKE 'pg\\_toast%'");
        int rc = 0;

        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
                rc = query_error(s->conn, r, "reading column types", err);
                PQclear(r);
                return rc;
        }
        for (int i = 0; i < PQntuples(r) && !*any && rc == 0; i++) {
                struct zetl_table_id id;
                uint32_t oid = (uint32_t)strtoul(PQgetvalue(r, i, 2), NULL, 10);
                const struct pg_type_info *info = NULL;
                struct zetl_column c = { 0 };

                if (zetl_table_id_set(&id, s->dbname, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)) ||
                    !zetl_emit_wants(em, &id))
                        continue;
                if (oid >= PG_FIRST_NORMAL_OID && (rc = type_info(s, oid, 0, &info, err)))
                        break;
                int m = pg_type_map(oid, (int32_t)strtol(PQgetvalue(r, i, 3), NULL, 10), info, &c,
                                    err);
                if (m == ZETL_EINVAL && !info && !(rc = type_info(s, oid, 0, &info, err)))
                        m = pg_type_map(oid, -1, info, &c, err);
                *any = m == PG_TYPE_TEXT_ONLY;
        }
        PQclear(r);
        return rc;
}

int pg_report_keyless(struct pg_src *s, struct zetl_emitter *em, struct zetl_err *err)
{
        PGresult *r = PQexec(
                s->conn,
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                "c.relnamespace WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
                "AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 "
                "FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))");
        int rc = 0;

        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
                rc = query_error(s->conn, r, "looking for tables without a key", err);
                PQclear(r);
                return rc;
        }
        for (int i = 0; i < PQntuples(r); i++) {
                struct zetl_table_id id;
                const char *nsp = PQgetvalue(r, i, 0), *rel = PQgetvalue(r, i, 1);
                char msg[ZETL_ERR_MSG_MAX];

                if (zetl_table_id_set(&id, s->dbname, nsp, rel) || !zetl_emit_wants(em, &id))
                        continue;
                snprintf(msg, sizeof(msg),
                         "no primary key and no replica identity: its changes cannot be applied "
                         "by key. Fix: ALTER TABLE \"%s\".\"%s\" ADD PRIMARY KEY (...); or "
                         "ALTER TABLE \"%s\".\"%s\" REPLICA IDENTITY FULL; then resync",
                         nsp, rel, nsp, rel);
                zetl_emit_table_error(em, &id, msg);
        }
        PQclear(r);
        return 0;
}
