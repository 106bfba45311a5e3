/*
 * Tests of table schemas (zetl/schema.h): building and validating a schema,
 * sharing it by reference, table ids, and above all the diff between two
 * versions, driven by one table of cases whose expectations come from the
 * evolution rules (match by source_id or name, widen/narrow pairs, key and
 * order, and the order in which changes are listed).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zetl/schema.h"

#define MAXC 8  /* columns per shape in a case */
#define MAXE 10 /* expected changes per case */

/* One column of a test shape; zero fields mean nullable, not in the key, no id. */
struct tcol {
        const char *name;
        enum zetl_type type;
        int32_t prec;
        int32_t scale;
        bool notnull;
        int key;
        uint32_t sid;
        const char *stype;
};

struct texp {
        bool used;
        enum zetl_change_kind kind;
        int old_col;
        int new_col;
        bool compat;
};

struct dcase {
        const char *name;
        struct tcol old[MAXC];
        struct tcol new[MAXC];
        struct texp exp[MAXE];
};

/* Compact initializers for the table below; clang-format would spread each
 * over four lines. */
/* clang-format off */
#define E(k, o, n, c) {true, ZETL_CHG_##k, o, n, c}
#define COL(n, t) {.name = n, .type = ZETL_T_##t}
#define NN(n, t) {.name = n, .type = ZETL_T_##t, .notnull = true}
#define MOD(n, t, p) {.name = n, .type = ZETL_T_##t, .prec = p}
#define DEC(n, p, s) {.name = n, .type = ZETL_T_DECIMAL, .prec = p, .scale = s}
#define KEY(n, t, k) {.name = n, .type = ZETL_T_##t, .notnull = true, .key = k}
#define SID(n, t, s) {.name = n, .type = ZETL_T_##t, .sid = s}
#define KSID(n, t, k, s) {.name = n, .type = ZETL_T_##t, .notnull = true, .key = k, .sid = s}
#define ID KEY("id", INT64, 1)
/* A one-column change after the key column "id": old column 1 becomes new column 1. */
#define ONE(label, from, to, kind, compat) {label, {ID, from}, {ID, to}, {E(kind, 1, 1, compat)}}
/* clang-format on */

