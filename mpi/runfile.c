/* runfile.c — starting, resuming and reading run files (hb_runfile.h, docs/runfile.md).
 *
 * The header (JSON, written once per session) says what the run is: the objective, optimizer,
 * seed, space, settings as given, --reproducible and --warm-start. Running the same command
 * again compares every one of them with the file's (the stop rules may change: a raised limit
 * continues a finished run) and refuses, naming the first difference, when they disagree. */
#define _GNU_SOURCE
#include "hb_runfile.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hb_runtime.h"
#include "hb_signals.h"
#include "hb_slurm.h"
#include "hb_store_h5.h"

static const char *const limit_keys[] = {"max_evals", "iterations", "max_total_budget", NULL};

static int is_limit(const char *k)
{
    for (int i = 0; limit_keys[i]; i++)
        if (!strcmp(k, limit_keys[i])) return 1;
    return 0;
}

static void iso_now(char *out, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *parse(const char *text)
{
    return text ? json_loads(text, 0, NULL) : NULL;
}

/* The header of this command. */
static char *make_header(const hb_runfile_spec *rs, const char *created)
{
    hb_buf b = HB_BUF_INIT;
    hb_buf_puts(&b, "{\"format\": \"hbmpi-run\", \"format_version\": 1, \"hbmpi_version\": \"" HB_VERSION_STRING
                    "\", \"created\": ");
    hb_buf_json_string(&b, created);
    hb_buf_puts(&b, ", \"objective\": ");
    if (rs->kernel_label && rs->eval_argc == 0 && rs->eval_lib == NULL) {
        hb_buf_puts(&b, "{\"kernel\": ");
        hb_buf_json_string(&b, rs->kernel_label);
        hb_buf_puts(&b, "}");
    } else if (rs->eval_lib) {
        hb_buf_puts(&b, "{\"library\": ");
        hb_buf_json_string(&b, rs->eval_lib);
        hb_buf_puts(&b, "}");
    } else {
        hb_buf_puts(&b, rs->eval_server ? "{\"server\": [" : "{\"command\": [");
        for (int i = 0; i < rs->eval_argc; i++) {
            if (i) hb_buf_puts(&b, ", ");
            hb_buf_json_string(&b, rs->eval_argv[i]);
        }
        hb_buf_puts(&b, "]}");
    }
    hb_buf_puts(&b, ", \"kernel\": ");
    if (rs->kernel_label)
        hb_buf_json_string(&b, rs->kernel_label);
    else
        hb_buf_puts(&b, "null");
    hb_buf_puts(&b, ", \"optimizer\": ");
    hb_buf_json_string(&b, rs->settings->optimizer);
    hb_buf_printf(&b, ", \"seed\": %llu, \"reproducible\": %d, \"warm_start\": ",
                  (unsigned long long)rs->settings->seed, rs->reproducible);
    if (rs->warm)
        hb_buf_json_string(&b, rs->warm);
    else
        hb_buf_puts(&b, "null");
    hb_buf_puts(&b, ", \"settings\": ");
    hb_report_settings_json(rs->settings, &b);
    hb_buf_puts(&b, ", \"space\": ");
    hb_space_json(rs->space, &b);
    hb_buf_puts(&b, "}");
    if (b.failed) {
        hb_buf_fini(&b);
        return NULL;
    }
    return b.data;
}

/* Host, process and Slurm job of this session, as JSON. */
static char *make_session_info(void)
{
    char host[256] = "", when[32];
    gethostname(host, sizeof host - 1);
    iso_now(when, sizeof when);
    hb_buf b = HB_BUF_INIT;
    hb_buf_puts(&b, "{\"host\": ");
    hb_buf_json_string(&b, host);
    hb_buf_printf(&b, ", \"pid\": %ld, \"started\": \"%s\", \"slurm\": ", (long)getpid(), when);
    double job_end = hb_slurm_job_end();
    static const char *const vars[] = {"SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
                                       "SLURM_JOB_NODELIST", "SLURM_RESTART_COUNT", "SLURM_JOB_NAME", NULL};
    if (getenv("SLURM_JOB_ID")) {
        hb_buf_puts(&b, "{");
        int first = 1;
        for (int i = 0; vars[i]; i++) {
            const char *v = getenv(vars[i]);
            if (v == NULL) continue;
            hb_buf_printf(&b, "%s\"%s\": ", first ? "" : ", ", vars[i]);
            hb_buf_json_string(&b, v);
            first = 0;
        }
        if (job_end > 0) hb_buf_printf(&b, ", \"job_end_epoch\": %.0f", job_end);
        hb_buf_puts(&b, "}");
    } else {
        hb_buf_puts(&b, "null");
    }
    hb_buf_puts(&b, "}");
    if (b.failed) {
        hb_buf_fini(&b);
        return NULL;
    }
    return b.data;
}

static void value_text(const json_t *v, char *out, size_t n)
{
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    snprintf(out, n, "%s", s ? s : "(none)");
    if (strlen(out) > 60) strcpy(out + 57, "...");
    hb_free(s); /* jansson allocates with hb_malloc_counted (main.c) */
}

/* The first way the space 'a' (the file's) differs from 'b' (this command's). */
static void space_difference(const json_t *a, const json_t *b, char *out, size_t n)
{
    const json_t *pa = json_object_get(a, "parameters"), *pb = json_object_get(b, "parameters");
    if (json_is_array(pa) && json_is_array(pb)) {
        size_t i;
        const json_t *p;
        json_array_foreach(pa, i, p) {
            const char *name = json_string_value(json_object_get(p, "name"));
            const json_t *q = i < json_array_size(pb) ? json_array_get(pb, i) : NULL;
            if (q == NULL) {
                snprintf(out, n, "parameter '%s' is missing", name ? name : "?");
                return;
            }
            if (!json_equal(p, q)) {
                snprintf(out, n, "parameter '%s' differs", name ? name : "?");
                return;
            }
        }
        if (json_array_size(pb) > json_array_size(pa)) {
            const char *name = json_string_value(json_object_get(json_array_get(pb, json_array_size(pa)), "name"));
            snprintf(out, n, "parameter '%s' is new", name ? name : "?");
            return;
        }
    }
    snprintf(out, n, "its conditions or forbidden clauses differ");
}

/* Compare the file's header with this command's: HB_OK, or HB_EINVAL naming the difference. */
static int compare_headers(const char *path, const char *file_h, const char *cmd_h, hb_error *err)
{
    json_t *a = parse(file_h), *b = parse(cmd_h);
    int rc = HB_OK;
    char va[128], vb[128], what[256];
    if (a == NULL || b == NULL) {
        rc = hb_error_set(err, HB_ESYNTAX, NULL, "%s: the run file's header is not valid JSON", path);
        goto out;
    }
    static const char *const keys[] = {"objective", "optimizer", "seed", "reproducible", NULL};
    static const char *const hints[] = {"the objective (--kernel, --eval-cmd or --eval-lib)", "--optimizer",
                                        "--seed", "--reproducible"};
    for (int i = 0; keys[i]; i++) {
        const json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);
        if (x && y && json_equal(x, y)) continue;
        value_text(x, va, sizeof va);
        value_text(y, vb, sizeof vb);
        rc = hb_error_set(err, HB_EINVAL, NULL, "%s holds another run: %s was %s, this command gives %s", path,
                          hints[i], va, vb);
        goto out;
    }
    const json_t *sa = json_object_get(a, "space"), *sb = json_object_get(b, "space");
    if (!json_equal(sa, sb)) {
        space_difference(sa, sb, what, sizeof what);
        rc = hb_error_set(err, HB_EINVAL, NULL, "%s holds another run: the search space differs (%s)", path, what);
        goto out;
    }
    const json_t *ta = json_object_get(a, "settings"), *tb = json_object_get(b, "settings");
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)ta, k, x) {
        const json_t *y = json_object_get(tb, k);
        if (is_limit(k)) continue;
        /* the default (0) takes the value the file's sessions resolved */
        if (!strcmp(k, "max_open_brackets") && (json_integer_value(x) == 0 || json_integer_value(y) == 0)) continue;
        if (y && json_equal(x, y)) continue;
        value_text(x, va, sizeof va);
        value_text(y, vb, sizeof vb);
        char opt[64];
        snprintf(opt, sizeof opt, "--%s", k);
        for (char *c = opt; *c; c++)
            if (*c == '_') *c = '-';
        rc = hb_error_set(err, HB_EINVAL, NULL, "%s holds another run: %s was %s, this command gives %s", path, opt,
                          va, vb);
        goto out;
    }
    const json_t *wa = json_object_get(a, "warm_start"), *wb = json_object_get(b, "warm_start");
    if (!(wa && wb && json_equal(wa, wb)) && !json_is_null(wb)) {
        value_text(wa, va, sizeof va);
        rc = hb_error_set(err, HB_EINVAL, NULL,
                          "%s holds a run whose warm start was %s; resume it without --warm-start or with the same", path,
                          va);
        goto out;
    }
