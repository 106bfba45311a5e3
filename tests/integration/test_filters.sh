#!/usr/bin/env bash
# Row and column filters end to end (zetl-filters(5)), on PostgreSQL and on
# MariaDB, into jsonl targets: rows that move into and out of a row filter by
# updates (and by key changes), columns that never reach the target, a
# filter pushed down into the PostgreSQL publication (pg_publication_tables
# shows it), filter errors with FILE:LINE:COL that change nothing, and
# modify-integration excluding a table (dropped from the target), including
# one and changing a row filter (a new initial sync). Each target is
# replayed with jq and compared with the rows the source's own SQL WHERE
# selects, row by row.
set -uo pipefail

[ -n "${ZETL_TEST_PG_URI:-}" ] && [ -n "${ZETL_TEST_MY_URI:-}" ] ||
        { echo "skip: no test PostgreSQL and MariaDB (run through scripts/run-tests.sh)"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/filters"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
failed=0
n=0
ok() { n=$((n + 1)); echo "ok - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@" >/dev/null; then ok "$what"; else not_ok "$what"; fi; }

# The final rows of table $2 in log $1 (keys $3), as sorted JSON lines of
# the columns $4 (a jq object). A drop empties the table, like a truncate.
replay() {
        jq -c 'if .type == "drop" then .type = "truncate" else . end' "$1" |
                jq -n --arg t "$2" --argjson keys "$3" -f "$root/tests/integration/replay.jq" |
                jq -c "[.[] | $4] | sort_by(.id) | .[]"
}
# same FILE-A FILE-B WHAT: compare, show the difference when they differ.
same() {
        if cmp -s "$1" "$2" && [ -s "$1" ]; then
                ok "$3 ($(wc -l <"$1") rows)"
        else
                not_ok "$3"
                diff "$1" "$2" | head -10
        fi
}

# =============================================================== PostgreSQL
pgdb=filt_pg
admin="${ZETL_TEST_PG_ADMIN_URI%/*}/postgres"
pg="${ZETL_TEST_PG_URI%/*}/$pgdb"
psql_() { psql "$pg" -X -q -v ON_ERROR_STOP=1 "$@"; }
val() { psql "$pg" -X -Atq -v ON_ERROR_STOP=1 -c "$1"; }

psql "$admin" -X -q -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" \
        -c "CREATE DATABASE $pgdb OWNER zetl" || exit 1
psql_ <<'SQL' || exit 1
CREATE TABLE books (id int PRIMARY KEY, category text, price numeric(10,2), title text,
                    secret text);
INSERT INTO books SELECT g, CASE WHEN g % 3 = 0 THEN 'poetry' ELSE 'mysteries' END,
       (g % 40) + 0.5, 'title ' || g, 'secret ' || g FROM generate_series(1, 200) g;
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, phone text);
INSERT INTO customers SELECT g, 'name ' || g, 'c' || g || '@example.com', '+1 555 ' || g
  FROM generate_series(1, 50) g;
-- REPLICA IDENTITY FULL: PostgreSQL may filter on any column.
CREATE TABLE orders_eu (id int PRIMARY KEY, region text, amount int);
ALTER TABLE orders_eu REPLICA IDENTITY FULL;
INSERT INTO orders_eu SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g % 30
  FROM generate_series(1, 100) g;
CREATE TABLE logs (id int PRIMARY KEY, msg text);
INSERT INTO logs SELECT g, CASE WHEN g % 4 = 0 THEN 'DEBUG tick ' || g ELSE 'info ' || g END
  FROM generate_series(1, 40) g;
CREATE TABLE extra (id int PRIMARY KEY, v text);
INSERT INTO extra VALUES (1, 'one'), (2, 'two');
-- Values large enough and random enough to be TOASTed out of line.
CREATE TABLE docs (id int PRIMARY KEY, kind text, body text);
INSERT INTO docs SELECT g, 'public', 'a' || (SELECT string_agg(md5(h::text || g), '')
                                             FROM generate_series(1, 4000) h)
  FROM generate_series(1, 3) g;
