/* test_opt.c — the ask/tell state machine with random search: limits, wait/done, determinism,
 * refusal of bad tells, valid configurations; the optimizers' names and what each run plans. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hb_opt.h"
#include "hb_test.h"

static hb_space *small_space(void)
{
    hb_space *sp = NULL;
    hb_space_create(&sp);
    hb_value ab[] = {{1, 0, "a"}, {1, 0, "b"}};
    hb_space_add_float(sp, "x", -1, 1, HB_SCALE_LINEAR, NAN, NULL);
    hb_space_add_int(sp, "n", 1, 100, HB_SCALE_LOG, NAN, NULL);
    hb_space_add_categorical(sp, "c", ab, 2, NULL, -1, NULL);
    CU_ASSERT_FATAL(hb_space_finalize(sp, NULL, NULL) == HB_OK);
    return sp;
}

static hb_opt *make(const hb_space *sp, uint64_t seed, long max_evals)
{
    hb_opt_settings s;
    hb_opt_settings_init(&s);
    s.seed = seed;
    s.min_budget = 1;
    s.max_budget = 81;
    s.max_evals = max_evals;
    hb_opt *o = NULL;
    CU_ASSERT_FATAL(hb_opt_create(sp, &s, &o, NULL) == HB_OK);
    return o;
}

static void test_limits_wait_done(void)
{
    hb_space *sp = small_space();
    hb_opt *o = make(sp, 1, 3);
    hb_job j[3], k;
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(hb_opt_ask(o, &j[i], NULL), HB_OK);
        CU_ASSERT_EQUAL(j[i].kind, HB_ASK_JOB);
        CU_ASSERT_EQUAL(j[i].id, (uint64_t)i);
        CU_ASSERT_EQUAL(j[i].budget, 81);
        CU_ASSERT_EQUAL(j[i].bracket, -1);
        CU_ASSERT_EQUAL(hb_space_validate(sp, j[i].x, NULL), HB_OK);
    }
    CU_ASSERT_EQUAL(hb_opt_pending(o), 3);
    CU_ASSERT_EQUAL(hb_opt_ask(o, &k, NULL), HB_OK);
    CU_ASSERT_EQUAL(k.kind, HB_ASK_WAIT);
    CU_ASSERT_EQUAL(hb_opt_tell(o, 1, 0.5, HB_TRIAL_OK, NULL), HB_OK);
    CU_ASSERT_EQUAL(hb_opt_tell(o, 0, 0, HB_TRIAL_CRASHED, NULL), HB_OK);
    hb_opt_ask(o, &k, NULL);
    CU_ASSERT_EQUAL(k.kind, HB_ASK_WAIT);
    CU_ASSERT_EQUAL(hb_opt_tell(o, 2, NAN, HB_TRIAL_OK, NULL), HB_OK);
    hb_opt_ask(o, &k, NULL);
    CU_ASSERT_EQUAL(k.kind, HB_ASK_DONE);
    const hb_history *h = hb_opt_history(o);
    CU_ASSERT_EQUAL(hb_history_size(h), 3);
    /* Told in the order 1, 0, 2; a failure is the worst loss; NaN becomes status nan. */
    CU_ASSERT_EQUAL(hb_history_at(h, 0).id, 1);
    CU_ASSERT_EQUAL(hb_history_at(h, 0).loss, 0.5);
    CU_ASSERT_EQUAL(hb_history_at(h, 1).status, HB_TRIAL_CRASHED);
    CU_ASSERT(isinf(hb_history_at(h, 1).loss));
    CU_ASSERT_EQUAL(hb_history_at(h, 2).status, HB_TRIAL_NAN);
    hb_opt_free(o);
    hb_space_free(sp);
}

