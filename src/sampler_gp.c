/* sampler_gp.c — Bayesian optimisation with a Gaussian process (gp.c) on one fidelity: random
 * configurations until min_points_in_model results, then the configuration that maximises EI or
 * PI, with running jobs entered as constant liars. Exports hb__sampler_gp and nothing else;
 * randomness only from s->rng, no I/O, no clock, heap only through hb_malloc. */

/* Design choices, in the order a proposal meets them:
 * - Data: the results at the proposal's budget; if there are none, every result. At most
 *   MAX_POINTS rows: beyond that the best half and the most recent others are kept.
 * - Failures (any status but ok, or a non-finite loss) get the worst ok loss of those results,
 *   so the model learns to avoid them without one huge value flattening the rest. With no ok
 *   result at all, the proposal is random.
 * - Inputs: each parameter's unit-cube coordinate (hb_space_to_unit). Float, int and ordinal
 *   parameters are one column; a categorical one is one-hot, scaled so that two different
 *   choices are at distance 1; constants and one-choice parameters have no column. A parameter
 *   with a condition gets one more column that is 1 when it is inactive (the value column then
 *   holds 0.5, the one-hot block an extra "inactive" choice). All columns of a parameter share
 *   one length scale.
 * - Targets are standardised (mean 0, sd 1; sd 1 if all are equal).
 * - Hyperparameters (length scales, signal and noise variance; gp.c has the bounds) maximise the
 *   log marginal likelihood: BFGS from the previous fit (or the defaults) plus FIT_RANDOM
 *   random starts, on at most FIT_POINTS rows (evenly spaced in history order) so that a refit
 *   costs the same at any size. They are refitted at every new result up to REFIT_ALWAYS
 *   results, then whenever the count has grown by 1/REFIT_GROWTH since the last fit; in between
 *   only the factor is recomputed. Fits are remembered per budget (SLOTS budgets).
 * - Pending jobs (any budget) join the data with the liar value max(mu(x), best observed loss)
 *   ("kriging believer" floored at the best): a running job never looks like an improvement,
 *   so acquisitions vanish at and near it and parallel proposals spread out.
 * - Acquisition: EI or PI of the standardised loss with margin XI below the best observed loss.
 * - Maximiser: 8 * num_samples uniform candidates and 8 * num_samples perturbations of the best
 *   N_CENTRES results, then a coordinate pattern search from the best LS_STARTS distinct
 *   candidates. Every candidate is decoded (hb_space_from_unit: rounding, choices, conditions)
 *   and scored as the configuration it decodes to; forbidden ones score -inf. If nothing valid
 *   is found or the GP cannot be factored, the proposal falls back to random. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gp_impl.h"
#include "sampler_impl.h"

#define XI 0.01            /* acquisition margin, in standardised loss units */
#define MAX_POINTS 800     /* rows of the GP at most (cost grows as rows^3) */
#define REFIT_ALWAYS 30    /* refit at every new result up to this many */
#define REFIT_GROWTH 10    /* then when the count grew by a tenth */
#define FIT_POINTS 150     /* rows the hyperparameters are fitted on at most */
#define FIT_RANDOM 2       /* random BFGS starts besides the previous fit */
#define FIT_MAX_ITER 30    /* BFGS iterations per start */
#define SLOTS 8            /* budgets whose fitted hyperparameters are remembered */
#define POOL_FACTOR 8      /* uniform candidates and perturbations, each num_samples times this */
#define N_CENTRES 5        /* results perturbed */
#define CAT_SWITCH 0.2     /* probability that a perturbation redraws a categorical */
#define LS_STARTS 3        /* pattern searches per proposal */
#define LS_MAX_ITER 40     /* moves plus step halvings per pattern search */
#define LS_STEP0 0.1       /* first step, unit-cube coordinates */
#define LS_STEP_MIN 1e-3   /* last step */
#define CAT_NEIGHBOURS 8   /* other choices tried per categorical per pattern-search step */
#define ONE_HOT 0.70710678118654752440

