/*
 * Errors: every fallible function returns an int (0 ok, a negative zetl_errcode
 * otherwise) and fills a caller's struct zetl_err once, at the leaf that failed.
 * The class tells the supervisor what to do: retry with backoff (transient),
 * stop (fatal), or tell the user to fix their input (config, exit code 2).
 */
#ifndef ZETL_ERR_H
#define ZETL_ERR_H

#include <stdarg.h>

enum zetl_errcode {
        ZETL_OK = 0,
        ZETL_EINVAL = -1,       /* bad argument or input */
        ZETL_ENOMEM = -2,       /* allocation failed */
        ZETL_EIO = -3,          /* read, write, fsync or rename failed */
        ZETL_ELIMIT = -4,       /* a ceiling was reached (batch, value, queue) */
        ZETL_ECONN = -5,        /* connection lost or refused */
        ZETL_EPROTO = -6,       /* the peer sent something we cannot decode */
        ZETL_EUNSUPPORTED = -7, /* a type, DDL or feature we do not handle */
        ZETL_ENOTFOUND = -8,    /* no such integration, table, file */
        ZETL_EEXIST = -9,       /* already exists */
        ZETL_ESTATE = -10,      /* wrong state for this operation (e.g. locked) */
        ZETL_ECANCELED = -11,   /* stopped by a signal or a shutdown request */
        ZETL_ETABLE = -12,      /* a failure confined to one table (see sink.h) */
};

enum zetl_err_class {
        ZETL_ERRC_NONE = 0,
        ZETL_ERRC_TRANSIENT, /* retry with backoff: network, server restart */
        ZETL_ERRC_FATAL,     /* cannot go on: data or state problem */
        ZETL_ERRC_CONFIG,    /* the user's input is wrong: exit code 2 */
};

#define ZETL_ERR_MSG_MAX 512

struct zetl_err {
        int code;
        enum zetl_err_class cls;
        char msg[ZETL_ERR_MSG_MAX];
};

/* Fill e (if not NULL) and return code, so leaves can write `return zetl_err_set(...)`. */
int zetl_err_set(struct zetl_err *e, int code, enum zetl_err_class cls, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
int zetl_err_vset(struct zetl_err *e, int code, enum zetl_err_class cls, const char *fmt,
                  va_list ap);
/* Prefix an existing message with context ("table x: " + old message). Returns e->code. */
int zetl_err_prefix(struct zetl_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void zetl_err_clear(struct zetl_err *e);
const char *zetl_err_class_name(enum zetl_err_class cls);
const char *zetl_errcode_name(int code);

#endif
