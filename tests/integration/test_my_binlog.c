/*
 * my_conn and my_binlog against the harness's MariaDB 10.11: the set-up
 * checks (the harness user passes; a user with SELECT only is told which
 * privileges it lacks and the GRANT that fixes it), a consistent snapshot
 * whose coordinates match the server's, then a known workload (a transaction
 * of inserts, an update, a delete, an ALTER TABLE, FLUSH BINARY LOGS, one
 * more insert) read back from the snapshot position event by event; resuming
 * from a GTID and from a file/offset; a heartbeat when idle; an interrupt
 * from another thread; a second reader with the same server_id; a purged
 * position; a server restart. One line per check.
 *
 * The expected shapes come from the binlog format as MariaDB documents it: a
 * transaction is a GTID event (standing for BEGIN: MariaDB writes no BEGIN
 * query) then TABLE_MAP + row events per statement, then XID; a DDL
 * statement is a standalone GTID then its QUERY; a new file starts with
 * FORMAT_DESCRIPTION and GTID_LIST.
 *
 * Needs ZETL_TEST_MY_URI (a user with ALL PRIVILEGES) and, for the restart,
 * ZETL_TEST_DIR and ZETL_SRC_ROOT; exits 77 without the URI. It purges binary
 * logs and restarts the server: tests that run after it must not rely on
 * binlogs older than their own start.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>

#include "../../connectors/mysql/my_binlog.h"
#include "../../connectors/mysql/my_conn.h"

#define DB        "mybinlog_t"
#define TABLE     "items"
#define WEAK_USER "mybinlog_weak"
#define WEAK_PW   "weak-pw"
#define ALTER_SQL "ALTER TABLE " DB "." TABLE " ADD COLUMN note VARCHAR(20)"
#define MAX_RECS  128
#define NAME      "test_my_binlog"
#define TIMEOUT_S 15

static int checks, failures;
static struct my_conn_params params;
static MYSQL *sql;
static MYSQL *root; /* root over the unix socket: the harness's zetl user cannot GRANT */

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
        struct zetl_err err = { 0 };

        if (my_exec(sql, q, "test statement", &err) == 0)
                return true;
        printf("# SQL failed: %s\n#   %s\n", q, err.msg);
        return false;
}

static MYSQL *root_open(void)
{
        const char *sock = getenv("ZETL_TEST_MY_SOCK");
        MYSQL *m;

        if (!sock || !*sock || !(m = mysql_init(NULL)))
                return NULL;
        if (!mysql_real_connect(m, "localhost", "root", NULL, NULL, 0, sock, 0)) {
                printf("# root over %s: %s\n", sock, mysql_error(m));
                mysql_close(m);
                return NULL;
        }
        return m;
}

/* A statement as root, kept out of the binlog. */
static bool root_ok(const char *q)
{
        struct zetl_err err = { 0 };

        if (!root || my_exec(root, "SET SESSION sql_log_bin = 0", "test", &err) ||
            my_exec(root, q, "test statement", &err)) {
                printf("# root SQL failed: %s\n#   %s\n", q, err.msg);
                return false;
        }
        return true;
}

/* Where the server's binlog ends now, and its GTID position. */
static bool master_pos(struct my_binlog_pos *out)
{
        struct zetl_err err = { 0 };
        char off[32];
        bool found;

        memset(out, 0, sizeof(*out));
        if (my_query_value(sql, "SHOW MASTER STATUS", "test", 0, out->file, sizeof(out->file),
                           &found, &err) ||
            my_query_value(sql, "SHOW MASTER STATUS", "test", 1, off, sizeof(off), &found, &err) ||
            my_query_value(sql, "SELECT @@gtid_binlog_pos", "test", 0, out->gtid, sizeof(out->gtid),
                           &found, &err)) {
                printf("# master status: %s\n", err.msg);
                return false;
        }
        out->offset = strtoull(off, NULL, 10);
        return true;
}

/* The sequence number of the last GTID of domain 0 in a position "0-1-N". */
static uint64_t gtid_seq(const char *gtid)
{
        const char *dash = strrchr(gtid, '-');

        return dash ? strtoull(dash + 1, NULL, 10) : 0;
}

static struct my_binlog *open_reader(const struct my_binlog_pos *start, uint32_t salt,
                                     unsigned heartbeat_ms, struct zetl_err *err)
{
        struct my_binlog_opts o = { .server_id = my_binlog_server_id(NAME, salt),
                                    .heartbeat_ms = heartbeat_ms };
        struct my_binlog *r = NULL;

        if (my_binlog_open(&params, start, &o, &r, err))
                return NULL;
        return r;
}

/* ---- what the reader gave, copied out of its short-lived buffers ----------------- */

struct rec {
        uint8_t type;
        bool artificial;
        uint16_t flags;
        uint64_t log_pos, start_pos, order;
        char file[MY_BINLOG_FILE_MAX];
        char text[256]; /* QUERY: sql; ROTATE/HEARTBEAT: file; TABLE_MAP: db.table */
        uint64_t num;   /* GTID: seq; ROTATE/HEARTBEAT: pos */
        uint32_t domain, server_id;
        uint8_t gflags;
};

/* TABLE_MAP's names, parsed by hand: 6-byte table id, 2 flag bytes, then
 * length-prefixed, NUL-terminated database and table names. */
static void table_map_names(const struct my_event *ev, char *buf, size_t len)
{
        const uint8_t *b = ev->body;
        size_t n = ev->body_len, dl, tl;

        snprintf(buf, len, "?");
        if (n < 9)
                return;
        dl = b[8];
        if (9 + dl + 2 > n || b[9 + dl] != 0)
                return;
        tl = b[10 + dl];
        if (11 + dl + tl + 1 > n || b[11 + dl + tl] != 0)
                return;
        snprintf(buf, len, "%.*s.%.*s", (int)dl, (const char *)b + 9, (int)tl,
                 (const char *)b + 11 + dl);
}

