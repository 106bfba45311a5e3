/*
 * The pgoutput decoder (connectors/postgres/pgoutput.c) against golden
 * messages written from PostgreSQL's "Logical Replication Message Formats"
 * (protocol 1, and protocol 2's stream messages and in-stream xids): some as
 * literal bytes, the rest with a tiny big-endian writer that follows the
 * documented field order. Then every truncation of every golden message, and
 * hand-broken ones: each must be ZETL_EPROTO, never a read past the end (the
 * truncated copies live in exactly-sized heap blocks, so ASan sees any).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../connectors/postgres/pgoutput.h"

/* ---- a big-endian writer that follows the documented layouts ------------- */

struct wbuf {
        uint8_t b[8192];
        size_t n;
};

static void w8(struct wbuf *w, uint8_t v)
{
        assert_true(w->n < sizeof(w->b));
        w->b[w->n++] = v;
}

static void w16(struct wbuf *w, uint16_t v)
{
        w8(w, (uint8_t)(v >> 8));
        w8(w, (uint8_t)v);
}

static void w32(struct wbuf *w, uint32_t v)
{
        w16(w, (uint16_t)(v >> 16));
        w16(w, (uint16_t)v);
}

static void w64(struct wbuf *w, uint64_t v)
{
        w32(w, (uint32_t)(v >> 32));
        w32(w, (uint32_t)v);
}

static void wbytes(struct wbuf *w, const void *p, size_t n)
{
        assert_true(w->n + n <= sizeof(w->b));
        memcpy(w->b + w->n, p, n);
        w->n += n;
}

/* String: NUL-terminated. */
static void wstr(struct wbuf *w, const char *s)
{
        wbytes(w, s, strlen(s) + 1);
}

/* TupleData column: 't' or 'b' with Int32 length, or 'n' / 'u' alone. */
static void wcol(struct wbuf *w, char kind, const void *data, uint32_t len)
{
        w8(w, (uint8_t)kind);
        if (kind == 't' || kind == 'b') {
                w32(w, len);
                wbytes(w, data, len);
        }
}

/* Message type byte, then the streamed xid when the message is in a stream. */
static void whead(struct wbuf *w, char type, bool stream, uint32_t xid)
{
        w->n = 0;
        w8(w, (uint8_t)type);
        if (stream)
                w32(w, xid);
}

static const uint32_t STREAM_XID = 0x0001E240; /* 123456 */
static const uint8_t BIN_VAL[] = { 0x00, 0x00, 0x01, 0x00, 0xff };

static void build_relation(struct wbuf *w, bool stream)
{
        whead(w, 'R', stream, STREAM_XID);
        w32(w, 16385);
        wstr(w, "public");
        wstr(w, "orders");
        w8(w, 'd');
        w16(w, 3);
        w8(w, 1); /* key */
        wstr(w, "id");
        w32(w, 20); /* int8 */
        w32(w, 0xFFFFFFFF);
        w8(w, 0);
        wstr(w, "note");
        w32(w, 1043); /* varchar(64): typmod 64 + 4 */
        w32(w, 68);
        w8(w, 0);
        wstr(w, "big");
        w32(w, 25);
        w32(w, 0xFFFFFFFF);
}

static void build_type(struct wbuf *w, bool stream)
{
        whead(w, 'Y', stream, STREAM_XID);
        w32(w, 16390);
        wstr(w, "public");
        wstr(w, "mood");
}

/* The four kinds in one tuple: n, u, t, b (with a NUL inside the value). */
static void wtuple4(struct wbuf *w)
{
        w16(w, 4);
        wcol(w, 'n', NULL, 0);
        wcol(w, 'u', NULL, 0);
        wcol(w, 't', "42", 2);
        wcol(w, 'b', BIN_VAL, sizeof(BIN_VAL));
}

static void build_insert(struct wbuf *w, bool stream)
{
        whead(w, 'I', stream, STREAM_XID);
        w32(w, 16385);
        w8(w, 'N');
        wtuple4(w);
}

