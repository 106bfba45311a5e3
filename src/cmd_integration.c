/*
 * create-integration, describe-integrations, modify-integration and
 * delete-integration: the catalog side of the command line. Secrets never
 * reach the output: every URI printed goes through zetl_uri_redact.
 */
#include <getopt.h>
#include <limits.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "registry.h"
#include "schema_store.h"
#include "zetl/filter.h"
#include "zetl/log.h"

#define FILTER_FILE_MAX ((size_t)1 << 20)

/* Options shared by create and modify. */
struct def_opts {
        const char *name, *source, *target, *data_filter, *filter_file, *description;
        struct zetl_option opts[64];
        int nopts;
        bool clear_filter;
};

static int add_option(const char *cmd, struct def_opts *o, const char *kv)
{
        const char *eq = strchr(kv, '=');

        if (!eq || eq == kv)
                return cli_usage_error(cmd, "--option takes KEY=VALUE, got \"%s\"", kv);
        if (o->nopts == (int)(sizeof(o->opts) / sizeof(o->opts[0])))
                return cli_usage_error(cmd, "too many --option");
        o->opts[o->nopts].key = strndup(kv, (size_t)(eq - kv));
        o->opts[o->nopts].value = strdup(eq + 1);
        o->nopts++;
        return 0;
}

static void def_opts_free(struct def_opts *o)
{
        for (int i = 0; i < o->nopts; i++) {
                free(o->opts[i].key);
                free(o->opts[i].value);
        }
}

/* Merge o's options into d (same key replaces; empty value removes). */
static int merge_options(struct zetl_definition *d, const struct def_opts *o)
{
        for (int i = 0; i < o->nopts; i++) {
                int j;
                for (j = 0; j < d->nopts; j++)
                        if (strcmp(d->opts[j].key, o->opts[i].key) == 0)
                                break;
                if (j == d->nopts) {
                        if (!o->opts[i].value[0])
                                continue;
                        struct zetl_option *n =
                                realloc(d->opts, (size_t)(d->nopts + 1) * sizeof(*n));
                        if (!n)
                                return ZETL_ENOMEM;
                        d->opts = n;
                        d->opts[j].key = strdup(o->opts[i].key);
                        d->opts[j].value = NULL;
                        d->nopts++;
                }
                free(d->opts[j].value);
                if (!o->opts[i].value[0]) {
                        free(d->opts[j].key);
                        d->opts[j] = d->opts[--d->nopts];
                        continue;
                }
                d->opts[j].value = strdup(o->opts[i].value);
        }
        return 0;
}

/* Parse the definition's filters with the source's dialect. */
static int load_filter(const struct zetl_definition *d, const struct zetl_source_ops *src,
                       struct zetl_filter **out, struct zetl_err *err)
{
        return zetl_filter_parse(d->data_filter, d->filter_file ? d->filter_file : "filter file",
                                 d->filter_text, src->filter_dialect, out, err);
}

static void conn_cfg(struct zetl_conn_cfg *c, const struct zetl_definition *d, const char *uri,
                     const char *idir, const struct zetl_filter *f)
{
        memset(c, 0, sizeof(*c));
        c->integration = d->name;
        c->uri = uri;
        c->state_dir = idir;
        c->filter = f;
        c->opts = d->opts;
        c->nopts = d->nopts;
}

static const char *time_text(int64_t unix_s, char *buf, size_t len)
{
        time_t t = (time_t)unix_s;
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return buf;
}

static json_t *redacted(const char *uri)
{
        char buf[4096];

        return uri ? json_string(zetl_uri_redact(uri, buf, sizeof(buf))) : json_null();
}

