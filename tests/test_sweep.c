/* test_sweep.c — SWEEP.json (the studies, their order, names and settings; every error at its
 * LINE:COL; one canonical text whatever the layout), a study's regret trajectory, and the
 * quantiles of the summary (numpy's default method). */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hb_buf.h"
#include "hb_kernels.h"
#include "hb_sweep.h"
#include "hb_test.h"

static hb_sweep *parse(const char *text, hb_error *err)
{
    hb_sweep *sw = NULL;
    hb_error_clear(err);
    int rc = hb_sweep_parse(text, strlen(text), "S.json", hb_kernels_find, &sw, err);
    CU_ASSERT((rc == HB_OK) == (sw != NULL));
    return sw;
}

static void test_studies(void)
{
    hb_error err;
    hb_sweep *sw = parse("{\"kernels\": [\"branin\", \"hartmann6\"], \"optimizers\": [\"bohb\", \"random\", \"gp\"],\n"
                         " \"seeds\": {\"from\": 5, \"count\": 2}, \"max_total_budget\": \"12.5x\",\n"
                         " \"settings\": {\"eta\": 2, \"min_budget\": 3, \"reproducible\": 4, \"eval_delay\": 0.5,"
                         " \"bracket_rule\": \"hpbandster\", \"random_fraction\": 0}}",
                         &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sw);
    CU_ASSERT_EQUAL(hb_sweep_count(sw), 12);
    hb_sweep_study st;
    hb_sweep_study_at(sw, 0, &st);
    CU_ASSERT_STRING_EQUAL(st.kernel, "branin");
    CU_ASSERT_STRING_EQUAL(st.optimizer, "bohb");
    CU_ASSERT_EQUAL(st.seed, 5);
    hb_sweep_study_at(sw, 1, &st); /* seeds vary fastest, then optimizers, then kernels */
    CU_ASSERT_EQUAL(st.seed, 6);
    CU_ASSERT_STRING_EQUAL(st.optimizer, "bohb");
    hb_sweep_study_at(sw, 2, &st);
    CU_ASSERT_STRING_EQUAL(st.optimizer, "random");
    hb_sweep_study_at(sw, 11, &st);
    CU_ASSERT_STRING_EQUAL(st.kernel, "hartmann6");
    CU_ASSERT_STRING_EQUAL(st.optimizer, "gp");
    CU_ASSERT_EQUAL(st.seed, 6);
    char name[64];
    CU_ASSERT_EQUAL(hb_sweep_file_name(sw, 11, name, sizeof name), HB_OK);
    CU_ASSERT_STRING_EQUAL(name, "hartmann6-gp-6.h5");
    CU_ASSERT_EQUAL(hb_sweep_file_name(sw, 11, name, 8), HB_ERANGE);
    const hb_kernel *k = hb_kernels_find("hartmann6");
    hb_opt_settings s;
    hb_sweep_settings(sw, 11, k, &s);
    CU_ASSERT_STRING_EQUAL(s.optimizer, "gp");
    CU_ASSERT_EQUAL(s.seed, 6);
    CU_ASSERT_EQUAL(s.min_budget, 3);              /* given */
    CU_ASSERT_EQUAL(s.max_budget, k->max_budget);  /* the kernel's */
    CU_ASSERT_EQUAL(s.max_total_budget, 12.5 * k->max_budget);
    CU_ASSERT_EQUAL(s.eta, 2);
    CU_ASSERT_EQUAL(s.bracket_rule, HB_RULE_HPBANDSTER);
    CU_ASSERT_EQUAL(s.sampler.random_fraction, 0);
    CU_ASSERT_EQUAL(hb_sweep_reproducible(sw), 4);
    CU_ASSERT_EQUAL(hb_sweep_eval_delay(sw), 0.5);
    hb_sweep_free(sw);

    /* a list of seeds, a number as the total budget, options in a kernel's name */
    sw = parse("{\"kernels\": [\"counting_ones:2+2\"], \"optimizers\": [\"sh\"], \"seeds\": [9, 0],"
               " \"max_total_budget\": 500}", &err);
    if (sw == NULL) fprintf(stderr, "%s: %s\n", err.where, err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sw);
    CU_ASSERT_EQUAL(hb_sweep_count(sw), 2);
    CU_ASSERT_EQUAL(hb_sweep_file_name(sw, 0, name, sizeof name), HB_OK);
    CU_ASSERT_STRING_EQUAL(name, "counting_ones_2_2-sh-9.h5");
    hb_sweep_settings(sw, 1, hb_kernels_find("counting_ones"), &s);
    CU_ASSERT_EQUAL(s.seed, 0);
    CU_ASSERT_EQUAL(s.max_total_budget, 500);
    CU_ASSERT_EQUAL(s.min_budget, hb_kernels_find("counting_ones")->min_budget);
    CU_ASSERT_EQUAL(hb_sweep_reproducible(sw), 0);
    hb_sweep_free(sw);
}

