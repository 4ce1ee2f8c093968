/* main.c — the hbmpi command: picks the subcommand (run and sweep under MPI when a launcher started
 * hbmpi, the others alone) and holds the commands run, plan, eval, kernels and space, each with its
 * option table (one table parses its options and prints its --help; cli.c). Each command prints its
 * own errors where it finds them: usage slips through hb_cli_usage_error, library errors through
 * hb_cli_print_error (the same in report_cmd.c and sweep.c), and turns a status into an exit code
 * with hb_cli_exit_code (CLI.md). `run` is the only code that calls MPI_Abort (a lost rank, or
 * evaluations that did not stop). */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hb_buf.h"
#include "hb_cli.h"
#include "hb_kernels.h"
#include "hb_report_cmd.h"
#include "hb_runfile.h"
#include "hb_runtime.h"
#include "hb_signals.h"
#include "hb_sweep_cmd.h"
#include "hb_slurm.h"
#include "hb_transport.h"
#include "hb_schedule.h"
#include "hb_space.h"
#include "hb_store_h5.h"

static const char *main_help =
    "usage: hbmpi COMMAND [OPTIONS]\n"
    "\n"
    "Hyperparameter optimisation for HPC clusters. Run alone it is one process; under\n"
    "`mpirun -n N` or `srun`, rank 0 is the master.\n"
    "\n"
    "commands:\n"
    "  run           run an optimisation (a built-in kernel, a program or a C library)\n"
    "  report        summarise a run file (text, JSON, CSV, a plot)\n"
    "  repair        write what can be read of a damaged run file into a new one\n"
    "  sweep         run kernels x optimizers x seeds, one study each; sweep report\n"
    "  plan          print HyperBand's bracket table\n"
    "  eval          evaluate one configuration of a built-in kernel\n"
    "  kernels       list the built-in kernels\n"
    "  space check   check a search-space file (hbmpi or ConfigSpace JSON)\n"
    "  space sample  draw random configurations from a search-space file\n"
    "\n"
    "options:\n"
    "  --help        show this help\n"
    "  --version     show the version and the libraries hbmpi was built with\n"
    "\n"
    "Each command has --help. Exit codes: 0 success, 1 a run or evaluation failed,\n"
    "2 bad usage or bad input, 3 interrupted after saving state.\n";

/* The words of HB_CLI_ENUM options, in the order of their enums' values. */
static const char *const rule_words[] = {"paper", "hpbandster", NULL};
static const char *const acquisition_words[] = {"ei", "pi", NULL};
_Static_assert(HB_RULE_PAPER == 0 && HB_RULE_HPBANDSTER == 1, "rule_words follows hb_bracket_rule");
_Static_assert(HB_ACQ_EI == 0 && HB_ACQ_PI == 1, "acquisition_words follows hb_acquisition");

/* Split "name:args" and find the kernel; prints the error on failure and returns the exit code. */
static int find_kernel(hb_args *a, const char *label, const hb_kernel **k, hb_space **sp)
{
    char name[128];
    const char *colon = strchr(label, ':');
    size_t n = colon ? (size_t)(colon - label) : strlen(label);
    if (n >= sizeof name) n = sizeof name - 1;
    memcpy(name, label, n);
    name[n] = '\0';
    *k = hb_kernels_find(name);
    if (*k == NULL) {
        hb_buf names = HB_BUF_INIT;
        for (size_t i = 0; i < hb_kernels_count(); i++)
            hb_buf_printf(&names, "%s%s", i ? ", " : "", hb_kernels_at(i)->name);
        int rc = hb_cli_usage_error(a, "--kernel: unknown kernel '%s' (known: %s)", name,
                                    names.data ? names.data : "none");
        hb_buf_fini(&names);
        return rc;
    }
    hb_error err;
    hb_error_clear(&err);
    int rc = (*k)->space(colon ? colon + 1 : NULL, sp, &err);
    if (rc == HB_EINVAL) return hb_cli_usage_error(a, "--kernel %s: %s", label, err.msg);
    if (rc != HB_OK) { /* the kernel's data (a missing package, a damaged file): not a usage slip */
        if (!a->quiet_errors) fprintf(stderr, "hbmpi %s: --kernel %s: %s\n", a->cmd, label, err.msg);
        return hb_cli_exit_code_as(rc, HB_CLI_EXIT_INPUT);
    }
    return HB_EXIT_OK;
}

/* ---------------------------------------------------------------- plan */

typedef struct plan_opts {
    double r, R, eta;
    int rule, json;
} plan_opts;

#define PLAN(k, nm, mv, field, h) HB_CLI_OPT(k, nm, mv, plan_opts, field, h)
static const hb_cli_opt plan_rows[] = {
    HB_CLI_TEXT_ROW("usage: hbmpi plan --min-budget r --max-budget R [--eta ETA] [--bracket-rule RULE] [--json]\n"
                    "\n"
                    "Print HyperBand's bracket table: for each bracket s (most aggressive first), how many\n"
                    "configurations each rung runs and at which budget.\n"
                    "\n"),
    {PLAN(HB_CLI_DOUBLE, "--min-budget", "r", r, "smallest budget (> 0)"), .min = 0},
    {PLAN(HB_CLI_DOUBLE, "--max-budget", "R", R, "largest budget (>= r)"), .min = 0},
    {PLAN(HB_CLI_DOUBLE, "--eta", "ETA", eta, "reduction factor (default 3)"), .min = 1},
    {PLAN(HB_CLI_ENUM, "--bracket-rule", "RULE", rule, "paper (default: Li et al.) or hpbandster"),
     .words = rule_words},
    {PLAN(HB_CLI_FLAG, "--json", NULL, json,
          "{\"brackets\": [{\"s\": 4, \"rungs\": [{\"n\": 81, \"budget\": 1}, ...]}]}")},
    {.kind = HB_CLI_END},
};
static const hb_cli_table plan_table = {plan_rows, 2, 26, NULL};

/* A budget for people: whole numbers without a fraction. */
static void put_budget(hb_buf *b, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        hb_buf_printf(b, "%.0f", v);
    else
        hb_buf_json_number(b, v);
}

static void plan_json(const hb_schedule *sch, hb_buf *b)
{
    hb_buf_puts(b, "{\"brackets\": [");
    for (int s = sch->s_max; s >= 0; s--) {
        hb_bracket br;
        hb_schedule_bracket(sch, s, &br);
        hb_buf_printf(b, "%s\n  {\"s\": %d, \"rungs\": [", s == sch->s_max ? "" : ",", s);
        for (int i = 0; i < br.n_rungs; i++) {
            hb_buf_printf(b, "%s{\"n\": %ld, \"budget\": ", i ? ", " : "", br.n[i]);
            put_budget(b, br.budget[i]);
            hb_buf_puts(b, "}");
        }
        hb_buf_puts(b, "]}");
    }
    hb_buf_puts(b, "\n]}\n");
}

static void plan_text(const hb_schedule *sch, const plan_opts *o, hb_buf *b)
{
    hb_buf_printf(b, "HyperBand brackets for budgets ");
    put_budget(b, o->r);
    hb_buf_puts(b, "..");
    put_budget(b, o->R);
    hb_buf_printf(b, ", eta %g, rule %s: s_max = %d\n", o->eta, hb_bracket_rule_name((hb_bracket_rule)o->rule),
                  sch->s_max);
    long configs = 0;
    for (int s = sch->s_max; s >= 0; s--) {
        hb_bracket br;
        hb_schedule_bracket(sch, s, &br);
        hb_buf_printf(b, "s=%d:", s);
        for (int i = 0; i < br.n_rungs; i++) {
            hb_buf_printf(b, " %ld@", br.n[i]);
            put_budget(b, br.budget[i]);
        }
        hb_buf_puts(b, "  (budget ");
        put_budget(b, hb_schedule_bracket_budget(sch, s));
        hb_buf_puts(b, ")\n");
        configs += br.n[0];
    }
    hb_buf_printf(b, "one iteration: %d brackets, %ld configurations, budget ", sch->s_max + 1, configs);
    put_budget(b, hb_schedule_iteration_budget(sch));
    hb_buf_puts(b, "\n");
}

