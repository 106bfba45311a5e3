/*
 * The PostgreSQL replication connection (see pg_repl.h): libpq in
 * replication=database mode, the walsender commands, and a receive loop built
 * on PQgetCopyData in async mode plus poll() on the socket, so that a caller
 * blocked waiting for WAL still wakes up to check its stop flag.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "pg_repl.h"
#include "pgoutput.h"
#include "zetl/position.h"

/* How long pg_repl_close() waits for the server to acknowledge the CopyDone. */
#define CLOSE_TIMEOUT_MS 2000
/* XLogData: 'w', WAL start, WAL end, send time; then the pgoutput message. */
#define XLOGDATA_HDR 25
/* Keepalive: 'k', WAL end, send time, reply-requested flag. */
#define KEEPALIVE_LEN 18
/* Standby status update: 'r', write, flush, apply, clock, reply flag. */
#define STATUS_LEN 34

struct pg_repl {
        PGconn *conn;
        bool copying; /* inside START_REPLICATION's CopyBoth */
        char *buf;    /* the last CopyData, handed out until the next call */
};

static uint64_t get_be64(const uint8_t *p)
{
        uint64_t v = 0;

        for (int i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
        for (int i = 7; i >= 0; i--) {
                p[i] = (uint8_t)v;
                v >>= 8;
        }
}

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Now in PostgreSQL's clock: µs since 2000-01-01. */
static int64_t pg_now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - PGO_EPOCH_UNIX_US;
}

/* libpq messages end in a newline; the log line adds its own. */
static int trimmed_len(const char *m)
{
        size_t n = strlen(m);

        while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
                n--;
        return n > ZETL_ERR_MSG_MAX ? ZETL_ERR_MSG_MAX : (int)n;
}

/* Copy libpq's connection-level message at the boundary. */
bool pg_conn_error_is_config(const char *m)
{
        /* Retrying cannot help these: a wrong password, role or database, a
         * certificate that does not verify, a pg_hba.conf rule that rejects. */
        static const char *const config[] = {
                "authentication failed",    "no password supplied",
                "does not exist",           "certificate verify failed",
                "does not match host name", "root certificate file",
                "pg_hba.conf rejects",      "no pg_hba.conf entry",
                "SSL is not enabled",       NULL,
        };

        for (const char *const *c = config; *c; c++)
                if (strstr(m, *c))
                        return true;
        return false;
}

static int conn_fail(const struct pg_repl *r, int code, enum zetl_err_class cls, const char *what,
                     struct zetl_err *err)
{
        const char *m = r->conn ? PQerrorMessage(r->conn) : "out of memory";

        if (!*m)
                m = "connection lost";
        return zetl_err_set(err, code, cls, "PostgreSQL %s: %.*s", what, trimmed_len(m), m);
}

static bool state_is(const char *state, const char *want)
{
        return state && strncmp(state, want, strlen(want)) == 0;
}

/* A server ERROR: keep its message, pick the code from its SQLSTATE. */
static int server_fail(const struct pg_repl *r, const PGresult *res, const char *what,
                       struct zetl_err *err)
{
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const char *m = PQresultErrorMessage(res);
        int code = ZETL_EIO;
        enum zetl_err_class cls = ZETL_ERRC_FATAL;

        if (PQstatus(r->conn) == CONNECTION_BAD)
                return conn_fail(r, ZETL_ECONN, ZETL_ERRC_TRANSIENT, what, err);
        if (!*m)
                m = PQerrorMessage(r->conn);
        if (state_is(state, "42710")) { /* duplicate_object */
                code = ZETL_EEXIST;
                cls = ZETL_ERRC_CONFIG;
        } else if (state_is(state, "42704")) { /* undefined_object */
                code = ZETL_ENOTFOUND;
                cls = ZETL_ERRC_CONFIG;
        } else if (state_is(state, "55006")) { /* object_in_use: the slot is active */
                code = ZETL_ESTATE;
                cls = ZETL_ERRC_TRANSIENT;
        } else if (state_is(state, "53400")) { /* configuration_limit_exceeded */
                code = ZETL_ELIMIT;
                cls = ZETL_ERRC_CONFIG;
        } else if (state_is(state, "42501") || state_is(state, "28") ||
                   state_is(state, "55000")) { /* privileges, wal_level */
                code = ZETL_EINVAL;
                cls = ZETL_ERRC_CONFIG;
        } else if (state_is(state, "08") || state_is(state, "57P") || state_is(state, "53") ||
                   state_is(state, "40")) { /* connection, shutdown, resources */
                code = ZETL_ECONN;
                cls = ZETL_ERRC_TRANSIENT;
        }
        return zetl_err_set(err, code, cls, "PostgreSQL %s: %.*s", what, trimmed_len(m), m);
}

