/*
 * Compaction and maintenance of zetl's Iceberg tables (see ice_compact.h).
 *
 * A compaction is: load the table, list the live files of the current
 * snapshot (the base), read every equality-delete file into sets of deleted
 * keys, stream every data file through the reader, drop the rows a newer
 * delete removes, write the rest into new files, and commit a "replace"
 * snapshot whose manifest list holds only the new files (plus, after a
 * rebase, what the sink added meanwhile).
 *
 * The new data files are named zetlc-*.parquet, not zetl-*.parquet: the
 * sink's orphan sweep deletes unreferenced zetl-* files older than the
 * newest metadata file, which is safe for files whose writer must reload
 * before committing, but a rebased compaction commits files written before
 * a newer version exists. zetlc-* files are only ever swept by
 * ice_maintain_table, and only while it holds the table's compaction lock
 * (flock on <table>/.zetl-compact.lock), which a compaction holds from its
 * first file to its commit. The same lock keeps two compactions of one
 * table (the sink's and `zetl compact`) from running at once.
 */
#include "ice_compact.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ice_schema.h"
#include "manifest.h"
#include "parquet.h"
#include "pq_reader.h"
#include "zetl/batch.h"
#include "zetl/log.h"

#define SUMMARY_MAX_POS "zetl.max-row-pos" /* the sink's replay floor: carried over */
#define LOCK_NAME       ".zetl-compact.lock"
#define READ_ROWS       8192
#define BATCH_BYTES     ((size_t)64 << 20)
#define DEF_RETRIES     8
#define DEF_ATTEMPTS    3
#define DEF_KEEP        1
/* Internal: the base vanished under us (a file gone); start again. */
#define RESTART 1

/* ---- small helpers ------------------------------------------------------------ */

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

static int64_t summary_int(const struct ice_snapshot *sn, const char *key, int64_t def)
{
        const char *v = sn ? ice_snapshot_get(sn, key) : NULL;
        char *end;
        long long x;

        if (!v)
                return def;
        x = strtoll(v, &end, 10);
        return *end ? def : x;
}

static void opts_defaults(const struct ice_compact_opts *in, struct ice_compact_opts *o)
{
        if (in)
                *o = *in;
        else
                memset(o, 0, sizeof(*o));
        if (o->target_file_bytes <= 0)
                o->target_file_bytes = ICE_COMPACT_TARGET_DEFAULT;
        if (o->row_group_bytes <= 0)
                o->row_group_bytes = ICE_COMPACT_ROW_GROUP_DEFAULT;
        if (o->max_delete_files <= 0)
                o->max_delete_files = ICE_COMPACT_MAX_DELETES;
        if (o->max_small_files <= 0)
                o->max_small_files = ICE_COMPACT_MAX_SMALL;
        if (o->commit_retries <= 0)
                o->commit_retries = DEF_RETRIES;
        if (o->attempts <= 0)
                o->attempts = DEF_ATTEMPTS;
        if (o->retention_ms == 0)
                o->retention_ms = ICE_COMPACT_RETENTION_DEFAULT;
        if (o->keep_ancestors == 0)
                o->keep_ancestors = DEF_KEEP;
        else if (o->keep_ancestors < 0)
                o->keep_ancestors = 0;
}

bool ice_compact_due(const struct ice_meta *m, const struct ice_compact_opts *in)
{
        const struct ice_snapshot *sn = ice_meta_snapshot(m, -1);
        struct ice_compact_opts o;
        int64_t deletes, files, size;

        if (!sn)
                return false;
        opts_defaults(in, &o);
        deletes = summary_int(sn, "total-delete-files", 0);
        files = summary_int(sn, "total-data-files", 0);
        size = summary_int(sn, "total-files-size", INT64_MAX);
        if (deletes > o.max_delete_files)
                return true;
        return files > o.max_small_files &&
               size / files < o.target_file_bytes / ICE_COMPACT_SMALL_DIV;
}

/* ---- the compaction lock ---------------------------------------------------------- */

/* Take <dir>/.zetl-compact.lock (made if create) without waiting: 0 and *fd,
 * ZETL_ESTATE when another compaction holds it, ZETL_EIO. */
static int lock_table(const char *dir, bool create, int *fd, struct zetl_err *err)
{
        char path[PATH_MAX];

        *fd = -1;
        if (snprintf(path, sizeof(path), "%s/%s", dir, LOCK_NAME) >= (int)sizeof(path))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "iceberg: %s: path too long",
                                    dir);
        *fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
        if (*fd < 0)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "iceberg: %s: %s", path,
                                    strerror(errno));
        if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
                int e = errno;
                close(*fd);
                *fd = -1;
                if (e == EWOULDBLOCK)
                        return zetl_err_set(err, ZETL_ESTATE, ZETL_ERRC_TRANSIENT,
                                            "iceberg: %s: another compaction of this table is "
                                            "running",
                                            dir);
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "iceberg: lock %s: %s",
                                    path, strerror(e));
        }
        return 0;
}

/* ---- the live files of a snapshot --------------------------------------------------- */

struct live_file {
        char *path; /* local */
        int content;
        int64_t seq; /* data sequence number */
        int64_t records, size;
        int32_t *eq_ids;
        int n_eq;
};

struct live {
        struct live_file *v;
        int n, cap;
        int ndata, ndel;
        char **manifests; /* manifest locations of the snapshot's list, as recorded */
        int nman;
};

static void live_free(struct live *l)
{
        for (int i = 0; i < l->n; i++) {
                free(l->v[i].path);
                free(l->v[i].eq_ids);
        }
        free(l->v);
        ice_strings_free(l->manifests, l->nman);
        memset(l, 0, sizeof(*l));
}

static int live_add(struct live *l, const struct ice_manifest_entry *e, int64_t seq,
                    struct zetl_err *err)
{
        struct live_file *f;
        char path[PATH_MAX];

        if (ice_location_to_path(e->file.file_path, path, sizeof(path)))
                return zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_FATAL,
                                    "iceberg: %s is not a local file", e->file.file_path);
        if (l->n == l->cap) {
                int n = l->cap ? l->cap * 2 : 32;
                struct live_file *v = realloc(l->v, (size_t)n * sizeof(*v));
                if (!v)
                        return enomem(err);
                l->v = v;
                l->cap = n;
        }
        f = &l->v[l->n];
        memset(f, 0, sizeof(*f));
        if (!(f->path = strdup(path)))
                return enomem(err);
        l->n++;
        f->content = e->file.content;
        f->seq = seq;
        f->records = e->file.record_count;
        f->size = e->file.file_size_in_bytes;
        if (f->content == ICE_CONTENT_EQUALITY_DELETES) {
                if (e->file.n_equality_ids == 0 || e->file.n_equality_ids > 1000)
                        return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                            "iceberg: delete file %s has no equality ids", path);
                if (!(f->eq_ids = malloc(e->file.n_equality_ids * sizeof(int32_t))))
                        return enomem(err);
                memcpy(f->eq_ids, e->file.equality_ids, e->file.n_equality_ids * sizeof(int32_t));
                f->n_eq = (int)e->file.n_equality_ids;
                l->ndel++;
        } else {
                l->ndata++;
        }
        return 0;
}

