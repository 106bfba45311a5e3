/*
 * The OpenSearch sink: one document per source row, indexed with the bulk API
 * and external versions (the row's source position), so that a replay or a
 * retry never regresses a document and the core may replay freely. Each table
 * is an alias over a physical index "<alias>_v<N>" created with a mapping
 * derived from its schema; a change the mapping cannot take in place, and a
 * truncate, builds the next index and switches the alias atomically. The
 * applied position is a document of the checkpoint index, written at each
 * commit after the data. The full story, with the exact API calls, is in
 * docs/opensearch.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "os_doc.h"
#include "os_http.h"
#include "zetl/log.h"
#include "zetl/sink.h"
#include "zetl/value.h"

#define DEFAULT_TEMPLATE   "{db}.{schema}.{table}"
#define DEFAULT_CKPT_INDEX "zetl-checkpoints"

struct os_table {
        struct zetl_table_id id;
        char alias[OS_INDEX_MAX + 1];
        char index[OS_INDEX_MAX + 16]; /* the physical index behind the alias */
        unsigned gen;                  /* N of "<alias>_v<N>" */
        uint64_t floor; /* the truncate the index was made for: older rows are gone */
        bool fresh;     /* created empty by this run, nothing written yet */
        const struct zetl_schema *schema;
};

/* One action of the bulk being built; at most one per (table, _id). */
struct os_pending {
        int table;
        enum os_action_kind kind;
        uint64_t version;
        char *id;
        char *doc; /* index: the document */
        size_t doc_len;
        char **missing; /* unchanged columns still to take from the target */
        int nmissing;
        char *base_id; /* the _id whose stored document holds them (NULL: id) */
        bool dropped;  /* went to the dead-letter file instead */
};

struct os_sink {
        struct os_http http;
        char integration[256];
        char ckpt_index[OS_INDEX_MAX + 1];
        char tmpl[1024];
        char dead_path[4096];
        FILE *dead;
        enum os_json_mode json_mode;
        json_t *settings;
        size_t bulk_bytes;
        long bulk_actions;
        int retries;
        long retry_initial_ms, retry_max_ms, reindex_timeout_ms;
        uint64_t rnd;

        struct os_table *tables;
        int ntables;

        struct os_pending *pend;
        int npend, cappend;
        int32_t *slots; /* open addressing over pend, -1 empty */
        size_t nslots;
        size_t pend_bytes;

        struct os_buf body, idbuf, oidbuf, doc;
        struct os_resp resp;
        struct zetl_position last;
        int64_t dead_new, dead_total, retried_items;
        bool opened;
        const char *cur_index; /* for messages of plan_schema */
};

/* ---- small helpers ---------------------------------------------------------- */

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) != 0)
                ;
}

/* Exponential backoff with "equal jitter": half fixed, half random. */
static long backoff(struct os_sink *s, int attempt)
{
        long d = s->retry_initial_ms;

        for (int i = 0; i < attempt && d < s->retry_max_ms; i++)
                d *= 2;
        if (d > s->retry_max_ms)
                d = s->retry_max_ms;
        s->rnd ^= s->rnd << 13;
        s->rnd ^= s->rnd >> 7;
        s->rnd ^= s->rnd << 17;
        return d / 2 + (long)(s->rnd % (uint64_t)(d / 2 + 1));
}

static int oom(struct zetl_err *err)
{
        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
}

static bool retryable(long status)
{
        return status == 429 || status >= 500;
}

/* Dump j compactly into s->body (replacing it). */
static int body_json(struct os_sink *s, json_t *j, struct zetl_err *err)
{
        char *t;
        int rc;

        if (!j)
                return oom(err);
        t = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!t)
                return oom(err);
        os_buf_reset(&s->body);
        rc = os_buf_puts(&s->body, t);
        free(t);
        return rc ? oom(err) : 0;
}

/*
 * One request with retries: a connection error, 429 or a 5xx is tried again
 * with backoff, up to the retry limit (then a transient error: the core
 * reopens and replays). 401 and 403 are fatal with a message that says what
 * to fix. Any other status is returned in s->resp for the caller to judge.
 */
static int call(struct os_sink *s, const char *method, const char *path, const char *body,
                size_t len, bool ndjson, struct zetl_err *err)
{
        char msg[300];
        int rc = 0;

        for (int attempt = 0;; attempt++) {
                rc = os_http_req(&s->http, method, path, body, len, ndjson, &s->resp, err);
                if (rc && rc != ZETL_ECONN)
                        return rc;
                if (rc == 0 && !retryable(s->resp.status))
                        break;
                if (attempt >= s->retries) {
                        if (rc == 0)
                                rc = zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_TRANSIENT,
                                                  "%s %s: HTTP %ld after %d attempts: %s", method,
                                                  path, s->resp.status, attempt + 1,
                                                  os_error_text(s->resp.body.p, s->resp.body.len,
                                                                msg, sizeof(msg)));
                        return rc;
                }
                sleep_ms(backoff(s, attempt));
        }
        if (s->resp.status == 401)
                return zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_FATAL,
                                    "OpenSearch at %s refused %s (HTTP 401 Unauthorized): check "
                                    "the user and password (URI or --option password-file)",
                                    s->http.base,
                                    s->http.user ? "the credentials"
                                                 : "a request without credentials");
        if (s->resp.status == 403)
                return zetl_err_set(
                        err, ZETL_ECONN, ZETL_ERRC_FATAL,
                        "OpenSearch at %s: user %s may not %s %s (HTTP 403): %s", s->http.base,
                        s->http.user ? s->http.user : "(none)", method, path,
                        os_error_text(s->resp.body.p, s->resp.body.len, msg, sizeof(msg)));
        return 0;
}

/* A status the caller did not expect, as an error of class cls. */
static int unexpected(struct os_sink *s, const char *what, int code, enum zetl_err_class cls,
                      struct zetl_err *err)
{
        char msg[300];

        return zetl_err_set(err, code, cls, "%s: HTTP %ld: %s", what, s->resp.status,
                            os_error_text(s->resp.body.p, s->resp.body.len, msg, sizeof(msg)));
}

static json_t *resp_json(struct os_sink *s)
{
        return json_loadb(s->resp.body.p ? s->resp.body.p : "", s->resp.body.len, 0, NULL);
}

static const char *resp_error_type(struct os_sink *s, char *buf, size_t len)
{
        json_t *o = resp_json(s);
        const char *t = json_string_value(json_object_get(json_object_get(o, "error"), "type"));

        snprintf(buf, len, "%s", t ? t : "");
        json_decref(o);
        return buf;
}

/* ---- options and connection ------------------------------------------------------ */

static int os_parse(const char *uri, struct zetl_err *err)
{
        return os_http_parse(uri, err);
}

