/*
 * pg_sink_sql (see pg_sink_sql.h): the warehouse sink's SQL text for
 * PostgreSQL and Redshift. Pure string building: no server, no libpq.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_sink_sql.h"
#include "zetl/value.h"

/* Redshift's limits (CREATE TABLE docs: VARCHAR and NUMERIC). */
#define RS_VARCHAR_MAX 65535
#define RS_NUMERIC_MAX 38
/* Unconstrained numeric in Redshift: 38 digits, 10 after the point. */
#define RS_NUMERIC_DEFAULT_SCALE 10

/* ---- buffer --------------------------------------------------------------- */

void wh_buf_init(struct wh_buf *b, size_t max)
{
        memset(b, 0, sizeof(*b));
        b->max = max;
}

void wh_buf_free(struct wh_buf *b)
{
        free(b->p);
        memset(b, 0, sizeof(*b));
}

void wh_buf_reset(struct wh_buf *b)
{
        b->len = 0;
        b->failed = false;
        if (b->p)
                b->p[0] = '\0';
}

static bool grow(struct wh_buf *b, size_t n)
{
        size_t need, ncap;
        char *np;

        if (b->failed)
                return false;
        need = b->len + n + 1;
        if (need <= b->cap)
                return true;
        if ((b->max && need > b->max) || need < n) {
                b->failed = true;
                return false;
        }
        ncap = b->cap ? b->cap : 256;
        while (ncap < need)
                ncap *= 2;
        if (b->max && ncap > b->max)
                ncap = b->max;
        if (!(np = realloc(b->p, ncap))) {
                b->failed = true;
                return false;
        }
        b->p = np;
        b->cap = ncap;
        return true;
}

void wh_buf_put(struct wh_buf *b, const void *p, size_t n)
{
        if (!grow(b, n))
                return;
        if (n)
                memcpy(b->p + b->len, p, n);
        b->len += n;
        b->p[b->len] = '\0';
}

void wh_buf_puts(struct wh_buf *b, const char *s)
{
        wh_buf_put(b, s, strlen(s));
}

