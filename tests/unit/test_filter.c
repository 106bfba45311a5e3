/*
 * Table filters (src/filter.c): AWS Zero-ETL's include/exclude patterns. A
 * table of filters, each probed with tables and the decision AWS's rules give
 * (in order, last match wins, excluded by default once a pattern exists),
 * then the errors with their exact positions, the limits, and filter files
 * with their rows: and columns: rules; and the comparisons modify-integration
 * makes between an old and a new filter. (Row conditions themselves are
 * tested in test_filter_expr.c.)
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zetl/filter.h"

static void set_id(struct zetl_table_id *id, const char *db, const char *schema, const char *table)
{
        assert_int_equal(zetl_table_id_set(id, db, schema, table), 0);
}

static bool passes(const struct zetl_filter *f, const char *db, const char *schema,
                   const char *table)
{
        struct zetl_table_id id;

        set_id(&id, db, schema, table);
        return zetl_filter_table(f, &id);
}

/* ---- decisions ------------------------------------------------------------ */

struct probe {
        const char *db, *schema, *table;
        bool in;
};

struct filter_case {
        const char *text;
        enum zetl_filter_dialect d;
        int npatterns;
        struct probe probes[8]; /* ends at db == NULL */
};

#define PG  ZETL_FILTER_PG
#define MY  ZETL_FILTER_MYSQL
#define ANY ZETL_FILTER_ANY

static const struct filter_case cases[] = {
        /* no filter: everything */
        { NULL, PG, 0, { { "a", "public", "t", true }, { "x", "y", "z", true } } },
        { "", PG, 0, { { "a", "public", "t", true } } },
        { "   ", MY, 0, { { "a", "", "t", true } } },
        { "include: *.*.*", PG, 1, { { "a", "public", "t", true }, { "x", "y", "z", true } } },
        /* one pattern: the rest is excluded */
        { "include: shop.public.orders",
          PG,
          1,
          { { "shop", "public", "orders", true },
            { "shop", "public", "items", false },
            { "shop", "sales", "orders", false },
            { "crm", "public", "orders", false } } },
        { "exclude: *.*.*", PG, 1, { { "a", "public", "t", false } } },
        /* only excludes: nothing is included (start state "excluded") */
        { "exclude: shop.public.audit",
          PG,
          1,
          { { "shop", "public", "audit", false }, { "shop", "public", "orders", false } } },
        /* order matters: the last match wins */
        { "include: shop.*.*, exclude: shop.public.secret",
          PG,
          2,
          { { "shop", "public", "t", true },
            { "shop", "public", "secret", false },
            { "shop", "other", "secret", true },
            { "crm", "public", "t", false } } },
        { "exclude: shop.public.secret, include: shop.*.*",
          PG,
          2,
          { { "shop", "public", "secret", true },
            { "shop", "x", "y", true },
            { "crm", "a", "b", false } } },
        { "include: shop.*.*, exclude: shop.public.*, include: shop.public.orders",
          PG,
          3,
          { { "shop", "public", "orders", true },
            { "shop", "public", "items", false },
            { "shop", "sales", "items", true } } },
        /* wildcards per part */
        { "include: *.public.orders",
          PG,
          1,
          { { "a", "public", "orders", true },
            { "b", "public", "orders", true },
            { "a", "other", "orders", false },
            { "a", "public", "order", false } } },
        { "include: shop.*.orders",
          PG,
          1,
          { { "shop", "s1", "orders", true },
            { "shop", "s2", "orders", true },
            { "shop", "s1", "items", false } } },
        { "include: shop.public.*",
          PG,
          1,
          { { "shop", "public", "anything", true }, { "shop", "publicx", "a", false } } },
        /* regex per part, anchored to the whole name */
        { "include: shop./sales_[0-9]+/.*",
          PG,
          1,
          { { "shop", "sales_2024", "x", true },
            { "shop", "sales_", "x", false },
            { "shop", "xsales_1", "x", false },
            { "shop", "sales_1x", "x", false } } },
        { "include: shop.public./abc/",
          PG,
          1,
          { { "shop", "public", "abc", true },
            { "shop", "public", "xabcx", false },
            { "shop", "public", "abcx", false },
            { "shop", "public", "xabc", false } } },
        /* alternation stays inside the anchors */
        { "include: shop.public./a|b/",
          PG,
          1,
          { { "shop", "public", "a", true },
            { "shop", "public", "b", true },
            { "shop", "public", "ab", false },
            { "shop", "public", "xb", false } } },
        /* escaped '/' and a regex holding dots, commas and spaces */
        { "include: shop.public./x\\/y/, include: shop.public./p.q, r/",
          PG,
          2,
          { { "shop", "public", "x/y", true },
            { "shop", "public", "p!q, r", true },
            { "shop", "public", "xy", false } } },
        /* regex in a MySQL database part is allowed */
        { "include: /db[0-9]/./t.*/",
          MY,
          1,
          { { "db1", "", "tab", true },
            { "db12", "", "tab", false },
            { "db1", "", "xt", false } } },
        /* quoting: each kind, dots, commas and spaces inside names */
        { "include: \"my.db\".'sch,ema'.`t b`",
          PG,
          1,
          { { "my.db", "sch,ema", "t b", true }, { "my", "db", "t b", false } } },
        { "include: db.public.\"a\"\"b\", include: db.public.'it''s', include: db.public.`x``y`",
          PG,
          3,
          { { "db", "public", "a\"b", true },
            { "db", "public", "it's", true },
            { "db", "public", "x`y", true },
            { "db", "public", "ab", false } } },
        /* a quoted '*' is a literal */
        { "include: db.public.\"*\"",
          PG,
          1,
          { { "db", "public", "*", true }, { "db", "public", "x", false } } },
        /* names are case-sensitive; keywords are not */
        { "include: Shop.Public.Orders",
          PG,
          1,
          { { "Shop", "Public", "Orders", true }, { "shop", "public", "orders", false } } },
        { "INCLUDE: a.b.c, Exclude: a.b.d, iNcLuDe: a.b.e",
          PG,
          3,
          { { "a", "b", "c", true }, { "a", "b", "d", false }, { "a", "b", "e", true } } },
        /* regex is case-sensitive too */
        { "include: a.b./ord.*/",
          PG,
          1,
          { { "a", "b", "orders", true }, { "a", "b", "Orders", false } } },
        /* MySQL's two parts */
        { "include: shop.*, exclude: shop.tmp_log",
          MY,
          2,
          { { "shop", "", "orders", true },
            { "shop", "", "tmp_log", false },
            { "other", "", "orders", false } } },
        /* mixed dialect: two parts name schema-less tables only */
        { "include: shop.orders, include: pg.public.*",
          ANY,
          2,
          { { "shop", "", "orders", true },
            { "pg", "public", "x", true },
            { "shop", "public", "orders", false } } },
        /* whitespace around tokens, '$', digits and UTF-8 in names */
        { "  include :   a.b.c  ,exclude:a.b.d  ,\n include:\tcafé.public.t$1_2  ",
          PG,
          3,
          { { "a", "b", "c", true },
            { "a", "b", "d", false },
            { "café", "public", "t$1_2", true } } },
};

