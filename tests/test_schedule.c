/* test_schedule.c — HyperBand's bracket arithmetic (both rules) and the schedulers of the ask/tell
 * core: successive halving's barrier and promotion, failures never promoted, interleaved
 * brackets, ASHA's asynchronous promotion, stop rules, wait and done, determinism. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hb_opt.h"
#include "hb_schedule.h"
#include "hb_test.h"

static void test_paper_table(void)
{
    hb_schedule sch;
    CU_ASSERT_EQUAL_FATAL(hb_schedule_init(&sch, 1, 81, 3, HB_RULE_PAPER, NULL), HB_OK);
    CU_ASSERT_EQUAL(sch.s_max, 4);
    /* DESIGN.md: s=4: 81@1 27@3 9@9 3@27 1@81; s=3: 34@3 11@9 3@27 1@81; s=2: 15@9 5@27 1@81;
     * s=1: 8@27 2@81; s=0: 5@81. */
    static const long n[5][5] = {{5}, {8, 2}, {15, 5, 1}, {34, 11, 3, 1}, {81, 27, 9, 3, 1}};
    static const double r0[5] = {81, 27, 9, 3, 1};
    for (int s = 0; s <= 4; s++) {
        hb_bracket b;
        hb_schedule_bracket(&sch, s, &b);
        CU_ASSERT_EQUAL(b.n_rungs, s + 1);
        for (int i = 0; i <= s; i++) {
            CU_ASSERT_EQUAL(b.n[i], n[s][i]);
            CU_ASSERT_DOUBLE_EQUAL(b.budget[i], r0[s] * pow(3, i), 1e-12);
        }
    }
    CU_ASSERT_DOUBLE_EQUAL(hb_schedule_iteration_budget(&sch), 405 + 363 + 351 + 378 + 405, 1e-9);
    CU_ASSERT_EQUAL(hb_schedule_s_of(&sch, 0), 4);
    CU_ASSERT_EQUAL(hb_schedule_s_of(&sch, 4), 0);
    CU_ASSERT_EQUAL(hb_schedule_s_of(&sch, 5), 4);
}

static void test_hpbandster_table(void)
{
    /* HpBandSter: n0 = floor((s_max+1)/(s+1)) * eta^s, then max(int(n0 * eta^-i), 1). */
    hb_schedule sch;
    CU_ASSERT_EQUAL_FATAL(hb_schedule_init(&sch, 9, 729, 3, HB_RULE_HPBANDSTER, NULL), HB_OK);
    static const long n0[5] = {5, 6, 9, 27, 81};
    for (int s = 0; s <= 4; s++) {
        hb_bracket b;
        hb_schedule_bracket(&sch, s, &b);
        CU_ASSERT_EQUAL(b.n[0], n0[s]);
        CU_ASSERT_DOUBLE_EQUAL(b.budget[0], 729 / pow(3, s), 1e-9);
        CU_ASSERT_EQUAL(b.n[s], s == 1 ? 2 : 1 + (s == 0) * 4);
    }
}