/* Run a command that must end in status want; *out (when not NULL) is the result. */
static int run(struct pg_repl *r, const char *cmd, ExecStatusType want, const char *what,
               PGresult **out, struct zetl_err *err)
{
        PGresult *res;
        int rc = 0;

        if (r->copying)
                return zetl_err_set(err, ZETL_ESTATE, ZETL_ERRC_FATAL,
                                    "PostgreSQL %s: the connection is streaming", what);
        res = PQexec(r->conn, cmd);
        if (!res) {
                rc = PQstatus(r->conn) == CONNECTION_BAD
                             ? conn_fail(r, ZETL_ECONN, ZETL_ERRC_TRANSIENT, what, err)
                             : zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                            "PostgreSQL %s: out of memory", what);
                goto out;
        }
        if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
                rc = server_fail(r, res, what, err);
                goto out_clear;
        }
        if (PQresultStatus(res) != want) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "PostgreSQL %s: unexpected result %s", what,
                                  PQresStatus(PQresultStatus(res)));
                goto out_clear;
        }
        if (out) {
                *out = res;
                res = NULL;
        }
out_clear:
        PQclear(res);
out:
        return rc;
}

int pg_repl_open(const char *conninfo, struct pg_repl **out, struct zetl_err *err)
{
        PQconninfoOption *opts = NULL;
        const char **keys = NULL;
        const char **vals = NULL;
        struct pg_repl *r = NULL;
        char *perr = NULL;
        bool has_app = false;
        size_t n = 0, i = 0;
        int rc = 0;

        *out = NULL;
        /* Parsing first handles URIs and keyword/value strings alike. */
        opts = PQconninfoParse(conninfo ? conninfo : "", &perr);
        if (!opts) {
                if (perr)
                        rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                          "PostgreSQL connection string: %.*s", trimmed_len(perr),
                                          perr);
                else
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                          "PostgreSQL connection string: out of memory");
                goto out;
        }
        for (const PQconninfoOption *o = opts; o->keyword; o++)
                n++;
        keys = calloc(n + 3, sizeof(*keys));
        vals = calloc(n + 3, sizeof(*vals));
        r = calloc(1, sizeof(*r));
        if (!keys || !vals || !r) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                  "PostgreSQL replication connection: out of memory");
                goto out;
        }
        for (const PQconninfoOption *o = opts; o->keyword; o++) {
                if (!o->val || strcmp(o->keyword, "replication") == 0)
                        continue;
                if (strcmp(o->keyword, "fallback_application_name") == 0)
                        has_app = true;
                keys[i] = o->keyword;
                vals[i++] = o->val;
        }
        keys[i] = "replication";
        vals[i++] = "database";
        if (!has_app) {
                keys[i] = "fallback_application_name";
                vals[i++] = "zetl";
        }
        /* expand_dbname 0: the parse above already expanded it. */
        r->conn = PQconnectdbParams(keys, vals, 0);
        if (!r->conn) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                  "PostgreSQL replication connection: out of memory");
                goto out;
        }
        if (PQstatus(r->conn) != CONNECTION_OK) {
                rc = conn_fail(r, ZETL_ECONN,
                               PQconnectionNeedsPassword(r->conn) ||
                                               pg_conn_error_is_config(PQerrorMessage(r->conn))
                                       ? ZETL_ERRC_CONFIG
                                       : ZETL_ERRC_TRANSIENT,
                               "replication connection", err);
                goto out;
        }
        if (PQserverVersion(r->conn) < 100000) {
                rc = zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_CONFIG,
                                  "PostgreSQL %d has no logical replication (10 or later needed)",
                                  PQserverVersion(r->conn) / 10000);
                goto out;
        }
        *out = r;
        r = NULL;
out:
        pg_repl_close(r);
        free(keys);
        free(vals);
        PQconninfoFree(opts);
        PQfreemem(perr);
        return rc;
}

