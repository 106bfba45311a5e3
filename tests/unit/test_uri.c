/*
 * URIs, options and secret redaction (src/uri.c): tables of URIs with the
 * parts they must yield, URIs that must be refused (without the password in
 * the message), and texts whose secrets must never survive redaction, at any
 * output size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zetl/config.h"

/* ---- parsing ------------------------------------------------------------- */

struct uri_case {
        const char *text;
        const char *scheme;
        const char *user;
        const char *password;
        const char *host;
        int port;
        const char *path;
        bool opaque;
        const char *params[8]; /* key, value, key, value, ..., NULL */
};

static const struct uri_case good_uris[] = {
        { "postgresql://alice:s3cret@db.example.com:5433/"
          "shop?sslmode=require&application_name=zetl",
          "postgresql",
          "alice",
          "s3cret",
          "db.example.com",
          5433,
          "/shop",
          false,
          { "sslmode", "require", "application_name", "zetl", NULL } },
        /* '@', ':' and '/' percent-encoded in the password */
        { "postgres://bob:p%40ss%3Aw%2Frd@localhost/app",
          "postgres",
          "bob",
          "p@ss:w/rd",
          "localhost",
          0,
          "/app",
          false,
          { NULL } },
        /* lenient: raw '@' in the password, the last '@' separates */
        { "postgresql://carol:a@b@h:5432/d",
          "postgresql",
          "carol",
          "a@b",
          "h",
          5432,
          "/d",
          false,
          { NULL } },
        /* lenient: raw '/' in the password */
        { "postgresql://u:a/b@h/db", "postgresql", "u", "a/b", "h", 0, "/db", false, { NULL } },
        { "postgresql://u@[::1]:5432/db",
          "postgresql",
          "u",
          NULL,
          "::1",
          5432,
          "/db",
          false,
          { NULL } },
        { "postgresql://[2001:db8::5]/db",
          "postgresql",
          NULL,
          NULL,
          "2001:db8::5",
          0,
          "/db",
          false,
          { NULL } },
        { "mysql://root@127.0.0.1:3306",
          "mysql",
          "root",
          NULL,
          "127.0.0.1",
          3306,
          "",
          false,
          { NULL } },
        { "mariadb://repl:pw@maria:3307/",
          "mariadb",
          "repl",
          "pw",
          "maria",
          3307,
          "/",
          false,
          { NULL } },
        { "opensearch+https://admin:Adm1n!@search.local:9200/idx",
          "opensearch+https",
          "admin",
          "Adm1n!",
          "search.local",
          9200,
          "/idx",
          false,
          { NULL } },
        /* the scheme is lowercased, the host is not */
        { "PostgreSQL://DB1/x", "postgresql", NULL, NULL, "DB1", 0, "/x", false, { NULL } },
        /* empty password is present and empty */
        { "postgresql://u:@h/db", "postgresql", "u", "", "h", 0, "/db", false, { NULL } },
        /* empty host: libpq's default socket */
        { "postgresql:///db", "postgresql", NULL, NULL, NULL, 0, "/db", false, { NULL } },
        { "postgresql://:5433/db", "postgresql", NULL, NULL, NULL, 5433, "/db", false, { NULL } },
        /* percent-encoded socket directory as host, like libpq */
        { "postgresql://%2Fvar%2Frun%2Fpostgresql/db",
          "postgresql",
          NULL,
          NULL,
          "/var/run/postgresql",
          0,
          "/db",
          false,
          { NULL } },
        /* query decoding, a flag without '=', an empty segment */
        { "postgresql://h/db?options=-c%20search_path%3Dx&&flag",
          "postgresql",
          NULL,
          NULL,
          "h",
          0,
          "/db",
          false,
          { "options", "-c search_path=x", "flag", "", NULL } },
        { "postgresql://h:65535/db", "postgresql", NULL, NULL, "h", 65535, "/db", false, { NULL } },
        { "postgresql://h:1", "postgresql", NULL, NULL, "h", 1, "", false, { NULL } },
        /* opaque forms: path is everything after "scheme:", undecoded */
        { "jsonl:-", "jsonl", NULL, NULL, NULL, 0, "-", true, { NULL } },
        { "jsonl:/tmp/out.jsonl", "jsonl", NULL, NULL, NULL, 0, "/tmp/out.jsonl", true, { NULL } },
        { "iceberg:/data/wh", "iceberg", NULL, NULL, NULL, 0, "/data/wh", true, { NULL } },
        { "iceberg:/data/my%20wh",
          "iceberg",
          NULL,
          NULL,
          NULL,
          0,
          "/data/my%20wh",
          true,
          { NULL } },
        { "null:", "null", NULL, NULL, NULL, 0, "", true, { NULL } },
};

