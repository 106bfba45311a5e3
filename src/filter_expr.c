/*
 * Row filter expressions (see filter_expr.h): a hand-written lexer and
 * recursive-descent parser for a small SQL subset, a checker that resolves
 * columns and turns literals into values of their column's type, a compiler
 * into a flat program of vector instructions, and the evaluator.
 *
 * The program is a list of instructions in post order; instruction i writes
 * register i, one byte per row holding the set of possible results (see
 * filter_expr.h), and reads the registers of earlier instructions. Each
 * instruction is one loop over the rows of a column vector or of registers,
 * so a batch is judged without walking the tree per row. Three-valued logic
 * on sets is plain bit arithmetic (s_and, s_or, s_not).
 *
 * Comparisons follow SQL: a NULL operand makes the result NULL; numbers
 * compare exactly (an integer column against 19.99 never goes through a
 * double; decimals compare as text digit by digit); floating point columns
 * compare as doubles (NaN equal to itself and above everything, as in
 * PostgreSQL); strings and bytes compare byte by byte, which for UTF-8 is
 * code point order (PostgreSQL's "C" collation), not the server's collation.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter_expr.h"
#include "zetl/types.h"
#include "zetl/value.h"

/* ---- the tree ---------------------------------------------------------------- */

enum nkind {
        N_AND,
        N_OR,
        N_NOT,
        N_CMP,     /* a op b */
        N_IN,      /* a [NOT] IN (list) */
        N_BETWEEN, /* a [NOT] BETWEEN b AND c */
        N_LIKE,    /* a [NOT] LIKE|ILIKE b [ESCAPE c] */
        N_ISNULL,  /* a IS [NOT] NULL */
        N_ISBOOL,  /* a IS [NOT] TRUE|FALSE (op 1: TRUE) */
        N_COL,
        N_LIT,
};

enum lkind {
        L_NULL,
        L_BOOL,
        L_NUM,   /* s: the number as written, sign included */
        L_STR,   /* s, len: the bytes */
        L_BYTES, /* X'..': s, len */
        L_DATE,  /* ival: days */
        L_TIME,  /* ival: µs */
        L_TS,    /* ival: µs, no zone */
        L_TSTZ,  /* ival: µs UTC */
        L_UUID,  /* uuid */
};

enum cmpop { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };

struct fx_node {
        enum nkind kind;
        size_t at, end; /* the text it was parsed from: [at, end) */
        int op;
        bool neg, ci;
        struct fx_node *a, *b, *c;
        struct fx_node **list;
        int nlist;
        char *s; /* N_COL: the name; N_LIT: see enum lkind */
        size_t len;
        bool quoted;
        enum lkind lk;
        bool bval;
        int64_t ival;
        uint8_t uuid[16];
};

void fx_free(struct fx_node *n)
{
        if (!n)
                return;
        fx_free(n->a);
        fx_free(n->b);
        fx_free(n->c);
        for (int i = 0; i < n->nlist; i++)
                fx_free(n->list[i]);
        free(n->list);
        free(n->s);
        free(n);
}

/* ---- lexing -------------------------------------------------------------------- */

enum tok {
        T_EOF,
        T_IDENT,  /* unquoted name or keyword */
        T_QIDENT, /* "name" or `name` */
        T_STR,    /* 'text' */
        T_HEX,    /* X'0a1b' */
        T_NUM,
        T_LP,
        T_RP,
        T_COMMA,
        T_OP, /* comparison: op holds enum cmpop */
        T_MINUS,
        T_PLUS,
};

struct lexer {
        const char *t;
        size_t pos; /* where the next token starts looking */
        enum tok k; /* the current token */
        size_t at, end;
        int op;
        int nodes, depth;
        int rc; /* why node_new failed */
        struct fx_error *e;
};

static int lerr(struct lexer *L, size_t at, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int lerr(struct lexer *L, size_t at, const char *fmt, ...)
{
        va_list ap;

        L->e->at = at;
        va_start(ap, fmt);
        vsnprintf(L->e->msg, sizeof(L->e->msg), fmt, ap);
        va_end(ap);
        return ZETL_EINVAL;
}

static int nomem(struct fx_error *e)
{
        snprintf(e->msg, sizeof(e->msg), "out of memory");
        return ZETL_ENOMEM;
}

static bool name_char(char c)
{
        unsigned char u = (unsigned char)c;

        return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
               u == '_' || u == '$' || u >= 0x80;
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* Skip blanks and comments. A newline continues the condition only when the
 * next line is indented; otherwise the condition ends before it. */
static void skip_blank(struct lexer *L)
{
        const char *t = L->t;

        for (;;) {
                char c = t[L->pos];

                if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
                        L->pos++;
                } else if (c == '#') {
                        while (t[L->pos] && t[L->pos] != '\n')
                                L->pos++;
                } else if (c == '\n' && (t[L->pos + 1] == ' ' || t[L->pos + 1] == '\t')) {
                        L->pos++;
                } else {
                        return;
                }
        }
}

/* Scan a quoted run starting at L->pos (the opening quote q); doubled quotes
 * stand for one. Lines do not continue inside quotes. */
static int scan_quoted(struct lexer *L, char q, const char *what)
{
        size_t i = L->pos + 1;

        for (;;) {
                char c = L->t[i];

                if (c == '\0' || c == '\n')
                        return lerr(L, L->pos, "unterminated %s", what);
                if (c == q) {
                        if (L->t[i + 1] != q)
                                break;
                        i++;
                }
                i++;
        }
        L->end = i + 1;
        return 0;
}

static int scan_number(struct lexer *L)
{
        const char *t = L->t;
        size_t i = L->pos;
        size_t digits = 0;

        while (is_digit(t[i])) {
                i++;
                digits++;
        }
        if (t[i] == '.') {
                i++;
                while (is_digit(t[i])) {
                        i++;
                        digits++;
                }
        }
        if (digits == 0)
                return lerr(L, L->pos, "bad number");
        if (t[i] == 'e' || t[i] == 'E') {
                size_t j = i + 1;
                if (t[j] == '+' || t[j] == '-')
                        j++;
                if (!is_digit(t[j]))
                        return lerr(L, L->pos, "bad number: exponent without digits");
                while (is_digit(t[j]))
                        j++;
                i = j;
        }
        if (name_char(t[i]) || t[i] == '.')
                return lerr(L, L->pos, "bad number");
        L->end = i;
        return 0;
}

/* Read the next token into L->k, L->at, L->end. */
static int next(struct lexer *L)
{
        const char *t = L->t;
        char c;
        char shown[16];

        skip_blank(L);
        L->at = L->pos;
        c = t[L->pos];
        L->op = 0;
        if (c == '\0' || c == '\n') {
                L->k = T_EOF;
                L->end = L->pos;
                return 0;
        }
        if ((c == 'x' || c == 'X') && t[L->pos + 1] == '\'') {
                L->pos++;
                int rc = scan_quoted(L, '\'', "string");
                L->pos = L->at;
                if (rc)
                        return rc;
                L->k = T_HEX;
        } else if (name_char(c) && !is_digit(c)) {
                size_t i = L->pos;
                while (name_char(t[i]))
                        i++;
                L->k = T_IDENT;
                L->end = i;
        } else if (c == '"' || c == '`') {
                int rc = scan_quoted(L, c, "quoted name");
                if (rc)
                        return rc;
                if (L->end - L->at == 2)
                        return lerr(L, L->at, "empty quoted name");
                L->k = T_QIDENT;
        } else if (c == '\'') {
                int rc = scan_quoted(L, '\'', "string");
                if (rc)
                        return rc;
                L->k = T_STR;
        } else if (is_digit(c) || (c == '.' && is_digit(t[L->pos + 1]))) {
                int rc = scan_number(L);
                if (rc)
                        return rc;
                L->k = T_NUM;
        } else {
                char d = t[L->pos + 1];
                L->end = L->pos + 1;
                switch (c) {
                case '(':
                        L->k = T_LP;
                        break;
                case ')':
                        L->k = T_RP;
                        break;
                case ',':
                        L->k = T_COMMA;
                        break;
                case '-':
                        L->k = T_MINUS;
                        break;
                case '+':
                        L->k = T_PLUS;
                        break;
                case '=':
                        L->k = T_OP;
                        L->op = C_EQ;
                        break;
                case '<':
                        L->k = T_OP;
                        L->op = d == '=' ? C_LE : d == '>' ? C_NE : C_LT;
                        L->end += d == '=' || d == '>';
                        break;
                case '>':
                        L->k = T_OP;
                        L->op = d == '=' ? C_GE : C_GT;
                        L->end += d == '=';
                        break;
                case '!':
                        if (d != '=')
                                return lerr(L, L->at,
                                            "unexpected character '!' (for "
                                            "negation write NOT)");
                        L->k = T_OP;
                        L->op = C_NE;
                        L->end++;
                        break;
                default:
                        if ((unsigned char)c > 0x20 && (unsigned char)c < 0x7f)
                                snprintf(shown, sizeof(shown), "'%c'", c);
                        else
                                snprintf(shown, sizeof(shown), "byte 0x%02x", (unsigned char)c);
                        return lerr(L, L->at, "unexpected character %s", shown);
                }
        }
        L->pos = L->end;
        return 0;
}

static bool kw(const struct lexer *L, const char *word)
{
        size_t n = strlen(word);

        return L->k == T_IDENT && L->end - L->at == n && strncasecmp(L->t + L->at, word, n) == 0;
}

static const char *const reserved[] = { "AND",    "OR", "NOT",  "IN",   "BETWEEN", "LIKE", "ILIKE",
                                        "ESCAPE", "IS", "NULL", "TRUE", "FALSE",   NULL };

static bool is_reserved(const struct lexer *L)
{
        for (int i = 0; reserved[i]; i++)
                if (kw(L, reserved[i]))
                        return true;
        return false;
}

/* The current token, for messages. */
static const char *tok_text(const struct lexer *L, char *buf, size_t len)
{
        size_t n = L->end - L->at;

        if (L->k == T_EOF)
                snprintf(buf, len, "the end of the condition");
        else if (n > 40)
                snprintf(buf, len, "'%.37s...'", L->t + L->at);
        else
                snprintf(buf, len, "'%.*s'", (int)n, L->t + L->at);
        return buf;
}

/* The bytes of a quoted token, the doubled quotes undone. */
static char *unquote(const char *t, size_t at, size_t end, size_t *len)
{
        char q = t[at];
        char *s = malloc(end - at);
        size_t n = 0;

        if (!s)
                return NULL;
        for (size_t i = at + 1; i + 1 < end; i++) {
                s[n++] = t[i];
                if (t[i] == q)
                        i++;
        }
        s[n] = '\0';
        *len = n;
        return s;
}

/* ---- parsing ------------------------------------------------------------------- */

static struct fx_node *node_new(struct lexer *L, enum nkind k, size_t at)
{
        struct fx_node *n;

        if (++L->nodes > FX_MAX_NODES) {
                L->rc = lerr(L, at, "condition too long (more than %d terms)", FX_MAX_NODES);
                return NULL;
        }
        n = calloc(1, sizeof(*n));
        if (!n) {
                L->rc = nomem(L->e);
                return NULL;
        }
        n->kind = k;
        n->at = at;
        n->end = L->end;
        return n;
}

/* Code of node_new's last failure (its message is in L->e). */
static int failed(struct lexer *L)
{
        return L->rc;
}

static int hexdigit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* A TIMESTAMP literal has no zone: an offset would be silently ignored by
 * PostgreSQL and applied by zetl, so it is refused. */
static bool has_zone(const char *s, size_t len)
{
        size_t i = 0;

        if (i < len && (s[i] == '-' || s[i] == '+'))
                i++;
        while (i < len && s[i] != 'T' && s[i] != ' ')
                i++;
        for (; i < len; i++)
                if (s[i] == 'Z' || s[i] == '+' || s[i] == '-')
                        return true;
        return false;
}

/* Midnight of day d in µs, unless that is past what an int64 holds. */
static bool day_usec(int64_t d, int64_t *us)
{
        if (d > INT64_MAX / ZETL_USEC_PER_DAY || d < INT64_MIN / ZETL_USEC_PER_DAY)
                return false;
        *us = d * ZETL_USEC_PER_DAY;
        return true;
}

/* Hand n to the caller once the next token is read (n is freed if that fails). */
static int done(struct lexer *L, struct fx_node *n, struct fx_node **out)
{
        int rc = next(L);

        if (rc) {
                fx_free(n);
                return rc;
        }
        *out = n;
        return 0;
}

/* DATE '...', TIME '...', TIMESTAMP '...', TIMESTAMPTZ '...', UUID '...'. */
static int typed_literal(struct lexer *L, enum lkind lk, size_t at, struct fx_node **out)
{
        struct fx_node *n;
        const char *bad = NULL;
        uint8_t u[16] = { 0 };
        int32_t d = 0;
        int64_t v = 0;
        size_t len;
        char *s = unquote(L->t, L->at, L->end, &len);

        if (!s)
                return nomem(L->e);
        switch (lk) {
        case L_DATE:
                if (zetl_parse_date(s, len, &d))
                        bad = "bad DATE literal (expected YYYY-MM-DD)";
                v = d;
                break;
        case L_TIME:
                if (zetl_parse_time(s, len, &v))
                        bad = "bad TIME literal (expected HH:MM:SS[.ffffff])";
                break;
        case L_TS:
        case L_TSTZ:
                if (lk == L_TS && has_zone(s, len))
                        bad = "TIMESTAMP literal with a time zone: write TIMESTAMPTZ";
                else if (zetl_parse_timestamp(s, len, &v) == 0)
                        break;
                else if (zetl_parse_date(s, len, &d) == 0 && day_usec(d, &v))
                        break;
                else if (zetl_parse_date(s, len, &d) == 0)
                        bad = "timestamp literal out of range";
                else if (lk == L_TS)
                        bad = "bad TIMESTAMP literal (expected YYYY-MM-DD HH:MM:SS[.ffffff])";
                else
                        bad = "bad TIMESTAMPTZ literal (expected YYYY-MM-DD "
                              "HH:MM:SS[.ffffff][+HH:MM])";
                break;
        default:
                if (zetl_parse_uuid(s, len, u))
                        bad = "bad UUID literal (expected 8-4-4-4-12 hex digits)";
                break;
        }
        free(s);
        if (bad)
                return lerr(L, L->at, "%s", bad);
        if (!(n = node_new(L, N_LIT, at)))
                return failed(L);
        n->lk = lk;
        n->ival = v;
        memcpy(n->uuid, u, 16);
        n->end = L->end;
        return done(L, n, out);
}

/* A column or a value. */
static int p_operand(struct lexer *L, struct fx_node **out)
{
        static const struct {
                const char *word;
                enum lkind lk;
        } typed[] = {
                { "DATE", L_DATE },        { "TIME", L_TIME }, { "TIMESTAMP", L_TS },
                { "TIMESTAMPTZ", L_TSTZ }, { "UUID", L_UUID },
        };
        size_t at = L->at;
        struct fx_node *n = NULL;
        char buf[64];
        int rc;

        if (L->k == T_IDENT) {
                if (kw(L, "NULL") || kw(L, "TRUE") || kw(L, "FALSE")) {
                        if (!(n = node_new(L, N_LIT, at)))
                                return failed(L);
                        n->lk = kw(L, "NULL") ? L_NULL : L_BOOL;
                        n->bval = kw(L, "TRUE");
                        return done(L, n, out);
                }
                for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
                        if (!kw(L, typed[i].word))
                                continue;
                        /* A typed literal only when a string follows: a column
                         * may be called "date". */
                        struct lexer save = *L;
                        if ((rc = next(L)))
                                return rc;
                        if (L->k == T_STR)
                                return typed_literal(L, typed[i].lk, at, out);
                        *L = save;
                        break;
                }
                if (is_reserved(L))
                        return lerr(L, at, "expected a column or a value, found keyword %s",
                                    tok_text(L, buf, sizeof(buf)));
        }
        switch (L->k) {
        case T_IDENT:
        case T_QIDENT:
                if (!(n = node_new(L, N_COL, at)))
                        return failed(L);
                n->quoted = L->k == T_QIDENT;
                n->s = n->quoted ? unquote(L->t, L->at, L->end, &n->len)
                                 : strndup(L->t + L->at, L->end - L->at);
                break;
        case T_STR:
        case T_HEX:
                if (!(n = node_new(L, N_LIT, at)))
                        return failed(L);
                n->lk = L->k == T_STR ? L_STR : L_BYTES;
                if (L->k == T_STR) {
                        n->s = unquote(L->t, L->at, L->end, &n->len);
                        break;
                }
                n->s = unquote(L->t, L->at + 1, L->end, &n->len);
                if (!n->s)
                        break;
                if (n->len % 2) {
                        fx_free(n);
                        return lerr(L, at, "X'...' needs an even number of hex digits");
                }
                for (size_t i = 0; i < n->len; i += 2) {
                        int hi = hexdigit(n->s[i]), lo = hexdigit(n->s[i + 1]);
                        if (hi < 0 || lo < 0) {
                                fx_free(n);
                                return lerr(L, at,
                                            "X'...' holds a character that is not a "
                                            "hex digit");
                        }
                        n->s[i / 2] = (char)(hi * 16 + lo);
                }
                n->len /= 2;
                break;
        case T_MINUS:
        case T_PLUS: {
                bool minus = L->k == T_MINUS;
                if ((rc = next(L)))
                        return rc;
                if (L->k != T_NUM)
                        return lerr(L, at, "expected a number after '%c'", minus ? '-' : '+');
                if (!(n = node_new(L, N_LIT, at)))
                        return failed(L);
                n->lk = L_NUM;
                if (asprintf(&n->s, "%s%.*s", minus ? "-" : "", (int)(L->end - L->at),
                             L->t + L->at) < 0)
                        n->s = NULL;
                break;
        }
        case T_NUM:
                if (!(n = node_new(L, N_LIT, at)))
                        return failed(L);
                n->lk = L_NUM;
                n->s = strndup(L->t + L->at, L->end - L->at);
                break;
        default:
                return lerr(L, at, "expected a column or a value, found %s",
                            tok_text(L, buf, sizeof(buf)));
        }
        if (!n->s) {
                fx_free(n);
                return nomem(L->e);
        }
        n->end = L->end;
        return done(L, n, out);
}

