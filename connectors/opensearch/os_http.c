/*
 * os_http: libcurl for the OpenSearch sink (see os_http.h). Every request
 * resets the one easy handle (curl keeps its live connection across a reset)
 * and sets its options afresh, so no option of one request leaks into the
 * next.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os_http.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
        curl_global_init(CURL_GLOBAL_ALL);
}

int os_http_parse(const char *uri, struct zetl_err *err)
{
        struct zetl_uri u = { 0 };
        int rc;

        if ((rc = zetl_uri_parse(uri, &u, err)))
                return rc;
        if (strcmp(u.scheme, "opensearch") && strcmp(u.scheme, "opensearch+https"))
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "an OpenSearch target is opensearch://host[:port] or "
                                  "opensearch+https://host[:port]");
        else if (u.opaque || !u.host || !*u.host)
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "an OpenSearch target needs a host: opensearch://host[:port]");
        else if (u.nparams > 0)
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "OpenSearch settings are options (--option %s=...), not URI "
                                  "parameters",
                                  u.params[0].key);
        zetl_uri_free(&u);
        return rc;
}

/* The first line of a file (a password), without its line break. */
static int read_secret(const char *path, char **out, struct zetl_err *err)
{
        char buf[1024];
        FILE *f = fopen(path, "re");
        size_t n;

        if (!f)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "option password-file: cannot open %s: %s", path,
                                    strerror(errno));
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        *out = strdup(buf);
        memset(buf, 0, sizeof(buf));
        if (!*out)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        return 0;
}

static int bool_opt(const struct zetl_conn_cfg *cfg, const char *key, bool def, bool *out,
                    struct zetl_err *err)
{
        const char *v = zetl_cfg_opt(cfg, key);

        *out = def;
        if (!v)
                return 0;
        if (!strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
                *out = true;
        else if (!strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
                *out = false;
        else
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "option %s: expected true or false, got \"%.32s\"", key, v);
        return 0;
}

int os_http_open(struct os_http *h, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct zetl_uri u = { 0 };
        const char *v;
        long long n;
        size_t pl;
        int rc;

        memset(h, 0, sizeof(*h));
        pthread_once(&curl_once, curl_init_once);
        if ((rc = zetl_uri_parse(cfg->uri, &u, err)))
                return rc;
        pl = strlen(u.path);
        while (pl > 0 && u.path[pl - 1] == '/')
                pl--;
        snprintf(h->base, sizeof(h->base), "%s://%s%s%s:%d%.*s",
                 strcmp(u.scheme, "opensearch+https") == 0 ? "https" : "http",
                 strchr(u.host, ':') ? "[" : "", u.host, strchr(u.host, ':') ? "]" : "",
                 u.port ? u.port : 9200, (int)pl, u.path);
        if ((v = zetl_cfg_opt(cfg, "user")) || (v = u.user))
                h->user = strdup(v);
        if ((v = zetl_cfg_opt(cfg, "password-file"))) {
                if ((rc = read_secret(v, &h->password, err)))
                        goto fail;
        } else if (u.password) {
                h->password = strdup(u.password);
        }
        if (h->password && !h->user) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "a password without a user: put the user in the URI "
                                  "(opensearch://user@host) or --option user=NAME");
                goto fail;
        }
        if ((v = zetl_cfg_opt(cfg, "ca-file")) && !(h->ca_file = strdup(v))) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto fail;
        }
        if ((rc = bool_opt(cfg, "tls-verify", true, &h->verify, err)))
                goto fail;
        if ((rc = zetl_cfg_opt_int(cfg, "timeout-ms", 60000, 100, 86400000, &n, err)))
                goto fail;
        h->timeout_ms = (long)n;
        if ((rc = zetl_cfg_opt_int(cfg, "connect-timeout-ms", 10000, 100, 600000, &n, err)))
                goto fail;
        h->connect_timeout_ms = (long)n;
        h->curl = curl_easy_init();
        h->hdr_json = curl_slist_append(NULL, "Content-Type: application/json");
        h->hdr_json = curl_slist_append(h->hdr_json, "Expect:");
        h->hdr_ndjson = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
        h->hdr_ndjson = curl_slist_append(h->hdr_ndjson, "Expect:");
        if (!h->curl || !h->hdr_json || !h->hdr_ndjson) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "cannot set up libcurl");
                goto fail;
        }
        zetl_uri_free(&u);
        return 0;
fail:
        zetl_uri_free(&u);
        os_http_close(h);
        return rc;
}

void os_http_close(struct os_http *h)
{
        if (h->curl)
                curl_easy_cleanup(h->curl);
        curl_slist_free_all(h->hdr_json);
        curl_slist_free_all(h->hdr_ndjson);
        if (h->password) {
                memset(h->password, 0, strlen(h->password));
                free(h->password);
        }
        free(h->user);
        free(h->ca_file);
        h->curl = h->hdr_json = h->hdr_ndjson = NULL;
        h->password = h->user = h->ca_file = NULL;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
        struct os_buf *b = arg;

        /* A short count makes curl fail the transfer (the ceiling). */
        return os_buf_put(b, p, size * nmemb) ? 0 : size * nmemb;
}

int os_http_req(struct os_http *h, const char *method, const char *path, const char *body,
                size_t len, bool ndjson, struct os_resp *resp, struct zetl_err *err)
{
        CURL *c = h->curl;
        char url[2048];
        CURLcode cc;

        resp->status = 0;
        resp->body.max = OS_RESP_MAX;
        os_buf_reset(&resp->body);
        snprintf(url, sizeof(url), "%s%s", h->base, path);
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp->body);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, ndjson ? h->hdr_ndjson : h->hdr_json);
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
        if (h->user) {
                curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                curl_easy_setopt(c, CURLOPT_USERNAME, h->user);
                curl_easy_setopt(c, CURLOPT_PASSWORD, h->password ? h->password : "");
        }
        if (h->ca_file)
                curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
        if (!h->verify) {
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (strcmp(method, "HEAD") == 0) {
                curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        } else if (strcmp(method, "GET") != 0) {
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        }
        h->errbuf[0] = '\0';
        cc = curl_easy_perform(c);
        if (cc != CURLE_OK) {
                /* The ceiling reached shows as a write error. */
                if (cc == CURLE_WRITE_ERROR)
                        return zetl_err_set(err, ZETL_ELIMIT, ZETL_ERRC_FATAL,
                                            "%s %s: response larger than %zu bytes", method, path,
                                            (size_t)OS_RESP_MAX);
                return zetl_err_set(err, ZETL_ECONN, ZETL_ERRC_TRANSIENT, "%s %s%s: %s", method,
                                    h->base, path,
                                    h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc));
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
        if (!resp->body.p)
                os_buf_put(&resp->body, "", 0);
        return 0;
}

char *os_http_escape(struct os_http *h, const char *s)
{
        char *e = curl_easy_escape(h->curl, s, 0);
        char *r = e ? strdup(e) : NULL;

        curl_free(e);
        return r;
}
