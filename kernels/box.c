/* box.c — what the kernel files share: the space and argument checks of the BOCA kernels, and the
 * step count of the integer-budget kernels (kernels_impl.h). */
#include <math.h>

#include "kernels_impl.h"

int hb__box_space(const hb__box *b, const char *args, hb_space **out, hb_error *err)
{
    hb_space *sp = NULL;
    int rc;
    if (out == NULL) return hb_error_set(err, HB_EINVAL, NULL, "%s: 'out' is NULL", b->kernel);
    *out = NULL;
    if (args != NULL)
        return hb_error_set(err, HB_EINVAL, NULL, "kernel '%s' takes no options, got '%s'",
                            b->kernel, args);
    if ((rc = hb_space_create(&sp)) != HB_OK)
        return hb_error_set(err, rc, NULL, "%s: cannot create the space", b->kernel);
    for (size_t j = 0; j < b->dim; j++)
        if ((rc = hb_space_add_float(sp, b->names[j], b->lower[j], b->upper[j], HB_SCALE_LINEAR,
                                     NAN, err)) != HB_OK)
            goto fail;
    if ((rc = hb_space_finalize(sp, NULL, err)) != HB_OK) goto fail;
    *out = sp;
    return HB_OK;
fail:
    hb_space_free(sp);
    return rc;
}

int hb__box_check(const hb__box *b, const hb_space *sp, const double *x, double budget,
                  double *loss, double *z, hb_error *err)
{
    if (loss != NULL) *loss = NAN;
    if (sp == NULL || x == NULL || loss == NULL)
        return hb_error_set(err, HB_EINVAL, NULL, "%s: NULL space, config or loss", b->kernel);
    if (hb_space_dim(sp) != b->dim)
        return hb_error_set(err, HB_EINVAL, NULL, "%s: the space has %zu parameters, expected %zu",
                            b->kernel, hb_space_dim(sp), b->dim);
    if (!(budget > 0.0))
        return hb_error_set(err, HB_EINVAL, NULL, "%s: budget must be > 0, got %g", b->kernel,
                            budget);
    for (size_t j = 0; j < b->dim; j++)
        if (!(x[j] >= b->lower[j] && x[j] <= b->upper[j]))
            return hb_error_set(err, HB_ERANGE, NULL,
                                "%s: parameter '%s' = %.17g is outside [%g, %g]", b->kernel,
                                b->names[j], x[j], b->lower[j], b->upper[j]);
    *z = budget / b->max_budget;
    if (*z > 1.0) *z = 1.0;
    return HB_OK;
}

uint64_t hb__budget_steps(double budget, double max)
{
    double b = floor((budget > max ? max : budget) + 0.5);
    return b < 1.0 ? 1 : (uint64_t)b;
}
