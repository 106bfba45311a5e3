/*
 * Tests for ice_schema: the zetl -> Iceberg type mapping, field ids through
 * schema evolution (the Iceberg spec's rules: ids are never reused, renames
 * keep them, only int -> long, float -> double and decimal widening change a
 * type in place) and the schema's JSON form in table metadata.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../connectors/iceberg/ice_schema.h"
#include "zetl/schema.h"

/* One column of a test schema: name, type, key position, source id. */
struct col {
        const char *name;
        enum zetl_type type;
        int key_pos;
        uint32_t sid;
        int32_t precision;
        int32_t scale;
};

static struct zetl_schema *mk(const struct col *cols, int n)
{
        struct zetl_table_id id;
        struct zetl_schema *s;
        struct zetl_err err;

        zetl_table_id_set(&id, "db", "public", "t");
        s = zetl_schema_new(&id, n);
        assert_non_null(s);
        for (int i = 0; i < n; i++) {
                struct zetl_column c = {
                        .name = (char *)cols[i].name,
                        .type = cols[i].type,
                        .precision = cols[i].precision,
                        .scale = cols[i].scale,
                        .nullable = cols[i].key_pos == 0,
                        .key_pos = cols[i].key_pos,
                        .source_id = cols[i].sid,
                };
                assert_int_equal(zetl_schema_set_col(s, i, &c), 0);
        }
        assert_int_equal(zetl_schema_finish(s, &err), 0);
        return s;
}

/* Evolve cur (may be NULL) from old to new through their diff. */
static void evolve(const struct ice_schema *cur, int last, const struct zetl_schema *old,
                   const struct zetl_schema *new, struct ice_evolution *ev)
{
        struct zetl_schema_diff d = { 0 };
        struct zetl_err err;

        if (old)
                assert_int_equal(zetl_schema_diff(old, new, &d, &err), 0);
        assert_int_equal(ice_schema_evolve(cur, last, old, new, old ? &d : NULL, ev, &err), 0);
        zetl_schema_diff_free(&d);
}

static const char *tstr(const struct ice_field *f)
{
        static char buf[40];

        return ice_type_str(&f->type, buf, sizeof(buf));
}

/* ---- types ------------------------------------------------------------------ */

static void test_type_mapping(void **state)
{
        static const struct {
                enum zetl_type t;
                const char *want;
        } cases[] = {
                { ZETL_T_BOOL, "boolean" },
                { ZETL_T_INT16, "int" },
                { ZETL_T_INT32, "int" },
                { ZETL_T_INT64, "long" },
                { ZETL_T_FLOAT32, "float" },
                { ZETL_T_FLOAT64, "double" },
                { ZETL_T_STRING, "string" },
                { ZETL_T_JSON, "string" },
                { ZETL_T_BYTES, "binary" },
                { ZETL_T_DATE, "date" },
                { ZETL_T_TIME, "time" },
                { ZETL_T_TIMESTAMP, "timestamp" },
                { ZETL_T_TIMESTAMPTZ, "timestamptz" },
                { ZETL_T_UUID, "uuid" },
        };
        struct zetl_column c = { .name = "c", .precision = 6 };
        struct ice_type t;
        char buf[40];

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                c.type = cases[i].t;
                assert_int_equal(ice_type_from_zetl(&c, &t), 0);
                assert_string_equal(ice_type_str(&t, buf, sizeof(buf)), cases[i].want);
        }
        c.type = ZETL_T_DECIMAL;
        c.precision = 12;
        c.scale = 3;
        assert_int_equal(ice_type_from_zetl(&c, &t), 0);
        assert_string_equal(ice_type_str(&t, buf, sizeof(buf)), "decimal(12, 3)");
        c.type = ZETL_T__COUNT;
        assert_int_equal(ice_type_from_zetl(&c, &t), ZETL_EINVAL);
}

