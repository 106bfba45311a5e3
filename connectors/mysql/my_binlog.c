/*
 * The binlog reader (see my_binlog.h) on Connector/C's replication API, with
 * its measured pitfalls (docs/FACTS.md) handled here once: the session
 * variables a dump needs; errors read from mysql_errno(), since
 * mariadb_rpl_errno() misses the server's; the event handed to
 * mariadb_rpl_fetch() being freed when it returns NULL; heartbeats always
 * delivered (the flag that would hide them does not fit in the library's
 * 16-bit field); and the artificial ROTATE that follows every real one,
 * which Connector/C 3.3 rejects as malformed although the stream is intact
 * (rescue_rotate). Headers and the position-moving events are decoded from
 * the raw bytes, bounds-checked, rather than from the library's structs,
 * whose heartbeat layout is MySQL's.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <mysql.h>
#include <mariadb_rpl.h>

#include "my_binlog.h"

#define DEFAULT_HEARTBEAT_MS 1000
#define MAX_HEARTBEAT_MS     3600000
#define MIN_TIMEOUT_S        10
#define CHECKSUM_LEN         4
/* Binlog checksum algorithms in FORMAT_DESCRIPTION: off, CRC32, undefined. */
#define ALG_OFF   0
#define ALG_UNDEF 255
/* Fixed lengths of the post-headers we read (used when the FDE gives none). */
#define QUERY_POST_HEADER  13
#define ROTATE_POST_HEADER 8
#define GTID_MIN_BODY      13
/* FORMAT_DESCRIPTION: version, server version, create time, header length. */
#define FDE_FIXED 57
/* Error 1236: ER_MASTER_FATAL_ERROR_READING_BINLOG; 4052: ER_SLAVE_SAME_ID;
 * 5021: CR_BINLOG_ERROR, Connector/C's "malformed packet". */
#define ER_BINLOG_GONE 1236
#define ER_SAME_ID     4052
#define CR_BINLOG_ERR  5021
/* A position in a message: a file name cut to 200 bytes and an offset. */
#define WHERE_MAX 240

struct my_binlog {
        MYSQL *m;
        MARIADB_RPL *rpl;
        MARIADB_RPL_EVENT *ev; /* the last event; its memory backs struct my_event */
        atomic_int stop;
        atomic_int fd;
        bool failed;
        bool mariadb;
        uint8_t crc_len;                   /* checksum bytes at the end of each event */
        uint8_t post_header[256];          /* from the last FORMAT_DESCRIPTION, by type - 1 */
        char file[MY_BINLOG_FILE_MAX];     /* the file the reader is in */
        uint64_t pos;                      /* where its next event starts */
        char old_file[MY_BINLOG_FILE_MAX]; /* a ROTATE's file, handed out with it */
        char aux[MY_BINLOG_FILE_MAX];      /* a heartbeat's or ROTATE's file name */
        char schema[256];                  /* a QUERY's database (64 characters, utf8) */
        /* An artificial ROTATE that Connector/C rejected, copied from the packet buffer. */
        uint8_t rescued[MY_EVENT_HEADER_LEN + ROTATE_POST_HEADER + MY_BINLOG_FILE_MAX +
                        CHECKSUM_LEN];
        char start[MY_BINLOG_FILE_MAX + MY_GTID_POS_MAX + 32]; /* the start, for messages */
};

static uint16_t le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
        return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

uint32_t my_binlog_server_id(const char *name, uint32_t salt)
{
        uint32_t h = 2166136261u; /* FNV-1a */

        for (const unsigned char *s = (const unsigned char *)name; s && *s; s++)
                h = (h ^ *s) * 16777619u;
        for (int i = 0; i < 4; i++)
                h = (h ^ (salt >> (8 * i) & 0xff)) * 16777619u;
        return 1000 + h % 4000000000u;
}

/* ---- positions ---------------------------------------------------------------- */