void wh_buf_printf(struct wh_buf *b, const char *fmt, ...)
{
        char small[128];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(small, sizeof(small), fmt, ap);
        va_end(ap);
        if (n < 0) {
                b->failed = true;
                return;
        }
        if ((size_t)n < sizeof(small)) {
                wh_buf_put(b, small, (size_t)n);
                return;
        }
        if (!grow(b, (size_t)n))
                return;
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

const char *wh_buf_str(struct wh_buf *b)
{
        return b->p && !b->failed ? b->p : "";
}

/* ---- quoting -------------------------------------------------------------- */

void wh_quote_ident(struct wh_buf *b, const char *name)
{
        const char *q;

        wh_buf_put(b, "\"", 1);
        while ((q = strchr(name, '"')) != NULL) {
                wh_buf_put(b, name, (size_t)(q - name) + 1);
                wh_buf_put(b, "\"", 1);
                name = q + 1;
        }
        wh_buf_puts(b, name);
        wh_buf_put(b, "\"", 1);
}

void wh_quote_literal(struct wh_buf *b, enum wh_dialect d, const char *s, size_t n)
{
        size_t i, from = 0;

        /* E'' reads backslashes as escapes whatever standard_conforming_strings
         * says; Redshift always does (its QUOTE_LITERAL doubles them). */
        wh_buf_puts(b, d == WH_POSTGRES ? "E'" : "'");
        for (i = 0; i < n; i++) {
                if (s[i] != '\'' && s[i] != '\\')
                        continue;
                wh_buf_put(b, s + from, i - from + 1);
                wh_buf_put(b, s + i, 1);
                from = i + 1;
        }
        wh_buf_put(b, s + from, n - from);
        wh_buf_put(b, "'", 1);
}

/* ---- names and types ------------------------------------------------------ */

void wh_target_schema(const struct zetl_table_id *id, char *buf, size_t len)
{
        if (id->schema[0])
                snprintf(buf, len, "%s_%s", id->db, id->schema);
        else
                snprintf(buf, len, "%s", id->db);
}

void wh_target_name(struct wh_buf *b, const struct zetl_table_id *id)
{
        char schema[ZETL_NAME_MAX * 2 + 1];

        wh_target_schema(id, schema, sizeof(schema));
        wh_quote_ident(b, schema);
        wh_buf_put(b, ".", 1);
        wh_quote_ident(b, id->table);
}

static const char *const pg_types[ZETL_T__COUNT] = {
        [ZETL_T_BOOL] = "boolean",
        [ZETL_T_INT16] = "smallint",
        [ZETL_T_INT32] = "integer",
        [ZETL_T_INT64] = "bigint",
        [ZETL_T_FLOAT32] = "real",
        [ZETL_T_FLOAT64] = "double precision",
        [ZETL_T_DECIMAL] = "numeric",
        [ZETL_T_STRING] = "text",
        [ZETL_T_BYTES] = "bytea",
        [ZETL_T_DATE] = "date",
        [ZETL_T_TIME] = "time",
        [ZETL_T_TIMESTAMP] = "timestamp",
        [ZETL_T_TIMESTAMPTZ] = "timestamptz",
        [ZETL_T_UUID] = "uuid",
        [ZETL_T_JSON] = "jsonb",
};

static const char *const rs_types[ZETL_T__COUNT] = {
        [ZETL_T_BOOL] = "BOOLEAN",
        [ZETL_T_INT16] = "SMALLINT",
        [ZETL_T_INT32] = "INTEGER",
        [ZETL_T_INT64] = "BIGINT",
        [ZETL_T_FLOAT32] = "REAL",
        [ZETL_T_FLOAT64] = "DOUBLE PRECISION",
        [ZETL_T_DECIMAL] = "NUMERIC",
        [ZETL_T_STRING] = "VARCHAR(65535)",
        [ZETL_T_BYTES] = "VARBYTE(1024000)",
        [ZETL_T_DATE] = "DATE",
        [ZETL_T_TIME] = "TIME",
        [ZETL_T_TIMESTAMP] = "TIMESTAMP",
        [ZETL_T_TIMESTAMPTZ] = "TIMESTAMPTZ",
        [ZETL_T_UUID] = "CHAR(36)",
        [ZETL_T_JSON] = "SUPER",
};

void wh_type_sql(struct wh_buf *b, enum wh_dialect d, const struct zetl_column *c)
{
        if (c->type < 0 || c->type >= ZETL_T__COUNT) {
                b->failed = true;
                return;
        }
        if (c->type != ZETL_T_DECIMAL) {
                wh_buf_puts(b, d == WH_POSTGRES ? pg_types[c->type] : rs_types[c->type]);
                return;
        }
        if (d == WH_POSTGRES) {
                /* PostgreSQL's numeric holds 1000 digits at most when constrained;
                 * an unknown scale must not round anything: keep it unconstrained. */
                if (c->precision > 0 && c->precision <= 1000 && c->scale >= 0)
                        wh_buf_printf(b, "numeric(%d,%d)", c->precision, c->scale);
                else
                        wh_buf_puts(b, "numeric");
                return;
        }
        int p = c->precision, s = c->scale;
        if (p <= 0) {
                p = RS_NUMERIC_MAX;
                s = s < 0 ? RS_NUMERIC_DEFAULT_SCALE : s;
        }
        if (p > RS_NUMERIC_MAX)
                p = RS_NUMERIC_MAX;
        if (s < 0)
                s = 0;
        if (s > RS_NUMERIC_MAX - 1)
                s = RS_NUMERIC_MAX - 1;
        if (s > p)
                s = p;
        wh_buf_printf(b, "NUMERIC(%d,%d)", p, s);
}

void wh_staging_type(struct wh_buf *b, enum wh_dialect d, const struct zetl_column *c)
{
        if (d == WH_REDSHIFT) {
                wh_type_sql(b, d, c);
                return;
        }
        if (c->type < 0 || c->type >= ZETL_T__COUNT) {
                b->failed = true;
                return;
        }
        wh_buf_puts(b, pg_types[c->type]);
}

bool wh_has_pk(const struct zetl_schema *s)
{
        if (s->nkeys == 0)
                return false;
        for (int i = 0; i < s->ncols; i++)
                if (s->cols[i].key_pos > 0 && s->cols[i].nullable)
                        return false;
        return true;
}

/* ---- DDL ------------------------------------------------------------------- */

void wh_sql_create_schema(struct wh_buf *b, const char *schema)
{
        wh_buf_puts(b, "CREATE SCHEMA IF NOT EXISTS ");
        wh_quote_ident(b, schema);
}

static void key_list(struct wh_buf *b, const struct zetl_schema *s)
{
        for (int k = 1; k <= s->nkeys; k++) {
                int i = zetl_schema_key_col(s, k);
                if (k > 1)
                        wh_buf_puts(b, ", ");
                wh_quote_ident(b, i >= 0 ? s->cols[i].name : "");
        }
}

static const char *now_fn(enum wh_dialect d)
{
        return d == WH_POSTGRES ? "now()" : "GETDATE()";
}

void wh_sql_create_table(struct wh_buf *b, const struct wh_opts *o, const struct zetl_schema *s)
{
        bool pk = wh_has_pk(s);

        wh_buf_puts(b, "CREATE TABLE IF NOT EXISTS ");
        wh_target_name(b, &s->id);
        wh_buf_puts(b, " (");
        for (int i = 0; i < s->ncols; i++) {
                if (i)
                        wh_buf_puts(b, ", ");
                wh_quote_ident(b, s->cols[i].name);
                wh_buf_put(b, " ", 1);
                wh_type_sql(b, o->dialect, &s->cols[i]);
                /* Only the key is NOT NULL: a kept dropped column gets NULLs. */
                if (pk && s->cols[i].key_pos > 0)
                        wh_buf_puts(b, " NOT NULL");
        }
        if (o->soft_delete)
                wh_buf_puts(b, o->dialect == WH_POSTGRES
                                       ? ", \"_zetl_deleted\" boolean NOT NULL DEFAULT false, "
                                         "\"_zetl_synced_at\" timestamptz"
                                       : ", \"_zetl_deleted\" BOOLEAN NOT NULL DEFAULT FALSE, "
                                         "\"_zetl_synced_at\" TIMESTAMPTZ");
        if (pk) {
                wh_buf_puts(b, ", PRIMARY KEY (");
                key_list(b, s);
                wh_buf_put(b, ")", 1);
        }
        wh_buf_put(b, ")", 1);
}

static void alter_table(struct wh_buf *b, const struct zetl_table_id *id)
{
        wh_buf_puts(b, "ALTER TABLE ");
        wh_target_name(b, id);
        wh_buf_put(b, " ", 1);
}

void wh_sql_add_column(struct wh_buf *b, const struct wh_opts *o, const struct zetl_table_id *id,
                       const struct zetl_column *c)
{
        alter_table(b, id);
        wh_buf_puts(b, o->dialect == WH_POSTGRES ? "ADD COLUMN IF NOT EXISTS " : "ADD COLUMN ");
        wh_quote_ident(b, c->name);
        wh_buf_put(b, " ", 1);
        wh_type_sql(b, o->dialect, c);
}

void wh_sql_drop_column(struct wh_buf *b, const struct zetl_table_id *id, const char *name)
{
        alter_table(b, id);
        wh_buf_puts(b, "DROP COLUMN ");
        wh_quote_ident(b, name);
}

void wh_sql_rename_column(struct wh_buf *b, const struct zetl_table_id *id, const char *from,
                          const char *to)
{
        alter_table(b, id);
        wh_buf_puts(b, "RENAME COLUMN ");
        wh_quote_ident(b, from);
        wh_buf_puts(b, " TO ");
        wh_quote_ident(b, to);
}

void wh_sql_alter_type(struct wh_buf *b, const struct wh_opts *o, const struct zetl_table_id *id,
                       const struct zetl_column *c)
{
        if (o->dialect == WH_POSTGRES) {
                alter_table(b, id);
                wh_buf_puts(b, "ALTER COLUMN ");
                wh_quote_ident(b, c->name);
                wh_buf_puts(b, " TYPE ");
                wh_type_sql(b, o->dialect, c);
                wh_buf_puts(b, " USING ");
                wh_quote_ident(b, c->name);
                wh_buf_puts(b, "::");
                wh_type_sql(b, o->dialect, c);
                return;
        }
        /* Redshift: a new column, filled, then swapped in under the old name. */
        size_t n = strlen(c->name);
        char *tmp = malloc(n + sizeof("_zetl_new"));
        if (!tmp) {
                b->failed = true;
                return;
        }
        memcpy(tmp, c->name, n);
        memcpy(tmp + n, "_zetl_new", sizeof("_zetl_new"));
        alter_table(b, id);
        wh_buf_puts(b, "ADD COLUMN ");
        wh_quote_ident(b, tmp);
        wh_buf_put(b, " ", 1);
        wh_type_sql(b, o->dialect, c);
        wh_buf_puts(b, ";\nUPDATE ");
        wh_target_name(b, id);
        wh_buf_puts(b, " SET ");
        wh_quote_ident(b, tmp);
        wh_buf_puts(b, " = CAST(");
        wh_quote_ident(b, c->name);
        wh_buf_puts(b, " AS ");
        wh_type_sql(b, o->dialect, c);
        wh_buf_puts(b, ");\n");
        wh_sql_drop_column(b, id, c->name);
        wh_buf_puts(b, ";\n");
        wh_sql_rename_column(b, id, tmp, c->name);
        free(tmp);
}

void wh_sql_replace_pk(struct wh_buf *b, const struct zetl_schema *s, const char *constraint)
{
        bool sep = false;

        if (constraint) {
                alter_table(b, &s->id);
                wh_buf_puts(b, "DROP CONSTRAINT ");
                wh_quote_ident(b, constraint);
                sep = true;
        }
        if (wh_has_pk(s)) {
                if (sep)
                        wh_buf_puts(b, ";\n");
                alter_table(b, &s->id);
                wh_buf_puts(b, "ADD PRIMARY KEY (");
                key_list(b, s);
                wh_buf_put(b, ")", 1);
        }
}

void wh_sql_truncate(struct wh_buf *b, enum wh_dialect d, const struct zetl_table_id *id)
{
        wh_buf_puts(b, d == WH_POSTGRES ? "TRUNCATE " : "DELETE FROM ");
        wh_target_name(b, id);
}

void wh_sql_soft_truncate(struct wh_buf *b, enum wh_dialect d, const struct zetl_table_id *id)
{
        wh_buf_puts(b, "UPDATE ");
        wh_target_name(b, id);
        wh_buf_printf(b, " SET \"_zetl_deleted\" = %s, \"_zetl_synced_at\" = %s",
                      d == WH_POSTGRES ? "true" : "TRUE", now_fn(d));
        wh_buf_puts(b, " WHERE NOT \"_zetl_deleted\"");
}

/* ---- staging --------------------------------------------------------------- */

void wh_staging_name(char *buf, size_t len, int table_no, uint32_t version)
{
        snprintf(buf, len, "_zetl_stg_%d_%" PRIu32, table_no, version);
}

static bool has_u(const struct zetl_schema *s, const struct wh_stage_shape *sh, int i)
{
        return sh && sh->unch && sh->unch[i] && s->cols[i].key_pos == 0;
}

static bool any_u(const struct zetl_schema *s, const struct wh_stage_shape *sh)
{
        for (int i = 0; i < s->ncols; i++)
                if (has_u(s, sh, i))
                        return true;
        return false;
}

void wh_sql_staging_create(struct wh_buf *b, enum wh_dialect d, const char *stg,
                           const struct zetl_schema *s)
{
        wh_buf_puts(b, "CREATE TEMP TABLE IF NOT EXISTS ");
        wh_quote_ident(b, stg);
        wh_buf_puts(b, d == WH_POSTGRES ? " (_zetl_op smallint" : " (_zetl_op SMALLINT");
        for (int i = 0; i < s->ncols; i++) {
                wh_buf_printf(b, ", c%d ", i);
                wh_staging_type(b, d, &s->cols[i]);
        }
        for (int i = 0; i < s->ncols; i++)
                if (s->cols[i].key_pos == 0)
                        wh_buf_printf(b, ", u%d %s", i, d == WH_POSTGRES ? "boolean" : "BOOLEAN");
        for (int i = 0; i < s->ncols; i++) {
                if (s->cols[i].key_pos == 0)
                        continue;
                wh_buf_printf(b, ", o%d ", i);
                wh_staging_type(b, d, &s->cols[i]);
        }
        wh_buf_put(b, ")", 1);
}

void wh_sql_staging_cols(struct wh_buf *b, const struct zetl_schema *s,
                         const struct wh_stage_shape *sh)
{
        wh_buf_puts(b, "_zetl_op");
        for (int i = 0; i < s->ncols; i++)
                wh_buf_printf(b, ", c%d", i);
        for (int i = 0; i < s->ncols; i++)
                if (has_u(s, sh, i))
                        wh_buf_printf(b, ", u%d", i);
        for (int i = 0; sh && sh->old_fill && i < s->ncols; i++)
                if (s->cols[i].key_pos > 0)
                        wh_buf_printf(b, ", o%d", i);
}

void wh_sql_copy(struct wh_buf *b, const char *stg, const struct zetl_schema *s,
                 const struct wh_stage_shape *sh)
{
        wh_buf_puts(b, "COPY ");
        wh_quote_ident(b, stg);
        wh_buf_puts(b, " (");
        wh_sql_staging_cols(b, s, sh);
        wh_buf_puts(b, ") FROM STDIN (FORMAT binary)");
}

/* The table's columns, quoted, comma-separated. */
static void column_list(struct wh_buf *b, const struct zetl_schema *s)
{
        for (int i = 0; i < s->ncols; i++) {
                if (i)
                        wh_buf_puts(b, ", ");
                wh_quote_ident(b, s->cols[i].name);
        }
}

void wh_sql_copy_target(struct wh_buf *b, const struct zetl_schema *s)
{
        wh_buf_puts(b, "COPY ");
        wh_target_name(b, &s->id);
        wh_buf_puts(b, " (");
        column_list(b, s);
        wh_buf_puts(b, ") FROM STDIN (FORMAT binary)");
}

void wh_sql_copy_target_check(struct wh_buf *b, const struct zetl_schema *s)
{
        struct wh_buf rel, ty;

        /* The relation as a regclass literal: its quoted name, quoted again. */
        wh_buf_init(&rel, 0);
        wh_target_name(&rel, &s->id);
        wh_buf_puts(b, "WITH r AS (SELECT to_regclass(");
        if (rel.failed || !rel.p)
                b->failed = true;
        else
                wh_quote_literal(b, WH_POSTGRES, rel.p, rel.len);
        wh_buf_free(&rel);
        wh_buf_puts(b, ") AS oid), x(n, t) AS (VALUES ");
        for (int i = 0; i < s->ncols; i++) {
                wh_buf_init(&ty, 0);
                wh_staging_type(&ty, WH_POSTGRES, &s->cols[i]);
                if (i)
                        wh_buf_puts(b, ", ");
                wh_buf_puts(b, "(");
                wh_quote_literal(b, WH_POSTGRES, s->cols[i].name, strlen(s->cols[i].name));
                wh_buf_puts(b, ", ");
                if (ty.failed || !ty.p)
                        b->failed = true;
                else
                        wh_quote_literal(b, WH_POSTGRES, ty.p, ty.len);
                wh_buf_puts(b, "::regtype)");
                wh_buf_free(&ty);
        }
        wh_buf_printf(b,
                      ") SELECT (SELECT count(*) FROM x JOIN pg_attribute a ON a.attrelid = "
                      "(SELECT oid FROM r) AND a.attname = x.n AND a.attnum > 0 AND NOT "
                      "a.attisdropped AND a.atttypid = x.t) = %d AND NOT EXISTS (SELECT 1 "
                      "FROM pg_attribute a WHERE a.attrelid = (SELECT oid FROM r) AND "
                      "a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull AND NOT "
                      "a.atthasdef AND a.attname NOT IN (SELECT n FROM x))",
                      s->ncols);
}

void wh_sql_insert_head(struct wh_buf *b, const char *stg, const struct zetl_schema *s,
                        const struct wh_stage_shape *sh)
{
        wh_buf_puts(b, "INSERT INTO ");
        wh_quote_ident(b, stg);
        wh_buf_puts(b, " (");
        wh_sql_staging_cols(b, s, sh);
        wh_buf_puts(b, ") VALUES ");
}

/* ---- apply ----------------------------------------------------------------- */

/* `lhs` = `rhs` for every key column; nullable keys (REPLICA IDENTITY FULL)
 * match NULL to NULL. lhs and rhs are printf prefixes of the column. */
static void key_match(struct wh_buf *b, const struct zetl_schema *s, const char *talias,
                      const struct zetl_table_id *tname, const char *salias, char scol)
{
        bool first = true;

        for (int i = 0; i < s->ncols; i++) {
                if (s->cols[i].key_pos == 0)
                        continue;
                for (int side = 0; side < (s->cols[i].nullable ? 2 : 1); side++) {
                        if (side == 0) {
                                wh_buf_puts(b, first ? "" : " AND ");
                                if (s->cols[i].nullable)
                                        wh_buf_put(b, "(", 1);
                        } else {
                                wh_buf_puts(b, " OR (");
                        }
                        if (tname) {
                                wh_target_name(b, tname);
                                wh_buf_put(b, ".", 1);
                        } else {
                                wh_buf_printf(b, "%s.", talias);
                        }
                        wh_quote_ident(b, s->cols[i].name);
                        if (side == 0) {
                                wh_buf_printf(b, " = %s.%c%d", salias, scol, i);
                        } else {
                                wh_buf_printf(b, " IS NULL AND %s.%c%d IS NULL))", salias, scol, i);
                        }
                }
                first = false;
        }
}

/* The non-key column list of the target, and s.c<i> (or the kept value). */
static void insert_cols(struct wh_buf *b, const struct wh_opts *o, const struct zetl_schema *s)
{
        column_list(b, s);
        if (o->soft_delete)
                wh_buf_puts(b, ", \"_zetl_deleted\", \"_zetl_synced_at\"");
}

static void insert_vals(struct wh_buf *b, const struct wh_opts *o, const struct zetl_schema *s,
                        const char *salias)
{
        for (int i = 0; i < s->ncols; i++)
                wh_buf_printf(b, "%s%s.c%d", i ? ", " : "", salias, i);
        if (o->soft_delete)
                wh_buf_printf(b, ", %s, %s", o->dialect == WH_POSTGRES ? "false" : "FALSE",
                              now_fn(o->dialect));
}

/* UPDATE the staging rows' unsent values from the target row at key column
 * prefix kcol ('o': the old key; 'c': their own key). */
static void fill_from_target(struct wh_buf *b, const struct wh_opts *o, const char *stg,
                             const struct zetl_schema *s, const struct wh_stage_shape *sh,
                             char kcol)
{
        bool first = true;

        wh_buf_puts(b, "UPDATE ");
        wh_quote_ident(b, stg);
        wh_buf_puts(b, " AS s SET ");
        for (int i = 0; i < s->ncols; i++) {
                if (!has_u(s, sh, i))
                        continue;
                wh_buf_printf(b, "%sc%d = CASE WHEN s.u%d THEN t.", first ? "" : ", ", i, i);
                wh_quote_ident(b, s->cols[i].name);
                wh_buf_printf(b, " ELSE s.c%d END, u%d = NULL", i, i);
                first = false;
        }
        wh_buf_puts(b, " FROM ");
        wh_target_name(b, &s->id);
        wh_buf_puts(b, kcol == 'c' ? " AS t WHERE s._zetl_op = 1 AND " : " AS t WHERE ");
        key_match(b, s, "t", NULL, "s", kcol);
        (void)o;
}

static void apply_append(struct wh_buf *b, const struct wh_opts *o, const char *stg,
                         const struct zetl_schema *s)
{
        wh_buf_puts(b, "INSERT INTO ");
        wh_target_name(b, &s->id);
        wh_buf_puts(b, " (");
        insert_cols(b, o, s);
        wh_buf_puts(b, ") SELECT ");
        insert_vals(b, o, s, "s");
        wh_buf_puts(b, " FROM ");
        wh_quote_ident(b, stg);
        wh_buf_puts(b, " AS s WHERE s._zetl_op = 1");
}

static void apply_merge(struct wh_buf *b, const struct wh_opts *o, const char *stg,
                        const struct zetl_schema *s, const struct wh_stage_shape *sh)
{
        bool first = true;

        wh_buf_puts(b, "MERGE INTO ");
        wh_target_name(b, &s->id);
        wh_buf_puts(b, " AS t USING ");
        wh_quote_ident(b, stg);
        wh_buf_puts(b, " AS s ON ");
        key_match(b, s, "t", NULL, "s", 'c');
        if (o->soft_delete)
                wh_buf_puts(b, "\nWHEN MATCHED AND s._zetl_op = 3 THEN UPDATE SET "
                               "\"_zetl_deleted\" = true, \"_zetl_synced_at\" = now()");
        else
                wh_buf_puts(b, "\nWHEN MATCHED AND s._zetl_op = 3 THEN DELETE");
        for (int i = 0; i < s->ncols; i++) {
                if (s->cols[i].key_pos > 0)
                        continue;
                wh_buf_puts(b, first ? "\nWHEN MATCHED THEN UPDATE SET " : ", ");
                wh_quote_ident(b, s->cols[i].name);
                if (has_u(s, sh, i)) {
                        wh_buf_printf(b, " = CASE WHEN s.u%d THEN t.", i);
                        wh_quote_ident(b, s->cols[i].name);
                        wh_buf_printf(b, " ELSE s.c%d END", i);
                } else {
                        wh_buf_printf(b, " = s.c%d", i);
                }
                first = false;
        }
        if (o->soft_delete)
                wh_buf_puts(b, first ? "\nWHEN MATCHED THEN UPDATE SET "
                                       "\"_zetl_deleted\" = false, \"_zetl_synced_at\" = now()"
                                     : ", \"_zetl_deleted\" = false, \"_zetl_synced_at\" = now()");
        wh_buf_puts(b, "\nWHEN NOT MATCHED AND s._zetl_op = 1 THEN INSERT (");
        insert_cols(b, o, s);
        wh_buf_puts(b, ") VALUES (");
        insert_vals(b, o, s, "s");
        wh_buf_put(b, ")", 1);
}

static void apply_delete_insert(struct wh_buf *b, const struct wh_opts *o, const char *stg,
                                const struct zetl_schema *s)
{
        /* Redshift's DELETE takes no alias for either table. */
        char *sq;
        struct wh_buf q;

        wh_buf_init(&q, 0);
        wh_quote_ident(&q, stg);
        sq = q.failed ? NULL : q.p;
        if (!sq) {
                b->failed = true;
                wh_buf_free(&q);
                return;
        }
        if (o->soft_delete) {
                wh_buf_puts(b, "UPDATE ");
                wh_target_name(b, &s->id);
                wh_buf_puts(b, " SET \"_zetl_deleted\" = TRUE, \"_zetl_synced_at\" = GETDATE() "
                               "FROM ");
                wh_buf_puts(b, sq);
                wh_buf_printf(b, " WHERE %s._zetl_op = 3 AND ", sq);
                key_match(b, s, NULL, &s->id, sq, 'c');
                wh_buf_puts(b, ";\n");
        }
        wh_buf_puts(b, "DELETE FROM ");
        wh_target_name(b, &s->id);
        wh_buf_puts(b, " USING ");
        wh_buf_puts(b, sq);
        wh_buf_puts(b, " WHERE ");
        if (o->soft_delete)
                wh_buf_printf(b, "%s._zetl_op = 1 AND ", sq);
        key_match(b, s, NULL, &s->id, sq, 'c');
        wh_buf_puts(b, ";\n");
        apply_append(b, o, stg, s);
        wh_buf_free(&q);
}

void wh_sql_apply(struct wh_buf *b, const struct wh_opts *o, const char *stg,
                  const struct zetl_schema *s, const struct wh_stage_shape *sh)
{
        if (s->nkeys == 0) {
                apply_append(b, o, stg, s);
                return;
        }
        if (sh && sh->old_fill && any_u(s, sh)) {
                fill_from_target(b, o, stg, s, sh, 'o');
                wh_buf_puts(b, ";\n");
        }
        if (o->dialect == WH_POSTGRES) {
                apply_merge(b, o, stg, s, sh);
                return;
        }
        if (any_u(s, sh)) {
                fill_from_target(b, o, stg, s, sh, 'c');
                wh_buf_puts(b, ";\n");
        }
        apply_delete_insert(b, o, stg, s);
}

/* ---- checkpoint ------------------------------------------------------------ */

#define CK_TABLE "\"_zetl\".\"checkpoints\""

void wh_sql_checkpoint_ddl(struct wh_buf *b, enum wh_dialect d)
{
        wh_buf_puts(b, "CREATE SCHEMA IF NOT EXISTS \"_zetl\";\n"
                       "CREATE TABLE IF NOT EXISTS " CK_TABLE " (");
        if (d == WH_POSTGRES)
                wh_buf_puts(b, "integration text PRIMARY KEY, position_order numeric(20,0) "
                               "NOT NULL, position_token text NOT NULL, source_time_us bigint, "
                               "updated_at timestamptz NOT NULL DEFAULT now())");
        else
                wh_buf_puts(b, "integration VARCHAR(1024) NOT NULL PRIMARY KEY, position_order "
                               "NUMERIC(20,0) NOT NULL, position_token VARCHAR(1024) NOT NULL, "
                               "source_time_us BIGINT, updated_at TIMESTAMPTZ NOT NULL DEFAULT "
                               "GETDATE())");
}

static void where_integration(struct wh_buf *b, enum wh_dialect d, const char *integration)
{
        wh_buf_puts(b, " WHERE integration = ");
        if (d == WH_POSTGRES)
                wh_buf_puts(b, "$1");
        else
                wh_quote_literal(b, d, integration, strlen(integration));
}

void wh_sql_checkpoint_upsert(struct wh_buf *b, enum wh_dialect d, const char *integration,
                              uint64_t order, const char *token, int64_t time_us)
{
        if (d == WH_POSTGRES) {
                wh_buf_puts(b, "INSERT INTO " CK_TABLE " (integration, position_order, "
                               "position_token, source_time_us, updated_at) VALUES ($1, "
                               "$2::numeric, $3, $4::bigint, now()) ON CONFLICT (integration) DO "
                               "UPDATE SET position_order = EXCLUDED.position_order, "
                               "position_token = EXCLUDED.position_token, source_time_us = "
                               "EXCLUDED.source_time_us, updated_at = EXCLUDED.updated_at");
                return;
        }
        wh_sql_checkpoint_delete(b, d, integration);
        wh_buf_puts(b, ";\nINSERT INTO " CK_TABLE " (integration, position_order, position_token, "
                       "source_time_us, updated_at) VALUES (");
        wh_quote_literal(b, d, integration, strlen(integration));
        wh_buf_printf(b, ", %" PRIu64 ", ", order);
        wh_quote_literal(b, d, token, strlen(token));
        wh_buf_printf(b, ", %" PRId64 ", GETDATE())", time_us);
}

void wh_sql_checkpoint_select(struct wh_buf *b, enum wh_dialect d, const char *integration)
{
        if (d == WH_POSTGRES)
                wh_buf_puts(b, "SELECT position_order::text, position_token, "
                               "source_time_us::text FROM " CK_TABLE);
        else
                wh_buf_puts(b, "SELECT CAST(position_order AS VARCHAR(32)), position_token, "
                               "CAST(source_time_us AS VARCHAR(32)) FROM " CK_TABLE);
        where_integration(b, d, integration);
}

void wh_sql_checkpoint_delete(struct wh_buf *b, enum wh_dialect d, const char *integration)
{
        wh_buf_puts(b, "DELETE FROM " CK_TABLE);
        where_integration(b, d, integration);
}

/* ---- literals -------------------------------------------------------------- */

static int refuse(struct zetl_err *err, const struct zetl_batch *bt, int col, const char *why)
{
        return zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL, "column \"%s\": %s",
                            bt->schema->cols[col].name, why);
}

