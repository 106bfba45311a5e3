/* Prerequisite check reports (include/zetl/check.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zetl/check.h"

struct zetl_check_item *zetl_check_add(struct zetl_check_report *r, enum zetl_check_level level,
                                       const char *name, const char *fmt, ...)
{
        struct zetl_check_item *it;
        va_list ap;

        if (r->n == r->cap) {
                int cap = r->cap ? r->cap * 2 : 16;
                struct zetl_check_item *n = realloc(r->items, (size_t)cap * sizeof(*n));
                if (!n)
                        return NULL;
                r->items = n;
                r->cap = cap;
        }
        it = &r->items[r->n++];
        memset(it, 0, sizeof(*it));
        it->level = level;
        snprintf(it->name, sizeof(it->name), "%s", name);
        va_start(ap, fmt);
        vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
        va_end(ap);
        return it;
}

int zetl_check_count(const struct zetl_check_report *r, enum zetl_check_level level)
{
        int n = 0;

        for (int i = 0; i < r->n; i++)
                n += r->items[i].level == level;
        return n;
}

const char *zetl_check_level_name(enum zetl_check_level level)
{
        return level == ZETL_CHECK_OK ? "ok" : level == ZETL_CHECK_WARN ? "warn" : "fail";
}

void zetl_check_report_free(struct zetl_check_report *r)
{
        free(r->items);
        memset(r, 0, sizeof(*r));
}