static int read_options(struct os_sink *s, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        const char *v;
        long long n;
        int rc;

        snprintf(s->integration, sizeof(s->integration), "%s",
                 cfg->integration ? cfg->integration : "zetl");
        v = zetl_cfg_opt(cfg, "index-template");
        snprintf(s->tmpl, sizeof(s->tmpl), "%s", v ? v : DEFAULT_TEMPLATE);
        if ((rc = os_template_check(s->tmpl, err)))
                return rc;
        v = zetl_cfg_opt(cfg, "checkpoint-index");
        snprintf(s->ckpt_index, sizeof(s->ckpt_index), "%s", v ? v : DEFAULT_CKPT_INDEX);
        v = zetl_cfg_opt(cfg, "json-mapping");
        if (!v || strcmp(v, "object") == 0)
                s->json_mode = OS_JSON_OBJECT;
        else if (strcmp(v, "flat_object") == 0)
                s->json_mode = OS_JSON_FLAT;
        else
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "option json-mapping: object or flat_object, got \"%.32s\"", v);
        if ((v = zetl_cfg_opt(cfg, "index-settings"))) {
                s->settings = json_loads(v, 0, NULL);
                if (!json_is_object(s->settings))
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                            "option index-settings: a JSON object, e.g. "
                                            "{\"number_of_shards\":1}");
        }
        if ((rc = zetl_cfg_opt_int(cfg, "bulk-bytes", 5 << 20, 1024, 1LL << 30, &n, err)))
                return rc;
        s->bulk_bytes = (size_t)n;
        if ((rc = zetl_cfg_opt_int(cfg, "bulk-actions", 5000, 1, 1000000, &n, err)))
                return rc;
        s->bulk_actions = (long)n;
        if ((rc = zetl_cfg_opt_int(cfg, "bulk-retries", 8, 0, 1000, &n, err)))
                return rc;
        s->retries = (int)n;
        if ((rc = zetl_cfg_opt_int(cfg, "bulk-retry-initial-ms", 100, 1, 600000, &n, err)))
                return rc;
        s->retry_initial_ms = (long)n;
        if ((rc = zetl_cfg_opt_int(cfg, "bulk-retry-max-ms", 10000, 1, 3600000, &n, err)))
                return rc;
        s->retry_max_ms = (long)n;
        if ((rc = zetl_cfg_opt_int(cfg, "reindex-timeout-ms", 3600000, 1000, 86400000LL * 7, &n,
                                   err)))
                return rc;
        s->reindex_timeout_ms = (long)n;
        v = zetl_cfg_opt(cfg, "dead-letter");
        if (v)
                snprintf(s->dead_path, sizeof(s->dead_path), "%s", v);
        else
                snprintf(s->dead_path, sizeof(s->dead_path), "%s/dead-letter.jsonl",
                         cfg->state_dir ? cfg->state_dir : ".");
        s->rnd = (uint64_t)now_ms() * 2654435761u ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ull;
        return 0;
}

/* GET /: the cluster answers and takes our credentials. */
static int ping(struct os_sink *s, struct zetl_err *err)
{
        json_t *o;
        int rc;

        if ((rc = call(s, "GET", "/", NULL, 0, false, err)))
                return rc;
        if (s->resp.status != 200)
                return unexpected(s, "GET /", ZETL_EPROTO, ZETL_ERRC_FATAL, err);
        o = resp_json(s);
        zlog_info("target: OpenSearch %s at %s",
                  json_string_value(json_object_get(json_object_get(o, "version"), "number"))
                          ?: "(unknown version)",
                  s->http.base);
        json_decref(o);
        return 0;
}

/* The checkpoint index, created once with a fixed mapping. */
static int ensure_ckpt_index(struct os_sink *s, struct zetl_err *err)
{
        char path[OS_INDEX_MAX + 64], et[128];
        int rc;

        snprintf(path, sizeof(path), "/%s", s->ckpt_index);
        if ((rc = call(s, "HEAD", path, NULL, 0, false, err)))
                return rc;
        if (s->resp.status == 200)
                return 0;
        if ((rc = body_json(s,
                            json_pack("{s:{s:i,s:s},s:{s:b,s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s},"
                                      "s:{s:s}}}}",
                                      "settings", "number_of_shards", 1, "auto_expand_replicas",
                                      "0-1", "mappings", "dynamic", 0, "properties", "integration",
                                      "type", "keyword", "order", "type", "keyword", "token",
                                      "type", "keyword", "time_us", "type", "long", "updated_at",
                                      "type", "date"),
                            err)) ||
            (rc = call(s, "PUT", path, s->body.p, s->body.len, false, err)))
                return rc;
        if (s->resp.status == 200 ||
            strcmp(resp_error_type(s, et, sizeof(et)), "resource_already_exists_exception") == 0)
                return 0;
        return unexpected(s, "creating the checkpoint index", ZETL_EPROTO, ZETL_ERRC_FATAL, err);
}

static int read_checkpoint(struct os_sink *s, struct zetl_err *err)
{
        char *id = os_http_escape(&s->http, s->integration);
        char path[OS_INDEX_MAX + 600];
        json_t *o, *src;
        int rc;

        if (!id)
                return oom(err);
        snprintf(path, sizeof(path), "/%s/_doc/%s", s->ckpt_index, id);
        free(id);
        memset(&s->last, 0, sizeof(s->last));
        if ((rc = call(s, "GET", path, NULL, 0, false, err)))
                return rc;
        if (s->resp.status == 404)
                return 0;
        if (s->resp.status != 200)
                return unexpected(s, "reading the checkpoint", ZETL_EPROTO, ZETL_ERRC_FATAL, err);
        o = resp_json(s);
        src = json_object_get(o, "_source");
        if (json_is_true(json_object_get(o, "found")) && json_is_object(src)) {
                const char *ord = json_string_value(json_object_get(src, "order"));
                const char *tok = json_string_value(json_object_get(src, "token"));
                zetl_pos_set(&s->last, ord ? strtoull(ord, NULL, 10) : 0, tok);
                s->last.time_us = (int64_t)json_integer_value(json_object_get(src, "time_us"));
        }
        json_decref(o);
        return 0;
}

static void sink_free(struct os_sink *s);

static int connect_sink(struct os_sink *s, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        int rc;

        if ((rc = read_options(s, cfg, err)) || (rc = os_http_open(&s->http, cfg, err)))
                return rc;
        s->opened = true;
        if ((rc = ping(s, err)) || (rc = ensure_ckpt_index(s, err)))
                return rc;
        return 0;
}

/* create-integration: the cluster answers, the credentials work, the
 * checkpoint index exists. Nothing else is made before the first run. */
static int os_setup(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct os_sink *s = priv;
        int rc = connect_sink(s, cfg, err);

        sink_free(s);
        return rc;
}

/* zetl check: the cluster answers GET / with these credentials and TLS
 * settings, and says which version it runs. Nothing is created. */
static int os_check(void *priv, const struct zetl_conn_cfg *cfg, bool fix,
                    struct zetl_check_report *r, struct zetl_err *err)
{
        struct os_sink *s = priv;
        struct zetl_check_item *it;
        int rc;

        (void)fix;
        if ((rc = read_options(s, cfg, err)) || (rc = os_http_open(&s->http, cfg, err))) {
                sink_free(s);
                return rc;
        }
        s->opened = true;
        s->retries = 1;
        if (ping(s, err)) {
                if ((it = zetl_check_add(r, ZETL_CHECK_FAIL, "cluster", "%s", err->msg)))
                        snprintf(it->fix, sizeof(it->fix),
                                 "check the URL, the credentials (password-file option) and, "
                                 "for opensearch+https, the ca-file option");
                zetl_err_clear(err);
        } else {
                json_t *o = resp_json(s);
                const char *v =
                        json_string_value(json_object_get(json_object_get(o, "version"), "number"));
                zetl_check_add(r, ZETL_CHECK_OK, "cluster", "OpenSearch %s answers at %s",
                               v ? v : "(unknown version)", s->http.base);
                json_decref(o);
        }
        sink_free(s);
        return 0;
}

