#!/usr/bin/env bash
# A demo of what zetl does today, end to end, in a throwaway folder: an
# integration from a change stream (jsonl source) to a jsonl target, the
# initial catch-up, live changes followed by a running `zetl run`, a kill -9
# in the middle with nothing lost or duplicated, describe-integrations, and a
# clean SIGTERM stop. It installs what is missing (as root), builds, and
# leaves nothing running. The PostgreSQL/MariaDB sources and the Iceberg,
# warehouse and OpenSearch targets join this demo as they land.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" -eq 0 ]; then scripts/deps.sh; fi
make -j2 >/dev/null
zetl=$PWD/zetl
demo=$(mktemp -d "${TMPDIR:-/tmp}/zetl-demo.XXXXXX")
export ZETL_STATE_DIR=$demo/state
runner=
cleanup() {
        [ -n "$runner" ] && kill -TERM "$runner" 2>/dev/null && wait "$runner" 2>/dev/null
        rm -rf "$demo"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# A bookstore's changes, as a source would emit them: a schema, then
# transactions of inserts, updates and deletes with their positions.
src=$demo/bookstore.jsonl
tgt=$demo/warehouse.jsonl
books='"table":["bookstore","public","books"]'
cat >"$src" <<JSON
{"type":"schema",$books,"version":1,"columns":[{"name":"id","type":"int32","nullable":false,"key":1},{"name":"title","type":"string"},{"name":"category","type":"string"},{"name":"price","type":"decimal","precision":8,"scale":2},{"name":"published","type":"date"}]}
{"type":"change",$books,"op":"insert","pos":"100","row":{"id":1,"title":"The Hound of the Baskervilles","category":"mysteries","price":"9.99","published":"1902-04-01"}}
{"type":"change",$books,"op":"insert","pos":"101","row":{"id":2,"title":"Dune","category":"science fiction","price":"12.50","published":"1965-08-01"}}
{"type":"commit","pos":"101","token":"0/65"}
JSON

step "create an integration (AWS-style command line)"
"$zetl" create-integration --integration-name bookstore \
        --source "jsonl:$src" --target "jsonl:$tgt" \
        --description "bookstore changes into the warehouse log" \
        --data-filter 'include: bookstore.public.*' | head -8

step "zetl run (long-running) in the background"
"$zetl" run bookstore --log-level warn &
runner=$!
sleep 1.5
echo "target rows so far: $(grep -c '"type":"change"' "$tgt")"

step "live changes: an insert, a price update, a delete"
cat >>"$src" <<JSON
{"type":"change",$books,"op":"insert","pos":"102","row":{"id":3,"title":"Gaudy Night","category":"mysteries","price":"14.00","published":"1935-11-01"}}
{"type":"change",$books,"op":"update","pos":"103","row":{"id":1,"title":"The Hound of the Baskervilles","category":"mysteries","price":"7.49","published":"1902-04-01"}}
{"type":"change",$books,"op":"delete","pos":"104","row":{"id":2}}
{"type":"commit","pos":"104","token":"0/68"}
JSON
sleep 1.5
echo "the target followed:"
grep '"type":"change"' "$tgt" | tail -n 3 | sed 's/^/  /'

step "kill -9 mid-stream, more changes, restart: nothing lost, nothing twice"
kill -9 "$runner"
wait "$runner" 2>/dev/null || true
runner=
for i in $(seq 10 209); do
        echo "{\"type\":\"change\",$books,\"op\":\"insert\",\"pos\":\"$((1000 + i))\",\"row\":{\"id\":$i,\"title\":\"Book $i\",\"category\":\"mysteries\",\"price\":\"$i.00\",\"published\":\"2020-01-01\"}}"
        [ $((i % 50)) -eq 9 ] && echo "{\"type\":\"commit\",\"pos\":\"$((1000 + i))\",\"token\":\"0/$((1000 + i))\"}"
done >>"$src"
"$zetl" run bookstore --once --log-level warn
total=$(grep -c '"type":"change"' "$tgt")
distinct=$(grep '"type":"change"' "$tgt" | grep -o '"pos":"[0-9]*"' | sort -u | wc -l)
echo "changes in the source: $(grep -c '"type":"change"' "$src"); in the target: $total ($distinct distinct)"

step "describe-integrations"
"$zetl" describe-integrations --output table
"$zetl" describe-integrations --integration-identifier bookstore |
        grep -E '"(Status|SnapshotDone|CommittedPosition|RowsInserted|RowsUpdated|RowsDeleted)"'

step "done: everything started here is stopped and $demo is removed"
