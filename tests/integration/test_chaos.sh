#!/usr/bin/env bash
# The short chaos run of `make check` (the full one is `make chaos`,
# tests/chaos/chaos.sh and README.md there): 5 SIGKILLs per pair, source
# server restarts and sink faults under a small mixed workload, then every
# table of the target compared with its source by count and sha256 of the
# normalized rows. Four of the eight pairs, fixed so a failure repeats: each
# source and each sink once, and the hardest of each sink's cases
# (pg->iceberg: TOAST via REPLICA IDENTITY FULL and a full file system;
# pg->warehouse: the warehouse server stopped; my->jsonl: failed writes and
# fsyncs; my->opensearch: 503/429 from the stand-in). CHAOS_PAIRS,
# CHAOS_KILLS and CHAOS_SEED in the environment override.
set -uo pipefail

[ -n "${ZETL_TEST_PG_URI:-}" ] && [ -n "${ZETL_TEST_MY_URI:-}" ] ||
        { echo "skip: no test PostgreSQL and MariaDB (run through scripts/run-tests.sh)"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/chaos"
rm -rf "$work" && mkdir -p "$work"
export CHAOS_WORKDIR="$work"
export CHAOS_PAIRS="${CHAOS_PAIRS:-pg-iceberg pg-warehouse my-jsonl my-opensearch}"
export CHAOS_KILLS="${CHAOS_KILLS:-5}"
export CHAOS_ROWS="${CHAOS_ROWS:-2000}"
export CHAOS_DDL_EVERY="${CHAOS_DDL_EVERY:-300}"
# With 5 kills: a source restart and a sink fault or two in every pair.
export CHAOS_RESTART_EVERY="${CHAOS_RESTART_EVERY:-3}"
export CHAOS_FAULT_EVERY="${CHAOS_FAULT_EVERY:-2}"
exec bash "$root/tests/chaos/chaos.sh"
