#!/usr/bin/env bash
# PostgreSQL and MariaDB into Iceberg tables, end to end: the initial sync,
# inserts, updates, deletes and key changes over several transactions (the
# same key twice in one, delete then re-insert), truncate, ADD/DROP/RENAME
# COLUMN and int -> bigint mid-stream, an incompatible change putting one
# table into needs_attention while the others flow, an unchanged TOAST value
# the sink cannot know, kill -9 while streaming, and failed metadata commits
# (ZETL_FAULT) that leave data files behind: no loss, no duplicates, and no
# orphan left once the next run has committed. Every table is read back with
# tests/interop/read_iceberg.mjs (DuckDB by field id with the deletes
# applied, and icebird) and compared with the source, row by row.
set -uo pipefail

[ -n "${ZETL_TEST_PG_URI:-}" ] || { echo "skip: no test PostgreSQL (run through scripts/run-tests.sh)"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
reader="$root/tests/interop/read_iceberg.mjs"
[ -d "$root/tests/interop/node_modules/@duckdb/node-api" ] && [ -d "$root/tests/interop/node_modules/icebird" ] ||
        { echo "skip: the npm readers are not installed (scripts/deps.sh)"; exit 77; }
command -v node >/dev/null || { echo "skip: node is not installed"; exit 77; }
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/iceberg"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
db=ice_test
admin="${ZETL_TEST_PG_ADMIN_URI%/*}/postgres"
uri="${ZETL_TEST_PG_URI%/*}/$db"
lake="$work/lake"
failed=0
n=0
ok() { n=$((n + 1)); echo "ok - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
sql() { psql "$uri" -X -q -v ON_ERROR_STOP=1 "$@"; }
val() { psql "$uri" -X -Atq -v ON_ERROR_STOP=1 -c "$1"; }
runner=
writer=
cleanup() {
        [ -n "$writer" ] && kill "$writer" 2>/dev/null
        [ -n "$runner" ] && kill -9 "$runner" 2>/dev/null
        wait 2>/dev/null
}
trap cleanup EXIT

# --once stops when idle near the insert position: a WAL message past the
# last change makes sure every change before it is read.
pad() { val "SELECT pg_logical_emit_message(false, 'zetl-test-pad', repeat('x', 20000))" >/dev/null; }
once() { pad; "$zetl" run "$1" --once >>"$work/$1.log" 2>&1; }

# compare NAME TABLE_DIR SQL: SQL gives one JSON object of text values per row.
compare() {
        val "$3" >"$work/$1.expected" || { not_ok "$1: the source query"; return; }
        check_file "$1" "$work/$1.expected" "$2"
}
# check_file NAME EXPECTED TABLE_DIR: both readers against the expected rows.
check_file() {
        local out l rc bad=0
        out=$(node "$reader" --check "$2" "$3" "$1" 2>&1)
        rc=$?
        while IFS= read -r l; do
                case "$l" in
                "ok - "*) n=$((n + 1)); echo "$l" ;;
                "not ok - "*) n=$((n + 1)); failed=$((failed + 1)); bad=1; echo "$l" ;;
                "#"*) echo "$l" ;;
                esac
        done <<<"$out"
        [ $rc -eq 0 ] || [ $bad -eq 1 ] || { not_ok "$1: the reader failed"; echo "$out" | tail -5 | sed 's/^/# /'; }
}
# The table's current metadata file.
meta() { local v; v=$(cat "$1/metadata/version-hint.text"); while [ -f "$1/metadata/v$((v + 1)).metadata.json" ]; do v=$((v + 1)); done; echo "$1/metadata/v$v.metadata.json"; }
# wait_field TABLE_DIR NAME: until the table's current schema has that column (20 s at most).
wait_field() {
        local i
        for i in $(seq 1 100); do
                jq -e --arg n "$2" '(."current-schema-id") as $c | [.schemas[] | select(."schema-id" == $c) | .fields[].name] | index($n) != null' "$(meta "$1")" >/dev/null 2>&1 && return 0
                sleep 0.2
        done
        echo "# timed out waiting for column $2 in $1"
        return 1
}
no_orphans() {
        local o
        o=$(node "$reader" --orphans "$1") || return 1
        [ -z "$o" ] || { echo "# orphans: $o" | head -5; return 1; }
}

psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db OWNER zetl" || exit 1
sql <<'SQL'
CREATE TABLE orders (id bigint PRIMARY KEY, name text, qty int, price numeric(12,3), note varchar(40),
                     amount numeric, created timestamptz, day date);
INSERT INTO orders SELECT g, 'order ' || g, g % 97, g * 1.125, CASE WHEN g % 3 = 0 THEN 'n' || g END,
                          g / 8.0, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1.000001 second',
                          '2024-01-01'::date + g % 400
  FROM generate_series(1, 20000) g;
