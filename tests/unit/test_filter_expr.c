/*
 * Row filter expressions (src/filter_expr.c) and their application to
 * batches (zetl_filter_apply in src/filter.c): the grammar and its
 * precedence (seen through the fully parenthesized SQL the program renders),
 * errors with their positions, SQL's three-valued logic, vector evaluation
 * on every logical type with NULLs and unchanged cells, and the row
 * semantics: an update that leaves the filter becomes a delete of its key.
 * Expected values come from SQL's rules, worked out by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filter_expr.h"
#include "zetl/batch.h"
#include "zetl/filter.h"
#include "zetl/value.h"

/* ---- helpers ------------------------------------------------------------------- */

/* "name type [key], ..." e.g. "id int64 key, price decimal". */
static struct zetl_schema *mk_schema(const char *spec)
{
        struct zetl_table_id id;
        char buf[1024], *save = NULL;
        char *names[32], *types[32];
        bool keys[32];
        int n = 0;

        snprintf(buf, sizeof(buf), "%s", spec);
        for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
                char *s2 = NULL;
                names[n] = strtok_r(item, " ", &s2);
                types[n] = strtok_r(NULL, " ", &s2);
                char *k = strtok_r(NULL, " ", &s2);
                keys[n] = k && strcmp(k, "key") == 0;
                n++;
        }
        assert_int_equal(zetl_table_id_set(&id, "shop", "public", "t"), 0);
        struct zetl_schema *s = zetl_schema_new(&id, n);
        int nkey = 0;
        for (int i = 0; i < n; i++) {
                struct zetl_column c = { .name = names[i], .nullable = !keys[i], .scale = -1 };
                assert_int_equal(zetl_type_parse(types[i], &c.type), 0);
                c.key_pos = keys[i] ? ++nkey : 0;
                c.source_id = (uint32_t)(i + 1);
                assert_int_equal(zetl_schema_set_col(s, i, &c), 0);
        }
        assert_int_equal(zetl_schema_finish(s, NULL), 0);
        s->version = 1;
        return s;
}

#define UNCH "\x01unchanged"

/* Set cell col of the row being built from text (NULL: SQL NULL; UNCH: not sent). */
static void set_cell(struct zetl_batch *b, int col, const char *v)
{
        enum zetl_type t = b->schema->cols[col].type;
        struct zetl_err e;
        int32_t d;
        int64_t x;
        uint8_t u[16];

        if (!v) {
                zetl_batch_set_null(b, col);
                return;
        }
        if (strcmp(v, UNCH) == 0) {
                assert_int_equal(zetl_batch_set_unchanged(b, col, &e), 0);
                return;
        }
        switch (t) {
        case ZETL_T_BOOL:
                zetl_batch_set_bool(b, col, v[0] == 't');
                break;
        case ZETL_T_INT16:
                zetl_batch_set_i16(b, col, (int16_t)strtol(v, NULL, 10));
                break;
        case ZETL_T_INT32:
                zetl_batch_set_i32(b, col, (int32_t)strtol(v, NULL, 10));
                break;
        case ZETL_T_INT64:
                zetl_batch_set_i64(b, col, strtoll(v, NULL, 10));
                break;
        case ZETL_T_FLOAT32:
                zetl_batch_set_f32(b, col, strtof(v, NULL));
                break;
        case ZETL_T_FLOAT64:
                zetl_batch_set_f64(b, col, strtod(v, NULL));
                break;
        case ZETL_T_DATE:
                assert_int_equal(zetl_parse_date(v, strlen(v), &d), 0);
                zetl_batch_set_i32(b, col, d);
                break;
        case ZETL_T_TIME:
                assert_int_equal(zetl_parse_time(v, strlen(v), &x), 0);
                zetl_batch_set_i64(b, col, x);
                break;
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                assert_int_equal(zetl_parse_timestamp(v, strlen(v), &x), 0);
                zetl_batch_set_i64(b, col, x);
                break;
        case ZETL_T_UUID:
                assert_int_equal(zetl_parse_uuid(v, strlen(v), u), 0);
                zetl_batch_set_uuid(b, col, u);
                break;
        default:
                assert_int_equal(zetl_batch_set_var(b, col, v, strlen(v), &e), 0);
                break;
        }
}

/* Append a row: one text per column. */
static void add_row(struct zetl_batch *b, enum zetl_op op, uint64_t pos, const char *const *vals)
{
        struct zetl_err e;

        assert_int_equal(zetl_batch_row_begin(b, op, pos, &e), 0);
        for (int c = 0; c < b->schema->ncols; c++)
                set_cell(b, c, vals[c]);
        zetl_batch_row_end(b);
}

static struct fx_prog *compile(const struct zetl_schema *s, const char *cond)
{
        struct fx_node *n = NULL;
        struct fx_prog *p = NULL;
        struct fx_error e = { 0 };
        size_t end;

        if (fx_parse(cond, 0, &end, &n, &e) != 0)
                fail_msg("parse \"%s\": %zu: %s", cond, e.at, e.msg);
        if (fx_compile(n, cond, s, &p, &e) != 0)
                fail_msg("compile \"%s\": %zu: %s", cond, e.at, e.msg);
        fx_free(n);
        return p;
}

/* Result sets as letters: T F N, A (any: T|F|N), B (T|F), X (F|N), Y (T|N). */
static char set_letter(uint8_t v)
{
        switch (v) {
        case FX_TRUE:
                return 'T';
        case FX_FALSE:
                return 'F';
        case FX_NULL:
                return 'N';
        case FX_ANY:
                return 'A';
        case FX_TRUE | FX_FALSE:
                return 'B';
        case FX_FALSE | FX_NULL:
                return 'X';
        case FX_TRUE | FX_NULL:
                return 'Y';
        default:
                return '?';
        }
}

static void expect_eval(const struct zetl_batch *b, const char *cond, const char *want)
{
        struct fx_prog *p = compile(b->schema, cond);
        uint8_t out[64];
        char got[65];
        struct zetl_err e;

        assert_true(b->nrows < sizeof(out));
        assert_int_equal(fx_eval(p, b, out, &e), 0);
        for (uint32_t r = 0; r < b->nrows; r++)
                got[r] = set_letter(out[r]);
        got[b->nrows] = '\0';
        if (strcmp(got, want) != 0)
                fail_msg("\"%s\": got %s, want %s", cond, got, want);
        fx_prog_free(p);
}

