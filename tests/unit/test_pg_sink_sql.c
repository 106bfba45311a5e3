/*
 * Golden tests of the warehouse sink's SQL (connectors/postgres/pg_sink_sql.c)
 * for PostgreSQL and Redshift, and of its staging rows
 * (connectors/postgres/pg_sink_copy.c): the net effect per key and the binary
 * COPY encoding. Expectations are written by hand from the manuals:
 * PostgreSQL's "Lexical Structure" (quoted identifiers double their quotes,
 * E'' strings take backslash escapes), CREATE TABLE, ALTER TABLE, MERGE, INSERT
 * ... ON CONFLICT and COPY's binary format (header "PGCOPY\n\377\r\n\0", flags,
 * extension length, per tuple a 16-bit field count and 32-bit length-prefixed
 * fields, trailer -1; numeric_send: ndigits, weight, sign, dscale, base-10000
 * digits; dates and timestamps counted from 2000-01-01), and Redshift's
 * CREATE TABLE (VARCHAR max 65535, NUMERIC max precision 38, SUPER, VARBYTE),
 * QUOTE_LITERAL (doubles quotes and backslashes), JSON_PARSE, FROM_HEX, DELETE
 * ... USING and its TRUNCATE that commits (so staging is emptied by DELETE).
 * Redshift cannot run here: these goldens are its only test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../connectors/postgres/pg_sink_copy.h"
#include "../../connectors/postgres/pg_sink_sql.h"
#include "zetl/batch.h"
#include "zetl/schema.h"

/* ---- fixture ----------------------------------------------------------------- */

struct fx {
        struct zetl_schema *s;
        struct zetl_batch *b;
        struct wh_buf o;
        struct wh_plan p;
        struct zetl_err e;
};

static int fx_setup(void **state)
{
        struct fx *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        wh_buf_init(&f->o, 1 << 24);
        *state = f;
        return 0;
}

static int fx_teardown(void **state)
{
        struct fx *f = *state;

        wh_plan_free(&f->p);
        zetl_batch_free(f->b);
        if (f->s)
                zetl_schema_unref(f->s);
        wh_buf_free(&f->o);
        free(f);
        return 0;
}

struct tcol {
        const char *name;
        enum zetl_type type;
        int key_pos;
        int precision, scale;
        bool nullable;
};

static struct zetl_schema *mk(const char *db, const char *schema, const char *table,
                              const struct tcol *c, int n)
{
        struct zetl_table_id id;
        struct zetl_schema *s;
        struct zetl_err e;

        assert_int_equal(zetl_table_id_set(&id, db, schema, table), 0);
        s = zetl_schema_new(&id, n);
        assert_non_null(s);
        for (int i = 0; i < n; i++) {
                struct zetl_column col = { 0 };
                col.name = (char *)c[i].name;
                col.type = c[i].type;
                col.key_pos = c[i].key_pos;
                col.precision = c[i].precision;
                col.scale = c[i].scale;
                col.nullable = c[i].nullable;
                assert_int_equal(zetl_schema_set_col(s, i, &col), 0);
        }
        assert_int_equal(zetl_schema_finish(s, &e), 0);
        s->version = 1;
        return s;
}

#define EXPECT(f, text)                                                                            \
        do {                                                                                       \
                assert_false((f)->o.failed);                                                       \
                assert_string_equal(wh_buf_str(&(f)->o), text);                                    \
                wh_buf_reset(&(f)->o);                                                             \
        } while (0)

/* The table of the identifier-quoting attack. */
static const struct tcol attack_cols[] = {
        { "id", ZETL_T_INT64, 1, 0, 0, false },
        { "we\"ird col", ZETL_T_STRING, 0, 0, 0, true },
        { "ünï côde", ZETL_T_JSON, 0, 0, 0, true },
};

/* ---- quoting and names --------------------------------------------------------- */

static void test_quote_ident(void **state)
{
        struct fx *f = *state;

        wh_quote_ident(&f->o, "a\"b; drop table x");
        EXPECT(f, "\"a\"\"b; drop table x\"");
        wh_quote_ident(&f->o, "\"\"");
        EXPECT(f, "\"\"\"\"\"\"");
        wh_quote_ident(&f->o, "plain");
        EXPECT(f, "\"plain\"");
}

static void test_quote_literal(void **state)
{
        struct fx *f = *state;
        const char s[] = "it's a \\ and '; drop table x; --";

        wh_quote_literal(&f->o, WH_POSTGRES, s, strlen(s));
        EXPECT(f, "E'it''s a \\\\ and ''; drop table x; --'");
        wh_quote_literal(&f->o, WH_REDSHIFT, s, strlen(s));
        EXPECT(f, "'it''s a \\\\ and ''; drop table x; --'");
        wh_quote_literal(&f->o, WH_POSTGRES, "", 0);
        EXPECT(f, "E''");
}

static void test_target_names(void **state)
{
        struct fx *f = *state;
        struct zetl_table_id id;
        char buf[600];

        zetl_table_id_set(&id, "shop", "public", "orders");
        wh_target_schema(&id, buf, sizeof(buf));
        assert_string_equal(buf, "shop_public");
        wh_target_name(&f->o, &id);
        EXPECT(f, "\"shop_public\".\"orders\"");
        /* MySQL: no schema level. */
        zetl_table_id_set(&id, "shop", "", "orders");
        wh_target_schema(&id, buf, sizeof(buf));
        assert_string_equal(buf, "shop");
        zetl_table_id_set(&id, "my\"db", "", "a\"b; drop table x");
        wh_target_name(&f->o, &id);
        EXPECT(f, "\"my\"\"db\".\"a\"\"b; drop table x\"");
}

/* ---- types ---------------------------------------------------------------------- */

static void type_is(struct fx *f, enum wh_dialect d, enum zetl_type t, int p, int s,
                    const char *want)
{
        struct zetl_column c = { .name = (char *)"c", .type = t, .precision = p, .scale = s };

        wh_type_sql(&f->o, d, &c);
        EXPECT(f, want);
}

