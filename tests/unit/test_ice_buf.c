/*
 * Tests of the Iceberg sink's change buffer (connectors/iceberg/ice_buf.h).
 * Expectations come from its contract: the last change of a key wins; a key
 * needs an equality delete when its first change in the buffer is an
 * UPDATE, a DELETE, or an INSERT at or below the insert floor (never a
 * SNAPSHOT row, never an INSERT above the floor); a key-changing update
 * buries the old key; an unchanged cell comes from the key's earlier
 * version or is refused; a full arena is ZETL_ELIMIT. Every test owns its
 * objects through a fixture whose teardown frees them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../connectors/iceberg/ice_buf.h"

struct fx {
        struct zetl_schema *s;
        struct zetl_batch *b;
        struct ice_buf *buf;
        uint32_t *rows;
        struct zetl_err e;
};

static int fx_setup(void **state)
{
        struct fx *f = calloc(1, sizeof(*f));
        struct zetl_table_id id;
        struct zetl_column id_col = { .name = "id", .type = ZETL_T_INT64, .key_pos = 1 };
        struct zetl_column v_col = { .name = "v", .type = ZETL_T_STRING, .nullable = true };

        if (!f)
                return -1;
        zetl_table_id_set(&id, "db", "public", "t");
        f->s = zetl_schema_new(&id, 2);
        if (!f->s || zetl_schema_set_col(f->s, 0, &id_col) ||
            zetl_schema_set_col(f->s, 1, &v_col) || zetl_schema_finish(f->s, &f->e))
                return -1;
        f->b = zetl_batch_new(f->s, 0);
        f->buf = ice_buf_new(f->s, 0);
        *state = f;
        return f->b && f->buf ? 0 : -1;
}

static int fx_teardown(void **state)
{
        struct fx *f = *state;

        free(f->rows);
        ice_buf_free(f->buf);
        zetl_batch_free(f->b);
        if (f->s)
                zetl_schema_unref(f->s);
        free(f);
        return 0;
}

/* Append a row to the test batch: v NULL means "unchanged" for updates. */
static void row(struct fx *f, enum zetl_op op, uint64_t pos, int64_t id, const char *v)
{
        assert_int_equal(zetl_batch_row_begin(f->b, op, pos, &f->e), 0);
        zetl_batch_set_i64(f->b, 0, id);
        if (op == ZETL_OP_DELETE || !v)
                assert_int_equal(zetl_batch_set_unchanged(f->b, 1, &f->e), 0);
        else
                assert_int_equal(zetl_batch_set_var(f->b, 1, v, strlen(v), &f->e), 0);
        zetl_batch_row_end(f->b);
}

/* Add every row of the test batch with the given floor. */
static void add_all(struct fx *f, uint64_t floor)
{
        int missing;

        for (uint32_t r = 0; r < f->b->nrows; r++)
                assert_int_equal(ice_buf_add(f->buf, f->b, r, floor, &missing, &f->e), 0);
}

/* The ids of the selected rows, as a string "1,2,3". */
static const char *ids(struct fx *f, enum ice_buf_select sel)
{
        static char out[256];
        const struct zetl_batch *a = ice_buf_batch(f->buf);
        uint32_t n;
        size_t at = 0;

        free(f->rows);
        f->rows = NULL;
        assert_int_equal(ice_buf_rows(f->buf, sel, &f->rows, &n, &f->e), 0);
        out[0] = '\0';
        for (uint32_t i = 0; i < n; i++)
                at += (size_t)snprintf(out + at, sizeof(out) - at, "%s%lld", i ? "," : "",
                                       (long long)zetl_batch_get_i64(a, 0, f->rows[i]));
        return out;
}