SQL

cat >"$work/pg1.filter" <<EOF
# filters of the first PostgreSQL integration
include: $pgdb.public.*
exclude: $pgdb.public.extra
rows: $pgdb.public.books: category = 'mysteries'
        AND price < 20     # cheap mysteries only
columns: $pgdb.public.books: exclude secret
columns: $pgdb.public.customers: exclude email, phone   # personal data stays home
rows: $pgdb.public.orders_eu: region = 'eu' AND amount >= 10
rows: $pgdb.public.logs: msg NOT ILIKE '%debug%'
rows: $pgdb.public.docs: kind = 'public' AND body LIKE 'a%'
EOF

# ---- errors change nothing -------------------------------------------------
cat >"$work/syntax.filter" <<EOF
include: $pgdb.public.*
rows: $pgdb.public.books: price < 20 AND AND category = 'x'
EOF
"$zetl" create-integration --integration-name pgfilt --source "$pg" --target "jsonl:$work/pg.jsonl" \
        --filter-file "$work/syntax.filter" >/dev/null 2>"$work/syntax.err"
check "a filter file with a syntax error is refused with exit 2" test $? -eq 2
check "... naming file:line:column and the reason" \
        grep -q "syntax.filter:2:44: expected a column or a value, found keyword 'AND'" "$work/syntax.err"
cat >"$work/type.filter" <<EOF
include: $pgdb.public.*
columns: $pgdb.public.customers: exclude id
EOF
"$zetl" create-integration --integration-name pgfilt --source "$pg" --target "jsonl:$work/pg.jsonl" \
        --filter-file "$work/type.filter" >/dev/null 2>"$work/type.err"
check "leaving out a key column is refused when the integration is created" test $? -eq 2
check "... with file:line:column" grep -q 'type.filter:2:44: column "id" is part of the primary key' "$work/type.err"
check "... and nothing is left behind (no state, no slot, no publication)" \
        test ! -e "$ZETL_STATE_DIR/pgfilt" -a "$(val "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'zetl_pgfilt'")" = 0 \
        -a "$(val "SELECT count(*) FROM pg_publication WHERE pubname = 'zetl_pgfilt'")" = 0

# ---- create, with pushdown ---------------------------------------------------
"$zetl" create-integration --integration-name pgfilt --source "$pg" --target "jsonl:$work/pg.jsonl" \
        --filter-file "$work/pg1.filter" --option flush-interval-ms=50 >/dev/null 2>"$work/pg-create.err"
check "create-integration with row and column filters exits 0" test $? -eq 0
pubrow() { val "SELECT coalesce(array_to_string(attnames, ','), '-') || ' | ' || coalesce(rowfilter, '-') FROM pg_publication_tables WHERE pubname = 'zetl_pgfilt' AND tablename = '$1'"; }
check "the row filter over replica identity columns is in the publication (pg_publication_tables)" \
        test "$(pubrow orders_eu)" = "id,region,amount | (((region COLLATE \"C\") = 'eu'::text) AND (amount >= 10))"
check "column lists are in the publication: customers without email and phone" \
        test "$(pubrow customers)" = "id,name | -"
check "... books without secret; its row filter (not over its key) stays with zetl" \
        test "$(pubrow books)" = "id,category,price,title | -"
check "ILIKE is not pushed down (PostgreSQL folds case by its locale)" test "$(pubrow logs)" = "id,msg | -"
check "the excluded table is not published" test -z "$(pubrow extra)"
check "it warns that a row filter on a table whose large values may not be sent again needs REPLICA IDENTITY FULL" \
        grep -q 'docs has a row filter and columns PostgreSQL does not send again.*REPLICA IDENTITY FULL' "$work/pg-create.err"
check "... not for a table with REPLICA IDENTITY FULL" bash -c "! grep -q 'orders_eu has a row filter' '$work/pg-create.err'"

