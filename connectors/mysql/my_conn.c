/*
 * Connections to a MySQL or MariaDB source (see my_conn.h): the URI, the
 * connection's options, the mapping of Connector/C's and the server's error
 * numbers onto zetl's codes and classes, small query helpers, and the
 * snapshot with its binlog coordinates. The set-up checks live in
 * my_conn_setup below, kept apart from the plumbing.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <errmsg.h>
#include <mysql.h>

#include "my_conn.h"
#include "zetl/config.h"

#define DEFAULT_PORT            3306
#define DEFAULT_HOST            "127.0.0.1"
#define DEFAULT_CONNECT_TIMEOUT 10
#define MAX_CONNECT_TIMEOUT     3600
/* The longest first line a password-file may hold. */
#define MAX_PASSWORD_FILE_LINE 4096

/* ---- URI -------------------------------------------------------------------- */

static int hexval(int c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c = tolower(c);
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* The database name from the URI's path ("/db"), percent-decoded; NULL for none. */
static int parse_db(const char *path, char **out, struct zetl_err *err)
{
        const char *s = path[0] == '/' ? path + 1 : path;
        size_t n = strlen(s), j = 0;
        char *db;

        *out = NULL;
        if (n == 0)
                return 0;
        if (!(db = malloc(n + 1)))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        for (size_t i = 0; i < n; i++) {
                int hi, lo;

                if (s[i] != '%') {
                        db[j++] = s[i];
                        continue;
                }
                if (i + 2 >= n || (hi = hexval((unsigned char)s[i + 1])) < 0 ||
                    (lo = hexval((unsigned char)s[i + 2])) < 0) {
                        free(db);
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                            "the source URI's database name has a bad %%-escape");
                }
                db[j++] = (char)(hi << 4 | lo);
                i += 2;
        }
        db[j] = '\0';
        if (strchr(db, '/') || strlen(db) != j) {
                free(db);
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "the source URI's path must be one database name: /DB");
        }
        *out = db;
        return 0;
}

static int parse_ssl_mode(const char *v, enum my_ssl_mode *out, struct zetl_err *err)
{
        static const struct {
                const char *name;
                enum my_ssl_mode mode;
        } modes[] = {
                { "DISABLED", MY_SSL_DISABLED },
                { "PREFERRED", MY_SSL_PREFERRED },
                { "REQUIRED", MY_SSL_REQUIRED },
                { "VERIFY_CA", MY_SSL_VERIFY_CA },
                { "VERIFY_IDENTITY", MY_SSL_VERIFY_IDENTITY },
        };

        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
                if (strcasecmp(v, modes[i].name) == 0) {
                        *out = modes[i].mode;
                        return 0;
                }
        }
        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                            "ssl-mode=%.40s: use DISABLED, PREFERRED, REQUIRED, VERIFY_CA or "
                            "VERIFY_IDENTITY",
                            v);
}

static int dup_opt(const char *v, char **out, struct zetl_err *err)
{
        free(*out);
        if (!(*out = strdup(v)))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        return 0;
}

/*
 * The first line of a password-file, without its line ending. Like libpq
 * with .pgpass, a file that group or others may open is refused rather than
 * trusted, and the mode is read from the open descriptor, so a file swapped
 * in after the check cannot slip through. The file is read at every parse,
 * so a rotated password is picked up at the next connection.
 */
static int read_password_file(const char *path, char **out, struct zetl_err *err)
{
        char buf[MAX_PASSWORD_FILE_LINE + 2];
        struct stat st;
        size_t n = 0, len;
        char *nl = NULL;
        int fd, rc = 0;

        if (!path[0])
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "password-file needs a path: password-file=FILE");
        if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "password-file %.200s: %s",
                                    path, strerror(errno));
        if (fstat(fd, &st) < 0) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "password-file %.200s: %s", path,
                                  strerror(errno));
                goto out_close;
        }
        if (!S_ISREG(st.st_mode)) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "password-file %.200s is not a regular file", path);
                goto out_close;
        }
        if (st.st_mode & 077) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "password-file %.200s is accessible by group or others (mode "
                                  "%04o); run: chmod 600 %.200s",
                                  path, (unsigned)(st.st_mode & 07777), path);
                goto out_close;
        }
        while (n < sizeof(buf) - 1 && !nl) {
                ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);

                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL,
                                          "password-file %.200s: %s", path, strerror(errno));
                        goto out_wipe;
                }
                if (r == 0)
                        break;
                nl = memchr(buf + n, '\n', (size_t)r);
                n += (size_t)r;
        }
        len = nl ? (size_t)(nl - buf) : n;
        if (len > MAX_PASSWORD_FILE_LINE) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "password-file %.200s: the first line is longer than %d bytes",
                                  path, MAX_PASSWORD_FILE_LINE);
                goto out_wipe;
        }
        if (len > 0 && buf[len - 1] == '\r')
                len--;
        if (len == 0 || memchr(buf, '\0', len)) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "password-file %.200s: %s",
                                  path,
                                  len ? "the first line holds a NUL byte"
                                      : "the first line is empty; it should hold the password");
                goto out_wipe;
        }
        if (!(*out = strndup(buf, len)))
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
out_wipe:
        explicit_bzero(buf, sizeof(buf));
out_close:
        close(fd);
        return rc;
}

