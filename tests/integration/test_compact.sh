#!/usr/bin/env bash
# `zetl compact`: a jsonl source (no server needed) replicated into an
# iceberg: target one commit per snapshot, so the tables pile up data files
# and equality-delete files; then compacted. The rows are read independently
# of zetl (tests/interop/ice_rows.mjs: avsc for the manifests, DuckDB by
# field id for the Parquet files, deletes applied by sequence number) and
# must equal the jq replay of the change log before and after compaction;
# after it a table is one data file and no delete file, and reading the data
# files WITHOUT applying deletes gives the current rows. Also: --dry-run
# changes nothing; orphans are removed, files of other tools are not; the
# source position survives; replication goes on after a compaction (its
# deletes reach the compacted rows); compaction beside a live `zetl run`
# (commit races retried) loses nothing; --table; a non-iceberg target exits 2.
set -uo pipefail

root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/compact"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
command -v node >/dev/null || { echo "skip: node is not installed"; exit 77; }
command -v jq >/dev/null || { echo "skip: jq is not installed"; exit 77; }
[ -d "$root/tests/interop/node_modules/@duckdb/node-api" ] && [ -d "$root/tests/interop/node_modules/avsc" ] ||
        { echo "skip: DuckDB and avsc are not installed in tests/interop (scripts/deps.sh)"; exit 77; }