static void test_canonical(void)
{
    hb_error err;
    hb_sweep *a = parse("{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"], \"seeds\": [1, 2],"
                        " \"settings\": {\"eta\": 3, \"min_budget\": 1}}", &err);
    hb_sweep *b = parse("{\n  \"settings\": {\"min_budget\": 1,\n \"eta\": 3},\n  \"seeds\": [1, 2],"
                        "\"optimizers\": [\"bohb\"], \"kernels\": [\"branin\"]\n}\n", &err);
    hb_sweep *c = parse("{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"], \"seeds\": [2, 1],"
                        " \"settings\": {\"eta\": 3, \"min_budget\": 1}}", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(hb_sweep_canonical(a), hb_sweep_canonical(b));
    CU_ASSERT(strcmp(hb_sweep_canonical(a), hb_sweep_canonical(c)) != 0); /* the order of studies differs */
    CU_ASSERT(strchr(hb_sweep_canonical(a), '\n') == NULL);
    /* the canonical text reads back as the same sweep */
    hb_sweep *d = parse(hb_sweep_canonical(a), &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_STRING_EQUAL(hb_sweep_canonical(a), hb_sweep_canonical(d));
    hb_sweep_free(a);
    hb_sweep_free(b);
    hb_sweep_free(c);
    hb_sweep_free(d);
}

static void test_errors(void)
{
    static const struct {
        const char *text, *where, *msg;
    } cases[] = {
        {"{\"kernels\": [\"branin\"],\n \"optimizers\": [\"bohb\"], \"seeds\": [1], \"sedes\": 1}", "S.json:2:49",
         "unknown key \"sedes\""},
        {"{\"kernels\": [\"branin\", \"nosuch\"], \"optimizers\": [\"bohb\"], \"seeds\": [1]}", "S.json:1:24",
         "unknown kernel 'nosuch'"},
        {"{\"kernels\": [\"branin:x=1\"], \"optimizers\": [\"bohb\"], \"seeds\": [1]}", "S.json:1:14",
         "kernel 'branin:x=1'"},
        {"{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\", \"bohbb\"], \"seeds\": [1]}", "S.json:1:48",
         "unknown optimizer 'bohbb'"},
        {"{\"kernels\": [\"branin\", \"branin\"], \"optimizers\": [\"bohb\"], \"seeds\": [1]}", "S.json:1:24",
         "names 'branin' twice"},
        {"{\"kernels\": [], \"optimizers\": [\"bohb\"], \"seeds\": [1]}", "S.json:1:13", "non-empty array"},
        {"{\"optimizers\": [\"bohb\"], \"seeds\": [1]}", "S.json:1:1", "missing \"kernels\""},
        {"{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"],\n\"seeds\": [1, -2]}", "S.json:2:14",
         "a seed is an integer >= 0"},
        {"{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"], \"seeds\": [3, 3]}", "S.json:1:62", "given twice"},
        {"{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"], \"seeds\": {\"from\": 0}}", "S.json:1:58",
         "needs \"from\" and \"count\""},
        {"{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"], \"seeds\": {\"from\": 0, \"count\": 0}}",
         "S.json:1:79", "\"count\" must be"},
        {"{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"], \"seeds\": [1], \"max_total_budget\": \"100\"}",
         "S.json:1:83", "\"100x\""},
        {"{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"], \"seeds\": [1], \"max_total_budget\": -3}",
         "S.json:1:83", "above 0"},
        {"{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"], \"seeds\": [1],\n \"settings\": {\"eta\": 1}}",
         "S.json:2:22", "\"eta\" must be above 1"},
        {"{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"], \"seeds\": [1],\n \"settings\": {\"etaa\": 3}}",
         "S.json:2:23", "unknown key \"etaa\""},
        {"{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"], \"seeds\": [1],\n \"settings\": "
         "{\"min_budget\": 9, \"max_budget\": 3}}", "S.json:2:46", "below \"min_budget\""},
        {"{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"], \"seeds\": [1],\n \"settings\": "
         "{\"acquisition\": \"ucb\"}}", "S.json:2:30", "\"ei\" or \"pi\""},
        {"{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"], \"seeds\": [1],\n \"settings\": "
         "{\"reproducible\": 1.5}}", "S.json:2:31", "integer"},
        {"{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"]\n \"seeds\": [1]}", "S.json:2:8", "expected"},
        {"[1, 2]", "S.json:1:1", "a sweep is a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hb_error err;
        hb_sweep *sw = parse(cases[i].text, &err);
        CU_ASSERT_PTR_NULL(sw);
        hb_sweep_free(sw);
        CU_ASSERT_EQUAL(err.status, HB_ESYNTAX);
        if (strcmp(err.where, cases[i].where) || !strstr(err.msg, cases[i].msg)) {
            fprintf(stderr, "case %zu: got %s: %s\n", i, err.where, err.msg);
            CU_FAIL("error position or message");
        }
    }
    /* A NUL byte inside the text (it made the space reader loop forever, issue 19): refused
     * where it is. */
    static const char nul[] = "{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"],\n \"seeds\": [1\0, 2]}";
    hb_sweep *sw = NULL;
    hb_error err;
    hb_error_clear(&err);
    CU_ASSERT_EQUAL(hb_sweep_parse(nul, sizeof nul - 1, "S.json", hb_kernels_find, &sw, &err), HB_ESYNTAX);
    CU_ASSERT_PTR_NULL(sw);
    CU_ASSERT_STRING_EQUAL(err.where, "S.json:2:13");
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "NUL byte"));
}

