#!/usr/bin/env bash
# The PostgreSQL source end to end against the harness server, into a jsonl
# target: set-up objects, the snapshot/stream handoff under concurrent
# writes, key changes, deletes, truncate, unchanged TOAST, ADD/DROP COLUMN
# mid-stream, kill -9 and a server restart mid-stream, tables without a key,
# and delete-integration removing exactly what create made. The target is a
# change log; the test replays it with jq into the final rows and compares
# them with what PostgreSQL itself returns, row by row.
set -uo pipefail

[ -n "${ZETL_TEST_PG_URI:-}" ] || { echo "skip: no test PostgreSQL (run through scripts/run-tests.sh)"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/pgsrc"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
db=pgsrc_test
admin="${ZETL_TEST_PG_ADMIN_URI%/*}/postgres"
uri="${ZETL_TEST_PG_URI%/*}/$db"
failed=0
n=0
ok() { n=$((n + 1)); echo "ok - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
# A statement stuck behind a lock fails after 2 minutes with the reason
# instead of hanging the test until its timeout.
sql() { PGOPTIONS="-c lock_timeout=120s" psql "$uri" -X -q -v ON_ERROR_STOP=1 "$@"; }
# stop_runner: SIGTERM, then at most 120 s for zetl to exit (else what it and
# the server were doing, and SIGKILL); returns zetl's exit status.
stop_runner() {
        kill -TERM "$runner"
        for _ in $(seq 1 1200); do
                kill -0 "$runner" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$runner" 2>/dev/null; then
                echo "# zetl did not exit 120 s after SIGTERM; its log and the server's sessions:"
                tail -20 "$work/run1.log" | sed 's/^/#   /'
                psql "$ZETL_TEST_PG_ADMIN_URI" -X -Atq -c "SELECT pid, backend_type, state, wait_event_type, wait_event, left(query, 80) FROM pg_stat_activity WHERE state IS DISTINCT FROM 'idle'" | sed 's/^/#   /'
                kill -9 "$runner"
        fi
        wait "$runner"
}
val() { psql "$uri" -X -Atq -v ON_ERROR_STOP=1 -c "$1"; }
runner=
writer=
cleanup() {
        [ -n "$writer" ] && kill "$writer" 2>/dev/null
        [ -n "$runner" ] && kill -9 "$runner" 2>/dev/null
        wait 2>/dev/null
}
trap cleanup EXIT

psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db OWNER zetl" || exit 1
sql <<'SQL'
CREATE TABLE orders (id bigint PRIMARY KEY, name text, qty int, price numeric(12,3),
                     flag boolean, note varchar(40), big text);
INSERT INTO orders SELECT g, 'order ' || g, g % 97, g * 1.125, g % 2 = 0, NULL, NULL
  FROM generate_series(1, 5000) g;
-- A value large enough and random enough to be TOASTed out of line.
UPDATE orders SET big = (SELECT string_agg(md5(g::text || 'toast'), '') FROM generate_series(1, 4000) g)
 WHERE id = 7;
CREATE TABLE nokey (a int, b text);
INSERT INTO nokey VALUES (1, 'x');
CREATE TABLE fullid (a int, b text);
ALTER TABLE fullid REPLICA IDENTITY FULL;
INSERT INTO fullid VALUES (1, 'one'), (2, 'two');
CREATE TABLE skipped (id int PRIMARY KEY);
-- A key and REPLICA IDENTITY FULL: an unchanged TOAST value comes from the old row.
CREATE TABLE fulltoast (id int PRIMARY KEY, n int, big text);
ALTER TABLE fulltoast REPLICA IDENTITY FULL;
INSERT INTO fulltoast VALUES (1, 0, (SELECT string_agg(md5(g::text || 'full'), '') FROM generate_series(1, 4000) g));
-- One row of many types before the snapshot; the same values after it, streamed.
CREATE TABLE typed (id int PRIMARY KEY, i2 smallint, i8 bigint, f4 real, f8 double precision,
                    n numeric, d date, t time, ts timestamp, tz timestamptz, iv interval, u uuid,
                    j jsonb, b bytea, arr int[], tarr text[], e text, ip inet);
INSERT INTO typed VALUES (1, -32768, 9223372036854775807, 1.5, -0.1, 12345678901234567890.000123,
  '0044-03-15 BC', '23:59:59.999999', '2024-02-29 12:00:00.000001', '1969-12-31 23:59:59.5+00',
  '1 year -2 days 03:04:05.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, "é"]}',
  '\x00ff', '{{1,2},{3,NULL}}', '{"a b","c,d",NULL}', '日本語 🦊', '10.0.0.1/8');
-- Enough rows that the initial sync is still running when it is killed.
CREATE TABLE bulk (id int PRIMARY KEY, pad text);
INSERT INTO bulk SELECT g, repeat('p', 200) FROM generate_series(1, 50000) g;
SQL

# ---- set-up ---------------------------------------------------------------
# A role without REPLICATION: refused with the statement that fixes it.
psql "$admin" -X -q -c "DROP ROLE IF EXISTS pgsrc_weak" -c "CREATE ROLE pgsrc_weak LOGIN PASSWORD 'weak-pw'" >/dev/null
weak="${uri/zetl:zetl-test-pw@/pgsrc_weak:weak-pw@}"
"$zetl" create-integration --integration-name weak --source "$weak" --target null: >/dev/null 2>"$work/weak.err"
check "a role without REPLICATION is refused with exit 2" test $? -eq 2
check "... with the statement to run" grep -q 'ALTER ROLE "pgsrc_weak" REPLICATION' "$work/weak.err"
check "... and nothing is left behind" test ! -e "$ZETL_STATE_DIR/weak"
psql "$admin" -X -q -c "DROP ROLE pgsrc_weak" >/dev/null

"$zetl" create-integration --integration-name pgsrc --source "$uri" --target "jsonl:$work/out.jsonl" \
        --data-filter "include: $db.public.*, exclude: $db.public.skipped" \
        --option snapshot-workers=3 --option flush-interval-ms=50 >"$work/create.json" 2>"$work/create.err"
check "create-integration exits 0" test $? -eq 0
check "it warns about the table without a key, with the fix" grep -q 'nokey.*REPLICA IDENTITY FULL' "$work/create.err"
check "the slot exists" test "$(val "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'zetl_pgsrc' AND plugin = 'pgoutput'")" = 1
check "the publication exists" test "$(val "SELECT count(*) FROM pg_publication WHERE pubname = 'zetl_pgsrc'")" = 1
check "the password is not in its output" bash -c "! grep -q zetl-test-pw '$work/create.json' '$work/create.err'"

# ---- kill -9 during the initial sync: the next run starts it over -----------
"$zetl" run pgsrc >"$work/run0.log" 2>&1 &
runner=$!
for _ in $(seq 1 200); do
        grep -q '"op":"snapshot"' "$work/out.jsonl" 2>/dev/null && break
        sleep 0.02
done
kill -9 "$runner"
wait "$runner" 2>/dev/null
runner=
check "killed during the initial sync (no snapshot committed yet)" \
        bash -c "[ ! -e '$ZETL_STATE_DIR/pgsrc/checkpoint.json' ] || jq -e '.snapshot_done | not' '$ZETL_STATE_DIR/pgsrc/checkpoint.json' >/dev/null"

# ---- snapshot under concurrent writes, then streaming ----------------------
# The writer changes rows before, during and after the initial sync.
(
        for i in $(seq 1 60); do
                psql "$uri" -X -q -v ON_ERROR_STOP=1 <<SQL || exit 1
BEGIN;
INSERT INTO orders VALUES ($((100000 + i)), 'new $i', $i, $i.5, true, 'w', NULL);
UPDATE orders SET qty = qty + 1, note = 'upd $i' WHERE id % 50 = $((i % 50));
DELETE FROM orders WHERE id = $((i * 3));
COMMIT;
UPDATE orders SET id = $((200000 + i)) WHERE id = $((1000 + i));
SQL
                sleep 0.02
        done
) &
writer=$!
"$zetl" run pgsrc >"$work/run1.log" 2>&1 &
runner=$!
wait "$writer"
check "the writer finished" test $? -eq 0
writer=
sql <<'SQL'
-- Unchanged TOAST: only another column changes.
UPDATE orders SET qty = -7 WHERE id = 7;
UPDATE fulltoast SET n = 1 WHERE id = 1;
-- A 10 MB value, streamed.
UPDATE orders SET big = (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 327680) g)
 WHERE id = 11;
-- Schema changes mid-stream.
ALTER TABLE orders ADD COLUMN extra int;
UPDATE orders SET extra = 6 WHERE id = 5;
ALTER TABLE orders DROP COLUMN note;
UPDATE orders SET qty = 1000 WHERE id = 4;
ALTER TABLE orders RENAME COLUMN flag TO flagged;
UPDATE orders SET flagged = NOT flagged WHERE id = 8;
ALTER TABLE orders RENAME COLUMN flagged TO flag;
INSERT INTO typed SELECT 2, i2, i8, f4, f8, n, d, t, ts, tz, iv, u, j, b, arr, tarr, e, ip FROM typed WHERE id = 1;
-- REPLICA IDENTITY FULL without a key: every column is the key.
UPDATE fullid SET b = 'uno' WHERE a = 1;
DELETE FROM fullid WHERE a = 2;
TRUNCATE nokey;
-- Tables created while streaming that the filter selects are picked up (the
-- superuser's publication is FOR ALL TABLES), rows of CREATE TABLE AS too.
CREATE TABLE latecomer (id int PRIMARY KEY, v text);
INSERT INTO latecomer VALUES (1, 'a'), (2, 'b');
CREATE TABLE latecomer_ctas AS SELECT g AS id, 'x' || g AS v FROM generate_series(1, 3) g;
ALTER TABLE latecomer_ctas ADD PRIMARY KEY (id);
UPDATE latecomer SET v = 'c' WHERE id = 2;
SQL

# kill -9 while streaming, twice, with changes in between.
for round in 1 2; do
        sleep 0.5
        kill -9 "$runner"
        wait "$runner" 2>/dev/null
        val "INSERT INTO orders (id, name, qty) SELECT g, 'after kill $round', $round FROM generate_series(300000 + $round * 1000, 300000 + $round * 1000 + 499) g" >/dev/null
        "$zetl" run pgsrc >>"$work/run1.log" 2>&1 &
        runner=$!
done

# Large transactions streamed while running (protocol 2): the walsender
# streams past 64 kB, zetl keeps them in spill files until their commit. One
# commits with a rolled-back subtransaction, one aborts whole.
# (Everything so far streamed with protocol 1, the default.)
stop_runner
"$zetl" modify-integration --integration-identifier pgsrc --option pgoutput-protocol=2 >/dev/null 2>&1
check "modify-integration switches to protocol 2" test $? -eq 0
PGOPTIONS="-c logical_decoding_work_mem=64kB" "$zetl" run pgsrc >>"$work/run1.log" 2>&1 &
runner=$!
sql <<'SQL'
BEGIN;
INSERT INTO orders (id, name, qty) SELECT g, 'streamed', 1 FROM generate_series(400000, 419999) g;
SAVEPOINT s1;
INSERT INTO orders (id, name, qty) SELECT g, 'rolled back', 2 FROM generate_series(420000, 424999) g;
ROLLBACK TO SAVEPOINT s1;
UPDATE orders SET qty = 3 WHERE id BETWEEN 400000 AND 400999;
COMMIT;
BEGIN;
INSERT INTO orders (id, name, qty) SELECT g, 'aborted', 4 FROM generate_series(430000, 439999) g;
ROLLBACK;
SQL

# A server restart mid-stream: zetl reconnects with backoff and resumes.
sleep 0.5
bash "$root/tests/harness/servers.sh" restart "$ZETL_TEST_DIR" pg >"$work/restart.log" 2>&1
check "the server restarted" test $? -eq 0
val "UPDATE orders SET name = 'after restart' WHERE id BETWEEN 10 AND 19" >/dev/null
sleep 2.5
stop_runner
check "SIGTERM after a server restart exits 0" test $? -eq 0
runner=
check "the run reconnected after the restart" grep -q "retrying in" "$work/run1.log"

"$zetl" run pgsrc --once >"$work/run2.log" 2>&1
check "run --once catches up and exits 0" test $? -eq 0

# ---- compare: replay the log into final rows ------------------------------
# Rows by key; an update's unchanged cells keep the previous value; a key
# change removes the old key; truncate empties the table. $keys: the table's
# key columns.
replay() {
        jq -n --arg t "$1" --argjson keys "$2" -f "$root/tests/integration/replay.jq" "$work/out.jsonl"
}
replay orders '["id"]' | jq -c 'to_entries | map(.value | {id, name, qty, price, flag, extra,
        big: (if .big then (.big | length) else null end)}) | sort_by(.id) | .[]' >"$work/orders.zetl"
