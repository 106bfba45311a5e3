#!/usr/bin/env bash
# MariaDB/MySQL into a PostgreSQL warehouse: schema shop (docs/warehouse.md), personal columns kept on the source by the filter file.
set -euo pipefail
: "${SOURCE:=mysql://zetl@db.internal/shop?password-file=/etc/zetl/my.pw}"
: "${TARGET:=postgresql://zetl@warehouse.internal/analytics?passfile=/etc/zetl/pgpass}"
zetl check --source "$SOURCE"
zetl check --target "$TARGET"
zetl create-integration --integration-name mysql-to-warehouse --source "$SOURCE" --target "$TARGET" \
        --filter-file "$(dirname "$0")/../filters/pii-mysql.filter"
zetl run mysql-to-warehouse --once
zetl describe-integrations --integration-identifier mysql-to-warehouse --output table
