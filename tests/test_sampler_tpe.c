/* test_sampler_tpe.c — the TPE sampler: random until enough results at the asked budget, the
 * prior components, order of ints and ordinals, and the checks every model-based sampler
 * shares with the KDE (valid proposals, determinism, concentration, constant liar, failures,
 * allocation failures, cost), which live in test_sampler_kde.c. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>

#include "hb_sampler.h"
#include "hb_test.h"


static hb_space *space_1d(void)
{
    hb_space *sp = NULL;
    CU_ASSERT_FATAL(hb_space_create(&sp) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_float(sp, "x", 0, 1, HB_SCALE_LINEAR, NAN, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_finalize(sp, NULL, NULL) == HB_OK);
    return sp;
}

static hb_sampler *make(const char *kind, const hb_space *sp, uint64_t seed, int min_points)
{
    hb_sampler_opts o;
    hb_sampler_opts_init(&o);
    o.random_fraction = 0;
    o.min_points_in_model = min_points;
    hb_sampler *s = NULL;
    hb_error err;
    CU_ASSERT_EQUAL_FATAL(hb_sampler_create(kind, sp, seed, &o, &s, &err), HB_OK);
    return s;
}

static void add_quadratic(hb_history *h, int n, double budget, uint64_t seed)
{
    hb_rng r;
    hb_rng_init(&r, seed, 3);
    size_t base = hb_history_size(h);
    for (int i = 0; i < n; i++) {
        double x = hb_rng_uniform(&r);
        double loss = (x - 0.3) * (x - 0.3);
        CU_ASSERT_FATAL(hb_history_add(h, base + (size_t)i, &x, budget, loss, HB_TRIAL_OK) == HB_OK);
    }
}

/* How many of 'n' proposals of 'a' and 'b' (same history, budget) differ. */
static int count_differ(hb_sampler *a, hb_sampler *b, const hb_history *h, double budget, int n)
{
    int differ = 0;
    for (int i = 0; i < n; i++) {
        double xa, xb;
        CU_ASSERT_EQUAL(hb_sampler_propose(a, h, NULL, 0, budget, &xa, NULL), HB_OK);
        CU_ASSERT_EQUAL(hb_sampler_propose(b, h, NULL, 0, budget, &xb, NULL), HB_OK);
        differ += xa != xb;
    }
    return differ;
}

/* Until min_points_in_model results (d + 1 = 2 here, or as set) exist at the asked budget,
 * proposals are exactly those of the random sampler with the same seed. */
static void test_random_until_enough(void)
{
    hb_space *sp = space_1d();
    hb_history *h = NULL;
    CU_ASSERT_FATAL(hb_history_create(1, &h) == HB_OK);
    add_quadratic(h, 1, 1, 1);
    add_quadratic(h, 30, 2, 2); /* results at another budget do not count */
    hb_sampler *t = make("tpe", sp, 9, 0), *r = make("random", sp, 9, 0);
    CU_ASSERT_EQUAL(count_differ(t, r, h, 1, 20), 0);
    add_quadratic(h, 1, 1, 3);
    CU_ASSERT(count_differ(t, r, h, 1, 20) > 15);
    hb_sampler_free(t);
    hb_sampler_free(r);

    t = make("tpe", sp, 9, 10);
    r = make("random", sp, 9, 10);
    add_quadratic(h, 7, 1, 4); /* 9 at budget 1 */
    CU_ASSERT_EQUAL(count_differ(t, r, h, 1, 20), 0);
    add_quadratic(h, 1, 1, 5);
    CU_ASSERT(count_differ(t, r, h, 1, 20) > 15);
    hb_sampler_free(t);
    hb_sampler_free(r);
    /* One fidelity: budget 2 has 30 results, budget 7 none. */
    t = make("tpe", sp, 9, 0);
    r = make("random", sp, 9, 0);
    CU_ASSERT_EQUAL(count_differ(t, r, h, 7, 20), 0);
    CU_ASSERT(count_differ(t, r, h, 2, 20) > 15);
    hb_sampler_free(t);
    hb_sampler_free(r);
    hb_history_free(h);
    hb_space_free(sp);
}

/* The prior components: a categorical level never observed keeps weight (the declared
 * weight, as one prior observation), so when every result sits at level 0 the others,
 * whose l/g is (n_bad + 1) / (n_good + 1), are preferred. */
