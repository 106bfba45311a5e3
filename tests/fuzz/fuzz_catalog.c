/*
 * libFuzzer target for the readers of an integration's state files
 * (src/catalog.h): definition.json, checkpoint.json and status.json.
 *
 * The input is written as all three files of an integration "fz" in a
 * private temporary state directory (/dev/shm when there is one, so the
 * atomic writes' fsyncs stay cheap), then each is loaded. The loaders ignore
 * members they do not know, so one input can be a valid file of all three
 * kinds. Whatever loads is saved with the matching writer and loaded again:
 * the state must survive the round trip (the fields the writers normalise,
 * a zero time and a negative lag, are compared as they normalise them). A
 * refusal must carry a message; everything is freed either way.
 *
 * Seeds: ZETL_FUZZ_WRITE_SEEDS=<dir> writes files made by zetl's own writers
 * (as tests/unit/test_catalog.c makes them) and one file holding all three
 * kinds into <dir> and exits; tests/fuzz/corpus/fuzz_catalog was made that way.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "catalog.h"
#include "fsutil.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fz"

static char state_dir[PATH_MAX];
static char idir[PATH_MAX + 8];
static struct zetl_catalog cat;

static void write_file(const char *file, const uint8_t *data, size_t size)
{
        char path[PATH_MAX + 64];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", idir, file);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(fd >= 0);
        while (size > 0) {
                ssize_t n = write(fd, data, size);

                CHECK(n > 0);
                data += n;
                size -= (size_t)n;
        }
        CHECK(close(fd) == 0);
}

static void check_refusal(int rc, const struct zetl_err *err)
{
        CHECK(rc < 0);
        CHECK(err->code == rc && err->msg[0] != '\0');
}

static bool str_eq(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void definition(void)
{
        struct zetl_definition d, d2;
        struct zetl_err err = { 0 };
        int rc = zetl_catalog_load(&cat, NAME, &d, &err);

        if (rc != 0) {
                check_refusal(rc, &err);
                return;
        }
        CHECK(strcmp(d.name, NAME) == 0 && d.source && d.target);
        CHECK(d.nopts >= 0);
        rc = zetl_catalog_save(&cat, &d, &err);
        if (rc != 0)
                fprintf(stderr, "save: %s\n", err.msg);
        CHECK(rc == 0);
        rc = zetl_catalog_load(&cat, NAME, &d2, &err);
        if (rc != 0)
                fprintf(stderr, "reload: %s\n", err.msg);
        CHECK(rc == 0);
        CHECK(str_eq(d.description, d2.description) && str_eq(d.source, d2.source) &&
              str_eq(d.target, d2.target) && str_eq(d.data_filter, d2.data_filter) &&
              str_eq(d.filter_file, d2.filter_file) && str_eq(d.filter_text, d2.filter_text));
        CHECK(d.created_at == 0 || d.created_at == d2.created_at);
        CHECK(d.nopts == d2.nopts);
        for (int i = 0; i < d.nopts; i++) {
                bool found = false;

                for (int j = 0; j < d2.nopts && !found; j++)
                        found = str_eq(d.opts[i].key, d2.opts[j].key) &&
                                str_eq(d.opts[i].value, d2.opts[j].value);
                CHECK(found);
        }
        zetl_definition_free(&d2);
        zetl_definition_free(&d);
}

static bool pos_eq(const struct zetl_position *a, const struct zetl_position *b)
{
        return a->order == b->order && a->time_us == b->time_us &&
               strncmp(a->token, b->token, sizeof(a->token)) == 0;
}

static void checkpoint(void)
{
        struct zetl_checkpoint ck, ck2;
        struct zetl_err err = { 0 };
        bool found = false;
        int rc = zetl_checkpoint_load(idir, &ck, &found, &err);

        if (rc != 0) {
                check_refusal(rc, &err);
                return;
        }
        CHECK(found);
        rc = zetl_checkpoint_save(idir, &ck, &err);
        if (rc != 0)
                fprintf(stderr, "save: %s\n", err.msg);
        CHECK(rc == 0);
        CHECK(zetl_checkpoint_load(idir, &ck2, &found, &err) == 0 && found);
        CHECK(pos_eq(&ck.received, &ck2.received) && pos_eq(&ck.written, &ck2.written) &&
              pos_eq(&ck.committed, &ck2.committed) && pos_eq(&ck.acked, &ck2.acked));
        CHECK(ck.snapshot_done == ck2.snapshot_done);
        CHECK(ck.updated_at == 0 || ck.updated_at == ck2.updated_at);
}

static void status(void)
{
        struct zetl_status st, st2;
        struct zetl_err err = { 0 };
        bool found = false;
        int rc = zetl_status_load(idir, &st, &found, &err);

        if (rc != 0) {
                check_refusal(rc, &err);
                return;
        }
        CHECK(found);
        CHECK(st.ntables >= 0 && (st.ntables == 0 || st.tables));
        rc = zetl_status_save(idir, &st, &err);
        if (rc != 0)
                fprintf(stderr, "save: %s\n", err.msg);
        CHECK(rc == 0);
        rc = zetl_status_load(idir, &st2, &found, &err);
        if (rc != 0)
                fprintf(stderr, "reload: %s\n", err.msg);
        CHECK(rc == 0 && found);
        CHECK(st.state == st2.state && str_eq(st.last_error, st2.last_error));
        CHECK(st.updated_at == 0 || st.updated_at == st2.updated_at);
        /* Unknown lags (negative) are written as null and read back as -1. */
        CHECK((st.lag_seconds < 0 && st2.lag_seconds == -1) || st.lag_seconds == st2.lag_seconds);
        CHECK((st.lag_bytes < 0 && st2.lag_bytes == -1) || st.lag_bytes == st2.lag_bytes);
        CHECK(st.pid == st2.pid && st.ntables == st2.ntables);
        for (int i = 0; i < st.ntables; i++) {
                const struct zetl_table_status *a = &st.tables[i], *b = &st2.tables[i];

                CHECK(zetl_table_id_eq(&a->id, &b->id) && a->state == b->state);
                CHECK(a->rows_snapshot == b->rows_snapshot &&
                      a->rows_inserted == b->rows_inserted && a->rows_updated == b->rows_updated &&
                      a->rows_deleted == b->rows_deleted && a->bytes == b->bytes &&
                      str_eq(a->last_error, b->last_error));
        }
        zetl_status_free(&st2);
        zetl_status_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        write_file("definition.json", data, size);
        write_file("checkpoint.json", data, size);
        write_file("status.json", data, size);
        definition();
        checkpoint();
        status();
        return 0;
}

