/*
 * The MySQL/MariaDB source's streaming: binlog events from my_binlog decoded
 * by my_rows straight into batches. A TABLE_MAP gives the table's shape (with
 * binlog_row_metadata=FULL its column names and key; the set-up check warns
 * otherwise, and such a table is put into needs_attention rather than guessed
 * at): a shape that differs from the table's last one becomes a new schema
 * version through the core. XID (or a COMMIT query) ends a transaction at the
 * position after it: "file:offset gtid=..." with the order key
 * file-sequence << 32 | offset. Rows of one event share that event's
 * position (one statement cannot change a row twice).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "my_snapshot.h"
#include "my_source.h"
#include "zetl/log.h"

static struct my_tbl *tbl_by_id(struct my_src *s, uint64_t table_id)
{
        for (struct my_tbl *t = s->tables; t; t = t->next)
                if (t->tm.table_id == table_id)
                        return t;
        return NULL;
}

static struct my_tbl *tbl_by_name(struct my_src *s, const char *db, const char *table)
{
        for (struct my_tbl *t = s->tables; t; t = t->next)
                if (strcmp(t->id.db, db) == 0 && strcmp(t->id.table, table) == 0)
                        return t;
        return NULL;
}

static void tbl_free(struct my_tbl *t)
{
        my_table_map_free(&t->tm);
        my_table_map_free(&t->cat);
        if (t->schema)
                zetl_schema_unref(t->schema);
        for (int i = 0; i < t->ncolids; i++)
                free(t->colnames[i]);
        free(t->colnames);
        free(t->colids);
        free(t);
}

void my_tables_free(struct my_src *s)
{
        for (struct my_tbl *t = s->tables, *n; t; t = n) {
                n = t->next;
                tbl_free(t);
        }
        s->tables = NULL;
}

/* Stop tracking t (dropped or renamed away): a table created later under its
 * name starts afresh. */
static void tbl_forget(struct my_src *s, struct my_tbl *t)
{
        for (struct my_tbl **pp = &s->tables; *pp; pp = &(*pp)->next) {
                if (*pp == t) {
                        *pp = t->next;
                        tbl_free(t);
                        return;
                }
        }
}

/* Track table id from now on. Its column identities continue those of the
 * shape the core knows (this run's, or the one the target was last given),
 * so that a restart does not renumber them: numbering afresh could make the
 * core take a dropped column's successor for a rename. */
static struct my_tbl *tbl_new(struct my_src *s, struct zetl_emitter *em,
                              const struct zetl_table_id *id)
{
        const struct zetl_schema *known = zetl_emit_known(em, id);
        struct my_tbl *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        t->id = *id;
        if (known && known->ncols > 0) {
                t->colnames = calloc((size_t)known->ncols, sizeof(*t->colnames));
                t->colids = calloc((size_t)known->ncols, sizeof(*t->colids));
                if (!t->colnames || !t->colids) {
                        tbl_free(t);
                        return NULL;
                }
                for (int i = 0; i < known->ncols; i++) {
                        uint32_t sid = known->cols[i].source_id;
                        if (sid == 0)
                                continue;
                        if (!(t->colnames[t->ncolids] = strdup(known->cols[i].name))) {
                                tbl_free(t);
                                return NULL;
                        }
                        t->colids[t->ncolids++] = sid;
                        if (sid > t->next_id)
                                t->next_id = sid;
                }
        }
        t->next = s->tables;
        s->tables = t;
        return t;
}

int my_table_from_catalog(struct my_src *s, struct zetl_emitter *em, const char *db,
                          const char *table, struct my_tbl **out, struct zetl_err *err)
{
        struct zetl_table_id id;
        struct my_tbl *t;
        int rc;

        *out = NULL;
        if (zetl_table_id_set(&id, db, "", table) || !zetl_emit_wants(em, &id))
                return 0;
        if (!(t = tbl_new(s, em, &id)))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        rc = my_snapshot_describe(s->conn, s->flavor, db, table, &t->tm, err);
        t->tm.table_id = MY_NO_TABLE_ID; /* not an id of the binlog's */
        if (rc == ZETL_ENOTFOUND)
                return 0; /* gone since: nothing to do */
        if (rc || (rc = my_snapshot_schema(&t->tm, &t->schema, err)))
                return rc;
        if (t->schema->nkeys == 0) {
                t->failed = true;
                return 0;
        }
        *out = t;
        return zetl_emit_schema(em, t->schema, err);
}

uint32_t my_colid(struct my_tbl *t, const char *name)
{
        for (int i = 0; i < t->ncolids; i++)
                if (strcmp(t->colnames[i], name) == 0)
                        return t->colids[i];
        char **n = realloc(t->colnames, (size_t)(t->ncolids + 1) * sizeof(*n));
        if (!n)
                return 0;
        t->colnames = n;
        uint32_t *ids = realloc(t->colids, (size_t)(t->ncolids + 1) * sizeof(*ids));
        if (!ids)
                return 0;
        t->colids = ids;
        if (!(t->colnames[t->ncolids] = strdup(name)))
                return 0;
        t->colids[t->ncolids] = ++t->next_id;
        return t->colids[t->ncolids++];
}

static void colid_rename(struct my_tbl *t, const char *from, const char *to)
{
        for (int i = 0; i < t->ncolids; i++) {
                if (strcasecmp(t->colnames[i], from) == 0) {
                        char *n = strdup(to);
                        if (n) {
                                free(t->colnames[i]);
                                t->colnames[i] = n;
                        }
                        return;
                }
        }
}

static void colid_drop(struct my_tbl *t, const char *name)
{
        for (int i = 0; i < t->ncolids; i++) {
                if (strcasecmp(t->colnames[i], name) == 0) {
                        free(t->colnames[i]);
                        t->colnames[i] = t->colnames[--t->ncolids];
                        t->colids[i] = t->colids[t->ncolids];
                        return;
                }
        }
}

