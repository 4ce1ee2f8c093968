/* test_sampler_grid.c — the grid sampler: exact enumeration order and values (linear and log
 * floats, integers that collapse, choices, constants), exhaustion, one proposal per distinct
 * configuration under conditions, forbidden points skipped, the size limit, determinism and
 * allocation failures. Expected grids are worked out by hand in the comments. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hb_sampler.h"
#include "hb_test.h"

#define MAX_POINTS 512

static hb_value str(const char *s) { return (hb_value){1, 0, s}; }
static hb_value numv(double v) { return (hb_value){0, v, NULL}; }

static hb_sampler *make_grid(const hb_space *sp, int k, uint64_t seed)
{
    hb_sampler_opts o;
    hb_sampler_opts_init(&o);
    o.grid_points = k;
    hb_sampler *s = NULL;
    hb_error err;
    int rc = hb_sampler_create("grid", sp, seed, &o, &s, &err);
    if (rc != HB_OK) fprintf(stderr, "\ngrid: %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, HB_OK);
    return s;
}

/* Propose until the grid is exhausted; every proposal must be valid. Afterwards the sampler
 * must stay exhausted. Returns the number of points; 'out' receives them (cap points). */
static size_t run_grid(const hb_space *sp, int k, double *out, size_t cap)
{
    size_t dim = hb_space_dim(sp), n = 0;
    hb_sampler *s = make_grid(sp, k, 1);
    hb_history *h = NULL;
    CU_ASSERT_EQUAL_FATAL(hb_history_create(dim, &h), HB_OK);
    double x[16];
    CU_ASSERT_FATAL(dim <= 16);
    for (;;) {
        hb_error err;
        int rc = hb_sampler_propose(s, h, NULL, 0, 81, x, &err);
        if (rc == HB_SAMPLER_EXHAUSTED) break;
        CU_ASSERT_EQUAL_FATAL(rc, HB_OK);
        rc = hb_space_validate(sp, x, &err);
        if (rc != HB_OK) fprintf(stderr, "\npoint %zu invalid: %s\n", n, err.msg);
        CU_ASSERT_EQUAL(rc, HB_OK);
        CU_ASSERT_FATAL(n < cap);
        memcpy(out + n * dim, x, dim * sizeof *x);
        n++;
    }
    CU_ASSERT_EQUAL(hb_sampler_propose(s, h, NULL, 0, 81, x, NULL), HB_SAMPLER_EXHAUSTED);
    CU_ASSERT_EQUAL(hb_sampler_propose(s, h, NULL, 0, 1, x, NULL), HB_SAMPLER_EXHAUSTED);
    hb_history_free(h);
    hb_sampler_free(s);
    return n;
}

/* Equal as configurations: same values, NaN (inactive) in the same places. */
static int same_config(const double *a, const double *b, size_t dim)
{
    for (size_t i = 0; i < dim; i++) {
        if (isnan(a[i]) != isnan(b[i])) return 0;
        if (!isnan(a[i]) && a[i] != b[i]) return 0;
    }
    return 1;
}

static int all_distinct(const double *pts, size_t n, size_t dim)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (same_config(pts + i * dim, pts + j * dim, dim)) return 0;
    return 1;
}

static hb_space *finalized(hb_space *sp)
{
    hb_error err;
    int rc = hb_space_finalize(sp, NULL, &err);
    if (rc != HB_OK) fprintf(stderr, "\nfinalize: %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, HB_OK);
    return sp;
}

/* a in [0, 1] and b in [-1, 1], K = 3: a in {0, 0.5, 1}, b in {-1, 0, 1}; b varies fastest. */
static void test_two_floats(void)
{
    hb_space *sp = NULL;
    CU_ASSERT_EQUAL_FATAL(hb_space_create(&sp), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "a", 0, 1, HB_SCALE_LINEAR, NAN, NULL), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "b", -1, 1, HB_SCALE_LINEAR, NAN, NULL), HB_OK);
    finalized(sp);
    double pts[MAX_POINTS * 2];
    size_t n = run_grid(sp, 3, pts, MAX_POINTS);
    CU_ASSERT_EQUAL_FATAL(n, 9);
    const double av[] = {0, 0.5, 1}, bv[] = {-1, 0, 1};
    for (size_t i = 0; i < 9; i++) {
        CU_ASSERT_DOUBLE_EQUAL(pts[2 * i], av[i / 3], 0);
        CU_ASSERT_DOUBLE_EQUAL(pts[2 * i + 1], bv[i % 3], 0);
    }
    hb_space_free(sp);
}