enum { COL_NONE, COL_NUM, COL_CAT };

typedef struct hyp_slot {
    int used;
    int all;       /* 1: fitted on every result (none was at the budget) */
    double budget; /* the budget fitted for, when !all */
    size_t n_fit;  /* results available at the last fit */
    double *theta; /* n_ls + 2 log-hyperparameters */
} hyp_slot;

typedef struct gp_state {
    size_t d;          /* parameters of the space */
    size_t m;          /* feature columns */
    size_t n_ls;       /* length scales: one per parameter with columns */
    int *kind;         /* d: COL_* */
    size_t *col;       /* d: first column of each parameter */
    int *flag;         /* d: 1 if the parameter has a condition (an "inactive" column) */
    int *owner;        /* m: length scale of each column */
    size_t max_nb;     /* pattern-search neighbours at most */
    double *theta_mem; /* SLOTS x (n_ls + 2) */
    hyp_slot slot[SLOTS];
    size_t next_slot;  /* round-robin replacement */
} gp_state;

/* ---------- setup ---------- */

static void gp_fini(hb_sampler *s)
{
    gp_state *st = s->state;
    if (st == NULL) return;
    hb_free(st->kind);
    hb_free(st->col);
    hb_free(st->flag);
    hb_free(st->owner);
    hb_free(st->theta_mem);
}

static int gp_init(hb_sampler *s, hb_error *err)
{
    gp_state *st = s->state;
    const hb_space *sp = s->space;
    size_t d = hb_space_dim(sp), nd = d ? d : 1;
    st->d = d;
    st->kind = hb_calloc(nd, sizeof *st->kind);
    st->col = hb_calloc(nd, sizeof *st->col);
    st->flag = hb_calloc(nd, sizeof *st->flag);
    if (!st->kind || !st->col || !st->flag) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < d; i++) {
        size_t nch = hb_space_n_choices(sp, i), ncols = 0;
        switch (hb_space_type(sp, i)) {
        case HB_PARAM_FLOAT:
        case HB_PARAM_INT: st->kind[i] = COL_NUM; break;
        case HB_PARAM_ORDINAL: st->kind[i] = nch > 1 ? COL_NUM : COL_NONE; break;
        case HB_PARAM_CATEGORICAL: st->kind[i] = nch > 1 ? COL_CAT : COL_NONE; break;
        default: st->kind[i] = COL_NONE; break;
        }
        if (st->kind[i] == COL_NONE) continue;
        st->flag[i] = hb_space_has_condition(sp, i) ? 1 : 0;
        ncols = (st->kind[i] == COL_CAT ? nch : 1) + (size_t)st->flag[i];
        st->col[i] = st->m;
        st->m += ncols;
        st->n_ls++;
        st->max_nb += st->kind[i] == COL_CAT ? (nch - 1 < CAT_NEIGHBOURS ? nch - 1 : CAT_NEIGHBOURS) : 2;
    }
    st->owner = hb_malloc((st->m ? st->m : 1) * sizeof *st->owner);
    st->theta_mem = hb_malloc(SLOTS * (st->n_ls + 2) * sizeof(double));
    if (!st->owner || !st->theta_mem) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0, g = 0; i < d; i++) {
        if (st->kind[i] == COL_NONE) continue;
        size_t ncols = (st->kind[i] == COL_CAT ? hb_space_n_choices(sp, i) : 1) + (size_t)st->flag[i];
        for (size_t c = 0; c < ncols; c++) st->owner[st->col[i] + c] = (int)g;
        g++;
    }
    for (size_t k = 0; k < SLOTS; k++) st->slot[k].theta = st->theta_mem + k * (st->n_ls + 2);
    return HB_OK;
}