static void record(const struct my_event *ev, struct rec *r)
{
        memset(r, 0, sizeof(*r));
        r->type = ev->type;
        r->artificial = ev->artificial;
        r->flags = ev->flags;
        r->log_pos = ev->log_pos;
        r->start_pos = ev->start_pos;
        r->server_id = ev->server_id;
        snprintf(r->file, sizeof(r->file), "%s", ev->file);
        if (!ev->artificial)
                my_binlog_order(ev->file, ev->start_pos, &r->order);
        switch (ev->type) {
        case MY_EV_QUERY:
                snprintf(r->text, sizeof(r->text), "%.*s", (int)ev->u.query.sql_len,
                         ev->u.query.sql);
                break;
        case MY_EV_ROTATE:
                snprintf(r->text, sizeof(r->text), "%s", ev->u.rotate.file);
                r->num = ev->u.rotate.pos;
                break;
        case MY_EV_HEARTBEAT:
                snprintf(r->text, sizeof(r->text), "%s", ev->u.heartbeat.file);
                r->num = ev->u.heartbeat.pos;
                break;
        case MY_EV_GTID:
                r->num = ev->u.gtid.seq;
                r->domain = ev->u.gtid.domain_id;
                r->gflags = ev->u.gtid.flags;
                break;
        case MY_EV_TABLE_MAP:
                table_map_names(ev, r->text, sizeof(r->text));
                break;
        default:
                break;
        }
}

static const char *type_name(uint8_t t)
{
        switch (t) {
        case MY_EV_QUERY:
                return "QUERY";
        case MY_EV_ROTATE:
                return "ROTATE";
        case MY_EV_FORMAT_DESCRIPTION:
                return "FORMAT_DESCRIPTION";
        case MY_EV_XID:
                return "XID";
        case MY_EV_TABLE_MAP:
                return "TABLE_MAP";
        case MY_EV_WRITE_ROWS_V1:
                return "WRITE_ROWS_V1";
        case MY_EV_UPDATE_ROWS_V1:
                return "UPDATE_ROWS_V1";
        case MY_EV_DELETE_ROWS_V1:
                return "DELETE_ROWS_V1";
        case MY_EV_HEARTBEAT:
                return "HEARTBEAT";
        case MY_EV_GTID:
                return "GTID";
        case MY_EV_GTID_LIST:
                return "GTID_LIST";
        case MY_EV_BINLOG_CHECKPOINT:
                return "BINLOG_CHECKPOINT";
        default:
                return "OTHER";
        }
}

static void print_rec(const struct rec *r)
{
        printf("#   %-18s %s %s:%" PRIu64 "-%" PRIu64 " %s %" PRIu64 "\n", type_name(r->type),
               r->artificial ? "art" : "   ", r->file, r->start_pos, r->log_pos, r->text, r->num);
}

/*
 * Read events until one matching stop (type and, when given, GTID seq), at
 * most MAX_RECS, skipping heartbeats. Returns how many were recorded, or -1
 * on an error (in err).
 */
static int read_until(struct my_binlog *r, uint8_t stop_type, uint64_t after_seq, struct rec *recs,
                      struct zetl_err *err)
{
        time_t deadline = time(NULL) + TIMEOUT_S;
        bool armed = after_seq == 0;
        struct my_event ev;
        int n = 0;

        while (n < MAX_RECS && time(NULL) < deadline) {
                if (my_binlog_next(r, &ev, err))
                        return -1;
                if (ev.type == MY_EV_HEARTBEAT)
                        continue;
                record(&ev, &recs[n]);
                if (ev.type == MY_EV_GTID && ev.u.gtid.seq == after_seq)
                        armed = true;
                if (armed && ev.type == stop_type)
                        return n + 1;
                n++;
        }
        zetl_err_set(err, ZETL_ELIMIT, ZETL_ERRC_FATAL, "did not see the expected event");
        return -1;
}

/* ---- checks ----------------------------------------------------------------------- */

