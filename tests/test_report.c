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
    hb_report_info info = {"branin", &s, NULL, 4.0, 1, NULL, NULL, 0};
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
    hb_report_info info = {NULL, &s, "{\"min_budg\xeft\": 1.0, \"eta\": 3", 1.0, 1, "damaged: \xc3", NULL, 0};
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

/* A pbt trial: member 'm', step 'st', trained to 'b' from the checkpoint of job 'prev'. */
static hb_trial pbt_trial(uint64_t id, const double *x, double b, double loss, int m, int st, uint64_t config,
                          uint64_t prev, double spent)
{
    return (hb_trial){id, x, b, loss, HB_TRIAL_OK, m, st, 0, (double)id, id + 1.0, NULL, NULL, config, prev, spent};
}

/* Two members, three steps of 4: member 1's second step copies member 0's first checkpoint, and
 * member 0's third step is then beaten by member 1's. Results arrive out of order. */
static void test_schedule_lineage(void)
{
    double x[] = {0.5};
    hb_trial t[] = {
        pbt_trial(1, x, 4, 2.0, 1, 0, 1, HB_NO_JOB, 4),
        pbt_trial(0, x, 4, 1.0, 0, 0, 0, HB_NO_JOB, 4),
        pbt_trial(2, x, 8, 0.8, 0, 1, 0, 0, 4),
        pbt_trial(3, x, 8, 0.7, 1, 1, 0, 0, 4), /* exploit: member 0's checkpoint of job 0 */
        pbt_trial(4, x, 12, 0.6, 0, 2, 0, 2, 4),
        pbt_trial(5, x, 12, 0.5, 1, 2, 0, 3, 4),
    };
    size_t n = sizeof t / sizeof t[0];
    hb_schedule_step st[6];
    CU_ASSERT_EQUAL(hb_report_best(t, n), 5);
    CU_ASSERT_EQUAL_FATAL(hb_report_schedule(t, n, 5, st), 3);
    CU_ASSERT_EQUAL(st[0].trial, 1); /* job 0, from scratch */
    CU_ASSERT_EQUAL(st[0].from_budget, 0);
    CU_ASSERT_EQUAL(st[0].copied_from, -1);
    CU_ASSERT_EQUAL(st[1].trial, 3);
    CU_ASSERT_EQUAL(st[1].from_budget, 4);
    CU_ASSERT_EQUAL(st[1].copied_from, 0);
    CU_ASSERT_EQUAL(st[2].trial, 5);
    CU_ASSERT_EQUAL(st[2].from_budget, 8);
    CU_ASSERT_EQUAL(st[2].copied_from, -1);
    /* member 0's own line */
    CU_ASSERT_EQUAL_FATAL(hb_report_schedule(t, n, 4, st), 3);
    CU_ASSERT(st[0].trial == 1 && st[1].trial == 2 && st[2].trial == 4);
    CU_ASSERT(st[0].copied_from == -1 && st[1].copied_from == -1 && st[2].copied_from == -1);
    /* a step from scratch alone; out of range */
    CU_ASSERT_EQUAL(hb_report_schedule(t, n, 0, st), 1);
    CU_ASSERT_EQUAL(st[0].trial, 0);
    CU_ASSERT_EQUAL(hb_report_schedule(t, n, n, st), 0);
    CU_ASSERT_EQUAL(hb_report_schedule(NULL, 0, 0, st), 0);
}

/* A prev that is not among the trials (a damaged or partial file) ends the walk at budget - spent;
 * a loop is cut; a failed duplicate of an id is passed over for the ok one. */
static void test_schedule_damaged(void)
{
    double x[] = {0.5};
    hb_trial t[] = {
        pbt_trial(7, x, 12, 0.5, 0, 2, 0, 6, 4), /* job 6 is missing */
        pbt_trial(8, x, 16, 0.4, 0, 3, 0, 7, 4),
        pbt_trial(10, x, 8, 0.9, 1, 1, 1, 11, 4), /* 10 <-> 11 */
        pbt_trial(11, x, 12, 0.8, 1, 2, 1, 10, 4),
        pbt_trial(12, x, 4, 0.9, 2, 0, 12, HB_NO_JOB, 4),
        pbt_trial(12, x, 4, 0.9, 3, 0, 12, HB_NO_JOB, 4),
        pbt_trial(13, x, 8, 0.7, 2, 1, 12, 12, 4),
    };
    t[4].status = HB_TRIAL_FAILED;
    size_t n = sizeof t / sizeof t[0];
    hb_schedule_step st[7];
    CU_ASSERT_EQUAL_FATAL(hb_report_schedule(t, n, 1, st), 2);
    CU_ASSERT(st[0].trial == 0 && st[0].from_budget == 8 && st[0].copied_from == -1);
    CU_ASSERT(st[1].trial == 1 && st[1].from_budget == 12);
    CU_ASSERT_EQUAL_FATAL(hb_report_schedule(t, n, 3, st), 2);
    CU_ASSERT(st[0].trial == 2 && st[1].trial == 3);
    CU_ASSERT_EQUAL(st[0].from_budget, 4); /* cut: budget - spent */
    CU_ASSERT_EQUAL_FATAL(hb_report_schedule(t, n, 6, st), 2);
    CU_ASSERT_EQUAL(st[0].trial, 5); /* the ok one of the two trials with id 12 */
    CU_ASSERT_EQUAL(st[1].copied_from, 3);
}