/* ---- set-up and seeds ---------------------------------------------------------------- */

static void cleanup(void)
{
        struct zetl_err err;

        if (state_dir[0])
                zetl_remove_tree(state_dir, &err);
}

static void copy_seed(const char *file, const char *dir, const char *name)
{
        char from[PATH_MAX + 64], to[PATH_MAX];
        struct zetl_err err;
        char *buf;
        size_t len;
        FILE *f;

        snprintf(from, sizeof(from), "%s/%s", idir, file);
        snprintf(to, sizeof(to), "%s/%s", dir, name);
        CHECK(zetl_file_read(from, 1 << 20, &buf, &len, &err) == 0);
        f = fopen(to, "wb");
        CHECK(f && fwrite(buf, 1, len, f) == len && fclose(f) == 0);
        free(buf);
}

static void write_seeds(const char *dir)
{
        struct zetl_option opts[] = { { "batch_rows", "1000" }, { "slot", "zetl_fz" } };
        struct zetl_definition d = { .name = NAME,
                                     .description = "orders to the warehouse",
                                     .source = "postgresql://u:s3cret@db:5432/shop",
                                     .target = "jsonl:/tmp/out.jsonl",
                                     .data_filter = "include: shop.public.*",
                                     .filter_file = "f.filter",
                                     .filter_text = "exclude: shop.public.audit\n",
                                     .opts = opts,
                                     .nopts = 2,
                                     .created_at = 1700000000 };
        struct zetl_checkpoint ck = { .snapshot_done = true, .updated_at = 1700000000000001 };
        struct zetl_status st = { .state = ZETL_STATE_ACTIVE,
                                  .last_error = strdup("sink: connection refused"),
                                  .updated_at = 1700000000000002,
                                  .lag_seconds = 1.5,
                                  .lag_bytes = 4096,
                                  .pid = 4242 };
        struct zetl_table_id id;
        struct zetl_table_status *t;
        struct zetl_err err;
        FILE *f;

        CHECK(zetl_catalog_save(&cat, &d, &err) == 0);
        copy_seed("definition.json", dir, "definition");
        zetl_pos_set(&ck.received, 0x16B3748, "0/16B3748");
        zetl_pos_set(&ck.written, 0x16B3700, "0/16B3700");
        zetl_pos_set(&ck.committed, 0x16B3700, "0/16B3700");
        ck.committed.time_us = 1700000000000000;
        CHECK(zetl_checkpoint_save(idir, &ck, &err) == 0);
        copy_seed("checkpoint.json", dir, "checkpoint");
        zetl_table_id_set(&id, "shop", "public", "orders");
        t = zetl_status_table(&st, &id);
        CHECK(t != NULL);
        t->state = ZETL_TABLE_NEEDS_ATTENTION;
        t->rows_inserted = 12;
        t->bytes = 1 << 20;
        t->last_error = strdup("column \"x\": type changed");
        zetl_table_id_set(&id, "shop", "", "items");
        CHECK(zetl_status_table(&st, &id) != NULL);
        CHECK(zetl_status_save(idir, &st, &err) == 0);
        copy_seed("status.json", dir, "status");
        zetl_status_free(&st);

        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/all_three", dir);
        f = fopen(path, "wb");
        CHECK(f != NULL);
        fputs("{\"name\":\"" NAME "\",\"source\":\"mysql://root:pw@h:3306\","
              "\"target\":\"null:\",\"options\":{\"k\":\"v\"},\"created_at\":1,"
              "\"received\":{\"order\":\"18446744073709551615\",\"time_us\":-1,"
              "\"token\":\"mysql-bin.000001:4\"},\"acked\":null,\"snapshot_done\":false,"
              "\"updated_at\":5,\"state\":\"syncing\",\"last_error\":null,\"lag_seconds\":null,"
              "\"lag_bytes\":-1,\"pid\":0,\"tables\":[{\"db\":\"d\",\"schema\":\"s\",\"table\":"
              "\"t\",\"state\":\"syncing\",\"rows_snapshot\":9223372036854775807}]}\n",
              f);
        CHECK(fclose(f) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *tmp = getenv("TMPDIR");
        const char *seeds = getenv("ZETL_FUZZ_WRITE_SEEDS");
        struct zetl_err err;
        struct stat sb;

        (void)argc;
        (void)argv;
        if (!tmp || !*tmp)
                tmp = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
        snprintf(state_dir, sizeof(state_dir), "%s/zetl-fuzz-catalog-XXXXXX", tmp);
        CHECK(mkdtemp(state_dir) != NULL);
        atexit(cleanup);
        CHECK(zetl_catalog_open(&cat, state_dir, &err) == 0);
        snprintf(idir, sizeof(idir), "%s/%s", state_dir, NAME);
        CHECK(mkdir(idir, 0700) == 0);
        if (seeds) {
                write_seeds(seeds);
                exit(0);
        }
        return 0;
}