/* Wait until libpq has a whole result or deadline_ms (monotonic; < 0: none) passes. */
static int wait_result(struct pg_repl *r, int64_t deadline_ms, const char *what,
                       struct zetl_err *err)
{
        while (PQisBusy(r->conn)) {
                struct pollfd pfd = { .fd = PQsocket(r->conn), .events = POLLIN };
                int wait = -1;

                if (deadline_ms >= 0) {
                        int64_t rest = deadline_ms - mono_ms();
                        if (rest <= 0)
                                return zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_TRANSIENT,
                                                    "PostgreSQL %s: no answer in time", what);
                        wait = rest > 60000 ? 60000 : (int)rest;
                }
                if (pfd.fd < 0)
                        return conn_fail(r, ZETL_ECONN, ZETL_ERRC_TRANSIENT, what, err);
                if (poll(&pfd, 1, wait) < 0 && errno != EINTR)
                        return zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_TRANSIENT,
                                            "PostgreSQL %s: poll: %s", what, strerror(errno));
                if (!PQconsumeInput(r->conn))
                        return conn_fail(r, ZETL_ECONN, ZETL_ERRC_TRANSIENT, what, err);
        }
        return 0;
}

/*
 * The server left CopyBoth (its CopyDone or an ERROR): collect the results
 * that follow. A clean end is still an end: the caller reconnects.
 */
static int copy_ended(struct pg_repl *r, int64_t deadline_ms, bool expected, const char *what,
                      struct zetl_err *err)
{
        PGresult *res;
        int rc = 0;

        r->copying = false;
        for (;;) {
                rc = wait_result(r, deadline_ms, what, err);
                if (rc)
                        return rc;
                res = PQgetResult(r->conn);
                if (!res)
                        break;
                if (PQresultStatus(res) == PGRES_FATAL_ERROR && rc == 0)
                        rc = server_fail(r, res, what, err);
                PQclear(res);
        }
        if (rc == 0 && PQstatus(r->conn) == CONNECTION_BAD)
                rc = conn_fail(r, ZETL_ECONN, ZETL_ERRC_TRANSIENT, what, err);
        if (rc == 0 && !expected)
                rc = zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_TRANSIENT,
                                  "PostgreSQL %s: the server ended the replication stream", what);
        return rc;
}

void pg_repl_close(struct pg_repl *r)
{
        if (!r)
                return;
        if (r->conn && r->copying)
                pg_repl_end_copy(r, CLOSE_TIMEOUT_MS, NULL);
        PQfreemem(r->buf);
        PQfinish(r->conn);
        free(r);
}

int pg_repl_server_version(const struct pg_repl *r)
{
        return PQserverVersion(r->conn);
}

static void copy_field(char *dst, size_t size, const PGresult *res, int col)
{
        const char *v = col >= 0 && !PQgetisnull(res, 0, col) ? PQgetvalue(res, 0, col) : "";

        snprintf(dst, size, "%s", v);
}

int pg_repl_identify(struct pg_repl *r, struct pg_repl_system *out, struct zetl_err *err)
{
        PGresult *res = NULL;
        const char *tli;
        char *end;
        unsigned long v;
        int rc;

        memset(out, 0, sizeof(*out));
        rc = run(r, "IDENTIFY_SYSTEM", PGRES_TUPLES_OK, "IDENTIFY_SYSTEM", &res, err);
        if (rc)
                goto out;
        if (PQntuples(res) != 1 || PQnfields(res) < 4 || PQgetisnull(res, 0, 1) ||
            PQgetisnull(res, 0, 2)) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "PostgreSQL IDENTIFY_SYSTEM: %d rows of %d fields",
                                  PQntuples(res), PQnfields(res));
                goto out_clear;
        }
        copy_field(out->systemid, sizeof(out->systemid), res, 0);
        copy_field(out->dbname, sizeof(out->dbname), res, 3);
        tli = PQgetvalue(res, 0, 1);
        errno = 0;
        v = strtoul(tli, &end, 10);
        if (errno || end == tli || *end || v > UINT32_MAX ||
            zetl_lsn_parse(PQgetvalue(res, 0, 2), &out->xlogpos)) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "PostgreSQL IDENTIFY_SYSTEM: bad timeline or position");
                goto out_clear;
        }
        out->timeline = (uint32_t)v;
out_clear:
        PQclear(res);
out:
        return rc;
}

