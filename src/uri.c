/*
 * Connection URIs and integration options.
 *
 * Sources and targets are named by URIs ("postgresql://user:pw@host:5432/db",
 * "jsonl:-", "iceberg:/data/wh"); this file splits them into parts, reads the
 * integration's --option values, and redacts secrets from any text.
 *
 * The redactor is the safety net behind DESIGN's "secrets never appear in
 * describe output or logs": the logger runs every line through it, so it must
 * accept arbitrary bytes, never allocate, and stay linear in the input.
 *
 * Choices a user may notice:
 *  - the userinfo separator is the LAST '@' before the query, so a password
 *    that carries a raw '@' or '/' still parses (libpq wants them encoded, but
 *    generated passwords often hold '/');
 *  - an empty host ("postgresql:///db") is allowed and leaves host NULL: for
 *    libpq that means the default Unix socket;
 *  - the path of a hierarchical URI is kept raw with its leading '/', and is
 *    "" (never NULL) when absent; user, password, host and the query are
 *    percent-decoded;
 *  - a repeated option or query parameter: the last one wins, like libpq.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zetl/config.h"

/* ---- options ------------------------------------------------------------ */

const char *zetl_cfg_opt(const struct zetl_conn_cfg *cfg, const char *key)
{
        const char *v = NULL;

        if (!cfg || !key)
                return NULL;
        /* Last wins, so "--option k=1 --option k=2" means 2. */
        for (int i = 0; i < cfg->nopts; i++)
                if (cfg->opts[i].key && strcmp(cfg->opts[i].key, key) == 0)
                        v = cfg->opts[i].value;
        return v;
}

/* Decimal digits with an optional sign and nothing else: strtoll alone would
 * accept leading spaces, "0x10" (with base 0) and trailing garbage. */
static bool parse_ll(const char *s, long long *out)
{
        const char *p = s;
        char *end;
        long long v;

        if (*p == '-' || *p == '+')
                p++;
        if (*p < '0' || *p > '9')
                return false;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == ERANGE || *end != '\0')
                return false;
        *out = v;
        return true;
}

int zetl_cfg_opt_int(const struct zetl_conn_cfg *cfg, const char *key, long long def, long long min,
                     long long max, long long *out, struct zetl_err *err)
{
        const char *v = zetl_cfg_opt(cfg, key);
        long long n;

        if (!v) {
                *out = def;
                return 0;
        }
        if (!parse_ll(v, &n) || n < min || n > max)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "option %s: expected an integer in [%lld, %lld], got \"%.64s\"",
                                    key, min, max, v);
        *out = n;
        return 0;
}

/* ---- character classes (ASCII only: the locale must not change parsing) -- */

static bool is_alpha(int c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
        return c >= '0' && c <= '9';
}

static bool is_alnum(int c)
{
        return is_alpha(c) || is_digit(c);
}

static bool is_space(int c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char to_lower(char c)
{
        return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int hex_val(int c)
{
        if (is_digit(c))
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* ---- URI parsing --------------------------------------------------------- */

enum { DEC_OK = 0, DEC_BAD = 1, DEC_NOMEM = 2 };

/* Percent-decode s[0..n) into a new string. "%00" is refused: a C string
 * cannot carry it and a truncated password would fail in confusing ways. */
static int pct_decode(const char *s, size_t n, char **out)
{
        char *d = malloc(n + 1);
        size_t j = 0;

        if (!d)
                return DEC_NOMEM;
        for (size_t i = 0; i < n; i++) {
                if (s[i] != '%') {
                        d[j++] = s[i];
                        continue;
                }
                if (n - i < 3) {
                        free(d);
                        return DEC_BAD;
                }
                int hi = hex_val((unsigned char)s[i + 1]);
                int lo = hex_val((unsigned char)s[i + 2]);
                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                        free(d);
                        return DEC_BAD;
                }
                d[j++] = (char)(hi * 16 + lo);
                i += 2;
        }
        d[j] = '\0';
        *out = d;
        return DEC_OK;
}

/* Copy up to 24 bytes of s[0..n) into buf for an error message, replacing
 * what is not printable ASCII, so a message never carries raw control bytes. */
static const char *msg_quote(const char *s, size_t n, char *buf, size_t len)
{
        size_t j = 0;
        size_t max = n > 24 ? 24 : n;

        for (size_t i = 0; i < max && j + 4 < len; i++) {
                unsigned char c = (unsigned char)s[i];
                buf[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        }
        if (max < n && j + 4 < len) {
                memcpy(buf + j, "...", 3);
                j += 3;
        }
        buf[j] = '\0';
        return buf;
}

static int decode_part(const char *s, size_t n, char **out, const char *what, struct zetl_err *err)
{
        int rc = pct_decode(s, n, out);

        if (rc == DEC_NOMEM)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                    "out of memory parsing a URI");
        if (rc == DEC_BAD)
                /* Never echo the text: it may be (part of) a password. */
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "bad percent-encoding in the URI's %s", what);
        return 0;
}

static int parse_port(const char *s, size_t n, bool may_echo, int *port, struct zetl_err *err)
{
        char q[40];
        long v = 0;
        bool ok = n > 0 && n <= 5;

        for (size_t i = 0; ok && i < n; i++) {
                if (!is_digit((unsigned char)s[i]))
                        ok = false;
                else
                        v = v * 10 + (s[i] - '0');
        }
        if (ok && v >= 1 && v <= 65535) {
                *port = (int)v;
                return 0;
        }
        /* A password with an unencoded '?' leaves no '@' before the query, and
         * "user:pass" then reads as "host:port": echo nothing in that case. */
        if (!may_echo)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "bad port (expected a number in 1..65535)");
        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "bad port \"%s\"",
                            msg_quote(s, n, q, sizeof(q)));
}

