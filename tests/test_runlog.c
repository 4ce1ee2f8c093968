/* test_runlog.c — the event log and its journal records: round trips, a record cut off at every
 * byte (a kill in the middle of an append) or damaged, the trials of a log, and the property that
 * resume stands on: replaying only the logged asks and tells gives the same jobs as the live run,
 * whose extra asks (answered "wait") changed nothing. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hb_kernel.h"
#include "hb_kernels.h"
#include "hb_opt.h"
#include "hb_report.h"
#include "hb_rng.h"
#include "hb_runlog.h"
#include "hb_test.h"

static hb_event ev(int kind, uint64_t id, const double *x, const char *text, const char *extras)
{
    hb_event e = {0, kind, 2, id, 9.0, 1, 0, -0.5, HB_TRIAL_OK, 3, 1.25, 2.5, text, extras, x, id, HB_NO_JOB, NAN};
    return e;
}

static void test_record_roundtrip(void)
{
    double x[3] = {0.5, NAN, -1e300};
    hb_event in[] = {ev(HB_EV_ISSUE, 7, x, NULL, NULL), ev(HB_EV_RESULT, 7, NULL, "a reason", "{\"acc\": 1}"),
                     ev(HB_EV_SESSION, 0, NULL, "{\"host\": \"h\"}", "{}"), ev(HB_EV_WARM, 1, x, NULL, NULL),
                     ev(HB_EV_STOP, 0, NULL, "SIGTERM", NULL), ev(HB_EV_HELD, 9, NULL, "", NULL)};
    for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) {
        in[k].seq = 40 + k;
        unsigned char buf[512];
        size_t n = hb_record_size(&in[k], 3);
        CU_ASSERT_FATAL(n <= sizeof buf && n % 8 == 0 && n >= HB_REC_FIXED);
        hb_record_encode(&in[k], 3, buf);
        hb_event out;
        const unsigned char *xr = NULL;
        CU_ASSERT_EQUAL(hb_record_decode(buf, n, 40 + k, 3, &out, &xr), n);
        CU_ASSERT_EQUAL(out.kind, in[k].kind);
        CU_ASSERT_EQUAL(out.id, in[k].id);
        CU_ASSERT_EQUAL(out.session, 2);
        CU_ASSERT_EQUAL(out.budget, 9.0);
        CU_ASSERT_EQUAL(out.bracket, 1);
        CU_ASSERT_EQUAL(out.worker, 3);
        CU_ASSERT_EQUAL(out.start, 1.25);
        CU_ASSERT_EQUAL(out.end, 2.5);
        CU_ASSERT_EQUAL(out.loss, -0.5);
        if (in[k].text) CU_ASSERT_STRING_EQUAL(out.text, in[k].text);
        if (!in[k].text) CU_ASSERT_PTR_NULL(out.text);
        if (in[k].extras) CU_ASSERT_STRING_EQUAL(out.extras, in[k].extras);
        if (in[k].x) {
            double y[3];
            CU_ASSERT_PTR_NOT_NULL_FATAL(xr);
            hb_record_x(xr, 3, y);
            CU_ASSERT(memcmp(x, y, sizeof y) == 0); /* bit for bit, NaN included */
        } else {
            CU_ASSERT_PTR_NULL(xr);
        }
        /* the wrong sequence number, or too little room, is no record */
        CU_ASSERT_EQUAL(hb_record_decode(buf, n, 41 + k, 3, &out, &xr), 0);
        CU_ASSERT_EQUAL(hb_record_decode(buf, n - 8, 40 + k, 3, &out, &xr), 0);
    }
}

/* A kill during an append leaves the record's first k bytes (any k) and zeros after: the journal
 * must end before it, whatever k; a flipped bit anywhere also ends it. */
