/*
 * Table schemas. A schema is one version of one table's shape. Once published
 * (handed to the core) it is immutable and shared by reference between the
 * source thread, the core and the sink thread: take a reference with
 * zetl_schema_ref, give it back with zetl_schema_unref.
 *
 * Each column may carry a source_id: a stable identity the source vouches for
 * (PostgreSQL's attnum, MySQL's column ordinal tracked through its DDL
 * history). When both versions carry ids, a column whose name changed but
 * whose id did not is a rename; without ids a rename cannot be told from a
 * drop and an add, and the diff reports the latter.
 */
#ifndef ZETL_SCHEMA_H
#define ZETL_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

#include "zetl/err.h"
#include "zetl/types.h"

#define ZETL_NAME_MAX 256 /* bytes of one identifier part, NUL included */

/* database.schema.table; schema is "" for MySQL, where database is the schema. */
struct zetl_table_id {
        char db[ZETL_NAME_MAX];
        char schema[ZETL_NAME_MAX];
        char table[ZETL_NAME_MAX];
};

struct zetl_column {
        char *name;
        enum zetl_type type;
        /* decimal: precision (0 = unconstrained) and scale (-1 = unknown);
         * string: max length in characters (0 = unbounded); time and
         * timestamps: fractional digits (6 when unknown). */
        int32_t precision;
        int32_t scale;
        bool nullable;
        int key_pos;        /* 0: not in the primary key; 1..n: position in it */
        uint32_t source_id; /* 0: unknown */
        char *source_type;  /* the source's own type text, e.g. "varchar(20)"; may be NULL */
};

struct zetl_schema {
        struct zetl_table_id id;
        uint32_t version; /* 1, 2, ...: one per shape the table has had */
        int ncols;
        struct zetl_column *cols;
        int nkeys; /* number of columns with key_pos > 0 */
        int refs;  /* managed by zetl_schema_ref/unref (atomically) */
};

/* Allocate an empty schema (refs = 1) for id, with room for ncols columns that
 * the caller fills with zetl_schema_set_col. Returns NULL when out of memory. */
struct zetl_schema *zetl_schema_new(const struct zetl_table_id *id, int ncols);
/* Fill column i (copies name and source_type). Returns 0 or ZETL_ENOMEM. */
int zetl_schema_set_col(struct zetl_schema *s, int i, const struct zetl_column *c);
/* Recount keys and check the shape: unique non-empty names, key positions
 * 1..nkeys each used once. Call once after filling. Returns 0 or ZETL_EINVAL. */
int zetl_schema_finish(struct zetl_schema *s, struct zetl_err *err);
/* Deep copy with refs = 1 (for building the next version). */
struct zetl_schema *zetl_schema_clone(const struct zetl_schema *s);
struct zetl_schema *zetl_schema_ref(const struct zetl_schema *s);
void zetl_schema_unref(const struct zetl_schema *s);
/* Index of the column named name, or -1. */
int zetl_schema_find(const struct zetl_schema *s, const char *name);
/* Index of the column that is key_pos k (1-based), or -1. */
int zetl_schema_key_col(const struct zetl_schema *s, int k);
/* True when both shapes are the same (names, types, modifiers, keys). */
bool zetl_schema_same_shape(const struct zetl_schema *a, const struct zetl_schema *b);

/* "db.schema.table" or "db.table" into buf (always NUL-terminated). */
const char *zetl_table_id_str(const struct zetl_table_id *id, char *buf, size_t len);
bool zetl_table_id_eq(const struct zetl_table_id *a, const struct zetl_table_id *b);
/* Fill id from its parts (NULL schema means ""). Returns 0 or ZETL_EINVAL if a part is too long. */
int zetl_table_id_set(struct zetl_table_id *id, const char *db, const char *schema,
                      const char *table);

/* ---- schema evolution ------------------------------------------------- */

enum zetl_change_kind {
        ZETL_CHG_ADD,      /* new column (new_col) */
        ZETL_CHG_DROP,     /* column gone (old_col) */
        ZETL_CHG_RENAME,   /* same column, new name (old_col, new_col) */
        ZETL_CHG_WIDEN,    /* same column, wider type: int16→32→64, float32→64,
                              decimal precision up (same scale), varchar length up,
                              fractional seconds up */
        ZETL_CHG_NARROW,   /* same column, narrower type at the source: the target keeps
                              the wider type, every new value fits it */
        ZETL_CHG_NULLABLE, /* NOT NULL dropped: the target must accept nulls */
        ZETL_CHG_NOTNULL,  /* NOT NULL added: nothing to do in the target */
        ZETL_CHG_TYPE,     /* incompatible type change: the table needs a resync */
        ZETL_CHG_KEY,      /* primary key changed (columns or order): resync */
        ZETL_CHG_REORDER,  /* column order changed: targets match by name/id */
};

struct zetl_change {
        enum zetl_change_kind kind;
        int old_col;     /* index in the old schema, or -1 */
        int new_col;     /* index in the new schema, or -1 */
        bool compatible; /* false: the sink cannot evolve in place, resync the table */
        char detail[160];
};

struct zetl_schema_diff {
        int n;
        struct zetl_change *changes;
        bool compatible; /* all changes compatible */
};

/* Compare two versions of one table. Fills *out (free with
 * zetl_schema_diff_free). Returns 0 or ZETL_ENOMEM. Changes are ordered:
 * drops, renames, type and nullability changes, adds, then key and order. */
int zetl_schema_diff(const struct zetl_schema *old, const struct zetl_schema *new,
                     struct zetl_schema_diff *out, struct zetl_err *err);
void zetl_schema_diff_free(struct zetl_schema_diff *d);
const char *zetl_change_kind_name(enum zetl_change_kind k);

#endif
