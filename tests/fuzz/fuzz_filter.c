/*
 * libFuzzer target for the data filter parser and its table decision
 * (include/zetl/filter.h), and for row filter conditions (src/filter_expr.h).
 * The input, up to its first NUL, is parsed in each dialect as --data-filter
 * text and as the text of a filter file; a filter that parses is asked about
 * a few fixed tables and about tables named by the input itself (its first
 * line split at '.'), so that literal, '*' and /regex/ parts all meet names
 * they match; its rows: and columns: rules are checked against a table of
 * every type with those names and applied to a batch of it. The input is
 * also parsed as a bare condition, compiled against that table, evaluated on
 * the batch and rendered as PostgreSQL SQL.
 *
 * Checked, from filter.h: a refusal is ZETL_EINVAL (config class) or
 * ZETL_ENOMEM, its message names "--data-filter" or the file with a line and
 * column; an accepted filter has at most ZETL_FILTER_MAX_PATTERNS patterns,
 * and with none it includes every table; the decision is the same when asked
 * twice (regexec holds no state between calls). From filter_expr.h: every
 * row's result is a non-empty set of FX_* bits, a single one for rows with
 * no unchanged cell; a condition's canonical text parses to itself. From
 * zetl_filter_apply: it keeps, drops or turns rows into deletes, never more
 * rows or columns than it was given.
 *
 * Reproducers of its past findings are kept in tests/fuzz/crashes/fuzz_filter
 * (see the README there); scripts/fuzz.sh replays them before fuzzing.
 *
 * Seeds: ZETL_FUZZ_WRITE_SEEDS=<dir> writes the filters of tests/unit/test_filter.c
 * (both the accepted ones and the refused ones) into <dir> and exits;
 * tests/fuzz/corpus/fuzz_filter was made that way.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter_expr.h"
#include "fuzz_common.h"
#include "zetl/batch.h"
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

/* A table of every type: short names, so that inputs find them. */
static const struct {
        const char *name;
        enum zetl_type type;
} cols[] = {
        { "id", ZETL_T_INT64 },       { "a", ZETL_T_INT16 },   { "b", ZETL_T_INT32 },
        { "c", ZETL_T_INT64 },        { "f", ZETL_T_FLOAT32 }, { "g", ZETL_T_FLOAT64 },
        { "p", ZETL_T_DECIMAL },      { "s", ZETL_T_STRING },  { "x", ZETL_T_BYTES },
        { "d", ZETL_T_DATE },         { "t", ZETL_T_TIME },    { "ts", ZETL_T_TIMESTAMP },
        { "tz", ZETL_T_TIMESTAMPTZ }, { "u", ZETL_T_UUID },    { "ok", ZETL_T_BOOL },
        { "j", ZETL_T_JSON },
};
#define NCOLS ((int)(sizeof(cols) / sizeof(cols[0])))

static struct zetl_schema *mk_schema(const struct zetl_table_id *id)
{
        struct zetl_schema *s = zetl_schema_new(id, NCOLS);

        CHECK(s != NULL);
        for (int i = 0; i < NCOLS; i++) {
                struct zetl_column c = { .name = (char *)cols[i].name,
                                         .type = cols[i].type,
                                         .key_pos = i == 0,
                                         .scale = -1,
                                         .nullable = i > 0,
                                         .source_id = (uint32_t)i + 1 };
                CHECK(zetl_schema_set_col(s, i, &c) == 0);
        }
        CHECK(zetl_schema_finish(s, NULL) == 0);
        s->version = 1;
        return s;
}

#define NROWS 7

