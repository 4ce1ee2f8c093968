/* schedule.c — HyperBand rung arithmetic. Pure. */
#include "hb_schedule.h"

#include <math.h>
#include <string.h>

int hb_schedule_init(hb_schedule *sch, double r, double R, double eta, hb_bracket_rule rule,
                     hb_error *err)
{
    if (!(r > 0) || !isfinite(r)) return hb_error_set(err, HB_EINVAL, NULL, "min budget must be > 0");
    if (!(R >= r) || !isfinite(R))
        return hb_error_set(err, HB_EINVAL, NULL, "max budget %g is below min budget %g", R, r);
    if (!(eta > 1) || !isfinite(eta)) return hb_error_set(err, HB_EINVAL, NULL, "eta must be > 1, got %g", eta);
    if (rule != HB_RULE_PAPER && rule != HB_RULE_HPBANDSTER)
        return hb_error_set(err, HB_EINVAL, NULL, "unknown bracket rule");
    /* The small tolerance keeps R/r = eta^k from rounding down to k - 1. */
    double s = floor(log(R / r) / log(eta) + 1e-9);
    if (s + 1 > HB_MAX_RUNGS)
        return hb_error_set(err, HB_EINVAL, NULL, "max/min budget ratio %g gives more than %d rungs",
                            R / r, HB_MAX_RUNGS);
    sch->min_budget = r;
    sch->max_budget = R;
    sch->eta = eta;
    sch->s_max = (int)s;
    sch->rule = rule;
    return HB_OK;
}

void hb_schedule_bracket(const hb_schedule *sch, int s, hb_bracket *out)
{
    HB_ASSERT(s >= 0 && s <= sch->s_max);
    double eta_s = pow(sch->eta, s), smax1 = sch->s_max + 1;
    double n0 = sch->rule == HB_RULE_PAPER ? ceil(smax1 / (s + 1) * eta_s - 1e-9)
                                           : floor(smax1 / (s + 1)) * floor(eta_s + 1e-9);
    out->s = s;
    out->n_rungs = s + 1;
    for (int i = 0; i <= s; i++) {
        double n = floor(n0 / pow(sch->eta, i) + 1e-9);
        if (n < 1) n = 1;
        out->n[i] = (long)n;
        out->budget[i] = sch->max_budget / pow(sch->eta, s - i);
    }
}

int hb_schedule_s_of(const hb_schedule *sch, long k)
{
    return sch->s_max - (int)(k % (sch->s_max + 1));
}

double hb_schedule_bracket_budget(const hb_schedule *sch, int s)
{
    hb_bracket b;
    hb_schedule_bracket(sch, s, &b);
    double t = 0;
    for (int i = 0; i < b.n_rungs; i++) t += (double)b.n[i] * b.budget[i];
    return t;
}

double hb_schedule_iteration_budget(const hb_schedule *sch)
{
    double t = 0;
    for (int s = sch->s_max; s >= 0; s--) t += hb_schedule_bracket_budget(sch, s);
    return t;
}

const char *hb_bracket_rule_name(hb_bracket_rule r) { return r == HB_RULE_HPBANDSTER ? "hpbandster" : "paper"; }

int hb_bracket_rule_parse(const char *name)
{
    if (!strcmp(name, "paper")) return HB_RULE_PAPER;
    if (!strcmp(name, "hpbandster")) return HB_RULE_HPBANDSTER;
    return -1;
}
