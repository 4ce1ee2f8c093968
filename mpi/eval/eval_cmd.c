/* eval_cmd.c — the external-command evaluator (DESIGN.md contract 7): posix_spawn the user's
 * program with an argv (never a shell), in its own process group, with stdin from /dev/null,
 * stdout/stderr in per-trial log files, a widened CPU affinity, a timeout (SIGTERM, grace,
 * SIGKILL to the whole group), and read the loss from the last line of its stdout. Knows nothing
 * of MPI, optimisers or the run file. */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eval_impl.h"

/* posix_spawn_file_actions_addclosefrom_np: glibc 2.34 and later. Without it, descriptors the
 * parent opened without O_CLOEXEC (some MPI libraries' sockets) leak into the program. */
#if defined(__GLIBC__) && defined(__GLIBC_MINOR__)
#if __GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34)
#define HAVE_ADDCLOSEFROM 1
#endif
#endif

#define DEFAULT_GRACE 5.0                  /* seconds between SIGTERM and SIGKILL */
#define POLL_MIN_NS 1000000L               /* waiting: sleep 1 ms at first, */
#define POLL_MAX_NS 50000000L              /* doubling up to 50 ms */
#define TAIL_BYTES 65536                   /* how much of the end of stdout/stderr we read */
#define NO_OFFSET ((size_t)-1)

/* The variables this evaluator sets; inherited values of the same names are dropped. */
static const char *const own_vars[] = {"HB_CONFIG",          "HB_BUDGET",          "HB_TRIAL_ID",
                                       "HB_SEED",            "HB_TRIAL_DIR",       "HB_HOSTS",
                                       "HB_NRANKS",          "HB_CONFIG_ID",       "HB_CONFIG_SEED",
                                       "HB_PREVIOUS_BUDGET", "HB_PREVIOUS_TRIAL_DIR"};
#define N_OWN_VARS (sizeof own_vars / sizeof own_vars[0])

typedef struct cmd_eval {
    hb_evaluator base;
    char **fixed;          /* nfixed copies of the program and its fixed arguments */
    size_t nfixed;
    int search_path;       /* 1: argv[0] has no '/', use posix_spawnp */
    double timeout;        /* seconds, <= 0 none */
    double grace;          /* seconds */
    char *root;            /* absolute trial root */
    char *hosts;           /* HB_HOSTS or NULL */
    int nranks;            /* HB_NRANKS if > 0 */
    hb_buf strs;           /* the trial's argv and environment strings, NUL-separated */
    hb_buf path;           /* the trial directory and log paths */
    size_t *offs;          /* offsets into 'strs' */
    size_t noffs, offs_cap;
    char **vec;            /* argv pointers, NULL, envp pointers, NULL */
    size_t vec_cap;
    hb__cpus cpus;         /* for widening the child's CPU affinity */
} cmd_eval;

/* ---- small helpers ---- */

static void cmd_fini(hb_evaluator *ev)
{
    cmd_eval *ce = (cmd_eval *)ev;
    for (size_t i = 0; i < ce->nfixed; i++) hb_free(ce->fixed[i]);
    hb_free(ce->fixed);
    hb_free(ce->root);
    hb_free(ce->hosts);
    hb_buf_fini(&ce->strs);
    hb_buf_fini(&ce->path);
    hb_free(ce->offs);
    hb_free(ce->vec);
    hb__cpus_fini(&ce->cpus);
}

