/*
 * `zetl check --source URI | --target URI [--fix]`: verify a source's or a
 * target's prerequisites without creating anything, print each item with
 * the statements that fix it, and with --fix apply the fixes that are safe
 * over the connection (the connector decides which; the rest is listed).
 * Exit 0 when nothing fails, 1 when something does, 2 for usage errors.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsutil.h"
#include "registry.h"
#include "zetl/check.h"
#include "zetl/config.h"
#include "zetl/filter.h"

#define FILTER_FILE_MAX (1 << 20)

static const char check_usage[] =
        "Usage: zetl check (--source URI | --target URI) [--fix] [--data-filter TEXT]\n"
        "                  [--filter-file FILE] [--output text|json]\n\n"
        "Verify what replication needs from a source or a target, without creating\n"
        "anything, and print what to change. Exit 0 when nothing fails, 1 otherwise.\n\n"
        "  --source URI         postgresql://..., mysql://...\n"
        "  --target URI         iceberg:PATH, postgresql://..., opensearch://..., jsonl:PATH\n"
        "  --fix                apply the fixes that are safe over the connection (e.g.\n"
        "                       REPLICA IDENTITY, a dynamic server variable) and check again;\n"
        "                       the others (e.g. wal_level, which needs a restart) are listed\n"
        "  --data-filter TEXT   check only the tables this filter selects (zetl-filters(5))\n"
        "  --filter-file FILE   the same, from a filter file\n"
        "  --output FORMAT      text (default) or json\n";

enum { OPT_SOURCE = 3000, OPT_TARGET, OPT_FIX, OPT_FILTER, OPT_FILTER_FILE, OPT_OUTPUT };

static void print_text(const char *uri, const struct zetl_check_report *r)
{
        char red[1024];

        printf("zetl check %s\n", zetl_uri_redact(uri, red, sizeof(red)));
        for (int i = 0; i < r->n; i++) {
                const struct zetl_check_item *it = &r->items[i];
                printf("%-5s %s: %s\n",
                       it->level == ZETL_CHECK_OK     ? "ok"
                       : it->level == ZETL_CHECK_WARN ? "WARN"
                                                      : "FAIL",
                       it->name, it->detail);
                if (it->fixed)
                        printf("      fixed by --fix: %s\n", it->fix_sql);
                else if (it->fix[0])
                        printf("      fix: %s%s\n", it->fix,
                               it->fix_sql[0] ? " (zetl check --fix can do it)" : "");
                if (it->fix_error[0])
                        printf("      --fix failed: %s\n", it->fix_error);
        }
        printf("%d ok, %d warning%s, %d failure%s\n", zetl_check_count(r, ZETL_CHECK_OK),
               zetl_check_count(r, ZETL_CHECK_WARN),
               zetl_check_count(r, ZETL_CHECK_WARN) == 1 ? "" : "s",
               zetl_check_count(r, ZETL_CHECK_FAIL),
               zetl_check_count(r, ZETL_CHECK_FAIL) == 1 ? "" : "s");
}

static void print_json(const char *uri, const struct zetl_check_report *r)
{
        char red[1024];
        json_t *items = json_array(), *o;

        for (int i = 0; i < r->n; i++) {
                const struct zetl_check_item *it = &r->items[i];
                json_array_append_new(
                        items, json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:b, s:s?}", "Name", it->name,
                                         "Level", zetl_check_level_name(it->level), "Detail",
                                         it->detail, "Fix", it->fix[0] ? it->fix : NULL, "FixSql",
                                         it->fix_sql[0] ? it->fix_sql : NULL, "Fixed", it->fixed,
                                         "FixError", it->fix_error[0] ? it->fix_error : NULL));
        }
        o = json_pack("{s:s, s:o, s:i, s:i, s:i}", "Uri", zetl_uri_redact(uri, red, sizeof(red)),
                      "Items", items, "Ok", zetl_check_count(r, ZETL_CHECK_OK), "Warnings",
                      zetl_check_count(r, ZETL_CHECK_WARN), "Failures",
                      zetl_check_count(r, ZETL_CHECK_FAIL));
        if (o) {
                json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                putchar('\n');
        }
        json_decref(o);
}

static int check_run(int argc, char **argv, struct cli_globals *g)
{
        static const struct option longopts[] = {
                { "source", required_argument, NULL, OPT_SOURCE },
                { "target", required_argument, NULL, OPT_TARGET },
                { "fix", no_argument, NULL, OPT_FIX },
                { "data-filter", required_argument, NULL, OPT_FILTER },
                { "filter-file", required_argument, NULL, OPT_FILTER_FILE },
                { "output", required_argument, NULL, OPT_OUTPUT },
                CLI_GLOBAL_LONGOPTS,
                { NULL, 0, NULL, 0 },
        };
        const char *cmd = "check", *source = NULL, *target = NULL, *data_filter = NULL,
                   *filter_path = NULL, *output = "text";
        bool fix = false;
        char *filter_text = NULL;
        struct zetl_filter *filter = NULL;
        struct zetl_check_report r = { 0 };
        struct zetl_conn_cfg cfg = { 0 };
        struct zetl_err err = { 0 };
        void *priv = NULL;
        int rc, c;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
                switch (c) {
                case 'h':
                        fputs(check_usage, stdout);
                        return ZETL_EXIT_OK;
                case OPT_SOURCE:
                        source = optarg;
                        break;
                case OPT_TARGET:
                        target = optarg;
                        break;
                case OPT_FIX:
                        fix = true;
                        break;
                case OPT_FILTER:
                        data_filter = optarg;
                        break;
                case OPT_FILTER_FILE:
                        filter_path = optarg;
                        break;
                case OPT_OUTPUT:
                        output = optarg;
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
        if (optind != argc)
                return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
        if (!source == !target)
                return cli_usage_error(cmd, "give one of --source URI or --target URI");
        if (strcmp(output, "text") != 0 && strcmp(output, "json") != 0)
                return cli_usage_error(cmd, "--output takes text or json");
        if (target && (data_filter || filter_path))
                return cli_usage_error(cmd, "filters apply to --source only");

        const char *uri = source ? source : target;
        const struct zetl_source_ops *src = NULL;
        const struct zetl_sink_ops *sink = NULL;
        if (source ? !(src = zetl_source_find(uri, &err)) : !(sink = zetl_sink_find(uri, &err)))
                return cli_fail(cmd, &err);
        if ((src ? src->parse(uri, &err) : sink->parse(uri, &err)) != 0)
                return cli_fail(cmd, &err);
        if (filter_path) {
                size_t len;
                if ((rc = zetl_file_read(filter_path, FILTER_FILE_MAX, &filter_text, &len, &err)))
                        return cli_usage_error(cmd, "--filter-file %s: %s", filter_path,
                                               rc == ZETL_ENOTFOUND ? "no such file" : err.msg);
        }
        if (zetl_filter_parse(data_filter, filter_path ? filter_path : "filter file", filter_text,
                              src ? src->filter_dialect : ZETL_FILTER_ANY, &filter, &err)) {
                rc = cli_fail(cmd, &err);
                goto out;
        }
        if (!(src ? src->check : sink->check)) {
                printf("zetl check: the %s %s has nothing to check beyond its URI, which is "
                       "valid\n",
                       src ? src->name : sink->name, src ? "source" : "target");
                rc = ZETL_EXIT_OK;
                goto out;
        }
        if (!(priv = calloc(1, src ? src->priv_size : sink->priv_size))) {
                zetl_err_set(&err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                rc = cli_fail(cmd, &err);
                goto out;
        }
        cfg.integration = "zetl-check";
        cfg.uri = uri;
        cfg.state_dir = NULL;
        cfg.filter = filter;
        rc = src ? src->check(priv, &cfg, fix, &r, &err) : sink->check(priv, &cfg, fix, &r, &err);
        if (rc) {
                rc = cli_fail(cmd, &err);
                goto out;
        }
        if (strcmp(output, "json") == 0)
                print_json(uri, &r);
        else
                print_text(uri, &r);
        rc = zetl_check_count(&r, ZETL_CHECK_FAIL) ? ZETL_EXIT_FAIL : ZETL_EXIT_OK;
out:
        zetl_check_report_free(&r);
        zetl_filter_free(filter);
        free(filter_text);
        free(priv);
        return rc;
}

const struct cli_cmd cli_check = {
        .name = "check",
        .summary = "verify a source's or target's prerequisites and print the fixes (--fix)",
        .usage = check_usage,
        .run = check_run,
};
