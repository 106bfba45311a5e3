/*
 * Streaming: pgoutput from the slot, decoded straight into batches. Protocol
 * 1 is the default; with --option pgoutput-protocol=2, large transactions
 * arrive while still running: applied to the sink as they arrive when it can
 * roll back (see "applying a streamed transaction while it runs" below),
 * else kept in spill files (pg_spill.h) and applied at their commit. Each
 * transaction's changes go to the emitter as they arrive (a huge transaction
 * is handed on in bounded batches) and its Commit ends it at the commit's
 * end LSN, which is what the slot is told is flushed once the target has it:
 * the standby status update reports as flushed only what zetl_emit_acked()
 * returns, so WAL is released as soon as it is safe and never sooner. While
 * the source is idle, keepalives move the position on (nothing is pending,
 * so everything before the walsender's position is applied), letting the
 * slot advance past WAL that concerns no selected table.
 *
 * Rows carry their change's LSN as position: the changes of one row are
 * ordered by it (a second writer waits for the first one's commit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_source.h"
#include "pg_spill.h"
#include "pgoutput.h"
#include "zetl/log.h"

#define STATUS_INTERVAL_MS      1000
#define ONCE_POLL_MS            250
#define TICK_MESSAGES           256
#define EARLY_DECODING_WORK_MEM "16MB"

struct stream {
        struct pg_src *s;
        struct zetl_emitter *em;
        bool in_txn;
        bool in_stream;      /* between Stream Start and Stream Stop (protocol 2) */
        uint32_t stream_xid; /* the streamed transaction of that block */
        uint32_t early_xid;  /* the streamed transaction applied while it runs, or 0 */
        uint64_t early_changes;
        struct pg_spill *spill;
        uint64_t received; /* last WAL position received */
        uint64_t last_lsn; /* last change LSN, for messages without one */
        uint64_t position; /* last commit end (or idle keepalive) emitted */
        uint64_t once_target;
        uint64_t last_keepalive; /* wal_end of the previous keepalive */
        int still;               /* keepalives in a row at the same wal_end */
        long long last_status_ms;
        unsigned messages; /* data messages received (for TICK_MESSAGES) */
        struct pg_coldesc cols[PG_MAX_COLS];
};

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int decode_cell(struct pg_rel *rel, struct zetl_batch *b, int c, const struct pgo_col *col,
                       struct zetl_err *err)
{
        switch (col->kind) {
        case PGO_KIND_NULL:
                zetl_batch_set_null(b, c);
                return 0;
        case PGO_KIND_UNCHANGED:
                return zetl_batch_set_unchanged(b, c, err);
        case PGO_KIND_BINARY:
                return pg_decode_binary(b, c, &rel->dec[c], (const char *)col->data, (int)col->len,
                                        err);
        default:
                return pg_decode_text(b, c, &rel->dec[c], (const char *)col->data, (int)col->len,
                                      err);
        }
}

/* Decode a tuple into the row being built; keys_only for old keys, and
 * non-key columns of deletes are marked unchanged. */
static int decode_tuple(struct pg_rel *rel, struct zetl_batch *b, const struct pgo_tuple *t,
                        bool keys_only, bool rest_unchanged, struct zetl_err *err)
{
        const struct zetl_schema *sch = rel->schema;
        struct pgo_iter it;
        struct pgo_col col;
        int c = 0, rc;

        if (t->ncols != sch->ncols)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "table %s: a tuple of %u columns for %d", sch->id.table,
                                    t->ncols, sch->ncols);
        pgo_tuple_iter(t, &it);
        while (pgo_tuple_next(&it, &col)) {
                if (sch->cols[c].key_pos == 0 && (keys_only || rest_unchanged)) {
                        if (rest_unchanged && (rc = zetl_batch_set_unchanged(b, c, err)))
                                return rc;
                } else if ((rc = decode_cell(rel, b, c, &col, err))) {
                        return zetl_err_prefix(err, "table %s, column %s: ", sch->id.table,
                                               sch->cols[c].name);
                }
                c++;
        }
        return 0;
}

