/* hb_kernel.h — the objective-function interface. A kernel knows its space, its budget range
 * and (if known) its optimum, and evaluates one configuration at one budget with one seed.
 * Kernels know nothing of optimisers, MPI or files; the runtime calls them. */
#ifndef HB_KERNEL_H
#define HB_KERNEL_H

#include "hb_common.h"
#include "hb_space.h"

/* Bumped whenever this struct changes; hb_kernel_check refuses any other value. */
#define HB_KERNEL_ABI 1

typedef struct hb_kernel {
    int abi;                /* HB_KERNEL_ABI */
    const char *name;       /* "hartmann6" */
    const char *summary;    /* one line for `hbmpi kernels` */
    double min_budget;      /* default budget range */
    double max_budget;
    double optimum;         /* loss at the optimum at max_budget, or NaN if unknown */
    int deterministic;      /* 1 if the seed is ignored */
    /* Build the kernel's space. 'args' is the text after "name:" in --kernel, or NULL for the
     * defaults; a kernel without options refuses non-NULL args with HB_EINVAL. */
    int (*space)(const char *args, hb_space **out, hb_error *err);
    /* Evaluate configuration 'x' (native encoding of the space that space() built) at 'budget'
     * with 'seed'. A value outside the space is an error (HB_ERANGE), never clamped. */
    int (*eval)(const hb_space *sp, const double *x, double budget, uint64_t seed, double *loss,
                hb_error *err);
    /* Optional: the exact expected loss used for regret when eval is noisy (NULL if none). */
    int (*exact)(const hb_space *sp, const double *x, double *loss, hb_error *err);
} hb_kernel;

/* HB_OK if 'k' has the right ABI and every required field; HB_EINVAL with a message if not. */
HB_API int hb_kernel_check(const hb_kernel *k, hb_error *err);

/* Regret of 'loss' per KERNELS.md §1: max(0, loss - optimum); NaN if the optimum is unknown. */
HB_API double hb_kernel_regret(const hb_kernel *k, double loss);

#endif
