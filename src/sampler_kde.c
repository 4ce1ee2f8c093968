/* sampler_kde.c — the BOHB sampler (Falkner et al., ICML 2018): a good and a bad product-kernel
 * density per budget, candidates drawn around good points, the best l(x)/g(x) wins. Follows
 * HpBandSter's config generator with its weak spots fixed; every departure is marked "Fix" or
 * "Choice" below. Owns its model state; knows nothing of schedules, ranks or time. */
#include <math.h>
#include <string.h>

#include "kde_impl.h"

/* log(1e-32): HpBandSter ranks by max(l, 1e-32) / max(g, 1e-32). */
#define LOG_FLOOR (-73.682722488326)

/* Points of the bad set summed at a time between two checks of a candidate's bound. */
#define PART 256
/* A candidate is dropped when its bound is this far below the best score: more than the
 * float sums can be off, so dropping never changes the pick. */
#define SLACK 1e-5

typedef struct kde_state {
    hb__dims dims;
    hb__cache cache;    /* every result, per budget; none is ever dropped (Fix c) */
    hb__kde good, bad;  /* the model of the current proposal */
    size_t m;           /* min_points_in_model (0 in the settings: d + 1) */
    double *u, *uc;     /* dim scratch: candidate in the unit cube, decoded and re-encoded */
    double *vm;         /* d: candidate in model coordinates */
    double *cx, *cv;    /* candidates: decoded (ns * dim), in model coordinates (ns * d) */
    double *ll, *sum, *ub; /* ns: log l, partial sum of g's terms, upper bound of the score */
    size_t *ord;        /* ns: allowed candidates, best bound first */
    size_t *act;        /* imputation: points where a coordinate is active */
    size_t cap_act;
} kde_state;

static void kde_fini(hb_sampler *s)
{
    kde_state *st = s->state;
    hb__dims_fini(&st->dims);
    hb__cache_fini(&st->cache);
    hb__kde_fini(&st->good);
    hb__kde_fini(&st->bad);
    hb_free(st->u);
    hb_free(st->ord);
    hb_free(st->act);
}

static int kde_init(hb_sampler *s, hb_error *err)
{
    kde_state *st = s->state;
    int rc = hb__dims_init(&st->dims, s->space, err);
    if (rc != HB_OK) return rc;
    size_t dim = st->dims.dim ? st->dims.dim : 1, d = st->dims.n;
    st->m = s->opts.min_points_in_model > 0 ? (size_t)s->opts.min_points_in_model : d + 1;
    size_t ns = (size_t)s->opts.num_samples, nd = d ? d : 1;
    st->u = hb_malloc((2 * dim + nd + ns * (dim + nd + 3)) * sizeof *st->u);
    st->ord = hb_malloc(ns * sizeof *st->ord);
    if (!st->u || !st->ord) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    st->uc = st->u + dim;
    st->vm = st->uc + dim;
    st->cx = st->vm + nd;
    st->cv = st->cx + ns * dim;
    st->ll = st->cv + ns * nd;
    st->sum = st->ll + ns;
    st->ub = st->sum + ns;
    return HB_OK;
}

/* The good/bad split of a budget's N results, as HpBandSter's new_result computes it:
 *   n_good = max(m, floor(top_n_percent * N / 100)), the best ones;
 *   n_bad  = max(m, floor((100 - top_n_percent) * N / 100)), the next ones (so the single worst
 *            result may be left out when both floors round down, as in the reference);
 * and a model only when N >= m and both sets have more points than there are parameters
 * (the reference's "shape[0] <= shape[1]: skip"). With the default m = d + 1 the sets need at
 * least m points each, so the first model needs N >= 2(d+1) results at its budget.
 * Choice: the reference raises an m below d + 1 to d + 1; here it is honoured, and the sets
 * then need m points each. Fix: failures rank last (as in the reference) but are never good:
 * with fewer than n_good successes the good set is just the successes. */
static int split(const hb__group *g, size_t m, size_t d, double top, size_t *ng, size_t *nb)
{
    size_t n = g->n, need = m < d + 1 ? m : d + 1;
    if (n < m || n == 0) return 0;
    size_t a = (size_t)floor(top * (double)n / 100.0);
    size_t b = (size_t)floor((100.0 - top) * (double)n / 100.0);
    if (a < m) a = m;
    if (a > n) a = n;
    if (a > g->n_ok) a = g->n_ok;
    if (b < m) b = m;
    if (b > n - a) b = n - a;
    *ng = a;
    *nb = b;
    return a >= need && b >= need && a > 0 && b > 0;
}

