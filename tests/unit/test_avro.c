/*
 * Tests of connectors/iceberg/avro.c: the binary encoding against the
 * examples of the Avro 1.11 specification, the object container layout
 * byte by byte, round trips through our reader (null and deflate), and
 * corrupted containers rejected with an error rather than read past the end.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../connectors/iceberg/avro.h"
#include "fsutil.h"

static const uint8_t test_sync[16] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                       0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };

static void assert_buf(const struct ice_avro_buf *b, const uint8_t *want, size_t n)
{
        assert_int_equal(b->status, 0);
        assert_int_equal(b->len, n);
        assert_memory_equal(b->data, want, n);
}

/* The spec's zigzag table, plus the extremes of a long (10 bytes). */
static void test_zigzag_known_bytes(void **state)
{
        static const struct {
                int64_t v;
                uint8_t bytes[10];
                size_t n;
        } cases[] = {
                { 0, { 0x00 }, 1 },
                { -1, { 0x01 }, 1 },
                { 1, { 0x02 }, 1 },
                { -2, { 0x03 }, 1 },
                { 2, { 0x04 }, 1 },
                { -64, { 0x7f }, 1 },
                { 64, { 0x80, 0x01 }, 2 },
                { INT64_MAX, { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10 },
                { INT64_MIN, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10 },
        };
        struct ice_avro_buf b;
        struct zetl_err err = { 0 };

        (void)state;
        ice_avro_buf_init(&b, 0);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct ice_avro_cur c;
                int64_t v;

                ice_avro_buf_reset(&b);
                assert_int_equal(ice_avro_put_long(&b, cases[i].v), 0);
                assert_buf(&b, cases[i].bytes, cases[i].n);
                c = (struct ice_avro_cur){ b.data, b.len, 0 };
                assert_int_equal(ice_avro_get_long(&c, &v, &err), 0);
                assert_true(v == cases[i].v);
                assert_int_equal(c.pos, cases[i].n);
        }
        ice_avro_buf_free(&b);
}

static void test_spec_examples(void **state)
{
        /* "foo" is 06 66 6f 6f; the record {a: long 27, b: string "foo"} is
         * 36 06 66 6f 6f; the array of longs [3, 27] is 04 06 36 00; the union
         * ["null","string"] holding "a" is 02 02 61 and holding null is 00. */
        static const uint8_t foo[] = { 0x06, 0x66, 0x6f, 0x6f };
        static const uint8_t rec[] = { 0x36, 0x06, 0x66, 0x6f, 0x6f };
        static const uint8_t arr[] = { 0x04, 0x06, 0x36, 0x00 };
        static const uint8_t uni[] = { 0x02, 0x02, 0x61, 0x00 };
        static const uint8_t prims[] = { 0x01, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00,
                                         0x00, 0x00, 0x00, 0xf0, 0x3f, 0xab, 0xcd };
        struct ice_avro_buf b;

        (void)state;
        ice_avro_buf_init(&b, 0);
        ice_avro_put_string(&b, "foo");
        assert_buf(&b, foo, sizeof(foo));

        ice_avro_buf_reset(&b);
        ice_avro_put_long(&b, 27);
        ice_avro_put_string(&b, "foo");
        assert_buf(&b, rec, sizeof(rec));

        ice_avro_buf_reset(&b);
        ice_avro_put_block(&b, 2);
        ice_avro_put_long(&b, 3);
        ice_avro_put_long(&b, 27);
        ice_avro_put_block_end(&b);
        assert_buf(&b, arr, sizeof(arr));

        ice_avro_buf_reset(&b);
        ice_avro_put_union(&b, 1);
        ice_avro_put_string(&b, "a");
        ice_avro_put_union(&b, 0);
        assert_buf(&b, uni, sizeof(uni));

        /* boolean true, float 1.0 and double 1.0 little-endian, fixed(2) */
        ice_avro_buf_reset(&b);
        ice_avro_put_bool(&b, true);
        ice_avro_put_float(&b, 1.0f);
        ice_avro_put_double(&b, 1.0);
        ice_avro_put_fixed(&b, "\xab\xcd", 2);
        assert_buf(&b, prims, sizeof(prims));
        ice_avro_buf_free(&b);
}

