/*
 * Data filters, table part: AWS Zero-ETL's "include: PATTERN, exclude: PATTERN"
 * lists, from --data-filter and from a filter file, and the decision whether a
 * table is replicated.
 *
 * Semantics follow AWS exactly: patterns are evaluated in order and the last
 * one that matches decides; without patterns everything is included; with any
 * pattern the starting point is "excluded". A pattern is database.table
 * (MySQL) or database.schema.table (PostgreSQL); each part is a literal name,
 * '*' (anything) or /regex/ (POSIX extended, anchored to the whole name).
 * PostgreSQL patterns take no regex in the database part, since a PostgreSQL
 * connection serves one database and AWS refuses it there too.
 *
 * Names are compared case-sensitively as written. AWS calls PostgreSQL
 * identifiers case sensitive and leaves MySQL to the server's
 * lower_case_table_names; the source reports names as the server stores them,
 * so an exact comparison is the one that never guesses. Quote a name (`x`,
 * 'x' or "x", a doubled quote escapes itself) for dots, commas, spaces or a
 * literal '*'.
 *
 * The filter file also holds row and column rules ("rows: PATTERN: condition",
 * "columns: PATTERN: include|exclude a, b"), kept with their text so that a
 * check against a schema long after parsing (zetl run) still reports
 * FILE:LINE:COL. Applying them to batches is in the second half of this file:
 * per schema version (the source's pointer, referenced) the row conditions
 * are compiled (filter_expr.c) and the shape sinks see is built once, in a
 * small cache that any thread may consult under a mutex.
 */
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter_expr.h"
#include "zetl/filter.h"
#include "zetl/log.h"

#define MAX_PARTS     3
#define MAX_RULES     1000
#define CACHE_BUCKETS 256

enum part_kind {
        PART_ANY,
        PART_LIT,
        PART_RE,
};

struct filt_part {
        enum part_kind kind;
        char *lit;    /* PART_LIT */
        regex_t re;   /* PART_RE: "^(" regex ")$" */
        bool re_live; /* re needs regfree */
};

struct filt_pattern {
        bool include;
        int nparts; /* 2: database.table, 3: database.schema.table */
        struct filt_part parts[MAX_PARTS];
        char *text; /* as written, for comparing two filters */
};

/* A rows: or columns: line of the filter file. */
struct filt_rule {
        bool columns;
        struct filt_pattern pat;
        struct fx_node *expr; /* rows: */
        bool include;         /* columns: an include list (else exclude) */
        int ncols;
        char **cols;
        size_t *col_at; /* offsets in the file, for messages */
        bool *col_quoted;
        size_t list_at;
};

/* What a schema version needs, built once (see zetl_filter_prepare). */
struct fentry {
        const struct zetl_schema *s; /* reference; the key */
        struct zetl_schema *sink;    /* s without left-out columns; NULL: s itself */
        int *proj;                   /* sink column j is column proj[j] of s */
        struct fx_prog **progs;      /* row conditions, all must hold */
        int nprogs;
        char *error; /* the filters do not fit s */
        struct fentry *next;
};

struct zetl_filter {
        enum zetl_filter_dialect dialect;
        int n;
        struct filt_pattern pats[ZETL_FILTER_MAX_PATTERNS];
        struct filt_rule *rules;
        int nrules;
        char *file_name; /* copies, for messages at check time */
        char *file_text;
        /* The cache is mutable behind the const pointers the core holds. */
        pthread_mutex_t mu;
        struct fentry *cache[CACHE_BUCKETS];
};

struct fparser {
        const char *name; /* "--data-filter" or the file's name, for messages */
        const char *text;
        size_t pos;
        bool file; /* a newline ends a pattern */
        struct zetl_filter *f;
        struct zetl_err *err;
};

/* ---- errors -------------------------------------------------------------- */

/* "NAME:LINE:COL: reason", with COL the 1-based byte offset in its line. */
__attribute__((format(printf, 3, 4))) static int perr(struct fparser *p, size_t at, const char *fmt,
                                                      ...)
{
        char reason[ZETL_ERR_MSG_MAX];
        size_t line_start = 0;
        int line = 1;
        va_list ap;

        for (size_t i = 0; i < at && p->text[i]; i++) {
                if (p->text[i] == '\n') {
                        line++;
                        line_start = i + 1;
                }
        }
        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        return zetl_err_set(p->err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "%s:%d:%zu: %s", p->name, line,
                            at - line_start + 1, reason);
}

static int nomem(struct fparser *p)
{
        return zetl_err_set(p->err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                            "out of memory parsing the data filter");
}

/* The character at pos, readable in a message. */
static const char *show_char(char c, char *buf, size_t len)
{
        unsigned char u = (unsigned char)c;

        if (u > 0x20 && u < 0x7f)
                snprintf(buf, len, "'%c'", c);
        else if (u == 0)
                snprintf(buf, len, "end of text");
        else
                snprintf(buf, len, "byte 0x%02x", u);
        return buf;
}

/* ---- lexing -------------------------------------------------------------- */