/* Inactive coordinates get a value so that every point has one (the reference's
 * impute_conditional_data, per coordinate): that of a random point of the same set where the
 * coordinate is active, else a uniform value (a uniform level for categoricals). */
static int impute(hb_sampler *s, hb__kde *k)
{
    kde_state *st = s->state;
    for (size_t c = 0; c < k->d; c++) {
        float *col = k->data + c * k->stride;
        size_t na = 0, nan = 0;
        for (size_t i = 0; i < k->n; i++) nan += isnan(col[i]);
        if (nan == 0) continue;
        if (k->n > st->cap_act) {
            size_t *a = hb_realloc(st->act, k->n * sizeof *a);
            if (a == NULL) return HB_ENOMEM;
            st->act = a;
            st->cap_act = k->n;
        }
        for (size_t i = 0; i < k->n; i++)
            if (!isnan(col[i])) st->act[na++] = i;
        for (size_t i = 0; i < k->n; i++) {
            if (!isnan(col[i])) continue;
            if (na)
                col[i] = col[st->act[hb_rng_below(&s->rng, na)]];
            else if (st->dims.kind[c] == HB__KIND_CAT)
                col[i] = (float)hb_rng_below(&s->rng, st->dims.levels[c]);
            else
                col[i] = (float)hb_rng_uniform(&s->rng);
        }
    }
    return HB_OK;
}

/* Fill the good and bad sets from group 'g' and the pending jobs at its budget. */
static int build(hb_sampler *s, const hb__group *g, size_t ng, size_t nb,
                 const hb_pending *pending, size_t n_pending)
{
    kde_state *st = s->state;
    const hb__dims *d = &st->dims;
    size_t np = 0;
    for (size_t j = 0; j < n_pending; j++) np += pending[j].budget == g->budget;
    if (hb__kde_reserve(&st->good, d->n, d->n_cont, ng) != HB_OK ||
        hb__kde_reserve(&st->bad, d->n, d->n_cont, nb + np) != HB_OK)
        return HB_ENOMEM;
    for (size_t c = 0; c < d->n; c++) {
        const double *col = g->v + c * g->cap;
        float *gd = st->good.data + c * st->good.stride, *bd = st->bad.data + c * st->bad.stride;
        for (size_t i = 0; i < ng; i++) gd[i] = (float)col[g->order[i]];
        for (size_t i = 0; i < nb; i++) bd[i] = (float)col[g->order[ng + i]];
    }
    /* Constant liar: a job still running at the model's budget counts as a bad result. */
    for (size_t j = 0, i = nb; j < n_pending; j++) {
        if (pending[j].budget != g->budget) continue;
        hb__dims_model(d, s->space, pending[j].x, st->uc, st->vm);
        for (size_t c = 0; c < d->n; c++) st->bad.data[c * st->bad.stride + i] = (float)st->vm[c];
        i++;
    }
    if (impute(s, &st->good) != HB_OK || impute(s, &st->bad) != HB_OK) return HB_ENOMEM;
    hb__kde_fit(&st->good, d, s->opts.min_bandwidth);
    hb__kde_fit(&st->bad, d, s->opts.min_bandwidth);
    return HB_OK;
}

/* Draw one candidate around a random good point into st->u (unit cube) and st->vm (model
 * coordinates as drawn). Continuous and ordered coordinates: a normal truncated to [0, 1]
 * with the good bandwidth times bandwidth_factor (the reference's truncnorm). Categorical: the
 * point's level with probability 1 - lambda, else one of the OTHER levels uniformly — exactly
 * the Aitchison-Aitken kernel of the density (Choice: the reference redraws among all levels,
 * the point's own included, and leaves lambda unscaled; the latter is kept). */
static void draw(hb_sampler *s)
{
    kde_state *st = s->state;
    const hb__dims *d = &st->dims;
    const hb__kde *k = &st->good;
    size_t i = hb_rng_below(&s->rng, k->n);
    for (size_t p = 0; p < d->dim; p++) st->u[p] = 0.5; /* parameters that are not modelled */
    for (size_t c = 0; c < d->n; c++) {
        double mid = k->data[c * k->stride + i], val;
        if (d->kind[c] != HB__KIND_CAT) {
            val = hb__truncnorm01(&s->rng, mid, k->bw[c] * s->opts.bandwidth_factor);
            st->u[d->param[c]] = val;
        } else {
            unsigned lv = d->levels[c];
            if (hb_rng_uniform(&s->rng) < 1 - k->bw[c]) {
                val = mid;
            } else {
                double r = (double)hb_rng_below(&s->rng, lv - 1);
                val = r >= mid ? r + 1 : r;
            }
            st->u[d->param[c]] = (val + 0.5) / lv;
        }
        st->vm[c] = val;
    }
}

