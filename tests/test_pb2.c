/* test_pb2.c — PB2's selection step (src/pb2.c) on fixed histories: the time-varying kernel and
 * its gradient, the choice on monotone and peaked improvements, pending points, recent data
 * against old, the window, determinism, the random fallback, bad arguments, out-of-memory, and
 * the cost of a call. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gp_impl.h"
#include "hb_test.h"
#include "pb2_impl.h"

#define KMAX 4
#define NMAX 400

/* A fixed history: 'n' intervals of k hyperparameters, stored in the struct. */
typedef struct hist {
    size_t n, k;
    double u[NMAX][KMAX];
    hb__pb2_obs o[NMAX];
} hist;

/* Improvement of an interval at time t with hyperparameters u. */
typedef double (*gain_fn)(double t, const double *u);

/* n intervals: member i % pop at time step i / pop (times 0, 1, 2, ... budget units), u uniform
 * from stream 'seed', y = f(t, u) + noise * N(0, 1). */
static void make_hist(hist *h, size_t n, size_t k, size_t pop, gain_fn f, double noise,
                      uint64_t seed)
{
    hb_rng r;
    hb_rng_init(&r, seed, 5);
    CU_ASSERT_FATAL(n <= NMAX && k <= KMAX);
    h->n = n;
    h->k = k;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < k; j++) h->u[i][j] = hb_rng_uniform(&r);
        h->o[i].t = (double)(i / pop);
        h->o[i].u = h->u[i];
        h->o[i].y = f(h->o[i].t, h->u[i]) + noise * hb_rng_normal(&r);
    }
}

static int select_u(const hist *h, const hb__pb2_obs *pend, size_t np, double t_next, uint64_t seed,
                    double *u)
{
    hb_rng r;
    hb_error err = {0};
    hb_rng_init(&r, seed, 0);
    int rc = hb__pb2_select(h->k, h->o, h->n, pend, np, t_next, &r, u, &err);
    if (rc != HB_OK) fprintf(stderr, "\npb2_select: %d %s\n", rc, err.msg);
    return rc;
}

static double t_last(const hist *h) { return h->o[h->n - 1].t + 1; }

/* ---------- the time-varying kernel ---------- */