static void test_record_torn_and_damaged(void)
{
    double x[2] = {1, 2};
    unsigned char good[1024], buf[1024];
    hb_event a = ev(HB_EV_ISSUE, 0, x, NULL, NULL), b = ev(HB_EV_RESULT, 0, NULL, "failed: exit 3", NULL);
    a.seq = 0;
    b.seq = 1;
    size_t na = hb_record_size(&a, 2), nb = hb_record_size(&b, 2);
    memset(good, 0, sizeof good);
    hb_record_encode(&a, 2, good);
    hb_record_encode(&b, 2, good + na);
    hb_event out;
    const unsigned char *xr;
    CU_ASSERT_EQUAL(hb_record_decode(good + na, sizeof good - na, 1, 2, &out, &xr), nb);
    int all_rejected = 1;
    for (size_t k = 0; k < nb; k++) {
        memset(buf, 0, sizeof buf);
        memcpy(buf, good, na + k);
        CU_ASSERT_EQUAL(hb_record_decode(buf, sizeof buf, 0, 2, &out, &xr), na); /* the first survives */
        /* valid only if what is missing was zeros anyway (the record's padding) */
        int whole = memcmp(buf + na, good + na, nb) == 0;
        if ((hb_record_decode(buf + na, sizeof buf - na, 1, 2, &out, &xr) != 0) != whole) all_rejected = 0;
    }
    CU_ASSERT(all_rejected);
    for (size_t bit = 0; bit < 8 * nb; bit += 7) {
        memcpy(buf, good, sizeof good);
        buf[na + bit / 8] ^= (unsigned char)(1u << (bit % 8));
        if (hb_record_decode(buf + na, sizeof buf - na, 1, 2, &out, &xr) != 0) {
            all_rejected = 0;
            printf("bit %zu of record b was flipped and it still decodes\n", bit);
        }
    }
    CU_ASSERT(all_rejected);
}

static void test_log_and_trials(void)
{
    hb_runlog log;
    hb_runlog_init(&log, 2);
    double x0[2] = {0.1, 0.2}, x1[2] = {0.3, 0.4};
    hb_event e[] = {ev(HB_EV_SESSION, 0, NULL, "{}", "{}"), ev(HB_EV_ISSUE, 0, x0, NULL, NULL),
                    ev(HB_EV_ISSUE, 1, x1, NULL, NULL),    ev(HB_EV_RESULT, 1, NULL, NULL, NULL),
                    ev(HB_EV_HELD, 0, NULL, NULL, NULL),   ev(HB_EV_RESULT, 0, NULL, "boom", NULL)};
    e[5].status = HB_TRIAL_CRASHED;
    for (size_t i = 0; i < 6; i++) CU_ASSERT_EQUAL(hb_runlog_add(&log, &e[i]), HB_OK);
    CU_ASSERT_EQUAL(log.n, 6);
    CU_ASSERT_EQUAL(log.ev[4].seq, 4);
    CU_ASSERT_EQUAL(hb_runlog_x(&log, 2)[1], 0.4);
    CU_ASSERT_PTR_NULL(hb_runlog_x(&log, 3));
    hb_trial *t = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(hb_runlog_trials(&log, &t, &n), HB_OK);
    CU_ASSERT_EQUAL(n, 2); /* the held event is not a trial: each job appears once */
    CU_ASSERT_EQUAL(t[0].id, 1);
    CU_ASSERT_EQUAL(t[0].x[0], 0.3);
    CU_ASSERT_EQUAL(t[1].id, 0);
    CU_ASSERT_EQUAL(t[1].status, HB_TRIAL_CRASHED);
    CU_ASSERT_STRING_EQUAL(t[1].reason, "boom");
    CU_ASSERT_EQUAL(t[1].bracket, 1);
    hb_free(t);
    /* a result for a job never issued */
    hb_event bad = ev(HB_EV_RESULT, 5, NULL, NULL, NULL);
    hb_runlog_add(&log, &bad);
    CU_ASSERT_EQUAL(hb_runlog_trials(&log, &t, &n), HB_EINVAL);
    hb_runlog_fini(&log);
}