/* Row r's cell of column c: NULL, unchanged (updates only) or a value. */
static void set_cell(struct zetl_batch *b, int c, int r)
{
        static const char *const str[] = { "", "a", "B", "\xc3\xa9t\xc3\xa9", "a%_\\", "zz" };
        static const char *const dec[] = { "0",   "-1.50", "19.99",
                                           "NaN", "1e",    "123456789012345678901234.5" };
        struct zetl_err e;
        uint8_t u[16];
        int k = (r * 7 + c * 3) % 6;

        if (c > 0 && k == 5 && r != 0) {
                zetl_batch_set_null(b, c);
                return;
        }
        if (c > 0 && b->ops[b->cur] == ZETL_OP_UPDATE && k == 4) {
                CHECK(zetl_batch_set_unchanged(b, c, &e) == 0);
                return;
        }
        switch (cols[c].type) {
        case ZETL_T_INT16:
                zetl_batch_set_i16(b, c, (int16_t)(k * 1000 - 32768 * (k == 3)));
                break;
        case ZETL_T_INT32:
        case ZETL_T_DATE:
                zetl_batch_set_i32(b, c, k * 100000 - 7);
                break;
        case ZETL_T_INT64:
        case ZETL_T_TIME:
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                zetl_batch_set_i64(b, c, c == 0 ? r : (int64_t)k * 3600000000LL - (k == 2));
                break;
        case ZETL_T_FLOAT32:
                zetl_batch_set_f32(b, c, (float)k / 10.0f);
                break;
        case ZETL_T_FLOAT64:
                zetl_batch_set_f64(b, c, k == 3 ? NAN : (double)k * 1e300);
                break;
        case ZETL_T_BOOL:
                zetl_batch_set_bool(b, c, k & 1);
                break;
        case ZETL_T_UUID:
                memset(u, k * 51, sizeof(u));
                zetl_batch_set_uuid(b, c, u);
                break;
        case ZETL_T_DECIMAL:
                CHECK(zetl_batch_set_var(b, c, dec[k], strlen(dec[k]), &e) == 0);
                break;
        default:
                CHECK(zetl_batch_set_var(b, c, str[k], strlen(str[k]), &e) == 0);
                break;
        }
}

/* Rows of every operation, an update that changes its key among them. */
static struct zetl_batch *mk_batch(const struct zetl_schema *s)
{
        static const enum zetl_op ops[NROWS] = { ZETL_OP_SNAPSHOT, ZETL_OP_INSERT, ZETL_OP_UPDATE,
                                                 ZETL_OP_UPDATE,   ZETL_OP_DELETE, ZETL_OP_INSERT,
                                                 ZETL_OP_UPDATE };
        struct zetl_batch *b = zetl_batch_new(s, 0);
        struct zetl_err e;

        CHECK(b != NULL);
        for (int r = 0; r < NROWS; r++) {
                CHECK(zetl_batch_row_begin(b, ops[r], (uint64_t)r, &e) == 0);
                for (int c = 0; c < NCOLS; c++)
                        set_cell(b, c, r);
                if (r == 3) {
                        CHECK(zetl_batch_old_key_begin(b, &e) == 0);
                        zetl_batch_set_i64(b->old, 0, 99);
                }
                zetl_batch_row_end(b);
        }
        return b;
}

static bool any_unchanged(const struct zetl_batch *b, uint32_t r)
{
        for (int c = 0; c < b->schema->ncols; c++)
                if (zetl_batch_is_unchanged(b, c, r))
                        return true;
        return false;
}

/* The filter's rules for the table: checked, prepared, applied. */
static void rules_probe(const struct zetl_filter *f, const struct zetl_table_id *id)
{
        struct zetl_schema *s;
        struct zetl_batch *b;
        struct zetl_err err = { 0 };
        const struct zetl_schema *sink = NULL;
        char *rules = NULL, *where = NULL, *list = NULL;
        bool must[NCOLS] = { true };
        int rc;

        CHECK(zetl_filter_table_rules(f, id, &rules) == 0);
        CHECK(rules != NULL);
        CHECK((rules[0] != '\0') == zetl_filter_transforms(f, id));
        free(rules);
        if (!zetl_filter_transforms(f, id))
                return;
        s = mk_schema(id);
        rc = zetl_filter_check_schema(f, s, &err);
        CHECK(rc == 0 || rc == ZETL_EINVAL);
        rc = zetl_filter_prepare(f, s, &sink, &err);
        CHECK(rc == 0 || rc == ZETL_ETABLE);
        if (rc == 0) {
                CHECK(sink->ncols <= s->ncols && sink->ncols > 0);
                CHECK(zetl_filter_sink_schema(f, s) == sink);
                /* strict, like zetl_filter_check_schema: a column missing from
                 * a list is an error there, a warning here */
                rc = zetl_filter_pg_pushdown(f, s, NULL, must, &where, &list, &err);
                CHECK(rc == 0 || rc == ZETL_EINVAL);
                CHECK(rc == 0 || (where == NULL && list == NULL));
                free(where);
                free(list);
        }
        b = mk_batch(s);
        rc = zetl_filter_apply(f, &b, &err);
        CHECK(rc == 0 || rc == ZETL_ETABLE);
        if (rc == 0 && b) {
                CHECK(b->nrows > 0 && b->nrows <= NROWS);
                CHECK(b->schema->ncols <= s->ncols);
                for (uint32_t r = 0; r < b->nrows; r++)
                        CHECK(b->ops[r] <= ZETL_OP_DELETE);
        }
        if (rc)
                CHECK(b == NULL);
        zetl_batch_free(b);
        zetl_schema_unref(s);
}