/* delete-integration: the checkpoint document goes; the indexes stay (they
 * are the user's data: delete them with DELETE /<alias>_v*). */
static int os_teardown(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct os_sink *s = priv;
        char path[OS_INDEX_MAX + 600];
        char *id;
        int rc;

        if ((rc = read_options(s, cfg, err)) || (rc = os_http_open(&s->http, cfg, err)))
                goto out;
        s->opened = true;
        s->retries = 2;
        if (!(id = os_http_escape(&s->http, s->integration))) {
                rc = oom(err);
                goto out;
        }
        snprintf(path, sizeof(path), "/%s/_doc/%s", s->ckpt_index, id);
        free(id);
        if ((rc = call(s, "DELETE", path, NULL, 0, false, err)))
                goto out;
        if (s->resp.status != 200 && s->resp.status != 404)
                rc = unexpected(s, "deleting the checkpoint", ZETL_EPROTO, ZETL_ERRC_FATAL, err);
out:
        sink_free(s);
        return rc;
}

static int os_open(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct os_sink *s = priv;
        int rc;

        if ((rc = connect_sink(s, cfg, err)) || (rc = read_checkpoint(s, err))) {
                sink_free(s);
                return rc;
        }
        return 0;
}

static int os_resume(void *priv, struct zetl_position *out, struct zetl_err *err)
{
        struct os_sink *s = priv;

        (void)err;
        *out = s->last;
        return 0;
}

/* ---- dead letters --------------------------------------------------------------------- */

static int dead_letter(struct os_sink *s, const struct os_pending *p, int status,
                       const char *error_json, struct zetl_err *err)
{
        const struct os_table *t = &s->tables[p->table];
        struct os_buf l = { 0 };
        char name[ZETL_NAME_MAX * 3], when[ZETL_TS_TEXT_MAX];
        struct timespec ts;
        int rc;

        clock_gettime(CLOCK_REALTIME, &ts);
        zetl_format_timestamp((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, true, when);
        if (!s->dead) {
                /* Row data: readable by the owner only, like the state folder. */
                int fd = open(s->dead_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
                if (fd < 0 || !(s->dead = fdopen(fd, "a"))) {
                        int e = errno;
                        if (fd >= 0)
                                close(fd);
                        return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL,
                                            "cannot open the dead-letter file %s: %s", s->dead_path,
                                            strerror(e));
                }
        }
        rc = os_buf_printf(&l, "{\"time\":\"%s\",\"table\":", when);
        rc = rc ?: os_json_str(&l, zetl_table_id_str(&t->id, name, sizeof(name)), strlen(name));
        rc = rc ?: os_buf_puts(&l, ",\"index\":");
        rc = rc ?: os_json_str(&l, t->index, strlen(t->index));
        rc = rc ?: os_buf_puts(&l, ",\"_id\":");
        rc = rc ?: os_json_str(&l, p->id, strlen(p->id));
        rc = rc
                     ?: os_buf_printf(
                                &l, ",\"action\":\"%s\",\"version\":\"%" PRIu64 "\",\"status\":%d",
                                p->kind == OS_ACT_DELETE ? "delete" : "index", p->version, status);
        rc = rc ?: os_buf_puts(&l, ",\"error\":");
        rc = rc ?: os_buf_puts(&l, error_json ? error_json : "null");
        if (p->kind == OS_ACT_INDEX && p->doc) {
                rc = rc ?: os_buf_puts(&l, ",\"document\":");
                rc = rc ?: os_buf_put(&l, p->doc, p->doc_len);
        }
        rc = rc ?: os_buf_puts(&l, "}\n");
        if (rc == 0 && fwrite(l.p, 1, l.len, s->dead) != l.len)
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL,
                                  "cannot write the dead-letter file %s", s->dead_path);
        else if (rc)
                rc = oom(err);
        os_buf_free(&l);
        s->dead_new++;
        s->dead_total++;
        return rc;
}

/* A dead letter whose error zetl made itself (no response from the target). */
static int dead_letter_local(struct os_sink *s, const struct os_pending *p, const char *type,
                             const char *reason, struct zetl_err *err)
{
        struct os_buf e = { 0 };
        int rc = os_buf_printf(&e, "{\"type\":\"%s\",\"reason\":", type);

        rc = rc ?: os_json_str(&e, reason, strlen(reason));
        rc = rc ?: os_buf_puts(&e, "}");
        rc = rc ? oom(err) : dead_letter(s, p, 0, e.p, err);
        os_buf_free(&e);
        return rc;
}

/* ---- the pending bulk -------------------------------------------------------------------- */

static void pending_clear(struct os_pending *p)
{
        free(p->id);
        free(p->doc);
        for (int i = 0; i < p->nmissing; i++)
                free(p->missing[i]);
        free(p->missing);
        free(p->base_id);
        memset(p, 0, sizeof(*p));
}

static uint32_t key_hash(int table, const char *id)
{
        uint32_t h = 2166136261u ^ (uint32_t)table;

        for (; *id; id++)
                h = (h ^ (uint8_t)*id) * 16777619u;
        return h;
}

/* The slot of (table, id): its entry, or the empty slot where it would go. */
static size_t slot_of(struct os_sink *s, int table, const char *id)
{
        size_t mask = s->nslots - 1, i = key_hash(table, id) & mask;

        while (s->slots[i] >= 0) {
                const struct os_pending *p = &s->pend[s->slots[i]];
                if (p->table == table && strcmp(p->id, id) == 0)
                        break;
                i = (i + 1) & mask;
        }
        return i;
}

static struct os_pending *pending_find(struct os_sink *s, int table, const char *id)
{
        size_t i;

        if (!s->nslots)
                return NULL;
        i = slot_of(s, table, id);
        return s->slots[i] >= 0 ? &s->pend[s->slots[i]] : NULL;
}

static void pending_reset(struct os_sink *s)
{
        for (int i = 0; i < s->npend; i++)
                pending_clear(&s->pend[i]);
        s->npend = 0;
        s->pend_bytes = 0;
        for (size_t i = 0; i < s->nslots; i++)
                s->slots[i] = -1;
}

static int pending_room(struct os_sink *s)
{
        if (!s->slots) {
                size_t n = 16;
                while (n < (size_t)s->bulk_actions * 2)
                        n *= 2;
                if (!(s->slots = malloc(n * sizeof(*s->slots))))
                        return ZETL_ENOMEM;
                s->nslots = n;
                for (size_t i = 0; i < n; i++)
                        s->slots[i] = -1;
        }
        if (s->npend == s->cappend) {
                int ncap = s->cappend ? s->cappend * 2 : 256;
                struct os_pending *n = realloc(s->pend, (size_t)ncap * sizeof(*n));
                if (!n)
                        return ZETL_ENOMEM;
                s->pend = n;
                s->cappend = ncap;
        }
        return 0;
}

/*
 * Put an action: a later change of the same _id replaces the earlier one (the
 * bulk never carries an _id twice), unless it is older. Takes ownership of
 * *np's strings in every case.
 */
