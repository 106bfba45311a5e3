/*
 * Tests for ice_meta: a table created in a temporary directory, snapshots
 * committed and read back, every field the Iceberg v2 spec requires checked
 * in the JSON itself (with jansson, by the spec's names), the commit
 * protocol's conflict, crash and failure cases, the maintenance helpers and
 * the source position carried by snapshot summaries.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../connectors/iceberg/ice_meta.h"
#include "fsutil.h"

struct fixture {
        char dir[256];
        struct ice_schema *schema;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct ice_schema *s;

        if (!f)
                return -1;
        snprintf(f->dir, sizeof(f->dir), "/tmp/zetl-test-ice-meta-XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        /* A table's own directory under the temporary one, created by ice_meta_create. */
        strcat(f->dir, "/t");
        s = ice_schema_new(2, 1);
        s->fields[0] = (struct ice_field){ 1, strdup("id"), true, { ICE_T_LONG } };
        s->fields[1] = (struct ice_field){ 2, strdup("v"), false, { ICE_T_STRING } };
        s->ident_ids[0] = 1;
        f->schema = s;
        zetl_fault_reset();
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char *slash = strrchr(f->dir, '/');

        zetl_fault_reset();
        *slash = '\0';
        zetl_remove_tree(f->dir, NULL);
        ice_schema_free(f->schema);
        free(f);
        return 0;
}

static json_t *read_json(const char *dir, int v)
{
        char path[512];
        json_error_t e;
        json_t *j;

        snprintf(path, sizeof(path), "%s/metadata/v%d.metadata.json", dir, v);
        j = json_load_file(path, 0, &e);
        assert_non_null(j);
        return j;
}

static void read_hint(const char *dir, char *buf, size_t len)
{
        char path[512];
        FILE *fp;
        size_t n;

        snprintf(path, sizeof(path), "%s/metadata/version-hint.text", dir);
        fp = fopen(path, "r");
        assert_non_null(fp);
        n = fread(buf, 1, len - 1, fp);
        buf[n] = '\0';
        fclose(fp);
}

static bool exists(const char *dir, const char *rel)
{
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        return access(path, F_OK) == 0;
}

static void write_file(const char *dir, const char *rel, const char *text)
{
        char path[512];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        fp = fopen(path, "w");
        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
}

static int count_tmp(const char *dir)
{
        char path[512];
        struct dirent *e;
        DIR *d;
        int n = 0;

        snprintf(path, sizeof(path), "%s/metadata", dir);
        d = opendir(path);
        assert_non_null(d);
        while ((e = readdir(d)))
                n += strstr(e->d_name, ".tmp") != NULL;
        closedir(d);
        return n;
}

static struct ice_meta *create(struct fixture *f)
{
        struct ice_meta *m = NULL;
        struct zetl_err err;

        assert_int_equal(ice_meta_create(f->dir, f->schema, 0, NULL, 0, &m, &err), 0);
        return m;
}

/* Add one snapshot with an optional position and commit it. */
static int64_t snap(struct ice_meta *m, const char *op, const struct zetl_position *pos)
{
        struct ice_kv extra[] = { { "added-data-files", "1" }, { "added-records", "10" } };
        struct ice_snapshot_new ns = { .operation = op,
                                       .summary = extra,
                                       .nsummary = 2,
                                       .pos = pos,
                                       .integration = pos ? "orders" : NULL };
        char rel[64], loc[512];
        struct zetl_err err;

        assert_int_equal(ice_meta_new_snapshot_id(m, &ns.snapshot_id, &err), 0);
        snprintf(rel, sizeof(rel), "metadata/snap-%lld.avro", (long long)ns.snapshot_id);
        assert_int_equal(ice_meta_location_of(m, rel, loc, sizeof(loc)), 0);
        ns.manifest_list = loc;
        assert_int_equal(ice_meta_add_snapshot(m, &ns, &err), 0);
        assert_int_equal(ice_meta_commit(m, &err), 0);
        return ns.snapshot_id;
}