static void test_decisions(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct filter_case *c = &cases[i];
                struct zetl_filter *f = NULL;
                struct zetl_err err = { 0 };

                print_message("filter %s\n", c->text ? c->text : "(none)");
                assert_int_equal(zetl_filter_parse(c->text, NULL, NULL, c->d, &f, &err), 0);
                assert_non_null(f);
                assert_int_equal(zetl_filter_npatterns(f), c->npatterns);
                for (int k = 0; k < 8 && c->probes[k].db; k++) {
                        const struct probe *p = &c->probes[k];

                        print_message("  %s.%s.%s -> %d\n", p->db, p->schema, p->table, p->in);
                        assert_int_equal(passes(f, p->db, p->schema, p->table), p->in);
                }
                zetl_filter_free(f);
        }
}

static void test_no_filter(void **state)
{
        struct zetl_filter *f = NULL;
        struct zetl_err err = { 0 };
        struct zetl_table_id id;

        (void)state;
        assert_int_equal(zetl_filter_parse(NULL, NULL, NULL, ZETL_FILTER_PG, &f, &err), 0);
        assert_non_null(f);
        assert_int_equal(zetl_filter_npatterns(f), 0);
        set_id(&id, "any", "thing", "goes");
        assert_true(zetl_filter_table(f, &id));
        assert_false(zetl_filter_transforms(f, &id));
        assert_int_equal(zetl_filter_check_schema(f, NULL, &err), 0);
        zetl_filter_free(f);
        zetl_filter_free(NULL);
}

/* ---- errors ----------------------------------------------------------------- */

struct error_case {
        const char *text;
        enum zetl_filter_dialect d;
        const char *msg;
};

