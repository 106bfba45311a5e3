/*
 * Tests for the integration catalog (src/catalog.c): name rules, state
 * names, the state directory's resolution and permissions, the round trip of
 * definitions, checkpoints and status, the run lock, and that a checkpoint
 * whose write is made to fail leaves the previous one in place.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog.h"
#include "fsutil.h"

/* Local stand-ins so this test does not depend on schema.c and position.c. */
static void set_id(struct zetl_table_id *id, const char *db, const char *schema, const char *table)
{
        memset(id, 0, sizeof(*id));
        snprintf(id->db, sizeof(id->db), "%s", db);
        snprintf(id->schema, sizeof(id->schema), "%s", schema);
        snprintf(id->table, sizeof(id->table), "%s", table);
}

static void set_pos(struct zetl_position *p, uint64_t order, const char *token)
{
        memset(p, 0, sizeof(*p));
        p->order = order;
        p->time_us = (int64_t)(order % 1000000) + 1600000000000000;
        snprintf(p->token, sizeof(p->token), "%s", token);
}

static char *make_tmpdir(void)
{
        char tmpl[] = "/tmp/zetl-test-catalog-XXXXXX";
        char *d = mkdtemp(tmpl);

        assert_non_null(d);
        return strdup(d);
}

static void rm_tmpdir(char *dir)
{
        struct zetl_err err;

        assert_int_equal(zetl_remove_tree(dir, &err), 0);
        free(dir);
}

static int file_mode(const char *path)
{
        struct stat st;

        assert_int_equal(stat(path, &st), 0);
        return (int)(st.st_mode & 07777);
}

static char *read_text(const char *path)
{
        struct zetl_err err;
        char *buf;
        size_t len;

        assert_int_equal(zetl_file_read(path, 1 << 20, &buf, &len, &err), 0);
        return buf;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        assert_int_equal(chmod(path, mode), 0);
}

/* Open a catalog in a fresh state directory under base. */
static void open_catalog(struct zetl_catalog *cat, const char *base)
{
        char dir[PATH_MAX];
        struct zetl_err err;

        snprintf(dir, sizeof(dir), "%s/state", base);
        assert_int_equal(zetl_catalog_open(cat, dir, &err), 0);
        assert_string_equal(cat->dir, dir);
}

static void fill_def(struct zetl_definition *d, const char *name)
{
        memset(d, 0, sizeof(*d));
        snprintf(d->name, sizeof(d->name), "%s", name);
        d->source = "postgresql://repl:s3cret@db.example:5432/app";
        d->target = "jsonl:/tmp/out.jsonl";
        d->created_at = 1700000000;
}

static int teardown(void **state)
{
        (void)state;
        zetl_fault_reset();
        unsetenv("ZETL_STATE_DIR");
        return 0;
}

/* ---- names ---------------------------------------------------------------------- */

static void test_name_rules(void **state)
{
        char max[ZETL_INTEGRATION_NAME_MAX + 2];
        static const char *const good[] = { "a", "abc", "a-b", "A1-b2-C3", "Z9", "my-pg-to-os" };
        static const struct {
                const char *name;
                const char *rule; /* a word of the rule the message must mention */
        } bad[] = {
                { "", "1 to 63" },
                { "1abc", "start with a letter" },
                { "-ab", "start with a letter" },
                { "a--b", "consecutive hyphens" },
                { "a-", "end with a hyphen" },
                { "ab_c", "letters, digits and hyphens" },
                { "ab c", "letters, digits and hyphens" },
                { "ab.c", "letters, digits and hyphens" },
                { "caf\xc3\xa9", "letters, digits and hyphens" },
                { "a/b", "letters, digits and hyphens" },
        };
        struct zetl_err err;
        char quoted[128];

        (void)state;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                assert_int_equal(zetl_integration_name_check(good[i], &err), 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                zetl_err_clear(&err);
                assert_int_equal(zetl_integration_name_check(bad[i].name, &err), ZETL_EINVAL);
                assert_int_equal(err.code, ZETL_EINVAL);
                assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
                snprintf(quoted, sizeof(quoted), "\"%s\"", bad[i].name);
                assert_non_null(strstr(err.msg, quoted));
                assert_non_null(strstr(err.msg, bad[i].rule));
        }

        /* 63 characters is the limit, 64 is one too many. */
        memset(max, 'a', sizeof(max));
        max[ZETL_INTEGRATION_NAME_MAX] = '\0';
        assert_int_equal(strlen(max), 63);
        assert_int_equal(zetl_integration_name_check(max, &err), 0);
        max[ZETL_INTEGRATION_NAME_MAX] = 'a';
        max[ZETL_INTEGRATION_NAME_MAX + 1] = '\0';
        assert_int_equal(zetl_integration_name_check(max, &err), ZETL_EINVAL);
        assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
        assert_non_null(strstr(err.msg, "1 to 63"));
}