/* The live data and equality-delete files of snapshot sn. */
static int load_live(const struct ice_snapshot *sn, struct live *l, struct zetl_err *err)
{
        struct ice_manifest_list *list = NULL;
        char path[PATH_MAX];
        int rc;

        memset(l, 0, sizeof(*l));
        if (ice_location_to_path(sn->manifest_list, path, sizeof(path)))
                return zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_FATAL,
                                    "iceberg: manifest list %s is not a local file",
                                    sn->manifest_list);
        if ((rc = ice_manifest_list_read(path, &list, err)))
                return rc == ZETL_ENOTFOUND ? RESTART : rc;
        if (!(l->manifests = calloc(list->n_files + 1, sizeof(char *)))) {
                rc = enomem(err);
                goto out;
        }
        for (size_t i = 0; i < list->n_files && rc == 0; i++) {
                const struct ice_manifest_file *mf = &list->files[i];
                struct ice_manifest *man = NULL;
                if (!(l->manifests[l->nman] = strdup(mf->manifest_path))) {
                        rc = enomem(err);
                        break;
                }
                l->nman++;
                if (mf->partition_spec_id != 0) {
                        rc = zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_FATAL,
                                          "iceberg: partitioned tables are not compacted");
                        break;
                }
                if (ice_location_to_path(mf->manifest_path, path, sizeof(path))) {
                        rc = zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_FATAL,
                                          "iceberg: manifest %s is not a local file",
                                          mf->manifest_path);
                        break;
                }
                if ((rc = ice_manifest_read(path, &man, err))) {
                        if (rc == ZETL_ENOTFOUND)
                                rc = RESTART;
                        break;
                }
                for (size_t k = 0; k < man->n_entries && rc == 0; k++) {
                        const struct ice_manifest_entry *e = &man->entries[k];
                        int64_t seq = 0;
                        if (e->status == ICE_STATUS_DELETED)
                                continue;
                        if (e->file.content == ICE_CONTENT_POSITION_DELETES) {
                                rc = zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_FATAL,
                                                  "iceberg: position deletes (%s) are not "
                                                  "compacted",
                                                  e->file.file_path);
                                break;
                        }
                        /* An ADDED entry may inherit its manifest's sequence number. */
                        if (e->has_sequence_number)
                                seq = e->sequence_number;
                        else if (e->status == ICE_STATUS_ADDED)
                                seq = mf->sequence_number;
                        else
                                rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                                  "iceberg: %s has no sequence number",
                                                  e->file.file_path);
                        if (rc == 0)
                                rc = live_add(l, e, seq, err);
                }
                ice_manifest_free(man);
        }
out:
        ice_manifest_list_free(list);
        return rc;
}

/* ---- deleted keys ------------------------------------------------------------------ */

struct kslot {
        uint64_t hash; /* 0: empty */
        size_t off;    /* in keyset.bytes */
        uint32_t len;
        int64_t seq; /* highest delete sequence number of the key */
};

struct keyset {
        uint8_t *bytes;
        size_t len, cap;
        struct kslot *slots;
        size_t mask, n;
};

static void keyset_free(struct keyset *k)
{
        free(k->bytes);
        free(k->slots);
        memset(k, 0, sizeof(*k));
}

static uint64_t hash_key(const uint8_t *p, size_t n)
{
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * UINT64_C(0x100000001b3);
        h ^= h >> 31;
        h *= UINT64_C(0x7fb5d329728ea185);
        h ^= h >> 27;
        return h ? h : 1;
}

static struct kslot *keyset_find(const struct keyset *k, const uint8_t *p, uint32_t n, uint64_t h)
{
        size_t i;

        if (!k->slots)
                return NULL;
        for (i = h & k->mask;; i = (i + 1) & k->mask) {
                struct kslot *s = &k->slots[i];
                if (!s->hash)
                        return s;
                if (s->hash == h && s->len == n && memcmp(k->bytes + s->off, p, n) == 0)
                        return s;
        }
}

static int keyset_grow(struct keyset *k)
{
        size_t n = k->slots ? (k->mask + 1) * 2 : 1024;
        struct kslot *v = calloc(n, sizeof(*v)), *old = k->slots;
        size_t oldn = k->slots ? k->mask + 1 : 0;

        if (!v)
                return ZETL_ENOMEM;
        k->slots = v;
        k->mask = n - 1;
        for (size_t i = 0; i < oldn; i++) {
                if (!old[i].hash)
                        continue;
                size_t j = old[i].hash & k->mask;
                while (v[j].hash)
                        j = (j + 1) & k->mask;
                v[j] = old[i];
        }
        free(old);
        return 0;
}

/* Record key p[0..n) as deleted at sequence number seq (the highest wins). */
static int keyset_put(struct keyset *k, const uint8_t *p, uint32_t n, int64_t seq)
{
        uint64_t h = hash_key(p, n);
        struct kslot *s;

        if ((k->n + 1) * 4 > (k->slots ? k->mask + 1 : 0) * 3 && keyset_grow(k))
                return ZETL_ENOMEM;
        s = keyset_find(k, p, n, h);
        if (s->hash) {
                if (seq > s->seq)
                        s->seq = seq;
                return 0;
        }
        if (k->len + n > ICE_COMPACT_MAX_KEY_BYTES)
                return ZETL_ELIMIT;
        if (k->len + n > k->cap) {
                size_t cap = k->cap ? k->cap : 4096;
                uint8_t *b;
                while (cap < k->len + n)
                        cap *= 2;
                if (!(b = realloc(k->bytes, cap)))
                        return ZETL_ENOMEM;
                k->bytes = b;
                k->cap = cap;
        }
        if (n)
                memcpy(k->bytes + k->len, p, n);
        *s = (struct kslot){ .hash = h, .off = k->len, .len = n, .seq = seq };
        k->len += n;
        k->n++;
        return 0;
}

