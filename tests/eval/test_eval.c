/* test_eval.c — tests of the evaluators (mpi/eval/) with real processes and real shared
 * libraries, no mocks and no MPI_Init: `hb_eval_tests --badobj P --libobj P --libobj-noabi P
 * --libobj-badabi P CASE` runs one case (CTest runs each as its own process) inside a fresh
 * temporary directory, and after every command trial checks that no zombie or member of the
 * trial's process group is left. Exit status 0 when every check passed. */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eval_impl.h"
#include "hb_kernels.h"
#include "hbmpi.h"
#include "../hb_check.h"

static const char *badobj, *libobj, *libobj_noabi, *libobj_badabi;


#define CHECK_STREQ(a, b)                                                                          \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (strcmp(a_, b_) != 0) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s == %s\n  got:      '%s'\n  expected: '%s'\n", \
                    __FILE__, __LINE__, #a, #b, a_, b_);                                           \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_PREFIX(s, p)                                                                         \
    do {                                                                                           \
        const char *s_ = (s), *p_ = (p);                                                           \
        if (strncmp(s_, p_, strlen(p_)) != 0) {                                                    \
            fprintf(stderr, "%s:%d: check failed: '%s' starts with '%s'\n", __FILE__, __LINE__,    \
                    s_, p_);                                                                       \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_HAS(s, p)                                                                            \
    do {                                                                                           \
        const char *s_ = (s), *p_ = (p);                                                           \
        if (strstr(s_, p_) == NULL) {                                                              \
            fprintf(stderr, "%s:%d: check failed: '%s' contains '%s'\n", __FILE__, __LINE__, s_,   \
                    p_);                                                                           \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static double now(void) { return hb_now(); }

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru); /* this thread: not the sanitizers' */
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

/* Read a whole file into a NUL-terminated heap string (*len bytes); NULL if missing. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    for (size_t k; s && (k = fread(s + n, 1, cap - n - 1, f)) > 0;) {
        n += k;
        if (cap - n < 2) s = realloc(s, cap *= 2);
    }
    fclose(f);
    if (s) s[n] = '\0';
    if (len) *len = n;
    return s;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n - 1; /* the directory's own */
}

/* ---- processes left behind ---- */

typedef struct proc_info {
    char state;
    long ppid, pgrp;
} proc_info;

static int read_proc(long pid, proc_info *pi)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && sscanf(p + 1, " %c %ld %ld", &pi->state, &pi->ppid, &pi->pgrp) == 3;
}

/* Processes that are our children (a zombie is a failure to reap) or live members of process
 * group 'pgrp' (orphans); their number, after waiting up to 3 s for killed ones to die. */
static int leftovers(long pgrp)
{
    int bad = 0;
    for (int round = 0; round < 300; round++) {
        bad = 0;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            char *end;
            long pid = strtol(e->d_name, &end, 10);
            proc_info pi;
            if (*end || pid <= 0 || !read_proc(pid, &pi)) continue;
            if (pi.ppid == (long)getpid() || (pgrp > 0 && pi.pgrp == pgrp && pi.state != 'Z' &&
                                              pi.state != 'X')) {
                if (round == 299)
                    fprintf(stderr, "left over: pid %ld state %c ppid %ld pgrp %ld\n", pid,
                            pi.state, pi.ppid, pi.pgrp);
                bad++;
            }
        }
        if (d) closedir(d);
        if (bad == 0) break;
        struct timespec t = {0, 10000000L};
        nanosleep(&t, NULL);
    }
    return bad;
}

/* ---- the command test space ---- */

static const char *const modes[] = {"ok",       "crash", "segv",        "hang",
                                    "hang_ignoring_sigterm", "garbage", "empty", "long",
                                    "nan",      "nonzero", "json",      "json_noloss",
                                    "json_big", "orphan", "env",         "argv-echo",
                                    "affinity"};
#define N_MODES (sizeof modes / sizeof modes[0])
#define INJECTION "$(touch pwned); echo x"
static const char *const opts[] = {"plain", INJECTION, "a b 'c' \"d\" \\e\t`id`|;&>x"};

static hb_space *cmd_space(void)
{
    hb_space *sp = NULL;
    hb_value mv[N_MODES], ov[3];
    for (size_t i = 0; i < N_MODES; i++) mv[i] = (hb_value){1, 0, modes[i]};
    for (size_t i = 0; i < 3; i++) ov[i] = (hb_value){1, 0, opts[i]};
    hb_error err;
    int rc = hb_space_create(&sp);
    if (rc == HB_OK) rc = hb_space_add_categorical(sp, "mode", mv, N_MODES, NULL, -1, &err);
    if (rc == HB_OK) rc = hb_space_add_float(sp, "x", 0, 1, HB_SCALE_LINEAR, NAN, &err);
    if (rc == HB_OK) rc = hb_space_add_int(sp, "n", 1, 100, HB_SCALE_LINEAR, NAN, &err);
    if (rc == HB_OK) rc = hb_space_add_categorical(sp, "opt", ov, 3, NULL, -1, &err);
    if (rc == HB_OK) rc = hb_space_add_float(sp, "off", 0, 1, HB_SCALE_LINEAR, NAN, &err);
    if (rc == HB_OK) rc = hb_space_finalize(sp, NULL, &err);
    if (rc != HB_OK) {
        fprintf(stderr, "cmd_space: %s\n", err.msg);
        exit(2);
    }
    return sp;
}

static double mode_index(const char *mode)
{
    for (size_t i = 0; i < N_MODES; i++)
        if (strcmp(modes[i], mode) == 0) return (double)i;
    fprintf(stderr, "no mode %s\n", mode);
    exit(2);
}

static hb_evaluator *cmd_create(const hb_space *sp, double timeout, double grace,
                                const char *hosts, int nranks)
{
    char *argv[] = {(char *)badobj, (char *)"--fixed=a b", NULL};
    hb_cmd_options o = {timeout, grace, "trials", hosts, nranks};
    hb_evaluator *ev = NULL;
    hb_error err;
    if (hb_eval_cmd_create(2, argv, sp, &o, &ev, &err) != HB_OK) {
        fprintf(stderr, "hb_eval_cmd_create: %s\n", err.msg);
        exit(2);
    }
    return ev;
}

