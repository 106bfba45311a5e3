#!/usr/bin/env bash
# The command line end to end, with the jsonl source and target: usage errors
# are one line and exit 2; the catalog round trip; secrets never printed;
# state permissions; one runner at a time; SIGTERM exits 0 after the last
# commit; and exactly-once delivery across repeated kill -9.
set -uo pipefail

root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/cli"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
failed=0
n=0

ok() { n=$((n + 1)); echo "ok - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

# usage_error "what" "expected text" zetl-args...: exit 2 and one line on stderr.
usage_error() {
        local what=$1 want=$2 out err rc
        shift 2
        out=$("$zetl" "$@" 2>"$work/err") && rc=0 || rc=$?
        err=$(cat "$work/err")
        if [ "$rc" -eq 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && [ -z "$out" ] &&
                [[ "$err" == *"$want"* ]]; then
                ok "$what"
        else
                not_ok "$what (rc=$rc, stderr: $err)"
        fi
}

# ---- usage errors -------------------------------------------------------
usage_error "no command" "missing command"
usage_error "unknown command" 'unknown command "frobnicate"' frobnicate
usage_error "unknown global option" 'unknown option "--bogus"' --bogus
usage_error "unknown option" 'unknown option "--bogus"' create-integration --bogus
usage_error "missing value" "needs a value" create-integration --source
usage_error "missing required options" "are required" create-integration --integration-name a
usage_error "name starting with a digit" "must start with a letter" \
        create-integration --integration-name 1abc --source jsonl:/x --target null:
usage_error "name with double hyphen" "hyphen" \
        create-integration --integration-name a--b --source jsonl:/x --target null:
usage_error "name of 64 characters" "63" \
        create-integration --integration-name "a$(printf 'b%.0s' {1..63})" --source jsonl:/x --target null:
usage_error "unknown source scheme lists the known ones" "the sources this build knows are jsonl:" \
        create-integration --integration-name a --source foo://x --target null:
usage_error "unknown target scheme lists the known ones" "jsonl:, iceberg:, null:, opensearch:, opensearch+https:, postgresql:" \
        create-integration --integration-name a --source jsonl:/x --target ftp://u:pw@h/
usage_error "bad data filter names the column" "--data-filter:1:" \
        create-integration --integration-name a --source jsonl:/x --target null: --data-filter 'include: a.b, exclude a.c'
usage_error "missing filter file" "no such file" \
        create-integration --integration-name a --source jsonl:/x --target null: --filter-file "$work/nope"
usage_error "bad --output" "--output must be json or table" describe-integrations --output yaml
usage_error "bad --log-level" "--log-level" describe-integrations --log-level loud
usage_error "run without a name" "expected one integration name" run
usage_error "run of an unknown integration" 'no integration named "ghost"' run ghost
usage_error "describe of an unknown integration" 'no integration named "ghost"' \
        describe-integrations --integration-identifier ghost
usage_error "bad --max-attempts" "--max-attempts" run ghost --max-attempts 0
check "--version" bash -c "'$zetl' --version | grep -q '^zetl [0-9]'"
for c in create-integration describe-integrations modify-integration delete-integration run; do
        check "$c --help exits 0 with usage" bash -c "'$zetl' $c --help | grep -q '^Usage: zetl $c'"
done

# ---- catalog round trip, secrets, permissions ---------------------------
printf '' >"$work/empty.jsonl"
secret='s3cr3t-p@ss'
"$zetl" create-integration --integration-name demo-1 --source "jsonl:$work/empty.jsonl" \
        --target "jsonl:$work/out.jsonl" --description "first" \
        --option "peer=opensearch://admin:$secret@127.0.0.1:9200" --option "api_token=$secret" \
        --data-filter 'include: shop.public.*' >"$work/create.json" 2>"$work/create.err"
check "create-integration exits 0" test $? -eq 0
check "create prints the integration" jq -e '.IntegrationName == "demo-1" and .Status == "creating"' "$work/create.json"
usage_error "duplicate create" 'already exists' create-integration --integration-name demo-1 \
        --source "jsonl:$work/empty.jsonl" --target null:
"$zetl" describe-integrations >"$work/describe.json" 2>&1
check "describe lists it with its filter" \
        jq -e '.Integrations[] | select(.IntegrationName == "demo-1") | .DataFilter == "include: shop.public.*"' "$work/describe.json"
check "describe shows the password as ***" \
        jq -e '.Integrations[] | select(.IntegrationName == "demo-1") | .Options.peer == "opensearch://admin:***@127.0.0.1:9200"' "$work/describe.json"
"$zetl" describe-integrations --output table --log-level debug >"$work/table.txt" 2>&1
check "describe hides a secret-named option" \
        jq -e '.Integrations[] | select(.IntegrationName == "demo-1") | .Options.api_token == "***"' "$work/describe.json"
"$zetl" modify-integration --integration-identifier demo-1 --description first >/dev/null 2>&1
check "modify restores the state it found" \
        jq -e '.state == "creating"' "$ZETL_STATE_DIR/demo-1/status.json"
check "table output has the name and state" grep -q '^demo-1 *creating' "$work/table.txt"
check "the password is in no output" bash -c "! grep -rqF '$secret' '$work/create.json' '$work/create.err' '$work/describe.json' '$work/table.txt'"
check "state dir is 0700" test "$(stat -c %a "$ZETL_STATE_DIR")" = 700
check "integration dir is 0700" test "$(stat -c %a "$ZETL_STATE_DIR/demo-1")" = 700
check "definition.json is 0600" test "$(stat -c %a "$ZETL_STATE_DIR/demo-1/definition.json")" = 600

usage_error "modify with a bad filter" "--data-filter:1:" \
        modify-integration --integration-identifier demo-1 --data-filter 'include: x'
check "a rejected modify changes nothing" \
        bash -c "'$zetl' describe-integrations --integration-identifier demo-1 | jq -e '.Integrations[0].DataFilter == \"include: shop.public.*\"' >/dev/null"
"$zetl" modify-integration --integration-identifier demo-1 --description second --no-data-filter >/dev/null 2>&1
check "modify changes the description and clears the filter" \
        bash -c "'$zetl' describe-integrations --integration-identifier demo-1 | jq -e '.Integrations[0].Description == \"second\" and .Integrations[0].DataFilter == null' >/dev/null"

chmod 755 "$ZETL_STATE_DIR"
usage_error "a world-readable state dir is refused" "chmod 700" describe-integrations
chmod 700 "$ZETL_STATE_DIR"
(cd "$work" && "$zetl" create-integration --integration-name rel-path --source jsonl:empty.jsonl \
        --target jsonl:rel-out.jsonl >/dev/null 2>&1)
check "relative jsonl:/iceberg: paths are stored absolute (a service runs in /)" \
        bash -c "'$zetl' describe-integrations --integration-identifier rel-path | jq -e '.Integrations[0] | .Source == \"jsonl:$work/empty.jsonl\" and .Target == \"jsonl:$work/rel-out.jsonl\"' >/dev/null"
"$zetl" delete-integration --integration-identifier rel-path >/dev/null 2>&1
chmod 644 "$ZETL_STATE_DIR/demo-1/status.json"
usage_error "a world-readable state file is refused, naming the chmod" \
        "chmod 600 $ZETL_STATE_DIR/demo-1/status.json" run demo-1 --once
chmod 600 "$ZETL_STATE_DIR/demo-1/status.json"

# ---- a change stream for the runs --------------------------------------
# N transactions of R rows, with every logical type; written by awk so the
# expected content comes from this script, not from zetl.
N=400
R=25
awk -v n=$N -v r=$R 'BEGIN {
        print "{\"type\":\"schema\",\"table\":[\"shop\",\"public\",\"items\"],\"version\":1,\"columns\":[" \
              "{\"name\":\"id\",\"type\":\"int64\",\"nullable\":false,\"key\":1}," \
              "{\"name\":\"ok\",\"type\":\"boolean\"},{\"name\":\"s\",\"type\":\"int16\"}," \
              "{\"name\":\"i\",\"type\":\"int32\"},{\"name\":\"f\",\"type\":\"float32\"}," \
              "{\"name\":\"d\",\"type\":\"float64\"},{\"name\":\"price\",\"type\":\"decimal\",\"precision\":38,\"scale\":9}," \
              "{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"raw\",\"type\":\"bytes\"}," \
              "{\"name\":\"day\",\"type\":\"date\"},{\"name\":\"t\",\"type\":\"time\"}," \
              "{\"name\":\"ts\",\"type\":\"timestamp\"},{\"name\":\"tz\",\"type\":\"timestamptz\"}," \
              "{\"name\":\"u\",\"type\":\"uuid\"},{\"name\":\"doc\",\"type\":\"json\"}]}"
        for (k = 1; k <= n; k++) {
                for (j = 0; j < r; j++) {
                        id = k * 1000 + j
                        printf "{\"type\":\"change\",\"table\":[\"shop\",\"public\",\"items\"],\"op\":\"insert\",\"pos\":\"%d\",\"row\":{\"id\":%d,\"ok\":%s,\"s\":-32768,\"i\":2147483647,\"f\":0.5,\"d\":-1.25e-300,\"price\":\"12345678901234567890123456789.%09d\",\"name\":\"caf\\u00e9 \\u65e5\\u672c %d\",\"raw\":\"AAH/\",\"day\":\"2024-02-29\",\"t\":\"23:59:59.999999\",\"ts\":\"1969-12-31T23:59:59.000001\",\"tz\":\"+10000-01-01T00:00:00Z\",\"u\":\"00112233-4455-6677-8899-aabbccddeeff\",\"doc\":\"{\\\"k\\\": [1, 2]}\"}}\n", id, id, (j % 2 ? "true" : "false"), id, id
                }
                printf "{\"type\":\"commit\",\"pos\":\"%d\",\"token\":\"k%d\"}\n", k * 1000 + 999, k
        }
}' >"$work/in.jsonl"

"$zetl" create-integration --integration-name chaos --source "jsonl:$work/in.jsonl" \
        --target "jsonl:$work/chaos.jsonl" --option flush-rows=300 --option flush-interval-ms=5 \
        >/dev/null 2>&1
check "create the kill -9 integration" test $? -eq 0

# Kill -9 at varied moments, restart, repeat; then finish with --once.
kills=0
for delay in 0.05 0.1 0.02 0.2 0.07 0.15 0.03 0.3; do
        "$zetl" run chaos >>"$work/chaos.log" 2>&1 &
        pid=$!
        sleep "$delay"
        kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
        wait "$pid" 2>/dev/null
done
"$zetl" run chaos --once >>"$work/chaos.log" 2>&1
check "run --once after $kills kill -9 exits 0" test $? -eq 0

# Every row exactly once, with every value as written.
got=$(jq -r 'select(.type == "change") | .row.id' "$work/chaos.jsonl" | sort -n | uniq -c | awk '$1 != 1' | wc -l)
count=$(jq -r 'select(.type == "change") | .row.id' "$work/chaos.jsonl" | wc -l)
check "all $((N * R)) rows delivered (got $count)" test "$count" -eq $((N * R))
check "no row delivered twice" test "$got" -eq 0
jq -c 'select(.type == "change") | .row' "$work/in.jsonl" | sort >"$work/rows.in"
jq -c 'select(.type == "change") | .row' "$work/chaos.jsonl" | sort >"$work/rows.out"
check "every value identical to the input (jq compares)" cmp -s "$work/rows.in" "$work/rows.out"
check "the target ends with a commit line" bash -c "tail -n 1 '$work/chaos.jsonl' | jq -e '.type == \"commit\"' >/dev/null"
"$zetl" describe-integrations --integration-identifier chaos >"$work/chaos.json" 2>/dev/null
check "describe: active, rows counted, snapshot done" \
        jq -e '.Integrations[0] | .Status == "active" and .SnapshotDone and .Running == false' "$work/chaos.json"

# ---- an error while opening is recorded for describe ----------------------
"$zetl" create-integration --integration-name broken --source "jsonl:$work/missing.jsonl" \
        --target null: >/dev/null 2>&1
"$zetl" run broken --once --max-attempts 1 >/dev/null 2>&1
check "run of a missing source file fails with exit 1" test $? -eq 1
check "describe shows the opening error" \
        bash -c "'$zetl' describe-integrations --integration-identifier broken | jq -e '.Integrations[0].LastError | test(\"missing.jsonl\")' >/dev/null"

# ---- one runner at a time; SIGTERM ------------------------------------
mkfifo "$work/hold" 2>/dev/null
"$zetl" run chaos >"$work/run1.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
        grep -q starting "$work/run1.log" && break
        sleep 0.05
done
usage_error "a second runner is refused" "already running" run chaos
printf '%s\n' '{"type":"change","table":["shop","public","items"],"op":"delete","pos":"999000","row":{"id":1000}}' \
        '{"type":"commit","pos":"999001","token":"tail"}' >>"$work/in.jsonl"
for _ in $(seq 1 100); do
        grep -q '"pos":"999000"' "$work/chaos.jsonl" 2>/dev/null && break
        sleep 0.05
done
check "a running integration follows the growing file" grep -q '"pos":"999000"' "$work/chaos.jsonl"
kill -TERM "$pid"
wait "$pid"
check "SIGTERM exits 0" test $? -eq 0
check "SIGTERM logs the stop" grep -q "stopped by signal" "$work/run1.log"

# ---- JSON logs --------------------------------------------------------
"$zetl" run chaos --once --log-format json 2>"$work/json.log" >/dev/null
check "--log-format json writes JSON lines" jq -e -s 'length > 0 and all(.[]; .level and .msg and .ts)' "$work/json.log"

# ---- the example filter file parses -------------------------------------
"$zetl" create-integration --integration-name example-filters --source "jsonl:$work/empty.jsonl" \
        --target null: --filter-file "$root/examples/filters.conf" >/dev/null 2>&1
check "examples/filters.conf is accepted" test $? -eq 0

# ---- delete -------------------------------------------------------------
"$zetl" delete-integration --integration-identifier demo-1 >/dev/null 2>&1
check "delete-integration exits 0" test $? -eq 0
check "delete removes the folder" test ! -e "$ZETL_STATE_DIR/demo-1"
usage_error "delete of a deleted integration" 'no integration named "demo-1"' \
        delete-integration --integration-identifier demo-1

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
