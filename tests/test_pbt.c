/* test_pbt.c — the population optimisers pbt and pb2 as ask/tell state machines: who is ranked
 * when, the exploit (which checkpoint, which lineage), the explore (perturbation factors,
 * neighbouring choices, resampling, fixed parameters kept), the end of the run, failures, the
 * stop rules, determinism, bad settings. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hb_buf.h"
#include "hb_opt.h"
#include "hb_test.h"

enum { LR, WIDTH, ACT, K }; /* parameter indices */

/* lr (log float) and act (categorical) and k (int) mutable; width (int) fixed. */
static hb_space *pop_space(void)
{
    hb_space *sp = NULL;
    hb_space_create(&sp);
    hb_value acts[] = {{1, 0, "relu"}, {1, 0, "tanh"}, {1, 0, "elu"}, {1, 0, "gelu"}};
    hb_space_add_float(sp, "lr", 1e-4, 1, HB_SCALE_LOG, NAN, NULL);
    hb_space_add_int(sp, "width", 1, 100, HB_SCALE_LINEAR, NAN, NULL);
    hb_space_add_categorical(sp, "act", acts, 4, NULL, -1, NULL);
    hb_space_add_int(sp, "k", 1, 1000, HB_SCALE_LOG, NAN, NULL);
    CU_ASSERT_FATAL(hb_space_set_mutable(sp, "lr", 1, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_set_mutable(sp, "act", 1, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_set_mutable(sp, "k", 1, NULL) == HB_OK);
    CU_ASSERT_FATAL(hb_space_finalize(sp, NULL, NULL) == HB_OK);
    return sp;
}

static hb_opt *make(const hb_space *sp, const char *name, uint64_t seed, int pop, double resample)
{
    hb_opt_settings s;
    hb_opt_settings_init(&s);
    s.optimizer = name;
    s.seed = seed;
    s.min_budget = 1;
    s.max_budget = 4;
    s.pbt_population = pop;
    s.pbt_resample = resample;
    hb_opt *o = NULL;
    hb_error err;
    CU_ASSERT_FATAL(hb_opt_create(sp, &s, &o, &err) == HB_OK);
    return o;
}

typedef struct copy {
    hb_job j;
    double x[4];
} copy;

static void ask(hb_opt *o, copy *c)
{
    CU_ASSERT_FATAL(hb_opt_ask(o, &c->j, NULL) == HB_OK);
    if (c->j.kind == HB_ASK_JOB) memcpy(c->x, c->j.x, sizeof c->x);
}

/* Is v one of donor·0.8, donor·1.2 (within rounding), or a bound it was clamped to? */
static int perturbed_float(double v, double donor, double lo, double hi)
{
    double a = donor * 0.8, b = donor * 1.2;
    a = a < lo ? lo : a > hi ? hi : a;
    b = b < lo ? lo : b > hi ? hi : b;
    return fabs(v - a) <= 1e-12 * fabs(a) || fabs(v - b) <= 1e-12 * fabs(b);
}

static int perturbed_int(double v, double donor, double lo, double hi)
{
    for (int up = 0; up < 2; up++) {
        double w = round(donor * (up ? 1.2 : 0.8));
        if (w == donor) w = donor + (up ? 1 : -1);
        w = w < lo ? lo : w > hi ? hi : w;
        if (v == w) return 1;
    }
    return 0;
}

/* A first round of P steps told with 'loss[i]' in member order: the members that told first are
 * not ranked (the population has no result at that step yet); the last one is, against all. */
static void first_round(hb_opt *o, int pop, const double *loss, copy *first)
{
    for (int i = 0; i < pop; i++) {
        ask(o, &first[i]);
        CU_ASSERT_EQUAL(first[i].j.kind, HB_ASK_JOB);
        CU_ASSERT_EQUAL(first[i].j.bracket, i);
        CU_ASSERT_EQUAL(first[i].j.stage, 0);
        CU_ASSERT_EQUAL(first[i].j.budget, 1);
        CU_ASSERT_EQUAL(first[i].j.prev, HB_NO_JOB);
        CU_ASSERT_EQUAL(first[i].j.config, first[i].j.id);
    }
    copy w;
    ask(o, &w);
    CU_ASSERT_EQUAL(w.j.kind, HB_ASK_WAIT); /* every member is running */
    for (int i = 0; i < pop; i++) CU_ASSERT_EQUAL(hb_opt_tell(o, first[i].j.id, loss[i], HB_TRIAL_OK, NULL), HB_OK);
}

static void test_exploit_explore(void)
{
    hb_space *sp = pop_space();
    int hits_up = 0, hits_down = 0;
    for (uint64_t seed = 0; seed < 40; seed++) {
        hb_opt *o = make(sp, "pbt", seed, 4, 0); /* no resampling: perturbation only */
        copy f[4], n[4];
        double loss[4] = {0.1, 0.2, 0.3, 0.9};
        first_round(o, 4, loss, f);
        for (int i = 0; i < 4; i++) ask(o, &n[i]);
        /* members 0..2 continue their own checkpoint unchanged, in the order they became ready */
        for (int i = 0; i < 3; i++) {
            CU_ASSERT_EQUAL(n[i].j.bracket, i);
            CU_ASSERT_EQUAL(n[i].j.prev, f[i].j.id);
            CU_ASSERT_EQUAL(n[i].j.prev_budget, 1);
            CU_ASSERT_EQUAL(n[i].j.budget, 2);
            CU_ASSERT_EQUAL(n[i].j.stage, 1);
            CU_ASSERT_EQUAL(n[i].j.config, f[i].j.config);
            CU_ASSERT(memcmp(n[i].x, f[i].x, sizeof n[i].x) == 0);
        }
        /* member 3, the worst of 4 (quantile 0.25: one member), copies the best, member 0 */
        copy *m = &n[3];
        CU_ASSERT_EQUAL(m->j.bracket, 3);
        CU_ASSERT_EQUAL(m->j.prev, f[0].j.id);
        CU_ASSERT_EQUAL(m->j.prev_budget, 1);
        CU_ASSERT_EQUAL(m->j.budget, 2);
        CU_ASSERT_EQUAL(m->j.config, f[0].j.config); /* the model's lineage comes with it */
        CU_ASSERT_EQUAL(m->x[WIDTH], f[0].x[WIDTH]); /* fixed: the donor's */
        CU_ASSERT(perturbed_float(m->x[LR], f[0].x[LR], 1e-4, 1));
        CU_ASSERT(perturbed_int(m->x[K], f[0].x[K], 1, 1000));
        double d = m->x[ACT] - f[0].x[ACT];
        CU_ASSERT(fabs(d) == 1 || (d == 0 && (f[0].x[ACT] == 0 || f[0].x[ACT] == 3)));
        CU_ASSERT_EQUAL(hb_space_validate(sp, m->x, NULL), HB_OK);
        hits_up += m->x[LR] > f[0].x[LR];
        hits_down += m->x[LR] < f[0].x[LR];
        hb_opt_free(o);
    }
    CU_ASSERT(hits_up > 5 && hits_down > 5); /* both factors are used */
    hb_space_free(sp);
}

static void test_resample(void)
{
    hb_space *sp = pop_space();
    int fresh = 0;
    for (uint64_t seed = 0; seed < 20; seed++) {
        hb_opt *o = make(sp, "pbt", seed, 4, 1.0); /* always drawn afresh */
        copy f[4], n[4];
        double loss[4] = {0.5, 0.2, 0.3, 0.9};
        first_round(o, 4, loss, f);
        for (int i = 0; i < 4; i++) ask(o, &n[i]);
        CU_ASSERT_EQUAL(n[3].j.prev, f[1].j.id);
        CU_ASSERT_EQUAL(n[3].x[WIDTH], f[1].x[WIDTH]);
        CU_ASSERT_EQUAL(hb_space_validate(sp, n[3].x, NULL), HB_OK);
        fresh += !perturbed_float(n[3].x[LR], f[1].x[LR], 1e-4, 1);
        hb_opt_free(o);
    }
    CU_ASSERT(fresh >= 18);
    hb_space_free(sp);
}

/* P = 8, quantile 0.25: the two worst copy one of the two best; others never. */
static void test_quantiles(void)
{
    hb_space *sp = pop_space();
    int donor_count[8] = {0};
    for (uint64_t seed = 0; seed < 30; seed++) {
        hb_opt *o = make(sp, "pbt", seed, 8, 0);
        copy f[8], n[8];
        /* members 6 and 7 worst, told last but one and last: 6 is ranked only once all have a
         * result, which is after 7 tells; so tell 7 before 6 */
        double loss[8] = {0.3, 0.1, 0.2, 0.4, 0.5, 0.6, 0.95, 0.9};
        for (int i = 0; i < 8; i++) ask(o, &f[i]);
        for (int i = 0; i < 6; i++) hb_opt_tell(o, f[i].j.id, loss[i], HB_TRIAL_OK, NULL);
        hb_opt_tell(o, f[7].j.id, loss[7], HB_TRIAL_OK, NULL); /* 6 has no result: nobody ranked */
        hb_opt_tell(o, f[6].j.id, loss[6], HB_TRIAL_OK, NULL); /* 6 ranked: the worst */
        for (int i = 0; i < 8; i++) ask(o, &n[i]);
        int copied = 0;
        for (int i = 0; i < 8; i++) {
            int b = n[i].j.bracket;
            CU_ASSERT_EQUAL(n[i].j.budget, 2);
            if (n[i].j.prev == f[b].j.id) continue;
            copied++;
            CU_ASSERT_EQUAL(b, 6);
            CU_ASSERT(n[i].j.prev == f[1].j.id || n[i].j.prev == f[2].j.id);
            donor_count[n[i].j.prev == f[1].j.id ? 1 : 2]++;
        }
        CU_ASSERT_EQUAL(copied, 1);
        /* step 1, told in the order asked (6 last). Member 7 was in the bottom at step 0 but
         * told before everyone had a result, so it is ranked at step 0 now, when it tells step
         * 1 (member 6 has not finished step 1): it copies member 1 or 2, whose latest checkpoints
         * are their step-1 jobs by then. Member 6, told last, is ranked at step 1: the best. */
        double loss2[8] = {0.2, 0.05, 0.1, 0.3, 0.4, 0.5, 0.01, 0.7};
        for (int i = 0; i < 8; i++) hb_opt_tell(o, n[i].j.id, loss2[n[i].j.bracket], HB_TRIAL_OK, NULL);
        uint64_t step1[8];
        for (int q = 0; q < 8; q++) step1[n[q].j.bracket] = n[q].j.id;
        copy t[8];
        int copied2 = 0;
        for (int i = 0; i < 8; i++) ask(o, &t[i]);
        for (int i = 0; i < 8; i++) {
            int b = t[i].j.bracket;
            if (t[i].j.prev == step1[b]) continue;
            copied2++;
            CU_ASSERT_EQUAL(b, 7);
            CU_ASSERT(t[i].j.prev == step1[1] || t[i].j.prev == step1[2]);
        }
        CU_ASSERT_EQUAL(copied2, 1);
        hb_opt_free(o);
    }
    CU_ASSERT(donor_count[1] > 3 && donor_count[2] > 3); /* drawn among the top, not always one */
    hb_space_free(sp);
}

/* Run a whole population to the end, a loss that falls with the budget; returns the jobs. */
static size_t run_all(hb_opt *o, hb_job *log, double (*xs)[4], size_t cap, int fail_member)
{
    size_t n = 0;
    copy c[64];
    size_t nc = 0;
    for (int guard = 0; guard < 10000; guard++) {
        copy j;
        ask(o, &j);
        if (j.j.kind == HB_ASK_JOB) {
            CU_ASSERT_FATAL(n < cap);
            log[n] = j.j;
            memcpy(xs[n], j.x, sizeof j.x);
            n++;
            c[nc++] = j;
            if (nc < 3) continue; /* keep three running: asynchronous */
        } else if (j.j.kind == HB_ASK_DONE) {
            break;
        } else if (nc == 0) {
            CU_FAIL("wait with nothing running");
            break;
        }
        /* tell the oldest */
        copy t = c[0];
        memmove(c, c + 1, (nc - 1) * sizeof *c);
        nc--;
        double loss = fabs(log10(t.x[LR]) + 2) + 1.0 / t.j.budget;
        hb_trial_status st = t.j.bracket == fail_member ? HB_TRIAL_CRASHED : HB_TRIAL_OK;
        CU_ASSERT_EQUAL(hb_opt_tell(o, t.j.id, loss, st, NULL), HB_OK);
    }
    return n;
}

static void test_to_the_end(void)
{
    hb_space *sp = pop_space();
    for (int pb2 = 0; pb2 < 2; pb2++) {
        hb_opt *o = make(sp, pb2 ? "pb2" : "pbt", 7, 6, 0);
        hb_job log[200];
        double xs[200][4];
        size_t n = run_all(o, log, xs, 200, -1);
        CU_ASSERT_EQUAL(hb_opt_pending(o), 0);
        /* every member's last job reaches the max budget; each job is one interval on top of the
         * checkpoint it continues, whose job came earlier at that budget */
        int reached[6] = {0};
        for (size_t i = 0; i < n; i++) {
            CU_ASSERT(log[i].bracket >= 0 && log[i].bracket < 6);
            CU_ASSERT_EQUAL(log[i].budget, log[i].prev_budget + 1);
            CU_ASSERT_EQUAL(log[i].stage, (int)log[i].budget - 1);
            CU_ASSERT_EQUAL(hb_space_validate(sp, xs[i], NULL), HB_OK);
            if (log[i].prev != HB_NO_JOB) {
                CU_ASSERT(log[i].prev < log[i].id);
                CU_ASSERT_EQUAL(log[log[i].prev].budget, log[i].prev_budget);
                CU_ASSERT_EQUAL(log[log[i].prev].config, log[i].config); /* lineage */
                if (log[log[i].prev].bracket == log[i].bracket) /* its own: fixed values kept */
                    CU_ASSERT_EQUAL(xs[log[i].prev][WIDTH], xs[i][WIDTH]);
            } else {
                CU_ASSERT_EQUAL(log[i].config, log[i].id);
            }
            if (log[i].budget == 4) reached[log[i].bracket] = 1;
        }
        for (int m = 0; m < 6; m++) CU_ASSERT(reached[m]);
        CU_ASSERT(n >= 24);
        hb_opt_free(o);
    }
    hb_space_free(sp);
}

static void test_deterministic(void)
{
    hb_space *sp = pop_space();
    for (int pb2 = 0; pb2 < 2; pb2++) {
        hb_job a[200], b[200];
        double xa[200][4], xb[200][4];
        hb_opt *o = make(sp, pb2 ? "pb2" : "pbt", 3, 5, 0);
        size_t na = run_all(o, a, xa, 200, -1);
        hb_opt_free(o);
        o = make(sp, pb2 ? "pb2" : "pbt", 3, 5, 0);
        size_t nb = run_all(o, b, xb, 200, -1);
        hb_opt_free(o);
        CU_ASSERT_EQUAL(na, nb);
        int same = na == nb;
        for (size_t i = 0; same && i < na; i++)
            same = a[i].prev == b[i].prev && a[i].config == b[i].config && a[i].budget == b[i].budget &&
                   memcmp(xa[i], xb[i], sizeof xa[i]) == 0;
        CU_ASSERT(same);
        o = make(sp, pb2 ? "pb2" : "pbt", 4, 5, 0);
        nb = run_all(o, b, xb, 200, -1);
        hb_opt_free(o);
        CU_ASSERT(memcmp(xa[0], xb[0], sizeof xa[0]) != 0); /* another seed, other jobs */
    }
    hb_space_free(sp);
}

/* A member whose steps always fail: it copies the top while it can, and is retired after three
 * failures in a row; the others still reach the end. */
static void test_failures(void)
{
    hb_space *sp = pop_space();
    hb_opt *o = make(sp, "pbt", 1, 4, 0);
    hb_job log[200];
    double xs[200][4];
    size_t n = run_all(o, log, xs, 200, 2);
    int jobs2 = 0, reached[4] = {0};
    for (size_t i = 0; i < n; i++) {
        jobs2 += log[i].bracket == 2;
        if (log[i].budget == 4) reached[log[i].bracket] = 1;
    }
    CU_ASSERT_EQUAL(jobs2, 3);
    CU_ASSERT(reached[0] && reached[1] && reached[3] && !reached[2]);
    hb_opt_free(o);
    hb_space_free(sp);
}

/* The stop rules charge a step what it adds, not its whole budget. */
static void test_budget_charged(void)
{
    hb_space *sp = pop_space();
    hb_opt_settings s;
    hb_opt_settings_init(&s);
    s.optimizer = "pbt";
    s.min_budget = 1;
    s.max_budget = 10;
    s.pbt_population = 4;
    s.pbt_interval = 2;
    s.max_total_budget = 16; /* 8 steps of 2 */
    hb_opt *o = NULL;
    CU_ASSERT_FATAL(hb_opt_create(sp, &s, &o, NULL) == HB_OK);
    hb_job log[100];
    double xs[100][4];
    size_t n = run_all(o, log, xs, 100, -1);
    CU_ASSERT_EQUAL(n, 8);
    for (size_t i = 0; i < n; i++) CU_ASSERT_EQUAL(log[i].budget - log[i].prev_budget, 2);
    hb_opt_free(o);
    /* an interval that does not divide max_budget: the last step is shorter */
    s.max_total_budget = 0;
    s.pbt_interval = 3;
    CU_ASSERT_FATAL(hb_opt_create(sp, &s, &o, NULL) == HB_OK);
    n = run_all(o, log, xs, 100, -1);
    int last = 0;
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT(log[i].budget == 3 || log[i].budget == 6 || log[i].budget == 9 || log[i].budget == 10);
        last += log[i].budget == 10;
    }
    CU_ASSERT(last >= 4);
    hb_opt_free(o);
    hb_space_free(sp);
}

static void test_bad_settings(void)
{
    hb_space *sp = pop_space(), *fixed = NULL;
    hb_space_create(&fixed);
    hb_space_add_float(fixed, "x", 0, 1, HB_SCALE_LINEAR, NAN, NULL);
    hb_space_finalize(fixed, NULL, NULL);
    hb_opt_settings s;
    hb_opt *o = NULL;
    hb_error err;
    hb_opt_settings_init(&s);
    s.optimizer = "pbt";
    s.max_budget = 4;
    CU_ASSERT_EQUAL(hb_opt_create(fixed, &s, &o, &err), HB_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "mutable"));
    s.pbt_population = 1;
    CU_ASSERT_EQUAL(hb_opt_create(sp, &s, &o, &err), HB_EINVAL);
    s.pbt_population = 0;
    s.pbt_interval = 5;
    CU_ASSERT_EQUAL(hb_opt_create(sp, &s, &o, &err), HB_EINVAL);
    s.pbt_interval = 0;
    s.pbt_quantile = 0.6;
    CU_ASSERT_EQUAL(hb_opt_create(sp, &s, &o, &err), HB_EINVAL);
    s.pbt_quantile = 0.25;
    s.pbt_resample = 1.5;
    CU_ASSERT_EQUAL(hb_opt_create(sp, &s, &o, &err), HB_EINVAL);
    s.pbt_resample = 0;
    s.iterations = 2;
    CU_ASSERT_EQUAL(hb_opt_create(sp, &s, &o, &err), HB_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "iterations"));
    CU_ASSERT_PTR_NULL(o);
    int brackets = 1;
    CU_ASSERT(hb_opt_known("pb2", &brackets) && brackets == 0);
    hb_space_free(sp);
    hb_space_free(fixed);
}

