/* Internals shared by emitter.c (source thread) and pipeline.c (sink thread). */
#ifndef ZETL_PIPELINE_INT_H
#define ZETL_PIPELINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "pipeline.h"
#include "queue.h"
#include "schema_store.h"
#include "zetl/emit.h"

struct em_table {
        struct zetl_table_id id;
        const struct zetl_schema *cur; /* reference */
        struct zetl_batch *open;       /* rows not yet handed on */
        struct zetl_batch *discard;    /* scratch for rows of excluded or failed tables */
        size_t seen_bytes;             /* open->bytes already counted in pending_bytes */
        bool excluded;                 /* not selected by the table filter */
        bool failed;                   /* needs_attention: rows dropped */
        char *early_error; /* failed in the early transaction: made real at its commit */
};

struct zetl_emitter {
        const struct zetl_pipeline_ctx *ctx;
        struct zetl_queue *q;
        atomic_bool *stopping;
        long long progress_ms; /* last zetl_emit_progress_line */

        struct em_table *tables;
        int ntables, cap;
        struct em_table *last;        /* fast path for consecutive rows of one table */
        struct zetl_schema_set known; /* shapes the target had when the run began */

        size_t pending_rows; /* rows emitted since the last flush */
        size_t pending_bytes;
        long long first_pending_ms;
        size_t txn_rows;                  /* rows since the last emit_commit */
        struct zetl_position last_commit; /* last source commit seen */
        struct zetl_position flushed;     /* last commit handed to the sink */
        long long last_flush_ms;
        bool early; /* between zetl_emit_early_begin and the commit or abort */
        bool dirty; /* something the sink must commit was pushed since the last commit */

        /* Rows handed on by zetl_emit_batch (any thread) since the last commit. */
        atomic_size_t batch_rows;

        /* Shared with the sink thread. */
        pthread_mutex_t mu;
        struct zetl_position acked;      /* committed and checkpointed: may be acknowledged */
        struct zetl_position received;   /* last position read from the source */
        struct zetl_position server_end; /* last keepalive position (for lag in bytes) */
};

/* known: the shapes the target has (taken over by the emitter). */
int zetl_emitter_init(struct zetl_emitter *em, const struct zetl_pipeline_ctx *ctx,
                      struct zetl_queue *q, atomic_bool *stopping,
                      const struct zetl_position *acked, struct zetl_schema_set *known);
/* After the source returned: hand on what is complete (a final commit when the
 * source is between transactions) and push END. */
int zetl_emitter_finish(struct zetl_emitter *em, bool commit, struct zetl_err *err);
void zetl_emitter_destroy(struct zetl_emitter *em);

#endif
