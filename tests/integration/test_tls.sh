#!/usr/bin/env bash
# TLS from zetl to its sources, verified against the throwaway CA that
# tests/harness/servers.sh makes at start (ZETL_TEST_TLS_CA). Both servers
# admit their zetl_tls user over TLS only (PostgreSQL: hostssl/hostnossl
# reject in pg_hba.conf, for SQL and replication; MariaDB: REQUIRE SSL), so a
# create-integration, an initial sync and streamed changes arriving prove that
# every connection zetl opens, the replication and binlog ones included, is
# encrypted and checked against the CA.
#
#   PostgreSQL: sslmode=verify-full with sslrootcert; pg_stat_ssl during a run;
#     a second CA made here fails (certificate verify failed), also in `run`
#     when the CA file changes under an integration; a host name outside the
#     certificate's subjectAltName fails; localhost (in the SAN) works;
#     sslmode=disable is rejected by pg_hba.conf.
#   MariaDB: ssl-mode=VERIFY_IDENTITY with ssl-ca; the same failures; VERIFY_CA
#     without ssl-ca is a usage error (exit 2); ssl-mode=DISABLED is refused.
#
# Not here: curl's certificate verification for HTTP targets (OpenSearch) is
# the OpenSearch sink's, tested with it.
set -uo pipefail

if [ -z "${ZETL_TEST_PG_URI:-}" ] && [ -z "${ZETL_TEST_MY_URI:-}" ]; then
        echo "skip: no test servers (run through scripts/run-tests.sh)"
        exit 77
fi
if [ -z "${ZETL_TEST_TLS_CA:-}" ] || { [ -z "${ZETL_TEST_PG_TLS_URI:-}" ] && [ -z "${ZETL_TEST_MY_TLS_URI:-}" ]; }; then
        echo "skip: the harness servers run without TLS (openssl missing at servers.sh start, or" \
                "ZETL_TEST_TLS=0; scripts/deps.sh installs openssl)"
        exit 77
fi
command -v openssl >/dev/null || { echo "skip: openssl is needed to make a second CA"; exit 77; }
root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/tls"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
# Only the URIs may decide how zetl authenticates.
unset PGPASSWORD PGPASSFILE PGSSLMODE PGSSLROOTCERT PGSERVICE MYSQL_PWD
psql="${ZETL_TEST_PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql"
ca=$ZETL_TEST_TLS_CA
failed=0
n=0
ok() { n=$((n + 1)); echo "ok - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
runner=
cleanup() {
        [ -n "$runner" ] && kill -9 "$runner" 2>/dev/null
        wait 2>/dev/null
}
trap cleanup EXIT

# fails_with "what" REGEX FILE RC: the command failed (exit 1 or 2) and its
# stderr (FILE) says why.
fails_with() {
        if [ "$4" -ne 1 ] && [ "$4" -ne 2 ]; then
                not_ok "$1 (exit $4, expected 1 or 2; stderr: $(head -c 400 "$3"))"
        elif ! grep -Eq -- "$2" "$3"; then
                not_ok "$1 (no /$2/ in stderr: $(head -c 400 "$3"))"
        else
                ok "$1"
        fi
}

# changes FILE OP: how many change lines of that op the jsonl target holds.
changes() { jq -n --arg op "$2" '[inputs | select(.type == "change" and .op == $op)] | length' "$1"; }

# A second CA, unrelated to the harness's: a server certificate does not chain to it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj "/CN=zetl test_tls unrelated CA" -keyout "$work/other-ca.key" \
        -out "$work/other-ca.crt" >"$work/openssl.log" 2>&1 || {
        cat "$work/openssl.log"
        echo "not ok - openssl made a second CA"
        exit 1
}

# ---- PostgreSQL ---------------------------------------------------------------
if [ -n "${ZETL_TEST_PG_TLS_URI:-}" ]; then
        db=tls_pg_t
        admin="${ZETL_TEST_PG_ADMIN_URI%/*}/postgres"
        pg_base="${ZETL_TEST_PG_TLS_URI%%\?*}" # postgresql://zetl_tls:PW@127.0.0.1:PORT/zetl_test
        pg_base="${pg_base%/*}"
        pg_hostport="${pg_base##*@}"
        pg_userinfo="${pg_base#postgresql://}"
        pg_userinfo="${pg_userinfo%@*}"
        uri="$pg_base/$db?sslmode=verify-full&sslrootcert=$ca"
        adm() { PGOPTIONS="-c client_min_messages=warning" "$psql" "$admin" -X -Atq -v ON_ERROR_STOP=1 -c "$1"; }
        drop_db() {
                adm "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                     WHERE database = '$db' AND NOT active" >/dev/null &&
                        adm "DROP DATABASE IF EXISTS $db WITH (FORCE)"
        }
        drop_db && adm "CREATE DATABASE $db OWNER zetl_tls" || exit 1
        # psql itself goes through the same verify-full URI.
        "$psql" "$uri" -X -q -v ON_ERROR_STOP=1 <<'SQL' || exit 1
CREATE TABLE items (id int PRIMARY KEY, name text);
INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 200) g;
SQL
        check "postgres: psql reaches the server with verify-full and the test CA" \
                test "$("$psql" "$uri" -X -Atq -c 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')" = t

        "$zetl" create-integration --integration-name tls-pg --source "$uri" \
                --target "jsonl:$work/pg.jsonl" --data-filter "include: $db.public.*" \
                >"$work/pg-create.json" 2>"$work/pg-create.err"
        check "postgres: create-integration over verify-full exits 0" test $? -eq 0
        "$zetl" run tls-pg --once >"$work/pg-run.log" 2>&1
        check "postgres: run --once (initial sync) exits 0" test $? -eq 0
        check "postgres: the initial sync copied 200 rows" test "$(changes "$work/pg.jsonl" snapshot)" -eq 200
        # synchronous_commit on (the harness turns it off): the walsender sends
        # only flushed WAL, and --once stops at the WAL the server has flushed.
        "$psql" "$uri" -X -q -v ON_ERROR_STOP=1 <<'SQL'
