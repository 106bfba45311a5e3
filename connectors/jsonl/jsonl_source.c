/*
 * The jsonl source: replays a file in the jsonl format (jsonl.h), e.g. one
 * written by the jsonl sink, into any target. Its resume position is the byte
 * offset just after the last commit line applied ("offset=N"), so a restart
 * continues exactly where the target stopped. Without --once it follows the
 * file as it grows, like `tail -f`. Rows keep the positions written in the
 * file; lines without one get their byte offset.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonl.h"
#include "zetl/emit.h"
#include "zetl/log.h"
#include "zetl/source.h"

#define LINE_MAX_BYTES ((size_t)64 << 20)

struct jsonl_source {
        FILE *f;
        char path[4096];
        bool once;
        struct zetl_schema **schemas; /* current version per table */
        int nschemas;
        char *line;
        size_t line_cap;
        uint64_t offset; /* of the next line */
        uint64_t lineno;
};

static int src_parse(const char *uri, struct zetl_err *err)
{
        if (strncmp(uri, "jsonl:", 6) != 0 || uri[6] == '\0' || strcmp(uri, "jsonl:-") == 0)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "jsonl source needs a file path: jsonl:/path/changes.jsonl");
        return 0;
}

static int src_nop(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        (void)priv;
        (void)cfg;
        (void)err;
        return 0;
}

static int src_open(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct jsonl_source *s = priv;

        snprintf(s->path, sizeof(s->path), "%s", cfg->uri + 6);
        s->once = cfg->once;
        s->f = fopen(s->path, "re");
        if (!s->f)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "opening %s: %s", s->path,
                                    strerror(errno));
        return 0;
}

static void src_close(void *priv)
{
        struct jsonl_source *s = priv;

        if (s->f)
                fclose(s->f);
        for (int i = 0; i < s->nschemas; i++)
                zetl_schema_unref(s->schemas[i]);
        free(s->schemas);
        free(s->line);
        memset(s, 0, sizeof(*s));
}

static struct zetl_schema **find_schema(struct jsonl_source *s, const struct zetl_table_id *id)
{
        for (int i = 0; i < s->nschemas; i++)
                if (zetl_table_id_eq(&s->schemas[i]->id, id))
                        return &s->schemas[i];
        return NULL;
}

static int on_schema(struct jsonl_source *s, struct zetl_emitter *em, json_t *o,
                     struct zetl_err *err)
{
        struct zetl_schema *sch, **slot;
        int rc;

        if ((rc = jsonl_parse_schema(o, &sch, err)))
                return rc;
        slot = find_schema(s, &sch->id);
        if (slot) {
                zetl_schema_unref(*slot);
        } else {
                struct zetl_schema **n =
                        realloc(s->schemas, (size_t)(s->nschemas + 1) * sizeof(*n));
                if (!n) {
                        zetl_schema_unref(sch);
                        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                }
                s->schemas = n;
                slot = &s->schemas[s->nschemas++];
        }
        *slot = sch;
        return zetl_emit_schema(em, sch, err);
}

static int set_row(struct zetl_batch *b, json_t *row, bool keys_only, struct zetl_err *err)
{
        const struct zetl_schema *sch = b->schema;
        const char *name;
        json_t *v;

        json_object_foreach(row, name, v)
        {
                int c = zetl_schema_find(sch, name);
                if (c < 0)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                            "no column \"%s\" in the table's schema", name);
                if (keys_only && sch->cols[c].key_pos == 0)
                        continue;
                int rc = jsonl_set_value(b, c, v, err);
                if (rc)
                        return rc;
        }
        return 0;
}

static int on_change(struct jsonl_source *s, struct zetl_emitter *em, json_t *o,
                     struct zetl_err *err)
{
        struct zetl_table_id id;
        struct zetl_schema **slot;
        struct zetl_batch *b;
        const char *opname = NULL;
        enum zetl_op op;
        uint64_t pos = s->offset;
        json_t *row, *unch, *old, *v;
        size_t i;
        int rc;