static void test_state_names(void **state)
{
        static const char *const names[] = { "creating",        "active", "syncing", "modifying",
                                             "needs_attention", "failed", "deleting" };
        static const enum zetl_state states[] = {
                ZETL_STATE_CREATING,  ZETL_STATE_ACTIVE,          ZETL_STATE_SYNCING,
                ZETL_STATE_MODIFYING, ZETL_STATE_NEEDS_ATTENTION, ZETL_STATE_FAILED,
                ZETL_STATE_DELETING,
        };
        enum zetl_state s;

        (void)state;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                assert_string_equal(zetl_state_name(states[i]), names[i]);
                s = ZETL_STATE_FAILED;
                assert_int_equal(zetl_state_parse(names[i], &s), 0);
                assert_int_equal(s, states[i]);
        }
        assert_int_equal(zetl_state_parse("Active", &s), ZETL_EINVAL);
        assert_int_equal(zetl_state_parse("", &s), ZETL_EINVAL);
        assert_int_equal(zetl_state_parse("needs-attention", &s), ZETL_EINVAL);

        assert_string_equal(zetl_table_state_name(ZETL_TABLE_SYNCING), "syncing");
        assert_string_equal(zetl_table_state_name(ZETL_TABLE_ACTIVE), "active");
        assert_string_equal(zetl_table_state_name(ZETL_TABLE_NEEDS_ATTENTION), "needs_attention");
}

/* ---- the state directory ------------------------------------------------------------ */

static void test_open_sources(void **state)
{
        char *base = make_tmpdir();
        char env_dir[PATH_MAX], cli_dir[1024];
        struct zetl_catalog cat;
        struct zetl_err err;

        (void)state;
        snprintf(env_dir, sizeof(env_dir), "%s/from-env", base);
        snprintf(cli_dir, sizeof(cli_dir), "%s/from-cli/nested", base);

        /* $ZETL_STATE_DIR, created 0700 when missing. */
        setenv("ZETL_STATE_DIR", env_dir, 1);
        assert_int_equal(zetl_catalog_open(&cat, NULL, &err), 0);
        assert_string_equal(cat.dir, env_dir);
        assert_int_equal(file_mode(env_dir), 0700);
        /* An empty --state-dir counts as absent. */
        assert_int_equal(zetl_catalog_open(&cat, "", &err), 0);
        assert_string_equal(cat.dir, env_dir);
        /* --state-dir wins over the environment, and mkdir -p's its parents. */
        assert_int_equal(zetl_catalog_open(&cat, cli_dir, &err), 0);
        assert_string_equal(cat.dir, cli_dir);
        assert_int_equal(file_mode(cli_dir), 0700);
        unsetenv("ZETL_STATE_DIR");
        assert_int_equal(zetl_catalog_open(&cat, cli_dir, &err), 0);
        assert_string_equal(cat.dir, cli_dir);

        {
                char path[PATH_MAX];

                snprintf(path, sizeof(path), "%s/", cli_dir);
                assert_int_equal(zetl_catalog_open(&cat, path, &err), 0);
                zetl_catalog_path(&cat, "pg", path, sizeof(path));
                snprintf(env_dir, sizeof(env_dir), "%s/pg", cli_dir);
                assert_string_equal(path, env_dir);
        }
        rm_tmpdir(base);
}

/* The XDG and HOME fallbacks apply to non-root users only, so when the tests
 * run as root they are checked in a child that has become nobody. */
static int child_check_fallbacks(const char *base)
{
        char xdg[1024], home[1024], want[PATH_MAX];
        struct zetl_catalog cat;
        struct zetl_err err;
        struct stat st;

        unsetenv("ZETL_STATE_DIR");
        snprintf(xdg, sizeof(xdg), "%s/xdg", base);
        snprintf(home, sizeof(home), "%s/home", base);
        setenv("XDG_STATE_HOME", xdg, 1);
        setenv("HOME", home, 1);
        if (zetl_catalog_open(&cat, NULL, &err) < 0)
                return 10;
        snprintf(want, sizeof(want), "%s/zetl", xdg);
        if (strcmp(cat.dir, want) != 0)
                return 11;
        if (stat(want, &st) < 0 || !S_ISDIR(st.st_mode) || (st.st_mode & 07777) != 0700)
                return 12;
        /* A relative XDG_STATE_HOME is ignored, as the XDG spec says. */
        setenv("XDG_STATE_HOME", "relative/dir", 1);
        if (zetl_catalog_open(&cat, NULL, &err) < 0)
                return 20;
        snprintf(want, sizeof(want), "%s/.local/state/zetl", home);
        if (strcmp(cat.dir, want) != 0)
                return 21;
        unsetenv("XDG_STATE_HOME");
        if (zetl_catalog_open(&cat, NULL, &err) < 0 || strcmp(cat.dir, want) != 0)
                return 22;
        if (stat(want, &st) < 0 || (st.st_mode & 07777) != 0700)
                return 23;
        return 0;
}

