/* sampler_tpe.c — the tree-structured Parzen estimator (Bergstra et al., NeurIPS 2011) on one
 * fidelity: per parameter, a Parzen estimator l of the good results and g of the others (with
 * a prior component each); candidates drawn from l; the best product of l/g ratios wins.
 * Owns its model state; knows nothing of schedules, ranks or time. */
#include <math.h>
#include <string.h>

#include "kde_impl.h"
#include "normal_impl.h"

/* Components farther than this many deviations from a point are left out of its sum: each
 * weighs < 2.3e-11 of its peak, and the prior keeps every density above 0.35 / (n + 1), so
 * what is dropped is < 3e-9 * n of the density even if every component sat at the edge. */
#define REACH 7.0f
#define SQRT_2PI 2.50662827463100050242

/* One univariate estimator. Continuous: components [0, n_narrow) have the floor deviation
 * and are sorted by mean (so a sum only visits a window), [n_narrow, n) the others, prior
 * included; all weigh the same. Categorical: level probabilities at 'off' in st->prob. */
typedef struct est {
    size_t off;       /* into the component pools, or st->prob */
    size_t n_narrow, n;
    double sig_lo;    /* floor deviation */
} est;

typedef struct tpe_state {
    hb__dims dims;
    hb__cache cache;        /* results per budget, with values sorted per coordinate */
    size_t m;               /* min_points_in_model (0 in the settings: d + 1) */
    est *l, *g;             /* d each */
    float *mu, *is, *coef;  /* component pools: mean, 1/deviation, weight/(deviation Z sqrt(2pi)) */
    float *sd;              /* component pool: deviation (for drawing) */
    size_t cap_pool;
    double *prob;           /* categorical level probabilities: l then g per coordinate */
    double *vals, *pv;      /* scratch: sorted values of a set; pending values */
    size_t cap_vals;
    double *pm;             /* scratch: pending jobs in model coordinates */
    size_t cap_pm;
    unsigned char *good;    /* per result of the budget: 1 if in the good set */
    size_t cap_good;
    double *cu, *cv;        /* candidates: unit vectors; model values (NaN: inactive), then
                             * 3 * ns scratch for the scores */
    double *score;          /* ns: sum of log(l/g) */
    unsigned char *ok;      /* candidate allowed (not forbidden) */
    double *x, *uc;         /* dim scratch */
} tpe_state;

static void tpe_fini(hb_sampler *s)
{
    tpe_state *st = s->state;
    hb__dims_fini(&st->dims);
    hb__cache_fini(&st->cache);
    hb_free(st->l);
    hb_free(st->mu);
    hb_free(st->prob);
    hb_free(st->vals);
    hb_free(st->good);
    hb_free(st->pm);
    hb_free(st->cu);
    hb_free(st->ok);
}

static int tpe_init(hb_sampler *s, hb_error *err)
{
    tpe_state *st = s->state;
    st->cache.sorted = 1;
    int rc = hb__dims_init(&st->dims, s->space, err);
    if (rc != HB_OK) return rc;
    const hb__dims *d = &st->dims;
    size_t dim = d->dim ? d->dim : 1, nd = d->n ? d->n : 1, ns = (size_t)s->opts.num_samples;
    size_t levels = 1;
    for (size_t c = d->n_cont; c < d->n; c++) levels += d->levels[c];
    st->m = s->opts.min_points_in_model > 0 ? (size_t)s->opts.min_points_in_model : d->n + 1;
    st->l = hb_malloc(2 * nd * sizeof *st->l);
    st->prob = hb_malloc(2 * levels * sizeof *st->prob);
    st->cu = hb_malloc((ns * (dim + nd + 4) + 2 * dim) * sizeof *st->cu);
    st->ok = hb_malloc(ns);
    if (!st->l || !st->prob || !st->cu || !st->ok)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    st->g = st->l + nd;
    st->cv = st->cu + ns * dim; /* then 3 * ns scratch for the scores */
    st->score = st->cv + ns * nd + 3 * ns;
    st->x = st->score + ns;
    st->uc = st->x + dim;
    return HB_OK;
}

/* A capacity of at least 'need', growing by half so that a history growing by one result
 * per proposal does not reallocate every time. */
static size_t grown(size_t need, size_t cap)
{
    cap += cap / 2;
    return cap > need ? cap : need;
}

/* Grow the scratch of a proposal: 'pool' components, 'vals' values, 'n' results, 'np'
 * pending jobs. */