static void test_types_postgres(void **state)
{
        struct fx *f = *state;

        type_is(f, WH_POSTGRES, ZETL_T_BOOL, 0, 0, "boolean");
        type_is(f, WH_POSTGRES, ZETL_T_INT16, 0, 0, "smallint");
        type_is(f, WH_POSTGRES, ZETL_T_INT32, 0, 0, "integer");
        type_is(f, WH_POSTGRES, ZETL_T_INT64, 0, 0, "bigint");
        type_is(f, WH_POSTGRES, ZETL_T_FLOAT32, 0, 0, "real");
        type_is(f, WH_POSTGRES, ZETL_T_FLOAT64, 0, 0, "double precision");
        type_is(f, WH_POSTGRES, ZETL_T_DECIMAL, 12, 3, "numeric(12,3)");
        type_is(f, WH_POSTGRES, ZETL_T_DECIMAL, 0, -1, "numeric");
        type_is(f, WH_POSTGRES, ZETL_T_DECIMAL, 20, -1, "numeric");
        type_is(f, WH_POSTGRES, ZETL_T_STRING, 40, 0, "text");
        type_is(f, WH_POSTGRES, ZETL_T_BYTES, 0, 0, "bytea");
        type_is(f, WH_POSTGRES, ZETL_T_DATE, 0, 0, "date");
        type_is(f, WH_POSTGRES, ZETL_T_TIME, 6, 0, "time");
        type_is(f, WH_POSTGRES, ZETL_T_TIMESTAMP, 6, 0, "timestamp");
        type_is(f, WH_POSTGRES, ZETL_T_TIMESTAMPTZ, 6, 0, "timestamptz");
        type_is(f, WH_POSTGRES, ZETL_T_UUID, 0, 0, "uuid");
        type_is(f, WH_POSTGRES, ZETL_T_JSON, 0, 0, "jsonb");
}

static void test_types_redshift(void **state)
{
        struct fx *f = *state;

        type_is(f, WH_REDSHIFT, ZETL_T_BOOL, 0, 0, "BOOLEAN");
        type_is(f, WH_REDSHIFT, ZETL_T_INT64, 0, 0, "BIGINT");
        type_is(f, WH_REDSHIFT, ZETL_T_FLOAT64, 0, 0, "DOUBLE PRECISION");
        type_is(f, WH_REDSHIFT, ZETL_T_DECIMAL, 12, 3, "NUMERIC(12,3)");
        /* Past Redshift's 38 digits: the maximum, scale kept below it. */
        type_is(f, WH_REDSHIFT, ZETL_T_DECIMAL, 50, 40, "NUMERIC(38,37)");
        type_is(f, WH_REDSHIFT, ZETL_T_DECIMAL, 0, -1, "NUMERIC(38,10)");
        type_is(f, WH_REDSHIFT, ZETL_T_STRING, 40, 0, "VARCHAR(65535)");
        type_is(f, WH_REDSHIFT, ZETL_T_BYTES, 0, 0, "VARBYTE(1024000)");
        type_is(f, WH_REDSHIFT, ZETL_T_TIMESTAMPTZ, 6, 0, "TIMESTAMPTZ");
        type_is(f, WH_REDSHIFT, ZETL_T_UUID, 0, 0, "CHAR(36)");
        type_is(f, WH_REDSHIFT, ZETL_T_JSON, 0, 0, "SUPER");
}

/* ---- DDL ----------------------------------------------------------------------- */

static void test_create_table_attack(void **state)
{
        struct fx *f = *state;
        struct wh_opts pg = { WH_POSTGRES, false, false };
        struct wh_opts rs = { WH_REDSHIFT, false, true };

        f->s = mk("src", "public", "a\"b; drop table x", attack_cols, 3);
        wh_sql_create_schema(&f->o, "src_public");
        EXPECT(f, "CREATE SCHEMA IF NOT EXISTS \"src_public\"");
        wh_sql_create_table(&f->o, &pg, f->s);
        EXPECT(f, "CREATE TABLE IF NOT EXISTS \"src_public\".\"a\"\"b; drop table x\" "
                  "(\"id\" bigint NOT NULL, \"we\"\"ird col\" text, \"ünï côde\" jsonb, "
                  "PRIMARY KEY (\"id\"))");
        wh_sql_create_table(&f->o, &rs, f->s);
        EXPECT(f, "CREATE TABLE IF NOT EXISTS \"src_public\".\"a\"\"b; drop table x\" "
                  "(\"id\" BIGINT NOT NULL, \"we\"\"ird col\" VARCHAR(65535), \"ünï côde\" "
                  "SUPER, \"_zetl_deleted\" BOOLEAN NOT NULL DEFAULT FALSE, \"_zetl_synced_at\" "
                  "TIMESTAMPTZ, PRIMARY KEY (\"id\"))");
}

/* An initial sync's rows straight into the table: every identifier quoted,
 * and the check quotes the quoted name once more as a literal. */
static void test_copy_target_attack(void **state)
{
        struct fx *f = *state;

        f->s = mk("src", "public", "a\"b; drop table x", attack_cols, 3);
        wh_sql_copy_target(&f->o, f->s);
        EXPECT(f, "COPY \"src_public\".\"a\"\"b; drop table x\" (\"id\", \"we\"\"ird col\", "
                  "\"ünï côde\") FROM STDIN (FORMAT binary)");
        wh_sql_copy_target_check(&f->o, f->s);
        EXPECT(f, "WITH r AS (SELECT to_regclass(E'\"src_public\".\"a\"\"b; drop table x\"') AS "
                  "oid), x(n, t) AS (VALUES (E'id', E'bigint'::regtype), (E'we\"ird col', "
                  "E'text'::regtype), (E'ünï côde', E'jsonb'::regtype)) SELECT (SELECT count(*) "
                  "FROM x JOIN pg_attribute a ON a.attrelid = (SELECT oid FROM r) AND a.attname "
                  "= x.n AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = x.t) = 3 AND "
                  "NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = (SELECT oid FROM "
                  "r) AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull AND NOT "
                  "a.atthasdef AND a.attname NOT IN (SELECT n FROM x))");
}