static void test_decimal_resolve(void **state)
{
        int p, s;

        (void)state;
        ice_decimal_resolve(10, 2, &p, &s);
        assert_int_equal(p, 10);
        assert_int_equal(s, 2);
        /* PostgreSQL's unconstrained numeric. */
        ice_decimal_resolve(0, -1, &p, &s);
        assert_int_equal(p, 38);
        assert_int_equal(s, ICE_DECIMAL_DEFAULT_SCALE);
        assert_int_equal(ICE_DECIMAL_DEFAULT_SCALE, 18);
        ice_decimal_resolve(0, 4, &p, &s);
        assert_int_equal(p, 38);
        assert_int_equal(s, 4);
        ice_decimal_resolve(50, 2, &p, &s);
        assert_int_equal(p, 38);
        assert_int_equal(s, 2);
        ice_decimal_resolve(7, -1, &p, &s);
        assert_int_equal(p, 7);
        assert_int_equal(s, 0);
        ice_decimal_resolve(60, 45, &p, &s);
        assert_int_equal(p, 38);
        assert_int_equal(s, 38);
}

static void test_type_parse(void **state)
{
        struct ice_type t;
        char buf[40];

        (void)state;
        assert_int_equal(ice_type_parse("long", &t), 0);
        assert_int_equal(t.id, ICE_T_LONG);
        assert_int_equal(ice_type_parse("timestamptz", &t), 0);
        assert_int_equal(t.id, ICE_T_TIMESTAMPTZ);
        /* Both spellings occur: the spec's "decimal(P,S)" and Java's "decimal(P, S)". */
        assert_int_equal(ice_type_parse("decimal(10,2)", &t), 0);
        assert_string_equal(ice_type_str(&t, buf, sizeof(buf)), "decimal(10, 2)");
        assert_int_equal(ice_type_parse("decimal(38, 18)", &t), 0);
        assert_int_equal(t.precision, 38);
        assert_int_equal(t.scale, 18);
        assert_int_equal(ice_type_parse("decimal(39,2)", &t), ZETL_EUNSUPPORTED);
        assert_int_equal(ice_type_parse("decimal(5,6)", &t), ZETL_EUNSUPPORTED);
        assert_int_equal(ice_type_parse("decimal(5,2)x", &t), ZETL_EUNSUPPORTED);
        assert_int_equal(ice_type_parse("fixed[16]", &t), ZETL_EUNSUPPORTED);
        assert_int_equal(ice_type_parse("struct", &t), ZETL_EUNSUPPORTED);
        assert_int_equal(ice_type_parse("Long", &t), ZETL_EUNSUPPORTED);
}

static void test_promotion_rules(void **state)
{
        struct ice_type i = { ICE_T_INT }, l = { ICE_T_LONG }, f = { ICE_T_FLOAT };
        struct ice_type d = { ICE_T_DOUBLE }, s = { ICE_T_STRING };
        struct ice_type d102 = { ICE_T_DECIMAL, 10, 2 }, d202 = { ICE_T_DECIMAL, 20, 2 };
        struct ice_type d203 = { ICE_T_DECIMAL, 20, 3 };

        (void)state;
        assert_true(ice_type_promotable(&i, &l));
        assert_false(ice_type_promotable(&l, &i));
        assert_true(ice_type_promotable(&f, &d));
        assert_false(ice_type_promotable(&i, &d));
        assert_false(ice_type_promotable(&i, &s));
        assert_true(ice_type_promotable(&d102, &d202));
        assert_false(ice_type_promotable(&d202, &d102));
        assert_false(ice_type_promotable(&d102, &d203));
        assert_true(ice_type_promotable(&s, &s));
}

/* ---- evolution ---------------------------------------------------------------- */