static void expect_sql(const struct zetl_schema *s, const char *cond, const bool *col_ok,
                       const char *want)
{
        struct fx_prog *p = compile(s, cond);
        char *sql = NULL;

        assert_int_equal(fx_prog_pg_sql(p, s, col_ok, &sql), 0);
        if (!want && sql)
                fail_msg("\"%s\": got %s, want nothing pushed down", cond, sql);
        if (want && (!sql || strcmp(sql, want) != 0))
                fail_msg("\"%s\":\n got  %s\n want %s", cond, sql ? sql : "(none)", want);
        free(sql);
        fx_prog_free(p);
}

/* ---- grammar and precedence ------------------------------------------------------- */

static void test_precedence(void **state)
{
        struct zetl_schema *s =
                mk_schema("a int64, b int64, c int64, f boolean, s string, x float64");

        (void)state;
        /* AND binds tighter than OR, NOT tighter than AND, comparisons tightest. */
        expect_sql(s, "a = 1 OR b = 2 AND c = 3", NULL,
                   "((\"a\" = 1) OR ((\"b\" = 2) AND (\"c\" = 3)))");
        expect_sql(s, "a = 1 AND b = 2 OR c = 3", NULL,
                   "(((\"a\" = 1) AND (\"b\" = 2)) OR (\"c\" = 3))");
        expect_sql(s, "(a = 1 OR b = 2) AND c = 3", NULL,
                   "((\"a\" = 1) OR (\"b\" = 2)) AND (\"c\" = 3)");
        expect_sql(s, "NOT a = 1 AND b = 2", NULL, "(NOT (\"a\" = 1)) AND (\"b\" = 2)");
        expect_sql(s, "NOT (a = 1 AND b = 2)", NULL, "(NOT ((\"a\" = 1) AND (\"b\" = 2)))");
        expect_sql(s, "not not f", NULL, "(NOT (NOT \"f\"))");
        expect_sql(s, "a = 1 or b = 2 or c = 3", NULL,
                   "(((\"a\" = 1) OR (\"b\" = 2)) OR (\"c\" = 3))");
        /* BETWEEN's AND is its own: a >= lo AND a <= hi */
        expect_sql(s, "a BETWEEN 1 AND 5 AND b = 2", NULL,
                   "(\"a\" >= 1) AND (\"a\" <= 5) AND (\"b\" = 2)");
        expect_sql(s, "a NOT BETWEEN -1 AND +5", NULL, "(NOT ((\"a\" >= -1) AND (\"a\" <= 5)))");
        /* every comparison operator; a value on the left is turned around */
        expect_sql(s, "a = 1 AND a <> 2 AND a != 3 AND a < 4 AND a <= 5 AND a > 6 AND a >= 7", NULL,
                   "(\"a\" = 1) AND (\"a\" <> 2) AND (\"a\" <> 3) AND (\"a\" < 4) AND "
                   "(\"a\" <= 5) AND (\"a\" > 6) AND (\"a\" >= 7)");
        expect_sql(s, "5 < a AND 6 >= b", NULL, "(\"a\" > 5) AND (\"b\" <= 6)");
        expect_sql(s, "a IN (1, 2, 3)", NULL, "(\"a\" IN (1, 2, 3))");
        expect_sql(s, "a NOT IN (1, NULL)", NULL, "(NOT (\"a\" IN (1, NULL)))");
        expect_sql(s, "a IS NULL OR f IS NOT TRUE", NULL,
                   "((\"a\" IS NULL) OR (NOT (\"f\" IS TRUE)))");
        expect_sql(s, "a IS NOT NULL AND f IS FALSE", NULL,
                   "(\"a\" IS NOT NULL) AND (\"f\" IS FALSE)");
        expect_sql(s, "(a = 1) IS UNKNOWN", NULL, "((\"a\" = 1) IS UNKNOWN)");
        expect_sql(s, "s LIKE 'x%' AND s NOT LIKE '%y' ESCAPE '!'", NULL,
                   "((\"s\" COLLATE \"C\") LIKE E'x%' ESCAPE E'\\\\') AND "
                   "((\"s\" COLLATE \"C\") NOT LIKE E'%y' ESCAPE E'!')");
        expect_sql(s, "s = 'it''s' AND s < 'a\\b'", NULL,
                   "((\"s\" COLLATE \"C\") = E'it''s') AND ((\"s\" COLLATE \"C\") < E'a\\\\b')");
        /* keywords in any case; quoted names with " and ` */
        expect_sql(s, "\"a\" > 3 aNd `b` >= -2 AnD TRUE", NULL,
                   "(\"a\" > 3) AND (\"b\" >= -2) AND true");
        expect_sql(s, "a > b", NULL, "(\"a\" > \"b\")");
        zetl_schema_unref(s);
}

static void test_literals_sql(void **state)
{
        struct zetl_schema *s = mk_schema(
                "i int32, p decimal, d date, t time, ts timestamp, tz timestamptz, u uuid, "
                "bin bytes, ok boolean, we\"ird string, date int64");

        (void)state;
        /* integers against exact numbers: no double anywhere */
        expect_sql(s, "i < 19.99", NULL, "(\"i\" <= 19)");
        expect_sql(s, "i > -0.5", NULL, "(\"i\" >= 0)");
        expect_sql(s, "i >= 1e2", NULL, "(\"i\" >= 100)");
        expect_sql(s, "i = 2.5", NULL, "(\"i\" IS NULL AND NULL)");
        expect_sql(s, "i <> 2.5", NULL, "(\"i\" IS NOT NULL OR NULL)");
        expect_sql(s, "i < 1e30", NULL, "(\"i\" IS NOT NULL OR NULL)");
        expect_sql(s, "i IN (1.5, 7)", NULL, "(\"i\" IN (7))");
        expect_sql(s, "i = '42'", NULL, "(\"i\" = 42)");
        expect_sql(s, "p < 20 AND p >= -1.50", NULL,
                   "(\"p\" < E'20'::numeric) AND (\"p\" >= E'-1.5'::numeric)");
        expect_sql(s, "p = 'NaN'", NULL, "(\"p\" = E'NaN'::numeric)");
        expect_sql(s, "d >= DATE '2024-01-31' AND d < '2025-01-01'", NULL,
                   "(\"d\" >= '2024-01-31'::date) AND (\"d\" < '2025-01-01'::date)");
        expect_sql(s, "t < TIME '12:30:00.5'", NULL, "(\"t\" < '12:30:00.500000'::time)");
        expect_sql(s, "ts >= TIMESTAMP '2024-06-01 10:00:00'", NULL,
                   "(\"ts\" >= '2024-06-01T10:00:00'::timestamp)");
        expect_sql(s, "ts >= DATE '2024-06-01'", NULL,
                   "(\"ts\" >= '2024-06-01T00:00:00'::timestamp)");
        expect_sql(s, "tz < TIMESTAMPTZ '2024-06-01 02:00:00+02:00'", NULL,
                   "(\"tz\" < '2024-06-01T00:00:00Z'::timestamptz)");
        expect_sql(s, "u = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", NULL,
                   "(\"u\" = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid)");
        expect_sql(s, "u = UUID 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", NULL,
                   "(\"u\" = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid)");
        expect_sql(s, "bin = X'0aFF'", NULL, "(\"bin\" = E'\\\\x0aff'::bytea)");
        expect_sql(s, "ok = 'yes' AND ok", NULL, "(\"ok\" = true) AND \"ok\"");
        expect_sql(s, "\"we\"\"ird\" = ''", NULL, "((\"we\"\"ird\" COLLATE \"C\") = E'')");
        /* a column called date: DATE is a literal only before a string */
        expect_sql(s, "date = 3", NULL, "(\"date\" = 3)");
        zetl_schema_unref(s);
}

