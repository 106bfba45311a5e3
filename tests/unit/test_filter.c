/*
 * Table filters (src/filter.c): AWS Zero-ETL's include/exclude patterns. A
 * table of filters, each probed with tables and the decision AWS's rules give
 * (in order, last match wins, excluded by default once a pattern exists),
 * then the errors with their exact positions, the limits, and filter files.
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
        { "include: a.b.c\n\n  bogus line\n", PG, "f.conf:3:3: expected 'include:' or 'exclude:'" },
        { "where shop.public.orders: id > 5\n", PG,
          "f.conf:1:1: expected 'include:' or 'exclude:'" },
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
        assert_string_equal(err.msg, "filter file:1:1: expected 'include:' or 'exclude:'");
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
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