/* Deletes on one list of equality ids. */
struct delgroup {
        int32_t *ids;
        int nids;
        int *cols; /* column of each id in the output schema */
        struct keyset set;
};

/* The key bytes of row r of b over columns cols: per column a presence
 * byte, then the value's own bytes (fixed width, or a 4-byte length and
 * the bytes). Both sides are read through the same zetl types, so equal
 * values have equal bytes. */
static int key_bytes(const struct zetl_batch *b, const int *cols, int n, uint32_t r, uint8_t **buf,
                     size_t *cap, uint32_t *len)
{
        size_t at = 0;

        for (int i = 0; i < n; i++) {
                int c = cols[i];
                enum zetl_type t = b->schema->cols[c].type;
                const uint8_t *p = NULL;
                size_t vlen = 0;
                uint8_t bit;
                bool null = zetl_batch_is_null(b, c, r);

                if (!null) {
                        switch (zetl_type_storage(t)) {
                        case ZETL_ST_BIT:
                                bit = zetl_batch_get_bool(b, c, r);
                                p = &bit;
                                vlen = 1;
                                break;
                        case ZETL_ST_FIXED:
                                vlen = zetl_type_width(t);
                                p = b->cols[c].values + (size_t)r * vlen;
                                break;
                        case ZETL_ST_VAR:
                                p = zetl_batch_get_var(b, c, r, &vlen);
                                break;
                        }
                }
                if (at + vlen + 5 > *cap) {
                        size_t nc = *cap ? *cap : 256;
                        uint8_t *q;
                        while (nc < at + vlen + 5)
                                nc *= 2;
                        if (!(q = realloc(*buf, nc)))
                                return ZETL_ENOMEM;
                        *buf = q;
                        *cap = nc;
                }
                (*buf)[at++] = null ? 0 : 1;
                if (null)
                        continue;
                if (zetl_type_storage(t) == ZETL_ST_VAR) {
                        uint32_t l = (uint32_t)vlen;
                        memcpy(*buf + at, &l, 4);
                        at += 4;
                }
                memcpy(*buf + at, p, vlen);
                at += vlen;
        }
        if (at > UINT32_MAX)
                return ZETL_ELIMIT;
        *len = (uint32_t)at;
        return 0;
}

/* ---- the job ------------------------------------------------------------------------ */

struct out_file {
        char *path;
        struct pq_file_metrics m;
};

struct job {
        const char *dir;
        struct ice_compact_opts o;
        struct ice_compact_result *r;
        struct ice_meta *m;           /* the base */
        const struct ice_schema *cur; /* its current schema (in m) */
        int64_t base_snap, base_seq;
        struct live live;
        struct zetl_schema *zs; /* the output rows */
        int32_t *ids;           /* field id of each zs column */
        struct pq_column *pcols;
        char *schema_json;
        struct delgroup *groups;
        int ngroups;
        /* output */
        struct pq_writer *w;
        int wfd;
        char *wpath;
        struct out_file *files;
        int nfiles, capfiles;
        char run[17];
        uint64_t nfile;
        uint8_t *kbuf;
        size_t kcap;
};

static void groups_free(struct job *j)
{
        for (int g = 0; g < j->ngroups; g++) {
                free(j->groups[g].ids);
                free(j->groups[g].cols);
                keyset_free(&j->groups[g].set);
        }
        free(j->groups);
        j->groups = NULL;
        j->ngroups = 0;
}

static void writer_abort(struct job *j)
{
        pq_writer_free(j->w);
        j->w = NULL;
        if (j->wfd >= 0)
                close(j->wfd);
        j->wfd = -1;
        if (j->wpath)
                unlink(j->wpath);
        free(j->wpath);
        j->wpath = NULL;
}

/* Delete the files written (they are in no snapshot). */
static void files_discard(struct job *j)
{
        writer_abort(j);
        for (int i = 0; i < j->nfiles; i++) {
                unlink(j->files[i].path);
                free(j->files[i].path);
                pq_file_metrics_free(&j->files[i].m);
        }
        j->nfiles = 0;
}

static void files_forget(struct job *j)
{
        for (int i = 0; i < j->nfiles; i++) {
                free(j->files[i].path);
                pq_file_metrics_free(&j->files[i].m);
        }
        j->nfiles = 0;
}

/* Everything of one attempt, but not the options, result and run id. */
static void job_reset(struct job *j)
{
        files_discard(j);
        groups_free(j);
        live_free(&j->live);
        if (j->zs)
                zetl_schema_unref(j->zs);
        j->zs = NULL;
        free(j->ids);
        free(j->pcols);
        free(j->schema_json);
        j->ids = NULL;
        j->pcols = NULL;
        j->schema_json = NULL;
        ice_meta_free(j->m);
        j->m = NULL;
        j->cur = NULL;
}

/* A zetl schema of fields idx[0..n) of s (keys: the identifier fields). */
static struct zetl_schema *zetl_schema_of(const struct ice_schema *s, const int *idx, int n,
                                          struct zetl_err *err)
{
        struct zetl_table_id id;
        struct zetl_schema *zs;

        zetl_table_id_set(&id, "iceberg", "", "compact");
        if (!(zs = zetl_schema_new(&id, n))) {
                enomem(err);
                return NULL;
        }
        for (int i = 0; i < n; i++) {
                const struct ice_field *f = &s->fields[idx[i]];
                struct zetl_column c = {
                        .name = f->name,
                        .type = ice_type_to_zetl(&f->type),
                        .precision = f->type.precision,
                        .scale = f->type.scale,
                        .nullable = !f->required,
                };
                for (int k = 0; k < s->nident; k++)
                        if (s->ident_ids[k] == f->id)
                                c.key_pos = k + 1;
                if (zetl_schema_set_col(zs, i, &c)) {
                        zetl_schema_unref(zs);
                        enomem(err);
                        return NULL;
                }
        }
        /* Key positions may have gaps when an identifier field is not in idx:
         * renumber them 1..k in their order (each at most 1000, distinct). */
        {
                int rank[n + 1];
                for (int i = 0; i < n; i++) {
                        rank[i] = 0;
                        for (int k = 0; zs->cols[i].key_pos && k < n; k++)
                                if (zs->cols[k].key_pos &&
                                    zs->cols[k].key_pos <= zs->cols[i].key_pos)
                                        rank[i]++;
                }
                for (int i = 0; i < n; i++)
                        zs->cols[i].key_pos = rank[i];
        }
        if (zetl_schema_finish(zs, err)) {
                zetl_schema_unref(zs);
                return NULL;
        }
        return zs;
}

