/* master.c — the one master loop (DESIGN.md contract 4): match `ask` to free workers of any
 * transport, hand results to `tell`, keep the trials, report progress. With --reproducible W it
 * behaves as if W logical slots ran the jobs: at most W outstanding, results told strictly in
 * issue order, so the asks and tells depend on nothing but the seed, the settings and W. */
#include "hb_master.h"

#include <math.h>
#include <string.h>

#include "hb_progress.h"
#include "hb_rng.h"

typedef struct slot {
    uint64_t id;
    double budget;
    int bracket, stage;
    size_t x;          /* offset of its configuration in the trial store */
    int finished;
    hb_done d;
} slot;

typedef struct state {
    hb_run_result *res;
    size_t cap, dim;
    slot *out;         /* outstanding jobs, in issue order */
    size_t n_out, cap_out;
    double best, best_budget;
} state;

static double micro(double s) { return round(s * 1e6) / 1e6; }

/* Room for one more trial and its configuration. */
static int grow_trials(state *s)
{
    hb_run_result *r = s->res;
    if (r->n < s->cap) return HB_OK;
    size_t c = s->cap ? 2 * s->cap : 256;
    hb_trial *t = hb_realloc(r->trials, c * sizeof *t);
    if (t == NULL) return HB_ENOMEM;
    r->trials = t;
    double *xs = hb_realloc(r->xs, c * (s->dim ? s->dim : 1) * sizeof(double));
    if (xs == NULL) return HB_ENOMEM;
    r->xs = xs;
    s->cap = c;
    return HB_OK;
}

/* Configurations of outstanding jobs wait in a side store until their result is recorded. */
typedef struct xstore {
    double *xs;
    size_t n, cap, dim;
    size_t *free_list;
    size_t n_free;
} xstore;

static int xs_put(xstore *x, const double *v, size_t *at)
{
    size_t i;
    if (x->n_free) {
        i = x->free_list[--x->n_free];
    } else {
        if (x->n == x->cap) {
            size_t c = x->cap ? 2 * x->cap : 64;
            double *n = hb_realloc(x->xs, c * (x->dim ? x->dim : 1) * sizeof(double));
            size_t *f = hb_realloc(x->free_list, c * sizeof(size_t));
            if (n) x->xs = n;
            if (f) x->free_list = f;
            if (n == NULL || f == NULL) return HB_ENOMEM;
            x->cap = c;
        }
        i = x->n++;
    }
    memcpy(x->xs + i * x->dim, v, x->dim * sizeof(double));
    *at = i;
    return HB_OK;
}