static int pending_put(struct os_sink *s, struct os_pending *np, struct zetl_err *err)
{
        size_t i;
        struct os_pending *p;

        if (pending_room(s)) {
                pending_clear(np);
                return oom(err);
        }
        i = slot_of(s, np->table, np->id);
        if (s->slots[i] >= 0) {
                p = &s->pend[s->slots[i]];
                if (np->version < p->version) {
                        pending_clear(np);
                        return 0;
                }
                s->pend_bytes -= p->doc_len + strlen(p->id);
                pending_clear(p);
        } else {
                s->slots[i] = s->npend;
                p = &s->pend[s->npend++];
        }
        *p = *np;
        memset(np, 0, sizeof(*np));
        s->pend_bytes += p->doc_len + strlen(p->id) + 128;
        return 0;
}

/* ---- resolving unchanged cells --------------------------------------------------------- */

/* The JSON key form of a column name (escaped, without quotes). */
static char *key_form(const char *name)
{
        struct os_buf b = { 0 };
        char *r;

        if (os_json_str(&b, name, strlen(name))) {
                os_buf_free(&b);
                return NULL;
        }
        b.p[b.len - 1] = '\0';
        r = strdup(b.p + 1);
        os_buf_free(&b);
        return r;
}

/* Append "key":value to the document p (before its closing brace). */
static int doc_add(struct os_pending *p, const char *key, const char *v, size_t vl)
{
        size_t kl = strlen(key), n = p->doc_len + kl + vl + 5;
        char *d = malloc(n + 1);
        bool empty = p->doc_len == 2;

        if (!d)
                return ZETL_ENOMEM;
        memcpy(d, p->doc, p->doc_len - 1);
        n = p->doc_len - 1;
        if (!empty)
                d[n++] = ',';
        d[n++] = '"';
        memcpy(d + n, key, kl);
        n += kl;
        d[n++] = '"';
        d[n++] = ':';
        memcpy(d + n, v, vl);
        n += vl;
        d[n++] = '}';
        d[n] = '\0';
        free(p->doc);
        p->doc = d;
        p->doc_len = n;
        return 0;
}

/* Fill what np misses from base (an earlier pending action of the row). */
static int merge_from(struct os_pending *np, const struct os_pending *base)
{
        int keep = 0, rc;

        for (int i = 0; i < np->nmissing; i++) {
                const char *v;
                size_t vl;
                if (base->kind == OS_ACT_INDEX &&
                    os_json_get(base->doc, base->doc_len, np->missing[i], &v, &vl) == 1) {
                        if ((rc = doc_add(np, np->missing[i], v, vl)))
                                return rc;
                        free(np->missing[i]);
                        continue;
                }
                np->missing[keep++] = np->missing[i];
        }
        np->nmissing = keep;
        if (keep == 0)
                return 0;
        if (base->kind == OS_ACT_INDEX && base->nmissing == 0) {
                /* The latest state has no such field: it stays absent. */
                for (int i = 0; i < keep; i++)
                        free(np->missing[i]);
                np->nmissing = 0;
                return 0;
        }
        /* Still to come from where the base itself would take it. */
        char *from = strdup(base->base_id ? base->base_id : base->id);
        if (!from)
                return ZETL_ENOMEM;
        free(np->base_id);
        np->base_id = from;
        return 0;
}

/* Unchanged cells not found in this bulk come from the target: one _mget
 * for all of them (realtime: it sees every earlier bulk). A document that is
 * not there cannot be completed: dead letter. */
static int resolve_missing(struct os_sink *s, struct zetl_err *err)
{
        json_t *docs = json_array(), *o = NULL;
        int *which = NULL, n = 0, rc = 0;

        if (!docs || !(which = malloc(sizeof(int) * (size_t)(s->npend + 1)))) {
                rc = oom(err);
                goto out;
        }
        for (int i = 0; i < s->npend; i++) {
                struct os_pending *p = &s->pend[i];
                json_t *src;
                if (p->kind != OS_ACT_INDEX || p->nmissing == 0)
                        continue;
                src = json_array();
                for (int k = 0; k < p->nmissing; k++)
                        json_array_append_new(src, json_string(p->missing[k]));
                json_array_append_new(
                        docs, json_pack("{s:s,s:s,s:o}", "_index", s->tables[p->table].index, "_id",
                                        p->base_id ? p->base_id : p->id, "_source", src));
                which[n++] = i;
        }
        if (n == 0)
                goto out;
        if ((rc = body_json(s, json_pack("{s:O}", "docs", docs), err)) ||
            (rc = call(s, "POST", "/_mget", s->body.p, s->body.len, false, err)))
                goto out;
        if (s->resp.status != 200) {
                rc = unexpected(s, "_mget for unchanged values", ZETL_EPROTO, ZETL_ERRC_TRANSIENT,
                                err);
                goto out;
        }
        o = resp_json(s);
        json_t *got = json_object_get(o, "docs");
        if (json_array_size(got) != (size_t)n) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_TRANSIENT,
                                  "_mget answered %zu documents for %d", json_array_size(got), n);
                goto out;
        }
        for (int k = 0; k < n && rc == 0; k++) {
                struct os_pending *p = &s->pend[which[k]];
                json_t *d = json_array_get(got, (size_t)k), *src = json_object_get(d, "_source");
                if (!json_is_true(json_object_get(d, "found"))) {
                        rc = dead_letter_local(s, p, "zetl_unchanged_value_unavailable",
                                               "the source did not send unchanged values and the "
                                               "target has no document to take them from",
                                               err);
                        p->dropped = true;
                }
                for (int m = 0; m < p->nmissing && rc == 0 && !p->dropped; m++) {
                        json_t *v = json_object_get(src, p->missing[m]);
                        char *t;
                        if (!v)
                                continue; /* the document never had it: it stays absent */
                        t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                        char *kf = key_form(p->missing[m]);
                        rc = (!t || !kf) ? oom(err) : (doc_add(p, kf, t, strlen(t)) ? oom(err) : 0);
                        free(t);
                        free(kf);
                }
                for (int m = 0; m < p->nmissing; m++)
                        free(p->missing[m]);
                p->nmissing = 0;
        }
out:
        json_decref(o);
        json_decref(docs);
        free(which);
        return rc;
}

/* ---- sending a bulk ----------------------------------------------------------------------- */

static int build_body(struct os_sink *s, const int *idx, int n, struct zetl_err *err)
{
        os_buf_reset(&s->body);
        for (int k = 0; k < n; k++) {
                const struct os_pending *p = &s->pend[idx[k]];
                int rc = os_bulk_action(&s->body, p->kind, s->tables[p->table].index, p->id,
                                        p->version);
                if (rc == 0 && p->kind == OS_ACT_INDEX) {
                        rc = os_buf_put(&s->body, p->doc, p->doc_len);
                        rc = rc ?: os_buf_put(&s->body, "\n", 1);
                }
                if (rc)
                        return oom(err);
        }
        return 0;
}

