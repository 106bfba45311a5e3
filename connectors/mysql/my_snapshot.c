/*
 * my_snapshot (see my_snapshot.h): tables described from information_schema
 * as their binlog TABLE_MAP would describe them, and read with
 * mysql_use_result into batches whose cells match the binlog decoder's.
 *
 * Why a synthetic TABLE_MAP: my_column_map is the one place that turns a
 * MySQL column into a logical type. Writing the event MariaDB would write
 * (the format is my_rows.c's reading of it) and parsing it with
 * my_table_map_parse gives the snapshot the very struct the stream works
 * from, so types, precision, scale and source_type cannot differ. The
 * metadata whose column lists depend on the server's flavor (signedness,
 * character sets) is added with my_table_map_set_col instead of being
 * encoded, so this file never restates which columns those lists cover.
 *
 * Values are read from the text protocol, column by column, with the
 * decoder's rules restated for text (zero dates to NULL and so on); the
 * integration test compares both paths cell for cell on every type.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "my_snapshot.h"
#include "zetl/value.h"

#define DEFAULT_BATCH_ROWS 4096
#define USEC_PER_SEC       INT64_C(1000000)
/* The session for reading: UTC (TIMESTAMP as the binlog's seconds) and at least
 * an hour of net_write_timeout, since emit may block on a full queue downstream. */
#define SESSION_SQL                                                                                \
        "SET SESSION time_zone = '+00:00', SESSION net_write_timeout = "                           \
        "GREATEST(@@SESSION.net_write_timeout, 3600)"

/* ---- a growable byte buffer ----------------------------------------------- */

struct buf {
        char *p;
        size_t len, cap;
        bool oom;
};