static const struct dcase diff_cases[] = {
        { "identical schemas",
          { ID, COL("a", STRING), DEC("p", 10, 2) },
          { ID, COL("a", STRING), DEC("p", 10, 2) } },
        { "only source_type differs",
          { { .name = "id", .type = ZETL_T_INT64, .notnull = true, .key = 1, .stype = "bigint" } },
          { { .name = "id", .type = ZETL_T_INT64, .notnull = true, .key = 1, .stype = "int8" } } },
        { "ids on one side only: matched by name",
          { ID, COL("a", INT32) },
          { ID, SID("a", INT32, 7) } },
        { "add nullable column",
          { ID, COL("a", INT32) },
          { ID, COL("a", INT32), COL("b", STRING) },
          { E(ADD, -1, 2, true) } },
        { "add not null column",
          { ID, COL("a", INT32) },
          { ID, COL("a", INT32), NN("b", STRING) },
          { E(ADD, -1, 2, true) } },
        { "add in the middle is no reorder",
          { ID, COL("a", INT32), COL("b", INT32) },
          { ID, COL("x", INT32), COL("a", INT32), COL("b", INT32) },
          { E(ADD, -1, 1, true) } },
        { "add to a table with no columns",
          { { 0 } },
          { COL("a", INT32), COL("b", INT32) },
          { E(ADD, -1, 0, true), E(ADD, -1, 1, true) } },
        { "drop column",
          { ID, COL("a", INT32), COL("b", INT32) },
          { ID, COL("b", INT32) },
          { E(DROP, 1, -1, true) } },
        { "drops in old order",
          { ID, COL("a", INT32), COL("b", INT32), COL("c", INT32) },
          { ID, COL("b", INT32) },
          { E(DROP, 1, -1, true), E(DROP, 3, -1, true) } },
        { "drop and add is no reorder",
          { ID, COL("a", INT32), COL("b", INT32), COL("c", INT32) },
          { ID, COL("b", INT32), COL("c", INT32), COL("d", INT32) },
          { E(DROP, 1, -1, true), E(ADD, -1, 3, true) } },

        ONE("widen int16 -> int32", COL("a", INT16), COL("a", INT32), WIDEN, true),
        ONE("widen int16 -> int64", COL("a", INT16), COL("a", INT64), WIDEN, true),
        ONE("widen int32 -> int64", COL("a", INT32), COL("a", INT64), WIDEN, true),
        ONE("widen float32 -> float64", COL("a", FLOAT32), COL("a", FLOAT64), WIDEN, true),
        ONE("widen decimal precision", DEC("a", 10, 2), DEC("a", 12, 2), WIDEN, true),
        ONE("widen decimal to unconstrained", DEC("a", 10, 2), DEC("a", 0, 2), WIDEN, true),
        ONE("widen decimal, unknown scale", DEC("a", 10, -1), DEC("a", 20, -1), WIDEN, true),
        ONE("widen string length", MOD("a", STRING, 20), MOD("a", STRING, 50), WIDEN, true),
        ONE("widen string to unbounded", MOD("a", STRING, 20), MOD("a", STRING, 0), WIDEN, true),
        ONE("widen time digits", MOD("a", TIME, 3), MOD("a", TIME, 6), WIDEN, true),
        ONE("widen timestamp digits", MOD("a", TIMESTAMP, 0), MOD("a", TIMESTAMP, 6), WIDEN, true),
        ONE("widen timestamptz digits", MOD("a", TIMESTAMPTZ, 3), MOD("a", TIMESTAMPTZ, 6), WIDEN,
            true),

        ONE("narrow int32 -> int16", COL("a", INT32), COL("a", INT16), NARROW, true),
        ONE("narrow int64 -> int16", COL("a", INT64), COL("a", INT16), NARROW, true),
        ONE("narrow int64 -> int32", COL("a", INT64), COL("a", INT32), NARROW, true),
        ONE("narrow float64 -> float32", COL("a", FLOAT64), COL("a", FLOAT32), NARROW, true),
        ONE("narrow decimal precision", DEC("a", 12, 2), DEC("a", 10, 2), NARROW, true),
        ONE("narrow decimal from unconstrained", DEC("a", 0, 2), DEC("a", 10, 2), NARROW, true),
        ONE("narrow string length", MOD("a", STRING, 50), MOD("a", STRING, 20), NARROW, true),
        ONE("narrow string from unbounded", MOD("a", STRING, 0), MOD("a", STRING, 20), NARROW,
            true),
        ONE("narrow time digits", MOD("a", TIME, 6), MOD("a", TIME, 3), NARROW, true),
        ONE("narrow timestamp digits", MOD("a", TIMESTAMP, 6), MOD("a", TIMESTAMP, 0), NARROW,
            true),
        ONE("narrow timestamptz digits", MOD("a", TIMESTAMPTZ, 6), MOD("a", TIMESTAMPTZ, 3), NARROW,
            true),

        ONE("int32 -> string", COL("a", INT32), COL("a", STRING), TYPE, false),
        ONE("string -> int32", COL("a", STRING), COL("a", INT32), TYPE, false),
        ONE("int32 -> decimal", COL("a", INT32), DEC("a", 10, 0), TYPE, false),
        ONE("decimal scale change", DEC("a", 10, 2), DEC("a", 10, 3), TYPE, false),
        ONE("decimal scale change with wider precision", DEC("a", 10, 2), DEC("a", 12, 3), TYPE,
            false),
        ONE("timestamp -> timestamptz", MOD("a", TIMESTAMP, 6), MOD("a", TIMESTAMPTZ, 6), TYPE,
            false),
        ONE("timestamptz -> timestamp", MOD("a", TIMESTAMPTZ, 6), MOD("a", TIMESTAMP, 6), TYPE,
            false),
        ONE("boolean -> int16", COL("a", BOOL), COL("a", INT16), TYPE, false),
        ONE("int64 -> float64", COL("a", INT64), COL("a", FLOAT64), TYPE, false),
        ONE("float32 -> int32", COL("a", FLOAT32), COL("a", INT32), TYPE, false),
        ONE("date -> timestamp", COL("a", DATE), MOD("a", TIMESTAMP, 6), TYPE, false),
        ONE("json -> string", COL("a", JSON), COL("a", STRING), TYPE, false),
        ONE("bytes -> string", COL("a", BYTES), COL("a", STRING), TYPE, false),
        ONE("uuid -> string", COL("a", UUID), COL("a", STRING), TYPE, false),

        ONE("not null added", COL("a", INT32), NN("a", INT32), NOTNULL, true),
        ONE("not null dropped", NN("a", INT32), COL("a", INT32), NULLABLE, true),
        { "widen and nullable on one column",
          { ID, NN("a", INT32) },
          { ID, COL("a", INT64) },
          { E(WIDEN, 1, 1, true), E(NULLABLE, 1, 1, true) } },
        { "type changes listed in new order",
          { ID, COL("a", INT16), COL("b", INT16) },
          { ID, COL("b", INT32), COL("a", STRING) },
          { E(WIDEN, 2, 1, true), E(TYPE, 1, 2, false), E(REORDER, -1, -1, true) } },

        { "rename by source_id",
          { KSID("id", INT64, 1, 1), SID("a", INT32, 2) },
          { KSID("id", INT64, 1, 1), SID("b", INT32, 2) },
          { E(RENAME, 1, 1, true) } },
        { "rename by source_id with widen",
          { KSID("id", INT64, 1, 1), SID("a", INT32, 2) },
          { KSID("id", INT64, 1, 1), SID("b", INT64, 2) },
          { E(RENAME, 1, 1, true), E(WIDEN, 1, 1, true) } },
        { "rename by source_id with incompatible type",
          { KSID("id", INT64, 1, 1), SID("a", INT32, 2) },
          { KSID("id", INT64, 1, 1), SID("b", STRING, 2) },
          { E(RENAME, 1, 1, true), E(TYPE, 1, 1, false) } },
        { "names swapped, ids kept",
          { KSID("id", INT64, 1, 1), SID("a", INT32, 2), SID("b", INT32, 3) },
          { KSID("id", INT64, 1, 1), SID("b", INT32, 2), SID("a", INT32, 3) },
          { E(RENAME, 1, 1, true), E(RENAME, 2, 2, true) } },
        { "column moved, ids kept",
          { KSID("id", INT64, 1, 1), SID("a", INT32, 2), SID("b", INT32, 3) },
          { KSID("id", INT64, 1, 1), SID("b", INT32, 3), SID("a", INT32, 2) },
          { E(REORDER, -1, -1, true) } },
        { "name change without ids is drop + add",
          { ID, COL("a", INT32) },
          { ID, COL("b", INT32) },
          { E(DROP, 1, -1, true), E(ADD, -1, 1, true) } },
        { "name change with ids on the old side only",
          { KSID("id", INT64, 1, 1), SID("a", INT32, 2) },
          { ID, COL("b", INT32) },
          { E(DROP, 1, -1, true), E(ADD, -1, 1, true) } },
        { "same name, other id: re-created",
          { KSID("id", INT64, 1, 1), SID("a", INT32, 2) },
          { KSID("id", INT64, 1, 1), SID("a", INT32, 5) },
          { E(DROP, 1, -1, true), E(ADD, -1, 1, true) } },

        { "key column added",
          { ID, NN("b", INT32) },
          { ID, KEY("b", INT32, 2) },
          { E(KEY, -1, -1, false) } },
        { "key reordered",
          { KEY("a", INT32, 1), KEY("b", INT32, 2) },
          { KEY("a", INT32, 2), KEY("b", INT32, 1) },
          { E(KEY, -1, -1, false) } },
        { "key moved to another column",
          { ID, NN("b", INT32) },
          { NN("id", INT64), KEY("b", INT32, 1) },
          { E(KEY, -1, -1, false) } },
        { "key removed",
          { ID, COL("a", INT32) },
          { NN("id", INT64), COL("a", INT32) },
          { E(KEY, -1, -1, false) } },
        { "key column renamed by id: same key",
          { KSID("id", INT64, 1, 1), SID("a", INT32, 2) },
          { KSID("ident", INT64, 1, 1), SID("a", INT32, 2) },
          { E(RENAME, 0, 0, true) } },
        { "key column renamed without ids",
          { ID, COL("a", INT32) },
          { KEY("ident", INT64, 1), COL("a", INT32) },
          { E(DROP, 0, -1, true), E(ADD, -1, 0, true), E(KEY, -1, -1, false) } },
        { "key column dropped",
          { ID, KEY("b", INT32, 2), COL("c", INT32) },
          { ID, COL("c", INT32) },
          { E(DROP, 1, -1, true), E(KEY, -1, -1, false) } },
        { "every column dropped",
          { ID, COL("a", INT32) },
          { { 0 } },
          { E(DROP, 0, -1, true), E(DROP, 1, -1, true), E(KEY, -1, -1, false) } },

        { "reorder",
          { ID, COL("a", INT32), COL("b", INT32), COL("c", INT32) },
          { ID, COL("a", INT32), COL("c", INT32), COL("b", INT32) },
          { E(REORDER, -1, -1, true) } },
        { "combined compatible",
          { KSID("id", INT64, 1, 1),
            SID("a", INT32, 2),
            { .name = "b", .type = ZETL_T_STRING, .prec = 20, .sid = 3 },
            SID("c", INT16, 4),
            SID("d", BOOL, 5) },
          { KSID("id", INT64, 1, 1),
            SID("c2", INT32, 4),
            { .name = "b", .type = ZETL_T_STRING, .prec = 10, .notnull = true, .sid = 3 },
            SID("d", BOOL, 5),
            { .name = "e", .type = ZETL_T_INT32, .notnull = true, .sid = 6 } },
          { E(DROP, 1, -1, true), E(RENAME, 3, 1, true), E(WIDEN, 3, 1, true),
            E(NARROW, 2, 2, true), E(NOTNULL, 2, 2, true), E(ADD, -1, 4, true),
            E(REORDER, -1, -1, true) } },
        { "combined with type and key changes",
          { ID, COL("a", INT32), NN("b", INT32), COL("c", STRING), COL("d", INT32) },
          { ID, COL("a", INT64), KEY("b", INT32, 2), COL("d", INT32), COL("c", INT32),
            NN("n", STRING) },
          { E(WIDEN, 1, 1, true), E(TYPE, 3, 4, false), E(ADD, -1, 5, true), E(KEY, -1, -1, false),
            E(REORDER, -1, -1, true) } },
};

