/* borehole.c — the BOCA multi-fidelity Borehole function (docs/kernels.md §2.4, p = 1), minus the
 * mixed flow rate z·f_high + (1 − z)·f_low with z = budget / 81 clamped to [0, 1].
 * Deterministic; the seed is ignored. Knows only the kernel interface: no optimisers, MPI or
 * files. */
#include <math.h>

#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_kernels.h"
#include "kernels_impl.h"

#define KNAME "borehole"
#define DIM 8
#define B_MIN 1.0
#define B_MAX 81.0

static const double pi = 3.14159265358979323846;

/* Parameter order is part of the interface: configurations are vectors in this order. */
enum { RW, R, TU, HU, TL, HL, L, KW };
static const char *const pname[DIM] = {"rw", "r", "Tu", "Hu", "Tl", "Hl", "L", "Kw"};
static const double lower[DIM] = {0.05, 100.0, 63070.0, 990.0, 63.1, 700.0, 1120.0, 9855.0};
static const double upper[DIM] = {0.15, 50000.0, 115600.0, 1110.0, 116.0, 820.0, 1680.0, 12045.0};

static const hb__box box = {KNAME, DIM, pname, lower, upper, B_MAX, NULL, NULL, 0};

static int borehole_space(const char *args, hb_space **out, hb_error *err)
{
    return hb__box_space(&box, args, out, err);
}

static int borehole_eval(const hb_space *sp, const double *x, double budget, uint64_t seed,
                         double *loss, hb_error *err)
{
    double z = 1.0;
    int rc = hb__box_check(&box, sp, x, budget, loss, &z, err);
    (void)seed;
    if (rc != HB_OK) return rc;
    double lambda = log(x[R] / x[RW]);
    double f = 2.0 * x[L] * x[TU] / (lambda * (x[RW] * x[RW]) * x[KW]);
    double ratio = x[TU] / x[TL];
    double f_high = 2.0 * pi * x[TU] * (x[HU] - x[HL]) / (lambda * (1.0 + f + ratio));
    double f_low = 5.0 * x[TU] * (x[HU] - x[HL]) / (lambda * (1.5 + f + ratio));
    *loss = -(z * f_high + (1.0 - z) * f_low);
    return HB_OK;
}

const hb_kernel hb__kernel_borehole = {
    .abi = HB_KERNEL_ABI,
    .name = KNAME,
    .summary = "BOCA multi-fidelity Borehole, 8 floats, budget 1..81 (z = b/81)",
    .min_budget = B_MIN,
    .max_budget = B_MAX,
    .optimum = -309.575587660408,
    .deterministic = 1,
    .space = borehole_space,
    .eval = borehole_eval,
    .exact = NULL,
};
