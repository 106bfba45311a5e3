#!/usr/bin/env bash
# Installs the Debian 12 packages zetl needs to build and test, and does
# nothing when they are all present, so CI and developers can run it every
# time. Never starts or stops a system database: if a package's postinst
# starts one (no policy-rc.d), it is left alone, because the test harness runs
# its own servers on its own ports and sockets.
set -euo pipefail

PACKAGES=(
        # build
        gcc make pkg-config
        # libraries zetl links against
        libpq-dev libmariadb-dev libjansson-dev libzstd-dev libcurl4-openssl-dev zlib1g-dev
        # unit tests
        libcmocka-dev
        # integration tests: servers run by tests/harness/servers.sh, and their clients
        postgresql-15 postgresql-client-15 mariadb-server mariadb-client
        # man page rendering checks
        groff-base
        # libFuzzer targets (make fuzz): clang and its fuzzer/sanitizer runtimes
        clang libclang-rt-14-dev
        # ss, pgrep and ps in the harness and tests; jq reads zetl's JSON output in tests
        iproute2 procps jq
        # curl: the metrics endpoint test
        curl
        # openssl: the harness's throwaway CA and server certificate (TLS tests)
        openssl
        # GNU time: peak memory in make bench
        time
        # interop readers (DuckDB, avsc, icebird)
        nodejs npm
)

# Virtual names count as present when an installed package provides them:
# NodeSource's nodejs provides (and conflicts with) npm, so asking apt for
# Debian's npm there would fail instead of doing nothing.
installed_provides() {
        dpkg-query -W -f='${Status}\t${Provides}\n' 2>/dev/null |
                awk -F'\t' '$1 == "install ok installed" && $2 != "" {
                        n = split($2, p, /, */)
                        for (i = 1; i <= n; i++) { sub(/ .*/, "", p[i]); print p[i] }
                }' | sort -u
}

missing_packages() {
        local p status provided
        provided=$(installed_provides)
        for p in "${PACKAGES[@]}"; do
                status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
                [[ $status == "install ok installed" ]] && continue
                grep -qxF -- "$p" <<<"$provided" && continue
                printf '%s\n' "$p"
        done
}

# The npm readers of tests/interop, pinned by its package-lock.json, into
# tests/interop/node_modules (not the system): reinstalled when the lock changes.
npm_readers() {
        local dir stamp
        dir="$(cd "$(dirname "$0")/.." && pwd)/tests/interop"
        stamp="$dir/node_modules/.zetl-lock"
        if [[ -f $stamp ]] && cmp -s "$dir/package-lock.json" "$stamp"; then
                echo "deps: npm readers present"
                return 0
        fi
        # npm ci refuses this lock (optional per-platform DuckDB bindings are not
        # recorded, an npm bug); install honours the lock all the same.
        (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
        cp "$dir/package-lock.json" "$stamp"
        echo "deps: npm readers installed in $dir/node_modules"
}

mapfile -t missing < <(missing_packages)
if ((${#missing[@]} == 0)); then
        echo "deps: all ${#PACKAGES[@]} packages present"
        npm_readers
        exit 0
fi

echo "deps: missing ${#missing[@]} of ${#PACKAGES[@]} packages: ${missing[*]}"
if (($(id -u) != 0)); then
        echo "deps: not root; run as root:" >&2
        echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 2
fi

# Wait for a dpkg lock held by unattended-upgrades on a fresh machine rather
# than failing at once.
apt_opts=(-q -o DPkg::Lock::Timeout=300)
apt-get "${apt_opts[@]}" update
DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y --no-install-recommends \
        "${missing[@]}"

mapfile -t still < <(missing_packages)
if ((${#still[@]} > 0)); then
        echo "deps: still missing after apt-get install: ${still[*]}" >&2
        exit 1
fi
echo "deps: installed ${missing[*]}"
npm_readers

if [[ -x /usr/sbin/policy-rc.d ]]; then
        echo "deps: note: /usr/sbin/policy-rc.d may have kept package services from starting;" \
                "the harness does not need them"
fi
for d in mariadbd postgres; do
        if pgrep -x "$d" >/dev/null; then
                echo "deps: note: a system $d is running; left alone (the harness uses its own" \
                        "ports and sockets)"
        fi
done
