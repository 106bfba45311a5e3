/*
 * pg_repl and pgoutput against the harness's PostgreSQL 15: a slot with an
 * exported snapshot, a known workload (inserts, a key-changing update, an
 * update that leaves a TOASTed value alone, a delete, a truncate, a logical
 * message) read back with protocol 1 and checked message by message, the
 * acknowledged position seen in pg_replication_slots; then one 20,000-row
 * transaction streamed in progress with protocol 2. One line per check.
 *
 * Needs ZETL_TEST_PG_URI (a role with REPLICATION); exits 77 without it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "../../connectors/postgres/pg_repl.h"
#include "../../connectors/postgres/pgoutput.h"
#include "zetl/position.h"

#define SLOT      "pgrepl_slot"
#define TABLE     "pgrepl_t"
#define ENUM_TYPE "pgrepl_mood"
/* Space, comma, both quotes and capitals: only exact quoting finds it. */
#define PUB      "pgrepl Pub,\"1'"
#define PUB_SQL  "\"pgrepl Pub,\"\"1'\""
#define BIG_LEN  100000
#define BIG_ROWS 20000
#define MAX_RECS 256

static int checks, failures;
static PGconn *sql;
static char big[BIG_LEN + 1];

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(bool ok, const char *fmt, ...)
{
        va_list ap;

        checks++;
        if (!ok)
                failures++;
        printf("%s - ", ok ? "ok" : "not ok");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

/* An error's message in parentheses, or nothing when there was none. */
static const char *why(const struct zetl_err *err)
{
        static char buf[ZETL_ERR_MSG_MAX + 4];

        if (!err->msg[0])
                return "";
        snprintf(buf, sizeof(buf), "(%s)", err->msg);
        return buf;
}

static bool sql_ok(const char *q)
{
        PGresult *res = PQexec(sql, q);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

        if (!ok)
                printf("# SQL failed: %s\n#   %s", q, PQerrorMessage(sql));
        PQclear(res);
        return ok;
}

/* The first value of a query's first row, or "" (caller frees). */
static char *sql_value(const char *q)
{
        PGresult *res = PQexec(sql, q);
        char *v;

        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) {
                printf("# SQL failed: %s\n#   %s", q, PQerrorMessage(sql));
                v = strdup("");
        } else {
                v = strdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
        }
        PQclear(res);
        return v;
}

static uint32_t sql_oid(const char *q)
{
        char *v = sql_value(q);
        uint32_t oid = (uint32_t)strtoul(v, NULL, 10);

        free(v);
        return oid;
}

static time_t deadline_in(int seconds)
{
        return time(NULL) + seconds;
}

/*
 * Next pgoutput message, answering keepalives that want a reply with our
 * acknowledged position. NULL on error or past the deadline.
 */
static const uint8_t *next_data(struct pg_repl *r, time_t deadline, uint64_t acked, size_t *len)
{
        struct zetl_err err = { 0 };
        struct pg_repl_event ev;

        while (time(NULL) < deadline) {
                if (pg_repl_next(r, 1000, &ev, &err)) {
                        printf("# pg_repl_next: %s (%s)\n", err.msg, zetl_errcode_name(err.code));
                        return NULL;
                }
                if (ev.type == PG_REPL_XLOGDATA) {
                        *len = ev.len;
                        return ev.data;
                }
                if (ev.type == PG_REPL_KEEPALIVE && ev.reply_requested &&
                    pg_repl_send_status(r, acked, acked, acked, false, &err)) {
                        printf("# pg_repl_send_status: %s\n", err.msg);
                        return NULL;
                }
        }
        printf("# no message before the deadline\n");
        return NULL;
}

/* Polls pg_replication_slots until the slot's confirmed_flush_lsn is want. */
static bool slot_confirmed(uint64_t want)
{
        char lsn[32], q[256];
        bool ok = false;

        zetl_lsn_format(want, lsn, sizeof(lsn));
        snprintf(q, sizeof(q),
                 "SELECT confirmed_flush_lsn = '%s'::pg_lsn FROM pg_replication_slots "
                 "WHERE slot_name = '" SLOT "'",
                 lsn);
        for (int i = 0; i < 100 && !ok; i++) {
                char *v = sql_value(q);

                ok = strcmp(v, "t") == 0;
                free(v);
                if (!ok) {
                        struct timespec ts = { 0, 100 * 1000 * 1000 };
                        nanosleep(&ts, NULL);
                }
        }
        return ok;
}