/* The output shape: every field of the current schema, in its order. */
static int job_shape(struct job *j, struct zetl_err *err)
{
        const struct ice_schema *s = j->cur;
        int *idx = calloc((size_t)s->nfields + 1, sizeof(int));

        j->ids = calloc((size_t)s->nfields + 1, sizeof(int32_t));
        j->pcols = calloc((size_t)s->nfields + 1, sizeof(*j->pcols));
        if (!idx || !j->ids || !j->pcols) {
                free(idx);
                return enomem(err);
        }
        for (int i = 0; i < s->nfields; i++)
                idx[i] = i;
        j->zs = zetl_schema_of(s, idx, s->nfields, err);
        free(idx);
        if (!j->zs)
                return err->code ? err->code : ZETL_ENOMEM;
        for (int i = 0; i < s->nfields; i++) {
                const struct ice_field *f = &s->fields[i];
                j->ids[i] = f->id;
                j->pcols[i] = (struct pq_column){
                        .field_id = f->id,
                        .name = f->name,
                        .type = j->zs->cols[i].type,
                        .precision = f->type.precision,
                        .scale = f->type.scale,
                        .required = f->required,
                        .batch_col = i,
                };
        }
        if (!(j->schema_json = ice_schema_dumps(s)))
                return enomem(err);
        return 0;
}

/* Open a file of the table for reading; a file gone means the table moved on. */
static int open_file(const char *path, int *fd, struct pq_reader **r, struct zetl_err *err)
{
        int rc;

        *r = NULL;
        *fd = open(path, O_RDONLY | O_CLOEXEC);
        if (*fd < 0) {
                if (errno == ENOENT)
                        return RESTART;
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "iceberg: open %s: %s",
                                    path, strerror(errno));
        }
        if ((rc = pq_reader_open_fd(*fd, NULL, r, err))) {
                close(*fd);
                *fd = -1;
                return zetl_err_prefix(err, "%s: ", path);
        }
        return 0;
}

static bool same_ids(const struct delgroup *g, const struct live_file *f)
{
        if (g->nids != f->n_eq)
                return false;
        for (int i = 0; i < f->n_eq; i++)
                if (g->ids[i] != f->eq_ids[i])
                        return false;
        return true;
}

static int group_for(struct job *j, const struct live_file *f, struct delgroup **out,
                     struct zetl_err *err)
{
        struct delgroup *g, *v;

        for (int i = 0; i < j->ngroups; i++)
                if (same_ids(&j->groups[i], f)) {
                        *out = &j->groups[i];
                        return 0;
                }
        if (!(v = realloc(j->groups, (size_t)(j->ngroups + 1) * sizeof(*v))))
                return enomem(err);
        j->groups = v;
        g = &j->groups[j->ngroups];
        memset(g, 0, sizeof(*g));
        g->ids = malloc((size_t)f->n_eq * sizeof(int32_t));
        g->cols = malloc((size_t)f->n_eq * sizeof(int));
        if (!g->ids || !g->cols) {
                free(g->ids);
                free(g->cols);
                return enomem(err);
        }
        j->ngroups++;
        g->nids = f->n_eq;
        for (int i = 0; i < f->n_eq; i++) {
                g->ids[i] = f->eq_ids[i];
                g->cols[i] = ice_schema_find_id(j->cur, f->eq_ids[i]);
                if (g->cols[i] < 0)
                        return zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_FATAL,
                                            "iceberg: %s deletes on field %d, which the current "
                                            "schema does not have",
                                            f->path, f->eq_ids[i]);
        }
        *out = g;
        return 0;
}

/* Read one equality-delete file into its group's key set. */
static int read_deletes(struct job *j, const struct live_file *f, struct zetl_err *err)
{
        struct delgroup *g = NULL;
        struct zetl_schema *ks = NULL;
        struct zetl_batch *b = NULL;
        struct pq_reader *rd = NULL;
        int fd = -1, rc, n, *pos = NULL;

        if ((rc = group_for(j, f, &g, err)))
                return rc;
        if ((rc = open_file(f->path, &fd, &rd, err)))
                return rc;
        if (!(pos = malloc((size_t)g->nids * sizeof(int)))) {
                rc = enomem(err);
                goto out;
        }
        for (int i = 0; i < g->nids; i++)
                pos[i] = i;
        if (!(ks = zetl_schema_of(j->cur, g->cols, g->nids, err)) ||
            !(b = zetl_batch_new(ks, BATCH_BYTES))) {
                rc = ks ? enomem(err) : err->code;
                goto out;
        }
        if ((rc = pq_reader_bind(rd, ks, g->ids, err))) {
                zetl_err_prefix(err, "%s: ", f->path);
                goto out;
        }
        while ((n = pq_reader_read(rd, b, READ_ROWS, err)) > 0) {
                for (uint32_t r = 0; r < b->nrows; r++) {
                        uint32_t len;
                        if ((rc = key_bytes(b, pos, g->nids, r, &j->kbuf, &j->kcap, &len)) ||
                            (rc = keyset_put(&g->set, j->kbuf, len, f->seq))) {
                                rc = rc == ZETL_ENOMEM
                                             ? enomem(err)
                                             : zetl_err_set(err, rc, ZETL_ERRC_FATAL,
                                                            "iceberg: the deleted keys exceed "
                                                            "%zu bytes",
                                                            (size_t)ICE_COMPACT_MAX_KEY_BYTES);
                                goto out;
                        }
                }
                zetl_batch_reset(b);
        }
        rc = n < 0 ? zetl_err_prefix(err, "%s: ", f->path) : 0;
out:
        free(pos);
        zetl_batch_free(b);
        if (ks)
                zetl_schema_unref(ks);
        pq_reader_free(rd);
        if (fd >= 0)
                close(fd);
        return rc;
}

static int writer_open(struct job *j, struct zetl_err *err)
{
        struct pq_options po = {
                .codec = PQ_CODEC_ZSTD,
                .row_group_bytes = (size_t)j->o.row_group_bytes,
                .iceberg_schema = j->schema_json,
                .fsync = true,
        };
        char path[PATH_MAX];
        int rc;

        if (snprintf(path, sizeof(path), "%s/data/zetlc-%s-%05" PRIu64 ".parquet", j->dir, j->run,
                     ++j->nfile) >= (int)sizeof(path))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "iceberg: %s: path too long",
                                    j->dir);
        if (!(j->wpath = strdup(path)))
                return enomem(err);
        j->wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (j->wfd < 0) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "iceberg: create %s: %s",
                                  path, strerror(errno));
                free(j->wpath);
                j->wpath = NULL;
                return rc;
        }
        if ((rc = pq_writer_open(j->wfd, j->pcols, j->cur->nfields, &po, &j->w, err)))
                writer_abort(j);
        return rc;
}