static void build_update(struct wbuf *w, bool stream, char old)
{
        whead(w, 'U', stream, STREAM_XID);
        w32(w, 16385);
        if (old) {
                w8(w, (uint8_t)old);
                w16(w, 3);
                wcol(w, 't', "7", 1);
                wcol(w, 'n', NULL, 0);
                wcol(w, 'n', NULL, 0);
        }
        w8(w, 'N');
        w16(w, 3);
        wcol(w, 't', "8", 1);
        wcol(w, 't', "", 0);
        wcol(w, 'u', NULL, 0);
}

static void build_delete(struct wbuf *w, bool stream, char old)
{
        whead(w, 'D', stream, STREAM_XID);
        w32(w, 16385);
        w8(w, (uint8_t)old);
        w16(w, 3);
        wcol(w, 't', "7", 1);
        wcol(w, old == 'O' ? 't' : 'n', "x", old == 'O' ? 1 : 0);
        wcol(w, 'n', NULL, 0);
}

static void build_truncate(struct wbuf *w, bool stream)
{
        whead(w, 'T', stream, STREAM_XID);
        w32(w, 2);
        w8(w, PGO_TRUNCATE_CASCADE | PGO_TRUNCATE_RESTART_IDENTITY);
        w32(w, 16385);
        w32(w, 0x80000001); /* oids are unsigned */
}

static const uint8_t MSG_CONTENT[] = { 'h', 'i', 0, '!' };

static void build_message(struct wbuf *w, bool stream)
{
        whead(w, 'M', stream, STREAM_XID);
        w8(w, PGO_MESSAGE_TRANSACTIONAL);
        w64(w, 0x16B3748);
        wstr(w, "zetl");
        w32(w, sizeof(MSG_CONTENT));
        wbytes(w, MSG_CONTENT, sizeof(MSG_CONTENT));
}

static void build_origin(struct wbuf *w)
{
        whead(w, 'O', false, 0);
        w64(w, 0x0000000200000010);
        wstr(w, "pg_16400");
}

/* Literal bytes, straight from the format tables. */
static const uint8_t BEGIN_MSG[] = {
        'B',  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x20, /* final LSN 1/20 */
        0x00, 0x02, 0xB5, 0x5D, 0x4B, 0x7E, 0x10, 0x00,       /* commit ts */
        0x00, 0x00, 0x02, 0xF1,                               /* xid 753 */
};

static const uint8_t COMMIT_MSG[] = {
        'C',  0x00,                                     /* flags */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x20, /* commit LSN 1/20 */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x50, /* end LSN 1/50 */
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, /* ts -2: before 2000 */
};

static const uint8_t STREAM_START_MSG[] = { 'S', 0x00, 0x01, 0xE2, 0x40, 0x01 };
static const uint8_t STREAM_START2_MSG[] = { 'S', 0x00, 0x01, 0xE2, 0x40, 0x00 };
static const uint8_t STREAM_STOP_MSG[] = { 'E' };

static const uint8_t STREAM_COMMIT_MSG[] = {
        'c',  0x00, 0x01, 0xE2, 0x40,                   /* xid 123456 */
        0x00,                                           /* flags */
        0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, /* commit LSN 0/3000000 */
        0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x38, /* end LSN 0/3000038 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8, /* ts 1000 µs */
};

static const uint8_t STREAM_ABORT_MSG[] = {
        'A', 0x00, 0x01, 0xE2, 0x40, 0x00, 0x01, 0xE2, 0x41, /* xid, subxid */
};

/* ---- helpers ------------------------------------------------------------- */

static int decode(const uint8_t *p, size_t n, bool stream, struct pgo_msg *m, struct zetl_err *err)
{
        memset(err, 0, sizeof(*err));
        return pgo_decode(p, n, stream, m, err);
}

static void decode_ok(const uint8_t *p, size_t n, bool stream, struct pgo_msg *m)
{
        struct zetl_err err;
        int rc = decode(p, n, stream, m, &err);

        if (rc != 0)
                fail_msg("decode failed: %s", err.msg);
}

/* Decoding must fail with EPROTO and a message containing want (if given). */
static void decode_bad(const uint8_t *p, size_t n, bool stream, const char *want)
{
        struct zetl_err err;
        struct pgo_msg m;
        uint8_t *copy = malloc(n ? n : 1);

        assert_non_null(copy);
        memcpy(copy, p, n);
        assert_int_equal(decode(copy, n, stream, &m, &err), ZETL_EPROTO);
        assert_int_equal(err.code, ZETL_EPROTO);
        assert_int_equal(err.cls, ZETL_ERRC_FATAL);
        assert_true(err.msg[0] != '\0');
        if (want && !strstr(err.msg, want))
                fail_msg("error \"%s\" does not mention \"%s\"", err.msg, want);
        free(copy);
}