/* PostgreSQL's own rule for slot names, so they never need real quoting. */
static int check_slot_name(const char *name, struct zetl_err *err)
{
        size_t n = name ? strlen(name) : 0;

        if (n == 0 || n >= PG_REPL_NAME_MAX ||
            strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "replication slot name \"%.*s\": use 1-63 characters of "
                                    "a-z, 0-9 and _",
                                    n > 100 ? 100 : (int)n, name ? name : "");
        return 0;
}

int pg_repl_create_slot(struct pg_repl *r, const char *name, bool temporary,
                        enum pg_repl_snapshot snap, struct pg_repl_slot *out, struct zetl_err *err)
{
        bool export = snap == PG_REPL_SNAPSHOT_EXPORT;
        const char *tmp = temporary ? " TEMPORARY" : "";
        PGresult *res = NULL;
        char cmd[256];
        int c_point, c_snap;
        int rc;

        memset(out, 0, sizeof(*out));
        rc = check_slot_name(name, err);
        if (rc)
                goto out;
        /* PostgreSQL 15 took options in parentheses; the old words still work before it. */
        if (PQserverVersion(r->conn) >= 150000)
                snprintf(cmd, sizeof(cmd),
                         "CREATE_REPLICATION_SLOT \"%s\"%s LOGICAL pgoutput (SNAPSHOT '%s')", name,
                         tmp, export ? "export" : "nothing");
        else
                snprintf(cmd, sizeof(cmd), "CREATE_REPLICATION_SLOT \"%s\"%s LOGICAL pgoutput %s",
                         name, tmp, export ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
        rc = run(r, cmd, PGRES_TUPLES_OK, "CREATE_REPLICATION_SLOT", &res, err);
        if (rc)
                goto out;
        c_point = PQfnumber(res, "consistent_point");
        c_snap = PQfnumber(res, "snapshot_name");
        if (PQntuples(res) != 1 || c_point < 0 || c_snap < 0 || PQgetisnull(res, 0, c_point) ||
            zetl_lsn_parse(PQgetvalue(res, 0, c_point), &out->consistent_point) ||
            (export && PQgetisnull(res, 0, c_snap))) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "PostgreSQL CREATE_REPLICATION_SLOT: unexpected answer");
                goto out_clear;
        }
        snprintf(out->name, sizeof(out->name), "%s", name);
        copy_field(out->snapshot_name, sizeof(out->snapshot_name), res, c_snap);
out_clear:
        PQclear(res);
out:
        return rc;
}

int pg_repl_drop_slot(struct pg_repl *r, const char *name, struct zetl_err *err)
{
        char cmd[128];
        int rc = check_slot_name(name, err);

        if (rc)
                return rc;
        snprintf(cmd, sizeof(cmd), "DROP_REPLICATION_SLOT \"%s\" WAIT", name);
        return run(r, cmd, PGRES_COMMAND_OK, "DROP_REPLICATION_SLOT", NULL, err);
}

/*
 * publication_names is a string literal holding a comma-separated list that
 * pgoutput splits as identifiers: quote each name as an identifier ("" for
 * "), then the whole list as a literal ('' for ').
 */
static char *put_publications(char *p, const char *const *names, size_t n)
{
        *p++ = '\'';
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        *p++ = ',';
                *p++ = '"';
                for (const char *s = names[i]; *s; s++) {
                        if (*s == '"')
                                *p++ = '"';
                        else if (*s == '\'')
                                *p++ = '\'';
                        *p++ = *s;
                }
                *p++ = '"';
        }
        *p++ = '\'';
        *p = '\0';
        return p;
}

bool pg_repl_size_ok(const char *v)
{
        size_t n = strspn(v, "0123456789");

        return n > 0 && strlen(v) < 32 &&
               (!v[n] || !strcmp(v + n, "kB") || !strcmp(v + n, "MB") || !strcmp(v + n, "GB"));
}

