#!/usr/bin/env bash
# Builds zetl's libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, ASan and
# UBSan, runs each for FUZZ_SECONDS (default 60) from a copy of its seed corpus,
# and prints one line per target:
#
#   fuzz <target>: <N> executions in <S> s, no finding
#   fuzz <target>: FINDING after <N> executions: <reproducer> (<summary>)
#
# Exits 1 on any finding (or a target that would not run), 0 otherwise.
#
#   scripts/fuzz.sh                         (make fuzz runs this)
#   FUZZ_SECONDS=600 FUZZ_TARGETS="fuzz_uri fuzz_filter" scripts/fuzz.sh
#
# The corpus grows in BUILD/corpus/<target> (a fresh copy of
# tests/fuzz/corpus/<target> each run), so the repository's seeds stay as
# they are; reproducers go to BUILD/artifacts/<target>/ and each run's output
# to BUILD/logs/<target>.log. BUILD is FUZZ_BUILD, default build/fuzz;
# FUZZ_MAKE_ARGS adds arguments to the make that builds the targets. Replay a
# reproducer with: BUILD/fuzzers/<target> <file>. Reproducers of past
# findings, kept in tests/fuzz/crashes/<target>/ (see the README there), are
# replayed first: one that fails again is a finding without fuzzing further.
set -euo pipefail

cd "$(dirname "$0")/.."

readonly seconds=${FUZZ_SECONDS:-60}
readonly build=${FUZZ_BUILD:-build/fuzz}
readonly timeout_s=${FUZZ_TIMEOUT:-25}  # one input slower than this is a finding
readonly rss_mb=${FUZZ_RSS_MB:-2048}    # and so is one that needs more memory

targets=${FUZZ_TARGETS:-}
if [[ -z $targets ]]; then
        for f in tests/fuzz/fuzz_*.c; do
                targets+=" $(basename "$f" .c)"
        done
fi

bins=()
for t in $targets; do
        bins+=("$build/fuzzers/$t")
done

# UBSan findings must stop the run, like ASan's (the library objects are
# built with -fno-sanitize-recover=undefined too; this covers older objects).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# shellcheck disable=SC2086
make VARIANT=fuzz CC=clang CFLAGS=-fno-sanitize-recover=undefined BUILD="$build" \
        ${FUZZ_MAKE_ARGS:-} "${bins[@]}"

mkdir -p "$build/logs"
failed=0
for t in $targets; do
        corpus=$build/corpus/$t
        artifacts=$build/artifacts/$t
        log=$build/logs/$t.log

        rm -rf "$corpus" "$artifacts"
        mkdir -p "$corpus" "$artifacts"
        if [[ -d tests/fuzz/corpus/$t ]]; then
                cp -R tests/fuzz/corpus/"$t"/. "$corpus"/
        fi
        replays=()
        for f in tests/fuzz/crashes/"$t"/*; do
                [[ -f $f && $(basename "$f") != README ]] && replays+=("$f")
        done
        if ((${#replays[@]} > 0)) &&
                ! "$build/fuzzers/$t" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" \
                        "${replays[@]}" >"$log" 2>&1; then
                echo "fuzz $t: FINDING: a reproducer in tests/fuzz/crashes/$t fails again; log $log"
                failed=1
                continue
        fi
        set +e
        "$build/fuzzers/$t" -max_total_time="$seconds" -timeout="$timeout_s" \
                -rss_limit_mb="$rss_mb" -print_final_stats=1 -artifact_prefix="$artifacts/" \
                "$corpus" >>"$log" 2>&1
        rc=$?
        set -e
        # "Done 123 runs in 60 second(s)" ends a run without a finding; the
        # final stats count the executions either way.
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second(s)$/\1/p' "$log" | tail -n 1)
        found=$(find "$artifacts" -type f | head -n 1)
        if [[ $rc -eq 0 && -z $found ]]; then
                echo "fuzz $t: ${runs:-?} executions in ${secs:-$seconds} s, no finding"
                continue
        fi
        failed=1
        summary=$(grep -m 1 '^SUMMARY' "$log" || true)
        if [[ -n $found ]]; then
                echo "fuzz $t: FINDING after ${runs:-?} executions: $found (${summary:-exit $rc}); log $log"
        else
                echo "fuzz $t: did not run cleanly (exit $rc); log $log"
        fi
done
exit "$failed"