static void test_pushdown_limits(void **state)
{
        struct zetl_schema *s = mk_schema("a int64, b int64, s string, x float64, r float32");
        bool ok[5] = { false, true, true, true, true };

        (void)state;
        /* floats and ILIKE stay in zetl; a top-level AND keeps its other parts */
        expect_sql(s, "a = 1 AND x = 1.5", NULL, "(\"a\" = 1)");
        expect_sql(s, "r > 0", NULL, NULL);
        expect_sql(s, "s ILIKE 'x%'", NULL, NULL);
        expect_sql(s, "a = 1 OR s ILIKE 'x%'", NULL, NULL);
        expect_sql(s, "NOT (a = 1 AND x = 2)", NULL, NULL);
        /* columns PostgreSQL may not filter on (not in the replica identity) */
        expect_sql(s, "a = 1 AND b = 2", ok, "(\"b\" = 2)");
        expect_sql(s, "a = 1 OR b = 2", ok, NULL);
        expect_sql(s, "a IS NULL", ok, NULL);
        zetl_schema_unref(s);
}

/* ---- errors ------------------------------------------------------------------------ */

struct perr_case {
        const char *text;
        size_t at;
        const char *msg;
};

static const struct perr_case parse_errors[] = {
        { "", 0, "empty condition" },
        { "   # only a comment", 19, "empty condition" },
        { "a = ", 4, "expected a column or a value, found the end of the condition" },
        { "a = 1 AND", 9, "expected a column or a value, found the end of the condition" },
        { "(a = 1", 6,
          "expected ')' to close the '(' at offset 0, found the end of the condition" },
        { "a = 1)", 5, "expected AND, OR or the end of the condition, found ')'" },
        { "a = 1 b", 6, "expected AND, OR or the end of the condition, found 'b'" },
        { "a == 1", 3, "expected a column or a value, found '='" },
        { "a = 'abc", 4, "unterminated string" },
        { "a = 'ab\nc'", 4, "unterminated string" },
        { "\"a = 1", 0, "unterminated quoted name" },
        { "\"\" = 1", 0, "empty quoted name" },
        { "a IN 1", 5, "expected '(' after IN, found '1'" },
        { "a IN (1 2)", 8, "expected ',' or ')' in the IN list, found '2'" },
        { "a IN ()", 6, "expected a column or a value, found ')'" },
        { "a BETWEEN 1 OR 2", 12, "expected AND in BETWEEN, found 'OR'" },
        { "a IS 5", 5, "expected NULL, TRUE, FALSE or UNKNOWN after IS, found '5'" },
        { "a IS NOT", 8,
          "expected NULL, TRUE, FALSE or UNKNOWN after IS NOT, found the end of the condition" },
        { "a NOT 5", 6, "expected IN, BETWEEN, LIKE or ILIKE after NOT, found '5'" },
        { "a = DATE '2024-02-30'", 9, "bad DATE literal (expected YYYY-MM-DD)" },
        { "a = TIME '25:00:00'", 9, "bad TIME literal (expected HH:MM:SS[.ffffff])" },
        { "a = TIMESTAMP '2024-01-01 10:00:00+02'", 14,
          "TIMESTAMP literal with a time zone: write TIMESTAMPTZ" },
        { "a = TIMESTAMPTZ 'noon'", 16,
          "bad TIMESTAMPTZ literal (expected YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM])" },
        { "a = UUID '1234'", 9, "bad UUID literal (expected 8-4-4-4-12 hex digits)" },
        /* found by fuzz_filter: days * 86400e6 past int64 */
        { "ts <= TIMESTAMP '2022024-01-01'", 16, "timestamp literal out of range" },
        { "a = 1.2.3", 4, "bad number" },
        { "a = 12abc", 4, "bad number" },
        { "a = 1e", 4, "bad number: exponent without digits" },
        { "a ! 1", 2, "unexpected character '!' (for negation write NOT)" },
        { "a = @", 4, "unexpected character '@'" },
        { "a = X'abc'", 4, "X'...' needs an even number of hex digits" },
        { "a = X'zz'", 4, "X'...' holds a character that is not a hex digit" },
        { "a = -x", 4, "expected a number after '-'" },
        { "AND = 1", 0, "expected a column or a value, found keyword 'AND'" },
        { "a = NOT", 4, "expected a column or a value, found keyword 'NOT'" },
        { "(a = 1) = TRUE", 8,
          "a condition in parentheses cannot be compared (use IS TRUE, IS FALSE or IS NULL)" },
        /* the condition ends at a line that is not indented */
        { "a = 1 AND\nb = 2", 9, "expected a column or a value, found the end of the condition" },
};

static void test_parse_errors(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(parse_errors) / sizeof(parse_errors[0]); i++) {
                const struct perr_case *c = &parse_errors[i];
                struct fx_node *n = NULL;
                struct fx_error e = { 0 };

                print_message("parse error case %zu: %s\n", i, c->text);
                assert_int_equal(fx_parse(c->text, 0, NULL, &n, &e), ZETL_EINVAL);
                assert_null(n);
                assert_string_equal(e.msg, c->msg);
                assert_int_equal(e.at, c->at);
        }

        /* nesting is bounded: the 65th '(' is refused where it stands */
        char deep[256] = "";
        for (int i = 0; i < 70; i++)
                strcat(deep, "(");
        strcat(deep, "a = 1");
        struct fx_node *n = NULL;
        struct fx_error e = { 0 };
        assert_int_equal(fx_parse(deep, 0, NULL, &n, &e), ZETL_EINVAL);
        assert_string_equal(e.msg, "condition nested deeper than 64 levels");
        assert_int_equal(e.at, 64);
        /* and so is NOT NOT NOT ... */
        char nots[512] = "";
        for (int i = 0; i < 70; i++)
                strcat(nots, "NOT ");
        strcat(nots, "f");
        assert_int_equal(fx_parse(nots, 0, NULL, &n, &e), ZETL_EINVAL);
        assert_string_equal(e.msg, "condition nested deeper than 64 levels");
        assert_int_equal(e.at, 256);
}

