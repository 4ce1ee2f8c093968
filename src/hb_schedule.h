/* hb_schedule.h — HyperBand's bracket table (Li et al., JMLR 2018): how many configurations each
 * rung of each bracket runs, at which budget. Pure arithmetic: no allocation, I/O or randomness. */
#ifndef HB_SCHEDULE_H
#define HB_SCHEDULE_H

#include "hb_common.h"

/* How the first rung of a bracket is sized. PAPER: n = ceil((s_max+1)/(s+1) * eta^s), the
 * paper's rule; HPBANDSTER: n = floor((s_max+1)/(s+1)) * eta^s, the rule HpBandSter uses. Later
 * rungs keep floor(n * eta^-i) configurations (at least 1 with HPBANDSTER). */
typedef enum hb_bracket_rule { HB_RULE_PAPER = 0, HB_RULE_HPBANDSTER = 1 } hb_bracket_rule;

#define HB_MAX_RUNGS 40

typedef struct hb_schedule {
    double min_budget; /* r */
    double max_budget; /* R */
    double eta;
    int s_max;         /* floor(log_eta(R / r)) */
    hb_bracket_rule rule;
} hb_schedule;

typedef struct hb_bracket {
    int s;                        /* s_max .. 0; s + 1 rungs */
    int n_rungs;
    long n[HB_MAX_RUNGS];         /* configurations run at rung i */
    double budget[HB_MAX_RUNGS];  /* budget of rung i: R * eta^(i - s) */
} hb_bracket;

/* Check and fill 'sch'. Needs 0 < r <= R and eta > 1; at most HB_MAX_RUNGS rungs. */
HB_API int hb_schedule_init(hb_schedule *sch, double min_budget, double max_budget, double eta,
                            hb_bracket_rule rule, hb_error *err);
/* Bracket 's' (0 <= s <= s_max). */
HB_API void hb_schedule_bracket(const hb_schedule *sch, int s, hb_bracket *out);
/* The s of the k-th bracket (k = 0, 1, ...) of HyperBand: s_max, s_max - 1, ..., 0, s_max, ... */
HB_API int hb_schedule_s_of(const hb_schedule *sch, long k);
/* Total budget of bracket 's' and of one full iteration (all brackets). */
HB_API double hb_schedule_bracket_budget(const hb_schedule *sch, int s);
HB_API double hb_schedule_iteration_budget(const hb_schedule *sch);
/* Name of a rule ("paper", "hpbandster") and back (-1 if unknown). */
HB_API const char *hb_bracket_rule_name(hb_bracket_rule r);
HB_API int hb_bracket_rule_parse(const char *name);

#endif
