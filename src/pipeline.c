/*
 * The pipeline's sink side and its supervisor (see pipeline.h). The sink
 * thread applies queue items in order; after each durable commit it writes
 * checkpoint.json and only then offers the position to the source for
 * acknowledgement: received >= written >= committed >= acknowledged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "pipeline_int.h"
#include "schema_store.h"
#include "zetl/log.h"

void zetl_pipeline_opts_default(struct zetl_pipeline_opts *o)
{
        o->flush_rows = 100000;
        o->flush_bytes = (size_t)64 << 20;
        o->flush_ms = 1000;
        o->batch_max_bytes = ZETL_BATCH_DEFAULT_MAX_BYTES;
        o->queue_max_items = 16;
        o->queue_max_bytes = (size_t)256 << 20;
        o->retry_initial_ms = 1000;
        o->retry_max_ms = 60000;
        o->max_attempts = 0;
        o->status_interval_ms = 1000;
}

struct sink_state {
        const struct zetl_pipeline_ctx *ctx;
        void *priv;
        struct zetl_queue *q;
        struct zetl_emitter *em;
        atomic_bool *stopping;
        struct zetl_checkpoint ck;
        struct zetl_status *st;
        long long last_status_ms;
        bool snapshot_pending_done;     /* SNAPSHOT_DONE seen, its commit not yet */
        struct zetl_schema_set applied; /* shapes given to the sink, saved at commit */
        /* Row counts of batches written before their transaction committed
         * (zetl_emit_early_begin): taken back from the status on rollback. */
        struct early_count {
                struct zetl_table_id id;
                int64_t n[4];
                int64_t bytes;
        } * early;
        int nearly, early_cap;
        /* Tables that failed in the early transaction: set aside only if it
         * commits (an aborted transaction must not stop a table). */
        struct early_fail {
                struct zetl_table_id id;
                char *msg;
        } * efail;
        int nefail;
        int rc;
        struct zetl_err err;
};

static int64_t wall_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void count_add(struct sink_state *s, const struct zetl_table_id *id, const int64_t n[4],
                      int64_t bytes, int sign)
{
        struct zetl_table_status *ts = zetl_status_table(s->st, id);

        if (!ts)
                return;
        ts->rows_snapshot += sign * n[ZETL_OP_SNAPSHOT];
        ts->rows_inserted += sign * n[ZETL_OP_INSERT];
        ts->rows_updated += sign * n[ZETL_OP_UPDATE];
        ts->rows_deleted += sign * n[ZETL_OP_DELETE];
        ts->bytes += sign * bytes;
}

static void table_count(struct sink_state *s, const struct zetl_batch *b, bool early)
{
        int64_t n[4] = { 0, 0, 0, 0 }, bytes = 0;

        for (uint32_t r = 0; r < b->nrows; r++)
                n[b->ops[r] & 3]++;
        for (int c = 0; c < b->schema->ncols; c++)
                bytes += (int64_t)(b->cols[c].data_len +
                                   zetl_type_width(b->schema->cols[c].type) * b->nrows);
        count_add(s, &b->schema->id, n, bytes, 1);
        if (!early)
                return;
        if (s->nearly == s->early_cap) {
                int ncap = s->early_cap ? s->early_cap * 2 : 16;
                struct early_count *e = realloc(s->early, (size_t)ncap * sizeof(*e));
                if (!e)
                        return; /* the counts only: a rollback would leave them high */
                s->early = e;
                s->early_cap = ncap;
        }
        struct early_count *e = &s->early[s->nearly++];
        e->id = b->schema->id;
        memcpy(e->n, n, sizeof(n));
        e->bytes = bytes;
}

static void status_write(struct sink_state *s, bool force);

static void table_fail(struct sink_state *s, const struct zetl_table_id *id, const char *msg)
{
        struct zetl_table_status *ts = zetl_status_table(s->st, id);
        char name[ZETL_NAME_MAX * 3];

        zlog_error("table %s needs attention: %s", zetl_table_id_str(id, name, sizeof(name)), msg);
        zetl_metrics_error(s->ctx->metrics);
        if (!ts)
                return;
        ts->state = ZETL_TABLE_NEEDS_ATTENTION;
        free(ts->last_error);
        ts->last_error = strdup(msg);
        s->st->state = ZETL_STATE_NEEDS_ATTENTION;
        status_write(s, true); /* not left to the periodic write: a crash must not lose it */
}

static bool early_failed(const struct sink_state *s, const struct zetl_table_id *id)
{
        for (int i = 0; i < s->nefail; i++)
                if (zetl_table_id_eq(&s->efail[i].id, id))
                        return true;
        return false;
}