static int send_bulk(struct os_sink *s, struct zetl_err *err)
{
        int *idx = malloc(sizeof(int) * (size_t)(s->npend + 1)), n = 0, rc = 0;
        enum os_action_kind *kinds = malloc(sizeof(*kinds) * (size_t)(s->npend + 1));
        struct os_item *items = malloc(sizeof(*items) * (size_t)(s->npend + 1));
        char msg[300];

        if (!idx || !kinds || !items) {
                rc = oom(err);
                goto out;
        }
        for (int i = 0; i < s->npend; i++)
                if (!s->pend[i].dropped)
                        idx[n++] = i;
        /* Items that fail with 429/5xx are sent again, alone, after a backoff. */
        for (int attempt = 0; n > 0; attempt++) {
                int keep = 0;
                if ((rc = build_body(s, idx, n, err)) ||
                    (rc = call(s, "POST", "/_bulk", s->body.p, s->body.len, true, err)))
                        goto out;
                if (s->resp.status == 413) {
                        rc = zetl_err_set(err, ZETL_ELIMIT, ZETL_ERRC_CONFIG,
                                          "the bulk request (%zu bytes) is larger than the "
                                          "cluster's http.max_content_length: lower "
                                          "--option bulk-bytes",
                                          s->body.len);
                        goto out;
                }
                if (s->resp.status != 200) {
                        rc = zetl_err_set(
                                err, ZETL_EPROTO, ZETL_ERRC_FATAL, "POST /_bulk: HTTP %ld: %s",
                                s->resp.status,
                                os_error_text(s->resp.body.p, s->resp.body.len, msg, sizeof(msg)));
                        goto out;
                }
                for (int k = 0; k < n; k++)
                        kinds[k] = s->pend[idx[k]].kind;
                if ((rc = os_bulk_parse(s->resp.body.p, s->resp.body.len, (size_t)n, kinds, items,
                                        err)))
                        goto out;
                for (int k = 0; k < n; k++) {
                        if (items[k].fate == OS_FATE_RETRY)
                                idx[keep++] = idx[k];
                        else if (items[k].fate == OS_FATE_DEAD && rc == 0)
                                rc = dead_letter(s, &s->pend[idx[k]], items[k].status,
                                                 items[k].error, err);
                        free(items[k].error);
                }
                if (rc)
                        goto out;
                n = keep;
                if (n == 0)
                        break;
                s->retried_items += n;
                if (attempt >= s->retries) {
                        rc = zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_TRANSIENT,
                                          "%d bulk items still refused with 429/5xx after %d "
                                          "attempts",
                                          n, attempt + 1);
                        goto out;
                }
                zlog_debug("retrying %d bulk items refused with 429/5xx", n);
                sleep_ms(backoff(s, attempt));
        }
out:
        free(idx);
        free(kinds);
        free(items);
        return rc;
}

static int flush(struct os_sink *s, struct zetl_err *err)
{
        int rc;

        if (s->npend == 0)
                return 0;
        s->dead_new = 0;
        if ((rc = resolve_missing(s, err)) == 0)
                rc = send_bulk(s, err);
        for (int i = 0; i < s->npend; i++)
                if (!s->pend[i].dropped)
                        s->tables[s->pend[i].table].fresh = false;
        pending_reset(s);
        if (rc == 0 && s->dead_new > 0) {
                zlog_warn("%" PRId64 " document%s could not be applied and went to the dead-letter "
                          "file %s (%" PRId64 " in this run)",
                          s->dead_new, s->dead_new == 1 ? "" : "s", s->dead_path, s->dead_total);
                if (s->dead && fflush(s->dead) != 0)
                        rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL,
                                          "cannot write the dead-letter file %s", s->dead_path);
        }
        return rc;
}

/* ---- tables, mappings, rollovers ---------------------------------------------------------- */

static struct os_table *table_find(struct os_sink *s, const struct zetl_table_id *id)
{
        for (int i = 0; i < s->ntables; i++)
                if (zetl_table_id_eq(&s->tables[i].id, id))
                        return &s->tables[i];
        return NULL;
}

static struct os_table *table_add(struct os_sink *s, const struct zetl_schema *sch,
                                  struct zetl_err *err)
{
        struct os_table *n = realloc(s->tables, sizeof(*n) * (size_t)(s->ntables + 1)), *t;

        if (!n) {
                oom(err);
                return NULL;
        }
        s->tables = n;
        t = &s->tables[s->ntables];
        memset(t, 0, sizeof(*t));
        t->id = sch->id;
        if (os_index_name(s->tmpl, &sch->id, t->alias, err))
                return NULL;
        s->ntables++;
        return t;
}

/* PUT /<name> with the mapping of sch, behind the alias when with_alias.
 * An index of that name not behind the alias is the remains of an
 * interrupted rollover: it is replaced. */
static int create_index(struct os_sink *s, struct os_table *t, const char *name,
                        const struct zetl_schema *sch, uint64_t truncated_at, bool with_alias,
                        struct zetl_err *err)
{
        char path[OS_INDEX_MAX + 64], et[128];
        json_t *body;
        int rc;

        snprintf(path, sizeof(path), "/%s", name);
        for (int attempt = 0; attempt < 2; attempt++) {
                body = json_pack("{s:o}", "mappings", os_mapping(sch, s->json_mode, truncated_at));
                if (body && s->settings)
                        json_object_set(body, "settings", s->settings);
                if (body && with_alias)
                        json_object_set_new(body, "aliases", json_pack("{s:{}}", t->alias));
                if ((rc = body_json(s, body, err)) ||
                    (rc = call(s, "PUT", path, s->body.p, s->body.len, false, err)))
                        return rc;
                if (s->resp.status == 200)
                        return 0;
                if (attempt > 0 || strcmp(resp_error_type(s, et, sizeof(et)),
                                          "resource_already_exists_exception") != 0)
                        break;
                if (with_alias)
                        return zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL,
                                            "index %s exists but the alias %s does not point "
                                            "to it: remove it or choose another index-template",
                                            name, t->alias);
                zlog_warn("removing index %s left by an interrupted rollover", name);
                if ((rc = call(s, "DELETE", path, NULL, 0, false, err)))
                        return rc;
        }
        return unexpected(s, "creating index", ZETL_ETABLE, ZETL_ERRC_FATAL, err);
}

/* Painless run by _reindex on every document: renamed columns move to their
 * new name, integers and booleans of a column that became a string become
 * their text (what the source's own cast gives). */
#define REINDEX_SCRIPT                                                                             \
        "for (e in params.renames.entrySet()) { if (ctx._source.containsKey(e.getKey())) { "       \
        "ctx._source.put(e.getValue(), ctx._source.remove(e.getKey())); } } "                      \
        "for (f in params.to_string) { def v = ctx._source.get(f); "                               \
        "if (v != null && !(v instanceof String)) { ctx._source.put(f, String.valueOf(v)); } }"

struct reindex_plan {
        json_t *keep;      /* fields copied (names in the current index) */
        json_t *renames;   /* {"old": "new"} */
        json_t *to_string; /* fields (new names) whose values become text */
};

static json_t *reindex_body(const struct os_table *t, const char *dest,
                            const struct reindex_plan *plan)
{
        json_t *b = json_pack("{s:{s:s,s:O},s:{s:s,s:s},s:s}", "source", "index", t->index,
                              "_source", plan->keep, "dest", "index", dest, "version_type",
                              "external", "conflicts", "proceed");

        if (b && (json_object_size(plan->renames) > 0 || json_array_size(plan->to_string) > 0))
                json_object_set_new(b, "script",
                                    json_pack("{s:s,s:s,s:{s:O,s:O}}", "lang", "painless", "source",
                                              REINDEX_SCRIPT, "params", "renames", plan->renames,
                                              "to_string", plan->to_string));
        return b;
}

/*
 * The next index behind the alias: created with the new mapping, filled from
 * the current one by _reindex when keep is not NULL (external versions kept,
 * so the documents keep theirs), then the alias is switched in one _aliases
 * call and the old index removed.
 */
