/* hb_sampler.h — where new configurations come from. A sampler proposes a configuration for a
 * budget given the history; the scheduler decides budgets. One file per sampler, one table of
 * operations each (sampler_impl.h); this header is the public face. */
#ifndef HB_SAMPLER_H
#define HB_SAMPLER_H

#include "hb_common.h"
#include "hb_history.h"
#include "hb_rng.h"
#include "hb_space.h"

typedef struct hb_sampler hb_sampler;

/* Create sampler 'kind' ("random") over 'space' (borrowed; must outlive the sampler), with its
 * own random stream of 'seed'. Unknown kinds give HB_ENOTFOUND. */
HB_API int hb_sampler_create(const char *kind, const hb_space *space, uint64_t seed,
                             hb_sampler **out, hb_error *err);
HB_API void hb_sampler_free(hb_sampler *s);
/* Write a new configuration (native encoding) for 'budget' into 'x'. */
HB_API int hb_sampler_propose(hb_sampler *s, const hb_history *h, double budget, double *x,
                              hb_error *err);
HB_API const char *hb_sampler_name(const hb_sampler *s);
/* 1 if 'kind' names a sampler. */
HB_API int hb_sampler_exists(const char *kind);

#endif