static int p_or(struct lexer *L, struct fx_node **out);

/* IS [NOT] NULL|TRUE|FALSE|UNKNOWN after operand or parenthesized condition
 * n, which is owned here (freed on error). */
static int p_is(struct lexer *L, struct fx_node *n, struct fx_node **out)
{
        struct fx_node *r = NULL;
        bool neg = false;
        char buf[64];
        int rc;

        if ((rc = next(L)))
                goto fail;
        if (kw(L, "NOT")) {
                neg = true;
                if ((rc = next(L)))
                        goto fail;
        }
        if (kw(L, "NULL") || kw(L, "UNKNOWN")) {
                r = node_new(L, N_ISNULL, n->at);
        } else if (kw(L, "TRUE") || kw(L, "FALSE")) {
                if ((r = node_new(L, N_ISBOOL, n->at)))
                        r->op = kw(L, "TRUE");
        } else {
                rc = lerr(L, L->at, "expected NULL, TRUE, FALSE or UNKNOWN after IS%s, found %s",
                          neg ? " NOT" : "", tok_text(L, buf, sizeof(buf)));
                goto fail;
        }
        if (!r) {
                rc = failed(L);
                goto fail;
        }
        r->neg = neg;
        r->a = n;
        r->end = L->end;
        return done(L, r, out);
fail:
        fx_free(n);
        return rc;
}

/* The rest of a predicate that began with operand a (owned here). */
static int p_tail(struct lexer *L, struct fx_node *a, struct fx_node **out)
{
        struct fx_node *n = NULL;
        bool neg = false;
        char buf[64];
        int rc;

        if (L->k == T_OP) {
                if (!(n = node_new(L, N_CMP, a->at)))
                        return failed(L);
                n->op = L->op;
                n->a = a;
                if ((rc = next(L)) || (rc = p_operand(L, &n->b)))
                        goto fail;
                n->end = n->b->end;
                *out = n;
                return 0;
        }
        if (kw(L, "IS"))
                return p_is(L, a, out);
        if (kw(L, "NOT")) {
                neg = true;
                if ((rc = next(L)))
                        goto fail_a;
                if (!kw(L, "IN") && !kw(L, "BETWEEN") && !kw(L, "LIKE") && !kw(L, "ILIKE")) {
                        rc = lerr(L, L->at,
                                  "expected IN, BETWEEN, LIKE or ILIKE after NOT, found %s",
                                  tok_text(L, buf, sizeof(buf)));
                        goto fail_a;
                }
        }
        if (kw(L, "IN")) {
                size_t cap = 0;
                if (!(n = node_new(L, N_IN, a->at))) {
                        rc = failed(L);
                        goto fail_a;
                }
                n->a = a;
                n->neg = neg;
                if ((rc = next(L)))
                        goto fail;
                if (L->k != T_LP) {
                        rc = lerr(L, L->at, "expected '(' after IN, found %s",
                                  tok_text(L, buf, sizeof(buf)));
                        goto fail;
                }
                do {
                        if ((rc = next(L)))
                                goto fail;
                        if (n->nlist == FX_MAX_LIST) {
                                rc = lerr(L, L->at, "IN list longer than %d values", FX_MAX_LIST);
                                goto fail;
                        }
                        if ((size_t)n->nlist == cap) {
                                cap = cap ? cap * 2 : 8;
                                struct fx_node **nl = realloc(n->list, cap * sizeof(*nl));
                                if (!nl) {
                                        rc = nomem(L->e);
                                        goto fail;
                                }
                                n->list = nl;
                        }
                        if ((rc = p_operand(L, &n->list[n->nlist])))
                                goto fail;
                        n->nlist++;
                } while (L->k == T_COMMA);
                if (L->k != T_RP) {
                        rc = lerr(L, L->at, "expected ',' or ')' in the IN list, found %s",
                                  tok_text(L, buf, sizeof(buf)));
                        goto fail;
                }
                n->end = L->end;
                return done(L, n, out);
        }
        if (kw(L, "BETWEEN")) {
                if (!(n = node_new(L, N_BETWEEN, a->at))) {
                        rc = failed(L);
                        goto fail_a;
                }
                n->a = a;
                n->neg = neg;
                if ((rc = next(L)) || (rc = p_operand(L, &n->b)))
                        goto fail;
                if (!kw(L, "AND")) {
                        rc = lerr(L, L->at, "expected AND in BETWEEN, found %s",
                                  tok_text(L, buf, sizeof(buf)));
                        goto fail;
                }
                if ((rc = next(L)) || (rc = p_operand(L, &n->c)))
                        goto fail;
                n->end = n->c->end;
                *out = n;
                return 0;
        }
        if (kw(L, "LIKE") || kw(L, "ILIKE")) {
                if (!(n = node_new(L, N_LIKE, a->at))) {
                        rc = failed(L);
                        goto fail_a;
                }
                n->a = a;
                n->neg = neg;
                n->ci = kw(L, "ILIKE");
                if ((rc = next(L)) || (rc = p_operand(L, &n->b)))
                        goto fail;
                n->end = n->b->end;
                if (kw(L, "ESCAPE")) {
                        if ((rc = next(L)) || (rc = p_operand(L, &n->c)))
                                goto fail;
                        n->end = n->c->end;
                }
                *out = n;
                return 0;
        }
        /* A bare operand: a boolean column, or TRUE, FALSE, NULL. */
        *out = a;
        return 0;
fail_a:
        fx_free(a);
        return rc;
fail:
        fx_free(n);
        return rc;
}