/* The early transaction ended: its table failures become real (commit) or
 * vanish (rollback). */
static void early_fail_end(struct sink_state *s, bool committed)
{
        for (int i = 0; i < s->nefail; i++) {
                if (committed)
                        table_fail(s, &s->efail[i].id, s->efail[i].msg);
                free(s->efail[i].msg);
        }
        free(s->efail);
        s->efail = NULL;
        s->nefail = 0;
}

static void early_fail_add(struct sink_state *s, const struct zetl_table_id *id, const char *msg)
{
        struct early_fail *n = realloc(s->efail, (size_t)(s->nefail + 1) * sizeof(*n));

        zlog_warn("table %s: %s (it needs attention if its transaction commits)", id->table, msg);
        if (!n)
                return;
        s->efail = n;
        n[s->nefail].id = *id;
        if ((n[s->nefail].msg = strdup(msg)))
                s->nefail++;
}

static bool table_failed(struct sink_state *s, const struct zetl_table_id *id)
{
        for (int i = 0; i < s->st->ntables; i++)
                if (zetl_table_id_eq(&s->st->tables[i].id, id))
                        return s->st->tables[i].state == ZETL_TABLE_NEEDS_ATTENTION;
        return false;
}

static void status_write(struct sink_state *s, bool force)
{
        long long now = zetl_now_ms();
        struct zetl_err e;

        if (!force && now - s->last_status_ms < s->ctx->opts.status_interval_ms)
                return;
        s->last_status_ms = now;
        s->st->updated_at = wall_us();
        if (s->ck.committed.time_us > 0)
                s->st->lag_seconds = (double)(s->st->updated_at - s->ck.committed.time_us) / 1e6;
        pthread_mutex_lock(&s->em->mu);
        if (s->em->server_end.order >= s->ck.committed.order && s->ck.committed.order > 0)
                s->st->lag_bytes = (int64_t)(s->em->server_end.order - s->ck.committed.order);
        pthread_mutex_unlock(&s->em->mu);
        if (zetl_status_save(s->ctx->idir, s->st, &e))
                zlog_warn("could not write status: %s", e.msg);
        zetl_metrics_publish(s->ctx->metrics, s->st);
}

static int do_commit(struct sink_state *s, const struct zetl_position *pos)
{
        const struct zetl_sink_ops *ops = s->ctx->sink;
        int rc;

        pthread_mutex_lock(&s->em->mu);
        s->ck.received = s->em->received;
        pthread_mutex_unlock(&s->em->mu);
        s->ck.written = *pos;
        long long t0 = zetl_now_ms();
        if ((rc = ops->commit(s->priv, pos, &s->err)))
                return rc;
        zetl_metrics_commit(s->ctx->metrics, (double)(zetl_now_ms() - t0) / 1000.0);
        if (zetl_pos_is_set(pos))
                s->ck.committed = *pos;
        if ((rc = zetl_schema_set_save(s->ctx->idir, &s->applied, &s->err)))
                return rc;
        if (s->snapshot_pending_done) {
                s->ck.snapshot_done = true;
                s->snapshot_pending_done = false;
                for (int i = 0; i < s->st->ntables; i++)
                        if (s->st->tables[i].state == ZETL_TABLE_SYNCING)
                                s->st->tables[i].state = ZETL_TABLE_ACTIVE;
                if (s->st->state == ZETL_STATE_SYNCING || s->st->state == ZETL_STATE_CREATING)
                        s->st->state = ZETL_STATE_ACTIVE;
        }
        /* The position is offered to the source only once the checkpoint that
         * names it is on disk: a crash between the two replays, never skips. */
        s->ck.acked = s->ck.committed;
        s->ck.updated_at = wall_us();
        if ((rc = zetl_checkpoint_save(s->ctx->idir, &s->ck, &s->err)))
                return rc;
        pthread_mutex_lock(&s->em->mu);
        s->em->acked = s->ck.acked;
        pthread_mutex_unlock(&s->em->mu);
        status_write(s, false);
        return 0;
}