static void test_new_table(void **state)
{
        /* The key is (b, a): key order, not column order, for identifier ids. */
        const struct col cols[] = {
                { "a", ZETL_T_INT32, 2, 1 },
                { "b", ZETL_T_STRING, 1, 2 },
                { "c", ZETL_T_FLOAT64, 0, 3 },
        };
        struct zetl_schema *z = mk(cols, 3);
        struct ice_evolution ev;

        (void)state;
        evolve(NULL, 0, NULL, z, &ev);
        assert_true(ev.changed);
        assert_false(ev.incompatible);
        assert_int_equal(ev.last_column_id, 3);
        assert_int_equal(ev.schema->nfields, 3);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(ev.schema->fields[i].id, i + 1);
                assert_int_equal(ev.field_ids[i], i + 1);
                assert_string_equal(ev.schema->fields[i].name, cols[i].name);
        }
        assert_true(ev.schema->fields[0].required);
        assert_true(ev.schema->fields[1].required);
        assert_false(ev.schema->fields[2].required);
        assert_string_equal(tstr(&ev.schema->fields[2]), "double");
        assert_int_equal(ev.schema->nident, 2);
        assert_int_equal(ev.schema->ident_ids[0], 2);
        assert_int_equal(ev.schema->ident_ids[1], 1);
        ice_evolution_free(&ev);
        zetl_schema_unref(z);
}

static void test_add_drop_never_reuses(void **state)
{
        const struct col v1[] = { { "id", ZETL_T_INT64, 1, 1 }, { "x", ZETL_T_STRING, 0, 2 } };
        const struct col v2[] = { { "id", ZETL_T_INT64, 1, 1 } };
        /* x comes back: a new column (new source id) under the old name. */
        const struct col v3[] = { { "id", ZETL_T_INT64, 1, 1 },
                                  { "x", ZETL_T_STRING, 0, 3 },
                                  { "y", ZETL_T_BOOL, 0, 4 } };
        struct zetl_schema *z1 = mk(v1, 2), *z2 = mk(v2, 1), *z3 = mk(v3, 3);
        struct ice_evolution e1, e2, e3;

        (void)state;
        evolve(NULL, 0, NULL, z1, &e1);
        evolve(e1.schema, e1.last_column_id, z1, z2, &e2);
        assert_true(e2.changed);
        assert_false(e2.incompatible);
        assert_int_equal(e2.schema->nfields, 1);
        assert_int_equal(e2.field_ids[0], 1);
        assert_int_equal(e2.last_column_id, 2); /* id 2 stays spent */
        evolve(e2.schema, e2.last_column_id, z2, z3, &e3);
        assert_false(e3.incompatible);
        assert_int_equal(e3.field_ids[0], 1);
        assert_int_equal(e3.field_ids[1], 3);
        assert_int_equal(e3.field_ids[2], 4);
        assert_int_equal(e3.last_column_id, 4);
        assert_false(e3.schema->fields[1].required);
        ice_evolution_free(&e1);
        ice_evolution_free(&e2);
        ice_evolution_free(&e3);
        zetl_schema_unref(z1);
        zetl_schema_unref(z2);
        zetl_schema_unref(z3);
}

/* Drop and re-add under the same name in one diff: the old field's id is the
 * dropped column's, the new column gets a fresh one. */
static void test_drop_and_readd_same_name(void **state)
{
        const struct col v1[] = { { "id", ZETL_T_INT64, 1, 1 }, { "x", ZETL_T_STRING, 0, 2 } };
        const struct col v2[] = { { "id", ZETL_T_INT64, 1, 1 }, { "x", ZETL_T_STRING, 0, 9 } };
        struct zetl_schema *z1 = mk(v1, 2), *z2 = mk(v2, 2);
        struct ice_evolution e1, e2;

        (void)state;
        evolve(NULL, 0, NULL, z1, &e1);
        evolve(e1.schema, e1.last_column_id, z1, z2, &e2);
        assert_int_equal(e2.field_ids[1], 3);
        assert_true(e2.changed);
        ice_evolution_free(&e1);
        ice_evolution_free(&e2);
        zetl_schema_unref(z1);
        zetl_schema_unref(z2);
}