static void test_layout(void **state)
{
        struct fx_node *n = NULL;
        struct fx_error e = { 0 };
        size_t end = 0;
        char *t;

        (void)state;
        /* a newline ends the condition unless the next line is indented */
        const char *one = "a = 1\nb = 2";
        assert_int_equal(fx_parse(one, 0, &end, &n, &e), 0);
        assert_int_equal(end, 5);
        fx_free(n);
        const char *two = "a = 1   # first\n   AND b = 2 # second\n\tOR c = 'x#y'\nnext";
        assert_int_equal(fx_parse(two, 0, &end, &n, &e), 0);
        assert_int_equal(end, strlen(two) - 5);
        /* canonical text: tokens one space apart, comments gone */
        t = fx_text(n, two);
        assert_string_equal(t, "a = 1 AND b = 2 OR c = 'x#y'");
        free(t);
        fx_free(n);
        /* a start offset: positions count from the start of the text */
        const char *off = "rows: x: a = ";
        assert_int_equal(fx_parse(off, 9, &end, &n, &e), ZETL_EINVAL);
        assert_int_equal(e.at, 13);
}

struct cerr_case {
        const char *text;
        size_t at;
        const char *msg;
};

static const struct cerr_case compile_errors[] = {
        { "nope = 1", 0, "no column \"nope\" in shop.public.t" },
        { "\"Name\" = 'x'", 0, "no column \"Name\" in shop.public.t" },
        { "ab = 1", 0,
          "column name ab is ambiguous in shop.public.t: quote it (\"Ab\" or \"AB\")" },
        { "price = 'abc'", 8, "cannot compare column \"price\" (decimal) with 'abc'" },
        { "price = 1e5000", 8,
          "cannot compare column \"price\" (decimal) with 1e5000: number out of range" },
        { "name = 5", 7,
          "cannot compare column \"name\" (string) with 5 (a number: quote it as a string)" },
        { "doc = '{}'", 6, "column \"doc\" (json) can only be tested with IS [NOT] NULL" },
        { "doc IN ('{}')", 0, "column \"doc\" (json) can only be tested with IS [NOT] NULL" },
        { "1 = 1", 0, "a comparison needs a column on one side" },
        { "qty", 0, "column \"qty\" is int32, not a condition (compare it with something)" },
        { "5", 0, "a value alone is not a condition" },
        { "qty LIKE 'x'", 0, "LIKE needs a string column, \"qty\" is int32" },
        { "name ILIKE name", 11, "the pattern of ILIKE must be a string" },
        { "name LIKE 'a\\'", 10, "the pattern ends with its escape character" },
        { "name LIKE 'a' ESCAPE 'xy'", 21, "ESCAPE takes a string of one character" },
        { "qty IN (1, qty)", 11, "IN takes a list of values, not columns" },
        { "name = qty", 0, "cannot compare column \"name\" (string) with column \"qty\" (int32)" },
        { "d = TIME '10:00:00'", 4,
          "cannot compare column \"d\" (date) with TIME '10:00:00' (write DATE 'YYYY-MM-DD')" },
        { "ok = 'maybe'", 5,
          "cannot compare column \"ok\" (boolean) with 'maybe' (write TRUE or FALSE)" },
        { "ts = '2024-01-01 10:00:00Z'", 5,
          "cannot compare column \"ts\" (timestamp) with '2024-01-01 10:00:00Z' (a time zone "
          "for a column without one)" },
        { "u = 'not-a-uuid'", 4, "cannot compare column \"u\" (uuid) with 'not-a-uuid'" },
        { "ts > DATE '2022024-01-01'", 5,
          "cannot compare column \"ts\" (timestamp) with DATE '2022024-01-01': out of range" },
        { "qty = 1 AND price > name", 12,
          "cannot compare column \"price\" (decimal) with column \"name\" (string)" },
};

static void test_compile_errors(void **state)
{
        struct zetl_schema *s = mk_schema("id int64 key, name string, price decimal, qty int32, "
                                          "doc json, d date, ok boolean, ts timestamp, u uuid, Ab "
                                          "int32, AB int32");

        (void)state;
        for (size_t i = 0; i < sizeof(compile_errors) / sizeof(compile_errors[0]); i++) {
                const struct cerr_case *c = &compile_errors[i];
                struct fx_node *n = NULL;
                struct fx_prog *p = NULL;
                struct fx_error e = { 0 };

                print_message("compile error case %zu: %s\n", i, c->text);
                assert_int_equal(fx_parse(c->text, 0, NULL, &n, &e), 0);
                assert_int_equal(fx_compile(n, c->text, s, &p, &e), ZETL_EINVAL);
                assert_null(p);
                assert_string_equal(e.msg, c->msg);
                assert_int_equal(e.at, c->at);
                fx_free(n);
        }
        /* unquoted names find a column whose name differs only in case */
        struct fx_prog *p = compile(s, "NAME = 'x' AND Price < 2");
        assert_true(fx_prog_uses(p, 1));
        assert_true(fx_prog_uses(p, 2));
        assert_false(fx_prog_uses(p, 0));
        fx_prog_free(p);
        zetl_schema_unref(s);
}

/* ---- three-valued logic ------------------------------------------------------------ */

static void test_three_valued(void **state)
{
        struct zetl_schema *s = mk_schema("p boolean, q boolean");
        struct zetl_batch *b = zetl_batch_new(s, 0);
        static const char *const v[3] = { "t", "f", NULL };

        (void)state;
        /* rows: (p, q) = TT TF TN FT FF FN NT NF NN */
        for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                        add_row(b, ZETL_OP_INSERT, 1, (const char *[]){ v[i], v[j] });
        expect_eval(b, "p AND q", "TFNFFFNFN");
        expect_eval(b, "p OR q", "TTTTFNTNN");
        expect_eval(b, "NOT p", "FFFTTTNNN");
        expect_eval(b, "p", "TTTFFFNNN");
        expect_eval(b, "p = q", "TFNFTNNNN");
        expect_eval(b, "p <> q", "FTNTFNNNN");
        expect_eval(b, "p IS TRUE", "TTTFFFFFF");
        expect_eval(b, "p IS NOT FALSE", "TTTFFFTTT");
        expect_eval(b, "p IS NULL", "FFFFFFTTT");
        expect_eval(b, "q IS NOT NULL", "TTFTTFTTF");
        expect_eval(b, "(p AND q) IS UNKNOWN", "FFTFFFTFT");
        expect_eval(b, "(p OR q) IS NOT UNKNOWN", "TTTTTFTFF");
        expect_eval(b, "p AND NULL", "NNNFFFNNN");
        expect_eval(b, "p OR NULL", "TTTNNNNNN");
        expect_eval(b, "p OR TRUE", "TTTTTTTTT");
        expect_eval(b, "NOT (p AND q) OR p", "TTTTTTNTN");
        expect_eval(b, "NULL", "NNNNNNNNN");
        expect_eval(b, "NULL IS NULL", "TTTTTTTTT");
        expect_eval(b, "p = NULL", "NNNNNNNNN");
        zetl_batch_free(b);
        zetl_schema_unref(s);
}

