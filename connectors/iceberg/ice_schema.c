/*
 * ice_schema: Iceberg schemas with stable field ids (see ice_schema.h).
 *
 * The one subtle part is ice_schema_evolve: the Iceberg schema in the table's
 * metadata is the source of truth for field ids, while the core describes
 * changes as a diff between zetl schemas. The two are joined by column name:
 * the Iceberg field names are the zetl column names of the schema they were
 * built from, and Iceberg names are unique, so a name finds one field. Every
 * field is claimed at most once, so a name freed by a rename can never hand
 * its id to a different column.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ice_schema.h"

/* ---- types -------------------------------------------------------------- */

static const char *const type_names[] = {
        [ICE_T_BOOLEAN] = "boolean",     [ICE_T_INT] = "int",
        [ICE_T_LONG] = "long",           [ICE_T_FLOAT] = "float",
        [ICE_T_DOUBLE] = "double",       [ICE_T_DECIMAL] = "decimal",
        [ICE_T_DATE] = "date",           [ICE_T_TIME] = "time",
        [ICE_T_TIMESTAMP] = "timestamp", [ICE_T_TIMESTAMPTZ] = "timestamptz",
        [ICE_T_STRING] = "string",       [ICE_T_UUID] = "uuid",
        [ICE_T_BINARY] = "binary",
};

#define NTYPES ((int)(sizeof(type_names) / sizeof(type_names[0])))

void ice_decimal_resolve(int32_t precision, int32_t scale, int *p, int *s)
{
        if (precision <= 0) {
                *p = ICE_DECIMAL_MAX_PRECISION;
                *s = scale >= 0 ? scale : ICE_DECIMAL_DEFAULT_SCALE;
        } else if (precision <= ICE_DECIMAL_MAX_PRECISION) {
                *p = precision;
                *s = scale >= 0 ? scale : 0;
        } else {
                *p = ICE_DECIMAL_MAX_PRECISION;
                *s = scale >= 0 ? scale : 0;
        }
        /* A scale beyond the precision (numeric(5,7) in PostgreSQL 15+, or a
         * clamped precision) cannot be expressed in Iceberg. */
        if (*s > *p)
                *s = *p;
}

int ice_type_from_zetl(const struct zetl_column *c, struct ice_type *out)
{
        memset(out, 0, sizeof(*out));
        switch (c->type) {
        case ZETL_T_BOOL:
                out->id = ICE_T_BOOLEAN;
                break;
        case ZETL_T_INT16:
        case ZETL_T_INT32:
                out->id = ICE_T_INT;
                break;
        case ZETL_T_INT64:
                out->id = ICE_T_LONG;
                break;
        case ZETL_T_FLOAT32:
                out->id = ICE_T_FLOAT;
                break;
        case ZETL_T_FLOAT64:
                out->id = ICE_T_DOUBLE;
                break;
        case ZETL_T_DECIMAL:
                out->id = ICE_T_DECIMAL;
                ice_decimal_resolve(c->precision, c->scale, &out->precision, &out->scale);
                break;
        case ZETL_T_STRING:
        case ZETL_T_JSON:
                out->id = ICE_T_STRING;
                break;
        case ZETL_T_BYTES:
                out->id = ICE_T_BINARY;
                break;
        case ZETL_T_DATE:
                out->id = ICE_T_DATE;
                break;
        case ZETL_T_TIME:
                out->id = ICE_T_TIME;
                break;
        case ZETL_T_TIMESTAMP:
                out->id = ICE_T_TIMESTAMP;
                break;
        case ZETL_T_TIMESTAMPTZ:
                out->id = ICE_T_TIMESTAMPTZ;
                break;
        case ZETL_T_UUID:
                out->id = ICE_T_UUID;
                break;
        default:
                return ZETL_EINVAL;
        }
        return 0;
}

/* Java and pyiceberg write "decimal(38, 18)"; we write the same form. */
const char *ice_type_str(const struct ice_type *t, char *buf, size_t len)
{
        if (len == 0)
                return buf;
        if ((int)t->id < 0 || (int)t->id >= NTYPES)
                snprintf(buf, len, "?");
        else if (t->id == ICE_T_DECIMAL)
                snprintf(buf, len, "decimal(%d, %d)", t->precision, t->scale);
        else
                snprintf(buf, len, "%s", type_names[t->id]);
        return buf;
}

