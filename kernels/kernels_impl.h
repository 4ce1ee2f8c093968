/* kernels_impl.h — what the kernel files share: the space of a "box" kernel (every parameter a
 * linear float in its own interval) and the checks every box kernel runs before it evaluates. */
#ifndef HB_KERNELS_IMPL_H
#define HB_KERNELS_IMPL_H

#include "hb_kernel.h"

typedef struct hb__box {
    const char *kernel;        /* kernel name, for messages */
    size_t dim;
    const char *const *names;  /* dim parameter names */
    const double *lower;       /* dim lower bounds */
    const double *upper;       /* dim upper bounds */
    double max_budget;         /* z = budget / max_budget, clamped to 1 */
} hb__box;

/* The box's space: its floats, linear, no defaults. A box kernel takes no options. */
int hb__box_space(const hb__box *b, const char *args, hb_space **out, hb_error *err);

/* Check the arguments of an eval (space size, budget > 0, every value inside its interval:
 * HB_ERANGE naming the parameter, never clamped) and give the fidelity z in (0, 1]. */
int hb__box_check(const hb__box *b, const hb_space *sp, const double *x, double budget,
                  double *loss, double *z, hb_error *err);

#endif