/* The schema of a TABLE_MAP (every column named, else NULL with the reason). */
static struct zetl_schema *map_schema(struct my_tbl *t, const struct my_table_map *tm,
                                      const struct zetl_table_id *id, char *why, size_t whylen,
                                      struct zetl_err *err)
{
        struct zetl_schema *sch = zetl_schema_new(id, tm->ncols);

        if (!sch) {
                zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                return NULL;
        }
        for (int i = 0; i < tm->ncols; i++) {
                struct zetl_column c = { 0 };
                struct zetl_err e2;
                if (my_column_map(tm, i, &c, &e2)) {
                        snprintf(why, whylen, "%s", e2.msg);
                        goto fail;
                }
                if (!c.name) {
                        snprintf(why, whylen,
                                 "the binlog does not name its columns: set "
                                 "binlog_row_metadata=FULL (SET GLOBAL binlog_row_metadata = "
                                 "'FULL';) and resync");
                        goto fail;
                }
                c.source_id = my_colid(t, c.name);
                if (zetl_schema_set_col(sch, i, &c)) {
                        zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                        zetl_schema_unref(sch);
                        return NULL;
                }
        }
        if (sch->ncols > 0 && zetl_schema_finish(sch, NULL) == 0) {
                int keys = 0;
                for (int i = 0; i < sch->ncols; i++)
                        keys += sch->cols[i].key_pos > 0;
                if (keys > 0)
                        return sch;
                snprintf(why, whylen,
                         "no primary key: its changes cannot be applied by key. Fix: ALTER TABLE "
                         "`%.100s`.`%.100s` ADD PRIMARY KEY (...); then resync",
                         id->db, id->table);
        }
fail:
        zetl_schema_unref(sch);
        return NULL;
}

/*
 * binlog_row_metadata is not FULL: the TABLE_MAP has types but no names, key
 * or labels (and without MINIMAL no signedness or charsets). Those come from
 * information_schema, read at the table's first TABLE_MAP in a run and again
 * whenever its table id changes (the server gives a table a new id when its
 * definition is reloaded, as after DDL). Streaming behind a later ALTER, the
 * catalog describes a newer shape than the event: when the column count or a
 * column's type differs, nothing is guessed and why says so (the table goes
 * into needs_attention). A rename of a column to a name of the same type
 * cannot be seen this way: FULL is what the set-up check recommends.
 */
static int names_from_catalog(struct my_src *s, struct my_tbl *t, char *why, size_t whylen,
                              struct zetl_err *err)
{
        struct my_table_map *tm = &t->tm, *cat = &t->cat;
        int rc;

        if (!t->cat_ok || t->cat_table_id != tm->table_id) {
                my_table_map_free(cat);
                memset(cat, 0, sizeof(*cat));
                t->cat_ok = false;
                rc = my_snapshot_describe(s->conn, s->flavor, t->id.db, t->id.table, cat, err);
                if (rc == ZETL_ENOTFOUND) {
                        zetl_err_clear(err);
                        snprintf(why, whylen,
                                 "the binlog does not name the columns (binlog_row_metadata is "
                                 "not FULL) and the table is gone from information_schema; set "
                                 "binlog_row_metadata=FULL and resync");
                        return 0;
                }
                if (rc)
                        return rc;
                t->cat_ok = true;
                t->cat_table_id = tm->table_id;
        }
        for (int i = 0; i < tm->ncols && tm->ncols == cat->ncols; i++) {
                const struct my_col *b = &tm->cols[i], *c = &cat->cols[i];
                if (b->type != c->type || b->precision != c->precision || b->scale != c->scale ||
                    b->fsp != c->fsp || b->max_len != c->max_len || b->pack_len != c->pack_len ||
                    b->bits != c->bits) {
                        snprintf(why, whylen,
                                 "the binlog does not name the columns (binlog_row_metadata is "
                                 "not FULL) and its column %d (%.40s) differs from "
                                 "information_schema now (%.40s): the table changed since; set "
                                 "binlog_row_metadata=FULL and resync",
                                 i + 1, b->type_text, c->type_text);
                        return 0;
                }
        }
        if (tm->ncols != cat->ncols) {
                snprintf(why, whylen,
                         "the binlog does not name the columns (binlog_row_metadata is not "
                         "FULL) and it has %d columns where information_schema now has %d: the "
                         "table changed since; set binlog_row_metadata=FULL and resync",
                         tm->ncols, cat->ncols);
                return 0;
        }
        for (int i = 0; i < tm->ncols; i++) {
                const struct my_col *c = &cat->cols[i];
                const char *labels[c->nlabels > 0 ? c->nlabels : 1];
                struct my_col_info info = {
                        .name = c->name,
                        .is_unsigned = tm->has_signedness ? -1 : c->is_unsigned,
                        .collation = tm->has_charsets ? 0 : c->collation,
                        .key_pos = tm->has_key ? -1 : c->key_pos,
                };
                if (!tm->has_labels && c->nlabels > 0) {
                        for (int k = 0; k < c->nlabels; k++)
                                labels[k] = c->labels[k].s;
                        info.labels = labels;
                        info.nlabels = c->nlabels;
                }
                if ((rc = my_table_map_set_col(tm, i, &info, err)))
                        return rc;
        }
        return 0;
}

static int on_table_map(struct my_src *s, struct my_stream *st, const struct my_event *ev,
                        struct zetl_err *err)
{
        struct my_table_map tm = { 0 };
        struct zetl_table_id id;
        struct my_tbl *t;
        char why[ZETL_ERR_MSG_MAX] = "";
        int rc;

