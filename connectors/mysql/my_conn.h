/*
 * SQL connections to a MySQL or MariaDB source (MariaDB Connector/C): the
 * URI, connecting, classifying the server's and the library's errors into
 * zetl's, a few query helpers, the set-up checks that create-integration
 * reports with the exact statements to fix, and the consistent snapshot whose
 * binlog coordinates are known.
 *
 * A struct st_mysql is Connector/C's MYSQL (include <mysql.h> to use it);
 * one connection is used by one thread at a time. Passwords never appear in
 * messages: errors copy mysql_error(), which names the user, not the secret.
 *
 * Error classes (my_conn_error): connection refused or lost (a TLS error on
 * an open connection included), a server that shuts down or kills the
 * session, too many connections: ZETL_ECONN, transient. Access denied,
 * unknown database, a missing privilege, a TLS requirement the server cannot
 * meet, a server certificate that does not verify while connecting: config.
 * Anything else: fatal.
 */
#ifndef ZETL_MY_CONN_H
#define ZETL_MY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/err.h"

struct st_mysql; /* Connector/C's MYSQL */

/* Binlog file names are a basename plus ".NNNNNN"; MariaDB caps paths at 512. */
#define MY_BINLOG_FILE_MAX 512
/* A MariaDB GTID position: one "domain-server-seq" per domain, comma-separated. */
#define MY_GTID_POS_MAX 1024

enum my_ssl_mode {
        MY_SSL_PREFERRED = 0, /* TLS when the server offers it (the mysql client's default) */
        MY_SSL_DISABLED,
        MY_SSL_REQUIRED, /* TLS or no connection; the certificate is not checked */
        /*
         * TLS with the server's certificate checked against ssl-ca, and its
         * name against the host. Connector/C 3.3 checks both together, so
         * VERIFY_CA is as strict as VERIFY_IDENTITY.
         */
        MY_SSL_VERIFY_CA,
        MY_SSL_VERIFY_IDENTITY,
};

/*
 * What a mysql:// or mariadb:// URI says:
 *   mysql://user[:password]@host[:port][/db][?password-file=FILE
 *           &ssl-mode=...&ssl-ca=FILE&ssl-cert=FILE&ssl-key=FILE
 *           &connect-timeout=SECONDS]
 * ssl-mode takes DISABLED, PREFERRED (default), REQUIRED, VERIFY_CA or
 * VERIFY_IDENTITY (any case). password-file names a file whose first line
 * (without its line ending) is the password, read at every parse; it must
 * not be open to group or others (chmod 600), and a URI cannot have both it
 * and a password. Without either, Connector/C falls back to $MYSQL_PWD.
 * Owned strings, freed by my_conn_params_free.
 */
struct my_conn_params {
        char *host;     /* never NULL; "127.0.0.1" when the URI names none */
        int port;       /* 3306 when absent */
        char *user;     /* never NULL */
        char *password; /* NULL when absent */
        char *db;       /* NULL when absent */
        enum my_ssl_mode ssl_mode;
        char *ssl_ca, *ssl_cert, *ssl_key; /* NULL when absent */
        unsigned connect_timeout_s;        /* 10 unless the URI says otherwise */
        /*
         * Not from the URI: how long a read may wait for the server before
         * the connection counts as lost (0: no limit). The binlog reader sets
         * it a few heartbeats long, so a silent network drop is noticed.
         */
        unsigned read_timeout_s;
};

/*
 * Parse uri (scheme mysql or mariadb). Unknown query parameters are refused
 * so a misspelt option does not go unnoticed. Returns 0, ZETL_EINVAL
 * (config, saying what is wrong, never quoting the password) or ZETL_ENOMEM.
 * *out is zeroed first, so my_conn_params_free is safe after a failure.
 */
int my_conn_parse(const char *uri, struct my_conn_params *out, struct zetl_err *err);
/* Free the strings (the password is wiped first) and zero p. */
void my_conn_params_free(struct my_conn_params *p);

/*
 * Connect over TCP with utf8mb4, the connect timeout, the TLS mode, no
 * automatic reconnection (a silent reconnect would lose session state such
 * as a snapshot or a binlog dump), and the session time zone set to UTC
 * ('+00:00'), so TIMESTAMP values read by SELECT match the binlog's UTC
 * seconds. *out is closed with my_conn_close. Errors per my_conn_error.
 */
int my_conn_open(const struct my_conn_params *p, struct st_mysql **out, struct zetl_err *err);
/* mysql_close; m may be NULL. */
void my_conn_close(struct st_mysql *m);

/*
 * Fill err from mysql_errno()/mysql_error() of m, prefixed with what was
 * being done, and return its code (classes above). Meant for the moment a
 * call on m failed; with no error recorded it says so (ZETL_EIO, fatal).
 */
int my_conn_error(struct st_mysql *m, const char *what, struct zetl_err *err);
/* The zetl code and class for a Connector/C or server error number. */
int my_conn_classify(unsigned errnum, enum zetl_err_class *cls);

