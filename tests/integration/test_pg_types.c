/*
 * Integration test of connectors/postgres/pg_types against a real PostgreSQL
 * (the harness server, ZETL_TEST_PG_URI): a table with a column of every
 * supported type, rows with NULLs, extremes, non-ASCII text and empty values,
 * fetched once in binary and once in text. For every cell it checks that
 *   (a) and (b) both forms decode to byte-identical cells (or are refused
 *       alike), and
 *   (c) the cell matches what PostgreSQL itself computes for the value
 *       (col::text, to_json(col), extract(epoch ...), encode(...)).
 * It also checks the mapping of every column against its declared type.
 * One line per check; exit 1 on any failure, 77 when no server is given.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../../connectors/postgres/pg_types.h"
#include "zetl/batch.h"
#include "zetl/schema.h"
#include "zetl/value.h"

/* Names unique to this test: other tests share the server. */
#define TABLE  "zetl_it_pg_types"
#define ENUM   "zetl_it_pg_types_mood"
#define DOMAIN "zetl_it_pg_types_num102"

#define NROWS 6

/* How a cell is compared with PostgreSQL's own answer. */
enum check {
        CK_TEXT,   /* the var cell equals the expected text */
        CK_INT,    /* integer cell, expected in decimal */
        CK_FLOAT,  /* float cell, expected as PostgreSQL prints it */
        CK_BOOL,   /* "true" / "false" */
        CK_DATE,   /* days since 1970, or "infinity" / "-infinity" */
        CK_TIME,   /* µs since midnight */
        CK_TS,     /* µs since 1970, or ±infinity; beyond int64: refused */
        CK_UUID,   /* canonical text */
        CK_BYTES,  /* hex of the bytes */
        CK_TIMETZ, /* "<µs of the time> <offset east in seconds>" */
};

struct colspec {
        const char *name;
        const char *decl;
        enum zetl_type type; /* the mapping expected from the declaration */
        int32_t prec, scale;
        bool text_only;
        enum check ck;
        const char *expect;      /* SQL over the column, written "@" */
        const char *vals[NROWS]; /* SQL literals; NULL is SQL NULL */
};

/* PostgreSQL's own rendering of timestamptz[] the way zetl writes them. */
#define TSTZ_ARRAY_JSON                                                                            \
        "coalesce((SELECT array_to_json(array_agg(CASE WHEN e IS NULL THEN NULL"                   \
        " WHEN isfinite(e) THEN to_char(e, 'YYYY-MM-DD\"T\"HH24:MI:SS')"                           \
        " || CASE WHEN to_char(e, 'US') <> '000000' THEN '.' || to_char(e, 'US') ELSE '' END"      \
        " || 'Z' ELSE e::text END ORDER BY n)) FROM unnest(@) WITH ORDINALITY AS u(e, n)),"        \
        " '[]'::json)::text"
#define BYTEA_ARRAY_JSON                                                                           \
        "coalesce((SELECT array_to_json(array_agg(encode(e, 'base64') ORDER BY n))"                \
        " FROM unnest(@) WITH ORDINALITY AS u(e, n)), '[]'::json)::text"
/* µs since 1970 from the date and the time of day (TimeZone is UTC), exact where
 * extract(epoch) rounds (its numeric fallback near the int64 limit). */
#define TS_USEC                                                                                    \
        "CASE WHEN isfinite(@) THEN ((@::date - DATE '1970-01-01')::numeric * 86400000000"         \
        " + trunc(extract(epoch FROM @::time) * 1000000))::text ELSE @::text END"