static bool is_hspace(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void skip_ws(struct fparser *p)
{
        while (is_hspace(p->text[p->pos]) || (!p->file && p->text[p->pos] == '\n'))
                p->pos++;
}

/* Characters of an unquoted name: what MySQL and PostgreSQL accept unquoted,
 * plus every non-ASCII byte (UTF-8 names). */
static bool is_name_char(char c)
{
        unsigned char u = (unsigned char)c;

        return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
               u == '_' || u == '$' || u >= 0x80;
}

/* Does the scan stop here: end of text, or end of line in a file? */
static bool at_end(const struct fparser *p, size_t i)
{
        return p->text[i] == '\0' || (p->file && p->text[i] == '\n');
}

/* ---- parts ----------------------------------------------------------------- */

static void part_free(struct filt_part *pt)
{
        free(pt->lit);
        if (pt->re_live)
                regfree(&pt->re);
        memset(pt, 0, sizeof(*pt));
}

/* 'x', "x" or `x`; a doubled quote stands for itself. */
static int parse_quoted(struct fparser *p, struct filt_part *pt)
{
        size_t start = p->pos;
        char q = p->text[start];
        size_t i = start + 1;
        size_t n = 0;
        char *s;

        for (;;) {
                if (at_end(p, i))
                        return perr(p, start, "unterminated quote");
                if (p->text[i] == q) {
                        if (p->text[i + 1] != q)
                                break;
                        i++;
                }
                i++;
                n++;
        }
        if (n == 0)
                return perr(p, start, "empty name");
        s = malloc(n + 1);
        if (!s)
                return nomem(p);
        n = 0;
        for (size_t j = start + 1; j < i; j++) {
                s[n++] = p->text[j];
                if (p->text[j] == q)
                        j++;
        }
        s[n] = '\0';
        pt->kind = PART_LIT;
        pt->lit = s;
        p->pos = i + 1;
        return 0;
}

#define MAX_REPEATS 16

/* glibc's regcomp grows exponentially with stacked repetition operators
 * ("a++++": 20 of them take 0.8 GB): refuse them, and more than MAX_REPEATS
 * repetitions in one regex, before compiling. Returns the reason or NULL. */
static const char *regex_too_costly(const char *r, size_t len)
{
        bool prev_rep = false;
        int nrep = 0;

        for (size_t i = 0; i < len; i++) {
                char c = r[i];
                bool rep = false;

                if (c == '\\') {
                        i++;
                } else if (c == '[') {
                        size_t j = i + 1;
                        if (j < len && r[j] == '^')
                                j++;
                        if (j < len && r[j] == ']')
                                j++;
                        while (j < len && r[j] != ']')
                                j++;
                        i = j;
                } else if (c == '*' || c == '+' || c == '?') {
                        rep = true;
                } else if (c == '{') {
                        while (i < len && r[i] != '}')
                                i++;
                        rep = true;
                }
                if (rep && prev_rep)
                        return "stacked repetition operators (like a++ or a*{2}) are not supported";
                if (rep && ++nrep > MAX_REPEATS)
                        return "more than 16 repetition operators";
                prev_rep = rep;
        }
        return NULL;
}

/* /regex/: "\/" stands for '/'. The regex is compiled on its own first, so
 * that its errors are the user's and it cannot escape the anchors (/a)|(b/
 * would otherwise become the valid, unanchored "^(a)|(b)$"). */
static int parse_regex(struct fparser *p, struct filt_part *pt)
{
        size_t start = p->pos;
        size_t i = start + 1;
        size_t n = 0;
        bool backref = false;
        char *s = NULL;
        regex_t raw;
        int rc;

        for (;;) {
                if (at_end(p, i))
                        return perr(p, start, "unterminated regex");
                if (p->text[i] == '/')
                        break;
                if (p->text[i] == '\\' && !at_end(p, i + 1)) {
                        if (p->text[i + 1] >= '1' && p->text[i + 1] <= '9')
                                backref = true;
                        i++;
                        n++;
                }
                i++;
                n++;
        }
        if (n == 0)
                return perr(p, start, "empty regex");
        /* The anchoring group shifts group numbers: \1 would silently mean
         * something else. */
        if (backref)
                return perr(p, start, "bad regex /%.*s/: backreferences are not supported",
                            (int)(i - start - 1), p->text + start + 1);
        const char *costly = regex_too_costly(p->text + start + 1, i - start - 1);
        if (costly)
                return perr(p, start, "bad regex /%.*s/: %s", (int)(i - start - 1),
                            p->text + start + 1, costly);
        s = malloc(n + 5);
        if (!s)
                return nomem(p);
        memcpy(s, "^(", 2);
        n = 2;
        for (size_t j = start + 1; j < i; j++) {
                if (p->text[j] == '\\') {
                        /* Keep escapes for regcomp, except the one for '/'. */
                        if (p->text[j + 1] != '/')
                                s[n++] = '\\';
                        j++;
                }
                s[n++] = p->text[j];
        }
        s[n] = '\0';
        rc = regcomp(&raw, s + 2, REG_EXTENDED | REG_NOSUB);
        if (rc != 0)
                goto bad_regex;
        regfree(&raw);
        memcpy(s + n, ")$", 3);
        rc = regcomp(&pt->re, s, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
                raw = pt->re; /* what regerror describes */
                goto bad_regex;
        }
        pt->re_live = true;
        free(s);
        pt->kind = PART_RE;
        p->pos = i + 1;
        return 0;
bad_regex:
        free(s);
        if (rc == REG_ESPACE)
                return nomem(p);
        char msg[128];

        regerror(rc, &raw, msg, sizeof(msg));
        return perr(p, start, "bad regex /%.*s/: %s", (int)(i - start - 1), p->text + start + 1,
                    msg);
}

static int parse_part(struct fparser *p, struct filt_part *pt)
{
        char c = p->text[p->pos];
        char shown[32];

        memset(pt, 0, sizeof(*pt));
        if (c == '*') {
                pt->kind = PART_ANY;
                p->pos++;
                return 0;
        }
        if (c == '/')
                return parse_regex(p, pt);
        if (c == '\'' || c == '"' || c == '`')
                return parse_quoted(p, pt);
        if (is_name_char(c)) {
                size_t start = p->pos;

                while (is_name_char(p->text[p->pos]))
                        p->pos++;
                pt->kind = PART_LIT;
                pt->lit = strndup(p->text + start, p->pos - start);
                return pt->lit ? 0 : nomem(p);
        }
        if (c == '\0' || c == '.' || c == ',' || c == '#' || c == '\n' || is_hspace(c))
                return perr(p, p->pos, "empty name");
        return perr(p, p->pos, "unexpected character %s", show_char(c, shown, sizeof(shown)));
}

/* ---- patterns -------------------------------------------------------------- */

static void pattern_free(struct filt_pattern *pat)
{
        for (int i = 0; i < pat->nparts; i++)
                part_free(&pat->parts[i]);
        pat->nparts = 0;
        free(pat->text);
        pat->text = NULL;
}

/* UTF-8 characters in text[a..b): AWS's limit counts characters, not bytes. */
static size_t nchars(const char *text, size_t a, size_t b)
{
        size_t n = 0;

        for (size_t i = a; i < b; i++)
                if (((unsigned char)text[i] & 0xc0) != 0x80)
                        n++;
        return n;
}

static int parse_pattern(struct fparser *p, struct filt_pattern *pat, int num)
{
        enum zetl_filter_dialect d = p->f->dialect;
        size_t start = p->pos;
        size_t part_at[MAX_PARTS] = { 0 };
        int n = 0;
        int rc;

        for (;;) {
                struct filt_part extra;
                size_t at = p->pos;

                /* Parts past the third are parsed only to be counted. */
                rc = parse_part(p, n < MAX_PARTS ? &pat->parts[n] : &extra);
                if (rc)
                        return rc;
                if (n < MAX_PARTS) {
                        part_at[n] = at;
                        pat->nparts = n + 1;
                } else {
                        part_free(&extra);
                }
                n++;
                if (p->text[p->pos] != '.')
                        break;
                p->pos++;
        }
        if (d == ZETL_FILTER_PG && n != 3)
                return perr(p, start, "pattern needs 3 parts (database.schema.table), got %d", n);
        if (d == ZETL_FILTER_MYSQL && n != 2)
                return perr(p, start, "pattern needs 2 parts (database.table), got %d", n);
        if (d == ZETL_FILTER_ANY && n != 2 && n != 3)
                return perr(p, start,
                            "pattern needs 2 or 3 parts (database.table or "
                            "database.schema.table), got %d",
                            n);
        if (d == ZETL_FILTER_PG && pat->parts[0].kind == PART_RE)
                return perr(p, part_at[0], "regex not allowed in the database part");
        if (nchars(p->text, start, p->pos) > ZETL_FILTER_MAX_PATTERN_LEN) {
                if (num == 0)
                        return perr(p, start, "pattern longer than %d characters",
                                    ZETL_FILTER_MAX_PATTERN_LEN);
                return perr(p, start, "pattern %d: pattern longer than %d characters", num,
                            ZETL_FILTER_MAX_PATTERN_LEN);
        }
        if (!(pat->text = strndup(p->text + start, p->pos - start)))
                return nomem(p);
        return 0;
}

static int parse_rule(struct fparser *p, size_t at, bool columns);

/* "include: PATTERN" or "exclude: PATTERN", the keyword in any case; in a
 * file also "rows: PATTERN: condition" and "columns: PATTERN: list". */
static int parse_item(struct fparser *p)
{
        struct zetl_filter *f = p->f;
        size_t at = p->pos;
        size_t i = at;
        bool include;
        int rc;

        while ((p->text[i] >= 'a' && p->text[i] <= 'z') || (p->text[i] >= 'A' && p->text[i] <= 'Z'))
                i++;
        if (i - at == 7 && strncasecmp(p->text + at, "include", 7) == 0)
                include = true;
        else if (i - at == 7 && strncasecmp(p->text + at, "exclude", 7) == 0)
                include = false;
        else if (p->file && i - at == 4 && strncasecmp(p->text + at, "rows", 4) == 0)
                return parse_rule(p, i, false);
        else if (p->file && i - at == 7 && strncasecmp(p->text + at, "columns", 7) == 0)
                return parse_rule(p, i, true);
        else if (!p->file && ((i - at == 4 && strncasecmp(p->text + at, "rows", 4) == 0) ||
                              (i - at == 7 && strncasecmp(p->text + at, "columns", 7) == 0)))
                return perr(p, at,
                            "row and column filters belong in a filter file "
                            "(--filter-file)");
        else if (p->file)
                return perr(p, at, "expected 'include:', 'exclude:', 'rows:' or 'columns:'");
        else
                return perr(p, at, "expected 'include:' or 'exclude:'");
        p->pos = i;
        skip_ws(p);
        if (p->text[p->pos] != ':')
                return perr(p, at, "expected 'include:' or 'exclude:'");
        p->pos++;
        skip_ws(p);
        if (f->n == ZETL_FILTER_MAX_PATTERNS)
                return perr(p, at, "pattern %d: too many patterns (max %d)", f->n + 1,
                            ZETL_FILTER_MAX_PATTERNS);
        struct filt_pattern *pat = &f->pats[f->n];

        memset(pat, 0, sizeof(*pat));
        pat->include = include;
        rc = parse_pattern(p, pat, f->n + 1);
        if (rc) {
                pattern_free(pat);
                return rc;
        }
        f->n++;
        return 0;
}

/* ---- rows: and columns: ------------------------------------------------------ */

static void rule_free(struct filt_rule *r)
{
        pattern_free(&r->pat);
        fx_free(r->expr);
        for (int i = 0; i < r->ncols; i++)
                free(r->cols[i]);
        free(r->cols);
        free(r->col_at);
        free(r->col_quoted);
        memset(r, 0, sizeof(*r));
}

/* One column name of a list: unquoted, or quoted as in patterns. */
static int parse_col_name(struct fparser *p, struct filt_rule *r)
{
        struct filt_part pt;
        size_t at = p->pos;
        char c = p->text[at];
        char shown[32];
        int n = r->ncols, rc;

        if (c == '\'' || c == '"' || c == '`') {
                if ((rc = parse_quoted(p, &pt)))
                        return rc;
        } else if (is_name_char(c)) {
                while (is_name_char(p->text[p->pos]))
                        p->pos++;
                pt.lit = strndup(p->text + at, p->pos - at);
                if (!pt.lit)
                        return nomem(p);
        } else if (at_end(p, at) || c == '#' || c == ',') {
                return perr(p, at, "expected a column name");
        } else {
                return perr(p, at, "unexpected character %s in the column list",
                            show_char(c, shown, sizeof(shown)));
        }
        char **cols = realloc(r->cols, (size_t)(n + 1) * sizeof(*cols));
        size_t *ats = cols ? realloc(r->col_at, (size_t)(n + 1) * sizeof(*ats)) : NULL;
        if (cols)
                r->cols = cols;
        if (ats)
                r->col_at = ats;
        bool *q = ats ? realloc(r->col_quoted, (size_t)(n + 1) * sizeof(*q)) : NULL;
        if (!q) {
                free(pt.lit);
                return nomem(p);
        }
        r->col_quoted = q;
        r->cols[n] = pt.lit;
        r->col_at[n] = at;
        r->col_quoted[n] = c == '\'' || c == '"' || c == '`';
        r->ncols++;
        return 0;
}

/* "include a, b" or "exclude a, b" up to the end of the line. */
static int parse_col_list(struct fparser *p, struct filt_rule *r)
{
        size_t at = p->pos, i = at;
        int rc;

        while ((p->text[i] >= 'a' && p->text[i] <= 'z') || (p->text[i] >= 'A' && p->text[i] <= 'Z'))
                i++;
        if (i - at == 7 && strncasecmp(p->text + at, "include", 7) == 0)
                r->include = true;
        else if (i - at == 7 && strncasecmp(p->text + at, "exclude", 7) == 0)
                r->include = false;
        else
                return perr(p, at, "expected 'include' or 'exclude' and a list of columns");
        p->pos = i;
        if (!is_hspace(p->text[p->pos]))
                return perr(p, p->pos, "expected a space and a list of columns after '%s'",
                            r->include ? "include" : "exclude");
        skip_ws(p);
        r->list_at = p->pos;
        for (;;) {
                if ((rc = parse_col_name(p, r)))
                        return rc;
                skip_ws(p);
                if (at_end(p, p->pos) || p->text[p->pos] == '#')
                        return 0;
                if (p->text[p->pos] != ',')
                        return perr(p, p->pos,
                                    "expected ',' or the end of the line in the "
                                    "column list");
                p->pos++;
                skip_ws(p);
        }
}

/* "rows: PATTERN: condition" or "columns: PATTERN: list"; the keyword ends at key_end. */
static int parse_rule(struct fparser *p, size_t key_end, bool columns)
{
        struct zetl_filter *f = p->f;
        size_t at = p->pos;
        struct filt_rule *r, *n;
        int rc;

        p->pos = key_end;
        skip_ws(p);
        if (p->text[p->pos] != ':')
                return perr(p, at, "expected '%s:'", columns ? "columns" : "rows");
        p->pos++;
        skip_ws(p);
        if (f->nrules == MAX_RULES)
                return perr(p, at, "too many rows: and columns: rules (max %d)", MAX_RULES);
        if (!(n = realloc(f->rules, (size_t)(f->nrules + 1) * sizeof(*n))))
                return nomem(p);
        f->rules = n;
        r = &f->rules[f->nrules];
        memset(r, 0, sizeof(*r));
        r->columns = columns;
        if ((rc = parse_pattern(p, &r->pat, 0)))
                goto fail;
        skip_ws(p);
        if (p->text[p->pos] != ':') {
                rc = perr(p, p->pos, "expected ':' after the table pattern");
                goto fail;
        }
        p->pos++;
        skip_ws(p);
        if (columns) {
                rc = parse_col_list(p, r);
        } else {
                struct fx_error fe;
                size_t end;
                rc = fx_parse(p->text, p->pos, &end, &r->expr, &fe);
                if (rc == ZETL_ENOMEM)
                        rc = nomem(p);
                else if (rc)
                        rc = perr(p, fe.at, "%s", fe.msg);
                else
                        p->pos = end;
        }
        if (rc)
                goto fail;
        f->nrules++;
        return 0;
fail:
        rule_free(r);
        return rc;
}

/* After a pattern: say what is wrong with the text that follows it. */
static int trailing_error(struct fparser *p, size_t pattern_end)
{
        char c = p->text[p->pos];
        char shown[32];

        if (p->file && c == ',')
                return perr(p, p->pos, "one pattern per line");
        if (p->pos == pattern_end)
                return perr(p, p->pos, "unexpected character %s",
                            show_char(c, shown, sizeof(shown)));
        if (p->file)
                return perr(p, p->pos, "expected end of line after the pattern");
        return perr(p, p->pos, "expected ',' after the pattern");
}

/* --data-filter: a comma-separated list. */
static int parse_text(struct fparser *p)
{
        int rc;

        skip_ws(p);
        if (!p->text[p->pos])
                return 0;
        for (;;) {
                rc = parse_item(p);
                if (rc)
                        return rc;
                size_t end = p->pos;

                skip_ws(p);
                if (!p->text[p->pos])
                        return 0;
                if (p->text[p->pos] != ',')
                        return trailing_error(p, end);
                p->pos++;
                skip_ws(p);
        }
}

/* A filter file: one pattern per line, '#' comments, blank lines. */
static int parse_file(struct fparser *p)
{
        int rc;

        for (;;) {
                skip_ws(p);
                char c = p->text[p->pos];

                if (c == '\0')
                        return 0;
                if (c == '\n') {
                        p->pos++;
                        continue;
                }
                if (c == '#') {
                        while (p->text[p->pos] && p->text[p->pos] != '\n')
                                p->pos++;
                        continue;
                }
                rc = parse_item(p);
                if (rc)
                        return rc;
                size_t end = p->pos;

                skip_ws(p);
                c = p->text[p->pos];
                if (c != '\0' && c != '\n' && c != '#')
                        return trailing_error(p, end);
        }
}

int zetl_filter_parse(const char *data_filter, const char *file_name, const char *file_text,
                      enum zetl_filter_dialect d, struct zetl_filter **out, struct zetl_err *err)
{
        struct zetl_filter *f;
        struct fparser p = { .err = err };
        int rc = 0;

        *out = NULL;
        f = calloc(1, sizeof(*f));
        if (!f)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                    "out of memory parsing the data filter");
        f->dialect = d;
        pthread_mutex_init(&f->mu, NULL);
        p.f = f;
        if (data_filter) {
                p.name = "--data-filter";
                p.text = data_filter;
                rc = parse_text(&p);
                if (rc)
                        goto free_filter;
        }
        if (file_text) {
                p.name = file_name ? file_name : "filter file";
                p.text = file_text;
                p.pos = 0;
                p.file = true;
                rc = parse_file(&p);
                if (rc)
                        goto free_filter;
                f->file_name = strdup(p.name);
                f->file_text = strdup(file_text);
                if (!f->file_name || !f->file_text) {
                        rc = nomem(&p);
                        goto free_filter;
                }
        }
        *out = f;
        return 0;
free_filter:
        zetl_filter_free(f);
        return rc;
}