        if ((rc = my_table_map_parse(ev->body, ev->body_len, &st->fmt, &tm, err))) {
                my_table_map_free(&tm);
                return rc;
        }
        if (zetl_table_id_set(&id, tm.db, "", tm.table)) {
                my_table_map_free(&tm);
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "table name too long");
        }
        t = tbl_by_name(s, tm.db, tm.table);
        if (!t && !(t = tbl_new(s, st->em, &id))) {
                my_table_map_free(&tm);
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        }
        my_table_map_free(&t->tm);
        t->tm = tm; /* owns it now */
        /* The server reuses table ids (after a restart, a FLUSH TABLES): an
         * id now names this table only, or a stale one would take the rows
         * of another table (found by the chaos test). */
        for (struct my_tbl *o = s->tables; o; o = o->next)
                if (o != t && o->tm.table_id == t->tm.table_id)
                        o->tm.table_id = MY_NO_TABLE_ID;
        t->excluded = !zetl_emit_wants(st->em, &id);
        if (t->excluded || t->failed)
                return 0;
        if (!t->tm.has_names && (rc = names_from_catalog(s, t, why, sizeof(why), err)))
                return rc;
        struct zetl_schema *sch = map_schema(t, &t->tm, &id, why, sizeof(why), err);
        if (!sch) {
                if (!why[0])
                        return err->code;
                zetl_emit_table_error(st->em, &id, why);
                t->failed = true;
                return 0;
        }
        if (t->schema && zetl_schema_same_shape(t->schema, sch)) {
                zetl_schema_unref(sch);
                return 0;
        }
        if (t->schema)
                zetl_schema_unref(t->schema);
        t->schema = sch;
        return zetl_emit_schema(st->em, sch, err);
}

static int on_rows(struct my_src *s, struct my_stream *st, const struct my_event *ev,
                   struct zetl_err *err)
{
        struct my_rows_event re;
        struct my_tbl *t;
        uint64_t pos = 0;
        int rc;

        if ((rc = my_rows_parse(ev->body, ev->body_len, ev->type, &st->fmt, &re, err)))
                return rc;
        if (!(t = tbl_by_id(s, re.table_id)))
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "rows for table id %llu before its TABLE_MAP",
                                    (unsigned long long)re.table_id);
        if (t->excluded || t->failed || !t->schema)
                return 0;
        my_binlog_order(ev->file, ev->start_pos, &pos);
        /* One pass per image: each is decoded where it lies, in event order
         * (an update's before image, as the old key, then its after image). */
        while ((rc = my_rows_more(&re, &t->tm, err)) == 1) {
                struct zetl_batch *b;
                const uint8_t *p = re.cur;
                if ((rc = zetl_emit_row(st->em, t->schema, re.op, pos, &b, err)))
                        return rc;
                if (re.op == ZETL_OP_DELETE) {
                        rc = my_decode_row(b, &t->tm, re.cols_before, &p, re.end, true, err);
                } else if (re.op == ZETL_OP_INSERT) {
                        rc = my_decode_row(b, &t->tm, re.cols_after, &p, re.end, false, err);
                } else if (!(rc = zetl_batch_old_key_begin(b, err)) &&
                           !(rc = my_decode_row(b->old, &t->tm, re.cols_before, &p, re.end, true,
                                                err)) &&
                           !(rc = my_decode_row(b, &t->tm, re.cols_after, &p, re.end, false,
                                                err))) {
                        /* An update whose key changed carries the old key. A
                         * partial (MINIMAL) after image leaves out key columns
                         * that did not change: they come from the before image. */
                        for (int c = 0; !rc && c < t->schema->ncols; c++)
                                if (t->schema->cols[c].key_pos > 0 &&
                                    zetl_batch_is_unchanged(b, c, (uint32_t)b->cur))
                                        rc = zetl_batch_copy_cell(b, c, b->old,
                                                                  (uint32_t)b->old->cur, err);
                        if (!rc && zetl_batch_keys_equal(b, (uint32_t)b->cur, b->old,
                                                         (uint32_t)b->old->cur))
                                zetl_batch_old_key_drop(b); /* same key: none needed */
                }
                if (!rc)
                        rc = my_rows_advance(&re, p, err);
                if (rc) {
                        zetl_batch_row_abort(b);
                        return zetl_err_prefix(err, "table %s.%s: ", t->id.db, t->id.table);
                }
                zetl_batch_row_end(b);
        }
        return rc < 0 ? rc : 0;
}

static void gtid_seen(struct my_stream *st, const struct my_event *ev)
{
        int i;

        for (i = 0; i < st->ngtid; i++)
                if (st->gtid[i].domain == ev->u.gtid.domain_id)
                        break;
        if (i == st->ngtid) {
                if (st->ngtid == MY_GTID_DOMAINS)
                        return;
                st->ngtid++;
        }
        st->gtid[i].domain = ev->u.gtid.domain_id;
        st->gtid[i].server = ev->u.gtid.server_id;
        st->gtid[i].seq = ev->u.gtid.seq;
}

/* A position "file:offset gtid=..." after the event ending at (file, next). */
static int emit_position(struct my_stream *st, const char *file, uint64_t next, uint32_t ts,
                         struct zetl_err *err)
{
        struct my_binlog_pos bp = { 0 };
        struct zetl_position p = { 0 };
        char text[ZETL_POS_TOKEN_MAX];
        size_t n = 0;

        snprintf(bp.file, sizeof(bp.file), "%s", file);
        bp.offset = next;
        if (st->mysql_gtid[0])
                n += (size_t)snprintf(bp.gtid, sizeof(bp.gtid), "%s", st->mysql_gtid);
        for (int i = 0; i < st->ngtid && n + 64 < sizeof(bp.gtid); i++)
                n += (size_t)snprintf(bp.gtid + n, sizeof(bp.gtid) - n, "%s%u-%u-%llu",
                                      i ? "," : "", st->gtid[i].domain, st->gtid[i].server,
                                      (unsigned long long)st->gtid[i].seq);
        my_binlog_pos_format(&bp, text, sizeof(text));
        if (my_binlog_order(file, next, &p.order))
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "binlog file name %s has no sequence number", file);
        zetl_pos_set(&p, p.order, text);
        p.time_us = ts ? (int64_t)ts * 1000000 : 0;
        return zetl_emit_commit(st->em, &p, err);
}