static void test_decode_values(void **state)
{
        static const uint8_t in[] = { 0x36, 0x06, 0x66, 0x6f, 0x6f, 0x01, 0x00, 0x00, 0x80,
                                      0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f,
                                      0x02, 0xab, 0xcd, 0x04, 0x06, 0x36, 0x00 };
        struct ice_avro_cur c = { in, sizeof(in), 0 };
        struct zetl_err err = { 0 };
        const uint8_t *p;
        size_t n;
        int32_t i32;
        bool bv;
        float f;
        double d;
        int branch;
        int64_t count, v;

        (void)state;
        assert_int_equal(ice_avro_get_int(&c, &i32, &err), 0);
        assert_int_equal(i32, 27);
        assert_int_equal(ice_avro_get_bytes(&c, &p, &n, &err), 0);
        assert_int_equal(n, 3);
        assert_memory_equal(p, "foo", 3);
        assert_int_equal(ice_avro_get_bool(&c, &bv, &err), 0);
        assert_true(bv);
        assert_int_equal(ice_avro_get_float(&c, &f, &err), 0);
        assert_true(f == 1.0f);
        assert_int_equal(ice_avro_get_double(&c, &d, &err), 0);
        assert_true(d == 1.0);
        assert_int_equal(ice_avro_get_union(&c, 2, &branch, &err), 0);
        assert_int_equal(branch, 1);
        assert_int_equal(ice_avro_get_fixed(&c, 2, &p, &err), 0);
        assert_memory_equal(p, "\xab\xcd", 2);
        assert_int_equal(ice_avro_get_block(&c, &count, &err), 0);
        assert_int_equal(count, 2);
        assert_int_equal(ice_avro_get_long(&c, &v, &err), 0);
        assert_int_equal(v, 3);
        assert_int_equal(ice_avro_get_long(&c, &v, &err), 0);
        assert_int_equal(v, 27);
        assert_int_equal(ice_avro_get_block(&c, &count, &err), 0);
        assert_int_equal(count, 0);
        assert_int_equal(c.pos, c.len);
        /* Nothing left: every getter fails cleanly. */
        assert_int_equal(ice_avro_get_long(&c, &v, &err), ZETL_EPROTO);
        assert_int_equal(ice_avro_get_bool(&c, &bv, &err), ZETL_EPROTO);
        assert_int_equal(ice_avro_get_double(&c, &d, &err), ZETL_EPROTO);
        assert_int_equal(ice_avro_get_fixed(&c, 1, &p, &err), ZETL_EPROTO);
}

/* A negative block count is followed by the block's byte size (spec). */
static void test_negative_block_count(void **state)
{
        static const uint8_t in[] = { 0x03, 0x04, 0x06, 0x36, 0x00 }; /* -2, size 2, 3, 27, 0 */
        struct ice_avro_cur c = { in, sizeof(in), 0 };
        struct zetl_err err = { 0 };
        int64_t count, v;

        (void)state;
        assert_int_equal(ice_avro_get_block(&c, &count, &err), 0);
        assert_int_equal(count, 2);
        assert_int_equal(ice_avro_get_long(&c, &v, &err), 0);
        assert_int_equal(v, 3);
}

