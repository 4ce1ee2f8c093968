/* test_kernels_toy.c — the pbt_toy kernel (docs/kernels.md §8), the toy problem of the PBT paper:
 * the closed form θi·(1 − 2ηhi)^T with constant h, continuation from a state bit for bit, a state
 * continued with other h following the schedule step by step (a hand loop of §8's update),
 * refused states, the metadata and the space. Expected numbers come from §8's formulas. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_kernels.h"
#include "hb_space.h"
#include "hb_test.h"
#include "pbt_toy_impl.h"

static const hb_kernel *kernel(void) { return hb_kernels_find("pbt_toy"); }
static hb_space *make_space(void) { return hb_test_kernel_space("pbt_toy", NULL); }
#define train_ok(sp, x, budget, from, to, trained, line)                                           \
    hb_test_train_ok("pbt_toy", sp, x, budget, 0, from, to, trained, line)
#define same_bits hb_test_same_bits
#define same_state hb_test_same_state
#define state_f64 hb_test_state_f64
#define state_free hb_test_state_free

/* §8's step, written out: θi ← θi + η·(−2·hi·θi). */
static void hand_steps(double theta[2], const double h[2], int n)
{
    for (int s = 0; s < n; s++)
        for (int i = 0; i < 2; i++) theta[i] += 0.01 * (-2.0 * h[i] * theta[i]);
}

/* Registry, metadata and space: h0, h1 linear floats in [0, 1], both mutable; no options. */
static void test_registry(void)
{
    const hb_kernel *k = kernel();
    hb_error err = {0};
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    EXPECT(hb_kernel_check(k, &err) == HB_OK, "check failed: %s", err.msg);
    CU_ASSERT(hb_kernels_at(hb_kernels_count() - 1) == k);
    CU_ASSERT_EQUAL(k->min_budget, 1.0);
    CU_ASSERT_EQUAL(k->max_budget, 243.0);
    CU_ASSERT_EQUAL(k->optimum, 0.0);
    CU_ASSERT_EQUAL(k->deterministic, 1);
    CU_ASSERT_PTR_NOT_NULL(k->train);
    CU_ASSERT_PTR_NULL(k->exact);
    CU_ASSERT_EQUAL(HB__TOY_ETA, 0.01);
    CU_ASSERT_EQUAL(HB__TOY_THETA0, 0.9);

    hb_space *sp = make_space();
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL_FATAL(hb_space_dim(sp), 2);
    for (size_t i = 0; i < 2; i++) {
        char name[3] = {'h', (char)('0' + i), '\0'};
        EXPECT(strcmp(hb_space_name(sp, i), name) == 0 && hb_space_type(sp, i) == HB_PARAM_FLOAT &&
                   hb_space_lower(sp, i) == 0.0 && hb_space_upper(sp, i) == 1.0 &&
                   hb_space_scale(sp, i) == HB_SCALE_LINEAR && hb_space_is_mutable(sp, i),
               "parameter %zu is '%s' [%g, %g], mutable %d", i, hb_space_name(sp, i),
               hb_space_lower(sp, i), hb_space_upper(sp, i), hb_space_is_mutable(sp, i));
    }
    hb_space_free(sp);
    sp = (hb_space *)&err;
    EXPECT(k->space("x", &sp, &err) == HB_EINVAL && sp == NULL, "an option was not refused");
}

/* Constant h: θi·(1 − 2ηhi)^T, loss θ0² + θ1², to 1e-12; eval is train from scratch; the
 * seed is ignored; a budget rounds half up and is clamped at 243. */
