/* sweep.c — `hbmpi sweep SWEEP.json --out DIR` and `hbmpi sweep report DIR`.
 *
 * Every combination of kernels x optimizers x seeds is one study: a whole `hbmpi run` in one
 * process with its own run file DIR/KERNEL-OPTIMIZER-SEED.h5, so each study is crash-safe and
 * resumable exactly as a run is. DIR/sweep.json keeps the sweep; running the same command again
 * skips the finished studies and resumes the others. Under `mpirun -n N`, rank 0 hands studies
 * out one at a time to ranks 1..N-1 (the next to the first rank that asks); alone, the one
 * process runs them in order. A study's trials do not depend on which rank ran it. */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include "hb_sweep_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hb_cli.h"
#include "hb_fileio.h"
#include "hb_kernels.h"
#include "hb_plot.h"
#include "hb_runfile.h"
#include "hb_runtime.h"
#include "hb_signals.h"
#include "hb_sweep.h"
#include "hb_transport.h"

/* ---------------------------------------------------------------- files */

static char *read_text(const char *path, size_t *len, hb_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) { /* a path that is not there is bad input (exit 2), as for `hbmpi report` */
        hb_error_set(err, errno == ENOENT ? HB_ENOTFOUND : HB_EIO, NULL, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    hb_buf b = HB_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) hb_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad || b.failed || b.data == NULL) {
        hb_buf_fini(&b);
        if (bad) hb_error_set(err, HB_EIO, NULL, "cannot read %s", path);
        else if (b.failed) hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        else hb_error_set(err, HB_ESYNTAX, path, "the file is empty");
        return NULL;
    }
    *len = b.len;
    return b.data;
}

static int load_sweep(const char *path, hb_sweep **sw, hb_error *err)
{
    size_t len = 0;
    char *text = read_text(path, &len, err);
    if (text == NULL) return err->status;
    int rc = hb_sweep_parse(text, len, path, hb_kernels_find, sw, err);
    hb_free(text);
    return rc;
}

static void join(char *out, size_t n, const char *dir, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

/* DIR exists (made if missing) and DIR/sweep.json holds this sweep (written if missing). A
 * different sweep there: HB_EINVAL, naming the first key that differs. */
static int prepare_dir(const char *dir, const hb_sweep *sw, hb_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || mkdir(dir, 0777) != 0)
            return hb_error_set(err, HB_EIO, NULL, "cannot make the directory %s: %s", dir, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        return hb_error_set(err, HB_EINVAL, NULL, "--out %s: not a directory", dir);
    }
    char path[4096];
    join(path, sizeof path, dir, "sweep.json");
    if (access(path, F_OK) != 0) {
        const char *c = hb_sweep_canonical(sw);
        hb_buf b = HB_BUF_INIT;
        hb_buf_printf(&b, "%s\n", c);
        int bad = b.failed || hb_write_whole(path, b.data, b.len) != 0;
        hb_buf_fini(&b);
        if (bad) return hb_error_set(err, HB_EIO, NULL, "cannot write %s: %s", path, strerror(errno));
        return HB_OK;
    }
    hb_sweep *old = NULL;
    int rc = load_sweep(path, &old, err);
    if (rc != HB_OK) return rc;
    if (strcmp(hb_sweep_canonical(old), hb_sweep_canonical(sw)) != 0) {
        json_t *a = json_loads(hb_sweep_canonical(old), 0, NULL), *b = json_loads(hb_sweep_canonical(sw), 0, NULL);
        const char *keys[] = {"kernels", "optimizers", "seeds", "max_total_budget", "settings"}, *which = "the sweep";
        for (size_t i = 0; a && b && i < sizeof keys / sizeof *keys; i++) {
            json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);
            if (!(x == NULL && y == NULL) && !(x && y && json_equal(x, y))) {
                which = keys[i];
                break;
            }
        }
        json_decref(a);
        json_decref(b);
        rc = hb_error_set(err, HB_EINVAL, NULL, "%s holds a different sweep (\"%s\" differs); give another --out, "
                                                "or the SWEEP.json it was made from", path, which);
    }
    hb_sweep_free(old);
    return rc;
}

/* One sweep per directory at a time: an OFD write lock on DIR/sweep.json for as long as the
 * sweep runs (released with the descriptor, or by the kernel when the process dies). The
 * descriptor, or -1 with err set (HB_EINVAL: another sweep holds it). */
