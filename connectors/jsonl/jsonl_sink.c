/*
 * The jsonl sink: one JSON object per change (format in jsonl.h), for
 * debugging and pipes. `jsonl:-` writes to standard output; `jsonl:PATH`
 * appends to a file and is exactly-once: commit() writes a commit line and
 * fsyncs, and open() cuts whatever follows the last commit line (the tail of
 * a run that crashed before committing) and resume() reports that commit's
 * position, so the core replays from there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "jsonl.h"
#include "zetl/config.h"
#include "zetl/sink.h"

#define COMMIT_PREFIX "{\"type\":\"commit\""
#define OUT_BUF_FLUSH (1 << 20)

struct jsonl_sink {
        int fd;
        bool is_stdout;
        char path[4096];
        char *buf; /* lines not yet written */
        size_t len, cap;
        struct zetl_position last; /* last commit found in or written to the file */
};

static int jsonl_parse(const char *uri, struct zetl_err *err)
{
        if (strncmp(uri, "jsonl:", 6) != 0 || uri[6] == '\0')
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "jsonl target needs a path or '-': jsonl:/path/file.jsonl");
        return 0;
}

static int flush_buf(struct jsonl_sink *j, struct zetl_err *err)
{
        size_t off = 0;

        while (off < j->len) {
                ssize_t w = zetl_fault_hit(ZETL_FAULT_WRITE) < 0
                                    ? -1
                                    : write(j->fd, j->buf + off, j->len - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "writing %s: %s",
                                            j->path, strerror(errno));
                off += (size_t)w;
        }
        j->len = 0;
        return 0;
}

static int append_json(struct jsonl_sink *j, json_t *o, struct zetl_err *err)
{
        size_t need;

        if (!o)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        need = json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (need == 0) {
                json_decref(o);
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "a value could not be written as JSON");
        }
        if (j->len + need + 1 > j->cap) {
                size_t ncap = j->cap ? j->cap : 65536;
                while (ncap < j->len + need + 1)
                        ncap *= 2;
                char *n = realloc(j->buf, ncap);
                if (!n) {
                        json_decref(o);
                        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                }
                j->buf = n;
                j->cap = ncap;
        }
        /* The second pass can fail too (it allocates): never write half a line. */
        if (json_dumpb(o, j->buf + j->len, need, JSON_COMPACT | JSON_PRESERVE_ORDER) != need) {
                json_decref(o);
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                    "out of memory writing a line");
        }
        json_decref(o);
        j->len += need;
        j->buf[j->len++] = '\n';
        return j->len >= OUT_BUF_FLUSH ? flush_buf(j, err) : 0;
}

/* Find the end of the last complete commit line; parse its position. */
static int find_last_commit(struct jsonl_sink *j, off_t size, off_t *end, struct zetl_err *err)
{
        const size_t block = 1 << 16;
        char *buf = malloc(block + 1);
        off_t hi = size;
        int rc = 0;

        *end = 0;
        if (!buf)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        /* Walk back line by line: a commit line is short, so a block holds it. */
        while (hi > 0) {
                off_t lo = hi > (off_t)block ? hi - (off_t)block : 0;
                ssize_t n = pread(j->fd, buf, (size_t)(hi - lo), lo);
                if (n != hi - lo) {
                        rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "reading %s: %s",
                                          j->path, n < 0 ? strerror(errno) : "short read");
                        goto out;
                }
                buf[n] = '\0';
                /* Lines wholly inside [lo, hi): each starts after a '\n'. */
                for (ssize_t i = n - 1; i >= 0; i--) {
                        if (buf[i] != '\n')
                                continue;
                        /* buf[i] ends a line; find its start. */
                        ssize_t s = i - 1;
                        while (s >= 0 && buf[s] != '\n')
                                s--;
                        if (s < 0 && lo > 0)
                                break; /* the line starts before this block */
                        char *line = buf + s + 1;
                        if (strncmp(line, COMMIT_PREFIX, sizeof(COMMIT_PREFIX) - 1) == 0) {
                                json_t *o;
                                buf[i] = '\0';
                                o = json_loads(line, 0, NULL);
                                if (o) {
                                        uint64_t order = 0;
                                        json_int_t t = 0;
                                        const char *tok = "";
                                        jsonl_parse_pos(json_object_get(o, "pos"), &order);
                                        json_unpack(o, "{s?s,s?I}", "token", &tok, "time_us", &t);
                                        zetl_pos_set(&j->last, order, tok);
                                        j->last.time_us = t;
                                        json_decref(o);
                                        *end = lo + i + 1;
                                        goto out;
                                }
                        }
                        i = s + 1;
                }
                if (lo == 0)
                        break;
                /* Continue before the partial first line of this block. */
                char *nl = memchr(buf, '\n', (size_t)n);
                hi = nl ? lo + (nl - buf) + 1 : lo;
                if (hi == lo + n)
                        hi = lo;
        }
