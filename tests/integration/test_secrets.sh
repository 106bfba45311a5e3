#!/usr/bin/env bash
# Secrets: where passwords may come from, and where they must never go.
#
#   From files or the environment instead of the URI: MariaDB's
#   password-file=FILE (refused, naming the chmod, when group or others may
#   read it) and $MYSQL_PWD; PostgreSQL's libpq passfile=FILE (pgpass format)
#   and $PGPASSWORD. Such an integration keeps no password anywhere in the
#   state directory.
#
#   Never printed or stored outside definition.json (0600): with the password
#   in the URI and a secret-named --option (api_token), nothing that create,
#   run (text and JSON logs, debug level), check, describe (JSON and table) or
#   the metrics file produce holds them, and no state file other than
#   definition.json does. A wrong password is not echoed in the error either.
#
#   Permissions: state files 0600, folders 0700, and `zetl run` refuses (exit
#   2, naming the file and the chmod) a state file or folder that group or
#   others may open. This part uses the jsonl source and runs without servers.
set -uo pipefail

root="${ZETL_SRC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
zetl="${ZETL_BIN:-$root/zetl}"
work="${ZETL_TEST_WORKDIR:-$(mktemp -d)}/secrets"
rm -rf "$work" && mkdir -p "$work"
export ZETL_STATE_DIR="$work/state"
# Only what each check sets may decide how zetl authenticates.
unset PGPASSWORD PGPASSFILE PGSERVICE MYSQL_PWD
psql="${ZETL_TEST_PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql"
# An '@' must be %-encoded in a URI: both spellings are searched for.
secret='s3cr3t@Zq7!x'
secret_enc='s3cr3t%40Zq7!x'
wrong='wr0ng-Pw-Zq8!y'
token='tok-9f8e7d6c5b4a-Zq9'
failed=0
n=0
ok() { n=$((n + 1)); echo "ok - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

# Files holding one of the secrets, one per line.
leaks() { grep -rlF -e "$secret" -e "$secret_enc" -e "Zq7!x" -e "$token" -e "$wrong" -- "$@" 2>/dev/null; }
no_leak() {
        local what=$1 found
        shift
        # grep -r without a file searches the working directory.
        if [ $# -eq 0 ]; then
                not_ok "$what (no files to search)"
                return
        fi
        found=$(leaks "$@")
        if [ -z "$found" ]; then ok "$what"; else not_ok "$what (found in: ${found//$'\n'/ })"; fi
}
# no_leak_but_definition "what" DIR: no file under DIR but definition.json holds a secret.
no_leak_but_definition() {
        local files
        mapfile -t files < <(find "$2" -type f ! -name definition.json)
        no_leak "$1" "${files[@]}"
}
jqe() { jq -e "$@" >/dev/null 2>&1; }
changes() { jq -n '[inputs | select(.type == "change")] | length' "$1"; }

# refused "what" WANT RC FILE: exit 2 and stderr (FILE) names WANT.
refused() {
        if [ "$3" -eq 2 ] && grep -qF -- "$2" "$4"; then
                ok "$1"
        else
                not_ok "$1 (exit $3, stderr: $(head -c 300 "$4"))"
        fi
}

logs=() # every output the checks at the end search for secrets

# ---- permissions, with the jsonl source (no server needed) ----------------------
printf '' >"$work/empty.jsonl"
"$zetl" create-integration --integration-name sec-perm --source "jsonl:$work/empty.jsonl" \
        --target "jsonl:$work/perm-out.jsonl" --option "api_token=$token" \
        >"$work/perm-create.out" 2>&1
check "jsonl: create-integration with a secret option exits 0" test $? -eq 0
"$zetl" run sec-perm --once >"$work/perm-run.out" 2>&1
check "jsonl: run --once exits 0" test $? -eq 0
logs+=("$work/perm-create.out" "$work/perm-run.out")
check "the state directory is 0700" test "$(stat -c %a "$ZETL_STATE_DIR")" = 700
check "the integration folder is 0700" test "$(stat -c %a "$ZETL_STATE_DIR/sec-perm")" = 700
check "every state file is 0600" test "$(find "$ZETL_STATE_DIR/sec-perm" -type f | wc -l)" -gt 0 -a \
        "$(find "$ZETL_STATE_DIR/sec-perm" -type f ! -perm 600 | wc -l)" -eq 0
for f in checkpoint.json status.json definition.json; do
        p="$ZETL_STATE_DIR/sec-perm/$f"
        for mode in 640 604; do
                chmod "$mode" "$p"
                "$zetl" run sec-perm --once >/dev/null 2>"$work/perm.err"
                refused "run refuses $f at mode $mode, naming the chmod" "chmod 600 $p" $? "$work/perm.err"
        done
        chmod 600 "$p"
done
chmod 750 "$ZETL_STATE_DIR/sec-perm"
"$zetl" run sec-perm --once >/dev/null 2>"$work/perm.err"
refused "run refuses an integration folder open to the group, naming the chmod" \
        "chmod 700 $ZETL_STATE_DIR/sec-perm" $? "$work/perm.err"
chmod 700 "$ZETL_STATE_DIR/sec-perm"
"$zetl" describe-integrations --integration-identifier sec-perm >"$work/perm-describe.json" 2>&1
check "describe shows the secret option as ***" \
        jqe '.Integrations[0].Options.api_token == "***"' "$work/perm-describe.json"
logs+=("$work/perm-describe.json")
no_leak_but_definition "jsonl: no state file but definition.json holds the token" \
        "$ZETL_STATE_DIR/sec-perm"

# ---- PostgreSQL -------------------------------------------------------------------
if [ -n "${ZETL_TEST_PG_URI:-}" ]; then
        db=secpg_t
        port=$ZETL_TEST_PG_PORT
        admin="${ZETL_TEST_PG_ADMIN_URI%/*}/postgres"
        adm() { PGOPTIONS="-c client_min_messages=warning" "$psql" "$1" -X -Atq -v ON_ERROR_STOP=1 -c "$2"; }
        drop_all() {
                adm "$admin" "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                              WHERE database = '$db' AND NOT active" >/dev/null &&
                        adm "$admin" "DROP DATABASE IF EXISTS $db WITH (FORCE)" &&
                        adm "$admin" "DROP ROLE IF EXISTS zetl_secrets"
        }
        drop_all || exit 1
        adm "$admin" "CREATE ROLE zetl_secrets LOGIN REPLICATION PASSWORD '$secret'" || exit 1
        adm "$admin" "CREATE DATABASE $db OWNER zetl_secrets" || exit 1
        adm "${ZETL_TEST_PG_ADMIN_URI%/*}/$db" "CREATE TABLE items (id int PRIMARY KEY, name text);
                ALTER TABLE items OWNER TO zetl_secrets;
                INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 20) g" || exit 1
        # synchronous_commit on: --once stops at the WAL the server has flushed.
        pg_insert() { adm "${ZETL_TEST_PG_ADMIN_URI%/*}/$db" "SET synchronous_commit = on; INSERT INTO items VALUES ($1, 'new')"; }
        nopw="postgresql://zetl_secrets@127.0.0.1:$port/$db"
        filter="include: $db.public.*"

        # The password in the URI: printed nowhere.
        uri="postgresql://zetl_secrets:$secret_enc@127.0.0.1:$port/$db"
        "$zetl" create-integration --integration-name sec-pg-uri --source "$uri" \
                --target "jsonl:$work/pg-uri.jsonl" --data-filter "$filter" --option "api_token=$token" \
                --log-level debug >"$work/pg-create.out" 2>"$work/pg-create.err"
        check "postgres: create-integration with the password in the URI exits 0" test $? -eq 0
        "$zetl" run sec-pg-uri --once --log-level debug --log-format json \
                --metrics-file "$work/pg.prom" >"$work/pg-run1.out" 2>"$work/pg-run1.err"
        check "postgres: run --once --log-format json exits 0" test $? -eq 0
        pg_insert 100
        "$zetl" run sec-pg-uri --once --log-level debug --metrics-file "$work/pg.prom" \
                >"$work/pg-run2.out" 2>"$work/pg-run2.err"
        check "postgres: run --once (text log, streaming) exits 0" test $? -eq 0
        check "postgres: the rows arrived (20 + 1)" test "$(changes "$work/pg-uri.jsonl")" -eq 21
        check "postgres: the metrics file was written" test -s "$work/pg.prom"
        "$zetl" describe-integrations --integration-identifier sec-pg-uri >"$work/pg-describe.json" 2>&1
        check "postgres: describe shows the password as ***" jqe \
                '.Integrations[0].Source | startswith("postgresql://zetl_secrets:***@")' "$work/pg-describe.json"
        check "postgres: describe shows api_token as ***" \
                jqe '.Integrations[0].Options.api_token == "***"' "$work/pg-describe.json"
        "$zetl" check --source "$uri" --data-filter "$filter" >"$work/pg-check.txt" 2>&1
        "$zetl" check --source "$uri" --data-filter "$filter" --output json >"$work/pg-check.json" 2>&1
        # A wrong password: the error names the user, never the password.
        "$zetl" create-integration --integration-name sec-pg-wrong \
                --source "postgresql://zetl_secrets:$wrong@127.0.0.1:$port/$db" \
                --target "jsonl:$work/x.jsonl" --data-filter "$filter" >"$work/pg-wrong.out" 2>&1
        check "postgres: a wrong password fails" test $? -ne 0
        check "... saying authentication failed" grep -q 'password authentication failed' "$work/pg-wrong.out"
        logs+=("$work"/pg-create.* "$work"/pg-run*.* "$work/pg.prom" "$work/pg-describe.json"
                "$work"/pg-check.* "$work/pg-wrong.out")
        # A positive control: the search finds the %-encoded password where it is.
        check "postgres: definition.json holds the URI with its password (the search works)" \
                test "$(leaks "$ZETL_STATE_DIR/sec-pg-uri/definition.json")" = "$ZETL_STATE_DIR/sec-pg-uri/definition.json"
        no_leak_but_definition "postgres: no state file but definition.json holds the password or token" \
                "$ZETL_STATE_DIR/sec-pg-uri"
        check "postgres: definition.json, which holds the URI, is 0600" \
                test "$(stat -c %a "$ZETL_STATE_DIR/sec-pg-uri/definition.json")" = 600

        # libpq's passfile= (pgpass format: host:port:db:user:password).
        printf '127.0.0.1:%s:%s:zetl_secrets:%s\n' "$port" "$db" "$secret" >"$work/pgpass"
        chmod 600 "$work/pgpass"
        "$zetl" create-integration --integration-name sec-pg-passfile --source "$nopw?passfile=$work/pgpass" \
                --target "jsonl:$work/pg-passfile.jsonl" --data-filter "$filter" \
                >"$work/pg-passfile.out" 2>&1
        check "postgres: create-integration with passfile= exits 0" test $? -eq 0
        "$zetl" run sec-pg-passfile --once >>"$work/pg-passfile.out" 2>&1
        pg_insert 101
        "$zetl" run sec-pg-passfile --once >>"$work/pg-passfile.out" 2>&1
        check "postgres: run --once with passfile= (SQL and replication) exits 0" test $? -eq 0
        check "postgres: ... and the rows arrived" test "$(changes "$work/pg-passfile.jsonl")" -eq 22
        no_leak "postgres: with passfile= the state directory holds no password" \
                "$ZETL_STATE_DIR/sec-pg-passfile"
        chmod 644 "$work/pgpass"
        timeout 30 "$zetl" run sec-pg-passfile --once >/dev/null 2>"$work/pg-passfile-open.err"
        rc=$?
        check "postgres: a world-readable passfile is ignored by libpq, the run fails (exit 1 or 2)" \
                test "$rc" -eq 1 -o "$rc" -eq 2
        check "... with libpq's warning about its permissions" \
                grep -q 'has group or world access' "$work/pg-passfile-open.err"
        chmod 600 "$work/pgpass"
        logs+=("$work/pg-passfile.out" "$work/pg-passfile-open.err")

        # $PGPASSWORD.
        PGPASSWORD=$secret "$zetl" create-integration --integration-name sec-pg-env --source "$nopw" \
                --target "jsonl:$work/pg-env.jsonl" --data-filter "$filter" >"$work/pg-env.out" 2>&1
        check "postgres: create-integration with \$PGPASSWORD exits 0" test $? -eq 0
        PGPASSWORD=$secret "$zetl" run sec-pg-env --once >>"$work/pg-env.out" 2>&1
        check "postgres: run --once with \$PGPASSWORD exits 0" test $? -eq 0
        check "postgres: ... and the rows arrived" test "$(changes "$work/pg-env.jsonl")" -eq 22
        no_leak "postgres: with \$PGPASSWORD the state directory holds no password" \
                "$ZETL_STATE_DIR/sec-pg-env"
        timeout 30 "$zetl" run sec-pg-env --once >/dev/null 2>"$work/pg-env-none.err"
        rc=$?
        check "postgres: without \$PGPASSWORD the run fails (exit 1 or 2)" test "$rc" -eq 1 -o "$rc" -eq 2
        check "... saying no password was supplied" grep -q 'no password supplied' "$work/pg-env-none.err"
        logs+=("$work/pg-env.out" "$work/pg-env-none.err")

        PGPASSWORD=$secret "$zetl" delete-integration --integration-identifier sec-pg-env >/dev/null 2>&1
        for i in sec-pg-uri sec-pg-passfile; do
                "$zetl" delete-integration --integration-identifier "$i" >"$work/pg-delete-$i.out" 2>&1
                logs+=("$work/pg-delete-$i.out")
        done
        drop_all
else
        echo "# postgres: no ZETL_TEST_PG_URI; its checks are skipped"
fi

# ---- MariaDB ------------------------------------------------------------------------
if [ -n "${ZETL_TEST_MY_URI:-}" ]; then
        db=secmy_t
        port=$ZETL_TEST_MY_PORT
        sql() { mariadb --defaults-file="$ZETL_TEST_MY_CNF" -N -B "$@"; }
        sql -e "SET SESSION sql_log_bin = 0; DROP USER IF EXISTS 'zetl_secrets'@'127.0.0.1';
                CREATE USER 'zetl_secrets'@'127.0.0.1' IDENTIFIED BY '$secret';
                GRANT ALL PRIVILEGES ON *.* TO 'zetl_secrets'@'127.0.0.1';
                DROP DATABASE IF EXISTS $db; CREATE DATABASE $db" || exit 1
        sql "$db" -e "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40));
                      INSERT INTO items SELECT seq, 'item' FROM seq_1_to_20" || exit 1
        nopw="mysql://zetl_secrets@127.0.0.1:$port/$db"
        filter="include: $db.*"

        # password-file=FILE
        pwf="$work/my-password"
        printf '%s\n' "$secret" >"$pwf"
        chmod 600 "$pwf"
        "$zetl" create-integration --integration-name sec-my-file --source "$nopw?password-file=$pwf" \
                --target "jsonl:$work/my-file.jsonl" --data-filter "$filter" >"$work/my-file.out" 2>&1
        check "mariadb: create-integration with password-file= exits 0" test $? -eq 0
        "$zetl" run sec-my-file --once >>"$work/my-file.out" 2>&1
        sql "$db" -e "INSERT INTO items VALUES (100, 'new')"
        "$zetl" run sec-my-file --once >>"$work/my-file.out" 2>&1
        check "mariadb: run --once with password-file= (snapshot and binlog) exits 0" test $? -eq 0
        check "mariadb: ... and the rows arrived" test "$(changes "$work/my-file.jsonl")" -eq 21
        "$zetl" describe-integrations --integration-identifier sec-my-file >"$work/my-file-describe.json" 2>&1
        # shellcheck disable=SC2016 # $p is jq's
        check "mariadb: describe shows the password-file path, not a password" jqe \
                --arg p "$pwf" '.Integrations[0].Source | endswith("?password-file=" + $p)' \
                "$work/my-file-describe.json"
        no_leak "mariadb: with password-file= the state directory holds no password" \
                "$ZETL_STATE_DIR/sec-my-file"
        for mode in 640 604 644; do
                chmod "$mode" "$pwf"
                "$zetl" run sec-my-file --once >/dev/null 2>"$work/my-file-open.err"
                refused "mariadb: run refuses a password-file at mode $mode, naming the chmod" \
                        "chmod 600 $pwf" $? "$work/my-file-open.err"
        done
        "$zetl" create-integration --integration-name sec-my-file2 --source "$nopw?password-file=$pwf" \
                --target "jsonl:$work/x.jsonl" --data-filter "$filter" >/dev/null 2>"$work/my-file-create.err"
        rc=$?
        refused "mariadb: create-integration refuses a world-readable password-file" \
                "is accessible by group or others (mode 0644); run: chmod 600 $pwf" $rc "$work/my-file-create.err"
        check "... in one line" test "$(wc -l <"$work/my-file-create.err")" -eq 1
        chmod 600 "$pwf"
        "$zetl" create-integration --integration-name sec-my-file3 \
                --source "mysql://zetl_secrets:$secret_enc@127.0.0.1:$port/$db?password-file=$pwf" \
                --target "jsonl:$work/x.jsonl" --data-filter "$filter" >/dev/null 2>"$work/my-file-both.err"
        refused "mariadb: a password and password-file together are a usage error" \
                "both a password and password-file" $? "$work/my-file-both.err"
        logs+=("$work/my-file.out" "$work/my-file-describe.json" "$work/my-file-open.err"
                "$work/my-file-create.err" "$work/my-file-both.err")

        # $MYSQL_PWD, which Connector/C reads when the URI has no password.
        MYSQL_PWD=$secret "$zetl" create-integration --integration-name sec-my-env --source "$nopw" \
                --target "jsonl:$work/my-env.jsonl" --data-filter "$filter" >"$work/my-env.out" 2>&1
        check "mariadb: create-integration with \$MYSQL_PWD exits 0" test $? -eq 0
        MYSQL_PWD=$secret "$zetl" run sec-my-env --once >>"$work/my-env.out" 2>&1
        check "mariadb: run --once with \$MYSQL_PWD exits 0" test $? -eq 0
        check "mariadb: ... and the rows arrived" test "$(changes "$work/my-env.jsonl")" -eq 21
        no_leak "mariadb: with \$MYSQL_PWD the state directory holds no password" "$ZETL_STATE_DIR/sec-my-env"
        logs+=("$work/my-env.out")

        # The password in the URI: printed nowhere.
        uri="mysql://zetl_secrets:$secret_enc@127.0.0.1:$port/$db"
        "$zetl" create-integration --integration-name sec-my-uri --source "$uri" \
                --target "jsonl:$work/my-uri.jsonl" --data-filter "$filter" --option "api_token=$token" \
                --log-level debug >"$work/my-create.out" 2>"$work/my-create.err"
        check "mariadb: create-integration with the password in the URI exits 0" test $? -eq 0
        "$zetl" run sec-my-uri --once --log-level debug --log-format json \
                --metrics-file "$work/my.prom" >"$work/my-run1.out" 2>"$work/my-run1.err"
        check "mariadb: run --once --log-format json exits 0" test $? -eq 0
        "$zetl" describe-integrations >"$work/my-describe.json" 2>&1
        "$zetl" describe-integrations --output table >"$work/my-describe.txt" 2>&1
        check "mariadb: describe shows the password as ***" jqe \
                '.Integrations[] | select(.IntegrationName == "sec-my-uri") | .Source | startswith("mysql://zetl_secrets:***@")' \
                "$work/my-describe.json"
        "$zetl" check --source "$uri" --data-filter "$filter" --output json >"$work/my-check.json" 2>&1
        "$zetl" create-integration --integration-name sec-my-wrong \
                --source "mysql://zetl_secrets:$wrong@127.0.0.1:$port/$db" \
                --target "jsonl:$work/x.jsonl" --data-filter "$filter" >"$work/my-wrong.out" 2>&1
        check "mariadb: a wrong password fails with access denied" grep -q 'Access denied' "$work/my-wrong.out"
        no_leak_but_definition "mariadb: no state file but definition.json holds the password or token" \
                "$ZETL_STATE_DIR/sec-my-uri"
        logs+=("$work"/my-create.* "$work"/my-run1.* "$work/my.prom" "$work"/my-describe.*
                "$work/my-check.json" "$work/my-wrong.out")

        for i in sec-my-file sec-my-env sec-my-uri; do
                "$zetl" delete-integration --integration-identifier "$i" >/dev/null 2>&1
        done
        sql -e "SET SESSION sql_log_bin = 0; DROP USER IF EXISTS 'zetl_secrets'@'127.0.0.1';
                DROP DATABASE IF EXISTS $db"
else
        echo "# mariadb: no ZETL_TEST_MY_URI; its checks are skipped"
fi

# Everything printed, logged or written as metrics above, and the whole
# describe output of what is left.
"$zetl" describe-integrations >"$work/final-describe.json" 2>&1
"$zetl" describe-integrations --output table >"$work/final-describe.txt" 2>&1
logs+=("$work/final-describe.json" "$work/final-describe.txt")
all_exist() { local f; for f; do [ -e "$f" ] || return 1; done; }
check "every output checked for secrets exists (${#logs[@]} files)" all_exist "${logs[@]}"
no_leak "no output, log or metrics file holds a password or token (${#logs[@]} files)" "${logs[@]}"
no_leak_but_definition "no state file but definition.json holds a password or token" "$ZETL_STATE_DIR"

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