/* Feature row 'f' of native configuration 'x' ('u' is d doubles of scratch). */
static void features(const gp_state *st, const hb_space *sp, const double *x, double *u, double *f)
{
    hb_space_to_unit(sp, x, u);
    for (size_t i = 0; i < st->d; i++) {
        size_t c = st->col[i];
        if (st->kind[i] == COL_NUM) {
            int off = isnan(u[i]);
            f[c] = off ? 0.5 : u[i];
            if (st->flag[i]) f[c + 1] = off ? 1.0 : 0.0;
        } else if (st->kind[i] == COL_CAT) {
            size_t n = hb_space_n_choices(sp, i);
            for (size_t k = 0; k < n + (size_t)st->flag[i]; k++) f[c + k] = 0;
            if (isnan(x[i])) {
                if (st->flag[i]) f[c + n] = ONE_HOT;
            } else {
                size_t k = x[i] <= 0 ? 0 : (x[i] >= (double)(n - 1) ? n - 1 : (size_t)x[i]);
                f[c + k] = ONE_HOT;
            }
        }
    }
}

/* ---------- the data ---------- */

static int obs_ok(const hb_obs *o) { return o->status == HB_TRIAL_OK && isfinite(o->loss); }

typedef struct keyed {
    double key;
    size_t idx;
} keyed;

static int keyed_cmp(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

/* Keep MAX_POINTS of the 'n' history indices in 'rows': the best half by loss (failures last)
 * and the most recent of the others; history order is preserved. */
static int cap_rows(const hb_history *h, size_t *rows, size_t *n)
{
    keyed *k = hb_malloc(*n * sizeof *k);
    unsigned char *keep = hb_calloc(*n, 1);
    if (!k || !keep) {
        hb_free(k);
        hb_free(keep);
        return HB_ENOMEM;
    }
    for (size_t i = 0; i < *n; i++) {
        hb_obs o = hb_history_at(h, rows[i]);
        k[i].key = obs_ok(&o) ? o.loss : INFINITY;
        k[i].idx = i;
    }
    qsort(k, *n, sizeof *k, keyed_cmp);
    size_t kept = 0;
    for (; kept < MAX_POINTS / 2; kept++) keep[k[kept].idx] = 1;
    for (size_t i = *n; i-- > 0 && kept < MAX_POINTS;)
        if (!keep[i]) {
            keep[i] = 1;
            kept++;
        }
    size_t j = 0;
    for (size_t i = 0; i < *n; i++)
        if (keep[i]) rows[j++] = rows[i];
    *n = j;
    hb_free(k);
    hb_free(keep);
    return HB_OK;
}

/* ---------- one proposal ---------- */

typedef struct prop {
    hb_sampler *s;
    const gp_state *st;
    const hb_space *sp;
    hb__gp gp;
    double fbest;                 /* best observed loss, standardised */
    size_t q_max;                 /* rows of the candidate buffers */
    double *U, *Xc, *F;           /* candidates: raw unit vectors, decoded, features */
    double *mu, *sd, *acq;        /* their posterior and acquisition */
    double *scratch;              /* 4 d: unit vector, two temporaries, a centre */
    double *best_x, best_acq;     /* the best decoded candidate so far */
    double *start_u, *start_x;    /* LS_STARTS rows: pattern-search starts */
} prop;

static int same_config(const double *a, const double *b, size_t d)
{
    for (size_t i = 0; i < d; i++)
        if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i])))) return 0;
    return 1;
}

/* Decode and score the 'q' unit vectors in P->U (into Xc, F, mu, sd, acq); keep the best. */
static void eval_batch(prop *P, size_t q)
{
    size_t d = P->st->d, m = P->st->m;
    for (size_t i = 0; i < q; i++) {
        double *x = P->Xc + i * d;
        hb_space_from_unit(P->sp, P->U + i * d, x);
        P->acq[i] = hb_space_is_forbidden(P->sp, x) ? -INFINITY : 0;
        features(P->st, P->sp, x, P->scratch, P->F + i * m);
    }
    hb__gp_predict(&P->gp, q, P->F, P->mu, P->sd);
    int ei = P->s->opts.acquisition == HB_ACQ_EI;
    for (size_t i = 0; i < q; i++) {
        if (P->acq[i] == -INFINITY) continue;
        P->acq[i] = ei ? hb__gp_ei(P->mu[i], P->sd[i], P->fbest, XI)
                       : hb__gp_pi(P->mu[i], P->sd[i], P->fbest, XI);
        if (P->acq[i] > P->best_acq) {
            P->best_acq = P->acq[i];
            memcpy(P->best_x, P->Xc + i * d, d * sizeof(double));
        }
    }
}

