/* transport_serial.c — the master evaluates its own jobs, one at a time, in the order they were
 * submitted (started alone, or under mpirun -n 1). */
#include <string.h>

#include "hb_clock.h"
#include "hb_jobqueue.h"
#include "hb_rng.h"
#include "hb_transport.h"

typedef struct serial {
    hb_transport base;
    hb_evaluator *ev;
    hb_jobqueue q;      /* submitted, not yet evaluated, in order */
    double t0;
} serial;

static int s_idle(hb_transport *t)
{
    serial *s = (serial *)t;
    return hb_jobqueue_len(&s->q) == 0 ? 1 : 0;
}

static int s_submit(hb_transport *t, const hb_eval_job *j, int prefer, hb_error *err)
{
    serial *s = (serial *)t;
    return hb_jobqueue_push(&s->q, j, prefer, err); /* one worker: 'prefer' means nothing */
}

static int s_next(hb_transport *t, hb_done *d, hb_error *err)
{
    serial *s = (serial *)t;
    const hb_queued *q = hb_jobqueue_pop(&s->q);
    if (q == NULL) return hb_error_set(err, HB_EINVAL, NULL, "no job is running");
    memset(d, 0, sizeof *d);
    d->id = q->j.id;
    d->start = hb_now() - s->t0;
    int rc = hb_eval_run(s->ev, &q->j, &d->r, err);
    d->end = hb_now() - s->t0;
    return rc;
}

static double s_now(hb_transport *t) { return hb_now() - ((serial *)t)->t0; }

static void s_close(hb_transport *t)
{
    serial *s = (serial *)t;
    hb_jobqueue_fini(&s->q);
    hb_free(s);
}

/* A serial job runs inside 'next', so nothing is ever running between calls. */
static void s_abort(hb_transport *t, double grace)
{
    (void)grace;
    serial *s = (serial *)t;
    hb_jobqueue_clear(&s->q);
}

static int s_running(hb_transport *t)
{
    (void)t;
    return 0;
}

static const hb_transport_ops serial_ops = {"serial", s_idle, s_submit, s_next, s_now, s_abort, s_running, s_close};

int hb_transport_serial(hb_evaluator *ev, const hb_space *sp, hb_transport **out, hb_error *err)
{
    serial *s = hb_calloc(1, sizeof *s);
    if (s == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    s->base = (hb_transport){&serial_ops, 1, "serial"};
    s->ev = ev;
    hb_jobqueue_init(&s->q, hb_space_dim(sp));
    s->t0 = hb_now();
    *out = &s->base;
    return HB_OK;
}