CREATE TABLE other (id int PRIMARY KEY, v text);
INSERT INTO other SELECT g, 'v' || g FROM generate_series(1, 100) g;
CREATE TABLE breaks (id int PRIMARY KEY, v text);
INSERT INTO breaks SELECT g, 'text ' || g FROM generate_series(1, 10) g;
CREATE TABLE toasty (id int PRIMARY KEY, n int, big text);
INSERT INTO toasty VALUES (1, 0, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 4000) g));
CREATE TABLE fulltoast (id int PRIMARY KEY, n int, big text);
ALTER TABLE fulltoast REPLICA IDENTITY FULL;
INSERT INTO fulltoast VALUES (1, 0, (SELECT string_agg(md5(g::text || 'f'), '') FROM generate_series(1, 4000) g));
SQL

orders_q() {
        # Columns as they are at the end (after the mid-stream DDL).
        echo "SELECT json_build_object('id', id::text, 'name', name, 'qty', qty::text, 'price', price::text,
                'amount', amount::text, 'created', (extract(epoch FROM created) * 1000000)::bigint::text,
                'day', (day - date '1970-01-01')::text $1) FROM orders"
}

"$zetl" create-integration --integration-name ice --source "$uri" --target "iceberg:$lake" \
        --data-filter "include: $db.public.*" --option flush-interval-ms=300 \
        --option iceberg-target-file-size=262144 >"$work/create.json" 2>"$work/create.err"
check "create-integration exits 0" test $? -eq 0
check "setup made the warehouse" test -d "$lake"

# ---- the initial sync -----------------------------------------------------------
once ice
check "run --once (initial sync) exits 0" test $? -eq 0
T="$lake/$db/public"
check "tables are at PATH/db/schema/table" test -f "$T/orders/metadata/version-hint.text"
check "the initial sync rolled files by the target size" \
        test "$(ls "$T/orders/data/" | grep -c '\.parquet$')" -ge 2
compare orders-sync "$T/orders" "$(orders_q ", 'note', note")"
compare other-sync "$T/other" "SELECT json_build_object('id', id::text, 'v', v) FROM other"

# ---- streaming: changes, DDL, kill -9 -------------------------------------------
"$zetl" run ice >>"$work/ice.log" 2>&1 &
runner=$!
(
        for i in $(seq 1 40); do
                psql "$uri" -X -q -v ON_ERROR_STOP=1 <<SQL || exit 1
BEGIN;
INSERT INTO orders (id, name, qty, price) VALUES ($((100000 + i)), 'new $i', $i, $i.5);
UPDATE orders SET qty = qty + 1, name = 'upd $i' WHERE id % 50 = $((i % 50));
DELETE FROM orders WHERE id = $((i * 3));
COMMIT;
UPDATE orders SET id = $((200000 + i)) WHERE id = $((1000 + i));
BEGIN;
UPDATE orders SET qty = -1 WHERE id = $((2000 + i));
UPDATE orders SET qty = -2, name = 'twice' WHERE id = $((2000 + i));
DELETE FROM orders WHERE id = $((3000 + i));
INSERT INTO orders (id, name, qty) VALUES ($((3000 + i)), 're-inserted', $i);
COMMIT;
SQL
                sleep 0.03
        done
) &
writer=$!
sleep 1
kill -9 "$runner"
wait "$runner" 2>/dev/null
"$zetl" run ice >>"$work/ice.log" 2>&1 &
runner=$!
wait "$writer"
check "the writer finished" test $? -eq 0
writer=
# DDL in steps, each once the runner has applied the one before: the
# PostgreSQL source reads attribute numbers from the catalog when it meets a
# Relation message, so a catalog already past the next DDL hides a rename.
sql <<'SQL'
TRUNCATE other;
INSERT INTO other VALUES (1, 'after truncate'), (2, 'two');
ALTER TABLE orders ADD COLUMN extra int;
UPDATE orders SET extra = 6 WHERE id BETWEEN 5 AND 9;
ALTER TABLE orders DROP COLUMN note;
UPDATE orders SET qty = 1000 WHERE id = 4;
ALTER TABLE orders RENAME COLUMN qty TO quantity;
UPDATE orders SET quantity = 1001 WHERE id = 10;
SQL
wait_field "$T/orders" quantity
sql -c "ALTER TABLE orders RENAME COLUMN quantity TO qty" -c "UPDATE orders SET qty = 1002 WHERE id = 12"
wait_field "$T/orders" qty
sql <<'SQL'
ALTER TABLE orders ALTER COLUMN qty TYPE bigint;
UPDATE orders SET qty = 9000000000 WHERE id = 11;
ALTER TABLE breaks ALTER COLUMN v TYPE int USING length(v);
INSERT INTO breaks VALUES (100, 1);
UPDATE toasty SET n = 1 WHERE id = 1;
UPDATE fulltoast SET n = 1 WHERE id = 1;
INSERT INTO orders (id, name, qty) VALUES (500000, 'after the incompatible change', 1);
SQL
sleep 1
kill -9 "$runner"
wait "$runner" 2>/dev/null
runner=
val "INSERT INTO orders (id, name, qty) SELECT g, 'after kill', 2 FROM generate_series(600000, 600999) g" >/dev/null
once ice
check "run --once after kill -9 exits 0" test $? -eq 0