/* "decimal(P,S)" with optional blanks around the numbers. */
static int decimal_parse(const char *s, struct ice_type *out)
{
        int p, sc, n = 0;

        if (sscanf(s, "decimal ( %d , %d )%n", &p, &sc, &n) != 2 || s[n] != '\0')
                return ZETL_EUNSUPPORTED;
        if (p < 1 || p > ICE_DECIMAL_MAX_PRECISION || sc < 0 || sc > p)
                return ZETL_EUNSUPPORTED;
        out->id = ICE_T_DECIMAL;
        out->precision = p;
        out->scale = sc;
        return 0;
}

int ice_type_parse(const char *s, struct ice_type *out)
{
        memset(out, 0, sizeof(*out));
        if (strncmp(s, "decimal", 7) == 0)
                return decimal_parse(s, out);
        for (int i = 0; i < NTYPES; i++) {
                if (i != ICE_T_DECIMAL && strcmp(s, type_names[i]) == 0) {
                        out->id = (enum ice_type_id)i;
                        return 0;
                }
        }
        return ZETL_EUNSUPPORTED;
}

bool ice_type_eq(const struct ice_type *a, const struct ice_type *b)
{
        if (a->id != b->id)
                return false;
        return a->id != ICE_T_DECIMAL || (a->precision == b->precision && a->scale == b->scale);
}

bool ice_type_promotable(const struct ice_type *from, const struct ice_type *to)
{
        if (ice_type_eq(from, to))
                return true;
        if (from->id == ICE_T_INT && to->id == ICE_T_LONG)
                return true;
        if (from->id == ICE_T_FLOAT && to->id == ICE_T_DOUBLE)
                return true;
        return from->id == ICE_T_DECIMAL && to->id == ICE_T_DECIMAL && from->scale == to->scale &&
               to->precision >= from->precision;
}

/* ---- schema objects ------------------------------------------------------ */

struct ice_schema *ice_schema_new(int nfields, int nident)
{
        struct ice_schema *s;

        if (nfields < 0 || nident < 0)
                return NULL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        /* One spare element each so that an empty schema still owns arrays. */
        s->fields = calloc((size_t)nfields + 1, sizeof(*s->fields));
        s->ident_ids = calloc((size_t)nident + 1, sizeof(*s->ident_ids));
        if (!s->fields || !s->ident_ids)
                goto free_schema;
        s->nfields = nfields;
        s->nident = nident;
        return s;

free_schema:
        free(s->fields);
        free(s->ident_ids);
        free(s);
        return NULL;
}

void ice_schema_free(struct ice_schema *s)
{
        if (!s)
                return;
        for (int i = 0; i < s->nfields; i++)
                free(s->fields[i].name);
        free(s->fields);
        free(s->ident_ids);
        free(s);
}

struct ice_schema *ice_schema_clone(const struct ice_schema *s)
{
        struct ice_schema *c = ice_schema_new(s->nfields, s->nident);

        if (!c)
                return NULL;
        c->schema_id = s->schema_id;
        for (int i = 0; i < s->nfields; i++) {
                c->fields[i] = s->fields[i];
                c->fields[i].name = s->fields[i].name ? strdup(s->fields[i].name) : NULL;
                if (s->fields[i].name && !c->fields[i].name)
                        goto free_clone;
        }
        if (s->nident > 0)
                memcpy(c->ident_ids, s->ident_ids, (size_t)s->nident * sizeof(int));
        return c;

free_clone:
        ice_schema_free(c);
        return NULL;
}

bool ice_schema_equal(const struct ice_schema *a, const struct ice_schema *b)
{
        if (a->nfields != b->nfields || a->nident != b->nident)
                return false;
        for (int i = 0; i < a->nfields; i++) {
                const struct ice_field *x = &a->fields[i];
                const struct ice_field *y = &b->fields[i];

                if (x->id != y->id || x->required != y->required ||
                    !ice_type_eq(&x->type, &y->type))
                        return false;
                if (!x->name || !y->name ? x->name != y->name : strcmp(x->name, y->name) != 0)
                        return false;
        }
        for (int k = 0; k < a->nident; k++) {
                if (a->ident_ids[k] != b->ident_ids[k])
                        return false;
        }
        return true;
}