/* mkdir -p: create 'path' and its missing parents (0777 minus the umask). */
/* Is 'p' an executable regular file? */
static int is_program(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* Check that 'prog' can be run: a path as given, or a name found in $PATH as posix_spawnp
 * will look for it. */
int hb__eval_check_program(const char *opt, const char *prog, hb_error *err)
{
    if (strchr(prog, '/') != NULL) {
        if (is_program(prog)) return HB_OK;
        return hb_error_set(err, HB_EINVAL, NULL, "%s: cannot run '%s': %s", opt, prog,
                            access(prog, F_OK) != 0 ? strerror(errno) : "not an executable file");
    }
    const char *path = getenv("PATH");
    if (path == NULL) path = "/bin:/usr/bin";
    hb_buf b = HB_BUF_INIT;
    int found = 0;
    while (!found) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        hb_buf_reset(&b);
        if (n == 0) {
            hb_buf_puts(&b, "./");
        } else {
            hb_buf_append(&b, path, n);
            hb_buf_puts(&b, "/");
        }
        hb_buf_puts(&b, prog);
        if (b.failed) break;
        found = is_program(b.data);
        if (end == NULL) break;
        path = end + 1;
    }
    int failed = b.failed;
    hb_buf_fini(&b);
    if (failed) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    if (found) return HB_OK;
    return hb_error_set(err, HB_EINVAL, NULL,
                        "%s: cannot run '%s': no executable of that name in $PATH", opt, prog);
}

/* The name of signal 's' ("SIGSEGV"), or NULL. */
const char *hb__eval_signal_name(int s)
{
    switch (s) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGUSR1: return "SIGUSR1";
    case SIGSEGV: return "SIGSEGV";
    case SIGUSR2: return "SIGUSR2";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    case SIGCHLD: return "SIGCHLD";
    case SIGCONT: return "SIGCONT";
    case SIGSTOP: return "SIGSTOP";
    case SIGTSTP: return "SIGTSTP";
    case SIGTTIN: return "SIGTTIN";
    case SIGTTOU: return "SIGTTOU";
    case SIGURG: return "SIGURG";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    case SIGVTALRM: return "SIGVTALRM";
    case SIGPROF: return "SIGPROF";
    case SIGSYS: return "SIGSYS";
    default: return NULL;
    }
}

/* ---- the reason text ---- */

/* Append label'EXCERPT' to 'r': the last 'max' bytes at most of s[0..n) (cut at a UTF-8
 * character boundary, "..." in front when cut), control characters and bytes that are not
 * UTF-8 shown as '?', so that the reason is valid UTF-8 (the report JSON and the run file hold
 * it as a JSON string). Nothing is appended when fewer than 16 bytes of room are left. */
void hb__eval_reason_quote(char *r, size_t cap, const char *label, const char *s, size_t n, size_t max)
{
    size_t len = strlen(r), ll = strlen(label);
    if (len + ll + 16 >= cap) return;
    size_t room = cap - len - ll - 3; /* two quotes and the NUL */
    if (max > room) max = room;
    int cut = 0;
    if (n > max) {
        s += n - (max - 3);
        n = max - 3;
        cut = 1;
        while (n > 0 && ((unsigned char)*s & 0xC0) == 0x80) s++, n--;
    }
    char *w = r + len;
    memcpy(w, label, ll);
    w += ll;
    *w++ = '\'';
    if (cut) memcpy(w, "...", 3), w += 3;
    for (size_t i = 0; i < n;) {
        const unsigned char *c = (const unsigned char *)s + i;
        size_t k = hb_utf8_len(c, n - i);
        if (k == 0 || (k == 1 && (*c < 0x20 || *c == 0x7f))) {
            *w++ = '?';
            i++;
        } else {
            memcpy(w, c, k);
            w += k;
            i += k;
        }
    }
    *w++ = '\'';
    *w = '\0';
}

/* ---- reading what the program wrote ---- */

/* Read the last TAIL_BYTES at most of file 'path' into 'b' (reset first). Missing or
 * unreadable files read as empty. */
static void read_tail(const char *path, hb_buf *b)
{
    hb_buf_reset(b);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size > TAIL_BYTES)
        lseek(fd, st.st_size - TAIL_BYTES, SEEK_SET);
    char chunk[4096];
    size_t total = 0;
    for (;;) {
        ssize_t k = read(fd, chunk, sizeof chunk);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        if (hb_buf_append(b, chunk, (size_t)k) != HB_OK) break;
        if ((total += (size_t)k) >= TAIL_BYTES) break;
    }
    close(fd);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The last line of s[0..n) that is not blank, without surrounding white space. */