static void test_closed_form(void)
{
    static const double hs[][2] = {{1, 0}, {0, 1}, {1, 1}, {0.5, 0.25}, {0, 0}, {0.9, 0.123}};
    static const double budgets[] = {1, 4, 40, 100, 243};
    hb_space *sp = make_space();
    hb_error err = {0};
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    for (size_t c = 0; c < sizeof hs / sizeof hs[0]; c++)
        for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
            double t, loss = train_ok(sp, hs[c], budgets[b], NULL, NULL, &t, __LINE__);
            double want = 0.0;
            for (int i = 0; i < 2; i++) {
                double th = 0.9 * pow(1.0 - 2.0 * 0.01 * hs[c][i], budgets[b]);
                want += th * th;
            }
            EXPECT(fabs(loss - want) <= 1e-12 * (want > 1.0 ? want : 1.0) && t == budgets[b],
                   "h (%g, %g), %g steps: loss %.17g, closed form %.17g, trained %g", hs[c][0],
                   hs[c][1], budgets[b], loss, want, t);
            double e = NAN, e7 = NAN;
            CU_ASSERT_EQUAL(kernel()->eval(sp, hs[c], budgets[b], 0, &e, &err), HB_OK);
            CU_ASSERT_EQUAL(kernel()->eval(sp, hs[c], budgets[b], 77, &e7, &err), HB_OK);
            EXPECT(same_bits(e, loss) && same_bits(e7, loss), "eval %.17g / %.17g, train %.17g",
                   e, e7, loss);
        }
    /* h = 0 never moves: 2·0.81. A half budget rounds up; above 243 is 243. */
    double loss = train_ok(sp, hs[4], 243, NULL, NULL, NULL, __LINE__);
    CU_ASSERT(same_bits(loss, 0.9 * 0.9 + 0.9 * 0.9));
    CU_ASSERT(same_bits(train_ok(sp, hs[3], 3.5, NULL, NULL, NULL, __LINE__),
                        train_ok(sp, hs[3], 4, NULL, NULL, NULL, __LINE__)));
    CU_ASSERT(same_bits(train_ok(sp, hs[3], 1000, NULL, NULL, NULL, __LINE__),
                        train_ok(sp, hs[3], 243, NULL, NULL, NULL, __LINE__)));
    /* h = (1, 1) for 243 steps, the best any schedule of h in [0, 1] can do there. */
    loss = train_ok(sp, hs[2], 243, NULL, NULL, NULL, __LINE__);
    EXPECT(loss > 8.8e-5 && loss < 8.9e-5, "h = (1, 1) at 243: %.17g", loss);
    hb_space_free(sp);
}

/* Continuing a state is training from scratch, bit for bit, in the loss and in every byte of
 * the state; a state of exactly the budget only re-evaluates; 'to' may be 'from'. */
static void test_prefix(void)
{
    static const double h[2] = {0.7, 0.3};
    hb_space *sp = make_space();
    hb_kernel_state s4 = {0}, s40 = {0}, direct = {0}, again = {0};
    double t;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    train_ok(sp, h, 4, NULL, &s4, &t, __LINE__);
    CU_ASSERT_EQUAL_FATAL(s4.len, HB__TOY_STATE_LEN);
    double resumed = train_ok(sp, h, 40, &s4, &s40, &t, __LINE__);
    CU_ASSERT_EQUAL(t, 36.0);
    double scratch = train_ok(sp, h, 40, NULL, &direct, NULL, __LINE__);
    EXPECT(same_bits(resumed, scratch) && same_state(&s40, &direct),
           "4 + 36: %.17g, 40: %.17g, state bytes %s", resumed, scratch,
           same_state(&s40, &direct) ? "equal" : "differ");
    double re = train_ok(sp, h, 40, &s40, &again, &t, __LINE__);
    CU_ASSERT(t == 0.0 && same_bits(re, scratch) && same_state(&again, &s40));
    hb_kernel_state inplace = s4;
    void *old = s4.data;
    double l = train_ok(sp, h, 40, &inplace, &inplace, &t, __LINE__);
    CU_ASSERT(inplace.data != old && t == 36.0 && same_bits(l, scratch) &&
              same_state(&inplace, &direct));
    hb_free(old);
    state_free(&inplace);
    state_free(&s40);
    state_free(&direct);
    state_free(&again);
    hb_space_free(sp);
}

/* PBT's use: a state continued with other h follows the schedule, step by step as a hand loop
 * of §8's update gives it; the same schedule cut at other boundaries gives the same bits. */
