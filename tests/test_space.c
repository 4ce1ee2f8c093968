/* test_space.c — spaces built through the C API: sampling respects conditions, forbiddens and
 * weights; the unit-cube map round-trips; bad definitions are refused with the right message. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hb_buf.h"
#include "hb_space.h"
#include "hb_test.h"

enum { LR, UNITS, OPT, DEPTH, CONST, MOM, NEST, DIM };

static void test_queries(void)
{
    hb_space *sp = hb_test_rich_space();
    CU_ASSERT_EQUAL(hb_space_dim(sp), DIM);
    CU_ASSERT_EQUAL(hb_space_find(sp, "depth"), DEPTH);
    CU_ASSERT_EQUAL(hb_space_find(sp, "nope"), -1);
    CU_ASSERT_EQUAL(hb_space_type(sp, UNITS), HB_PARAM_INT);
    CU_ASSERT_EQUAL(hb_space_scale(sp, LR), HB_SCALE_LOG);
    CU_ASSERT_EQUAL(hb_space_n_choices(sp, OPT), 3);
    CU_ASSERT_EQUAL(hb_space_n_conditions(sp), 2);
    CU_ASSERT_EQUAL(hb_space_n_forbiddens(sp), 1);
    CU_ASSERT_DOUBLE_EQUAL(hb_space_default_value(sp, DEPTH), 1.0, 0);
    hb_space_free(sp);
}

static void test_sampling_respects_rules(void)
{
    hb_space *sp = hb_test_rich_space();
    hb_rng rng;
    hb_rng_init(&rng, 1, 0);
    double x[DIM];
    int n = 20000, count_opt[3] = {0}, mom_active = 0, nest_active = 0, lo_units = 0, hi_units = 0;
    int rms_small_depth = 0;
    double log_units = 0;
    for (int i = 0; i < n; i++) {
        CU_ASSERT_EQUAL_FATAL(hb_space_sample(sp, &rng, x, NULL), HB_OK);
        CU_ASSERT(x[LR] >= 1e-5 && x[LR] <= 1e-1);
        CU_ASSERT(x[UNITS] >= 16 && x[UNITS] <= 512 && floor(x[UNITS]) == x[UNITS]);
        lo_units += x[UNITS] == 16;
        hi_units += x[UNITS] == 512;
        log_units += log(x[UNITS]);
        count_opt[(int)x[OPT]]++;
        CU_ASSERT_EQUAL(x[CONST], 0);
        /* Conditions, checked independently of the library. */
        int want_mom = x[OPT] == 1 && x[LR] > 1e-4;
        CU_ASSERT_EQUAL(!isnan(x[MOM]), want_mom);
        int want_nest = (!isnan(x[MOM]) && x[MOM] > 0.5) || x[DEPTH] == 0;
        CU_ASSERT_EQUAL(!isnan(x[NEST]), want_nest);
        mom_active += want_mom;
        nest_active += want_nest;
        /* Forbidden: rms with depth 4 or 8 (indices 2, 3). */
        CU_ASSERT_FALSE(x[OPT] == 2 && x[DEPTH] >= 2);
        rms_small_depth += x[OPT] == 2 && x[DEPTH] < 2;
        CU_ASSERT_EQUAL(hb_space_validate(sp, x, NULL), HB_OK);
    }
    /* Weights 0.5/0.3/0.2, with rms losing half of its draws to the forbidden clause:
     * expected shares 0.5/0.3/0.1 out of 0.9. */
    CU_ASSERT(fabs(count_opt[0] / (double)n - 0.5 / 0.9) < 0.02);
    CU_ASSERT(fabs(count_opt[1] / (double)n - 0.3 / 0.9) < 0.02);
    CU_ASSERT(fabs(count_opt[2] / (double)n - 0.1 / 0.9) < 0.02);
    CU_ASSERT(rms_small_depth > 0);
    CU_ASSERT(mom_active > 0 && nest_active > 0);
    CU_ASSERT(lo_units > 0 && hi_units > 0);
    /* Log scale: the mean log is the middle of [log 15.5, log 512.5]. */
    CU_ASSERT(fabs(log_units / n - 0.5 * (log(15.5) + log(512.5))) < 0.05);
    hb_space_free(sp);
}

