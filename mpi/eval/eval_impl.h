/* eval_impl.h — what the evaluator files share (eval.c, eval_kernel.c, eval_lib.c, eval_cmd.c):
 * the evaluator's common header and ops table, result helpers, the text of a parameter value,
 * an interruptible sleep and the process-wide interrupt flag. Seen only by mpi/eval/ and
 * their tests; the runtime uses hb_eval.h. */
#ifndef HB_EVAL_IMPL_H
#define HB_EVAL_IMPL_H

#include "hb_buf.h"
#include "hb_clock.h"
#include "hb_eval.h"

typedef struct hb__eval_ops {
    const char *name;                                   /* "kernel" | "lib" | "cmd" */
    int (*run)(hb_evaluator *ev, const hb_eval_job *job, hb_eval_result *out, hb_error *err);
    void (*fini)(hb_evaluator *ev);                     /* frees what the type owns, not ev */
} hb__eval_ops;

/* The common head of every evaluator; each type puts it first in its own struct. */
struct hb_evaluator {
    const hb__eval_ops *ops;
    const hb_space *space;  /* borrowed */
    size_t dim;             /* hb_space_dim(space) */
    MPI_Comm comm;          /* set by hb_eval_set_comm; meaningful when has_comm */
    int has_comm;
};

/* Fill the common head (every other field of the type's struct is the caller's). */
void hb__eval_init(hb_evaluator *ev, const hb__eval_ops *ops, const hb_space *sp);

/* A result that says nothing yet: loss NaN, status failed, empty reason and extras. */
void hb__eval_result_init(hb_eval_result *r);
/* Status ok with 'loss', or status nan (with a reason) if 'loss' is NaN or infinite. */
void hb__eval_result_loss(hb_eval_result *r, double loss);
/* Status 'st' with a reason (truncated to fit). */
void hb__eval_result_fail(hb_eval_result *r, hb_trial_status st, const char *fmt, ...)
    HB_PRINTF(3, 4);

/* The command evaluator's reading of what a program that exited with status 0 wrote: the loss
 * from the last non-blank line of stdout 'so' ('so_len' bytes, any bytes): a bare number, or a
 * JSON object with a numeric (or null) "loss", whose other members become out->extras and whose
 * "spent" sets out->spent. Anything else fails the trial with a reason that quotes the line and
 * the last line of stderr 'se'. 'out' must have been set by hb__eval_result_init. */
void hb__eval_cmd_read_loss(const char *so, size_t so_len, const char *se, size_t se_len, hb_eval_result *out);

/* Shared by the command and server evaluators (eval_cmd.c). */
/* Check that 'prog' can be run (a path, or a name in $PATH); errors name option 'opt'. */
int hb__eval_check_program(const char *opt, const char *prog, hb_error *err);
/* "SIGSEGV" for SIGSEGV..., NULL for a signal without a name here. */
const char *hb__eval_signal_name(int s);
/* Append label'EXCERPT' to the reason 'r' (capacity 'cap'): the last 'max' bytes at most of
 * s[0..n), "..." in front when cut, control characters and bytes that are not UTF-8 as '?'. */
void hb__eval_reason_quote(char *r, size_t cap, const char *label, const char *s, size_t n, size_t max);
/* Is environment entry "NAME=..." one of names[0..n)? */
int hb__eval_env_named(const char *entry, const char *const *names, size_t n);
/* Create (truncate) a trial's log file for a child: close-on-exec, never descriptor 0, 1 or 2. */
int hb__eval_open_log(const char *path);
/* The last line of s[0..n) that is not blank, without surrounding white space. */
void hb__eval_last_line(const char *s, size_t n, const char **line, size_t *len);
/* Widening a child's CPU affinity to every CPU this process may use (ENVIRONMENT.md §4): the
 * calling thread's mask is widened around the spawn and restored after. */
typedef struct hb__cpus {
    void *saved, *all;      /* cpu_set_t masks; NULL when unsupported */
    size_t size;
} hb__cpus;
void hb__cpus_setup(hb__cpus *c);
int hb__cpus_widen(hb__cpus *c);    /* 1: hb__cpus_restore must follow */
void hb__cpus_restore(hb__cpus *c);
void hb__cpus_fini(hb__cpus *c);

/* The numeric value of parameter 'i' at native value 'v': the value of a float or int, the
 * number of a numeric choice; NaN for an inactive parameter or a string choice. */
double hb__eval_value_number(const hb_space *sp, size_t i, double v);

/* mkdir -p 'path': 0, or the errno of what failed (ENOTDIR: it exists and is no directory). */
int hb__eval_mkdir_p(const char *path);
/* Create 'root' (NULL or "": HB_DEFAULT_TRIAL_ROOT) and give its absolute path in '*abs'
 * (hb_malloc'd), so that programs started elsewhere find it. */
int hb__eval_root(const char *root, char **abs, hb_error *err);
/* Append "ROOT/trial-ID" to 'b' (no NUL). A trial's directory: its command runs there and leaves
 * its checkpoint; the next rung of the same configuration continues from it. */
void hb__eval_trial_dir(hb_buf *b, const char *root, uint64_t id);

/* Sleep 'seconds' of monotonic time, resuming after signals; returns early (1) when
 * hb_eval_interrupt() was called, else 0. */
int hb__eval_sleep(double seconds);

/* 1 once hb_eval_interrupt() was called or the poll hook (hb_eval_set_poll) said so. */
int hb__eval_interrupted(void);

#endif