/* K = 3 over: lr log float [1e-3, 1e-1] -> {1e-3, 1e-2, 1e-1};
 * units log int [1, 100]: integers own [0.5, 100.5] in log space, so u = 0.5 is
 *   sqrt(0.5 * 100.5) = 7.09 -> {1, 7, 100};
 * m int [1, 2]: u -> 0.5, 1.5, 2.5 round to 1, 2, 3 (clamped to 2) -> {1, 2} (once each);
 * c categorical of 3 -> {0, 1, 2}; depth ordinal of 2 -> {0, 1}; k constant -> {0}.
 * 3 * 3 * 2 * 3 * 2 * 1 = 108 points, the last parameter varying fastest. */
static void test_mixed_values(void)
{
    hb_space *sp = NULL;
    hb_value rgb[] = {str("r"), str("g"), str("b")}, depth[] = {numv(1), numv(4)};
    CU_ASSERT_EQUAL_FATAL(hb_space_create(&sp), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "lr", 1e-3, 1e-1, HB_SCALE_LOG, NAN, NULL), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_int(sp, "units", 1, 100, HB_SCALE_LOG, NAN, NULL), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_int(sp, "m", 1, 2, HB_SCALE_LINEAR, NAN, NULL), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_categorical(sp, "c", rgb, 3, NULL, -1, NULL), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_ordinal(sp, "depth", depth, 2, -1, NULL), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_constant(sp, "k", str("fixed"), NULL), HB_OK);
    finalized(sp);
    static double pts[MAX_POINTS * 6];
    size_t n = run_grid(sp, 3, pts, MAX_POINTS);
    CU_ASSERT_EQUAL_FATAL(n, 108);
    const double lr[] = {1e-3, 1e-2, 1e-1}, units[] = {1, 7, 100}, m[] = {1, 2};
    size_t p = 0;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 2; c++)
                for (int d = 0; d < 3; d++)
                    for (int e = 0; e < 2; e++, p++) {
                        const double *x = pts + 6 * p;
                        CU_ASSERT_DOUBLE_EQUAL(x[0], lr[a], 1e-12 * lr[a]);
                        CU_ASSERT_DOUBLE_EQUAL(x[1], units[b], 0);
                        CU_ASSERT_DOUBLE_EQUAL(x[2], m[c], 0);
                        CU_ASSERT_DOUBLE_EQUAL(x[3], d, 0);
                        CU_ASSERT_DOUBLE_EQUAL(x[4], e, 0);
                        CU_ASSERT_DOUBLE_EQUAL(x[5], 0, 0);
                    }
    hb_space_free(sp);
}

/* Integers at the default K = 5: [0, 2] owns [-0.5, 2.5]; u * 3 - 0.5 = -0.5, 0.25, 1, 1.75,
 * 2.5 round to 0, 0, 1, 2, 2 -> {0, 1, 2}. [0, 8] owns [-0.5, 8.5]: -0.5, 1.75, 4, 6.25, 8.5
 * round to {0, 2, 4, 6, 8}. */
static void test_int_collapse(void)
{
    hb_space *sp = NULL;
    CU_ASSERT_EQUAL_FATAL(hb_space_create(&sp), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_int(sp, "few", 0, 2, HB_SCALE_LINEAR, NAN, NULL), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_int(sp, "many", 0, 8, HB_SCALE_LINEAR, NAN, NULL), HB_OK);
    finalized(sp);
    double pts[MAX_POINTS * 2];
    size_t n = run_grid(sp, 5, pts, MAX_POINTS);
    CU_ASSERT_EQUAL_FATAL(n, 15);
    for (size_t i = 0; i < 15; i++) {
        CU_ASSERT_DOUBLE_EQUAL(pts[2 * i], (double)(i / 5), 0);
        CU_ASSERT_DOUBLE_EQUAL(pts[2 * i + 1], 2.0 * (double)(i % 5), 0);
    }
    CU_ASSERT(all_distinct(pts, n, 2));
    hb_space_free(sp);
}

enum { KIND, X, Z, N, Y, CDIM };

