/* pb2_bandit.h — PB2's memory for pbt.c: the observed steps (when a step started, the mutable
 * values it trained with in the unit cube, and what it gained), the steps running now, and the
 * choice of the next mutable values (the GP-UCB bandit of pb2.c). Pure: no I/O, no clock. */
#ifndef HB_PB2_BANDIT_H
#define HB_PB2_BANDIT_H

#include "hb_common.h"
#include "hb_rng.h"

typedef struct hb__pb2_bandit hb__pb2_bandit;

/* A bandit over 'k' mutable values. */
int hb__pb2_bandit_create(hb__pb2_bandit **out, size_t k, hb_error *err);
void hb__pb2_bandit_free(hb__pb2_bandit *b);
/* A finished step: it started at budget 't', trained with 'u' (k values in [0, 1]) and lowered
 * the loss by 'y' (negative if it rose). */
int hb__pb2_bandit_observe(hb__pb2_bandit *b, double t, const double *u, double y, hb_error *err);
/* The steps running now (started at 't', training with 'u'): the choice keeps apart from them. */
void hb__pb2_bandit_clear_pending(hb__pb2_bandit *b);
int hb__pb2_bandit_add_pending(hb__pb2_bandit *b, double t, const double *u, hb_error *err);
/* The k values for a step that starts at 't' into 'u'. */
int hb__pb2_bandit_select(hb__pb2_bandit *b, double t, hb_rng *rng, double *u, hb_error *err);

#endif