failed=0
jqe() { jq -e "$@" >/dev/null; }
check() {
        local what=$1
        shift
        if "$@"; then echo "ok - $what"; else failed=$((failed + 1)); echo "not ok - $what"; fi
}
runner=
cleanup() { [ -n "$runner" ] && kill -9 "$runner" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

# Commits $2..$3 of table items (50 inserts, 10 updates, 5 deletes each, the
# ids of later commits reaching back to earlier ones), plus a few rows of
# table other. Positions continue from $1.
gen() {
        awk -v pos="$1" -v from="$2" -v to="$3" '
        function row(op, id, c) {
                if (op == "delete")
                        printf "{\"type\":\"change\",\"table\":[\"shop\",\"public\",\"items\"],\"op\":\"delete\",\"pos\":\"%d\",\"row\":{\"id\":%d}}\n", ++pos, id
                else if (op == "insert")
                        printf "{\"type\":\"change\",\"table\":[\"shop\",\"public\",\"items\"],\"op\":\"insert\",\"pos\":\"%d\",\"row\":{\"id\":%d,\"v\":\"r%d\",\"n\":%d,\"amt\":\"%d.%02d\",\"flag\":%s}}\n", ++pos, id, id, id * 3, id, id % 100, (id % 2 ? "true" : "false")
                else
                        printf "{\"type\":\"change\",\"table\":[\"shop\",\"public\",\"items\"],\"op\":\"update\",\"pos\":\"%d\",\"row\":{\"id\":%d,\"v\":\"u%d-%d\",\"n\":null,\"amt\":\"-%d.50\",\"flag\":true}}\n", ++pos, id, id, c, c
        }
        BEGIN {
                for (c = from; c <= to; c++) {
                        for (i = 0; i < 50; i++)
                                row("insert", (c - 1) * 50 + i + 1, c)
                        for (i = 0; c > 1 && i < 10; i++)
                                row("update", (c * 37 + i * 11) % ((c - 1) * 50) + 1, c)
                        for (i = 0; c > 1 && i < 5; i++)
                                row("delete", (c * 53 + i * 7) % ((c - 1) * 50) + 1, c)
                        if (c % 4 == 1)
                                printf "{\"type\":\"change\",\"table\":[\"shop\",\"public\",\"other\"],\"op\":\"insert\",\"pos\":\"%d\",\"row\":{\"k\":\"k%d\",\"x\":%d}}\n", ++pos, c, c
                        printf "{\"type\":\"commit\",\"pos\":\"%d\",\"token\":\"t%d\"}\n", pos, pos
                }
        }'
}
cat >"$work/in.jsonl" <<'EOF'
{"type":"schema","table":["shop","public","items"],"columns":[{"name":"id","type":"int64","key":1},{"name":"v","type":"string"},{"name":"n","type":"int32"},{"name":"amt","type":"decimal","precision":12,"scale":2},{"name":"flag","type":"boolean"}]}
{"type":"schema","table":["shop","public","other"],"columns":[{"name":"k","type":"string","key":1},{"name":"x","type":"int64"}]}
EOF
gen 0 1 12 >>"$work/in.jsonl"
lastpos() { jq -r 'select(.type == "commit") | .pos' "$work/in.jsonl" | tail -1; }

# The expected rows of items, as ice_rows.mjs prints them (values as text).
expected() {
        jq -n --arg t items --argjson keys '["id"]' -f "$root/tests/integration/replay.jq" "$work/in.jsonl" |
                jq -c '[.[]] | sort_by(.id) | map([(.id | tostring), .v, (if .n == null then null else (.n | tostring) end), .amt, (.flag | tostring)])'
}
tbl="$work/lake/shop/public/items"
read_rows() { node "$root/tests/interop/ice_rows.mjs" "$tbl" "$@"; }
rows_of() { jq -c '[.rows[] | [.id, .v, .n, .amt, .flag]]' "$1"; }
same_rows() { [ "$(rows_of "$1")" = "$(expected)" ]; }

"$zetl" create-integration --integration-name c --source "jsonl:$work/in.jsonl" \
        --target "iceberg:$work/lake" --option flush-rows=1 --option flush-interval-ms=10 \
        --option iceberg-compact-delete-files=0 >/dev/null 2>"$work/create.err"
check "create-integration exits 0" test $? -eq 0
"$zetl" run c --once >"$work/run1.log" 2>&1
check "zetl run --once exits 0" test $? -eq 0

read_rows >"$work/before.json"
check "before: many data files and equality-delete files" \
        jqe '.data_files > 5 and .delete_files > 5' "$work/before.json"
check "before: DuckDB with the deletes applied reads the replayed rows" same_rows "$work/before.json"
read_rows --no-deletes >"$work/before-nodel.json"
check "before: without the deletes the rows are wrong (the point of compacting)" \
        bash -c "[ \"\$(jq -c '[.rows[] | [.id, .v, .n, .amt, .flag]]' '$work/before-nodel.json')\" != '$(expected)' ]"

# --dry-run changes nothing.
snapshot_of_tree() { (cd "$work/lake" && find . -type f -printf '%p %s %T@\n' | sort); }
snapshot_of_tree >"$work/tree.before"
"$zetl" compact c --dry-run >"$work/dry.out" 2>&1
check "compact --dry-run exits 0" test $? -eq 0
check "... says what it would do" grep -q '^shop/public/items: would compact: ' "$work/dry.out"
snapshot_of_tree >"$work/tree.after"
check "... and changes no file" cmp -s "$work/tree.before" "$work/tree.after"

# Orphans: a crashed writer's leftovers (old), and a file zetl did not write.
touch -d '2001-01-01' "$tbl/data/zetl-crashed-00001.parquet" "$tbl/metadata/zetl-crashed-00002-m0.avro" \
        "$tbl/data/someone-else.parquet"

"$zetl" compact c >"$work/compact.out" 2>&1
rc=$?
check "compact exits 0" test $rc -eq 0
check "... reports files, rows, deletes folded, bytes and time per table" \
        grep -Eq '^shop/public/items: files [0-9]+ -> 1 \([0-9]+ data, [0-9]+ delete\), rows [0-9]+ -> [0-9]+ \([0-9]+ deleted by [0-9]+ deletes\), bytes [0-9]+ -> [0-9]+, [0-9.]+ s' "$work/compact.out"
read_rows >"$work/after.json"
check "after: one data file, no delete file, a replace snapshot" \
        jqe '.data_files == 1 and .delete_files == 0 and .operation == "replace"' "$work/after.json"
check "after: DuckDB reads the same rows" same_rows "$work/after.json"
read_rows --no-deletes >"$work/after-nodel.json"
check "after: a reader without delete support reads the current rows" same_rows "$work/after-nodel.json"
meta() { ls "$tbl"/metadata/v*.metadata.json | sort -V | tail -1; }
position_of() { jq -r --arg id "$2" '.snapshots[] | select(.["snapshot-id"] == ($id | tonumber)) | .summary["zetl.position.token"] // empty' "$1"; }
cur=$(jq -r '.["current-snapshot-id"]' "$(meta)")
parent=$(jq -r --arg c "$cur" '.snapshots[] | select(.["snapshot-id"] == ($c | tonumber)) | .["parent-snapshot-id"]' "$(meta)")
check "the source position is carried into the compaction's snapshot" \
        bash -c "[ -n '$(position_of "$(meta)" "$cur")' ] && [ '$(position_of "$(meta)" "$cur")' = '$(position_of "$(meta)" "$parent")' ]"
check "a crashed writer's leftovers are removed" \
        bash -c "! ls '$tbl/data/zetl-crashed-00001.parquet' '$tbl/metadata/zetl-crashed-00002-m0.avro' 2>/dev/null | grep -q ."
check "a file another tool wrote is kept" test -f "$tbl/data/someone-else.parquet"
check "the table other was compacted too (or had nothing to do)" grep -q '^shop/public/other: ' "$work/compact.out"

# Replication goes on: the next commits' deletes must reach compacted rows.
gen "$(lastpos)" 13 16 >>"$work/in.jsonl"
"$zetl" run c --once >"$work/run2.log" 2>&1
check "zetl run --once after the compaction exits 0" test $? -eq 0
read_rows >"$work/more.json"
check "later updates and deletes apply to the compacted rows" same_rows "$work/more.json"
"$zetl" compact c --table shop.public.items >"$work/compact2.out" 2>&1
check "compact --table exits 0" test $? -eq 0
check "... and only touches that table" bash -c "! grep -q '^shop/public/other' '$work/compact2.out' && grep -q '^shop/public/items: files' '$work/compact2.out'"
read_rows >"$work/more2.json"
check "compacted again: one file, the same rows" \
        bash -c "jq -e '.data_files == 1 and .delete_files == 0' '$work/more2.json' >/dev/null && [ \"\$(jq -c '[.rows[] | [.id, .v, .n, .amt, .flag]]' '$work/more2.json')\" = '$(expected)' ]"

# Beside a live `zetl run`: commits land while compactions run; races are
# retried (rebased or restarted), nothing is lost.
"$zetl" run c >"$work/live.log" 2>&1 &
runner=$!
ok_all=0
next=17
for round in $(seq 1 12); do
        gen "$(lastpos)" $next $((next + 1)) >>"$work/in.jsonl"
        next=$((next + 2))
        "$zetl" compact c --table shop.public.items >>"$work/live-compact.out" 2>&1 || ok_all=1
        sleep 0.2
done
check "every compaction beside zetl run exits 0" test $ok_all -eq 0
# Let the runner catch up with the log, then stop it.
want=$(lastpos)
for _ in $(seq 1 300); do
        jq -e --arg t "t$want" '.["current-snapshot-id"] as $c | .snapshots[] | select(.["snapshot-id"] == $c) | .summary["zetl.position.token"] == $t' "$(meta)" >/dev/null 2>&1 && break
        sleep 0.1
done
kill -TERM "$runner" 2>/dev/null
wait "$runner" 2>/dev/null
runner=
read_rows >"$work/live.json"
check "after the live run every change is there, none twice" same_rows "$work/live.json"
"$zetl" compact c --table shop.public.items >"$work/final.out" 2>&1
read_rows >"$work/final.json"
check "a final compaction: one file, the same rows" \
        bash -c "jq -e '.data_files == 1 and .delete_files == 0' '$work/final.json' >/dev/null && [ \"\$(jq -c '[.rows[] | [.id, .v, .n, .amt, .flag]]' '$work/final.json')\" = '$(expected)' ]"
if grep -q 'retried' "$work/live-compact.out"; then
        echo "# some compactions beside zetl run lost a commit race and were retried"
fi

# Expiry: only the current snapshot and its parent stay with 0.
"$zetl" compact c --table shop.public.items --expire-older-than 0 >"$work/expire.out" 2>&1
check "compact --expire-older-than 0 exits 0" test $? -eq 0
check "... keeps the current snapshot and its parent" jqe '.snapshots | length == 2' "$(meta)"
read_rows >"$work/expired.json"
check "... and the rows" same_rows "$work/expired.json"

# Not an iceberg target: exit 2 with a clear message.
"$zetl" create-integration --integration-name j --source "jsonl:$work/in.jsonl" --target null: >/dev/null 2>&1
"$zetl" compact j >"$work/notice.out" 2>&1
check "compact of an integration whose target is not iceberg: exits 2" test $? -eq 2
check "... saying so" grep -q 'not an iceberg: target' "$work/notice.out"
"$zetl" compact c --table nodots >/dev/null 2>&1
check "a malformed --table exits 2" test $? -eq 2

# Automatic compaction inside zetl run: past 3 delete files the sink folds
# them into new data files between commits.
"$zetl" create-integration --integration-name auto --source "jsonl:$work/in.jsonl" \
        --target "iceberg:$work/autolake" --option flush-rows=1 --option flush-interval-ms=10 \
        --option iceberg-compact-delete-files=3 >/dev/null 2>&1
"$zetl" run auto --once >"$work/auto.log" 2>&1
check "zetl run with automatic compaction exits 0" test $? -eq 0
check "... and compacted while running" grep -q 'iceberg: compacted .*autolake/shop/public/items' "$work/auto.log"
tbl="$work/autolake/shop/public/items"
read_rows >"$work/auto.json"
check "... never past the threshold: at most 3 delete files live" jqe '.delete_files <= 3' "$work/auto.json"
check "... with every change there, none twice" same_rows "$work/auto.json"

[ $failed -eq 0 ] || exit 1