static int check_start(const struct pg_repl *r, const struct pg_repl_start_opts *o,
                       size_t *names_len, struct zetl_err *err)
{
        int version = PQserverVersion(r->conn);
        int rc = check_slot_name(o->slot, err);

        if (rc)
                return rc;
        if (o->decoding_work_mem && !pg_repl_size_ok(o->decoding_work_mem))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "logical_decoding_work_mem \"%.40s\": expected a size such "
                                    "as 16MB",
                                    o->decoding_work_mem);
        if (o->proto_version != 1 && o->proto_version != 2)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "pgoutput protocol version %d: zetl speaks 1 and 2",
                                    o->proto_version);
        if (version < 140000 && (o->proto_version > 1 || o->binary))
                return zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_CONFIG,
                                    "PostgreSQL %d: pgoutput protocol 2 and binary need 14 or "
                                    "later",
                                    version / 10000);
        if (o->npublications == 0 || !o->publications)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "START_REPLICATION: no publication");
        *names_len = 0;
        for (size_t i = 0; i < o->npublications; i++) {
                size_t n = o->publications[i] ? strlen(o->publications[i]) : 0;

                /* Longer names would be truncated by the server: another publication. */
                if (n == 0 || n >= PG_REPL_NAME_MAX)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                            "publication name %zu: %zu bytes, not 1-63", i + 1, n);
                /* Each byte doubled at worst, plus quotes and comma. */
                *names_len += 2 * n + 8;
        }
        return 0;
}

int pg_repl_start(struct pg_repl *r, const struct pg_repl_start_opts *o, struct zetl_err *err)
{
        char lsn[32];
        char *cmd = NULL, *p;
        size_t names_len = 0, size;
        int rc = check_start(r, o, &names_len, err);

        if (rc)
                goto out;
        size = 512 + names_len;
        cmd = malloc(size);
        if (!cmd) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                  "START_REPLICATION: out of memory");
                goto out;
        }
        if (o->decoding_work_mem && PQserverVersion(r->conn) >= 130000) {
                /* How much of a transaction the walsender holds before it
                 * streams it (protocol 2) or spills it to its own files. */
                snprintf(cmd, size, "SET logical_decoding_work_mem = '%.32s'",
                         o->decoding_work_mem);
                if ((rc = run(r, cmd, PGRES_COMMAND_OK, "SET logical_decoding_work_mem", NULL,
                              err)))
                        goto out;
        }
        zetl_lsn_format(o->start_lsn, lsn, sizeof(lsn));
        p = cmd + snprintf(cmd, size,
                           "START_REPLICATION SLOT \"%s\" LOGICAL %s (proto_version '%d', "
                           "publication_names ",
                           o->slot, lsn, o->proto_version);
        p = put_publications(p, o->publications, o->npublications);
        /* Before 14 pgoutput rejects the options it does not know. */
        if (PQserverVersion(r->conn) >= 140000)
                snprintf(p, size - (size_t)(p - cmd), ", binary '%s', messages 'true'%s)",
                         o->binary ? "true" : "false",
                         o->proto_version >= 2 ? ", streaming 'on'" : "");
        else
                snprintf(p, size - (size_t)(p - cmd), ")");
        rc = run(r, cmd, PGRES_COPY_BOTH, "START_REPLICATION", NULL, err);
        if (rc)
                goto out;
        r->copying = true;
out:
        free(cmd);
        return rc;
}

/* Turn one CopyData message into an event; the buffer stays with r. */
static int parse_copydata(const uint8_t *m, int n, struct pg_repl_event *ev, struct zetl_err *err)
{
        switch (m[0]) {
        case 'w':
                if (n < XLOGDATA_HDR)
                        break;
                ev->type = PG_REPL_XLOGDATA;
                ev->wal_start = get_be64(m + 1);
                ev->wal_end = get_be64(m + 9);
                ev->send_time = (int64_t)get_be64(m + 17);
                ev->data = m + XLOGDATA_HDR;
                ev->len = (size_t)n - XLOGDATA_HDR;
                return 0;
        case 'k':
                if (n < KEEPALIVE_LEN)
                        break;
                ev->type = PG_REPL_KEEPALIVE;
                ev->wal_end = get_be64(m + 1);
                ev->send_time = (int64_t)get_be64(m + 9);
                ev->reply_requested = m[17] != 0;
                return 0;
        default:
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "PostgreSQL replication stream: unknown CopyData message "
                                    "0x%02x (%d bytes)",
                                    m[0], n);
        }
        return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                            "PostgreSQL replication stream: '%c' message of %d bytes is too short",
                            m[0], n);
}

