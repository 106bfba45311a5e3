#!/usr/bin/env bash
# Streamed PostgreSQL transactions applied to the PostgreSQL warehouse sink
# while they still run at the source (protocol 2, "apply in progress"): a
# PostgreSQL source database replicated into a second database of the same
# server. Each big transaction streams past logical_decoding_work_mem (64 kB
# for zetl's walsender) and is applied into the target's open transaction
# block by block; its commit commits the target, its abort rolls it back.
# The cases where zetl must fall back to spilling and applying at the commit
# are driven on purpose: a rolled-back subtransaction, another transaction
# committing while a big one is open (which must not be held back), DDL
# inside the transaction; then kill -9 while a transaction is being applied,
# and the option that turns the feature off. After each case the target must
# equal the source (count and md5 of every table's rows, ordered by key,
# computed by SQL on both sides).
#
# Open transactions are driven step by step through a FIFO feeding psql;
# every wait polls with a deadline, never a fixed sleep.
set -uo pipefail

[ -n "${ZETL_TEST_PG_URI:-}" ] || { echo "skip: no test PostgreSQL (run through scripts/run-tests.sh)"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/pgstream"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
name=pgstream
srcdb=pgstream_src
dstdb=pgstream_dst
admin="${ZETL_TEST_PG_ADMIN_URI%/*}/postgres"
src="${ZETL_TEST_PG_URI%/*}/$srcdb"
dst="${ZETL_TEST_PG_URI%/*}/$dstdb"
tschema=pgstream_src_public
log="$work/run.log"
# A failed wait costs this much; sanitizer builds are slow, so it is generous.
deadline_s=${ZETL_TEST_WAIT_S:-90}
failed=0
n=0
ok() { n=$((n + 1)); echo "ok - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
not() { ! "$@"; }
ssql() { psql "$src" -X -q -v ON_ERROR_STOP=1 "$@"; }
sval() { psql "$src" -X -Atq -c "$1"; }
dval() { psql "$dst" -X -Atq -c "$1"; }
runner=
sess_pid=
sess_fd=
cleanup() {
        [ -n "$sess_fd" ] && exec {sess_fd}>&-
        [ -n "$sess_pid" ] && kill "$sess_pid" 2>/dev/null
        [ -n "$runner" ] && kill -9 "$runner" 2>/dev/null
        wait 2>/dev/null
}
trap cleanup EXIT
# A session whose psql died must fail its step, not kill the test with SIGPIPE.
trap '' PIPE

for db in $srcdb $dstdb; do
        psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db OWNER zetl" || exit 1
done
# Keys of several types (bigint, int, uuid, a composite of text, date and
# smallint); docs holds values TOASTed out of line (12.8 kB of md5 hex each,
# beyond what compression brings under the 2 kB threshold) with the default
# replica identity, so updates that leave them alone send them as unchanged.
# Each table has a sentinel row (negative or 'warm' key) that no case
# touches but warm_up.
ssql <<'SQL' || exit 1
CREATE FUNCTION blob(seed int) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT string_agg(md5(g::text || '/' || seed), '') FROM generate_series(1, 400) g $$;
CREATE TABLE items (id bigint PRIMARY KEY, k int, name text, price numeric(12,2), at timestamptz,
                    flag boolean);
INSERT INTO items VALUES (-1, 0, 'sentinel', 0, '2000-01-01 00:00:00+00', false);
CREATE TABLE docs (id int PRIMARY KEY, n int, body text);
INSERT INTO docs SELECT i, i, blob(i) FROM generate_series(1, 200) i;
INSERT INTO docs VALUES (-1, 0, blob(-1));
CREATE TABLE tags (id uuid PRIMARY KEY, label text, v int);
INSERT INTO tags SELECT md5('pre' || g)::uuid, 'pre ' || g, g FROM generate_series(1, 100) g;
INSERT INTO tags VALUES ('00000000-0000-0000-0000-000000000000', 'sentinel', 0);
CREATE TABLE pairs (region text, day date, seq smallint, qty int, PRIMARY KEY (region, day, seq));
INSERT INTO pairs SELECT 'pre', date '2020-01-01' + g, 0, g FROM generate_series(1, 100) g;
INSERT INTO pairs VALUES ('warm', '2000-01-01', 0, 0);
CREATE TABLE marks (label text PRIMARY KEY);
SQL
check "docs values are TOASTed out of line (one chunk id per row)" test \
        "$(psql "${ZETL_TEST_PG_ADMIN_URI%/*}/$srcdb" -X -Atq -c "SELECT count(DISTINCT chunk_id) >= 201 FROM pg_toast.pg_toast_$(sval "SELECT oid FROM pg_class WHERE relname = 'docs'")")" = t

# ---- comparing ------------------------------------------------------------------------
# Per table: its columns and key as the source has them now.
declare -A cols=([items]="id, k, name, price, at, flag" [docs]="id, n, md5(body)"
        [tags]="id, label, v" [pairs]="region, day, seq, qty" [marks]="label")
declare -A keys=([items]=id [docs]=id [tags]=id [pairs]="region, day, seq" [marks]=label)
tables="items docs tags pairs marks"
# fingerprint SIDE: one line per table, "table count md5", the rows as
# PostgreSQL's row text, ordered by key.
fingerprint() {
        local conn=$src schema=public t
        local -a q=(-c "SET timezone = 'UTC'" -c "SET extra_float_digits = 3")
        [ "$1" = dst ] && conn=$dst schema=$tschema
        for t in $tables; do
                q+=(-c "SELECT '$t ' || count(*) || ' ' || coalesce(md5(string_agg(ROW(${cols[$t]})::text, E'\\n' ORDER BY ${keys[$t]})), '-') FROM $schema.$t")
        done
        psql "$conn" -X -Atq -v ON_ERROR_STOP=1 "${q[@]}" 2>&1
}
# equal WHAT: every table of the target equals the source's.
equal() {
        fingerprint src >"$work/fp.src"
        fingerprint dst >"$work/fp.dst"
        if cmp -s "$work/fp.src" "$work/fp.dst"; then
                ok "$1: the target equals the source ($(tr '\n' ' ' <"$work/fp.src" | sed 's/ [0-9a-f]\{32\}//g'))"
        else
                not_ok "$1: the target equals the source"
                diff "$work/fp.src" "$work/fp.dst" | sed 's/^/# /'
        fi
}
# no_duplicates WHAT: no key twice in any target table.
no_duplicates() {
        local t dup="SELECT 0"
        for t in $tables; do
                dup="$dup + (SELECT count(*) FROM (SELECT ${keys[$t]} FROM $tschema.$t GROUP BY ${keys[$t]} HAVING count(*) > 1) d)"
        done
        check "$1: no key twice in the target" test "$(dval "$dup")" = 0
}

# ---- waiting ------------------------------------------------------------------------
# poll WHAT COMMAND...: until COMMAND succeeds or the deadline passes.
poll() {
        local what=$1 end=$((SECONDS + deadline_s))
        shift
        until "$@"; do
                if [ $SECONDS -ge $end ]; then
                        not_ok "$what (timed out after ${deadline_s}s)"
                        return 1
                fi
                sleep 0.1
        done
        ok "$what"
}
has_mark() { [ "$(dval "SELECT count(*) FROM $tschema.marks WHERE label = '$1'" 2>/dev/null)" = 1 ]; }
in_log() { grep -qF -- "$1" "$log"; }
# settle LABEL: commit a marker row at the source and wait for it in the
# target: the target applies in commit order, so everything committed
# before it is there too.
settle() {
        ssql -c "INSERT INTO marks VALUES ('$1')" || return 1
        poll "$1: the marker committed after it reached the target" has_mark "$1"
}
# warm_up LABEL: a small transaction touching every table, so that the next
# streamed transaction only meets relations this run of zetl has seen.
warm_up() {
        ssql <<SQL || return 1
BEGIN;
UPDATE items SET k = k + 1 WHERE id = -1;
UPDATE docs SET n = n + 1 WHERE id = -1;
UPDATE tags SET v = v + 1 WHERE id = '00000000-0000-0000-0000-000000000000';
UPDATE pairs SET qty = qty + 1 WHERE region = 'warm';
INSERT INTO marks VALUES ('$1');
COMMIT;
SQL
        poll "$1: every table seen by this run (warm-up transaction in the target)" has_mark "$1"
}
start() {
        PGOPTIONS="-c logical_decoding_work_mem=64kB" "$zetl" run $name --log-level debug >>"$log" 2>&1 &
        runner=$!
}
stop() {
        kill -TERM "$runner"
        wait "$runner"
        check "$1: SIGTERM exits 0" test $? -eq 0
        runner=
}

# ---- one transaction in a script ----------------------------------------------------------
# txn TAG SQL: run SQL (which must print 'xid=N' first) in one psql; sets
# xid to the transaction id and changes to the rows its INSERT, UPDATE and
# DELETE statements reported.
txn() {
        psql "$src" -X -At -v ON_ERROR_STOP=1 -f - <<<"$2" >"$work/$1.out" 2>&1
        local rc=$?
        xid=$(sed -n 's/^xid=//p' "$work/$1.out")
        changes=$(awk '/^(INSERT|UPDATE|DELETE) / { s += $NF } END { print s + 0 }' "$work/$1.out")
        [ $rc -eq 0 ] && [ -n "$xid" ] || { sed 's/^/# /' "$work/$1.out"; return 1; }
}
xid_sql="SELECT 'xid=' || txid_current() % 4294967296;"

# ---- one transaction driven step by step ----------------------------------------------------
# open_session: a psql reading from a FIFO, so a transaction stays open
# between steps. step NAME SQL: send SQL and wait until psql has run it.
open_session() {
        rm -f "$work/sess.fifo" && mkfifo "$work/sess.fifo"
        psql "$src" -X -At -v ON_ERROR_STOP=1 <"$work/sess.fifo" >>"$work/sess.out" 2>&1 &
        sess_pid=$!
        exec {sess_fd}>"$work/sess.fifo"
}
step() {
        local done_file="$work/step.$1" end=$((SECONDS + deadline_s))
        rm -f "$done_file"
        printf '%s\n' "$2" "SELECT 'done' \\g $done_file" >&"$sess_fd" || return 1
        until [ -s "$done_file" ]; do
                if [ $SECONDS -ge $end ] || ! kill -0 "$sess_pid" 2>/dev/null; then
                        sed 's/^/# /' "$work/sess.out"
                        return 1
                fi
                sleep 0.05
        done
}
close_session() {
        exec {sess_fd}>&-
        wait "$sess_pid"
        local rc=$?
        sess_fd=
        sess_pid=
        return $rc
}
# The session's transaction id, written by step.
session_xid() { step "$1" "SELECT txid_current() % 4294967296 \\g $work/xid.$1" && cat "$work/xid.$1"; }
# open_in_source XID: the transaction is still open at the source.
open_in_source() {
        [ "$(sval "SELECT count(*) FROM pg_stat_activity WHERE datname = '$srcdb' AND backend_xid::text = '$1' AND state = 'idle in transaction'")" = 1 ]
}

# target_writing: a session of zetl's has written into the target's items
# table in a transaction that is still open (RowExclusiveLock is held until
# its end): rows of a source transaction that has not committed yet.
target_writing() {
        [ "$(dval "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                    WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                      AND l.relation = '$tschema.items'::regclass AND l.mode = 'RowExclusiveLock'
                      AND l.granted AND a.xact_start IS NOT NULL AND l.pid <> pg_backend_pid()")" -ge 1 ]
}

# Lines zetl logs for a streamed transaction.
l_begin() { echo "streamed transaction $1: applying while it runs"; }
l_done() { echo "streamed transaction $1 applied while it ran ("; }
l_fallback() { echo "streamed transaction $1: applied at its commit instead ("; }
l_abort() { echo "streamed transaction $1 aborted: what was applied is rolled back"; }
l_spilled() { echo "applied streamed transaction $1 ("; }

# ---- initial sync ------------------------------------------------------------------------
# flush-rows=1000: the core hands rows to the sink in batches of 1000, so a
# 20k-row transaction reaches the target while it runs (with the default of
# 100000 nothing of it would be written before its commit and the rollbacks
# below would have nothing to take back).
"$zetl" create-integration --integration-name $name --source "$src" --target "$dst" \
        --option pgoutput-protocol=2 --option flush-interval-ms=50 --option flush-rows=1000 \
        >"$work/create.json" 2>"$work/create.err"
check "create-integration (protocol 2) into a PostgreSQL target exits 0" test $? -eq 0
start
warm_up "warm 1"
equal "initial sync"

# ---- 1. a big transaction, committed: applied while it ran ------------------------------
txn t1 "BEGIN; $xid_sql
INSERT INTO items SELECT g, g % 100, 'item ' || g, g * 0.25,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', g % 3 = 0
  FROM generate_series(1, 20000) g;
UPDATE items SET name = 'half ' || id, price = price * 2 WHERE id > 0 AND id % 2 = 0;
UPDATE items SET id = id + 1000000 WHERE id > 0 AND id % 50 = 0;
UPDATE docs SET n = n + 1;
UPDATE docs SET id = id + 1000 WHERE id > 0 AND id % 10 = 0;
INSERT INTO docs SELECT i, 0, blob(i) FROM generate_series(2001, 2100) i;
UPDATE docs SET n = -n - 1 WHERE id BETWEEN 2001 AND 2100;
INSERT INTO tags SELECT md5('tag' || g)::uuid, 'tag ' || g, g FROM generate_series(1, 2000) g;
UPDATE tags SET v = -v WHERE label LIKE 'tag %' AND v % 3 = 0;
UPDATE tags SET id = md5('moved' || v)::uuid WHERE label LIKE 'tag %' AND v % 11 = 0;
INSERT INTO pairs SELECT 'r' || (g % 7), date '2024-01-01' + g / 7, (g % 5)::smallint, g
  FROM generate_series(1, 3000) g;
UPDATE pairs SET seq = seq + 10 WHERE region LIKE 'r%' AND qty % 4 = 0;
DELETE FROM items WHERE id > 0 AND id % 7 = 0;
DELETE FROM docs WHERE id > 0 AND id % 9 = 0;
DELETE FROM tags WHERE label LIKE 'tag %' AND v % 5 = 0;
DELETE FROM pairs WHERE region LIKE 'r%' AND qty % 9 = 0;
COMMIT;"
check "1: the big transaction committed at the source" test $? -eq 0
x1=$xid
settle "after 1"
check "1: transaction $x1 was applied while it ran" in_log "$(l_done "$x1")"
check "1: ... counting its $changes changes" in_log "$(l_done "$x1")$changes changes)"
check "1: ... its begin was logged (debug)" in_log "$(l_begin "$x1")"
check "1: ... and it did not fall back" bash -c "! grep -qF -e '$(l_fallback "$x1")' -e '$(l_spilled "$x1")' '$log'"
equal "1"
check "1: unchanged TOASTed values are kept (also across key changes and for rows of the same transaction)" \
        test "$(dval "SELECT count(*) FILTER (WHERE body IS NULL) || ',' || count(*) FILTER (WHERE length(body) = 12800) FROM $tschema.docs")" = \
        "0,$(sval "SELECT count(*) FROM docs")"

# ---- 2. a big transaction that aborts: what was applied is rolled back ------------------------
open_session
x2=
step 2a "BEGIN;" && x2=$(session_xid 2b)
check "2: a transaction is open in a second session (xid $x2)" test -n "$x2"
step 2c "INSERT INTO items SELECT g, 2, 'aborted', 2, now(), true FROM generate_series(2000001, 2020000) g;
UPDATE docs SET n = n + 100;
DELETE FROM tags WHERE label LIKE 'pre %';
UPDATE pairs SET qty = 0 WHERE region = 'pre';"
check "2: its changes ran" test $? -eq 0
poll "2: zetl began applying transaction $x2 while it runs" in_log "$(l_begin "$x2")"
poll "2: ... and the target holds rows of it in an open transaction" target_writing
step 2d "ROLLBACK;"
check "2: the big transaction rolled back at the source" test $? -eq 0
close_session
settle "after 2"
check "2: what was applied of transaction $x2 was rolled back in the target" in_log "$(l_abort "$x2")"
check "2: none of its rows is in the target" test "$(dval "SELECT count(*) FROM $tschema.items WHERE id > 2000000 OR name = 'aborted'")" = 0
equal "2"

# ---- 3. a rolled-back subtransaction: applied at the commit instead ---------------------------
txn t3 "BEGIN; $xid_sql
INSERT INTO items SELECT g, 3, 'before savepoint', 3, now(), false FROM generate_series(6000001, 6010000) g;
SAVEPOINT s1;
INSERT INTO items SELECT g, 3, 'rolled back', 3, now(), false FROM generate_series(6010001, 6020000) g;
UPDATE docs SET n = 7 WHERE id > 0;
DELETE FROM tags WHERE label LIKE 'pre %' AND v % 2 = 0;
ROLLBACK TO SAVEPOINT s1;
INSERT INTO items SELECT g, 3, 'after savepoint', 3, now(), true FROM generate_series(6020001, 6025000) g;
UPDATE items SET name = 'updated after savepoint' WHERE id BETWEEN 6000001 AND 6001000;
COMMIT;"
check "3: the transaction with a rolled-back savepoint committed at the source" test $? -eq 0
x3=$xid
settle "after 3"
check "3: transaction $x3 fell back to being applied at its commit" in_log "$(l_fallback "$x3")"
check "3: ... and was applied from its spill files" in_log "$(l_spilled "$x3")"
check "3: ... and not reported as applied while it ran" bash -c "! grep -qF '$(l_done "$x3")' '$log'"
check "3: nothing of the rolled-back subtransaction is in the target" \
        test "$(dval "SELECT count(*) FROM $tschema.items WHERE name = 'rolled back'")" = 0
equal "3"

# ---- 4. another transaction commits while a big one is open ----------------------------------
open_session
x4=
step 4b "BEGIN;" && x4=$(session_xid 4c)
check "4: a transaction is open in a second session (xid $x4)" test -n "$x4"
step 4d "INSERT INTO items SELECT g, 4, 'interleaved', 4, now(), true FROM generate_series(3000001, 3020000) g;"
check "4: its big INSERT ran" test $? -eq 0
poll "4: zetl began applying transaction $x4 while it runs" in_log "$(l_begin "$x4")"
poll "4: ... and the target holds rows of it in an open transaction" target_writing
ssql -c "INSERT INTO marks VALUES ('small during 4')"
poll "4: a small transaction committed meanwhile reaches the target" has_mark "small during 4"
check "4: ... while the big one is still open at the source" open_in_source "$x4"
check "4: ... what was applied of it is rolled back in the target (no open transaction holds items)" \
        not target_writing
check "4: ... and none of the open transaction's rows is visible in the target" \
        test "$(dval "SELECT count(*) FROM $tschema.items WHERE id > 3000000 AND id <= 3025000")" = 0
step 4e "UPDATE items SET price = 0 WHERE id BETWEEN 3000001 AND 3000500;
INSERT INTO items SELECT g, 4, 'interleaved late', 4, now(), false FROM generate_series(3020001, 3025000) g;
UPDATE docs SET n = n + 4 WHERE id > 0;
COMMIT;"
check "4: the big transaction committed at the source" test $? -eq 0
close_session
settle "after 4"
check "4: transaction $x4 fell back to being applied at its commit" in_log "$(l_fallback "$x4")"
check "4: ... and was applied from its spill files" in_log "$(l_spilled "$x4")"
equal "4"

# ---- 5. DDL inside a big transaction -------------------------------------------------------
txn t5 "BEGIN; $xid_sql
INSERT INTO items SELECT g, 5, 'before ddl', 5, now(), true FROM generate_series(7000001, 7010000) g;
ALTER TABLE items ADD COLUMN extra int;
INSERT INTO items SELECT g, 5, 'after ddl', 5, now(), false, g % 13 FROM generate_series(7010001, 7020000) g;
UPDATE items SET extra = -1 WHERE id BETWEEN 7000001 AND 7000100;
COMMIT;"
check "5: the transaction with DDL committed at the source" test $? -eq 0
x5=$xid
cols[items]="id, k, name, price, at, flag, extra"
settle "after 5"
check "5: the target has the added column" \
        test "$(dval "SELECT count(*) FROM information_schema.columns WHERE table_schema = '$tschema' AND table_name = 'items' AND column_name = 'extra'")" = 1
check "5: transaction $x5 fell back to being applied at its commit" in_log "$(l_fallback "$x5")"
check "5: ... and was applied from its spill files" in_log "$(l_spilled "$x5")"
equal "5"

# ---- 6. kill -9 while a big transaction is being applied ---------------------------------------
warm_up "warm 6"
open_session
step 6a "BEGIN;" && x6=$(session_xid 6b)
check "6: a transaction is open in a second session (xid ${x6:-})" test -n "${x6:-}"
step 6c "INSERT INTO items SELECT g, 6, 'killed', 6, now(), true FROM generate_series(4000001, 4020000) g;
UPDATE docs SET n = n + 6 WHERE id > 0;"
check "6: its big INSERT ran" test $? -eq 0
poll "6: zetl began applying transaction ${x6:-} while it runs" in_log "$(l_begin "${x6:-}")"
poll "6: ... and the target holds rows of it in an open transaction" target_writing
kill -9 "$runner"
wait "$runner" 2>/dev/null
runner=
step 6d "UPDATE items SET name = 'after kill' WHERE id BETWEEN 4000001 AND 4005000;
DELETE FROM items WHERE id BETWEEN 4019001 AND 4020000;
COMMIT;"
check "6: the big transaction committed at the source after the kill" test $? -eq 0
close_session
start
settle "after 6"
equal "6"
no_duplicates "6"

# ---- 7. apply-in-progress=false: the old way ----------------------------------------------------
stop "7"
"$zetl" modify-integration --integration-identifier $name --option apply-in-progress=false \
        >"$work/modify.out" 2>&1
check "7: modify-integration --option apply-in-progress=false exits 0" test $? -eq 0
start
warm_up "warm 7"
txn t7 "BEGIN; $xid_sql
INSERT INTO items SELECT g, 7, 'spilled', 7, now(), true FROM generate_series(5000001, 5020000) g;
UPDATE items SET id = id + 100000 WHERE id BETWEEN 5000001 AND 5000100;
UPDATE docs SET n = n + 7 WHERE id > 0;
DELETE FROM items WHERE id BETWEEN 5010001 AND 5011000;
COMMIT;"
check "7: the big transaction committed at the source" test $? -eq 0
x7=$xid
settle "after 7"
check "7: transaction $x7 was applied at its commit from its spill files" in_log "$(l_spilled "$x7")"
check "7: ... and not while it ran" bash -c "! grep -qF -e '$(l_done "$x7")' -e '$(l_begin "$x7")' '$log'"
equal "7"

stop "end"
check "the spill directory is empty" \
        bash -c "[ ! -d '$ZETL_STATE_DIR/$name/spill' ] || [ -z \"\$(ls -A '$ZETL_STATE_DIR/$name/spill')\" ]"
# ---- 8. logical-decoding-work-mem: a size, or a clear error --------------------------------------
"$zetl" modify-integration --integration-identifier $name --option logical-decoding-work-mem=lots \
        >"$work/modify.out" 2>&1
"$zetl" run $name --once >"$work/bad.out" 2>&1
rc=$?
check "8: a bad logical-decoding-work-mem stops the run (exit $rc) naming the option" \
        bash -c "[ $rc -ne 0 ] && grep -q 'logical-decoding-work-mem must be a size' '$work/bad.out'"
"$zetl" modify-integration --integration-identifier $name --option logical-decoding-work-mem=1MB \
        >"$work/modify.out" 2>&1
ssql -c "INSERT INTO items SELECT g, 8, 'sized', 8, now(), true FROM generate_series(8000001, 8000100) g"
"$zetl" run $name --once >"$work/good.out" 2>&1
check "8: logical-decoding-work-mem=1MB is set on the walsender and the run catches up" test $? -eq 0
equal "8"

# ---- 9. the target refuses rows of a transaction that then aborts: the table stays active --------
"$zetl" modify-integration --integration-identifier $name --option apply-in-progress= \
        --option logical-decoding-work-mem= >"$work/modify.out" 2>&1
check "9: modify-integration back to the defaults exits 0" test $? -eq 0
psql "$dst" -X -q -v ON_ERROR_STOP=1 -c "ALTER TABLE $tschema.items ADD CONSTRAINT zetl_no_forbidden CHECK (name <> 'forbidden') NOT VALID"
check "9: a CHECK constraint in the target refuses name = 'forbidden'" test $? -eq 0
start
warm_up "warm 9"
open_session
x9=
step 9a "BEGIN;" && x9=$(session_xid 9b)
step 9c "INSERT INTO items SELECT g, 9, 'forbidden', 9, now(), true FROM generate_series(9000001, 9020000) g;"
check "9: its changes ran" test $? -eq 0
poll "9: zetl began applying transaction $x9 while it runs" in_log "$(l_begin "$x9")"
poll "9: the target refused its rows (only a warning while the transaction runs)" \
        in_log "it needs attention if its transaction commits"
step 9d "ROLLBACK;"
close_session
settle "after 9"
check "9: what was applied of transaction $x9 was rolled back" in_log "$(l_abort "$x9")"
check "9: no table needs attention for a transaction that aborted" \
        bash -c "! jq -e '.tables[] | select(.state == \"needs_attention\")' '$ZETL_STATE_DIR/$name/status.json' >/dev/null"
ssql -c "INSERT INTO items SELECT g, 9, 'allowed', 9, now(), true FROM generate_series(9100001, 9100010) g"
settle "after 9b"
check "9: the table still flows" test "$(dval "SELECT count(*) FROM $tschema.items WHERE name = 'allowed'")" = 10
equal "9"
stop "9"
psql "$dst" -X -q -v ON_ERROR_STOP=1 -c "ALTER TABLE $tschema.items DROP CONSTRAINT zetl_no_forbidden"
check "no sanitizer report in zetl's log" bash -c "! grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' -e 'ERROR: LeakSanitizer' '$log'"
if [ "$failed" -ne 0 ]; then
        echo "# zetl's log about streamed transactions:"
        grep -e 'streamed transaction' -e 'error' -e 'warn' "$log" | tail -40 | sed 's/^/# /'
fi
"$zetl" delete-integration --integration-identifier $name >/dev/null 2>"$work/delete.err"
check "delete-integration exits 0" test $? -eq 0

for db in $srcdb $dstdb; do
        psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
