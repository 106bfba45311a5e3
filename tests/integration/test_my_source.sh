#!/usr/bin/env bash
# The MariaDB source end to end against the harness server, into a jsonl
# target: set-up checks, the snapshot/binlog handoff under concurrent writes,
# key changes, deletes, TRUNCATE, ADD COLUMN mid-stream, kill -9 while
# streaming, a table without a key. The change log is replayed with jq into
# final rows and compared with what MariaDB returns, row by row.
set -uo pipefail

[ -n "${ZETL_TEST_MY_URI:-}" ] || { echo "skip: no test MariaDB (run through scripts/run-tests.sh)"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/mysrc"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
db=mysrc_t
uri="${ZETL_TEST_MY_URI%/*}/$db"
failed=0
n=0
check() {
        local what=$1
        shift
        n=$((n + 1))
        if "$@"; then echo "ok - $what"; else failed=$((failed + 1)); echo "not ok - $what"; fi
}
sql() { mariadb --defaults-file="$ZETL_TEST_MY_CNF" --default-character-set=utf8mb4 -N -B "$@"; }
runner=
writer=
cleanup() {
        [ -n "$writer" ] && kill "$writer" 2>/dev/null
        [ -n "$runner" ] && kill -9 "$runner" 2>/dev/null
        wait 2>/dev/null
}
trap cleanup EXIT

sql -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db" || exit 1
sql "$db" <<'SQL' || exit 1
CREATE TABLE orders (id BIGINT PRIMARY KEY, name VARCHAR(64), qty INT, price DECIMAL(12,3),
                     flag BOOLEAN, note TEXT, at DATETIME(6), e ENUM('red','green','blue'))
  DEFAULT CHARSET = utf8mb4;
INSERT INTO orders SELECT seq, CONCAT('order ', seq), seq % 97, seq * 1.125, seq % 2,
       NULL, '2024-02-29 12:00:00.000001', ELT(1 + seq % 3, 'red', 'green', 'blue')
  FROM seq_1_to_3000;
CREATE TABLE nokey (a INT, b TEXT);
INSERT INTO nokey VALUES (1, 'x');
CREATE TABLE trunc_me (id INT PRIMARY KEY);
INSERT INTO trunc_me VALUES (1), (2);
SQL

"$zetl" create-integration --integration-name mysrc --source "$uri" --target "jsonl:$work/out.jsonl" \
        --data-filter "include: $db.*" --option flush-interval-ms=50 >"$work/create.json" 2>"$work/create.err"
check "create-integration exits 0" test $? -eq 0
check "the password is not in its output" bash -c "! grep -q zetl-test-pw '$work/create.json' '$work/create.err'"

# The writer changes rows before, during and after the initial sync.
(
        for i in $(seq 1 40); do
                sql "$db" -e "BEGIN;
                        INSERT INTO orders (id, name, qty) VALUES ($((100000 + i)), 'new $i', $i);
                        UPDATE orders SET qty = qty + 1, note = 'upd $i' WHERE id % 50 = $((i % 50));
                        DELETE FROM orders WHERE id = $((i * 3));
                        COMMIT;
                        UPDATE orders SET id = $((200000 + i)) WHERE id = $((1000 + i));" || exit 1
                sleep 0.02
        done
) &
writer=$!
"$zetl" run mysrc >"$work/run.log" 2>&1 &
runner=$!
wait "$writer"
check "the writer finished" test $? -eq 0
writer=
sql "$db" <<'SQL' || echo "the DDL/DML batch failed"
ALTER TABLE orders ADD COLUMN extra INT;
UPDATE orders SET extra = 6 WHERE id = 5;
UPDATE orders SET name = 'café 日本 🦊' WHERE id = 7;
ALTER TABLE orders RENAME COLUMN note TO memo;
UPDATE orders SET memo = 'renamed' WHERE id = 8;
ALTER TABLE orders CHANGE COLUMN qty quantity INT;
UPDATE orders SET quantity = 77 WHERE id = 10;
TRUNCATE TABLE trunc_me;
INSERT INTO trunc_me VALUES (3);
SQL
# A partial row image (binlog_row_image=MINIMAL): absent columns are unchanged.
sql "$db" -e "SET SESSION binlog_row_image = 'MINIMAL'; UPDATE orders SET quantity = 4242 WHERE id = 8;"
# A server restart mid-stream: zetl reconnects with backoff and resumes.
bash "$root/tests/harness/servers.sh" restart "$ZETL_TEST_DIR" mysql >"$work/restart.log" 2>&1
check "the server restarted" test $? -eq 0
sql "$db" -e "UPDATE orders SET name = 'after restart' WHERE id BETWEEN 10 AND 19"
sleep 2.5
check "the run reconnected after the restart" grep -q "retrying in" "$work/run.log"
{ kill -9 "$runner" && wait "$runner"; } 2>/dev/null
runner=
sql "$db" -e "INSERT INTO orders (id, name, quantity) SELECT seq, 'after kill', 1 FROM seq_300000_to_300199"
"$zetl" run mysrc --once >>"$work/run.log" 2>&1
check "run --once after a kill -9 exits 0" test $? -eq 0

replay() {
        jq -n --arg t "$1" --argjson keys "$2" -f "$root/tests/integration/replay.jq" "$work/out.jsonl"
}
replay orders '["id"]' | jq -c 'to_entries | map(.value | {id, name, quantity, price, memo, extra, e}) | sort_by(.id) | .[]' >"$work/orders.zetl"
sql "$db" -e "SELECT JSON_OBJECT('id', id, 'name', name, 'quantity', quantity, 'price', CAST(price AS CHAR),
        'memo', memo, 'extra', extra, 'e', e) FROM orders ORDER BY id" | jq -c . >"$work/orders.my"