static void assert_str_or_null(const char *want, const char *got)
{
        if (!want)
                assert_null(got);
        else
                assert_non_null(got), assert_string_equal(want, got);
}

static void test_parse_table(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(good_uris) / sizeof(good_uris[0]); i++) {
                const struct uri_case *c = &good_uris[i];
                struct zetl_uri u;
                struct zetl_err err = { 0 };
                int np = 0;

                print_message("uri %s\n", c->text);
                assert_int_equal(zetl_uri_parse(c->text, &u, &err), 0);
                assert_string_equal(u.scheme, c->scheme);
                assert_str_or_null(c->user, u.user);
                assert_str_or_null(c->password, u.password);
                assert_str_or_null(c->host, u.host);
                assert_int_equal(u.port, c->port);
                assert_non_null(u.path);
                assert_string_equal(u.path, c->path);
                assert_int_equal(u.opaque, c->opaque);
                while (c->params[2 * np])
                        np++;
                assert_int_equal(u.nparams, np);
                for (int k = 0; k < np; k++) {
                        assert_string_equal(u.params[k].key, c->params[2 * k]);
                        assert_string_equal(u.params[k].value, c->params[2 * k + 1]);
                        assert_string_equal(zetl_uri_param(&u, c->params[2 * k]),
                                            c->params[2 * k + 1]);
                }
                assert_null(zetl_uri_param(&u, "no-such-param"));
                zetl_uri_free(&u);
                assert_null(u.scheme);
        }
}

static void test_param_last_wins(void **state)
{
        struct zetl_uri u;
        struct zetl_err err = { 0 };

        (void)state;
        assert_int_equal(zetl_uri_parse("postgresql://h/db?a=1&a=2", &u, &err), 0);
        assert_string_equal(zetl_uri_param(&u, "a"), "2");
        zetl_uri_free(&u);
        zetl_uri_free(&u); /* freeing twice is harmless: the struct is zeroed */
}

struct bad_uri {
        const char *text;
        const char *msg;
        const char *secret; /* must not appear in the message */
};

static const struct bad_uri bad_uris[] = {
        { "", "URI is empty", NULL },
        { "localhost", "URI has no scheme", NULL },
        { "://h/db", "URI has no scheme", NULL },
        { "1pg://h/db", "URI has no scheme", NULL },
        { "post gres://h/db", "URI has no scheme", NULL },
        { "postgresql://h:99999/db", "bad port \"99999\"", NULL },
        { "postgresql://h:0/db", "bad port \"0\"", NULL },
        { "postgresql://h:65536/db", "bad port \"65536\"", NULL },
        { "postgresql://h:54x2/db", "bad port \"54x2\"", NULL },
        { "postgresql://h:/db", "bad port \"\"", NULL },
        { "postgresql://u:topsecret@h:-1/db", "bad port \"-1\"", "topsecret" },
        { "postgresql://u:topsecret@h:123456/db", "bad port \"123456\"", "topsecret" },
        /* a raw '?' in the password hides the '@': "u:top" reads as host:port,
         * and the would-be port is part of the password */
        { "postgresql://u:top?secret@h/db", "bad port (expected a number in 1..65535)", "top" },
        { "postgresql://[::1/db", "unterminated IPv6 address (missing ']')", NULL },
        { "postgresql://[]:5432/db", "empty IPv6 address", NULL },
        { "postgresql://[::1]x/db", "unexpected text after the IPv6 address", NULL },
        { "postgresql://[::1]:99999/db", "bad port \"99999\"", NULL },
        { "postgresql://u:qq%zzkk@h/db", "bad percent-encoding in the URI's password", "qq" },
        { "postgresql://u:secret%0@h/db", "bad percent-encoding in the URI's password", "secret" },
        { "postgresql://u:wv%00xy@h/db", "bad percent-encoding in the URI's password", "wv" },
        { "postgresql://u%G1:x@h/db", "bad percent-encoding in the URI's user name", NULL },
        { "postgresql://h/db?password=%4", "bad percent-encoding in query parameter \"password\"",
          NULL },
        { "postgresql://h/db?=x", "empty query parameter name", NULL },
        { "postgresql://bad host/db", "bad character in the host name", NULL },
};

