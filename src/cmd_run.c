/*
 * `zetl run NAME [--once]`: the long-running replication process. It takes
 * the integration's lock (one runner at a time), opens the source and the
 * target, and supervises the pipeline until a signal (SIGTERM/SIGINT finish
 * the commit in flight, checkpoint and exit 0), a fatal error (exit 1), or,
 * with --once, until everything the source had committed when the run
 * started is in the target (exit 0).
 */
#include <getopt.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pipeline.h"
#include "registry.h"
#include "zetl/filter.h"
#include "zetl/log.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static const char run_usage[] =
        "Usage: zetl run NAME [--once] [--max-attempts N] [--metrics-file FILE]\n"
        "                [--metrics-listen HOST:PORT]\n\n"
        "Replicate: take the initial snapshot if it is not done, then stream every\n"
        "change into the target for ever. SIGTERM or SIGINT finish the commit in\n"
        "flight, write the checkpoint and exit 0.\n\n"
        "  --once                 catch up with everything the source had committed\n"
        "                         when the run started, then exit 0\n"
        "  --max-attempts N       give up after N failed attempts (default: retry for ever\n"
        "                         with capped exponential backoff)\n"
        "  --metrics-file FILE    write Prometheus metrics to FILE (atomically, each\n"
        "                         status refresh) for node_exporter's textfile collector\n"
        "  --metrics-listen HOST:PORT\n"
        "                         serve GET /metrics and /healthz over HTTP\n\n"
        "Integration options (--option on create/modify-integration) that tune the core:\n"
        "  flush-rows (100000), flush-bytes (67108864), flush-interval-ms (1000),\n"
        "  batch-max-bytes (268435456), queue-max-items (16), queue-max-bytes (268435456),\n"
        "  retry-initial-ms (1000), retry-max-ms (60000)\n\n" CLI_GLOBAL_HELP;

/* Core tuning from the integration's options; errors are config class. */
static int apply_options(const struct zetl_conn_cfg *cfg, struct zetl_pipeline_opts *o,
                         struct zetl_err *err)
{
        long long v;
        int rc;

#define OPT(key, field, min, max)                                                                  \
        do {                                                                                       \
                if ((rc = zetl_cfg_opt_int(cfg, key, (long long)o->field, min, max, &v, err)))     \
                        return rc;                                                                 \
                o->field = (__typeof__(o->field))v;                                                \
        } while (0)
        OPT("flush-rows", flush_rows, 1, 100000000);
        OPT("flush-bytes", flush_bytes, 4096, 1LL << 34);
        OPT("commit-interval-ms", flush_ms, 1, 3600000);
        OPT("flush-interval-ms", flush_ms, 1, 3600000);
        OPT("batch-max-bytes", batch_max_bytes, 1 << 16, 1LL << 34);
        OPT("queue-max-items", queue_max_items, 1, 100000);
        OPT("queue-max-bytes", queue_max_bytes, 1 << 16, 1LL << 36);
        OPT("retry-initial-ms", retry_initial_ms, 1, 3600000);
        OPT("retry-max-ms", retry_max_ms, 1, 86400000);
#undef OPT
        return 0;
}

static int run_run(int argc, char **argv, struct cli_globals *g)
{
        static const struct option longopts[] = {
                { "once", no_argument, NULL, 'o' },
                { "max-attempts", required_argument, NULL, 'm' },
                { "metrics-file", required_argument, NULL, 'F' },
                { "metrics-listen", required_argument, NULL, 'L' },
                CLI_GLOBAL_LONGOPTS,
                { NULL, 0, NULL, 0 },
        };
        const char *cmd = "run";
        const char *name = NULL;
        bool once = false;
        int max_attempts = 0;
        const char *metrics_file = NULL, *metrics_listen = NULL;
        struct cli_integration it = { .lock = -1 };
        struct zetl_conn_cfg scfg = { 0 }, kcfg = { 0 };
        struct zetl_pipeline_ctx ctx = { 0 };
        struct sigaction sa;
        struct zetl_err err = { 0 };
        int rc, c;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
                switch (c) {
                case 'h':
                        fputs(run_usage, stdout);
                        return ZETL_EXIT_OK;
                case 'o':
                        once = true;
                        break;
                case 'm': {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || v < 1 || v > 1000000)
                                return cli_usage_error(cmd, "--max-attempts takes a count >= 1");
                        max_attempts = (int)v;
                        break;
                }
                case 'F':
                        metrics_file = optarg;
                        break;
                case 'L':
                        metrics_listen = optarg;
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
        name = argv[optind];

        if ((rc = cli_integration_open(cmd, g, name, &it)))
                goto out;
        zetl_log_set_integration(it.d.name);
        cli_conn_cfg(&scfg, &it, it.d.source, once);
        cli_conn_cfg(&kcfg, &it, it.d.target, once);
        ctx.src = it.src;
        ctx.sink = it.sink;
        ctx.src_cfg = &scfg;
        ctx.sink_cfg = &kcfg;
        ctx.idir = it.idir;
        ctx.stop = &stop_requested;
        zetl_pipeline_opts_default(&ctx.opts);
        if (it.sink->commit_interval_ms)
                ctx.opts.flush_ms = it.sink->commit_interval_ms;
        ctx.opts.max_attempts = max_attempts;
        if (apply_options(&scfg, &ctx.opts, &err)) {
                rc = cli_fail(cmd, &err);
                goto out;
        }

        /* The process holds the source's and the target's passwords: no core
         * dump may carry them to disk, and other processes of the same user
         * may not read its memory (ptrace). ZETL_ALLOW_CORE=1 keeps dumps
         * for debugging. */
        if (!getenv("ZETL_ALLOW_CORE"))
                prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        if ((metrics_file || metrics_listen) &&
            zetl_metrics_open(it.d.name, metrics_file, metrics_listen, &ctx.metrics, &err)) {
                rc = cli_fail(cmd, &err);
                goto out;
        }
        zlog_info("starting (%s -> %s%s)", it.src->name, it.sink->name, once ? ", once" : "");
        rc = zetl_pipeline_supervise(&ctx, &err);
        if (rc) {
                zlog_error("stopped: %s", err.msg);
                rc = err.cls == ZETL_ERRC_CONFIG ? ZETL_EXIT_USAGE : ZETL_EXIT_FAIL;
        } else {
                zlog_info(stop_requested ? "stopped by signal after the last commit"
                                         : "caught up; exiting");
        }
out:
        zetl_metrics_close(ctx.metrics);
        cli_integration_close(&it);
        return rc;
}

const struct cli_cmd cli_run = {
        .name = "run",
        .summary = "replicate: initial sync, then stream changes (--once: catch up and exit)",
        .usage = run_usage,
        .run = run_run,
};