/* The next token of q[*i, n): an identifier or word (backquotes removed,
 * `` kept as one), returning 1, or one other character, returning 2; 0 at
 * the end. */
static int next_tok(const char *q, size_t n, size_t *i, char *out, size_t len)
{
        size_t k = 0;

        while (*i < n && isspace((unsigned char)q[*i]))
                (*i)++;
        if (*i >= n)
                return 0;
        if (q[*i] == '`') {
                for ((*i)++; *i < n; (*i)++) {
                        if (q[*i] == '`' && !(*i + 1 < n && q[*i + 1] == '`'))
                                break;
                        if (q[*i] == '`')
                                (*i)++;
                        if (k + 1 < len)
                                out[k++] = q[*i];
                }
                (*i)++;
                out[k] = '\0';
                return 1;
        }
        if (isalnum((unsigned char)q[*i]) || q[*i] == '_' || q[*i] == '$' ||
            (unsigned char)q[*i] >= 0x80) {
                while (*i < n && (isalnum((unsigned char)q[*i]) || q[*i] == '_' || q[*i] == '$' ||
                                  (unsigned char)q[*i] >= 0x80)) {
                        if (k + 1 < len)
                                out[k++] = q[*i];
                        (*i)++;
                }
                out[k] = '\0';
                return 1;
        }
        out[0] = q[(*i)++];
        out[1] = '\0';
        return 2;
}

#define CLAUSE_TOKS 6

/* [db.]name at q[*i]: the parts into db (defdb when absent) and tbl. */
static bool next_name(const char *q, size_t n, size_t *i, const char *defdb, char db[ZETL_NAME_MAX],
                      char tbl[ZETL_NAME_MAX])
{
        char a[ZETL_NAME_MAX], b[ZETL_NAME_MAX];
        size_t save;

        if (next_tok(q, n, i, a, sizeof(a)) != 1)
                return false;
        save = *i;
        if (next_tok(q, n, i, b, sizeof(b)) == 2 && b[0] == '.') {
                if (next_tok(q, n, i, b, sizeof(b)) != 1)
                        return false;
                snprintf(db, ZETL_NAME_MAX, "%s", a);
                snprintf(tbl, ZETL_NAME_MAX, "%s", b);
                return true;
        }
        *i = save;
        snprintf(db, ZETL_NAME_MAX, "%s", defdb ? defdb : "");
        snprintf(tbl, ZETL_NAME_MAX, "%s", a);
        return true;
}

/* Skip the optional words w1 w2 (e.g. IF EXISTS) at q[*i]. */
static void skip_words(const char *q, size_t n, size_t *i, const char *w1, const char *w2)
{
        char a[16];
        size_t save = *i;

        if (next_tok(q, n, i, a, sizeof(a)) == 1 && strcasecmp(a, w1) == 0 &&
            (!w2 || (next_tok(q, n, i, a, sizeof(a)) == 1 && strcasecmp(a, w2) == 0)))
                return;
        *i = save;
}

/* "at mysql-bin.000003:1234: ALTER TABLE ..." (the statement shortened). */
static void ddl_where(const struct my_event *ev, char *buf, size_t len)
{
        size_t n = ev->u.query.sql_len;

        snprintf(buf, len, "at %.64s:%llu: %.*s%s", ev->file, (unsigned long long)ev->start_pos,
                 (int)(n > 300 ? 300 : n), ev->u.query.sql, n > 300 ? "..." : "");
}

/* Put the table into needs_attention because of the statement, unless it is
 * not replicated. */
static void table_attention(struct my_src *s, struct my_stream *st, const char *db,
                            const char *table, const char *why, const struct my_event *ev)
{
        struct zetl_table_id id;
        struct my_tbl *t = tbl_by_name(s, db, table);
        char where[400], msg[ZETL_ERR_MSG_MAX];

        if (zetl_table_id_set(&id, db, "", table) || !zetl_emit_wants(st->em, &id))
                return;
        ddl_where(ev, where, sizeof(where));
        snprintf(msg, sizeof(msg), "%s (%s); resync the table", why, where);
        zlog_warn("table %s.%s needs attention: %s", db, table, msg);
        zetl_emit_table_error(st->em, &id, msg);
        if (!t)
                t = tbl_new(s, st->em, &id);
        if (t)
                t->failed = true;
}

/* DROP TABLE: the source table has no rows any more, so neither has the
 * target's, which is emptied (truncate) and kept: removing target objects is
 * left to their owner. A table created later under the name starts afresh. */
static int table_dropped(struct my_src *s, struct my_stream *st, const char *db, const char *table,
                         uint64_t pos, struct zetl_err *err)
{
        struct zetl_table_id id;
        struct my_tbl *t = tbl_by_name(s, db, table);
        const struct zetl_schema *sch;
        int rc = 0;

        if (zetl_table_id_set(&id, db, "", table))
                return 0;
        if (zetl_emit_wants(st->em, &id) && !(t && (t->excluded || t->failed)) &&
            (sch = t && t->schema ? t->schema : zetl_emit_known(st->em, &id)) != NULL) {
                zlog_info("table %s.%s dropped at the source: its target table is emptied and "
                          "kept",
                          db, table);
                if ((rc = zetl_emit_schema(st->em, sch, err)) == 0)
                        rc = zetl_emit_truncate(st->em, sch, pos, err);
        }
        if (t)
                tbl_forget(s, t);
        return rc;
}

