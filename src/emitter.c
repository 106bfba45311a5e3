/*
 * The emitter: the core's side of a running source (see zetl/emit.h), on the
 * source thread. It keeps one open batch per table and hands batches on to
 * the sink thread through the bounded queue when they reach the row or byte
 * threshold, or at a transaction boundary once the oldest pending row is
 * older than flush_ms. A transaction is never cut by a commit: batches of a
 * huge transaction may be handed on early to bound memory, but the COMMIT
 * item only follows its last row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipeline_int.h"
#include "zetl/filter.h"
#include "zetl/log.h"

long long zetl_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int zetl_emitter_init(struct zetl_emitter *em, const struct zetl_pipeline_ctx *ctx,
                      struct zetl_queue *q, atomic_bool *stopping,
                      const struct zetl_position *acked, struct zetl_schema_set *known)
{
        memset(em, 0, sizeof(*em));
        em->known = *known;
        memset(known, 0, sizeof(*known));
        em->ctx = ctx;
        em->q = q;
        em->stopping = stopping;
        em->acked = *acked;
        em->flushed = *acked;
        em->last_commit = *acked;
        em->last_flush_ms = zetl_now_ms();
        if (pthread_mutex_init(&em->mu, NULL))
                return ZETL_ENOMEM;
        return 0;
}

void zetl_emitter_destroy(struct zetl_emitter *em)
{
        for (int i = 0; i < em->ntables; i++) {
                zetl_batch_free(em->tables[i].open);
                zetl_batch_free(em->tables[i].discard);
                free(em->tables[i].early_error);
                if (em->tables[i].cur)
                        zetl_schema_unref(em->tables[i].cur);
        }
        free(em->tables);
        zetl_schema_set_free(&em->known);
        pthread_mutex_destroy(&em->mu);
        memset(em, 0, sizeof(*em));
}

static struct zetl_item *item_new(enum zetl_item_kind kind, struct zetl_err *err)
{
        struct zetl_item *it = calloc(1, sizeof(*it));

        if (!it)
                zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        else
                it->kind = kind;
        return it;
}

static int push(struct zetl_emitter *em, struct zetl_item *it, struct zetl_err *err)
{
        it->early = em->early;
        if (it->kind == ZETL_IT_COMMIT || it->kind == ZETL_IT_ROLLBACK)
                em->dirty = false;
        else if (it->kind != ZETL_IT_END)
                em->dirty = true;
        if (zetl_queue_push(em->q, it))
                return zetl_err_set(err, ZETL_ECANCELED, ZETL_ERRC_TRANSIENT, "pipeline stopping");
        return 0;
}

static struct em_table *find_table(struct zetl_emitter *em, const struct zetl_table_id *id)
{
        if (em->last && zetl_table_id_eq(&em->last->id, id))
                return em->last;
        for (int i = 0; i < em->ntables; i++)
                if (zetl_table_id_eq(&em->tables[i].id, id))
                        return &em->tables[i];
        return NULL;
}

static struct em_table *add_table(struct zetl_emitter *em, const struct zetl_table_id *id,
                                  struct zetl_err *err)
{
        if (em->ntables == em->cap) {
                int ncap = em->cap ? em->cap * 2 : 16;
                struct em_table *n = realloc(em->tables, (size_t)ncap * sizeof(*n));
                if (!n) {
                        zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                        return NULL;
                }
                em->tables = n;
                em->cap = ncap;
                em->last = NULL;
        }
        struct em_table *t = &em->tables[em->ntables++];
        memset(t, 0, sizeof(*t));
        t->id = *id;
        t->excluded = !zetl_filter_table(em->ctx->src_cfg->filter, id);
        return t;
}

/* Row and column filters (zetl/filter.h) on a complete batch: *b becomes what
 * the sink gets, NULL when no row is left. A table whose filters do not fit
 * its shape, or with a row they cannot judge, needs attention. */
static int filter_batch(struct zetl_emitter *em, struct zetl_batch **b, struct zetl_err *err)
{
        const struct zetl_table_id id = (*b)->schema->id;
        int rc = zetl_filter_apply(em->ctx->src_cfg->filter, b, err);

        if (rc == ZETL_ETABLE) {
                zetl_emit_table_error(em, &id, err->msg);
                zetl_err_clear(err);
                return 0;
        }
        if (rc == 0 && *b && (*b)->nrows == 0) {
                zetl_batch_free(*b);
                *b = NULL;
        }
        return rc;
}