static void test_rename_keeps_id_and_is_idempotent(void **state)
{
        const struct col v1[] = { { "id", ZETL_T_INT64, 1, 1 },
                                  { "name", ZETL_T_STRING, 0, 2 },
                                  { "n", ZETL_T_INT32, 0, 3 } };
        const struct col v2[] = { { "id", ZETL_T_INT64, 1, 1 },
                                  { "full_name", ZETL_T_STRING, 0, 2 },
                                  { "n", ZETL_T_INT32, 0, 3 } };
        struct zetl_schema *z1 = mk(v1, 3), *z2 = mk(v2, 3);
        struct ice_evolution e1, e2, again;

        (void)state;
        evolve(NULL, 0, NULL, z1, &e1);
        evolve(e1.schema, e1.last_column_id, z1, z2, &e2);
        assert_false(e2.incompatible);
        assert_true(e2.changed);
        assert_string_equal(e2.schema->fields[1].name, "full_name");
        assert_int_equal(e2.field_ids[1], 2);
        assert_int_equal(e2.last_column_id, 3);
        /* The same change delivered again after a crash: same ids, no change. */
        evolve(e2.schema, e2.last_column_id, z1, z2, &again);
        assert_false(again.changed);
        assert_false(again.incompatible);
        assert_int_equal(again.field_ids[1], 2);
        assert_int_equal(again.last_column_id, 3);
        ice_evolution_free(&e1);
        ice_evolution_free(&e2);
        ice_evolution_free(&again);
        zetl_schema_unref(z1);
        zetl_schema_unref(z2);
}

static void test_swap_names(void **state)
{
        const struct col v1[] = { { "k", ZETL_T_INT64, 1, 1 },
                                  { "a", ZETL_T_STRING, 0, 2 },
                                  { "b", ZETL_T_INT32, 0, 3 } };
        const struct col v2[] = { { "k", ZETL_T_INT64, 1, 1 },
                                  { "b", ZETL_T_STRING, 0, 2 },
                                  { "a", ZETL_T_INT32, 0, 3 } };
        struct zetl_schema *z1 = mk(v1, 3), *z2 = mk(v2, 3);
        struct ice_evolution e1, e2;

        (void)state;
        evolve(NULL, 0, NULL, z1, &e1);
        evolve(e1.schema, e1.last_column_id, z1, z2, &e2);
        assert_false(e2.incompatible);
        assert_int_equal(e2.field_ids[1], 2);
        assert_int_equal(e2.field_ids[2], 3);
        assert_string_equal(tstr(&e2.schema->fields[1]), "string");
        ice_evolution_free(&e1);
        ice_evolution_free(&e2);
        zetl_schema_unref(z1);
        zetl_schema_unref(z2);
}

static void test_promotions_keep_id(void **state)
{
        const struct col v1[] = { { "id", ZETL_T_INT32, 1, 1 },
                                  { "f", ZETL_T_FLOAT32, 0, 2 },
                                  { "d", ZETL_T_DECIMAL, 0, 3, 10, 2 } };
        const struct col v2[] = { { "id", ZETL_T_INT64, 1, 1 },
                                  { "f", ZETL_T_FLOAT64, 0, 2 },
                                  { "d", ZETL_T_DECIMAL, 0, 3, 20, 2 } };
        struct zetl_schema *z1 = mk(v1, 3), *z2 = mk(v2, 3);
        struct ice_evolution e1, e2, back;

        (void)state;
        evolve(NULL, 0, NULL, z1, &e1);
        assert_string_equal(tstr(&e1.schema->fields[0]), "int");
        evolve(e1.schema, e1.last_column_id, z1, z2, &e2);
        assert_false(e2.incompatible);
        assert_true(e2.changed);
        for (int i = 0; i < 3; i++)
                assert_int_equal(e2.field_ids[i], i + 1);
        assert_string_equal(tstr(&e2.schema->fields[0]), "long");
        assert_string_equal(tstr(&e2.schema->fields[1]), "double");
        assert_string_equal(tstr(&e2.schema->fields[2]), "decimal(20, 2)");
        assert_int_equal(e2.last_column_id, 3);
        /* Back to the narrower source types: the table keeps the wider ones. */
        evolve(e2.schema, e2.last_column_id, z2, z1, &back);
        assert_false(back.incompatible);
        assert_false(back.changed);
        assert_string_equal(tstr(&back.schema->fields[0]), "long");
        assert_string_equal(tstr(&back.schema->fields[2]), "decimal(20, 2)");
        ice_evolution_free(&e1);
        ice_evolution_free(&e2);
        ice_evolution_free(&back);
        zetl_schema_unref(z1);
        zetl_schema_unref(z2);
}