static int writer_close(struct job *j, struct zetl_err *err)
{
        struct pq_file_metrics m = { 0 };
        struct pq_writer *w = j->w;
        int rc;

        if (j->nfiles == j->capfiles) {
                int n = j->capfiles ? j->capfiles * 2 : 8;
                struct out_file *v = realloc(j->files, (size_t)n * sizeof(*v));
                if (!v)
                        return enomem(err);
                j->files = v;
                j->capfiles = n;
        }
        j->w = NULL;
        rc = pq_writer_close(w, &m, err);
        if (rc == 0 && close(j->wfd) < 0)
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "iceberg: close %s: %s",
                                  j->wpath, strerror(errno));
        else if (rc)
                close(j->wfd);
        j->wfd = -1;
        if (rc) {
                pq_file_metrics_free(&m);
                writer_abort(j);
                return rc;
        }
        j->files[j->nfiles++] = (struct out_file){ .path = j->wpath, .m = m };
        j->wpath = NULL;
        return 0;
}

/* Is row r of data file f (sequence number seq) deleted? */
static int row_deleted(struct job *j, const struct zetl_batch *b, uint32_t r, int64_t seq,
                       bool *del)
{
        *del = false;
        for (int g = 0; g < j->ngroups && !*del; g++) {
                struct delgroup *dg = &j->groups[g];
                uint32_t len;
                struct kslot *s;
                int rc;
                if (!dg->set.n)
                        continue;
                if ((rc = key_bytes(b, dg->cols, dg->nids, r, &j->kbuf, &j->kcap, &len)))
                        return rc;
                s = keyset_find(&dg->set, j->kbuf, len, hash_key(j->kbuf, len));
                *del = s && s->hash && s->seq > seq;
        }
        return 0;
}

/* Stream one data file into the output, without the rows a delete removes. */
static int rewrite_file(struct job *j, const struct live_file *f, struct zetl_batch *b,
                        uint32_t *keep, struct zetl_err *err)
{
        struct pq_reader *rd = NULL;
        int fd = -1, rc, n;

        if ((rc = open_file(f->path, &fd, &rd, err)))
                return rc;
        if ((rc = pq_reader_bind(rd, j->zs, j->ids, err))) {
                zetl_err_prefix(err, "%s: ", f->path);
                goto out;
        }
        while ((n = pq_reader_read(rd, b, READ_ROWS, err)) > 0) {
                uint32_t nk = 0;
                for (uint32_t r = 0; r < b->nrows; r++) {
                        bool del;
                        if ((rc = row_deleted(j, b, r, f->seq, &del))) {
                                rc = enomem(err);
                                goto out;
                        }
                        if (del)
                                j->r->rows_deleted++;
                        else
                                keep[nk++] = r;
                }
                if (nk > 0 && !j->w && (rc = writer_open(j, err)))
                        goto out;
                if (nk > 0 && (rc = pq_writer_write(j->w, b, keep, nk, err)))
                        goto out;
                j->r->rows_after += nk;
                if (j->w && pq_writer_bytes(j->w) >= (uint64_t)j->o.target_file_bytes &&
                    (rc = writer_close(j, err)))
                        goto out;
                zetl_batch_reset(b);
        }
        rc = n < 0 ? zetl_err_prefix(err, "%s: ", f->path) : 0;
out:
        pq_reader_free(rd);
        if (fd >= 0)
                close(fd);
        return rc;
}

static int fsync_dir(const char *dir, const char *sub, struct zetl_err *err)
{
        char path[PATH_MAX];
        int fd, rc = 0;

        snprintf(path, sizeof(path), "%s/%s", dir, sub);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "iceberg: fsync %s: %s", path,
                                  strerror(errno));
        if (fd >= 0)
                close(fd);
        return rc;
}

/* Read the deletes, rewrite the data. */
static int rewrite(struct job *j, struct zetl_err *err)
{
        struct zetl_batch *b = NULL;
        uint32_t *keep = malloc(READ_ROWS * sizeof(uint32_t));
        int rc = 0;

        if (!keep || !(b = zetl_batch_new(j->zs, BATCH_BYTES))) {
                free(keep);
                return enomem(err);
        }
        for (int i = 0; i < j->live.n && rc == 0; i++)
                if (j->live.v[i].content == ICE_CONTENT_EQUALITY_DELETES)
                        rc = read_deletes(j, &j->live.v[i], err);
        for (int i = 0; i < j->live.n && rc == 0; i++)
                if (j->live.v[i].content == ICE_CONTENT_DATA)
                        rc = rewrite_file(j, &j->live.v[i], b, keep, err);
        if (rc == 0 && j->w)
                rc = writer_close(j, err);
        if (rc == 0 && j->nfiles > 0)
                rc = fsync_dir(j->dir, "data", err);
        zetl_batch_free(b);
        free(keep);
        return rc;
}

/* ---- committing ------------------------------------------------------------------- */

static int fill_entry(const struct out_file *f, const char *loc, int64_t snap, int64_t data_seq,
                      int64_t seq, struct ice_file_lists *a, struct ice_manifest_entry *e)
{
        *e = (struct ice_manifest_entry){
                .status = ICE_STATUS_ADDED,
                .has_snapshot_id = true,
                .snapshot_id = snap,
                .has_sequence_number = true,
                .sequence_number = data_seq,
                .has_file_sequence_number = true,
                .file_sequence_number = seq,
        };
        return ice_data_file_from_parquet(&f->m, ICE_CONTENT_DATA, loc, a, &e->file) ? ZETL_ENOMEM
                                                                                     : 0;
}

/* Write the manifest of the compacted files; *mf describes it. */
static int write_manifest(struct job *j, struct ice_meta *m, int64_t snap, int64_t seq,
                          struct ice_manifest_file *mf, char *path, size_t plen,
                          struct zetl_err *err)
{
        struct ice_manifest_entry *e = calloc((size_t)j->nfiles + 1, sizeof(*e));
        struct ice_file_lists *a = calloc((size_t)j->nfiles + 1, sizeof(*a));
        char **locs = calloc((size_t)j->nfiles + 1, sizeof(char *));
        char rel[128], loc[PATH_MAX + 16];
        struct ice_manifest man = { 0 };
        int64_t len = 0, rows = 0;
        int rc = 0, n = 0;