/* Apply one item. Returns 0, or an error that stops this attempt. */
static int apply(struct sink_state *s, struct zetl_item *it)
{
        const struct zetl_sink_ops *ops = s->ctx->sink;
        const struct zetl_schema *sch = it->batch ? it->batch->schema : it->schema;
        char name[ZETL_NAME_MAX * 3];
        int rc = 0;

        if (sch && it->kind != ZETL_IT_SNAPSHOT_TABLE &&
            (table_failed(s, &sch->id) || early_failed(s, &sch->id)))
                return 0;
        switch (it->kind) {
        case ZETL_IT_SCHEMA:
                if (it->old && it->old->version == sch->version)
                        zlog_debug("table %s: shape as the target last had it (version %u)",
                                   zetl_table_id_str(&sch->id, name, sizeof(name)), sch->version);
                else if (it->old)
                        zlog_info("table %s changed shape (version %u -> %u, %d change%s%s)",
                                  zetl_table_id_str(&sch->id, name, sizeof(name)), it->old->version,
                                  sch->version, it->diff.n, it->diff.n == 1 ? "" : "s",
                                  it->diff.compatible ? "" : ", incompatible");
                {
                        /* A table is syncing only while its initial copy runs. */
                        struct zetl_table_status *ts = zetl_status_table(s->st, &sch->id);
                        if (ts && ts->state == ZETL_TABLE_SYNCING &&
                            (s->ck.snapshot_done || s->snapshot_pending_done))
                                ts->state = ZETL_TABLE_ACTIVE;
                }
                rc = ops->schema(s->priv, it->old, sch, it->old ? &it->diff : NULL, &s->err);
                if (rc == 0 && zetl_schema_set_put(&s->applied, sch))
                        rc = zetl_err_set(&s->err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                break;
        case ZETL_IT_BATCH:
                rc = ops->write(s->priv, it->batch, &s->err);
                if (rc == 0) {
                        table_count(s, it->batch, it->early);
                        zetl_metrics_batch(s->ctx->metrics);
                }
                break;
        case ZETL_IT_TRUNCATE:
                rc = ops->truncate(s->priv, sch, it->pos.order, &s->err);
                break;
        case ZETL_IT_SNAPSHOT_TABLE: {
                struct zetl_table_status *ts = zetl_status_table(s->st, &sch->id);
                if (ts) {
                        ts->state = ZETL_TABLE_SYNCING;
                        free(ts->last_error);
                        ts->last_error = NULL;
                        ts->rows_snapshot = 0;
                }
                rc = ops->truncate(s->priv, sch, 0, &s->err);
                break;
        }
        case ZETL_IT_SNAPSHOT_DONE:
                s->snapshot_pending_done = true;
                break;
        case ZETL_IT_COMMIT:
                if ((rc = do_commit(s, &it->pos)) == 0) {
                        s->nearly = 0;
                        early_fail_end(s, true);
                }
                break;
        case ZETL_IT_ROLLBACK:
                if (ops->rollback && (rc = ops->rollback(s->priv, &s->err)) == 0) {
                        for (int i = 0; i < s->nearly; i++)
                                count_add(s, &s->early[i].id, s->early[i].n, s->early[i].bytes, -1);
                        s->nearly = 0;
                        early_fail_end(s, false);
                }
                break;
        case ZETL_IT_TABLE_ERROR:
                table_fail(s, &it->id, it->message);
                break;
        case ZETL_IT_PROGRESS:
                zlog_info("initial sync of %s: %lld of ~%lld rows",
                          zetl_table_id_str(&it->id, name, sizeof(name)), (long long)it->done,
                          (long long)(it->total > it->done ? it->total : it->done));
                break;
        case ZETL_IT_END:
                break;
        }
        if (rc == ZETL_ETABLE && sch && it->early) {
                early_fail_add(s, &sch->id, s->err.msg);
                zetl_err_clear(&s->err);
                rc = 0;
        } else if (rc == ZETL_ETABLE && sch) {
                table_fail(s, &sch->id, s->err.msg);
                zetl_err_clear(&s->err);
                rc = 0;
        }
        return rc;
}

static void *sink_main(void *arg)
{
        struct sink_state *s = arg;
        struct zetl_item *it;

        for (;;) {
                bool idle;
                /* Idle, the status (and metrics) still follow the last commit. */
                if (!(it = zetl_queue_pop_wait(s->q, s->ctx->opts.status_interval_ms, &idle))) {
                        if (!idle)
                                break;
                        if (s->rc == 0)
                                status_write(s, false);
                        continue;
                }
                bool end = it->kind == ZETL_IT_END;
                if (s->rc == 0) {
                        s->rc = apply(s, it);
                        if (s->rc) {
                                /* Stop the source; items still queued are dropped
                                 * uncommitted and replayed by the next attempt. */
                                atomic_store(s->stopping, true);
                                zetl_queue_close(s->q);
                        }
                }
                zetl_item_free(it);
                if (end)
                        break;
        }
        return NULL;
}

struct source_state {
        const struct zetl_pipeline_ctx *ctx;
        void *priv;
        struct zetl_emitter *em;
        struct zetl_resume resume;
        int rc;
        struct zetl_err err;
};

static void *source_main(void *arg)
{
        struct source_state *s = arg;
        struct zetl_err ferr;

        s->rc = s->ctx->src->run(s->priv, s->em, &s->resume, &s->err);
        if (s->rc == ZETL_ECANCELED) {
                s->rc = 0;
                zetl_err_clear(&s->err);
        }
        zetl_err_clear(&ferr);
        /* Commit what is complete unless the source failed, then end the stream. */
        zetl_emitter_finish(s->em, s->rc == 0, &ferr);
        return NULL;
}

static void *watch_main(void *arg)
{
        struct zetl_emitter *em = arg;

        /* Turns the signal handler's flag into the pipeline's stopping flag. */
        while (!atomic_load(em->stopping)) {
                if (em->ctx->stop && *em->ctx->stop) {
                        atomic_store(em->stopping, true);
                        break;
                }
                usleep(20000);
        }
        return NULL;
}

static int open_sides(const struct zetl_pipeline_ctx *ctx, void *spriv, void *kpriv,
                      struct zetl_err *err)
{
        int rc = ctx->sink->open(kpriv, ctx->sink_cfg, err);

        if (rc)
                return zetl_err_prefix(err, "target: ");
        if ((rc = ctx->src->open(spriv, ctx->src_cfg, err))) {
                ctx->sink->close(kpriv);
                return zetl_err_prefix(err, "source: ");
        }
        return 0;
}

int zetl_pipeline_run(const struct zetl_pipeline_ctx *ctx, struct zetl_err *err)
{
        void *spriv = calloc(1, ctx->src->priv_size ? ctx->src->priv_size : 1);
        void *kpriv = calloc(1, ctx->sink->priv_size ? ctx->sink->priv_size : 1);
        struct zetl_queue q;
        struct zetl_emitter em;
        struct zetl_status st = { 0 };
        struct zetl_schema_set known = { 0 };
        struct sink_state ks = { 0 };
        struct source_state ss = { 0 };
        atomic_bool stopping = false;
        pthread_t st_src, st_sink, st_watch;
        bool found;
        int rc;

        if (!spriv || !kpriv) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out_free;
        }
        if ((rc = zetl_checkpoint_load(ctx->idir, &ks.ck, &found, err)))
                goto out_free;
        if ((rc = zetl_status_load(ctx->idir, &st, &found, err)))
                goto out_free;
        if ((rc = zetl_schema_set_load(ctx->idir, &known, err)) ||
            (rc = zetl_schema_set_load(ctx->idir, &ks.applied, err)))
                goto out_status;
        if ((rc = open_sides(ctx, spriv, kpriv, err))) {
                /* Record why, so describe-integrations shows it. */
                struct zetl_err serr;
                free(st.last_error);
                st.last_error = strdup(err->msg);
                if (err->cls != ZETL_ERRC_TRANSIENT)
                        st.state = ZETL_STATE_FAILED;
                st.pid = 0;
                if (zetl_status_save(ctx->idir, &st, &serr))
                        zlog_warn("could not write status: %s", serr.msg);
                goto out_status;
        }

        ss.resume.pos = ks.ck.committed;
        ss.resume.snapshot_done = ks.ck.snapshot_done;
        if (ctx->sink->resume && (ctx->sink->caps & ZETL_SINK_STORES_POSITION)) {
                struct zetl_position tp = { 0 };
                if ((rc = ctx->sink->resume(kpriv, &tp, err)))
                        goto out_close;
                /* The target is the authority: it may be ahead of our checkpoint
                 * (crash after its commit, before ours) or behind it (restored). */
                if (zetl_pos_is_set(&tp) || !ks.ck.snapshot_done) {
                        ss.resume.pos = tp;
                        ks.ck.committed = tp;
                }
        }
        st.state = ss.resume.snapshot_done ? ZETL_STATE_ACTIVE : ZETL_STATE_SYNCING;
        for (int i = 0; i < st.ntables && ss.resume.snapshot_done; i++)
                if (st.tables[i].state == ZETL_TABLE_NEEDS_ATTENTION)
                        st.state = ZETL_STATE_NEEDS_ATTENTION;
        st.pid = (int)getpid();
        free(st.last_error);
        st.last_error = NULL;

        if ((rc = zetl_queue_init(&q, ctx->opts.queue_max_items, ctx->opts.queue_max_bytes))) {
                zetl_err_set(err, rc, ZETL_ERRC_FATAL, "cannot create the queue");
                goto out_close;
        }
        if ((rc = zetl_emitter_init(&em, ctx, &q, &stopping, &ks.ck.committed, &known))) {
                zetl_err_set(err, rc, ZETL_ERRC_FATAL, "cannot create the emitter");
                goto out_queue;
        }
        ks.ctx = ctx;
        ks.priv = kpriv;
        ks.q = &q;
        ks.em = &em;
        ks.stopping = &stopping;
        ks.st = &st;
        status_write(&ks, true);
        ss.ctx = ctx;
        ss.priv = spriv;
        ss.em = &em;

        /* A thread that cannot start (no memory for its stack) must not
         * leave the others waiting on each other for ever. */
        int trc = pthread_create(&st_sink, NULL, sink_main, &ks);
        bool have_sink = trc == 0, have_watch = false, have_src = false;
        if (have_sink && (trc = pthread_create(&st_watch, NULL, watch_main, &em)) == 0)
                have_watch = true;
        if (have_watch && (trc = pthread_create(&st_src, NULL, source_main, &ss)) == 0)
                have_src = true;
        if (!have_src) {
                atomic_store(&stopping, true);
                zetl_queue_close(&q);
        }
        if (have_src)
                pthread_join(st_src, NULL);
        if (have_sink)
                pthread_join(st_sink, NULL);
        atomic_store(&stopping, true);
        if (have_watch)
                pthread_join(st_watch, NULL);

        if (!have_src) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_TRANSIENT,
                                  "cannot start the pipeline's threads: %s", strerror(trc));
        } else if (ks.rc) {
                rc = ks.rc;
                *err = ks.err;
                zetl_err_prefix(err, "target: ");
        } else if (ss.rc) {
                rc = ss.rc;
                *err = ss.err;
                zetl_err_prefix(err, "source: ");
        }
        if (rc) {
                free(st.last_error);
                st.last_error = strdup(err->msg);
                st.state = err->cls == ZETL_ERRC_TRANSIENT ? st.state : ZETL_STATE_FAILED;
                /* The source's position is gone (a purged binlog, a dropped
                 * slot): nothing is corrupt, the integration needs a resync. */
                if (ss.rc == ZETL_ENOTFOUND && !ks.rc)
                        st.state = ZETL_STATE_NEEDS_ATTENTION;
        }
        st.pid = 0;
        status_write(&ks, true);
        zetl_emitter_destroy(&em);