/* Hand the table's open batch to the sink thread. */
static int hand_on(struct zetl_emitter *em, struct em_table *t, struct zetl_err *err)
{
        struct zetl_batch *b = t->open;
        struct zetl_item *it;
        int rc;

        if (!b)
                return 0;
        t->open = NULL;
        if ((rc = filter_batch(em, &b, err)) || !b)
                return rc;
        if (!(it = item_new(ZETL_IT_BATCH, err))) {
                zetl_batch_free(b);
                return err->code;
        }
        it->batch = b;
        it->bytes = b->bytes;
        return push(em, it, err);
}

static int hand_on_all(struct zetl_emitter *em, struct zetl_err *err)
{
        for (int i = 0; i < em->ntables; i++) {
                int rc = hand_on(em, &em->tables[i], err);
                if (rc)
                        return rc;
        }
        em->pending_rows = 0;
        em->pending_bytes = 0;
        return 0;
}

static int push_commit(struct zetl_emitter *em, const struct zetl_position *pos,
                       struct zetl_err *err)
{
        struct zetl_item *it;
        int rc;

        if ((rc = hand_on_all(em, err)))
                return rc;
        if (!(it = item_new(ZETL_IT_COMMIT, err)))
                return err->code;
        it->pos = *pos;
        em->flushed = *pos;
        em->last_flush_ms = zetl_now_ms();
        atomic_store(&em->batch_rows, 0);
        return push(em, it, err);
}

int zetl_emit_schema(struct zetl_emitter *em, const struct zetl_schema *s, struct zetl_err *err)
{
        const struct zetl_filter *f = em->ctx->src_cfg->filter;
        struct em_table *t = find_table(em, &s->id);
        const struct zetl_schema *base, *ps = s;
        struct zetl_schema *ms = (struct zetl_schema *)s; /* the core numbers versions */
        struct zetl_item *it;
        int rc;

        if (!t && !(t = add_table(em, &s->id, err)))
                return err->code;
        em->last = t;
        if (t->cur == s)
                return 0;
        if ((rc = hand_on(em, t, err)))
                return rc;
        zetl_batch_free(t->discard);
        t->discard = NULL;
        /* Sinks see ps: s without the columns the filters leave out. Filters
         * that do not fit s put the table into needs_attention. */
        if (!t->excluded && (rc = zetl_filter_prepare(f, s, &ps, err))) {
                if (rc != ZETL_ETABLE)
                        return rc;
                if (t->cur)
                        zetl_schema_unref(t->cur);
                t->cur = zetl_schema_ref(s);
                zetl_emit_table_error(em, &s->id, err->msg);
                zetl_err_clear(err);
                return 0;
        }
        /* Against this run's shape, else the one the target was last given. */
        base = t->cur ? zetl_filter_sink_schema(f, t->cur)
                      : zetl_schema_set_find(&em->known, &s->id);
        if (base && zetl_schema_same_shape(base, ps)) {
                ms->version = base->version;
                ((struct zetl_schema *)ps)->version = ms->version;
                if (t->cur) {
                        zetl_schema_unref(t->cur);
                        t->cur = zetl_schema_ref(s);
                        return 0;
                }
        } else if (em->early && !t->excluded) {
                goto early;
        } else {
                ms->version = base ? base->version + 1 : 1;
                ((struct zetl_schema *)ps)->version = ms->version;
        }
        if (t->excluded) {
                if (t->cur)
                        zetl_schema_unref(t->cur);
                t->cur = zetl_schema_ref(s);
                return 0;
        }
        if (em->early)
                goto early;
        if (!(it = item_new(ZETL_IT_SCHEMA, err)))
                return err->code;
        if (base && (rc = zetl_schema_diff(base, ps, &it->diff, err))) {
                zetl_item_free(it);
                return rc;
        }
        it->old = base ? zetl_schema_ref(base) : NULL;
        it->schema = zetl_schema_ref(ps);
        if (t->cur)
                zetl_schema_unref(t->cur);
        t->cur = zetl_schema_ref(s);
        return push(em, it, err);
early:
        /* A rollback could not take a target's DDL back with the core's idea
         * of the shape: the source applies such a transaction at its commit
         * instead. Nothing has changed here yet. */
        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                            "source bug: table %s is announced in a transaction applied before "
                            "its commit",
                            s->id.table);
}

const struct zetl_schema *zetl_emit_known(struct zetl_emitter *em, const struct zetl_table_id *id)
{
        struct em_table *t = find_table(em, id);

        if (t && t->cur)
                return t->cur;
        return zetl_schema_set_find(&em->known, id);
}