/* The trial directory of trial 'id' under the test's trial root. */
static void trial_path(char *out, size_t n, uint64_t id, const char *file)
{
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == NULL) cwd[0] = '\0';
    snprintf(out, n, "%s/trials/trial-%llu%s%s", cwd, (unsigned long long)id, file ? "/" : "",
             file ? file : "");
}

static long trial_pid(uint64_t id)
{
    char path[4096];
    trial_path(path, sizeof path, id, "pid");
    char *s = slurp(path, NULL);
    long pid = s ? atol(s) : -1;
    free(s);
    return pid;
}

static double last_run_cpu; /* CPU seconds of this thread in the last run_mode's evaluation */

/* Run 'mode' as trial 'id' and check that nothing is left behind; '*secs' gets the time. */
static hb_eval_result run_mode(hb_evaluator *ev, const char *mode, uint64_t id, double budget,
                               int opt, double *secs)
{
    double x[5] = {mode_index(mode), 0.25, 7, opt, NAN};
    hb_eval_job job = {id, budget, 99, x, 0, HB_NO_JOB, 0, 0};
    hb_eval_result r;
    hb_error err;
    double t0 = now(), c0 = cpu_seconds();
    int rc = hb_eval_run(ev, &job, &r, &err);
    last_run_cpu = cpu_seconds() - c0;
    if (secs) *secs = now() - t0;
    CHECK(rc == HB_OK);
    if (rc != HB_OK) fprintf(stderr, "  hb_eval_run: %s\n", err.msg);
    long pid = trial_pid(id);
    CHECK(pid > 0);
    CHECK(leftovers(pid) == 0);
    return r;
}

/* ---- kernel evaluator ---- */

static int one_float_space(const char *args, hb_space **out, hb_error *err)
{
    (void)args;
    hb_space *sp = NULL;
    int rc = hb_space_create(&sp);
    if (rc == HB_OK) rc = hb_space_add_float(sp, "x", 0, 1, HB_SCALE_LINEAR, NAN, err);
    if (rc == HB_OK) rc = hb_space_finalize(sp, NULL, err);
    if (rc != HB_OK) {
        hb_space_free(sp);
        return rc;
    }
    *out = sp;
    return HB_OK;
}

/* x < 0.2: an error; x < 0.4: NaN; x < 0.6: +inf; otherwise the loss x. */
static int odd_eval(const hb_space *sp, const double *x, double budget, uint64_t seed,
                    double *loss, hb_error *err)
{
    (void)sp;
    (void)budget;
    (void)seed;
    if (x[0] < 0.2) return hb_error_set(err, HB_ERANGE, NULL, "x = %g is too small", x[0]);
    *loss = x[0] < 0.4 ? NAN : x[0] < 0.6 ? INFINITY : x[0];
    return HB_OK;
}

static const hb_kernel odd_kernel = {HB_KERNEL_ABI, "odd", "test kernel", 1, 8, NAN, 1,
                                     one_float_space, odd_eval, NULL, NULL};