val "SELECT json_build_object('id', id, 'name', name, 'qty', qty, 'price', price::text, 'flag', flag,
        'extra', extra, 'big', length(big)) FROM orders ORDER BY id" | jq -c . >"$work/orders.pg"
rows=$(wc -l <"$work/orders.pg")
check "orders: the target equals the source, $rows rows compared" cmp -s "$work/orders.pg" "$work/orders.zetl"
cmp -s "$work/orders.pg" "$work/orders.zetl" || diff "$work/orders.pg" "$work/orders.zetl" | head -10

check "the snapshot saw every initial row or its later change" test "$(jq -c 'select(.type == "change" and .op == "snapshot")' "$work/out.jsonl" | wc -l)" -ge 4800
check "every streamed change is written once (distinct positions)" \
        test "$(jq -r 'select(.type == "change" and .op != "snapshot") | .pos' "$work/out.jsonl" | sort | uniq -d | wc -l)" -eq 0
# any LINE-FILTER: some line of the log matches (jq -e judges only the last input).
any() { jq -n -e "[inputs | select($1)] | length > 0" "$work/out.jsonl" >/dev/null; }
check "a key change carries the old key" \
        any '.type == "change" and .old_key.id != null and .old_key.id != .row.id'
check "an unchanged TOAST value is marked unchanged, not null" \
        any '.type == "change" and .row.id == 7 and .row.qty == -7 and ((.unchanged // []) | index("big")) != null and (.row | has("big") | not)'