static void test_decode_errors(void **state)
{
        static const uint8_t trunc[] = { 0x80 };
        static const uint8_t overlong[] = { 0xff, 0xff, 0xff, 0xff, 0xff,
                                            0xff, 0xff, 0xff, 0xff, 0x02 };
        static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                          0x80, 0x80, 0x80, 0x80, 0x00 };
        static const uint8_t bigint[] = { 0x80, 0x80, 0x80, 0x80, 0x10 }; /* 2^31 */
        static const uint8_t badbool[] = { 0x02 };
        static const uint8_t neglen[] = { 0x01 };
        static const uint8_t longlen[] = { 0x08, 'a', 'b' };
        static const uint8_t badunion[] = { 0x04 };
        static const uint8_t hugecount[] = { 0xfe, 0xff, 0xff, 0xff, 0x0f, 0x00 };
        struct zetl_err err = { 0 };
        struct ice_avro_cur c;
        const uint8_t *p;
        size_t n;
        int64_t v;
        int32_t i32;
        bool bv;
        int branch;

        (void)state;
        c = (struct ice_avro_cur){ trunc, sizeof(trunc), 0 };
        assert_int_equal(ice_avro_get_long(&c, &v, &err), ZETL_EPROTO);
        assert_int_equal(err.cls, ZETL_ERRC_FATAL);
        assert_non_null(strstr(err.msg, "truncated"));
        c = (struct ice_avro_cur){ overlong, sizeof(overlong), 0 };
        assert_int_equal(ice_avro_get_long(&c, &v, &err), ZETL_EPROTO);
        c = (struct ice_avro_cur){ eleven, sizeof(eleven), 0 };
        assert_int_equal(ice_avro_get_long(&c, &v, &err), ZETL_EPROTO);
        c = (struct ice_avro_cur){ bigint, sizeof(bigint), 0 };
        assert_int_equal(ice_avro_get_int(&c, &i32, &err), ZETL_EPROTO);
        c = (struct ice_avro_cur){ badbool, sizeof(badbool), 0 };
        assert_int_equal(ice_avro_get_bool(&c, &bv, &err), ZETL_EPROTO);
        c = (struct ice_avro_cur){ neglen, sizeof(neglen), 0 };
        assert_int_equal(ice_avro_get_bytes(&c, &p, &n, &err), ZETL_EPROTO);
        c = (struct ice_avro_cur){ longlen, sizeof(longlen), 0 };
        assert_int_equal(ice_avro_get_bytes(&c, &p, &n, &err), ZETL_EPROTO);
        c = (struct ice_avro_cur){ badunion, sizeof(badunion), 0 };
        assert_int_equal(ice_avro_get_union(&c, 2, &branch, &err), ZETL_EPROTO);
        c = (struct ice_avro_cur){ hugecount, sizeof(hugecount), 0 };
        assert_int_equal(ice_avro_get_block(&c, &v, &err), ZETL_EPROTO);
}

static void test_buf_ceiling_is_sticky(void **state)
{
        struct ice_avro_buf b;

        (void)state;
        ice_avro_buf_init(&b, 4);
        assert_int_equal(ice_avro_put_string(&b, "abc"), 0);
        assert_int_equal(b.len, 4);
        assert_int_equal(ice_avro_put_long(&b, 1), ZETL_ELIMIT);
        /* Sticky: even a write that would fit fails and nothing is added. */
        assert_int_equal(ice_avro_put_raw(&b, "", 0), ZETL_ELIMIT);
        assert_int_equal(b.len, 4);
        ice_avro_buf_reset(&b);
        assert_int_equal(ice_avro_put_long(&b, 1), 0);
        ice_avro_buf_free(&b);
}

/* Header: magic, map block of 2 entries, avro.schema, avro.codec, end, sync. */
static size_t expected_header(uint8_t *out, const char *schema, const char *codec)
{
        size_t n = 0, sl = strlen(schema), cl = strlen(codec);

        memcpy(out + n, "Obj\x01", 4);
        n += 4;
        out[n++] = 0x04; /* two entries */
        out[n++] = 2 * 11;
        memcpy(out + n, "avro.schema", 11);
        n += 11;
        assert_true(sl < 64);
        out[n++] = (uint8_t)(2 * sl);
        memcpy(out + n, schema, sl);
        n += sl;
        out[n++] = 2 * 10;
        memcpy(out + n, "avro.codec", 10);
        n += 10;
        out[n++] = (uint8_t)(2 * cl);
        memcpy(out + n, codec, cl);
        n += cl;
        out[n++] = 0x00;
        memcpy(out + n, test_sync, 16);
        return n + 16;
}

