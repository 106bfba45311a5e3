/* Bounded queue of pipeline items (see queue.h). */
#include <errno.h>
#include <time.h>
#include <stdlib.h>

#include "queue.h"

int zetl_queue_init(struct zetl_queue *q, size_t max_items, size_t max_bytes)
{
        q->head = q->tail = NULL;
        q->items = q->bytes = 0;
        q->max_items = max_items ? max_items : 16;
        q->max_bytes = max_bytes ? max_bytes : ((size_t)256 << 20);
        q->closed = false;
        if (pthread_mutex_init(&q->mu, NULL))
                return ZETL_ENOMEM;
        pthread_cond_init(&q->not_full, NULL);
        pthread_cond_init(&q->not_empty, NULL);
        return 0;
}

void zetl_item_free(struct zetl_item *it)
{
        if (!it)
                return;
        zetl_batch_free(it->batch);
        if (it->old)
                zetl_schema_unref(it->old);
        if (it->schema)
                zetl_schema_unref(it->schema);
        zetl_schema_diff_free(&it->diff);
        free(it->message);
        free(it);
}

void zetl_queue_destroy(struct zetl_queue *q)
{
        struct zetl_item *it = q->head;

        while (it) {
                struct zetl_item *next = it->next;
                zetl_item_free(it);
                it = next;
        }
        q->head = q->tail = NULL;
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->not_full);
        pthread_cond_destroy(&q->not_empty);
}

int zetl_queue_push(struct zetl_queue *q, struct zetl_item *it)
{
        pthread_mutex_lock(&q->mu);
        while (!q->closed && q->items > 0 &&
               (q->items >= q->max_items || q->bytes + it->bytes > q->max_bytes))
                pthread_cond_wait(&q->not_full, &q->mu);
        if (q->closed) {
                pthread_mutex_unlock(&q->mu);
                zetl_item_free(it);
                return ZETL_ECANCELED;
        }
        it->next = NULL;
        if (q->tail)
                q->tail->next = it;
        else
                q->head = it;
        q->tail = it;
        q->items++;
        q->bytes += it->bytes;
        pthread_cond_signal(&q->not_empty);
        pthread_mutex_unlock(&q->mu);
        return 0;
}

struct zetl_item *zetl_queue_pop(struct zetl_queue *q)
{
        struct zetl_item *it;

        pthread_mutex_lock(&q->mu);
        while (!q->head && !q->closed)
                pthread_cond_wait(&q->not_empty, &q->mu);
        it = q->head;
        if (it) {
                q->head = it->next;
                if (!q->head)
                        q->tail = NULL;
                q->items--;
                q->bytes -= it->bytes;
                pthread_cond_signal(&q->not_full);
        }
        pthread_mutex_unlock(&q->mu);
        return it;
}

struct zetl_item *zetl_queue_pop_wait(struct zetl_queue *q, long ms, bool *timed_out)
{
        struct zetl_item *it;
        struct timespec until;

        *timed_out = false;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += ms / 1000;
        until.tv_nsec += (ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&q->mu);
        while (!q->head && !q->closed && !*timed_out)
                *timed_out = pthread_cond_timedwait(&q->not_empty, &q->mu, &until) == ETIMEDOUT;
        it = q->head;
        if (it) {
                *timed_out = false;
                q->head = it->next;
                if (!q->head)
                        q->tail = NULL;
                q->items--;
                q->bytes -= it->bytes;
                pthread_cond_signal(&q->not_full);
        }
        pthread_mutex_unlock(&q->mu);
        return it;
}

void zetl_queue_close(struct zetl_queue *q)
{
        pthread_mutex_lock(&q->mu);
        q->closed = true;
        pthread_cond_broadcast(&q->not_full);
        pthread_cond_broadcast(&q->not_empty);
        pthread_mutex_unlock(&q->mu);
}
