/* hartmann.c — the BOCA multi-fidelity Hartmann functions hartmann3 and hartmann6
 * (KERNELS.md §2.1), written as losses to minimise: all four α_i are lowered by 0.1·(1 − z)
 * with z = budget / 81 clamped to [0, 1]. Deterministic; the seed is ignored.
 * Knows only the kernel interface: no optimisers, MPI or files. */
#include <math.h>

#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_kernels.h"
#include "kernels_impl.h"

#define N_TERMS 4
#define MAX_DIM 6
#define B_MIN 1.0
#define B_MAX 81.0

/* One Hartmann function: its coefficient tables and its size. */
typedef struct hartmann_def {
    hb__box box;                       /* name, size, unit-cube bounds */
    double a[N_TERMS][MAX_DIM];        /* A_ij, first 'dim' columns used */
    double p[N_TERMS][MAX_DIM];        /* P_ij, first 'dim' columns used */
} hartmann_def;

static const double alpha[N_TERMS] = {1.0, 1.2, 3.0, 3.2};
static const char *const xname[MAX_DIM] = {"x0", "x1", "x2", "x3", "x4", "x5"};
static const double zeros[MAX_DIM] = {0, 0, 0, 0, 0, 0};
static const double ones[MAX_DIM] = {1, 1, 1, 1, 1, 1};

static const hartmann_def h3 = {
    {"hartmann3", 3, xname, zeros, ones, B_MAX},
    {{3.0, 10.0, 30.0}, {0.1, 10.0, 35.0}, {3.0, 10.0, 30.0}, {0.1, 10.0, 35.0}},
    {{0.3689, 0.1170, 0.2673},
     {0.4699, 0.4387, 0.7470},
     {0.1091, 0.8732, 0.5547},
     {0.0381, 0.5743, 0.8828}},
};

static const hartmann_def h6 = {
    {"hartmann6", 6, xname, zeros, ones, B_MAX},
    {{10.0, 3.0, 17.0, 3.5, 1.7, 8.0},
     {0.05, 10.0, 17.0, 0.1, 8.0, 14.0},
     {3.0, 3.5, 1.7, 10.0, 17.0, 8.0},
     {17.0, 8.0, 0.05, 10.0, 0.1, 14.0}},
    {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
     {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
     {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
     {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}},
};

static int eval(const hartmann_def *h, const hb_space *sp, const double *x, double budget,
                double *loss, hb_error *err)
{
    double z = 1.0;
    int rc = hb__box_check(&h->box, sp, x, budget, loss, &z, err);
    if (rc != HB_OK) return rc;
    double w = 1.0 - z;
    double sum = 0.0;
    for (size_t i = 0; i < N_TERMS; i++) {
        double e = 0.0;
        for (size_t j = 0; j < h->box.dim; j++) {
            double d = x[j] - h->p[i][j];
            e += h->a[i][j] * (d * d);
        }
        sum += (alpha[i] - 0.1 * w) * exp(-e);
    }
    *loss = -sum;
    return HB_OK;
}

static int h3_space(const char *args, hb_space **out, hb_error *err)
{
    return hb__box_space(&h3.box, args, out, err);
}

static int h6_space(const char *args, hb_space **out, hb_error *err)
{
    return hb__box_space(&h6.box, args, out, err);
}

static int h3_eval(const hb_space *sp, const double *x, double budget, uint64_t seed,
                   double *loss, hb_error *err)
{
    (void)seed;
    return eval(&h3, sp, x, budget, loss, err);
}

static int h6_eval(const hb_space *sp, const double *x, double budget, uint64_t seed,
                   double *loss, hb_error *err)
{
    (void)seed;
    return eval(&h6, sp, x, budget, loss, err);
}

const hb_kernel hb__kernel_hartmann3 = {
    .abi = HB_KERNEL_ABI,
    .name = "hartmann3",
    .summary = "BOCA multi-fidelity Hartmann, 3 floats in [0,1], budget 1..81 (z = b/81)",
    .min_budget = B_MIN,
    .max_budget = B_MAX,
    .optimum = -3.86277978733266,
    .deterministic = 1,
    .space = h3_space,
    .eval = h3_eval,
    .exact = NULL,
};

const hb_kernel hb__kernel_hartmann6 = {
    .abi = HB_KERNEL_ABI,
    .name = "hartmann6",
    .summary = "BOCA multi-fidelity Hartmann, 6 floats in [0,1], budget 1..81 (z = b/81)",
    .min_budget = B_MIN,
    .max_budget = B_MAX,
    .optimum = -3.32236801141551,
    .deterministic = 1,
    .space = h6_space,
    .eval = h6_eval,
    .exact = NULL,
};