/* *password_file is set to the value of password-file, read once all are parsed. */
static int parse_param(const struct zetl_option *o, struct my_conn_params *p,
                       const char **password_file, struct zetl_err *err)
{
        const char *k = o->key, *v = o->value ? o->value : "";

        if (strcmp(k, "password-file") == 0) {
                *password_file = v;
                return 0;
        }
        if (strcmp(k, "ssl-mode") == 0)
                return parse_ssl_mode(v, &p->ssl_mode, err);
        if (strcmp(k, "ssl-ca") == 0)
                return dup_opt(v, &p->ssl_ca, err);
        if (strcmp(k, "ssl-cert") == 0)
                return dup_opt(v, &p->ssl_cert, err);
        if (strcmp(k, "ssl-key") == 0)
                return dup_opt(v, &p->ssl_key, err);
        if (strcmp(k, "connect-timeout") == 0) {
                char *end;
                long t;

                errno = 0;
                t = strtol(v, &end, 10);
                if (errno || end == v || *end || t < 1 || t > MAX_CONNECT_TIMEOUT)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                            "connect-timeout=%.40s: seconds from 1 to %d", v,
                                            MAX_CONNECT_TIMEOUT);
                p->connect_timeout_s = (unsigned)t;
                return 0;
        }
        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                            "unknown parameter '%.60s' in the source URI (known: password-file, "
                            "ssl-mode, ssl-ca, ssl-cert, ssl-key, connect-timeout)",
                            k);
}

int my_conn_parse(const char *uri, struct my_conn_params *out, struct zetl_err *err)
{
        const char *password_file = NULL;
        struct zetl_uri u;
        int rc;

        memset(out, 0, sizeof(*out));
        if ((rc = zetl_uri_parse(uri, &u, err)))
                return rc;
        if (strcmp(u.scheme, "mysql") != 0 && strcmp(u.scheme, "mariadb") != 0) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "a MySQL source URI starts with mysql:// or mariadb://, not "
                                  "%.40s:",
                                  u.scheme);
                goto out;
        }
        if (u.opaque || !u.user || !u.user[0]) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "the source URI names no user: %s://USER:PASSWORD@HOST:PORT/DB",
                                  u.scheme);
                goto out;
        }
        out->port = u.port > 0 ? u.port : DEFAULT_PORT;
        out->connect_timeout_s = DEFAULT_CONNECT_TIMEOUT;
        out->ssl_mode = MY_SSL_PREFERRED;
        out->host = strdup(u.host && u.host[0] ? u.host : DEFAULT_HOST);
        out->user = strdup(u.user);
        out->password = u.password ? strdup(u.password) : NULL;
        if (!out->host || !out->user || (u.password && !out->password)) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out;
        }
        if ((rc = parse_db(u.path, &out->db, err)))
                goto out;
        for (int i = 0; i < u.nparams; i++)
                if ((rc = parse_param(&u.params[i], out, &password_file, err)))
                        goto out;
        if (password_file) {
                if (out->password) {
                        rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                          "the source URI has both a password and "
                                          "password-file: give one");
                        goto out;
                }
                if ((rc = read_password_file(password_file, &out->password, err)))
                        goto out;
        }
        if (out->ssl_mode == MY_SSL_DISABLED && (out->ssl_ca || out->ssl_cert || out->ssl_key))
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "ssl-mode=DISABLED contradicts ssl-ca, ssl-cert and ssl-key");
        else if (out->ssl_mode >= MY_SSL_VERIFY_CA && !out->ssl_ca)
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "ssl-mode=VERIFY_CA and VERIFY_IDENTITY need ssl-ca=FILE, the "
                                  "certificate authority to check the server against");
out:
        zetl_uri_free(&u);
        if (rc)
                my_conn_params_free(out);
        return rc;
}

void my_conn_params_free(struct my_conn_params *p)
{
        if (!p)
                return;
        free(p->host);
        free(p->user);
        if (p->password) {
                memset(p->password, 0, strlen(p->password));
                free(p->password);
        }
        free(p->db);
        free(p->ssl_ca);
        free(p->ssl_cert);
        free(p->ssl_key);
        memset(p, 0, sizeof(*p));
}

/* ---- errors ----------------------------------------------------------------- */

int my_conn_classify(unsigned errnum, enum zetl_err_class *cls)
{
        switch (errnum) {
        case CR_SOCKET_CREATE_ERROR: /* 2001 */
        case CR_CONNECTION_ERROR:    /* 2002 */
        case CR_CONN_HOST_ERROR:     /* 2003 */
        case CR_UNKNOWN_HOST:        /* 2005: DNS can fail for a while too */
        case CR_SERVER_GONE_ERROR:   /* 2006 */
        case CR_SERVER_LOST:         /* 2013 */
        case 2055:                   /* CR_SERVER_LOST_EXTENDED */
        case 1040:                   /* ER_CON_COUNT_ERROR: too many connections */
        case 1053:                   /* ER_SERVER_SHUTDOWN */
        case 1152:                   /* ER_ABORTING_CONNECTION */
        case 1158:                   /* ER_NET_READ_ERROR */
        case 1159:                   /* ER_NET_READ_INTERRUPTED */
        case 1160:                   /* ER_NET_ERROR_ON_WRITE */
        case 1161:                   /* ER_NET_WRITE_INTERRUPTED */
        case 1927:                   /* ER_CONNECTION_KILLED: e.g. a server shutting down */
        case 5013:                   /* CR_ERR_NET_READ */
        case 5014:                   /* CR_ERR_NET_WRITE */
        /*
         * A TLS error is mostly a broken stream (a server restart reads as
         * "unexpected eof"); my_conn_open makes a certificate that does not
         * verify at the handshake a config error.
         */
        case CR_SSL_CONNECTION_ERROR: /* 2026 */
                *cls = ZETL_ERRC_TRANSIENT;
                return ZETL_ECONN;
        case 1044: /* ER_DBACCESS_DENIED_ERROR */
        case 1045: /* ER_ACCESS_DENIED_ERROR */
        case 1049: /* ER_BAD_DB_ERROR */
        case 1251: /* ER_NOT_SUPPORTED_AUTH_MODE */
        case 1698: /* ER_ACCESS_DENIED_NO_PASSWORD_ERROR */
        case 1820: /* ER_MUST_CHANGE_PASSWORD */
        case 1862: /* ER_MUST_CHANGE_PASSWORD_LOGIN */
        case 2059: /* CR_AUTH_PLUGIN_CANNOT_LOAD */
                *cls = ZETL_ERRC_CONFIG;
                return ZETL_ECONN;
        case 1142: /* ER_TABLEACCESS_DENIED_ERROR */
        case 1143: /* ER_COLUMNACCESS_DENIED_ERROR */
        case 1227: /* ER_SPECIFIC_ACCESS_DENIED_ERROR: e.g. REPLICATION SLAVE */
                *cls = ZETL_ERRC_CONFIG;
                return ZETL_EINVAL;
        default:
                *cls = ZETL_ERRC_FATAL;
                return ZETL_EIO;
        }
}