/* An update's new tuple with its unchanged TOAST cells taken from the full
 * old tuple (REPLICA IDENTITY FULL logs the old row detoasted), so the
 * target gets every value and needs no read of its own. */
static int decode_new_with_old(struct pg_rel *rel, struct zetl_batch *b, const struct pgo_tuple *nt,
                               const struct pgo_tuple *ot, struct zetl_err *err)
{
        const struct zetl_schema *sch = rel->schema;
        struct pgo_iter in, io;
        struct pgo_col cn, co;
        int c = 0, rc;

        if (nt->ncols != (uint32_t)sch->ncols || ot->ncols != nt->ncols)
                return decode_tuple(rel, b, nt, false, false, err);
        pgo_tuple_iter(nt, &in);
        pgo_tuple_iter(ot, &io);
        while (pgo_tuple_next(&in, &cn) && pgo_tuple_next(&io, &co)) {
                const struct pgo_col *use = cn.kind == PGO_KIND_UNCHANGED ? &co : &cn;
                if ((rc = decode_cell(rel, b, c, use, err)))
                        return zetl_err_prefix(err, "table %s, column %s: ", sch->id.table,
                                               sch->cols[c].name);
                c++;
        }
        return 0;
}

/* True when a key column differs between two full tuples (REPLICA IDENTITY FULL). */
static bool key_changed(const struct pg_rel *rel, const struct pgo_tuple *a,
                        const struct pgo_tuple *b)
{
        struct pgo_iter ia, ib;
        struct pgo_col ca, cb;
        int c = 0;

        pgo_tuple_iter(a, &ia);
        pgo_tuple_iter(b, &ib);
        while (pgo_tuple_next(&ia, &ca) && pgo_tuple_next(&ib, &cb)) {
                if (rel->schema->cols[c].key_pos > 0 &&
                    (ca.kind != cb.kind || ca.len != cb.len ||
                     (ca.len && memcmp(ca.data, cb.data, ca.len) != 0)))
                        return true;
                c++;
        }
        return false;
}

/* The columns of a Relation message into st->cols; *n their count. */
static int describe(struct stream *st, const struct pgo_relation *m, int *n_out,
                    struct zetl_err *err)
{
        static struct pg_coldesc cat[PG_MAX_COLS];
        char nsp[ZETL_NAME_MAX], rel[ZETL_NAME_MAX];
        struct pgo_iter it;
        struct pgo_relcol rc2;
        bool cat_key = false;
        int n = 0, ncat, rc;

        /* The message is the shape of the data that follows (names, types,
         * replica identity); the catalog adds what it lacks: attnum (to tell
         * renames), NOT NULL, the type's text and the primary key. It may
         * already be ahead (a later DDL): columns are matched by name. */
        if ((rc = pg_describe(st->s, m->relid, nsp, rel, cat, PG_MAX_COLS, &ncat, err)))
                return rc;
        for (int i = 0; i < ncat; i++)
                cat_key |= cat[i].key_pos > 0;
        pgo_relation_iter(m, &it);
        while (pgo_relation_next(&it, &rc2) && n < PG_MAX_COLS) {
                struct pg_coldesc *c = &st->cols[n];
                memset(c, 0, sizeof(*c));
                snprintf(c->name, sizeof(c->name), "%s", rc2.name);
                c->typoid = rc2.type_oid;
                c->typmod = rc2.typmod;
                c->key_pos = (rc2.flags & PGO_COL_KEY) ? 1 : 0;
                for (int i = 0; i < ncat; i++) {
                        /* Same columns in the same order: matched by position,
                         * so a column renamed since keeps its attnum. */
                        bool same =
                                ncat == (int)m->ncols ? i == n : strcmp(cat[i].name, c->name) == 0;
                        if (!same || cat[i].typoid != c->typoid)
                                continue;
                        c->attnum = cat[i].attnum;
                        c->notnull = cat[i].notnull;
                        snprintf(c->type_text, sizeof(c->type_text), "%s", cat[i].type_text);
                        if (cat_key)
                                c->key_pos = cat[i].key_pos;
                        break;
                }
                n++;
        }
        /* Key flags from the message: number them in column order. */
        if (!cat_key)
                for (int i = 0, k = 0; i < n; i++)
                        if (st->cols[i].key_pos)
                                st->cols[i].key_pos = ++k;
        *n_out = n;
        return 0;
}