static int reserve(tpe_state *st, const hb__dims *d, size_t pool, size_t vals, size_t n, size_t np)
{
    if (pool > st->cap_pool) {
        size_t cap = grown(pool, st->cap_pool);
        float *p = hb_malloc(4 * cap * sizeof *p);
        if (p == NULL) return HB_ENOMEM;
        hb_free(st->mu);
        st->mu = p;
        st->is = p + cap;
        st->coef = p + 2 * cap;
        st->sd = p + 3 * cap;
        st->cap_pool = cap;
    }
    if (vals > st->cap_vals) {
        size_t cap = grown(vals, st->cap_vals);
        double *v = hb_malloc(2 * cap * sizeof *v);
        if (v == NULL) return HB_ENOMEM;
        hb_free(st->vals);
        st->vals = v;
        st->pv = v + cap;
        st->cap_vals = cap;
    }
    if (n > st->cap_good) {
        size_t cap = grown(n, st->cap_good);
        unsigned char *g = hb_malloc(cap);
        if (g == NULL) return HB_ENOMEM;
        hb_free(st->good);
        st->good = g;
        st->cap_good = cap;
    }
    if (np * d->n > st->cap_pm) {
        size_t cap = grown(np * d->n, st->cap_pm);
        double *m = hb_malloc(cap * sizeof *m);
        if (m == NULL) return HB_ENOMEM;
        hb_free(st->pm);
        st->pm = m;
        st->cap_pm = cap;
    }
    return HB_OK;
}

static void sift(double *a, size_t i, size_t n)
{
    double t = a[i];
    for (size_t j; (j = 2 * i + 1) < n; i = j) {
        if (j + 1 < n && a[j + 1] > a[j]) j++;
        if (!(a[j] > t)) break;
        a[i] = a[j];
    }
    a[i] = t;
}

/* Heapsort (no recursion, no heap) of the pending values. */
static void sort_doubles(double *a, size_t n)
{
    for (size_t k = n / 2; k-- > 0;) sift(a, k, n);
    for (size_t m = n; m > 1; m--) {
        double t = a[0];
        a[0] = a[m - 1];
        a[m - 1] = t;
        sift(a, 0, m - 1);
    }
}

/* Build the estimator of 'n' sorted values 'v' at component offset 'off' (n + 1 components).
 * Adaptive Parzen estimator (as in hyperopt): the prior N(0.5, 1) (the unit cube's centre and
 * width) sits among the sorted points; each point's deviation is the larger of the gaps to its
 * neighbours (one point alone: half the prior's), clipped to [1/min(100, n + 2), 1] and floored
 * at min_bandwidth. Each component is a normal truncated to [0, 1], all weigh 1/(n+1). */
static void build_cont(tpe_state *st, est *e, size_t off, const double *v, size_t n, double min_bw)
{
    double lo = 1.0 / (n + 2 < 100 ? (double)(n + 2) : 100.0);
    if (lo < min_bw) lo = min_bw;
    if (lo > 1) lo = 1;
    size_t pp = 0; /* the prior's place among the points */
    while (pp < n && v[pp] < 0.5) pp++;
    size_t front = off, back = off + n + 1; /* narrow ones from the front, others from the back */
    double w = 1.0 / (double)(n + 1);
    float is_lo = (float)(1.0 / lo), coef_lo = (float)(w / (lo * SQRT_2PI));
    for (size_t j = 0; j <= n; j++) { /* j: position in the merged sequence */
        double mu, sig;
#define MERGED(t) ((t) < pp ? v[t] : ((t) == pp ? 0.5 : v[(t) - 1]))
        if (j == pp) {
            mu = 0.5;
            sig = 1;
        } else {
            mu = MERGED(j);
            if (n == 1) sig = 0.5;
            else if (j == 0) sig = MERGED(1) - mu;
            else if (j == n) sig = mu - MERGED(n - 1);
            else {
                double a = mu - MERGED(j - 1), b = MERGED(j + 1) - mu;
                sig = a > b ? a : b;
            }
            sig = sig < lo ? lo : (sig > 1 ? 1 : sig);
        }
#undef MERGED
        size_t at = sig == lo && j != pp ? front++ : --back;
        st->mu[at] = (float)mu;
        st->sd[at] = (float)sig;
        if (sig == lo && mu >= 8.3 * lo && 1 - mu >= 8.3 * lo) { /* the common case */
            st->is[at] = is_lo;
            st->coef[at] = coef_lo;
        } else {
            double z = 1; /* mass inside [0, 1] */
            if (mu / sig < 8.3 || (1 - mu) / sig < 8.3)
                z = hb__norm_cdf((1 - mu) / sig) - hb__norm_cdf(-mu / sig);
            st->is[at] = (float)(1.0 / sig);
            st->coef[at] = (float)(w / (sig * z * SQRT_2PI));
        }
    }
    e->off = off;
    e->n_narrow = front - off;
    e->n = n + 1;
    e->sig_lo = lo;
}

/* First index of sorted 'a' (n values) whose value is >= x (strict: > x), without branches
 * that depend on the data. */
