/*
 * The pipeline with a fake source and a fake sink at the ops boundary: rows
 * arrive in order and exactly once across transient failures, commits only
 * follow whole transactions, the source is offered a position only after the
 * checkpoint that names it is on disk, table errors stay confined to their
 * table, and a stop request ends after the last complete commit. A
 * transaction applied before its commit (zetl_emit_early_begin) reaches the
 * sink's write early, commits at once, and rolls back on abort or when the
 * source ends in its middle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog.h"
#include "fsutil.h"
#include "pipeline.h"
#include "zetl/emit.h"
#include "zetl/filter.h"

/* ---- the fake source: NTXN transactions of ROWS_PER_TXN rows into t1 (and
 * t2 for odd transactions); row i of txn k has id k*1000+i and position
 * k*1000+i; the commit of txn k is at position k*1000+999. */

struct fake_world {
        int ntxn;
        int rows_per_txn;
        bool forever;         /* ignore ntxn: stream until stopping */
        int schema_change_at; /* txn at which t1 gains a column (0: never) */
        /* sink behaviour */
        int fail_commit_no;     /* fail the Nth commit call (1-based), 0: never */
        int fail_class;         /* ZETL_ERRC_* of that failure */
        bool t2_table_error;    /* writes of t2 return ZETL_ETABLE */
        int stop_after_commits; /* set the stop flag after this many durable commits */
        /* observations */
        int commits;
        int commit_calls;
        int batches;
        uint32_t max_batch_rows;
        int64_t *durable; /* ids durably committed, in order */
        int ndurable, cap;
        int64_t pending[100000];
        int npending;
        uint64_t last_committed;
        bool acked_too_early;
        bool ck_behind;
        int schema_calls;
        int adds_seen;
        int schema_with_old; /* schema() calls that named an earlier shape */
        uint32_t last_version;
        int opens;
        int max_in_flight_ok;
};

static struct fake_world W;
static volatile sig_atomic_t stop_flag;
static char idir[256];

struct fake_src {
        int dummy;
};

static int fs_parse(const char *u, struct zetl_err *e)
{
        (void)u;
        (void)e;
        return 0;
}

static int fs_nop(void *p, const struct zetl_conn_cfg *c, struct zetl_err *e)
{
        (void)p;
        (void)c;
        (void)e;
        return 0;
}

static struct zetl_schema *make_schema(const char *table, int ncols, uint32_t version)
{
        struct zetl_table_id id;
        struct zetl_schema *s;
        struct zetl_column id_col = { .name = "id", .type = ZETL_T_INT64, .key_pos = 1 };
        struct zetl_column v_col = { .name = "v", .type = ZETL_T_STRING, .nullable = true };
        struct zetl_column w_col = { .name = "w", .type = ZETL_T_INT32, .nullable = true };

        zetl_table_id_set(&id, "db", "public", table);
        s = zetl_schema_new(&id, ncols);
        zetl_schema_set_col(s, 0, &id_col);
        zetl_schema_set_col(s, 1, &v_col);
        if (ncols > 2)
                zetl_schema_set_col(s, 2, &w_col);
        s->version = version;
        assert_int_equal(zetl_schema_finish(s, NULL), 0);
        return s;
}

static int emit_txn(struct zetl_emitter *em, struct zetl_schema **t1, struct zetl_schema *t2, int k,
                    struct zetl_err *err)
{
        struct zetl_batch *b;
        struct zetl_position p = { 0 };
        char tok[32], v[32];
        int rc;

        if (W.schema_change_at && k == W.schema_change_at) {
                struct zetl_schema *n = make_schema("t1", 3, 2);
                if ((rc = zetl_emit_schema(em, n, err)))
                        return rc;
                zetl_schema_unref(*t1);
                *t1 = n;
        }
        for (int i = 0; i < W.rows_per_txn; i++) {
                struct zetl_schema *s = (k % 2 && i % 2) ? t2 : *t1;
                uint64_t pos = (uint64_t)k * 1000 + (uint64_t)i;
                if ((rc = zetl_emit_row(em, s, ZETL_OP_INSERT, pos, &b, err)))
                        return rc;
                zetl_batch_set_i64(b, 0, (int64_t)pos);
                snprintf(v, sizeof(v), "value %d", i);
                if ((rc = zetl_batch_set_var(b, 1, v, strlen(v), err)))
                        return rc;
                if (s->ncols > 2)
                        zetl_batch_set_i32(b, 2, k);
                zetl_batch_row_end(b);
        }
        snprintf(tok, sizeof(tok), "txn=%d", k);
        zetl_pos_set(&p, (uint64_t)k * 1000 + 999, tok);
        return zetl_emit_commit(em, &p, err);
}

static int fs_run(void *priv, struct zetl_emitter *em, const struct zetl_resume *r,
                  struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1), *t2 = make_schema("t2", 2, 1);
        int k = 1, rc;

        (void)priv;
        if ((rc = zetl_emit_schema(em, t1, err)) || (rc = zetl_emit_schema(em, t2, err)))
                goto out;
        if (!r->snapshot_done) {
                struct zetl_position p = { 0 };
                zetl_pos_set(&p, 1, "start");
                if ((rc = zetl_emit_snapshot_done(em, &p, err)))
                        goto out;
        }
        if (r->pos.order >= 1000)
                k = (int)(r->pos.order / 1000) + 1;
        for (; W.forever || k <= W.ntxn; k++) {
                /* The source is only ever offered what the checkpoint holds. */
                struct zetl_position a;
                struct zetl_checkpoint ck;
                bool found;
                zetl_emit_acked(em, &a);
                zetl_checkpoint_load(idir, &ck, &found, NULL);
                if (a.order > ck.committed.order)
                        W.acked_too_early = true;
                if ((rc = emit_txn(em, &t1, t2, k, err)))
                        goto out;
                if (W.forever)
                        usleep(200);
        }
out:
        zetl_schema_unref(t1);
        zetl_schema_unref(t2);
        return rc;
}

static void fs_close(void *priv)
{
        (void)priv;
}

static const char *const fake_schemes[] = { "fake", NULL };

static const struct zetl_source_ops fake_source = {
        .name = "fake",
        .schemes = fake_schemes,
        .priv_size = sizeof(struct fake_src),
        .parse = fs_parse,
        .setup = fs_nop,
        .teardown = fs_nop,
        .open = fs_nop,
        .run = fs_run,
        .close = fs_close,
};

/* ---- a source whose initial sync runs in two worker threads that hand
 * whole batches on with zetl_emit_batch, as snapshot workers do. */

struct worker_arg {
        struct zetl_emitter *em;
        const struct zetl_schema *s;
        int first;
        int rc;
};

static void *snapshot_worker(void *p)
{
        struct worker_arg *w = p;
        struct zetl_err err;

        for (int k = 0; k < 10 && w->rc == 0; k++) {
                struct zetl_batch *b = zetl_batch_new(w->s, 0);
                for (int i = 0; i < 100; i++) {
                        int64_t id = w->first + k * 100 + i;
                        zetl_batch_row_begin(b, ZETL_OP_SNAPSHOT, 0, NULL);
                        zetl_batch_set_i64(b, 0, id);
                        zetl_batch_set_null(b, 1);
                        zetl_batch_row_end(b);
                }
                w->rc = zetl_emit_batch(w->em, b, &err);
        }
        return NULL;
}

