/* test_kernels_cartpole.c — the cartpole kernel (docs/kernels.md §5) and its train() interface: the
 * physics and reset against vectors.json, the three full runs of approximate.cartpole, the
 * prefix property across saved states (bit for bit), refused states, range checks, budget
 * rounding and divergence. Expected numbers come from the vectors or from the kernel itself. */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cartpole_impl.h"
#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_kernels.h"
#include "hb_rng.h"
#include "hb_space.h"
#include "hb_test.h"

#define DIM 5
#define INIT_SCALE 4 /* the one fixed parameter; the four before it are mutable */


/* The reference configuration of docs/kernels.md §5 and the third approximate vector's. */
static const double ref_x[DIM] = {0.1, 0.99, 1e-3, 0.1, 0.1};
static const double other_x[DIM] = {0.03, 0.9, 0.01, 0.01, 1.0};
static const char *const names[DIM] = {"learning_rate", "gamma", "entropy_coef", "baseline_lr",
                                       "init_scale"};

static const hb_kernel *kernel(void) { return hb_kernels_find("cartpole"); }
static hb_space *make_space(void) { return hb_test_kernel_space("cartpole", NULL); }
#define train_ok(sp, x, budget, seed, from, to, trained, line)                                     \
    hb_test_train_ok("cartpole", sp, x, budget, seed, from, to, trained, line)
#define same_bits hb_test_same_bits
#define same_state hb_test_same_state
#define state_f64 hb_test_state_f64
#define state_free hb_test_state_free

static uint32_t state_u32(const hb_kernel_state *st, size_t off)
{
    const unsigned char *b = st->data;
    return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 |
           (uint32_t)b[off + 3] << 24;
}

static void state_set_f64(hb_kernel_state *st, size_t off, double d)
{
    unsigned char *b = st->data;
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    for (int i = 0; i < 8; i++) b[off + (size_t)i] = (unsigned char)(v >> (8 * i));
}

/* Recompute a forged state's check, so only the forged field can make it wrong. */
static void state_reseal(hb_kernel_state *st)
{
    unsigned char *b = st->data;
    uint64_t h = hb__cartpole_state_check(b, HB__CP_OFF_CHECK);
    for (int i = 0; i < 8; i++) b[HB__CP_OFF_CHECK + i] = (unsigned char)(h >> (8 * i));
}

static void state_copy(hb_kernel_state *dst, const hb_kernel_state *src)
{
    dst->data = hb_malloc(src->len);
    dst->len = src->len;
    CU_ASSERT_PTR_NOT_NULL_FATAL(dst->data);
    memcpy(dst->data, src->data, src->len);
}

/* The registry has it, with the metadata of docs/kernels.md §1.2 and §5 and a train function. */
static void test_registry(void)
{
    const hb_kernel *k = kernel();
    hb_error err = {0};
    size_t i;
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_STRING_EQUAL(k->name, "cartpole");
    EXPECT(hb_kernel_check(k, &err) == HB_OK, "check failed: %s", err.msg);
    for (i = 0; i < hb_kernels_count(); i++)
        if (hb_kernels_at(i) == k) break;
    EXPECT(i < hb_kernels_count(), "cartpole is not among hb_kernels_at()");
    CU_ASSERT(k->summary != NULL && k->summary[0] != '\0');
    CU_ASSERT_EQUAL(k->min_budget, 9.0);
    CU_ASSERT_EQUAL(k->max_budget, 729.0);
    CU_ASSERT_EQUAL(k->optimum, -1.0);
    CU_ASSERT_EQUAL(k->deterministic, 0);
    CU_ASSERT_PTR_NOT_NULL(k->train);
    CU_ASSERT_PTR_NULL(k->exact);
}