static void test_schedule(void)
{
    static const double h[][2] = {{1, 0}, {0, 1}, {0.25, 0.875}, {1, 1}};
    static const int cut[] = {4, 8, 13, 40}; /* h[k] trains up to step cut[k] */
    hb_space *sp = make_space();
    hb_kernel_state st = {0};
    double theta[2] = {0.9, 0.9};
    int done = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    for (size_t k = 0; k < 4; k++) {
        hb_kernel_state next = {0};
        double t, loss = train_ok(sp, h[k], cut[k], k ? &st : NULL, &next, &t, __LINE__);
        hand_steps(theta, h[k], cut[k] - done);
        EXPECT(t == cut[k] - done && same_bits(loss, theta[0] * theta[0] + theta[1] * theta[1]) &&
                   same_bits(state_f64(&next, HB__TOY_OFF_THETA), theta[0]) &&
                   same_bits(state_f64(&next, HB__TOY_OFF_THETA + 8), theta[1]) &&
                   same_bits(state_f64(&next, HB__TOY_OFF_H), h[k][0]) &&
                   same_bits(state_f64(&next, HB__TOY_OFF_H + 8), h[k][1]),
               "phase %zu: loss %.17g after %g steps, hand loop θ = (%.17g, %.17g)", k, loss, t,
               theta[0], theta[1]);
        done = cut[k];
        state_free(&st);
        st = next;
    }
    /* Not the loss of any one h alone for 40 steps. */
    double final = theta[0] * theta[0] + theta[1] * theta[1];
    for (size_t k = 0; k < 4; k++)
        CU_ASSERT(!same_bits(final, train_ok(sp, h[k], 40, NULL, NULL, NULL, __LINE__)));
    /* The same schedule cut differently: 4 with h0, then straight to 8 with h1 in one call
     * equals 4, 6, 8 with h1. */
    hb_kernel_state a4 = {0}, a6 = {0}, a8 = {0}, b8 = {0};
    train_ok(sp, h[0], 4, NULL, &a4, NULL, __LINE__);
    double one = train_ok(sp, h[1], 8, &a4, &b8, NULL, __LINE__);
    train_ok(sp, h[1], 6, &a4, &a6, NULL, __LINE__);
    double two = train_ok(sp, h[1], 8, &a6, &a8, NULL, __LINE__);
    EXPECT(same_bits(one, two) && same_state(&a8, &b8), "4 + 4: %.17g, 4 + 2 + 2: %.17g", one,
           two);
    /* PBT's toy in two phases reaches what neither h does alone: (1, 0) then (0, 1). */
    CU_ASSERT(one < train_ok(sp, h[0], 8, NULL, NULL, NULL, __LINE__));
    state_free(&a4);
    state_free(&a6);
    state_free(&a8);
    state_free(&b8);
    state_free(&st);
    hb_space_free(sp);
}

/* A state that does not fit is refused with HB_EINVAL, 'to' untouched, the loss NaN. */
static void expect_refused(const hb_space *sp, const double *x, double budget,
                           const hb_kernel_state *from, const char *what, unsigned line)
{
    static char sentinel;
    hb_kernel_state to = {&sentinel, 12345};
    hb_error err = {0};
    double loss = 0.0, t = -1.0;
    int rc = kernel()->train(sp, x, budget, 0, from, &to, &t, &loss, &err);
    hb_test_expect_(rc == HB_EINVAL && err.msg[0] != '\0' && to.data == &sentinel &&
                        to.len == 12345 && isnan(loss) && t == 0.0,
                    __FILE__, line, "%s: status %d (%s), loss %g, trained %g", what, rc,
                    err.msg, loss, t);
}

static void reseal(hb_kernel_state *st)
{
    unsigned char *b = st->data;
    uint64_t h = hb__pbt_toy_state_check(b, HB__TOY_OFF_CHECK);
    for (int i = 0; i < 8; i++) b[HB__TOY_OFF_CHECK + i] = (unsigned char)(h >> (8 * i));
}

