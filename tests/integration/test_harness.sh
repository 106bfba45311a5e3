#!/usr/bin/env bash
# Checks that the servers of tests/harness/servers.sh are what every other
# integration test assumes: PostgreSQL 15 ready for logical replication and
# MariaDB 10.11 writing full row-based binlogs, both reachable over TCP by the
# zetl user with its password, through the URIs of the exported environment.
set -euo pipefail

for v in ZETL_TEST_PG_URI ZETL_TEST_PG_ADMIN_URI ZETL_TEST_PG_PORT ZETL_TEST_PG_PIDFILE \
        ZETL_TEST_MY_URI ZETL_TEST_MY_CNF ZETL_TEST_MY_PORT ZETL_TEST_MY_PIDFILE; do
        if [[ -z ${!v:-} ]]; then
                echo "skip: $v is not set (run through scripts/run-tests.sh or source the harness env file)"
                exit 77
        fi
done

PSQL=${ZETL_TEST_PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql
# Only the URIs may decide who connects and how.
unset PGPASSWORD PGPASSFILE PGSERVICE PGUSER PGHOST PGPORT PGDATABASE PGOPTIONS MYSQL_PWD
export PGCONNECT_TIMEOUT=10

checks=0
failures=0

ok() {
        checks=$((checks + 1))
        echo "ok - $1"
}

not_ok() {
        checks=$((checks + 1))
        failures=$((failures + 1))
        echo "not ok - $1"
        local line
        [[ -z ${2:-} ]] || while IFS= read -r line; do echo "#   $line"; done <<<"$2"
}

expect_eq() {
        if [[ $3 == "$2" ]]; then
                ok "$1"
        else
                not_ok "$1" "expected '$2', got: $3"
        fi
}

expect_match() {
        if [[ $3 =~ $2 ]]; then
                ok "$1"
        else
                not_ok "$1" "expected a match for /$2/, got: $3"
        fi
}

# Exit status is ignored on purpose: the output, error message included, is
# what the checks compare.
pg_query() {
        "$PSQL" "$1" -X -A -t -q -v ON_ERROR_STOP=1 -c "$2" 2>&1 || true
}

pidfile_alive() {
        local pid
        pid=$(head -n 1 "$2" 2>/dev/null || true)
        if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
                ok "$1 pid file $2 names a live process ($pid)"
        else
                not_ok "$1 pid file $2 names a live process" "pid file holds: '$pid'"
        fi
}

# ---------------------------------------------------------------- PostgreSQL

PG=$ZETL_TEST_PG_URI
expect_eq "postgres: SHOW wal_level over TCP as zetl" logical "$(pg_query "$PG" 'SHOW wal_level')"
expect_match "postgres: server_version is 15" '^15\.' "$(pg_query "$PG" 'SHOW server_version')"
expect_eq "postgres: listens on ZETL_TEST_PG_PORT" "$ZETL_TEST_PG_PORT" \
        "$(pg_query "$PG" 'SHOW port')"
expect_eq "postgres: URI connects as zetl to zetl_test" "zetl zetl_test" \
        "$(pg_query "$PG" "SELECT current_user || ' ' || current_database()")"
expect_eq "postgres: zetl has rolreplication" t \
        "$(pg_query "$PG" "SELECT rolreplication FROM pg_roles WHERE rolname = 'zetl'")"
expect_eq "postgres: max_replication_slots = 10" 10 "$(pg_query "$PG" 'SHOW max_replication_slots')"

if [[ $PG =~ ^(postgresql://[^:@/]+:)[^@]*(@.*)$ ]]; then
        out=$(pg_query "${BASH_REMATCH[1]}wrong-pw${BASH_REMATCH[2]}" 'SELECT 1')
else
        out="ZETL_TEST_PG_URI has no user:password@ part: $PG"
fi
expect_match "postgres: a wrong password is refused over TCP" 'password authentication failed' "$out"

pg_query "$PG" "SELECT pg_drop_replication_slot('harness_probe') FROM pg_replication_slots
                WHERE slot_name = 'harness_probe'" >/dev/null
expect_eq "postgres: create a pgoutput logical slot" harness_probe \
        "$(pg_query "$PG" "SELECT slot_name FROM pg_create_logical_replication_slot('harness_probe', 'pgoutput')")"
expect_eq "postgres: the slot is logical with plugin pgoutput" "logical pgoutput" \
        "$(pg_query "$PG" "SELECT slot_type || ' ' || plugin FROM pg_replication_slots
                           WHERE slot_name = 'harness_probe'")"
pg_query "$PG" "SELECT pg_drop_replication_slot('harness_probe')" >/dev/null
expect_eq "postgres: drop the slot" 0 \
        "$(pg_query "$PG" "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'harness_probe'")"

# A walsender connection, as zetl's PostgreSQL source opens it.
out=$(pg_query "$PG?replication=database" 'IDENTIFY_SYSTEM')
expect_match "postgres: replication=database connection runs IDENTIFY_SYSTEM" \
        '^[0-9]+\|1\|[0-9A-F]+/[0-9A-F]+\|zetl_test$' "$out"

expect_eq "postgres: admin URI connects as postgres without a password" postgres \
        "$(pg_query "$ZETL_TEST_PG_ADMIN_URI" 'SELECT current_user')"
pidfile_alive postgres "$ZETL_TEST_PG_PIDFILE"

# TLS (absent when servers.sh found no openssl): zetl_tls over TLS only.
if [[ -n ${ZETL_TEST_PG_TLS_URI:-} ]]; then
        expect_eq "postgres: ZETL_TEST_PG_TLS_URI connects as zetl_tls with verify-full over TLS" \
                "zetl_tls true" "$(pg_query "$ZETL_TEST_PG_TLS_URI" \
                        "SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")"
        expect_match "postgres: a TLS replication connection as zetl_tls runs IDENTIFY_SYSTEM" \
                '^[0-9]+\|1\|[0-9A-F]+/[0-9A-F]+\|zetl_test$' \
                "$(pg_query "$ZETL_TEST_PG_TLS_URI&replication=database" 'IDENTIFY_SYSTEM')"
        expect_match "postgres: zetl_tls without TLS is rejected" 'pg_hba.conf rejects connection' \
                "$(pg_query "${ZETL_TEST_PG_TLS_URI%%\?*}?sslmode=disable" 'SELECT 1')"
else
        echo "# postgres: no ZETL_TEST_PG_TLS_URI (servers.sh found no openssl): TLS checks skipped"
fi

# ------------------------------------------------------------------- MariaDB

if [[ $ZETL_TEST_MY_URI =~ ^mysql://([^:@/]+):([^@/]*)@([^:/]+):([0-9]+)/([^/?]+)$ ]]; then
        ok "mariadb: URI parses as mysql://user:password@host:port/db"
        my_user=${BASH_REMATCH[1]} my_pw=${BASH_REMATCH[2]} my_host=${BASH_REMATCH[3]}
        my_port=${BASH_REMATCH[4]} my_db=${BASH_REMATCH[5]}
else
        not_ok "mariadb: URI parses as mysql://user:password@host:port/db" "$ZETL_TEST_MY_URI"
        echo "$failures of $checks checks failed"
        exit 1
fi

# TCP with the URI's credentials; --no-defaults keeps /etc/mysql out of it.
my_query_pw() {
        mariadb --no-defaults --protocol=TCP -h "$my_host" -P "$my_port" -u "$my_user" \
                --password="$1" -D "$my_db" --connect-timeout=10 -N -B -e "$2" 2>&1 || true
}

my_query() {
        my_query_pw "$my_pw" "$1"
}

expect_eq "mariadb: URI port is ZETL_TEST_MY_PORT" "$ZETL_TEST_MY_PORT" "$my_port"
expect_eq "mariadb: connects over TCP as zetl@127.0.0.1 to zetl_test" \
        "zetl@127.0.0.1 zetl_test $ZETL_TEST_MY_PORT" \
        "$(my_query "SELECT CONCAT_WS(' ', CURRENT_USER(), DATABASE(), @@port)")"
expect_match "mariadb: version is 10.11" '^10\.11\.' "$(my_query 'SELECT VERSION()')"
expect_eq "mariadb: @@log_bin = 1" 1 "$(my_query 'SELECT @@log_bin')"
expect_eq "mariadb: @@binlog_format = ROW" ROW "$(my_query 'SELECT @@binlog_format')"
expect_eq "mariadb: @@binlog_row_image = FULL" FULL "$(my_query 'SELECT @@binlog_row_image')"
expect_eq "mariadb: @@binlog_row_metadata = FULL" FULL "$(my_query 'SELECT @@binlog_row_metadata')"
expect_match "mariadb: zetl may read the binlog (REPLICATION SLAVE or ALL PRIVILEGES)" \
        'GRANT (ALL PRIVILEGES|.*REPLICATION SLAVE.*) ON \*\.\*' "$(my_query 'SHOW GRANTS')"
expect_match "mariadb: SHOW MASTER STATUS names a binlog file" '^bin\.[0-9]{6}[[:space:]]' \
        "$(my_query 'SHOW MASTER STATUS')"
expect_match "mariadb: a wrong password is refused over TCP" 'ERROR 1045' \
        "$(my_query_pw wrong-pw 'SELECT 1')"
expect_eq "mariadb: ZETL_TEST_MY_CNF connects as root over the socket" root@localhost \
        "$(mariadb --defaults-file="$ZETL_TEST_MY_CNF" -N -B -e 'SELECT CURRENT_USER()' 2>&1 || true)"
pidfile_alive mariadb "$ZETL_TEST_MY_PIDFILE"

if [[ ${ZETL_TEST_MY_TLS_URI:-} =~ ^mysql://zetl_tls:([^@/]*)@[^?]*\?ssl-mode=VERIFY_IDENTITY\&ssl-ca=(.+)$ ]]; then
        tls_pw=${BASH_REMATCH[1]} tls_ca=${BASH_REMATCH[2]}
        expect_eq "mariadb: zetl_tls connects with the test CA, the server certificate verified" \
                "zetl_tls@% 1" "$(mariadb --no-defaults --protocol=TCP -h "$my_host" -P "$my_port" \
                        -u zetl_tls --password="$tls_pw" --ssl-ca="$tls_ca" --ssl-verify-server-cert \
                        --connect-timeout=10 -N -B -e \
                        "SELECT CONCAT_WS(' ', CURRENT_USER(), VARIABLE_VALUE LIKE 'TLSv1.%')
                         FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_version'" 2>&1 || true)"
        expect_match "mariadb: zetl_tls without TLS is refused (REQUIRE SSL)" 'ERROR 1045' \
                "$(mariadb --no-defaults --protocol=TCP -h "$my_host" -P "$my_port" -u zetl_tls \
                        --password="$tls_pw" --skip-ssl --connect-timeout=10 -e 'SELECT 1' 2>&1 || true)"
elif [[ -n ${ZETL_TEST_MY_TLS_URI:-} ]]; then
        not_ok "mariadb: ZETL_TEST_MY_TLS_URI parses" "$ZETL_TEST_MY_TLS_URI"
else
        echo "# mariadb: no ZETL_TEST_MY_TLS_URI (servers.sh found no openssl): TLS checks skipped"
fi

if ((failures > 0)); then
        echo "$failures of $checks checks failed"
        exit 1
fi
echo "all $checks checks passed"
