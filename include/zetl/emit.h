/*
 * The emitter: the core's side of a running source. A source calls these from
 * its own thread; they may block when the queue towards the sink is full
 * (back-pressure), and return ZETL_ECANCELED once the pipeline is stopping.
 *
 * Per change:   zetl_emit_row(em, schema, op, pos, &b), then the batch setters,
 *               then zetl_batch_row_end(b).
 * Per source transaction: zetl_emit_commit(em, pos) after its last change.
 * While idle:   zetl_emit_keepalive(em, pos) at least every second, so batches
 *               are flushed by time and filtered-out traffic still advances
 *               the acknowledged position.
 */
#ifndef ZETL_EMIT_H
#define ZETL_EMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "zetl/batch.h"
#include "zetl/err.h"
#include "zetl/position.h"
#include "zetl/schema.h"

struct zetl_emitter;

/* A table's shape, first or changed: the core diffs it against the previous
 * version (of this run, or the last one the target was given in an earlier
 * run) and numbers it: it sets s->version, whatever the source put there.
 * The core takes its own reference. Returns 0 or an error. */
int zetl_emit_schema(struct zetl_emitter *em, const struct zetl_schema *s, struct zetl_err *err);
/* The table's current shape as the core knows it: announced in this run,
 * else the one the target was last given (an earlier run), else NULL. The
 * pointer stays valid until the source's next zetl_emit_schema of the table;
 * take a reference to keep it. For sources that track column identities
 * themselves (MySQL), so that a restart continues them. */
const struct zetl_schema *zetl_emit_known(struct zetl_emitter *em, const struct zetl_table_id *id);
/* True when the table is selected by the integration's table filter. */
bool zetl_emit_wants(struct zetl_emitter *em, const struct zetl_table_id *id);
/* Begin a row of schema s (announced with zetl_emit_schema) and return the
 * batch it lives in. The row must be ended (zetl_batch_row_end) or aborted
 * before the next call. */
int zetl_emit_row(struct zetl_emitter *em, const struct zetl_schema *s, enum zetl_op op,
                  uint64_t pos, struct zetl_batch **b, struct zetl_err *err);
/* Hand on a whole batch the source built itself (schema announced with
 * zetl_emit_schema; the core takes ownership, also on error). Unlike the
 * calls above this one is thread-safe: the workers of an initial sync call it
 * concurrently, each with batches of its own. May block (back-pressure). */
int zetl_emit_batch(struct zetl_emitter *em, struct zetl_batch *b, struct zetl_err *err);
int zetl_emit_truncate(struct zetl_emitter *em, const struct zetl_schema *s, uint64_t pos,
                       struct zetl_err *err);
/* End of a source transaction: every change before is consistent at pos. */
int zetl_emit_commit(struct zetl_emitter *em, const struct zetl_position *pos,
                     struct zetl_err *err);
int zetl_emit_keepalive(struct zetl_emitter *em, const struct zetl_position *pos,
                        struct zetl_err *err);
/* The initial sync of table s starts: the sink empties the table first, so a
 * restarted sync never mixes two snapshots. */
int zetl_emit_snapshot_table(struct zetl_emitter *em, const struct zetl_schema *s,
                             struct zetl_err *err);
/* The initial sync is complete and consistent at pos (streaming starts there). */
int zetl_emit_snapshot_done(struct zetl_emitter *em, const struct zetl_position *pos,
                            struct zetl_err *err);
/* Progress of one table's initial sync (rows done, estimated total or -1). */
void zetl_emit_progress(struct zetl_emitter *em, const struct zetl_table_id *id, int64_t done,
                        int64_t total);
/* Milliseconds of a monotonic clock. */
long long zetl_now_ms(void);
/* The initial sync's overall progress for people: on a terminal one line
 * redrawn in place (rows, percent, rate, ETA), otherwise a log line at most
 * every 10 s; final prints the last one. t0_ms is zetl_now_ms() at the start;
 * expect is the estimated row count of every table to copy. Not thread-safe:
 * call it from one thread. Returns true when it showed a line (then is the
 * time to report each table's zetl_emit_progress too). */
bool zetl_emit_progress_line(struct zetl_emitter *em, long long done, long long expect, int ntables,
                             long long t0_ms, bool final);
/* Applying a large transaction before its commit, for a source that receives
 * one while it still runs (PostgreSQL's streamed transactions). Between
 * transactions, zetl_emit_early_begin() asks that the rows emitted from now
 * on reach the sink before their commit is known: *began is true when the
 * sink can take them back (it has rollback) and what was pending has been
 * committed first; false means the rows must wait for the commit as usual.
 * Then zetl_emit_commit() (the transaction committed), or
 * zetl_emit_early_abort() (it aborted, or the source will apply it at its
 * commit after all): the sink rolls back the rows it was given. In between
 * the source emits rows of that transaction only: no other transaction, no
 * schema change or truncate, no keepalive position. */
int zetl_emit_early_begin(struct zetl_emitter *em, bool *began, struct zetl_err *err);
/* Whether zetl_emit_early_begin can ever begin (the sink can roll back). */
bool zetl_emit_early_possible(const struct zetl_emitter *em);
/* The early transaction will not be committed as it was given: the rows not
 * handed on yet are dropped and the sink rolls back. A no-op when none. */
int zetl_emit_early_abort(struct zetl_emitter *em, struct zetl_err *err);
/* Put a table into needs_attention (unsupported type or DDL...). Its changes
 * are dropped from now on until it is resynced. */
void zetl_emit_table_error(struct zetl_emitter *em, const struct zetl_table_id *id,
                           const char *message);
/* The last position durably committed by the sink: what the source may acknowledge. */
void zetl_emit_acked(struct zetl_emitter *em, struct zetl_position *out);
bool zetl_emit_stopping(struct zetl_emitter *em);

#endif
