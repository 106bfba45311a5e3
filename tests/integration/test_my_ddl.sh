#!/usr/bin/env bash
# MariaDB DDL that a TABLE_MAP cannot tell, end to end into a jsonl target,
# one `zetl run --once` (a new process) per step so nothing depends on timing:
#   - column identities continue across runs: a column dropped and another
#     added in one run, a column renamed in the next, arrives as one rename;
#   - CREATE TABLE of an empty table reaches the target at once;
#   - DROP TABLE empties the target table (and a table re-created under the
#     name starts afresh);
#   - RENAME TABLE and ALTER TABLE ... RENAME TO put both names into
#     needs_attention, with the statement;
#   - an ALTER clause that changes rows without row events (TRUNCATE
#     PARTITION) puts the table into needs_attention;
#   - binlog_row_metadata=NO_LOG: names, signedness, ENUM labels and the key
#     come from information_schema; when the table changed since (more
#     columns now than in the event), the table needs attention instead of a
#     guess.
set -uo pipefail

[ -n "${ZETL_TEST_MY_URI:-}" ] || { echo "skip: no test MariaDB (run through scripts/run-tests.sh)"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/myddl"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
db=myddl_t
uri="${ZETL_TEST_MY_URI%/*}/$db"
out="$work/out.jsonl"
failed=0
n=0
check() {
        local what=$1
        shift
        n=$((n + 1))
        if "$@"; then echo "ok - $what"; else failed=$((failed + 1)); echo "not ok - $what"; fi
}
sql() { mariadb --defaults-file="$ZETL_TEST_MY_CNF" --default-character-set=utf8mb4 -N -B "$@"; }
cleanup() { sql -e "SET GLOBAL binlog_row_metadata = 'FULL'" 2>/dev/null; }
trap cleanup EXIT
once() {
        "$zetl" run myddl --once >>"$work/run.log" 2>&1
        check "run --once ($1) exits 0" test $? -eq 0
}
# The jsonl lines written since mark $1 (a line count).
since() { tail -n +"$(($1 + 1))" "$out"; }
lines() { wc -l <"$out"; }
status_is() { status "$1" | grep -q -- "$2"; }
status() {
        "$zetl" describe-integrations --integration-identifier myddl 2>/dev/null |
                jq -r --arg t "$db.$1" '.Integrations[0].Tables[] | select(.Table == $t) | "\(.Status) \(.LastError // "")"'
}

sql -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db" || exit 1
sql "$db" <<'SQL' || exit 1
CREATE TABLE a (id INT PRIMARY KEY, x INT, y TEXT, z INT);
INSERT INTO a VALUES (1, 10, 'one', 100);
CREATE TABLE gone (id INT PRIMARY KEY);
INSERT INTO gone VALUES (1), (2);
CREATE TABLE ren (id INT PRIMARY KEY);
CREATE TABLE ren_alter (id INT PRIMARY KEY);
CREATE TABLE part (id INT PRIMARY KEY, v INT) PARTITION BY HASH (id) PARTITIONS 2;
INSERT INTO part VALUES (1, 1), (2, 2);
CREATE TABLE meta (id INT PRIMARY KEY, u INT UNSIGNED, big BIGINT UNSIGNED,
                   e ENUM('red', 'grün', 'blue'), s SET('a', 'b', 'c'), name VARCHAR(20))
  DEFAULT CHARSET = utf8mb4;
CREATE TABLE later (id INT PRIMARY KEY, v INT);
SQL

"$zetl" create-integration --integration-name myddl --source "$uri" --target "jsonl:$out" \
        --data-filter "include: $db.*" >"$work/create.log" 2>&1
check "create-integration exits 0" test $? -eq 0
once "initial sync"

# Run 1: drop z, add w. Run 2 (a new process): rename y.
sql "$db" -e "ALTER TABLE a DROP COLUMN z; ALTER TABLE a ADD COLUMN w INT; INSERT INTO a VALUES (2, 20, 'two', 2)"
once "drop and add a column"
mark=$(lines)
sql "$db" -e "ALTER TABLE a RENAME COLUMN y TO y2; UPDATE a SET y2 = 'uno' WHERE id = 1"
once "rename a column in a new run"
check "a rename in a new run arrives as one rename, not a drop and an add" \
        test "$(since "$mark" | jq -c 'select(.type == "schema" and .table[2] == "a") | [.changes[] | [.kind, .old_column, .column]]')" = '[["rename","y","y2"]]'
check "... and the row carries the renamed column" \
        test "$(since "$mark" | jq -c 'select(.type == "change" and .table[2] == "a") | .row')" = '{"id":1,"x":10,"y2":"uno","w":null}'

# CREATE TABLE without rows, DROP TABLE, re-create.
mark=$(lines)
sql "$db" -e "CREATE TABLE fresh (id INT PRIMARY KEY, v VARCHAR(10)); DROP TABLE gone"
once "create and drop tables"
check "CREATE TABLE of an empty table reaches the target" \
        test "$(since "$mark" | jq -r 'select(.type == "schema" and .table[2] == "fresh") | [.columns[].name] | join(",")')" = "id,v"
check "DROP TABLE empties the target table" \
        test "$(since "$mark" | jq -r 'select(.type == "truncate") | .table[2]')" = gone
mark=$(lines)
sql "$db" -e "CREATE TABLE gone (id INT PRIMARY KEY, label TEXT); INSERT INTO gone VALUES (7, 'seven')"
once "re-create a dropped table"
check "a table re-created under a dropped name streams its new shape" \
        test "$(since "$mark" | jq -c 'select(.type == "change" and .table[2] == "gone") | .row')" = '{"id":7,"label":"seven"}'

# Renames of tables, and an ALTER clause that changes rows without row events.
sql "$db" -e "RENAME TABLE ren TO ren2; ALTER TABLE ren_alter RENAME TO ren_alter2;
              ALTER TABLE part TRUNCATE PARTITION p0; INSERT INTO ren2 VALUES (1)"
once "rename tables"
check "RENAME TABLE: the old name needs attention, with the statement" \
        status_is ren "^needs_attention .*renamed to $db.ren2.*RENAME TABLE ren TO ren2"
check "RENAME TABLE: the new name needs attention" status_is ren2 '^needs_attention .*renamed from'
check "... and its rows are not applied" \
        test "$(jq -c 'select(.type == "change" and .table[2] == "ren2")' "$out" | wc -l)" -eq 0
check "ALTER TABLE ... RENAME TO: the old name needs attention" status_is ren_alter '^needs_attention'
check "ALTER TABLE ... RENAME TO: the new name needs attention" status_is ren_alter2 '^needs_attention'
check "TRUNCATE PARTITION: the table needs attention, naming the clause it did not understand" \
        status_is part '^needs_attention .*does not understand.*TRUNCATE PARTITION'
check "tables that were not touched stay active" status_is a '^active'

# binlog_row_metadata=NO_LOG: the catalog names the columns.
mark=$(lines)
sql -e "SET GLOBAL binlog_row_metadata = 'NO_LOG'" || echo "could not set binlog_row_metadata"
sql "$db" -e "INSERT INTO meta VALUES (1, 4294967295, 18446744073709551615, 'grün', 'a,c', 'ünï');
              INSERT INTO later VALUES (1, 1)"
# The table changes after its row was logged without names: the catalog no
# longer matches the event.
sql "$db" -e "ALTER TABLE later ADD COLUMN extra INT"
sql -e "SET GLOBAL binlog_row_metadata = 'FULL'"
once "rows logged without column names"
check "NO_LOG: names, unsigned values, ENUM and SET labels come from information_schema" \
        test "$(since "$mark" | jq -c 'select(.type == "change" and .table[2] == "meta") | .row')" = \
        '{"id":1,"u":4294967295,"big":"18446744073709551615","e":"grün","s":"a,c","name":"ünï"}'
check "NO_LOG and a table changed since: needs attention, no guess" \
        status_is later '^needs_attention .*binlog_row_metadata'
check "... and none of its rows were applied from the mismatched event" \
        test "$(since "$mark" | jq -c 'select(.type == "change" and .table[2] == "later")' | wc -l)" -eq 0
check "no error ended a run" bash -c "! grep -q 'level=error\|ERROR' '$work/run.log'"

"$zetl" delete-integration --integration-identifier myddl >/dev/null 2>&1
sql -e "DROP DATABASE IF EXISTS $db"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