        if ((rc = jsonl_parse_table(json_object_get(o, "table"), &id, err)))
                return rc;
        if (!(slot = find_schema(s, &id)))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "change for table %s before its schema line", id.table);
        if (json_unpack(o, "{s:s}", "op", &opname) || zetl_op_parse(opname, &op))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "bad or missing \"op\"");
        if (json_object_get(o, "pos") && jsonl_parse_pos(json_object_get(o, "pos"), &pos))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "bad \"pos\"");
        if (!zetl_emit_wants(em, &id))
                return 0;
        row = json_object_get(o, "row");
        if (!json_is_object(row))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "\"row\" must be an object");
        if ((rc = zetl_emit_row(em, *slot, op, pos, &b, err)))
                return rc;
        if ((rc = set_row(b, row, false, err)))
                goto abort;
        /* Updates and deletes: a column the line leaves out was not sent. */
        if (op == ZETL_OP_UPDATE || op == ZETL_OP_DELETE) {
                for (int c = 0; c < (*slot)->ncols; c++) {
                        if (!json_object_get(row, (*slot)->cols[c].name) &&
                            (rc = zetl_batch_set_unchanged(b, c, err)))
                                goto abort;
                }
        }
        unch = json_object_get(o, "unchanged");
        json_array_foreach(unch, i, v)
        {
                int c = zetl_schema_find(*slot, json_string_value(v) ? json_string_value(v) : "");
                if (c < 0) {
                        rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                          "unknown column in \"unchanged\"");
                        goto abort;
                }
                if ((rc = zetl_batch_set_unchanged(b, c, err)))
                        goto abort;
        }
        old = json_object_get(o, "old_key");
        if (json_is_object(old)) {
                if ((rc = zetl_batch_old_key_begin(b, err)) ||
                    (rc = set_row(b->old, old, true, err)))
                        goto abort;
        }
        zetl_batch_row_end(b);
        return 0;
abort:
        zetl_batch_row_abort(b);
        return rc;
}

static int on_line(struct jsonl_source *s, struct zetl_emitter *em, const char *line,
                   struct zetl_err *err)
{
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        const char *type = NULL;
        int rc = 0;

        /* jansson reports a failed allocation as out_of_memory, or, inside its
         * lexer, with an empty text. */
        if (!o && (json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0]))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                    "%s:%" PRIu64 ": out of memory", s->path, s->lineno);
        if (!o)
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL, "%s:%" PRIu64 ": %s",
                                    s->path, s->lineno, jerr.text);
        if (json_unpack(o, "{s:s}", "type", &type)) {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL, "line has no \"type\"");
        } else if (strcmp(type, "schema") == 0) {
                rc = on_schema(s, em, o, err);
        } else if (strcmp(type, "change") == 0) {
                rc = on_change(s, em, o, err);
        } else if (strcmp(type, "truncate") == 0 || strcmp(type, "drop") == 0) {
                /* A drop (the table left the integration that wrote the log)
                 * leaves no rows behind, as a truncate does; a later schema
                 * line starts the table afresh. */
                struct zetl_table_id id;
                struct zetl_schema **slot;
                if (!(rc = jsonl_parse_table(json_object_get(o, "table"), &id, err))) {
                        slot = find_schema(s, &id);
                        rc = slot ? zetl_emit_truncate(em, *slot, s->offset, err) : 0;
                }
        } else if (strcmp(type, "commit") == 0) {
                struct zetl_position p = { 0 };
                char tok[40];
                json_int_t t = 0;
                json_unpack(o, "{s?I}", "time_us", &t);
                /* Our position is where the next line starts. */
                p.order = s->offset + strlen(line) + 1;
                p.time_us = t;
                snprintf(tok, sizeof(tok), "offset=%" PRIu64, p.order);
                zetl_pos_set(&p, p.order, tok);
                p.time_us = t;
                rc = zetl_emit_commit(em, &p, err);
        } else {
                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL, "unknown line type \"%s\"",
                                  type);
        }
        json_decref(o);
        if (rc && rc != ZETL_ECANCELED && !strstr(err->msg, s->path))
                zetl_err_prefix(err, "%s:%" PRIu64 ": ", s->path, s->lineno);
        return rc;
}