int ice_schema_find_name(const struct ice_schema *s, const char *name)
{
        for (int i = 0; s && name && i < s->nfields; i++) {
                if (s->fields[i].name && strcmp(s->fields[i].name, name) == 0)
                        return i;
        }
        return -1;
}

int ice_schema_find_id(const struct ice_schema *s, int id)
{
        for (int i = 0; s && i < s->nfields; i++) {
                if (s->fields[i].id == id)
                        return i;
        }
        return -1;
}

int ice_schema_max_id(const struct ice_schema *s)
{
        int max = 0;

        for (int i = 0; s && i < s->nfields; i++) {
                if (s->fields[i].id > max)
                        max = s->fields[i].id;
        }
        return max;
}

/* ---- evolution ------------------------------------------------------------ */

/* Working state: which field of cur each new column comes from, and which
 * fields of cur are already taken. */
struct evo_ctx {
        const struct ice_schema *cur;
        const struct zetl_schema *old;
        const struct zetl_schema *new;
        const struct zetl_schema_diff *diff;
        int *src;      /* new column -> index in cur, or -1 */
        bool *decided; /* new column matched (or known to be fresh) */
        bool *claimed; /* cur field taken */
        struct ice_evolution *out;
};

/* The unclaimed field of cur with that name, claimed for column j; -1 if none. */
static int claim_name(struct evo_ctx *x, int j, const char *name)
{
        int f = ice_schema_find_name(x->cur, name);

        if (f < 0 || x->claimed[f])
                return -1;
        x->claimed[f] = true;
        x->src[j] = f;
        return f;
}

