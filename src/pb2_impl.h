/* pb2_impl.h — PB2's selection step (Parker-Holder, Nguyen, Roberts, NeurIPS 2020): the next
 * values of a member's mutable hyperparameters from the improvements seen so far, by a
 * time-varying GP and UCB. Pure: no I/O, no clock; randomness only from the caller's rng.
 * Seen by src/opt.c (the pbt / pb2 optimisers) and the tests; knows nothing of spaces. */
#ifndef HB_PB2_IMPL_H
#define HB_PB2_IMPL_H

#include "hb_common.h"
#include "hb_rng.h"

/* Observations used at most: the most recent ones by 't' (cost grows as this cubed). */
#define HB__PB2_MAX_OBS 150
/* Pending intervals used at most: the most recent ones by 't'. */
#define HB__PB2_MAX_PENDING 64

/* One training interval of one member. 't' is the time at its start, in budget units (the
 * member's training so far, e.g. epochs); 'u' points to the k mutable hyperparameters used
 * during it, as unit-cube coordinates in [0, 1] (borrowed, read during the call only); 'y' is
 * its improvement: loss at the interval's start minus loss at its end, so larger is better.
 * Intervals are taken to be of equal length; if they are not, pass the improvement per budget
 * unit. For a pending (running) interval 'y' is not read. */
typedef struct hb__pb2_obs {
    double t;        /* start of the interval, budget units */
    const double *u; /* k hyperparameters in [0, 1], borrowed */
    double y;        /* improvement over the interval (larger is better) */
} hb__pb2_obs;

/* Choose into 'u_out' (k values in [0, 1], caller-owned) the mutable hyperparameters of a member
 * about to train the interval that starts at time 't_next' (budget units, as 't' above).
 * 'obs' (n_obs) are finished intervals of any member, in any order; 'pending' (n_pending) the
 * intervals other members are training now, which the choice avoids duplicating. Observations
 * whose t or y is not finite (failed intervals) and pending ones whose t is not finite are
 * ignored; coordinates outside [0, 1] are clamped. With fewer than 2 usable observations, or a
 * GP that cannot be fitted, u_out is uniform random. Deterministic given the state of 'rng',
 * which it advances. Returns HB_OK; HB_EINVAL (k == 0, a NULL array, u or u_out, a NaN
 * coordinate, a non-finite t_next) with u_out untouched; HB_ENOMEM. 'err' may be NULL. */
int hb__pb2_select(size_t k, const hb__pb2_obs *obs, size_t n_obs, const hb__pb2_obs *pending,
                   size_t n_pending, double t_next, hb_rng *rng, double *u_out, hb_error *err);

#endif