out:
        free(buf);
        return rc;
}

static int jsonl_open(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct jsonl_sink *j = priv;
        const char *path = cfg->uri + 6;
        struct stat st;
        off_t end;
        int rc = 0;

        snprintf(j->path, sizeof(j->path), "%s", path);
        if (strcmp(path, "-") == 0) {
                j->fd = STDOUT_FILENO;
                j->is_stdout = true;
                return 0;
        }
        j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (j->fd < 0)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "opening %s: %s", path,
                                    strerror(errno));
        if (fstat(j->fd, &st) < 0 || (rc = find_last_commit(j, st.st_size, &end, err)) != 0) {
                rc = rc ? rc : zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "%s", strerror(errno));
                close(j->fd);
                j->fd = -1;
                return rc;
        }
        /* Lines after the last commit were never committed: the core replays them. */
        if (end < st.st_size && (ftruncate(j->fd, end) < 0 || fsync(j->fd) < 0)) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "truncating %s: %s", path,
                                  strerror(errno));
                close(j->fd);
                j->fd = -1;
                return rc;
        }
        lseek(j->fd, end, SEEK_SET);
        return 0;
}

static int jsonl_resume(void *priv, struct zetl_position *out, struct zetl_err *err)
{
        struct jsonl_sink *j = priv;

        (void)err;
        *out = j->last;
        return 0;
}

/* zetl check: the file's directory must exist and be writable; an existing
 * file is appended to (from its last commit line). */
static int jsonl_check(void *priv, const struct zetl_conn_cfg *cfg, bool fix,
                       struct zetl_check_report *r, struct zetl_err *err)
{
        const char *path = cfg->uri + 6;
        char dir[4096];
        const char *slash = strrchr(path, '/');
        struct stat st;

        (void)priv;
        (void)fix;
        (void)err;
        if (strcmp(path, "-") == 0) {
                zetl_check_add(r, ZETL_CHECK_OK, "output", "standard output");
                return 0;
        }
        snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
                 slash ? path : ".");
        if (access(dir, W_OK | X_OK) != 0) {
                struct zetl_check_item *it = zetl_check_add(r, ZETL_CHECK_FAIL, "directory",
                                                            "%.400s: %s", dir, strerror(errno));
                if (it)
                        snprintf(it->fix, sizeof(it->fix),
                                 "create it, writable by the user running zetl: mkdir -p %.400s",
                                 dir);
                return 0;
        }
        zetl_check_add(r, ZETL_CHECK_OK, "directory", "%.400s is writable", dir);
        if (stat(path, &st) == 0)
                zetl_check_add(r, ZETL_CHECK_WARN, "file",
                               "%.400s exists (%lld bytes): a new integration appends to it, "
                               "after cutting anything past its last commit line",
                               path, (long long)st.st_size);
        return 0;
}

static int jsonl_nop(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        (void)priv;
        (void)cfg;
        (void)err;
        return 0;
}

static int jsonl_schema_fn(void *priv, const struct zetl_schema *old, const struct zetl_schema *new,
                           const struct zetl_schema_diff *diff, struct zetl_err *err)
{
        return append_json(priv, jsonl_schema(old, new, diff), err);
}