static int tcol_count(const struct tcol *c)
{
        int n = 0;

        while (n < MAXC && c[n].name)
                n++;
        return n;
}

static struct zetl_schema *build(const struct tcol *tc)
{
        struct zetl_table_id id;
        struct zetl_schema *s;
        struct zetl_err err = { 0 };
        int n = tcol_count(tc);

        assert_int_equal(zetl_table_id_set(&id, "db", "public", "t"), 0);
        s = zetl_schema_new(&id, n);
        assert_non_null(s);
        for (int i = 0; i < n; i++) {
                struct zetl_column c = {
                        .name = (char *)tc[i].name,
                        .type = tc[i].type,
                        .precision = tc[i].prec,
                        .scale = tc[i].scale,
                        .nullable = !tc[i].notnull,
                        .key_pos = tc[i].key,
                        .source_id = tc[i].sid,
                        .source_type = (char *)tc[i].stype,
                };
                assert_int_equal(zetl_schema_set_col(s, i, &c), 0);
        }
        assert_int_equal(zetl_schema_finish(s, &err), 0);
        return s;
}

static void print_diff(const struct zetl_schema_diff *d)
{
        for (int k = 0; k < d->n; k++) {
                const struct zetl_change *c = &d->changes[k];

                print_message("    got %s(%d, %d) %s: %s\n", zetl_change_kind_name(c->kind),
                              c->old_col, c->new_col, c->compatible ? "compatible" : "incompatible",
                              c->detail);
        }
}

