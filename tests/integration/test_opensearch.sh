#!/usr/bin/env bash
# The OpenSearch sink end to end: PostgreSQL (harness server) -> zetl ->
# the OpenSearch stand-in (tests/standin/opensearch.mjs, node). Snapshot and
# streaming inserts, updates, deletes and key changes under injected faults
# (whole bulks refused with 429/503, a reset connection, single items refused
# with 429, slow responses); kill -9 mid-stream and restarts; unchanged TOAST
# values; ADD COLUMN (PUT _mapping), a rename and an incompatible type change
# (a new index behind the alias, by reindex); TRUNCATE; a document the mapping
# refuses (the dead-letter file, the rest goes on); basic auth. The documents
# are compared with what PostgreSQL returns, row by row, and the stand-in
# asserts that no accepted write ever lowered a document's version.
set -uo pipefail

[ -n "${ZETL_TEST_PG_URI:-}" ] || { echo "skip: no test PostgreSQL (run through scripts/run-tests.sh)"; exit 77; }
command -v node >/dev/null || { echo "skip: node is needed for the OpenSearch stand-in"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/opensearch"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
db=os_sink_test
admin="${ZETL_TEST_PG_ADMIN_URI%/*}/postgres"
uri="${ZETL_TEST_PG_URI%/*}/$db"
failed=0
n=0
ok() { n=$((n + 1)); echo "ok - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
sql() { psql "$uri" -X -q -v ON_ERROR_STOP=1 "$@"; }
val() { psql "$uri" -X -Atq -v ON_ERROR_STOP=1 -c "$1"; }
runner=
writer=
standins=()
cleanup() {
        [ -n "$writer" ] && kill "$writer" 2>/dev/null
        [ -n "$runner" ] && kill -9 "$runner" 2>/dev/null
        for p in "${standins[@]}"; do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        "$zetl" delete-integration --integration-identifier ostest >/dev/null 2>&1
}
trap cleanup EXIT

# start_standin NAME [ARGS...]: a stand-in on a free port; its URL in $url.
start_standin() {
        local name=$1
        shift
        node "$root/tests/standin/opensearch.mjs" --quiet "$@" >"$work/$name.port" 2>"$work/$name.err" &
        standins+=($!)
        for _ in $(seq 1 200); do
                [ -s "$work/$name.port" ] && break
                sleep 0.05
        done
        url="http://127.0.0.1:$(head -1 "$work/$name.port")"
}
dump() { curl -sf "$os/_standin/dump"; }
faults() { curl -sf -XPOST "$os/_standin/faults" -d "$1" >/dev/null; }
# docs ALIAS: {"<_id>": {"_version": N, "_source": {...}}} of the index behind ALIAS.
docs() { dump | jq -c --arg a "$1" '[.indices[] | select(.aliases | index($a)) | .docs] | add // {}'; }
# jqdump FILTER: the filter holds on the stand-in's dump.
jqdump() { dump | jq -e "$1" >/dev/null; }
# wait_for WHAT JQ-FILTER-ON-THE-DUMP [SECONDS]
wait_for() {
        local i
        for i in $(seq 1 $((${3:-30} * 5))); do
                dump | jq -e "$2" >/dev/null 2>&1 && return 0
                sleep 0.2
        done
        echo "# timed out waiting for: $1"
        return 1
}

psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db OWNER zetl" || exit 1
sql <<'SQL'
CREATE TABLE orders (id bigint PRIMARY KEY, name text, qty int, price numeric(12,3), flag boolean,
                     ts timestamptz, d date, j jsonb, u uuid, b bytea, f8 double precision, big text);
INSERT INTO orders SELECT g, 'order ' || g, g % 97, g * 1.125, g % 2 = 0,
       '2024-02-29 12:00:00+00'::timestamptz + g * interval '1.5 second', DATE '2000-01-01' + g,
       jsonb_build_object('k', g, 'tags', jsonb_build_array('a', 'b')),
       md5(g::text)::uuid, decode(md5(g::text), 'hex'), g / 3.0, NULL
  FROM generate_series(1, 3000) g;
-- A value large and random enough to be TOASTed out of line.
UPDATE orders SET big = (SELECT string_agg(md5(g::text || 'toast'), '') FROM generate_series(1, 4000) g)
 WHERE id = 7;
-- Composite keys whose parts hold the separator, the escape and nothing.
CREATE TABLE comp (a int, b text, v text, PRIMARY KEY (a, b));
INSERT INTO comp VALUES (1, 'x|y', 'one'), (2, '%', 'two'), (3, '', 'three'), (4, 'plain', 'four');
-- json values whose shapes conflict: the second cannot be indexed.
CREATE TABLE jdocs (id int PRIMARY KEY, j jsonb);
INSERT INTO jdocs VALUES (1, '{"a": 1}'), (5, '[1, 2]'), (6, '7');
SQL

# ---- basic auth ---------------------------------------------------------------
start_standin auth --user elastic --password 's3cret-pw'
authurl=$url
"$zetl" create-integration --integration-name osauth --source "$uri" \
        --target "opensearch://elastic:wrong-pw@${authurl#http://}" >"$work/auth1.out" 2>"$work/auth1.err"
check "a wrong password: create-integration exits 1" test $? -eq 1
check "... naming the problem (401, the credentials)" \
        bash -c "grep -q 'HTTP 401' '$work/auth1.err' && grep -q 'refused the credentials' '$work/auth1.err'"
check "... without printing the password" bash -c "! grep -q wrong-pw '$work/auth1.out' '$work/auth1.err'"
check "... and nothing is left behind" test ! -e "$ZETL_STATE_DIR/osauth"
echo 's3cret-pw' >"$work/pw" && chmod 600 "$work/pw"
"$zetl" create-integration --integration-name osauth --source "$uri" --target "opensearch://${authurl#http://}" \
        --option user=elastic --option "password-file=$work/pw" >"$work/auth2.out" 2>"$work/auth2.err"
check "the right password from a password file: create-integration exits 0" test $? -eq 0
check "... the password never printed" bash -c "! grep -q s3cret '$work/auth2.out' '$work/auth2.err'"
"$zetl" delete-integration --integration-identifier osauth >/dev/null 2>&1
check "delete-integration of it exits 0" test $? -eq 0
"$zetl" create-integration --integration-name osbad --source "$uri" --target "opensearch:nohost" >/dev/null 2>"$work/bad.err"
check "a target URI without a host is refused with exit 2" test $? -eq 2

# ---- the main integration -------------------------------------------------------
start_standin main
os=$url
"$zetl" create-integration --integration-name ostest --source "$uri" --target "opensearch://${os#http://}" \
        --data-filter "include: $db.public.*" --option bulk-actions=200 --option bulk-retry-initial-ms=20 \
        --option bulk-retry-max-ms=300 --option flush-interval-ms=100 >"$work/create.out" 2>"$work/create.err"
check "create-integration exits 0" test $? -eq 0

# Faults from the first bulk on: two whole bulks refused with 429, one with
# 503, one connection reset, every 7th item refused with 429 (60 of them),
# every 5th request slow.
faults '{"bulk_429": 2, "bulk_503": 1, "bulk_reset": 1, "item_429_every": 7, "item_fault_budget": 60, "delay_ms": 150, "slow_every": 5}'
"$zetl" run ostest >"$work/run1.log" 2>&1 &
runner=$!
check "the initial sync arrives despite the faults" \
        wait_for "3000 orders" '[.indices[] | select(.aliases | index("os_sink_test.public.orders")) | .docs | length] == [3000]' 60

# Streaming while a writer changes rows; kill -9 in the middle of it.
(
        for i in $(seq 1 60); do
                psql "$uri" -X -q -v ON_ERROR_STOP=1 <<SQL || exit 1
BEGIN;
INSERT INTO orders (id, name, qty, price) VALUES ($((100000 + i)), 'new $i', $i, $i.5);
UPDATE orders SET qty = qty + 1, name = 'upd $i' WHERE id % 50 = $((i % 50));
DELETE FROM orders WHERE id = $((i * 3));
COMMIT;
UPDATE orders SET id = $((200000 + i)) WHERE id = $((1000 + i));
UPDATE orders SET name = 'after key change $i' WHERE id = $((200000 + i));
SQL
                sleep 0.03
        done
) &
writer=$!
sleep 0.7
# The checkpoint writes fail for a while: bulks land, their position does
# not. Kill only once a bulk has landed after that (not after a fixed time:
# a sanitizer build is slower), so the restart must replay it.
faults '{"path_503": "/zetl-checkpoints/_doc/ostest", "path_503_count": 100000}'
bulks=$(dump | jq '.stats.bulk_requests')
for _ in $(seq 1 600); do
        [ "$(dump | jq '.stats.bulk_requests')" -gt "$((bulks + 1))" ] && break
        sleep 0.1
done
kill -9 "$runner"
wait "$runner" 2>/dev/null
curl -sf -XPOST "$os/_standin/reset-faults" >/dev/null
conflicts_before=$(dump | jq '.stats.conflicts')
"$zetl" run ostest >"$work/run2.log" 2>&1 &
runner=$!
wait "$writer"
check "the writer finished" test $? -eq 0
writer=

sql <<'SQL'
-- Unchanged TOAST: only another column changes.
UPDATE orders SET qty = -7 WHERE id = 7;
-- The same row twice in one transaction, then its key changes and a TOASTed
-- value travels with it unchanged.
UPDATE orders SET big = repeat('z', 3000) || (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) g) WHERE id = 8;
BEGIN;
UPDATE orders SET qty = 801 WHERE id = 8;
UPDATE orders SET id = 800008 WHERE id = 8;
UPDATE orders SET qty = 802 WHERE id = 800008;
COMMIT;
-- A document the mapping refuses, between two it takes.
INSERT INTO jdocs VALUES (2, '{"a": "not a number"}');
INSERT INTO jdocs VALUES (3, '{"a": 3}');
-- Schema changes mid-stream.
ALTER TABLE orders ADD COLUMN extra int;
UPDATE orders SET extra = 6 WHERE id = 5;
TRUNCATE comp;
INSERT INTO comp VALUES (9, 'after truncate', 'nine');
SQL
check "ADD COLUMN: PUT _mapping added the field" \
        wait_for "extra in the mapping" '[.indices[] | select(.aliases | index("os_sink_test.public.orders")) | .mappings.properties.extra.type] == ["integer"]'
check "TRUNCATE: the alias points to a new, empty index that then takes the new row" \
        wait_for "comp after truncate" '[.indices[] | select(.aliases | index("os_sink_test.public.comp")) | .docs | keys] == [["9|after truncate"]]'
check "the first comp index is gone" bash -c "! curl -sf '$os/_cat/indices?format=json' | jq -e '.[] | select(.index == \"os_sink_test.public.comp_v1\")' >/dev/null"

# kill -9 again, with changes in between, then an incompatible type change
# and a rename while zetl is down.
kill -9 "$runner"
wait "$runner" 2>/dev/null
runner=
sql <<'SQL'
INSERT INTO orders (id, name, qty) SELECT g, 'after kill', 1 FROM generate_series(300000, 300499) g;
ALTER TABLE orders ALTER COLUMN qty TYPE text USING qty::text;
UPDATE orders SET qty = 'q' || qty WHERE id % 10 = 0;
ALTER TABLE orders RENAME COLUMN flag TO flagged;
UPDATE orders SET flagged = NOT flagged WHERE id = 4;
SQL
faults '{"item_429_every": 11, "item_fault_budget": 20, "bulk_503": 1}'
"$zetl" run ostest --once >"$work/run3.log" 2>&1
check "run --once catches up and exits 0" test $? -eq 0

# ---- compare ------------------------------------------------------------------------
docs os_sink_test.public.orders >"$work/orders.docs"
jq -c 'to_entries | map(.value._source | {id, name, qty, price, flagged, ts, d, j, u, b, f8, extra,
        big: (if .big then (.big | length) else null end)}) | sort_by(.id) | .[]' "$work/orders.docs" >"$work/orders.os"