out_queue:
        zetl_queue_destroy(&q);
out_close:
        ctx->src->close(spriv);
        ctx->sink->close(kpriv);
out_status:
        zetl_status_free(&st);
        zetl_schema_set_free(&known);
        zetl_schema_set_free(&ks.applied);
        free(ks.early);
        early_fail_end(&ks, false);
out_free:
        free(spriv);
        free(kpriv);
        return rc;
}

static void sleep_ms(long ms, volatile sig_atomic_t *stop)
{
        while (ms > 0 && !(stop && *stop)) {
                long step = ms < 100 ? ms : 100;
                struct timespec ts = { step / 1000, (step % 1000) * 1000000 };
                nanosleep(&ts, NULL);
                ms -= step;
        }
}

int zetl_pipeline_supervise(const struct zetl_pipeline_ctx *ctx, struct zetl_err *err)
{
        long delay = ctx->opts.retry_initial_ms;
        int attempt = 0;

        for (;;) {
                long long started = zetl_now_ms();
                int rc = zetl_pipeline_run(ctx, err);

                attempt++;
                if (rc == 0)
                        return 0;
                if (err->cls != ZETL_ERRC_TRANSIENT)
                        return rc;
                if (ctx->stop && *ctx->stop)
                        return 0;
                if (ctx->opts.max_attempts && attempt >= ctx->opts.max_attempts)
                        return rc;
                /* A run that lasted a while was healthy: start the backoff over. */
                if (zetl_now_ms() - started > 10 * ctx->opts.retry_max_ms)
                        delay = ctx->opts.retry_initial_ms;
                /* Jitter of up to a quarter spreads reconnects of many integrations. */
                long wait = delay + (delay / 4 > 0 ? rand() % (delay / 4 + 1) : 0);
                zlog_warn("%s; retrying in %.1f s (attempt %d)", err->msg, (double)wait / 1000,
                          attempt + 1);
                zetl_metrics_retry(ctx->metrics);
                sleep_ms(wait, ctx->stop);
                if (ctx->stop && *ctx->stop)
                        return 0;
                delay = delay * 2 > ctx->opts.retry_max_ms ? ctx->opts.retry_max_ms : delay * 2;
        }
}