/* Another kernel's state, damaged bytes, forged fields, a larger budget, wrong lengths. */
static void test_refused(void)
{
    static const double h[2] = {0.5, 0.5};
    hb_space *sp = make_space();
    hb_kernel_state base = {0}, bad = {0}, cp = {0};
    char what[64];
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    double want = train_ok(sp, h, 10, NULL, &base, NULL, __LINE__);
    CU_ASSERT_EQUAL_FATAL(base.len, HB__TOY_STATE_LEN);

    /* A cartpole state, and this state given to cartpole. */
    const hb_kernel *cartpole = hb_kernels_find("cartpole");
    hb_space *cps = NULL;
    hb_error err = {0};
    static const double cpx[5] = {0.1, 0.99, 1e-3, 0.1, 0.1};
    double l;
    CU_ASSERT_EQUAL_FATAL(cartpole->space(NULL, &cps, &err), HB_OK);
    CU_ASSERT_EQUAL_FATAL(cartpole->train(cps, cpx, 9, 0, NULL, &cp, NULL, &l, &err), HB_OK);
    expect_refused(sp, h, 20, &cp, "a cartpole state", __LINE__);
    CU_ASSERT_EQUAL(cartpole->train(cps, cpx, 27, 0, &base, NULL, NULL, &l, &err), HB_EINVAL);
    state_free(&cp);
    hb_space_free(cps);

    expect_refused(sp, h, 9, &base, "10 steps for a budget of 9", __LINE__);
    expect_refused(sp, h, 9.49, &base, "10 steps for a budget of 9.49", __LINE__);

    bad.data = hb_malloc(base.len);
    bad.len = base.len;
    CU_ASSERT_PTR_NOT_NULL_FATAL(bad.data);
    memcpy(bad.data, base.data, base.len);
    for (size_t i = 0; i < bad.len; i++) {
        unsigned char *b = bad.data;
        b[i] ^= 0x10;
        snprintf(what, sizeof what, "byte %zu ^ 0x10", i);
        expect_refused(sp, h, 20, &bad, what, __LINE__);
        b[i] ^= 0x10;
    }
    struct {
        size_t off;
        unsigned char value;
        const char *what;
    } forged[] = {
        {HB__TOY_OFF_MAGIC, 'H', "another magic"},
        {HB__TOY_OFF_VERSION, 2, "layout version 2"},
        {HB__TOY_OFF_KERNEL + 6, 'x', "kernel 'pbt_tox'"},
        {HB__TOY_OFF_KERNEL + 7, 's', "kernel 'pbt_toys'"},
        {HB__TOY_OFF_STEPS, 0, "0 steps"},
        {HB__TOY_OFF_STEPS + 7, 1, "2^56 + 10 steps"},
    };
    for (size_t f = 0; f < sizeof forged / sizeof forged[0]; f++) {
        unsigned char *b = bad.data;
        b[forged[f].off] = forged[f].value;
        reseal(&bad);
        expect_refused(sp, h, 243, &bad, forged[f].what, __LINE__);
        memcpy(bad.data, base.data, base.len);
    }
    hb_kernel_state shorter = {base.data, base.len - 1}, empty = {NULL, base.len};
    expect_refused(sp, h, 20, &shorter, "one byte short", __LINE__);
    expect_refused(sp, h, 20, &empty, "no data", __LINE__);
    state_free(&bad);

    /* Nothing changed 'from': it still re-evaluates, and with any h and seed it continues. */
    double t;
    hb_kernel_state after = {0};
    double again = train_ok(sp, h, 10, &base, &after, &t, __LINE__);
    CU_ASSERT(same_bits(again, want) && t == 0.0 && same_state(&after, &base));
    double x[2] = {0.0, 1.0};
    CU_ASSERT_EQUAL(kernel()->train(sp, x, 20, 12345, &base, NULL, &t, &l, &err), HB_OK);
    CU_ASSERT(t == 10.0);
    state_free(&after);
    state_free(&base);
    hb_space_free(sp);
}

/* Out of range is HB_ERANGE naming the parameter; bad budgets and spaces are HB_EINVAL. */
static void test_range(void)
{
    hb_space *sp = make_space();
    hb_error err = {0};
    double loss;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    double x[2] = {1.0000000000000002, 0.5};
    CU_ASSERT_EQUAL(kernel()->eval(sp, x, 4, 0, &loss, &err), HB_ERANGE);
    CU_ASSERT(strstr(err.msg, "h0") != NULL && isnan(loss));
    x[0] = 0.5;
    x[1] = -0.0 - 1e-300;
    CU_ASSERT_EQUAL(kernel()->eval(sp, x, 4, 0, &loss, &err), HB_ERANGE);
    x[1] = NAN;
    CU_ASSERT_EQUAL(kernel()->eval(sp, x, 4, 0, &loss, &err), HB_ERANGE);
    x[1] = 0.5;
    CU_ASSERT_EQUAL(kernel()->eval(sp, x, 0, 0, &loss, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(kernel()->eval(sp, x, NAN, 0, &loss, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(kernel()->eval(NULL, x, 4, 0, &loss, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(kernel()->eval(sp, NULL, 4, 0, &loss, &err), HB_EINVAL);
    hb_space *branin = NULL;
    CU_ASSERT_EQUAL_FATAL(hb_kernels_find("branin")->space(NULL, &branin, &err), HB_OK);
    double bx[2] = {0.5, 0.5};
    CU_ASSERT_EQUAL(kernel()->eval(branin, bx, 4, 0, &loss, &err), HB_EINVAL);
    hb_space_free(branin);
    hb_space_free(sp);
}

int hb_test_add_pbt_toy(void)
{
    CU_pSuite s = CU_add_suite("pbt_toy", NULL, NULL);
    if (s == NULL) return -1;
    if (!CU_add_test(s, "registry, metadata and space", test_registry) ||
        !CU_add_test(s, "closed form with constant h", test_closed_form) ||
        !CU_add_test(s, "continuation is training from scratch", test_prefix) ||
        !CU_add_test(s, "other h at a step boundary", test_schedule) ||
        !CU_add_test(s, "foreign states refused", test_refused) ||
        !CU_add_test(s, "out-of-range input", test_range))
        return -1;
    return 0;
}