/* The v of the last version of key id, or "(null)". */
static const char *value_of(struct fx *f, int64_t id)
{
        static char out[64];
        const struct zetl_batch *a = ice_buf_batch(f->buf);
        uint32_t n;

        free(f->rows);
        f->rows = NULL;
        assert_int_equal(ice_buf_rows(f->buf, ICE_BUF_DATA, &f->rows, &n, &f->e), 0);
        for (uint32_t i = 0; i < n; i++) {
                size_t len;
                const uint8_t *p;
                if (zetl_batch_get_i64(a, 0, f->rows[i]) != id)
                        continue;
                if (zetl_batch_is_null(a, 1, f->rows[i]))
                        return "(null)";
                p = zetl_batch_get_var(a, 1, f->rows[i], &len);
                snprintf(out, sizeof(out), "%.*s", (int)len, (const char *)p);
                return out;
        }
        return "(absent)";
}

static void test_snapshot_rows_need_no_delete(void **state)
{
        struct fx *f = *state;

        row(f, ZETL_OP_SNAPSHOT, 0, 1, "a");
        row(f, ZETL_OP_SNAPSHOT, 0, 2, "b");
        add_all(f, 0);
        assert_string_equal(ids(f, ICE_BUF_DATA), "1,2");
        assert_string_equal(ids(f, ICE_BUF_DELETES), "");
        assert_int_equal(ice_buf_keys(f->buf), 2);
}

static void test_insert_delete_only_at_or_below_floor(void **state)
{
        struct fx *f = *state;

        row(f, ZETL_OP_INSERT, 100, 1, "replayed");
        row(f, ZETL_OP_INSERT, 101, 2, "new");
        row(f, ZETL_OP_INSERT, 99, 3, "replayed too");
        add_all(f, 100);
        assert_string_equal(ids(f, ICE_BUF_DATA), "1,2,3");
        assert_string_equal(ids(f, ICE_BUF_DELETES), "1,3");
        assert_int_equal(ice_buf_max_pos(f->buf), 101);
}

static void test_last_change_wins(void **state)
{
        struct fx *f = *state;

        row(f, ZETL_OP_UPDATE, 10, 7, "first");
        row(f, ZETL_OP_UPDATE, 11, 7, "second");
        add_all(f, 0);
        assert_string_equal(ids(f, ICE_BUF_DATA), "7");
        assert_string_equal(value_of(f, 7), "second");
        assert_string_equal(ids(f, ICE_BUF_DELETES), "7");
        assert_int_equal(ice_buf_keys(f->buf), 1);
}

static void test_insert_then_delete_leaves_nothing(void **state)
{
        struct fx *f = *state;

        /* Above the floor: the table cannot hold the key, nothing to delete. */
        row(f, ZETL_OP_INSERT, 10, 5, "brief");
        row(f, ZETL_OP_DELETE, 11, 5, NULL);
        add_all(f, 0);
        assert_string_equal(ids(f, ICE_BUF_DATA), "");
        assert_string_equal(ids(f, ICE_BUF_DELETES), "");
}

static void test_delete_then_reinsert(void **state)
{
        struct fx *f = *state;

        row(f, ZETL_OP_DELETE, 10, 5, NULL);
        row(f, ZETL_OP_INSERT, 11, 5, "again");
        add_all(f, 0);
        /* The delete came first: the old row goes, the new one stays. */
        assert_string_equal(ids(f, ICE_BUF_DATA), "5");
        assert_string_equal(ids(f, ICE_BUF_DELETES), "5");
        assert_string_equal(value_of(f, 5), "again");
}

static void test_key_change_deletes_old_key(void **state)
{
        struct fx *f = *state;

        row(f, ZETL_OP_INSERT, 10, 1, "x");
        assert_int_equal(zetl_batch_row_begin(f->b, ZETL_OP_UPDATE, 11, &f->e), 0);
        zetl_batch_set_i64(f->b, 0, 2);
        assert_int_equal(zetl_batch_set_var(f->b, 1, "moved", 5, &f->e), 0);
        assert_int_equal(zetl_batch_old_key_begin(f->b, &f->e), 0);
        zetl_batch_set_i64(f->b->old, 0, 1);
        zetl_batch_row_end(f->b);
        row(f, ZETL_OP_UPDATE, 12, 3, "other");
        add_all(f, 100);
        /* Key 1 (inserted at or below the floor) ends deleted; 2 and 3 are updates. */
        assert_string_equal(ids(f, ICE_BUF_DATA), "2,3");
        assert_string_equal(ids(f, ICE_BUF_DELETES), "1,2,3");
}

