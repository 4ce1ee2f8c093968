/* hb_kernel.h — the objective-function interface. A kernel knows its space, its budget range
 * and (if known) its optimum, and evaluates one configuration at one budget with one seed.
 * Kernels know nothing of optimisers, MPI or files; the runtime calls them. */
#ifndef HB_KERNEL_H
#define HB_KERNEL_H

#include "hb_common.h"
#include "hb_space.h"

/* Bumped whenever this struct changes; hb_kernel_check refuses any other value. */
#define HB_KERNEL_ABI 2

/* The state a training kernel saved after some budget: bytes only that kernel reads (they carry
 * their own check of what they belong to). 'data' is hb_malloc'd by the kernel; the caller frees
 * it with hb_free. */
typedef struct hb_kernel_state {
    void *data;
    size_t len;
} hb_kernel_state;

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
    /* Optional, for kernels that train (NULL for the others): evaluate exactly as eval does, but
     * start from 'from' when it is not NULL, a state this kernel gave in 'to' for the same x and
     * seed at a budget not above this one, and so train only the difference (the prefix property
     * of docs/kernels.md makes the loss bit-identical to eval's). x may differ from the state's in the
     * parameters the kernel's space marks mutable: the rest is then trained with the new values
     * (docs/kernels.md §1.1, for pbt and pb2). A 'from' that does not fit (another kernel, fixed
     * parameter, seed or layout, a larger budget, damaged bytes) is refused with HB_EINVAL and
     * changes nothing, so the caller can train from scratch instead. With 'to' not NULL the state
     * after training is stored there. '*trained' gets the budget actually trained, in budget
     * units (the whole budget from scratch). All of a configuration's rungs are evaluated with
     * one seed (the run's evaluators give training kernels a per-configuration seed). */
    int (*train)(const hb_space *sp, const double *x, double budget, uint64_t seed,
                 const hb_kernel_state *from, hb_kernel_state *to, double *trained, double *loss,
                 hb_error *err);
} hb_kernel;

/* HB_OK if 'k' has the right ABI and every required field; HB_EINVAL with a message if not. */
HB_API int hb_kernel_check(const hb_kernel *k, hb_error *err);

/* Regret of 'loss' per docs/kernels.md §1: max(0, loss - optimum); NaN if the optimum is unknown. */
HB_API double hb_kernel_regret(const hb_kernel *k, double loss);

#endif
