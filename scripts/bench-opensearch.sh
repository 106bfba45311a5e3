#!/usr/bin/env bash
# make bench (OpenSearch): documents per second from PostgreSQL into the
# OpenSearch stand-in (tests/standin/opensearch.mjs) over loopback, and the
# stand-in's own cost measured alone in the same run. Not a test: it prints
# times, rates, ratios and zetl's peak memory.
#
#   initial sync: BENCH_ROWS rows (default 1000000) copied by zetl into the
#     stand-in, documents/s, zetl's peak memory;
#   streaming: the same number of rows inserted in one transaction, then
#     applied by zetl run --once;
#   the stand-in alone: the bulk bodies zetl sent (recorded by a second
#     stand-in during a capture run of the same data, not the measured one)
#     replayed by a small node client over one keep-alive connection, one
#     request at a time as zetl sends them. The stand-in is written in
#     JavaScript and parses every document, so it may well be the slower side:
#     "zetl / stand-in alone" near 1 means zetl waits for the stand-in.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rows=${BENCH_ROWS:-1000000}
zetl=${ZETL_BIN:-$PWD/zetl}
[ -x "$zetl" ] || make -j2 zetl >/dev/null
command -v node >/dev/null || { echo "bench-opensearch: node is needed for the stand-in" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/zetl-bench-os.XXXXXX")
chmod 711 "$dir"
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
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
db=${uri##*/}
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
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }'; }
# standin NAME [ARGS]: start one, its base URL in $url
standin() {
        local name=$1
        shift
        node tests/standin/opensearch.mjs --quiet "$@" >"$dir/$name.port" 2>"$dir/$name.err" &
        pids+=($!)
        for _ in $(seq 1 200); do
                [ -s "$dir/$name.port" ] && break
                sleep 0.05
        done
        url="http://127.0.0.1:$(head -1 "$dir/$name.port")"
}

echo "zetl bench (OpenSearch): $rows rows, PostgreSQL $(psql "$uri" -XAtc 'SHOW server_version'), node $(node --version), $(nproc) cores"
sql -c "CREATE TABLE bench_os (id bigint PRIMARY KEY, a int, b text, c numeric(12,2), d timestamptz)" \
        -c "INSERT INTO bench_os SELECT g, g % 1000, 'row ' || g, g * 0.01, now() FROM generate_series(1, $rows) g" \
        -c "VACUUM ANALYZE bench_os"

# ---- the measured runs -------------------------------------------------------------
standin main
main=$url
"$zetl" create-integration --integration-name bench-os --source "$uri" --target "opensearch://${main#http://}" \
        --data-filter "include: $db.public.bench_os" >/dev/null 2>&1
read -r t_snap m_snap < <(measure "$zetl" run bench-os --once)
n=$(curl -sf -XPOST "$main/$db.public.bench_os/_count" | jq .count)
[ "$n" = "$rows" ] || { echo "bench-opensearch: $n documents after the initial sync, expected $rows" >&2; exit 1; }
sql -c "INSERT INTO bench_os SELECT g, g % 1000, 'row ' || g, g * 0.01, now() FROM generate_series($rows + 1, 2 * $rows) g"
read -r t_str m_str < <(measure "$zetl" run bench-os --once)
n=$(curl -sf -XPOST "$main/$db.public.bench_os/_count" | jq .count)
[ "$n" = "$((2 * rows))" ] || { echo "bench-opensearch: $n documents after streaming, expected $((2 * rows))" >&2; exit 1; }
kill "${pids[0]}" 2>/dev/null || true # its memory back before the next stand-in

# ---- the stand-in alone --------------------------------------------------------------
# A capture run (not measured) into a recording stand-in gives the same bulk
# bodies; a fresh stand-in then takes them from a client that does nothing else.
mkdir -p "$dir/bulks"
standin capture --record "$dir/bulks"
"$zetl" create-integration --integration-name bench-os-capture --source "$uri" --target "opensearch://${url#http://}" \
        --data-filter "include: $db.public.bench_os" >/dev/null 2>&1
"$zetl" run bench-os-capture --once >/dev/null 2>&1
kill "${pids[1]}" 2>/dev/null || true
standin alone
cat >"$dir/replay.mjs" <<'JS'
// Replay recorded requests in order over one keep-alive connection.
import fs from 'node:fs';
import http from 'node:http';
const [base, dir] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const reqs = fs.readdirSync(dir).sort().map((f) => { // read before the clock starts
  const raw = fs.readFileSync(`${dir}/${f}`);
  const nl = raw.indexOf(10);
  const [method, path] = raw.subarray(0, nl).toString().split(' ');
  return { method, path, body: raw.subarray(nl + 1) };
});
const send = ({ method, path, body }) => new Promise((resolve, reject) => {
  const headers = { 'content-type': path.includes('_bulk') ? 'application/x-ndjson' : 'application/json', 'content-length': body.length };
  const req = http.request(`${base}${path}`, { method, agent, headers }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks)));
  });
  req.on('error', reject);
  req.end(body);
});
const t0 = process.hrtime.bigint();
let items = 0, bulks = 0;
for (const r of reqs) {
  const res = await send(r);
  if (r.path.startsWith('/_bulk')) { bulks++; items += JSON.parse(res).items.length; }
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`${secs.toFixed(2)} ${items} ${bulks} ${reqs.length}`);
agent.destroy();
JS
read -r t_alone items nbulk nreq < <(node "$dir/replay.mjs" "$url" "$dir/bulks")
t_zetl_total=$(awk -v a="$t_snap" -v b="$t_str" 'BEGIN { print a + b }')

echo "initial sync  $rows docs in ${t_snap}s = $(rate "$rows" "$t_snap") docs/s  zetl peak $((m_snap / 1024)) MiB"
echo "streaming     $rows docs in ${t_str}s = $(rate "$rows" "$t_str") docs/s  zetl peak $((m_str / 1024)) MiB"
echo "stand-in alone  the same $items actions in $nbulk bulk requests ($nreq requests in all): ${t_alone}s = $(rate "$items" "$t_alone") docs/s"
echo "ratio  zetl end to end / stand-in alone: $(ratio "$t_zetl_total" "$t_alone") (1.00 = zetl adds nothing on top of the stand-in's own time)"
"$zetl" delete-integration --integration-identifier bench-os >/dev/null 2>&1 || true
"$zetl" delete-integration --integration-identifier bench-os-capture >/dev/null 2>&1 || true