/* Write into P->U the pattern-search neighbours of (ucur, xcur) at 'step'; returns how many.
 * Numeric parameters move by +-step (an int or ordinal that would not change moves by one
 * value); categoricals try other choices; inactive parameters are left alone. */
static size_t neighbours(prop *P, const double *ucur, const double *xcur, double step)
{
    const gp_state *st = P->st;
    const hb_space *sp = P->sp;
    size_t d = st->d, q = 0;
    double *ut = P->scratch + d, *xt = P->scratch + 2 * d;
    for (size_t i = 0; i < d; i++) {
        if (st->kind[i] == COL_NONE || isnan(xcur[i])) continue;
        if (st->kind[i] == COL_CAT) {
            size_t n = hb_space_n_choices(sp, i), k = (size_t)xcur[i];
            for (size_t t = 1; t < n && t <= CAT_NEIGHBOURS; t++) {
                double *row = P->U + q++ * d;
                memcpy(row, ucur, d * sizeof(double));
                row[i] = ((double)((k + t) % n) + 0.5) / (double)n;
            }
            continue;
        }
        hb_param_type type = hb_space_type(sp, i);
        for (int sign = -1; sign <= 1; sign += 2) {
            double v = ucur[i] + sign * step;
            v = v < 0 ? 0 : (v > 1 ? 1 : v);
            if (type != HB_PARAM_FLOAT) {
                memcpy(ut, ucur, d * sizeof(double));
                ut[i] = v;
                hb_space_from_unit(sp, ut, xt);
                if (xt[i] == xcur[i]) { /* same value: step to the next one */
                    double nv = xcur[i] + sign, lo = 0, hi = (double)hb_space_n_choices(sp, i) - 1;
                    if (type == HB_PARAM_INT) {
                        lo = hb_space_lower(sp, i);
                        hi = hb_space_upper(sp, i);
                    }
                    if (nv < lo || nv > hi) continue;
                    memcpy(xt, xcur, d * sizeof(double));
                    xt[i] = nv;
                    hb_space_to_unit(sp, xt, ut);
                    v = ut[i];
                }
            }
            if (v == ucur[i]) continue;
            double *row = P->U + q++ * d;
            memcpy(row, ucur, d * sizeof(double));
            row[i] = v;
        }
    }
    return q;
}

/* Coordinate pattern search from (u, x, a): move to the best improving neighbour, else halve
 * the step. 'u' and 'x' are overwritten. */
static void pattern_search(prop *P, double *u, double *x, double a)
{
    size_t d = P->st->d;
    double step = LS_STEP0;
    for (int it = 0; it < LS_MAX_ITER && step >= LS_STEP_MIN; it++) {
        size_t q = neighbours(P, u, x, step);
        if (q == 0) break;
        eval_batch(P, q);
        size_t bi = 0;
        for (size_t i = 1; i < q; i++)
            if (P->acq[i] > P->acq[bi]) bi = i;
        if (P->acq[bi] > a) {
            a = P->acq[bi];
            memcpy(u, P->U + bi * d, d * sizeof(double));
            memcpy(x, P->Xc + bi * d, d * sizeof(double));
        } else {
            step *= 0.5;
        }
    }
}

/* Candidate pool, then pattern searches from its best distinct members. 'centres' are history
 * indices of the best results. */