int my_conn_error(struct st_mysql *m, const char *what, struct zetl_err *err)
{
        unsigned n = m ? mysql_errno(m) : 0;
        enum zetl_err_class cls;
        int code;

        if (n == 0)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL,
                                    "%s: failed without an error from Connector/C", what);
        code = my_conn_classify(n, &cls);
        return zetl_err_set(err, code, cls, "%s: %s (error %u)", what, mysql_error(m), n);
}

/* ---- connecting --------------------------------------------------------------- */

static int set_ssl(MYSQL *m, const struct my_conn_params *p)
{
        my_bool on = 1;
        int bad = 0;

        if (p->ssl_mode == MY_SSL_DISABLED)
                return 0;
        /*
         * Connector/C 3.3 falls back to plain text when the server has no
         * TLS, whatever ENFORCE says; my_conn_open checks REQUIRED itself.
         */
        bad |= mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &on);
        if (p->ssl_ca)
                bad |= mysql_options(m, MYSQL_OPT_SSL_CA, p->ssl_ca);
        if (p->ssl_cert)
                bad |= mysql_options(m, MYSQL_OPT_SSL_CERT, p->ssl_cert);
        if (p->ssl_key)
                bad |= mysql_options(m, MYSQL_OPT_SSL_KEY, p->ssl_key);
        if (p->ssl_mode >= MY_SSL_VERIFY_CA)
                bad |= mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
        return bad;
}

int my_conn_open(const struct my_conn_params *p, struct st_mysql **out, struct zetl_err *err)
{
        unsigned proto = MYSQL_PROTOCOL_TCP, ct = p->connect_timeout_s, rt = p->read_timeout_s;
        my_bool off = 0;
        MYSQL *m;
        int rc = 0, bad = 0;

        *out = NULL;
        if (!(m = mysql_init(NULL)))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                    "out of memory starting a MySQL connection");
        bad |= mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
        bad |= mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
        bad |= mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
        bad |= mysql_options(m, MYSQL_OPT_RECONNECT, &off);
        bad |= mysql_options(m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
        if (rt) {
                bad |= mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rt);
                bad |= mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rt);
        }
        bad |= set_ssl(m, p);
        if (bad) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                  "Connector/C refused a connection option");
                goto fail;
        }
        if (!mysql_real_connect(m, p->host, p->user, p->password, p->db, (unsigned)p->port, NULL,
                                0)) {
                char what[300];

                snprintf(what, sizeof(what), "connecting to %.200s:%d as %.60s", p->host, p->port,
                         p->user);
                rc = my_conn_error(m, what, err);
                /* A certificate that does not verify (or name the host) will
                 * not on a retry either; other TLS errors, such as a server
                 * going away mid-handshake, stay transient. */
                if (mysql_errno(m) == CR_SSL_CONNECTION_ERROR && err &&
                    strcasestr(mysql_error(m), "certificate"))
                        err->cls = ZETL_ERRC_CONFIG;
                goto fail;
        }
        if (p->ssl_mode >= MY_SSL_REQUIRED && !mysql_get_ssl_cipher(m)) {
                rc = zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_CONFIG,
                                  "%.200s:%d does not offer TLS, which ssl-mode requires", p->host,
                                  p->port);
                goto fail;
        }
        *out = m;
        return 0;
fail:
        mysql_close(m);
        return rc;
}

void my_conn_close(struct st_mysql *m)
{
        if (m)
                mysql_close(m);
}

/* ---- queries -------------------------------------------------------------------- */

int my_exec(struct st_mysql *m, const char *sql, const char *what, struct zetl_err *err)
{
        MYSQL_RES *res;

        if (mysql_real_query(m, sql, strlen(sql)))
                return my_conn_error(m, what, err);
        /* A statement may return rows (SHOW ...): drain them so m is usable. */
        do {
                res = mysql_store_result(m);
                if (res)
                        mysql_free_result(res);
                else if (mysql_field_count(m) != 0)
                        return my_conn_error(m, what, err);
        } while (mysql_next_result(m) == 0);
        if (mysql_errno(m))
                return my_conn_error(m, what, err);
        return 0;
}