static void test_categorical_prior(void)
{
    hb_space *sp = NULL;
    hb_value ch[] = {{1, 0, "a"}, {1, 0, "b"}, {1, 0, "c"}};
    CU_ASSERT_FATAL(hb_space_create(&sp) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_categorical(sp, "c", ch, 3, NULL, -1, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_float(sp, "x", 0, 1, HB_SCALE_LINEAR, NAN, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_finalize(sp, NULL, NULL) == HB_OK);
    hb_history *h = NULL;
    CU_ASSERT_FATAL(hb_history_create(2, &h) == HB_OK);
    for (int i = 0; i < 30; i++) {
        double x[2] = {0, (i + 0.5) / 30};
        CU_ASSERT_FATAL(hb_history_add(h, (uint64_t)i, x, 1, x[1], HB_TRIAL_OK) == HB_OK);
    }
    hb_sampler *s = make("tpe", sp, 4, 0);
    int other = 0;
    for (int i = 0; i < 100; i++) {
        double x[2];
        CU_ASSERT_EQUAL_FATAL(hb_sampler_propose(s, h, NULL, 0, 1, x, NULL), HB_OK);
        other += x[0] != 0;
    }
    CU_ASSERT(other > 60);
    hb_sampler_free(s);
    hb_history_free(h);
    hb_space_free(sp);
}

/* Order: results on a 9 x 9 grid of an ordinal and an int, loss |k - 4| + |j - 4|, with the
 * middle level of each never observed. An ordered model puts that level between the good
 * neighbours 3 and 5 and proposes it; an unordered one could not rate it above them. */
static void test_unobserved_middle(void)
{
    hb_space *sp = NULL;
    hb_value lv[9];
    for (int i = 0; i < 9; i++) lv[i] = (hb_value){0, i + 1, NULL};
    CU_ASSERT_FATAL(hb_space_create(&sp) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_ordinal(sp, "o", lv, 9, -1, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_add_int(sp, "i", 1, 9, HB_SCALE_LINEAR, NAN, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_finalize(sp, NULL, NULL) == HB_OK);
    for (int swap = 0; swap < 2; swap++) {
        hb_history *h = NULL;
        CU_ASSERT_FATAL(hb_history_create(2, &h) == HB_OK);
        uint64_t id = 0;
        for (int k = 0; k < 9; k++)
            for (int j = 0; j < 9; j++) {
                if (k == 4 || j == 4) continue;
                double x[2] = {swap ? j : k, (swap ? k : j) + 1};
                double loss = abs(k - 4) + abs(j - 4);
                CU_ASSERT_FATAL(hb_history_add(h, id++, x, 1, loss, HB_TRIAL_OK) == HB_OK);
            }
        hb_sampler *s = make("tpe", sp, 3, 0);
        int mid_o = 0, mid_i = 0;
        for (int i = 0; i < 100; i++) {
            double x[2];
            CU_ASSERT_EQUAL_FATAL(hb_sampler_propose(s, h, NULL, 0, 1, x, NULL), HB_OK);
            mid_o += x[0] == 4;
            mid_i += x[1] == 5;
        }
        CU_ASSERT(mid_o > 25);
        CU_ASSERT(mid_i > 25);
        hb_sampler_free(s);
        hb_history_free(h);
    }
    hb_space_free(sp);
}

static void test_valid_proposals(void) { hb_test_sampler_valid_proposals("tpe"); }
static void test_determinism(void) { hb_test_sampler_determinism("tpe"); }
static void test_concentrates(void) { hb_test_sampler_concentrates("tpe"); }
static void test_constant_liar(void) { hb_test_sampler_constant_liar("tpe"); }
static void test_failures(void) { hb_test_sampler_failures("tpe"); }
static void test_ordered(void) { hb_test_sampler_ordered("tpe"); }
static void test_allocation_failures(void) { hb_test_sampler_allocation_failures("tpe"); }
static void test_cost(void) { hb_test_sampler_cost("tpe"); }

int hb_test_add_sampler_tpe(void)
{
    CU_pSuite s = CU_add_suite("sampler_tpe", NULL, NULL);
    if (!s) return -1;
    CU_add_test(s, "random until enough results at the budget", test_random_until_enough);
    CU_add_test(s, "categorical prior keeps unseen levels", test_categorical_prior);
    CU_add_test(s, "ordered: an unobserved middle level is proposed", test_unobserved_middle);
    CU_add_test(s, "valid proposals with conditions and forbiddens", test_valid_proposals);
    CU_add_test(s, "same seed same proposals", test_determinism);
    CU_add_test(s, "proposals concentrate at the optimum", test_concentrates);
    CU_add_test(s, "constant liar spreads pending jobs", test_constant_liar);
    CU_add_test(s, "failures are never good", test_failures);
    CU_add_test(s, "ordinals and ints are ordered", test_ordered);
    CU_add_test(s, "allocation failures", test_allocation_failures);
    CU_add_test(s, "proposal cost (printed)", test_cost);
    return 0;
}