static int rollover(struct os_sink *s, struct os_table *t, const struct zetl_schema *sch,
                    uint64_t truncated_at, const struct reindex_plan *plan, struct zetl_err *err)
{
        char next[OS_INDEX_MAX + 16], path[OS_INDEX_MAX + 64], msg[300];
        long saved = s->http.timeout_ms;
        json_t *o;
        int rc;

        snprintf(next, sizeof(next), "%s_v%u", t->alias, t->gen + 1);
        if ((rc = create_index(s, t, next, sch, truncated_at, false, err)))
                return rc;
        if (plan) {
                s->http.timeout_ms = s->reindex_timeout_ms;
                rc = body_json(s, reindex_body(t, next, plan), err);
                rc = rc
                             ?: call(s, "POST", "/_reindex?wait_for_completion=true", s->body.p,
                                     s->body.len, false, err);
                s->http.timeout_ms = saved;
                if (rc)
                        return rc;
                if (s->resp.status != 200)
                        return unexpected(s, "_reindex", ZETL_ETABLE, ZETL_ERRC_FATAL, err);
                o = resp_json(s);
                json_t *f = json_object_get(o, "failures");
                if (json_array_size(f) > 0) {
                        char *t1 = json_dumps(json_array_get(f, 0), JSON_COMPACT);
                        rc = zetl_err_set(
                                err, ZETL_ETABLE, ZETL_ERRC_FATAL,
                                "_reindex into %s failed for %zu documents, first: %.300s", next,
                                json_array_size(f), t1 ? t1 : "?");
                        free(t1);
                }
                zlog_info("reindexed %" JSON_INTEGER_FORMAT " documents from %s into %s",
                          json_integer_value(json_object_get(o, "total")), t->index, next);
                json_decref(o);
                if (rc)
                        return rc;
        }
        rc = body_json(s,
                       json_pack("{s:[{s:{s:s,s:s}},{s:{s:s,s:s}}]}", "actions", "remove", "index",
                                 t->index, "alias", t->alias, "add", "index", next, "alias",
                                 t->alias),
                       err);
        rc = rc ?: call(s, "POST", "/_aliases", s->body.p, s->body.len, false, err);
        if (rc)
                return rc;
        if (s->resp.status != 200)
                return unexpected(s, "switching the alias", ZETL_ETABLE, ZETL_ERRC_FATAL, err);
        zlog_info("alias %s now points to %s (was %s)", t->alias, next, t->index);
        snprintf(path, sizeof(path), "/%s", t->index);
        if (call(s, "DELETE", path, NULL, 0, false, err) == 0 && s->resp.status != 200)
                zlog_warn("could not remove the old index %s: %s", t->index,
                          os_error_text(s->resp.body.p, s->resp.body.len, msg, sizeof(msg)));
        zetl_err_clear(err);
        snprintf(t->index, sizeof(t->index), "%s", next);
        t->gen++;
        t->floor = truncated_at;
        t->fresh = plan == NULL;
        return 0;
}

/* The current index behind the alias and its mapping; *found false when none. */
static int current_index(struct os_sink *s, struct os_table *t, json_t **mapping, bool *found,
                         struct zetl_err *err)
{
        char path[OS_INDEX_MAX + 64];
        const char *key = "", *us;
        json_t *o, *v = NULL;
        int rc;

        *found = false;
        *mapping = NULL;
        snprintf(path, sizeof(path), "/%s/_mapping", t->alias);
        if ((rc = call(s, "GET", path, NULL, 0, false, err)))
                return rc;
        if (s->resp.status == 404)
                return 0;
        if (s->resp.status != 200)
                return unexpected(s, "reading the mapping", ZETL_ETABLE, ZETL_ERRC_FATAL, err);
        o = resp_json(s);
        if (json_object_size(o) != 1) {
                json_decref(o);
                return zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL,
                                    "alias %s points to %zu indexes: zetl expects exactly one",
                                    t->alias, json_object_size(o));
        }
        json_object_foreach(o, key, v)
        {
                break;
        }
        us = strrchr(key, '_');
        if (strcmp(key, t->alias) == 0 || strncmp(key, t->alias, strlen(t->alias)) != 0 || !us ||
            us != key + strlen(t->alias) || us[1] != 'v' || strspn(us + 2, "0123456789") == 0) {
                rc = zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL,
                                  "%s is an index or alias not made by zetl (zetl makes an alias "
                                  "over %s_v<N>): remove it or choose another index-template",
                                  t->alias, t->alias);
                json_decref(o);
                return rc;
        }
        snprintf(t->index, sizeof(t->index), "%s", key);
        t->gen = (unsigned)strtoul(us + 2, NULL, 10);
        *mapping = json_incref(json_object_get(v, "mappings"));
        *found = true;
        json_decref(o);
        return 0;
}

/* The type the target's mapping gives a field ("object" when untyped). */
static const char *field_type(json_t *props, const char *name)
{
        json_t *f = json_object_get(props, name);
        const char *t;

        if (!f)
                return NULL;
        t = json_string_value(json_object_get(f, "type"));
        return t ? t : "object";
}

/* The name column col had in the current index: its old name when the diff
 * says it was renamed and the index still has that name. */
static const char *name_before(const struct zetl_schema *old, const struct zetl_schema *sch,
                               const struct zetl_schema_diff *diff, json_t *props, int col)
{
        for (int i = 0; diff && old && i < diff->n; i++) {
                const struct zetl_change *c = &diff->changes[i];
                if (c->kind == ZETL_CHG_RENAME && c->new_col == col && c->old_col >= 0 &&
                    json_object_get(props, old->cols[c->old_col].name) &&
                    !json_object_get(props, sch->cols[col].name))
                        return old->cols[c->old_col].name;
        }
        return sch->cols[col].name;
}

static bool int_or_bool(enum zetl_type t)
{
        return t == ZETL_T_BOOL || t == ZETL_T_INT16 || t == ZETL_T_INT32 || t == ZETL_T_INT64;
}

/*
 * Compare the schema with the current index's mapping, column by column:
 * *add gets the new fields, *plan what a reindex would keep, rename and
 * convert; *rebuild is set when the mapping cannot take the change in place
 * (a field's type changes, a field is gone), *meta when only _meta differs.
 */
