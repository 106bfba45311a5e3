#!/usr/bin/env bash
# A 1M-row MariaDB transaction replicated within a fixed memory ceiling: the
# binlog's row events are decoded into bounded batches whatever the
# transaction's size. Peak memory by GNU time: 100 MiB for the release build,
# 600 MiB under the sanitizers. Not a speed test (see make bench).
set -uo pipefail

[ -n "${ZETL_TEST_MY_URI:-}" ] || { echo "skip: no test MariaDB (run through scripts/run-tests.sh)"; exit 77; }
[ -x /usr/bin/time ] || { echo "skip: GNU time is not installed (scripts/deps.sh installs it)"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/mybigtxn"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
db=mybig_t
rows=${ZETL_BIGTXN_ROWS:-1000000}
failed=0
n=0
check() {
        local what=$1
        shift
        n=$((n + 1))
        if "$@"; then echo "ok - $what"; else failed=$((failed + 1)); echo "not ok - $what"; fi
}
sql() { mariadb --defaults-file="$ZETL_TEST_MY_CNF" -N -B "$@"; }
limit=$((100 * 1024))
if ldd "$zetl" 2>/dev/null | grep -e libasan -e libubsan >/dev/null; then limit=$((600 * 1024)); fi

sql -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db;
        CREATE TABLE $db.big (id BIGINT PRIMARY KEY, a INT, b VARCHAR(40), c DECIMAL(12,2), d DATETIME(6))" || exit 1
"$zetl" create-integration --integration-name mybig --source "${ZETL_TEST_MY_URI%/*}/$db" --target null: \
        --data-filter "include: $db.*" >/dev/null 2>&1
check "create-integration" test $? -eq 0
"$zetl" run mybig --once >/dev/null 2>&1 # the empty initial sync
sql "$db" -e "INSERT INTO big SELECT seq, seq % 1000, CONCAT('row ', seq), seq * 0.01, NOW(6) FROM seq_1_to_$rows" || exit 1
/usr/bin/time -f '%M' -o "$work/peak" "$zetl" run mybig --once 2>"$work/run.log"
check "run --once over a $rows-row transaction exits 0" test $? -eq 0
check "all $rows rows reached the target" grep -q "null target: $rows rows" "$work/run.log"
peak=$(cat "$work/peak")
check "peak memory $((peak / 1024)) MiB is under $((limit / 1024)) MiB" test "$peak" -lt "$limit"
"$zetl" delete-integration --integration-identifier mybig >/dev/null 2>&1
sql -e "DROP DATABASE IF EXISTS $db"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