/* "YYYY-MM-DD" of a day number, " BC" style for years before 1 (both
 * PostgreSQL and Redshift read that form); the date part only. */
static void put_date(struct wh_buf *b, int64_t days, bool *bc)
{
        int64_t y;
        int m, d;

        zetl_days_to_civil(days, &y, &m, &d);
        *bc = y <= 0;
        wh_buf_printf(b, "%04" PRId64 "-%02d-%02d", *bc ? 1 - y : y, m, d);
}

static void put_time(struct wh_buf *b, int64_t usec)
{
        char t[ZETL_TS_TEXT_MAX];

        zetl_format_time(usec, t);
        wh_buf_puts(b, t);
}

int wh_sql_literal_cell(struct wh_buf *b, enum wh_dialect d, const struct zetl_batch *bt, int col,
                        uint32_t r, struct zetl_err *err)
{
        enum zetl_type t = bt->schema->cols[col].type;
        const uint8_t *p;
        size_t n = 0;
        bool bc = false;

        if (zetl_batch_is_null(bt, col, r)) {
                wh_buf_puts(b, "NULL");
                return 0;
        }
        switch (t) {
        case ZETL_T_BOOL:
                wh_buf_puts(b, zetl_batch_get_bool(bt, col, r) ? "TRUE" : "FALSE");
                break;
        case ZETL_T_INT16:
                wh_buf_printf(b, "%d", zetl_batch_get_i16(bt, col, r));
                break;
        case ZETL_T_INT32:
                wh_buf_printf(b, "%" PRId32, zetl_batch_get_i32(bt, col, r));
                break;
        case ZETL_T_INT64:
                wh_buf_printf(b, "%" PRId64, zetl_batch_get_i64(bt, col, r));
                break;
        case ZETL_T_FLOAT32:
        case ZETL_T_FLOAT64: {
                double v = t == ZETL_T_FLOAT32 ? (double)zetl_batch_get_f32(bt, col, r)
                                               : zetl_batch_get_f64(bt, col, r);
                const char *ty = t == ZETL_T_FLOAT32 ? "REAL" : "DOUBLE PRECISION";
                if (isnan(v))
                        wh_buf_printf(b, "CAST('NaN' AS %s)", ty);
                else if (isinf(v))
                        wh_buf_printf(b, "CAST('%sInfinity' AS %s)", v < 0 ? "-" : "", ty);
                else
                        /* Enough digits to read back the same float. */
                        wh_buf_printf(b, t == ZETL_T_FLOAT32 ? "%.9g" : "%.17g", v);
                break;
        }
        case ZETL_T_DECIMAL:
                p = zetl_batch_get_var(bt, col, r, &n);
                if (!zetl_decimal_valid((const char *)p, n))
                        return refuse(err, bt, col, "not a decimal");
                if (n && (p[0] == 'N' || p[0] == 'I' || (n > 1 && p[1] == 'I'))) {
                        if (d == WH_REDSHIFT)
                                return refuse(err, bt, col,
                                              "Redshift NUMERIC has no NaN or "
                                              "Infinity");
                        wh_buf_printf(b, "'%.*s'::numeric", (int)n, (const char *)p);
                        break;
                }
                /* Canonical decimal text is only digits, '-' and '.'. */
                wh_buf_put(b, p, n);
                break;
        case ZETL_T_STRING:
        case ZETL_T_JSON:
                p = zetl_batch_get_var(bt, col, r, &n);
                if (d == WH_REDSHIFT && t == ZETL_T_STRING && n > RS_VARCHAR_MAX)
                        return refuse(err, bt, col, "longer than Redshift's VARCHAR(65535)");
                if (t == ZETL_T_JSON)
                        wh_buf_puts(b, d == WH_REDSHIFT ? "JSON_PARSE(" : "CAST(");
                wh_quote_literal(b, d, (const char *)p, n);
                if (t == ZETL_T_JSON)
                        wh_buf_puts(b, d == WH_REDSHIFT ? ")" : " AS jsonb)");
                break;
        case ZETL_T_BYTES:
                p = zetl_batch_get_var(bt, col, r, &n);
                wh_buf_puts(b, d == WH_REDSHIFT ? "FROM_HEX('" : "DECODE('");
                for (size_t i = 0; i < n; i++)
                        wh_buf_printf(b, "%02x", p[i]);
                wh_buf_puts(b, d == WH_REDSHIFT ? "')" : "', 'hex')");
                break;
        case ZETL_T_DATE: {
                int32_t v = zetl_batch_get_i32(bt, col, r);
                if (v == INT32_MAX || v == INT32_MIN) {
                        if (d == WH_REDSHIFT)
                                return refuse(err, bt, col, "Redshift dates have no infinity");
                        wh_buf_puts(b, v > 0 ? "'infinity'" : "'-infinity'");
                        break;
                }
                wh_buf_put(b, "'", 1);
                put_date(b, v, &bc);
                wh_buf_puts(b, bc ? " BC'" : "'");
                break;
        }
        case ZETL_T_TIME:
                wh_buf_put(b, "'", 1);
                put_time(b, zetl_batch_get_i64(bt, col, r));
                wh_buf_put(b, "'", 1);
                break;
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ: {
                int64_t v = zetl_batch_get_i64(bt, col, r);
                int64_t days, rest;
                if (v == INT64_MAX || v == INT64_MIN) {
                        if (d == WH_REDSHIFT)
                                return refuse(err, bt, col, "Redshift timestamps have no infinity");
                        wh_buf_puts(b, v > 0 ? "'infinity'" : "'-infinity'");
                        break;
                }
                days = v / ZETL_USEC_PER_DAY;
                rest = v % ZETL_USEC_PER_DAY;
                if (rest < 0) {
                        days--;
                        rest += ZETL_USEC_PER_DAY;
                }
                wh_buf_put(b, "'", 1);
                put_date(b, days, &bc);
                wh_buf_put(b, " ", 1);
                put_time(b, rest);
                if (t == ZETL_T_TIMESTAMPTZ)
                        wh_buf_puts(b, "+00");
                wh_buf_puts(b, bc ? " BC'" : "'");
                break;
        }
        case ZETL_T_UUID: {
                char u[ZETL_TS_TEXT_MAX];
                zetl_format_uuid(zetl_batch_get_uuid(bt, col, r), u);
                wh_buf_printf(b, "'%s'", u);
                break;
        }
        default:
                return refuse(err, bt, col, "unknown type");
        }
        if (b->failed)
                return zetl_err_set(err, ZETL_ELIMIT, ZETL_ERRC_FATAL,
                                    "a statement grew past its ceiling");
        return 0;
}
