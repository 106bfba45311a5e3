/*
 * Spill files for protocol 2's streamed transactions: PostgreSQL sends the
 * changes of a large transaction while it is still running, in blocks that
 * may interleave with other transactions, and it may still abort (wholly or
 * a subtransaction). zetl keeps each such transaction's messages in an
 * unlinked temporary file (memory stays bounded whatever its size) and
 * replays them, minus aborted subtransactions, when its Stream Commit
 * arrives. A crash loses the files, which is fine: the slot sends an
 * uncommitted transaction again.
 */
#ifndef ZETL_PG_SPILL_H
#define ZETL_PG_SPILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zetl/err.h"

struct pg_spill;

typedef int (*pg_spill_fn)(void *arg, uint64_t lsn, const uint8_t *msg, size_t len,
                           struct zetl_err *err);

/* Spill files go to dir (created 0700 if missing). */
int pg_spill_open(const char *dir, struct pg_spill **out, struct zetl_err *err);
void pg_spill_close(struct pg_spill *sp);
/* Keep one message of transaction xid (from subtransaction subxid). */
int pg_spill_append(struct pg_spill *sp, uint32_t xid, uint32_t subxid, uint64_t lsn,
                    const uint8_t *msg, size_t len, struct zetl_err *err);
/* Stream Abort: the whole transaction when subxid == xid, else that subtransaction. */
int pg_spill_abort(struct pg_spill *sp, uint32_t xid, uint32_t subxid, struct zetl_err *err);
/* Stream Commit: call fn for every kept message in order, then forget xid. */
int pg_spill_replay(struct pg_spill *sp, uint32_t xid, pg_spill_fn fn, void *arg,
                    struct zetl_err *err);
/* True when no transaction is held; when xid's messages are. */
bool pg_spill_empty(const struct pg_spill *sp);
bool pg_spill_holds(const struct pg_spill *sp, uint32_t xid);
/* Bytes held in spill files now (for tests and status). */
uint64_t pg_spill_bytes(const struct pg_spill *sp);

#endif
