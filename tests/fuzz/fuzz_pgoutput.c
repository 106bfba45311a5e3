/*
 * libFuzzer target for the pgoutput decoder (connectors/postgres/pgoutput.h):
 * the input is one message payload, decoded as if outside a stream and as if
 * inside one. A decoded message is then walked completely (every tuple and
 * relation column, every truncated relation, every string it points to), and
 * the promises of pgoutput.h are checked: a refusal is ZETL_EPROTO, fatal,
 * with a message; an accepted message has iterators that yield exactly its
 * column count and end on its last byte, and every pointer stays inside the
 * input (libFuzzer hands the input in an exactly-sized heap block, so ASan
 * sees any read past it).
 *
 * Seeds: ZETL_FUZZ_WRITE_SEEDS=<dir> makes the binary write the golden
 * messages of tests/unit/test_pgoutput.c (rebuilt here from the protocol
 * documentation's field order) into <dir> and exit; that is how
 * tests/fuzz/corpus/fuzz_pgoutput was made.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "../../connectors/postgres/pgoutput.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Pointer p with n bytes lies inside [lo, hi). */
static bool inside(const void *p, size_t n, const uint8_t *lo, const uint8_t *hi)
{
        const uint8_t *q = p;

        return q >= lo && q <= hi && n <= (size_t)(hi - q);
}

/* A string the message points to: NUL-terminated inside the input. */
static void check_str(const char *s, const uint8_t *lo, const uint8_t *hi)
{
        CHECK(s != NULL);
        CHECK(inside(s, strlen(s) + 1, lo, hi));
}

static void walk_tuple(const struct pgo_tuple *t, const uint8_t *lo, const uint8_t *hi)
{
        struct pgo_iter it;
        struct pgo_col c;
        uint32_t n = 0;
        volatile uint8_t sink = 0;

        CHECK(t->ncols <= PGO_MAX_COLS);
        CHECK(inside(t->cols, t->len, lo, hi));
        pgo_tuple_iter(t, &it);
        while (pgo_tuple_next(&it, &c)) {
                n++;
                switch (c.kind) {
                case PGO_KIND_NULL:
                case PGO_KIND_UNCHANGED:
                        CHECK(c.len == 0 && c.data == NULL);
                        break;
                case PGO_KIND_TEXT:
                case PGO_KIND_BINARY:
                        CHECK(c.data != NULL);
                        CHECK(inside(c.data, c.len, t->cols, t->cols + t->len));
                        for (uint32_t i = 0; i < c.len; i++)
                                sink ^= c.data[i];
                        break;
                default:
                        CHECK(!"unknown column kind accepted");
                }
        }
        (void)sink;
        /* pgo_decode checked the tuple: the walk takes every column and every byte. */
        CHECK(n == t->ncols);
        CHECK(it.p == t->cols + t->len);
}

static void walk_relation(const struct pgo_relation *r, const uint8_t *lo, const uint8_t *hi)
{
        struct pgo_iter it;
        struct pgo_relcol c;
        uint32_t n = 0;

        check_str(r->nspname, lo, hi);
        check_str(r->relname, lo, hi);
        CHECK(r->ncols <= PGO_MAX_COLS);
        CHECK(inside(r->cols, r->cols_len, lo, hi));
        pgo_relation_iter(r, &it);
        while (pgo_relation_next(&it, &c)) {
                n++;
                check_str(c.name, r->cols, r->cols + r->cols_len);
        }
        CHECK(n == r->ncols);
        CHECK(it.p == r->cols + r->cols_len);
}

