/* Prometheus metrics of `zetl run`: a file and a small HTTP endpoint (see metrics.h). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fsutil.h"
#include "metrics.h"
#include "zetl/log.h"

/* Commit latency buckets in seconds (upper bounds; +Inf is implied). */
static const double buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct zetl_metrics {
        char *integration;
        char *dir, *name; /* the metrics file, split; NULL without one */
        pthread_mutex_t mu;
        uint64_t batches, commits, retries, errors;
        uint64_t bucket[NBUCKETS + 1]; /* the last one is +Inf */
        double commit_sum;
        char *text; /* the latest rendering, served over HTTP */
        bool healthy;
        char health[512];
        int lfd;
        int wake[2];
        pthread_t thread;
        bool serving;
        bool stopped;
};

struct buf {
        char *p;
        size_t len, cap;
        bool failed;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (b->failed)
                return;
        for (;;) {
                va_start(ap, fmt);
                n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        b->failed = true;
                        return;
                }
                if (b->p && b->len + (size_t)n < b->cap) {
                        b->len += (size_t)n;
                        return;
                }
                size_t cap = b->cap ? b->cap * 2 : 4096;
                while (cap < b->len + (size_t)n + 1)
                        cap *= 2;
                char *np = realloc(b->p, cap);
                if (!np) {
                        b->failed = true;
                        return;
                }
                b->p = np;
                b->cap = cap;
        }
}

/* A label value: backslash, double quote and newline escaped. */
static void put_label(struct buf *b, const char *v)
{
        for (; *v; v++) {
                if (*v == '\\')
                        put(b, "\\\\");
                else if (*v == '"')
                        put(b, "\\\"");
                else if (*v == '\n')
                        put(b, "\\n");
                else
                        put(b, "%c", *v);
        }
}

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
        put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{integration="..."[,table="..."][,extra]} */
static void series(struct buf *b, const struct zetl_metrics *m, const char *name, const char *table,
                   const char *extra)
{
        put(b, "%s{integration=\"", name);
        put_label(b, m->integration);
        put(b, "\"");
        if (table) {
                put(b, ",table=\"");
                put_label(b, table);
                put(b, "\"");
        }
        if (extra)
                put(b, ",%s", extra);
        put(b, "} ");
}

