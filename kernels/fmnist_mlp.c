/* fmnist_mlp.c — the fmnist_mlp kernel (docs/kernels.md §4): the 784-H-10 MLP on Fashion-MNIST in
 * float64, the precision of the reference and of the vectors. The network, its training and its
 * state are fmnist_mlp_body.h, shared with the float32 kernel fmnist_mlp32.c; this file chooses
 * the precision and adds the test hook of fmnist_data.h. */
#define REAL double
#define GEMM cblas_dgemm
#define EXP exp
#define KNAME "fmnist_mlp"
#define STATE_MAGIC "HBFMNIST" /* 8 bytes, no NUL */
#define KERNEL_SYM hb__kernel_fmnist_mlp
#define SUMMARY                                                                                   \
    "784-H-10 MLP on Fashion-MNIST, SGD + momentum, float64 (option data=DIR), budget 1..27 "    \
    "epochs"

#include "fmnist_mlp_body.h"

int hb__fmnist_initial(size_t n_hidden, uint64_t seed, double *w1, double *w2, double *val,
                       hb_error *err)
{
    hb__fmnist d;
    net n = {0};
    work w = {0};
    int rc;
    if (n_hidden < 1 || n_hidden > MAX_HIDDEN || w1 == NULL || w2 == NULL || val == NULL)
        return hb_error_set(err, HB_EINVAL, NULL, "%s: bad arguments to the test hook", KNAME);
    if ((rc = hb__fmnist_get(&d, err)) != HB_OK) return rc;
    setup();
    n.h = n_hidden;
    n.blob = hb_malloc(state_len(n_hidden));
    if (n.blob == NULL || work_alloc(&w, n_hidden, 1) != HB_OK) {
        hb_free(n.blob);
        return hb_error_set(err, HB_ENOMEM, NULL, "%s: out of memory", KNAME);
    }
    bind(&n);
    init_net(&n, NULL, seed);
    for (size_t i = 0; i < NP; i++)
        for (size_t j = 0; j < n_hidden; j++) w1[i * n_hidden + j] = n.w1t[j * NP + i];
    memcpy(w2, n.w2, n_hidden * NC * sizeof(double));
    *val = val_error(&n, &w, &d);
    hb_free(w.mem);
    hb_free(n.blob);
    return HB_OK;
}