static const char *rel_nsp(const struct pgo_relation *m)
{
        return m->nspname[0] ? m->nspname : "pg_catalog";
}

static int on_relation(struct stream *st, const struct pgo_relation *m, struct zetl_err *err)
{
        struct pg_rel *pr;
        int n, rc;

        if ((rc = describe(st, m, &n, err)))
                return rc;
        return pg_rel_update(st->s, st->em, m->relid, rel_nsp(m), m->relname, st->cols, n, &pr,
                             err);
}

static struct pg_rel *rel_for(struct stream *st, uint32_t relid, struct zetl_err *err)
{
        struct pg_rel *r = pg_rel_find(st->s, relid);

        if (!r)
                zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                             "a change for relation %u before its Relation message", relid);
        return r;
}

static int on_change(struct stream *st, const struct pgo_msg *m, uint64_t lsn, struct zetl_err *err)
{
        uint32_t relid = m->type == PGO_INSERT   ? m->ins.relid
                         : m->type == PGO_UPDATE ? m->upd.relid
                                                 : m->del.relid;
        struct pg_rel *rel = rel_for(st, relid, err);
        struct zetl_batch *b;
        int rc;

        if (!rel)
                return ZETL_EPROTO;
        if (rel->excluded || rel->no_key || !rel->schema)
                return 0;
        if (m->type == PGO_INSERT) {
                if ((rc = zetl_emit_row(st->em, rel->schema, ZETL_OP_INSERT, lsn, &b, err)))
                        return rc;
                rc = decode_tuple(rel, b, &m->ins.newtup, false, false, err);
        } else if (m->type == PGO_UPDATE) {
                if ((rc = zetl_emit_row(st->em, rel->schema, ZETL_OP_UPDATE, lsn, &b, err)))
                        return rc;
                if (m->upd.old_kind == 'O')
                        rc = decode_new_with_old(rel, b, &m->upd.newtup, &m->upd.oldtup, err);
                else
                        rc = decode_tuple(rel, b, &m->upd.newtup, false, false, err);
                bool moved = m->upd.old_kind == 'K' ||
                             (m->upd.old_kind == 'O' &&
                              key_changed(rel, &m->upd.oldtup, &m->upd.newtup));
                if (!rc && moved && !(rc = zetl_batch_old_key_begin(b, err)))
                        rc = decode_tuple(rel, b->old, &m->upd.oldtup, true, false, err);
        } else {
                if ((rc = zetl_emit_row(st->em, rel->schema, ZETL_OP_DELETE, lsn, &b, err)))
                        return rc;
                rc = decode_tuple(rel, b, &m->del.oldtup, false, true, err);
        }
        if (rc) {
                zetl_batch_row_abort(b);
                return rc;
        }
        zetl_batch_row_end(b);
        return 0;
}

static int emit_position(struct stream *st, uint64_t lsn, int64_t pg_ts, struct zetl_err *err)
{
        struct zetl_position p = { 0 };
        char text[32];

        zetl_lsn_format(lsn, text, sizeof(text));
        zetl_pos_set(&p, lsn, text);
        p.time_us = pg_ts ? pg_ts + PGO_EPOCH_UNIX_US : 0;
        st->position = lsn;
        return zetl_emit_commit(st->em, &p, err);
}

/* One decoded message of a transaction (or outside one). */
static int handle(struct stream *st, const struct pgo_msg *m, uint64_t wal_start,
                  struct zetl_err *err)
{
        int rc;

