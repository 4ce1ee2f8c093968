/* kernel.c — checks on the kernel interface shared by built-in and plugin kernels. */
#include "hb_kernel.h"

#include <math.h>

int hb_kernel_check(const hb_kernel *k, hb_error *err)
{
    if (k == NULL) return hb_error_set(err, HB_EINVAL, NULL, "kernel is NULL");
    if (k->abi != HB_KERNEL_ABI)
        return hb_error_set(err, HB_EINVAL, NULL, "kernel ABI %d, this hbmpi expects %d", k->abi,
                            HB_KERNEL_ABI);
    if (k->name == NULL || k->space == NULL || k->eval == NULL)
        return hb_error_set(err, HB_EINVAL, NULL, "kernel lacks a name, space or eval");
    if (!(k->min_budget > 0) || !(k->max_budget >= k->min_budget))
        return hb_error_set(err, HB_EINVAL, NULL, "kernel '%s' has a bad budget range", k->name);
    return HB_OK;
}

double hb_kernel_regret(const hb_kernel *k, double loss)
{
    if (isnan(k->optimum)) return NAN;
    double r = loss - k->optimum;
    return r > 0 ? r : 0.0;
}