        if (!e || !a || !locs) {
                rc = enomem(err);
                goto out;
        }
        for (n = 0; n < j->nfiles; n++) {
                if (!(locs[n] = malloc(PATH_MAX + 16)) ||
                    ice_path_to_location(j->files[n].path, locs[n], PATH_MAX + 16)) {
                        rc = locs[n] ? zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                                    "iceberg: %s cannot be a location",
                                                    j->files[n].path)
                                     : enomem(err);
                        n++;
                        goto out;
                }
                if (fill_entry(&j->files[n], locs[n], snap, j->base_seq, seq, &a[n], &e[n])) {
                        n++;
                        rc = enomem(err);
                        goto out;
                }
                rows += j->files[n].m.record_count;
        }
        snprintf(rel, sizeof(rel), "metadata/zetl-compact-%s-%05" PRIu64 "-m0.avro", j->run,
                 ++j->nfile);
        if (snprintf(path, plen, "%s/%s", j->dir, rel) >= (int)plen ||
            ice_meta_location_of(m, rel, loc, sizeof(loc))) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "iceberg: %s: path too long",
                                  j->dir);
                goto out;
        }
        man.schema_json = j->schema_json;
        man.schema_id = j->cur->schema_id;
        man.content = ICE_MANIFEST_DATA;
        man.entries = e;
        man.n_entries = (size_t)j->nfiles;
        if ((rc = ice_manifest_write(path, &man, ICE_AVRO_CODEC_DEFLATE, &len, err)))
                goto out;
        if (!(mf->manifest_path = strdup(loc))) {
                unlink(path);
                rc = enomem(err);
                goto out;
        }
        mf->manifest_length = len;
        mf->partition_spec_id = 0;
        mf->content = ICE_MANIFEST_DATA;
        mf->sequence_number = seq;
        mf->min_sequence_number = j->base_seq;
        mf->added_snapshot_id = snap;
        mf->added_files_count = (int32_t)j->nfiles;
        mf->added_rows_count = rows;
out:
        for (int i = 0; i < n; i++) {
                ice_file_lists_free(&a[i]);
                free(locs[i]);
        }
        free(locs);
        free(a);
        free(e);
        return rc;
}