compare orders "$T/orders" "$(orders_q ", 'extra', extra::text")"
compare other "$T/other" "SELECT json_build_object('id', id::text, 'v', v) FROM other"
compare fulltoast "$T/fulltoast" "SELECT json_build_object('id', id::text, 'n', n::text, 'big', big) FROM fulltoast"
check "the renamed column kept its field id (name qty, id 3, widened to long)" \
        jq -e '(."current-schema-id") as $c | .schemas[] | select(."schema-id" == $c) | .fields[] | select(.id == 3) | .name == "qty" and .type == "long"' "$(meta "$T/orders")"
check "the dropped column is gone from the current schema" \
        jq -e '(."current-schema-id") as $c | [.schemas[] | select(."schema-id" == $c) | .fields[].name] | index("note") == null' "$(meta "$T/orders")"
check "the truncate made a snapshot that dropped every earlier file" \
        jq -e '[.snapshots[].summary | select(.operation == "delete" or (.operation == "overwrite" and ."total-data-files" == ."added-data-files"))] | length >= 1' "$(meta "$T/other")"
"$zetl" describe-integrations --integration-identifier ice >"$work/describe.json" 2>/dev/null
check "the incompatible change puts that table into needs_attention, asking for a resync" \
        jq -e '.Integrations[0].Tables[] | select(.Table == "ice_test.public.breaks") | .Status == "needs_attention" and (.LastError | test("resync"))' "$work/describe.json"
check "an unchanged TOAST value the sink cannot know is a visible table error" \
        jq -e '.Integrations[0].Tables[] | select(.Table == "ice_test.public.toasty") | .Status == "needs_attention" and (.LastError | test("REPLICA IDENTITY FULL"))' "$work/describe.json"
check "other tables kept flowing after the incompatible change" \
        test "$(node "$reader" "$T/orders" | jq -r 'select(.id == "500000") | .name')" = "after the incompatible change"
pos=$(jq -r '.position.order' "$ZETL_STATE_DIR/ice/iceberg-sink.json")
snappos=$(jq -r '."current-snapshot-id" as $c | .snapshots[] | select(."snapshot-id" == $c) | .summary."zetl.position.order"' "$(meta "$T/orders")")
check "the current snapshot carries the source position ($snappos, marker $pos)" \
        test -n "$snappos" -a "$snappos" -le "$pos"
check "orders: no orphan files" no_orphans "$T/orders"

# ---- failed metadata commits: data files written, metadata not --------------------
# ZETL_FAULT fails the Nth rename/link of the process: for some N that is a
# table's metadata commit, after its data files and manifests are written.
for nth in 3 4 5 6; do
        val "INSERT INTO orders (id, name, qty) SELECT g, 'fault $nth', $nth FROM generate_series(700000 + $nth * 1000, 700000 + $nth * 1000 + 99) g;
             UPDATE orders SET name = 'fault upd $nth' WHERE id BETWEEN 40 + $nth * 10 AND 45 + $nth * 10" >/dev/null
        pad
        ZETL_FAULT="rename:$nth" "$zetl" run ice --once >>"$work/fault.log" 2>&1
        check "a run whose rename #$nth fails recovers (exit 0)" test $? -eq 0
done
once ice
compare orders-faults "$T/orders" "$(orders_q ", 'extra', extra::text")"
check "after the faults: no orphan files in orders" no_orphans "$T/orders"
check "a failed commit was retried" grep -q "retrying" "$work/fault.log"

# ---- resume reports what the lake has ----------------------------------------------
check "the marker lists every table" \
        test "$(jq '.tables | length' "$ZETL_STATE_DIR/ice/iceberg-sink.json")" -ge 5

# ---- many small commits: manifests merged; expiry -----------------------------------
sql -c "CREATE TABLE many (id int PRIMARY KEY, v int)" -c "INSERT INTO many SELECT g, 0 FROM generate_series(1, 50) g"
"$zetl" create-integration --integration-name icemany --source "$uri" --target "iceberg:$lake" \
        --data-filter "include: $db.public.many" --option flush-interval-ms=1 \
        --option iceberg-manifest-merge-count=10 >/dev/null 2>&1
