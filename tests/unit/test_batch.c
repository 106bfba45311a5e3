/*
 * Tests of the columnar batch (zetl/batch.h) and its Arrow export (src/arrow.c).
 * Expectations come from the header's contract and from the Arrow C Data
 * Interface: validity bitmaps with 1 = present, LSB first; bit-packed
 * booleans; int32 offsets starting at 0 and ending at the data length;
 * null_count equal to the number of 0 validity bits; buffers borrowed from the
 * batch; release callbacks that mark the structure released. Every test owns
 * its objects through a fixture whose teardown frees them, so that a failed
 * assertion does not also show up as a leak under ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "zetl/batch.h"

/* ---- fixture -------------------------------------------------------------- */

struct fx {
        struct zetl_schema *s;
        struct zetl_batch *b;
        struct ArrowSchema as;
        struct ArrowArray aa;
        struct zetl_err e;
};

static int fx_setup(void **state)
{
        struct fx *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        *state = f;
        return 0;
}

static int fx_teardown(void **state)
{
        struct fx *f = *state;

        if (f->aa.release)
                f->aa.release(&f->aa);
        if (f->as.release)
                f->as.release(&f->as);
        zetl_batch_free(f->b);
        if (f->s)
                zetl_schema_unref(f->s);
        free(f);
        return 0;
}

struct tcol {
        const char *name;
        enum zetl_type type;
        int key_pos;
};

/* A finished schema for table "t" with the given columns (all nullable). */
static struct zetl_schema *make_schema(const struct tcol *cols, int n)
{
        struct zetl_table_id id;
        struct zetl_schema *s;
        struct zetl_err e = { 0 };

        assert_int_equal(zetl_table_id_set(&id, "db", "public", "t"), 0);
        s = zetl_schema_new(&id, n);
        assert_non_null(s);
        for (int i = 0; i < n; i++) {
                struct zetl_column c = {
                        .name = (char *)cols[i].name,
                        .type = cols[i].type,
                        .precision = cols[i].type == ZETL_T_DECIMAL ? 12 : 0,
                        .scale = cols[i].type == ZETL_T_DECIMAL ? 2 : 0,
                        .nullable = true,
                        .key_pos = cols[i].key_pos,
                };
                if (cols[i].type == ZETL_T_TIME || cols[i].type == ZETL_T_TIMESTAMP ||
                    cols[i].type == ZETL_T_TIMESTAMPTZ)
                        c.precision = 6;
                assert_int_equal(zetl_schema_set_col(s, i, &c), 0);
        }
        assert_int_equal(zetl_schema_finish(s, &e), 0);
        return s;
}

/* Schema and empty batch in the fixture. */
static struct zetl_batch *fx_batch(struct fx *f, const struct tcol *cols, int n, size_t max)
{
        f->s = make_schema(cols, n);
        f->b = zetl_batch_new(f->s, max);
        assert_non_null(f->b);
        assert_int_equal(f->b->nrows, 0);
        assert_int_equal(f->b->cur, -1);
        return f->b;
}

/* ---- generic checks ------------------------------------------------------- */

static int64_t count_zero_bits(const uint8_t *bits, uint32_t n)
{
        int64_t z = 0;

        for (uint32_t i = 0; i < n; i++)
                z += !((bits[i >> 3] >> (i & 7)) & 1);
        return z;
}

/* What Arrow and the header promise of every column of a finished batch. */
static void check_invariants(const struct zetl_batch *b)
{
        assert_true(b->cap >= b->nrows);
        assert_true(b->bytes <= b->max_bytes);
        for (int c = 0; c < b->schema->ncols; c++) {
                const struct zetl_vec *v = &b->cols[c];

                if (b->nrows) {
                        assert_non_null(v->validity);
                        assert_int_equal(v->null_count, count_zero_bits(v->validity, b->nrows));
                } else {
                        assert_int_equal(v->null_count, 0);
                }
                if (v->unchanged) {
                        int64_t set = (int64_t)b->nrows - count_zero_bits(v->unchanged, b->nrows);
                        assert_int_equal(v->unchanged_count, set);
                        for (uint32_t r = 0; r < b->nrows; r++)
                                if (zetl_batch_is_unchanged(b, c, r))
                                        assert_true(zetl_batch_is_null(b, c, r));
                } else {
                        assert_int_equal(v->unchanged_count, 0);
                }
                if (zetl_type_storage(b->schema->cols[c].type) != ZETL_ST_VAR || !b->nrows)
                        continue;
                assert_non_null(v->offsets);
                assert_int_equal(v->offsets[0], 0);
                for (uint32_t r = 0; r < b->nrows; r++)
                        assert_true(v->offsets[r] <= v->offsets[r + 1]);
                assert_int_equal((size_t)v->offsets[b->nrows], v->data_len);
                assert_true(v->data_len <= v->data_cap || v->data_len == 0);
        }
}

static void assert_var(const struct zetl_batch *b, int col, uint32_t r, const void *exp, size_t len)
{
        size_t n = (size_t)-1;
        const uint8_t *p;

        assert_false(zetl_batch_is_null(b, col, r));
        p = zetl_batch_get_var(b, col, r, &n);
        assert_int_equal(n, len);
        assert_non_null(p);
        if (len)
                assert_memory_equal(p, exp, len);
}

static void assert_str(const struct zetl_batch *b, int col, uint32_t r, const char *exp)
{
        assert_var(b, col, r, exp, strlen(exp));
}

static void set_str(struct zetl_batch *b, int col, const char *s)
{
        struct zetl_err e = { 0 };

        assert_int_equal(zetl_batch_set_var(b, col, s, strlen(s), &e), 0);
}

static void begin(struct zetl_batch *b, enum zetl_op op, uint64_t pos)
{
        struct zetl_err e = { 0 };

        assert_int_equal(zetl_batch_row_begin(b, op, pos, &e), 0);
        assert_int_equal(b->cur, (int)b->nrows);
}

/* ---- one column of every type --------------------------------------------- */

enum {
        C_BOOL,
        C_I16,
        C_I32,
        C_I64,
        C_F32,
        C_F64,
        C_DEC,
        C_STR,
        C_BYTES,
        C_DATE,
        C_TIME,
        C_TS,
        C_TSTZ,
        C_UUID,
        C_JSON,
        NALL
};

static const struct tcol all_cols[NALL] = {
        { "c_bool", ZETL_T_BOOL, 0 },        { "c_i16", ZETL_T_INT16, 0 },
        { "c_i32", ZETL_T_INT32, 0 },        { "c_i64", ZETL_T_INT64, 1 },
        { "c_f32", ZETL_T_FLOAT32, 0 },      { "c_f64", ZETL_T_FLOAT64, 0 },
        { "c_dec", ZETL_T_DECIMAL, 0 },      { "c_str", ZETL_T_STRING, 0 },
        { "c_bytes", ZETL_T_BYTES, 0 },      { "c_date", ZETL_T_DATE, 0 },
        { "c_time", ZETL_T_TIME, 0 },        { "c_ts", ZETL_T_TIMESTAMP, 0 },
        { "c_tstz", ZETL_T_TIMESTAMPTZ, 0 }, { "c_uuid", ZETL_T_UUID, 0 },
        { "c_json", ZETL_T_JSON, 0 },
};

/* The Arrow formats as zetl/types.h documents them. */
static const char *const all_formats[NALL] = {
        "b", "s", "i", "l", "f", "g", "u", "u", "z", "tdD", "ttu", "tsu:", "tsu:UTC", "w:16", "u",
};

#define NROWS 1000u

static bool cell_null(uint32_t r, int c)
{
        return (r + (uint32_t)c * 3) % 7 == 0;
}