static int file_seq(const char *file, uint32_t *seq)
{
        const char *dot = strrchr(file, '.');
        uint64_t v = 0;

        if (!dot || !dot[1])
                return ZETL_EINVAL;
        for (const char *p = dot + 1; *p; p++) {
                if (*p < '0' || *p > '9')
                        return ZETL_EINVAL;
                v = v * 10 + (uint64_t)(*p - '0');
                if (v > UINT32_MAX)
                        return ZETL_EINVAL;
        }
        *seq = (uint32_t)v;
        return 0;
}

int my_binlog_order(const char *file, uint64_t offset, uint64_t *out)
{
        uint32_t seq;

        *out = 0;
        if (!file || file_seq(file, &seq) || offset > UINT32_MAX)
                return ZETL_EINVAL;
        *out = (uint64_t)seq << 32 | offset;
        return 0;
}

/* A MySQL GTID position as zetl writes it: uuid:gno (hex digits, '-', ':'). */
static bool mysql_gtid_text_ok(const char *g)
{
        for (; *g; g++)
                if (!isxdigit((unsigned char)*g) && *g != '-' && *g != ':' && *g != ',')
                        return false;
        return true;
}

static bool gtid_text_ok(const char *g)
{
        for (; *g; g++)
                if ((*g < '0' || *g > '9') && *g != '-' && *g != ',')
                        return false;
        return true;
}

void my_binlog_pos_format(const struct my_binlog_pos *pos, char *buf, size_t len)
{
        int n = 0;

        if (!len)
                return;
        buf[0] = '\0';
        if (pos->file[0])
                n = snprintf(buf, len, "%s:%" PRIu64, pos->file, pos->offset);
        if (pos->gtid[0] && n >= 0 && (size_t)n < len)
                snprintf(buf + n, len - (size_t)n, "%sgtid=%s", n ? " " : "", pos->gtid);
}

int my_binlog_pos_parse(const char *text, struct my_binlog_pos *out, struct zetl_err *err)
{
        const char *g = strstr(text, "gtid="), *end, *colon = NULL;
        char *stop;

        memset(out, 0, sizeof(*out));
        if (g && g != text && g[-1] != ' ')
                g = NULL;
        end = g ? g : text + strlen(text);
        while (end > text && end[-1] == ' ')
                end--;
        for (const char *p = text; p < end; p++)
                if (*p == ':')
                        colon = p;
        if (end > text) {
                if (!colon || colon == text || (size_t)(colon - text) >= sizeof(out->file))
                        goto bad;
                memcpy(out->file, text, (size_t)(colon - text));
                errno = 0;
                out->offset = strtoull(colon + 1, &stop, 10);
                if (errno || stop != end || stop == colon + 1 || out->offset < 4)
                        goto bad;
        }
        if (g) {
                if (strlen(g + 5) >= sizeof(out->gtid) ||
                    !(gtid_text_ok(g + 5) || mysql_gtid_text_ok(g + 5)))
                        goto bad;
                snprintf(out->gtid, sizeof(out->gtid), "%s", g + 5);
        }
        if (!out->file[0] && !out->gtid[0])
                goto bad;
        return 0;
bad:
        memset(out, 0, sizeof(*out));
        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                            "not a binlog position: '%.200s' (want FILE:OFFSET gtid=D-S-N)", text);
}

void my_binlog_where(const struct my_binlog *r, struct my_binlog_pos *out)
{
        memset(out, 0, sizeof(*out));
        snprintf(out->file, sizeof(out->file), "%s", r->file);
        out->offset = r->pos;
}

enum my_flavor my_binlog_flavor(const struct my_binlog *r)
{
        return r->mariadb ? MY_FLAVOR_MARIADB : MY_FLAVOR_MYSQL;
}

/* ---- opening ------------------------------------------------------------------- */

static int check_start(const struct my_binlog_pos *s, struct zetl_err *err)
{
        if (s->file[0]) {
                if (s->offset < 4 || s->offset > UINT32_MAX)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                            "binlog offset %" PRIu64 " is out of range (4 is a "
                                            "file's first event)",
                                            s->offset);
                return 0;
        }
        if (!s->gtid[0])
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "a binlog start position needs a file or a GTID position");
        if (!gtid_text_ok(s->gtid))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "not a MariaDB GTID position: '%.100s' (want D-S-N,...)",
                                    s->gtid);
        return 0;
}