/* True when w is one of the words of list (" A B C "), in any case. */
static bool word_in(const char *list, const char *w)
{
        size_t n = strlen(w);

        for (const char *p = list; (p = strcasestr(p, w)) != NULL; p += n)
                if (p[-1] == ' ' && p[n] == ' ')
                        return true;
        return false;
}

/* One ALTER TABLE clause's first tokens. Renames and drops of columns keep
 * the column identities (my_colid) right; the new shape itself comes with the
 * table's next TABLE_MAP. Returns 1 for a RENAME of the table itself, -1 for
 * a clause zetl does not know (it might rename a column unseen), else 0. */
static int alter_clause(struct my_tbl *t, char tok[CLAUSE_TOKS][ZETL_NAME_MAX], int ntok,
                        const char *defdb, char newdb[ZETL_NAME_MAX], char newtbl[ZETL_NAME_MAX])
{
        /* Clauses that cannot rename or drop a column, nor change rows
         * without row events (TRUNCATE, DROP or EXCHANGE PARTITION,
         * DISCARD/IMPORT TABLESPACE and CONVERT PARTITION do: unknown). */
        static const char harmless[] =
                " ADD MODIFY ALTER ALGORITHM LOCK ENGINE CONVERT DEFAULT CHARACTER"
                " CHARSET COLLATE COMMENT AUTO_INCREMENT ROW_FORMAT FORCE ORDER"
                " KEY_BLOCK_SIZE STATS_AUTO_RECALC STATS_PERSISTENT STATS_SAMPLE_PAGES"
                " PACK_KEYS CHECKSUM ENABLE DISABLE PARTITION REMOVE COALESCE"
                " REORGANIZE ANALYZE CHECK OPTIMIZE REBUILD REPAIR WAIT NOWAIT MAX_ROWS"
                " MIN_ROWS AVG_ROW_LENGTH ENCRYPTED ENCRYPTION_KEY_ID PAGE_CHECKSUM"
                " PAGE_COMPRESSED PAGE_COMPRESSION_LEVEL TRANSACTIONAL DELAY_KEY_WRITE"
                " INSERT_METHOD UNION CONNECTION COMPRESSION STORAGE TABLESPACE WITH"
                " WITHOUT DATA INDEX IETF_QUOTES SEQUENCE AUTOEXTEND_SIZE ";
        int k = 1;

        if (ntok == 0)
                return 0;
        if (strcasecmp(tok[0], "RENAME") == 0) {
                if (ntok >= 5 && strcasecmp(tok[1], "COLUMN") == 0 &&
                    strcasecmp(tok[3], "TO") == 0) {
                        colid_rename(t, tok[2], tok[4]);
                        return 0;
                }
                if (ntok >= 2 &&
                    (strcasecmp(tok[1], "INDEX") == 0 || strcasecmp(tok[1], "KEY") == 0))
                        return 0;
                /* RENAME [TO|AS] [db.]new_name */
                if (ntok >= 2 && (strcasecmp(tok[1], "TO") == 0 || strcasecmp(tok[1], "AS") == 0))
                        k = 2;
                if (k + 2 < ntok && strcmp(tok[k + 1], ".") == 0) {
                        snprintf(newdb, ZETL_NAME_MAX, "%s", tok[k]);
                        snprintf(newtbl, ZETL_NAME_MAX, "%s", tok[k + 2]);
                } else if (k < ntok) {
                        snprintf(newdb, ZETL_NAME_MAX, "%s", defdb ? defdb : "");
                        snprintf(newtbl, ZETL_NAME_MAX, "%s", tok[k]);
                }
                return 1;
        }
        if (ntok >= 3 && strcasecmp(tok[0], "CHANGE") == 0) {
                if (strcasecmp(tok[k], "COLUMN") == 0)
                        k++;
                if (k + 1 < ntok && strcasecmp(tok[k], "IF") == 0 &&
                    strcasecmp(tok[k + 1], "EXISTS") == 0)
                        k += 2;
                if (k + 1 < ntok && strcasecmp(tok[k], tok[k + 1]) != 0)
                        colid_rename(t, tok[k], tok[k + 1]);
                return 0;
        }
        if (ntok >= 2 && strcasecmp(tok[0], "DROP") == 0) {
                static const char *const not_columns[] = { "INDEX",      "KEY",   "PRIMARY",
                                                           "FOREIGN",    "CHECK", "SYSTEM",
                                                           "CONSTRAINT", NULL };
                if (strcasecmp(tok[1], "PARTITION") == 0)
                        return -1; /* its rows go without row events */
                for (const char *const *w = not_columns; *w; w++)
                        if (strcasecmp(tok[1], *w) == 0)
                                return 0;
                if (strcasecmp(tok[k], "COLUMN") == 0)
                        k++;
                if (k + 1 < ntok && strcasecmp(tok[k], "IF") == 0 &&
                    strcasecmp(tok[k + 1], "EXISTS") == 0)
                        k += 2;
                if (k < ntok)
                        colid_drop(t, tok[k]);
                return 0;
        }
        if (strcasecmp(tok[0], "CONVERT") == 0) /* TO CHARACTER SET, not PARTITION/TABLE */
                return ntok >= 2 && strcasecmp(tok[1], "TO") == 0 ? 0 : -1;
        return word_in(harmless, tok[0]) ? 0 : -1;
}

/* ALTER [ONLINE|IGNORE] TABLE [db.]t clause, clause...: see alter_clause. A
 * table the stream has not met yet in this run is tracked from here, so that
 * its identities follow the statement. */
