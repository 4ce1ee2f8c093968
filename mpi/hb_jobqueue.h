/* hb_jobqueue.h — the jobs a transport was given and could not start at once, oldest first,
 * each with its own copy of the configuration (the master's is gone once submit returns). The
 * serial, MPI and simulated transports each keep one; which worker takes a job is theirs. */
#ifndef HB_JOBQUEUE_H
#define HB_JOBQUEUE_H

#include <stddef.h>

#include "hb_eval.h"

/* One waiting job: 'j.x' points to 'x', the queue's copy of the configuration. */
typedef struct hb_queued {
    hb_eval_job j;
    double *x;            /* dim values, owned by the queue (kept for reuse once taken) */
    int prefer;           /* the worker the submitter would rather it went to, or -1 */
} hb_queued;

/* A FIFO ring; zero it (or hb_jobqueue_init) before use. */
typedef struct hb_jobqueue {
    hb_queued *q;         /* cap slots; the jobs are q[head % cap] .. q[(tail - 1) % cap] */
    size_t head, tail;    /* jobs taken and jobs added so far */
    size_t cap;
    size_t dim;           /* values of a configuration */
} hb_jobqueue;

/* An empty queue of configurations of 'dim' values. */
void hb_jobqueue_init(hb_jobqueue *q, size_t dim);
/* Free everything. */
void hb_jobqueue_fini(hb_jobqueue *q);
/* Add job 'j' at the end, copying its configuration; 'prefer' is kept with it. HB_ENOMEM on
 * failure, and the queue is as it was. */
int hb_jobqueue_push(hb_jobqueue *q, const hb_eval_job *j, int prefer, hb_error *err);
/* Jobs waiting. */
size_t hb_jobqueue_len(const hb_jobqueue *q);
/* Take the oldest job, or NULL when there is none. The view stays valid until the next push. */
const hb_queued *hb_jobqueue_pop(hb_jobqueue *q);
/* Drop every waiting job (a stop). */
void hb_jobqueue_clear(hb_jobqueue *q);

#endif