/* What an entry owns, except its schema. */
static void entry_clear(struct fentry *e)
{
        if (e->sink)
                zetl_schema_unref(e->sink);
        free(e->proj);
        for (int i = 0; i < e->nprogs; i++)
                fx_prog_free(e->progs[i]);
        free(e->progs);
        free(e->error);
}

static void entry_free(struct fentry *e)
{
        entry_clear(e);
        zetl_schema_unref(e->s);
        free(e);
}

void zetl_filter_free(struct zetl_filter *f)
{
        if (!f)
                return;
        for (int i = 0; i < f->n; i++)
                pattern_free(&f->pats[i]);
        for (int i = 0; i < f->nrules; i++)
                rule_free(&f->rules[i]);
        free(f->rules);
        for (int b = 0; b < CACHE_BUCKETS; b++) {
                while (f->cache[b]) {
                        struct fentry *e = f->cache[b];
                        f->cache[b] = e->next;
                        entry_free(e);
                }
        }
        pthread_mutex_destroy(&f->mu);
        free(f->file_name);
        free(f->file_text);
        free(f);
}

/* ---- evaluation ------------------------------------------------------------ */

static bool part_match(const struct filt_part *pt, const char *name)
{
        switch (pt->kind) {
        case PART_ANY:
                return true;
        case PART_LIT:
                return strcmp(pt->lit, name) == 0;
        case PART_RE:
                return regexec(&pt->re, name, 0, NULL, 0) == 0;
        }
        return false;
}

