/*
 * Tests for durable files (src/fsutil.c): the atomic write keeps the old
 * content through a failure at every write, fsync and rename it makes, the
 * fault injection counts and fires as documented, reads respect their
 * ceiling, and directory helpers create and remove trees without following
 * symlinks.
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
#include <unistd.h>

#include "fsutil.h"

static char *make_tmpdir(void)
{
        char tmpl[] = "/tmp/zetl-test-fsutil-XXXXXX";
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

/* The whole content of dir/name, for comparing with what was written. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
        char path[PATH_MAX];
        struct zetl_err err;
        char *buf = NULL;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_int_equal(zetl_file_read(path, 1 << 20, &buf, len, &err), 0);
        return buf;
}

static void assert_content(const char *dir, const char *name, const char *want)
{
        size_t len;
        char *got = slurp(dir, name, &len);

        assert_int_equal(len, strlen(want));
        assert_memory_equal(got, want, len);
        free(got);
}

/* Number of entries in dir besides . and .., and whether only `only` is there. */
static int count_entries(const char *dir, const char *only)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)) != NULL) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (only)
                        assert_string_equal(de->d_name, only);
                n++;
        }
        closedir(d);
        return n;
}

static int teardown_faults(void **state)
{
        (void)state;
        zetl_fault_reset();
        return 0;
}