static const struct colspec cols[] = {
        { "c_int2",
          "smallint",
          ZETL_T_INT16,
          0,
          0,
          false,
          CK_INT,
          "@::text",
          { NULL, "1", "32767", "-32768", "0", "-1" } },
        { "c_int4",
          "integer",
          ZETL_T_INT32,
          0,
          0,
          false,
          CK_INT,
          "@::text",
          { NULL, "42", "2147483647", "-2147483648", "0", "7" } },
        { "c_int8",
          "bigint",
          ZETL_T_INT64,
          0,
          0,
          false,
          CK_INT,
          "@::text",
          { NULL, "42", "9223372036854775807", "-9223372036854775808", "0", "-42" } },
        { "c_oid",
          "oid",
          ZETL_T_INT64,
          0,
          0,
          false,
          CK_INT,
          "@::text",
          { NULL, "42", "4294967295", "0", "0", "16384" } },
        { "c_float4",
          "real",
          ZETL_T_FLOAT32,
          0,
          0,
          false,
          CK_FLOAT,
          "@::text",
          { NULL, "1.5", "'Infinity'", "'-Infinity'", "'-0'", "'NaN'" } },
        { "c_float4b",
          "real",
          ZETL_T_FLOAT32,
          0,
          0,
          false,
          CK_FLOAT,
          "@::text",
          { NULL, "0.1", "3.4028235e38", "1.4e-45", "0", "-123456.7" } },
        { "c_float8",
          "double precision",
          ZETL_T_FLOAT64,
          0,
          0,
          false,
          CK_FLOAT,
          "@::text",
          { NULL, "3.141592653589793", "'Infinity'", "'-Infinity'", "'-0'", "'NaN'" } },
        { "c_float8b",
          "double precision",
          ZETL_T_FLOAT64,
          0,
          0,
          false,
          CK_FLOAT,
          "@::text",
          { NULL, "1e-310", "1.7976931348623157e308", "5e-324", "0.1", "1e15" } },
        { "c_num",
          "numeric",
          ZETL_T_DECIMAL,
          0,
          -1,
          false,
          CK_TEXT,
          "@::text",
          { NULL, "123456789012345678901234567890.123456789012345678901234567890", "'Infinity'",
            "'-Infinity'", "0", "'NaN'" } },
        { "c_num2",
          "numeric",
          ZETL_T_DECIMAL,
          0,
          -1,
          false,
          CK_TEXT,
          "@::text",
          { NULL, "0.0001", "1e-20", "-12345678901.5", "10000", "0.000" } },
        { "c_num102",
          "numeric(10,2)",
          ZETL_T_DECIMAL,
          10,
          2,
          false,
          CK_TEXT,
          "@::text",
          { NULL, "12345678.9", "99999999.99", "-99999999.99", "0", "1.005" } },
        { "c_money",
          "money",
          ZETL_T_DECIMAL,
          19,
          2,
          false,
          CK_TEXT,
          "@::numeric::text",
          { NULL, "1234.56", "92233720368547758.07", "-92233720368547758.08", "0", "0.01" } },
        { "c_text",
          "text",
          ZETL_T_STRING,
          0,
          0,
          false,
          CK_TEXT,
          "@",
          { NULL, "'hello'", "'café 日本 😀'", "E'tab\\there\\nnewline \"q\" \\\\ back \\u0001'",
            "''", "' spaced '" } },
        { "c_varchar",
          "varchar(20)",
          ZETL_T_STRING,
          20,
          0,
          false,
          CK_TEXT,
          "@",
          { NULL, "'abc'", "'é日本😀'", "'NULL'", "''", "'{}'" } },
        { "c_bpchar",
          "char(5)",
          ZETL_T_STRING,
          5,
          0,
          false,
          CK_TEXT,
          "format('%s', @)",
          { NULL, "'ab'", "'abcde'", "'é'", "''", "'x y'" } },
        { "c_name",
          "name",
          ZETL_T_STRING,
          63,
          0,
          false,
          CK_TEXT,
          "@::text",
          { NULL, "'pg_catalog'", "repeat('n', 63)", "'é'", "''", "'a b'" } },
        { "c_char",
          "\"char\"",
          ZETL_T_STRING,
          1,
          0,
          false,
          CK_TEXT,
          "format('%s', @)",
          { NULL, "'a'", "'é'", "'Z'", "''", "'\\'" } },
        { "c_bytea",
          "bytea",
          ZETL_T_BYTES,
          0,
          0,
          false,
          CK_BYTES,
          "encode(@, 'hex')",
          { NULL, "'\\x0102ff'", "decode(repeat('00ff', 300), 'hex')", "'\\x5c'", "''",
            "'\\x00'" } },
        { "c_bool",
          "boolean",
          ZETL_T_BOOL,
          0,
          0,
          false,
          CK_BOOL,
          "@::text",
          { NULL, "true", "false", "true", "false", "true" } },
        { "c_date",
          "date",
          ZETL_T_DATE,
          0,
          0,
          false,
          CK_DATE,
          "CASE WHEN isfinite(@) THEN (@ - DATE '1970-01-01')::text ELSE @::text END",
          { NULL, "'2024-02-29'", "'infinity'", "'-infinity'", "'1970-01-01'",
            "'4713-01-01 BC'" } },
        { "c_date2",
          "date",
          ZETL_T_DATE,
          0,
          0,
          false,
          CK_DATE,
          "CASE WHEN isfinite(@) THEN (@ - DATE '1970-01-01')::text ELSE @::text END",
          { NULL, "'294276-12-31'", "'5874897-12-31'", "'4714-11-24 BC'", "'2000-01-01'",
            "'0001-01-01 BC'" } },
        { "c_time",
          "time",
          ZETL_T_TIME,
          6,
          0,
          false,
          CK_TIME,
          "trunc(extract(epoch FROM @) * 1000000)::text",
          { NULL, "'04:05:06.5'", "'24:00:00'", "'00:00:00'", "'23:59:59.999999'",
            "'12:00:00.000001'" } },
        { "c_time3",
          "time(3)",
          ZETL_T_TIME,
          3,
          0,
          false,
          CK_TIME,
          "trunc(extract(epoch FROM @) * 1000000)::text",
          { NULL, "'04:05:06.123'", NULL, NULL, NULL, NULL } },
        { "c_timetz",
          "timetz",
          ZETL_T_STRING,
          0,
          0,
          false,
          CK_TIMETZ,
          "trunc(extract(epoch FROM @::time) * 1000000) || ' ' || extract(timezone FROM @)::int",
          { NULL, "'04:05:06.5+05:30'", "'24:00:00-15:59'", "'00:00:00+15:59:59'",
            "'12:34:56.789-08'", "'00:00:00+00'" } },
        { "c_ts",
          "timestamp",
          ZETL_T_TIMESTAMP,
          6,
          0,
          false,
          CK_TS,
          TS_USEC,
          { NULL, "'2024-01-02 03:04:05.123456'", "'infinity'", "'-infinity'",
            "'1969-12-31 23:59:59.999999'", "'4713-01-01 00:00:00 BC'" } },
        { "c_ts2",
          "timestamp",
          ZETL_T_TIMESTAMP,
          6,
          0,
          false,
          CK_TS,
          TS_USEC,
          { NULL, "'294247-01-10 04:00:54.775806'", "'294276-12-31 23:59:59.999999'",
            "'4714-11-24 00:00:00 BC'", "'2000-01-01 00:00:00'",
            "'294247-01-10 04:00:54.775807'" } },
        { "c_tstz",
          "timestamptz",
          ZETL_T_TIMESTAMPTZ,
          6,
          0,
          false,
          CK_TS,
          TS_USEC,
          { NULL, "'2024-01-02 03:04:05.123456+05:30'", "'infinity'", "'-infinity'",
            "'1900-01-01 00:00:00+00'", "'4714-11-24 00:00:00+00 BC'" } },
        { "c_tstz2",
          "timestamptz(0)",
          ZETL_T_TIMESTAMPTZ,
          0,
          0,
          false,
          CK_TS,
          TS_USEC,
          { NULL, "'294276-12-31 23:59:59+00'", "'1970-01-01 00:00:00+00'",
            "'0001-01-01 00:00:00+00 BC'", "'2000-02-29 12:00:00-12'", NULL } },
        { "c_interval",
          "interval",
          ZETL_T_STRING,
          0,
          0,
          false,
          CK_TEXT,
          "@::text",
          { NULL, "'1 year 2 months 3 days 04:05:06.5'", "'-1 year -2 mons +3 days -04:05:06.5'",
            "'0'", "'-0.5 seconds'",
            "'178956970 years 7 months 2147483647 days 2562047788:00:54.775807'" } },
        { "c_uuid",
          "uuid",
          ZETL_T_UUID,
          0,
          0,
          false,
          CK_UUID,
          "@::text",
          { NULL, "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
            "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "'00000000-0000-0000-0000-000000000000'",
            "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", NULL } },
        { "c_json",
          "json",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "@::text",
          { NULL, "'{\"a\": [1, 2.5, \"é\"]}'", "'[]'", "'null'", "'\"\"'",
            "'  {\"sp\" : 1}  '" } },
        { "c_jsonb",
          "jsonb",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "@::text",
          { NULL, "'{\"a\": [1, 2.5, \"é\"]}'", "'[]'", "'null'", "'\"\"'",
            "'{\"b\":1,   \"a\":{}}'" } },
        { "c_inet",
          "inet",
          ZETL_T_STRING,
          0,
          0,
          false,
          CK_TEXT,
          "format('%s', @)",
          { NULL, "'192.168.0.1'", "'::1'", "'2001:db8::1/64'", "'::ffff:1.2.3.4'",
            "'10.1.2.3/8'" } },
        { "c_cidr",
          "cidr",
          ZETL_T_STRING,
          0,
          0,
          false,
          CK_TEXT,
          "@::text",
          { NULL, "'10.0.0.0/8'", "'::1/128'", "'1.2.3.4/32'", "'2001:db8::/32'", "'0.0.0.0/0'" } },
        { "c_inet6",
          "inet",
          ZETL_T_STRING,
          0,
          0,
          false,
          CK_TEXT,
          "format('%s', @)",
          { NULL, "'::'", "'1::'", "'::2'", "'0:0:0:0:0:1:0:0'", "'1:0:0:1:0:0:1:1/100'" } },
        { "c_mac",
          "macaddr",
          ZETL_T_STRING,
          0,
          0,
          false,
          CK_TEXT,
          "@::text",
          { NULL, "'08:00:2b:01:02:03'", "'ff:ff:ff:ff:ff:ff'", "'00:00:00:00:00:00'",
            "'08-00-2B-01-02-03'", NULL } },
        { "c_mac8",
          "macaddr8",
          ZETL_T_STRING,
          0,
          0,
          false,
          CK_TEXT,
          "@::text",
          { NULL, "'08:00:2b:01:02:03:04:05'", "'ff:ff:ff:ff:ff:ff:ff:ff'", NULL, NULL, NULL } },
        { "c_enum",
          ENUM,
          ZETL_T_STRING,
          0,
          0,
          false,
          CK_TEXT,
          "@::text",
          { NULL, "'happy'", "'sad'", "'été 😀'", "'happy'", NULL } },
        { "c_dom",
          DOMAIN,
          ZETL_T_DECIMAL,
          10,
          2,
          false,
          CK_TEXT,
          "@::text",
          { NULL, "12.5", "-99999999.99", "0", "99999999.99", NULL } },
        { "c_aint",
          "integer[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@)::text",
          { NULL, "'{1,NULL,3}'", "'{{1,2},{3,4}}'", "'[0:2]={-2147483648,0,2147483647}'", "'{}'",
            "'{NULL}'" } },
        { "c_atext",
          "text[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@)::text",
          { NULL, "ARRAY['a b', 'x\"y', '', NULL, 'NULL']",
            "ARRAY[E'tab\\there', 'é日本😀', E'back\\\\slash', '{}', ',', E'\\u0001']", "'{}'",
            "ARRAY[['a', 'b'], ['c', 'd']]", "ARRAY[' x ', 'null']" } },
        { "c_anum",
          "numeric[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@::text[])::text",
          { NULL,
            "ARRAY[1.50, 'NaN', NULL, '-Infinity', 123456789012345678901234567890.5]::numeric[]",
            "'{}'", "'{{1,2},{3.5,4}}'", "ARRAY[0.0001, 1e-20]", NULL } },
        { "c_atstz",
          "timestamptz[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          TSTZ_ARRAY_JSON,
          { NULL,
            "ARRAY['2024-01-02 03:04:05.5+00', 'infinity', NULL, '1999-12-31 "
            "23:59:59+01']::timestamptz[]",
            "'{}'", "ARRAY['-infinity']::timestamptz[]",
            "ARRAY['1000-01-01 00:00:00.000001+00']::timestamptz[]", NULL } },
        { "c_afloat8",
          "double precision[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@)::text",
          { NULL,
            "ARRAY[1.5, 'NaN', 'Infinity', '-Infinity', 1e15, 1e-5, '-0', 0.1, 1e-310, "
            "1.7976931348623157e308, 123456789012345.6, 5e-324, 1e16, 123456789012345678, 0.0001]"
            "::float8[]",
            "'{}'", NULL, NULL, NULL } },
        { "c_afloat4",
          "real[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@)::text",
          { NULL,
            "ARRAY[0.1, 1e6, 100000, 123456.7, 3.4028235e38, 1.4e-45, 'NaN', 1234567, "
            "-0.5]::real[]",
            NULL, NULL, NULL, NULL } },
        { "c_abool",
          "boolean[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@)::text",
          { NULL, "'{t,f,NULL}'", "'{}'", NULL, NULL, NULL } },
        { "c_adate",
          "date[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@)::text",
          { NULL, "'{2024-02-29,infinity,-infinity,NULL,0001-01-01}'", NULL, NULL, NULL, NULL } },
        { "c_abytea",
          "bytea[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          BYTEA_ARRAY_JSON,
          { NULL, "ARRAY['\\x0102'::bytea, '', NULL, '\\x5c22']", "'{}'", NULL, NULL, NULL } },
        { "c_auuid",
          "uuid[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@)::text",
          { NULL, "ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, NULL]", NULL, NULL, NULL,
            NULL } },
        { "c_ainterval",
          "interval[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@)::text",
          { NULL, "ARRAY['1 day', '-1 year 2 mons -00:00:00.5', '0']::interval[]", NULL, NULL, NULL,
            NULL } },
        { "c_ainet",
          "inet[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@)::text",
          { NULL, "ARRAY['::1', '10.0.0.1/8', '::ffff:1.2.3.4', NULL]::inet[]", NULL, NULL, NULL,
            NULL } },
        { "c_ajsonb",
          "jsonb[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@)::text",
          { NULL, "ARRAY['{\"a\": 1}', '[1, \"x,}\"]', 'null', NULL, '\"\\\\\"']::jsonb[]", NULL,
            NULL, NULL, NULL } },
        { "c_aenum",
          ENUM "[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@)::text",
          { NULL, "ARRAY['happy', 'été 😀', NULL]::" ENUM "[]", NULL, NULL, NULL, NULL } },
        { "c_adom",
          DOMAIN "[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@::text[])::text",
          { NULL, "ARRAY[1.5, 2]::" DOMAIN "[]", NULL, NULL, NULL, NULL } },
        { "c_amoney",
          "money[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@::numeric[]::text[])::text",
          { NULL, "ARRAY[1.5, -1234567.89]::money[]", NULL, NULL, NULL, NULL } },
        { "c_achar",
          "\"char\"[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@)::text",
          { NULL, "ARRAY['a', 'é', '\"', '\\']::\"char\"[]", NULL, NULL, NULL, NULL } },
        { "c_atimetz",
          "timetz[]",
          ZETL_T_JSON,
          0,
          0,
          false,
          CK_TEXT,
          "to_json(@)::text",
          { NULL, "ARRAY['04:05:06+02', '00:00:00+05:30:15']::timetz[]", NULL, NULL, NULL, NULL } },
        { "c_abox",
          "box[]",
          ZETL_T_JSON,
          0,
          0,
          true,
          CK_TEXT,
          "to_json(@::text[])::text",
          { NULL, "ARRAY['(1,2),(3,4)', '(0,0),(1,1)']::box[]", NULL, NULL, NULL, NULL } },
        { "c_tsvector",
          "tsvector",
          ZETL_T_STRING,
          0,
          0,
          true,
          CK_TEXT,
          "@::text",
          { NULL, "'a fat cat'", "''", NULL, NULL, NULL } },
        { "c_point",
          "point",
          ZETL_T_STRING,
          0,
          0,
          true,
          CK_TEXT,
          "@::text",
          { NULL, "'(1,2.5)'", NULL, NULL, NULL, NULL } },
        { "c_range",
          "int4range",
          ZETL_T_STRING,
          0,
          0,
          true,
          CK_TEXT,
          "@::text",
          { NULL, "'[1,5)'", "'empty'", NULL, NULL, NULL } },
};

