/*
 * libFuzzer target for the data filter parser and its table decision
 * (include/zetl/filter.h). The input, up to its first NUL, is parsed in each
 * dialect as --data-filter text and as the text of a filter file; a filter
 * that parses is asked about a few fixed tables and about tables named by
 * the input itself (its first line split at '.'), so that literal, '*' and
 * /regex/ parts all meet names they match.
 *
 * Checked, from filter.h: a refusal is ZETL_EINVAL (config class) or
 * ZETL_ENOMEM, its message names "--data-filter" or the file with a line and
 * column; an accepted filter has at most ZETL_FILTER_MAX_PATTERNS patterns,
 * and with none it includes every table; the decision is the same when asked
 * twice (regexec holds no state between calls).
 *
 * Reproducers of its past findings are kept in tests/fuzz/crashes/fuzz_filter
 * (see the README there); scripts/fuzz.sh replays them before fuzzing.
 *
 * Seeds: ZETL_FUZZ_WRITE_SEEDS=<dir> writes the filters of tests/unit/test_filter.c
 * (both the accepted ones and the refused ones) into <dir> and exits;
 * tests/fuzz/corpus/fuzz_filter was made that way.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "zetl/filter.h"
#include "zetl/schema.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fixed_ids[][3] = {
        { "shop", "public", "orders" },
        { "shop", "", "orders" },
        { "db1", "", "tab" },
        { "a", "b", "c" },
        { "", "", "" },
        { "my.db", "sch,ema", "t b" },
        { "*", "*", "*" },
        { "caf\xc3\xa9", "public", "t$1_2" },
};

/* Copy at most ZETL_NAME_MAX - 1 bytes of s[0..n) into dst. */
static void name_copy(char *dst, const char *s, size_t n)
{
        if (n >= ZETL_NAME_MAX)
                n = ZETL_NAME_MAX - 1;
        memcpy(dst, s, n);
        dst[n] = '\0';
}

/* Tables named by the text: its first line split at the first two dots. */
static void ids_from_text(const char *text, struct zetl_table_id ids[2])
{
        size_t line = strcspn(text, "\r\n");
        const char *parts[3] = { text, "", "" };
        size_t lens[3] = { line, 0, 0 };
        const char *dot1 = memchr(text, '.', line);

        if (dot1) {
                const char *rest = dot1 + 1;
                size_t rest_len = line - (size_t)(rest - text);
                const char *dot2 = memchr(rest, '.', rest_len);

                lens[0] = (size_t)(dot1 - text);
                parts[1] = rest;
                lens[1] = dot2 ? (size_t)(dot2 - rest) : rest_len;
                if (dot2) {
                        parts[2] = dot2 + 1;
                        lens[2] = rest_len - lens[1] - 1;
                }
        }
        memset(ids, 0, 2 * sizeof(*ids));
        /* database.schema.table, and database.table (no schema) */
        name_copy(ids[0].db, parts[0], lens[0]);
        name_copy(ids[0].schema, parts[1], lens[1]);
        name_copy(ids[0].table, parts[2], lens[2]);
        name_copy(ids[1].db, parts[0], lens[0]);
        name_copy(ids[1].table, parts[1], lens[1]);
}

static void probe(const struct zetl_filter *f, const struct zetl_table_id *id)
{
        bool in = zetl_filter_table(f, id);

        CHECK(zetl_filter_table(f, id) == in);
        if (zetl_filter_npatterns(f) == 0)
                CHECK(in);
        (void)zetl_filter_transforms(f, id);
}

