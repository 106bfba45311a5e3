/*
 * The Iceberg sink: `iceberg:PATH` is a warehouse directory in the Hadoop
 * catalog layout; each source table becomes the v2 table
 * PATH/<db>/<schema>/<table> (PostgreSQL) or PATH/<db>/<table> (MySQL).
 *
 * A commit of the core becomes, per table that changed, one Iceberg
 * snapshot: an equality-delete file on the primary key for every key the
 * table may already hold, then data files with the last version of each key
 * (changes are collapsed by key in ice_buf, because an equality delete only
 * reaches data of a smaller sequence number), new manifests, a manifest
 * list carrying the previous snapshot's manifests forward, and the
 * metadata commit, whose summary records the source position.
 *
 * Exactly-once: the table positions say how far each table is; a marker in
 * the integration's state folder records the last commit that reached every
 * table (idle tables included), and resume() reports it, or an older table
 * position when a table was rolled back. Replaying from there is idempotent
 * because each replayed key gets a delete before its row (docs/iceberg.md
 * has the argument). The initial sync streams SNAPSHOT rows straight into
 * Parquet writers, without buffering.
 *
 * Files this sink writes are named zetl-* (data and delete files in data/,
 * manifests in metadata/) and snap-<id>-zetl-* (manifest lists): what no
 * snapshot reaches any more (a crash between the data files and the
 * metadata commit, expired snapshots) is deleted once a newer metadata file
 * exists, at open and after a table's first commit of a run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "fsutil.h"
#include "ice_buf.h"
#include "ice_compact.h"
#include "ice_meta.h"
#include "ice_schema.h"
#include "manifest.h"
#include "parquet.h"
#include "zetl/config.h"
#include "zetl/emit.h"
#include "zetl/log.h"
#include "zetl/sink.h"

#define MARKER_NAME      "iceberg-sink.json"
#define MARKER_MAX       (16u << 20)
#define SUMMARY_MAX_POS  "zetl.max-row-pos"
#define EXPIRE_EVERY     100 /* commits of a table between expiries */
#define KEEP_ANCESTORS   1
#define ROWS_PER_WRITE   8192
#define DEF_MERGE_AT     100 /* carried manifests merged into one per content past this */
#define DEF_TARGET_FILE  (INT64_C(128) << 20)
#define DEF_ROW_GROUP    (INT64_C(32) << 20)
#define DEF_BUFFER_BYTES (INT64_C(256) << 20)
#define DEF_RETENTION_MS INT64_C(3600000)

/* A data or delete file written in this commit, not yet in a snapshot. */
struct ice_file {
        char *path; /* absolute */
        int content;
        struct pq_file_metrics m;
};

/* A Parquet file being written. */
struct fw {
        struct pq_writer *w;
        int fd;
        char *path;
};

struct ice_tbl {
        struct zetl_table_id id;
        bool has_id;
        char *dir;
        struct ice_meta *meta;
        const struct zetl_schema *zs; /* the shape last given (a reference) */
        struct pq_column *cols;       /* data files: one per zetl column */
        struct pq_column *kcols;      /* delete files: the key columns */
        int nkcols;
        int32_t *eq_ids;
        char **pq_names;    /* Parquet column names, per zetl column */
        char *schema_json;  /* "iceberg.schema" of data files */
        char *kschema_json; /* of delete files */
        bool failed;
        uint64_t floor; /* highest row position the table ever committed */

        /* This commit. */
        struct ice_buf *buf;
        struct fw sw; /* the initial sync's streaming writer */
        uint64_t sw_max_pos;
        struct ice_file *files;
        int nfiles, capfiles;
        bool truncate; /* the snapshot drops every earlier file */

        bool cleaned; /* orphans removed in this run */
        int commits;  /* snapshots made in this run */
        bool in_marker;
        int64_t marker_snapshot;
};

struct ice_sink {
        char root[PATH_MAX];
        char *state_dir;
        char *integration;
        int64_t target_file_size;
        int64_t row_group_bytes;
        int64_t buffer_bytes;
        int64_t retention_ms;
        int64_t merge_at;
        int64_t compact_deletes; /* compact a table past this many delete files; 0: never */
        char run[17];            /* random hex naming this run's files */
        uint64_t nfile;
        struct ice_tbl **tbls;
        int ntbls, captbls;
        bool has_marker;
        struct zetl_position marker_pos;
};

/* ---- small helpers -------------------------------------------------------------------------- */

static int enomem(struct zetl_err *err)
{
        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "iceberg: out of memory");
}

static int64_t wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int table_dir(const struct ice_sink *s, const struct zetl_table_id *id, char **out,
                     struct zetl_err *err)
{
        char buf[PATH_MAX];
        size_t at = strlen(s->root);
        char name[ZETL_NAME_MAX * 3];

        memcpy(buf, s->root, at + 1);
        const char *parts[3] = { id->db, id->schema, id->table };
        for (int i = 0; i < 3; i++) {
                if (i == 1 && !id->schema[0])
                        continue;
                if (at + 2 >= sizeof(buf))
                        goto too_long;
                buf[at++] = '/';
                if (ice_dir_component(buf, sizeof(buf), &at, parts[i], strlen(parts[i])))
                        goto too_long;
        }
        if (!(*out = strdup(buf)))
                return enomem(err);
        return 0;

too_long:
        return zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL,
                            "iceberg: the directory name of table %s is too long or empty",
                            zetl_table_id_str(id, name, sizeof(name)));
}

static int fsync_path(const char *path, struct zetl_err *err)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int rc = 0;

        if (fd < 0 || zetl_fault_hit(ZETL_FAULT_FSYNC) < 0 || fsync(fd) < 0)
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "iceberg: fsync %s: %s", path,
                                  strerror(errno));
        if (fd >= 0)
                close(fd);
        return rc;
}

static int64_t summary_int(const struct ice_snapshot *sn, const char *key)
{
        const char *v = sn ? ice_snapshot_get(sn, key) : NULL;

        return v ? strtoll(v, NULL, 10) : 0;
}

/* ---- tables -----------------------------------------------------------------------------------
 */

static void file_free(struct ice_file *f)
{
        free(f->path);
        pq_file_metrics_free(&f->m);
}

static void fw_abort(struct fw *f)
{
        pq_writer_free(f->w);
        if (f->fd >= 0)
                close(f->fd);
        if (f->path)
                unlink(f->path);
        free(f->path);
        f->w = NULL;
        f->fd = -1;
        f->path = NULL;
}

/* Forget what this commit wrote for t; uncommitted files are deleted. */
static void tbl_discard(struct ice_tbl *t)
{
        fw_abort(&t->sw);
        t->sw_max_pos = 0;
        for (int i = 0; i < t->nfiles; i++) {
                unlink(t->files[i].path);
                file_free(&t->files[i]);
        }
        t->nfiles = 0;
        ice_buf_free(t->buf);
        t->buf = NULL;
        t->truncate = false;
}

static void tbl_free_shape(struct ice_tbl *t)
{
        for (int j = 0; t->pq_names && t->zs && j < t->zs->ncols; j++)
                free(t->pq_names[j]);
        free(t->pq_names);
        t->pq_names = NULL;
        free(t->cols);
        free(t->kcols);
        free(t->eq_ids);
        free(t->schema_json);
        free(t->kschema_json);
        t->cols = NULL;
        t->kcols = NULL;
        t->eq_ids = NULL;
        t->schema_json = NULL;
        t->kschema_json = NULL;
        if (t->zs)
                zetl_schema_unref(t->zs);
        t->zs = NULL;
}

static void tbl_free(struct ice_tbl *t)
{
        tbl_discard(t);
        free(t->files);
        tbl_free_shape(t);
        ice_meta_free(t->meta);
        free(t->dir);
        free(t);
}

static struct ice_tbl *tbl_by_dir(struct ice_sink *s, const char *dir)
{
        for (int i = 0; i < s->ntbls; i++)
                if (strcmp(s->tbls[i]->dir, dir) == 0)
                        return s->tbls[i];
        return NULL;
}

static struct ice_tbl *tbl_by_id(struct ice_sink *s, const struct zetl_table_id *id)
{
        for (int i = 0; i < s->ntbls; i++)
                if (s->tbls[i]->has_id && zetl_table_id_eq(&s->tbls[i]->id, id))
                        return s->tbls[i];
        return NULL;
}