static const struct error_case errors[] = {
        { "inclde: a.b.c", PG, "--data-filter:1:1: expected 'include:' or 'exclude:'" },
        { "include a.b.c", PG, "--data-filter:1:1: expected 'include:' or 'exclude:'" },
        { "includes: a.b.c", PG, "--data-filter:1:1: expected 'include:' or 'exclude:'" },
        { ", include: a.b.c", PG, "--data-filter:1:1: expected 'include:' or 'exclude:'" },
        { "a.b.c", PG, "--data-filter:1:1: expected 'include:' or 'exclude:'" },
        { "  include: a.b.c, ", PG, "--data-filter:1:19: expected 'include:' or 'exclude:'" },
        { "include: a.b.c,, include: d.e.f", PG,
          "--data-filter:1:16: expected 'include:' or 'exclude:'" },
        { "include: a.b", PG,
          "--data-filter:1:10: pattern needs 3 parts (database.schema.table), got 2" },
        { "include: a.b.c, exclude: x.y", PG,
          "--data-filter:1:26: pattern needs 3 parts (database.schema.table), got 2" },
        { "include: a.b.c.d", PG,
          "--data-filter:1:10: pattern needs 3 parts (database.schema.table), got 4" },
        { "include: a.b.c", MY,
          "--data-filter:1:10: pattern needs 2 parts (database.table), got 3" },
        { "include:   a", MY, "--data-filter:1:12: pattern needs 2 parts (database.table), got 1" },
        { "include: a", ANY,
          "--data-filter:1:10: pattern needs 2 or 3 parts (database.table or "
          "database.schema.table), got 1" },
        { "include: a.b.c.d", ANY,
          "--data-filter:1:10: pattern needs 2 or 3 parts (database.table or "
          "database.schema.table), got 4" },
        { "include: /d.*/.b.c", PG, "--data-filter:1:10: regex not allowed in the database part" },
        { "include: x.y.z, exclude: /d/.b.c", PG,
          "--data-filter:1:26: regex not allowed in the database part" },
        { "include: a.b.\"c", PG, "--data-filter:1:14: unterminated quote" },
        { "include: a.'b''.c", PG, "--data-filter:1:12: unterminated quote" },
        { "include: a.b.`c, exclude: d.e.f", PG, "--data-filter:1:14: unterminated quote" },
        { "include: a.b./abc", PG, "--data-filter:1:14: unterminated regex" },
        { "include: a.b.//", PG, "--data-filter:1:14: empty regex" },
        { "include: a.b./(a)\\1/", PG,
          "--data-filter:1:14: bad regex /(a)\\1/: backreferences are not supported" },
        /* a regex that only the anchoring group would make valid */
        { "include: a.b./a)|(b/", PG, NULL },
        { "include: a..c", PG, "--data-filter:1:12: empty name" },
        { "include: .b.c", PG, "--data-filter:1:10: empty name" },
        { "include: a.b.", PG, "--data-filter:1:14: empty name" },
        { "include: a.b.''", PG, "--data-filter:1:14: empty name" },
        { "include: ", PG, "--data-filter:1:10: empty name" },
        { "include: a.b.c*", PG, "--data-filter:1:15: unexpected character '*'" },
        { "include: a.b.ta*", PG, "--data-filter:1:16: unexpected character '*'" },
        { "include: a.b.t-x", PG, "--data-filter:1:15: unexpected character '-'" },
        { "include: a.b.@", PG, "--data-filter:1:14: unexpected character '@'" },
        { "include: a.b.c exclude: a.b.d", PG,
          "--data-filter:1:16: expected ',' after the pattern" },
        /* a newline in --data-filter is whitespace, and positions follow lines */
        { "include: a.b.c,\nexclude: a.b", PG,
          "--data-filter:2:10: pattern needs 3 parts (database.schema.table), got 2" },
};

static void test_errors(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
                const struct error_case *c = &errors[i];
                struct zetl_filter *f = (struct zetl_filter *)&f; /* must be reset */
                struct zetl_err err = { 0 };

                print_message("bad filter %s\n", c->text);
                assert_int_equal(zetl_filter_parse(c->text, NULL, NULL, c->d, &f, &err),
                                 ZETL_EINVAL);
                assert_null(f);
                assert_int_equal(err.code, ZETL_EINVAL);
                assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
                if (c->msg)
                        assert_string_equal(err.msg, c->msg);
        }
}

/* The reason after the position is regerror's own text for the user's regex. */
static void test_bad_regex(void **state)
{
        struct zetl_filter *f = NULL;
        struct zetl_err err = { 0 };
        char want[ZETL_ERR_MSG_MAX];
        char reason[128];
        regex_t re;
        int rc;

        (void)state;
        rc = regcomp(&re, "x(", REG_EXTENDED | REG_NOSUB);
        assert_int_not_equal(rc, 0);
        regerror(rc, &re, reason, sizeof(reason));
        snprintf(want, sizeof(want), "--data-filter:1:14: bad regex /x(/: %s", reason);
        assert_int_equal(
                zetl_filter_parse("include: a.b./x(/", NULL, NULL, ZETL_FILTER_PG, &f, &err),
                ZETL_EINVAL);
        assert_string_equal(err.msg, want);

        rc = regcomp(&re, "a)|(b", REG_EXTENDED | REG_NOSUB);
        assert_int_not_equal(rc, 0);
        regerror(rc, &re, reason, sizeof(reason));
        snprintf(want, sizeof(want), "--data-filter:1:14: bad regex /a)|(b/: %s", reason);
        assert_int_equal(
                zetl_filter_parse("include: a.b./a)|(b/", NULL, NULL, ZETL_FILTER_PG, &f, &err),
                ZETL_EINVAL);
        assert_string_equal(err.msg, want);
}

