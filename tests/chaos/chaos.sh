#!/usr/bin/env bash
# The chaos driver (`make chaos`; a short run in tests/integration/test_chaos.sh).
#
# For each source/sink pair, one at a time: a mixed workload (inserts,
# updates, key changes, deletes, large TOASTed values, ADD COLUMN every few
# thousand changes; on PostgreSQL also big transactions, some rolled back,
# some with a savepoint rolled back or an ADD COLUMN inside, which the
# walsender streams while they run: zetl gets logical_decoding_work_mem=64kB
# and pgoutput protocol 2, so the warehouse applies them as they arrive and
# the other sinks spill them) runs on the source while zetl is started and
# killed with SIGKILL again and again at random moments (during the initial
# sync, right after a sink commit, anywhere), the source server is
# restarted, and the sink is made to fail (the warehouse server stopped, the
# OpenSearch stand-in answering 503/429, the Iceberg file system filled,
# jsonl writes and fsyncs failing). Then the writer stops, `zetl run --once`
# catches up and every table of the target is compared with the source: each
# row normalized to one line of text (tests/chaos/README.md says how), the
# sorted lines counted and hashed with sha256 on both sides.
#
#   tests/chaos/chaos.sh
#
# Environment (all optional):
#   CHAOS_PAIRS   pairs to run, e.g. "pg-iceberg my-jsonl" (also pg->iceberg,
#                 pg:iceberg); default every pair of pg, my x jsonl, iceberg,
#                 warehouse, opensearch
#   CHAOS_KILLS   SIGKILLs per pair (default 50)
#   CHAOS_SEED    seed of every random choice the driver makes (printed)
#   CHAOS_ROWS    rows of the big table before the initial sync (20000)
#   CHAOS_DDL_EVERY  changes between two ADD COLUMNs (2000)
#   CHAOS_RESTART_EVERY, CHAOS_FAULT_EVERY  mean kills between two source
#                 restarts (5) and between two sink faults (4)
#   CHAOS_WORKDIR  where everything goes (default: a new mktemp -d; kept on failure)
#   CHAOS_KEEP    set: keep the work dir, databases and targets after success too
#   ZETL_BIN      the zetl binary (default ./zetl; copied, so a rebuild
#                 meanwhile cannot change it under the run)
#   ZETL_TEST_*   the harness servers to use (scripts/run-tests.sh sets
#                 them); without them the driver starts its own with
#                 tests/harness/servers.sh and stops them at the end
#
# Prints TAP-like "ok -" / "not ok -" lines, one per pair with its counts,
# and exits 1 if any target differs from its source (showing the first
# differing rows), 77 with "skip: why" when it cannot run here.
set -uo pipefail

root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
harness="$root/tests/harness/servers.sh"
KILLS=${CHAOS_KILLS:-50}
SEED=${CHAOS_SEED:-$(((RANDOM << 15 | RANDOM) % 1000000))}
ROWS=${CHAOS_ROWS:-20000}
DDL_EVERY=${CHAOS_DDL_EVERY:-2000}
RESTART_EVERY=${CHAOS_RESTART_EVERY:-5}
FAULT_EVERY=${CHAOS_FAULT_EVERY:-4}
ALL_PAIRS="pg-jsonl pg-iceberg pg-warehouse pg-opensearch my-jsonl my-iceberg my-warehouse my-opensearch"
PAIRS=${CHAOS_PAIRS:-$ALL_PAIRS}
PAIRS=${PAIRS//->/-}
PAIRS=${PAIRS//:/-}
PAIRS=${PAIRS//,/ }

skip() {
        echo "skip: $*"
        exit 77
}
say() { echo "# $*"; }

command -v node >/dev/null || skip "node is needed (normalizer, Iceberg reader, OpenSearch stand-in)"
command -v jq >/dev/null || skip "jq is needed"
command -v psql >/dev/null || skip "psql is needed"
[ -d "$root/tests/interop/node_modules/@duckdb/node-api" ] ||
        skip "the npm readers are not installed (scripts/deps.sh)"
for p in $PAIRS; do
        case $p in
        pg-jsonl | pg-iceberg | pg-warehouse | pg-opensearch | my-jsonl | my-iceberg | my-warehouse | my-opensearch) ;;
        *)
                echo "chaos: unknown pair '$p' (known: $ALL_PAIRS)" >&2
                exit 2
                ;;
        esac
done
[[ $KILLS =~ ^[0-9]+$ && $ROWS =~ ^[0-9]+$ && $DDL_EVERY =~ ^[1-9][0-9]*$ ]] ||
        { echo "chaos: CHAOS_KILLS, CHAOS_ROWS and CHAOS_DDL_EVERY must be numbers" >&2; exit 2; }

work="${CHAOS_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/zetl-chaos.XXXXXX")}"
mkdir -p "$work" || exit 1
chmod 711 "$work"
bin="$work/zetl"
cp "${ZETL_BIN:-$root/zetl}" "$bin" || { echo "chaos: no zetl binary (make zetl)"; exit 1; }
export ZETL_STATE_DIR="$work/state"
export PGTZ=UTC PGCONNECT_TIMEOUT=5

