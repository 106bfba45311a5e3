/*
 * pg_sink_copy (see pg_sink_copy.h): a batch's net effect per key, and its
 * staging rows in PostgreSQL's binary COPY format or as Redshift literals.
 * Binary COPY is what makes staging cheap: no text formatting or parsing of
 * any value on either side, and no value ever spliced into SQL.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pg_sink_copy.h"
#include "zetl/types.h"

/* PostgreSQL numeric's sign words (numeric.c) and base. */
#define NUM_POS        0x0000
#define NUM_NEG        0x4000
#define NUM_NAN        0xC000
#define NUM_PINF       0xD000
#define NUM_NINF       0xF000
#define NUM_DSCALE_MAX 0x3FFF

/* ---- the plan ---------------------------------------------------------------- */

struct slot {
        uint32_t row;
        uint8_t used, old, op;
};

struct keymap {
        struct slot *s;
        size_t mask;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
        const uint8_t *c = p;

        /* FNV-1a: keys are short and the table only needs a decent spread. */
        for (size_t i = 0; i < n; i++) {
                h ^= c[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

static uint64_t key_hash(const struct zetl_batch *b, uint32_t r)
{
        const struct zetl_schema *s = b->schema;
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (int c = 0; c < s->ncols; c++) {
                enum zetl_type t = s->cols[c].type;
                size_t w = zetl_type_width(t);
                if (s->cols[c].key_pos == 0)
                        continue;
                if (zetl_batch_is_null(b, c, r)) {
                        h = mix(h, "\xff", 1);
                        continue;
                }
                switch (zetl_type_storage(t)) {
                case ZETL_ST_BIT: {
                        uint8_t v = zetl_batch_get_bool(b, c, r);
                        h = mix(h, &v, 1);
                        break;
                }
                case ZETL_ST_FIXED:
                        h = mix(h, b->cols[c].values + (size_t)r * w, w);
                        break;
                case ZETL_ST_VAR: {
                        size_t n;
                        const uint8_t *p = zetl_batch_get_var(b, c, r, &n);
                        h = mix(h, &n, sizeof(n));
                        h = mix(h, p, n);
                        break;
                }
                }
        }
        return h;
}

/* The slot of the key of row r of bt (b or b->old): its entry, or the free
 * slot where it goes. */
static struct slot *lookup(struct keymap *m, const struct zetl_batch *b,
                           const struct zetl_batch *bt, uint32_t r)
{
        size_t i = (size_t)key_hash(bt, r) & m->mask;

        for (;; i = (i + 1) & m->mask) {
                struct slot *s = &m->s[i];
                if (!s->used)
                        return s;
                if (zetl_batch_keys_equal(s->old ? b->old : b, s->row, bt, r))
                        return s;
        }
}

static void set_slot(struct slot *s, uint8_t *final_b, uint8_t *final_old, uint32_t row, bool old,
                     uint8_t op)
{
        if (s->used)
                (s->old ? final_old : final_b)[s->row] = 0;
        s->used = 1;
        s->row = row;
        s->old = old;
        s->op = op;
        (old ? final_old : final_b)[row] = op;
}

/* The row of b->old with row r's old key when the update moved the row. */
static int32_t moved_from(const struct zetl_batch *b, uint32_t r)
{
        int32_t ok = b->old_key ? zetl_batch_old_key_row(b, r) : -1;

        if (ok >= 0 && zetl_batch_keys_equal(b->old, (uint32_t)ok, b, r))
                return -1;
        return ok;
}

static void walk(struct wh_plan *p, struct keymap *m, uint8_t *final_b, uint8_t *final_old)
{
        const struct zetl_batch *b = p->b;

        for (uint32_t r = 0; r < b->nrows; r++) {
                enum zetl_op op = (enum zetl_op)b->ops[r];
                struct slot *s;

                p->prev[r] = WH_NO_ROW;
                if (op == ZETL_OP_DELETE) {
                        set_slot(lookup(m, b, b, r), final_b, final_old, r, false, WH_OP_DELETE);
                        continue;
                }
                if (op == ZETL_OP_UPDATE) {
                        int32_t ok = moved_from(b, r);
                        if (ok >= 0) {
                                s = lookup(m, b, b->old, (uint32_t)ok);
                                if (s->used && s->op == WH_OP_UPSERT)
                                        p->prev[r] = s->row;
                                set_slot(s, final_b, final_old, (uint32_t)ok, true, WH_OP_DELETE);
                                set_slot(lookup(m, b, b, r), final_b, final_old, r, false,
                                         WH_OP_UPSERT);
                                continue;
                        }
                }
                s = lookup(m, b, b, r);
                if (op == ZETL_OP_UPDATE && s->used && s->op == WH_OP_UPSERT)
                        p->prev[r] = s->row;
                set_slot(s, final_b, final_old, r, false, WH_OP_UPSERT);
        }
}

uint32_t wh_plan_cell_row(const struct wh_plan *p, uint32_t i, int col)
{
        uint32_t x = p->rows[i].row;

        while (x != WH_NO_ROW && zetl_batch_is_unchanged(p->b, col, x))
                x = p->prev[x];
        return x;
}

/* Where an upsert's unsent values come from when not from its own key. */
static void find_fill(struct wh_plan *p, struct wh_prow *pr)
{
        const struct zetl_batch *b = p->b;
        uint32_t e = pr->row;
        int32_t ok;

        while (p->prev[e] != WH_NO_ROW)
                e = p->prev[e];
        if ((ok = moved_from(b, e)) >= 0) {
                pr->fill = (uint32_t)ok;
                pr->fill_old = true;
        } else if (!zetl_batch_keys_equal(b, e, b, pr->row)) {
                pr->fill = e;
        }
        if (pr->fill != WH_NO_ROW)
                p->old_fill = true;
}

int wh_plan_build(struct wh_plan *p, const struct zetl_batch *b, struct zetl_err *err)
{
        const struct zetl_schema *s = b->schema;
        uint32_t nold = b->old ? b->old->nrows : 0;
        uint8_t *final_b = NULL, *final_old = NULL;
        struct keymap m = { 0 };
        size_t cap = 16;
        int rc = 0;

        memset(p, 0, sizeof(*p));
        p->b = b;
        while (cap < 2 * ((size_t)b->nrows + nold) + 1)
                cap *= 2;
        p->prev = malloc(((size_t)b->nrows + 1) * sizeof(*p->prev));
        p->rows = malloc(((size_t)b->nrows + nold + 1) * sizeof(*p->rows));
        p->unch = calloc((size_t)s->ncols + 1, sizeof(*p->unch));
        final_b = calloc((size_t)b->nrows + 1, 1);
        final_old = calloc((size_t)nold + 1, 1);
        if (s->nkeys > 0)
                m.s = calloc(cap, sizeof(*m.s));
        if (!p->prev || !p->rows || !p->unch || !final_b || !final_old || (s->nkeys > 0 && !m.s)) {
                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                goto out_free;
        }
        m.mask = cap - 1;
        if (s->nkeys > 0) {
                walk(p, &m, final_b, final_old);
        } else {
                /* Without a key a change cannot be matched to a row: append only. */
                for (uint32_t r = 0; r < b->nrows; r++) {
                        p->prev[r] = WH_NO_ROW;
                        if (b->ops[r] == ZETL_OP_SNAPSHOT || b->ops[r] == ZETL_OP_INSERT)
                                final_b[r] = WH_OP_UPSERT;
                        else
                                p->skipped++;
                }
        }
        for (uint32_t r = 0; r < b->nrows; r++) {
                struct wh_prow *pr;
                bool kept = false;
                if (!final_b[r])
                        continue;
                pr = &p->rows[p->n++];
                *pr = (struct wh_prow){ final_b[r], false, r, WH_NO_ROW, false };
                if (pr->op != WH_OP_UPSERT)
                        continue;
                for (int c = 0; c < s->ncols; c++) {
                        if (s->cols[c].key_pos == 0 && b->cols[c].unchanged_count > 0 &&
                            wh_plan_cell_row(p, p->n - 1, c) == WH_NO_ROW) {
                                p->unch[c] = true;
                                kept = true;
                        }
                }
                if (kept && s->nkeys > 0)
                        find_fill(p, pr);
        }
        for (uint32_t o = 0; o < nold; o++)
                if (final_old[o])
                        p->rows[p->n++] =
                                (struct wh_prow){ WH_OP_DELETE, true, o, WH_NO_ROW, false };
        goto out;
out_free:
        wh_plan_free(p);
out:
        free(m.s);
        free(final_b);
        free(final_old);
        return rc;
}

void wh_plan_free(struct wh_plan *p)
{
        free(p->prev);
        free(p->rows);
        free(p->unch);
        p->prev = NULL;
        p->rows = NULL;
        p->unch = NULL;
        p->n = 0;
}

/* ---- binary COPY ------------------------------------------------------------ */

static void put16(struct wh_buf *o, uint16_t v)
{
        v = htons(v);
        wh_buf_put(o, &v, 2);
}

static void put32(struct wh_buf *o, uint32_t v)
{
        v = htonl(v);
        wh_buf_put(o, &v, 4);
}

static void put64(struct wh_buf *o, uint64_t v)
{
        put32(o, (uint32_t)(v >> 32));
        put32(o, (uint32_t)v);
}

void wh_copy_header(struct wh_buf *o)
{
        /* Signature, flags (no OIDs), header extension length. */
        wh_buf_put(o, "PGCOPY\n\377\r\n\0", 11);
        put32(o, 0);
        put32(o, 0);
}

void wh_copy_trailer(struct wh_buf *o)
{
        put16(o, 0xFFFF);
}

static int bad_value(struct zetl_err *err, const char *what)
{
        return zetl_err_set(err, ZETL_ETABLE, ZETL_ERRC_FATAL, "%s", what);
}

/* NaN and ±Infinity: no digits, the sign word says which. */
static void numeric_special(struct wh_buf *o, uint16_t sign)
{
        put32(o, 8);
        put16(o, 0); /* ndigits */
        put16(o, 0); /* weight */
        put16(o, sign);
        put16(o, 0); /* dscale */
}

int wh_copy_numeric(struct wh_buf *o, const char *s, size_t len, struct zetl_err *err)
{
        const char *dot, *ip, *fp;
        size_t ni, nf, ngroups, g = 0, first, last;
        uint16_t *d;
        bool neg = false;
        int weight;

        if (len == 3 && memcmp(s, "NaN", 3) == 0) {
                numeric_special(o, NUM_NAN);
                return 0;
        }
        if ((len == 8 && memcmp(s, "Infinity", 8) == 0) ||
            (len == 9 && memcmp(s, "-Infinity", 9) == 0)) {
                numeric_special(o, len == 8 ? NUM_PINF : NUM_NINF);
                return 0;
        }
        if (len && s[0] == '-') {
                neg = true;
                s++;
                len--;
        }
        dot = memchr(s, '.', len);
        ip = s;
        ni = dot ? (size_t)(dot - s) : len;
        fp = dot ? dot + 1 : s + len;
        nf = dot ? len - ni - 1 : 0;
        for (size_t i = 0; i < len; i++)
                if ((s[i] < '0' || s[i] > '9') && s + i != dot)
                        return bad_value(err, "a decimal value is not canonical text");
        if (ni == 0 || nf > NUM_DSCALE_MAX)
                return bad_value(err, "a decimal value is not canonical text");
        while (ni > 0 && *ip == '0') {
                ip++;
                ni--;
        }
        /* Base-10000 digits: the integer part grouped from the point leftwards,
         * the fraction from the point rightwards (last group zero-padded). */
        ngroups = (ni + 3) / 4 + (nf + 3) / 4;
        if (!(d = calloc(ngroups + 1, sizeof(*d))))
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        weight = (int)((ni + 3) / 4) - 1;
        for (size_t i = 0; i < ni; i++) {
                size_t pos = (4 - ni % 4) % 4 + i; /* position counting the left padding */
                d[pos / 4] = (uint16_t)(d[pos / 4] * 10 + (ip[i] - '0'));
        }
        g = (ni + 3) / 4;
        for (size_t i = 0; i < nf; i++)
                d[g + i / 4] = (uint16_t)(d[g + i / 4] * 10 + (fp[i] - '0'));
        if (nf % 4)
                for (size_t k = nf % 4; k < 4; k++)
                        d[g + nf / 4] = (uint16_t)(d[g + nf / 4] * 10);
        first = 0;
        last = ngroups;
        while (first < last && d[first] == 0) {
                first++;
                weight--;
        }
        while (last > first && d[last - 1] == 0)
                last--;
        if (first == last) {
                weight = 0;
                neg = false;
        }
        if (weight > INT16_MAX || weight < INT16_MIN || last - first > 0x7FFF) {
                free(d);
                return bad_value(err, "a decimal value is out of PostgreSQL's range");
        }
        put32(o, (uint32_t)(8 + 2 * (last - first)));
        put16(o, (uint16_t)(last - first));
        put16(o, (uint16_t)(int16_t)weight);
        put16(o, neg ? NUM_NEG : NUM_POS);
        put16(o, (uint16_t)nf);
        for (size_t i = first; i < last; i++)
                put16(o, d[i]);
        free(d);
        return 0;
}

int wh_copy_cell(struct wh_buf *o, const struct zetl_batch *b, int col, uint32_t r,
                 struct zetl_err *err)
{
        enum zetl_type t = b->schema->cols[col].type;
        const uint8_t *p;
        size_t n;

        if (zetl_batch_is_null(b, col, r)) {
                put32(o, 0xFFFFFFFF);
                return 0;
        }
        switch (t) {
        case ZETL_T_BOOL:
                put32(o, 1);
                wh_buf_put(o, zetl_batch_get_bool(b, col, r) ? "\1" : "\0", 1);
                return 0;
        case ZETL_T_INT16:
                put32(o, 2);
                put16(o, (uint16_t)zetl_batch_get_i16(b, col, r));
                return 0;
        case ZETL_T_INT32:
                put32(o, 4);
                put32(o, (uint32_t)zetl_batch_get_i32(b, col, r));
                return 0;
        case ZETL_T_INT64:
        case ZETL_T_TIME:
                put32(o, 8);
                put64(o, (uint64_t)zetl_batch_get_i64(b, col, r));
                return 0;
        case ZETL_T_FLOAT32: {
                float f = zetl_batch_get_f32(b, col, r);
                uint32_t u;
                memcpy(&u, &f, 4);
                put32(o, 4);
                put32(o, u);
                return 0;
        }
        case ZETL_T_FLOAT64: {
                double f = zetl_batch_get_f64(b, col, r);
                uint64_t u;
                memcpy(&u, &f, 8);
                put32(o, 8);
                put64(o, u);
                return 0;
        }
        case ZETL_T_DECIMAL:
                p = zetl_batch_get_var(b, col, r, &n);
                return wh_copy_numeric(o, (const char *)p, n, err);
        case ZETL_T_STRING:
        case ZETL_T_BYTES:
        case ZETL_T_JSON:
                p = zetl_batch_get_var(b, col, r, &n);
                if (n > INT32_MAX - 1)
                        return bad_value(err, "a value is larger than PostgreSQL's 1 GB");
                /* jsonb's binary form is a version byte, then the text. */
                put32(o, (uint32_t)n + (t == ZETL_T_JSON));
                if (t == ZETL_T_JSON)
                        wh_buf_put(o, "\1", 1);
                wh_buf_put(o, p, n);
                return 0;
        case ZETL_T_DATE: {
                int32_t v = zetl_batch_get_i32(b, col, r);
                /* INT32_MAX/MIN are ±infinity in both. */
                if (v != INT32_MAX && v != INT32_MIN)
                        v -= ZETL_PG_EPOCH_DAYS;
                put32(o, 4);
                put32(o, (uint32_t)v);
                return 0;
        }
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ: {
                int64_t v = zetl_batch_get_i64(b, col, r);
                if (v != INT64_MAX && v != INT64_MIN &&
                    __builtin_sub_overflow(v, ZETL_PG_EPOCH_USEC, &v))
                        return bad_value(err, "a timestamp is before PostgreSQL's range");
                put32(o, 8);
                put64(o, (uint64_t)v);
                return 0;
        }
        case ZETL_T_UUID:
                put32(o, 16);
                wh_buf_put(o, zetl_batch_get_uuid(b, col, r), 16);
                return 0;
        default:
                return bad_value(err, "a column has an unknown type");
        }
}

static bool has_u(const struct zetl_schema *s, const struct wh_stage_shape *sh, int c)
{
        return sh && sh->unch && sh->unch[c] && s->cols[c].key_pos == 0;
}

/* Each staging column of row i: the batch and row its cell comes from
 * (NULL batch: SQL NULL), or for u<i> a flag. One walk for both encoders. */
typedef int (*cell_fn)(struct wh_buf *o, enum wh_dialect d, const struct zetl_batch *b, int col,
                       uint32_t r, struct zetl_err *err);

static int emit_row(struct wh_buf *o, enum wh_dialect d, const struct wh_plan *p, uint32_t i,
                    const struct wh_stage_shape *sh, cell_fn cell,
                    void (*flag)(struct wh_buf *o, bool on), struct zetl_err *err)
{
        const struct zetl_batch *b = p->b;
        const struct zetl_schema *s = b->schema;
        const struct wh_prow *pr = &p->rows[i];
        const struct zetl_batch *src = pr->from_old ? b->old : b;
        int rc;

        for (int c = 0; c < s->ncols; c++) {
                if (pr->op == WH_OP_DELETE) {
                        rc = s->cols[c].key_pos > 0 ? cell(o, d, src, c, pr->row, err)
                                                    : cell(o, d, NULL, c, 0, err);
                } else {
                        uint32_t x = wh_plan_cell_row(p, i, c);
                        rc = cell(o, d, x == WH_NO_ROW ? NULL : b, c, x, err);
                }
                if (rc)
                        return rc;
        }
        for (int c = 0; c < s->ncols; c++)
                if (has_u(s, sh, c))
                        flag(o, pr->op == WH_OP_UPSERT && wh_plan_cell_row(p, i, c) == WH_NO_ROW);
        for (int c = 0; sh && sh->old_fill && c < s->ncols; c++) {
                if (s->cols[c].key_pos == 0)
                        continue;
                if (pr->fill == WH_NO_ROW)
                        rc = cell(o, d, NULL, c, 0, err);
                else
                        rc = cell(o, d, pr->fill_old ? b->old : b, c, pr->fill, err);
                if (rc)
                        return rc;
        }
        return 0;
}

static int copy_cell(struct wh_buf *o, enum wh_dialect d, const struct zetl_batch *b, int col,
                     uint32_t r, struct zetl_err *err)
{
        (void)d;
        if (!b) {
                put32(o, 0xFFFFFFFF);
                return 0;
        }
        return wh_copy_cell(o, b, col, r, err);
}

static void copy_flag(struct wh_buf *o, bool on)
{
        if (on) {
                put32(o, 1);
                wh_buf_put(o, "\1", 1);
        } else {
                put32(o, 0xFFFFFFFF);
        }
}

static int nfields(const struct wh_plan *p, const struct wh_stage_shape *sh)
{
        const struct zetl_schema *s = p->b->schema;
        int n = 1 + s->ncols;

        for (int c = 0; c < s->ncols; c++)
                n += has_u(s, sh, c) + (sh && sh->old_fill && s->cols[c].key_pos > 0);
        return n;
}

int wh_copy_row(struct wh_buf *o, const struct wh_plan *p, uint32_t i,
                const struct wh_stage_shape *sh, struct zetl_err *err)
{
        put16(o, (uint16_t)nfields(p, sh));
        put32(o, 2);
        put16(o, p->rows[i].op);
        return emit_row(o, WH_POSTGRES, p, i, sh, copy_cell, copy_flag, err);
}

int wh_copy_row_direct(struct wh_buf *o, const struct wh_plan *p, uint32_t i, struct zetl_err *err)
{
        put16(o, (uint16_t)p->b->schema->ncols);
        return emit_row(o, WH_POSTGRES, p, i, NULL, copy_cell, copy_flag, err);
}

static int lit_cell(struct wh_buf *o, enum wh_dialect d, const struct zetl_batch *b, int col,
                    uint32_t r, struct zetl_err *err)
{
        wh_buf_puts(o, ", ");
        if (!b) {
                wh_buf_puts(o, "NULL");
                return 0;
        }
        return wh_sql_literal_cell(o, d, b, col, r, err);
}

static void lit_flag(struct wh_buf *o, bool on)
{
        wh_buf_puts(o, on ? ", TRUE" : ", NULL");
}

int wh_values_row(struct wh_buf *o, enum wh_dialect d, const struct wh_plan *p, uint32_t i,
                  const struct wh_stage_shape *sh, struct zetl_err *err)
{
        int rc;

        wh_buf_printf(o, "(%d", p->rows[i].op);
        if ((rc = emit_row(o, d, p, i, sh, lit_cell, lit_flag, err)))
                return rc;
        wh_buf_put(o, ")", 1);
        return 0;
}