static void test_write_round_trip(void **state)
{
        char *dir = make_tmpdir();
        char path[PATH_MAX];
        struct zetl_err err;
        struct stat st;

        (void)state;
        umask(022);
        snprintf(path, sizeof(path), "%s/state.json", dir);
        assert_int_equal(zetl_file_write_atomic(dir, "state.json", "hello", 5, 0600, &err), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_content(dir, "state.json", "hello");

        /* Overwriting replaces the content entirely and keeps the mode. */
        assert_int_equal(zetl_file_write_atomic(dir, "state.json", "hi", 2, 0600, &err), 0);
        assert_content(dir, "state.json", "hi");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        /* An empty write gives an empty file, and nothing else is left behind. */
        assert_int_equal(zetl_file_write_atomic(dir, "state.json", "", 0, 0600, &err), 0);
        assert_content(dir, "state.json", "");
        assert_int_equal(count_entries(dir, "state.json"), 1);

        /* A missing directory is an I/O error naming the file. */
        assert_int_equal(zetl_file_write_atomic("/nonexistent-zetl-dir", "f", "x", 1, 0600, &err),
                         ZETL_EIO);
        assert_int_equal(err.cls, ZETL_ERRC_TRANSIENT);
        assert_non_null(strstr(err.msg, "writing /nonexistent-zetl-dir/f: "));
        rm_tmpdir(dir);
}

/* Fault points in one small write: one write(), fsync of the file and of the
 * directory, one rename. */
static const long fault_points[ZETL_FAULT__COUNT] = {
        [ZETL_FAULT_WRITE] = 1,
        [ZETL_FAULT_FSYNC] = 2,
        [ZETL_FAULT_RENAME] = 1,
};

static void test_fault_walk_keeps_old(void **state)
{
        char *dir = make_tmpdir();
        char prefix[PATH_MAX + 16];
        struct zetl_err err;

        (void)state;
        snprintf(prefix, sizeof(prefix), "writing %s/f: ", dir);
        for (int k = 0; k < ZETL_FAULT__COUNT; k++) {
                for (long n = 1; n <= fault_points[k]; n++) {
                        zetl_fault_reset();
                        assert_int_equal(zetl_file_write_atomic(dir, "f", "old", 3, 0600, &err), 0);
                        zetl_fault_arm((enum zetl_fault_kind)k, n, EIO);
                        zetl_err_clear(&err);
                        assert_int_equal(zetl_file_write_atomic(dir, "f", "new!", 4, 0600, &err),
                                         ZETL_EIO);
                        assert_int_equal(err.code, ZETL_EIO);
                        assert_int_equal(err.cls, ZETL_ERRC_TRANSIENT);
                        assert_ptr_equal(strstr(err.msg, prefix), err.msg);
                        assert_non_null(strstr(err.msg, strerror(EIO)));
                        assert_content(dir, "f", "old");
                        assert_int_equal(count_entries(dir, "f"), 1);
                }
                /* One past the last fault point: this write makes no such call. */
                zetl_fault_arm((enum zetl_fault_kind)k, fault_points[k] + 1, EIO);
                assert_int_equal(zetl_file_write_atomic(dir, "f", "new!", 4, 0600, &err), 0);
                assert_content(dir, "f", "new!");
        }
        zetl_fault_reset();
        assert_int_equal(zetl_file_write_atomic(dir, "f", "new", 3, 0600, &err), 0);
        assert_content(dir, "f", "new");
        assert_int_equal(count_entries(dir, "f"), 1);
        rm_tmpdir(dir);
}

/* Without an old file, a failed write leaves no file at all. */
static void test_fault_walk_new_file(void **state)
{
        char *dir = make_tmpdir();
        struct zetl_err err;

        (void)state;
        for (int k = 0; k < ZETL_FAULT__COUNT; k++) {
                for (long n = 1; n <= fault_points[k]; n++) {
                        zetl_fault_arm((enum zetl_fault_kind)k, n, EIO);
                        assert_int_equal(zetl_file_write_atomic(dir, "g", "new", 3, 0600, &err),
                                         ZETL_EIO);
                        assert_int_equal(count_entries(dir, NULL), 0);
                        zetl_fault_reset();
                }
        }
        assert_int_equal(zetl_file_write_atomic(dir, "g", "new", 3, 0600, &err), 0);
        assert_content(dir, "g", "new");
        rm_tmpdir(dir);
}

static void test_enospc_in_message(void **state)
{
        char *dir = make_tmpdir();
        char want[PATH_MAX + 64];
        struct zetl_err err;

        (void)state;
        assert_int_equal(zetl_file_write_atomic(dir, "f", "old", 3, 0600, &err), 0);
        zetl_fault_arm(ZETL_FAULT_WRITE, 1, ENOSPC);
        assert_int_equal(zetl_file_write_atomic(dir, "f", "new", 3, 0600, &err), ZETL_EIO);
        snprintf(want, sizeof(want), "writing %s/f: write: %s", dir, strerror(ENOSPC));
        assert_string_equal(err.msg, want);
        assert_content(dir, "f", "old");

        zetl_fault_arm(ZETL_FAULT_FSYNC, 1, ENOSPC);
        assert_int_equal(zetl_file_write_atomic(dir, "f", "new", 3, 0600, &err), ZETL_EIO);
        assert_non_null(strstr(err.msg, strerror(ENOSPC)));
        assert_content(dir, "f", "old");
        assert_int_equal(count_entries(dir, "f"), 1);
        rm_tmpdir(dir);
}

static void test_short_write(void **state)
{
        char *dir = make_tmpdir();
        char big[1000];
        struct zetl_err err;

        (void)state;
        memset(big, 'x', sizeof(big));
        assert_int_equal(zetl_file_write_atomic(dir, "f", "old", 3, 0600, &err), 0);
        /* Half of the data goes out, then the next write() fails with ENOSPC. */
        zetl_fault_arm(ZETL_FAULT_WRITE, 1, -ENOSPC);
        assert_int_equal(zetl_file_write_atomic(dir, "f", big, sizeof(big), 0600, &err), ZETL_EIO);
        assert_non_null(strstr(err.msg, strerror(ENOSPC)));
        assert_content(dir, "f", "old");
        assert_int_equal(count_entries(dir, "f"), 1);

        /* Through the public hook the armed call passes and the next one fails. */
        zetl_fault_arm(ZETL_FAULT_WRITE, 1, -EIO);
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_WRITE), 0);
        errno = 0;
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_WRITE), -1);
        assert_int_equal(errno, EIO);
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_WRITE), 0);

        /* Disarmed, the same data is written in full. */
        assert_int_equal(zetl_file_write_atomic(dir, "f", big, sizeof(big), 0600, &err), 0);
        {
                size_t len;
                char *got = slurp(dir, "f", &len);

                assert_int_equal(len, sizeof(big));
                assert_memory_equal(got, big, sizeof(big));
                free(got);
        }
        rm_tmpdir(dir);
}

static void test_fault_countdown(void **state)
{
        (void)state;
        zetl_fault_arm(ZETL_FAULT_FSYNC, 3, EIO);
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_FSYNC), 0);
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_WRITE), 0); /* other kinds do not count */
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_FSYNC), 0);
        errno = 0;
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_FSYNC), -1);
        assert_int_equal(errno, EIO);
        /* It fired once and disarmed itself. */
        for (int i = 0; i < 5; i++)
                assert_int_equal(zetl_fault_hit(ZETL_FAULT_FSYNC), 0);

        zetl_fault_arm(ZETL_FAULT_RENAME, 1, ENOSPC);
        errno = 0;
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_RENAME), -1);
        assert_int_equal(errno, ENOSPC);

        /* nth 0 disarms; reset disarms everything. */
        zetl_fault_arm(ZETL_FAULT_RENAME, 1, EIO);
        zetl_fault_arm(ZETL_FAULT_RENAME, 0, EIO);
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_RENAME), 0);
        zetl_fault_arm(ZETL_FAULT_WRITE, 1, EIO);
        zetl_fault_arm(ZETL_FAULT_FSYNC, 1, EIO);
        zetl_fault_reset();
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_WRITE), 0);
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_FSYNC), 0);
}