int my_query_value(struct st_mysql *m, const char *sql, const char *what, int col, char *buf,
                   size_t len, bool *found, struct zetl_err *err)
{
        MYSQL_RES *res;
        MYSQL_ROW row;
        int rc = 0;

        if (len)
                buf[0] = '\0';
        if (found)
                *found = false;
        if (mysql_real_query(m, sql, strlen(sql)))
                return my_conn_error(m, what, err);
        if (!(res = mysql_store_result(m)))
                return mysql_field_count(m) ? my_conn_error(m, what, err) : 0;
        if (col < 0 || (unsigned)col >= mysql_num_fields(res)) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                  "%s: the result has no column %d", what, col);
                goto out;
        }
        row = mysql_fetch_row(res);
        if (row && row[col]) {
                unsigned long *lens = mysql_fetch_lengths(res);

                if (len)
                        snprintf(buf, len, "%.*s", (int)(lens[col] < len ? lens[col] : len - 1),
                                 row[col]);
                if (found)
                        *found = true;
        }
out:
        mysql_free_result(res);
        return rc;
}

static bool is_var_name(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '_')
                        return false;
        return true;
}

int my_global_var(struct st_mysql *m, const char *name, char *buf, size_t len, bool *found,
                  struct zetl_err *err)
{
        char sql[160], what[96];
        MYSQL_RES *res;
        MYSQL_ROW row;

        if (len)
                buf[0] = '\0';
        *found = false;
        if (!is_var_name(name) || strlen(name) > 64)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "not a server variable name: %.64s", name);
        snprintf(sql, sizeof(sql), "SHOW GLOBAL VARIABLES LIKE '%s'", name);
        snprintf(what, sizeof(what), "reading %s", name);
        if (mysql_real_query(m, sql, strlen(sql)))
                return my_conn_error(m, what, err);
        if (!(res = mysql_store_result(m)))
                return my_conn_error(m, what, err);
        /* '_' is LIKE's any-character: only the exact name counts. */
        while ((row = mysql_fetch_row(res))) {
                if (mysql_num_fields(res) >= 2 && row[0] && strcasecmp(row[0], name) == 0) {
                        if (len)
                                snprintf(buf, len, "%s", row[1] ? row[1] : "");
                        *found = true;
                        break;
                }
        }
        mysql_free_result(res);
        return 0;
}

/* ---- the server ----------------------------------------------------------------- */

int my_server_info(struct st_mysql *m, struct my_server_info *out, struct zetl_err *err)
{
        const char *sql = "SELECT VERSION(), @@version_comment, @@server_id";
        const char *v;
        MYSQL_RES *res;
        MYSQL_ROW row;
        int rc = 0;

        memset(out, 0, sizeof(*out));
        if (mysql_real_query(m, sql, strlen(sql)) || !(res = mysql_store_result(m)))
                return my_conn_error(m, "reading the server's version", err);
        if (!(row = mysql_fetch_row(res)) || mysql_num_fields(res) != 3) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "reading the server's version: no row");
                goto out;
        }
        snprintf(out->version, sizeof(out->version), "%s", row[0] ? row[0] : "");
        snprintf(out->comment, sizeof(out->comment), "%s", row[1] ? row[1] : "");
        out->server_id = row[2] ? (uint32_t)strtoul(row[2], NULL, 10) : 0;
        out->flavor = strcasestr(out->version, "mariadb") || strcasestr(out->comment, "mariadb")
                              ? MY_FLAVOR_MARIADB
                              : MY_FLAVOR_MYSQL;
        v = out->version;
        /* Old replication handshakes prefix MariaDB's version with "5.5.5-". */
        if (strncmp(v, "5.5.5-", 6) == 0)
                v += 6;
        if (sscanf(v, "%d.%d.%d", &out->major, &out->minor, &out->patch) < 2)
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "cannot read the server's version '%.60s'", out->version);
out:
        mysql_free_result(res);
        return rc;
}

static bool version_at_least(const struct my_server_info *s, int major, int minor, int patch)
{
        if (s->major != major)
                return s->major > major;
        if (s->minor != minor)
                return s->minor > minor;
        return s->patch >= patch;
}

/* ---- set-up checks ---------------------------------------------------------------- */

static struct my_check_item *item(struct my_setup_report *r, const char *name,
                                  enum my_check_level level)
{
        static struct my_check_item spare;
        struct my_check_item *it;

        if (r->nitems >= MY_SETUP_MAX_ITEMS) {
                memset(&spare, 0, sizeof(spare));
                return &spare; /* cannot happen: the checks are fewer than the slots */
        }
        it = &r->items[r->nitems++];
        memset(it, 0, sizeof(*it));
        snprintf(it->name, sizeof(it->name), "%s", name);
        it->level = level;
        if (level == MY_CHECK_FAIL)
                r->nfail++;
        else if (level == MY_CHECK_WARN)
                r->nwarn++;
        return it;
}

static void say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t len, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
}

/* Where a setting survives a restart, by flavor. */
static const char *cnf_section(const struct my_server_info *s)
{
        return s->flavor == MY_FLAVOR_MARIADB ? "[mariadbd]" : "[mysqld]";
}

/* "SET GLOBAL" on MariaDB (plus the configuration file); MySQL 8 persists it itself. */
static void set_fix(const struct my_server_info *s, char *buf, size_t len, const char *var,
                    const char *value, bool quote)
{
        const char *q = quote ? "'" : "";

        if (s->flavor == MY_FLAVOR_MYSQL && s->major >= 8)
                say(buf, len, "SET PERSIST %s = %s%s%s;", var, q, value, q);
        else
                say(buf, len,
                    "SET GLOBAL %s = %s%s%s; and %s=%s under %s in the server's configuration "
                    "file, so it survives a restart",
                    var, q, value, q, var, value, cnf_section(s));
}