static void assert_col(struct pgo_iter *it, char kind, const void *data, uint32_t len)
{
        struct pgo_col c;

        assert_true(pgo_tuple_next(it, &c));
        assert_int_equal(c.kind, kind);
        assert_int_equal(c.len, len);
        if (kind == 't' || kind == 'b') {
                assert_non_null(c.data);
                if (len)
                        assert_memory_equal(c.data, data, len);
        } else {
                assert_null(c.data);
        }
}

/* ---- one test per message type ------------------------------------------- */

static void test_begin(void **state)
{
        struct pgo_msg m;

        (void)state;
        decode_ok(BEGIN_MSG, sizeof(BEGIN_MSG), false, &m);
        assert_int_equal(m.type, PGO_BEGIN);
        assert_false(m.has_xid);
        assert_true(m.begin.final_lsn == 0x0000000100000020ULL);
        assert_true(m.begin.commit_ts == 0x0002B55D4B7E1000LL);
        assert_int_equal(m.begin.xid, 753);
        /* Begin never carries a stream xid: streaming_xid is ignored for it. */
        decode_ok(BEGIN_MSG, sizeof(BEGIN_MSG), true, &m);
        assert_false(m.has_xid);
        assert_int_equal(m.begin.xid, 753);
}

static void test_commit(void **state)
{
        struct pgo_msg m;

        (void)state;
        decode_ok(COMMIT_MSG, sizeof(COMMIT_MSG), false, &m);
        assert_int_equal(m.type, PGO_COMMIT);
        assert_int_equal(m.commit.flags, 0);
        assert_true(m.commit.commit_lsn == 0x0000000100000020ULL);
        assert_true(m.commit.end_lsn == 0x0000000100000050ULL);
        assert_true(m.commit.commit_ts == -2);
}

static void test_origin(void **state)
{
        struct wbuf w = { 0 };
        struct pgo_msg m;

        (void)state;
        build_origin(&w);
        decode_ok(w.b, w.n, false, &m);
        assert_int_equal(m.type, PGO_ORIGIN);
        assert_true(m.origin.lsn == 0x0000000200000010ULL);
        assert_string_equal(m.origin.name, "pg_16400");
        /* zero-copy: the name points into the message */
        assert_ptr_equal(m.origin.name, (const char *)w.b + 9);
}

static void check_relation(const struct pgo_msg *m)
{
        struct pgo_relcol c;
        struct pgo_iter it;

        assert_int_equal(m->type, PGO_RELATION);
        assert_int_equal(m->rel.relid, 16385);
        assert_string_equal(m->rel.nspname, "public");
        assert_string_equal(m->rel.relname, "orders");
        assert_int_equal(m->rel.replident, 'd');
        assert_int_equal(m->rel.ncols, 3);
        pgo_relation_iter(&m->rel, &it);
        assert_true(pgo_relation_next(&it, &c));
        assert_int_equal(c.flags & PGO_COL_KEY, PGO_COL_KEY);
        assert_string_equal(c.name, "id");
        assert_int_equal(c.type_oid, 20);
        assert_int_equal(c.typmod, -1);
        assert_true(pgo_relation_next(&it, &c));
        assert_int_equal(c.flags & PGO_COL_KEY, 0);
        assert_string_equal(c.name, "note");
        assert_int_equal(c.type_oid, 1043);
        assert_int_equal(c.typmod, 68);
        assert_true(pgo_relation_next(&it, &c));
        assert_int_equal(c.flags, 0);
        assert_string_equal(c.name, "big");
        assert_int_equal(c.type_oid, 25);
        assert_int_equal(c.typmod, -1);
        assert_false(pgo_relation_next(&it, &c));
}

static void test_relation(void **state)
{
        struct wbuf w = { 0 };
        struct pgo_msg m;

        (void)state;
        build_relation(&w, false);
        decode_ok(w.b, w.n, false, &m);
        assert_false(m.has_xid);
        check_relation(&m);
}

