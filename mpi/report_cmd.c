/* report_cmd.c — `hbmpi report RUN.h5`: what a run file says, for people (the default summary),
 * for programs (--json, the report JSON that `run --json` printed; --events, the event log as
 * JSON lines), for spreadsheets (--csv) and as a picture (--plot). Reads the file while a run
 * writes it, and after a kill. */
#define _POSIX_C_SOURCE 200809L
#include "hb_report_cmd.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hb_cli.h"
#include "hb_fileio.h"
#include "hb_plot.h"
#include "hb_runfile.h"

static const char *state_word(int s)
{
    return s == HB_VIEW_FINISHED ? "finished" : s == HB_VIEW_STOPPED ? "stopped (resumable)"
                                                                      : "running, or killed (resumable)";
}

static void print_config(const hb_space *sp, const double *x, const char *indent)
{
    hb_buf b = HB_BUF_INIT;
    for (size_t i = 0; i < hb_space_dim(sp); i++) {
        if (isnan(x[i])) continue;
        hb_buf_reset(&b);
        hb_space_value_json(sp, i, x[i], &b);
        printf("%s%-20s %s\n", indent, hb_space_name(sp, i), b.data ? b.data : "");
    }
    hb_buf_fini(&b);
}

/* "node1 ranks 0-1, node2 ranks 2-3": the hosts of a session's ranks, in rank order. */
static void print_hosts(json_t *ranks)
{
    size_t n = json_array_size(ranks), hosts = 0;
    for (size_t i = 0; i < n;) {
        const char *h = json_string_value(json_object_get(json_array_get(ranks, i), "host"));
        size_t j = i;
        while (j + 1 < n) {
            const char *h2 = json_string_value(json_object_get(json_array_get(ranks, j + 1), "host"));
            if (!h || !h2 || strcmp(h, h2)) break;
            j++;
        }
        long a = (long)json_integer_value(json_object_get(json_array_get(ranks, i), "rank"));
        long b = (long)json_integer_value(json_object_get(json_array_get(ranks, j), "rank"));
        if (j > i)
            printf("%s%s ranks %ld-%ld", hosts ? ", " : "", h ? h : "?", a, b);
        else
            printf("%s%s rank %ld", hosts ? ", " : "", h ? h : "?", a);
        hosts++;
        i = j + 1;
    }
}

/* One line per session: where its ranks ran (MPI), its Slurm job, and how it ended. */
static void print_sessions(const hb_run_view *v)
{
    const hb_runlog *log = &v->log;
    int shown = 0;
    for (size_t i = 0; i < log->n; i++) {
        const hb_event *e = &log->ev[i];
        if (e->kind != HB_EV_SESSION) continue;
        json_t *info = e->text ? json_loads(e->text, 0, NULL) : NULL;
        json_t *ranks = json_object_get(info, "ranks"), *slurm = json_object_get(info, "slurm");
        if (!shown && json_array_size(ranks) == 0 && v->sessions < 2) {
            json_decref(info);
            return;
        }
        if (!shown++) printf("\nsessions:\n");
        printf("  %d: ", e->session + 1);
        if (json_array_size(ranks) > 0) {
            /* distinct hosts, whatever the order of the ranks */
            size_t nr = json_array_size(ranks), nh = 0;
            for (size_t r = 0; r < nr; r++) {
                const char *h = json_string_value(json_object_get(json_array_get(ranks, r), "host"));
                size_t q = 0;
                while (q < r && !(h && json_string_value(json_object_get(json_array_get(ranks, q), "host")) &&
                                  !strcmp(h, json_string_value(json_object_get(json_array_get(ranks, q), "host")))))
                    q++;
                nh += q == r;
            }
            printf("%zu ranks on %zu host%s (", nr, nh, nh == 1 ? "" : "s");
            print_hosts(ranks);
            printf(")");
        } else {
            const char *h = json_string_value(json_object_get(info, "host"));
            printf("one process on %s", h ? h : "?");
        }
        const char *job = json_string_value(json_object_get(slurm, "SLURM_JOB_ID"));
        const char *restart = json_string_value(json_object_get(slurm, "SLURM_RESTART_COUNT"));
        if (job) printf(", Slurm job %s%s%s", job, restart ? " restart " : "", restart ? restart : "");
        printf("\n");
        json_decref(info);
        /* how it ended: the next stop or end event before the next session */
        const char *how = NULL;
        size_t inflight = 0;
        for (size_t j = i + 1; j < log->n && log->ev[j].kind != HB_EV_SESSION; j++) {
            if (log->ev[j].kind == HB_EV_STOP) how = log->ev[j].text ? log->ev[j].text : "stopped";
            if (log->ev[j].kind == HB_EV_END) how = "finished";
            if (log->ev[j].kind == HB_EV_INTERRUPTED) inflight++;
        }
        if (how && strcmp(how, "finished") == 0)
            printf("     finished\n");
        else if (how)
            printf("     stopped: %s; %zu evaluations in flight were issued again\n", how, inflight);
        else
            printf("     ended without a word (a lost host or rank, a kill -9, or still running)\n");
    }
}

