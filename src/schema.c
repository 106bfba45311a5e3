/*
 * Table schemas and their evolution (see zetl/schema.h).
 *
 * A schema is built once (new, set_col, finish), then published and shared
 * read-only by reference between threads; the only field that changes after
 * publication is the reference count, which is why it alone is touched
 * atomically. The diff compares two versions of one table and classifies
 * every difference so that a sink can decide whether it can evolve its target
 * in place or the table needs a resync.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zetl/schema.h"

/* ---- schema objects ---------------------------------------------------- */

struct zetl_schema *zetl_schema_new(const struct zetl_table_id *id, int ncols)
{
        struct zetl_schema *s;

        if (ncols < 0)
                return NULL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        if (ncols > 0) {
                s->cols = calloc((size_t)ncols, sizeof(*s->cols));
                if (!s->cols)
                        goto free_schema;
        }
        if (id)
                s->id = *id;
        s->ncols = ncols;
        s->version = 1;
        s->refs = 1;
        return s;

free_schema:
        free(s);
        return NULL;
}

static void column_free(struct zetl_column *c)
{
        free(c->name);
        free(c->source_type);
        c->name = NULL;
        c->source_type = NULL;
}

/* Copy src into dst, duplicating its strings; dst's own strings are not freed. */
static int column_copy(struct zetl_column *dst, const struct zetl_column *src)
{
        char *name = NULL;
        char *stype = NULL;

        if (src->name && !(name = strdup(src->name)))
                goto fail;
        if (src->source_type && !(stype = strdup(src->source_type)))
                goto free_name;
        *dst = *src;
        dst->name = name;
        dst->source_type = stype;
        return 0;

free_name:
        free(name);
fail:
        return ZETL_ENOMEM;
}

int zetl_schema_set_col(struct zetl_schema *s, int i, const struct zetl_column *c)
{
        struct zetl_column tmp;
        int rc;

        if (!s || !c || i < 0 || i >= s->ncols)
                return ZETL_EINVAL;
        /* Copy first so that a failed allocation leaves the old column intact. */
        rc = column_copy(&tmp, c);
        if (rc)
                return rc;
        column_free(&s->cols[i]);
        s->cols[i] = tmp;
        return 0;
}

/* Checks without allocating, so that finish can only fail on a bad shape. */
int zetl_schema_finish(struct zetl_schema *s, struct zetl_err *err)
{
        char tname[3 * ZETL_NAME_MAX];
        int nkeys = 0;

        zetl_table_id_str(&s->id, tname, sizeof(tname));
        for (int i = 0; i < s->ncols; i++) {
                const struct zetl_column *c = &s->cols[i];

                if (!c->name || !c->name[0])
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                            "table %s: column %d has no name", tname, i + 1);
                if (c->key_pos < 0)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                            "table %s: column \"%s\" has key position %d", tname,
                                            c->name, c->key_pos);
                if (c->key_pos > 0)
                        nkeys++;
                for (int j = 0; j < i; j++) {
                        if (strcmp(s->cols[j].name, c->name) == 0)
                                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                                    "table %s: column \"%s\" appears twice", tname,
                                                    c->name);
                }
        }
        /* With every position in 1..nkeys and none repeated, each is used once. */
        for (int i = 0; i < s->ncols; i++) {
                const struct zetl_column *c = &s->cols[i];

                if (c->key_pos > nkeys)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                            "table %s: column \"%s\" has key position %d but the "
                                            "key has %d columns",
                                            tname, c->name, c->key_pos, nkeys);
                for (int j = 0; c->key_pos > 0 && j < i; j++) {
                        if (s->cols[j].key_pos == c->key_pos)
                                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                                    "table %s: columns \"%s\" and \"%s\" share "
                                                    "key position %d",
                                                    tname, s->cols[j].name, c->name, c->key_pos);
                }
        }
        s->nkeys = nkeys;
        return 0;
}

static void schema_free(struct zetl_schema *s)
{
        for (int i = 0; i < s->ncols; i++)
                column_free(&s->cols[i]);
        free(s->cols);
        free(s);
}

struct zetl_schema *zetl_schema_clone(const struct zetl_schema *s)
{
        struct zetl_schema *c;