# ---- state for cleanup ------------------------------------------------------
own_srv=
wh_srv=
runner=
writer=
standin=
icefs=
cur_name=
cleanup() {
        set +e
        [ -n "$runner" ] && kill -9 "$runner" 2>/dev/null
        [ -n "$writer" ] && { touch "$work/stop.writer"; kill "$writer" 2>/dev/null; }
        [ -n "$standin" ] && kill "$standin" 2>/dev/null
        wait 2>/dev/null
        [ -n "$cur_name" ] && timeout 60 "$bin" delete-integration --integration-identifier "$cur_name" >/dev/null 2>&1
        [ -n "$icefs" ] && { rm -f "$icefs/filler"; umount "$icefs" 2>/dev/null; }
        [ -n "$wh_srv" ] && bash "$harness" stop "$wh_srv" >>"$work/harness.log" 2>&1
        [ -n "$own_srv" ] && bash "$harness" stop "$own_srv" >>"$work/harness.log" 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- servers ------------------------------------------------------------------
if [ -z "${ZETL_TEST_PG_URI:-}" ] || [ -z "${ZETL_TEST_MY_URI:-}" ]; then
        own_srv="$work/srv"
        bash "$harness" start "$own_srv" all >"$work/harness.log" 2>&1
        rc=$?
        [ $rc -eq 77 ] && { own_srv=; skip "$(tail -1 "$work/harness.log")"; }
        [ $rc -eq 0 ] || { echo "chaos: the harness servers did not start:"; tail -20 "$work/harness.log"; exit 1; }
        set -a
        # shellcheck source=/dev/null
        . "$own_srv/env"
        set +a
fi
srv_dir=$ZETL_TEST_DIR
# The warehouse gets a server of its own, so that it can be stopped while the
# source keeps running (and its restarts are not the source's).
need_wh=0
case " $PAIRS " in *-warehouse*) need_wh=1 ;; esac
if [ $need_wh = 1 ]; then
        wh_srv="$work/whsrv"
        ZETL_TEST_TLS=0 bash "$harness" start "$wh_srv" pg >>"$work/harness.log" 2>&1 ||
                { echo "chaos: the warehouse server did not start:"; tail -20 "$work/harness.log"; exit 1; }
        wh_base=$(. "$wh_srv/env" && echo "${ZETL_TEST_PG_URI%/*}")
        wh_admin=$(. "$wh_srv/env" && echo "${ZETL_TEST_PG_ADMIN_URI%/*}/postgres")
fi
pg_base="${ZETL_TEST_PG_URI%/*}"
pg_admin="${ZETL_TEST_PG_ADMIN_URI%/*}/postgres"
my_base="${ZETL_TEST_MY_URI%/*}"

# A small file system for the Iceberg targets, which a filler file can fill
# up (root only; -m 0: no blocks reserved for root, which zetl is).
case " $PAIRS " in
*-iceberg*)
        mkdir -p "$work/icefs"
        if truncate -s 2G "$work/ice.img" && mkfs.ext4 -q -m 0 "$work/ice.img" 2>/dev/null &&
                mount -o loop "$work/ice.img" "$work/icefs" 2>/dev/null; then
                icefs="$work/icefs"
        else
                say "no loop mount here: the Iceberg sink fault is ZETL_FAULT=write:N:ENOSPC instead of a full file system"
                rm -f "$work/ice.img"
        fi
        ;;
esac

# ---- random numbers (bash's RANDOM, seeded: the driver's choices repeat) -----
RANDOM=$SEED
# rnd LO HI: R = a number in [LO, HI] (not in $(...): a subshell's RANDOM
# would not advance ours).
rnd() { R=$(($1 + (RANDOM << 15 | RANDOM) % ($2 - $1 + 1))); }
msleep() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
rsleep() { rnd "$1" "$2"; msleep "$R"; } # rsleep LO_MS HI_MS

# ---- the normalizer -------------------------------------------------------------
# One line per row: sorted keys, every value as text, by column (by name):
# integers as digits, amount as a decimal with two places, at as
# microseconds since the epoch (UTC when no offset), big as md5 and length,
# everything else as it is; a column the row lacks is null.
cat >"$work/norm.mjs" <<'EOF'
import fs from 'node:fs';
import readline from 'node:readline';
import crypto from 'node:crypto';

const [mode, file, cols, extra] = process.argv.slice(2);
const want = cols.split(',');
const intCol = (c) => c === 'id' || c === 'n' || c === 'k' || /^c\d+$/.test(c);
function dec(v) {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(String(v).trim());
  if (!m) return `bad-decimal:${v}`;
  let i = m[2].replace(/^0+/, '') || '0';
  let f = (m[3] || '').replace(/0+$/, '');
  while (f.length < 2) f += '0';
  const zero = i === '0' && /^0*$/.test(f);
  return (m[1] && !zero ? '-' : '') + i + '.' + f;
}
function ts(v) {
  if (typeof v === 'number') return String(v);
  const m = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?\s*(Z|[+-]\d\d(?::?\d\d)?)?$/.exec(String(v).trim());
  if (!m) return `bad-timestamp:${v}`;
  let us = BigInt(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) * 1000n;
  us += BigInt(((m[7] || '') + '000000').slice(0, 6));
  if (m[8] && m[8] !== 'Z') {
    const o = /^([+-])(\d\d):?(\d\d)?$/.exec(m[8]);
    const mins = BigInt(+o[2] * 60 + +(o[3] || 0)) * (o[1] === '-' ? -1n : 1n);
    us -= mins * 60000000n;
  }
  return String(us);
}
function val(c, v) {
  if (v === null || v === undefined) return null;
  if (intCol(c)) return /^-?\d+$/.test(String(v)) ? String(BigInt(String(v))) : `bad-int:${v}`;
  if (c === 'amount') return dec(v);
  if (c === 'at') return ts(v);
  if (c === 'big') return `md5:${crypto.createHash('md5').update(String(v)).digest('hex')}:${String(v).length}`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}
function emit(row) {
  const keys = new Set([...want, ...Object.keys(row)]);
  const o = {};
  for (const c of [...keys].sort()) o[c] = val(c, row[c]);
  process.stdout.write(JSON.stringify(o) + '\n');
}
async function* lines(f) {
  const rl = readline.createInterface({ input: fs.createReadStream(f), crlfDelay: Infinity });
  for await (const l of rl) if (l.trim()) yield l;
}
if (mode === 'rows') {
  for await (const l of lines(file)) emit(JSON.parse(l));
} else if (mode === 'ice') {
  for (const r of JSON.parse(fs.readFileSync(file, 'utf8')).rows) emit(r);
} else if (mode === 'os') {
  const dump = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const idx of Object.values(dump.indices))
    if (idx.aliases.includes(extra)) for (const d of Object.values(idx.docs)) emit(d._source);
} else if (mode === 'jsonl') {
  // Replays zetl's change log of one table (key: id): a key change starts
  // from the old key's row, so unchanged values travel with it.
  let rows = new Map();
  for await (const l of lines(file)) {
    const x = JSON.parse(l);
    if (!x.table || x.table[2] !== extra) continue;
    if (x.type === 'truncate' || x.type === 'drop') { rows = new Map(); continue; }
    if (x.type !== 'change') continue;
    const k = String(x.row.id);
    if (x.op === 'delete') { rows.delete(k); continue; }
    let base = rows.get(k);
    if (x.old_key) {
      const ok = String(x.old_key.id);
      if (ok !== k) { base = rows.get(ok); rows.delete(ok); }
    }
    const next = { ...(base || {}) };
    const unch = new Set(x.unchanged || []);
    for (const [c, v] of Object.entries(x.row)) if (!unch.has(c)) next[c] = v;
    rows.set(k, next);
  }
  for (const r of rows.values()) emit(r);
} else {
  console.error(`norm.mjs: unknown mode ${mode}`);
  process.exit(2);
}
EOF

