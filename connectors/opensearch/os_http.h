/*
 * os_http: the OpenSearch sink's HTTP client over libcurl. One easy handle per
 * sink, reused for every request so that the connection stays open
 * (keep-alive); timeouts on connect and on each request; TLS verification on
 * unless the user turns it off; basic auth from the URI or a password file,
 * handed to curl as separate options so that no URL or message ever holds it.
 */
#ifndef ZETL_OS_HTTP_H
#define ZETL_OS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "os_doc.h"
#include "zetl/config.h"
#include "zetl/err.h"

struct os_http {
        void *curl;       /* CURL * */
        void *hdr_json;   /* struct curl_slist *: Content-Type json, no Expect */
        void *hdr_ndjson; /* the same with x-ndjson, for _bulk */
        char base[1024];  /* "http[s]://host:port[/prefix]", no credentials */
        char *user;
        char *password;
        bool verify;
        char *ca_file;
        long timeout_ms;
        long connect_timeout_ms;
        char errbuf[256];
};

struct os_resp {
        long status;        /* HTTP status, 0 when no response */
        struct os_buf body; /* the response body (ceiling: OS_RESP_MAX) */
};

#define OS_RESP_MAX ((size_t)256 << 20)

/* Check the URI's shape (scheme opensearch or opensearch+https, a host).
 * Returns 0 or ZETL_EINVAL (config class). */
int os_http_parse(const char *uri, struct zetl_err *err);
/* Set h up from the target URI and the options user, password-file, ca-file,
 * tls-verify, timeout-ms, connect-timeout-ms. Returns 0 or an error (config
 * class for bad options or an unreadable password file). */
int os_http_open(struct os_http *h, const struct zetl_conn_cfg *cfg, struct zetl_err *err);
void os_http_close(struct os_http *h);
/* One request: method, path (starting with '/', already escaped), optional
 * body (JSON, or NDJSON when ndjson). Returns 0 when a response arrived,
 * whatever its status (in resp->status, body in resp->body, replaced), or
 * ZETL_ECONN (transient) when none did: refused, reset, timed out. */
int os_http_req(struct os_http *h, const char *method, const char *path, const char *body,
                size_t len, bool ndjson, struct os_resp *resp, struct zetl_err *err);
/* path-escaped copy of s (malloc'd), or NULL when out of memory. */
char *os_http_escape(struct os_http *h, const char *s);

#endif