void hb__eval_last_line(const char *s, size_t n, const char **line, size_t *len)
{
    while (n > 0 && is_space(s[n - 1])) n--;
    size_t start = n;
    while (start > 0 && s[start - 1] != '\n') start--;
    while (start < n && is_space(s[start])) start++;
    *line = s + start;
    *len = n - start;
}

/* The line as a number: strtod must take all of it. */
static int parse_number(const char *line, size_t len, double *v)
{
    char tmp[128];
    if (len == 0 || len >= sizeof tmp) return 0;
    memcpy(tmp, line, len);
    tmp[len] = '\0';
    char *end = NULL;
    errno = 0;
    double d = strtod(tmp, &end);
    if (end == tmp || *end != '\0') return 0;
    *v = d; /* overflow gives +-HUGE_VAL: a non-finite loss, reported as nan */
    return 1;
}

/* Compact JSON of 'v' with numbers in their shortest round-trip form. */
static void write_json(hb_buf *b, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *m;
        int first = 1;
        hb_buf_puts(b, "{");
        json_object_foreach(v, k, m) {
            if (!first) hb_buf_puts(b, ",");
            first = 0;
            hb_buf_json_string(b, k);
            hb_buf_puts(b, ":");
            write_json(b, m);
        }
        hb_buf_puts(b, "}");
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *m;
        hb_buf_puts(b, "[");
        json_array_foreach(v, i, m) {
            if (i) hb_buf_puts(b, ",");
            write_json(b, m);
        }
        hb_buf_puts(b, "]");
        break;
    }
    case JSON_STRING: hb_buf_json_string(b, json_string_value(v)); break;
    case JSON_INTEGER: hb_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: hb_buf_json_number(b, json_real_value(v)); break;
    case JSON_TRUE: hb_buf_puts(b, "true"); break;
    case JSON_FALSE: hb_buf_puts(b, "false"); break;
    default: hb_buf_puts(b, "null"); break;
    }
}

/* The members of 'obj' other than "loss" and "spent" (the budget spent) as a compact JSON object in 'out' (capacity 'cap').
 * Members that do not fit are left out, and "_truncated" then says how many. */
static void extras_json(json_t *obj, char *out, size_t cap)
{
    hb_buf acc = HB_BUF_INIT, one = HB_BUF_INIT;
    const char *k;
    json_t *m;
    size_t skipped = 0, kept = 0;
    out[0] = '\0';
    hb_buf_puts(&acc, "{");
    json_object_foreach(obj, k, m) {
        if (strcmp(k, "loss") == 0 || strcmp(k, "spent") == 0) continue;
        hb_buf_reset(&one);
        if (kept) hb_buf_puts(&one, ",");
        hb_buf_json_string(&one, k);
        hb_buf_puts(&one, ":");
        write_json(&one, m);
        /* keep room for the closing brace and a "_truncated" member */
        if (!one.failed && acc.len + one.len + 24 < cap) {
            hb_buf_append(&acc, one.data, one.len);
            kept++;
        } else {
            skipped++;
        }
    }
    if (skipped) hb_buf_printf(&acc, "%s\"_truncated\":%zu", kept ? "," : "", skipped);
    hb_buf_puts(&acc, "}");
    if (!acc.failed && (kept || skipped) && acc.len < cap) memcpy(out, acc.data, acc.len + 1);
    hb_buf_fini(&acc);
    hb_buf_fini(&one);
}