/* Slot, publication, table and type: gone, whatever state a run left. */
static void cleanup(const char *uri)
{
        struct zetl_err err = { 0 };
        struct pg_repl *r;

        /* WAIT: a walsender we just left may still hold the slot for a moment. */
        if (pg_repl_open(uri, &r, &err) == 0) {
                if (pg_repl_drop_slot(r, SLOT, &err) && err.code != ZETL_ENOTFOUND)
                        printf("# cleanup: %s\n", err.msg);
                pg_repl_close(r);
        }
        sql_ok("DROP PUBLICATION IF EXISTS " PUB_SQL);
        sql_ok("DROP TABLE IF EXISTS " TABLE);
        sql_ok("DROP TYPE IF EXISTS " ENUM_TYPE);
}

/* ---- tuple checks -------------------------------------------------------- */

/* One column: kind, and for 't' the exact text (NULL: compare with big). */
static bool col_is(struct pgo_iter *it, char kind, const char *text)
{
        struct pgo_col c;

        if (!pgo_tuple_next(it, &c) || c.kind != kind)
                return false;
        if (kind != 't')
                return true;
        if (!text)
                return c.len == BIG_LEN && memcmp(c.data, big, BIG_LEN) == 0;
        return c.len == strlen(text) && memcmp(c.data, text, c.len) == 0;
}

/* A four-column tuple (id, note, big, mood); kind 'n'/'u' ignore the text. */
static bool tuple_is(const struct pgo_tuple *t, char k1, const char *v1, char k2, const char *v2,
                     char k3, const char *v3, char k4, const char *v4)
{
        struct pgo_iter it;
        struct pgo_col c;

        if (t->ncols != 4)
                return false;
        pgo_tuple_iter(t, &it);
        return col_is(&it, k1, v1) && col_is(&it, k2, v2) && col_is(&it, k3, v3) &&
               col_is(&it, k4, v4) && !pgo_tuple_next(&it, &c);
}

static bool relation_is(const struct pgo_relation *rel, uint32_t relid, uint32_t enum_oid)
{
        static const char *const names[] = { "id", "note", "big", "mood" };
        const uint32_t types[] = { 23, 25, 25, enum_oid };
        struct pgo_relcol c;
        struct pgo_iter it;

        if (rel->relid != relid || strcmp(rel->nspname, "public") != 0 ||
            strcmp(rel->relname, TABLE) != 0 || rel->replident != 'd' || rel->ncols != 4)
                return false;
        pgo_relation_iter(rel, &it);
        for (int i = 0; i < 4; i++) {
                if (!pgo_relation_next(&it, &c) || strcmp(c.name, names[i]) != 0 ||
                    c.type_oid != types[i] || c.typmod != -1 ||
                    (c.flags & PGO_COL_KEY) != (i == 0 ? PGO_COL_KEY : 0))
                        return false;
        }
        return !pgo_relation_next(&it, &c);
}

/* ---- phase 1: protocol 1, message by message ----------------------------- */

struct rec {
        uint8_t *p;
        size_t n;
        struct pgo_msg m;
};

static struct rec recs[MAX_RECS];
static int nrecs;

/* Reads until the sixth commit, keeping a copy of each message. */
static bool read_workload(struct pg_repl *r)
{
        time_t deadline = deadline_in(60);
        struct zetl_err err = { 0 };
        int commits = 0;

        while (commits < 6) {
                size_t len = 0;
                const uint8_t *d = next_data(r, deadline, 0, &len);
                struct rec *rc = &recs[nrecs];

                if (!d || nrecs == MAX_RECS)
                        return false;
                rc->p = malloc(len ? len : 1);
                if (!rc->p)
                        return false;
                memcpy(rc->p, d, len);
                rc->n = len;
                nrecs++;
                if (pgo_decode(rc->p, len, false, &rc->m, &err)) {
                        printf("# %s\n", err.msg);
                        return false;
                }
                if (rc->m.type == PGO_COMMIT)
                        commits++;
        }
        return true;
}

