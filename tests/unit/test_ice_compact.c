/*
 * Tests of Iceberg compaction and maintenance (connectors/iceberg/ice_compact.h).
 *
 * A table is built here the way the sink builds it (ice_sink.c): each
 * "commit" writes an equality-delete file on the key for every key it
 * touches and a data file with the new versions, both under the snapshot's
 * sequence number, in new manifests listed before the parent's. A model
 * (id -> value, or gone) follows every commit; after compaction the table
 * must be exactly one data file and no delete file whose rows, read without
 * applying any delete, are the model.
 *
 * Races are made deterministic with the before_commit hook: a sink-like
 * commit lands between the compaction's rewrite and its commit (the rebase
 * must keep it, and its deletes must still reach the compacted rows), a
 * truncate lands there (the compaction must start again), or a commit lands
 * before every try (it must give up with ZETL_EEXIST and leave no file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../connectors/iceberg/ice_compact.h"
#include "../../connectors/iceberg/ice_meta.h"
#include "../../connectors/iceberg/manifest.h"
#include "../../connectors/iceberg/parquet.h"
#include "../../connectors/iceberg/pq_reader.h"
#include "zetl/batch.h"

#define MAXID 2000

struct fx {
        char tmp[64];
        char dir[128];
        int nfile;
        /* the model: value of each id, NULL when absent */
        char *val[MAXID];
        int ncols; /* 2, or 3 after the schema gained "extra" */
};

static struct fx *F;

/* ---- building the table as the sink does ----------------------------------- */

static struct ice_schema *schema2(void)
{
        struct ice_schema *s = ice_schema_new(2, 1);

        s->fields[0] = (struct ice_field){ 1, strdup("id"), true, { ICE_T_LONG } };
        s->fields[1] = (struct ice_field){ 2, strdup("v"), false, { ICE_T_STRING } };
        s->ident_ids[0] = 1;
        return s;
}

static struct zetl_schema *zschema(int ncols)
{
        static const char *const names[] = { "id", "v", "extra" };
        static const enum zetl_type types[] = { ZETL_T_INT64, ZETL_T_STRING, ZETL_T_INT32 };
        struct zetl_table_id id;
        struct zetl_schema *s;

        zetl_table_id_set(&id, "db", "", "t");
        s = zetl_schema_new(&id, ncols);
        for (int i = 0; i < ncols; i++) {
                struct zetl_column c = { .name = (char *)names[i],
                                         .type = types[i],
                                         .nullable = i > 0,
                                         .key_pos = i == 0 };
                assert_int_equal(zetl_schema_set_col(s, i, &c), 0);
        }
        assert_int_equal(zetl_schema_finish(s, NULL), 0);
        return s;
}

/* Write rows of b into a new Parquet file; fills entry e (path owned by *loc). */
static void write_pq(const struct zetl_batch *b, int ncols, bool deletes, int64_t snap, int64_t seq,
                     char **loc, struct ice_manifest_entry *e)
{
        static const int32_t eq[] = { 1 };
        struct pq_column cols[3] = {
                { .field_id = 1,
                  .name = "id",
                  .type = ZETL_T_INT64,
                  .required = true,
                  .batch_col = 0 },
                { .field_id = 2, .name = "v", .type = ZETL_T_STRING, .batch_col = 1 },
                { .field_id = 3, .name = "extra", .type = ZETL_T_INT32, .batch_col = 2 },
        };
        struct pq_options o = { .codec = PQ_CODEC_ZSTD };
        struct pq_file_metrics m;
        struct pq_writer *w;
        struct zetl_err err;
        char path[PATH_MAX];
        int fd;

        snprintf(path, sizeof(path), "%s/data/zetl-test-%05d%s.parquet", F->dir, ++F->nfile,
                 deletes ? "-deletes" : "");
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        assert_true(fd >= 0);
        assert_int_equal(pq_writer_open(fd, cols, deletes ? 1 : ncols, &o, &w, &err), 0);
        assert_int_equal(pq_writer_write(w, b, NULL, b->nrows, &err), 0);
        assert_int_equal(pq_writer_close(w, &m, &err), 0);
        close(fd);
        *loc = malloc(PATH_MAX + 16);
        assert_int_equal(ice_path_to_location(path, *loc, PATH_MAX + 16), 0);
        *e = (struct ice_manifest_entry){
                .status = ICE_STATUS_ADDED,
                .has_snapshot_id = true,
                .snapshot_id = snap,
                .has_sequence_number = true,
                .sequence_number = seq,
                .has_file_sequence_number = true,
                .file_sequence_number = seq,
                .file = { .content = deletes ? ICE_CONTENT_EQUALITY_DELETES : ICE_CONTENT_DATA,
                          .file_path = *loc,
                          .record_count = m.record_count,
                          .file_size_in_bytes = (int64_t)m.file_size,
                          .equality_ids = deletes ? eq : NULL,
                          .n_equality_ids = deletes ? 1 : 0 },
        };
        pq_file_metrics_free(&m);
}