out:
    json_decref(a);
    json_decref(b);
    return rc;
}

/* 'header' with the values of 'keys' taken from 'from' (both JSON texts); the old text is freed.
 * NULL when out of memory. */
static char *keep_keys(char *header, const char *from, const char *const *keys)
{
    json_t *a = parse(from), *b = parse(header);
    char *out = header;
    if (a && b) {
        for (int i = 0; keys[i]; i++)
            if (json_object_get(a, keys[i])) json_object_set(b, keys[i], json_object_get(a, keys[i]));
        char *s = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER);
        out = s ? hb_strdup(s) : NULL;
        hb_free(s); /* jansson allocates with hb_malloc_counted (main.c) */
        hb_free(header);
    }
    json_decref(a);
    json_decref(b);
    return out;
}

/* The last session's resolved settings (the SESSION event's extras), parsed; NULL if none. */
static json_t *last_settings(const hb_runlog *log)
{
    for (size_t i = log->n; i-- > 0;)
        if (log->ev[i].kind == HB_EV_SESSION) return parse(log->ev[i].extras);
    return NULL;
}

/* 1 if this command raises a stop rule above what the finished run had in force. */
static int limit_raised(const json_t *old, const hb_opt_settings *s)
{
    double now[3] = {(double)s->max_evals, (double)s->iterations, s->max_total_budget};
    for (int i = 0; i < 3; i++) {
        if (!(now[i] > 0)) continue;
        const json_t *o = json_object_get(old, limit_keys[i]);
        if (o == NULL || json_is_null(o) || now[i] > json_number_value(o)) return 1;
    }
    return 0;
}