static enum zetl_op row_op(uint32_t r)
{
        return (enum zetl_op)(r % 4);
}

static uint64_t row_pos(uint32_t r)
{
        if (r % 5 == 0)
                return UINT64_MAX - r;
        return (uint64_t)r * UINT64_C(0x9E3779B97F4A7C15);
}

static bool v_bool(uint32_t r)
{
        return r % 3 == 1;
}

static int16_t v_i16(uint32_t r)
{
        return r == 1 ? INT16_MIN : r == 2 ? INT16_MAX : (int16_t)((int32_t)r * 31 - 15000);
}

static int32_t v_i32(uint32_t r)
{
        return r == 1 ? INT32_MIN : r == 2 ? INT32_MAX : (int32_t)r * 2000003 - 1000000000;
}

static int64_t v_i64(uint32_t r)
{
        return r == 1   ? INT64_MIN
               : r == 2 ? INT64_MAX
                        : ((int64_t)r - 500) * INT64_C(18014398509481);
}

static float v_f32(uint32_t r)
{
        return (float)r * 0.25f - 100.0f;
}

static double v_f64(uint32_t r)
{
        return r == 3 ? 1e300 : (double)r * 0.125 - 62.5;
}

static int32_t v_date(uint32_t r)
{
        return (int32_t)r * 97 - 40000;
}

static int64_t v_time(uint32_t r)
{
        return (int64_t)r * 86399999;
}

static int64_t v_ts(uint32_t r)
{
        return ((int64_t)r - 500) * INT64_C(1234567891011);
}

static int64_t v_tstz(uint32_t r)
{
        return -(int64_t)r * INT64_C(7777777777777);
}

static void v_uuid(uint32_t r, uint8_t u[16])
{
        for (int i = 0; i < 16; i++)
                u[i] = (uint8_t)(r * 11 + (uint32_t)i * 17);
}

/* Text or bytes of a var column at row r into buf; returns the length. */
static size_t v_var(int c, uint32_t r, uint8_t *buf)
{
        size_t n = 0;

        switch (c) {
        case C_DEC:
                n = (size_t)sprintf((char *)buf, "%s%u.%02u", r % 2 ? "-" : "", r * 7, r % 100);
                break;
        case C_STR:
                if (r % 11 != 5) /* some empty strings, which are not NULL */
                        n = (size_t)sprintf((char *)buf, "row-%u-\xc3\xa9", r);
                break;
        case C_BYTES:
                n = (r + 1) % 13;
                for (size_t k = 0; k < n; k++)
                        buf[k] = (uint8_t)(r * 7 + k * 13);
                break;
        case C_JSON:
                n = (size_t)sprintf((char *)buf, "{\"r\":%u,\"s\":\"x\"}", r);
                break;
        default:
                fail_msg("not a var column: %d", c);
        }
        return n;
}

static void set_cell(struct zetl_batch *b, int c, uint32_t r)
{
        struct zetl_err e = { 0 };
        uint8_t buf[64];
        size_t n;

        switch (c) {
        case C_BOOL:
                zetl_batch_set_bool(b, c, v_bool(r));
                break;
        case C_I16:
                zetl_batch_set_i16(b, c, v_i16(r));
                break;
        case C_I32:
                zetl_batch_set_i32(b, c, v_i32(r));
                break;
        case C_I64:
                zetl_batch_set_i64(b, c, v_i64(r));
                break;
        case C_F32:
                zetl_batch_set_f32(b, c, v_f32(r));
                break;
        case C_F64:
                zetl_batch_set_f64(b, c, v_f64(r));
                break;
        case C_DATE:
                zetl_batch_set_i32(b, c, v_date(r));
                break;
        case C_TIME:
                zetl_batch_set_i64(b, c, v_time(r));
                break;
        case C_TS:
                zetl_batch_set_i64(b, c, v_ts(r));
                break;
        case C_TSTZ:
                zetl_batch_set_i64(b, c, v_tstz(r));
                break;
        case C_UUID:
                v_uuid(r, buf);
                zetl_batch_set_uuid(b, c, buf);
                break;
        default:
                n = v_var(c, r, buf);
                assert_int_equal(zetl_batch_set_var(b, c, buf, n, &e), 0);
                break;
        }
}

static void check_cell(const struct zetl_batch *b, int c, uint32_t r)
{
        uint8_t buf[64];
        double d;
        float fl;

        if (cell_null(r, c)) {
                assert_true(zetl_batch_is_null(b, c, r));
                assert_false(zetl_batch_is_unchanged(b, c, r));
                return;
        }
        assert_false(zetl_batch_is_null(b, c, r));
        switch (c) {
        case C_BOOL:
                assert_int_equal(zetl_batch_get_bool(b, c, r), v_bool(r));
                break;
        case C_I16:
                assert_int_equal(zetl_batch_get_i16(b, c, r), v_i16(r));
                break;
        case C_I32:
                assert_int_equal(zetl_batch_get_i32(b, c, r), v_i32(r));
                break;
        case C_I64:
                assert_true(zetl_batch_get_i64(b, c, r) == v_i64(r));
                break;
        case C_F32:
                fl = v_f32(r);
                assert_true(zetl_batch_get_f32(b, c, r) == fl);
                break;
        case C_F64:
                d = v_f64(r);
                assert_true(zetl_batch_get_f64(b, c, r) == d);
                break;
        case C_DATE:
                assert_int_equal(zetl_batch_get_i32(b, c, r), v_date(r));
                break;
        case C_TIME:
                assert_true(zetl_batch_get_i64(b, c, r) == v_time(r));
                break;
        case C_TS:
                assert_true(zetl_batch_get_i64(b, c, r) == v_ts(r));
                break;
        case C_TSTZ:
                assert_true(zetl_batch_get_i64(b, c, r) == v_tstz(r));
                break;
        case C_UUID:
                v_uuid(r, buf);
                assert_memory_equal(zetl_batch_get_uuid(b, c, r), buf, 16);
                break;
        default:
                assert_var(b, c, r, buf, v_var(c, r, buf));
                break;
        }
}

/* Build n rows of the all-types schema. Null cells are left unset, set to NULL
 * explicitly, or (var columns) set to a value and then to NULL; odd rows set
 * their columns in reverse order. */
static void fill_all(struct zetl_batch *b, uint32_t n)
{
        for (uint32_t r = 0; r < n; r++) {
                begin(b, row_op(r), row_pos(r));
                for (int k = 0; k < NALL; k++) {
                        int c = r % 2 ? NALL - 1 - k : k;
                        bool var = zetl_type_storage(all_cols[c].type) == ZETL_ST_VAR;

                        if (!cell_null(r, c)) {
                                set_cell(b, c, r);
                                continue;
                        }
                        if (var && r % 4 == 1)
                                set_cell(b, c, r);
                        if (r % 2)
                                zetl_batch_set_null(b, c);
                }
                zetl_batch_row_end(b);
                assert_int_equal(b->nrows, r + 1);
                assert_int_equal(b->cur, -1);
        }
}

static void test_all_types_round_trip(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, all_cols, NALL, 0);

        assert_int_equal(b->max_bytes, ZETL_BATCH_DEFAULT_MAX_BYTES);
        fill_all(b, NROWS);
        assert_int_equal(b->nrows, NROWS);
        assert_true(b->cap >= NROWS);
        check_invariants(b);
        for (int c = 0; c < NALL; c++) {
                int64_t nulls = 0;

                for (uint32_t r = 0; r < NROWS; r++) {
                        nulls += cell_null(r, c);
                        check_cell(b, c, r);
                }
                assert_int_equal(b->cols[c].null_count, nulls);
                /* No row had an unchanged value: the bitmap was never needed. */
                assert_null(b->cols[c].unchanged);
                assert_int_equal(b->cols[c].unchanged_count, 0);
        }
        for (uint32_t r = 0; r < NROWS; r++) {
                assert_int_equal(b->ops[r], row_op(r));
                assert_true(b->pos[r] == row_pos(r));
                assert_int_equal(zetl_batch_old_key_row(b, r), -1);
        }
}