static void write_man(struct ice_meta *m, struct ice_manifest_entry *e, int content, int64_t snap,
                      int64_t seq, struct ice_manifest_file *mf, char **loc)
{
        char rel[64], path[PATH_MAX];
        char *json = ice_schema_dumps(ice_meta_schema(m, -1));
        struct ice_manifest man = {
                .schema_json = json,
                .schema_id = ice_meta_schema(m, -1)->schema_id,
                .content = content == ICE_CONTENT_DATA ? ICE_MANIFEST_DATA : ICE_MANIFEST_DELETES,
                .entries = e,
                .n_entries = 1,
        };
        int64_t len;
        struct zetl_err err;

        snprintf(rel, sizeof(rel), "metadata/zetl-test-%05d-m.avro", ++F->nfile);
        snprintf(path, sizeof(path), "%s/%s", F->dir, rel);
        *loc = malloc(PATH_MAX + 16);
        assert_int_equal(ice_meta_location_of(m, rel, *loc, PATH_MAX + 16), 0);
        assert_int_equal(ice_manifest_write(path, &man, ICE_AVRO_CODEC_NULL, &len, &err), 0);
        *mf = (struct ice_manifest_file){
                .manifest_path = *loc,
                .manifest_length = len,
                .content = man.content,
                .sequence_number = seq,
                .min_sequence_number = seq,
                .added_snapshot_id = snap,
                .added_files_count = 1,
                .added_rows_count = e->file.record_count,
        };
        free(json);
}

/* One sink-like commit: set ids[i] to vals[i] (NULL: delete). truncate:
 * the snapshot drops every earlier file. */