static int tbl_add(struct ice_sink *s, const char *dir, struct ice_tbl **out, struct zetl_err *err)
{
        struct ice_tbl *t;

        if (s->ntbls == s->captbls) {
                int n = s->captbls ? s->captbls * 2 : 16;
                struct ice_tbl **v = realloc(s->tbls, (size_t)n * sizeof(*v));
                if (!v)
                        return enomem(err);
                s->tbls = v;
                s->captbls = n;
        }
        if (!(t = calloc(1, sizeof(*t))) || !(t->dir = strdup(dir))) {
                free(t);
                return enomem(err);
        }
        t->sw.fd = -1;
        t->marker_snapshot = -1;
        s->tbls[s->ntbls++] = t;
        *out = t;
        return 0;
}

/* The table for id, made (not yet loaded) if new. */
static int tbl_get(struct ice_sink *s, const struct zetl_table_id *id, struct ice_tbl **out,
                   struct zetl_err *err)
{
        char *dir = NULL;
        int rc;

        if ((*out = tbl_by_id(s, id)))
                return 0;
        if ((rc = table_dir(s, id, &dir, err)))
                return rc;
        if (!(*out = tbl_by_dir(s, dir)))
                rc = tbl_add(s, dir, out, err);
        free(dir);
        if (rc)
                return rc;
        (*out)->id = *id;
        (*out)->has_id = true;
        return 0;
}

/* The highest row position recorded by the current snapshot: inserts up to
 * it may be replays and need a delete. A table written by another tool (no
 * record but data) gets the most careful floor. */
static uint64_t floor_of(const struct ice_meta *m)
{
        const struct ice_snapshot *sn = ice_meta_snapshot(m, -1);
        const char *v = sn ? ice_snapshot_get(sn, SUMMARY_MAX_POS) : NULL;

        if (!sn)
                return 0;
        return v ? strtoull(v, NULL, 10) : UINT64_MAX;
}

static int tbl_load(struct ice_tbl *t, struct zetl_err *err)
{
        int rc;

        ice_meta_free(t->meta);
        t->meta = NULL;
        if ((rc = ice_meta_load(t->dir, &t->meta, err)))
                return rc;
        t->floor = floor_of(t->meta);
        return 0;
}

/* A Parquet column name as Iceberg's Java writer makes it (Avro's rule:
 * letters, digits and '_' stay, a leading digit gets a '_' before it, any
 * other UTF-16 unit becomes _xHEX), which readers that look columns up by
 * name (icebird) expect; readers that use field ids do not care. */
static char *parquet_name(const char *name)
{
        size_t n = strlen(name);
        char *out = malloc(n * 14 + 2), *o = out;
        const unsigned char *p = (const unsigned char *)name;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n;) {
                uint32_t cp = p[i];
                int len = cp < 0x80 ? 1 : cp < 0xE0 ? 2 : cp < 0xF0 ? 3 : 4;
                if (i + (size_t)len > n)
                        len = 1;
                for (int k = 1; k < len; k++)
                        cp = (k == 1 ? cp & (0xFF >> (len + 1)) : cp) << 6 | (p[i + k] & 0x3F);
                bool alpha = (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
                bool digit = cp >= '0' && cp <= '9';
                if (alpha || (digit && i > 0)) {
                        *o++ = (char)cp;
                } else if (digit) {
                        *o++ = '_';
                        *o++ = (char)cp;
                } else if (cp > 0xFFFF) {
                        cp -= 0x10000;
                        o += sprintf(o, "_x%X_x%X", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
                } else {
                        o += sprintf(o, "_x%X", cp);
                }
                i += (size_t)len;
        }
        *o = '\0';
        return out;
}

/* The delete files' schema: the identifier fields only. */
static char *key_schema_json(const struct ice_schema *cur)
{
        struct ice_schema *ks = ice_schema_new(cur->nident, cur->nident);
        char *json = NULL;

        if (!ks)
                return NULL;
        ks->schema_id = cur->schema_id;
        for (int k = 0; k < cur->nident; k++) {
                int i = ice_schema_find_id(cur, cur->ident_ids[k]);
                if (i < 0 || !(ks->fields[k].name = strdup(cur->fields[i].name)))
                        goto out;
                ks->fields[k].id = cur->fields[i].id;
                ks->fields[k].required = true;
                ks->fields[k].type = cur->fields[i].type;
                ks->ident_ids[k] = cur->ident_ids[k];
        }
        json = ice_schema_dumps(ks);
out:
        ice_schema_free(ks);
        return json;
}

/* Set t's shape from zetl schema zs and the field ids of its columns. */
static int tbl_set_shape(struct ice_tbl *t, const struct zetl_schema *zs, const int *field_ids,
                         struct zetl_err *err)
{
        const struct ice_schema *cur = ice_meta_schema(t->meta, -1);

        tbl_free_shape(t);
        t->cols = calloc((size_t)zs->ncols + 1, sizeof(*t->cols));
        t->kcols = calloc((size_t)zs->nkeys + 1, sizeof(*t->kcols));
        t->eq_ids = calloc((size_t)zs->nkeys + 1, sizeof(*t->eq_ids));
        t->pq_names = calloc((size_t)zs->ncols + 1, sizeof(char *));
        if (!t->cols || !t->kcols || !t->eq_ids || !t->pq_names || !cur)
                goto enomem;
        t->zs = zetl_schema_ref(zs);
        for (int j = 0; j < zs->ncols; j++)
                if (!(t->pq_names[j] = parquet_name(zs->cols[j].name)))
                        goto enomem;
        for (int j = 0; j < zs->ncols; j++) {
                int fi = ice_schema_find_id(cur, field_ids[j]);
                if (fi < 0)
                        return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                            "iceberg: %s: column %s has no field %d in the "
                                            "current schema",
                                            t->dir, zs->cols[j].name, field_ids[j]);
                const struct ice_field *f = &cur->fields[fi];
                t->cols[j] = (struct pq_column){
                        .field_id = f->id,
                        .name = t->pq_names[j],
                        .type = ice_type_to_zetl(&f->type),
                        .precision = f->type.precision,
                        .scale = f->type.scale,
                        .required = f->required,
                        .batch_col = j,
                };
        }
        t->nkcols = zs->nkeys;
        for (int k = 1; k <= zs->nkeys; k++) {
                int j = zetl_schema_key_col(zs, k);
                t->kcols[k - 1] = t->cols[j];
                t->kcols[k - 1].required = true;
                t->eq_ids[k - 1] = t->cols[j].field_id;
        }
        if (!(t->schema_json = ice_schema_dumps(cur)) || !(t->kschema_json = key_schema_json(cur)))
                goto enomem;
        return 0;

enomem:
        return enomem(err);
}

/* ---- files -------------------------------------------------------------------------------------
 */

static int fw_open(struct ice_sink *s, struct ice_tbl *t, bool deletes, struct fw *f,
                   struct zetl_err *err)
{
        struct pq_options o = {
                .codec = PQ_CODEC_ZSTD,
                .row_group_bytes = (size_t)s->row_group_bytes,
                .iceberg_schema = deletes ? t->kschema_json : t->schema_json,
                .fsync = true,
        };
        char path[PATH_MAX];
        int rc;

        if (snprintf(path, sizeof(path), "%s/data/zetl-%s-%05" PRIu64 "%s.parquet", t->dir, s->run,
                     ++s->nfile, deletes ? "-deletes" : "") >= (int)sizeof(path))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "iceberg: %s: path too long",
                                    t->dir);
        f->fd = -1;
        if (!(f->path = strdup(path)))
                return enomem(err);
        /* O_EXCL: a name is never reused, so no committed file is ever overwritten. */
        f->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (f->fd < 0) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "iceberg: create %s: %s",
                                  path, strerror(errno));
                free(f->path);
                f->path = NULL;
                return rc;
        }
        rc = deletes ? pq_writer_open(f->fd, t->kcols, t->nkcols, &o, &f->w, err)
                     : pq_writer_open(f->fd, t->cols, t->zs->ncols, &o, &f->w, err);
        if (rc)
                fw_abort(f);
        return rc;
}

/* Finish f and add it to t's files of this commit. */
static int fw_close(struct ice_tbl *t, struct fw *f, bool deletes, struct zetl_err *err)
{
        struct pq_file_metrics m = { 0 };
        struct pq_writer *w = f->w;
        int rc;

        f->w = NULL;
        if (t->nfiles == t->capfiles) {
                int n = t->capfiles ? t->capfiles * 2 : 8;
                struct ice_file *v = realloc(t->files, (size_t)n * sizeof(*v));
                if (!v) {
                        f->w = w;
                        fw_abort(f);
                        return enomem(err);
                }
                t->files = v;
                t->capfiles = n;
        }
        rc = pq_writer_close(w, &m, err);
        if (rc == 0 && close(f->fd) < 0)
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "iceberg: close %s: %s",
                                  f->path, strerror(errno));
        else if (rc)
                close(f->fd);
        f->fd = -1;
        if (rc) {
                pq_file_metrics_free(&m);
                fw_abort(f);
                return rc;
        }
        t->files[t->nfiles++] = (struct ice_file){
                .path = f->path,
                .content = deletes ? ICE_CONTENT_EQUALITY_DELETES : ICE_CONTENT_DATA,
                .m = m,
        };
        f->path = NULL;
        return 0;
}