/* The session variables a dump needs, then the checksum the server will use. */
static int prepare_session(struct my_binlog *r, const struct my_binlog_pos *start,
                           unsigned heartbeat_ms, struct zetl_err *err)
{
        char sql[MY_GTID_POS_MAX + 64], alg[32];
        bool found;
        int rc;

        /* Without these: error 1236, and GTIDs arriving as dummy events. */
        if ((rc = my_exec(r->m, "SET @master_binlog_checksum = @@global.binlog_checksum",
                          "preparing the binlog dump", err)) ||
            (rc = my_exec(r->m, "SET @mariadb_slave_capability = 4", "preparing the binlog dump",
                          err)))
                return rc;
        snprintf(sql, sizeof(sql), "SET @master_heartbeat_period = %" PRIu64,
                 (uint64_t)heartbeat_ms * 1000000);
        if ((rc = my_exec(r->m, sql, "setting the binlog heartbeat", err)))
                return rc;
        if (!start->file[0]) {
                snprintf(sql, sizeof(sql), "SET @slave_connect_state = '%s'", start->gtid);
                if ((rc = my_exec(r->m, sql, "setting the GTID start position", err)))
                        return rc;
        }
        if ((rc = my_query_value(r->m, "SELECT @master_binlog_checksum", "reading the checksum", 0,
                                 alg, sizeof(alg), &found, err)))
                return rc;
        /* Until the first FORMAT_DESCRIPTION, events carry what we asked for. */
        r->crc_len = found && strcasecmp(alg, "NONE") != 0 ? CHECKSUM_LEN : 0;
        return 0;
}

static int start_dump(struct my_binlog *r, const struct my_binlog_pos *start,
                      const struct my_binlog_opts *o, struct zetl_err *err)
{
        unsigned flags = o->annotate_rows ? MARIADB_RPL_BINLOG_SEND_ANNOTATE_ROWS : 0;
        unsigned long pos = start->file[0] ? (unsigned long)start->offset : 4;
        const char *file = start->file;

        if (!(r->rpl = mariadb_rpl_init(r->m)))
                return my_conn_error(r->m, "starting the binlog dump", err);
        if (mariadb_rpl_optionsv(r->rpl, MARIADB_RPL_SERVER_ID, (unsigned)o->server_id) ||
            mariadb_rpl_optionsv(r->rpl, MARIADB_RPL_FILENAME, file, strlen(file)) ||
            mariadb_rpl_optionsv(r->rpl, MARIADB_RPL_START, pos) ||
            mariadb_rpl_optionsv(r->rpl, MARIADB_RPL_FLAGS, flags))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "Connector/C refused a binlog dump option");
        atomic_store(&r->fd, (int)mysql_get_socket(r->m));
        if (mariadb_rpl_open(r->rpl))
                return my_conn_error(r->m, "starting the binlog dump", err);
        return 0;
}

