/*
 * The initial sync: one consistent snapshot of every selected table, copied
 * in parallel, then streaming from exactly the snapshot's end.
 *
 * The slot is (re)created with an exported snapshot, so a sync that died
 * half-way starts over from a fresh snapshot: never a mixture of two. Each
 * worker opens its own connection and imports the snapshot in a REPEATABLE
 * READ transaction before anything else happens on the walsender (which
 * would kill the export). Tables are split into jobs: a whole small table, or
 * a range of pages (ctid) of a large one; workers take jobs from a shared
 * list, run COPY (SELECT ...) TO STDOUT (FORMAT binary) and decode the rows
 * straight into batches of their own, handed on with zetl_emit_batch.
 * Snapshot rows get position 0, below every streamed change, so a change that
 * committed after the snapshot always wins over the copied row.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pg_source.h"
#include "zetl/log.h"

#define PAGES_PER_JOB 2048 /* 16 MiB of heap per job: big tables spread over the workers */
#define BATCH_ROWS    16384
#define BATCH_BYTES   ((size_t)16 << 20)

struct job {
        struct pg_rel *rel;
        char *select; /* the COPY query */
        atomic_llong *done;
};

struct snap {
        struct pg_src *s;
        struct zetl_emitter *em;
        const char *snapshot_name;
        struct job *jobs;
        int njobs;
        atomic_int next;
        atomic_bool failed;
        atomic_llong *done; /* rows copied per table, by rel index */
        pthread_mutex_t mu;
        struct zetl_err err; /* the first failure */
        int rc;
};

static void fail(struct snap *sn, int rc, const struct zetl_err *e)
{
        pthread_mutex_lock(&sn->mu);
        if (!sn->rc) {
                sn->rc = rc;
                sn->err = *e;
        }
        pthread_mutex_unlock(&sn->mu);
        atomic_store(&sn->failed, true);
}

static uint32_t be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decode one COPY BINARY row (after the header) into a new batch row. */
static int copy_row(struct pg_rel *rel, struct zetl_batch *b, const uint8_t *p, size_t len,
                    struct zetl_err *err)
{
        const struct zetl_schema *sch = rel->schema;
        size_t off = 2;
        int rc;

        if (len < 2 || (int16_t)(p[0] << 8 | p[1]) != sch->ncols)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "COPY of %s: a row with %d fields, expected %d", sch->id.table,
                                    len < 2 ? -1 : (int16_t)(p[0] << 8 | p[1]), sch->ncols);
        if ((rc = zetl_batch_row_begin(b, ZETL_OP_SNAPSHOT, 0, err)))
                return rc;
        for (int c = 0; c < sch->ncols; c++) {
                int32_t flen;
                if (off + 4 > len) {
                        rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                          "COPY of %s: truncated row", sch->id.table);
                        break;
                }
                flen = (int32_t)be32(p + off);
                off += 4;
                if (flen > 0 && (size_t)flen > len - off) {
                        rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                          "COPY of %s: field longer than the row", sch->id.table);
                        break;
                }
                const char *v = (const char *)p + off;
                /* Text-only columns were cast to text in the query: their
                 * binary form is the text itself. */
                rc = rel->dec[c].binary ? pg_decode_binary(b, c, &rel->dec[c], v, flen, err)
                                        : pg_decode_text(b, c, &rel->dec[c], v, flen, err);
                if (rc) {
                        zetl_err_prefix(err, "table %s, column %s: ", sch->id.table,
                                        sch->cols[c].name);
                        break;
                }
                if (flen > 0)
                        off += (size_t)flen;
        }
        if (rc) {
                zetl_batch_row_abort(b);
                return rc;
        }
        zetl_batch_row_end(b);
        return 0;
}