static void test_open_fallbacks(void **state)
{
        char *base = make_tmpdir();
        int status;
        pid_t pid;

        (void)state;
        if (geteuid() == 0)
                assert_int_equal(chown(base, 65534, 65534), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
                        _exit(2);
                int rc = child_check_fallbacks(base);

                free(base); /* for leak checkers, which follow the child too */
                _exit(rc);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        rm_tmpdir(base);
}

static void test_open_permissions(void **state)
{
        char *base = make_tmpdir();
        char dir[PATH_MAX], want[3 * PATH_MAX];
        struct zetl_catalog cat;
        struct zetl_err err;

        (void)state;
        snprintf(dir, sizeof(dir), "%s/open", base);
        assert_int_equal(mkdir(dir, 0700), 0);
        assert_int_equal(chmod(dir, 0755), 0);
        assert_int_equal(zetl_catalog_open(&cat, dir, &err), ZETL_EINVAL);
        assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
        snprintf(want, sizeof(want),
                 "state directory %s is accessible by group or others (mode 0755); run: chmod "
                 "700 %s",
                 dir, dir);
        assert_string_equal(err.msg, want);
        /* Group access alone is refused too. */
        assert_int_equal(chmod(dir, 0710), 0);
        assert_int_equal(zetl_catalog_open(&cat, dir, &err), ZETL_EINVAL);
        assert_non_null(strstr(err.msg, "chmod 700"));
        assert_int_equal(chmod(dir, 0700), 0);
        assert_int_equal(zetl_catalog_open(&cat, dir, &err), 0);

        /* A file where the directory should be. */
        snprintf(dir, sizeof(dir), "%s/file", base);
        write_text(dir, "x", 0600);
        assert_true(zetl_catalog_open(&cat, dir, &err) < 0);
        assert_non_null(strstr(err.msg, dir));
        rm_tmpdir(base);
}

/* ---- definitions ------------------------------------------------------------------- */

static void test_create_load_save(void **state)
{
        char *base = make_tmpdir();
        struct zetl_option opts[] = {
                { "batch_rows", "1000" },
                { "slot", "zetl_slot" },
        };
        char folder[PATH_MAX], path[PATH_MAX + 32];
        struct zetl_definition d, got;
        struct zetl_catalog cat;
        struct zetl_status st;
        struct zetl_err err;
        bool found = false;

        (void)state;
        open_catalog(&cat, base);
        fill_def(&d, "pg-to-jsonl");
        d.description = "nightly \"copy\"\nof app";
        d.data_filter = "include: app.public.*";
        d.filter_file = "/etc/zetl/filter.txt";
        d.filter_text = "include: app.public.*\nexclude: app.public.tmp_*\n";
        d.opts = opts;
        d.nopts = 2;
        assert_int_equal(zetl_catalog_create(&cat, &d, &err), 0);

        zetl_catalog_path(&cat, "pg-to-jsonl", folder, sizeof(folder));
        assert_int_equal(file_mode(folder), 0700);
        snprintf(path, sizeof(path), "%s/definition.json", folder);
        assert_int_equal(file_mode(path), 0600);
        snprintf(path, sizeof(path), "%s/status.json", folder);
        assert_int_equal(file_mode(path), 0600);

        assert_int_equal(zetl_catalog_load(&cat, "pg-to-jsonl", &got, &err), 0);
        assert_string_equal(got.name, "pg-to-jsonl");
        assert_string_equal(got.description, d.description);
        assert_string_equal(got.source, d.source);
        assert_string_equal(got.target, d.target);
        assert_string_equal(got.data_filter, d.data_filter);
        assert_string_equal(got.filter_file, d.filter_file);
        assert_string_equal(got.filter_text, d.filter_text);
        assert_int_equal(got.nopts, 2);
        assert_string_equal(got.opts[0].key, "batch_rows");
        assert_string_equal(got.opts[0].value, "1000");
        assert_string_equal(got.opts[1].key, "slot");
        assert_string_equal(got.opts[1].value, "zetl_slot");
        assert_int_equal(got.created_at, 1700000000);
        zetl_definition_free(&got);
        assert_null(got.source);
        assert_null(got.opts);
        assert_int_equal(got.nopts, 0);
        assert_string_equal(got.name, "");

        /* A new integration's status: creating, lags unknown, no tables. */
        assert_int_equal(zetl_status_load(folder, &st, &found, &err), 0);
        assert_true(found);
        assert_int_equal(st.state, ZETL_STATE_CREATING);
        assert_null(st.last_error);
        assert_true(st.lag_seconds == -1);
        assert_int_equal(st.lag_bytes, -1);
        assert_int_equal(st.ntables, 0);
        zetl_status_free(&st);

        /* Save replaces the definition; absent fields come back as NULL. */
        d.description = NULL;
        d.data_filter = NULL;
        d.filter_file = NULL;
        d.filter_text = NULL;
        d.opts = NULL;
        d.nopts = 0;
        d.target = "jsonl:-";
        assert_int_equal(zetl_catalog_save(&cat, &d, &err), 0);
        snprintf(path, sizeof(path), "%s/definition.json", folder);
        assert_int_equal(file_mode(path), 0600);
        assert_int_equal(zetl_catalog_load(&cat, "pg-to-jsonl", &got, &err), 0);
        assert_null(got.description);
        assert_null(got.data_filter);
        assert_null(got.filter_file);
        assert_null(got.filter_text);
        assert_int_equal(got.nopts, 0);
        assert_string_equal(got.target, "jsonl:-");
        assert_string_equal(got.source, d.source);
        zetl_definition_free(&got);

        /* Saving an integration that does not exist is refused. */
        fill_def(&d, "ghost");
        assert_int_equal(zetl_catalog_save(&cat, &d, &err), ZETL_ENOTFOUND);
        rm_tmpdir(base);
}

static void test_create_errors(void **state)
{
        char *base = make_tmpdir();
        char folder[PATH_MAX];
        struct zetl_definition d, got;
        struct zetl_catalog cat;
        struct zetl_err err;
        struct stat st;

        (void)state;
        open_catalog(&cat, base);
        fill_def(&d, "dup");
        assert_int_equal(zetl_catalog_create(&cat, &d, &err), 0);
        assert_int_equal(zetl_catalog_create(&cat, &d, &err), ZETL_EEXIST);
        assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
        assert_string_equal(err.msg, "integration \"dup\" already exists");

        /* A bad name creates nothing, and cannot reach outside the state dir. */
        fill_def(&d, "../escape");
        assert_int_equal(zetl_catalog_create(&cat, &d, &err), ZETL_EINVAL);
        assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
        assert_int_equal(zetl_catalog_load(&cat, "../escape", &got, &err), ZETL_EINVAL);

        /* A write that fails leaves no half-made folder behind, at either file. */
        fill_def(&d, "half");
        zetl_catalog_path(&cat, "half", folder, sizeof(folder));
        zetl_fault_arm(ZETL_FAULT_FSYNC, 1, EIO); /* definition.json */
        assert_int_equal(zetl_catalog_create(&cat, &d, &err), ZETL_EIO);
        assert_int_equal(lstat(folder, &st), -1);
        zetl_fault_arm(ZETL_FAULT_RENAME, 2, EIO); /* status.json */
        assert_int_equal(zetl_catalog_create(&cat, &d, &err), ZETL_EIO);
        assert_int_equal(lstat(folder, &st), -1);
        zetl_fault_reset();
        assert_int_equal(zetl_catalog_create(&cat, &d, &err), 0);
        assert_int_equal(zetl_catalog_load(&cat, "half", &got, &err), 0);
        zetl_definition_free(&got);

        /* Source and target are required. */
        fill_def(&d, "no-target");
        d.target = NULL;
        assert_int_equal(zetl_catalog_create(&cat, &d, &err), ZETL_EINVAL);
        assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
        zetl_catalog_path(&cat, "no-target", folder, sizeof(folder));
        assert_int_equal(lstat(folder, &st), -1);

        /* Loading what is not there. */
        assert_int_equal(zetl_catalog_load(&cat, "nope", &got, &err), ZETL_ENOTFOUND);
        assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
        assert_string_equal(err.msg, "no integration named \"nope\"");
        rm_tmpdir(base);
}

static void test_load_permissions(void **state)
{
        char *base = make_tmpdir();
        char folder[PATH_MAX], path[PATH_MAX + 32], want[3 * PATH_MAX];
        struct zetl_definition d, got;
        struct zetl_catalog cat;
        struct zetl_err err;

        (void)state;
        open_catalog(&cat, base);
        fill_def(&d, "perm");
        assert_int_equal(zetl_catalog_create(&cat, &d, &err), 0);
        zetl_catalog_path(&cat, "perm", folder, sizeof(folder));
        snprintf(path, sizeof(path), "%s/definition.json", folder);

        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(zetl_catalog_load(&cat, "perm", &got, &err), ZETL_EINVAL);
        assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
        snprintf(want, sizeof(want), "chmod 600 %s", path);
        assert_non_null(strstr(err.msg, want));
        assert_non_null(strstr(err.msg, "0644"));
        assert_null(got.source);
        assert_int_equal(chmod(path, 0600), 0);

        assert_int_equal(chmod(folder, 0750), 0);
        assert_int_equal(zetl_catalog_load(&cat, "perm", &got, &err), ZETL_EINVAL);
        assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
        snprintf(want, sizeof(want), "chmod 700 %s", folder);
        assert_non_null(strstr(err.msg, want));
        assert_int_equal(chmod(folder, 0700), 0);

        assert_int_equal(zetl_catalog_load(&cat, "perm", &got, &err), 0);
        zetl_definition_free(&got);
        rm_tmpdir(base);
}

static void test_load_malformed(void **state)
{
        char *base = make_tmpdir();
        char folder[PATH_MAX], path[PATH_MAX + 32], want[PATH_MAX + 64];
        struct zetl_definition d, got;
        struct zetl_catalog cat;
        struct zetl_err err;

        (void)state;
        open_catalog(&cat, base);
        fill_def(&d, "broken");
        assert_int_equal(zetl_catalog_create(&cat, &d, &err), 0);
        zetl_catalog_path(&cat, "broken", folder, sizeof(folder));
        snprintf(path, sizeof(path), "%s/definition.json", folder);

        /* The stray character is on line 3. */
        write_text(path, "{\n  \"name\": \"broken\",\n  \"source\": @\n}\n", 0600);
        assert_int_equal(zetl_catalog_load(&cat, "broken", &got, &err), ZETL_EINVAL);
        assert_int_equal(err.cls, ZETL_ERRC_FATAL);
        snprintf(want, sizeof(want), "%s:3:", path);
        assert_ptr_equal(strstr(err.msg, want), err.msg);
        assert_null(got.source);

        /* Well-formed JSON of the wrong shape names the file and the field. */
        write_text(path, "{\"name\": \"broken\", \"source\": 5, \"target\": \"jsonl:-\"}", 0600);
        assert_int_equal(zetl_catalog_load(&cat, "broken", &got, &err), ZETL_EINVAL);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, "source"));
        write_text(path, "{\"name\": \"other\", \"source\": \"a:b\", \"target\": \"c:d\"}", 0600);
        assert_int_equal(zetl_catalog_load(&cat, "broken", &got, &err), ZETL_EINVAL);
        write_text(path,
                   "{\"name\": \"broken\", \"source\": \"a:b\", \"target\": \"c:d\", "
                   "\"options\": {\"k\": 1}}",
                   0600);
        assert_int_equal(zetl_catalog_load(&cat, "broken", &got, &err), ZETL_EINVAL);
        assert_null(got.opts);
        write_text(path, "[]", 0600);
        assert_int_equal(zetl_catalog_load(&cat, "broken", &got, &err), ZETL_EINVAL);
        assert_non_null(strstr(err.msg, path));
        rm_tmpdir(base);
}

