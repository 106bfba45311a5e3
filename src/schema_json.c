/* Schemas as JSON (see zetl/schema_json.h). */
#include <stdio.h>

#include "zetl/schema_json.h"

json_t *zetl_table_id_to_json(const struct zetl_table_id *id)
{
        return json_pack("[sss]", id->db, id->schema, id->table);
}

int zetl_table_id_from_json(json_t *v, struct zetl_table_id *id, struct zetl_err *err)
{
        const char *db, *sch, *t;

        if (json_unpack(v, "[sss]", &db, &sch, &t) || zetl_table_id_set(id, db, sch, t))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "\"table\" must be [db, schema, table]");
        return 0;
}

json_t *zetl_schema_to_json(const struct zetl_schema *old, const struct zetl_schema *s,
                            const struct zetl_schema_diff *d)
{
        json_t *cols = json_array();
        json_t *o = NULL, *chg = NULL;

        /* All or nothing: a schema missing a column or a change would be read
         * back as a different shape. */
        for (int i = 0; cols && i < s->ncols; i++) {
                const struct zetl_column *c = &s->cols[i];
                if (json_array_append_new(
                            cols, json_pack("{s:s,s:s,s:i,s:i,s:b,s:i,s:s?,s:I}", "name", c->name,
                                            "type", zetl_type_name(c->type), "precision",
                                            c->precision, "scale", c->scale, "nullable",
                                            c->nullable, "key", c->key_pos, "source_type",
                                            c->source_type, "source_id", (json_int_t)c->source_id)))
                        goto fail;
        }
        if (!cols)
                return NULL;
        o = json_pack("{s:o,s:I,s:O}", "table", zetl_table_id_to_json(&s->id), "version",
                      (json_int_t)s->version, "columns", cols);
        if (!o)
                goto fail;
        if (d) {
                if (!(chg = json_array()))
                        goto fail;
                for (int i = 0; i < d->n; i++) {
                        const struct zetl_change *c = &d->changes[i];
                        json_t *e =
                                json_pack("{s:s,s:b,s:s}", "kind", zetl_change_kind_name(c->kind),
                                          "compatible", c->compatible, "detail", c->detail);
                        /* The columns by name, so a reader can apply the change. */
                        if (!e ||
                            (c->new_col >= 0 &&
                             json_object_set_new(e, "column",
                                                 json_string(s->cols[c->new_col].name))) ||
                            (old && c->old_col >= 0 &&
                             json_object_set_new(e, "old_column",
                                                 json_string(old->cols[c->old_col].name)))) {
                                json_decref(e);
                                goto fail;
                        }
                        if (json_array_append_new(chg, e))
                                goto fail;
                }
                if (json_object_set_new(o, "changes", chg)) {
                        chg = NULL;
                        goto fail;
                }
                chg = NULL;
        }
        json_decref(cols);
        return o;
fail:
        json_decref(chg);
        json_decref(cols);
        json_decref(o);
        return NULL;
}

int zetl_schema_from_json(json_t *line, struct zetl_schema **out, struct zetl_err *err)
{
        struct zetl_table_id id;
        json_t *cols, *c;
        json_int_t version = 1;
        struct zetl_schema *s;
        size_t i;
        int rc;

        if ((rc = zetl_table_id_from_json(json_object_get(line, "table"), &id, err)))
                return rc;
        cols = json_object_get(line, "columns");
        if (!json_is_array(cols))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "schema line without \"columns\"");
        json_unpack(line, "{s?I}", "version", &version);
        if (!(s = zetl_schema_new(&id, (int)json_array_size(cols))))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        s->version = (uint32_t)version;
        json_array_foreach(cols, i, c)
        {
                struct zetl_column col = { .precision = 0, .scale = 0, .nullable = true };
                const char *name = NULL, *type = NULL, *stype = NULL;
                json_t *stype_v = NULL;
                int prec = 0, scale = 0, nullable = 1, key = 0;
                json_int_t sid = 0;
                if (json_unpack(c, "{s:s,s:s,s?i,s?i,s?b,s?i,s?o,s?I}", "name", &name, "type",
                                &type, "precision", &prec, "scale", &scale, "nullable", &nullable,
                                "key", &key, "source_type", &stype_v, "source_id", &sid) ||
                    zetl_type_parse(type, &col.type)) {
                        zetl_schema_unref(s);
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                            "column %zu of the schema is malformed", i + 1);
                }
                col.name = (char *)name;
                col.precision = prec;
                col.scale = scale;
                col.nullable = nullable;
                col.key_pos = key;
                stype = json_string_value(stype_v); /* null or absent: unknown */
                col.source_type = (char *)stype;
                col.source_id = (uint32_t)sid;
                if (zetl_schema_set_col(s, (int)i, &col)) {
                        zetl_schema_unref(s);
                        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                }
        }
        if ((rc = zetl_schema_finish(s, err))) {
                zetl_schema_unref(s);
                return rc;
        }
        *out = s;
        return 0;
}