# ---- initial sync, then updates moving rows in and out ----------------------
"$zetl" run pgfilt --once >"$work/pg-run1.log" 2>&1
check "the initial sync exits 0" test $? -eq 0
"$zetl" run pgfilt >"$work/pg-run2.log" 2>&1 &
runner=$!
trap 'kill -9 $runner 2>/dev/null' EXIT
psql_ <<'SQL'
INSERT INTO books VALUES (1001, 'mysteries', 12, 'new in', 's'), (1002, 'poetry', 1, 'new out', 's'),
                         (1003, 'mysteries', 25, 'new out too', 's');
UPDATE books SET price = 5 WHERE id BETWEEN 20 AND 39 AND category = 'mysteries';  -- move in
UPDATE books SET category = 'poetry' WHERE id BETWEEN 1 AND 10;                     -- move out
UPDATE books SET secret = 'changed' WHERE id = 11;                                -- stays in
UPDATE books SET id = id + 5000 WHERE id IN (13, 14, 15);                         -- key changes
UPDATE books SET id = id + 6000, price = 99 WHERE id IN (16, 17);                 -- key change, out
DELETE FROM books WHERE id IN (19, 21);
UPDATE customers SET email = 'x@y', name = 'renamed' WHERE id < 10;
INSERT INTO customers VALUES (100, 'new', 'n@example.com', '1');
UPDATE orders_eu SET amount = 20 WHERE id <= 10;            -- even ids move in
UPDATE orders_eu SET region = 'us' WHERE id BETWEEN 60 AND 70;  -- move out
INSERT INTO orders_eu VALUES (1000, 'eu', 5), (1001, 'eu', 15);
DELETE FROM orders_eu WHERE id IN (80, 81);
UPDATE logs SET msg = 'debug now' WHERE id = 1;
UPDATE logs SET msg = 'info again' WHERE id = 4;
INSERT INTO logs VALUES (100, 'Debug x'), (101, 'fine');
-- body (TOASTed) is not sent again, but kind alone decides: a delete
UPDATE docs SET kind = 'private' WHERE id = 2;
SQL
sleep 2
kill -TERM "$runner"
wait "$runner"
check "streaming stopped cleanly" test $? -eq 0
"$zetl" run pgfilt --once >>"$work/pg-run2.log" 2>&1
check "an update the filter decides without its unchanged TOAST value is applied (a delete)" \
        jq -n -e '[inputs | select(.type == "change" and .table[2] == "docs" and .op == "delete" and .row.id == 2)] | length == 1' "$work/pg.jsonl"
# kind passes, body was not sent: the row cannot be judged
val "UPDATE docs SET kind = 'public' WHERE id = 1" >/dev/null
"$zetl" run pgfilt --once >>"$work/pg-run2.log" 2>&1
"$zetl" describe-integrations --integration-identifier pgfilt >"$work/pg-describe.json" 2>/dev/null
check "an update the filter cannot judge (unchanged TOAST value) puts the table into needs_attention, naming the column and the fix" \
        jq -e '.Integrations[0].Tables[] | select(.Table == "filt_pg.public.docs") | .Status == "needs_attention" and (.LastError | contains("column \"body\" arrived unchanged") and contains("REPLICA IDENTITY FULL"))' "$work/pg-describe.json"
check "... and the other tables go on" \
        jq -e '[.Integrations[0].Tables[] | select(.Table != "filt_pg.public.docs") | .Status == "active"] | all' "$work/pg-describe.json"

replay "$work/pg.jsonl" books '["id"]' '{id, category, price, title}' >"$work/books.zetl"
val "SELECT json_build_object('id', id, 'category', category, 'price', price::text, 'title', title)
       FROM books WHERE category = 'mysteries' AND price < 20 ORDER BY id" | jq -c . >"$work/books.pg"
same "$work/books.pg" "$work/books.zetl" "books: the target holds exactly the rows the WHERE selects"
check "an update out of the row filter became a delete" \
        jq -n -e '[inputs | select(.type == "change" and .table[2] == "books" and .op == "delete" and .row.id == 5)] | length == 1' "$work/pg.jsonl"
check "a key change out of the filter deletes the old key" \
        jq -n -e '[inputs | select(.type == "change" and .table[2] == "books" and .op == "delete" and .row.id == 16)] | length == 1' "$work/pg.jsonl"