static void test_list_remove(void **state)
{
        char *base = make_tmpdir();
        static const char *const create[] = { "beta", "alpha", "Zeta", "alpha-2" };
        static const char *const sorted[] = { "Zeta", "alpha", "alpha-2", "beta" };
        char path[PATH_MAX + 32];
        struct zetl_definition d, got;
        struct zetl_catalog cat;
        struct zetl_err err;
        struct stat st;
        char **names;
        int n;

        (void)state;
        open_catalog(&cat, base);
        assert_int_equal(zetl_catalog_list(&cat, &names, &n, &err), 0);
        assert_int_equal(n, 0);
        free(names);

        for (size_t i = 0; i < sizeof(create) / sizeof(create[0]); i++) {
                fill_def(&d, create[i]);
                assert_int_equal(zetl_catalog_create(&cat, &d, &err), 0);
        }
        /* Not integrations: a folder without a definition, a plain file. */
        snprintf(path, sizeof(path), "%s/empty", cat.dir);
        assert_int_equal(mkdir(path, 0700), 0);
        snprintf(path, sizeof(path), "%s/notes.txt", cat.dir);
        write_text(path, "x", 0600);

        assert_int_equal(zetl_catalog_list(&cat, &names, &n, &err), 0);
        assert_int_equal(n, 4);
        for (int i = 0; i < n; i++) {
                assert_string_equal(names[i], sorted[i]);
                free(names[i]);
        }
        free(names);

        assert_int_equal(zetl_catalog_remove(&cat, "beta", &err), 0);
        zetl_catalog_path(&cat, "beta", path, sizeof(path));
        assert_int_equal(lstat(path, &st), -1);
        assert_int_equal(zetl_catalog_remove(&cat, "beta", &err), ZETL_ENOTFOUND);
        assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
        assert_int_equal(zetl_catalog_load(&cat, "beta", &got, &err), ZETL_ENOTFOUND);
        assert_non_null(strstr(err.msg, "no integration named \"beta\""));

        assert_int_equal(zetl_catalog_list(&cat, &names, &n, &err), 0);
        assert_int_equal(n, 3);
        assert_string_equal(names[0], "Zeta");
        assert_string_equal(names[1], "alpha");
        assert_string_equal(names[2], "alpha-2");
        for (int i = 0; i < n; i++)
                free(names[i]);
        free(names);
        rm_tmpdir(base);
}