bool zetl_emit_wants(struct zetl_emitter *em, const struct zetl_table_id *id)
{
        struct em_table *t = find_table(em, id);

        if (t)
                return !t->excluded && !t->failed;
        return zetl_filter_table(em->ctx->src_cfg->filter, id);
}

int zetl_emit_row(struct zetl_emitter *em, const struct zetl_schema *s, enum zetl_op op,
                  uint64_t pos, struct zetl_batch **out, struct zetl_err *err)
{
        const struct zetl_pipeline_opts *o = &em->ctx->opts;
        struct em_table *t = em->last;
        int rc;

        if (!t || t->cur != s) {
                t = find_table(em, &s->id);
                if (!t || t->cur != s)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                            "source bug: row for table %s before its schema",
                                            s->id.table);
                em->last = t;
        }
        if (t->excluded || t->failed || t->early_error) {
                if (!t->discard && !(t->discard = zetl_batch_new(s, o->batch_max_bytes)))
                        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                zetl_batch_reset(t->discard);
                *out = t->discard;
                return zetl_batch_row_begin(t->discard, op, pos, err);
        }
        if (t->open) {
                em->pending_bytes += t->open->bytes - t->seen_bytes;
                t->seen_bytes = t->open->bytes;
        }
        if (t->open && (t->open->nrows >= o->flush_rows || t->open->bytes >= o->flush_bytes)) {
                if ((rc = hand_on(em, t, err)))
                        return rc;
        }
        if (em->pending_rows >= o->flush_rows || em->pending_bytes >= o->flush_bytes) {
                if ((rc = hand_on_all(em, err)))
                        return rc;
        }
        if (!t->open) {
                if (!(t->open = zetl_batch_new(s, o->batch_max_bytes)))
                        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                t->seen_bytes = 0;
        }
        if ((rc = zetl_batch_row_begin(t->open, op, pos, err)))
                return rc;
        if (em->pending_rows++ == 0)
                em->first_pending_ms = zetl_now_ms();
        em->txn_rows++;
        *out = t->open;
        return 0;
}

int zetl_emit_batch(struct zetl_emitter *em, struct zetl_batch *b, struct zetl_err *err)
{
        struct zetl_item *it;
        int rc;

        /* Filters as in hand_on. ZETL_ETABLE here can only mean filters that
         * do not fit the table (a snapshot has no unchanged cells): the table
         * was put into needs_attention when its copy began, its rows go. */
        rc = zetl_filter_apply(em->ctx->src_cfg->filter, &b, err);
        if (rc == ZETL_ETABLE) {
                zetl_err_clear(err);
                return 0;
        }
        if (rc)
                return rc;
        if (!b || b->nrows == 0) {
                zetl_batch_free(b);
                return 0;
        }
        if (!(it = item_new(ZETL_IT_BATCH, err))) {
                zetl_batch_free(b);
                return err->code;
        }
        it->batch = b;
        it->bytes = b->bytes;
        atomic_fetch_add(&em->batch_rows, b->nrows);
        return push(em, it, err);
}

int zetl_emit_truncate(struct zetl_emitter *em, const struct zetl_schema *s, uint64_t pos,
                       struct zetl_err *err)
{
        struct em_table *t = find_table(em, &s->id);
        struct zetl_item *it;
        int rc;

        if (!t || t->excluded || t->failed)
                return 0;
        if (em->early)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "source bug: a truncate in a transaction applied before its "
                                    "commit");
        if ((rc = hand_on(em, t, err)))
                return rc;
        if (!(it = item_new(ZETL_IT_TRUNCATE, err)))
                return err->code;
        it->schema = zetl_schema_ref(zetl_filter_sink_schema(em->ctx->src_cfg->filter, s));
        it->pos.order = pos;
        em->txn_rows++;
        return push(em, it, err);
}

static void set_received(struct zetl_emitter *em, const struct zetl_position *pos)
{
        pthread_mutex_lock(&em->mu);
        em->received = *pos;
        pthread_mutex_unlock(&em->mu);
}