check "ADD COLUMN reaches the target as a schema change" \
        any '.type == "schema" and .table[2] == "orders" and ((.changes // []) | map(.kind) | index("add")) != null'
check "DROP COLUMN reaches the target as a schema change" \
        any '.type == "schema" and .table[2] == "orders" and ((.changes // []) | map(.kind) | index("drop")) != null'
check "with REPLICA IDENTITY FULL the unchanged TOAST value is sent whole, from the old row" \
        any '.type == "change" and .op == "update" and .table[2] == "fulltoast" and .row.n == 1 and (.row.big | length) == 128000 and ((.unchanged // []) | length) == 0'
check "a 10 MB value arrived whole in the stream" \
        any '.type == "change" and .op == "update" and .row.id == 11 and (.row.big | length) == 10485760'
check "the TOASTed value arrived whole in the snapshot" \
        any '.type == "change" and .op == "snapshot" and .row.id == 7 and (.row.big | length) == 128000'
check "a column rename is a rename (the attribute number proves it)" \
        any '.type == "schema" and .table[2] == "orders" and ((.changes // []) | map(.kind) | index("rename")) != null'
check "the snapshot and the stream give identical values" \
        jq -n -e '[inputs | select(.type == "change" and .table[2] == "typed") | .row | del(.id)] | length == 2 and .[0] == .[1]' "$work/out.jsonl"