static int seek_resume(struct jsonl_source *s, const struct zetl_resume *r, struct zetl_err *err)
{
        uint64_t off = 0;

        if (r->pos.token[0] && sscanf(r->pos.token, "offset=%" SCNu64, &off) != 1)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "checkpoint token \"%s\" is not a jsonl offset", r->pos.token);
        if (fseeko(s->f, (off_t)off, SEEK_SET) < 0)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "seeking %s: %s", s->path,
                                    strerror(errno));
        s->offset = off;
        /* Schemas of tables are announced again: scan the lines before the
         * resume point for schema lines only. */
        return 0;
}

static int replay_schemas(struct jsonl_source *s, struct zetl_emitter *em, uint64_t upto,
                          struct zetl_err *err)
{
        ssize_t n;
        uint64_t off = 0;
        int rc = 0;

        rewind(s->f);
        while (off < upto && (n = getline(&s->line, &s->line_cap, s->f)) > 0) {
                off += (uint64_t)n;
                s->lineno++;
                if (strncmp(s->line, "{\"type\":\"schema\"", 16) != 0)
                        continue;
                s->line[n - 1] = '\0';
                json_t *o = json_loads(s->line, 0, NULL);
                if (o) {
                        rc = on_schema(s, em, o, err);
                        json_decref(o);
                }
                if (rc)
                        return rc;
        }
        return 0;
}

static int src_run(void *priv, struct zetl_emitter *em, const struct zetl_resume *resume,
                   struct zetl_err *err)
{
        struct jsonl_source *s = priv;
        int rc;

        if (!resume->snapshot_done) {
                /* A file has no snapshot: it is a stream from its first line. */
                struct zetl_position start = { 0 };
                zetl_pos_set(&start, 0, "offset=0");
                if ((rc = zetl_emit_snapshot_done(em, &start, err)))
                        return rc;
        } else {
                if ((rc = seek_resume(s, resume, err)))
                        return rc;
                if ((rc = replay_schemas(s, em, s->offset, err)))
                        return rc;
                fseeko(s->f, (off_t)s->offset, SEEK_SET);
        }
        for (;;) {
                ssize_t n = getline(&s->line, &s->line_cap, s->f);
                if (zetl_emit_stopping(em))
                        return ZETL_ECANCELED;
                if (n <= 0 || s->line[n - 1] != '\n') {
                        /* End of file, or a line still being written. */
                        if (n > 0)
                                fseeko(s->f, (off_t)s->offset, SEEK_SET);
                        clearerr(s->f);
                        if (s->once)
                                return 0;
                        struct zetl_position here = { 0 };
                        zetl_emit_acked(em, &here);
                        if ((rc = zetl_emit_keepalive(em, &here, err)))
                                return rc;
                        struct timespec ts = { 0, 100 * 1000000 };
                        nanosleep(&ts, NULL);
                        continue;
                }
                if ((size_t)n > LINE_MAX_BYTES)
                        return zetl_err_set(err, ZETL_ELIMIT, ZETL_ERRC_FATAL,
                                            "%s:%" PRIu64 ": line longer than %zu bytes", s->path,
                                            s->lineno + 1, LINE_MAX_BYTES);
                s->lineno++;
                s->line[n - 1] = '\0';
                if (n > 1 && (rc = on_line(s, em, s->line, err)))
                        return rc;
                s->offset += (uint64_t)n;
        }
}

static const char *const jsonl_src_schemes[] = { "jsonl", NULL };

const struct zetl_source_ops zetl_jsonl_source = {
        .name = "jsonl",
        .schemes = jsonl_src_schemes,
        .caps = ZETL_SRC_STREAM,
        .priv_size = sizeof(struct jsonl_source),
        .filter_dialect = ZETL_FILTER_ANY,
        .parse = src_parse,
        .setup = src_nop,
        .teardown = src_nop,
        .open = src_open,
        .run = src_run,
        .close = src_close,
};
