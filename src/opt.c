/* opt.c — the ask/tell state machine: schedulers over a sampler and the history.
 *   single fidelity (random, grid, tpe, gp): every job at max_budget, a fresh configuration each;
 *   brackets (sh, hyperband, bohb): successive halving with a barrier per rung, brackets
 *     interleaved so that when every open bracket waits at a barrier the next one opens;
 *   asha: asynchronous promotion, a rung's top 1/eta moves up as soon as it is known.
 * No clock, no I/O: the same settings and the same order of tells give the same jobs. */
#include "opt_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The optimizers, in the order the documentation and the messages list them: name, scheduler,
 * sampler and what sets one apart from the others of its mode. */
#define OPTIMIZERS(X)                                                                              \
    X("random", MODE_SINGLE, "random", 0)                                                          \
    X("grid", MODE_SINGLE, "grid", 0)                                                              \
    X("sh", MODE_BRACKETS, "random", OPT_ONE_BRACKET)                                              \
    X("hyperband", MODE_BRACKETS, "random", 0)                                                     \
    X("bohb", MODE_BRACKETS, "kde", 0)                                                             \
    X("tpe", MODE_SINGLE, "tpe", 0)                                                                \
    X("gp", MODE_SINGLE, "gp", 0)                                                                  \
    X("asha", MODE_ASHA, "random", 0)                                                              \
    X("pbt", MODE_PBT, "random", 0)                                                                \
    X("pb2", MODE_PBT, "random", OPT_PB2)

static const struct {
    const char *name;
    enum mode mode;
    const char *sampler;
    unsigned flags;
} optimizers[] = {
#define AS_ROW(name, mode, sampler, flags) {name, mode, sampler, flags},
    OPTIMIZERS(AS_ROW)
#undef AS_ROW
};
#define N_OPTIMIZERS (sizeof optimizers / sizeof optimizers[0])

static const char *const names[] = {
#define AS_NAME(name, mode, sampler, flags) name,
    OPTIMIZERS(AS_NAME)
#undef AS_NAME
    NULL};

/* ", random, grid, ...": the text hb_opt_names_text gives starts after the first separator. */
static const char names_text[] =
#define AS_TEXT(name, mode, sampler, flags) ", " name
    OPTIMIZERS(AS_TEXT)
#undef AS_TEXT
    ;

static int find_optimizer(const char *name)
{
    for (size_t i = 0; name && i < N_OPTIMIZERS; i++)
        if (!strcmp(optimizers[i].name, name)) return (int)i;
    return -1;
}

const char *const *hb_opt_names(void) { return names; }
const char *hb_opt_names_text(void) { return names_text + 2; }

int hb_opt_known(const char *name, int *brackets)
{
    int i = find_optimizer(name);
    if (brackets) *brackets = i >= 0 && optimizers[i].mode != MODE_SINGLE && optimizers[i].mode != MODE_PBT;
    return i >= 0;
}

int hb_opt_population(const char *name)
{
    int i = find_optimizer(name);
    return i >= 0 && optimizers[i].mode == MODE_PBT;
}

void hb_opt_settings_init(hb_opt_settings *s)
{
    memset(s, 0, sizeof *s);
    s->optimizer = "random";
    s->min_budget = 1;
    s->max_budget = 1;
    s->eta = 3;
    s->bracket_rule = HB_RULE_PAPER;
    hb_sampler_opts_init(&s->sampler);
    s->pbt_quantile = 0.25;
    s->pbt_resample = 0.25;
}

/* ---------- growable arrays ---------- */

int hb__opt_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return HB_OK;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q = hb_realloc(*p, c * size);
    if (q == NULL) return HB_ENOMEM;
    *p = q;
    *cap = c;
    return HB_OK;
}

static int rung_add(rung *r, size_t cfg)
{
    if (hb__opt_grow((void **)&r->e, &r->cap, r->n + 1, sizeof *r->e) != HB_OK) return HB_ENOMEM;
    r->e[r->n++] = (entry){cfg, E_WAITING, 0, INFINITY, 0};
    return HB_OK;
}