static void sink_commit(const int *ids, const char *const *vals, int n, bool truncate)
{
        struct ice_meta *m = NULL;
        struct zetl_err err;
        struct zetl_schema *zs = zschema(F->ncols), *ks = zschema(1);
        struct zetl_batch *db = zetl_batch_new(zs, 0), *kb = zetl_batch_new(ks, 0);
        struct ice_manifest_entry de, ke;
        struct ice_manifest_file mfs[64];
        struct ice_manifest_list list = { 0 }, *prev = NULL;
        char *locs[4] = { 0 }, rel[96], path[PATH_MAX], loc[PATH_MAX + 16];
        const struct ice_snapshot *parent;
        int64_t snap, seq;
        size_t nmf = 0;

        assert_int_equal(ice_meta_load(F->dir, &m, &err), 0);
        parent = ice_meta_snapshot(m, -1);
        assert_int_equal(ice_meta_new_snapshot_id(m, &snap, &err), 0);
        seq = ice_meta_next_sequence(m);
        for (int i = 0; i < n; i++) {
                assert_int_equal(zetl_batch_row_begin(kb, ZETL_OP_DELETE, 0, &err), 0);
                zetl_batch_set_i64(kb, 0, ids[i]);
                zetl_batch_row_end(kb);
                free(F->val[ids[i]]);
                F->val[ids[i]] = vals[i] ? strdup(vals[i]) : NULL;
                if (!vals[i])
                        continue;
                assert_int_equal(zetl_batch_row_begin(db, ZETL_OP_INSERT, 0, &err), 0);
                zetl_batch_set_i64(db, 0, ids[i]);
                assert_int_equal(zetl_batch_set_var(db, 1, vals[i], strlen(vals[i]), &err), 0);
                if (F->ncols == 3)
                        zetl_batch_set_i32(db, 2, ids[i]);
                zetl_batch_row_end(db);
        }
        if (!truncate) {
                write_pq(kb, 1, true, snap, seq, &locs[0], &ke);
                write_man(m, &ke, ICE_CONTENT_EQUALITY_DELETES, snap, seq, &mfs[nmf++], &locs[1]);
        }
        if (db->nrows) {
                write_pq(db, F->ncols, false, snap, seq, &locs[2], &de);
                write_man(m, &de, ICE_CONTENT_DATA, snap, seq, &mfs[nmf++], &locs[3]);
        }
        if (parent && !truncate) {
                assert_int_equal(ice_location_to_path(parent->manifest_list, path, sizeof(path)),
                                 0);
                assert_int_equal(ice_manifest_list_read(path, &prev, &err), 0);
                for (size_t i = 0; i < prev->n_files; i++)
                        mfs[nmf++] = prev->files[i];
        }
        list = (struct ice_manifest_list){ .snapshot_id = snap,
                                           .has_parent_snapshot_id = parent != NULL,
                                           .parent_snapshot_id = parent ? parent->snapshot_id : 0,
                                           .sequence_number = seq,
                                           .files = mfs,
                                           .n_files = nmf };
        snprintf(rel, sizeof(rel), "metadata/snap-%" PRId64 "-zetl-test-%05d.avro", snap,
                 ++F->nfile);
        snprintf(path, sizeof(path), "%s/%s", F->dir, rel);
        assert_int_equal(ice_meta_location_of(m, rel, loc, sizeof(loc)), 0);
        assert_int_equal(ice_manifest_list_write(path, &list, ICE_AVRO_CODEC_NULL, NULL, &err), 0);
        struct ice_kv kv[2] = { { "total-delete-files", "0" }, { "zetl.max-row-pos", "77" } };
        char ndel[16];
        int ndels = 0;
        for (size_t i = 0; i < nmf; i++)
                if (mfs[i].content == ICE_MANIFEST_DELETES)
                        ndels++;
        snprintf(ndel, sizeof(ndel), "%d", ndels);
        kv[0].value = ndel;
        struct zetl_position pos;
        zetl_pos_set(&pos, (uint64_t)seq * 10, "tok");
        struct ice_snapshot_new ns = { .snapshot_id = snap,
                                       .operation = "overwrite",
                                       .manifest_list = loc,
                                       .summary = kv,
                                       .nsummary = 2,
                                       .pos = &pos };
        assert_int_equal(ice_meta_add_snapshot(m, &ns, &err), 0);
        assert_int_equal(ice_meta_commit(m, &err), 0);
        ice_manifest_list_free(prev);
        for (int i = 0; i < 4; i++)
                free(locs[i]);
        zetl_batch_free(db);
        zetl_batch_free(kb);
        zetl_schema_unref(zs);
        zetl_schema_unref(ks);
        ice_meta_free(m);
}

/* ---- checking ------------------------------------------------------------------- */

/* The live files of the current snapshot: counts, and, when there is no
 * delete file, the rows of the data files read as they are must be the model. */