static void test_parse_errors(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(bad_uris) / sizeof(bad_uris[0]); i++) {
                const struct bad_uri *c = &bad_uris[i];
                struct zetl_uri u;
                struct zetl_err err = { 0 };

                print_message("bad uri %s\n", c->text);
                assert_int_equal(zetl_uri_parse(c->text, &u, &err), ZETL_EINVAL);
                assert_int_equal(err.code, ZETL_EINVAL);
                assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
                assert_string_equal(err.msg, c->msg);
                if (c->secret)
                        assert_null(strstr(err.msg, c->secret));
                /* nothing is left allocated in *out on failure */
                assert_null(u.scheme);
                assert_null(u.password);
                assert_null(u.params);
        }
        struct zetl_uri u;
        struct zetl_err err = { 0 };

        assert_int_equal(zetl_uri_parse(NULL, &u, &err), ZETL_EINVAL);
}

/* ---- redaction ----------------------------------------------------------- */

struct redact_case {
        const char *in;
        const char *out;
        const char *secrets[4]; /* must appear in no prefix of the output */
};

static const struct redact_case redactions[] = {
        { "postgresql://alice:s3cret@db:5432/shop",
          "postgresql://alice:***@db:5432/shop",
          { "s3cret" } },
        { "source=postgresql://u:p%40ss@h/db target=jsonl:-",
          "source=postgresql://u:***@h/db target=jsonl:-",
          { "p%40ss" } },
        { "postgresql://u:a@b@h/db", "postgresql://u:***@h/db", { "a@b" } },
        { "postgresql://u:a/b@h/db", "postgresql://u:***@h/db", { "a/b" } },
        { "postgresql://u:top?secret@h/db", "postgresql://u:***@h/db", { "top", "secret" } },
        { "opensearch+https://admin:Adm1n!@search:9200/x",
          "opensearch+https://admin:***@search:9200/x",
          { "Adm1n!" } },
        { "failed: a://u1:pw1@h1 and b://u2:pw2@h2.",
          "failed: a://u1:***@h1 and b://u2:***@h2.",
          { "pw1", "pw2" } },
        { "postgresql://h/db?sslmode=require&password=x1y2&user=u",
          "postgresql://h/db?sslmode=require&password=***&user=u",
          { "x1y2" } },
        { "postgresql://u:pw9@h/db?password=pw8",
          "postgresql://u:***@h/db?password=***",
          { "pw9", "pw8" } },
        { "host=a port=5432 password=hunter2 dbname=shop",
          "host=a port=5432 password=*** dbname=shop",
          { "hunter2" } },
        { "host=a password='x y\\' z' user=b", "host=a password=*** user=b", { "x y", "z'" } },
        { "host=a password = spaced user=b", "host=a password = *** user=b", { "spaced" } },
        { "host=a password=back\\ slash user=b", "host=a password=*** user=b", { "slash" } },
        { "password=\"dq pass\" host=x", "password=*** host=x", { "dq pass" } },
        { "PASSWORD=A1 Token=A2 SslPassword=A3 Api_Key=A4 secret=A5 passwd=A6",
          "PASSWORD=*** Token=*** SslPassword=*** Api_Key=*** secret=*** passwd=***",
          { "A1", "A2", "A3", "A4" } },
        { "access_token=T0K&client_secret=C5 x",
          "access_token=***&client_secret=*** x",
          { "T0K", "C5" } },
        /* a quoted URI in JSON does not swallow the fields after it */
        { "{\"uri\":\"postgresql://u:pw7@h/db\",\"user\":\"bob@corp\"}",
          "{\"uri\":\"postgresql://u:***@h/db\",\"user\":\"bob@corp\"}",
          { "pw7" } },
        /* unchanged: no secrets */
        { "no secrets: host=db port=5432 url=https://example.com/a?b=c",
          "no secrets: host=db port=5432 url=https://example.com/a?b=c",
          { NULL } },
        { "mysql://root@h:3306/db", "mysql://root@h:3306/db", { NULL } },
        { "bob@example.com wrote: see https://example.com:443/x",
          "bob@example.com wrote: see https://example.com:443/x",
          { NULL } },
        { "passwordless=1 tokens=3 mypassword_hint=x",
          "passwordless=1 tokens=3 mypassword_hint=x",
          { NULL } },
        { "", "", { NULL } },
        { "\x01\xff\xfe:// ://@:", "\x01\xff\xfe:// ://@:", { NULL } },
};

