/* report.c — the report JSON (CLI.md) from trial records. */
#include "hb_report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

long hb_report_best(const hb_trial *t, size_t n)
{
    double top = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (t[i].status == HB_TRIAL_OK && t[i].budget > top) top = t[i].budget;
    long best = -1;
    for (size_t i = 0; i < n; i++)
        if (t[i].status == HB_TRIAL_OK && t[i].budget == top && (best < 0 || t[i].loss < t[best].loss))
            best = (long)i;
    return best;
}

int hb_report_is_pbt(const char *optimizer)
{
    return optimizer && hb_opt_population(optimizer);
}

/* Index of the trial with id 'id' (an ok one if there are several), or n. */
static size_t find_id(const hb_trial *t, size_t n, uint64_t id)
{
    size_t any = n;
    for (size_t i = 0; i < n; i++)
        if (t[i].id == id) {
            if (t[i].status == HB_TRIAL_OK) return i;
            if (any == n) any = i;
        }
    return any;
}

size_t hb_report_schedule(const hb_trial *t, size_t n, size_t last, hb_schedule_step *out)
{
    if (t == NULL || out == NULL || last >= n) return 0;
    size_t k = 0, i = last;
    for (;;) {
        out[k].trial = i;
        out[k].copied_from = -1;
        out[k].from_budget = 0;
        k++;
        if (t[i].prev == HB_NO_JOB) break;
        size_t j = find_id(t, n, t[i].prev);
        int seen = j == n;
        for (size_t q = 0; q < k && !seen; q++) seen = out[q].trial == j;
        if (seen || k == n) { /* not among the trials, or a loop */
            double from = t[i].budget - t[i].spent;
            out[k - 1].from_budget = isfinite(from) && from > 0 ? from : 0;
            break;
        }
        out[k - 1].from_budget = t[j].budget;
        if (t[j].bracket != t[i].bracket) out[k - 1].copied_from = t[j].bracket;
        i = j;
    }
    for (size_t a = 0, b = k - 1; a < b; a++, b--) {
        hb_schedule_step s = out[a];
        out[a] = out[b];
        out[b] = s;
    }
    return k;
}

static void key_number(hb_buf *b, const char *key, double v, int null_if_not_positive)
{
    hb_buf_printf(b, ", \"%s\": ", key);
    if (null_if_not_positive && !(v > 0))
        hb_buf_puts(b, "null");
    else
        hb_buf_json_number(b, v);
}

int hb_report_settings_json(const hb_opt_settings *s, hb_buf *b)
{
    const hb_sampler_opts *o = &s->sampler;
    hb_buf_puts(b, "{\"min_budget\": ");
    hb_buf_json_number(b, s->min_budget);
    key_number(b, "max_budget", s->max_budget, 0);
    key_number(b, "eta", s->eta, 0);
    hb_buf_printf(b, ", \"bracket_rule\": \"%s\"", hb_bracket_rule_name(s->bracket_rule));
    if (s->max_evals > 0)
        hb_buf_printf(b, ", \"max_evals\": %ld", s->max_evals);
    else
        hb_buf_puts(b, ", \"max_evals\": null");
    if (s->iterations > 0)
        hb_buf_printf(b, ", \"iterations\": %ld", s->iterations);
    else
        hb_buf_puts(b, ", \"iterations\": null");
    key_number(b, "max_total_budget", s->max_total_budget, 1);
    hb_buf_printf(b, ", \"max_open_brackets\": %d", s->max_open_brackets);
    key_number(b, "random_fraction", o->random_fraction, 0);
    key_number(b, "top_n_percent", o->top_n_percent, 0);
    hb_buf_printf(b, ", \"num_samples\": %d", o->num_samples);
    key_number(b, "bandwidth_factor", o->bandwidth_factor, 0);
    key_number(b, "min_bandwidth", o->min_bandwidth, 0);
    hb_buf_printf(b, ", \"min_points_in_model\": %d, \"acquisition\": \"%s\", \"grid_points\": %d",
                  o->min_points_in_model, o->acquisition == HB_ACQ_PI ? "pi" : "ei", o->grid_points);
    if (hb_report_is_pbt(s->optimizer)) {
        hb_buf_printf(b, ", \"pbt_population\": %d", s->pbt_population);
        key_number(b, "pbt_interval", s->pbt_interval, 0);
        key_number(b, "pbt_quantile", s->pbt_quantile, 0);
        key_number(b, "pbt_resample", s->pbt_resample, 0);
        if (s->pbt_start_n > 0 && s->pbt_start) { /* native values: a resume compares them */
            hb_buf_puts(b, ", \"pbt_start\": [");
            for (size_t i = 0; i < s->pbt_start_n; i++) {
                hb_buf_puts(b, i ? ", [" : "[");
                for (size_t j = 0; j < s->pbt_start_dim; j++) {
                    double v = s->pbt_start[i * s->pbt_start_dim + j];
                    if (j) hb_buf_puts(b, ", ");
                    if (isnan(v))
                        hb_buf_puts(b, "null");
                    else
                        hb_buf_json_number(b, v);
                }
                hb_buf_puts(b, "]");
            }
            hb_buf_puts(b, "]");
        }
    }
    hb_buf_puts(b, "}");
    return b->failed ? HB_ENOMEM : HB_OK;
}