static void buf_add(struct buf *b, const void *s, size_t n)
{
        if (b->oom)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *p = realloc(b->p, cap);
                if (!p) {
                        b->oom = true;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
        buf_add(b, s, strlen(s));
}

static void buf_byte(struct buf *b, uint8_t c)
{
        buf_add(b, &c, 1);
}

/* MySQL's length-encoded integer, as a TABLE_MAP writes counts and lengths. */
static void buf_packed(struct buf *b, uint64_t v)
{
        uint8_t t[9];
        size_t n;

        if (v < 251) {
                buf_byte(b, (uint8_t)v);
                return;
        }
        if (v < 65536) {
                t[0] = 252;
                n = 2;
        } else if (v < 16777216) {
                t[0] = 253;
                n = 3;
        } else {
                t[0] = 254;
                n = 8;
        }
        for (size_t i = 0; i < n; i++)
                t[1 + i] = (uint8_t)(v >> (8 * i));
        buf_add(b, t, n + 1);
}

/* An identifier in backticks, backticks doubled. */
static void buf_ident(struct buf *b, const char *s)
{
        buf_byte(b, '`');
        for (; *s; s++) {
                if (*s == '`')
                        buf_byte(b, '`');
                buf_byte(b, (uint8_t)*s);
        }
        buf_byte(b, '`');
}

/* A string literal, escaped for the connection's character set. */
static void buf_literal(struct buf *b, struct st_mysql *m, const char *s)
{
        size_t n = strlen(s);
        char *q = malloc(2 * n + 1);

        if (!q) {
                b->oom = true;
                return;
        }
        n = mysql_real_escape_string(m, q, s, (unsigned long)n);
        buf_byte(b, '\'');
        buf_add(b, q, n);
        buf_byte(b, '\'');
        free(q);
}

/* ---- information_schema ------------------------------------------------------- */

/* One row of information_schema.COLUMNS, owned copies. */
struct is_col {
        char *name, *data_type, *column_type;
        bool nullable;
        uint64_t octets;    /* CHARACTER_OCTET_LENGTH */
        int precision;      /* NUMERIC_PRECISION */
        int scale;          /* NUMERIC_SCALE */
        int fsp;            /* DATETIME_PRECISION */
        uint32_t collation; /* COLLATIONS.ID, 0 for none */
        int key_pos;
        char **labels; /* ENUM/SET */
        int nlabels;
};

static void is_cols_free(struct is_col *c, int n)
{
        for (int i = 0; c && i < n; i++) {
                free(c[i].name);
                free(c[i].data_type);
                free(c[i].column_type);
                for (int k = 0; k < c[i].nlabels; k++)
                        free(c[i].labels[k]);
                free(c[i].labels);
        }
        free(c);
}

static char *dup_field(const char *s)
{
        return strdup(s ? s : "");
}

static int field_int(const char *s)
{
        return s ? (int)strtol(s, NULL, 10) : 0;
}

/* Append a copy of s to c's labels. */
static int add_label(struct is_col *c, char *s)
{
        char **l = realloc(c->labels, ((size_t)c->nlabels + 1) * sizeof(*l));

        if (!l)
                return -1;
        c->labels = l;
        c->labels[c->nlabels++] = s;
        return 0;
}

/*
 * The labels of an ENUM or SET from its COLUMN_TYPE: enum('a','it''s','b\\c'),
 * quotes doubled and backslash escapes as MariaDB's append_unescaped writes
 * them. Returns 0, -1 for text of another shape, -2 out of memory.
 */
static int parse_labels(const char *ct, struct is_col *c)
{
        const char *p = strchr(ct, '(');

        if (!p)
                return -1;
        for (p++; *p == '\''; p++) {
                struct buf lb = { 0 };
                buf_add(&lb, "", 0);
                for (p++; *p && !(p[0] == '\'' && p[1] != '\''); p++) {
                        char ch = *p;
                        if (p[0] == '\'' || (p[0] == '\\' && p[1])) {
                                ch = *++p;
                                if (p[-1] == '\\')
                                        ch = ch == 'n'   ? '\n'
                                             : ch == 'r' ? '\r'
                                             : ch == 't' ? '\t'
                                             : ch == '0' ? '\0'
                                             : ch == 'Z' ? '\032'
                                                         : ch;
                        }
                        buf_byte(&lb, (uint8_t)ch);
                }
                if (lb.oom || add_label(c, lb.p)) {
                        free(lb.p);
                        return -2;
                }
                if (*p != '\'')
                        return -1;
                if (p[1] == ',')
                        p++;
        }
        return *p == ')' ? 0 : -1;
}

/* Run q and keep its (small) result; NULL with err filled on failure. */
static MYSQL_RES *query_all(struct st_mysql *m, const char *q, const char *what,
                            struct zetl_err *err)
{
        MYSQL_RES *res;

        if (mysql_real_query(m, q, (unsigned long)strlen(q)) || !(res = mysql_store_result(m))) {
                my_conn_error(m, what, err);
                return NULL;
        }
        return res;
}

static int oom(struct zetl_err *err)
{
        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
}

/* information_schema.COLUMNS of db.table in ordinal order, with collation ids. */
static int read_columns(struct st_mysql *m, const char *db, const char *table, struct is_col **out,
                        int *n, struct zetl_err *err)
{
        struct buf q = { 0 };
        MYSQL_RES *res = NULL;
        MYSQL_ROW row;
        struct is_col *c = NULL;
        int rc = 0, k = 0;

        buf_str(&q, "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.IS_NULLABLE, "
                    "c.CHARACTER_OCTET_LENGTH, c.NUMERIC_PRECISION, c.NUMERIC_SCALE, "
                    "c.DATETIME_PRECISION, k.ID "
                    "FROM information_schema.COLUMNS c LEFT JOIN information_schema.COLLATIONS k "
                    "ON k.COLLATION_NAME = c.COLLATION_NAME WHERE c.TABLE_SCHEMA = ");
        buf_literal(&q, m, db);
        buf_str(&q, " AND c.TABLE_NAME = ");
        buf_literal(&q, m, table);
        buf_str(&q, " ORDER BY c.ORDINAL_POSITION");
        if (q.oom) {
                rc = oom(err);
                goto out;
        }
        if (!(res = query_all(m, q.p, "reading information_schema.COLUMNS", err))) {
                rc = err ? err->code : ZETL_EIO;
                goto out;
        }
        uint64_t nrows = mysql_num_rows(res);
        if (nrows == 0) {
                rc = zetl_err_set(err, ZETL_ENOTFOUND, ZETL_ERRC_CONFIG,
                                  "MySQL table %s.%s does not exist (or is not visible to this "
                                  "user)",
                                  db, table);
                goto out;
        }
        if (!(c = calloc((size_t)nrows, sizeof(*c)))) {
                rc = oom(err);
                goto out;
        }
        while ((row = mysql_fetch_row(res)) && k < (int)nrows) {
                struct is_col *x = &c[k++];
                x->name = dup_field(row[0]);
                x->data_type = dup_field(row[1]);
                x->column_type = dup_field(row[2]);
                if (!x->name || !x->data_type || !x->column_type) {
                        rc = oom(err);
                        goto out;
                }
                for (char *t = x->data_type; *t; t++)
                        if (*t >= 'A' && *t <= 'Z')
                                *t = (char)(*t - 'A' + 'a');
                x->nullable = row[3] && strcmp(row[3], "YES") == 0;
                x->octets = row[4] ? strtoull(row[4], NULL, 10) : 0;
                x->precision = field_int(row[5]);
                x->scale = field_int(row[6]);
                x->fsp = field_int(row[7]);
                x->collation = row[8] ? (uint32_t)strtoul(row[8], NULL, 10) : 0;
        }
out:
        if (res)
                mysql_free_result(res);
        free(q.p);
        if (rc) {
                is_cols_free(c, k);
                c = NULL;
                k = 0;
        }
        *out = c;
        *n = k;
        return rc;
}

/* The primary key's columns in key order, into key_pos. */
static int read_key(struct st_mysql *m, const char *db, const char *table, struct is_col *c, int n,
                    struct zetl_err *err)
{
        struct buf q = { 0 };
        MYSQL_RES *res = NULL;
        MYSQL_ROW row;
        int rc = 0, pos = 0;

        buf_str(&q, "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
                    "WHERE CONSTRAINT_NAME = 'PRIMARY' AND TABLE_SCHEMA = ");
        buf_literal(&q, m, db);
        buf_str(&q, " AND TABLE_NAME = ");
        buf_literal(&q, m, table);
        buf_str(&q, " ORDER BY ORDINAL_POSITION");
        if (q.oom) {
                rc = oom(err);
                goto out;
        }
        if (!(res = query_all(m, q.p, "reading information_schema.KEY_COLUMN_USAGE", err))) {
                rc = err ? err->code : ZETL_EIO;
                goto out;
        }
        while ((row = mysql_fetch_row(res))) {
                pos++;
                for (int i = 0; i < n; i++)
                        if (row[0] && strcmp(row[0], c[i].name) == 0)
                                c[i].key_pos = pos;
        }
out:
        if (res)
                mysql_free_result(res);
        free(q.p);
        return rc;
}

static const char *const geometry_types[] = {
        "geometry",        "point",        "linestring",         "polygon", "multipoint",
        "multilinestring", "multipolygon", "geometrycollection", NULL,
};

/* Bytes of a SET of n labels: (n + 7) / 8, with 5 to 8 stored in 8. */
static uint8_t set_pack_len(int n)
{
        int b = (n + 7) / 8;

        return (uint8_t)(b > 4 ? 8 : b);
}

/*
 * A column's type byte and metadata as a TABLE_MAP writes them (my_rows.c's
 * col_meta reads them back). Returns 0, or -1 for a type without a binlog
 * reading.
 */
static int col_type_meta(const struct is_col *c, enum my_flavor flavor, struct buf *types,
                         struct buf *meta, int *geometry)
{
        static const struct {
                const char *name;
                uint8_t type;
        } simple[] = {
                { "tinyint", MY_T_TINY }, { "smallint", MY_T_SHORT }, { "mediumint", MY_T_INT24 },
                { "int", MY_T_LONG },     { "integer", MY_T_LONG },   { "bigint", MY_T_LONGLONG },
                { "date", MY_T_DATE },    { "year", MY_T_YEAR },
        };
        static const char *const blobs[][2] = {
                { "tinyblob", "tinytext" },
                { "blob", "text" },
                { "mediumblob", "mediumtext" },
                { "longblob", "longtext" },
        };
        const char *t = c->data_type;
        uint8_t m2[2];

        *geometry = -1;
        for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
                if (strcmp(t, simple[i].name) == 0) {
                        buf_byte(types, simple[i].type);
                        return 0;
                }
        }
        for (int i = 0; i < 4; i++) {
                if (strcmp(t, blobs[i][0]) == 0 || strcmp(t, blobs[i][1]) == 0) {
                        buf_byte(types, MY_T_BLOB);
                        buf_byte(meta, (uint8_t)(i + 1));
                        return 0;
                }
        }
        for (int i = 0; geometry_types[i]; i++) {
                if (strcmp(t, geometry_types[i]) == 0) {
                        buf_byte(types, MY_T_GEOMETRY);
                        buf_byte(meta, 4);
                        *geometry = i;
                        return 0;
                }
        }
        if (strcmp(t, "float") == 0 || strcmp(t, "double") == 0 || strcmp(t, "real") == 0) {
                bool f = t[0] == 'f';
                buf_byte(types, f ? MY_T_FLOAT : MY_T_DOUBLE);
                buf_byte(meta, f ? 4 : 8);
        } else if (strcmp(t, "decimal") == 0 || strcmp(t, "numeric") == 0) {
                buf_byte(types, MY_T_NEWDECIMAL);
                buf_byte(meta, (uint8_t)c->precision);
                buf_byte(meta, (uint8_t)c->scale);
        } else if (strcmp(t, "time") == 0 || strcmp(t, "datetime") == 0 ||
                   strcmp(t, "timestamp") == 0) {
                buf_byte(types, strcmp(t, "time") == 0       ? MY_T_TIME2
                                : strcmp(t, "datetime") == 0 ? MY_T_DATETIME2
                                                             : MY_T_TIMESTAMP2);
                buf_byte(meta, (uint8_t)c->fsp);
        } else if (strcmp(t, "varchar") == 0 || strcmp(t, "varbinary") == 0) {
                if (c->octets > 65535)
                        return -1;
                buf_byte(types, MY_T_VARCHAR);
                buf_byte(meta, (uint8_t)(c->octets & 0xff));
                buf_byte(meta, (uint8_t)(c->octets >> 8));
        } else if (strcmp(t, "char") == 0 || strcmp(t, "binary") == 0) {
                /* Bits 8-9 of the length go, inverted, into bits 4-5 of the real type. */
                if (c->octets > 1023)
                        return -1;
                buf_byte(types, MY_T_STRING);
                m2[0] = (uint8_t)((MY_T_STRING & ~0x30) | (0x30 ^ ((c->octets >> 4) & 0x30)));
                m2[1] = (uint8_t)(c->octets & 0xff);
                buf_add(meta, m2, 2);
        } else if (strcmp(t, "enum") == 0 || strcmp(t, "set") == 0) {
                buf_byte(types, MY_T_STRING);
                buf_byte(meta, t[0] == 'e' ? MY_T_ENUM : MY_T_SET);
                buf_byte(meta, t[0] == 'e' ? (c->nlabels > 255 ? 2 : 1) : set_pack_len(c->nlabels));
        } else if (strcmp(t, "bit") == 0) {
                if (c->precision < 1 || c->precision > 64)
                        return -1;
                buf_byte(types, MY_T_BIT);
                buf_byte(meta, (uint8_t)(c->precision % 8));
                buf_byte(meta, (uint8_t)(c->precision / 8));
        } else if (strcmp(t, "json") == 0 && flavor == MY_FLAVOR_MYSQL) {
                buf_byte(types, MY_T_JSON);
                buf_byte(meta, 4);
        } else {
                return -1;
        }
        return 0;
}