static int ws_run(void *priv, struct zetl_emitter *em, const struct zetl_resume *r,
                  struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1);
        struct worker_arg w[2] = { { em, t1, 0, 0 }, { em, t1, 1000000, 0 } };
        pthread_t th[2];
        struct zetl_position p = { 0 };
        int rc;

        (void)priv;
        (void)r;
        if ((rc = zetl_emit_schema(em, t1, err)) || (rc = zetl_emit_snapshot_table(em, t1, err)))
                goto out;
        for (int i = 0; i < 2; i++)
                pthread_create(&th[i], NULL, snapshot_worker, &w[i]);
        for (int i = 0; i < 2; i++)
                pthread_join(th[i], NULL);
        if (w[0].rc || w[1].rc) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "worker failed");
                goto out;
        }
        zetl_pos_set(&p, 5000, "after-snapshot");
        rc = zetl_emit_snapshot_done(em, &p, err);
out:
        zetl_schema_unref(t1);
        return rc;
}

static const struct zetl_source_ops worker_source = {
        .name = "fake-workers",
        .schemes = fake_schemes,
        .priv_size = sizeof(struct fake_src),
        .parse = fs_parse,
        .setup = fs_nop,
        .teardown = fs_nop,
        .open = fs_nop,
        .run = ws_run,
        .close = fs_close,
};

/* ---- the fake sink: rows are pending until commit; close drops pending. */

static int fk_open(void *p, const struct zetl_conn_cfg *c, struct zetl_err *e)
{
        (void)p;
        (void)c;
        (void)e;
        W.opens++;
        W.npending = 0;
        return 0;
}

static int fk_resume(void *p, struct zetl_position *out, struct zetl_err *e)
{
        (void)p;
        (void)e;
        char tok[32];
        snprintf(tok, sizeof(tok), "txn=%llu", (unsigned long long)(W.last_committed / 1000));
        zetl_pos_set(out, W.last_committed, W.last_committed ? tok : "");
        return 0;
}

static int fk_schema(void *p, const struct zetl_schema *old, const struct zetl_schema *new,
                     const struct zetl_schema_diff *d, struct zetl_err *e)
{
        (void)p;
        (void)e;
        W.schema_calls++;
        W.schema_with_old += old != NULL;
        W.last_version = new->version;
        if (old && d)
                for (int i = 0; i < d->n; i++)
                        if (d->changes[i].kind == ZETL_CHG_ADD)
                                W.adds_seen++;
        return 0;
}

static int fk_write(void *p, const struct zetl_batch *b, struct zetl_err *e)
{
        (void)p;
        if (W.t2_table_error && strcmp(b->schema->id.table, "t2") == 0)
                return zetl_err_set(e, ZETL_ETABLE, ZETL_ERRC_FATAL, "t2 is broken on purpose");
        W.batches++;
        if (b->nrows > W.max_batch_rows)
                W.max_batch_rows = b->nrows;
        for (uint32_t r = 0; r < b->nrows; r++)
                W.pending[W.npending++] = zetl_batch_get_i64(b, 0, r);
        return 0;
}

static int fk_truncate(void *p, const struct zetl_schema *s, uint64_t pos, struct zetl_err *e)
{
        (void)p;
        (void)s;
        (void)pos;
        (void)e;
        return 0;
}

static int fk_commit(void *p, const struct zetl_position *pos, struct zetl_err *e)
{
        (void)p;
        W.commit_calls++;
        if (W.fail_commit_no && W.commit_calls == W.fail_commit_no)
                return zetl_err_set(e, ZETL_ECONN, (enum zetl_err_class)W.fail_class,
                                    "target went away on purpose");
        /* What the checkpoint says must never be ahead of what we made durable. */
        struct zetl_checkpoint ck;
        bool found;
        zetl_checkpoint_load(idir, &ck, &found, NULL);
        if (ck.committed.order > W.last_committed)
                W.ck_behind = true;
        if (W.ndurable + W.npending > W.cap) {
                W.cap = (W.ndurable + W.npending) * 2 + 1024;
                W.durable = realloc(W.durable, (size_t)W.cap * sizeof(int64_t));
        }
        if (W.npending > 0)
                memcpy(W.durable + W.ndurable, W.pending, (size_t)W.npending * sizeof(int64_t));
        W.ndurable += W.npending;
        W.npending = 0;
        if (zetl_pos_is_set(pos))
                W.last_committed = pos->order;
        W.commits++;
        if (W.stop_after_commits && W.commits >= W.stop_after_commits)
                stop_flag = 1;
        return 0;
}

static void fk_close(void *p)
{
        (void)p;
        W.npending = 0; /* uncommitted work is discarded */
}

static const struct zetl_sink_ops fake_sink = {
        .name = "fake",
        .schemes = fake_schemes,
        .caps = ZETL_SINK_STORES_POSITION,
        .priv_size = 8,
        .parse = fs_parse,
        .setup = fs_nop,
        .teardown = fs_nop,
        .open = fk_open,
        .resume = fk_resume,
        .schema = fk_schema,
        .write = fk_write,
        .truncate = fk_truncate,
        .commit = fk_commit,
        .close = fk_close,
};

/* ---- harness ---- */

static struct zetl_filter *filter;
static struct zetl_conn_cfg scfg, kcfg;
static struct zetl_pipeline_ctx ctx;

static int setup(void **state)
{
        (void)state;
        free(W.durable);
        memset(&W, 0, sizeof(W));
        stop_flag = 0;
        snprintf(idir, sizeof(idir), "/tmp/zetl-test-pipeline-XXXXXX");
        assert_non_null(mkdtemp(idir));
        assert_int_equal(zetl_filter_parse(NULL, NULL, NULL, ZETL_FILTER_ANY, &filter, NULL), 0);
        scfg = (struct zetl_conn_cfg){ "t", "fake:", idir, filter, NULL, 0, true };
        kcfg = scfg;
        ctx = (struct zetl_pipeline_ctx){ &fake_source, &fake_sink, &scfg,     &kcfg,
                                          idir,         { 0 },      &stop_flag };
        zetl_pipeline_opts_default(&ctx.opts);
        ctx.opts.retry_initial_ms = 1;
        ctx.opts.retry_max_ms = 4;
        ctx.opts.status_interval_ms = 0;
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        zetl_filter_free(filter);
        zetl_remove_tree(idir, NULL);
        free(W.durable);
        W.durable = NULL;
        return 0;
}

/* Every id of txns 1..n exactly once, in source order per table. */
static void assert_exactly_once(int n)
{
        int64_t expect = 0;
        int seen = 0;

        for (int k = 1; k <= n; k++)
                for (int i = 0; i < W.rows_per_txn; i++)
                        seen++;
        assert_int_equal(W.ndurable, seen);
        /* Within a table, positions increase; across tables every id appears once. */
        int64_t last_t1 = -1, last_t2 = -1;
        for (int i = 0; i < W.ndurable; i++) {
                int64_t id = W.durable[i];
                int k = (int)(id / 1000), r = (int)(id % 1000);
                bool t2 = (k % 2) && (r % 2);
                int64_t *last = t2 ? &last_t2 : &last_t1;
                assert_true(id > *last);
                *last = id;
                expect += id;
        }
        int64_t sum = 0;
        for (int k = 1; k <= n; k++)
                for (int i = 0; i < W.rows_per_txn; i++)
                        sum += (int64_t)k * 1000 + i;
        assert_int_equal(expect, sum);
}