static void assert_int_field(const json_t *o, const char *key)
{
        if (!json_is_integer(json_object_get(o, key)))
                fail_msg("\"%s\" is not an integer", key);
}

/* ---- creation and the spec's required fields ------------------------------------ */

static void test_create_fields(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f);
        char hint[32], want[300];
        json_t *j, *spec, *order, *props, *refs;

        assert_true(exists(f->dir, "data"));
        assert_true(exists(f->dir, "metadata/v1.metadata.json"));
        read_hint(f->dir, hint, sizeof(hint));
        assert_string_equal(hint, "1");
        assert_int_equal(m->version, 1);

        j = read_json(f->dir, 1);
        assert_int_equal(json_integer_value(json_object_get(j, "format-version")), 2);
        assert_int_equal(strlen(json_string_value(json_object_get(j, "table-uuid"))), 36);
        assert_int_equal(json_string_value(json_object_get(j, "table-uuid"))[14], '4');
        snprintf(want, sizeof(want), "file://%s", f->dir);
        assert_string_equal(json_string_value(json_object_get(j, "location")), want);
        assert_int_equal(json_integer_value(json_object_get(j, "last-sequence-number")), 0);
        assert_int_field(j, "last-updated-ms");
        assert_int_equal(json_integer_value(json_object_get(j, "last-column-id")), 2);
        assert_int_equal(json_integer_value(json_object_get(j, "current-schema-id")), 0);
        assert_int_equal(json_array_size(json_object_get(j, "schemas")), 1);
        assert_int_equal(json_integer_value(json_object_get(j, "default-spec-id")), 0);
        spec = json_array_get(json_object_get(j, "partition-specs"), 0);
        assert_int_equal(json_integer_value(json_object_get(spec, "spec-id")), 0);
        assert_int_equal(json_array_size(json_object_get(spec, "fields")), 0);
        assert_true(json_is_array(json_object_get(spec, "fields")));
        assert_int_equal(json_integer_value(json_object_get(j, "last-partition-id")), 999);
        assert_int_equal(json_integer_value(json_object_get(j, "default-sort-order-id")), 0);
        order = json_array_get(json_object_get(j, "sort-orders"), 0);
        assert_int_equal(json_integer_value(json_object_get(order, "order-id")), 0);
        assert_true(json_is_array(json_object_get(order, "fields")));
        props = json_object_get(j, "properties");
        assert_string_equal(json_string_value(json_object_get(props, "write.format.default")),
                            "parquet");
        assert_string_equal(
                json_string_value(json_object_get(props, "write.parquet.compression-codec")),
                "zstd");
        assert_int_equal(json_integer_value(json_object_get(j, "current-snapshot-id")), -1);
        refs = json_object_get(j, "refs");
        assert_true(json_is_object(refs));
        assert_null(json_object_get(refs, "main"));
        assert_int_equal(json_array_size(json_object_get(j, "snapshots")), 0);
        assert_int_equal(json_array_size(json_object_get(j, "snapshot-log")), 0);
        assert_int_equal(json_array_size(json_object_get(j, "metadata-log")), 0);
        json_decref(j);
        ice_meta_free(m);
}

static void test_create_refuses_existing_and_bad_paths(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f), *m2 = NULL;
        struct zetl_err err;

        assert_int_equal(ice_meta_create(f->dir, f->schema, 0, NULL, 0, &m2, &err), ZETL_EEXIST);
        assert_null(m2);
        assert_int_equal(ice_meta_create("relative/t", f->schema, 0, NULL, 0, &m2, &err),
                         ZETL_EINVAL);
        assert_int_equal(ice_meta_create("/tmp/a%20b", f->schema, 0, NULL, 0, &m2, &err),
                         ZETL_EINVAL);
        ice_meta_free(m);
}

