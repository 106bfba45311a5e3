/*
 * libFuzzer target for MySQL 8's binary JSON to text (connectors/mysql/my_json.h).
 * The input is one binary JSON document.
 *
 * Checked, from my_json.h: a refusal is ZETL_EPROTO or ZETL_ELIMIT, fatal,
 * its message starting "MySQL binary JSON: "; the length measured with no
 * buffer is the length written; a buffer one byte short is never overrun (it
 * is an exactly-sized heap block, so ASan sees a byte past it); the text
 * stays within MY_JSON_MAX_EXPANSION times the binary size; and text that is
 * valid UTF-8 parses back as one JSON value (MySQL's layout is JSON), unless
 * it holds "\u0000", which jansson cannot take in an object key.
 *
 * Seeds: tests/fuzz/corpus/fuzz_my_json holds the documents of
 * tests/unit/test_my_json.c (containers, scalars, doubles, strings, opaque
 * values), one per file.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "../../connectors/mysql/my_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct zetl_err err = { 0 };
        size_t n = 0, n2 = 0;
        char *buf = NULL;
        int rc;

        rc = my_json_to_text(data, size, NULL, 0, &n, &err);
        if (rc != 0) {
                CHECK(rc == ZETL_EPROTO || rc == ZETL_ELIMIT);
                CHECK(err.code == rc && err.cls == ZETL_ERRC_FATAL);
                CHECK(strncmp(err.msg, "MySQL binary JSON: ", 19) == 0);
                return 0;
        }
        CHECK(n > 0);
        CHECK(size == 0 || n <= (size_t)MY_JSON_MAX_EXPANSION * size);

        /* One byte short: measured again, nothing written past the buffer. */
        buf = malloc(n - 1 ? n - 1 : 1);
        CHECK(buf != NULL);
        CHECK(my_json_to_text(data, size, buf, n - 1, &n2, &err) == 0);
        CHECK(n2 == n);
        free(buf);

        buf = malloc(n);
        CHECK(buf != NULL);
        CHECK(my_json_to_text(data, size, buf, n, &n2, &err) == 0);
        CHECK(n2 == n);
        /* jansson reads "\u0000" in strings (JSON_ALLOW_NUL) but never in keys. */
        if (valid_utf8((const uint8_t *)buf, n) && !memmem(buf, n, "\\u0000", 6)) {
                json_error_t je;
                json_t *j = json_loadb(
                        buf, n, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
                if (!j)
                        fprintf(stderr, "text does not parse as JSON: %s: %.*s\n", je.text,
                                (int)(n > 400 ? 400 : n), buf);
                CHECK(j != NULL);
                json_decref(j);
        }
        free(buf);
        return 0;
}