static void test_container_layout(void **state)
{
        const char *schema = "\"long\"";
        struct ice_avro_writer_opts o = { .schema = schema, .sync = test_sync };
        struct ice_avro_writer *w;
        struct zetl_err err = { 0 };
        uint8_t want[256], *data;
        size_t n, len;
        const uint8_t r1[] = { 0x36 }, r2[] = { 0x80, 0x01 };

        (void)state;
        assert_int_equal(ice_avro_writer_open_mem(&o, &w, &err), 0);
        assert_int_equal(ice_avro_writer_finish_mem(w, &data, &len, &err), 0);
        n = expected_header(want, schema, "null");
        assert_int_equal(len, n);
        assert_memory_equal(data, want, n);
        free(data);

        /* Two records (27 and 64) in one block: count 2, size 3, data, sync. */
        assert_int_equal(ice_avro_writer_open_mem(&o, &w, &err), 0);
        assert_int_equal(ice_avro_writer_append(w, r1, 1, &err), 0);
        assert_int_equal(ice_avro_writer_append(w, r2, 2, &err), 0);
        assert_int_equal(ice_avro_writer_count(w), 2);
        assert_int_equal(ice_avro_writer_finish_mem(w, &data, &len, &err), 0);
        want[n++] = 0x04;
        want[n++] = 0x06;
        want[n++] = 0x36;
        want[n++] = 0x80;
        want[n++] = 0x01;
        memcpy(want + n, test_sync, 16);
        n += 16;
        assert_int_equal(len, n);
        assert_memory_equal(data, want, n);
        free(data);
}

/* Write count longs i*1000003 with the options, read them back. */
static void roundtrip(enum ice_avro_codec codec, size_t block_bytes, int count, size_t *nblocks_out)
{
        struct ice_avro_meta meta[] = { { "format-version", "2" }, { "content", "data" } };
        struct ice_avro_writer_opts o = { .schema = "\"long\"",
                                          .codec = codec,
                                          .meta = meta,
                                          .nmeta = 2,
                                          .block_bytes = block_bytes };
        struct ice_avro_writer *w;
        struct ice_avro_file *f;
        struct ice_avro_buf rec;
        struct ice_avro_cur blk;
        struct zetl_err err = { 0 };
        uint8_t *data;
        size_t len, nblocks = 0;
        int64_t cnt, v, seen = 0;
        int rc;

        ice_avro_buf_init(&rec, 0);
        assert_int_equal(ice_avro_writer_open_mem(&o, &w, &err), 0);
        for (int i = 0; i < count; i++) {
                ice_avro_buf_reset(&rec);
                ice_avro_put_long(&rec, (int64_t)i * 1000003);
                assert_int_equal(ice_avro_writer_append(w, rec.data, rec.len, &err), 0);
        }
        assert_int_equal(ice_avro_writer_finish_mem(w, &data, &len, &err), 0);
        ice_avro_buf_free(&rec);

        assert_int_equal(ice_avro_file_open(data, len, &f, &err), 0);
        assert_int_equal(ice_avro_file_codec(f), codec);
        assert_string_equal(ice_avro_file_meta(f, "avro.schema", NULL), "\"long\"");
        assert_string_equal(ice_avro_file_meta(f, "avro.codec", NULL),
                            codec == ICE_AVRO_CODEC_DEFLATE ? "deflate" : "null");
        assert_string_equal(ice_avro_file_meta(f, "format-version", NULL), "2");
        assert_string_equal(ice_avro_file_meta(f, "content", NULL), "data");
        assert_null(ice_avro_file_meta(f, "missing", NULL));
        while ((rc = ice_avro_file_next_block(f, &blk, &cnt, &err)) == 1) {
                nblocks++;
                for (int64_t i = 0; i < cnt; i++) {
                        assert_int_equal(ice_avro_get_long(&blk, &v, &err), 0);
                        assert_true(v == seen * 1000003);
                        seen++;
                }
                assert_int_equal(blk.pos, blk.len);
        }
        assert_int_equal(rc, 0);
        assert_int_equal(seen, count);
        ice_avro_file_free(f);
        free(data);
        *nblocks_out = nblocks;
}