static void test_load_missing(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = (struct ice_meta *)1;
        struct zetl_err err;

        assert_int_equal(ice_meta_load(f->dir, &m, &err), ZETL_ENOTFOUND);
        assert_null(m);
}

/* ---- snapshots ------------------------------------------------------------------ */

static void test_snapshots_round_trip(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f), *r = NULL;
        struct zetl_position pos = { 0 };
        int64_t ids[3];
        struct zetl_err err;
        char hint[32], want[400];
        json_t *j, *snaps, *main_ref, *mlog;

        for (int i = 0; i < 3; i++) {
                zetl_pos_set(&pos, (uint64_t)(100 + i), "0/16B3748");
                ids[i] = snap(m, "append", &pos);
                assert_true(ids[i] > 0 && ids[i] < (INT64_C(1) << 53));
        }
        assert_int_equal(m->version, 4);
        read_hint(f->dir, hint, sizeof(hint));
        assert_string_equal(hint, "4");

        j = read_json(f->dir, 4);
        assert_int_equal(json_integer_value(json_object_get(j, "last-sequence-number")), 3);
        assert_int_equal(json_integer_value(json_object_get(j, "current-snapshot-id")), ids[2]);
        main_ref = json_object_get(json_object_get(j, "refs"), "main");
        assert_int_equal(json_integer_value(json_object_get(main_ref, "snapshot-id")), ids[2]);
        assert_string_equal(json_string_value(json_object_get(main_ref, "type")), "branch");
        snaps = json_object_get(j, "snapshots");
        assert_int_equal(json_array_size(snaps), 3);
        for (size_t i = 0; i < 3; i++) {
                json_t *s = json_array_get(snaps, i);
                json_t *sum = json_object_get(s, "summary");

                assert_int_equal(json_integer_value(json_object_get(s, "snapshot-id")), ids[i]);
                if (i == 0)
                        assert_null(json_object_get(s, "parent-snapshot-id"));
                else
                        assert_int_equal(
                                json_integer_value(json_object_get(s, "parent-snapshot-id")),
                                ids[i - 1]);
                assert_int_equal(json_integer_value(json_object_get(s, "sequence-number")),
                                 (json_int_t)i + 1);
                assert_int_field(s, "timestamp-ms");
                assert_int_equal(json_integer_value(json_object_get(s, "schema-id")), 0);
                snprintf(want, sizeof(want), "file://%s/metadata/snap-%lld.avro", f->dir,
                         (long long)ids[i]);
                assert_string_equal(json_string_value(json_object_get(s, "manifest-list")), want);
                assert_string_equal(json_string_value(json_object_get(sum, "operation")), "append");
                assert_string_equal(json_string_value(json_object_get(sum, "added-records")), "10");
                assert_string_equal(
                        json_string_value(json_object_get(sum, ICE_SUMMARY_INTEGRATION)), "orders");
        }
        assert_int_equal(json_array_size(json_object_get(j, "snapshot-log")), 3);
        assert_int_equal(
                json_integer_value(json_object_get(
                        json_array_get(json_object_get(j, "snapshot-log"), 2), "snapshot-id")),
                ids[2]);
        mlog = json_object_get(j, "metadata-log");
        assert_int_equal(json_array_size(mlog), 3);
        for (size_t i = 0; i < 3; i++) {
                json_t *e = json_array_get(mlog, i);

                assert_int_field(e, "timestamp-ms");
                snprintf(want, sizeof(want), "file://%s/metadata/v%zu.metadata.json", f->dir,
                         i + 1);
                assert_string_equal(json_string_value(json_object_get(e, "metadata-file")), want);
        }
        json_decref(j);

        assert_int_equal(ice_meta_load(f->dir, &r, &err), 0);
        assert_int_equal(r->version, 4);
        assert_int_equal(r->current_snapshot_id, ids[2]);
        assert_int_equal(r->nsnapshots, 3);
        assert_int_equal(ice_meta_next_sequence(r), 4);
        assert_string_equal(r->table_uuid, m->table_uuid);
        assert_true(ice_schema_equal(ice_meta_schema(r, -1), f->schema));
        assert_int_equal(ice_meta_snapshot(r, -1)->parent_id, ids[1]);
        ice_meta_free(r);
        ice_meta_free(m);
}

