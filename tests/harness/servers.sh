#!/usr/bin/env bash
# Throwaway PostgreSQL 15 and MariaDB 10.11 servers for zetl's integration
# tests. Everything lives under one directory (data, sockets, logs, pid files,
# a sourceable env file) on free loopback ports, so it never touches or
# depends on a system server that the Debian packages may have started.
#
#   servers.sh start DIR [pg|mysql|all]   create DIR, start fresh servers, write DIR/env
#   servers.sh restart DIR pg|mysql|all   stop and start again on the same port and data
#   servers.sh stop DIR                   stop whatever runs from DIR (safe to repeat)
#   servers.sh env DIR                    print DIR/env
#
# Needs root: PostgreSQL refuses to run as root and only root can switch to the
# postgres user with runuser; MariaDB runs as root (user=root). Exits 77
# (skip) when not root or when the server packages are missing.
#
# TLS: start makes a throwaway CA and a server certificate it signs (DIR/tls,
# SAN localhost, 127.0.0.1, ::1) and both servers offer TLS with it; plain
# connections keep working for every user but zetl_tls, which both servers
# admit over TLS only. Without openssl, or with ZETL_TEST_TLS=0 in the
# environment of start (say, to measure without encryption), the servers start
# without TLS and the ZETL_TEST_*TLS* variables are not written.
set -euo pipefail
# Without job control a background job is not a process-group leader, so
# setsid(1) execs in place instead of forking and $! is mariadbd itself.
set +m

readonly PG_BIN=/usr/lib/postgresql/15/bin
readonly TEST_PW=zetl-test-pw
# Below Linux's ephemeral range (32768+): a port an outgoing connection
# happens to hold cannot be bound even though nothing listens on it.
readonly PORT_LO=20000 PORT_SPAN=12000
# Seconds a server may take to answer after launch (overridable for slow machines).
readonly START_TIMEOUT=${ZETL_TEST_START_TIMEOUT:-60} MY_STOP_TIMEOUT=30
# Set by tls_make at start: whether the servers started now get TLS.
TLS_ON=0