/* Write rows of b into files of at most the target size. */
static int write_rows(struct ice_sink *s, struct ice_tbl *t, bool deletes,
                      const struct zetl_batch *b, const uint32_t *rows, uint32_t n,
                      struct zetl_err *err)
{
        struct fw f = { .fd = -1 };
        int rc = 0;

        for (uint32_t at = 0; at < n && rc == 0;) {
                uint32_t k = n - at < ROWS_PER_WRITE ? n - at : ROWS_PER_WRITE;
                if (!f.w && (rc = fw_open(s, t, deletes, &f, err)))
                        break;
                rc = pq_writer_write(f.w, b, rows + at, k, err);
                at += k;
                if (rc == 0 && (pq_writer_bytes(f.w) >= (uint64_t)s->target_file_size || at == n))
                        rc = fw_close(t, &f, deletes, err);
        }
        if (rc)
                fw_abort(&f);
        return rc;
}

/* ---- the snapshot of one commit ----------------------------------------------------------------
 */

static int fill_entry(const struct ice_file *f, const char *loc, const struct ice_tbl *t,
                      int64_t snap, int64_t seq, struct ice_file_lists *a,
                      struct ice_manifest_entry *e)
{
        *e = (struct ice_manifest_entry){
                .status = ICE_STATUS_ADDED,
                .has_snapshot_id = true,
                .snapshot_id = snap,
                .has_sequence_number = true,
                .sequence_number = seq,
                .has_file_sequence_number = true,
                .file_sequence_number = seq,
        };
        if (ice_data_file_from_parquet(&f->m, f->content, loc, a, &e->file))
                return ZETL_ENOMEM;
        if (f->content == ICE_CONTENT_EQUALITY_DELETES) {
                e->file.equality_ids = t->eq_ids;
                e->file.n_equality_ids = (size_t)t->nkcols;
        }
        return 0;
}

/* Write the manifest of this commit's files of one content (if any) and
 * fill its manifest-list entry. *written is false when there were none. */
static int write_manifest(struct ice_sink *s, struct ice_tbl *t, int content, int64_t snap,
                          int64_t seq, struct ice_manifest_file *mf, char **mpath, bool *written,
                          struct zetl_err *err)
{
        const struct ice_schema *cur = ice_meta_schema(t->meta, -1);
        struct ice_manifest_entry *e = calloc((size_t)t->nfiles + 1, sizeof(*e));
        struct ice_file_lists *a = calloc((size_t)t->nfiles + 1, sizeof(*a));
        char **locs = calloc((size_t)t->nfiles + 1, sizeof(char *));
        char rel[128], path[PATH_MAX], loc[PATH_MAX + 16];
        struct ice_manifest man = { 0 };
        int64_t len = 0, rows = 0;
        size_t n = 0;
        int rc = 0;

        *written = false;
        if (!e || !a || !locs) {
                rc = enomem(err);
                goto out;
        }
        for (int i = 0; i < t->nfiles; i++) {
                const struct ice_file *f = &t->files[i];
                if (f->content != content)
                        continue;
                locs[n] = malloc(PATH_MAX + 16);
                if (!locs[n] || ice_path_to_location(f->path, locs[n], PATH_MAX + 16)) {
                        rc = locs[n] ? zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                                    "iceberg: %s cannot be a location", f->path)
                                     : enomem(err);
                        n += locs[n] != NULL;
                        goto out;
                }
                if (fill_entry(f, locs[n], t, snap, seq, &a[n], &e[n])) {
                        n++;
                        rc = enomem(err);
                        goto out;
                }
                rows += f->m.record_count;
                n++;
        }
        if (n == 0)
                goto out;
        snprintf(rel, sizeof(rel), "metadata/zetl-%s-%05" PRIu64 "-m%d.avro", s->run, ++s->nfile,
                 content == ICE_CONTENT_DATA ? 0 : 1);
        if (snprintf(path, sizeof(path), "%s/%s", t->dir, rel) >= (int)sizeof(path) ||
            ice_meta_location_of(t->meta, rel, loc, sizeof(loc))) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "iceberg: %s: path too long",
                                  t->dir);
                goto out;
        }
        man.schema_json = t->schema_json;
        man.schema_id = cur ? cur->schema_id : 0;
        man.content = content == ICE_CONTENT_DATA ? ICE_MANIFEST_DATA : ICE_MANIFEST_DELETES;
        man.entries = e;
        man.n_entries = n;
        if ((rc = ice_manifest_write(path, &man, ICE_AVRO_CODEC_DEFLATE, &len, err)))
                goto out;
        if (!(*mpath = strdup(loc))) {
                rc = enomem(err);
                goto out;
        }
        *mf = (struct ice_manifest_file){
                .manifest_path = *mpath,
                .manifest_length = len,
                .partition_spec_id = 0,
                .content = man.content,
                .sequence_number = seq,
                .min_sequence_number = seq,
                .added_snapshot_id = snap,
                .added_files_count = (int32_t)n,
                .added_rows_count = rows,
        };
        *written = true;
out:
        for (size_t i = 0; i < n; i++) {
                ice_file_lists_free(&a[i]);
                free(locs[i]);
        }
        free(locs);
        free(a);
        free(e);
        return rc;
}

struct totals {
        int64_t data_files, delete_files, records, eq_deletes, pos_deletes;
};

static void add_totals(struct totals *tt, const struct ice_manifest_file *mf)
{
        int64_t files = mf->added_files_count + mf->existing_files_count;
        int64_t rows = mf->added_rows_count + mf->existing_rows_count;

        if (mf->content == ICE_MANIFEST_DATA) {
                tt->data_files += files;
                tt->records += rows;
        } else {
                tt->delete_files += files;
                tt->eq_deletes += rows; /* zetl writes equality deletes only */
        }
}

struct kvs {
        struct ice_kv kv[16];
        char val[16][32];
        int n;
};

static void kv_put(struct kvs *k, const char *key, int64_t v)
{
        snprintf(k->val[k->n], sizeof(k->val[0]), "%" PRId64, v);
        k->kv[k->n].key = (char *)key;
        k->kv[k->n].value = k->val[k->n];
        k->n++;
}

/*
 * Merge the carried manifests of one content into a single manifest whose
 * entries are EXISTING (with their own snapshot id and sequence numbers), so
 * that a table committing every few seconds keeps a short manifest list.
 * *written is false when prev has no manifest of that content.
 */
static int merge_manifests(struct ice_sink *s, struct ice_tbl *t,
                           const struct ice_manifest_list *prev, int32_t content, int64_t snap,
                           int64_t seq, struct ice_manifest_file *mf, char **mpath, bool *written,
                           struct zetl_err *err)
{
        struct ice_manifest **in = calloc(prev->n_files + 1, sizeof(*in));
        struct ice_manifest_entry *e = NULL;
        struct ice_manifest man = { 0 };
        const struct ice_schema *cur = ice_meta_schema(t->meta, -1);
        char rel[128], path[PATH_MAX], loc[PATH_MAX + 16], mp[PATH_MAX];
        size_t nin = 0, total = 0, n = 0;
        int64_t rows = 0, min_seq = seq, len = 0;
        int rc = 0;

