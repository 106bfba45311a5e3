/* The record of the last shape applied per table (see schema_store.h). */
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "schema_store.h"
#include "zetl/schema_json.h"

#define FILE_NAME "schemas.json"
#define FILE_MAX  ((size_t)256 << 20)

int zetl_schema_set_load(const char *idir, struct zetl_schema_set *set, struct zetl_err *err)
{
        char path[4096], *text = NULL;
        json_error_t jerr;
        json_t *o, *tables, *t;
        size_t len, i;
        int rc;

        memset(set, 0, sizeof(*set));
        snprintf(path, sizeof(path), "%s/%s", idir, FILE_NAME);
        rc = zetl_file_read(path, FILE_MAX, &text, &len, err);
        if (rc == ZETL_ENOTFOUND)
                return 0;
        if (rc)
                return rc;
        o = json_loadb(text, len, 0, &jerr);
        free(text);
        if (!o && json_error_code(&jerr) == json_error_out_of_memory)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "reading %s: out of memory",
                                    path);
        if (!o)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "%s:%d: %s", path, jerr.line,
                                    jerr.text);
        tables = json_object_get(o, "tables");
        json_array_foreach(tables, i, t)
        {
                struct zetl_schema *s;
                if ((rc = zetl_schema_from_json(t, &s, err))) {
                        zetl_err_prefix(err, "%s: ", path);
                        break;
                }
                rc = zetl_schema_set_put(set, s);
                zetl_schema_unref(s);
                if (rc) {
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                        break;
                }
        }
        json_decref(o);
        set->dirty = false;
        if (rc)
                zetl_schema_set_free(set);
        return rc;
}

int zetl_schema_set_save(const char *idir, struct zetl_schema_set *set, struct zetl_err *err)
{
        json_t *tables, *o;
        char *text;
        int rc;

        if (!set->dirty)
                return 0;
        /* Every table or none: a file missing one would forget its shape. */
        tables = json_array();
        for (int i = 0; tables && i < set->n; i++) {
                if (json_array_append_new(tables, zetl_schema_to_json(NULL, set->v[i], NULL))) {
                        json_decref(tables);
                        tables = NULL;
                }
        }
        o = tables ? json_pack("{s:o}", "tables", tables) : NULL;
        text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (!text)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        rc = zetl_file_write_atomic(idir, FILE_NAME, text, strlen(text), 0600, err);
        free(text);
        if (rc == 0)
                set->dirty = false;
        return rc;
}

const struct zetl_schema *zetl_schema_set_find(const struct zetl_schema_set *set,
                                               const struct zetl_table_id *id)
{
        for (int i = 0; i < set->n; i++)
                if (zetl_table_id_eq(&set->v[i]->id, id))
                        return set->v[i];
        return NULL;
}

int zetl_schema_set_put(struct zetl_schema_set *set, const struct zetl_schema *s)
{
        for (int i = 0; i < set->n; i++) {
                if (zetl_table_id_eq(&set->v[i]->id, &s->id)) {
                        zetl_schema_unref(set->v[i]);
                        set->v[i] = zetl_schema_ref(s);
                        set->dirty = true;
                        return 0;
                }
        }
        if (set->n == set->cap) {
                int ncap = set->cap ? set->cap * 2 : 16;
                struct zetl_schema **n = realloc(set->v, (size_t)ncap * sizeof(*n));
                if (!n)
                        return ZETL_ENOMEM;
                set->v = n;
                set->cap = ncap;
        }
        set->v[set->n++] = zetl_schema_ref(s);
        set->dirty = true;
        return 0;
}

void zetl_schema_set_free(struct zetl_schema_set *set)
{
        for (int i = 0; i < set->n; i++)
                zetl_schema_unref(set->v[i]);
        free(set->v);
        memset(set, 0, sizeof(*set));
}
