#!/usr/bin/env bash
# PostgreSQL into Iceberg v2 tables at /srv/lake/shop/public/<table> (docs/iceberg.md); read them with DuckDB, Spark or Trino; zetl compact folds the equality deletes.
set -euo pipefail
: "${SOURCE:=postgresql://zetl@db.internal/shop?passfile=/etc/zetl/pgpass&sslmode=verify-full&sslrootcert=/etc/zetl/ca.crt}"
: "${TARGET:=iceberg:/srv/lake}"
zetl check --source "$SOURCE"
zetl check --target "$TARGET"
zetl create-integration --integration-name pg-to-iceberg --source "$SOURCE" --target "$TARGET" \
        --data-filter 'include: shop.public.*' --option commit-interval-ms=10000
zetl run pg-to-iceberg --once
zetl describe-integrations --integration-identifier pg-to-iceberg --output table