check "the secret column never reached the target" bash -c "! grep -q secret '$work/pg.jsonl'"
replay "$work/pg.jsonl" customers '["id"]' '.' >"$work/customers.zetl"
val "SELECT json_build_object('id', id, 'name', name) FROM customers ORDER BY id" | jq -c . >"$work/customers.pg"
same "$work/customers.pg" "$work/customers.zetl" "customers: every row, without email and phone"
check "no email or phone anywhere in the target, schemas included" \
        bash -c "! grep -q -e email -e phone -e example.com '$work/pg.jsonl'"
replay "$work/pg.jsonl" orders_eu '["id"]' '{id, region, amount}' >"$work/orders.zetl"
val "SELECT json_build_object('id', id, 'region', region, 'amount', amount) FROM orders_eu
       WHERE region = 'eu' AND amount >= 10 ORDER BY id" | jq -c . >"$work/orders.pg"
same "$work/orders.pg" "$work/orders.zetl" "orders_eu (pushed down): the target equals the WHERE"
replay "$work/pg.jsonl" logs '["id"]' '{id, msg}' >"$work/logs.zetl"
val "SELECT json_build_object('id', id, 'msg', msg) FROM logs WHERE msg NOT ILIKE '%debug%' ORDER BY id" |
        jq -c . >"$work/logs.pg"
same "$work/logs.pg" "$work/logs.zetl" "logs (ILIKE): the target equals the WHERE"

# ---- modify-integration ----------------------------------------------------
cat >"$work/pg2.filter" <<EOF
include: $pgdb.public.*
exclude: $pgdb.public.logs
rows: $pgdb.public.books: price < 30
columns: $pgdb.public.books: exclude secret
columns: $pgdb.public.customers: exclude email, phone
rows: $pgdb.public.orders_eu: region = 'eu' AND amount >= 10
rows: $pgdb.public.docs: kind = 'public' AND body LIKE 'a%'
EOF
cat >"$work/bad2.filter" <<EOF
include: $pgdb.public.*
rows: $pgdb.public.books: prise < 30
EOF
cp "$ZETL_STATE_DIR/pgfilt/definition.json" "$work/def.before"
"$zetl" modify-integration --integration-identifier pgfilt --filter-file "$work/bad2.filter" \
        >/dev/null 2>"$work/mod-bad.err"
check "modify-integration with a filter that does not fit the table exits 2" test $? -eq 2
check "... with file:line:column" grep -q 'bad2.filter:2:29: no column "prise" in filt_pg.public.books' "$work/mod-bad.err"
check "... and changes nothing" bash -c "cmp -s '$work/def.before' '$ZETL_STATE_DIR/pgfilt/definition.json' && ! grep -q '\"drop\"' '$work/pg.jsonl' && [ -n \"$(pubrow logs)\" ]"
"$zetl" modify-integration --integration-identifier pgfilt --filter-file "$work/pg2.filter" \
        >/dev/null 2>"$work/mod.err"
check "modify-integration excluding logs, including extra, changing books' filter exits 0" test $? -eq 0
check "the excluded table is dropped from the target" \
        jq -n -e '[inputs | select(.type == "drop" and .table[2] == "logs")] | length == 1' "$work/pg.jsonl"
check "... and from the publication, which gains the included table" \
        test -z "$(pubrow logs)" -a "$(pubrow extra)" = "id,v | -"
check "the next run will copy the tables again" \
        jq -e '.snapshot_done == false' "$ZETL_STATE_DIR/pgfilt/checkpoint.json"
val "INSERT INTO books VALUES (2001, 'poetry', 29, 'in by the new filter', 's')" >/dev/null
val "INSERT INTO logs VALUES (3000, 'info after the drop')" >/dev/null
"$zetl" run pgfilt --once >"$work/pg-run3.log" 2>&1
check "the run after modify-integration exits 0" test $? -eq 0
replay "$work/pg.jsonl" books '["id"]' '{id, category, price, title}' >"$work/books2.zetl"
val "SELECT json_build_object('id', id, 'category', category, 'price', price::text, 'title', title)
       FROM books WHERE price < 30 ORDER BY id" | jq -c . >"$work/books2.pg"