        if (wal_start)
                st->last_lsn = wal_start;
        switch (m->type) {
        case PGO_BEGIN:
                st->in_txn = true;
                return 0;
        case PGO_COMMIT:
                st->in_txn = false;
                return emit_position(st, m->commit.end_lsn, m->commit.commit_ts, err);
        case PGO_RELATION:
                return on_relation(st, &m->rel, err);
        case PGO_INSERT:
        case PGO_UPDATE:
        case PGO_DELETE:
                return on_change(st, m, st->last_lsn, err);
        case PGO_TRUNCATE:
                for (uint32_t i = 0; i < m->trunc.nrels; i++) {
                        struct pg_rel *rel = pg_rel_find(st->s, pgo_truncate_relid(&m->trunc, i));
                        if (rel && !rel->excluded && rel->schema &&
                            (rc = zetl_emit_truncate(st->em, rel->schema, st->last_lsn, err)))
                                return rc;
                }
                return 0;
        case PGO_TYPE:
        case PGO_ORIGIN:
        case PGO_MESSAGE:
                return 0;
        default:
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL, "unexpected %s message",
                                    pgo_type_name(m->type));
        }
}

/* ---- applying a streamed transaction while it runs ------------------------------
 *
 * With protocol 2 a large transaction arrives in blocks while it runs. When
 * the sink can roll back (zetl_emit_early_begin) and nothing else is in
 * flight, its changes go to the sink as they arrive and its Stream Commit
 * only commits: the target's work overlaps the source's instead of
 * following it. The blocks are still kept in the spill file: whenever
 * applying early stops being safe (another transaction commits meanwhile,
 * a subtransaction aborts, a table changes shape, a truncate, a second
 * streamed transaction) the sink rolls back and the transaction is applied
 * from the spill at its commit, as without this. */

static bool is_change(enum pgo_type t)
{
        return t == PGO_RELATION || t == PGO_INSERT || t == PGO_UPDATE || t == PGO_DELETE ||
               t == PGO_TRUNCATE;
}

static int early_stop(struct stream *st, const char *why, struct zetl_err *err)
{
        zlog_info("streamed transaction %u: applied at its commit instead (%s)", st->early_xid,
                  why);
        st->early_xid = 0;
        return zetl_emit_early_abort(st->em, err);
}

/* again: the transaction was being applied early and only it is spilled. */
static int early_start(struct stream *st, uint32_t xid, bool again, struct zetl_err *err)
{
        bool began;
        int rc;

        if (!st->s->apply_in_progress || st->s->cfg->once || st->in_txn ||
            (!again && !pg_spill_empty(st->spill)))
                return 0;
        if ((rc = zetl_emit_early_begin(st->em, &began, err)) || !began)
                return rc;
        st->early_xid = xid;
        st->early_changes = 0;
        zlog_debug("streamed transaction %u: applying while it runs", xid);
        return 0;
}

/* A message of the transaction being applied early (already spilled). */
static int early_handle(struct stream *st, const struct pgo_msg *m, uint64_t wal_start,
                        struct zetl_err *err)
{
        struct pg_rel *pr;
        enum pg_announce what;
        uint32_t xid = st->early_xid;
        int n, rc;

        switch (m->type) {
        case PGO_RELATION:
                if ((rc = describe(st, &m->rel, &n, err)) ||
                    (rc = pg_rel_would_announce(st->s, st->em, m->rel.relid, rel_nsp(&m->rel),
                                                m->rel.relname, st->cols, n, &what, err)))
                        return rc;
                if (what == PG_ANNOUNCE_CHANGE ||
                    (what == PG_ANNOUNCE_KNOWN && st->early_changes > 0))
                        return early_stop(st, "a table changes shape or is new to this run", err);
                if (what == PG_ANNOUNCE_NONE)
                        return pg_rel_update(st->s, st->em, m->rel.relid, rel_nsp(&m->rel),
                                             m->rel.relname, st->cols, n, &pr, err);
                /* The first table of this run, before any row: announced
                 * outside the early transaction (the target has that shape
                 * already, so a rollback would have nothing to take back),
                 * then applying early goes on. */
                st->early_xid = 0;
                if ((rc = zetl_emit_early_abort(st->em, err)) ||
                    (rc = pg_rel_update(st->s, st->em, m->rel.relid, rel_nsp(&m->rel),
                                        m->rel.relname, st->cols, n, &pr, err)))
                        return rc;
                return early_start(st, xid, true, err);
        case PGO_TRUNCATE:
                return early_stop(st, "it truncates", err);
        case PGO_INSERT:
        case PGO_UPDATE:
        case PGO_DELETE:
                st->early_changes++;
                return handle(st, m, wal_start, err);
        default:
                return handle(st, m, wal_start, err);
        }
}