/* ', "loss": L', null unless the trial ended ok */
static void loss_json(hb_buf *b, const hb_trial *r)
{
    hb_buf_puts(b, ", \"loss\": ");
    if (r->status == HB_TRIAL_OK)
        hb_buf_json_number(b, r->loss);
    else
        hb_buf_puts(b, "null");
}

static void num_or_null(hb_buf *b, int v)
{
    if (v < 0)
        hb_buf_puts(b, "null");
    else
        hb_buf_printf(b, "%d", v);
}

/* The mutable parameters of 'x' as a JSON object (inactive ones left out). */
static void mutable_json(const hb_space *sp, const double *x, hb_buf *b)
{
    hb_buf_puts(b, "{");
    int k = 0;
    for (size_t i = 0; i < hb_space_dim(sp); i++) {
        if (!hb_space_is_mutable(sp, i) || isnan(x[i])) continue;
        hb_buf_puts(b, k++ ? ", " : "");
        hb_buf_json_string(b, hb_space_name(sp, i));
        hb_buf_puts(b, ": ");
        hb_space_value_json(sp, i, x[i], b);
    }
    hb_buf_puts(b, "}");
}

/* ",\n  \"schedule\": [...]": the best model's steps (pbt/pb2); [] without a best trial. */
static void schedule_json(const hb_space *sp, const hb_trial *t, size_t n, long best, hb_buf *b)
{
    hb_buf_puts(b, ",\n  \"schedule\": [");
    hb_schedule_step *st = best >= 0 ? hb_malloc(n * sizeof *st) : NULL;
    if (best >= 0 && st == NULL) {
        b->failed = 1;
        return;
    }
    size_t k = best >= 0 ? hb_report_schedule(t, n, (size_t)best, st) : 0;
    for (size_t q = 0; q < k; q++) {
        const hb_trial *r = &t[st[q].trial];
        hb_buf_printf(b, "%s\n    {\"trial\": %llu, \"member\": ", q ? "," : "", (unsigned long long)r->id);
        num_or_null(b, r->bracket);
        hb_buf_puts(b, ", \"from_budget\": ");
        hb_buf_json_number(b, st[q].from_budget);
        hb_buf_puts(b, ", \"budget\": ");
        hb_buf_json_number(b, r->budget);
        loss_json(b, r);
        hb_buf_puts(b, ", \"config\": ");
        mutable_json(sp, r->x, b);
        hb_buf_puts(b, ", \"copied_from\": ");
        num_or_null(b, st[q].copied_from);
        hb_buf_puts(b, "}");
    }
    hb_buf_puts(b, k ? "\n  ]" : "]");
    hb_free(st);
}

int hb_report_sessions(const hb_runlog *log, hb_session_span **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t k = 0;
    for (size_t i = 0; i < log->n; i++) k += log->ev[i].kind == HB_EV_SESSION;
    if (k == 0) return HB_OK;
    hb_session_span *s = hb_malloc(k * sizeof *s);
    if (s == NULL) return HB_ENOMEM;
    for (size_t i = 0, j = 0; i < log->n; i++)
        if (log->ev[i].kind == HB_EV_SESSION) s[j++] = (hb_session_span){log->ev[i].start, log->ev[i].worker};
    *out = s;
    *n = k;
    return HB_OK;
}

double hb_report_capacity(const hb_session_span *s, size_t n, double end)
{
    double cap = 0;
    for (size_t i = 0; i < n; i++) {
        double until = i + 1 < n ? s[i + 1].start : end, len = until - s[i].start;
        if (len > 0) cap += len * (s[i].workers > 0 ? s[i].workers : 1);
    }
    return cap;
}

void hb_report_workers_label(const hb_session_span *s, size_t n, int workers, char *buf, size_t size)
{
    if (size == 0) return;
    int list[3], k = 0, lo = workers, hi = workers, many = 0;
    for (size_t i = 0; i < n; i++) {
        int w = s[i].workers;
        if (i == 0 || w < lo) lo = w;
        if (i == 0 || w > hi) hi = w;
        if (k > 0 && list[k - 1] == w) continue;
        if (k < 3)
            list[k++] = w;
        else
            many = 1;
    }
    if (k <= 1)
        snprintf(buf, size, "%d", k ? list[0] : workers);
    else if (many)
        snprintf(buf, size, "%d to %d", lo, hi);
    else if (k == 2)
        snprintf(buf, size, "%d, then %d", list[0], list[1]);
    else
        snprintf(buf, size, "%d, then %d, then %d", list[0], list[1], list[2]);
}

