/*
 * What a connector is given when it is opened: the integration it serves, its
 * URI (with secrets: never log it, use zetl_uri_redact), a folder of its own
 * for state files, the integration's filter and options.
 */
#ifndef ZETL_CONFIG_H
#define ZETL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "zetl/err.h"

struct zetl_filter;

/* One "key=value" option of an integration (--option on the command line). */
struct zetl_option {
        char *key;
        char *value;
};

struct zetl_conn_cfg {
        const char *integration;          /* the integration's name */
        const char *uri;                  /* source or target URI, secrets included */
        const char *state_dir;            /* the integration's folder (0700) */
        const struct zetl_filter *filter; /* never NULL: includes all when no filter */
        const struct zetl_option *opts;
        int nopts;
        bool once; /* zetl run --once */
};

/* The option's value, or NULL. */
const char *zetl_cfg_opt(const struct zetl_conn_cfg *cfg, const char *key);
/* The option as an integer in [min, max], or def when absent. Returns 0 or
 * ZETL_EINVAL (config class) naming the option. */
int zetl_cfg_opt_int(const struct zetl_conn_cfg *cfg, const char *key, long long def, long long min,
                     long long max, long long *out, struct zetl_err *err);

/* ---- URIs ---------------------------------------------------------------- */

struct zetl_uri {
        char *scheme;   /* "postgresql", "jsonl", ...: lowercased */
        char *user;     /* percent-decoded, NULL if absent */
        char *password; /* percent-decoded, NULL if absent */
        char *host;     /* NULL if absent; IPv6 without brackets */
        int port;       /* 0 if absent */
        char *path;     /* after host ("/db"), or after "scheme:" for opaque URIs; never NULL */
        int nparams;    /* query parameters, percent-decoded */
        struct zetl_option *params;
        bool opaque; /* "scheme:rest" without "//" */
};

/* Parse "scheme://[user[:password]@]host[:port][/path][?k=v&...]" or the opaque
 * "scheme:rest". Returns 0, ZETL_EINVAL (config class, with the reason) or
 * ZETL_ENOMEM. Free with zetl_uri_free. */
int zetl_uri_parse(const char *text, struct zetl_uri *out, struct zetl_err *err);
void zetl_uri_free(struct zetl_uri *u);
const char *zetl_uri_param(const struct zetl_uri *u, const char *key);
/* Copy text into buf with every secret replaced by "***": the password of a
 * URI, and the values of keys ending (case-insensitively) in password,
 * passwd, token, secret, api_key, api-key, apikey or secret_key, in query
 * strings and libpq conninfo strings. Linear time; safe on any text.
 * Always NUL-terminates. Returns buf. */
char *zetl_uri_redact(const char *text, char *buf, size_t len);
/* True when text looks like a libpq conninfo ("host=... dbname=..."). */
bool zetl_is_conninfo(const char *text);

#endif
