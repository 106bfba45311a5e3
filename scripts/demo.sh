#!/usr/bin/env bash
# make demo: zetl's main job end to end, in a throwaway folder. It installs
# what is missing (as root), builds, starts a private PostgreSQL 15 on
# loopback, loads a small bookstore, and replicates it into a change log
# (jsonl target): the initial sync, live inserts, updates, deletes and an
# ALTER TABLE ... ADD COLUMN followed with the lag, a kill -9 in the middle
# with nothing lost or doubled, and describe-integrations. Everything it
# started is stopped at the end. The Iceberg, warehouse and OpenSearch
# targets and the MySQL source join this demo as they land.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" -ne 0 ]; then
        echo "make demo starts a private PostgreSQL with runuser: run it as root" >&2
        exit 2
fi
scripts/deps.sh
make -j2 zetl >/dev/null
zetl=$PWD/zetl
demo=$(mktemp -d "${TMPDIR:-/tmp}/zetl-demo.XXXXXX")
chmod 711 "$demo"
export ZETL_STATE_DIR=$demo/state
runner=
cleanup() {
        if [ -n "$runner" ]; then
                kill -TERM "$runner" 2>/dev/null || true
                wait "$runner" 2>/dev/null || true
        fi
        bash tests/harness/servers.sh stop "$demo/servers" >/dev/null 2>&1 || true
        rm -rf "$demo"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "a private PostgreSQL 15 with a small bookstore"
bash tests/harness/servers.sh start "$demo/servers" pg | tail -n 1
# shellcheck source=/dev/null
. "$demo/servers/env"
src=$ZETL_TEST_PG_URI
psql "$src" -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE books (id int PRIMARY KEY, author_id int REFERENCES authors, title text,
                    category text, price numeric(8,2), published date);
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, since timestamptz);
INSERT INTO authors VALUES (1, 'Arthur Conan Doyle'), (2, 'Dorothy L. Sayers'), (3, 'Frank Herbert');
INSERT INTO books VALUES
  (1, 1, 'The Hound of the Baskervilles', 'mysteries', 9.99, '1902-04-01'),
  (2, 2, 'Gaudy Night', 'mysteries', 14.00, '1935-11-01'),
  (3, 3, 'Dune', 'science fiction', 12.50, '1965-08-01');
INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com', now() - g * interval '1 day'
  FROM generate_series(1, 500) g;
SQL
psql "$src" -XAtc "SELECT 'rows: ' || (SELECT count(*) FROM authors) || ' authors, ' || (SELECT count(*) FROM books) || ' books, ' || (SELECT count(*) FROM customers) || ' customers'"

log=$demo/bookstore.jsonl
step "zetl create-integration (checks the server, creates publication and slot)"
"$zetl" create-integration --integration-name bookstore --source "$src" --target "jsonl:$log" \
        --data-filter "include: zetl_test.public.*" --description "bookstore into a change log" |
        grep -E '"(IntegrationName|Status|Source|Target)"'

step "zetl run: initial sync, then streaming (in the background)"
"$zetl" run bookstore 2>"$demo/run.log" &
runner=$!
for _ in $(seq 1 100); do
        grep -q "streaming from" "$demo/run.log" && break
        sleep 0.1
done
grep -E "initial sync: .*done|streaming from" "$demo/run.log" | sed 's/^/  /'
echo "  target: $(grep -c '"op":"snapshot"' "$log") snapshot rows"

step "live changes: an insert, a price update, a delete, ALTER TABLE ... ADD COLUMN"
psql "$src" -X -q -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO books VALUES (4, 2, 'Strong Poison', 'mysteries', 11.00, '1930-01-01');
UPDATE books SET price = 7.49 WHERE id = 1;
DELETE FROM books WHERE id = 3;
ALTER TABLE books ADD COLUMN stock int;
UPDATE books SET stock = 12 WHERE id = 2;
SQL
sleep 2
echo "  the target followed:"
grep -E '"type":"(change|schema)"' "$log" | tail -n 5 | cut -c1-150 | sed 's/^/    /'
"$zetl" describe-integrations --output table | sed 's/^/  /'

step "kill -9 mid-stream, more changes, restart: nothing lost, nothing twice"
{ kill -9 "$runner" && wait "$runner"; } 2>/dev/null || true
runner=
psql "$src" -X -q -c "INSERT INTO customers SELECT g, 'late ' || g, NULL, now() FROM generate_series(1001, 1200) g"
"$zetl" run bookstore --once 2>>"$demo/run.log"
streamed=$(grep -c '"op":"insert"' "$log")
distinct=$(grep '"op":"insert"' "$log" | grep -o '"pos":"[0-9]*"' | sort -u | wc -l)
echo "  inserts in the log: $streamed ($distinct distinct positions); customers in PostgreSQL: $(psql "$src" -XAtc 'SELECT count(*) FROM customers')"

step "describe-integrations"
"$zetl" describe-integrations --integration-identifier bookstore |
        grep -E '"(Status|SnapshotDone|CommittedPosition|LagSeconds|Table|RowsSnapshot|RowsInserted|RowsUpdated|RowsDeleted)"' | sed 's/^/  /'

step "delete-integration: the slot and publication go, the target stays"
"$zetl" delete-integration --integration-identifier bookstore 2>/dev/null
psql "$src" -XAtc "SELECT 'slots left: ' || count(*) FROM pg_replication_slots"

step "done: the server is stopped and $demo is removed"