static int p_pred(struct lexer *L, struct fx_node **out)
{
        struct fx_node *a = NULL;
        char buf[64];
        int rc;

        if (L->k == T_LP) {
                size_t at = L->at;
                if (++L->depth > FX_MAX_DEPTH)
                        return lerr(L, at, "condition nested deeper than %d levels", FX_MAX_DEPTH);
                if ((rc = next(L)) || (rc = p_or(L, &a)))
                        return rc;
                L->depth--;
                if (L->k != T_RP) {
                        rc = lerr(L, L->at, "expected ')' to close the '(' at offset %zu, found %s",
                                  at, tok_text(L, buf, sizeof(buf)));
                        fx_free(a);
                        return rc;
                }
                a->at = at;
                a->end = L->end;
                if ((rc = next(L))) {
                        fx_free(a);
                        return rc;
                }
                if (kw(L, "IS"))
                        return p_is(L, a, out);
                if (L->k == T_OP || kw(L, "IN") || kw(L, "BETWEEN") || kw(L, "LIKE") ||
                    kw(L, "ILIKE")) {
                        rc = lerr(L, L->at,
                                  "a condition in parentheses cannot be compared (use "
                                  "IS TRUE, IS FALSE or IS NULL)");
                        fx_free(a);
                        return rc;
                }
                *out = a;
                return 0;
        }
        if ((rc = p_operand(L, &a)))
                return rc;
        return p_tail(L, a, out);
}

static int p_not(struct lexer *L, struct fx_node **out)
{
        struct fx_node *n;
        size_t at = L->at;
        int rc;

        if (!kw(L, "NOT"))
                return p_pred(L, out);
        if (++L->depth > FX_MAX_DEPTH)
                return lerr(L, at, "condition nested deeper than %d levels", FX_MAX_DEPTH);
        if (!(n = node_new(L, N_NOT, at)))
                return failed(L);
        if ((rc = next(L)) || (rc = p_not(L, &n->a))) {
                fx_free(n);
                return rc;
        }
        L->depth--;
        n->end = n->a->end;
        *out = n;
        return 0;
}

/* Left-assoc chains of AND (p_and) and OR (p_or). */
static int p_chain(struct lexer *L, const char *word, int (*sub)(struct lexer *, struct fx_node **),
                   enum nkind kind, struct fx_node **out)
{
        struct fx_node *left = NULL;
        int rc;

        if ((rc = sub(L, &left)))
                return rc;
        while (kw(L, word)) {
                struct fx_node *n = node_new(L, kind, left->at);
                if (!n) {
                        fx_free(left);
                        return failed(L);
                }
                n->a = left;
                left = n;
                if ((rc = next(L)) || (rc = sub(L, &n->b))) {
                        fx_free(left);
                        return rc;
                }
                n->end = n->b->end;
        }
        *out = left;
        return 0;
}

static int p_and(struct lexer *L, struct fx_node **out)
{
        return p_chain(L, "AND", p_not, N_AND, out);
}

static int p_or(struct lexer *L, struct fx_node **out)
{
        return p_chain(L, "OR", p_and, N_OR, out);
}

int fx_parse(const char *text, size_t start, size_t *end, struct fx_node **out, struct fx_error *e)
{
        struct lexer L = { .t = text, .pos = start, .e = e };
        struct fx_node *n = NULL;
        char buf[64];
        int rc;

        *out = NULL;
        e->msg[0] = '\0';
        if ((rc = next(&L)))
                return rc;
        if (L.k == T_EOF)
                return lerr(&L, L.at, "empty condition");
        if ((rc = p_or(&L, &n)))
                return rc;
        if (L.k != T_EOF) {
                rc = lerr(&L, L.at, "expected AND, OR or the end of the condition, found %s",
                          tok_text(&L, buf, sizeof(buf)));
                fx_free(n);
                return rc;
        }
        if (end)
                *end = L.at;
        *out = n;
        return 0;
}

char *fx_text(const struct fx_node *n, const char *text)
{
        struct fx_error e;
        struct lexer L = { .t = text, .pos = n->at, .e = &e };
        size_t cap = n->end - n->at + 1, len = 0;
        char *s = malloc(cap);

        if (!s)
                return NULL;
        /* The same tokens, one space apart: layout and comments do not count. */
        while (next(&L) == 0 && L.k != T_EOF && L.at < n->end) {
                size_t k = L.end - L.at;
                if (len + k + 2 > cap) {
                        char *m = realloc(s, (cap = (len + k + 2) * 2));
                        if (!m) {
                                free(s);
                                return NULL;
                        }
                        s = m;
                }
                if (len)
                        s[len++] = ' ';
                memcpy(s + len, text + L.at, k);
                len += k;
        }
        s[len] = '\0';
        return s;
}

/* ---- exact numbers --------------------------------------------------------------- */

#define NUM_MAX_EXP    1000 /* |exponent| of a number literal */
#define NUM_MAX_DIGITS 1000

/* A decimal seen as parts, pointing into its text: rank orders the special
 * values as PostgreSQL does (-Infinity < numbers < Infinity < NaN). */
struct dview {
        int rank; /* -1 -Infinity, 0 a number, 1 Infinity, 2 NaN */
        bool neg;
        const char *ip; /* integer digits, no leading zeros */
        size_t il;
        const char *fp; /* fraction digits, no trailing zeros */
        size_t fl;
};

static void dview_of(const char *s, size_t len, struct dview *d)
{
        size_t i = 0;

        memset(d, 0, sizeof(*d));
        if (len == 3 && memcmp(s, "NaN", 3) == 0) {
                d->rank = 2;
                return;
        }
        if (len == 8 && memcmp(s, "Infinity", 8) == 0) {
                d->rank = 1;
                return;
        }
        if (len == 9 && memcmp(s, "-Infinity", 9) == 0) {
                d->rank = -1;
                return;
        }
        if (i < len && (s[i] == '-' || s[i] == '+'))
                d->neg = s[i++] == '-';
        while (i < len && s[i] == '0')
                i++;
        d->ip = s + i;
        while (i < len && is_digit(s[i]))
                i++;
        d->il = (size_t)(s + i - d->ip);
        if (i < len && s[i] == '.') {
                i++;
                d->fp = s + i;
                while (i < len && is_digit(s[i]))
                        i++;
                d->fl = (size_t)(s + i - d->fp);
                while (d->fl > 0 && d->fp[d->fl - 1] == '0')
                        d->fl--;
        }
        if (d->il == 0 && d->fl == 0)
                d->neg = false; /* -0.00 is zero */
}

static int dcmp(const struct dview *a, const struct dview *b)
{
        int mag = 0;

        if (a->rank != b->rank)
                return a->rank < b->rank ? -1 : 1;
        if (a->rank != 0)
                return 0;
        if (a->neg != b->neg)
                return a->neg ? -1 : 1;
        if (a->il != b->il) {
                mag = a->il < b->il ? -1 : 1;
        } else if (a->il && (mag = memcmp(a->ip, b->ip, a->il)) != 0) {
                mag = mag < 0 ? -1 : 1;
        } else {
                size_t n = a->fl > b->fl ? a->fl : b->fl;
                for (size_t i = 0; i < n && mag == 0; i++) {
                        char x = i < a->fl ? a->fp[i] : '0', y = i < b->fl ? b->fp[i] : '0';
                        mag = (x > y) - (x < y);
                }
        }
        return a->neg ? -mag : mag;
}

/* The exact value of a number as written ("-1.50e2", ".5", "007") as
 * canonical decimal text "[-]I[.F]": no leading zeros in I ("0" when none),
 * no trailing zeros in F, no "-0". Returns malloc'd text, or NULL with *why
 * set (NULL when out of memory). */
static char *num_canon(const char *s, size_t len, const char **why)
{
        size_t i = 0, nd = 0, intd = 0;
        bool neg = false, any = false;
        long exp = 0;
        char *digits, *out;

        *why = NULL;
        if (i < len && (s[i] == '-' || s[i] == '+'))
                neg = s[i++] == '-';
        if (!(digits = malloc(len + 1)))
                return NULL;
        for (; i < len && is_digit(s[i]); i++, intd++, any = true)
                digits[nd++] = s[i];
        if (i < len && s[i] == '.')
                for (i++; i < len && is_digit(s[i]); i++, any = true)
                        digits[nd++] = s[i];
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
                bool eneg = false, edig = false;
                i++;
                if (i < len && (s[i] == '-' || s[i] == '+'))
                        eneg = s[i++] == '-';
                for (; i < len && is_digit(s[i]); i++, edig = true)
                        if (exp <= NUM_MAX_EXP)
                                exp = exp * 10 + (s[i] - '0');
                if (!edig)
                        any = false;
                if (eneg)
                        exp = -exp;
        }
        if (!any || i != len) {
                free(digits);
                *why = "not a number";
                return NULL;
        }
        if (exp > NUM_MAX_EXP || exp < -NUM_MAX_EXP || nd > NUM_MAX_DIGITS) {
                free(digits);
                *why = "number out of range";
                return NULL;
        }
        /* The point sits after intd + exp digits of digits[]. */
        long point = (long)intd + exp;
        size_t cap = nd + (size_t)labs(exp) + 8;
        if (!(out = malloc(cap))) {
                free(digits);
                return NULL;
        }
        size_t n = 0, ip_start;
        if (neg)
                out[n++] = '-';
        ip_start = n;
        if (point <= 0) {
                out[n++] = '0';
        } else {
                for (long k = 0; k < point; k++)
                        out[n++] = (size_t)k < nd ? digits[k] : '0';
        }
        size_t dot = n;
        out[n++] = '.';
        for (long k = point < 0 ? point : 0; k < 0; k++)
                out[n++] = '0';
        for (long k = point > 0 ? point : 0; (size_t)k < nd; k++)
                out[n++] = digits[k];
        free(digits);
        /* Trim: trailing zeros and the point, then leading zeros. */
        while (n > dot + 1 && out[n - 1] == '0')
                n--;
        if (n == dot + 1)
                n = dot;
        size_t lead = ip_start;
        while (lead + 1 < dot && out[lead] == '0')
                lead++;
        memmove(out + ip_start, out + lead, n - lead);
        n -= lead - ip_start;
        out[n] = '\0';
        if (neg && strcmp(out, "-0") == 0)
                memmove(out, out + 1, 2);
        return out;
}

