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

void my_tables_free(struct my_src *s)
{
        for (struct my_tbl *t = s->tables, *n; t; t = n) {
                n = t->next;
                my_table_map_free(&t->tm);
                if (t->schema)
                        zetl_schema_unref(t->schema);
                for (int i = 0; i < t->ncolids; i++)
                        free(t->colnames[i]);
                free(t->colnames);
                free(t->colids);
                free(t);
        }
        s->tables = NULL;
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
        if (!(t = calloc(1, sizeof(*t))))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        t->id = id;
        t->next = s->tables;
        s->tables = t;
        rc = my_snapshot_describe(s->conn, s->flavor, db, table, &t->tm, err);
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
        if (!t) {
                if (!(t = calloc(1, sizeof(*t)))) {
                        my_table_map_free(&tm);
                        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                }
                t->id = id;
                t->next = s->tables;
                s->tables = t;
        }
        my_table_map_free(&t->tm);
        t->tm = tm; /* owns it now */
        t->excluded = !zetl_emit_wants(st->em, &id);
        if (t->excluded || t->failed)
                return 0;
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
        struct my_row_image before, after;
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
        while ((rc = my_rows_next(&re, &t->tm, &before, &after, err)) == 1) {
                struct zetl_batch *b;
                const uint8_t *p;
                if ((rc = zetl_emit_row(st->em, t->schema, re.op, pos, &b, err)))
                        return rc;
                if (re.op == ZETL_OP_DELETE) {
                        p = before.p;
                        rc = my_decode_row(b, &t->tm, before.cols, &p, before.p + before.len, true,
                                           err);
                } else {
                        p = after.p;
                        rc = my_decode_row(b, &t->tm, after.cols, &p, after.p + after.len, false,
                                           err);
                }
                /* An update whose key changed carries the old key. A partial
                 * (MINIMAL) after image leaves out key columns that did not
                 * change: they come from the before image. */
                if (!rc && re.op == ZETL_OP_UPDATE && before.p &&
                    !(rc = zetl_batch_old_key_begin(b, err))) {
                        p = before.p;
                        rc = my_decode_row(b->old, &t->tm, before.cols, &p, before.p + before.len,
                                           true, err);
                        for (int c = 0; !rc && c < t->schema->ncols; c++)
                                if (t->schema->cols[c].key_pos > 0 &&
                                    zetl_batch_is_unchanged(b, c, (uint32_t)b->cur))
                                        rc = zetl_batch_copy_cell(b, c, b->old,
                                                                  (uint32_t)b->old->cur, err);
                        if (!rc && zetl_batch_keys_equal(b, (uint32_t)b->cur, b->old,
                                                         (uint32_t)b->old->cur))
                                zetl_batch_old_key_drop(b); /* same key: none needed */
                }
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

/* One ALTER TABLE clause's first tokens: renames and drops of columns keep
 * the column identities (my_colid) right. */
static void alter_clause(struct my_tbl *t, char tok[CLAUSE_TOKS][ZETL_NAME_MAX], int ntok)
{
        int k = 1;

        if (ntok >= 5 && strcasecmp(tok[0], "RENAME") == 0 && strcasecmp(tok[1], "COLUMN") == 0 &&
            strcasecmp(tok[3], "TO") == 0) {
                colid_rename(t, tok[2], tok[4]);
                return;
        }
        if (ntok >= 3 && strcasecmp(tok[0], "CHANGE") == 0) {
                if (strcasecmp(tok[k], "COLUMN") == 0)
                        k++;
                if (k + 1 < ntok && strcasecmp(tok[k], "IF") == 0 &&
                    strcasecmp(tok[k + 1], "EXISTS") == 0)
                        k += 2;
                if (k + 1 < ntok && strcasecmp(tok[k], tok[k + 1]) != 0)
                        colid_rename(t, tok[k], tok[k + 1]);
                return;
        }
        if (ntok >= 2 && strcasecmp(tok[0], "DROP") == 0) {
                static const char *const not_columns[] = { "INDEX",     "KEY",        "PRIMARY",
                                                           "FOREIGN",   "CONSTRAINT", "CHECK",
                                                           "PARTITION", "SYSTEM",     NULL };
                for (const char *const *w = not_columns; *w; w++)
                        if (strcasecmp(tok[1], *w) == 0)
                                return;
                if (strcasecmp(tok[k], "COLUMN") == 0)
                        k++;
                if (k + 1 < ntok && strcasecmp(tok[k], "IF") == 0 &&
                    strcasecmp(tok[k + 1], "EXISTS") == 0)
                        k += 2;
                if (k < ntok)
                        colid_drop(t, tok[k]);
        }
}

/* ALTER [ONLINE|IGNORE] TABLE [db.]t clause, clause...: see alter_clause. */
static void on_alter(struct my_src *s, const char *q, size_t n, size_t i, const char *defdb)
{
        char tok[CLAUSE_TOKS][ZETL_NAME_MAX], a[ZETL_NAME_MAX], b[ZETL_NAME_MAX];
        int kind, ntok = 0, depth = 0;
        struct my_tbl *t;

        do {
                if (!next_tok(q, n, &i, a, sizeof(a)))
                        return;
        } while (strcasecmp(a, "TABLE") != 0 &&
                 (strcasecmp(a, "ONLINE") == 0 || strcasecmp(a, "IGNORE") == 0));
        if (strcasecmp(a, "TABLE") != 0 || next_tok(q, n, &i, a, sizeof(a)) != 1)
                return;
        size_t save = i;
        if (next_tok(q, n, &i, b, sizeof(b)) == 2 && b[0] == '.') {
                if (next_tok(q, n, &i, b, sizeof(b)) != 1)
                        return;
                t = tbl_by_name(s, a, b);
        } else {
                i = save;
                t = tbl_by_name(s, defdb, a);
        }
        if (!t)
                return; /* not mapped yet: its next TABLE_MAP names its columns */
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
                        alter_clause(t, tok, ntok);
                        ntok = 0;
                        continue;
                }
                if (depth == 0 && ntok < CLAUSE_TOKS)
                        snprintf(tok[ntok++], ZETL_NAME_MAX, "%s", a);
        }
        alter_clause(t, tok, ntok);
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
                /* Other DDL: the next TABLE_MAP of the table carries its new
                 * shape; renames and drops of columns keep identities right. */
                if (strcmp(word, "ALTER") == 0)
                        on_alter(s, q, n, i, ev->u.query.schema);
                zlog_info("DDL at %s:%llu: %.*s", ev->file, (unsigned long long)ev->start_pos,
                          (int)(n > 200 ? 200 : n), q);
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
        for (const char *g = start->gtid; *g && st.ngtid < MY_GTID_DOMAINS;) {
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