/* ---- limits ----------------------------------------------------------------- */

/* "include: d.s.t1, include: d.s.t2, ..." with n patterns; *last_at is the
 * 1-based column of the last "include". */
static char *many_patterns(int n, const char *sep, size_t *last_at)
{
        char *s = malloc((size_t)n * 32 + 1);
        size_t len = 0;

        assert_non_null(s);
        for (int i = 1; i <= n; i++) {
                if (i > 1)
                        len += (size_t)sprintf(s + len, "%s", sep);
                *last_at = len + 1;
                len += (size_t)sprintf(s + len, "include: d.s.t%d", i);
        }
        s[len] = '\0';
        return s;
}

static void test_pattern_count(void **state)
{
        struct zetl_filter *f = NULL;
        struct zetl_err err = { 0 };
        size_t at;
        char want[128];
        char *text;

        (void)state;
        text = many_patterns(99, ", ", &at);
        assert_int_equal(zetl_filter_parse(text, NULL, NULL, ZETL_FILTER_PG, &f, &err), 0);
        assert_int_equal(zetl_filter_npatterns(f), 99);
        assert_true(passes(f, "d", "s", "t99"));
        assert_true(passes(f, "d", "s", "t1"));
        assert_false(passes(f, "d", "s", "t100"));
        zetl_filter_free(f);
        free(text);

        text = many_patterns(100, ", ", &at);
        assert_int_equal(zetl_filter_parse(text, NULL, NULL, ZETL_FILTER_PG, &f, &err),
                         ZETL_EINVAL);
        snprintf(want, sizeof(want), "--data-filter:1:%zu: pattern 100: too many patterns (max 99)",
                 at);
        assert_string_equal(err.msg, want);
        free(text);

        /* the limit counts --data-filter and the file together */
        char *cmd = many_patterns(50, ", ", &at);
        char *file = many_patterns(50, "\n", &at);

        assert_int_equal(zetl_filter_parse(cmd, "f.filter", file, ZETL_FILTER_PG, &f, &err),
                         ZETL_EINVAL);
        assert_string_equal(err.msg, "f.filter:50:1: pattern 100: too many patterns (max 99)");
        free(cmd);
        free(file);
}

static void test_pattern_length(void **state)
{
        char text[2048];
        char name[1024];
        struct zetl_filter *f = NULL;
        struct zetl_err err = { 0 };

        (void)state;
        /* "d.s." + 252 letters = 256 characters: accepted */
        memset(name, 'x', 252);
        name[252] = '\0';
        snprintf(text, sizeof(text), "include: d.s.%s", name);
        assert_int_equal(zetl_filter_parse(text, NULL, NULL, ZETL_FILTER_PG, &f, &err), 0);
        assert_true(passes(f, "d", "s", name));
        zetl_filter_free(f);

        /* 257: refused, naming the pattern */
        snprintf(text, sizeof(text), "include: a.b.c, include: d.s.%sx", name);
        assert_int_equal(zetl_filter_parse(text, NULL, NULL, ZETL_FILTER_PG, &f, &err),
                         ZETL_EINVAL);
        assert_string_equal(err.msg,
                            "--data-filter:1:26: pattern 2: pattern longer than 256 characters");

        /* characters, not bytes: 252 two-byte 'é' still make 256 characters */
        name[0] = '\0';
        for (int i = 0; i < 252; i++)
                strcat(name, "\xc3\xa9");
        snprintf(text, sizeof(text), "include: d.s.%s", name);
        assert_int_equal(zetl_filter_parse(text, NULL, NULL, ZETL_FILTER_PG, &f, &err), 0);
        zetl_filter_free(f);
        snprintf(text, sizeof(text), "include: d.s.%s\xc3\xa9", name);
        assert_int_equal(zetl_filter_parse(text, NULL, NULL, ZETL_FILTER_PG, &f, &err),
                         ZETL_EINVAL);
        assert_string_equal(err.msg,
                            "--data-filter:1:10: pattern 1: pattern longer than 256 characters");

        /* quotes count: they are part of the pattern as written */
        memset(name, 'x', 250);
        name[250] = '\0';
        snprintf(text, sizeof(text), "include: d.s.\"%s\"", name);
        assert_int_equal(zetl_filter_parse(text, NULL, NULL, ZETL_FILTER_PG, &f, &err), 0);
        zetl_filter_free(f);
        snprintf(text, sizeof(text), "include: d.s.\"%sx\"", name);
        assert_int_equal(zetl_filter_parse(text, NULL, NULL, ZETL_FILTER_PG, &f, &err),
                         ZETL_EINVAL);
}