enum iplan { PLAN_INT, PLAN_FIXED };

/* An integer column compared with exact number canon: either a comparison
 * with an int64 (*op, *k) or a result that is the same for every value
 * (*fixed: FX_TRUE or FX_FALSE). */
static enum iplan int_plan(const char *canon, int *op, int64_t *k, uint8_t *fixed)
{
        static const uint8_t above[] = { [C_EQ] = FX_FALSE, [C_NE] = FX_TRUE,  [C_LT] = FX_TRUE,
                                         [C_LE] = FX_TRUE,  [C_GT] = FX_FALSE, [C_GE] = FX_FALSE };
        static const uint8_t below[] = { [C_EQ] = FX_FALSE, [C_NE] = FX_TRUE, [C_LT] = FX_FALSE,
                                         [C_LE] = FX_FALSE, [C_GT] = FX_TRUE, [C_GE] = FX_TRUE };
        struct dview d;
        __int128 v = 0;

        dview_of(canon, strlen(canon), &d);
        if (d.il > 20) {
                *fixed = d.neg ? below[*op] : above[*op];
                return PLAN_FIXED;
        }
        for (size_t i = 0; i < d.il; i++)
                v = v * 10 + (d.ip[i] - '0');
        if (d.neg)
                v = -v; /* truncated toward zero */
        if (d.fl > 0) {
                if (*op == C_EQ || *op == C_NE) {
                        *fixed = *op == C_EQ ? FX_FALSE : FX_TRUE;
                        return PLAN_FIXED;
                }
                if (*op == C_LT || *op == C_LE) {
                        v = d.neg ? v - 1 : v; /* floor */
                        *op = C_LE;
                } else {
                        v = d.neg ? v : v + 1; /* ceiling */
                        *op = C_GE;
                }
        }
        if (v > INT64_MAX) {
                *fixed = above[*op];
                return PLAN_FIXED;
        }
        if (v < INT64_MIN) {
                *fixed = below[*op];
                return PLAN_FIXED;
        }
        *k = (int64_t)v;
        return PLAN_INT;
}

/* ---- the program --------------------------------------------------------------------- */

enum iop {
        I_CONST,   /* fixed */
        I_AND,     /* a, b */
        I_OR,      /* a, b */
        I_NOT,     /* a */
        I_ISTRUE,  /* a */
        I_ISFALSE, /* a */
        I_ISUNK,   /* a IS NULL on a condition */
        I_ISNULL,  /* col IS NULL */
        I_BOOLCOL, /* col as a condition */
        I_CMPK,    /* col cmp constant k (or fixed for every value) */
        I_CMPC,    /* col cmp col2 */
        I_IN,      /* col IN list */
        I_LIKE,    /* col LIKE pattern */
};

/* How values of a column compare. */
enum kcls { KC_INT, KC_FLOAT, KC_DEC, KC_BYTES, KC_BOOL, KC_NONE };

/* A constant in its column's terms. */
struct fx_k {
        int64_t i;  /* KC_INT, KC_BOOL */
        double d;   /* KC_FLOAT */
        uint8_t *p; /* KC_BYTES: the bytes (uuid: 16); KC_DEC: canonical text */
        size_t len;
        struct dview dv; /* KC_DEC, into p */
};

#define LK_ONE  0xfffffffeu /* '_' */
#define LK_MANY 0xffffffffu /* '%' */

struct fx_ins {
        uint8_t op;
        uint8_t cmp;
        uint8_t fixed;
        bool neg, ci;
        int a, b;
        int col, col2;
        enum kcls kc;
        struct fx_k k;
        struct fx_k *list;
        int nlist;
        bool list_null;
        uint32_t *pat; /* I_LIKE: code points (folded for ILIKE), LK_ONE, LK_MANY */
        int npat;
        uint8_t *praw; /* I_LIKE: the pattern and escape as written, for SQL */
        size_t praw_len;
        int esc; /* -1: none */
};

struct fx_prog {
        struct fx_ins *ins;
        int n, cap;
        int ncols;
        bool *uses; /* per column of the schema */
};

static void k_free(struct fx_k *k)
{
        free(k->p);
}

void fx_prog_free(struct fx_prog *p)
{
        if (!p)
                return;
        for (int i = 0; i < p->n; i++) {
                struct fx_ins *in = &p->ins[i];
                k_free(&in->k);
                for (int j = 0; j < in->nlist; j++)
                        k_free(&in->list[j]);
                free(in->list);
                free(in->pat);
                free(in->praw);
        }
        free(p->ins);
        free(p->uses);
        free(p);
}

bool fx_prog_uses(const struct fx_prog *p, int col)
{
        return col >= 0 && col < p->ncols && p->uses[col];
}

struct cctx {
        const struct zetl_schema *s;
        const char *text; /* for messages: the literal as written */
        struct fx_prog *p;
        struct fx_error *e;
};