/* ---------- create / free ---------- */

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
    const char *name = s->optimizer ? s->optimizer : "random";
    int oi = find_optimizer(name);
    if (oi < 0) return hb_error_set(err, HB_ENOTFOUND, NULL, "unknown optimizer '%s'", name);
    if ((optimizers[oi].mode == MODE_SINGLE || optimizers[oi].mode == MODE_PBT) && s->iterations > 0)
        return hb_error_set(err, HB_EINVAL, NULL, "iterations apply to sh, hyperband, bohb and asha, not %s",
                            name);
    if (s->max_open_brackets < 0)
        return hb_error_set(err, HB_EINVAL, NULL, "max_open_brackets must be >= 0");
    hb_opt *o = hb_calloc(1, sizeof *o);
    if (o == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    o->set = *s;
    snprintf(o->optimizer, sizeof o->optimizer, "%s", name);
    o->set.optimizer = o->optimizer;
    o->mode = optimizers[oi].mode;
    o->flags = optimizers[oi].flags;
    o->space = space;
    o->dim = hb_space_dim(space);
    int rc = hb_schedule_init(&o->sch, s->min_budget, s->max_budget, s->eta, s->bracket_rule, err);
    if (rc == HB_OK)
        rc = hb_sampler_create(optimizers[oi].sampler, space, s->seed, &s->sampler, &o->sampler, err);
    if (rc == HB_OK && hb_history_create(o->dim, &o->history) != HB_OK)
        rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    if (rc == HB_OK && o->mode == MODE_PBT) rc = hb__pbt_create(o, err);
    if (rc != HB_OK) {
        hb_opt_free(o);
        return rc;
    }
    /* Resolve the defaults (CLI.md): no stop rule at all means one HyperBand iteration for the
     * bracket optimisers (its budget for asha) and 100 evaluations for the others. */
    hb_opt_settings *t = &o->set;
    if (t->max_open_brackets == 0) t->max_open_brackets = o->sch.s_max + 1;
    /* (pbt and pb2 end when every member has trained to max_budget) */
    if (t->max_evals <= 0 && t->iterations <= 0 && t->max_total_budget <= 0 && o->mode != MODE_PBT) {
        if (o->mode == MODE_SINGLE)
            t->max_evals = 100;
        else
            t->iterations = 1;
    }
    o->max_brackets = -1;
    if (t->iterations > 0) {
        if (o->mode == MODE_ASHA) {
            double b = (double)t->iterations * hb_schedule_iteration_budget(&o->sch);
            if (t->max_total_budget <= 0 || b < t->max_total_budget) t->max_total_budget = b;
        } else if (o->flags & OPT_ONE_BRACKET) {
            o->max_brackets = t->iterations;
        } else {
            o->max_brackets = t->iterations * (o->sch.s_max + 1);
        }
    }
    *out = o;
    return HB_OK;
}

static void bracket_fini(bracket *b)
{
    for (int i = 0; i < b->n_rungs; i++) {
        hb_free(b->rungs[i].e);
        hb_free(b->rungs[i].heap);
        hb_free(b->rungs[i].up);
    }
}

void hb_opt_free(hb_opt *o)
{
    if (o == NULL) return;
    for (size_t i = 0; i < o->n_br; i++) bracket_fini(&o->br[i]);
    hb_free(o->br);
    hb_free(o->pend);
    hb_free(o->pview);
    hb_free(o->xs);
    hb_free(o->cj);
    hb__pbt_free(o);
    hb_sampler_free(o->sampler);
    hb_history_free(o->history);
    hb_free(o);
}

/* ---------- issuing ---------- */

/* Would a job at 'budget' break a stop rule? Then stop for good. */
int hb__opt_may_issue(hb_opt *o, double budget)
{
    if (o->stopped) return 0;
    const hb_opt_settings *t = &o->set;
    if ((t->max_evals > 0 && o->next_id >= (uint64_t)t->max_evals) ||
        (t->max_total_budget > 0 && o->issued_budget + budget > t->max_total_budget * (1 + 1e-12))) {
        o->stopped = 1;
        return 0;
    }
    return 1;
}

/* Ask the sampler for a new configuration; its index in the store goes to '*cfg'. Returns
 * HB_SAMPLER_EXHAUSTED when the sampler has nothing more. */
