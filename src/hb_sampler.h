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

typedef enum hb_acquisition { HB_ACQ_EI = 0, HB_ACQ_PI = 1 } hb_acquisition;

/* Settings of the samplers. hb_sampler_opts_init gives the defaults: BOHB's reference values
 * (HpBandSter) for the KDE, and the same split and candidate count for TPE. */
typedef struct hb_sampler_opts {
    double random_fraction;  /* 1/3: share of proposals drawn uniformly at random (kde, tpe) */
    double top_n_percent;    /* 15: the best this many percent are "good" (kde, tpe) */
    int num_samples;         /* 64: candidates drawn per proposal (kde, tpe) */
    double bandwidth_factor; /* 3: candidates are drawn with bandwidths times this (kde, tpe) */
    double min_bandwidth;    /* 1e-3: floor of every bandwidth (kde, tpe) */
    int min_points_in_model; /* 0 means d + 1: results needed before a model is used */
    hb_acquisition acquisition; /* HB_ACQ_EI (gp) */
    int grid_points;         /* 5: grid values per numeric parameter (grid) */
} hb_sampler_opts;

HB_API void hb_sampler_opts_init(hb_sampler_opts *o);

/* A job that was proposed and has no result yet: samplers that model the loss must not pile
 * new proposals onto these (constant liar). */
typedef struct hb_pending {
    const double *x; /* native encoding */
    double budget;
} hb_pending;

/* propose() returns this (> 0, not an error) when the sampler has nothing left (grid). */
#define HB_SAMPLER_EXHAUSTED 1

/* Create sampler 'kind' ("random", "grid", "kde", "tpe", "gp") over 'space' (borrowed; must
 * outlive the sampler), with its own random stream of 'seed'. 'opts' may be NULL (defaults).
 * Unknown kinds give HB_ENOTFOUND; bad settings HB_EINVAL naming the setting. */
HB_API int hb_sampler_create(const char *kind, const hb_space *space, uint64_t seed,
                             const hb_sampler_opts *opts, hb_sampler **out, hb_error *err);
HB_API void hb_sampler_free(hb_sampler *s);
/* Write a new configuration (native encoding, valid in the space) for 'budget' into 'x', given
 * the finished results 'h' and the 'n_pending' jobs still running. Returns HB_OK,
 * HB_SAMPLER_EXHAUSTED, or an error. Deterministic in the sampler's seed and its inputs. */
HB_API int hb_sampler_propose(hb_sampler *s, const hb_history *h, const hb_pending *pending,
                              size_t n_pending, double budget, double *x, hb_error *err);
/* Count a proposal as made without making it (a replay that takes the configuration from a log):
 * the next proposal is the one that would have followed. HB_EINVAL for samplers whose state
 * depends on the proposals themselves (grid, gp): those must be replayed in full. */
HB_API int hb_sampler_skip(hb_sampler *s);

/* 1 if 'kind' names a sampler. */
HB_API int hb_sampler_exists(const char *kind);

#endif