/* Mark the evolution incompatible; the first reason is the one reported. */
static void set_reason(struct ice_evolution *out, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void set_reason(struct ice_evolution *out, const char *fmt, ...)
{
        va_list ap;

        out->incompatible = true;
        if (out->reason[0] != '\0')
                return;
        va_start(ap, fmt);
        vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
        va_end(ap);
}

/* Columns the diff matches to an old column (renamed or retyped) go first:
 * they own their old name. Then columns the diff does not mention (same name
 * as before), then adds. */
static void match_fields(struct evo_ctx *x)
{
        const struct zetl_schema_diff *d = x->diff;
        int nd = d ? d->n : 0;

        for (int k = 0; k < nd; k++) {
                const struct zetl_change *c = &d->changes[k];
                int j = c->new_col;

                if (c->old_col < 0 || j < 0 || j >= x->new->ncols || x->decided[j])
                        continue;
                x->decided[j] = true;
                if (c->old_col < x->old->ncols &&
                    claim_name(x, j, x->old->cols[c->old_col].name) >= 0)
                        continue;
                /* Already renamed in the table (the same change applied again). */
                claim_name(x, j, x->new->cols[j].name);
        }
        for (int k = 0; k < nd; k++) {
                const struct zetl_change *c = &d->changes[k];

                if (c->kind == ZETL_CHG_ADD && c->new_col >= 0 && c->new_col < x->new->ncols)
                        x->decided[c->new_col] = true;
        }
        for (int j = 0; j < x->new->ncols; j++) {
                if (!x->decided[j])
                        claim_name(x, j, x->new->cols[j].name);
        }
        for (int k = 0; k < nd; k++) {
                const struct zetl_change *c = &d->changes[k];
                int j = c->new_col;

                if (c->kind != ZETL_CHG_ADD || j < 0 || j >= x->new->ncols || x->src[j] >= 0)
                        continue;
                /* A column of the old shape had this name: the field that has it
                 * is that column's (dropped or renamed away), not this one. */
                if (zetl_schema_find(x->old, x->new->cols[j].name) >= 0)
                        continue;
                claim_name(x, j, x->new->cols[j].name);
        }
}

/* Type and id of new column j, given the field it comes from (or none). */
static int fill_field(struct evo_ctx *x, int j, int *last_id)
{
        const struct zetl_column *c = &x->new->cols[j];
        struct ice_field *nf = &x->out->schema->fields[j];
        const struct ice_field *of = x->src[j] >= 0 ? &x->cur->fields[x->src[j]] : NULL;
        char ot[40], nt[40];
        struct ice_type t;

        if (ice_type_from_zetl(c, &t))
                return ZETL_EINVAL;
        nf->name = strdup(c->name);
        if (!nf->name)
                return ZETL_ENOMEM;
        nf->required = c->key_pos > 0;
        nf->type = t;
        if (of && ice_type_promotable(&of->type, &t)) {
                nf->id = of->id;
        } else if (of && ice_type_promotable(&t, &of->type)) {
                /* Narrower at the source: every new value fits the wider type. */
                nf->id = of->id;
                nf->type = of->type;
        } else {
                if (of)
                        set_reason(x->out, "column \"%s\": %s -> %s cannot be evolved in place",
                                   c->name, ice_type_str(&of->type, ot, sizeof(ot)),
                                   ice_type_str(&t, nt, sizeof(nt)));
                nf->id = ++*last_id;
                of = NULL;
        }
        if (of && nf->required && !of->required)
                set_reason(x->out, "column \"%s\" becomes required", c->name);
        x->out->field_ids[j] = nf->id;
        return 0;
}

/* Identifier fields follow the key, in key order. The spec forbids float and
 * double identifier fields: with such a key the table gets none at all (a
 * partial key would be a different key). */
static int fill_ident(struct evo_ctx *x)
{
        struct ice_schema *s = x->out->schema;
        int n = x->new->nkeys;

        for (int k = 1; k <= n; k++) {
                int j = zetl_schema_key_col(x->new, k);
                enum ice_type_id id;

                if (j < 0)
                        return ZETL_EINVAL;
                id = s->fields[j].type.id;
                if (id == ICE_T_FLOAT || id == ICE_T_DOUBLE) {
                        s->nident = 0;
                        return 0;
                }
                s->ident_ids[k - 1] = s->fields[j].id;
        }
        s->nident = n;
        return 0;
}

static bool ident_same(const struct ice_schema *a, const struct ice_schema *b)
{
        if (a->nident != b->nident)
                return false;
        for (int k = 0; k < a->nident; k++) {
                if (a->ident_ids[k] != b->ident_ids[k])
                        return false;
        }
        return true;
}

static int evolve_fill(struct evo_ctx *x, int last_column_id)
{
        struct ice_evolution *out = x->out;
        int last = last_column_id;
        int rc;

        /* Ids already in the schema count even if last-column-id lags. */
        if (ice_schema_max_id(x->cur) > last)
                last = ice_schema_max_id(x->cur);
        match_fields(x);
        for (int j = 0; j < x->new->ncols; j++) {
                rc = fill_field(x, j, &last);
                if (rc)
                        return rc;
        }
        rc = fill_ident(x);
        if (rc)
                return rc;
        for (int k = 0; x->diff && k < x->diff->n; k++) {
                if (x->diff->changes[k].kind == ZETL_CHG_KEY)
                        set_reason(out, "primary key changed");
        }
        if (x->cur && !ident_same(x->cur, out->schema))
                set_reason(out, "identifier fields (the key) changed");
        out->last_column_id = last;
        out->schema->schema_id = x->cur ? x->cur->schema_id : 0;
        out->changed = !x->cur || !ice_schema_equal(x->cur, out->schema);
        return 0;
}

int ice_schema_evolve(const struct ice_schema *cur, int last_column_id,
                      const struct zetl_schema *old, const struct zetl_schema *new,
                      const struct zetl_schema_diff *diff, struct ice_evolution *out,
                      struct zetl_err *err)
{
        struct evo_ctx x = { .cur = cur, .old = old, .new = new, .diff = diff, .out = out };
        size_t ncur = cur ? (size_t)cur->nfields : 0;
        int rc;

        memset(out, 0, sizeof(*out));
        if (!new || (diff && !old))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "iceberg schema: a diff needs the schema it starts from");
        out->nfields = new->ncols;
        out->schema = ice_schema_new(new->ncols, new->nkeys);
        out->field_ids = calloc((size_t) new->ncols + 1, sizeof(int));
        x.src = malloc(((size_t) new->ncols + 1) * sizeof(int));
        x.decided = calloc((size_t) new->ncols + 1, sizeof(bool));
        x.claimed = calloc(ncur + 1, sizeof(bool));
        if (!out->schema || !out->field_ids || !x.src || !x.decided || !x.claimed) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                  "iceberg schema: out of memory");
                goto free_out;
        }
        for (int j = 0; j < new->ncols; j++)
                x.src[j] = -1;
        rc = evolve_fill(&x, last_column_id);
        if (rc == ZETL_ENOMEM)
                zetl_err_set(err, rc, ZETL_ERRC_FATAL, "iceberg schema: out of memory");
        else if (rc)
                zetl_err_set(err, rc, ZETL_ERRC_FATAL,
                             "iceberg schema: a column has a type or key position with no "
                             "Iceberg equivalent");
        if (rc)
                goto free_out;
        goto free_work;