static int cerr(struct cctx *c, size_t at, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int cerr(struct cctx *c, size_t at, const char *fmt, ...)
{
        va_list ap;

        c->e->at = at;
        va_start(ap, fmt);
        vsnprintf(c->e->msg, sizeof(c->e->msg), fmt, ap);
        va_end(ap);
        return ZETL_EINVAL;
}

/* Append an instruction; *reg gets its register. */
static int emit(struct cctx *c, const struct fx_ins *in, int *reg)
{
        struct fx_prog *p = c->p;

        if (p->n == p->cap) {
                int ncap = p->cap ? p->cap * 2 : 16;
                struct fx_ins *n = realloc(p->ins, (size_t)ncap * sizeof(*n));
                if (!n)
                        return nomem(c->e);
                p->ins = n;
                p->cap = ncap;
        }
        p->ins[p->n] = *in;
        if (in->op >= I_ISNULL) {
                p->uses[in->col] = true;
                if (in->op == I_CMPC)
                        p->uses[in->col2] = true;
        }
        *reg = p->n++;
        return 0;
}

static enum kcls kclass(enum zetl_type t)
{
        switch (t) {
        case ZETL_T_BOOL:
                return KC_BOOL;
        case ZETL_T_INT16:
        case ZETL_T_INT32:
        case ZETL_T_INT64:
        case ZETL_T_DATE:
        case ZETL_T_TIME:
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                return KC_INT;
        case ZETL_T_FLOAT32:
        case ZETL_T_FLOAT64:
                return KC_FLOAT;
        case ZETL_T_DECIMAL:
                return KC_DEC;
        case ZETL_T_STRING:
        case ZETL_T_BYTES:
        case ZETL_T_UUID:
                return KC_BYTES;
        default:
                return KC_NONE;
        }
}

static bool is_intn(enum zetl_type t)
{
        return t == ZETL_T_INT16 || t == ZETL_T_INT32 || t == ZETL_T_INT64;
}

static bool is_numeric(enum zetl_type t)
{
        return is_intn(t) || t == ZETL_T_FLOAT32 || t == ZETL_T_FLOAT64 || t == ZETL_T_DECIMAL;
}

/* The column named by n: an exact match, else (unquoted names only) the one
 * column whose name matches ignoring case. */
static int resolve(struct cctx *c, const struct fx_node *n, int *col)
{
        char tname[ZETL_NAME_MAX * 3];
        int found = zetl_schema_find(c->s, n->s);

        if (found < 0 && !n->quoted) {
                for (int i = 0; i < c->s->ncols; i++) {
                        if (strcasecmp(c->s->cols[i].name, n->s) != 0)
                                continue;
                        if (found >= 0)
                                return cerr(c, n->at,
                                            "column name %s is ambiguous in %s: quote it "
                                            "(\"%s\" or \"%s\")",
                                            n->s,
                                            zetl_table_id_str(&c->s->id, tname, sizeof(tname)),
                                            c->s->cols[found].name, c->s->cols[i].name);
                        found = i;
                }
        }
        if (found < 0)
                return cerr(c, n->at, "no column \"%s\" in %s", n->s,
                            zetl_table_id_str(&c->s->id, tname, sizeof(tname)));
        *col = found;
        return 0;
}

static const char *lit_shown(struct cctx *c, const struct fx_node *n, char *buf, size_t len)
{
        size_t k = n->end - n->at;

        if (k > 40)
                snprintf(buf, len, "%.37s...", c->text + n->at);
        else
                snprintf(buf, len, "%.*s", (int)k, c->text + n->at);
        return buf;
}

static int mismatch(struct cctx *c, const struct fx_node *lit, int col, const char *hint)
{
        char buf[64];
        const struct zetl_column *cl = &c->s->cols[col];

        return cerr(c, lit->at, "cannot compare column \"%s\" (%s) with %s%s", cl->name,
                    zetl_type_name(cl->type), lit_shown(c, lit, buf, sizeof(buf)), hint);
}

static bool word_is(const struct fx_node *n, const char *const *words)
{
        for (int i = 0; words[i]; i++)
                if (n->len == strlen(words[i]) && strncasecmp(n->s, words[i], n->len) == 0)
                        return true;
        return false;
}

/* A float from a number literal or a numeric string ('NaN', 'Infinity' too). */
static int float_of(const struct fx_node *lit, double *out)
{
        static const char *const nan[] = { "NaN", NULL };
        static const char *const inf[] = { "Infinity", "+Infinity", "inf", "+inf", NULL };
        static const char *const ninf[] = { "-Infinity", "-inf", NULL };
        const char *why;
        char *canon, *end;

        if (lit->lk == L_STR && word_is(lit, nan)) {
                *out = NAN;
        } else if (lit->lk == L_STR && word_is(lit, inf)) {
                *out = INFINITY;
        } else if (lit->lk == L_STR && word_is(lit, ninf)) {
                *out = -INFINITY;
        } else {
                if (!(canon = num_canon(lit->s, strlen(lit->s), &why)))
                        return why ? ZETL_EINVAL : ZETL_ENOMEM;
                free(canon);
                *out = strtod(lit->s, &end);
        }
        return 0;
}

/* The value of literal lit (not NULL) for a comparison with column col. For
 * integer columns k->p gets the exact number as canonical text (the caller
 * plans the comparison, see int_plan); every other type gets its value. */
static int coerce_value(struct cctx *c, const struct fx_node *lit, int col, struct fx_k *k)
{
        static const char *const yes[] = { "t", "true", "y", "yes", "on", "1", NULL };
        static const char *const no[] = { "f", "false", "n", "no", "off", "0", NULL };
        const struct zetl_column *cl = &c->s->cols[col];
        enum lkind lk = lit->lk;
        const char *why = NULL;
        int32_t d;
        int rc;

        memset(k, 0, sizeof(*k));
        switch (cl->type) {
        case ZETL_T_BOOL:
                if (lk == L_BOOL)
                        k->i = lit->bval;
                else if (lk == L_STR && word_is(lit, yes))
                        k->i = 1;
                else if (lk == L_STR && word_is(lit, no))
                        k->i = 0;
                else
                        return mismatch(c, lit, col, " (write TRUE or FALSE)");
                return 0;
        case ZETL_T_INT16:
        case ZETL_T_INT32:
        case ZETL_T_INT64:
        case ZETL_T_DECIMAL:
                if (cl->type == ZETL_T_DECIMAL && lk == L_STR &&
                    ((lit->len == 3 && memcmp(lit->s, "NaN", 3) == 0) ||
                     (lit->len == 8 && memcmp(lit->s, "Infinity", 8) == 0) ||
                     (lit->len == 9 && memcmp(lit->s, "-Infinity", 9) == 0))) {
                        if (!(k->p = (uint8_t *)strndup(lit->s, lit->len)))
                                return nomem(c->e);
                } else if (lk == L_NUM || lk == L_STR) {
                        k->p = (uint8_t *)num_canon(lit->s, lk == L_NUM ? strlen(lit->s) : lit->len,
                                                    &why);
                        if (!k->p && !why)
                                return nomem(c->e);
                        if (!k->p)
                                return mismatch(c, lit, col,
                                                strcmp(why, "not a number") == 0
                                                        ? ""
                                                        : ": number out of range");
                } else {
                        return mismatch(c, lit, col, "");
                }
                k->len = strlen((char *)k->p);
                dview_of((char *)k->p, k->len, &k->dv);
                return 0;
        case ZETL_T_FLOAT32:
        case ZETL_T_FLOAT64:
                if (lk != L_NUM && lk != L_STR)
                        return mismatch(c, lit, col, "");
                rc = float_of(lit, &k->d);
                if (rc == ZETL_ENOMEM)
                        return nomem(c->e);
                if (rc)
                        return mismatch(c, lit, col, "");
                /* A real column holds floats: compare with the float nearest
                 * the literal, so real_col = 0.1 finds 0.1. */
                if (cl->type == ZETL_T_FLOAT32 && isfinite(k->d))
                        k->d = (double)(float)k->d;
                return 0;
        case ZETL_T_STRING:
        case ZETL_T_BYTES:
                if (lk != L_STR && !(lk == L_BYTES && cl->type == ZETL_T_BYTES))
                        return mismatch(c, lit, col,
                                        lk == L_NUM ? " (a number: quote it as a string)" : "");
                if (!(k->p = malloc(lit->len ? lit->len : 1)))
                        return nomem(c->e);
                memcpy(k->p, lit->s, lit->len);
                k->len = lit->len;
                return 0;
        case ZETL_T_UUID:
                if (!(k->p = malloc(16)))
                        return nomem(c->e);
                k->len = 16;
                if (lk == L_UUID)
                        memcpy(k->p, lit->uuid, 16);
                else if (lk != L_STR || zetl_parse_uuid(lit->s, lit->len, k->p))
                        return mismatch(c, lit, col, "");
                return 0;
        case ZETL_T_DATE:
                if (lk == L_DATE)
                        k->i = lit->ival;
                else if (lk == L_STR && zetl_parse_date(lit->s, lit->len, &d) == 0)
                        k->i = d;
                else
                        return mismatch(c, lit, col, " (write DATE 'YYYY-MM-DD')");
                return 0;
        case ZETL_T_TIME:
                if (lk == L_TIME)
                        k->i = lit->ival;
                else if (lk != L_STR || zetl_parse_time(lit->s, lit->len, &k->i))
                        return mismatch(c, lit, col, " (write TIME 'HH:MM:SS')");
                return 0;
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                if (lk == L_TS || lk == L_TSTZ)
                        k->i = lit->ival;
                else if (lk == L_DATE && day_usec(lit->ival, &k->i))
                        ;
                else if (lk == L_DATE)
                        return mismatch(c, lit, col, ": out of range");
                else if (lk == L_STR && cl->type == ZETL_T_TIMESTAMP && has_zone(lit->s, lit->len))
                        return mismatch(c, lit, col, " (a time zone for a column without one)");
                else if (lk == L_STR && zetl_parse_timestamp(lit->s, lit->len, &k->i) == 0)
                        ;
                else if (lk == L_STR && zetl_parse_date(lit->s, lit->len, &d) == 0 &&
                         day_usec(d, &k->i))
                        ;
                else
                        return mismatch(c, lit, col, " (write TIMESTAMP 'YYYY-MM-DD HH:MM:SS')");
                return 0;
        default:
                return cerr(c, lit->at, "column \"%s\" (%s) can only be tested with IS [NOT] NULL",
                            cl->name, zetl_type_name(cl->type));
        }
}

static int coerce(struct cctx *c, const struct fx_node *lit, int col, struct fx_k *k)
{
        int rc = coerce_value(c, lit, col, k);

        if (rc) {
                k_free(k);
                k->p = NULL;
        }
        return rc;
}

static const uint8_t flip[] = {
        [C_EQ] = C_EQ, [C_NE] = C_NE, [C_LT] = C_GT, [C_LE] = C_GE, [C_GT] = C_LT, [C_GE] = C_LE
};

static int comp(struct cctx *c, const struct fx_node *n, int *reg);

/* col op lit. */
static int comp_cmpk(struct cctx *c, int col, int op, const struct fx_node *lit, int *reg)
{
        struct fx_ins in = { .op = I_CMPK, .cmp = (uint8_t)op, .col = col };
        enum zetl_type t = c->s->cols[col].type;
        int rc;

        if (lit->lk == L_NULL) {
                /* x = NULL is NULL whatever x is (IS NULL tests for NULL). */
                struct fx_ins k = { .op = I_CONST, .fixed = FX_NULL };
                return emit(c, &k, reg);
        }
        if ((rc = coerce(c, lit, col, &in.k)))
                return rc;
        in.kc = kclass(t);
        if (is_intn(t)) {
                int o = op;
                char *canon = (char *)in.k.p;
                if (int_plan(canon, &o, &in.k.i, &in.fixed) == PLAN_INT)
                        in.cmp = (uint8_t)o;
                free(canon);
                in.k.p = NULL;
        }
        if ((rc = emit(c, &in, reg)))
                k_free(&in.k);
        return rc;
}

static int comp_cmp(struct cctx *c, const struct fx_node *n, int op, const struct fx_node *a,
                    const struct fx_node *b, int *reg)
{
        int ca, cb, rc;

        if (a->kind == N_LIT && b->kind == N_COL)
                return comp_cmp(c, n, flip[op], b, a, reg);
        if (a->kind != N_COL)
                return cerr(c, a->at, "a comparison needs a column on one side");
        if ((rc = resolve(c, a, &ca)))
                return rc;
        if (b->kind == N_LIT)
                return comp_cmpk(c, ca, op, b, reg);
        if ((rc = resolve(c, b, &cb)))
                return rc;
        enum zetl_type ta = c->s->cols[ca].type, tb = c->s->cols[cb].type;
        bool ok = (is_numeric(ta) && is_numeric(tb)) || (ta == tb && kclass(ta) != KC_NONE) ||
                  (is_intn(ta) && is_intn(tb));
        if (!ok)
                return cerr(c, n->at, "cannot compare column \"%s\" (%s) with column \"%s\" (%s)",
                            c->s->cols[ca].name, zetl_type_name(ta), c->s->cols[cb].name,
                            zetl_type_name(tb));
        struct fx_ins in = { .op = I_CMPC, .cmp = (uint8_t)op, .col = ca, .col2 = cb };
        return emit(c, &in, reg);
}

/* Simple case folding for ILIKE: ASCII, Latin-1, Greek and Cyrillic capitals. */
static uint32_t fold(uint32_t cp)
{
        if (cp >= 'A' && cp <= 'Z')
                return cp + 32;
        if (cp < 0xc0)
                return cp;
        if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7) ||
            (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2) || (cp >= 0x410 && cp <= 0x42f))
                return cp + 32;
        if (cp >= 0x400 && cp <= 0x40f)
                return cp + 80;
        return cp;
}

/* The code point at s[*i] (an invalid byte stands for itself, above U+10FFFF). */
static uint32_t u8_next(const uint8_t *s, size_t len, size_t *i)
{
        uint8_t c = s[*i];
        uint32_t cp;
        int n;

        if (c < 0x80) {
                (*i)++;
                return c;
        }
        if (c >= 0xc2 && c <= 0xdf) {
                n = 1;
                cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
                n = 2;
                cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                n = 3;
                cp = c & 0x07;
        } else {
                (*i)++;
                return 0x110000u + c;
        }
        if (*i + (size_t)n >= len) {
                (*i)++;
                return 0x110000u + c;
        }
        for (int k = 1; k <= n; k++) {
                uint8_t d = s[*i + (size_t)k];
                if ((d & 0xc0) != 0x80) {
                        (*i)++;
                        return 0x110000u + c;
                }
                cp = (cp << 6) | (d & 0x3f);
        }
        *i += (size_t)n + 1;
        return cp;
}

static int comp_like(struct cctx *c, const struct fx_node *n, int *reg)
{
        struct fx_ins in = { .op = I_LIKE, .neg = n->neg, .ci = n->ci, .esc = '\\' };
        const struct fx_node *pat = n->b;
        int col, rc;

        if (n->a->kind != N_COL)
                return cerr(c, n->a->at, "%s needs a column on its left", n->ci ? "ILIKE" : "LIKE");
        if ((rc = resolve(c, n->a, &col)))
                return rc;
        in.col = col;
        if (c->s->cols[col].type != ZETL_T_STRING)
                return cerr(c, n->a->at, "%s needs a string column, \"%s\" is %s",
                            n->ci ? "ILIKE" : "LIKE", c->s->cols[col].name,
                            zetl_type_name(c->s->cols[col].type));
        if (pat->kind != N_LIT || pat->lk != L_STR)
                return cerr(c, pat->at, "the pattern of %s must be a string",
                            n->ci ? "ILIKE" : "LIKE");
        if (n->c) {
                if (n->c->kind != N_LIT || n->c->lk != L_STR)
                        return cerr(c, n->c->at, "ESCAPE takes a string of one character");
                size_t i = 0;
                const uint8_t *e = (const uint8_t *)n->c->s;
                if (n->c->len == 0) {
                        in.esc = -1;
                } else {
                        uint32_t cp = u8_next(e, n->c->len, &i);
                        if (i != n->c->len || cp >= 0x110000u)
                                return cerr(c, n->c->at, "ESCAPE takes a string of one character");
                        in.esc = (int)cp;
                }
        }
        const uint8_t *p = (const uint8_t *)pat->s;
        size_t i = 0;
        if (!(in.pat = malloc((pat->len + 1) * sizeof(*in.pat))))
                return nomem(c->e);
        while (i < pat->len) {
                uint32_t cp = u8_next(p, pat->len, &i);
                if (in.esc >= 0 && cp == (uint32_t)in.esc) {
                        if (i >= pat->len) {
                                free(in.pat);
                                return cerr(c, pat->at,
                                            "the pattern ends with its escape character");
                        }
                        cp = u8_next(p, pat->len, &i);
                } else if (cp == '%') {
                        /* %% is %: keep one, so matching stays linear in practice. */
                        if (in.npat > 0 && in.pat[in.npat - 1] == LK_MANY)
                                continue;
                        cp = LK_MANY;
                } else if (cp == '_') {
                        cp = LK_ONE;
                }
                if (n->ci && cp < 0x110000u)
                        cp = fold(cp);
                in.pat[in.npat++] = cp;
        }
        in.praw_len = pat->len;
        if (!(in.praw = malloc(pat->len ? pat->len : 1))) {
                free(in.pat);
                return nomem(c->e);
        }
        memcpy(in.praw, pat->s, pat->len);
        if ((rc = emit(c, &in, reg))) {
                free(in.pat);
                free(in.praw);
        }
        return rc;
}

