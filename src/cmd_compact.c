/*
 * `zetl compact NAME [--table DB.SCHEMA.TABLE] [--expire-older-than DURATION]
 * [--dry-run] [--force]`: compact the Iceberg tables of an integration
 * (fold the equality deletes into new data files of the target size, so
 * that readers without delete support read current data), expire old
 * snapshots and delete the files nothing references (ice_compact.h).
 *
 * It runs beside `zetl run` of the same integration: it reads the
 * definition without taking the integration's run lock, and every table
 * change goes through Iceberg's optimistic commit (a race with the sink is
 * retried by ice_compact_table). Two compactions of one table exclude each
 * other with a lock of the table's own.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../connectors/iceberg/ice_compact.h"
#include "../connectors/iceberg/ice_meta.h"
#include "cli.h"
#include "zetl/config.h"

static const char compact_usage[] =
        "Usage: zetl compact NAME [--table DB.SCHEMA.TABLE] [--expire-older-than DURATION]\n"
        "                    [--dry-run] [--force]\n\n"
        "Compact the Iceberg tables of integration NAME: rewrite each table's live rows\n"
        "into data files of the target size with the equality deletes applied, so that\n"
        "the table has no delete file left; then expire old snapshots and delete the\n"
        "files no snapshot references. Safe while 'zetl run NAME' is running.\n\n"
        "  --table DB.SCHEMA.TABLE  only this table (DB.TABLE for MySQL sources)\n"
        "  --expire-older-than DURATION\n"
        "                         expire snapshots older than this (e.g. 30m, 12h, 7d; a\n"
        "                         bare number is seconds; 0 keeps only the current one and\n"
        "                         its parent); default: the integration's option\n"
        "                         iceberg-snapshot-retention-ms, else 1h\n"
        "  --dry-run              report what would be done, change nothing\n"
        "  --force                rewrite even a table that is already one file without\n"
        "                         deletes\n\n"
        "Integration options used: iceberg-target-file-size (134217728),\n"
        "iceberg-row-group-bytes (33554432), iceberg-snapshot-retention-ms (3600000).\n"
        "Exit 0 when every table is done (a table another compaction holds is skipped),\n"
        "1 when one failed, 2 for usage errors or a target that is not "
        "iceberg:.\n\n" CLI_GLOBAL_HELP;

/* "90", "90s", "1500ms", "30m", "12h", "7d", "2w" -> milliseconds. */
static int parse_duration(const char *s, int64_t *ms)
{
        static const struct {
                const char *unit;
                int64_t ms;
        } units[] = { { "", 1000 },     { "ms", 1 },       { "s", 1000 },     { "m", 60000 },
                      { "h", 3600000 }, { "d", 86400000 }, { "w", 604800000 } };
        char *end;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (end == s || v < 0 || errno)
                return -1;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (strcmp(end, units[i].unit) == 0) {
                        if (v > INT64_MAX / units[i].ms)
                                return -1;
                        *ms = v * units[i].ms;
                        return 0;
                }
        return -1;
}

/* The warehouse directory of an iceberg: target, absolute, as the sink makes it. */
static int warehouse_of(const char *uri, char *buf, size_t len)
{
        const char *p = uri + 8;
        char cwd[PATH_MAX];
        int n;

        if (strncmp(p, "//", 2) == 0)
                p += 2;
        if (p[0] == '/') {
                n = snprintf(buf, len, "%s", p);
        } else {
                if (!getcwd(cwd, sizeof(cwd)))
                        return -1;
                n = snprintf(buf, len, "%s/%s", cwd, p);
        }
        if (n < 0 || (size_t)n >= len)
                return -1;
        while (n > 1 && buf[n - 1] == '/')
                buf[--n] = '\0';
        return 0;
}

/* DB.SCHEMA.TABLE or DB.TABLE under root. */
static int table_dir_of(const char *root, const char *name, char *buf, size_t len)
{
        const char *parts[3];
        size_t lens[3], at;
        int n = 0;
        const char *p = name;

        for (;;) {
                const char *dot = strchr(p, '.');
                if (n == 3)
                        return -1;
                parts[n] = p;
                lens[n] = dot ? (size_t)(dot - p) : strlen(p);
                n++;
                if (!dot)
                        break;
                p = dot + 1;
        }
        if (n < 2)
                return -1;
        at = strlen(root);
        if (at + 1 >= len)
                return -1;
        memcpy(buf, root, at + 1);
        for (int i = 0; i < n; i++) {
                if (at + 2 >= len)
                        return -1;
                buf[at++] = '/';
                if (ice_dir_component(buf, len, &at, parts[i], lens[i]))
                        return -1;
        }
        return 0;
}

static bool is_table(const char *dir)
{
        char path[PATH_MAX];
        struct stat st;

        if (snprintf(path, sizeof(path), "%s/metadata/version-hint.text", dir) >= (int)sizeof(path))
                return false;
        return stat(path, &st) == 0;
}