/* kind in {a, b, c}; x float active iff kind == a; z float active iff x > 0.4 (a chain);
 * n int [1, 3] active iff kind in {b, c}; y float unconditional. K = 3: floats {0, .5, 1},
 * n {1, 2, 3}. kind = a: x = 0 leaves z inactive (1), x = .5 or 1 give 3 z each -> 7, times
 * 3 y = 21; kind = b: 3 n * 3 y = 9; kind = c: 9. Total 39 of the 3^5 = 243 grid points. */
static hb_space *conditional_space(void)
{
    hb_space *sp = NULL;
    hb_error err;
    hb_value kinds[] = {str("a"), str("b"), str("c")}, a = str("a"), bc[] = {str("b"), str("c")};
    hb_value cut = numv(0.4);
    CU_ASSERT_EQUAL_FATAL(hb_space_create(&sp), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_categorical(sp, "kind", kinds, 3, NULL, -1, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "x", 0, 1, HB_SCALE_LINEAR, NAN, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "z", 0, 1, HB_SCALE_LINEAR, NAN, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_int(sp, "n", 1, 3, HB_SCALE_LINEAR, NAN, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "y", 0, 1, HB_SCALE_LINEAR, NAN, &err), HB_OK);
    hb_cond_spec cx = {HB_COND_EQ, "kind", &a, 1, NULL, 0};
    hb_cond_spec cz = {HB_COND_GT, "x", &cut, 1, NULL, 0};
    hb_cond_spec cn = {HB_COND_IN, "kind", bc, 2, NULL, 0};
    CU_ASSERT_EQUAL(hb_space_add_condition(sp, "x", &cx, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_condition(sp, "z", &cz, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_condition(sp, "n", &cn, &err), HB_OK);
    return finalized(sp);
}

static void test_conditions_dedup(void)
{
    hb_space *sp = conditional_space();
    static double pts[MAX_POINTS * CDIM];
    size_t n = run_grid(sp, 3, pts, MAX_POINTS);
    CU_ASSERT_EQUAL_FATAL(n, 39);
    CU_ASSERT(all_distinct(pts, n, CDIM));
    size_t per_kind[3] = {0}, z_active = 0;
    for (size_t i = 0; i < n; i++) {
        per_kind[(int)pts[i * CDIM + KIND]]++;
        z_active += !isnan(pts[i * CDIM + Z]);
    }
    CU_ASSERT_EQUAL(per_kind[0], 21);
    CU_ASSERT_EQUAL(per_kind[1], 9);
    CU_ASSERT_EQUAL(per_kind[2], 9);
    CU_ASSERT_EQUAL(z_active, 18);
    /* The order: (a, x=0, -, -, y) for the three y, then (a, .5, z=0, -, y) ... */
    const double first[4][CDIM] = {{0, 0, NAN, NAN, 0},
                                   {0, 0, NAN, NAN, 0.5},
                                   {0, 0, NAN, NAN, 1},
                                   {0, 0.5, 0, NAN, 0}};
    for (size_t i = 0; i < 4; i++) CU_ASSERT(same_config(pts + i * CDIM, first[i], CDIM));
    const double last[CDIM] = {2, NAN, NAN, 3, 1};
    CU_ASSERT(same_config(pts + (n - 1) * CDIM, last, CDIM));
    hb_space_free(sp);
}

/* A child declared before its parent: w float active iff flag == on, flag in {on, off}.
 * K = 3, flag fastest: (0, on), (-, off), (.5, on), (1, on): the points (.5, off) and
 * (1, off) are the same configuration as (-, off). */
static void test_child_before_parent(void)
{
    hb_space *sp = NULL;
    hb_value onoff[] = {str("on"), str("off")}, on = str("on");
    CU_ASSERT_EQUAL_FATAL(hb_space_create(&sp), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "w", 0, 1, HB_SCALE_LINEAR, NAN, NULL), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_categorical(sp, "flag", onoff, 2, NULL, -1, NULL), HB_OK);
    hb_cond_spec cw = {HB_COND_EQ, "flag", &on, 1, NULL, 0};
    CU_ASSERT_EQUAL(hb_space_add_condition(sp, "w", &cw, NULL), HB_OK);
    finalized(sp);
    double pts[MAX_POINTS * 2];
    size_t n = run_grid(sp, 3, pts, MAX_POINTS);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    const double want[4][2] = {{0, 0}, {NAN, 1}, {0.5, 0}, {1, 0}};
    for (size_t i = 0; i < 4; i++) CU_ASSERT(same_config(pts + 2 * i, want[i], 2));
    hb_space_free(sp);
}

/* a in {x, y}, b in {p, q, r}, o ordinal {1, 2, 3}, f float K = 2 -> {0, 1}: 36 points.
 * Forbidden: a == x and b == q (3 * 2 = 6 points), and o == 3 (2 * 3 * 2 = 12 points), both
 * at once 2 points: 36 - 6 - 12 + 2 = 20 remain. */
static void test_forbidden_skipped(void)
{
    hb_space *sp = NULL;
    hb_error err;
    hb_value ab[] = {str("x"), str("y")}, pqr[] = {str("p"), str("q"), str("r")};
    hb_value lv[] = {numv(1), numv(2), numv(3)}, vx = str("x"), vq = str("q"), three = numv(3);
    CU_ASSERT_EQUAL_FATAL(hb_space_create(&sp), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_categorical(sp, "a", ab, 2, NULL, -1, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_categorical(sp, "b", pqr, 3, NULL, -1, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_ordinal(sp, "o", lv, 3, -1, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "f", 0, 1, HB_SCALE_LINEAR, NAN, &err), HB_OK);
    hb_forbid_spec kids[] = {{HB_FORBID_EQUALS, "a", &vx, 1, NULL, 0},
                             {HB_FORBID_EQUALS, "b", &vq, 1, NULL, 0}};
    hb_forbid_spec both = {HB_FORBID_AND, NULL, NULL, 0, kids, 2};
    hb_forbid_spec top = {HB_FORBID_IN, "o", &three, 1, NULL, 0};
    CU_ASSERT_EQUAL(hb_space_add_forbidden(sp, &both, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_forbidden(sp, &top, &err), HB_OK);
    finalized(sp);
    double pts[MAX_POINTS * 4];
    size_t n = run_grid(sp, 2, pts, MAX_POINTS);
    CU_ASSERT_EQUAL_FATAL(n, 20);
    CU_ASSERT(all_distinct(pts, n, 4));
    for (size_t i = 0; i < n; i++) {
        const double *x = pts + 4 * i;
        CU_ASSERT(!hb_space_is_forbidden(sp, x));
        CU_ASSERT(x[2] != 2);
        CU_ASSERT(!(x[0] == 0 && x[1] == 1));
    }
    /* The first point is allowed; (x, q, ...) is skipped right after (x, p, ...). */
    const double first[5][4] = {
        {0, 0, 0, 0}, {0, 0, 0, 1}, {0, 0, 1, 0}, {0, 0, 1, 1}, {0, 2, 0, 0}};
    for (size_t i = 0; i < 5; i++) CU_ASSERT(same_config(pts + 4 * i, first[i], 4));
    hb_space_free(sp);
}

static hb_space *floats_space(int n)
{
    hb_space *sp = NULL;
    CU_ASSERT_EQUAL_FATAL(hb_space_create(&sp), HB_OK);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        CU_ASSERT_EQUAL(hb_space_add_float(sp, name, 0, 1, HB_SCALE_LINEAR, NAN, NULL), HB_OK);
    }
    return finalized(sp);
}

/* 10^8 points are refused, 10^7 exactly are accepted; a huge K is refused up front. */
static void test_too_large(void)
{
    hb_sampler_opts o;
    hb_sampler_opts_init(&o);
    o.grid_points = 10;
    hb_sampler *s = NULL;
    hb_error err;
    hb_space *big = floats_space(8);
    CU_ASSERT_EQUAL(hb_sampler_create("grid", big, 1, &o, &s, &err), HB_EINVAL);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "more than 10000000 points"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "grid_points"));
    hb_space_free(big);

    hb_space *edge = floats_space(7);
    CU_ASSERT_EQUAL(hb_sampler_create("grid", edge, 1, &o, &s, &err), HB_OK);
    hb_sampler_free(s);
    s = NULL;
    o.grid_points = 20000000;
    CU_ASSERT_EQUAL(hb_sampler_create("grid", edge, 1, &o, &s, &err), HB_EINVAL);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "grid_points = 20000000"));
    hb_space_free(edge);

    /* Integers that collapse count once: 8 ints of 3 values at K = 10 make 3^8 = 6561. */
    hb_space *ints = NULL;
    CU_ASSERT_EQUAL_FATAL(hb_space_create(&ints), HB_OK);
    for (int i = 0; i < 8; i++) {
        char name[8];
        snprintf(name, sizeof name, "i%d", i);
        CU_ASSERT_EQUAL(hb_space_add_int(ints, name, 0, 2, HB_SCALE_LINEAR, NAN, NULL), HB_OK);
    }
    finalized(ints);
    o.grid_points = 10;
    CU_ASSERT_EQUAL(hb_sampler_create("grid", ints, 1, &o, &s, &err), HB_OK);
    hb_history *h = NULL;
    CU_ASSERT_EQUAL_FATAL(hb_history_create(8, &h), HB_OK);
    double x[8];
    size_t n = 0;
    while (hb_sampler_propose(s, h, NULL, 0, 1, x, NULL) == HB_OK) n++;
    CU_ASSERT_EQUAL(n, 6561);
    hb_history_free(h);
    hb_sampler_free(s);
    hb_space_free(ints);
}