static int run_job(struct snap *sn, PGconn *c, struct job *j, struct zetl_err *err)
{
        static const uint8_t sig[11] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0377, '\r', '\n', 0 };
        struct zetl_batch *b = NULL;
        PGresult *r = PQexec(c, j->select);
        bool header = true;
        char *buf = NULL;
        int n, rc = 0;

        if (!r || PQresultStatus(r) != PGRES_COPY_OUT) {
                rc = zetl_err_set(err, ZETL_ECONN,
                                  PQstatus(c) == CONNECTION_OK ? ZETL_ERRC_FATAL
                                                               : ZETL_ERRC_TRANSIENT,
                                  "COPY of %s: %s", j->rel->schema->id.table,
                                  r ? PQresultErrorMessage(r) : PQerrorMessage(c));
                PQclear(r);
                return rc;
        }
        PQclear(r);
        while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
                const uint8_t *p = (const uint8_t *)buf;
                size_t len = (size_t)n;

                if (rc || atomic_load(&sn->failed) || zetl_emit_stopping(sn->em)) {
                        PQfreemem(buf);
                        continue; /* drain: the COPY must end before the connection is reused */
                }
                if (header) {
                        if (len < 19 || memcmp(p, sig, 11) != 0 || len < 19 + be32(p + 15)) {
                                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                                  "COPY of %s: bad binary header",
                                                  j->rel->schema->id.table);
                                PQfreemem(buf);
                                continue;
                        }
                        size_t skip = 19 + be32(p + 15);
                        p += skip;
                        len -= skip;
                        header = false;
                }
                if (len == 2 && p[0] == 0xff && p[1] == 0xff) { /* trailer */
                        PQfreemem(buf);
                        continue;
                }
                if (!b && !(b = zetl_batch_new(j->rel->schema, 0)))
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                if (!rc)
                        rc = copy_row(j->rel, b, p, len, err);
                PQfreemem(buf);
                if (!rc && (b->nrows >= BATCH_ROWS || b->bytes >= BATCH_BYTES)) {
                        atomic_fetch_add(j->done, b->nrows);
                        rc = zetl_emit_batch(sn->em, b, err);
                        b = NULL;
                }
        }
        if (n == -2 && !rc)
                rc = zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_TRANSIENT, "COPY of %s: %s",
                                  j->rel->schema->id.table, PQerrorMessage(c));
        while ((r = PQgetResult(c)) != NULL) {
                if (PQresultStatus(r) != PGRES_COMMAND_OK && !rc)
                        rc = zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_TRANSIENT, "COPY of %s: %s",
                                          j->rel->schema->id.table, PQresultErrorMessage(r));
                PQclear(r);
        }
        if (b && !rc && b->nrows > 0) {
                atomic_fetch_add(j->done, b->nrows);
                rc = zetl_emit_batch(sn->em, b, err);
                b = NULL;
        }
        zetl_batch_free(b);
        return rc;
}

struct worker {
        struct snap *sn;
        PGconn *conn;
        pthread_t thread;
        bool imported;
};

static void *worker_main(void *arg)
{
        struct worker *w = arg;
        struct snap *sn = w->sn;
        struct zetl_err err = { 0 };
        int i, rc = 0;

        while (!rc && !atomic_load(&sn->failed) && !zetl_emit_stopping(sn->em) &&
               (i = atomic_fetch_add(&sn->next, 1)) < sn->njobs)
                rc = run_job(sn, w->conn, &sn->jobs[i], &err);
        if (rc)
                fail(sn, rc, &err);
        return NULL;
}

/* Open a worker's connection and import the snapshot into its transaction. */
static int worker_open(struct snap *sn, struct worker *w, struct zetl_err *err)
{
        char *lit, sql[256];
        int rc;

        if ((rc = pg_connect(sn->s->cfg->uri, &w->conn, err)))
                return rc;
        if (!(lit = PQescapeLiteral(w->conn, sn->snapshot_name, strlen(sn->snapshot_name))))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        snprintf(sql, sizeof(sql),
                 "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT %s",
                 lit);
        PQfreemem(lit);
        return pg_exec(w->conn, sql, "importing the snapshot", err);
}

/* The COPY query of a job: every column, text-only ones cast to text; a page
 * range [lo, hi) of the table when lo >= 0 (hi < 0: to the end). */
static char *copy_query(PGconn *c, const struct pg_rel *rel, const char *qname, int64_t lo,
                        int64_t hi)
{
        size_t cap = 256 + strlen(qname), len;
        char *q;

        for (int i = 0; i < rel->schema->ncols; i++)
                cap += 2 * strlen(rel->schema->cols[i].name) + 16;
        if (!(q = malloc(cap)))
                return NULL;
        len = (size_t)snprintf(q, cap, "COPY (SELECT ");
        for (int i = 0; i < rel->schema->ncols; i++) {
                const char *name = rel->schema->cols[i].name;
                char *qc = PQescapeIdentifier(c, name, strlen(name));
                if (!qc) {
                        free(q);
                        return NULL;
                }
                len += (size_t)snprintf(q + len, cap - len, "%s%s%s", i ? ", " : "", qc,
                                        rel->dec[i].binary ? "" : "::text");
                PQfreemem(qc);
        }
        len += (size_t)snprintf(q + len, cap - len, " FROM ONLY %s", qname);
        if (lo >= 0 && hi >= 0)
                len += (size_t)snprintf(q + len, cap - len,
                                        " WHERE ctid >= '(%lld,0)'::tid AND ctid < '(%lld,0)'::tid",
                                        (long long)lo, (long long)hi);
        else if (lo >= 0)
                len += (size_t)snprintf(q + len, cap - len, " WHERE ctid >= '(%lld,0)'::tid",
                                        (long long)lo);
        snprintf(q + len, cap - len, ") TO STDOUT (FORMAT binary)");
        return q;
}