static int comp_in(struct cctx *c, const struct fx_node *n, int *reg)
{
        struct fx_ins in = { .op = I_IN };
        int col, rc;

        if (n->a->kind != N_COL)
                return cerr(c, n->a->at, "IN needs a column on its left");
        if ((rc = resolve(c, n->a, &col)))
                return rc;
        in.col = col;
        enum zetl_type t = c->s->cols[col].type;
        in.kc = kclass(t);
        if (in.kc == KC_NONE)
                return cerr(c, n->a->at, "column \"%s\" (%s) can only be tested with IS [NOT] NULL",
                            c->s->cols[col].name, zetl_type_name(t));
        if (!(in.list = calloc((size_t)n->nlist, sizeof(*in.list))))
                return nomem(c->e);
        for (int i = 0; i < n->nlist; i++) {
                const struct fx_node *lit = n->list[i];
                struct fx_k k;
                if (lit->kind != N_LIT) {
                        rc = cerr(c, lit->at, "IN takes a list of values, not columns");
                        goto fail;
                }
                if (lit->lk == L_NULL) {
                        in.list_null = true;
                        continue;
                }
                if ((rc = coerce(c, lit, col, &k)))
                        goto fail;
                if (is_intn(t)) {
                        int op = C_EQ;
                        uint8_t fixed = 0;
                        enum iplan pl = int_plan((char *)k.p, &op, &k.i, &fixed);
                        free(k.p);
                        k.p = NULL;
                        if (pl == PLAN_FIXED)
                                continue; /* 19.5 or 2^70: no integer equals it */
                }
                in.list[in.nlist++] = k;
        }
        if ((rc = emit(c, &in, reg)) == 0) {
                if (!n->neg)
                        return 0;
                struct fx_ins no = { .op = I_NOT, .a = *reg };
                return emit(c, &no, reg);
        }
fail:
        for (int i = 0; i < in.nlist; i++)
                k_free(&in.list[i]);
        free(in.list);
        return rc;
}

/* n must be a condition: compile it into a register. */
static int comp(struct cctx *c, const struct fx_node *n, int *reg)
{
        struct fx_ins in = { 0 };
        int col, rc;

        switch (n->kind) {
        case N_AND:
        case N_OR:
                if ((rc = comp(c, n->a, &in.a)) || (rc = comp(c, n->b, &in.b)))
                        return rc;
                in.op = n->kind == N_AND ? I_AND : I_OR;
                return emit(c, &in, reg);
        case N_NOT:
                if ((rc = comp(c, n->a, &in.a)))
                        return rc;
                in.op = I_NOT;
                return emit(c, &in, reg);
        case N_CMP:
                return comp_cmp(c, n, n->op, n->a, n->b, reg);
        case N_BETWEEN: {
                /* a BETWEEN b AND c is a >= b AND a <= c (SQL's asymmetric form). */
                if ((rc = comp_cmp(c, n, C_GE, n->a, n->b, &in.a)) ||
                    (rc = comp_cmp(c, n, C_LE, n->a, n->c, &in.b)))
                        return rc;
                in.op = I_AND;
                if ((rc = emit(c, &in, reg)) || !n->neg)
                        return rc;
                struct fx_ins no = { .op = I_NOT, .a = *reg };
                return emit(c, &no, reg);
        }
        case N_IN:
                return comp_in(c, n, reg);
        case N_LIKE:
                return comp_like(c, n, reg);
        case N_ISNULL:
                if (n->a->kind == N_COL) {
                        if ((rc = resolve(c, n->a, &col)))
                                return rc;
                        in.op = I_ISNULL;
                        in.col = col;
                        in.neg = n->neg;
                        return emit(c, &in, reg);
                }
                if (n->a->kind == N_LIT) {
                        in.op = I_CONST;
                        in.fixed = (n->a->lk == L_NULL) != n->neg ? FX_TRUE : FX_FALSE;
                        return emit(c, &in, reg);
                }
                if ((rc = comp(c, n->a, &in.a)))
                        return rc;
                in.op = I_ISUNK;
                in.neg = n->neg;
                return emit(c, &in, reg);
        case N_ISBOOL:
                if ((rc = comp(c, n->a, &in.a)))
                        return rc;
                in.op = n->op ? I_ISTRUE : I_ISFALSE;
                if ((rc = emit(c, &in, reg)) || !n->neg)
                        return rc;
                {
                        struct fx_ins no = { .op = I_NOT, .a = *reg };
                        return emit(c, &no, reg);
                }
        case N_COL:
                if ((rc = resolve(c, n, &col)))
                        return rc;
                if (c->s->cols[col].type != ZETL_T_BOOL)
                        return cerr(c, n->at,
                                    "column \"%s\" is %s, not a condition (compare it with "
                                    "something)",
                                    c->s->cols[col].name, zetl_type_name(c->s->cols[col].type));
                in.op = I_BOOLCOL;
                in.col = col;
                return emit(c, &in, reg);
        case N_LIT:
                if (n->lk != L_BOOL && n->lk != L_NULL)
                        return cerr(c, n->at, "a value alone is not a condition");
                in.op = I_CONST;
                in.fixed = n->lk == L_NULL ? FX_NULL : n->bval ? FX_TRUE : FX_FALSE;
                return emit(c, &in, reg);
        }
        return cerr(c, n->at, "unexpected expression");
}

int fx_compile(const struct fx_node *n, const char *text, const struct zetl_schema *s,
               struct fx_prog **out, struct fx_error *e)
{
        struct fx_prog *p = calloc(1, sizeof(*p));
        struct cctx c = { .s = s, .text = text, .p = p, .e = e };
        int reg, rc;

        *out = NULL;
        if (!p || !(p->uses = calloc(s->ncols ? (size_t)s->ncols : 1, sizeof(bool)))) {
                free(p);
                return nomem(e);
        }
        p->ncols = s->ncols;
        if ((rc = comp(&c, n, &reg))) {
                fx_prog_free(p);
                return rc;
        }
        *out = p;
        return 0;
}

/* ---- evaluation ---------------------------------------------------------------------- */

/* Three-valued AND (fx_set_and), OR and NOT on sets of possible results. */
#define s_and fx_set_and

static inline uint8_t s_or(uint8_t a, uint8_t b)
{
        uint8_t r = (uint8_t)((a | b) & FX_TRUE) | (uint8_t)(a & b & FX_FALSE);

        if (((a & FX_NULL) && (b & (FX_NULL | FX_FALSE))) ||
            ((b & FX_NULL) && (a & (FX_NULL | FX_FALSE))))
                r |= FX_NULL;
        return r;
}

static inline uint8_t s_not(uint8_t a)
{
        return (uint8_t)(((a & FX_FALSE) << 2) | ((a & FX_TRUE) >> 2) | (a & FX_NULL));
}

/* 0 when the cell holds a value, else its result: NULL, or anything when
 * the source did not send it. */
static inline uint8_t pre(const struct zetl_vec *v, uint32_t r)
{
        if (v->unchanged && zetl_bit_get(v->unchanged, r))
                return FX_ANY;
        return zetl_bit_get(v->validity, r) ? 0 : FX_NULL;
}

/* Result of a comparison by the sign of (value <=> constant). */
static const uint8_t cmp_res[6][3] = {
        [C_EQ] = { FX_FALSE, FX_TRUE, FX_FALSE }, [C_NE] = { FX_TRUE, FX_FALSE, FX_TRUE },
        [C_LT] = { FX_TRUE, FX_FALSE, FX_FALSE }, [C_LE] = { FX_TRUE, FX_TRUE, FX_FALSE },
        [C_GT] = { FX_FALSE, FX_FALSE, FX_TRUE }, [C_GE] = { FX_FALSE, FX_TRUE, FX_TRUE },
};

static inline int64_t get_int(const struct zetl_vec *v, size_t w, uint32_t r)
{
        if (w == 2) {
                int16_t x;
                memcpy(&x, v->values + (size_t)r * 2, 2);
                return x;
        }
        if (w == 4) {
                int32_t x;
                memcpy(&x, v->values + (size_t)r * 4, 4);
                return x;
        }
        int64_t x;
        memcpy(&x, v->values + (size_t)r * 8, 8);
        return x;
}

static inline double get_float(const struct zetl_vec *v, enum zetl_type t, uint32_t r)
{
        if (t == ZETL_T_FLOAT32) {
                float x;
                memcpy(&x, v->values + (size_t)r * 4, 4);
                return x;
        }
        double x;
        memcpy(&x, v->values + (size_t)r * 8, 8);
        return x;
}

static inline const uint8_t *get_bytes(const struct zetl_vec *v, enum zetl_type t, uint32_t r,
                                       size_t *len)
{
        if (t == ZETL_T_UUID) {
                *len = 16;
                return v->values + (size_t)r * 16;
        }
        *len = (size_t)(v->offsets[r + 1] - v->offsets[r]);
        return v->data ? v->data + v->offsets[r] : (const uint8_t *)"";
}

/* NaN equals NaN and sorts above everything, as in PostgreSQL. */
static inline int fcmp(double a, double b)
{
        if (isnan(a))
                return isnan(b) ? 0 : 1;
        if (isnan(b))
                return -1;
        return (a > b) - (a < b);
}

static inline int bcmp_lex(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
        int c = memcmp(a, b, al < bl ? al : bl);

        if (c)
                return c < 0 ? -1 : 1;
        return (al > bl) - (al < bl);
}

static inline int icmp(int64_t a, int64_t b)
{
        return (a > b) - (a < b);
}

/* value of cell (col, r) <=> k, for a cell holding a value. */
static inline int cmp_k(const struct zetl_vec *v, enum zetl_type t, enum kcls kc, size_t w,
                        uint32_t r, const struct fx_k *k)
{
        const uint8_t *p;
        size_t len;
        struct dview d;

        switch (kc) {
        case KC_INT:
                return icmp(get_int(v, w, r), k->i);
        case KC_BOOL:
                return icmp(zetl_bit_get(v->values, r), k->i);
        case KC_FLOAT:
                return fcmp(get_float(v, t, r), k->d);
        case KC_DEC:
                p = get_bytes(v, t, r, &len);
                dview_of((const char *)p, len, &d);
                return dcmp(&d, &k->dv);
        default:
                p = get_bytes(v, t, r, &len);
                return bcmp_lex(p, len, k->p, k->len);
        }
}