/* ---- filter files ------------------------------------------------------------ */

static void test_file(void **state)
{
        const char *file = "# tables for analytics\n"
                           "include: shop.public.*\n"
                           "\n"
                           "   # an indented comment\n"
                           "\t\n"
                           "exclude: shop.public.audit_log   # a trailing comment\n"
                           "include: shop.public.\"audit#log\"  # '#' quoted is a name\n"
                           "EXCLUDE: shop.public.tmp#no space before the comment\n";
        struct zetl_filter *f = NULL;
        struct zetl_err err = { 0 };

        (void)state;
        assert_int_equal(zetl_filter_parse("include: crm.public.accounts", "f.filter", file,
                                           ZETL_FILTER_PG, &f, &err),
                         0);
        assert_int_equal(zetl_filter_npatterns(f), 5);
        assert_true(passes(f, "crm", "public", "accounts"));
        assert_false(passes(f, "crm", "public", "leads"));
        assert_true(passes(f, "shop", "public", "orders"));
        assert_false(passes(f, "shop", "public", "audit_log"));
        assert_true(passes(f, "shop", "public", "audit#log"));
        assert_false(passes(f, "shop", "public", "tmp"));
        zetl_filter_free(f);

        /* --data-filter first, then the file: the file's later patterns win */
        assert_int_equal(zetl_filter_parse("exclude: shop.public.orders", "f",
                                           "include: shop.*.*\n", ZETL_FILTER_PG, &f, &err),
                         0);
        assert_true(passes(f, "shop", "public", "orders"));
        zetl_filter_free(f);
        assert_int_equal(zetl_filter_parse("include: shop.*.*", "f", "exclude: shop.public.orders",
                                           ZETL_FILTER_PG, &f, &err),
                         0);
        assert_false(passes(f, "shop", "public", "orders"));
        assert_true(passes(f, "shop", "public", "items"));
        zetl_filter_free(f);

        /* CRLF lines, no final newline, file alone, MySQL */
        assert_int_equal(zetl_filter_parse(NULL, "f",
                                           "include: a.b\r\nexclude: a.c\r\ninclude: x.y",
                                           ZETL_FILTER_MYSQL, &f, &err),
                         0);
        assert_int_equal(zetl_filter_npatterns(f), 3);
        assert_true(passes(f, "a", "", "b"));
        assert_false(passes(f, "a", "", "c"));
        assert_true(passes(f, "x", "", "y"));
        zetl_filter_free(f);

        /* comments and blank lines only: no pattern, everything included */
        assert_int_equal(
                zetl_filter_parse(NULL, "f", "# nothing yet\n\n", ZETL_FILTER_PG, &f, &err), 0);
        assert_int_equal(zetl_filter_npatterns(f), 0);
        assert_true(passes(f, "a", "b", "c"));
        zetl_filter_free(f);
}

static const struct error_case file_errors[] = {
        { "include: a.b.c\n\n  bogus line\n", PG,
          "f.conf:3:3: expected 'include:', 'exclude:', 'rows:' or 'columns:'" },
        { "where shop.public.orders: id > 5\n", PG,
          "f.conf:1:1: expected 'include:', 'exclude:', 'rows:' or 'columns:'" },
        { "include: a.b.c, exclude: d.e.f\n", PG, "f.conf:1:15: one pattern per line" },
        { "include: a.b.c  exclude: d.e.f\n", PG,
          "f.conf:1:17: expected end of line after the pattern" },
        { "# c\ninclude: a.b.\"c\n\"\n", PG, "f.conf:2:14: unterminated quote" },
        { "# c\ninclude: a.b./c\n/\n", PG, "f.conf:2:14: unterminated regex" },
        { "include: a.b.c\n  include: a.b\n", PG,
          "f.conf:2:12: pattern needs 3 parts (database.schema.table), got 2" },
        { "include: a.b.c\ninclude: /x/.b.c\n", PG,
          "f.conf:2:10: regex not allowed in the database part" },
        { "include:\nshop.public.t\n", PG, "f.conf:1:9: empty name" },
        { "include: a.b.c,\n", PG, "f.conf:1:15: one pattern per line" },
};