static void test_roundtrip_null_and_deflate(void **state)
{
        size_t nblocks;

        (void)state;
        roundtrip(ICE_AVRO_CODEC_NULL, 0, 1000, &nblocks);
        assert_int_equal(nblocks, 1);
        roundtrip(ICE_AVRO_CODEC_DEFLATE, 0, 1000, &nblocks);
        assert_int_equal(nblocks, 1);
        /* Small blocks: 100000 records of 1-4 bytes in blocks of ~1 KiB. */
        roundtrip(ICE_AVRO_CODEC_NULL, 1024, 100000, &nblocks);
        assert_true(nblocks > 100);
        roundtrip(ICE_AVRO_CODEC_DEFLATE, 1024, 100000, &nblocks);
        assert_true(nblocks > 100);
        roundtrip(ICE_AVRO_CODEC_DEFLATE, 0, 0, &nblocks);
        assert_int_equal(nblocks, 0);
}

/* Make a small deflate or null file with two blocks. */
static void make_file(enum ice_avro_codec codec, uint8_t **data, size_t *len)
{
        struct ice_avro_writer_opts o = {
                .schema = "\"string\"", .codec = codec, .sync = test_sync, .block_bytes = 16
        };
        struct ice_avro_writer *w;
        struct ice_avro_buf rec;
        struct zetl_err err = { 0 };

        ice_avro_buf_init(&rec, 0);
        assert_int_equal(ice_avro_writer_open_mem(&o, &w, &err), 0);
        for (int i = 0; i < 4; i++) {
                ice_avro_buf_reset(&rec);
                ice_avro_put_string(&rec, "twelve bytes");
                assert_int_equal(ice_avro_writer_append(w, rec.data, rec.len, &err), 0);
        }
        ice_avro_buf_free(&rec);
        assert_int_equal(ice_avro_writer_finish_mem(w, data, len, &err), 0);
}

/* Open and read every block; returns the first error (0 if all went well). */
static int read_all(const uint8_t *data, size_t len, struct zetl_err *err)
{
        struct ice_avro_file *f;
        struct ice_avro_cur blk;
        int64_t cnt;
        int rc = ice_avro_file_open(data, len, &f, err);

        if (rc)
                return rc;
        while ((rc = ice_avro_file_next_block(f, &blk, &cnt, err)) == 1) {
                for (int64_t i = 0; i < cnt && rc >= 0; i++) {
                        const uint8_t *p;
                        size_t n;

                        rc = ice_avro_get_bytes(&blk, &p, &n, err);
                }
                if (rc < 0)
                        break;
        }
        ice_avro_file_free(f);
        return rc;
}

static void test_truncated_files_rejected(void **state)
{
        (void)state;
        for (int codec = 0; codec < 2; codec++) {
                struct zetl_err err = { 0 };
                uint8_t *data, *copy;
                size_t len;

                make_file(codec, &data, &len);
                assert_int_equal(read_all(data, len, &err), 0);
                /* Every proper prefix fails with an error, read from an exact-size copy so
                 * ASan sees any read past the end. A prefix that ends exactly between
                 * blocks is a valid (shorter) file. */
                for (size_t cut = 0; cut < len; cut++) {
                        int rc;

                        copy = malloc(cut ? cut : 1);
                        memcpy(copy, data, cut);
                        rc = read_all(copy, cut, &err);
                        free(copy);
                        if (rc == 0) {
                                continue;
                        }
                        assert_true(rc == ZETL_EPROTO);
                        assert_true(err.msg[0] != '\0');
                }
                free(data);
        }
}

