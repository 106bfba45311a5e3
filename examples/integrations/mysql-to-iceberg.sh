#!/usr/bin/env bash
# MariaDB/MySQL into Iceberg at /srv/lake/shop/<table> (binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL recommended: zetl check --fix sets the dynamic ones).
set -euo pipefail
: "${SOURCE:=mysql://zetl@db.internal/shop?password-file=/etc/zetl/my.pw&ssl-mode=VERIFY_IDENTITY&ssl-ca=/etc/zetl/ca.crt}"
: "${TARGET:=iceberg:/srv/lake}"
zetl check --source "$SOURCE"
zetl check --target "$TARGET"
zetl create-integration --integration-name mysql-to-iceberg --source "$SOURCE" --target "$TARGET" \
        --data-filter 'include: shop.*'
zetl run mysql-to-iceberg --once
zetl describe-integrations --integration-identifier mysql-to-iceberg --output table
