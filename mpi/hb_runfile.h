/* hb_runfile.h — `run --out` and `--warm-start` (start a run file, or take one up again after a
 * kill, a signal or a finished run), and the read side that `hbmpi report` and a finished run's
 * summary use. Rank 0 only. The file itself is src/store/; the log is src/runlog.c. */
#ifndef HB_RUNFILE_H
#define HB_RUNFILE_H

#include <stdio.h>

#include "hb_buf.h"
#include "hb_opt.h"
#include "hb_report.h"
#include "hb_runlog.h"
#include "hb_space.h"

struct hb_store;

typedef struct hb_runfile_spec {
    const char *out;            /* --out, or NULL */
    const char *warm;           /* --warm-start, or NULL */
    const char *kernel_label;   /* --kernel as given, or NULL */
    int eval_argc;              /* --eval-cmd */
    char *const *eval_argv;
    const char *eval_lib;       /* --eval-lib */
    const hb_space *space;
    const hb_opt_settings *settings; /* as given (max_open_brackets 0 when not set) */
    int reproducible;
    int eval_server;            /* eval_argv is --eval-server's */
} hb_runfile_spec;

typedef struct hb_runfile {
    hb_runlog log;              /* events so far (warm-start observations, earlier sessions) */
    struct hb_store *store;     /* NULL without --out */
    char *header;
    char *session_info;
    int session;                /* this session's number */
    double time_offset;         /* run time of the earlier sessions */
    int resumed;                /* the file existed */
    int finished;               /* it holds a finished run and no limit was raised: nothing to do */
    int max_open_brackets;      /* the value the earlier sessions resolved (> 0), or 0 */
    int have_log;               /* the log is in use (a run file or a warm start) */
} hb_runfile;

/* Open or create --out and read --warm-start. Errors: HB_EINVAL / HB_ESYNTAX (exit 2: a file
 * that belongs to another run, a different space or settings, named in the message), HB_EIO... */
int hb_runfile_begin(const hb_runfile_spec *rs, hb_runfile *rf, hb_error *err);
/* Hand the run file's log to a run: spec's log, store, session, time offset and session info,
 * and the earlier sessions' max_open_brackets unless spec sets one. Nothing without a log. */
struct hb_run_spec;
void hb_runfile_attach(hb_runfile *rf, struct hb_run_spec *spec);
/* Final checkpoint and unlock (when a store is open); frees everything. */
int hb_runfile_end(hb_runfile *rf, hb_error *err);

/* A run file as reports see it. */
typedef struct hb_run_view {
    char *header;
    hb_runlog log;
    hb_space *space;
    char *kernel;               /* NULL for a user objective */
    char *objective;            /* a line that describes the objective */
    hb_opt_settings settings;   /* optimizer and seed (the rest is in settings_json) */
    char *optimizer;
    char *settings_json;        /* as the last session resolved them */
    double wall_seconds;
    int workers;                /* the last session's */
    hb_session_span *spans;     /* each session's start and workers ('sessions' of them) */
    int state;                  /* HB_VIEW_FINISHED, _STOPPED (signal), _RUNNING (or killed) */
    size_t sessions, interrupted;
    hb_trial *trials;
    size_t n;
    char *damage;               /* what is wrong with the file when it was salvaged, else NULL */
} hb_run_view;

enum { HB_VIEW_RUNNING = 0, HB_VIEW_FINISHED = 1, HB_VIEW_STOPPED = 2 };

/* Read a run file. With 'salvage', a damaged one gives what can be read of it (hb_store_salvage)
 * and v->damage says what is wrong; without, it is HB_EDAMAGED. */
int hb_run_view_load(const char *path, hb_run_view *v, int salvage, hb_error *err);
/* `hbmpi repair DAMAGED.h5 NEW.h5`: what can be read of DAMAGED into a new run file. */
int hb_run_repair(const char *from, const char *to, size_t *events, char **damage, hb_error *err);
void hb_run_view_fini(hb_run_view *v);
/* The report JSON of CLI.md: what `run --json` printed for the same run. */
int hb_run_view_json(const hb_run_view *v, hb_buf *out);
/* The same, written to 'out'; HB_ENOMEM if it could not be made. */
int hb_run_view_print_json(const hb_run_view *v, FILE *out);

#endif