# ---- per source: SQL, clients, restarts -------------------------------------------
psql_q() { psql "$1" -X -q -v ON_ERROR_STOP=1 "${@:2}"; }
my() { mariadb --defaults-file="$ZETL_TEST_MY_CNF" --default-character-set=utf8mb4 "$@"; }

# The source tables: t1 with a large value (out of line in PostgreSQL:
# STORAGE EXTERNAL and random text), t2 small.
setup_source() { # SRC DB
        local src=$1 db=$2
        if [ "$src" = pg ]; then
                psql_q "$pg_admin" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
                        -c "CREATE DATABASE $db OWNER zetl" || return 1
                psql_q "$pg_base/$db" <<SQL || return 1
CREATE TABLE t1 (id bigint PRIMARY KEY, n int, label text, amount numeric(12,2), at timestamptz, big text);
ALTER TABLE t1 ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE t2 (id int PRIMARY KEY, k int, v text);
INSERT INTO t1 SELECT g, g % 1000, 'row ' || g, round((random() * 2000000 - 1000000)::numeric, 2),
       now() - random() * interval '1000 days',
       CASE WHEN g % 4 = 0 THEN (SELECT string_agg(md5(random()::text || s || g), '') FROM generate_series(1, 100) s) END
  FROM generate_series(1, $ROWS) g;
INSERT INTO t2 SELECT g, g % 10, 'v' || g FROM generate_series(1, $((ROWS / 10 + 1))) g;
SQL
        else
                my -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db" || return 1
                my "$db" <<SQL || return 1
CREATE TABLE t1 (id BIGINT PRIMARY KEY, n INT, label TEXT, amount DECIMAL(12,2), at DATETIME(6), big MEDIUMTEXT)
  DEFAULT CHARSET = utf8mb4;
CREATE TABLE t2 (id INT PRIMARY KEY, k INT, v TEXT) DEFAULT CHARSET = utf8mb4;
INSERT INTO t1 SELECT seq, seq % 1000, CONCAT('row ', seq), ROUND(RAND() * 2000000 - 1000000, 2),
       NOW(6) - INTERVAL FLOOR(RAND() * 86400000000000) MICROSECOND,
       IF(seq % 4 = 0, REPEAT(MD5(RAND()), 100), NULL)
  FROM seq_1_to_$ROWS;
INSERT INTO t2 SELECT seq, seq % 10, CONCAT('v', seq) FROM seq_1_to_$((ROWS / 10 + 1));
SQL
        fi
}

# bulk_insert FIRST COUNT LABEL: COUNT rows into t1 from id FIRST, every
# third with a TOASTed big (PostgreSQL).
bulk_insert() {
        echo "INSERT INTO t1 (id, n, label, amount, at, big)
  SELECT g, g % 1000, '$3 ' || g, round((random() * 2000000 - 1000000)::numeric, 2), clock_timestamp(),
         CASE WHEN g % 3 = 0 THEN (SELECT string_agg(md5(random()::text || s || g), '') FROM generate_series(1, 100) s) END
    FROM generate_series($1, $(($1 + $2 - 1))) g;"
}

# big_txn FILE KIND: one PostgreSQL transaction of a few hundred kB (~2000
# updated rows of t1 with a new label, 300 inserts, a third of them with a
# TOASTed big, deletes, a key change, t2 rows). zetl's walsender runs with
# logical_decoding_work_mem at its 64kB minimum, so it streams the
# transaction while it runs: into the warehouse's open transaction, spilled
# for the other sinks. KIND says how it ends: commit; rollback (what was
# applied or spilled must go, and its keys are inserted again later);
# savepoint (a released subtransaction, then one with a few hundred kB rolled
# back to its savepoint, its keys inserted again after it: early apply falls
# back to applying at commit); ddl (ADD COLUMN in the middle, numbered by
# the writer's DDL counter, so the table changes shape mid-stream). Uses and
# advances the writer's counters (its locals: bash scope is dynamic).
big_txn() {
        local f=$1 kind=$2 span a r first=$next1
        # ~2000 rows: a range of ids (few gaps below next1).
        span=$((next1 > 2001 ? next1 - 2000 : 1))
        a=$((1 + (RANDOM << 15 | RANDOM) % span))
        r=$((1 + (RANDOM << 15 | RANDOM) % (next1 - 1)))
        changes=$((changes + 1))
        {
                echo "BEGIN;"
                echo "UPDATE t1 SET n = n + 1, label = 'bulk $changes' WHERE id BETWEEN $a AND $((a + 1999));"
                # A pause with that much streamed (the WAL writer flushes within
                # 200 ms): the warehouse holds it in an open transaction while
                # zetl may be killed, and other transactions commit meanwhile.
                echo "SELECT pg_sleep(0.$((2 + RANDOM % 3)));"
                if [ "$kind" = savepoint ]; then
                        echo "SAVEPOINT kept;"
                        echo "UPDATE t2 SET k = k + 1, v = 'kept $changes' WHERE id % 10 = $((RANDOM % 10));"
                        echo "RELEASE SAVEPOINT kept;"
                        echo "SAVEPOINT doomed;"
                        bulk_insert "$first" 300 doomed
                        a=$((1 + (RANDOM << 15 | RANDOM) % span))
                        echo "UPDATE t1 SET label = 'doomed $changes', amount = amount + 1 WHERE id BETWEEN $a AND $((a + 1999));"
                        echo "DELETE FROM t1 WHERE id BETWEEN $r AND $((r + 40));"
                        echo "ROLLBACK TO SAVEPOINT doomed;"
                elif [ "$kind" = ddl ]; then
                        ddl=$((ddl + 1))
                        since_ddl=0
                        echo "ALTER TABLE t1 ADD COLUMN IF NOT EXISTS c$ddl int;"
                        echo "UPDATE t1 SET c$ddl = n + $ddl WHERE id % 7 = $((ddl % 7));"
                fi
                bulk_insert "$first" 300 bulk
                echo "DELETE FROM t1 WHERE id BETWEEN $((r + 50)) AND $((r + 90));"
                r=$((1 + (RANDOM << 15 | RANDOM) % (next1 - 1)))
                echo "UPDATE t1 SET id = id + 1000000 WHERE id = $r AND id < 1000000;"
                echo "UPDATE t2 SET k = k + 1, v = 'bulk $changes' WHERE id % 10 = $((RANDOM % 10));"
                if [ "$kind" = rollback ]; then echo "ROLLBACK;"; else echo "COMMIT;"; fi
        } >"$f"
        [ "$kind" = rollback ] || next1=$((next1 + 300))
}