        *written = false;
        if (!in)
                return enomem(err);
        for (size_t i = 0; i < prev->n_files && rc == 0; i++) {
                const struct ice_manifest_file *f = &prev->files[i];
                if (f->content != content)
                        continue;
                if (ice_location_to_path(f->manifest_path, mp, sizeof(mp))) {
                        rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                          "iceberg: manifest %s is not a local file",
                                          f->manifest_path);
                        break;
                }
                if ((rc = ice_manifest_read(mp, &in[nin], err)) == 0)
                        total += in[nin++]->n_entries;
        }
        if (rc || nin == 0)
                goto out;
        if (!(e = calloc(total + 1, sizeof(*e)))) {
                rc = enomem(err);
                goto out;
        }
        for (size_t i = 0, k = 0; i < prev->n_files; i++) {
                const struct ice_manifest_file *f = &prev->files[i];
                if (f->content != content)
                        continue;
                for (size_t j = 0; j < in[k]->n_entries; j++) {
                        const struct ice_manifest_entry *x = &in[k]->entries[j];
                        if (x->status == ICE_STATUS_DELETED)
                                continue;
                        e[n] = *x;
                        e[n].status = ICE_STATUS_EXISTING;
                        /* Inherited values become explicit: EXISTING entries need them. */
                        if (!x->has_snapshot_id)
                                e[n].snapshot_id = f->added_snapshot_id;
                        if (!x->has_sequence_number)
                                e[n].sequence_number = f->sequence_number;
                        if (!x->has_file_sequence_number)
                                e[n].file_sequence_number = f->sequence_number;
                        e[n].has_snapshot_id = e[n].has_sequence_number = true;
                        e[n].has_file_sequence_number = true;
                        if (e[n].sequence_number < min_seq)
                                min_seq = e[n].sequence_number;
                        rows += e[n].file.record_count;
                        n++;
                }
                k++;
        }
        if (n == 0)
                goto out;
        snprintf(rel, sizeof(rel), "metadata/zetl-%s-%05" PRIu64 "-merged.avro", s->run,
                 ++s->nfile);
        if (snprintf(path, sizeof(path), "%s/%s", t->dir, rel) >= (int)sizeof(path) ||
            ice_meta_location_of(t->meta, rel, loc, sizeof(loc))) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "iceberg: %s: path too long",
                                  t->dir);
                goto out;
        }
        man.schema_json = t->schema_json;
        man.schema_id = cur ? cur->schema_id : 0;
        man.content = content;
        man.entries = e;
        man.n_entries = n;
        if ((rc = ice_manifest_write(path, &man, ICE_AVRO_CODEC_DEFLATE, &len, err)))
                goto out;
        if (!(*mpath = strdup(loc))) {
                rc = enomem(err);
                goto out;
        }
        *mf = (struct ice_manifest_file){
                .manifest_path = *mpath,
                .manifest_length = len,
                .content = content,
                .sequence_number = seq,
                .min_sequence_number = min_seq,
                .added_snapshot_id = snap,
                .existing_files_count = (int32_t)n,
                .existing_rows_count = rows,
        };
        *written = true;
out:
        for (size_t i = 0; i < nin; i++)
                ice_manifest_free(in[i]);
        free(in);
        free(e);
        return rc;
}

/* The list of the new snapshot: this commit's manifests, then (unless the
 * table is truncated) the parent's manifests, carried as they are. */
static int write_snapshot(struct ice_sink *s, struct ice_tbl *t, const struct zetl_position *pos,
                          uint64_t max_pos, struct zetl_err *err)
{
        struct ice_meta *m = t->meta;
        const struct ice_snapshot *parent = ice_meta_snapshot(m, -1);
        struct ice_manifest_list *prev = NULL;
        struct ice_manifest_list list = { 0 };
        struct ice_manifest_file *mfs = NULL;
        char *mpaths[4] = { NULL, NULL, NULL, NULL };
        char rel[160], path[PATH_MAX], loc[PATH_MAX + 16], lpath[PATH_MAX];
        int64_t snap, seq = ice_meta_next_sequence(m), added_rows = 0, added_eq = 0, added_size = 0;
        int added_data = 0, added_del = 0;
        struct totals tt = { 0 };
        struct kvs kv = { .n = 0 };
        bool written;
        size_t nmf = 0;
        int rc;

        if ((rc = ice_meta_new_snapshot_id(m, &snap, err)))
                return rc;
        if (parent && !t->truncate) {
                if ((rc = ice_location_to_path(parent->manifest_list, lpath, sizeof(lpath)))) {
                        rc = zetl_err_set(err, rc, ZETL_ERRC_FATAL,
                                          "iceberg: %s: manifest list %s is not a local file",
                                          t->dir, parent->manifest_list);
                        goto out;
                }
                if ((rc = ice_manifest_list_read(lpath, &prev, err)))
                        goto out;
        }
        mfs = calloc(2 + (prev ? prev->n_files : 0), sizeof(*mfs));
        if (!mfs) {
                rc = enomem(err);
                goto out;
        }
        for (int c = 0; c < 2; c++) {
                int content = c == 0 ? ICE_CONTENT_EQUALITY_DELETES : ICE_CONTENT_DATA;
                rc = write_manifest(s, t, content, snap, seq, &mfs[nmf], &mpaths[c], &written, err);
                if (rc)
                        goto out;
                if (written)
                        add_totals(&tt, &mfs[nmf++]);
        }
        for (int i = 0; i < t->nfiles; i++) {
                const struct ice_file *f = &t->files[i];
                added_size += (int64_t)f->m.file_size;
                if (f->content == ICE_CONTENT_DATA) {
                        added_data++;
                        added_rows += f->m.record_count;
                } else {
                        added_del++;
                        added_eq += f->m.record_count;
                }
        }
        if (prev && prev->n_files >= (size_t)s->merge_at) {
                for (int c = 0; c < 2; c++) {
                        rc = merge_manifests(s, t, prev,
                                             c == 0 ? ICE_MANIFEST_DATA : ICE_MANIFEST_DELETES,
                                             snap, seq, &mfs[nmf], &mpaths[2 + c], &written, err);
                        if (rc)
                                goto out;
                        if (written)
                                add_totals(&tt, &mfs[nmf++]);
                }
        } else {
                for (size_t i = 0; prev && i < prev->n_files; i++) {
                        mfs[nmf] = prev->files[i];
                        add_totals(&tt, &mfs[nmf++]);
                }
        }
        list.snapshot_id = snap;
        list.has_parent_snapshot_id = parent != NULL;
        list.parent_snapshot_id = parent ? parent->snapshot_id : 0;
        list.sequence_number = seq;
        list.files = mfs;
        list.n_files = nmf;
        snprintf(rel, sizeof(rel), "metadata/snap-%" PRId64 "-zetl-%s-%05" PRIu64 ".avro", snap,
                 s->run, ++s->nfile);
        if (snprintf(path, sizeof(path), "%s/%s", t->dir, rel) >= (int)sizeof(path) ||
            ice_meta_location_of(m, rel, loc, sizeof(loc))) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "iceberg: %s: path too long",
                                  t->dir);
                goto out;
        }
        if ((rc = ice_manifest_list_write(path, &list, ICE_AVRO_CODEC_DEFLATE, NULL, err)))
                goto out;

        kv_put(&kv, "added-data-files", added_data);
        kv_put(&kv, "added-records", added_rows);
        kv_put(&kv, "added-delete-files", added_del);
        kv_put(&kv, "added-equality-deletes", added_eq);
        kv_put(&kv, "added-files-size", added_size);
        kv_put(&kv, "total-data-files", tt.data_files);
        kv_put(&kv, "total-delete-files", tt.delete_files);
        kv_put(&kv, "total-records", tt.records);
        kv_put(&kv, "total-equality-deletes", tt.eq_deletes);
        kv_put(&kv, "total-position-deletes", tt.pos_deletes);
        kv_put(&kv, "total-files-size",
               (t->truncate ? 0 : summary_int(parent, "total-files-size")) + added_size);
        if (max_pos < t->floor)
                max_pos = t->floor;
        snprintf(kv.val[kv.n], sizeof(kv.val[0]), "%" PRIu64, max_pos);
        kv.kv[kv.n].key = (char *)SUMMARY_MAX_POS;
        kv.kv[kv.n].value = kv.val[kv.n];
        kv.n++;

        struct ice_snapshot_new ns = {
                .snapshot_id = snap,
                .operation = added_del || (t->truncate && added_data) ? "overwrite"
                             : t->truncate                            ? "delete"
                                                                      : "append",
                .manifest_list = loc,
                .summary = kv.kv,
                .nsummary = kv.n,
                .pos = pos,
                .integration = s->integration,
        };
        if ((rc = ice_meta_add_snapshot(m, &ns, err)))
                goto out;
        rc = ice_meta_commit(m, err);
        if (rc == 0)
                t->floor = max_pos;
out:
        ice_manifest_list_free(prev);
        free(mfs);
        for (int i = 0; i < 4; i++)
                free(mpaths[i]);
        return rc;
}

static bool tbl_pending(const struct ice_tbl *t)
{
        return t->sw.w || t->nfiles > 0 || (t->buf && ice_buf_keys(t->buf) > 0) || t->truncate;
}

