/*
 * Export a batch through the Arrow C Data Interface without copying: the
 * batch's buffers are already Arrow's layout, so this only builds the
 * ArrowSchema/ArrowArray descriptors (a struct of one child per column plus
 * "_zetl_op" int8 and "_zetl_pos" uint64). The release callbacks free the
 * descriptors only; the batch keeps its buffers and must outlive them.
 */
#include <stdlib.h>
#include <string.h>

#include "zetl/batch.h"

static const int32_t zero_offset[1] = { 0 };

struct export_priv {
        int n;                       /* children */
        struct ArrowSchema *schemas; /* n children */
        struct ArrowSchema **schema_ptrs;
        struct ArrowArray *arrays;
        struct ArrowArray **array_ptrs;
        const void **buffers; /* 3 per child + 1 for the parent */
        int released;         /* both halves released: free */
};

static void priv_put(struct export_priv *p)
{
        if (++p->released < 2)
                return;
        free(p->schemas);
        free(p->schema_ptrs);
        free(p->arrays);
        free(p->array_ptrs);
        free(p->buffers);
        free(p);
}

static void child_schema_release(struct ArrowSchema *s)
{
        s->release = NULL;
}

static void child_array_release(struct ArrowArray *a)
{
        a->release = NULL;
}

static void schema_release(struct ArrowSchema *s)
{
        struct export_priv *p = s->private_data;

        for (int i = 0; i < p->n; i++)
                if (p->schemas[i].release)
                        p->schemas[i].release(&p->schemas[i]);
        s->release = NULL;
        priv_put(p);
}

static void array_release(struct ArrowArray *a)
{
        struct export_priv *p = a->private_data;

        for (int i = 0; i < p->n; i++)
                if (p->arrays[i].release)
                        p->arrays[i].release(&p->arrays[i]);
        a->release = NULL;
        priv_put(p);
}

static void fill_child(struct ArrowSchema *cs, struct ArrowArray *ca, const void **bufs,
                       const char *format, const char *name, int64_t length, int64_t nulls,
                       const void *validity, const void *b1, const void *b2, int nbuf)
{
        memset(cs, 0, sizeof(*cs));
        cs->format = format;
        cs->name = name;
        cs->flags = ARROW_FLAG_NULLABLE;
        cs->release = child_schema_release;
        memset(ca, 0, sizeof(*ca));
        ca->length = length;
        ca->null_count = nulls;
        ca->n_buffers = nbuf;
        bufs[0] = nulls ? validity : NULL;
        bufs[1] = b1;
        bufs[2] = b2;
        ca->buffers = bufs;
        ca->release = child_array_release;
}

int zetl_batch_export_arrow(const struct zetl_batch *b, struct ArrowSchema *schema,
                            struct ArrowArray *array, struct zetl_err *e)
{
        int n = b->schema->ncols + 2;
        struct export_priv *p = calloc(1, sizeof(*p));

        if (!p)
                goto oom;
        p->n = n;
        p->schemas = calloc((size_t)n, sizeof(*p->schemas));
        p->schema_ptrs = calloc((size_t)n, sizeof(*p->schema_ptrs));
        p->arrays = calloc((size_t)n, sizeof(*p->arrays));
        p->array_ptrs = calloc((size_t)n, sizeof(*p->array_ptrs));
        p->buffers = calloc((size_t)n * 3 + 1, sizeof(*p->buffers));
        if (!p->schemas || !p->schema_ptrs || !p->arrays || !p->array_ptrs || !p->buffers)
                goto oom_priv;

        for (int c = 0; c < b->schema->ncols; c++) {
                const struct zetl_vec *v = &b->cols[c];
                enum zetl_type t = b->schema->cols[c].type;
                bool var = zetl_type_storage(t) == ZETL_ST_VAR;
                const void *offs = var ? (v->offsets ? (const void *)v->offsets : zero_offset)
                                       : (const void *)v->values;

                fill_child(&p->schemas[c], &p->arrays[c], &p->buffers[c * 3],
                           zetl_type_arrow_format(t), b->schema->cols[c].name, b->nrows,
                           v->null_count, v->validity, offs, var ? v->data : NULL, var ? 3 : 2);
        }
        fill_child(&p->schemas[n - 2], &p->arrays[n - 2], &p->buffers[(n - 2) * 3], "c", "_zetl_op",
                   b->nrows, 0, NULL, b->ops, NULL, 2);
        fill_child(&p->schemas[n - 1], &p->arrays[n - 1], &p->buffers[(n - 1) * 3], "L",
                   "_zetl_pos", b->nrows, 0, NULL, b->pos, NULL, 2);
        for (int i = 0; i < n; i++) {
                p->schema_ptrs[i] = &p->schemas[i];
                p->array_ptrs[i] = &p->arrays[i];
        }

        memset(schema, 0, sizeof(*schema));
        schema->format = "+s";
        schema->name = b->schema->id.table;
        schema->n_children = n;
        schema->children = p->schema_ptrs;
        schema->release = schema_release;
        schema->private_data = p;

        memset(array, 0, sizeof(*array));
        array->length = b->nrows;
        array->n_buffers = 1;
        p->buffers[(size_t)n * 3] = NULL;
        array->buffers = &p->buffers[(size_t)n * 3];
        array->n_children = n;
        array->children = p->array_ptrs;
        array->release = array_release;
        array->private_data = p;
        return 0;

oom_priv:
        free(p->schemas);
        free(p->schema_ptrs);
        free(p->arrays);
        free(p->array_ptrs);
        free(p->buffers);
        free(p);
oom:
        return zetl_err_set(e, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory exporting a batch");
}
