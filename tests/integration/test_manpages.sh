#!/usr/bin/env bash
# Checks zetl's manual pages: every man/*.[1-8] renders with groff without a
# single warning, every command that `zetl --help` lists has its page
# man/zetl-<command>.1, every long option that `zetl <command> --help` prints
# is documented in that page, each page's .TH names its own file, and every
# zetl page a page refers to exists. Needs groff (Debian's groff-base).
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
zetl=${ZETL_BIN:-./zetl}

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

# A page's source without comment lines and with "\-" turned into "-", so an
# option matches whether the page escapes its hyphens or not.
page_text() {
        sed -e '/^[.'\'']\\"/d' -e 's/\\-/-/g' "$1"
}

# Long options ("--name") in a help text, one per line, sorted.
long_options() {
        grep -oE -- '--[a-z][a-z0-9-]*' <<<"$1" | sort -u || true
}

# Does page $1 mention option $2 as a whole word? (No "grep -q" in a pipe:
# its early exit would fail the pipe under pipefail.)
page_has_option() {
        local text

        text=$(page_text "$1")
        grep -E -- "(^|[^A-Za-z0-9-])$2(\$|[^A-Za-z0-9-])" <<<"$text" >/dev/null
}

check_options() {
        local page=$1 help=$2 what=$3 opt missing=""

        while IFS= read -r opt; do
                [[ -n $opt ]] || continue
                page_has_option "$page" "$opt" || missing+="$opt"$'\n'
        done < <(long_options "$help")
        if [[ -z $missing ]]; then
                ok "$page documents every long option of $what"
        else
                not_ok "$page documents every long option of $what" "missing: ${missing%$'\n'}"
        fi
}

if ! command -v groff >/dev/null 2>&1; then
        echo "skip: groff is not installed (apt-get install groff-base)"
        exit 77
fi

shopt -s nullglob
pages=(man/*.[1-8])
shopt -u nullglob
if ((${#pages[@]} == 0)); then
        not_ok "man/ holds manual pages" "no man/*.[1-8] file"
fi

# 1. Every page renders without a warning.
for page in "${pages[@]}"; do
        rc=0
        warnings=$(groff -ww -man -Tutf8 "$page" 2>&1 >/dev/null) || rc=$?
        if ((rc == 0)) && [[ -z $warnings ]]; then
                ok "$page renders without warnings"
        else
                not_ok "$page renders without warnings" "groff exit status $rc"$'\n'"$warnings"
        fi
done

# 2. The .TH line names the page's own file: NAME SECTION.
for page in "${pages[@]}"; do
        base=${page##*/}
        want_name=${base%.*}
        want_sec=${base##*.}
        th=$(page_text "$page" | grep '^\.TH ' | head -n 1 || true)
        read -r _ name sec _ <<<"$th" || true
        if [[ ${name,,} == "$want_name" && $sec == "$want_sec" ]]; then
                ok "$page has .TH ${want_name^^} $want_sec"
        else
                not_ok "$page has .TH ${want_name^^} $want_sec" "found: ${th:-no .TH line}"
        fi
done

# 3. Every zetl page referred to as .BR name (N) exists.
for page in "${pages[@]}"; do
        missing=""
        while IFS= read -r ref; do
                [[ -n $ref ]] || continue
                [[ -f man/$ref ]] || missing+="$ref"$'\n'
        done < <(page_text "$page" | grep -oE '^\.BR zetl(-[a-z]+)* \([1-8]\)' |
                sed -E 's/^\.BR ([a-z-]+) \(([1-8])\)$/\1.\2/' | sort -u || true)
        if [[ -z $missing ]]; then
                ok "$page refers only to pages that exist"
        else
                not_ok "$page refers only to pages that exist" "missing: ${missing%$'\n'}"
        fi
done

# 4. Commands and their options, as the binary describes them.
if [[ ! -x $zetl ]]; then
        not_ok "zetl binary $zetl is executable" "build it first (make), or set ZETL_BIN"
else
        rc=0
        top_help=$("$zetl" --help 2>&1) || rc=$?
        # The commands are the indented lines between "Commands:" and a blank line.
        commands=$(awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
                        on && /^  [a-z]/ { print $1 }' <<<"$top_help")
        if ((rc != 0)) || [[ -z $commands ]]; then
                not_ok "$zetl --help lists the commands" "exit status $rc"$'\n'"$top_help"
        else
                ok "$zetl --help lists the commands (${commands//$'\n'/ })"
                if [[ -f man/zetl.1 ]]; then
                        check_options man/zetl.1 "$top_help" "zetl --help"
                else
                        not_ok "man/zetl.1 exists"
                fi
        fi
        for cmd in $commands; do
                page=man/zetl-$cmd.1
                if [[ ! -f $page ]]; then
                        not_ok "command $cmd has its page $page"
                        continue
                fi
                ok "command $cmd has its page $page"
                rc=0
                help=$("$zetl" "$cmd" --help 2>&1) || rc=$?
                if ((rc != 0)) || [[ -z $(long_options "$help") ]]; then
                        not_ok "zetl $cmd --help prints its options" "exit status $rc"$'\n'"$help"
                        continue
                fi
                check_options "$page" "$help" "zetl $cmd --help"
        done
fi

echo "# $checks checks, $failures failed"
((failures == 0)) || exit 1
exit 0