/* 0 when the diff of the case's shapes is exactly exp[0..nexp). */
static int check_case(const char *name, const struct tcol *old, const struct tcol *new,
                      const struct texp *exp, int nexp)
{
        struct zetl_schema *a = build(old);
        struct zetl_schema *b = build(new);
        struct zetl_schema_diff d = { 0 };
        struct zetl_err err = { 0 };
        bool compat = true;
        int bad = 0;

        assert_int_equal(zetl_schema_diff(a, b, &d, &err), 0);
        for (int k = 0; k < nexp; k++)
                compat = compat && exp[k].compat;
        if (d.n != nexp || d.compatible != compat)
                bad = 1;
        for (int k = 0; !bad && k < nexp; k++) {
                const struct zetl_change *c = &d.changes[k];

                if (c->kind != exp[k].kind || c->old_col != exp[k].old_col ||
                    c->new_col != exp[k].new_col || c->compatible != exp[k].compat ||
                    c->detail[0] == '\0')
                        bad = 1;
        }
        if (bad) {
                print_message("FAILED case \"%s\": expected %d change(s), %s\n", name, nexp,
                              compat ? "compatible" : "incompatible");
                for (int k = 0; k < nexp; k++)
                        print_message("    want %s(%d, %d) %s\n",
                                      zetl_change_kind_name(exp[k].kind), exp[k].old_col,
                                      exp[k].new_col,
                                      exp[k].compat ? "compatible" : "incompatible");
                print_message("  got %d change(s), %s\n", d.n,
                              d.compatible ? "compatible" : "incompatible");
                print_diff(&d);
        }
        zetl_schema_diff_free(&d);
        zetl_schema_unref(a);
        zetl_schema_unref(b);
        return bad;
}

static void test_diff_table(void **state)
{
        const size_t ncases = sizeof(diff_cases) / sizeof(diff_cases[0]);
        int failed = 0;

        (void)state;
        assert_true(ncases >= 30);
        for (size_t i = 0; i < ncases; i++) {
                const struct dcase *c = &diff_cases[i];
                const struct texp *exp = c->exp;
                int nexp = 0;

                while (nexp < MAXE && exp[nexp].used)
                        nexp++;
                failed += check_case(c->name, c->old, c->new, exp, nexp);
        }
        assert_int_equal(failed, 0);
}

/* Every kind of change appears somewhere in the table. */
static void test_diff_table_covers_every_kind(void **state)
{
        bool seen[ZETL_CHG_REORDER + 1] = { false };

        (void)state;
        for (size_t i = 0; i < sizeof(diff_cases) / sizeof(diff_cases[0]); i++) {
                for (int k = 0; k < MAXE && diff_cases[i].exp[k].used; k++)
                        seen[diff_cases[i].exp[k].kind] = true;
        }
        for (int k = 0; k <= ZETL_CHG_REORDER; k++) {
                if (!seen[k])
                        print_message("kind %s not covered\n", zetl_change_kind_name(k));
                assert_true(seen[k]);
        }
}