static int lock_dir(const char *dir, hb_error *err)
{
    char path[4096];
    join(path, sizeof path, dir, "sweep.json");
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        hb_error_set(err, HB_EIO, NULL, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        int e = errno;
        close(fd);
        if (e == EAGAIN || e == EACCES)
            hb_error_set(err, HB_EINVAL, NULL, "another hbmpi sweep is running in %s (it holds %s's lock)", dir,
                         path);
        else
            hb_error_set(err, HB_EIO, NULL, "cannot lock %s: %s", path, strerror(e));
        return -1;
    }
    return fd;
}

/* ---------------------------------------------------------------- one study */

typedef struct outcome {
    int32_t index;
    int32_t code;        /* HB_EXIT_*; -1: none (a first request) */
    int32_t skipped;     /* finished before this command */
    int32_t pad;
    int64_t evaluations;
    double regret;       /* final regret, NaN if undefined */
} outcome;

/* The kernel of study label 'label' and its space. */
static const hb_kernel *study_kernel(const char *label, hb_space **sp, hb_error *err)
{
    char name[128];
    const char *colon = strchr(label, ':');
    size_t n = colon ? (size_t)(colon - label) : strlen(label);
    if (n >= sizeof name) n = sizeof name - 1;
    memcpy(name, label, n);
    name[n] = '\0';
    const hb_kernel *k = hb_kernels_find(name);
    if (k == NULL || k->space(colon ? colon + 1 : NULL, sp, err) != HB_OK) return NULL;
    return k;
}

/* Run (or resume, or skip) study i in this process, with MPI left alone. */
static void run_study(const hb_sweep *sw, size_t i, const char *dir, outcome *o)
{
    memset(o, 0, sizeof *o);
    o->index = (int32_t)i;
    o->regret = NAN;
    if (hb_stop_signal()) { /* stopping: start nothing */
        o->code = HB_EXIT_INTERRUPTED;
        return;
    }
    hb_sweep_study st;
    hb_sweep_study_at(sw, i, &st);
    char name[1024], path[4096];
    hb_error err;
    hb_error_clear(&err);
    hb_space *sp = NULL;
    const hb_kernel *k = study_kernel(st.kernel, &sp, &err);
    if (k == NULL || hb_sweep_file_name(sw, i, name, sizeof name) != HB_OK) {
        fprintf(stderr, "hbmpi sweep: study %s %s %llu: %s\n", st.kernel, st.optimizer, (unsigned long long)st.seed,
                k ? "name too long" : err.msg);
        hb_space_free(sp);
        o->code = HB_EXIT_FAILED;
        return;
    }
    join(path, sizeof path, dir, name);
    hb_run_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.kernel = k;
    spec.kernel_label = st.kernel;
    spec.space = sp;
    spec.quiet = 1;
    hb_sweep_settings(sw, i, k, &spec.settings);
    spec.eval_delay = hb_sweep_eval_delay(sw);
    spec.reproducible = hb_sweep_reproducible(sw);
    spec.cmd.grace = 5;
    /* pbt and pb2 continue checkpoints: a training kernel keeps them beside the study's file */
    char trials[4096 + 8];
    if (hb_opt_population(st.optimizer) && k->train) {
        snprintf(trials, sizeof trials, "%s.trials", path);
        spec.continue_promoted = 1;
        spec.cmd.trial_root = trials;
    }
    hb_runfile rf;
    hb_runfile_spec rs = {path, NULL, st.kernel, 0, NULL, NULL, sp, &spec.settings, spec.reproducible, 0};
    int rc = hb_runfile_begin(&rs, &rf, &err);
    if (rc != HB_OK || rf.finished) {
        hb_runfile_end(&rf, NULL);
        if (rc != HB_OK) hb_cli_print_error(&err);
        o->code = hb_cli_exit_code(rc);
        o->skipped = rc == HB_OK;
        hb_space_free(sp);
        return;
    }
    hb_runfile_attach(&rf, &spec);
    hb_run_result res;
    rc = hb_runtime_run(&spec, MPI_COMM_NULL, &res, &err);
    hb_error ferr;
    hb_error_clear(&ferr);
    if (hb_runfile_end(&rf, &ferr) != HB_OK) {
        hb_cli_print_error(&ferr);
        if (rc == HB_OK) rc = ferr.status;
    }
    if (rc == HB_OK) {
        hb_study_regret r;
        if (hb_study_regret_of(k, sp, spec.settings.max_budget, res.trials, res.n, &r, NULL) == HB_OK) {
            o->regret = r.final;
            hb_study_regret_fini(&r);
        }
        o->evaluations = (int64_t)res.n;
    } else if (rc != HB_EINTR) {
        fprintf(stderr, "hbmpi sweep: study %s: ", path);
        hb_cli_print_error(&err);
    }
    o->code = hb_cli_exit_code_as(rc, HB_CLI_EXIT_WORK);
    hb_run_result_fini(&res);
    hb_space_free(sp);
}