/* Names, order, bounds and scales of §5's table; no options. */
static void test_space(void)
{
    static const double lower[DIM] = {1e-3, 0.8, 1e-5, 1e-3, 1e-3};
    static const double upper[DIM] = {1.0, 0.999, 1e-1, 1.0, 1.0};
    static const hb_scale scale[DIM] = {HB_SCALE_LOG, HB_SCALE_LINEAR, HB_SCALE_LOG, HB_SCALE_LOG,
                                        HB_SCALE_LOG};
    const hb_kernel *k = kernel();
    hb_space *sp = make_space();
    hb_error err = {0};
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL_FATAL(hb_space_dim(sp), DIM);
    for (size_t i = 0; i < DIM; i++)
        EXPECT(strcmp(hb_space_name(sp, i), names[i]) == 0 &&
                   hb_space_type(sp, i) == HB_PARAM_FLOAT && hb_space_lower(sp, i) == lower[i] &&
                   hb_space_upper(sp, i) == upper[i] && hb_space_scale(sp, i) == scale[i],
               "parameter %zu is '%s' [%g, %g] scale %d", i, hb_space_name(sp, i),
               hb_space_lower(sp, i), hb_space_upper(sp, i), (int)hb_space_scale(sp, i));
    for (size_t i = 0; i < DIM; i++)
        EXPECT(hb_space_is_mutable(sp, i) == (i != INIT_SCALE), "%s: mutable = %d", names[i],
               hb_space_is_mutable(sp, i));
    hb_space_free(sp);
    static const char *const bad_args[] = {"", "x", "4+4"};
    for (size_t a = 0; a < sizeof bad_args / sizeof bad_args[0]; a++) {
        sp = (hb_space *)&err; /* must be reset to NULL */
        hb_error_clear(&err);
        EXPECT(k->space(bad_args[a], &sp, &err) == HB_EINVAL && sp == NULL && err.msg[0] != '\0',
               "options '%s' were not refused", bad_args[a]);
    }
}

/* cartpole_physics: 20 fixed actions from a fixed start, and the reset of seed 7 stream 2. */
static void test_physics(void)
{
    json_t *cp = json_object_get(hb_test_vectors(), "cartpole_physics");
    json_t *start = json_object_get(cp, "start"), *actions = json_object_get(cp, "actions");
    json_t *after = json_object_get(cp, "state_after");
    json_t *reset = json_object_get(cp, "reset_seed7_stream2");
    double tol = json_number_value(json_object_get(cp, "tolerance")), s[4];
    size_t i;
    json_t *v;
    CU_ASSERT_PTR_NOT_NULL_FATAL(cp);
    CU_ASSERT_FATAL(json_array_size(start) == 4 && json_array_size(after) == 4 &&
                    json_array_size(reset) == 4 && json_array_size(actions) == 20);
    CU_ASSERT_FATAL(tol > 0.0 && tol <= 1e-12);

    for (i = 0; i < 4; i++) s[i] = json_number_value(json_array_get(start, i));
    json_array_foreach(actions, i, v) {
        int done = hb__cartpole_step(s, (int)json_integer_value(v));
        EXPECT(!done, "step %zu ended the episode", i);
    }
    for (i = 0; i < 4; i++) {
        double want = json_number_value(json_array_get(after, i));
        EXPECT(fabs(s[i] - want) <= tol, "state[%zu] after 20 steps: %.17g, expected %.17g", i,
               s[i], want);
    }

    hb_splitmix g;
    hb_splitmix_init(&g, 7, 2);
    hb__cartpole_reset(&g, s);
    for (i = 0; i < 4; i++) {
        double want = json_number_value(json_array_get(reset, i));
        EXPECT(fabs(s[i] - want) <= tol, "reset[%zu] of seed 7 stream 2: %.17g, expected %.17g",
               i, s[i], want);
        EXPECT(s[i] >= -0.05 && s[i] < 0.05, "reset[%zu] = %g is outside [-0.05, 0.05)", i, s[i]);
    }

    /* The limits: x beyond 2.4 or theta beyond 12 degrees ends the episode. */
    double edge[4] = {2.4, 1.0, 0.0, 0.0};
    CU_ASSERT_EQUAL(hb__cartpole_step(edge, 1), 1);
    double tilt[4] = {0.0, 0.0, 0.2094, 1.0};
    CU_ASSERT_EQUAL(hb__cartpole_step(tilt, 1), 1);
}

/* approximate.cartpole: three full runs. §5 calls them informational for an implementation whose
 * operation order or libm differs; this one follows the order with FMA contraction off (the
 * build's -ffp-contract=off) and reproduces them bit for bit, so they are checked exactly. */
static void test_full_runs(void)
{
    json_t *e = json_object_get(json_object_get(hb_test_vectors(), "approximate"), "cartpole");
    json_t *list = json_object_get(e, "vectors"), *v;
    hb_space *sp = make_space();
    hb_error err = {0};
    size_t idx;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL_FATAL(json_array_size(list), 3);
    CU_ASSERT_EQUAL(json_number_value(json_object_get(e, "tolerance")), 0.0);
    json_array_foreach(list, idx, v) {
        json_t *cfg = json_object_get(v, "config");
        double x[DIM], want = json_number_value(json_object_get(v, "loss")), got = NAN, t = NAN;
        double budget = json_number_value(json_object_get(v, "budget"));
        uint64_t seed = (uint64_t)json_integer_value(json_object_get(v, "seed"));
        CU_ASSERT_EQUAL_FATAL(json_object_size(cfg), DIM);
        for (size_t i = 0; i < DIM; i++) {
            json_t *val = json_object_get(cfg, names[i]);
            CU_ASSERT_FATAL(json_is_number(val));
            x[i] = json_number_value(val);
        }
        EXPECT(kernel()->eval(sp, x, budget, seed, &got, &err) == HB_OK, "vector %zu: %s", idx,
               err.msg);
        EXPECT(got == want, "vector %zu (budget %g, seed %llu): loss %.17g, expected %.17g", idx,
               budget, (unsigned long long)seed, got, want);
        got = train_ok(sp, x, budget, seed, NULL, NULL, &t, __LINE__);
        EXPECT(got == want && t == budget, "vector %zu: train() gave %.17g after %g episodes",
               idx, got, t);
    }
    hb_space_free(sp);
}