static int cmd_plan(int argc, char **argv)
{
    hb_args a = {argc, argv, 2, "plan", NULL, 0};
    plan_opts o = {NAN, NAN, 3, HB_RULE_PAPER, 0};
    int rc = hb_cli_parse(&plan_table, &o, &a);
    if (rc != HB_CLI_PARSED) return rc;
    if (isnan(o.r)) return hb_cli_usage_error(&a, "--min-budget is required");
    if (isnan(o.R)) return hb_cli_usage_error(&a, "--max-budget is required");
    hb_schedule sch;
    hb_error err;
    if (hb_schedule_init(&sch, o.r, o.R, o.eta, (hb_bracket_rule)o.rule, &err) != HB_OK)
        return hb_cli_usage_error(&a, "%s", err.msg);
    hb_buf b = HB_BUF_INIT;
    if (o.json)
        plan_json(&sch, &b);
    else
        plan_text(&sch, &o, &b);
    if (b.data) fputs(b.data, stdout);
    hb_buf_fini(&b);
    return HB_EXIT_OK;
}

/* ---------------------------------------------------------------- kernels */

typedef struct kernels_opts {
    int json;
} kernels_opts;

static const hb_cli_opt kernels_rows[] = {
    HB_CLI_TEXT_ROW("usage: hbmpi kernels [--json]\n"
                    "\n"
                    "List the built-in kernels: parameters, budget range, known optimum.\n"
                    "\n"),
    {HB_CLI_OPT(HB_CLI_FLAG, "--json", NULL, kernels_opts, json,
                "one JSON object {\"kernels\": [...]} with each kernel's space")},
    {.kind = HB_CLI_END},
};
static const hb_cli_table kernels_table = {kernels_rows, 2, 11, NULL};