/*
 * The expected messages. pgoutput sends a relation's Type and Relation
 * messages again whenever its cache entry was invalidated, which other
 * sessions can cause at any time; repeats are allowed (and checked) before a
 * change, so "sequence" below is the one without them.
 */
static const char EXPECTED[] = "BYRIIIMC"
                               "BUC"
                               "BIC"
                               "BUC"
                               "BDC"
                               "BTC";

static void check_sequence(uint32_t relid, uint32_t enum_oid, const struct rec **by_pos)
{
        char raw[MAX_RECS + 1], seq[MAX_RECS + 1];
        bool schema_ok = true;
        int n = 0;

        for (int i = 0; i < nrecs; i++) {
                const struct pgo_msg *m = &recs[i].m;
                bool repeat = (m->type == PGO_RELATION || m->type == PGO_TYPE) && n >= 3;

                raw[i] = (char)m->type;
                if (m->type == PGO_RELATION)
                        schema_ok = schema_ok && relation_is(&m->rel, relid, enum_oid);
                if (m->type == PGO_TYPE)
                        schema_ok = schema_ok && m->typ.oid == enum_oid &&
                                    strcmp(m->typ.nspname, "public") == 0 &&
                                    strcmp(m->typ.name, ENUM_TYPE) == 0;
                if (repeat)
                        continue;
                if (n < (int)sizeof(EXPECTED) - 1)
                        by_pos[n] = &recs[i];
                seq[n++] = (char)m->type;
        }
        raw[nrecs] = '\0';
        seq[n] = '\0';
        check(strcmp(seq, EXPECTED) == 0, "message sequence %s (received %s)", EXPECTED, raw);
        check(schema_ok,
              "Type: public." ENUM_TYPE " oid %" PRIu32 "; Relation: public." TABLE " oid %" PRIu32
              ", identity 'd', columns id int4 (key), note text, big text, mood",
              enum_oid, relid);
}

static void check_transactions(const struct rec *const *by_pos)
{
        bool ok = true;

        for (int i = 0; EXPECTED[i]; i++) {
                if (EXPECTED[i] != 'B')
                        continue;
                const struct pgo_begin *b = &by_pos[i]->m.begin;
                int j = i;

                while (EXPECTED[j] != 'C')
                        j++;
                /* Begin announces the commit's LSN; the end comes after it. */
                ok = ok && b->final_lsn == by_pos[j]->m.commit.commit_lsn &&
                     by_pos[j]->m.commit.end_lsn > by_pos[j]->m.commit.commit_lsn &&
                     b->commit_ts == by_pos[j]->m.commit.commit_ts && b->xid != 0;
        }
        check(ok, "each Begin's final LSN, timestamp and xid match its Commit");
}

static void check_changes(const struct rec *const *by_pos, uint32_t relid)
{
        const struct pgo_msg *m;

        m = &by_pos[3]->m;
        check(m->ins.relid == relid &&
                      tuple_is(&m->ins.newtup, 't', "1", 't', "a", 'n', NULL, 't', "ok") &&
                      tuple_is(&by_pos[4]->m.ins.newtup, 't', "2", 't', "b", 'n', NULL, 't',
                               "meh") &&
                      tuple_is(&by_pos[5]->m.ins.newtup, 't', "3", 't', "c", 'n', NULL, 't', "ok"),
              "three inserts in one transaction: (1,a,NULL,ok) (2,b,NULL,meh) (3,c,NULL,ok)");
        m = &by_pos[6]->m;
        check(m->msg.flags == PGO_MESSAGE_TRANSACTIONAL && strcmp(m->msg.prefix, "pgrepl") == 0 &&
                      m->msg.content_len == 5 && memcmp(m->msg.content, "hello", 5) == 0,
              "transactional logical message 'pgrepl': hello");
        m = &by_pos[9]->m;
        check(m->upd.relid == relid && m->upd.old_kind == 'K' &&
                      tuple_is(&m->upd.oldtup, 't', "1", 'n', NULL, 'n', NULL, 'n', NULL) &&
                      tuple_is(&m->upd.newtup, 't', "10", 't', "a", 'n', NULL, 't', "ok"),
              "key change 1 -> 10: old key 'K' (1), new tuple (10,a,NULL,ok)");
        m = &by_pos[12]->m;
        check(tuple_is(&m->ins.newtup, 't', "4", 't', "d", 't', NULL, 't', "meh"),
              "insert of a %d-byte value arrives whole", BIG_LEN);
        m = &by_pos[15]->m;
        check(m->upd.old_kind == 0 &&
                      tuple_is(&m->upd.newtup, 't', "4", 't', "d2", 'u', NULL, 't', "meh"),
              "update of another column: no old tuple, the TOASTed column is 'u' (unchanged)");
        m = &by_pos[18]->m;
        check(m->del.relid == relid && m->del.old_kind == 'K' &&
                      tuple_is(&m->del.oldtup, 't', "2", 'n', NULL, 'n', NULL, 'n', NULL),
              "delete: old key 'K' (2)");
        m = &by_pos[21]->m;
        check(m->trunc.nrels == 1 && m->trunc.options == 0 &&
                      pgo_truncate_relid(&m->trunc, 0) == relid,
              "truncate: one relation, %" PRIu32 ", no options", relid);
}

