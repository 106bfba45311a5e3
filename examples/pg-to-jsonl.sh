#!/usr/bin/env bash
# Replicate the tables of a PostgreSQL database into a change log.
# Prerequisites zetl checks and explains: wal_level=logical, a free slot and
# WAL sender, a role with REPLICATION (a superuser's publication also picks
# up tables created later).
set -euo pipefail
: "${SOURCE:=postgresql://zetl:secret@127.0.0.1:5432/shop}"
: "${TARGET:=jsonl:/var/lib/zetl/shop.jsonl}"

zetl create-integration --integration-name shop \
        --source "$SOURCE" --target "$TARGET" \
        --filter-file "$(dirname "$0")/filters.conf" \
        --option snapshot-workers=2 \
        --description "shop database into a change log"
zetl run shop --once          # initial sync, then catch up and exit
zetl describe-integrations --output table
# For ever, under systemd: systemctl enable --now zetl@shop
