/*
 * The source contract. A source connector is one const struct zetl_source_ops
 * with designated initializers, listed once in src/registry.c. The core never
 * includes a connector's header.
 *
 * Lifecycle: parse (syntax only, no network) at create time; setup by
 * create-integration (slot, publication...) and again by modify-integration
 * when the filters change (so setup must be idempotent: on an integration
 * already set up it only brings what it made up to date, e.g. the
 * publication's tables and row filters); teardown once by delete-integration
 * (only what setup created); open/run/close by zetl run.
 *
 * run() decodes changes straight into batches through the emitter (emit.h):
 * the initial sync when resume->snapshot_done is false, then the change stream
 * from resume->pos, until zetl_emit_stopping() says stop (or, with cfg->once,
 * once it has emitted everything the source had committed when run began). It
 * returns 0 on a clean stop, a transient error to be reconnected with backoff,
 * or a fatal/config one. It acknowledges to the server only what
 * zetl_emit_acked() returns.
 */
#ifndef ZETL_SOURCE_H
#define ZETL_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "zetl/check.h"
#include "zetl/config.h"
#include "zetl/err.h"
#include "zetl/filter.h"
#include "zetl/position.h"

struct zetl_emitter;

enum {
        ZETL_SRC_SNAPSHOT = 1 << 0, /* can take a consistent initial snapshot */
        ZETL_SRC_STREAM = 1 << 1,   /* streams changes after it */
        ZETL_SRC_SETUP = 1 << 2,    /* setup/teardown create server-side objects */
};

struct zetl_resume {
        struct zetl_position pos; /* last position the target has durably */
        bool snapshot_done;       /* the initial sync was committed */
};

struct zetl_source_ops {
        const char *name;
        const char *const *schemes; /* URI schemes claimed, NULL-terminated */
        unsigned caps;
        size_t priv_size; /* zeroed private state handed to every call */
        enum zetl_filter_dialect filter_dialect;

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
        int (*run)(void *priv, struct zetl_emitter *em, const struct zetl_resume *resume,
                   struct zetl_err *err);
        void (*close)(void *priv);
};

#endif