static bool pattern_match(const struct filt_pattern *pat, enum zetl_filter_dialect d,
                          const struct zetl_table_id *id)
{
        if (pat->nparts == 3)
                return part_match(&pat->parts[0], id->db) &&
                       part_match(&pat->parts[1], id->schema) &&
                       part_match(&pat->parts[2], id->table);
        /* A two-part pattern names a table without a schema. MySQL tables
         * never have one; in the mixed dialect it must not match a
         * schema-qualified table by ignoring the schema. */
        if (d == ZETL_FILTER_ANY && id->schema[0] != '\0')
                return false;
        return part_match(&pat->parts[0], id->db) && part_match(&pat->parts[1], id->table);
}

bool zetl_filter_table(const struct zetl_filter *f, const struct zetl_table_id *id)
{
        if (!f || f->n == 0)
                return true;
        /* The last match wins, so the first match from the end decides. */
        for (int i = f->n - 1; i >= 0; i--)
                if (pattern_match(&f->pats[i], f->dialect, id))
                        return f->pats[i].include;
        return false;
}

int zetl_filter_npatterns(const struct zetl_filter *f)
{
        return f ? f->n : 0;
}

/* ---- row and column rules against a schema ---------------------------------------- */

static bool rule_matches(const struct zetl_filter *f, const struct filt_rule *r,
                         const struct zetl_table_id *id)
{
        return pattern_match(&r->pat, f->dialect, id);
}

