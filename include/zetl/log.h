/*
 * Logging to stderr, in text or JSON lines, with levels. Every line goes
 * through a last scrub of secrets (see zetl_uri_redact), but callers still pass
 * redacted URIs: the scrub is a safety net, not the mechanism.
 */
#ifndef ZETL_LOG_H
#define ZETL_LOG_H

enum zetl_log_level { ZETL_LOG_DEBUG = 0, ZETL_LOG_INFO, ZETL_LOG_WARN, ZETL_LOG_ERROR };
enum zetl_log_format { ZETL_LOG_TEXT = 0, ZETL_LOG_JSON };

void zetl_log_init(enum zetl_log_level min, enum zetl_log_format fmt);
int zetl_log_level_parse(const char *s, enum zetl_log_level *out);
/* The integration name added to every line of this process (NULL: none). */
void zetl_log_set_integration(const char *name);
void zetl_log(enum zetl_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int zetl_log_enabled(enum zetl_log_level lvl);

#define zlog_debug(...) zetl_log(ZETL_LOG_DEBUG, __VA_ARGS__)
#define zlog_info(...)  zetl_log(ZETL_LOG_INFO, __VA_ARGS__)
#define zlog_warn(...)  zetl_log(ZETL_LOG_WARN, __VA_ARGS__)
#define zlog_error(...) zetl_log(ZETL_LOG_ERROR, __VA_ARGS__)

#endif
