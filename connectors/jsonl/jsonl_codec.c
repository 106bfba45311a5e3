/* The jsonl format's values and schemas, both ways (see jsonl.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl.h"
#include "zetl/schema_json.h"
#include "zetl/value.h"

static json_t *float_json(double d)
{
        if (isnan(d))
                return json_string("NaN");
        if (isinf(d))
                return json_string(d > 0 ? "Infinity" : "-Infinity");
        return json_real(d);
}

json_t *jsonl_value(const struct zetl_batch *b, int col, uint32_t r)
{
        enum zetl_type t = b->schema->cols[col].type;
        char buf[ZETL_TS_TEXT_MAX];
        const uint8_t *p;
        size_t len;

        if (zetl_batch_is_null(b, col, r))
                return json_null();
        switch (t) {
        case ZETL_T_BOOL:
                return json_boolean(zetl_batch_get_bool(b, col, r));
        case ZETL_T_INT16:
                return json_integer(zetl_batch_get_i16(b, col, r));
        case ZETL_T_INT32:
                return json_integer(zetl_batch_get_i32(b, col, r));
        case ZETL_T_INT64:
                return json_integer(zetl_batch_get_i64(b, col, r));
        case ZETL_T_FLOAT32:
                return float_json(zetl_batch_get_f32(b, col, r));
        case ZETL_T_FLOAT64:
                return float_json(zetl_batch_get_f64(b, col, r));
        case ZETL_T_DECIMAL:
        case ZETL_T_STRING:
        case ZETL_T_JSON:
                p = zetl_batch_get_var(b, col, r, &len);
                return json_stringn((const char *)p, len);
        case ZETL_T_BYTES: {
                p = zetl_batch_get_var(b, col, r, &len);
                char *enc = malloc(4 * ((len + 2) / 3) + 1);
                json_t *j;
                if (!enc)
                        return NULL;
                len = zetl_base64_encode(p, len, enc);
                j = json_stringn(enc, len);
                free(enc);
                return j;
        }
        case ZETL_T_DATE:
                zetl_format_date(zetl_batch_get_i32(b, col, r), buf);
                return json_string(buf);
        case ZETL_T_TIME:
                zetl_format_time(zetl_batch_get_i64(b, col, r), buf);
                return json_string(buf);
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                zetl_format_timestamp(zetl_batch_get_i64(b, col, r), t == ZETL_T_TIMESTAMPTZ, buf);
                return json_string(buf);
        case ZETL_T_UUID:
                zetl_format_uuid(zetl_batch_get_uuid(b, col, r), buf);
                return json_string(buf);
        case ZETL_T__COUNT:
                break;
        }
        return NULL;
}

static int bad(struct zetl_batch *b, int col, const char *what, struct zetl_err *err)
{
        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "column \"%s\" (%s): %s",
                            b->schema->cols[col].name, zetl_type_name(b->schema->cols[col].type),
                            what);
}

static int int_value(struct zetl_batch *b, int col, json_t *v, int64_t min, int64_t max,
                     int64_t *out, struct zetl_err *err)
{
        if (!json_is_integer(v))
                return bad(b, col, "expected an integer", err);
        *out = json_integer_value(v);
        if (*out < min || *out > max)
                return bad(b, col, "integer out of range", err);
        return 0;
}

static int float_value(struct zetl_batch *b, int col, json_t *v, double *out, struct zetl_err *err)
{
        if (json_is_number(v)) {
                *out = json_number_value(v);
                return 0;
        }
        const char *s = json_string_value(v);
        if (s && strcmp(s, "NaN") == 0)
                *out = NAN;
        else if (s && strcmp(s, "Infinity") == 0)
                *out = INFINITY;
        else if (s && strcmp(s, "-Infinity") == 0)
                *out = -INFINITY;
        else
                return bad(b, col, "expected a number", err);
        return 0;
}

int jsonl_set_value(struct zetl_batch *b, int col, json_t *v, struct zetl_err *err)
{
        enum zetl_type t = b->schema->cols[col].type;
        const char *s = json_string_value(v);
        size_t len = s ? json_string_length(v) : 0;
        int64_t i = 0;
        double d = 0;
        int rc;

        if (json_is_null(v)) {
                zetl_batch_set_null(b, col);
                return 0;
        }
        switch (t) {
        case ZETL_T_BOOL:
                if (!json_is_boolean(v))
                        return bad(b, col, "expected true or false", err);
                zetl_batch_set_bool(b, col, json_is_true(v));
                return 0;
        case ZETL_T_INT16:
                if ((rc = int_value(b, col, v, INT16_MIN, INT16_MAX, &i, err)))
                        return rc;
                zetl_batch_set_i16(b, col, (int16_t)i);
                return 0;
        case ZETL_T_INT32:
                if ((rc = int_value(b, col, v, INT32_MIN, INT32_MAX, &i, err)))
                        return rc;
                zetl_batch_set_i32(b, col, (int32_t)i);
                return 0;
        case ZETL_T_INT64:
                if ((rc = int_value(b, col, v, INT64_MIN, INT64_MAX, &i, err)))
                        return rc;
                zetl_batch_set_i64(b, col, i);
                return 0;
        case ZETL_T_FLOAT32:
                if ((rc = float_value(b, col, v, &d, err)))
                        return rc;
                zetl_batch_set_f32(b, col, (float)d);
                return 0;
        case ZETL_T_FLOAT64:
                if ((rc = float_value(b, col, v, &d, err)))
                        return rc;
                zetl_batch_set_f64(b, col, d);
                return 0;
        default:
                break;
        }
        if (!s)
                return bad(b, col, "expected a string", err);
        switch (t) {
        case ZETL_T_DECIMAL:
                if (!zetl_decimal_valid(s, len))
                        return bad(b, col, "not a decimal", err);
                return zetl_batch_set_var(b, col, s, len, err);
        case ZETL_T_STRING:
        case ZETL_T_JSON:
                return zetl_batch_set_var(b, col, s, len, err);
        case ZETL_T_BYTES: {
                uint8_t *dst = zetl_batch_var_reserve(b, col, len / 4 * 3 + 3, err);
                long n;
                if (!dst)
                        return err->code;
                if ((n = zetl_base64_decode(s, len, dst)) < 0)
                        return bad(b, col, "not base64", err);
                zetl_batch_var_commit(b, col, (size_t)n);
                return 0;
        }
        case ZETL_T_DATE: {
                int32_t days;
                if (zetl_parse_date(s, len, &days))
                        return bad(b, col, "not a date", err);
                zetl_batch_set_i32(b, col, days);
                return 0;
        }
        case ZETL_T_TIME:
                if (zetl_parse_time(s, len, &i))
                        return bad(b, col, "not a time", err);
                zetl_batch_set_i64(b, col, i);
                return 0;
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                if (zetl_parse_timestamp(s, len, &i))
                        return bad(b, col, "not a timestamp", err);
                zetl_batch_set_i64(b, col, i);
                return 0;
        case ZETL_T_UUID: {
                uint8_t u[16];
                if (zetl_parse_uuid(s, len, u))
                        return bad(b, col, "not a uuid", err);
                zetl_batch_set_uuid(b, col, u);
                return 0;
        }
        default:
                return bad(b, col, "unexpected type", err);
        }
}

json_t *jsonl_table(const struct zetl_table_id *id)
{
        return zetl_table_id_to_json(id);
}

int jsonl_parse_table(json_t *v, struct zetl_table_id *id, struct zetl_err *err)
{
        return zetl_table_id_from_json(v, id, err);
}

json_t *jsonl_schema(const struct zetl_schema *old, const struct zetl_schema *s,
                     const struct zetl_schema_diff *d)
{
        json_t *body = zetl_schema_to_json(old, s, d);
        json_t *o = body ? json_pack("{s:s}", "type", "schema") : NULL;

        /* "type" first, like every other line. */
        if (o && json_object_update(o, body)) {
                json_decref(o);
                o = NULL;
        }
        json_decref(body);
        return o;
}

int jsonl_parse_schema(json_t *line, struct zetl_schema **out, struct zetl_err *err)
{
        return zetl_schema_from_json(line, out, err);
}

json_t *jsonl_pos(uint64_t pos)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%" PRIu64, pos);
        return json_string(buf);
}

int jsonl_parse_pos(json_t *v, uint64_t *out)
{
        const char *s = json_string_value(v);
        char *end;

        if (json_is_integer(v) && json_integer_value(v) >= 0) {
                *out = (uint64_t)json_integer_value(v);
                return 0;
        }
        if (!s || !*s || *s == '-')
                return ZETL_EINVAL;
        errno = 0;
        *out = strtoull(s, &end, 10);
        return (errno || *end) ? ZETL_EINVAL : 0;
}
