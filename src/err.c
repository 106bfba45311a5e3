/* Error values: filled once by the leaf that failed (see zetl/err.h). */
#include <stdio.h>
#include <string.h>

#include "zetl/err.h"

int zetl_err_vset(struct zetl_err *e, int code, enum zetl_err_class cls, const char *fmt,
                  va_list ap)
{
        if (!e)
                return code;
        e->code = code;
        e->cls = cls;
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        return code;
}

int zetl_err_set(struct zetl_err *e, int code, enum zetl_err_class cls, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        zetl_err_vset(e, code, cls, fmt, ap);
        va_end(ap);
        return code;
}

int zetl_err_prefix(struct zetl_err *e, const char *fmt, ...)
{
        char prefix[ZETL_ERR_MSG_MAX];
        char old[ZETL_ERR_MSG_MAX];
        va_list ap;

        if (!e)
                return ZETL_EINVAL;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        memcpy(old, e->msg, sizeof(old));
        size_t n = strlen(prefix);
        memcpy(e->msg, prefix, n + 1);
        if (n < sizeof(e->msg) - 1) {
                size_t room = sizeof(e->msg) - 1 - n;
                size_t m = strnlen(old, room);
                memcpy(e->msg + n, old, m);
                e->msg[n + m] = '\0';
        }
        return e->code;
}

void zetl_err_clear(struct zetl_err *e)
{
        if (!e)
                return;
        e->code = 0;
        e->cls = ZETL_ERRC_NONE;
        e->msg[0] = '\0';
}

const char *zetl_err_class_name(enum zetl_err_class cls)
{
        switch (cls) {
        case ZETL_ERRC_NONE:
                return "none";
        case ZETL_ERRC_TRANSIENT:
                return "transient";
        case ZETL_ERRC_FATAL:
                return "fatal";
        case ZETL_ERRC_CONFIG:
                return "config";
        }
        return "unknown";
}

const char *zetl_errcode_name(int code)
{
        static const char *const names[] = {
                "ok",          "invalid",  "out of memory", "i/o error", "limit reached",
                "connection",  "protocol", "unsupported",   "not found", "exists",
                "wrong state", "canceled", "table error",
        };

        if (code > 0 || -code >= (int)(sizeof(names) / sizeof(names[0])))
                return "unknown";
        return names[-code];
}