static struct zetl_schema_diff diff_of(const struct tcol *old, const struct tcol *new)
{
        struct zetl_schema *a = build(old);
        struct zetl_schema *b = build(new);
        struct zetl_schema_diff d = { 0 };

        assert_int_equal(zetl_schema_diff(a, b, &d, NULL), 0);
        zetl_schema_unref(a);
        zetl_schema_unref(b);
        return d;
}

static void test_diff_details(void **state)
{
        struct zetl_schema_diff d;

        (void)state;
        d = diff_of((struct tcol[]){ ID, DEC("price", 10, 2), { 0 } },
                    (struct tcol[]){ ID, DEC("price", 12, 2), { 0 } });
        assert_int_equal(d.n, 1);
        assert_string_equal(d.changes[0].detail,
                            "column \"price\" widened decimal(10,2) -> decimal(12,2)");
        zetl_schema_diff_free(&d);

        d = diff_of((struct tcol[]){ ID, COL("a", INT32), { 0 } },
                    (struct tcol[]){ ID, COL("a", STRING), { 0 } });
        assert_int_equal(d.n, 1);
        assert_string_equal(d.changes[0].detail, "column \"a\" int32 -> string: incompatible");
        assert_false(d.compatible);
        zetl_schema_diff_free(&d);

        /* An added NOT NULL column says that the target gets it nullable. */
        d = diff_of((struct tcol[]){ ID, { 0 } }, (struct tcol[]){ ID, NN("b", INT32), { 0 } });
        assert_int_equal(d.n, 1);
        assert_non_null(strstr(d.changes[0].detail, "\"b\""));
        assert_non_null(strstr(d.changes[0].detail, "nullable"));
        zetl_schema_diff_free(&d);

        d = diff_of((struct tcol[]){ SID("a", INT32, 4), { 0 } },
                    (struct tcol[]){ SID("b", INT32, 4), { 0 } });
        assert_int_equal(d.n, 1);
        assert_non_null(strstr(d.changes[0].detail, "\"a\""));
        assert_non_null(strstr(d.changes[0].detail, "\"b\""));
        zetl_schema_diff_free(&d);
}

/* An identical schema gives an empty, compatible diff that frees cleanly,
 * and freeing twice is harmless. */
static void test_diff_identical_empty(void **state)
{
        struct zetl_schema *a = build((struct tcol[]){ ID, COL("a", JSON), { 0 } });
        struct zetl_schema_diff d = { 0 };

        (void)state;
        assert_int_equal(zetl_schema_diff(a, a, &d, NULL), 0);
        assert_int_equal(d.n, 0);
        assert_true(d.compatible);
        zetl_schema_diff_free(&d);
        zetl_schema_diff_free(&d);
        assert_int_equal(d.n, 0);
        assert_null(d.changes);
        zetl_schema_unref(a);
}