struct tables {
        char **v;
        int n, cap;
};

static int tables_add(struct tables *t, const char *dir)
{
        if (t->n == t->cap) {
                int n = t->cap ? t->cap * 2 : 16;
                char **v = realloc(t->v, (size_t)n * sizeof(*v));
                if (!v)
                        return -1;
                t->v = v;
                t->cap = n;
        }
        if (!(t->v[t->n] = strdup(dir)))
                return -1;
        t->n++;
        return 0;
}

/* Table directories under dir, depth levels down (the sink's layouts are
 * <db>/<table> and <db>/<schema>/<table>). */
static int find_tables(const char *dir, int depth, struct tables *t)
{
        DIR *d;
        struct dirent *e;
        char path[PATH_MAX];
        struct stat st;
        int rc = 0;

        if (depth > 0 && is_table(dir))
                return tables_add(t, dir);
        if (depth == 3 || !(d = opendir(dir)))
                return 0;
        while (rc == 0 && (e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.' ||
                    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
                        continue;
                if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
                        rc = find_tables(path, depth + 1, t);
        }
        closedir(d);
        return rc;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Does the table belong to integration name (its current snapshot says so,
 * or it says nothing)? */
static bool belongs(const char *dir, const char *name)
{
        struct ice_meta *m = NULL;
        struct zetl_err err;
        const struct ice_snapshot *sn;
        const char *who;
        bool ok;

        if (ice_meta_load(dir, &m, &err))
                return true; /* let the compaction report the problem */
        sn = ice_meta_snapshot(m, -1);
        who = sn ? ice_snapshot_get(sn, ICE_SUMMARY_INTEGRATION) : NULL;
        ok = !who || strcmp(who, name) == 0;
        ice_meta_free(m);
        return ok;
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Compact and maintain one table; prints its line. Returns 0, 1 (failed). */
static int do_table(const char *root, const char *dir, const struct ice_compact_opts *o)
{
        struct ice_compact_result r;
        struct zetl_err err = { 0 };
        const char *rel = dir + strlen(root) + (dir[strlen(root)] == '/');
        double t0 = now_s();
        int rc;

        rc = ice_compact_table(dir, o, &r, &err);
        if (rc == ZETL_ESTATE) {
                printf("%s: skipped: %s\n", rel, err.msg);
                return 0;
        }
        if (rc) {
                fprintf(stderr, "zetl compact: %s: %s\n", rel, err.msg);
                return 1;
        }
        if (o->dry_run) {
                printf("%s: %s: %d data files, %d delete files, %" PRId64 " rows, %" PRId64
                       " deletes, %" PRId64 " bytes\n",
                       rel, r.compacted ? "would compact" : "nothing to compact",
                       r.data_files_before, r.delete_files_before, r.rows_before, r.delete_rows,
                       r.bytes_before);
        } else if (r.compacted) {
                printf("%s: files %d -> %d (%d data, %d delete), rows %" PRId64 " -> %" PRId64
                       " (%" PRId64 " deleted by %" PRId64 " deletes), bytes %" PRId64
                       " -> %" PRId64 ", %.2f s%s\n",
                       rel, r.data_files_before + r.delete_files_before, r.data_files_after,
                       r.data_files_before, r.delete_files_before, r.rows_before, r.rows_after,
                       r.rows_deleted, r.delete_rows, r.bytes_before, r.bytes_after, now_s() - t0,
                       r.commit_retries ? " (retried)" : "");
        } else {
                printf("%s: nothing to compact (%d data file%s, no delete files)\n", rel,
                       r.data_files_before, r.data_files_before == 1 ? "" : "s");
        }
        rc = ice_maintain_table(dir, o, &r, &err);
        if (rc) {
                fprintf(stderr, "zetl compact: %s: maintenance: %s\n", rel, err.msg);
                return 1;
        }
        printf("%s: %s %d snapshot%s, %s %d unreferenced file%s\n", rel,
               o->dry_run ? "would expire" : "expired", r.snapshots_expired,
               r.snapshots_expired == 1 ? "" : "s", o->dry_run ? "would remove" : "removed",
               r.files_removed, r.files_removed == 1 ? "" : "s");
        return 0;
}

/* The compaction options from the integration's options and the command line. */
static int compact_opts(const struct zetl_definition *d, int64_t expire_ms, bool dry, bool force,
                        struct ice_compact_opts *o, struct zetl_err *err)
{
        struct zetl_conn_cfg cfg = {
                .integration = d->name,
                .uri = d->target,
                .opts = d->opts,
                .nopts = d->nopts,
        };
        long long v;
        int rc;

        memset(o, 0, sizeof(*o));
        o->dry_run = dry;
        o->force = force;
        if ((rc = zetl_cfg_opt_int(&cfg, "iceberg-target-file-size", ICE_COMPACT_TARGET_DEFAULT,
                                   4096, INT64_C(1) << 40, &v, err)))
                return rc;
        o->target_file_bytes = v;
        if ((rc = zetl_cfg_opt_int(&cfg, "iceberg-row-group-bytes", ICE_COMPACT_ROW_GROUP_DEFAULT,
                                   4096, INT64_C(1) << 32, &v, err)))
                return rc;
        o->row_group_bytes = v;
        if (expire_ms < 0 &&
            (rc = zetl_cfg_opt_int(&cfg, "iceberg-snapshot-retention-ms",
                                   ICE_COMPACT_RETENTION_DEFAULT, 0, INT64_C(1) << 50, &v, err)))
                return rc;
        if (expire_ms < 0)
                expire_ms = v;
        /* ice_compact_opts: 0 means the default, negative "everything". */
        o->retention_ms = expire_ms == 0 ? -1 : expire_ms;
        return 0;
}

static int run_compact(int argc, char **argv, struct cli_globals *g)
{
        static const struct option longopts[] = {
                { "table", required_argument, NULL, 't' },
                { "expire-older-than", required_argument, NULL, 'e' },
                { "dry-run", no_argument, NULL, 'n' },
                { "force", no_argument, NULL, 'f' },
                CLI_GLOBAL_LONGOPTS,
                { NULL, 0, NULL, 0 },
        };
        const char *cmd = "compact", *table = NULL;
        bool dry = false, force = false;
        int64_t expire_ms = -1;
        struct zetl_catalog cat;
        struct zetl_definition d = { 0 };
        struct ice_compact_opts o;
        struct tables t = { 0 };
        struct zetl_err err = { 0 };
        char root[PATH_MAX], dir[PATH_MAX], red[1024];
        int rc = ZETL_EXIT_OK, c;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
                switch (c) {
                case 'h':
                        fputs(compact_usage, stdout);
                        return ZETL_EXIT_OK;
                case 't':
                        table = optarg;
                        break;
                case 'e':
                        if (parse_duration(optarg, &expire_ms))
                                return cli_usage_error(cmd, "--expire-older-than takes a duration "
                                                            "such as 90s, 30m, 12h or 7d");
                        break;
                case 'n':
                        dry = true;
                        break;
                case 'f':
                        force = true;
                        break;
                case ':':
                        return cli_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
                case '?':
                        return cli_usage_error(cmd, "unknown option \"%s\"", argv[optind - 1]);
                default:
                        if (cli_global_opt(cmd, c, optarg, g) < 0)
                                return ZETL_EXIT_USAGE;
                }
        }
        if (optind != argc - 1)
                return cli_usage_error(cmd, "expected one integration name");
        /* No run lock: compaction commits optimistically beside `zetl run`. */
        if (zetl_catalog_open(&cat, g->state_dir, &err) ||
            zetl_catalog_load(&cat, argv[optind], &d, &err))
                return cli_fail(cmd, &err);
        if (strncmp(d.target, "iceberg:", 8) != 0) {
                rc = cli_usage_error(cmd,
                                     "integration %s replicates into %s, not an iceberg: "
                                     "target",
                                     d.name, zetl_uri_redact(d.target, red, sizeof(red)));
                goto out;
        }
        if (compact_opts(&d, expire_ms, dry, force, &o, &err)) {
                rc = cli_fail(cmd, &err);
                goto out;
        }
        if (warehouse_of(d.target, root, sizeof(root))) {
                rc = cli_usage_error(cmd, "the warehouse path of %s is too long", d.name);
                goto out;
        }
        if (table) {
                if (table_dir_of(root, table, dir, sizeof(dir)))
                        rc = cli_usage_error(cmd, "--table takes DB.SCHEMA.TABLE or DB.TABLE");
                else if (!is_table(dir))
                        rc = (fprintf(stderr, "zetl compact: %s: no Iceberg table at %s\n", table,
                                      dir),
                              ZETL_EXIT_FAIL);
                else if (tables_add(&t, dir))
                        rc = (fputs("zetl compact: out of memory\n", stderr), ZETL_EXIT_FAIL);
                if (rc)
                        goto out;
        } else if (find_tables(root, 0, &t)) {
                fputs("zetl compact: out of memory\n", stderr);
                rc = ZETL_EXIT_FAIL;
                goto out;
        }
        if (t.n)
                qsort(t.v, (size_t)t.n, sizeof(char *), cmp_str);
        if (t.n == 0)
                printf("no Iceberg tables under %s\n", root);
        for (int i = 0; i < t.n; i++) {
                if (!table && !belongs(t.v[i], d.name))
                        continue;
                if (do_table(root, t.v[i], &o))
                        rc = ZETL_EXIT_FAIL;
        }
out:
        for (int i = 0; i < t.n; i++)
                free(t.v[i]);
        free(t.v);
        zetl_definition_free(&d);
        return rc;
}

const struct cli_cmd cli_compact = {
        .name = "compact",
        .summary = "compact an integration's Iceberg tables, expire snapshots, remove orphans",
        .usage = compact_usage,
        .run = run_compact,
};