/* The prefix property through saved states: any chain of budgets ends in the same loss and the
 * same state bytes as one run from scratch, and each link's loss is the scratch loss at its
 * budget. */
static void test_prefix(void)
{
    static const double chains[][5] = {
        {27, 81}, {9, 27, 81}, {1, 81}, {40, 81}, {80, 81}, {1, 2, 3, 81}, {26.6, 54.4, 81},
    };
    static const size_t chain_len[] = {2, 3, 2, 2, 2, 4, 3};
    static const uint64_t seeds[] = {0, 5, 0x9E3779B97F4A7C15u};
    const double *configs[] = {ref_x, other_x};
    hb_space *sp = make_space();
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);

    for (size_t c = 0; c < 2; c++)
        for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
            hb_kernel_state scratch = {0};
            double t, want = train_ok(sp, configs[c], 81, seeds[s], NULL, &scratch, &t, __LINE__);
            EXPECT(t == 81.0, "from scratch: trained %g, expected 81", t);
            CU_ASSERT_EQUAL_FATAL(scratch.len, HB__CP_STATE_LEN);
            EXPECT(state_u32(&scratch, HB__CP_OFF_EPISODES) == 81 &&
                       state_u32(&scratch, HB__CP_OFF_DIVERGED) == 0,
                   "state after 81 episodes says %lu episodes, diverged %lu",
                   (unsigned long)state_u32(&scratch, HB__CP_OFF_EPISODES),
                   (unsigned long)state_u32(&scratch, HB__CP_OFF_DIVERGED));
            for (size_t ch = 0; ch < sizeof chain_len / sizeof chain_len[0]; ch++) {
                hb_kernel_state st = {0};
                double total = 0.0, loss = NAN;
                for (size_t l = 0; l < chain_len[ch]; l++) {
                    hb_kernel_state next = {0};
                    double b = chains[ch][l];
                    loss = train_ok(sp, configs[c], b, seeds[s], l ? &st : NULL, &next, &t,
                                    __LINE__);
                    total += t;
                    double direct = train_ok(sp, configs[c], b, seeds[s], NULL, NULL, NULL,
                                             __LINE__);
                    EXPECT(same_bits(loss, direct),
                           "config %zu seed %zu chain %zu: at budget %g %.17g resumed, %.17g "
                           "from scratch", c, s, ch, b, loss, direct);
                    state_free(&st);
                    st = next;
                }
                EXPECT(same_bits(loss, want) && total == 81.0 && same_state(&st, &scratch),
                       "config %zu seed %zu chain %zu: loss %.17g (scratch %.17g), trained %g, "
                       "state bytes %s", c, s, ch, loss, want, total,
                       same_state(&st, &scratch) ? "equal" : "differ");
                state_free(&st);
            }
            state_free(&scratch);
        }

    /* The long way: 243 episodes, then 486 more, is 729 from scratch. */
    hb_kernel_state a = {0}, b = {0}, full = {0};
    double t1, t2, tf;
    train_ok(sp, ref_x, 243, 0, NULL, &a, &t1, __LINE__);
    double resumed = train_ok(sp, ref_x, 729, 0, &a, &b, &t2, __LINE__);
    double direct = train_ok(sp, ref_x, 729, 0, NULL, &full, &tf, __LINE__);
    EXPECT(same_bits(resumed, direct) && same_state(&b, &full) && t1 == 243 && t2 == 486 &&
               tf == 729,
           "243 + 486: %.17g after %g + %g, 729: %.17g after %g", resumed, t1, t2, direct, tf);
    state_free(&a);
    state_free(&b);
    state_free(&full);
    hb_space_free(sp);
}

/* A state of exactly the budget asked only re-evaluates: nothing trained, the same loss and the
 * same bytes; eval() is train() from scratch; 'to' may be the same object as 'from'. */