/* ---- bit layouts ---------------------------------------------------------- */

static void test_bool_bits_lsb_first(void **state)
{
        struct fx *f = *state;
        static const struct tcol cols[] = { { "flag", ZETL_T_BOOL, 0 } };
        struct zetl_batch *b = fx_batch(f, cols, 1, 0);
        /* true at rows 0, 2, 3, 9, 15; NULL at rows 4 and 12 */
        static const int truth[16] = { 1, 0, 1, 1, -1, 0, 0, 0, 0, 1, 0, 0, -1, 0, 0, 1 };

        for (uint32_t r = 0; r < 16; r++) {
                begin(b, ZETL_OP_INSERT, r);
                if (truth[r] >= 0)
                        zetl_batch_set_bool(b, 0, truth[r] == 1);
                zetl_batch_row_end(b);
        }
        /* Values: bit r of byte r / 8, least significant bit first. Bits of
         * NULL rows are unspecified, so they are masked out by validity. */
        assert_int_equal(b->cols[0].validity[0], 0xEF); /* all but row 4 */
        assert_int_equal(b->cols[0].validity[1], 0xEF); /* all but row 12 */
        assert_int_equal(b->cols[0].values[0] & 0xEF, 0x0D);
        assert_int_equal(b->cols[0].values[1] & 0xEF, 0x82);
        assert_int_equal(b->cols[0].null_count, 2);
        for (uint32_t r = 0; r < 16; r++) {
                assert_int_equal(zetl_batch_is_null(b, 0, r), truth[r] < 0);
                if (truth[r] >= 0)
                        assert_int_equal(zetl_batch_get_bool(b, 0, r), truth[r] == 1);
        }

        /* A bool set to true then false in the same row ends false. */
        begin(b, ZETL_OP_INSERT, 16);
        zetl_batch_set_bool(b, 0, true);
        zetl_batch_set_bool(b, 0, false);
        zetl_batch_row_end(b);
        assert_false(zetl_batch_get_bool(b, 0, 16));
        assert_int_equal(b->cols[0].values[2] & 1, 0);
        assert_int_equal(b->cols[0].validity[2] & 1, 1);
        check_invariants(b);
}

/* ---- cells: unset, set twice, empty -------------------------------------- */

static const struct tcol kv_cols[] = {
        { "id", ZETL_T_INT64, 1 },
        { "s", ZETL_T_STRING, 0 },
        { "n", ZETL_T_INT32, 0 },
        { "u", ZETL_T_BYTES, 0 },
};

static void test_unset_column_is_null(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, kv_cols, 4, 0);

        /* Row 0 sets everything, row 1 nothing, row 2 only the key: a value
         * from an earlier row must not leak into a later one. */
        begin(b, ZETL_OP_INSERT, 1);
        zetl_batch_set_i64(b, 0, 7);
        set_str(b, 1, "seven");
        zetl_batch_set_i32(b, 2, 77);
        assert_int_equal(zetl_batch_set_var(b, 3, "\x00\x01", 2, &f->e), 0);
        zetl_batch_row_end(b);
        begin(b, ZETL_OP_INSERT, 2);
        zetl_batch_row_end(b);
        begin(b, ZETL_OP_INSERT, 3);
        zetl_batch_set_i64(b, 0, 8);
        zetl_batch_row_end(b);

        for (int c = 0; c < 4; c++) {
                assert_false(zetl_batch_is_null(b, c, 0));
                assert_true(zetl_batch_is_null(b, c, 1));
                assert_int_equal(zetl_batch_is_null(b, c, 2), c != 0);
        }
        assert_int_equal(b->cols[0].null_count, 1);
        assert_int_equal(b->cols[1].null_count, 2);
        assert_int_equal(b->cols[2].null_count, 2);
        assert_str(b, 1, 0, "seven");
        assert_int_equal(b->cols[1].offsets[1], 5);
        assert_int_equal(b->cols[1].offsets[2], 5);
        assert_int_equal(b->cols[1].offsets[3], 5);
        check_invariants(b);
}

static void test_set_var_twice_keeps_second(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, kv_cols, 4, 0);
        struct zetl_err e = { 0 };
        uint8_t *p;

        begin(b, ZETL_OP_INSERT, 1);
        set_str(b, 1, "a rather long first value");
        set_str(b, 1, "2nd");
        zetl_batch_row_end(b);
        assert_str(b, 1, 0, "2nd");
        assert_int_equal(b->cols[1].offsets[1], 3);
        assert_int_equal(b->cols[1].data_len, 3);

        /* In a later row, after other rows' data. */
        begin(b, ZETL_OP_INSERT, 2);
        set_str(b, 1, "xy");
        zetl_batch_row_end(b);
        begin(b, ZETL_OP_INSERT, 3);
        set_str(b, 1, "first");
        set_str(b, 1, "second!");
        set_str(b, 1, "3");
        zetl_batch_row_end(b);
        assert_str(b, 1, 0, "2nd");
        assert_str(b, 1, 1, "xy");
        assert_str(b, 1, 2, "3");
        assert_int_equal(b->cols[1].data_len, 6);
        assert_memory_equal(b->cols[1].data, "2ndxy3", 6);

        /* Set, then NULL, then set again: the last one wins. */
        begin(b, ZETL_OP_INSERT, 4);
        set_str(b, 1, "gone");
        zetl_batch_set_null(b, 1);
        assert_true(zetl_batch_is_null(b, 1, 3));
        set_str(b, 1, "back");
        zetl_batch_row_end(b);
        assert_str(b, 1, 3, "back");

        /* Reserve and commit a shorter length, then replace by a set. */
        begin(b, ZETL_OP_INSERT, 5);
        p = zetl_batch_var_reserve(b, 1, 32, &e);
        assert_non_null(p);
        memcpy(p, "12.50", 5);
        zetl_batch_var_commit(b, 1, 5);
        zetl_batch_row_end(b);
        assert_str(b, 1, 4, "12.50");
        begin(b, ZETL_OP_INSERT, 6);
        p = zetl_batch_var_reserve(b, 1, 32, &e);
        assert_non_null(p);
        memcpy(p, "-1.00", 5);
        zetl_batch_var_commit(b, 1, 5);
        set_str(b, 1, "0.5");
        zetl_batch_row_end(b);
        assert_str(b, 1, 5, "0.5");
        assert_int_equal(b->cols[1].data_len, 6 + 4 + 5 + 3);
        check_invariants(b);
}

static void test_empty_string_is_not_null(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, kv_cols, 4, 0);
        struct zetl_err e = { 0 };

        /* The very first value of the column is empty: no var data exists yet. */
        begin(b, ZETL_OP_INSERT, 1);
        assert_int_equal(zetl_batch_set_var(b, 1, "", 0, &e), 0);
        assert_int_equal(zetl_batch_set_var(b, 3, "", 0, &e), 0);
        zetl_batch_row_end(b);
        begin(b, ZETL_OP_INSERT, 2);
        zetl_batch_set_null(b, 1);
        zetl_batch_row_end(b);
        begin(b, ZETL_OP_INSERT, 3);
        set_str(b, 1, "x");
        zetl_batch_row_end(b);
        begin(b, ZETL_OP_INSERT, 4);
        set_str(b, 1, "");
        zetl_batch_row_end(b);

        assert_false(zetl_batch_is_null(b, 1, 0));
        assert_var(b, 1, 0, "", 0);
        assert_false(zetl_batch_is_null(b, 3, 0));
        assert_var(b, 3, 0, "", 0);
        assert_true(zetl_batch_is_null(b, 1, 1));
        assert_str(b, 1, 2, "x");
        assert_false(zetl_batch_is_null(b, 1, 3));
        assert_var(b, 1, 3, "", 0);
        assert_int_equal(b->cols[1].null_count, 1);
        check_invariants(b);
}

