/*
 * Durable files and the fault injection that tests them (see fsutil.h).
 *
 * zetl_file_write_atomic is the only way state reaches the disk: temp file,
 * fsync, rename, fsync of the directory. A failed call also leaves the old
 * content visible: the old file is kept under a hard link until the
 * directory fsync has succeeded and is put back if it fails, so a caller that
 * is told "failed" never reads the new version back.
 *
 * Fault injection is a countdown per kind, checked with one relaxed atomic
 * load when disarmed because it sits on every durable write.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

/* ---- fault injection ------------------------------------------------------ */

struct fault {
        long left;   /* calls to go before the failing one; 0 when disarmed */
        int err_no;  /* errno of the failure */
        int shortw;  /* WRITE only: the armed call writes half, the next fails */
        int pending; /* WRITE only: a short write happened, fail the next call */
};

static struct fault faults[ZETL_FAULT__COUNT];

/* err_no < 0 with kind WRITE asks for a short write failing with -err_no
 * (fsutil.h's zetl_fault_arm has no separate flag for it). 0 means EIO. */
void zetl_fault_arm(enum zetl_fault_kind kind, long nth, int err_no)
{
        struct fault *f;
        int shortw = 0;

        if ((int)kind < 0 || kind >= ZETL_FAULT__COUNT)
                return;
        f = &faults[kind];
        if (err_no < 0) {
                shortw = kind == ZETL_FAULT_WRITE;
                err_no = -err_no;
        }
        if (err_no == 0)
                err_no = EIO;
        /* Disarm first so a concurrent hit never pairs the new count with the old errno. */
        __atomic_store_n(&f->left, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&f->pending, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&f->err_no, err_no, __ATOMIC_SEQ_CST);
        __atomic_store_n(&f->shortw, shortw, __ATOMIC_SEQ_CST);
        __atomic_store_n(&f->left, nth > 0 ? nth : 0, __ATOMIC_SEQ_CST);
}

void zetl_fault_reset(void)
{
        for (int k = 0; k < ZETL_FAULT__COUNT; k++) {
                __atomic_store_n(&faults[k].left, 0, __ATOMIC_SEQ_CST);
                __atomic_store_n(&faults[k].pending, 0, __ATOMIC_SEQ_CST);
        }
}

/* Calls of each kind so far, for ZETL_FAULT_COUNT (how far a test walks N). */
static long fault_calls[ZETL_FAULT__COUNT];

static void fault_counts_print(void)
{
        fprintf(stderr, "zetl: fault points: write=%ld fsync=%ld rename=%ld\n",
                __atomic_load_n(&fault_calls[ZETL_FAULT_WRITE], __ATOMIC_RELAXED),
                __atomic_load_n(&fault_calls[ZETL_FAULT_FSYNC], __ATOMIC_RELAXED),
                __atomic_load_n(&fault_calls[ZETL_FAULT_RENAME], __ATOMIC_RELAXED));
}

/* Returns 0 (go on), 1 (WRITE: do a short write now) or -1 with errno set. */
static int fault_check(enum zetl_fault_kind kind)
{
        struct fault *f = &faults[kind];
        long left = __atomic_load_n(&f->left, __ATOMIC_RELAXED);

        __atomic_add_fetch(&fault_calls[kind], 1, __ATOMIC_RELAXED);

        if (kind == ZETL_FAULT_WRITE && __atomic_load_n(&f->pending, __ATOMIC_RELAXED) &&
            __atomic_exchange_n(&f->pending, 0, __ATOMIC_ACQ_REL)) {
                errno = __atomic_load_n(&f->err_no, __ATOMIC_ACQUIRE);
                return -1;
        }
        /* The CAS makes exactly one caller take the armed call when threads race. */
        while (left > 0) {
                if (__atomic_compare_exchange_n(&f->left, &left, left - 1, false, __ATOMIC_ACQ_REL,
                                                __ATOMIC_RELAXED)) {
                        if (left != 1)
                                return 0;
                        if (__atomic_load_n(&f->shortw, __ATOMIC_ACQUIRE)) {
                                __atomic_store_n(&f->pending, 1, __ATOMIC_RELEASE);
                                return 1;
                        }
                        errno = __atomic_load_n(&f->err_no, __ATOMIC_ACQUIRE);
                        return -1;
                }
        }
        return 0;
}

