/*
 * libFuzzer target for the URI parser and the secret redactor
 * (include/zetl/config.h).
 *
 * The input, up to its first NUL, is parsed with zetl_uri_parse and redacted
 * with zetl_uri_redact into buffers of 1, 8, 37 bytes and one large enough
 * for any output. Checked: a parsed URI has a lowercase scheme, a path, and
 * zetl_uri_param gives the last value of a repeated parameter; a refusal is
 * ZETL_EINVAL (config class) or ZETL_ENOMEM with a message; the redactor
 * always NUL-terminates, and a smaller buffer holds a prefix of what the
 * large one holds (so truncation never shows what redaction hides).
 *
 * Then the password rule: the input is also read as W "\n" PREFIX "\n" SUFFIX,
 * and the URI U = SCHEME "://u:" W "@h" is built (SCHEME one of a few, by the
 * input's size). When PREFIX has no '=' and no quote (either would make U a
 * value in a key=value or a quoted string, hidden by their rules) and
 * zetl_uri_parse reads U as user "u", a password, host "h" and nothing
 * after (so the password is W, percent-decoded), the text
 * PREFIX " " U SUFFIX is redacted, and the output may hold neither W, nor the
 * decoded password, nor the part of W from any of its '@' on (the redactor
 * hides from the password's start up to an '@', so a partial miss shows such
 * a part). A secret is checked only when it has no '*' and does not occur in
 * the text with the password replaced by "***": the redactor copies all else
 * verbatim, so an occurrence is then a piece of the password shown.
 *
 * Reproducers of its past findings are kept in tests/fuzz/crashes/fuzz_uri
 * (see the README there); scripts/fuzz.sh replays them before fuzzing.
 *
 * Seeds: ZETL_FUZZ_WRITE_SEEDS=<dir> writes the URIs and redaction inputs of
 * tests/unit/test_uri.c into <dir> (and a few in the W/PREFIX/SUFFIX form)
 * and exits; tests/fuzz/corpus/fuzz_uri was made that way.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "zetl/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const schemes[] = { "postgresql", "mysql", "opensearch+https", "a", "x-y.z1" };

static void check_parse(const char *text)
{
        struct zetl_err err = { 0 };
        struct zetl_uri u;
        int rc = zetl_uri_parse(text, &u, &err);

        if (rc != 0) {
                CHECK(rc == ZETL_EINVAL || rc == ZETL_ENOMEM);
                CHECK(err.code == rc && err.msg[0] != '\0');
                if (rc == ZETL_EINVAL)
                        CHECK(err.cls == ZETL_ERRC_CONFIG);
                return;
        }
        CHECK(u.scheme != NULL && u.scheme[0] != '\0' && u.path != NULL);
        for (const char *c = u.scheme; *c; c++)
                CHECK(!isupper((unsigned char)*c));
        CHECK(u.port >= 0 && u.port <= 65535);
        CHECK(u.nparams >= 0);
        for (int i = 0; i < u.nparams; i++) {
                const char *want = NULL;

                CHECK(u.params[i].key != NULL && u.params[i].value != NULL);
                for (int j = 0; j < u.nparams; j++)
                        if (strcmp(u.params[j].key, u.params[i].key) == 0)
                                want = u.params[j].value;
                CHECK(zetl_uri_param(&u, u.params[i].key) == want);
        }
        zetl_uri_free(&u);
}

/* Redact text into buffers of several sizes; returns the full output (malloc'd). */
static char *check_redact(const char *text)
{
        static const size_t small[] = { 1, 8, 37 };
        size_t len = strlen(text);
        size_t cap = 4 * len + 16; /* each secret, even an empty one, becomes "***" */
        char *full = malloc(cap);
        size_t full_len;

        CHECK(full != NULL);
        memset(full, 'X', cap);
        CHECK(zetl_uri_redact(text, full, cap) == full);
        full_len = strnlen(full, cap);
        CHECK(full_len < cap - 1);
        for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
                char *buf = malloc(small[i]); /* exactly sized: ASan sees any overrun */
                size_t n;

                CHECK(buf != NULL);
                memset(buf, 'X', small[i]);
                CHECK(zetl_uri_redact(text, buf, small[i]) == buf);
                n = strnlen(buf, small[i]);
                CHECK(n < small[i]);
                CHECK(n == (full_len < small[i] - 1 ? full_len : small[i] - 1));
                CHECK(memcmp(buf, full, n) == 0);
                free(buf);
        }
        return full;
}

static char *concat(const char *const *parts, int n)
{
        size_t len = 1;
        char *s;

        for (int i = 0; i < n; i++)
                len += strlen(parts[i]);
        s = malloc(len);
        CHECK(s != NULL);
        s[0] = '\0';
        for (int i = 0; i < n; i++)
                strcat(s, parts[i]);
        return s;
}

/* secret must not show in out, unless the text around it holds it anyway. */
static void check_hidden(const char *secret, const char *around, const char *out)
{
        if (secret[0] == '\0' || strchr(secret, '*') || strstr(around, secret))
                return;
        if (strstr(out, secret)) {
                fprintf(stderr, "secret \"%s\" shown in \"%s\"\n", secret, out);
                CHECK(!"a URI password is not redacted");
        }
}

