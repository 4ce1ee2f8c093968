/* jobqueue.c — hb_jobqueue.h: a FIFO ring of jobs with their own copies of the configurations.
 * The slots keep their configuration buffers when taken, so a steady run allocates nothing. */
#include "hb_jobqueue.h"

#include <string.h>

void hb_jobqueue_init(hb_jobqueue *q, size_t dim)
{
    memset(q, 0, sizeof *q);
    q->dim = dim;
}

void hb_jobqueue_fini(hb_jobqueue *q)
{
    for (size_t i = 0; i < q->cap; i++) hb_free(q->q[i].x);
    hb_free(q->q);
    hb_jobqueue_init(q, q->dim);
}

size_t hb_jobqueue_len(const hb_jobqueue *q) { return q->tail - q->head; }

int hb_jobqueue_push(hb_jobqueue *q, const hb_eval_job *j, int prefer, hb_error *err)
{
    if (hb_jobqueue_len(q) == q->cap) { /* full: twice the room, the waiting jobs first */
        size_t c = q->cap ? 2 * q->cap : 64;
        hb_queued *n = hb_calloc(c, sizeof *n);
        if (n == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        for (size_t i = 0; i < q->cap; i++) n[i] = q->q[(q->head + i) % q->cap];
        hb_free(q->q);
        q->q = n;
        q->tail -= q->head;
        q->head = 0;
        q->cap = c;
    }
    hb_queued *s = &q->q[q->tail % q->cap];
    if (s->x == NULL && (s->x = hb_malloc((q->dim ? q->dim : 1) * sizeof(double))) == NULL)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    if (q->dim) memcpy(s->x, j->x, q->dim * sizeof(double));
    s->j = *j;
    s->j.x = s->x;
    s->prefer = prefer;
    q->tail++;
    return HB_OK;
}

const hb_queued *hb_jobqueue_pop(hb_jobqueue *q)
{
    if (q->head == q->tail) return NULL;
    return &q->q[q->head++ % q->cap];
}

void hb_jobqueue_clear(hb_jobqueue *q) { q->head = q->tail; }