free_out:
        ice_evolution_free(out);
free_work:
        free(x.claimed);
        free(x.decided);
        free(x.src);
        return rc;
}

void ice_evolution_free(struct ice_evolution *ev)
{
        if (!ev)
                return;
        ice_schema_free(ev->schema);
        free(ev->field_ids);
        ev->schema = NULL;
        ev->field_ids = NULL;
        ev->nfields = 0;
}

/* ---- JSON ------------------------------------------------------------------ */

static json_t *field_to_json(const struct ice_field *f)
{
        char t[40];

        return json_pack("{s:I, s:s, s:b, s:s}", "id", (json_int_t)f->id, "name",
                         f->name ? f->name : "", "required", f->required, "type",
                         ice_type_str(&f->type, t, sizeof(t)));
}

json_t *ice_schema_to_json(const struct ice_schema *s)
{
        json_t *o = json_object();
        json_t *fields = json_array();
        json_t *ids = NULL;

        if (!o || !fields)
                goto free_json;
        if (json_object_set_new(o, "type", json_string("struct")) ||
            json_object_set_new(o, "schema-id", json_integer(s->schema_id)))
                goto free_json;
        /* Java writes the key only when there is one; older readers choke on []. */
        if (s->nident > 0) {
                ids = json_array();
                if (!ids)
                        goto free_json;
                for (int k = 0; k < s->nident; k++) {
                        if (json_array_append_new(ids, json_integer(s->ident_ids[k])))
                                goto free_json;
                }
                if (json_object_set_new(o, "identifier-field-ids", ids)) {
                        ids = NULL;
                        goto free_json;
                }
                ids = NULL;
        }
        for (int i = 0; i < s->nfields; i++) {
                if (json_array_append_new(fields, field_to_json(&s->fields[i])))
                        goto free_json;
        }
        if (json_object_set_new(o, "fields", fields)) {
                fields = NULL;
                goto free_json;
        }
        return o;

free_json:
        json_decref(ids);
        json_decref(fields);
        json_decref(o);
        return NULL;
}

char *ice_schema_dumps(const struct ice_schema *s)
{
        json_t *j = ice_schema_to_json(s);
        char *str;

        if (!j)
                return NULL;
        str = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        return str;
}

static int bad(struct zetl_err *err, int code, const char *what, int i)
{
        if (i >= 0)
                return zetl_err_set(err, code, ZETL_ERRC_FATAL, "iceberg schema: field %d: %s",
                                    i + 1, what);
        return zetl_err_set(err, code, ZETL_ERRC_FATAL, "iceberg schema: %s", what);
}

