#!/usr/bin/env bash
# PostgreSQL -> Iceberg against the limits of the source, measured in the
# same run on throwaway servers (tests/harness/servers.sh). Not a test: it
# prints times, ratios and peak memory.
#
#   initial sync: 1M rows into an Iceberg table (Parquet, zstd) vs one
#     COPY ... TO STDOUT (FORMAT binary) to /dev/null (target: <= 1.5x);
#   streaming: a 1M-row transaction applied to an Iceberg table vs
#     pg_recvlogical draining the same WAL from a copy of the same slot
#     (target: <= 1.2x);
#   size: the initial sync's Parquet files vs DuckDB writing the same rows
#     with zstd (COPY ... (FORMAT parquet, COMPRESSION zstd)) (target: <= 1.2x).
#
# BENCH_ROWS changes the row count (default 1000000); ZETL_BIN the binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rows=${BENCH_ROWS:-1000000}
zetl=${ZETL_BIN:-$PWD/zetl}
[ -x "$zetl" ] || make -j2 zetl >/dev/null
[ -d tests/interop/node_modules/@duckdb/node-api ] || { echo "bench-iceberg: DuckDB (npm) is missing: scripts/deps.sh" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/zetl-bench-ice.XXXXXX")
chmod 711 "$dir"
cleanup() {
        bash tests/harness/servers.sh stop "$dir/servers" >/dev/null 2>&1 || true
        rm -rf "$dir"
}
trap cleanup EXIT
ZETL_TEST_TLS=0 bash tests/harness/servers.sh start "$dir/servers" pg >/dev/null
set -a
. "$dir/servers/env"
set +a
export ZETL_STATE_DIR=$dir/state
uri=$ZETL_TEST_PG_URI
lake=$dir/lake
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

echo "zetl bench (Iceberg): $rows rows, PostgreSQL $(psql "$uri" -XAtc 'SHOW server_version'), $(nproc) cores"

# ---- initial sync ----------------------------------------------------------------
sql -c "CREATE TABLE bench_sync (id bigint PRIMARY KEY, a int, b text, c numeric(12,2), d timestamptz)" \
        -c "INSERT INTO bench_sync SELECT g, g % 1000, 'row ' || g, g * 0.01, now() FROM generate_series(1, $rows) g" \
        -c "VACUUM ANALYZE bench_sync"
read -r t_copy _ < <(measure psql "$uri" -XAtc "COPY bench_sync TO STDOUT (FORMAT binary)")
"$zetl" create-integration --integration-name bench-ice-sync --source "$uri" --target "iceberg:$lake" \
        --data-filter "include: zetl_test.public.bench_sync" >/dev/null 2>&1
read -r t_snap m_snap < <(measure "$zetl" run bench-ice-sync --once)
echo "snapshot   COPY binary ${t_copy}s  zetl -> iceberg ${t_snap}s  ratio $(ratio "$t_snap" "$t_copy") (target <= 1.50)  zetl peak $((m_snap / 1024)) MiB"

# ---- Parquet size vs DuckDB --------------------------------------------------------
files=$(ls "$lake"/zetl_test/public/bench_sync/data/*.parquet)
zsize=$(cat $files | wc -c)
list=$(printf "'%s'," $files)
node --input-type=module -e "
import { DuckDBInstance } from '$PWD/tests/interop/node_modules/@duckdb/node-api/lib/index.js';
const c = await (await DuckDBInstance.create(':memory:')).connect();
await c.run(\"COPY (SELECT * FROM read_parquet([${list%,}])) TO '$dir/duckdb.parquet' (FORMAT parquet, COMPRESSION zstd)\");
" 2>"$dir/node.err" || { cat "$dir/node.err" >&2; exit 1; }
dsize=$(wc -c <"$dir/duckdb.parquet")
echo "size       zetl $((zsize / 1024)) KiB in $(echo "$files" | wc -l) file(s)  DuckDB zstd $((dsize / 1024)) KiB  ratio $(ratio "$zsize" "$dsize") (target <= 1.20)"
"$zetl" delete-integration --integration-identifier bench-ice-sync >/dev/null 2>&1

# ---- streaming ---------------------------------------------------------------------
# zetl's slot is placed before the transaction, then copied (never consumed)
# for pg_recvlogical, so both decode the same WAL.
name=bench-ice-stream
slot=zetl_bench_ice_stream
sql -c "CREATE TABLE bench_stream (id bigint PRIMARY KEY, a int, b text, c numeric(12,2), d timestamptz)"
"$zetl" create-integration --integration-name "$name" --source "$uri" --target "iceberg:$lake" \
        --data-filter "include: zetl_test.public.bench_stream" >/dev/null 2>&1
"$zetl" run "$name" --once >/dev/null 2>&1 # the (empty) initial sync places the slot
sql -c "INSERT INTO bench_stream SELECT g, g % 1000, 'row ' || g, g * 0.01, now() FROM generate_series(1, $rows) g"
end=$(psql "$uri" -XAtc "SELECT pg_current_wal_insert_lsn()")
sql -c "SELECT pg_copy_logical_replication_slot('$slot', 'bench_ice_recv')" >/dev/null
read -r t_recv _ < <(measure pg_recvlogical -d "$uri" --slot bench_ice_recv --start --endpos "$end" \
        -o proto_version=1 -o publication_names="$slot" -o binary=true -f /dev/null --no-loop)
read -r t_zetl m_zetl < <(measure "$zetl" run "$name" --once)
got=$(ls "$lake"/zetl_test/public/bench_stream/data/ | grep -c 'parquet$' || true)
echo "streaming  pg_recvlogical ${t_recv}s  zetl -> iceberg ${t_zetl}s  ratio $(ratio "$t_zetl" "$t_recv") (target <= 1.20)  zetl peak $((m_zetl / 1024)) MiB  ($got file(s))"
sql -c "SELECT pg_drop_replication_slot('bench_ice_recv')" >/dev/null
"$zetl" delete-integration --integration-identifier "$name" >/dev/null 2>&1
