/*
 * The sink contract. A sink connector is one const struct zetl_sink_ops,
 * listed once in src/registry.c.
 *
 * The core calls, on the sink thread and in source order:
 *   schema(old, new, diff)  a table appears (old NULL), or is met again by a new
 *                           run (old is the last shape the target was given,
 *                           possibly in an earlier run; diff may be empty), or
 *                           changes shape; apply changes idempotently: after a
 *                           crash the same change may come again;
 *   write(batch)            rows to apply; not yet durable;
 *   truncate(schema, pos)   remove every row of the table;
 *   commit(pos)             make everything before durable, together with pos,
 *                           atomically; only after it returns 0 does the core
 *                           checkpoint and acknowledge pos to the source.
 *   drop(schema)            (optional) remove the table from the target, for a
 *                           table the integration's filters no longer select
 *                           (modify-integration, outside any run, followed by
 *                           a commit at the position the target has); NULL
 *                           means the core truncates the table instead.
 *   rollback()              (optional) discard everything written since the
 *                           last commit and keep going. A sink that has it is
 *                           given the changes of a large source transaction
 *                           while that transaction still runs (PostgreSQL's
 *                           streamed transactions): only ever rows (write),
 *                           never schema or truncate, and either a commit
 *                           follows (the source committed) or a rollback (it
 *                           aborted, or the source chose to apply it at its
 *                           commit after all). Only for sinks whose writes
 *                           stay invisible until commit.
 * resume() reports the position the target itself says it has applied, so a
 * restart replays from there and a replay is idempotent. close() without a
 * commit discards what was written since the last commit (the core replays
 * it). A commit with an unset position (order 0 and empty token) happens
 * during the initial sync: make the rows durable, keep the stored position.
 *
 * Errors: a transient error makes the core retry the whole uncommitted unit
 * with backoff (after reopening the sink). ZETL_ETABLE (fatal class) means
 * "this table cannot be applied": the core puts that table into
 * needs_attention with the message and the other tables keep flowing.
 */
#ifndef ZETL_SINK_H
#define ZETL_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/batch.h"
#include "zetl/check.h"
#include "zetl/config.h"
#include "zetl/err.h"
#include "zetl/position.h"
#include "zetl/schema.h"

enum {
        ZETL_SINK_STORES_POSITION = 1 << 0, /* resume() is authoritative */
};

struct zetl_sink_ops {
        const char *name;
        const char *const *schemes;
        unsigned caps;
        size_t priv_size;
        /* How often the core commits by default (flush-interval-ms when the
         * integration does not set it; its alias commit-interval-ms): 0
         * means the core's 1 s. A sink whose every commit costs (an Iceberg
         * snapshot) asks for fewer. */
        unsigned commit_interval_ms;

        int (*parse)(const char *uri, struct zetl_err *err);
        int (*setup)(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err);
        int (*teardown)(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err);
        /* zetl check: verify the prerequisites without creating anything (and
         * with fix, apply the fixes that are safe over the connection); NULL
         * when the connector has nothing to check beyond parse. Returns 0
         * with the items in r, or an error when it could not check at all. */
        int (*check)(void *priv, const struct zetl_conn_cfg *cfg, bool fix,
                     struct zetl_check_report *r, struct zetl_err *err);
        int (*open)(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err);
        int (*resume)(void *priv, struct zetl_position *out, struct zetl_err *err);
        int (*schema)(void *priv, const struct zetl_schema *old, const struct zetl_schema *new,
                      const struct zetl_schema_diff *diff, struct zetl_err *err);
        int (*write)(void *priv, const struct zetl_batch *b, struct zetl_err *err);
        int (*truncate)(void *priv, const struct zetl_schema *s, uint64_t pos,
                        struct zetl_err *err);
        int (*commit)(void *priv, const struct zetl_position *pos, struct zetl_err *err);
        void (*close)(void *priv);
        /* Optional (see above); idempotent: a table already gone is fine. */
        int (*drop)(void *priv, const struct zetl_schema *s, struct zetl_err *err);
        /* Optional (see above). */
        int (*rollback)(void *priv, struct zetl_err *err);
};

#endif