/* host[:port] or [v6]:port, s[0..n). */
static int parse_hostport(const char *s, size_t n, bool may_echo, struct zetl_uri *u,
                          struct zetl_err *err)
{
        const char *end = s + n;
        const char *port = NULL;
        int rc;

        if (n > 0 && s[0] == '[') {
                const char *rb = memchr(s, ']', n);

                if (!rb)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                            "unterminated IPv6 address (missing ']')");
                if (rb == s + 1)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                            "empty IPv6 address");
                if (rb + 1 < end && rb[1] != ':')
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                            "unexpected text after the IPv6 address");
                u->host = strndup(s + 1, (size_t)(rb - s - 1));
                if (!u->host)
                        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                            "out of memory parsing a URI");
                if (rb + 1 < end)
                        port = rb + 2;
        } else {
                const char *colon = memchr(s, ':', n);
                const char *hend = colon ? colon : end;

                for (const char *p = s; p < hend; p++)
                        if (is_space((unsigned char)*p) || *p == '[' || *p == ']')
                                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                                    "bad character in the host name");
                /* Empty means "the default" (libpq: the Unix socket). */
                if (hend > s) {
                        rc = decode_part(s, (size_t)(hend - s), &u->host, "host", err);
                        if (rc)
                                return rc;
                }
                if (colon)
                        port = colon + 1;
        }
        if (port)
                return parse_port(port, (size_t)(end - port), may_echo, &u->port, err);
        return 0;
}

static int parse_query(const char *q, struct zetl_uri *u, struct zetl_err *err)
{
        int cap = 1;
        int rc;

        for (const char *p = q; *p; p++)
                if (*p == '&')
                        cap++;
        u->params = calloc((size_t)cap, sizeof(*u->params));
        if (!u->params)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                    "out of memory parsing a URI");
        while (*q) {
                const char *amp = strchr(q, '&');
                size_t n = amp ? (size_t)(amp - q) : strlen(q);
                const char *eq = memchr(q, '=', n);
                size_t kn = eq ? (size_t)(eq - q) : n;
                struct zetl_option *o = &u->params[u->nparams];

                if (n == 0)
                        goto next; /* "a=1&&b=2": tolerate the empty segment */
                if (kn == 0)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                            "empty query parameter name");
                rc = decode_part(q, kn, &o->key, "query parameter name", err);
                if (rc)
                        return rc;
                if (eq)
                        rc = pct_decode(eq + 1, n - kn - 1, &o->value);
                else
                        rc = pct_decode("", 0, &o->value);
                if (rc == DEC_NOMEM) {
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                          "out of memory parsing a URI");
                } else if (rc == DEC_BAD) {
                        char kq[40];

                        rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                          "bad percent-encoding in query parameter \"%s\"",
                                          msg_quote(o->key, strlen(o->key), kq, sizeof(kq)));
                }
                /* Count the parameter now so zetl_uri_free frees its key. */
                u->nparams++;
                if (rc)
                        return rc;
        next:
                if (!amp)
                        break;
                q = amp + 1;
        }
        return 0;
}

