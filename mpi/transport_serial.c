/* transport_serial.c — the master evaluates its own jobs, one at a time, in the order they were
 * submitted (started alone, or under mpirun -n 1). */
#include <string.h>

#include "hb_clock.h"
#include "hb_rng.h"
#include "hb_transport.h"

typedef struct qjob {
    hb_eval_job j;
    double *x;  /* j.x points here */
} qjob;

typedef struct serial {
    hb_transport base;
    hb_evaluator *ev;
    size_t dim;
    qjob *q;            /* submitted, not yet evaluated, in order */
    size_t head, n, cap;
    double t0;
} serial;

static int s_idle(hb_transport *t)
{
    serial *s = (serial *)t;
    return s->n == s->head ? 1 : 0;
}

static int s_submit(hb_transport *t, const hb_eval_job *j, int prefer, hb_error *err)
{
    (void)prefer; /* one worker */
    serial *s = (serial *)t;
    if (s->head > 0 && s->head == s->n) s->head = s->n = 0;
    if (s->n == s->cap) {
        size_t c = s->cap ? 2 * s->cap : 16;
        qjob *q = hb_realloc(s->q, c * sizeof *q);
        if (q == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        memset(q + s->cap, 0, (c - s->cap) * sizeof *q);
        s->q = q;
        s->cap = c;
    }
    qjob *q = &s->q[s->n];
    if (q->x == NULL && (q->x = hb_malloc((s->dim ? s->dim : 1) * sizeof(double))) == NULL)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    memcpy(q->x, j->x, s->dim * sizeof(double));
    q->j = *j;
    q->j.x = q->x;
    s->n++;
    return HB_OK;
}

static int s_next(hb_transport *t, hb_done *d, hb_error *err)
{
    serial *s = (serial *)t;
    if (s->head == s->n) return hb_error_set(err, HB_EINVAL, NULL, "no job is running");
    qjob *q = &s->q[s->head++];
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
    for (size_t i = 0; i < s->cap; i++) hb_free(s->q[i].x);
    hb_free(s->q);
    hb_free(s);
}

/* A serial job runs inside 'next', so nothing is ever running between calls. */
static void s_abort(hb_transport *t, double grace)
{
    (void)grace;
    serial *s = (serial *)t;
    s->head = s->n = 0;
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
    s->dim = hb_space_dim(sp);
    s->t0 = hb_now();
    *out = &s->base;
    return HB_OK;
}