static void test_corrupt_files_rejected(void **state)
{
        struct zetl_err err = { 0 };
        uint8_t *data;
        size_t len, hdr;

        (void)state;
        make_file(ICE_AVRO_CODEC_NULL, &data, &len);
        hdr = expected_header((uint8_t[256]){ 0 }, "\"string\"", "null");
        /* bad magic */
        data[3] ^= 0xff;
        assert_int_equal(read_all(data, len, &err), ZETL_EPROTO);
        assert_non_null(strstr(err.msg, "magic"));
        data[3] ^= 0xff;
        /* the first block's sync marker */
        data[hdr + 2 + 13 * 2] ^= 0x01;
        assert_int_equal(read_all(data, len, &err), ZETL_EPROTO);
        assert_non_null(strstr(err.msg, "sync"));
        data[hdr + 2 + 13 * 2] ^= 0x01;
        /* a wrong block size: the sync marker is then not where it must be */
        data[hdr + 1] = 0x7e;
        assert_int_equal(read_all(data, len, &err), ZETL_EPROTO);
        free(data);

        /* a deflate block whose compressed bytes are damaged */
        make_file(ICE_AVRO_CODEC_DEFLATE, &data, &len);
        hdr = expected_header((uint8_t[256]){ 0 }, "\"string\"", "deflate");
        for (size_t i = hdr + 2; i < len; i++) {
                data[i] ^= 0x55;
                /* Either rejected, or (rarely) a different valid stream: never a crash. */
                (void)read_all(data, len, &err);
                data[i] ^= 0x55;
        }
        data[hdr + 2] = 0xff; /* reserved block type 3 */
        assert_int_equal(read_all(data, len, &err), ZETL_EPROTO);
        free(data);
}

static void test_unknown_codec_and_reserved_keys(void **state)
{
        struct ice_avro_meta bad[] = { { "avro.codec", "snappy" } };
        struct ice_avro_writer_opts o = { .schema = "\"long\"", .meta = bad, .nmeta = 1 };
        struct ice_avro_writer *w;
        struct ice_avro_file *f;
        struct zetl_err err = { 0 };
        uint8_t buf[256];
        size_t n;

        (void)state;
        assert_int_equal(ice_avro_writer_open_mem(&o, &w, &err), ZETL_EINVAL);
        assert_null(w);
        o.meta = NULL;
        o.nmeta = 0;
        o.schema = NULL;
        assert_int_equal(ice_avro_writer_open_mem(&o, &w, &err), ZETL_EINVAL);

        n = expected_header(buf, "\"long\"", "snappy");
        assert_int_equal(ice_avro_file_open(buf, n, &f, &err), ZETL_EUNSUPPORTED);
        assert_null(f);
        n = expected_header(buf, "\"long\"", "null");
        assert_int_equal(ice_avro_file_open(buf, n, &f, &err), 0);
        ice_avro_file_free(f);
}

static char tmpdir[] = "/tmp/zetl-test-avro.XXXXXX";