/* The header: what ran, how long, in how many sessions; the budget; the sessions; the best. */
static void summary_head(const char *path, const hb_run_view *v)
{
    const hb_trial *t = v->trials;
    size_t n = v->n;
    printf("%s: %s on %s, seed %llu\n", path, v->settings.optimizer, v->kernel ? v->kernel : v->objective,
           (unsigned long long)v->settings.seed);
    char label[40];
    hb_report_workers_label(v->spans, v->sessions, v->workers, label, sizeof label);
    int one = strchr(label, ' ') == NULL;
    printf("  %s; %zu session%s, %zu trials, %.3f s of run time, %s%s%s\n", state_word(v->state), v->sessions,
           v->sessions == 1 ? "" : "s", n, v->wall_seconds, one ? label : "workers ", one ? " worker" : label,
           one ? (strcmp(label, "1") ? "s" : "") : "");
    if (v->interrupted) printf("  %zu evaluations were interrupted and issued again\n", v->interrupted);
    double nominal = 0, spent = 0;
    size_t continued = 0;
    for (size_t i = 0; i < n; i++) {
        nominal += t[i].budget;
        spent += t[i].spent;
        continued += t[i].spent < t[i].budget;
    }
    printf("  budget %g", nominal);
    if (continued)
        printf(", of which %g spent: %zu promoted trials continued from their previous rung (%.1f %% saved)", spent,
               continued, nominal > 0 ? 100 * (nominal - spent) / nominal : 0.0);
    printf("\n");
    print_sessions(v);
    long bi = hb_report_best(t, n);
    if (bi < 0) {
        printf("\nno successful evaluation yet\n");
    } else {
        printf("\nbest loss %.10g (trial %llu, budget %g, finished at %.3f s)\n", t[bi].loss,
               (unsigned long long)t[bi].id, t[bi].budget, t[bi].end);
        print_config(v->space, t[bi].x, "  ");
    }
}

/* The incumbent whenever it changes. */
static void summary_trajectory(const hb_trial *t, size_t n)
{
    printf("\nincumbent trajectory (lowest loss at the largest budget so far):\n");
    printf("  %8s %10s %14s %10s %16s\n", "trial", "budget", "cum. budget", "time s", "loss");
    double cum = 0, top = -INFINITY, best = INFINITY;
    size_t lines = 0;
    for (size_t i = 0; i < n; i++) {
        cum += t[i].budget;
        if (t[i].status != HB_TRIAL_OK) continue;
        if (t[i].budget > top || (t[i].budget == top && t[i].loss < best)) {
            top = t[i].budget;
            best = t[i].loss;
            if (lines++ < 40)
                printf("  %8llu %10g %14g %10.3f %16.10g\n", (unsigned long long)t[i].id, t[i].budget, cum, t[i].end,
                       t[i].loss);
        }
    }
    if (lines > 40) printf("  ... %zu changes in all\n", lines);
}

