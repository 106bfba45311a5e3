/*
 * Tests of the Thrift compact protocol encoder (connectors/iceberg/thrift.h).
 * Every expected byte string is derived by hand from the compact protocol
 * specification (doc/specs/thrift-compact-protocol.md): short field headers
 * `ddddtttt` for id deltas 1..15, the long form `0000tttt` + zigzag id
 * otherwise, booleans folded into the type nibble (1 true, 2 false), zigzag
 * varints for i16/i32/i64, doubles 8 bytes little-endian, binary as varint
 * length + bytes, list headers `sssstttt` below 15 elements and `1111tttt` +
 * varint size from 15 on, and a stop byte 0 closing every struct.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../connectors/iceberg/thrift.h"

static void expect_bytes(const struct thrift_buf *t, const uint8_t *want, size_t n)
{
        assert_false(thrift_failed(t));
        if (t->len != n) {
                size_t i;
                fprintf(stderr, "got %zu bytes, want %zu:", t->len, n);
                for (i = 0; i < t->len; i++)
                        fprintf(stderr, " %02x", t->p[i]);
                fprintf(stderr, "\n");
        }
        assert_int_equal(t->len, n);
        assert_memory_equal(t->p, want, n);
}

/* The spec's varint example: 50399 is 0xDF 0x89 0x03; and the 7-bit edges. */
static void test_varint(void **state)
{
        static const uint8_t want[] = { 0x00, 0x7f, 0x80, 0x01, 0xdf, 0x89,
                                        0x03, 0xff, 0xff, 0xff, 0xff, 0x0f };
        struct thrift_buf t;

        (void)state;
        thrift_init(&t);
        thrift_put_varint(&t, 0);
        thrift_put_varint(&t, 127);
        thrift_put_varint(&t, 128);
        thrift_put_varint(&t, 50399);
        thrift_put_varint(&t, UINT32_MAX);
        expect_bytes(&t, want, sizeof(want));
        thrift_free(&t);
}

/* Zigzag: 0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3; INT32_MIN -> 2^32 - 1;
 * INT64_MAX -> 2^64 - 2; INT64_MIN -> 2^64 - 1. */
static void test_zigzag(void **state)
{
        static const uint8_t want[] = {
                0x00, 0x01, 0x02, 0x03,                                     /* 0 -1 1 -2 (i32) */
                0xff, 0xff, 0xff, 0xff, 0x0f,                               /* INT32_MIN */
                0xfe, 0xff, 0xff, 0xff, 0x0f,                               /* INT32_MAX */
                0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, /* INT64_MAX */
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, /* INT64_MIN */
                0xd8, 0x04,                                                 /* 300 -> 600 */
        };
        struct thrift_buf t;

        (void)state;
        thrift_init(&t);
        thrift_put_i32(&t, 0);
        thrift_put_i32(&t, -1);
        thrift_put_i32(&t, 1);
        thrift_put_i32(&t, -2);
        thrift_put_i32(&t, INT32_MIN);
        thrift_put_i32(&t, INT32_MAX);
        thrift_put_i64(&t, INT64_MAX);
        thrift_put_i64(&t, INT64_MIN);
        thrift_put_i64(&t, 300);
        expect_bytes(&t, want, sizeof(want));
        thrift_free(&t);
}

/* Field headers: short form with deltas, delta 15 still short, a decreasing
 * id and a delta of 37 in the long form, booleans in the header. */
static void test_field_headers(void **state)
{
        static const uint8_t want[] = {
                0x15, 0x02,             /* 1: i32 1 */
                0x16, 0x01,             /* 2: i64 -1 */
                0xf8, 0x02, 0x61, 0x62, /* 17: binary "ab" (delta 15) */
                0x11,                   /* 18: bool true */
                0x05, 0x06, 0xd8, 0x04, /* 3: i32 300, long form (delta < 0) */
                0x02, 0x50,             /* 40: bool false, long form (delta 37) */
                0x00,                   /* stop */
        };
        struct thrift_buf t;

        (void)state;
        thrift_init(&t);
        thrift_struct_begin(&t);
        thrift_field_i32(&t, 1, 1);
        thrift_field_i64(&t, 2, -1);
        thrift_field_string(&t, 17, "ab");
        thrift_field_bool(&t, 18, true);
        thrift_field_i32(&t, 3, 300);
        thrift_field_bool(&t, 40, false);
        thrift_struct_end(&t);
        expect_bytes(&t, want, sizeof(want));
        thrift_free(&t);
}

