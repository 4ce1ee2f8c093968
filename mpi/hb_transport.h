/* hb_transport.h — how jobs reach workers and results come back (DESIGN.md contract 4). The
 * master loop (master.c) is written once against this table; the serial transport evaluates in
 * the master's own process, the MPI transport on ranks 1..N-1, the simulated one on virtual
 * workers in virtual time. A transport queues what it cannot start at once. */
#ifndef HB_TRANSPORT_H
#define HB_TRANSPORT_H

#include <mpi.h>

#include "hb_eval.h"
#include "hb_opt.h"
#include "hb_wait.h" /* hb_mpi_wait, for the callers that have it from here (main.c, sweep.c) */

typedef struct hb_transport hb_transport;

/* One finished job. */
typedef struct hb_done {
    uint64_t id;
    int worker;          /* rank (MPI), virtual worker (simulation) or 0 (serial) */
    double start, end;   /* seconds since the run started (virtual time in a simulation) */
    hb_eval_result r;
} hb_done;

typedef struct hb_transport_ops {
    const char *name;
    /* Workers that would start a job at once (idle and nothing queued for them). */
    int (*idle)(hb_transport *t);
    /* Queue job 'j' (its configuration is copied); start it if a worker is idle, worker
     * 'prefer' if that one is (the worker of the job's previous rung, whose checkpoint is local
     * and warm; -1: any). */
    int (*submit)(hb_transport *t, const hb_eval_job *j, int prefer, hb_error *err);
    /* Block until some job finishes; HB_OK and '*d' filled. */
    int (*next)(hb_transport *t, hb_done *d, hb_error *err);
    /* Seconds since the run started (virtual in a simulation). */
    double (*now)(hb_transport *t);
    /* Stopping early (a signal): drop the queued jobs and ask the running ones to stop now.
     * Afterwards 'next' gives the results that still come, and fails with HB_EINTR once
     * 'grace' seconds have passed without every running job reporting. */
    void (*abort)(hb_transport *t, double grace);
    /* Jobs handed to a worker that have not reported yet. */
    int (*running)(hb_transport *t);
    /* Tell every worker to stop (after the last result), free everything. */
    void (*close)(hb_transport *t);
} hb_transport_ops;

struct hb_transport {
    const hb_transport_ops *ops;
    int workers;         /* evaluating workers (for utilisation) */
    const char *name;
};

/* The calls of the table, for every caller (transport.c): each checks its arguments. A NULL
 * transport has no idle worker, nothing running and time 0; aborting or closing it does
 * nothing; submitting to it or waiting on it is HB_EINVAL, as are a NULL job or result. */
int hb_transport_idle(hb_transport *t);
int hb_transport_submit(hb_transport *t, const hb_eval_job *j, int prefer, hb_error *err);
int hb_transport_next(hb_transport *t, hb_done *d, hb_error *err);
double hb_transport_now(hb_transport *t);
void hb_transport_abort(hb_transport *t, double grace);
int hb_transport_running(hb_transport *t);
void hb_transport_close(hb_transport *t);

/* Who each rank is: host name (HB_HOST_MAX bytes per rank, NUL-terminated) and process id,
 * gathered once at start-up (hb_runtime_run); recorded in the session event. */
#define HB_HOST_MAX 64
typedef struct hb_rank_info {
    int n;
    char *host;
    long *pid;
    int *fd;             /* rank 0: the liveness connection of each rank (-1: none; hb_liveness.h) */
    int self_fd;         /* the other ranks: their end of it, or -1 */
} hb_rank_info;
/* Rank 'rank's host ("?" when unknown) and pid (-1). */
const char *hb_rank_host(const hb_rank_info *ri, int rank);
long hb_rank_pid(const hb_rank_info *ri, int rank);

/* The three transports. 'ev' is borrowed. */
int hb_transport_serial(hb_evaluator *ev, const hb_space *sp, hb_transport **out, hb_error *err);
/* Rank 0 of 'comm' (the master); the worker ranks run hb_worker_loop. 'group_size' ranks
 * evaluate each job together (--ranks-per-eval). 'next' fails with HB_ELOST, naming the rank
 * and its host from 'ranks' (borrowed; may be NULL), when a worker rank's process has died (its
 * liveness connection closed) or a busy leader has sent nothing for 'lost_after' seconds (0:
 * wait for ever). Collective with hb_worker_loop. */
int hb_transport_mpi(MPI_Comm comm, int group_size, const hb_space *sp, double lost_after,
                     hb_rank_info *ranks, hb_transport **out, hb_error *err);
/* 'n' virtual workers; an evaluation costs cost_per_budget * budget virtual seconds, times a
 * factor exp(noise * z) with z standard normal from the trial's seed when noise > 0. */
int hb_transport_sim(hb_evaluator *ev, const hb_space *sp, int n, double cost_per_budget,
                     double noise, hb_transport **out, hb_error *err);

/* The worker side of the MPI transport: receive jobs, evaluate, reply, until told to stop.
 * 'group' holds the ranks that evaluate a job together (its rank 0, the leader, talks to the
 * master and passes each job on); MPI_COMM_NULL or size 1 for one rank per job. The other
 * ranks of a group run the evaluator too only when 'members_evaluate' (a library objective,
 * which gets the group's communicator). While it evaluates, a leader sends the master a
 * heartbeat every 'beat_every' seconds (0: none) from the evaluator's poll hook (commands and
 * libraries poll; a built-in kernel polls only between its steps). Collective with
 * hb_transport_mpi. */
int hb_worker_loop(MPI_Comm comm, MPI_Comm group, int members_evaluate, double beat_every,
                   hb_evaluator *ev, const hb_space *sp, hb_error *err);

#endif