static void test_unit_round_trip(void)
{
    hb_space *sp = hb_test_rich_space();
    hb_rng rng;
    hb_rng_init(&rng, 2, 0);
    double x[DIM], u[DIM], y[DIM];
    for (int i = 0; i < 5000; i++) {
        hb_space_sample(sp, &rng, x, NULL);
        hb_space_to_unit(sp, x, u);
        for (int d = 0; d < DIM; d++) {
            CU_ASSERT_EQUAL(isnan(u[d]), isnan(x[d]));
            if (!isnan(u[d])) CU_ASSERT(u[d] >= 0 && u[d] <= 1);
        }
        hb_space_from_unit(sp, u, y);
        for (int d = 0; d < DIM; d++) {
            if (isnan(x[d])) {
                CU_ASSERT(isnan(y[d]));
            } else if (d == LR || d == MOM) {
                CU_ASSERT(fabs(y[d] - x[d]) <= 1e-12 * fabs(x[d]) + 1e-15);
            } else {
                CU_ASSERT_EQUAL(y[d], x[d]);
            }
        }
    }
    /* Edges of the cube decode to the bounds. */
    double lo[DIM], hi[DIM];
    for (int d = 0; d < DIM; d++) {
        lo[d] = 0;
        hi[d] = 1;
    }
    hb_space_from_unit(sp, lo, x);
    hb_space_from_unit(sp, hi, y);
    CU_ASSERT_DOUBLE_EQUAL(x[LR], 1e-5, 1e-18);
    CU_ASSERT_DOUBLE_EQUAL(y[LR], 1e-1, 1e-15);
    CU_ASSERT_EQUAL(x[UNITS], 16);
    CU_ASSERT_EQUAL(y[UNITS], 512);
    CU_ASSERT_EQUAL(x[OPT], 0);
    CU_ASSERT_EQUAL(y[OPT], 2);
    hb_space_free(sp);
}

static void test_same_seed_same_samples(void)
{
    hb_space *sp = hb_test_rich_space();
    hb_rng a, b, c;
    hb_rng_init(&a, 3, 0);
    hb_rng_init(&b, 3, 0);
    hb_rng_init(&c, 4, 0);
    double x[DIM], y[DIM], z[DIM];
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        hb_space_sample(sp, &a, x, NULL);
        hb_space_sample(sp, &b, y, NULL);
        hb_space_sample(sp, &c, z, NULL);
        CU_ASSERT_EQUAL(memcmp(x, y, sizeof x), 0);
        differ += x[LR] != z[LR];
    }
    CU_ASSERT(differ > 90);
    hb_space_free(sp);
}

static void test_validate_rejects(void)
{
    hb_space *sp = hb_test_rich_space();
    double x[DIM];
    hb_error err;
    hb_space_default_config(sp, x);
    CU_ASSERT_EQUAL(hb_space_validate(sp, x, &err), HB_OK);
    CU_ASSERT(isnan(x[MOM])); /* default opt is adam, so mom is inactive */
    double y[DIM];
    memcpy(y, x, sizeof y);
    y[LR] = 0.5;
    CU_ASSERT_EQUAL(hb_space_validate(sp, y, &err), HB_ERANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "'lr'"));
    memcpy(y, x, sizeof y);
    y[UNITS] = 20.5;
    CU_ASSERT_EQUAL(hb_space_validate(sp, y, &err), HB_ERANGE);
    memcpy(y, x, sizeof y);
    y[MOM] = 0.3; /* value for an inactive parameter */
    CU_ASSERT_EQUAL(hb_space_validate(sp, y, &err), HB_ERANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "inactive"));
    memcpy(y, x, sizeof y);
    y[OPT] = 2;
    y[DEPTH] = 3;
    CU_ASSERT_EQUAL(hb_space_validate(sp, y, &err), HB_ERANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "forbidden"));
    hb_space_free(sp);
}