/* Other scalar types: i8, i16, double 1.0 (0x3FF0000000000000 little-endian). */
static void test_scalars(void **state)
{
        static const uint8_t want[] = {
                0x13, 0xff,                                           /* 1: i8 -1 */
                0x14, 0xfe, 0xff, 0x03,                               /* 2: i16 32767 */
                0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, /* 3: double 1.0 */
                0x18, 0x00,                                           /* 4: empty binary */
                0x00,
        };
        struct thrift_buf t;

        (void)state;
        thrift_init(&t);
        thrift_struct_begin(&t);
        thrift_field_i8(&t, 1, -1);
        thrift_field_i16(&t, 2, 32767);
        thrift_field_double(&t, 3, 1.0);
        thrift_field_binary(&t, 4, NULL, 0);
        thrift_struct_end(&t);
        expect_bytes(&t, want, sizeof(want));
        thrift_free(&t);
}

/* A nested struct restores the outer struct's last id; lists in both forms. */
static void test_nested_and_lists(void **state)
{
        uint8_t want[64];
        size_t n = 0;
        struct thrift_buf t;
        int i;

        (void)state;
        want[n++] = 0x1c; /* 1: struct */
        want[n++] = 0x15; /* 1: i32 7 */
        want[n++] = 0x0e;
        want[n++] = 0x00; /* end of inner */
        want[n++] = 0x19; /* 2: list (delta from 1, not from the inner 1) */
        want[n++] = 0x35; /* 3 elements of i32 */
        want[n++] = 0x02;
        want[n++] = 0x04;
        want[n++] = 0x06;
        want[n++] = 0x19; /* 3: list */
        want[n++] = 0xf8; /* long form, binary */
        want[n++] = 0x0f; /* 15 elements */
        for (i = 0; i < 15; i++) {
                want[n++] = 0x01;
                want[n++] = 'x';
        }
        want[n++] = 0x29; /* 5: list of bools */
        want[n++] = 0x22; /* 2 elements, type 2 */
        want[n++] = 0x01;
        want[n++] = 0x00;
        want[n++] = 0x19; /* 6: list of 1 struct */
        want[n++] = 0x1c;
        want[n++] = 0x25; /* 2: i32 -1 */
        want[n++] = 0x01;
        want[n++] = 0x00;
        want[n++] = 0x00;

        thrift_init(&t);
        thrift_struct_begin(&t);
        thrift_field_struct(&t, 1);
        thrift_field_i32(&t, 1, 7);
        thrift_struct_end(&t);
        thrift_field_list(&t, 2, THRIFT_I32, 3);
        thrift_put_i32(&t, 1);
        thrift_put_i32(&t, 2);
        thrift_put_i32(&t, 3);
        thrift_field_list(&t, 3, THRIFT_BINARY, 15);
        for (i = 0; i < 15; i++)
                thrift_put_string(&t, "x");
        thrift_field_list(&t, 5, THRIFT_ELEM_BOOL, 2);
        thrift_put_bool_elem(&t, true);
        thrift_put_bool_elem(&t, false);
        thrift_field_list(&t, 6, THRIFT_STRUCT, 1);
        thrift_struct_begin(&t);
        thrift_field_i32(&t, 2, -1);
        thrift_struct_end(&t);
        thrift_struct_end(&t);
        expect_bytes(&t, want, n);
        assert_int_equal(t.depth, 0);
        thrift_free(&t);
}

/* Misuse marks the buffer failed instead of writing garbage. */
static void test_failures(void **state)
{
        struct thrift_buf t;
        int i;

        (void)state;
        thrift_init(&t);
        thrift_field_i32(&t, 1, 1); /* no open struct */
        assert_true(thrift_failed(&t));
        thrift_reset(&t);
        assert_false(thrift_failed(&t));
        for (i = 0; i <= THRIFT_MAX_DEPTH; i++)
                thrift_struct_begin(&t);
        assert_true(thrift_failed(&t));
        thrift_reset(&t);
        thrift_struct_end(&t); /* nothing to close */
        assert_true(thrift_failed(&t));
        thrift_free(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_varint),           cmocka_unit_test(test_zigzag),
                cmocka_unit_test(test_field_headers),    cmocka_unit_test(test_scalars),
                cmocka_unit_test(test_nested_and_lists), cmocka_unit_test(test_failures),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