static void test_create_table_keys(void **state)
{
        struct fx *f = *state;
        struct wh_opts pg = { WH_POSTGRES, false, true };
        /* Key order is key_pos, not column order. */
        static const struct tcol two[] = {
                { "b", ZETL_T_INT32, 2, 0, 0, false },
                { "v", ZETL_T_DECIMAL, 0, 10, 2, true },
                { "a", ZETL_T_STRING, 1, 0, 0, false },
        };
        /* REPLICA IDENTITY FULL: every column is the key and may be NULL. */
        static const struct tcol full[] = {
                { "a", ZETL_T_INT32, 1, 0, 0, true },
                { "b", ZETL_T_STRING, 2, 0, 0, true },
        };

        f->s = mk("d", "s", "t", two, 3);
        wh_sql_create_table(&f->o, &pg, f->s);
        EXPECT(f, "CREATE TABLE IF NOT EXISTS \"d_s\".\"t\" (\"b\" integer NOT NULL, \"v\" "
                  "numeric(10,2), \"a\" text NOT NULL, \"_zetl_deleted\" boolean NOT NULL "
                  "DEFAULT false, \"_zetl_synced_at\" timestamptz, PRIMARY KEY (\"a\", \"b\"))");
        zetl_schema_unref(f->s);
        f->s = mk("d", "s", "t", full, 2);
        pg.soft_delete = false;
        assert_false(wh_has_pk(f->s));
        wh_sql_create_table(&f->o, &pg, f->s);
        EXPECT(f, "CREATE TABLE IF NOT EXISTS \"d_s\".\"t\" (\"a\" integer, \"b\" text)");
}

static void test_alter(void **state)
{
        struct fx *f = *state;
        struct wh_opts pg = { WH_POSTGRES, false, false };
        struct wh_opts rs = { WH_REDSHIFT, false, false };
        struct zetl_table_id id;
        struct zetl_column c = {
                .name = (char *)"pri\"ce", .type = ZETL_T_DECIMAL, .precision = 14, .scale = 2
        };

        zetl_table_id_set(&id, "shop", "", "orders");
        wh_sql_add_column(&f->o, &pg, &id, &c);
        EXPECT(f, "ALTER TABLE \"shop\".\"orders\" ADD COLUMN IF NOT EXISTS \"pri\"\"ce\" "
                  "numeric(14,2)");
        wh_sql_add_column(&f->o, &rs, &id, &c);
        EXPECT(f, "ALTER TABLE \"shop\".\"orders\" ADD COLUMN \"pri\"\"ce\" NUMERIC(14,2)");
        wh_sql_drop_column(&f->o, &id, "old col");
        EXPECT(f, "ALTER TABLE \"shop\".\"orders\" DROP COLUMN \"old col\"");
        wh_sql_rename_column(&f->o, &id, "a", "b\"");
        EXPECT(f, "ALTER TABLE \"shop\".\"orders\" RENAME COLUMN \"a\" TO \"b\"\"\"");
        wh_sql_alter_type(&f->o, &pg, &id, &c);
        EXPECT(f, "ALTER TABLE \"shop\".\"orders\" ALTER COLUMN \"pri\"\"ce\" TYPE "
                  "numeric(14,2) USING \"pri\"\"ce\"::numeric(14,2)");
        /* Redshift alters only VARCHAR lengths: through a new column. */
        wh_sql_alter_type(&f->o, &rs, &id, &c);
        EXPECT(f, "ALTER TABLE \"shop\".\"orders\" ADD COLUMN \"pri\"\"ce_zetl_new\" "
                  "NUMERIC(14,2);\n"
                  "UPDATE \"shop\".\"orders\" SET \"pri\"\"ce_zetl_new\" = CAST(\"pri\"\"ce\" "
                  "AS NUMERIC(14,2));\n"
                  "ALTER TABLE \"shop\".\"orders\" DROP COLUMN \"pri\"\"ce\";\n"
                  "ALTER TABLE \"shop\".\"orders\" RENAME COLUMN \"pri\"\"ce_zetl_new\" TO "
                  "\"pri\"\"ce\"");
        wh_sql_truncate(&f->o, WH_POSTGRES, &id);
        EXPECT(f, "TRUNCATE \"shop\".\"orders\"");
        wh_sql_truncate(&f->o, WH_REDSHIFT, &id);
        EXPECT(f, "DELETE FROM \"shop\".\"orders\"");
        wh_sql_soft_truncate(&f->o, WH_POSTGRES, &id);
        EXPECT(f, "UPDATE \"shop\".\"orders\" SET \"_zetl_deleted\" = true, \"_zetl_synced_at\" "
                  "= now() WHERE NOT \"_zetl_deleted\"");
}

static void test_replace_pk(void **state)
{
        struct fx *f = *state;
        static const struct tcol cols[] = {
                { "id", ZETL_T_INT64, 1, 0, 0, false },
                { "v", ZETL_T_STRING, 0, 0, 0, true },
        };

        f->s = mk("d", "", "t", cols, 2);
        wh_sql_replace_pk(&f->o, f->s, "t_pkey");
        EXPECT(f, "ALTER TABLE \"d\".\"t\" DROP CONSTRAINT \"t_pkey\";\n"
                  "ALTER TABLE \"d\".\"t\" ADD PRIMARY KEY (\"id\")");
        wh_sql_replace_pk(&f->o, f->s, NULL);
        EXPECT(f, "ALTER TABLE \"d\".\"t\" ADD PRIMARY KEY (\"id\")");
}

/* ---- staging and apply ---------------------------------------------------------- */

static const struct tcol shop_cols[] = {
        { "id", ZETL_T_INT64, 1, 0, 0, false },
        { "name", ZETL_T_STRING, 0, 0, 0, true },
        { "big", ZETL_T_STRING, 0, 0, 0, true },
};

static void test_staging(void **state)
{
        struct fx *f = *state;
        bool unch[3] = { false, false, true };
        struct wh_stage_shape plain = { NULL, false }, kept = { unch, true };
        char stg[64];

        f->s = mk("shop", "public", "orders", shop_cols, 3);
        wh_staging_name(stg, sizeof(stg), 2, 5);
        assert_string_equal(stg, "_zetl_stg_2_5");
        wh_sql_staging_create(&f->o, WH_POSTGRES, stg, f->s);
        EXPECT(f, "CREATE TEMP TABLE IF NOT EXISTS \"_zetl_stg_2_5\" (_zetl_op smallint, "
                  "c0 bigint, c1 text, c2 text, u1 boolean, u2 boolean, o0 bigint)");
        wh_sql_staging_create(&f->o, WH_REDSHIFT, stg, f->s);
        EXPECT(f, "CREATE TEMP TABLE IF NOT EXISTS \"_zetl_stg_2_5\" (_zetl_op SMALLINT, "
                  "c0 BIGINT, c1 VARCHAR(65535), c2 VARCHAR(65535), u1 BOOLEAN, u2 BOOLEAN, "
                  "o0 BIGINT)");
        wh_sql_copy(&f->o, stg, f->s, &plain);
        EXPECT(f, "COPY \"_zetl_stg_2_5\" (_zetl_op, c0, c1, c2) FROM STDIN (FORMAT binary)");
        wh_sql_copy(&f->o, stg, f->s, &kept);
        EXPECT(f, "COPY \"_zetl_stg_2_5\" (_zetl_op, c0, c1, c2, u2, o0) FROM STDIN "
                  "(FORMAT binary)");
        wh_sql_insert_head(&f->o, stg, f->s, &plain);
        EXPECT(f, "INSERT INTO \"_zetl_stg_2_5\" (_zetl_op, c0, c1, c2) VALUES ");
}