bool zetl_filter_transforms(const struct zetl_filter *f, const struct zetl_table_id *id)
{
        for (int i = 0; f && i < f->nrules; i++)
                if (rule_matches(f, &f->rules[i], id))
                        return true;
        return false;
}

/* "FILE:LINE:COL: reason" for offset at of the filter file. */
__attribute__((format(printf, 5, 6))) static int
ferr(const struct zetl_filter *f, struct zetl_err *err, int code, size_t at, const char *fmt, ...)
{
        char reason[ZETL_ERR_MSG_MAX];
        size_t line_start = 0;
        int line = 1;
        va_list ap;

        for (size_t i = 0; i < at && f->file_text[i]; i++) {
                if (f->file_text[i] == '\n') {
                        line++;
                        line_start = i + 1;
                }
        }
        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        return zetl_err_set(err, code, code == ZETL_EINVAL ? ZETL_ERRC_CONFIG : ZETL_ERRC_FATAL,
                            "%s:%d:%zu: %s", f->file_name, line, at - line_start + 1, reason);
}

/* Column index of list entry i of rule r in s, or -1. */
static int list_col(const struct filt_rule *r, int i, const struct zetl_schema *s)
{
        int found = zetl_schema_find(s, r->cols[i]);

        if (found >= 0 || r->col_quoted[i])
                return found;
        for (int c = 0; c < s->ncols; c++) {
                if (strcasecmp(s->cols[c].name, r->cols[i]) != 0)
                        continue;
                if (found >= 0)
                        return -1; /* ambiguous: quote it */
                found = c;
        }
        return found;
}

/* Fill e for its schema: compile the row rules, work out the columns kept.
 * strict: a listed column missing from s is an error (else a warning).
 * Errors: code, with "FILE:LINE:COL: reason". */
static int entry_build(const struct zetl_filter *f, struct fentry *e, bool strict, int code,
                       struct zetl_err *err)
{
        const struct zetl_schema *s = e->s;
        char tname[ZETL_NAME_MAX * 3];
        bool *keep = NULL;
        int nkeep = 0, rc = 0;

        if (!(keep = malloc(s->ncols ? (size_t)s->ncols : 1)))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        memset(keep, 1, (size_t)s->ncols);
        zetl_table_id_str(&s->id, tname, sizeof(tname));
        for (int i = 0; i < f->nrules && rc == 0; i++) {
                const struct filt_rule *r = &f->rules[i];
                if (!rule_matches(f, r, &s->id))
                        continue;
                if (!r->columns) {
                        struct fx_error fe;
                        struct fx_prog *prog;
                        struct fx_prog **n;
                        rc = fx_compile(r->expr, f->file_text, s, &prog, &fe);
                        if (rc == ZETL_ENOMEM)
                                rc = zetl_err_set(err, rc, ZETL_ERRC_FATAL, "out of memory");
                        else if (rc)
                                rc = ferr(f, err, code, fe.at, "%s", fe.msg);
                        else if (!(n = realloc(e->progs, (size_t)(e->nprogs + 1) * sizeof(*n)))) {
                                fx_prog_free(prog);
                                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                                  "out of memory");
                        } else {
                                e->progs = n;
                                e->progs[e->nprogs++] = prog;
                        }
                        continue;
                }
                bool *listed = calloc(s->ncols ? (size_t)s->ncols : 1, 1);
                if (!listed) {
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                        break;
                }
                for (int j = 0; j < r->ncols; j++) {
                        int c = list_col(r, j, s);
                        if (c >= 0) {
                                listed[c] = true;
                        } else if (strict) {
                                rc = ferr(f, err, code, r->col_at[j], "no column \"%s\" in %s",
                                          r->cols[j], tname);
                                break;
                        } else {
                                struct zetl_err w;
                                ferr(f, &w, code, r->col_at[j],
                                     "column \"%s\" of the %s list is not in the shape the "
                                     "source sent for %s (left out at the source, or dropped)",
                                     r->cols[j], r->include ? "include" : "exclude", tname);
                                zlog_info("%s", w.msg);
                        }
                }
                for (int c = 0; c < s->ncols && rc == 0; c++) {
                        bool k = r->include ? listed[c] : !listed[c];
                        if (k || s->cols[c].key_pos == 0) {
                                keep[c] &= k;
                                continue;
                        }
                        /* Keys identify rows in every target: they stay. */
                        size_t at = r->list_at;
                        for (int j = 0; j < r->ncols && !r->include; j++)
                                if (list_col(r, j, s) == c)
                                        at = r->col_at[j];
                        rc = ferr(f, err, code, at,
                                  "column \"%s\" is part of the primary key of %s and cannot be "
                                  "left out",
                                  s->cols[c].name, tname);
                }
                free(listed);
        }
        for (int c = 0; c < s->ncols; c++)
                nkeep += keep[c];
        if (rc == 0 && nkeep == 0)
                rc = ferr(f, err, code, 0, "the column filters leave no column of %s", tname);
        if (rc == 0 && nkeep < s->ncols) {
                struct zetl_schema *sink = zetl_schema_new(&s->id, nkeep);
                if (!sink || !(e->proj = malloc((size_t)nkeep * sizeof(int)))) {
                        if (sink)
                                zetl_schema_unref(sink);
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                        goto out;
                }
                for (int c = 0, j = 0; c < s->ncols && rc == 0; c++) {
                        if (!keep[c])
                                continue;
                        e->proj[j] = c;
                        if (zetl_schema_set_col(sink, j++, &s->cols[c]))
                                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                                  "out of memory");
                }
                if (rc == 0)
                        rc = zetl_schema_finish(sink, err);
                sink->version = s->version;
                if (rc)
                        zetl_schema_unref(sink);
                else
                        e->sink = sink;
        }
