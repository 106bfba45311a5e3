#!/usr/bin/env bash
# Runs zetl's tests and ends with one summary line, "N passed, M failed,
# K skipped"; exits 1 if anything failed.
#
#   scripts/run-tests.sh [--unit-only] BUILD_DIR      (e.g. build/release)
#
# Unit tests are the executables BUILD_DIR/tests/test_*. Integration and
# interop tests are the executables tests/integration/test_* (scripts),
# BUILD_DIR/itests/test_* (built from tests/integration/test_*.c) and
# tests/interop/test_*; they share one pair of servers started here by
# tests/harness/servers.sh (so they must use distinct names for tables, slots
# and publications) and see its variables (ZETL_TEST_*, see DIR/env) plus a
# scratch directory ZETL_TEST_WORKDIR. Every test gets ZETL_BIN and
# ZETL_SRC_ROOT (absolute paths). A test exits 0 to pass, 77 to skip (its last
# line of output says why), anything else to fail. Every test runs from the repository root under a timeout, its
# output kept in BUILD_DIR/test-logs/<name>.log.
set -euo pipefail

readonly TEST_TIMEOUT=${ZETL_TEST_TIMEOUT:-600}
readonly HARNESS_TIMEOUT=300

usage() {
        echo "usage: scripts/run-tests.sh [--unit-only] BUILD_DIR" >&2
        exit 2
}

unit_only=0
while (($# > 0)); do
        case $1 in
        --unit-only)
                unit_only=1
                shift
                ;;
        -h | --help) usage ;;
        -*) usage ;;
        *) break ;;
        esac
done
(($# == 1)) || usage
[[ -d $1 ]] || {
        echo "run-tests: no such build directory: $1" >&2
        exit 2
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$1" && pwd)
logs=$build/test-logs
rm -rf "$logs"
mkdir -p "$logs"
cd "$root"
export ZETL_BIN=$build/zetl ZETL_SRC_ROOT=$root

passed=0
failed=0
skipped=0
child=
srv_tmp=
srv_dir=

now_us() {
        echo "${EPOCHREALTIME/./}"
}

since() {
        local us=$(($(now_us) - $1))
        printf '%d.%ds' $((us / 1000000)) $((us / 100000 % 10))
}

last_line() {
        grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 1 || true
}

# Runs a command in the background and waits for it, so that a Ctrl-C or
# TERM reaches our trap at once instead of after the test ends.
run_logged() {
        local log=$1 rc=0
        shift
        timeout --kill-after=10 "$@" </dev/null >"$log" 2>&1 &
        child=$!
        wait "$child" || rc=$?
        child=
        return "$rc"
}

report_fail() {
        local name=$1 log=$2 why=$3
        failed=$((failed + 1))
        echo "FAIL $name ($why)"
        echo "---- last 60 lines of $log ----"
        tail -n 60 "$log" || true
        echo "----"
}

report_skip() {
        skipped=$((skipped + 1))
        echo "SKIP $1: $2"
}

run_test() {
        local name=$1 exe=$2 log=$logs/$1.log t0 rc=0
        mkdir -p "$(dirname "$log")"
        t0=$(now_us)
        run_logged "$log" "$TEST_TIMEOUT" "$exe" || rc=$?
        case $rc in
        0)
                passed=$((passed + 1))
                echo "PASS $name ($(since "$t0"))"
                ;;
        77) report_skip "$name" "$(last_line "$log")" ;;
        124 | 137) report_fail "$name" "$log" "timed out after ${TEST_TIMEOUT}s" ;;
        *) report_fail "$name" "$log" "exit $rc, $(since "$t0")" ;;
        esac
}

# Copies the servers' own logs next to the tests' before the directory goes.
cleanup() {
        local rc=$?
        set +e
        if [[ -n $child ]]; then
                kill -TERM "$child" 2>/dev/null
                wait "$child" 2>/dev/null
        fi
        if [[ -n $srv_dir ]]; then
                if "$root/tests/harness/servers.sh" stop "$srv_dir" >>"$logs/harness.log" 2>&1; then
                        mkdir -p "$logs/servers"
                        cp "$srv_dir/pg/log" "$logs/servers/postgresql.log" 2>/dev/null
                        cp "$srv_dir/my/error.log" "$logs/servers/mariadb.log" 2>/dev/null
                        rm -rf "$srv_tmp"
                else
                        echo "run-tests: stopping the test servers failed; left $srv_tmp" \
                                "(see $logs/harness.log)" >&2
                fi
        elif [[ -n $srv_tmp ]]; then
                rm -rf "$srv_tmp"
        fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ unit tests

shopt -s nullglob
for exe in "$build"/tests/test_*; do
        [[ -f $exe && -x $exe ]] || continue
        run_test "unit/${exe##*/}" "$exe"
done

# ------------------------------------------------- integration and interop

if ((unit_only)); then
        printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
        ((failed == 0))
        exit
fi

tests=()
# Integration tests written in C are built into BUILD_DIR/itests/ by the Makefile.
for exe in "$build"/itests/test_*; do
        [[ -f $exe && -x $exe ]] && tests+=("$exe")
done
for dir in tests/integration tests/interop; do
        for exe in "$dir"/test_*; do
                [[ -f $exe ]] || continue
                if [[ -x $exe ]]; then
                        tests+=("$exe")
                elif [[ $exe == *.sh ]]; then
                        # A script that silently never runs is worse than a failure.
                        mkdir -p "$logs/${dir#tests/}"
                        : >"$logs/${exe#tests/}.log"
                        report_fail "${exe#tests/}" "$logs/${exe#tests/}.log" "not executable: chmod +x"
                fi
        done
done

if ((${#tests[@]} > 0)); then
        srv_tmp=$(mktemp -d "${TMPDIR:-/tmp}/zetl-test.XXXXXX")
        # The servers' postgres user must traverse it; mktemp made it 0700.
        chmod 711 "$srv_tmp"
        harness_log=$logs/harness.log
        t0=$(now_us)
        rc=0
        run_logged "$harness_log" "$HARNESS_TIMEOUT" \
                "$root/tests/harness/servers.sh" start "$srv_tmp/servers" all || rc=$?
        skip_reason=
        case $rc in
        0)
                srv_dir=$srv_tmp/servers
                echo "servers: started in $(since "$t0") (log: $harness_log)"
                set -a
                # shellcheck source=/dev/null
                . "$srv_dir/env"
                set +a
                ;;
        77)
                skip_reason=$(last_line "$harness_log")
                ;;
        *)
                # Whatever it half-started, stop tries to end.
                srv_dir=$srv_tmp/servers
                report_fail "harness/servers.sh start" "$harness_log" "exit $rc"
                skip_reason="the test servers did not start"
                ;;
        esac
        for exe in "${tests[@]}"; do
                name=${exe#tests/}
                [[ $exe == "$build"/itests/* ]] && name=integration/${exe##*/}
                if [[ -n $skip_reason ]]; then
                        report_skip "$name" "$skip_reason"
                        continue
                fi
                export ZETL_TEST_WORKDIR=$srv_tmp/work/$name
                mkdir -p "$ZETL_TEST_WORKDIR"
                run_test "$name" "$exe"
        done
fi

printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
((failed == 0))
