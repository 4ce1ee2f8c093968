/* opt_impl.h — the optimiser's state, shared by opt.c (schedulers, ask/tell) and pbt.c (the
 * population of pbt and pb2). Seen by nothing else. */
#ifndef HB_OPT_IMPL_H
#define HB_OPT_IMPL_H

#include "hb_opt.h"

enum mode { MODE_SINGLE, MODE_BRACKETS, MODE_ASHA, MODE_PBT };

/* What sets an optimizer apart from the others of its mode (hb_opt.flags). */
enum {
    OPT_ONE_BRACKET = 1 << 0, /* sh: every bracket is the widest one (s_max), one per iteration */
    OPT_PB2 = 1 << 1,         /* pb2: its GP bandit, not pbt's random perturbation, explores */
};

enum { E_WAITING = 0, E_ISSUED, E_DONE };

typedef struct entry {
    size_t cfg;               /* index into the optimiser's configuration store */
    int state;                /* E_WAITING, E_ISSUED, E_DONE */
    int promoted;             /* asha: already sent to the next rung */
    double loss;              /* +inf unless the job ended ok */
    uint64_t job;             /* id of the job that ran it */
} entry;

/* A finished ok result as ASHA ranks it. */
typedef struct ranked {
    double loss;
    uint64_t job;
    size_t entry;
} ranked;

typedef struct rung {
    long target;              /* configurations this rung runs; -1: no limit (asha) */
    double budget;
    entry *e;
    size_t n, cap;
    size_t issued, done;
    /* asha: the ok results not promoted yet (a heap, best on top), and the promoted ones in
     * rank order, so that the rank of the best candidate is one binary search away. */
    ranked *heap;
    size_t n_heap, cap_heap;
    ranked *up;
    size_t n_up, cap_up;
} rung;

typedef struct bracket {
    int s;                    /* HyperBand's s (reported as "bracket") */
    int n_rungs;
    rung rungs[HB_MAX_RUNGS];
    int cur;                  /* rung now running */
    int closed;
} bracket;

/* The jobs of one configuration: its identity (the first) and the latest, whose checkpoint a
 * promotion continues from. */
typedef struct cfg_jobs {
    uint64_t first, last;
    double last_budget;
} cfg_jobs;

typedef struct pending {
    uint64_t id;
    size_t cfg;
    double budget;
    int bracket, rung;        /* -1 for single fidelity */
    size_t entry;
    int member;               /* pbt, pb2: the member that runs it; -1 otherwise */
} pending;

struct hb_opt {
    hb_opt_settings set;
    char optimizer[32];
    enum mode mode;
    unsigned flags;           /* OPT_*, from the optimizer's row at creation */
    const hb_space *space;
    size_t dim;
    hb_schedule sch;
    hb_sampler *sampler;
    hb_history *history;
    uint64_t next_id;
    int stopped;              /* a stop rule was hit, or hb_opt_stop */
    double issued_budget;
    double *xs;               /* configuration store: n_cfg * dim */
    size_t n_cfg, cap_cfg;
    cfg_jobs *cj;             /* per stored configuration: its first and latest job (cap_cfg) */
    bracket *br;              /* brackets opened so far (asha: exactly one) */
    size_t n_br, cap_br;
    size_t n_open;            /* brackets opened and not closed */
    size_t first_open;        /* no bracket before this one is open */
    long max_brackets;        /* brackets allowed by --iterations; -1: no limit */
    pending *pend;            /* jobs asked, not yet told, in issue order */
    size_t n_pend, cap_pend;
    hb_pending *pview;        /* scratch: the pending jobs as the sampler sees them */
    size_t cap_pview;
    const double *replay_x;   /* hb_opt_ask_replay: the logged configuration, or NULL */
    struct hb__pbt *pbt;      /* pbt, pb2: the population (pbt.c) */
};

/* opt.c's helpers for pbt.c. */
int hb__opt_grow(void **p, size_t *cap, size_t need, size_t size);
/* Would a job that adds 'budget' break a stop rule? Then stop for good (0). */
int hb__opt_may_issue(hb_opt *o, double budget);
/* A new configuration from the sampler (or the replayed one) into the store: HB_OK,
 * HB_SAMPLER_EXHAUSTED or an error. */
int hb__opt_new_config(hb_opt *o, double budget, size_t *cfg, hb_error *err);
/* Room for one more configuration in the store; its index goes to '*cfg' (values unset). */
int hb__opt_store_config(hb_opt *o, size_t *cfg, hb_error *err);

/* pbt.c: the population optimisers. */
int hb__pbt_create(hb_opt *o, hb_error *err);
void hb__pbt_free(hb_opt *o);
int hb__pbt_ask(hb_opt *o, hb_job *job, hb_error *err);
/* The job 'p' ended with loss 'l' (+inf for a failure) and 'status'. */
int hb__pbt_tell(hb_opt *o, const pending *p, double l, hb_trial_status status, hb_error *err);

#endif