static void test_unchanged_cell_from_earlier_version(void **state)
{
        struct fx *f = *state;
        int missing = -1;

        row(f, ZETL_OP_INSERT, 10, 4, "big value");
        row(f, ZETL_OP_UPDATE, 11, 4, NULL); /* v unchanged */
        add_all(f, 0);
        assert_string_equal(value_of(f, 4), "big value");
        assert_string_equal(ids(f, ICE_BUF_DATA), "4");

        /* Without an earlier version the value cannot be known. */
        row(f, ZETL_OP_UPDATE, 12, 9, NULL);
        assert_int_equal(ice_buf_add(f->buf, f->b, f->b->nrows - 1, 0, &missing, &f->e),
                         ZETL_ENOTFOUND);
        assert_int_equal(missing, 1);
        assert_string_equal(ids(f, ICE_BUF_DATA), "4");
}

static void test_many_keys(void **state)
{
        struct fx *f = *state;
        char v[32];

        /* Enough keys to grow the hash table several times; every key twice. */
        for (int64_t k = 0; k < 20000; k++) {
                snprintf(v, sizeof(v), "v%lld", (long long)k);
                row(f, ZETL_OP_SNAPSHOT, 0, k, v);
        }
        for (int64_t k = 0; k < 20000; k += 2) {
                snprintf(v, sizeof(v), "u%lld", (long long)k);
                row(f, ZETL_OP_UPDATE, 5, k, v);
        }
        add_all(f, 0);
        assert_int_equal(ice_buf_keys(f->buf), 20000);
        assert_string_equal(value_of(f, 19998), "u19998");
        assert_string_equal(value_of(f, 19999), "v19999");
        uint32_t n;
        free(f->rows);
        f->rows = NULL;
        assert_int_equal(ice_buf_rows(f->buf, ICE_BUF_DELETES, &f->rows, &n, &f->e), 0);
        /* A key first seen as a SNAPSHOT row is new to the table: updated in
         * the same commit, it still needs no delete. */
        assert_int_equal(n, 0);
        free(f->rows);
        f->rows = NULL;
        assert_int_equal(ice_buf_rows(f->buf, ICE_BUF_DATA, &f->rows, &n, &f->e), 0);
        assert_int_equal(n, 20000);
}

static void test_full_arena_is_elimit(void **state)
{
        struct fx *f = *state;
        char big[4096];
        int missing, rc = 0;
        uint32_t r;

        ice_buf_free(f->buf);
        f->buf = ice_buf_new(f->s, 64 << 10);
        assert_non_null(f->buf);
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        for (int64_t k = 0; k < 100; k++)
                row(f, ZETL_OP_INSERT, 1, k, big);
        for (r = 0; r < f->b->nrows; r++)
                if ((rc = ice_buf_add(f->buf, f->b, r, 0, &missing, &f->e)) != 0)
                        break;
        assert_int_equal(rc, ZETL_ELIMIT);
        assert_true(r > 0 && r < 100);
        /* What was added before stays usable. */
        assert_int_equal(ice_buf_keys(f->buf), r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
                T(test_snapshot_rows_need_no_delete),
                T(test_insert_delete_only_at_or_below_floor),
                T(test_last_change_wins),
                T(test_insert_then_delete_leaves_nothing),
                T(test_delete_then_reinsert),
                T(test_key_change_deletes_old_key),
                T(test_unchanged_cell_from_earlier_version),
                T(test_many_keys),
                T(test_full_arena_is_elimit),
#undef T
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