int zetl_fault_hit(enum zetl_fault_kind kind)
{
        if ((int)kind < 0 || kind >= ZETL_FAULT__COUNT)
                return 0;
        /* A short write cannot be done on the caller's behalf: the next call fails instead. */
        return fault_check(kind) < 0 ? -1 : 0;
}

static int fault_kind_parse(const char *s, size_t n, enum zetl_fault_kind *out)
{
        static const char *const names[ZETL_FAULT__COUNT] = { "write", "fsync", "rename" };

        for (int k = 0; k < ZETL_FAULT__COUNT; k++) {
                if (strlen(names[k]) == n && memcmp(names[k], s, n) == 0) {
                        *out = (enum zetl_fault_kind)k;
                        return 0;
                }
        }
        return -1;
}

/* One "kind:n[:ERRNO]" item of ZETL_FAULT. */
static int fault_item_parse(const char *item, size_t n, enum zetl_fault_kind *kind, long *nth,
                            int *err_no)
{
        const char *end = item + n;
        const char *colon = memchr(item, ':', n);
        char num[24];
        const char *p;
        char *stop;
        size_t len;

        if (!colon || fault_kind_parse(item, (size_t)(colon - item), kind) < 0)
                return -1;
        p = colon + 1;
        colon = memchr(p, ':', (size_t)(end - p));
        len = (size_t)((colon ? colon : end) - p);
        if (len == 0 || len >= sizeof(num) || p[0] < '0' || p[0] > '9')
                return -1;
        memcpy(num, p, len);
        num[len] = '\0';
        errno = 0;
        *nth = strtol(num, &stop, 10);
        if (errno || *stop != '\0')
                return -1;
        *err_no = EIO;
        if (!colon)
                return 0;
        p = colon + 1;
        len = (size_t)(end - p);
        if (len == 6 && memcmp(p, "ENOSPC", 6) == 0)
                *err_no = ENOSPC;
        else if (len != 3 || memcmp(p, "EIO", 3) != 0)
                return -1;
        return 0;
}

void zetl_fault_from_env(void)
{
        const char *env = getenv("ZETL_FAULT");
        long nth[ZETL_FAULT__COUNT] = { 0 };
        int err_no[ZETL_FAULT__COUNT] = { 0 };
        bool set[ZETL_FAULT__COUNT] = { false };
        const char *p;

        if (getenv("ZETL_FAULT_COUNT"))
                atexit(fault_counts_print);
        if (!env || !*env)
                return;
        /* Parse everything before arming anything: a half-applied setting would
         * make a process-level test fail somewhere other than where it meant to. */
        for (p = env;;) {
                const char *comma = strchr(p, ',');
                size_t n = comma ? (size_t)(comma - p) : strlen(p);
                enum zetl_fault_kind k;
                long v;
                int e;

                if (fault_item_parse(p, n, &k, &v, &e) < 0) {
                        fprintf(stderr,
                                "zetl: ignoring ZETL_FAULT=\"%s\": expected "
                                "kind:n[:ENOSPC|:EIO],... with kind write, fsync or rename\n",
                                env);
                        return;
                }
                nth[k] = v;
                err_no[k] = e;
                set[k] = true;
                if (!comma)
                        break;
                p = comma + 1;
        }
        for (int k = 0; k < ZETL_FAULT__COUNT; k++)
                if (set[k])
                        zetl_fault_arm((enum zetl_fault_kind)k, nth[k], err_no[k]);
}

/* ---- atomic write ---------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t len)
{
        size_t off = 0;

        while (off < len) {
                size_t chunk = len - off;
                ssize_t n;
                int r = fault_check(ZETL_FAULT_WRITE);

                if (r < 0)
                        return -1;
                if (r == 1) {
                        chunk /= 2;
                        if (chunk == 0)
                                continue; /* nothing to write: the next call fails */
                }
                if (chunk > SSIZE_MAX)
                        chunk = SSIZE_MAX;
                n = write(fd, p + off, chunk);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                if (n == 0) {
                        errno = EIO; /* a regular file never takes 0 bytes of a non-empty write */
                        return -1;
                }
                off += (size_t)n;
        }
        return 0;
}

