/*
 * pgoutput: a zero-copy decoder for one message of PostgreSQL's logical
 * replication protocol as the pgoutput plugin writes it (protocol versions 1
 * and 2, the latter with the stream messages of large in-progress
 * transactions). The input is the payload of one XLogData message, after its
 * 25-byte header (see pg_repl.h).
 *
 * Nothing is copied: names, tuples and message contents in struct pgo_msg
 * point into the caller's buffer and live exactly as long as it does. Column
 * values stay raw (kind, bytes); interpreting them by type is pg_types' job.
 *
 * pgo_decode() checks the whole message before it returns 0: every length
 * and count is bounded by the message size, strings are NUL-terminated inside
 * it, tuple kinds are known and nothing trails the last field. The iterators
 * below therefore cannot fail on what pgo_decode() accepted; they still stop
 * at the end of the buffer rather than trust a hand-built struct.
 */
#ifndef ZETL_PG_PGOUTPUT_H
#define ZETL_PG_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/err.h"

/* PostgreSQL's MaxTupleAttributeNumber: no tuple or relation has more columns. */
#define PGO_MAX_COLS 1664
/* Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00 UTC). */
#define PGO_EPOCH_UNIX_US INT64_C(946684800000000)

/* Message types: the first byte of each message. */
enum pgo_type {
        PGO_BEGIN = 'B',
        PGO_COMMIT = 'C',
        PGO_ORIGIN = 'O',
        PGO_RELATION = 'R',
        PGO_TYPE = 'Y',
        PGO_INSERT = 'I',
        PGO_UPDATE = 'U',
        PGO_DELETE = 'D',
        PGO_TRUNCATE = 'T',
        PGO_MESSAGE = 'M',
        PGO_STREAM_START = 'S',
        PGO_STREAM_STOP = 'E',
        PGO_STREAM_COMMIT = 'c',
        PGO_STREAM_ABORT = 'A',
};

/* Column kinds inside a tuple. */
enum pgo_kind {
        PGO_KIND_NULL = 'n',
        PGO_KIND_UNCHANGED = 'u', /* unchanged TOASTed value: not sent, not NULL */
        PGO_KIND_TEXT = 't',      /* the type's output function text */
        PGO_KIND_BINARY = 'b',    /* the type's send function bytes (binary 'true') */
};

/* Relation column flags. */
#define PGO_COL_KEY 0x01 /* part of the replica identity (the key) */

/* Truncate options. */
#define PGO_TRUNCATE_CASCADE          0x01
#define PGO_TRUNCATE_RESTART_IDENTITY 0x02

/* Message flags. */
#define PGO_MESSAGE_TRANSACTIONAL 0x01

/* A validated tuple: walk it with pgo_tuple_iter()/pgo_tuple_next(). */
struct pgo_tuple {
        uint16_t ncols;      /* 0..PGO_MAX_COLS */
        const uint8_t *cols; /* the first column's kind byte */
        size_t len;          /* bytes of all columns */
};

/* One column of a tuple. data points into the message, not NUL-terminated. */
struct pgo_col {
        char kind;           /* enum pgo_kind */
        uint32_t len;        /* 0 for 'n' and 'u' */
        const uint8_t *data; /* NULL for 'n' and 'u' */
};

/* One column of a Relation message. name is NUL-terminated, in the message. */
struct pgo_relcol {
        uint8_t flags; /* PGO_COL_KEY */
        const char *name;
        uint32_t type_oid;
        int32_t typmod; /* -1: none */
};

/* Cursor over the columns of a tuple or a Relation message. */
struct pgo_iter {
        const uint8_t *p;
        const uint8_t *end;
        uint32_t left;
};

struct pgo_begin {
        uint64_t final_lsn; /* LSN of the commit record */
        int64_t commit_ts;  /* µs since 2000-01-01 */
        uint32_t xid;
};

struct pgo_commit {
        uint8_t flags;       /* unused by PostgreSQL so far */
        uint64_t commit_lsn; /* LSN of the commit record */
        uint64_t end_lsn;    /* end of the transaction: what to confirm as flushed */
        int64_t commit_ts;   /* µs since 2000-01-01 */
};

struct pgo_origin {
        uint64_t lsn; /* commit LSN on the origin server */
        const char *name;
};

