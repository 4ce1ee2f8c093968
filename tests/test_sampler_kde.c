/* test_sampler_kde.c — the BOHB KDE sampler: bandwidths and densities against hand-computed
 * values, the model's budget, random proposals until a model exists, valid proposals in a
 * space with conditions and forbidden clauses, determinism, concentration on a known optimum,
 * the constant liar, failures, allocation failures; the shared helpers of kde.c. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hb_sampler.h"
#include "hb_test.h"
#include "kde_impl.h"

/* Checks shared with test_sampler_tpe.c (which declares them too): each runs on sampler
 * 'kind' and asserts what every model-based sampler must do. */

/* ---------- helpers ---------- */

static hb_space *space_1d(void)
{
    hb_space *sp = NULL;
    CU_ASSERT_FATAL(hb_space_create(&sp) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_float(sp, "x", 0, 1, HB_SCALE_LINEAR, NAN, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_finalize(sp, NULL, NULL) == HB_OK);
    return sp;
}

/* opt (categorical adam/sgd/rms), lr (log float), layers (ordinal 1/2/4/8), units (log int),
 * mom (float, active iff opt == sgd), nest (categorical, active iff mom > 0.5), a constant;
 * forbidden: opt == rms together with layers == 8. */
static hb_space *space_rich(void)
{
    hb_space *sp = NULL;
    hb_error err;
    CU_ASSERT_FATAL(hb_space_create(&sp) == HB_OK);
    hb_value opt[] = {{1, 0, "adam"}, {1, 0, "sgd"}, {1, 0, "rms"}};
    hb_value layers[] = {{0, 1, NULL}, {0, 2, NULL}, {0, 4, NULL}, {0, 8, NULL}};
    hb_value yn[] = {{1, 0, "yes"}, {1, 0, "no"}};
    CU_ASSERT_FATAL(hb_space_add_categorical(sp, "opt", opt, 3, NULL, -1, &err) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_float(sp, "lr", 1e-4, 1, HB_SCALE_LOG, NAN, &err) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_ordinal(sp, "layers", layers, 4, -1, &err) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_int(sp, "units", 8, 256, HB_SCALE_LOG, NAN, &err) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_float(sp, "mom", 0, 1, HB_SCALE_LINEAR, NAN, &err) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_categorical(sp, "nest", yn, 2, NULL, -1, &err) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_constant(sp, "seed", (hb_value){0, 7, NULL}, &err) == HB_OK);
    hb_value sgd = {1, 0, "sgd"}, half = {0, 0.5, NULL};
    hb_cond_spec mom = {HB_COND_EQ, "opt", &sgd, 1, NULL, 0};
    hb_cond_spec nest = {HB_COND_GT, "mom", &half, 1, NULL, 0};
    CU_ASSERT_FATAL(hb_space_add_condition(sp, "mom", &mom, &err) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_condition(sp, "nest", &nest, &err) == HB_OK);
    hb_value rms = {1, 0, "rms"}, eight = {0, 8, NULL};
    hb_forbid_spec kids[] = {{HB_FORBID_EQUALS, "opt", &rms, 1, NULL, 0},
                             {HB_FORBID_EQUALS, "layers", &eight, 1, NULL, 0}};
    hb_forbid_spec fb = {HB_FORBID_AND, NULL, NULL, 0, kids, 2};
    CU_ASSERT_FATAL(hb_space_add_forbidden(sp, &fb, &err) == HB_OK);
    CU_ASSERT_FATAL(hb_space_finalize(sp, NULL, &err) == HB_OK);
    return sp;
}

/* A loss over the rich space: best with opt = sgd, lr near 1e-2, layers = 4, mom near 0.9. */
static double rich_loss(const double *x)
{
    double l = 0.5 * fabs(log10(x[1]) + 2) + (x[0] == 1 ? 0 : 1) + (x[2] == 2 ? 0 : 1);
    if (!isnan(x[4])) l += fabs(x[4] - 0.9);
    return l;
}

/* 'n' results at 'budget' on the 1-D space: x uniform (stream 'seed'), loss (x - opt)^2. */
static void add_quadratic(hb_history *h, int n, double budget, double opt, uint64_t seed)
{
    hb_rng r;
    hb_rng_init(&r, seed, 3);
    size_t base = hb_history_size(h);
    for (int i = 0; i < n; i++) {
        double x = hb_rng_uniform(&r);
        double loss = (x - opt) * (x - opt);
        CU_ASSERT_FATAL(hb_history_add(h, base + (size_t)i, &x, budget, loss, HB_TRIAL_OK) == HB_OK);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of |x - target| over 'n' proposals of 's' for the 1-D space. */
static double median_dist(hb_sampler *s, const hb_history *h, const hb_pending *p, size_t np,
                          double budget, double target, int n)
{
    double *d = malloc((size_t)n * sizeof *d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    for (int i = 0; i < n; i++) {
        double x;
        CU_ASSERT_EQUAL_FATAL(hb_sampler_propose(s, h, p, np, budget, &x, NULL), HB_OK);
        d[i] = fabs(x - target);
    }
    qsort(d, (size_t)n, sizeof *d, cmp_double);
    double m = d[n / 2];
    free(d);
    return m;
}

static hb_sampler *make(const char *kind, const hb_space *sp, uint64_t seed, double random_fraction)
{
    hb_sampler_opts o;
    hb_sampler_opts_init(&o);
    o.random_fraction = random_fraction;
    hb_sampler *s = NULL;
    hb_error err;
    CU_ASSERT_EQUAL_FATAL(hb_sampler_create(kind, sp, seed, &o, &s, &err), HB_OK);
    return s;
}

/* ---------- the KDE against hand-computed values ---------- */

/* Three points 0.2, 0.4, 0.9 of one continuous coordinate (n = 3, d = 1):
 *   mean 0.5; squared deviations 0.09 + 0.01 + 0.16 = 0.26; variance 0.26 / 3 = 0.0866667;
 *   sd = 0.2943920; n^(-1/(4+d)) = 3^(-0.2) = 0.8027416;
 *   bw = 1.06 * 0.2943920 * 0.8027416 = 0.2505000.
 * Density at 0.5: z = 0.3/bw, 0.1/bw, -0.4/bw = 1.1976050, 0.3992017, -1.5968066;
 *   phi(z) = 0.3989423 * exp(-z^2/2) = 0.1947444, 0.3683876, 0.1114885; sum 0.6746205;
 *   density = 0.6746205 / (3 * bw) = 0.8976987.
 * Density at 0.2: z = 0, -0.7984033, -2.7944116 -> 0.9275369 (same arithmetic). */
static void test_kde_continuous_by_hand(void)
{
    hb_space *sp = space_1d();
    hb__dims d;
    hb__kde k;
    memset(&k, 0, sizeof k);
    CU_ASSERT_EQUAL_FATAL(hb__dims_init(&d, sp, NULL), HB_OK);
    CU_ASSERT_EQUAL(d.n, 1);
    CU_ASSERT_EQUAL_FATAL(hb__kde_reserve(&k, 1, 1, 3), HB_OK);
    k.data[0] = 0.2f;
    k.data[1] = 0.4f;
    k.data[2] = 0.9f;
    hb__kde_fit(&k, &d, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(k.bw[0], 0.2505000, 1e-6);
    double v = 0.5;
    CU_ASSERT_DOUBLE_EQUAL(exp(hb__kde_logpdf(&k, &v)), 0.8976987, 1e-5);
    v = 0.2;
    CU_ASSERT_DOUBLE_EQUAL(exp(hb__kde_logpdf(&k, &v)), 0.9275369, 1e-5);
    /* The floor: three equal points have sd 0, so the bandwidth is min_bandwidth and the
     * density at the point is 1 / (0.01 sqrt(2 pi)) = 39.894228. */
    k.data[0] = k.data[1] = k.data[2] = 0.25f;
    hb__kde_fit(&k, &d, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(k.bw[0], 0.01, 1e-12);
    v = 0.25;
    CU_ASSERT_DOUBLE_EQUAL(exp(hb__kde_logpdf(&k, &v)), 39.894228, 1e-3);
    /* Far from every point, all terms underflow float: the log-sum-exp path still gives
     * log(phi(z)/bw) with z = 0.75/0.01 = 75: -0.5*75^2 - log(0.01 sqrt(2 pi)) = -2808.8136. */
    v = 1.0;
    CU_ASSERT_DOUBLE_EQUAL(hb__kde_logpdf(&k, &v), -2808.8136, 1e-3);
    hb__kde_fini(&k);
    hb__dims_fini(&d);
    hb_space_free(sp);
}

static hb_space *space_cat(size_t levels)
{
    hb_space *sp = NULL;
    hb_value ch[] = {{1, 0, "a"}, {1, 0, "b"}, {1, 0, "c"}};
    CU_ASSERT_FATAL(hb_space_create(&sp) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_float(sp, "x", 0, 1, HB_SCALE_LINEAR, NAN, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_categorical(sp, "c", ch, levels, NULL, -1, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_finalize(sp, NULL, NULL) == HB_OK);
    return sp;
}

/* Aitchison-Aitken kernels with the DECLARED number of levels (3 here). A one-coordinate
 * KDE is built on the categorical coordinate alone (k.d = 1, no continuous part).
 * (1) Levels {1, 1, 1}: sd 0, lambda floored at min_bandwidth 1e-3; the density is
 *     1 - 1e-3 = 0.999 at level 1 and 1e-3 / (3 - 1) = 5e-4 at levels 0 and 2: finite,
 *     where counting only the levels present (1) divides by zero.
 * (2) Levels {0, 0, 2}: mean 2/3, variance (4/9 + 4/9 + 16/9) / 3 = 0.8888889, sd 0.9428090,
 *     lambda = 1.06 * 0.9428090 * 3^(-0.2) = 0.8022419 > (3-1)/3, capped at 2/3: the kernel is
 *     flat and every level has density 1/3. */
static void test_kde_categorical_by_hand(void)
{
    hb_space *sp = space_cat(3);
    hb__dims d;
    hb__kde k;
    memset(&k, 0, sizeof k);
    CU_ASSERT_EQUAL_FATAL(hb__dims_init(&d, sp, NULL), HB_OK);
    CU_ASSERT_EQUAL_FATAL(d.n, 2);
    CU_ASSERT_EQUAL(d.kind[1], HB__KIND_CAT);
    CU_ASSERT_EQUAL(d.levels[1], 3);
    /* A view of d with only the categorical coordinate. */
    hb__dims dc = d;
    dc.n = 1;
    dc.n_cont = 0;
    dc.param = d.param + 1;
    dc.kind = d.kind + 1;
    dc.levels = d.levels + 1;
    CU_ASSERT_EQUAL_FATAL(hb__kde_reserve(&k, 1, 0, 3), HB_OK);
    k.data[0] = k.data[1] = k.data[2] = 1;
    hb__kde_fit(&k, &dc, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(k.bw[0], 1e-3, 1e-12);
    double lv = 1;
    CU_ASSERT_DOUBLE_EQUAL(exp(hb__kde_logpdf(&k, &lv)), 0.999, 1e-6);
    lv = 0;
    double p0 = exp(hb__kde_logpdf(&k, &lv));
    CU_ASSERT(isfinite(p0));
    CU_ASSERT_DOUBLE_EQUAL(p0, 5e-4, 1e-8);
    lv = 2;
    CU_ASSERT_DOUBLE_EQUAL(exp(hb__kde_logpdf(&k, &lv)), 5e-4, 1e-8);

    k.data[0] = 0;
    k.data[1] = 0;
    k.data[2] = 2;
    hb__kde_fit(&k, &dc, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(k.bw[0], 2.0 / 3.0, 1e-9);
    for (int l = 0; l < 3; l++) {
        lv = l;
        CU_ASSERT_DOUBLE_EQUAL(exp(hb__kde_logpdf(&k, &lv)), 1.0 / 3.0, 1e-6);
    }
    hb__kde_fini(&k);
    hb__dims_fini(&d);
    hb_space_free(sp);
}

/* A product kernel over a continuous and a categorical coordinate with 2 declared levels:
 * points (0.2, 0), (0.4, 0), (0.9, 1); n = 3, d = 2, n^(-1/6) = 0.8326832.
 *   x: sd 0.2943920 -> bw = 1.06 * 0.2943920 * 0.8326832 = 0.2598434.
 *   c: codes 0, 0, 1: mean 1/3, variance (1/9 + 1/9 + 4/9) / 3 = 0.2222222, sd 0.4714045
 *      -> lambda = 1.06 * 0.4714045 * 0.8326832 = 0.4160825 (below the cap 1/2).
 * At (0.5, 0): Gaussian terms phi(z)/bw for distances 0.3, 0.1, 0.4:
 *   0.7884033, 1.4257299, 0.4694839; level weights 1 - lambda = 0.5839175 (same level) for
 *   the first two, lambda / (2 - 1) = 0.4160825 for the third:
 *   (0.7884033 * 0.5839175 + 1.4257299 * 0.5839175 + 0.4694839 * 0.4160825) / 3 = 0.4960718.
 * At (0.5, 1) the weights swap: 0.3984673. */
static void test_kde_mixed_by_hand(void)
{
    hb_space *sp = space_cat(2);
    hb__dims d;
    hb__kde k;
    memset(&k, 0, sizeof k);
    CU_ASSERT_EQUAL_FATAL(hb__dims_init(&d, sp, NULL), HB_OK);
    CU_ASSERT_EQUAL_FATAL(hb__kde_reserve(&k, 2, 1, 3), HB_OK);
    float xs[] = {0.2f, 0.4f, 0.9f}, cs[] = {0, 0, 1};
    memcpy(k.data, xs, sizeof xs);
    memcpy(k.data + k.stride, cs, sizeof cs);
    hb__kde_fit(&k, &d, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(k.bw[0], 0.2598434, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(k.bw[1], 0.4160825, 1e-6);
    double v[2] = {0.5, 0};
    CU_ASSERT_DOUBLE_EQUAL(exp(hb__kde_logpdf(&k, v)), 0.4960718, 1e-5);
    v[1] = 1;
    CU_ASSERT_DOUBLE_EQUAL(exp(hb__kde_logpdf(&k, v)), 0.3984673, 1e-5);
    hb__kde_fini(&k);
    hb__dims_fini(&d);
    hb_space_free(sp);
}

/* The float exp, the kernel sum and the truncated normal against libm. */
static void test_helpers(void)
{
    double worst = 0;
    for (int i = 0; i <= 17000; i++) {
        float q = (float)i * 0.01f;
        double e = exp(-0.5 * (double)q), r = fabs(hb__expnh(q) / e - 1);
        if (r > worst) worst = r;
    }
    CU_ASSERT(worst < 3e-7);
    CU_ASSERT_EQUAL(hb__expnh(171.0f), 0.0f);
    CU_ASSERT_EQUAL(hb__expnh(1e30f), 0.0f);

    hb_rng r;
    hb_rng_init(&r, 5, 0);
    for (size_t n = 0; n < 150; n += 7) {
        float mu[150], is[150], coef[150];
        double want = 0;
        float x = (float)hb_rng_uniform(&r);
        for (size_t i = 0; i < n; i++) {
            mu[i] = (float)hb_rng_uniform(&r);
            is[i] = (float)(1.0 / (0.01 + hb_rng_uniform(&r)));
            coef[i] = (float)hb_rng_uniform(&r);
            double z = ((double)x - mu[i]) * is[i];
            want += coef[i] * exp(-0.5 * z * z);
        }
        double got = hb__gauss_sum(mu, is, coef, n, x);
        CU_ASSERT(fabs(got - want) <= 1e-6 * want + 1e-30);
    }
    /* Mean of N(0, 0.2) truncated to [0, 1]: 0.2 * phi(0) / (Phi(5) - 1/2) = 0.1595769. Mean of
     * N(0.5, 2) on [0, 1] (the uniform-proposal branch): 0.5 by symmetry. */
    double m1 = 0, m2 = 0;
    int n = 40000;
    for (int i = 0; i < n; i++) {
        double a = hb__truncnorm01(&r, 0, 0.2), b = hb__truncnorm01(&r, 0.5, 2);
        CU_ASSERT(a >= 0 && a <= 1 && b >= 0 && b <= 1);
        m1 += a;
        m2 += b;
    }
    CU_ASSERT_DOUBLE_EQUAL(m1 / n, 0.1595769, 0.003);
    CU_ASSERT_DOUBLE_EQUAL(m2 / n, 0.5, 0.006);
}

/* ---------- the sampler ---------- */

/* With d = 1 the model needs m = 2 points in each set, so N >= 4 results at one budget. Until
 * then the proposals are exactly those of the random sampler with the same seed. */
static void test_random_until_model(void)
{
    hb_space *sp = space_1d();
    hb_history *h = NULL;
    CU_ASSERT_FATAL(hb_history_create(1, &h) == HB_OK);
    add_quadratic(h, 3, 1, 0.3, 1);
    add_quadratic(h, 3, 3, 0.3, 2); /* three more at another budget do not make a model */
    hb_sampler *k = make("kde", sp, 9, 0), *r = make("random", sp, 9, 0);
    for (int i = 0; i < 20; i++) {
        double a, b;
        CU_ASSERT_EQUAL(hb_sampler_propose(k, h, NULL, 0, 1, &a, NULL), HB_OK);
        CU_ASSERT_EQUAL(hb_sampler_propose(r, h, NULL, 0, 1, &b, NULL), HB_OK);
        CU_ASSERT_EQUAL(a, b);
    }
    add_quadratic(h, 1, 3, 0.3, 4); /* budget 3 now has 4 results: a model */
    int differ = 0;
    for (int i = 0; i < 20; i++) {
        double a, b;
        CU_ASSERT_EQUAL(hb_sampler_propose(k, h, NULL, 0, 1, &a, NULL), HB_OK);
        CU_ASSERT_EQUAL(hb_sampler_propose(r, h, NULL, 0, 1, &b, NULL), HB_OK);
        differ += a != b;
    }
    CU_ASSERT(differ > 15);
    hb_sampler_free(k);
    hb_sampler_free(r);
    hb_history_free(h);
    hb_space_free(sp);
}

/* The model is that of the largest budget with enough results, whatever budget is asked for:
 * budget 1 has its optimum at 0.8, budget 3 at 0.2, budget 9 (too few results at first) at
 * 0.5. */
static void test_largest_budget_with_model(void)
{
    hb_space *sp = space_1d();
    hb_history *h = NULL;
    CU_ASSERT_FATAL(hb_history_create(1, &h) == HB_OK);
    add_quadratic(h, 40, 1, 0.8, 1);
    add_quadratic(h, 20, 3, 0.2, 2);
    for (int i = 0; i < 3; i++) {
        double x = 0.45 + 0.05 * i;
        double loss = (x - 0.5) * (x - 0.5);
        CU_ASSERT_FATAL(hb_history_add(h, 100 + (uint64_t)i, &x, 9, loss, HB_TRIAL_OK) == HB_OK);
    }
    hb_sampler *s = make("kde", sp, 3, 0);
    CU_ASSERT(median_dist(s, h, NULL, 0, 1, 0.2, 101) < 0.08);
    CU_ASSERT(median_dist(s, h, NULL, 0, 9, 0.2, 101) < 0.08);
    /* Seven more at budget 9 on a grid: 10 results, n_good = 2 (0.45, 0.5), n_bad = 8. */
    for (int i = 0; i < 7; i++) {
        double x = i / 6.0;
        double loss = (x - 0.5) * (x - 0.5) + 0.01;
        CU_ASSERT_FATAL(hb_history_add(h, 200 + (uint64_t)i, &x, 9, loss, HB_TRIAL_OK) == HB_OK);
    }
    CU_ASSERT(median_dist(s, h, NULL, 0, 1, 0.5, 101) < 0.08);
    hb_sampler_free(s);
    hb_history_free(h);
    hb_space_free(sp);
}

/* Fix (c): results at lower budgets told after a higher budget has its model are kept (the
 * reference drops them); every result lands in the group of its budget. */
static void test_lower_budgets_kept(void)
{
    hb_space *sp = space_1d();
    hb_history *h = NULL;
    CU_ASSERT_FATAL(hb_history_create(1, &h) == HB_OK);
    add_quadratic(h, 10, 9, 0.5, 1);
    hb_sampler *s = make("kde", sp, 3, 0);
    double x;
    CU_ASSERT_EQUAL(hb_sampler_propose(s, h, NULL, 0, 1, &x, NULL), HB_OK);
    add_quadratic(h, 12, 1, 0.5, 2);
    add_quadratic(h, 5, 3, 0.5, 3);
    CU_ASSERT_EQUAL(hb_sampler_propose(s, h, NULL, 0, 1, &x, NULL), HB_OK);
    hb__dims d;
    hb__cache c;
    memset(&c, 0, sizeof c);
    CU_ASSERT_EQUAL_FATAL(hb__dims_init(&d, sp, NULL), HB_OK);
    CU_ASSERT_EQUAL_FATAL(hb__cache_sync(&c, &d, sp, h, NULL), HB_OK);
    CU_ASSERT_EQUAL(c.n_g, 3);
    CU_ASSERT_EQUAL(hb__cache_find(&c, 9)->n, 10);
    CU_ASSERT_EQUAL(hb__cache_find(&c, 1)->n, 12);
    CU_ASSERT_EQUAL(hb__cache_find(&c, 3)->n, 5);
    CU_ASSERT_PTR_NULL(hb__cache_find(&c, 27));
    /* The ranking inside a group follows the loss. */
    const hb__group *g = hb__cache_find(&c, 1);
    for (size_t i = 1; i < g->n; i++) CU_ASSERT(g->key[g->order[i - 1]] <= g->key[g->order[i]]);
    /* A different history of the same size is noticed and converted anew. */
    hb_history *h2 = NULL;
    CU_ASSERT_FATAL(hb_history_create(1, &h2) == HB_OK);
    for (int i = 0; i < 27; i++) {
        double v = 0.5;
        CU_ASSERT_FATAL(hb_history_add(h2, 1000 + (uint64_t)i, &v, 27, 1, HB_TRIAL_OK) == HB_OK);
    }
    CU_ASSERT_EQUAL_FATAL(hb__cache_sync(&c, &d, sp, h2, NULL), HB_OK);
    CU_ASSERT_EQUAL(c.n_g, 1);
    CU_ASSERT_EQUAL(hb__cache_find(&c, 27)->n, 27);
    hb__cache_fini(&c);
    hb__dims_fini(&d);
    hb_history_free(h2);
    hb_sampler_free(s);
    hb_history_free(h);
    hb_space_free(sp);
}

/* A history of 'n' random configurations of the rich space with rich_loss. */
static hb_history *rich_history(const hb_space *sp, int n, uint64_t seed)
{
    hb_history *h = NULL;
    CU_ASSERT_FATAL(hb_history_create(hb_space_dim(sp), &h) == HB_OK);
    hb_rng r;
    hb_rng_init(&r, seed, 0);
    double x[16];
    for (int i = 0; i < n; i++) {
        CU_ASSERT_FATAL(hb_space_sample(sp, &r, x, NULL) == HB_OK);
        hb_trial_status st = i % 17 == 5 ? HB_TRIAL_CRASHED : HB_TRIAL_OK;
        double budget = i % 3 == 0 ? 3 : 1;
        CU_ASSERT_FATAL(hb_history_add(h, (uint64_t)i, x, budget, rich_loss(x), st) == HB_OK);
    }
    return h;
}

void hb_test_sampler_valid_proposals(const char *kind)
{
    hb_space *sp = space_rich();
    hb_history *h = rich_history(sp, 150, 11);
    hb_sampler *s = make(kind, sp, 5, 0);
    double x[16], pend_x[3][16];
    hb_pending pend[3];
    hb_rng r;
    hb_rng_init(&r, 2, 0);
    for (int j = 0; j < 3; j++) {
        CU_ASSERT_FATAL(hb_space_sample(sp, &r, pend_x[j], NULL) == HB_OK);
        pend[j] = (hb_pending){pend_x[j], j ? 1 : 3};
    }
    int sgd = 0, layers4 = 0, n = 300;
    for (int i = 0; i < n; i++) {
        hb_error err;
        double budget = i % 2 ? 3 : 1;
        CU_ASSERT_EQUAL_FATAL(hb_sampler_propose(s, h, pend, (size_t)(i % 4), budget, x, &err), HB_OK);
        int rc = hb_space_validate(sp, x, &err);
        CU_ASSERT_EQUAL(rc, HB_OK);
        if (rc != HB_OK) fprintf(stderr, "\n%s proposal %d invalid: %s\n", kind, i, err.msg);
        sgd += x[0] == 1;
        layers4 += x[2] == 2;
    }
    /* The model finds the good choices (random: 1/3 and 1/4 of the time). */
    CU_ASSERT(sgd > n / 2);
    CU_ASSERT(layers4 > n / 2);
    hb_sampler_free(s);
    hb_history_free(h);
    hb_space_free(sp);
}

static void test_valid_proposals(void) { hb_test_sampler_valid_proposals("kde"); }

void hb_test_sampler_determinism(const char *kind)
{
    hb_space *sp = space_rich();
    hb_history *h = rich_history(sp, 120, 4);
    hb_sampler *a = make(kind, sp, 77, 1.0 / 3), *b = make(kind, sp, 77, 1.0 / 3),
               *c = make(kind, sp, 78, 1.0 / 3);
    int same_c = 0;
    for (int i = 0; i < 30; i++) {
        double xa[16], xb[16], xc[16];
        CU_ASSERT_EQUAL(hb_sampler_propose(a, h, NULL, 0, 1, xa, NULL), HB_OK);
        CU_ASSERT_EQUAL(hb_sampler_propose(b, h, NULL, 0, 1, xb, NULL), HB_OK);
        CU_ASSERT_EQUAL(hb_sampler_propose(c, h, NULL, 0, 1, xc, NULL), HB_OK);
        size_t dim = hb_space_dim(sp);
        int eq = 1, eqc = 1;
        for (size_t j = 0; j < dim; j++) {
            eq &= xa[j] == xb[j] || (isnan(xa[j]) && isnan(xb[j]));
            eqc &= xa[j] == xc[j] || (isnan(xa[j]) && isnan(xc[j]));
        }
        CU_ASSERT(eq);
        same_c += eqc;
    }
    CU_ASSERT(same_c < 3);
    hb_sampler_free(a);
    hb_sampler_free(b);
    hb_sampler_free(c);
    hb_history_free(h);
    hb_space_free(sp);
}

static void test_determinism(void) { hb_test_sampler_determinism("kde"); }

/* 60 results of (x - 0.3)^2: model-based proposals crowd 0.3, random ones do not (the median
 * distance of a uniform x from 0.3 is 0.25). */
void hb_test_sampler_concentrates(const char *kind)
{
    hb_space *sp = space_1d();
    hb_history *h = NULL;
    CU_ASSERT_FATAL(hb_history_create(1, &h) == HB_OK);
    add_quadratic(h, 60, 1, 0.3, 8);
    hb_sampler *s = make(kind, sp, 1, 0), *r = make("random", sp, 1, 0);
    double md = median_dist(s, h, NULL, 0, 1, 0.3, 100), mr = median_dist(r, h, NULL, 0, 1, 0.3, 100);
    CU_ASSERT(md < 0.1);
    CU_ASSERT(mr > 0.2);
    /* With the default random fraction (1/3) they still crowd it. */
    hb_sampler *t = make(kind, sp, 1, 1.0 / 3);
    CU_ASSERT(median_dist(t, h, NULL, 0, 1, 0.3, 100) < 0.15);
    hb_sampler_free(s);
    hb_sampler_free(r);
    hb_sampler_free(t);
    hb_history_free(h);
    hb_space_free(sp);
}

static void test_concentrates(void) { hb_test_sampler_concentrates("kde"); }

/* Constant liar: ten jobs running at the best point (at the model's budget) are counted as
 * bad results, so proposals move away from it; running jobs at another budget change nothing. */
void hb_test_sampler_constant_liar(const char *kind)
{
    hb_space *sp = space_1d();
    hb_history *h = NULL;
    CU_ASSERT_FATAL(hb_history_create(1, &h) == HB_OK);
    add_quadratic(h, 60, 1, 0.3, 8);
    double at = 0.3;
    hb_pending pend[10], other[10];
    for (int j = 0; j < 10; j++) {
        pend[j] = (hb_pending){&at, 1};
        other[j] = (hb_pending){&at, 5};
    }
    hb_sampler *a = make(kind, sp, 21, 0), *b = make(kind, sp, 21, 0), *c = make(kind, sp, 21, 0);
    int differ = 0;
    double da = 0, db = 0;
    for (int i = 0; i < 100; i++) {
        double xa, xb, xc;
        CU_ASSERT_EQUAL(hb_sampler_propose(a, h, NULL, 0, 1, &xa, NULL), HB_OK);
        CU_ASSERT_EQUAL(hb_sampler_propose(b, h, pend, 10, 1, &xb, NULL), HB_OK);
        CU_ASSERT_EQUAL(hb_sampler_propose(c, h, other, 10, 1, &xc, NULL), HB_OK);
        differ += xa != xb;
        CU_ASSERT_EQUAL(xa, xc);
        da += fabs(xa - 0.3);
        db += fabs(xb - 0.3);
    }
    CU_ASSERT(differ > 50);
    CU_ASSERT(db > 1.1 * da);
    hb_sampler_free(a);
    hb_sampler_free(b);
    hb_sampler_free(c);
    hb_history_free(h);
    hb_space_free(sp);
}

static void test_constant_liar(void) { hb_test_sampler_constant_liar("kde"); }

/* Failed trials carry a meaningless loss (here -100, better than any real one) near 0.8;
 * they must never be good, so proposals stay at the real optimum 0.3. Also when failures
 * are the majority of the results. */
void hb_test_sampler_failures(const char *kind)
{
    hb_space *sp = space_1d();
    for (int few = 0; few < 2; few++) {
        hb_history *h = NULL;
        CU_ASSERT_FATAL(hb_history_create(1, &h) == HB_OK);
        add_quadratic(h, few ? 8 : 40, 1, 0.3, 8);
        hb_rng r;
        hb_rng_init(&r, 4, 4);
        for (int i = 0; i < 30; i++) {
            double x = 0.75 + 0.1 * hb_rng_uniform(&r);
            hb_trial_status st = i % 3 == 0   ? HB_TRIAL_FAILED
                                 : i % 3 == 1 ? HB_TRIAL_TIMEOUT
                                              : HB_TRIAL_NAN;
            CU_ASSERT_FATAL(hb_history_add(h, 500 + (uint64_t)i, &x, 1, -100, st) == HB_OK);
        }
        hb_sampler *s = make(kind, sp, 6, 0);
        CU_ASSERT(median_dist(s, h, NULL, 0, 1, 0.8, 101) > 0.3);
        if (!few) CU_ASSERT(median_dist(s, h, NULL, 0, 1, 0.3, 101) < 0.15);
        hb_sampler_free(s);
        hb_history_free(h);
    }
    hb_space_free(sp);
}

static void test_failures_never_good(void) { hb_test_sampler_failures("kde"); }

/* Ordinals and ints are modelled on their order (fix b; the reference refuses ordinals):
 * both are ORDERED coordinates, the density of a level between two observed ones exceeds that
 * of a far one, and proposals crowd the best level of an ordinal with 9 levels and the best
 * value of an int in [1, 64] (median distances for uniform draws: 2 levels and 16). */
void hb_test_sampler_ordered(const char *kind)
{
    hb_space *sp = NULL;
    hb_value lv[9];
    for (int i = 0; i < 9; i++) lv[i] = (hb_value){0, i + 1, NULL};
    CU_ASSERT_FATAL(hb_space_create(&sp) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_ordinal(sp, "depth", lv, 9, -1, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_int(sp, "units", 1, 64, HB_SCALE_LINEAR, NAN, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_finalize(sp, NULL, NULL) == HB_OK);
    hb__dims d;
    CU_ASSERT_EQUAL_FATAL(hb__dims_init(&d, sp, NULL), HB_OK);
    CU_ASSERT_EQUAL(d.n_cont, 2);
    CU_ASSERT_EQUAL(d.kind[0], HB__KIND_ORDERED);
    CU_ASSERT_EQUAL(d.kind[1], HB__KIND_ORDERED);
    hb__kde k;
    memset(&k, 0, sizeof k);
    CU_ASSERT_EQUAL_FATAL(hb__kde_reserve(&k, 1, 1, 2), HB_OK);
    k.data[0] = 3.5f / 9; /* levels 3 and 5 (0-based) at their slice centres */
    k.data[1] = 5.5f / 9;
    hb__kde_fit(&k, &d, 1e-3);
    double mid = 4.5 / 9, far = 8.5 / 9;
    CU_ASSERT(hb__kde_logpdf(&k, &mid) > hb__kde_logpdf(&k, &far) + 1);
    hb__kde_fini(&k);
    hb__dims_fini(&d);

    hb_history *h = NULL;
    CU_ASSERT_FATAL(hb_history_create(2, &h) == HB_OK);
    hb_rng r;
    hb_rng_init(&r, 1, 0);
    for (int i = 0; i < 100; i++) {
        double x[2];
        CU_ASSERT_FATAL(hb_space_sample(sp, &r, x, NULL) == HB_OK);
        double loss = fabs(x[0] - 6) / 8 + fabs(x[1] - 40) / 63;
        CU_ASSERT_FATAL(hb_history_add(h, (uint64_t)i, x, 1, loss, HB_TRIAL_OK) == HB_OK);
    }
    hb_sampler *s = make(kind, sp, 1, 0);
    double dk[101], dv[101];
    for (int i = 0; i < 101; i++) {
        double x[2];
        hb_error err;
        CU_ASSERT_EQUAL_FATAL(hb_sampler_propose(s, h, NULL, 0, 1, x, &err), HB_OK);
        CU_ASSERT_EQUAL(hb_space_validate(sp, x, &err), HB_OK);
        dk[i] = fabs(x[0] - 6);
        dv[i] = fabs(x[1] - 40);
    }
    qsort(dk, 101, sizeof *dk, cmp_double);
    qsort(dv, 101, sizeof *dv, cmp_double);
    CU_ASSERT(dk[50] <= 1);
    CU_ASSERT(dv[50] <= 8);
    hb_sampler_free(s);
    hb_history_free(h);
    hb_space_free(sp);
}

static void test_ordered(void) { hb_test_sampler_ordered("kde"); }

/* Fail the n-th allocation of create + three proposals (a model, pending jobs, an inactive
 * parameter to impute) for n = 0, 1, ...: each failure is HB_ENOMEM, nothing leaks. */
void hb_test_sampler_allocation_failures(const char *kind)
{
    hb_space *sp = space_rich();
    hb_history *h = rich_history(sp, 100, 3);
    double px[16];
    hb_rng r;
    hb_rng_init(&r, 1, 1);
    CU_ASSERT_FATAL(hb_space_sample(sp, &r, px, NULL) == HB_OK);
    hb_pending pend[2] = {{px, 1}, {px, 3}};
    hb_sampler_opts o;
    hb_sampler_opts_init(&o);
    o.random_fraction = 0;
    long live = hb_alloc_live();
    int rc = -1;
    long n;
    for (n = 0; n < 10000; n++) {
        hb_sampler *s = NULL;
        hb_error err;
        double x[16];
        hb_alloc_fail_after(n);
        rc = hb_sampler_create(kind, sp, 1, &o, &s, &err);
        for (int i = 0; rc == HB_OK && i < 3; i++)
            rc = hb_sampler_propose(s, h, pend, (size_t)i, 1, x, &err);
        hb_alloc_fail_after(-1);
        hb_sampler_free(s);
        CU_ASSERT_EQUAL(hb_alloc_live(), live);
        if (rc == HB_OK) break;
        CU_ASSERT_EQUAL(rc, HB_ENOMEM);
        if (rc != HB_ENOMEM) break;
    }
    CU_ASSERT_EQUAL(rc, HB_OK);
    CU_ASSERT(n > 5);
    hb_history_free(h);
    hb_space_free(sp);
}

static void test_allocation_failures(void) { hb_test_sampler_allocation_failures("kde"); }

/* ---------- cost (printed, not asserted) ---------- */

static double seconds(void)
{
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static hb_space *space_timing(int mixed)
{
    hb_space *sp = NULL;
    CU_ASSERT_FATAL(hb_space_create(&sp) == HB_OK);
    if (!mixed) {
        const char *names[] = {"a", "b", "c", "d", "e", "f"};
        for (int i = 0; i < 6; i++)
            CU_ASSERT_FATAL(hb_space_add_float(sp, names[i], 0, 1, HB_SCALE_LINEAR, NAN, NULL) == HB_OK);
    } else {
        hb_value c3[] = {{1, 0, "a"}, {1, 0, "b"}, {1, 0, "c"}};
        hb_value c4[] = {{1, 0, "p"}, {1, 0, "q"}, {1, 0, "r"}, {1, 0, "s"}};
        hb_value o5[] = {{0, 1, NULL}, {0, 2, NULL}, {0, 4, NULL}, {0, 8, NULL}, {0, 16, NULL}};
        CU_ASSERT_FATAL(hb_space_add_float(sp, "f0", 0, 1, HB_SCALE_LINEAR, NAN, NULL) == HB_OK);
        CU_ASSERT_FATAL(hb_space_add_float(sp, "f1", 1e-4, 1, HB_SCALE_LOG, NAN, NULL) == HB_OK);
        CU_ASSERT_FATAL(hb_space_add_float(sp, "f2", -5, 5, HB_SCALE_LINEAR, NAN, NULL) == HB_OK);
        CU_ASSERT_FATAL(hb_space_add_int(sp, "i0", 1, 100, HB_SCALE_LINEAR, NAN, NULL) == HB_OK);
        CU_ASSERT_FATAL(hb_space_add_int(sp, "i1", 1, 1024, HB_SCALE_LOG, NAN, NULL) == HB_OK);
        CU_ASSERT_FATAL(hb_space_add_categorical(sp, "c0", c3, 3, NULL, -1, NULL) == HB_OK);
        CU_ASSERT_FATAL(hb_space_add_categorical(sp, "c1", c4, 4, NULL, -1, NULL) == HB_OK);
        CU_ASSERT_FATAL(hb_space_add_ordinal(sp, "o0", o5, 5, -1, NULL) == HB_OK);
    }
    CU_ASSERT_FATAL(hb_space_finalize(sp, NULL, NULL) == HB_OK);
    return sp;
}

/* Median cost of a model-based proposal with N results at one budget (the worst case for the
 * KDE: every result in its model), for the 6-d continuous and 8-d mixed spaces. */
void hb_test_sampler_cost(const char *kind)
{
    static const int sizes[] = {20, 100, 500, 2000};
    for (int mixed = 0; mixed < 2; mixed++) {
        hb_space *sp = space_timing(mixed);
        size_t dim = hb_space_dim(sp);
        printf("\n    %s %s:", kind, mixed ? "8-d mixed" : "6-d continuous");
        for (int k = 0; k < 4; k++) {
            hb_history *h = NULL;
            CU_ASSERT_FATAL(hb_history_create(dim, &h) == HB_OK);
            hb_rng r;
            hb_rng_init(&r, 42, 0);
            double x[8], u[8], t[101];
            for (int i = 0; i < sizes[k]; i++) {
                CU_ASSERT_FATAL(hb_space_sample(sp, &r, x, NULL) == HB_OK);
                hb_space_to_unit(sp, x, u);
                double loss = 0;
                for (size_t j = 0; j < dim; j++) loss += (u[j] - 0.3) * (u[j] - 0.3);
                CU_ASSERT_FATAL(hb_history_add(h, (uint64_t)i, x, 1, loss, HB_TRIAL_OK) == HB_OK);
            }
            hb_sampler *s = make(kind, sp, 7, 0);
            for (int i = 0; i < 101; i++) {
                double t0 = seconds();
                CU_ASSERT_EQUAL(hb_sampler_propose(s, h, NULL, 0, 1, x, NULL), HB_OK);
                t[i] = seconds() - t0;
            }
            qsort(t, 101, sizeof *t, cmp_double);
            printf(" N=%d %.0f us%s", sizes[k], t[50] * 1e6, k < 3 ? "," : "");
            hb_sampler_free(s);
            hb_history_free(h);
        }
        hb_space_free(sp);
    }
    printf("\n");
}

static void test_cost(void) { hb_test_sampler_cost("kde"); }

int hb_test_add_sampler_kde(void)
{
    CU_pSuite s = CU_add_suite("sampler_kde", NULL, NULL);
    if (!s) return -1;
    CU_add_test(s, "continuous KDE: bandwidth and density by hand", test_kde_continuous_by_hand);
    CU_add_test(s, "categorical KDE: declared levels, lambda floor and cap",
                test_kde_categorical_by_hand);
    CU_add_test(s, "mixed product kernel by hand", test_kde_mixed_by_hand);
    CU_add_test(s, "float exp, kernel sums, truncated normal", test_helpers);
    CU_add_test(s, "random until a budget has a model", test_random_until_model);
    CU_add_test(s, "model of the largest budget with enough results", test_largest_budget_with_model);
    CU_add_test(s, "lower-budget results are kept", test_lower_budgets_kept);
    CU_add_test(s, "valid proposals with conditions and forbiddens", test_valid_proposals);
    CU_add_test(s, "same seed same proposals", test_determinism);
    CU_add_test(s, "proposals concentrate at the optimum", test_concentrates);
    CU_add_test(s, "constant liar spreads pending jobs", test_constant_liar);
    CU_add_test(s, "failures are never good", test_failures_never_good);
    CU_add_test(s, "ordinals and ints are ordered", test_ordered);
    CU_add_test(s, "allocation failures", test_allocation_failures);
    CU_add_test(s, "proposal cost (printed)", test_cost);
    return 0;
}