/* Trials, ok trials, best and median loss per budget. */
static void summary_budgets(const hb_trial *t, size_t n)
{
    double *b = hb_malloc((n ? n : 1) * sizeof *b);
    if (b) {
        for (size_t i = 0; i < n; i++) b[i] = t[i].budget;
        qsort(b, n, sizeof *b, hb_cmp_double);
        printf("\nper budget:\n  %10s %8s %8s %16s %16s\n", "budget", "trials", "ok", "best loss", "median loss");
        double *l = hb_malloc((n ? n : 1) * sizeof *l);
        for (size_t i = 0; i < n && l;) {
            size_t j = i;
            while (j < n && b[j] == b[i]) j++;
            size_t k = 0, m = 0;
            for (size_t q = 0; q < n; q++) {
                if (t[q].budget != b[i]) continue;
                k++;
                if (t[q].status == HB_TRIAL_OK) l[m++] = t[q].loss;
            }
            qsort(l, m, sizeof *l, hb_cmp_double);
            if (m)
                printf("  %10g %8zu %8zu %16.10g %16.10g\n", b[i], k, m, l[0],
                       m % 2 ? l[m / 2] : 0.5 * (l[m / 2 - 1] + l[m / 2]));
            else
                printf("  %10g %8zu %8zu %16s %16s\n", b[i], k, m, "-", "-");
            i = j;
        }
        hb_free(l);
        hb_free(b);
    }
}

/* Failures by status, and the first five reasons. */
static void summary_failures(const hb_trial *t, size_t n)
{
    size_t by[HB_TRIAL_LOST + 1] = {0};
    for (size_t i = 0; i < n; i++)
        if ((int)t[i].status >= 0 && t[i].status <= HB_TRIAL_LOST) by[t[i].status]++;
    printf("\nfailures:");
    int any = 0;
    for (int s = HB_TRIAL_FAILED; s <= HB_TRIAL_LOST; s++)
        if (by[s]) {
            printf("%s %s %zu", any ? "," : "", hb_trial_status_name((hb_trial_status)s), by[s]);
            any = 1;
        }
    printf("%s\n", any ? "" : " none");
    for (size_t i = 0, shown = 0; i < n && shown < 5; i++)
        if (t[i].status != HB_TRIAL_OK && t[i].reason) {
            printf("  trial %llu: %s: %s\n", (unsigned long long)t[i].id, hb_trial_status_name(t[i].status), t[i].reason);
            shown++;
        }
}

/* Busy time over the capacity of the sessions, and per worker. */
static void summary_workers(const hb_run_view *v)
{
    const hb_trial *t = v->trials;
    size_t n = v->n;
    double busy = 0;
    int wmax = 0;
    for (size_t i = 0; i < n; i++) {
        busy += t[i].end - t[i].start;
        if (t[i].worker > wmax) wmax = t[i].worker;
    }
    /* capacity: each session's workers for its length (a run resumed with another count) */
    double cap = v->sessions ? hb_report_capacity(v->spans, v->sessions, v->wall_seconds)
                             : v->wall_seconds * (v->workers > 0 ? v->workers : 1);
    char label[40];
    hb_report_workers_label(v->spans, v->sessions, v->workers, label, sizeof label);
    printf("\nworkers: %s, busy %.1f %% of the run time (%.3f of %.3f worker-seconds)\n", label,
           cap > 0 ? 100 * busy / cap : 0, busy, cap);
    if (wmax <= 64) {
        for (int w = 0; w <= wmax; w++) {
            double bw = 0;
            size_t c = 0;
            for (size_t i = 0; i < n; i++)
                if (t[i].worker == w) {
                    bw += t[i].end - t[i].start;
                    c++;
                }
            if (c) printf("  worker %3d: %6zu trials, busy %.3f s\n", w, c, bw);
        }
    }
}

static void summary(const char *path, const hb_run_view *v)
{
    summary_head(path, v);
    summary_trajectory(v->trials, v->n);
    summary_budgets(v->trials, v->n);
    summary_failures(v->trials, v->n);
    summary_workers(v);
}

/* The text of parameter 'i' at 'v' in a schedule line: a float to 4 significant digits. */
static void schedule_value(const hb_space *sp, size_t i, double v, hb_buf *b)
{
    if (isnan(v))
        hb_buf_puts(b, "-");
    else if (hb_space_type(sp, i) == HB_PARAM_FLOAT)
        hb_buf_printf(b, "%.4g", v);
    else if (hb_space_value_text(sp, i, v, b, NULL) != HB_OK)
        hb_buf_puts(b, "?");
}