# writer SRC DB WSEED: small transactions until $work/stop.writer exists; a
# batch that fails (the server restarting) is skipped. PostgreSQL: one batch
# in five is a big transaction instead (big_txn), one in three of them run
# beside the small batches that follow, so that other transactions commit
# while it streams. Ends with its counts.
writer() {
        local src=$1 db=$2 next1=$((ROWS + 1)) next2=$((ROWS / 10 + 2)) changes=0 ddl=0 since_ddl=0
        local batches=0 failed=0 i j s r v big now1 sqlf="$work/writer.sql"
        local bigf="$work/writer.big.sql" bigpid="" kind bigs=0 bigfailed=0 beside=0
        local -A kinds=([commit]=0 [rollback]=0 [savepoint]=0 [ddl]=0)
        RANDOM=$3
        if [ "$src" = pg ]; then
                big="(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 100))"
                now1="clock_timestamp()"
        else
                big="REPEAT(MD5(RAND()), 100)"
                now1="NOW(6)"
        fi
        while [ ! -e "$work/stop.writer" ]; do
                if [ "$src" = pg ] && ((RANDOM % 5 == 0)); then
                        if [ -n "$bigpid" ]; then
                                wait "$bigpid" || bigfailed=$((bigfailed + 1))
                                bigpid=
                        fi
                        # Every other ADD COLUMN, when nearly due, goes into a big
                        # transaction: as many of them as before.
                        if ((since_ddl >= DDL_EVERY * 3 / 4 && ddl % 2 == 0)); then
                                kind=ddl
                        else
                                case $((RANDOM % 3)) in
                                0) kind=commit ;;
                                1) kind=rollback ;;
                                2) kind=savepoint ;;
                                esac
                        fi
                        big_txn "$bigf" "$kind"
                        bigs=$((bigs + 1))
                        kinds[$kind]=$((kinds[$kind] + 1))
                        if ((RANDOM % 3 == 0)); then
                                psql "$pg_base/$db" -X -q -v ON_ERROR_STOP=1 -o /dev/null -f "$bigf" >/dev/null 2>>"$work/$db.writer.err" &
                                bigpid=$!
                                beside=$((beside + 1))
                                # Its keys are not for the small batches either.
                                [ "$kind" = rollback ] && next1=$((next1 + 300))
                                # The small batch commits once it streams (its
                                # first UPDATE done), not before.
                                sleep 0.1
                        else
                                psql "$pg_base/$db" -X -q -v ON_ERROR_STOP=1 -o /dev/null -f "$bigf" >/dev/null 2>>"$work/$db.writer.err" || {
                                        bigfailed=$((bigfailed + 1))
                                        sleep 0.3
                                }
                                sleep 0.02
                                continue
                        fi
                fi
                : >"$sqlf"
                for ((i = 0; i < 10; i++)); do
                        if ((since_ddl >= DDL_EVERY)); then
                                ddl=$((ddl + 1))
                                since_ddl=0
                                echo "ALTER TABLE t1 ADD COLUMN IF NOT EXISTS c$ddl int;" >>"$sqlf"
                                echo "UPDATE t1 SET c$ddl = n + $ddl WHERE id % 7 = $((ddl % 7));" >>"$sqlf"
                        fi
                        echo "BEGIN;" >>"$sqlf"
                        for ((j = 0; j < 1 + RANDOM % 4; j++)); do
                                s=$((RANDOM % 100))
                                r=$((1 + (RANDOM << 15 | RANDOM) % (next1 - 1)))
                                changes=$((changes + 1))
                                since_ddl=$((since_ddl + 1))
                                v=NULL
                                ((RANDOM % 10 < 3)) && v=$big
                                if ((s < 35)); then
                                        echo "INSERT INTO t1 (id, n, label, amount, at, big) VALUES ($next1, $((RANDOM % 1000)), 'ins $next1', $((RANDOM * 7 - 100000)).$((RANDOM % 100)), $now1, $v);" >>"$sqlf"
                                        next1=$((next1 + 1))
                                elif ((s < 58)); then
                                        if [ "$src" = pg ]; then
                                                echo "UPDATE t1 SET n = n + 1, label = 'upd $changes', amount = amount + 1.25, at = at + interval '1.000001 second' WHERE id = $r;" >>"$sqlf"
                                        else
                                                echo "UPDATE t1 SET n = n + 1, label = 'upd $changes', amount = amount + 1.25, at = at + INTERVAL 1000001 MICROSECOND WHERE id = $r;" >>"$sqlf"
                                        fi
                                elif ((s < 62)); then
                                        echo "UPDATE t1 SET n = n - 1 WHERE id BETWEEN $r AND $((r + 20));" >>"$sqlf"
                                elif ((s < 70)); then
                                        ((RANDOM % 8)) && v=$big
                                        echo "UPDATE t1 SET big = $v WHERE id = $r;" >>"$sqlf"
                                elif ((s < 77)); then
                                        echo "UPDATE t1 SET id = id + 1000000 WHERE id = $r AND id < 1000000;" >>"$sqlf"
                                elif ((s < 88)); then
                                        echo "DELETE FROM t1 WHERE id = $r;" >>"$sqlf"
                                elif ((s < 92)); then
                                        echo "INSERT INTO t2 VALUES ($next2, $((RANDOM % 10)), 'new $next2');" >>"$sqlf"
                                        next2=$((next2 + 1))
                                elif ((s < 96)); then
                                        echo "UPDATE t2 SET k = k + 1, v = 'u $changes' WHERE id = $((1 + RANDOM % (next2 - 1)));" >>"$sqlf"
                                elif ((s < 98)); then
                                        echo "UPDATE t2 SET id = id + 1000000 WHERE id = $((1 + RANDOM % (next2 - 1))) AND id < 1000000;" >>"$sqlf"
                                else
                                        echo "DELETE FROM t2 WHERE id = $((1 + RANDOM % (next2 - 1)));" >>"$sqlf"
                                fi
                        done
                        echo "COMMIT;" >>"$sqlf"
                done
                batches=$((batches + 1))
                if [ "$src" = pg ]; then
                        psql "$pg_base/$db" -X -q -o /dev/null -f "$sqlf" >/dev/null 2>>"$work/$db.writer.err"
                else
                        my --force "$db" <"$sqlf" >/dev/null 2>>"$work/$db.writer.err"
                fi || {
                        failed=$((failed + 1))
                        sleep 0.3
                }
                sleep 0.02
        done
        if [ -n "$bigpid" ]; then
                wait "$bigpid" || bigfailed=$((bigfailed + 1))
        fi
        {
                printf '%s' "$changes changes in $batches batches of 10 transactions ($failed failed while the server restarted), $ddl ADD COLUMNs"
                ((bigs)) && printf '%s' "; $bigs big transactions ($((kinds[commit])) committed, $((kinds[rollback])) rolled back," \
                        " $((kinds[savepoint])) with a savepoint rolled back, $((kinds[ddl])) with an ADD COLUMN; $beside beside small ones;" \
                        " $bigfailed failed: server restart or deadlock)"
                echo
        } >"$work/$db.writer.done"
}

