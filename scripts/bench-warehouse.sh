#!/usr/bin/env bash
# The warehouse sink against PostgreSQL's own logical replication, in the
# same run on a throwaway server (tests/harness/servers.sh). Not a test: it
# prints times, rates, their ratio and zetl's peak memory.
#
# A 1M-row table on a source server is synced into two databases of a
# second server (the warehouse is another server, as in real use; both
# servers on this machine): one by zetl (postgresql:// target), one by a
# native subscription (CREATE PUBLICATION / CREATE SUBSCRIPTION with a slot
# made first, create_slot = false). Then UPDATEs of every row, one
# transaction each, timed from the UPDATE's commit until the side's slot
# confirms the commit LSN (each confirms only what its target has
# committed). Each side is timed alone while the other is stopped, both
# connected before the UPDATE, the tables vacuumed first:
#   native, default settings; native with streaming = on (the large
#   transaction is sent while it runs, spilled by the apply worker and
#   applied at commit); zetl (pgoutput protocol 2, the default with this
#   target: the transaction is applied while it runs and committed with the
#   source; BENCH_PROTO=1 for protocol 1).
# Target: zetl's rate >= 2x the best native rate.
#
# BENCH_ROWS changes the row count (default 1000000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rows=${BENCH_ROWS:-1000000}
proto=${BENCH_PROTO:-2}
zetl=${ZETL_BIN:-$PWD/zetl}
[ -x "$zetl" ] || make -j2 zetl >/dev/null
dir=$(mktemp -d "${TMPDIR:-/tmp}/zetl-bench-wh.XXXXXX")
chmod 711 "$dir"
runner=
cleanup() {
        [ -n "$runner" ] && kill "$runner" 2>/dev/null
        bash tests/harness/servers.sh stop "$dir/servers" >/dev/null 2>&1 || true
        bash tests/harness/servers.sh stop "$dir/targets" >/dev/null 2>&1 || true
        rm -rf "$dir"
}
trap cleanup EXIT
ZETL_TEST_TLS=0 bash tests/harness/servers.sh start "$dir/targets" pg >/dev/null
set -a
. "$dir/targets/env"
set +a
tbase=${ZETL_TEST_PG_URI%/*}
tadmin=${ZETL_TEST_PG_ADMIN_URI%/*}
ZETL_TEST_TLS=0 bash tests/harness/servers.sh start "$dir/servers" pg >/dev/null
set -a
. "$dir/servers/env"
set +a
export ZETL_STATE_DIR=$dir/state
base=${ZETL_TEST_PG_URI%/*}
admin_base=${ZETL_TEST_PG_ADMIN_URI%/*}
native=$tadmin/wh_native
src=$base/wh_src
q() { psql "$1" -X -Atq -v ON_ERROR_STOP=1 -c "$2"; }

# seconds and peak KiB of a command: "secs kib"
measure() {
        /usr/bin/time -f '%e %M' -o "$dir/time" "$@" >/dev/null 2>"$dir/cmd.err" || {
                cat "$dir/cmd.err" >&2
                return 1
        }
        cat "$dir/time"
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
rate() { awk -v r="$rows" -v t="$1" 'BEGIN { printf "%.0f", (t > 0 ? r / t : 0) }'; }
slot_done() { # slot_done SLOT LSN
        [ "$(q "$admin_base/wh_src" "SELECT confirmed_flush_lsn >= '$2' FROM pg_replication_slots WHERE slot_name = '$1'")" = t ]
}
# wait_slot SLOT LSN: poll, with a deadline (a stuck side is an error, not a hang).
wait_slot() {
        local deadline=$((SECONDS + 900))
        until slot_done "$1" "$2"; do
                [ $SECONDS -lt $deadline ] || { echo "slot $1 never reached $2" >&2; exit 1; }
                sleep 0.02
        done
}
# update_and_wait SLOT TARGET TABLE: one UPDATE of every row; prints the
# seconds from its commit until SLOT confirms it. The source table and the
# side's target table are vacuumed first, so that every side starts from the
# same state: no dead rows of earlier rounds, no autovacuum running meanwhile.
update_and_wait() {
        local t0 end
        q "$admin_base/wh_src" "VACUUM ANALYZE bench"
        q "$2" "VACUUM ANALYZE $3"
        q "$admin_base/wh_src" "CHECKPOINT"
        q "$2" "CHECKPOINT"
        q "$src" "UPDATE bench SET a = a + 1, b = b || '!'"
        t0=$(now)
        echo "$t0" >"$dir/commit_at"
        end=$(q "$src" "SELECT pg_current_wal_insert_lsn()")
        wait_slot "$1" "$end"
        since "$t0"
}

q "$admin_base/postgres" "CREATE DATABASE wh_src OWNER zetl"
for db in wh_zetl wh_native; do
        q "$tadmin/postgres" "CREATE DATABASE $db OWNER zetl"
done
table="CREATE TABLE bench (id bigint PRIMARY KEY, a int, b text, c numeric(12,2), d timestamptz)"
q "$src" "$table"
q "$src" "INSERT INTO bench SELECT g, g % 1000, 'row ' || g, g * 0.01, now() FROM generate_series(1, $rows) g"
q "$src" "VACUUM ANALYZE bench"
echo "warehouse bench: $rows rows, PostgreSQL $(q "$src" 'SHOW server_version'), $(nproc) cores"

# ---- initial syncs -----------------------------------------------------------------
"$zetl" create-integration --integration-name wh --source "$src" --target "$tbase/wh_zetl" \
        --data-filter "include: wh_src.public.bench" --option pgoutput-protocol="$proto" >/dev/null 2>&1
read -r t_sync m_sync < <(measure "$zetl" run wh --once)
echo "initial sync   zetl ${t_sync}s ($(rate "$t_sync") rows/s), peak $((m_sync / 1024)) MiB"

q "$admin_base/wh_src" "CREATE PUBLICATION wh_pub FOR TABLE bench"
q "$admin_base/wh_src" "SELECT pg_create_logical_replication_slot('wh_native_slot', 'pgoutput')" >/dev/null
q "$native" "$table"
t0=$(now)
q "$native" "CREATE SUBSCRIPTION wh_sub CONNECTION 'host=127.0.0.1 port=$ZETL_TEST_PG_PORT user=postgres dbname=wh_src' PUBLICATION wh_pub WITH (create_slot = false, slot_name = 'wh_native_slot')"
deadline=$((SECONDS + 900))
until [ "$(q "$native" "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" = 0 ]; do
        [ $SECONDS -lt $deadline ] || { echo "the subscription never finished its initial sync" >&2; exit 1; }
        sleep 0.05
done
t_nsync=$(since "$t0")
echo "initial sync   native ${t_nsync}s ($(rate "$t_nsync") rows/s, table sync worker)"

# ---- UPDATEs of every row ------------------------------------------------------------
t_native=$(update_and_wait wh_native_slot "$native" bench)
q "$native" "ALTER SUBSCRIPTION wh_sub SET (streaming = on)"
t_native_s=$(update_and_wait wh_native_slot "$native" bench)
q "$native" "ALTER SUBSCRIPTION wh_sub DISABLE"

end=$(q "$src" "SELECT pg_current_wal_insert_lsn()")
/usr/bin/time -f '%M' -o "$dir/zetl.mem" "$zetl" run wh --log-level debug >"$dir/zetl.log" 2>&1 &
runner=$!
wait_slot zetl_wh "$end" # zetl catches up with the native side's UPDATEs first
before=$(wc -l <"$dir/zetl.log")
t_zetl=$(update_and_wait zetl_wh "$tadmin/wh_zetl" wh_src_public.bench)
# The sink's own work: the staging and MERGE times it logs per batch (most
# of it while the UPDATE ran); and when the source's commit reached zetl
# (the walsender's share of the time after the commit).
t_sink=$(tail -n +"$((before + 1))" "$dir/zetl.log" |
        awk '/rows staged in/ { for (i = 1; i <= NF; i++) if ($i == "ms,") s += $(i - 1); else if ($i == "ms") s += $(i - 1) } END { printf "%.2f", s / 1000 }')
how=$(tail -n +"$((before + 1))" "$dir/zetl.log" | grep -Eo 'applied while it ran|applied at its commit instead \([^)]*\)|applied streamed transaction' | head -1)
stamp=$(tail -n +"$((before + 1))" "$dir/zetl.log" | grep -E 'applied while it ran|applied streamed transaction' | head -1 | cut -d' ' -f1)
t_arrive=$(awk -v a="$(cat "$dir/commit_at")" -v b="$(date -d "$stamp" +%s.%N 2>/dev/null || echo 0)" 'BEGIN { printf "%.2f", (b > a ? b - a : 0) }')
# GNU time does not pass signals on: stop zetl itself, its child.
kill -TERM "$(pgrep -P "$runner")"
wait "$runner"
runner=
m_zetl=$(cat "$dir/zetl.mem")

q "$native" "ALTER SUBSCRIPTION wh_sub ENABLE"
end=$(q "$src" "SELECT pg_current_wal_insert_lsn()")
wait_slot wh_native_slot "$end"
# Both targets must equal the source.
sums="SELECT sum(a) || ',' || count(*) || ',' || sum(length(b)) FROM"
want=$(q "$src" "$sums bench")
got_z=$(q "$tbase/wh_zetl" "$sums wh_src_public.bench")
got_n=$(q "$native" "$sums bench")
[ "$got_z" = "$want" ] || { echo "zetl's target differs: $got_z, want $want" >&2; exit 1; }
[ "$got_n" = "$want" ] || { echo "the native target differs: $got_n, want $want" >&2; exit 1; }

r_native=$(rate "$t_native")
r_native_s=$(rate "$t_native_s")
r_zetl=$(rate "$t_zetl")
best=$((r_native > r_native_s ? r_native : r_native_s))
echo "UPDATE of $rows rows, from its commit until applied and confirmed:"
echo "  native logical replication        ${t_native}s (${r_native} rows/s)"
echo "  native, streaming = on            ${t_native_s}s (${r_native_s} rows/s)"
echo "  zetl (pgoutput protocol $proto)          ${t_zetl}s (${r_zetl} rows/s), peak $((m_zetl / 1024)) MiB"
echo "    the transaction was ${how:-applied}; its commit reached zetl ${t_arrive}s after the commit"
echo "    the sink's COPY + MERGE took ${t_sink}s in all ($(rate "$t_sink") rows/s), mostly while the UPDATE ran"
echo "ratio zetl / best native $(awk -v a="$r_zetl" -v b="$best" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') (target >= 2.00)"
q "$native" "DROP SUBSCRIPTION wh_sub" 2>/dev/null
"$zetl" delete-integration --integration-identifier wh >/dev/null 2>&1
