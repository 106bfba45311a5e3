#!/usr/bin/env bash
# Adversarial names through every sink: a PostgreSQL table named
# `a"b; drop table x` with columns named with quotes, spaces, a semicolon,
# non-ASCII letters and the 63-byte maximum, plus a table with a 63-byte
# name, replicated into jsonl, Iceberg, the PostgreSQL warehouse and the
# OpenSearch stand-in. Each target must hold exactly the source's rows under
# those names, and nothing else may be harmed (a table named x sits next to
# them in the source and in the warehouse).
set -uo pipefail

[ -n "${ZETL_TEST_PG_URI:-}" ] || { echo "skip: no test PostgreSQL (run through scripts/run-tests.sh)"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/names"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
have_node=$(command -v node >/dev/null && [ -d "$root/tests/interop/node_modules/@duckdb" ] && echo 1 || echo 0)
db=names_src
wdb=names_wh
admin="${ZETL_TEST_PG_ADMIN_URI%/*}/postgres"
uri="${ZETL_TEST_PG_URI%/*}/$db"
wh="${ZETL_TEST_PG_URI%/*}/$wdb"
failed=0
n=0
check() {
        local what=$1
        shift
        n=$((n + 1))
        if "$@"; then echo "ok - $what"; else failed=$((failed + 1)); echo "not ok - $what"; fi
}
skip() { n=$((n + 1)); echo "ok - # skip $*"; }
standin=
cleanup() {
        [ -n "$standin" ] && kill "$standin" 2>/dev/null
        wait 2>/dev/null
}
trap cleanup EXIT

long_col=$(printf 'c%.0s' $(seq 1 63))   # 63 bytes: PostgreSQL's NAMEDATALEN - 1
long_tbl=$(printf 't%.0s' $(seq 1 63))
psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP DATABASE IF EXISTS $wdb WITH (FORCE)" \
        -c "CREATE DATABASE $db OWNER zetl" -c "CREATE DATABASE $wdb OWNER zetl" || exit 1
psql "$uri" -X -q -v ON_ERROR_STOP=1 <<SQL || exit 1
CREATE TABLE x (id int PRIMARY KEY);
INSERT INTO x VALUES (42);
CREATE TABLE "a""b; drop table x" (
  "id" int PRIMARY KEY,
  "weird ""col""" text,
  "sp ace" int,
  "semi;colon" text,
  "ünïcødé 日本" text,
  "$long_col" text);
INSERT INTO "a""b; drop table x" VALUES
  (1, 'it''s "quoted"', 7, 'a;b', 'ça va', 'long'),
  (2, E'back\\\\slash', NULL, '--', '🦊', NULL);
CREATE TABLE "$long_tbl" (k text PRIMARY KEY, v int);
INSERT INTO "$long_tbl" VALUES ('κλειδί', 1);
SQL
psql "$wh" -X -q -c "CREATE TABLE x (id int PRIMARY KEY); INSERT INTO x VALUES (42)"

# The source rows as JSON lines sorted by id: what every target must show.
psql "$uri" -XAt -c "SELECT row_to_json(t)::text FROM \"a\"\"b; drop table x\" t ORDER BY id" | jq -cS . >"$work/want"
psql "$uri" -XAt -c "SELECT row_to_json(t)::text FROM \"$long_tbl\" t" | jq -cS . >"$work/want_long"

run_to() { # NAME TARGET: create, sync once, report
        "$zetl" create-integration --integration-name "$1" --source "$uri" --target "$2" \
                --data-filter "include: $db.public.*" >"$work/$1.create" 2>&1 &&
                "$zetl" run "$1" --once >"$work/$1.run" 2>&1
}
# Later changes too: an update and a delete go through the same names.
change_source() {
        psql "$uri" -X -q -c "UPDATE \"a\"\"b; drop table x\" SET \"sp ace\" = 8, \"ünïcødé 日本\" = 'ñ' WHERE id = 1" \
                -c "INSERT INTO \"a\"\"b; drop table x\" (id, \"weird \"\"col\"\"\") VALUES (3, 'three')" \
                -c "DELETE FROM \"a\"\"b; drop table x\" WHERE id = 2"
        psql "$uri" -XAt -c "SELECT row_to_json(t)::text FROM \"a\"\"b; drop table x\" t ORDER BY id" | jq -cS . >"$work/want2"
}

# ---- jsonl ------------------------------------------------------------------
run_to names-jsonl "jsonl:$work/out.jsonl"
check "jsonl: create and run exit 0" test $? -eq 0
replay() { jq -n --arg t "$1" --argjson keys "$2" -f "$root/tests/integration/replay.jq" "$work/out.jsonl" | jq -cS '[.[]] | sort_by(.id // .k) | .[]'; }
check "jsonl: the rows under their names" cmp -s <(replay 'a"b; drop table x' '["id"]') "$work/want"
check "jsonl: the 63-byte table" cmp -s <(replay "$long_tbl" '["k"]') "$work/want_long"

# ---- the PostgreSQL warehouse ---------------------------------------------
run_to names-wh "$wh"
check "warehouse: create and run exit 0" test $? -eq 0
whrows() { psql "$wh" -XAt -c "SELECT row_to_json(t)::text FROM ${db}_public.\"a\"\"b; drop table x\" t ORDER BY id" | jq -cS .; }
check "warehouse: the rows under their names" cmp -s <(whrows) "$work/want"
check "warehouse: the 63-byte table" \
        cmp -s <(psql "$wh" -XAt -c "SELECT row_to_json(t)::text FROM ${db}_public.\"$long_tbl\" t" | jq -cS .) "$work/want_long"
check "warehouse: table x is unharmed" test "$(psql "$wh" -XAt -c 'SELECT count(*) FROM x')" = 1
check "source: table x is unharmed" test "$(psql "$uri" -XAt -c 'SELECT count(*) FROM x')" = 1

# ---- Iceberg ------------------------------------------------------------------
run_to names-ice "iceberg:$work/lake"
check "iceberg: create and run exit 0" test $? -eq 0
tdir=$(find "$work/lake" -path '*/metadata/version-hint.text' | grep -v "$long_tbl" | grep -v '/x/' | head -1)
tdir=${tdir%/metadata/version-hint.text}
check "iceberg: the table directory escapes the quote, the semicolon and the spaces" \
        bash -c "[[ '$(basename "$tdir")' == 'a~22b~3B~20drop~20table~20x' ]]"
if [ "$have_node" = 1 ]; then
        icerows() { node "$root/tests/interop/ice_rows.mjs" "$1" | jq -cS '.rows[]' | jq -cs 'sort_by(.id // .k) | .[]'; }
        # ice_rows prints values as text: compare the source rows the same way.
        astext() { jq -cS 'with_entries(.value |= (if . == null then null else tostring end))' "$1"; }
        check "iceberg (DuckDB by field id): the rows under their names" cmp -s <(icerows "$tdir") <(astext "$work/want")
        check "iceberg: the 63-byte table" cmp -s <(icerows "$(dirname "$tdir")/$long_tbl") <(astext "$work/want_long")
else
        skip "iceberg read-back: tests/interop/node_modules is missing (scripts/deps.sh installs it)"
        skip "iceberg 63-byte table read-back: same reason"
fi

# ---- OpenSearch (stand-in) ------------------------------------------------------
if command -v node >/dev/null; then
        node "$root/tests/standin/opensearch.mjs" --quiet >"$work/os.port" 2>"$work/os.err" &
        standin=$!
        for _ in $(seq 1 200); do [ -s "$work/os.port" ] && break; sleep 0.05; done
        os="127.0.0.1:$(head -1 "$work/os.port")"
        run_to names-os "opensearch://$os"
        check "opensearch: create and run exit 0" test $? -eq 0
        osdocs() { curl -sf "http://$os/_standin/dump" | jq -cS --arg t "$1" '.indices[] | select(any(.aliases[]; test($t))) | .docs[] | ._source' | jq -cs 'sort_by(.id // .k) | .[]'; }
        check "opensearch: the documents under their names" cmp -s <(osdocs 'drop') "$work/want"
        # OpenSearch's rules: lowercase, none of \ / * ? " < > | space , #.
        check "opensearch: every index name follows OpenSearch's naming rules" \
                bash -c "curl -sf 'http://$os/_standin/dump' | jq -r '.indices | keys[]' >'$work/os-names' && ! grep -q '[A-Z\\\\/*?\"<>| ,#]' '$work/os-names'"
else
        skip "opensearch: node is needed for the stand-in"
fi

# ---- later changes through the same names, every target ----------------------
change_source
"$zetl" run names-jsonl --once >/dev/null 2>&1
check "jsonl: an update and a delete through the names" cmp -s <(replay 'a"b; drop table x' '["id"]') "$work/want2"
"$zetl" run names-wh --once >/dev/null 2>&1
check "warehouse: an update and a delete through the names" cmp -s <(whrows) "$work/want2"
if [ "$have_node" = 1 ]; then
        "$zetl" run names-ice --once >/dev/null 2>&1
        check "iceberg: an update and a delete through the names" cmp -s <(icerows "$tdir") <(astext "$work/want2")
fi
if [ -n "$standin" ]; then
        "$zetl" run names-os --once >/dev/null 2>&1
        check "opensearch: an update and a delete through the names" cmp -s <(osdocs 'drop') "$work/want2"
fi

for i in names-jsonl names-wh names-ice names-os; do
        "$zetl" delete-integration --integration-identifier "$i" >/dev/null 2>&1
done
psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP DATABASE IF EXISTS $wdb WITH (FORCE)"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