static void check_pure(void)
{
        struct my_conn_params p;
        struct my_binlog_pos pos, back;
        struct zetl_err err = { 0 };
        uint64_t order;
        char tok[256];
        int rc;

        rc = my_conn_parse("mariadb://u:p%40ss@db.example:3307/sh%6Fp?ssl-mode=required", &p, &err);
        check(rc == 0 && strcmp(p.host, "db.example") == 0 && p.port == 3307 &&
                      strcmp(p.user, "u") == 0 && strcmp(p.password, "p@ss") == 0 &&
                      strcmp(p.db, "shop") == 0 && p.ssl_mode == MY_SSL_REQUIRED,
              "parse a mariadb:// URI with port, database and ssl-mode %s", why(&err));
        my_conn_params_free(&p);
        rc = my_conn_parse("mysql://u@h", &p, &err);
        check(rc == 0 && p.port == 3306 && !p.password && !p.db && p.ssl_mode == MY_SSL_PREFERRED &&
                      p.connect_timeout_s == 10,
              "a bare mysql:// URI gets port 3306, no database, ssl-mode PREFERRED");
        my_conn_params_free(&p);
        err = (struct zetl_err){ 0 };
        rc = my_conn_parse("mysql://u:secret@h/db?sslmode=on", &p, &err);
        check(rc == ZETL_EINVAL && err.cls == ZETL_ERRC_CONFIG && strstr(err.msg, "sslmode") &&
                      !strstr(err.msg, "secret"),
              "an unknown URI parameter is a config error naming it, not the password %s",
              why(&err));
        rc = my_conn_parse("mysql://h:3306/db", &p, &err);
        check(rc == ZETL_EINVAL && err.cls == ZETL_ERRC_CONFIG, "a URI without a user is refused");
        rc = my_conn_parse("postgresql://u@h/db", &p, &err);
        check(rc == ZETL_EINVAL, "a postgresql:// URI is not a MySQL source");

        check(my_binlog_order("bin.000042", 1234, &order) == 0 &&
                      order == ((uint64_t)42 << 32 | 1234),
              "order key of bin.000042:1234 is 42 << 32 | 1234");
        check(my_binlog_order("mysql-bin.1000000", 4, &order) == 0 &&
                      order == ((uint64_t)1000000 << 32 | 4),
              "order key of a 7-digit suffix");
        check(my_binlog_order("binlog", 4, &order) == ZETL_EINVAL &&
                      my_binlog_order("bin.000001", (uint64_t)1 << 32, &order) == ZETL_EINVAL &&
                      my_binlog_order("bin.99999999999", 4, &order) == ZETL_EINVAL,
              "order key refuses a name without a number and parts past 32 bits");

        memset(&pos, 0, sizeof(pos));
        snprintf(pos.file, sizeof(pos.file), "bin.000003");
        pos.offset = 1234;
        snprintf(pos.gtid, sizeof(pos.gtid), "0-1-9,1-2-5");
        my_binlog_pos_format(&pos, tok, sizeof(tok));
        rc = my_binlog_pos_parse(tok, &back, &err);
        check(strcmp(tok, "bin.000003:1234 gtid=0-1-9,1-2-5") == 0 && rc == 0 &&
                      strcmp(back.file, pos.file) == 0 && back.offset == 1234 &&
                      strcmp(back.gtid, pos.gtid) == 0,
              "position token '%s' round-trips", tok);
        rc = my_binlog_pos_parse("gtid=0-1-9", &back, &err);
        check(rc == 0 && !back.file[0] && strcmp(back.gtid, "0-1-9") == 0,
              "a GTID-only token parses");
        check(my_binlog_pos_parse("bin.000003", &back, &err) == ZETL_EINVAL &&
                      my_binlog_pos_parse("gtid=0-1-9'; DROP", &back, &err) == ZETL_EINVAL,
              "tokens without an offset or with a bad GTID are refused");
        check(my_binlog_server_id(NAME, 0) != my_binlog_server_id(NAME, 1) &&
                      my_binlog_server_id(NAME, 0) >= 1000 &&
                      my_binlog_server_id(NAME, 0) == my_binlog_server_id(NAME, 0),
              "reader server ids are stable, distinct per salt and never small");
}

static void check_setup(void)
{
        struct my_setup_report rep;
        struct zetl_err err = { 0 };
        const struct my_check_item *it;
        char text[4096];
        int rc = my_setup_check(sql, &rep, &err);

        check(rc == 0, "set-up checks run on the harness server %s", why(&err));
        if (rc)
                return;
        printf("# server: %s\n", my_setup_item(&rep, "server")->detail);
        printf("# report: %s\n", my_setup_format(&rep, text, sizeof(text)));
        check(rep.server.flavor == MY_FLAVOR_MARIADB && rep.server.major >= 10,
              "flavor MariaDB, version %d.%d.%d", rep.server.major, rep.server.minor,
              rep.server.patch);
        check(rep.nfail == 0 && rep.nwarn == 0, "the harness server passes every check");
        for (const char *const *n =
                     (const char *const[]){ "log_bin", "binlog_format", "binlog_row_image",
                                            "binlog_row_metadata", "privileges", "binlog_retention",
                                            NULL };
             *n; n++) {
                it = my_setup_item(&rep, *n);
                check(it && it->level == MY_CHECK_OK, "check %s is OK: %s", *n,
                      it ? it->detail : "missing");
        }
}

/* Weaker settings, set for a moment and restored: each is reported with its fix. */
static void check_setup_warnings(void)
{
        static const char *const weaken[] = {
                "SET GLOBAL binlog_format = 'MIXED'",
                "SET GLOBAL binlog_row_image = 'NOBLOB'",
                "SET GLOBAL binlog_row_metadata = 'MINIMAL'",
                "SET GLOBAL binlog_expire_logs_seconds = 3600",
        };
        static const char *const restore[] = {
                "SET GLOBAL binlog_format = 'ROW'",
                "SET GLOBAL binlog_row_image = 'FULL'",
                "SET GLOBAL binlog_row_metadata = 'FULL'",
                "SET GLOBAL binlog_expire_logs_seconds = 0",
        };
        const struct my_check_item *f, *img, *meta, *ret;
        struct my_setup_report rep;
        struct zetl_err err = { 0 };
        bool set = true;
        int rc;

        for (size_t i = 0; i < sizeof(weaken) / sizeof(weaken[0]); i++)
                set = set && sql_ok(weaken[i]);
        rc = set ? my_setup_check(sql, &rep, &err) : -1;
        for (size_t i = 0; i < sizeof(restore) / sizeof(restore[0]); i++)
                sql_ok(restore[i]);
        check(rc == 0, "set-up checks run with weaker settings %s", why(&err));
        if (rc)
                return;
        f = my_setup_item(&rep, "binlog_format");
        img = my_setup_item(&rep, "binlog_row_image");
        meta = my_setup_item(&rep, "binlog_row_metadata");
        ret = my_setup_item(&rep, "binlog_retention");
        check(rep.nfail == 1 && f && f->level == MY_CHECK_FAIL && strstr(f->detail, "MIXED") &&
                      strncmp(f->fix, "SET GLOBAL binlog_format = 'ROW';", 33) == 0,
              "binlog_format=MIXED fails: %s", f ? f->fix : "");
        check(img && img->level == MY_CHECK_WARN && strstr(img->detail, "NOBLOB") &&
                      strstr(img->detail, "unchanged") &&
                      strncmp(img->fix, "SET GLOBAL binlog_row_image = 'FULL';", 37) == 0,
              "binlog_row_image=NOBLOB warns what it implies: %s", img ? img->detail : "");
        check(meta && meta->level == MY_CHECK_WARN &&
                      strncmp(meta->fix, "SET GLOBAL binlog_row_metadata = 'FULL';", 40) == 0,
              "binlog_row_metadata=MINIMAL warns: %s", meta ? meta->fix : "");
        check(ret && ret->level == MY_CHECK_WARN && strstr(ret->detail, "1.0 hours") &&
                      strstr(ret->detail, "resync") &&
                      strncmp(ret->fix, "SET GLOBAL binlog_expire_logs_seconds = 604800;", 47) == 0,
              "binlogs kept an hour warn: %s", ret ? ret->detail : "");
        check(rep.nwarn == 3, "three warnings, one failure (%d, %d)", rep.nwarn, rep.nfail);
}