static void test_config_json(void)
{
    hb_space *sp = hb_test_rich_space();
    double x[DIM];
    hb_error err;
    CU_ASSERT_EQUAL(hb_space_config_parse(sp, "{\"opt\": \"sgd\", \"lr\": 0.01, \"mom\": 0.7, "
                                              "\"units\": 32, \"depth\": 4}", x, &err), HB_OK);
    CU_ASSERT_EQUAL(x[OPT], 1);
    CU_ASSERT_EQUAL(x[DEPTH], 2);
    CU_ASSERT_DOUBLE_EQUAL(x[MOM], 0.7, 0);
    CU_ASSERT_FALSE(isnan(x[NEST]));
    hb_buf b = HB_BUF_INIT;
    hb_space_config_json(sp, x, &b);
    CU_ASSERT_STRING_EQUAL(b.data, "{\"lr\": 0.01, \"units\": 32, \"opt\": \"sgd\", \"depth\": 4, "
                                   "\"const\": \"x\", \"mom\": 0.7, \"nesterov\": \"on\"}");
    hb_buf_fini(&b);
    const char *bad[][2] = {
        {"{\"lr\": 2}", "'lr'"},
        {"{\"zz\": 1}", "unknown parameter 'zz'"},
        {"{\"units\": 20.5}", "integer"},
        {"{\"opt\": \"nadam\"}", "not a choice of 'opt'"},
        {"{\"mom\": 0.3}", "inactive"},
        {"{\"opt\": \"rms\", \"depth\": 8}", "forbidden"},
        {"[1]", "object"},
        {"{\"lr\": ", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hb_error_clear(&err);
        CU_ASSERT_EQUAL(hb_space_config_parse(sp, bad[i][0], x, &err), HB_EINVAL);
        CU_ASSERT_EQUAL(err.status, HB_EINVAL); /* as returned (fuzz_config found a forbidden one HB_ERANGE) */
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, bad[i][1]));
    }
    hb_space_free(sp);
}