static void test_file_errors(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(file_errors) / sizeof(file_errors[0]); i++) {
                const struct error_case *c = &file_errors[i];
                struct zetl_filter *f = NULL;
                struct zetl_err err = { 0 };

                print_message("bad file case %zu\n", i);
                assert_int_equal(zetl_filter_parse(NULL, "f.conf", c->text, c->d, &f, &err),
                                 ZETL_EINVAL);
                assert_null(f);
                assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
                assert_string_equal(err.msg, c->msg);
        }

        /* an error in --data-filter is reported before the file is read */
        struct zetl_filter *f = NULL;
        struct zetl_err err = { 0 };

        assert_int_equal(
                zetl_filter_parse("include: a", "f.conf", "bogus", ZETL_FILTER_PG, &f, &err),
                ZETL_EINVAL);
        assert_string_equal(err.msg,
                            "--data-filter:1:10: pattern needs 3 parts (database.schema.table), "
                            "got 1");
        /* no file name given */
        assert_int_equal(zetl_filter_parse(NULL, NULL, "bogus", ZETL_FILTER_PG, &f, &err),
                         ZETL_EINVAL);
        assert_string_equal(err.msg, "filter file:1:1: expected 'include:', 'exclude:', 'rows:' or "
                                     "'columns:'");
        /* --data-filter takes table patterns only */
        assert_int_equal(zetl_filter_parse("include: a.b.c, rows: a.b.c: x = 1", NULL, NULL,
                                           ZETL_FILTER_PG, &f, &err),
                         ZETL_EINVAL);
        assert_string_equal(err.msg, "--data-filter:1:17: row and column filters belong in a "
                                     "filter file (--filter-file)");
}

/* ---- rows: and columns: -------------------------------------------------------- */

static struct zetl_schema *mk_books(const char *db, const char *schema)
{
        struct zetl_table_id id;
        struct zetl_schema *s;
        static const char *const names[] = { "id", "title", "price", "Email" };
        static const enum zetl_type types[] = { ZETL_T_INT64, ZETL_T_STRING, ZETL_T_DECIMAL,
                                                ZETL_T_STRING };

        set_id(&id, db, schema, "books");
        s = zetl_schema_new(&id, 4);
        for (int i = 0; i < 4; i++) {
                struct zetl_column c = {
                        .name = (char *)names[i], .type = types[i], .key_pos = i == 0, .scale = -1
                };
                assert_int_equal(zetl_schema_set_col(s, i, &c), 0);
        }
        assert_int_equal(zetl_schema_finish(s, NULL), 0);
        return s;
}

static char *rules_of(const struct zetl_filter *f, const char *db, const char *schema,
                      const char *table)
{
        struct zetl_table_id id;
        char *out = NULL;

        set_id(&id, db, schema, table);
        assert_int_equal(zetl_filter_table_rules(f, &id, &out), 0);
        return out;
}

static void test_rules(void **state)
{
        const char *file = "include: shop.*.*\n"
                           "rows: shop.public.books: price < 20   # cheap ones\n"
                           "ROWS : shop.*./b.*/ :\n"
                           "    title LIKE 'A%'\n"
                           "\tOR title IS NULL  # continued on indented lines\n"
                           "columns: shop.public.books: exclude Email, \"title\"\n"
                           "Columns: shop.public.`odd name`: include id,`x y` , 'z'\n"
                           "exclude: shop.public.secret\n";
        struct zetl_filter *f = NULL;
        struct zetl_err err = { 0 };
        struct zetl_table_id id;
        char *t;

        (void)state;
        assert_int_equal(zetl_filter_parse(NULL, "f", file, ZETL_FILTER_PG, &f, &err), 0);
        assert_int_equal(zetl_filter_npatterns(f), 2);
        assert_true(passes(f, "shop", "public", "books"));
        assert_false(passes(f, "shop", "public", "secret"));
        set_id(&id, "shop", "public", "books");
        assert_true(zetl_filter_transforms(f, &id));
        set_id(&id, "shop", "public", "orders");
        assert_false(zetl_filter_transforms(f, &id));
        set_id(&id, "shop", "sales", "boxes");
        assert_true(zetl_filter_transforms(f, &id));
        /* the rules of a table, canonical: comments and layout do not count */
        t = rules_of(f, "shop", "public", "books");
        assert_string_equal(t, "rows: price < 20\n"
                               "rows: title LIKE 'A%' OR title IS NULL\n"
                               "columns: exclude Email, \"title\"\n");
        free(t);
        t = rules_of(f, "shop", "public", "odd name");
        assert_string_equal(t, "columns: include id, \"x y\", \"z\"\n");
        free(t);
        t = rules_of(f, "shop", "public", "orders");
        assert_string_equal(t, "");
        free(t);

        /* checked against the table's schema: names match ignoring case unless quoted */
        struct zetl_schema *s = mk_books("shop", "public");
        assert_int_equal(zetl_filter_check_schema(f, s, &err), 0);
        const struct zetl_schema *sink;
        assert_int_equal(zetl_filter_prepare(f, s, &sink, &err), 0);
        assert_int_equal(sink->ncols, 2);
        assert_string_equal(sink->cols[1].name, "price");
        zetl_schema_unref(s);
        zetl_filter_free(f);

        /* MySQL: two-part patterns */
        assert_int_equal(zetl_filter_parse(NULL, "f",
                                           "rows: shop.books: price < 20\n"
                                           "columns: shop.*: exclude email\n",
                                           ZETL_FILTER_MYSQL, &f, &err),
                         0);
        t = rules_of(f, "shop", "", "books");
        assert_string_equal(t, "rows: price < 20\ncolumns: exclude email\n");
        free(t);
        zetl_filter_free(f);
}