static void walk(const struct pgo_msg *m, const uint8_t *lo, const uint8_t *hi)
{
        volatile uint32_t sink = 0;

        CHECK(strcmp(pgo_type_name(m->type), "unknown") != 0);
        switch (m->type) {
        case PGO_ORIGIN:
                check_str(m->origin.name, lo, hi);
                break;
        case PGO_RELATION:
                walk_relation(&m->rel, lo, hi);
                break;
        case PGO_TYPE:
                check_str(m->typ.nspname, lo, hi);
                check_str(m->typ.name, lo, hi);
                break;
        case PGO_INSERT:
                walk_tuple(&m->ins.newtup, lo, hi);
                break;
        case PGO_UPDATE:
                if (m->upd.old_kind) {
                        CHECK(m->upd.old_kind == 'K' || m->upd.old_kind == 'O');
                        walk_tuple(&m->upd.oldtup, lo, hi);
                }
                walk_tuple(&m->upd.newtup, lo, hi);
                break;
        case PGO_DELETE:
                CHECK(m->del.old_kind == 'K' || m->del.old_kind == 'O');
                walk_tuple(&m->del.oldtup, lo, hi);
                break;
        case PGO_TRUNCATE:
                CHECK(inside(m->trunc.relids, (size_t)m->trunc.nrels * 4, lo, hi));
                for (uint32_t i = 0; i < m->trunc.nrels; i++)
                        sink ^= pgo_truncate_relid(&m->trunc, i);
                CHECK(pgo_truncate_relid(&m->trunc, m->trunc.nrels) == 0);
                break;
        case PGO_MESSAGE:
                check_str(m->msg.prefix, lo, hi);
                CHECK(m->msg.content_len == 0 ||
                      inside(m->msg.content, m->msg.content_len, lo, hi));
                for (uint32_t i = 0; i < m->msg.content_len; i++)
                        sink ^= m->msg.content[i];
                break;
        default:
                break;
        }
        (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        for (int stream = 0; stream < 2; stream++) {
                struct zetl_err err = { 0 };
                struct pgo_msg m;
                int rc = pgo_decode(data, size, stream != 0, &m, &err);

                if (rc != 0) {
                        CHECK(rc == ZETL_EPROTO);
                        CHECK(err.code == ZETL_EPROTO && err.cls == ZETL_ERRC_FATAL);
                        CHECK(err.msg[0] != '\0');
                        continue;
                }
                CHECK(size > 0 && m.type == (enum pgo_type)data[0]);
                walk(&m, data, data + size);
        }
        return 0;
}

/* ---- seeds ------------------------------------------------------------------- */

static void wstr(struct wbuf *w, const char *s)
{
        wbytes(w, s, strlen(s) + 1);
}

static void wcol(struct wbuf *w, char kind, const char *text)
{
        w8(w, (uint8_t)kind);
        if (kind == 't' || kind == 'b') {
                w32(w, (uint32_t)strlen(text));
                wbytes(w, text, strlen(text));
        }
}

static void whead(struct wbuf *w, char type, bool stream)
{
        w->n = 0;
        w8(w, (uint8_t)type);
        if (stream)
                w32(w, 123456);
}

static void put_seed(const char *dir, const char *name, const struct wbuf *w)
{
        char path[4096];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "wb");
        if (!f || fwrite(w->b, 1, w->n, f) != w->n || fclose(f) != 0) {
                perror(path);
                exit(1);
        }
}