static void maximise(prop *P, const hb_history *h, const size_t *centres, size_t n_centres)
{
    hb_rng *rng = &P->s->rng;
    size_t d = P->st->d, ns = (size_t)P->s->opts.num_samples;
    size_t n_uni = POOL_FACTOR * ns, n_loc = POOL_FACTOR * ns, q = n_uni + n_loc;
    static const double scales[3] = {0.2, 0.05, 0.01};
    double *cu = P->scratch + 3 * d;
    for (size_t i = 0; i < n_uni * d; i++) P->U[i] = hb_rng_uniform(rng);
    for (size_t i = 0; i < n_loc; i++) {
        double *row = P->U + (n_uni + i) * d, sc = scales[(i / n_centres) % 3];
        hb_space_to_unit(P->sp, hb_history_at(h, centres[i % n_centres]).x, cu);
        for (size_t j = 0; j < d; j++) {
            double base = isnan(cu[j]) ? hb_rng_uniform(rng) : cu[j];
            if (P->st->kind[j] == COL_CAT)
                row[j] = hb_rng_uniform(rng) < CAT_SWITCH ? hb_rng_uniform(rng) : base;
            else if (P->st->kind[j] == COL_NUM)
                row[j] = base + sc * hb_rng_normal(rng);
            else
                row[j] = base;
        }
    }
    eval_batch(P, q);
    /* The best LS_STARTS candidates that decode to different configurations. */
    double start_a[LS_STARTS];
    size_t n_starts = 0;
    for (size_t k = 0; k < LS_STARTS; k++) {
        size_t bi = q;
        for (size_t i = 0; i < q; i++) {
            if (P->acq[i] == -INFINITY || (bi < q && !(P->acq[i] > P->acq[bi]))) continue;
            int dup = 0;
            for (size_t t = 0; t < n_starts && !dup; t++)
                dup = same_config(P->Xc + i * d, P->start_x + t * d, d);
            if (!dup) bi = i;
        }
        if (bi == q) break;
        memcpy(P->start_u + n_starts * d, P->U + bi * d, d * sizeof(double));
        memcpy(P->start_x + n_starts * d, P->Xc + bi * d, d * sizeof(double));
        start_a[n_starts++] = P->acq[bi];
    }
    for (size_t k = 0; k < n_starts; k++)
        pattern_search(P, P->start_u + k * d, P->start_x + k * d, start_a[k]);
}

/* Fit the hyperparameters on the GP's rows, or on FIT_POINTS of them evenly spaced in history
 * order when there are more (the posterior still uses every row), then factor the GP. */
static int fit_theta(prop *P)
{
    hb__gp *gp = &P->gp, sub;
    size_t n = gp->n, m = gp->m, p = gp->n_ls + 2;
    if (n <= FIT_POINTS) return hb__gp_fit(gp, &P->s->rng, FIT_RANDOM, FIT_MAX_ITER);
    int rc = hb__gp_init(&sub, FIT_POINTS, m, gp->n_ls, gp->owner);
    if (rc == HB_OK) {
        for (size_t i = 0; i < FIT_POINTS; i++) {
            size_t r = i * n / FIT_POINTS;
            memcpy(sub.X + i * m, gp->X + r * m, m * sizeof(double));
            sub.y[i] = gp->y[r];
        }
        sub.n = FIT_POINTS;
        memcpy(sub.theta, gp->theta, p * sizeof(double));
        rc = hb__gp_fit(&sub, &P->s->rng, FIT_RANDOM, FIT_MAX_ITER);
    }
    if (rc == HB_OK) {
        memcpy(gp->theta, sub.theta, p * sizeof(double));
        rc = hb__gp_factor(gp);
    }
    hb__gp_fini(&sub);
    return rc;
}

static hyp_slot *find_slot(gp_state *st, int all, double budget)
{
    for (size_t k = 0; k < SLOTS; k++)
        if (st->slot[k].used && st->slot[k].all == all && (all || st->slot[k].budget == budget))
            return &st->slot[k];
    return NULL;
}