static void test_incompatible_type(void **state)
{
        const struct col v1[] = { { "id", ZETL_T_INT64, 1, 1 }, { "v", ZETL_T_INT32, 0, 2 } };
        const struct col v2[] = { { "id", ZETL_T_INT64, 1, 1 }, { "v", ZETL_T_STRING, 0, 2 } };
        const struct col v3[] = { { "id", ZETL_T_INT64, 1, 1 },
                                  { "v", ZETL_T_DECIMAL, 0, 2, 10, 3 } };
        const struct col v4[] = { { "id", ZETL_T_INT64, 1, 1 },
                                  { "v", ZETL_T_DECIMAL, 0, 2, 10, 2 } };
        struct zetl_schema *z1 = mk(v1, 2), *z2 = mk(v2, 2), *z3 = mk(v3, 2), *z4 = mk(v4, 2);
        struct ice_evolution e1, e2, e3, e4;

        (void)state;
        evolve(NULL, 0, NULL, z1, &e1);
        evolve(e1.schema, e1.last_column_id, z1, z2, &e2);
        assert_true(e2.incompatible);
        assert_non_null(strstr(e2.reason, "\"v\""));
        /* The rewritten column gets a fresh id, so old files never feed it. */
        assert_int_equal(e2.field_ids[1], 3);
        assert_string_equal(tstr(&e2.schema->fields[1]), "string");
        assert_int_equal(e2.last_column_id, 3);
        /* A scale change moves the decimal point: not in place either. */
        evolve(NULL, 0, NULL, z3, &e3);
        evolve(e3.schema, e3.last_column_id, z3, z4, &e4);
        assert_true(e4.incompatible);
        ice_evolution_free(&e1);
        ice_evolution_free(&e2);
        ice_evolution_free(&e3);
        ice_evolution_free(&e4);
        zetl_schema_unref(z1);
        zetl_schema_unref(z2);
        zetl_schema_unref(z3);
        zetl_schema_unref(z4);
}

/* json -> string is a type change for zetl, but both are Iceberg strings. */
static void test_same_iceberg_type_is_compatible(void **state)
{
        const struct col v1[] = { { "id", ZETL_T_INT64, 1, 1 }, { "doc", ZETL_T_JSON, 0, 2 } };
        const struct col v2[] = { { "id", ZETL_T_INT64, 1, 1 }, { "doc", ZETL_T_STRING, 0, 2 } };
        struct zetl_schema *z1 = mk(v1, 2), *z2 = mk(v2, 2);
        struct ice_evolution e1, e2;

        (void)state;
        evolve(NULL, 0, NULL, z1, &e1);
        evolve(e1.schema, e1.last_column_id, z1, z2, &e2);
        assert_false(e2.incompatible);
        assert_false(e2.changed);
        assert_int_equal(e2.field_ids[1], 2);
        ice_evolution_free(&e1);
        ice_evolution_free(&e2);
        zetl_schema_unref(z1);
        zetl_schema_unref(z2);
}

static void test_key_change_and_key_rename(void **state)
{
        const struct col v1[] = { { "id", ZETL_T_INT64, 1, 1 }, { "email", ZETL_T_STRING, 0, 2 } };
        const struct col v2[] = { { "id", ZETL_T_INT64, 0, 1 }, { "email", ZETL_T_STRING, 1, 2 } };
        const struct col v3[] = { { "uid", ZETL_T_INT64, 1, 1 }, { "email", ZETL_T_STRING, 0, 2 } };
        struct zetl_schema *z1 = mk(v1, 2), *z2 = mk(v2, 2), *z3 = mk(v3, 2);
        struct ice_evolution e1, e2, e3;

        (void)state;
        evolve(NULL, 0, NULL, z1, &e1);
        assert_int_equal(e1.schema->nident, 1);
        assert_int_equal(e1.schema->ident_ids[0], 1);
        evolve(e1.schema, e1.last_column_id, z1, z2, &e2);
        assert_true(e2.incompatible);
        assert_int_equal(e2.schema->nident, 1);
        assert_int_equal(e2.schema->ident_ids[0], 2); /* follows the key */
        assert_true(e2.schema->fields[1].required);
        assert_false(e2.schema->fields[0].required);
        /* Renaming the key column keeps its id and so the identifier fields. */
        evolve(e1.schema, e1.last_column_id, z1, z3, &e3);
        assert_false(e3.incompatible);
        assert_int_equal(e3.schema->ident_ids[0], 1);
        assert_string_equal(e3.schema->fields[0].name, "uid");
        ice_evolution_free(&e1);
        ice_evolution_free(&e2);
        ice_evolution_free(&e3);
        zetl_schema_unref(z1);
        zetl_schema_unref(z2);
        zetl_schema_unref(z3);
}