val "SELECT json_build_object('id', id, 'name', name, 'qty', qty, 'price', price::text, 'flagged', flagged,
        'ts', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')
              || CASE WHEN date_part('microseconds', ts)::int % 1000000 <> 0
                      THEN to_char(ts AT TIME ZONE 'UTC', '.US') ELSE '' END || 'Z',
        'd', d, 'j', j, 'u', u, 'b', encode(b, 'base64'), 'f8', f8, 'extra', extra, 'big', length(big))
     FROM orders ORDER BY id" | jq -c . >"$work/orders.pg"
rows=$(wc -l <"$work/orders.pg")
check "orders: the documents equal the source rows ($rows rows compared)" cmp -s "$work/orders.pg" "$work/orders.os"
cmp -s "$work/orders.pg" "$work/orders.os" || diff "$work/orders.pg" "$work/orders.os" | head -6
check "orders: each _id is the key's text" \
        jq -e 'to_entries | all(.key == (.value._source.id | tostring))' "$work/orders.docs"
check "an unchanged TOAST value is kept by an update of another column" \
        jq -e '.["7"]._source | .qty == "-7" and (.big | length) == 128000' "$work/orders.docs"
check "an unchanged TOAST value follows its row through a key change in one bulk" \
        jq -e '.["800008"]._source | .qty == "802" and (.big | length) == 99000 and (has("8") | not)' "$work/orders.docs"