static void test_bad_definitions(void)
{
    hb_space *sp = NULL;
    hb_error err;
    hb_space_create(&sp);
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "a", 0, 1, HB_SCALE_LOG, NAN, &err), HB_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "lower > 0"));
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "a", 1, 1, HB_SCALE_LINEAR, NAN, &err), HB_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "lower < upper"));
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "a", 0, 1, HB_SCALE_LINEAR, 2, &err), HB_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "outside"));
    CU_ASSERT_EQUAL(hb_space_add_int(sp, "a", 0, 1.5, HB_SCALE_LINEAR, NAN, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(hb_space_add_categorical(sp, "c", NULL, 0, NULL, -1, &err), HB_EINVAL);
    hb_value dup[] = {{1, 0, "x"}, {1, 0, "x"}};
    CU_ASSERT_EQUAL(hb_space_add_categorical(sp, "c", dup, 2, NULL, -1, &err), HB_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "duplicate choice"));
    double w0[] = {0, 0};
    hb_value two[] = {{1, 0, "x"}, {1, 0, "y"}};
    CU_ASSERT_EQUAL(hb_space_add_categorical(sp, "c", two, 2, w0, -1, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(hb_space_dim(sp), 0); /* nothing was added by the failures */
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "a", 0, 1, HB_SCALE_LINEAR, NAN, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "a", 0, 2, HB_SCALE_LINEAR, NAN, &err), HB_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "duplicate parameter name 'a'"));
    CU_ASSERT_EQUAL(hb_space_add_categorical(sp, "c", two, 2, NULL, -1, &err), HB_OK);
    hb_value zz = {1, 0, "z"}, xv = {1, 0, "x"};
    hb_cond_spec c1 = {HB_COND_EQ, "c", &zz, 1, NULL, 0};
    CU_ASSERT_EQUAL(hb_space_add_condition(sp, "a", &c1, &err), HB_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a value of 'c'"));
    hb_cond_spec c2 = {HB_COND_EQ, "nope", &xv, 1, NULL, 0};
    CU_ASSERT_EQUAL(hb_space_add_condition(sp, "a", &c2, &err), HB_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown parameter 'nope'"));
    /* A cycle: a depends on c and c on a. */
    hb_value half = {0, 0.5, NULL};
    hb_cond_spec ca = {HB_COND_EQ, "c", &xv, 1, NULL, 0}, cc = {HB_COND_GT, "a", &half, 1, NULL, 0};
    CU_ASSERT_EQUAL(hb_space_add_condition(sp, "a", &ca, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_add_condition(sp, "c", &cc, &err), HB_OK);
    int cyc = -1;
    CU_ASSERT_EQUAL(hb_space_finalize(sp, &cyc, &err), HB_EINVAL);
    CU_ASSERT(cyc == 0 || cyc == 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cycle"));
    hb_space_free(sp);
}

/* Fail the n-th allocation for n = 0, 1, ... until parsing succeeds: each failure must be
 * HB_ENOMEM (and leak nothing: the sanitizer build checks that). */
/* A parameter's name is found without comparing it with every other: adding n parameters took
 * n^2 / 2 comparisons (fuzz_sweep found it: kernel options such as counting_ones:1024+1024 build
 * a space each, 110 s for 200 of them under ASan). 40,000 parameters took 0.02 s, and 3 s before
 * (gcc -O2); a space now holds at most HB_SPACE_MAX_PARAMS (10,000), which it fills here. */
static void test_find_in_constant_time(void)
{
    hb_space *sp = NULL;
    hb_error err;
    CU_ASSERT_EQUAL_FATAL(hb_space_create(&sp), HB_OK);
    clock_t t0 = clock();
    char name[32];
    for (int i = 0; i < HB_SPACE_MAX_PARAMS; i++) {
        snprintf(name, sizeof name, "float_%d", i);
        CU_ASSERT_EQUAL_FATAL(hb_space_add_float(sp, name, 0, 1, HB_SCALE_LINEAR, NAN, &err), HB_OK);
    }
    double t = (double)(clock() - t0) / CLOCKS_PER_SEC;
    if (t > 0.5) fprintf(stderr, "%d parameters took %.1f s\n", HB_SPACE_MAX_PARAMS, t);
    CU_ASSERT(t < 0.5);
    CU_ASSERT_EQUAL(hb_space_find(sp, "float_0"), 0);
    CU_ASSERT_EQUAL(hb_space_find(sp, "float_9999"), 9999);
    CU_ASSERT_EQUAL(hb_space_find(sp, "float_10000"), -1);
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "one_more", 0, 1, HB_SCALE_LINEAR, NAN, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(hb_space_add_float(sp, "float_123", 0, 1, HB_SCALE_LINEAR, NAN, &err), HB_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "duplicate"));
    hb_space_free(sp);
}

static void test_parse_allocation_failures(void)
{
    size_t len;
    char *text = hb_test_read(hb_test_data("good/cs1_mixed.json"), &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    int rc = -1;
    long n;
    for (n = 0; n < 100000; n++) {
        hb_space *sp = NULL;
        hb_error err;
        hb_alloc_fail_after(n);
        rc = hb_space_parse(text, len, "mixed.json", &sp, &err);
        hb_alloc_fail_after(-1);
        hb_space_free(sp);
        if (rc == HB_OK) break;
        CU_ASSERT_EQUAL(rc, HB_ENOMEM);
        if (rc != HB_ENOMEM) {
            fprintf(stderr, "\nallocation %ld failed: rc %d, %s: %s\n", n, rc, err.where, err.msg);
            break;
        }
    }
    CU_ASSERT_EQUAL(rc, HB_OK);
    CU_ASSERT(n > 10);
    hb_free(text);
}

int hb_test_add_space(void)
{
    CU_pSuite s = CU_add_suite("space", NULL, NULL);
    if (!s) return -1;
    CU_add_test(s, "queries", test_queries);
    CU_add_test(s, "sampling respects conditions, forbiddens, weights, scales", test_sampling_respects_rules);
    CU_add_test(s, "unit cube round trip", test_unit_round_trip);
    CU_add_test(s, "same seed same samples", test_same_seed_same_samples);
    CU_add_test(s, "validate rejects bad configurations", test_validate_rejects);
    CU_add_test(s, "configurations as JSON", test_config_json);
    CU_add_test(s, "bad definitions refused", test_bad_definitions);
    CU_add_test(s, "allocation failures in the parser", test_parse_allocation_failures);
    CU_add_test(s, "names found in constant time", test_find_in_constant_time);
    return 0;
}