/* pbt/pb2: the best model's steps from scratch, with its mutable parameters at each step and the
 * checkpoints it copied from other members. */
static void print_schedule(const hb_run_view *v)
{
    const hb_trial *t = v->trials;
    const hb_space *sp = v->space;
    size_t n = v->n;
    long bi = hb_report_best(t, n);
    if (bi < 0) return;
    hb_schedule_step *st = hb_malloc(n * sizeof *st);
    if (st == NULL) {
        fprintf(stderr, "hbmpi report: out of memory\n");
        return;
    }
    size_t k = hb_report_schedule(t, n, (size_t)bi, st);
    printf("\nschedule of the best model (trial %llu, loss %.10g, lineage of trial %llu):\n",
           (unsigned long long)t[bi].id, t[bi].loss, (unsigned long long)t[bi].config);
    if (t[st[0].trial].prev != HB_NO_JOB)
        printf("  (its first steps are not in the run file: the schedule starts at budget %g)\n", st[0].from_budget);
    hb_buf line = HB_BUF_INIT, val = HB_BUF_INIT;
    hb_buf_printf(&line, "  %15s %7s %7s", "budget", "member", "trial");
    for (size_t i = 0; i < hb_space_dim(sp); i++)
        if (hb_space_is_mutable(sp, i)) hb_buf_printf(&line, " %12s", hb_space_name(sp, i)); /* at least 12 wide, as the values */
    hb_buf_printf(&line, " %16s", "loss");
    if (line.data) printf("%s\n", line.data);
    for (size_t q = 0; q < k; q++) {
        const hb_trial *r = &t[st[q].trial];
        char range[64];
        snprintf(range, sizeof range, "%g-%g", st[q].from_budget, r->budget);
        hb_buf_reset(&line);
        hb_buf_printf(&line, "  %15s %7d %7llu", range, r->bracket, (unsigned long long)r->id);
        for (size_t i = 0; i < hb_space_dim(sp); i++) {
            if (!hb_space_is_mutable(sp, i)) continue;
            hb_buf_reset(&val);
            schedule_value(sp, i, r->x[i], &val);
            hb_buf_printf(&line, " %*s", (int)(strlen(hb_space_name(sp, i)) > 12 ? strlen(hb_space_name(sp, i)) : 12),
                          val.data ? val.data : "");
        }
        if (r->status == HB_TRIAL_OK)
            hb_buf_printf(&line, " %16.10g", r->loss);
        else
            hb_buf_printf(&line, " %16s", hb_trial_status_name(r->status));
        if (st[q].copied_from >= 0)
            hb_buf_printf(&line, "  copied member %d's checkpoint (trial %llu)", st[q].copied_from,
                          (unsigned long long)r->prev);
        if (line.data) printf("%s\n", line.data);
    }
    hb_buf_fini(&line);
    hb_buf_fini(&val);
    hb_free(st);
}

static int write_csv(const hb_run_view *v, FILE *f)
{
    const hb_space *sp = v->space;
    fputs("id,budget,loss,status,bracket,stage,worker,start,end,reason,config_id,previous_id,spent", f);
    for (size_t i = 0; i < hb_space_dim(sp); i++) {
        fputc(',', f);
        hb_csv_field(f, hb_space_name(sp, i));
    }
    fputc('\n', f);
    hb_buf b = HB_BUF_INIT;
    char num[40];
    for (size_t r = 0; r < v->n; r++) {
        const hb_trial *t = &v->trials[r];
        fprintf(f, "%llu,", (unsigned long long)t->id);
        hb_format_double(num, sizeof num, t->budget);
        fprintf(f, "%s,", num);
        if (t->status == HB_TRIAL_OK) {
            hb_format_double(num, sizeof num, t->loss);
            fputs(num, f);
        }
        fprintf(f, ",%s,", hb_trial_status_name(t->status));
        if (t->bracket >= 0) fprintf(f, "%d", t->bracket);
        fputc(',', f);
        if (t->stage >= 0) fprintf(f, "%d", t->stage);
        hb_format_double(num, sizeof num, t->start);
        fprintf(f, ",%d,%s,", t->worker, num);
        hb_format_double(num, sizeof num, t->end);
        fprintf(f, "%s,", num);
        hb_csv_field(f, t->reason);
        fprintf(f, ",%llu,", (unsigned long long)t->config);
        if (t->prev != HB_NO_JOB) fprintf(f, "%llu", (unsigned long long)t->prev);
        hb_format_double(num, sizeof num, t->spent);
        fprintf(f, ",%s", num);
        for (size_t i = 0; i < hb_space_dim(sp); i++) {
            fputc(',', f);
            if (isnan(t->x[i])) continue;
            hb_buf_reset(&b);
            if (hb_space_value_text(sp, i, t->x[i], &b, NULL) == HB_OK) hb_csv_field(f, b.data);
        }
        fputc('\n', f);
    }
    hb_buf_fini(&b);
    return ferror(f) ? -1 : 0;
}