static void test_snapshot_id_range(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f);
        struct zetl_err err;
        int64_t id, ored = 0;

        for (int i = 0; i < 2000; i++) {
                assert_int_equal(ice_meta_new_snapshot_id(m, &id, &err), 0);
                assert_true(id > 0 && id < (INT64_C(1) << 52));
                ored |= id;
        }
        /* The ids use the high bits too (they are random, not counters). */
        assert_true(ored >= (INT64_C(1) << 51));
        ice_meta_free(m);
}

static void test_bad_snapshot_refused(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f);
        struct ice_snapshot_new ns = { .snapshot_id = 5,
                                       .operation = "upsert",
                                       .manifest_list = "file:///x" };
        struct zetl_err err;

        assert_int_equal(ice_meta_add_snapshot(m, &ns, &err), ZETL_EINVAL);
        ns.operation = "append";
        ns.snapshot_id = INT64_C(1) << 53;
        assert_int_equal(ice_meta_add_snapshot(m, &ns, &err), ZETL_EINVAL);
        assert_int_equal(m->nsnapshots, 0);
        assert_int_equal(m->current_snapshot_id, -1);
        ice_meta_free(m);
}

/* ---- schemas and preserved parts ---------------------------------------------------- */

static void test_schema_versions(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f), *r = NULL;
        struct ice_schema *s2 = ice_schema_clone(f->schema);
        struct zetl_err err;
        json_t *j;

        free(s2->fields[1].name);
        s2->fields[1].name = strdup("renamed");
        assert_int_equal(ice_meta_set_schema(m, f->schema, 2, &err), 0);
        assert_int_equal(m->nschemas, 1); /* equal: reused */
        assert_int_equal(ice_meta_set_schema(m, s2, 5, &err), 0);
        assert_int_equal(m->nschemas, 2);
        assert_int_equal(m->current_schema_id, 1);
        assert_int_equal(m->last_column_id, 5);
        snap(m, "append", NULL);
        /* Back to the first shape: its schema is found again, not added. */
        assert_int_equal(ice_meta_set_schema(m, f->schema, 0, &err), 0);
        assert_int_equal(m->current_schema_id, 0);
        assert_int_equal(m->last_column_id, 5);
        /* Parts zetl does not model survive a commit. */
        json_object_set_new(m->extra, "statistics", json_array());
        assert_int_equal(ice_meta_commit(m, &err), 0);

        j = read_json(f->dir, m->version);
        assert_int_equal(json_integer_value(json_object_get(j, "current-schema-id")), 0);
        assert_int_equal(json_array_size(json_object_get(j, "schemas")), 2);
        assert_int_equal(json_integer_value(json_object_get(j, "last-column-id")), 5);
        assert_true(json_is_array(json_object_get(j, "statistics")));
        assert_int_equal(json_integer_value(json_object_get(
                                 json_array_get(json_object_get(j, "snapshots"), 0), "schema-id")),
                         1);
        json_decref(j);
        assert_int_equal(ice_meta_load(f->dir, &r, &err), 0);
        assert_string_equal(ice_meta_schema(r, 1)->fields[1].name, "renamed");
        assert_int_equal(r->last_column_id, 5);
        ice_meta_free(r);
        ice_schema_free(s2);
        ice_meta_free(m);
}

/* ---- the commit protocol ------------------------------------------------------------- */

