/* hbmpi.h — the interface of an objective written in C and loaded by `hbmpi run --eval-lib
 * ./libobj.so:SYMBOL`. Installed with hbmpi; include it, export SYMBOL with the signature
 * hbmpi_objective_fn, and put HBMPI_DECLARE_ABI once in the library so hbmpi can check that
 * both were built against the same version of this header. It needs nothing else (no MPI
 * header): under MPI, 'comm' points to the MPI_Comm of the ranks that evaluate this trial. */
#ifndef HBMPI_H
#define HBMPI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever hbmpi_trial or hbmpi_objective_fn changes. */
#define HBMPI_OBJECTIVE_ABI 2

/* One evaluation. Everything is owned by hbmpi and valid during the call only. */
typedef struct hbmpi_trial {
    int abi;                    /* HBMPI_OBJECTIVE_ABI */
    uint64_t id;                /* trial (job) id */
    double budget;              /* the budget to evaluate at */
    uint64_t seed;              /* a seed for this trial's own randomness */
    size_t n_params;            /* parameters of the space, in the space's order */
    const char *const *names;   /* n_params names */
    const double *values;       /* numeric value (float, int, numeric choice); NaN if inactive
                                   or if the choice is a string */
    const char *const *texts;   /* the value as text ("0.01", "64", "adam"); NULL if inactive */
    const char *config_json;    /* the active parameters as one JSON object */
    const char *trial_dir;      /* a directory of this trial's own (with --continue-promoted),
                                   or NULL */
    void *comm;                 /* MPI_Comm * of this trial's ranks, or NULL without MPI */
    int nranks;                 /* ranks evaluating this trial together (1 unless
                                   --ranks-per-eval) */
    /* Since ABI 2: promoted trials, which may continue training from a checkpoint. */
    uint64_t config_id;         /* the configuration's identity, the same at every rung */
    uint64_t config_seed;       /* one seed for every rung of the configuration */
    uint64_t previous_id;       /* the same configuration's trial one rung lower, or
                                   UINT64_MAX for its first evaluation */
    double previous_budget;     /* that trial's budget (0 without one) */
    const char *previous_trial_dir; /* that trial's directory, where it left its checkpoint (with
                                   --continue-promoted), or NULL */
    double *spent;              /* store the budget actually spent here when it is less than
                                   'budget' (a continued trial); leave it alone otherwise */
} hbmpi_trial;

/* Evaluate 'trial'; store the loss (lower is better) in '*loss' and return 0. Return non-zero
 * for a failed evaluation and, if you like, say why in 'reason' (reason_len bytes). A NaN or
 * infinite loss counts as status "nan". */
typedef int (*hbmpi_objective_fn)(const hbmpi_trial *trial, double *loss, char *reason,
                                  size_t reason_len);

/* Mark the objective function with this so that it stays visible in a library built with
 * -fvisibility=hidden:  HBMPI_EXPORT int my_objective(const hbmpi_trial *t, ...) { ... } */
#if defined(__GNUC__)
#define HBMPI_EXPORT __attribute__((visibility("default")))
#else
#define HBMPI_EXPORT
#endif

/* Put this once in the library: hbmpi refuses a library whose ABI differs from its own. */
#define HBMPI_DECLARE_ABI                                                                      \
    HBMPI_EXPORT int hbmpi_objective_abi(void);                                                \
    HBMPI_EXPORT int hbmpi_objective_abi(void) { return HBMPI_OBJECTIVE_ABI; }

#ifdef __cplusplus
}
#endif

#endif