static void check_weak_user(void)
{
        struct my_conn_params weak = params;
        struct my_setup_report rep;
        struct zetl_err err = { 0 };
        const struct my_check_item *it;
        struct my_binlog_pos start;
        struct my_binlog *r;
        struct my_event ev;
        MYSQL *m = NULL;
        int rc;

        if (!root)
                root = root_open();
        if (!root) {
                printf("# skip the SELECT-only user: no root connection over "
                       "ZETL_TEST_MY_SOCK\n");
                return;
        }
        if (!root_ok("CREATE USER '" WEAK_USER "'@'127.0.0.1' IDENTIFIED BY '" WEAK_PW "'") ||
            !root_ok("GRANT SELECT ON *.* TO '" WEAK_USER "'@'127.0.0.1'")) {
                check(false, "create a user with SELECT only");
                return;
        }
        weak.user = WEAK_USER;
        weak.password = WEAK_PW;
        rc = my_conn_open(&weak, &m, &err);
        check(rc == 0, "the SELECT-only user connects %s", why(&err));
        if (rc)
                return;
        rc = my_setup_check(m, &rep, &err);
        it = rc ? NULL : my_setup_item(&rep, "privileges");
        check(it && it->level == MY_CHECK_FAIL && rep.nfail == 1,
              "the SELECT-only user fails the privilege check only: %s", it ? it->detail : err.msg);
        check(it && strstr(it->detail, "REPLICATION SLAVE") &&
                      strstr(it->detail, "BINLOG MONITOR") && !strstr(it->detail, "SELECT"),
              "the report names REPLICATION SLAVE and BINLOG MONITOR as missing");
        check(it && strcmp(it->fix, "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '" WEAK_USER
                                    "'@'127.0.0.1';") == 0,
              "the fix is the GRANT statement: %s", it ? it->fix : "");
        my_conn_close(m);

        /* The server refuses the dump itself too, as a config error. */
        if (!master_pos(&start))
                return;
        start.gtid[0] = '\0';
        {
                struct my_binlog_opts o = { .server_id = my_binlog_server_id(NAME, 90) };

                time_t deadline = time(NULL) + TIMEOUT_S;

                rc = my_binlog_open(&weak, &start, &o, &r, &err);
                if (rc == 0) {
                        while (time(NULL) < deadline && (rc = my_binlog_next(r, &ev, &err)) == 0)
                                ;
                        my_binlog_close(r);
                }
        }
        check(rc != 0 && err.cls == ZETL_ERRC_CONFIG,
              "a binlog dump without REPLICATION SLAVE is a config error %s", why(&err));
}

/* The workload and where each step ended. */
struct workload {
        struct my_binlog_pos snap;     /* the consistent snapshot's coordinates */
        struct my_binlog_pos after[7]; /* after step i (1..6) */
        char rotated_to[MY_BINLOG_FILE_MAX];
};

static bool run_workload(struct workload *w)
{
        return sql_ok("BEGIN") &&
               sql_ok("INSERT INTO " DB "." TABLE " VALUES (2, 'two', 2), (3, 'three', 3)") &&
               sql_ok("INSERT INTO " DB "." TABLE " VALUES (4, 'four', 4)") && sql_ok("COMMIT") &&
               master_pos(&w->after[1]) &&
               sql_ok("UPDATE " DB "." TABLE " SET qty = qty + 10 WHERE id = 2") &&
               master_pos(&w->after[2]) && sql_ok("DELETE FROM " DB "." TABLE " WHERE id = 3") &&
               master_pos(&w->after[3]) && sql_ok(ALTER_SQL) && master_pos(&w->after[4]) &&
               sql_ok("FLUSH BINARY LOGS") && master_pos(&w->after[5]) &&
               sql_ok("INSERT INTO " DB "." TABLE " (id, name, qty) VALUES (5, 'after', 5)") &&
               master_pos(&w->after[6]);
}

