/* The connector registry (see registry.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "registry.h"
#include "zetl/config.h"

extern const struct zetl_source_ops zetl_jsonl_source;
extern const struct zetl_source_ops zetl_pg_source;
extern const struct zetl_source_ops zetl_my_source;
extern const struct zetl_sink_ops zetl_jsonl_sink;
extern const struct zetl_sink_ops zetl_iceberg_sink;
extern const struct zetl_sink_ops zetl_null_sink;
extern const struct zetl_sink_ops zetl_os_sink;
extern const struct zetl_sink_ops zetl_pg_sink;

static const struct zetl_source_ops *const sources[] = {
        &zetl_jsonl_source,
        &zetl_pg_source,
        &zetl_my_source,
        NULL,
};

static const struct zetl_sink_ops *const sinks[] = {
        &zetl_jsonl_sink, &zetl_iceberg_sink, &zetl_null_sink, &zetl_os_sink, &zetl_pg_sink, NULL,
};

/* The scheme of uri into buf: "postgresql" for a conninfo string. */
static int uri_scheme(const char *uri, char *buf, size_t len)
{
        size_t n = 0;

        if (zetl_is_conninfo(uri)) {
                snprintf(buf, len, "postgresql");
                return 0;
        }
        while (uri[n] && uri[n] != ':' && n + 1 < len) {
                if (!isalnum((unsigned char)uri[n]) && !strchr("+-.", uri[n]))
                        return -1;
                buf[n] = (char)tolower((unsigned char)uri[n]);
                n++;
        }
        if (uri[n] != ':' || n == 0)
                return -1;
        buf[n] = '\0';
        return 0;
}

static bool claims(const char *const *schemes, const char *scheme)
{
        for (; *schemes; schemes++)
                if (strcmp(*schemes, scheme) == 0)
                        return true;
        return false;
}

static void scheme_list(char *buf, size_t len, bool src)
{
        size_t n = 0;

        buf[0] = '\0';
        for (int i = 0; src ? sources[i] != NULL : sinks[i] != NULL; i++) {
                const char *const *s = src ? sources[i]->schemes : sinks[i]->schemes;
                for (; *s && n < len; s++)
                        n += (size_t)snprintf(buf + n, len - n, "%s%s:", n ? ", " : "", *s);
        }
}

const char *zetl_source_schemes(void)
{
        static char buf[256];

        scheme_list(buf, sizeof(buf), true);
        return buf;
}

const char *zetl_sink_schemes(void)
{
        static char buf[256];

        scheme_list(buf, sizeof(buf), false);
        return buf;
}

const struct zetl_source_ops *zetl_source_find(const char *uri, struct zetl_err *err)
{
        char scheme[32];

        if (uri_scheme(uri, scheme, sizeof(scheme)) == 0) {
                for (int i = 0; sources[i]; i++) {
                        if (!claims(sources[i]->schemes, scheme))
                                continue;
                        if (sources[i]->parse(uri, err))
                                return NULL;
                        return sources[i];
                }
        }
        zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                     "unknown source \"%s\": the sources this build knows are %s",
                     uri_scheme(uri, scheme, sizeof(scheme)) ? "(no scheme)" : scheme,
                     zetl_source_schemes());
        return NULL;
}

const struct zetl_sink_ops *zetl_sink_find(const char *uri, struct zetl_err *err)
{
        char scheme[32];

        if (uri_scheme(uri, scheme, sizeof(scheme)) == 0) {
                for (int i = 0; sinks[i]; i++) {
                        if (!claims(sinks[i]->schemes, scheme))
                                continue;
                        if (sinks[i]->parse(uri, err))
                                return NULL;
                        return sinks[i];
                }
        }
        zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                     "unknown target \"%s\": the targets this build knows are %s",
                     uri_scheme(uri, scheme, sizeof(scheme)) ? "(no scheme)" : scheme,
                     zetl_sink_schemes());
        return NULL;
}