/* Run a statement, discarding any rows it returns. */
int my_exec(struct st_mysql *m, const char *sql, const char *what, struct zetl_err *err);
/*
 * Column col of the first row of sql's result as text into buf (truncated to
 * fit, always NUL-terminated). *found (may be NULL) says whether there was a
 * row with a non-NULL value there; buf is "" when not.
 */
int my_query_value(struct st_mysql *m, const char *sql, const char *what, int col, char *buf,
                   size_t len, bool *found, struct zetl_err *err);
/*
 * A global server variable by exact name (letters, digits, '_'), through SHOW
 * GLOBAL VARIABLES so an unknown one is *found = false rather than an error.
 */
int my_global_var(struct st_mysql *m, const char *name, char *buf, size_t len, bool *found,
                  struct zetl_err *err);

/* ---- the server ----------------------------------------------------------- */

enum my_flavor {
        MY_FLAVOR_MARIADB,
        MY_FLAVOR_MYSQL,
};

struct my_server_info {
        enum my_flavor flavor; /* from VERSION() and @@version_comment */
        int major, minor, patch;
        char version[128]; /* VERSION() */
        char comment[128]; /* @@version_comment */
        uint32_t server_id;
};

int my_server_info(struct st_mysql *m, struct my_server_info *out, struct zetl_err *err);

/* ---- set-up checks --------------------------------------------------------- */

enum my_check_level {
        MY_CHECK_OK,
        MY_CHECK_WARN, /* works, with the consequence the detail states */
        MY_CHECK_FAIL, /* replication cannot work until fixed */
};

#define MY_SETUP_MAX_ITEMS 16

struct my_check_item {
        enum my_check_level level;
        char name[32];    /* "log_bin", "binlog_format", "privileges", ... */
        char detail[512]; /* what was found and what it implies */
        char fix[1024];   /* the exact statements or configuration to fix it; "" when OK */
};

struct my_setup_report {
        struct my_server_info server;
        char user[800]; /* CURRENT_USER() as 'user'@'host', quoted for SQL */
        int nfail, nwarn;
        int nitems;
        struct my_check_item items[MY_SETUP_MAX_ITEMS];
};

/*
 * The prerequisites of binlog replication, checked over m: the server's
 * flavor and version, log_bin, binlog_format=ROW, binlog_row_image (FULL;
 * MINIMAL and NOBLOB warn with what they imply), binlog_row_metadata=FULL
 * (warns otherwise), the privileges REPLICATION SLAVE, BINLOG MONITOR (MySQL:
 * REPLICATION CLIENT) and SELECT from SHOW GRANTS FOR CURRENT_USER (ALL
 * PRIVILEGES counts; grants through roles are not seen), and binlog
 * retention (a warning under one day; 0, never purged, is fine). Every check
 * gets an item. Returns 0 when the checks could run, whatever they found
 * (look at nfail), or the error of a query that failed.
 */
int my_setup_check(struct st_mysql *m, struct my_setup_report *out, struct zetl_err *err);
/* The item called name, or NULL. */
const struct my_check_item *my_setup_item(const struct my_setup_report *r, const char *name);
/*
 * The report as text, one line per warning or failure and its fix ("" when
 * all is well). Always NUL-terminated; returns buf.
 */
char *my_setup_format(const struct my_setup_report *r, char *buf, size_t len);

/* ---- the consistent snapshot ----------------------------------------------- */

/* A place in the binlog: a file and offset, and/or a MariaDB GTID position. */
struct my_binlog_pos {
        char file[MY_BINLOG_FILE_MAX]; /* "" to start from gtid alone */
        uint64_t offset;               /* where the next event starts (4: a file's first) */
        char gtid[MY_GTID_POS_MAX];    /* "0-1-9,1-2-5"; "" when none or unknown */
};

enum my_snapshot_method {
        MY_SNAPSHOT_AUTO,   /* MariaDB: NOLOCK; MySQL: LOCK */
        MY_SNAPSHOT_NOLOCK, /* MariaDB's binlog_snapshot_file/position, no lock at all */
        /*
         * FLUSH TABLES WITH READ LOCK, START TRANSACTION WITH CONSISTENT
         * SNAPSHOT, SHOW MASTER STATUS, UNLOCK TABLES: writes wait for the
         * moment between the lock and the unlock (needs RELOAD). MySQL's way.
         */
        MY_SNAPSHOT_LOCK,
};

/*
 * Open a REPEATABLE READ, read-only transaction WITH CONSISTENT SNAPSHOT on m
 * and fill *pos with the binlog coordinates that match it exactly: every
 * change before them is in the snapshot, every one after is not. On MariaDB
 * the GTID position is BINLOG_GTID_POS(file, offset), which belongs to those
 * coordinates (@@gtid_binlog_pos would be read a moment later, racing with
 * commits); on MySQL it is SHOW MASTER STATUS's Executed_Gtid_Set. The
 * transaction stays open for the caller's SELECTs; end it with COMMIT.
 * ZETL_EUNSUPPORTED when binary logging is off.
 */
int my_snapshot_start(struct st_mysql *m, enum my_snapshot_method method, struct my_binlog_pos *pos,
                      struct zetl_err *err);

#endif
