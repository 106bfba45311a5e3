#!/usr/bin/env bash
# Parquet writer bench (not a test): zetl's writer against DuckDB's on the same
# rows. tests/interop/pq_write_fixture.c writes BENCH_ROWS rows (default 1M) of
# a narrow table (int64 key, text, numeric(12,2), timestamptz) with ZSTD level
# 3; DuckDB then copies exactly those rows to its own Parquet file
# (COPY ... (FORMAT parquet, COMPRESSION zstd)). Prints both sizes and the
# ratio (target: zetl <= 1.2x DuckDB), zetl's write time and rate (target:
# > 2M rows/s), DuckDB's copy time, and the fixture's peak memory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rows=${BENCH_ROWS:-1000000}
if ! command -v node >/dev/null 2>&1 || [[ ! -d tests/interop/node_modules/@duckdb/node-api ]]; then
        echo "bench-parquet: needs node and tests/interop/node_modules (scripts/deps.sh)" >&2
        exit 1
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/zetl-bench-parquet.XXXXXX")
trap 'rm -rf "$dir"' EXIT

# The writer and the core files it needs, built here so that the bench does
# not depend on the rest of the tree building.
# shellcheck disable=SC2046
gcc -std=c11 -D_GNU_SOURCE -DZETL_VERSION='"bench"' -O2 -Iinclude -Isrc \
        $(pkg-config --cflags jansson libzstd) -o "$dir/fixture" tests/interop/pq_write_fixture.c \
        connectors/iceberg/parquet.c connectors/iceberg/pq_enc.c connectors/iceberg/thrift.c \
        src/err.c src/types.c src/batch.c src/schema.c src/value.c \
        $(pkg-config --libs jansson libzstd) -lpthread -lm

/usr/bin/time -f '%M' -o "$dir/peak" "$dir/fixture" "$dir/zetl.parquet" "$rows" >"$dir/fixture.out"
read -r _ _ _ zbytes _ zsecs _ zrate <"$dir/fixture.out"
peak=$(cat "$dir/peak")

cat >"$dir/duck.mjs" <<'JS'
import { DuckDBInstance } from '@duckdb/node-api';
const [src, dst] = process.argv.slice(2);
const con = await (await DuckDBInstance.create(':memory:')).connect();
await con.run(`CREATE TABLE t AS SELECT * FROM read_parquet('${src}')`);
const t0 = process.hrtime.bigint();
await con.run(`COPY t TO '${dst}' (FORMAT parquet, COMPRESSION zstd)`);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const n = (await con.runAndReadAll(`SELECT count(*) AS n FROM read_parquet('${dst}')`)).getRowObjectsJson()[0].n;
console.log(`${secs.toFixed(3)} ${n}`);
JS
cp "$dir/duck.mjs" tests/interop/.bench-parquet-$$.mjs
trap 'rm -rf "$dir" tests/interop/.bench-parquet-$$.mjs' EXIT
read -r dsecs drows < <(node tests/interop/.bench-parquet-$$.mjs "$dir/zetl.parquet" "$dir/duck.parquet")
dbytes=$(stat -c %s "$dir/duck.parquet")
[[ $drows == "$rows" ]] || { echo "bench-parquet: DuckDB read $drows rows, expected $rows" >&2; exit 1; }

echo "parquet    $rows rows (int64, text, numeric(12,2), timestamptz), zstd level 3"
echo "           size: zetl $zbytes bytes, DuckDB $dbytes bytes, ratio $(awk -v a="$zbytes" -v b="$dbytes" 'BEGIN { printf "%.3f", a / b }') (target <= 1.20)"
echo "           zetl write ${zsecs}s = $(awk -v r="$zrate" 'BEGIN { printf "%.2f", r / 1e6 }')M rows/s (target > 2M rows/s); DuckDB COPY ${dsecs}s (multi-threaded); zetl fixture peak $((peak / 1024)) MiB"