check "the old key of a key change is deleted" jq -e 'has("8") or has("1001") | not' "$work/orders.docs"
# The type change and the rename each build the next index: v2, then v3.
check "the incompatible type change and the rename moved the alias to new indexes (reindexed)" \
        jqdump '[.indices | to_entries[] | select(.value.aliases | index("os_sink_test.public.orders")) | .key] == ["os_sink_test.public.orders_v3"] and (.indices | has("os_sink_test.public.orders_v1") or has("os_sink_test.public.orders_v2") | not)'
check "... whose mapping has qty as text and the renamed column" \
        jqdump '.indices["os_sink_test.public.orders_v3"].mappings.properties | .qty.type == "text" and .flagged.type == "boolean" and (has("flag") | not)'
check "... and the documents kept their versions through the reindex" \
        jq -e '.["7"]._version > 0 and .["4"]._version > .["7"]._version' "$work/orders.docs"
check "the mapping: key long, text with a keyword sub-field, exact decimals, dates, json object" \
        bash -c "curl -sf '$os/os_sink_test.public.orders/_mapping' | jq -e '.[].mappings | .dynamic == \"strict\" and .properties.id.type == \"long\" and .properties.name.fields.keyword.type == \"keyword\" and .properties.price.type == \"keyword\" and .properties.price.fields.num.type == \"double\" and .properties.ts.type == \"date\" and .properties.d.format == \"strict_date\" and .properties.j.type == \"object\" and .properties.b.type == \"binary\" and .properties.u.type == \"keyword\"' >/dev/null"