static void test_merge_postgres(void **state)
{
        struct fx *f = *state;
        struct wh_opts pg = { WH_POSTGRES, false, false };
        bool unch[3] = { false, false, true };
        struct wh_stage_shape plain = { NULL, false }, kept = { unch, false },
                              moved = { unch, true };

        f->s = mk("shop", "public", "orders", shop_cols, 3);
        wh_sql_apply(&f->o, &pg, "_zetl_stg_1_1", f->s, &plain);
        EXPECT(f, "MERGE INTO \"shop_public\".\"orders\" AS t USING \"_zetl_stg_1_1\" AS s ON "
                  "t.\"id\" = s.c0\n"
                  "WHEN MATCHED AND s._zetl_op = 3 THEN DELETE\n"
                  "WHEN MATCHED THEN UPDATE SET \"name\" = s.c1, \"big\" = s.c2\n"
                  "WHEN NOT MATCHED AND s._zetl_op = 1 THEN INSERT (\"id\", \"name\", \"big\") "
                  "VALUES (s.c0, s.c1, s.c2)");
        /* An unsent value keeps the target's. */
        wh_sql_apply(&f->o, &pg, "_zetl_stg_1_1", f->s, &kept);
        EXPECT(f, "MERGE INTO \"shop_public\".\"orders\" AS t USING \"_zetl_stg_1_1\" AS s ON "
                  "t.\"id\" = s.c0\n"
                  "WHEN MATCHED AND s._zetl_op = 3 THEN DELETE\n"
                  "WHEN MATCHED THEN UPDATE SET \"name\" = s.c1, \"big\" = CASE WHEN s.u2 THEN "
                  "t.\"big\" ELSE s.c2 END\n"
                  "WHEN NOT MATCHED AND s._zetl_op = 1 THEN INSERT (\"id\", \"name\", \"big\") "
                  "VALUES (s.c0, s.c1, s.c2)");
        /* A moved row first takes its unsent values from the old key's row. */
        wh_sql_apply(&f->o, &pg, "_zetl_stg_1_1", f->s, &moved);
        EXPECT(f, "UPDATE \"_zetl_stg_1_1\" AS s SET c2 = CASE WHEN s.u2 THEN t.\"big\" ELSE "
                  "s.c2 END, u2 = NULL FROM \"shop_public\".\"orders\" AS t WHERE t.\"id\" = "
                  "s.o0;\n"
                  "MERGE INTO \"shop_public\".\"orders\" AS t USING \"_zetl_stg_1_1\" AS s ON "
                  "t.\"id\" = s.c0\n"
                  "WHEN MATCHED AND s._zetl_op = 3 THEN DELETE\n"
                  "WHEN MATCHED THEN UPDATE SET \"name\" = s.c1, \"big\" = CASE WHEN s.u2 THEN "
                  "t.\"big\" ELSE s.c2 END\n"
                  "WHEN NOT MATCHED AND s._zetl_op = 1 THEN INSERT (\"id\", \"name\", \"big\") "
                  "VALUES (s.c0, s.c1, s.c2)");
}

static void test_merge_soft_delete(void **state)
{
        struct fx *f = *state;
        struct wh_opts pg = { WH_POSTGRES, false, true };
        static const struct tcol cols[] = {
                { "k", ZETL_T_INT32, 1, 0, 0, false },
                { "v", ZETL_T_STRING, 0, 0, 0, true },
        };

        f->s = mk("d", "s", "t", cols, 2);
        wh_sql_apply(&f->o, &pg, "stg", f->s, NULL);
        EXPECT(f, "MERGE INTO \"d_s\".\"t\" AS t USING \"stg\" AS s ON t.\"k\" = s.c0\n"
                  "WHEN MATCHED AND s._zetl_op = 3 THEN UPDATE SET \"_zetl_deleted\" = true, "
                  "\"_zetl_synced_at\" = now()\n"
                  "WHEN MATCHED THEN UPDATE SET \"v\" = s.c1, \"_zetl_deleted\" = false, "
                  "\"_zetl_synced_at\" = now()\n"
                  "WHEN NOT MATCHED AND s._zetl_op = 1 THEN INSERT (\"k\", \"v\", "
                  "\"_zetl_deleted\", \"_zetl_synced_at\") VALUES (s.c0, s.c1, false, now())");
}

static void test_apply_nokey_and_nullable_key(void **state)
{
        struct fx *f = *state;
        struct wh_opts pg = { WH_POSTGRES, false, false };
        static const struct tcol nokey[] = {
                { "a", ZETL_T_INT32, 0, 0, 0, true },
                { "b", ZETL_T_STRING, 0, 0, 0, true },
        };
        static const struct tcol full[] = {
                { "a", ZETL_T_INT32, 1, 0, 0, true },
                { "b", ZETL_T_STRING, 2, 0, 0, true },
        };

        f->s = mk("d", "s", "log", nokey, 2);
        wh_sql_apply(&f->o, &pg, "stg", f->s, NULL);
        EXPECT(f, "INSERT INTO \"d_s\".\"log\" (\"a\", \"b\") SELECT s.c0, s.c1 FROM \"stg\" AS "
                  "s WHERE s._zetl_op = 1");
        zetl_schema_unref(f->s);
        /* NULL matches NULL in a REPLICA IDENTITY FULL key; nothing to update. */
        f->s = mk("d", "s", "full", full, 2);
        wh_sql_apply(&f->o, &pg, "stg", f->s, NULL);
        EXPECT(f, "MERGE INTO \"d_s\".\"full\" AS t USING \"stg\" AS s ON (t.\"a\" = s.c0 OR "
                  "(t.\"a\" IS NULL AND s.c0 IS NULL)) AND (t.\"b\" = s.c1 OR (t.\"b\" IS NULL "
                  "AND s.c1 IS NULL))\n"
                  "WHEN MATCHED AND s._zetl_op = 3 THEN DELETE\n"
                  "WHEN NOT MATCHED AND s._zetl_op = 1 THEN INSERT (\"a\", \"b\") VALUES (s.c0, "
                  "s.c1)");
}