static void test_float_key_has_no_identifier(void **state)
{
        const struct col v1[] = { { "f", ZETL_T_FLOAT64, 1, 1 }, { "s", ZETL_T_STRING, 2, 2 } };
        struct zetl_schema *z1 = mk(v1, 2);
        struct ice_evolution e1;

        (void)state;
        evolve(NULL, 0, NULL, z1, &e1);
        assert_int_equal(e1.schema->nident, 0);
        ice_evolution_free(&e1);
        zetl_schema_unref(z1);
}

/* A restart: no diff, columns matched by name against the table's schema. */
static void test_restart_by_name(void **state)
{
        const struct col v1[] = { { "id", ZETL_T_INT64, 1, 1 }, { "a", ZETL_T_STRING, 0, 2 } };
        const struct col v2[] = { { "id", ZETL_T_INT64, 1, 1 },
                                  { "a", ZETL_T_STRING, 0, 2 },
                                  { "b", ZETL_T_DATE, 0, 3 } };
        struct zetl_schema *z1 = mk(v1, 2), *z2 = mk(v2, 3);
        struct ice_evolution e1, same, more;

        (void)state;
        evolve(NULL, 0, NULL, z1, &e1);
        evolve(e1.schema, e1.last_column_id, NULL, z1, &same);
        assert_false(same.changed);
        assert_false(same.incompatible);
        evolve(e1.schema, e1.last_column_id, NULL, z2, &more);
        assert_true(more.changed);
        assert_int_equal(more.field_ids[2], 3);
        ice_evolution_free(&e1);
        ice_evolution_free(&same);
        ice_evolution_free(&more);
        zetl_schema_unref(z1);
        zetl_schema_unref(z2);
}

static void test_diff_needs_old(void **state)
{
        const struct col v1[] = { { "id", ZETL_T_INT64, 1, 1 } };
        struct zetl_schema *z1 = mk(v1, 1);
        struct zetl_schema_diff d = { 0 };
        struct ice_evolution ev;
        struct zetl_err err;

        (void)state;
        assert_int_equal(ice_schema_evolve(NULL, 0, NULL, z1, &d, &ev, &err), ZETL_EINVAL);
        assert_null(ev.schema);
        zetl_schema_unref(z1);
}

/* ---- JSON ------------------------------------------------------------------------- */

