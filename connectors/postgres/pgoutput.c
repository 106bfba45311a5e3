/*
 * pgoutput message decoder (see pgoutput.h). Every read goes through a small
 * bounded reader, so a truncated or hostile message turns into ZETL_EPROTO
 * naming the message and the field, never into a read past its end: the
 * input comes straight off the network and a fuzzer is pointed at it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pgoutput.h"

/* A bounded cursor over one message; err context names the message. */
struct rd {
        const uint8_t *p;
        const uint8_t *start;
        const uint8_t *end;
        int type;
        struct zetl_err *err;
};

const char *pgo_type_name(int type)
{
        switch (type) {
        case PGO_BEGIN:
                return "Begin";
        case PGO_COMMIT:
                return "Commit";
        case PGO_ORIGIN:
                return "Origin";
        case PGO_RELATION:
                return "Relation";
        case PGO_TYPE:
                return "Type";
        case PGO_INSERT:
                return "Insert";
        case PGO_UPDATE:
                return "Update";
        case PGO_DELETE:
                return "Delete";
        case PGO_TRUNCATE:
                return "Truncate";
        case PGO_MESSAGE:
                return "Message";
        case PGO_STREAM_START:
                return "Stream Start";
        case PGO_STREAM_STOP:
                return "Stream Stop";
        case PGO_STREAM_COMMIT:
                return "Stream Commit";
        case PGO_STREAM_ABORT:
                return "Stream Abort";
        }
        return "unknown";
}