/* Everything after "scheme://". */
static int parse_hier(const char *text, const char *p, struct zetl_uri *u, struct zetl_err *err)
{
        const char *q = strchr(p, '?');
        const char *lim = q ? q : p + strlen(p);
        const char *at = NULL;
        const char *host = p;
        const char *hend;
        int rc;

        for (const char *s = p; s < lim; s++)
                if (*s == '@')
                        at = s;
        if (at) {
                const char *colon = memchr(p, ':', (size_t)(at - p));
                const char *uend = colon ? colon : at;

                /* Characters a URI must percent-encode: accepting them raw would
                 * let a password end where zetl_uri_redact cannot see it end. */
                for (const char *c = p; c < at; c++)
                        if ((unsigned char)*c <= ' ' || *c == 0x7f || strchr("\"'`<>", *c))
                                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                                    "the user name or password holds a space, "
                                                    "quote or angle bracket: percent-encode it "
                                                    "(%%20, %%22, %%27, %%60, %%3C, %%3E)");

                if (uend > p) {
                        rc = decode_part(p, (size_t)(uend - p), &u->user, "user name", err);
                        if (rc)
                                return rc;
                }
                if (colon) {
                        rc = decode_part(colon + 1, (size_t)(at - colon - 1), &u->password,
                                         "password", err);
                        if (rc)
                                return rc;
                }
                host = at + 1;
        }
        hend = host;
        while (hend < lim && *hend != '/')
                hend++;
        rc = parse_hostport(host, (size_t)(hend - host), at || !strchr(text, '@'), u, err);
        if (rc)
                return rc;
        u->path = strndup(hend, (size_t)(lim - hend));
        if (!u->path)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                    "out of memory parsing a URI");
        if (q)
                return parse_query(q + 1, u, err);
        return 0;
}

int zetl_uri_parse(const char *text, struct zetl_uri *out, struct zetl_err *err)
{
        struct zetl_uri u = { 0 };
        size_t i = 0;
        int rc;

        memset(out, 0, sizeof(*out));
        if (!text || !*text)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "URI is empty");
        if (!is_alpha((unsigned char)text[0]))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "URI has no scheme");
        while (is_alnum((unsigned char)text[i]) || text[i] == '+' || text[i] == '-' ||
               text[i] == '.')
                i++;
        if (text[i] != ':')
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "URI has no scheme");
        u.scheme = strndup(text, i);
        if (!u.scheme) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory parsing a URI");
                goto fail;
        }
        for (char *c = u.scheme; *c; c++)
                *c = to_lower(*c);
        if (text[i + 1] == '/' && text[i + 2] == '/') {
                rc = parse_hier(text, text + i + 3, &u, err);
                if (rc)
                        goto fail;
        } else {
                u.opaque = true;
                u.path = strdup(text + i + 1);
                if (!u.path) {
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                          "out of memory parsing a URI");
                        goto fail;
                }
        }
        *out = u;
        return 0;
fail:
        zetl_uri_free(&u);
        return rc;
}

void zetl_uri_free(struct zetl_uri *u)
{
        if (!u)
                return;
        free(u->scheme);
        free(u->user);
        if (u->password) {
                /* Do not leave the secret lying in freed heap memory. */
                memset(u->password, 0, strlen(u->password));
                free(u->password);
        }
        free(u->host);
        free(u->path);
        for (int i = 0; i < u->nparams; i++) {
                free(u->params[i].key);
                free(u->params[i].value);
        }
        free(u->params);
        memset(u, 0, sizeof(*u));
}

const char *zetl_uri_param(const struct zetl_uri *u, const char *key)
{
        const char *v = NULL;

        if (!u || !key)
                return NULL;
        for (int i = 0; i < u->nparams; i++)
                if (strcmp(u->params[i].key, key) == 0)
                        v = u->params[i].value;
        return v;
}

/* ---- redaction ----------------------------------------------------------- */

struct rout {
        char *buf;
        size_t len; /* capacity, NUL included */
        size_t n;
        bool full;
};

static void put(struct rout *o, const char *s, size_t n)
{
        size_t room = o->len - 1 - o->n;

        if (n > room) {
                n = room;
                o->full = true;
        }
        memcpy(o->buf + o->n, s, n);
        o->n += n;
}

static bool is_key_char(int c)
{
        return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

/* Keys whose values are secrets, matched case-insensitively on the end of the
 * key so that "sslpassword", "access_token" or "client_secret" are caught too. */
static bool secret_key(const char *k, size_t n)
{
        static const char *const suffixes[] = {
                "password", "passwd",  "token",  "secret",
                "api_key",  "api-key", "apikey", "secret_key",
        };

        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
                size_t m = strlen(suffixes[i]);

                if (m > n)
                        continue;
                size_t j = 0;
                while (j < m && to_lower(k[n - m + j]) == suffixes[i][j])
                        j++;
                if (j == m)
                        return true;
        }
        return false;
}