static void test_once_delivers_everything(void **state)
{
        struct zetl_err err = { 0 };
        struct zetl_checkpoint ck;
        bool found;

        (void)state;
        W.ntxn = 50;
        W.rows_per_txn = 20;
        assert_int_equal(zetl_pipeline_supervise(&ctx, &err), 0);
        assert_exactly_once(50);
        assert_int_equal(zetl_checkpoint_load(idir, &ck, &found, NULL), 0);
        assert_true(found);
        assert_true(ck.snapshot_done);
        assert_int_equal(ck.committed.order, 50 * 1000 + 999);
        assert_string_equal(ck.committed.token, "txn=50");
        assert_int_equal(ck.acked.order, ck.committed.order);
        assert_false(W.acked_too_early);
        assert_false(W.ck_behind);
        /* The flush interval (1 s) is longer than the run: few commits, not one per txn. */
        assert_true(W.commits < 50);
}

static void test_flush_by_rows_bounds_batches(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        W.ntxn = 3;
        W.rows_per_txn = 950; /* one big transaction each */
        ctx.opts.flush_rows = 100;
        assert_int_equal(zetl_pipeline_supervise(&ctx, &err), 0);
        assert_exactly_once(3);
        assert_true(W.max_batch_rows <= 100);
        assert_true(W.batches >= 3 * 950 / 100);
}

static void test_transient_failure_is_retried_exactly_once(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        W.ntxn = 40;
        W.rows_per_txn = 30;
        ctx.opts.flush_rows = 50; /* many commits, so the failure lands mid-stream */
        W.fail_commit_no = 5;
        W.fail_class = ZETL_ERRC_TRANSIENT;
        assert_int_equal(zetl_pipeline_supervise(&ctx, &err), 0);
        assert_true(W.opens >= 2); /* reopened after the failure */
        assert_exactly_once(40);
}

static void test_fatal_failure_stops_with_failed_state(void **state)
{
        struct zetl_err err = { 0 };
        struct zetl_status st = { 0 };
        bool found;

        (void)state;
        W.ntxn = 20;
        W.rows_per_txn = 10;
        ctx.opts.flush_rows = 10;
        W.fail_commit_no = 3;
        W.fail_class = ZETL_ERRC_FATAL;
        assert_int_not_equal(zetl_pipeline_supervise(&ctx, &err), 0);
        assert_int_equal(err.cls, ZETL_ERRC_FATAL);
        assert_non_null(strstr(err.msg, "target went away on purpose"));
        assert_int_equal(W.opens, 1);
        assert_int_equal(zetl_status_load(idir, &st, &found, NULL), 0);
        assert_int_equal(st.state, ZETL_STATE_FAILED);
        assert_non_null(st.last_error);
        zetl_status_free(&st);
}

static void test_table_error_is_confined(void **state)
{
        struct zetl_err err = { 0 };
        struct zetl_status st = { 0 };
        bool found, t1_ok = false, t2_bad = false;

        (void)state;
        W.ntxn = 10;
        W.rows_per_txn = 10;
        W.t2_table_error = true;
        assert_int_equal(zetl_pipeline_supervise(&ctx, &err), 0);
        /* Every t1 row arrived. */
        int t1_rows = 0;
        for (int k = 1; k <= 10; k++)
                for (int i = 0; i < 10; i++)
                        t1_rows += !((k % 2) && (i % 2));
        assert_int_equal(W.ndurable, t1_rows);
        assert_int_equal(zetl_status_load(idir, &st, &found, NULL), 0);
        for (int i = 0; i < st.ntables; i++) {
                if (strcmp(st.tables[i].id.table, "t1") == 0)
                        t1_ok = st.tables[i].state == ZETL_TABLE_ACTIVE &&
                                st.tables[i].rows_inserted == t1_rows;
                if (strcmp(st.tables[i].id.table, "t2") == 0)
                        t2_bad = st.tables[i].state == ZETL_TABLE_NEEDS_ATTENTION &&
                                 st.tables[i].last_error &&
                                 strstr(st.tables[i].last_error, "broken on purpose");
        }
        assert_true(t1_ok);
        assert_true(t2_bad);
        assert_int_equal(st.state, ZETL_STATE_NEEDS_ATTENTION);
        zetl_status_free(&st);
}

static void test_stop_request_ends_after_last_commit(void **state)
{
        struct zetl_err err = { 0 };
        struct zetl_checkpoint ck;
        bool found;

        (void)state;
        W.forever = true;
        W.rows_per_txn = 5;
        ctx.opts.flush_rows = 20;
        scfg.once = false;
        W.stop_after_commits = 5;
        assert_int_equal(zetl_pipeline_supervise(&ctx, &err), 0);
        assert_int_equal(zetl_checkpoint_load(idir, &ck, &found, NULL), 0);
        /* Whatever was committed is whole transactions, matching the checkpoint. */
        assert_int_equal(ck.committed.order, W.last_committed);
        assert_int_equal(ck.committed.order % 1000, 999);
        assert_exactly_once((int)(ck.committed.order / 1000));
}

static void test_schema_change_reaches_sink_with_diff(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        W.ntxn = 6;
        W.rows_per_txn = 4;
        W.schema_change_at = 3;
        assert_int_equal(zetl_pipeline_supervise(&ctx, &err), 0);
        assert_int_equal(W.schema_calls, 3); /* t1 v1, t2 v1, t1 v2 */
        assert_int_equal(W.adds_seen, 1);
        assert_exactly_once(6);
}

static void test_restart_resumes_from_target_position(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        W.ntxn = 10;
        W.rows_per_txn = 3;
        assert_int_equal(zetl_pipeline_supervise(&ctx, &err), 0);
        /* A second run with more source data continues, without replaying. */
        W.ntxn = 15;
        assert_int_equal(zetl_pipeline_supervise(&ctx, &err), 0);
        assert_exactly_once(15);
}

static void test_snapshot_workers_hand_on_batches(void **state)
{
        struct zetl_err err = { 0 };
        struct zetl_checkpoint ck;
        bool found;
        int64_t sum = 0, want = 0;

        (void)state;
        ctx.src = &worker_source;
        assert_int_equal(zetl_pipeline_supervise(&ctx, &err), 0);
        assert_int_equal(W.ndurable, 2000);
        for (int i = 0; i < W.ndurable; i++)
                sum += W.durable[i];
        for (int i = 0; i < 1000; i++)
                want += i + (1000000 + i);
        assert_int_equal(sum, want);
        assert_int_equal(zetl_checkpoint_load(idir, &ck, &found, NULL), 0);
        assert_true(ck.snapshot_done);
        assert_int_equal(ck.committed.order, 5000);
}

static void test_schema_versions_continue_across_runs(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        W.ntxn = 2;
        W.rows_per_txn = 2;
        assert_int_equal(zetl_pipeline_supervise(&ctx, &err), 0);
        assert_int_equal(W.schema_with_old, 0); /* first run: new tables */
        /* Second run: t1 gains a column at once; the target had version 1. */
        W.ntxn = 4;
        W.schema_change_at = 3;
        W.schema_calls = W.adds_seen = 0;
        assert_int_equal(zetl_pipeline_supervise(&ctx, &err), 0);
        assert_true(W.schema_with_old >= 2); /* both tables known from the first run */
        assert_int_equal(W.adds_seen, 1);
        assert_int_equal(W.last_version, 2);
        assert_exactly_once(4);
}