static void ev_cmpk(const struct fx_ins *in, const struct zetl_batch *b, uint8_t *o)
{
        const struct zetl_vec *v = &b->cols[in->col];
        enum zetl_type t = b->schema->cols[in->col].type;
        const uint8_t *res = cmp_res[in->cmp];
        size_t w = zetl_type_width(t);
        uint32_t n = b->nrows;

        if (in->fixed) {
                for (uint32_t r = 0; r < n; r++) {
                        uint8_t s = pre(v, r);
                        o[r] = s ? s : in->fixed;
                }
                return;
        }
        /* The common case gets a loop of its own: integers of one width. */
        if (in->kc == KC_INT) {
                int64_t k = in->k.i;
#define INT_LOOP(ctype)                                                                            \
        for (uint32_t r = 0; r < n; r++) {                                                         \
                uint8_t s = pre(v, r);                                                             \
                ctype x;                                                                           \
                if (s) {                                                                           \
                        o[r] = s;                                                                  \
                        continue;                                                                  \
                }                                                                                  \
                memcpy(&x, v->values + (size_t)r * sizeof(x), sizeof(x));                          \
                o[r] = res[((int64_t)x > k) - ((int64_t)x < k) + 1];                               \
        }
                if (w == 2)
                        INT_LOOP(int16_t)
                else if (w == 4)
                        INT_LOOP(int32_t)
                else
                        INT_LOOP(int64_t)
#undef INT_LOOP
                return;
        }
        for (uint32_t r = 0; r < n; r++) {
                uint8_t s = pre(v, r);
                o[r] = s ? s : res[cmp_k(v, t, in->kc, w, r, &in->k) + 1];
        }
}

static void ev_in(const struct fx_ins *in, const struct zetl_batch *b, uint8_t *o)
{
        const struct zetl_vec *v = &b->cols[in->col];
        enum zetl_type t = b->schema->cols[in->col].type;
        size_t w = zetl_type_width(t);
        uint8_t miss = in->list_null ? FX_NULL : FX_FALSE;

        for (uint32_t r = 0; r < b->nrows; r++) {
                uint8_t s = pre(v, r);
                if (s) {
                        o[r] = s;
                        continue;
                }
                o[r] = miss;
                for (int i = 0; i < in->nlist; i++) {
                        if (cmp_k(v, t, in->kc, w, r, &in->list[i]) == 0) {
                                o[r] = FX_TRUE;
                                break;
                        }
                }
        }
}

/* Two cells of one row, both holding values, of types the checker allowed
 * to meet (see comp_cmp). */
static int cell_cmp(const struct zetl_batch *b, int ca, int cb, uint32_t r)
{
        enum zetl_type ta = b->schema->cols[ca].type, tb = b->schema->cols[cb].type;
        const struct zetl_vec *va = &b->cols[ca], *vb = &b->cols[cb];
        enum kcls ka = kclass(ta), kb = kclass(tb);
        char buf[64];
        struct dview da, db;
        const uint8_t *pa, *pb;
        size_t la, lb;

        if (ka == KC_INT && kb == KC_INT)
                return icmp(get_int(va, zetl_type_width(ta), r),
                            get_int(vb, zetl_type_width(tb), r));
        if (ka == KC_BOOL)
                return icmp(zetl_bit_get(va->values, r), zetl_bit_get(vb->values, r));
        if (ka == KC_BYTES) {
                pa = get_bytes(va, ta, r, &la);
                pb = get_bytes(vb, tb, r, &lb);
                return bcmp_lex(pa, la, pb, lb);
        }
        /* Numbers of two kinds. */
        if (ka == KC_FLOAT || kb == KC_FLOAT) {
                double x[2];
                for (int i = 0; i < 2; i++) {
                        enum zetl_type t = i ? tb : ta;
                        const struct zetl_vec *v = i ? vb : va;
                        if (kclass(t) == KC_FLOAT) {
                                x[i] = get_float(v, t, r);
                        } else if (kclass(t) == KC_INT) {
                                x[i] = (double)get_int(v, zetl_type_width(t), r);
                        } else {
                                const uint8_t *p = get_bytes(v, t, r, &la);
                                snprintf(buf, sizeof(buf), "%.*s", (int)(la < 63 ? la : 63), p);
                                x[i] = strtod(buf, NULL);
                                if (strcmp(buf, "Infinity") == 0)
                                        x[i] = INFINITY;
                                else if (strcmp(buf, "-Infinity") == 0)
                                        x[i] = -INFINITY;
                        }
                }
                return fcmp(x[0], x[1]);
        }
        /* Decimals, or an integer and a decimal: exactly, as text. */
        char ibuf[2][24];
        for (int i = 0; i < 2; i++) {
                enum zetl_type t = i ? tb : ta;
                const struct zetl_vec *v = i ? vb : va;
                struct dview *d = i ? &db : &da;
                if (kclass(t) == KC_INT) {
                        int n = snprintf(ibuf[i], sizeof(ibuf[i]), "%lld",
                                         (long long)get_int(v, zetl_type_width(t), r));
                        dview_of(ibuf[i], (size_t)n, d);
                } else {
                        const uint8_t *p = get_bytes(v, t, r, &la);
                        dview_of((const char *)p, la, d);
                }
        }
        return dcmp(&da, &db);
}

static void ev_cmpc(const struct fx_ins *in, const struct zetl_batch *b, uint8_t *o)
{
        const struct zetl_vec *va = &b->cols[in->col], *vb = &b->cols[in->col2];
        const uint8_t *res = cmp_res[in->cmp];

        for (uint32_t r = 0; r < b->nrows; r++) {
                uint8_t sa = pre(va, r), sb = pre(vb, r);
                if (sa == FX_ANY || sb == FX_ANY)
                        o[r] = FX_ANY;
                else if (sa || sb)
                        o[r] = FX_NULL;
                else
                        o[r] = res[cell_cmp(b, in->col, in->col2, r) + 1];
        }
}

/* LIKE by code points: '_' one, '%' any run (greedy, backing up to the last
 * '%' on a mismatch: linear in practice, quadratic at worst). */
static bool like_match(const uint32_t *pat, int np, const uint8_t *s, size_t len, bool ci)
{
        int pi = 0, star = -1;
        size_t si = 0, mark = 0;

        while (si < len) {
                if (pi < np && pat[pi] == LK_MANY) {
                        star = pi++;
                        mark = si;
                        continue;
                }
                if (pi < np) {
                        size_t nx = si;
                        uint32_t cp = u8_next(s, len, &nx);
                        if (ci && cp < 0x110000u)
                                cp = fold(cp);
                        if (pat[pi] == LK_ONE || pat[pi] == cp) {
                                pi++;
                                si = nx;
                                continue;
                        }
                }
                if (star < 0)
                        return false;
                pi = star + 1;
                u8_next(s, len, &mark);
                si = mark;
        }
        while (pi < np && pat[pi] == LK_MANY)
                pi++;
        return pi == np;
}

static void ev_like(const struct fx_ins *in, const struct zetl_batch *b, uint8_t *o)
{
        const struct zetl_vec *v = &b->cols[in->col];
        uint8_t yes = in->neg ? FX_FALSE : FX_TRUE, no = in->neg ? FX_TRUE : FX_FALSE;

        for (uint32_t r = 0; r < b->nrows; r++) {
                uint8_t s = pre(v, r);
                size_t len;
                if (s) {
                        o[r] = s;
                        continue;
                }
                const uint8_t *p = get_bytes(v, ZETL_T_STRING, r, &len);
                o[r] = like_match(in->pat, in->npat, p, len, in->ci) ? yes : no;
        }
}

int fx_eval(const struct fx_prog *p, const struct zetl_batch *b, uint8_t *out, struct zetl_err *err)
{
        uint32_t n = b->nrows;
        uint8_t *regs;

        if (n == 0)
                return 0;
        if (!(regs = malloc((size_t)p->n * n)))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                    "out of memory evaluating a row filter");
        for (int i = 0; i < p->n; i++) {
                const struct fx_ins *in = &p->ins[i];
                uint8_t *o = regs + (size_t)i * n;
                const uint8_t *a = regs + (size_t)in->a * n, *bb = regs + (size_t)in->b * n;
                const struct zetl_vec *v = in->op >= I_ISNULL ? &b->cols[in->col] : NULL;

                switch (in->op) {
                case I_CONST:
                        memset(o, in->fixed, n);
                        break;
                case I_AND:
                        for (uint32_t r = 0; r < n; r++)
                                o[r] = s_and(a[r], bb[r]);
                        break;
                case I_OR:
                        for (uint32_t r = 0; r < n; r++)
                                o[r] = s_or(a[r], bb[r]);
                        break;
                case I_NOT:
                        for (uint32_t r = 0; r < n; r++)
                                o[r] = s_not(a[r]);
                        break;
                case I_ISTRUE:
                        for (uint32_t r = 0; r < n; r++)
                                o[r] = (uint8_t)((a[r] & FX_TRUE) |
                                                 (a[r] & (FX_FALSE | FX_NULL) ? FX_FALSE : 0));
                        break;
                case I_ISFALSE:
                        for (uint32_t r = 0; r < n; r++)
                                o[r] = (uint8_t)((a[r] & FX_FALSE ? FX_TRUE : 0) |
                                                 (a[r] & (FX_TRUE | FX_NULL) ? FX_FALSE : 0));
                        break;
                case I_ISUNK:
                        for (uint32_t r = 0; r < n; r++) {
                                uint8_t x = (uint8_t)((a[r] & FX_NULL ? FX_TRUE : 0) |
                                                      (a[r] & (FX_TRUE | FX_FALSE) ? FX_FALSE : 0));
                                o[r] = in->neg ? s_not(x) : x;
                        }
                        break;
                case I_ISNULL:
                        for (uint32_t r = 0; r < n; r++) {
                                uint8_t s = pre(v, r);
                                /* An unchanged cell: NULL or not, who knows. */
                                uint8_t x = s == FX_ANY    ? (FX_TRUE | FX_FALSE)
                                            : s == FX_NULL ? FX_TRUE
                                                           : FX_FALSE;
                                o[r] = in->neg ? s_not(x) : x;
                        }
                        break;
                case I_BOOLCOL:
                        for (uint32_t r = 0; r < n; r++) {
                                uint8_t s = pre(v, r);
                                o[r] = s ? s : zetl_bit_get(v->values, r) ? FX_TRUE : FX_FALSE;
                        }
                        break;
                case I_CMPK:
                        ev_cmpk(in, b, o);
                        break;
                case I_CMPC:
                        ev_cmpc(in, b, o);
                        break;
                case I_IN:
                        ev_in(in, b, o);
                        break;
                case I_LIKE:
                        ev_like(in, b, o);
                        break;
                }
        }
        memcpy(out, regs + (size_t)(p->n - 1) * n, n);
        free(regs);
        return 0;
}

/* ---- PostgreSQL SQL -------------------------------------------------------------------- */

struct sb {
        char *p;
        size_t len, cap;
        bool oom;
};