void hb__eval_cmd_read_loss(const char *so, size_t so_len, const char *se, size_t se_len, hb_eval_result *out)
{
    const char *line, *eline;
    size_t len, elen;
    hb__eval_last_line(so, so_len, &line, &len);
    hb__eval_last_line(se, se_len, &eline, &elen);
    double v;
    if (len > 0 && line[0] == '{') {
        json_error_t je;
        json_t *root = json_loadb(line, len, 0, &je);
        json_t *loss = json_is_object(root) ? json_object_get(root, "loss") : NULL;
        if (json_is_number(loss) || json_is_null(loss)) {
            hb__eval_result_loss(out, json_is_null(loss) ? NAN : json_number_value(loss));
            extras_json(root, out->extras, sizeof out->extras);
            /* A program that continued from the previous rung's checkpoint says what it spent. */
            json_t *spent = json_object_get(root, "spent");
            if (json_is_number(spent) && json_number_value(spent) >= 0) out->spent = json_number_value(spent);
            json_decref(root);
            return;
        }
        hb__eval_result_fail(out, HB_TRIAL_FAILED, "%s",
                             root ? "the JSON object on the last line of stdout has no numeric "
                                    "\"loss\": "
                                  : "cannot read a loss from the last line of stdout: ");
        json_decref(root);
    } else if (parse_number(line, len, &v)) {
        hb__eval_result_loss(out, v);
        return;
    } else {
        hb__eval_result_fail(out, HB_TRIAL_FAILED,
                             "cannot read a loss from the last line of stdout: ");
    }
    hb__eval_reason_quote(out->reason, sizeof out->reason, "", line, len, 120);
    if (elen) hb__eval_reason_quote(out->reason, sizeof out->reason, "; stderr: ", eline, elen, 200);
}

/* ---- CPU affinity (ENVIRONMENT.md §4) ---- */

void hb__cpus_setup(hb__cpus *c)
{
    memset(c, 0, sizeof *c);
    for (size_t ncpu = 1024; ncpu <= ((size_t)1 << 20); ncpu *= 2) {
        size_t size = CPU_ALLOC_SIZE(ncpu);
        cpu_set_t *s = hb_calloc(1, size);
        if (s == NULL) return;
        if (sched_getaffinity(0, size, s) == 0) {
            c->saved = s;
            c->size = size;
            if ((c->all = hb_malloc(size)) != NULL) {
                memset(c->all, 0xff, size); /* every CPU; the kernel keeps the allowed */
            } else {
                hb_free(c->saved);
                c->saved = NULL;
            }
            return;
        }
        hb_free(s);
        if (errno != EINVAL) return;
    }
}

int hb__cpus_widen(hb__cpus *c)
{
    if (c->saved == NULL) return 0;
    if (sched_getaffinity(0, c->size, (cpu_set_t *)c->saved) != 0) return 0;
    return sched_setaffinity(0, c->size, (cpu_set_t *)c->all) == 0;
}

void hb__cpus_restore(hb__cpus *c) { sched_setaffinity(0, c->size, (cpu_set_t *)c->saved); }

void hb__cpus_fini(hb__cpus *c)
{
    hb_free(c->saved);
    hb_free(c->all);
    memset(c, 0, sizeof *c);
}

/* ---- one trial ---- */

static int push_off(cmd_eval *ce, size_t off)
{
    if (ce->noffs == ce->offs_cap) {
        size_t c = ce->offs_cap ? 2 * ce->offs_cap : 32;
        size_t *p = hb_realloc(ce->offs, c * sizeof *p);
        if (p == NULL) return HB_ENOMEM;
        ce->offs = p;
        ce->offs_cap = c;
    }
    ce->offs[ce->noffs++] = off;
    return HB_OK;
}

/* Append one NUL-terminated string to 'strs' built by printf and remember where it starts. */
static int push_str(cmd_eval *ce, const char *fmt, ...) HB_PRINTF(2, 3);
static int push_str(cmd_eval *ce, const char *fmt, ...)
{
    size_t off = ce->strs.len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return HB_EINVAL;
    char *tmp = hb_malloc((size_t)n + 1);
    if (tmp == NULL) return HB_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    hb_buf_append(&ce->strs, tmp, (size_t)n + 1);
    hb_free(tmp);
    return ce->strs.failed ? HB_ENOMEM : push_off(ce, off);
}

int hb__eval_env_named(const char *entry, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (strncmp(entry, names[i], len) == 0 && entry[len] == '=') return 1;
    }
    return 0;
}

/* A budget as the program sees it: a whole number without a point ("9"), else the shortest
 * text that reads back exactly. */