/* ---- applying a transaction before its commit (zetl_emit_early_begin) ----
 *
 * A scripted source (each test's script() is its run) and a recording copy of
 * the fake sink, with and without rollback. The record is the sequence of
 * sink calls as a string: "S" schema, "T" truncate, "R" rollback, "W<rows>"
 * write, "F<rows>" a write that failed, "C<position>" commit; written ids are
 * kept apart. The sink thread records while the source thread may wait on it,
 * hence the mutex. */

#define REC_MAX 256
#define REC_IDS 4096

struct early_world {
        int (*script)(struct zetl_emitter *em, struct zetl_err *err);
        char log[REC_MAX][24];
        int nlog;
        int64_t written[REC_IDS]; /* every id given to write, in order */
        int nwritten;
        int rollbacks;
        /* Writes of this table fail as a sink fails one table (ZETL_ETABLE),
         * all of them or only the first fail_max (under E_mu: the script
         * changes it while the sink runs). */
        char fail_table[ZETL_NAME_MAX];
        int fail_max, nfailed;
        /* what the scripts saw */
        bool possible, began, waited_ok, acked_at_once;
        int rc_a, rc_b;
        char msg_a[ZETL_ERR_MSG_MAX];
};

static struct early_world E;
static pthread_mutex_t E_mu = PTHREAD_MUTEX_INITIALIZER;

static void rec(const char *fmt, unsigned long long v)
{
        pthread_mutex_lock(&E_mu);
        if (E.nlog < REC_MAX)
                snprintf(E.log[E.nlog++], sizeof(E.log[0]), fmt, v);
        pthread_mutex_unlock(&E_mu);
}

/* The record as one string, entries separated by spaces; skip_writes leaves
 * the "W" entries out (for sequences where how rows are cut into batches is
 * not the point). */
static const char *rec_str(bool skip_writes)
{
        static char buf[REC_MAX * 24];
        size_t len = 0;

        buf[0] = '\0';
        for (int i = 0; i < E.nlog; i++) {
                if (skip_writes && E.log[i][0] == 'W')
                        continue;
                len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? " " : "",
                                        E.log[i]);
        }
        return buf;
}

static bool was_written(int64_t id)
{
        for (int i = 0; i < E.nwritten; i++)
                if (E.written[i] == id)
                        return true;
        return false;
}

static bool is_durable(int64_t id)
{
        for (int i = 0; i < W.ndurable; i++)
                if (W.durable[i] == id)
                        return true;
        return false;
}

/* Written ids in [lo, hi], counted under the lock (the sink may be writing). */
static int written_between(int64_t lo, int64_t hi)
{
        int n = 0;

        pthread_mutex_lock(&E_mu);
        for (int i = 0; i < E.nwritten; i++)
                n += E.written[i] >= lo && E.written[i] <= hi;
        pthread_mutex_unlock(&E_mu);
        return n;
}

static int rs_schema(void *p, const struct zetl_schema *old, const struct zetl_schema *new,
                     const struct zetl_schema_diff *d, struct zetl_err *e)
{
        int rc = fk_schema(p, old, new, d, e);

        if (rc == 0)
                rec("S", 0);
        return rc;
}

static int rs_write(void *p, const struct zetl_batch *b, struct zetl_err *e)
{
        bool fail;
        int rc;

        pthread_mutex_lock(&E_mu);
        fail = E.fail_table[0] && strcmp(b->schema->id.table, E.fail_table) == 0 &&
               (E.fail_max == 0 || E.nfailed < E.fail_max);
        E.nfailed += fail;
        pthread_mutex_unlock(&E_mu);
        if (fail) {
                rec("F%llu", b->nrows);
                return zetl_err_set(e, ZETL_ETABLE, ZETL_ERRC_FATAL, "%s is broken on purpose",
                                    b->schema->id.table);
        }
        if ((rc = fk_write(p, b, e)))
                return rc;
        pthread_mutex_lock(&E_mu);
        for (uint32_t r = 0; r < b->nrows && E.nwritten < REC_IDS; r++)
                E.written[E.nwritten++] = zetl_batch_get_i64(b, 0, r);
        pthread_mutex_unlock(&E_mu);
        rec("W%llu", b->nrows);
        return 0;
}

static int rs_truncate(void *p, const struct zetl_schema *s, uint64_t pos, struct zetl_err *e)
{
        int rc = fk_truncate(p, s, pos, e);

        if (rc == 0)
                rec("T", 0);
        return rc;
}

static int rs_commit(void *p, const struct zetl_position *pos, struct zetl_err *e)
{
        int rc = fk_commit(p, pos, e);

        if (rc == 0)
                rec("C%llu", (unsigned long long)pos->order);
        return rc;
}

/* Like the target's transaction: what was written since the last commit goes. */
static int rs_rollback(void *p, struct zetl_err *e)
{
        (void)p;
        (void)e;
        W.npending = 0;
        E.rollbacks++;
        rec("R", 0);
        return 0;
}

static const struct zetl_sink_ops rec_sink = {
        .name = "fake-rec",
        .schemes = fake_schemes,
        .caps = ZETL_SINK_STORES_POSITION,
        .priv_size = 8,
        .parse = fs_parse,
        .setup = fs_nop,
        .teardown = fs_nop,
        .open = fk_open,
        .resume = fk_resume,
        .schema = rs_schema,
        .write = rs_write,
        .truncate = rs_truncate,
        .commit = rs_commit,
        .close = fk_close,
};

/* The same sink with rollback: filled in by early_setup. */
static struct zetl_sink_ops rec_sink_rb;

static int es_run(void *priv, struct zetl_emitter *em, const struct zetl_resume *r,
                  struct zetl_err *err)
{
        (void)priv;
        (void)r;
        return E.script(em, err);
}

static const struct zetl_source_ops script_source = {
        .name = "fake-script",
        .schemes = fake_schemes,
        .priv_size = sizeof(struct fake_src),
        .parse = fs_parse,
        .setup = fs_nop,
        .teardown = fs_nop,
        .open = fs_nop,
        .run = es_run,
        .close = fs_close,
};

/* n inserts into s with ids (and positions) first, first+1, ... */
static int es_rows(struct zetl_emitter *em, const struct zetl_schema *s, int64_t first, int n,
                   struct zetl_err *err)
{
        struct zetl_batch *b;
        int rc;

        for (int i = 0; i < n; i++) {
                if ((rc = zetl_emit_row(em, s, ZETL_OP_INSERT, (uint64_t)(first + i), &b, err)))
                        return rc;
                zetl_batch_set_i64(b, 0, first + i);
                if ((rc = zetl_batch_set_var(b, 1, "v", 1, err)))
                        return rc;
                if (s->ncols > 2)
                        zetl_batch_set_i32(b, 2, i);
                zetl_batch_row_end(b);
        }
        return 0;
}

/* The commit of transaction k is at k*1000+999 with token "txn=k" (fk_resume's form). */
static int es_commit(struct zetl_emitter *em, int k, struct zetl_err *err)
{
        struct zetl_position p = { 0 };
        char tok[32];

        snprintf(tok, sizeof(tok), "txn=%d", k);
        zetl_pos_set(&p, (uint64_t)k * 1000 + 999, tok);
        return zetl_emit_commit(em, &p, err);
}