int hb__opt_store_config(hb_opt *o, size_t *cfg, hb_error *err)
{
    size_t need = (o->n_cfg + 1) * (o->dim ? o->dim : 1);
    size_t capx = o->cap_cfg * (o->dim ? o->dim : 1);
    if (need > capx) {
        size_t c = o->cap_cfg ? 2 * o->cap_cfg : 64;
        double *xs = hb_realloc(o->xs, c * (o->dim ? o->dim : 1) * sizeof(double));
        if (xs == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        o->xs = xs;
        cfg_jobs *cj = hb_realloc(o->cj, c * sizeof *cj);
        if (cj == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        o->cj = cj;
        o->cap_cfg = c;
    }
    o->cj[o->n_cfg] = (cfg_jobs){HB_NO_JOB, HB_NO_JOB, 0};
    *cfg = o->n_cfg++;
    return HB_OK;
}

int hb__opt_new_config(hb_opt *o, double budget, size_t *cfg, hb_error *err)
{
    int rc = hb__opt_store_config(o, cfg, err);
    if (rc != HB_OK) return rc;
    double *x = o->xs + *cfg * o->dim;
    if (o->replay_x && hb_sampler_skip(o->sampler) == HB_OK) { /* replay: the log has it */
        memcpy(x, o->replay_x, o->dim * sizeof(double));
        return HB_OK;
    }
    if (hb__opt_grow((void **)&o->pview, &o->cap_pview, o->n_pend + 1, sizeof *o->pview) != HB_OK)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < o->n_pend; i++)
        o->pview[i] = (hb_pending){o->xs + o->pend[i].cfg * o->dim, o->pend[i].budget};
    rc = hb_sampler_propose(o->sampler, o->history, o->pview, o->n_pend, budget, x, err);
    if (rc != HB_OK) o->n_cfg--; /* the slot goes back */
    return rc;
}

static int issue(hb_opt *o, size_t cfg, double budget, int b, int r, size_t e, hb_job *job,
                 hb_error *err)
{
    if (hb__opt_grow((void **)&o->pend, &o->cap_pend, o->n_pend + 1, sizeof *o->pend) != HB_OK)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    uint64_t id = o->next_id++;
    o->pend[o->n_pend++] = (pending){id, cfg, budget, b, r, e, -1};
    o->issued_budget += budget;
    if (b >= 0) {
        rung *ru = &o->br[b].rungs[r];
        ru->e[e].state = E_ISSUED;
        ru->e[e].job = id;
        ru->issued++;
    }
    job->kind = HB_ASK_JOB;
    job->id = id;
    job->budget = budget;
    job->bracket = b >= 0 ? o->br[b].s : -1;
    job->stage = b >= 0 ? r : -1;
    job->x = o->xs + cfg * o->dim;
    cfg_jobs *cj = &o->cj[cfg];
    if (cj->first == HB_NO_JOB) cj->first = id;
    job->config = cj->first;
    job->prev = cj->last;
    job->prev_budget = cj->last == HB_NO_JOB ? 0 : cj->last_budget;
    cj->last = id;
    cj->last_budget = budget;
    return HB_OK;
}

/* The next job of bracket 'bi', if its current rung has one: 1 = issued, 0 = none, < 0 error. */
static int bracket_next(hb_opt *o, size_t bi, hb_job *job, hb_error *err)
{
    bracket *b = &o->br[bi];
    if (b->closed) return 0;
    rung *r = &b->rungs[b->cur];
    int rc;
    if (r->issued < r->n) { /* a promoted configuration waits at this rung */
        if (!hb__opt_may_issue(o, r->budget)) return 0;
        size_t e = r->issued; /* entries are issued in order */
        return (rc = issue(o, r->e[e].cfg, r->budget, (int)bi, b->cur, e, job, err)) == HB_OK ? 1 : rc;
    }
    if (b->cur == 0 && (long)r->n < r->target) { /* the first rung samples as it goes */
        if (!hb__opt_may_issue(o, r->budget)) return 0;
        size_t cfg;
        rc = hb__opt_new_config(o, r->budget, &cfg, err);
        if (rc == HB_SAMPLER_EXHAUSTED) {
            o->stopped = 1;
            return 0;
        }
        if (rc != HB_OK) return rc;
        if (rung_add(r, cfg) != HB_OK) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        return (rc = issue(o, cfg, r->budget, (int)bi, 0, r->n - 1, job, err)) == HB_OK ? 1 : rc;
    }
    return 0;
}

static int open_bracket(hb_opt *o, int s, hb_error *err)
{
    if (hb__opt_grow((void **)&o->br, &o->cap_br, o->n_br + 1, sizeof *o->br) != HB_OK)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    bracket *b = &o->br[o->n_br++];
    o->n_open++;
    memset(b, 0, sizeof *b);
    hb_bracket t;
    hb_schedule_bracket(&o->sch, s, &t);
    b->s = s;
    b->n_rungs = t.n_rungs;
    for (int i = 0; i < t.n_rungs; i++) {
        b->rungs[i].target = o->mode == MODE_ASHA ? -1 : t.n[i];
        b->rungs[i].budget = t.budget[i];
    }
    return HB_OK;
}

static size_t open_brackets(const hb_opt *o) { return o->n_open; }

static int ask_brackets(hb_opt *o, hb_job *job, hb_error *err)
{
    for (;;) {
        /* Closed brackets are skipped for good: a long run asks in time independent of its age. */
        while (o->first_open < o->n_br && o->br[o->first_open].closed) o->first_open++;
        for (size_t i = o->first_open; i < o->n_br; i++) {
            int rc = bracket_next(o, i, job, err);
            if (rc != 0) return rc < 0 ? rc : HB_OK;
            if (o->stopped) break;
        }
        /* Every open bracket waits at a barrier (or none is open): open the next one. */
        if (o->stopped || (o->max_brackets >= 0 && (long)o->n_br >= o->max_brackets) ||
            open_brackets(o) >= (size_t)o->set.max_open_brackets)
            break;
        int s = o->flags & OPT_ONE_BRACKET ? o->sch.s_max : hb_schedule_s_of(&o->sch, (long)o->n_br);
        int rc = open_bracket(o, s, err);
        if (rc != HB_OK) return rc;
    }
    job->kind = o->n_pend ? HB_ASK_WAIT : HB_ASK_DONE;
    return HB_OK;
}

/* Rung results ordered best first: ok before failed, lower loss first, earlier job first. */
static int better(const entry *a, const entry *b)
{
    if (a->loss != b->loss) return a->loss < b->loss;
    return a->job < b->job;
}

static int ranked_better(const ranked *a, const ranked *b)
{
    return a->loss < b->loss || (a->loss == b->loss && a->job < b->job);
}

/* A finished ok result joins its rung's candidates for promotion. */
static int asha_add(rung *r, ranked x)
{
    if (hb__opt_grow((void **)&r->heap, &r->cap_heap, r->n_heap + 1, sizeof *r->heap) != HB_OK) return HB_ENOMEM;
    size_t i = r->n_heap++;
    r->heap[i] = x;
    while (i > 0 && ranked_better(&r->heap[i], &r->heap[(i - 1) / 2])) {
        ranked t = r->heap[i];
        r->heap[i] = r->heap[(i - 1) / 2];
        r->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    return HB_OK;
}

/* The best candidate leaves the heap and joins the promoted, in rank order. */
static int asha_promote_top(rung *r)
{
    if (hb__opt_grow((void **)&r->up, &r->cap_up, r->n_up + 1, sizeof *r->up) != HB_OK) return HB_ENOMEM;
    ranked x = r->heap[0];
    r->heap[0] = r->heap[--r->n_heap];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->n_heap && ranked_better(&r->heap[l], &r->heap[m])) m = l;
        if (l + 1 < r->n_heap && ranked_better(&r->heap[l + 1], &r->heap[m])) m = l + 1;
        if (m == i) break;
        ranked t = r->heap[i];
        r->heap[i] = r->heap[m];
        r->heap[m] = t;
        i = m;
    }
    size_t lo = 0, hi = r->n_up;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ranked_better(&r->up[mid], &x)) lo = mid + 1; else hi = mid;
    }
    memmove(&r->up[lo + 1], &r->up[lo], (r->n_up - lo) * sizeof *r->up);
    r->up[lo] = x;
    r->n_up++;
    return HB_OK;
}

