/*
 * Logging to stderr (see zetl/log.h). One line per call, written with a
 * single write(2) so lines from the source and sink threads never interleave.
 * Every line passes through zetl_uri_redact as a last safety net for secrets.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "zetl/config.h"
#include "zetl/err.h"
#include "zetl/log.h"

#define LINE_MAX_BYTES 4096

static enum zetl_log_level min_level = ZETL_LOG_INFO;
static enum zetl_log_format format = ZETL_LOG_TEXT;
static char integration[64];

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void zetl_log_init(enum zetl_log_level min, enum zetl_log_format fmt)
{
        min_level = min;
        format = fmt;
}

int zetl_log_level_parse(const char *s, enum zetl_log_level *out)
{
        for (int i = 0; i < 4; i++) {
                if (strcasecmp(s, level_names[i]) == 0) {
                        *out = (enum zetl_log_level)i;
                        return 0;
                }
        }
        return ZETL_EINVAL;
}

void zetl_log_set_integration(const char *name)
{
        snprintf(integration, sizeof(integration), "%s", name ? name : "");
}

int zetl_log_enabled(enum zetl_log_level lvl)
{
        return lvl >= min_level;
}

static void write_all(const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(STDERR_FILENO, p, n);
                if (w <= 0)
                        return;
                p += w;
                n -= (size_t)w;
        }
}

void zetl_log(enum zetl_log_level lvl, const char *fmt, ...)
{
        char raw[LINE_MAX_BYTES], msg[LINE_MAX_BYTES], line[LINE_MAX_BYTES + 256], ts[40];
        struct timespec now;
        struct tm tm;
        va_list ap;
        int n;

        if (lvl < min_level)
                return;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof(raw), fmt, ap);
        va_end(ap);
        zetl_uri_redact(raw, msg, sizeof(msg));

        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        n = (int)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + n, sizeof(ts) - (size_t)n, ".%03ldZ", now.tv_nsec / 1000000);

        if (format == ZETL_LOG_JSON) {
                json_t *o = json_object();
                char *s;
                json_object_set_new(o, "ts", json_string(ts));
                json_object_set_new(o, "level", json_string(level_names[lvl]));
                if (integration[0])
                        json_object_set_new(o, "integration", json_string(integration));
                json_t *m = json_string(msg);
                if (!m) {
                        /* Not UTF-8 (a peer's bytes in a message): keep it readable. */
                        for (char *c = msg; *c; c++)
                                if ((unsigned char)*c >= 0x80)
                                        *c = '?';
                        m = json_string(msg);
                }
                json_object_set_new(o, "msg", m);
                s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
                json_decref(o);
                if (!s)
                        return;
                n = snprintf(line, sizeof(line), "%s\n", s);
                free(s);
        } else if (integration[0]) {
                n = snprintf(line, sizeof(line), "%s %-5s [%s] %s\n", ts, level_names[lvl],
                             integration, msg);
        } else {
                n = snprintf(line, sizeof(line), "%s %-5s %s\n", ts, level_names[lvl], msg);
        }
        if (n > (int)sizeof(line) - 1)
                n = (int)sizeof(line) - 1;
        write_all(line, (size_t)n);
}