static int add_job(struct snap *sn, struct pg_rel *rel, atomic_llong *done, char *select,
                   struct zetl_err *err)
{
        struct job *n = realloc(sn->jobs, (size_t)(sn->njobs + 1) * sizeof(*n));

        if (!n || !select) {
                free(select);
                if (n)
                        sn->jobs = n;
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        }
        sn->jobs = n;
        sn->jobs[sn->njobs++] = (struct job){ rel, select, done };
        return 0;
}

/* Describe and announce every selected table in the snapshot; make its jobs. */
static int plan(struct snap *sn, struct pg_rel ***rels, int *nrels, struct zetl_err *err)
{
        struct pg_src *s = sn->s;
        static struct pg_coldesc cols[PG_MAX_COLS];
        PGresult *r = PQexec(
                s->conn,
                "SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON "
                "n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
                "ORDER BY c.relpages DESC");
        int rc = 0;

        *nrels = 0;
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
                rc = zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_TRANSIENT, "listing tables: %s",
                                  r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn));
                PQclear(r);
                return rc;
        }
        *rels = calloc((size_t)PQntuples(r) + 1, sizeof(**rels));
        sn->done = calloc((size_t)PQntuples(r) + 1, sizeof(*sn->done));
        if (!*rels || !sn->done) {
                PQclear(r);
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        }
        for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
                uint32_t relid = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10);
                struct zetl_table_id id;
                char nsp[ZETL_NAME_MAX], rel[ZETL_NAME_MAX], qname[4 * ZETL_NAME_MAX];
                struct pg_rel *pr;
                int n;

                if (zetl_table_id_set(&id, s->dbname, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2)) ||
                    !zetl_emit_wants(sn->em, &id))
                        continue;
                if ((rc = pg_describe(s, relid, nsp, rel, cols, PG_MAX_COLS, &n, err)) ||
                    (rc = pg_rel_update(s, sn->em, relid, nsp, rel, cols, n, &pr, err)))
                        break;
                if (pr->excluded || pr->no_key)
                        continue;
                if ((rc = zetl_emit_snapshot_table(sn->em, pr->schema, err)))
                        break;
                (*rels)[*nrels] = pr;
                atomic_llong *done = &sn->done[(*nrels)++];

                char *qn = PQescapeIdentifier(s->conn, nsp, strlen(nsp));
                char *qr = PQescapeIdentifier(s->conn, rel, strlen(rel));
                snprintf(qname, sizeof(qname), "%s.%s", qn ? qn : "", qr ? qr : "");
                PQfreemem(qn);
                PQfreemem(qr);

                /* Page estimates only size the jobs: the last range is open. */
                PGresult *pr2;
                char oidtext[16];
                const char *params[1] = { oidtext };
                snprintf(oidtext, sizeof(oidtext), "%u", relid);
                pr2 = PQexecParams(s->conn,
                                   "SELECT relpages, GREATEST(reltuples, 0)::bigint FROM pg_class "
                                   "WHERE oid = $1",
                                   1, NULL, params, NULL, NULL, 0);
                if (pr2 && PQresultStatus(pr2) == PGRES_TUPLES_OK && PQntuples(pr2) == 1) {
                        pr->relpages = strtoll(PQgetvalue(pr2, 0, 0), NULL, 10);
                        pr->reltuples = strtoll(PQgetvalue(pr2, 0, 1), NULL, 10);
                }
                PQclear(pr2);
                if (pr->relpages <= PAGES_PER_JOB) {
                        rc = add_job(sn, pr, done, copy_query(s->conn, pr, qname, -1, -1), err);
                        continue;
                }
                for (int64_t lo = 0; lo < pr->relpages && rc == 0; lo += PAGES_PER_JOB) {
                        int64_t hi = lo + PAGES_PER_JOB < pr->relpages ? lo + PAGES_PER_JOB : -1;
                        rc = add_job(sn, pr, done, copy_query(s->conn, pr, qname, lo, hi), err);
                }
        }
        PQclear(r);
        return rc;
}

