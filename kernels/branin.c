/* branin.c — the BOCA multi-fidelity Branin function (docs/kernels.md §2.2, p = 3 on the
 * diagonal), a loss to minimise; z = budget / 81 clamped to [0, 1]. Deterministic; the seed
 * is ignored. Knows only the kernel interface: no optimisers, MPI or files. */
#include <math.h>

#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_kernels.h"
#include "kernels_impl.h"

#define KNAME "branin"
#define DIM 2
#define B_MIN 1.0
#define B_MAX 81.0

static const double pi = 3.14159265358979323846;

static const char *const pname[DIM] = {"x0", "x1"};
static const double lower[DIM] = {-5.0, 0.0};
static const double upper[DIM] = {10.0, 15.0};

static const hb__box box = {KNAME, DIM, pname, lower, upper, B_MAX, NULL, NULL, 0};

static int branin_space(const char *args, hb_space **out, hb_error *err)
{
    return hb__box_space(&box, args, out, err);
}

static int branin_eval(const hb_space *sp, const double *x, double budget, uint64_t seed,
                       double *loss, hb_error *err)
{
    double z = 1.0;
    int rc = hb__box_check(&box, sp, x, budget, loss, &z, err);
    (void)seed;
    if (rc != HB_OK) return rc;
    double w = 1.0 - z;
    double b = 5.1 / (4.0 * pi * pi) - 0.01 * w;
    double c = 5.0 / pi - 0.1 * w;
    double t = 1.0 / (8.0 * pi) + 0.005 * w;
    double q = x[1] - b * (x[0] * x[0]) + c * x[0] - 6.0;
    *loss = q * q + 10.0 * (1.0 - t) * cos(x[0]) + 10.0;
    return HB_OK;
}

const hb_kernel hb__kernel_branin = {
    .abi = HB_KERNEL_ABI,
    .name = KNAME,
    .summary = "BOCA multi-fidelity Branin, 2 floats, budget 1..81 (z = b/81)",
    .min_budget = B_MIN,
    .max_budget = B_MAX,
    .optimum = 0.397887357729738,
    .deterministic = 1,
    .space = branin_space,
    .eval = branin_eval,
    .exact = NULL,
};
