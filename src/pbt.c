/* pbt.c — population-based training (Jaderberg et al. 2017) and PB2 (Parker-Holder et al. 2020)
 * as an ask/tell state machine, asynchronous: no generation barrier.
 *
 * A population of P members each trains in steps of 'interval' budget units up to max_budget.
 * A step is a job that continues a checkpoint: the member's own last one, or, after an exploit,
 * another member's. When a step ends, the member is ranked by its latest loss among the members
 * that have one; if it is in the bottom quantile (ceil(q·n), at most n/2) it copies (exploits)
 * the checkpoint of a member drawn from the top quantile, together with that member's
 * configuration, and explores: pbt perturbs each mutable hyperparameter (×0.8 or ×1.2; a
 * neighbouring choice for categorical and ordinal ones) or, with probability 'resample', draws
 * it afresh from the space; pb2 lets its GP bandit (pb2.c) pick the mutable values. Otherwise the
 * member continues its own checkpoint unchanged. The free worker takes the member that has
 * waited longest.
 *
 * Jobs say where they start: 'prev' is the checkpoint's job and 'prev_budget' its budget, so an
 * evaluator continues from there exactly as for a promoted trial; 'config' is the first job of
 * the checkpoint's lineage (the model's seed and initial weights), 'bracket' the member and
 * 'stage' the step. A step charges the stop rules the budget it adds (its budget minus
 * prev_budget). The run ends when every member has trained to max_budget. A step that fails
 * leaves the member's checkpoint as it was, with the worst loss; three failures in a row retire
 * the member. The draws come from the optimiser's own stream, in the order of tells: the same
 * seed and the same order of tells give the same jobs. */
#include <math.h>
#include <string.h>

#include "opt_impl.h"
#include "pb2_bandit.h"

enum { M_READY = 0, M_RUNNING, M_DONE };

#define PBT_MAX_FAILS 3
#define PBT_FORBIDDEN_TRIES 100

typedef struct member {
    int state;            /* M_READY, M_RUNNING, M_DONE */
    int fresh;            /* its next step starts from scratch with a new configuration */
    int started;          /* it has started once (from the settings' start configuration) */
    size_t cfg;           /* the configuration (store index) of its next or running step */
    uint64_t ckpt;        /* the job whose checkpoint it continues; HB_NO_JOB: none */
    double ckpt_budget;   /* that checkpoint's budget (0: none) */
    double ckpt_loss;     /* that checkpoint's loss (+inf: none) */
    uint64_t lineage;     /* the first job of that checkpoint's lineage */
    int last_step;        /* the latest step it finished (-1: none) */
    int judged;           /* the latest step it was ranked at as a bottom member (-1: none) */
    int retired;          /* failed PBT_MAX_FAILS steps in a row: out of the population */
    int fails;            /* failed steps in a row */
    uint64_t ready_seq;   /* members wait in this order */
} member;

struct hb__pbt {
    int pb2;
    member *m;
    int n;
    double interval, quantile, resample;
    uint64_t seq;
    hb_rng rng;
    size_t *mut;          /* indices of the mutable parameters */
    size_t n_mut;
    double *u, *x;        /* scratch: dim each */
    int *order;           /* scratch: n */
    double *at;           /* n_steps x n: each member's loss after each step, NaN until known */
    double *val;          /* scratch: n */
    int n_steps;
    hb__pb2_bandit *bandit;      /* pb2 */
    double *start;        /* settings' start configurations (n_start x dim), owned copy */
    size_t n_start;
};

/* ---------- create / free ---------- */

