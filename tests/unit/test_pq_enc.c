/*
 * Tests of the Parquet encodings (connectors/iceberg/pq_enc.h). Expected
 * bytes come from parquet-format's Encodings.md: the documented bit-packing
 * of 0..7 with bit width 3 (10001000 11000110 11111010), bit-packed run
 * headers varint(groups << 1 | 1), RLE run headers varint(count << 1)
 * followed by the value in ceil(bw / 8) little-endian bytes, values packed
 * LSB first; and the dictionary's contract (first-seen order, PLAIN body).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../connectors/iceberg/pq_enc.h"

static void expect_buf(struct pq_buf *b, const uint8_t *want, size_t n)
{
        if (b->len != n) {
                size_t i;
                fprintf(stderr, "got %zu bytes, want %zu:", b->len, n);
                for (i = 0; i < b->len; i++)
                        fprintf(stderr, " %02x", b->p[i]);
                fprintf(stderr, "\n");
        }
        assert_int_equal(b->len, n);
        assert_memory_equal(b->p, want, n);
}

static void test_bit_width(void **state)
{
        (void)state;
        assert_int_equal(pq_bit_width(0), 0);
        assert_int_equal(pq_bit_width(1), 1);
        assert_int_equal(pq_bit_width(2), 2);
        assert_int_equal(pq_bit_width(3), 2);
        assert_int_equal(pq_bit_width(4), 3);
        assert_int_equal(pq_bit_width(255), 8);
        assert_int_equal(pq_bit_width(256), 9);
        assert_int_equal(pq_bit_width(UINT32_MAX), 32);
}

/* Encodings.md: 0..7 with bit width 3 packs to 0x88 0xC6 0xFA; one group. */
static void test_bitpacked_doc_example(void **state)
{
        static const uint32_t v[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
        static const uint8_t want[] = { 0x03, 0x88, 0xc6, 0xfa };
        struct pq_buf b = { 0 };

        (void)state;
        assert_int_equal(pq_rle_encode_u32(&b, v, 8, 3), 0);
        expect_buf(&b, want, sizeof(want));
        pq_buf_free(&b);
}

/* 100 copies of 5, width 3: header varint(200) = 0xC8 0x01, value in 1 byte. */
static void test_rle_run(void **state)
{
        uint32_t v[100];
        static const uint8_t want[] = { 0xc8, 0x01, 0x05 };
        static const uint8_t want32[] = { 0x10, 0xef, 0xbe, 0xad, 0xde };
        struct pq_buf b = { 0 };
        int i;

        (void)state;
        for (i = 0; i < 100; i++)
                v[i] = 5;
        assert_int_equal(pq_rle_encode_u32(&b, v, 100, 3), 0);
        expect_buf(&b, want, sizeof(want));
        /* Width 32: the value takes 4 bytes, little-endian. */
        for (i = 0; i < 8; i++)
                v[i] = 0xdeadbeef;
        b.len = 0;
        assert_int_equal(pq_rle_encode_u32(&b, v, 8, 32), 0);
        expect_buf(&b, want32, sizeof(want32));
        pq_buf_free(&b);
}

/* Definition levels 1,0,1 (width 1): a padded final group, bits 101. */
static void test_levels_short(void **state)
{
        static const uint8_t v[] = { 1, 0, 1 };
        static const uint8_t want[] = { 0x03, 0x05 };
        struct pq_buf b = { 0 };

        (void)state;
        assert_int_equal(pq_rle_encode_u8(&b, v, 3, 1), 0);
        expect_buf(&b, want, sizeof(want));
        pq_buf_free(&b);
}

/* A run first, then a short tail: RLE(10 x 0) = 0x14 0x00, then [1, 2] with
 * width 2 bit-packed as one padded group: bits 01 10 -> 0x09 0x00. */
static void test_run_then_literal(void **state)
{
        static const uint32_t v[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2 };
        static const uint8_t want[] = { 0x14, 0x00, 0x03, 0x09, 0x00 };
        struct pq_buf b = { 0 };

        (void)state;
        assert_int_equal(pq_rle_encode_u32(&b, v, 12, 2), 0);
        expect_buf(&b, want, sizeof(want));
        pq_buf_free(&b);
}

/* A run that does not start on a group boundary: [1, 3 x 16] with width 2.
 * The bit-packed part must hold whole groups, so it takes 1 and seven 3s
 * (0xFD 0xFF) and the remaining nine 3s become RLE(9) = 0x12 0x03. */
static void test_unaligned_run(void **state)
{
        uint32_t v[17];
        static const uint8_t want[] = { 0x03, 0xfd, 0xff, 0x12, 0x03 };
        struct pq_buf b = { 0 };
        int i;

        (void)state;
        v[0] = 1;
        for (i = 1; i < 17; i++)
                v[i] = 3;
        assert_int_equal(pq_rle_encode_u32(&b, v, 17, 2), 0);
        expect_buf(&b, want, sizeof(want));
        pq_buf_free(&b);
}

/* A run too short to pay for its alignment stays bit-packed: [1, 2 x 9],
 * width 2: padding to the group boundary would take 7 of the 9, leaving 2.
 * Two groups: 1,2,2,2,2,2,2,2 -> 0xA9 0xAA; 2,2 + padding -> 0x0A 0x00. */
static void test_short_run_literal(void **state)
{
        uint32_t v[10];
        static const uint8_t want[] = { 0x05, 0xa9, 0xaa, 0x0a, 0x00 };
        struct pq_buf b = { 0 };
        int i;

        (void)state;
        v[0] = 1;
        for (i = 1; i < 10; i++)
                v[i] = 2;
        assert_int_equal(pq_rle_encode_u32(&b, v, 10, 2), 0);
        expect_buf(&b, want, sizeof(want));
        pq_buf_free(&b);
}

/* More than 63 groups of literals: alternating 0/1 (0xAA per group, width 1)
 * for 600 values = 75 groups -> header 0x7F + 63 bytes, header 0x19 + 12. */
static void test_long_literal(void **state)
{
        uint8_t v[600], want[77];
        struct pq_buf b = { 0 };
        int i;

        (void)state;
        for (i = 0; i < 600; i++)
                v[i] = (uint8_t)(i & 1);
        want[0] = 0x7f;
        memset(want + 1, 0xaa, 63);
        want[64] = 0x19;
        memset(want + 65, 0xaa, 12);
        assert_int_equal(pq_rle_encode_u8(&b, v, 600, 1), 0);
        expect_buf(&b, want, sizeof(want));
        pq_buf_free(&b);
}

/* The encoder appends: a prefix already in the buffer stays. */
static void test_appends(void **state)
{
        static const uint8_t v[] = { 1, 1, 1, 1, 1, 1, 1, 1 };
        static const uint8_t want[] = { 0xab, 0x10, 0x01 };
        struct pq_buf b = { 0 };

        (void)state;
        assert_int_equal(pq_buf_append(&b, "\xab", 1), 0);
        assert_int_equal(pq_rle_encode_u8(&b, v, 8, 1), 0);
        expect_buf(&b, want, sizeof(want));
        pq_buf_free(&b);
}

static void test_dict_fixed(void **state)
{
        struct pq_dict d;
        uint32_t idx, i;
        uint64_t v;
        size_t len;

        (void)state;
        pq_dict_init(&d, 8);
        /* First-seen order, duplicates found again. */
        v = 42;
        assert_int_equal(pq_dict_put(&d, (uint8_t *)&v, 8, &idx), 1);
        assert_int_equal(idx, 0);
        v = 7;
        assert_int_equal(pq_dict_put(&d, (uint8_t *)&v, 8, &idx), 1);
        assert_int_equal(idx, 1);
        v = 42;
        assert_int_equal(pq_dict_put(&d, (uint8_t *)&v, 8, &idx), 0);
        assert_int_equal(idx, 0);
        /* Enough values to grow the table several times. */
        for (i = 0; i < 100000; i++) {
                v = (uint64_t)i * 1000003u + 100;
                assert_int_equal(pq_dict_put(&d, (uint8_t *)&v, 8, &idx), 1);
                assert_int_equal(idx, i + 2);
        }
        for (i = 0; i < 100000; i += 997) {
                v = (uint64_t)i * 1000003u + 100;
                assert_int_equal(pq_dict_put(&d, (uint8_t *)&v, 8, &idx), 0);
                assert_int_equal(idx, i + 2);
                memcpy(&v, pq_dict_get(&d, idx, &len), 8);
                assert_int_equal(len, 8);
                assert_int_equal(v, (uint64_t)i * 1000003u + 100);
        }
        assert_int_equal(d.n, 100002);
        assert_int_equal(d.vals.len, 100002 * 8);
        pq_dict_reset(&d);
        assert_int_equal(d.n, 0);
        v = 7;
        assert_int_equal(pq_dict_put(&d, (uint8_t *)&v, 8, &idx), 1);
        assert_int_equal(idx, 0);
        pq_dict_free(&d);
}

/* BYTE_ARRAY entries: the body is PLAIN, a 4-byte little-endian length
 * before each value; the empty string is a value of its own. */
static void test_dict_var(void **state)
{
        static const uint8_t want[] = {
                2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c'
        };
        struct pq_dict d;
        uint32_t idx;
        size_t len;
        const uint8_t *p;

        (void)state;
        pq_dict_init(&d, 0);
        assert_int_equal(pq_dict_put(&d, (const uint8_t *)"ab", 2, &idx), 1);
        assert_int_equal(pq_dict_put(&d, (const uint8_t *)"", 0, &idx), 1);
        assert_int_equal(idx, 1);
        assert_int_equal(pq_dict_put(&d, (const uint8_t *)"abc", 3, &idx), 1);
        assert_int_equal(idx, 2);
        assert_int_equal(pq_dict_put(&d, (const uint8_t *)"ab", 2, &idx), 0);
        assert_int_equal(idx, 0);
        assert_int_equal(pq_dict_put(&d, (const uint8_t *)"", 0, &idx), 0);
        assert_int_equal(idx, 1);
        expect_buf(&d.vals, want, sizeof(want));
        p = pq_dict_get(&d, 2, &len);
        assert_int_equal(len, 3);
        assert_memory_equal(p, "abc", 3);
        pq_dict_free(&d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bit_width),
                cmocka_unit_test(test_bitpacked_doc_example),
                cmocka_unit_test(test_rle_run),
                cmocka_unit_test(test_levels_short),
                cmocka_unit_test(test_run_then_literal),
                cmocka_unit_test(test_unaligned_run),
                cmocka_unit_test(test_short_run_literal),
                cmocka_unit_test(test_long_literal),
                cmocka_unit_test(test_appends),
                cmocka_unit_test(test_dict_fixed),
                cmocka_unit_test(test_dict_var),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
