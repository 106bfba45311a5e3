#!/usr/bin/env bash
# PostgreSQL into Amazon Redshift: staging by multi-row INSERT, SUPER for json, Redshift's type limits (docs/warehouse.md). Not run here: no Redshift is reachable; its SQL is golden-tested.
set -euo pipefail
: "${SOURCE:=postgresql://zetl@db.internal/shop?passfile=/etc/zetl/pgpass}"
: "${TARGET:=postgresql://zetl@cluster.example.redshift.amazonaws.com:5439/dev?dialect=redshift&sslmode=verify-full}"
zetl check --source "$SOURCE"
zetl check --target "$TARGET"
zetl create-integration --integration-name pg-to-redshift --source "$SOURCE" --target "$TARGET" \
        --data-filter 'include: shop.public.*'
zetl run pg-to-redshift --once
zetl describe-integrations --integration-identifier pg-to-redshift --output table
