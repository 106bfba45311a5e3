#!/usr/bin/env bash
# make demo: zetl's main job end to end, in a throwaway folder. It installs
# what is missing (as root), builds, starts a private PostgreSQL 15 and
# MariaDB 10.11 on loopback, loads a small bookstore (authors, books with
# categories, customers on PostgreSQL; reviews on MariaDB), and replicates
# both sources into a local Iceberg lake and into a PostgreSQL warehouse
# database, with a filter file: only the "mysteries" books, the customers'
# email column dropped. It shows the initial sync, then live inserts,
# updates, deletes and an ALTER TABLE ... ADD COLUMN followed by the
# targets (Iceberg read back with DuckDB, the warehouse with psql) and the
# lag, a kill -9 with nothing lost or doubled, and stops everything it
# started. Under three minutes on two cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" -ne 0 ]; then
        echo "make demo starts private database servers with runuser: run it as root" >&2
        exit 2
fi
scripts/deps.sh
make -j2 zetl >/dev/null
zetl=$PWD/zetl
root=$PWD
demo=$(mktemp -d "${TMPDIR:-/tmp}/zetl-demo.XXXXXX")
chmod 711 "$demo"
export ZETL_STATE_DIR=$demo/state
runners=()
cleanup() {
        for r in "${runners[@]}"; do kill -TERM "$r" 2>/dev/null || true; done
        for r in "${runners[@]}"; do wait "$r" 2>/dev/null || true; done
        bash tests/harness/servers.sh stop "$demo/servers" >/dev/null 2>&1 || true
        rm -rf "$demo"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
indent() { sed 's/^/  /'; }
# Wait (up to 60 s) until the command succeeds; the demo never sleeps blindly.
await() {
        local what=$1
        shift
        for _ in $(seq 1 600); do
                "$@" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        echo "  (gave up waiting for $what)"
        return 1
}

step "private PostgreSQL 15 and MariaDB 10.11, and a small bookstore"
bash tests/harness/servers.sh start "$demo/servers" all | tail -n 1 | indent
# shellcheck source=/dev/null
. "$demo/servers/env"
pg=$ZETL_TEST_PG_URI
wh=${ZETL_TEST_PG_URI%/*}/warehouse
my=${ZETL_TEST_MY_URI%/*}/reviews
sql() { psql "$pg" -X -q -v ON_ERROR_STOP=1 "$@"; }
mysql_() { mariadb --defaults-file="$ZETL_TEST_MY_CNF" -N -B "$@"; }
whq() { psql "$wh" -X -At -v ON_ERROR_STOP=1 -c "$1"; }
psql "${ZETL_TEST_PG_ADMIN_URI%/*}/postgres" -X -q -c "CREATE DATABASE warehouse OWNER zetl"
sql <<'SQL'
CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE books (id int PRIMARY KEY, author_id int REFERENCES authors, title text,
                    category text, price numeric(8,2), published date);
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, since timestamptz);
-- A row filter judges updates by their new row: with REPLICA IDENTITY FULL
-- PostgreSQL also sends the columns an update leaves alone (zetl check says so).
ALTER TABLE books REPLICA IDENTITY FULL;
INSERT INTO authors VALUES (1, 'Arthur Conan Doyle'), (2, 'Dorothy L. Sayers'), (3, 'Frank Herbert'),
  (4, 'Agatha Christie');
INSERT INTO books VALUES
  (1, 1, 'The Hound of the Baskervilles', 'mysteries', 9.99, '1902-04-01'),
  (2, 2, 'Gaudy Night', 'mysteries', 14.00, '1935-11-01'),
  (3, 3, 'Dune', 'science fiction', 12.50, '1965-08-01'),
  (4, 4, 'Murder on the Orient Express', 'mysteries', 8.75, '1934-01-01'),
  (5, 3, 'Children of Dune', 'science fiction', 11.20, '1976-04-01');
INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com', now() - g * interval '1 day'
  FROM generate_series(1, 500) g;
SQL
mysql_ -e "CREATE DATABASE reviews; CREATE TABLE reviews.reviews (id INT PRIMARY KEY, book_id INT,
             stars TINYINT, body TEXT, at DATETIME(6)) DEFAULT CHARSET = utf8mb4;
           INSERT INTO reviews.reviews VALUES (1, 1, 5, 'A classic.', '2024-01-02 10:00:00.123456'),
             (2, 2, 4, 'Oxford, beautifully.', '2024-02-03 11:00:00'), (3, 3, 5, 'Spice.', NOW(6))"
echo "  PostgreSQL: $(psql "$pg" -XAtc "SELECT (SELECT count(*) FROM authors) || ' authors, ' || (SELECT count(*) FROM books) || ' books, ' || (SELECT count(*) FROM customers) || ' customers'")"
echo "  MariaDB: $(mysql_ -e 'SELECT COUNT(*) FROM reviews.reviews') reviews"

step "a filter file: only the mysteries, no customer email"
cat >"$demo/bookstore.filter" <<'EOF'
# zetl-filters(5): tables, then row and column filters
include: zetl_test.public.*
rows: zetl_test.public.books: category = 'mysteries'
columns: zetl_test.public.customers: exclude email
EOF
indent <"$demo/bookstore.filter"

step "zetl check, then four integrations: each source into the Iceberg lake and the warehouse"
"$zetl" check --source "$pg" --filter-file "$demo/bookstore.filter" | tail -n 1 | indent
"$zetl" check --source "$my" | tail -n 1 | indent
lake=$demo/lake
# Commit every second (Iceberg's default is 10 s) so the demo moves fast.
create() {
        "$zetl" create-integration --integration-name "$1" --source "$2" --target "$3" \
                "${@:4}" --option commit-interval-ms=1000 --log-level warn >/dev/null
        echo "  $1: $(zetl_redacted "$2") -> $(zetl_redacted "$3")"
}
zetl_redacted() { printf '%s' "$1" | sed 's#://\([^:@/]*\):[^@]*@#://\1:***@#'; }
create books-lake "$pg" "iceberg:$lake" --filter-file "$demo/bookstore.filter"
create books-wh "$pg" "$wh" --filter-file "$demo/bookstore.filter"
create reviews-lake "$my" "iceberg:$lake" --data-filter "include: reviews.*"
create reviews-wh "$my" "$wh" --data-filter "include: reviews.*"

step "zetl run (four replicators in the background): initial sync, then streaming"
for i in books-lake books-wh reviews-lake reviews-wh; do
        "$zetl" run "$i" 2>"$demo/$i.log" &
        runners+=($!)
done
books_lake() { node "$root/tests/interop/ice_rows.mjs" "$lake/zetl_test/public/books"; }
reviews_lake() { node "$root/tests/interop/ice_rows.mjs" "$lake/reviews/reviews"; }
synced() {
        [ "$(whq 'SELECT count(*) FROM zetl_test_public.customers')" = 500 ] &&
                [ "$(whq 'SELECT count(*) FROM reviews.reviews')" = 3 ] &&
                [ -f "$lake/zetl_test/public/books/metadata/version-hint.text" ] &&
                [ -f "$lake/reviews/reviews/metadata/version-hint.text" ]
}
await "the initial syncs" synced
echo "  warehouse (psql): books $(whq 'SELECT count(*) FROM zetl_test_public.books') (the mysteries only), customers $(whq 'SELECT count(*) FROM zetl_test_public.customers'), reviews $(whq 'SELECT count(*) FROM reviews.reviews')"
echo "  the customers' columns in the warehouse: $(whq "SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'zetl_test_public' AND table_name = 'customers'")"
lake_books_are() { [ "$(books_lake | jq -c '[.rows[] | .id | tonumber]')" = "$1" ]; }
await "the lake's books" lake_books_are '[1,2,4]'
echo "  Iceberg lake (DuckDB, by field id):"
books_lake | jq -r '.rows[] | "    book \(.id): \(.title), \(.price)"'

step "live changes on both sources"
sql <<'SQL'
INSERT INTO books VALUES (6, 4, 'The Murder of Roger Ackroyd', 'mysteries', 10.50, '1926-06-01');
INSERT INTO books VALUES (7, 3, 'Dune Messiah', 'science fiction', 9.00, '1969-07-01');
UPDATE books SET price = 7.49 WHERE id = 1;
UPDATE books SET category = 'classics' WHERE id = 2;
DELETE FROM customers WHERE id > 490;
ALTER TABLE books ADD COLUMN stock int;
UPDATE books SET stock = 12 WHERE id = 4;
SQL
mysql_ -e "INSERT INTO reviews.reviews VALUES (4, 4, 5, 'The ending!', NOW(6));
           UPDATE reviews.reviews SET stars = 3 WHERE id = 2; DELETE FROM reviews.reviews WHERE id = 3;
           ALTER TABLE reviews.reviews ADD COLUMN helpful INT; UPDATE reviews.reviews SET helpful = 7 WHERE id = 1"
echo "  books: +1 mystery, +1 science fiction (filtered out), a price change, a book moved out of"
echo "  the mysteries (deleted from the targets), ADD COLUMN stock; customers: 10 deleted;"
echo "  reviews: +1, a change, a delete, ADD COLUMN helpful"
followed() {
        [ "$(whq 'SELECT count(*) FROM zetl_test_public.books')" = 3 ] &&
                [ "$(whq 'SELECT coalesce(max(stock), 0) FROM zetl_test_public.books')" = 12 ] &&
                [ "$(whq 'SELECT count(*) FROM zetl_test_public.customers')" = 490 ] &&
                [ "$(whq 'SELECT coalesce(sum(helpful), 0) FROM reviews.reviews')" = 7 ]
}
await "the warehouse" followed
echo "  warehouse books:"
whq "SELECT '    book ' || id || ': ' || title || ', ' || price || ', stock ' || coalesce(stock::text, '-') FROM zetl_test_public.books ORDER BY id"
await "the lake" lake_books_are '[1,4,6]'
echo "  lake books (DuckDB):"
books_lake | jq -r '.rows[] | "    book \(.id): \(.title), \(.price), stock \(.stock // "-")"'
echo "  lake reviews (DuckDB):"
lake_reviews_are() { [ "$(reviews_lake | jq -c '[.rows[] | .id | tonumber]')" = "$1" ]; }
await "the lake's reviews" lake_reviews_are '[1,2,4]'
reviews_lake | jq -r '.rows[] | "    review \(.id): \(.stars) stars, helpful \(.helpful // "-")"'
"$zetl" describe-integrations --output table | indent

step "kill -9 of a replicator mid-stream, more changes, restart: nothing lost, nothing twice"
kill -9 "${runners[1]}" 2>/dev/null || true
wait "${runners[1]}" 2>/dev/null || true
sql -c "INSERT INTO customers SELECT g, 'late ' || g, NULL, now() FROM generate_series(1001, 1200) g"
"$zetl" run books-wh --once 2>>"$demo/books-wh.log"
echo "  customers in PostgreSQL: $(psql "$pg" -XAtc 'SELECT count(*) FROM customers'), in the warehouse: $(whq 'SELECT count(*) FROM zetl_test_public.customers') (distinct ids: $(whq 'SELECT count(DISTINCT id) FROM zetl_test_public.customers'))"

step "stopping: SIGTERM finishes the commit in flight and exits 0"
for r in "${runners[@]}"; do kill -TERM "$r" 2>/dev/null || true; done
for r in "${runners[@]}"; do wait "$r" 2>/dev/null || true; done
runners=()
"$zetl" describe-integrations --output table | indent
for i in books-lake books-wh reviews-lake reviews-wh; do
        "$zetl" delete-integration --integration-identifier "$i" >/dev/null 2>&1 || true
done
echo "  replication slots left on PostgreSQL: $(psql "$pg" -XAtc 'SELECT count(*) FROM pg_replication_slots')"

step "done: the servers are stopped and $demo is removed"