static void budget_text(double b, char *out, size_t n)
{
    if (floor(b) == b && fabs(b) < 1e15)
        snprintf(out, n, "%.0f", b);
    else
        hb_format_double(out, n, b);
}

/* Build argv (fixed + --name=value + --budget=B) and the environment into ce->vec; '*envp'
 * receives where the environment starts. */
static int build_vectors(cmd_eval *ce, const hb_eval_job *job, const char *dir, const char *prev_dir,
                         char ***envp, hb_error *err)
{
    const hb_space *sp = ce->base.space;
    char budget[48];
    int rc = HB_OK;
    budget_text(job->budget, budget, sizeof budget);

    hb_buf_reset(&ce->strs);
    ce->noffs = 0;
    /* argv: each active parameter as --name=value, the value verbatim */
    for (size_t i = 0; i < ce->base.dim && rc == HB_OK; i++) {
        if (isnan(job->x[i])) continue;
        size_t off = ce->strs.len;
        hb_buf_puts(&ce->strs, "--");
        hb_buf_puts(&ce->strs, hb_space_name(sp, i));
        hb_buf_puts(&ce->strs, "=");
        if ((rc = hb_space_value_text(sp, i, job->x[i], &ce->strs, err)) != HB_OK) return rc;
        hb_buf_append(&ce->strs, "", 1);
        rc = ce->strs.failed ? HB_ENOMEM : push_off(ce, off);
    }
    if (rc == HB_OK) rc = push_str(ce, "--budget=%s", budget);
    size_t nargs = ce->noffs;
    /* our environment variables */
    if (rc == HB_OK) {
        size_t off = ce->strs.len;
        hb_buf_puts(&ce->strs, "HB_CONFIG=");
        hb_space_config_json(sp, job->x, &ce->strs);
        hb_buf_append(&ce->strs, "", 1);
        rc = ce->strs.failed ? HB_ENOMEM : push_off(ce, off);
    }
    if (rc == HB_OK) rc = push_str(ce, "HB_BUDGET=%s", budget);
    if (rc == HB_OK) rc = push_str(ce, "HB_TRIAL_ID=%llu", (unsigned long long)job->id);
    if (rc == HB_OK) rc = push_str(ce, "HB_SEED=%llu", (unsigned long long)job->seed);
    if (rc == HB_OK) rc = push_str(ce, "HB_TRIAL_DIR=%s", dir);
    if (rc == HB_OK) rc = push_str(ce, "HB_CONFIG_ID=%llu", (unsigned long long)job->config);
    if (rc == HB_OK) rc = push_str(ce, "HB_CONFIG_SEED=%llu", (unsigned long long)job->config_seed);
    if (rc == HB_OK && prev_dir) {
        char pb[48];
        budget_text(job->prev_budget, pb, sizeof pb);
        rc = push_str(ce, "HB_PREVIOUS_BUDGET=%s", pb);
        if (rc == HB_OK) rc = push_str(ce, "HB_PREVIOUS_TRIAL_DIR=%s", prev_dir);
    }
    if (rc == HB_OK && ce->hosts) rc = push_str(ce, "HB_HOSTS=%s", ce->hosts);
    if (rc == HB_OK && ce->nranks > 0) rc = push_str(ce, "HB_NRANKS=%d", ce->nranks);
    if (rc != HB_OK) return hb_error_set(err, rc, NULL, "out of memory");

    size_t nenv = 0;
    for (char **e = environ; e && *e; e++) nenv++;
    size_t need = ce->nfixed + nargs + 1 + (ce->noffs - nargs) + nenv + 1;
    if (need > ce->vec_cap) {
        char **v = hb_realloc(ce->vec, need * sizeof *v);
        if (v == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        ce->vec = v;
        ce->vec_cap = need;
    }
    size_t w = 0;
    for (size_t i = 0; i < ce->nfixed; i++) ce->vec[w++] = ce->fixed[i];
    for (size_t i = 0; i < nargs; i++) ce->vec[w++] = ce->strs.data + ce->offs[i];
    ce->vec[w++] = NULL;
    *envp = ce->vec + w;
    for (char **e = environ; e && *e; e++)
        if (!hb__eval_env_named(*e, own_vars, N_OWN_VARS)) ce->vec[w++] = *e;
    for (size_t i = nargs; i < ce->noffs; i++) ce->vec[w++] = ce->strs.data + ce->offs[i];
    ce->vec[w] = NULL;
    return HB_OK;
}

/* Open a log file for the child, as a descriptor >= 3 with close-on-exec. */
int hb__eval_open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0 && fd < 3) {
        int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        close(fd);
        fd = hi;
    }
    return fd;
}