/*
 * Make what t has of this commit one snapshot (pos NULL or unset: the
 * parent's position is kept, as for the initial sync or a buffer committed
 * early). On failure the table's model is reloaded (it may hold the
 * snapshot that failed) and the files are left to the orphan sweep.
 */
static int tbl_commit(struct ice_sink *s, struct ice_tbl *t, const struct zetl_position *pos,
                      struct zetl_err *err)
{
        uint64_t max_pos = t->sw_max_pos;
        uint32_t *rows = NULL, n = 0;
        char data[PATH_MAX];
        int rc = 0;

        if (t->failed || !tbl_pending(t))
                return 0;
        if (t->sw.w && (rc = fw_close(t, &t->sw, false, err)))
                goto fail;
        if (t->buf && ice_buf_keys(t->buf) > 0) {
                const struct zetl_batch *a = ice_buf_batch(t->buf);
                if (ice_buf_max_pos(t->buf) > max_pos)
                        max_pos = ice_buf_max_pos(t->buf);
                if ((rc = ice_buf_rows(t->buf, ICE_BUF_DELETES, &rows, &n, err)) ||
                    (rc = write_rows(s, t, true, a, rows, n, err)))
                        goto fail;
                free(rows);
                rows = NULL;
                if ((rc = ice_buf_rows(t->buf, ICE_BUF_DATA, &rows, &n, err)) ||
                    (rc = write_rows(s, t, false, a, rows, n, err)))
                        goto fail;
                free(rows);
                rows = NULL;
        }
        snprintf(data, sizeof(data), "%s/data", t->dir);
        if (t->nfiles > 0 && (rc = fsync_path(data, err)))
                goto fail;
        if ((rc = write_snapshot(s, t, pos, max_pos, err)))
                goto fail;
        for (int i = 0; i < t->nfiles; i++)
                file_free(&t->files[i]);
        t->nfiles = 0;
        ice_buf_free(t->buf);
        t->buf = NULL;
        t->sw_max_pos = 0;
        t->truncate = false;
        t->commits++;
        return 0;

fail:
        free(rows);
        for (int i = 0; i < t->nfiles; i++)
                file_free(&t->files[i]);
        t->nfiles = 0;
        tbl_discard(t);
        {
                struct zetl_err lerr;
                if (tbl_load(t, &lerr))
                        zlog_warn("iceberg: reloading %s: %s", t->dir, lerr.msg);
        }
        return rc;
}

/* ---- maintenance: orphans and expiry -----------------------------------------------------------
 */

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

struct strset {
        char **v;
        size_t n, cap;
};

static int strset_add(struct strset *ss, const char *location)
{
        char path[PATH_MAX];

        if (ice_location_to_path(location, path, sizeof(path)))
                return 0; /* not a local file: not ours to keep or delete */
        if (ss->n == ss->cap) {
                size_t n = ss->cap ? ss->cap * 2 : 64;
                char **v = realloc(ss->v, n * sizeof(*v));
                if (!v)
                        return ZETL_ENOMEM;
                ss->v = v;
                ss->cap = n;
        }
        if (!(ss->v[ss->n] = strdup(path)))
                return ZETL_ENOMEM;
        ss->n++;
        return 0;
}

static bool strset_has(const struct strset *ss, const char *path)
{
        return ss->n && bsearch(&path, ss->v, ss->n, sizeof(char *), cmp_str) != NULL;
}

static void strset_free(struct strset *ss)
{
        for (size_t i = 0; i < ss->n; i++)
                free(ss->v[i]);
        free(ss->v);
}

/* Every file the table's snapshots reach: lists, manifests, data and deletes. */
static int reachable(const struct ice_meta *m, struct strset *ss, struct zetl_err *err)
{
        struct strset manifests = { 0 };
        char path[PATH_MAX];
        int rc = 0;

        for (int i = 0; i < m->nsnapshots && rc == 0; i++) {
                struct ice_manifest_list *l = NULL;
                const char *loc = m->snapshots[i].manifest_list;
                if (ice_location_to_path(loc, path, sizeof(path)) || strset_has(ss, path))
                        continue;
                if ((rc = strset_add(ss, loc)))
                        break;
                qsort(ss->v, ss->n, sizeof(char *), cmp_str);
                if ((rc = ice_manifest_list_read(path, &l, err)))
                        break;
                for (size_t k = 0; k < l->n_files && rc == 0; k++)
                        rc = strset_add(&manifests, l->files[k].manifest_path);
                ice_manifest_list_free(l);
        }
        if (rc == 0)
                qsort(manifests.v, manifests.n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < manifests.n && rc == 0; i++) {
                struct ice_manifest *man = NULL;
                if (i > 0 && strcmp(manifests.v[i], manifests.v[i - 1]) == 0)
                        continue;
                if ((rc = ice_manifest_read(manifests.v[i], &man, err)))
                        break;
                for (size_t k = 0; k < man->n_entries && rc == 0; k++)
                        rc = strset_add(ss, man->entries[k].file.file_path);
                ice_manifest_free(man);
                char loc[PATH_MAX + 16];
                if (rc == 0 && ice_path_to_location(manifests.v[i], loc, sizeof(loc)) == 0)
                        rc = strset_add(ss, loc);
        }
        if (rc == ZETL_ENOMEM)
                rc = enomem(err);
        if (rc == 0)
                qsort(ss->v, ss->n, sizeof(char *), cmp_str);
        strset_free(&manifests);
        return rc;
}

static bool zetl_named(const char *name, bool metadata)
{
        size_t n = strlen(name);

        if (metadata && strncmp(name, "snap-", 5) == 0 && strstr(name, "-zetl-"))
                return n > 5 && strcmp(name + n - 5, ".avro") == 0;
        if (strncmp(name, "zetl-", 5) != 0)
                return false;
        return metadata ? n > 5 && strcmp(name + n - 5, ".avro") == 0
                        : n > 8 && strcmp(name + n - 8, ".parquet") == 0;
}

static bool older(const struct timespec *a, const struct timespec *b)
{
        return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static int sweep_dir(const char *dir, bool metadata, const struct strset *keep,
                     const struct timespec *before, int *removed)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        char path[PATH_MAX];
        struct stat st;

        if (!d)
                return errno == ENOENT ? 0 : ZETL_EIO;
        while ((de = readdir(d)) != NULL) {
                if (!zetl_named(de->d_name, metadata))
                        continue;
                if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
                        continue;
                if (strset_has(keep, path) || stat(path, &st) < 0 || !older(&st.st_mtim, before))
                        continue;
                if (unlink(path) == 0)
                        (*removed)++;
        }
        closedir(d);
        return 0;
}

/* Delete the files zetl wrote that no snapshot of the table reaches and
 * that are older than the newest metadata file: a crash's leftovers and
 * what expiry released. */
static int tbl_sweep(struct ice_tbl *t, struct zetl_err *err)
{
        struct strset keep = { 0 };
        char path[PATH_MAX];
        struct stat st;
        int removed = 0, rc;

        if (!t->meta || t->meta->version <= 0)
                return 0;
        snprintf(path, sizeof(path), "%s/metadata/v%d.metadata.json", t->dir, t->meta->version);
        if (stat(path, &st) < 0)
                return 0;
        if ((rc = reachable(t->meta, &keep, err)))
                goto out;
        snprintf(path, sizeof(path), "%s/data", t->dir);
        sweep_dir(path, false, &keep, &st.st_mtim, &removed);
        snprintf(path, sizeof(path), "%s/metadata", t->dir);
        sweep_dir(path, true, &keep, &st.st_mtim, &removed);
        if (removed)
                zlog_info("iceberg: %s: removed %d file%s no snapshot references", t->dir, removed,
                          removed == 1 ? "" : "s");
        t->cleaned = true;
out:
        strset_free(&keep);
        return rc;
}

/* Expire snapshots past the retention (keeping the current one and its
 * parent), commit, then sweep what they alone reached. */
static int tbl_expire(struct ice_sink *s, struct ice_tbl *t, struct zetl_err *err)
{
        char **lists = NULL;
        int nlists = 0, rc;

        if (!t->meta)
                return 0;
        rc = ice_meta_expire_snapshots(t->meta, wall_ms() - s->retention_ms, KEEP_ANCESTORS, &lists,
                                       &nlists, err);
        if (rc == 0 && nlists > 0) {
                rc = ice_meta_commit(t->meta, err);
                if (rc) {
                        struct zetl_err lerr;
                        if (tbl_load(t, &lerr))
                                zlog_warn("iceberg: reloading %s: %s", t->dir, lerr.msg);
                }
        }
        ice_strings_free(lists, nlists);
        if (rc || (rc = tbl_sweep(t, err)))
                return rc;
        /* Files of compactions (zetlc-*) are swept only under the compaction
         * lock, by ice_maintain_table (a compaction in flight reuses files no
         * snapshot references yet). */
        struct ice_compact_opts o = { .retention_ms = s->retention_ms,
                                      .keep_ancestors = KEEP_ANCESTORS };
        struct ice_compact_result res;
        struct zetl_err lerr;
        if (ice_maintain_table(t->dir, &o, &res, &lerr))
                zlog_warn("iceberg: maintenance of %s: %s", t->dir, lerr.msg);
        return tbl_load(t, err);
}

