#!/usr/bin/env bash
# A 1M-row transaction replicated from PostgreSQL within a fixed memory
# ceiling: whatever the transaction's size, zetl hands it on in bounded
# batches (the core's flush thresholds and batch ceilings). Peak memory is
# read by GNU time; the bound is 100 MiB for the release build and 600 MiB
# under the sanitizers (their shadow memory and quarantine; grep reads all of
# ldd, without -q, so pipefail cannot see a SIGPIPE). Not a speed
# test: see make bench for times.
set -uo pipefail

[ -n "${ZETL_TEST_PG_URI:-}" ] || { echo "skip: no test PostgreSQL (run through scripts/run-tests.sh)"; exit 77; }
[ -x /usr/bin/time ] || { echo "skip: GNU time is not installed (scripts/deps.sh installs it)"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/bigtxn"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
db=bigtxn_test
admin="${ZETL_TEST_PG_ADMIN_URI%/*}/postgres"
uri="${ZETL_TEST_PG_URI%/*}/$db"
rows=${ZETL_BIGTXN_ROWS:-1000000}
failed=0
n=0
check() {
        local what=$1
        shift
        n=$((n + 1))
        if "$@"; then echo "ok - $what"; else failed=$((failed + 1)); echo "not ok - $what"; fi
}

limit=$((100 * 1024))
if ldd "$zetl" 2>/dev/null | grep -e libasan -e libubsan >/dev/null; then limit=$((600 * 1024)); fi

psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db OWNER zetl" || exit 1
psql "$uri" -X -q -c "CREATE TABLE big (id bigint PRIMARY KEY, a int, b text, c numeric(12,2), d timestamptz)" || exit 1
"$zetl" create-integration --integration-name bigtxn --source "$uri" --target null: >/dev/null 2>&1
check "create-integration" test $? -eq 0
"$zetl" run bigtxn --once >/dev/null 2>&1 # the empty initial sync
psql "$uri" -X -q -c "INSERT INTO big SELECT g, g % 1000, 'row ' || g, g * 0.01, now() FROM generate_series(1, $rows) g" || exit 1
/usr/bin/time -f '%M' -o "$work/peak" "$zetl" run bigtxn --once 2>"$work/run.log"
check "run --once over a $rows-row transaction exits 0" test $? -eq 0
check "all $rows rows reached the target" grep -q "null target: $rows rows" "$work/run.log"
peak=$(cat "$work/peak")
check "peak memory $((peak / 1024)) MiB is under $((limit / 1024)) MiB" test "$peak" -lt "$limit"
"$zetl" delete-integration --integration-identifier bigtxn >/dev/null 2>&1
psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
