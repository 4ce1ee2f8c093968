/* test_report.c — the report JSON: shape of CLI.md, incumbent rule, nulls for failures. */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "hb_report.h"
#include "hb_test.h"

static void test_best_rule(void)
{
    double x[1] = {0};
    hb_trial t[] = {
        {0, x, 1, -5.0, HB_TRIAL_OK, 0, 0, 1, 0, 1, NULL, NULL, 0, HB_NO_JOB, 1},   /* lowest loss, but a small budget */
        {1, x, 9, -1.0, HB_TRIAL_OK, 0, 1, 1, 1, 2, NULL, NULL, 1, HB_NO_JOB, 9},
        {2, x, 9, -3.0, HB_TRIAL_FAILED, 0, 1, 1, 2, 3, NULL, NULL, 2, HB_NO_JOB, 9}, /* failures never count */
        {3, x, 9, -2.0, HB_TRIAL_OK, 0, 1, 1, 3, 4, NULL, NULL, 3, HB_NO_JOB, 9},
        {4, x, 9, -2.0, HB_TRIAL_OK, 0, 1, 1, 4, 5, NULL, NULL, 4, HB_NO_JOB, 9},   /* a tie goes to the earlier trial */
    };
    CU_ASSERT_EQUAL(hb_report_best(t, 5), 3);
    CU_ASSERT_EQUAL(hb_report_best(t, 1), 0);
    CU_ASSERT_EQUAL(hb_report_best(t + 2, 1), -1);
}

static void test_json_shape(void)
{
    hb_space *sp = NULL;
    hb_space_create(&sp);
    hb_value ab[] = {{1, 0, "a"}, {0, 2, NULL}};
    hb_space_add_float(sp, "x", 0, 1, HB_SCALE_LINEAR, NAN, NULL);
    hb_space_add_categorical(sp, "c", ab, 2, NULL, -1, NULL);
    hb_space_finalize(sp, NULL, NULL);
    double x0[] = {0.25, 0}, x1[] = {0.5, 1};
    hb_trial t[] = {{0, x0, 81, -1.5, HB_TRIAL_OK, -1, -1, 0, 0.0, 1.0, NULL, NULL, 0, HB_NO_JOB, 81},
                    {1, x1, 81, 0, HB_TRIAL_TIMEOUT, -1, -1, 0, 1.0, 3.0, "timed out after 2 s", NULL, 1, HB_NO_JOB, 81}};
    hb_opt_settings s;
    hb_opt_settings_init(&s);
    s.seed = 5;
    s.max_budget = 81;
    hb_report_info info = {"branin", &s, NULL, 4.0, 1, NULL};
    hb_buf b = HB_BUF_INIT;
    CU_ASSERT_EQUAL(hb_report_json(sp, &info, t, 2, &b), HB_OK);
    json_error_t je;
    json_t *r = json_loads(b.data, 0, &je);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "kernel")), "branin");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "optimizer")), "random");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "seed")), 5);
    json_t *tr = json_object_get(r, "trials");
    CU_ASSERT_EQUAL(json_array_size(tr), 2);
    json_t *t1 = json_array_get(tr, 1);
    CU_ASSERT(json_is_null(json_object_get(t1, "loss")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(t1, "status")), "timeout");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(t1, "reason")), "timed out after 2 s");
    CU_ASSERT_PTR_NULL(json_object_get(json_array_get(tr, 0), "reason"));
    CU_ASSERT(json_is_null(json_object_get(t1, "bracket")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(t1, "config"), "c")), 2);
    json_t *t0c = json_object_get(json_array_get(tr, 0), "config");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(t0c, "c")), "a");
    CU_ASSERT_EQUAL(json_real_value(json_object_get(t0c, "x")), 0.25);
    json_t *best = json_object_get(r, "best");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(best, "id")), 0);
    CU_ASSERT_EQUAL(json_number_value(json_object_get(best, "loss")), -1.5);
    json_t *tot = json_object_get(r, "totals");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(tot, "evaluations")), 2);
    CU_ASSERT_EQUAL(json_number_value(json_object_get(tot, "budget")), 162);
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(tot, "utilisation")), 0.75, 1e-12);
    json_decref(r);
    hb_buf_fini(&b);
    hb_space_free(sp);
}

/* Extras and settings that are an object go in as they came; a run file can hold anything else in
 * their place (what `report` salvages of a damaged file, a hand-made one: tests/fuzz/), which
 * must still give JSON. */
static void test_json_extras(void)
{
    hb_space *sp = NULL;
    hb_space_create(&sp);
    hb_space_add_float(sp, "x", 0, 1, HB_SCALE_LINEAR, NAN, NULL);
    hb_space_finalize(sp, NULL, NULL);
    double x[] = {0.5};
    const char *extras[] = {"{\"acc\": 0.9}", "{not json", "{\"a\": \"\x91\"}", "{} {}"};
    hb_trial t[4];
    for (int i = 0; i < 4; i++)
        t[i] = (hb_trial){(uint64_t)i, x, 1, 0.5, HB_TRIAL_OK, -1, -1, 0, 0.0, 1.0, "r\xff", extras[i], (uint64_t)i,
                          HB_NO_JOB, 1};
    hb_opt_settings s;
    hb_opt_settings_init(&s);
    /* settings as a damaged run file held them (found by changing bytes of a real one) */
    hb_report_info info = {NULL, &s, "{\"min_budg\xeft\": 1.0, \"eta\": 3", 1.0, 1, "damaged: \xc3"};
    hb_buf b = HB_BUF_INIT;
    CU_ASSERT_EQUAL(hb_report_json(sp, &info, t, 4, &b), HB_OK);
    json_t *r = json_loads(b.data, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    json_t *tr = json_object_get(r, "trials");
    CU_ASSERT_EQUAL(json_real_value(json_object_get(json_object_get(json_array_get(tr, 0), "extras"), "acc")), 0.9);
    for (int i = 1; i < 4; i++) CU_ASSERT(json_is_string(json_object_get(json_array_get(tr, i), "extras")));
    CU_ASSERT(json_is_string(json_object_get(r, "damaged")));
    CU_ASSERT(json_is_string(json_object_get(r, "settings")));
    json_decref(r);
    hb_buf_fini(&b);
    hb_space_free(sp);
}

int hb_test_add_report(void)
{
    CU_pSuite s = CU_add_suite("report", NULL, NULL);
    if (!s) return -1;
    CU_add_test(s, "incumbent rule", test_best_rule);
    CU_add_test(s, "JSON shape", test_json_shape);
    CU_add_test(s, "JSON from odd extras and bytes", test_json_extras);
    return 0;
}