char *zetl_metrics_render(struct zetl_metrics *m, const struct zetl_status *st)
{
        static const char *const ops[] = { "snapshot", "insert", "update", "delete" };
        struct buf b = { 0 };
        char name[ZETL_NAME_MAX * 3], extra[64];

        if (!m)
                return NULL;
        pthread_mutex_lock(&m->mu);
        head(&b, "zetl_up", "gauge", "1 while zetl run is running.");
        series(&b, m, "zetl_up", NULL, NULL);
        put(&b, "%d\n", !m->stopped);
        if (st) {
                head(&b, "zetl_state", "gauge", "The integration's state (1 for the current one).");
                for (int s = 0; s <= ZETL_STATE_DELETING; s++) {
                        snprintf(extra, sizeof(extra), "state=\"%s\"", zetl_state_name(s));
                        series(&b, m, "zetl_state", NULL, extra);
                        put(&b, "%d\n", (int)st->state == s);
                }
                head(&b, "zetl_lag_seconds", "gauge",
                     "Seconds between now and the source commit time of the last change the "
                     "target has.");
                series(&b, m, "zetl_lag_seconds", NULL, NULL);
                if (st->lag_seconds >= 0)
                        put(&b, "%.3f\n", st->lag_seconds);
                else
                        put(&b, "NaN\n");
                head(&b, "zetl_lag_bytes", "gauge",
                     "Source log bytes (WAL, binlog) between the server's end and what the "
                     "target has.");
                series(&b, m, "zetl_lag_bytes", NULL, NULL);
                if (st->lag_bytes >= 0)
                        put(&b, "%lld\n", (long long)st->lag_bytes);
                else
                        put(&b, "NaN\n");
                head(&b, "zetl_rows_total", "counter",
                     "Rows applied to the target, by table and operation.");
                for (int i = 0; i < st->ntables; i++) {
                        const struct zetl_table_status *t = &st->tables[i];
                        const int64_t n[4] = { t->rows_snapshot, t->rows_inserted, t->rows_updated,
                                               t->rows_deleted };
                        zetl_table_id_str(&t->id, name, sizeof(name));
                        for (int k = 0; k < 4; k++) {
                                snprintf(extra, sizeof(extra), "op=\"%s\"", ops[k]);
                                series(&b, m, "zetl_rows_total", name, extra);
                                put(&b, "%lld\n", (long long)n[k]);
                        }
                }
                head(&b, "zetl_bytes_total", "counter",
                     "Bytes of column data applied to the target, by table.");
                for (int i = 0; i < st->ntables; i++) {
                        zetl_table_id_str(&st->tables[i].id, name, sizeof(name));
                        series(&b, m, "zetl_bytes_total", name, NULL);
                        put(&b, "%lld\n", (long long)st->tables[i].bytes);
                }
                head(&b, "zetl_table_state", "gauge",
                     "Each table's state (1 for the current one).");
                for (int i = 0; i < st->ntables; i++) {
                        zetl_table_id_str(&st->tables[i].id, name, sizeof(name));
                        for (int s = 0; s <= ZETL_TABLE_NEEDS_ATTENTION; s++) {
                                snprintf(extra, sizeof(extra), "state=\"%s\"",
                                         zetl_table_state_name(s));
                                series(&b, m, "zetl_table_state", name, extra);
                                put(&b, "%d\n", (int)st->tables[i].state == s);
                        }
                }
        }
        head(&b, "zetl_batches_total", "counter", "Batches written to the target.");
        series(&b, m, "zetl_batches_total", NULL, NULL);
        put(&b, "%llu\n", (unsigned long long)m->batches);
        head(&b, "zetl_commit_duration_seconds", "histogram",
             "Time the target took to make a commit durable.");
        uint64_t cum = 0;
        for (size_t i = 0; i <= NBUCKETS; i++) {
                cum += m->bucket[i];
                if (i < NBUCKETS)
                        snprintf(extra, sizeof(extra), "le=\"%g\"", buckets[i]);
                else
                        snprintf(extra, sizeof(extra), "le=\"+Inf\"");
                series(&b, m, "zetl_commit_duration_seconds_bucket", NULL, extra);
                put(&b, "%llu\n", (unsigned long long)cum);
        }
        series(&b, m, "zetl_commit_duration_seconds_sum", NULL, NULL);
        put(&b, "%.6f\n", m->commit_sum);
        series(&b, m, "zetl_commit_duration_seconds_count", NULL, NULL);
        put(&b, "%llu\n", (unsigned long long)m->commits);
        head(&b, "zetl_retries_total", "counter",
             "Attempts restarted after a transient failure (with backoff).");
        series(&b, m, "zetl_retries_total", NULL, NULL);
        put(&b, "%llu\n", (unsigned long long)m->retries);
        head(&b, "zetl_errors_total", "counter",
             "Failed attempts and tables put into needs_attention.");
        series(&b, m, "zetl_errors_total", NULL, NULL);
        put(&b, "%llu\n", (unsigned long long)m->errors);
        pthread_mutex_unlock(&m->mu);
        if (b.failed) {
                free(b.p);
                return NULL;
        }
        return b.p;
}

void zetl_metrics_publish(struct zetl_metrics *m, const struct zetl_status *st)
{
        char *text;
        struct zetl_err e;

        if (!m || !(text = zetl_metrics_render(m, st)))
                return;
        pthread_mutex_lock(&m->mu);
        free(m->text);
        m->text = text;
        m->healthy = st->state != ZETL_STATE_FAILED && st->state != ZETL_STATE_NEEDS_ATTENTION;
        snprintf(m->health, sizeof(m->health), "%s%s%.400s\n", zetl_state_name(st->state),
                 st->last_error ? ": " : "", st->last_error ? st->last_error : "");
        /* The file is written under the lock so two publishers never interleave. */
        if (m->dir &&
            zetl_file_write_atomic(m->dir, m->name, m->text, strlen(m->text), 0644, &e) != 0)
                zlog_warn("could not write the metrics file: %s", e.msg);
        pthread_mutex_unlock(&m->mu);
}

