/* fmnist_mlp32.c — the fmnist_mlp32 kernel: fmnist_mlp (docs/kernels.md §4) in float32. The same
 * space, data, random streams, initial weights (drawn in float64 as §4 says, then rounded to
 * float), batches, shuffle, SGD order and divergence rule; every array and every operation after
 * the initialisation in float (cblas_sgemm, expf). Faster where the matrix products dominate, and
 * not held to the vectors: its validation errors stay close to fmnist_mlp's (docs/kernels.md §4,
 * "float32 variant"). Its states have their own magic and name, so neither kernel continues the
 * other's. The code is fmnist_mlp_body.h, shared with fmnist_mlp.c. */
#define REAL float
#define GEMM cblas_sgemm
#define EXP expf
#define KNAME "fmnist_mlp32"
#define STATE_MAGIC "HBFMNI32" /* 8 bytes, no NUL */
#define KERNEL_SYM hb__kernel_fmnist_mlp32
#define SUMMARY                                                                                   \
    "784-H-10 MLP on Fashion-MNIST, SGD + momentum, float32 (option data=DIR), budget 1..27 "    \
    "epochs"

#include "fmnist_mlp_body.h"