# bulk: the rows after its last truncate (each initial sync empties it first).
jq -r 'select(.table[2]? == "bulk" and (.type == "truncate" or .type == "change")) | if .type == "truncate" then "T" else .row.id end' \
        "$work/out.jsonl" | awk '$0 == "T" { n = 0; delete seen; next } !seen[$0]++ { n++ } END { print n }' >"$work/bulk.count"
check "bulk: every row once after the killed initial sync ($(cat "$work/bulk.count") of $(val "SELECT count(*) FROM bulk"))" \
        test "$(cat "$work/bulk.count")" = "$(val "SELECT count(*) FROM bulk")"
check "bulk: no row twice after the last truncate" \
        test "$(jq -r 'select(.table[2]? == "bulk" and (.type == "truncate" or .type == "change")) | if .type == "truncate" then "T" else .row.id end' "$work/out.jsonl" | awk '$0 == "T" { delete seen; d = 0; next } seen[$0]++ { d++ } END { print d + 0 }')" = 0
replay fullid '["a","b"]' | jq -c 'to_entries | map(.value | {a, b}) | sort_by(.a) | .[]' >"$work/fullid.zetl"
val "SELECT json_build_object('a', a, 'b', b) FROM fullid ORDER BY a" | jq -c . >"$work/fullid.pg"
check "REPLICA IDENTITY FULL without a key replicates updates and deletes" cmp -s "$work/fullid.pg" "$work/fullid.zetl"
check "a large transaction arrived streamed (protocol 2) and was applied at its commit" \
        bash -c "grep -q 'applied streamed transaction' '$work/run1.log' && [ \$(jq -c 'select(.type == \"change\" and .row.name? == \"streamed\")' '$work/out.jsonl' | wc -l) -ge 20000 ]"