out:
        free(keep);
        return rc;
}

int zetl_filter_check_schema(const struct zetl_filter *f, const struct zetl_schema *s,
                             struct zetl_err *err)
{
        struct fentry e = { .s = s };
        int rc;

        if (!f || !s || !zetl_filter_transforms(f, &s->id))
                return 0;
        rc = entry_build(f, &e, true, ZETL_EINVAL, err);
        entry_clear(&e);
        return rc;
}

static size_t bucket_of(const struct zetl_schema *s)
{
        return ((uintptr_t)s >> 4) % CACHE_BUCKETS;
}

/* The cache entry of s, built when absent. NULL only when out of memory. */
static struct fentry *entry_get(const struct zetl_filter *cf, const struct zetl_schema *s,
                                struct zetl_err *err)
{
        struct zetl_filter *f = (struct zetl_filter *)cf; /* the cache only */
        size_t b = bucket_of(s);
        struct fentry *e;
        struct zetl_err berr = { 0 };

        pthread_mutex_lock(&f->mu);
        for (e = f->cache[b]; e; e = e->next)
                if (e->s == s)
                        goto out;
        /* Shapes only the cache still holds are gone for good (a new run, a
         * new version): nobody can ask for them again, so they go. */
        for (struct fentry **pp = &f->cache[b]; *pp;) {
                struct fentry *old = *pp;
                if (__atomic_load_n(&old->s->refs, __ATOMIC_ACQUIRE) == 1) {
                        *pp = old->next;
                        entry_free(old);
                } else {
                        pp = &old->next;
                }
        }
        if (!(e = calloc(1, sizeof(*e)))) {
                zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out;
        }
        e->s = zetl_schema_ref(s);
        int rc = entry_build(f, e, false, ZETL_ETABLE, &berr);
        if (rc == ZETL_ENOMEM) {
                *err = berr;
                entry_free(e);
                e = NULL;
                goto out;
        }
        if (rc && !(e->error = strdup(berr.msg))) {
                zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                entry_free(e);
                e = NULL;
                goto out;
        }
        e->next = f->cache[b];
        f->cache[b] = e;
out:
        pthread_mutex_unlock(&f->mu);
        return e;
}

int zetl_filter_prepare(const struct zetl_filter *f, const struct zetl_schema *s,
                        const struct zetl_schema **sink, struct zetl_err *err)
{
        struct fentry *e;

        *sink = s;
        if (!f || f->nrules == 0 || !zetl_filter_transforms(f, &s->id))
                return 0;
        if (!(e = entry_get(f, s, err)))
                return err->code;
        if (e->error)
                return zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL, "%s", e->error);
        if (e->sink)
                *sink = e->sink;
        return 0;
}

const struct zetl_schema *zetl_filter_sink_schema(const struct zetl_filter *cf,
                                                  const struct zetl_schema *s)
{
        struct zetl_filter *f = (struct zetl_filter *)cf;
        const struct zetl_schema *out = s;

        if (!f || f->nrules == 0 || !s)
                return s;
        pthread_mutex_lock(&f->mu);
        for (struct fentry *e = f->cache[bucket_of(s)]; e; e = e->next)
                if (e->s == s && e->sink)
                        out = e->sink;
        pthread_mutex_unlock(&f->mu);
        return out;
}

/* ---- applying to batches ------------------------------------------------------------ */

enum row_fate { KEEP, DROP, TO_DELETE };

/* Cell sc of row r of src into cell dc of the row being built in dst. */
static int copy_cell(struct zetl_batch *dst, int dc, const struct zetl_batch *src, int sc,
                     uint32_t r, struct zetl_err *err)
{
        size_t len;
        const uint8_t *p;

        if (zetl_batch_is_unchanged(src, sc, r))
                return zetl_batch_set_unchanged(dst, dc, err);
        if (zetl_batch_is_null(src, sc, r)) {
                zetl_batch_set_null(dst, dc);
                return 0;
        }
        switch (src->schema->cols[sc].type) {
        case ZETL_T_BOOL:
                zetl_batch_set_bool(dst, dc, zetl_batch_get_bool(src, sc, r));
                return 0;
        case ZETL_T_INT16:
                zetl_batch_set_i16(dst, dc, zetl_batch_get_i16(src, sc, r));
                return 0;
        case ZETL_T_INT32:
        case ZETL_T_DATE:
                zetl_batch_set_i32(dst, dc, zetl_batch_get_i32(src, sc, r));
                return 0;
        case ZETL_T_INT64:
        case ZETL_T_TIME:
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                zetl_batch_set_i64(dst, dc, zetl_batch_get_i64(src, sc, r));
                return 0;
        case ZETL_T_FLOAT32:
                zetl_batch_set_f32(dst, dc, zetl_batch_get_f32(src, sc, r));
                return 0;
        case ZETL_T_FLOAT64:
                zetl_batch_set_f64(dst, dc, zetl_batch_get_f64(src, sc, r));
                return 0;
        case ZETL_T_UUID:
                zetl_batch_set_uuid(dst, dc, zetl_batch_get_uuid(src, sc, r));
                return 0;
        default:
                p = zetl_batch_get_var(src, sc, r, &len);
                return zetl_batch_set_var(dst, dc, p, len, err);
        }
}