same "$work/books2.pg" "$work/books2.zetl" "books after the new row filter: the target equals the new WHERE"
replay "$work/pg.jsonl" extra '["id"]' '{id, v}' >"$work/extra.zetl"
val "SELECT json_build_object('id', id, 'v', v) FROM extra ORDER BY id" | jq -c . >"$work/extra.pg"
same "$work/extra.pg" "$work/extra.zetl" "the newly included table was copied"
replay "$work/pg.jsonl" docs '["id"]' '{id, kind, body: (.body | length)}' >"$work/docs.zetl"
val "SELECT json_build_object('id', id, 'kind', kind, 'body', length(body)) FROM docs
       WHERE kind = 'public' AND body LIKE 'a%' ORDER BY id" | jq -c . >"$work/docs.pg"
same "$work/docs.pg" "$work/docs.zetl" "the new initial sync resynced the table that needed attention"
check "nothing of logs after its drop" \
        bash -c "jq -c 'select(.table[2]? == \"logs\")' '$work/pg.jsonl' | tail -n 1 | grep -q '\"drop\"'"
"$zetl" delete-integration --integration-identifier pgfilt >/dev/null 2>&1
check "delete-integration removes the slot and publication" \
        test "$(val "SELECT count(*) FROM pg_publication WHERE pubname = 'zetl_pgfilt'")" = 0

# ================================================================= MariaDB
mydb=filt_my
my="${ZETL_TEST_MY_URI%/*}/$mydb"
mysql_() { mariadb --defaults-file="$ZETL_TEST_MY_CNF" --default-character-set=utf8mb4 -N -B "$@"; }
mysql_ -e "DROP DATABASE IF EXISTS $mydb; CREATE DATABASE $mydb" || exit 1
mysql_ "$mydb" <<'SQL' || exit 1
CREATE TABLE books (id INT PRIMARY KEY, category VARCHAR(20), price DECIMAL(10,2), title TEXT,
                    secret TEXT);
INSERT INTO books SELECT seq, IF(seq % 3 = 0, 'poetry', 'mysteries'), (seq % 40) + 0.5,
       CONCAT('title ', seq), CONCAT('secret ', seq) FROM seq_1_to_200;
CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40), email VARCHAR(60));
INSERT INTO customers SELECT seq, CONCAT('name ', seq), CONCAT('c', seq, '@example.com')
  FROM seq_1_to_50;
CREATE TABLE logs (id INT PRIMARY KEY, msg TEXT);
INSERT INTO logs SELECT seq, CONCAT('info ', seq) FROM seq_1_to_20;
CREATE TABLE broken (id INT PRIMARY KEY, v INT);
INSERT INTO broken VALUES (1, 1);
SQL
cat >"$work/my1.filter" <<EOF
include: $mydb.*
rows: $mydb.books: category = 'mysteries' AND price < 20
columns: $mydb.books: exclude secret
columns: $mydb.customers: exclude email
rows: $mydb.broken: nope = 1   # MariaDB: checked when zetl run meets the table
EOF
"$zetl" create-integration --integration-name myfilt --source "$my" --target "jsonl:$work/my.jsonl" \
        --filter-file "$work/my1.filter" --option flush-interval-ms=50 >/dev/null 2>"$work/my-create.err"