/* Mutable parameters: set before finalize, refused in a condition, kept by the JSON round trip. */
static void test_mutable_space(void)
{
    hb_space *sp = NULL;
    hb_error err;
    hb_space_create(&sp);
    hb_value ab[] = {{1, 0, "a"}, {1, 0, "b"}};
    hb_space_add_categorical(sp, "c", ab, 2, NULL, -1, NULL);
    hb_space_add_float(sp, "x", 0, 1, HB_SCALE_LINEAR, NAN, NULL);
    CU_ASSERT_EQUAL(hb_space_set_mutable(sp, "nope", 1, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(hb_space_set_mutable(sp, "c", 1, &err), HB_OK);
    hb_cond_spec cond = {HB_COND_EQ, "c", &ab[0], 1, NULL, 0};
    CU_ASSERT_EQUAL(hb_space_add_condition(sp, "x", &cond, &err), HB_OK);
    int where = -2;
    CU_ASSERT_EQUAL(hb_space_finalize(sp, &where, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(where, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "'c' is mutable"));
    CU_ASSERT_EQUAL(hb_space_set_mutable(sp, "c", 0, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_set_mutable(sp, "x", 1, &err), HB_OK);
    CU_ASSERT_EQUAL(hb_space_finalize(sp, &where, &err), HB_EINVAL); /* x has a condition */
    hb_space_free(sp);
    const char *text = "{\"parameters\": [{\"name\": \"lr\", \"type\": \"uniform_float\", \"lower\": 0.001, "
                       "\"upper\": 1, \"log\": true, \"meta\": {\"mutable\": true}}, {\"name\": \"n\", "
                       "\"type\": \"int\", \"lower\": 1, \"upper\": 9, \"mutable\": false}]}";
    CU_ASSERT_FATAL(hb_space_parse(text, strlen(text), "t.json", &sp, &err) == HB_OK);
    CU_ASSERT(hb_space_is_mutable(sp, 0) && !hb_space_is_mutable(sp, 1));
    CU_ASSERT_EQUAL(hb_space_n_mutable(sp), 1);
    hb_buf b = HB_BUF_INIT;
    hb_space_json(sp, &b);
    hb_space *back = NULL;
    CU_ASSERT_FATAL(hb_space_parse(b.data, b.len, "back.json", &back, &err) == HB_OK);
    CU_ASSERT(hb_space_is_mutable(back, 0) && !hb_space_is_mutable(back, 1));
    hb_buf_fini(&b);
    hb_space_free(back);
    hb_space_free(sp);
}

int hb_test_add_pbt(void)
{
    CU_pSuite s = CU_add_suite("pbt", NULL, NULL);
    if (!s) return -1;
    CU_add_test(s, "exploit the best, explore by 0.8 or 1.2", test_exploit_explore);
    CU_add_test(s, "resample draws afresh", test_resample);
    CU_add_test(s, "bottom quantile copies the top quantile", test_quantiles);
    CU_add_test(s, "every member trains to the max budget", test_to_the_end);
    CU_add_test(s, "same seed same jobs", test_deterministic);
    CU_add_test(s, "failing member retired", test_failures);
    CU_add_test(s, "stop rules charge the added budget", test_budget_charged);
    CU_add_test(s, "bad settings refused", test_bad_settings);
    CU_add_test(s, "mutable parameters in spaces", test_mutable_space);
    return 0;
}