/* Deterministic letters, so the value compares exactly and never shrinks. */
static void make_big(void)
{
        uint32_t x = 2463534242u;

        for (int i = 0; i < BIG_LEN; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                big[i] = (char)('a' + x % 26);
        }
        big[BIG_LEN] = '\0';
}

static bool run_workload(void)
{
        const char *params[1] = { big };
        PGresult *res;
        bool ok;

        if (!sql_ok("BEGIN") ||
            !sql_ok("INSERT INTO " TABLE " (id, note, mood) VALUES (1, 'a', 'ok'), "
                    "(2, 'b', 'meh'), (3, 'c', 'ok')") ||
            !sql_ok("SELECT pg_logical_emit_message(true, 'pgrepl', 'hello')") ||
            !sql_ok("COMMIT") || !sql_ok("UPDATE " TABLE " SET id = 10 WHERE id = 1"))
                return false;
        res = PQexecParams(sql,
                           "INSERT INTO " TABLE " (id, note, big, mood) VALUES (4, 'd', $1, 'meh')",
                           1, NULL, params, NULL, NULL, 0);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
                printf("# insert of the big row: %s", PQerrorMessage(sql));
        PQclear(res);
        return ok && sql_ok("UPDATE " TABLE " SET note = 'd2' WHERE id = 4") &&
               sql_ok("DELETE FROM " TABLE " WHERE id = 2") && sql_ok("TRUNCATE " TABLE);
}

/* ---- phase 2: protocol 2, a transaction streamed in progress ------------- */

/* libpq keyword/value form of a URI, with extra appended: the other syntax. */
static char *keyword_form(const char *uri, const char *extra)
{
        PQconninfoOption *opts = PQconninfoParse(uri, NULL);
        size_t size = strlen(uri) * 2 + strlen(extra) + 256;
        char *s = opts ? malloc(size) : NULL;
        size_t n = 0;

        if (!s) {
                PQconninfoFree(opts);
                return NULL;
        }
        for (const PQconninfoOption *o = opts; o->keyword; o++) {
                if (!o->val)
                        continue;
                n += (size_t)snprintf(s + n, size - n, "%s='", o->keyword);
                for (const char *c = o->val; *c && n + 4 < size; c++) {
                        if (*c == '\'' || *c == '\\')
                                s[n++] = '\\';
                        s[n++] = *c;
                }
                n += (size_t)snprintf(s + n, size - n, "' ");
        }
        snprintf(s + n, size - n, "%s", extra);
        PQconninfoFree(opts);
        return s;
}

struct stream_stats {
        int starts, stops, firsts, inserts, dups, bad_rows, other;
        bool xid_ok;
        uint32_t xid;
        uint64_t end_lsn;
};

static void on_stream_msg(const struct pgo_msg *m, bool in_stream, uint8_t *seen,
                          struct stream_stats *st)
{
        struct pgo_iter it;
        struct pgo_col c;
        char num[16], note[32];