static void check_server(struct my_setup_report *r)
{
        const struct my_server_info *s = &r->server;
        struct my_check_item *it;

        if (s->flavor == MY_FLAVOR_MARIADB) {
                if (!version_at_least(s, 10, 0, 2)) {
                        it = item(r, "server", MY_CHECK_FAIL);
                        say(it->detail, sizeof(it->detail),
                            "MariaDB %s is too old: zetl needs global transaction ids "
                            "(MariaDB 10.0.2 or later)",
                            s->version);
                        say(it->fix, sizeof(it->fix), "upgrade to MariaDB 10.5 or later");
                        return;
                }
                it = item(r, "server", MY_CHECK_OK);
                say(it->detail, sizeof(it->detail), "MariaDB %s (%s), server_id %" PRIu32,
                    s->version, s->comment, s->server_id);
                return;
        }
        if (!version_at_least(s, 5, 7, 0)) {
                it = item(r, "server", MY_CHECK_FAIL);
                say(it->detail, sizeof(it->detail), "MySQL %s is too old", s->version);
                say(it->fix, sizeof(it->fix), "upgrade to MySQL 8.0 or later");
                return;
        }
        it = item(r, "server", MY_CHECK_WARN);
        say(it->detail, sizeof(it->detail),
            "MySQL %s (%s): streaming resumes from binlog file and offset only, since "
            "Connector/C cannot start a MySQL binlog dump from a GTID set; the snapshot takes "
            "a brief global read lock (FLUSH TABLES WITH READ LOCK, needs RELOAD)",
            s->version, s->comment);
}

/* Returns false when binary logging is off, which makes the other binlog checks moot. */
static int check_log_bin(struct st_mysql *m, struct my_setup_report *r, bool *on,
                         struct zetl_err *err)
{
        char v[64];
        bool found;
        struct my_check_item *it;
        int rc;

        if ((rc = my_global_var(m, "log_bin", v, sizeof(v), &found, err)))
                return rc;
        *on = found && (strcasecmp(v, "ON") == 0 || strcmp(v, "1") == 0);
        if (*on) {
                it = item(r, "log_bin", MY_CHECK_OK);
                say(it->detail, sizeof(it->detail), "binary logging is on");
                return 0;
        }
        it = item(r, "log_bin", MY_CHECK_FAIL);
        say(it->detail, sizeof(it->detail), "binary logging is off: there is no change stream");
        say(it->fix, sizeof(it->fix),
            "log_bin is set at start-up only: add log_bin=mysql-bin and server_id=1 (any id "
            "unique among your servers) under %s in the server's configuration file, then "
            "restart the server",
            cnf_section(&r->server));
        return 0;
}

static int check_format(struct st_mysql *m, struct my_setup_report *r, struct zetl_err *err)
{
        char v[64];
        bool found;
        struct my_check_item *it;
        int rc;

        if ((rc = my_global_var(m, "binlog_format", v, sizeof(v), &found, err)))
                return rc;
        if (found && strcasecmp(v, "ROW") == 0) {
                it = item(r, "binlog_format", MY_CHECK_OK);
                say(it->detail, sizeof(it->detail), "binlog_format is ROW");
                return 0;
        }
        it = item(r, "binlog_format", MY_CHECK_FAIL);
        say(it->detail, sizeof(it->detail),
            "binlog_format is %s: zetl needs the rows themselves (ROW); sessions already "
            "connected keep their format until they reconnect",
            found ? v : "unknown");
        set_fix(&r->server, it->fix, sizeof(it->fix), "binlog_format", "ROW", true);
        return 0;
}

static int check_row_image(struct st_mysql *m, struct my_setup_report *r, struct zetl_err *err)
{
        char v[64];
        bool found;
        struct my_check_item *it;
        int rc;

        if ((rc = my_global_var(m, "binlog_row_image", v, sizeof(v), &found, err)))
                return rc;
        if (!found || strcasecmp(v, "FULL") == 0) {
                it = item(r, "binlog_row_image", MY_CHECK_OK);
                say(it->detail, sizeof(it->detail), "row images are full");
                return 0;
        }
        it = item(r, "binlog_row_image", MY_CHECK_WARN);
        if (strcasecmp(v, "MINIMAL") == 0)
                say(it->detail, sizeof(it->detail),
                    "binlog_row_image is MINIMAL: updates and deletes identify rows by primary "
                    "key only and updates carry only the columns that changed, so the others "
                    "arrive as unchanged (kept as the target has them); tables without a "
                    "primary key cannot be replicated");
        else if (strcasecmp(v, "NOBLOB") == 0)
                say(it->detail, sizeof(it->detail),
                    "binlog_row_image is NOBLOB: BLOB, TEXT and JSON columns that an update "
                    "does not change are not logged and arrive as unchanged (kept as the "
                    "target has them)");
        else
                say(it->detail, sizeof(it->detail),
                    "binlog_row_image is %s: columns not logged arrive as unchanged (kept as "
                    "the target has them)",
                    v);
        set_fix(&r->server, it->fix, sizeof(it->fix), "binlog_row_image", "FULL", true);
        return 0;
}