/* The tables' shapes, then an initial sync that is done at position 1. */
static int es_start(struct zetl_emitter *em, struct zetl_schema *t1, struct zetl_schema *t2,
                    struct zetl_err *err)
{
        struct zetl_position p = { 0 };
        int rc;

        if ((rc = zetl_emit_schema(em, t1, err)) || (t2 && (rc = zetl_emit_schema(em, t2, err))))
                return rc;
        zetl_pos_set(&p, 1, "start");
        return zetl_emit_snapshot_done(em, &p, err);
}

static bool wait_written(int64_t lo, int64_t hi, int n, long ms)
{
        for (long waited = 0; waited < ms; waited++) {
                if (written_between(lo, hi) >= n)
                        return true;
                usleep(1000);
        }
        return false;
}

static bool wait_acked(struct zetl_emitter *em, uint64_t order, long ms)
{
        struct zetl_position a;

        for (long waited = 0; waited < ms; waited++) {
                zetl_emit_acked(em, &a);
                if (a.order >= order)
                        return true;
                usleep(1000);
        }
        return false;
}

static int early_setup(void **state)
{
        setup(state);
        memset(&E, 0, sizeof(E));
        ctx.src = &script_source;
        rec_sink_rb = rec_sink;
        rec_sink_rb.name = "fake-rollback";
        rec_sink_rb.rollback = rs_rollback;
        ctx.sink = &rec_sink_rb;
        /* Far beyond any wait below: a commit seen in time was not due to the clock. */
        ctx.opts.flush_ms = 60000;
        return 0;
}

static int64_t status_inserted(const char *table)
{
        struct zetl_status st = { 0 };
        bool found;
        int64_t n = -1;

        assert_int_equal(zetl_status_load(idir, &st, &found, NULL), 0);
        assert_true(found);
        for (int i = 0; i < st.ntables; i++)
                if (strcmp(st.tables[i].id.table, table) == 0)
                        n = st.tables[i].rows_inserted;
        zetl_status_free(&st);
        return n;
}

static uint64_t checkpoint_order(void)
{
        struct zetl_checkpoint ck;
        bool found;

        assert_int_equal(zetl_checkpoint_load(idir, &ck, &found, NULL), 0);
        assert_true(found);
        return ck.committed.order;
}

/* Without rollback: began is false and the emitter goes on as if never asked
 * (nothing committed early, a shape change and a truncate are fine). */
static int script_no_rollback(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1), *t1b = make_schema("t1", 3, 1);
        int rc;

        E.possible = zetl_emit_early_possible(em);
        if ((rc = es_start(em, t1, NULL, err)) || (rc = es_rows(em, t1, 1000, 3, err)) ||
            (rc = es_commit(em, 1, err)))
                goto out;
        E.began = true; /* must be cleared */
        if ((rc = zetl_emit_early_begin(em, &E.began, err)))
                goto out;
        if ((rc = zetl_emit_schema(em, t1b, err)) ||
            (rc = zetl_emit_truncate(em, t1b, 1999, err)) ||
            (rc = es_rows(em, t1b, 2000, 2, err)) || (rc = es_commit(em, 2, err)))
                goto out;
out:
        zetl_schema_unref(t1);
        zetl_schema_unref(t1b);
        return rc;
}

static void test_early_needs_rollback(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        ctx.sink = &rec_sink;
        E.script = script_no_rollback;
        assert_int_equal(zetl_pipeline_run(&ctx, &err), 0);
        assert_false(E.possible);
        assert_false(E.began);
        /* Transaction 1 was not committed on its own: it waited for flush-ms
         * (never reached) and went with transaction 2 at the end. */
        assert_string_equal(rec_str(false), "S C1 W3 S T W2 C2999");
        assert_int_equal(E.rollbacks, 0);
        assert_int_equal(W.ndurable, 5);
        assert_int_equal(checkpoint_order(), 2999);
}

/* Two committed transactions are pending (flush-ms is far away) when early
 * begins: they are committed first, at once, then the early rows follow. */
static int script_pending_first(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1);
        int rc;

        E.possible = zetl_emit_early_possible(em);
        if ((rc = es_start(em, t1, NULL, err)) || (rc = es_rows(em, t1, 1000, 5, err)) ||
            (rc = es_commit(em, 1, err)) || (rc = es_rows(em, t1, 2000, 3, err)) ||
            (rc = es_commit(em, 2, err)) || (rc = zetl_emit_early_begin(em, &E.began, err)))
                goto out;
        E.acked_at_once = wait_acked(em, 2999, 5000);
        if ((rc = es_rows(em, t1, 3000, 4, err)) || (rc = es_commit(em, 3, err)))
                goto out;
out:
        zetl_schema_unref(t1);
        return rc;
}

static void test_early_commits_pending_first(void **state)
{
        struct zetl_err err = { 0 };
        const int64_t want[] = { 1000, 1001, 1002, 1003, 1004, 2000,
                                 2001, 2002, 3000, 3001, 3002, 3003 };

        (void)state;
        E.script = script_pending_first;
        assert_int_equal(zetl_pipeline_run(&ctx, &err), 0);
        assert_true(E.possible);
        assert_true(E.began);
        assert_true(E.acked_at_once);
        assert_string_equal(rec_str(false), "S C1 W8 C2999 W4 C3999");
        assert_int_equal(W.ndurable, 12);
        for (int i = 0; i < 12; i++)
                assert_int_equal(W.durable[i], want[i]);
        assert_int_equal(checkpoint_order(), 3999);
        assert_int_equal(status_inserted("t1"), 12);
}

/* 35 early rows with flush-rows 10: the sink writes them while the source
 * has not committed yet; the commit then reaches the sink at once. */
static int script_early_commit(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1);
        int rc;

        if ((rc = es_start(em, t1, NULL, err)) || (rc = zetl_emit_early_begin(em, &E.began, err)) ||
            (rc = es_rows(em, t1, 1000, 35, err)))
                goto out;
        E.waited_ok = wait_written(1000, 1999, 30, 5000);
        if ((rc = es_commit(em, 1, err)))
                goto out;
        E.acked_at_once = wait_acked(em, 1999, 5000);
out:
        zetl_schema_unref(t1);
        return rc;
}

static void test_early_rows_written_before_commit(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        ctx.opts.flush_rows = 10;
        E.script = script_early_commit;
        assert_int_equal(zetl_pipeline_run(&ctx, &err), 0);
        assert_true(E.began);
        assert_true(E.waited_ok);
        assert_true(E.acked_at_once);
        assert_string_equal(rec_str(false), "S C1 W10 W10 W10 W5 C1999");
        assert_int_equal(E.rollbacks, 0);
        assert_int_equal(W.ndurable, 35);
        for (int i = 0; i < 35; i++)
                assert_int_equal(W.durable[i], 1000 + i);
        assert_int_equal(checkpoint_order(), 1999);
        assert_int_equal(status_inserted("t1"), 35);
}

/* Transaction 2 is applied early (10 rows of t2, then 15 of t1: 20 reach the
 * sink, t1's last 5 are still held) and aborts; transaction 3 is normal. */