/* Every row kept, columns left out: move the kept vectors into a batch of
 * the sink schema (no copy). b is consumed. */
static struct zetl_batch *project(struct zetl_batch *b, const struct fentry *e)
{
        struct zetl_batch *nb = zetl_batch_new(e->sink, b->max_bytes);

        if (!nb)
                return NULL;
        if (b->old && !(nb->old = project(b->old, e))) {
                zetl_batch_free(nb);
                return NULL;
        }
        b->old = NULL;
        for (int j = 0; j < e->sink->ncols; j++) {
                nb->cols[j] = b->cols[e->proj[j]];
                memset(&b->cols[e->proj[j]], 0, sizeof(b->cols[0]));
        }
        nb->nrows = b->nrows;
        nb->cap = b->cap;
        nb->ops = b->ops;
        nb->pos = b->pos;
        nb->old_key = b->old_key;
        nb->bytes = b->bytes;
        b->ops = NULL;
        b->pos = NULL;
        b->old_key = NULL;
        zetl_batch_free(b); /* the vectors of the columns left out */
        return nb;
}

/* The rows of b whose fate is not DROP, into a new batch of the sink shape. */
static int rebuild(const struct zetl_batch *b, const struct fentry *e, const uint8_t *fate,
                   struct zetl_batch **out, struct zetl_err *err)
{
        const struct zetl_schema *sk = e->sink ? e->sink : e->s;
        struct zetl_batch *nb = zetl_batch_new(sk, b->max_bytes);
        int rc = 0;

        *out = NULL;
        if (!nb)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        for (uint32_t r = 0; r < b->nrows && rc == 0; r++) {
                int32_t ok = zetl_batch_old_key_row(b, r);
                bool del = fate[r] == TO_DELETE;
                if (fate[r] == DROP)
                        continue;
                if ((rc = zetl_batch_row_begin(nb, del ? ZETL_OP_DELETE : (enum zetl_op)b->ops[r],
                                               b->pos[r], err)))
                        break;
                for (int j = 0; j < sk->ncols && rc == 0; j++) {
                        int c = e->sink ? e->proj[j] : j;
                        if (!del)
                                rc = copy_cell(nb, j, b, c, r, err);
                        else if (sk->cols[j].key_pos == 0)
                                rc = zetl_batch_set_unchanged(nb, j, err);
                        else if (ok >= 0) /* the key the target knows the row by */
                                rc = copy_cell(nb, j, b->old, c, (uint32_t)ok, err);
                        else
                                rc = copy_cell(nb, j, b, c, r, err);
                }
                if (rc == 0 && !del && ok >= 0 && (rc = zetl_batch_old_key_begin(nb, err)) == 0) {
                        for (int j = 0; j < sk->ncols && rc == 0; j++) {
                                int c = e->sink ? e->proj[j] : j;
                                if (sk->cols[j].key_pos > 0)
                                        rc = copy_cell(nb->old, j, b->old, c, (uint32_t)ok, err);
                        }
                }
                if (rc)
                        zetl_batch_row_abort(nb);
                else
                        zetl_batch_row_end(nb);
        }
        if (rc) {
                zetl_batch_free(nb);
                return rc;
        }
        *out = nb;
        return 0;
}

/* A row the conditions cannot judge: say which unchanged cells are why. */
static int cannot_judge(const struct fentry *e, const struct zetl_batch *b, uint32_t r,
                        struct zetl_err *err)
{
        char names[256] = "", tname[ZETL_NAME_MAX * 3];
        size_t n = 0;

        for (int c = 0; c < e->s->ncols; c++) {
                bool used = false;
                for (int i = 0; i < e->nprogs; i++)
                        used |= fx_prog_uses(e->progs[i], c);
                if (used && zetl_batch_is_unchanged(b, c, r) && n + 4 < sizeof(names))
                        n += (size_t)snprintf(names + n, sizeof(names) - n, "%s\"%s\"",
                                              n ? ", " : "", e->s->cols[c].name);
        }
        zetl_table_id_str(&e->s->id, tname, sizeof(tname));
        return zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL,
                            "the row filter of %s cannot judge an %s: column %s arrived "
                            "unchanged (a large value the source did not send again); on "
                            "PostgreSQL make it send them with ALTER TABLE ... REPLICA IDENTITY "
                            "FULL, on MySQL set binlog_row_image=FULL; then resync",
                            tname, zetl_op_name((enum zetl_op)b->ops[r]), names);
}

int zetl_filter_apply(const struct zetl_filter *f, struct zetl_batch **bp, struct zetl_err *err)
{
        struct zetl_batch *b = *bp, *nb = NULL;
        uint8_t *verdict = NULL, *tmp = NULL;
        struct fentry *e;
        bool all_kept = true;
        int rc = 0;

        if (!b || !f || f->nrules == 0 || !zetl_filter_transforms(f, &b->schema->id))
                return 0;
        *bp = NULL;
        if (!(e = entry_get(f, b->schema, err))) {
                rc = err->code;
                goto out;
        }
        if (e->error) {
                rc = zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL, "%s", e->error);
                goto out;
        }
        if (e->nprogs > 0 && b->nrows > 0) {
                if (!(verdict = malloc(b->nrows)) || !(tmp = malloc(b->nrows))) {
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                        goto out;
                }
                if ((rc = fx_eval(e->progs[0], b, verdict, err)))
                        goto out;
                for (int i = 1; i < e->nprogs; i++) {
                        if ((rc = fx_eval(e->progs[i], b, tmp, err)))
                                goto out;
                        for (uint32_t r = 0; r < b->nrows; r++)
                                verdict[r] = fx_set_and(verdict[r], tmp[r]);
                }
                /* verdict becomes the fate of each row. */
                for (uint32_t r = 0; r < b->nrows; r++) {
                        uint8_t v = verdict[r];
                        enum zetl_op op = (enum zetl_op)b->ops[r];
                        if (op == ZETL_OP_DELETE || v == FX_TRUE) {
                                verdict[r] = KEEP;
                                continue;
                        }
                        if (v & FX_TRUE) {
                                rc = cannot_judge(e, b, r, err);
                                goto out;
                        }
                        verdict[r] = op == ZETL_OP_UPDATE ? TO_DELETE : DROP;
                        all_kept = false;
                }
        }
        if (all_kept && !e->sink) {
                nb = b;
                b = NULL;
        } else if (all_kept) {
                if (!(nb = project(b, e)))
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                else
                        b = NULL;
        } else {
                rc = rebuild(b, e, verdict, &nb, err);
        }
        if (nb && nb->nrows == 0) {
                zetl_batch_free(nb);
                nb = NULL;
        }
