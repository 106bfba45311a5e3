#!/usr/bin/env bash
# PostgreSQL into a PostgreSQL warehouse: schema shop_public, MERGE per batch, exactly-once through _zetl.checkpoints (docs/warehouse.md).
set -euo pipefail
: "${SOURCE:=postgresql://zetl@db.internal/shop?passfile=/etc/zetl/pgpass}"
: "${TARGET:=postgresql://zetl@warehouse.internal/analytics?passfile=/etc/zetl/pgpass}"
zetl check --source "$SOURCE"
zetl check --target "$TARGET"
zetl create-integration --integration-name pg-to-warehouse --source "$SOURCE" --target "$TARGET" \
        --filter-file "$(dirname "$0")/../filters/shop-pg.filter"
zetl run pg-to-warehouse --once
zetl describe-integrations --integration-identifier pg-to-warehouse --output table