/* ---- unchanged ------------------------------------------------------------ */

static void test_unchanged_bitmap(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, kv_cols, 4, 0);
        struct zetl_err e = { 0 };
        int64_t nunch = 0;
        size_t before;

        for (uint32_t r = 0; r < 3; r++) {
                begin(b, ZETL_OP_UPDATE, r);
                zetl_batch_set_i64(b, 0, r);
                set_str(b, 1, "abc");
                zetl_batch_set_i32(b, 2, (int32_t)r);
                zetl_batch_row_end(b);
        }
        for (int c = 0; c < 4; c++)
                assert_null(b->cols[c].unchanged);

        /* Row 3: s set first then declared unchanged (its bytes are dropped),
         * n unchanged. */
        begin(b, ZETL_OP_UPDATE, 3);
        zetl_batch_set_i64(b, 0, 3);
        before = b->cols[1].data_len;
        set_str(b, 1, "not kept");
        assert_int_equal(zetl_batch_set_unchanged(b, 1, &e), 0);
        assert_int_equal(b->cols[1].data_len, before);
        assert_int_equal(zetl_batch_set_unchanged(b, 2, &e), 0);
        zetl_batch_row_end(b);

        assert_null(b->cols[0].unchanged);
        assert_non_null(b->cols[1].unchanged);
        assert_non_null(b->cols[2].unchanged);
        assert_null(b->cols[3].unchanged);
        assert_int_equal(b->cols[1].unchanged[0] & 0x0F, 0x08); /* only row 3 */
        assert_int_equal(b->cols[2].unchanged[0] & 0x0F, 0x08);
        assert_int_equal(b->cols[1].unchanged_count, 1);
        assert_int_equal(b->cols[2].unchanged_count, 1);
        for (uint32_t r = 0; r < 3; r++) {
                assert_false(zetl_batch_is_unchanged(b, 1, r));
                assert_false(zetl_batch_is_null(b, 1, r));
        }
        /* An unchanged cell is not a value either. */
        assert_true(zetl_batch_is_unchanged(b, 1, 3));
        assert_true(zetl_batch_is_null(b, 1, 3));
        assert_true(zetl_batch_is_unchanged(b, 2, 3));
        assert_true(zetl_batch_is_null(b, 2, 3));
        assert_false(zetl_batch_is_unchanged(b, 0, 3));
        assert_int_equal(b->cols[1].offsets[4], b->cols[1].offsets[3]);

        /* More rows, past several regrowths: the bitmap grows with the batch. */
        for (uint32_t r = 4; r < 300; r++) {
                begin(b, ZETL_OP_UPDATE, r);
                zetl_batch_set_i64(b, 0, r);
                if (r % 37 == 0)
                        assert_int_equal(zetl_batch_set_unchanged(b, 1, &e), 0);
                else
                        set_str(b, 1, "v");
                zetl_batch_row_end(b);
        }
        for (uint32_t r = 4; r < 300; r++) {
                nunch += r % 37 == 0;
                assert_int_equal(zetl_batch_is_unchanged(b, 1, r), r % 37 == 0);
                assert_int_equal(zetl_batch_is_null(b, 1, r), r % 37 == 0);
                assert_false(zetl_batch_is_unchanged(b, 2, r));
                assert_true(zetl_batch_is_null(b, 2, r));
        }
        assert_int_equal(nunch, 8);
        assert_int_equal(b->cols[1].unchanged_count, 1 + nunch);
        assert_int_equal(b->cols[2].unchanged_count, 1);
        check_invariants(b);
}

/* ---- abort ---------------------------------------------------------------- */

static void test_row_abort(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, kv_cols, 4, 0);
        struct zetl_err e = { 0 };
        size_t len_s, len_u;

        /* Aborting the very first row leaves an empty batch. */
        begin(b, ZETL_OP_INSERT, 1);
        set_str(b, 1, "doomed");
        zetl_batch_row_abort(b);
        assert_int_equal(b->nrows, 0);
        assert_int_equal(b->cur, -1);
        assert_int_equal(b->cols[1].data_len, 0);

        for (uint32_t r = 0; r < 3; r++) {
                begin(b, ZETL_OP_INSERT, r);
                zetl_batch_set_i64(b, 0, r);
                set_str(b, 1, "row");
                set_str(b, 3, "\x01\x02");
                zetl_batch_row_end(b);
        }
        len_s = b->cols[1].data_len;
        len_u = b->cols[3].data_len;
        assert_int_equal(len_s, 9);
        assert_int_equal(len_u, 6);

        begin(b, ZETL_OP_UPDATE, 99);
        zetl_batch_set_i64(b, 0, 99);
        zetl_batch_set_i32(b, 2, 99);
        set_str(b, 1, "a value that is rolled back");
        assert_int_equal(zetl_batch_set_unchanged(b, 3, &e), 0);
        zetl_batch_row_abort(b);
        assert_int_equal(b->nrows, 3);
        assert_int_equal(b->cur, -1);
        assert_int_equal(b->cols[1].data_len, len_s);
        assert_int_equal(b->cols[3].data_len, len_u);
        assert_false(zetl_bit_get(b->cols[3].unchanged, 3));
        assert_int_equal(b->cols[3].unchanged_count, 0);

        /* The next row reuses row 3 and the space of the aborted value. */
        begin(b, ZETL_OP_INSERT, 4);
        assert_int_equal(b->cur, 3);
        set_str(b, 1, "xy");
        zetl_batch_row_end(b);
        assert_int_equal(b->nrows, 4);
        assert_int_equal(b->ops[3], ZETL_OP_INSERT);
        assert_int_equal(b->pos[3], 4);
        assert_int_equal(b->cols[1].offsets[3], (int32_t)len_s);
        assert_int_equal(b->cols[1].offsets[4], (int32_t)len_s + 2);
        assert_int_equal(b->cols[1].data_len, len_s + 2);
        assert_memory_equal(b->cols[1].data + len_s, "xy", 2);
        assert_str(b, 1, 3, "xy");
        /* What the aborted row set is gone. */
        assert_true(zetl_batch_is_null(b, 0, 3));
        assert_true(zetl_batch_is_null(b, 2, 3));
        assert_true(zetl_batch_is_null(b, 3, 3));
        assert_false(zetl_batch_is_unchanged(b, 3, 3));
        assert_int_equal(b->cols[3].unchanged_count, 0);
        for (uint32_t r = 0; r < 3; r++) {
                assert_str(b, 1, r, "row");
                assert_var(b, 3, r, "\x01\x02", 2);
                assert_int_equal(zetl_batch_get_i64(b, 0, r), r);
        }
        check_invariants(b);
}

/* ---- operations and positions --------------------------------------------- */