static int plan_schema(struct os_sink *s, json_t *mapping, const struct zetl_schema *old,
                       const struct zetl_schema *sch, const struct zetl_schema_diff *diff,
                       json_t *add, struct reindex_plan *plan, bool *rebuild, bool *meta)
{
        json_t *props = json_object_get(mapping, "properties");
        json_t *cols = json_object_get(json_object_get(json_object_get(mapping, "_meta"), "zetl"),
                                       "columns");
        const char *key;
        json_t *v;

        for (int c = 0; c < sch->ncols; c++) {
                const struct zetl_column *col = &sch->cols[c];
                const char *from = name_before(old, sch, diff, props, c);
                const char *cur = field_type(props, from);
                const char *ct = json_string_value(json_object_get(cols, from));
                json_t *f = os_mapping_field(col, s->json_mode);
                const char *nt = json_string_value(json_object_get(f, "type"));
                enum zetl_type was;

                if (!f)
                        return ZETL_ENOMEM;
                if (!cur) {
                        json_object_set_new(add, col->name, f);
                        continue;
                }
                if (from != col->name) {
                        json_object_set_new(plan->renames, from, json_string(col->name));
                        zlog_info("%s: field %s becomes %s (renamed)", s->cur_index, from,
                                  col->name);
                        *rebuild = true;
                }
                if (strcmp(cur, nt ? nt : "object") != 0) {
                        zlog_info("%s: field %s is mapped as %s, the column now needs %s",
                                  s->cur_index, from, cur, nt ? nt : "object");
                        *rebuild = true;
                }
                json_decref(f); /* nt pointed into it */
                if (!ct || zetl_type_parse(ct, &was) != 0) {
                        json_array_append_new(plan->keep, json_string(from));
                        continue;
                }
                if (was != col->type)
                        *meta = true;
                /* Values stay when their JSON form reads the same in the new
                 * field; integers and booleans that became text are converted;
                 * anything else is left out until the row changes again. */
                if (os_type_keeps_values(was, col->type)) {
                        json_array_append_new(plan->keep, json_string(from));
                } else if (int_or_bool(was) && col->type == ZETL_T_STRING) {
                        json_array_append_new(plan->keep, json_string(from));
                        json_array_append_new(plan->to_string, json_string(col->name));
                }
        }
        /* A field the new shape does not have: a dropped column, or a shape
         * replayed after a crash that is older than the mapping (the column
         * was added, its values indexed, the checkpoint not written). Both
         * keep the field: rebuilding the index without it would lose the
         * values of the second case for good (the replayed updates that
         * carry them are older than the documents: 409), as the chaos test
         * found. Documents written before a drop keep the dropped value. */
        json_object_foreach(props, key, v)
        {
                if (zetl_schema_find(sch, key) < 0 && !json_object_get(plan->renames, key))
                        zlog_debug("%s: field %s is not in this shape; kept", s->cur_index, key);
        }
        return 0;
}

/*
 * Bring the index in line with sch, comparing with what the target has (not
 * with what we think it has, so a replayed change after a crash finds its
 * work done). New columns: PUT _mapping. A column whose mapping type changes,
 * a rename, a drop: the next index, by reindex.
 */
static int apply_schema(struct os_sink *s, struct os_table *t, const struct zetl_schema *old,
                        const struct zetl_schema *sch, const struct zetl_schema_diff *diff,
                        struct zetl_err *err)
{
        struct reindex_plan plan = { json_array(), json_object(), json_array() };
        json_t *mapping = NULL, *add = json_object(), *want = NULL;
        char path[OS_INDEX_MAX + 64], msg[300];
        bool found, rebuild = false, meta = false;
        const char *ta;
        int rc;

        if (!plan.keep || !plan.renames || !plan.to_string || !add) {
                rc = oom(err);
                goto out;
        }
        if ((rc = current_index(s, t, &mapping, &found, err)))
                goto out;
        if (!found) {
                snprintf(t->index, sizeof(t->index), "%s_v1", t->alias);
                if ((rc = create_index(s, t, t->index, sch, 0, true, err)))
                        goto out;
                t->gen = 1;
                t->floor = 0;
                t->fresh = true;
                zlog_info("created index %s behind alias %s", t->index, t->alias);
                goto out;
        }
        ta = json_string_value(json_object_get(
                json_object_get(json_object_get(mapping, "_meta"), "zetl"), "truncated_at"));
        t->floor = ta ? strtoull(ta, NULL, 10) : 0;
        t->fresh = false;
        s->cur_index = t->index;
        if (plan_schema(s, mapping, old, sch, diff, add, &plan, &rebuild, &meta)) {
                rc = oom(err);
                goto out;
        }
        if (rebuild) {
                rc = rollover(s, t, sch, t->floor, &plan, err);
                goto out;
        }
        if (json_object_size(add) == 0 && !meta)
                goto out;
        if (!(want = os_mapping(sch, s->json_mode, t->floor))) {
                rc = oom(err);
                goto out;
        }
        snprintf(path, sizeof(path), "/%s/_mapping", t->index);
        rc = body_json(
                s,
                json_pack("{s:O,s:O}", "properties", add, "_meta", json_object_get(want, "_meta")),
                err);
        rc = rc ?: call(s, "PUT", path, s->body.p, s->body.len, false, err);
        if (rc == 0 && s->resp.status != 200) {
                /* Refused in place: the next index takes it. */
                zlog_warn("PUT %s refused (%s): building the next index", path,
                          os_error_text(s->resp.body.p, s->resp.body.len, msg, sizeof(msg)));
                rc = rollover(s, t, sch, t->floor, &plan, err);
        } else if (rc == 0 && json_object_size(add) > 0) {
                zlog_info("mapping of %s: %zu new field%s", t->index, json_object_size(add),
                          json_object_size(add) == 1 ? "" : "s");
        }
out:
        json_decref(mapping);
        json_decref(add);
        json_decref(want);
        json_decref(plan.keep);
        json_decref(plan.renames);
        json_decref(plan.to_string);
        return rc;
}

static int os_schema(void *priv, const struct zetl_schema *old, const struct zetl_schema *new,
                     const struct zetl_schema_diff *diff, struct zetl_err *err)
{
        struct os_sink *s = priv;
        struct os_table *t;
        int rc;

        /* Documents of the old shape go first: the mapping must not meet a
         * document of the new shape before it has the new fields. */
        if ((rc = flush(s, err)))
                return rc;
        if (new->nkeys == 0)
                return zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL,
                                    "the table has no primary key: OpenSearch documents need one "
                                    "for their _id (add a key, or REPLICA IDENTITY FULL)");
        if (!(t = table_find(s, &new->id)) && !(t = table_add(s, new, err)))
                return err->code ? err->code : ZETL_ENOMEM;
        if ((rc = apply_schema(s, t, old, new, diff, err)))
                return rc;
        if (t->schema)
                zetl_schema_unref(t->schema);
        t->schema = zetl_schema_ref(new);
        return 0;
}

static struct os_table *table_for(struct os_sink *s, const struct zetl_schema *sch,
                                  struct zetl_err *err)
{
        struct os_table *t = table_find(s, &sch->id);

        if (t && t->schema)
                return t;
        if (os_schema(s, NULL, sch, NULL, err))
                return NULL;
        return table_find(s, &sch->id);
}

static int os_truncate(void *priv, const struct zetl_schema *sch, uint64_t pos,
                       struct zetl_err *err)
{
        struct os_sink *s = priv;
        struct os_table *t;
        int rc;

        if ((rc = flush(s, err)))
                return rc;
        if (!(t = table_for(s, sch, err)))
                return err->code;
        /* A replayed truncate finds its index already made for it; a
         * snapshot's truncate finds a new index empty. */
        if ((pos > 0 && t->floor >= pos) || (pos == 0 && t->fresh))
                return 0;
        return rollover(s, t, t->schema, pos, NULL, err);
}

/* ---- rows --------------------------------------------------------------------------------- */

static int take_id(struct os_buf *b, char **out, struct zetl_err *err)
{
        if (!(*out = strdup(b->p)))
                return oom(err);
        return 0;
}