static void test_odd_ranges(void)
{
    hb_schedule sch;
    /* R/r = 100 with eta 3: s_max = floor(log3 100) = 4, the smallest budget 100/81. */
    CU_ASSERT_EQUAL_FATAL(hb_schedule_init(&sch, 1, 100, 3, HB_RULE_PAPER, NULL), HB_OK);
    CU_ASSERT_EQUAL(sch.s_max, 4);
    hb_bracket b;
    hb_schedule_bracket(&sch, 4, &b);
    CU_ASSERT_DOUBLE_EQUAL(b.budget[0], 100.0 / 81, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(b.budget[4], 100, 1e-12);
    /* r = R: one bracket of one rung. */
    CU_ASSERT_EQUAL_FATAL(hb_schedule_init(&sch, 5, 5, 3, HB_RULE_PAPER, NULL), HB_OK);
    CU_ASSERT_EQUAL(sch.s_max, 0);
    hb_schedule_bracket(&sch, 0, &b);
    CU_ASSERT_EQUAL(b.n[0], 1);
    /* eta 2 on 1..16: s_max 4, first bracket 16@1 8@2 4@4 2@8 1@16. */
    CU_ASSERT_EQUAL_FATAL(hb_schedule_init(&sch, 1, 16, 2, HB_RULE_PAPER, NULL), HB_OK);
    hb_schedule_bracket(&sch, 4, &b);
    CU_ASSERT_EQUAL(b.n[0], 16);
    CU_ASSERT_EQUAL(b.n[4], 1);
    CU_ASSERT_EQUAL(hb_schedule_init(&sch, 0, 5, 3, HB_RULE_PAPER, NULL), HB_EINVAL);
    CU_ASSERT_EQUAL(hb_schedule_init(&sch, 5, 1, 3, HB_RULE_PAPER, NULL), HB_EINVAL);
    CU_ASSERT_EQUAL(hb_schedule_init(&sch, 1, 5, 1, HB_RULE_PAPER, NULL), HB_EINVAL);
    CU_ASSERT_EQUAL(hb_schedule_init(&sch, 1e-300, 1e300, 1.01, HB_RULE_PAPER, NULL), HB_EINVAL);
}

/* ---------- the schedulers through ask/tell ---------- */

static hb_space *unit_space(void)
{
    hb_space *sp = NULL;
    hb_space_create(&sp);
    hb_space_add_float(sp, "x", 0, 1, HB_SCALE_LINEAR, NAN, NULL);
    hb_space_add_float(sp, "y", 0, 1, HB_SCALE_LINEAR, NAN, NULL);
    CU_ASSERT_FATAL(hb_space_finalize(sp, NULL, NULL) == HB_OK);
    return sp;
}

static hb_opt *make(const hb_space *sp, const char *optimizer, uint64_t seed)
{
    hb_opt_settings s;
    hb_opt_settings_init(&s);
    s.optimizer = optimizer;
    s.seed = seed;
    s.min_budget = 1;
    s.max_budget = 81;
    s.eta = 3;
    hb_opt *o = NULL;
    hb_error err;
    CU_ASSERT_FATAL(hb_opt_create(sp, &s, &o, &err) == HB_OK);
    return o;
}

/* A loss that depends on the configuration and (a little) on the budget. */
static double loss_of(const double *x, double budget) { return x[0] + 0.1 * x[1] - 0.001 * log(budget); }

typedef struct rec {
    uint64_t id;
    int bracket, stage;
    double budget, x0, x1, loss;
} rec;

/* Serial ask/tell until done; 'fail_every' > 0 makes every n-th job fail. Returns the count. */
static size_t run_serial(hb_opt *o, rec *out, size_t max, int fail_every)
{
    size_t n = 0;
    for (;;) {
        hb_job j;
        CU_ASSERT_EQUAL_FATAL(hb_opt_ask(o, &j, NULL), HB_OK);
        if (j.kind == HB_ASK_DONE) break;
        CU_ASSERT_EQUAL_FATAL(j.kind, HB_ASK_JOB);
        CU_ASSERT_FATAL(n < max);
        int fail = fail_every > 0 && (j.id % (uint64_t)fail_every) == (uint64_t)fail_every - 1;
        double l = loss_of(j.x, j.budget);
        out[n] = (rec){j.id, j.bracket, j.stage, j.budget, j.x[0], j.x[1], fail ? INFINITY : l};
        n++;
        CU_ASSERT_EQUAL(hb_opt_tell(o, j.id, l, fail ? HB_TRIAL_CRASHED : HB_TRIAL_OK, NULL), HB_OK);
    }
    return n;
}

static void test_hyperband_iteration(void)
{
    hb_space *sp = unit_space();
    hb_opt *o = make(sp, "hyperband", 1);
    static rec r[400];
    size_t n = run_serial(o, r, 400, 0);
    /* One iteration (the default): 206 evaluations, budget 1902, in bracket order s = 4..0. */
    CU_ASSERT_EQUAL(n, 206);
    double total = 0;
    long count[5][5] = {{0}};
    int last_bracket = 4;
    for (size_t i = 0; i < n; i++) {
        total += r[i].budget;
        CU_ASSERT(r[i].bracket <= last_bracket); /* serially, brackets run one after another */
        last_bracket = r[i].bracket;
        count[r[i].bracket][r[i].stage]++;
        CU_ASSERT_DOUBLE_EQUAL(r[i].budget, 81 / pow(3, r[i].bracket - r[i].stage), 1e-9);
    }
    CU_ASSERT_DOUBLE_EQUAL(total, 1902, 1e-9);
    CU_ASSERT_EQUAL(count[4][0], 81);
    CU_ASSERT_EQUAL(count[4][4], 1);
    CU_ASSERT_EQUAL(count[3][0], 34);
    CU_ASSERT_EQUAL(count[3][1], 11);
    CU_ASSERT_EQUAL(count[1][1], 2);
    CU_ASSERT_EQUAL(count[0][0], 5);
    /* Promotion: the 27 configurations of bracket 4, rung 1 are the best 27 of rung 0. */
    double rung0[81], cut;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].bracket == 4 && r[i].stage == 0) rung0[k++] = r[i].loss;
    for (size_t a = 0; a < k; a++) /* sort ascending (small n) */
        for (size_t b = a + 1; b < k; b++)
            if (rung0[b] < rung0[a]) {
                double t = rung0[a];
                rung0[a] = rung0[b];
                rung0[b] = t;
            }
    cut = rung0[26];
    for (size_t i = 0; i < n; i++)
        if (r[i].bracket == 4 && r[i].stage == 1) {
            /* its loss at budget 1 was within the best 27 */
            double l1 = loss_of((double[]){r[i].x0, r[i].x1}, 1);
            CU_ASSERT(l1 <= cut + 1e-12);
        }
    hb_job j;
    hb_opt_ask(o, &j, NULL);
    CU_ASSERT_EQUAL(j.kind, HB_ASK_DONE);
    hb_opt_free(o);
    hb_space_free(sp);
}

