/* test_rng.c — SplitMix64 against docs/kernels.md, and the optimiser RNG's streams and state. */
#include <CUnit/CUnit.h>
#include <math.h>

#include "hb_rng.h"
#include "hb_test.h"

static void test_splitmix_first(void)
{
    hb_splitmix g;
    hb_splitmix_init(&g, 0, 0);
    CU_ASSERT_EQUAL(hb_splitmix_next(&g), 0xE220A8397B1DCDAFULL);
}

static void test_same_seed_same_stream(void)
{
    hb_rng a, b;
    hb_rng_init(&a, 42, 3);
    hb_rng_init(&b, 42, 3);
    for (int i = 0; i < 1000; i++) CU_ASSERT_EQUAL(hb_rng_next(&a), hb_rng_next(&b));
}

static void test_streams_differ(void)
{
    hb_rng a, b, c;
    hb_rng_init(&a, 42, 0);
    hb_rng_init(&b, 42, 1);
    hb_rng_init(&c, 43, 0);
    int same_ab = 0, same_ac = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = hb_rng_next(&a), y = hb_rng_next(&b), z = hb_rng_next(&c);
        same_ab += x == y;
        same_ac += x == z;
    }
    CU_ASSERT_EQUAL(same_ab, 0);
    CU_ASSERT_EQUAL(same_ac, 0);
}

static void test_split_independent(void)
{
    hb_rng p, c1, c2;
    hb_rng_init(&p, 7, 0);
    hb_rng_split(&p, &c1);
    hb_rng_split(&p, &c2);
    int same = 0;
    for (int i = 0; i < 1000; i++) same += hb_rng_next(&c1) == hb_rng_next(&c2);
    CU_ASSERT_EQUAL(same, 0);
}

static void test_save_restore(void)
{
    hb_rng a, b;
    uint64_t st[HB_RNG_STATE_WORDS];
    hb_rng_init(&a, 9, 2);
    for (int i = 0; i < 17; i++) hb_rng_next(&a);
    hb_rng_save(&a, st);
    uint64_t expect[50];
    for (int i = 0; i < 50; i++) expect[i] = hb_rng_next(&a);
    hb_rng_init(&b, 1, 1);
    CU_ASSERT_EQUAL(hb_rng_restore(&b, st), HB_OK);
    for (int i = 0; i < 50; i++) CU_ASSERT_EQUAL(hb_rng_next(&b), expect[i]);
    uint64_t zero[HB_RNG_STATE_WORDS] = {0, 0, 0, 0};
    CU_ASSERT_EQUAL(hb_rng_restore(&b, zero), HB_EINVAL);
}

static void test_uniform_and_below(void)
{
    hb_rng r;
    hb_rng_init(&r, 5, 0);
    int counts[7] = {0};
    double sum = 0;
    for (int i = 0; i < 70000; i++) {
        double u = hb_rng_uniform(&r);
        CU_ASSERT(u >= 0.0 && u < 1.0);
        sum += u;
        uint64_t k = hb_rng_below(&r, 7);
        CU_ASSERT(k < 7);
        counts[k < 7 ? k : 0]++;
    }
    CU_ASSERT(fabs(sum / 70000 - 0.5) < 0.01);
    for (int k = 0; k < 7; k++) CU_ASSERT(counts[k] > 9400 && counts[k] < 10600);
}

static void test_normal_moments(void)
{
    hb_rng r;
    hb_rng_init(&r, 11, 0);
    double s = 0, s2 = 0;
    int n = 100000;
    for (int i = 0; i < n; i++) {
        double z = hb_rng_normal(&r);
        CU_ASSERT(isfinite(z));
        s += z;
        s2 += z * z;
    }
    CU_ASSERT(fabs(s / n) < 0.02);
    CU_ASSERT(fabs(s2 / n - 1.0) < 0.03);
}

int hb_test_add_rng(void)
{
    CU_pSuite s = CU_add_suite("rng", NULL, NULL);
    if (!s) return -1;
    CU_add_test(s, "splitmix first output", test_splitmix_first);
    CU_add_test(s, "same seed and stream repeat", test_same_seed_same_stream);
    CU_add_test(s, "streams and seeds differ", test_streams_differ);
    CU_add_test(s, "split children independent", test_split_independent);
    CU_add_test(s, "save and restore state", test_save_restore);
    CU_add_test(s, "uniform and below", test_uniform_and_below);
    CU_add_test(s, "normal moments", test_normal_moments);
    return 0;
}
