/* transport_sim.c — a discrete-event simulation: n virtual workers, a virtual clock, and an
 * evaluation cost from a model (proportional to the budget, optionally with noise). The real
 * evaluator runs at once for the loss; only time is simulated, so thousands of workers take
 * seconds. Deterministic: ties in finish time go to the lower worker. */
#include <math.h>
#include <string.h>

#include "hb_jobqueue.h"
#include "hb_rng.h"
#include "hb_transport.h"

typedef struct event {
    double end;
    int worker;
    hb_done d;
} event;

typedef struct sim {
    hb_transport base;
    hb_evaluator *ev;
    double cost, noise, now;
    int *idle_stack;    /* idle workers, lowest on top */
    int n_idle;
    event *heap;        /* running jobs, by end time */
    int n_heap;
    hb_jobqueue q;      /* jobs waiting for a worker, in order */
} sim;

static int ev_less(const event *a, const event *b)
{
    return a->end < b->end || (a->end == b->end && a->worker < b->worker);
}

static void heap_push(sim *s, event e)
{
    int i = s->n_heap++;
    s->heap[i] = e;
    while (i > 0 && ev_less(&s->heap[i], &s->heap[(i - 1) / 2])) {
        event t = s->heap[i];
        s->heap[i] = s->heap[(i - 1) / 2];
        s->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static event heap_pop(sim *s)
{
    event top = s->heap[0];
    s->heap[0] = s->heap[--s->n_heap];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n_heap && ev_less(&s->heap[l], &s->heap[m])) m = l;
        if (r < s->n_heap && ev_less(&s->heap[r], &s->heap[m])) m = r;
        if (m == i) break;
        event t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
    return top;
}

/* Start queued jobs on idle workers at the current virtual time. */
static int dispatch(sim *s, hb_error *err)
{
    while (s->n_idle > 0 && hb_jobqueue_len(&s->q) > 0) {
        const hb_queued *q = hb_jobqueue_pop(&s->q);
        int w = s->idle_stack[--s->n_idle];
        event e;
        memset(&e, 0, sizeof e);
        int rc = hb_eval_run(s->ev, &q->j, &e.d.r, err);
        if (rc != HB_OK) return rc;
        /* a continued trial costs only the budget it trained */
        double c = s->cost * (isnan(e.d.r.spent) ? q->j.budget : e.d.r.spent);
        if (s->noise > 0) {
            hb_rng r;
            hb_rng_init(&r, q->j.seed, 7);
            c *= exp(s->noise * hb_rng_normal(&r));
        }
        e.worker = w;
        e.end = s->now + c;
        e.d.id = q->j.id;
        e.d.worker = w + 1;
        e.d.start = s->now;
        e.d.end = e.end;
        heap_push(s, e);
    }
    return HB_OK;
}

static int m_idle(hb_transport *t)
{
    sim *s = (sim *)t;
    long free_now = (long)s->n_idle - (long)hb_jobqueue_len(&s->q);
    return free_now > 0 ? (int)free_now : 0;
}

static int m_submit(hb_transport *t, const hb_eval_job *j, int prefer, hb_error *err)
{
    sim *s = (sim *)t;
    int rc = hb_jobqueue_push(&s->q, j, prefer, err); /* virtual workers hold no checkpoints */
    return rc == HB_OK ? dispatch(s, err) : rc;
}

static int m_next(hb_transport *t, hb_done *d, hb_error *err)
{
    sim *s = (sim *)t;
    if (s->n_heap == 0) return hb_error_set(err, HB_EINVAL, NULL, "no job is running");
    event e = heap_pop(s);
    s->now = e.end;
    s->idle_stack[s->n_idle++] = e.worker;
    *d = e.d;
    return dispatch(s, err);
}

static double m_now(hb_transport *t) { return ((sim *)t)->now; }

static void m_close(hb_transport *t)
{
    sim *s = (sim *)t;
    hb_jobqueue_fini(&s->q);
    hb_free(s->heap);
    hb_free(s->idle_stack);
    hb_free(s);
}

/* Virtual jobs have no one to stop: every queued and running job is dropped (interrupted). */
static void m_abort(hb_transport *t, double grace)
{
    (void)grace;
    sim *s = (sim *)t;
    while (s->n_heap > 0) s->idle_stack[s->n_idle++] = heap_pop(s).worker;
    hb_jobqueue_clear(&s->q);
}

static int m_running(hb_transport *t) { return ((sim *)t)->n_heap; }

static const hb_transport_ops sim_ops = {"simulated", m_idle, m_submit, m_next, m_now, m_abort, m_running, m_close};

int hb_transport_sim(hb_evaluator *ev, const hb_space *sp, int n, double cost_per_budget,
                     double noise, hb_transport **out, hb_error *err)
{
    if (n < 1) return hb_error_set(err, HB_EINVAL, NULL, "a simulation needs at least one worker");
    sim *s = hb_calloc(1, sizeof *s);
    if (s == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    s->base = (hb_transport){&sim_ops, n, "simulated"};
    s->ev = ev;
    hb_jobqueue_init(&s->q, hb_space_dim(sp));
    s->cost = cost_per_budget;
    s->noise = noise;
    s->idle_stack = hb_malloc((size_t)n * sizeof(int));
    s->heap = hb_malloc((size_t)n * sizeof(event));
    if (s->idle_stack == NULL || s->heap == NULL) {
        m_close(&s->base);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    for (int i = 0; i < n; i++) s->idle_stack[i] = n - 1 - i; /* worker 0 on top */
    s->n_idle = n;
    *out = &s->base;
    return HB_OK;
}