static bool flush_due(struct zetl_emitter *em)
{
        const struct zetl_pipeline_opts *o = &em->ctx->opts;
        long long now;

        if (em->pending_rows >= o->flush_rows || em->pending_bytes >= o->flush_bytes)
                return true;
        now = zetl_now_ms();
        if (em->pending_rows > 0)
                return now - em->first_pending_ms >= o->flush_ms;
        /* Whole batches handed on by snapshot workers: commit them now and then
         * so the sink can make them durable (at an unset position). */
        if (atomic_load(&em->batch_rows) > 0)
                return now - em->last_flush_ms >= o->flush_ms;
        /* Nothing pending, but the position moved (filtered or empty
         * transactions): commit it now and then so the source can release WAL. */
        return em->last_commit.order != em->flushed.order && now - em->last_flush_ms >= o->flush_ms;
}

int zetl_emit_commit(struct zetl_emitter *em, const struct zetl_position *pos, struct zetl_err *err)
{
        /* A transaction applied before its commit is committed at once: the
         * sink holds it open, and grouping is for small transactions. */
        bool early = em->early;
        int rc;

        /* The transaction's last rows go as early rows too: the sink skips
         * those of a table that failed in it. */
        if (early && (rc = hand_on_all(em, err)))
                return rc;
        em->early = false;
        for (int i = 0; early && i < em->ntables; i++) {
                char *msg = em->tables[i].early_error;
                if (msg) {
                        em->tables[i].early_error = NULL;
                        zetl_emit_table_error(em, &em->tables[i].id, msg);
                        free(msg);
                }
        }
        em->last_commit = *pos;
        em->txn_rows = 0;
        set_received(em, pos);
        if (atomic_load(em->stopping))
                return zetl_err_set(err, ZETL_ECANCELED, ZETL_ERRC_TRANSIENT, "stopping");
        if (!early && !flush_due(em))
                return 0;
        return push_commit(em, pos, err);
}

int zetl_emit_early_begin(struct zetl_emitter *em, bool *began, struct zetl_err *err)
{
        int rc;

        *began = false;
        if (em->early || em->txn_rows > 0 || !em->ctx->sink->rollback)
                return 0;
        /* Commit what came before, so that a rollback takes back this
         * transaction only: rows, and a table announced just before (its
         * DDL must not be rolled back under the core's feet). */
        if ((em->dirty || em->pending_rows > 0 || em->last_commit.order != em->flushed.order ||
             strcmp(em->last_commit.token, em->flushed.token) != 0) &&
            (rc = push_commit(em, &em->last_commit, err)))
                return rc;
        em->early = true;
        *began = true;
        return 0;
}

/* Drop the rows not handed on yet and tell the sink to roll back. */
static int early_discard(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_item *it;

        for (int i = 0; i < em->ntables; i++) {
                zetl_batch_free(em->tables[i].open);
                em->tables[i].open = NULL;
                em->tables[i].seen_bytes = 0;
                free(em->tables[i].early_error);
                em->tables[i].early_error = NULL;
        }
        em->pending_rows = 0;
        em->pending_bytes = 0;
        em->txn_rows = 0;
        em->early = false;
        if (!(it = item_new(ZETL_IT_ROLLBACK, err)))
                return err->code;
        return push(em, it, err);
}

int zetl_emit_early_abort(struct zetl_emitter *em, struct zetl_err *err)
{
        return em->early ? early_discard(em, err) : 0;
}

bool zetl_emit_early_possible(const struct zetl_emitter *em)
{
        return em->ctx->sink->rollback != NULL;
}

int zetl_emit_keepalive(struct zetl_emitter *em, const struct zetl_position *pos,
                        struct zetl_err *err)
{
        pthread_mutex_lock(&em->mu);
        em->server_end = *pos;
        pthread_mutex_unlock(&em->mu);
        if (atomic_load(em->stopping))
                return zetl_err_set(err, ZETL_ECANCELED, ZETL_ERRC_TRANSIENT, "stopping");
        if (em->txn_rows > 0 || em->early || !flush_due(em))
                return 0;
        return push_commit(em, &em->last_commit, err);
}

int zetl_emit_snapshot_table(struct zetl_emitter *em, const struct zetl_schema *s,
                             struct zetl_err *err)
{
        struct em_table *t = find_table(em, &s->id);
        struct zetl_item *it;
        int rc;

        if (!t || t->cur != s)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "source bug: snapshot of %s before its schema", s->id.table);
        if (t->excluded)
                return 0;
        /* Filters that do not fit the table keep it in needs_attention (see
         * zetl_emit_schema): no copy starts, which would clear that. */
        const struct zetl_schema *ps;
        if ((rc = zetl_filter_prepare(em->ctx->src_cfg->filter, s, &ps, err))) {
                if (rc != ZETL_ETABLE)
                        return rc;
                if (!t->failed)
                        zetl_emit_table_error(em, &s->id, err->msg);
                zetl_err_clear(err);
                return 0;
        }
        t->failed = false;
        if (!(it = item_new(ZETL_IT_SNAPSHOT_TABLE, err)))
                return err->code;
        it->schema = zetl_schema_ref(ps);
        return push(em, it, err);
}

