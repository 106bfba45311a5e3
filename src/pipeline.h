/*
 * The pipeline: one source thread and one sink thread with a bounded queue of
 * batches between them, and the checkpoint protocol of DESIGN.md.
 *
 *   source thread: src->run() decodes into per-table batches (emitter.c);
 *                  batches are handed on by rows, bytes and time;
 *   sink thread:   schema/write/truncate/commit on the sink; after a commit is
 *                  durable, the checkpoint file is written and only then is the
 *                  position offered to the source for acknowledgement.
 *
 * zetl_pipeline_run is one attempt: it returns when the source stops (once
 * mode, a signal) or either side fails. The supervisor (zetl_pipeline_supervise)
 * retries transient failures with capped exponential backoff, reopening both
 * sides and resuming from the committed position.
 */
#ifndef ZETL_PIPELINE_H
#define ZETL_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "catalog.h"
#include "metrics.h"
#include "zetl/config.h"
#include "zetl/err.h"
#include "zetl/sink.h"
#include "zetl/source.h"

struct zetl_pipeline_opts {
        size_t flush_rows;       /* hand batches on after this many rows (default 100000) */
        size_t flush_bytes;      /* ... or bytes (default 64 MiB) */
        long flush_ms;           /* ... or milliseconds since the first pending row (1000) */
        size_t batch_max_bytes;  /* ceiling of one batch (default 256 MiB) */
        size_t queue_max_items;  /* bounded queue (default 16 items) */
        size_t queue_max_bytes;  /* ... and bytes (default 256 MiB) */
        long retry_initial_ms;   /* first backoff (default 1000) */
        long retry_max_ms;       /* backoff cap (default 60000) */
        int max_attempts;        /* 0: retry for ever */
        long status_interval_ms; /* status.json refresh (default 1000) */
};

void zetl_pipeline_opts_default(struct zetl_pipeline_opts *o);

struct zetl_pipeline_ctx {
        const struct zetl_source_ops *src;
        const struct zetl_sink_ops *sink;
        const struct zetl_conn_cfg *src_cfg;
        const struct zetl_conn_cfg *sink_cfg;
        const char *idir; /* the integration's folder: checkpoint.json, status.json */
        struct zetl_pipeline_opts opts;
        volatile sig_atomic_t *stop;  /* set by signal handlers: finish and exit */
        struct zetl_metrics *metrics; /* NULL: none (metrics.h) */
};

/* Run until the source stops or fails, retrying transient failures. Returns 0
 * (once mode done, or stopped by a signal after its last commit) or the error
 * of a fatal/config failure, or of the last attempt when max_attempts ran out. */
int zetl_pipeline_supervise(const struct zetl_pipeline_ctx *ctx, struct zetl_err *err);

/* One attempt (exposed for tests). */
int zetl_pipeline_run(const struct zetl_pipeline_ctx *ctx, struct zetl_err *err);

#endif