static void on_alter(struct my_src *s, struct my_stream *st, const struct my_event *ev, size_t i)
{
        const char *q = ev->u.query.sql;
        size_t n = ev->u.query.sql_len;
        char tok[CLAUSE_TOKS][ZETL_NAME_MAX], a[ZETL_NAME_MAX], db[ZETL_NAME_MAX],
                tbl[ZETL_NAME_MAX], newdb[ZETL_NAME_MAX] = "", newtbl[ZETL_NAME_MAX] = "";
        int kind, ntok = 0, depth = 0, renamed = 0, unknown = 0, r;
        struct zetl_table_id id;
        struct my_tbl *t;

        do {
                if (!next_tok(q, n, &i, a, sizeof(a)))
                        return;
        } while (strcasecmp(a, "TABLE") != 0 &&
                 (strcasecmp(a, "ONLINE") == 0 || strcasecmp(a, "IGNORE") == 0));
        if (strcasecmp(a, "TABLE") != 0)
                return; /* ALTER DATABASE, VIEW, USER...: no table of ours */
        skip_words(q, n, &i, "IF", "EXISTS");
        if (!next_name(q, n, &i, ev->u.query.schema, db, tbl) ||
            zetl_table_id_set(&id, db, "", tbl) || !zetl_emit_wants(st->em, &id))
                return;
        if (!(t = tbl_by_name(s, db, tbl)) && !(t = tbl_new(s, st->em, &id)))
                return;
        if (t->failed)
                return;
        while ((kind = next_tok(q, n, &i, a, sizeof(a))) != 0) {
                if (kind == 2 && (a[0] == '(' || a[0] == '\'' || a[0] == '"')) {
                        if (a[0] == '(') {
                                depth++;
                                continue;
                        }
                        /* skip a quoted string */
                        char quote = a[0];
                        while (i < n && q[i] != quote)
                                i += q[i] == '\\' ? 2 : 1;
                        i++;
                        continue;
                }
                if (kind == 2 && a[0] == ')') {
                        depth--;
                        continue;
                }
                if (depth == 0 && kind == 2 && a[0] == ',') {
                        r = alter_clause(t, tok, ntok, ev->u.query.schema, newdb, newtbl);
                        renamed |= r == 1;
                        unknown |= r == -1;
                        ntok = 0;
                        continue;
                }
                if (depth == 0 && ntok < CLAUSE_TOKS)
                        snprintf(tok[ntok++], ZETL_NAME_MAX, "%s", a);
        }
        r = alter_clause(t, tok, ntok, ev->u.query.schema, newdb, newtbl);
        renamed |= r == 1;
        unknown |= r == -1;
        if (renamed) {
                char why[2 * ZETL_NAME_MAX + 128];
                snprintf(why, sizeof(why),
                         "renamed to %.100s.%.100s: zetl does not follow table renames, the "
                         "target keeps its rows as they were before",
                         newdb, newtbl);
                table_attention(s, st, db, tbl, why, ev);
                snprintf(why, sizeof(why),
                         "renamed from %.100s.%.100s: its rows before the rename are not in the "
                         "target",
                         db, tbl);
                if (newtbl[0])
                        table_attention(s, st, newdb, newtbl, why, ev);
        } else if (unknown)
                table_attention(s, st, db, tbl,
                                "an ALTER TABLE clause zetl does not understand (it might rename "
                                "or drop columns unseen)",
                                ev);
}

/* RENAME TABLE a TO b [, c TO d ...]: both names need attention (the target
 * cannot follow the rows to their new name). */
static void on_rename(struct my_src *s, struct my_stream *st, const struct my_event *ev, size_t i)
{
        const char *q = ev->u.query.sql;
        size_t n = ev->u.query.sql_len;
        char a[ZETL_NAME_MAX], db1[ZETL_NAME_MAX], t1[ZETL_NAME_MAX], db2[ZETL_NAME_MAX],
                t2[ZETL_NAME_MAX];

        if (next_tok(q, n, &i, a, sizeof(a)) != 1 || strcasecmp(a, "TABLE") != 0)
                return; /* RENAME USER */
        skip_words(q, n, &i, "IF", "EXISTS");
        for (;;) {
                if (!next_name(q, n, &i, ev->u.query.schema, db1, t1))
                        return;
                skip_words(q, n, &i, "WAIT", NULL);
                skip_words(q, n, &i, "NOWAIT", NULL);
                if (next_tok(q, n, &i, a, sizeof(a)) != 1 || strcasecmp(a, "TO") != 0 ||
                    !next_name(q, n, &i, ev->u.query.schema, db2, t2))
                        return;
                char why[2 * ZETL_NAME_MAX + 128];
                snprintf(why, sizeof(why),
                         "renamed to %.100s.%.100s: zetl does not follow table renames, the "
                         "target keeps its rows as they were before",
                         db2, t2);
                table_attention(s, st, db1, t1, why, ev);
                snprintf(why, sizeof(why),
                         "renamed from %.100s.%.100s: its rows before the rename are not in the "
                         "target",
                         db1, t1);
                table_attention(s, st, db2, t2, why, ev);
                if (next_tok(q, n, &i, a, sizeof(a)) != 2 || a[0] != ',')
                        return;
        }
}

/* DROP [TEMPORARY] TABLE [IF EXISTS] a [, b ...], and DROP DATABASE. */
static int on_drop(struct my_src *s, struct my_stream *st, const struct my_event *ev, size_t i,
                   uint64_t pos, struct zetl_err *err)
{
        const char *q = ev->u.query.sql;
        size_t n = ev->u.query.sql_len;
        char a[ZETL_NAME_MAX], db[ZETL_NAME_MAX], tbl[ZETL_NAME_MAX];
        int rc;

        if (next_tok(q, n, &i, a, sizeof(a)) != 1)
                return 0;
        if (strcasecmp(a, "DATABASE") == 0 || strcasecmp(a, "SCHEMA") == 0) {
                skip_words(q, n, &i, "IF", "EXISTS");
                if (next_tok(q, n, &i, db, sizeof(db)) != 1)
                        return 0;
                for (struct my_tbl *t = s->tables, *next; t; t = next) {
                        next = t->next;
                        if (strcmp(t->id.db, db) == 0 &&
                            (rc = table_dropped(s, st, db, t->id.table, pos, err)))
                                return rc;
                }
                return 0;
        }
        if (strcasecmp(a, "TEMPORARY") == 0)
                return 0; /* temporary tables are not replicated in row format */
        if (strcasecmp(a, "TABLE") != 0)
                return 0; /* DROP INDEX, VIEW, USER...: no rows change */
        skip_words(q, n, &i, "IF", "EXISTS");
        for (;;) {
                if (!next_name(q, n, &i, ev->u.query.schema, db, tbl))
                        return 0;
                if ((rc = table_dropped(s, st, db, tbl, pos, err)))
                        return rc;
                if (next_tok(q, n, &i, a, sizeof(a)) != 2 || a[0] != ',')
                        return 0;
        }
}