static bool is_binary_type(const char *t)
{
        return strcmp(t, "binary") == 0 || strcmp(t, "varbinary") == 0 || strstr(t, "blob");
}

/* Build the TABLE_MAP event body of the columns c[0..n) and parse it into tm. */
static int synth_table_map(const char *db, const char *table, enum my_flavor flavor,
                           struct is_col *c, int n, struct my_table_map *tm, struct zetl_err *err)
{
        struct buf ev = { 0 }, types = { 0 }, meta = { 0 }, names = { 0 };
        struct buf geo = { 0 }, key = { 0 };
        struct my_rows_fmt fmt = { .flavor = flavor, .table_id_len = 6 };
        uint8_t *nulls = calloc(((size_t)n + 7) / 8 + 1, 1);
        size_t dl = strlen(db), tl = strlen(table);
        int rc = 0, g;

        if (!nulls) {
                rc = oom(err);
                goto out;
        }
        if (dl > 255 || tl > 255) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "name too long: %s.%s", db,
                                  table);
                goto out;
        }
        for (int i = 0; i < n; i++) {
                if (col_type_meta(&c[i], flavor, &types, &meta, &g)) {
                        rc = zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_CONFIG,
                                          "column %s.%s.%s: MySQL type %s is not supported", db,
                                          table, c[i].name, c[i].column_type);
                        goto out;
                }
                if (g >= 0)
                        buf_packed(&geo, (uint64_t)g);
                if (c[i].nullable)
                        nulls[i / 8] |= (uint8_t)(1u << (i % 8));
                buf_packed(&names, strlen(c[i].name));
                buf_str(&names, c[i].name);
        }
        for (int k = 1; k <= n; k++)
                for (int i = 0; i < n; i++)
                        if (c[i].key_pos == k)
                                buf_packed(&key, (uint64_t)i);
        static const uint8_t zero8[8];
        buf_add(&ev, zero8, 8); /* table id (6 bytes), flags (2) */
        buf_byte(&ev, (uint8_t)dl);
        buf_add(&ev, db, dl + 1);
        buf_byte(&ev, (uint8_t)tl);
        buf_add(&ev, table, tl + 1);
        buf_packed(&ev, (uint64_t)n);
        buf_add(&ev, types.p, types.len);
        buf_packed(&ev, meta.len);
        buf_add(&ev, meta.p ? meta.p : "", meta.len);
        buf_add(&ev, nulls, ((size_t)n + 7) / 8);
        /* Optional metadata: COLUMN_NAME (4), GEOMETRY_TYPE (7), SIMPLE_PRIMARY_KEY (8). */
        buf_byte(&ev, 4);
        buf_packed(&ev, names.len);
        buf_add(&ev, names.p, names.len);
        if (geo.len) {
                buf_byte(&ev, 7);
                buf_packed(&ev, geo.len);
                buf_add(&ev, geo.p, geo.len);
        }
        if (key.len) {
                buf_byte(&ev, 8);
                buf_packed(&ev, key.len);
                buf_add(&ev, key.p, key.len);
        }
        if (ev.oom || types.oom || meta.oom || names.oom || geo.oom || key.oom) {
                rc = oom(err);
                goto out;
        }
        if ((rc = my_table_map_parse((const uint8_t *)ev.p, ev.len, &fmt, tm, err)))
                goto out;
        for (int i = 0; i < n; i++) {
                bool binary =
                        is_binary_type(c[i].data_type) || tm->cols[i].real_type == MY_T_GEOMETRY;
                struct my_col_info info = {
                        .is_unsigned = strstr(c[i].column_type, "unsigned") ? 1 : 0,
                        .collation = binary ? MY_COLLATION_BINARY : c[i].collation,
                        .key_pos = -1,
                        .labels = (const char *const *)c[i].labels,
                        .nlabels = c[i].nlabels,
                };
                if ((rc = my_table_map_set_col(tm, i, &info, err)))
                        goto out;
        }