/* A spilled message of a streamed transaction, at its Stream Commit. */
static int send_status(struct stream *st, bool request_reply, struct zetl_err *err);

static int replay_one(void *arg, uint64_t lsn, const uint8_t *msg, size_t len, struct zetl_err *err)
{
        struct stream *st = arg;
        struct pgo_msg m;
        int rc = pgo_decode(msg, len, true, &m, err);

        if (rc || (rc = handle(st, &m, lsn, err)))
                return rc;
        /* A replay runs at the sink's pace, maybe for minutes: the walsender
         * hears from us meanwhile, or wal_sender_timeout ends the stream. */
        if (++st->messages % TICK_MESSAGES == 0 &&
            now_ms() - st->last_status_ms >= STATUS_INTERVAL_MS)
                rc = send_status(st, false, err);
        return rc;
}

static int on_message(struct stream *st, const uint8_t *data, size_t len, uint64_t wal_start,
                      struct zetl_err *err)
{
        struct pgo_msg m;
        int rc;

        if ((rc = pgo_decode(data, len, st->in_stream, &m, err)))
                return rc;
        switch (m.type) {
        case PGO_STREAM_START:
                st->in_stream = true;
                st->stream_xid = m.sstart.xid;
                /* Another transaction's block may be empty (catalog changes
                 * only: temporary tables in another database of the server,
                 * say): only its first message ends applying early. */
                if (!st->early_xid && m.sstart.first_segment)
                        return early_start(st, m.sstart.xid, false, err);
                return 0;
        case PGO_STREAM_STOP:
                st->in_stream = false;
                return 0;
        case PGO_STREAM_ABORT:
                if (st->early_xid && st->early_xid == m.sabort.xid) {
                        if (m.sabort.subxid != m.sabort.xid) {
                                rc = early_stop(st, "a subtransaction aborted", err);
                        } else {
                                zlog_info("streamed transaction %u aborted: what was applied is "
                                          "rolled back",
                                          st->early_xid);
                                st->early_xid = 0;
                                rc = zetl_emit_early_abort(st->em, err);
                        }
                        if (rc)
                                return rc;
                }
                return pg_spill_abort(st->spill, m.sabort.xid, m.sabort.subxid, err);
        case PGO_STREAM_COMMIT:
                if (st->early_xid && st->early_xid == m.scommit.xid) {
                        /* Everything is at the sink already: commit it. */
                        zlog_info("streamed transaction %u applied while it ran (%llu changes)",
                                  st->early_xid, (unsigned long long)st->early_changes);
                        st->early_xid = 0;
                        if ((rc = pg_spill_abort(st->spill, m.scommit.xid, m.scommit.xid, err)))
                                return rc;
                        return emit_position(st, m.scommit.end_lsn, m.scommit.commit_ts, err);
                }
                if (st->early_xid) {
                        /* Nothing of it was sent: its position comes with the
                         * next commit (committing it would commit the early
                         * rows). Something was: it goes first, whole. */
                        if (!pg_spill_holds(st->spill, m.scommit.xid))
                                return 0;
                        if ((rc = early_stop(st, "another transaction committed meanwhile", err)))
                                return rc;
                }
                /* The transaction applies now, whole, in commit order. */
                st->in_txn = true;
                uint64_t held = pg_spill_bytes(st->spill);
                if ((rc = pg_spill_replay(st->spill, m.scommit.xid, replay_one, st, err)))
                        return rc;
                zlog_info("applied streamed transaction %u (%llu bytes spilled)", m.scommit.xid,
                          (unsigned long long)(held - pg_spill_bytes(st->spill)));
                st->in_txn = false;
                return emit_position(st, m.scommit.end_lsn, m.scommit.commit_ts, err);
        default:
                if (st->in_stream) {
                        rc = pg_spill_append(st->spill, st->stream_xid,
                                             m.has_xid ? m.xid : st->stream_xid, wal_start, data,
                                             len, err);
                        if (rc || !st->early_xid)
                                return rc;
                        if (st->stream_xid == st->early_xid)
                                return early_handle(st, &m, wal_start, err);
                        return early_stop(st, "another streamed transaction interleaved", err);
                }
                if (st->early_xid) {
                        /* A transaction sent whole while the early one runs.
                         * Without changes (PostgreSQL 14 sends empty ones) it
                         * is passed over: its position comes with the next
                         * commit. With changes, it must not be committed with
                         * the early rows. */
                        if (m.type == PGO_BEGIN || m.type == PGO_COMMIT) {
                                st->in_txn = m.type == PGO_BEGIN;
                                return 0;
                        }
                        if (is_change(m.type) &&
                            (rc = early_stop(st, "another transaction committed meanwhile", err)))
                                return rc;
                }
                return handle(st, &m, wal_start, err);
        }
}

