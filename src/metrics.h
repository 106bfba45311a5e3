/*
 * Metrics of a running `zetl run` in Prometheus' text exposition format
 * (version 0.0.4): written atomically to a file (--metrics-file, for
 * node_exporter's textfile collector) and served over HTTP
 * (--metrics-listen HOST:PORT: GET /metrics, GET /healthz).
 *
 * Counters are updated by the sink thread and the supervisor; the text is
 * rendered from the integration's status (the same numbers describe-
 * integrations shows) whenever the status is written, and the HTTP thread
 * serves the latest rendering. All functions are thread-safe; a NULL
 * struct zetl_metrics is accepted everywhere and does nothing.
 */
#ifndef ZETL_METRICS_H
#define ZETL_METRICS_H

#include <stddef.h>

#include "catalog.h"
#include "zetl/err.h"

struct zetl_metrics;

/* file and listen may be NULL. listen is "HOST:PORT" or "[V6]:PORT"; the
 * socket is bound here, so a busy port is reported at once. Returns 0 and
 * *out, ZETL_EINVAL (config: bad address) or ZETL_EIO (bind/listen failed). */
int zetl_metrics_open(const char *integration, const char *file, const char *listen,
                      struct zetl_metrics **out, struct zetl_err *err);
/* Stop the HTTP thread, rewrite the file with zetl_up 0 (a stopped run must
 * not look alive to the textfile collector), free. */
void zetl_metrics_close(struct zetl_metrics *m);

void zetl_metrics_batch(struct zetl_metrics *m);
void zetl_metrics_commit(struct zetl_metrics *m, double seconds);
void zetl_metrics_retry(struct zetl_metrics *m);
void zetl_metrics_error(struct zetl_metrics *m);

/* Render from st and publish (file and HTTP). */
void zetl_metrics_publish(struct zetl_metrics *m, const struct zetl_status *st);

/* The exposition text for st and m's counters into a malloc'd string (for
 * tests; publish uses it). NULL when out of memory. */
char *zetl_metrics_render(struct zetl_metrics *m, const struct zetl_status *st);

#endif