static double run_time(const hb_runlog *log)
{
    double t = 0;
    for (size_t i = 0; i < log->n; i++) {
        const hb_event *e = &log->ev[i];
        if (e->start > t) t = e->start;
        if (e->end > t) t = e->end;
    }
    return t;
}

/* --warm-start: the trials of OLD (failed ones too) become observations of this run. */
static int add_warm(const hb_runfile_spec *rs, hb_runfile *rf, const char *my_header, hb_error *err)
{
    char *h = NULL;
    hb_runlog old;
    int rc = hb_store_read(rs->warm, &h, &old, err);
    if (rc == HB_EDAMAGED) {
        char what[sizeof err->msg];
        snprintf(what, sizeof what, "%s", err->msg);
        hb_error_set(err, HB_EDAMAGED, NULL, "--warm-start: %s. 'hbmpi repair %s NEW.h5' makes a file of what can "
                     "be read of it", what, rs->warm);
    }
    if (rc != HB_OK) return rc == HB_ENOTFOUND ? HB_EINVAL : rc;
    json_t *a = parse(h), *b = parse(my_header);
    const json_t *sa = json_object_get(a, "space"), *sb = json_object_get(b, "space");
    if (a == NULL || !json_equal(sa, sb)) {
        char what[256];
        space_difference(sa, sb, what, sizeof what);
        rc = hb_error_set(err, HB_EINVAL, NULL, "--warm-start %s: its search space differs from this run's (%s)",
                          rs->warm, what);
    }
    json_decref(a);
    json_decref(b);
    hb_trial *t = NULL;
    size_t n = 0;
    if (rc == HB_OK && hb_runlog_trials(&old, &t, &n) != HB_OK)
        rc = hb_error_set(err, HB_ESYNTAX, NULL, "--warm-start %s: damaged run file", rs->warm);
    for (size_t i = 0; i < n && rc == HB_OK; i++) {
        hb_event e = {.kind = HB_EV_WARM, .id = t[i].id, .budget = t[i].budget, .bracket = -1, .stage = -1,
                      .loss = t[i].loss, .status = (int)t[i].status, .x = t[i].x, .config = t[i].id,
                      .prev = HB_NO_JOB, .spent = NAN};
        if (hb_runlog_add(&rf->log, &e) != HB_OK) rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    hb_free(t);
    hb_free(h);
    hb_runlog_fini(&old);
    return rc;
}

int hb_runfile_begin(const hb_runfile_spec *rs, hb_runfile *rf, hb_error *err)
{
    memset(rf, 0, sizeof *rf);
    size_t dim = hb_space_dim(rs->space);
    hb_runlog_init(&rf->log, dim);
    if (rs->out == NULL && rs->warm == NULL) return HB_OK;
    rf->have_log = 1;
    char created[32];
    iso_now(created, sizeof created);
    char *header = make_header(rs, created);
    rf->session_info = make_session_info();
    if (header == NULL || rf->session_info == NULL) {
        hb_free(header);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    int rc = HB_OK;
    if (rs->out && access(rs->out, F_OK) == 0) {
        char *fh = NULL;
        hb_runlog_fini(&rf->log);
        rc = hb_store_open(rs->out, &fh, &rf->log, &rf->store, err);
        if (rc == HB_OK) { /* a log that replay would trip over is damage too: say it before anything */
            hb_trial *t = NULL;
            size_t nt = 0;
            int trc = hb_runlog_trials(&rf->log, &t, &nt);
            hb_free(t);
            if (trc == HB_ENOMEM) rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
            else if (trc != HB_OK)
                rc = hb_error_set(err, HB_EDAMAGED, NULL, "%s: damaged: a result names a job that was never issued",
                                  rs->out);
        }
        if (rc == HB_EDAMAGED) { /* how to get back what can be read */
            char what[sizeof err->msg];
            snprintf(what, sizeof what, "%s", err->msg);
            hb_error_set(err, HB_EDAMAGED, NULL,
                         "%s. It was not changed. 'hbmpi report %s' shows what can be read of it; 'hbmpi repair "
                         "%s NEW.h5' writes that into a new run file, and this command with --out NEW.h5 resumes "
                         "from there", what, rs->out, rs->out);
        }
        if (rc == HB_OK && rf->log.dim != dim) rc = hb_error_set(err, HB_EINVAL, NULL, "%s holds another run: "
                                                                  "its space has %zu parameters, this one %zu",
                                                                  rs->out, rf->log.dim, dim);
        if (rc == HB_OK) rc = compare_headers(rs->out, fh, header, err);
        if (rc == HB_OK) { /* the creation date stays, and the warm start unless one is given */
            const char *keep[] = {"created", rs->warm ? NULL : "warm_start", NULL};
            if ((header = keep_keys(header, fh, keep)) == NULL) rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        }
        hb_free(fh);
        if (rc == HB_OK) {
            rf->resumed = 1;
            json_t *old = last_settings(&rf->log);
            rf->max_open_brackets = (int)json_integer_value(json_object_get(old, "max_open_brackets"));
            size_t last_session = 0, last_end = 0;
            for (size_t i = 0; i < rf->log.n; i++) {
                if (rf->log.ev[i].kind == HB_EV_SESSION) {
                    last_session = i + 1;
                    rf->session++;
                }
                if (rf->log.ev[i].kind == HB_EV_END) last_end = i + 1;
            }
            rf->finished = last_end > last_session && !limit_raised(old, rs->settings);
            json_decref(old);
            rf->time_offset = run_time(&rf->log);
        }
    } else if (rs->out) {
        if (rs->warm) rc = add_warm(rs, rf, header, err);
        if (rc == HB_OK) rc = hb_store_create(rs->out, header, rs->space, &rf->log, &rf->store, err);
    } else {
        rc = add_warm(rs, rf, header, err);
    }
    /* a stop that came while the file was read: leave it as it was (no checkpoint), exit 3 */
    if (rc == HB_OK && rf->resumed && !rf->finished && hb_stop_signal())
        rc = hb_error_set(err, HB_EINTR, NULL, "%s: stopped while it was read; it was not changed", rs->out);
    if (rc == HB_OK && rf->resumed && !rf->finished) rc = hb_store_restart(rf->store, header, rs->space, &rf->log, err);
    rf->header = header;
    if (rc != HB_OK) {
        if (rf->store) hb_store_close(rf->store, NULL, NULL); /* the file stays as it was */
        rf->store = NULL;
    }
    return rc;
}

void hb_runfile_attach(hb_runfile *rf, hb_run_spec *spec)
{
    if (!rf->have_log) return;
    spec->log = &rf->log;
    spec->store = rf->store;
    spec->session = rf->session;
    spec->time_offset = rf->time_offset;
    spec->session_info = rf->session_info;
    if (spec->settings.max_open_brackets == 0) spec->settings.max_open_brackets = rf->max_open_brackets;
}

int hb_runfile_end(hb_runfile *rf, hb_error *err)
{
    int rc = HB_OK;
    if (rf->store && getenv("HB_STORE_STATS")) {
        hb_store_stats st;
        hb_store_get_stats(rf->store, &st);
        fprintf(stderr, "hbmpi: run file: %ld checkpoints, %.6f s, journal %zu bytes\n", st.checkpoints,
                st.checkpoint_seconds, st.journal_capacity);
    }
    if (rf->store) rc = hb_store_close(rf->store, rf->finished ? NULL : &rf->log, err);
    rf->store = NULL;
    hb_runlog_fini(&rf->log);
    hb_free(rf->header);
    hb_free(rf->session_info);
    memset(rf, 0, sizeof *rf);
    return rc;
}

/* ---------- reading ---------- */

void hb_run_view_fini(hb_run_view *v)
{
    hb_free(v->header);
    hb_runlog_fini(&v->log);
    hb_space_free(v->space);
    hb_free(v->kernel);
    hb_free(v->objective);
    hb_free(v->optimizer);
    hb_free(v->settings_json);
    hb_free(v->trials);
    hb_free(v->damage);
    hb_free(v->spans);
    memset(v, 0, sizeof *v);
}

static char *dup_json_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s ? hb_strdup(s) : NULL;
}

int hb_run_view_load(const char *path, hb_run_view *v, int salvage, hb_error *err)
{
    memset(v, 0, sizeof *v);
    int rc = salvage ? hb_store_salvage(path, &v->header, &v->log, &v->damage, err)
                     : hb_store_read(path, &v->header, &v->log, err);
    if (rc != HB_OK) return rc;
    json_t *h = parse(v->header);
    const json_t *sp = json_object_get(h, "space");
    char *st = sp ? json_dumps(sp, JSON_COMPACT) : NULL;
    if (h == NULL || st == NULL) {
        json_decref(h);
        hb_run_view_fini(v);
        return hb_error_set(err, HB_ESYNTAX, NULL, "%s: the run file's header is damaged", path);
    }
    rc = hb_space_parse(st, strlen(st), path, &v->space, err);
    hb_free(st);
    if (rc == HB_OK && hb_space_dim(v->space) != v->log.dim)
        rc = hb_error_set(err, HB_ESYNTAX, NULL, "%s: the run file's space does not match its events", path);
    if (rc == HB_OK) {
        v->kernel = dup_json_string(json_object_get(h, "kernel"));
        v->optimizer = dup_json_string(json_object_get(h, "optimizer"));
        char *obj = json_dumps(json_object_get(h, "objective"), JSON_COMPACT);
        v->objective = obj ? hb_strdup(obj) : NULL;
        hb_free(obj);
        hb_opt_settings_init(&v->settings);
        v->settings.optimizer = v->optimizer ? v->optimizer : "?";
        v->settings.seed = (uint64_t)json_integer_value(json_object_get(h, "seed"));
        double t = 0;
        for (size_t i = 0; i < v->log.n; i++) {
            const hb_event *e = &v->log.ev[i];
            if (e->start > t) t = e->start;
            if (e->end > t) t = e->end;
            switch (e->kind) {
            case HB_EV_SESSION:
                v->sessions++;
                v->workers = e->worker;
                v->state = HB_VIEW_RUNNING;
                hb_free(v->settings_json);
                v->settings_json = e->extras ? hb_strdup(e->extras) : NULL;
                break;
            case HB_EV_END: v->state = HB_VIEW_FINISHED; break;
            case HB_EV_STOP: v->state = HB_VIEW_STOPPED; break;
            case HB_EV_INTERRUPTED: v->interrupted++; break;
            default: break;
            }
        }
        v->wall_seconds = t;
        size_t ns = 0;
        if (hb_report_sessions(&v->log, &v->spans, &ns) != HB_OK)
            rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        else if (hb_runlog_trials(&v->log, &v->trials, &v->n) != HB_OK)
            rc = hb_error_set(err, HB_ESYNTAX, NULL, "%s: a result names a job that was never issued", path);
    }
    json_decref(h);
    if (rc != HB_OK) hb_run_view_fini(v);
    return rc;
}

int hb_run_view_print_json(const hb_run_view *v, FILE *out)
{
    hb_buf b = HB_BUF_INIT;
    hb_run_view_json(v, &b);
    int rc = b.failed ? HB_ENOMEM : HB_OK;
    if (rc == HB_OK) fputs(b.data, out);
    hb_buf_fini(&b);
    return rc;
}

int hb_run_view_json(const hb_run_view *v, hb_buf *out)
{
    hb_report_info info = {v->kernel, &v->settings, v->settings_json ? v->settings_json : "null", v->wall_seconds,
                           v->workers, v->damage, v->spans, v->sessions};
    return hb_report_json(v->space, &info, v->trials, v->n, out);
}

int hb_run_repair(const char *from, const char *to, size_t *events, char **damage, hb_error *err)
{
    *events = 0;
    *damage = NULL;
    if (access(to, F_OK) == 0) return hb_error_set(err, HB_EINVAL, NULL, "%s already exists (repair writes a new file)", to);
    hb_run_view v;
    int rc = hb_run_view_load(from, &v, 1, err);
    if (rc != HB_OK) return rc;
    hb_store *s = NULL;
    rc = hb_store_create(to, v.header, v.space, &v.log, &s, err);
    if (rc == HB_OK) rc = hb_store_close(s, &v.log, err);
    if (rc == HB_OK) {
        *events = v.log.n;
        *damage = v.damage;
        v.damage = NULL;
    }
    hb_run_view_fini(&v);
    return rc;
}
