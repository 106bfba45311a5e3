/*
 * libFuzzer target for the binlog row decoder (connectors/mysql/my_rows.h):
 * a TABLE_MAP event and a rows event of that table, both taken from the
 * input, parsed, and every row image decoded into a batch.
 *
 * Input layout:
 *   byte 0     bit 0: MySQL (else MariaDB); bit 1: 4-byte table ids;
 *              bits 2-4: the rows event type, an index into WRITE, UPDATE,
 *              DELETE v1, then v2 (modulo 6); bit 5: publish TIME columns as
 *              strings and MariaDB's JSON as json (the alternatives my_rows.h
 *              allows); bit 6: decode before images with keys_only
 *   bytes 1-2  n, little-endian: the TABLE_MAP body's length
 *   n bytes    the TABLE_MAP body
 *   the rest   the rows event body
 *
 * Checked, from my_rows.h: refusals use the documented codes, with a
 * message; a TABLE_MAP is freed after an error too; every image
 * my_rows_next returns is walked to its exact end by my_row_skip and by
 * my_decode_row (with keys_only or not); every row moves the cursor forward
 * (finite bytes hold finitely many rows); decoded decimals are canonical.
 *
 * Reproducers of its past findings are kept in tests/fuzz/crashes/fuzz_my_rows
 * (see the README there); scripts/fuzz.sh replays them before fuzzing.
 *
 * Seeds: tests/fuzz/corpus/fuzz_my_rows holds each TABLE_MAP fixture of
 * tests/unit/test_my_rows.c (MariaDB 10.11 captures and the hand-built MySQL 8
 * events) paired with each rows event of its table, in the layout above.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "../../connectors/mysql/my_rows.h"
#include "zetl/batch.h"
#include "zetl/schema.h"
#include "zetl/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t event_types[] = {
        MY_EV_WRITE_ROWS_V1, MY_EV_UPDATE_ROWS_V1, MY_EV_DELETE_ROWS_V1,
        MY_EV_WRITE_ROWS_V2, MY_EV_UPDATE_ROWS_V2, MY_EV_DELETE_ROWS_V2,
};

static void check_err(int rc, const struct zetl_err *err)
{
        CHECK(err->code == rc && err->msg[0] != '\0');
}

/*
 * A schema for tm: my_column_map's types (bytes for a column it refuses, as a
 * caller may publish one), names c<i> when the map has none or they clash,
 * and no key when the map's key positions do not make one.
 */
static struct zetl_schema *schema_for(const struct my_table_map *tm, bool alt)
{
        struct zetl_table_id id;
        struct zetl_err err;

        if (zetl_table_id_set(&id, tm->db ? tm->db : "", "", tm->table ? tm->table : ""))
                zetl_table_id_set(&id, "db", "", "t");
        for (int attempt = 0; attempt < 3; attempt++) {
                struct zetl_schema *s = zetl_schema_new(&id, tm->ncols);

                CHECK(s != NULL);
                for (int i = 0; i < tm->ncols; i++) {
                        struct zetl_column c = { 0 };
                        char name[24];
                        int rc = my_column_map(tm, i, &c, &err);

                        if (rc != 0) {
                                CHECK(rc == ZETL_EUNSUPPORTED);
                                check_err(rc, &err);
                                c.type = ZETL_T_BYTES;
                                c.nullable = true;
                                c.key_pos = tm->cols[i].key_pos;
                        }
                        if (alt && c.type == ZETL_T_TIME)
                                c.type = ZETL_T_STRING;
                        if (alt && tm->cols[i].type == MY_T_JSON && c.type == ZETL_T_STRING)
                                c.type = ZETL_T_JSON;
                        if (!c.name || attempt > 0) {
                                snprintf(name, sizeof(name), "c%d", i);
                                c.name = name;
                        }
                        if (attempt > 1)
                                c.key_pos = 0;
                        CHECK(zetl_schema_set_col(s, i, &c) == 0);
                }
                if (zetl_schema_finish(s, &err) == 0)
                        return s;
                zetl_schema_unref(s);
        }
        CHECK(!"no schema for the TABLE_MAP");
        return NULL;
}

