/*
 * Prerequisite checks for `zetl check --source URI | --target URI [--fix]`:
 * a connector lists what it verified, each item OK, WARN (works, with the
 * consequence the detail states) or FAIL (replication cannot work), with the
 * exact statements or settings that fix it. Fixes that are safe to apply
 * over the connection (REPLICA IDENTITY, a dynamic server variable) carry
 * fix_sql; with --fix the connector runs them and re-checks. Fixes that need
 * a restart or an administrator (wal_level, a role's privileges) are listed
 * only.
 */
#ifndef ZETL_CHECK_H
#define ZETL_CHECK_H

#include <stdbool.h>

enum zetl_check_level {
        ZETL_CHECK_OK,
        ZETL_CHECK_WARN,
        ZETL_CHECK_FAIL,
};

struct zetl_check_item {
        enum zetl_check_level level;
        char name[64];       /* "wal_level", "table shop.public.orders", ... */
        char detail[512];    /* what was found and what it implies */
        char fix[1024];      /* what to do; "" when OK */
        char fix_sql[1024];  /* a statement --fix may run safely; "" when none */
        bool fixed;          /* --fix ran fix_sql and it succeeded */
        char fix_error[256]; /* why fix_sql failed, "" otherwise */
};

struct zetl_check_report {
        int n, cap;
        struct zetl_check_item *items;
};

/* Append an item (detail printf-style); NULL when out of memory. */
struct zetl_check_item *zetl_check_add(struct zetl_check_report *r, enum zetl_check_level level,
                                       const char *name, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Counts by level. */
int zetl_check_count(const struct zetl_check_report *r, enum zetl_check_level level);
const char *zetl_check_level_name(enum zetl_check_level level); /* "ok", "warn", "fail" */
void zetl_check_report_free(struct zetl_check_report *r);

#endif