static void test_reevaluate(void)
{
    hb_space *sp = make_space();
    hb_kernel_state st = {0}, again = {0};
    hb_error err = {0};
    double t = NAN, e = NAN;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    double first = train_ok(sp, other_x, 27, 5, NULL, &st, NULL, __LINE__);
    double second = train_ok(sp, other_x, 27, 5, &st, &again, &t, __LINE__);
    EXPECT(same_bits(first, second) && t == 0.0 && same_state(&st, &again),
           "re-evaluation gave %.17g after %g episodes (first %.17g), bytes %s", second, t, first,
           same_state(&st, &again) ? "equal" : "differ");
    CU_ASSERT_EQUAL(kernel()->eval(sp, other_x, 27, 5, &e, &err), HB_OK);
    CU_ASSERT(same_bits(e, first));
    /* Without 'trained' and 'to' it still trains and evaluates. */
    CU_ASSERT_EQUAL(kernel()->train(sp, other_x, 81, 5, &st, NULL, NULL, &e, &err), HB_OK);
    CU_ASSERT(same_bits(e, train_ok(sp, other_x, 81, 5, NULL, NULL, NULL, __LINE__)));

    /* In place: 'from' is read before 'to' is written; the old block stays the caller's. */
    hb_kernel_state inplace = st;
    void *old = st.data;
    double l81 = train_ok(sp, other_x, 81, 5, &inplace, &inplace, &t, __LINE__);
    hb_kernel_state scratch = {0};
    double s81 = train_ok(sp, other_x, 81, 5, NULL, &scratch, NULL, __LINE__);
    EXPECT(inplace.data != old && same_state(&inplace, &scratch) && same_bits(l81, s81) &&
               t == 54.0,
           "in-place resume: %.17g after %g, scratch %.17g", l81, t, s81);
    hb_free(old);
    state_free(&inplace);
    state_free(&scratch);
    state_free(&again);
    hb_space_free(sp);
}

/* train() with 'from' that must be refused: HB_EINVAL with a message, 'to' untouched, NaN loss. */
static void expect_refused(const hb_space *sp, const double *x, double budget, uint64_t seed,
                           const hb_kernel_state *from, const char *what, unsigned line)
{
    static char sentinel;
    hb_kernel_state to = {&sentinel, 12345};
    hb_error err = {0};
    double loss = 0.0, t = -1.0;
    int rc = kernel()->train(sp, x, budget, seed, from, &to, &t, &loss, &err);
    hb_test_expect_(rc == HB_EINVAL && err.msg[0] != '\0', __FILE__, line, "%s: status %d (%s)", what, rc,
            err.msg);
    hb_test_expect_(to.data == &sentinel && to.len == 12345, __FILE__, line, "%s: 'to' was changed", what);
    hb_test_expect_(isnan(loss) && t == 0.0, __FILE__, line, "%s: loss %g, trained %g after a refusal", what, loss,
            t);
}

/* States that do not fit are refused and change nothing: another seed, another value of the fixed
 * parameter (init_scale; the mutable ones are test_mutable's), a larger budget, damaged or
 * foreign bytes, a wrong length. */
