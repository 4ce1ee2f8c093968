/* pbt_toy.c — the toy problem of the PBT paper (Jaderberg et al. 2017, Figure 2; docs/kernels.md §8):
 * θ = (θ0, θ1) starts at (0.9, 0.9) and takes gradient-ascent steps of size η = 0.01 on the
 * surrogate Q̂(θ|h) = 1.2 − (h0·θ0² + h1·θ1²); the loss is 1.2 − Q(θ) = θ0² + θ1², where
 * Q(θ) = 1.2 − (θ0² + θ1²) is the objective the surrogate stands in for. The budget is the
 * number of steps. Both h are mutable: a saved state may be continued with other values, which
 * is what population-based training does at its step boundaries. Deterministic; the seed is
 * ignored. Knows only the kernel interface: no optimisers, MPI or files. */
#include <math.h>
#include <string.h>

#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_kernels.h"
#include "kernels_impl.h"
#include "pbt_toy_impl.h"

#define KNAME "pbt_toy"
#define DIM 2
#define B_MIN 1.0
#define B_MAX 243.0

#define STATE_MAGIC "hbks"
#define STATE_VERSION 1
#define KERNEL_LEN 16

static const char *const pname[DIM] = {"h0", "h1"};
static const double lower[DIM] = {0.0, 0.0};
static const double upper[DIM] = {1.0, 1.0};

static const int mut[DIM] = {1, 1};

static const hb__box box = {KNAME, DIM, pname, lower, upper, B_MAX, NULL, mut, 1};

/* FNV-1a over the first 'n' bytes, as the cartpole state's (kernels_impl.h). */
uint64_t hb__pbt_toy_state_check(const unsigned char *p, size_t n) { return hb__fnv1a64(p, n); }

static void state_write(const double *h, uint64_t steps, const double theta[DIM],
                        unsigned char *out)
{
    memset(out, 0, HB__TOY_STATE_LEN);
    memcpy(out + HB__TOY_OFF_MAGIC, STATE_MAGIC, 4);
    out[HB__TOY_OFF_VERSION] = STATE_VERSION; /* u32 little-endian, the other bytes 0 */
    memcpy(out + HB__TOY_OFF_KERNEL, KNAME, sizeof KNAME);
    for (int i = 0; i < DIM; i++) {
        hb__put_f64(out + HB__TOY_OFF_H + 8 * i, h[i]);
        hb__put_f64(out + HB__TOY_OFF_THETA + 8 * i, theta[i]);
    }
    hb__put_u64(out + HB__TOY_OFF_STEPS, steps);
    hb__put_u64(out + HB__TOY_OFF_CHECK, hb__pbt_toy_state_check(out, HB__TOY_OFF_CHECK));
}

static int refuse(hb_error *err, const char *why)
{
    return hb_error_set(err, HB_EINVAL, NULL, "%s: the saved state does not fit: %s", KNAME, why);
}

/* Read θ and the step count from 'st' if it is an undamaged pbt_toy state of this layout with at
 * most 'n' steps done. There is no seed to compare (the kernel ignores it) and no fixed parameter
 * (h0 and h1 are mutable), so any h may continue any state. */
static int state_read(const hb_kernel_state *st, uint64_t n, double theta[DIM], uint64_t *steps,
                      hb_error *err)
{
    static const char kernel[KERNEL_LEN] = KNAME;
    static const unsigned char version[4] = {STATE_VERSION, 0, 0, 0};
    const unsigned char *b = st->data;
    if (b == NULL || st->len != HB__TOY_STATE_LEN) return refuse(err, "not the length of one");
    if (memcmp(b + HB__TOY_OFF_MAGIC, STATE_MAGIC, 4) != 0 ||
        memcmp(b + HB__TOY_OFF_KERNEL, kernel, KERNEL_LEN) != 0 ||
        memcmp(b + HB__TOY_OFF_VERSION, version, 4) != 0)
        return refuse(err, "not a state of this version of " KNAME);
    if (hb__get_u64(b + HB__TOY_OFF_CHECK) != hb__pbt_toy_state_check(b, HB__TOY_OFF_CHECK))
        return refuse(err, "damaged (bad check)");
    uint64_t done = hb__get_u64(b + HB__TOY_OFF_STEPS);
    if (done < 1 || done > n) return refuse(err, "more steps than the budget");
    for (int i = 0; i < DIM; i++) theta[i] = hb__get_f64(b + HB__TOY_OFF_THETA + 8 * i);
    *steps = done;
    return HB_OK;
}

static int toy_space(const char *args, hb_space **out, hb_error *err)
{
    return hb__box_space(&box, args, out, err);
}

/* Steps from 'from' (or from θ = (0.9, 0.9)) up to the budget's step count with this h, then the
 * loss θ0² + θ1². On any error 'to' is untouched, '*loss' is NaN and '*trained' 0. 'to' may be
 * 'from': 'from' is read before 'to' is set, and its old data is left to the caller to free. */
static int toy_train(const hb_space *sp, const double *x, double budget, uint64_t seed,
                     const hb_kernel_state *from, hb_kernel_state *to, double *trained,
                     double *loss, hb_error *err)
{
    double theta[DIM] = {HB__TOY_THETA0, HB__TOY_THETA0}, z;
    uint64_t done = 0;
    unsigned char *out = NULL;
    int rc;
    (void)seed;
    if (trained != NULL) *trained = 0.0;
    if ((rc = hb__box_check(&box, sp, x, budget, loss, &z, err)) != HB_OK) return rc;
    uint64_t n = hb__budget_steps(budget, B_MAX);
    if (from != NULL && (rc = state_read(from, n, theta, &done, err)) != HB_OK) return rc;
    /* Allocate before training, so running out of memory changes nothing. */
    if (to != NULL && (out = hb_malloc(HB__TOY_STATE_LEN)) == NULL)
        return hb_error_set(err, HB_ENOMEM, NULL, "%s: no memory for the saved state", KNAME);

    uint64_t start = done;
    /* Gradient ascent on Q̂: dQ̂/dθi = −2·hi·θi, and θi ← θi + η·(−2·hi·θi), in that order. */
    for (; done < n; done++)
        for (int i = 0; i < DIM; i++) theta[i] += HB__TOY_ETA * (-2.0 * x[i] * theta[i]);
    *loss = theta[0] * theta[0] + theta[1] * theta[1];
    if (trained != NULL) *trained = (double)(n - start);
    if (to != NULL) {
        state_write(x, n, theta, out);
        to->data = out;
        to->len = HB__TOY_STATE_LEN;
    }
    return HB_OK;
}

static int toy_eval(const hb_space *sp, const double *x, double budget, uint64_t seed,
                    double *loss, hb_error *err)
{
    return toy_train(sp, x, budget, seed, NULL, NULL, NULL, loss, err);
}

const hb_kernel hb__kernel_pbt_toy = {
    .abi = HB_KERNEL_ABI,
    .name = KNAME,
    .summary = "PBT paper's toy (Fig. 2): |theta|^2 after gradient steps on a surrogate, h0 h1 "
               "mutable, budget 1..243 steps",
    .min_budget = B_MIN,
    .max_budget = B_MAX,
    .optimum = 0.0,
    .deterministic = 1,
    .space = toy_space,
    .eval = toy_eval,
    .train = toy_train,
};