static void test_relation_stream(void **state)
{
        struct wbuf w = { 0 };
        struct pgo_msg m;

        (void)state;
        build_relation(&w, true);
        decode_ok(w.b, w.n, true, &m);
        assert_true(m.has_xid);
        assert_int_equal(m.xid, STREAM_XID);
        check_relation(&m);
}

static void test_relation_catalog_no_columns(void **state)
{
        struct wbuf w = { 0 };
        struct pgo_relcol c;
        struct pgo_iter it;
        struct pgo_msg m;

        (void)state;
        /* pg_catalog is sent as an empty namespace; REPLICA IDENTITY NOTHING. */
        whead(&w, 'R', false, 0);
        w32(&w, 1259);
        wstr(&w, "");
        wstr(&w, "t");
        w8(&w, 'n');
        w16(&w, 0);
        decode_ok(w.b, w.n, false, &m);
        assert_string_equal(m.rel.nspname, "");
        assert_int_equal(m.rel.replident, 'n');
        assert_int_equal(m.rel.ncols, 0);
        pgo_relation_iter(&m.rel, &it);
        assert_false(pgo_relation_next(&it, &c));
}

static void test_type(void **state)
{
        struct wbuf w = { 0 };
        struct pgo_msg m;

        (void)state;
        build_type(&w, false);
        decode_ok(w.b, w.n, false, &m);
        assert_int_equal(m.type, PGO_TYPE);
        assert_int_equal(m.typ.oid, 16390);
        assert_string_equal(m.typ.nspname, "public");
        assert_string_equal(m.typ.name, "mood");
        build_type(&w, true);
        decode_ok(w.b, w.n, true, &m);
        assert_true(m.has_xid);
        assert_int_equal(m.xid, STREAM_XID);
        assert_int_equal(m.typ.oid, 16390);
        assert_string_equal(m.typ.name, "mood");
}

static void check_tuple4(const struct pgo_tuple *t, const uint8_t *msg, size_t msg_len)
{
        struct pgo_iter it;
        struct pgo_col c;

        assert_int_equal(t->ncols, 4);
        pgo_tuple_iter(t, &it);
        assert_col(&it, 'n', NULL, 0);
        assert_col(&it, 'u', NULL, 0);
        assert_col(&it, 't', "42", 2);
        assert_col(&it, 'b', BIN_VAL, sizeof(BIN_VAL));
        assert_false(pgo_tuple_next(&it, &c));
        /* zero-copy: the tuple lies inside the message, up to its end */
        assert_true(t->cols > msg && t->cols + t->len == msg + msg_len);
}

static void test_insert(void **state)
{
        struct wbuf w = { 0 };
        struct pgo_msg m;

        (void)state;
        build_insert(&w, false);
        /* the documented layout, byte for byte */
        static const uint8_t want[] = { 'I', 0,   0, 0x40, 0x01, 'N',  0,    4,    'n',
                                        'u', 't', 0, 0,    0,    2,    '4',  '2',  'b',
                                        0,   0,   0, 5,    0x00, 0x00, 0x01, 0x00, 0xff };
        assert_int_equal(w.n, sizeof(want));
        assert_memory_equal(w.b, want, sizeof(want));
        decode_ok(want, sizeof(want), false, &m);
        assert_int_equal(m.type, PGO_INSERT);
        assert_int_equal(m.ins.relid, 16385);
        check_tuple4(&m.ins.newtup, want, sizeof(want));
}

static void test_insert_stream(void **state)
{
        struct wbuf w = { 0 };
        struct pgo_msg m;

        (void)state;
        build_insert(&w, true);
        decode_ok(w.b, w.n, true, &m);
        assert_true(m.has_xid);
        assert_int_equal(m.xid, STREAM_XID);
        assert_int_equal(m.ins.relid, 16385);
        check_tuple4(&m.ins.newtup, w.b, w.n);
}

static void check_new3(const struct pgo_tuple *t)
{
        struct pgo_iter it;
        struct pgo_col c;

        assert_int_equal(t->ncols, 3);
        pgo_tuple_iter(t, &it);
        assert_col(&it, 't', "8", 1);
        assert_col(&it, 't', "", 0); /* empty text is not NULL */
        assert_col(&it, 'u', NULL, 0);
        assert_false(pgo_tuple_next(&it, &c));
}