static bool check_snapshot(struct workload *w)
{
        struct my_binlog_pos now, lock_pos;
        struct zetl_err err = { 0 };
        char count[16];
        MYSQL *snap = NULL;
        bool found;
        int rc;

        if (!sql_ok("CREATE DATABASE " DB) ||
            !sql_ok("CREATE TABLE " DB "." TABLE " (id INT PRIMARY KEY, name VARCHAR(32), "
                    "qty INT) ENGINE=InnoDB") ||
            !sql_ok("INSERT INTO " DB "." TABLE " VALUES (1, 'before', 1)"))
                return false;
        if ((rc = my_conn_open(&params, &snap, &err))) {
                check(false, "snapshot connection %s", why(&err));
                return false;
        }
        /* The locking method first, then the lock-free one: no writes in between. */
        rc = my_snapshot_start(snap, MY_SNAPSHOT_LOCK, &lock_pos, &err);
        check(rc == 0 && lock_pos.file[0] && lock_pos.offset > 4,
              "snapshot with FLUSH TABLES WITH READ LOCK at %s:%" PRIu64 " %s", lock_pos.file,
              lock_pos.offset, why(&err));
        my_exec(snap, "COMMIT", "test", &err);
        rc = my_snapshot_start(snap, MY_SNAPSHOT_AUTO, &w->snap, &err);
        check(rc == 0 && master_pos(&now) && strcmp(now.file, w->snap.file) == 0 &&
                      now.offset == w->snap.offset && strcmp(now.gtid, w->snap.gtid) == 0 &&
                      strcmp(lock_pos.file, w->snap.file) == 0 &&
                      lock_pos.offset == w->snap.offset && strcmp(lock_pos.gtid, now.gtid) == 0,
              "consistent snapshot at %s:%" PRIu64 " gtid %s, as SHOW MASTER STATUS says %s",
              w->snap.file, w->snap.offset, w->snap.gtid, why(&err));
        if (rc) {
                my_conn_close(snap);
                return false;
        }
        if (!run_workload(w)) {
                check(false, "run the workload");
                my_conn_close(snap);
                return false;
        }
        rc = my_query_value(snap, "SELECT COUNT(*) FROM " DB "." TABLE, "test", 0, count,
                            sizeof(count), &found, &err);
        check(rc == 0 && strcmp(count, "1") == 0,
              "the snapshot sees only the row from before it (%s rows)", count);
        my_exec(snap, "COMMIT", "test", &err);
        my_conn_close(snap);
        snprintf(w->rotated_to, sizeof(w->rotated_to), "%s", w->after[5].file);
        check(strcmp(w->after[4].file, w->snap.file) == 0 &&
                      strcmp(w->rotated_to, w->snap.file) != 0 && w->after[5].offset > 4,
              "FLUSH BINARY LOGS moved the server from %s to %s", w->snap.file, w->rotated_to);
        return true;
}

/* What the stream must hold between the snapshot and the end of the workload. */
static const uint8_t expected[] = {
        /* step 1: one transaction, two INSERT statements */
        MY_EV_GTID,
        MY_EV_TABLE_MAP,
        MY_EV_WRITE_ROWS_V1,
        MY_EV_TABLE_MAP,
        MY_EV_WRITE_ROWS_V1,
        MY_EV_XID,
        /* step 2: UPDATE */
        MY_EV_GTID,
        MY_EV_TABLE_MAP,
        MY_EV_UPDATE_ROWS_V1,
        MY_EV_XID,
        /* step 3: DELETE */
        MY_EV_GTID,
        MY_EV_TABLE_MAP,
        MY_EV_DELETE_ROWS_V1,
        MY_EV_XID,
        /* step 4: ALTER TABLE */
        MY_EV_GTID,
        MY_EV_QUERY,
        /* step 5: FLUSH BINARY LOGS: the old file ends, the new one begins */
        MY_EV_ROTATE,
        MY_EV_FORMAT_DESCRIPTION,
        MY_EV_GTID_LIST,
        /* step 6: INSERT */
        MY_EV_GTID,
        MY_EV_TABLE_MAP,
        MY_EV_WRITE_ROWS_V1,
        MY_EV_XID,
};
#define NEXPECTED (sizeof(expected) / sizeof(expected[0]))