int pg_repl_next(struct pg_repl *r, int timeout_ms, struct pg_repl_event *ev, struct zetl_err *err)
{
        int64_t deadline = timeout_ms >= 0 ? mono_ms() + timeout_ms : -1;

        memset(ev, 0, sizeof(*ev));
        PQfreemem(r->buf);
        r->buf = NULL;
        if (!r->copying)
                return zetl_err_set(err, ZETL_ESTATE, ZETL_ERRC_FATAL,
                                    "PostgreSQL replication stream: not streaming");
        for (;;) {
                struct pollfd pfd = { .fd = PQsocket(r->conn), .events = POLLIN };
                int n = PQgetCopyData(r->conn, &r->buf, 1);
                int wait = -1;

                if (n > 0)
                        return parse_copydata((const uint8_t *)r->buf, n, ev, err);
                if (n == -1)
                        return copy_ended(r, mono_ms() + CLOSE_TIMEOUT_MS, false, "replication",
                                          err);
                if (n < -1) {
                        r->copying = false;
                        return conn_fail(r, ZETL_ECONN, ZETL_ERRC_TRANSIENT, "replication", err);
                }
                if (deadline >= 0) {
                        int64_t rest = deadline - mono_ms();
                        if (rest <= 0)
                                break;
                        wait = rest > 60000 ? 60000 : (int)rest;
                }
                if (pfd.fd < 0)
                        return conn_fail(r, ZETL_ECONN, ZETL_ERRC_TRANSIENT, "replication", err);
                n = poll(&pfd, 1, wait);
                if (n < 0 && errno == EINTR)
                        break; /* a signal: let the caller look at its stop flag */
                if (n < 0)
                        return zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_TRANSIENT,
                                            "PostgreSQL replication: poll: %s", strerror(errno));
                if (n > 0 && !PQconsumeInput(r->conn))
                        return conn_fail(r, ZETL_ECONN, ZETL_ERRC_TRANSIENT, "replication", err);
        }
        ev->type = PG_REPL_TIMEOUT;
        return 0;
}

int pg_repl_send_status(struct pg_repl *r, uint64_t write, uint64_t flush, uint64_t apply,
                        bool request_reply, struct zetl_err *err)
{
        uint8_t m[STATUS_LEN];

        if (!r->copying)
                return zetl_err_set(err, ZETL_ESTATE, ZETL_ERRC_FATAL,
                                    "PostgreSQL status update: not streaming");
        m[0] = 'r';
        put_be64(m + 1, write);
        put_be64(m + 9, flush);
        put_be64(m + 17, apply);
        put_be64(m + 25, (uint64_t)pg_now_us());
        m[33] = request_reply ? 1 : 0;
        if (PQputCopyData(r->conn, (const char *)m, sizeof(m)) != 1 || PQflush(r->conn) != 0)
                return conn_fail(r, ZETL_ECONN, ZETL_ERRC_TRANSIENT, "status update", err);
        return 0;
}

int pg_repl_end_copy(struct pg_repl *r, int timeout_ms, struct zetl_err *err)
{
        int64_t deadline = timeout_ms >= 0 ? mono_ms() + timeout_ms : -1;
        int rc = 0;

        PQfreemem(r->buf);
        r->buf = NULL;
        if (!r->copying)
                return 0;
        if (PQputCopyEnd(r->conn, NULL) != 1 || PQflush(r->conn) != 0) {
                r->copying = false;
                return conn_fail(r, ZETL_ECONN, ZETL_ERRC_TRANSIENT, "end of replication", err);
        }
        /* Whatever the server sent before it saw our CopyDone is dropped. */
        for (;;) {
                char *buf = NULL;
                int n = PQgetCopyData(r->conn, &buf, 1);
                struct pollfd pfd = { .fd = PQsocket(r->conn), .events = POLLIN };
                int wait = -1;

                PQfreemem(buf);
                if (n > 0)
                        continue;
                if (n == -1)
                        return copy_ended(r, deadline, true, "end of replication", err);
                if (n < -1)
                        break;
                if (deadline >= 0) {
                        int64_t rest = deadline - mono_ms();
                        if (rest <= 0) {
                                r->copying = false;
                                return zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_TRANSIENT,
                                                    "PostgreSQL end of replication: the server "
                                                    "did not confirm in time");
                        }
                        wait = rest > 60000 ? 60000 : (int)rest;
                }
                if (pfd.fd < 0 || (poll(&pfd, 1, wait) < 0 && errno != EINTR) ||
                    !PQconsumeInput(r->conn))
                        break;
        }
        r->copying = false;
        rc = conn_fail(r, ZETL_ECONN, ZETL_ERRC_TRANSIENT, "end of replication", err);
        return rc;
}