/* ---- the marker: the last commit that reached every table ---------------------------------------
 */

static int marker_load(struct ice_sink *s, struct zetl_err *err)
{
        char path[PATH_MAX];
        char *text = NULL;
        size_t len;
        json_t *root, *tables, *e;
        json_error_t je;
        json_int_t order = 0, time_us = 0;
        const char *token = "";
        size_t i;
        int rc;

        if (!s->state_dir)
                return 0;
        snprintf(path, sizeof(path), "%s/%s", s->state_dir, MARKER_NAME);
        rc = zetl_file_read(path, MARKER_MAX, &text, &len, err);
        if (rc == ZETL_ENOTFOUND) {
                zetl_err_clear(err);
                return 0;
        }
        if (rc)
                return rc;
        root = json_loadb(text, len, 0, &je);
        free(text);
        if (!root ||
            json_unpack(root, "{s:{s:I,s:s,s?I},s:o}", "position", "order", &order, "token", &token,
                        "time_us", &time_us, "tables", &tables) ||
            !json_is_array(tables)) {
                json_decref(root);
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "iceberg: %s is not a marker this version wrote", path);
        }
        zetl_pos_set(&s->marker_pos, (uint64_t)order, token);
        s->marker_pos.time_us = time_us;
        s->has_marker = true;
        json_array_foreach(tables, i, e)
        {
                const char *dir = json_string_value(json_object_get(e, "dir"));
                json_t *snap = json_object_get(e, "snapshot");
                struct ice_tbl *t;
                if (!dir || !json_is_integer(snap))
                        continue;
                if (!(t = tbl_by_dir(s, dir)) && (rc = tbl_add(s, dir, &t, err))) {
                        json_decref(root);
                        return rc;
                }
                t->in_marker = true;
                t->marker_snapshot = json_integer_value(snap);
        }
        json_decref(root);
        return 0;
}

static int marker_save(struct ice_sink *s, const struct zetl_position *pos, struct zetl_err *err)
{
        json_t *tables = json_array(), *root;
        char *text;
        int rc;

        if (!s->state_dir)
                return 0;
        for (int i = 0; tables && i < s->ntbls; i++) {
                struct ice_tbl *t = s->tbls[i];
                int64_t snap = t->meta ? t->meta->current_snapshot_id : t->marker_snapshot;
                if (!t->meta && !t->in_marker)
                        continue;
                json_array_append_new(tables, json_pack("{s:s,s:I}", "dir", t->dir, "snapshot",
                                                        (json_int_t)snap));
        }
        root = json_pack("{s:{s:I,s:s,s:I},s:o}", "position", "order", (json_int_t)pos->order,
                         "token", pos->token, "time_us", (json_int_t)pos->time_us, "tables",
                         tables);
        text = root ? json_dumps(root, JSON_COMPACT) : NULL;
        json_decref(root);
        if (!text)
                return enomem(err);
        rc = zetl_file_write_atomic(s->state_dir, MARKER_NAME, text, strlen(text), 0600, err);
        free(text);
        if (rc)
                return rc;
        s->marker_pos = *pos;
        s->has_marker = true;
        for (int i = 0; i < s->ntbls; i++) {
                struct ice_tbl *t = s->tbls[i];
                if (t->meta) {
                        t->in_marker = true;
                        t->marker_snapshot = t->meta->current_snapshot_id;
                }
        }
        return 0;
}

/* Is snapshot id (-1: none) the table's current snapshot or an ancestor? */
static bool descends(const struct ice_meta *m, int64_t id)
{
        const struct ice_snapshot *sn = ice_meta_snapshot(m, -1);

        if (id < 0)
                return true;
        for (int steps = 0; sn && steps <= m->nsnapshots; steps++) {
                if (sn->snapshot_id == id)
                        return true;
                sn = sn->parent_id >= 0 ? ice_meta_snapshot(m, sn->parent_id) : NULL;
        }
        return false;
}

/* ---- the sink ops
 * --------------------------------------------------------------------------------- */

static int ice_parse(const char *uri, struct zetl_err *err)
{
        if (strncmp(uri, "iceberg:", 8) != 0 || uri[8] == '\0')
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "iceberg target needs a warehouse directory: iceberg:/path");
        return 0;
}

/* The warehouse directory, absolute (a relative one is taken from the
 * current directory). */
static int root_of(const struct zetl_conn_cfg *cfg, char *buf, size_t len, struct zetl_err *err)
{
        const char *p = cfg->uri + 8;
        char cwd[PATH_MAX], loc[PATH_MAX + 16];
        int n;

        if (strncmp(p, "//", 2) == 0) /* iceberg:///abs */
                p += 2;
        if (p[0] == '/') {
                n = snprintf(buf, len, "%s", p);
        } else {
                if (!getcwd(cwd, sizeof(cwd)))
                        return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "getcwd: %s",
                                            strerror(errno));
                n = snprintf(buf, len, "%s/%s", cwd, p);
        }
        if (n < 0 || (size_t)n >= len)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "iceberg: warehouse path too long");
        while (n > 1 && buf[n - 1] == '/')
                buf[--n] = '\0';
        if (ice_path_to_location(buf, loc, sizeof(loc)))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "iceberg: warehouse path %s may not contain '%%', '?', '#' or "
                                    "control characters",
                                    buf);
        return 0;
}

static int ice_setup(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        char root[PATH_MAX], probe[PATH_MAX + 32];
        int rc, fd;

        (void)priv;
        if ((rc = root_of(cfg, root, sizeof(root), err)))
                return rc;
        if ((rc = zetl_mkdir_p(root, 0755, err)))
                return zetl_err_prefix(err, "iceberg warehouse: ");
        snprintf(probe, sizeof(probe), "%s/.zetl-probe-XXXXXX", root);
        fd = mkstemp(probe);
        if (fd < 0)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_CONFIG,
                                    "iceberg warehouse %s is not writable: %s", root,
                                    strerror(errno));
        close(fd);
        unlink(probe);
        return 0;
}

static int ice_teardown(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        /* Deleting an integration never deletes a lake: the tables stay. */
        (void)priv;
        (void)cfg;
        (void)err;
        return 0;
}

static int ice_open(void *priv, const struct zetl_conn_cfg *cfg, struct zetl_err *err)
{
        struct ice_sink *s = priv;
        long long v;
        uint64_t r = 0;
        int rc;

        if ((rc = root_of(cfg, s->root, sizeof(s->root), err)) ||
            (rc = zetl_mkdir_p(s->root, 0755, err)))
                return rc;
        if ((rc = zetl_cfg_opt_int(cfg, "iceberg-target-file-size", DEF_TARGET_FILE, 4096,
                                   INT64_C(1) << 40, &v, err)))
                return rc;
        s->target_file_size = v;
        if ((rc = zetl_cfg_opt_int(cfg, "iceberg-row-group-bytes", DEF_ROW_GROUP, 4096,
                                   INT64_C(1) << 32, &v, err)))
                return rc;
        s->row_group_bytes = v;
        if ((rc = zetl_cfg_opt_int(cfg, "iceberg-buffer-bytes", DEF_BUFFER_BYTES, 1 << 20,
                                   INT64_C(1) << 40, &v, err)))
                return rc;
        s->buffer_bytes = v;
        if ((rc = zetl_cfg_opt_int(cfg, "iceberg-snapshot-retention-ms", DEF_RETENTION_MS, 0,
                                   INT64_C(1) << 50, &v, err)))
                return rc;
        s->retention_ms = v;
        if ((rc = zetl_cfg_opt_int(cfg, "iceberg-manifest-merge-count", DEF_MERGE_AT, 2, 1000000,
                                   &v, err)))
                return rc;
        s->merge_at = v;
        /* Automatic compaction (ice_compact.c): fold the equality deletes
         * into new data files once a table has this many delete files, so
         * readers without delete support read current data and file counts
         * stay bounded. 0 turns it off (zetl compact still works). */
        if ((rc = zetl_cfg_opt_int(cfg, "iceberg-compact-delete-files", 16, 0, 1000000, &v, err)))
                return rc;
        s->compact_deletes = v;
        if (getrandom(&r, sizeof(r), 0) != sizeof(r))
                r = (uint64_t)wall_ms() ^ ((uint64_t)getpid() << 32);
        snprintf(s->run, sizeof(s->run), "%016" PRIx64, r);
        if ((cfg->state_dir && !(s->state_dir = strdup(cfg->state_dir))) ||
            (cfg->integration && !(s->integration = strdup(cfg->integration))))
                return enomem(err);
        if ((rc = marker_load(s, err)))
                return rc;
        /* The tables of earlier runs: their state decides resume(), and this
         * is when a crash's leftovers go and old snapshots expire. */
        for (int i = 0; i < s->ntbls; i++) {
                struct ice_tbl *t = s->tbls[i];
                struct zetl_err lerr;
                rc = tbl_load(t, err);
                if (rc == ZETL_ENOTFOUND) {
                        zlog_warn("iceberg: table %s is gone: the integration needs a resync "
                                  "to fill it again",
                                  t->dir);
                        zetl_err_clear(err);
                        continue;
                }
                if (rc)
                        return rc;
                if (tbl_expire(s, t, &lerr))
                        zlog_warn("iceberg: maintenance of %s: %s", t->dir, lerr.msg);
        }
        zlog_info("target: Iceberg warehouse %s", s->root);
        return 0;
}

