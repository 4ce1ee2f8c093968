/* registry.c — the table of built-in kernels, in the order `hbmpi kernels` lists them.
 * Adding a kernel is one file under kernels/ plus one line here and one in hb_kernels.h. */
#include "hb_kernels.h"

#include <string.h>

static const hb_kernel *const builtin[] = {
    &hb__kernel_hartmann3,  &hb__kernel_hartmann6,    &hb__kernel_branin,
    &hb__kernel_currin,     &hb__kernel_borehole,     &hb__kernel_counting_ones,
    &hb__kernel_fmnist_mlp, &hb__kernel_fmnist_mlp32, &hb__kernel_cartpole,
    &hb__kernel_pbt_toy,
};

#define N_BUILTIN (sizeof builtin / sizeof builtin[0])

const hb_kernel *hb_kernels_find(const char *name)
{
    if (name == NULL) return NULL;
    for (size_t i = 0; i < N_BUILTIN; i++)
        if (strcmp(builtin[i]->name, name) == 0) return builtin[i];
    return NULL;
}

size_t hb_kernels_count(void) { return N_BUILTIN; }

const hb_kernel *hb_kernels_at(size_t i) { return i < N_BUILTIN ? builtin[i] : NULL; }