/* The seed, the history and the pending jobs change nothing. */
static void test_deterministic(void)
{
    hb_space *sp = conditional_space();
    hb_sampler *s1 = make_grid(sp, 3, 1), *s2 = make_grid(sp, 3, 99);
    hb_history *h1 = NULL, *h2 = NULL;
    CU_ASSERT_EQUAL_FATAL(hb_history_create(CDIM, &h1), HB_OK);
    CU_ASSERT_EQUAL_FATAL(hb_history_create(CDIM, &h2), HB_OK);
    double x1[CDIM], x2[CDIM];
    hb_pending pend = {x1, 9};
    size_t n = 0;
    for (;;) {
        int r1 = hb_sampler_propose(s1, h1, NULL, 0, 1, x1, NULL);
        int r2 = hb_sampler_propose(s2, h2, &pend, 1, 27, x2, NULL);
        CU_ASSERT_EQUAL_FATAL(r1, r2);
        if (r1 != HB_OK) break;
        CU_ASSERT(same_config(x1, x2, CDIM));
        CU_ASSERT_EQUAL(hb_history_add(h2, n, x2, 27, (double)n, HB_TRIAL_OK), HB_OK);
        n++;
    }
    CU_ASSERT_EQUAL(n, 39);
    hb_history_free(h1);
    hb_history_free(h2);
    hb_sampler_free(s1);
    hb_sampler_free(s2);
    hb_space_free(sp);
}