/* Busy worker-seconds over the capacity of the run's sessions, at most 1. */
static double utilisation(const hb_report_info *info, double busy)
{
    double cap = info->n_sessions > 0 ? hb_report_capacity(info->sessions, info->n_sessions, info->wall_seconds)
                                      : info->wall_seconds * (info->workers > 0 ? info->workers : 1);
    double util = cap > 0 ? busy / cap : 0;
    return util > 1 ? 1 : util;
}

int hb_report_json(const hb_space *sp, const hb_report_info *info, const hb_trial *t, size_t n,
                   hb_buf *b)
{
    const hb_opt_settings *s = info->settings;
    hb_buf_puts(b, "{\n  \"kernel\": ");
    if (info->kernel)
        hb_buf_json_string(b, info->kernel);
    else
        hb_buf_puts(b, "null");
    hb_buf_puts(b, ",\n  \"optimizer\": ");
    hb_buf_json_string(b, s->optimizer);
    hb_buf_printf(b, ",\n  \"seed\": %llu,\n  \"settings\": ", (unsigned long long)s->seed);
    if (info->settings_json && !strcmp(info->settings_json, "null"))
        hb_buf_puts(b, "null");
    else if (info->settings_json)
        hb_buf_json_object(b, info->settings_json);
    else
        hb_report_settings_json(s, b);
    if (info->damaged) {
        hb_buf_puts(b, ",\n  \"damaged\": ");
        hb_buf_json_string(b, info->damaged);
    }
    hb_buf_puts(b, ",\n  \"trials\": [");
    double busy = 0, total_budget = 0, total_spent = 0;
    for (size_t i = 0; i < n; i++) {
        const hb_trial *r = &t[i];
        hb_buf_printf(b, "%s\n    {\"id\": %llu, \"config\": ", i ? "," : "", (unsigned long long)r->id);
        hb_space_config_json(sp, r->x, b);
        hb_buf_puts(b, ", \"budget\": ");
        hb_buf_json_number(b, r->budget);
        loss_json(b, r);
        hb_buf_printf(b, ", \"status\": \"%s\", \"bracket\": ", hb_trial_status_name(r->status));
        num_or_null(b, r->bracket);
        hb_buf_puts(b, ", \"stage\": ");
        num_or_null(b, r->stage);
        hb_buf_printf(b, ", \"worker\": %d, \"start\": ", r->worker);
        hb_buf_json_number(b, r->start);
        hb_buf_puts(b, ", \"end\": ");
        hb_buf_json_number(b, r->end);
        hb_buf_printf(b, ", \"config_id\": %llu, \"previous_id\": ", (unsigned long long)r->config);
        if (r->prev == HB_NO_JOB)
            hb_buf_puts(b, "null");
        else
            hb_buf_printf(b, "%llu", (unsigned long long)r->prev);
        hb_buf_puts(b, ", \"spent\": ");
        hb_buf_json_number(b, r->spent);
        if (r->reason && r->reason[0]) {
            hb_buf_puts(b, ", \"reason\": ");
            hb_buf_json_string(b, r->reason);
        }
        if (r->extras && r->extras[0] == '{') {
            hb_buf_puts(b, ", \"extras\": ");
            hb_buf_json_object(b, r->extras);
        }
        hb_buf_puts(b, "}");
        busy += r->end - r->start;
        total_budget += r->budget;
        total_spent += r->spent;
    }
    hb_buf_puts(b, n ? "\n  ],\n  \"best\": " : "],\n  \"best\": ");
    long bi = hb_report_best(t, n);
    if (bi < 0) {
        hb_buf_puts(b, "null");
    } else {
        hb_buf_printf(b, "{\"id\": %llu, \"config\": ", (unsigned long long)t[bi].id);
        hb_space_config_json(sp, t[bi].x, b);
        hb_buf_puts(b, ", \"budget\": ");
        hb_buf_json_number(b, t[bi].budget);
        hb_buf_puts(b, ", \"loss\": ");
        hb_buf_json_number(b, t[bi].loss);
        hb_buf_puts(b, "}");
    }
    if (hb_report_is_pbt(s->optimizer)) schedule_json(sp, t, n, bi, b);
    double util = utilisation(info, busy);
    hb_buf_printf(b, ",\n  \"totals\": {\"evaluations\": %zu, \"budget\": ", n);
    hb_buf_json_number(b, total_budget);
    hb_buf_puts(b, ", \"budget_spent\": ");
    hb_buf_json_number(b, total_spent);
    hb_buf_puts(b, ", \"wall_seconds\": ");
    hb_buf_json_number(b, info->wall_seconds);
    hb_buf_puts(b, ", \"utilisation\": ");
    hb_buf_json_number(b, util);
    return hb_buf_puts(b, "}\n}\n");
}