static void parse_one(const char *text, bool as_file, enum zetl_filter_dialect d)
{
        struct zetl_err err = { 0 };
        struct zetl_filter *f = NULL;
        struct zetl_table_id ids[2];
        int rc;

        rc = as_file ? zetl_filter_parse(NULL, "fuzz.filter", text, d, &f, &err)
                     : zetl_filter_parse(text, NULL, NULL, d, &f, &err);
        if (rc != 0) {
                CHECK(f == NULL);
                CHECK(rc == ZETL_EINVAL || rc == ZETL_ENOMEM);
                CHECK(err.code == rc && err.msg[0] != '\0');
                if (rc == ZETL_EINVAL) {
                        const char *name = as_file ? "fuzz.filter:" : "--data-filter:";
                        CHECK(err.cls == ZETL_ERRC_CONFIG);
                        CHECK(strncmp(err.msg, name, strlen(name)) == 0);
                }
                return;
        }
        CHECK(f != NULL);
        CHECK(zetl_filter_npatterns(f) >= 0 &&
              zetl_filter_npatterns(f) <= ZETL_FILTER_MAX_PATTERNS);
        for (size_t i = 0; i < sizeof(fixed_ids) / sizeof(fixed_ids[0]); i++) {
                struct zetl_table_id id;

                CHECK(zetl_table_id_set(&id, fixed_ids[i][0], fixed_ids[i][1], fixed_ids[i][2]) ==
                      0);
                probe(f, &id);
        }
        /* The names inside a pattern, unquoted: "include: a.b.c" names a.b.c. */
        const char *colon = strchr(text, ':');
        ids_from_text(colon ? colon + 1 + strspn(colon + 1, " \t") : text, ids);
        probe(f, &ids[0]);
        probe(f, &ids[1]);
        zetl_filter_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = malloc(size + 1);

        CHECK(text != NULL);
        memcpy(text, data, size);
        text[size] = '\0';
        for (int d = ZETL_FILTER_PG; d <= ZETL_FILTER_ANY; d++) {
                parse_one(text, false, (enum zetl_filter_dialect)d);
                parse_one(text, true, (enum zetl_filter_dialect)d);
        }
        free(text);
        return 0;
}

/* ---- seeds ------------------------------------------------------------------------ */

static void write_seeds(const char *dir)
{
        static const char *const seeds[] = {
                "include: *.*.*",
                "include: shop.public.orders",
                "exclude: shop.public.audit",
                "include: shop.*.*, exclude: shop.public.*, include: shop.public.orders",
                "include: *.public.orders",
                "include: shop./sales_[0-9]+/.*",
                "include: shop.public./a|b/",
                "include: shop.public./x\\/y/, include: shop.public./p.q, r/",
                "include: /db[0-9]/./t.*/",
                "include: \"my.db\".'sch,ema'.`t b`",
                "include: db.public.\"a\"\"b\", include: db.public.'it''s', include: "
                "db.public.`x``y`",
                "include: db.public.\"*\"",
                "INCLUDE: a.b.c, Exclude: a.b.d, iNcLuDe: a.b.e",
                "include: shop.*, exclude: shop.tmp_log",
                "include: shop.orders, include: pg.public.*",
                "  include :   a.b.c  ,exclude:a.b.d  ,\n include:\tcaf\xc3\xa9.public.t$1_2  ",
                ("# tables for analytics\ninclude: shop.public.*\n\n   # an indented comment\n\t\n"
                 "exclude: shop.public.audit_log   # a trailing comment\n"
                 "include: shop.public.\"audit#log\"  # '#' quoted is a name\n"
                 "EXCLUDE: shop.public.tmp#no space before the comment\n"),
                "include: a.b\r\nexclude: a.c\r\ninclude: x.y",
                "# nothing yet\n\n",
                "inclde: a.b.c",
                "include: a.b.c,, include: d.e.f",
                "include: a.b.c.d",
                "include: /d.*/.b.c",
                "include: a.b.\"c",
                "# c\ninclude: a.b./c\n/\n",
                "include: a.b.c, exclude: d.e.f\n",
                "where shop.public.orders: id > 5\n",
                "include:\nshop.public.t\n",
                "include: a.b./(/",
                "include: a.b./[[:alpha:]]{2,3}x*/",
        };

        for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
                char path[4096];
                FILE *f;

                snprintf(path, sizeof(path), "%s/filter_%02zu", dir, i);
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