static int row_index(struct os_sink *s, int ti, const struct zetl_batch *b, uint32_t r,
                     const char *base_id, struct zetl_err *err)
{
        struct os_pending np = { .table = ti, .kind = OS_ACT_INDEX, .version = b->pos[r] };
        struct os_pending *base;
        int nunch, rc;

        os_buf_reset(&s->doc);
        if ((rc = take_id(&s->idbuf, &np.id, err)))
                return rc;
        rc = os_doc_build(&s->doc, b, r, &nunch, err);
        if (rc == ZETL_EINVAL) {
                /* A value OpenSearch could not parse: this row only. */
                np.doc = NULL;
                rc = dead_letter_local(s, &np, "zetl_document_error", err->msg, err);
                pending_clear(&np);
                if (rc == 0)
                        zetl_err_clear(err);
                return rc;
        }
        if (rc || !(np.doc = malloc(s->doc.len + 1))) {
                pending_clear(&np);
                return rc ? rc : oom(err);
        }
        memcpy(np.doc, s->doc.p, s->doc.len + 1);
        np.doc_len = s->doc.len;
        if (nunch > 0) {
                if (!(np.missing = calloc((size_t)nunch, sizeof(char *)))) {
                        pending_clear(&np);
                        return oom(err);
                }
                for (int c = 0; c < b->schema->ncols; c++)
                        if (zetl_batch_is_unchanged(b, c, r) &&
                            !(np.missing[np.nmissing++] = key_form(b->schema->cols[c].name))) {
                                pending_clear(&np);
                                return oom(err);
                        }
                if (base_id && !(np.base_id = strdup(base_id))) {
                        pending_clear(&np);
                        return oom(err);
                }
                base = pending_find(s, ti, base_id ? base_id : np.id);
                if (base && merge_from(&np, base)) {
                        pending_clear(&np);
                        return oom(err);
                }
        }
        return pending_put(s, &np, err);
}

static int row_delete(struct os_sink *s, int ti, const char *id, uint64_t pos, struct zetl_err *err)
{
        struct os_pending np = { .table = ti, .kind = OS_ACT_DELETE, .version = pos };

        if (!(np.id = strdup(id)))
                return oom(err);
        return pending_put(s, &np, err);
}

static int os_write(void *priv, const struct zetl_batch *b, struct zetl_err *err)
{
        struct os_sink *s = priv;
        struct os_table *t = table_for(s, b->schema, err);
        int ti, rc = 0;

        if (!t)
                return err->code;
        ti = (int)(t - s->tables);
        for (uint32_t r = 0; r < b->nrows && rc == 0; r++) {
                enum zetl_op op = (enum zetl_op)b->ops[r];
                int32_t ok = zetl_batch_old_key_row(b, r);
                const char *base_id = NULL;

                /* Older than the truncate this index was made for: gone. */
                if (b->pos[r] != 0 && b->pos[r] < t->floor)
                        continue;
                if ((rc = os_doc_id(b, r, &s->idbuf, err)))
                        break;
                if (ok >= 0 && op != ZETL_OP_DELETE) {
                        if ((rc = os_doc_id(b->old, (uint32_t)ok, &s->oidbuf, err)))
                                break;
                        if (strcmp(s->oidbuf.p, s->idbuf.p) != 0) {
                                /* Key change: the new document (completed from
                                 * the old one), then the old one deleted. */
                                base_id = s->oidbuf.p;
                                if ((rc = row_index(s, ti, b, r, base_id, err)))
                                        break;
                                rc = row_delete(s, ti, s->oidbuf.p, b->pos[r], err);
                                goto next;
                        }
                }
                if (op == ZETL_OP_DELETE)
                        rc = row_delete(s, ti, s->idbuf.p, b->pos[r], err);
                else
                        rc = row_index(s, ti, b, r, NULL, err);
        next:
                if (rc == 0 && (s->npend >= s->bulk_actions || s->pend_bytes >= s->bulk_bytes))
                        rc = flush(s, err);
        }
        return rc;
}

/* ---- commit and checkpoint ---------------------------------------------------------------- */

static int write_checkpoint(struct os_sink *s, const struct zetl_position *pos,
                            struct zetl_err *err)
{
        char path[OS_INDEX_MAX + 600], ord[24], when[ZETL_TS_TEXT_MAX];
        char *id = os_http_escape(&s->http, s->integration);
        struct timespec ts;
        int rc;

        if (!id)
                return oom(err);
        snprintf(path, sizeof(path), "/%s/_doc/%s", s->ckpt_index, id);
        free(id);
        snprintf(ord, sizeof(ord), "%" PRIu64, pos->order);
        clock_gettime(CLOCK_REALTIME, &ts);
        zetl_format_timestamp((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, true, when);
        rc = body_json(s,
                       json_pack("{s:s,s:s,s:s,s:I,s:s}", "integration", s->integration, "order",
                                 ord, "token", pos->token, "time_us", (json_int_t)pos->time_us,
                                 "updated_at", when),
                       err);
        rc = rc ?: call(s, "PUT", path, s->body.p, s->body.len, false, err);
        if (rc)
                return rc;
        if (s->resp.status != 200 && s->resp.status != 201)
                return unexpected(s, "writing the checkpoint", ZETL_EPROTO, ZETL_ERRC_TRANSIENT,
                                  err);
        return 0;
}

/*
 * Everything written is sent; then the dead letters are made durable; then
 * the position is stored. The data always lands before the checkpoint that
 * covers it, and a crash in between replays documents whose external
 * versions make the replay a no-op.
 */
static int os_commit(void *priv, const struct zetl_position *pos, struct zetl_err *err)
{
        struct os_sink *s = priv;
        int rc;

        if ((rc = flush(s, err)))
                return rc;
        if (s->dead && (fflush(s->dead) != 0 || fsync(fileno(s->dead)) != 0))
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL,
                                    "cannot write the dead-letter file %s", s->dead_path);
        if (!zetl_pos_is_set(pos))
                return 0;
        if ((rc = write_checkpoint(s, pos, err)))
                return rc;
        s->last = *pos;
        return 0;
}

static void sink_free(struct os_sink *s)
{
        pending_reset(s);
        free(s->pend);
        free(s->slots);
        s->pend = NULL;
        s->slots = NULL;
        s->nslots = 0;
        s->cappend = 0;
        for (int i = 0; i < s->ntables; i++)
                if (s->tables[i].schema)
                        zetl_schema_unref(s->tables[i].schema);
        free(s->tables);
        s->tables = NULL;
        s->ntables = 0;
        os_buf_free(&s->body);
        os_buf_free(&s->idbuf);
        os_buf_free(&s->oidbuf);
        os_buf_free(&s->doc);
        os_buf_free(&s->resp.body);
        json_decref(s->settings);
        s->settings = NULL;
        if (s->dead)
                fclose(s->dead);
        s->dead = NULL;
        if (s->opened)
                os_http_close(&s->http);
        s->opened = false;
}

static void os_close(void *priv)
{
        struct os_sink *s = priv;

        if (s->retried_items > 0)
                zlog_info("target: %" PRId64 " bulk items were retried after 429/5xx",
                          s->retried_items);
        /* Pending actions are dropped: the core replays from the last commit. */
        sink_free(s);
}

static const char *const os_schemes[] = { "opensearch", "opensearch+https", NULL };

const struct zetl_sink_ops zetl_os_sink = {
        .name = "opensearch",
        .schemes = os_schemes,
        .caps = ZETL_SINK_STORES_POSITION,
        .priv_size = sizeof(struct os_sink),
        .parse = os_parse,
        .setup = os_setup,
        .teardown = os_teardown,
        .check = os_check,
        .open = os_open,
        .resume = os_resume,
        .schema = os_schema,
        .write = os_write,
        .truncate = os_truncate,
        .commit = os_commit,
        .close = os_close,
};