static void test_ops_and_positions(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, kv_cols, 4, 0);
        static const uint64_t special[] = {
                0, 1, UINT64_MAX, UINT64_MAX - 1, UINT64_C(1) << 63, (UINT64_C(1) << 63) - 1
        };
        const uint32_t n = 300;
        enum zetl_op op;

        for (uint32_t r = 0; r < n; r++) {
                uint64_t pos = r < 6 ? special[r] : row_pos(r);

                begin(b, row_op(r), pos);
                zetl_batch_set_i64(b, 0, r);
                zetl_batch_row_end(b);
        }
        for (uint32_t r = 0; r < n; r++) {
                uint64_t pos = r < 6 ? special[r] : row_pos(r);

                assert_int_equal(b->ops[r], row_op(r));
                assert_true(b->pos[r] == pos);
        }
        assert_true(b->pos[2] == UINT64_MAX);

        assert_string_equal(zetl_op_name(ZETL_OP_SNAPSHOT), "snapshot");
        assert_string_equal(zetl_op_name(ZETL_OP_INSERT), "insert");
        assert_string_equal(zetl_op_name(ZETL_OP_UPDATE), "update");
        assert_string_equal(zetl_op_name(ZETL_OP_DELETE), "delete");
        for (int i = 0; i < 4; i++) {
                assert_int_equal(zetl_op_parse(zetl_op_name((enum zetl_op)i), &op), 0);
                assert_int_equal(op, i);
        }
        assert_int_equal(zetl_op_parse("upsert", &op), ZETL_EINVAL);
        assert_int_equal(zetl_op_parse("", &op), ZETL_EINVAL);
}

/* ---- old keys ------------------------------------------------------------- */

static const struct tcol key_cols[] = {
        { "id", ZETL_T_INT64, 1 },
        { "name", ZETL_T_STRING, 0 },
};

static void test_old_keys(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, key_cols, 2, 0);
        struct zetl_err e = { 0 };
        static const int32_t want[] = { -1, 0, -1, 1, -1, 2 };

        /* r0: insert, before any old key exists. */
        begin(b, ZETL_OP_INSERT, 100);
        zetl_batch_set_i64(b, 0, 1);
        set_str(b, 1, "a");
        zetl_batch_row_end(b);
        assert_int_equal(zetl_batch_old_key_row(b, 0), -1);

        /* r1: key 10 -> 11. */
        begin(b, ZETL_OP_UPDATE, 101);
        zetl_batch_set_i64(b, 0, 11);
        set_str(b, 1, "b");
        assert_true(zetl_batch_old_key_begin(b, &e) >= 0);
        assert_non_null(b->old);
        zetl_batch_set_i64(b->old, 0, 10);
        zetl_batch_row_end(b);

        /* r2: update that keeps its key. */
        begin(b, ZETL_OP_UPDATE, 102);
        zetl_batch_set_i64(b, 0, 2);
        set_str(b, 1, "c");
        zetl_batch_row_end(b);

        /* r3: key 20 -> 21, the old key attached twice (the first is dropped). */
        begin(b, ZETL_OP_UPDATE, 103);
        zetl_batch_set_i64(b, 0, 21);
        assert_true(zetl_batch_old_key_begin(b, &e) >= 0);
        zetl_batch_set_i64(b->old, 0, 999);
        assert_true(zetl_batch_old_key_begin(b, &e) >= 0);
        zetl_batch_set_i64(b->old, 0, 20);
        zetl_batch_row_end(b);

        /* r4: delete, key in the key column, the rest unchanged. */
        begin(b, ZETL_OP_DELETE, 104);
        zetl_batch_set_i64(b, 0, 5);
        assert_int_equal(zetl_batch_set_unchanged(b, 1, &e), 0);
        zetl_batch_row_end(b);

        /* r5: a key-changing update aborted after its old key was attached, then
         * rebuilt: the old batch's row is rolled back and reused. */
        begin(b, ZETL_OP_UPDATE, 105);
        assert_true(zetl_batch_old_key_begin(b, &e) >= 0);
        zetl_batch_set_i64(b->old, 0, 555);
        zetl_batch_row_abort(b);
        assert_int_equal(b->old->nrows, 2);
        assert_int_equal(b->old->cur, -1);
        begin(b, ZETL_OP_UPDATE, 106);
        zetl_batch_set_i64(b, 0, 31);
        assert_true(zetl_batch_old_key_begin(b, &e) >= 0);
        zetl_batch_set_i64(b->old, 0, 30);
        zetl_batch_row_end(b);

        assert_int_equal(b->nrows, 6);
        assert_int_equal(b->old->nrows, 3);
        assert_int_equal(b->old->cur, -1);
        assert_true(zetl_schema_same_shape(b->old->schema, b->schema));
        for (uint32_t r = 0; r < 6; r++)
                assert_int_equal(zetl_batch_old_key_row(b, r), want[r]);
        assert_int_equal(zetl_batch_get_i64(b->old, 0, 0), 10);
        assert_int_equal(zetl_batch_get_i64(b->old, 0, 1), 20);
        assert_int_equal(zetl_batch_get_i64(b->old, 0, 2), 30);
        for (uint32_t k = 0; k < 3; k++) {
                assert_false(zetl_batch_is_null(b->old, 0, k));
                assert_true(zetl_batch_is_null(b->old, 1, k)); /* only key columns set */
        }
        assert_int_equal(zetl_batch_get_i64(b, 0, 1), 11);
        assert_int_equal(zetl_batch_get_i64(b, 0, 3), 21);
        assert_int_equal(zetl_batch_get_i64(b, 0, 5), 31);
        check_invariants(b);
        check_invariants(b->old);
}

/* The header: old_key_begin returns 0 and begins row n of b->old, which
 * zetl_batch_old_key_row then names. */
static void test_old_key_begin_returns_row(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, key_cols, 2, 0);

        for (uint32_t r = 0; r < 4; r++) {
                begin(b, ZETL_OP_UPDATE, r);
                zetl_batch_set_i64(b, 0, r + 100);
                assert_int_equal(zetl_batch_old_key_begin(b, &f->e), 0);
                assert_int_equal(b->old->cur, (int)r);
                zetl_batch_set_i64(b->old, 0, r);
                zetl_batch_row_end(b);
                assert_int_equal(zetl_batch_old_key_row(b, r), (int32_t)r);
        }
}

static void test_old_keys_many(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, key_cols, 2, 0);
        struct zetl_err e = { 0 };
        const uint32_t n = 600;
        int32_t next = 0;

        for (uint32_t r = 0; r < n; r++) {
                bool moved = r % 3 == 2;

                begin(b, moved ? ZETL_OP_UPDATE : ZETL_OP_INSERT, r);
                zetl_batch_set_i64(b, 0, (int64_t)r + 1000000);
                if (moved) {
                        assert_int_equal(zetl_batch_old_key_begin(b, &e), 0);
                        zetl_batch_set_i64(b->old, 0, r);
                }
                zetl_batch_row_end(b);
        }
        assert_int_equal(b->old->nrows, n / 3);
        for (uint32_t r = 0; r < n; r++) {
                int32_t k = zetl_batch_old_key_row(b, r);

                if (r % 3 != 2) {
                        assert_int_equal(k, -1);
                        continue;
                }
                assert_int_equal(k, next++);
                assert_int_equal(zetl_batch_get_i64(b->old, 0, (uint32_t)k), r);
        }
        check_invariants(b);
        check_invariants(b->old);
}

/* ---- reset ---------------------------------------------------------------- */

static void fill_kv(struct zetl_batch *b, uint32_t n, int round, bool extras)
{
        struct zetl_err e = { 0 };
        char buf[32];

        for (uint32_t r = 0; r < n; r++) {
                begin(b, ZETL_OP_INSERT, (uint64_t)round * 1000 + r);
                zetl_batch_set_i64(b, 0, (int64_t)round * 1000 + r);
                sprintf(buf, "r%d-%04u", round, r);
                set_str(b, 1, buf);
                if (extras && r % 10 == 3)
                        assert_int_equal(zetl_batch_set_unchanged(b, 2, &e), 0);
                else
                        zetl_batch_set_i32(b, 2, (int32_t)r * round);
                if (extras && r == 5) {
                        assert_int_equal(zetl_batch_old_key_begin(b, &e), 0);
                        zetl_batch_set_i64(b->old, 0, -5);
                }
                zetl_batch_row_end(b);
        }
}