int my_binlog_open(const struct my_conn_params *p, const struct my_binlog_pos *start,
                   const struct my_binlog_opts *o, struct my_binlog **out, struct zetl_err *err)
{
        unsigned hb = o->heartbeat_ms ? o->heartbeat_ms : DEFAULT_HEARTBEAT_MS;
        struct my_conn_params cp = *p;
        struct my_binlog *r;
        int rc;

        *out = NULL;
        if ((rc = check_start(start, err)))
                return rc;
        if (o->server_id == 0)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "a binlog reader needs a non-zero server_id");
        if (hb > MAX_HEARTBEAT_MS)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "binlog heartbeat of %u ms: at most %d", hb, MAX_HEARTBEAT_MS);
        if (!(r = calloc(1, sizeof(*r))))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        atomic_init(&r->stop, 0);
        atomic_init(&r->fd, -1);
        snprintf(r->file, sizeof(r->file), "%s", start->file);
        r->pos = start->file[0] ? start->offset : 0;
        my_binlog_pos_format(start, r->start, sizeof(r->start));
        /* A silent server is a lost one after a few missed heartbeats. */
        cp.read_timeout_s = o->timeout_s ? o->timeout_s : (5 * hb + 999) / 1000;
        if (cp.read_timeout_s < MIN_TIMEOUT_S && !o->timeout_s)
                cp.read_timeout_s = MIN_TIMEOUT_S;
        if ((rc = my_conn_open(&cp, &r->m, err)))
                goto fail;
        r->mariadb = strstr(mysql_get_server_info(r->m), "MariaDB") != NULL;
        if (!start->file[0] && !r->mariadb) {
                rc = zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_CONFIG,
                                  "MySQL: a binlog dump can start from a file and offset only, "
                                  "not from GTID %.100s",
                                  start->gtid);
                goto fail;
        }
        if ((rc = prepare_session(r, start, hb, err)) || (rc = start_dump(r, start, o, err)))
                goto fail;
        *out = r;
        return 0;
fail:
        my_binlog_close(r);
        return rc;
}

void my_binlog_interrupt(struct my_binlog *r)
{
        int fd;

        if (!r)
                return;
        atomic_store(&r->stop, 1);
        fd = atomic_load(&r->fd);
        if (fd >= 0)
                shutdown(fd, SHUT_RDWR);
}

void my_binlog_close(struct my_binlog *r)
{
        if (!r)
                return;
        mariadb_free_rpl_event(r->ev);
        if (r->rpl)
                mariadb_rpl_close(r->rpl);
        my_conn_close(r->m);
        free(r);
}

/* ---- reading ------------------------------------------------------------------- */

static const char *where(const struct my_binlog *r, char *buf, size_t len)
{
        /* Bounded: it goes into a message of ZETL_ERR_MSG_MAX. */
        if (r->file[0])
                snprintf(buf, len, "%.200s:%" PRIu64, r->file, r->pos);
        else
                snprintf(buf, len, "%.200s", r->start);
        return buf;
}

/*
 * Connector/C 3.3 rejects, as a malformed packet (5021), the artificial
 * ROTATE a server sends after each real one, when the dump moves on to the
 * next file; the stream itself is intact and the next fetch goes on with the
 * new file's events (measured with MariaDB 10.11). So when the packet that
 * failed is such a ROTATE, copy it out of the connection's buffer and hand
 * it on like any other event. Returns false when it is something else.
 */
static bool rescue_rotate(struct my_binlog *r, const uint8_t **h, size_t *avail)
{
        const uint8_t *pkt = r->m->net.read_pos, *end = r->m->net.buff_end;
        uint32_t len;

        if (!pkt || !end || end - pkt < 1 + MY_EVENT_HEADER_LEN || pkt[0] != 0x00)
                return false;
        len = le32(pkt + 1 + 9);
        if (pkt[1 + 4] != MY_EV_ROTATE || !(le16(pkt + 1 + 17) & MY_EVF_ARTIFICIAL) ||
            len < MY_EVENT_HEADER_LEN || len > sizeof(r->rescued) ||
            (size_t)(end - pkt) < 1 + (size_t)len)
                return false;
        memcpy(r->rescued, pkt + 1, len);
        *h = r->rescued;
        *avail = len;
        return true;
}