static void test_apply_redshift(void **state)
{
        struct fx *f = *state;
        struct wh_opts rs = { WH_REDSHIFT, false, false };
        bool unch[3] = { false, false, true };
        struct wh_stage_shape kept = { unch, false };

        f->s = mk("shop", "public", "orders", shop_cols, 3);
        wh_sql_apply(&f->o, &rs, "stg", f->s, NULL);
        EXPECT(f, "DELETE FROM \"shop_public\".\"orders\" USING \"stg\" WHERE "
                  "\"shop_public\".\"orders\".\"id\" = \"stg\".c0;\n"
                  "INSERT INTO \"shop_public\".\"orders\" (\"id\", \"name\", \"big\") SELECT "
                  "s.c0, s.c1, s.c2 FROM \"stg\" AS s WHERE s._zetl_op = 1");
        wh_sql_apply(&f->o, &rs, "stg", f->s, &kept);
        EXPECT(f, "UPDATE \"stg\" AS s SET c2 = CASE WHEN s.u2 THEN t.\"big\" ELSE s.c2 END, "
                  "u2 = NULL FROM \"shop_public\".\"orders\" AS t WHERE s._zetl_op = 1 AND "
                  "t.\"id\" = s.c0;\n"
                  "DELETE FROM \"shop_public\".\"orders\" USING \"stg\" WHERE "
                  "\"shop_public\".\"orders\".\"id\" = \"stg\".c0;\n"
                  "INSERT INTO \"shop_public\".\"orders\" (\"id\", \"name\", \"big\") SELECT "
                  "s.c0, s.c1, s.c2 FROM \"stg\" AS s WHERE s._zetl_op = 1");
        rs.soft_delete = true;
        wh_sql_apply(&f->o, &rs, "stg", f->s, NULL);
        EXPECT(f, "UPDATE \"shop_public\".\"orders\" SET \"_zetl_deleted\" = TRUE, "
                  "\"_zetl_synced_at\" = GETDATE() FROM \"stg\" WHERE \"stg\"._zetl_op = 3 AND "
                  "\"shop_public\".\"orders\".\"id\" = \"stg\".c0;\n"
                  "DELETE FROM \"shop_public\".\"orders\" USING \"stg\" WHERE \"stg\"._zetl_op "
                  "= 1 AND \"shop_public\".\"orders\".\"id\" = \"stg\".c0;\n"
                  "INSERT INTO \"shop_public\".\"orders\" (\"id\", \"name\", \"big\", "
                  "\"_zetl_deleted\", \"_zetl_synced_at\") SELECT s.c0, s.c1, s.c2, FALSE, "
                  "GETDATE() FROM \"stg\" AS s WHERE s._zetl_op = 1");
}

/* ---- checkpoint ----------------------------------------------------------------- */

static void test_checkpoint(void **state)
{
        struct fx *f = *state;

        wh_sql_checkpoint_ddl(&f->o, WH_POSTGRES);
        EXPECT(f, "CREATE SCHEMA IF NOT EXISTS \"_zetl\";\n"
                  "CREATE TABLE IF NOT EXISTS \"_zetl\".\"checkpoints\" (integration text "
                  "PRIMARY KEY, position_order numeric(20,0) NOT NULL, position_token text NOT "
                  "NULL, source_time_us bigint, updated_at timestamptz NOT NULL DEFAULT now())");
        wh_sql_checkpoint_upsert(&f->o, WH_POSTGRES, "x'; drop", 42, "0/16B3748", 7);
        /* Values are parameters in PostgreSQL: none of them is in the text. */
        EXPECT(f, "INSERT INTO \"_zetl\".\"checkpoints\" (integration, position_order, "
                  "position_token, source_time_us, updated_at) VALUES ($1, $2::numeric, $3, "
                  "$4::bigint, now()) ON CONFLICT (integration) DO UPDATE SET position_order = "
                  "EXCLUDED.position_order, position_token = EXCLUDED.position_token, "
                  "source_time_us = EXCLUDED.source_time_us, updated_at = EXCLUDED.updated_at");
        wh_sql_checkpoint_upsert(&f->o, WH_REDSHIFT, "x'; drop", UINT64_MAX, "bin.000003:4 g\\",
                                 -1);
        EXPECT(f, "DELETE FROM \"_zetl\".\"checkpoints\" WHERE integration = 'x''; drop';\n"
                  "INSERT INTO \"_zetl\".\"checkpoints\" (integration, position_order, "
                  "position_token, source_time_us, updated_at) VALUES ('x''; drop', "
                  "18446744073709551615, 'bin.000003:4 g\\\\', -1, GETDATE())");
        wh_sql_checkpoint_select(&f->o, WH_POSTGRES, "i");
        EXPECT(f, "SELECT position_order::text, position_token, source_time_us::text FROM "
                  "\"_zetl\".\"checkpoints\" WHERE integration = $1");
        wh_sql_checkpoint_delete(&f->o, WH_REDSHIFT, "i");
        EXPECT(f, "DELETE FROM \"_zetl\".\"checkpoints\" WHERE integration = 'i'");
}

/* ---- literals ------------------------------------------------------------------- */