struct pgo_relation {
        uint32_t relid;
        const char *nspname; /* "" for pg_catalog */
        const char *relname;
        char replident; /* 'd' default, 'n' nothing, 'f' full, 'i' index */
        uint16_t ncols;
        const uint8_t *cols; /* walk with pgo_relation_iter() */
        size_t cols_len;
};

struct pgo_typemsg {
        uint32_t oid;
        const char *nspname;
        const char *name;
};

struct pgo_insert {
        uint32_t relid;
        struct pgo_tuple newtup;
};

struct pgo_update {
        uint32_t relid;
        char old_kind; /* 0: no old tuple; 'K': old key; 'O': old tuple (REPLICA IDENTITY FULL) */
        struct pgo_tuple oldtup; /* valid when old_kind != 0 */
        struct pgo_tuple newtup;
};

struct pgo_delete {
        uint32_t relid;
        char old_kind; /* 'K' or 'O' */
        struct pgo_tuple oldtup;
};

struct pgo_truncate {
        uint32_t nrels;
        uint8_t options;       /* PGO_TRUNCATE_* */
        const uint8_t *relids; /* nrels big-endian int32: read with pgo_truncate_relid() */
};

struct pgo_message {
        uint8_t flags; /* PGO_MESSAGE_TRANSACTIONAL */
        uint64_t lsn;
        const char *prefix;
        const uint8_t *content; /* not NUL-terminated */
        uint32_t content_len;
};

struct pgo_stream_start {
        uint32_t xid;
        bool first_segment;
};

struct pgo_stream_commit {
        uint32_t xid;
        uint8_t flags;
        uint64_t commit_lsn;
        uint64_t end_lsn;
        int64_t commit_ts; /* µs since 2000-01-01 */
};

struct pgo_stream_abort {
        uint32_t xid;    /* the top-level transaction */
        uint32_t subxid; /* equal to xid when the whole transaction aborted */
};

/* One decoded message; which union member is valid depends on type. */
struct pgo_msg {
        enum pgo_type type;
        /*
         * For R, Y, I, U, D, T and M decoded with streaming_xid: the xid of
         * the streamed transaction the message belongs to (has_xid true).
         */
        bool has_xid;
        uint32_t xid;
        union {
                struct pgo_begin begin;
                struct pgo_commit commit;
                struct pgo_origin origin;
                struct pgo_relation rel;
                struct pgo_typemsg typ;
                struct pgo_insert ins;
                struct pgo_update upd;
                struct pgo_delete del;
                struct pgo_truncate trunc;
                struct pgo_message msg;
                struct pgo_stream_start sstart;
                struct pgo_stream_commit scommit;
                struct pgo_stream_abort sabort;
        };
};

/*
 * Decode the pgoutput message p[0..len) into *out. streaming_xid says that the
 * message lies between a Stream Start and a Stream Stop, where R, Y, I, U, D,
 * T and M carry the streamed transaction's xid after their type byte; it is
 * ignored for the other types. Pointers in *out borrow p.
 * Returns 0, or ZETL_EPROTO (fatal) for a malformed, truncated or unknown
 * message, with err naming the message type and the fault; never reads
 * outside p[0..len).
 */
int pgo_decode(const uint8_t *p, size_t len, bool streaming_xid, struct pgo_msg *out,
               struct zetl_err *err);

/* Name of a message type for messages and logs ("Insert"); "unknown" otherwise. */
const char *pgo_type_name(int type);

/* Start walking the columns of a tuple that pgo_decode() filled. */
void pgo_tuple_iter(const struct pgo_tuple *t, struct pgo_iter *it);
/* Next column into *col; false after the last one. */
bool pgo_tuple_next(struct pgo_iter *it, struct pgo_col *col);

/* Start walking the columns of a Relation message. */
void pgo_relation_iter(const struct pgo_relation *rel, struct pgo_iter *it);
/* Next column into *col; false after the last one. */
bool pgo_relation_next(struct pgo_iter *it, struct pgo_relcol *col);

/* Relation oid number i (0 <= i < nrels) of a Truncate message. */
uint32_t pgo_truncate_relid(const struct pgo_truncate *t, uint32_t i);

#endif
