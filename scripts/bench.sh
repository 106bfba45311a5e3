#!/usr/bin/env bash
# make bench: zetl against the limits of its sources, measured in the same run
# on throwaway servers (tests/harness/servers.sh). Not a test: it prints
# times, ratios and peak memory.
#
#   PostgreSQL streaming: a 1M-row transaction decoded by zetl into null:
#     vs pg_recvlogical draining the same WAL from a copy of the same slot,
#     with pgoutput protocol 1 (zetl's default; target: zetl <= 1.1x) and 2
#     (large transactions streamed while running; zetl spills and applies at
#     commit).
#   MariaDB streaming: 1M binlog rows (one transaction) decoded by zetl into
#     null: vs mariadb-binlog --read-from-remote-server --raw fetching the
#     same binlog range (target: zetl <= 2x).
#   PostgreSQL initial sync: 1M rows into null: (default 2 workers, the table
#     split into page ranges) vs one COPY ... TO STDOUT
#     (FORMAT binary) to /dev/null (target: <= 1.3x).
#
# BENCH_ROWS changes the row count (default 1000000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rows=${BENCH_ROWS:-1000000}
zetl=$PWD/zetl
[ -x "$zetl" ] || make -j2 zetl >/dev/null
dir=$(mktemp -d "${TMPDIR:-/tmp}/zetl-bench.XXXXXX")
chmod 711 "$dir"
cleanup() {
        bash tests/harness/servers.sh stop "$dir/servers" >/dev/null 2>&1 || true
        rm -rf "$dir"
}
trap cleanup EXIT
ZETL_TEST_TLS=0 bash tests/harness/servers.sh start "$dir/servers" all >/dev/null
set -a
. "$dir/servers/env"
set +a
export ZETL_STATE_DIR=$dir/state
uri=$ZETL_TEST_PG_URI
sql() { psql "$uri" -X -q -v ON_ERROR_STOP=1 "$@"; }