static void check_stream(const struct workload *w)
{
        static struct rec recs[MAX_RECS];
        struct rec *seq[MAX_RECS], *first_art = NULL;
        struct zetl_err err = { 0 };
        struct my_binlog *r;
        struct my_event ev;
        uint64_t base = gtid_seq(w->snap.gtid), prev_order = 0;
        size_t nseq = 0;
        bool same = true, ordered = true;
        char got[1024] = "";
        int n;

        r = open_reader(&w->snap, 1, 1000, &err);
        check(r != NULL, "open the reader at the snapshot position %s", why(&err));
        if (!r)
                return;
        n = read_until(r, MY_EV_XID, gtid_seq(w->after[6].gtid), recs, &err);
        check(n > 0, "read up to the last transaction's XID (%d events) %s", n, why(&err));
        if (n <= 0)
                goto out;
        for (int i = 0; i < n; i++) {
                print_rec(&recs[i]);
                if (recs[i].artificial) {
                        if (!first_art)
                                first_art = &recs[i];
                        continue;
                }
                /* Checkpoints are written when InnoDB catches up: their place varies. */
                if (recs[i].type == MY_EV_BINLOG_CHECKPOINT)
                        continue;
                if (nseq < MAX_RECS)
                        seq[nseq++] = &recs[i];
                if (recs[i].order <= prev_order)
                        ordered = false;
                prev_order = recs[i].order;
        }
        for (size_t i = 0; i < nseq; i++) {
                size_t l = strlen(got);

                snprintf(got + l, sizeof(got) - l, "%s%s", i ? " " : "", type_name(seq[i]->type));
                if (i >= NEXPECTED || seq[i]->type != expected[i])
                        same = false;
        }
        check(first_art && first_art->type == MY_EV_ROTATE &&
                      strcmp(first_art->text, w->snap.file) == 0 &&
                      first_art->num == w->snap.offset,
              "the stream opens with an artificial ROTATE to the snapshot's %s:%" PRIu64,
              w->snap.file, w->snap.offset);
        check(same && nseq == NEXPECTED, "event kinds in order: %s", got);
        if (!same || nseq != NEXPECTED)
                goto out;
        check(ordered, "order keys grow strictly across the stream and the rotation");
        check(seq[0]->start_pos == w->snap.offset && strcmp(seq[0]->file, w->snap.file) == 0,
              "the first event starts exactly at the snapshot position");
        check(seq[0]->num == base + 1 && seq[6]->num == base + 2 && seq[10]->num == base + 3 &&
                      seq[14]->num == base + 4 && seq[19]->num == base + 5 && seq[0]->domain == 0 &&
                      seq[0]->server_id == 1,
              "GTIDs 0-1-%" PRIu64 "..%" PRIu64 " in order", base + 1, base + 5);
        check(!(seq[0]->gflags & MY_GTID_STANDALONE) && (seq[14]->gflags & MY_GTID_STANDALONE) &&
                      (seq[14]->gflags & MY_GTID_DDL),
              "transactions' GTIDs are not standalone; the ALTER's is standalone DDL");
        check(strcmp(seq[1]->text, DB "." TABLE) == 0 && strcmp(seq[7]->text, DB "." TABLE) == 0,
              "TABLE_MAP names %s", seq[1]->text);
        check(strcmp(seq[15]->text, ALTER_SQL) == 0, "QUERY holds the ALTER: %s", seq[15]->text);
        check(seq[5]->log_pos == w->after[1].offset && seq[9]->log_pos == w->after[2].offset &&
                      seq[13]->log_pos == w->after[3].offset &&
                      seq[15]->log_pos == w->after[4].offset,
              "each step ends where SHOW MASTER STATUS said");
        check(strcmp(seq[16]->text, w->rotated_to) == 0 && seq[16]->num == 4 &&
                      strcmp(seq[16]->file, w->snap.file) == 0,
              "ROTATE in %s names %s:%" PRIu64, seq[16]->file, seq[16]->text, seq[16]->num);
        check(strcmp(seq[17]->file, w->rotated_to) == 0 && seq[17]->start_pos == 4 &&
                      strcmp(seq[22]->file, w->rotated_to) == 0 &&
                      seq[22]->log_pos == w->after[6].offset,
              "after the ROTATE the reader is in %s, up to %" PRIu64, w->rotated_to,
              w->after[6].offset);

        /*
         * Idle now: a heartbeat must come within a few seconds, saying where
         * the binlog ends (a BINLOG_CHECKPOINT may have been written since
         * the last step, so ask the server rather than the workload).
         */
        {
                time_t deadline = time(NULL) + 5;
                struct my_binlog_pos now, at;
                bool hb = false;
                int rc = 0;

                while (!hb && time(NULL) < deadline && (rc = my_binlog_next(r, &ev, &err)) == 0)
                        hb = ev.type == MY_EV_HEARTBEAT;
                check(hb && ev.artificial && master_pos(&now) &&
                              strcmp(ev.u.heartbeat.file, now.file) == 0 &&
                              ev.u.heartbeat.pos == now.offset &&
                              strcmp(now.file, w->rotated_to) == 0,
                      "a heartbeat arrives when idle, at the binlog's end %s:%" PRIu64 " %s",
                      hb ? ev.u.heartbeat.file : "?", hb ? ev.u.heartbeat.pos : 0, why(&err));
                my_binlog_where(r, &at);
                check(hb && strcmp(at.file, now.file) == 0 && at.offset == now.offset,
                      "the reader stands at %s:%" PRIu64 ", the end too", at.file, at.offset);
        }
out:
        my_binlog_close(r);
}

/* Resume after step 2 by GTID and by file/offset: both begin with step 3. */
static void check_resume(const struct workload *w)
{
        static struct rec recs[MAX_RECS];
        struct my_binlog_pos by_gtid, by_file;
        uint64_t want = gtid_seq(w->after[2].gtid) + 1;
        struct zetl_err err = { 0 };

        memset(&by_gtid, 0, sizeof(by_gtid));
        snprintf(by_gtid.gtid, sizeof(by_gtid.gtid), "%s", w->after[2].gtid);
        by_file = w->after[2];
        by_file.gtid[0] = '\0';
        for (int k = 0; k < 2; k++) {
                const struct my_binlog_pos *start = k == 0 ? &by_gtid : &by_file;
                struct my_binlog *r = open_reader(start, 2 + (uint32_t)k, 1000, &err);
                int n = r ? read_until(r, MY_EV_GTID, 0, recs, &err) : -1;
                const struct rec *first = n > 0 ? &recs[n - 1] : NULL;
                bool clean = true;

                /* Before it only the dump's preamble: no change of an earlier group. */
                for (int i = 0; i + 1 < n; i++) {
                        print_rec(&recs[i]);
                        if (recs[i].type != MY_EV_ROTATE &&
                            recs[i].type != MY_EV_FORMAT_DESCRIPTION &&
                            recs[i].type != MY_EV_GTID_LIST &&
                            recs[i].type != MY_EV_BINLOG_CHECKPOINT)
                                clean = false;
                }
                check(first && clean && first->num == want &&
                              strcmp(first->file, w->after[2].file) == 0 &&
                              first->start_pos == w->after[2].offset,
                      "resuming from %s %s starts at GTID 0-1-%" PRIu64 " at %s:%" PRIu64 " %s",
                      k == 0 ? "GTID" : "file/offset", k == 0 ? start->gtid : start->file, want,
                      w->after[2].file, w->after[2].offset, why(&err));
                my_binlog_close(r);
        }
}

static void *interrupter(void *arg)
{
        usleep(300 * 1000);
        my_binlog_interrupt(arg);
        return NULL;
}

