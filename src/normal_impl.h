/* normal_impl.h — the standard normal distribution function, one definition for the GP's
 * acquisitions (gp.c: EI and PI) and TPE's normals truncated to the unit interval
 * (sampler_tpe.c). Their proposals depend on its last bit, so there is exactly one. */
#ifndef HB_NORMAL_IMPL_H
#define HB_NORMAL_IMPL_H

#include <math.h>

/* Phi(z) = P(Z <= z) for Z standard normal: 0.5 erfc(-z / sqrt 2), accurate in both tails. */
static inline double hb__norm_cdf(double z) { return 0.5 * erfc(-z / 1.4142135623730951); }

#endif