static json_t *describe_one(const struct zetl_catalog *cat, const struct zetl_definition *d)
{
        char idir[PATH_MAX], when[40], tname[ZETL_NAME_MAX * 3];
        struct zetl_status st = { 0 };
        struct zetl_checkpoint ck = { 0 };
        struct zetl_err err;
        json_t *o, *tables, *opts;
        bool found;

        zetl_catalog_path(cat, d->name, idir, sizeof(idir));
        if (zetl_status_load(idir, &st, &found, &err))
                st.state = ZETL_STATE_FAILED;
        zetl_checkpoint_load(idir, &ck, &found, &err);
        /* A pid in the status whose process is gone means the run crashed. */
        bool running = st.pid > 0 && kill(st.pid, 0) == 0;

        opts = json_object();
        for (int i = 0; i < d->nopts; i++) {
                /* Redact "key=value" as a whole, so a key like "password"
                 * hides its value as well as a URI's password does. */
                char kv[4096], red[4096];
                size_t klen = strlen(d->opts[i].key);
                snprintf(kv, sizeof(kv), "%s=%s", d->opts[i].key, d->opts[i].value);
                zetl_uri_redact(kv, red, sizeof(red));
                json_object_set_new(opts, d->opts[i].key,
                                    json_string(strlen(red) > klen ? red + klen + 1 : ""));
        }
        tables = json_array();
        for (int i = 0; i < st.ntables; i++) {
                const struct zetl_table_status *t = &st.tables[i];
                json_array_append_new(tables,
                                      json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:s?}", "Table",
                                                zetl_table_id_str(&t->id, tname, sizeof(tname)),
                                                "Status", zetl_table_state_name(t->state),
                                                "RowsSnapshot", (json_int_t)t->rows_snapshot,
                                                "RowsInserted", (json_int_t)t->rows_inserted,
                                                "RowsUpdated", (json_int_t)t->rows_updated,
                                                "RowsDeleted", (json_int_t)t->rows_deleted, "Bytes",
                                                (json_int_t)t->bytes, "LastError", t->last_error));
        }
        o = json_pack("{s:s,s:s,s:o,s:o,s:s?,s:s?,s:s?,s:s,s:o,s:b}", "IntegrationName", d->name,
                      "Status", zetl_state_name(st.state), "Source", redacted(d->source), "Target",
                      redacted(d->target), "Description", d->description, "DataFilter",
                      d->data_filter, "FilterFile", d->filter_file, "CreateTime",
                      time_text(d->created_at, when, sizeof(when)), "Options", opts, "Running",
                      running);
        json_object_set_new(o, "LagSeconds",
                            st.lag_seconds >= 0 ? json_real(st.lag_seconds) : json_null());
        json_object_set_new(o, "LagBytes",
                            st.lag_bytes >= 0 ? json_integer(st.lag_bytes) : json_null());
        json_object_set_new(o, "SnapshotDone", json_boolean(ck.snapshot_done));
        json_object_set_new(o, "CommittedPosition",
                            zetl_pos_is_set(&ck.committed) ? json_string(ck.committed.token)
                                                           : json_null());
        json_object_set_new(o, "LastError",
                            st.last_error ? json_string(st.last_error) : json_null());
        json_object_set_new(o, "Tables", tables);
        zetl_status_free(&st);
        return o;
}

static void print_json(json_t *o)
{
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

        if (s) {
                puts(s);
                free(s);
        }
}

static void print_table(json_t *list)
{
        size_t i;
        json_t *o;

        printf("%-24s %-16s %-10s %-8s %s\n", "NAME", "STATUS", "LAG", "TABLES", "LAST ERROR");
        json_array_foreach(list, i, o)
        {
                char lag[32] = "-";
                json_t *l = json_object_get(o, "LagSeconds");
                if (json_is_number(l))
                        snprintf(lag, sizeof(lag), "%.1fs", json_number_value(l));
                const char *e = json_string_value(json_object_get(o, "LastError"));
                printf("%-24s %-16s %-10s %-8zu %s\n",
                       json_string_value(json_object_get(o, "IntegrationName")),
                       json_string_value(json_object_get(o, "Status")), lag,
                       json_array_size(json_object_get(o, "Tables")), e ? e : "-");
        }
}

static int read_filter_file(const char *cmd, const char *path, char **out)
{
        struct zetl_err err;
        size_t len;
        int rc = zetl_file_read(path, FILTER_FILE_MAX, out, &len, &err);

        if (rc == ZETL_ENOTFOUND)
                return cli_usage_error(cmd, "--filter-file %s: no such file", path);
        if (rc)
                return cli_usage_error(cmd, "--filter-file %s: %s", path, err.msg);
        return 0;
}

/* "scheme:relative/path" (jsonl:, iceberg:) as "scheme:/cwd/relative/path":
 * zetl run may start in another directory (a service's is /). Other URIs,
 * "jsonl:-" and absolute paths are copied as they are. NULL: out of memory. */