out:
        free(verdict);
        free(tmp);
        zetl_batch_free(b);
        *bp = rc ? NULL : nb;
        return rc;
}

/* ---- changing filters ---------------------------------------------------------------- */

int zetl_filter_table_rules(const struct zetl_filter *f, const struct zetl_table_id *id, char **out)
{
        size_t len = 0, cap = 64;
        char *s = malloc(cap);

        *out = NULL;
        if (!s)
                return ZETL_ENOMEM;
        s[0] = '\0';
        for (int i = 0; f && i < f->nrules; i++) {
                const struct filt_rule *r = &f->rules[i];
                char *line = NULL, *text = NULL;
                if (!rule_matches(f, r, id))
                        continue;
                if (!r->columns) {
                        text = fx_text(r->expr, f->file_text);
                        if (!text || asprintf(&line, "rows: %s\n", text) < 0)
                                line = NULL;
                } else {
                        size_t n = 32;
                        for (int j = 0; j < r->ncols; j++)
                                n += strlen(r->cols[j]) * 2 + 6;
                        if ((line = malloc(n))) {
                                size_t k = (size_t)sprintf(line, "columns: %s",
                                                           r->include ? "include" : "exclude");
                                for (int j = 0; j < r->ncols; j++)
                                        k += (size_t)sprintf(line + k, "%s%s%s%s", j ? ", " : " ",
                                                             r->col_quoted[j] ? "\"" : "",
                                                             r->cols[j],
                                                             r->col_quoted[j] ? "\"" : "");
                                strcpy(line + k, "\n");
                        }
                }
                free(text);
                if (!line) {
                        free(s);
                        return ZETL_ENOMEM;
                }
                size_t n = strlen(line);
                if (len + n + 1 > cap) {
                        while (len + n + 1 > cap)
                                cap *= 2;
                        char *m = realloc(s, cap);
                        if (!m) {
                                free(line);
                                free(s);
                                return ZETL_ENOMEM;
                        }
                        s = m;
                }
                memcpy(s + len, line, n + 1);
                len += n;
                free(line);
        }
        *out = s;
        return 0;
}

static bool same_pattern(const struct filt_pattern *a, const struct filt_pattern *b)
{
        return a->include == b->include && strcmp(a->text, b->text) == 0;
}

bool zetl_filter_may_add_tables(const struct zetl_filter *oldf, const struct zetl_filter *newf)
{
        int i = 0, j = 0;
        int on = oldf ? oldf->n : 0, nn = newf ? newf->n : 0;

        /* No pattern includes everything: nothing can be added to that. */
        if (on == 0)
                return false;
        if (nn == 0)
                return true;
        /* Removing an include: pattern or adding an exclude: pattern anywhere
         * only ever excludes (the last match decides). Walk both lists and
         * accept only such differences; anything else might include more. */
        while (j < nn) {
                if (i < on && same_pattern(&oldf->pats[i], &newf->pats[j])) {
                        i++;
                        j++;
                } else if (!newf->pats[j].include) {
                        j++;
                } else if (i < on && oldf->pats[i].include) {
                        i++;
                } else {
                        return true;
                }
        }
        for (; i < on; i++)
                if (!oldf->pats[i].include)
                        return true;
        return false;
}

/* ---- PostgreSQL publication pushdown ------------------------------------------------ */

/* Room for every column of s quoted, comma-separated. */
static size_t n_list_bytes(const struct zetl_schema *s)
{
        size_t n = 1;

        for (int c = 0; c < s->ncols; c++)
                n += strlen(s->cols[c].name) * 2 + 4;
        return n;
}

int zetl_filter_pg_pushdown(const struct zetl_filter *f, const struct zetl_schema *s,
                            const bool *where_ok, const bool *list_must, char **where,
                            char **columns, struct zetl_err *err)
{
        struct fentry e = { .s = s };
        char *w = NULL, *cl = NULL;
        bool *listed = NULL;
        int nlisted = 0, rc;

        *where = NULL;
        *columns = NULL;
        if (!f || !zetl_filter_transforms(f, &s->id))
                return 0;
        if ((rc = entry_build(f, &e, true, ZETL_EINVAL, err)))
                goto out;
        for (int i = 0; i < e.nprogs; i++) {
                char *part = NULL, *joined;
                if ((rc = fx_prog_pg_sql(e.progs[i], s, where_ok, &part))) {
                        rc = zetl_err_set(err, rc, ZETL_ERRC_FATAL, "out of memory");
                        goto out;
                }
                if (!part)
                        continue;
                if (!w) {
                        w = part;
                        continue;
                }
                if (asprintf(&joined, "%s AND %s", w, part) < 0)
                        joined = NULL;
                free(part);
                free(w);
                w = joined;
                if (!w) {
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                        goto out;
                }
        }
        if (e.sink && list_must) {
                if (!(listed = calloc((size_t)s->ncols, 1))) {
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                        goto out;
                }
                for (int j = 0; j < e.sink->ncols; j++)
                        listed[e.proj[j]] = true;
                for (int c = 0; c < s->ncols; c++) {
                        for (int i = 0; i < e.nprogs; i++)
                                listed[c] |= fx_prog_uses(e.progs[i], c);
                        listed[c] |= list_must[c];
                        nlisted += listed[c];
                }
        }
        if (nlisted > 0 && nlisted < s->ncols) {
                if (!(cl = malloc(n_list_bytes(s)))) {
                        rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                        goto out;
                }
                cl[0] = '\0';
                for (int c = 0; c < s->ncols; c++) {
                        if (!listed[c])
                                continue;
                        char *q = fx_pg_ident(s->cols[c].name);
                        if (!q) {
                                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                                  "out of memory");
                                goto out;
                        }
                        if (cl[0])
                                strcat(cl, ", ");
                        strcat(cl, q);
                        free(q);
                }
        }
        *where = w;
        *columns = cl;
        w = cl = NULL;
out:
        free(w);
        free(cl);
        free(listed);
        entry_clear(&e);
        return rc;
}