/* Long names are cut in the detail, never overflow it. */
static void test_diff_long_names(void **state)
{
        char longname[ZETL_NAME_MAX];
        struct zetl_schema_diff d;

        (void)state;
        memset(longname, 'x', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        d = diff_of((struct tcol[]){ ID, { 0 } },
                    (struct tcol[]){ ID, NN(longname, INT32), { 0 } });
        assert_int_equal(d.n, 1);
        assert_int_equal(d.changes[0].kind, ZETL_CHG_ADD);
        assert_true(strlen(d.changes[0].detail) < sizeof(d.changes[0].detail));
        zetl_schema_diff_free(&d);
}

/* ---- finish() validation ---------------------------------------------- */

static int finish_of(const struct tcol *tc, int n, struct zetl_err *err, int *nkeys)
{
        struct zetl_table_id id;
        struct zetl_schema *s;
        int rc;

        assert_int_equal(zetl_table_id_set(&id, "shop", "public", "orders"), 0);
        s = zetl_schema_new(&id, n);
        assert_non_null(s);
        for (int i = 0; i < n; i++) {
                struct zetl_column c = { .name = (char *)tc[i].name,
                                         .type = tc[i].type,
                                         .nullable = !tc[i].notnull,
                                         .key_pos = tc[i].key };
                assert_int_equal(zetl_schema_set_col(s, i, &c), 0);
        }
        zetl_err_clear(err);
        rc = zetl_schema_finish(s, err);
        if (nkeys)
                *nkeys = s->nkeys;
        zetl_schema_unref(s);
        return rc;
}

static void expect_finish_error(const struct tcol *tc, int n, const char *column)
{
        struct zetl_err err;

        assert_int_equal(finish_of(tc, n, &err, NULL), ZETL_EINVAL);
        assert_int_equal(err.code, ZETL_EINVAL);
        assert_int_equal(err.cls, ZETL_ERRC_FATAL);
        assert_non_null(strstr(err.msg, "shop.public.orders"));
        if (column)
                assert_non_null(strstr(err.msg, column));
}

static void test_finish_validation(void **state)
{
        struct zetl_err err;
        int nkeys = -1;

        (void)state;
        expect_finish_error((struct tcol[]){ COL("a", INT32), COL("a", STRING) }, 2, "\"a\"");
        expect_finish_error((struct tcol[]){ COL("a", INT32), COL("", STRING) }, 2, NULL);
        expect_finish_error((struct tcol[]){ COL("a", INT32), { .type = ZETL_T_INT32 } }, 2, NULL);
        /* Key positions must be 1..nkeys, each once. */
        expect_finish_error((struct tcol[]){ KEY("a", INT32, 1), KEY("b", INT32, 3) }, 2, "\"b\"");
        expect_finish_error((struct tcol[]){ KEY("a", INT32, 1), KEY("b", INT32, 1) }, 2, "\"b\"");
        expect_finish_error((struct tcol[]){ COL("a", INT32), KEY("b", INT32, 2) }, 2, "\"b\"");
        expect_finish_error((struct tcol[]){ KEY("a", INT32, -1) }, 1, "\"a\"");

        /* Names are compared byte for byte: case differs, so both are fine. */
        assert_int_equal(
                finish_of((struct tcol[]){ COL("a", INT32), COL("A", INT32) }, 2, &err, &nkeys), 0);
        assert_int_equal(nkeys, 0);
        assert_int_equal(finish_of((struct tcol[]){ KEY("a", INT32, 2), COL("b", INT32),
                                                    KEY("c", INT32, 1) },
                                   3, &err, &nkeys),
                         0);
        assert_int_equal(nkeys, 2);
        assert_int_equal(finish_of(NULL, 0, &err, &nkeys), 0);
        assert_int_equal(nkeys, 0);
}

static void test_find_and_key_col(void **state)
{
        struct zetl_schema *s = build(
                (struct tcol[]){ KEY("a", INT32, 2), COL("b", INT32), KEY("c", INT32, 1), { 0 } });

        (void)state;
        assert_int_equal(s->nkeys, 2);
        assert_int_equal(zetl_schema_find(s, "a"), 0);
        assert_int_equal(zetl_schema_find(s, "c"), 2);
        assert_int_equal(zetl_schema_find(s, "C"), -1);
        assert_int_equal(zetl_schema_find(s, "zz"), -1);
        assert_int_equal(zetl_schema_key_col(s, 1), 2);
        assert_int_equal(zetl_schema_key_col(s, 2), 0);
        assert_int_equal(zetl_schema_key_col(s, 3), -1);
        assert_int_equal(zetl_schema_key_col(s, 0), -1);
        zetl_schema_unref(s);
}

/* ---- object lifetime ---------------------------------------------------- */

static void test_new_and_set_col(void **state)
{
        struct zetl_table_id id;
        struct zetl_schema *s;
        char name[8] = "col";
        char stype[16] = "varchar(20)";
        struct zetl_column c = { .name = name,
                                 .type = ZETL_T_STRING,
                                 .precision = 20,
                                 .source_type = stype,
                                 .source_id = 9 };

        (void)state;
        assert_int_equal(zetl_table_id_set(&id, "db", NULL, "t"), 0);
        assert_null(zetl_schema_new(&id, -1));
        s = zetl_schema_new(&id, 2);
        assert_non_null(s);
        assert_int_equal(s->refs, 1);
        assert_int_equal(s->ncols, 2);
        assert_true(zetl_table_id_eq(&s->id, &id));
        assert_null(s->cols[0].name);
        assert_null(s->cols[1].source_type);
        assert_int_equal(s->cols[1].key_pos, 0);

        assert_int_equal(zetl_schema_set_col(s, 0, &c), 0);
        /* The schema keeps its own copies of the strings. */
        assert_ptr_not_equal(s->cols[0].name, name);
        assert_ptr_not_equal(s->cols[0].source_type, stype);
        strcpy(name, "zzz");
        strcpy(stype, "text");
        assert_string_equal(s->cols[0].name, "col");
        assert_string_equal(s->cols[0].source_type, "varchar(20)");
        assert_int_equal(s->cols[0].precision, 20);
        assert_int_equal(s->cols[0].source_id, 9);
        /* Setting a column again replaces it (ASan checks nothing leaks). */
        c.source_type = NULL;
        assert_int_equal(zetl_schema_set_col(s, 0, &c), 0);
        assert_string_equal(s->cols[0].name, "zzz");
        assert_null(s->cols[0].source_type);
        assert_int_equal(zetl_schema_set_col(s, 2, &c), ZETL_EINVAL);
        assert_int_equal(zetl_schema_set_col(s, -1, &c), ZETL_EINVAL);
        zetl_schema_unref(s);

        s = zetl_schema_new(&id, 0);
        assert_non_null(s);
        assert_int_equal(s->ncols, 0);
        zetl_schema_unref(s);
}

static void test_clone_ref_unref(void **state)
{
        struct zetl_schema *s =
                build((struct tcol[]){ KEY("id", INT64, 1),
                                       { .name = "n", .type = ZETL_T_STRING, .stype = "text" },
                                       { 0 } });
        struct zetl_schema *c, *r;
        struct zetl_column col = { .name = "renamed", .type = ZETL_T_INT32, .nullable = true };

        (void)state;
        s->version = 3;
        c = zetl_schema_clone(s);
        assert_non_null(c);
        assert_ptr_not_equal(c, s);
        assert_int_equal(c->refs, 1);
        assert_int_equal(c->version, 3);
        assert_int_equal(c->ncols, 2);
        assert_int_equal(c->nkeys, 1);
        assert_true(zetl_table_id_eq(&c->id, &s->id));
        assert_ptr_not_equal(c->cols, s->cols);
        assert_ptr_not_equal(c->cols[1].name, s->cols[1].name);
        assert_ptr_not_equal(c->cols[1].source_type, s->cols[1].source_type);
        assert_string_equal(c->cols[1].source_type, "text");
        assert_true(zetl_schema_same_shape(c, s));

        /* Changing the clone leaves the original alone. */
        assert_int_equal(zetl_schema_set_col(c, 1, &col), 0);
        assert_string_equal(s->cols[1].name, "n");
        assert_false(zetl_schema_same_shape(c, s));

        r = zetl_schema_ref(s);
        assert_ptr_equal(r, s);
        assert_int_equal(s->refs, 2);
        zetl_schema_unref(r);
        assert_int_equal(s->refs, 1);
        zetl_schema_unref(s);
        zetl_schema_unref(c);
        zetl_schema_unref(NULL);
}

#define REF_THREADS 4
#define REF_ROUNDS  100000

static void *ref_worker(void *arg)
{
        const struct zetl_schema *s = arg;

        for (int i = 0; i < REF_ROUNDS; i++) {
                struct zetl_schema *r = zetl_schema_ref(s);
                zetl_schema_unref(r);
        }
        /* Each thread came with its own reference and gives it back. */
        zetl_schema_unref(s);
        return NULL;
}

static void test_ref_threads(void **state)
{
        struct zetl_schema *s = build((struct tcol[]){ COL("a", INT32), { 0 } });
        pthread_t t[REF_THREADS];

        (void)state;
        for (int i = 0; i < REF_THREADS; i++) {
                zetl_schema_ref(s);
                assert_int_equal(pthread_create(&t[i], NULL, ref_worker, s), 0);
        }
        for (int i = 0; i < REF_THREADS; i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(__atomic_load_n(&s->refs, __ATOMIC_SEQ_CST), 1);
        zetl_schema_unref(s);
}

static void test_same_shape(void **state)
{
        struct tcol base[] = { KSID("id", INT64, 1, 1), DEC("p", 10, 2), { 0 } };
        struct tcol other_src[] = { { .name = "id",
                                      .type = ZETL_T_INT64,
                                      .notnull = true,
                                      .key = 1,
                                      .sid = 8,
                                      .stype = "int8" },
                                    { .name = "p",
                                      .type = ZETL_T_DECIMAL,
                                      .prec = 10,
                                      .scale = 2,
                                      .sid = 9,
                                      .stype = "numeric(10,2)" },
                                    { 0 } };
        struct tcol nullable[] = {
                KSID("id", INT64, 1, 1),
                { .name = "p", .type = ZETL_T_DECIMAL, .prec = 10, .scale = 2, .notnull = true },
                { 0 }
        };
        struct tcol prec[] = { KSID("id", INT64, 1, 1), DEC("p", 11, 2), { 0 } };
        struct tcol scale[] = { KSID("id", INT64, 1, 1), DEC("p", 10, 3), { 0 } };
        struct tcol key[] = { NN("id", INT64), DEC("p", 10, 2), { 0 } };
        struct tcol name[] = { KSID("id", INT64, 1, 1), DEC("q", 10, 2), { 0 } };
        struct tcol type[] = { KSID("id", INT32, 1, 1), DEC("p", 10, 2), { 0 } };
        struct tcol fewer[] = { KSID("id", INT64, 1, 1), { 0 } };
        struct zetl_schema *a = build(base);
        const struct tcol *diffs[] = { nullable, prec, scale, key, name, type, fewer };
        struct zetl_schema *b;

        (void)state;
        /* Other ids and source types, same shape. */
        b = build(other_src);
        assert_true(zetl_schema_same_shape(a, b));
        zetl_schema_unref(b);
        for (size_t i = 0; i < sizeof(diffs) / sizeof(diffs[0]); i++) {
                b = build(diffs[i]);
                assert_false(zetl_schema_same_shape(a, b));
                zetl_schema_unref(b);
        }
        zetl_schema_unref(a);
}

/* ---- table ids ---------------------------------------------------------- */

static void test_table_id_str(void **state)
{
        struct zetl_table_id id;
        char buf[64];
        char small[5];

        (void)state;
        assert_int_equal(zetl_table_id_set(&id, "shop", "public", "orders"), 0);
        assert_string_equal(zetl_table_id_str(&id, buf, sizeof(buf)), "shop.public.orders");
        assert_int_equal(zetl_table_id_set(&id, "shop", "", "orders"), 0);
        assert_string_equal(zetl_table_id_str(&id, buf, sizeof(buf)), "shop.orders");
        assert_int_equal(zetl_table_id_set(&id, "shop", NULL, "orders"), 0);
        assert_string_equal(id.schema, "");
        assert_string_equal(zetl_table_id_str(&id, buf, sizeof(buf)), "shop.orders");
        /* A short buffer gets a cut, still terminated, string. */
        memset(small, 'z', sizeof(small));
        assert_ptr_equal(zetl_table_id_str(&id, small, sizeof(small)), small);
        assert_string_equal(small, "shop");
}

static void test_table_id_set_and_eq(void **state)
{
        char fits[ZETL_NAME_MAX];         /* 255 bytes + NUL */
        char too_long[ZETL_NAME_MAX + 1]; /* 256 bytes + NUL */
        struct zetl_table_id a, b;

        (void)state;
        memset(fits, 'f', sizeof(fits) - 1);
        fits[sizeof(fits) - 1] = '\0';
        memset(too_long, 'l', sizeof(too_long) - 1);
        too_long[sizeof(too_long) - 1] = '\0';

        assert_int_equal(zetl_table_id_set(&a, fits, fits, fits), 0);
        assert_string_equal(a.table, fits);
        assert_int_equal(zetl_table_id_set(&a, "db", "s", "t"), 0);
        assert_int_equal(zetl_table_id_set(&a, too_long, "s", "x"), ZETL_EINVAL);
        assert_int_equal(zetl_table_id_set(&a, "db", too_long, "x"), ZETL_EINVAL);
        assert_int_equal(zetl_table_id_set(&a, "db", "s", too_long), ZETL_EINVAL);
        /* A refused id is left as it was. */
        assert_string_equal(a.db, "db");
        assert_string_equal(a.table, "t");

        assert_int_equal(zetl_table_id_set(&b, "db", "s", "t"), 0);
        assert_true(zetl_table_id_eq(&a, &b));
        assert_int_equal(zetl_table_id_set(&b, "db", "", "t"), 0);
        assert_false(zetl_table_id_eq(&a, &b));
        assert_int_equal(zetl_table_id_set(&b, "db", "s", "T"), 0);
        assert_false(zetl_table_id_eq(&a, &b));
        assert_int_equal(zetl_table_id_set(&b, "db2", "s", "t"), 0);
        assert_false(zetl_table_id_eq(&a, &b));
}

static void test_change_kind_names(void **state)
{
        (void)state;
        for (int i = 0; i <= ZETL_CHG_REORDER; i++) {
                const char *n = zetl_change_kind_name(i);

                assert_non_null(n);
                assert_string_not_equal(n, "unknown");
                for (int j = 0; j < i; j++)
                        assert_string_not_equal(n, zetl_change_kind_name(j));
        }
        assert_string_equal(zetl_change_kind_name(ZETL_CHG_RENAME), "rename");
        assert_string_equal(zetl_change_kind_name(ZETL_CHG_WIDEN), "widen");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_diff_table),
                cmocka_unit_test(test_diff_table_covers_every_kind),
                cmocka_unit_test(test_diff_details),
                cmocka_unit_test(test_diff_identical_empty),
                cmocka_unit_test(test_diff_long_names),
                cmocka_unit_test(test_finish_validation),
                cmocka_unit_test(test_find_and_key_col),
                cmocka_unit_test(test_new_and_set_col),
                cmocka_unit_test(test_clone_ref_unref),
                cmocka_unit_test(test_ref_threads),
                cmocka_unit_test(test_same_shape),
                cmocka_unit_test(test_table_id_str),
                cmocka_unit_test(test_table_id_set_and_eq),
                cmocka_unit_test(test_change_kind_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