static void test_literals_redshift(void **state)
{
        struct fx *f = *state;
        static const struct tcol cols[] = {
                { "b", ZETL_T_BOOL, 0, 0, 0, true },
                { "i", ZETL_T_INT64, 0, 0, 0, true },
                { "f", ZETL_T_FLOAT64, 0, 0, 0, true },
                { "n", ZETL_T_DECIMAL, 0, 20, 4, true },
                { "s", ZETL_T_STRING, 0, 0, 0, true },
                { "y", ZETL_T_BYTES, 0, 0, 0, true },
                { "d", ZETL_T_DATE, 0, 0, 0, true },
                { "t", ZETL_T_TIME, 0, 0, 0, true },
                { "ts", ZETL_T_TIMESTAMP, 0, 0, 0, true },
                { "tz", ZETL_T_TIMESTAMPTZ, 0, 0, 0, true },
                { "u", ZETL_T_UUID, 0, 0, 0, true },
                { "j", ZETL_T_JSON, 0, 0, 0, true },
        };
        static const uint8_t uuid[16] = { 0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8,
                                          0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11 };
        static const char *const want[] = {
                "TRUE",
                "-9223372036854775808",
                "-0.10000000000000001",
                "-123.4500",
                "'O''Brien \\\\ x'",
                "FROM_HEX('00ff')",
                "'2024-02-29'",
                "'12:00:00.500000'",
                /* 1969-12-31T23:59:59.5 */
                "'1969-12-31 23:59:59.500000'",
                "'2024-01-02 03:04:05+00'",
                "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
                "JSON_PARSE('{\"a\": \"it''s\"}')",
        };

        f->s = mk("d", "", "t", cols, 12);
        f->b = zetl_batch_new(f->s, 0);
        assert_non_null(f->b);
        assert_int_equal(zetl_batch_row_begin(f->b, ZETL_OP_INSERT, 1, &f->e), 0);
        zetl_batch_set_bool(f->b, 0, true);
        zetl_batch_set_i64(f->b, 1, INT64_MIN);
        zetl_batch_set_f64(f->b, 2, -0.1);
        zetl_batch_set_var(f->b, 3, "-123.4500", 9, &f->e);
        zetl_batch_set_var(f->b, 4, "O'Brien \\ x", 11, &f->e);
        zetl_batch_set_var(f->b, 5, "\x00\xff", 2, &f->e);
        zetl_batch_set_i32(f->b, 6, 19782); /* 2024-02-29 */
        zetl_batch_set_i64(f->b, 7, INT64_C(43200500000));
        zetl_batch_set_i64(f->b, 8, INT64_C(-500000));
        zetl_batch_set_i64(f->b, 9, INT64_C(1704164645000000));
        zetl_batch_set_uuid(f->b, 10, uuid);
        zetl_batch_set_var(f->b, 11, "{\"a\": \"it's\"}", 13, &f->e);
        zetl_batch_row_end(f->b);
        assert_int_equal(zetl_batch_row_begin(f->b, ZETL_OP_INSERT, 2, &f->e), 0);
        zetl_batch_set_var(f->b, 3, "NaN", 3, &f->e);
        zetl_batch_set_i32(f->b, 6, INT32_MAX);
        zetl_batch_row_end(f->b);

        for (int c = 0; c < 12; c++) {
                assert_int_equal(wh_sql_literal_cell(&f->o, WH_REDSHIFT, f->b, c, 0, &f->e), 0);
                EXPECT(f, want[c]);
        }
        /* Row 1: NULLs, and values Redshift cannot hold. */
        assert_int_equal(wh_sql_literal_cell(&f->o, WH_REDSHIFT, f->b, 0, 1, &f->e), 0);
        EXPECT(f, "NULL");
        assert_int_equal(wh_sql_literal_cell(&f->o, WH_REDSHIFT, f->b, 3, 1, &f->e), ZETL_ETABLE);
        assert_int_equal(wh_sql_literal_cell(&f->o, WH_REDSHIFT, f->b, 6, 1, &f->e), ZETL_ETABLE);
        wh_buf_reset(&f->o);
        /* PostgreSQL has both. */
        assert_int_equal(wh_sql_literal_cell(&f->o, WH_POSTGRES, f->b, 3, 1, &f->e), 0);
        EXPECT(f, "'NaN'::numeric");
        assert_int_equal(wh_sql_literal_cell(&f->o, WH_POSTGRES, f->b, 6, 1, &f->e), 0);
        EXPECT(f, "'infinity'");
}

/* ---- binary COPY ---------------------------------------------------------------- */

static void expect_bytes(struct fx *f, const uint8_t *want, size_t n)
{
        assert_false(f->o.failed);
        assert_int_equal(f->o.len, n);
        assert_memory_equal(f->o.p, want, n);
        wh_buf_reset(&f->o);
}

static void numeric_is(struct fx *f, const char *text, const uint8_t *want, size_t n)
{
        assert_int_equal(wh_copy_numeric(&f->o, text, strlen(text), &f->e), 0);
        expect_bytes(f, want, n);
}

static void test_copy_numeric(void **state)
{
        struct fx *f = *state;
        /* length, ndigits, weight, sign, dscale, digits (base 10000) */
        static const uint8_t zero[] = { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0 };
        static const uint8_t zero2[] = { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2 };
        static const uint8_t neg[] = {
                0, 0, 0, 12, 0, 2, 0, 0, 0x40, 0, 0, 4, 0, 123, 0x11, 0x94
        }; /* -123.4500 */
        static const uint8_t big[] = {
                0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 1, 0x04, 0xd2, 0x16, 0x2e, 0x23, 0x28
        }; /* 12345678.9 */
        static const uint8_t tiny[] = {
                0, 0, 0, 10, 0, 1, 0xff, 0xfe, 0, 0, 0, 5, 0x03, 0xe8
        };                                                                           /* 0.00001 */
        static const uint8_t tenk[] = { 0, 0, 0, 10, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1 }; /* 10000 */
        static const uint8_t nan[] = { 0, 0, 0, 8, 0, 0, 0, 0, 0xc0, 0, 0, 0 };
        static const uint8_t ninf[] = { 0, 0, 0, 8, 0, 0, 0, 0, 0xf0, 0, 0, 0 };

        numeric_is(f, "0", zero, sizeof(zero));
        numeric_is(f, "-0.00", zero2, sizeof(zero2));
        numeric_is(f, "-123.4500", neg, sizeof(neg));
        numeric_is(f, "12345678.9", big, sizeof(big));
        numeric_is(f, "0.00001", tiny, sizeof(tiny));
        numeric_is(f, "10000", tenk, sizeof(tenk));
        numeric_is(f, "NaN", nan, sizeof(nan));
        numeric_is(f, "-Infinity", ninf, sizeof(ninf));
        assert_int_equal(wh_copy_numeric(&f->o, "1e5", 3, &f->e), ZETL_ETABLE);
        assert_int_equal(wh_copy_numeric(&f->o, ".5", 2, &f->e), ZETL_ETABLE);
}