/* O_EXCL on a name that holds our pid, retried once after removing a leftover:
 * after a crash and a restart (pid 1 in every container start) the pid repeats. */
static int create_excl(const char *path, mode_t mode)
{
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);

        if (fd < 0 && errno == EEXIST && unlink(path) == 0)
                fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
        return fd;
}

/* Keep the current file reachable as bak so a failure after the rename can
 * put it back. Returns 1 when a backup exists, 0 when there was no file or
 * the filesystem refuses hard links (then only crash atomicity is kept). */
static int backup_link(const char *path, const char *bak)
{
        if (link(path, bak) == 0)
                return 1;
        if (errno == EEXIST && unlink(bak) == 0 && link(path, bak) == 0)
                return 1;
        return 0;
}

static int fsync_dir(const char *dir, const char **step)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int saved;

        if (fd < 0) {
                *step = "open directory";
                return -1;
        }
        if (zetl_fault_hit(ZETL_FAULT_FSYNC) == 0 && fsync(fd) == 0) {
                close(fd);
                return 0;
        }
        *step = "fsync directory";
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
}

int zetl_file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                           mode_t mode, struct zetl_err *err)
{
        char path[PATH_MAX], tmp[PATH_MAX], bak[PATH_MAX];
        const char *step = "create temporary file";
        int fd = -1, closed, saved, have_bak = 0;
        long pid = (long)getpid();

        if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
            snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%ld", dir, name, pid) >= (int)sizeof(tmp) ||
            snprintf(bak, sizeof(bak), "%s/.%s.old.%ld", dir, name, pid) >= (int)sizeof(bak)) {
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT,
                                    "writing %s/%s: path too long", dir, name);
        }
        fd = create_excl(tmp, mode);
        if (fd < 0)
                goto fail;
        step = "write";
        if (write_all(fd, data, len) < 0)
                goto fail_unlink;
        step = "fsync";
        if (zetl_fault_hit(ZETL_FAULT_FSYNC) < 0 || fsync(fd) < 0)
                goto fail_unlink;
        step = "close";
        closed = close(fd);
        fd = -1;
        if (closed < 0)
                goto fail_unlink;

        have_bak = backup_link(path, bak);
        step = "rename";
        if (zetl_fault_hit(ZETL_FAULT_RENAME) < 0 || rename(tmp, path) < 0)
                goto fail_unbak;
        if (fsync_dir(dir, &step) < 0)
                goto fail_restore;
        if (have_bak)
                unlink(bak);
        return 0;

fail_restore:
        saved = errno;
        /* The new file is visible but not known durable: show the old one again. */
        if (have_bak)
                rename(bak, path);
        else
                unlink(path);
        errno = saved;
        goto fail;
fail_unbak:
        saved = errno;
        if (have_bak)
                unlink(bak);
        errno = saved;
fail_unlink:
        saved = errno;
        if (fd >= 0)
                close(fd);
        unlink(tmp);
        errno = saved;
fail:
        return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "writing %s/%s: %s: %s", dir, name,
                            step, strerror(errno));
}

/* ---- read ------------------------------------------------------------------- */

