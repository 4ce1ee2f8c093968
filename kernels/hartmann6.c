/* hartmann6.c — the 6-D multi-fidelity Hartmann function (docs/kernels.md §2.1); the loss
 * itself is in hartmann.c. Deterministic; the seed is ignored. */
#include "hb_kernels.h"
#include "kernels_impl.h"

static const hb__hartmann h = {
    {"hartmann6", 6, hb__hartmann_names, hb__hartmann_zeros, hb__hartmann_ones, 81.0, NULL, NULL, 0},
    {{10.0, 3.0, 17.0, 3.5, 1.7, 8.0},
     {0.05, 10.0, 17.0, 0.1, 8.0, 14.0},
     {3.0, 3.5, 1.7, 10.0, 17.0, 8.0},
     {17.0, 8.0, 0.05, 10.0, 0.1, 14.0}},
    {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
     {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
     {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
     {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}}
};

static int h6_space(const char *args, hb_space **out, hb_error *err)
{
    return hb__box_space(&h.box, args, out, err);
}

static int h6_eval(const hb_space *sp, const double *x, double budget, uint64_t seed,
                   double *loss, hb_error *err)
{
    (void)seed;
    return hb__hartmann_eval(&h, sp, x, budget, loss, err);
}

const hb_kernel hb__kernel_hartmann6 = {
    .abi = HB_KERNEL_ABI,
    .name = "hartmann6",
    .summary = "BOCA multi-fidelity Hartmann, 6 floats in [0,1], budget 1..81 (z = b/81)",
    .min_budget = 1.0,
    .max_budget = 81.0,
    .optimum = -3.32236801141551,
    .deterministic = 1,
    .space = h6_space,
    .eval = h6_eval,
    .exact = NULL,
};