# seconds and peak KiB of a command: "secs kib"
measure() {
        /usr/bin/time -f '%e %M' -o "$dir/time" "$@" >/dev/null 2>"$dir/cmd.err" || {
                cat "$dir/cmd.err" >&2
                return 1
        }
        cat "$dir/time"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo "zetl bench: $rows rows, PostgreSQL $(psql "$uri" -XAtc 'SHOW server_version'), $(nproc) cores"

# ---- streaming ---------------------------------------------------------------
# For each pgoutput protocol: zetl's slot is placed before the transaction,
# then copied (never consumed) for pg_recvlogical, so both decode the same WAL.
stream_bench() {
        local proto=$1 name=bench-p$1 slot=zetl_bench_p$1 end extra=""
        [ "$proto" = 2 ] && extra="-o streaming=on"
        sql -c "DROP TABLE IF EXISTS bench_stream" -c "CREATE TABLE bench_stream (id bigint PRIMARY KEY, a int, b text, c numeric(12,2), d timestamptz)"
        "$zetl" create-integration --integration-name "$name" --source "$uri" --target null: \
                --data-filter "include: zetl_test.public.bench_stream" \
                --option pgoutput-protocol="$proto" >/dev/null 2>&1
        "$zetl" run "$name" --once >/dev/null 2>&1 # the (empty) initial sync places the slot
        sql -c "INSERT INTO bench_stream SELECT g, g % 1000, 'row ' || g, g * 0.01, now() FROM generate_series(1, $rows) g"
        end=$(psql "$uri" -XAtc "SELECT pg_current_wal_insert_lsn()")
        sql -c "SELECT pg_copy_logical_replication_slot('$slot', 'bench_recv')" >/dev/null
        # shellcheck disable=SC2086
        read -r t_recv m_recv < <(measure pg_recvlogical -d "$uri" --slot bench_recv --start \
                --endpos "$end" -o proto_version="$proto" $extra -o publication_names="$slot" \
                -o binary=true -f /dev/null --no-loop)
        read -r t_zetl m_zetl < <(measure "$zetl" run "$name" --once)
        echo "streaming (protocol $proto)  pg_recvlogical ${t_recv}s  zetl ${t_zetl}s  ratio $(ratio "$t_zetl" "$t_recv")$([ "$proto" = 1 ] && echo " (target <= 1.10, the default protocol)")  zetl peak $((m_zetl / 1024)) MiB"
        sql -c "SELECT pg_drop_replication_slot('bench_recv')" >/dev/null
        "$zetl" delete-integration --integration-identifier "$name" >/dev/null 2>&1
}
stream_bench 1
stream_bench 2

# ---- initial sync -------------------------------------------------------------
sql -c "CREATE TABLE bench_sync AS SELECT * FROM bench_stream" -c "ALTER TABLE bench_sync ADD PRIMARY KEY (id)" -c "VACUUM ANALYZE bench_sync"
read -r t_copy m_copy < <(measure psql "$uri" -XAtc "COPY bench_sync TO STDOUT (FORMAT binary)")
"$zetl" create-integration --integration-name bench-sync --source "$uri" --target null: \
        --data-filter "include: zetl_test.public.bench_sync" >/dev/null 2>&1
read -r t_snap m_snap < <(measure "$zetl" run bench-sync --once)
echo "snapshot   COPY binary ${t_copy}s  zetl ${t_snap}s  ratio $(ratio "$t_snap" "$t_copy") (target <= 1.30)  zetl peak $((m_snap / 1024)) MiB"
"$zetl" delete-integration --integration-identifier bench-sync >/dev/null 2>&1

# ---- MariaDB streaming ----------------------------------------------------------
my() { mariadb --defaults-file="$ZETL_TEST_MY_CNF" -N -B "$@"; }
my -e "CREATE DATABASE IF NOT EXISTS bench; CREATE TABLE bench.rows_b (id BIGINT PRIMARY KEY, a INT, b VARCHAR(40), c DECIMAL(12,2), d DATETIME(6))"
"$zetl" create-integration --integration-name bench-my --source "${ZETL_TEST_MY_URI%/*}/bench" --target null: \
        --data-filter "include: bench.*" >/dev/null 2>&1
"$zetl" run bench-my --once >/dev/null 2>&1 # the (empty) snapshot: streaming starts here
read -r file start < <(my -e "SHOW MASTER STATUS" | awk '{ print $1, $2 }')
my bench -e "INSERT INTO rows_b SELECT seq, seq % 1000, CONCAT('row ', seq), seq * 0.01, NOW(6) FROM seq_1_to_$rows"
mkdir -p "$dir/raw"
read -r t_raw m_raw < <(measure mariadb-binlog --read-from-remote-server --raw --host=127.0.0.1 \
        --port="$ZETL_TEST_MY_PORT" --user=zetl --password=zetl-test-pw --start-position="$start" \
        --result-file="$dir/raw/" "$file")
read -r t_my m_my < <(measure "$zetl" run bench-my --once)
# zetl's fixed cost (start, catalog, two connections, the dump's set-up,
# checkpoint fsyncs), measured by a run with nothing to do.
read -r t_idle _ < <(measure "$zetl" run bench-my --once)
raw_mb=$(du -sm "$dir/raw" | cut -f1)
echo "mariadb    mariadb-binlog --raw ${t_raw}s (${raw_mb} MB)  zetl ${t_my}s  ratio $(ratio "$t_my" "$t_raw") (target <= 2.00)  zetl peak $((m_my / 1024)) MiB"
echo "           zetl with nothing to do ${t_idle}s; decoding alone $(awk -v a="$t_my" -v b="$t_idle" 'BEGIN { printf "%.2f", a - b }')s = $(awk -v a="$t_my" -v b="$t_idle" -v r="$rows" 'BEGIN { d = a - b; printf "%.1f", (d > 0 ? r / d / 1e6 : 0) }')M rows/s"
"$zetl" delete-integration --integration-identifier bench-my >/dev/null 2>&1