static void test_reset(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, kv_cols, 4, 0);
        uint8_t *ops, *validity1, *data1, *unch2, *values2;
        int32_t *offsets1;
        uint64_t *pos;
        uint32_t cap;
        size_t bytes, data_cap;
        char buf[32];

        fill_kv(b, 150, 1, true);
        assert_int_equal(b->old->nrows, 1);
        assert_int_equal(b->cols[2].unchanged_count, 15);
        ops = b->ops;
        pos = b->pos;
        validity1 = b->cols[1].validity;
        offsets1 = b->cols[1].offsets;
        data1 = b->cols[1].data;
        unch2 = b->cols[2].unchanged;
        values2 = b->cols[2].values;
        cap = b->cap;
        bytes = b->bytes;
        data_cap = b->cols[1].data_cap;

        zetl_batch_reset(b);
        assert_int_equal(b->nrows, 0);
        assert_int_equal(b->cur, -1);
        assert_int_equal(b->old->nrows, 0);
        for (int c = 0; c < 4; c++) {
                assert_int_equal(b->cols[c].data_len, 0);
                assert_int_equal(b->cols[c].null_count, 0);
                assert_int_equal(b->cols[c].unchanged_count, 0);
        }
        /* The buffers are kept. */
        assert_ptr_equal(b->ops, ops);
        assert_ptr_equal(b->pos, pos);
        assert_ptr_equal(b->cols[1].validity, validity1);
        assert_ptr_equal(b->cols[1].offsets, offsets1);
        assert_ptr_equal(b->cols[1].data, data1);
        assert_ptr_equal(b->cols[2].values, values2);
        assert_int_equal(b->cap, cap);
        assert_int_equal(b->bytes, bytes);
        assert_int_equal(b->cols[1].data_cap, data_cap);
        check_invariants(b);

        /* Refill with as many rows of the same sizes: no growth, and nothing of
         * the first fill shows through (unchanged bits, old keys). */
        fill_kv(b, 150, 2, false);
        assert_ptr_equal(b->ops, ops);
        assert_ptr_equal(b->cols[1].data, data1);
        assert_ptr_equal(b->cols[1].offsets, offsets1);
        if (b->cols[2].unchanged)
                assert_ptr_equal(b->cols[2].unchanged, unch2);
        assert_int_equal(b->bytes, bytes);
        for (uint32_t r = 0; r < 150; r++) {
                sprintf(buf, "r2-%04u", r);
                assert_str(b, 1, r, buf);
                assert_int_equal(zetl_batch_get_i64(b, 0, r), 2000 + r);
                assert_false(zetl_batch_is_unchanged(b, 2, r));
                assert_false(zetl_batch_is_null(b, 2, r));
                assert_int_equal(zetl_batch_get_i32(b, 2, r), (int32_t)r * 2);
                assert_true(zetl_batch_is_null(b, 3, r));
                assert_int_equal(zetl_batch_old_key_row(b, r), -1);
                assert_true(b->pos[r] == 2000 + r);
        }
        assert_int_equal(b->cols[2].unchanged_count, 0);
        assert_int_equal(b->cols[3].null_count, 150);
        assert_int_equal(b->old->nrows, 0);
        check_invariants(b);
}

/* ---- ceilings ------------------------------------------------------------- */

#define SMALL_MAX ((size_t)64 << 10)

static const struct tcol fixed3_cols[] = {
        { "a", ZETL_T_INT64, 1 },
        { "b", ZETL_T_INT64, 0 },
        { "c", ZETL_T_INT64, 0 },
};

/* Rows until the ceiling refuses one: the rows already ended stay intact. */
static uint32_t fill_until_refused(struct zetl_batch *b, struct zetl_err *e)
{
        uint32_t r = 0;
        int rc;

        for (;;) {
                memset(e, 0, sizeof(*e));
                rc = zetl_batch_row_begin(b, ZETL_OP_INSERT, r, e);
                if (rc)
                        break;
                for (int c = 0; c < 3; c++)
                        zetl_batch_set_i64(b, c, (int64_t)r * 3 + c);
                zetl_batch_row_end(b);
                r++;
                assert_true(r < 1000000);
        }
        assert_int_equal(rc, ZETL_ELIMIT);
        assert_int_equal(e->code, ZETL_ELIMIT);
        assert_true(e->msg[0] != '\0');
        assert_int_equal(b->nrows, r);
        assert_int_equal(b->cur, -1);
        return r;
}

static void check_fixed3(const struct zetl_batch *b, uint32_t n)
{
        assert_int_equal(b->nrows, n);
        for (uint32_t r = 0; r < n; r++)
                for (int c = 0; c < 3; c++)
                        assert_true(zetl_batch_get_i64(b, c, r) == (int64_t)r * 3 + c);
        check_invariants(b);
}

static void test_ceiling_rows(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, fixed3_cols, 3, SMALL_MAX);
        uint32_t n;

        assert_int_equal(b->max_bytes, SMALL_MAX);
        n = fill_until_refused(b, &f->e);
        /* A row takes at least 33 bytes (op, position, 3 int64): the ceiling
         * is kept, and not refused after a handful of rows either. */
        assert_true(n < SMALL_MAX / 33);
        assert_true(n >= SMALL_MAX / 33 / 4);
        check_fixed3(b, n);

        /* Refused again, still consistent; then emptied and refilled. */
        memset(&f->e, 0, sizeof(f->e));
        assert_int_equal(zetl_batch_row_begin(b, ZETL_OP_INSERT, 0, &f->e), ZETL_ELIMIT);
        check_fixed3(b, n);
        zetl_batch_reset(b);
        for (uint32_t r = 0; r < n; r++) {
                begin(b, ZETL_OP_INSERT, r);
                for (int c = 0; c < 3; c++)
                        zetl_batch_set_i64(b, c, (int64_t)r * 3 + c);
                zetl_batch_row_end(b);
        }
        check_fixed3(b, n);
}

/* A refused call allocates nothing, so it must not change the accounting:
 * otherwise every retry inflates bytes until the batch refuses rows and
 * values it has room for. */
static void test_ceiling_refusal_keeps_accounting(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, fixed3_cols, 3, SMALL_MAX);
        size_t bytes;

        fill_until_refused(b, &f->e);
        bytes = b->bytes;
        for (int i = 0; i < 3; i++) {
                assert_int_equal(zetl_batch_row_begin(b, ZETL_OP_INSERT, 0, &f->e), ZETL_ELIMIT);
                assert_int_equal(b->bytes, bytes);
        }
}

static void test_ceiling_tiny(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, all_cols, NALL, 100);

        /* Not even the first row fits: refused cleanly, nothing half-built. */
        assert_int_equal(zetl_batch_row_begin(b, ZETL_OP_INSERT, 1, &f->e), ZETL_ELIMIT);
        assert_true(f->e.msg[0] != '\0');
        assert_int_equal(b->nrows, 0);
        assert_int_equal(b->cur, -1);
        assert_true(b->bytes <= 100);
        assert_int_equal(zetl_batch_export_arrow(b, &f->as, &f->aa, &f->e), 0);
        assert_int_equal(f->aa.length, 0);
}