static char *absolute_path_uri(const char *uri)
{
        static const char *const schemes[] = { "jsonl:", "iceberg:", NULL };
        char cwd[PATH_MAX], *out;

        for (const char *const *sc = schemes; *sc; sc++) {
                size_t n = strlen(*sc);
                const char *path = uri + n;
                if (strncmp(uri, *sc, n) != 0 || !*path || *path == '/' || strcmp(path, "-") == 0 ||
                    !getcwd(cwd, sizeof(cwd)))
                        continue;
                if (asprintf(&out, "%s%s/%s", *sc, cwd, path) < 0)
                        return NULL;
                return out;
        }
        return strdup(uri);
}

enum {
        OPT_NAME = 2000,
        OPT_SOURCE,
        OPT_TARGET,
        OPT_FILTER,
        OPT_FILTER_FILE,
        OPT_DESC,
        OPT_OPTION,
        OPT_IDENT,
        OPT_OUTPUT,
        OPT_NO_FILTER
};

/* Parse argv for create/modify/describe/delete. Returns 0, or an exit code. */
static int parse_def_opts(const char *cmd, int argc, char **argv, struct def_opts *o,
                          struct cli_globals *g, const char **output, const char *usage)
{
        static const struct option longopts[] = {
                { "integration-name", required_argument, NULL, OPT_NAME },
                { "integration-identifier", required_argument, NULL, OPT_IDENT },
                { "source", required_argument, NULL, OPT_SOURCE },
                { "target", required_argument, NULL, OPT_TARGET },
                { "data-filter", required_argument, NULL, OPT_FILTER },
                { "no-data-filter", no_argument, NULL, OPT_NO_FILTER },
                { "filter-file", required_argument, NULL, OPT_FILTER_FILE },
                { "description", required_argument, NULL, OPT_DESC },
                { "option", required_argument, NULL, OPT_OPTION },
                { "output", required_argument, NULL, OPT_OUTPUT },
                CLI_GLOBAL_LONGOPTS,
                { NULL, 0, NULL, 0 },
        };
        int c, rc;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
                switch (c) {
                case 'h':
                        fputs(usage, stdout);
                        return -1;
                case OPT_NAME:
                case OPT_IDENT:
                        o->name = optarg;
                        break;
                case OPT_SOURCE:
                        o->source = optarg;
                        break;
                case OPT_TARGET:
                        o->target = optarg;
                        break;
                case OPT_FILTER:
                        o->data_filter = optarg;
                        break;
                case OPT_NO_FILTER:
                        o->clear_filter = true;
                        break;
                case OPT_FILTER_FILE:
                        o->filter_file = optarg;
                        break;
                case OPT_DESC:
                        o->description = optarg;
                        break;
                case OPT_OPTION:
                        if ((rc = add_option(cmd, o, optarg)))
                                return rc;
                        break;
                case OPT_OUTPUT:
                        if (!output)
                                return cli_usage_error(cmd, "unknown option --output");
                        if (strcmp(optarg, "json") && strcmp(optarg, "table"))
                                return cli_usage_error(cmd, "--output must be json or table");
                        *output = optarg;
                        break;
                case ':':
                        return cli_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
                case '?':
                        return cli_usage_error(cmd, "unknown option \"%s\"", argv[optind - 1]);
                default:
                        rc = cli_global_opt(cmd, c, optarg, g);
                        if (rc < 0)
                                return ZETL_EXIT_USAGE;
                        break;
                }
        }
        if (optind < argc)
                return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
        return 0;
}

static int open_catalog(const char *cmd, struct cli_globals *g, struct zetl_catalog *cat)
{
        struct zetl_err err;

        if (zetl_catalog_open(cat, g->state_dir, &err))
                return cli_fail(cmd, &err);
        return 0;
}

int cli_integration_open(const char *cmd, const struct cli_globals *g, const char *name,
                         struct cli_integration *it)
{
        struct zetl_err err;

        memset(it, 0, sizeof(*it));
        it->lock = -1;
        if (zetl_catalog_open(&it->cat, g->state_dir, &err) ||
            zetl_catalog_load(&it->cat, name, &it->d, &err) ||
            zetl_catalog_lock(&it->cat, name, &it->lock, &err) ||
            !(it->src = zetl_source_find(it->d.source, &err)) ||
            !(it->sink = zetl_sink_find(it->d.target, &err)) ||
            load_filter(&it->d, it->src, &it->f, &err))
                return cli_fail(cmd, &err);
        zetl_catalog_path(&it->cat, it->d.name, it->idir, sizeof(it->idir));
        return 0;
}