static void progress(const hb_sweep *sw, const outcome *o, size_t done, int rank)
{
    hb_sweep_study st;
    hb_sweep_study_at(sw, (size_t)o->index, &st);
    char where[32] = "";
    if (rank > 0) snprintf(where, sizeof where, " (rank %d)", rank);
    fprintf(stderr, "hbmpi sweep: [%zu/%zu] %s %s seed %llu%s: ", done, hb_sweep_count(sw), st.kernel, st.optimizer,
            (unsigned long long)st.seed, where);
    if (o->skipped)
        fprintf(stderr, "finished before\n");
    else if (o->code == HB_EXIT_OK)
        fprintf(stderr, "final regret %.6g after %lld evaluations\n", o->regret, (long long)o->evaluations);
    else if (o->code == HB_EXIT_INTERRUPTED)
        fprintf(stderr, "stopped, saved\n");
    else
        fprintf(stderr, "failed (exit %d)\n", o->code);
}

/* ---------------------------------------------------------------- the report */

static const char *state_name(int s)
{
    return s == HB_VIEW_FINISHED ? "finished" : s == HB_VIEW_STOPPED ? "stopped" : "running";
}

typedef struct study_row {
    hb_sweep_study st;
    char file[1024];
    const char *state;   /* finished, stopped, running (or killed), missing, unreadable */
    hb_study_regret r;
} study_row;

typedef struct sweep_report {
    hb_sweep *sw;
    study_row *rows;
    size_t n;
} sweep_report;

static void report_fini(sweep_report *rep)
{
    for (size_t i = 0; rep->rows && i < rep->n; i++) hb_study_regret_fini(&rep->rows[i].r);
    hb_free(rep->rows);
    hb_sweep_free(rep->sw);
}

static int report_load(const char *dir, sweep_report *rep, hb_error *err)
{
    memset(rep, 0, sizeof *rep);
    char path[4096];
    join(path, sizeof path, dir, "sweep.json");
    int rc = load_sweep(path, &rep->sw, err);
    if (rc != HB_OK) return rc;
    rep->n = hb_sweep_count(rep->sw);
    if ((rep->rows = hb_calloc(rep->n, sizeof *rep->rows)) == NULL)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < rep->n && rc == HB_OK; i++) {
        study_row *row = &rep->rows[i];
        hb_sweep_study_at(rep->sw, i, &row->st);
        row->r.final = NAN;
        hb_sweep_file_name(rep->sw, i, row->file, sizeof row->file);
        join(path, sizeof path, dir, row->file);
        if (access(path, F_OK) != 0) {
            row->state = "missing";
            continue;
        }
        hb_run_view v;
        hb_error verr;
        hb_error_clear(&verr);
        if (hb_run_view_load(path, &v, 0, &verr) != HB_OK) {
            row->state = "unreadable";
            hb_cli_print_error(&verr);
            continue;
        }
        row->state = state_name(v.state);
        hb_space *sp = NULL;
        const hb_kernel *k = study_kernel(row->st.kernel, &sp, err);
        if (k == NULL) {
            rc = err->status ? err->status : HB_EINVAL;
        } else {
            hb_opt_settings set;
            hb_sweep_settings(rep->sw, i, k, &set);
            rc = hb_study_regret_of(k, v.space, set.max_budget, v.trials, v.n, &row->r, err);
        }
        hb_space_free(sp);
        hb_run_view_fini(&v);
    }
    return rc;
}

