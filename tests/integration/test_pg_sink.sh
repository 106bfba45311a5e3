#!/usr/bin/env bash
# The PostgreSQL warehouse sink end to end on the harness servers: a
# PostgreSQL source database replicated into a second database of the same
# server (and a MariaDB database into a third). Every logical type is
# compared row by row as PostgreSQL prints it on both sides; then updates,
# deletes, key changes, unchanged TOAST (also across a key change), schema
# evolution (ADD, DROP kept, RENAME, widening), an identifier-quoting attack,
# kill -9 while a batch is being applied, a server restart mid-stream, and a
# target-side CHECK constraint that sets one table aside while the others
# keep flowing. The target must equal the source after each step.
set -uo pipefail

[ -n "${ZETL_TEST_PG_URI:-}" ] || { echo "skip: no test PostgreSQL (run through scripts/run-tests.sh)"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/pgsink"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
srcdb=pgsink_src
dstdb=pgsink_dst
admin="${ZETL_TEST_PG_ADMIN_URI%/*}/postgres"
src="${ZETL_TEST_PG_URI%/*}/$srcdb"
dst="${ZETL_TEST_PG_URI%/*}/$dstdb"
tschema=pgsink_src_public
failed=0
n=0
ok() { n=$((n + 1)); echo "ok - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
ssql() { psql "$src" -X -q -v ON_ERROR_STOP=1 "$@"; }
dsql() { psql "$dst" -X -q -v ON_ERROR_STOP=1 "$@"; }
sval() { psql "$src" -X -Atq -c "$1"; }
dval() { psql "$dst" -X -Atq -c "$1"; }
runner=
writer=
cleanup() {
        [ -n "$writer" ] && kill "$writer" 2>/dev/null
        [ -n "$runner" ] && kill -9 "$runner" 2>/dev/null
        wait 2>/dev/null
}
trap cleanup EXIT

for db in $srcdb $dstdb; do
        psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db OWNER zetl" || exit 1
done
# A canary the attack table's name must not drop.
dsql -c "CREATE TABLE public.x (id int); INSERT INTO public.x VALUES (1)" || exit 1
ssql <<'SQL' || exit 1
CREATE TABLE typed (id int PRIMARY KEY, b boolean, i2 smallint, i4 integer, i8 bigint, f4 real,
                    f8 double precision, n numeric(20,6), nu numeric, s text, vc varchar(20),
                    by bytea, d date, t time, ts timestamp, tz timestamptz, u uuid, j jsonb,
                    js json, arr int[], iv interval);
INSERT INTO typed VALUES
 (1, true, -32768, 2147483647, -9223372036854775808, 1.5, -0.1, 12345678901234.123456,
  12345678901234567890.000123, E'text ''q'' \\ é 🦊 "x"', 'vc', '\x00ff', '2024-02-29',
  '23:59:59.999999', '2024-02-29 12:00:00.000001', '1969-12-31 23:59:59.5+00',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, "é"], "b": null}', '{"b":2, "c" : [ ]}',
  '{{1,2},{3,NULL}}', '1 year -2 days 03:04:05.5'),
 (2, false, 0, 0, 0, 'NaN', 'Infinity', -0.000001, 'NaN', '', '', '\x', '0044-03-15 BC', '00:00',
  '-infinity', 'infinity', '00000000-0000-0000-0000-000000000000', 'null', '[]', '{}', '0'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL),
 (4, true, 32767, -2147483648, 9223372036854775807, '-Infinity', -0.0, 0, '-Infinity',
  repeat('long ', 1000), 'x', decode(repeat('ab', 300), 'hex'), 'infinity', '24:00:00',
  '0001-01-01 00:00:00', '1900-01-01 00:00:00.000001+00', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '{"deep": {"er": [1.5, 1e3, true]}}', '"str"', '{}', 'PT0S'),
 (5, false, 1, 1, 1, 3.4028235e38, 2.2250738585072014e-308, 99999999999999.999999, 0.1,
  'tab	and
newline', 'ünï', '\x5c27', '1970-01-01', '12:00:00.5', '1970-01-01 00:00:00', '2038-01-19 03:14:08+00',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '{"n": 12345678901234567890.5}', '123', '{-1}', '-1 mons');
CREATE TABLE orders (id bigint PRIMARY KEY, name text, qty int, big text);
INSERT INTO orders SELECT g, 'order ' || g, g % 97, NULL FROM generate_series(1, 2000) g;
-- Random enough to be TOASTed out of line (128000 bytes).
UPDATE orders SET big = (SELECT string_agg(md5(g::text || 'toast'), '') FROM generate_series(1, 4000) g)
 WHERE id IN (7, 8);
CREATE TABLE "a""b; drop table x" (id int PRIMARY KEY, "we""ird col" text, "spa ce" int, "ünï côdé" text);
INSERT INTO "a""b; drop table x" VALUES (1, 'one', 1, 'ü'), (2, 'two', 2, NULL);
CREATE TABLE guarded (id int PRIMARY KEY, v int);
INSERT INTO guarded VALUES (1, 1);
CREATE TABLE bulk (id int PRIMARY KEY, v int, pad text);
INSERT INTO bulk SELECT g, 0, repeat('p', 40) FROM generate_series(1, 200000) g;
SQL

# Each side prints a table the same way: psql's text output of the same
# expressions (the target's json columns are jsonb, arrays are jsonb,
# intervals are ISO 8601 text), NULL spelled out.
settings="SET intervalstyle = iso_8601; SET timezone = 'UTC'; SET extra_float_digits = 3;"
typed_cols="id, b, i2, i4, i8, f4, f8, n, nu, s, vc, by, d, t, ts, tz, u, j, js::jsonb, to_jsonb(arr), iv"
dump() { # dump SIDE TABLE COLS
        local conn=$src tbl="public.$2"
        [ "$1" = dst ] && conn=$dst tbl="$tschema.$2"
        psql "$conn" -X -Atq -P null='<NULL>' -c "$settings" -c "SELECT $3 FROM $tbl ORDER BY 1"
}
same() { # same TABLE COLS: the target equals the source
        dump src "$1" "$2" >"$work/cmp.src" 2>&1
        dump dst "$1" "$2" >"$work/cmp.dst" 2>&1
        cmp -s "$work/cmp.src" "$work/cmp.dst"
}
orders_cols="id, name, qty, md5(big)"
attack='"a""b; drop table x"'
attack_cols="id, \"we\"\"ird col\", \"spa ce\", \"ünï côdé\""
all_same() {
        same typed "$typed_cols" && same orders "$orders_cols" && same "$attack" "$attack_cols" &&
                same guarded "id, v" && same bulk "id, v, pad"
}
# wait_for WHAT COMMAND...: poll until COMMAND succeeds (generous deadline).
wait_for() {
        local what=$1 deadline=$((SECONDS + 120))
        shift
        until "$@"; do
                if [ $SECONDS -ge $deadline ]; then
                        not_ok "$what (timed out)"
                        diff "$work/cmp.src" "$work/cmp.dst" 2>/dev/null | head -6
                        return 1
                fi
                sleep 0.2
        done
        ok "$what"
}
start() {
        "$zetl" run pgsink >>"$work/run.log" 2>&1 &
        runner=$!
}

# ---- initial sync ------------------------------------------------------------------
"$zetl" create-integration --integration-name pgsink --source "$src" --target "$dst" \
        --option flush-interval-ms=50 >"$work/create.json" 2>"$work/create.err"
check "create-integration into a PostgreSQL target exits 0" test $? -eq 0
check "it created the control table" test "$(dval "SELECT count(*) FROM information_schema.tables WHERE table_schema = '_zetl' AND table_name = 'checkpoints'")" = 1
check "the password is not in its output" bash -c "! grep -q zetl-test-pw '$work/create.json' '$work/create.err'"
start
wait_for "initial sync: every table equals the source" all_same
check "every logical type is mapped as documented" test "$(dval "SELECT string_agg(column_name || ' ' || data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = '$tschema' AND table_name = 'typed'")" = \
        "id integer,b boolean,i2 smallint,i4 integer,i8 bigint,f4 real,f8 double precision,n numeric,nu numeric,s text,vc text,by bytea,d date,t time without time zone,ts timestamp without time zone,tz timestamp with time zone,u uuid,j jsonb,js jsonb,arr jsonb,iv text"
check "numeric(20,6) keeps its precision and scale" test "$(dval "SELECT numeric_precision || ',' || numeric_scale FROM information_schema.columns WHERE table_schema = '$tschema' AND table_name = 'typed' AND column_name = 'n'")" = "20,6"
check "the primary key is the source's" test "$(dval "SELECT count(*) FROM information_schema.table_constraints WHERE table_schema = '$tschema' AND table_name = 'orders' AND constraint_type = 'PRIMARY KEY'")" = 1
check "the quoting attack created one table named a\"b; drop table x" test "$(dval "SELECT count(*) FROM pg_tables WHERE schemaname = '$tschema' AND tablename = 'a\"b; drop table x'")" = 1
check "... and dropped nothing" test "$(dval "SELECT count(*) FROM public.x")" = 1

# ---- streamed changes -----------------------------------------------------------------
ssql <<'SQL'
-- The same values streamed: must print exactly as the snapshot's did.
INSERT INTO typed SELECT id + 100, b, i2, i4, i8, f4, f8, n, nu, s, vc, by, d, t, ts, tz, u, j, js, arr, iv FROM typed;
UPDATE typed SET s = 'changed', j = '{"changed": true}' WHERE id = 1;
-- Unchanged TOAST: only another column changes.
UPDATE orders SET qty = -7 WHERE id = 7;
-- A key change whose TOASTed value is not sent: it comes from the old row.
UPDATE orders SET id = 8009, qty = -8 WHERE id = 8;
UPDATE orders SET name = 'upd' WHERE id % 10 = 0;
DELETE FROM orders WHERE id % 13 = 0;
-- Several changes of one key in one transaction: the last one wins.
BEGIN;
INSERT INTO orders VALUES (5000, 'tmp', 1, NULL);
UPDATE orders SET name = 'tmp2' WHERE id = 5000;
DELETE FROM orders WHERE id = 5000;
INSERT INTO orders VALUES (5001, 'a', 1, NULL);
UPDATE orders SET id = 5002 WHERE id = 5001;
UPDATE orders SET name = 'b' WHERE id = 5002;
COMMIT;
UPDATE orders SET id = id + 10000 WHERE id BETWEEN 100 AND 110;
UPDATE "a""b; drop table x" SET "we""ird col" = 'it''s "quoted"; drop table x', "spa ce" = 3 WHERE id = 1;
DELETE FROM "a""b; drop table x" WHERE id = 2;
SQL
wait_for "updates, deletes, key changes and TOAST: every table equals the source" all_same
check "the unchanged TOASTed value was kept (not NULL)" test "$(dval "SELECT length(big) FROM $tschema.orders WHERE id = 7")" = 128000
check "... also when its row's key changed" test "$(dval "SELECT length(big) FROM $tschema.orders WHERE id = 8009")" = 128000
typed_noid="${typed_cols#id, }"
check "streamed values print exactly as the snapshot's" test \
        "$(psql "$dst" -X -Atq -P null='<NULL>' -c "$settings" -c "SELECT $typed_noid FROM $tschema.typed WHERE id BETWEEN 2 AND 5 ORDER BY id")" = \
        "$(psql "$dst" -X -Atq -P null='<NULL>' -c "$settings" -c "SELECT $typed_noid FROM $tschema.typed WHERE id BETWEEN 102 AND 105 ORDER BY id")"

# ---- schema evolution -----------------------------------------------------------------
ssql <<'SQL'
ALTER TABLE orders ADD COLUMN extra numeric(8,2);
UPDATE orders SET extra = 1.25 WHERE id < 50;
ALTER TABLE orders DROP COLUMN qty;
INSERT INTO orders (id, name, extra) VALUES (9000, 'after drop', 2.5);
ALTER TABLE orders RENAME COLUMN name TO title;
UPDATE orders SET title = 'renamed' WHERE id = 1;
ALTER TABLE orders ALTER COLUMN extra TYPE numeric(12,2);
UPDATE orders SET extra = 1234567.89 WHERE id = 2;
SQL
orders_cols="id, title, extra, md5(big)"
wait_for "ADD, DROP, RENAME and a widening: orders equals the source" same orders "$orders_cols"
check "the dropped column is kept in the target" test "$(dval "SELECT count(*) FROM information_schema.columns WHERE table_schema = '$tschema' AND table_name = 'orders' AND column_name = 'qty'")" = 1
check "... old rows keep their value, new rows get NULL" test "$(dval "SELECT qty::text || ',' || coalesce((SELECT qty::text FROM $tschema.orders WHERE id = 9000), 'null') FROM $tschema.orders WHERE id = 3")" = "3,null"
check "the widened column is numeric(12,2)" test "$(dval "SELECT numeric_precision FROM information_schema.columns WHERE table_schema = '$tschema' AND table_name = 'orders' AND column_name = 'extra'")" = 12
orders_cols="id, title, extra, md5(big)"

# ---- kill -9 while a batch is applied, twice ------------------------------------------
for round in 1 2; do
        ssql -c "UPDATE bulk SET v = v + 1" &
        upd=$!
        killed=no
        for _ in $(seq 1 400); do
                if [ "$(dval "SELECT count(*) FROM pg_stat_activity WHERE datname = '$dstdb' AND state = 'active' AND (query LIKE 'MERGE%' OR query LIKE 'COPY%')")" != 0 ]; then
                        killed=yes
                        break
                fi
                sleep 0.02
        done
        kill -9 "$runner"
        wait "$runner" 2>/dev/null
        wait "$upd"
        echo "# round $round: killed while applying: $killed"
        ssql -c "INSERT INTO orders (id, title) SELECT g, 'after kill $round' FROM generate_series(20000 + $round * 100, 20000 + $round * 100 + 49) g"
        start
done
wait_for "after kill -9 mid-apply: every table equals the source" all_same
check "the bulk table has each row once with both updates" test "$(dval "SELECT count(*) || ',' || sum(v) FROM $tschema.bulk")" = "200000,400000"

# ---- a server restart mid-stream (source and target share the server) ----------------
(
        for i in $(seq 1 60); do
                psql "$src" -X -q -c "INSERT INTO orders (id, title) VALUES ($((30000 + i)), 'restart $i')" 2>/dev/null ||
                        { sleep 0.3; psql "$src" -X -q -c "INSERT INTO orders (id, title) VALUES ($((30000 + i)), 'restart $i')" 2>/dev/null; }
                sleep 0.05
        done
) &
writer=$!
sleep 0.5
bash "$root/tests/harness/servers.sh" restart "$ZETL_TEST_DIR" pg >"$work/restart.log" 2>&1
check "the server restarted" test $? -eq 0
wait "$writer"
writer=
ssql -c "INSERT INTO orders (id, title) VALUES (39999, 'after restart')"
wait_for "after a server restart: every table equals the source" all_same
check "zetl reconnected with backoff" grep -q "retrying in" "$work/run.log"

# ---- a constraint error sets one table aside, the others keep flowing ----------------
dsql -c "ALTER TABLE $tschema.guarded ADD CONSTRAINT small_v CHECK (v < 100)"
ssql -c "INSERT INTO guarded VALUES (2, 500)" -c "INSERT INTO orders (id, title) VALUES (40000, 'still flowing')"
wait_for "the other tables keep flowing" same orders "$orders_cols"
"$zetl" describe-integrations --integration-identifier pgsink --output json >"$work/describe.json" 2>/dev/null
check "the table violating the target's constraint needs attention, with the error" \
        jq -e '.Integrations[0].Tables[] | select(.Table == "pgsink_src.public.guarded") | .Status == "needs_attention" and (.LastError | test("small_v"))' "$work/describe.json"
check "the integration is needs_attention" jq -e '.Integrations[0].Status == "needs_attention"' "$work/describe.json"
ssql -c "UPDATE orders SET title = 'later' WHERE id = 40000"
wait_for "... and later changes of the other tables still arrive" same orders "$orders_cols"

kill -TERM "$runner"
wait "$runner"
check "SIGTERM exits 0" test $? -eq 0
runner=
ck_token=$(jq -r '.committed.token' "$ZETL_STATE_DIR/pgsink/checkpoint.json")
check "the target's checkpoint row holds the committed position ($ck_token)" \
        test "$(dval "SELECT position_token FROM _zetl.checkpoints WHERE integration = 'pgsink'")" = "$ck_token"
check "the target's temporary staging tables are gone with the session" \
        test "$(dval "SELECT count(*) FROM pg_class WHERE relname LIKE '_zetl_stg%' AND relpersistence = 't'")" = 0
"$zetl" delete-integration --integration-identifier pgsink >/dev/null 2>"$work/delete.err"
check "delete-integration exits 0" test $? -eq 0
check "it removed the checkpoint row and kept the data" test "$(dval "SELECT (SELECT count(*) FROM _zetl.checkpoints WHERE integration = 'pgsink') || ',' || (SELECT count(*) > 0 FROM $tschema.orders)")" = "0,true"

# ---- MariaDB -> PostgreSQL -------------------------------------------------------------
if [ -n "${ZETL_TEST_MY_URI:-}" ]; then
        mydb=pgsink_my
        mydst=pgsink_mydst
        msql() { mariadb --defaults-file="$ZETL_TEST_MY_CNF" --default-character-set=utf8mb4 -N -B "$@"; }
        mdst="${ZETL_TEST_PG_URI%/*}/$mydst"
        psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $mydst WITH (FORCE)" -c "CREATE DATABASE $mydst OWNER zetl"
        msql -e "DROP DATABASE IF EXISTS $mydb; CREATE DATABASE $mydb"
        msql "$mydb" <<'SQL'
CREATE TABLE items (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(64), price DECIMAL(12,3), qty INT,
                    flag BOOLEAN, at DATETIME(6), d DATE, note TEXT, e ENUM('red','green'),
                    bin VARBINARY(16), data JSON) DEFAULT CHARSET = utf8mb4;
INSERT INTO items VALUES (1, 'one', 1.5, 1, 1, '2024-02-29 12:00:00.000001', '2024-02-29', 'n1', 'red', x'00ff', '{"a": [1, "é"]}'),
                         (2, 'deux é', -0.001, -2, 0, '1970-01-01 00:00:00', '1000-01-01', NULL, 'green', x'', '[]'),
                         (18446744073709551615, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SQL
        myuri="${ZETL_TEST_MY_URI%/*}/$mydb"
        "$zetl" create-integration --integration-name pgsink-my --source "$myuri" --target "$mdst" \
                --data-filter "include: $mydb.*" >/dev/null 2>"$work/mycreate.err"
        check "MariaDB -> PostgreSQL: create-integration exits 0" test $? -eq 0
        "$zetl" run pgsink-my --once >>"$work/myrun.log" 2>&1
        check "MariaDB -> PostgreSQL: the initial sync exits 0" test $? -eq 0
        msql "$mydb" <<'SQL'
UPDATE items SET name = 'uno', price = 99999.999 WHERE id = 1;
UPDATE items SET id = 3 WHERE id = 2;
INSERT INTO items VALUES (4, 'four', 4, 4, 1, '2001-02-03 04:05:06.7', '2001-02-03', 'n4', 'red', x'41', '{"k": "v"}');
DELETE FROM items WHERE id = 18446744073709551615;
SQL
        "$zetl" run pgsink-my --once >>"$work/myrun.log" 2>&1
        check "MariaDB -> PostgreSQL: catching up exits 0" test $? -eq 0
        msql "$mydb" -e "SELECT id, IFNULL(name, '<NULL>'), IFNULL(price, '<NULL>'), IFNULL(qty, '<NULL>'), IFNULL(flag, '<NULL>'),
                IFNULL(DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f'), '<NULL>'), IFNULL(d, '<NULL>'), IFNULL(note, '<NULL>'),
                IFNULL(e, '<NULL>'), IFNULL(LOWER(HEX(bin)), '<NULL>') FROM items ORDER BY id" >"$work/my.src"
        psql "$mdst" -X -Atq -F $'\t' -P null='<NULL>' -c "SELECT id, name, price, qty, flag::int,
                to_char(at, 'YYYY-MM-DD HH24:MI:SS.US'), d, note, e, encode(bin, 'hex') FROM $mydb.items ORDER BY id" >"$work/my.dst"
        check "MariaDB -> PostgreSQL: items equals the source ($(wc -l <"$work/my.src") rows)" cmp -s "$work/my.src" "$work/my.dst"
        cmp -s "$work/my.src" "$work/my.dst" || diff "$work/my.src" "$work/my.dst" | head -6
        msql "$mydb" -e "SELECT data FROM items WHERE data IS NOT NULL ORDER BY id" | jq -c -S . >"$work/myj.src"
        psql "$mdst" -X -Atq -c "SELECT data FROM $mydb.items WHERE data IS NOT NULL ORDER BY id" | jq -c -S . >"$work/myj.dst"
        check "MariaDB -> PostgreSQL: JSON documents are equal" cmp -s "$work/myj.src" "$work/myj.dst"
        check "MariaDB -> PostgreSQL: the target schema is the database name" \
                test "$(psql "$mdst" -X -Atq -c "SELECT data_type FROM information_schema.columns WHERE table_schema = '$mydb' AND table_name = 'items' AND column_name = 'price'")" = numeric
        "$zetl" delete-integration --integration-identifier pgsink-my >/dev/null 2>&1
        msql -e "DROP DATABASE IF EXISTS $mydb"
        psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $mydst WITH (FORCE)"
fi

for db in $srcdb $dstdb; do
        psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
