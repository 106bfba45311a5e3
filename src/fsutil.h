/*
 * Durable files. zetl_file_write_atomic writes a temporary file in the same
 * directory, fsyncs it, renames it over the target and fsyncs the directory,
 * so after a crash the file holds the old or the new content, never a mix.
 *
 * Fault injection (tests and `ZETL_FAULT`): every write, fsync and rename done
 * here goes through zetl_fault_hit(), which can be told to fail the Nth call
 * of a kind, so tests can walk N through every step of a commit.
 */
#ifndef ZETL_FSUTIL_H
#define ZETL_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "zetl/err.h"

enum zetl_fault_kind {
        ZETL_FAULT_WRITE = 0,
        ZETL_FAULT_FSYNC,
        ZETL_FAULT_RENAME,
        ZETL_FAULT__COUNT
};

/* Fail the nth (1-based) future call of kind (0 disarms), with errno err_no
 * (e.g. EIO, ENOSPC); a short write when kind is WRITE and short is set. */
void zetl_fault_arm(enum zetl_fault_kind kind, long nth, int err_no);
void zetl_fault_reset(void);
/* Read ZETL_FAULT="write:3,fsync:1" from the environment (for process-level tests). */
void zetl_fault_from_env(void);
/* Called before each operation: returns 0, or -1 with errno set when it must fail. */
int zetl_fault_hit(enum zetl_fault_kind kind);

/* Write len bytes of data to dir/name atomically with the given mode
 * (0600 for state files). Returns 0 or ZETL_EIO (transient class; message
 * names the file and the failing step). */
int zetl_file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                           mode_t mode, struct zetl_err *err);
/* Read a whole file (at most max bytes) into a NUL-terminated malloc'd buffer.
 * ZETL_ENOTFOUND when it does not exist, ZETL_ELIMIT when larger than max. */
int zetl_file_read(const char *path, size_t max, char **out, size_t *len, struct zetl_err *err);
/* mkdir -p with mode for the last component; 0 or ZETL_EIO. */
int zetl_mkdir_p(const char *path, mode_t mode, struct zetl_err *err);
/* rm -r. */
int zetl_remove_tree(const char *path, struct zetl_err *err);

#endif