/* "schedule" is in the report JSON of pbt and pb2 runs only: the best model's steps with their
 * mutable parameters. */
static void test_schedule_json(void)
{
    hb_space *sp = NULL;
    hb_space_create(&sp);
    hb_value ab[] = {{1, 0, "a"}, {1, 0, "b"}};
    hb_space_add_float(sp, "lr", 1e-4, 1, HB_SCALE_LOG, NAN, NULL);
    hb_space_add_float(sp, "width", 1, 8, HB_SCALE_LINEAR, NAN, NULL);
    hb_space_add_categorical(sp, "act", ab, 2, NULL, -1, NULL);
    hb_space_set_mutable(sp, "lr", 1, NULL);
    hb_space_set_mutable(sp, "act", 1, NULL);
    CU_ASSERT_EQUAL_FATAL(hb_space_finalize(sp, NULL, NULL), HB_OK);
    double x0[] = {0.01, 4, 0}, x1[] = {0.1, 2, 1}, x2[] = {0.02, 2, 0};
    hb_trial t[] = {
        pbt_trial(0, x0, 4, 1.0, 0, 0, 0, HB_NO_JOB, 4),
        pbt_trial(1, x1, 4, 2.0, 1, 0, 1, HB_NO_JOB, 4),
        pbt_trial(2, x0, 8, 0.8, 0, 1, 0, 0, 4),
        pbt_trial(3, x2, 8, 0.6, 1, 1, 0, 0, 4),
    };
    hb_opt_settings s;
    hb_opt_settings_init(&s);
    const char *names[] = {"pbt", "pb2", "random", "bohb"};
    for (int k = 0; k < 4; k++) {
        s.optimizer = names[k];
        hb_report_info info = {NULL, &s, NULL, 1.0, 1, NULL, NULL, 0};
        hb_buf b = HB_BUF_INIT;
        CU_ASSERT_EQUAL(hb_report_json(sp, &info, t, 4, &b), HB_OK);
        json_t *r = json_loads(b.data, 0, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        json_t *sch = json_object_get(r, "schedule");
        CU_ASSERT_EQUAL(sch != NULL, k < 2);
        CU_ASSERT_EQUAL(json_object_get(json_object_get(r, "settings"), "pbt_population") != NULL, k < 2);
        if (k < 2) {
            CU_ASSERT_EQUAL_FATAL(json_array_size(sch), 2);
            json_t *a = json_array_get(sch, 0), *c = json_array_get(sch, 1);
            CU_ASSERT_EQUAL(json_integer_value(json_object_get(a, "trial")), 0);
            CU_ASSERT_EQUAL(json_integer_value(json_object_get(a, "member")), 0);
            CU_ASSERT_EQUAL(json_number_value(json_object_get(a, "from_budget")), 0);
            CU_ASSERT_EQUAL(json_number_value(json_object_get(a, "budget")), 4);
            CU_ASSERT_EQUAL(json_number_value(json_object_get(a, "loss")), 1.0);
            CU_ASSERT(json_is_null(json_object_get(a, "copied_from")));
            CU_ASSERT_EQUAL(json_object_size(json_object_get(a, "config")), 2); /* lr and act, not width */
            CU_ASSERT_EQUAL(json_real_value(json_object_get(json_object_get(a, "config"), "lr")), 0.01);
            CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(a, "config"), "act")), "a");
            CU_ASSERT_EQUAL(json_integer_value(json_object_get(c, "trial")), 3);
            CU_ASSERT_EQUAL(json_integer_value(json_object_get(c, "member")), 1);
            CU_ASSERT_EQUAL(json_number_value(json_object_get(c, "from_budget")), 4);
            CU_ASSERT_EQUAL(json_integer_value(json_object_get(c, "copied_from")), 0);
            CU_ASSERT_EQUAL(json_real_value(json_object_get(json_object_get(c, "config"), "lr")), 0.02);
            CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(r, "best"), "id")), 3);
        }
        json_decref(r);
        hb_buf_fini(&b);
    }
    /* no ok trial: an empty schedule */
    t[3].status = t[2].status = t[1].status = t[0].status = HB_TRIAL_CRASHED;
    s.optimizer = "pbt";
    hb_report_info info = {NULL, &s, NULL, 1.0, 1, NULL, NULL, 0};
    hb_buf b = HB_BUF_INIT;
    CU_ASSERT_EQUAL(hb_report_json(sp, &info, t, 4, &b), HB_OK);
    json_t *r = json_loads(b.data, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(json_is_array(json_object_get(r, "schedule")) && json_array_size(json_object_get(r, "schedule")) == 0);
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
    CU_add_test(s, "pbt schedule: lineage and exploits", test_schedule_lineage);
    CU_add_test(s, "pbt schedule: missing checkpoints, loops, duplicates", test_schedule_damaged);
    CU_add_test(s, "pbt schedule in the report JSON", test_schedule_json);
    return 0;
}
