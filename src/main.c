/*
 * zetl's entry point: dispatches to the commands, which mirror AWS's
 * integration commands (create-integration, describe-integrations,
 * modify-integration, delete-integration) plus `run`.
 */
#include <getopt.h>
#include <stdarg.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsutil.h"
#include "registry.h"
#include "zetl/log.h"

static const struct cli_cmd *const commands[] = {
        &cli_create, &cli_describe, &cli_modify,  &cli_delete,
        &cli_run,    &cli_check,    &cli_compact, NULL,
};

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (cmd)
                fprintf(stderr, "zetl %s: %s (see 'zetl %s --help')\n", cmd, msg, cmd);
        else
                fprintf(stderr, "zetl: %s (see 'zetl --help')\n", msg);
        return ZETL_EXIT_USAGE;
}

int cli_fail(const char *cmd, const struct zetl_err *err)
{
        fprintf(stderr, "zetl %s: %s\n", cmd,
                err->msg[0] ? err->msg : zetl_errcode_name(err->code));
        return err->cls == ZETL_ERRC_CONFIG ? ZETL_EXIT_USAGE : ZETL_EXIT_FAIL;
}

int cli_global_opt(const char *cmd, int opt, const char *arg, struct cli_globals *g)
{
        static enum zetl_log_level level = ZETL_LOG_INFO;
        static enum zetl_log_format format = ZETL_LOG_TEXT;

        switch (opt) {
        case 1001:
                g->state_dir = arg;
                return 1;
        case 1002:
                if (zetl_log_level_parse(arg, &level)) {
                        cli_usage_error(cmd, "--log-level must be debug, info, warn or error");
                        return -1;
                }
                zetl_log_init(level, format);
                return 1;
        case 1003:
                if (strcmp(arg, "text") == 0) {
                        format = ZETL_LOG_TEXT;
                } else if (strcmp(arg, "json") == 0) {
                        format = ZETL_LOG_JSON;
                } else {
                        cli_usage_error(cmd, "--log-format must be text or json");
                        return -1;
                }
                zetl_log_init(level, format);
                return 1;
        }
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f,
                "zetl %s: zero-ETL change data capture: a consistent snapshot of a source\n"
                "database, then every change, into an analytical target.\n\n"
                "Usage: zetl COMMAND [OPTIONS]\n\nCommands:\n",
                ZETL_VERSION);
        for (int i = 0; commands[i]; i++)
                fprintf(f, "  %-24s %s\n", commands[i]->name, commands[i]->summary);
        fprintf(f,
                "\nSources: %s\nTargets: %s\n\n"
                "Run 'zetl COMMAND --help' for a command's options.\n"
                "Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.\n",
                zetl_source_schemes(), zetl_sink_schemes());
}

void zetl_failmalloc_start(void) __attribute__((weak));

int main(int argc, char **argv)
{
        struct cli_globals g = { 0 };

        zetl_fault_from_env(); /* tests only: see zetl(1), ZETL_FAULT */
        /* tests only: tests/fault/failmalloc.so, when preloaded, counts the
         * allocations from here on (not the libraries' constructors). */
        if (zetl_failmalloc_start)
                zetl_failmalloc_start();
        /* Batches of up to hundreds of MiB come and go many times a second:
         * keep freed memory for the next one instead of unmapping it and
         * faulting it in again (measured: ~8% of the MariaDB bench's CPU). */
        mallopt(M_MMAP_THRESHOLD, 512 << 20);
        mallopt(M_TRIM_THRESHOLD, 1024 << 20);

        if (argc < 2)
                return cli_usage_error(NULL, "missing command");
        if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
                printf("zetl %s\n", ZETL_VERSION);
                return ZETL_EXIT_OK;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return ZETL_EXIT_OK;
        }
        for (int i = 0; commands[i]; i++) {
                if (strcmp(argv[1], commands[i]->name) == 0)
                        return commands[i]->run(argc - 1, argv + 1, &g);
        }
        if (argv[1][0] == '-')
                return cli_usage_error(NULL, "unknown option \"%s\"", argv[1]);
        return cli_usage_error(NULL, "unknown command \"%s\"", argv[1]);
}