void cli_integration_close(struct cli_integration *it)
{
        if (it->lock >= 0)
                close(it->lock);
        zetl_filter_free(it->f);
        zetl_definition_free(&it->d);
        memset(it, 0, sizeof(*it));
        it->lock = -1;
}

void cli_conn_cfg(struct zetl_conn_cfg *c, const struct cli_integration *it, const char *uri,
                  bool once)
{
        conn_cfg(c, &it->d, uri, it->idir, it->f);
        c->once = once;
}

static int set_state(const struct zetl_catalog *cat, const char *name, enum zetl_state s,
                     const char *last_error)
{
        char idir[PATH_MAX];
        struct zetl_status st = { 0 };
        struct zetl_err err;
        bool found;
        int rc;

        zetl_catalog_path(cat, name, idir, sizeof(idir));
        if ((rc = zetl_status_load(idir, &st, &found, &err)))
                return rc;
        st.state = s;
        if (last_error) {
                free(st.last_error);
                st.last_error = strdup(last_error);
        }
        rc = zetl_status_save(idir, &st, &err);
        zetl_status_free(&st);
        return rc;
}

/* ---- create-integration --------------------------------------------------- */

static const char create_usage[] =
        "Usage: zetl create-integration --integration-name NAME --source URI --target URI\n"
        "                               [--data-filter TEXT] [--filter-file FILE]\n"
        "                               [--description TEXT] [--option KEY=VALUE]...\n\n"
        "Create an integration: check the source and target, set up what replication\n"
        "needs on them, and record the definition in the state directory. Start it\n"
        "with 'zetl run NAME'.\n\n"
        "  --integration-name NAME  a letter, then letters, digits and single hyphens (<= 63)\n"
        "  --source URI             postgresql://..., mysql://..., jsonl:FILE\n"
        "  --target URI             iceberg:PATH, postgresql://..., opensearch://...,\n"
        "                           jsonl:PATH, jsonl:-, null:\n"
        "  --data-filter TEXT       'include: db.schema.table, exclude: ...' (see "
        "zetl-filters(5))\n"
        "  --filter-file FILE       table, row and column filters (read now and stored)\n"
        "  --description TEXT       free text\n"
        "  --option KEY=VALUE       integration options (flush-rows, flush-interval-ms, "
        "...)\n\n" CLI_GLOBAL_HELP;