/* Final regrets of the finished studies of kernel k, optimizer o, sorted (undefined: +inf). */
static size_t finals(const sweep_report *rep, size_t k, size_t o, double *v)
{
    size_t m = 0;
    for (size_t i = 0; i < rep->n; i++) {
        const study_row *row = &rep->rows[i];
        if (strcmp(row->st.kernel, rep->rows[k].st.kernel) || strcmp(row->st.optimizer, rep->rows[o].st.optimizer) ||
            strcmp(row->state, "finished"))
            continue;
        v[m++] = isnan(row->r.final) ? INFINITY : row->r.final;
    }
    qsort(v, m, sizeof *v, hb_cmp_double);
    return m;
}

/* Each (kernel, optimizer) pair once: the index of its first study. */
static int first_of_pair(const sweep_report *rep, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (!strcmp(rep->rows[j].st.kernel, rep->rows[i].st.kernel) &&
            !strcmp(rep->rows[j].st.optimizer, rep->rows[i].st.optimizer))
            return 0;
    return 1;
}

static void json_num_or_null(hb_buf *b, double v)
{
    if (isfinite(v))
        hb_buf_json_number(b, v);
    else
        hb_buf_puts(b, "null");
}

static int report_json(const sweep_report *rep, hb_buf *b)
{
    double *v = hb_malloc((rep->n ? rep->n : 1) * sizeof *v);
    if (v == NULL) return HB_ENOMEM;
    hb_buf_puts(b, "{\"studies\": [");
    for (size_t i = 0; i < rep->n; i++) {
        const study_row *row = &rep->rows[i];
        hb_buf_puts(b, i ? ",\n  {\"kernel\": " : "\n  {\"kernel\": ");
        hb_buf_json_string(b, row->st.kernel);
        hb_buf_puts(b, ", \"optimizer\": ");
        hb_buf_json_string(b, row->st.optimizer);
        hb_buf_printf(b, ", \"seed\": %llu, \"file\": ", (unsigned long long)row->st.seed);
        hb_buf_json_string(b, row->file);
        hb_buf_printf(b, ", \"state\": \"%s\", \"evaluations\": %zu, \"total_budget\": ", row->state,
                      row->r.evaluations);
        hb_buf_json_number(b, row->r.total_budget);
        hb_buf_puts(b, ", \"final_regret\": ");
        json_num_or_null(b, row->r.final);
        hb_buf_puts(b, ", \"trajectory\": [");
        for (size_t j = 0; j < row->r.n; j++) {
            hb_buf_puts(b, j ? ", [" : "[");
            hb_buf_json_number(b, row->r.traj[j].budget);
            hb_buf_puts(b, ", ");
            hb_buf_json_number(b, row->r.traj[j].regret);
            hb_buf_puts(b, "]");
        }
        hb_buf_puts(b, "]}");
    }
    hb_buf_puts(b, "\n ],\n \"summary\": [");
    int first = 1;
    for (size_t i = 0; i < rep->n; i++) {
        if (!first_of_pair(rep, i)) continue;
        size_t m = finals(rep, i, i, v);
        hb_buf_puts(b, first ? "\n  {\"kernel\": " : ",\n  {\"kernel\": ");
        first = 0;
        hb_buf_json_string(b, rep->rows[i].st.kernel);
        hb_buf_puts(b, ", \"optimizer\": ");
        hb_buf_json_string(b, rep->rows[i].st.optimizer);
        hb_buf_printf(b, ", \"studies\": %zu, \"median\": ", m);
        json_num_or_null(b, hb_quantile_sorted(v, m, 0.5));
        hb_buf_puts(b, ", \"q1\": ");
        json_num_or_null(b, hb_quantile_sorted(v, m, 0.25));
        hb_buf_puts(b, ", \"q3\": ");
        json_num_or_null(b, hb_quantile_sorted(v, m, 0.75));
        hb_buf_puts(b, "}");
    }
    hb_buf_puts(b, "\n ]}\n");
    hb_free(v);
    return b->failed ? HB_ENOMEM : HB_OK;
}