static bool int_in(const json_t *v, json_int_t lo, json_int_t hi)
{
        return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static int field_from_json(const json_t *jf, struct ice_schema *s, int i, struct zetl_err *err)
{
        const json_t *id = json_object_get(jf, "id");
        const json_t *name = json_object_get(jf, "name");
        const json_t *req = json_object_get(jf, "required");
        const json_t *type = json_object_get(jf, "type");
        struct ice_field *f = &s->fields[i];
        char msg[160];

        if (!json_is_object(jf) || !int_in(id, 1, INT32_MAX) || !json_is_string(name) ||
            !json_is_boolean(req) || !type)
                return bad(err, ZETL_EPROTO, "needs an id, a name, required and a type", i);
        if (!json_is_string(type))
                return bad(err, ZETL_EUNSUPPORTED, "nested types are not supported", i);
        if (ice_type_parse(json_string_value(type), &f->type)) {
                snprintf(msg, sizeof(msg), "type \"%.100s\" is not supported",
                         json_string_value(type));
                return bad(err, ZETL_EUNSUPPORTED, msg, i);
        }
        f->id = (int)json_integer_value(id);
        f->required = json_is_true(req);
        f->name = strdup(json_string_value(name));
        if (!f->name)
                return bad(err, ZETL_ENOMEM, "out of memory", i);
        for (int k = 0; k < i; k++) {
                if (s->fields[k].id == f->id || strcmp(s->fields[k].name, f->name) == 0)
                        return bad(err, ZETL_EPROTO, "repeats the id or name of another field", i);
        }
        return 0;
}

static int ident_from_json(const json_t *ids, struct ice_schema *s, struct zetl_err *err)
{
        for (size_t k = 0; k < json_array_size(ids); k++) {
                const json_t *v = json_array_get(ids, k);

                if (!int_in(v, 1, INT32_MAX) ||
                    ice_schema_find_id(s, (int)json_integer_value(v)) < 0)
                        return bad(err, ZETL_EPROTO,
                                   "identifier-field-ids names a field that does not exist", -1);
                s->ident_ids[k] = (int)json_integer_value(v);
        }
        return 0;
}

int ice_schema_from_json(const json_t *j, struct ice_schema **out, struct zetl_err *err)
{
        const json_t *type = json_object_get(j, "type");
        const json_t *sid = json_object_get(j, "schema-id");
        const json_t *fields = json_object_get(j, "fields");
        const json_t *ids = json_object_get(j, "identifier-field-ids");
        struct ice_schema *s;
        int rc;

        *out = NULL;
        if (!json_is_object(j) || (type && !json_is_string(type)) ||
            (type && strcmp(json_string_value(type), "struct") != 0) ||
            !int_in(sid, 0, INT32_MAX) || !json_is_array(fields) || (ids && !json_is_array(ids)))
                return bad(err, ZETL_EPROTO,
                           "needs type \"struct\", a schema-id and an array of fields", -1);
        s = ice_schema_new((int)json_array_size(fields), ids ? (int)json_array_size(ids) : 0);
        if (!s)
                return bad(err, ZETL_ENOMEM, "out of memory", -1);
        s->schema_id = (int)json_integer_value(sid);
        for (size_t i = 0; i < json_array_size(fields); i++) {
                rc = field_from_json(json_array_get(fields, i), s, (int)i, err);
                if (rc)
                        goto free_schema;
        }
        rc = ident_from_json(ids, s, err);
        if (rc)
                goto free_schema;
        *out = s;
        return 0;

free_schema:
        ice_schema_free(s);
        return rc;
}

enum zetl_type ice_type_to_zetl(const struct ice_type *t)
{
        switch (t->id) {
        case ICE_T_BOOLEAN:
                return ZETL_T_BOOL;
        case ICE_T_INT:
                return ZETL_T_INT32;
        case ICE_T_LONG:
                return ZETL_T_INT64;
        case ICE_T_FLOAT:
                return ZETL_T_FLOAT32;
        case ICE_T_DOUBLE:
                return ZETL_T_FLOAT64;
        case ICE_T_DECIMAL:
                return ZETL_T_DECIMAL;
        case ICE_T_DATE:
                return ZETL_T_DATE;
        case ICE_T_TIME:
                return ZETL_T_TIME;
        case ICE_T_TIMESTAMP:
                return ZETL_T_TIMESTAMP;
        case ICE_T_TIMESTAMPTZ:
                return ZETL_T_TIMESTAMPTZ;
        case ICE_T_STRING:
                return ZETL_T_STRING;
        case ICE_T_UUID:
                return ZETL_T_UUID;
        case ICE_T_BINARY:
                return ZETL_T_BYTES;
        }
        return ZETL_T_BYTES;
}

int ice_dir_component(char *buf, size_t len, size_t *at, const char *name, size_t n)
{
        static const char hex[] = "0123456789ABCDEF";

        if (n == 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)name[i];
                bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '_' || c == '-' || c >= 0x80 ||
                            (c == '.' && i > 0);
                if (*at + 4 >= len)
                        return -1;
                if (keep) {
                        buf[(*at)++] = (char)c;
                } else {
                        buf[(*at)++] = '~';
                        buf[(*at)++] = hex[c >> 4];
                        buf[(*at)++] = hex[c & 15];
                }
        }
        buf[*at] = '\0';
        return 0;
}