static void test_file_read(void **state)
{
        char *dir = make_tmpdir();
        char path[PATH_MAX];
        struct zetl_err err;
        char *buf = NULL;
        size_t len = 99;

        (void)state;
        snprintf(path, sizeof(path), "%s/missing", dir);
        assert_int_equal(zetl_file_read(path, 100, &buf, &len, &err), ZETL_ENOTFOUND);
        assert_int_equal(err.cls, ZETL_ERRC_FATAL);
        assert_non_null(strstr(err.msg, path));
        assert_null(buf);

        assert_int_equal(zetl_file_write_atomic(dir, "ten", "0123456789", 10, 0600, &err), 0);
        snprintf(path, sizeof(path), "%s/ten", dir);
        /* Exactly max bytes is allowed, and the buffer is NUL-terminated. */
        assert_int_equal(zetl_file_read(path, 10, &buf, &len, &err), 0);
        assert_int_equal(len, 10);
        assert_string_equal(buf, "0123456789");
        free(buf);
        buf = NULL;
        assert_int_equal(zetl_file_read(path, 9, &buf, &len, &err), ZETL_ELIMIT);
        assert_null(buf);
        assert_non_null(strstr(err.msg, path));

        assert_int_equal(zetl_file_write_atomic(dir, "empty", "", 0, 0600, &err), 0);
        snprintf(path, sizeof(path), "%s/empty", dir);
        assert_int_equal(zetl_file_read(path, 0, &buf, &len, &err), 0);
        assert_int_equal(len, 0);
        assert_non_null(buf);
        assert_string_equal(buf, "");
        free(buf);
        buf = NULL;

        /* A directory cannot be read as a file. */
        assert_true(zetl_file_read(dir, 100, &buf, &len, &err) < 0);
        assert_null(buf);
        rm_tmpdir(dir);
}

static void test_mkdir_p(void **state)
{
        char *dir = make_tmpdir();
        char path[PATH_MAX + 16], file[PATH_MAX];
        struct zetl_err err;
        struct stat st;
        int fd;

        (void)state;
        umask(022);
        snprintf(path, sizeof(path), "%s/a/b/c", dir);
        assert_int_equal(zetl_mkdir_p(path, 0700, &err), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0700);
        /* Existing directories are fine, and a trailing slash too. */
        assert_int_equal(zetl_mkdir_p(path, 0700, &err), 0);
        snprintf(path, sizeof(path), "%s/a/b/c/", dir);
        assert_int_equal(zetl_mkdir_p(path, 0700, &err), 0);

        /* A file in the way is an error naming it. */
        snprintf(file, sizeof(file), "%s/a/file", dir);
        fd = open(file, O_CREAT | O_WRONLY, 0600);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(zetl_mkdir_p(file, 0700, &err), ZETL_EIO);
        assert_non_null(strstr(err.msg, file));
        snprintf(path, sizeof(path), "%s/x", file);
        assert_int_equal(zetl_mkdir_p(path, 0700, &err), ZETL_EIO);
        rm_tmpdir(dir);
}

static void test_remove_tree(void **state)
{
        char *dir = make_tmpdir();
        char *outside = make_tmpdir();
        char path[PATH_MAX], keep[PATH_MAX];
        struct zetl_err err;
        struct stat st;

        (void)state;
        snprintf(path, sizeof(path), "%s/t/d1/d2", dir);
        assert_int_equal(zetl_mkdir_p(path, 0700, &err), 0);
        snprintf(path, sizeof(path), "%s/t/d1", dir);
        assert_int_equal(zetl_file_write_atomic(path, "f1", "x", 1, 0600, &err), 0);
        snprintf(path, sizeof(path), "%s/t/d1/d2", dir);
        assert_int_equal(zetl_file_write_atomic(path, "f2", "y", 1, 0600, &err), 0);
        assert_int_equal(zetl_file_write_atomic(outside, "keep", "k", 1, 0600, &err), 0);
        /* Symlinks to a directory and to a file elsewhere: removed, not followed. */
        snprintf(path, sizeof(path), "%s/t/d1/link", dir);
        assert_int_equal(symlink(outside, path), 0);
        snprintf(keep, sizeof(keep), "%s/keep", outside);
        snprintf(path, sizeof(path), "%s/t/filelink", dir);
        assert_int_equal(symlink(keep, path), 0);

        snprintf(path, sizeof(path), "%s/t", dir);
        assert_int_equal(zetl_remove_tree(path, &err), 0);
        assert_int_equal(lstat(path, &st), -1);
        assert_int_equal(errno, ENOENT);
        assert_int_equal(count_entries(dir, NULL), 0);
        assert_int_equal(stat(keep, &st), 0);
        assert_content(outside, "keep", "k");

        assert_int_equal(zetl_remove_tree(path, &err), ZETL_ENOTFOUND);

        /* A single file is removed as well. */
        assert_int_equal(zetl_remove_tree(keep, &err), 0);
        assert_int_equal(count_entries(outside, NULL), 0);
        rm_tmpdir(dir);
        rm_tmpdir(outside);
}