/* log max(g, 1e-32) bounded below by a partial sum of g's terms. */
static double bound_log(const hb__kde *k, double part)
{
    double g = part > 0 ? log(part) + k->log_norm : -INFINITY;
    return g > LOG_FLOOR ? g : LOG_FLOOR;
}

static int kde_propose(hb_sampler *s, const hb_history *h, const hb_pending *pending,
                       size_t n_pending, double budget, double *x, hb_error *err)
{
    (void)budget; /* as in the reference, the model of the largest budget serves every budget */
    kde_state *st = s->state;
    const hb__dims *d = &st->dims;
    int rc = hb__cache_sync(&st->cache, d, s->space, h, err);
    if (rc != HB_OK) return rc;
    const hb__group *model = NULL;
    size_t ng = 0, nb = 0;
    for (size_t i = 0; i < st->cache.n_g && d->n; i++) {
        const hb__group *g = &st->cache.g[i];
        size_t a, b;
        if ((model == NULL || g->budget > model->budget) &&
            split(g, st->m, d->n, s->opts.top_n_percent, &a, &b)) {
            model = g;
            ng = a;
            nb = b;
        }
    }
    if (model == NULL || hb_rng_uniform(&s->rng) < s->opts.random_fraction)
        return hb__sampler_random_config(s, x, err);
    if (build(s, model, ng, nb, pending, n_pending) != HB_OK)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");

    /* Draw the candidates; score = log max(l, 1e-32) - log max(g, 1e-32) (the reference's
     * ranking). The bad set is summed in parts of PART points and a candidate is dropped as
     * soon as its bound (l over the partial g) falls below the best score: partial sums only
     * grow, so this changes no pick, only the cost. */
    size_t ns = 0, dim = d->dim, nd = d->n;
    for (int t = 0; t < s->opts.num_samples; t++) {
        double *cx = st->cx + ns * dim, *cv = st->cv + ns * nd;
        draw(s);
        hb_space_from_unit(s->space, st->u, cx);
        if (hb_space_is_forbidden(s->space, cx)) continue;
        /* Choice: the density is evaluated where the configuration will really be: int and
         * ordinal values at the centre of their slice, categoricals at the decoded level.
         * Inactive coordinates keep their drawn value (the data there are imputed). */
        hb_space_to_unit(s->space, cx, st->uc);
        for (size_t c = 0; c < nd; c++) {
            size_t p = d->param[c];
            cv[c] = isnan(cx[p]) ? st->vm[c] : (d->kind[c] == HB__KIND_CAT ? cx[p] : st->uc[p]);
        }
        double l = hb__kde_logpdf(&st->good, cv);
        st->ll[ns] = l > LOG_FLOOR ? l : LOG_FLOOR;
        hb__kde_point(&st->bad, cv);
        st->sum[ns] = hb__kde_part(&st->bad, 0, PART);
        st->ub[ns] = st->ll[ns] - bound_log(&st->bad, st->sum[ns]);
        size_t j = ns++; /* insertion by bound, ties in drawing order */
        while (j > 0 && st->ub[st->ord[j - 1]] < st->ub[ns - 1]) {
            st->ord[j] = st->ord[j - 1];
            j--;
        }
        st->ord[j] = ns - 1;
    }
    if (ns == 0) return hb__sampler_random_config(s, x, err); /* all forbidden */
    double best = -INFINITY;
    size_t pick = 0;
    for (size_t r = 0; r < ns; r++) {
        size_t t = st->ord[r];
        if (st->ub[t] < best - SLACK) break; /* so are all that follow */
        hb__kde_point(&st->bad, st->cv + t * nd);
        size_t at = PART;
        for (; at < st->bad.n; at += PART) {
            st->sum[t] += hb__kde_part(&st->bad, at, at + PART);
            if (st->ll[t] - bound_log(&st->bad, st->sum[t]) < best - SLACK) break;
        }
        if (at < st->bad.n) continue;
        double g = hb__kde_log(&st->bad, st->sum[t]);
        double score = st->ll[t] - (g > LOG_FLOOR ? g : LOG_FLOOR);
        if (score > best || (score == best && t < pick)) {
            best = score;
            pick = t;
        }
    }
    memcpy(x, st->cx + pick * dim, dim * sizeof *x);
    return HB_OK;
}

const hb_sampler_ops hb__sampler_kde = {.name = "kde",
                                        .state_size = sizeof(kde_state),
                                        .init = kde_init,
                                        .propose = kde_propose,
                                        .fini = kde_fini,
                                        .replayable = 1};