static int script_early_abort(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1), *t2 = make_schema("t2", 2, 1);
        int rc;

        if ((rc = es_start(em, t1, t2, err)) || (rc = es_rows(em, t1, 1000, 3, err)) ||
            (rc = es_commit(em, 1, err)) || (rc = zetl_emit_early_begin(em, &E.began, err)) ||
            (rc = es_rows(em, t2, 2100, 10, err)) || (rc = es_rows(em, t1, 2000, 15, err)))
                goto out;
        E.waited_ok = wait_written(2000, 2199, 20, 5000);
        if ((rc = zetl_emit_early_abort(em, err)) || (rc = es_rows(em, t1, 3000, 3, err)) ||
            (rc = es_rows(em, t2, 3100, 3, err)) || (rc = es_commit(em, 3, err)))
                goto out;
out:
        zetl_schema_unref(t1);
        zetl_schema_unref(t2);
        return rc;
}

static void test_early_abort_rolls_back(void **state)
{
        struct zetl_err err = { 0 };
        const int64_t want[] = { 1000, 1001, 1002, 3000, 3001, 3002, 3100, 3101, 3102 };

        (void)state;
        ctx.opts.flush_rows = 10;
        E.script = script_early_abort;
        assert_int_equal(zetl_pipeline_run(&ctx, &err), 0);
        assert_true(E.began);
        assert_true(E.waited_ok);
        assert_string_equal(rec_str(false), "S S C1 W3 C1999 W10 W10 R W3 W3 C3999");
        assert_int_equal(E.rollbacks, 1);
        /* The rows the emitter still held were dropped, not written. */
        for (int64_t id = 2010; id < 2015; id++)
                assert_false(was_written(id));
        /* No commit took any row of the aborted transaction. */
        assert_int_equal(W.ndurable, 9);
        for (int i = 0; i < 9; i++)
                assert_true(is_durable(want[i]));
        assert_int_equal(checkpoint_order(), 3999);
        /* The status counts what was committed, not what was rolled back. */
        assert_int_equal(status_inserted("t1"), 6);
        assert_int_equal(status_inserted("t2"), 3);
}

/* Keepalives (flush-ms 1, so any commit that is due by time is) while early:
 * right after the begin, with rows handed on, before an abort and before a
 * commit. Only the transaction's own commit reaches the sink. */
static int keepalives(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_position p = { 0 };
        int rc = 0;

        for (int i = 0; i < 5 && rc == 0; i++) {
                usleep(3000);
                zetl_pos_set(&p, 900000, NULL);
                rc = zetl_emit_keepalive(em, &p, err);
        }
        return rc;
}

static int script_keepalive(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1);
        bool began2 = false;
        int rc;

        if ((rc = es_start(em, t1, NULL, err)) || (rc = zetl_emit_early_begin(em, &E.began, err)) ||
            (rc = keepalives(em, err)) || (rc = es_rows(em, t1, 1000, 12, err)) ||
            (rc = keepalives(em, err)) || (rc = zetl_emit_early_abort(em, err)) ||
            (rc = zetl_emit_early_begin(em, &began2, err)) || (rc = keepalives(em, err)) ||
            (rc = es_rows(em, t1, 2000, 3, err)) || (rc = keepalives(em, err)) ||
            (rc = es_commit(em, 2, err)))
                goto out;
        E.began = E.began && began2;
out:
        zetl_schema_unref(t1);
        return rc;
}

static void test_early_keepalive_never_commits(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        ctx.opts.flush_rows = 5;
        ctx.opts.flush_ms = 1;
        E.script = script_keepalive;
        assert_int_equal(zetl_pipeline_run(&ctx, &err), 0);
        assert_true(E.began);
        assert_string_equal(rec_str(false), "S C1 W5 W5 R W3 C2999");
        assert_int_equal(W.ndurable, 3);
        for (int i = 0; i < 3; i++)
                assert_int_equal(W.durable[i], 2000 + i);
        assert_int_equal(checkpoint_order(), 2999);
}

/* While early: the same shape announced again is fine, a new shape is a
 * source bug; the source returns that error. */
static int script_shape_change(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1), *t1same = make_schema("t1", 2, 1),
                           *t1new = make_schema("t1", 3, 1);
        int rc;

        if ((rc = es_start(em, t1, NULL, err)) || (rc = es_rows(em, t1, 1000, 2, err)) ||
            (rc = es_commit(em, 1, err)) || (rc = zetl_emit_early_begin(em, &E.began, err)) ||
            (rc = es_rows(em, t1, 2000, 12, err)))
                goto out;
        E.rc_a = zetl_emit_schema(em, t1same, err);
        if (E.rc_a || (rc = es_rows(em, t1same, 2012, 1, err)))
                goto out;
        rc = E.rc_b = zetl_emit_schema(em, t1new, err);
        snprintf(E.msg_a, sizeof(E.msg_a), "%s", err->msg);
out:
        zetl_schema_unref(t1);
        zetl_schema_unref(t1same);
        zetl_schema_unref(t1new);
        return rc;
}

static void test_early_shape_change_is_refused(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        ctx.opts.flush_rows = 10;
        E.script = script_shape_change;
        assert_int_not_equal(zetl_pipeline_run(&ctx, &err), 0);
        assert_true(E.began);
        assert_int_equal(E.rc_a, 0);
        assert_true(E.rc_b < 0);
        assert_non_null(strstr(E.msg_a, "source bug"));
        assert_non_null(strstr(err.msg, "source bug"));
        assert_int_not_equal(err.cls, ZETL_ERRC_TRANSIENT); /* retrying would repeat it */
        /* The new shape never reached the sink; the early rows were rolled back. */
        assert_string_equal(rec_str(true), "S C1 C1999 R");
        assert_true(was_written(2000));
        assert_int_equal(W.ndurable, 2);
        assert_int_equal(W.durable[0], 1000);
        assert_int_equal(W.durable[1], 1001);
        assert_int_equal(checkpoint_order(), 1999);
        assert_int_equal(status_inserted("t1"), 2);
}

/* While early a truncate is refused; then the source ends (returns 0) in the
 * middle of the early transaction: rolled back, not committed. */
static int script_truncate_then_end(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1);
        int rc;

        if ((rc = es_start(em, t1, NULL, err)) || (rc = es_rows(em, t1, 1000, 2, err)) ||
            (rc = es_commit(em, 1, err)) || (rc = zetl_emit_early_begin(em, &E.began, err)) ||
            (rc = es_rows(em, t1, 2000, 12, err)))
                goto out;
        E.rc_a = zetl_emit_truncate(em, t1, 2012, err);
        snprintf(E.msg_a, sizeof(E.msg_a), "%s", err->msg);
        zetl_err_clear(err);
out:
        zetl_schema_unref(t1);
        return rc;
}

static void test_early_truncate_refused_and_end_rolls_back(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        ctx.opts.flush_rows = 10;
        E.script = script_truncate_then_end;
        assert_int_equal(zetl_pipeline_run(&ctx, &err), 0);
        assert_true(E.began);
        assert_true(E.rc_a < 0);
        assert_non_null(strstr(E.msg_a, "source bug"));
        assert_string_equal(rec_str(true), "S C1 C1999 R");
        assert_int_equal(written_between(2000, 2999), 10);
        assert_int_equal(W.ndurable, 2);
        assert_int_equal(W.durable[0], 1000);
        assert_int_equal(W.durable[1], 1001);
        assert_int_equal(checkpoint_order(), 1999);
        assert_int_equal(status_inserted("t1"), 2);
}