/* CREATE [OR REPLACE] TABLE [IF NOT EXISTS] [db.]t: announced at once from
 * information_schema (read now: a later ALTER may already show, which only
 * brings a column in earlier), so an empty table reaches the target too. OR
 * REPLACE drops the old one first. */
static int on_create(struct my_src *s, struct my_stream *st, const struct my_event *ev, size_t i,
                     uint64_t pos, struct zetl_err *err)
{
        const char *q = ev->u.query.sql;
        size_t n = ev->u.query.sql_len;
        char a[ZETL_NAME_MAX], db[ZETL_NAME_MAX], tbl[ZETL_NAME_MAX];
        bool replace = false;
        struct my_tbl *t;
        int rc;

        if (next_tok(q, n, &i, a, sizeof(a)) != 1)
                return 0;
        if (strcasecmp(a, "OR") == 0) {
                if (next_tok(q, n, &i, a, sizeof(a)) != 1 || strcasecmp(a, "REPLACE") != 0 ||
                    next_tok(q, n, &i, a, sizeof(a)) != 1)
                        return 0;
                replace = true;
        }
        if (strcasecmp(a, "TABLE") != 0)
                return 0; /* TEMPORARY, INDEX, VIEW, DATABASE...: no rows of ours */
        skip_words(q, n, &i, "IF", "NOT");
        skip_words(q, n, &i, "EXISTS", NULL);
        if (!next_name(q, n, &i, ev->u.query.schema, db, tbl))
                return 0;
        if (replace && (rc = table_dropped(s, st, db, tbl, pos, err)))
                return rc;
        if (tbl_by_name(s, db, tbl))
                return 0; /* IF NOT EXISTS of a table already known */
        return my_table_from_catalog(s, st->em, db, tbl, &t, err);
}

/* TRUNCATE [TABLE] [db.]name: the table, else nothing. */
static int on_query(struct my_src *s, struct my_stream *st, const struct my_event *ev,
                    struct zetl_err *err)
{
        const char *q = ev->u.query.sql;
        size_t n = ev->u.query.sql_len;
        char word[16] = "";
        size_t i = 0, w = 0;

        while (i < n && isspace((unsigned char)q[i]))
                i++;
        while (i < n && isalpha((unsigned char)q[i]) && w + 1 < sizeof(word))
                word[w++] = (char)toupper((unsigned char)q[i++]);
        word[w] = '\0';
        if (strcmp(word, "BEGIN") == 0) {
                st->in_txn = true;
                return 0;
        }
        if (strcmp(word, "COMMIT") == 0) {
                st->in_txn = false;
                return emit_position(st, ev->file, ev->log_pos, ev->timestamp, err);
        }
        if (strcmp(word, "TRUNCATE") == 0) {
                char name[2 * ZETL_NAME_MAX] = "", db[ZETL_NAME_MAX], tbl[ZETL_NAME_MAX];
                size_t k = 0;
                while (i < n && isspace((unsigned char)q[i]))
                        i++;
                if (n - i >= 5 && strncasecmp(q + i, "TABLE", 5) == 0)
                        i += 5;
                while (i < n && isspace((unsigned char)q[i]))
                        i++;
                for (;
                     i < n && !isspace((unsigned char)q[i]) && q[i] != ';' && k + 1 < sizeof(name);
                     i++)
                        if (q[i] != '`')
                                name[k++] = q[i];
                name[k] = '\0';
                const char *dot = strchr(name, '.');
                const char *dbsrc = dot ? name : ev->u.query.schema;
                size_t dl = dot ? (size_t)(dot - name) : strlen(dbsrc);
                const char *tsrc = dot ? dot + 1 : name;
                size_t tl = strlen(tsrc);
                if (dl >= sizeof(db) || tl >= sizeof(tbl))
                        return 0; /* not a name zetl can hold: no table of ours */
                memcpy(db, dbsrc, dl);
                db[dl] = '\0';
                memcpy(tbl, tsrc, tl + 1);
                struct my_tbl *t = tbl_by_name(s, db, tbl);
                uint64_t pos = 0;
                int rc;
                if (!t && (rc = my_table_from_catalog(s, st->em, db, tbl, &t, err)))
                        return rc;
                my_binlog_order(ev->file, ev->start_pos, &pos);
                if (t && t->schema && !t->excluded && !t->failed &&
                    (rc = zetl_emit_truncate(st->em, t->schema, pos, err)))
                        return rc;
        } else if (w > 0) {
                /* Other DDL: the next TABLE_MAP of a table carries its new
                 * shape; what a TABLE_MAP cannot tell (column renames, table
                 * renames and drops, new empty tables) is read here. */
                uint64_t pos = 0;
                int rc = 0;
                my_binlog_order(ev->file, ev->start_pos, &pos);
                zlog_info("DDL at %s:%llu: %.*s", ev->file, (unsigned long long)ev->start_pos,
                          (int)(n > 200 ? 200 : n), q);
                if (strcmp(word, "ALTER") == 0)
                        on_alter(s, st, ev, i);
                else if (strcmp(word, "RENAME") == 0)
                        on_rename(s, st, ev, i);
                else if (strcmp(word, "DROP") == 0)
                        rc = on_drop(s, st, ev, i, pos, err);
                else if (strcmp(word, "CREATE") == 0)
                        rc = on_create(s, st, ev, i, pos, err);
                if (rc)
                        return rc;
        }
        /* A statement outside a transaction is its own unit. */
        if (!st->in_txn)
                return emit_position(st, ev->file, ev->log_pos, ev->timestamp, err);
        return 0;
}