/* The live run asks whenever it likes (many asks answer "wait"); the replay asks only where the
 * log has an issue, and takes most configurations from the log instead of proposing them. Both
 * must give the same jobs, for every optimiser: every seventh replayed ask recomputes its
 * proposal, which must come out bit for bit as the live one after the skipped ones. */
static void replay_matches(const char *optimizer)
{
    const hb_kernel *k = hb_kernels_find("branin");
    hb_space *sp = NULL;
    CU_ASSERT_EQUAL_FATAL(k->space(NULL, &sp, NULL), HB_OK);
    hb_opt_settings s;
    hb_opt_settings_init(&s);
    s.optimizer = optimizer;
    s.seed = 11;
    s.min_budget = 1;
    s.max_budget = 27;
    s.max_evals = 60;
    s.max_open_brackets = 3;
    hb_opt *live = NULL, *again = NULL;
    CU_ASSERT_EQUAL_FATAL(hb_opt_create(sp, &s, &live, NULL), HB_OK);
    CU_ASSERT_EQUAL_FATAL(hb_opt_create(sp, &s, &again, NULL), HB_OK);
    size_t dim = hb_space_dim(sp);
    hb_rng rng;
    hb_rng_init(&rng, 5, 0);
    uint64_t out[64];
    size_t n_out = 0, mismatches = 0, jobs = 0;
    for (int step = 0; step < 2000; step++) {
        if (n_out < 4 && hb_rng_uniform(&rng) < 0.6) {
            hb_job j, r;
            CU_ASSERT_EQUAL_FATAL(hb_opt_ask(live, &j, NULL), HB_OK);
            if (j.kind == HB_ASK_DONE) break;
            if (j.kind != HB_ASK_JOB) continue; /* a wait: the replay never sees it */
            /* the replay skips most proposals (takes the logged one) and recomputes some */
            int verify = jobs % 7 == 3;
            CU_ASSERT_EQUAL_FATAL(hb_opt_ask_replay(again, j.x, verify, &r, NULL), HB_OK);
            if (r.kind != HB_ASK_JOB || r.id != j.id || r.budget != j.budget || r.bracket != j.bracket ||
                r.stage != j.stage || memcmp(r.x, j.x, dim * sizeof(double)) != 0)
                mismatches++;
            out[n_out++] = j.id;
            jobs++;
        } else if (n_out > 0) {
            size_t i = (size_t)(hb_rng_uniform(&rng) * (double)n_out);
            double loss = hb_rng_uniform(&rng);
            hb_trial_status st = hb_rng_uniform(&rng) < 0.1 ? HB_TRIAL_FAILED : HB_TRIAL_OK;
            CU_ASSERT_EQUAL(hb_opt_tell(live, out[i], loss, st, NULL), HB_OK);
            CU_ASSERT_EQUAL(hb_opt_tell(again, out[i], loss, st, NULL), HB_OK);
            out[i] = out[--n_out];
        }
    }
    CU_ASSERT(jobs >= 20);
    CU_ASSERT_EQUAL(mismatches, 0);
    hb_opt_free(live);
    hb_opt_free(again);
    hb_space_free(sp);
}

static void test_replay_all_optimizers(void)
{
    const char *all[] = {"random", "grid", "sh", "hyperband", "bohb", "tpe", "gp", "asha"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) replay_matches(all[i]);
}

int hb_test_add_runlog(void)
{
    CU_pSuite s = CU_add_suite("runlog", NULL, NULL);
    if (s == NULL) return -1;
    if (!CU_add_test(s, "record round trip", test_record_roundtrip) ||
        !CU_add_test(s, "torn and damaged records", test_record_torn_and_damaged) ||
        !CU_add_test(s, "log and trials", test_log_and_trials) ||
        !CU_add_test(s, "replay gives the logged jobs", test_replay_all_optimizers))
        return -1;
    return 0;
}