/* mariadb_rpl_fetch() returned NULL: why, from the connection (FACTS.md). */
static int fetch_error(struct my_binlog *r, struct zetl_err *err)
{
        unsigned n = mysql_errno(r->m);
        const uint8_t *pkt = r->m->net.read_pos;
        enum zetl_err_class cls;
        char at[WHERE_MAX], what[WHERE_MAX + 32];

        where(r, at, sizeof(at));
        if (atomic_load(&r->stop))
                return zetl_err_set(err, ZETL_ECANCELED, ZETL_ERRC_TRANSIENT,
                                    "binlog reader stopped at %s", at);
        if (n == ER_BINLOG_GONE)
                return zetl_err_set(err, ZETL_ENOTFOUND, ZETL_ERRC_FATAL,
                                    "binlog position %s is gone from the server: %s (error %u); "
                                    "its binlog was purged or never held it, so the changes "
                                    "since are lost to zetl: a full resync is needed",
                                    at, mysql_error(r->m), n);
        if (n == ER_SAME_ID)
                return zetl_err_set(err, ZETL_ESTATE, ZETL_ERRC_CONFIG,
                                    "another binlog reader connected with this reader's "
                                    "server_id, and the server dropped this one: %s",
                                    mysql_error(r->m));
        if (n != 0 && n != CR_BINLOG_ERR && my_conn_classify(n, &cls) != ZETL_EIO) {
                snprintf(what, sizeof(what), "reading the binlog at %s", at);
                return my_conn_error(r->m, what, err);
        }
        /* Nothing or the library's own complaint: look at the packet itself. */
        if (pkt && pkt[0] == 0xFE)
                return zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_TRANSIENT,
                                    "the server ended the binlog stream at %s", at);
        if (n != 0)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "reading the binlog at %s (event type %u): %s (error %u)", at,
                                    pkt ? pkt[5] : 0, mysql_error(r->m), n);
        return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                            "Connector/C could not read the binlog event at %s (type %u)", at,
                            pkt ? pkt[5] : 0);
}

static int malformed(struct my_binlog *r, const struct my_event *ev, const char *why,
                     struct zetl_err *err)
{
        char at[WHERE_MAX];

        return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                            "malformed binlog event (type %u) at %s: %s", ev->type,
                            where(r, at, sizeof(at)), why);
}

/* Copy a name that is not NUL-terminated in the event into buf. */
static bool copy_name(const uint8_t *p, size_t n, char *buf, size_t len)
{
        if (n == 0 || n >= len || memchr(p, '\0', n))
                return false;
        memcpy(buf, p, n);
        buf[n] = '\0';
        return true;
}

static size_t post_header(const struct my_binlog *r, uint8_t type, size_t fixed)
{
        size_t n = type ? r->post_header[type - 1] : 0;

        return n >= fixed ? n : fixed;
}

static int decode_fde(struct my_binlog *r, struct my_event *ev, size_t total, struct zetl_err *err)
{
        const uint8_t *b = ev->body;
        size_t n;

        /* It always ends in the algorithm byte and a checksum field, used or not. */
        if (total < FDE_FIXED + 1 + CHECKSUM_LEN)
                return malformed(r, ev, "FORMAT_DESCRIPTION too short", err);
        ev->body_len = total - CHECKSUM_LEN;
        ev->u.fde.binlog_version = le16(b);
        memcpy(ev->u.fde.server_version, b + 2, 50);
        ev->u.fde.server_version[50] = '\0';
        if (b[56] != MY_EVENT_HEADER_LEN || ev->u.fde.binlog_version != 4)
                return zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_FATAL,
                                    "binlog format %u with %u-byte headers: zetl reads v4 "
                                    "(MySQL 5.0 and later)",
                                    ev->u.fde.binlog_version, b[56]);
        ev->u.fde.checksum_alg = b[ev->body_len - 1];
        n = ev->body_len - 1 - FDE_FIXED;
        ev->u.fde.post_header_len = b + FDE_FIXED;
        ev->u.fde.n_post_header_len = n;
        memset(r->post_header, 0, sizeof(r->post_header));
        memcpy(r->post_header, b + FDE_FIXED,
               n < sizeof(r->post_header) ? n : sizeof(r->post_header));
        r->crc_len = ev->u.fde.checksum_alg == ALG_OFF || ev->u.fde.checksum_alg == ALG_UNDEF
                             ? 0
                             : CHECKSUM_LEN;
        return 0;
}