/* CPU seconds since an arbitrary start. */
static double cpu_seconds(void) { return (double)clock() / CLOCKS_PER_SEC; }

/* Long lists in time linear in their length (issue 19; fuzz_sweep's linear-time check found
 * both): every seed was compared with every earlier one, so 130,000 seeds (800 KB) with one given
 * twice at the end took 250 s under ASan; and each kernel's options build its space, whose
 * parameter names were compared pairwise, so 200 "counting_ones:1024+1024" took 110 s. The inputs are made here: they are a megabyte of the same few bytes. */
static void test_long_lists(void)
{
    size_t n = 130000;
    hb_buf b = HB_BUF_INIT;
    hb_buf_puts(&b, "{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"],\n\"seeds\": [");
    for (size_t i = 0; i < n; i++) hb_buf_printf(&b, "%zu, ", i);
    size_t col = b.len - strlen("{\"kernels\": [\"branin\"], \"optimizers\": [\"bohb\"],\n") + 1;
    hb_buf_puts(&b, "77]}");
    CU_ASSERT_FATAL(!b.failed);
    hb_error err;
    double t0 = cpu_seconds();
    hb_sweep *sw = parse(b.data, &err);
    double t = cpu_seconds() - t0;
    CU_ASSERT_PTR_NULL(sw);
    char where[64];
    snprintf(where, sizeof where, "S.json:2:%zu", col);
    CU_ASSERT_STRING_EQUAL(err.where, where);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "seed 77 is given twice"));
    if (t > 1) fprintf(stderr, "130000 seeds took %.1f s\n", t);
    CU_ASSERT(t < 1); /* 0.08 s, and 3.1 s before (gcc -O2) */
    /* all distinct: the studies are read */
    b.len -= strlen("77]}");
    hb_buf_puts(&b, "130000]}");
    t0 = cpu_seconds();
    sw = parse(b.data, &err);
    t = cpu_seconds() - t0;
    CU_ASSERT_PTR_NOT_NULL(sw);
    if (sw) CU_ASSERT_EQUAL(hb_sweep_count(sw), n + 1);
    hb_sweep_free(sw);
    CU_ASSERT(t < 1);

    /* a thousand kernels of 2048 parameters each are read (0.4 s, and 7.4 s before: test_space's
     * "names found in constant time" times that part); one more is refused */
    hb_buf_reset(&b);
    hb_buf_puts(&b, "{\"optimizers\": [\"bohb\"], \"seeds\": [1], \"kernels\": [");
    for (size_t i = 0; i < 1000; i++) hb_buf_printf(&b, "\"counting_ones:%0*d+1024\", ", (int)(4 + i), 1024);
    b.len -= 2;
    hb_buf_puts(&b, "]}");
    sw = parse(b.data, &err);
    if (sw == NULL) fprintf(stderr, "%s: %s\n", err.where, err.msg);
    CU_ASSERT_PTR_NOT_NULL(sw);
    hb_sweep_free(sw);
    b.len -= 2;
    hb_buf_puts(&b, ", \"branin\"]}");
    sw = parse(b.data, &err);
    CU_ASSERT_PTR_NULL(sw);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "\"kernels\" names more than 1000"));
    hb_buf_fini(&b);
}

/* A kernel with optimum 1 and no exact loss, for trajectories made by hand. */
static int no_space(const char *args, hb_space **out, hb_error *err)
{
    (void)args, (void)out;
    return hb_error_set(err, HB_EINVAL, NULL, "none");
}