/* Kernel i's entry: its space 'sp', or (sp NULL) why it is unavailable ('why'). */
static void kernel_json(hb_buf *b, size_t i, const hb_kernel *k, const hb_space *sp, const char *why)
{
    hb_buf_puts(b, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
    hb_buf_json_string(b, k->name);
    hb_buf_puts(b, ", \"summary\": ");
    hb_buf_json_string(b, k->summary ? k->summary : "");
    if (sp == NULL) {
        hb_buf_puts(b, ", \"unavailable\": ");
        hb_buf_json_string(b, why);
        hb_buf_puts(b, "}");
        return;
    }
    hb_buf_printf(b, ", \"dim\": %zu, \"min_budget\": ", hb_space_dim(sp));
    hb_buf_json_number(b, k->min_budget);
    hb_buf_puts(b, ", \"max_budget\": ");
    hb_buf_json_number(b, k->max_budget);
    hb_buf_puts(b, ", \"optimum\": ");
    hb_buf_json_number(b, k->optimum);
    hb_buf_printf(b, ", \"deterministic\": %s, \"space\": ", k->deterministic ? "true" : "false");
    hb_space_json(sp, b);
    hb_buf_puts(b, "}");
}

static void kernel_text(hb_buf *b, const hb_kernel *k, const hb_space *sp, const char *why)
{
    if (sp == NULL) {
        hb_buf_printf(b, "%-14s %5s %11s %20s  unavailable: %s\n", k->name, "-", "-", "-", why);
        return;
    }
    char opt[40] = "unknown", bud[40];
    if (!isnan(k->optimum)) snprintf(opt, sizeof opt, "%.15g", k->optimum);
    snprintf(bud, sizeof bud, "%g..%g", k->min_budget, k->max_budget);
    hb_buf_printf(b, "%-14s %5zu %11s %20s  %s\n", k->name, hb_space_dim(sp), bud, opt, k->summary ? k->summary : "");
}

static int cmd_kernels(int argc, char **argv)
{
    hb_args a = {argc, argv, 2, "kernels", NULL, 0};
    kernels_opts o = {0};
    int rc = hb_cli_parse(&kernels_table, &o, &a);
    if (rc != HB_CLI_PARSED) return rc;
    hb_buf b = HB_BUF_INIT;
    if (o.json)
        hb_buf_puts(&b, "{\"kernels\": [");
    else
        hb_buf_printf(&b, "%-14s %5s %11s %20s  %s\n", "name", "dim", "budget", "optimum", "summary");
    rc = HB_EXIT_OK;
    for (size_t i = 0; i < hb_kernels_count() && rc == HB_EXIT_OK; i++) {
        const hb_kernel *k = hb_kernels_at(i);
        hb_space *sp = NULL;
        hb_error err;
        hb_error_clear(&err);
        /* a kernel whose data is not installed is listed as unavailable, with the reason */
        int src = k->space(NULL, &sp, &err);
        if (src != HB_OK && err.status == HB_ENOMEM) {
            hb_cli_print_error(&err);
            rc = HB_EXIT_FAILED;
        } else if (o.json) {
            kernel_json(&b, i, k, src == HB_OK ? sp : NULL, err.msg);
        } else {
            kernel_text(&b, k, src == HB_OK ? sp : NULL, err.msg);
        }
        hb_space_free(sp);
    }
    if (o.json) hb_buf_puts(&b, "\n]}\n");
    if (rc == HB_EXIT_OK && b.data) fputs(b.data, stdout);
    hb_buf_fini(&b);
    return rc;
}

/* ---------------------------------------------------------------- eval */

typedef struct eval_opts {
    const char *kname, *config;
    double budget;
    uint64_t seed;
    int exact;
} eval_opts;

#define EVAL(k, nm, mv, field, h) HB_CLI_OPT(k, nm, mv, eval_opts, field, h)
static const hb_cli_opt eval_rows[] = {
    HB_CLI_TEXT_ROW("usage: hbmpi eval --kernel NAME --budget B --config JSON [--seed S] [--exact]\n"
                    "\n"
                    "Evaluate one configuration of a built-in kernel and print the loss alone on one line\n"
                    "(%.17g). Parameters missing from the configuration take their defaults.\n"
                    "\n"),
    {EVAL(HB_CLI_STR, "--kernel", "NAME", kname,
          "a kernel from `hbmpi kernels` (NAME:ARGS for kernel options,\n"
          "e.g. counting_ones:4+4)")},
    {EVAL(HB_CLI_DOUBLE, "--budget", "B", budget,
          "budget (> 0); above the kernel's maximum it is clamped by the kernel"),
     .min = 0},
    {EVAL(HB_CLI_STR, "--config", "JSON", config,
          "the configuration as a JSON object, e.g. '{\"x0\": 0.5, \"x1\": 0.2}'")},
    {EVAL(HB_CLI_U64, "--seed", "S", seed, "seed of the stochastic kernels (default 0)")},
    {EVAL(HB_CLI_FLAG, "--exact", NULL, exact,
          "print the noise-free expected loss instead (kernels that have one,\n"
          "e.g. counting_ones); budget and seed are then unused")},
    {.kind = HB_CLI_END},
};
static const hb_cli_table eval_table = {eval_rows, 2, 18, NULL};

/* Evaluate configuration 'config' (JSON) of kernel 'k' and print the loss; the exit code. */
static int eval_print(hb_args *a, const eval_opts *o, const hb_kernel *k, const hb_space *sp)
{
    double *x = hb_malloc(hb_space_dim(sp) * sizeof(double)), loss;
    hb_error err;
    hb_error_clear(&err);
    int rc = HB_EXIT_OK, erc;
    if (x == NULL) {
        fprintf(stderr, "hbmpi eval: out of memory\n");
        rc = HB_EXIT_FAILED;
    } else if (hb_space_config_parse(sp, o->config, x, &err) != HB_OK) {
        rc = hb_cli_usage_error(a, "--config: %s", err.msg);
    } else if ((erc = o->exact ? k->exact(sp, x, &loss, &err) : k->eval(sp, x, o->budget, o->seed, &loss, &err)) !=
               HB_OK) {
        fprintf(stderr, "hbmpi eval: %s: %s\n", k->name, err.msg);
        rc = hb_cli_exit_code_as(erc, HB_CLI_EXIT_WORK);
    } else {
        printf("%.17g\n", loss);
    }
    hb_free(x);
    return rc;
}

static int cmd_eval(int argc, char **argv)
{
    hb_args a = {argc, argv, 2, "eval", NULL, 0};
    eval_opts o = {NULL, NULL, NAN, 0, 0};
    int rc = hb_cli_parse(&eval_table, &o, &a);
    if (rc != HB_CLI_PARSED) return rc;
    if (!o.kname) return hb_cli_usage_error(&a, "--kernel is required");
    if (isnan(o.budget) && !o.exact) return hb_cli_usage_error(&a, "--budget is required");
    if (!o.config) return hb_cli_usage_error(&a, "--config is required");
    const hb_kernel *k;
    hb_space *sp = NULL;
    if ((rc = find_kernel(&a, o.kname, &k, &sp)) != HB_EXIT_OK) return rc;
    if (o.exact && k->exact == NULL)
        rc = hb_cli_usage_error(&a, "--exact: kernel '%s' has no exact form (it is deterministic)", k->name);
    else
        rc = eval_print(&a, &o, k, sp);
    hb_space_free(sp);
    return rc;
}

/* ---------------------------------------------------------------- space */

typedef struct space_opts {
    const char *file;
    int json;
    long n;
    uint64_t seed;
} space_opts;

static int space_file(hb_args *a, void *opts)
{
    space_opts *o = opts;
    if (o->file) return hb_cli_usage_error(a, "one FILE only, got '%s' and '%s'", o->file, a->argv[a->i]);
    o->file = a->argv[a->i++];
    return HB_EXIT_OK;
}

#define SPACE(k, nm, mv, field, h) HB_CLI_OPT(k, nm, mv, space_opts, field, h)
static const hb_cli_opt space_rows[] = {
    HB_CLI_TEXT_ROW("usage: hbmpi space check FILE [--json]\n"
                    "       hbmpi space sample FILE [--n N] [--seed S]\n"
                    "\n"
                    "check    read a space file (hbmpi's JSON or ConfigSpace's JSON, 0.4 to 1.x) and report\n"
                    "         its parameters, or the first error as FILE:LINE:COL: error: ... (exit 2).\n"),
    {SPACE(HB_CLI_FLAG, "--json", NULL, json, "print the space in hbmpi's JSON format (docs/spaces.md)"),
     .only = "space check"},
    HB_CLI_TEXT_ROW("sample   print N random valid configurations, one JSON object a line; inactive\n"
                    "         parameters are left out.\n"),
    {SPACE(HB_CLI_LONG, "--n", "N", n, "how many configurations (default 10)"), .min = 0, .only = "space sample"},
    {SPACE(HB_CLI_U64, "--seed", "S", seed, "seed (default 0)"), .only = "space sample"},
    {.kind = HB_CLI_END},
};
static const hb_cli_table space_table = {space_rows, 9, 20, space_file};

static const char *type_word(hb_param_type t)
{
    static const char *w[] = {"float", "int", "categorical", "ordinal", "constant"};
    return w[t];
}

/* "FILE: ok: 3 parameters (2 float, 1 int), 0 conditions, 0 forbidden clauses" */
static void space_summary(const char *file, const hb_space *sp, hb_buf *b)
{
    size_t dim = hb_space_dim(sp), count[5] = {0};
    for (size_t i = 0; i < dim; i++) count[hb_space_type(sp, i)]++;
    hb_buf_printf(b, "%s: ok: %zu parameters (", file, dim);
    int first = 1;
    for (int t = 0; t < 5; t++)
        if (count[t]) {
            hb_buf_printf(b, "%s%zu %s", first ? "" : ", ", count[t], type_word((hb_param_type)t));
            first = 0;
        }
    size_t nc = hb_space_n_conditions(sp), nf = hb_space_n_forbiddens(sp);
    hb_buf_printf(b, "), %zu condition%s, %zu forbidden clause%s", nc, nc == 1 ? "" : "s", nf, nf == 1 ? "" : "s");
    size_t nm = hb_space_n_mutable(sp); /* named only where there are some (pbt, pb2) */
    if (nm) hb_buf_printf(b, ", %zu mutable", nm);
    hb_buf_puts(b, "\n");
}

/* 'n' configurations drawn with 'seed', a JSON object a line; the exit code. */
static int space_sample(const hb_space *sp, long n, uint64_t seed, hb_buf *b)
{
    size_t dim = hb_space_dim(sp);
    hb_rng rng;
    hb_rng_init(&rng, seed, 0);
    hb_error err;
    hb_error_clear(&err);
    int rc = HB_OK;
    double *x = hb_malloc((dim ? dim : 1) * sizeof(double));
    for (long k = 0; x && k < n && rc == HB_OK; k++) {
        if ((rc = hb_space_sample(sp, &rng, x, &err)) == HB_OK) {
            hb_space_config_json(sp, x, b);
            hb_buf_puts(b, "\n");
        }
    }
    hb_free(x);
    if (rc == HB_OK) return HB_EXIT_OK;
    hb_cli_print_error(&err);
    return hb_cli_exit_code_as(rc, HB_CLI_EXIT_WORK);
}

static int cmd_space(int argc, char **argv)
{
    hb_args a = {argc, argv, 2, "space", NULL, 0};
    space_opts o = {NULL, 0, 10, 0};
    if (hb_cli_wants_help(&a)) { /* before the subcommand: `hbmpi space --help` */
        hb_cli_print_help(&space_table, stdout);
        return HB_EXIT_OK;
    }
    if (argc < 3) return hb_cli_usage_error(&a, "expected 'check' or 'sample'");
    int check = !strcmp(argv[2], "check");
    if (!check && strcmp(argv[2], "sample"))
        return hb_cli_usage_error(&a, "unknown subcommand '%s' (expected 'check' or 'sample')", argv[2]);
    a.cmd = check ? "space check" : "space sample";
    a.i = 3;
    int rc = hb_cli_parse(&space_table, &o, &a);
    if (rc != HB_CLI_PARSED) return rc;
    if (!o.file) return hb_cli_usage_error(&a, "FILE is required");
    hb_space *sp = NULL;
    hb_error err;
    hb_error_clear(&err);
    if ((rc = hb_space_load(o.file, &sp, &err)) != HB_OK) {
        hb_cli_print_error(&err);
        return hb_cli_exit_code_as(rc, HB_CLI_EXIT_INPUT);
    }
    hb_buf b = HB_BUF_INIT;
    if (check && o.json) {
        hb_space_json(sp, &b);
        hb_buf_puts(&b, "\n");
    } else if (check) {
        space_summary(o.file, sp, &b);
    }
    int code = check ? HB_EXIT_OK : space_sample(sp, o.n, o.seed, &b);
    if (code == HB_EXIT_OK && b.data) fputs(b.data, stdout);
    hb_buf_fini(&b);
    hb_space_free(sp);
    return code;
}

/* ---------------------------------------------------------------- run: options */

typedef struct run_opts {
    hb_opt_settings set; /* the optimiser's settings, as given */
    const char *kname, *space_file, *eval_lib, *trial_dir, *out, *warm, *pbt_start_file;
    double min_b, max_b; /* NaN: the kernel's */
    double time_limit, eval_delay, eval_timeout, grace, worker_timeout, sim_cost, sim_noise, stop_before_end;
    long reproducible, sim_workers, ranks_per_eval;
    int bracket_rule, acquisition; /* into set once parsed */
    int json, quiet, continue_promoted;
    int eval_argc, eval_server; /* --eval-cmd or --eval-server: the program and its arguments */
    char **eval_argv;
} run_opts;

static void run_opts_init(run_opts *o)
{
    memset(o, 0, sizeof *o);
    hb_opt_settings_init(&o->set);
    o->min_b = o->max_b = NAN;
    o->grace = 5;
    o->worker_timeout = 300;
    o->sim_cost = 1;
    o->ranks_per_eval = 1;
    o->bracket_rule = (int)o->set.bracket_rule;
    o->acquisition = (int)o->set.sampler.acquisition;
}

static int opt_optimizer(hb_args *a, void *opts)
{
    run_opts *o = opts;
    o->set.optimizer = a->value;
    if (!hb_opt_known(a->value, NULL))
        return hb_cli_usage_error(a, "--optimizer: unknown optimizer '%s' (known: %s)", a->value, hb_opt_names_text());
    return HB_EXIT_OK;
}

static int opt_eval_lib(hb_args *a, void *opts)
{
    run_opts *o = opts;
    const char *colon = strrchr(a->value, ':');
    if (colon == NULL || colon[1] == '\0')
        return hb_cli_usage_error(a, "--eval-lib: expected PATH:SYMBOL, got '%s'", a->value);
    o->eval_lib = a->value;
    return HB_EXIT_OK;
}

/* --eval-cmd and --eval-server: everything after them is the program and its arguments. */
static int opt_eval_cmd(hb_args *a, void *opts)
{
    run_opts *o = opts;
    const char *name = a->argv[a->i];
    o->eval_server = !strcmp(name, "--eval-server");
    if (a->i + 1 >= a->argc) return hb_cli_usage_error(a, "%s needs a program", name);
    o->eval_argv = a->argv + a->i + 1;
    o->eval_argc = a->argc - a->i - 1;
    a->i = a->argc;
    return HB_EXIT_OK;
}

/* "budget" (1 virtual second per unit of budget) or "budget*C". */
static int opt_sim_cost(hb_args *a, void *opts)
{
    run_opts *o = opts;
    if (!strcmp(a->value, "budget")) {
        o->sim_cost = 1;
        return HB_EXIT_OK;
    }
    if (strncmp(a->value, "budget*", 7) != 0)
        return hb_cli_usage_error(a, "--sim-cost: expected 'budget' or 'budget*C', got '%s'", a->value);
    a->value += 7;
    return hb_cli_double(a, "--sim-cost", &o->sim_cost, 0.0);
}

#define RUN(k, nm, mv, field, h) HB_CLI_OPT(k, nm, mv, run_opts, field, h)
#define RUN_FN(k, nm, mv, f, h) .kind = (k), .name = (nm), .metavar = (mv), .fn = (f), .help = (h)
static const hb_cli_opt run_rows[] = {
    HB_CLI_TEXT_ROW("usage: hbmpi run --kernel NAME [OPTIONS]\n"
                    "       hbmpi run --space FILE [OPTIONS] --eval-lib PATH:SYMBOL\n"
                    "       hbmpi run --space FILE [OPTIONS] --eval-cmd PROGRAM [ARGS...]\n"
                    "       hbmpi run --space FILE [OPTIONS] --eval-server PROGRAM [ARGS...]\n"
                    "\n"
                    "Run an optimisation. Progress goes to stderr; the best configuration (or, with\n"
                    "--json, the report JSON of docs/CLI.md) to stdout. Alone it is one process; under\n"
                    "`mpirun -n N` or `srun`, rank 0 runs the optimiser and ranks 1..N-1 evaluate.\n"
                    "\n"
                    "objective:\n"),
    {RUN(HB_CLI_STR, "--kernel", "NAME", kname, "a built-in objective (see `hbmpi kernels`); NAME:ARGS for options")},
    {RUN(HB_CLI_STR, "--space", "FILE", space_file,
         "the search space (hbmpi or ConfigSpace JSON) of a user objective")},
    {RUN_FN(HB_CLI_CALL, "--eval-lib", "PATH:SYMBOL", opt_eval_lib,
            "a C function from a shared library built with include/hbmpi.h")},
    {RUN_FN(HB_CLI_REST, "--eval-cmd", "PROGRAM ...", opt_eval_cmd,
            "a program, run once per trial (always the last option): it gets\n"
            "--NAME=VALUE per parameter and --budget=B, and HB_CONFIG,\n"
            "HB_BUDGET, HB_TRIAL_ID, HB_SEED, HB_TRIAL_DIR, HB_CONFIG_ID,\n"
            "HB_CONFIG_SEED, and for a promoted trial HB_PREVIOUS_BUDGET and\n"
            "HB_PREVIOUS_TRIAL_DIR (where its previous rung left its\n"
            "checkpoint); its loss is the last line of stdout (a number or\n"
            "JSON with \"loss\" and, if it continued, \"spent\")")},
    {RUN_FN(HB_CLI_REST, "--eval-server", "PROGRAM ...", opt_eval_cmd,
            "a program started once per worker that serves trials one at\n"
            "a time (always the last option): a JSON line per job on its\n"
            "descriptor 3, a JSON line with \"loss\" back on descriptor 4;\n"
            "its stdout and stderr go to the trial's logs; if it fails, the\n"
            "trial does and a fresh one serves the next (docs/runtime.md;\n"
            "python/hbmpi.py serves a Python function)")},
    {RUN(HB_CLI_DOUBLE, "--eval-timeout", "S", eval_timeout,
         "stop a program after S seconds (SIGTERM, then SIGKILL); with\n"
         "--eval-server, S seconds per trial"),
     .min = 0},
    {RUN(HB_CLI_DOUBLE, "--eval-grace", "S", grace, "seconds between that SIGTERM and SIGKILL (default 5)"), .min = 0},
    {RUN(HB_CLI_STR, "--trial-dir", "DIR", trial_dir,
         "where each trial gets its own directory (--eval-cmd, and with\n"
         "--continue-promoted) (default ./hbmpi-trials)")},
    {RUN(HB_CLI_FLAG, "--continue-promoted", NULL, continue_promoted,
         "a promoted trial continues training from the state its\n"
         "configuration's previous rung left in its trial directory\n"
         "(training kernels: fmnist_mlp, fmnist_mlp32, cartpole,\n"
         "pbt_toy; --eval-lib trials get trial_dir and\n"
         "previous_trial_dir); the same losses, less budget; pbt and\n"
         "pb2 always continue")},
    {RUN(HB_CLI_DOUBLE, "--eval-delay", "S", eval_delay,
         "built-in kernels: also sleep S * budget / max budget seconds"),
     .min = 0, .flags = HB_CLI_MIN_INCL},
    HB_CLI_TEXT_ROW("\n"
                    "runtime:\n"),
    {RUN(HB_CLI_LONG, "--reproducible", "W", reproducible,
         "behave as if W workers ran the jobs and reported in issue\n"
         "order: the same trials alone and under any mpirun -n"),
     .min = 1, .max = 1000000, .flags = HB_CLI_MAX},
    {RUN(HB_CLI_LONG, "--ranks-per-eval", "K", ranks_per_eval, "under MPI, K ranks evaluate each job together"),
     .min = 1, .max = 1000000, .flags = HB_CLI_MAX},
    {RUN(HB_CLI_DOUBLE, "--worker-timeout", "S", worker_timeout,
         "under MPI, a worker rank not heard from for S seconds while it\n"
         "evaluates (it sends a heartbeat every S/6 s) is lost: its host\n"
         "died, its link was cut or it was killed; the run is saved and\n"
         "ends with exit 4, to be resumed (default 300; 0: wait for ever)"),
     .min = 0, .flags = HB_CLI_MIN_INCL},
    {RUN(HB_CLI_LONG, "--simulate-workers", "N", sim_workers, "simulate N workers in virtual time (no real waiting)"),
     .min = 1, .max = 10000000, .flags = HB_CLI_MAX},
    {RUN_FN(HB_CLI_CALL, "--sim-cost", "budget[*C]", opt_sim_cost,
            "simulated cost: C virtual seconds per unit of budget (C = 1)")},
    {RUN(HB_CLI_DOUBLE, "--sim-noise", "S", sim_noise, "multiply each simulated cost by exp(S * z), z standard normal"),
     .min = 0, .flags = HB_CLI_MIN_INCL},
    HB_CLI_TEXT_ROW("\n"
                    "run file (docs/runfile.md):\n"),
    {RUN(HB_CLI_STR, "--out", "RUN.h5", out,
         "record every job and result in RUN.h5 (HDF5) as the run goes;\n"
         "if RUN.h5 exists, resume it (same settings required: a\n"
         "difference exits 2 and names it); a kill -9 loses nothing\n"
         "that was recorded. SIGTERM, SIGINT or SIGUSR1 stop the run:\n"
         "running jobs are recorded as interrupted, exit 3")},
    {RUN(HB_CLI_STR, "--warm-start", "OLD.h5", warm, "feed OLD.h5's results (same space) to the model first")},
    {RUN(HB_CLI_DOUBLE, "--stop-before-end", "S", stop_before_end,
         "in a Slurm job: start no job in the last S seconds of the\n"
         "allocation; once the running ones finish, save and exit 3"),
     .min = 0},
    HB_CLI_TEXT_ROW("\n"
                    "optimiser:\n"),
    {RUN_FN(HB_CLI_CALL, "--optimizer", "NAME", opt_optimizer,
            "random (default), grid, tpe, gp: every configuration at the\n"
            "max budget; sh, hyperband, bohb: successive-halving brackets\n"
            "(bohb proposes from its KDE model); asha: asynchronous\n"
            "successive halving; pbt, pb2: population-based training of\n"
            "the space's mutable parameters (docs/optimizers.md)")},
    {RUN(HB_CLI_DOUBLE, "--min-budget", "r", min_b, "smallest budget (default: the kernel's)"), .min = 0},
    {RUN(HB_CLI_DOUBLE, "--max-budget", "R", max_b, "largest budget (default: the kernel's)"), .min = 0},
    {RUN(HB_CLI_DOUBLE, "--eta", "ETA", set.eta, "reduction factor of the bracket optimisers (default 3)"), .min = 1},
    {RUN(HB_CLI_ENUM, "--bracket-rule", "RULE", bracket_rule,
         "paper (default) or hpbandster: first-rung sizes (`hbmpi plan`)"),
     .words = rule_words},
    {RUN(HB_CLI_INT, "--max-open-brackets", "N", set.max_open_brackets,
         "brackets running at once (default: one iteration's worth)"),
     .min = 1, .max = 100000, .flags = HB_CLI_MAX | HB_CLI_CLAMP},
    {RUN(HB_CLI_INT, "--pbt-population", "P", set.pbt_population, "pbt, pb2: members (default 8 for pbt, 4 for pb2)"),
     .min = 2, .max = 100000, .flags = HB_CLI_MAX},
    {RUN(HB_CLI_DOUBLE, "--pbt-interval", "B", set.pbt_interval,
         "pbt, pb2: budget of one step of a member (default: min budget)"),
     .min = 0},
    {RUN(HB_CLI_DOUBLE, "--pbt-quantile", "Q", set.pbt_quantile,
         "pbt, pb2: the worst Q of the members copy one of the best Q\n"
         "(default 0.25)"),
     .min = 0, .max = 0.5, .flags = HB_CLI_MAX},
    {RUN(HB_CLI_DOUBLE, "--pbt-resample", "P", set.pbt_resample,
         "pbt: chance of drawing a value afresh instead of scaling it\n"
         "by 0.8 or 1.2 (default 0.25)"),
     .min = 0, .max = 1, .flags = HB_CLI_MIN_INCL | HB_CLI_MAX},
    {RUN(HB_CLI_STR, "--pbt-start", "FILE", pbt_start_file,
         "pbt, pb2: member i starts from the configuration on line i of\n"
         "FILE (one JSON object a line, used in turn; default: drawn)")},
    {RUN(HB_CLI_U64, "--seed", "S", set.seed, "seed (default 0); same seed, same trials")},
    HB_CLI_TEXT_ROW("\n"
                    "stop rules (the first one reached ends the run; with none, sh, hyperband and bohb run\n"
                    "one HyperBand iteration, asha that iteration's budget, the others 100 evaluations):\n"),
    {RUN(HB_CLI_LONG, "--max-evals", "N", set.max_evals, "evaluations"), .min = 1},
    {RUN(HB_CLI_LONG, "--iterations", "N", set.iterations, "HyperBand iterations (sh: brackets; asha: their budget)"),
     .min = 1},
    {RUN(HB_CLI_DOUBLE, "--max-total-budget", "X", set.max_total_budget, "sum of the budgets of the evaluations"),
     .min = 0},
    {RUN(HB_CLI_DOUBLE, "--time-limit", "SECONDS", time_limit, "wall time after which no evaluation starts"), .min = 0},
    HB_CLI_TEXT_ROW("\n"
                    "sampler settings (defaults: HpBandSter's BOHB):\n"),
    {RUN(HB_CLI_DOUBLE, "--random-fraction", "F", set.sampler.random_fraction,
         "share of random proposals, bohb and tpe (default 1/3)"),
     .min = 0, .max = 1, .flags = HB_CLI_MIN_INCL | HB_CLI_MAX},
    {RUN(HB_CLI_DOUBLE, "--top-n-percent", "P", set.sampler.top_n_percent,
         "best P percent form the good model, bohb and tpe (15)"),
     .min = 0, .max = 100, .flags = HB_CLI_MAX_EXCL},
    {RUN(HB_CLI_INT, "--num-samples", "N", set.sampler.num_samples, "candidates per proposal, bohb and tpe (64)"),
     .min = 1, .max = 1000000, .flags = HB_CLI_MAX | HB_CLI_CLAMP},
    {RUN(HB_CLI_DOUBLE, "--bandwidth-factor", "F", set.sampler.bandwidth_factor,
         "candidates drawn with bandwidths times F (3)"),
     .min = 0},
    {RUN(HB_CLI_DOUBLE, "--min-bandwidth", "B", set.sampler.min_bandwidth, "floor of every KDE bandwidth (0.001)"),
     .min = 0},
    {RUN(HB_CLI_INT, "--min-points-in-model", "N", set.sampler.min_points_in_model,
         "results before a model is used (default: dimensions + 1)"),
     .min = 1, .max = 1000000, .flags = HB_CLI_MAX | HB_CLI_CLAMP},
    {RUN(HB_CLI_ENUM, "--acquisition", "ei|pi", acquisition, "gp's acquisition function (default ei)"),
     .words = acquisition_words},
    {RUN(HB_CLI_INT, "--grid-points", "K", set.sampler.grid_points, "grid values per numeric parameter (default 5)"),
     .min = 2, .max = 1000000, .flags = HB_CLI_MAX | HB_CLI_CLAMP},
    HB_CLI_TEXT_ROW("\n"),
    {RUN(HB_CLI_FLAG, "--json", NULL, json, "print the report JSON on stdout when the run ends")},
    {RUN(HB_CLI_FLAG, "--quiet", NULL, quiet, "no progress on stderr")},
    {.kind = HB_CLI_END},
};
static const hb_cli_table run_table = {run_rows, 2, 26, NULL};

/* ---------------------------------------------------------------- run */

/* --pbt-start FILE: one configuration (a JSON object) per line, blank lines skipped, into
 * '*xs' (n x dim, hb_malloc'd). A bad line: FILE:LINE: what is wrong, and HB_EINVAL. */
static int read_start_configs(const char *file, const hb_space *sp, double **xs, size_t *n, hb_error *err)
{
    *xs = NULL;
    *n = 0;
    FILE *f = fopen(file, "r");
    if (f == NULL) return hb_error_set(err, HB_EINVAL, NULL, "--pbt-start: cannot read %s: %s", file, strerror(errno));
    size_t dim = hb_space_dim(sp), cap = 0, lineno = 0;
    char *line = NULL;
    size_t len = 0;
    ssize_t got;
    int rc = HB_OK;
    while (rc == HB_OK && (got = getline(&line, &len, f)) >= 0) {
        lineno++;
        size_t k = 0;
        while (k < (size_t)got && (line[k] == ' ' || line[k] == '\t' || line[k] == '\n' || line[k] == '\r')) k++;
        if (k == (size_t)got) continue;
        if (*n == 100000) {
            rc = hb_error_set(err, HB_EINVAL, NULL, "%s:%zu: more than 100000 configurations", file, lineno);
            break;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            double *q = hb_realloc(*xs, cap * (dim ? dim : 1) * sizeof(double));
            if (q == NULL) {
                rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
                break;
            }
            *xs = q;
        }
        hb_error e;
        hb_error_clear(&e);
        if (memchr(line, '\0', (size_t)got) != NULL)
            rc = hb_error_set(err, HB_EINVAL, NULL, "%s:%zu: a NUL byte", file, lineno);
        else if (hb_space_config_parse(sp, line, *xs + *n * dim, &e) != HB_OK)
            rc = hb_error_set(err, HB_EINVAL, NULL, "%s:%zu: %s", file, lineno, e.msg);
        else
            (*n)++;
    }
    if (rc == HB_OK && ferror(f)) rc = hb_error_set(err, HB_EINVAL, NULL, "--pbt-start: cannot read %s", file);
    if (rc == HB_OK && *n == 0) rc = hb_error_set(err, HB_EINVAL, NULL, "%s: no configuration in it", file);
    free(line);
    fclose(f);
    if (rc != HB_OK) {
        hb_free(*xs);
        *xs = NULL;
        *n = 0;
    }
    return rc;
}

static void print_best(const hb_kernel *k, const hb_space *sp, const hb_run_result *res)
{
    long bi = hb_report_best(res->trials, res->n);
    if (bi < 0) {
        printf("no successful evaluation in %zu trials\n", res->n);
        return;
    }
    const hb_trial *t = &res->trials[bi];
    hb_buf b = HB_BUF_INIT;
    printf("best loss %.10g (trial %llu of %zu, budget %g)\n", t->loss, (unsigned long long)t->id,
           res->n, t->budget);
    printf("%zu trials in %.6g s of run time on %d worker%s\n", res->n, res->wall_seconds, res->workers,
           res->workers == 1 ? "" : "s");
    double exact = t->loss; /* a noisy kernel's regret uses its noise-free loss */
    if (k == NULL) exact = NAN;
    else if (k->exact && k->exact(sp, t->x, &exact, NULL) != HB_OK) exact = NAN;
    if (k && !isnan(k->optimum) && !isnan(exact) && t->budget >= k->max_budget)
        printf("regret %.6g against the known optimum %.15g%s\n", hb_kernel_regret(k, exact),
               k->optimum, k->exact ? " (noise-free loss)" : "");
    for (size_t i = 0; i < hb_space_dim(sp); i++) {
        if (isnan(t->x[i])) continue;
        hb_buf_reset(&b);
        hb_space_value_json(sp, i, t->x[i], &b);
        printf("  %-20s %s\n", hb_space_name(sp, i), b.data);
    }
    hb_buf_fini(&b);
}

/* A finished run file and nothing raised: print its summary (or report JSON), exit 0. */
static int print_finished(const char *path, const hb_kernel *k, int json)
{
    hb_run_view v;
    hb_error err;
    hb_error_clear(&err);
    int rc = hb_run_view_load(path, &v, 0, &err);
    if (rc != HB_OK) {
        hb_cli_print_error(&err);
        return hb_cli_exit_code_as(rc, HB_CLI_EXIT_WORK);
    }
    int code = HB_EXIT_OK;
    if (json) {
        if (hb_run_view_print_json(&v, stdout) != HB_OK) code = HB_EXIT_FAILED;
    } else {
        fprintf(stderr, "hbmpi run: %s holds a finished run (%zu trials); raise --max-evals, --iterations or "
                        "--max-total-budget to continue it\n", path, v.n);
        hb_run_result r = {v.trials, v.n, NULL, v.wall_seconds, v.workers, v.settings, 0, 0};
        print_best(k, v.space, &r);
    }
    hb_run_view_fini(&v);
    return code;
}

/* One `hbmpi run`: its options, what they make, and what it holds, freed in one place (the end
 * of cmd_run). */
typedef struct run_ctx {
    hb_args a;
    run_opts o;
    int rank;
    MPI_Comm comm;          /* MPI_COMM_NULL when started alone */
    const hb_kernel *k;     /* --kernel, or NULL */
    hb_space *sp;           /* owned: the kernel's space or the --space file's */
    double *start_xs;       /* owned: --pbt-start's configurations */
    hb_run_spec spec;
    hb_runfile rf;          /* rank 0 */
    hb_run_result res;      /* owned; rank 0 */
    hb_session_span *spans; /* owned; rank 0: the run file's sessions, each with its workers */
    size_t n_spans;
    hb_error err;
    int end_job;            /* rank 0: end the whole MPI job (MPI_Abort) with the exit code */
} run_ctx;

/* Options that do not go together; HB_EXIT_OK or the exit code. */
static int run_check(run_ctx *c)
{
    run_opts *o = &c->o;
    hb_args *a = &c->a;
    int user_eval = o->eval_lib != NULL || o->eval_argc > 0, brackets = 0;
    if (o->eval_lib && o->eval_argc > 0)
        return hb_cli_usage_error(a, "give --eval-lib or %s, not both",
                                  o->eval_server ? "--eval-server" : "--eval-cmd");
    if (!o->kname && !o->space_file)
        return hb_cli_usage_error(a, "--kernel or --space (with --eval-cmd or --eval-lib) is required");
    if (o->kname && o->space_file) return hb_cli_usage_error(a, "--space replaces a kernel's space: give one of them");
    if (o->space_file && !user_eval)
        return hb_cli_usage_error(a, "--space needs an objective: --eval-cmd PROGRAM... or --eval-lib PATH:SYMBOL");
    if (o->eval_delay > 0 && user_eval) return hb_cli_usage_error(a, "--eval-delay applies to built-in kernels only");
    hb_opt_known(o->set.optimizer, &brackets);
    if (o->set.iterations > 0 && !brackets)
        return hb_cli_usage_error(a, "--iterations applies to sh, hyperband, bohb and asha, not %s", o->set.optimizer);
    o->set.bracket_rule = (hb_bracket_rule)o->bracket_rule;
    o->set.sampler.acquisition = (hb_acquisition)o->acquisition;
    return HB_EXIT_OK;
}

/* The objective: the kernel and its space, or the --space file; whether promoted trials continue. */
static int run_objective(run_ctx *c)
{
    run_opts *o = &c->o;
    int rc, user_eval = o->eval_lib != NULL || o->eval_argc > 0;
    if (o->kname && (rc = find_kernel(&c->a, o->kname, &c->k, &c->sp)) != HB_EXIT_OK) return rc;
    /* pbt and pb2 are made of continued steps: a kernel that trains, or a library, keeps its
     * state between them without being asked (commands always get their previous directory) */
    if (hb_opt_population(o->set.optimizer))
        o->continue_promoted = o->continue_promoted || (c->k ? c->k->train != NULL : user_eval);
    if (o->continue_promoted && c->k && !user_eval && c->k->train == NULL)
        return hb_cli_usage_error(&c->a, "--continue-promoted: kernel '%s' does not train (fmnist_mlp, fmnist_mlp32, "
                                         "cartpole and pbt_toy do)", c->k->name);
    if (o->space_file == NULL) return HB_EXIT_OK;
    hb_error_clear(&c->err);
    if ((rc = hb_space_load(o->space_file, &c->sp, &c->err)) == HB_OK) return HB_EXIT_OK;
    hb_signals_obey_early(); /* a stop while parsing comes first */
    if (c->rank == 0) hb_cli_print_error(&c->err);
    return hb_cli_exit_code_as(rc, HB_CLI_EXIT_INPUT);
}

/* The run spec from the options; HB_EXIT_OK or the exit code. */
static int run_spec(run_ctx *c)
{
    const run_opts *o = &c->o;
    hb_run_spec *s = &c->spec;
    memset(s, 0, sizeof *s);
    s->kernel = c->k;
    s->kernel_label = o->kname;
    s->space = c->sp;
    s->quiet = o->quiet;
    s->time_limit = o->time_limit;
    s->settings = o->set;
    s->settings.min_budget = !isnan(o->min_b) ? o->min_b : c->k ? c->k->min_budget : 1;
    s->settings.max_budget = !isnan(o->max_b) ? o->max_b : c->k ? c->k->max_budget : s->settings.min_budget;
    s->eval_delay = o->eval_delay;
    s->continue_promoted = o->continue_promoted;
    s->eval_lib = o->eval_lib;
    s->eval_argc = o->eval_argc;
    s->eval_argv = o->eval_argv;
    s->eval_server = o->eval_server;
    s->cmd.timeout = o->eval_timeout;
    s->cmd.grace = o->grace;
    s->cmd.trial_root = o->trial_dir;
    s->reproducible = (int)o->reproducible;
    s->simulate_workers = (int)o->sim_workers;
    s->sim_cost = o->sim_cost;
    s->sim_noise = o->sim_noise;
    s->ranks_per_eval = (int)o->ranks_per_eval;
    s->worker_timeout = o->worker_timeout;
    if (s->settings.max_budget < s->settings.min_budget)
        return hb_cli_usage_error(&c->a, "--max-budget %g is below --min-budget %g", s->settings.max_budget,
                                  s->settings.min_budget);
    return HB_EXIT_OK;
}

/* The optimiser's settings (and --pbt-start's configurations) are checked before anything is
 * written: a run file made for a run refused would be left behind. */
static int run_probe(run_ctx *c)
{
    hb_opt_settings *set = &c->spec.settings;
    hb_error_clear(&c->err);
    int rc = HB_OK;
    if (c->o.pbt_start_file) {
        rc = read_start_configs(c->o.pbt_start_file, c->sp, &c->start_xs, &set->pbt_start_n, &c->err);
        set->pbt_start = c->start_xs;
        set->pbt_start_dim = hb_space_dim(c->sp);
    }
    if (rc == HB_OK) {
        hb_opt *probe = NULL;
        rc = hb_opt_create(c->sp, set, &probe, &c->err);
        hb_opt_free(probe);
    }
    if (rc != HB_OK && c->rank == 0) hb_cli_print_error(&c->err);
    return hb_cli_exit_code(rc);
}

enum { RUN_GO = -1 };

/* The run file (rank 0): create it, or take it up again; every rank learns the verdict. RUN_GO, or
 * the exit code (a run file that holds a finished run: its summary, exit 0). */
static int run_verdict(run_ctx *c)
{
    const run_opts *o = &c->o;
    int verdict = RUN_GO;
    if (c->rank == 0) {
        hb_runfile_spec rs = {o->out, o->warm, o->kname, o->eval_argc, o->eval_argv, o->eval_lib,
                              c->sp, &c->spec.settings, c->spec.reproducible, o->eval_server};
        hb_error_clear(&c->err);
        int rc = hb_runfile_begin(&rs, &c->rf, &c->err);
        if (rc != HB_OK) hb_cli_print_error(&c->err);
        verdict = rc != HB_OK ? hb_cli_exit_code(rc) : c->rf.finished ? HB_EXIT_OK : RUN_GO;
    }
    if (c->comm != MPI_COMM_NULL) {
        MPI_Request req;
        MPI_Ibcast(&verdict, 1, MPI_INT, 0, c->comm, &req);
        hb_mpi_wait(&req, NULL);
    }
    if (verdict == RUN_GO) return RUN_GO;
    if (c->rank == 0) hb_runfile_end(&c->rf, NULL); /* the file stays as it was */
    if (c->rank == 0 && verdict == HB_EXIT_OK) verdict = print_finished(o->out, c->k, o->json);
    return verdict;
}

/* Rank 0: the log taken up again, and --stop-before-end's deadline from the end of the Slurm
 * allocation (stop starting jobs that much earlier). */
static void run_session(run_ctx *c)
{
    const run_opts *o = &c->o;
    if (c->rank != 0) return;
    if (c->rf.have_log) {
        hb_runfile_attach(&c->rf, &c->spec);
        if (c->rf.resumed && !o->quiet)
            fprintf(stderr, "hbmpi run: resuming %s (%zu events, session %d)\n", o->out, c->rf.log.n,
                    c->rf.session + 1);
    }
    if (o->stop_before_end <= 0) return;
    double end = hb_slurm_job_end(), left = end - (double)time(NULL);
    if (end < 0)
        fprintf(stderr, "hbmpi run: --stop-before-end: not in a Slurm job with a time limit (or Slurm cannot "
                        "tell its end); ignored\n");
    else if (left <= o->stop_before_end)
        fprintf(stderr, "hbmpi run: --stop-before-end: the allocation ends in %.0f s, less than %g s; ignored "
                        "in this session\n", left, o->stop_before_end);
    else
        c->spec.deadline = left - o->stop_before_end;
}

/* Rank 0, the run stopped by a signal or by the allocation's end. */
static void run_stopped(run_ctx *c)
{
    const char *out = c->o.out;
    char name[32];
    if (c->res.stop_signal) /* else the allocation's end came near */
        hb_signal_name(c->res.stop_signal, name, sizeof name);
    else
        snprintf(name, sizeof name, "--stop-before-end");
    fprintf(stderr, "hbmpi run: stopped by %s%s%s%s\n", name,
            out ? "; the run is saved in " : " (no --out: nothing is saved)", out ? out : "",
            out ? "; run the same command to resume it" : "");
    if (c->res.stuck > 0) {
        fprintf(stderr, "hbmpi run: %d evaluations did not stop; ending the MPI job\n", c->res.stuck);
        c->end_job = 1;
    }
}

/* Rank 0, the run done: the best configuration, or the report JSON; the exit code. */
static int run_print(run_ctx *c)
{
    if (!c->o.json) {
        print_best(c->k, c->sp, &c->res);
        return HB_EXIT_OK;
    }
    hb_buf b = HB_BUF_INIT;
    hb_report_info info = {c->o.kname, &c->res.settings, NULL, c->res.wall_seconds, c->res.workers, NULL,
                           c->spans, c->n_spans};
    hb_report_json(c->sp, &info, c->res.trials, c->res.n, &b);
    int code = HB_EXIT_OK;
    if (b.failed) {
        fprintf(stderr, "hbmpi run: out of memory writing the report\n");
        code = HB_EXIT_FAILED;
    } else {
        fputs(b.data, stdout);
    }
    hb_buf_fini(&b);
    return code;
}

/* Run, close the run file, and say how it ended; the exit code (the same on every rank). */
static int run_execute(run_ctx *c)
{
    int rc = hb_runtime_run(&c->spec, c->comm, &c->res, &c->err);
    /* a resumed run's sessions, for the report's utilisation (none without --out) */
    if (c->rank == 0 && c->rf.have_log && hb_report_sessions(&c->rf.log, &c->spans, &c->n_spans) != HB_OK)
        c->n_spans = 0;
    if (c->rank == 0) {
        hb_error ferr;
        hb_error_clear(&ferr);
        if (hb_runfile_end(&c->rf, &ferr) != HB_OK && rc == HB_OK) {
            rc = ferr.status;
            c->err = ferr;
        } else if (ferr.status != HB_OK) {
            hb_cli_print_error(&ferr);
        }
    }
    int code = hb_cli_exit_code(rc);
    if (c->rank != 0) return code;
    if (rc == HB_EINTR) {
        run_stopped(c);
    } else if (rc == HB_ELOST) {
        /* The lost rank cannot take part in MPI_Finalize: end the whole job, with exit 4, so
         * that the batch script requeues it (docs/slurm.md). */
        hb_cli_print_error(&c->err);
        fprintf(stderr, "hbmpi run: %s; ending the MPI job\n",
                c->o.out ? "the run is saved: run the same command (on the hosts that are left) to resume it"
                         : "no --out: nothing is saved");
        c->end_job = 1;
    } else if (rc != HB_OK) {
        hb_cli_print_error(&c->err);
    } else {
        code = run_print(c);
    }
    return code;
}

/* parse -> check -> objective -> spec -> probe -> run file -> run -> report; one cleanup. */
static int cmd_run(int argc, char **argv, int rank, MPI_Comm comm)
{
    run_ctx c;
    memset(&c, 0, sizeof c);
    c.a = (hb_args){argc, argv, 2, "run", NULL, rank != 0};
    c.rank = rank;
    c.comm = comm;
    run_opts_init(&c.o);
    int code = hb_cli_parse(&run_table, &c.o, &c.a);
    if (code != HB_CLI_PARSED) goto done;
    if ((code = run_check(&c)) != HB_EXIT_OK || (code = run_objective(&c)) != HB_EXIT_OK ||
        (code = run_spec(&c)) != HB_EXIT_OK || (code = run_probe(&c)) != HB_EXIT_OK)
        goto done;
    hb_signals_obey_early(); /* nothing is written yet: a stop that came while parsing ends hbmpi by its signal */
    if ((code = run_verdict(&c)) != RUN_GO) goto done;
    run_session(&c);
    code = run_execute(&c);
done:
    hb_run_result_fini(&c.res);
    hb_space_free(c.sp);
    hb_free(c.start_xs);
    hb_free(c.spans);
    if (c.end_job) { /* a lost rank cannot take part in MPI_Finalize; evaluations that did not stop */
        fflush(NULL);
        if (comm != MPI_COMM_NULL) MPI_Abort(comm, code);
    }
    return code;
}

/* ---------------------------------------------------------------- main */

/* 1 if an MPI launcher (mpirun, srun with PMIx or PMI) started this process. */
static int launched_by_mpi(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
                                       "MPI_LOCALNRANKS", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static void print_version(void)
{
    char mpiv[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(mpiv, &len);
    char *nl = strchr(mpiv, ',');
    if (nl) *nl = '\0';
    printf("hbmpi %s\n  MPI: %s\n", HB_VERSION_STRING, mpiv);
    char h5[64];
    hb_store_h5_version(h5, sizeof h5);
    printf("  HDF5: %s\n", h5);
    printf("  jansson: %s\n", jansson_version_str());
}

/* run and sweep: the MPI commands. Started alone (no launcher in the environment) it does not
 * initialise MPI at all: a singleton MPI_Init costs a third of a second and can fail. */
static int mpi_command(int argc, char **argv)
{
    int rank = 0, mpi = launched_by_mpi(), sweep = !strcmp(argv[1], "sweep");
    if (mpi && MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "hbmpi: MPI_Init failed\n");
        return HB_EXIT_FAILED;
    }
    if (mpi) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    hb_signals_install();
    MPI_Comm world = mpi ? MPI_COMM_WORLD : MPI_COMM_NULL;
    int code = sweep ? hb_cmd_sweep(argc, argv, rank, world) : cmd_run(argc, argv, rank, world);
    if (mpi) MPI_Finalize();
    return code;
}

/* The commands that run in one process; each handles its own --help. */
static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {{"kernels", cmd_kernels}, {"eval", cmd_eval},       {"space", cmd_space},
                {"plan", cmd_plan},       {"report", hb_cmd_report}, {"repair", hb_cmd_repair}};

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_help, stderr);
        return HB_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(main_help, stdout);
        return HB_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        print_version();
        return HB_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].fn(argc, argv);
    if (!strcmp(cmd, "sweep") && argc > 2 && !strcmp(argv[2], "report")) return hb_cmd_sweep_report(argc, argv);
    if (!strcmp(cmd, "run") || !strcmp(cmd, "sweep")) return mpi_command(argc, argv);
    fprintf(stderr, "hbmpi: unknown command '%s' (see 'hbmpi --help')\n", cmd);
    return HB_EXIT_USAGE;
}