void zetl_metrics_batch(struct zetl_metrics *m)
{
        if (!m)
                return;
        pthread_mutex_lock(&m->mu);
        m->batches++;
        pthread_mutex_unlock(&m->mu);
}

void zetl_metrics_commit(struct zetl_metrics *m, double seconds)
{
        size_t i = 0;

        if (!m)
                return;
        while (i < NBUCKETS && seconds > buckets[i])
                i++;
        pthread_mutex_lock(&m->mu);
        m->bucket[i]++;
        m->commits++;
        m->commit_sum += seconds;
        pthread_mutex_unlock(&m->mu);
}

void zetl_metrics_retry(struct zetl_metrics *m)
{
        if (!m)
                return;
        pthread_mutex_lock(&m->mu);
        m->retries++;
        m->errors++;
        pthread_mutex_unlock(&m->mu);
}

void zetl_metrics_error(struct zetl_metrics *m)
{
        if (!m)
                return;
        pthread_mutex_lock(&m->mu);
        m->errors++;
        pthread_mutex_unlock(&m->mu);
}

/* ---- HTTP --------------------------------------------------------------- */

static void respond(int fd, int status, const char *reason, const char *type, const char *body)
{
        char hdr[256];
        size_t blen = strlen(body);
        int n = snprintf(hdr, sizeof(hdr),
                         "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                         "Connection: close\r\n\r\n",
                         status, reason, type, blen);

        if (send(fd, hdr, (size_t)n, MSG_NOSIGNAL) != n)
                return;
        for (size_t off = 0; off < blen;) {
                ssize_t w = send(fd, body + off, blen - off, MSG_NOSIGNAL);
                if (w <= 0)
                        return;
                off += (size_t)w;
        }
}

/* One request: read its head (a peer too slow or too large is dropped), answer. */
static void serve_one(struct zetl_metrics *m, int fd)
{
        struct timeval tv = { 2, 0 };
        char req[4096], method[8] = "", path[256] = "";
        size_t len = 0;

        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        while (len < sizeof(req) - 1) {
                ssize_t r = recv(fd, req + len, sizeof(req) - 1 - len, 0);
                if (r <= 0)
                        return;
                len += (size_t)r;
                req[len] = '\0';
                if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
                        break;
        }
        if (sscanf(req, "%7s %255s", method, path) != 2) {
                respond(fd, 400, "Bad Request", "text/plain", "bad request\n");
                return;
        }
        char *q = strchr(path, '?');
        if (q)
                *q = '\0';
        if (strcmp(method, "GET") != 0) {
                respond(fd, 405, "Method Not Allowed", "text/plain", "only GET\n");
                return;
        }
        pthread_mutex_lock(&m->mu);
        if (strcmp(path, "/metrics") == 0)
                respond(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                        m->text ? m->text : "");
        else if (strcmp(path, "/healthz") == 0)
                respond(fd, m->healthy ? 200 : 503, m->healthy ? "OK" : "Service Unavailable",
                        "text/plain; charset=utf-8", m->health);
        else
                respond(fd, 404, "Not Found", "text/plain",
                        "not found: try /metrics or /healthz\n");
        pthread_mutex_unlock(&m->mu);
}

static void *serve_main(void *arg)
{
        struct zetl_metrics *m = arg;
        struct pollfd p[2] = { { .fd = m->lfd, .events = POLLIN },
                               { .fd = m->wake[0], .events = POLLIN } };

        for (;;) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents)
                        break;
                if (p[0].revents & POLLIN) {
                        int fd = accept(m->lfd, NULL, NULL);
                        if (fd >= 0) {
                                serve_one(m, fd);
                                close(fd);
                        }
                }
        }
        return NULL;
}