static void test_failures_never_promoted(void)
{
    hb_space *sp = unit_space();
    hb_opt *o = make(sp, "sh", 2);
    static rec r[400];
    size_t n = run_serial(o, r, 400, 3); /* every third job crashes */
    for (size_t i = 0; i < n; i++) {
        if (r[i].stage == 0) continue;
        /* a promoted configuration had an ok result at the rung below */
        int ok_below = 0;
        for (size_t q = 0; q < i; q++)
            if (r[q].stage == r[i].stage - 1 && r[q].x0 == r[i].x0 && r[q].x1 == r[i].x1 && isfinite(r[q].loss))
                ok_below = 1;
        CU_ASSERT(ok_below);
    }
    hb_opt_free(o);
    hb_space_free(sp);
    /* Everything fails: the bracket closes after its first rung. */
    sp = unit_space();
    o = make(sp, "sh", 2);
    n = run_serial(o, r, 400, 1);
    CU_ASSERT_EQUAL(n, 81);
    hb_opt_free(o);
    hb_space_free(sp);
}

static void test_interleaving_and_wait(void)
{
    hb_space *sp = unit_space();
    hb_opt *o = make(sp, "hyperband", 3);
    hb_job j;
    /* Ask without telling: bracket 4's 81 first-rung jobs, then bracket 3 opens, and so on. */
    int seen[5] = {0};
    size_t asked = 0;
    for (;;) {
        CU_ASSERT_EQUAL_FATAL(hb_opt_ask(o, &j, NULL), HB_OK);
        if (j.kind != HB_ASK_JOB) break;
        seen[j.bracket]++;
        CU_ASSERT_EQUAL(j.stage, 0);
        asked++;
    }
    /* With the default bound (5 open brackets), every bracket's first rung was issued. */
    CU_ASSERT_EQUAL(j.kind, HB_ASK_WAIT);
    CU_ASSERT_EQUAL(seen[4], 81);
    CU_ASSERT_EQUAL(seen[3], 34);
    CU_ASSERT_EQUAL(seen[0], 5);
    CU_ASSERT_EQUAL(asked, hb_opt_pending(o));
    hb_opt_free(o);
    /* With one open bracket, the barrier makes ask wait. */
    hb_opt_settings s;
    hb_opt_settings_init(&s);
    s.optimizer = "hyperband";
    s.max_budget = 81;
    s.max_open_brackets = 1;
    CU_ASSERT_FATAL(hb_opt_create(sp, &s, &o, NULL) == HB_OK);
    for (int i = 0; i < 81; i++) {
        hb_opt_ask(o, &j, NULL);
        CU_ASSERT_EQUAL(j.kind, HB_ASK_JOB);
    }
    hb_opt_ask(o, &j, NULL);
    CU_ASSERT_EQUAL(j.kind, HB_ASK_WAIT);
    /* Telling all 81 releases rung 1. */
    for (uint64_t id = 0; id < 81; id++) hb_opt_tell(o, id, (double)id, HB_TRIAL_OK, NULL);
    hb_opt_ask(o, &j, NULL);
    CU_ASSERT_EQUAL(j.kind, HB_ASK_JOB);
    CU_ASSERT_EQUAL(j.stage, 1);
    CU_ASSERT_EQUAL(j.budget, 3);
    hb_opt_free(o);
    hb_space_free(sp);
}