static void test_update(void **state)
{
        struct wbuf w = { 0 };
        struct pgo_iter it;
        struct pgo_col c;
        struct pgo_msg m;

        (void)state;
        /* key unchanged under REPLICA IDENTITY DEFAULT: no old tuple */
        build_update(&w, false, 0);
        decode_ok(w.b, w.n, false, &m);
        assert_int_equal(m.type, PGO_UPDATE);
        assert_int_equal(m.upd.relid, 16385);
        assert_int_equal(m.upd.old_kind, 0);
        assert_int_equal(m.upd.oldtup.ncols, 0);
        check_new3(&m.upd.newtup);

        /* key changed: 'K' carries the old key, other columns null */
        for (int i = 0; i < 2; i++) {
                char kind = i == 0 ? 'K' : 'O';

                build_update(&w, false, kind);
                decode_ok(w.b, w.n, false, &m);
                assert_int_equal(m.upd.old_kind, kind);
                assert_int_equal(m.upd.oldtup.ncols, 3);
                pgo_tuple_iter(&m.upd.oldtup, &it);
                assert_col(&it, 't', "7", 1);
                assert_col(&it, 'n', NULL, 0);
                assert_col(&it, 'n', NULL, 0);
                assert_false(pgo_tuple_next(&it, &c));
                check_new3(&m.upd.newtup);
        }

        build_update(&w, true, 'K');
        decode_ok(w.b, w.n, true, &m);
        assert_true(m.has_xid);
        assert_int_equal(m.xid, STREAM_XID);
        assert_int_equal(m.upd.old_kind, 'K');
        check_new3(&m.upd.newtup);
}

static void test_delete(void **state)
{
        struct wbuf w = { 0 };
        struct pgo_iter it;
        struct pgo_col c;
        struct pgo_msg m;

        (void)state;
        build_delete(&w, false, 'K');
        decode_ok(w.b, w.n, false, &m);
        assert_int_equal(m.type, PGO_DELETE);
        assert_int_equal(m.del.relid, 16385);
        assert_int_equal(m.del.old_kind, 'K');
        pgo_tuple_iter(&m.del.oldtup, &it);
        assert_col(&it, 't', "7", 1);
        assert_col(&it, 'n', NULL, 0);
        assert_col(&it, 'n', NULL, 0);
        assert_false(pgo_tuple_next(&it, &c));

        build_delete(&w, true, 'O');
        decode_ok(w.b, w.n, true, &m);
        assert_int_equal(m.xid, STREAM_XID);
        assert_int_equal(m.del.old_kind, 'O');
        pgo_tuple_iter(&m.del.oldtup, &it);
        assert_col(&it, 't', "7", 1);
        assert_col(&it, 't', "x", 1);
        assert_col(&it, 'n', NULL, 0);
}

static void test_truncate(void **state)
{
        struct wbuf w = { 0 };
        struct pgo_msg m;

        (void)state;
        for (int stream = 0; stream < 2; stream++) {
                build_truncate(&w, stream);
                decode_ok(w.b, w.n, stream, &m);
                assert_int_equal(m.type, PGO_TRUNCATE);
                assert_int_equal(m.has_xid, stream);
                if (stream)
                        assert_int_equal(m.xid, STREAM_XID);
                assert_int_equal(m.trunc.nrels, 2);
                assert_int_equal(m.trunc.options, 3);
                assert_int_equal(pgo_truncate_relid(&m.trunc, 0), 16385);
                assert_int_equal(pgo_truncate_relid(&m.trunc, 1), 0x80000001u);
        }
}

static void test_message(void **state)
{
        struct wbuf w = { 0 };
        struct pgo_msg m;

        (void)state;
        for (int stream = 0; stream < 2; stream++) {
                build_message(&w, stream);
                decode_ok(w.b, w.n, stream, &m);
                assert_int_equal(m.type, PGO_MESSAGE);
                assert_int_equal(m.has_xid, stream);
                assert_int_equal(m.msg.flags, PGO_MESSAGE_TRANSACTIONAL);
                assert_true(m.msg.lsn == 0x16B3748);
                assert_string_equal(m.msg.prefix, "zetl");
                assert_int_equal(m.msg.content_len, sizeof(MSG_CONTENT));
                assert_memory_equal(m.msg.content, MSG_CONTENT, sizeof(MSG_CONTENT));
                assert_ptr_equal(m.msg.content + m.msg.content_len, w.b + w.n);
        }
}