/* Run zetl_fault_from_env with ZETL_FAULT = value (NULL: unset) and return
 * what it printed on stderr. */
static char *from_env_capture(const char *value)
{
        char tmpl[] = "/tmp/zetl-test-fsutil-err-XXXXXX";
        int fd = mkstemp(tmpl);
        int saved = dup(STDERR_FILENO);
        char *buf = NULL;
        size_t len;
        struct zetl_err err;

        assert_true(fd >= 0);
        assert_true(saved >= 0);
        if (value)
                setenv("ZETL_FAULT", value, 1);
        else
                unsetenv("ZETL_FAULT");
        fflush(stderr);
        dup2(fd, STDERR_FILENO);
        zetl_fault_from_env();
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        close(fd);
        unsetenv("ZETL_FAULT");
        assert_int_equal(zetl_file_read(tmpl, 4096, &buf, &len, &err), 0);
        unlink(tmpl);
        return buf;
}

static void assert_nothing_armed(void)
{
        for (int i = 0; i < 5; i++) {
                assert_int_equal(zetl_fault_hit(ZETL_FAULT_WRITE), 0);
                assert_int_equal(zetl_fault_hit(ZETL_FAULT_FSYNC), 0);
                assert_int_equal(zetl_fault_hit(ZETL_FAULT_RENAME), 0);
        }
}

static void test_fault_env(void **state)
{
        static const char *const bad[] = {
                "write",     "write:",        "write:x",  "bogus:1",         "write:1:EPERM",
                "write:1,,", "fsync:1,bogus", "write:-1", "write:1:ENOSPC:", "WRITE:1",
                ",write:1",  "write:1x",      "fsync::1",
        };
        char *out;

        (void)state;
        zetl_fault_reset();
        out = from_env_capture("write:3,fsync:1,rename:2");
        assert_string_equal(out, "");
        free(out);
        errno = 0;
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_FSYNC), -1);
        assert_int_equal(errno, EIO); /* the default */
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_RENAME), 0);
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_RENAME), -1);
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_WRITE), 0);
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_WRITE), 0);
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_WRITE), -1);
        assert_nothing_armed();

        out = from_env_capture("fsync:2:ENOSPC,write:1:EIO");
        assert_string_equal(out, "");
        free(out);
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_WRITE), -1);
        assert_int_equal(errno, EIO);
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_FSYNC), 0);
        errno = 0;
        assert_int_equal(zetl_fault_hit(ZETL_FAULT_FSYNC), -1);
        assert_int_equal(errno, ENOSPC);
        assert_nothing_armed();

        /* Unset or empty: nothing armed, nothing said. */
        out = from_env_capture(NULL);
        assert_string_equal(out, "");
        free(out);
        out = from_env_capture("");
        assert_string_equal(out, "");
        free(out);
        assert_nothing_armed();

        /* Bad syntax: one line on stderr, and none of the items applied. */
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                out = from_env_capture(bad[i]);
                assert_non_null(strstr(out, "ZETL_FAULT"));
                assert_non_null(strchr(out, '\n'));
                assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
                free(out);
                assert_nothing_armed();
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_write_round_trip, teardown_faults),
                cmocka_unit_test_teardown(test_fault_walk_keeps_old, teardown_faults),
                cmocka_unit_test_teardown(test_fault_walk_new_file, teardown_faults),
                cmocka_unit_test_teardown(test_enospc_in_message, teardown_faults),
                cmocka_unit_test_teardown(test_short_write, teardown_faults),
                cmocka_unit_test_teardown(test_fault_countdown, teardown_faults),
                cmocka_unit_test_teardown(test_file_read, teardown_faults),
                cmocka_unit_test_teardown(test_mkdir_p, teardown_faults),
                cmocka_unit_test_teardown(test_remove_tree, teardown_faults),
                cmocka_unit_test_teardown(test_fault_env, teardown_faults),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