static int record(state *s, xstore *xs, const slot *o, hb_error *err)
{
    if (grow_trials(s) != HB_OK) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    hb_run_result *r = s->res;
    hb_trial *t = &r->trials[r->n];
    memcpy(r->xs + r->n * s->dim, xs->xs + o->x * s->dim, s->dim * sizeof(double));
    xs->free_list[xs->n_free++] = o->x;
    const hb_eval_result *e = &o->d.r;
    char *reason = NULL, *extras = NULL;
    if (e->status != HB_TRIAL_OK && e->reason[0] && (reason = hb_strdup(e->reason)) == NULL)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    if (e->extras[0] == '{' && (extras = hb_strdup(e->extras)) == NULL) {
        hb_free(reason);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    *t = (hb_trial){o->id,   NULL,       o->budget,          e->loss,         e->status, o->bracket,
                    o->stage, o->d.worker, micro(o->d.start), micro(o->d.end), reason,    extras};
    r->n++;
    if (e->status == HB_TRIAL_OK &&
        (o->budget > s->best_budget || (o->budget == s->best_budget && e->loss < s->best))) {
        s->best = e->loss;
        s->best_budget = o->budget;
    }
    return HB_OK;
}

int hb_master_run(hb_opt *opt, hb_transport *t, const hb_master_opts *mo, hb_run_result *res,
                  hb_error *err)
{
    state s;
    memset(&s, 0, sizeof s);
    s.res = res;
    s.dim = hb_space_dim(mo->space);
    s.best = INFINITY;
    s.best_budget = -INFINITY;
    xstore xs = {NULL, 0, 0, s.dim, NULL, 0};
    const hb_opt_settings *set = hb_opt_settings_of(opt);
    res->settings = *set;
    res->workers = t->workers;
    long total = set->max_evals > 0 && set->iterations <= 0 && set->max_total_budget <= 0 ? set->max_evals : -1;
    /* Where the run is bounded by budget, the share of it told so far tells what is left. */
    double budget_total = set->max_total_budget > 0 ? set->max_total_budget : -1, budget_done = 0;
    hb_schedule sch;
    if (budget_total < 0 && set->iterations > 0 && hb_opt_open_brackets(opt) == 0 &&
        hb_schedule_init(&sch, set->min_budget, set->max_budget, set->eta, set->bracket_rule, NULL) == HB_OK &&
        strcmp(set->optimizer, "sh") != 0)
        budget_total = (double)set->iterations * hb_schedule_iteration_budget(&sch);
    hb_progress prog;
    hb_progress_init(&prog, stderr, mo->quiet);
    int rc = HB_OK, done = 0;
    while (rc == HB_OK) {
        /* Ask while a job could start now (or, reproducibly, while fewer than W are out). */
        while (!done) {
            if (mo->reproducible > 0 ? s.n_out >= (size_t)mo->reproducible
                                     : (s.n_out > 0 && t->ops->idle(t) <= 0))
                break;
            if (mo->time_limit > 0 && t->ops->now(t) >= mo->time_limit) hb_opt_stop(opt);
            hb_job job;
            if ((rc = hb_opt_ask(opt, &job, err)) != HB_OK) break;
            if (job.kind == HB_ASK_DONE) done = 1;
            if (job.kind != HB_ASK_JOB) break;
            if (s.n_out == s.cap_out) {
                size_t c = s.cap_out ? 2 * s.cap_out : 64;
                slot *o = hb_realloc(s.out, c * sizeof *o);
                if (o == NULL) {
                    rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
                    break;
                }
                s.out = o;
                s.cap_out = c;
            }
            slot *o = &s.out[s.n_out];
            memset(o, 0, sizeof *o);
            *o = (slot){job.id, job.budget, job.bracket, job.stage, 0, 0, {0}};
            if (xs_put(&xs, job.x, &o->x) != HB_OK) {
                rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
                break;
            }
            s.n_out++;
            if ((rc = t->ops->submit(t, &job, hb_hash2(set->seed, job.id), err)) != HB_OK) break;
        }
        if (rc != HB_OK) break;
        if (s.n_out == 0) {
            if (!done) rc = hb_error_set(err, HB_EINVAL, NULL, "the optimiser waits with no job running");
            break;
        }
        /* Reproducibly, tell one result per pass (the oldest, once it is in) and then ask
         * again, exactly as a run with W slots that each report in turn would. */
        size_t i = 0;
        if (!(mo->reproducible > 0 && s.out[0].finished)) {
            hb_done d;
            if ((rc = t->ops->next(t, &d, err)) != HB_OK) break;
            while (i < s.n_out && s.out[i].id != d.id) i++;
            if (i == s.n_out) {
                rc = hb_error_set(err, HB_EINVAL, NULL, "a result for job %llu, which is not running",
                                  (unsigned long long)d.id);
                break;
            }
            s.out[i].d = d;
            s.out[i].finished = 1;
            if (mo->reproducible > 0) i = 0;
        }
        if (s.out[i].finished) {
            slot o = s.out[i];
            memmove(&s.out[i], &s.out[i + 1], (s.n_out - i - 1) * sizeof *s.out);
            s.n_out--;
            if ((rc = hb_opt_tell(opt, o.id, o.d.r.loss, o.d.r.status, err)) == HB_OK) rc = record(&s, &xs, &o, err);
            budget_done += o.budget;
        }
        hb_progress_update(&prog, t->ops->now(t), (long)res->n, total, s.best,
                           (long)hb_opt_open_brackets(opt), budget_total > 0 ? budget_done / budget_total : -1, 0);
    }
    for (size_t i = 0; i < res->n; i++) res->trials[i].x = res->xs + i * s.dim;
    res->wall_seconds = micro(t->ops->now(t));
    hb_progress_update(&prog, res->wall_seconds, (long)res->n, total, s.best, (long)hb_opt_open_brackets(opt), 1, 1);
    hb_progress_finish(&prog);
    hb_free(s.out);
    hb_free(xs.xs);
    hb_free(xs.free_list);
    return rc;
}