/* Fit or refactor the GP on its first n rows (see the refit schedule above). Returns HB_OK,
 * HB_ENOMEM, or HB_ERANGE when the GP cannot be used. */
static int hyperparameters(prop *P, int all, double budget, size_t n_avail)
{
    gp_state *st = P->s->state;
    hyp_slot *slot = find_slot(st, all, budget);
    size_t p = st->n_ls + 2;
    int refit = 1, rc;
    if (slot) {
        size_t step = slot->n_fit <= REFIT_ALWAYS ? 1 : slot->n_fit / REFIT_GROWTH;
        refit = n_avail < slot->n_fit || n_avail >= slot->n_fit + step;
        memcpy(P->gp.theta, slot->theta, p * sizeof(double));
    }
    if (!refit && (rc = hb__gp_factor(&P->gp)) != HB_ERANGE) return rc;
    rc = fit_theta(P);
    if (rc != HB_OK) return rc;
    if (slot == NULL) {
        slot = &st->slot[st->next_slot];
        st->next_slot = (st->next_slot + 1) % SLOTS;
        slot->used = 1;
        slot->all = all;
        slot->budget = budget;
    }
    slot->n_fit = n_avail;
    memcpy(slot->theta, P->gp.theta, p * sizeof(double));
    return HB_OK;
}