static void test_bad_tell(void)
{
    hb_space *sp = small_space();
    hb_opt *o = make(sp, 1, 5);
    hb_job j;
    hb_error err;
    hb_opt_ask(o, &j, NULL);
    CU_ASSERT_EQUAL(hb_opt_tell(o, 7, 1, HB_TRIAL_OK, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(hb_opt_tell(o, 0, 1, HB_TRIAL_OK, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_opt_tell(o, 0, 1, HB_TRIAL_OK, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(hb_history_size(hb_opt_history(o)), 1);
    hb_opt_free(o);
    hb_space_free(sp);
}

static void run(const hb_space *sp, uint64_t seed, double *xs, size_t n)
{
    hb_opt *o = make(sp, seed, (long)n);
    hb_job j;
    size_t d = hb_space_dim(sp);
    for (size_t i = 0; i < n; i++) {
        hb_opt_ask(o, &j, NULL);
        memcpy(xs + i * d, j.x, d * sizeof(double));
        hb_opt_tell(o, j.id, j.x[0], HB_TRIAL_OK, NULL);
    }
    hb_opt_ask(o, &j, NULL);
    CU_ASSERT_EQUAL(j.kind, HB_ASK_DONE);
    hb_opt_free(o);
}

static void test_deterministic(void)
{
    hb_space *sp = small_space();
    double a[50 * 3], b[50 * 3], c[50 * 3];
    run(sp, 7, a, 50);
    run(sp, 7, b, 50);
    run(sp, 8, c, 50);
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(a, c, sizeof a), 0);
    hb_space_free(sp);
}

/* A configuration's identity survives promotion: every job names its configuration's first
 * job and the job one rung lower, with the same configuration and that job's budget. Run to
 * the end, for hyperband (rung barriers) and asha (asynchronous promotion), with some failures. */
static void check_identity(const char *optimizer)
{
    hb_space *sp = small_space();
    hb_opt_settings s;
    hb_opt_settings_init(&s);
    s.optimizer = optimizer;
    s.seed = 4;
    s.min_budget = 1;
    s.max_budget = 27;
    hb_opt *o = NULL;
    CU_ASSERT_FATAL(hb_opt_create(sp, &s, &o, NULL) == HB_OK);
    enum { MAX = 512 };
    static hb_job jobs[MAX];
    static double xs[MAX][3];
    size_t n = 0, promoted = 0;
    for (;;) {
        hb_job j;
        CU_ASSERT_FATAL(hb_opt_ask(o, &j, NULL) == HB_OK);
        if (j.kind == HB_ASK_DONE) break;
        if (j.kind == HB_ASK_WAIT || hb_opt_pending(o) > 4) { /* tell the oldest pending job (4 workers) */
            uint64_t id = 0;
            while (id < n && jobs[id].kind != HB_ASK_JOB) id++;
            CU_ASSERT_FATAL(id < n);
            jobs[id].kind = HB_ASK_WAIT; /* told */
            hb_trial_status st = id % 7 == 3 ? HB_TRIAL_CRASHED : HB_TRIAL_OK;
            CU_ASSERT(hb_opt_tell(o, id, xs[id][0] * xs[id][0] / jobs[id].budget, st, NULL) == HB_OK);
            if (j.kind == HB_ASK_WAIT) continue;
        }
        CU_ASSERT_FATAL(n < MAX && j.id == n);
        memcpy(xs[n], j.x, sizeof xs[n]);
        jobs[n] = j;
        jobs[n].x = xs[n];
        if (j.prev == HB_NO_JOB) {
            CU_ASSERT_EQUAL(j.config, j.id);
            CU_ASSERT_EQUAL(j.prev_budget, 0);
            CU_ASSERT(j.stage <= 0);
        } else {
            const hb_job *p = &jobs[j.prev];
            promoted++;
            CU_ASSERT(j.prev < j.id);
            CU_ASSERT_EQUAL(j.config, p->config);
            CU_ASSERT_EQUAL(j.stage, p->stage + 1);
            CU_ASSERT_EQUAL(j.prev_budget, p->budget);
            CU_ASSERT(j.budget > p->budget);
            CU_ASSERT(memcmp(xs[j.prev], xs[n], sizeof xs[n]) == 0);
            CU_ASSERT(j.prev % 7 != 3); /* a failed job is never promoted */
        }
        n++;
    }
    if (promoted <= 5) fprintf(stderr, "%s: %zu jobs, %zu promoted\n", optimizer, n, promoted);
    CU_ASSERT(promoted > 5);
    hb_opt_free(o);
    hb_space_free(sp);
}

static void test_identity(void)
{
    check_identity("hyperband");
    check_identity("asha");
    check_identity("bohb");
}

static void test_bad_settings(void)
{
    hb_space *sp = small_space();
    hb_opt_settings s;
    hb_opt *o = NULL;
    hb_error err;
    hb_opt_settings_init(&s);
    s.min_budget = 0;
    CU_ASSERT_EQUAL(hb_opt_create(sp, &s, &o, &err), HB_EINVAL);
    hb_opt_settings_init(&s);
    s.min_budget = 9;
    s.max_budget = 3;
    CU_ASSERT_EQUAL(hb_opt_create(sp, &s, &o, &err), HB_EINVAL);
    hb_opt_settings_init(&s);
    s.eta = 1;
    CU_ASSERT_EQUAL(hb_opt_create(sp, &s, &o, &err), HB_EINVAL);
    hb_opt_settings_init(&s);
    s.optimizer = "nonsense";
    CU_ASSERT_EQUAL(hb_opt_create(sp, &s, &o, &err), HB_ENOTFOUND);
    CU_ASSERT_PTR_NULL(o);
    hb_space_free(sp);
}

/* An optimiser named 'name' over 'sp' on budgets 1..9, eta 3, with the stop rules given (0: none). */
static hb_opt *make_plan(const hb_space *sp, const char *name, long iterations, long max_evals, double max_total)
{
    hb_opt_settings s;
    hb_opt_settings_init(&s);
    s.optimizer = name;
    s.min_budget = 1;
    s.max_budget = 9;
    s.iterations = iterations;
    s.max_evals = max_evals;
    s.max_total_budget = max_total;
    hb_opt *o = NULL;
    hb_error err;
    CU_ASSERT_FATAL(hb_opt_create(sp, &s, &o, &err) == HB_OK);
    return o;
}

/* Run 'o' to its end, one job at a time, every job ok; the jobs and the sum of their budgets. */
static long run_all(hb_opt *o, double *budget)
{
    long n = 0;
    *budget = 0;
    for (;;) {
        hb_job j;
        CU_ASSERT_FATAL(hb_opt_ask(o, &j, NULL) == HB_OK);
        CU_ASSERT_FATAL(j.kind != HB_ASK_WAIT);
        if (j.kind == HB_ASK_DONE) return n;
        n++;
        *budget += j.budget;
        CU_ASSERT_FATAL(hb_opt_tell(o, j.id, j.x[0] + 1.0 / j.budget, HB_TRIAL_OK, NULL) == HB_OK);
    }
}

static void test_names(void)
{
    const char *const *names = hb_opt_names();
    static const char *const want[] = {"random", "grid", "sh", "hyperband", "bohb", "tpe", "gp", "asha", "pbt", "pb2"};
    size_t n = 0;
    while (names[n]) n++;
    CU_ASSERT_EQUAL_FATAL(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_STRING_EQUAL(names[i], want[i]);
        CU_ASSERT(hb_opt_known(names[i], NULL));
    }
    CU_ASSERT_STRING_EQUAL(hb_opt_names_text(), "random, grid, sh, hyperband, bohb, tpe, gp, asha, pbt, pb2");
    CU_ASSERT(!hb_opt_known("nonsense", NULL));
    int population = 0;
    for (size_t i = 0; i < n; i++) population += hb_opt_population(names[i]);
    CU_ASSERT_EQUAL(population, 2);
    CU_ASSERT(hb_opt_population("pbt") && hb_opt_population("pb2"));
    CU_ASSERT(!hb_opt_population("asha") && !hb_opt_population(NULL) && !hb_opt_population("nonsense"));
}

static void test_plan(void)
{
    hb_space *sp = small_space();
    hb_opt_plan_info p;
    double spent;
    /* HyperBand on 1..9, eta 3: one iteration is the brackets 9@1 3@3 1@9 (27), 5@3 1@9 (24)
     * and 3@9 (27), budget 78 (`hbmpi plan --min-budget 1 --max-budget 9`); two plan 156, and
     * a run where nothing fails spends exactly that. Its job count depends on the results. */
    hb_opt *o = make_plan(sp, "hyperband", 2, 0, 0);
    CU_ASSERT_EQUAL(hb_opt_plan(o, &p), HB_OK);
    CU_ASSERT_EQUAL(p.evals, -1);
    CU_ASSERT_EQUAL(p.budget, 2 * 78.0);
    CU_ASSERT_EQUAL(run_all(o, &spent), 2 * (13 + 6 + 3));
    CU_ASSERT_EQUAL(spent, p.budget);
    hb_opt_free(o);
    /* bohb plans as hyperband; a smaller max_total_budget bounds it first */
    o = make_plan(sp, "bohb", 2, 0, 0);
    hb_opt_plan(o, &p);
    CU_ASSERT_EQUAL(p.budget, 156.0);
    hb_opt_free(o);
    o = make_plan(sp, "hyperband", 2, 0, 100);
    hb_opt_plan(o, &p);
    CU_ASSERT_EQUAL(p.budget, 100.0);
    hb_opt_free(o);
    o = make_plan(sp, "hyperband", 1, 0, 1000);
    hb_opt_plan(o, &p);
    CU_ASSERT_EQUAL(p.budget, 78.0);
    hb_opt_free(o);
    /* sh: an iteration is one widest bracket, 9@1 3@3 1@9 (27) */
    o = make_plan(sp, "sh", 2, 0, 0);
    hb_opt_plan(o, &p);
    CU_ASSERT_EQUAL(p.evals, -1);
    CU_ASSERT_EQUAL(p.budget, 2 * 27.0);
    CU_ASSERT_EQUAL(run_all(o, &spent), 2 * 13);
    CU_ASSERT_EQUAL(spent, p.budget);
    hb_opt_free(o);
    /* asha: its iterations are a budget */
    o = make_plan(sp, "asha", 2, 0, 0);
    hb_opt_plan(o, &p);
    CU_ASSERT_EQUAL(p.evals, -1);
    CU_ASSERT_EQUAL(p.budget, 156.0);
    hb_opt_free(o);
    /* no stop rule: one iteration for the bracket optimisers, 100 evaluations for the others */
    o = make_plan(sp, "hyperband", 0, 0, 0);
    hb_opt_plan(o, &p);
    CU_ASSERT_EQUAL(p.budget, 78.0);
    hb_opt_free(o);
    o = make_plan(sp, "random", 0, 0, 0);
    hb_opt_plan(o, &p);
    CU_ASSERT_EQUAL(p.evals, 100);
    CU_ASSERT_EQUAL(p.budget, -1);
    hb_opt_free(o);
    /* max_evals alone fixes the count; with a budget rule, the budget bounds the run */
    o = make_plan(sp, "random", 0, 40, 0);
    hb_opt_plan(o, &p);
    CU_ASSERT_EQUAL(p.evals, 40);
    CU_ASSERT_EQUAL(p.budget, -1);
    CU_ASSERT_EQUAL(run_all(o, &spent), 40);
    hb_opt_free(o);
    o = make_plan(sp, "tpe", 0, 40, 200);
    hb_opt_plan(o, &p);
    CU_ASSERT_EQUAL(p.evals, -1);
    CU_ASSERT_EQUAL(p.budget, 200.0);
    hb_opt_free(o);
    o = make_plan(sp, "hyperband", 1, 30, 0);
    hb_opt_plan(o, &p);
    CU_ASSERT_EQUAL(p.evals, -1);
    CU_ASSERT_EQUAL(p.budget, 78.0);
    hb_opt_free(o);
    hb_space_free(sp);
    /* pbt without a stop rule: the results decide (exploits move members' budgets): unknown */
    hb_space *mut = NULL;
    hb_space_create(&mut);
    hb_space_add_float(mut, "lr", 1e-4, 1, HB_SCALE_LOG, NAN, NULL);
    CU_ASSERT_FATAL(hb_space_set_mutable(mut, "lr", 1, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_finalize(mut, NULL, NULL) == HB_OK);
    o = make_plan(mut, "pbt", 0, 0, 0);
    hb_opt_plan(o, &p);
    CU_ASSERT_EQUAL(p.evals, -1);
    CU_ASSERT_EQUAL(p.budget, -1);
    hb_opt_free(o);
    o = make_plan(mut, "pb2", 0, 12, 0);
    hb_opt_plan(o, &p);
    CU_ASSERT_EQUAL(p.evals, 12);
    CU_ASSERT_EQUAL(p.budget, -1);
    hb_opt_free(o);
    hb_space_free(mut);
    CU_ASSERT_EQUAL(hb_opt_plan(NULL, &p), HB_EINVAL);
}

int hb_test_add_opt(void)
{
    CU_pSuite s = CU_add_suite("opt", NULL, NULL);
    if (!s) return -1;
    CU_add_test(s, "max_evals, wait and done", test_limits_wait_done);
    CU_add_test(s, "unknown and repeated tells refused", test_bad_tell);
    CU_add_test(s, "same seed same jobs", test_deterministic);
    CU_add_test(s, "bad settings refused", test_bad_settings);
    CU_add_test(s, "configuration identity across rungs", test_identity);
    CU_add_test(s, "the optimizers' names", test_names);
    CU_add_test(s, "what a run plans", test_plan);
    return 0;
}