static void test_regret(void)
{
    hb_kernel k = {HB_KERNEL_ABI, "fake", "", 1, 9, 1.0, 1, no_space, NULL, NULL, NULL};
    double x[1] = {0};
    /* budget, loss, status: only ok trials at the max budget (9) count */
    hb_trial t[] = {
        {0, x, 1, 0.5, HB_TRIAL_OK, 0, 0, 0, 0, 0, NULL, NULL, 0, HB_NO_JOB, 1},    /* low budget: no regret yet */
        {1, x, 9, 4.0, HB_TRIAL_OK, 0, 1, 0, 0, 0, NULL, NULL, 1, HB_NO_JOB, 9},    /* regret 3 at cum 10 */
        {2, x, 9, 0.0, HB_TRIAL_FAILED, 0, 1, 0, 0, 0, NULL, NULL, 2, HB_NO_JOB, 9}, /* failed: ignored */
        {3, x, 3, 0.1, HB_TRIAL_OK, 0, 1, 0, 0, 0, NULL, NULL, 3, HB_NO_JOB, 3},    /* below the max budget */
        {4, x, 9, 4.0, HB_TRIAL_OK, 0, 1, 0, 0, 0, NULL, NULL, 4, HB_NO_JOB, 9},    /* a tie changes nothing */
        {5, x, 9, 0.5, HB_TRIAL_OK, 0, 1, 0, 0, 0, NULL, NULL, 5, HB_NO_JOB, 9},    /* below the optimum: regret 0 at 40 */
        {6, x, 9, 2.0, HB_TRIAL_OK, 0, 1, 0, 0, 0, NULL, NULL, 6, HB_NO_JOB, 9},    /* worse: no change; the end at 49 */
    };
    hb_study_regret r;
    hb_error err;
    hb_error_clear(&err);
    CU_ASSERT_EQUAL_FATAL(hb_study_regret_of(&k, NULL, 9, t, 7, &r, &err), HB_OK);
    CU_ASSERT_EQUAL(r.evaluations, 7);
    CU_ASSERT_EQUAL(r.total_budget, 49);
    CU_ASSERT_EQUAL(r.final, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 3);
    CU_ASSERT(r.traj[0].budget == 10 && r.traj[0].regret == 3);
    CU_ASSERT(r.traj[1].budget == 40 && r.traj[1].regret == 0);
    CU_ASSERT(r.traj[2].budget == 49 && r.traj[2].regret == 0);
    hb_study_regret_fini(&r);
    /* the last change at the very end: no extra point */
    CU_ASSERT_EQUAL_FATAL(hb_study_regret_of(&k, NULL, 9, t, 6, &r, &err), HB_OK);
    CU_ASSERT_EQUAL(r.n, 2);
    hb_study_regret_fini(&r);
    /* nothing at the max budget: no trajectory, final undefined */
    CU_ASSERT_EQUAL_FATAL(hb_study_regret_of(&k, NULL, 9, t, 1, &r, &err), HB_OK);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT(isnan(r.final));
    CU_ASSERT_EQUAL(r.total_budget, 1);
    hb_study_regret_fini(&r);
    /* an unknown optimum: undefined too */
    k.optimum = NAN;
    CU_ASSERT_EQUAL_FATAL(hb_study_regret_of(&k, NULL, 9, t, 7, &r, &err), HB_OK);
    CU_ASSERT(isnan(r.final) && r.n == 0);
    hb_study_regret_fini(&r);
}

static void test_quantile(void)
{
    /* numpy.quantile(v, q) with the default 'linear' method */
    double v[] = {1, 2, 4, 10};
    CU_ASSERT_DOUBLE_EQUAL(hb_quantile_sorted(v, 4, 0.5), 3.0, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(hb_quantile_sorted(v, 4, 0.25), 1.75, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(hb_quantile_sorted(v, 4, 0.75), 5.5, 1e-15);
    CU_ASSERT_EQUAL(hb_quantile_sorted(v, 4, 0), 1);
    CU_ASSERT_EQUAL(hb_quantile_sorted(v, 4, 1), 10);
    CU_ASSERT_EQUAL(hb_quantile_sorted(v, 1, 0.75), 1);
    CU_ASSERT(isnan(hb_quantile_sorted(v, 0, 0.5)));
    double w[] = {1, 3, INFINITY}; /* an undefined regret counts as the worst */
    CU_ASSERT_EQUAL(hb_quantile_sorted(w, 3, 0.5), 3);
    CU_ASSERT(isinf(hb_quantile_sorted(w, 3, 0.75)));
}

int hb_test_add_sweep(void)
{
    CU_pSuite s = CU_add_suite("sweep", NULL, NULL);
    if (s == NULL) return -1;
    if (!CU_add_test(s, "studies, names, settings", test_studies) || !CU_add_test(s, "canonical text", test_canonical) ||
        !CU_add_test(s, "errors at line:col", test_errors) || !CU_add_test(s, "long lists in linear time", test_long_lists) || !CU_add_test(s, "regret trajectory", test_regret) ||
        !CU_add_test(s, "quantiles", test_quantile))
        return -1;
    return 0;
}