/* SHOW MASTER STATUS now: what --once must reach. */
static int once_target(struct my_src *s, struct my_binlog_pos *out, struct zetl_err *err)
{
        char off[32];
        bool found = false;
        int rc;

        memset(out, 0, sizeof(*out));
        if ((rc = my_query_value(s->conn, "SHOW MASTER STATUS", "reading the binlog position", 0,
                                 out->file, sizeof(out->file), &found, err)) ||
            (rc = my_query_value(s->conn, "SHOW MASTER STATUS", "reading the binlog position", 1,
                                 off, sizeof(off), &found, err)))
                return rc;
        if (!found)
                return zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_CONFIG,
                                    "binary logging is off on the source");
        out->offset = strtoull(off, NULL, 10);
        return 0;
}

int my_stream_run(struct my_src *s, struct zetl_emitter *em, const struct my_binlog_pos *start,
                  struct zetl_err *err)
{
        struct my_stream st = { .em = em };
        struct my_binlog_opts o = { .server_id = my_binlog_server_id(s->cfg->integration, 0) };
        struct my_binlog_pos target = { 0 };
        uint64_t target_order = 0, here = 0;
        char text[ZETL_POS_TOKEN_MAX];
        int rc;

        if (s->cfg->once) {
                if ((rc = once_target(s, &target, err)))
                        return rc;
                my_binlog_order(target.file, target.offset, &target_order);
        }
        /* Resume from the GTID position as well as the file offset. */
        /* MySQL's uuid:gno (resumed by file and offset; kept for the token). */
        if (strchr(start->gtid, ':'))
                snprintf(st.mysql_gtid, sizeof(st.mysql_gtid), "%.63s", start->gtid);
        for (const char *g = st.mysql_gtid[0] ? "" : start->gtid;
             *g && st.ngtid < MY_GTID_DOMAINS;) {
                unsigned d, sv;
                unsigned long long q;
                int used = 0;
                if (sscanf(g, "%u-%u-%llu%n", &d, &sv, &q, &used) != 3)
                        break;
                st.gtid[st.ngtid].domain = d;
                st.gtid[st.ngtid].server = sv;
                st.gtid[st.ngtid].seq = q;
                st.ngtid++;
                g += used;
                if (*g == ',')
                        g++;
        }
        my_rows_fmt_init(&st.fmt, s->flavor, NULL, 0);
        if ((rc = my_binlog_open(&s->params, start, &o, &s->bl, err)))
                return rc;
        my_binlog_pos_format(start, text, sizeof(text));
        zlog_info("streaming the binlog from %s", text);
        my_binlog_order(start->file, start->offset, &here);
        for (;;) {
                struct my_event ev;

                if (zetl_emit_stopping(em))
                        return ZETL_ECANCELED;
                if (s->cfg->once && !st.in_txn && here >= target_order)
                        return 0;
                if ((rc = my_binlog_next(s->bl, &ev, err)))
                        return rc;
                if (!ev.artificial && ev.log_pos)
                        my_binlog_order(ev.file, ev.log_pos, &here);
                switch (ev.type) {
                case MY_EV_FORMAT_DESCRIPTION:
                        my_rows_fmt_init(&st.fmt, s->flavor, ev.u.fde.post_header_len,
                                         ev.u.fde.n_post_header_len);
                        break;
                case MY_EV_GTID:
                        gtid_seen(&st, &ev);
                        st.in_txn = !ev.u.gtid.standalone;
                        break;
                case MY_EV_MYSQL_GTID:
                        /* MySQL 8: a DML transaction follows as BEGIN ... XID. */
                        my_mysql_gtid_format(ev.u.mysql_gtid.sid, ev.u.mysql_gtid.gno,
                                             st.mysql_gtid, sizeof(st.mysql_gtid));
                        st.in_txn = false;
                        break;
                case MY_EV_TABLE_MAP:
                        rc = on_table_map(s, &st, &ev, err);
                        break;
                case MY_EV_WRITE_ROWS_V1:
                case MY_EV_UPDATE_ROWS_V1:
                case MY_EV_DELETE_ROWS_V1:
                case MY_EV_WRITE_ROWS_V2:
                case MY_EV_UPDATE_ROWS_V2:
                case MY_EV_DELETE_ROWS_V2:
                        rc = on_rows(s, &st, &ev, err);
                        break;
                case MY_EV_XID:
                        st.in_txn = false;
                        rc = emit_position(&st, ev.file, ev.log_pos, ev.timestamp, err);
                        break;
                case MY_EV_QUERY:
                        rc = on_query(s, &st, &ev, err);
                        break;
                case MY_EV_HEARTBEAT:
                        /* Idle at the end of the binlog: everything before was sent. */
                        if (!st.in_txn && ev.u.heartbeat.pos > 0) {
                                uint64_t hb = 0;
                                if (my_binlog_order(ev.u.heartbeat.file, ev.u.heartbeat.pos, &hb) ==
                                            0 &&
                                    hb > here) {
                                        here = hb;
                                        rc = emit_position(&st, ev.u.heartbeat.file,
                                                           ev.u.heartbeat.pos, 0, err);
                                }
                        }
                        break;
                default:
                        break;
                }
                if (rc)
                        return rc;
                if (!st.in_txn) {
                        struct zetl_position p = { 0 };
                        p.order = here;
                        if ((rc = zetl_emit_keepalive(em, &p, err)))
                                return rc;
                }
        }
}