static void test_asha(void)
{
    hb_space *sp = unit_space();
    hb_opt *o = make(sp, "asha", 4);
    hb_job j;
    /* Three results at rung 0: the best one moves up at once, without waiting for the rung. */
    double losses[3] = {0.5, 0.1, 0.9};
    double x_best[2];
    for (int i = 0; i < 3; i++) {
        hb_opt_ask(o, &j, NULL);
        CU_ASSERT_EQUAL(j.stage, 0);
        CU_ASSERT_EQUAL(j.budget, 1);
        if (i == 1) memcpy(x_best, j.x, sizeof x_best);
        hb_opt_tell(o, j.id, losses[i], HB_TRIAL_OK, NULL);
    }
    hb_opt_ask(o, &j, NULL);
    CU_ASSERT_EQUAL(j.stage, 1);
    CU_ASSERT_EQUAL(j.budget, 3);
    CU_ASSERT_EQUAL(memcmp(j.x, x_best, sizeof x_best), 0);
    uint64_t promoted = j.id;
    /* Not promoted twice: the next ask starts a new configuration at rung 0. */
    hb_opt_ask(o, &j, NULL);
    CU_ASSERT_EQUAL(j.stage, 0);
    hb_opt_tell(o, promoted, 0.05, HB_TRIAL_OK, NULL);
    hb_opt_tell(o, j.id, 0.7, HB_TRIAL_CRASHED, NULL);
    hb_opt_free(o);
    /* A whole run: it never waits (serially), stays within the budget of one iteration, and
     * reaches the top rung. */
    o = make(sp, "asha", 4);
    static rec r[4000];
    size_t n = run_serial(o, r, 4000, 7);
    double total = 0;
    int top = 0;
    for (size_t i = 0; i < n; i++) {
        total += r[i].budget;
        top |= r[i].budget == 81;
    }
    CU_ASSERT(total <= 1902 + 1e-9);
    CU_ASSERT(total > 1902 - 81 - 1e-9);
    CU_ASSERT(top);
    hb_opt_free(o);
    hb_space_free(sp);
}