        c = zetl_schema_new(&s->id, s->ncols);
        if (!c)
                return NULL;
        for (int i = 0; i < s->ncols; i++) {
                if (column_copy(&c->cols[i], &s->cols[i]))
                        goto free_clone;
        }
        c->version = s->version;
        c->nkeys = s->nkeys;
        return c;

free_clone:
        schema_free(c);
        return NULL;
}

/* The header hands out const pointers to shared, immutable schemas; the count
 * is the one mutable part, hence the casts. */
struct zetl_schema *zetl_schema_ref(const struct zetl_schema *s)
{
        struct zetl_schema *m = (struct zetl_schema *)s;

        if (m)
                __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
        return m;
}

void zetl_schema_unref(const struct zetl_schema *s)
{
        struct zetl_schema *m = (struct zetl_schema *)s;

        /* Release our writes, and acquire everyone else's before freeing. */
        if (m && __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0)
                schema_free(m);
}

int zetl_schema_find(const struct zetl_schema *s, const char *name)
{
        for (int i = 0; i < s->ncols; i++) {
                if (s->cols[i].name && strcmp(s->cols[i].name, name) == 0)
                        return i;
        }
        return -1;
}

int zetl_schema_key_col(const struct zetl_schema *s, int k)
{
        if (k <= 0)
                return -1;
        for (int i = 0; i < s->ncols; i++) {
                if (s->cols[i].key_pos == k)
                        return i;
        }
        return -1;
}