static int check_row_metadata(struct st_mysql *m, struct my_setup_report *r, struct zetl_err *err)
{
        static const char *const consequence =
                "column names then come from information_schema when a table is first seen "
                "and after each change of it; a table whose shape changed while zetl lagged "
                "behind needs attention (a resync), and a column renamed to a name of the same "
                "type cannot be told from the old one";
        char v[64];
        bool found;
        struct my_check_item *it;
        int rc;

        if ((rc = my_global_var(m, "binlog_row_metadata", v, sizeof(v), &found, err)))
                return rc;
        if (found && strcasecmp(v, "FULL") == 0) {
                it = item(r, "binlog_row_metadata", MY_CHECK_OK);
                say(it->detail, sizeof(it->detail),
                    "table maps carry column names, keys and charsets");
                return 0;
        }
        it = item(r, "binlog_row_metadata", MY_CHECK_WARN);
        if (!found) {
                say(it->detail, sizeof(it->detail),
                    "this server has no binlog_row_metadata (MariaDB 10.5 and MySQL 8.0 "
                    "have it): %s",
                    consequence);
                say(it->fix, sizeof(it->fix), "upgrade the server, then set it to FULL");
                return 0;
        }
        say(it->detail, sizeof(it->detail), "binlog_row_metadata is %s (FULL is recommended): %s",
            v, consequence);
        set_fix(&r->server, it->fix, sizeof(it->fix), "binlog_row_metadata", "FULL", true);
        return 0;
}

static void human_duration(double secs, char *buf, size_t len)
{
        if (secs < 3600)
                snprintf(buf, len, "%.0f minutes", secs / 60);
        else if (secs < 2 * 86400)
                snprintf(buf, len, "%.1f hours", secs / 3600);
        else
                snprintf(buf, len, "%.1f days", secs / 86400);
}

static int check_retention(struct st_mysql *m, struct my_setup_report *r, struct zetl_err *err)
{
        const struct my_server_info *s = &r->server;
        char v[64], human[48];
        bool found_s, found_d;
        double secs = 0;
        struct my_check_item *it;
        int rc;

        /* binlog_expire_logs_seconds wins when set (MariaDB 10.6 keeps both in step). */
        if ((rc = my_global_var(m, "binlog_expire_logs_seconds", v, sizeof(v), &found_s, err)))
                return rc;
        if (found_s)
                secs = strtod(v, NULL);
        if (secs == 0) {
                if ((rc = my_global_var(m, "expire_logs_days", v, sizeof(v), &found_d, err)))
                        return rc;
                if (found_d)
                        secs = strtod(v, NULL) * 86400;
        }
        if (secs <= 0) {
                it = item(r, "binlog_retention", MY_CHECK_OK);
                say(it->detail, sizeof(it->detail),
                    "binlogs are never purged automatically (mind the disk)");
                return 0;
        }
        human_duration(secs, human, sizeof(human));
        if (secs >= 86400) {
                it = item(r, "binlog_retention", MY_CHECK_OK);
                say(it->detail, sizeof(it->detail), "binlogs are kept %s", human);
                return 0;
        }
        it = item(r, "binlog_retention", MY_CHECK_WARN);
        say(it->detail, sizeof(it->detail),
            "binlogs are purged after %s: if zetl is stopped or behind for longer, its position "
            "is gone and the integration needs a full resync",
            human);
        if (found_s)
                set_fix(s, it->fix, sizeof(it->fix), "binlog_expire_logs_seconds", "604800", false);
        else
                set_fix(s, it->fix, sizeof(it->fix), "expire_logs_days", "7", false);
        return 0;
}

/* Quote s as an SQL string literal ('...', with ' and \ escaped) into buf. */
static void sql_quote(const char *s, size_t n, char *buf, size_t len)
{
        size_t j = 0;

        if (len < 3) {
                if (len)
                        buf[0] = '\0';
                return;
        }
        buf[j++] = '\'';
        for (size_t i = 0; i < n && j + 3 < len; i++) {
                if (s[i] == '\'' || s[i] == '\\')
                        buf[j++] = s[i];
                buf[j++] = s[i];
        }
        buf[j++] = '\'';
        buf[j] = '\0';
}

/* What SHOW GRANTS gave us, privilege by privilege. */
struct grants {
        bool all, repl_slave, binlog_monitor, select_global, select_some, via_roles;
};

static void grant_privilege(struct grants *g, const char *p, size_t n, bool global)
{
        const char *cols;

        while (n > 0 && p[0] == ' ')
                p++, n--;
        /* A column list, "SELECT (a, b)", limits the privilege to those columns. */
        if ((cols = memchr(p, '(', n)))
                n = (size_t)(cols - p);
        while (n > 0 && p[n - 1] == ' ')
                n--;
#define IS(word) (n == strlen(word) && strncasecmp(p, word, n) == 0)
        if (IS("ALL PRIVILEGES") || IS("ALL")) {
                if (global)
                        g->all = true;
                else
                        g->select_some = true;
        } else if (IS("SELECT")) {
                if (global)
                        g->select_global = true;
                else
                        g->select_some = true;
        } else if (global && (IS("REPLICATION SLAVE") || IS("REPLICATION REPLICA"))) {
                g->repl_slave = true;
        } else if (global && (IS("BINLOG MONITOR") || IS("REPLICATION CLIENT"))) {
                g->binlog_monitor = true;
        }
#undef IS
}

/*
 * One line of SHOW GRANTS: "GRANT p1, p2 (cols) ON obj TO user ...", or
 * "GRANT `role` TO user" for a role. Scans outside quotes and parentheses.
 */
