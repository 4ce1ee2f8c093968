/* opt.c — the ask/tell state machine. For now one scheduler: every job at the maximum budget
 * with a fresh configuration from the sampler, until max_evals jobs were issued. */
#include "hb_opt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hb_sampler.h"

typedef struct pending {
    uint64_t id;
    double budget;
    double *x;
} pending;

struct hb_opt {
    hb_opt_settings set;
    char optimizer[32];
    const hb_space *space;
    size_t dim;
    hb_sampler *sampler;
    hb_history *history;
    uint64_t next_id;
    pending *pend; /* jobs asked, not yet told */
    size_t n_pend, cap_pend;
};

void hb_opt_settings_init(hb_opt_settings *s)
{
    memset(s, 0, sizeof *s);
    s->optimizer = "random";
    s->min_budget = 1;
    s->max_budget = 1;
    s->eta = 3;
    s->max_evals = 100;
}

int hb_opt_create(const hb_space *space, const hb_opt_settings *s, hb_opt **out, hb_error *err)
{
    *out = NULL;
    if (space == NULL || s == NULL) return hb_error_set(err, HB_EINVAL, NULL, "bad arguments");
    if (!(s->min_budget > 0) || !isfinite(s->min_budget))
        return hb_error_set(err, HB_EINVAL, NULL, "min_budget must be > 0, got %g", s->min_budget);
    if (!(s->max_budget >= s->min_budget) || !isfinite(s->max_budget))
        return hb_error_set(err, HB_EINVAL, NULL, "max_budget must be >= min_budget, got %g < %g",
                            s->max_budget, s->min_budget);
    if (!(s->eta > 1) || !isfinite(s->eta))
        return hb_error_set(err, HB_EINVAL, NULL, "eta must be > 1, got %g", s->eta);
    const char *kind = s->optimizer ? s->optimizer : "random";
    if (!hb_sampler_exists(kind) || strlen(kind) >= sizeof((hb_opt *)0)->optimizer)
        return hb_error_set(err, HB_ENOTFOUND, NULL, "unknown optimizer '%s'", kind);
    hb_opt *o = hb_calloc(1, sizeof *o);
    if (o == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    o->set = *s;
    snprintf(o->optimizer, sizeof o->optimizer, "%s", kind);
    o->set.optimizer = o->optimizer;
    o->space = space;
    o->dim = hb_space_dim(space);
    int rc = hb_sampler_create(kind, space, s->seed, &o->sampler, err);
    if (rc == HB_OK && hb_history_create(o->dim, &o->history) != HB_OK)
        rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    if (rc != HB_OK) {
        hb_opt_free(o);
        return rc;
    }
    *out = o;
    return HB_OK;
}

void hb_opt_free(hb_opt *o)
{
    if (o == NULL) return;
    for (size_t i = 0; i < o->n_pend; i++) hb_free(o->pend[i].x);
    hb_free(o->pend);
    hb_sampler_free(o->sampler);
    hb_history_free(o->history);
    hb_free(o);
}

int hb_opt_ask(hb_opt *o, hb_job *job, hb_error *err)
{
    memset(job, 0, sizeof *job);
    job->bracket = job->stage = -1;
    if (o->set.max_evals > 0 && o->next_id >= (uint64_t)o->set.max_evals) {
        job->kind = o->n_pend ? HB_ASK_WAIT : HB_ASK_DONE;
        return HB_OK;
    }
    if (o->n_pend == o->cap_pend) {
        size_t cap = o->cap_pend ? 2 * o->cap_pend : 16;
        pending *p = hb_realloc(o->pend, cap * sizeof *p);
        if (p == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        o->pend = p;
        o->cap_pend = cap;
    }
    double *x = hb_malloc((o->dim ? o->dim : 1) * sizeof(double));
    if (x == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    double budget = o->set.max_budget;
    int rc = hb_sampler_propose(o->sampler, o->history, budget, x, err);
    if (rc != HB_OK) {
        hb_free(x);
        return rc;
    }
    o->pend[o->n_pend++] = (pending){o->next_id, budget, x};
    job->kind = HB_ASK_JOB;
    job->id = o->next_id++;
    job->budget = budget;
    job->x = x;
    return HB_OK;
}

int hb_opt_tell(hb_opt *o, uint64_t id, double loss, hb_trial_status status, hb_error *err)
{
    size_t i = 0;
    while (i < o->n_pend && o->pend[i].id != id) i++;
    if (i == o->n_pend)
        return hb_error_set(err, HB_EINVAL, NULL, "job %llu is unknown or already told",
                            (unsigned long long)id);
    if (status == HB_TRIAL_OK && isnan(loss)) status = HB_TRIAL_NAN;
    int rc = hb_history_add(o->history, id, o->pend[i].x, o->pend[i].budget,
                            status == HB_TRIAL_OK ? loss : INFINITY, status);
    if (rc != HB_OK) return hb_error_set(err, rc, NULL, "out of memory");
    hb_free(o->pend[i].x);
    memmove(&o->pend[i], &o->pend[i + 1], (o->n_pend - i - 1) * sizeof *o->pend);
    o->n_pend--;
    return HB_OK;
}

const hb_history *hb_opt_history(const hb_opt *o) { return o->history; }
size_t hb_opt_pending(const hb_opt *o) { return o->n_pend; }
const hb_opt_settings *hb_opt_settings_of(const hb_opt *o) { return &o->set; }