static void test_foreign_state(void)
{
    hb_space *sp = make_space();
    hb_kernel_state base = {0}, bad = {0};
    double x[DIM];
    char what[128];
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    double want = train_ok(sp, ref_x, 27, 3, NULL, &base, NULL, __LINE__);
    CU_ASSERT_EQUAL_FATAL(base.len, HB__CP_STATE_LEN);

    expect_refused(sp, ref_x, 81, 4, &base, "another seed", __LINE__);
    for (size_t i = INIT_SCALE; i < DIM; i++) {
        hb_error err = {0};
        double loss;
        memcpy(x, ref_x, sizeof x);
        x[i] = nextafter(x[i], 0.0); /* one ulp is another configuration */
        snprintf(what, sizeof what, "another %s", names[i]);
        expect_refused(sp, x, 81, 3, &base, what, __LINE__);
        CU_ASSERT_EQUAL(kernel()->train(sp, x, 81, 3, &base, NULL, NULL, &loss, &err), HB_EINVAL);
        EXPECT(strstr(err.msg, names[i]) != NULL, "message '%s' does not name %s", err.msg,
               names[i]);
    }
    expect_refused(sp, ref_x, 26, 3, &base, "27 episodes for a budget of 26", __LINE__);
    expect_refused(sp, ref_x, 26.49, 3, &base, "27 episodes for a budget of 26.49", __LINE__);

    /* Every byte, flipped in one bit and in all bits. */
    state_copy(&bad, &base);
    for (size_t i = 0; i < bad.len; i++)
        for (int m = 0; m < 2; m++) {
            unsigned char mask = m ? 0xFF : 0x10, *b = bad.data;
            b[i] ^= mask;
            snprintf(what, sizeof what, "byte %zu ^ 0x%02x", i, mask);
            expect_refused(sp, ref_x, 81, 3, &bad, what, __LINE__);
            b[i] ^= mask;
        }

    /* Sealed with a correct check, but not a cartpole state of this layout. */
    struct {
        size_t off;
        unsigned char value;
        const char *what;
    } forged[] = {
        {HB__CP_OFF_MAGIC, 'H', "another magic"},
        {HB__CP_OFF_VERSION, 2, "layout version 2"},
        {HB__CP_OFF_KERNEL + 7, 'r', "kernel 'cartpolr'"},
        {HB__CP_OFF_KERNEL + 8, 's', "kernel 'cartpoles'"},
        {HB__CP_OFF_DIVERGED, 2, "divergence flag 2"},
        {HB__CP_OFF_EPISODES + 3, 1, "2^24 + 27 episodes"},
    };
    for (size_t f = 0; f < sizeof forged / sizeof forged[0]; f++) {
        unsigned char *b = bad.data;
        b[forged[f].off] = forged[f].value;
        state_reseal(&bad);
        expect_refused(sp, ref_x, 729, 3, &bad, forged[f].what, __LINE__);
        memcpy(bad.data, base.data, base.len);
    }

    /* Lengths. */
    hb_kernel_state shortened = {base.data, base.len - 1}, empty = {NULL, base.len};
    expect_refused(sp, ref_x, 81, 3, &shortened, "one byte short", __LINE__);
    expect_refused(sp, ref_x, 81, 3, &empty, "no data", __LINE__);
    state_free(&bad);
    bad.data = hb_calloc(1, base.len + 1);
    bad.len = base.len + 1;
    CU_ASSERT_PTR_NOT_NULL_FATAL(bad.data);
    memcpy(bad.data, base.data, base.len);
    expect_refused(sp, ref_x, 81, 3, &bad, "one byte long", __LINE__);
    state_free(&bad);

    /* The refusals left 'from' as it was: it still resumes. */
    hb_kernel_state after = {0};
    double t = NAN;
    double again = train_ok(sp, ref_x, 27, 3, &base, &after, &t, __LINE__);
    EXPECT(same_bits(again, want) && t == 0.0 && same_state(&after, &base),
           "the state no longer re-evaluates: %.17g, expected %.17g", again, want);
    state_free(&after);
    state_free(&base);
    hb_space_free(sp);
}

/* Changed mutable values at a step boundary (docs/kernels.md §5): a state continued with other
 * learning rates, discount or entropy weight trains on with the new values, deterministically;
 * the same schedule split at other boundaries gives the same bits; the unchanged configuration
 * still gives the scratch bits; init_scale, read only by the initialisation, is refused. */