out:
        free(nulls);
        free(ev.p);
        free(types.p);
        free(meta.p);
        free(names.p);
        free(geo.p);
        free(key.p);
        return rc;
}

int my_snapshot_describe(struct st_mysql *m, enum my_flavor flavor, const char *db,
                         const char *table, struct my_table_map *tm, struct zetl_err *err)
{
        struct is_col *c = NULL;
        int n = 0, rc;

        memset(tm, 0, sizeof(*tm));
        if ((rc = read_columns(m, db, table, &c, &n, err)) ||
            (rc = read_key(m, db, table, c, n, err)))
                goto out;
        for (int i = 0; i < n; i++) {
                if (strcmp(c[i].data_type, "enum") && strcmp(c[i].data_type, "set"))
                        continue;
                int r = parse_labels(c[i].column_type, &c[i]);
                if (r == -2) {
                        rc = oom(err);
                        goto out;
                }
                if (r) {
                        rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                          "column %s.%s.%s: cannot read the labels of %s", db,
                                          table, c[i].name, c[i].column_type);
                        goto out;
                }
        }
        rc = synth_table_map(db, table, flavor, c, n, tm, err);
out:
        is_cols_free(c, n);
        return rc;
}

int my_snapshot_schema(const struct my_table_map *tm, struct zetl_schema **out,
                       struct zetl_err *err)
{
        struct zetl_table_id id;
        struct zetl_schema *s = NULL;
        struct zetl_column col;
        int rc;

        *out = NULL;
        if (zetl_table_id_set(&id, tm->db ? tm->db : "", "", tm->table ? tm->table : ""))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "name too long: %s.%s",
                                    tm->db, tm->table);
        if (!(s = zetl_schema_new(&id, tm->ncols)))
                return oom(err);
        s->version = 1;
        for (int i = 0; i < tm->ncols; i++) {
                if ((rc = my_column_map(tm, i, &col, err)))
                        goto fail;
                if (!col.name) {
                        rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                          "MySQL %s.%s: column %d has no name", tm->db, tm->table,
                                          i + 1);
                        goto fail;
                }
                if (zetl_schema_set_col(s, i, &col)) {
                        rc = oom(err);
                        goto fail;
                }
        }
        if ((rc = zetl_schema_finish(s, err)))
                goto fail;
        *out = s;
        return 0;