static void test_lock(void **state)
{
        char *base = make_tmpdir();
        char folder[PATH_MAX], path[PATH_MAX + 32];
        struct zetl_definition d;
        struct zetl_catalog cat;
        struct zetl_err err;
        int fd1 = -1, fd2 = 123;

        (void)state;
        open_catalog(&cat, base);
        fill_def(&d, "locked");
        assert_int_equal(zetl_catalog_create(&cat, &d, &err), 0);
        assert_int_equal(zetl_catalog_lock(&cat, "locked", &fd1, &err), 0);
        assert_true(fd1 >= 0);
        zetl_catalog_path(&cat, "locked", folder, sizeof(folder));
        snprintf(path, sizeof(path), "%s/lock", folder);
        assert_int_equal(file_mode(path), 0600);

        assert_int_equal(zetl_catalog_lock(&cat, "locked", &fd2, &err), ZETL_ESTATE);
        assert_int_equal(err.cls, ZETL_ERRC_CONFIG);
        assert_string_equal(err.msg, "integration \"locked\" is already running (lock held)");
        assert_int_equal(fd2, -1);

        /* Closing the descriptor releases the lock. */
        close(fd1);
        assert_int_equal(zetl_catalog_lock(&cat, "locked", &fd2, &err), 0);
        close(fd2);

        assert_int_equal(zetl_catalog_lock(&cat, "absent", &fd1, &err), ZETL_ENOTFOUND);
        rm_tmpdir(base);
}

