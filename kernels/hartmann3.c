/* hartmann3.c — the 3-D multi-fidelity Hartmann function (docs/kernels.md §2.1); the loss
 * itself is in hartmann.c. Deterministic; the seed is ignored. */
#include "hb_kernels.h"
#include "kernels_impl.h"

static const hb__hartmann h = {
    {"hartmann3", 3, hb__hartmann_names, hb__hartmann_zeros, hb__hartmann_ones, 81.0, NULL, NULL, 0},
    {{3.0, 10.0, 30.0}, {0.1, 10.0, 35.0}, {3.0, 10.0, 30.0}, {0.1, 10.0, 35.0}},
    {{0.3689, 0.1170, 0.2673},
     {0.4699, 0.4387, 0.7470},
     {0.1091, 0.8732, 0.5547},
     {0.0381, 0.5743, 0.8828}}
};

static int h3_space(const char *args, hb_space **out, hb_error *err)
{
    return hb__box_space(&h.box, args, out, err);
}

static int h3_eval(const hb_space *sp, const double *x, double budget, uint64_t seed,
                   double *loss, hb_error *err)
{
    (void)seed;
    return hb__hartmann_eval(&h, sp, x, budget, loss, err);
}

const hb_kernel hb__kernel_hartmann3 = {
    .abi = HB_KERNEL_ABI,
    .name = "hartmann3",
    .summary = "BOCA multi-fidelity Hartmann, 3 floats in [0,1], budget 1..81 (z = b/81)",
    .min_budget = 1.0,
    .max_budget = 81.0,
    .optimum = -3.86277978733266,
    .deterministic = 1,
    .space = h3_space,
    .eval = h3_eval,
    .exact = NULL,
};