fail:
        zetl_schema_unref(s);
        return rc;
}

/* ---- reading rows -------------------------------------------------------------- */

struct rd {
        struct zetl_batch *b;
        const struct my_table_map *tm;
        struct zetl_err *err;
};

static int val_fail(const struct rd *r, int ci, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* One message for every value failure, worded as the decoder's. */
static int val_fail(const struct rd *r, int ci, int code, const char *fmt, ...)
{
        const struct my_col *c = &r->tm->cols[ci];
        char why[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        return zetl_err_set(r->err, code, ZETL_ERRC_FATAL, "MySQL %s.%s column %s (%s): %s",
                            r->tm->db, r->tm->table, c->name ? c->name : "?", c->type_text, why);
}

static enum zetl_type col_type(const struct rd *r, int ci)
{
        return r->b->schema->cols[ci].type;
}

static int mismatch(const struct rd *r, int ci)
{
        return val_fail(r, ci, ZETL_EINVAL, "cannot be stored as %s",
                        zetl_type_name(col_type(r, ci)));
}

static int bad_text(const struct rd *r, int ci, const char *v, size_t n)
{
        return val_fail(r, ci, ZETL_EPROTO, "cannot read the value '%.*s'", (int)(n > 64 ? 64 : n),
                        v);
}

/* Digits at *p (at least one), into *out; false on none or on overflow. */
static bool rd_uint(const char **p, const char *end, uint64_t *out)
{
        const char *q = *p;
        uint64_t v = 0;

        if (q >= end || *q < '0' || *q > '9')
                return false;
        for (; q < end && *q >= '0' && *q <= '9'; q++) {
                uint64_t dg = (uint64_t)(*q - '0');
                if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && dg > UINT64_MAX % 10))
                        return false;
                v = v * 10 + dg;
        }
        *p = q;
        *out = v;
        return true;
}

static bool rd_char(const char **p, const char *end, char c)
{
        if (*p >= end || **p != c)
                return false;
        (*p)++;
        return true;
}

/* An optional fraction ".ddd" in µs (digits past the sixth ignored: never sent). */
static bool rd_frac(const char **p, const char *end, int64_t *usec)
{
        int64_t v = 0;
        int k = 0;

        *usec = 0;
        if (!rd_char(p, end, '.'))
                return true;
        if (*p >= end || **p < '0' || **p > '9')
                return false;
        for (; *p < end && **p >= '0' && **p <= '9'; (*p)++, k++)
                if (k < 6)
                        v = v * 10 + (**p - '0');
        for (; k < 6; k++)
                v *= 10;
        *usec = v;
        return true;
}

/* An integer into an int16/32/64, decimal or string column, as the decoder's put_int. */
static int put_int(struct rd *r, int ci, bool neg, uint64_t mag)
{
        enum zetl_type t = col_type(r, ci);
        uint64_t lim;
        char buf[32];

        switch (t) {
        case ZETL_T_INT16:
                lim = INT16_MAX;
                break;
        case ZETL_T_INT32:
                lim = INT32_MAX;
                break;
        case ZETL_T_INT64:
                lim = INT64_MAX;
                break;
        case ZETL_T_DECIMAL:
        case ZETL_T_STRING: {
                int n = snprintf(buf, sizeof(buf), "%s%" PRIu64, neg && mag ? "-" : "", mag);
                return zetl_batch_set_var(r->b, ci, buf, (size_t)n, r->err);
        }
        default:
                return mismatch(r, ci);
        }
        if (mag > lim + neg)
                return val_fail(r, ci, ZETL_EUNSUPPORTED, "%s%" PRIu64 " does not fit %s",
                                neg ? "-" : "", mag, zetl_type_name(t));
        int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        if (t == ZETL_T_INT16)
                zetl_batch_set_i16(r->b, ci, (int16_t)v);
        else if (t == ZETL_T_INT32)
                zetl_batch_set_i32(r->b, ci, (int32_t)v);
        else
                zetl_batch_set_i64(r->b, ci, v);
        return 0;
}

static int put_integer(struct rd *r, int ci, const char *v, size_t n)
{
        const char *p = v, *end = v + n;
        bool neg = rd_char(&p, end, '-');
        uint64_t mag;

        if (!rd_uint(&p, end, &mag) || p != end)
                return bad_text(r, ci, v, n);
        /* YEAR reads "0000" for the zero year, as the decoder's 0. */
        return put_int(r, ci, neg, mag);
}

static int put_float(struct rd *r, int ci, const char *v, size_t n)
{
        enum zetl_type t = col_type(r, ci);
        char buf[64], *end;
        double x;

        if (n >= sizeof(buf))
                return bad_text(r, ci, v, n);
        memcpy(buf, v, n);
        buf[n] = '\0';
        errno = 0;
        x = strtod(buf, &end);
        if (end != buf + n || n == 0)
                return bad_text(r, ci, v, n);
        if (r->tm->cols[ci].real_type == MY_T_FLOAT) {
                /* The double read is exactly the FLOAT's value (see the header). */
                float f = (float)x;
                if (t == ZETL_T_FLOAT32)
                        zetl_batch_set_f32(r->b, ci, f);
                else if (t == ZETL_T_FLOAT64)
                        zetl_batch_set_f64(r->b, ci, f);
                else
                        return mismatch(r, ci);
                return 0;
        }
        if (t != ZETL_T_FLOAT64)
                return mismatch(r, ci);
        zetl_batch_set_f64(r->b, ci, x);
        return 0;
}

