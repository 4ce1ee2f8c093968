/* hb_history.h — the observations an optimiser has been told: configuration, budget, loss and
 * status per finished job. Samplers read it; it knows nothing of time, ranks or files. */
#ifndef HB_HISTORY_H
#define HB_HISTORY_H

#include "hb_common.h"

typedef enum hb_trial_status {
    HB_TRIAL_OK = 0,
    HB_TRIAL_FAILED,
    HB_TRIAL_TIMEOUT,
    HB_TRIAL_CRASHED,
    HB_TRIAL_NAN,
    HB_TRIAL_LOST
} hb_trial_status;

/* "ok", "failed", "timeout", "crashed", "nan", "lost" (CLI.md). */
HB_API const char *hb_trial_status_name(hb_trial_status s);

typedef struct hb_history hb_history;

typedef struct hb_obs {
    uint64_t id;
    const double *x; /* native encoding, hb_history_dim() values; owned by the history */
    double budget;
    double loss;     /* meaningful only when status == HB_TRIAL_OK */
    hb_trial_status status;
} hb_obs;

HB_API int hb_history_create(size_t dim, hb_history **out);
HB_API void hb_history_free(hb_history *h);
/* Append an observation (copies 'x'). */
HB_API int hb_history_add(hb_history *h, uint64_t id, const double *x, double budget, double loss,
                          hb_trial_status status);
HB_API size_t hb_history_size(const hb_history *h);
HB_API size_t hb_history_dim(const hb_history *h);
/* A view of observation 'i' (in the order told), valid until the next add. */
HB_API hb_obs hb_history_at(const hb_history *h, size_t i);

#endif