static int gp_propose(hb_sampler *s, const hb_history *h, const hb_pending *pending,
                      size_t n_pending, double budget, double *x, hb_error *err)
{
    gp_state *st = s->state;
    size_t d = st->d, m = st->m, nh = hb_history_size(h), n = 0, n_ok = 0;
    if (hb_history_dim(h) != d)
        return hb_error_set(err, HB_EINVAL, NULL, "history has %zu parameters, the space %zu",
                            hb_history_dim(h), d);
    for (size_t i = 0; i < nh; i++) n += hb_history_at(h, i).budget == budget;
    int all = n == 0;
    double worst = -INFINITY;
    n = 0;
    for (size_t i = 0; i < nh; i++) {
        hb_obs o = hb_history_at(h, i);
        if (!all && o.budget != budget) continue;
        n++;
        if (obs_ok(&o)) {
            n_ok++;
            worst = o.loss > worst ? o.loss : worst;
        }
    }
    size_t need = s->opts.min_points_in_model > 0 ? (size_t)s->opts.min_points_in_model : d + 1;
    if (m == 0 || n_ok == 0 || n < need) return hb__sampler_random_config(s, x, err);

    prop P = {.s = s, .st = st, .sp = s->space, .best_acq = -INFINITY};
    size_t n_avail = n, centres[N_CENTRES], n_centres = 0;
    double mean = 0, var = 0, sdev;
    size_t *rows = hb_malloc(n * sizeof *rows);
    int rc = rows ? HB_OK : HB_ENOMEM;
    if (rc == HB_OK) {
        n = 0;
        for (size_t i = 0; i < nh; i++)
            if (all || hb_history_at(h, i).budget == budget) rows[n++] = i;
        if (n > MAX_POINTS) rc = cap_rows(h, rows, &n);
    }
    size_t pool = 2 * POOL_FACTOR * (size_t)s->opts.num_samples;
    P.q_max = pool > st->max_nb ? pool : st->max_nb;
    P.q_max = P.q_max > n_pending ? P.q_max : n_pending;
    if (rc == HB_OK) rc = hb__gp_init(&P.gp, n + n_pending, m, st->n_ls, st->owner);
    if (rc == HB_OK) {
        P.U = hb_malloc(P.q_max * d * sizeof(double));
        P.Xc = hb_malloc(P.q_max * d * sizeof(double));
        P.F = hb_malloc(P.q_max * m * sizeof(double));
        P.mu = hb_malloc(P.q_max * sizeof(double));
        P.sd = hb_malloc(P.q_max * sizeof(double));
        P.acq = hb_malloc(P.q_max * sizeof(double));
        P.scratch = hb_malloc(4 * d * sizeof(double));
        P.best_x = hb_malloc(d * sizeof(double));
        P.start_u = hb_malloc(LS_STARTS * d * sizeof(double));
        P.start_x = hb_malloc(LS_STARTS * d * sizeof(double));
        if (!P.U || !P.Xc || !P.F || !P.mu || !P.sd || !P.acq || !P.scratch || !P.best_x ||
            !P.start_u || !P.start_x)
            rc = HB_ENOMEM;
    }
    if (rc != HB_OK) goto done;

    /* Rows: features and losses (failures get the worst ok loss), then standardise. */
    for (size_t r = 0; r < n; r++) {
        hb_obs o = hb_history_at(h, rows[r]);
        features(st, s->space, o.x, P.scratch, P.gp.X + r * m);
        P.gp.y[r] = obs_ok(&o) ? o.loss : worst;
        mean += P.gp.y[r];
    }
    mean /= (double)n;
    for (size_t r = 0; r < n; r++) var += (P.gp.y[r] - mean) * (P.gp.y[r] - mean);
    sdev = sqrt(var / (double)n);
    if (!(sdev > 0) || !isfinite(sdev)) sdev = 1;
    P.fbest = INFINITY;
    for (size_t r = 0; r < n; r++) {
        P.gp.y[r] = (P.gp.y[r] - mean) / sdev;
        P.fbest = P.gp.y[r] < P.fbest ? P.gp.y[r] : P.fbest;
    }
    /* The N_CENTRES best ok results, best first (ties in history order), perturbed later. */
    for (size_t r = 0; r < n; r++) {
        hb_obs o = hb_history_at(h, rows[r]);
        if (!obs_ok(&o)) continue;
        size_t k = n_centres;
        if (k == N_CENTRES) {
            if (!(P.gp.y[r] < P.gp.y[centres[N_CENTRES - 1]])) continue;
            k = N_CENTRES - 1;
        } else {
            n_centres++;
        }
        for (; k > 0 && P.gp.y[r] < P.gp.y[centres[k - 1]]; k--) centres[k] = centres[k - 1];
        centres[k] = r;
    }
    for (size_t k = 0; k < n_centres; k++) centres[k] = rows[centres[k]];
    P.gp.n = n;

    rc = hyperparameters(&P, all, budget, n_avail);
    if (rc == HB_OK && n_pending > 0) {
        /* Constant liar: max(posterior mean, best observed) at every pending configuration. */
        for (size_t k = 0; k < n_pending; k++)
            features(st, s->space, pending[k].x, P.scratch, P.gp.X + (n + k) * m);
        hb__gp_predict(&P.gp, n_pending, P.gp.X + n * m, P.mu, P.sd);
        for (size_t k = 0; k < n_pending; k++) P.gp.y[n + k] = P.mu[k] > P.fbest ? P.mu[k] : P.fbest;
        P.gp.n = n + n_pending;
        rc = hb__gp_factor(&P.gp);
    }
    if (rc == HB_OK) maximise(&P, h, centres, n_centres);
done:
    if (rc == HB_OK && P.best_acq > -INFINITY)
        memcpy(x, P.best_x, d * sizeof(double));
    else if (rc == HB_ENOMEM)
        hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    else /* the GP cannot be used here (not positive definite, too many rows, nothing valid) */
        rc = hb__sampler_random_config(s, x, err);
    hb__gp_fini(&P.gp);
    hb_free(rows);
    hb_free(P.U);
    hb_free(P.Xc);
    hb_free(P.F);
    hb_free(P.mu);
    hb_free(P.sd);
    hb_free(P.acq);
    hb_free(P.scratch);
    hb_free(P.best_x);
    hb_free(P.start_u);
    hb_free(P.start_x);
    return rc;
}

const hb_sampler_ops hb__sampler_gp = {.name = "gp",
                                       .state_size = sizeof(gp_state),
                                       .init = gp_init,
                                       .propose = gp_propose,
                                       .fini = gp_fini};
