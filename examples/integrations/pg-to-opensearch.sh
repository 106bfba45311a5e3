#!/usr/bin/env bash
# PostgreSQL into OpenSearch: one document per row, external versions from source positions, an alias per table (docs/opensearch.md).
set -euo pipefail
: "${SOURCE:=postgresql://zetl@db.internal/shop?passfile=/etc/zetl/pgpass}"
: "${TARGET:=opensearch+https://zetl@search.internal:9200}"
zetl check --source "$SOURCE"
zetl check --target "$TARGET"
zetl create-integration --integration-name pg-to-opensearch --source "$SOURCE" --target "$TARGET" \
        --data-filter 'include: shop.public.products' \
        --option password-file=/etc/zetl/os.pw --option ca-file=/etc/zetl/ca.crt
zetl run pg-to-opensearch --once
zetl describe-integrations --integration-identifier pg-to-opensearch --output table
