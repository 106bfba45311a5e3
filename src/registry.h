/*
 * The connector registry: the one table that lists every source and sink.
 * Adding a connector means writing its ops struct and adding one line to
 * the matching array in registry.c.
 */
#ifndef ZETL_REGISTRY_H
#define ZETL_REGISTRY_H

#include "zetl/err.h"
#include "zetl/sink.h"
#include "zetl/source.h"

/* The connector claiming uri's scheme (a libpq conninfo string counts as
 * "postgresql"), after its parse() accepted the URI. An unknown scheme is a
 * config error that lists the known ones. */
const struct zetl_source_ops *zetl_source_find(const char *uri, struct zetl_err *err);
const struct zetl_sink_ops *zetl_sink_find(const char *uri, struct zetl_err *err);
/* "jsonl, null" style lists for help texts. */
const char *zetl_source_schemes(void);
const char *zetl_sink_schemes(void);

#endif