static int create_run(int argc, char **argv, struct cli_globals *g)
{
        const char *cmd = "create-integration";
        struct def_opts o = { 0 };
        struct zetl_definition d = { 0 };
        struct zetl_catalog cat;
        struct zetl_filter *f = NULL;
        const struct zetl_source_ops *src;
        const struct zetl_sink_ops *sink;
        struct zetl_conn_cfg scfg, kcfg;
        char idir[PATH_MAX];
        void *spriv = NULL, *kpriv = NULL;
        bool src_setup = false;
        struct zetl_err err = { 0 };
        int rc;

        if ((rc = parse_def_opts(cmd, argc, argv, &o, g, NULL, create_usage)))
                goto out_opts;
        if (!o.name || !o.source || !o.target) {
                rc = cli_usage_error(cmd, "--integration-name, --source and --target are required");
                goto out_opts;
        }
        if (zetl_integration_name_check(o.name, &err) ||
            !(src = zetl_source_find(o.source, &err)) || !(sink = zetl_sink_find(o.target, &err))) {
                rc = cli_fail(cmd, &err);
                goto out_opts;
        }
        snprintf(d.name, sizeof(d.name), "%s", o.name);
        d.source = absolute_path_uri(o.source);
        d.target = absolute_path_uri(o.target);
        d.description = o.description ? strdup(o.description) : NULL;
        d.data_filter = o.data_filter ? strdup(o.data_filter) : NULL;
        d.filter_file = o.filter_file ? strdup(o.filter_file) : NULL;
        d.created_at = (int64_t)time(NULL);
        if (o.filter_file && (rc = read_filter_file(cmd, o.filter_file, &d.filter_text)))
                goto out_def;
        if (merge_options(&d, &o)) {
                rc = ZETL_EXIT_FAIL;
                goto out_def;
        }
        if (load_filter(&d, src, &f, &err)) {
                rc = cli_fail(cmd, &err);
                goto out_def;
        }
        if ((rc = open_catalog(cmd, g, &cat)))
                goto out_filter;
        if (zetl_catalog_create(&cat, &d, &err)) {
                rc = cli_fail(cmd, &err);
                goto out_filter;
        }
        zetl_catalog_path(&cat, d.name, idir, sizeof(idir));
        conn_cfg(&scfg, &d, d.source, idir, f);
        conn_cfg(&kcfg, &d, d.target, idir, f);
        spriv = calloc(1, src->priv_size ? src->priv_size : 1);
        kpriv = calloc(1, sink->priv_size ? sink->priv_size : 1);
        if (!spriv || !kpriv) {
                zetl_err_set(&err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto undo;
        }
        if (src->setup(spriv, &scfg, &err)) {
                zetl_err_prefix(&err, "source: ");
                goto undo;
        }
        src_setup = true;
        if (sink->setup(kpriv, &kcfg, &err)) {
                zetl_err_prefix(&err, "target: ");
                goto undo;
        }
        zlog_info("created integration %s", d.name);
        json_t *one = describe_one(&cat, &d);
        print_json(one);
        json_decref(one);
        rc = ZETL_EXIT_OK;
        goto out_priv;
undo:
        /* Leave nothing half-made behind: what setup created is removed. */
        if (src_setup) {
                struct zetl_err e2;
                memset(spriv, 0, src->priv_size);
                if (src->teardown(spriv, &scfg, &e2))
                        zlog_warn("could not undo the source's setup: %s", e2.msg);
        }
        zetl_catalog_remove(&cat, d.name, NULL);
        rc = cli_fail(cmd, &err);
out_priv:
        free(spriv);
        free(kpriv);
out_filter:
        zetl_filter_free(f);
out_def:
        zetl_definition_free(&d);
out_opts:
        def_opts_free(&o);
        return rc < 0 ? ZETL_EXIT_OK : rc;
}

const struct cli_cmd cli_create = {
        .name = "create-integration",
        .summary = "create an integration from a source to a target",
        .usage = create_usage,
        .run = create_run,
};

/* ---- describe-integrations ------------------------------------------------ */

static const char describe_usage[] =
        "Usage: zetl describe-integrations [--integration-identifier NAME] [--output "
        "json|table]\n\n"
        "Show integrations: state, lag, committed position, per-table status and the\n"
        "last error. Passwords in URIs are shown as ***.\n\n" CLI_GLOBAL_HELP;

static int describe_run(int argc, char **argv, struct cli_globals *g)
{
        const char *cmd = "describe-integrations", *output = "json";
        struct def_opts o = { 0 };
        struct zetl_catalog cat;
        struct zetl_err err;
        char **names = NULL;
        int n = 0, rc;
        json_t *list;

        if ((rc = parse_def_opts(cmd, argc, argv, &o, g, &output, describe_usage)))
                goto out;
        if (o.source || o.target || o.data_filter || o.filter_file || o.description || o.nopts) {
                rc = cli_usage_error(cmd, "only --integration-identifier and --output apply");
                goto out;
        }
        if ((rc = open_catalog(cmd, g, &cat)))
                goto out;
        if (o.name) {
                names = malloc(sizeof(*names));
                names[0] = strdup(o.name);
                n = 1;
        } else if (zetl_catalog_list(&cat, &names, &n, &err)) {
                rc = cli_fail(cmd, &err);
                goto out;
        }
        list = json_array();
        for (int i = 0; i < n; i++) {
                struct zetl_definition d = { 0 };
                if (zetl_catalog_load(&cat, names[i], &d, &err)) {
                        rc = cli_fail(cmd, &err);
                        break;
                }
                json_array_append_new(list, describe_one(&cat, &d));
                zetl_definition_free(&d);
        }
        if (rc == 0) {
                if (strcmp(output, "table") == 0) {
                        print_table(list);
                } else {
                        json_t *top = json_pack("{s:O}", "Integrations", list);
                        print_json(top);
                        json_decref(top);
                }
        }
        json_decref(list);
out:
        for (int i = 0; i < n; i++)
                free(names[i]);
        free(names);
        def_opts_free(&o);
        return rc < 0 ? ZETL_EXIT_OK : rc;
}

const struct cli_cmd cli_describe = {
        .name = "describe-integrations",
        .summary = "show integrations, their state, lag and errors",
        .usage = describe_usage,
        .run = describe_run,
};

/* ---- modify-integration --------------------------------------------------- */

static const char modify_usage[] =
        "Usage: zetl modify-integration --integration-identifier NAME [--data-filter TEXT]\n"
        "                               [--no-data-filter] [--filter-file FILE]\n"
        "                               [--description TEXT] [--option KEY=VALUE]...\n\n"
        "Change an integration's filters, description or options (KEY= removes an\n"
        "option). The integration must not be running: stop 'zetl run' first; the\n"
        "change applies when it starts again. New filters: tables no longer selected\n"
        "are removed from the target now; when a table may be newly selected or a\n"
        "table's row or column filters change, the next run copies every selected\n"
        "table again (see zetl-filters(5)).\n\n" CLI_GLOBAL_HELP;

/* Save the new definition under the "modifying" state, then restore the state. */
static int save_modified(struct cli_integration *it, struct zetl_err *err)
{
        struct zetl_status st = { 0 };
        enum zetl_state before;
        bool found;
        int rc;

        if ((rc = zetl_status_load(it->idir, &st, &found, err)))
                return rc;
        before = st.state;
        st.state = ZETL_STATE_MODIFYING;
        if (!(rc = zetl_status_save(it->idir, &st, err))) {
                rc = zetl_catalog_save(&it->cat, &it->d, err);
                st.state = before;
                int rc2 = zetl_status_save(it->idir, &st, rc ? NULL : err);
                rc = rc ? rc : rc2;
        }
        zetl_status_free(&st);
        return rc;
}

/* Forget table i of the target's shapes and its status entry. */
static void forget_table(struct zetl_schema_set *set, int i, struct zetl_status *st)
{
        const struct zetl_table_id id = set->v[i]->id;

        zetl_schema_unref(set->v[i]);
        set->v[i] = set->v[--set->n];
        set->dirty = true;
        for (int j = 0; j < st->ntables; j++) {
                if (!zetl_table_id_eq(&st->tables[j].id, &id))
                        continue;
                free(st->tables[j].last_error);
                st->tables[j] = st->tables[--st->ntables];
                break;
        }
}

/* Remove the tables in drop[] from the target: the sink's drop, else a
 * truncate; committed at the position the target has, so a run resumes
 * where it was. */
static int drop_tables(struct cli_integration *it, const struct zetl_definition *d,
                       const struct zetl_filter *f, const struct zetl_checkpoint *ck,
                       const struct zetl_schema *const *drop, int n, struct zetl_err *err)
{
        const struct zetl_sink_ops *k = it->sink;
        struct zetl_position pos = ck->committed;
        struct zetl_conn_cfg kcfg;
        char name[ZETL_NAME_MAX * 3];
        void *priv = calloc(1, k->priv_size ? k->priv_size : 1);
        int rc;

        if (!priv)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        conn_cfg(&kcfg, d, d->target, it->idir, f);
        if ((rc = k->open(priv, &kcfg, err))) {
                zetl_err_prefix(err, "target: ");
                goto out;
        }
        /* The target is the authority on what it has applied (see pipeline.c). */
        if (k->resume && (k->caps & ZETL_SINK_STORES_POSITION)) {
                struct zetl_position tp = { 0 };
                if ((rc = k->resume(priv, &tp, err)))
                        goto out_close;
                if (zetl_pos_is_set(&tp))
                        pos = tp;
        }
        for (int i = 0; i < n && rc == 0; i++) {
                zlog_info("table %s is no longer selected: %s from the target",
                          zetl_table_id_str(&drop[i]->id, name, sizeof(name)),
                          k->drop ? "dropped" : "emptied");
                rc = k->drop ? k->drop(priv, drop[i], err)
                             : k->truncate(priv, drop[i], pos.order, err);
        }
        if (rc == 0)
                rc = k->commit(priv, &pos, err);
        if (rc)
                zetl_err_prefix(err, "target: ");
out_close:
        k->close(priv);
out:
        free(priv);
        return rc;
}

/* Bring the integration in line with new filters newf (it->f holds the old
 * ones), before the definition is saved: the source's set-up again (a
 * PostgreSQL publication takes the new tables and pushed-down filters, and
 * checks them against the tables), tables no longer selected removed from
 * the target, and a new initial sync for the next run when a table may be
 * newly selected or a table's row or column filters changed: zetl's sources
 * copy tables in one consistent snapshot, so every selected table is copied
 * again. */
static int apply_filter_change(struct cli_integration *it, const struct zetl_definition *d,
                               const struct zetl_filter *newf, struct zetl_err *err)
{
        struct zetl_schema_set set = { 0 };
        struct zetl_checkpoint ck = { 0 };
        struct zetl_status st = { 0 };
        const struct zetl_schema **drop = NULL;
        struct zetl_conn_cfg scfg;
        char name[ZETL_NAME_MAX * 3];
        void *spriv = NULL;
        bool resync = false, found;
        int ndrop = 0, rc;

        if ((rc = zetl_checkpoint_load(it->idir, &ck, &found, err)) ||
            (rc = zetl_status_load(it->idir, &st, &found, err)) ||
            (rc = zetl_schema_set_load(it->idir, &set, err)))
                goto out;
        if (set.n && !(drop = calloc((size_t)set.n, sizeof(*drop)))) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out;
        }
        for (int i = 0; i < set.n; i++) {
                const struct zetl_table_id *id = &set.v[i]->id;
                char *before = NULL, *after = NULL;
                if (!zetl_filter_table(it->f, id))
                        continue;
                if (!zetl_filter_table(newf, id)) {
                        drop[ndrop++] = set.v[i];
                        continue;
                }
                if (zetl_filter_table_rules(it->f, id, &before) ||
                    zetl_filter_table_rules(newf, id, &after)) {
                        free(before);
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                        goto out;
                }
                if (strcmp(before, after) != 0) {
                        zlog_info("table %s: its row or column filters change",
                                  zetl_table_id_str(id, name, sizeof(name)));
                        resync = true;
                }
                free(before);
                free(after);
        }
        if (zetl_filter_may_add_tables(it->f, newf)) {
                zlog_info("the new table filter may select tables the old one did not");
                resync = true;
        }
        /* The source checks the new filters (nothing changes when they do not
         * fit) and takes them (a PostgreSQL publication). */
        conn_cfg(&scfg, d, d->source, it->idir, newf);
        if (!(spriv = calloc(1, it->src->priv_size ? it->src->priv_size : 1))) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out;
        }
        if ((rc = it->src->setup(spriv, &scfg, err))) {
                zetl_err_prefix(err, "source: ");
                goto out;
        }
        if (resync && ck.snapshot_done) {
                zlog_info("the next zetl run copies every selected table again (a new initial "
                          "sync), then streams from there");
                ck.snapshot_done = false;
                if ((rc = zetl_checkpoint_save(it->idir, &ck, err)))
                        goto restore;
        }
        if (ndrop && (rc = drop_tables(it, d, newf, &ck, drop, ndrop, err)))
                goto restore;
        /* Backwards, so that moving the last entry into a hole keeps drop[] right. */
        for (int i = set.n - 1; i >= 0; i--) {
                for (int j = 0; j < ndrop; j++) {
                        if (set.v[i] == drop[j]) {
                                forget_table(&set, i, &st);
                                break;
                        }
                }
        }
        if ((rc = zetl_schema_set_save(it->idir, &set, err)) == 0 &&
            (rc = zetl_status_save(it->idir, &st, err)) == 0)
                goto out;