static void bad_msg(const struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * BAD() is a constant non-zero expression, so the compiler can see that no
 * output field is left unset on the success path.
 */
#define BAD(...) (bad_msg(__VA_ARGS__), ZETL_EPROTO)

static void bad_msg(const struct rd *r, const char *fmt, ...)
{
        char what[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        zetl_err_set(r->err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                     "pgoutput %s message ('%c', %zu bytes): %s at offset %zu",
                     pgo_type_name(r->type), r->type, (size_t)(r->end - r->start), what,
                     (size_t)(r->p - r->start));
}

static size_t left(const struct rd *r)
{
        return (size_t)(r->end - r->p);
}

static uint32_t be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int rd_u8(struct rd *r, const char *what, uint8_t *out)
{
        if (left(r) < 1)
                return BAD(r, "truncated at the %s", what);
        *out = *r->p++;
        return 0;
}

static int rd_u32(struct rd *r, const char *what, uint32_t *out)
{
        if (left(r) < 4)
                return BAD(r, "truncated at the %s", what);
        *out = be32(r->p);
        r->p += 4;
        return 0;
}

static int rd_u64(struct rd *r, const char *what, uint64_t *out)
{
        if (left(r) < 8)
                return BAD(r, "truncated at the %s", what);
        *out = (uint64_t)be32(r->p) << 32 | be32(r->p + 4);
        r->p += 8;
        return 0;
}

/* Two's complement without implementation-defined conversions. */
static int32_t to_i32(uint32_t v)
{
        return v <= INT32_MAX ? (int32_t)v : -(int32_t)(~v) - 1;
}

static int64_t to_i64(uint64_t v)
{
        return v <= INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1;
}

static int rd_i64(struct rd *r, const char *what, int64_t *out)
{
        uint64_t v;
        int rc = rd_u64(r, what, &v);

        if (rc == 0)
                *out = to_i64(v);
        return rc;
}

/* A non-negative Int32 length that the rest of the message can hold. */
static int rd_len(struct rd *r, const char *what, uint32_t *out)
{
        uint32_t v;
        int rc = rd_u32(r, what, &v);

        if (rc)
                return rc;
        if (v > INT32_MAX)
                return BAD(r, "negative %s %" PRId32, what, to_i32(v));
        if (v > left(r))
                return BAD(r, "%s %" PRIu32 " exceeds the %zu bytes left", what, v, left(r));
        *out = v;
        return 0;
}

/* A NUL-terminated string that ends inside the message; *out borrows it. */
static int rd_str(struct rd *r, const char *what, const char **out)
{
        const uint8_t *nul = left(r) ? memchr(r->p, '\0', left(r)) : NULL;

        if (!nul)
                return BAD(r, "%s is not NUL-terminated within the message", what);
        *out = (const char *)r->p;
        r->p = nul + 1;
        return 0;
}

/* Int16 column count, refused when negative or past PostgreSQL's maximum. */
static int rd_ncols(struct rd *r, const char *whose, uint16_t *out)
{
        uint16_t v;

        if (left(r) < 2)
                return BAD(r, "truncated at the %s column count", whose);
        v = (uint16_t)(r->p[0] << 8 | r->p[1]);
        if (v > INT16_MAX)
                return BAD(r, "negative %s column count %d", whose, (int)v - 65536);
        if (v > PGO_MAX_COLS)
                return BAD(r, "%s column count %u exceeds PostgreSQL's maximum of %d", whose, v,
                           PGO_MAX_COLS);
        r->p += 2;
        *out = v;
        return 0;
}

static int rd_tuple(struct rd *r, const char *which, struct pgo_tuple *t)
{
        uint16_t n;
        int rc = rd_ncols(r, which, &n);

        if (rc)
                return rc;
        t->ncols = n;
        t->cols = r->p;
        /* The hot path of streaming: no formatting unless something is wrong. */
        for (unsigned i = 1; i <= n; i++) {
                uint8_t kind;
                uint32_t len;

                if (left(r) < 1)
                        return BAD(r, "truncated at the kind of %s tuple column %u", which, i);
                kind = *r->p++;
                if (kind == PGO_KIND_NULL || kind == PGO_KIND_UNCHANGED)
                        continue;
                if (kind != PGO_KIND_TEXT && kind != PGO_KIND_BINARY) {
                        r->p--;
                        return BAD(r, "%s tuple column %u: unknown kind byte 0x%02x", which, i,
                                   kind);
                }
                if (left(r) < 4)
                        return BAD(r, "truncated at the length of %s tuple column %u", which, i);
                len = be32(r->p);
                if (len > INT32_MAX)
                        return BAD(r, "%s tuple column %u: negative length %" PRId32, which, i,
                                   to_i32(len));
                if (len > left(r) - 4)
                        return BAD(r,
                                   "%s tuple column %u: length %" PRIu32
                                   " exceeds the %zu bytes left",
                                   which, i, len, left(r) - 4);
                r->p += 4 + (size_t)len;
        }
        t->len = (size_t)(r->p - t->cols);
        return 0;
}

/* The marker byte before a tuple: one of the allowed ones, named in the error. */
static int rd_marker(struct rd *r, const char *allowed, char *out)
{
        uint8_t m = 0;
        int rc = rd_u8(r, "tuple marker", &m);

        if (rc)
                return rc;
        if (m == 0 || !strchr(allowed, m)) {
                r->p--;
                return BAD(r, "tuple marker 0x%02x where one of '%s' was expected", m, allowed);
        }
        *out = (char)m;
        return 0;
}

static int dec_begin(struct rd *r, struct pgo_begin *b)
{
        int rc = rd_u64(r, "final LSN", &b->final_lsn);

        if (!rc)
                rc = rd_i64(r, "commit timestamp", &b->commit_ts);
        if (!rc)
                rc = rd_u32(r, "xid", &b->xid);
        return rc;
}

static int dec_commit(struct rd *r, struct pgo_commit *c)
{
        int rc = rd_u8(r, "flags", &c->flags);

        if (!rc)
                rc = rd_u64(r, "commit LSN", &c->commit_lsn);
        if (!rc)
                rc = rd_u64(r, "end LSN", &c->end_lsn);
        if (!rc)
                rc = rd_i64(r, "commit timestamp", &c->commit_ts);
        return rc;
}

static int dec_origin(struct rd *r, struct pgo_origin *o)
{
        int rc = rd_u64(r, "origin LSN", &o->lsn);

        if (!rc)
                rc = rd_str(r, "origin name", &o->name);
        return rc;
}

static int dec_relation(struct rd *r, struct pgo_relation *rel)
{
        uint8_t ident = 0;
        int rc = rd_u32(r, "relation oid", &rel->relid);

        if (!rc)
                rc = rd_str(r, "namespace", &rel->nspname);
        if (!rc)
                rc = rd_str(r, "relation name", &rel->relname);
        if (!rc)
                rc = rd_u8(r, "replica identity", &ident);
        if (rc)
                return rc;
        if (!strchr("dnfi", ident) || ident == 0) {
                r->p--;
                return BAD(r, "unknown replica identity 0x%02x", ident);
        }
        rel->replident = (char)ident;
        rc = rd_ncols(r, "relation", &rel->ncols);
        if (rc)
                return rc;
        rel->cols = r->p;
        for (unsigned i = 1; i <= rel->ncols; i++) {
                const uint8_t *nul;

                if (left(r) < 1)
                        return BAD(r, "truncated at the flags of column %u", i);
                r->p++;
                nul = left(r) ? memchr(r->p, '\0', left(r)) : NULL;
                if (!nul)
                        return BAD(r, "the name of column %u is not NUL-terminated", i);
                r->p = nul + 1;
                if (left(r) < 8)
                        return BAD(r, "truncated at the type oid and typmod of column %u", i);
                r->p += 8;
        }
        rel->cols_len = (size_t)(r->p - rel->cols);
        return 0;
}

static int dec_type(struct rd *r, struct pgo_typemsg *t)
{
        int rc = rd_u32(r, "type oid", &t->oid);

        if (!rc)
                rc = rd_str(r, "namespace", &t->nspname);
        if (!rc)
                rc = rd_str(r, "type name", &t->name);
        return rc;
}

static int dec_insert(struct rd *r, struct pgo_insert *ins)
{
        char m;
        int rc = rd_u32(r, "relation oid", &ins->relid);

        if (!rc)
                rc = rd_marker(r, "N", &m);
        if (!rc)
                rc = rd_tuple(r, "new", &ins->newtup);
        return rc;
}

static int dec_update(struct rd *r, struct pgo_update *u)
{
        char m;
        int rc = rd_u32(r, "relation oid", &u->relid);

        if (!rc)
                rc = rd_marker(r, "KON", &m);
        if (rc)
                return rc;
        u->old_kind = 0;
        memset(&u->oldtup, 0, sizeof(u->oldtup));
        if (m != 'N') {
                u->old_kind = m;
                rc = rd_tuple(r, m == 'K' ? "old key" : "old", &u->oldtup);
                if (!rc)
                        rc = rd_marker(r, "N", &m);
                if (rc)
                        return rc;
        }
        return rd_tuple(r, "new", &u->newtup);
}

static int dec_delete(struct rd *r, struct pgo_delete *d)
{
        int rc = rd_u32(r, "relation oid", &d->relid);

        if (!rc)
                rc = rd_marker(r, "KO", &d->old_kind);
        if (!rc)
                rc = rd_tuple(r, d->old_kind == 'K' ? "old key" : "old", &d->oldtup);
        return rc;
}

static int dec_truncate(struct rd *r, struct pgo_truncate *t)
{
        uint32_t n;
        int rc = rd_u32(r, "relation count", &n);

        if (!rc)
                rc = rd_u8(r, "options", &t->options);
        if (rc)
                return rc;
        if (n > INT32_MAX)
                return BAD(r, "negative relation count %" PRId32, to_i32(n));
        if (n > left(r) / 4)
                return BAD(r, "%" PRIu32 " relations do not fit in the %zu bytes left", n, left(r));
        t->nrels = n;
        t->relids = r->p;
        r->p += (size_t)n * 4;
        return 0;
}

static int dec_message(struct rd *r, struct pgo_message *m)
{
        int rc = rd_u8(r, "flags", &m->flags);

        if (!rc)
                rc = rd_u64(r, "LSN", &m->lsn);
        if (!rc)
                rc = rd_str(r, "prefix", &m->prefix);
        if (!rc)
                rc = rd_len(r, "content length", &m->content_len);
        if (rc)
                return rc;
        m->content = r->p;
        r->p += m->content_len;
        return 0;
}

static int dec_stream_start(struct rd *r, struct pgo_stream_start *s)
{
        uint8_t first = 0;
        int rc = rd_u32(r, "xid", &s->xid);

        if (!rc)
                rc = rd_u8(r, "first-segment flag", &first);
        if (rc)
                return rc;
        if (first > 1) {
                r->p--;
                return BAD(r, "first-segment flag %u is neither 0 nor 1", first);
        }
        s->first_segment = first == 1;
        return 0;
}

static int dec_stream_commit(struct rd *r, struct pgo_stream_commit *c)
{
        int rc = rd_u32(r, "xid", &c->xid);

        if (!rc)
                rc = rd_u8(r, "flags", &c->flags);
        if (!rc)
                rc = rd_u64(r, "commit LSN", &c->commit_lsn);
        if (!rc)
                rc = rd_u64(r, "end LSN", &c->end_lsn);
        if (!rc)
                rc = rd_i64(r, "commit timestamp", &c->commit_ts);
        return rc;
}

static int dec_stream_abort(struct rd *r, struct pgo_stream_abort *a)
{
        int rc = rd_u32(r, "xid", &a->xid);

        if (!rc)
                rc = rd_u32(r, "subtransaction xid", &a->subxid);
        return rc;
}

/* Whether a type carries the streamed transaction's xid inside a stream. */
static bool has_stream_xid(int type)
{
        return type == PGO_RELATION || type == PGO_TYPE || type == PGO_INSERT ||
               type == PGO_UPDATE || type == PGO_DELETE || type == PGO_TRUNCATE ||
               type == PGO_MESSAGE;
}

int pgo_decode(const uint8_t *p, size_t len, bool streaming_xid, struct pgo_msg *out,
               struct zetl_err *err)
{
        struct rd r = { .p = p, .start = p, .end = p + len, .type = 0, .err = err };
        int rc;

        if (!p || len == 0)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL, "pgoutput: empty message");
        memset(out, 0, sizeof(*out));
        r.type = *r.p++;
        out->type = (enum pgo_type)r.type;
        if (streaming_xid && has_stream_xid(r.type)) {
                rc = rd_u32(&r, "streamed transaction xid", &out->xid);
                if (rc)
                        return rc;
                out->has_xid = true;
        }
        switch (r.type) {
        case PGO_BEGIN:
                rc = dec_begin(&r, &out->begin);
                break;
        case PGO_COMMIT:
                rc = dec_commit(&r, &out->commit);
                break;
        case PGO_ORIGIN:
                rc = dec_origin(&r, &out->origin);
                break;
        case PGO_RELATION:
                rc = dec_relation(&r, &out->rel);
                break;
        case PGO_TYPE:
                rc = dec_type(&r, &out->typ);
                break;
        case PGO_INSERT:
                rc = dec_insert(&r, &out->ins);
                break;
        case PGO_UPDATE:
                rc = dec_update(&r, &out->upd);
                break;
        case PGO_DELETE:
                rc = dec_delete(&r, &out->del);
                break;
        case PGO_TRUNCATE:
                rc = dec_truncate(&r, &out->trunc);
                break;
        case PGO_MESSAGE:
                rc = dec_message(&r, &out->msg);
                break;
        case PGO_STREAM_START:
                rc = dec_stream_start(&r, &out->sstart);
                break;
        case PGO_STREAM_STOP:
                rc = 0;
                break;
        case PGO_STREAM_COMMIT:
                rc = dec_stream_commit(&r, &out->scommit);
                break;
        case PGO_STREAM_ABORT:
                rc = dec_stream_abort(&r, &out->sabort);
                break;
        default:
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "pgoutput: unknown message type 0x%02x (%zu bytes)", r.type,
                                    len);
        }
        if (rc)
                return rc;
        /* Every field is mandatory: extra bytes mean we misread the message. */
        if (r.p != r.end)
                return BAD(&r, "%zu unexpected bytes after the last field", left(&r));
        return 0;
}