/* A cell that was not sent could be anything: the result is every outcome
 * it could lead to, and a condition that does not depend on it is decided. */
static void test_unchanged_cells(void **state)
{
        struct zetl_schema *s = mk_schema("p boolean, q boolean, n int32");
        struct zetl_batch *b = zetl_batch_new(s, 0);

        (void)state;
        add_row(b, ZETL_OP_UPDATE, 1, (const char *[]){ UNCH, "t", "1" });
        add_row(b, ZETL_OP_UPDATE, 1, (const char *[]){ UNCH, "f", "2" });
        add_row(b, ZETL_OP_UPDATE, 1, (const char *[]){ UNCH, NULL, UNCH });
        expect_eval(b, "p", "AAA");
        expect_eval(b, "p AND q", "AFX");
        expect_eval(b, "p OR q", "TAY");
        expect_eval(b, "q OR p", "TAY");
        expect_eval(b, "p AND FALSE", "FFF");
        expect_eval(b, "p IS NULL", "BBB");
        expect_eval(b, "p IS TRUE AND q", "BFX");
        expect_eval(b, "n = 1", "TFA");
        expect_eval(b, "n = 1 OR p", "TAA");
        zetl_batch_free(b);
        zetl_schema_unref(s);
}

/* ---- every type ------------------------------------------------------------------- */

