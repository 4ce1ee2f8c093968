/* hb_kernels.h — the registry of built-in objective functions (docs/kernels.md). The kernels live
 * one per file in kernels/ and know only the kernel interface (hb_kernel.h); this header is
 * the one place that lists them. Nothing here knows of optimisers, MPI or files. */
#ifndef HB_KERNELS_H
#define HB_KERNELS_H

#include "hb_kernel.h"

/* The built-in kernel named exactly 'name' (no prefix or case folding), or NULL if there is
 * none or 'name' is NULL. The pointer is to static data and is valid for the whole run. */
HB_API const hb_kernel *hb_kernels_find(const char *name);

/* Number of built-in kernels. */
HB_API size_t hb_kernels_count(void);

/* Built-in kernel 'i' in registry order (hartmann3, hartmann6, branin, currin, borehole,
 * counting_ones, fmnist_mlp, fmnist_mlp32, cartpole, pbt_toy), or NULL if 'i' >=
 * hb_kernels_count(). */
HB_API const hb_kernel *hb_kernels_at(size_t i);

/* The kernels themselves, one per file under kernels/ (internal: use the functions above). */
extern const hb_kernel hb__kernel_hartmann3;     /* hartmann.c */
extern const hb_kernel hb__kernel_hartmann6;     /* hartmann.c */
extern const hb_kernel hb__kernel_branin;        /* branin.c */
extern const hb_kernel hb__kernel_currin;        /* currin.c */
extern const hb_kernel hb__kernel_borehole;      /* borehole.c */
extern const hb_kernel hb__kernel_counting_ones; /* counting_ones.c */
extern const hb_kernel hb__kernel_fmnist_mlp;    /* fmnist_mlp.c */
extern const hb_kernel hb__kernel_fmnist_mlp32;  /* fmnist_mlp32.c (float32) */
extern const hb_kernel hb__kernel_cartpole;      /* cartpole.c */
extern const hb_kernel hb__kernel_pbt_toy;       /* pbt_toy.c */

#endif
