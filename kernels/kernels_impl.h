/* kernels_impl.h — what the kernel files share: the step count of an integer budget, the space
 * of a "box" kernel (every parameter a linear float in its own interval) and the checks every box
 * kernel runs before it evaluates. */
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
    const hb_scale *scales;    /* dim scales, or NULL: all linear */
    const int *mut;            /* dim flags: 1 marks a mutable parameter; or NULL: none */
    int named;                 /* 1: an eval also checks each parameter's name and type */
} hb__box;

/* The box's space: its floats (with their scales and mutable marks), no defaults. A box kernel
 * takes no options. */
int hb__box_space(const hb__box *b, const char *args, hb_space **out, hb_error *err);

/* Check the arguments of an eval (space size; with 'named', each parameter a float of the box's
 * name; budget > 0; every value inside its interval: HB_ERANGE naming the parameter, never
 * clamped) and give the fidelity z in (0, 1]. */
int hb__box_check(const hb__box *b, const hb_space *sp, const double *x, double budget,
                  double *loss, double *z, hb_error *err);

/* The whole number of steps (draws, epochs, episodes) of an integer-budget kernel (docs/kernels.md §1):
 * 'budget' above 'max' counts as 'max', then n = floor(b + 0.5), at least 1, which absorbs
 * HyperBand's 26.999999 and the like. */
uint64_t hb__budget_steps(double budget, double max);

/* Saved states (docs/kernels.md §4, §5, §8): integers little-endian whatever the machine, doubles
 * as their IEEE bits (so a state restores the exact values, NaN included), and a check over the
 * bytes, FNV-1a 64-bit: a change of any single byte always changes it. */
void hb__put_u64(unsigned char *p, uint64_t v);
uint64_t hb__get_u64(const unsigned char *p);
void hb__put_u32(unsigned char *p, uint32_t v);
uint32_t hb__get_u32(const unsigned char *p);
uint64_t hb__f64_bits(double d);
void hb__put_f64(unsigned char *p, double d);
double hb__get_f64(const unsigned char *p);
uint64_t hb__fnv1a64(const unsigned char *p, size_t n);

/* The Hartmann family (docs/kernels.md §2.1): four terms, all alphas lowered by 0.1·(1 − z). */
#define HB__HARTMANN_TERMS 4
#define HB__HARTMANN_MAX_DIM 6

typedef struct hb__hartmann {
    hb__box box;                                           /* name, size, unit-cube bounds */
    double a[HB__HARTMANN_TERMS][HB__HARTMANN_MAX_DIM];    /* A_ij, first 'dim' columns used */
    double p[HB__HARTMANN_TERMS][HB__HARTMANN_MAX_DIM];    /* P_ij, first 'dim' columns used */
} hb__hartmann;

/* Names x0..x5 and the unit bounds the Hartmann boxes use. */
extern const char *const hb__hartmann_names[HB__HARTMANN_MAX_DIM];
extern const double hb__hartmann_zeros[HB__HARTMANN_MAX_DIM];
extern const double hb__hartmann_ones[HB__HARTMANN_MAX_DIM];

int hb__hartmann_eval(const hb__hartmann *h, const hb_space *sp, const double *x, double budget,
                      double *loss, hb_error *err);

#endif