restart_source() { # SRC
        local which=pg
        [ "$1" = my ] && which=mysql
        bash "$harness" restart "$srv_dir" "$which" >>"$work/harness.log" 2>&1
}

# ---- per sink -------------------------------------------------------------------------
# target_uri SRC SINK DB
target_uri() {
        case $2 in
        jsonl) echo "jsonl:$work/$3.jsonl" ;;
        iceberg) echo "iceberg:${icefs:-$work}/lake-$3" ;;
        warehouse) echo "$wh_base/wh_$3" ;;
        opensearch) echo "opensearch://127.0.0.1:$os_port" ;;
        esac
}

start_standin() {
        node "$root/tests/standin/opensearch.mjs" --quiet >"$work/standin.port" 2>"$work/standin.err" &
        standin=$!
        for _ in $(seq 1 200); do
                [ -s "$work/standin.port" ] && break
                sleep 0.05
        done
        os_port=$(head -1 "$work/standin.port")
        os="http://127.0.0.1:$os_port"
        [ -n "$os_port" ]
}

# A number that moves when the sink commits (for kills right after a commit).
progress() { # SINK DB
        case $1 in
        jsonl) tail -c 400 "$work/$2.jsonl" 2>/dev/null | grep -c '"type":"commit"' | tr -d '\n'
                stat -c %s "$work/$2.jsonl" 2>/dev/null || echo 0 ;;
        iceberg) find "${icefs:-$work}/lake-$2" -name 'v*.metadata.json' 2>/dev/null | wc -l ;;
        warehouse) psql "$wh_base/wh_$2" -X -Atq -c "SELECT position_order FROM _zetl.checkpoints" 2>/dev/null ;;
        opensearch) curl -sf "$os/_standin/stats" 2>/dev/null | jq -r '.bulk_requests' ;;
        esac
}

# fault_start SINK DB KIND: make the sink fail (the env part for jsonl and a
# loop-less Iceberg is set by the caller); fault_end undoes it.
fault_start() {
        case $1 in
        iceberg)
                [ -n "$icefs" ] || return 0
                fallocate -l "$(($(stat -f -c '%a * %S' "$icefs")))" "$icefs/filler" 2>/dev/null
                # Whatever fallocate left (its rounding), written out.
                dd if=/dev/zero of="$icefs/filler2" bs=64k 2>/dev/null
                ;;
        warehouse) bash "$harness" stop "$wh_srv" >>"$work/harness.log" 2>&1 ;;
        opensearch)
                local f
                case $((RANDOM % 5)) in
                0) f='{"bulk_503": 3}' ;;
                1) f='{"bulk_429": 4}' ;;
                2) f='{"item_429_every": 3, "item_fault_budget": 200}' ;;
                3) f='{"bulk_reset": 1, "bulk_503": 1}' ;;
                4) f="{\"path_503\": \"/zetl-checkpoints/_doc/${2//_/-}\", \"path_503_count\": 100000}" ;;
                esac
                echo "$f" >>"$work/$db.faults.log"
                curl -sf -XPOST "$os/_standin/faults" -d "$f" >/dev/null
                ;;
        esac
}
fault_end() {
        case $1 in
        iceberg) rm -f "${icefs:-/nonexistent}/filler" "${icefs:-/nonexistent}/filler2" ;;
        warehouse) bash "$harness" restart "$wh_srv" pg >>"$work/harness.log" 2>&1 ;;
        opensearch) curl -sf -XPOST "$os/_standin/reset-faults" >/dev/null ;;
        esac
}