int hb__pbt_create(hb_opt *o, hb_error *err)
{
    hb_opt_settings *t = &o->set;
    int pb2 = (o->flags & OPT_PB2) != 0;
    if (t->pbt_population == 0) t->pbt_population = pb2 ? 4 : 8;
    if (t->pbt_interval == 0) t->pbt_interval = t->min_budget;
    if (t->pbt_population < 2 || t->pbt_population > 100000)
        return hb_error_set(err, HB_EINVAL, NULL, "pbt_population must be 2 to 100000, got %d",
                            t->pbt_population);
    if (!(t->pbt_interval > 0) || !(t->pbt_interval <= t->max_budget))
        return hb_error_set(err, HB_EINVAL, NULL, "pbt_interval must be > 0 and <= max_budget (%g), got %g",
                            t->max_budget, t->pbt_interval);
    if (!(t->pbt_quantile > 0) || !(t->pbt_quantile <= 0.5))
        return hb_error_set(err, HB_EINVAL, NULL, "pbt_quantile must be in (0, 0.5], got %g", t->pbt_quantile);
    if (!(t->pbt_resample >= 0) || !(t->pbt_resample <= 1))
        return hb_error_set(err, HB_EINVAL, NULL, "pbt_resample must be in [0, 1], got %g",
                            t->pbt_resample);
    double steps = ceil(t->max_budget / t->pbt_interval - 1e-9);
    if (steps * t->pbt_population > 1e7)
        return hb_error_set(err, HB_EINVAL, NULL,
                            "%d members of %g steps (max_budget / interval) each: at most 10^7 steps in all",
                            t->pbt_population, steps);
    size_t n_mut = hb_space_n_mutable(o->space);
    if (n_mut == 0)
        return hb_error_set(err, HB_EINVAL, NULL,
                            "%s needs at least one mutable parameter in the space (\"mutable\": true; "
                            "docs/spaces.md)", o->optimizer);
    struct hb__pbt *p = hb_calloc(1, sizeof *p);
    if (p == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    o->pbt = p;
    p->pb2 = pb2;
    p->n = t->pbt_population;
    p->interval = t->pbt_interval;
    p->quantile = t->pbt_quantile;
    p->resample = t->pbt_resample;
    hb_rng_init(&p->rng, t->seed, 0x706274); /* "pbt": a stream of its own */
    size_t dim = o->dim ? o->dim : 1;
    p->m = hb_calloc((size_t)p->n, sizeof *p->m);
    p->mut = hb_malloc(n_mut * sizeof *p->mut);
    p->u = hb_malloc(dim * sizeof *p->u);
    p->x = hb_malloc(dim * sizeof *p->x);
    p->order = hb_malloc((size_t)p->n * sizeof *p->order);
    p->n_steps = (int)steps;
    p->at = hb_malloc((size_t)p->n_steps * (size_t)p->n * sizeof *p->at);
    p->val = hb_malloc((size_t)p->n * sizeof *p->val);
    if (!p->m || !p->mut || !p->u || !p->x || !p->order || !p->at || !p->val)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < o->dim; i++)
        if (hb_space_is_mutable(o->space, i)) p->mut[p->n_mut++] = i;
    for (size_t i = 0; i < (size_t)p->n_steps * (size_t)p->n; i++) p->at[i] = NAN;
    for (int i = 0; i < p->n; i++)
        p->m[i] = (member){.state = M_READY, .fresh = 1, .ckpt = HB_NO_JOB, .ckpt_loss = INFINITY,
                           .lineage = HB_NO_JOB, .last_step = -1, .judged = -1,
                           .ready_seq = p->seq++};
    if (t->pbt_start_n > 0) {
        if (t->pbt_start == NULL || t->pbt_start_n > 100000)
            return hb_error_set(err, HB_EINVAL, NULL, "pbt_start: 1 to 100000 configurations");
        p->start = hb_malloc(t->pbt_start_n * dim * sizeof *p->start);
        if (p->start == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        for (size_t i = 0; i < t->pbt_start_n; i++) {
            const double *x = t->pbt_start + i * o->dim;
            hb_error e;
            if (hb_space_validate(o->space, x, &e) != HB_OK)
                return hb_error_set(err, HB_EINVAL, NULL, "pbt_start: configuration %zu: %s", i + 1, e.msg);
            memcpy(p->start + i * o->dim, x, o->dim * sizeof(double));
        }
        p->n_start = t->pbt_start_n; /* (the settings keep the caller's array, as given) */
    }
    if (pb2) return hb__pb2_bandit_create(&p->bandit, p->n_mut, err);
    return HB_OK;
}

void hb__pbt_free(hb_opt *o)
{
    struct hb__pbt *p = o->pbt;
    if (p == NULL) return;
    hb__pb2_bandit_free(p->bandit);
    hb_free(p->m);
    hb_free(p->mut);
    hb_free(p->u);
    hb_free(p->x);
    hb_free(p->order);
    hb_free(p->at);
    hb_free(p->val);
    hb_free(p->start);
    hb_free(p);
    o->pbt = NULL;
}

/* ---------- ask ---------- */

static double next_budget(const hb_opt *o, const member *m)
{
    double b = m->ckpt_budget + o->pbt->interval;
    return b > o->set.max_budget * (1 - 1e-12) ? o->set.max_budget : b;
}

int hb__pbt_ask(hb_opt *o, hb_job *job, hb_error *err)
{
    struct hb__pbt *p = o->pbt;
    int pick = -1;
    for (int i = 0; i < p->n; i++)
        if (p->m[i].state == M_READY && (pick < 0 || p->m[i].ready_seq < p->m[pick].ready_seq)) pick = i;
    if (pick >= 0) {
        member *m = &p->m[pick];
        if (m->fresh) { /* from scratch: no checkpoint */
            m->ckpt = HB_NO_JOB;
            m->ckpt_budget = 0;
            m->ckpt_loss = INFINITY;
        }
        double budget = next_budget(o, m);
        if (hb__opt_may_issue(o, budget - m->ckpt_budget)) {
            if (m->fresh && !m->started && p->n_start > 0) { /* the configuration it starts from */
                size_t cfg;
                int rc = hb__opt_store_config(o, &cfg, err);
                if (rc != HB_OK) return rc;
                memcpy(o->xs + cfg * o->dim, p->start + ((size_t)pick % p->n_start) * o->dim,
                       o->dim * sizeof(double));
                m->cfg = cfg;
            } else if (m->fresh) {
                size_t cfg;
                int rc = hb__opt_new_config(o, budget, &cfg, err);
                if (rc == HB_SAMPLER_EXHAUSTED) {
                    o->stopped = 1;
                    goto none;
                }
                if (rc != HB_OK) return rc;
                m->cfg = cfg;
            }
            if (hb__opt_grow((void **)&o->pend, &o->cap_pend, o->n_pend + 1, sizeof *o->pend) != HB_OK)
                return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
            uint64_t id = o->next_id++;
            o->pend[o->n_pend++] = (pending){id, m->cfg, budget, -1, -1, 0, pick};
            o->issued_budget += budget - m->ckpt_budget;
            if (m->fresh) m->lineage = id;
            m->fresh = 0;
            m->started = 1;
            m->state = M_RUNNING;
            job->kind = HB_ASK_JOB;
            job->id = id;
            job->budget = budget;
            job->bracket = pick;
            job->stage = (int)ceil(budget / p->interval - 1e-9) - 1;
            job->x = o->xs + m->cfg * o->dim;
            job->config = m->lineage;
            job->prev = m->ckpt;
            job->prev_budget = m->ckpt_budget;
            return HB_OK;
        }
    }
none:
    job->kind = o->n_pend ? HB_ASK_WAIT : HB_ASK_DONE;
    return HB_OK;
}

/* ---------- explore ---------- */

/* pbt: perturb (or draw afresh) each mutable value of the store's configuration 'cfg'. */
static void perturb(hb_opt *o, double *x)
{
    struct hb__pbt *p = o->pbt;
    const hb_space *sp = o->space;
    int fresh_drawn = 0;
    for (size_t k = 0; k < p->n_mut; k++) {
        size_t i = p->mut[k];
        if (hb_rng_uniform(&p->rng) < p->resample) {
            if (!fresh_drawn) { /* one draw from the space serves every resampled value */
                hb_error e;
                if (hb_space_sample(sp, &p->rng, p->u, &e) != HB_OK) continue;
                fresh_drawn = 1;
            }
            x[i] = p->u[i];
            continue;
        }
        int up = hb_rng_uniform(&p->rng) < 0.5;
        double lo = hb_space_lower(sp, i), hi = hb_space_upper(sp, i), v = x[i];
        switch (hb_space_type(sp, i)) {
        case HB_PARAM_FLOAT:
            v *= up ? 1.2 : 0.8;
            break;
        case HB_PARAM_INT: {
            double w = round(v * (up ? 1.2 : 0.8));
            v = w != v ? w : v + (up ? 1 : -1); /* a small integer still moves */
            break;
        }
        default: { /* categorical, ordinal: a neighbouring choice */
            lo = 0;
            hi = (double)hb_space_n_choices(sp, i) - 1;
            v += up ? 1 : -1;
            break;
        }
        }
        x[i] = v < lo ? lo : v > hi ? hi : v;
    }
}

/* pb2: the bandit picks the mutable values (in the unit cube) for a step that starts at 't'. */
static int pb2_explore(hb_opt *o, double t, double *x, hb_error *err)
{
    struct hb__pbt *p = o->pbt;
    hb_space_to_unit(o->space, x, p->u);
    hb__pb2_bandit_clear_pending(p->bandit);
    for (int i = 0; i < p->n; i++) { /* the steps running now: choose apart from them */
        if (p->m[i].state != M_RUNNING) continue;
        const double *xr = o->xs + p->m[i].cfg * o->dim;
        hb_space_to_unit(o->space, xr, p->x);
        for (size_t k = 0; k < p->n_mut; k++) p->x[k] = p->x[p->mut[k]];
        int rc = hb__pb2_bandit_add_pending(p->bandit, p->m[i].ckpt_budget, p->x, err);
        if (rc != HB_OK) return rc;
    }
    double *u = p->x; /* n_mut values */
    int rc = hb__pb2_bandit_select(p->bandit, t, &p->rng, u, err);
    if (rc != HB_OK) return rc;
    for (size_t k = 0; k < p->n_mut; k++) p->u[p->mut[k]] = u[k];
    /* back to native values; the fixed parameters keep the donor's exact values */
    double *fixed = p->x;
    memcpy(fixed, x, o->dim * sizeof(double));
    hb_space_from_unit(o->space, p->u, x);
    for (size_t i = 0; i < o->dim; i++)
        if (!hb_space_is_mutable(o->space, i)) x[i] = fixed[i];
    return HB_OK;
}

/* The new configuration for member 'mi' after it copied 'donor': the donor's, explored. */
static int explore(hb_opt *o, const member *donor, size_t *cfg, hb_error *err)
{
    struct hb__pbt *p = o->pbt;
    int rc = hb__opt_store_config(o, cfg, err);
    if (rc != HB_OK) return rc;
    double *x = o->xs + *cfg * o->dim;
    const double *dx = o->xs + donor->cfg * o->dim;
    for (int tries = 0; tries < PBT_FORBIDDEN_TRIES; tries++) {
        memcpy(x, dx, o->dim * sizeof(double));
        if (p->pb2)
            rc = pb2_explore(o, donor->ckpt_budget, x, err);
        else
            perturb(o, x);
        if (rc != HB_OK) return rc;
        if (!hb_space_is_forbidden(o->space, x)) return HB_OK;
    }
    memcpy(x, dx, o->dim * sizeof(double)); /* nothing allowed nearby: the donor's as it is */
    return HB_OK;
}

/* ---------- tell ---------- */

static int by_loss(const double *loss, int a, int b)
{
    if (loss[a] != loss[b]) return loss[a] < loss[b];
    return a < b;
}

/* Rank the members at one budget: the latest step that every member still in the population
 * has finished, and at most 'st' (the step 'mi' just finished), each by its loss at that step
 * or, if it skipped it by copying a checkpoint further on, at the step before. So a member that
 * is a step ahead is not better for that alone, nor one that reports first at a step safe;
 * and a member is ranked at most once per step.
 * 'mi' in the bottom quantile: the donor it copies (a top member whose latest checkpoint is
 * short of max_budget, drawn at random), or -1. */
static int pick_donor(hb_opt *o, int mi, int st)
{
    struct hb__pbt *p = o->pbt;
    int at_step = st; /* (-1 while a member has no result yet: nobody is ranked before that) */
    for (int i = 0; i < p->n; i++)
        if (!p->m[i].retired && p->m[i].last_step < at_step) at_step = p->m[i].last_step;
    if (at_step < 0) return -1;
    int n = 0;
    for (int i = 0; i < p->n; i++) {
        p->val[i] = NAN;
        if (p->m[i].last_step < 0 || p->m[i].retired) continue;
        for (int k = at_step; k >= 0 && isnan(p->val[i]); k--) p->val[i] = p->at[(size_t)k * (size_t)p->n + (size_t)i];
        if (!isnan(p->val[i])) p->order[n++] = i;
    }
    const double *loss = p->val;
    for (int a = 1; a < n; a++) { /* insertion sort: populations are small */
        int v = p->order[a], b = a - 1;
        while (b >= 0 && by_loss(loss, v, p->order[b])) {
            p->order[b + 1] = p->order[b];
            b--;
        }
        p->order[b + 1] = v;
    }
    int nq = (int)ceil(p->quantile * n - 1e-9);
    if (nq > n / 2) nq = n / 2;
    int bottom = 0;
    for (int k = n - nq; k < n; k++) bottom |= p->order[k] == mi;
    if (!bottom || at_step <= p->m[mi].judged) return -1; /* once per step at most */
    p->m[mi].judged = at_step;
    int nc = 0; /* the candidates, moved to the front of the order */
    for (int k = 0; k < nq; k++) {
        const member *d = &p->m[p->order[k]];
        if (p->order[k] != mi && d->ckpt != HB_NO_JOB && isfinite(d->ckpt_loss) &&
            d->ckpt_budget < o->set.max_budget * (1 - 1e-12))
            p->order[nc++] = p->order[k];
    }
    return nc ? p->order[hb_rng_below(&p->rng, (uint64_t)nc)] : -1;
}

int hb__pbt_tell(hb_opt *o, const pending *pd, double l, hb_trial_status status, hb_error *err)
{
    struct hb__pbt *p = o->pbt;
    member *m = &p->m[pd->member];
    double start_budget = m->ckpt_budget, start_loss = m->ckpt_loss;
    int st = (int)ceil(pd->budget / p->interval - 1e-9) - 1;
    if (st < 0) st = 0;
    if (st >= p->n_steps) st = p->n_steps - 1;
    p->at[(size_t)st * (size_t)p->n + (size_t)pd->member] = l;
    if (st > m->last_step) m->last_step = st;
    if (status == HB_TRIAL_OK) {
        m->fails = 0;
        m->ckpt = pd->id;
        m->ckpt_budget = pd->budget;
        m->ckpt_loss = l;
        if (p->pb2 && isfinite(start_loss)) { /* what the step gained, for the bandit */
            hb_space_to_unit(o->space, o->xs + pd->cfg * o->dim, p->u);
            for (size_t k = 0; k < p->n_mut; k++) p->x[k] = p->u[p->mut[k]];
            int rc = hb__pb2_bandit_observe(p->bandit, start_budget, p->x, start_loss - l, err);
            if (rc != HB_OK) return rc;
        }
        if (pd->budget >= o->set.max_budget * (1 - 1e-12)) {
            m->state = M_DONE;
            return HB_OK;
        }
    } else if (++m->fails >= PBT_MAX_FAILS) {
        m->state = M_DONE;
        m->retired = 1;
        return HB_OK;
    }
    m->state = M_READY;
    m->ready_seq = p->seq++;
    int d = pick_donor(o, pd->member, st);
    if (d >= 0) {
        const member *dm = &p->m[d];
        size_t cfg;
        int rc = explore(o, dm, &cfg, err);
        if (rc != HB_OK) return rc;
        m->cfg = cfg;
        m->ckpt = dm->ckpt;
        m->ckpt_budget = dm->ckpt_budget;
        m->ckpt_loss = dm->ckpt_loss;
        m->lineage = dm->lineage;
    } else if (m->ckpt == HB_NO_JOB) {
        m->fresh = 1; /* failed before any checkpoint, and nobody to copy: start again */
    }
    return HB_OK;
}