/* Rank of the best candidate among the rung's finished results: how many promoted ones beat it
 * (no candidate does: it is the best of them). */
static size_t asha_rank_of_top(const rung *r)
{
    size_t lo = 0, hi = r->n_up;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ranked_better(&r->up[mid], &r->heap[0])) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static int ask_asha(hb_opt *o, hb_job *job, hb_error *err)
{
    int rc;
    if (o->n_br == 0 && (rc = open_bracket(o, o->sch.s_max, err)) != HB_OK) return rc;
    bracket *b = &o->br[0];
    /* Promote from the highest rung whose best candidate is in the top 1/eta of its finished
     * results (failures count among them, at the bottom). */
    for (int k = b->n_rungs - 2; k >= 0 && !o->stopped; k--) {
        rung *r = &b->rungs[k];
        size_t top = (size_t)floor((double)r->done / o->set.eta + 1e-9);
        if (r->n_heap == 0 || asha_rank_of_top(r) >= top) continue;
        rung *up = &b->rungs[k + 1];
        if (!hb__opt_may_issue(o, up->budget)) break;
        size_t e = r->heap[0].entry;
        r->e[e].promoted = 1;
        if (asha_promote_top(r) != HB_OK || rung_add(up, r->e[e].cfg) != HB_OK)
            return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        return issue(o, r->e[e].cfg, up->budget, 0, k + 1, up->n - 1, job, err);
    }
    rung *r0 = &b->rungs[0];
    if (hb__opt_may_issue(o, r0->budget)) {
        size_t cfg;
        rc = hb__opt_new_config(o, r0->budget, &cfg, err);
        if (rc == HB_SAMPLER_EXHAUSTED)
            o->stopped = 1;
        else if (rc != HB_OK)
            return rc;
        else {
            if (rung_add(r0, cfg) != HB_OK) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
            return issue(o, cfg, r0->budget, 0, 0, r0->n - 1, job, err);
        }
    }
    job->kind = o->n_pend ? HB_ASK_WAIT : HB_ASK_DONE;
    return HB_OK;
}