/* What a PostgreSQL publication gets: the pushable part of the row filter
 * over the columns allowed, and a column list that keeps what zetl needs. */
static void test_pg_pushdown(void **state)
{
        struct zetl_filter *f = NULL;
        struct zetl_err err = { 0 };
        struct zetl_schema *s = mk_books("shop", "public");
        bool id_only[4] = { true, false, false, false };
        bool all[4] = { true, true, true, true };
        char *where = NULL, *cols = NULL;

        (void)state;
        assert_int_equal(zetl_filter_parse(NULL, "f",
                                           "rows: shop.public.books: id > 100 AND title LIKE "
                                           "'A%'\n"
                                           "rows: shop.public.books: price < 9.5\n"
                                           "columns: shop.public.books: exclude email, title\n",
                                           ZETL_FILTER_PG, &f, &err),
                         0);
        /* only the key may be filtered on: the other conditions stay with zetl;
         * title is read by the filter, so it stays in the list */
        assert_int_equal(zetl_filter_pg_pushdown(f, s, id_only, id_only, &where, &cols, &err), 0);
        assert_string_equal(where, "(\"id\" > 100)");
        assert_string_equal(cols, "\"id\", \"title\", \"price\"");
        free(where);
        free(cols);
        /* every column allowed; no column list allowed */
        assert_int_equal(zetl_filter_pg_pushdown(f, s, all, NULL, &where, &cols, &err), 0);
        assert_string_equal(where, "(\"id\" > 100) AND ((\"title\" COLLATE \"C\") LIKE E'A%' "
                                   "ESCAPE E'\\\\') AND (\"price\" < E'9.5'::numeric)");
        assert_null(cols);
        free(where);
        /* another table: nothing */
        struct zetl_schema *o = mk_books("shop", "other");
        assert_int_equal(zetl_filter_pg_pushdown(f, o, all, all, &where, &cols, &err), 0);
        assert_null(where);
        assert_null(cols);
        zetl_schema_unref(o);
        zetl_filter_free(f);

        /* filters that do not fit the table are refused, as by check_schema */
        assert_int_equal(zetl_filter_parse(NULL, "f", "rows: shop.public.books: nope = 1\n",
                                           ZETL_FILTER_PG, &f, &err),
                         0);
        assert_int_equal(zetl_filter_pg_pushdown(f, s, all, all, &where, &cols, &err), ZETL_EINVAL);
        assert_string_equal(err.msg, "f:1:26: no column \"nope\" in shop.public.books");
        assert_null(where);
        zetl_filter_free(f);
        zetl_schema_unref(s);
}

static const struct error_case rule_errors[] = {
        { "rows shop.public.books: a = 1\n", PG, "f.conf:1:1: expected 'rows:'" },
        { "rows: shop.public.books a = 1\n", PG,
          "f.conf:1:25: expected ':' after the table pattern" },
        { "rows: shop.books: a = 1\n", PG,
          "f.conf:1:7: pattern needs 3 parts (database.schema.table), got 2" },
        { "rows: shop.public.books:\n", PG, "f.conf:1:25: empty condition" },
        { "# x\nrows: shop.public.books: a = = 1\n", PG,
          "f.conf:2:30: expected a column or a value, found '='" },
        { "rows: shop.public.books: a = 1\n  AND\n", PG,
          "f.conf:2:6: expected a column or a value, found the end of the condition" },
        { "rows: shop.public.books: a = 1\nAND b = 2\n", PG,
          "f.conf:2:1: expected 'include:', 'exclude:', 'rows:' or 'columns:'" },
        { "rows: shop.public.books: name = 'x\n", PG, "f.conf:1:33: unterminated string" },
        { "columns: shop.public.books: drop a\n", PG,
          "f.conf:1:29: expected 'include' or 'exclude' and a list of columns" },
        { "columns: shop.public.books: exclude\n", PG,
          "f.conf:1:36: expected a space and a list of columns after 'exclude'" },
        { "columns: shop.public.books: exclude \n", PG, "f.conf:1:37: expected a column name" },
        { "columns: shop.public.books: exclude a,\n", PG, "f.conf:1:39: expected a column name" },
        { "columns: shop.public.books: exclude a b\n", PG,
          "f.conf:1:39: expected ',' or the end of the line in the column list" },
        { "columns: shop.public.books: exclude a, (b)\n", PG,
          "f.conf:1:40: unexpected character '(' in the column list" },
        { "columns: shop.public.books: include \"\"\n", PG, "f.conf:1:37: empty name" },
        { "columns: shop.public.books: include \"a\n", PG, "f.conf:1:37: unterminated quote" },
};