restore:
        /* The definition keeps the old filters: so must the source, or a
         * narrower publication would hide rows they select. (A new sync
         * already marked only costs a copy.) */
        conn_cfg(&scfg, d, d->source, it->idir, it->f);
        memset(spriv, 0, it->src->priv_size ? it->src->priv_size : 1);
        struct zetl_err e2;
        if (it->src->setup(spriv, &scfg, &e2))
                zlog_error("could not give the source its old filters back (%s): run this "
                           "modify-integration again",
                           e2.msg);
out:
        free(spriv);
        free(drop);
        zetl_schema_set_free(&set);
        zetl_status_free(&st);
        return rc;
}

static int modify_run(int argc, char **argv, struct cli_globals *g)
{
        const char *cmd = "modify-integration";
        struct def_opts o = { 0 };
        struct cli_integration it = { .lock = -1 };
        struct zetl_definition *d = &it.d;
        struct zetl_filter *f = NULL;
        struct zetl_err err;
        int rc;

        if ((rc = parse_def_opts(cmd, argc, argv, &o, g, NULL, modify_usage)))
                goto out;
        if (!o.name) {
                rc = cli_usage_error(cmd, "--integration-identifier is required");
                goto out;
        }
        if (o.source || o.target) {
                rc = cli_usage_error(cmd, "the source and target of an integration cannot change:"
                                          " create a new integration");
                goto out;
        }
        if ((rc = cli_integration_open(cmd, g, o.name, &it)))
                goto out;
        if (o.clear_filter) {
                free(d->data_filter);
                d->data_filter = NULL;
                free(d->filter_file);
                d->filter_file = NULL;
                free(d->filter_text);
                d->filter_text = NULL;
        }
        if (o.data_filter) {
                free(d->data_filter);
                d->data_filter = strdup(o.data_filter);
        }
        if (o.filter_file) {
                free(d->filter_file);
                free(d->filter_text);
                d->filter_text = NULL;
                d->filter_file = strdup(o.filter_file);
                if ((rc = read_filter_file(cmd, o.filter_file, &d->filter_text)))
                        goto out;
        }
        if (o.description) {
                free(d->description);
                d->description = strdup(o.description);
        }
        if (merge_options(d, &o)) {
                rc = ZETL_EXIT_FAIL;
                goto out;
        }
        /* Validate before anything is written: a bad filter changes nothing. */
        if (load_filter(d, it.src, &f, &err)) {
                rc = cli_fail(cmd, &err);
                goto out;
        }
        if ((o.clear_filter || o.data_filter || o.filter_file) &&
            apply_filter_change(&it, d, f, &err)) {
                rc = cli_fail(cmd, &err);
                goto out;
        }
        if ((rc = save_modified(&it, &err))) {
                rc = cli_fail(cmd, &err);
                goto out;
        }
        json_t *one = describe_one(&it.cat, d);
        print_json(one);
        json_decref(one);
out:
        zetl_filter_free(f);
        cli_integration_close(&it);
        def_opts_free(&o);
        return rc < 0 ? ZETL_EXIT_OK : rc;
}