static int ask_single(hb_opt *o, hb_job *job, hb_error *err)
{
    double budget = o->set.max_budget;
    if (hb__opt_may_issue(o, budget)) {
        size_t cfg;
        int rc = hb__opt_new_config(o, budget, &cfg, err);
        if (rc == HB_SAMPLER_EXHAUSTED)
            o->stopped = 1;
        else if (rc != HB_OK)
            return rc;
        else
            return issue(o, cfg, budget, -1, -1, 0, job, err);
    }
    job->kind = o->n_pend ? HB_ASK_WAIT : HB_ASK_DONE;
    return HB_OK;
}

int hb_opt_ask(hb_opt *o, hb_job *job, hb_error *err)
{
    memset(job, 0, sizeof *job);
    job->bracket = job->stage = -1;
    switch (o->mode) {
    case MODE_BRACKETS: return ask_brackets(o, job, err);
    case MODE_ASHA: return ask_asha(o, job, err);
    case MODE_PBT: return hb__pbt_ask(o, job, err);
    default: return ask_single(o, job, err);
    }
}

int hb_opt_ask_replay(hb_opt *o, const double *x, int verify, hb_job *job, hb_error *err)
{
    o->replay_x = verify ? NULL : x;
    int rc = hb_opt_ask(o, job, err);
    o->replay_x = NULL;
    return rc;
}

/* ---------- telling ---------- */