/* Start the program; 0 or an errno value. */
static int spawn_child(cmd_eval *ce, char **envp, int fo, int fe, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dflt;
    int e = posix_spawn_file_actions_init(&fa);
    if (e != 0) return e;
    if ((e = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return e;
    }
    sigemptyset(&none);
    sigfillset(&dflt); /* every signal back to its default action (handled ones are anyway) */
    sigdelset(&dflt, SIGKILL);
    sigdelset(&dflt, SIGSTOP);
    if (e == 0) e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (e == 0) e = posix_spawn_file_actions_adddup2(&fa, fo, 1);
    if (e == 0) e = posix_spawn_file_actions_adddup2(&fa, fe, 2);
#ifdef HAVE_ADDCLOSEFROM
    if (e == 0) e = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    if (e == 0)
        e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                              POSIX_SPAWN_SETSIGDEF);
    if (e == 0) e = posix_spawnattr_setpgroup(&at, 0);
    if (e == 0) e = posix_spawnattr_setsigmask(&at, &none);
    if (e == 0) e = posix_spawnattr_setsigdefault(&at, &dflt);
    if (e == 0) {
        int widened = hb__cpus_widen(&ce->cpus);
        if (ce->search_path)
            e = posix_spawnp(pid, ce->vec[0], &fa, &at, ce->vec, envp);
        else
            e = posix_spawn(pid, ce->vec[0], &fa, &at, ce->vec, envp);
        if (widened) hb__cpus_restore(&ce->cpus);
    }
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return e;
}

typedef enum ending { END_EXITED, END_TIMEOUT, END_INTERRUPTED, END_LOST } ending;

static void sleep_ns(long ns)
{
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    nanosleep(&ts, NULL); /* a signal only shortens one poll interval */
}

/* Wait for the child 'pid' (leader of process group 'pid') without spinning: poll with
 * waitid(WNOHANG) and sleeps from 1 ms doubling to 50 ms. On timeout or interrupt: SIGTERM
 * (and SIGCONT) to the group, SIGKILL after the grace time. Once the leader has exited, and
 * while it is still a zombie (so the group id cannot have been reused), SIGKILL whatever is
 * left in its group (orphaned grandchildren); then reap the leader. */
static ending wait_child(cmd_eval *ce, pid_t pid, int *wstatus)
{
    double t0 = hb_now(), kill_at = 0;
    enum { RUNNING, TERMINATING, KILLED } phase = RUNNING;
    ending how = END_EXITED;
    long ns = POLL_MIN_NS;
    *wstatus = 0;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
            if (errno == EINTR) continue;
            how = END_LOST; /* ECHILD: SIGCHLD ignored, or someone else reaped it */
            break;
        }
        if (si.si_pid == pid) break; /* exited; still a zombie */
        double now = hb_now();
        if (phase == RUNNING) {
            int late = ce->timeout > 0 && now - t0 >= ce->timeout;
            if (late || hb__eval_interrupted()) {
                how = late ? END_TIMEOUT : END_INTERRUPTED;
                kill(-pid, SIGTERM);
                kill(-pid, SIGCONT); /* a stopped program must run to see SIGTERM */
                phase = TERMINATING;
                kill_at = now + ce->grace;
                ns = POLL_MIN_NS;
                continue;
            }
        } else if (phase == TERMINATING && now >= kill_at) {
            kill(-pid, SIGKILL);
            phase = KILLED;
            ns = POLL_MIN_NS;
            continue;
        }
        /* never sleep past the next deadline by more than the poll interval */
        long nap = ns;
        double next = phase == RUNNING ? (ce->timeout > 0 ? t0 + ce->timeout : INFINITY)
                                       : (phase == TERMINATING ? kill_at : INFINITY);
        if (isfinite(next) && (next - now) * 1e9 < (double)nap)
            nap = (next - now) * 1e9 > 1e5 ? (long)((next - now) * 1e9) : 100000L;
        sleep_ns(nap);
        if ((ns *= 2) > POLL_MAX_NS) ns = POLL_MAX_NS;
    }
    kill(-pid, SIGKILL); /* orphans left in the group (the zombie leader ignores it) */
    if (how != END_LOST) {
        while (waitpid(pid, wstatus, 0) < 0 && errno == EINTR) {
        }
    }
    return how;
}