static void test_json_round_trip(void **state)
{
        const struct col v1[] = { { "id", ZETL_T_INT64, 1, 1 },
                                  { "amount", ZETL_T_DECIMAL, 0, 2, 0, -1 },
                                  { "at", ZETL_T_TIMESTAMPTZ, 0, 3 } };
        struct zetl_schema *z1 = mk(v1, 3);
        struct ice_schema *back = NULL;
        struct ice_evolution e1;
        struct zetl_err err;
        json_t *j, *f;
        char *s;

        (void)state;
        evolve(NULL, 0, NULL, z1, &e1);
        e1.schema->schema_id = 4;
        j = ice_schema_to_json(e1.schema);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "type")), "struct");
        assert_int_equal(json_integer_value(json_object_get(j, "schema-id")), 4);
        assert_int_equal(json_array_size(json_object_get(j, "identifier-field-ids")), 1);
        assert_int_equal(
                json_integer_value(json_array_get(json_object_get(j, "identifier-field-ids"), 0)),
                1);
        assert_int_equal(json_array_size(json_object_get(j, "fields")), 3);
        f = json_array_get(json_object_get(j, "fields"), 1);
        assert_int_equal(json_integer_value(json_object_get(f, "id")), 2);
        assert_string_equal(json_string_value(json_object_get(f, "name")), "amount");
        assert_true(json_is_false(json_object_get(f, "required")));
        assert_string_equal(json_string_value(json_object_get(f, "type")), "decimal(38, 18)");
        f = json_array_get(json_object_get(j, "fields"), 0);
        assert_true(json_is_true(json_object_get(f, "required")));
        assert_string_equal(json_string_value(json_object_get(f, "type")), "long");

        assert_int_equal(ice_schema_from_json(j, &back, &err), 0);
        assert_true(ice_schema_equal(back, e1.schema));
        assert_int_equal(back->schema_id, 4);
        s = ice_schema_dumps(e1.schema);
        assert_non_null(s);
        assert_non_null(strstr(s, "\"identifier-field-ids\":[1]"));
        free(s);
        ice_schema_free(back);
        json_decref(j);
        ice_evolution_free(&e1);
        zetl_schema_unref(z1);
}

static void test_json_rejects(void **state)
{
        static const struct {
                const char *text;
                int code;
        } cases[] = {
                { "{\"type\":\"struct\",\"fields\":[]}", ZETL_EPROTO },
                { "{\"type\":\"struct\",\"schema-id\":0,\"fields\":[{\"id\":1,\"name\":\"a\"}]}",
                  ZETL_EPROTO },
                { "{\"type\":\"struct\",\"schema-id\":0,\"fields\":[{\"id\":1,\"name\":\"a\","
                  "\"required\":false,\"type\":{\"type\":\"list\"}}]}",
                  ZETL_EUNSUPPORTED },
                { "{\"type\":\"struct\",\"schema-id\":0,\"fields\":[{\"id\":1,\"name\":\"a\","
                  "\"required\":false,\"type\":\"variant\"}]}",
                  ZETL_EUNSUPPORTED },
                { "{\"type\":\"struct\",\"schema-id\":0,\"fields\":[{\"id\":1,\"name\":\"a\","
                  "\"required\":false,\"type\":\"int\"},{\"id\":1,\"name\":\"b\","
                  "\"required\":false,\"type\":\"int\"}]}",
                  ZETL_EPROTO },
                { "{\"type\":\"struct\",\"schema-id\":0,\"identifier-field-ids\":[7],"
                  "\"fields\":[{\"id\":1,\"name\":\"a\",\"required\":true,\"type\":\"int\"}]}",
                  ZETL_EPROTO },
        };
        struct ice_schema *s;
        struct zetl_err err;

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                json_t *j = json_loads(cases[i].text, 0, NULL);

                assert_non_null(j);
                zetl_err_clear(&err);
                assert_int_equal(ice_schema_from_json(j, &s, &err), cases[i].code);
                assert_null(s);
                assert_true(err.msg[0] != '\0');
                json_decref(j);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_type_mapping),
                cmocka_unit_test(test_decimal_resolve),
                cmocka_unit_test(test_type_parse),
                cmocka_unit_test(test_promotion_rules),
                cmocka_unit_test(test_new_table),
                cmocka_unit_test(test_add_drop_never_reuses),
                cmocka_unit_test(test_drop_and_readd_same_name),
                cmocka_unit_test(test_rename_keeps_id_and_is_idempotent),
                cmocka_unit_test(test_swap_names),
                cmocka_unit_test(test_promotions_keep_id),
                cmocka_unit_test(test_incompatible_type),
                cmocka_unit_test(test_same_iceberg_type_is_compatible),
                cmocka_unit_test(test_key_change_and_key_rename),
                cmocka_unit_test(test_float_key_has_no_identifier),
                cmocka_unit_test(test_restart_by_name),
                cmocka_unit_test(test_diff_needs_old),
                cmocka_unit_test(test_json_round_trip),
                cmocka_unit_test(test_json_rejects),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