/* The rung 'r' of bracket 'b' has all its results: promote its best to the next rung, or close. */
static int finish_rung(bracket *b, hb_error *err)
{
    rung *r = &b->rungs[b->cur];
    if (b->cur + 1 >= b->n_rungs) {
        b->closed = 1;
        return HB_OK;
    }
    rung *up = &b->rungs[b->cur + 1];
    /* Take the best 'up->target' ok results, in order of rank; failures never move up. */
    for (long k = 0; k < up->target; k++) {
        long best = -1;
        for (size_t i = 0; i < r->n; i++) {
            if (r->e[i].promoted || !isfinite(r->e[i].loss)) continue;
            if (best < 0 || better(&r->e[i], &r->e[best])) best = (long)i;
        }
        if (best < 0) break;
        r->e[best].promoted = 1;
        if (rung_add(up, r->e[best].cfg) != HB_OK) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    b->cur++;
    if (up->n == 0) b->closed = 1; /* everything failed */
    return HB_OK;
}

int hb_opt_tell(hb_opt *o, uint64_t id, double loss, hb_trial_status status, hb_error *err)
{
    size_t i = 0;
    while (i < o->n_pend && o->pend[i].id != id) i++;
    if (i == o->n_pend)
        return hb_error_set(err, HB_EINVAL, NULL, "job %llu is unknown or already told",
                            (unsigned long long)id);
    if (status == HB_TRIAL_OK && !isfinite(loss)) status = HB_TRIAL_NAN;
    double l = status == HB_TRIAL_OK ? loss : INFINITY; /* a failure is the worst loss */
    pending p = o->pend[i];
    int rc = hb_history_add(o->history, id, o->xs + p.cfg * o->dim, p.budget, l, status);
    if (rc != HB_OK) return hb_error_set(err, rc, NULL, "out of memory");
    memmove(&o->pend[i], &o->pend[i + 1], (o->n_pend - i - 1) * sizeof *o->pend);
    o->n_pend--;
    if (p.member >= 0) return hb__pbt_tell(o, &p, l, status, err);
    if (p.bracket >= 0) {
        bracket *b = &o->br[p.bracket];
        rung *r = &b->rungs[p.rung];
        r->e[p.entry].state = E_DONE;
        r->e[p.entry].loss = l;
        r->done++;
        if (o->mode == MODE_ASHA && isfinite(l) && p.rung + 1 < b->n_rungs &&
            asha_add(r, (ranked){l, id, p.entry}) != HB_OK)
            return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        if (o->mode == MODE_BRACKETS && p.rung == b->cur && (long)r->done == (long)r->n &&
            ((long)r->n >= r->target || p.rung > 0))
        {
            rc = finish_rung(b, err);
            if (b->closed) o->n_open--;
            return rc;
        }
    }
    return HB_OK;
}

int hb_opt_observe(hb_opt *o, const double *x, double budget, double loss, hb_trial_status status,
                   hb_error *err)
{
    if (status == HB_TRIAL_OK && !isfinite(loss)) status = HB_TRIAL_NAN;
    double l = status == HB_TRIAL_OK ? loss : INFINITY;
    /* ids from the top down: never a job's */
    uint64_t id = UINT64_MAX - hb_history_size(o->history);
    int rc = hb_history_add(o->history, id, x, budget, l, status);
    return rc == HB_OK ? HB_OK : hb_error_set(err, rc, NULL, "out of memory");
}

void hb_opt_stop(hb_opt *o) { o->stopped = 1; }
const hb_history *hb_opt_history(const hb_opt *o) { return o->history; }
size_t hb_opt_pending(const hb_opt *o) { return o->n_pend; }
size_t hb_opt_open_brackets(const hb_opt *o) { return o->mode == MODE_BRACKETS ? open_brackets(o) : 0; }
const hb_opt_settings *hb_opt_settings_of(const hb_opt *o) { return &o->set; }

int hb_opt_plan(const hb_opt *o, hb_opt_plan_info *out)
{
    if (o == NULL || out == NULL) return HB_EINVAL;
    const hb_opt_settings *t = &o->set;
    out->evals = t->max_evals > 0 && t->iterations <= 0 && t->max_total_budget <= 0 ? t->max_evals : -1;
    out->budget = t->max_total_budget > 0 ? t->max_total_budget : -1;
    if (o->mode == MODE_BRACKETS && t->iterations > 0) { /* (asha's iterations are in max_total_budget) */
        double per = o->flags & OPT_ONE_BRACKET ? hb_schedule_bracket_budget(&o->sch, o->sch.s_max)
                                                : hb_schedule_iteration_budget(&o->sch);
        double b = (double)t->iterations * per;
        if (out->budget < 0 || b < out->budget) out->budget = b;
    }
    return HB_OK;
}