# ---- dumps for the comparison ------------------------------------------------------
# source_rows SRC DB TABLE OUT: one JSON object of text values per row.
source_rows() {
        local src=$1 db=$2 t=$3 out=$4 cols
        if [ "$src" = pg ]; then
                psql "$pg_base/$db" -X -Atq -v ON_ERROR_STOP=1 -c \
                        "SELECT (SELECT json_object_agg(e.key, e.value) FROM json_each_text(row_to_json(x)) e) FROM $t x" >"$out"
        else
                cols=$(my -N -B -e "SET SESSION group_concat_max_len = 1000000; SELECT GROUP_CONCAT(CONCAT('''', column_name, ''', CAST(', column_name, ' AS CHAR)') ORDER BY ordinal_position)
                        FROM information_schema.columns WHERE table_schema = '$db' AND table_name = '$t'") || return 1
                my -N -B -r "$db" -e "SELECT JSON_OBJECT($cols) FROM $t" >"$out"
        fi
}
source_cols() { # SRC DB TABLE
        if [ "$1" = pg ]; then
                psql "$pg_base/$2" -X -Atq -c "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '$3'::regclass AND attnum > 0 AND NOT attisdropped"
        else
                my -N -B -e "SELECT GROUP_CONCAT(column_name ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = '$2' AND table_name = '$3'"
        fi
}
# target_norm SRC SINK DB TABLE COLS OUT: the target's rows, normalized.
target_norm() {
        local src=$1 sink=$2 db=$3 t=$4 cols=$5 out=$6 raw="$work/$3.$4.target.raw" dir schema alias
        case $sink in
        jsonl) node "$work/norm.mjs" jsonl "$work/$db.jsonl" "$cols" "$t" >"$out" ;;
        iceberg)
                if [ "$src" = pg ]; then dir="${icefs:-$work}/lake-$db/$db/public/$t"; else dir="${icefs:-$work}/lake-$db/$db/$t"; fi
                node "$root/tests/interop/ice_rows.mjs" "$dir" >"$raw" && node "$work/norm.mjs" ice "$raw" "$cols" >"$out"
                ;;
        warehouse)
                if [ "$src" = pg ]; then schema="${db}_public"; else schema=$db; fi
                psql "$wh_base/wh_$db" -X -Atq -v ON_ERROR_STOP=1 -c \
                        "SELECT (SELECT json_object_agg(e.key, e.value) FROM json_each_text(row_to_json(x)) e) FROM \"$schema\".$t x" >"$raw" &&
                        node "$work/norm.mjs" rows "$raw" "$cols" >"$out"
                ;;
        opensearch)
                if [ "$src" = pg ]; then alias="$db.public.$t"; else alias="$db.$t"; fi
                curl -sf "$os/_standin/dump" >"$raw" && node "$work/norm.mjs" os "$raw" "$cols" "$alias" >"$out"
                ;;
        esac
}

# ---- one pair ------------------------------------------------------------------------
total_fail=0
summaries=()