int zetl_file_read(const char *path, size_t max, char **out, size_t *len, struct zetl_err *err)
{
        struct stat st;
        char *buf = NULL;
        size_t cap, n = 0;
        int fd, rc = 0;

        *out = NULL;
        *len = 0;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return zetl_err_set(err, ZETL_ENOTFOUND, ZETL_ERRC_FATAL,
                                            "reading %s: no such file", path);
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "reading %s: open: %s",
                                    path, strerror(errno));
        }
        if (fstat(fd, &st) < 0) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "reading %s: stat: %s", path,
                                  strerror(errno));
                goto out_close;
        }
        if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max)
                goto too_big;
        /* The size is a hint: the file may change under us, so read to EOF with a ceiling. */
        cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
        if (cap > max + 1)
                cap = max + 1;
        buf = malloc(cap + 1);
        if (!buf) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "reading %s: out of memory",
                                  path);
                goto out_close;
        }
        for (;;) {
                ssize_t r;

                if (n == cap) {
                        size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
                        char *nb;

                        if (ncap == cap)
                                goto too_big;
                        nb = realloc(buf, ncap + 1);
                        if (!nb) {
                                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                                  "reading %s: out of memory", path);
                                goto out_free;
                        }
                        buf = nb;
                        cap = ncap;
                }
                r = read(fd, buf + n, cap - n);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "reading %s: %s",
                                          path, strerror(errno));
                        goto out_free;
                }
                if (r == 0)
                        break;
                n += (size_t)r;
                if (n > max)
                        goto too_big;
        }
        buf[n] = '\0';
        *out = buf;
        *len = n;
        buf = NULL;
        goto out_close;

too_big:
        rc = zetl_err_set(err, ZETL_ELIMIT, ZETL_ERRC_FATAL,
                          "reading %s: larger than the limit of %zu bytes", path, max);
out_free:
        free(buf);
out_close:
        close(fd);
        return rc;
}

/* ---- directories -------------------------------------------------------------- */

static int mkdir_one(const char *path, mode_t mode, struct zetl_err *err)
{
        struct stat st;

        if (mkdir(path, mode) == 0)
                return 0;
        if (errno == EEXIST) {
                if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                        return 0;
                errno = ENOTDIR;
        }
        return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "creating directory %s: %s", path,
                            strerror(errno));
}

int zetl_mkdir_p(const char *path, mode_t mode, struct zetl_err *err)
{
        char buf[PATH_MAX];
        size_t n = strlen(path);
        int rc;

        if (n == 0 || n >= sizeof(buf))
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL,
                                    "creating directory \"%s\": bad path length", path);
        memcpy(buf, path, n + 1);
        while (n > 1 && buf[n - 1] == '/')
                buf[--n] = '\0';
        /* Parents get the same mode (plus u+wx to go on): a private leaf under
         * world-readable parents we created ourselves would leak its name. */
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/' || p[-1] == '/')
                        continue;
                *p = '\0';
                rc = mkdir_one(buf, mode | S_IWUSR | S_IXUSR, err);
                *p = '/';
                if (rc < 0)
                        return rc;
        }
        return mkdir_one(buf, mode, err);
}

#define REMOVE_DEPTH_MAX 128

static int remove_at(int dirfd, const char *name, const char *top, int depth, struct zetl_err *err)
{
        struct stat st;
        struct dirent *de;
        DIR *d;
        int fd, rc = 0;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0; /* removed under us: the goal is reached */
                goto fail;
        }
        if (!S_ISDIR(st.st_mode)) {
                if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                        goto fail;
                return 0;
        }
        if (depth >= REMOVE_DEPTH_MAX) {
                errno = ELOOP;
                goto fail;
        }
        /* O_NOFOLLOW: a directory swapped for a symlink must not lead us elsewhere. */
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                goto fail;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                goto fail;
        }
        while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                rc = remove_at(fd, de->d_name, top, depth + 1, err);
        }
        if (rc == 0 && errno != 0) {
                int saved = errno;

                closedir(d);
                errno = saved;
                goto fail;
        }
        closedir(d);
        if (rc < 0)
                return rc;
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                goto fail;
        return 0;
fail:
        if (depth == 0)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "removing %s: %s", top,
                                    strerror(errno));
        return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "removing %s: %s: %s", top, name,
                            strerror(errno));
}

int zetl_remove_tree(const char *path, struct zetl_err *err)
{
        struct stat st;

        if (lstat(path, &st) < 0) {
                if (errno == ENOENT)
                        return zetl_err_set(err, ZETL_ENOTFOUND, ZETL_ERRC_FATAL,
                                            "removing %s: no such file or directory", path);
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "removing %s: %s", path,
                                    strerror(errno));
        }
        return remove_at(AT_FDCWD, path, path, 0, err);
}