static void test_concurrent_writers(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f), *a = NULL, *b = NULL;
        struct ice_snapshot_new ns = { .operation = "append", .manifest_list = "file:///x" };
        struct zetl_err err;
        char hint[32];
        int64_t won;
        json_t *j;

        assert_int_equal(ice_meta_load(f->dir, &a, &err), 0);
        assert_int_equal(ice_meta_load(f->dir, &b, &err), 0);
        won = snap(a, "append", NULL);
        assert_int_equal(ice_meta_new_snapshot_id(b, &ns.snapshot_id, &err), 0);
        assert_int_equal(ice_meta_add_snapshot(b, &ns, &err), 0);
        assert_int_equal(ice_meta_commit(b, &err), ZETL_EEXIST);
        assert_int_equal(err.cls, ZETL_ERRC_TRANSIENT);
        assert_non_null(strstr(err.msg, "v2.metadata.json"));
        assert_int_equal(b->version, 1);
        read_hint(f->dir, hint, sizeof(hint));
        assert_string_equal(hint, "2");
        j = read_json(f->dir, 2);
        assert_int_equal(json_integer_value(json_object_get(j, "current-snapshot-id")), won);
        json_decref(j);
        assert_int_equal(count_tmp(f->dir), 0);
        ice_meta_free(a);
        ice_meta_free(b);
        ice_meta_free(m);
}

static void test_precreated_next_version(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f);
        struct zetl_err err;
        char hint[32];

        write_file(f->dir, "metadata/v2.metadata.json", "{}");
        assert_int_equal(ice_meta_commit(m, &err), ZETL_EEXIST);
        assert_int_equal(m->version, 1);
        read_hint(f->dir, hint, sizeof(hint));
        assert_string_equal(hint, "1");
        assert_int_equal(count_tmp(f->dir), 0);
        ice_meta_free(m);
}

static void test_stale_hint(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f), *r = NULL;
        struct zetl_err err;
        char path[512];
        int64_t last;

        snap(m, "append", NULL);
        last = snap(m, "append", NULL);
        /* A crash after the link and before the hint leaves the hint behind. */
        write_file(f->dir, "metadata/version-hint.text", "1");
        assert_int_equal(ice_meta_load(f->dir, &r, &err), 0);
        assert_int_equal(r->version, 3);
        assert_int_equal(r->current_snapshot_id, last);
        ice_meta_free(r);
        write_file(f->dir, "metadata/version-hint.text", "garbage");
        assert_int_equal(ice_meta_load(f->dir, &r, &err), 0);
        assert_int_equal(r->version, 3);
        ice_meta_free(r);
        snprintf(path, sizeof(path), "%s/metadata/version-hint.text", f->dir);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(ice_meta_load(f->dir, &r, &err), 0);
        assert_int_equal(r->version, 3);
        /* The next commit puts the hint back. */
        snap(r, "append", NULL);
        assert_true(exists(f->dir, "metadata/version-hint.text"));
        assert_false(r->hint_stale);
        ice_meta_free(r);
        ice_meta_free(m);
}

static void test_malformed_rejected_with_path(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f), *r = (struct ice_meta *)1;
        struct zetl_err err;
        char path[512];
        json_t *j;

        snprintf(path, sizeof(path), "%s/metadata/v2.metadata.json", f->dir);
        write_file(f->dir, "metadata/v2.metadata.json", "{\"format-version\": 2,");
        assert_int_equal(ice_meta_load(f->dir, &r, &err), ZETL_EPROTO);
        assert_null(r);
        assert_non_null(strstr(err.msg, path));

        /* Valid JSON missing a required field: the message names it. */
        j = read_json(f->dir, 1);
        json_object_del(j, "schemas");
        json_dump_file(j, path, 0);
        assert_int_equal(ice_meta_load(f->dir, &r, &err), ZETL_EPROTO);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, "schemas"));
        json_decref(j);

        j = read_json(f->dir, 1);
        json_object_set_new(j, "format-version", json_integer(3));
        json_dump_file(j, path, 0);
        assert_int_equal(ice_meta_load(f->dir, &r, &err), ZETL_EUNSUPPORTED);
        json_decref(j);

        j = read_json(f->dir, 1);
        json_object_set_new(j, "current-snapshot-id", json_integer(77));
        json_dump_file(j, path, 0);
        assert_int_equal(ice_meta_load(f->dir, &r, &err), ZETL_EPROTO);
        assert_non_null(strstr(err.msg, "current-snapshot-id"));
        json_decref(j);
        ice_meta_free(m);
}

