/* hb_master.h — the master loop over any transport (master.c). */
#ifndef HB_MASTER_H
#define HB_MASTER_H

#include "hb_runlog.h"
#include "hb_runtime.h"
#include "hb_transport.h"

struct hb_store;

typedef struct hb_master_opts {
    const hb_space *space;
    int reproducible;   /* W logical slots, results told in issue order; 0: off */
    double time_limit;  /* seconds (transport time); <= 0: none */
    int quiet;
    /* The event log (DESIGN.md contract 2). Its events, if any, are replayed into the optimiser
     * first (warm-start observations, then the earlier sessions of a resumed run): every
     * replayed ask must equal the logged job, and jobs left in flight are issued again. With a
     * store, this session's events are appended to the log and the run file. */
    hb_runlog *log;
    struct hb_store *store;     /* NULL: nothing is recorded */
    int session;                /* this session's number */
    double time_offset;         /* run time of the earlier sessions */
    double grace;               /* seconds running jobs get to stop after a signal */
    const char *session_info;   /* JSON text of this session's event (host, Slurm, ...) */
    double deadline;            /* transport seconds after which no job starts and the session
                                   ends once the running ones report (--stop-before-end); <= 0:
                                   none */
} hb_master_opts;

/* Run 'opt' to the end over 't'; fill 'res' (trials in the order they were told, the replayed
 * ones first). HB_EINTR after a stop signal, once the running jobs are recorded as interrupted
 * (res->stop_signal says which; res->stuck counts jobs that did not stop within the grace), or
 * when the deadline passed and the running jobs finished (res->stop_signal 0). */
int hb_master_run(hb_opt *opt, hb_transport *t, const hb_master_opts *mo, hb_run_result *res,
                  hb_error *err);

#endif