static void print_events(const hb_run_view *v)
{
    hb_buf b = HB_BUF_INIT;
    const hb_runlog *log = &v->log;
    for (size_t i = 0; i < log->n; i++) {
        const hb_event *e = &log->ev[i];
        hb_buf_reset(&b);
        hb_buf_printf(&b, "{\"seq\": %llu, \"kind\": \"%s\", \"session\": %d", (unsigned long long)e->seq,
                      hb_event_kind_name(e->kind), e->session);
        switch (e->kind) {
        case HB_EV_ISSUE:
        case HB_EV_INTERRUPTED:
            hb_buf_printf(&b, ", \"id\": %llu, \"budget\": ", (unsigned long long)e->id);
            hb_buf_json_number(&b, e->budget);
            hb_buf_printf(&b, ", \"bracket\": %d, \"stage\": %d", e->bracket, e->stage);
            if (e->kind == HB_EV_ISSUE) {
                hb_buf_puts(&b, ", \"config\": ");
                hb_space_config_json(v->space, hb_runlog_x(log, i), &b);
            }
            break;
        case HB_EV_RESULT:
        case HB_EV_HELD:
        case HB_EV_WARM:
            hb_buf_printf(&b, ", \"id\": %llu, \"budget\": ", (unsigned long long)e->id);
            hb_buf_json_number(&b, e->budget);
            hb_buf_puts(&b, ", \"loss\": ");
            if (e->status == HB_TRIAL_OK) hb_buf_json_number(&b, e->loss);
            else hb_buf_puts(&b, "null");
            hb_buf_printf(&b, ", \"status\": \"%s\"", hb_trial_status_name((hb_trial_status)e->status));
            if (e->kind != HB_EV_WARM) {
                hb_buf_printf(&b, ", \"worker\": %d, \"start\": ", e->worker);
                hb_buf_json_number(&b, e->start);
                hb_buf_puts(&b, ", \"end\": ");
                hb_buf_json_number(&b, e->end);
            } else {
                hb_buf_puts(&b, ", \"config\": ");
                hb_space_config_json(v->space, hb_runlog_x(log, i), &b);
            }
            break;
        default:
            hb_buf_printf(&b, ", \"workers\": %d, \"time\": ", e->worker);
            hb_buf_json_number(&b, e->kind == HB_EV_SESSION ? e->start : e->end);
            break;
        }
        if (e->kind == HB_EV_INTERRUPTED) {
            hb_buf_puts(&b, ", \"time\": ");
            hb_buf_json_number(&b, e->end);
        }
        if (e->text && e->kind != HB_EV_SESSION) {
            hb_buf_puts(&b, e->kind == HB_EV_RESULT || e->kind == HB_EV_HELD ? ", \"reason\": " : ", \"text\": ");
            hb_buf_json_string(&b, e->text);
        }
        if (e->kind == HB_EV_SESSION && e->text) {
            hb_buf_puts(&b, ", \"info\": ");
            hb_buf_json_object(&b, e->text);
        }
        if (e->extras) {
            hb_buf_puts(&b, e->kind == HB_EV_SESSION ? ", \"settings\": " : ", \"extras\": ");
            hb_buf_json_object(&b, e->extras);
        }
        hb_buf_puts(&b, "}\n");
        if (b.data) fputs(b.data, stdout);
    }
    hb_buf_fini(&b);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static int write_plot(const char *path, const hb_run_view *v, const char *file)
{
    int png = ends_with(file, ".png");
    char title[512];
    snprintf(title, sizeof title, "%s on %s, seed %llu (%s)", v->settings.optimizer,
             v->kernel ? v->kernel : v->objective, (unsigned long long)v->settings.seed, path);
    hb_plot_info info = {title, v->workers, v->wall_seconds, hb_report_is_pbt(v->settings.optimizer), v->space,
                         v->spans, v->sessions};
    hb_buf b = HB_BUF_INIT;
    int rc = png ? hb_plot_png(&info, v->trials, v->n, &b) : hb_plot_svg(&info, v->trials, v->n, &b);
    if (rc != HB_OK || b.failed) {
        hb_buf_fini(&b);
        fprintf(stderr, "hbmpi report: out of memory drawing the plot\n");
        return HB_EXIT_FAILED;
    }
    int ok = hb_write_whole(file, b.data, b.len) == 0, e = errno;
    hb_buf_fini(&b);
    if (!ok) {
        fprintf(stderr, "hbmpi report: cannot write %s: %s\n", file, strerror(e));
        return HB_EXIT_FAILED;
    }
    return HB_EXIT_OK;
}

/* ---------------------------------------------------------------- the commands */

typedef struct report_opts {
    const char *path, *csv, *plot;
    int json, events;
} report_opts;

static int report_path(hb_args *a, void *opts)
{
    report_opts *o = opts;
    if (o->path) return hb_cli_usage_error(a, "one run file at a time ('%s' is extra)", a->argv[a->i]);
    o->path = a->argv[a->i++];
    return HB_EXIT_OK;
}

static int report_plot(hb_args *a, void *opts)
{
    report_opts *o = opts;
    if (!ends_with(a->value, ".svg") && !ends_with(a->value, ".png"))
        return hb_cli_usage_error(a, "--plot: the file must end in .svg or .png, got '%s'", a->value);
    o->plot = a->value;
    return HB_EXIT_OK;
}

#define REPORT(k, nm, mv, field, h) HB_CLI_OPT(k, nm, mv, report_opts, field, h)
static const hb_cli_opt report_rows[] = {
    HB_CLI_TEXT_ROW("usage: hbmpi report RUN.h5 [--json | --events | --csv FILE | --plot FILE.svg|FILE.png]\n"
                    "\n"
                    "Summarise a run file written by `hbmpi run --out RUN.h5`: the best configuration, the\n"
                    "incumbent's trajectory, trials and best loss per budget, failures by status, and worker\n"
                    "utilisation; for pbt and pb2, the best model's schedule (its steps, mutable values and the\n"
                    "checkpoints it copied; \"schedule\" in --json). The file may belong to a run that is still\n"
                    "going, or was killed.\n"
                    "\n"),
    {REPORT(HB_CLI_FLAG, "--json", NULL, json, "print the report JSON of docs/CLI.md (what `run --json` printed)")},
    {REPORT(HB_CLI_FLAG, "--events", NULL, events, "print the event log, one JSON object a line (docs/runfile.md)")},
    {REPORT(HB_CLI_STR, "--csv", "FILE", csv, "write the trials as CSV (one column per parameter); '-' for stdout")},
    {.kind = HB_CLI_CALL, .name = "--plot", .metavar = "FILE", .fn = report_plot,
     .help = "draw incumbent loss against cumulative budget and against time, loss\n"
             "against budget, and busy workers over time (.svg or .png); for pbt and\n"
             "pb2 also each member's loss and the best model's schedule"},
    HB_CLI_TEXT_ROW("\n"
                    "A damaged run file (cut short, or bytes changed since hbmpi wrote it) is reported as far as\n"
                    "it can be read, with a warning that says what is wrong; `hbmpi repair` makes a new run file\n"
                    "of it that runs can resume.\n"),
    {.kind = HB_CLI_END},
};
static const hb_cli_table report_table = {report_rows, 2, 17, report_path};

/* What the options ask for, of run file 'v'; the exit code. */
static int report_output(const report_opts *o, const hb_run_view *v)
{
    int code = HB_EXIT_OK;
    if (o->json) {
        if (hb_run_view_print_json(v, stdout) != HB_OK) code = HB_EXIT_FAILED;
    } else if (o->events) {
        print_events(v);
    } else if (o->csv) {
        FILE *f = strcmp(o->csv, "-") ? fopen(o->csv, "w") : stdout;
        if (f == NULL || write_csv(v, f) != 0 || (f != stdout && fclose(f) != 0)) {
            fprintf(stderr, "hbmpi report: cannot write %s: %s\n", o->csv, strerror(errno));
            code = HB_EXIT_FAILED;
        }
    } else if (o->plot) {
        code = write_plot(o->path, v, o->plot);
    } else {
        summary(o->path, v);
        if (hb_report_is_pbt(v->settings.optimizer)) print_schedule(v);
    }
    return code;
}

int hb_cmd_report(int argc, char **argv)
{
    hb_args a = {argc, argv, 2, "report", NULL, 0};
    report_opts o = {0};
    int rc = hb_cli_parse(&report_table, &o, &a);
    if (rc != HB_CLI_PARSED) return rc;
    if (o.path == NULL) return hb_cli_usage_error(&a, "which run file? (hbmpi report RUN.h5)");
    if (o.json + o.events + (o.csv != NULL) + (o.plot != NULL) > 1)
        return hb_cli_usage_error(&a, "give one of --json, --events, --csv and --plot");
    hb_run_view v;
    hb_error err;
    hb_error_clear(&err);
    if ((rc = hb_run_view_load(o.path, &v, 1, &err)) != HB_OK) {
        hb_cli_print_error(&err);
        return hb_cli_exit_code(rc);
    }
    if (v.damage)
        fprintf(stderr, "hbmpi report: warning: %s: what follows is what they hold ('hbmpi repair %s NEW.h5' "
                        "writes them into a run file that can be resumed)\n", v.damage, o.path);
    int code = report_output(&o, &v);
    hb_run_view_fini(&v);
    return code;
}

typedef struct repair_opts {
    const char *paths[2];
    int n;
} repair_opts;

static int repair_path(hb_args *a, void *opts)
{
    repair_opts *o = opts;
    if (o->n == 2) return hb_cli_usage_error(a, "two files: DAMAGED.h5 NEW.h5 ('%s' is extra)", a->argv[a->i]);
    o->paths[o->n++] = a->argv[a->i++];
    return HB_EXIT_OK;
}

static const hb_cli_opt repair_rows[] = {
    HB_CLI_TEXT_ROW("usage: hbmpi repair DAMAGED.h5 NEW.h5\n"
                    "\n"
                    "Write what can be read of a damaged run file into a new one: its header and its events up to\n"
                    "the first that cannot be read or does not fit. DAMAGED.h5 is only read; NEW.h5 must not\n"
                    "exist. The same `hbmpi run` command with --out NEW.h5 then resumes the run from there: jobs\n"
                    "whose results were lost are issued again. An intact file is copied as it is. Exit 0 when\n"
                    "NEW.h5 was written, 2 when nothing could be read (or NEW.h5 exists), 1 when it could not be\n"
                    "written.\n"),
    {.kind = HB_CLI_END},
};
static const hb_cli_table repair_table = {repair_rows, 2, 17, repair_path};

int hb_cmd_repair(int argc, char **argv)
{
    hb_args a = {argc, argv, 2, "repair", NULL, 0};
    repair_opts o = {{NULL, NULL}, 0};
    int rc = hb_cli_parse(&repair_table, &o, &a);
    if (rc != HB_CLI_PARSED) return rc;
    if (o.n < 2) return hb_cli_usage_error(&a, "which files? (hbmpi repair DAMAGED.h5 NEW.h5)");
    size_t events = 0;
    char *damage = NULL;
    hb_error err;
    hb_error_clear(&err);
    if ((rc = hb_run_repair(o.paths[0], o.paths[1], &events, &damage, &err)) != HB_OK) {
        hb_cli_print_error(&err);
        return hb_cli_exit_code(rc);
    }
    if (damage)
        printf("hbmpi repair: %s; %s holds them: run the same command with --out %s to resume\n", damage, o.paths[1],
               o.paths[1]);
    else
        printf("hbmpi repair: %s is intact; %s holds a copy of its %zu events\n", o.paths[0], o.paths[1], events);
    hb_free(damage);
    return HB_EXIT_OK;
}
