/*
 * An LD_PRELOAD shim for tests/integration/test_faults.sh: with
 * ZETL_FAILMALLOC=N the Nth call (1-based, counted over malloc, calloc and
 * realloc from the moment zetl's main() calls zetl_failmalloc_start(), so
 * that the libraries' own constructors are left alone) fails once with
 * ENOMEM; with
 * ZETL_FAILMALLOC_COUNT set, the number of calls is printed to stderr at exit
 * (so the test knows how far to walk N). It calls glibc's own __libc_*
 * functions, so it needs no dlsym (which allocates). Not for production.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

static atomic_long calls;
static atomic_bool started;
static long target = -2; /* -2: not read yet, -1: never fail */

void zetl_failmalloc_start(void);

void zetl_failmalloc_start(void)
{
        atomic_store(&started, true);
}

static int fail_now(void)
{
        if (!atomic_load(&started))
                return 0;
        long n = atomic_fetch_add(&calls, 1) + 1;

        if (target == -2) {
                const char *v = getenv("ZETL_FAILMALLOC");
                target = v ? atol(v) : -1;
        }
        if (n != target)
                return 0;
        errno = ENOMEM;
        return 1;
}

void *malloc(size_t n)
{
        return fail_now() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
        return fail_now() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
        return fail_now() ? NULL : __libc_realloc(p, n);
}

__attribute__((destructor)) static void report(void)
{
        char buf[64];
        int len;

        if (!getenv("ZETL_FAILMALLOC_COUNT"))
                return;
        len = snprintf(buf, sizeof(buf), "failmalloc: %ld calls\n", atomic_load(&calls));
        if (write(STDERR_FILENO, buf, (size_t)len) < 0)
                return;
}