docs os_sink_test.public.comp >"$work/comp.docs"
check "composite keys: truncated table holds only the row after it" \
        jq -e 'keys == ["9|after truncate"] and .["9|after truncate"]._source.v == "nine"' "$work/comp.docs"

docs os_sink_test.public.jdocs >"$work/jdocs.docs"
check "json: objects as they are, other values wrapped in {\"value\": ...}" \
        jq -e '.["1"]._source.j == {"a": 1} and .["5"]._source.j == {"value": [1, 2]} and .["6"]._source.j == {"value": 7}' "$work/jdocs.docs"
check "a snapshot document has version 0, a streamed one its position" \
        jq -e '.["1"]._version == 0 and .["3"]._version > 0' "$work/jdocs.docs"
check "the refused document is not in the index, the one after it is" \
        jq -e '(has("2") | not) and .["3"]._source.j.a == 3' "$work/jdocs.docs"
dl="$ZETL_STATE_DIR/ostest/dead-letter.jsonl"
check "the refused document is in the dead-letter file with its error" \
        jq -e -s 'map(select(._id == "2" and .error.type == "mapper_parsing_exception" and .document.j.a == "not a number" and .action == "index")) | length >= 1' "$dl"
check "the dead-letter file is readable by its owner only (it holds row data)" \
        test "$(stat -c %a "$dl")" = 600
check "the dead letter was counted in a log line" grep -q "dead-letter file" "$work/run2.log" "$work/run3.log"

dump | jq '.stats' >"$work/stats.json"
check "no accepted write ever lowered a document's version" jq -e '.regressions == 0' "$work/stats.json"
check "the replay after kill -9 met newer versions (409s counted as done)" jq -e ".conflicts > $conflicts_before" "$work/stats.json"
check "the injected faults happened" jq -e '.faults_injected >= 60' "$work/stats.json"
check "refused bulks and items were retried" grep -q "retried after 429/5xx" "$work/run1.log" "$work/run2.log" "$work/run3.log"
check "search: a term query finds a document through the alias" \
        bash -c "curl -sf -XPOST '$os/os_sink_test.public.orders/_search' -H 'content-type: application/json' -d '{\"query\":{\"term\":{\"id\":5}}}' | jq -e '.hits.hits[0]._source.extra == 6' >/dev/null"
ck=$(curl -sf "$os/zetl-checkpoints/_doc/ostest" | jq -r '._source.order')
committed=$(jq -r '.committed.order' "$ZETL_STATE_DIR/ostest/checkpoint.json")
check "the checkpoint document holds the committed position ($ck = $committed)" test "$ck" = "$committed"

