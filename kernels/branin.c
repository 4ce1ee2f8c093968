/* branin.c — the BOCA multi-fidelity Branin function (KERNELS.md §2.2, p = 3 on the
 * diagonal), a loss to minimise; z = budget / 81 clamped to [0, 1]. Deterministic; the seed
 * is ignored. Knows only the kernel interface: no optimisers, MPI or files. */
#include <math.h>

#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_kernels.h"

#define KNAME "branin"
#define DIM 2
#define B_MIN 1.0
#define B_MAX 81.0

static const double pi = 3.14159265358979323846;

static const char *const pname[DIM] = {"x0", "x1"};
static const double lower[DIM] = {-5.0, 0.0};
static const double upper[DIM] = {10.0, 15.0};

/* Space: the DIM parameters of pname[], float in [lower, upper], linear, no default. */
static int branin_space(const char *args, hb_space **out, hb_error *err)
{
    hb_space *sp = NULL;
    int rc;
    if (out == NULL) return hb_error_set(err, HB_EINVAL, NULL, "%s: 'out' is NULL", KNAME);
    *out = NULL;
    if (args != NULL)
        return hb_error_set(err, HB_EINVAL, NULL, "kernel '%s' takes no options, got '%s'",
                            KNAME, args);
    if ((rc = hb_space_create(&sp)) != HB_OK)
        return hb_error_set(err, rc, NULL, "%s: cannot create the space", KNAME);
    for (size_t j = 0; j < DIM; j++)
        if ((rc = hb_space_add_float(sp, pname[j], lower[j], upper[j], HB_SCALE_LINEAR, NAN,
                                     err)) != HB_OK)
            goto fail;
    if ((rc = hb_space_finalize(sp, NULL, err)) != HB_OK) goto fail;
    *out = sp;
    return HB_OK;
fail:
    hb_space_free(sp);
    return rc;
}

/* Check the arguments of eval and give the fidelity z = budget / B_MAX clamped to [0, 1]. */
static int check_input(const hb_space *sp, const double *x, double budget, double *loss,
                       double *z, hb_error *err)
{
    if (loss != NULL) *loss = NAN;
    if (sp == NULL || x == NULL || loss == NULL)
        return hb_error_set(err, HB_EINVAL, NULL, "%s: NULL space, config or loss", KNAME);
    if (hb_space_dim(sp) != DIM)
        return hb_error_set(err, HB_EINVAL, NULL, "%s: the space has %zu parameters, expected %d",
                            KNAME, hb_space_dim(sp), DIM);
    if (!(budget > 0.0))
        return hb_error_set(err, HB_EINVAL, NULL, "%s: budget must be > 0, got %g", KNAME,
                            budget);
    for (size_t j = 0; j < DIM; j++)
        if (!(x[j] >= lower[j] && x[j] <= upper[j]))
            return hb_error_set(err, HB_ERANGE, NULL,
                                "%s: parameter '%s' = %.17g is outside [%g, %g]", KNAME,
                                pname[j], x[j], lower[j], upper[j]);
    *z = budget / B_MAX;
    if (*z > 1.0) *z = 1.0;
    return HB_OK;
}

static int branin_eval(const hb_space *sp, const double *x, double budget, uint64_t seed,
                       double *loss, hb_error *err)
{
    double z = 1.0;
    int rc = check_input(sp, x, budget, loss, &z, err);
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