/* ---- checkpoint.json ----------------------------------------------------------------- */

static void assert_pos_equal(const struct zetl_position *a, const struct zetl_position *b)
{
        assert_true(a->order == b->order);
        assert_int_equal(a->time_us, b->time_us);
        assert_string_equal(a->token, b->token);
}

static void assert_ck_equal(const struct zetl_checkpoint *a, const struct zetl_checkpoint *b)
{
        assert_pos_equal(&a->received, &b->received);
        assert_pos_equal(&a->written, &b->written);
        assert_pos_equal(&a->committed, &b->committed);
        assert_pos_equal(&a->acked, &b->acked);
        assert_int_equal(a->snapshot_done, b->snapshot_done);
        assert_int_equal(a->updated_at, b->updated_at);
}

static void test_checkpoint_round_trip(void **state)
{
        char *idir = make_tmpdir();
        char path[PATH_MAX + 32], token[ZETL_POS_TOKEN_MAX];
        struct zetl_checkpoint ck, got;
        struct zetl_err err;
        bool found = true;
        char *text;

        (void)state;
        memset(&got, 0xa5, sizeof(got));
        assert_int_equal(zetl_checkpoint_load(idir, &got, &found, &err), 0);
        assert_false(found);
        assert_true(got.received.order == 0 && got.acked.order == 0);
        assert_string_equal(got.committed.token, "");
        assert_false(got.snapshot_done);
        assert_int_equal(got.updated_at, 0);

        memset(token, 'T', sizeof(token) - 1);
        token[sizeof(token) - 1] = '\0';
        memset(&ck, 0, sizeof(ck));
        set_pos(&ck.received, UINT64_MAX, "FFFFFFFF/FFFFFFFF");
        set_pos(&ck.written, 0, "");
        set_pos(&ck.committed, (uint64_t)1 << 63, "mariadb-bin.000003:1234 gtid=0-1-9");
        set_pos(&ck.acked, 12345, token);
        ck.snapshot_done = true;
        ck.updated_at = 1700000000123456;
        assert_int_equal(zetl_checkpoint_save(idir, &ck, &err), 0);
        snprintf(path, sizeof(path), "%s/checkpoint.json", idir);
        assert_int_equal(file_mode(path), 0600);
        /* Orders are decimal strings so all 64 bits survive. */
        text = read_text(path);
        assert_non_null(strstr(text, "\"18446744073709551615\""));
        assert_non_null(strstr(text, "\"9223372036854775808\""));
        free(text);

        assert_int_equal(zetl_checkpoint_load(idir, &got, &found, &err), 0);
        assert_true(found);
        assert_ck_equal(&got, &ck);
        assert_true(got.received.order == UINT64_MAX);
        assert_int_equal(strlen(got.acked.token), ZETL_POS_TOKEN_MAX - 1);

        /* found may be NULL. */
        assert_int_equal(zetl_checkpoint_load(idir, &got, NULL, &err), 0);
        assert_ck_equal(&got, &ck);
        rm_tmpdir(idir);
}

static void test_checkpoint_garbage(void **state)
{
        static const char *const bad[] = {
                "{\"received\": {\"order\": \"12x\", \"token\": \"\"}}",
                "{\"received\": {\"order\": \"-1\", \"token\": \"\"}}",
                "{\"received\": {\"order\": \" 7\", \"token\": \"\"}}",
                "{\"received\": {\"order\": \"\", \"token\": \"\"}}",
                "{\"received\": {\"order\": \"18446744073709551616\", \"token\": \"\"}}",
                "{\"acked\": {\"order\": 5, \"token\": \"\"}}",
                "{\"acked\": {\"order\": \"5\", \"token\": 5}}",
                "{\"acked\": 7}",
                "{\"acked\": {\"order\": \"5\", \"time_us\": \"1\"}}",
                "{\"snapshot_done\": \"yes\"}",
                "{\"received\": ",
        };
        char *idir = make_tmpdir();
        char path[PATH_MAX + 32];
        struct zetl_checkpoint got;
        struct zetl_err err;
        bool found;

        (void)state;
        snprintf(path, sizeof(path), "%s/checkpoint.json", idir);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                write_text(path, bad[i], 0600);
                found = true;
                zetl_err_clear(&err);
                assert_int_equal(zetl_checkpoint_load(idir, &got, &found, &err), ZETL_EINVAL);
                assert_non_null(strstr(err.msg, path));
                assert_false(found);
        }
        rm_tmpdir(idir);
}