int zetl_emit_snapshot_done(struct zetl_emitter *em, const struct zetl_position *pos,
                            struct zetl_err *err)
{
        struct zetl_item *it;
        int rc;

        if ((rc = hand_on_all(em, err)))
                return rc;
        if (!(it = item_new(ZETL_IT_SNAPSHOT_DONE, err)))
                return err->code;
        it->pos = *pos;
        if ((rc = push(em, it, err)))
                return rc;
        em->txn_rows = 0;
        em->last_commit = *pos;
        set_received(em, pos);
        return push_commit(em, pos, err);
}

void zetl_emit_progress(struct zetl_emitter *em, const struct zetl_table_id *id, int64_t done,
                        int64_t total)
{
        struct zetl_item *it = item_new(ZETL_IT_PROGRESS, NULL);

        if (!it)
                return;
        it->id = *id;
        it->done = done;
        it->total = total;
        zetl_queue_push(em->q, it);
}

bool zetl_emit_progress_line(struct zetl_emitter *em, long long done, long long expect, int ntables,
                             long long t0_ms, bool final)
{
        long long now = zetl_now_ms();
        bool tty = isatty(STDERR_FILENO);

        if (!final && now - em->progress_ms < (tty ? 200 : 10000))
                return false;
        em->progress_ms = now;
        if (expect < done)
                expect = done;
        double secs = (double)(now - t0_ms) / 1000.0;
        double rate = secs > 0 ? (double)done / secs : 0;
        double eta = rate > 0 ? (double)(expect - done) / rate : 0;
        int pct = expect ? (int)(100.0 * (double)done / (double)expect) : 100;
        if (tty && !final)
                fprintf(stderr,
                        "\r\033[Kinitial sync: %lld of ~%lld rows (%d%%), %.0f rows/s, ETA %.0f s",
                        done, expect, pct, rate, eta);
        else
                zlog_info("initial sync: %lld of ~%lld rows (%d%%) in %d tables, %.0f rows/s%s",
                          done, expect, pct, ntables, rate, final ? ", done" : "");
        if (tty && final)
                fputc('\n', stderr);
        return true;
}

void zetl_emit_table_error(struct zetl_emitter *em, const struct zetl_table_id *id,
                           const char *message)
{
        struct em_table *t = find_table(em, id);
        struct zetl_item *it;

        if (!t && !(t = add_table(em, id, NULL)))
                return;
        if (em->early) {
                /* Only if the transaction commits (zetl_emit_commit): an
                 * aborted one must not set a table aside. Its rows go. */
                if (!t->early_error)
                        t->early_error = strdup(message ? message : "unknown error");
                zetl_batch_free(t->open);
                t->open = NULL;
                return;
        }
        t->failed = true;
        if (t->open) {
                /* Rows of this table that were not handed on are dropped with it. */
                zetl_batch_free(t->open);
                t->open = NULL;
        }
        if (!(it = item_new(ZETL_IT_TABLE_ERROR, NULL)))
                return;
        it->id = *id;
        it->message = strdup(message ? message : "unknown error");
        zetl_queue_push(em->q, it);
}

void zetl_emit_acked(struct zetl_emitter *em, struct zetl_position *out)
{
        pthread_mutex_lock(&em->mu);
        *out = em->acked;
        pthread_mutex_unlock(&em->mu);
}

bool zetl_emit_stopping(struct zetl_emitter *em)
{
        return atomic_load(em->stopping);
}

int zetl_emitter_finish(struct zetl_emitter *em, bool commit, struct zetl_err *err)
{
        struct zetl_item *it;
        int rc;

        /* A transaction the source left half-emitted is not committed: the
         * sink discards it on close and the next run replays it whole. */
        if (em->early && (rc = early_discard(em, err)))
                return rc;
        if (commit && em->txn_rows == 0 &&
            (em->pending_rows > 0 || em->last_commit.order != em->flushed.order ||
             strcmp(em->last_commit.token, em->flushed.token) != 0)) {
                if ((rc = push_commit(em, &em->last_commit, err)))
                        return rc;
        }
        if (!(it = item_new(ZETL_IT_END, err)))
                return err->code;
        return push(em, it, err);
}
