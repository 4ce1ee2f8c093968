/* hb_opt.h — the ask/tell optimiser (DESIGN.md contract 1). A state machine over a scheduler, a
 * sampler and the history: `ask` gives a job, or says wait, or done; `tell` gives a job's
 * result. No clock, no I/O, no MPI: same seed and same order of events, same jobs, bit for bit. */
#ifndef HB_OPT_H
#define HB_OPT_H

#include "hb_common.h"
#include "hb_history.h"
#include "hb_sampler.h"
#include "hb_schedule.h"
#include "hb_space.h"

typedef struct hb_opt hb_opt;

/* Optimisers: random, grid, tpe and gp evaluate every configuration at max_budget; sh,
 * hyperband and bohb run successive-halving brackets (bohb samples from its KDE); asha promotes
 * asynchronously; pbt and pb2 train a population step by step, the worst members copying the
 * best ones' checkpoints and changing their mutable hyperparameters (pbt at random, pb2 with a
 * GP bandit). */
typedef struct hb_opt_settings {
    const char *optimizer;      /* "random" grid sh hyperband bohb tpe gp asha pbt pb2 */
    uint64_t seed;
    double min_budget;          /* > 0 */
    double max_budget;          /* >= min_budget */
    double eta;                 /* > 1 */
    hb_bracket_rule bracket_rule;
    /* Stop rules: the first one reached ends the run; <= 0 means none. With none at all,
     * the bracket optimisers run one HyperBand iteration (ASHA: that iteration's budget) and
     * the others 100 evaluations. */
    long max_evals;             /* jobs to issue */
    long iterations;            /* HyperBand iterations (sh: brackets; asha: budget of that many) */
    double max_total_budget;    /* sum of the budgets of the jobs issued */
    int max_open_brackets;      /* brackets running at once; 0: s_max + 1 */
    hb_sampler_opts sampler;
    /* pbt, pb2: members in the population (0: 8 for pbt, 4 for pb2), the budget each step of a
     * member trains (0: min_budget), the share of members in the bottom that copy one of the
     * top (0.25), and pbt's chance of drawing a mutable value afresh instead of perturbing it
     * by 0.8 or 1.2 (0.25). */
    int pbt_population;
    double pbt_interval;
    double pbt_quantile;
    double pbt_resample;
    /* pbt, pb2: configurations the members start from (member i from configuration i mod n;
     * n x dim values in native encoding; hb_opt_create copies them, but the settings in force
     * (hb_opt_settings_of) still point at the caller's array, which the report reads), or none
     * (0): every member starts from the sampler's draw. */
    const double *pbt_start;
    size_t pbt_start_n;
    size_t pbt_start_dim;       /* values per configuration (the space's dim), for the report */
} hb_opt_settings;

/* Defaults: optimizer "random", seed 0, budgets 1..1, eta 3, paper rule, no stop rule set. */
HB_API void hb_opt_settings_init(hb_opt_settings *s);
/* 1 if 'name' is an optimizer; 1 in '*brackets' if it runs brackets (sh, hyperband, bohb, asha). */
HB_API int hb_opt_known(const char *name, int *brackets);
/* 1 if 'name' is an optimizer that trains a population from checkpoints (pbt, pb2), else 0. */
HB_API int hb_opt_population(const char *name);
/* The known optimizers' names, in the order the documentation lists them: "random", "grid",
 * "sh", "hyperband", "bohb", "tpe", "gp", "asha", "pbt", "pb2", then NULL. Static storage. */
HB_API const char *const *hb_opt_names(void);
/* The same names as one text, separated by ", " ("random, grid, ..., pb2"), for messages that
 * list them. Static storage. */
HB_API const char *hb_opt_names_text(void);

typedef enum hb_ask_kind { HB_ASK_JOB = 0, HB_ASK_WAIT, HB_ASK_DONE } hb_ask_kind;