static int ice_resume(void *priv, struct zetl_position *out, struct zetl_err *err)
{
        struct ice_sink *s = priv;

        memset(out, 0, sizeof(*out));
        if (!s->has_marker)
                return 0;
        *out = s->marker_pos;
        for (int i = 0; i < s->ntbls; i++) {
                struct ice_tbl *t = s->tbls[i];
                struct zetl_position p;
                int rc;
                if (!t->meta || !t->in_marker || descends(t->meta, t->marker_snapshot))
                        continue;
                /* Rolled back or restored behind the marker: replay from its own position. */
                if ((rc = ice_meta_position(t->meta, &p, err)))
                        return rc;
                if (zetl_pos_is_set(&p) && p.order < out->order) {
                        zlog_warn("iceberg: %s is behind the last commit; replaying from its "
                                  "position %s",
                                  t->dir, p.token);
                        *out = p;
                }
        }
        return 0;
}

static bool has_float_key(const struct zetl_schema *zs)
{
        for (int j = 0; j < zs->ncols; j++)
                if (zs->cols[j].key_pos > 0 &&
                    (zs->cols[j].type == ZETL_T_FLOAT32 || zs->cols[j].type == ZETL_T_FLOAT64))
                        return true;
        return false;
}

/* Make the table: load it, or create it with the evolution's schema. */
static int tbl_open_meta(struct ice_tbl *t, struct zetl_err *err)
{
        int rc;

        if (t->meta)
                return 0;
        rc = tbl_load(t, err);
        if (rc == ZETL_ENOTFOUND) {
                zetl_err_clear(err);
                return 0;
        }
        return rc;
}

static int ice_schema_fn(void *priv, const struct zetl_schema *old, const struct zetl_schema *new,
                         const struct zetl_schema_diff *diff, struct zetl_err *err)
{
        struct ice_sink *s = priv;
        struct ice_evolution ev = { 0 };
        const struct ice_schema *cur;
        struct ice_tbl *t;
        int rc;

        if ((rc = tbl_get(s, &new->id, &t, err)))
                return rc;
        if (new->nkeys == 0) {
                t->failed = true;
                return zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL,
                                    "the table has no primary key: an Iceberg table takes "
                                    "updates and deletes by key (add a primary key and resync)");
        }
        if (has_float_key(new)) {
                t->failed = true;
                return zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL,
                                    "primary key with a floating-point column cannot be an "
                                    "Iceberg identifier");
        }
        /* Rows of the previous shape are committed under it first. */
        if (tbl_pending(t) && (rc = tbl_commit(s, t, NULL, err)))
                return rc;
        if ((rc = tbl_open_meta(t, err)))
                return rc;
        cur = t->meta ? ice_meta_schema(t->meta, -1) : NULL;
        rc = ice_schema_evolve(cur, t->meta ? t->meta->last_column_id : 0, old && cur ? old : NULL,
                               new, old && cur ? diff : NULL, &ev, err);
        if (rc)
                return rc == ZETL_EINVAL
                               ? zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL, "%s", err->msg)
                               : rc;
        /* A live incompatible change needs the rows rewritten. A table met
         * for the first time (old NULL) is taken over with the new schema:
         * its initial sync replaces every row. */
        if (old && cur && (ev.incompatible || (diff && !diff->compatible))) {
                t->failed = true;
                tbl_discard(t);
                rc = zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL,
                                  "incompatible change (%s): the table needs a resync",
                                  ev.incompatible ? ev.reason : "see the schema diff");
                goto out;
        }
        if (!t->meta) {
                rc = ice_meta_create(t->dir, ev.schema, ev.last_column_id, NULL, 0, &t->meta, err);
                if (rc == ZETL_EEXIST) {
                        /* Made meanwhile (or by a crashed run): load it and evolve again. */
                        zetl_err_clear(err);
                        ice_evolution_free(&ev);
                        return ice_schema_fn(priv, old, new, diff, err);
                }
                if (rc)
                        goto out;
                t->floor = 0;
        } else if (ev.changed) {
                if (ev.incompatible)
                        zlog_warn("iceberg: %s: taking the table over with an incompatible "
                                  "schema (%s); its initial sync rewrites it",
                                  t->dir, ev.reason);
                if ((rc = ice_meta_set_schema(t->meta, ev.schema, ev.last_column_id, err)) ||
                    (rc = ice_meta_commit(t->meta, err))) {
                        struct zetl_err lerr;
                        if (tbl_load(t, &lerr))
                                zlog_warn("iceberg: reloading %s: %s", t->dir, lerr.msg);
                        goto out;
                }
        }
        t->failed = false;
        rc = tbl_set_shape(t, new, ev.field_ids, err);
out:
        ice_evolution_free(&ev);
        return rc;
}

/* Refuse a decimal the table's type cannot hold exactly, before any byte is written. */
static int check_decimals(const struct ice_tbl *t, const struct zetl_batch *b, uint32_t r,
                          struct zetl_err *err)
{
        for (int c = 0; c < b->schema->ncols; c++) {
                const struct pq_column *pc = &t->cols[c];
                size_t len;
                __int128 v;
                if (pc->type != ZETL_T_DECIMAL || zetl_batch_is_null(b, c, r) ||
                    zetl_batch_is_unchanged(b, c, r))
                        continue;
                const char *p = (const char *)zetl_batch_get_var(b, c, r, &len);
                struct zetl_err derr;
                if (pq_decimal_parse(p, len, pc->precision, pc->scale, &v, &derr))
                        return zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL,
                                            "column %s: the value %.*s does not fit Iceberg "
                                            "decimal(%d,%d) exactly (unconstrained numeric keeps "
                                            "%d fractional digits)",
                                            pc->name, (int)(len > 60 ? 60 : len), p, pc->precision,
                                            pc->scale, ICE_DECIMAL_DEFAULT_SCALE);
        }
        return 0;
}

static bool has_decimal(const struct ice_tbl *t)
{
        for (int c = 0; c < t->zs->ncols; c++)
                if (t->cols[c].type == ZETL_T_DECIMAL)
                        return true;
        return false;
}

/* SNAPSHOT rows of the initial sync: unique keys, nothing to collapse,
 * straight into the open data file. */
static int stream_rows(struct ice_sink *s, struct ice_tbl *t, const struct zetl_batch *b,
                       struct zetl_err *err)
{
        int rc;

        if (!t->sw.w && (rc = fw_open(s, t, false, &t->sw, err)))
                return rc;
        if ((rc = pq_writer_write(t->sw.w, b, NULL, b->nrows, err))) {
                fw_abort(&t->sw);
                return rc;
        }
        for (uint32_t r = 0; r < b->nrows; r++)
                if (b->pos[r] > t->sw_max_pos)
                        t->sw_max_pos = b->pos[r];
        if (pq_writer_bytes(t->sw.w) >= (uint64_t)s->target_file_size)
                return fw_close(t, &t->sw, false, err);
        return 0;
}

static int table_error(struct ice_tbl *t, int rc)
{
        if (rc == ZETL_ETABLE) {
                t->failed = true;
                tbl_discard(t);
        }
        return rc;
}