static void parse_grant(const char *line, struct grants *g)
{
        const char *p, *start, *on = NULL;
        int depth = 0;
        char quote = 0;
        bool global;

        if (strncasecmp(line, "GRANT ", 6) != 0)
                return;
        start = p = line + 6;
        for (; *p; p++) {
                if (quote) {
                        if (*p == quote)
                                quote = 0;
                } else if (*p == '`' || *p == '\'' || *p == '"') {
                        quote = *p;
                } else if (*p == '(') {
                        depth++;
                } else if (*p == ')') {
                        depth--;
                } else if (depth == 0 && strncasecmp(p, " ON ", 4) == 0) {
                        on = p;
                        break;
                } else if (depth == 0 && strncasecmp(p, " TO ", 4) == 0) {
                        break;
                }
        }
        if (!on) {
                g->via_roles = true; /* "GRANT role TO user": its privileges are not here */
                return;
        }
        global = strncmp(on + 4, "*.* ", 4) == 0;
        for (const char *a = start, *b; a < on; a = b + 1) {
                depth = 0;
                for (b = a; b < on && (depth > 0 || *b != ','); b++)
                        depth += *b == '(' ? 1 : *b == ')' ? -1 : 0;
                grant_privilege(g, a, (size_t)(b - a), global);
        }
}

static void missing_add(char *buf, size_t len, const char *what)
{
        size_t n = strlen(buf);

        snprintf(buf + n, len - n, "%s%s", n ? ", " : "", what);
}

static int check_privileges(struct st_mysql *m, struct my_setup_report *r, struct zetl_err *err)
{
        const char *sql = "SHOW GRANTS FOR CURRENT_USER()";
        const char *monitor =
                r->server.flavor == MY_FLAVOR_MARIADB && version_at_least(&r->server, 10, 5, 2)
                        ? "BINLOG MONITOR"
                        : "REPLICATION CLIENT";
        char cu[400], missing[128] = "";
        struct grants g = { 0 };
        struct my_check_item *it;
        MYSQL_RES *res;
        MYSQL_ROW row;
        const char *at;
        bool found;
        int rc;

        if ((rc = my_query_value(m, "SELECT CURRENT_USER()", "reading the current user", 0, cu,
                                 sizeof(cu), &found, err)))
                return rc;
        if ((at = strrchr(cu, '@'))) {
                char u[264], h[520];

                sql_quote(cu, (size_t)(at - cu), u, sizeof(u));
                sql_quote(at + 1, strlen(at + 1), h, sizeof(h));
                snprintf(r->user, sizeof(r->user), "%s@%s", u, h);
        } else {
                sql_quote(cu, strlen(cu), r->user, sizeof(r->user));
        }
        if (mysql_real_query(m, sql, strlen(sql)) || !(res = mysql_store_result(m)))
                return my_conn_error(m, "reading the user's privileges", err);
        while ((row = mysql_fetch_row(res)))
                if (row[0])
                        parse_grant(row[0], &g);
        mysql_free_result(res);

        if (!g.all && !g.repl_slave)
                missing_add(missing, sizeof(missing), "REPLICATION SLAVE");
        if (!g.all && !g.binlog_monitor)
                missing_add(missing, sizeof(missing), monitor);
        if (!g.all && !g.select_global && !g.select_some)
                missing_add(missing, sizeof(missing), "SELECT");
        if (missing[0]) {
                it = item(r, "privileges", MY_CHECK_FAIL);
                say(it->detail, sizeof(it->detail), "%s lacks %s%s", r->user, missing,
                    g.via_roles ? " (privileges granted through roles are not counted: grant "
                                  "them to the user itself)"
                                : "");
                say(it->fix, sizeof(it->fix), "GRANT %s ON *.* TO %s;", missing, r->user);
                return 0;
        }
        if (!g.all && !g.select_global) {
                it = item(r, "privileges", MY_CHECK_WARN);
                say(it->detail, sizeof(it->detail),
                    "%s has SELECT on some databases only: tables elsewhere cannot be copied",
                    r->user);
                say(it->fix, sizeof(it->fix),
                    "GRANT SELECT ON *.* TO %s; or grant SELECT on "
                    "each replicated database",
                    r->user);
                return 0;
        }
        it = item(r, "privileges", MY_CHECK_OK);
        say(it->detail, sizeof(it->detail), "%s has REPLICATION SLAVE, %s and SELECT", r->user,
            monitor);
        return 0;
}

int my_setup_check(struct st_mysql *m, struct my_setup_report *out, struct zetl_err *err)
{
        bool log_bin = false;
        int rc;

        memset(out, 0, sizeof(*out));
        if ((rc = my_server_info(m, &out->server, err)))
                return rc;
        check_server(out);
        if ((rc = check_log_bin(m, out, &log_bin, err)) || (rc = check_format(m, out, err)) ||
            (rc = check_row_image(m, out, err)) || (rc = check_row_metadata(m, out, err)) ||
            (rc = check_privileges(m, out, err)))
                return rc;
        if (log_bin && (rc = check_retention(m, out, err)))
                return rc;
        return 0;
}

const struct my_check_item *my_setup_item(const struct my_setup_report *r, const char *name)
{
        for (int i = 0; i < r->nitems; i++)
                if (strcmp(r->items[i].name, name) == 0)
                        return &r->items[i];
        return NULL;
}