static void print_table(const sweep_report *rep, FILE *f)
{
    double *v = hb_malloc((rep->n ? rep->n : 1) * sizeof *v);
    if (v == NULL) return;
    size_t done = 0;
    for (size_t i = 0; i < rep->n; i++) done += !strcmp(rep->rows[i].state, "finished");
    fprintf(f, "%zu of %zu studies finished\n", done, rep->n);
    fprintf(f, "%-24s %-10s %7s  %s\n", "kernel", "optimizer", "studies", "final regret: median [q1, q3]");
    for (size_t i = 0; i < rep->n; i++) {
        if (!first_of_pair(rep, i)) continue;
        size_t m = finals(rep, i, i, v);
        fprintf(f, "%-24s %-10s %7zu  ", rep->rows[i].st.kernel, rep->rows[i].st.optimizer, m);
        if (m == 0)
            fprintf(f, "-\n");
        else
            fprintf(f, "%.4g [%.4g, %.4g]\n", hb_quantile_sorted(v, m, 0.5), hb_quantile_sorted(v, m, 0.25),
                    hb_quantile_sorted(v, m, 0.75));
    }
    hb_free(v);
}

static int write_csv(const sweep_report *rep, FILE *f)
{
    fputs("kernel,optimizer,seed,state,evaluations,total_budget,final_regret,file\n", f);
    char num[64];
    for (size_t i = 0; i < rep->n; i++) {
        const study_row *row = &rep->rows[i];
        hb_csv_field(f, row->st.kernel);
        fputc(',', f);
        hb_csv_field(f, row->st.optimizer);
        fprintf(f, ",%llu,%s,%zu,", (unsigned long long)row->st.seed, row->state, row->r.evaluations);
        hb_format_double(num, sizeof num, row->r.total_budget);
        fprintf(f, "%s,", num);
        if (isfinite(row->r.final)) {
            hb_format_double(num, sizeof num, row->r.final);
            fputs(num, f);
        }
        fputc(',', f);
        hb_csv_field(f, row->file);
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

/* The regret figure of kernel row k (hb_plot_regret_svg): one curve per optimizer, of its
 * finished studies, written to 'file'. 0, 1 when there is nothing to draw, -1 with errno. */
static int plot_kernel(const sweep_report *rep, size_t k, const char *file)
{
    const char *kernel = rep->rows[k].st.kernel;
    hb_regret_curve *c = hb_calloc(rep->n ? rep->n : 1, sizeof *c);
    const hb_study_regret **st = hb_calloc(rep->n ? rep->n : 1, sizeof *st);
    size_t nc = 0, used = 0;
    for (size_t o = 0; c && st && o < rep->n; o++) {
        if (strcmp(rep->rows[o].st.kernel, kernel) || !first_of_pair(rep, o)) continue;
        hb_regret_curve *cv = &c[nc++];
        cv->label = rep->rows[o].st.optimizer;
        cv->studies = st + used;
        for (size_t i = 0; i < rep->n; i++) {
            const study_row *row = &rep->rows[i];
            if (!strcmp(row->st.kernel, kernel) && !strcmp(row->st.optimizer, cv->label) &&
                !strcmp(row->state, "finished"))
                st[used + cv->n++] = &row->r;
        }
        used += cv->n;
    }
    hb_buf b = HB_BUF_INIT;
    int rc = c && st ? hb_plot_regret_svg(kernel, c, nc, &b) : HB_ENOMEM;
    int out = rc == HB_ENOTFOUND ? 1 : rc != HB_OK || hb_write_whole(file, b.data, b.len) != 0 ? -1 : 0;
    if (rc == HB_ENOMEM) errno = ENOMEM;
    hb_free(c);
    hb_free(st);
    hb_buf_fini(&b);
    return out;
}

static int write_plots(const sweep_report *rep, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0 && (errno != ENOENT || mkdir(dir, 0777) != 0)) {
        fprintf(stderr, "hbmpi sweep report: cannot make %s: %s\n", dir, strerror(errno));
        return HB_EXIT_FAILED;
    }
    for (size_t i = 0; i < rep->n; i++) {
        int first = 1;
        for (size_t j = 0; j < i && first; j++) first = strcmp(rep->rows[j].st.kernel, rep->rows[i].st.kernel) != 0;
        if (!first) continue;
        /* regret-KERNEL.svg, KERNEL as in the study's file name (which starts with it) */
        char name[1100], path[4096];
        int klen = (int)strlen(rep->rows[i].st.kernel);
        snprintf(name, sizeof name, "regret-%.*s.svg", klen, rep->rows[i].file);
        join(path, sizeof path, dir, name);
        int rc = plot_kernel(rep, i, path);
        if (rc < 0) {
            fprintf(stderr, "hbmpi sweep report: cannot write %s: %s\n", path, strerror(errno));
            return HB_EXIT_FAILED;
        }
        if (rc == 0) printf("%s\n", path);
    }
    return HB_EXIT_OK;
}

/* ---------------------------------------------------------------- the commands' options */

typedef struct sweep_opts {
    const char *file;       /* sweep: SWEEP.json */
    const char *dir;        /* sweep: --out DIR; sweep report: DIR */
    const char *csv, *plot; /* sweep report */
    int json, quiet;
} sweep_opts;

static int sweep_arg(hb_args *a, void *opts)
{
    sweep_opts *o = opts;
    const char *arg = a->argv[a->i];
    if (!strcmp(a->cmd, "sweep report")) {
        if (o->dir) return hb_cli_usage_error(a, "one sweep directory, not '%s' too", arg);
        o->dir = arg;
    } else {
        if (o->file) return hb_cli_usage_error(a, "one SWEEP.json, not '%s' too", arg);
        o->file = arg;
    }
    a->i++;
    return HB_EXIT_OK;
}

/* One table for `sweep` and `sweep report` (the same --help): each option names the one it is for. */
#define SWEEP(k, nm, mv, field, h) HB_CLI_OPT(k, nm, mv, sweep_opts, field, h)
static const hb_cli_opt sweep_rows[] = {
    HB_CLI_TEXT_ROW("usage: hbmpi sweep SWEEP.json --out DIR [--json] [--quiet]\n"
                    "       hbmpi sweep report DIR [--json | --csv FILE | --plot PLOTDIR]\n"
                    "\n"
                    "Run every combination of the kernels, optimizers and seeds in SWEEP.json as one study\n"
                    "each, with its own run file DIR/KERNEL-OPTIMIZER-SEED.h5 (DIR is made if missing), and\n"
                    "report each study's regret against cumulative budget. Under `mpirun -n N`, ranks 1..N-1\n"
                    "run studies in parallel, one at a time each; alone, the studies run one after another.\n"
                    "The same command again skips finished studies and resumes the others (exit 3 after a\n"
                    "signal means: run it again). SWEEP.json (docs/CLI.md):\n"
                    "  {\"kernels\": [\"branin\", \"hartmann6\"], \"optimizers\": [\"random\", \"bohb\"],\n"
                    "   \"seeds\": [0, 1, 2] or {\"from\": 0, \"count\": 10},\n"
                    "   \"max_total_budget\": \"100x\" (times each kernel's max budget) or a number,\n"
                    "   \"settings\": {\"eta\": 3, \"min_budget\": 1, \"reproducible\": 4, \"eval_delay\": 0, ...}}\n"
                    "\n"),
    {SWEEP(HB_CLI_STR, "--out", "DIR", dir, "where the studies' run files and DIR/sweep.json go (required)"),
     .only = "sweep"},
    {SWEEP(HB_CLI_FLAG, "--json", NULL, json, "print the sweep report JSON (as `sweep report --json`) at the end"),
     .only = "sweep"},
    {SWEEP(HB_CLI_FLAG, "--quiet", NULL, quiet, "no progress lines on stderr"), .only = "sweep"},
    HB_CLI_TEXT_ROW("\n"
                    "sweep report DIR: a table of final regret (median [q1, q3] over seeds) per kernel and\n"
                    "optimizer, or:\n"),
    {SWEEP(HB_CLI_FLAG, "--json", NULL, json, "{\"studies\": [...], \"summary\": [...]}"), .only = "sweep report"},
    {SWEEP(HB_CLI_STR, "--csv", "FILE", csv, "one row per study ('-': stdout)"), .only = "sweep report"},
    {SWEEP(HB_CLI_STR, "--plot", "PLOTDIR", plot, "one SVG per kernel, median regret against cumulative budget"),
     .only = "sweep report"},
    {.kind = HB_CLI_END},
};
static const hb_cli_table sweep_table = {sweep_rows, 2, 17, sweep_arg};

/* ---------------------------------------------------------------- sweep report */

int hb_cmd_sweep_report(int argc, char **argv)
{
    hb_args a = {argc, argv, 3, "sweep report", NULL, 0};
    sweep_opts o = {0};
    int rc = hb_cli_parse(&sweep_table, &o, &a);
    if (rc != HB_CLI_PARSED) return rc;
    if (o.dir == NULL) return hb_cli_usage_error(&a, "which sweep? give the directory of `hbmpi sweep --out DIR`");
    if (o.json + (o.csv != NULL) + (o.plot != NULL) > 1)
        return hb_cli_usage_error(&a, "give one of --json, --csv and --plot");
    sweep_report rep;
    hb_error err;
    hb_error_clear(&err);
    if ((rc = report_load(o.dir, &rep, &err)) != HB_OK) {
        hb_cli_print_error(&err);
        report_fini(&rep);
        return hb_cli_exit_code(rc);
    }
    int code = HB_EXIT_OK;
    if (o.json) {
        hb_buf b = HB_BUF_INIT;
        if (report_json(&rep, &b) != HB_OK) code = HB_EXIT_FAILED;
        else fputs(b.data, stdout);
        hb_buf_fini(&b);
    } else if (o.csv) {
        FILE *f = strcmp(o.csv, "-") ? fopen(o.csv, "w") : stdout;
        if (f == NULL || write_csv(&rep, f) != 0 || (f != stdout && fclose(f) != 0)) {
            fprintf(stderr, "hbmpi sweep report: cannot write %s: %s\n", o.csv, strerror(errno));
            code = HB_EXIT_FAILED;
        }
    } else if (o.plot) {
        code = write_plots(&rep, o.plot);
    } else {
        print_table(&rep, stdout);
    }
    report_fini(&rep);
    return code;
}

/* ---------------------------------------------------------------- the sweep */

enum { TAG_WANT = 11, TAG_STUDY = 12 };

/* Rank 0 under mpirun: hand studies out to whoever asks, until none are left or a stop. */
static int coordinate(const hb_sweep *sw, MPI_Comm comm, int size, int quiet, int *stopped, int *failed)
{
    size_t next = 0, done = 0, total = hb_sweep_count(sw);
    int active = size - 1;
    while (active > 0) {
        outcome o;
        MPI_Request req;
        MPI_Status st;
        if (MPI_Irecv(&o, (int)sizeof o, MPI_BYTE, MPI_ANY_SOURCE, TAG_WANT, comm, &req) != MPI_SUCCESS ||
            hb_mpi_wait(&req, &st) != HB_OK)
            return HB_EMPI;
        if (o.code >= 0) {
            done++;
            if (!quiet) progress(sw, &o, done, st.MPI_SOURCE);
            if (o.code == HB_EXIT_INTERRUPTED) *stopped = 1;
            else if (o.code != HB_EXIT_OK) *failed = 1;
        }
        if (hb_stop_signal()) *stopped = 1;
        int32_t give = -1;
        if (!*stopped && next < total) give = (int32_t)next++;
        else active--;
        if (MPI_Send(&give, 1, MPI_INT32_T, st.MPI_SOURCE, TAG_STUDY, comm) != MPI_SUCCESS) return HB_EMPI;
    }
    return HB_OK;
}

/* Ranks 1..N-1: ask, run, tell, until told -1. */
static int work(const hb_sweep *sw, const char *dir, MPI_Comm comm)
{
    outcome o;
    memset(&o, 0, sizeof o);
    o.code = -1;
    for (;;) {
        int32_t give = -1;
        MPI_Request req;
        if (MPI_Send(&o, (int)sizeof o, MPI_BYTE, 0, TAG_WANT, comm) != MPI_SUCCESS ||
            MPI_Irecv(&give, 1, MPI_INT32_T, 0, TAG_STUDY, comm, &req) != MPI_SUCCESS || hb_mpi_wait(&req, NULL) != HB_OK)
            return HB_EMPI;
        if (give < 0) return HB_OK;
        run_study(sw, (size_t)give, dir, &o);
    }
}

/* Every rank reads the sweep (a shared file system, as for the run files); rank 0 checks the
 * directory and takes its lock ('*lock'), and all learn its verdict: HB_EXIT_OK or the exit code. */
static int sweep_begin(const sweep_opts *o, int rank, MPI_Comm comm, hb_sweep **sw, int *lock)
{
    hb_error err;
    hb_error_clear(&err);
    int rc = load_sweep(o->file, sw, &err);
    hb_signals_obey_early(); /* a stop while parsing: nothing written yet, end by the signal */
    if (rc == HB_OK && rank == 0) rc = prepare_dir(o->dir, *sw, &err);
    if (rc == HB_OK && rank == 0 && (*lock = lock_dir(o->dir, &err)) < 0) rc = err.status;
    int verdict = hb_cli_exit_code(rc);
    if (rc != HB_OK && rank == 0) hb_cli_print_error(&err);
    if (comm != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, &verdict, 1, MPI_INT, MPI_MAX, comm);
    return verdict;
}

/* Run the studies: one after another alone, or handed out by rank 0 to ranks 1..N-1. */
static void sweep_studies(const hb_sweep *sw, const sweep_opts *o, int rank, MPI_Comm comm, int *stopped, int *failed)
{
    int size = 1;
    if (comm != MPI_COMM_NULL) MPI_Comm_size(comm, &size);
    if (!o->quiet && rank == 0)
        fprintf(stderr, "hbmpi sweep: %zu studies into %s, %d at a time\n", hb_sweep_count(sw), o->dir,
                size > 1 ? size - 1 : 1);
    if (size > 1) {
        int rc = rank == 0 ? coordinate(sw, comm, size, o->quiet, stopped, failed) : work(sw, o->dir, comm);
        if (rc != HB_OK) *failed = 1;
        return;
    }
    for (size_t i = 0; i < hb_sweep_count(sw) && !*stopped; i++) {
        outcome so;
        run_study(sw, i, o->dir, &so);
        if (!o->quiet) progress(sw, &so, i + 1, 0);
        if (so.code == HB_EXIT_INTERRUPTED || hb_stop_signal()) *stopped = 1;
        else if (so.code != HB_EXIT_OK) *failed = 1;
    }
}

/* Rank 0, the studies done: how the sweep was stopped, or its report; the exit code. */
static int sweep_end(const sweep_opts *o, int stopped, int failed)
{
    int code = stopped ? HB_EXIT_INTERRUPTED : failed ? HB_EXIT_FAILED : HB_EXIT_OK;
    if (stopped) {
        char name[32];
        fprintf(stderr, "hbmpi sweep: stopped by %s; every study is saved in %s; run the same command to resume\n",
                hb_stop_signal() ? hb_signal_name(hb_stop_signal(), name, sizeof name) : "a signal", o->dir);
        return code;
    }
    sweep_report rep;
    hb_error err;
    hb_error_clear(&err);
    int rc = report_load(o->dir, &rep, &err);
    if (rc != HB_OK) {
        hb_cli_print_error(&err);
        code = hb_cli_exit_code_as(rc, HB_CLI_EXIT_WORK);
    } else if (o->json) {
        hb_buf b = HB_BUF_INIT;
        if (report_json(&rep, &b) != HB_OK) code = HB_EXIT_FAILED;
        else fputs(b.data, stdout);
        hb_buf_fini(&b);
    } else {
        print_table(&rep, stdout);
    }
    report_fini(&rep);
    return code;
}

int hb_cmd_sweep(int argc, char **argv, int rank, MPI_Comm comm)
{
    hb_args a = {argc, argv, 2, "sweep", NULL, rank != 0};
    sweep_opts o = {0};
    int rc = hb_cli_parse(&sweep_table, &o, &a);
    if (rc != HB_CLI_PARSED) return rc;
    if (o.file == NULL) return hb_cli_usage_error(&a, "which sweep? give SWEEP.json (see `hbmpi sweep --help`)");
    if (o.dir == NULL) return hb_cli_usage_error(&a, "--out DIR is required: every study writes its run file there");
    hb_sweep *sw = NULL;
    int lock = -1, stopped = 0, failed = 0;
    int code = sweep_begin(&o, rank, comm, &sw, &lock);
    if (code == HB_EXIT_OK) {
        sweep_studies(sw, &o, rank, comm, &stopped, &failed);
        code = rank == 0 ? sweep_end(&o, stopped, failed) : HB_EXIT_OK;
        /* Every rank ends with rank 0's verdict, and only once rank 0 is done: mpirun ends the job
         * (SIGTERM, then SIGKILL) as soon as one rank exits non-zero. */
        MPI_Request req;
        if (comm != MPI_COMM_NULL &&
            (MPI_Ibcast(&code, 1, MPI_INT, 0, comm, &req) != MPI_SUCCESS || hb_mpi_wait(&req, NULL) != HB_OK))
            code = HB_EXIT_FAILED;
    }
    if (lock >= 0) close(lock);
    hb_sweep_free(sw);
    return code;
}