static int ice_write(void *priv, const struct zetl_batch *b, struct zetl_err *err)
{
        struct ice_sink *s = priv;
        struct ice_tbl *t = tbl_by_id(s, &b->schema->id);
        bool all_snapshot = true, decimals;
        char name[ZETL_NAME_MAX * 3];
        int rc = 0;

        if (t && t->failed)
                return 0;
        if (!t || !t->zs || !t->meta || !zetl_schema_same_shape(t->zs, b->schema))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "iceberg: rows of %s before its schema",
                                    zetl_table_id_str(&b->schema->id, name, sizeof(name)));
        decimals = has_decimal(t);
        for (uint32_t r = 0; r < b->nrows; r++) {
                all_snapshot = all_snapshot && b->ops[r] == ZETL_OP_SNAPSHOT;
                if (decimals && b->ops[r] != ZETL_OP_DELETE && (rc = check_decimals(t, b, r, err)))
                        return table_error(t, rc);
        }
        if (all_snapshot && !t->buf)
                return stream_rows(s, t, b, err);
        /* Streamed rows and collapsed ones never share a snapshot: a delete
         * of this commit could not reach rows of its own sequence number. */
        if ((t->sw.w || t->nfiles > 0) && (rc = tbl_commit(s, t, NULL, err)))
                return rc;
        for (uint32_t r = 0; r < b->nrows && rc == 0; r++) {
                int missing;
                if (!t->buf && !(t->buf = ice_buf_new(t->zs, (size_t)s->buffer_bytes)))
                        return enomem(err);
                rc = ice_buf_add(t->buf, b, r, t->floor, &missing, err);
                if (rc == ZETL_ELIMIT && ice_buf_keys(t->buf) > 0) {
                        /* A transaction larger than the buffer: commit what is
                         * collapsed so far (it keeps the old position) and go on. */
                        zetl_err_clear(err);
                        if ((rc = tbl_commit(s, t, NULL, err)))
                                return rc;
                        r--;
                        continue;
                }
                if (rc == ZETL_ENOTFOUND)
                        rc = zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL,
                                          "an update without the unchanged TOAST value of "
                                          "column %s: set REPLICA IDENTITY FULL on the source "
                                          "table and resync",
                                          b->schema->cols[missing].name);
        }
        return table_error(t, rc);
}

/* Does the table have files now (so that a truncate has something to drop)? */
static bool has_files(const struct ice_tbl *t)
{
        const struct ice_snapshot *sn = t->meta ? ice_meta_snapshot(t->meta, -1) : NULL;

        if (!sn)
                return false;
        if (!ice_snapshot_get(sn, "total-data-files") ||
            !ice_snapshot_get(sn, "total-delete-files"))
                return true;
        return summary_int(sn, "total-data-files") + summary_int(sn, "total-delete-files") > 0;
}

static int ice_truncate(void *priv, const struct zetl_schema *sch, uint64_t pos,
                        struct zetl_err *err)
{
        struct ice_sink *s = priv;
        struct ice_tbl *t;
        int rc;

        (void)pos;
        if ((rc = tbl_get(s, &sch->id, &t, err)))
                return rc;
        if (t->failed)
                return 0;
        if ((rc = tbl_open_meta(t, err)))
                return rc;
        /* What this commit had for the table goes, and the commit's snapshot
         * drops every earlier file (they stay for time travel until expiry). */
        tbl_discard(t);
        t->truncate = has_files(t);
        return 0;
}

/* Compaction past the threshold, between commits: it carries the table's
 * position over, so a failure costs nothing but a warning (the next commit
 * tries again) and the table is reloaded either way. */
static void tbl_compact_maybe(struct ice_sink *s, struct ice_tbl *t)
{
        struct ice_compact_opts o = {
                .target_file_bytes = s->target_file_size,
                .row_group_bytes = s->row_group_bytes,
                .max_delete_files = (int)s->compact_deletes,
                .max_small_files = INT32_MAX, /* small files alone wait for zetl compact */
                .retention_ms = s->retention_ms,
                .keep_ancestors = KEEP_ANCESTORS,
        };
        struct ice_compact_result r;
        struct zetl_err lerr;
        long long t0;

        if (!s->compact_deletes || !t->meta || !ice_compact_due(t->meta, &o))
                return;
        t0 = zetl_now_ms();
        if (ice_compact_table(t->dir, &o, &r, &lerr))
                zlog_warn("iceberg: compacting %s: %s", t->dir, lerr.msg);
        else if (r.compacted)
                zlog_info("iceberg: compacted %s: %d data and %d delete files into %d (%lld rows, "
                          "%lld deleted) in %.1f s",
                          t->dir, r.data_files_before, r.delete_files_before, r.data_files_after,
                          (long long)r.rows_after, (long long)r.rows_deleted,
                          (double)(zetl_now_ms() - t0) / 1000.0);
        if (tbl_load(t, &lerr))
                zlog_warn("iceberg: reloading %s: %s", t->dir, lerr.msg);
}

static int ice_commit(void *priv, const struct zetl_position *pos, struct zetl_err *err)
{
        struct ice_sink *s = priv;
        int rc;

        for (int i = 0; i < s->ntbls; i++) {
                struct ice_tbl *t = s->tbls[i];
                int before = t->commits;
                if ((rc = tbl_commit(s, t, pos, err)))
                        return rc;
                if (t->commits == before)
                        continue;
                /* Leftovers of a crash are older than this commit's metadata
                 * now, and expiry is due now and then. */
                struct zetl_err lerr;
                if (t->commits % EXPIRE_EVERY == 0 ? tbl_expire(s, t, &lerr)
                    : !t->cleaned                  ? tbl_sweep(t, &lerr)
                                                   : 0)
                        zlog_warn("iceberg: maintenance of %s: %s", t->dir, lerr.msg);
                tbl_compact_maybe(s, t);
        }
        if (zetl_pos_is_set(pos))
                return marker_save(s, pos, err);
        return 0;
}

static void ice_close(void *priv)
{
        struct ice_sink *s = priv;

        /* Uncommitted files are deleted: nothing references them. */
        for (int i = 0; i < s->ntbls; i++)
                tbl_free(s->tbls[i]);
        free(s->tbls);
        free(s->state_dir);
        free(s->integration);
        memset(s, 0, sizeof(*s));
}

static const char *const ice_schemes[] = { "iceberg", NULL };

/* zetl check: the warehouse directory must exist (or be creatable) and be
 * writable; its existing tables are counted. */
static int ice_check(void *priv, const struct zetl_conn_cfg *cfg, bool fix,
                     struct zetl_check_report *r, struct zetl_err *err)
{
        char root[PATH_MAX], probe[PATH_MAX];
        struct zetl_check_item *it;
        int rc;

        (void)priv;
        (void)fix;
        if ((rc = root_of(cfg, root, sizeof(root), err)))
                return rc;
        /* The nearest existing ancestor decides whether zetl can create it. */
        snprintf(probe, sizeof(probe), "%s", root);
        while (access(probe, F_OK) != 0 && strrchr(probe, '/') && strrchr(probe, '/') != probe)
                *strrchr(probe, '/') = '\0';
        if (access(probe, W_OK | X_OK) != 0) {
                if ((it = zetl_check_add(r, ZETL_CHECK_FAIL, "warehouse",
                                         "%.400s is not writable: %s", probe, strerror(errno))))
                        snprintf(it->fix, sizeof(it->fix),
                                 "create %.400s writable by the user running zetl (under systemd "
                                 "also list it in ReadWritePaths=)",
                                 root);
                return 0;
        }
        if (strcmp(probe, root) != 0) {
                zetl_check_add(r, ZETL_CHECK_OK, "warehouse",
                               "%.400s will be created (in %.400s, writable)", root, probe);
                return 0;
        }
        zetl_check_add(r, ZETL_CHECK_OK, "warehouse", "%.400s is writable", root);
        return 0;
}

const struct zetl_sink_ops zetl_iceberg_sink = {
        .name = "iceberg",
        .schemes = ice_schemes,
        .caps = ZETL_SINK_STORES_POSITION,
        .priv_size = sizeof(struct ice_sink),
        .commit_interval_ms = 10000,
        .parse = ice_parse,
        .setup = ice_setup,
        .teardown = ice_teardown,
        .check = ice_check,
        .open = ice_open,
        .resume = ice_resume,
        .schema = ice_schema_fn,
        .write = ice_write,
        .truncate = ice_truncate,
        .commit = ice_commit,
        .close = ice_close,
};