static void test_redact_table(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(redactions) / sizeof(redactions[0]); i++) {
                const struct redact_case *c = &redactions[i];
                char buf[512];
                size_t full = strlen(c->out);

                print_message("redact %s\n", c->in);
                assert_ptr_equal(zetl_uri_redact(c->in, buf, sizeof(buf)), buf);
                assert_string_equal(buf, c->out);
                /* Every output size: a prefix of the full redaction, never a
                 * piece of a secret. */
                for (size_t len = 1; len <= full + 2; len++) {
                        char small[512];

                        memset(small, 'Z', sizeof(small));
                        zetl_uri_redact(c->in, small, len);
                        size_t n = strlen(small);
                        assert_true(n == (len - 1 < full ? len - 1 : full));
                        assert_memory_equal(small, c->out, n);
                        assert_int_equal(small[len], 'Z'); /* nothing past len */
                        for (int k = 0; k < 4 && c->secrets[k]; k++)
                                assert_null(strstr(small, c->secrets[k]));
                }
        }
}

static void test_redact_truncation(void **state)
{
        char buf[32];

        (void)state;
        memset(buf, 'Z', sizeof(buf));
        zetl_uri_redact("postgresql://alice:s3cret@db/x", buf, 20);
        assert_string_equal(buf, "postgresql://alice:");
        zetl_uri_redact("postgresql://alice:s3cret@db/x", buf, 22);
        assert_string_equal(buf, "postgresql://alice:**");
        zetl_uri_redact("password=hunter2", buf, 12);
        assert_string_equal(buf, "password=**");
        zetl_uri_redact("abc", buf, 1);
        assert_string_equal(buf, "");
        buf[0] = 'Q';
        zetl_uri_redact("abc", buf, 0); /* no room even for the NUL: untouched */
        assert_int_equal(buf[0], 'Q');
        zetl_uri_redact(NULL, buf, sizeof(buf));
        assert_string_equal(buf, "");
}

/* Pathological inputs must stay linear: a quadratic scan of these would take
 * minutes, not milliseconds. */
static void test_redact_linear(void **state)
{
        const char *units[] = { "a://", "a://u:", "password=", "x@", "a://:?" };
        size_t reps = 200000;

        (void)state;
        for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
                size_t ul = strlen(units[u]);
                char *in = malloc(ul * reps + 1);
                char *out = malloc(ul * reps * 2 + 16);

                assert_non_null(in);
                assert_non_null(out);
                for (size_t i = 0; i < reps; i++)
                        memcpy(in + i * ul, units[u], ul);
                in[ul * reps] = '\0';
                zetl_uri_redact(in, out, ul * reps * 2 + 16);
                assert_true(strlen(out) > 0);
                free(in);
                free(out);
        }
}

/* ---- conninfo ------------------------------------------------------------ */

static void test_is_conninfo(void **state)
{
        (void)state;
        assert_true(zetl_is_conninfo("host=a dbname=b"));
        assert_true(zetl_is_conninfo("  host = a"));
        assert_true(zetl_is_conninfo("dbname=x"));
        assert_true(zetl_is_conninfo("_x=1 url=postgresql://h"));
        assert_false(zetl_is_conninfo("postgresql://u:p@h/db?x=y"));
        assert_false(zetl_is_conninfo("jsonl:-"));
        assert_false(zetl_is_conninfo(""));
        assert_false(zetl_is_conninfo("=x"));
        assert_false(zetl_is_conninfo("a b=c"));
        assert_false(zetl_is_conninfo("1host=a"));
        assert_false(zetl_is_conninfo(NULL));
}

/* ---- options ------------------------------------------------------------- */

static void test_cfg_opt(void **state)
{
        struct zetl_option opts[] = {
                { "snapshot-workers", "8" },
                { "batch-rows", "x" },
                { "mode", "a" },
                { "mode", "b" },
        };
        struct zetl_conn_cfg cfg = { .opts = opts, .nopts = 4 };

        (void)state;
        assert_string_equal(zetl_cfg_opt(&cfg, "snapshot-workers"), "8");
        assert_string_equal(zetl_cfg_opt(&cfg, "mode"), "b"); /* last wins */
        assert_null(zetl_cfg_opt(&cfg, "absent"));
        assert_null(zetl_cfg_opt(NULL, "mode"));
}