char *my_setup_format(const struct my_setup_report *r, char *buf, size_t len)
{
        size_t n = 0;

        if (!len)
                return buf;
        buf[0] = '\0';
        for (int i = 0; i < r->nitems && n + 1 < len; i++) {
                const struct my_check_item *it = &r->items[i];
                int w;

                if (it->level == MY_CHECK_OK)
                        continue;
                w = snprintf(buf + n, len - n, "%s%s %s: %s%s%s", n ? "\n" : "",
                             it->level == MY_CHECK_FAIL ? "FAIL" : "WARN", it->name, it->detail,
                             it->fix[0] ? ". Fix: " : "", it->fix);
                if (w < 0)
                        break;
                n += (size_t)w < len - n ? (size_t)w : len - n - 1;
        }
        return buf;
}

/* ---- the consistent snapshot ------------------------------------------------------ */

/* Binlog_snapshot_file/position of SHOW STATUS, or SHOW MASTER STATUS's first columns. */
static int read_status_pos(struct st_mysql *m, bool master_status, struct my_binlog_pos *pos,
                           struct zetl_err *err)
{
        const char *sql =
                master_status ? "SHOW MASTER STATUS" : "SHOW STATUS LIKE 'binlog_snapshot_%'";
        bool have_file = false, have_pos = false;
        MYSQL_RES *res;
        MYSQL_ROW row;
        int rc = 0;

        if (mysql_real_query(m, sql, strlen(sql))) {
                /* MySQL 8.4 renamed SHOW MASTER STATUS (1064: a syntax error). */
                sql = "SHOW BINARY LOG STATUS";
                if (!master_status || mysql_errno(m) != 1064 ||
                    mysql_real_query(m, sql, strlen(sql)))
                        return my_conn_error(m, "reading the snapshot's binlog position", err);
        }
        if (!(res = mysql_store_result(m)))
                return my_conn_error(m, "reading the snapshot's binlog position", err);
        while ((row = mysql_fetch_row(res))) {
                unsigned nf = mysql_num_fields(res);

                if (master_status && nf >= 2 && row[0] && row[1]) {
                        snprintf(pos->file, sizeof(pos->file), "%s", row[0]);
                        pos->offset = strtoull(row[1], NULL, 10);
                        if (nf >= 5 && row[4]) /* MySQL: Executed_Gtid_Set */
                                snprintf(pos->gtid, sizeof(pos->gtid), "%s", row[4]);
                        have_file = have_pos = pos->file[0] != '\0';
                } else if (!master_status && nf >= 2 && row[0] && row[1]) {
                        if (strcasecmp(row[0], "Binlog_snapshot_file") == 0) {
                                snprintf(pos->file, sizeof(pos->file), "%s", row[1]);
                                have_file = row[1][0] != '\0';
                        } else if (strcasecmp(row[0], "Binlog_snapshot_position") == 0) {
                                pos->offset = strtoull(row[1], NULL, 10);
                                have_pos = true;
                        }
                }
        }
        mysql_free_result(res);
        if (!have_file || !have_pos || pos->offset < 4)
                rc = zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_CONFIG,
                                  "the server reports no binlog position: binary logging is off "
                                  "(log_bin)");
        return rc;
}

/* MariaDB: the GTID position that belongs to exactly these coordinates. */
static int gtid_at(struct st_mysql *m, struct my_binlog_pos *pos, struct zetl_err *err)
{
        char esc[2 * MY_BINLOG_FILE_MAX + 1], sql[2 * MY_BINLOG_FILE_MAX + 96];
        bool found;

        mysql_real_escape_string(m, esc, pos->file, (unsigned long)strlen(pos->file));
        snprintf(sql, sizeof(sql), "SELECT BINLOG_GTID_POS('%s', %" PRIu64 ")", esc, pos->offset);
        return my_query_value(m, sql, "reading the snapshot's GTID position", 0, pos->gtid,
                              sizeof(pos->gtid), &found, err);
}

int my_snapshot_start(struct st_mysql *m, enum my_snapshot_method method, struct my_binlog_pos *pos,
                      struct zetl_err *err)
{
        static const char *const begin = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";
        struct my_server_info si;
        bool locked = false, in_tx = false;
        int rc;

        memset(pos, 0, sizeof(*pos));
        if ((rc = my_server_info(m, &si, err)))
                return rc;
        if (method == MY_SNAPSHOT_AUTO)
                method = si.flavor == MY_FLAVOR_MARIADB ? MY_SNAPSHOT_NOLOCK : MY_SNAPSHOT_LOCK;
        if (method == MY_SNAPSHOT_NOLOCK && si.flavor != MY_FLAVOR_MARIADB)
                return zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_CONFIG,
                                    "a snapshot without a lock needs MariaDB's "
                                    "binlog_snapshot_file; %s is MySQL",
                                    si.version);
        if (method == MY_SNAPSHOT_LOCK) {
                if ((rc = my_exec(m, "FLUSH TABLES WITH READ LOCK",
                                  "locking tables for the snapshot", err)))
                        return rc;
                locked = true;
        }
        if ((rc = my_exec(m, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                          "starting the snapshot", err)) ||
            (rc = my_exec(m, begin, "starting the snapshot", err)))
                goto out;
        in_tx = true;
        if ((rc = read_status_pos(m, method == MY_SNAPSHOT_LOCK, pos, err)))
                goto out;
        if (locked) {
                locked = false;
                if ((rc = my_exec(m, "UNLOCK TABLES", "unlocking tables after the snapshot", err)))
                        goto out;
        }
        if (si.flavor == MY_FLAVOR_MARIADB)
                rc = gtid_at(m, pos, err);
out:
        if (locked)
                mysql_query(m, "UNLOCK TABLES"); /* best effort: rc says what went wrong */
        if (rc && in_tx)
                mysql_query(m, "ROLLBACK");
        return rc;
}