static void test_tv_kernel(void)
{
    hb__gp gp;
    int owner[3] = {0, 1, 2};
    CU_ASSERT_FATAL(hb__gp_init(&gp, 30, 3, 3, owner) == HB_OK);
    CU_ASSERT_EQUAL(gp.time_ls, -1);
    gp.time_ls = 0;
    double lt = 0.4, l1 = 0.3, l2 = 0.7, sf2 = 1.7;
    gp.theta[0] = log(lt);
    gp.theta[1] = log(l1);
    gp.theta[2] = log(l2);
    gp.theta[3] = log(sf2);
    double a[3] = {0.1, 0.2, 0.9}, b[3] = {0.6, 0.5, 0.4};
    double du = sqrt(pow(0.3 / l1, 2) + pow(0.5 / l2, 2));
    double want = hb__gp_matern52(du, sf2) * exp(-0.5 / lt);
    double got = hb__gp_kernel(&gp, a, b);
    EXPECT(fabs(got - want) < 1e-14, "k = %.17g, want %.17g", got, want);
    /* (1 - eps)^(|dt| / 2) = exp(-|dt| / l_t) with eps = 1 - exp(-2 / l_t). */
    double eps = 1 - exp(-2 / lt);
    EXPECT(fabs(exp(-0.5 / lt) - pow(1 - eps, 0.5 / 2)) < 1e-14, "eps form");
    double lo, hi;
    hb__gp_bounds(&gp, 0, &lo, &hi);
    CU_ASSERT_DOUBLE_EQUAL(lo, log(0.1), 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(hi, log(20.0), 1e-15);
    hb__gp_bounds(&gp, 1, &lo, &hi);
    CU_ASSERT_DOUBLE_EQUAL(lo, log(0.01), 1e-15);

    /* Gradient of the log marginal likelihood against central differences. */
    hb_rng r;
    hb_rng_init(&r, 3, 0);
    for (size_t i = 0; i < 25; i++) {
        for (size_t c = 0; c < 3; c++) gp.X[i * 3 + c] = hb_rng_uniform(&r);
        gp.y[i] = sin(6 * gp.X[i * 3 + 1]) + gp.X[i * 3] + 0.1 * hb_rng_normal(&r);
    }
    gp.n = 25;
    double theta[5] = {log(0.5), log(0.3), log(1.2), log(1.1), log(0.02)};
    double grad[5], lml, lp, lm, step = 1e-5;
    memcpy(gp.theta, theta, sizeof theta);
    CU_ASSERT_EQUAL_FATAL(hb__gp_lml_grad(&gp, &lml, grad), HB_OK);
    for (int j = 0; j < 5; j++) {
        memcpy(gp.theta, theta, sizeof theta);
        gp.theta[j] += step;
        CU_ASSERT_EQUAL_FATAL(hb__gp_lml_grad(&gp, &lp, NULL), HB_OK);
        gp.theta[j] -= 2 * step;
        CU_ASSERT_EQUAL_FATAL(hb__gp_lml_grad(&gp, &lm, NULL), HB_OK);
        double fd = (lp - lm) / (2 * step);
        EXPECT(fabs(grad[j] - fd) < 1e-5 * (1 + fabs(fd)),
               "d lml / d theta[%d] = %g, differences %g", j, grad[j], fd);
    }
    /* The posterior at a training point's input is close to its target (small noise). */
    memcpy(gp.theta, theta, sizeof theta);
    CU_ASSERT_EQUAL_FATAL(hb__gp_factor(&gp), HB_OK);
    double mu, sd;
    hb__gp_predict(&gp, 1, gp.X + 3 * 3, &mu, &sd);
    EXPECT(fabs(mu - gp.y[3]) < 0.3 && sd < 0.3, "posterior at a data point %g +- %g, y %g", mu, sd,
           gp.y[3]);
    hb__gp_fini(&gp);
}

/* ---------- choices on fixed histories ---------- */

static double gain_increasing(double t, const double *u)
{
    (void)t;
    return u[0];
}

static void test_increasing(void)
{
    static hist h;
    double u[2];
    for (uint64_t seed = 1; seed <= 3; seed++) {
        make_hist(&h, 60, 2, 6, gain_increasing, 0.05, seed);
        CU_ASSERT_EQUAL_FATAL(select_u(&h, NULL, 0, t_last(&h), seed, u), HB_OK);
        EXPECT(u[0] > 0.8, "seed %llu: u0 = %g, want > 0.8", (unsigned long long)seed, u[0]);
        EXPECT(u[1] >= 0 && u[1] <= 1, "u1 = %g", u[1]);
    }
}

static double gain_peak03(double t, const double *u)
{
    (void)t;
    return exp(-pow((u[0] - 0.3) / 0.15, 2));
}

static void test_peaked(void)
{
    static hist h;
    double u[2];
    for (uint64_t seed = 1; seed <= 3; seed++) {
        make_hist(&h, 60, 2, 6, gain_peak03, 0.05, seed);
        CU_ASSERT_EQUAL_FATAL(select_u(&h, NULL, 0, t_last(&h), seed, u), HB_OK);
        EXPECT(fabs(u[0] - 0.3) < 0.08, "seed %llu: u0 = %g, want 0.3 +- 0.08",
               (unsigned long long)seed, u[0]);
    }
}

/* A weak bump at 0.5 among few points: the GP is nearly flat, so its sd matters. */
static double gain_weak(double t, const double *u)
{
    (void)t;
    return 0.2 * exp(-pow((u[0] - 0.5) / 0.3, 2));
}

static void test_pending(void)
{
    static hist h;
    double u[1], u2[1], u3[1];
    make_hist(&h, 12, 1, 4, gain_weak, 0.05, 4);
    double t_next = t_last(&h);
    CU_ASSERT_EQUAL_FATAL(select_u(&h, NULL, 0, t_next, 9, u), HB_OK);
    /* Others are training at the choice already: it moves away. */
    double pu[1] = {u[0]};
    hb__pb2_obs pend[3] = {{t_next, pu, NAN}, {t_next, pu, NAN}, {t_next - 1, pu, NAN}};
    CU_ASSERT_EQUAL_FATAL(select_u(&h, pend, 3, t_next, 9, u2), HB_OK);
    EXPECT(fabs(u2[0] - u[0]) > 0.1, "alone %g, with pending there %g: want > 0.1 apart", u[0],
           u2[0]);
    /* And with both of those pending, the third choice avoids them both. */
    double pv[1] = {u2[0]};
    hb__pb2_obs pend2[2] = {{t_next, pu, NAN}, {t_next, pv, NAN}};
    CU_ASSERT_EQUAL_FATAL(select_u(&h, pend2, 2, t_next, 9, u3), HB_OK);
    EXPECT(fabs(u3[0] - u[0]) > 0.05 && fabs(u3[0] - u2[0]) > 0.05,
           "third choice %g next to %g or %g", u3[0], u[0], u2[0]);
    /* Pending points far in the past change little. */
    hb__pb2_obs old[1] = {{-1000, pu, NAN}};
    CU_ASSERT_EQUAL_FATAL(select_u(&h, old, 1, t_next, 9, u2), HB_OK);
    EXPECT(fabs(u2[0] - u[0]) < 0.1, "a pending point long ago moved the choice from %g to %g",
           u[0], u2[0]);
}

/* The best value moves from 0.2 (before t = 10) to 0.8 (after), or the other way round. */
static double gain_moves_up(double t, const double *u)
{
    double c = t < 10 ? 0.2 : 0.8;
    return exp(-pow((u[0] - c) / 0.15, 2));
}

static double gain_moves_down(double t, const double *u)
{
    double c = t < 10 ? 0.8 : 0.2;
    return exp(-pow((u[0] - c) / 0.15, 2));
}

static void test_time_varying(void)
{
    static hist h;
    double u[1];
    for (uint64_t seed = 1; seed <= 3; seed++) {
        /* 8 members, t = 0 .. 14: 80 intervals with the old optimum, 40 with the new. */
        make_hist(&h, 120, 1, 8, gain_moves_up, 0.05, seed);
        CU_ASSERT_EQUAL_FATAL(select_u(&h, NULL, 0, t_last(&h), seed, u), HB_OK);
        EXPECT(fabs(u[0] - 0.8) < 0.1, "seed %llu: u = %g, want the recent optimum 0.8",
               (unsigned long long)seed, u[0]);
        make_hist(&h, 120, 1, 8, gain_moves_down, 0.05, seed);
        CU_ASSERT_EQUAL_FATAL(select_u(&h, NULL, 0, t_last(&h), seed, u), HB_OK);
        EXPECT(fabs(u[0] - 0.2) < 0.1, "seed %llu: u = %g, want the recent optimum 0.2",
               (unsigned long long)seed, u[0]);
    }
}

/* Only the HB__PB2_MAX_OBS most recent observations count: older ones, however wild, change
 * nothing, wherever they are in the array. */
static void test_window(void)
{
    static hist h, w;
    double u[2], v[2];
    make_hist(&h, HB__PB2_MAX_OBS, 2, 10, gain_peak03, 0.05, 6);
    w.k = 2;
    w.n = HB__PB2_MAX_OBS + 100;
    for (size_t i = 0; i < 100; i++) { /* older, first in the array */
        w.u[i][0] = (double)i / 99;
        w.u[i][1] = 0.5;
        w.o[i] = (hb__pb2_obs){-1 - (double)i, w.u[i], 1e3 * w.u[i][0]};
    }
    for (size_t i = 0; i < HB__PB2_MAX_OBS; i++) {
        memcpy(w.u[100 + i], h.u[i], sizeof h.u[i]);
        w.o[100 + i] = (hb__pb2_obs){h.o[i].t, w.u[100 + i], h.o[i].y};
    }
    /* Distinct times, so that the order of the window does not depend on array positions. */
    for (size_t i = 0; i < HB__PB2_MAX_OBS; i++) {
        h.o[i].t += 1e-3 * (double)i;
        w.o[100 + i].t = h.o[i].t;
    }
    CU_ASSERT_EQUAL_FATAL(select_u(&h, NULL, 0, t_last(&h), 2, u), HB_OK);
    CU_ASSERT_EQUAL_FATAL(select_u(&w, NULL, 0, t_last(&h), 2, v), HB_OK);
    EXPECT(memcmp(u, v, sizeof u) == 0, "window: %.17g %.17g vs %.17g %.17g", u[0], u[1], v[0],
           v[1]);
}

static void test_determinism(void)
{
    static hist h;
    double u[3], v[3];
    double pu[3] = {0.3, 0.6, 0.9};
    make_hist(&h, 40, 3, 5, gain_peak03, 0.1, 8);
    hb__pb2_obs pend[1] = {{t_last(&h), pu, 0}};
    hb_rng r1, r2;
    hb_rng_init(&r1, 77, 1);
    hb_rng_init(&r2, 77, 1);
    CU_ASSERT_EQUAL(hb__pb2_select(3, h.o, h.n, pend, 1, t_last(&h), &r1, u, NULL), HB_OK);
    CU_ASSERT_EQUAL(hb__pb2_select(3, h.o, h.n, pend, 1, t_last(&h), &r2, v, NULL), HB_OK);
    CU_ASSERT(memcmp(u, v, sizeof u) == 0);
    CU_ASSERT(memcmp(&r1, &r2, sizeof r1) == 0); /* the rng advanced alike */
    CU_ASSERT(hb_rng_next(&r1) == hb_rng_next(&r2));
    for (int j = 0; j < 3; j++) CU_ASSERT(u[j] >= 0 && u[j] <= 1);
}

/* ---------- fallback and arguments ---------- */

static void test_fallback(void)
{
    double pu[2] = {0.5, 0.5}, u[2], want[2];
    hb__pb2_obs one[2] = {{0, pu, 1.0}, {1, pu, NAN}}; /* the second failed: not usable */
    for (size_t n = 0; n <= 2; n++) {
        hb_rng r, ref;
        hb_rng_init(&r, 5, 0);
        hb_rng_init(&ref, 5, 0);
        CU_ASSERT_EQUAL(hb__pb2_select(2, n ? one : NULL, n, one, 1, 3, &r, u, NULL), HB_OK);
        want[0] = hb_rng_uniform(&ref);
        want[1] = hb_rng_uniform(&ref);
        EXPECT(memcmp(u, want, sizeof u) == 0, "%zu observations: not the uniform draw", n);
        CU_ASSERT(memcmp(&r, &ref, sizeof r) == 0);
    }
    /* Two identical points (same t, u and y) still give a valid choice. */
    hb__pb2_obs two[2] = {{0, pu, 1.0}, {0, pu, 1.0}};
    hb_rng r;
    hb_rng_init(&r, 5, 0);
    CU_ASSERT_EQUAL(hb__pb2_select(2, two, 2, NULL, 0, 1, &r, u, NULL), HB_OK);
    CU_ASSERT(u[0] >= 0 && u[0] <= 1 && u[1] >= 0 && u[1] <= 1);
}

static void test_bad_arguments(void)
{
    double pu[1] = {0.5}, nan_u[1] = {NAN}, u[1] = {-7};
    hb__pb2_obs ok[2] = {{0, pu, 1}, {1, pu, 2}}, no_u[1] = {{0, NULL, 1}};
    hb__pb2_obs bad_u[1] = {{0, nan_u, 1}};
    hb_rng r;
    hb_error err = {0};
    hb_rng_init(&r, 1, 0);
    CU_ASSERT_EQUAL(hb__pb2_select(0, ok, 2, NULL, 0, 2, &r, u, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(err.status, HB_EINVAL);
    CU_ASSERT_EQUAL(hb__pb2_select(1, NULL, 2, NULL, 0, 2, &r, u, NULL), HB_EINVAL);
    CU_ASSERT_EQUAL(hb__pb2_select(1, ok, 2, NULL, 1, 2, &r, u, NULL), HB_EINVAL);
    CU_ASSERT_EQUAL(hb__pb2_select(1, ok, 2, NULL, 0, INFINITY, &r, u, NULL), HB_EINVAL);
    CU_ASSERT_EQUAL(hb__pb2_select(1, no_u, 1, NULL, 0, 2, &r, u, NULL), HB_EINVAL);
    CU_ASSERT_EQUAL(hb__pb2_select(1, ok, 2, bad_u, 1, 2, &r, u, NULL), HB_EINVAL);
    CU_ASSERT_EQUAL(hb__pb2_select(1, ok, 2, NULL, 0, 2, NULL, u, NULL), HB_EINVAL);
    CU_ASSERT_EQUAL(hb__pb2_select(1, ok, 2, NULL, 0, 2, &r, NULL, NULL), HB_EINVAL);
    CU_ASSERT_EQUAL(u[0], -7); /* untouched */
    /* Coordinates outside [0, 1] are clamped. */
    double big[1] = {3}, small[1] = {-2};
    hb__pb2_obs out[4] = {{0, big, 1}, {0, small, 0}, {1, big, 1}, {1, small, 0}};
    CU_ASSERT_EQUAL(hb__pb2_select(1, out, 4, NULL, 0, 2, &r, u, NULL), HB_OK);
    CU_ASSERT(u[0] >= 0 && u[0] <= 1);
}

static void test_alloc_failures(void)
{
    static hist h;
    double u[2], pu[2] = {0.3, 0.4};
    make_hist(&h, 30, 2, 5, gain_peak03, 0.05, 3);
    hb__pb2_obs pend[1] = {{t_last(&h), pu, 0}};
    long live = hb_alloc_live(), n;
    int rc = HB_ENOMEM;
    for (n = 0; n < 1000 && rc != HB_OK; n++) {
        hb_rng r;
        hb_error err = {0};
        hb_rng_init(&r, 1, 0);
        hb_alloc_fail_after(n);
        rc = hb__pb2_select(2, h.o, h.n, pend, 1, t_last(&h), &r, u, &err);
        hb_alloc_fail_after(-1);
        CU_ASSERT(rc == HB_OK || rc == HB_ENOMEM);
        if (rc == HB_ENOMEM) CU_ASSERT_STRING_EQUAL(err.msg, "out of memory");
        CU_ASSERT_EQUAL(hb_alloc_live(), live);
    }
    CU_ASSERT_EQUAL(rc, HB_OK);
    CU_ASSERT(n > 5); /* the sweep went through the call's allocations */
}

/* ---------- cost ---------- */

static double seconds(void)
{
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : (x > y);
}

static double gain_cost(double t, const double *u)
{
    return exp(-0.1 * t) * (1 - pow(u[0] - 0.4, 2) - 0.5 * pow(u[1] - 0.6, 2)) + 0.1 * u[2];
}

/* Median seconds per call at 50 and 200 observations (k = 3, 8 pending); printed. A loose
 * bound catches a blow-up (a sanitizer build is several times slower). */
static void test_cost(void)
{
    static hist h;
    static const size_t sizes[] = {50, 200};
    double u[3], t[9], pu[8][3];
    hb__pb2_obs pend[8];
    printf("\n    pb2_select, k = 3, 8 pending:");
    for (size_t s = 0; s < 2; s++) {
        make_hist(&h, sizes[s], 3, 8, gain_cost, 0.05, 11);
        for (size_t i = 0; i < 8; i++) {
            for (size_t j = 0; j < 3; j++) pu[i][j] = (double)((i * 3 + j) % 7) / 6;
            pend[i] = (hb__pb2_obs){t_last(&h), pu[i], 0};
        }
        for (size_t i = 0; i < 9; i++) {
            hb_rng r;
            hb_rng_init(&r, i, 0);
            double t0 = seconds();
            CU_ASSERT_EQUAL(hb__pb2_select(3, h.o, h.n, pend, 8, t_last(&h), &r, u, NULL), HB_OK);
            t[i] = seconds() - t0;
        }
        qsort(t, 9, sizeof *t, cmp_double);
        printf(" N=%zu %.1f ms (max %.1f)%s", sizes[s], t[4] * 1e3, t[8] * 1e3, s ? "" : ",");
        EXPECT(t[4] < 2.0, "N=%zu: %g s per call", sizes[s], t[4]);
    }
    printf("\n");
}

int hb_test_add_pb2(void)
{
    CU_pSuite s = CU_add_suite("pb2", NULL, NULL);
    if (s == NULL) return -1;
    if (!CU_add_test(s, "time-varying kernel and its gradient", test_tv_kernel) ||
        !CU_add_test(s, "improvement increasing in u0", test_increasing) ||
        !CU_add_test(s, "improvement peaked at u0 = 0.3", test_peaked) ||
        !CU_add_test(s, "pending points are avoided", test_pending) ||
        !CU_add_test(s, "recent data outweighs old", test_time_varying) ||
        !CU_add_test(s, "window of the most recent observations", test_window) ||
        !CU_add_test(s, "determinism", test_determinism) ||
        !CU_add_test(s, "uniform fallback with 0 or 1 observations", test_fallback) ||
        !CU_add_test(s, "bad arguments", test_bad_arguments) ||
        !CU_add_test(s, "allocation failures", test_alloc_failures) ||
        !CU_add_test(s, "cost per call", test_cost))
        return -1;
    return 0;
}