static void test_ceiling_var(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, kv_cols, 4, SMALL_MAX);
        size_t big = 100 << 10;
        uint8_t *blob = calloc(1, big);
        struct zetl_err e = { 0 };

        assert_non_null(blob);
        memset(blob, 'x', big);
        begin(b, ZETL_OP_INSERT, 1);
        zetl_batch_set_i64(b, 0, 1);
        set_str(b, 1, "hello");
        zetl_batch_row_end(b);

        /* A value larger than the whole ceiling. */
        begin(b, ZETL_OP_INSERT, 2);
        zetl_batch_set_i64(b, 0, 2);
        assert_int_equal(zetl_batch_set_var(b, 1, blob, big, &e), ZETL_ELIMIT);
        assert_int_equal(e.code, ZETL_ELIMIT);
        assert_true(e.msg[0] != '\0');
        assert_true(b->bytes <= SMALL_MAX);
        zetl_batch_row_abort(b);
        assert_int_equal(b->nrows, 1);
        assert_int_equal(b->cols[1].data_len, 5);

        /* The batch goes on: the same row again, with a value that fits. */
        begin(b, ZETL_OP_INSERT, 3);
        zetl_batch_set_i64(b, 0, 2);
        set_str(b, 1, "world");
        zetl_batch_row_end(b);
        assert_str(b, 1, 0, "hello");
        assert_str(b, 1, 1, "world");
        check_invariants(b);

        /* Var data growing row by row until refused, from reserve this time. */
        memset(&e, 0, sizeof(e));
        for (uint32_t r = 2;; r++) {
                uint8_t *p;

                begin(b, ZETL_OP_INSERT, r);
                zetl_batch_set_i64(b, 0, r);
                p = zetl_batch_var_reserve(b, 3, 1000, &e);
                if (!p) {
                        zetl_batch_row_abort(b);
                        break;
                }
                memset(p, (int)(r & 0xff), 1000);
                zetl_batch_var_commit(b, 3, 1000);
                zetl_batch_row_end(b);
                assert_true(r < 1000);
        }
        assert_int_equal(e.code, ZETL_ELIMIT);
        assert_true(e.msg[0] != '\0');
        assert_true(b->nrows > 10);
        for (uint32_t r = 2; r < b->nrows; r++) {
                size_t n;
                const uint8_t *p = zetl_batch_get_var(b, 3, r, &n);

                assert_int_equal(n, 1000);
                assert_int_equal(p[0], r & 0xff);
                assert_int_equal(p[999], r & 0xff);
        }
        assert_str(b, 1, 0, "hello");
        assert_str(b, 1, 1, "world");
        check_invariants(b);

        /* Over the per-value limit, whatever the batch's ceiling. */
        memset(&e, 0, sizeof(e));
        begin(b, ZETL_OP_INSERT, 7);
        assert_null(zetl_batch_var_reserve(b, 1, ZETL_VALUE_MAX_BYTES + 1, &e));
        assert_int_equal(e.code, ZETL_ELIMIT);
        assert_true(e.msg[0] != '\0');
        zetl_batch_row_abort(b);
        check_invariants(b);
        free(blob);
}

/* A refused var value in a row whose cell was already set must leave the
 * column consistent: offsets[nrows] == data_len once the row is ended, and
 * the cell either its earlier value or NULL. */
static void test_ceiling_var_after_set(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, kv_cols, 4, SMALL_MAX);
        size_t big = 100 << 10, n;
        uint8_t *blob = calloc(1, big);
        const uint8_t *p;

        assert_non_null(blob);
        begin(b, ZETL_OP_INSERT, 1);
        set_str(b, 1, "abc");
        assert_int_equal(zetl_batch_set_var(b, 1, blob, big, &f->e), ZETL_ELIMIT);
        free(blob);
        zetl_batch_row_end(b);
        assert_int_equal((size_t)b->cols[1].offsets[1], b->cols[1].data_len);
        if (!zetl_batch_is_null(b, 1, 0)) {
                p = zetl_batch_get_var(b, 1, 0, &n);
                assert_int_equal(n, 3);
                assert_memory_equal(p, "abc", 3);
        }
        check_invariants(b);
}

/* ---- Arrow export --------------------------------------------------------- */

/* Value of key in an Arrow metadata blob (int32 count, then length-prefixed
 * keys and values, native endianness), or NULL. */
static const char *meta_find(const char *md, const char *key, int32_t *vlen)
{
        int32_t n, len;
        const char *p = md;

        if (!md)
                return NULL;
        memcpy(&n, p, 4);
        p += 4;
        for (int32_t i = 0; i < n; i++) {
                bool match;

                memcpy(&len, p, 4);
                p += 4;
                match = (size_t)len == strlen(key) && memcmp(p, key, (size_t)len) == 0;
                p += len;
                memcpy(&len, p, 4);
                p += 4;
                if (match) {
                        *vlen = len;
                        return p;
                }
                p += len;
        }
        return NULL;
}

static void check_export_child(const struct zetl_batch *b, const struct ArrowSchema *cs,
                               const struct ArrowArray *ca, int c)
{
        const struct zetl_vec *v = &b->cols[c];
        bool var = zetl_type_storage(b->schema->cols[c].type) == ZETL_ST_VAR;

        assert_string_equal(cs->format, all_formats[c]);
        assert_string_equal(cs->name, b->schema->cols[c].name);
        assert_int_equal(cs->n_children, 0);
        assert_null(cs->dictionary);
        assert_non_null(cs->release);
        assert_true(cs->flags & ARROW_FLAG_NULLABLE);

        assert_int_equal(ca->length, b->nrows);
        assert_int_equal(ca->offset, 0);
        assert_int_equal(ca->null_count, v->null_count);
        assert_int_equal(ca->n_children, 0);
        assert_null(ca->dictionary);
        assert_non_null(ca->release);
        assert_int_equal(ca->n_buffers, var ? 3 : 2);
        assert_non_null(ca->buffers);
        /* The validity bitmap may be omitted only when there is no null. */
        if (v->null_count)
                assert_ptr_equal(ca->buffers[0], v->validity);
        else
                assert_true(ca->buffers[0] == NULL || ca->buffers[0] == v->validity);
        if (var && v->offsets) {
                assert_ptr_equal(ca->buffers[1], v->offsets);
                assert_ptr_equal(ca->buffers[2], v->data);
        } else if (var) {
                /* No row ever: Arrow still wants the one offset of length 0. */
                assert_non_null(ca->buffers[1]);
                assert_int_equal(((const int32_t *)ca->buffers[1])[0], 0);
        } else {
                assert_ptr_equal(ca->buffers[1], v->values);
        }
}

static void check_export(const struct zetl_batch *b, const struct ArrowSchema *s,
                         const struct ArrowArray *a)
{
        int n = b->schema->ncols + 2;

        assert_string_equal(s->format, "+s");
        assert_int_equal(s->n_children, n);
        assert_non_null(s->children);
        assert_null(s->dictionary);
        assert_non_null(s->release);
        assert_int_equal(a->length, b->nrows);
        assert_int_equal(a->offset, 0);
        assert_int_equal(a->null_count, 0);
        assert_int_equal(a->n_buffers, 1);
        assert_non_null(a->buffers);
        assert_null(a->buffers[0]);
        assert_int_equal(a->n_children, n);
        assert_non_null(a->children);
        assert_null(a->dictionary);
        assert_non_null(a->release);
        for (int c = 0; c < b->schema->ncols; c++)
                check_export_child(b, s->children[c], a->children[c], c);

        for (int k = n - 2; k < n; k++) {
                const struct ArrowSchema *cs = s->children[k];
                const struct ArrowArray *ca = a->children[k];
                bool is_op = k == n - 2;

                assert_string_equal(cs->format, is_op ? "c" : "L");
                assert_string_equal(cs->name, is_op ? "_zetl_op" : "_zetl_pos");
                assert_int_equal(cs->n_children, 0);
                assert_non_null(cs->release);
                assert_int_equal(ca->length, b->nrows);
                assert_int_equal(ca->null_count, 0);
                assert_int_equal(ca->offset, 0);
                assert_int_equal(ca->n_buffers, 2);
                assert_int_equal(ca->n_children, 0);
                assert_null(ca->buffers[0]);
                if (is_op)
                        assert_ptr_equal(ca->buffers[1], b->ops);
                else
                        assert_ptr_equal(ca->buffers[1], b->pos);
                assert_non_null(ca->release);
        }
}