static void check_compacted(int want_data, int want_del)
{
        struct ice_meta *m = NULL;
        struct ice_manifest_list *l = NULL;
        struct zetl_err err;
        char path[PATH_MAX];
        bool seen[MAXID] = { false };
        int ndata = 0, ndel = 0;
        struct zetl_schema *zs = zschema(F->ncols);
        int32_t ids[3] = { 1, 2, 3 };

        assert_int_equal(ice_meta_load(F->dir, &m, &err), 0);
        assert_int_equal(
                ice_location_to_path(ice_meta_snapshot(m, -1)->manifest_list, path, sizeof(path)),
                0);
        assert_int_equal(ice_manifest_list_read(path, &l, &err), 0);
        for (size_t i = 0; i < l->n_files; i++) {
                struct ice_manifest *man = NULL;
                assert_int_equal(
                        ice_location_to_path(l->files[i].manifest_path, path, sizeof(path)), 0);
                assert_int_equal(ice_manifest_read(path, &man, &err), 0);
                for (size_t k = 0; k < man->n_entries; k++) {
                        const struct ice_data_file *f = &man->entries[k].file;
                        struct pq_reader *r = NULL;
                        struct zetl_batch *b = zetl_batch_new(zs, 0);
                        int fd, n;
                        if (f->content != ICE_CONTENT_DATA) {
                                ndel++;
                                zetl_batch_free(b);
                                continue;
                        }
                        ndata++;
                        if (want_del != 0) {
                                /* Rows are only checked on a compacted table. */
                                zetl_batch_free(b);
                                continue;
                        }
                        assert_int_equal(ice_location_to_path(f->file_path, path, sizeof(path)), 0);
                        fd = open(path, O_RDONLY);
                        assert_true(fd >= 0);
                        assert_int_equal(pq_reader_open_fd(fd, NULL, &r, &err), 0);
                        assert_int_equal(pq_reader_bind(r, zs, ids, &err), 0);
                        while ((n = pq_reader_read(r, b, 1000, &err)) > 0)
                                ;
                        assert_int_equal(n, 0);
                        for (uint32_t row = 0; row < b->nrows; row++) {
                                int64_t id = zetl_batch_get_i64(b, 0, row);
                                size_t len;
                                const uint8_t *v = zetl_batch_get_var(b, 1, row, &len);
                                assert_true(id >= 0 && id < MAXID);
                                assert_false(seen[id]); /* one live row per key */
                                seen[id] = true;
                                assert_non_null(F->val[id]);
                                assert_int_equal(len, strlen(F->val[id]));
                                assert_memory_equal(v, F->val[id], len);
                                if (F->ncols == 3 && !zetl_batch_is_null(b, 2, row))
                                        assert_int_equal(zetl_batch_get_i32(b, 2, row), id);
                        }
                        pq_reader_free(r);
                        close(fd);
                        zetl_batch_free(b);
                }
                ice_manifest_free(man);
        }
        if (want_data >= 0)
                assert_int_equal(ndata, want_data);
        assert_int_equal(ndel, want_del);
        if (want_del == 0)
                for (int id = 0; id < MAXID; id++)
                        assert_int_equal(seen[id], F->val[id] != NULL);
        /* Position and the sink's floor are carried over. */
        assert_string_equal(ice_snapshot_get(ice_meta_snapshot(m, -1), "zetl.position.token"),
                            "tok");
        assert_string_equal(ice_snapshot_get(ice_meta_snapshot(m, -1), "zetl.max-row-pos"), "77");
        ice_manifest_list_free(l);
        ice_meta_free(m);
        zetl_schema_unref(zs);
}

/* Files in data/ (or metadata/) whose name starts with prefix. */
static int count_files(const char *sub, const char *prefix)
{
        char path[PATH_MAX];
        DIR *d;
        struct dirent *e;
        int n = 0;

        snprintf(path, sizeof(path), "%s/%s", F->dir, sub);
        d = opendir(path);
        assert_non_null(d);
        while ((e = readdir(d)))
                n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
        closedir(d);
        return n;
}

/* ---- fixtures --------------------------------------------------------------------- */

static int setup(void **state)
{
        struct ice_schema *s = schema2();
        struct ice_meta *m = NULL;
        struct zetl_err err;

        F = calloc(1, sizeof(*F));
        strcpy(F->tmp, "/tmp/zetl-compact-XXXXXX");
        if (!mkdtemp(F->tmp))
                return -1;
        snprintf(F->dir, sizeof(F->dir), "%s/t", F->tmp);
        F->ncols = 2;
        if (ice_meta_create(F->dir, s, 0, NULL, 0, &m, &err))
                return -1;
        ice_meta_free(m);
        ice_schema_free(s);
        *state = F;
        return 0;
}

static int teardown(void **state)
{
        char cmd[160];

        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F->tmp);
        if (system(cmd) != 0)
                return -1;
        for (int i = 0; i < MAXID; i++)
                free(F->val[i]);
        free(F);
        return 0;
}