static void test_mutable(void)
{
    static const double b_x[DIM] = {0.03, 0.95, 1e-2, 0.3, 0.1}; /* ref_x's init_scale */
    hb_space *sp = make_space();
    hb_kernel_state s27 = {0}, s81 = {0}, s54 = {0}, s81b = {0}, s81c = {0}, s81a = {0};
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    double t;
    train_ok(sp, ref_x, 27, 3, NULL, &s27, NULL, __LINE__);
    /* 27 with a, then 54 more with b. */
    double ab = train_ok(sp, b_x, 81, 3, &s27, &s81, &t, __LINE__);
    double ab2 = train_ok(sp, b_x, 81, 3, &s27, NULL, NULL, __LINE__);
    EXPECT(t == 54.0 && same_bits(ab, ab2), "a then b: %.17g after %g, again %.17g", ab, t, ab2);
    /* The state records the values it was last trained with. */
    for (size_t i = 0; i < DIM; i++)
        EXPECT(same_bits(state_f64(&s81, HB__CP_OFF_CONFIG + 8 * i), b_x[i]),
               "the state says %s = %.17g, not %.17g", names[i],
               state_f64(&s81, HB__CP_OFF_CONFIG + 8 * i), b_x[i]);
    /* Not what 81 with a alone gives: other weights (the loss, a mean of 10 episode lengths,
     * could coincide by chance; for this seed it does not). */
    double aa = train_ok(sp, ref_x, 81, 3, &s27, &s81a, NULL, __LINE__);
    EXPECT(!same_bits(state_f64(&s81, HB__CP_OFF_W), state_f64(&s81a, HB__CP_OFF_W)) &&
               !same_bits(ab, aa),
           "a then b: w0 %.17g, loss %.17g; a alone: w0 %.17g, loss %.17g",
           state_f64(&s81, HB__CP_OFF_W), ab, state_f64(&s81a, HB__CP_OFF_W), aa);
    /* The same schedule, cut at 54 as well: 27 with a, 54 with b, 81 with b. */
    train_ok(sp, b_x, 54, 3, &s27, &s54, NULL, __LINE__);
    double split = train_ok(sp, b_x, 81, 3, &s54, &s81b, NULL, __LINE__);
    EXPECT(same_bits(split, ab) && same_state(&s81b, &s81),
           "27 a + 54 b + 81 b: %.17g, 27 a + 81 b: %.17g, state bytes %s", split, ab,
           same_state(&s81b, &s81) ? "equal" : "differ");
    /* Each mutable parameter alone may change. */
    for (size_t i = 0; i < INIT_SCALE; i++) {
        double x[DIM];
        memcpy(x, ref_x, sizeof x);
        x[i] = b_x[i];
        hb_kernel_state st = {0};
        double l = train_ok(sp, x, 30, 3, &s27, &st, &t, __LINE__);
        EXPECT(t == 3.0 && isfinite(l) && same_bits(state_f64(&st, HB__CP_OFF_CONFIG + 8 * i), x[i]),
               "%s changed: %.17g after %g", names[i], l, t);
        state_free(&st);
    }
    /* Unchanged: the scratch bits. */
    double same = train_ok(sp, ref_x, 81, 3, &s27, &s81c, NULL, __LINE__);
    hb_kernel_state scratch = {0};
    double direct = train_ok(sp, ref_x, 81, 3, NULL, &scratch, NULL, __LINE__);
    EXPECT(same_bits(same, direct) && same_state(&s81c, &scratch),
           "unchanged x: %.17g resumed, %.17g from scratch", same, direct);
    /* The fixed parameter, alone or with mutable changes, is refused. */
    double x[DIM];
    memcpy(x, b_x, sizeof x);
    x[INIT_SCALE] = 0.2;
    expect_refused(sp, x, 81, 3, &s27, "another init_scale with new mutable values", __LINE__);
    state_free(&scratch);
    state_free(&s27);
    state_free(&s54);
    state_free(&s81);
    state_free(&s81a);
    state_free(&s81b);
    state_free(&s81c);
    hb_space_free(sp);
}

/* eval or train (with a state to write) and expect 'status', the message containing 'needle'. */
static void expect_status(const hb_space *sp, const double *x, double budget, int status,
                          const char *needle, unsigned line)
{
    static char sentinel;
    for (int use_train = 0; use_train < 2; use_train++) {
        hb_kernel_state to = {&sentinel, 7};
        hb_error err = {0};
        double loss = 0.0;
        int rc = use_train
                     ? kernel()->train(sp, x, budget, 1, NULL, &to, NULL, &loss, &err)
                     : kernel()->eval(sp, x, budget, 1, &loss, &err);
        hb_test_expect_(rc == status, __FILE__, line, "%s: status %d, expected %d (%s)", use_train ? "train" : "eval",
                rc, status, err.msg);
        if (rc == HB_OK) {
            if (use_train) state_free(&to);
            continue;
        }
        hb_test_expect_(isnan(loss) && to.data == &sentinel, __FILE__, line, "%s: a failed call left loss %g%s",
                use_train ? "train" : "eval", loss, to.data == &sentinel ? "" : " and set 'to'");
        hb_test_expect_(needle == NULL || strstr(err.msg, needle) != NULL, __FILE__, line,
                "message '%s' does not name %s", err.msg, needle);
    }
}

/* Values outside the space are HB_ERANGE naming the parameter; bad budgets, foreign spaces and
 * NULL arguments are HB_EINVAL. */