static void check_interrupt(const struct workload *w)
{
        struct zetl_err err = { 0 };
        struct my_binlog_pos end = w->after[6];
        struct my_binlog *r;
        struct my_event ev;
        pthread_t t;
        time_t t0;
        int rc;

        end.gtid[0] = '\0';
        /* Heartbeats 30 s apart: only the interrupt can end the wait soon. */
        if (!(r = open_reader(&end, 4, 30000, &err))) {
                check(false, "open a reader for the interrupt %s", why(&err));
                return;
        }
        t0 = time(NULL);
        pthread_create(&t, NULL, interrupter, r);
        while (time(NULL) - t0 < TIMEOUT_S && (rc = my_binlog_next(r, &ev, &err)) == 0)
                ;
        pthread_join(t, NULL);
        check(rc == ZETL_ECANCELED && time(NULL) - t0 <= 3,
              "my_binlog_interrupt() from another thread ends a blocked read at once %s",
              why(&err));
        rc = my_binlog_next(r, &ev, &err);
        check(rc == ZETL_ECANCELED, "and the reader stays stopped");
        my_binlog_close(r);
}

/*
 * A TCP relay between a reader and the server that can go silent on demand,
 * as a broken network does: bytes stop flowing, nothing is closed.
 */
struct relay {
        int listen_fd, port;
        atomic_int frozen, quit;
        pthread_t thread;
};

static void *relay_main(void *arg)
{
        struct relay *rl = arg;
        struct sockaddr_in sa = { .sin_family = AF_INET };
        int c = accept(rl->listen_fd, NULL, NULL), s = socket(AF_INET, SOCK_STREAM, 0);
        char buf[65536];

        sa.sin_port = htons((uint16_t)params.port);
        inet_pton(AF_INET, params.host, &sa.sin_addr);
        if (c < 0 || s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0)
                goto out;
        while (!atomic_load(&rl->quit)) {
                struct pollfd p[2] = { { .fd = c, .events = POLLIN },
                                       { .fd = s, .events = POLLIN } };

                if (atomic_load(&rl->frozen)) {
                        usleep(50 * 1000);
                        continue;
                }
                if (poll(p, 2, 100) <= 0)
                        continue;
                for (int i = 0; i < 2; i++) {
                        ssize_t n;

                        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        n = read(p[i].fd, buf, sizeof(buf));
                        if (n <= 0 || write(p[1 - i].fd, buf, (size_t)n) != n)
                                goto out;
                }
        }
out:
        if (c >= 0)
                close(c);
        if (s >= 0)
                close(s);
        return NULL;
}