static void test_copy_cells(void **state)
{
        struct fx *f = *state;
        static const struct tcol cols[] = {
                { "d", ZETL_T_DATE, 0, 0, 0, true },    { "ts", ZETL_T_TIMESTAMPTZ, 0, 0, 0, true },
                { "j", ZETL_T_JSON, 0, 0, 0, true },    { "b", ZETL_T_BOOL, 0, 0, 0, true },
                { "f", ZETL_T_FLOAT32, 0, 0, 0, true },
        };
        /* 1970-01-01 is day -10957 = 0xFFFFD533 of PostgreSQL's epoch. */
        static const uint8_t d[] = { 0, 0, 0, 4, 0xff, 0xff, 0xd5, 0x33 };
        /* 2000-01-01 00:00:00.000001 UTC is 1 µs in PostgreSQL's epoch. */
        static const uint8_t ts[] = { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1 };
        static const uint8_t inf[] = { 0, 0, 0, 8, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        static const uint8_t j[] = { 0, 0, 0, 3, 1, '[', ']' };
        static const uint8_t b[] = { 0, 0, 0, 1, 1 };
        static const uint8_t fl[] = { 0, 0, 0, 4, 0x3f, 0xc0, 0, 0 }; /* 1.5f */
        static const uint8_t null[] = { 0xff, 0xff, 0xff, 0xff };
        static const uint8_t head[] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n',
                                        0,   0,   0,   0,   0,   0,   0,    0,    0 };
        static const uint8_t trail[] = { 0xff, 0xff };

        f->s = mk("d", "", "t", cols, 5);
        f->b = zetl_batch_new(f->s, 0);
        assert_int_equal(zetl_batch_row_begin(f->b, ZETL_OP_INSERT, 1, &f->e), 0);
        zetl_batch_set_i32(f->b, 0, 0);
        zetl_batch_set_i64(f->b, 1, INT64_C(946684800000001));
        zetl_batch_set_var(f->b, 2, "[]", 2, &f->e);
        zetl_batch_set_bool(f->b, 3, true);
        zetl_batch_set_f32(f->b, 4, 1.5f);
        zetl_batch_row_end(f->b);
        assert_int_equal(zetl_batch_row_begin(f->b, ZETL_OP_INSERT, 2, &f->e), 0);
        zetl_batch_set_i64(f->b, 1, INT64_MAX);
        zetl_batch_row_end(f->b);

        wh_copy_header(&f->o);
        expect_bytes(f, head, sizeof(head));
        wh_copy_trailer(&f->o);
        expect_bytes(f, trail, sizeof(trail));
        assert_int_equal(wh_copy_cell(&f->o, f->b, 0, 0, &f->e), 0);
        expect_bytes(f, d, sizeof(d));
        assert_int_equal(wh_copy_cell(&f->o, f->b, 1, 0, &f->e), 0);
        expect_bytes(f, ts, sizeof(ts));
        assert_int_equal(wh_copy_cell(&f->o, f->b, 2, 0, &f->e), 0);
        expect_bytes(f, j, sizeof(j));
        assert_int_equal(wh_copy_cell(&f->o, f->b, 3, 0, &f->e), 0);
        expect_bytes(f, b, sizeof(b));
        assert_int_equal(wh_copy_cell(&f->o, f->b, 4, 0, &f->e), 0);
        expect_bytes(f, fl, sizeof(fl));
        /* Infinity stays PostgreSQL's infinity; NULL is length -1. */
        assert_int_equal(wh_copy_cell(&f->o, f->b, 1, 1, &f->e), 0);
        expect_bytes(f, inf, sizeof(inf));
        assert_int_equal(wh_copy_cell(&f->o, f->b, 0, 1, &f->e), 0);
        expect_bytes(f, null, sizeof(null));
}

/* ---- the net effect per key ------------------------------------------------------- */

static void row(struct fx *f, enum zetl_op op, int64_t id, const char *name, const char *big)
{
        assert_int_equal(zetl_batch_row_begin(f->b, op, (uint64_t)f->b->nrows + 1, &f->e), 0);
        zetl_batch_set_i64(f->b, 0, id);
        if (op == ZETL_OP_DELETE) {
                zetl_batch_set_unchanged(f->b, 1, &f->e);
                zetl_batch_set_unchanged(f->b, 2, &f->e);
        } else {
                if (name)
                        zetl_batch_set_var(f->b, 1, name, strlen(name), &f->e);
                if (big)
                        zetl_batch_set_var(f->b, 2, big, strlen(big), &f->e);
                else
                        assert_int_equal(zetl_batch_set_unchanged(f->b, 2, &f->e), 0);
        }
}

static void moved(struct fx *f, int64_t old_id)
{
        assert_int_equal(zetl_batch_old_key_begin(f->b, &f->e), 0);
        zetl_batch_set_i64(f->b->old, 0, old_id);
}

static const char *cell(struct fx *f, uint32_t i, int col)
{
        static char buf[64];
        uint32_t r = wh_plan_cell_row(&f->p, i, col);
        size_t n;
        const uint8_t *p;

        if (r == WH_NO_ROW)
                return "(kept)";
        if (zetl_batch_is_null(f->b, col, r))
                return "(null)";
        p = zetl_batch_get_var(f->b, col, r, &n);
        snprintf(buf, sizeof(buf), "%.*s", (int)n, (const char *)p);
        return buf;
}