        if (in_stream && (!m->has_xid || m->xid != st->xid))
                st->xid_ok = false;
        if (m->type != PGO_INSERT) {
                if (m->type != PGO_RELATION && m->type != PGO_TYPE)
                        st->other++;
                return;
        }
        st->inserts++;
        pgo_tuple_iter(&m->ins.newtup, &it);
        if (!pgo_tuple_next(&it, &c) || c.kind != 't' || c.len == 0 || c.len >= sizeof(num)) {
                st->bad_rows++;
                return;
        }
        memcpy(num, c.data, c.len);
        num[c.len] = '\0';
        long id = strtol(num, NULL, 10);
        snprintf(note, sizeof(note), "row %ld", id);
        if (id < 1 || id > BIG_ROWS || !pgo_tuple_next(&it, &c) || c.kind != 't' ||
            c.len != strlen(note) || memcmp(c.data, note, c.len) != 0) {
                st->bad_rows++;
                return;
        }
        if (seen[id])
                st->dups++;
        seen[id] = 1;
}

/* Reads the streamed transaction up to its Stream Commit. */
static bool read_stream(struct pg_repl *r, uint8_t *seen, struct stream_stats *st)
{
        time_t deadline = deadline_in(120);
        struct zetl_err err = { 0 };
        bool in_stream = false;

        st->xid_ok = true;
        for (;;) {
                size_t len = 0;
                const uint8_t *d = next_data(r, deadline, 0, &len);
                struct pgo_msg m;

                if (!d)
                        return false;
                if (pgo_decode(d, len, in_stream, &m, &err)) {
                        printf("# %s\n", err.msg);
                        return false;
                }
                switch (m.type) {
                case PGO_STREAM_START:
                        if (in_stream || (st->starts > 0 && m.sstart.xid != st->xid))
                                st->xid_ok = false;
                        st->xid = m.sstart.xid;
                        st->firsts += m.sstart.first_segment;
                        /* only the first segment says it is the first */
                        if (m.sstart.first_segment != (st->starts == 0))
                                st->xid_ok = false;
                        st->starts++;
                        in_stream = true;
                        break;
                case PGO_STREAM_STOP:
                        if (!in_stream)
                                st->xid_ok = false;
                        st->stops++;
                        in_stream = false;
                        break;
                case PGO_STREAM_COMMIT:
                        if (in_stream || m.scommit.xid != st->xid)
                                st->xid_ok = false;
                        st->end_lsn = m.scommit.end_lsn;
                        return true;
                case PGO_BEGIN:
                case PGO_COMMIT:
                        /* the transaction was not streamed: counted as a failure */
                        st->other++;
                        if (m.type == PGO_COMMIT)
                                return true;
                        break;
                default:
                        on_stream_msg(&m, in_stream, seen, st);
                }
        }
}