static int decode_rotate(struct my_binlog *r, struct my_event *ev, struct zetl_err *err)
{
        size_t ph = post_header(r, MY_EV_ROTATE, ROTATE_POST_HEADER);

        if (ev->body_len <= ph ||
            !copy_name(ev->body + ph, ev->body_len - ph, r->aux, sizeof(r->aux)))
                return malformed(r, ev, "ROTATE without a file name", err);
        ev->u.rotate.pos = le64(ev->body);
        ev->u.rotate.file = r->aux;
        /* The event belongs to the file it ends; the reader moves on. */
        snprintf(r->old_file, sizeof(r->old_file), "%s", ev->artificial ? r->aux : r->file);
        ev->file = r->old_file;
        snprintf(r->file, sizeof(r->file), "%s", r->aux);
        r->pos = ev->u.rotate.pos;
        return 0;
}

static int decode_query(struct my_binlog *r, struct my_event *ev, struct zetl_err *err)
{
        const uint8_t *b = ev->body;
        size_t ph = post_header(r, ev->type, QUERY_POST_HEADER), db_len, status_len, off;

        if (ev->body_len < ph)
                return malformed(r, ev, "QUERY shorter than its post-header", err);
        ev->u.query.thread_id = le32(b);
        db_len = b[8];
        ev->u.query.error_code = le16(b + 9);
        status_len = le16(b + 11);
        off = ph + status_len;
        /* The database name is followed by a NUL, then the statement. */
        if (off + db_len + 1 > ev->body_len || b[off + db_len] != '\0')
                return malformed(r, ev, "QUERY with a bad database name", err);
        memcpy(r->schema, b + off, db_len); /* db_len < 256 = sizeof(r->schema) */
        r->schema[db_len] = '\0';
        ev->u.query.schema = r->schema;
        ev->u.query.sql = (const char *)b + off + db_len + 1;
        ev->u.query.sql_len = ev->body_len - (off + db_len + 1);
        return 0;
}

int my_mysql_gtid_parse(const uint8_t *body, size_t len, uint8_t sid[16], int64_t *gno,
                        struct zetl_err *err)
{
        uint64_t g;

        if (len < 1 + 16 + 8)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "MySQL GTID event of %zu bytes (at least 25)", len);
        memcpy(sid, body + 1, 16);
        g = le64(body + 17);
        if (g == 0 || g > (uint64_t)INT64_MAX)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "MySQL GTID event with transaction number %llu",
                                    (unsigned long long)g);
        *gno = (int64_t)g;
        return 0;
}

void my_mysql_gtid_format(const uint8_t sid[16], int64_t gno, char *buf, size_t len)
{
        static const char hex[] = "0123456789abcdef";
        char u[37];
        int k = 0;

        for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        u[k++] = '-';
                u[k++] = hex[sid[i] >> 4];
                u[k++] = hex[sid[i] & 15];
        }
        u[k] = '\0';
        snprintf(buf, len, "%s:%lld", u, (long long)gno);
}

static int decode_body(struct my_binlog *r, struct my_event *ev, struct zetl_err *err)
{
        const uint8_t *b = ev->body;

        switch (ev->type) {
        case MY_EV_ROTATE:
                return decode_rotate(r, ev, err);
        case MY_EV_QUERY:
        case MY_EV_QUERY_COMPRESSED:
                return decode_query(r, ev, err);
        case MY_EV_XID:
                if (ev->body_len < 8)
                        return malformed(r, ev, "XID too short", err);
                ev->u.xid.xid = le64(b);
                return 0;
        case MY_EV_GTID:
                if (ev->body_len < GTID_MIN_BODY)
                        return malformed(r, ev, "GTID too short", err);
                ev->u.gtid.seq = le64(b);
                ev->u.gtid.domain_id = le32(b + 8);
                ev->u.gtid.flags = b[12];
                ev->u.gtid.server_id = ev->server_id;
                ev->u.gtid.standalone = b[12] & MY_GTID_STANDALONE;
                if ((b[12] & MY_GTID_GROUP_COMMIT_ID) && ev->body_len >= GTID_MIN_BODY + 8)
                        ev->u.gtid.commit_id = le64(b + GTID_MIN_BODY);
                return 0;
        case MY_EV_MYSQL_GTID:
                return my_mysql_gtid_parse(b, ev->body_len, ev->u.mysql_gtid.sid,
                                           &ev->u.mysql_gtid.gno, err);
        case MY_EV_HEARTBEAT:
                /* MariaDB's and MySQL's v1 heartbeat: the current file's name. */
                if (!copy_name(b, ev->body_len, r->aux, sizeof(r->aux)))
                        return malformed(r, ev, "heartbeat without a file name", err);
                ev->u.heartbeat.file = r->aux;
                return 0;
        default:
                return 0;
        }
}

