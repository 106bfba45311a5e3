/*
 * Source positions. `order` is the 64-bit number that orders the changes of a
 * row (PostgreSQL: the LSN; MySQL: binlog file sequence << 32 | offset); it is
 * what sinks store (OpenSearch external version, Iceberg/warehouse ordering
 * key). `token` is the source's own resume text (PostgreSQL: "0/16B3748";
 * MySQL: "mariadb-bin.000003:1234 gtid=0-1-9"), opaque to the core.
 *
 * The core keeps four positions per integration, never to be confused:
 * received (read from the source), written (handed to the sink), committed
 * (durable in the target) and acknowledged (confirmed back to the source).
 */
#ifndef ZETL_POSITION_H
#define ZETL_POSITION_H

#include <stdbool.h>
#include <stdint.h>

#define ZETL_POS_TOKEN_MAX 256

struct zetl_position {
        uint64_t order;  /* 0: no position yet */
        int64_t time_us; /* source commit time, unix µs; 0 when unknown (for lag) */
        char token[ZETL_POS_TOKEN_MAX];
};

static inline bool zetl_pos_is_set(const struct zetl_position *p)
{
        return p->order != 0 || p->token[0] != '\0';
}
/* Set order and token (token truncated to fit; NULL means ""). */
void zetl_pos_set(struct zetl_position *p, uint64_t order, const char *token);
/* PostgreSQL LSN text "X/Y" <-> 64-bit. Parse returns 0 or ZETL_EINVAL. */
int zetl_lsn_parse(const char *s, uint64_t *out);
void zetl_lsn_format(uint64_t lsn, char *buf, size_t len);

#endif