static int phase_stream(const char *uri)
{
        struct pg_repl_start_opts so = { 0 };
        struct stream_stats st = { 0 };
        struct zetl_err err = { 0 };
        const char *pubs[] = { PUB };
        struct pg_repl *r = NULL;
        uint8_t *seen = calloc(BIG_ROWS + 1, 1);
        char *conninfo = keyword_form(uri, "options='-c logical_decoding_work_mem=64kB'");
        int missing = 0;
        int rc = -1;

        if (!seen || !conninfo)
                goto out;
        /* The walsender decodes with its own session's settings: set at connect. */
        rc = pg_repl_open(conninfo, &r, &err);
        check(rc == 0, "replication connection from a keyword/value string %s", why(&err));
        if (rc)
                goto out;
        so.slot = SLOT;
        so.proto_version = 2;
        so.publications = pubs;
        so.npublications = 1;
        rc = pg_repl_start(r, &so, &err);
        check(rc == 0, "START_REPLICATION proto_version '2' streaming 'on' %s", why(&err));
        if (rc)
                goto out;
        rc = -1;
        if (!sql_ok("INSERT INTO " TABLE " (id, note, mood) SELECT g, 'row ' || g, 'ok' "
                    "FROM generate_series(1, 20000) g"))
                goto out;
        if (!read_stream(r, seen, &st)) {
                check(false, "read the streamed transaction");
                goto out;
        }
        for (int i = 1; i <= BIG_ROWS; i++)
                missing += !seen[i];
        check(st.starts >= 2 && st.stops == st.starts && st.firsts == 1 && st.other == 0,
              "in-progress streaming: %d Stream Start (first segment once), %d Stream Stop, "
              "no Begin/Commit",
              st.starts, st.stops);
        check(st.xid_ok && st.xid != 0,
              "every streamed message and the Stream Commit carry xid %" PRIu32, st.xid);
        check(st.inserts == BIG_ROWS && missing == 0 && st.dups == 0 && st.bad_rows == 0,
              "%d inserts: every row 1..%d once with its text (%d missing, %d twice, %d wrong)",
              st.inserts, BIG_ROWS, missing, st.dups, st.bad_rows);
        rc = pg_repl_send_status(r, st.end_lsn, st.end_lsn, st.end_lsn, false, &err);
        check(rc == 0 && slot_confirmed(st.end_lsn),
              "confirmed_flush_lsn follows the Stream Commit's end LSN %s", why(&err));
        rc = pg_repl_end_copy(r, 10000, &err);
        check(rc == 0, "CopyDone: back to command mode %s", why(&err));
        if (rc)
                goto out;
        rc = pg_repl_drop_slot(r, SLOT, &err);
        check(rc == 0, "DROP_REPLICATION_SLOT WAIT on the same connection %s", why(&err));
        {
                char *n = sql_value(
                        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" SLOT "'");
                check(strcmp(n, "0") == 0, "the slot is gone");
                free(n);
        }
out:
        pg_repl_close(r);
        free(conninfo);
        free(seen);
        return rc;
}

/* ---- set-up and phase 1 -------------------------------------------------- */

static bool create_objects(void)
{
        return sql_ok("CREATE TYPE " ENUM_TYPE " AS ENUM ('ok', 'meh')") &&
               sql_ok("CREATE TABLE " TABLE " (id int PRIMARY KEY, note text, big text, "
                      "mood " ENUM_TYPE ")") &&
               /* no compression: the value surely goes out of line */
               sql_ok("ALTER TABLE " TABLE " ALTER COLUMN big SET STORAGE EXTERNAL") &&
               sql_ok("ALTER TABLE " TABLE " REPLICA IDENTITY DEFAULT") &&
               sql_ok("CREATE PUBLICATION " PUB_SQL " FOR TABLE " TABLE) &&
               /* in the snapshot, never in the stream */
               sql_ok("INSERT INTO " TABLE " (id, note, mood) VALUES (100, 'pre', 'ok')");
}

static void check_errors(const char *uri)
{
        struct zetl_err err = { 0 };
        struct pg_repl *r = NULL;
        char bad[1024];
        const char *at = strchr(uri, '@');
        const char *colon = strstr(uri, "://");
        int rc;

        rc = pg_repl_open("host=127.0.0.1 port='unterminated", &r, &err);
        check(rc == ZETL_EINVAL && err.cls == ZETL_ERRC_CONFIG,
              "a malformed connection string is a config error: %s", err.msg);
        /* postgresql://user:pw@... -> the same user with a wrong password */
        if (at && colon && strchr(colon + 3, ':') && strchr(colon + 3, ':') < at) {
                int user_end = (int)(strchr(colon + 3, ':') - uri);
                snprintf(bad, sizeof(bad), "%.*s:WrongSecret%s", user_end, uri, at);
                rc = pg_repl_open(bad, &r, &err);
                check(rc == ZETL_ECONN && !strstr(err.msg, "WrongSecret") && err.msg[0],
                      "a wrong password is ZETL_ECONN without the password in: %s", err.msg);
        }
        pg_repl_close(r);
}

static int phase_protocol1(const char *uri, uint32_t relid, uint32_t enum_oid)
{
        const struct rec *by_pos[sizeof(EXPECTED)] = { 0 };
        struct pg_repl_start_opts so = { 0 };
        struct zetl_err err = { 0 };
        struct pg_repl_system sys;
        struct pg_repl_slot slot;
        const char *pubs[] = { PUB };
        struct pg_repl *r = NULL;
        char q[256], *v;
        uint64_t flush;
        int rc;

        rc = pg_repl_open(uri, &r, &err);
        check(rc == 0, "replication connection from a URI %s", why(&err));
        if (rc)
                goto out;
        rc = pg_repl_identify(r, &sys, &err);
        v = sql_value("SELECT system_identifier FROM pg_control_system()");
        check(rc == 0 && strcmp(sys.systemid, v) == 0 && sys.timeline == 1 && sys.xlogpos > 0 &&
                      strcmp(sys.dbname, "zetl_test") == 0,
              "IDENTIFY_SYSTEM: system %s, timeline %" PRIu32 ", database %s %s", sys.systemid,
              sys.timeline, sys.dbname, why(&err));
        free(v);
        rc = pg_repl_create_slot(r, SLOT, false, PG_REPL_SNAPSHOT_EXPORT, &slot, &err);
        check(rc == 0 && strcmp(slot.name, SLOT) == 0 && slot.consistent_point >= sys.xlogpos &&
                      slot.snapshot_name[0],
              "CREATE_REPLICATION_SLOT (SNAPSHOT 'export'): snapshot %s %s", slot.snapshot_name,
              why(&err));
        if (rc)
                goto out;
        /* The snapshot lives until the walsender's next command: import it now. */
        snprintf(q, sizeof(q), "SET TRANSACTION SNAPSHOT '%s'", slot.snapshot_name);
        v = NULL;
        if (sql_ok("BEGIN ISOLATION LEVEL REPEATABLE READ") && sql_ok(q))
                v = sql_value("SELECT string_agg(id::text, ',') FROM " TABLE);
        sql_ok("COMMIT");
        check(v && strcmp(v, "100") == 0, "the exported snapshot holds the row written before");
        free(v);
        so.slot = SLOT;
        so.start_lsn = slot.consistent_point;
        so.proto_version = 1;
        so.publications = pubs;
        so.npublications = 1;
        so.binary = false;
        rc = pg_repl_start(r, &so, &err);
        check(rc == 0, "START_REPLICATION proto_version '1' publication_names '%s' %s", PUB,
              why(&err));
        if (rc)
                goto out;
        rc = -1;
        if (!run_workload()) {
                check(false, "workload");
                goto out;
        }
        if (!read_workload(r)) {
                check(false, "read the workload's six transactions");
                goto out;
        }
        check_sequence(relid, enum_oid, by_pos);
        if (failures)
                goto out;
        check_transactions(by_pos);
        check_changes(by_pos, relid);
        flush = by_pos[sizeof(EXPECTED) - 2]->m.commit.end_lsn;
        rc = pg_repl_send_status(r, flush, flush, flush, false, &err);
        check(rc == 0 && slot_confirmed(flush),
              "standby status update: confirmed_flush_lsn "
              "reaches the last commit's end %s",
              why(&err));
out:
        pg_repl_close(r);
        for (int i = 0; i < nrecs; i++)
                free(recs[i].p);
        nrecs = 0;
        return failures ? -1 : rc;
}

int main(void)
{
        const char *uri = getenv("ZETL_TEST_PG_URI");
        uint32_t relid, enum_oid;

        if (!uri || !*uri) {
                printf("skip: ZETL_TEST_PG_URI is not set (run through scripts/run-tests.sh)\n");
                return 77;
        }
        sql = PQconnectdb(uri);
        if (PQstatus(sql) != CONNECTION_OK) {
                printf("cannot connect to ZETL_TEST_PG_URI: %s", PQerrorMessage(sql));
                PQfinish(sql);
                return 1;
        }
        /* The cleanup's IF EXISTS notices are noise in the test log. */
        sql_ok("SET client_min_messages = warning");
        make_big();
        cleanup(uri);
        check_errors(uri);
        if (!create_objects()) {
                check(false, "create the type, table and publication");
                goto out;
        }
        relid = sql_oid("SELECT '" TABLE "'::regclass::oid");
        enum_oid = sql_oid("SELECT '" ENUM_TYPE "'::regtype::oid");
        if (phase_protocol1(uri, relid, enum_oid) == 0)
                phase_stream(uri);
out:
        cleanup(uri);
        PQfinish(sql);
        printf("%d checks, %d failed\n", checks, failures);
        return failures ? 1 : 0;
}
