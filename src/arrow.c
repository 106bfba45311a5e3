/*
 * Export a batch through the Arrow C Data Interface without copying: the
 * batch's buffers are already Arrow's layout, so this only builds the
 * ArrowSchema/ArrowArray descriptors: a struct ("+s") of one child per column
 * plus "_zetl_op" (int8) and "_zetl_pos" (uint64). Decimal columns carry the
 * metadata zetl.decimal = "precision,scale" and json columns zetl.json = "".
 *
 * Each child owns what it points to (its buffers array, its metadata) and
 * frees it in its own release callback, so a consumer may move a child out
 * and release the parent first, as the specification allows. The release
 * callbacks never free the batch's buffers: the batch must outlive them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zetl/batch.h"

static const int32_t zero_offset[1] = { 0 };

struct parent_schema {
        struct ArrowSchema *children;
        struct ArrowSchema **ptrs;
};

struct parent_array {
        struct ArrowArray *children;
        struct ArrowArray **ptrs;
        const void *buffers[1];
};

static void child_schema_release(struct ArrowSchema *s)
{
        free(s->private_data); /* the metadata blob, or NULL */
        s->private_data = NULL;
        s->release = NULL;
}

static void child_array_release(struct ArrowArray *a)
{
        free(a->private_data); /* the buffers array */
        a->private_data = NULL;
        a->release = NULL;
}

static void schema_release(struct ArrowSchema *s)
{
        struct parent_schema *p = s->private_data;

        for (int64_t i = 0; i < s->n_children; i++)
                if (p->children[i].release)
                        p->children[i].release(&p->children[i]);
        free(p->children);
        free(p->ptrs);
        free(p);
        s->release = NULL;
}

static void array_release(struct ArrowArray *a)
{
        struct parent_array *p = a->private_data;

        for (int64_t i = 0; i < a->n_children; i++)
                if (p->children[i].release)
                        p->children[i].release(&p->children[i]);
        free(p->children);
        free(p->ptrs);
        free(p);
        a->release = NULL;
}

/* One key/value pair in Arrow's metadata encoding (native-endian int32
 * lengths). Returns a malloc'd blob or NULL. */
static char *metadata_one(const char *key, const char *value)
{
        int32_t n = 1, kl = (int32_t)strlen(key), vl = (int32_t)strlen(value);
        char *m = malloc(12 + (size_t)kl + (size_t)vl), *p = m;

        if (!m)
                return NULL;
        memcpy(p, &n, 4);
        memcpy(p += 4, &kl, 4);
        memcpy(p += 4, key, (size_t)kl);
        memcpy(p += kl, &vl, 4);
        memcpy(p + 4, value, (size_t)vl);
        return m;
}

static int fill_child(struct ArrowSchema *cs, struct ArrowArray *ca, const char *format,
                      const char *name, char *metadata, int64_t length, int64_t nulls,
                      const void *validity, const void *b1, const void *b2, int nbuf)
{
        const void **bufs = calloc(3, sizeof(*bufs));

        if (!bufs)
                return -1;
        bufs[0] = nulls ? validity : NULL;
        bufs[1] = b1;
        bufs[2] = b2;
        *cs = (struct ArrowSchema){ .format = format,
                                    .name = name,
                                    .metadata = metadata,
                                    .flags = ARROW_FLAG_NULLABLE,
                                    .release = child_schema_release,
                                    .private_data = metadata };
        *ca = (struct ArrowArray){ .length = length,
                                   .null_count = nulls,
                                   .n_buffers = nbuf,
                                   .buffers = bufs,
                                   .release = child_array_release,
                                   .private_data = bufs };
        return 0;
}

static char *column_metadata(const struct zetl_column *c, int *failed)
{
        char ps[32];
        char *m = NULL;

        if (c->type == ZETL_T_DECIMAL) {
                snprintf(ps, sizeof(ps), "%d,%d", c->precision, c->scale);
                m = metadata_one("zetl.decimal", ps);
        } else if (c->type == ZETL_T_JSON) {
                m = metadata_one("zetl.json", "");
        } else {
                return NULL;
        }
        *failed |= m == NULL;
        return m;
}

int zetl_batch_export_arrow(const struct zetl_batch *b, struct ArrowSchema *schema,
                            struct ArrowArray *array, struct zetl_err *e)
{
        int n = b->schema->ncols + 2, failed = 0;
        struct parent_schema *ps = calloc(1, sizeof(*ps));
        struct parent_array *pa = calloc(1, sizeof(*pa));

        if (!ps || !pa)
                goto oom;
        ps->children = calloc((size_t)n, sizeof(*ps->children));
        ps->ptrs = calloc((size_t)n, sizeof(*ps->ptrs));
        pa->children = calloc((size_t)n, sizeof(*pa->children));
        pa->ptrs = calloc((size_t)n, sizeof(*pa->ptrs));
        if (!ps->children || !ps->ptrs || !pa->children || !pa->ptrs)
                goto oom;

        for (int c = 0; c < b->schema->ncols && !failed; c++) {
                const struct zetl_vec *v = &b->cols[c];
                const struct zetl_column *col = &b->schema->cols[c];
                bool var = zetl_type_storage(col->type) == ZETL_ST_VAR;
                const void *b1 = var ? (v->offsets ? (const void *)v->offsets : zero_offset)
                                     : (const void *)v->values;
                char *meta = column_metadata(col, &failed);

                if (failed ||
                    fill_child(&ps->children[c], &pa->children[c],
                               zetl_type_arrow_format(col->type), col->name, meta, b->nrows,
                               v->null_count, v->validity, b1, var ? v->data : NULL, var ? 3 : 2)) {
                        free(meta);
                        failed = 1;
                }
        }
        if (failed ||
            fill_child(&ps->children[n - 2], &pa->children[n - 2], "c", "_zetl_op", NULL, b->nrows,
                       0, NULL, b->ops, NULL, 2) ||
            fill_child(&ps->children[n - 1], &pa->children[n - 1], "L", "_zetl_pos", NULL, b->nrows,
                       0, NULL, b->pos, NULL, 2))
                goto oom;
        for (int i = 0; i < n; i++) {
                ps->ptrs[i] = &ps->children[i];
                pa->ptrs[i] = &pa->children[i];
        }

        *schema = (struct ArrowSchema){ .format = "+s",
                                        .name = b->schema->id.table,
                                        .n_children = n,
                                        .children = ps->ptrs,
                                        .release = schema_release,
                                        .private_data = ps };
        pa->buffers[0] = NULL;
        *array = (struct ArrowArray){ .length = b->nrows,
                                      .n_buffers = 1,
                                      .buffers = pa->buffers,
                                      .n_children = n,
                                      .children = pa->ptrs,
                                      .release = array_release,
                                      .private_data = pa };
        return 0;

oom:
        if (ps && ps->children)
                for (int i = 0; i < n; i++)
                        if (ps->children[i].release)
                                ps->children[i].release(&ps->children[i]);
        if (pa && pa->children)
                for (int i = 0; i < n; i++)
                        if (pa->children[i].release)
                                pa->children[i].release(&pa->children[i]);
        if (ps) {
                free(ps->children);
                free(ps->ptrs);
        }
        if (pa) {
                free(pa->children);
                free(pa->ptrs);
        }
        free(ps);
        free(pa);
        return zetl_err_set(e, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory exporting a batch");
}