once icemany
"$zetl" run icemany >>"$work/icemany.log" 2>&1 &
runner=$!
sleep 0.5
for i in $(seq 1 130); do
        sql -c "UPDATE many SET v = v + 1 WHERE id = $((i % 50 + 1))" -c "INSERT INTO many VALUES ($((1000 + i)), $i)"
        sleep 0.01
done
sleep 1.5
kill -TERM "$runner"
wait "$runner"
runner=
once icemany
M="$T/many"
check "many small commits: more than 10 snapshots" \
        test "$(jq '.snapshots | length' "$(meta "$M")")" -gt 10
check "the carried manifests were merged" test "$(ls "$M/metadata" | grep -c 'merged\.avro$')" -ge 1
compare many "$M" "SELECT json_build_object('id', id::text, 'v', v::text) FROM many"
files_before=$(ls "$M/data" "$M/metadata" | wc -l)
"$zetl" modify-integration --integration-identifier icemany --option iceberg-snapshot-retention-ms=0 >/dev/null 2>&1
once icemany
check "expiry kept the current snapshot and its parent" test "$(jq '.snapshots | length' "$(meta "$M")")" -le 2
check "expiry deleted what only expired snapshots reached ($files_before -> $(ls "$M/data" "$M/metadata" | wc -l) files)" \
        test "$(ls "$M/data" "$M/metadata" | wc -l)" -lt "$files_before"
compare many-expired "$M" "SELECT json_build_object('id', id::text, 'v', v::text) FROM many"
check "after expiry: no orphan files" no_orphans "$M"
"$zetl" delete-integration --integration-identifier icemany >/dev/null 2>&1

"$zetl" delete-integration --integration-identifier ice >/dev/null 2>&1
check "delete-integration leaves the lake alone" test -f "$T/orders/metadata/version-hint.text"
psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"

# ---- MariaDB -> Iceberg -----------------------------------------------------------
if [ -n "${ZETL_TEST_MY_URI:-}" ] && command -v mariadb >/dev/null; then
        mdb=ice_my_test
        my() { mariadb --defaults-file="$ZETL_TEST_MY_CNF" "$@"; }
        my -e "DROP DATABASE IF EXISTS $mdb; CREATE DATABASE $mdb"
        my "$mdb" <<'SQL'
CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2), ratio DOUBLE,
                    made DATETIME(6), day DATE, big BIGINT, flag TINYINT(1));
INSERT INTO items VALUES (1, 'één', 1.50, 0.25, '2024-02-29 12:00:00.000001', '2024-02-29', 9007199254740993, 1),
                         (2, 'two', -3.25, -1.5, '1999-12-31 23:59:59.5', '1999-12-31', -5, 0),
                         (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SQL
        myuri="${ZETL_TEST_MY_URI%/*}/$mdb"
        "$zetl" create-integration --integration-name icemy --source "$myuri" --target "iceberg:$lake" \
                --data-filter "include: $mdb.*" --option flush-interval-ms=300 >"$work/mycreate.json" 2>"$work/mycreate.err"
        check "MariaDB: create-integration exits 0" test $? -eq 0
        "$zetl" run icemy --once >>"$work/icemy.log" 2>&1
        check "MariaDB: the initial sync exits 0" test $? -eq 0
        my "$mdb" <<'SQL'
UPDATE items SET name = 'uno', price = 2.75 WHERE id = 1;
DELETE FROM items WHERE id = 2;
INSERT INTO items VALUES (4, 'four', 4.00, 4.5, '2030-01-01 00:00:00', '2030-01-01', 4, 1);
UPDATE items SET id = 5 WHERE id = 4;
SQL
        "$zetl" run icemy --once >>"$work/icemy.log" 2>&1
        check "MariaDB: streaming --once exits 0" test $? -eq 0
        check "MariaDB tables are at PATH/db/table" test -f "$lake/$mdb/items/metadata/version-hint.text"
        # MariaDB's DATETIME has no zone: zetl maps it to timestamp (UTC wall clock).
        my -N "$mdb" -e "SELECT JSON_OBJECT('id', CAST(id AS CHAR), 'name', name, 'price', CAST(price AS CHAR),
                'ratio', CAST(ratio AS CHAR),
                'made', CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', made) AS CHAR),
                'day', CAST(DATEDIFF(day, '1970-01-01') AS CHAR), 'big', CAST(big AS CHAR),
                'flag', CAST(flag AS CHAR)) FROM items" >"$work/items.expected"
        check_file "mariadb items" "$work/items.expected" "$lake/$mdb/items"
        "$zetl" delete-integration --integration-identifier icemy >/dev/null 2>&1
        my -e "DROP DATABASE IF EXISTS $mdb"
else
        echo "# MariaDB part skipped: no test MariaDB"
fi

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