static void test_kernel(void)
{
    hb_error err;
    hb_evaluator *ev = NULL;
    hb_eval_result r;

    const hb_kernel *k = hb_kernels_find("branin");
    hb_space *sp = NULL;
    CHECK(k && k->space(NULL, &sp, &err) == HB_OK);
    double x[8];
    hb_space_default_config(sp, x);
    for (size_t i = 0; i < hb_space_dim(sp); i++)
        if (isnan(x[i])) x[i] = 0.5 * (hb_space_lower(sp, i) + hb_space_upper(sp, i));
    double want = NAN;
    CHECK(k->eval(sp, x, k->max_budget, 5, &want, &err) == HB_OK);
    CHECK(hb_eval_kernel_create(k, sp, 0, NULL, &ev, &err) == HB_OK);
    hb_eval_job job = {1, k->max_budget, 5, x, 0, HB_NO_JOB, 0, 0};
    CHECK(hb_eval_run(ev, &job, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_OK && r.loss == want);
    CHECK_STREQ(r.reason, "");
    CHECK_STREQ(r.extras, "");
    /* bad calls are errors of the evaluator, not trials */
    CHECK(hb_eval_run(ev, NULL, &r, &err) == HB_EINVAL);
    hb_eval_job nojob = {1, 0, 5, x, 0, HB_NO_JOB, 0, 0};
    CHECK(hb_eval_run(ev, &nojob, &r, &err) == HB_EINVAL);
    hb_eval_free(ev);
    hb_space_free(sp);

    CHECK(one_float_space(NULL, &sp, &err) == HB_OK);
    CHECK(hb_eval_kernel_create(&odd_kernel, sp, 0, NULL, &ev, &err) == HB_OK);
    double v = 0.1;
    job = (hb_eval_job){2, 8, 1, &v, 0, HB_NO_JOB, 0, 0};
    CHECK(hb_eval_run(ev, &job, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_FAILED);
    CHECK_STREQ(r.reason, "x = 0.1 is too small");
    v = 0.3;
    CHECK(hb_eval_run(ev, &job, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_NAN);
    CHECK_HAS(r.reason, "NaN");
    v = 0.5;
    CHECK(hb_eval_run(ev, &job, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_NAN);
    CHECK_HAS(r.reason, "inf");
    v = 0.75;
    CHECK(hb_eval_run(ev, &job, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_OK && r.loss == 0.75);
    hb_eval_free(ev);

    /* creation errors */
    hb_kernel bad = odd_kernel;
    bad.abi = 99;
    ev = (hb_evaluator *)&bad;
    CHECK(hb_eval_kernel_create(&bad, sp, 0, NULL, &ev, &err) == HB_EINVAL && ev == NULL);
    CHECK_HAS(err.msg, "ABI 99");
    CHECK(hb_eval_kernel_create(NULL, sp, 0, NULL, &ev, &err) == HB_EINVAL);
    CHECK(hb_eval_kernel_create(&odd_kernel, sp, -1, NULL, &ev, &err) == HB_EINVAL);
    CHECK(hb_eval_kernel_create(&odd_kernel, sp, NAN, NULL, &ev, &err) == HB_EINVAL);
    CHECK(hb_eval_kernel_create(&odd_kernel, sp, INFINITY, NULL, &ev, &err) == HB_EINVAL);
    hb_eval_free(NULL);
    hb_space_free(sp);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int s)
{
    (void)s;
    alarms++;
}

/* --continue-promoted with a training kernel (cartpole): a promoted trial continues from the
 * state its previous rung left in ROOT/trial-ID/kernel.state and spends only the difference; a
 * missing or damaged state means training from scratch, with the same loss. */
static void test_kernel_continue(void)
{
    hb_error err;
    hb_evaluator *ev = NULL;
    hb_eval_result r;
    const hb_kernel *k = hb_kernels_find("cartpole");
    hb_space *sp = NULL;
    CHECK(k && k->train && k->space(NULL, &sp, &err) == HB_OK);
    double x[5] = {0.1, 0.99, 1e-3, 0.1, 0.1}; /* learning_rate gamma entropy_coef baseline_lr init_scale */
    double want27 = NAN, want81 = NAN;
    CHECK(k->eval(sp, x, 27, 77, &want27, &err) == HB_OK);
    CHECK(k->eval(sp, x, 81, 77, &want81, &err) == HB_OK);
    CHECK(hb_eval_kernel_create(k, sp, 0, "states", &ev, &err) == HB_OK);
    /* rung 0: trial 4 trains 27 episodes with the configuration's seed (77), not the trial's */
    hb_eval_job j0 = {4, 27, 123, x, 4, HB_NO_JOB, 0, 77};
    CHECK(hb_eval_run(ev, &j0, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_OK && r.loss == want27 && r.spent == 27);
    CHECK(access("states/trial-4/kernel.state", R_OK) == 0);
    CHECK(access("states/trial-4/kernel.state.tmp", F_OK) != 0);
    /* rung 1: trial 9 continues from trial 4 */
    hb_eval_job j1 = {9, 81, 456, x, 4, 4, 27, 77};
    CHECK(hb_eval_run(ev, &j1, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_OK && r.loss == want81 && r.spent == 54);
    /* damaged: one byte flipped; the kernel refuses it and the trial starts over */
    FILE *f = fopen("states/trial-4/kernel.state", "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 60, SEEK_SET);
        int c = fgetc(f);
        fseek(f, 60, SEEK_SET);
        fputc(c ^ 0x55, f);
        fclose(f);
    }
    CHECK(hb_eval_run(ev, &j1, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_OK && r.loss == want81 && r.spent == 81);
    /* missing: the same */
    CHECK(unlink("states/trial-4/kernel.state") == 0);
    CHECK(hb_eval_run(ev, &j1, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_OK && r.loss == want81 && r.spent == 81);
    /* another configuration's state (trial 9 is x, the job says otherwise in a fixed parameter,
     * init_scale; the other four may change at a step boundary): refused too */
    double y[5] = {0.1, 0.99, 1e-3, 0.1, 0.3};
    double wanty = NAN;
    CHECK(k->eval(sp, y, 243, 77, &wanty, &err) == HB_OK);
    hb_eval_job j2 = {12, 243, 1, y, 4, 9, 81, 77};
    CHECK(hb_eval_run(ev, &j2, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_OK && r.loss == wanty && r.spent == 243);
    hb_eval_free(ev);
    /* without a state root (no --continue-promoted): nothing is written, all is trained */
    CHECK(hb_eval_kernel_create(k, sp, 0, NULL, &ev, &err) == HB_OK);
    hb_eval_job j3 = {20, 81, 1, x, 4, 4, 27, 77};
    CHECK(hb_eval_run(ev, &j3, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_OK && r.loss == want81 && r.spent == 81);
    CHECK(access("hbmpi-trials/trial-20", F_OK) != 0);
    hb_eval_free(ev);
    hb_space_free(sp);
}

static void test_kernel_delay(void)
{
    hb_error err;
    hb_evaluator *ev = NULL;
    hb_eval_result r;
    hb_space *sp = NULL;
    CHECK(one_float_space(NULL, &sp, &err) == HB_OK);
    CHECK(hb_eval_kernel_create(&odd_kernel, sp, 0.4, NULL, &ev, &err) == HB_OK);
    double v = 0.75;
    /* delay * budget / max_budget: 0.4 * 4 / 8 = 0.2 s, then 0.4 * 8 / 8 = 0.4 s */
    for (int b = 4; b <= 8; b += 4) {
        hb_eval_job job = {3, b, 1, &v, 0, HB_NO_JOB, 0, 0};
        double t0 = now();
        CHECK(hb_eval_run(ev, &job, &r, &err) == HB_OK);
        double t = now() - t0, want = 0.4 * b / 8;
        CHECK(r.status == HB_TRIAL_OK && r.loss == 0.75);
        CHECK(t >= want - 0.002 && t < want + 0.15);
        if (!(t >= want - 0.002 && t < want + 0.15)) fprintf(stderr, "  slept %g s\n", t);
    }
    /* signals every 10 ms do not shorten the sleep */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: nanosleep returns EINTR */
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 10000}, {0, 10000}};
    setitimer(ITIMER_REAL, &it, NULL);
    hb_eval_job job = {4, 4, 1, &v, 0, HB_NO_JOB, 0, 0};
    double t0 = now();
    CHECK(hb_eval_run(ev, &job, &r, &err) == HB_OK);
    double t = now() - t0;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    CHECK(alarms >= 5);
    CHECK(t >= 0.198 && t < 0.35);
    if (!(t >= 0.198 && t < 0.35))
        fprintf(stderr, "  slept %g s with %d signals\n", t, (int)alarms);
    hb_eval_free(ev);
    hb_space_free(sp);
}

/* ---- shared-library evaluator ---- */

static hb_space *lib_space(void)
{
    static const char *const lmodes[] = {"ok", "fail", "silent", "nan", "inf", "long_reason",
                                         "check"};
    hb_value mv[7], cv[2] = {{0, 16, NULL}, {0, 32.5, NULL}};
    hb_value sv[2] = {{1, 0, "a b"}, {1, 0, "$(x)"}};
    for (int i = 0; i < 7; i++) mv[i] = (hb_value){1, 0, lmodes[i]};
    hb_space *sp = NULL;
    hb_error err;
    int rc = hb_space_create(&sp);
    if (rc == HB_OK) rc = hb_space_add_categorical(sp, "mode", mv, 7, NULL, -1, &err);
    if (rc == HB_OK) rc = hb_space_add_float(sp, "x", 0, 1, HB_SCALE_LINEAR, NAN, &err);
    if (rc == HB_OK) rc = hb_space_add_int(sp, "n", 1, 100, HB_SCALE_LINEAR, NAN, &err);
    if (rc == HB_OK) rc = hb_space_add_categorical(sp, "c", cv, 2, NULL, -1, &err);
    if (rc == HB_OK) rc = hb_space_add_categorical(sp, "s", sv, 2, NULL, -1, &err);
    if (rc == HB_OK) rc = hb_space_add_float(sp, "off", 0, 1, HB_SCALE_LINEAR, NAN, &err);
    if (rc == HB_OK) rc = hb_space_finalize(sp, NULL, &err);
    if (rc != HB_OK) {
        fprintf(stderr, "lib_space: %s\n", err.msg);
        exit(2);
    }
    return sp;
}

static hb_eval_result lib_run(hb_evaluator *ev, int mode)
{
    double x[6] = {mode, 0.25, 7, 1, 1, NAN};
    hb_eval_job job = {42, 3, 99, x, 0, HB_NO_JOB, 0, 0};
    hb_eval_result r;
    hb_error err;
    CHECK(hb_eval_run(ev, &job, &r, &err) == HB_OK);
    return r;
}

static void test_lib(void)
{
    hb_space *sp = lib_space();
    hb_evaluator *ev = NULL;
    hb_error err;
    char spec[4200];
    snprintf(spec, sizeof spec, "%s:hbmpi_test_objective", libobj);
    CHECK(hb_eval_lib_create(spec, sp, NULL, &ev, &err) == HB_OK);
    if (ev == NULL) {
        fprintf(stderr, "  %s\n", err.msg);
        hb_space_free(sp);
        return;
    }
    hb_eval_result r = lib_run(ev, 6); /* check: every field, comm NULL without MPI */
    CHECK(r.status == HB_TRIAL_OK && r.loss == 1.75);
    CHECK_STREQ(r.reason, "");
    r = lib_run(ev, 0);
    CHECK(r.status == HB_TRIAL_OK && r.loss == 1.75);
    r = lib_run(ev, 1);
    CHECK(r.status == HB_TRIAL_FAILED);
    CHECK_STREQ(r.reason, "asked to fail at x=0.25");
    r = lib_run(ev, 2);
    CHECK(r.status == HB_TRIAL_FAILED);
    CHECK_STREQ(r.reason, "objective returned 7");
    r = lib_run(ev, 3);
    CHECK(r.status == HB_TRIAL_NAN);
    r = lib_run(ev, 4);
    CHECK(r.status == HB_TRIAL_NAN);
    r = lib_run(ev, 5);
    CHECK(r.status == HB_TRIAL_FAILED && strlen(r.reason) == sizeof r.reason - 1);
    hb_eval_free(ev);

    /* a bare file name is taken in the current directory */
    char *dir = strdup(libobj), *slash = strrchr(dir, '/'), cwd[4096];
    CHECK(slash != NULL && getcwd(cwd, sizeof cwd) != NULL);
    if (slash != NULL) {
        *slash = '\0';
        CHECK(chdir(dir) == 0);
        snprintf(spec, sizeof spec, "%s:hbmpi_test_objective", slash + 1);
        CHECK(hb_eval_lib_create(spec, sp, NULL, &ev, &err) == HB_OK);
        if (ev) {
            r = lib_run(ev, 0);
            CHECK(r.status == HB_TRIAL_OK && r.loss == 1.75);
        }
        hb_eval_free(ev);
        CHECK(chdir(cwd) == 0);
    }
    free(dir);
    hb_space_free(sp);
}

/* --continue-promoted with a library: trial_dir and previous_trial_dir, and what the objective
 * stores in *spent. */
static void test_lib_continue(void)
{
    hb_space *sp = lib_space();
    hb_evaluator *ev = NULL;
    hb_error err;
    char spec[4200];
    snprintf(spec, sizeof spec, "%s:hbmpi_test_objective", libobj);
    CHECK(hb_eval_lib_create(spec, sp, "libtrials", &ev, &err) == HB_OK);
    if (ev == NULL) {
        hb_space_free(sp);
        return;
    }
    double x[6] = {0, 0.25, 7, 1, 1, NAN};
    hb_eval_result r;
    hb_eval_job j0 = {5, 3, 1, x, 5, HB_NO_JOB, 0, 17};
    CHECK(hb_eval_run(ev, &j0, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_OK && r.loss == 1.75 && r.spent == 3);
    CHECK(access("libtrials/trial-5/done", R_OK) == 0);
    hb_eval_job j1 = {8, 9, 2, x, 5, 5, 3, 17};
    CHECK(hb_eval_run(ev, &j1, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_OK && r.spent == 6);
    /* the previous rung's checkpoint is gone: the objective says so */
    CHECK(unlink("libtrials/trial-5/done") == 0);
    CHECK(hb_eval_run(ev, &j1, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_FAILED && strstr(r.reason, "libtrials/trial-5/done") != NULL && isnan(r.spent));
    hb_eval_free(ev);
    hb_space_free(sp);
}

static void lib_error(const hb_space *sp, const char *spec, const char *want)
{
    hb_evaluator *ev = (hb_evaluator *)&ev;
    hb_error err;
    hb_error_clear(&err);
    CHECK(hb_eval_lib_create(spec, sp, NULL, &ev, &err) == HB_EINVAL);
    CHECK(ev == NULL);
    CHECK_HAS(err.msg, want);
}

static void test_lib_errors(void)
{
    hb_space *sp = lib_space();
    char spec[4200], want[4200];
    snprintf(spec, sizeof spec, "%s:hbmpi_test_objective", libobj_noabi);
    snprintf(want, sizeof want, "%s was not built with hbmpi.h's HBMPI_DECLARE_ABI", libobj_noabi);
    lib_error(sp, spec, want);
    snprintf(spec, sizeof spec, "%s:hbmpi_test_objective", libobj_badabi);
    snprintf(want, sizeof want, "ABI %d, this hbmpi expects %d", HBMPI_OBJECTIVE_ABI + 41,
             HBMPI_OBJECTIVE_ABI);
    lib_error(sp, spec, want);
    snprintf(spec, sizeof spec, "%s:no_such_function", libobj);
    lib_error(sp, spec, "no_such_function");
    lib_error(sp, "/nonexistent/libx.so:f", "cannot load /nonexistent/libx.so");
    lib_error(sp, "libobj.so", "PATH:SYMBOL");
    lib_error(sp, "libobj.so:", "PATH:SYMBOL");
    lib_error(sp, ":f", "PATH:SYMBOL");
    lib_error(sp, "", "PATH:SYMBOL");
    /* a bare name is not searched for in the library path: libm is not in this directory */
    lib_error(sp, "libm.so.6:cos", "cannot load ./libm.so.6");
    hb_evaluator *ev = NULL;
    CHECK(hb_eval_lib_create(NULL, sp, NULL, &ev, NULL) == HB_EINVAL);
    hb_space_free(sp);
}

/* ---- command evaluator ---- */

static void test_cmd_ok(void)
{
    hb_space *sp = cmd_space();
    hb_evaluator *ev = cmd_create(sp, 0, 0, NULL, 0);
    int fds = count_fds();
    for (uint64_t id = 1; id <= 20; id++) {
        hb_eval_result r = run_mode(ev, "ok", id, 3, 0, NULL);
        CHECK(r.status == HB_TRIAL_OK && r.loss == 1.75);
        CHECK_STREQ(r.reason, "");
        CHECK_STREQ(r.extras, "");
    }
    CHECK(count_fds() == fds); /* no descriptor leaks */
    char path[4096];
    trial_path(path, sizeof path, 20, "stdout");
    char *s = slurp(path, NULL);
    CHECK(s != NULL && strcmp(s, "some log line\n1.75\n") == 0);
    free(s);
    trial_path(path, sizeof path, 20, "stderr");
    s = slurp(path, NULL);
    CHECK(s != NULL && s[0] == '\0');
    free(s);
    /* the same trial id again (a resumed run) reuses its directory and truncates the logs */
    hb_eval_result r = run_mode(ev, "ok", 20, 3, 0, NULL);
    CHECK(r.status == HB_TRIAL_OK);
    trial_path(path, sizeof path, 20, "stdout");
    s = slurp(path, NULL);
    CHECK(s != NULL && strcmp(s, "some log line\n1.75\n") == 0);
    free(s);
    hb_eval_free(ev);
    hb_space_free(sp);
}

static void test_cmd_crash(void)
{
    hb_space *sp = cmd_space();
    hb_evaluator *ev = cmd_create(sp, 0, 0, NULL, 0);
    hb_eval_result r = run_mode(ev, "crash", 1, 3, 0, NULL);
    CHECK(r.status == HB_TRIAL_CRASHED);
    CHECK_STREQ(r.reason, "killed by signal 6 (SIGABRT); stderr: 'about to abort'");
    r = run_mode(ev, "segv", 2, 3, 0, NULL);
    CHECK(r.status == HB_TRIAL_CRASHED);
    CHECK_PREFIX(r.reason, "killed by signal 11 (SIGSEGV)");
    hb_eval_free(ev);
    hb_space_free(sp);
}

static void test_cmd_hang(void)
{
    hb_space *sp = cmd_space();
    hb_evaluator *ev = cmd_create(sp, 0.5, 0.5, NULL, 0);
    double t;
    hb_eval_result r = run_mode(ev, "hang", 1, 3, 0, &t);
    double cpu = last_run_cpu;
    CHECK(r.status == HB_TRIAL_TIMEOUT);
    CHECK_STREQ(r.reason, "timed out after 0.5 s");
    CHECK(t >= 0.5 && t < 0.9); /* SIGTERM ends it: no grace needed */
    /* waiting costs (far) less than 5 % of a core */
    CHECK(cpu < 0.05 * t);
    fprintf(stderr, "  hang: %.3f s, %.4f s of CPU in the parent\n", t, cpu);

    r = run_mode(ev, "hang_ignoring_sigterm", 2, 3, 0, &t);
    CHECK(r.status == HB_TRIAL_TIMEOUT);
    CHECK_STREQ(r.reason, "timed out after 0.5 s");
    CHECK(t >= 1.0 && t < 1.5); /* timeout + grace, then SIGKILL */
    fprintf(stderr, "  hang_ignoring_sigterm: %.3f s\n", t);
    hb_eval_free(ev);
    hb_space_free(sp);
}

static void test_cmd_output(void)
{
    hb_space *sp = cmd_space();
    hb_evaluator *ev = cmd_create(sp, 0, 0, NULL, 0);
    hb_eval_result r = run_mode(ev, "garbage", 1, 3, 0, NULL);
    CHECK(r.status == HB_TRIAL_FAILED);
    CHECK_STREQ(r.reason, "cannot read a loss from the last line of stdout: 'hello'");

    r = run_mode(ev, "empty", 2, 3, 0, NULL);
    CHECK(r.status == HB_TRIAL_FAILED);
    CHECK_STREQ(r.reason, "cannot read a loss from the last line of stdout: ''");

    r = run_mode(ev, "long", 3, 3, 0, NULL);
    CHECK(r.status == HB_TRIAL_FAILED);
    CHECK_PREFIX(r.reason, "cannot read a loss from the last line of stdout: '...");
    size_t n = strlen(r.reason);
    CHECK(n < sizeof r.reason && r.reason[n - 1] == '\'');
    CHECK(n > 10 && strncmp(r.reason + n - 5, "ijkl'", 5) == 0); /* the end of the line */

    r = run_mode(ev, "nan", 4, 3, 0, NULL);
    CHECK(r.status == HB_TRIAL_NAN);

    r = run_mode(ev, "nonzero", 5, 3, 0, NULL);
    CHECK(r.status == HB_TRIAL_FAILED);
    CHECK_STREQ(r.reason, "exit status 3; stderr: 'something went wrong'");

    r = run_mode(ev, "json", 6, 3, 0, NULL);
    CHECK(r.status == HB_TRIAL_OK && r.loss == 0.5);
    CHECK_STREQ(r.extras, "{\"acc\":0.9}");

    r = run_mode(ev, "json_noloss", 7, 3, 0, NULL);
    CHECK(r.status == HB_TRIAL_FAILED);
    CHECK_STREQ(r.reason, "the JSON object on the last line of stdout has no numeric \"loss\": "
                          "'{\"acc\": 0.9}'");

    r = run_mode(ev, "json_big", 8, 3, 0, NULL);
    CHECK(r.status == HB_TRIAL_OK && r.loss == 2);
    CHECK(strlen(r.extras) < sizeof r.extras);
    json_error_t je;
    json_t *j = json_loads(r.extras, 0, &je);
    CHECK(json_is_object(j));
    CHECK(json_is_integer(json_object_get(j, "_truncated")));
    CHECK_STREQ(json_string_value(json_object_get(j, "tag")), "a \"quoted\" word");
    CHECK(json_real_value(json_object_get(j, "metric_03")) == 3.125);
    CHECK_PREFIX(r.extras, "{\"tag\":\"a \\\"quoted\\\" word\",\"nested\":{\"a\":[1,2.5,true]},");
    json_decref(j);
    hb_eval_free(ev);
    hb_space_free(sp);
}

/* The reading of stdout without a process (hb__eval_cmd_read_loss): a reason that quotes bytes
 * which are not UTF-8 must still be valid UTF-8, since the report JSON holds it as a string.
 * fuzz_output found the report unreadable with tests/data/fuzz/output/found_invalid_utf8.txt. */
static void test_cmd_output_bytes(void)
{
    char path[1024], buf[4096];
    snprintf(path, sizeof path, "%s/fuzz/output/found_invalid_utf8.txt", HB_TEST_DATA_DIR);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f == NULL) return;
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    hb_eval_result r;
    hb__eval_result_init(&r);
    hb__eval_cmd_read_loss(buf, n, buf, n, &r);
    CHECK(r.status == HB_TRIAL_FAILED);
    CHECK_STREQ(r.reason, "cannot read a loss from the last line of stdout: 'ValueError: ?? bad ? bytes'; "
                          "stderr: 'ValueError: ?? bad ? bytes'");
    /* valid UTF-8 stays; overlong forms, surrogates, code points beyond U+10FFFF, stray and
     * missing continuation bytes do not */
    static const char *const lines[][2] = {
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"\xc0\xaf \xe0\x80\xaf \xed\xa0\x80 \xf4\x90\x80\x80", "?? ??? ??? ????"},
        {"\x80x\xc3", "?x?"},
        {"\xe2\x82x", "??x"},
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        hb__eval_result_init(&r);
        hb__eval_cmd_read_loss(lines[i][0], strlen(lines[i][0]), "", 0, &r);
        char want[256];
        snprintf(want, sizeof want, "cannot read a loss from the last line of stdout: '%s'", lines[i][1]);
        CHECK_STREQ(r.reason, want);
        json_t *j = json_string(r.reason); /* NULL if not UTF-8 */
        CHECK(j != NULL);
        json_decref(j);
    }
}

static void test_cmd_orphan(void)
{
    hb_space *sp = cmd_space();
    hb_evaluator *ev = cmd_create(sp, 0, 0, NULL, 0);
    /* Adopt orphaned descendants (instead of init, which may never reap them in a container),
     * so that the grandchild's end can be seen and reaped here. */
    CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    double x[5] = {mode_index("orphan"), 0.25, 7, 0, NAN};
    hb_eval_job job = {1, 3, 99, x, 0, HB_NO_JOB, 0, 0};
    hb_eval_result r;
    hb_error err;
    CHECK(hb_eval_run(ev, &job, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_OK && r.loss == 1);
    char path[4096];
    trial_path(path, sizeof path, 1, "grandchild.pid");
    char *s = slurp(path, NULL);
    long g = s ? atol(s) : -1;
    free(s);
    CHECK(g > 0);
    /* the grandchild, adopted by this process, must have been killed by SIGKILL */
    int st = 0;
    pid_t w = 0;
    for (int i = 0; i < 300 && g > 0 && (w = waitpid((pid_t)g, &st, WNOHANG)) == 0; i++) {
        struct timespec t = {0, 10000000L};
        nanosleep(&t, NULL);
    }
    CHECK(w == (pid_t)g && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    if (w != (pid_t)g || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
        fprintf(stderr, "  waitpid(%ld) = %ld (%s), status %#x\n", g, (long)w,
                w < 0 ? strerror(errno) : "", st);
    if (w == 0 && g > 0) { /* still alive: do not leave it behind */
        kill((pid_t)g, SIGKILL);
        waitpid((pid_t)g, &st, 0);
    }
    CHECK(leftovers(trial_pid(1)) == 0);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    hb_eval_free(ev);
    hb_space_free(sp);
}

/* The value of "NAME=" in text 's' (one per line), copied into 'out'. */
static const char *field(const char *s, const char *name, char *out, size_t n)
{
    size_t k = strlen(name);
    out[0] = '\0';
    for (const char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, k) == 0 && p[k] == '=') {
            const char *e = strchr(p, '\n');
            size_t m = e ? (size_t)(e - p - k - 1) : strlen(p + k + 1);
            if (m >= n) m = n - 1;
            memcpy(out, p + k + 1, m);
            out[m] = '\0';
            break;
        }
    }
    return out;
}

static void test_cmd_env(void)
{
    hb_space *sp = cmd_space();
    /* the parent's signal state and stale variables must not reach the program */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    setenv("HB_TRIAL_ID", "stale", 1);
    setenv("HB_HOSTS", "stale", 1);
    setenv("HB_TEST_KEEP", "kept", 1);
    int leak = open("/dev/null", O_RDONLY); /* not close-on-exec */
    /* stdin: a pipe with data waiting, so that a program that inherited it would read it */
    int saved_stdin = dup(0), pfd[2];
    CHECK(saved_stdin >= 0 && pipe(pfd) == 0 && write(pfd[1], "x", 1) == 1);
    CHECK(dup2(pfd[0], 0) == 0);
    close(pfd[0]);

    hb_evaluator *ev = cmd_create(sp, 0, 0, "n1,n2", 4);
    hb_eval_result r = run_mode(ev, "env", 42, 3, 0, NULL);
    CHECK(r.status == HB_TRIAL_OK && r.loss == 3);
    char path[4096], v[4096], dir[4096], cwd[4096];
    trial_path(path, sizeof path, 42, "env.txt");
    trial_path(dir, sizeof dir, 42, NULL);
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    char *s = slurp(path, NULL);
    CHECK(s != NULL);
    if (s) {
        hb_buf cfg = HB_BUF_INIT;
        double x[5] = {mode_index("env"), 0.25, 7, 0, NAN};
        hb_space_config_json(sp, x, &cfg);
        CHECK_STREQ(field(s, "HB_CONFIG", v, sizeof v), cfg.data);
        CHECK_STREQ(field(s, "HB_CONFIG", v, sizeof v),
                    "{\"mode\": \"env\", \"x\": 0.25, \"n\": 7, \"opt\": \"plain\"}");
        hb_buf_fini(&cfg);
        CHECK_STREQ(field(s, "HB_BUDGET", v, sizeof v), "3");
        CHECK_STREQ(field(s, "HB_TRIAL_ID", v, sizeof v), "42");
        CHECK_STREQ(field(s, "HB_SEED", v, sizeof v), "99");
        CHECK_STREQ(field(s, "HB_TRIAL_DIR", v, sizeof v), dir);
        CHECK_STREQ(field(s, "HB_HOSTS", v, sizeof v), "n1,n2");
        CHECK_STREQ(field(s, "HB_NRANKS", v, sizeof v), "4");
        CHECK_STREQ(field(s, "stdin_eof", v, sizeof v), "1");
        CHECK_STREQ(field(s, "pgid_is_pid", v, sizeof v), "1");
        CHECK_STREQ(field(s, "blocked", v, sizeof v), "0");
        CHECK_STREQ(field(s, "defaults", v, sizeof v), "1");
        CHECK_STREQ(field(s, "cwd", v, sizeof v), cwd);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
        CHECK_STREQ(field(s, "extra_fds", v, sizeof v), "0");
#endif
    }
    free(s);
    hb_eval_free(ev);

    /* without hosts and nranks, the stale HB_HOSTS is removed, not passed on */
    ev = cmd_create(sp, 0, 0, NULL, 0);
    r = run_mode(ev, "env", 43, 2.5, 0, NULL);
    CHECK(r.status == HB_TRIAL_OK && r.loss == 2.5);
    trial_path(path, sizeof path, 43, "env.txt");
    s = slurp(path, NULL);
    CHECK(s != NULL);
    if (s) {
        CHECK_STREQ(field(s, "HB_HOSTS", v, sizeof v), "<unset>");
        CHECK_STREQ(field(s, "HB_NRANKS", v, sizeof v), "<unset>");
        CHECK_STREQ(field(s, "HB_TRIAL_ID", v, sizeof v), "43");
        CHECK_STREQ(field(s, "HB_BUDGET", v, sizeof v), "2.5");
    }
    free(s);
    hb_eval_free(ev);
    close(leak);
    dup2(saved_stdin, 0);
    close(saved_stdin);
    close(pfd[1]);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    hb_space_free(sp);
}

static void test_cmd_injection(void)
{
    hb_space *sp = cmd_space();
    hb_evaluator *ev = cmd_create(sp, 0, 0, NULL, 0);
    for (int opt = 1; opt <= 2; opt++) {
        hb_eval_result r = run_mode(ev, "argv-echo", (uint64_t)opt, opt == 1 ? 3 : 0.1, opt, NULL);
        CHECK(r.status == HB_TRIAL_OK && r.loss == 0);
        char path[4096];
        trial_path(path, sizeof path, (uint64_t)opt, "argv.bin");
        size_t len = 0;
        char *s = slurp(path, &len);
        CHECK(s != NULL);
        if (s == NULL) continue;
        char want[8192];
        size_t w = 0;
        const char *args[] = {badobj, "--fixed=a b", "--mode=argv-echo", "--x=0.25", "--n=7",
                              NULL, NULL};
        char o[256], b[64];
        snprintf(o, sizeof o, "--opt=%s", opts[opt]);
        snprintf(b, sizeof b, "--budget=%s", opt == 1 ? "3" : "0.1");
        args[5] = o;
        args[6] = b;
        for (size_t i = 0; i < 7; i++) {
            size_t n = strlen(args[i]) + 1;
            memcpy(want + w, args[i], n);
            w += n;
        }
        CHECK(len == w && memcmp(s, want, w) == 0);
        if (!(len == w && memcmp(s, want, w) == 0))
            for (size_t i = 0; i < len; i += strlen(s + i) + 1)
                fprintf(stderr, "  arg '%s'\n", s + i);
        free(s);
        trial_path(path, sizeof path, (uint64_t)opt, "pwned");
        CHECK(!file_exists(path));
    }
    CHECK(!file_exists("pwned"));
    CHECK(!file_exists("trials/pwned"));
    hb_eval_free(ev);
    hb_space_free(sp);
}

static int cpu_count_self(void)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    return sched_getaffinity(0, sizeof s, &s) == 0 ? CPU_COUNT(&s) : -1;
}

static void test_cmd_affinity(void)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 2) {
        fprintf(stderr, "  one CPU only: nothing to widen, skipped\n");
        return;
    }
    /* pin this process to one CPU, as mpirun's default binding would */
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) {
        fprintf(stderr, "  cannot pin to CPU 0 (%s), skipped\n", strerror(errno));
        return;
    }
    CHECK(cpu_count_self() == 1);
    hb_space *sp = cmd_space();
    hb_evaluator *ev = cmd_create(sp, 0, 0, NULL, 0);
    hb_eval_result r = run_mode(ev, "affinity", 1, 3, 0, NULL);
    CHECK(r.status == HB_TRIAL_OK && r.loss >= 2);
    fprintf(stderr, "  parent pinned to 1 CPU; the program could use %g of %ld\n", r.loss, online);
    CHECK(cpu_count_self() == 1); /* the parent's binding is back */
    hb_eval_free(ev);
    hb_space_free(sp);
}

static void test_cmd_create_errors(void)
{
    hb_space *sp = cmd_space();
    hb_evaluator *ev = (hb_evaluator *)&ev;
    hb_error err;
    char *none[] = {(char *)"hbmpi-no-such-program-xyz", NULL};
    CHECK(hb_eval_cmd_create(1, none, sp, NULL, &ev, &err) == HB_EINVAL && ev == NULL);
    CHECK_HAS(err.msg, "hbmpi-no-such-program-xyz");
    char *missing[] = {(char *)"./no-such-file", NULL};
    CHECK(hb_eval_cmd_create(1, missing, sp, NULL, &ev, &err) == HB_EINVAL);
    CHECK_HAS(err.msg, "./no-such-file");
    FILE *f = fopen("notexec", "w");
    if (f) fclose(f);
    char *notexec[] = {(char *)"./notexec", NULL};
    CHECK(hb_eval_cmd_create(1, notexec, sp, NULL, &ev, &err) == HB_EINVAL);
    CHECK_HAS(err.msg, "notexec");
    CHECK(hb_eval_cmd_create(0, none, sp, NULL, &ev, &err) == HB_EINVAL);
    char *empty[] = {(char *)"", NULL};
    CHECK(hb_eval_cmd_create(1, empty, sp, NULL, &ev, &err) == HB_EINVAL);
    /* a trial root that cannot be made */
    char *prog[] = {(char *)badobj, NULL};
    hb_cmd_options o = {0, 0, "notexec/sub", NULL, 0};
    CHECK(hb_eval_cmd_create(1, prog, sp, &o, &ev, &err) == HB_EIO && ev == NULL);
    CHECK_HAS(err.msg, "notexec/sub");
    /* a program found in $PATH, with the default trial root and options */
    char *sh_true[] = {(char *)"true", NULL};
    CHECK(hb_eval_cmd_create(1, sh_true, sp, NULL, &ev, &err) == HB_OK);
    if (ev) {
        double x[5] = {0, 0.25, 7, 0, NAN};
        hb_eval_job job = {5, 1, 1, x, 0, HB_NO_JOB, 0, 0};
        hb_eval_result r;
        CHECK(hb_eval_run(ev, &job, &r, &err) == HB_OK);
        CHECK(r.status == HB_TRIAL_FAILED); /* `true` prints no loss */
        CHECK(file_exists("hbmpi-trials/trial-5/stdout"));
        CHECK(leftovers(0) == 0);
    }
    hb_eval_free(ev);
    hb_space_free(sp);
}

static void on_term(int s)
{
    (void)s;
    hb_eval_interrupt();
}

static void test_cmd_interrupt(void)
{
    hb_space *sp = cmd_space();
    hb_evaluator *ev = cmd_create(sp, 0, 0.3, NULL, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 300000}};
    setitimer(ITIMER_REAL, &it, NULL);
    double t;
    hb_eval_result r = run_mode(ev, "hang_ignoring_sigterm", 1, 3, 0, &t);
    CHECK(r.status == HB_TRIAL_LOST);
    CHECK_STREQ(r.reason, "interrupted");
    CHECK(t >= 0.6 && t < 1.0); /* 0.3 s, then 0.3 s of grace before SIGKILL */
    fprintf(stderr, "  interrupted after %.3f s\n", t);
    /* sticky: the next trial does not even start */
    double x[5] = {mode_index("hang"), 0.25, 7, 0, NAN};
    hb_eval_job cj = {2, 3, 1, x, 0, HB_NO_JOB, 0, 0};
    hb_error err;
    CHECK(hb_eval_run(ev, &cj, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_LOST);
    CHECK(trial_pid(2) < 0 && leftovers(0) == 0);
    hb_eval_free(ev);

    hb_space *ks = NULL;
    CHECK(one_float_space(NULL, &ks, &err) == HB_OK);
    CHECK(hb_eval_kernel_create(&odd_kernel, ks, 100, NULL, &ev, &err) == HB_OK);
    double v = 0.75;
    hb_eval_job job = {3, 8, 1, &v, 0, HB_NO_JOB, 0, 0};
    CHECK(hb_eval_run(ev, &job, &r, &err) == HB_OK);
    CHECK(r.status == HB_TRIAL_LOST);
    hb_eval_free(ev);
    hb_space_free(ks);
    hb_space_free(sp);
}

/* ---- driver ---- */

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
    {"kernel", test_kernel},
    {"kernel_delay", test_kernel_delay},
    {"kernel_continue", test_kernel_continue},
    {"lib", test_lib},
    {"lib_continue", test_lib_continue},
    {"lib_errors", test_lib_errors},
    {"cmd_ok", test_cmd_ok},
    {"cmd_crash", test_cmd_crash},
    {"cmd_hang", test_cmd_hang},
    {"cmd_output", test_cmd_output},
    {"cmd_output_bytes", test_cmd_output_bytes},
    {"cmd_orphan", test_cmd_orphan},
    {"cmd_env", test_cmd_env},
    {"cmd_injection", test_cmd_injection},
    {"cmd_affinity", test_cmd_affinity},
    {"cmd_create_errors", test_cmd_create_errors},
    {"cmd_interrupt", test_cmd_interrupt},
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* An absolute copy of 'p' (the test changes directory). */
static const char *absolute(const char *p)
{
    char *a = realpath(p, NULL);
    if (a == NULL) {
        fprintf(stderr, "%s: %s\n", p, strerror(errno));
        exit(2);
    }
    return a;
}

int main(int argc, char **argv)
{
    const char *which = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--badobj") == 0)
            badobj = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--libobj") == 0)
            libobj = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--libobj-noabi") == 0)
            libobj_noabi = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--libobj-badabi") == 0)
            libobj_badabi = argv[++i];
        else
            which = argv[i];
    }
    if (!badobj || !libobj || !libobj_noabi || !libobj_badabi || !which) {
        fprintf(stderr, "usage: hb_eval_tests --badobj P --libobj P --libobj-noabi P "
                        "--libobj-badabi P CASE|all\n");
        return 2;
    }
    badobj = absolute(badobj);
    libobj = absolute(libobj);
    libobj_noabi = absolute(libobj_noabi);
    libobj_badabi = absolute(libobj_badabi);

    char tmpl[] = "hb-eval-XXXXXX", home[4096];
    if (getcwd(home, sizeof home) == NULL || mkdtemp(tmpl) == NULL || chdir(tmpl) != 0) {
        fprintf(stderr, "cannot make a temporary directory: %s\n", strerror(errno));
        return 2;
    }
    int ran = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(which, "all") != 0 && strcmp(which, cases[i].name) != 0) continue;
        if (strcmp(which, "all") == 0 && strcmp(cases[i].name, "cmd_interrupt") == 0)
            continue; /* sticky: only on its own */
        int before = failures;
        cases[i].fn();
        fprintf(stderr, "%s: %s\n", cases[i].name, failures == before ? "passed" : "FAILED");
        ran++;
    }
    long live = hb_alloc_live();
    CHECK(live == 0);
    if (chdir(home) != 0) return 2;
    if (failures == 0)
        nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        fprintf(stderr, "kept %s/%s for a look\n", home, tmpl);
    free((char *)badobj);
    free((char *)libobj);
    free((char *)libobj_noabi);
    free((char *)libobj_badabi);
    if (ran == 0) {
        fprintf(stderr, "no test case '%s'\n", which);
        return 2;
    }
    return failures ? 1 : 0;
}