static void test_stop_rules(void)
{
    hb_space *sp = unit_space();
    hb_opt_settings s;
    hb_opt *o = NULL;
    static rec r[4000];
    hb_opt_settings_init(&s);
    s.optimizer = "hyperband";
    s.max_budget = 81;
    s.max_total_budget = 1000;
    CU_ASSERT_FATAL(hb_opt_create(sp, &s, &o, NULL) == HB_OK);
    size_t n = run_serial(o, r, 4000, 0);
    double total = 0;
    for (size_t i = 0; i < n; i++) total += r[i].budget;
    CU_ASSERT(total <= 1000);
    CU_ASSERT(total > 1000 - 81);
    CU_ASSERT_EQUAL(hb_opt_settings_of(o)->iterations, 0); /* a limit was given: no default */
    hb_opt_free(o);
    hb_opt_settings_init(&s);
    s.optimizer = "sh";
    s.max_budget = 81;
    s.iterations = 2;
    CU_ASSERT_FATAL(hb_opt_create(sp, &s, &o, NULL) == HB_OK);
    n = run_serial(o, r, 4000, 0);
    CU_ASSERT_EQUAL(n, 2 * 121);
    for (size_t i = 0; i < n; i++) CU_ASSERT_EQUAL(r[i].bracket, 4);
    hb_opt_free(o);
    hb_opt_settings_init(&s);
    s.optimizer = "bohb";
    s.max_budget = 81;
    s.max_evals = 50;
    CU_ASSERT_FATAL(hb_opt_create(sp, &s, &o, NULL) == HB_OK);
    CU_ASSERT_EQUAL(run_serial(o, r, 4000, 0), 50);
    hb_opt_free(o);
    /* A stop from outside: running jobs are still told, then done. */
    o = make(sp, "random", 1);
    hb_job j;
    hb_opt_ask(o, &j, NULL);
    hb_opt_stop(o);
    hb_job k;
    hb_opt_ask(o, &k, NULL);
    CU_ASSERT_EQUAL(k.kind, HB_ASK_WAIT);
    hb_opt_tell(o, j.id, 1, HB_TRIAL_OK, NULL);
    hb_opt_ask(o, &k, NULL);
    CU_ASSERT_EQUAL(k.kind, HB_ASK_DONE);
    hb_opt_free(o);
    /* iterations make no sense without brackets */
    hb_opt_settings_init(&s);
    s.optimizer = "tpe";
    s.iterations = 2;
    CU_ASSERT_EQUAL(hb_opt_create(sp, &s, &o, NULL), HB_EINVAL);
    hb_space_free(sp);
}

static void test_deterministic(void)
{
    const char *opts[] = {"hyperband", "bohb", "asha", "sh"};
    hb_space *sp = unit_space();
    static rec a[4000], b[4000], c[4000];
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        hb_opt *o1 = make(sp, opts[k], 9), *o2 = make(sp, opts[k], 9), *o3 = make(sp, opts[k], 10);
        size_t n1 = run_serial(o1, a, 4000, 5), n2 = run_serial(o2, b, 4000, 5);
        size_t n3 = run_serial(o3, c, 4000, 5);
        CU_ASSERT_EQUAL(n1, n2);
        CU_ASSERT_EQUAL(memcmp(a, b, n1 * sizeof *a), 0);
        CU_ASSERT(n3 > 0 && (a[0].x0 != c[0].x0));
        hb_opt_free(o1);
        hb_opt_free(o2);
        hb_opt_free(o3);
    }
    hb_space_free(sp);
}

int hb_test_add_schedule(void)
{
    CU_pSuite s = CU_add_suite("schedule", NULL, NULL);
    if (!s) return -1;
    CU_add_test(s, "HyperBand table, paper rule (R=81, eta=3)", test_paper_table);
    CU_add_test(s, "HyperBand table, hpbandster rule", test_hpbandster_table);
    CU_add_test(s, "odd ranges and bad arguments", test_odd_ranges);
    CU_add_test(s, "one HyperBand iteration and its promotions", test_hyperband_iteration);
    CU_add_test(s, "failures never promoted", test_failures_never_promoted);
    CU_add_test(s, "brackets interleave; bounded; barrier waits", test_interleaving_and_wait);
    CU_add_test(s, "ASHA promotes at once, never twice", test_asha);
    CU_add_test(s, "stop rules", test_stop_rules);
    CU_add_test(s, "same seed same jobs", test_deterministic);
    return 0;
}