const struct cli_cmd cli_modify = {
        .name = "modify-integration",
        .summary = "change an integration's filters, description or options",
        .usage = modify_usage,
        .run = modify_run,
};

/* ---- delete-integration --------------------------------------------------- */

static const char delete_usage[] =
        "Usage: zetl delete-integration --integration-identifier NAME\n\n"
        "Stop tracking an integration: remove what create-integration set up on the\n"
        "source (never anything it did not create) and its state folder. Data already\n"
        "in the target stays. The integration must not be running.\n\n" CLI_GLOBAL_HELP;

static int delete_run(int argc, char **argv, struct cli_globals *g)
{
        const char *cmd = "delete-integration";
        struct def_opts o = { 0 };
        struct cli_integration it = { .lock = -1 };
        struct zetl_conn_cfg scfg, kcfg;
        void *spriv = NULL, *kpriv = NULL;
        struct zetl_err err;
        int rc;

        if ((rc = parse_def_opts(cmd, argc, argv, &o, g, NULL, delete_usage)))
                goto out;
        if (!o.name) {
                rc = cli_usage_error(cmd, "--integration-identifier is required");
                goto out;
        }
        if ((rc = cli_integration_open(cmd, g, o.name, &it)))
                goto out;
        set_state(&it.cat, it.d.name, ZETL_STATE_DELETING, NULL);
        cli_conn_cfg(&scfg, &it, it.d.source, false);
        cli_conn_cfg(&kcfg, &it, it.d.target, false);
        spriv = calloc(1, it.src->priv_size ? it.src->priv_size : 1);
        kpriv = calloc(1, it.sink->priv_size ? it.sink->priv_size : 1);
        if (!spriv || !kpriv) {
                rc = cli_fail(cmd,
                              &(struct zetl_err){ ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory" });
                goto out;
        }
        if (it.src->teardown(spriv, &scfg, &err) || it.sink->teardown(kpriv, &kcfg, &err)) {
                /* Keep the folder: it records what still has to be removed. */
                set_state(&it.cat, it.d.name, ZETL_STATE_FAILED, err.msg);
                rc = cli_fail(cmd, &err);
                goto out;
        }
        if (zetl_catalog_remove(&it.cat, it.d.name, &err)) {
                rc = cli_fail(cmd, &err);
                goto out;
        }
        printf("{\n  \"IntegrationName\": \"%s\",\n  \"Status\": \"deleted\"\n}\n", it.d.name);
        rc = ZETL_EXIT_OK;
out:
        free(spriv);
        free(kpriv);
        cli_integration_close(&it);
        def_opts_free(&o);
        return rc < 0 ? ZETL_EXIT_OK : rc;
}

const struct cli_cmd cli_delete = {
        .name = "delete-integration",
        .summary = "remove an integration and what it set up on the source",
        .usage = delete_usage,
        .run = delete_run,
};