/* DECIMAL text made canonical: ZEROFILL's leading zeros go, one stays before the point. */
static int put_decimal(struct rd *r, int ci, const char *v, size_t n)
{
        enum zetl_type t = col_type(r, ci);
        const char *p = v, *end = v + n;
        char buf[MY_DECIMAL_TEXT_MAX + 8];
        size_t k = 0;
        bool zero = true;

        if (t != ZETL_T_DECIMAL && t != ZETL_T_STRING)
                return mismatch(r, ci);
        if (n > MY_DECIMAL_TEXT_MAX + 4)
                return bad_text(r, ci, v, n);
        if (rd_char(&p, end, '-'))
                buf[k++] = '-';
        while (end - p > 1 && p[0] == '0' && p[1] >= '0' && p[1] <= '9')
                p++;
        for (const char *q = p; q < end; q++) {
                if (*q >= '1' && *q <= '9')
                        zero = false;
                else if (*q != '0' && *q != '.')
                        return bad_text(r, ci, v, n);
        }
        if (zero)
                k = 0; /* no "-0.00" */
        memcpy(buf + k, p, (size_t)(end - p));
        k += (size_t)(end - p);
        if (!zetl_decimal_valid(buf, k))
                return bad_text(r, ci, v, n);
        return zetl_batch_set_var(r->b, ci, buf, k, r->err);
}

