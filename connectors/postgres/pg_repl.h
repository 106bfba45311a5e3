/*
 * The PostgreSQL replication connection (libpq, replication=database): the
 * walsender commands zetl needs (IDENTIFY_SYSTEM, CREATE_/DROP_REPLICATION_SLOT,
 * START_REPLICATION with pgoutput) and the CopyBoth loop that follows: XLogData
 * and keepalive messages in, standby status updates out.
 *
 * One struct pg_repl is one connection, used by one thread. Its errors:
 * a lost connection is ZETL_ECONN (transient) with libpq's message; something
 * the server sends that we cannot understand is ZETL_EPROTO (fatal); a server
 * ERROR keeps its message and gets a code from its SQLSTATE (a slot that
 * exists: ZETL_EEXIST; does not exist: ZETL_ENOTFOUND; in use: ZETL_ESTATE;
 * no free slot or sender: ZETL_ELIMIT; privileges and wal_level: config).
 * Connection strings and passwords never appear in messages.
 */
#ifndef ZETL_PG_REPL_H
#define ZETL_PG_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/err.h"

/* PostgreSQL's NAMEDATALEN: slot, database and snapshot names fit with their NUL. */
#define PG_REPL_NAME_MAX 64

struct pg_repl;

/* What IDENTIFY_SYSTEM says. */
struct pg_repl_system {
        char systemid[32]; /* decimal system identifier */
        uint32_t timeline;
        uint64_t xlogpos; /* current WAL flush position */
        char dbname[PG_REPL_NAME_MAX];
};

enum pg_repl_snapshot {
        PG_REPL_SNAPSHOT_EXPORT,  /* export a snapshot for the initial copy */
        PG_REPL_SNAPSHOT_NOTHING, /* no snapshot: streaming only */
};

/* What CREATE_REPLICATION_SLOT says. */
struct pg_repl_slot {
        char name[PG_REPL_NAME_MAX];
        uint64_t consistent_point; /* stream from here: nothing before is in the snapshot */
        /*
         * For SET TRANSACTION SNAPSHOT on other connections; "" without an
         * export. Dies as soon as this connection runs any other command.
         */
        char snapshot_name[PG_REPL_NAME_MAX];
};

struct pg_repl_start_opts {
        const char *slot;
        uint64_t start_lsn; /* 0: from the slot's confirmed_flush_lsn */
        int proto_version;  /* 1, or 2 for streaming of in-progress transactions */
        const char *const *publications;
        size_t npublications; /* at least one */
        bool binary;          /* columns as 'b' (send functions) rather than 't' */
        /* NULL: the server's logical_decoding_work_mem; else a size
         * ("16MB": digits and kB, MB or GB) set for this walsender first. */
        const char *decoding_work_mem;
};

enum pg_repl_event_type {
        PG_REPL_TIMEOUT,   /* nothing arrived within timeout_ms, or a signal arrived */
        PG_REPL_XLOGDATA,  /* data, len: one pgoutput message (pgoutput.h) */
        PG_REPL_KEEPALIVE, /* wal_end, send_time, reply_requested */
};

struct pg_repl_event {
        enum pg_repl_event_type type;
        uint64_t wal_start;   /* XLogData only; 0 for all but a transaction's last write */
        uint64_t wal_end;     /* the server's current end of WAL */
        int64_t send_time;    /* µs since 2000-01-01 (PGO_EPOCH_UNIX_US) */
        bool reply_requested; /* keepalive: answer with pg_repl_send_status() now */
        const uint8_t *data;  /* valid until the next pg_repl_next() or pg_repl_close() */
        size_t len;
};

/*
 * Connect with a libpq URI or keyword/value string (the user's), adding
 * replication=database. *out is freed by pg_repl_close(). Errors: ZETL_ECONN
 * (transient, or config when the server wants a password we lack),
 * ZETL_EINVAL (config) for a string libpq cannot parse, ZETL_EUNSUPPORTED for
 * a server before PostgreSQL 10.
 */
int pg_repl_open(const char *conninfo, struct pg_repl **out, struct zetl_err *err);

/*
 * End streaming if it runs (CopyDone, waiting at most a few seconds for the
 * server's answer), close the connection and free r. r may be NULL.
 */
void pg_repl_close(struct pg_repl *r);

/* The server's version as libpq reports it (150004 for 15.4). */
int pg_repl_server_version(const struct pg_repl *r);

int pg_repl_identify(struct pg_repl *r, struct pg_repl_system *out, struct zetl_err *err);

/*
 * CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL pgoutput with the snapshot
 * action. Slot names are PostgreSQL's: 1-63 of [a-z0-9_] (else ZETL_EINVAL,
 * config). A temporary slot goes away with this connection.
 */
int pg_repl_create_slot(struct pg_repl *r, const char *name, bool temporary,
                        enum pg_repl_snapshot snap, struct pg_repl_slot *out, struct zetl_err *err);

/* DROP_REPLICATION_SLOT name WAIT: waits while another connection uses it. */
int pg_repl_drop_slot(struct pg_repl *r, const char *name, struct zetl_err *err);

/*
 * START_REPLICATION SLOT ... LOGICAL with pgoutput's options: proto_version,
 * publication_names (each quoted as an identifier, so names are taken
 * exactly), binary, messages 'true', and streaming 'on' with proto_version 2.
 * Afterwards only pg_repl_next(), pg_repl_send_status(), pg_repl_end_copy()
 * and pg_repl_close() are allowed. PostgreSQL before 14 knows only protocol 1
 * without binary (ZETL_EUNSUPPORTED otherwise).
 */
int pg_repl_start(struct pg_repl *r, const struct pg_repl_start_opts *o, struct zetl_err *err);

/*
 * Wait at most timeout_ms (< 0: without limit, 0: do not wait) for the next
 * message of the stream and fill *ev. A signal cuts the wait short with
 * PG_REPL_TIMEOUT, so a caller can check its stop flag. Returns 0,
 * ZETL_ECONN (transient) when the connection is lost or the server ends the
 * stream, ZETL_EPROTO (fatal) for a message we do not understand.
 */
int pg_repl_next(struct pg_repl *r, int timeout_ms, struct pg_repl_event *ev, struct zetl_err *err);

/*
 * Send a standby status update ('r'): write, flush and apply positions (flush
 * is what the server may release: only what the sink made durable) and the
 * time now. request_reply asks the server to answer at once with a keepalive.
 * Flushed to the socket before returning.
 */
int pg_repl_send_status(struct pg_repl *r, uint64_t write, uint64_t flush, uint64_t apply,
                        bool request_reply, struct zetl_err *err);

/*
 * Leave streaming cleanly: CopyDone, then skip what the server still sends
 * until its own CopyDone and the command's completion (at most timeout_ms;
 * < 0 without limit). The connection then takes commands again.
 */
int pg_repl_end_copy(struct pg_repl *r, int timeout_ms, struct zetl_err *err);

/* True for a connection error message retrying cannot fix (authentication,
 * TLS verification, pg_hba.conf): a configuration error, not a transient one. */
bool pg_conn_error_is_config(const char *message);
/* A memory size PostgreSQL reads and zetl may quote: digits, then kB, MB or
 * GB (or nothing: kilobytes), at most 31 characters. */
bool pg_repl_size_ok(const char *v);

#endif