# A second --once run: nothing to do, nothing changes.
dump | jq -S '.indices | del(.["zetl-checkpoints"]) | map_values(.docs)' >"$work/before.json"
"$zetl" run ostest --once >"$work/run4.log" 2>&1
check "a second --once run exits 0" test $? -eq 0
dump | jq -S '.indices | del(.["zetl-checkpoints"]) | map_values(.docs)' >"$work/after.json"
check "... and changes no document" cmp -s "$work/before.json" "$work/after.json"
cmp -s "$work/before.json" "$work/after.json" || diff "$work/before.json" "$work/after.json" | head -10

"$zetl" delete-integration --integration-identifier ostest >/dev/null 2>&1
check "delete-integration removes the checkpoint document" \
        bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$os/zetl-checkpoints/_doc/ostest')\" = 404 ]"
check "... and keeps the indexes (the user's data)" \
        bash -c "curl -sf '$os/os_sink_test.public.orders/_mapping' >/dev/null"

# ---- MariaDB -> OpenSearch ---------------------------------------------------------
# The same sink from the other source: positions are binlog coordinates,
# MySQL has no schema level (the index name drops it).
if [ -n "${ZETL_TEST_MY_URI:-}" ]; then
        my() { mariadb --defaults-file="$ZETL_TEST_MY_CNF" --default-character-set=utf8mb4 -N -B "$@"; }
        my -e "DROP DATABASE IF EXISTS os_my_test; CREATE DATABASE os_my_test;
               CREATE TABLE os_my_test.items (shop INT, sku VARCHAR(20), qty INT, price DECIMAL(10,2),
                      at DATETIME(6), note TEXT, PRIMARY KEY (shop, sku));
               INSERT INTO os_my_test.items VALUES (1, 'a|b', 1, 1.50, '2024-01-02 03:04:05.5', 'x'),
                      (1, 'plain', 2, 2.00, '1999-12-31 23:59:59', NULL), (2, '%', 3, 0.01, NULL, 'y');"
        "$zetl" create-integration --integration-name osmy --source "${ZETL_TEST_MY_URI%/*}/os_my_test" \
                --target "opensearch://${os#http://}" --data-filter "include: os_my_test.*" >/dev/null 2>"$work/my-create.err"
        check "MariaDB: create-integration exits 0" test $? -eq 0
        "$zetl" run osmy --once >"$work/my-run1.log" 2>&1
        check "MariaDB: the initial sync exits 0" test $? -eq 0
        my -e "UPDATE os_my_test.items SET qty = qty + 10 WHERE shop = 1;
               DELETE FROM os_my_test.items WHERE sku = '%';
               INSERT INTO os_my_test.items VALUES (3, 'new', 4, 9.99, NOW(6), 'z');
               UPDATE os_my_test.items SET sku = 'moved' WHERE sku = 'plain';"
        "$zetl" run osmy --once >"$work/my-run2.log" 2>&1
        check "MariaDB: streaming exits 0" test $? -eq 0
        docs os_my_test.items >"$work/my.docs"
        jq -c 'to_entries | map(.value._source | {shop, sku, qty, price}) | sort_by(.shop, .sku) | .[]' "$work/my.docs" >"$work/my.os"
        my -e "SELECT JSON_OBJECT('shop', shop, 'sku', sku, 'qty', qty, 'price', CAST(price AS CHAR))
               FROM os_my_test.items ORDER BY shop, sku" | jq -c . >"$work/my.src"
        check "MariaDB: the documents equal the source rows (index os_my_test.items, no schema part)" \
                bash -c "[ -s '$work/my.src' ] && cmp -s '$work/my.src' '$work/my.os'"
        check "MariaDB: composite _ids escaped, the moved key's old _id gone" \
                jq -e 'has("1|a%7Cb") and has("1|moved") and (has("1|plain") or has("2|%25") | not)' "$work/my.docs"
        check "MariaDB: streamed documents carry binlog positions as versions" \
                jq -e '.["1|a%7Cb"]._version > 4294967296' "$work/my.docs"
        "$zetl" delete-integration --integration-identifier osmy >/dev/null 2>&1
else
        echo "# MariaDB part skipped: no test MariaDB"
fi

echo "1..$n"
[ "$failed" -eq 0 ] || { echo "# $failed of $n failed; logs in $work"; exit 1; }