static void sb_add(struct sb *s, const char *t, size_t n)
{
        if (s->oom)
                return;
        if (s->len + n + 1 > s->cap) {
                size_t ncap = s->cap ? s->cap : 128;
                while (ncap < s->len + n + 1)
                        ncap *= 2;
                char *m = realloc(s->p, ncap);
                if (!m) {
                        s->oom = true;
                        return;
                }
                s->p = m;
                s->cap = ncap;
        }
        memcpy(s->p + s->len, t, n);
        s->len += n;
        s->p[s->len] = '\0';
}

static void sb_str(struct sb *s, const char *t)
{
        sb_add(s, t, strlen(t));
}

/* Appends t (malloc'd, may be NULL: out of memory) and frees it. */
static void sb_own(struct sb *s, char *t)
{
        if (!t)
                s->oom = true;
        else
                sb_str(s, t);
        free(t);
}

char *fx_pg_ident(const char *name)
{
        size_t n = strlen(name), k = 0;
        char *q = malloc(2 * n + 3);

        if (!q)
                return NULL;
        q[k++] = '"';
        for (size_t i = 0; i < n; i++) {
                if (name[i] == '"')
                        q[k++] = '"';
                q[k++] = name[i];
        }
        q[k++] = '"';
        q[k] = '\0';
        return q;
}

char *fx_pg_string(const uint8_t *p, size_t len)
{
        char *q = malloc(2 * len + 4);
        size_t k = 0;

        if (!q)
                return NULL;
        q[k++] = 'E';
        q[k++] = '\'';
        for (size_t i = 0; i < len; i++) {
                if (p[i] == '\'' || p[i] == '\\')
                        q[k++] = (char)p[i];
                q[k++] = (char)p[i];
        }
        q[k++] = '\'';
        q[k] = '\0';
        return q;
}

static const char *const cmp_sql[] = { "=", "<>", "<", "<=", ">", ">=" };

struct rctx {
        const struct fx_prog *p;
        const struct zetl_schema *s;
        const bool *col_ok;
};

static bool col_pushable(const struct rctx *rc, int col)
{
        enum zetl_type t = rc->s->cols[col].type;

        if (rc->col_ok && !rc->col_ok[col])
                return false;
        return t != ZETL_T_FLOAT32 && t != ZETL_T_FLOAT64;
}

/* A column as an operand: strings in byte order, like zetl. */
static void r_col(struct sb *o, const struct zetl_schema *s, int col, bool collate)
{
        char *q = fx_pg_ident(s->cols[col].name);

        if (collate && s->cols[col].type == ZETL_T_STRING) {
                sb_str(o, "(");
                sb_own(o, q);
                sb_str(o, " COLLATE \"C\")");
        } else {
                sb_own(o, q);
        }
}

/* A constant of column type t. Returns false for what is not rendered. */
static bool r_const(struct sb *o, enum zetl_type t, const struct fx_k *k)
{
        char buf[ZETL_TS_TEXT_MAX + 16];
        const char *cast = NULL;

        switch (t) {
        case ZETL_T_BOOL:
                sb_str(o, k->i ? "true" : "false");
                return true;
        case ZETL_T_INT16:
        case ZETL_T_INT32:
        case ZETL_T_INT64:
                snprintf(buf, sizeof(buf), "%lld", (long long)k->i);
                sb_str(o, buf);
                return true;
        case ZETL_T_DECIMAL:
                sb_own(o, fx_pg_string(k->p, k->len));
                sb_str(o, "::numeric");
                return true;
        case ZETL_T_STRING:
                if (memchr(k->p, 0, k->len))
                        return false;
                sb_own(o, fx_pg_string(k->p, k->len));
                return true;
        case ZETL_T_BYTES: {
                static const char hex[] = "0123456789abcdef";
                char *h = malloc(2 * k->len + 3);
                if (!h) {
                        o->oom = true;
                        return true;
                }
                h[0] = '\\';
                h[1] = 'x';
                for (size_t i = 0; i < k->len; i++) {
                        h[2 + 2 * i] = hex[k->p[i] >> 4];
                        h[3 + 2 * i] = hex[k->p[i] & 15];
                }
                sb_own(o, fx_pg_string((uint8_t *)h, 2 * k->len + 2));
                free(h);
                sb_str(o, "::bytea");
                return true;
        }
        case ZETL_T_UUID:
                zetl_format_uuid(k->p, buf);
                cast = "uuid";
                break;
        case ZETL_T_DATE:
                zetl_format_date((int32_t)k->i, buf);
                cast = "date";
                break;
        case ZETL_T_TIME:
                zetl_format_time(k->i, buf);
                cast = "time";
                break;
        case ZETL_T_TIMESTAMP:
                zetl_format_timestamp(k->i, false, buf);
                cast = "timestamp";
                break;
        case ZETL_T_TIMESTAMPTZ:
                zetl_format_timestamp(k->i, true, buf);
                cast = "timestamptz";
                break;
        default:
                return false;
        }
        /* Years past 9999 or before 1 are written with a sign PostgreSQL reads otherwise. */
        if (buf[0] == '+' || buf[0] == '-')
                return false;
        sb_str(o, "'");
        sb_str(o, buf);
        sb_str(o, "'::");
        sb_str(o, cast);
        return true;
}

/* For every non-NULL value the same result: x IS NOT NULL AND false keeps
 * NULL for NULL, as a comparison would. */
static void r_fixed(struct sb *o, const struct zetl_schema *s, int col, uint8_t fixed)
{
        sb_str(o, "(");
        r_col(o, s, col, false);
        sb_str(o, fixed == FX_TRUE ? " IS NOT NULL OR NULL)" : " IS NULL AND NULL)");
}

static bool render(const struct rctx *rc, int i, struct sb *o)
{
        const struct fx_ins *in = &rc->p->ins[i];
        const struct zetl_schema *s = rc->s;
        enum zetl_type t = in->op >= I_ISNULL ? s->cols[in->col].type : ZETL_T_BOOL;
        char esc[8];

        if (in->op >= I_ISNULL && !col_pushable(rc, in->col))
                return false;
        switch (in->op) {
        case I_CONST:
                sb_str(o, in->fixed == FX_TRUE ? "true" : in->fixed == FX_FALSE ? "false" : "NULL");
                return true;
        case I_AND:
        case I_OR:
                sb_str(o, "(");
                if (!render(rc, in->a, o))
                        return false;
                sb_str(o, in->op == I_AND ? " AND " : " OR ");
                if (!render(rc, in->b, o))
                        return false;
                sb_str(o, ")");
                return true;
        case I_NOT:
        case I_ISTRUE:
        case I_ISFALSE:
        case I_ISUNK:
                sb_str(o, in->op == I_NOT ? "(NOT " : "(");
                if (!render(rc, in->a, o))
                        return false;
                sb_str(o, in->op == I_NOT       ? ")"
                          : in->op == I_ISTRUE  ? " IS TRUE)"
                          : in->op == I_ISFALSE ? " IS FALSE)"
                          : in->neg             ? " IS NOT UNKNOWN)"
                                                : " IS UNKNOWN)");
                return true;
        case I_ISNULL:
                sb_str(o, "(");
                r_col(o, s, in->col, false);
                sb_str(o, in->neg ? " IS NOT NULL)" : " IS NULL)");
                return true;
        case I_BOOLCOL:
                r_col(o, s, in->col, false);
                return true;
        case I_CMPK:
                if (in->fixed) {
                        r_fixed(o, s, in->col, in->fixed);
                        return true;
                }
                sb_str(o, "(");
                r_col(o, s, in->col, true);
                sb_str(o, " ");
                sb_str(o, cmp_sql[in->cmp]);
                sb_str(o, " ");
                if (!r_const(o, t, &in->k))
                        return false;
                sb_str(o, ")");
                return true;
        case I_CMPC:
                if (!col_pushable(rc, in->col2))
                        return false;
                sb_str(o, "(");
                r_col(o, s, in->col, true);
                sb_str(o, " ");
                sb_str(o, cmp_sql[in->cmp]);
                sb_str(o, " ");
                r_col(o, s, in->col2, true);
                sb_str(o, ")");
                return true;
        case I_IN:
                if (in->nlist == 0) {
                        if (in->list_null)
                                sb_str(o, "NULL");
                        else
                                r_fixed(o, s, in->col, FX_FALSE);
                        return true;
                }
                sb_str(o, "(");
                r_col(o, s, in->col, true);
                sb_str(o, " IN (");
                for (int j = 0; j < in->nlist; j++) {
                        if (j)
                                sb_str(o, ", ");
                        if (!r_const(o, t, &in->list[j]))
                                return false;
                }
                sb_str(o, in->list_null ? ", NULL))" : "))");
                return true;
        case I_LIKE:
                /* ILIKE folds case by the server's locale: not what zetl does. */
                if (in->ci || memchr(in->praw, 0, in->praw_len))
                        return false;
                sb_str(o, "(");
                r_col(o, s, in->col, true);
                sb_str(o, in->neg ? " NOT LIKE " : " LIKE ");
                sb_own(o, fx_pg_string(in->praw, in->praw_len));
                sb_str(o, " ESCAPE ");
                if (in->esc < 0) {
                        sb_str(o, "''");
                } else {
                        /* The escape as UTF-8. */
                        uint32_t cp = (uint32_t)in->esc;
                        size_t k = 0;
                        if (cp < 0x80) {
                                esc[k++] = (char)cp;
                        } else if (cp < 0x800) {
                                esc[k++] = (char)(0xc0 | (cp >> 6));
                                esc[k++] = (char)(0x80 | (cp & 0x3f));
                        } else if (cp < 0x10000) {
                                esc[k++] = (char)(0xe0 | (cp >> 12));
                                esc[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                                esc[k++] = (char)(0x80 | (cp & 0x3f));
                        } else {
                                esc[k++] = (char)(0xf0 | (cp >> 18));
                                esc[k++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                                esc[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                                esc[k++] = (char)(0x80 | (cp & 0x3f));
                        }
                        sb_own(o, fx_pg_string((uint8_t *)esc, k));
                }
                sb_str(o, ")");
                return true;
        }
        return false;
}

/* The conjuncts of register i that render, joined by AND into o. */
static void conjuncts(const struct rctx *rc, int i, struct sb *o)
{
        const struct fx_ins *in = &rc->p->ins[i];
        struct sb one = { 0 };

        if (in->op == I_AND) {
                conjuncts(rc, in->a, o);
                conjuncts(rc, in->b, o);
                return;
        }
        if (render(rc, i, &one) && !one.oom) {
                if (o->len)
                        sb_str(o, " AND ");
                sb_str(o, one.p);
        }
        o->oom |= one.oom;
        free(one.p);
}

int fx_prog_pg_sql(const struct fx_prog *p, const struct zetl_schema *s, const bool *col_ok,
                   char **out)
{
        struct rctx rc = { .p = p, .s = s, .col_ok = col_ok };
        struct sb o = { 0 };

        *out = NULL;
        if (p->n == 0)
                return 0;
        conjuncts(&rc, p->n - 1, &o);
        if (o.oom) {
                free(o.p);
                return ZETL_ENOMEM;
        }
        *out = o.p;
        return 0;
}
