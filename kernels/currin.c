/* currin.c — the multi-fidelity Currin exponential function (docs/kernels.md §2.3), a loss to
 * minimise, with α(z) = 1 − 0.1·(1 − z) and z = budget / 81 clamped to [0, 1] (not
 * dragonfly's 1 − 0.1·z, see §2.5). Deterministic; the seed is ignored.
 * Knows only the kernel interface: no optimisers, MPI or files. */
#include <math.h>

#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_kernels.h"
#include "kernels_impl.h"

#define KNAME "currin"
#define DIM 2
#define B_MIN 1.0
#define B_MAX 81.0

static const char *const pname[DIM] = {"x0", "x1"};
static const double lower[DIM] = {0.0, 0.0};
static const double upper[DIM] = {1.0, 1.0};

static const hb__box box = {KNAME, DIM, pname, lower, upper, B_MAX, NULL, NULL, 0};

static int currin_space(const char *args, hb_space **out, hb_error *err)
{
    return hb__box_space(&box, args, out, err);
}

static int currin_eval(const hb_space *sp, const double *x, double budget, uint64_t seed,
                       double *loss, hb_error *err)
{
    double z = 1.0;
    int rc = hb__box_check(&box, sp, x, budget, loss, &z, err);
    (void)seed;
    if (rc != HB_OK) return rc;
    double a = 1.0 - 0.1 * (1.0 - z);
    double e = x[1] > 0.0 ? exp(-1.0 / (2.0 * x[1])) : 0.0; /* the limit as x1 -> 0+ */
    double u = x[0];
    double num = ((2300.0 * u + 1900.0) * u + 2092.0) * u + 60.0;
    double den = ((100.0 * u + 500.0) * u + 4.0) * u + 20.0;
    *loss = -(1.0 - a * e) * num / den;
    return HB_OK;
}

const hb_kernel hb__kernel_currin = {
    .abi = HB_KERNEL_ABI,
    .name = KNAME,
    .summary = "multi-fidelity Currin exponential, 2 floats in [0,1], budget 1..81 (z = b/81)",
    .min_budget = B_MIN,
    .max_budget = B_MAX,
    .optimum = -13.7987220447284, /* -4319/313 */
    .deterministic = 1,
    .space = currin_space,
    .eval = currin_eval,
    .exact = NULL,
};