/* OpenBLAS (behind LAPACK) starts worker threads that spin after each call; the GP's matrices
 * are small, and the master must not burn cores its workers need (DESIGN.md contract 6). Found at
 * run time, so any other LAPACK works too. */
static void single_threaded_blas(void)
{
    void *self = dlopen(NULL, RTLD_NOW);
    if (self == NULL) return;
    void (*set_threads)(int);
    *(void **)&set_threads = dlsym(self, "openblas_set_num_threads");
    if (set_threads) set_threads(1);
    dlclose(self);
}

/* With HB_CHECK_LEAKS set (the sanitizer test suite sets it), every block hbmpi allocated must
 * be freed by exit; this covers the MPI paths, where LeakSanitizer cannot tell Open MPI's
 * never-freed memory from ours. */
int main(int argc, char **argv)
{
    json_set_alloc_funcs(hb_malloc_counted, hb_free); /* jansson's memory is counted and freed like ours */
    single_threaded_blas();
    int code = dispatch(argc, argv);
    if (getenv("HB_CHECK_LEAKS") && hb_alloc_live() != 0) {
        fprintf(stderr, "hbmpi: %ld heap blocks not freed at exit\n", hb_alloc_live());
        if (code == HB_EXIT_OK) code = HB_EXIT_FAILED;
    }
    return code;
}