static void test_rule_errors(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(rule_errors) / sizeof(rule_errors[0]); i++) {
                const struct error_case *c = &rule_errors[i];
                struct zetl_filter *f = NULL;
                struct zetl_err err = { 0 };

                print_message("bad rule case %zu\n", i);
                assert_int_equal(zetl_filter_parse(NULL, "f.conf", c->text, c->d, &f, &err),
                                 ZETL_EINVAL);
                assert_null(f);
                assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
                assert_string_equal(err.msg, c->msg);
        }
}

/* modify-integration: may the new table filter bring in tables the old one left out? */
static void test_may_add_tables(void **state)
{
        static const struct {
                const char *old, *new;
                bool more;
        } cases2[] = {
                { NULL, NULL, false },
                { NULL, "include: a.b.c", false }, /* everything was included */
                { "include: a.b.c", NULL, true },  /* now everything is */
                { "include: a.b.c", "include: a.b.c", false },
                { "include: a.*.*", "include: a.*.*, exclude: a.b.c", false },
                { "include: a.*.*", "exclude: a.b.c, include: a.*.*", false },
                { "include: a.b.c, include: a.b.d", "include: a.b.d", false },
                { "include: a.b.c", "include: a.b.c, include: a.b.d", true },
                { "include: a.*.*, exclude: a.b.c", "include: a.*.*", true },
                { "include: a.b.c", "include: a.b.C", true },
                { "include: a.*.*, exclude: a.b.c", "exclude: a.b.c, include: a.*.*", true },
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases2) / sizeof(cases2[0]); i++) {
                struct zetl_filter *o = NULL, *n = NULL;

                print_message("case %zu: %s -> %s\n", i, cases2[i].old ? cases2[i].old : "-",
                              cases2[i].new ? cases2[i].new : "-");
                assert_int_equal(zetl_filter_parse(cases2[i].old, NULL, NULL, PG, &o, NULL), 0);
                assert_int_equal(zetl_filter_parse(cases2[i].new, NULL, NULL, PG, &n, NULL), 0);
                assert_int_equal(zetl_filter_may_add_tables(o, n), cases2[i].more);
                zetl_filter_free(o);
                zetl_filter_free(n);
        }
}

/* Found by fuzz_filter: stacked repetition operators make glibc's regcomp
 * take exponential memory (20 '+' took 0.8 GB); they are refused first. */
static void test_costly_regex_refused(void **state)
{
        static const char *const bad[] = {
                "include: db.public./a++++++++++++++++++++++++/",
                "include: db.public./a*{2}/",
                "include: db.public./(a*)+?/",
                "include: db.public./a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*/",
        };
        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct zetl_filter *f = NULL;
                struct zetl_err e = { 0 };
                assert_int_equal(zetl_filter_parse(bad[i], NULL, NULL, ZETL_FILTER_PG, &f, &e),
                                 ZETL_EINVAL);
                assert_non_null(strstr(e.msg, "repetition"));
                assert_null(f);
        }
        /* Ordinary repetition is fine, inside brackets too. */
        struct zetl_filter *f = NULL;
        assert_int_equal(zetl_filter_parse("include: db.public./a_[*+?]+x*/", NULL, NULL,
                                           ZETL_FILTER_PG, &f, NULL),
                         0);
        zetl_filter_free(f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decisions),
                cmocka_unit_test(test_no_filter),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_bad_regex),
                cmocka_unit_test(test_pattern_count),
                cmocka_unit_test(test_pattern_length),
                cmocka_unit_test(test_file),
                cmocka_unit_test(test_file_errors),
                cmocka_unit_test(test_costly_regex_refused),
                cmocka_unit_test(test_rules),
                cmocka_unit_test(test_rule_errors),
                cmocka_unit_test(test_pg_pushdown),
                cmocka_unit_test(test_may_add_tables),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
