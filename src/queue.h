/*
 * The bounded queue between the source and sink threads, bounded by items
 * and by bytes so memory stays bounded whatever the transaction size. An item
 * larger than the byte bound is still accepted when the queue is empty, so a
 * single huge batch cannot deadlock the pipeline.
 */
#ifndef ZETL_QUEUE_H
#define ZETL_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "zetl/batch.h"
#include "zetl/position.h"
#include "zetl/schema.h"

enum zetl_item_kind {
        ZETL_IT_SCHEMA,         /* old (may be NULL) -> schema, with diff */
        ZETL_IT_BATCH,          /* batch */
        ZETL_IT_TRUNCATE,       /* schema, pos.order */
        ZETL_IT_SNAPSHOT_TABLE, /* schema: empty the table before its initial sync */
        ZETL_IT_COMMIT,         /* pos */
        ZETL_IT_SNAPSHOT_DONE,  /* pos: the initial sync is complete (a commit follows) */
        ZETL_IT_TABLE_ERROR,    /* schema or id, message */
        ZETL_IT_PROGRESS,       /* id, done, total */
        ZETL_IT_ROLLBACK,       /* discard what was written since the last commit */
        ZETL_IT_END,            /* the source has finished */
};

struct zetl_item {
        enum zetl_item_kind kind;
        struct zetl_batch *batch;
        const struct zetl_schema *old;
        const struct zetl_schema *schema;
        struct zetl_schema_diff diff;
        struct zetl_table_id id;
        struct zetl_position pos;
        char *message;
        int64_t done, total;
        size_t bytes;
        bool early; /* rows of a transaction not committed yet (zetl_emit_early_begin) */
        struct zetl_item *next;
};

struct zetl_queue {
        pthread_mutex_t mu;
        pthread_cond_t not_full;
        pthread_cond_t not_empty;
        struct zetl_item *head, *tail;
        size_t items, bytes;
        size_t max_items, max_bytes;
        bool closed; /* no more pushes accepted; pops drain what is left */
};

int zetl_queue_init(struct zetl_queue *q, size_t max_items, size_t max_bytes);
void zetl_queue_destroy(struct zetl_queue *q); /* frees items left */
/* Blocks while full. Returns 0, or ZETL_ECANCELED when the queue is closed
 * (the item is then freed). */
int zetl_queue_push(struct zetl_queue *q, struct zetl_item *it);
/* Blocks while empty; NULL when closed and empty. */
struct zetl_item *zetl_queue_pop(struct zetl_queue *q);
/* The same, waiting at most ms: NULL with *timed_out set when nothing came. */
struct zetl_item *zetl_queue_pop_wait(struct zetl_queue *q, long ms, bool *timed_out);
void zetl_queue_close(struct zetl_queue *q);
void zetl_item_free(struct zetl_item *it);

#endif