check "a rolled-back subtransaction and an aborted transaction left nothing" \
        bash -c "! grep -q -e '\"rolled back\"' -e '\"aborted\"' '$work/out.jsonl'"
check "the streamed transaction went through spill files that are gone now" \
        bash -c "[ -d '$ZETL_STATE_DIR/pgsrc/spill' ] && [ -z \"\$(ls -A '$ZETL_STATE_DIR/pgsrc/spill')\" ]"
for t in latecomer latecomer_ctas; do
        replay "$t" '["id"]' | jq -c 'to_entries | map(.value | {id, v}) | sort_by(.id) | .[]' >"$work/$t.zetl"
        val "SELECT json_build_object('id', id, 'v', v) FROM $t ORDER BY id" | jq -c . >"$work/$t.pg"
        check "a table created while streaming is picked up: $t equals the source" \
                bash -c "[ -s '$work/$t.pg' ] && cmp -s '$work/$t.pg' '$work/$t.zetl'"
done
check "the excluded table never appears" bash -c "! grep -q '\"skipped\"' '$work/out.jsonl'"
"$zetl" describe-integrations --integration-identifier pgsrc >"$work/describe.json" 2>/dev/null
check "the table without a key needs attention, with the fix in its error" \
        jq -e '.Integrations[0].Tables[] | select(.Table == "pgsrc_test.public.nokey") | .Status == "needs_attention" and (.LastError | test("REPLICA IDENTITY FULL"))' "$work/describe.json"
check "the integration is needs_attention because of it" jq -e '.Integrations[0].Status == "needs_attention"' "$work/describe.json"
confirmed=$(val "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'zetl_pgsrc'")
committed=$(jq -r '.committed.token' "$ZETL_STATE_DIR/pgsrc/checkpoint.json")
check "the slot is confirmed up to the committed position ($confirmed = $committed)" test "$confirmed" = "$committed"

# ---- delete removes exactly what create made ------------------------------
"$zetl" delete-integration --integration-identifier pgsrc >/dev/null 2>"$work/delete.err"
check "delete-integration exits 0" test $? -eq 0
check "the slot is gone" test "$(val "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'zetl_pgsrc'")" = 0
check "the publication is gone" test "$(val "SELECT count(*) FROM pg_publication WHERE pubname = 'zetl_pgsrc'")" = 0

psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
