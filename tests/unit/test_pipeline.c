/*
 * The pipeline with a fake source and a fake sink at the ops boundary: rows
 * arrive in order and exactly once across transient failures, commits only
 * follow whole transactions, the source is offered a position only after the
 * checkpoint that names it is on disk, table errors stay confined to their
 * table, and a stop request ends after the last complete commit.
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
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