/* ---- table failures inside an early transaction: they set the table aside
 * only if the transaction commits; an aborted one leaves it active. */

static void set_fail_table(const char *table, int max)
{
        pthread_mutex_lock(&E_mu);
        snprintf(E.fail_table, sizeof(E.fail_table), "%s", table ? table : "");
        E.fail_max = max;
        E.nfailed = 0;
        pthread_mutex_unlock(&E_mu);
}

/* Wait until the sink recorded the call entry (e.g. "R", "C2999"). */
static bool wait_rec(const char *entry, long ms)
{
        for (long waited = 0; waited < ms; waited++) {
                bool seen = false;
                pthread_mutex_lock(&E_mu);
                for (int i = 0; i < E.nlog && !seen; i++)
                        seen = strcmp(E.log[i], entry) == 0;
                pthread_mutex_unlock(&E_mu);
                if (seen)
                        return true;
                usleep(1000);
        }
        return false;
}

/* The table's entry in status.json: its state, and whether its last error
 * contains want (NULL: that it has none). */
static void assert_table_status(const char *table, enum zetl_table_state state, const char *want)
{
        struct zetl_status st = { 0 };
        bool found, seen = false;

        assert_int_equal(zetl_status_load(idir, &st, &found, NULL), 0);
        assert_true(found);
        for (int i = 0; i < st.ntables; i++) {
                if (strcmp(st.tables[i].id.table, table) != 0)
                        continue;
                seen = true;
                assert_int_equal(st.tables[i].state, state);
                if (want) {
                        assert_non_null(st.tables[i].last_error);
                        assert_non_null(strstr(st.tables[i].last_error, want));
                } else {
                        assert_null(st.tables[i].last_error);
                }
        }
        assert_true(seen);
        assert_int_equal(st.state, state == ZETL_TABLE_NEEDS_ATTENTION ? ZETL_STATE_NEEDS_ATTENTION
                                                                       : ZETL_STATE_ACTIVE);
        zetl_status_free(&st);
}

/* Transaction 2 is applied early (10 rows of t2, then 15 of t1; flush-rows
 * 10): the sink fails t2's batch, writes t1's, and the transaction aborts.
 * Once the sink has rolled back, t2's writes succeed again (the failure was
 * in the aborted data, say), and transaction 3 carries rows of both. */
static int script_efail_abort(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1), *t2 = make_schema("t2", 2, 1);
        int rc;

        set_fail_table("t2", 0);
        if ((rc = es_start(em, t1, t2, err)) || (rc = zetl_emit_early_begin(em, &E.began, err)) ||
            (rc = es_rows(em, t2, 2100, 10, err)) || (rc = es_rows(em, t1, 2000, 15, err)) ||
            (rc = zetl_emit_early_abort(em, err)))
                goto out;
        E.waited_ok = wait_rec("R", 5000);
        set_fail_table(NULL, 0);
        if ((rc = es_rows(em, t1, 3000, 3, err)) || (rc = es_rows(em, t2, 3100, 3, err)) ||
            (rc = es_commit(em, 3, err)))
                goto out;
out:
        zetl_schema_unref(t1);
        zetl_schema_unref(t2);
        return rc;
}

static void test_early_table_fail_then_abort_keeps_table(void **state)
{
        struct zetl_err err = { 0 };
        const int64_t want[] = { 3000, 3001, 3002, 3100, 3101, 3102 };

        (void)state;
        ctx.opts.flush_rows = 10;
        E.script = script_efail_abort;
        assert_int_equal(zetl_pipeline_run(&ctx, &err), 0);
        assert_true(E.began);
        assert_true(E.waited_ok);
        assert_string_equal(rec_str(false), "S S C1 F10 W10 R W3 W3 C3999");
        /* The aborted transaction did not set t2 aside: its next rows flowed. */
        assert_table_status("t2", ZETL_TABLE_ACTIVE, NULL);
        assert_int_equal(W.ndurable, 6);
        for (int i = 0; i < 6; i++)
                assert_int_equal(W.durable[i], want[i]);
        assert_int_equal(checkpoint_order(), 3999);
        assert_int_equal(status_inserted("t1"), 3);
        assert_int_equal(status_inserted("t2"), 3);
}

/* As above, but more t2 rows follow the failure while early (handed on with
 * t1's last ones), and transaction 2 commits. Then t2's writes would succeed
 * again, and transaction 3 carries rows of both tables. */
static int script_efail_commit(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1), *t2 = make_schema("t2", 2, 1);
        int rc;

        set_fail_table("t2", 0);
        if ((rc = es_start(em, t1, t2, err)) || (rc = zetl_emit_early_begin(em, &E.began, err)) ||
            (rc = es_rows(em, t2, 2100, 10, err)) || (rc = es_rows(em, t1, 2000, 15, err)) ||
            (rc = es_rows(em, t2, 2110, 5, err)) || (rc = es_rows(em, t1, 2015, 1, err)) ||
            (rc = es_commit(em, 2, err)))
                goto out;
        E.waited_ok = wait_rec("C2999", 5000);
        set_fail_table(NULL, 0);
        if ((rc = es_rows(em, t1, 3000, 3, err)) || (rc = es_rows(em, t2, 3100, 3, err)) ||
            (rc = es_commit(em, 3, err)))
                goto out;
out:
        zetl_schema_unref(t1);
        zetl_schema_unref(t2);
        return rc;
}

static void test_early_table_fail_then_commit_sets_table_aside(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        ctx.opts.flush_rows = 10;
        E.script = script_efail_commit;
        assert_int_equal(zetl_pipeline_run(&ctx, &err), 0);
        assert_true(E.began);
        assert_true(E.waited_ok);
        /* t2's second early batch (2110..2114) was not offered to the sink
         * after its first failed; transaction 3's t2 rows were not either. */
        assert_string_equal(rec_str(false), "S S C1 F10 W10 W5 W1 C2999 W3 C3999");
        assert_table_status("t2", ZETL_TABLE_NEEDS_ATTENTION, "t2 is broken on purpose");
        /* t1's early rows were committed, and its later ones. */
        assert_int_equal(W.ndurable, 19);
        for (int i = 0; i < 16; i++)
                assert_int_equal(W.durable[i], 2000 + i);
        for (int i = 0; i < 3; i++)
                assert_int_equal(W.durable[16 + i], 3000 + i);
        assert_int_equal(written_between(2100, 2199) + written_between(3100, 3199), 0);
        assert_int_equal(checkpoint_order(), 3999);
        assert_int_equal(status_inserted("t1"), 19);
        assert_int_equal(status_inserted("t2"), 0);
}

/* t2 fails once in the sink while early, and rows of t2 are still in the
 * emitter when the transaction commits: the batch handed on with the commit
 * belongs to the early transaction, so it is skipped like the ones before
 * (a sink that took it would commit t2's rows after a hole). */
static int script_efail_tail(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1), *t2 = make_schema("t2", 2, 1);
        int rc;

        set_fail_table("t2", 1);
        if ((rc = es_start(em, t1, t2, err)) || (rc = zetl_emit_early_begin(em, &E.began, err)) ||
            (rc = es_rows(em, t2, 2100, 10, err)) || (rc = es_rows(em, t1, 2000, 12, err)) ||
            (rc = es_rows(em, t2, 2110, 3, err)) || (rc = es_commit(em, 2, err)))
                goto out;