static void test_plan_net_effect(void **state)
{
        struct fx *f = *state;

        f->s = mk("shop", "public", "orders", shop_cols, 3);
        f->b = zetl_batch_new(f->s, 0);
        assert_non_null(f->b);
        row(f, ZETL_OP_INSERT, 1, "one", "B1"); /* r0 */
        zetl_batch_row_end(f->b);
        row(f, ZETL_OP_UPDATE, 1, "uno", NULL); /* r1: big unsent: from r0 */
        zetl_batch_row_end(f->b);
        row(f, ZETL_OP_UPDATE, 2, "two", NULL); /* r2: big unsent, not in batch: kept */
        zetl_batch_row_end(f->b);
        row(f, ZETL_OP_DELETE, 3, NULL, NULL); /* r3 */
        zetl_batch_row_end(f->b);
        row(f, ZETL_OP_UPDATE, 40, "moved", NULL); /* r4: 4 -> 40, big from the target at 4 */
        moved(f, 4);
        zetl_batch_row_end(f->b);
        row(f, ZETL_OP_UPDATE, 50, "moved", NULL); /* r5: 1 -> 50, big from r1, i.e. r0 */
        moved(f, 1);
        zetl_batch_row_end(f->b);
        row(f, ZETL_OP_INSERT, 3, "three", "B3"); /* r6: 3 deleted then inserted again */
        zetl_batch_row_end(f->b);

        assert_int_equal(wh_plan_build(&f->p, f->b, &f->e), 0);
        /* Staging: r2, r4, r5, r6 upserted (batch order), then the old keys 4
         * and 1 deleted. Key 1's insert and update are superseded by its move. */
        assert_int_equal(f->p.n, 6);
        assert_int_equal(f->p.rows[0].row, 2);
        assert_int_equal(f->p.rows[0].op, WH_OP_UPSERT);
        assert_string_equal(cell(f, 0, 1), "two");
        assert_string_equal(cell(f, 0, 2), "(kept)");
        assert_int_equal(f->p.rows[0].fill, WH_NO_ROW);

        assert_int_equal(f->p.rows[1].row, 4);
        assert_string_equal(cell(f, 1, 2), "(kept)");
        assert_int_equal(f->p.rows[1].fill, 0); /* row 0 of batch->old: key 4 */
        assert_true(f->p.rows[1].fill_old);

        assert_int_equal(f->p.rows[2].row, 5);
        assert_string_equal(cell(f, 2, 1), "moved");
        assert_string_equal(cell(f, 2, 2), "B1");
        assert_int_equal(f->p.rows[2].fill, WH_NO_ROW);

        assert_int_equal(f->p.rows[3].row, 6);
        assert_string_equal(cell(f, 3, 2), "B3");

        assert_true(f->p.rows[4].from_old);
        assert_int_equal(f->p.rows[4].op, WH_OP_DELETE);
        assert_int_equal(zetl_batch_get_i64(f->b->old, 0, f->p.rows[4].row), 4);
        assert_true(f->p.rows[5].from_old);
        assert_int_equal(zetl_batch_get_i64(f->b->old, 0, f->p.rows[5].row), 1);

        assert_false(f->p.unch[1]);
        assert_true(f->p.unch[2]);
        assert_true(f->p.old_fill);
}

static void test_plan_delete_wins_and_nokey(void **state)
{
        struct fx *f = *state;
        static const struct tcol nokey[] = {
                { "id", ZETL_T_INT64, 0, 0, 0, true },
                { "name", ZETL_T_STRING, 0, 0, 0, true },
                { "big", ZETL_T_STRING, 0, 0, 0, true },
        };

        f->s = mk("shop", "public", "orders", shop_cols, 3);
        f->b = zetl_batch_new(f->s, 0);
        row(f, ZETL_OP_SNAPSHOT, 1, "one", "B1");
        zetl_batch_row_end(f->b);
        row(f, ZETL_OP_DELETE, 1, NULL, NULL);
        zetl_batch_row_end(f->b);
        assert_int_equal(wh_plan_build(&f->p, f->b, &f->e), 0);
        assert_int_equal(f->p.n, 1);
        assert_int_equal(f->p.rows[0].row, 1);
        assert_int_equal(f->p.rows[0].op, WH_OP_DELETE);
        assert_false(f->p.old_fill);
        wh_plan_free(&f->p);
        zetl_batch_free(f->b);
        zetl_schema_unref(f->s);

        /* Without a key: inserts appended, the rest skipped and counted. */
        f->s = mk("shop", "public", "log", nokey, 3);
        f->b = zetl_batch_new(f->s, 0);
        row(f, ZETL_OP_INSERT, 1, "a", "x");
        zetl_batch_row_end(f->b);
        row(f, ZETL_OP_INSERT, 1, "a", "x");
        zetl_batch_row_end(f->b);
        row(f, ZETL_OP_UPDATE, 1, "b", "y");
        zetl_batch_row_end(f->b);
        assert_int_equal(wh_plan_build(&f->p, f->b, &f->e), 0);
        assert_int_equal(f->p.n, 2);
        assert_int_equal(f->p.skipped, 1);
}

static void test_copy_row(void **state)
{
        struct fx *f = *state;
        bool unch[3] = { false, false, true };
        struct wh_stage_shape sh = { unch, true };
        /* 6 fields: _zetl_op=1, c0=7, c1='n', c2 NULL, u2 true, o0=5 */
        static const uint8_t want[] = { 0,   6,    0,    0,    0,    2, 0, 1, 0, 0, 0, 8,
                                        0,   0,    0,    0,    0,    0, 0, 7, 0, 0, 0, 1,
                                        'n', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 1, 0, 0,
                                        0,   8,    0,    0,    0,    0, 0, 0, 0, 5 };

        f->s = mk("shop", "public", "orders", shop_cols, 3);
        f->b = zetl_batch_new(f->s, 0);
        row(f, ZETL_OP_UPDATE, 7, "n", NULL);
        moved(f, 5);
        zetl_batch_row_end(f->b);
        assert_int_equal(wh_plan_build(&f->p, f->b, &f->e), 0);
        assert_int_equal(f->p.n, 2);
        assert_int_equal(wh_copy_row(&f->o, &f->p, 0, &sh, &f->e), 0);
        expect_bytes(f, want, sizeof(want));
        /* The same row for Redshift's INSERT. */
        assert_int_equal(wh_values_row(&f->o, WH_REDSHIFT, &f->p, 0, &sh, &f->e), 0);
        EXPECT(f, "(1, 7, 'n', NULL, TRUE, 5)");
        /* The old key's delete: key only. */
        assert_int_equal(wh_values_row(&f->o, WH_REDSHIFT, &f->p, 1, &sh, &f->e), 0);
        EXPECT(f, "(3, 5, NULL, NULL, NULL, NULL)");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_quote_ident, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_quote_literal, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_target_names, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_types_postgres, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_types_redshift, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_create_table_attack, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_create_table_keys, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_copy_target_attack, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_alter, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_replace_pk, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_staging, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_merge_postgres, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_merge_soft_delete, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_apply_nokey_and_nullable_key, fx_setup,
                                                fx_teardown),
                cmocka_unit_test_setup_teardown(test_apply_redshift, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_checkpoint, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_literals_redshift, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_copy_numeric, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_copy_cells, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_plan_net_effect, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_plan_delete_wins_and_nokey, fx_setup,
                                                fx_teardown),
                cmocka_unit_test_setup_teardown(test_copy_row, fx_setup, fx_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