static bool str_eq(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

/* source_type and source_id are how the source describes a column, not its
 * shape: two sources can produce the same shape. */
bool zetl_schema_same_shape(const struct zetl_schema *a, const struct zetl_schema *b)
{
        if (a->ncols != b->ncols)
                return false;
        for (int i = 0; i < a->ncols; i++) {
                const struct zetl_column *x = &a->cols[i];
                const struct zetl_column *y = &b->cols[i];

                if (!str_eq(x->name, y->name) || x->type != y->type ||
                    x->precision != y->precision || x->scale != y->scale ||
                    x->nullable != y->nullable || x->key_pos != y->key_pos)
                        return false;
        }
        return true;
}

/* ---- table ids --------------------------------------------------------- */

const char *zetl_table_id_str(const struct zetl_table_id *id, char *buf, size_t len)
{
        if (len == 0)
                return buf;
        if (id->schema[0])
                snprintf(buf, len, "%s.%s.%s", id->db, id->schema, id->table);
        else
                snprintf(buf, len, "%s.%s", id->db, id->table);
        return buf;
}

bool zetl_table_id_eq(const struct zetl_table_id *a, const struct zetl_table_id *b)
{
        return strcmp(a->db, b->db) == 0 && strcmp(a->schema, b->schema) == 0 &&
               strcmp(a->table, b->table) == 0;
}

int zetl_table_id_set(struct zetl_table_id *id, const char *db, const char *schema,
                      const char *table)
{
        size_t ldb, lschema, ltable;

        if (!db || !table)
                return ZETL_EINVAL;
        if (!schema)
                schema = "";
        ldb = strlen(db);
        lschema = strlen(schema);
        ltable = strlen(table);
        /* Check every part before writing any, so a failure leaves id as it was. */
        if (ldb >= ZETL_NAME_MAX || lschema >= ZETL_NAME_MAX || ltable >= ZETL_NAME_MAX)
                return ZETL_EINVAL;
        memcpy(id->db, db, ldb + 1);
        memcpy(id->schema, schema, lschema + 1);
        memcpy(id->table, table, ltable + 1);
        return 0;
}

/* ---- schema evolution -------------------------------------------------- */

const char *zetl_change_kind_name(enum zetl_change_kind k)
{
        switch (k) {
        case ZETL_CHG_ADD:
                return "add";
        case ZETL_CHG_DROP:
                return "drop";
        case ZETL_CHG_RENAME:
                return "rename";
        case ZETL_CHG_WIDEN:
                return "widen";
        case ZETL_CHG_NARROW:
                return "narrow";
        case ZETL_CHG_NULLABLE:
                return "nullable";
        case ZETL_CHG_NOTNULL:
                return "notnull";
        case ZETL_CHG_TYPE:
                return "type";
        case ZETL_CHG_KEY:
                return "key";
        case ZETL_CHG_REORDER:
                return "reorder";
        }
        return "unknown";
}

/* What differs between two versions of one column's type. */
enum type_cmp {
        TC_SAME,
        TC_WIDER,
        TC_NARROWER,
        TC_OTHER,
};

/* Rank within a family whose members hold each other's values, or 0. */
static int int_rank(enum zetl_type t)
{
        switch (t) {
        case ZETL_T_INT16:
                return 1;
        case ZETL_T_INT32:
                return 2;
        case ZETL_T_INT64:
                return 3;
        default:
                return 0;
        }
}

static int float_rank(enum zetl_type t)
{
        switch (t) {
        case ZETL_T_FLOAT32:
                return 1;
        case ZETL_T_FLOAT64:
                return 2;
        default:
                return 0;
        }
}

static enum type_cmp rank_cmp(int a, int b)
{
        if (a == b)
                return TC_SAME;
        return b > a ? TC_WIDER : TC_NARROWER;
}

/* A limit where 0 means none (decimal precision, string length). */
static enum type_cmp limit_cmp(int32_t a, int32_t b)
{
        if (a == b)
                return TC_SAME;
        if (b == 0)
                return TC_WIDER;
        if (a == 0)
                return TC_NARROWER;
        return b > a ? TC_WIDER : TC_NARROWER;
}

/* Modifiers count only for the types the header gives them a meaning for;
 * anything a source leaves in them for other types is noise. */
static enum type_cmp type_compare(const struct zetl_column *a, const struct zetl_column *b)
{
        if (a->type != b->type) {
                if (int_rank(a->type) && int_rank(b->type))
                        return rank_cmp(int_rank(a->type), int_rank(b->type));
                if (float_rank(a->type) && float_rank(b->type))
                        return rank_cmp(float_rank(a->type), float_rank(b->type));
                return TC_OTHER;
        }
        switch (a->type) {
        case ZETL_T_DECIMAL:
                /* Another scale moves the decimal point: no value keeps its meaning. */
                if (a->scale != b->scale)
                        return TC_OTHER;
                return limit_cmp(a->precision, b->precision);
        case ZETL_T_STRING:
                return limit_cmp(a->precision, b->precision);
        case ZETL_T_TIME:
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                return rank_cmp(a->precision, b->precision);
        default:
                return TC_SAME;
        }
}

static void type_str(const struct zetl_column *c, char *buf, size_t len)
{
        const char *name = zetl_type_name(c->type);

        switch (c->type) {
        case ZETL_T_DECIMAL:
                if (c->precision == 0 && c->scale < 0)
                        snprintf(buf, len, "%s", name);
                else if (c->precision == 0)
                        snprintf(buf, len, "%s(*,%d)", name, (int)c->scale);
                else if (c->scale < 0)
                        snprintf(buf, len, "%s(%d)", name, (int)c->precision);
                else
                        snprintf(buf, len, "%s(%d,%d)", name, (int)c->precision, (int)c->scale);
                break;
        case ZETL_T_STRING:
                if (c->precision == 0)
                        snprintf(buf, len, "%s", name);
                else
                        snprintf(buf, len, "%s(%d)", name, (int)c->precision);
                break;
        case ZETL_T_TIME:
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                snprintf(buf, len, "%s(%d)", name, (int)c->precision);
                break;
        default:
                snprintf(buf, len, "%s", name);
                break;
        }
}

/* Working state of one diff: the column matching in both directions and the
 * change list being filled (sized for the worst case up front). */
struct diff_ctx {
        const struct zetl_schema *old;
        const struct zetl_schema *new;
        int *old_to_new; /* old index -> new index, or -1 */
        int *new_to_old; /* new index -> old index, or -1 */
        struct zetl_change *changes;
        int n;
};

/* Append a change. The detail is a message for people, so a very long
 * column name is cut rather than refused. */
static void add_change(struct diff_ctx *d, enum zetl_change_kind kind, int old_col, int new_col,
                       bool compatible, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void add_change(struct diff_ctx *d, enum zetl_change_kind kind, int old_col, int new_col,
                       bool compatible, const char *fmt, ...)
{
        struct zetl_change *c = &d->changes[d->n++];
        va_list ap;

        c->kind = kind;
        c->old_col = old_col;
        c->new_col = new_col;
        c->compatible = compatible;
        va_start(ap, fmt);
        vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
        va_end(ap);
}

/* Match by source_id where both sides vouch for one, by name otherwise. Ids
 * go first so that a name freed by a rename cannot capture another column. */
static void match_columns(struct diff_ctx *d)
{
        const struct zetl_schema *o = d->old;
        const struct zetl_schema *n = d->new;

        for (int i = 0; i < o->ncols; i++)
                d->old_to_new[i] = -1;
        for (int j = 0; j < n->ncols; j++)
                d->new_to_old[j] = -1;
        for (int j = 0; j < n->ncols; j++) {
                uint32_t sid = n->cols[j].source_id;

                for (int i = 0; sid && i < o->ncols; i++) {
                        if (d->old_to_new[i] < 0 && o->cols[i].source_id == sid) {
                                d->old_to_new[i] = j;
                                d->new_to_old[j] = i;
                                break;
                        }
                }
        }
        for (int j = 0; j < n->ncols; j++) {
                const struct zetl_column *nc = &n->cols[j];

                if (d->new_to_old[j] >= 0)
                        continue;
                for (int i = 0; i < o->ncols; i++) {
                        const struct zetl_column *oc = &o->cols[i];

                        if (d->old_to_new[i] >= 0 || (oc->source_id && nc->source_id))
                                continue;
                        if (str_eq(oc->name, nc->name)) {
                                d->old_to_new[i] = j;
                                d->new_to_old[j] = i;
                                break;
                        }
                }
        }
}

static void diff_type(struct diff_ctx *d, int i, int j)
{
        const struct zetl_column *oc = &d->old->cols[i];
        const struct zetl_column *nc = &d->new->cols[j];
        char ot[48], nt[48];

        type_str(oc, ot, sizeof(ot));
        type_str(nc, nt, sizeof(nt));
        switch (type_compare(oc, nc)) {
        case TC_SAME:
                break;
        case TC_WIDER:
                add_change(d, ZETL_CHG_WIDEN, i, j, true, "column \"%s\" widened %s -> %s",
                           nc->name, ot, nt);
                break;
        case TC_NARROWER:
                add_change(d, ZETL_CHG_NARROW, i, j, true,
                           "column \"%s\" narrowed %s -> %s: the target keeps %s", nc->name, ot, nt,
                           ot);
                break;
        case TC_OTHER:
                add_change(d, ZETL_CHG_TYPE, i, j, false, "column \"%s\" %s -> %s: incompatible",
                           nc->name, ot, nt);
                break;
        }
        if (oc->nullable && !nc->nullable) {
                add_change(d, ZETL_CHG_NOTNULL, i, j, true, "column \"%s\" now not null", nc->name);
        } else if (!oc->nullable && nc->nullable) {
                add_change(d, ZETL_CHG_NULLABLE, i, j, true, "column \"%s\" now nullable",
                           nc->name);
        }
}

/* "(a, b)": the key columns of s in key order, for a detail message. */
static void key_str(const struct zetl_schema *s, char *buf, size_t len)
{
        size_t used = 0;
        int idx;

        snprintf(buf, len, "(");
        for (int k = 1; (idx = zetl_schema_key_col(s, k)) >= 0; k++) {
                used = strlen(buf);
                snprintf(buf + used, len - used, "%s%s", k > 1 ? ", " : "", s->cols[idx].name);
        }
        used = strlen(buf);
        snprintf(buf + used, len - used, ")");
}

/* A renamed key column is still the same key: compare through the matching. */
static bool key_changed(const struct diff_ctx *d)
{
        int k;

        for (k = 1;; k++) {
                int oi = zetl_schema_key_col(d->old, k);
                int nj = zetl_schema_key_col(d->new, k);

                if (oi < 0 || nj < 0)
                        return oi != nj;
                if (d->old_to_new[oi] != nj)
                        return true;
        }
}

/* Order among the columns both versions have; adds and drops do not count. */
static bool order_changed(const struct diff_ctx *d)
{
        int last = -1;

        for (int j = 0; j < d->new->ncols; j++) {
                int i = d->new_to_old[j];

                if (i < 0)
                        continue;
                if (i < last)
                        return true;
                last = i;
        }
        return false;
}

static void diff_fill(struct diff_ctx *d)
{
        const struct zetl_schema *o = d->old;
        const struct zetl_schema *n = d->new;

        for (int i = 0; i < o->ncols; i++) {
                if (d->old_to_new[i] >= 0)
                        continue;
                add_change(d, ZETL_CHG_DROP, i, -1, true, "column \"%s\" dropped", o->cols[i].name);
        }
        for (int j = 0; j < n->ncols; j++) {
                int i = d->new_to_old[j];

                if (i < 0 || str_eq(o->cols[i].name, n->cols[j].name))
                        continue;
                add_change(d, ZETL_CHG_RENAME, i, j, true, "column \"%s\" renamed to \"%s\"",
                           o->cols[i].name, n->cols[j].name);
        }
        for (int j = 0; j < n->ncols; j++) {
                if (d->new_to_old[j] >= 0)
                        diff_type(d, d->new_to_old[j], j);
        }
        for (int j = 0; j < n->ncols; j++) {
                const struct zetl_column *nc = &n->cols[j];
                char t[48];

                if (d->new_to_old[j] >= 0)
                        continue;
                type_str(nc, t, sizeof(t));
                /* Rows written before the column existed have no value for it. */
                if (nc->nullable)
                        add_change(d, ZETL_CHG_ADD, -1, j, true, "column \"%s\" added as %s",
                                   nc->name, t);
                else
                        add_change(d, ZETL_CHG_ADD, -1, j, true,
                                   "column \"%s\" added as %s not null: created nullable in "
                                   "the target",
                                   nc->name, t);
        }
        if (key_changed(d)) {
                char ok[64], nk[64];

                key_str(o, ok, sizeof(ok));
                key_str(n, nk, sizeof(nk));
                add_change(d, ZETL_CHG_KEY, -1, -1, false, "primary key %s -> %s: incompatible", ok,
                           nk);
        }
        if (order_changed(d))
                add_change(d, ZETL_CHG_REORDER, -1, -1, true, "column order changed");
}

int zetl_schema_diff(const struct zetl_schema *old, const struct zetl_schema *new,
                     struct zetl_schema_diff *out, struct zetl_err *err)
{
        struct diff_ctx d = { .old = old, .new = new };
        char tname[3 * ZETL_NAME_MAX];
        size_t cap;
        int rc = 0;

        out->n = 0;
        out->changes = NULL;
        out->compatible = false;
        /* With m columns matched: old - m drops, new - m adds, at most three
         * changes per matched column (rename, type, nullability), the key and
         * the order; m is at most the smaller of the two counts. */
        cap = (size_t)old->ncols + (size_t) new->ncols +
              (size_t)(old->ncols < new->ncols ? old->ncols : new->ncols) + 2;
        d.old_to_new = malloc(((size_t)old->ncols + 1) * sizeof(int));
        d.new_to_old = malloc(((size_t) new->ncols + 1) * sizeof(int));
        d.changes = calloc(cap, sizeof(*d.changes));
        if (!d.old_to_new || !d.new_to_old || !d.changes) {
                zetl_table_id_str(&new->id, tname, sizeof(tname));
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                  "table %s: out of memory comparing schema versions", tname);
                goto free_work;
        }
        match_columns(&d);
        diff_fill(&d);

        out->compatible = true;
        for (int k = 0; k < d.n; k++)
                out->compatible = out->compatible && d.changes[k].compatible;
        out->n = d.n;
        if (d.n > 0) {
                out->changes = d.changes;
                d.changes = NULL;
        }

free_work:
        free(d.changes);
        free(d.new_to_old);
        free(d.old_to_new);
        return rc;
}

void zetl_schema_diff_free(struct zetl_schema_diff *d)
{
        if (!d)
                return;
        free(d->changes);
        d->changes = NULL;
        d->n = 0;
}