prog=${0##*/}

say() {
        printf '%s: %s\n' "$prog" "$*"
}

die() {
        printf '%s: error: %s\n' "$prog" "$*" >&2
        exit 1
}

skip() {
        printf '%s: skip: %s\n' "$prog" "$*" >&2
        exit 77
}

usage() {
        echo "usage: $prog start DIR [pg|mysql|all] | restart DIR pg|mysql|all | stop DIR | env DIR" >&2
        exit 2
}

now_us() {
        echo "${EPOCHREALTIME/./}"
}

# Seconds with one decimal since a now_us timestamp.
since() {
        local us=$(($(now_us) - $1))
        printf '%d.%d' $((us / 1000000)) $((us / 100000 % 10))
}

require_root() {
        (($(id -u) == 0)) && return 0
        skip "needs root: PostgreSQL refuses to run as root, so the harness starts it as the" \
                "postgres user with runuser, which only root can do (run as root)"
}

require_packages() {
        local f
        for f in "$PG_BIN/initdb" "$PG_BIN/pg_ctl" "$PG_BIN/psql" "$MARIADBD" \
                "$(command -v mariadb-install-db || echo mariadb-install-db)" \
                "$(command -v mariadb-admin || echo mariadb-admin)" \
                "$(command -v mariadb || echo mariadb)"; do
                [[ -x $f ]] || skip "$f not found; install the test packages with scripts/deps.sh"
        done
        getent passwd postgres >/dev/null || skip "no postgres user; install postgresql-15"
}

# All paths derive from DIR, so stop and restart need nothing but DIR.
set_paths() {
        D=$(realpath -m -- "$1")
        # The path goes unquoted into config files and URIs.
        [[ $D =~ ^[A-Za-z0-9._/+-]+$ ]] || die "DIR must match [A-Za-z0-9._/+-]+: $D"
        PG_DIR=$D/pg
        PG_DATA=$PG_DIR/data
        PG_LOG=$PG_DIR/log
        PG_SOCK=$D/pgsock
        PG_PIDFILE=$PG_DATA/postmaster.pid
        PG_PORTFILE=$D/pg.port
        MY_DIR=$D/my
        MY_DATA=$MY_DIR/data
        MY_BINLOG=$MY_DIR/binlog
        MY_SOCK=$MY_DIR/sock
        MY_CNF=$MY_DIR/my.cnf
        MY_CLIENT_CNF=$MY_DIR/client.cnf
        MY_PIDFILE=$MY_DIR/mariadbd.pid
        MY_LAUNCHPID=$MY_DIR/launch.pid
        MY_ERRLOG=$MY_DIR/error.log
        MY_PORTFILE=$D/my.port
        TLS_DIR=$D/tls
        TLS_CA=$TLS_DIR/ca.crt
        TLS_CERT=$TLS_DIR/server.crt
        TLS_KEY=$TLS_DIR/server.key
        ENV_FILE=$D/env
        # sun_path holds 107 bytes; both servers fail obscurely past it.
        ((${#PG_SOCK} + 20 <= 107 && ${#MY_SOCK} <= 107)) ||
                die "DIR is too long for unix socket paths (107 bytes): $D"
}

# Alive and not a zombie: an orphaned server nobody reaps stays in /proc.
pid_alive() {
        local stat
        [[ $1 =~ ^[0-9]+$ ]] || return 1
        # read, not $(<...): bash -e exits outright when $(<file) cannot open
        # the file, even where the failure is tested.
        read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
        stat=${stat##*) }
        [[ ${stat%% *} != Z ]]
}

# Guards against a recycled PID: only signal a process started from DIR.
pid_is_ours() {
        pid_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

wait_gone() {
        local pid=$1 deadline=$((SECONDS + $2))
        while pid_alive "$pid"; do
                ((SECONDS < deadline)) || return 1
                sleep 0.1
        done
}

# A successful connect means something already listens there.
port_is_free() {
        ! timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

pick_port() {
        local i port
        for ((i = 0; i < 100; i++)); do
                port=$((PORT_LO + ($$ * 7 + RANDOM + i * 7919) % PORT_SPAN))
                [[ " $* " == *" $port "* ]] && continue
                port_is_free "$port" && {
                        echo "$port"
                        return 0
                }
        done
        die "no free loopback port found in $PORT_LO-$((PORT_LO + PORT_SPAN - 1))"
}

file_size() {
        stat -c %s "$1" 2>/dev/null || echo 0
}

# Prints what a log gained since byte offset $2, to judge why a start failed.
log_since() {
        tail -c +$(($2 + 1)) "$1" 2>/dev/null || true
}

print_log_tail() {
        echo "---- last 30 lines of $1 ----" >&2
        tail -n 30 "$1" >&2 2>/dev/null || true
        echo "----" >&2
}

# ----------------------------------------------------------------------- TLS

tls_ready() {
        [[ -f $TLS_CA && -f $TLS_CERT && -f $TLS_KEY ]]
}

# A CA valid for a day and a server certificate it signs, both made afresh so
# no test trusts anything outside DIR. EC P-256: key generation takes
# milliseconds where RSA takes noticeably longer. A second start on the same
# DIR (pg, then mysql) reuses them.
tls_make() {
        local t0 log=$D/tls-openssl.log
        TLS_ON=0
        if [[ ${ZETL_TEST_TLS:-1} == 0 ]]; then
                say "ZETL_TEST_TLS=0: the servers start without TLS"
                return 0
        fi
        if tls_ready; then
                TLS_ON=1
                return 0
        fi
        if ! command -v openssl >/dev/null; then
                say "openssl not found: the servers start without TLS (scripts/deps.sh installs it)"
                return 0
        fi
        t0=$(now_us)
        rm -rf "$TLS_DIR"
        mkdir -m 700 "$TLS_DIR"
        cat >"$TLS_DIR/server.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
EOF
        # umask 077: the keys are 0600 from the moment they exist.
        if ! (
                umask 077
                cd "$TLS_DIR"
                openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
                        -subj "/CN=zetl harness test CA" -keyout ca.key -out ca.crt \
                        -addext "basicConstraints = critical, CA:TRUE" \
                        -addext "keyUsage = critical, keyCertSign, cRLSign" &&
                        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                                -subj "/CN=localhost" -keyout server.key -out server.csr &&
                        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
                                -set_serial "0x$(openssl rand -hex 8)" -days 1 \
                                -extfile server.ext -out server.crt
        ) >"$log" 2>&1; then
                print_log_tail "$log"
                die "openssl failed to make the test CA and server certificate"
        fi
        chmod 600 "$TLS_DIR/ca.key" "$TLS_DIR/server.key"
        chmod 644 "$TLS_CA" "$TLS_CERT"
        rm -f "$TLS_DIR/server.csr"
        TLS_ON=1
        say "tls: test CA $TLS_CA and a server certificate for localhost, 127.0.0.1, ::1 ($(since "$t0") s)"
}

# ---------------------------------------------------------------- PostgreSQL

pg_write_conf() {
        cat >"$PG_DATA/zetl-harness.conf" <<EOF
# Written by tests/harness/servers.sh; included from postgresql.conf.
port = $1
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_SOCK'
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
# Throwaway data: crash safety buys nothing here, and fsyncs would dominate
# the many small transactions the tests write.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
        # Copies inside the data directory: PostgreSQL runs as postgres and
        # wants its key owned by itself and private; DIR/tls is root's.
        if [[ -f $PG_DATA/server.key ]]; then
                cat >>"$PG_DATA/zetl-harness.conf" <<'EOF'
# TLS with the harness's test CA (DIR/tls); plain connections stay allowed
# except for zetl_tls (pg_hba.conf).
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'root.crt'
EOF
        fi
        chown postgres: "$PG_DATA/zetl-harness.conf"
        echo "$1" >"$PG_PORTFILE"
}

pg_init() {
        mkdir -p "$PG_DIR" "$PG_SOCK"
        chown postgres: "$PG_DIR" "$PG_SOCK"
        chmod 700 "$PG_DIR"
        runuser -u postgres -- test -w "$PG_DIR" ||
                die "the postgres user cannot reach $PG_DIR; make the parents of $D traversable (chmod o+x)"
        # --no-sync: same reasoning as fsync=off.
        if ! runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust \
                -E UTF8 --locale=C.UTF-8 --no-sync >"$PG_DIR/initdb.log" 2>&1; then
                print_log_tail "$PG_DIR/initdb.log"
                die "initdb failed"
        fi
        # Local sockets and the postgres user over TCP are trusted (admin URI);
        # everyone else must give a password over TCP, so the tests exercise
        # zetl's real authentication path. zetl_tls may connect over TLS only,
        # for SQL and replication alike ("all" does not match replication).
        {
                cat <<'EOF'
# Written by tests/harness/servers.sh.
local   all             all                             trust
local   replication     all                             trust
host    all             postgres        127.0.0.1/32    trust
host    replication     postgres        127.0.0.1/32    trust
EOF
                if ((TLS_ON)); then
                        cat <<'EOF'
hostssl   all           zetl_tls        127.0.0.1/32    scram-sha-256
hostssl   replication   zetl_tls        127.0.0.1/32    scram-sha-256
hostnossl all           zetl_tls        0.0.0.0/0       reject
hostnossl replication   zetl_tls        0.0.0.0/0       reject
EOF
                fi
                cat <<'EOF'
host    all             all             127.0.0.1/32    scram-sha-256
host    replication     all             127.0.0.1/32    scram-sha-256
EOF
        } >"$PG_DATA/pg_hba.conf"
        if ((TLS_ON)); then
                install -o postgres -g postgres -m 600 "$TLS_KEY" "$PG_DATA/server.key"
                install -o postgres -g postgres -m 644 "$TLS_CERT" "$PG_DATA/server.crt"
                install -o postgres -g postgres -m 644 "$TLS_CA" "$PG_DATA/root.crt"
        fi
        echo "include 'zetl-harness.conf'" >>"$PG_DATA/postgresql.conf"
}

# Returns 0 when started, 1 on any failure, 3 when the port was taken.
pg_launch() {
        local off
        off=$(file_size "$PG_LOG")
        if runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w \
                -t "$START_TIMEOUT" -s start; then
                return 0
        fi
        log_since "$PG_LOG" "$off" | grep -q 'Address already in use' && return 3
        return 1
}

pg_create_objects() {
        "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$(<"$PG_PORTFILE")" \
                -U postgres -d postgres <<EOF || return 1
CREATE ROLE zetl LOGIN REPLICATION SUPERUSER PASSWORD '$TEST_PW';
CREATE DATABASE zetl_test OWNER zetl;
EOF
        [[ -f $PG_DATA/server.key ]] || return 0
        # Not a superuser: a publication of selected tables, which the role
        # owns, is what a TLS test needs (CREATE on the database for it).
        "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$(<"$PG_PORTFILE")" \
                -U postgres -d zetl_test <<EOF
CREATE ROLE zetl_tls LOGIN REPLICATION PASSWORD '$TEST_PW';
GRANT CREATE ON DATABASE zetl_test TO zetl_tls;
GRANT CREATE ON SCHEMA public TO zetl_tls;
EOF
}

pg_start_fresh() {
        local t0 i rc port
        t0=$(now_us)
        pg_init
        for ((i = 0; i < 5; i++)); do
                port=$(pick_port)
                pg_write_conf "$port"
                started_pg=1
                rc=0
                pg_launch || rc=$?
                ((rc == 0)) && break
                if ((rc != 3)); then
                        print_log_tail "$PG_LOG"
                        die "PostgreSQL did not start"
                fi
                say "postgres: port $port was taken meanwhile; trying another"
        done
        ((rc == 0)) || die "PostgreSQL found no free port in 5 tries"
        pg_create_objects || die "creating the zetl role and database in PostgreSQL failed"
        say "postgres 15 on 127.0.0.1:$port, socket dir $PG_SOCK ($(since "$t0") s)"
}

pg_stop() {
        local pid t0
        t0=$(now_us)
        pid=$(head -n 1 "$PG_PIDFILE" 2>/dev/null || true)
        if ! pid_is_ours "$pid" "$PG_DATA"; then
                [[ -d $PG_DIR ]] && say "postgres: not running"
                return 0
        fi
        if ! runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 -s stop; then
                say "postgres: pg_ctl stop failed; killing process group $pid"
                # pg_ctl made the postmaster a session leader: the group is ours.
                kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
                wait_gone "$pid" 10 || die "postgres pid $pid survived SIGKILL"
        fi
        say "postgres: stopped pid $pid ($(since "$t0") s)"
}

pg_restart() {
        local rc=0
        [[ -f $PG_PORTFILE && -d $PG_DATA ]] || die "no PostgreSQL in $D: use start"
        pg_stop
        pg_launch || rc=$?
        if ((rc != 0)); then
                print_log_tail "$PG_LOG"
                die "PostgreSQL did not restart on port $(<"$PG_PORTFILE")"
        fi
        say "postgres: restarted on 127.0.0.1:$(<"$PG_PORTFILE")"
}

# ------------------------------------------------------------------- MariaDB

my_write_cnf() {
        cat >"$MY_CNF" <<EOF
# Written by tests/harness/servers.sh. Read alone (--defaults-file), so
# nothing from /etc/mysql applies.
[mariadbd]
datadir=$MY_DATA
socket=$MY_SOCK
port=$1
bind-address=127.0.0.1
user=root
pid-file=$MY_PIDFILE
log-error=$MY_ERRLOG
server_id=1
log_bin=$MY_BINLOG/bin
binlog_format=ROW
binlog_row_image=FULL
binlog_row_metadata=FULL
skip-name-resolve
# Debian's packaged default, which /etc/mysql would otherwise have supplied.
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
# Throwaway data: flushing every commit only slows the tests down.
innodb_flush_log_at_trx_commit=2
sync_binlog=0
innodb_buffer_pool_size=128M
EOF
        # TLS with the harness's test CA; mariadbd runs as root and reads DIR/tls.
        if ((TLS_ON)); then
                cat >>"$MY_CNF" <<EOF
ssl_cert=$TLS_CERT
ssl_key=$TLS_KEY
ssl_ca=$TLS_CA
EOF
        fi
        cat >"$MY_CLIENT_CNF" <<EOF
# Written by tests/harness/servers.sh: root over the unix socket.
[client]
user=root
socket=$MY_SOCK
EOF
        echo "$1" >"$MY_PORTFILE"
}

my_init() {
        mkdir -p "$MY_DIR" "$MY_BINLOG"
        my_write_cnf "$1"
        if ! mariadb-install-db --defaults-file="$MY_CNF" --user=root \
                --auth-root-authentication-method=normal --skip-test-db \
                >"$MY_DIR/install-db.log" 2>&1; then
                print_log_tail "$MY_DIR/install-db.log"
                die "mariadb-install-db failed"
        fi
}

my_ping() {
        mariadb-admin --defaults-file="$MY_CLIENT_CNF" --connect-timeout=2 ping >/dev/null 2>&1
}

# Returns 0 when it answers, 1 on any failure, 3 when the port was taken.
my_launch() {
        local off pid deadline=$((SECONDS + START_TIMEOUT))
        off=$(file_size "$MY_ERRLOG")
        rm -f "$MY_PIDFILE"
        # Own session: a Ctrl-C meant for the test runner must not reach the
        # server before the runner's orderly stop.
        setsid "$MARIADBD" --defaults-file="$MY_CNF" </dev/null >>"$MY_ERRLOG" 2>&1 &
        pid=$!
        echo "$pid" >"$MY_LAUNCHPID"
        until my_ping; do
                if ! pid_alive "$pid"; then
                        log_since "$MY_ERRLOG" "$off" | grep -q 'Address already in use' && return 3
                        echo "$prog: mariadbd exited during startup" >&2
                        return 1
                fi
                if ((SECONDS >= deadline)); then
                        echo "$prog: mariadbd did not answer ping within $START_TIMEOUT s" >&2
                        my_stop >&2
                        return 1
                fi
                sleep 0.2
        done
}

my_create_objects() {
        # Kept out of the binlog so that it holds only what the tests write.
        mariadb --defaults-file="$MY_CLIENT_CNF" <<EOF
SET SESSION sql_log_bin = 0;
CREATE USER 'zetl'@'127.0.0.1' IDENTIFIED BY '$TEST_PW';
CREATE USER 'zetl'@'localhost' IDENTIFIED BY '$TEST_PW';
GRANT ALL PRIVILEGES ON *.* TO 'zetl'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'zetl'@'localhost';
CREATE DATABASE zetl_test;
EOF
        my_tls || return 0
        mariadb --defaults-file="$MY_CLIENT_CNF" <<EOF
SET SESSION sql_log_bin = 0;
CREATE USER 'zetl_tls'@'%' IDENTIFIED BY '$TEST_PW' REQUIRE SSL;
GRANT ALL PRIVILEGES ON *.* TO 'zetl_tls'@'%';
EOF
}

# Whether this MariaDB was configured with TLS (its config says so).
my_tls() {
        grep -q '^ssl_ca=' "$MY_CNF" 2>/dev/null
}

my_start_fresh() {
        local t0 i rc port
        t0=$(now_us)
        for ((i = 0; i < 5; i++)); do
                port=$(pick_port "$@")
                if ((i == 0)); then
                        my_init "$port"
                else
                        my_write_cnf "$port"
                fi
                started_my=1
                rc=0
                my_launch || rc=$?
                ((rc == 0)) && break
                if ((rc != 3)); then
                        print_log_tail "$MY_ERRLOG"
                        die "MariaDB did not start"
                fi
                say "mariadb: port $port was taken meanwhile; trying another"
        done
        ((rc == 0)) || die "MariaDB found no free port in 5 tries"
        my_create_objects || die "creating the zetl user and database in MariaDB failed"
        say "mariadb 10.11 on 127.0.0.1:$port, socket $MY_SOCK ($(since "$t0") s)"
}

my_stop() {
        local pid t0 p
        t0=$(now_us)
        # The pid file appears only once mariadbd is up; the launch PID
        # covers a start that failed before that.
        for p in "$(cat "$MY_PIDFILE" 2>/dev/null || true)" \
                "$(cat "$MY_LAUNCHPID" 2>/dev/null || true)"; do
                if pid_is_ours "$p" "--defaults-file=$MY_CNF"; then
                        pid=$p
                        break
                fi
        done
        if [[ -z ${pid:-} ]]; then
                [[ -d $MY_DIR ]] && say "mariadb: not running"
                rm -f "$MY_LAUNCHPID"
                return 0
        fi
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" "$MY_STOP_TIMEOUT"; then
                say "mariadb: pid $pid ignored SIGTERM for $MY_STOP_TIMEOUT s; killing it"
                kill -KILL "$pid" 2>/dev/null || true
                wait_gone "$pid" 10 || die "mariadbd pid $pid survived SIGKILL"
        fi
        rm -f "$MY_LAUNCHPID"
        say "mariadb: stopped pid $pid ($(since "$t0") s)"
}

my_restart() {
        local rc=0
        [[ -f $MY_PORTFILE && -d $MY_DATA ]] || die "no MariaDB in $D: use start"
        my_stop
        my_launch || rc=$?
        if ((rc != 0)); then
                print_log_tail "$MY_ERRLOG"
                die "MariaDB did not restart on port $(<"$MY_PORTFILE")"
        fi
        say "mariadb: restarted on 127.0.0.1:$(<"$MY_PORTFILE")"
}

# ------------------------------------------------------------------ commands

write_env() {
        local tmp=$ENV_FILE.tmp pg_port my_port
        {
                echo "# zetl test servers, written by tests/harness/servers.sh; source it."
                echo "export ZETL_TEST_DIR='$D'"
                if [[ -f $PG_PORTFILE ]]; then
                        pg_port=$(<"$PG_PORTFILE")
                        echo "export ZETL_TEST_PG_BINDIR='$PG_BIN'"
                        echo "export ZETL_TEST_PG_PORT='$pg_port'"
                        echo "export ZETL_TEST_PG_SOCKDIR='$PG_SOCK'"
                        echo "export ZETL_TEST_PG_URI='postgresql://zetl:$TEST_PW@127.0.0.1:$pg_port/zetl_test'"
                        echo "export ZETL_TEST_PG_ADMIN_URI='postgresql://postgres@127.0.0.1:$pg_port/zetl_test'"
                        echo "export ZETL_TEST_PG_PIDFILE='$PG_PIDFILE'"
                        echo "export ZETL_TEST_PG_LOG='$PG_LOG'"
                        if [[ -f $PG_DATA/server.key ]]; then
                                echo "export ZETL_TEST_PG_TLS_URI='postgresql://zetl_tls:$TEST_PW@127.0.0.1:$pg_port/zetl_test?sslmode=verify-full&sslrootcert=$TLS_CA'"
                        fi
                fi
                if [[ -f $MY_PORTFILE ]]; then
                        my_port=$(<"$MY_PORTFILE")
                        echo "export ZETL_TEST_MY_PORT='$my_port'"
                        echo "export ZETL_TEST_MY_SOCK='$MY_SOCK'"
                        echo "export ZETL_TEST_MY_URI='mysql://zetl:$TEST_PW@127.0.0.1:$my_port/zetl_test'"
                        echo "export ZETL_TEST_MY_CNF='$MY_CLIENT_CNF'"
                        echo "export ZETL_TEST_MY_PIDFILE='$MY_PIDFILE'"
                        echo "export ZETL_TEST_MY_LOG='$MY_ERRLOG'"
                        if my_tls; then
                                echo "export ZETL_TEST_MY_TLS_URI='mysql://zetl_tls:$TEST_PW@127.0.0.1:$my_port/zetl_test?ssl-mode=VERIFY_IDENTITY&ssl-ca=$TLS_CA'"
                        fi
                fi
                if tls_ready && { [[ -f $PG_DATA/server.key ]] || my_tls; }; then
                        echo "export ZETL_TEST_TLS_CA='$TLS_CA'"
                fi
        } >"$tmp"
        mv "$tmp" "$ENV_FILE"
}

# EXIT trap of start: stop whatever this run started when it fails partway.
# Files stay in DIR for the post-mortem.
start_cleanup() {
        local rc=$1
        set +e
        ((rc == 0)) && return
        echo "$prog: start failed; stopping what it started (logs stay in $D)" >&2
        ((started_my)) && my_stop >&2
        ((started_pg)) && pg_stop >&2
        exit "$rc"
}

cmd_start() {
        local which=$1 t0 pg_port=
        t0=$(now_us)
        require_root
        require_packages
        case $which in
        pg | mysql | all) ;;
        *) usage ;;
        esac
        if [[ $which != mysql && -e $PG_DIR ]]; then
                die "$PG_DIR exists: start wants a fresh DIR (restart reuses one)"
        fi
        if [[ $which != pg && -e $MY_DIR ]]; then
                die "$MY_DIR exists: start wants a fresh DIR (restart reuses one)"
        fi
        mkdir -p "$D"
        # The postgres user must traverse DIR (mktemp -d makes it 0700).
        chmod go+x "$D"
        started_pg=0
        started_my=0
        trap 'start_cleanup $?' EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        tls_make
        if [[ $which != mysql ]]; then
                pg_start_fresh
                pg_port=$(<"$PG_PORTFILE")
        fi
        if [[ $which != pg ]]; then
                # shellcheck disable=SC2086 # empty pg_port means no port to avoid
                my_start_fresh $pg_port
        fi
        write_env
        trap - EXIT INT TERM
        say "ready in $(since "$t0") s; source $ENV_FILE"
}

cmd_stop() {
        require_root
        if [[ ! -d $D ]]; then
                say "$D does not exist: nothing to stop"
                return 0
        fi
        # Both even if the first fails: stop must not leave a server behind.
        local rc=0
        (my_stop) || rc=$?
        (pg_stop) || rc=$?
        return "$rc"
}

cmd_restart() {
        require_root
        require_packages
        case $1 in
        pg) pg_restart ;;
        mysql) my_restart ;;
        all)
                pg_restart
                my_restart
                ;;
        *) usage ;;
        esac
}

cmd_env() {
        [[ -f $ENV_FILE ]] || die "$ENV_FILE does not exist: run '$prog start $D' first"
        cat "$ENV_FILE"
}

main() {
        (($# >= 2)) || usage
        local cmd=$1
        MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
        set_paths "$2"
        case $cmd in
        start)
                (($# <= 3)) || usage
                cmd_start "${3:-all}"
                ;;
        restart)
                (($# == 3)) || usage
                cmd_restart "$3"
                ;;
        stop)
                (($# == 2)) || usage
                cmd_stop
                ;;
        env)
                (($# == 2)) || usage
                cmd_env
                ;;
        *) usage ;;
        esac
}

main "$@"