static void test_export_arrow(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, all_cols, NALL, 0);
        const struct ArrowArray *ca;
        const int32_t *offs;
        const uint8_t *data, *bits;

        fill_all(b, 200);
        assert_int_equal(zetl_batch_export_arrow(b, &f->as, &f->aa, &f->e), 0);
        check_export(b, &f->as, &f->aa);

        /* Read values as an Arrow consumer would, through the exported buffers. */
        ca = f->aa.children[C_I32];
        for (uint32_t r = 0; r < 200; r++) {
                bits = ca->buffers[0];
                if (cell_null(r, C_I32)) {
                        assert_false(bits[r >> 3] >> (r & 7) & 1);
                        continue;
                }
                assert_int_equal(((const int32_t *)ca->buffers[1])[r], v_i32(r));
        }
        ca = f->aa.children[C_BOOL];
        for (uint32_t r = 0; r < 200; r++)
                if (!cell_null(r, C_BOOL))
                        assert_int_equal(((const uint8_t *)ca->buffers[1])[r >> 3] >> (r & 7) & 1,
                                         v_bool(r));
        ca = f->aa.children[C_STR];
        offs = ca->buffers[1];
        data = ca->buffers[2];
        assert_int_equal(offs[0], 0);
        for (uint32_t r = 0; r < 200; r++) {
                uint8_t buf[64];
                size_t n = v_var(C_STR, r, buf);

                if (cell_null(r, C_STR))
                        continue;
                assert_int_equal(offs[r + 1] - offs[r], (int32_t)n);
                if (n)
                        assert_memory_equal(data + offs[r], buf, n);
        }
        ca = f->aa.children[NALL];
        for (uint32_t r = 0; r < 200; r++)
                assert_int_equal(((const int8_t *)ca->buffers[1])[r], (int8_t)row_op(r));
        ca = f->aa.children[NALL + 1];
        for (uint32_t r = 0; r < 200; r++)
                assert_true(((const uint64_t *)ca->buffers[1])[r] == row_pos(r));

        /* Release: array first, then schema; each marks itself released. */
        f->aa.release(&f->aa);
        assert_null(f->aa.release);
        f->as.release(&f->as);
        assert_null(f->as.release);

        /* Export again, release in the other order: nothing leaks (ASan). */
        assert_int_equal(zetl_batch_export_arrow(b, &f->as, &f->aa, &f->e), 0);
        check_export(b, &f->as, &f->aa);
        f->as.release(&f->as);
        assert_null(f->as.release);
        f->aa.release(&f->aa);
        assert_null(f->aa.release);
}

/* types.h documents metadata on the decimal ("zetl.decimal" = "p,s") and
 * json ("zetl.json") children; the other children carry none. */
static void test_export_arrow_metadata(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, all_cols, NALL, 0);
        const char *val;
        int32_t vlen = -1;

        fill_all(b, 10);
        assert_int_equal(zetl_batch_export_arrow(b, &f->as, &f->aa, &f->e), 0);
        val = meta_find(f->as.children[C_DEC]->metadata, "zetl.decimal", &vlen);
        assert_non_null(val);
        assert_int_equal(vlen, 4);
        assert_memory_equal(val, "12,2", 4);
        assert_non_null(meta_find(f->as.children[C_JSON]->metadata, "zetl.json", &vlen));
        assert_null(f->as.children[C_STR]->metadata);
        assert_null(f->as.children[C_I64]->metadata);
}

static void test_export_arrow_empty(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, all_cols, NALL, 0);

        /* A batch that never had a row. */
        assert_int_equal(zetl_batch_export_arrow(b, &f->as, &f->aa, &f->e), 0);
        check_export(b, &f->as, &f->aa);
        assert_int_equal(f->aa.length, 0);
        for (int c = 0; c < NALL + 2; c++) {
                const struct ArrowArray *ca = f->aa.children[c];

                assert_int_equal(ca->length, 0);
                assert_int_equal(ca->null_count, 0);
                /* Offsets hold length + 1 entries even for an empty array. */
                if (ca->n_buffers == 3) {
                        assert_non_null(ca->buffers[1]);
                        assert_int_equal(((const int32_t *)ca->buffers[1])[0], 0);
                }
        }
        f->aa.release(&f->aa);
        assert_null(f->aa.release);
        f->as.release(&f->as);
        assert_null(f->as.release);

        /* A batch emptied by reset. */
        fill_all(b, 70);
        zetl_batch_reset(b);
        assert_int_equal(zetl_batch_export_arrow(b, &f->as, &f->aa, &f->e), 0);
        check_export(b, &f->as, &f->aa);
        for (int c = 0; c < NALL + 2; c++) {
                const struct ArrowArray *ca = f->aa.children[c];

                assert_int_equal(ca->length, 0);
                if (ca->n_buffers == 3)
                        assert_int_equal(((const int32_t *)ca->buffers[1])[0], 0);
        }
}

/* The C Data Interface lets a consumer move a child array out and release the
 * parent right away, keeping only the columns it wants: the moved child, with
 * its buffers array, must stay valid until its own release. Run in a child
 * process, since a failure is a use after free. */
static void test_export_arrow_move_child(void **state)
{
        struct fx *f = *state;
        struct zetl_batch *b = fx_batch(f, all_cols, NALL, 0);
        int status = 0;
        pid_t pid;

        fill_all(b, 100);
        assert_int_equal(zetl_batch_export_arrow(b, &f->as, &f->aa, &f->e), 0);
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct ArrowArray moved[2];
                const int cols[2] = { C_BOOL, C_STR };
                bool ok = true;

                for (int i = 0; i < 2; i++) {
                        moved[i] = *f->aa.children[cols[i]];
                        f->aa.children[cols[i]]->release = NULL;
                }
                f->aa.release(&f->aa);
                f->as.release(&f->as);
                for (int i = 0; i < 2; i++) {
                        const struct zetl_vec *v = &b->cols[cols[i]];

                        ok = ok && moved[i].release != NULL;
                        ok = ok && moved[i].buffers[0] == (const void *)v->validity;
                        ok = ok &&
                             moved[i].buffers[1] == (cols[i] == C_STR ? (const void *)v->offsets
                                                                      : (const void *)v->values);
                        if (moved[i].release)
                                moved[i].release(&moved[i]);
                        ok = ok && moved[i].release == NULL;
                }
                _exit(ok ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
        const struct CMUnitTest tests[] = {
                T(test_all_types_round_trip),
                T(test_bool_bits_lsb_first),
                T(test_unset_column_is_null),
                T(test_set_var_twice_keeps_second),
                T(test_empty_string_is_not_null),
                T(test_unchanged_bitmap),
                T(test_row_abort),
                T(test_ops_and_positions),
                T(test_old_keys),
                T(test_old_key_begin_returns_row),
                T(test_old_keys_many),
                T(test_reset),
                T(test_ceiling_rows),
                T(test_ceiling_refusal_keeps_accounting),
                T(test_ceiling_tiny),
                T(test_ceiling_var),
                T(test_ceiling_var_after_set),
                T(test_export_arrow),
                T(test_export_arrow_metadata),
                T(test_export_arrow_empty),
                T(test_export_arrow_move_child),
        };
#undef T

        return cmocka_run_group_tests(tests, NULL, NULL);
}