static void probe(const struct zetl_filter *f, const struct zetl_table_id *id)
{
        bool in = zetl_filter_table(f, id);

        CHECK(zetl_filter_table(f, id) == in);
        if (zetl_filter_npatterns(f) == 0)
                CHECK(in);
        rules_probe(f, id);
}

/* The input as a bare condition. */
static void fuzz_condition(const char *text)
{
        struct zetl_table_id id;
        struct fx_node *n = NULL, *n2 = NULL;
        struct fx_prog *p = NULL;
        struct fx_error e = { 0 };
        struct zetl_err err;
        size_t end = 0;
        int rc;

        rc = fx_parse(text, 0, &end, &n, &e);
        CHECK(rc == 0 || rc == ZETL_EINVAL || rc == ZETL_ENOMEM);
        if (rc) {
                CHECK(n == NULL && e.msg[0] != '\0' && e.at <= strlen(text));
                return;
        }
        CHECK(end <= strlen(text));
        /* The canonical text is a fixed point. */
        char *canon = fx_text(n, text);
        CHECK(canon != NULL);
        CHECK(fx_parse(canon, 0, NULL, &n2, &e) == 0);
        char *canon2 = fx_text(n2, canon);
        CHECK(canon2 != NULL && strcmp(canon, canon2) == 0);
        free(canon2);
        fx_free(n2);
        free(canon);

        CHECK(zetl_table_id_set(&id, "db", "public", "t") == 0);
        struct zetl_schema *s = mk_schema(&id);
        rc = fx_compile(n, text, s, &p, &e);
        CHECK(rc == 0 || rc == ZETL_EINVAL || rc == ZETL_ENOMEM);
        if (rc == 0) {
                struct zetl_batch *b = mk_batch(s);
                uint8_t out[NROWS];
                char *sql = NULL;

                CHECK(fx_eval(p, b, out, &err) == 0);
                for (uint32_t r = 0; r < b->nrows; r++) {
                        CHECK(out[r] >= 1 && out[r] <= FX_ANY);
                        if (!any_unchanged(b, r))
                                CHECK(out[r] == FX_TRUE || out[r] == FX_FALSE || out[r] == FX_NULL);
                }
                CHECK(fx_prog_pg_sql(p, s, NULL, &sql) == 0);
                free(sql);
                zetl_batch_free(b);
                fx_prog_free(p);
        } else {
                CHECK(p == NULL && e.msg[0] != '\0');
        }
        zetl_schema_unref(s);
        fx_free(n);
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
        fuzz_condition(text);
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
                /* rows: and columns: rules, and bare conditions */
                ("include: db.*.*\nrows: db.public.t: p < 20 AND s LIKE 'a%' # cheap\n"
                 "columns: db.public.t: exclude x, \"j\"\n"),
                ("rows: db.public.t:\n    (a BETWEEN -1 AND 5 OR b NOT IN (1, 2.5, NULL))\n"
                 "\tAND NOT ok IS NOT TRUE\ncolumns: db.*.*: include id, s, `p`\n"),
                "rows: db.t: c > 9007199254740993 AND g = 'NaN'\ncolumns: db.t: exclude f\n",
                "rows: db.public.t: s ILIKE '\xc3\x89%' ESCAPE '!'\n",
                "columns: db.public.t: exclude id\n",
                "rows: db.public.t: nope = 1\n",
                ("d >= DATE '2024-01-01' AND t < TIME '12:00:00' AND ts <= TIMESTAMP "
                 "'2024-01-01 00:00:00' OR tz > TIMESTAMPTZ '2024-01-01 00:00:00+02'"),
                "u = UUID 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' OR x = X'00ff' OR j IS NULL",
                "(p = 1e3 OR f <= .5) IS NOT UNKNOWN AND a < b AND p > c AND g > a",
                "s NOT LIKE '%\\%%' AND s >= 'B' AND \"s\" <> 'it''s'",
                "NOT NOT NOT ok = FALSE OR NULL IS NULL",
                "a = = 1",
                "p IN (1, 'NaN', -Infinity)",
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