rows=$(wc -l <"$work/orders.my")
check "orders: the target equals the source, $rows rows compared" cmp -s "$work/orders.my" "$work/orders.zetl"
cmp -s "$work/orders.my" "$work/orders.zetl" || diff "$work/orders.my" "$work/orders.zetl" | head -6
any() { jq -n -e "[inputs | select($1)] | length > 0" "$work/out.jsonl" >/dev/null; }
check "a key change carries the old key" any '.type == "change" and .old_key.id != null and .old_key.id != .row.id'
check "a MINIMAL image arrives with its other columns unchanged" \
        any '.type == "change" and .row.id == 8 and .row.quantity == 4242 and ((.unchanged // []) | index("name")) != null'
check "RENAME COLUMN and CHANGE COLUMN arrive as renames" \
        test "$(jq -c 'select(.type == "schema" and .table[2] == "orders") | (.changes // [])[] | select(.kind == "rename") | [.old_column, .column]' "$work/out.jsonl" | sort -u | tr -d '\n')" = '["note","memo"]["qty","quantity"]'
check "non-ASCII text arrives intact" any '.type == "change" and .row.id == 7 and .row.name == "café 日本 🦊"'
check "TRUNCATE reaches the target" any '.type == "truncate" and .table[2] == "trunc_me" and .pos != "0"'
check "after TRUNCATE the target holds what the source holds" \
        test "$(replay trunc_me '["id"]' | jq -c 'keys')" = '["3"]'
check "ADD COLUMN reaches the target as a schema change" \
        any '.type == "schema" and .table[2] == "orders" and ((.changes // []) | map(.kind) | index("add")) != null'
check "every streamed change is written once (no position and key twice)" \
        test "$(jq -r 'select(.type == "change" and .op != "snapshot") | "\(.pos) \(.row.id)"' "$work/out.jsonl" | sort | uniq -d | wc -l)" -eq 0
"$zetl" describe-integrations --integration-identifier mysrc >"$work/describe.json" 2>/dev/null
check "the table without a key needs attention, with the fix" \
        jq -e '.Integrations[0].Tables[] | select(.Table == "mysrc_t.nokey") | .Status == "needs_attention" and (.LastError | test("PRIMARY KEY"))' "$work/describe.json"
# A purged binlog position: a clear error and needs_attention, never silent loss.
sql "$db" -e "INSERT INTO orders (id, name) VALUES (999999, 'lost in a purged file')"
cur=$(sql -e "FLUSH BINARY LOGS; SHOW MASTER STATUS" | awk 'END { print $1 }')
# A file InnoDB has not checkpointed yet is kept: try for a while.
for _ in $(seq 1 50); do
        sql -e "PURGE BINARY LOGS TO '$cur'"
        [ "$(sql -e "SHOW BINARY LOGS" | awk 'NR == 1 { print $1 }')" = "$cur" ] && break
        sleep 0.1
done
"$zetl" run mysrc --once >"$work/purged.log" 2>&1
check "a purged position stops the run with exit 1" test $? -eq 1
"$zetl" describe-integrations --integration-identifier mysrc >"$work/describe2.json" 2>/dev/null
check "... and the integration needs attention with a resync message" \
        jq -e '.Integrations[0] | .Status == "needs_attention" and (.LastError | test("resync"))' "$work/describe2.json"
"$zetl" delete-integration --integration-identifier mysrc >/dev/null 2>&1
check "delete-integration exits 0" test $? -eq 0
sql -e "DROP DATABASE IF EXISTS $db"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