static void test_types(void **state)
{
        struct zetl_schema *s =
                mk_schema("s16 int16, i32 int32, i64 int64, f32 float32, f64 float64, dec "
                          "decimal, name string, bin bytes, d date, t time, ts timestamp, tz "
                          "timestamptz, u uuid, ok boolean, doc json");
        struct zetl_batch *b = zetl_batch_new(s, 0);

        (void)state;
        add_row(b, ZETL_OP_SNAPSHOT, 0,
                (const char *[]){ "-1", "100000", "9007199254740992", "0.1", "1e301", "19.98",
                                  "apple", "\x01\x02", "2024-01-01", "11:59:59.999999",
                                  "2024-05-31 23:59:59.999999", "2024-05-31 23:59:59Z",
                                  "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "t", "{}" });
        add_row(b, ZETL_OP_INSERT, 1,
                (const char *[]){ "0", "2", "9007199254740993", "0.2", "nan", "19.990", "banana",
                                  "\xff", "2024-12-31", "12:00:00", "2024-06-01 00:00:00",
                                  "2024-06-01 00:00:00Z", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12",
                                  "f", "[1]" });
        add_row(b, ZETL_OP_INSERT, 2,
                (const char *[]){ "7", "1", "-5", "-0.0", "-inf", "20.00", "Banana", "",
                                  "2025-01-01", "00:00:00", "2023-01-01 00:00:00",
                                  "2024-06-01 00:00:01Z", "00000000-0000-0000-0000-000000000000",
                                  "f", "null" });
        add_row(b, ZETL_OP_INSERT, 3,
                (const char *[]){ "5", "-7", "0", "3", "2", "NaN", "\xc3\xa9t\xc3\xa9", "\x01",
                                  "2023-12-31", "23:59:59", "2024-06-01 00:00:00",
                                  "2024-05-31 22:00:00Z", "ffffffff-ffff-ffff-ffff-ffffffffffff",
                                  "t", "1" });
        add_row(b, ZETL_OP_INSERT, 4,
                (const char *[]){ NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                  NULL, NULL, NULL, NULL });
        add_row(b, ZETL_OP_INSERT, 5,
                (const char *[]){ "-32768", "-2147483648", "-9223372036854775808", "inf", "0",
                                  "-Infinity", "", "\x01\x02\x03", "0001-01-01", "24:00:00",
                                  "1970-01-01 00:00:00", "1970-01-01 00:00:00Z",
                                  "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "t", "\"x\"" });

        /* integers: exact, also past 2^53 where a double would round */
        expect_eval(b, "s16 < 0", "TFFFNT");
        expect_eval(b, "s16 BETWEEN 0 AND 5", "FTFTNF");
        expect_eval(b, "i32 >= 100000", "TFFFNF");
        expect_eval(b, "i64 = 9007199254740993", "FTFFNF");
        expect_eval(b, "i64 > 9007199254740992.5", "FTFFNF");
        expect_eval(b, "i64 < -9223372036854775808", "FFFFNF");
        expect_eval(b, "i64 <= -9223372036854775808", "FFFFNT");
        expect_eval(b, "i64 > -1e40", "TTTTNT");
        expect_eval(b, "i32 IN (1, 2.5, 2, 1e20)", "FTTFNF");
        expect_eval(b, "i32 IN (1, NULL)", "NNTNNN");
        expect_eval(b, "i32 NOT IN (1, NULL)", "NNFNNN");
        expect_eval(b, "i32 NOT IN (1, 2)", "TFFTNT");
        /* floats: a float32 column against the float nearest 0.1; NaN on top */
        expect_eval(b, "f32 = 0.1", "TFFFNF");
        expect_eval(b, "f32 = 0", "FFTFNF");
        expect_eval(b, "f32 > 1e38", "FFFFNT");
        expect_eval(b, "f64 > 1e300", "TTFFNF");
        expect_eval(b, "f64 = 'NaN'", "FTFFNF");
        expect_eval(b, "f64 < '-Infinity'", "FFFFNF");
        expect_eval(b, "f64 <= '-Infinity'", "FFTFNF");
        /* decimals: exact as text, trailing zeros do not count, NaN above all */
        expect_eval(b, "dec < 19.99", "TFFFNT");
        expect_eval(b, "dec = 19.99", "FTFFNF");
        expect_eval(b, "dec >= 20", "FFTTNF");
        expect_eval(b, "dec > 1e10", "FFFTNF");
        expect_eval(b, "dec = 'NaN'", "FFFTNF");
        expect_eval(b, "dec IN (20, '-Infinity')", "FFTFNT");
        /* strings: byte order (C collation): 'B' < 'b' < 'é' */
        expect_eval(b, "name >= 'b'", "FTFTNF");
        expect_eval(b, "name = ''", "FFFFNT");
        expect_eval(b, "name LIKE 'b%'", "FTFFNF");
        expect_eval(b, "name LIKE '_anana'", "FTTFNF");
        expect_eval(b, "name LIKE '%an%'", "FTTFNF");
        expect_eval(b, "name LIKE '%'", "TTTTNT");
        expect_eval(b, "name LIKE '_t_'", "FFFTNF");
        expect_eval(b, "name NOT LIKE '%a%'", "FFFTNT");
        expect_eval(b, "name ILIKE 'BAN%'", "FTTFNF");
        expect_eval(b, "name ILIKE '\xc3\x89T\xc3\x89'", "FFFTNF");
        expect_eval(b, "name IN ('apple', 'Banana')", "TFTFNF");
        /* bytes */
        expect_eval(b, "bin = X'0102'", "TFFFNF");
        expect_eval(b, "bin > X'01'", "TTFFNT");
        /* dates and times */
        expect_eval(b, "d BETWEEN DATE '2024-01-01' AND '2024-12-31'", "TTFFNF");
        expect_eval(b, "t < TIME '12:00:00'", "TFTFNF");
        expect_eval(b, "t = '24:00:00'", "FFFFNT");
        expect_eval(b, "ts >= TIMESTAMP '2024-06-01 00:00:00'", "FTFTNF");
        expect_eval(b, "ts >= '2024-06-01'", "FTFTNF");
        expect_eval(b, "tz < TIMESTAMPTZ '2024-06-01 02:00:00+02'", "TFFTNT");
        expect_eval(b, "tz >= DATE '2024-06-01'", "FTTFNF");
        /* uuids: canonical or not, as a typed literal, in a list */
        expect_eval(b, "u = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "TFFFNT");
        expect_eval(b, "u = UUID 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12'", "FTFFNF");
        expect_eval(b, "u > 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "FTFTNF");
        expect_eval(b,
                    "u IN ('00000000-0000-0000-0000-000000000000', "
                    "UUID 'ffffffff-ffff-ffff-ffff-ffffffffffff')",
                    "FFTTNF");
        /* booleans and json */
        expect_eval(b, "ok", "TFFTNT");
        expect_eval(b, "NOT ok", "FTTFNF");
        expect_eval(b, "ok = 'yes'", "TFFTNT");
        expect_eval(b, "ok IS NOT TRUE", "FTTFTF");
        expect_eval(b, "doc IS NULL", "FFFFTF");
        /* two columns */
        expect_eval(b, "s16 < i32", "TTFFNF");
        expect_eval(b, "i64 > dec", "TTFFNT");
        expect_eval(b, "f64 > i32", "TTFTNT");
        zetl_batch_free(b);
        zetl_schema_unref(s);
}

static void test_like_escapes(void **state)
{
        struct zetl_schema *s = mk_schema("name string");
        struct zetl_batch *b = zetl_batch_new(s, 0);

        (void)state;
        add_row(b, ZETL_OP_INSERT, 1, (const char *[]){ "50%" });
        add_row(b, ZETL_OP_INSERT, 1, (const char *[]){ "50x" });
        add_row(b, ZETL_OP_INSERT, 1, (const char *[]){ "a_b" });
        add_row(b, ZETL_OP_INSERT, 1, (const char *[]){ "a\\b" });
        expect_eval(b, "name LIKE '50\\%'", "TFFF");
        expect_eval(b, "name LIKE '50!%' ESCAPE '!'", "TFFF");
        expect_eval(b, "name LIKE '50%' ESCAPE ''", "TTFF");
        expect_eval(b, "name LIKE 'a\\_b'", "FFTF");
        expect_eval(b, "name LIKE 'a\\\\b'", "FFFT");
        expect_eval(b, "name LIKE 'a_b'", "FFTT");
        expect_eval(b, "name LIKE '%%%b'", "FFTT");
        zetl_batch_free(b);
        zetl_schema_unref(s);
}

/* ---- applying filters to batches --------------------------------------------------- */

static struct zetl_filter *mk_filter(const char *file)
{
        struct zetl_filter *f = NULL;
        struct zetl_err err = { 0 };

        if (zetl_filter_parse(NULL, "t.filter", file, ZETL_FILTER_PG, &f, &err))
                fail_msg("%s", err.msg);
        return f;
}

static struct zetl_schema *books_schema(void)
{
        struct zetl_schema *s =
                mk_schema("id int64 key, category string, price decimal, title string");
        struct zetl_table_id id;

        zetl_table_id_set(&id, "shop", "public", "books");
        s->id = id;
        return s;
}

static const char *cell_text(const struct zetl_batch *b, int col, uint32_t r, char *buf)
{
        size_t len;
        const uint8_t *p;

        if (zetl_batch_is_unchanged(b, col, r))
                return "?";
        if (zetl_batch_is_null(b, col, r))
                return "NULL";
        if (b->schema->cols[col].type == ZETL_T_INT64) {
                sprintf(buf, "%lld", (long long)zetl_batch_get_i64(b, col, r));
                return buf;
        }
        p = zetl_batch_get_var(b, col, r, &len);
        sprintf(buf, "%.*s", (int)len, p);
        return buf;
}

/* A batch as "op:pos:cell|cell...[<old key]" lines, to compare whole results. */
static char *dump(const struct zetl_batch *b)
{
        static char out[4096];
        size_t n = 0;
        char buf[128];

        out[0] = '\0';
        for (uint32_t r = 0; b && r < b->nrows; r++) {
                n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s:%llu:", r ? "\n" : "",
                                      zetl_op_name((enum zetl_op)b->ops[r]),
                                      (unsigned long long)b->pos[r]);
                for (int c = 0; c < b->schema->ncols; c++)
                        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", c ? "|" : "",
                                              cell_text(b, c, r, buf));
                int32_t ok = zetl_batch_old_key_row(b, r);
                if (ok >= 0)
                        n += (size_t)snprintf(out + n, sizeof(out) - n, "<%s",
                                              cell_text(b->old, 0, (uint32_t)ok, buf));
        }
        return out;
}

static void add_update(struct zetl_batch *b, uint64_t pos, const char *const *vals,
                       const char *old_id)
{
        struct zetl_err e;

        assert_int_equal(zetl_batch_row_begin(b, ZETL_OP_UPDATE, pos, &e), 0);
        for (int c = 0; c < b->schema->ncols; c++)
                set_cell(b, c, vals[c]);
        if (old_id) {
                assert_int_equal(zetl_batch_old_key_begin(b, &e), 0);
                set_cell(b->old, 0, old_id);
        }
        zetl_batch_row_end(b);
}

static void test_apply_rows(void **state)
{
        struct zetl_filter *f =
                mk_filter("include: shop.public.*\n"
                          "rows: shop.public.books: category = 'mysteries' AND price < 20\n");
        struct zetl_schema *s = books_schema();
        struct zetl_batch *b = zetl_batch_new(s, 0);
        struct zetl_err err = { 0 };
        const struct zetl_schema *sink;

        (void)state;
        assert_true(zetl_filter_transforms(f, &s->id));
        assert_int_equal(zetl_filter_prepare(f, s, &sink, &err), 0);
        assert_ptr_equal(sink, s); /* no column left out: the same shape */
        add_row(b, ZETL_OP_SNAPSHOT, 0, (const char *[]){ "1", "mysteries", "10.00", "A" });
        add_row(b, ZETL_OP_SNAPSHOT, 0, (const char *[]){ "2", "poetry", "5.00", "B" });
        add_row(b, ZETL_OP_INSERT, 10, (const char *[]){ "3", "mysteries", "25.00", "C" });
        add_row(b, ZETL_OP_INSERT, 11, (const char *[]){ "4", "mysteries", NULL, "D" });
        add_update(b, 12, (const char *[]){ "5", "mysteries", "15.00", "E" }, NULL);
        add_update(b, 13, (const char *[]){ "6", "poetry", "15.00", UNCH }, NULL);
        add_update(b, 14, (const char *[]){ "70", "poetry", "1.00", "G" }, "7");
        add_update(b, 15, (const char *[]){ "80", "mysteries", "1.00", UNCH }, "8");
        add_row(b, ZETL_OP_DELETE, 16, (const char *[]){ "9", UNCH, UNCH, UNCH });
        add_update(b, 17, (const char *[]){ "10", "mysteries", "20", "J" }, NULL);

        assert_int_equal(zetl_filter_apply(f, &b, &err), 0);
        assert_non_null(b);
        assert_ptr_equal(b->schema, s);
        /* failing snapshot rows and inserts are dropped; failing updates become
         * deletes of the key the target knows (the old one when it changed);
         * passing updates stay updates; deletes always pass */
        assert_string_equal(dump(b), "snapshot:0:1|mysteries|10.00|A\n"
                                     "update:12:5|mysteries|15.00|E\n"
                                     "delete:13:6|?|?|?\n"
                                     "delete:14:7|?|?|?\n"
                                     "update:15:80|mysteries|1.00|?<8\n"
                                     "delete:16:9|?|?|?\n"
                                     "delete:17:10|?|?|?");
        zetl_batch_free(b);

        /* every row passes: the very same batch comes back */
        b = zetl_batch_new(s, 0);
        add_row(b, ZETL_OP_INSERT, 1, (const char *[]){ "1", "mysteries", "1", "A" });
        struct zetl_batch *same = b;
        assert_int_equal(zetl_filter_apply(f, &b, &err), 0);
        assert_ptr_equal(b, same);
        zetl_batch_free(b);

        /* no row passes: nothing comes back */
        b = zetl_batch_new(s, 0);
        add_row(b, ZETL_OP_INSERT, 1, (const char *[]){ "1", "poetry", "1", "A" });
        assert_int_equal(zetl_filter_apply(f, &b, &err), 0);
        assert_null(b);

        /* another table is not touched */
        struct zetl_schema *o = mk_schema("id int64 key, category string");
        b = zetl_batch_new(o, 0);
        add_row(b, ZETL_OP_INSERT, 1, (const char *[]){ "1", "poetry" });
        same = b;
        assert_int_equal(zetl_filter_apply(f, &b, &err), 0);
        assert_ptr_equal(b, same);
        zetl_batch_free(b);
        zetl_schema_unref(o);
        zetl_schema_unref(s);
        zetl_filter_free(f);
}

/* Several rows: rules for one table must all hold. */
static void test_apply_several_rules(void **state)
{
        struct zetl_filter *f = mk_filter("rows: shop.public.books: price < 20\n"
                                          "rows: shop.public.*: category <> 'poetry'\n"
                                          "rows: shop.public.other: id > 100\n");
        struct zetl_schema *s = books_schema();
        struct zetl_batch *b = zetl_batch_new(s, 0);
        struct zetl_err err = { 0 };

        (void)state;
        add_row(b, ZETL_OP_INSERT, 1, (const char *[]){ "1", "novels", "10", "A" });
        add_row(b, ZETL_OP_INSERT, 2, (const char *[]){ "2", "poetry", "10", "B" });
        add_row(b, ZETL_OP_INSERT, 3, (const char *[]){ "3", "novels", "30", "C" });
        add_row(b, ZETL_OP_INSERT, 4, (const char *[]){ "4", NULL, "10", "D" });
        assert_int_equal(zetl_filter_apply(f, &b, &err), 0);
        assert_string_equal(dump(b), "insert:1:1|novels|10|A");
        zetl_batch_free(b);
        zetl_schema_unref(s);
        zetl_filter_free(f);
}

static void test_apply_unchanged(void **state)
{
        struct zetl_filter *f =
                mk_filter("rows: shop.public.books: price < 20 AND title LIKE 'A%'\n");
        struct zetl_schema *s = books_schema();
        struct zetl_batch *b = zetl_batch_new(s, 0);
        struct zetl_err err = { 0 };

        (void)state;
        /* title unchanged, but price alone decides: it fails, so a delete */
        add_update(b, 5, (const char *[]){ "1", "x", "25", UNCH }, NULL);
        assert_int_equal(zetl_filter_apply(f, &b, &err), 0);
        assert_string_equal(dump(b), "delete:5:1|?|?|?");
        zetl_batch_free(b);

        /* price passes and title was not sent: the row cannot be judged */
        b = zetl_batch_new(s, 0);
        add_update(b, 5, (const char *[]){ "1", "x", "15", "Axe" }, NULL);
        add_update(b, 6, (const char *[]){ "2", "x", "15", UNCH }, NULL);
        assert_int_equal(zetl_filter_apply(f, &b, &err), ZETL_ETABLE);
        assert_null(b);
        assert_non_null(strstr(err.msg, "the row filter of shop.public.books cannot judge an "
                                        "update: column \"title\" arrived unchanged"));
        assert_non_null(strstr(err.msg, "REPLICA IDENTITY FULL"));
        zetl_schema_unref(s);
        zetl_filter_free(f);
}

static void test_apply_columns(void **state)
{
        struct zetl_filter *f = mk_filter("columns: shop.public.books: exclude title, \"price\"\n");
        struct zetl_schema *s = books_schema();
        struct zetl_batch *b = zetl_batch_new(s, 0);
        struct zetl_err err = { 0 };
        const struct zetl_schema *sink;

        (void)state;
        assert_int_equal(zetl_filter_prepare(f, s, &sink, &err), 0);
        assert_ptr_not_equal(sink, s);
        assert_ptr_equal(zetl_filter_sink_schema(f, s), sink);
        assert_int_equal(sink->ncols, 2);
        assert_string_equal(sink->cols[0].name, "id");
        assert_string_equal(sink->cols[1].name, "category");
        assert_int_equal(sink->cols[1].source_id, 2); /* identities kept */
        assert_int_equal(sink->nkeys, 1);
        /* a second prepare finds the same shape */
        const struct zetl_schema *again;
        assert_int_equal(zetl_filter_prepare(f, s, &again, &err), 0);
        assert_ptr_equal(again, sink);

        add_row(b, ZETL_OP_INSERT, 1, (const char *[]){ "1", "a", "1.00", "T1" });
        add_update(b, 2, (const char *[]){ "20", "b", NULL, UNCH }, "2");
        uint8_t *cat_data = b->cols[1].data;
        assert_int_equal(zetl_filter_apply(f, &b, &err), 0);
        assert_ptr_equal(b->schema, sink);
        assert_ptr_equal(b->cols[1].data, cat_data); /* moved, not copied */
        assert_ptr_equal(b->old->schema, sink);
        assert_string_equal(dump(b), "insert:1:1|a\nupdate:2:20|b<2");
        zetl_batch_free(b);
        zetl_schema_unref(s);
        zetl_filter_free(f);

        /* with a row filter too: rows rebuilt in the sink's shape */
        f = mk_filter("columns: shop.public.books: include id, price\n"
                      "rows: shop.public.books: title <> 'secret'\n");
        s = books_schema();
        b = zetl_batch_new(s, 0);
        add_row(b, ZETL_OP_INSERT, 1, (const char *[]){ "1", "a", "1.00", "secret" });
        add_row(b, ZETL_OP_INSERT, 2, (const char *[]){ "2", "b", "2.00", "open" });
        add_update(b, 3, (const char *[]){ "3", "c", "3.00", "secret" }, NULL);
        assert_int_equal(zetl_filter_apply(f, &b, &err), 0);
        assert_int_equal(b->schema->ncols, 2);
        assert_string_equal(b->schema->cols[1].name, "price");
        assert_string_equal(dump(b), "insert:2:2|2.00\ndelete:3:3|?");
        zetl_batch_free(b);
        zetl_schema_unref(s);
        zetl_filter_free(f);
}

static void test_check_schema(void **state)
{
        struct zetl_schema *s = books_schema();
        struct zetl_err err = { 0 };
        struct zetl_filter *f;
        const struct zetl_schema *sink;

        (void)state;
        /* a key column cannot be left out, named or by an include list */
        f = mk_filter("# pii\ncolumns: shop.public.books: exclude title, id\n");
        assert_int_equal(zetl_filter_check_schema(f, s, &err), ZETL_EINVAL);
        assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
        assert_string_equal(err.msg, "t.filter:2:44: column \"id\" is part of the primary key of "
                                     "shop.public.books and cannot be left out");
        /* at run time the same problem puts the table into needs_attention */
        assert_int_equal(zetl_filter_prepare(f, s, &sink, &err), ZETL_ETABLE);
        assert_string_equal(err.msg, "t.filter:2:44: column \"id\" is part of the primary key of "
                                     "shop.public.books and cannot be left out");
        struct zetl_batch *b = zetl_batch_new(s, 0);
        add_row(b, ZETL_OP_INSERT, 1, (const char *[]){ "1", "a", "1", "x" });
        assert_int_equal(zetl_filter_apply(f, &b, &err), ZETL_ETABLE);
        assert_null(b);
        zetl_filter_free(f);

        f = mk_filter("columns: shop.public.books: include title\n");
        assert_int_equal(zetl_filter_check_schema(f, s, &err), ZETL_EINVAL);
        assert_string_equal(err.msg, "t.filter:1:37: column \"id\" is part of the primary key of "
                                     "shop.public.books and cannot be left out");
        zetl_filter_free(f);

        /* a column that is not there: an error when checking, a warning at run time */
        f = mk_filter("columns: shop.public.books: exclude email\n");
        assert_int_equal(zetl_filter_check_schema(f, s, &err), ZETL_EINVAL);
        assert_string_equal(err.msg, "t.filter:1:37: no column \"email\" in shop.public.books");
        assert_int_equal(zetl_filter_prepare(f, s, &sink, &err), 0);
        assert_ptr_equal(sink, s);
        zetl_filter_free(f);

        /* row filter errors name the file, line and column */
        f = mk_filter("include: shop.*.*\n\nrows: shop.public.books:\n    price < 'cheap'\n");
        assert_int_equal(zetl_filter_check_schema(f, s, &err), ZETL_EINVAL);
        assert_string_equal(err.msg, "t.filter:4:13: cannot compare column \"price\" (decimal) "
                                     "with 'cheap'");
        assert_int_equal(zetl_filter_prepare(f, s, &sink, &err), ZETL_ETABLE);
        assert_int_equal(err.cls, ZETL_ERRC_FATAL);
        zetl_filter_free(f);

        /* fine filters check fine; other tables are not concerned */
        f = mk_filter("rows: shop.public.books: price < 20\ncolumns: shop.public.books: "
                      "exclude title\nrows: shop.public.other: nope = 1\n");
        assert_int_equal(zetl_filter_check_schema(f, s, &err), 0);
        zetl_filter_free(f);
        zetl_schema_unref(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_precedence),      cmocka_unit_test(test_literals_sql),
                cmocka_unit_test(test_pushdown_limits), cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_layout),          cmocka_unit_test(test_compile_errors),
                cmocka_unit_test(test_three_valued),    cmocka_unit_test(test_unchanged_cells),
                cmocka_unit_test(test_types),           cmocka_unit_test(test_like_escapes),
                cmocka_unit_test(test_apply_rows),      cmocka_unit_test(test_apply_several_rules),
                cmocka_unit_test(test_apply_unchanged), cmocka_unit_test(test_apply_columns),
                cmocka_unit_test(test_check_schema),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