static void check_password(char *text, size_t size)
{
        char *w = text, *prefix = (char *)"", *suffix = (char *)"";
        char *nl = strchr(text, '\n');
        const char *scheme = schemes[size % (sizeof(schemes) / sizeof(schemes[0]))];
        struct zetl_err err = { 0 };
        struct zetl_uri u;

        if (nl) {
                *nl = '\0';
                prefix = nl + 1;
                nl = strchr(prefix, '\n');
                if (nl) {
                        *nl = '\0';
                        suffix = nl + 1;
                }
        }
        /* A PREFIX with '=' or a quote makes the URI part of a key=value or a
         * quoted string, whose own rules decide what is hidden. */
        if (strpbrk(prefix, "=\"'`"))
                return;
        const char *uri_parts[] = { scheme, "://u:", w, "@h" };
        char *uri = concat(uri_parts, 4);

        if (zetl_uri_parse(uri, &u, &err) == 0) {
                /* Only when the parser ends the userinfo at U's last '@': a '?'
                 * or '/' in W can make it end earlier, and then the password
                 * is not W (the rest is the path or the query). */
                if (u.password && u.user && strcmp(u.user, "u") == 0 && u.host &&
                    strcmp(u.host, "h") == 0 && u.port == 0 && u.path[0] == '\0' &&
                    u.nparams == 0) {
                        const char *t_parts[] = { prefix, " ", uri, suffix };
                        const char *e_parts[] = { prefix, " ", scheme, "://u:***@h", suffix };
                        char *t = concat(t_parts, 4);
                        char *e = concat(e_parts, 5);
                        char *out = check_redact(t);

                        check_hidden(w, e, out);
                        check_hidden(u.password, e, out);
                        /* The redactor hides from the password's start to an
                         * '@': what it fails to hide is W from one of its '@'. */
                        for (const char *at = strchr(w, '@'); at; at = strchr(at + 1, '@'))
                                check_hidden(at, e, out);
                        free(out);
                        free(e);
                        free(t);
                }
                zetl_uri_free(&u);
        }
        free(uri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = malloc(size + 1);

        CHECK(text != NULL);
        memcpy(text, data, size);
        text[size] = '\0';
        check_parse(text);
        free(check_redact(text));
        (void)zetl_is_conninfo(text);
        check_password(text, size);
        free(text);
        return 0;
}

/* ---- seeds ------------------------------------------------------------------------ */

static void write_seeds(const char *dir)
{
        static const char *const seeds[] = {
                ("postgresql://alice:s3cret@db.example.com:5433/"
                 "shop?sslmode=require&application_name=zetl"),
                "postgres://bob:p%40ss%3Aw%2Frd@localhost/app",
                "postgresql://carol:a@b@h:5432/d",
                "postgresql://u:a/b@h/db",
                "postgresql://u@[::1]:5432/db",
                "postgresql://[2001:db8::5]/db",
                "mysql://root@127.0.0.1:3306",
                "opensearch+https://admin:Adm1n!@search.local:9200/idx",
                "PostgreSQL://DB1/x",
                "postgresql://u:@h/db",
                "postgresql:///db",
                "postgresql://%2Fvar%2Frun%2Fpostgresql/db",
                "postgresql://h/db?options=-c%20search_path%3Dx&&flag",
                "postgresql://h/db?a=1&a=2",
                "jsonl:/tmp/out.jsonl",
                "iceberg:/data/my%20wh",
                "null:",
                "postgresql://h:99999/db",
                "postgresql://u:top?secret@h/db",
                "postgresql://[::1/db",
                "postgresql://u:qq%zzkk@h/db",
                "postgresql://h/db?=x",
                "source=postgresql://u:p%40ss@h/db target=jsonl:-",
                "failed: a://u1:pw1@h1 and b://u2:pw2@h2.",
                "postgresql://u:pw9@h/db?password=pw8",
                "host=a port=5432 password=hunter2 dbname=shop",
                "host=a password='x y\\' z' user=b",
                "password=\"dq pass\" host=x",
                "PASSWORD=A1 Token=A2 SslPassword=A3 Api_Key=A4 secret=A5 passwd=A6",
                "access_token=T0K&client_secret=C5 x",
                "{\"uri\":\"postgresql://u:pw7@h/db\",\"user\":\"bob@corp\"}",
                "bob@example.com wrote: see https://example.com:443/x",
                /* W "\n" PREFIX "\n" SUFFIX */
                "s3cr%40t\nlog: connecting to\n/db?sslmode=require",
                "p@ss/w:rd\nsource:\n\",\"x\":1}",
                "hunter2\nfailed: could not reach\n: timeout",
                "a?b\nsee\n and more",
        };

        for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
                char path[4096];
                FILE *f;

                snprintf(path, sizeof(path), "%s/uri_%02zu", dir, i);
                f = fopen(path, "wb");
                if (!f || fputs(seeds[i], f) < 0 || fclose(f) != 0) {
                        perror(path);
                        exit(1);
                }
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *dir = getenv("ZETL_FUZZ_WRITE_SEEDS");

        (void)argc;
        (void)argv;
        if (dir) {
                write_seeds(dir);
                exit(0);
        }
        return 0;
}