static void test_stream_messages(void **state)
{
        struct pgo_msg m;

        (void)state;
        decode_ok(STREAM_START_MSG, sizeof(STREAM_START_MSG), false, &m);
        assert_int_equal(m.type, PGO_STREAM_START);
        assert_int_equal(m.sstart.xid, 123456);
        assert_true(m.sstart.first_segment);
        decode_ok(STREAM_START2_MSG, sizeof(STREAM_START2_MSG), false, &m);
        assert_false(m.sstart.first_segment);

        decode_ok(STREAM_STOP_MSG, sizeof(STREAM_STOP_MSG), true, &m);
        assert_int_equal(m.type, PGO_STREAM_STOP);
        assert_false(m.has_xid);

        decode_ok(STREAM_COMMIT_MSG, sizeof(STREAM_COMMIT_MSG), false, &m);
        assert_int_equal(m.type, PGO_STREAM_COMMIT);
        assert_int_equal(m.scommit.xid, 123456);
        assert_int_equal(m.scommit.flags, 0);
        assert_true(m.scommit.commit_lsn == 0x3000000);
        assert_true(m.scommit.end_lsn == 0x3000038);
        assert_true(m.scommit.commit_ts == 1000);

        decode_ok(STREAM_ABORT_MSG, sizeof(STREAM_ABORT_MSG), true, &m);
        assert_int_equal(m.type, PGO_STREAM_ABORT);
        assert_false(m.has_xid);
        assert_int_equal(m.sabort.xid, 123456);
        assert_int_equal(m.sabort.subxid, 123457);
}

/* ---- every truncation of every golden message ---------------------------- */

struct golden {
        const char *name; /* as pgo_type_name() says it, for the error message */
        struct wbuf w;
        bool stream;
};

static void add_lit(struct golden *g, size_t *n, const char *name, const uint8_t *p, size_t len,
                    bool stream)
{
        g[*n].name = name;
        g[*n].stream = stream;
        g[*n].w.n = 0;
        wbytes(&g[*n].w, p, len);
        (*n)++;
}

static size_t build_goldens(struct golden *g)
{
        size_t n = 0;

        add_lit(g, &n, "Begin", BEGIN_MSG, sizeof(BEGIN_MSG), false);
        add_lit(g, &n, "Commit", COMMIT_MSG, sizeof(COMMIT_MSG), false);
        add_lit(g, &n, "Stream Start", STREAM_START_MSG, sizeof(STREAM_START_MSG), false);
        add_lit(g, &n, "Stream Commit", STREAM_COMMIT_MSG, sizeof(STREAM_COMMIT_MSG), false);
        add_lit(g, &n, "Stream Abort", STREAM_ABORT_MSG, sizeof(STREAM_ABORT_MSG), false);
        add_lit(g, &n, "Stream Stop", STREAM_STOP_MSG, sizeof(STREAM_STOP_MSG), false);
        build_origin(&g[n].w);
        g[n++].name = "Origin";
        for (int stream = 0; stream < 2; stream++) {
                g[n].stream = stream;
                g[n].name = "Relation";
                build_relation(&g[n++].w, stream);
                g[n].stream = stream;
                g[n].name = "Type";
                build_type(&g[n++].w, stream);
                g[n].stream = stream;
                g[n].name = "Insert";
                build_insert(&g[n++].w, stream);
                for (int k = 0; k < 3; k++) {
                        g[n].stream = stream;
                        g[n].name = "Update";
                        build_update(&g[n++].w, stream, "\0KO"[k]);
                }
                g[n].stream = stream;
                g[n].name = "Delete";
                build_delete(&g[n++].w, stream, 'K');
                g[n].stream = stream;
                g[n].name = "Delete";
                build_delete(&g[n++].w, stream, 'O');
                g[n].stream = stream;
                g[n].name = "Truncate";
                build_truncate(&g[n++].w, stream);
                g[n].stream = stream;
                g[n].name = "Message";
                build_message(&g[n++].w, stream);
        }
        return n;
}