/* Walk one image with my_row_skip, then decode it as a row of b. */
static void decode_image(struct zetl_batch *b, const struct my_table_map *tm,
                         const struct my_row_image *img, bool keys_only)
{
        const uint8_t *end = img->p + img->len;
        const uint8_t *p = img->p;
        struct zetl_err err = { 0 };
        int rc;

        CHECK(my_row_skip(tm, img->cols, &p, end, &err) == 0);
        CHECK(p == end);
        rc = zetl_batch_row_begin(b, ZETL_OP_UPDATE, 7, &err);
        if (rc != 0) {
                CHECK(rc == ZETL_ELIMIT || rc == ZETL_ENOMEM);
                return;
        }
        p = img->p;
        rc = my_decode_row(b, tm, img->cols, &p, end, keys_only, &err);
        if (rc != 0) {
                CHECK(rc == ZETL_EPROTO || rc == ZETL_EUNSUPPORTED || rc == ZETL_ELIMIT ||
                      rc == ZETL_ENOMEM || rc == ZETL_EINVAL);
                check_err(rc, &err);
                CHECK(err.cls == ZETL_ERRC_FATAL);
                zetl_batch_row_abort(b);
                return;
        }
        CHECK(p == end);
        zetl_batch_row_end(b);
        for (int c = 0; c < b->schema->ncols; c++) {
                uint32_t r = b->nrows - 1;
                size_t n;
                const uint8_t *v;

                if (b->schema->cols[c].type != ZETL_T_DECIMAL || zetl_batch_is_null(b, c, r) ||
                    zetl_batch_is_unchanged(b, c, r))
                        continue;
                v = zetl_batch_get_var(b, c, r, &n);
                CHECK(zetl_decimal_valid((const char *)v, n));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct my_rows_fmt fmt;
        struct my_table_map tm;
        struct my_rows_event ev;
        struct my_row_image before, after;
        struct zetl_err err = { 0 };
        struct zetl_schema *s = NULL;
        struct zetl_batch *b = NULL;
        uint8_t flags, type;
        size_t maplen;
        int rc;

        if (size < 3)
                return 0;
        flags = data[0];
        maplen = (size_t)data[1] | (size_t)data[2] << 8;
        if (maplen > size - 3)
                return 0;
        fmt.flavor = (flags & 1) ? MY_FLAVOR_MYSQL : MY_FLAVOR_MARIADB;
        fmt.table_id_len = (flags & 2) ? 4 : 6;
        type = event_types[((flags >> 2) & 7) % sizeof(event_types)];

        memset(&tm, 0xa5, sizeof(tm)); /* the parser must not rely on a zeroed struct */
        rc = my_table_map_parse(data + 3, maplen, &fmt, &tm, &err);
        if (rc != 0) {
                CHECK(rc == ZETL_EPROTO || rc == ZETL_ENOMEM);
                check_err(rc, &err);
                goto out_map;
        }
        CHECK(tm.ncols >= 0 && tm.db != NULL && tm.table != NULL);
        for (int i = 0; i < tm.ncols; i++)
                CHECK(my_type_name(tm.cols[i].type) != NULL);

        rc = my_rows_parse(data + 3 + maplen, size - 3 - maplen, type, &fmt, &ev, &err);
        if (rc != 0) {
                CHECK(rc == ZETL_EPROTO || rc == ZETL_EUNSUPPORTED);
                check_err(rc, &err);
                goto out_map;
        }
        s = schema_for(&tm, flags & 0x20);
        b = zetl_batch_new(s, 0);
        CHECK(b != NULL);
        for (;;) {
                const uint8_t *at = ev.cur;

                rc = my_rows_next(&ev, &tm, &before, &after, &err);
                if (rc != 1)
                        break;
                CHECK(before.p || after.p);
                /* A row that takes no bytes would come back forever. */
                CHECK(ev.cur > at);
                if (before.p)
                        decode_image(b, &tm, &before, flags & 0x40);
                if (after.p)
                        decode_image(b, &tm, &after, false);
        }
        if (rc != 0) {
                /* EUNSUPPORTED too: a column type the TABLE_MAP gave but no
                 * decoder knows cannot be walked (my_rows.h names EPROTO only). */
                CHECK(rc == ZETL_EPROTO || rc == ZETL_EUNSUPPORTED);
                check_err(rc, &err);
        }

        zetl_batch_free(b);
        zetl_schema_unref(s);
out_map:
        my_table_map_free(&tm);
        return 0;
}