/* Fail the n-th allocation of create for n = 0, 1, ... until it succeeds: HB_ENOMEM each time
 * and nothing left allocated (the suite runner checks hb_alloc_live()). */
static void test_allocation_failures(void)
{
    hb_space *sp = conditional_space();
    hb_sampler_opts o;
    hb_sampler_opts_init(&o);
    int rc = -1;
    long n;
    for (n = 0; n < 1000; n++) {
        hb_sampler *s = NULL;
        hb_error err;
        hb_alloc_fail_after(n);
        rc = hb_sampler_create("grid", sp, 1, &o, &s, &err);
        hb_alloc_fail_after(-1);
        hb_sampler_free(s);
        if (rc == HB_OK) break;
        CU_ASSERT_EQUAL(rc, HB_ENOMEM);
        if (rc != HB_ENOMEM) break;
    }
    CU_ASSERT_EQUAL(rc, HB_OK);
    CU_ASSERT(n > 5);
    hb_space_free(sp);
}

int hb_test_add_sampler_grid(void)
{
    CU_pSuite s = CU_add_suite("sampler_grid", NULL, NULL);
    if (s == NULL) return -1;
    if (!CU_add_test(s, "two floats, K = 3: nine points in order", test_two_floats) ||
        !CU_add_test(s, "log float, log int, collapsed int, choices", test_mixed_values) ||
        !CU_add_test(s, "integers with fewer values than K appear once each", test_int_collapse) ||
        !CU_add_test(s, "conditions: each configuration once", test_conditions_dedup) ||
        !CU_add_test(s, "conditions: child declared before its parent", test_child_before_parent) ||
        !CU_add_test(s, "forbidden combinations are skipped", test_forbidden_skipped) ||
        !CU_add_test(s, "grids over 10^7 points are refused", test_too_large) ||
        !CU_add_test(s, "independent of seed, history and pending jobs", test_deterministic) ||
        !CU_add_test(s, "allocation failures give HB_ENOMEM", test_allocation_failures))
        return -1;
    return 0;
}
