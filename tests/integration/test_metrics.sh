#!/usr/bin/env bash
# `zetl run --metrics-file` and `--metrics-listen`: a jsonl source (no server
# needed) replicated into a jsonl target while the metrics are read from the
# file and over HTTP. The numbers must be the ones describe-integrations
# reports; every line must follow Prometheus' text exposition format; after
# SIGTERM the file says zetl_up 0.
set -uo pipefail

root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/metrics"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
command -v curl >/dev/null || { echo "skip: curl is not installed"; exit 77; }
failed=0
n=0
check() {
        local what=$1
        shift
        n=$((n + 1))
        if "$@"; then echo "ok - $what"; else failed=$((failed + 1)); echo "not ok - $what"; fi
}
runner=
cleanup() { [ -n "$runner" ] && kill -9 "$runner" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

# 3 inserts, 1 update, 1 delete in two tables ("a\"b" tests label escaping).
cat >"$work/in.jsonl" <<'EOF'
{"type":"schema","table":["shop","public","items"],"columns":[{"name":"id","type":"int64","key":1},{"name":"v","type":"string"}]}
{"type":"schema","table":["shop","public","a\"b"],"columns":[{"name":"id","type":"int32","key":1}]}
{"type":"change","table":["shop","public","items"],"op":"insert","pos":"1","row":{"id":1,"v":"x"}}
{"type":"change","table":["shop","public","items"],"op":"insert","pos":"2","row":{"id":2,"v":"y"}}
{"type":"change","table":["shop","public","a\"b"],"op":"insert","pos":"3","row":{"id":7}}
{"type":"commit","pos":"3","token":"t3"}
{"type":"change","table":["shop","public","items"],"op":"update","pos":"4","row":{"id":2,"v":"z"}}
{"type":"change","table":["shop","public","items"],"op":"delete","pos":"5","row":{"id":1}}
{"type":"commit","pos":"5","token":"t5"}
EOF
"$zetl" create-integration --integration-name m --source "jsonl:$work/in.jsonl" \
        --target "jsonl:$work/out.jsonl" --option flush-interval-ms=10 >/dev/null 2>"$work/create.err"
check "create-integration exits 0" test $? -eq 0

# A free port: let the kernel pick one for a moment, then use it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000)))
"$zetl" run m --metrics-file "$work/zetl.prom" --metrics-listen "127.0.0.1:$port" >"$work/run.log" 2>&1 &
runner=$!
# Wait (without asserting on time) until the last commit is in the metrics.
for _ in $(seq 1 300); do
        grep -q 'zetl_rows_total{integration="m",table="shop.public.items",op="delete"} 1' "$work/zetl.prom" 2>/dev/null && break
        sleep 0.1
done
check "the metrics file counts rows by table and operation" \
        grep -q '^zetl_rows_total{integration="m",table="shop.public.items",op="insert"} 2$' "$work/zetl.prom"
check "... updates and deletes too" bash -c "grep -q '^zetl_rows_total{integration=\"m\",table=\"shop.public.items\",op=\"update\"} 1$' '$work/zetl.prom' &&
        grep -q '^zetl_rows_total{integration=\"m\",table=\"shop.public.items\",op=\"delete\"} 1$' '$work/zetl.prom'"
check "a quote in a table name is escaped in its label" \
        grep -qF 'table="shop.public.a\"b",op="insert"} 1' "$work/zetl.prom"
check "the state is active" grep -q '^zetl_state{integration="m",state="active"} 1$' "$work/zetl.prom"
check "commits are in the latency histogram" \
        grep -Eq '^zetl_commit_duration_seconds_count\{integration="m"\} [1-9]' "$work/zetl.prom"
# Prometheus text format 0.0.4: comments, or name{labels} value.
check "every line follows the text exposition format" bash -c "! grep -Ev '^(# (HELP|TYPE) [a-z_]+ .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\",?)*\})? (-?[0-9.]+(e[-+]?[0-9]+)?|NaN|[+-]Inf))$' '$work/zetl.prom'"
check "every TYPE is declared once" test "$(grep -c '^# TYPE' "$work/zetl.prom")" -eq "$(grep '^# TYPE' "$work/zetl.prom" | sort -u | wc -l)"

curl -s -o "$work/http.prom" -w '%{http_code} %{content_type}' "http://127.0.0.1:$port/metrics" >"$work/http.code"
check "GET /metrics answers 200 in the text format" grep -q '^200 text/plain; version=0.0.4' "$work/http.code"
check "... with the same rows as the file" \
        test "$(grep '^zetl_rows_total' "$work/http.prom")" = "$(grep '^zetl_rows_total' "$work/zetl.prom")"
check "GET /healthz is 200 while active" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200
check "an unknown path is 404" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope")" = 404
check "POST is 405" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics")" = 405
"$zetl" describe-integrations --integration-identifier m >"$work/describe.json" 2>/dev/null
check "describe-integrations reports the same counts" \
        jq -e '.Integrations[0].Tables[] | select(.Table == "shop.public.items") | .RowsInserted == 2 and .RowsUpdated == 1 and .RowsDeleted == 1' "$work/describe.json"

# A second runner cannot bind the same port: a clear error, exit 2.
"$zetl" create-integration --integration-name m2 --source "jsonl:$work/in.jsonl" --target null: >/dev/null 2>&1
"$zetl" run m2 --once --metrics-listen "127.0.0.1:$port" >"$work/busy.log" 2>&1
rc=$?
check "a busy --metrics-listen port is refused with exit 2" test "$rc" -eq 2
check "... naming the address" grep -q "metrics-listen 127.0.0.1:$port" "$work/busy.log"
"$zetl" run m2 --once --metrics-listen nonsense >"$work/bad.log" 2>&1
check "a malformed --metrics-listen is a usage error" test $? -eq 2

kill -TERM "$runner" && wait "$runner"
check "SIGTERM exits 0" test $? -eq 0
runner=
check "after the run the file says zetl_up 0" grep -q '^zetl_up{integration="m"} 0$' "$work/zetl.prom"

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