check "MariaDB: create-integration with filters exits 0" test $? -eq 0
"$zetl" run myfilt --once >"$work/my-run1.log" 2>&1
check "MariaDB: the initial sync exits 0" test $? -eq 0
mysql_ "$mydb" <<'SQL'
INSERT INTO books VALUES (1001, 'mysteries', 12, 'new in', 's'), (1002, 'poetry', 1, 'new out', 's');
UPDATE books SET price = 5 WHERE id BETWEEN 20 AND 39 AND category = 'mysteries';
UPDATE books SET category = 'poetry' WHERE id BETWEEN 1 AND 10;
UPDATE books SET secret = 'changed' WHERE id = 11;
UPDATE books SET id = id + 5000 WHERE id IN (13, 14, 15);
UPDATE books SET id = id + 6000, price = 99 WHERE id IN (16, 17);
DELETE FROM books WHERE id IN (19, 21);
UPDATE customers SET email = 'x@y', name = 'renamed' WHERE id < 10;
INSERT INTO logs VALUES (100, 'late');
SQL
"$zetl" run myfilt --once >"$work/my-run2.log" 2>&1
check "MariaDB: streaming exits 0" test $? -eq 0
# zetl compares strings by their bytes; BINARY makes MariaDB do the same.
myrows() { mysql_ "$mydb" -e "$1" | jq -c .; }
replay "$work/my.jsonl" books '["id"]' '{id, category, price, title}' >"$work/mybooks.zetl"
myrows "SELECT JSON_OBJECT('id', id, 'category', category, 'price', CAST(price AS CHAR), 'title', title)
          FROM books WHERE BINARY category = 'mysteries' AND price < 20 ORDER BY id" >"$work/mybooks.my"
same "$work/mybooks.my" "$work/mybooks.zetl" "MariaDB books: the target holds exactly the rows the WHERE selects"
replay "$work/my.jsonl" customers '["id"]' '.' >"$work/mycust.zetl"
myrows "SELECT JSON_OBJECT('id', id, 'name', name) FROM customers ORDER BY id" >"$work/mycust.my"
same "$work/mycust.my" "$work/mycust.zetl" "MariaDB customers: every row, without email"
check "MariaDB: no secret or email anywhere in the target" \
        bash -c "! grep -q -e secret -e email -e example.com '$work/my.jsonl'"
"$zetl" describe-integrations --integration-identifier myfilt >"$work/my-describe.json" 2>/dev/null
check "MariaDB: a row filter that does not fit its table puts it into needs_attention, with file:line:column" \
        jq -e '.Integrations[0].Tables[] | select(.Table == "filt_my.broken") | .Status == "needs_attention" and (.LastError | contains("my1.filter:5:23: no column \"nope\""))' "$work/my-describe.json"
check "... and nothing of it reaches the target" bash -c "! grep -q '\"broken\"' '$work/my.jsonl'"

cat >"$work/my2.filter" <<EOF
include: $mydb.*
exclude: $mydb.logs
exclude: $mydb.broken
rows: $mydb.books: price >= 30 OR category = 'poetry'
columns: $mydb.books: exclude secret
columns: $mydb.customers: exclude email
EOF
"$zetl" modify-integration --integration-identifier myfilt --filter-file "$work/my2.filter" \
        >/dev/null 2>"$work/my-mod.err"
check "MariaDB: modify-integration exits 0" test $? -eq 0
check "MariaDB: the excluded table is dropped from the target" \
        jq -n -e '[inputs | select(.type == "drop" and .table[2] == "logs")] | length == 1' "$work/my.jsonl"
mysql_ "$mydb" -e "UPDATE books SET price = 35 WHERE id = 2; INSERT INTO books VALUES (3001, 'poetry', 1, 'p', 's')"
"$zetl" run myfilt --once >"$work/my-run3.log" 2>&1
check "MariaDB: the run after modify-integration exits 0" test $? -eq 0
replay "$work/my.jsonl" books '["id"]' '{id, category, price, title}' >"$work/mybooks2.zetl"
myrows "SELECT JSON_OBJECT('id', id, 'category', category, 'price', CAST(price AS CHAR), 'title', title)
          FROM books WHERE price >= 30 OR BINARY category = 'poetry' ORDER BY id" >"$work/mybooks2.my"
same "$work/mybooks2.my" "$work/mybooks2.zetl" "MariaDB books after the new row filter: the target equals the new WHERE"
"$zetl" delete-integration --integration-identifier myfilt >/dev/null 2>&1

echo "1..$n"
[ "$failed" -eq 0 ] || { echo "$failed of $n failed"; exit 1; }