run_pair() {
        local src=${1%-*} sink=${1#*-} db name label t0 k
        local kills=0 restarts=0 faults=0 sync_kills=0 commit_kills=0 early_exits=0
        local next_restart next_fault pid mode p0 env_fault fault_on ok=1 rows_total=0 rc off
        label="$src->$sink"
        db="chaos_${src}_${sink}"
        name=${db//_/-}
        t0=$SECONDS
        rm -rf "$work/stop.writer" "$work/$db.writer.done" "$work/$db.writer.err" "$work/$db.faults.log" "$work/$db.state"
        local log="$work/$db.run.log"
        : >"$log"

        setup_source "$src" "$db" || { echo "not ok - $label: setting up the source failed"; return 1; }
        # The Iceberg sink cannot know an unchanged TOAST value it did not see
        # in the same commit (docs/iceberg.md): the table needs REPLICA IDENTITY FULL.
        [ "$src-$sink" = pg-iceberg ] && psql_q "$pg_base/$db" -c "ALTER TABLE t1 REPLICA IDENTITY FULL"
        case $sink in
        jsonl) rm -f "$work/$db.jsonl" ;;
        iceberg) rm -rf "${icefs:-$work}/lake-$db" ;;
        warehouse) psql_q "$wh_admin" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS wh_$db WITH (FORCE)" -c "CREATE DATABASE wh_$db OWNER zetl" >/dev/null || return 1 ;;
        opensearch) start_standin || { echo "not ok - $label: the OpenSearch stand-in did not start"; return 1; } ;;
        esac
        local suri filter opts=(--option flush-interval-ms=200 --option retry-initial-ms=100 --option retry-max-ms=2000)
        if [ "$src" = pg ]; then
                suri="$pg_base/$db"
                filter="include: $db.public.*"
        else
                suri="$my_base/$db"
                filter="include: $db.*"
        fi
        [ "$sink" = iceberg ] && opts+=(--option iceberg-snapshot-retention-ms=60000)
        # PostgreSQL: the walsender streams every transaction past 64kB (the
        # least it allows) while it runs, so the writer's big ones (and the
        # ADD COLUMN fills) come as protocol 2 blocks: applied to the
        # warehouse while they run (protocol 2 is its default), spilled and
        # applied at their commit for the other sinks.
        local zenv=()
        if [ "$src" = pg ]; then
                zenv=("PGOPTIONS=${PGOPTIONS:+$PGOPTIONS }-c logical_decoding_work_mem=64kB")
                [ "$sink" = warehouse ] || opts+=(--option pgoutput-protocol=2)
        fi
        [ "$sink" = opensearch ] && opts+=(--option bulk-actions=500)
        rm -rf "${ZETL_STATE_DIR:?}/$name"
        env "${zenv[@]}" "$bin" create-integration --integration-name "$name" --source "$suri" --target "$(target_uri "$src" "$sink" "$db")" \
                --data-filter "$filter" "${opts[@]}" >"$work/$db.create.out" 2>"$work/$db.create.err" ||
                { echo "not ok - $label: create-integration failed: $(tail -2 "$work/$db.create.err")"; return 1; }
        cur_name=$name

        writer "$src" "$db" $((SEED + ${#db} * 7919 + RANDOM)) &
        writer=$!

        rnd $((RESTART_EVERY - 1)) $((RESTART_EVERY + 1))
        next_restart=$R
        rnd $((FAULT_EVERY - 1)) $((FAULT_EVERY + 1))
        next_fault=$R
        ((next_fault == next_restart)) && next_fault=$((next_fault + 1))
        for ((k = 1; k <= KILLS; k++)); do
                env_fault=()
                fault_on=0
                if ((k == next_fault)); then
                        fault_on=1
                        rnd $((FAULT_EVERY - 1)) $((FAULT_EVERY + 1))
                        next_fault=$((next_fault + R))
                        if [ "$sink" = jsonl ]; then
                                case $((RANDOM % 3)) in
                                0) rnd 1 20 && env_fault=("ZETL_FAULT=write:$R") ;;
                                1) rnd 1 10 && env_fault=("ZETL_FAULT=fsync:$R") ;;
                                2) rnd 1 20 && env_fault=("ZETL_FAULT=write:$R:ENOSPC") ;;
                                esac
                        elif [ "$sink" = iceberg ] && [ -z "$icefs" ]; then
                                rnd 1 30
                                env_fault=("ZETL_FAULT=write:$R:ENOSPC")
                        fi
                        ((${#env_fault[@]})) && echo "kill $k: ${env_fault[*]}" >>"$work/$db.faults.log"
                fi
                p0=$(progress "$sink" "$db")
                echo "==== run $k ${env_fault[*]}" >>"$log"
                off=$(($(stat -c %s "$log") + 1))
                env "${env_fault[@]}" "${zenv[@]}" "$bin" run "$name" >>"$log" 2>&1 &
                runner=$!
                pid=$runner
                if ((fault_on)); then
                        rsleep 100 800
                        fault_start "$sink" "$db"
                        rsleep 800 2500
                        fault_end "$sink" "$db"
                        faults=$((faults + 1))
                fi
                if ((k == next_restart)); then
                        rnd $((RESTART_EVERY - 1)) $((RESTART_EVERY + 1))
                        next_restart=$((next_restart + R))
                        rsleep 200 1000
                        restart_source "$src" || { echo "not ok - $label: the source server did not restart"; ok=0; break; }
                        restarts=$((restarts + 1))
                fi
                # When to kill: early (start-up, resume, the initial sync), right
                # after the sink's next commit, or at any moment.
                if ((k <= 3)) && ! jq -e '.snapshot_done' "$ZETL_STATE_DIR/$name/checkpoint.json" >/dev/null 2>&1; then
                        mode=sync
                elif ((k == 2)); then
                        mode=early
                elif ((RANDOM % 10 < 3)); then
                        mode=commit
                else
                        mode=random
                fi
                case $mode in
                sync) # as soon as this run has begun the initial sync
                        local deadline=$((SECONDS + 5))
                        until tail -c +"$off" "$log" | grep -q 'initial sync' || ((SECONDS >= deadline)); do
                                sleep 0.01
                        done
                        rsleep 0 80
                        ;;
                early) rsleep 100 1000 ;;
                random) rsleep 100 2000 ;;
                commit)
                        local deadline=$((SECONDS + 8))
                        while [ "$(progress "$sink" "$db")" = "$p0" ] && ((SECONDS < deadline)); do
                                kill -0 "$pid" 2>/dev/null || break
                                sleep 0.01
                        done
                        [ "$(progress "$sink" "$db")" != "$p0" ] && commit_kills=$((commit_kills + 1))
                        ;;
                esac
                # Killed during the initial sync: this run began it and it is not done.
                if tail -c +"$off" "$log" | grep -q 'initial sync' &&
                        ! jq -e '.snapshot_done' "$ZETL_STATE_DIR/$name/checkpoint.json" >/dev/null 2>&1; then
                        sync_kills=$((sync_kills + 1))
                fi
                if kill -9 "$pid" 2>/dev/null; then
                        wait "$pid" 2>/dev/null
                        kills=$((kills + 1))
                else
                        wait "$pid"
                        rc=$?
                        # Retrying for ever is the contract: a run that gives up on
                        # its own under these faults needs an operator.
                        early_exits=$((early_exits + 1))
                        ok=0
                        if ((early_exits <= 3)); then
                                echo "# $label: run $k exited by itself with status $rc before its kill (log: $log)"
                                tail -3 "$log" | sed 's/^/#   /'
                        fi
                fi
                runner=
        done

        touch "$work/stop.writer"
        wait "$writer"
        writer=
        say "$label writer: $(cat "$work/$db.writer.done" 2>/dev/null)"

        # Catch up with no fault: run --once until it exits 0.
        local caught=0 a
        for a in 1 2 3 4 5 6; do
                [ "$src" = pg ] && psql "$pg_base/$db" -X -Atq -c "SELECT pg_logical_emit_message(false, 'chaos-pad', repeat('x', 20000))" >/dev/null
                echo "==== final run --once $a" >>"$log"
                timeout 600 env "${zenv[@]}" "$bin" run "$name" --once >>"$log" 2>&1
                rc=$?
                if [ $rc -eq 0 ]; then
                        caught=1
                        break
                fi
                echo "# $label: final run --once $a exited $rc"
                sleep 1
        done
        if [ $caught = 0 ]; then
                echo "# $label: zetl run --once never exited 0 (log: $log)"
                tail -5 "$log" | sed 's/^/#   /'
                ok=0
        fi
        "$bin" describe-integrations --integration-identifier "$name" >"$work/$db.describe.json" 2>/dev/null
        local status
        status=$(jq -r '.Integrations[0].Status' "$work/$db.describe.json" 2>/dev/null)
        if [ "$status" != active ]; then
                echo "# $label: the integration is $status after the chaos:"
                jq -c '.Integrations[0] | {Status, LastError, Tables: [.Tables[] | {Table, Status, LastError}]}' "$work/$db.describe.json" 2>/dev/null | sed 's/^/#   /'
                ok=0
        fi

        # Compare every table: count and sha256 of the sorted normalized rows.
        local t cols n_src n_dst h_src h_dst detail=""
        for t in t1 t2; do
                cols=$(source_cols "$src" "$db" "$t")
                source_rows "$src" "$db" "$t" "$work/$db.$t.source.raw" &&
                        node "$work/norm.mjs" rows "$work/$db.$t.source.raw" "$cols" | LC_ALL=C sort >"$work/$db.$t.source"
                target_norm "$src" "$sink" "$db" "$t" "$cols" "$work/$db.$t.target.unsorted"
                LC_ALL=C sort "$work/$db.$t.target.unsorted" >"$work/$db.$t.target"
                n_src=$(wc -l <"$work/$db.$t.source")
                n_dst=$(wc -l <"$work/$db.$t.target")
                h_src=$(sha256sum <"$work/$db.$t.source" | cut -c1-16)
                h_dst=$(sha256sum <"$work/$db.$t.target" | cut -c1-16)
                rows_total=$((rows_total + n_src))
                detail+=" $t: $n_src rows, sha256 $h_src;"
                if [ "$n_src" != "$n_dst" ] || [ "$h_src" != "$h_dst" ] || [ "$n_src" = 0 ]; then
                        ok=0
                        echo "# $label: $t differs: source $n_src rows (sha256 $h_src), target $n_dst rows (sha256 $h_dst); first differences (< source, > target):"
                        diff "$work/$db.$t.source" "$work/$db.$t.target" | grep '^[<>]' | head -8 | cut -c1-300 | sed 's/^/#   /'
                fi
        done
        if [ "$sink" = opensearch ]; then
                local reg
                reg=$(curl -sf "$os/_standin/stats" | jq -r '.regressions')
                [ "$reg" = 0 ] || { ok=0; echo "# $label: the stand-in saw $reg writes that lowered a document's version"; }
                # A change set aside that a later one superseded (the row was
                # deleted since, say) leaves the target right: the comparison
                # judges; the dead letters are shown.
                if [ -s "$ZETL_STATE_DIR/$name/dead-letter.jsonl" ]; then
                        echo "# $label: $(wc -l <"$ZETL_STATE_DIR/$name/dead-letter.jsonl") changes went to the dead-letter file:" \
                                "$(jq -r '.error.type' "$ZETL_STATE_DIR/$name/dead-letter.jsonl" | sort | uniq -c | tr -s ' \n' ' ')"
                        cp "$ZETL_STATE_DIR/$name/dead-letter.jsonl" "$work/$db.dead-letter.jsonl"
                fi
        fi

        # Streamed transactions, from zetl's log: a PostgreSQL source must
        # have streamed with protocol 2 in every run, or the big transactions
        # tested nothing of it.
        local streamed=""
        if [ "$src" = pg ]; then
                local p1 p2
                p1=$(grep -c 'streaming from .*(protocol 1' "$log")
                p2=$(grep -c 'streaming from .*(protocol 2' "$log")
                if ((p1 || !p2)); then
                        ok=0
                        echo "# $label: zetl streamed with protocol 1 in $p1 runs and 2 in $p2: not the protocol 2 this driver exercises"
                fi
                streamed=", streamed transactions: $(grep -c 'applied while it ran' "$log") applied while they ran,"
                streamed+=" $(grep -c 'applied at its commit instead' "$log") fell back to applying at commit,"
                streamed+=" $(grep -c 'aborted: what was applied is rolled back' "$log") aborted and rolled back,"
                streamed+=" $(grep -c 'applied streamed transaction' "$log") applied from the spill"
                local why
                why=$(grep -o 'applied at its commit instead (.*)' "$log" | sed 's/.*instead (\(.*\))/\1/' | sort | uniq -c |
                        sed 's/^ *\([0-9]*\) \(.*\)/\2: \1/' | paste -sd ';' - | sed 's/;/; /g')
                [ -n "$why" ] && say "$label fell back because: $why"
        fi

        local line="$label: $kills kills ($sync_kills during the initial sync, $commit_kills right after a commit), $restarts source restarts, $faults sink faults survived, $rows_total rows compared"
        line+=$streamed
        ((early_exits)) && line+=", $early_exits runs gave up by themselves"
        if ((ok)); then
                line+=", checksums equal ($((SECONDS - t0)) s)"
                echo "ok - $line"
                say "$label:$detail"
        else
                line+=", MISMATCH or failure ($((SECONDS - t0)) s; logs in $work)"
                echo "not ok - $line"
                total_fail=$((total_fail + 1))
        fi
        summaries+=("$line")

        # Leave nothing behind but the files (kept when something failed,
        # with a copy of the integration's state: delete-integration removes it).
        ((ok)) || cp -a "$ZETL_STATE_DIR/$name" "$work/$db.state" 2>/dev/null
        "$bin" delete-integration --integration-identifier "$name" >/dev/null 2>&1
        cur_name=
        [ -n "$standin" ] && { kill "$standin" 2>/dev/null; wait "$standin" 2>/dev/null; standin=; }
        if ((ok)) && [ -z "${CHAOS_KEEP:-}" ]; then
                if [ "$src" = pg ]; then
                        psql "$pg_admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
                else
                        my -e "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
                fi
                [ "$sink" = warehouse ] && psql "$wh_admin" -X -q -c "DROP DATABASE IF EXISTS wh_$db WITH (FORCE)" >/dev/null 2>&1
                [ "$sink" = iceberg ] && rm -rf "${icefs:-$work}/lake-$db"
                rm -f "$work/$db".*.raw "$work/$db.jsonl"
        fi
}

say "chaos: seed $SEED (CHAOS_SEED=$SEED repeats the driver's choices), $KILLS kills per pair, $ROWS initial rows, ADD COLUMN every $DDL_EVERY changes; pairs: $PAIRS; work dir $work"
t_all=$SECONDS
for p in $PAIRS; do
        run_pair "$p"
done
echo "# ---- summary (seed $SEED, $((SECONDS - t_all)) s)"
for s in "${summaries[@]}"; do echo "# $s"; done
if ((total_fail)); then
        echo "# $total_fail pair(s) failed; files kept in $work"
        exit 1
fi
cleanup
trap - EXIT
[ -n "${CHAOS_KEEP:-}" ] || mountpoint -q "$work/icefs" 2>/dev/null || rm -rf "$work"
exit 0