/* One event: h points at its common header, with avail bytes readable. */
static int decode(struct my_binlog *r, const uint8_t *h, size_t avail, struct my_event *ev,
                  struct zetl_err *err)
{
        size_t total;

        memset(ev, 0, sizeof(*ev));
        ev->file = r->file;
        if (avail < MY_EVENT_HEADER_LEN)
                return malformed(r, ev, "shorter than an event header", err);
        ev->timestamp = le32(h);
        ev->type = h[4];
        ev->server_id = le32(h + 5);
        ev->event_len = le32(h + 9);
        ev->log_pos = le32(h + 13);
        ev->flags = le16(h + 17);
        if (ev->event_len < MY_EVENT_HEADER_LEN || ev->event_len > avail)
                return malformed(r, ev, "event length disagrees with the packet", err);
        ev->artificial =
                (ev->flags & MY_EVF_ARTIFICIAL) || ev->log_pos == 0 || ev->type == MY_EV_HEARTBEAT;
        if (ev->artificial)
                ev->log_pos = 0;
        else if (ev->log_pos >= ev->event_len)
                ev->start_pos = ev->log_pos - ev->event_len;
        ev->body = h + MY_EVENT_HEADER_LEN;
        total = ev->event_len - MY_EVENT_HEADER_LEN;
        if (ev->type == MY_EV_FORMAT_DESCRIPTION)
                return decode_fde(r, ev, total, err);
        if (total < r->crc_len)
                return malformed(r, ev, "shorter than its checksum", err);
        ev->body_len = total - r->crc_len;
        /* A heartbeat's log_pos is how far the server has read: not ours to resume from. */
        if (ev->type == MY_EV_HEARTBEAT)
                ev->u.heartbeat.pos = le32(h + 13);
        return decode_body(r, ev, err);
}

int my_binlog_next(struct my_binlog *r, struct my_event *ev, struct zetl_err *err)
{
        MARIADB_RPL_EVENT *raw;
        const uint8_t *h;
        size_t avail;
        int rc;

        memset(ev, 0, sizeof(*ev));
        if (atomic_load(&r->stop))
                return zetl_err_set(err, ZETL_ECANCELED, ZETL_ERRC_TRANSIENT,
                                    "binlog reader stopped");
        if (r->failed)
                return zetl_err_set(err, ZETL_ESTATE, ZETL_ERRC_FATAL,
                                    "binlog reader used after an error");
        raw = mariadb_rpl_fetch(r->rpl, r->ev);
        r->ev = raw; /* on NULL, fetch has freed the event it was given */
        if (raw) {
                if (raw->raw_data_ofs > raw->raw_data_size)
                        h = NULL, avail = 0;
                else
                        h = raw->raw_data + raw->raw_data_ofs,
                        avail = raw->raw_data_size - raw->raw_data_ofs;
        } else if (atomic_load(&r->stop) || mysql_errno(r->m) != CR_BINLOG_ERR ||
                   !rescue_rotate(r, &h, &avail)) {
                r->failed = true;
                return fetch_error(r, err);
        }
        if ((rc = decode(r, h, avail, ev, err)))
                r->failed = true;
        else if (!ev->artificial && ev->type != MY_EV_ROTATE)
                r->pos = ev->log_pos;
        return rc;
}
