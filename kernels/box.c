/* box.c — what the kernel files share: the space and argument checks of the kernels whose
 * parameters are floats in intervals, the step count of the integer-budget kernels, and the bytes
 * of saved states (kernels_impl.h). */
#include <math.h>
#include <string.h>

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
        if ((rc = hb_space_add_float(sp, b->names[j], b->lower[j], b->upper[j],
                                     b->scales ? b->scales[j] : HB_SCALE_LINEAR, NAN, err)) != HB_OK ||
            (b->mut && b->mut[j] && (rc = hb_space_set_mutable(sp, b->names[j], 1, err)) != HB_OK))
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
    for (size_t j = 0; b->named && j < b->dim; j++)
        if (hb_space_type(sp, j) != HB_PARAM_FLOAT || strcmp(hb_space_name(sp, j), b->names[j]) != 0)
            return hb_error_set(err, HB_EINVAL, NULL,
                                "%s: parameter %zu is '%s', expected the float '%s'", b->kernel, j,
                                hb_space_name(sp, j), b->names[j]);
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

void hb__put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t hb__get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void hb__put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

uint32_t hb__get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

uint64_t hb__f64_bits(double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return v;
}

void hb__put_f64(unsigned char *p, double d) { hb__put_u64(p, hb__f64_bits(d)); }

double hb__get_f64(const unsigned char *p)
{
    uint64_t v = hb__get_u64(p);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* Each step is a bijection of the running hash for a fixed byte, so one changed byte always
 * changes the result. */
uint64_t hb__fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3u;
    return h;
}