static void test_every_truncation(void **state)
{
        static struct golden g[40];
        size_t n = build_goldens(g);

        (void)state;
        for (size_t i = 0; i < n; i++) {
                struct pgo_msg m;
                struct zetl_err err;
                uint8_t *full = malloc(g[i].w.n);

                assert_non_null(full);
                memcpy(full, g[i].w.b, g[i].w.n);
                if (decode(full, g[i].w.n, g[i].stream, &m, &err) != 0)
                        fail_msg("golden %s %zu: %s", g[i].name, i, err.msg);
                free(full);
                /* Length 0 is an empty message; the rest must name the type. */
                decode_bad(g[i].w.b, 0, g[i].stream, "empty");
                for (size_t len = 1; len < g[i].w.n; len++)
                        decode_bad(g[i].w.b, len, g[i].stream, g[i].name);
                /* One byte too many is just as wrong. */
                g[i].w.b[g[i].w.n++] = 0;
                decode_bad(g[i].w.b, g[i].w.n, g[i].stream, "unexpected bytes");
        }
}

/* ---- hand-broken messages ------------------------------------------------ */

static void test_bad_kind_and_markers(void **state)
{
        struct wbuf w = { 0 };

        (void)state;
        build_insert(&w, false);
        w.b[10] = 'x'; /* the third column's 't' */
        decode_bad(w.b, w.n, false, "unknown kind byte 0x78");
        build_insert(&w, false);
        w.b[5] = 'K'; /* an insert has only a new tuple */
        decode_bad(w.b, w.n, false, "tuple marker");
        build_delete(&w, false, 'N'); /* a delete has no new tuple */
        decode_bad(w.b, w.n, false, "tuple marker");
        build_update(&w, false, 'K');
        w.b[16] = 'K'; /* after the old key (8: 't' len "7", 14: 'n' 'n') comes 'N' only */
        decode_bad(w.b, w.n, false, "tuple marker");
        whead(&w, 'Z', false, 0);
        w32(&w, 0);
        decode_bad(w.b, w.n, false, "unknown message type 0x5a");
        whead(&w, 0, false, 0);
        decode_bad(w.b, w.n, false, "unknown message type 0x00");
}

static void test_bad_lengths(void **state)
{
        struct wbuf w = { 0 };

        (void)state;
        /* a text column of length -1 */
        whead(&w, 'I', false, 0);
        w32(&w, 1);
        w8(&w, 'N');
        w16(&w, 1);
        w8(&w, 't');
        w32(&w, 0xFFFFFFFF);
        decode_bad(w.b, w.n, false, "negative length -1");
        /* a binary column claiming 2^31-1 bytes */
        w.n -= 5;
        w8(&w, 'b');
        w32(&w, 0x7FFFFFFF);
        wbytes(&w, "abc", 3);
        decode_bad(w.b, w.n, false, "exceeds");
        /* a message content of length INT32_MIN */
        build_message(&w, false);
        w.n -= sizeof(MSG_CONTENT) + 4;
        w32(&w, 0x80000000);
        wbytes(&w, MSG_CONTENT, sizeof(MSG_CONTENT));
        decode_bad(w.b, w.n, false, "negative content length");
        /* a negative relation count in a truncate */
        whead(&w, 'T', false, 0);
        w32(&w, 0xFFFFFFFE);
        w8(&w, 0);
        decode_bad(w.b, w.n, false, "negative relation count");
        /* more relations than bytes */
        whead(&w, 'T', false, 0);
        w32(&w, 0x40000001); /* ×4 wraps to 4 in 32 bits */
        w8(&w, 0);
        w32(&w, 1);
        decode_bad(w.b, w.n, false, "do not fit");
        /* an unterminated string runs to the end, not past it */
        whead(&w, 'O', false, 0);
        w64(&w, 1);
        wbytes(&w, "name", 4);
        decode_bad(w.b, w.n, false, "NUL");
        /* replica identity and first-segment flag outside their values */
        build_relation(&w, false);
        w.b[1 + 4 + 7 + 7] = 'x';
        decode_bad(w.b, w.n, false, "replica identity");
        {
                uint8_t s[sizeof(STREAM_START_MSG)];

                memcpy(s, STREAM_START_MSG, sizeof(s));
                s[5] = 2;
                decode_bad(s, sizeof(s), false, "first-segment");
        }
}

