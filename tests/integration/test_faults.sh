#!/usr/bin/env bash
# Fault injection inside the process, walked through every point of a run:
# a jsonl source of 30 transactions into an exactly-once jsonl target, run
# with `--once --max-attempts 1` while
#   - the Nth write, fsync or rename (ZETL_FAULT, src/fsutil.c: the target's
#     writes and fsyncs, the checkpoint, status and schema files) fails, for
#     every N until a run no longer meets one, and
#   - the Nth memory allocation fails (tests/fault/failmalloc.so, preloaded),
#     for every N of the first 200 (start-up: catalog, definition, filters,
#     opening both sides) and then 60 spread up to the last.
# Each faulted run must exit 0, or 1/2 with an error line (never a crash);
# the next run without a fault must converge: the target then holds every
# change exactly once, in order, as a run that never failed writes it.
set -uo pipefail

root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/faults"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
failed=0
n=0
ok() { n=$((n + 1)); echo "ok - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok - $*"; }

awk 'BEGIN {
        print "{\"type\":\"schema\",\"table\":[\"s\",\"p\",\"t\"],\"columns\":[{\"name\":\"id\",\"type\":\"int64\",\"key\":1},{\"name\":\"v\",\"type\":\"string\"}]}"
        for (k = 1; k <= 30; k++) {
                for (j = 0; j < 10; j++) {
                        id = k * 100 + j
                        op = (k % 3 == 0 && j < 3) ? "update" : "insert"
                        printf "{\"type\":\"change\",\"table\":[\"s\",\"p\",\"t\"],\"op\":\"%s\",\"pos\":\"%d\",\"row\":{\"id\":%d,\"v\":\"r%d\"}}\n", op, id, (op == "update" ? id - 300 : id), id
                }
                printf "{\"type\":\"commit\",\"pos\":\"%d\",\"token\":\"k%d\"}\n", k * 100 + 99, k
        }
}' >"$work/in.jsonl"

# The changes of a target file, without its commit lines: what must converge.
changes() { jq -c 'select(.type == "change") | [.op, .pos, .row]' "$1"; }
fresh() {
        rm -rf "$ZETL_STATE_DIR" "$work/out.jsonl"
        "$zetl" create-integration --integration-name f --source "jsonl:$work/in.jsonl" \
                --target "jsonl:$work/out.jsonl" --option flush-rows=25 >/dev/null 2>"$work/create.err"
}
fresh || { echo "not ok - create-integration: $(cat "$work/create.err")"; exit 1; }
"$zetl" run f --once >/dev/null 2>&1 || { echo "not ok - a clean run"; exit 1; }
changes "$work/out.jsonl" >"$work/want"
[ "$(wc -l <"$work/want")" -eq 300 ] && ok "a clean run writes the 300 changes" || not_ok "a clean run writes the 300 changes"

# One faulted run and its recovery. $1: a label; the rest: env assignments.
# Sets verdict to "" when all is well, else why not; outcome to passed|failed.
attempt() {
        local label=$1 rc
        shift
        fresh || { verdict="$label: create-integration failed: $(cat "$work/create.err")"; return; }
        env "$@" "$zetl" run f --once --max-attempts 1 >"$work/run.out" 2>"$work/run.err"
        rc=$?
        verdict=""
        if [ "$rc" -ge 128 ] || grep -q 'AddressSanitizer\|runtime error' "$work/run.err"; then
                verdict="$label: crashed (exit $rc): $(tail -2 "$work/run.err" | tr '\n' ' ')"
                return
        fi
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ] && [ "$rc" -ne 2 ]; then
                verdict="$label: exit $rc"
                return
        fi
        if [ "$rc" -ne 0 ] && ! grep -q ' error \|^zetl ' "$work/run.err"; then
                verdict="$label: exit $rc without an error line"
                return
        fi
        outcome=$([ "$rc" -eq 0 ] && echo passed || echo failed)
        "$zetl" run f --once >"$work/rerun.out" 2>"$work/rerun.err"
        rc=$?
        if [ "$rc" -ne 0 ]; then
                verdict="$label: the run after it exits $rc: $(grep -v ' info ' "$work/rerun.err" | tail -1)"
                return
        fi
        if ! changes "$work/out.jsonl" | cmp -s - "$work/want"; then
                verdict="$label: the target did not converge ($(changes "$work/out.jsonl" | wc -l) changes)"
        fi
}

# ---- writes, fsyncs and renames ------------------------------------------
# How many of each a clean run makes (ZETL_FAULT_COUNT), then each in turn.
fresh
ZETL_FAULT_COUNT=1 "$zetl" run f --once 2>"$work/count.err" >/dev/null
counts=$(sed -n 's/^zetl: fault points: //p' "$work/count.err")
for kind in write fsync rename; do
        total=$(printf '%s\n' "$counts" | tr ' ' '\n' | sed -n "s/^$kind=//p")
        bad="" failing=0
        for k in $(seq 1 "${total:-0}"); do
                attempt "$kind $k of $total" "ZETL_FAULT=$kind:$k"
                [ -n "$verdict" ] && { bad=$verdict; break; }
                [ "$outcome" = failed ] && failing=$((failing + 1))
        done
        if [ -z "$bad" ] && [ "${total:-0}" -gt 0 ]; then
                ok "each of the $total ${kind}s of a run failed in turn ($failing ended the run, the others were retried or best effort): never a crash, the next run converged"
        else
                not_ok "each $kind of a run failed in turn: ${bad:-no $kind counted}"
        fi
done

# ---- memory allocations --------------------------------------------------
# The shim cannot go under AddressSanitizer, which must own malloc itself.
# (The binary names the runtime it needs: read it rather than trust ldd,
# which was seen once to list nothing on a loaded machine.)
if grep -qa 'libasan\.so' "$zetl" || ldd "$zetl" 2>/dev/null | grep -q libasan; then
        echo "ok - # skip allocation failures: AddressSanitizer owns malloc (run with the release or ubsan build)"
        n=$((n + 1))
elif ! command -v cc >/dev/null; then
        echo "ok - # skip allocation failures: no C compiler to build tests/fault/failmalloc.so"
        n=$((n + 1))
else
        cc -std=c11 -O2 -shared -fPIC -o "$work/failmalloc.so" "$root/tests/fault/failmalloc.c" || exit 1
        fresh
        total=$(ZETL_FAILMALLOC_COUNT=1 LD_PRELOAD="$work/failmalloc.so" "$zetl" run f --once 2>&1 >/dev/null |
                sed -n 's/^failmalloc: \([0-9]*\) calls$/\1/p')
        points=$(
                seq 1 200
                [ "${total:-0}" -gt 200 ] && seq 201 $(((total - 200) / 60 + 1)) "$total"
        )
        bad="" tried=0 failing=0
        for k in $points; do
                attempt "allocation $k of $total" "ZETL_FAILMALLOC=$k" "LD_PRELOAD=$work/failmalloc.so"
                tried=$((tried + 1))
                [ -n "$verdict" ] && { bad=$verdict; break; }
                [ "$outcome" = failed ] && failing=$((failing + 1))
        done
        if [ -z "$bad" ] && [ "${total:-0}" -gt 0 ]; then
                ok "allocation failures at $tried of the $total allocations of a run ($failing ended the run): never a crash, the next run converged"
        else
                not_ok "allocation failures: ${bad:-no allocation count}"
        fi
fi

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
