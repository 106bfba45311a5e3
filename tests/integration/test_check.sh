#!/usr/bin/env bash
# `zetl check`: prerequisites of a PostgreSQL and a MariaDB source and of a
# jsonl target on the harness servers, without creating anything; --fix
# applies the safe fixes (REPLICA IDENTITY FULL, binlog_row_metadata) and
# nothing else; an unreachable server is a FAIL item and exit 1; usage
# errors exit 2.
set -uo pipefail

[ -n "${ZETL_TEST_PG_URI:-}" ] && [ -n "${ZETL_TEST_MY_URI:-}" ] ||
        { echo "skip: no test servers (run through scripts/run-tests.sh)"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/check"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
failed=0
n=0
check() {
        local what=$1
        shift
        n=$((n + 1))
        if "$@"; then echo "ok - $what"; else failed=$((failed + 1)); echo "not ok - $what"; fi
}
pg() { psql "$ZETL_TEST_PG_URI" -X -Atq -v ON_ERROR_STOP=1 "$@"; }
my() { mariadb --defaults-file="$ZETL_TEST_MY_CNF" -N -B "$@"; }
cleanup() {
        my -e "SET GLOBAL binlog_row_metadata = 'FULL'; DROP DATABASE IF EXISTS chk_t" 2>/dev/null
        pg -c "DROP TABLE IF EXISTS chk_keyed, chk_nokey" 2>/dev/null
}
trap cleanup EXIT
item() { jq -r --arg n "$2" '.Items[] | select(.Name == $n) | "\(.Level) \(.Detail)"' "$1"; }
items_named() { jq -r --arg n "$2" '[.Items[] | select(.Name == $n)] | length' "$1"; }

# PostgreSQL: one table with a key, one without.
pg -c "DROP TABLE IF EXISTS chk_keyed, chk_nokey" -c "CREATE TABLE chk_keyed (id int PRIMARY KEY)" \
        -c "CREATE TABLE chk_nokey (a int)"
filter='include: zetl_test.public./chk_.*/'
slots_before=$(pg -c "SELECT count(*) FROM pg_replication_slots")
pubs_before=$(pg -c "SELECT count(*) FROM pg_publication")
"$zetl" check --source "$ZETL_TEST_PG_URI" --data-filter "$filter" --output json >"$work/pg.json"
check "PostgreSQL: exit 0 with warnings only" test $? -eq 0
check "wal_level is reported logical" test "$(item "$work/pg.json" wal_level)" = "ok logical"
check "the table without a key is a warning with REPLICA IDENTITY FULL as the fix" \
        jq -e '.Items[] | select(.Name == "table_key") | .Level == "warn" and (.Detail | test("chk_nokey")) and (.FixSql | test("REPLICA IDENTITY FULL"))' "$work/pg.json"
check "only the selected tables are counted" \
        test "$(item "$work/pg.json" tables)" = "warn 2 tables selected, 1 with a primary key or replica identity"
check "nothing was created (slots, publications)" \
        test "$(pg -c "SELECT count(*) FROM pg_replication_slots")/$(pg -c "SELECT count(*) FROM pg_publication")" = "$slots_before/$pubs_before"
check "without --fix the table is unchanged" test "$(pg -c "SELECT relreplident FROM pg_class WHERE relname = 'chk_nokey'")" = d
"$zetl" check --source "$ZETL_TEST_PG_URI" --data-filter "$filter" --fix >"$work/pg-fix.txt"
check "--fix exits 0" test $? -eq 0
check "--fix set REPLICA IDENTITY FULL" test "$(pg -c "SELECT relreplident FROM pg_class WHERE relname = 'chk_nokey'")" = f
check "... and says so" grep -q 'fixed by --fix: ALTER TABLE public.chk_nokey REPLICA IDENTITY FULL' "$work/pg-fix.txt"
check "the password is never printed" bash -c "! grep -q zetl-test-pw '$work/pg.json' '$work/pg-fix.txt'"

# MariaDB: binlog_row_metadata MINIMAL, a table without a key.
my -e "DROP DATABASE IF EXISTS chk_t; CREATE DATABASE chk_t; CREATE TABLE chk_t.nok (a int);
       CREATE TABLE chk_t.k (id int PRIMARY KEY); SET GLOBAL binlog_row_metadata = 'MINIMAL'"
myuri="${ZETL_TEST_MY_URI%/*}/chk_t"
"$zetl" check --source "$myuri" --data-filter 'include: chk_t.*' --output json >"$work/my.json"
check "MariaDB: exit 0 with warnings only" test $? -eq 0
check "binlog_row_metadata MINIMAL is a warning with SET GLOBAL as the safe fix" \
        jq -e '.Items[] | select(.Name == "binlog_row_metadata") | .Level == "warn" and .FixSql == "SET GLOBAL binlog_row_metadata = '"'FULL'"'"' "$work/my.json"
check "the table without a key is a warning" \
        jq -e '.Items[] | select(.Name == "table_key") | .Level == "warn" and (.Detail | test("chk_t.nok"))' "$work/my.json"
check "without --fix the server is unchanged" test "$(my -e 'SELECT @@global.binlog_row_metadata')" = MINIMAL
"$zetl" check --source "$myuri" --data-filter 'include: chk_t.*' --fix --output json >"$work/my-fix.json"
check "--fix set binlog_row_metadata = FULL" test "$(my -e 'SELECT @@global.binlog_row_metadata')" = FULL
check "... and the item is ok and marked fixed" \
        jq -e '.Items[] | select(.Name == "binlog_row_metadata") | .Level == "ok" and .Fixed' "$work/my-fix.json"
check "a table without a key is never 'fixed'" \
        jq -e '.Items[] | select(.Name == "table_key") | .Level == "warn" and (.Fixed | not)' "$work/my-fix.json"

# Failures and usage errors.
"$zetl" check --source "mysql://zetl:wrong@127.0.0.1:$ZETL_TEST_MY_PORT/chk_t" --output json >"$work/bad.json"
check "a wrong password: exit 1" test $? -eq 1
check "... as a FAIL item naming the cause" jq -e '.Items[0].Name == "connection" and .Items[0].Level == "fail" and (.Items[0].Detail | test("Access denied"))' "$work/bad.json"
check "... with the password hidden" bash -c "! grep -q wrong '$work/bad.json'"
"$zetl" check --source "postgresql://zetl@127.0.0.1:1/x" >"$work/pgbad.txt"
check "an unreachable PostgreSQL: exit 1 with a FAIL line" bash -c "[ $? -eq 1 ] && grep -q '^FAIL  connection' '$work/pgbad.txt'"
"$zetl" check --target "jsonl:$work/no/such/dir/out.jsonl" >"$work/jsonl.txt"
check "a jsonl target in a missing directory fails" bash -c "[ $? -eq 1 ] && grep -q '^FAIL  directory' '$work/jsonl.txt'"
"$zetl" check --target "jsonl:$work/out.jsonl" >/dev/null
check "a jsonl target in a writable directory passes" test $? -eq 0
"$zetl" check --target "iceberg:$work/lake/new" >"$work/ice.txt"
check "an iceberg target whose directory can be created passes" bash -c "[ $? -eq 0 ] && grep -q 'will be created' '$work/ice.txt'"
"$zetl" check --target "$ZETL_TEST_PG_URI" --output json >"$work/wh.json"
check "a PostgreSQL warehouse: connection, version, privileges" \
        jq -e '[.Items[] | select(.Level == "ok") | .Name] == ["connection", "server_version", "privileges", "checkpoints"]' "$work/wh.json"
"$zetl" check --target "postgresql://zetl:wrong@127.0.0.1:$ZETL_TEST_PG_PORT/zetl_test" >/dev/null
check "a warehouse with a wrong password fails" test $? -eq 1
if command -v node >/dev/null; then
        node "$root/tests/standin/opensearch.mjs" --quiet >"$work/os.port" 2>/dev/null &
        standin=$!
        for _ in $(seq 1 200); do [ -s "$work/os.port" ] && break; sleep 0.05; done
        "$zetl" check --target "opensearch://127.0.0.1:$(head -1 "$work/os.port")" >"$work/os.txt"
        check "an OpenSearch target answers GET / (the stand-in)" bash -c "[ $? -eq 0 ] && grep -q '^ok    cluster: OpenSearch' '$work/os.txt'"
        kill "$standin" 2>/dev/null
        wait "$standin" 2>/dev/null
else
        n=$((n + 1))
        echo "ok - # skip the OpenSearch target check: node runs the stand-in"
fi
"$zetl" check >/dev/null 2>&1
check "neither --source nor --target: exit 2" test $? -eq 2
"$zetl" check --source "$ZETL_TEST_PG_URI" --target null: >/dev/null 2>&1
check "both: exit 2" test $? -eq 2
"$zetl" check --source "$ZETL_TEST_PG_URI" --data-filter 'include: ((' >/dev/null 2>&1
check "a filter that does not parse: exit 2" test $? -eq 2
check "nothing was written to the state directory" test ! -e "$ZETL_STATE_DIR/zetl-check"

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