typedef struct hb_job {
    hb_ask_kind kind;
    uint64_t id;     /* jobs are numbered 0, 1, 2, ... in the order asked */
    double budget;
    int bracket;     /* -1 where the optimiser has no brackets */
    int stage;       /* rung within the bracket, -1 if none */
    const double *x; /* native encoding; view owned by the optimiser, valid until told */
    /* The configuration's identity, which survives promotion: the id of the job that evaluated
     * it first. A promoted job also names the job of the same configuration one rung lower (its
     * checkpoint is where training continues from) and that job's budget; HB_NO_JOB and 0 for a
     * first evaluation. pbt, pb2: 'bracket' is the member, 'stage' the step (0, 1, ...), 'prev'
     * the job whose checkpoint the step continues (the member's own last step, or after an
     * exploit another member's), and 'config' the first job of that checkpoint's lineage (the
     * model's identity: its seed and initial weights), which an exploit carries over. */
    uint64_t config;
    uint64_t prev;
    double prev_budget;
} hb_job;

/* Create an optimiser over 'space' (borrowed; must be finalized and outlive it). Bad settings:
 * HB_EINVAL with a message naming the setting. */
HB_API int hb_opt_create(const hb_space *space, const hb_opt_settings *s, hb_opt **out,
                         hb_error *err);
HB_API void hb_opt_free(hb_opt *opt);

/* Next job, or wait (results are needed first), or done. */
HB_API int hb_opt_ask(hb_opt *opt, hb_job *job, hb_error *err);

/* Ask during a replay of a logged run whose next job had configuration 'x': as hb_opt_ask, but
 * when the job needs a new configuration and 'verify' is 0, the sampler is not run (for samplers
 * that allow it: random, kde, tpe) and 'x' is taken instead. The schedule (id, budget, bracket,
 * stage) is computed as always; with 'verify' 1 (or another sampler) it is a plain ask, and the
 * caller compares the configuration too. */
HB_API int hb_opt_ask_replay(hb_opt *opt, const double *x, int verify, hb_job *job, hb_error *err);

/* Record the outcome of job 'id'. 'loss' is read only when 'status' is HB_TRIAL_OK (a failure is
 * seen as the worst loss). Telling an unknown or finished id returns HB_EINVAL and changes
 * nothing. */
HB_API int hb_opt_tell(hb_opt *opt, uint64_t id, double loss, hb_trial_status status,
                       hb_error *err);

/* Add an observation from elsewhere (a warm start: an earlier run's result) to the history the
 * samplers learn from; it belongs to no job and no bracket. Call before the first ask. */
HB_API int hb_opt_observe(hb_opt *opt, const double *x, double budget, double loss,
                          hb_trial_status status, hb_error *err);

/* Stop issuing jobs: from now on ask says wait until the running jobs are told, then done. */
HB_API void hb_opt_stop(hb_opt *opt);

HB_API const hb_history *hb_opt_history(const hb_opt *opt);
HB_API size_t hb_opt_pending(const hb_opt *opt); /* jobs asked but not told */
/* Brackets started and not finished (0 for optimisers without brackets). */
HB_API size_t hb_opt_open_brackets(const hb_opt *opt);
/* The settings in force, with defaults resolved (stop rules, max_open_brackets). */
HB_API const hb_opt_settings *hb_opt_settings_of(const hb_opt *opt);

/* What a run plans, read off the stop rules in force (defaults resolved) when the optimiser
 * was created; it does not change as the run goes. */
typedef struct hb_opt_plan_info {
    /* Jobs the run issues: max_evals when that is its only stop rule (fewer only when the
     * sampler runs out: grid); -1 when a budget rule may end it first, or the results decide
     * how many jobs there are (brackets' promotions, a population's exploits). */
    long evals;
    /* Sum of the budgets of the jobs the run issues at most: max_total_budget, or for sh,
     * hyperband and bohb the budget of 'iterations' full iterations (sh: that many widest
     * brackets), the smaller when both are set (asha counts its iterations into
     * max_total_budget); -1 when no budget rule bounds the run. */
    double budget;
} hb_opt_plan_info;

/* Fill '*out' with the plan of 'opt'. HB_EINVAL for a NULL argument. */
HB_API int hb_opt_plan(const hb_opt *opt, hb_opt_plan_info *out);

#endif