static void write_seeds(const char *dir)
{
        struct wbuf w;

        whead(&w, 'B', false);
        w64(&w, 0x100000020);
        w64(&w, 0x0002B55D4B7E1000);
        w32(&w, 753);
        put_seed(dir, "begin", &w);

        whead(&w, 'C', false);
        w8(&w, 0);
        w64(&w, 0x100000020);
        w64(&w, 0x100000050);
        w64(&w, (uint64_t)-2);
        put_seed(dir, "commit", &w);

        whead(&w, 'O', false);
        w64(&w, 0x200000010);
        wstr(&w, "pg_16400");
        put_seed(dir, "origin", &w);

        for (int s = 0; s < 2; s++) {
                char name[64];

                whead(&w, 'R', s);
                w32(&w, 16385);
                wstr(&w, "public");
                wstr(&w, "orders");
                w8(&w, 'd');
                w16(&w, 3);
                w8(&w, 1);
                wstr(&w, "id");
                w32(&w, 20);
                w32(&w, 0xFFFFFFFF);
                w8(&w, 0);
                wstr(&w, "note");
                w32(&w, 1043);
                w32(&w, 68);
                w8(&w, 0);
                wstr(&w, "big");
                w32(&w, 25);
                w32(&w, 0xFFFFFFFF);
                snprintf(name, sizeof(name), "relation%s", s ? "_stream" : "");
                put_seed(dir, name, &w);

                whead(&w, 'I', s);
                w32(&w, 16385);
                w8(&w, 'N');
                w16(&w, 4);
                wcol(&w, 'n', NULL);
                wcol(&w, 'u', NULL);
                wcol(&w, 't', "42");
                wcol(&w, 'b', "\x01\x02");
                snprintf(name, sizeof(name), "insert%s", s ? "_stream" : "");
                put_seed(dir, name, &w);

                whead(&w, 'T', s);
                w32(&w, 2);
                w8(&w, 3);
                w32(&w, 16385);
                w32(&w, 0x80000001);
                snprintf(name, sizeof(name), "truncate%s", s ? "_stream" : "");
                put_seed(dir, name, &w);

                whead(&w, 'M', s);
                w8(&w, 1);
                w64(&w, 0x16B3748);
                wstr(&w, "zetl");
                w32(&w, 4);
                wbytes(&w, "hi\0!", 4);
                snprintf(name, sizeof(name), "message%s", s ? "_stream" : "");
                put_seed(dir, name, &w);
        }

        whead(&w, 'Y', false);
        w32(&w, 16390);
        wstr(&w, "public");
        wstr(&w, "mood");
        put_seed(dir, "type", &w);

        static const char olds[] = { 0, 'K', 'O' };
        for (size_t i = 0; i < sizeof(olds); i++) {
                char name[64];

                whead(&w, 'U', false);
                w32(&w, 16385);
                if (olds[i]) {
                        w8(&w, (uint8_t)olds[i]);
                        w16(&w, 3);
                        wcol(&w, 't', "7");
                        wcol(&w, 'n', NULL);
                        wcol(&w, 'n', NULL);
                }
                w8(&w, 'N');
                w16(&w, 3);
                wcol(&w, 't', "8");
                wcol(&w, 't', "");
                wcol(&w, 'u', NULL);
                snprintf(name, sizeof(name), "update_%c", olds[i] ? olds[i] : 'N');
                put_seed(dir, name, &w);
                if (!olds[i])
                        continue;
                whead(&w, 'D', false);
                w32(&w, 16385);
                w8(&w, (uint8_t)olds[i]);
                w16(&w, 2);
                wcol(&w, 't', "7");
                wcol(&w, olds[i] == 'O' ? 't' : 'n', "x");
                snprintf(name, sizeof(name), "delete_%c", olds[i]);
                put_seed(dir, name, &w);
        }

        whead(&w, 'S', false);
        w32(&w, 123456);
        w8(&w, 1);
        put_seed(dir, "stream_start", &w);
        whead(&w, 'E', false);
        put_seed(dir, "stream_stop", &w);
        whead(&w, 'c', false);
        w32(&w, 123456);
        w8(&w, 0);
        w64(&w, 0x3000000);
        w64(&w, 0x3000038);
        w64(&w, 1000);
        put_seed(dir, "stream_commit", &w);
        whead(&w, 'A', false);
        w32(&w, 123456);
        w32(&w, 123457);
        put_seed(dir, "stream_abort", &w);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *dir = getenv("ZETL_FUZZ_WRITE_SEEDS");

        (void)argc;
        (void)argv;
        if (dir) {
                write_seeds(dir);
                exit(0);
        }
        return 0;
}
