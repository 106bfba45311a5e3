/*
 * The command line: shared option parsing and the command entry points.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
#ifndef ZETL_CLI_H
#define ZETL_CLI_H

#include <stdbool.h>

#include "catalog.h"
#include "zetl/err.h"
#include "zetl/filter.h"
#include "zetl/sink.h"
#include "zetl/source.h"

enum { ZETL_EXIT_OK = 0, ZETL_EXIT_FAIL = 1, ZETL_EXIT_USAGE = 2 };

/* Options every command accepts. */
struct cli_globals {
        const char *state_dir;
};

struct cli_cmd {
        const char *name;
        const char *summary;
        const char *usage; /* full --help text */
        int (*run)(int argc, char **argv, struct cli_globals *g);
};

/* An existing integration opened for a command that changes or runs it. */
struct cli_integration {
        struct zetl_catalog cat;
        struct zetl_definition d;
        char idir[PATH_MAX];
        struct zetl_filter *f;
        const struct zetl_source_ops *src;
        const struct zetl_sink_ops *sink;
        int lock; /* the run lock: held until cli_integration_close */
};

/* Load NAME's definition, take its run lock, find its connectors and parse its
 * filters. Returns 0, or the exit code after printing the one-line error. */
int cli_integration_open(const char *cmd, const struct cli_globals *g, const char *name,
                         struct cli_integration *it);
void cli_integration_close(struct cli_integration *it);
/* The connector configuration of one side of it. */
void cli_conn_cfg(struct zetl_conn_cfg *c, const struct cli_integration *it, const char *uri,
                  bool once);

extern const struct cli_cmd cli_create, cli_describe, cli_modify, cli_delete, cli_run;
extern const struct cli_cmd cli_check;
extern const struct cli_cmd cli_compact;

/* Print "zetl: CMD: message" and a hint to stderr; return 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print the error as one line and return the exit code its class implies. */
int cli_fail(const char *cmd, const struct zetl_err *err);
/* Handle a global option (--state-dir, --log-level, --log-format); returns
 * 1 if consumed, 0 if not a global one, -1 on a bad value (message printed). */
int cli_global_opt(const char *cmd, int opt, const char *arg, struct cli_globals *g);
/* getopt_long entries of the global options, to append to a command's table. */
#define CLI_GLOBAL_LONGOPTS                                                                        \
        { "state-dir", required_argument, NULL, 1001 },                                            \
                { "log-level", required_argument, NULL, 1002 },                                    \
                { "log-format", required_argument, NULL, 1003 },                                   \
        {                                                                                          \
                "help", no_argument, NULL, 'h'                                                     \
        }
#define CLI_GLOBAL_HELP                                                                            \
        "Common options:\n"                                                                        \
        "  --state-dir DIR        integrations live here (default: $ZETL_STATE_DIR, else\n"        \
        "                         /var/lib/zetl for root, ~/.local/state/zetl otherwise)\n"        \
        "  --log-level LEVEL      debug, info (default), warn or error\n"                          \
        "  --log-format FORMAT    text (default) or json\n"                                        \
        "  -h, --help             this help\n"

#endif