static void test_column_limits(void **state)
{
        static struct wbuf w;
        struct pgo_iter it;
        struct pgo_col c;
        struct pgo_msg m;
        unsigned seen = 0;

        (void)state;
        /* PostgreSQL's maximum is accepted... */
        whead(&w, 'I', false, 0);
        w32(&w, 1);
        w8(&w, 'N');
        w16(&w, PGO_MAX_COLS);
        for (int i = 0; i < PGO_MAX_COLS; i++)
                wcol(&w, i % 2 ? 'n' : 't', "v", 1);
        decode_ok(w.b, w.n, false, &m);
        pgo_tuple_iter(&m.ins.newtup, &it);
        while (pgo_tuple_next(&it, &c))
                seen++;
        assert_int_equal(seen, PGO_MAX_COLS);
        /* ...one more is not, even when the bytes are there */
        w.b[6] = (PGO_MAX_COLS + 1) >> 8;
        w.b[7] = (PGO_MAX_COLS + 1) & 0xff;
        wcol(&w, 'n', NULL, 0);
        decode_bad(w.b, w.n, false, "exceeds");
        /* a negative column count */
        w.b[6] = 0x80;
        w.b[7] = 0x00;
        decode_bad(w.b, w.n, false, "negative");
        /* the same ceiling for a relation */
        whead(&w, 'R', false, 0);
        w32(&w, 1);
        wstr(&w, "s");
        wstr(&w, "t");
        w8(&w, 'f');
        w16(&w, PGO_MAX_COLS + 1);
        decode_bad(w.b, w.n, false, "exceeds");
        /* a relation column count larger than its columns */
        whead(&w, 'R', false, 0);
        w32(&w, 1);
        wstr(&w, "s");
        wstr(&w, "t");
        w8(&w, 'f');
        w16(&w, 2);
        w8(&w, 0);
        wstr(&w, "a");
        w32(&w, 23);
        w32(&w, 0xFFFFFFFF);
        decode_bad(w.b, w.n, false, "column 2");
}

/* The iterators stop at the end of a hand-made (not decoded) tuple. */
static void test_iterators_are_bounded(void **state)
{
        static const uint8_t cols[] = { 't', 0, 0, 0, 9, 'a' };
        struct pgo_tuple t = { .ncols = 3, .cols = cols, .len = sizeof(cols) };
        struct pgo_relation rel = { .ncols = 2, .cols = cols, .cols_len = sizeof(cols) };
        struct pgo_tuple empty = { 0 };
        struct pgo_relcol rc;
        struct pgo_iter it;
        struct pgo_col c;

        (void)state;
        pgo_tuple_iter(&t, &it);
        assert_false(pgo_tuple_next(&it, &c));
        pgo_tuple_iter(&empty, &it);
        assert_false(pgo_tuple_next(&it, &c));
        pgo_relation_iter(&rel, &it);
        assert_false(pgo_relation_next(&it, &rc));
}

static void test_type_names(void **state)
{
        (void)state;
        assert_string_equal(pgo_type_name('I'), "Insert");
        assert_string_equal(pgo_type_name('c'), "Stream Commit");
        assert_string_equal(pgo_type_name('E'), "Stream Stop");
        assert_string_equal(pgo_type_name('Y'), "Type");
        assert_string_equal(pgo_type_name('?'), "unknown");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_begin),
                cmocka_unit_test(test_commit),
                cmocka_unit_test(test_origin),
                cmocka_unit_test(test_relation),
                cmocka_unit_test(test_relation_stream),
                cmocka_unit_test(test_relation_catalog_no_columns),
                cmocka_unit_test(test_type),
                cmocka_unit_test(test_insert),
                cmocka_unit_test(test_insert_stream),
                cmocka_unit_test(test_update),
                cmocka_unit_test(test_delete),
                cmocka_unit_test(test_truncate),
                cmocka_unit_test(test_message),
                cmocka_unit_test(test_stream_messages),
                cmocka_unit_test(test_every_truncation),
                cmocka_unit_test(test_bad_kind_and_markers),
                cmocka_unit_test(test_bad_lengths),
                cmocka_unit_test(test_column_limits),
                cmocka_unit_test(test_iterators_are_bounded),
                cmocka_unit_test(test_type_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