/* Commits c0..c(n-1): 40 inserts each, updates and deletes of earlier ids. */
static void history(int first, int n)
{
        for (int c = first; c < first + n; c++) {
                int ids[60];
                const char *vals[60];
                char buf[60][32];
                int k = 0;
                for (int i = 0; i < 40; i++) {
                        ids[k] = c * 40 + i;
                        snprintf(buf[k], sizeof(buf[k]), "ins-%d-%d", c, i);
                        vals[k] = buf[k];
                        k++;
                }
                for (int i = 0; c > 0 && i < 10; i++) {
                        ids[k] = (c * 31 + i * 7) % (c * 40);
                        snprintf(buf[k], sizeof(buf[k]), "upd-%d-%d", c, i);
                        vals[k] = i % 3 == 0 ? NULL : buf[k]; /* every third a delete */
                        k++;
                }
                sink_commit(ids, vals, k, false);
        }
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_compact_folds_deletes(void **state)
{
        struct ice_compact_result r;
        struct ice_compact_opts o = { 0 };
        struct ice_meta *m = NULL;
        struct zetl_err err;

        (void)state;
        history(0, 20);
        assert_int_equal(ice_meta_load(F->dir, &m, &err), 0);
        assert_true(ice_compact_due(m, NULL)); /* 20 delete files > 16 */
        ice_meta_free(m);
        check_compacted(20, 20);

        o.dry_run = true;
        assert_int_equal(ice_compact_table(F->dir, &o, &r, &err), 0);
        assert_true(r.compacted);
        assert_int_equal(r.data_files_before, 20);
        assert_int_equal(r.delete_files_before, 20);
        check_compacted(20, 20); /* nothing changed */
        assert_int_equal(count_files("data", "zetlc-"), 0);

        o.dry_run = false;
        if (ice_compact_table(F->dir, &o, &r, &err))
                fail_msg("compact: %s", err.msg);
        assert_true(r.compacted);
        assert_int_equal(r.data_files_after, 1);
        assert_int_equal(r.rows_before, 800 + 19 * 6); /* inserts, upserts */
        assert_true(r.rows_deleted > 0);
        assert_int_equal(r.rows_after, r.rows_before - r.rows_deleted);
        check_compacted(1, 0);
        assert_int_equal(ice_meta_load(F->dir, &m, &err), 0);
        assert_false(ice_compact_due(m, NULL));
        assert_string_equal(ice_snapshot_get(ice_meta_snapshot(m, -1), "operation"), "replace");
        ice_meta_free(m);

        /* Nothing to do now; more commits on top are folded into the compacted rows. */
        assert_int_equal(ice_compact_table(F->dir, NULL, &r, &err), 0);
        assert_false(r.compacted);
        history(20, 5);
        assert_int_equal(ice_compact_table(F->dir, NULL, &r, &err), 0);
        assert_true(r.compacted);
        check_compacted(1, 0);
}

static void race_commit(void *arg, int try_no)
{
        int *when = arg;

        if (*when == -1 || try_no == *when) {
                int ids[3] = { 1, 2, 3 };
                char v[32];
                const char *vals[3] = { v, NULL, v };
                snprintf(v, sizeof(v), "race-%d", try_no);
                sink_commit(ids, vals, 3, false);
        }
}

static void test_rebase_keeps_concurrent_commit(void **state)
{
        struct ice_compact_result r;
        int when = 0;
        struct ice_compact_opts o = { .before_commit = race_commit, .hook_arg = &when };
        struct zetl_err err;

        (void)state;
        history(0, 6);
        if (ice_compact_table(F->dir, &o, &r, &err))
                fail_msg("compact: %s", err.msg);
        assert_true(r.compacted);
        assert_int_equal(r.commit_retries, 1);
        /* The compacted file plus the racing commit's data and delete files. */
        check_compacted(2, 1);
        /* Its delete must still reach the compacted rows (ids 1-3 once each). */
        assert_int_equal(ice_compact_table(F->dir, NULL, &r, &err), 0);
        check_compacted(1, 0);
}

static void truncate_commit(void *arg, int try_no)
{
        int *done = arg;
        int ids[2] = { 5, 6 };
        const char *vals[2] = { "after-truncate-5", "after-truncate-6" };

        (void)try_no;
        if (*done)
                return;
        *done = 1;
        for (int i = 0; i < MAXID; i++) {
                free(F->val[i]);
                F->val[i] = NULL;
        }
        sink_commit(ids, vals, 2, true);
}

static void test_truncate_restarts(void **state)
{
        struct ice_compact_result r;
        int done = 0;
        struct ice_compact_opts o = { .before_commit = truncate_commit, .hook_arg = &done };
        struct zetl_err err;

        (void)state;
        history(0, 4);
        if (ice_compact_table(F->dir, &o, &r, &err))
                fail_msg("compact: %s", err.msg);
        assert_int_equal(r.commit_retries, 2); /* the lost try, then a new attempt */
        /* The new attempt saw one data file and no delete: nothing to do. */
        assert_false(r.compacted);
        check_compacted(1, 0);
        /* The first attempt's files are gone. */
        assert_int_equal(count_files("data", "zetlc-"), 0);
        assert_int_equal(count_files("metadata", "zetl-compact-"), 0);
}

static void test_endless_race_gives_up_clean(void **state)
{
        struct ice_compact_result r;
        int when = -1;
        struct ice_compact_opts o = { .before_commit = race_commit,
                                      .hook_arg = &when,
                                      .commit_retries = 3 };
        struct zetl_err err;

        (void)state;
        history(0, 3);
        assert_int_equal(ice_compact_table(F->dir, &o, &r, &err), ZETL_EEXIST);
        assert_false(r.compacted);
        assert_int_equal(count_files("data", "zetlc-"), 0);
        assert_int_equal(count_files("metadata", "zetl-compact-"), 0);
        assert_int_equal(count_files("metadata", "snap-"), 3 + 4); /* the sink's only */
}

static void test_schema_evolution(void **state)
{
        struct ice_compact_result r;
        struct ice_meta *m = NULL;
        struct ice_schema *s = schema2();
        struct zetl_err err;

        (void)state;
        history(0, 3);
        /* A column added (field 3) and "v" renamed: old files map by id, NULL extra. */
        ice_schema_free(s);
        s = ice_schema_new(3, 1);
        s->fields[0] = (struct ice_field){ 1, strdup("id"), true, { ICE_T_LONG } };
        s->fields[1] = (struct ice_field){ 2, strdup("value"), false, { ICE_T_STRING } };
        s->fields[2] = (struct ice_field){ 3, strdup("extra"), false, { ICE_T_INT } };
        s->ident_ids[0] = 1;
        assert_int_equal(ice_meta_load(F->dir, &m, &err), 0);
        assert_int_equal(ice_meta_set_schema(m, s, 3, &err), 0);
        assert_int_equal(ice_meta_commit(m, &err), 0);
        ice_meta_free(m);
        ice_schema_free(s);
        F->ncols = 3;
        history(3, 3);
        if (ice_compact_table(F->dir, NULL, &r, &err))
                fail_msg("compact: %s", err.msg);
        check_compacted(1, 0);
}

static void test_maintain_removes_orphans(void **state)
{
        struct ice_compact_result r;
        struct ice_compact_opts o = { .retention_ms = -1 };
        struct zetl_err err;
        char path[PATH_MAX];
        struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
        int fd;

        (void)state;
        history(0, 5);
        assert_int_equal(ice_compact_table(F->dir, NULL, &r, &err), 0);
        history(5, 1);
        /* Leftovers of crashed writers, old enough, and one too new to touch. */
        const char *const orphans[] = { "data/zetl-crash.parquet", "data/zetlc-crash.parquet",
                                        "metadata/zetl-crash-m0.avro",
                                        "metadata/snap-1-zetl-crash.avro" };
        for (int i = 0; i < 4; i++) {
                snprintf(path, sizeof(path), "%s/%s", F->dir, orphans[i]);
                fd = open(path, O_WRONLY | O_CREAT, 0644);
                assert_true(fd >= 0);
                assert_int_equal(futimens(fd, old), 0);
                close(fd);
        }
        snprintf(path, sizeof(path), "%s/data/other-tool.parquet", F->dir);
        fd = open(path, O_WRONLY | O_CREAT, 0644);
        assert_int_equal(futimens(fd, old), 0);
        close(fd);

        o.dry_run = true;
        assert_int_equal(ice_maintain_table(F->dir, &o, &r, &err), 0);
        assert_true(r.snapshots_expired > 0);
        assert_true(r.files_removed >= 4);
        assert_int_equal(count_files("data", "zetlc-crash"), 1); /* dry run */

        o.dry_run = false;
        assert_int_equal(ice_maintain_table(F->dir, &o, &r, &err), 0);
        /* 7 snapshots: the current and its parent stay. */
        assert_int_equal(r.snapshots_expired, 5);
        assert_int_equal(count_files("data", "zetl-crash"), 0);
        assert_int_equal(count_files("data", "zetlc-crash"), 0);
        assert_int_equal(count_files("metadata", "zetl-crash"), 0);
        assert_int_equal(count_files("metadata", "snap-1-zetl-crash"), 0);
        assert_int_equal(count_files("data", "other-tool"), 1); /* not ours */
        /* The old data files only expired snapshots reached are gone too: what
         * is left is the compacted file and the last commit's two files (the
         * parent, the compaction snapshot, still reaches the compacted one). */
        assert_int_equal(count_files("data", "zetlc-"), 1);
        assert_int_equal(count_files("data", "zetl-test-"), 2);
        check_compacted(2, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_compact_folds_deletes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rebase_keeps_concurrent_commit, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_truncate_restarts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_endless_race_gives_up_clean, setup, teardown),
                cmocka_unit_test_setup_teardown(test_schema_evolution, setup, teardown),
                cmocka_unit_test_setup_teardown(test_maintain_removes_orphans, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