static void test_range(void)
{
    hb_space *sp = make_space();
    double x[DIM];
    hb_error err = {0};
    double loss;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    memcpy(x, ref_x, sizeof x);
    for (size_t i = 0; i < DIM; i++) {
        double lo = hb_space_lower(sp, i), hi = hb_space_upper(sp, i);
        char needle[64];
        snprintf(needle, sizeof needle, "'%s'", names[i]);
        x[i] = lo;
        expect_status(sp, x, 1, HB_OK, NULL, __LINE__);
        x[i] = hi;
        expect_status(sp, x, 1, HB_OK, NULL, __LINE__);
        const double bad[] = {nextafter(hi, INFINITY), nextafter(lo, -INFINITY), NAN, INFINITY,
                              -INFINITY, 0.0};
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            x[i] = bad[b];
            expect_status(sp, x, 27, HB_ERANGE, needle, __LINE__);
        }
        x[i] = ref_x[i];
    }
    expect_status(sp, x, 0.0, HB_EINVAL, "budget", __LINE__);
    expect_status(sp, x, -27.0, HB_EINVAL, "budget", __LINE__);
    expect_status(sp, x, NAN, HB_EINVAL, "budget", __LINE__);

    CU_ASSERT_EQUAL(kernel()->eval(NULL, x, 27, 0, &loss, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(kernel()->eval(sp, NULL, 27, 0, &loss, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(kernel()->eval(sp, x, 27, 0, NULL, &err), HB_EINVAL);
    CU_ASSERT_EQUAL(kernel()->train(sp, x, 27, 0, NULL, NULL, NULL, NULL, &err), HB_EINVAL);

    /* Another kernel's space, and five floats under other names, are refused, not read. */
    const hb_kernel *h3 = hb_kernels_find("hartmann3");
    hb_space *other = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(h3);
    CU_ASSERT_EQUAL_FATAL(h3->space(NULL, &other, &err), HB_OK);
    expect_status(other, x, 27, HB_EINVAL, NULL, __LINE__);
    hb_space_free(other);
    CU_ASSERT_EQUAL_FATAL(hb_space_create(&other), HB_OK);
    for (size_t i = 0; i < DIM; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%zu", i);
        CU_ASSERT_EQUAL(hb_space_add_float(other, name, 0.0, 1.0, HB_SCALE_LINEAR, NAN, &err),
                        HB_OK);
    }
    CU_ASSERT_EQUAL(hb_space_finalize(other, NULL, &err), HB_OK);
    expect_status(other, x, 27, HB_EINVAL, "learning_rate", __LINE__);
    hb_space_free(other);
    hb_space_free(sp);
}

/* n = floor(b + 0.5), at least 1, at most 729: 26.6 and 27.4 are 27 episodes, 0.3 is one, and
 * anything above 729 is 729. */
static void test_budget(void)
{
    hb_space *sp = make_space();
    hb_kernel_state s27 = {0}, s266 = {0}, s274 = {0};
    double t27, t266, t274, t;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    double l27 = train_ok(sp, other_x, 27, 5, NULL, &s27, &t27, __LINE__);
    double l266 = train_ok(sp, other_x, 26.6, 5, NULL, &s266, &t266, __LINE__);
    double l274 = train_ok(sp, other_x, 27.4, 5, NULL, &s274, &t274, __LINE__);
    double l265 = train_ok(sp, other_x, 26.5, 5, NULL, NULL, NULL, __LINE__);
    train_ok(sp, other_x, 27.5, 5, NULL, NULL, &t, __LINE__); /* 28 episodes */
    EXPECT(same_bits(l266, l27) && same_bits(l274, l27) && same_bits(l265, l27),
           "26.6 / 27.4 / 26.5 give %.17g / %.17g / %.17g, 27 gives %.17g", l266, l274, l265, l27);
    EXPECT(t27 == 27 && t266 == 27 && t274 == 27 && t == 28, "trained %g %g %g %g", t27, t266,
           t274, t);
    EXPECT(same_state(&s266, &s27) && same_state(&s274, &s27), "26.6 or 27.4 saved another state");

    double l1 = train_ok(sp, other_x, 1, 5, NULL, NULL, NULL, __LINE__);
    double l03 = train_ok(sp, other_x, 0.3, 5, NULL, NULL, &t, __LINE__);
    EXPECT(same_bits(l03, l1) && t == 1.0, "budget 0.3: %.17g after %g, budget 1: %.17g", l03, t,
           l1);

    double l729 = train_ok(sp, other_x, 729, 5, NULL, NULL, NULL, __LINE__);
    double l2000 = train_ok(sp, other_x, 2000, 5, NULL, NULL, &t, __LINE__);
    double linf = train_ok(sp, other_x, INFINITY, 5, NULL, NULL, NULL, __LINE__);
    EXPECT(same_bits(l2000, l729) && same_bits(linf, l729) && t == 729.0,
           "2000 / inf give %.17g / %.17g after %g, 729 gives %.17g", l2000, linf, t, l729);
    EXPECT(l729 >= -1.0 && l729 < 0.0, "loss %g outside [-1, 0)", l729);
    state_free(&s27);
    state_free(&s266);
    state_free(&s274);
    hb_space_free(sp);
}

/* Divergence: no configuration in the space is known to diverge, so a state is forged whose
 * baseline weight overflows in the next episode. The loss is then 0.0, training stops, the
 * episode count still reaches the budget, and resuming a diverged state keeps the prefix
 * property. */
static void test_divergence(void)
{
    hb_space *sp = make_space();
    hb_kernel_state base = {0}, d28 = {0}, d81 = {0}, direct81 = {0}, d81b = {0};
    double t;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    train_ok(sp, ref_x, 27, 3, NULL, &base, NULL, __LINE__);
    CU_ASSERT_EQUAL_FATAL(base.len, HB__CP_STATE_LEN);
    state_set_f64(&base, HB__CP_OFF_V + 8 * 4, 1e308);
    state_reseal(&base);

    double l28 = train_ok(sp, ref_x, 28, 3, &base, &d28, &t, __LINE__);
    CU_ASSERT_FATAL(d28.data != NULL);
    EXPECT(same_bits(l28, 0.0) && t == 1.0, "diverging episode: loss %.17g after %g", l28, t);
    EXPECT(state_u32(&d28, HB__CP_OFF_DIVERGED) == 1 &&
               state_u32(&d28, HB__CP_OFF_EPISODES) == 28 &&
               !isfinite(state_f64(&d28, HB__CP_OFF_V + 8 * 4)),
           "state after divergence: flag %lu, %lu episodes, v4 %g",
           (unsigned long)state_u32(&d28, HB__CP_OFF_DIVERGED),
           (unsigned long)state_u32(&d28, HB__CP_OFF_EPISODES),
           state_f64(&d28, HB__CP_OFF_V + 8 * 4));

    double l81 = train_ok(sp, ref_x, 81, 3, &d28, &d81, &t, __LINE__);
    double ld = train_ok(sp, ref_x, 81, 3, &base, &direct81, NULL, __LINE__);
    EXPECT(same_bits(l81, 0.0) && same_bits(ld, 0.0) && t == 53.0 && same_state(&d81, &direct81),
           "after divergence: %.17g after %g, directly %.17g, bytes %s", l81, t, ld,
           same_state(&d81, &direct81) ? "equal" : "differ");
    CU_ASSERT_EQUAL(state_u32(&d81, HB__CP_OFF_EPISODES), 81);
    /* A diverged state re-evaluates as itself and refuses a smaller budget like any other. */
    double again = train_ok(sp, ref_x, 81, 3, &d81, &d81b, &t, __LINE__);
    CU_ASSERT(same_bits(again, 0.0) && t == 0.0 && same_state(&d81b, &d81));
    expect_refused(sp, ref_x, 80, 3, &d81, "diverged state, smaller budget", __LINE__);
    state_free(&base);
    state_free(&d28);
    state_free(&d81);
    state_free(&d81b);
    state_free(&direct81);
    hb_space_free(sp);
}

/* The only allocation is the saved state's, made before any training: when it fails the call is
 * HB_ENOMEM and changes nothing; eval allocates nothing at all. */
static void test_nomem(void)
{
    static char sentinel;
    hb_space *sp = make_space();
    hb_kernel_state to = {&sentinel, 3};
    hb_error err = {0};
    double loss = 0.0, t = -1.0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    hb_alloc_fail_after(0);
    int rc = kernel()->train(sp, ref_x, 9, 0, NULL, &to, &t, &loss, &err);
    hb_alloc_fail_after(-1);
    EXPECT(rc == HB_ENOMEM && to.data == &sentinel && to.len == 3 && isnan(loss) && t == 0.0,
           "failed allocation: status %d, loss %g, trained %g", rc, loss, t);
    hb_alloc_fail_after(0);
    rc = kernel()->eval(sp, ref_x, 9, 0, &loss, &err);
    hb_alloc_fail_after(-1);
    EXPECT(rc == HB_OK && loss == -0.5684, "eval with no memory: status %d, loss %.17g", rc,
           loss);
    hb_space_free(sp);
}

int hb_test_add_train_cartpole(void)
{
    CU_pSuite s = CU_add_suite("train_cartpole", NULL, hb_test_vectors_free);
    if (s == NULL) return -1;
    if (!CU_add_test(s, "registry and metadata", test_registry) ||
        !CU_add_test(s, "space and options", test_space) ||
        !CU_add_test(s, "cartpole_physics vectors", test_physics) ||
        !CU_add_test(s, "approximate.cartpole runs", test_full_runs) ||
        !CU_add_test(s, "prefix property through states", test_prefix) ||
        !CU_add_test(s, "re-evaluation and in-place resume", test_reevaluate) ||
        !CU_add_test(s, "foreign states refused", test_foreign_state) ||
        !CU_add_test(s, "mutable values at a step boundary", test_mutable) ||
        !CU_add_test(s, "out-of-range input", test_range) ||
        !CU_add_test(s, "budget rounding and clamp", test_budget) ||
        !CU_add_test(s, "divergence", test_divergence) ||
        !CU_add_test(s, "allocation failure", test_nomem))
        return -1;
    return 0;
}