static size_t search(const float *a, size_t n, float x, int strict)
{
    if (n == 0) return 0;
    const float *b = a;
    for (size_t len = n; len > 1;) {
        size_t half = len / 2;
        b = (strict ? b[half] <= x : b[half] < x) ? b + half : b;
        len -= half;
    }
    return (size_t)(b - a) + (strict ? *b <= x : *b < x);
}

static double pdf_cont(const tpe_state *st, const est *e, float x)
{
    size_t o = e->off, nn = e->n_narrow;
    const float *mu = st->mu + o;
    float reach = REACH * (float)e->sig_lo;
    size_t lo = search(mu, nn, x - reach, 0);
    size_t hi = lo + search(mu + lo, nn - lo, x + reach, 1);
    return hb__gauss_sum(mu + lo, st->is + o + lo, st->coef + o + lo, hi - lo, x) +
           hb__gauss_sum(mu + nn, st->is + o + nn, st->coef + o + nn, e->n - nn, x);
}

/* Level probabilities (counts + the declared weights as one prior observation) / (n + 1). */
static void build_cat(const hb_sampler *s, tpe_state *st, est *e, size_t off, size_t c,
                      const hb__group *g, int want_good, size_t np)
{
    const hb__dims *d = &st->dims;
    unsigned lv = d->levels[c];
    double *p = st->prob + off, n = 1;
    const double *wts = hb_space_weights(s->space, d->param[c]);
    double wsum = 0;
    for (unsigned k = 0; k < lv; k++) wsum += wts ? wts[k] : 1;
    for (unsigned k = 0; k < lv; k++) p[k] = (wts ? wts[k] : 1) / wsum;
    const double *col = g->v + c * g->cap;
    for (size_t i = 0; i < g->n; i++) {
        if (st->good[i] != want_good || isnan(col[i])) continue;
        p[(size_t)col[i]] += 1;
        n += 1;
    }
    for (size_t j = 0; !want_good && j < np; j++) {
        double val = st->pm[j * d->n + c];
        if (isnan(val)) continue;
        p[(size_t)val] += 1;
        n += 1;
    }
    for (unsigned k = 0; k < lv; k++) p[k] /= n;
    e->off = off;
    e->n = lv;
}

/* Estimators of every coordinate from group 'g' and the pending jobs at its budget (the
 * constant liar: a running job counts as a bad result). */
static int build(hb_sampler *s, const hb__group *g, const hb_pending *pend, size_t n_pend)
{
    tpe_state *st = s->state;
    const hb__dims *d = &st->dims;
    size_t n = g->n, np = 0;
    for (size_t j = 0; j < n_pend; j++) np += pend[j].budget == g->budget;
    if (reserve(st, d, d->n_cont * (n + np + 2), n + np + 1, n, np) != HB_OK) return HB_ENOMEM;
    for (size_t j = 0, k = 0; j < n_pend; j++)
        if (pend[j].budget == g->budget)
            hb__dims_model(d, s->space, pend[j].x, st->uc, st->pm + k++ * d->n);
    /* The good set: the best ceil(top_n_percent * N / 100) successes; failures never. */
    size_t ng = (size_t)ceil(s->opts.top_n_percent * (double)n / 100.0);
    if (ng > g->n_ok) ng = g->n_ok;
    for (size_t i = 0; i < n; i++) st->good[g->order[i]] = i < ng;
    size_t off = 0, poff = 0;
    for (size_t c = 0; c < d->n_cont; c++) {
        const size_t *bv = g->byval + c * g->cap;
        const double *col = g->v + c * g->cap;
        size_t na = g->n_active[c], k = 0, npv = 0;
        for (size_t i = 0; i < na; i++) { /* keep the good ones (no data-dependent branch) */
            st->vals[k] = col[bv[i]];
            k += st->good[bv[i]];
        }
        build_cont(st, &st->l[c], off, st->vals, k, s->opts.min_bandwidth);
        off += k + 1;
        for (size_t j = 0; j < np; j++)
            if (!isnan(st->pm[j * d->n + c])) st->pv[npv++] = st->pm[j * d->n + c];
        sort_doubles(st->pv, npv);
        k = 0;
        for (size_t i = 0, j = 0; i < na || j < npv;) { /* merge the bad results and the pending */
            if (i < na && (j == npv || col[bv[i]] <= st->pv[j])) {
                st->vals[k] = col[bv[i]];
                k += !st->good[bv[i]];
                i++;
            } else {
                st->vals[k++] = st->pv[j++];
            }
        }
        build_cont(st, &st->g[c], off, st->vals, k, s->opts.min_bandwidth);
        off += k + 1;
    }
    for (size_t c = d->n_cont; c < d->n; c++) {
        build_cat(s, st, &st->l[c], poff, c, g, 1, np);
        poff += d->levels[c];
        build_cat(s, st, &st->g[c], poff, c, g, 0, np);
        poff += d->levels[c];
    }
    return HB_OK;
}