/* End of a value after "key=": libpq's quoted form ('x y', backslash escapes),
 * a double-quoted form, or an unquoted run up to a space or '&'. */
static size_t value_end(const char *t, size_t i)
{
        char q = t[i];

        if (q == '\'' || q == '"') {
                i++;
                while (t[i] && t[i] != q) {
                        if (t[i] == '\\' && t[i + 1])
                                i++;
                        i++;
                }
                return t[i] ? i + 1 : i;
        }
        while (t[i] && !is_space((unsigned char)t[i]) && t[i] != '&') {
                if (t[i] == '\\' && t[i + 1])
                        i++;
                i++;
        }
        return i;
}

/* After "scheme://" at s: find the userinfo's password, using the same rule as
 * the parser (the last '@' before the query). Quotes and angle brackets end
 * the URI once its '@' is seen, or while no ':' could have started a password,
 * so quoted URIs in JSON or messages do not swallow the text that follows.
 * Sets *pw and *at when a password exists; returns where the scan stopped. */
static size_t uri_userinfo(const char *t, size_t s, size_t *pw, size_t *at)
{
        size_t i = s;
        size_t colon = 0;
        bool seen_colon = false;
        bool seen_at = false;
        bool seen_slash = false;

        for (; t[i] && !is_space((unsigned char)t[i]); i++) {
                char c = t[i];

                /* '?' starts the query, unless we may still be inside a
                 * password ("user:pa?ss@host"): there, hiding too much is
                 * better than showing the rest of the password. */
                if (c == '?' && (seen_at || !seen_colon || seen_slash))
                        break;
                if (c == '/')
                        seen_slash = true;
                if (c == '@') {
                        seen_at = true;
                        *at = i;
                } else if (c == ':' && !seen_colon) {
                        seen_colon = true;
                        colon = i;
                } else if ((c == '"' || c == '\'' || c == '`' || c == '<' || c == '>') &&
                           (seen_at || !seen_colon)) {
                        break;
                }
        }
        if (seen_at && seen_colon && colon < *at)
                *pw = colon + 1;
        else
                *at = 0;
        return i;
}

char *zetl_uri_redact(const char *text, char *buf, size_t len)
{
        struct rout o = { .buf = buf, .len = len };
        size_t uri_scanned = 0; /* no "://" before this offset needs a new scan */
        size_t i = 0;

        if (!buf || len == 0)
                return buf;
        if (!text)
                text = "";
        while (text[i] && !o.full) {
                char c = text[i];

                if (c == ':' && text[i + 1] == '/' && text[i + 2] == '/' && i > 0 &&
                    is_alnum((unsigned char)text[i - 1]) && i >= uri_scanned) {
                        size_t s = i + 3, pw = 0, at = 0;

                        /* Scans never overlap, which keeps the whole pass linear. */
                        uri_scanned = uri_userinfo(text, s, &pw, &at);
                        if (at) {
                                put(&o, text + i, pw - i);
                                put(&o, "***", 3);
                                i = at;
                        } else {
                                put(&o, text + i, 3);
                                i = s;
                        }
                        continue;
                }
                if (is_key_char((unsigned char)c) &&
                    (i == 0 || !is_key_char((unsigned char)text[i - 1]))) {
                        size_t j = i, k;

                        while (is_key_char((unsigned char)text[j]))
                                j++;
                        k = j;
                        while (text[k] == ' ' || text[k] == '\t')
                                k++;
                        if (text[k] == '=' && secret_key(text + i, j - i)) {
                                k++;
                                while (text[k] == ' ' || text[k] == '\t')
                                        k++;
                                put(&o, text + i, k - i);
                                put(&o, "***", 3);
                                i = value_end(text, k);
                                continue;
                        }
                        put(&o, text + i, j - i);
                        i = j;
                        continue;
                }
                put(&o, &c, 1);
                i++;
        }
        buf[o.n] = '\0';
        return buf;
}

bool zetl_is_conninfo(const char *text)
{
        const char *p = text;

        if (!p)
                return false;
        while (is_space((unsigned char)*p))
                p++;
        if (!is_alpha((unsigned char)*p) && *p != '_')
                return false;
        while (is_alnum((unsigned char)*p) || *p == '_')
                p++;
        while (*p == ' ' || *p == '\t')
                p++;
        return *p == '=';
}