/* Readers write "no snapshot" three ways; all load as -1. */
static void test_no_snapshot_conventions(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f), *r = NULL;
        struct zetl_err err;
        char path[512];
        json_t *j;

        snprintf(path, sizeof(path), "%s/metadata/v2.metadata.json", f->dir);
        j = read_json(f->dir, 1);
        json_object_del(j, "current-snapshot-id");
        json_dump_file(j, path, 0);
        assert_int_equal(ice_meta_load(f->dir, &r, &err), 0);
        assert_int_equal(r->current_snapshot_id, -1);
        ice_meta_free(r);
        json_object_set_new(j, "current-snapshot-id", json_null());
        json_dump_file(j, path, 0);
        assert_int_equal(ice_meta_load(f->dir, &r, &err), 0);
        assert_int_equal(r->current_snapshot_id, -1);
        assert_null(ice_meta_snapshot(r, -1));
        ice_meta_free(r);
        json_decref(j);
        ice_meta_free(m);
}

static void test_commit_faults(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f);
        const enum zetl_fault_kind kinds[] = { ZETL_FAULT_WRITE, ZETL_FAULT_FSYNC,
                                               ZETL_FAULT_RENAME };
        struct zetl_err err;
        char hint[32];

        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
                zetl_fault_arm(kinds[k], 1, EIO);
                assert_int_equal(ice_meta_commit(m, &err), ZETL_EIO);
                assert_int_equal(m->version, 1);
                assert_false(exists(f->dir, "metadata/v2.metadata.json"));
                assert_int_equal(count_tmp(f->dir), 0);
                zetl_fault_reset();
        }
        /* The fsync of the directory after the link: v2 exists, the caller must reload. */
        zetl_fault_arm(ZETL_FAULT_FSYNC, 2, EIO);
        assert_int_equal(ice_meta_commit(m, &err), ZETL_EIO);
        zetl_fault_reset();
        assert_true(exists(f->dir, "metadata/v2.metadata.json"));
        assert_int_equal(ice_meta_commit(m, &err), ZETL_EEXIST);
        read_hint(f->dir, hint, sizeof(hint));
        assert_string_equal(hint, "1");
        ice_meta_free(m);
}

/* ---- maintenance -------------------------------------------------------------------- */