/* Candidate t drawn from l, coordinate by coordinate; parameters that are not modelled get
 * the middle of the cube (their only value). */
static void draw(hb_sampler *s, size_t t)
{
    tpe_state *st = s->state;
    const hb__dims *d = &st->dims;
    double *u = st->cu + t * d->dim;
    for (size_t p = 0; p < d->dim; p++) u[p] = 0.5;
    for (size_t c = 0; c < d->n; c++) {
        const est *e = &st->l[c];
        if (c < d->n_cont) {
            size_t j = e->off + hb_rng_below(&s->rng, e->n);
            double sd = st->sd[j] * s->opts.bandwidth_factor;
            u[d->param[c]] = hb__truncnorm01(&s->rng, st->mu[j], sd);
        } else {
            const double *p = st->prob + e->off;
            double r = hb_rng_uniform(&s->rng), acc = 0;
            size_t k = 0;
            while (k + 1 < e->n && r >= (acc += p[k])) k++;
            u[d->param[c]] = ((double)k + 0.5) / (double)e->n;
        }
    }
}

static int tpe_propose(hb_sampler *s, const hb_history *h, const hb_pending *pending,
                       size_t n_pending, double budget, double *x, hb_error *err)
{
    tpe_state *st = s->state;
    const hb__dims *d = &st->dims;
    int rc = hb__cache_sync(&st->cache, d, s->space, h, err);
    if (rc != HB_OK) return rc;
    /* One fidelity: only the results (and pending jobs) at this budget count. */
    const hb__group *g = hb__cache_find(&st->cache, budget);
    if (d->n == 0 || (g ? g->n : 0) < st->m || hb_rng_uniform(&s->rng) < s->opts.random_fraction)
        return hb__sampler_random_config(s, x, err);
    if (build(s, g, pending, n_pending) != HB_OK)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");

    size_t ns = (size_t)s->opts.num_samples, dim = d->dim;
    for (size_t t = 0; t < ns; t++) {
        draw(s, t);
        double *v = st->cv + t * d->n;
        hb_space_from_unit(s->space, st->cu + t * dim, st->x);
        st->ok[t] = !hb_space_is_forbidden(s->space, st->x);
        /* Evaluate where the configuration really is (ints and ordinals at their slice
         * centre); inactive parameters take no part (NaN). */
        hb__dims_model(d, s->space, st->x, st->uc, v);
    }
    /* score = sum of log(l/g) over the active coordinates, as a product of ratios with its
     * log taken when it leaves [1e-150, 1e150] (one log per candidate, not two per factor).
     * Snapped ints and ordinals repeat: a value seen before in a coordinate reuses its ratio. */
    double *prod = st->cv + ns * d->n, *lsum = prod + ns, *ratio = lsum + ns;
    for (size_t t = 0; t < ns; t++) prod[t] = 1, lsum[t] = 0;
    for (size_t c = 0; c < d->n; c++) {
        for (size_t t = 0; t < ns; t++) {
            double v = st->cv[t * d->n + c];
            if (!st->ok[t] || isnan(v)) continue;
            size_t u = t;
            if (d->kind[c] == HB__KIND_ORDERED)
                for (u = 0; u < t; u++)
                    if (st->ok[u] && st->cv[u * d->n + c] == v) break;
            if (u < t)
                ratio[t] = ratio[u];
            else if (c < d->n_cont)
                ratio[t] = pdf_cont(st, &st->l[c], (float)v) / pdf_cont(st, &st->g[c], (float)v);
            else
                ratio[t] = st->prob[st->l[c].off + (size_t)v] / st->prob[st->g[c].off + (size_t)v];
            prod[t] *= ratio[t];
            if (prod[t] > 1e150 || prod[t] < 1e-150) {
                lsum[t] += log(prod[t]);
                prod[t] = 1;
            }
        }
    }
    for (size_t t = 0; t < ns; t++) st->score[t] = lsum[t] + log(prod[t]);
    size_t best = ns;
    for (size_t t = 0; t < ns; t++)
        if (st->ok[t] && (best == ns || st->score[t] > st->score[best])) best = t;
    if (best == ns) return hb__sampler_random_config(s, x, err); /* all forbidden */
    hb_space_from_unit(s->space, st->cu + best * dim, x);
    return HB_OK;
}

const hb_sampler_ops hb__sampler_tpe = {.name = "tpe",
                                        .state_size = sizeof(tpe_state),
                                        .init = tpe_init,
                                        .propose = tpe_propose,
                                        .fini = tpe_fini,
                                        .replayable = 1};
