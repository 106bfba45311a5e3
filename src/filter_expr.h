/*
 * Row filter expressions (private to src/filter.c and its tests): a SQL-like
 * condition parsed into a tree, checked against one schema version and
 * compiled into a small vector program, evaluated over a batch's column
 * vectors into one result per row, and rendered as PostgreSQL SQL for
 * publication pushdown.
 *
 * Results are sets: a row whose cells are all known has exactly one result
 * (FX_TRUE, FX_FALSE or FX_NULL, SQL's three values); a cell the source did
 * not send ("unchanged", an unchanged TOASTed value) could be anything, so a
 * condition over it has several possible results, and the caller tells a
 * decided row (one result, or none of them true) from one it cannot judge.
 */
#ifndef ZETL_FILTER_EXPR_H
#define ZETL_FILTER_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/batch.h"
#include "zetl/err.h"
#include "zetl/schema.h"

#define FX_FALSE 1u
#define FX_NULL  2u
#define FX_TRUE  4u
#define FX_ANY   7u

/* Three-valued AND on sets of possible results: a result is in the set when
 * some choice among the operands' possible results gives it. */
static inline uint8_t fx_set_and(uint8_t a, uint8_t b)
{
        uint8_t r = (uint8_t)(((a | b) & FX_FALSE) | (a & b & FX_TRUE));

        if (((a & FX_NULL) && (b & (FX_NULL | FX_TRUE))) ||
            ((b & FX_NULL) && (a & (FX_NULL | FX_TRUE))))
                r |= FX_NULL;
        return r;
}

#define FX_MAX_DEPTH 64    /* nesting of parentheses and operators */
#define FX_MAX_NODES 20000 /* nodes of one expression */
#define FX_MAX_LIST  4096  /* values of one IN list */

/* Where an error is (byte offset into the text given to fx_parse) and why. */
struct fx_error {
        size_t at;
        char msg[256];
};

struct fx_node;
struct fx_prog;

/* Parse the condition that starts at text[start]. It ends at the end of the
 * text or at a newline that is not followed by a space or a tab (so a filter
 * file's condition may continue on indented lines); '#' starts a comment up
 * to the end of its line. *end gets the offset where it ended. Returns 0,
 * ZETL_EINVAL (e: position and reason) or ZETL_ENOMEM. */
int fx_parse(const char *text, size_t start, size_t *end, struct fx_node **out, struct fx_error *e);
void fx_free(struct fx_node *n);
/* The condition's text as written, comments and newlines replaced by spaces
 * (a canonical form for comparing two filters); malloc'd or NULL. */
char *fx_text(const struct fx_node *n, const char *text);

/* Check the condition (parsed from text) against schema s (columns exist,
 * values fit their types) and compile it. The program holds no reference to s; use it only on
 * batches of s. Returns 0, ZETL_EINVAL (e: the node's position and reason)
 * or ZETL_ENOMEM. */
int fx_compile(const struct fx_node *n, const char *text, const struct zetl_schema *s,
               struct fx_prog **out, struct fx_error *e);
void fx_prog_free(struct fx_prog *p);
/* Evaluate over the rows of b into out[0..b->nrows): a set of FX_* bits per
 * row. Thread-safe (the program is read only). Returns 0 or ZETL_ENOMEM. */
int fx_eval(const struct fx_prog *p, const struct zetl_batch *b, uint8_t *out,
            struct zetl_err *err);
/* Does the program read column col of its schema? */
bool fx_prog_uses(const struct fx_prog *p, int col);

/* The part of the condition PostgreSQL evaluates exactly as zetl does, as a
 * boolean SQL expression over quoted column names: the whole condition, or
 * the conjuncts of a top-level AND that qualify (a weaker condition: zetl
 * still evaluates the whole one). A part qualifies when every column it
 * reads has col_ok[i] true (NULL: all do) and it avoids what could differ:
 * floating point columns, ILIKE. Strings compare with COLLATE "C" (zetl
 * compares bytes). *out is NULL when nothing qualifies. Returns 0 or
 * ZETL_ENOMEM. */
int fx_prog_pg_sql(const struct fx_prog *p, const struct zetl_schema *s, const bool *col_ok,
                   char **out);

/* SQL identifier and string literal quoting for PostgreSQL, independent of
 * standard_conforming_strings: "a""b" and E'it''s \\ ok'. malloc'd or NULL. */
char *fx_pg_ident(const char *name);
char *fx_pg_string(const uint8_t *p, size_t len);

#endif