static int cmd_run(hb_evaluator *ev, const hb_eval_job *job, hb_eval_result *out, hb_error *err)
{
    cmd_eval *ce = (cmd_eval *)ev;
    int rc;
    if (hb__eval_interrupted()) { /* hbmpi is stopping: start nothing new */
        hb__eval_result_fail(out, HB_TRIAL_LOST, "interrupted");
        return HB_OK;
    }
    /* the trial directory: ROOT/trial-ID, then ROOT/trial-ID/stdout and .../stderr */
    hb_buf *p = &ce->path;
    hb_buf_reset(p);
    unsigned long long id = (unsigned long long)job->id;
    hb__eval_trial_dir(p, ce->root, id);
    hb_buf_append(p, "", 1);
    size_t out_off = p->len;
    hb__eval_trial_dir(p, ce->root, id);
    hb_buf_puts(p, "/stdout");
    hb_buf_append(p, "", 1);
    size_t err_off = p->len;
    hb__eval_trial_dir(p, ce->root, id);
    hb_buf_puts(p, "/stderr");
    hb_buf_append(p, "", 1);
    size_t prev_off = p->len;
    if (job->prev != HB_NO_JOB) hb__eval_trial_dir(p, ce->root, job->prev);
    if (p->failed) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    int e = hb__eval_mkdir_p(p->data);
    if (e != 0)
        return hb_error_set(err, e == ENOMEM ? HB_ENOMEM : HB_EIO, NULL,
                            "cannot create the trial directory %s: %s", p->data, strerror(e));

    char **envp = NULL;
    if ((rc = build_vectors(ce, job, p->data, job->prev != HB_NO_JOB ? p->data + prev_off : NULL, &envp, err)) !=
        HB_OK)
        return rc;

    int fo = hb__eval_open_log(p->data + out_off);
    if (fo < 0)
        return hb_error_set(err, HB_EIO, NULL, "cannot create %s: %s", p->data + out_off,
                            strerror(errno));
    int fe = hb__eval_open_log(p->data + err_off);
    if (fe < 0) {
        e = errno;
        close(fo);
        return hb_error_set(err, HB_EIO, NULL, "cannot create %s: %s", p->data + err_off,
                            strerror(e));
    }
    pid_t pid = -1;
    e = spawn_child(ce, envp, fo, fe, &pid);
    close(fo);
    close(fe);
    if (e != 0) {
        hb__eval_result_fail(out, HB_TRIAL_FAILED, "cannot start %s: %s", ce->fixed[0],
                             strerror(e));
        return HB_OK;
    }

    int ws = 0;
    ending how = wait_child(ce, pid, &ws);

    hb_buf so = HB_BUF_INIT, se = HB_BUF_INIT;
    read_tail(p->data + out_off, &so);
    read_tail(p->data + err_off, &se);
    const char *line;
    size_t len;
    hb__eval_last_line(se.data ? se.data : "", se.len, &line, &len);
    if (how == END_TIMEOUT) {
        hb__eval_result_fail(out, HB_TRIAL_TIMEOUT, "timed out after %g s", ce->timeout);
    } else if (how == END_INTERRUPTED) {
        hb__eval_result_fail(out, HB_TRIAL_LOST, "interrupted");
    } else if (how == END_LOST) {
        hb__eval_result_fail(out, HB_TRIAL_FAILED,
                             "lost track of process %ld (is SIGCHLD ignored in hbmpi?)", (long)pid);
    } else if (WIFSIGNALED(ws)) {
        int s = WTERMSIG(ws);
        const char *name = hb__eval_signal_name(s);
        hb__eval_result_fail(out, HB_TRIAL_CRASHED, "killed by signal %d (%s)%s", s,
                             name ? name : "unknown", WCOREDUMP(ws) ? ", core dumped" : "");
        if (len) hb__eval_reason_quote(out->reason, sizeof out->reason, "; stderr: ", line, len, 200);
    } else if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0) {
        hb__eval_result_fail(out, HB_TRIAL_FAILED, "exit status %d", WEXITSTATUS(ws));
        if (len) {
            hb__eval_reason_quote(out->reason, sizeof out->reason, "; stderr: ", line, len, 200);
        } else {
            hb__eval_last_line(so.data ? so.data : "", so.len, &line, &len);
            if (len) hb__eval_reason_quote(out->reason, sizeof out->reason, "; stdout: ", line, len, 200);
        }
    } else {
        hb__eval_cmd_read_loss(so.data ? so.data : "", so.len, se.data ? se.data : "", se.len, out);
    }
    hb_buf_fini(&so);
    hb_buf_fini(&se);
    return HB_OK;
}