static bool listed(char *const *v, int n, const char *s)
{
        for (int i = 0; i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

/* Live file bytes of a manifest (for the new snapshot's total-files-size). */
static int manifest_bytes(const char *location, int64_t *bytes, struct zetl_err *err)
{
        struct ice_manifest *man = NULL;
        char path[PATH_MAX];
        int rc;

        if (ice_location_to_path(location, path, sizeof(path)))
                return zetl_err_set(err, ZETL_EUNSUPPORTED, ZETL_ERRC_FATAL,
                                    "iceberg: manifest %s is not a local file", location);
        if ((rc = ice_manifest_read(path, &man, err)))
                return rc;
        for (size_t k = 0; k < man->n_entries; k++)
                if (man->entries[k].status != ICE_STATUS_DELETED)
                        *bytes += man->entries[k].file.file_size_in_bytes;
        ice_manifest_free(man);
        return 0;
}

struct kvs {
        struct ice_kv kv[20];
        char val[20][32];
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
 * One commit try on m (the base, or a fresh load after a lost race).
 * Returns 0, ZETL_EEXIST (lost the race: load again and retry), RESTART
 * (the base's files are no longer all current: not rebaseable), or an error.
 */
static int commit_try(struct job *j, struct ice_meta *m, struct zetl_err *err)
{
        const struct ice_snapshot *parent = ice_meta_snapshot(m, -1);
        struct ice_manifest_list *cur = NULL;
        struct ice_manifest_list list = { 0 };
        struct ice_manifest_file *mfs = NULL;
        char mpath[PATH_MAX] = "", lpath[PATH_MAX] = "", rel[200], loc[PATH_MAX + 16];
        int64_t snap, seq = ice_meta_next_sequence(m), total_bytes = j->r->bytes_after;
        int64_t data_files = 0, del_files = 0, records = 0, eq = 0;
        struct kvs kv = { .n = 0 };
        size_t nmf = 0;
        int rc;

        if (!parent)
                return RESTART;
        if (parent->snapshot_id != j->base_snap) {
                char path[PATH_MAX];
                if (ice_location_to_path(parent->manifest_list, path, sizeof(path)))
                        return RESTART;
                if ((rc = ice_manifest_list_read(path, &cur, err)))
                        return rc;
                for (int i = 0; i < j->live.nman; i++) {
                        bool found = false;
                        for (size_t k = 0; k < cur->n_files && !found; k++)
                                found = strcmp(cur->files[k].manifest_path, j->live.manifests[i]) ==
                                        0;
                        if (!found) {
                                rc = RESTART;
                                goto out;
                        }
                }
        }
        if ((rc = ice_meta_new_snapshot_id(m, &snap, err)))
                goto out;
        if (!(mfs = calloc(1 + (cur ? cur->n_files : 0), sizeof(*mfs)))) {
                rc = enomem(err);
                goto out;
        }
        if (j->nfiles > 0) {
                if ((rc = write_manifest(j, m, snap, seq, &mfs[0], mpath, sizeof(mpath), err)))
                        goto out;
                nmf = 1;
                data_files += j->nfiles;
                records += j->r->rows_after;
        }
        /* What the sink added since the base goes on as it is. */
        for (size_t k = 0; cur && k < cur->n_files; k++) {
                const struct ice_manifest_file *f = &cur->files[k];
                if (listed(j->live.manifests, j->live.nman, f->manifest_path))
                        continue;
                if ((rc = manifest_bytes(f->manifest_path, &total_bytes, err)))
                        goto out;
                mfs[nmf++] = *f;
                if (f->content == ICE_MANIFEST_DATA) {
                        data_files += f->added_files_count + f->existing_files_count;
                        records += f->added_rows_count + f->existing_rows_count;
                } else {
                        del_files += f->added_files_count + f->existing_files_count;
                        eq += f->added_rows_count + f->existing_rows_count;
                }
        }
        list.snapshot_id = snap;
        list.has_parent_snapshot_id = true;
        list.parent_snapshot_id = parent->snapshot_id;
        list.sequence_number = seq;
        list.files = mfs;
        list.n_files = nmf;
        snprintf(rel, sizeof(rel), "metadata/snap-%" PRId64 "-zetl-compact-%s-%05" PRIu64 ".avro",
                 snap, j->run, ++j->nfile);
        if (snprintf(lpath, sizeof(lpath), "%s/%s", j->dir, rel) >= (int)sizeof(lpath) ||
            ice_meta_location_of(m, rel, loc, sizeof(loc))) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "iceberg: %s: path too long",
                                  j->dir);
                lpath[0] = '\0';
                goto out;
        }
        if ((rc = ice_manifest_list_write(lpath, &list, ICE_AVRO_CODEC_DEFLATE, NULL, err))) {
                lpath[0] = '\0';
                goto out;
        }
        kv_put(&kv, "added-data-files", j->nfiles);
        kv_put(&kv, "added-records", j->r->rows_after);
        kv_put(&kv, "added-files-size", j->r->bytes_after);
        kv_put(&kv, "deleted-data-files", j->r->data_files_before);
        kv_put(&kv, "deleted-records", j->r->rows_before);
        kv_put(&kv, "removed-delete-files", j->r->delete_files_before);
        kv_put(&kv, "removed-equality-deletes", j->r->delete_rows);
        kv_put(&kv, "removed-files-size", j->r->bytes_before);
        kv_put(&kv, "total-data-files", data_files);
        kv_put(&kv, "total-delete-files", del_files);
        kv_put(&kv, "total-records", records);
        kv_put(&kv, "total-equality-deletes", eq);
        kv_put(&kv, "total-position-deletes", 0);
        kv_put(&kv, "total-files-size", total_bytes);
        /* The sink's replay floor stays what it was: the rows are the same. */
        if (ice_snapshot_get(parent, SUMMARY_MAX_POS)) {
                snprintf(kv.val[kv.n], sizeof(kv.val[0]), "%s",
                         ice_snapshot_get(parent, SUMMARY_MAX_POS));
                kv.kv[kv.n].key = (char *)SUMMARY_MAX_POS;
                kv.kv[kv.n].value = kv.val[kv.n];
                kv.n++;
        }
        struct ice_snapshot_new ns = {
                .snapshot_id = snap,
                .operation = "replace",
                .manifest_list = loc,
                .summary = kv.kv,
                .nsummary = kv.n,
                .pos = NULL,
                .integration = NULL,
        };
        if ((rc = ice_meta_add_snapshot(m, &ns, err)))
                goto out;
        if ((rc = ice_meta_commit(m, err)) == 0)
                j->r->snapshot_id = snap;
out:
        if (rc) {
                /* Neither is in any snapshot: gone, so that the next try starts clean. */
                if (mpath[0])
                        unlink(mpath);
                if (lpath[0])
                        unlink(lpath);
        }
        if (nmf > 0 && j->nfiles > 0)
                free((char *)mfs[0].manifest_path);
        free(mfs);
        ice_manifest_list_free(cur);
        return rc;
}

/* Commit, rebasing on what was committed meanwhile. */
static int commit(struct job *j, struct zetl_err *err)
{
        struct ice_meta *m = NULL;
        int rc = ZETL_EEXIST;

        for (int t = 0; t <= j->o.commit_retries && rc == ZETL_EEXIST; t++) {
                if (t > 0) {
                        j->r->commit_retries++;
                        zetl_err_clear(err);
                        ice_meta_free(m);
                        m = NULL;
                        if ((rc = ice_meta_load(j->dir, &m, err)))
                                break;
                }
                if (j->o.before_commit)
                        j->o.before_commit(j->o.hook_arg, t);
                rc = commit_try(j, m ? m : j->m, err);
        }
        ice_meta_free(m);
        return rc;
}

/* One attempt from a fresh load. */
static int attempt(struct job *j, struct zetl_err *err)
{
        const struct ice_snapshot *sn;
        struct ice_compact_result *r = j->r;
        int rc;

        if ((rc = ice_meta_load(j->dir, &j->m, err)))
                return rc;
        sn = ice_meta_snapshot(j->m, -1);
        if (!sn)
                return 0;
        j->base_snap = sn->snapshot_id;
        j->base_seq = sn->sequence_number;
        if (!(j->cur = ice_meta_schema(j->m, -1)))
                return zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL,
                                    "iceberg: %s: no current schema", j->dir);
        if ((rc = load_live(sn, &j->live, err)))
                return rc;
        r->data_files_before = j->live.ndata;
        r->delete_files_before = j->live.ndel;
        r->rows_before = r->delete_rows = r->bytes_before = 0;
        r->rows_deleted = r->rows_after = r->bytes_after = 0;
        r->data_files_after = 0;
        for (int i = 0; i < j->live.n; i++) {
                const struct live_file *f = &j->live.v[i];
                r->bytes_before += f->size;
                if (f->content == ICE_CONTENT_DATA)
                        r->rows_before += f->records;
                else
                        r->delete_rows += f->records;
        }
        if (!j->o.force && j->live.ndel == 0 && j->live.ndata <= 1)
                return 0;
        r->compacted = true;
        if (j->o.dry_run)
                return 0;
        if ((rc = job_shape(j, err)) || (rc = rewrite(j, err)))
                return rc;
        for (int i = 0; i < j->nfiles; i++)
                r->bytes_after += (int64_t)j->files[i].m.file_size;
        r->data_files_after = j->nfiles;
        if ((rc = commit(j, err)))
                return rc;
        files_forget(j); /* committed: theirs now */
        return 0;
}

int ice_compact_table(const char *table_dir, const struct ice_compact_opts *o,
                      struct ice_compact_result *r, struct zetl_err *err)
{
        struct job j = { .dir = table_dir, .r = r, .wfd = -1 };
        uint64_t rnd = 0;
        int lock = -1, rc = 0;

        memset(r, 0, sizeof(*r));
        opts_defaults(o, &j.o);
        if (!j.o.dry_run && (rc = lock_table(table_dir, true, &lock, err)))
                return rc;
        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                rnd = (uint64_t)wall_ms() ^ ((uint64_t)getpid() << 32);
        snprintf(j.run, sizeof(j.run), "%016" PRIx64, rnd);
        for (int a = 0; a < j.o.attempts; a++) {
                if (a > 0) {
                        r->commit_retries++;
                        zetl_err_clear(err);
                }
                rc = attempt(&j, err);
                job_reset(&j);
                if (rc != RESTART)
                        break;
                r->compacted = false;
        }
        if (rc == RESTART)
                rc = zetl_err_set(err, ZETL_EEXIST, ZETL_ERRC_TRANSIENT,
                                  "iceberg: %s: the table kept changing under the compaction "
                                  "(%d attempts)",
                                  table_dir, j.o.attempts);
        if (rc && rc != ZETL_ENOTFOUND)
                r->compacted = false;
        free(j.files);
        free(j.kbuf);
        if (lock >= 0)
                close(lock);
        return rc;
}

/* ---- maintenance ---------------------------------------------------------------------- */

struct strset {
        char **v;
        size_t n, cap;
};

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int strset_add_path(struct strset *ss, const char *path)
{
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

static int strset_add(struct strset *ss, const char *location)
{
        char path[PATH_MAX];

        if (ice_location_to_path(location, path, sizeof(path)))
                return 0; /* not a local file: not ours to keep or delete */
        return strset_add_path(ss, path);
}

static void strset_sort(struct strset *ss)
{
        size_t w = 0;

        if (ss->n)
                qsort(ss->v, ss->n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < ss->n; i++) {
                if (w > 0 && strcmp(ss->v[w - 1], ss->v[i]) == 0) {
                        free(ss->v[i]);
                        continue;
                }
                ss->v[w++] = ss->v[i];
        }
        ss->n = w;
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
        memset(ss, 0, sizeof(*ss));
}

/* Every file the snapshots of m reach: lists, manifests, data and deletes. */
static int reachable(const struct ice_meta *m, struct strset *ss, struct zetl_err *err)
{
        struct strset manifests = { 0 };
        char path[PATH_MAX];
        int rc = 0;

        for (int i = 0; i < m->nsnapshots && rc == 0; i++) {
                struct ice_manifest_list *l = NULL;
                const char *loc = m->snapshots[i].manifest_list;
                if (ice_location_to_path(loc, path, sizeof(path)))
                        continue;
                if ((rc = strset_add_path(ss, path)))
                        break;
                if ((rc = ice_manifest_list_read(path, &l, err)))
                        break;
                for (size_t k = 0; k < l->n_files && rc == 0; k++)
                        rc = strset_add(&manifests, l->files[k].manifest_path);
                ice_manifest_list_free(l);
        }
        if (rc == 0)
                strset_sort(&manifests);
        for (size_t i = 0; i < manifests.n && rc == 0; i++) {
                struct ice_manifest *man = NULL;
                if ((rc = ice_manifest_read(manifests.v[i], &man, err)))
                        break;
                for (size_t k = 0; k < man->n_entries && rc == 0; k++)
                        rc = strset_add(ss, man->entries[k].file.file_path);
                ice_manifest_free(man);
                if (rc == 0)
                        rc = strset_add_path(ss, manifests.v[i]);
        }
        if (rc == ZETL_ENOMEM)
                rc = enomem(err);
        if (rc == 0)
                strset_sort(ss);
        strset_free(&manifests);
        return rc;
}

/* Is name a file zetl wrote in data/ (compacted ones only if allowed) or metadata/? */
static bool zetl_file(const char *name, bool metadata, bool compacted)
{
        size_t n = strlen(name);
        bool avro = n > 5 && strcmp(name + n - 5, ".avro") == 0;
        bool parquet = n > 8 && strcmp(name + n - 8, ".parquet") == 0;

        if (metadata)
                return avro && (strncmp(name, "zetl-", 5) == 0 ||
                                (strncmp(name, "snap-", 5) == 0 && strstr(name, "-zetl-")));
        return parquet &&
               (strncmp(name, "zetl-", 5) == 0 || (compacted && strncmp(name, "zetlc-", 6) == 0));
}

static bool older(const struct timespec *a, const struct timespec *b)
{
        return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void sweep_dir(const char *dir, bool metadata, bool compacted, const struct strset *keep,
                      const struct timespec *before, bool dry, int *removed)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        char path[PATH_MAX];
        struct stat st;

        if (!d)
                return;
        while ((de = readdir(d)) != NULL) {
                if (!zetl_file(de->d_name, metadata, compacted))
                        continue;
                if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
                        continue;
                if (strset_has(keep, path) || lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
                    !older(&st.st_mtim, before))
                        continue;
                if (dry || unlink(path) == 0)
                        (*removed)++;
        }
        closedir(d);
}

/* Delete what no snapshot of m reaches (see ice_maintain_table). */
static int sweep(const struct ice_meta *m, bool dry, int *removed, struct zetl_err *err)
{
        struct strset keep = { 0 };
        char path[PATH_MAX];
        struct stat st;
        int rc, lock = -1;
        struct zetl_err lerr;

        if (m->version <= 0)
                return 0;
        snprintf(path, sizeof(path), "%s/metadata/v%d.metadata.json", m->dir, m->version);
        if (stat(path, &st) < 0)
                return 0;
        if ((rc = reachable(m, &keep, err)))
                goto out;
        /* Compacted files in flight belong to the lock holder (a dry run
         * makes no lock file: without one it leaves them out). */
        lock_table(m->dir, !dry, &lock, &lerr);
        snprintf(path, sizeof(path), "%s/data", m->dir);
        sweep_dir(path, false, lock >= 0, &keep, &st.st_mtim, dry, removed);
        snprintf(path, sizeof(path), "%s/metadata", m->dir);
        sweep_dir(path, true, false, &keep, &st.st_mtim, dry, removed);
        if (!dry && ice_meta_clean_metadata(m, &lerr))
                zlog_warn("iceberg: %s: %s", m->dir, lerr.msg);
out:
        if (lock >= 0)
                close(lock);
        strset_free(&keep);
        return rc;
}

int ice_maintain_table(const char *table_dir, const struct ice_compact_opts *in,
                       struct ice_compact_result *r, struct zetl_err *err)
{
        struct ice_compact_opts o;
        struct ice_meta *m = NULL;
        int64_t older_than;
        int rc = ZETL_EEXIST;

        opts_defaults(in, &o);
        older_than = o.retention_ms < 0 ? INT64_MAX : wall_ms() - o.retention_ms;
        r->snapshots_expired = 0;
        r->files_removed = 0;
        for (int t = 0; t <= o.commit_retries && rc == ZETL_EEXIST; t++) {
                char **lists = NULL;
                int nlists = 0, before;
                zetl_err_clear(err);
                ice_meta_free(m);
                m = NULL;
                if ((rc = ice_meta_load(table_dir, &m, err)))
                        break;
                before = m->nsnapshots;
                rc = ice_meta_expire_snapshots(m, older_than, o.keep_ancestors, &lists, &nlists,
                                               err);
                ice_strings_free(lists, nlists);
                if (rc)
                        break;
                r->snapshots_expired = before - m->nsnapshots;
                if (r->snapshots_expired > 0 && !o.dry_run)
                        rc = ice_meta_commit(m, err);
        }
        if (rc == 0)
                rc = sweep(m, o.dry_run, &r->files_removed, err);
        ice_meta_free(m);
        return rc;
}