void pgo_tuple_iter(const struct pgo_tuple *t, struct pgo_iter *it)
{
        it->p = t->cols;
        it->end = t->cols ? t->cols + t->len : NULL;
        it->left = t->ncols;
}

bool pgo_tuple_next(struct pgo_iter *it, struct pgo_col *col)
{
        const uint8_t *p = it->p;
        size_t room;

        if (it->left == 0 || !p || p >= it->end)
                return false;
        room = (size_t)(it->end - p);
        col->kind = (char)*p++;
        col->len = 0;
        col->data = NULL;
        if (col->kind == PGO_KIND_TEXT || col->kind == PGO_KIND_BINARY) {
                uint32_t n;

                if (room < 5)
                        return false;
                n = be32(p);
                p += 4;
                if (n > room - 5)
                        return false;
                col->len = n;
                col->data = p;
                p += n;
        }
        it->p = p;
        it->left--;
        return true;
}

void pgo_relation_iter(const struct pgo_relation *rel, struct pgo_iter *it)
{
        it->p = rel->cols;
        it->end = rel->cols ? rel->cols + rel->cols_len : NULL;
        it->left = rel->ncols;
}

bool pgo_relation_next(struct pgo_iter *it, struct pgo_relcol *col)
{
        const uint8_t *p = it->p;
        const uint8_t *nul;
        size_t room;

        if (it->left == 0 || !p || p >= it->end)
                return false;
        room = (size_t)(it->end - p);
        if (room < 2)
                return false;
        nul = memchr(p + 1, '\0', room - 1);
        if (!nul || (size_t)(it->end - (nul + 1)) < 8)
                return false;
        col->flags = p[0];
        col->name = (const char *)(p + 1);
        col->type_oid = be32(nul + 1);
        col->typmod = to_i32(be32(nul + 5));
        it->p = nul + 9;
        it->left--;
        return true;
}

uint32_t pgo_truncate_relid(const struct pgo_truncate *t, uint32_t i)
{
        return i < t->nrels ? be32(t->relids + (size_t)i * 4) : 0;
}