/* Progress: the overall line, then each table's count for the status. */
static void progress(struct snap *sn, struct pg_rel **rels, int nrels, long long t0_ms, bool final)
{
        long long total = 0, expect = 0;

        for (int i = 0; i < nrels; i++) {
                long long d = atomic_load(&sn->done[i]);
                total += d;
                expect += rels[i]->reltuples > d ? rels[i]->reltuples : d;
        }
        if (!zetl_emit_progress_line(sn->em, total, expect, nrels, t0_ms, final))
                return;
        for (int i = 0; i < nrels; i++)
                zetl_emit_progress(sn->em, &rels[i]->schema->id, atomic_load(&sn->done[i]),
                                   rels[i]->reltuples);
}

int pg_snapshot_run(struct pg_src *s, struct zetl_emitter *em, uint64_t *start,
                    struct zetl_err *err)
{
        struct snap sn = { .s = s, .em = em };
        struct pg_repl_slot slot;
        struct worker *w = NULL;
        struct pg_rel **rels = NULL;
        int nrels = 0, nw = 0, rc;
        char sql[256], lsn[32];
        struct timespec ts;
        long long t0;

        pthread_mutex_init(&sn.mu, NULL);
        /* A fresh slot and snapshot: whatever an earlier attempt copied is
         * replaced (the sink empties each table before its copy). */
        rc = pg_repl_drop_slot(s->repl, s->setup.slot, err);
        if (rc && rc != ZETL_ENOTFOUND)
                goto out;
        if ((rc = pg_repl_create_slot(s->repl, s->setup.slot, false, PG_REPL_SNAPSHOT_EXPORT, &slot,
                                      err)))
                goto out;
        sn.snapshot_name = slot.snapshot_name;
        zetl_lsn_format(slot.consistent_point, lsn, sizeof(lsn));
        zlog_info("initial sync from a snapshot consistent at %s", lsn);

        char *lit = PQescapeLiteral(s->conn, slot.snapshot_name, strlen(slot.snapshot_name));
        if (!lit) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out;
        }
        snprintf(sql, sizeof(sql),
                 "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT %s",
                 lit);
        PQfreemem(lit);
        if ((rc = pg_exec(s->conn, sql, "importing the snapshot", err)) ||
            (rc = plan(&sn, &rels, &nrels, err)))
                goto out_txn;

        nw = s->snapshot_workers < sn.njobs ? s->snapshot_workers : sn.njobs;
        if (nw > 0 && !(w = calloc((size_t)nw, sizeof(*w)))) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out_txn;
        }
        /* Every worker imports the snapshot before any copy starts. */
        for (int i = 0; i < nw; i++) {
                w[i].sn = &sn;
                if ((rc = worker_open(&sn, &w[i], err)))
                        goto out_workers;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t0 = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        for (int i = 0; i < nw; i++)
                pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
        for (int i = 0; i < nw; i++) {
                /* Wait, committing what was copied now and then, and reporting. */
                for (;;) {
                        struct zetl_position none = { 0 };
                        struct zetl_err kerr;
                        struct timespec until;
                        clock_gettime(CLOCK_REALTIME, &until);
                        until.tv_nsec += 200 * 1000000L;
                        if (until.tv_nsec >= 1000000000L) {
                                until.tv_sec++;
                                until.tv_nsec -= 1000000000L;
                        }
                        if (pthread_timedjoin_np(w[i].thread, NULL, &until) == 0)
                                break;
                        if (zetl_emit_keepalive(em, &none, &kerr))
                                atomic_store(&sn.failed, true);
                        progress(&sn, rels, nrels, t0, false);
                }
        }
        if (sn.rc) {
                rc = sn.rc;
                *err = sn.err;
                goto out_workers;
        }
        if (zetl_emit_stopping(em)) {
                rc = zetl_err_set(err, ZETL_ECANCELED, ZETL_ERRC_TRANSIENT, "stopping");
                goto out_workers;
        }
        progress(&sn, rels, nrels, t0, true);
        struct zetl_position done = { 0 };
        zetl_pos_set(&done, slot.consistent_point, lsn);
        if ((rc = zetl_emit_snapshot_done(em, &done, err)))
                goto out_workers;
        *start = slot.consistent_point;
out_workers:
        for (int i = 0; i < nw; i++)
                PQfinish(w[i].conn);
        free(w);
out_txn : {
        struct zetl_err e2;
        pg_exec(s->conn, "COMMIT", "ending the snapshot", &e2);
}
out:
        for (int i = 0; i < sn.njobs; i++)
                free(sn.jobs[i].select);
        free(sn.jobs);
        free(sn.done);
        free(rels);
        pthread_mutex_destroy(&sn.mu);
        return rc;
}