SET synchronous_commit = on;
INSERT INTO items SELECT g, 'new ' || g FROM generate_series(1001, 1010) g;
UPDATE items SET name = 'changed' WHERE id = 1;
DELETE FROM items WHERE id = 2;
SQL
        "$zetl" run tls-pg --once >>"$work/pg-run.log" 2>&1
        check "postgres: run --once after changes (streaming over the TLS walsender) exits 0" test $? -eq 0
        check "postgres: 10 inserts, 1 update and 1 delete were streamed" \
                test "$(changes "$work/pg.jsonl" insert)/$(changes "$work/pg.jsonl" update)/$(changes "$work/pg.jsonl" delete)" = 10/1/1

        # While a run streams, every zetl_tls session, the walsender included, is TLS.
        "$zetl" run tls-pg >"$work/pg-follow.log" 2>&1 &
        runner=$!
        walsenders=0
        for _ in $(seq 1 300); do
                walsenders=$(adm "SELECT count(*) FROM pg_stat_activity WHERE usename = 'zetl_tls'
                                  AND backend_type = 'walsender'")
                [ "$walsenders" -gt 0 ] && break
                kill -0 "$runner" 2>/dev/null || break
                sleep 0.1
        done
        check "postgres: a running zetl has a walsender as zetl_tls" test "$walsenders" -gt 0
        check "postgres: pg_stat_ssl shows the zetl_tls walsender on TLS" \
                test "$(adm "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                             WHERE a.usename = 'zetl_tls' AND a.backend_type = 'walsender'
                               AND s.ssl")" -gt 0
        check "postgres: ... and no zetl_tls session without TLS" \
                test "$(adm "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                             WHERE a.usename = 'zetl_tls' AND NOT s.ssl")" -eq 0
        kill -TERM "$runner" 2>/dev/null
        wait "$runner"
        check "postgres: the run stops with exit 0 on SIGTERM" test $? -eq 0
        runner=

        # A CA the server's certificate does not chain to.
        "$zetl" create-integration --integration-name tls-pg-wrong-ca \
                --source "$pg_base/$db?sslmode=verify-full&sslrootcert=$work/other-ca.crt" \
                --target "jsonl:$work/pg-x.jsonl" --data-filter "include: $db.public.*" \
                >/dev/null 2>"$work/pg-wrong-ca.err"
        fails_with "postgres: an unrelated CA fails, naming certificate verification" \
                'certificate verify failed' "$work/pg-wrong-ca.err" $?
        # A name the certificate does not carry (hostaddr skips DNS, the name is checked).
        "$zetl" create-integration --integration-name tls-pg-wrong-name \
                --source "postgresql://$pg_userinfo@wrong-name.invalid:${pg_hostport##*:}/$db?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert=$ca" \
                --target "jsonl:$work/pg-x.jsonl" --data-filter "include: $db.public.*" \
                >/dev/null 2>"$work/pg-wrong-name.err"
        fails_with "postgres: a host name outside the certificate fails verify-full" \
                'does not match host name' "$work/pg-wrong-name.err" $?
        # localhost is in the certificate's subjectAltName.
        "$zetl" create-integration --integration-name tls-pg-localhost \
                --source "postgresql://$pg_userinfo@localhost:${pg_hostport##*:}/$db?sslmode=verify-full&sslrootcert=$ca" \
                --target "jsonl:$work/pg-localhost.jsonl" --data-filter "include: $db.public.*" \
                >/dev/null 2>"$work/pg-localhost.err"
        check "postgres: verify-full to localhost (in the SAN) works" test $? -eq 0
        "$zetl" delete-integration --integration-identifier tls-pg-localhost >/dev/null 2>&1
        "$zetl" create-integration --integration-name tls-pg-plain --source "$pg_base/$db?sslmode=disable" \
                --target "jsonl:$work/pg-x.jsonl" --data-filter "include: $db.public.*" \
                >/dev/null 2>"$work/pg-plain.err"
        fails_with "postgres: zetl_tls without TLS is rejected by pg_hba.conf" \
                'pg_hba.conf rejects connection.*no encryption' "$work/pg-plain.err" $?

        # The CA file changes under an existing integration: run stops with the
        # reason instead of retrying for ever (a wrong CA is not transient).
        cp "$ca" "$work/pg-ca.crt"
        "$zetl" create-integration --integration-name tls-pg-swap \
                --source "$pg_base/$db?sslmode=verify-full&sslrootcert=$work/pg-ca.crt" \
                --target "jsonl:$work/pg-swap.jsonl" --data-filter "include: $db.public.*" \
                >/dev/null 2>"$work/pg-swap-create.err"
        check "postgres: create-integration with a copy of the CA exits 0" test $? -eq 0
        cp "$work/other-ca.crt" "$work/pg-ca.crt"
        timeout 10 "$zetl" run tls-pg-swap --once >/dev/null 2>"$work/pg-swap-run.err"
        fails_with "postgres: run with a CA that no longer matches stops (exit 1 or 2) without retrying" \
                'certificate verify failed' "$work/pg-swap-run.err" $?

        cp "$ca" "$work/pg-ca.crt" # delete-integration connects to drop the slot
        for i in tls-pg tls-pg-swap; do
                "$zetl" delete-integration --integration-identifier "$i" >/dev/null 2>&1
        done
        check "postgres: delete-integration removed the slots" \
                test "$(adm "SELECT count(*) FROM pg_replication_slots WHERE database = '$db'")" = 0
        drop_db
else
        echo "# postgres: no ZETL_TEST_PG_TLS_URI; its checks are skipped"
fi

# ---- MariaDB --------------------------------------------------------------------
if [ -n "${ZETL_TEST_MY_TLS_URI:-}" ]; then
        db=tls_my_t
        my_base="${ZETL_TEST_MY_TLS_URI%%\?*}" # mysql://zetl_tls:PW@127.0.0.1:PORT/zetl_test
        my_base="${my_base%/*}"
        my_userinfo="${my_base#mysql://}"
        my_userinfo="${my_userinfo%@*}"
        my_port="${my_base##*:}"
        uri="$my_base/$db?ssl-mode=VERIFY_IDENTITY&ssl-ca=$ca"
        sql() { mariadb --defaults-file="$ZETL_TEST_MY_CNF" -N -B "$@"; }
        sql -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db" || exit 1
        sql "$db" -e "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40));
                      INSERT INTO items SELECT seq, CONCAT('item ', seq) FROM seq_1_to_200" || exit 1
        check "mariadb: zetl_tls is refused without TLS (REQUIRE SSL)" bash -c \
                "! mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P '$my_port' -u zetl_tls \
                   --password='${my_userinfo#*:}' --skip-ssl -e 'SELECT 1' 2>/dev/null"

        "$zetl" create-integration --integration-name tls-my --source "$uri" \
                --target "jsonl:$work/my.jsonl" --data-filter "include: $db.*" \
                >"$work/my-create.json" 2>"$work/my-create.err"
        check "mariadb: create-integration over VERIFY_IDENTITY exits 0" test $? -eq 0
        "$zetl" run tls-my --once >"$work/my-run.log" 2>&1
        check "mariadb: run --once (snapshot) exits 0" test $? -eq 0
        check "mariadb: the snapshot copied 200 rows" test "$(changes "$work/my.jsonl" snapshot)" -eq 200
        sql "$db" -e "INSERT INTO items SELECT seq, 'new' FROM seq_1001_to_1010;
                      UPDATE items SET name = 'changed' WHERE id = 1; DELETE FROM items WHERE id = 2"
        "$zetl" run tls-my --once >>"$work/my-run.log" 2>&1
        check "mariadb: run --once after changes (the binlog over TLS) exits 0" test $? -eq 0
        check "mariadb: 10 inserts, 1 update and 1 delete came from the binlog" \
                test "$(changes "$work/my.jsonl" insert)/$(changes "$work/my.jsonl" update)/$(changes "$work/my.jsonl" delete)" = 10/1/1

        "$zetl" create-integration --integration-name tls-my-wrong-ca \
                --source "$my_base/$db?ssl-mode=VERIFY_IDENTITY&ssl-ca=$work/other-ca.crt" \
                --target "jsonl:$work/my-x.jsonl" --data-filter "include: $db.*" \
                >/dev/null 2>"$work/my-wrong-ca.err"
        fails_with "mariadb: an unrelated CA fails with a TLS certificate error" \
                'TLS/SSL error: .*certificate' "$work/my-wrong-ca.err" $?
        "$zetl" create-integration --integration-name tls-my-no-ca --source "$my_base/$db?ssl-mode=VERIFY_CA" \
                --target "jsonl:$work/my-x.jsonl" --data-filter "include: $db.*" \
                >/dev/null 2>"$work/my-no-ca.err"
        rc=$?
        check "mariadb: ssl-mode=VERIFY_CA without ssl-ca is a usage error (exit 2, one line)" \
                test "$rc" -eq 2 -a "$(wc -l <"$work/my-no-ca.err")" -eq 1
        check "... naming ssl-ca" grep -q 'need ssl-ca=FILE' "$work/my-no-ca.err"
        "$zetl" create-integration --integration-name tls-my-plain --source "$my_base/$db?ssl-mode=DISABLED" \
                --target "jsonl:$work/my-x.jsonl" --data-filter "include: $db.*" \
                >/dev/null 2>"$work/my-plain.err"
        fails_with "mariadb: zetl_tls with ssl-mode=DISABLED is refused" 'Access denied' \
                "$work/my-plain.err" $?
        "$zetl" create-integration --integration-name tls-my-localhost \
                --source "mysql://$my_userinfo@localhost:$my_port/$db?ssl-mode=VERIFY_IDENTITY&ssl-ca=$ca" \
                --target "jsonl:$work/my-localhost.jsonl" --data-filter "include: $db.*" \
                >/dev/null 2>"$work/my-localhost.err"
        check "mariadb: VERIFY_IDENTITY to localhost (in the SAN) works" test $? -eq 0

        cp "$ca" "$work/my-ca.crt"
        "$zetl" create-integration --integration-name tls-my-swap \
                --source "$my_base/$db?ssl-mode=VERIFY_IDENTITY&ssl-ca=$work/my-ca.crt" \
                --target "jsonl:$work/my-swap.jsonl" --data-filter "include: $db.*" \
                >/dev/null 2>"$work/my-swap-create.err"
        check "mariadb: create-integration with a copy of the CA exits 0" test $? -eq 0
        cp "$work/other-ca.crt" "$work/my-ca.crt"
        timeout 10 "$zetl" run tls-my-swap --once >/dev/null 2>"$work/my-swap-run.err"
        fails_with "mariadb: run with a CA that no longer matches stops (exit 1 or 2) without retrying" \
                'TLS/SSL error: .*certificate' "$work/my-swap-run.err" $?

        cp "$ca" "$work/my-ca.crt"
        for i in tls-my tls-my-localhost tls-my-swap; do
                "$zetl" delete-integration --integration-identifier "$i" >/dev/null 2>&1
        done
        sql -e "DROP DATABASE IF EXISTS $db"
else
        echo "# mariadb: no ZETL_TEST_MY_TLS_URI; its checks are skipped"
fi

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