static int send_status(struct stream *st, bool request_reply, struct zetl_err *err)
{
        struct zetl_position acked;

        zetl_emit_acked(st->em, &acked);
        st->last_status_ms = now_ms();
        return pg_repl_send_status(st->s->repl, st->received, acked.order, acked.order,
                                   request_reply, err);
}

/* pg_current_wal_insert_lsn() now: what --once must reach. */
static int once_target(struct pg_src *s, uint64_t *out, struct zetl_err *err)
{
        char buf[32];
        int rc = pg_query_value(s->conn, "SELECT pg_current_wal_insert_lsn()",
                                "reading the current WAL position", buf, sizeof(buf), err);

        if (rc)
                return rc;
        if (zetl_lsn_parse(buf, out))
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL, "bad LSN %s", buf);
        return 0;
}

/* True when nobody set logical_decoding_work_mem for our role: not in
 * postgresql.conf, ALTER ROLE/DATABASE, the URI's options nor PGOPTIONS (the
 * SQL connection gets the same settings as the walsender). */
static bool decoding_work_mem_default(struct pg_src *s)
{
        char src[64];
        struct zetl_err e;

        if (getenv("PGOPTIONS") && strstr(getenv("PGOPTIONS"), "logical_decoding_work_mem"))
                return false;
        if (pg_query_value(
                    s->conn,
                    "SELECT source FROM pg_settings WHERE name = 'logical_decoding_work_mem'",
                    "reading logical_decoding_work_mem", src, sizeof(src), &e))
                return false;
        return strcmp(src, "default") == 0;
}