static void test_expire_snapshots(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f), *r = NULL;
        int64_t ids[5];
        char **lists = NULL;
        struct zetl_err err;
        int n = 0;

        for (int i = 0; i < 5; i++)
                ids[i] = snap(m, "append", NULL);
        /* A tag on the first snapshot protects it. */
        json_object_set_new(
                m->other_refs, "v1-tag",
                json_pack("{s:I, s:s}", "snapshot-id", (json_int_t)ids[0], "type", "tag"));
        /* Nothing is older than 0: nothing expires. */
        assert_int_equal(ice_meta_expire_snapshots(m, 0, 0, &lists, &n, &err), 0);
        assert_int_equal(n, 0);
        assert_int_equal(m->nsnapshots, 5);
        ice_strings_free(lists, n);

        assert_int_equal(ice_meta_expire_snapshots(m, INT64_MAX, 1, &lists, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_non_null(strstr(lists[0], "snap-"));
        assert_int_equal(m->nsnapshots, 3);
        assert_non_null(ice_meta_snapshot(m, ids[0]));
        assert_null(ice_meta_snapshot(m, ids[1]));
        assert_null(ice_meta_snapshot(m, ids[2]));
        assert_non_null(ice_meta_snapshot(m, ids[3]));
        assert_non_null(ice_meta_snapshot(m, ids[4]));
        assert_int_equal(m->nsnapshot_log, 3);
        for (int i = 0; i < n; i++) {
                char want[64];

                snprintf(want, sizeof(want), "snap-%lld.avro", (long long)ids[i + 1]);
                assert_non_null(strstr(lists[i], want));
        }
        ice_strings_free(lists, n);
        assert_int_equal(ice_meta_commit(m, &err), 0);
        assert_int_equal(ice_meta_load(f->dir, &r, &err), 0);
        assert_int_equal(r->nsnapshots, 3);
        assert_int_equal(r->current_snapshot_id, ids[4]);
        assert_non_null(json_object_get(r->other_refs, "v1-tag"));
        ice_meta_free(r);
        ice_meta_free(m);
}

static void test_metadata_log_trim(void **state)
{
        struct fixture *f = *state;
        struct ice_kv props[] = { { ICE_PROP_PREVIOUS_VERSIONS_MAX, "2" } };
        struct ice_meta *m = NULL;
        struct zetl_err err;
        char want[400];
        json_t *j, *mlog;

        assert_int_equal(ice_meta_create(f->dir, f->schema, 0, props, 1, &m, &err), 0);
        for (int i = 0; i < 5; i++)
                snap(m, "append", NULL);
        assert_int_equal(m->version, 6);
        j = read_json(f->dir, 6);
        mlog = json_object_get(j, "metadata-log");
        assert_int_equal(json_array_size(mlog), 2);
        snprintf(want, sizeof(want), "file://%s/metadata/v4.metadata.json", f->dir);
        assert_string_equal(
                json_string_value(json_object_get(json_array_get(mlog, 0), "metadata-file")), want);
        json_decref(j);
        /* delete-after-commit is on by default: files that left the log are gone. */
        assert_false(exists(f->dir, "metadata/v1.metadata.json"));
        assert_false(exists(f->dir, "metadata/v3.metadata.json"));
        assert_true(exists(f->dir, "metadata/v4.metadata.json"));
        assert_true(exists(f->dir, "metadata/v5.metadata.json"));
        assert_true(exists(f->dir, "metadata/v6.metadata.json"));
        ice_meta_free(m);
}

static void test_metadata_kept_without_delete(void **state)
{
        struct fixture *f = *state;
        struct ice_kv props[] = { { ICE_PROP_PREVIOUS_VERSIONS_MAX, "1" },
                                  { ICE_PROP_DELETE_AFTER_COMMIT, "false" } };
        struct ice_meta *m = NULL;
        struct zetl_err err;

        assert_int_equal(ice_meta_create(f->dir, f->schema, 0, props, 2, &m, &err), 0);
        snap(m, "append", NULL);
        snap(m, "append", NULL);
        assert_int_equal(m->nmetadata_log, 1);
        assert_true(exists(f->dir, "metadata/v1.metadata.json"));
        assert_int_equal(ice_meta_clean_metadata(m, &err), 0);
        assert_false(exists(f->dir, "metadata/v1.metadata.json"));
        assert_true(exists(f->dir, "metadata/v2.metadata.json"));
        assert_true(exists(f->dir, "metadata/v3.metadata.json"));
        ice_meta_free(m);
}

/* ---- positions ------------------------------------------------------------------------ */

static void test_position_round_trip(void **state)
{
        struct fixture *f = *state;
        struct ice_meta *m = create(f), *r = NULL;
        struct zetl_position pos = { 0 }, got;
        struct ice_snapshot *cur;
        struct zetl_err err;

        assert_int_equal(ice_meta_position(m, &got, &err), 0);
        assert_false(zetl_pos_is_set(&got));

        zetl_pos_set(&pos, UINT64_C(18446744073709551000), "mariadb-bin.000003:1234 gtid=0-1-9");
        pos.time_us = 1700000000123456;
        snap(m, "append", &pos);
        /* Compaction and initial-sync commits carry the parent's position. */
        snap(m, "replace", NULL);
        assert_string_equal(ice_snapshot_get(ice_meta_snapshot(m, -1), ICE_SUMMARY_POS_ORDER),
                            "18446744073709551000");
        assert_string_equal(ice_snapshot_get(ice_meta_snapshot(m, -1), ICE_SUMMARY_INTEGRATION),
                            "orders");
        assert_int_equal(ice_meta_load(f->dir, &r, &err), 0);
        assert_int_equal(ice_meta_position(r, &got, &err), 0);
        assert_true(got.order == UINT64_C(18446744073709551000));
        assert_string_equal(got.token, "mariadb-bin.000003:1234 gtid=0-1-9");
        assert_true(got.time_us == 1700000000123456);

        /* A snapshot by another tool has no position: its ancestors tell. */
        cur = (struct ice_snapshot *)ice_meta_snapshot(r, -1);
        for (int i = 0; i < cur->nsummary; i++) {
                if (strncmp(cur->summary[i].key, "zetl.", 5) == 0)
                        cur->summary[i].key[0] = 'x';
        }
        assert_null(ice_snapshot_get(cur, ICE_SUMMARY_POS_ORDER));
        memset(&got, 0, sizeof(got));
        assert_int_equal(ice_meta_position(r, &got, &err), 0);
        assert_true(got.order == UINT64_C(18446744073709551000));

        /* An order that is not a number is an error, not position 0. */
        for (int i = 0; i < cur->nsummary; i++) {
                if (strcmp(cur->summary[i].key, "xetl.position.order") == 0) {
                        free(cur->summary[i].key);
                        cur->summary[i].key = strdup(ICE_SUMMARY_POS_ORDER);
                        free(cur->summary[i].value);
                        cur->summary[i].value = strdup("-5");
                }
        }
        assert_int_equal(ice_meta_position(r, &got, &err), ZETL_EPROTO);
        ice_meta_free(r);
        ice_meta_free(m);
}

/* ---- locations --------------------------------------------------------------------------- */

static void test_locations(void **state)
{
        char buf[64];

        (void)state;
        assert_int_equal(ice_path_to_location("/srv/lake/t", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "file:///srv/lake/t");
        assert_int_equal(ice_path_to_location("srv/t", buf, sizeof(buf)), ZETL_EINVAL);
        assert_int_equal(ice_path_to_location("/a#b", buf, sizeof(buf)), ZETL_EINVAL);
        assert_int_equal(ice_path_to_location("/a\nb", buf, sizeof(buf)), ZETL_EINVAL);
        assert_int_equal(ice_path_to_location("/a", buf, 5), ZETL_ELIMIT);
        assert_int_equal(ice_location_to_path("file:///srv/t/data/x.parquet", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/srv/t/data/x.parquet");
        assert_int_equal(ice_location_to_path("file:/srv/t", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/srv/t");
        assert_int_equal(ice_location_to_path("/srv/t", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/srv/t");
        assert_int_equal(ice_location_to_path("s3://bucket/t", buf, sizeof(buf)), ZETL_EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_create_fields, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_refuses_existing_and_bad_paths, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_load_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshots_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_id_range, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_snapshot_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_schema_versions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_precreated_next_version, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stale_hint, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed_rejected_with_path, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_snapshot_conventions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_commit_faults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_expire_snapshots, setup, teardown),
                cmocka_unit_test_setup_teardown(test_metadata_log_trim, setup, teardown),
                cmocka_unit_test_setup_teardown(test_metadata_kept_without_delete, setup, teardown),
                cmocka_unit_test_setup_teardown(test_position_round_trip, setup, teardown),
                cmocka_unit_test(test_locations),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