/* The "checkpoint atomicity with writes made to fail on purpose" requirement:
 * a failed save, wherever it fails, leaves the previous checkpoint. */
static void test_checkpoint_atomic_under_faults(void **state)
{
        static const struct {
                enum zetl_fault_kind kind;
                long nth;
        } faults[] = {
                { ZETL_FAULT_FSYNC, 1 }, /* the file */
                { ZETL_FAULT_FSYNC, 2 }, /* the directory, after the rename */
                { ZETL_FAULT_WRITE, 1 },
                { ZETL_FAULT_RENAME, 1 },
        };
        char *idir = make_tmpdir();
        struct zetl_checkpoint a, b, got;
        struct zetl_err err;
        bool found;

        (void)state;
        memset(&a, 0, sizeof(a));
        set_pos(&a.committed, 100, "0/64");
        set_pos(&a.acked, 100, "0/64");
        a.updated_at = 1;
        b = a;
        set_pos(&b.committed, UINT64_MAX - 1, "FFFFFFFF/FFFFFFFE");
        b.snapshot_done = true;
        b.updated_at = 2;
        assert_int_equal(zetl_checkpoint_save(idir, &a, &err), 0);

        for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
                zetl_fault_arm(faults[i].kind, faults[i].nth, EIO);
                assert_int_equal(zetl_checkpoint_save(idir, &b, &err), ZETL_EIO);
                assert_int_equal(err.cls, ZETL_ERRC_TRANSIENT);
                assert_non_null(strstr(err.msg, "checkpoint.json"));
                zetl_fault_reset();
                assert_int_equal(zetl_checkpoint_load(idir, &got, &found, &err), 0);
                assert_true(found);
                assert_ck_equal(&got, &a);
        }
        assert_int_equal(zetl_checkpoint_save(idir, &b, &err), 0);
        assert_int_equal(zetl_checkpoint_load(idir, &got, &found, &err), 0);
        assert_ck_equal(&got, &b);
        {
                /* Nothing but the checkpoint is left in the folder. */
                DIR *dir = opendir(idir);
                struct dirent *de;
                int n = 0;

                assert_non_null(dir);
                while ((de = readdir(dir)) != NULL) {
                        if (de->d_name[0] == '.' &&
                            (de->d_name[1] == '\0' || strcmp(de->d_name, "..") == 0))
                                continue;
                        assert_string_equal(de->d_name, "checkpoint.json");
                        n++;
                }
                closedir(dir);
                assert_int_equal(n, 1);
        }
        rm_tmpdir(idir);
}

/* ---- status.json ------------------------------------------------------------------------ */

