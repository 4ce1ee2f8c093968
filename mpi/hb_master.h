/* hb_master.h — the master loop over any transport (master.c). */
#ifndef HB_MASTER_H
#define HB_MASTER_H

#include "hb_runtime.h"
#include "hb_transport.h"

typedef struct hb_master_opts {
    const hb_space *space;
    int reproducible;   /* W logical slots, results told in issue order; 0: off */
    double time_limit;  /* seconds (transport time); <= 0: none */
    int quiet;
} hb_master_opts;

/* Run 'opt' to the end over 't'; fill 'res' (trials in the order they were told). */
int hb_master_run(hb_opt *opt, hb_transport *t, const hb_master_opts *mo, hb_run_result *res,
                  hb_error *err);

#endif
