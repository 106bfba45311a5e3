/*
 * The parts of the binlog reader that need no server: MySQL 8's GTID event
 * (type 33) and binlog position tokens. MySQL 8 cannot run here; the GTID
 * fixture is built from the published layout of Gtid_log_event (MySQL
 * source, libbinlogevents/include/control_events.h, "Gtid_event"): a flags
 * byte, the 16-byte SID, the 8-byte little-endian GNO, then the logical
 * clock (type byte 2, last_committed and sequence_number, 8 bytes each).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../connectors/mysql/my_binlog.h"
#include "zetl/position.h"

/* 3E11FA47-71CA-11E1-9E33-C80AA9429562:23, the example GTID of MySQL's manual. */
static const uint8_t gtid_event[] = {
        0x01,                                           /* flags: may commit in parallel */
        0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, /* SID */
        0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62, /* */
        0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* GNO 23 */
        0x02,                                           /* logical clock */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* last_committed 0 */
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* sequence_number 1 */
};

static void test_mysql_gtid(void **state)
{
        uint8_t sid[16];
        int64_t gno = 0;
        char text[64];
        struct zetl_err e;

        (void)state;
        assert_int_equal(my_mysql_gtid_parse(gtid_event, sizeof(gtid_event), sid, &gno, &e), 0);
        assert_int_equal(gno, 23);
        assert_memory_equal(sid, gtid_event + 1, 16);
        my_mysql_gtid_format(sid, gno, text, sizeof(text));
        assert_string_equal(text, "3e11fa47-71ca-11e1-9e33-c80aa9429562:23");
}

static void test_mysql_gtid_malformed(void **state)
{
        uint8_t sid[16], body[sizeof(gtid_event)];
        int64_t gno;
        struct zetl_err e;

        (void)state;
        /* Shorter than flags + SID + GNO. */
        assert_int_equal(my_mysql_gtid_parse(gtid_event, 24, sid, &gno, &e), ZETL_EPROTO);
        /* GNO 0 and GNO >= 2^63 are not transaction numbers. */
        memcpy(body, gtid_event, sizeof(body));
        memset(body + 17, 0, 8);
        assert_int_equal(my_mysql_gtid_parse(body, sizeof(body), sid, &gno, &e), ZETL_EPROTO);
        memset(body + 17, 0xff, 8);
        assert_int_equal(my_mysql_gtid_parse(body, sizeof(body), sid, &gno, &e), ZETL_EPROTO);
}

static void test_position_tokens(void **state)
{
        static const char *const tokens[] = {
                "bin.000003:38167625 gtid=0-1-201",
                "bin.000003:4 gtid=0-1-201,1-2-7",
                "binlog.000002:1234 gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:23",
                "mysql-bin.000010:120",
        };
        struct my_binlog_pos p;
        char back[ZETL_POS_TOKEN_MAX];
        struct zetl_err e;

        (void)state;
        for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
                assert_int_equal(my_binlog_pos_parse(tokens[i], &p, &e), 0);
                my_binlog_pos_format(&p, back, sizeof(back));
                assert_string_equal(back, tokens[i]);
        }
        assert_int_equal(my_binlog_pos_parse(tokens[2], &p, &e), 0);
        assert_string_equal(p.file, "binlog.000002");
        assert_int_equal(p.offset, 1234);
        assert_string_equal(p.gtid, "3e11fa47-71ca-11e1-9e33-c80aa9429562:23");
        /* Not a GTID of either kind. */
        assert_int_equal(my_binlog_pos_parse("bin.000001:4 gtid=0-1-2;DROP", &p, &e), ZETL_EINVAL);
        assert_int_equal(my_binlog_pos_parse("bin.000001:4 gtid=zz:1", &p, &e), ZETL_EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mysql_gtid),
                cmocka_unit_test(test_mysql_gtid_malformed),
                cmocka_unit_test(test_position_tokens),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