out:
        zetl_schema_unref(t1);
        zetl_schema_unref(t2);
        return rc;
}

static void test_early_table_fail_skips_batch_at_commit(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        ctx.opts.flush_rows = 10;
        E.script = script_efail_tail;
        assert_int_equal(zetl_pipeline_run(&ctx, &err), 0);
        assert_true(E.began);
        assert_string_equal(rec_str(false), "S S C1 F10 W10 W2 C2999");
        assert_int_equal(written_between(2100, 2199), 0);
        assert_table_status("t2", ZETL_TABLE_NEEDS_ATTENTION, "t2 is broken on purpose");
        assert_int_equal(W.ndurable, 12);
        assert_int_equal(status_inserted("t2"), 0);
}

/* The source finds t2 unusable (zetl_emit_table_error) in the middle of an
 * early transaction: 10 rows of t2 are handed on before, 3 are held by the
 * emitter, 4 more come after. Then the transaction commits or aborts, and
 * transaction 3 carries rows of both tables. */
static bool te_commit;

static int script_early_table_error(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1), *t2 = make_schema("t2", 2, 1);
        int rc;

        if ((rc = es_start(em, t1, t2, err)) || (rc = zetl_emit_early_begin(em, &E.began, err)) ||
            (rc = es_rows(em, t2, 2100, 10, err)) || (rc = es_rows(em, t1, 2000, 10, err)) ||
            (rc = es_rows(em, t2, 2110, 3, err)))
                goto out;
        zetl_emit_table_error(em, &t2->id, "t2 has a column type we cannot copy");
        if ((rc = es_rows(em, t2, 2113, 4, err)) || (rc = es_rows(em, t1, 2010, 2, err)) ||
            (rc = te_commit ? es_commit(em, 2, err) : zetl_emit_early_abort(em, err)) ||
            (rc = es_rows(em, t1, 3000, 3, err)) || (rc = es_rows(em, t2, 3100, 3, err)) ||
            (rc = es_commit(em, 3, err)))
                goto out;
out:
        zetl_schema_unref(t1);
        zetl_schema_unref(t2);
        return rc;
}

static void test_early_table_error_then_abort_keeps_table(void **state)
{
        struct zetl_err err = { 0 };
        const int64_t want[] = { 3000, 3001, 3002, 3100, 3101, 3102 };

        (void)state;
        ctx.opts.flush_rows = 10;
        te_commit = false;
        E.script = script_early_table_error;
        assert_int_equal(zetl_pipeline_run(&ctx, &err), 0);
        assert_true(E.began);
        assert_string_equal(rec_str(false), "S S C1 W10 W10 R W3 W3 C3999");
        assert_table_status("t2", ZETL_TABLE_ACTIVE, NULL);
        assert_int_equal(W.ndurable, 6);
        for (int i = 0; i < 6; i++)
                assert_int_equal(W.durable[i], want[i]);
        assert_int_equal(status_inserted("t1"), 3);
        assert_int_equal(status_inserted("t2"), 3);
}

static void test_early_table_error_then_commit_sets_table_aside(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        ctx.opts.flush_rows = 10;
        te_commit = true;
        E.script = script_early_table_error;
        assert_int_equal(zetl_pipeline_run(&ctx, &err), 0);
        assert_true(E.began);
        assert_string_equal(rec_str(false), "S S C1 W10 W10 W2 C2999 W3 C3999");
        assert_table_status("t2", ZETL_TABLE_NEEDS_ATTENTION, "a column type we cannot copy");
        /* As outside an early transaction, what was handed on before the error
         * stays; the rows held then and those after it were never written,
         * nor t2's rows of transaction 3. */
        assert_int_equal(written_between(2100, 2109), 10);
        assert_int_equal(written_between(2110, 2199), 0);
        assert_int_equal(written_between(3100, 3199), 0);
        assert_int_equal(W.ndurable, 25);
        for (int64_t id = 2000; id < 2012; id++)
                assert_true(is_durable(id));
        for (int64_t id = 3000; id < 3003; id++)
                assert_true(is_durable(id));
        assert_int_equal(checkpoint_order(), 3999);
        assert_int_equal(status_inserted("t1"), 15);
}

/* A new table t3 is announced right before early begins, with no row
 * pending: its schema is committed first, so that a rollback of the early
 * rows cannot take its DDL back. */
static int script_schema_then_early(struct zetl_emitter *em, struct zetl_err *err)
{
        struct zetl_schema *t1 = make_schema("t1", 2, 1), *t3 = make_schema("t3", 2, 1);
        int rc;

        if ((rc = es_start(em, t1, NULL, err)) || (rc = zetl_emit_schema(em, t3, err)) ||
            (rc = zetl_emit_early_begin(em, &E.began, err)) ||
            (rc = es_rows(em, t3, 2000, 12, err)) || (rc = es_commit(em, 2, err)))
                goto out;
out:
        zetl_schema_unref(t1);
        zetl_schema_unref(t3);
        return rc;
}

static void test_early_commits_schema_first(void **state)
{
        struct zetl_err err = { 0 };

        (void)state;
        ctx.opts.flush_rows = 10;
        E.script = script_schema_then_early;
        assert_int_equal(zetl_pipeline_run(&ctx, &err), 0);
        assert_true(E.began);
        /* The second "C1" is that commit: after t3's schema, before its rows. */
        assert_string_equal(rec_str(false), "S C1 S C1 W10 W2 C2999");
        assert_int_equal(W.ndurable, 12);
        for (int i = 0; i < 12; i++)
                assert_int_equal(W.durable[i], 2000 + i);
        assert_int_equal(checkpoint_order(), 2999);
        assert_int_equal(status_inserted("t3"), 12);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_once_delivers_everything, setup, teardown),
                cmocka_unit_test_setup_teardown(test_flush_by_rows_bounds_batches, setup, teardown),
                cmocka_unit_test_setup_teardown(test_transient_failure_is_retried_exactly_once,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_fatal_failure_stops_with_failed_state, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_table_error_is_confined, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_request_ends_after_last_commit, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_schema_change_reaches_sink_with_diff, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_schema_versions_continue_across_runs, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_workers_hand_on_batches, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_restart_resumes_from_target_position, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_early_needs_rollback, early_setup, teardown),
                cmocka_unit_test_setup_teardown(test_early_commits_pending_first, early_setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_early_rows_written_before_commit, early_setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_early_abort_rolls_back, early_setup, teardown),
                cmocka_unit_test_setup_teardown(test_early_keepalive_never_commits, early_setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_early_shape_change_is_refused, early_setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_early_truncate_refused_and_end_rolls_back,
                                                early_setup, teardown),
                cmocka_unit_test_setup_teardown(test_early_table_fail_then_abort_keeps_table,
                                                early_setup, teardown),
                cmocka_unit_test_setup_teardown(test_early_table_fail_then_commit_sets_table_aside,
                                                early_setup, teardown),
                cmocka_unit_test_setup_teardown(test_early_table_fail_skips_batch_at_commit,
                                                early_setup, teardown),
                cmocka_unit_test_setup_teardown(test_early_table_error_then_abort_keeps_table,
                                                early_setup, teardown),
                cmocka_unit_test_setup_teardown(test_early_table_error_then_commit_sets_table_aside,
                                                early_setup, teardown),
                cmocka_unit_test_setup_teardown(test_early_commits_schema_first, early_setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