int pg_stream_run(struct pg_src *s, struct zetl_emitter *em, uint64_t start, struct zetl_err *err)
{
        struct stream *st = calloc(1, sizeof(*st));
        const char *pubs[1] = { s->setup.publication };
        struct pg_repl_start_opts o = { .slot = s->setup.slot,
                                        .start_lsn = start,
                                        .proto_version = 1,
                                        .publications = pubs,
                                        .npublications = 1,
                                        .binary = s->binary };
        char text[32];
        int rc;

        if (!st)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        st->s = s;
        st->em = em;
        st->position = start;
        /* By default protocol 2 when large transactions can be applied while
         * they run (PostgreSQL 14 streams them), else 1: spilling them only
         * to apply them at commit gains nothing over letting the walsender
         * send them then. The same with --once (which applies at commit):
         * one integration, one protocol. */
        o.proto_version = s->proto_version;
        if (o.proto_version == 0)
                o.proto_version = s->apply_in_progress && zetl_emit_early_possible(em) &&
                                                  PQserverVersion(s->conn) >= 140000
                                          ? 2
                                          : 1;
        /* Applying early, smaller blocks keep the sink busy from the start
         * of a large transaction (measured: make bench, warehouse). A size
         * the user gave (the option, or PGOPTIONS) wins. */
        o.decoding_work_mem = s->decoding_work_mem;
        if (!o.decoding_work_mem && o.proto_version >= 2 && s->apply_in_progress && !s->cfg->once &&
            zetl_emit_early_possible(em) && decoding_work_mem_default(s))
                o.decoding_work_mem = EARLY_DECODING_WORK_MEM;
        if (o.proto_version >= 2) {
                char dir[4200];
                snprintf(dir, sizeof(dir), "%s/spill", s->cfg->state_dir);
                if ((rc = pg_spill_open(dir, &st->spill, err)))
                        goto out;
        }
        if (s->cfg->once && (rc = once_target(s, &st->once_target, err)))
                goto out;
        if ((rc = pg_repl_start(s->repl, &o, err)))
                goto out;
        zetl_lsn_format(start, text, sizeof(text));
        zlog_info("streaming from %s (protocol %d, %s columns)", text, o.proto_version,
                  s->binary ? "binary" : "text");
        for (;;) {
                struct pg_repl_event ev;
                bool idle = !st->in_txn;

                if (zetl_emit_stopping(em)) {
                        rc = ZETL_ECANCELED;
                        break;
                }
                /* --once: done when idle at the target. The insert position
                 * read at the start may lie just past a page header (at most
                 * 40 bytes) that the end of the last record does not count:
                 * a walsender that stays put at the header's start has nothing
                 * more. It stays put below the target too while commits made
                 * with synchronous_commit=off wait for the WAL writer's
                 * flush, so only the header's width is forgiven. */
                if (s->cfg->once && idle &&
                    (st->position >= st->once_target ||
                     (st->still >= 2 && st->last_keepalive + 64 > st->once_target))) {
                        rc = 0;
                        break;
                }
                if ((rc = pg_repl_next(s->repl, s->cfg->once ? ONCE_POLL_MS : 100, &ev, err)))
                        break;
                if (ev.type == PG_REPL_XLOGDATA) {
                        if (ev.wal_end > st->received)
                                st->received = ev.wal_end;
                        if ((rc = on_message(st, ev.data, ev.len, ev.wal_start, err)))
                                break;
                } else if (ev.type == PG_REPL_KEEPALIVE) {
                        if (ev.wal_end > st->received)
                                st->received = ev.wal_end;
                        st->still = ev.wal_end == st->last_keepalive ? st->still + 1 : 0;
                        st->last_keepalive = ev.wal_end;
                        /* Idle: everything before the walsender's position was
                         * sent, so it is a position like a commit's. */
                        if (!st->in_txn && !st->early_xid && ev.wal_end > st->position &&
                            (rc = emit_position(st, ev.wal_end, 0, err)))
                                break;
                        if (ev.reply_requested && (rc = send_status(st, false, err)))
                                break;
                }
                /* The clock and the flush by time once per event that is not
                 * data, else once in TICK_MESSAGES messages: per message they
                 * cost a good share of a streamed transaction's decoding. */
                if (ev.type == PG_REPL_XLOGDATA && ++st->messages % TICK_MESSAGES != 0)
                        continue;
                if (!st->in_txn) {
                        struct zetl_position here = { 0 };
                        zetl_pos_set(&here, st->received, NULL);
                        if ((rc = zetl_emit_keepalive(em, &here, err)))
                                break;
                }
                if (now_ms() - st->last_status_ms >=
                            (s->cfg->once ? ONCE_POLL_MS : STATUS_INTERVAL_MS) &&
                    (rc = send_status(st, s->cfg->once, err)))
                        break;
        }
        if (rc == 0 || rc == ZETL_ECANCELED) {
                /* Report what is durable before leaving; errors here do not matter. */
                struct zetl_err e2;
                send_status(st, false, &e2);
        }
out:
        pg_spill_close(st->spill);
        free(st);
        return rc;
}