static json_t *row_object(const struct zetl_batch *b, uint32_t r, bool keys_only)
{
        json_t *o = json_object();

        for (int c = 0; o && c < b->schema->ncols; c++) {
                if (keys_only ? b->schema->cols[c].key_pos == 0 : zetl_batch_is_unchanged(b, c, r))
                        continue;
                json_t *v = jsonl_value(b, c, r);
                if (!v || json_object_set_new(o, b->schema->cols[c].name, v)) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

static int jsonl_write(void *priv, const struct zetl_batch *b, struct zetl_err *err)
{
        json_t *table = jsonl_table(&b->schema->id);
        int rc = 0;

        for (uint32_t r = 0; r < b->nrows && rc == 0; r++) {
                json_t *o = json_pack("{s:s,s:O,s:s,s:o,s:o}", "type", "change", "table", table,
                                      "op", zetl_op_name((enum zetl_op)b->ops[r]), "pos",
                                      jsonl_pos(b->pos[r]), "row", row_object(b, r, false));
                /* Every part must make it into the line, or the line is not
                 * written (a change without its old key would be wrong, not
                 * just incomplete). */
                bool whole = o != NULL;
                if (o && b->cols) {
                        json_t *unch = NULL;
                        for (int c = 0; whole && c < b->schema->ncols; c++) {
                                if (!zetl_batch_is_unchanged(b, c, r))
                                        continue;
                                if (!unch && !(unch = json_array()))
                                        whole = false;
                                else if (json_array_append_new(
                                                 unch, json_string(b->schema->cols[c].name)))
                                        whole = false;
                        }
                        if (unch && json_object_set_new(o, "unchanged", unch))
                                whole = false;
                        int32_t ok = zetl_batch_old_key_row(b, r);
                        if (whole && ok >= 0 &&
                            json_object_set_new(o, "old_key",
                                                row_object(b->old, (uint32_t)ok, true)))
                                whole = false;
                }
                if (o && !whole) {
                        json_decref(o);
                        o = NULL;
                }
                rc = append_json(priv, o, err);
        }
        json_decref(table);
        return rc;
}

static int jsonl_truncate(void *priv, const struct zetl_schema *s, uint64_t pos,
                          struct zetl_err *err)
{
        return append_json(priv,
                           json_pack("{s:s,s:o,s:o}", "type", "truncate", "table",
                                     jsonl_table(&s->id), "pos", jsonl_pos(pos)),
                           err);
}

/* A table the filters no longer select: readers forget its rows and shape. */
static int jsonl_drop(void *priv, const struct zetl_schema *s, struct zetl_err *err)
{
        return append_json(
                priv, json_pack("{s:s,s:o}", "type", "drop", "table", jsonl_table(&s->id)), err);
}

static int jsonl_commit(void *priv, const struct zetl_position *pos, struct zetl_err *err)
{
        struct jsonl_sink *j = priv;
        int rc;

        if (zetl_pos_is_set(pos)) {
                rc = append_json(j,
                                 json_pack("{s:s,s:o,s:s,s:I}", "type", "commit", "pos",
                                           jsonl_pos(pos->order), "token", pos->token, "time_us",
                                           (json_int_t)pos->time_us),
                                 err);
                if (rc)
                        return rc;
        }
        if ((rc = flush_buf(j, err)))
                return rc;
        if (!j->is_stdout && (zetl_fault_hit(ZETL_FAULT_FSYNC) < 0 || fsync(j->fd) < 0))
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "fsync %s: %s", j->path,
                                    strerror(errno));
        if (zetl_pos_is_set(pos))
                j->last = *pos;
        return 0;
}

static void jsonl_close(void *priv)
{
        struct jsonl_sink *j = priv;

        /* Uncommitted lines are dropped on purpose (see the sink contract). */
        free(j->buf);
        j->buf = NULL;
        if (!j->is_stdout && j->fd > 0)
                close(j->fd);
        j->fd = -1;
}

static const char *const jsonl_schemes[] = { "jsonl", NULL };

const struct zetl_sink_ops zetl_jsonl_sink = {
        .name = "jsonl",
        .schemes = jsonl_schemes,
        .caps = ZETL_SINK_STORES_POSITION,
        .priv_size = sizeof(struct jsonl_sink),
        .parse = jsonl_parse,
        .setup = jsonl_nop,
        .teardown = jsonl_nop,
        .check = jsonl_check,
        .open = jsonl_open,
        .resume = jsonl_resume,
        .schema = jsonl_schema_fn,
        .write = jsonl_write,
        .truncate = jsonl_truncate,
        .commit = jsonl_commit,
        .close = jsonl_close,
        .drop = jsonl_drop,
};
