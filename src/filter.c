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
 * Row and column filters will come from the same filter file; for now the file
 * holds only table patterns, comments and blank lines.
 */
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zetl/filter.h"

#define MAX_PARTS 3

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
};

struct zetl_filter {
        enum zetl_filter_dialect dialect;
        int n;
        struct filt_pattern pats[ZETL_FILTER_MAX_PATTERNS];
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
        if (nchars(p->text, start, p->pos) > ZETL_FILTER_MAX_PATTERN_LEN)
                return perr(p, start, "pattern %d: pattern longer than %d characters", num,
                            ZETL_FILTER_MAX_PATTERN_LEN);
        return 0;
}

/* "include: PATTERN" or "exclude: PATTERN", the keyword in any case. */
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
        }
        *out = f;
        return 0;
free_filter:
        zetl_filter_free(f);
        return rc;
}

void zetl_filter_free(struct zetl_filter *f)
{
        if (!f)
                return;
        for (int i = 0; i < f->n; i++)
                pattern_free(&f->pats[i]);
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

int zetl_filter_check_schema(const struct zetl_filter *f, const struct zetl_schema *s,
                             struct zetl_err *err)
{
        /* No row or column filters yet, so no schema can conflict with them. */
        (void)f;
        (void)s;
        (void)err;
        return 0;
}

bool zetl_filter_transforms(const struct zetl_filter *f, const struct zetl_table_id *id)
{
        (void)f;
        (void)id;
        return false;
}
