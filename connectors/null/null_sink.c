/*
 * The null sink: counts rows and bytes, writes nothing. For benchmarks (it
 * measures the source side and the core alone) and for dry runs. It keeps no
 * position of its own: the core's checkpoint is the only record.
 */
#include <inttypes.h>
#include <string.h>

#include "zetl/log.h"
#include "zetl/sink.h"

struct null_sink {
        uint64_t rows;
        uint64_t bytes;
        uint64_t batches;
        uint64_t commits;
};

static int null_parse(const char *uri, struct zetl_err *err)
{
        if (strcmp(uri, "null:") != 0)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "the null target takes no path: write \"null:\"");
        return 0;
}

static int null_nop(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        (void)priv;
        (void)cfg;
        (void)err;
        return 0;
}

static int null_schema(void *priv, const struct zetl_schema *old, const struct zetl_schema *new,
                       const struct zetl_schema_diff *diff, struct zetl_err *err)
{
        (void)priv;
        (void)old;
        (void)new;
        (void)diff;
        (void)err;
        return 0;
}

static int null_write(void *priv, const struct zetl_batch *b, struct zetl_err *err)
{
        struct null_sink *n = priv;

        (void)err;
        n->rows += b->nrows;
        n->batches++;
        for (int c = 0; c < b->schema->ncols; c++)
                n->bytes +=
                        b->cols[c].data_len + zetl_type_width(b->schema->cols[c].type) * b->nrows;
        return 0;
}

static int null_truncate(void *priv, const struct zetl_schema *s, uint64_t pos,
                         struct zetl_err *err)
{
        (void)priv;
        (void)s;
        (void)pos;
        (void)err;
        return 0;
}

static int null_commit(void *priv, const struct zetl_position *pos, struct zetl_err *err)
{
        struct null_sink *n = priv;

        (void)pos;
        (void)err;
        n->commits++;
        return 0;
}

static void null_close(void *priv)
{
        struct null_sink *n = priv;

        if (n->batches)
                zlog_info("null target: %" PRIu64 " rows, %" PRIu64 " bytes in %" PRIu64
                          " batches, %" PRIu64 " commits",
                          n->rows, n->bytes, n->batches, n->commits);
}

static const char *const null_schemes[] = { "null", NULL };

const struct zetl_sink_ops zetl_null_sink = {
        .name = "null",
        .schemes = null_schemes,
        .caps = 0,
        .priv_size = sizeof(struct null_sink),
        .parse = null_parse,
        .setup = null_nop,
        .teardown = null_nop,
        .open = null_nop,
        .resume = NULL,
        .schema = null_schema,
        .write = null_write,
        .truncate = null_truncate,
        .commit = null_commit,
        .close = null_close,
};