static void test_file_writer_exclusive(void **state)
{
        struct ice_avro_writer_opts o = { .schema = "\"long\"", .codec = ICE_AVRO_CODEC_DEFLATE };
        struct ice_avro_writer *w, *w2;
        struct zetl_err err = { 0 };
        char path[128];
        uint8_t rec[1] = { 0x02 };
        uint64_t flen = 0;
        struct stat st;
        struct ice_avro_file *f;
        struct ice_avro_cur blk;
        int64_t cnt;
        char *buf;
        size_t len;

        (void)state;
        snprintf(path, sizeof(path), "%s/a.avro", tmpdir);
        assert_int_equal(ice_avro_writer_open(path, &o, &w, &err), 0);
        /* Another writer cannot take the same name, and does not remove it. */
        assert_int_equal(ice_avro_writer_open(path, &o, &w2, &err), ZETL_EEXIST);
        assert_null(w2);
        for (int i = 0; i < 10; i++)
                assert_int_equal(ice_avro_writer_append(w, rec, 1, &err), 0);
        assert_int_equal(ice_avro_writer_close(w, &flen, &err), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal((uint64_t)st.st_size, flen);
        assert_int_equal(zetl_file_read(path, 1 << 20, &buf, &len, &err), 0);
        assert_int_equal(ice_avro_file_open((uint8_t *)buf, len, &f, &err), 0);
        assert_int_equal(ice_avro_file_next_block(f, &blk, &cnt, &err), 1);
        assert_int_equal(cnt, 10);
        assert_int_equal(blk.len, 10);
        assert_int_equal(ice_avro_file_next_block(f, &blk, &cnt, &err), 0);
        ice_avro_file_free(f);
        free(buf);
        assert_int_equal(ice_avro_writer_open(path, &o, &w2, &err), ZETL_EEXIST);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal((uint64_t)st.st_size, flen);
        unlink(path);
}

static void test_file_writer_faults_leave_nothing(void **state)
{
        struct ice_avro_writer_opts o = { .schema = "\"long\"" };
        struct ice_avro_writer *w;
        struct zetl_err err = { 0 };
        char path[128];
        uint8_t rec[1] = { 0x02 };

        (void)state;
        snprintf(path, sizeof(path), "%s/b.avro", tmpdir);
        /* 1st write: the header at open; 2nd: the block at close. */
        for (int nth = 1; nth <= 2; nth++) {
                zetl_fault_arm(ZETL_FAULT_WRITE, nth, ENOSPC);
                w = NULL;
                if (ice_avro_writer_open(path, &o, &w, &err) == 0) {
                        assert_int_equal(ice_avro_writer_append(w, rec, 1, &err), 0);
                        assert_int_equal(ice_avro_writer_close(w, NULL, &err), ZETL_EIO);
                } else {
                        assert_int_equal(err.code, ZETL_EIO);
                }
                assert_int_equal(err.cls, ZETL_ERRC_TRANSIENT);
                assert_int_equal(access(path, F_OK), -1);
                zetl_fault_reset();
        }
        zetl_fault_arm(ZETL_FAULT_FSYNC, 1, EIO);
        assert_int_equal(ice_avro_writer_open(path, &o, &w, &err), 0);
        assert_int_equal(ice_avro_writer_close(w, NULL, &err), ZETL_EIO);
        assert_int_equal(access(path, F_OK), -1);
        zetl_fault_reset();
        /* abort removes what it created */
        assert_int_equal(ice_avro_writer_open(path, &o, &w, &err), 0);
        ice_avro_writer_abort(w);
        assert_int_equal(access(path, F_OK), -1);
}

static int setup(void **state)
{
        (void)state;
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        return rmdir(tmpdir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_zigzag_known_bytes),
                cmocka_unit_test(test_spec_examples),
                cmocka_unit_test(test_decode_values),
                cmocka_unit_test(test_negative_block_count),
                cmocka_unit_test(test_decode_errors),
                cmocka_unit_test(test_buf_ceiling_is_sticky),
                cmocka_unit_test(test_container_layout),
                cmocka_unit_test(test_roundtrip_null_and_deflate),
                cmocka_unit_test(test_truncated_files_rejected),
                cmocka_unit_test(test_corrupt_files_rejected),
                cmocka_unit_test(test_unknown_codec_and_reserved_keys),
                cmocka_unit_test(test_file_writer_exclusive),
                cmocka_unit_test(test_file_writer_faults_leave_nothing),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