static bool relay_start(struct relay *rl)
{
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t len = sizeof(sa);

        atomic_init(&rl->frozen, 0);
        atomic_init(&rl->quit, 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rl->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
        if (rl->listen_fd < 0 || bind(rl->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            listen(rl->listen_fd, 1) != 0 ||
            getsockname(rl->listen_fd, (struct sockaddr *)&sa, &len) != 0) {
                if (rl->listen_fd >= 0)
                        close(rl->listen_fd);
                return false;
        }
        rl->port = ntohs(sa.sin_port);
        return pthread_create(&rl->thread, NULL, relay_main, rl) == 0;
}

static void relay_stop(struct relay *rl)
{
        atomic_store(&rl->quit, 1);
        pthread_join(rl->thread, NULL);
        close(rl->listen_fd);
}

/* A server that goes silent is lost after timeout_s, even with heartbeats due. */
static void check_silence(const struct workload *w)
{
        struct my_conn_params via = params;
        struct my_binlog_opts o = { .server_id = my_binlog_server_id(NAME, 9),
                                    .heartbeat_ms = 1000,
                                    .timeout_s = 3 };
        struct my_binlog_pos end = w->after[6];
        struct zetl_err err = { 0 };
        struct my_binlog *r = NULL;
        struct relay rl;
        struct my_event ev;
        time_t t0;
        int rc;

        if (strcmp(params.host, "127.0.0.1") != 0 || !relay_start(&rl)) {
                printf("# skip the silence check: no relay to %s\n", params.host);
                return;
        }
        via.port = rl.port;
        end.gtid[0] = '\0';
        rc = my_binlog_open(&via, &end, &o, &r, &err);
        if (rc == 0)
                rc = my_binlog_next(r, &ev, &err);
        check(rc == 0, "a reader through a relay starts %s", why(&err));
        atomic_store(&rl.frozen, 1);
        t0 = time(NULL);
        while (rc == 0 && time(NULL) - t0 < TIMEOUT_S)
                rc = my_binlog_next(r, &ev, &err);
        check(rc == ZETL_ECONN && err.cls == ZETL_ERRC_TRANSIENT && time(NULL) - t0 <= 6,
              "a silent network is a transient ZETL_ECONN after the 3 s timeout (%ld s) %s",
              (long)(time(NULL) - t0), why(&err));
        my_binlog_close(r);
        relay_stop(&rl);
}

static void check_same_id(const struct workload *w)
{
        struct zetl_err err = { 0 }, err2 = { 0 };
        struct my_binlog_pos end = w->after[6];
        struct my_binlog *a, *b;
        struct my_event ev;
        time_t deadline = time(NULL) + TIMEOUT_S;
        int rc = 0;

        end.gtid[0] = '\0';
        a = open_reader(&end, 5, 1000, &err);
        if (a && my_binlog_next(a, &ev, &err) == 0) {
                b = open_reader(&end, 5, 1000, &err2);
                if (b)
                        my_binlog_next(b, &ev, &err2);
                while (time(NULL) < deadline && (rc = my_binlog_next(a, &ev, &err)) == 0)
                        ;
                my_binlog_close(b);
        }
        check(rc == ZETL_ESTATE && err.cls == ZETL_ERRC_CONFIG,
              "a second reader with the same server_id makes the first fail %s", why(&err));
        my_binlog_close(a);
}

static void check_purged(const struct workload *w)
{
        struct zetl_err err = { 0 };
        struct my_binlog_pos now, old = w->snap, old_gtid;
        char purge[MY_BINLOG_FILE_MAX + 64], first[MY_BINLOG_FILE_MAX];
        struct my_binlog *r;
        struct my_event ev;
        bool found = false;
        int rc = 0;

        if (!sql_ok("FLUSH BINARY LOGS") || !master_pos(&now))
                return;
        snprintf(purge, sizeof(purge), "PURGE BINARY LOGS TO '%s'", now.file);
        /* A file InnoDB has not checkpointed yet is kept: try for a while. */
        for (int i = 0; i < 50; i++) {
                if (!sql_ok(purge) || my_query_value(sql, "SHOW BINARY LOGS", "test", 0, first,
                                                     sizeof(first), &found, &err))
                        break;
                if (strcmp(first, now.file) == 0)
                        break;
                usleep(100 * 1000);
        }
        check(strcmp(first, now.file) == 0, "PURGE BINARY LOGS TO '%s' left only %s", now.file,
              first);
        old.gtid[0] = '\0';
        for (int k = 0; k < 2; k++) {
                memset(&old_gtid, 0, sizeof(old_gtid));
                snprintf(old_gtid.gtid, sizeof(old_gtid.gtid), "%s", w->after[1].gtid);
                time_t deadline = time(NULL) + TIMEOUT_S;

                r = open_reader(k == 0 ? &old : &old_gtid, 6, 1000, &err);
                rc = r ? 0 : err.code;
                while (r && time(NULL) < deadline && (rc = my_binlog_next(r, &ev, &err)) == 0)
                        ;
                my_binlog_close(r);
                check(rc == ZETL_ENOTFOUND && err.cls == ZETL_ERRC_FATAL &&
                              strstr(err.msg, "resync"),
                      "a purged %s gives ZETL_ENOTFOUND asking for a resync %s",
                      k == 0 ? "file position" : "GTID position", why(&err));
        }
}

static void check_restart(void)
{
        const char *dir = getenv("ZETL_TEST_DIR"), *src = getenv("ZETL_SRC_ROOT");
        struct zetl_err err = { 0 };
        struct my_binlog_pos end;
        struct my_binlog *r;
        struct my_event ev;
        char cmd[2048];
        time_t deadline;
        int rc = 0, st;

        if (!dir || !*dir) {
                printf("# skip the restart check: ZETL_TEST_DIR is not set\n");
                return;
        }
        if (!master_pos(&end))
                return;
        end.gtid[0] = '\0';
        if (!(r = open_reader(&end, 7, 1000, &err))) {
                check(false, "open a reader for the restart %s", why(&err));
                return;
        }
        rc = my_binlog_next(r, &ev, &err);
        snprintf(cmd, sizeof(cmd),
                 "bash '%s/tests/harness/servers.sh' restart '%s' mysql >/dev/null 2>&1",
                 src && *src ? src : ".", dir);
        st = system(cmd);
        check(rc == 0 && st == 0, "restart the server (%s)", st == 0 ? "done" : "failed");
        deadline = time(NULL) + 30;
        while (time(NULL) < deadline && (rc = my_binlog_next(r, &ev, &err)) == 0)
                ;
        check(rc == ZETL_ECONN && err.cls == ZETL_ERRC_TRANSIENT,
              "the restart makes my_binlog_next fail with a transient ZETL_ECONN %s", why(&err));
        my_binlog_close(r);
        /* The old connections went with the server: open new ones. */
        my_conn_close(sql);
        sql = NULL;
        if (root)
                mysql_close(root);
        root = NULL;
        err = (struct zetl_err){ 0 };
        rc = my_conn_open(&params, &sql, &err);
        check(rc == 0, "the server answers again after the restart %s", why(&err));
        if (rc == 0) {
                r = open_reader(&end, 8, 1000, &err);
                rc = r ? my_binlog_next(r, &ev, &err) : -1;
                check(rc == 0 && ev.type == MY_EV_ROTATE,
                      "a new reader resumes at %s:%" PRIu64 " after the restart %s", end.file,
                      end.offset, why(&err));
                my_binlog_close(r);
        }
}

static void cleanup(void)
{
        if (sql)
                sql_ok("DROP DATABASE IF EXISTS " DB);
        if (!root)
                root = root_open();
        if (root)
                root_ok("DROP USER IF EXISTS '" WEAK_USER "'@'127.0.0.1'");
}

int main(void)
{
        const char *uri = getenv("ZETL_TEST_MY_URI");
        struct zetl_err err = { 0 };
        struct workload w;

        if (!uri || !*uri) {
                printf("skip: ZETL_TEST_MY_URI is not set (run through scripts/run-tests.sh)\n");
                return 77;
        }
        check_pure();
        if (my_conn_parse(uri, &params, &err) || my_conn_open(&params, &sql, &err)) {
                printf("cannot connect to ZETL_TEST_MY_URI: %s\n", err.msg);
                my_conn_params_free(&params);
                return 1;
        }
        cleanup();
        check_setup();
        check_setup_warnings();
        check_weak_user();
        memset(&w, 0, sizeof(w));
        if (check_snapshot(&w)) {
                check_stream(&w);
                check_resume(&w);
                check_interrupt(&w);
                check_silence(&w);
                check_same_id(&w);
                check_purged(&w);
                check_restart();
        }
        cleanup();
        my_conn_close(sql);
        if (root)
                mysql_close(root);
        my_conn_params_free(&params);
        mysql_library_end();
        printf("%d checks, %d failed\n", checks, failures);
        return failures ? 1 : 0;
}