/* Bind "HOST:PORT" / "[V6]:PORT". */
static int listen_on(const char *spec, int *out, struct zetl_err *err)
{
        char host[256], port[16];
        const char *colon;
        struct addrinfo hints = { .ai_family = AF_UNSPEC,
                                  .ai_socktype = SOCK_STREAM,
                                  .ai_flags = AI_PASSIVE | AI_NUMERICSERV },
                        *res = NULL;
        int fd = -1, one = 1, gai;

        if (spec[0] == '[') {
                const char *close_br = strchr(spec, ']');
                if (!close_br || close_br[1] != ':' ||
                    (size_t)(close_br - spec - 1) >= sizeof(host))
                        goto bad;
                memcpy(host, spec + 1, (size_t)(close_br - spec - 1));
                host[close_br - spec - 1] = '\0';
                colon = close_br + 1;
        } else {
                if (!(colon = strrchr(spec, ':')) || (size_t)(colon - spec) >= sizeof(host))
                        goto bad;
                memcpy(host, spec, (size_t)(colon - spec));
                host[colon - spec] = '\0';
        }
        if (!colon[1] || strlen(colon + 1) >= sizeof(port) ||
            strspn(colon + 1, "0123456789") != strlen(colon + 1))
                goto bad;
        snprintf(port, sizeof(port), "%s", colon + 1);
        if ((gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)) != 0)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "--metrics-listen %s: %s",
                                    spec, gai_strerror(gai));
        for (struct addrinfo *a = res; a; a = a->ai_next) {
                if ((fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0)) < 0)
                        continue;
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 16) == 0)
                        break;
                close(fd);
                fd = -1;
        }
        freeaddrinfo(res);
        if (fd < 0)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_CONFIG,
                                    "--metrics-listen %s: cannot listen: %s", spec,
                                    strerror(errno));
        *out = fd;
        return 0;
bad:
        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                            "--metrics-listen takes HOST:PORT or [IPV6]:PORT, not \"%.100s\"",
                            spec);
}

int zetl_metrics_open(const char *integration, const char *file, const char *listen,
                      struct zetl_metrics **out, struct zetl_err *err)
{
        struct zetl_metrics *m = calloc(1, sizeof(*m));
        int rc;

        *out = NULL;
        if (!m || !(m->integration = strdup(integration))) {
                free(m);
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        }
        pthread_mutex_init(&m->mu, NULL);
        m->lfd = -1;
        m->wake[0] = m->wake[1] = -1;
        m->healthy = true;
        snprintf(m->health, sizeof(m->health), "starting\n");
        if (file) {
                const char *slash = strrchr(file, '/');
                m->dir = slash ? strndup(file, (size_t)(slash == file ? 1 : slash - file))
                               : strdup(".");
                m->name = strdup(slash ? slash + 1 : file);
                if (!m->dir || !m->name) {
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                        goto fail;
                }
                if (!m->name[0]) {
                        rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                          "--metrics-file needs a file name, not a directory");
                        goto fail;
                }
        }
        if (listen) {
                if ((rc = listen_on(listen, &m->lfd, err)))
                        goto fail;
                if (pipe(m->wake) != 0 || pthread_create(&m->thread, NULL, serve_main, m) != 0) {
                        rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL,
                                          "starting the metrics server: %s", strerror(errno));
                        goto fail;
                }
                m->serving = true;
        }
        *out = m;
        return 0;
fail:
        zetl_metrics_close(m);
        return rc;
}

void zetl_metrics_close(struct zetl_metrics *m)
{
        if (!m)
                return;
        if (m->serving) {
                ssize_t w = write(m->wake[1], "x", 1);
                (void)w;
                pthread_join(m->thread, NULL);
        }
        if (m->dir && m->text) {
                char *text;
                struct zetl_err e;
                m->stopped = true;
                if ((text = zetl_metrics_render(m, NULL)) != NULL &&
                    zetl_file_write_atomic(m->dir, m->name, text, strlen(text), 0644, &e) != 0)
                        zlog_warn("could not write the metrics file: %s", e.msg);
                free(text);
        }
        if (m->lfd >= 0)
                close(m->lfd);
        for (int i = 0; i < 2; i++)
                if (m->wake[i] >= 0)
                        close(m->wake[i]);
        pthread_mutex_destroy(&m->mu);
        free(m->text);
        free(m->dir);
        free(m->name);
        free(m->integration);
        free(m);
}
