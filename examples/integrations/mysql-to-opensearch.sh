#!/usr/bin/env bash
# MariaDB/MySQL into OpenSearch (docs/opensearch.md).
set -euo pipefail
: "${SOURCE:=mysql://zetl@db.internal/shop?password-file=/etc/zetl/my.pw}"
: "${TARGET:=opensearch://search.internal:9200}"
zetl check --source "$SOURCE"
zetl check --target "$TARGET"
zetl create-integration --integration-name mysql-to-opensearch --source "$SOURCE" --target "$TARGET" \
        --data-filter 'include: shop.products'
zetl run mysql-to-opensearch --once
zetl describe-integrations --integration-identifier mysql-to-opensearch --output table