static const hb__eval_ops cmd_ops = {"cmd", cmd_run, cmd_fini};

int hb_eval_cmd_create(int argc, char *const *argv, const hb_space *sp, const hb_cmd_options *o,
                       hb_evaluator **out, hb_error *err)
{
    if (out == NULL) return hb_error_set(err, HB_EINVAL, NULL, "hb_eval_cmd_create: out is NULL");
    *out = NULL;
    if (sp == NULL || argc < 1 || argv == NULL)
        return hb_error_set(err, HB_EINVAL, NULL, "--eval-cmd needs a program");
    for (int i = 0; i < argc; i++)
        if (argv[i] == NULL)
            return hb_error_set(err, HB_EINVAL, NULL, "--eval-cmd: argument %d is NULL", i);
    if (argv[0][0] == '\0')
        return hb_error_set(err, HB_EINVAL, NULL, "--eval-cmd: empty program name");
    if (o != NULL && (isnan(o->timeout) || isnan(o->grace)))
        return hb_error_set(err, HB_EINVAL, NULL, "--eval-cmd: the timeout is not a number");
    int rc = hb__eval_check_program("--eval-cmd", argv[0], err);
    if (rc != HB_OK) return rc;

    cmd_eval *ce = hb_calloc(1, sizeof *ce);
    if (ce == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    hb__eval_init(&ce->base, &cmd_ops, sp);
    ce->strs = (hb_buf)HB_BUF_INIT;
    ce->path = (hb_buf)HB_BUF_INIT;
    ce->search_path = strchr(argv[0], '/') == NULL;
    ce->timeout = o && o->timeout > 0 && isfinite(o->timeout) ? o->timeout : 0;
    ce->grace = o && o->grace > 0 ? o->grace : DEFAULT_GRACE;
    if (ce->grace > 1e6) ce->grace = 1e6;
    ce->nranks = o ? o->nranks : 0;
    if ((ce->fixed = hb_calloc((size_t)argc, sizeof *ce->fixed)) == NULL) goto nomem;
    for (int i = 0; i < argc; i++) {
        if ((ce->fixed[i] = hb_strdup(argv[i])) == NULL) goto nomem;
        ce->nfixed++;
    }
    if (o && o->hosts && (ce->hosts = hb_strdup(o->hosts)) == NULL) goto nomem;
    if ((rc = hb__eval_root(o ? o->trial_root : NULL, &ce->root, err)) != HB_OK) goto fail;
    hb__cpus_setup(&ce->cpus);
    *out = &ce->base;
    return HB_OK;
nomem:
    rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
fail:
    hb_eval_free(&ce->base);
    return rc;
}
