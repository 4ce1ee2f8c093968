/* hartmann.c — the loss shared by hartmann3.c and hartmann6.c, the BOCA multi-fidelity Hartmann
 * functions (docs/kernels.md §2.1) written as losses: all four α_i are lowered by 0.1·(1 − z) with
 * z = budget / 81 clamped to [0, 1]. Each file holds its own coefficient tables. */
#include <math.h>

#include "kernels_impl.h"

static const double alpha[HB__HARTMANN_TERMS] = {1.0, 1.2, 3.0, 3.2};

const char *const hb__hartmann_names[HB__HARTMANN_MAX_DIM] = {"x0", "x1", "x2", "x3", "x4", "x5"};
const double hb__hartmann_zeros[HB__HARTMANN_MAX_DIM] = {0, 0, 0, 0, 0, 0};
const double hb__hartmann_ones[HB__HARTMANN_MAX_DIM] = {1, 1, 1, 1, 1, 1};

int hb__hartmann_eval(const hb__hartmann *h, const hb_space *sp, const double *x, double budget,
                      double *loss, hb_error *err)
{
    double z = 1.0;
    int rc = hb__box_check(&h->box, sp, x, budget, loss, &z, err);
    if (rc != HB_OK) return rc;
    double w = 1.0 - z;
    double sum = 0.0;
    for (size_t i = 0; i < HB__HARTMANN_TERMS; i++) {
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