static void test_status_round_trip(void **state)
{
        char *idir = make_tmpdir();
        char path[PATH_MAX + 32];
        struct zetl_table_id id1, id2;
        struct zetl_table_status *t1, *t2;
        struct zetl_status st, got;
        struct zetl_err err;
        bool found = true;
        char *text;

        (void)state;
        assert_int_equal(zetl_status_load(idir, &got, &found, &err), 0);
        assert_false(found);
        assert_int_equal(got.ntables, 0);
        assert_null(got.tables);

        memset(&st, 0, sizeof(st));
        st.state = ZETL_STATE_ACTIVE;
        st.updated_at = 1700000000654321;
        st.lag_seconds = 1.5;
        st.lag_bytes = 4096;
        st.pid = 4242;
        set_id(&id1, "app", "public", "users");
        set_id(&id2, "shop", "", "orders");
        t1 = zetl_status_table(&st, &id1);
        assert_non_null(t1);
        assert_int_equal(t1->state, ZETL_TABLE_SYNCING);
        assert_int_equal(t1->rows_inserted, 0);
        assert_null(t1->last_error);
        t1->state = ZETL_TABLE_ACTIVE;
        t1->rows_snapshot = 1000000;
        t1->rows_inserted = 5;
        t1->rows_updated = 6;
        t1->rows_deleted = 7;
        t1->bytes = INT64_MAX;
        t2 = zetl_status_table(&st, &id2);
        assert_non_null(t2);
        assert_int_equal(st.ntables, 2);
        t2->state = ZETL_TABLE_NEEDS_ATTENTION;
        t2->last_error = strdup("column \"x\" changed type");
        /* The same id finds the same entry. */
        assert_ptr_equal(zetl_status_table(&st, &id1), &st.tables[0]);
        assert_ptr_equal(zetl_status_table(&st, &id2), &st.tables[1]);
        assert_int_equal(st.ntables, 2);

        assert_int_equal(zetl_status_save(idir, &st, &err), 0);
        snprintf(path, sizeof(path), "%s/status.json", idir);
        assert_int_equal(file_mode(path), 0600);
        assert_int_equal(zetl_status_load(idir, &got, &found, &err), 0);
        assert_true(found);
        assert_int_equal(got.state, ZETL_STATE_ACTIVE);
        assert_null(got.last_error);
        assert_int_equal(got.updated_at, 1700000000654321);
        assert_true(got.lag_seconds == 1.5);
        assert_int_equal(got.lag_bytes, 4096);
        assert_int_equal(got.pid, 4242);
        assert_int_equal(got.ntables, 2);
        assert_string_equal(got.tables[0].id.db, "app");
        assert_string_equal(got.tables[0].id.schema, "public");
        assert_string_equal(got.tables[0].id.table, "users");
        assert_int_equal(got.tables[0].state, ZETL_TABLE_ACTIVE);
        assert_int_equal(got.tables[0].rows_snapshot, 1000000);
        assert_int_equal(got.tables[0].rows_inserted, 5);
        assert_int_equal(got.tables[0].rows_updated, 6);
        assert_int_equal(got.tables[0].rows_deleted, 7);
        assert_true(got.tables[0].bytes == INT64_MAX);
        assert_null(got.tables[0].last_error);
        assert_string_equal(got.tables[1].id.db, "shop");
        assert_string_equal(got.tables[1].id.schema, "");
        assert_string_equal(got.tables[1].id.table, "orders");
        assert_int_equal(got.tables[1].state, ZETL_TABLE_NEEDS_ATTENTION);
        assert_string_equal(got.tables[1].last_error, "column \"x\" changed type");
        zetl_status_free(&got);
        assert_null(got.tables);
        assert_int_equal(got.ntables, 0);

        /* Unknown lags are written as null and read back as -1; errors as text. */
        st.lag_seconds = -1;
        st.lag_bytes = -1;
        st.state = ZETL_STATE_FAILED;
        st.last_error = strdup("connection refused");
        assert_int_equal(zetl_status_save(idir, &st, &err), 0);
        text = read_text(path);
        assert_non_null(strstr(text, "\"lag_seconds\": null"));
        assert_non_null(strstr(text, "\"lag_bytes\": null"));
        assert_non_null(strstr(text, "\"state\": \"failed\""));
        free(text);
        assert_int_equal(zetl_status_load(idir, &got, &found, &err), 0);
        assert_true(got.lag_seconds == -1);
        assert_int_equal(got.lag_bytes, -1);
        assert_int_equal(got.state, ZETL_STATE_FAILED);
        assert_string_equal(got.last_error, "connection refused");
        zetl_status_free(&got);

        zetl_status_free(&st);
        assert_null(st.tables);
        assert_null(st.last_error);
        assert_int_equal(st.ntables, 0);

        /* A status naming an unknown state is refused with the file's name. */
        write_text(path, "{\"state\": \"sleeping\", \"tables\": []}", 0600);
        assert_int_equal(zetl_status_load(idir, &got, &found, &err), ZETL_EINVAL);
        assert_non_null(strstr(err.msg, path));
        write_text(path,
                   "{\"state\": \"active\", \"tables\": [{\"db\": \"a\", \"table\": \"t\", "
                   "\"state\": \"active\", \"last_error\": \"x\"}, {\"db\": 1}]}",
                   0600);
        assert_int_equal(zetl_status_load(idir, &got, &found, &err), ZETL_EINVAL);
        assert_null(got.tables);
        rm_tmpdir(idir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_name_rules, teardown),
                cmocka_unit_test_teardown(test_state_names, teardown),
                cmocka_unit_test_teardown(test_open_sources, teardown),
                cmocka_unit_test_teardown(test_open_fallbacks, teardown),
                cmocka_unit_test_teardown(test_open_permissions, teardown),
                cmocka_unit_test_teardown(test_create_load_save, teardown),
                cmocka_unit_test_teardown(test_create_errors, teardown),
                cmocka_unit_test_teardown(test_load_permissions, teardown),
                cmocka_unit_test_teardown(test_load_malformed, teardown),
                cmocka_unit_test_teardown(test_list_remove, teardown),
                cmocka_unit_test_teardown(test_lock, teardown),
                cmocka_unit_test_teardown(test_checkpoint_round_trip, teardown),
                cmocka_unit_test_teardown(test_checkpoint_garbage, teardown),
                cmocka_unit_test_teardown(test_checkpoint_atomic_under_faults, teardown),
                cmocka_unit_test_teardown(test_status_round_trip, teardown),
        };

        umask(022);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