static void test_cfg_opt_int(void **state)
{
        static const struct {
                const char *value;
                long long min, max;
                int rc;
                long long want;
        } cases[] = {
                { "8", 1, 64, 0, 8 },
                { "1", 1, 64, 0, 1 },
                { "64", 1, 64, 0, 64 },
                { "-3", -5, 5, 0, -3 },
                { "+7", 0, 10, 0, 7 },
                { "9223372036854775807", 0, INT64_MAX, 0, INT64_MAX },
                { "0", 1, 64, ZETL_EINVAL, 0 },
                { "65", 1, 64, ZETL_EINVAL, 0 },
                { "", 1, 64, ZETL_EINVAL, 0 },
                { " 5", 1, 64, ZETL_EINVAL, 0 },
                { "5 ", 1, 64, ZETL_EINVAL, 0 },
                { "5x", 1, 64, ZETL_EINVAL, 0 },
                { "0x10", 0, 64, ZETL_EINVAL, 0 },
                { "-", 0, 64, ZETL_EINVAL, 0 },
                { "1.5", 0, 64, ZETL_EINVAL, 0 },
                { "99999999999999999999", 0, INT64_MAX, ZETL_EINVAL, 0 },
        };

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct zetl_option opt = { "n", (char *)cases[i].value };
                struct zetl_conn_cfg cfg = { .opts = &opt, .nopts = 1 };
                struct zetl_err err = { 0 };
                long long out = -42;

                print_message("opt \"%s\"\n", cases[i].value);
                assert_int_equal(
                        zetl_cfg_opt_int(&cfg, "n", 3, cases[i].min, cases[i].max, &out, &err),
                        cases[i].rc);
                if (cases[i].rc == 0) {
                        assert_true(out == cases[i].want);
                } else {
                        assert_true(out == -42);
                        assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
                }
        }

        struct zetl_option opt = { "snapshot-workers", "x" };
        struct zetl_conn_cfg cfg = { .opts = &opt, .nopts = 1 };
        struct zetl_err err = { 0 };
        long long out = 0;

        assert_int_equal(zetl_cfg_opt_int(&cfg, "snapshot-workers", 4, 1, 64, &out, &err),
                         ZETL_EINVAL);
        assert_int_equal(err.code, ZETL_EINVAL);
        assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
        assert_string_equal(err.msg,
                            "option snapshot-workers: expected an integer in [1, 64], got \"x\"");
        /* absent: the default, even with no options at all */
        assert_int_equal(zetl_cfg_opt_int(&cfg, "batch-rows", 1000, 1, 100000, &out, &err), 0);
        assert_true(out == 1000);
        struct zetl_conn_cfg empty = { 0 };

        assert_int_equal(zetl_cfg_opt_int(&empty, "batch-rows", 7, 1, 10, &out, &err), 0);
        assert_true(out == 7);
}

/* Found by fuzz_uri: a password the parser accepted but the redactor could
 * not see the end of (a space; an '@' followed by a quote) leaked in full.
 * Such raw characters are now refused: they must be percent-encoded. */
static void test_userinfo_needs_encoding(void **state)
{
        static const char *const bad[] = {
                "opensearch+https://u:my pass@h",
                "x-y.z1://u:p@ss'word@h",
                "postgresql://u:a\"b@h/db",
                "mysql://u:a<b@h/db",
        };
        static const char *const secret[] = { "my pass", "ss'word", "a\"b", "a<b" };
        char buf[256];

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct zetl_uri u;
                struct zetl_err e = { 0 };
                assert_int_equal(zetl_uri_parse(bad[i], &u, &e), ZETL_EINVAL);
                assert_int_equal(e.cls, ZETL_ERRC_CONFIG);
                assert_null(strstr(e.msg, secret[i]));
        }
        /* Percent-encoded, the same password parses and is hidden. */
        struct zetl_uri u;
        assert_int_equal(zetl_uri_parse("opensearch+https://u:my%20pass@h", &u, NULL), 0);
        assert_string_equal(u.password, "my pass");
        zetl_uri_free(&u);
        zetl_uri_redact("opensearch+https://u:my%20pass@h", buf, sizeof(buf));
        assert_string_equal(buf, "opensearch+https://u:***@h");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_table),
                cmocka_unit_test(test_param_last_wins),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_redact_table),
                cmocka_unit_test(test_redact_truncation),
                cmocka_unit_test(test_redact_linear),
                cmocka_unit_test(test_is_conninfo),
                cmocka_unit_test(test_cfg_opt),
                cmocka_unit_test(test_cfg_opt_int),
                cmocka_unit_test(test_userinfo_needs_encoding),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