static bool civil_valid(uint64_t y, uint64_t m, uint64_t d)
{
        static const uint8_t mdays[13] = { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        return m >= 1 && m <= 12 && d >= 1 && d <= mdays[m] && (m != 2 || d < 29 || leap);
}

/* "YYYY-MM-DD" at *p. */
static bool rd_date(const char **p, const char *end, uint64_t *y, uint64_t *m, uint64_t *d)
{
        return rd_uint(p, end, y) && rd_char(p, end, '-') && rd_uint(p, end, m) &&
               rd_char(p, end, '-') && rd_uint(p, end, d) && *y <= 9999 && *m <= 12 && *d <= 31;
}

/* "HH:MM:SS[.f]" at *p; hours unbounded here (TIME). */
static bool rd_hms(const char **p, const char *end, uint64_t *h, uint64_t *mi, uint64_t *s,
                   int64_t *usec)
{
        return rd_uint(p, end, h) && rd_char(p, end, ':') && rd_uint(p, end, mi) &&
               rd_char(p, end, ':') && rd_uint(p, end, s) && rd_frac(p, end, usec) && *h <= 1023 &&
               *mi <= 59 && *s <= 59;
}

static int put_date(struct rd *r, int ci, const char *v, size_t n)
{
        const char *p = v, *end = v + n;
        uint64_t y, m, d;

        if (col_type(r, ci) != ZETL_T_DATE)
                return mismatch(r, ci);
        if (!rd_date(&p, end, &y, &m, &d) || p != end)
                return bad_text(r, ci, v, n);
        if (!civil_valid(y, m, d)) {
                zetl_batch_set_null(r->b, ci); /* zero or invalid date, as the decoder */
                return 0;
        }
        zetl_batch_set_i32(r->b, ci, (int32_t)zetl_civil_to_days((int64_t)y, (int)m, (int)d));
        return 0;
}

/* DATETIME (timestamp) and TIMESTAMP (timestamptz, read in UTC). */
static int put_datetime(struct rd *r, int ci, const char *v, size_t n)
{
        bool tz = r->tm->cols[ci].real_type == MY_T_TIMESTAMP2 ||
                  r->tm->cols[ci].real_type == MY_T_TIMESTAMP;
        const char *p = v, *end = v + n;
        uint64_t y, m, d, h, mi, s;
        int64_t usec;

        if (col_type(r, ci) != (tz ? ZETL_T_TIMESTAMPTZ : ZETL_T_TIMESTAMP))
                return mismatch(r, ci);
        if (!rd_date(&p, end, &y, &m, &d) || !rd_char(&p, end, ' ') ||
            !rd_hms(&p, end, &h, &mi, &s, &usec) || p != end || h > 23)
                return bad_text(r, ci, v, n);
        if (!civil_valid(y, m, d)) {
                /* Zero or invalid DATETIME, or the zero TIMESTAMP: NULL, as the decoder. */
                zetl_batch_set_null(r->b, ci);
                return 0;
        }
        int64_t days = zetl_civil_to_days((int64_t)y, (int)m, (int)d);
        int64_t us =
                days * ZETL_USEC_PER_DAY + (int64_t)((h * 60 + mi) * 60 + s) * USEC_PER_SEC + usec;
        if (tz && us == 0) {
                zetl_batch_set_null(r->b, ci); /* second 0 is the zero TIMESTAMP */
                return 0;
        }
        zetl_batch_set_i64(r->b, ci, us);
        return 0;
}

/* TIME: within a day into a time column; any value into a string column as MySQL's text. */
static int put_time(struct rd *r, int ci, const char *v, size_t n)
{
        const struct my_col *c = &r->tm->cols[ci];
        enum zetl_type t = col_type(r, ci);
        const char *p = v, *end = v + n;
        uint64_t h, mi, s;
        int64_t usec;
        bool neg = rd_char(&p, end, '-');

        if (!rd_hms(&p, end, &h, &mi, &s, &usec) || p != end)
                return bad_text(r, ci, v, n);
        int64_t total = (int64_t)((h * 60 + mi) * 60 + s) * USEC_PER_SEC + usec;
        if (t == ZETL_T_STRING) {
                char buf[48];
                int k = snprintf(buf, sizeof(buf), "%s%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
                                 neg && total ? "-" : "", h, mi, s);
                if (c->fsp) {
                        char f[8];
                        snprintf(f, sizeof(f), "%06" PRId64, usec);
                        k += snprintf(buf + k, sizeof(buf) - (size_t)k, ".%.*s", c->fsp, f);
                }
                return zetl_batch_set_var(r->b, ci, buf, (size_t)k, r->err);
        }
        if (t != ZETL_T_TIME)
                return mismatch(r, ci);
        if ((neg && total) || total > ZETL_USEC_PER_DAY)
                return val_fail(r, ci, ZETL_EUNSUPPORTED,
                                "%s%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64
                                " is outside a day: publish the column as string",
                                neg ? "-" : "", h, mi, s);
        zetl_batch_set_i64(r->b, ci, total);
        return 0;
}

/* CHAR, VARCHAR, TEXT, BINARY, VARBINARY, BLOB: as selected (see the header). */
static int put_string(struct rd *r, int ci, const char *v, size_t n)
{
        const struct my_col *c = &r->tm->cols[ci];

        switch (col_type(r, ci)) {
        case ZETL_T_STRING:
        case ZETL_T_JSON:
                return zetl_batch_set_var(r->b, ci, v, n, r->err);
        case ZETL_T_BYTES:
                if (c->real_type == MY_T_STRING && c->collation == MY_COLLATION_BINARY &&
                    c->max_len > n) {
                        /* BINARY(n) comes padded; should it not, pad as the decoder does. */
                        uint8_t *dst = zetl_batch_var_reserve(r->b, ci, c->max_len, r->err);
                        if (!dst)
                                return r->err ? r->err->code : ZETL_ENOMEM;
                        memcpy(dst, v, n);
                        memset(dst + n, 0, c->max_len - n);
                        zetl_batch_var_commit(r->b, ci, c->max_len);
                        return 0;
                }
                return zetl_batch_set_var(r->b, ci, v, n, r->err);
        default:
                return mismatch(r, ci);
        }
}

static int put_bit(struct rd *r, int ci, const char *v, size_t n)
{
        const struct my_col *c = &r->tm->cols[ci];
        enum zetl_type t = col_type(r, ci);
        uint64_t x = 0;

        if (n != (c->bits + 7u) / 8)
                return val_fail(r, ci, ZETL_EPROTO, "%zu bytes for bit(%u)", n, c->bits);
        if (t == ZETL_T_BYTES)
                return zetl_batch_set_var(r->b, ci, v, n, r->err);
        if (t != ZETL_T_INT64)
                return mismatch(r, ci);
        for (size_t i = 0; i < n; i++)
                x = x << 8 | (uint8_t)v[i];
        if (x > INT64_MAX)
                return val_fail(r, ci, ZETL_EUNSUPPORTED,
                                "0x%" PRIx64 " does not fit int64: publish the column as bytes", x);
        zetl_batch_set_i64(r->b, ci, (int64_t)x);
        return 0;
}

static int put_value(struct rd *r, int ci, const char *v, size_t n)
{
        const struct my_col *c = &r->tm->cols[ci];

        switch (c->real_type) {
        case MY_T_TINY:
        case MY_T_SHORT:
        case MY_T_INT24:
        case MY_T_LONG:
        case MY_T_LONGLONG:
        case MY_T_YEAR:
                return put_integer(r, ci, v, n);
        case MY_T_FLOAT:
        case MY_T_DOUBLE:
                return put_float(r, ci, v, n);
        case MY_T_NEWDECIMAL:
                return put_decimal(r, ci, v, n);
        case MY_T_DATE:
        case MY_T_NEWDATE:
                return put_date(r, ci, v, n);
        case MY_T_TIME:
        case MY_T_TIME2:
                return put_time(r, ci, v, n);
        case MY_T_DATETIME:
        case MY_T_DATETIME2:
        case MY_T_TIMESTAMP:
        case MY_T_TIMESTAMP2:
                return put_datetime(r, ci, v, n);
        case MY_T_VARCHAR:
        case MY_T_VAR_STRING:
        case MY_T_STRING:
        case MY_T_TINY_BLOB:
        case MY_T_MEDIUM_BLOB:
        case MY_T_LONG_BLOB:
        case MY_T_BLOB:
                return put_string(r, ci, v, n);
        case MY_T_JSON:
                if (col_type(r, ci) != ZETL_T_JSON && col_type(r, ci) != ZETL_T_STRING)
                        return mismatch(r, ci);
                return zetl_batch_set_var(r->b, ci, v, n, r->err);
        case MY_T_GEOMETRY:
                if (col_type(r, ci) != ZETL_T_BYTES)
                        return mismatch(r, ci);
                if (n < 4)
                        return val_fail(r, ci, ZETL_EPROTO, "geometry of %zu bytes", n);
                return zetl_batch_set_var(r->b, ci, v + 4, n - 4, r->err); /* drop the SRID */
        case MY_T_ENUM:
        case MY_T_SET:
                if (col_type(r, ci) != ZETL_T_STRING)
                        return mismatch(r, ci);
                return zetl_batch_set_var(r->b, ci, v, n, r->err);
        case MY_T_BIT:
                return put_bit(r, ci, v, n);
        default:
                return val_fail(r, ci, ZETL_EUNSUPPORTED, "no reading for type %s",
                                my_type_name(c->type));
        }
}

/* One fetched row into the batch; the row is dropped again on failure. */
static int put_row(struct rd *r, MYSQL_ROW row, const unsigned long *lens)
{
        int rc;

        if ((rc = zetl_batch_row_begin(r->b, ZETL_OP_SNAPSHOT, 0, r->err)))
                return rc;
        for (int i = 0; i < r->tm->ncols; i++) {
                if (!row[i]) {
                        zetl_batch_set_null(r->b, i);
                        continue;
                }
                if ((rc = put_value(r, i, row[i], lens[i]))) {
                        zetl_batch_row_abort(r->b);
                        return rc;
                }
        }
        zetl_batch_row_end(r->b);
        return 0;
}

static bool is_text(const struct my_col *c)
{
        switch (c->real_type) {
        case MY_T_VARCHAR:
        case MY_T_VAR_STRING:
        case MY_T_STRING:
        case MY_T_TINY_BLOB:
        case MY_T_MEDIUM_BLOB:
        case MY_T_LONG_BLOB:
        case MY_T_BLOB:
                return c->collation != MY_COLLATION_BINARY;
        default:
                return false;
        }
}

/* SELECT <each column in its readable form> FROM `db`.`table`. */
static void build_select(struct buf *q, const struct my_table_map *tm, const struct zetl_schema *s)
{
        buf_str(q, "SELECT ");
        for (int i = 0; i < tm->ncols; i++) {
                const struct my_col *c = &tm->cols[i];
                if (i)
                        buf_str(q, ", ");
                if (c->real_type == MY_T_FLOAT) {
                        buf_str(q, "CAST(");
                        buf_ident(q, c->name);
                        buf_str(q, " AS DOUBLE)");
                } else if (is_text(c) && s->cols[i].type == ZETL_T_BYTES) {
                        buf_str(q, "CAST(");
                        buf_ident(q, c->name);
                        buf_str(q, " AS BINARY)");
                } else {
                        buf_ident(q, c->name);
                }
        }
        buf_str(q, " FROM ");
        buf_ident(q, s->id.db);
        buf_byte(q, '.');
        buf_ident(q, s->id.table);
}

/* Hand the full batch to emit (it owns it from here on). */
static int flush(struct zetl_batch **b,
                 int (*emit)(void *arg, struct zetl_batch *b, struct zetl_err *err), void *arg,
                 uint64_t *emitted, struct zetl_err *err)
{
        struct zetl_batch *full = *b;

        *b = NULL;
        *emitted += full->nrows;
        return emit(arg, full, err);
}

int my_snapshot_table(struct st_mysql *m, const struct my_table_map *tm,
                      const struct zetl_schema *s, const struct my_snapshot_opts *o,
                      int (*emit)(void *arg, struct zetl_batch *b, struct zetl_err *err), void *arg,
                      uint64_t *nrows, struct zetl_err *err)
{
        size_t batch_rows = o && o->batch_rows ? o->batch_rows : DEFAULT_BATCH_ROWS;
        size_t batch_bytes = o ? o->batch_bytes : 0;
        struct rd r = { .tm = tm, .err = err };
        struct buf q = { 0 };
        MYSQL_RES *res = NULL;
        MYSQL_ROW row;
        uint64_t emitted = 0;
        int rc = 0;

        if (nrows)
                *nrows = 0;
        if (s->ncols != tm->ncols) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                  "MySQL %s.%s: %d columns in the table map, %d in the schema",
                                  tm->db, tm->table, tm->ncols, s->ncols);
                goto out;
        }
        for (int i = 0; i < tm->ncols; i++) {
                if (!tm->cols[i].name) {
                        rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                          "MySQL %s.%s: column %d has no name", tm->db, tm->table,
                                          i + 1);
                        goto out;
                }
        }
        if ((rc = my_exec(m, SESSION_SQL, "preparing the snapshot session", err)))
                goto out;
        build_select(&q, tm, s);
        if (q.oom) {
                rc = oom(err);
                goto out;
        }
        if (mysql_real_query(m, q.p, (unsigned long)q.len) || !(res = mysql_use_result(m))) {
                rc = my_conn_error(m, "reading the snapshot", err);
                goto out;
        }
        if (mysql_num_fields(res) != (unsigned)tm->ncols) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                  "MySQL %s.%s: %u columns selected, %d expected", tm->db,
                                  tm->table, mysql_num_fields(res), tm->ncols);
                goto out;
        }
        while ((row = mysql_fetch_row(res))) {
                const unsigned long *lens = mysql_fetch_lengths(res);
                for (;;) {
                        /* The next batch only once emit has taken the last one. */
                        if (!r.b && !(r.b = zetl_batch_new(s, batch_bytes))) {
                                rc = oom(err);
                                goto out;
                        }
                        if (!(rc = put_row(&r, row, lens)))
                                break;
                        if (rc != ZETL_ELIMIT || r.b->nrows == 0)
                                goto out; /* an error, or one row larger than a batch */
                        zetl_err_clear(err);
                        if ((rc = flush(&r.b, emit, arg, &emitted, err)))
                                goto out;
                }
                if (r.b->nrows >= batch_rows && (rc = flush(&r.b, emit, arg, &emitted, err)))
                        goto out;
        }
        if (mysql_errno(m)) {
                rc = my_conn_error(m, "reading the snapshot", err);
                goto out;
        }
        if (r.b && r.b->nrows)
                rc = flush(&r.b, emit, arg, &emitted, err);
out:
        zetl_batch_free(r.b);
        if (res)
                mysql_free_result(res); /* drains what was not read */
        free(q.p);
        if (nrows)
                *nrows = emitted;
        return rc;
}