#define NCOLS ((int)(sizeof(cols) / sizeof(cols[0])))

static int failures, checks;
static PGconn *conn;

static void report(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(bool ok, const char *fmt, ...)
{
        va_list ap;

        checks++;
        if (!ok)
                failures++;
        printf("%s ", ok ? "ok  " : "FAIL");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

static void die(const char *what, PGresult *res)
{
        fprintf(stderr, "test_pg_types: %s: %s", what,
                res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        PQclear(res);
        PQfinish(conn);
        exit(1);
}

static void exec_ok(const char *sql)
{
        PGresult *res = PQexec(conn, sql);

        if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
                die(sql, res);
        PQclear(res);
}

/* A growable string for building SQL. */
struct sbuf {
        char *p;
        size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *s)
{
        size_t l = strlen(s);

        if (b->n + l + 1 > b->cap) {
                b->cap = (b->n + l + 1) * 2;
                b->p = realloc(b->p, b->cap);
                if (!b->p)
                        abort();
        }
        memcpy(b->p + b->n, s, l + 1);
        b->n += l;
}

/* s with every '@' replaced by the column name. */
static void sb_add_expr(struct sbuf *b, const char *s, const char *col)
{
        char one[2] = { 0, 0 };

        for (; *s; s++) {
                if (*s == '@') {
                        sb_add(b, col);
                } else {
                        one[0] = *s;
                        sb_add(b, one);
                }
        }
}

/* ---- type info from pg_type, as the connector will read it ----------------------- */

static struct pg_type_info infos[64];
static int ninfos;

static const struct pg_type_info *load_info(uint32_t oid, int depth)
{
        char param[16];
        const char *params[1] = { param };
        PGresult *res;

        if (!oid || depth > 8)
                return NULL;
        for (int i = 0; i < ninfos; i++)
                if (infos[i].oid == oid)
                        return &infos[i];
        if (ninfos == (int)(sizeof(infos) / sizeof(infos[0])))
                return NULL;
        snprintf(param, sizeof(param), "%" PRIu32, oid);
        res = PQexecParams(conn,
                           "SELECT typtype, typcategory, typdelim, typelem, typbasetype, typtypmod"
                           " FROM pg_type WHERE oid = $1::oid",
                           1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
                die("pg_type", res);
        struct pg_type_info *t = &infos[ninfos++];
        t->oid = oid;
        t->typtype = PQgetvalue(res, 0, 0)[0];
        t->typcategory = PQgetvalue(res, 0, 1)[0];
        t->typdelim = PQgetvalue(res, 0, 2)[0];
        t->typelem = (uint32_t)strtoul(PQgetvalue(res, 0, 3), NULL, 10);
        t->typbasetype = (uint32_t)strtoul(PQgetvalue(res, 0, 4), NULL, 10);
        t->typtypmod = (int32_t)strtol(PQgetvalue(res, 0, 5), NULL, 10);
        PQclear(res);
        if (t->typcategory == 'A')
                t->elem = load_info(t->typelem, depth + 1);
        if (t->typtype == 'd')
                t->base = load_info(t->typbasetype, depth + 1);
        return t;
}

/* ---- setup ------------------------------------------------------------------------- */

static void create_table(void)
{
        struct sbuf sql = { 0 };
        char num[16];

        exec_ok("DROP TABLE IF EXISTS " TABLE);
        exec_ok("DROP DOMAIN IF EXISTS " DOMAIN);
        exec_ok("DROP TYPE IF EXISTS " ENUM);
        exec_ok("CREATE TYPE " ENUM " AS ENUM ('happy', 'sad', 'été 😀')");
        exec_ok("CREATE DOMAIN " DOMAIN " AS numeric(10,2)");
        sb_add(&sql, "CREATE TABLE " TABLE " (id integer PRIMARY KEY");
        for (int c = 0; c < NCOLS; c++) {
                sb_add(&sql, ", ");
                sb_add(&sql, cols[c].name);
                sb_add(&sql, " ");
                sb_add(&sql, cols[c].decl);
        }
        sb_add(&sql, ")");
        exec_ok(sql.p);
        for (int r = 0; r < NROWS; r++) {
                sql.n = 0;
                snprintf(num, sizeof(num), "%d", r);
                sb_add(&sql, "INSERT INTO " TABLE " VALUES (");
                sb_add(&sql, num);
                for (int c = 0; c < NCOLS; c++) {
                        sb_add(&sql, ", ");
                        sb_add(&sql, cols[c].vals[r] ? cols[c].vals[r] : "NULL");
                }
                sb_add(&sql, ")");
                exec_ok(sql.p);
        }
        free(sql.p);
}

/* ---- comparisons ---------------------------------------------------------------------- */

/* A cell as bytes (fixed-width values as stored), NULL as len SIZE_MAX. */
static const uint8_t *cell_bytes(const struct zetl_batch *b, int col, uint32_t r, size_t *len,
                                 uint8_t *tmp)
{
        enum zetl_type t = b->schema->cols[col].type;

        if (zetl_batch_is_null(b, col, r)) {
                *len = SIZE_MAX;
                return NULL;
        }
        switch (zetl_type_storage(t)) {
        case ZETL_ST_BIT:
                tmp[0] = zetl_batch_get_bool(b, col, r);
                *len = 1;
                return tmp;
        case ZETL_ST_FIXED:
                *len = zetl_type_width(t);
                return b->cols[col].values + (size_t)r * *len;
        case ZETL_ST_VAR:
        default:
                return zetl_batch_get_var(b, col, r, len);
        }
}

/* A short printable rendering of a cell for the report line. */
static void show(const struct zetl_batch *b, int col, uint32_t r, char *out, size_t cap)
{
        enum zetl_type t = b->schema->cols[col].type;
        size_t len;
        const uint8_t *p;

        if (zetl_batch_is_null(b, col, r)) {
                snprintf(out, cap, "NULL");
                return;
        }
        switch (t) {
        case ZETL_T_BOOL:
                snprintf(out, cap, "%s", zetl_batch_get_bool(b, col, r) ? "true" : "false");
                break;
        case ZETL_T_INT16:
                snprintf(out, cap, "%d", zetl_batch_get_i16(b, col, r));
                break;
        case ZETL_T_INT32:
        case ZETL_T_DATE:
                snprintf(out, cap, "%" PRId32, zetl_batch_get_i32(b, col, r));
                break;
        case ZETL_T_INT64:
        case ZETL_T_TIME:
        case ZETL_T_TIMESTAMP:
        case ZETL_T_TIMESTAMPTZ:
                snprintf(out, cap, "%" PRId64, zetl_batch_get_i64(b, col, r));
                break;
        case ZETL_T_FLOAT32:
                snprintf(out, cap, "%.9g", zetl_batch_get_f32(b, col, r));
                break;
        case ZETL_T_FLOAT64:
                snprintf(out, cap, "%.17g", zetl_batch_get_f64(b, col, r));
                break;
        case ZETL_T_UUID:
                zetl_format_uuid(zetl_batch_get_uuid(b, col, r), out);
                break;
        case ZETL_T_BYTES:
                p = zetl_batch_get_var(b, col, r, &len);
                snprintf(out, cap, "%zu bytes", len);
                break;
        default:
                p = zetl_batch_get_var(b, col, r, &len);
                snprintf(out, cap, "%.*s%s", (int)(len > 60 ? 60 : len), (const char *)p,
                         len > 60 ? "..." : "");
                for (char *q = out; *q; q++)
                        if ((unsigned char)*q < 0x20)
                                *q = '?'; /* one line per check */
        }
}

static bool parse_i64(const char *s, int64_t *v)
{
        char *end;

        errno = 0;
        *v = strtoll(s, &end, 10);
        return errno == 0 && *end == '\0' && end != s;
}

/* Our timetz text back to (µs, seconds east), independently of pg_types. */
static bool parse_timetz_cell(const char *s, size_t len, int64_t *usec, int64_t *east)
{
        char buf[64];
        int h, m, sec, n = 0, oh, om = 0, os = 0;
        long frac = 0;

        if (len >= sizeof(buf))
                return false;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (sscanf(buf, "%2d:%2d:%2d%n", &h, &m, &sec, &n) != 3)
                return false;
        const char *p = buf + n;
        if (*p == '.') {
                if (strspn(p + 1, "0123456789") != 6)
                        return false;
                frac = strtol(p + 1, NULL, 10);
                p += 7;
        }
        int sign = *p == '-' ? -1 : 1;
        if (*p != '+' && *p != '-')
                return false;
        if (sscanf(p + 1, "%2d%n", &oh, &n) != 1)
                return false;
        p += 1 + n;
        if (*p == ':' && sscanf(p + 1, "%2d%n", &om, &n) == 1)
                p += 1 + n;
        if (*p == ':' && sscanf(p + 1, "%2d%n", &os, &n) == 1)
                p += 1 + n;
        if (*p)
                return false;
        *usec = ((int64_t)(h * 60 + m) * 60 + sec) * 1000000 + frac;
        *east = sign * (oh * 3600 + om * 60 + os);
        return true;
}

/* The expected value from PostgreSQL against the cell; says why not in why. */
static bool matches(const struct colspec *cs, const struct zetl_batch *b, int col, uint32_t r,
                    const char *exp, int rc, char *why, size_t cap)
{
        size_t len;
        uint8_t tmp[1];
        const uint8_t *p = cell_bytes(b, col, r, &len, tmp);
        int64_t v, w;
        char buf[80];

        why[0] = '\0';
        if (cs->ck == CK_TS && exp) {
                bool inf = strcmp(exp, "infinity") == 0 || strcmp(exp, "-infinity") == 0;
                bool fits = inf || (parse_i64(exp, &v) && v != INT64_MAX && v != INT64_MIN);
                if (!fits) {
                        snprintf(why, cap, "expected a refusal of %s µs", exp);
                        return rc == ZETL_EUNSUPPORTED;
                }
        }
        if (rc) {
                snprintf(why, cap, "decoder failed (%d)", rc);
                return false;
        }
        if (!exp || len == SIZE_MAX) {
                snprintf(why, cap, "NULL mismatch (PostgreSQL %s)", exp ? exp : "NULL");
                return !exp && len == SIZE_MAX;
        }
        snprintf(why, cap, "PostgreSQL says %.*s", 100, exp);
        switch (cs->ck) {
        case CK_TEXT:
                return len == strlen(exp) && memcmp(p, exp, len) == 0;
        case CK_INT:
                if (!parse_i64(exp, &v))
                        return false;
                switch (b->schema->cols[col].type) {
                case ZETL_T_INT16:
                        return zetl_batch_get_i16(b, col, r) == v;
                case ZETL_T_INT32:
                        return zetl_batch_get_i32(b, col, r) == v;
                default:
                        return zetl_batch_get_i64(b, col, r) == v;
                }
        case CK_FLOAT:
                if (b->schema->cols[col].type == ZETL_T_FLOAT32) {
                        float e = strtof(exp, NULL), g = zetl_batch_get_f32(b, col, r);
                        return isnan(e) ? isnan(g) : memcmp(&e, &g, sizeof(e)) == 0;
                } else {
                        double e = strtod(exp, NULL), g = zetl_batch_get_f64(b, col, r);
                        return isnan(e) ? isnan(g) : memcmp(&e, &g, sizeof(e)) == 0;
                }
        case CK_BOOL:
                return strcmp(exp, zetl_batch_get_bool(b, col, r) ? "true" : "false") == 0;
        case CK_DATE:
                v = strcmp(exp, "infinity") == 0    ? INT32_MAX
                    : strcmp(exp, "-infinity") == 0 ? INT32_MIN
                    : parse_i64(exp, &w)            ? w
                                                    : INT64_MIN;
                return zetl_batch_get_i32(b, col, r) == v;
        case CK_TIME:
                return parse_i64(exp, &v) && zetl_batch_get_i64(b, col, r) == v;
        case CK_TS:
                v = strcmp(exp, "infinity") == 0    ? INT64_MAX
                    : strcmp(exp, "-infinity") == 0 ? INT64_MIN
                    : parse_i64(exp, &w)            ? w
                                                    : 0;
                return zetl_batch_get_i64(b, col, r) == v;
        case CK_UUID:
                zetl_format_uuid(p, buf);
                return strcmp(buf, exp) == 0;
        case CK_BYTES:
                if (strlen(exp) != 2 * len)
                        return false;
                for (size_t i = 0; i < len; i++) {
                        snprintf(buf, sizeof(buf), "%02x", p[i]);
                        if (memcmp(buf, exp + 2 * i, 2) != 0)
                                return false;
                }
                return true;
        case CK_TIMETZ: {
                int64_t us, east, eus, eeast;
                if (sscanf(exp, "%" SCNd64 " %" SCNd64, &eus, &eeast) != 2 ||
                    !parse_timetz_cell((const char *)p, len, &us, &east))
                        return false;
                return us == eus && east == eeast;
        }
        }
        return false;
}

/* ---- main ---------------------------------------------------------------------------- */

static PGresult *select_all(int format)
{
        struct sbuf sql = { 0 };
        PGresult *res;

        sb_add(&sql, "SELECT id");
        for (int c = 0; c < NCOLS; c++) {
                sb_add(&sql, ", ");
                sb_add(&sql, cols[c].name);
        }
        sb_add(&sql, " FROM " TABLE " ORDER BY id");
        res = PQexecParams(conn, sql.p, 0, NULL, NULL, NULL, NULL, format);
        free(sql.p);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != NROWS)
                die("select", res);
        return res;
}

static PGresult *select_expected(void)
{
        struct sbuf sql = { 0 };
        PGresult *res;

        sb_add(&sql, "SELECT id");
        for (int c = 0; c < NCOLS; c++) {
                sb_add(&sql, ", CASE WHEN ");
                sb_add(&sql, cols[c].name);
                sb_add(&sql, " IS NULL THEN NULL ELSE (");
                sb_add_expr(&sql, cols[c].expect, cols[c].name);
                sb_add(&sql, ")::text END");
        }
        sb_add(&sql, " FROM " TABLE " ORDER BY id");
        res = PQexec(conn, sql.p);
        free(sql.p);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != NROWS)
                die("select expectations", res);
        return res;
}

int main(void)
{
        const char *uri = getenv("ZETL_TEST_PG_URI");
        struct pg_col_decoder dec[NCOLS];
        struct zetl_table_id id;
        struct zetl_err err;
        struct zetl_schema *s;
        int rcb[NROWS][NCOLS], rct[NROWS][NCOLS];

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (!uri || !*uri) {
                printf("skip: ZETL_TEST_PG_URI is not set (run through scripts/run-tests.sh)\n");
                return 77;
        }
        conn = PQconnectdb(uri);
        if (PQstatus(conn) != CONNECTION_OK)
                die("connect", NULL);
        /* The session pg_types.h asks for. */
        exec_ok("SET client_encoding = 'UTF8'");
        exec_ok("SET DateStyle = 'ISO'");
        exec_ok("SET TimeZone = 'UTC'");
        exec_ok("SET IntervalStyle = 'iso_8601'");
        exec_ok("SET extra_float_digits = 3");
        exec_ok("SET bytea_output = 'hex'");
        exec_ok("SET lc_monetary = 'C'");
        exec_ok("SET client_min_messages = 'warning'");
        create_table();

        /* The mapping of every column, from pg_attribute and pg_type. */
        PGresult *att =
                PQexec(conn, "SELECT atttypid, atttypmod FROM pg_attribute WHERE attrelid = '" TABLE
                             "'::regclass AND attnum > 1 AND NOT attisdropped ORDER BY attnum");
        if (PQresultStatus(att) != PGRES_TUPLES_OK || PQntuples(att) != NCOLS)
                die("pg_attribute", att);
        zetl_table_id_set(&id, "zetl_test", "public", TABLE);
        s = zetl_schema_new(&id, NCOLS);
        if (!s)
                abort();
        for (int c = 0; c < NCOLS; c++) {
                uint32_t oid = (uint32_t)strtoul(PQgetvalue(att, c, 0), NULL, 10);
                int32_t typmod = (int32_t)strtol(PQgetvalue(att, c, 1), NULL, 10);
                const struct pg_type_info *info = load_info(oid, 0);
                struct zetl_column zc = { .name = (char *)cols[c].name, .nullable = true };
                int rc = pg_type_map(oid, typmod, info, &zc, &err);
                bool ok = rc >= 0 && zc.type == cols[c].type && zc.precision == cols[c].prec &&
                          zc.scale == cols[c].scale &&
                          (rc == PG_TYPE_TEXT_ONLY) == cols[c].text_only;
                report(ok, "map %-12s %-22s -> %s(%d,%d)%s", cols[c].name, cols[c].decl,
                       rc < 0 ? err.msg : zetl_type_name(zc.type), zc.precision, zc.scale,
                       rc == PG_TYPE_TEXT_ONLY ? " text only" : "");
                if (rc < 0 || pg_col_decoder_init(&dec[c], oid, info, &err) ||
                    zetl_schema_set_col(s, c, &zc))
                        die("mapping", NULL);
        }
        PQclear(att);
        if (zetl_schema_finish(s, &err))
                die(err.msg, NULL);

        PGresult *bin = select_all(1), *txt = select_all(0), *exp = select_expected();
        struct zetl_batch *bb = zetl_batch_new(s, 0), *bt = zetl_batch_new(s, 0);
        if (!bb || !bt)
                abort();
        for (int r = 0; r < NROWS; r++) {
                if (zetl_batch_row_begin(bb, ZETL_OP_SNAPSHOT, 0, &err) ||
                    zetl_batch_row_begin(bt, ZETL_OP_SNAPSHOT, 0, &err))
                        die(err.msg, NULL);
                for (int c = 0; c < NCOLS; c++) {
                        int f = c + 1; /* field 0 is id */
                        /* A column with no binary decoder is read from the text result. */
                        PGresult *src = dec[c].binary ? bin : txt;
                        int len = PQgetisnull(src, r, f) ? -1 : PQgetlength(src, r, f);
                        rcb[r][c] = (dec[c].binary ? pg_decode_binary : pg_decode_text)(
                                bb, c, &dec[c], PQgetvalue(src, r, f), len, &err);
                        len = PQgetisnull(txt, r, f) ? -1 : PQgetlength(txt, r, f);
                        rct[r][c] =
                                pg_decode_text(bt, c, &dec[c], PQgetvalue(txt, r, f), len, &err);
                }
                zetl_batch_row_end(bb);
                zetl_batch_row_end(bt);
        }

        for (int c = 0; c < NCOLS; c++) {
                for (int r = 0; r < NROWS; r++) {
                        size_t lb, lt;
                        uint8_t tb[1], tt[1];
                        const uint8_t *pb = cell_bytes(bb, c, (uint32_t)r, &lb, tb);
                        const uint8_t *pt = cell_bytes(bt, c, (uint32_t)r, &lt, tt);
                        const char *e =
                                PQgetisnull(exp, r, c + 1) ? NULL : PQgetvalue(exp, r, c + 1);
                        char shown[96], why[160];
                        bool same = rcb[r][c] == rct[r][c] && lb == lt &&
                                    (lb == SIZE_MAX || lb == 0 || memcmp(pb, pt, lb) == 0);

                        show(bb, c, (uint32_t)r, shown, sizeof(shown));
                        report(same, "%-12s row %d binary == text: %s%s", cols[c].name, r,
                               rcb[r][c] ? zetl_errcode_name(rcb[r][c]) : shown,
                               same ? "" : " (the two forms differ)");
                        bool okb = matches(&cols[c], bb, c, (uint32_t)r, e, rcb[r][c], why,
                                           sizeof(why));
                        report(okb, "%-12s row %d matches PostgreSQL%s%s", cols[c].name, r,
                               okb ? "" : ": ", okb ? "" : why);
                }
        }

        zetl_batch_free(bb);
        zetl_batch_free(bt);
        zetl_schema_unref(s);
        PQclear(bin);
        PQclear(txt);
        PQclear(exp);
        exec_ok("DROP TABLE " TABLE);
        exec_ok("DROP DOMAIN " DOMAIN);
        exec_ok("DROP TYPE " ENUM);
        PQfinish(conn);
        printf("%d checks, %d failed\n", checks, failures);
        return failures ? 1 : 0;
}
