/* eval_lib.c — the shared-library evaluator: dlopen a C objective built against include/hbmpi.h,
 * check its ABI, and call it in this process with an hbmpi_trial. The objective runs inside the
 * worker: a crash there is a crash of the worker. MPI is touched only to give the objective the
 * communicator set with hb_eval_set_comm. */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eval_impl.h"
#include "hbmpi.h"

typedef int (*abi_fn)(void);

typedef struct lib_eval {
    hb_evaluator base;
    void *handle;          /* from dlopen; dlclose at free */
    hbmpi_objective_fn fn;
    const char **names;    /* dim names, borrowed from the space */
    double *values;        /* dim values of the current trial */
    const char **texts;    /* dim texts (into 'arena') or NULL */
    size_t *offsets;       /* dim offsets into 'arena', (size_t)-1 if inactive */
    hb_buf arena;          /* the texts, NUL-separated */
    hb_buf config;         /* the configuration JSON */
    char *root;            /* trial directories' root (--continue-promoted), or NULL */
    hb_buf dirs;           /* this trial's directory and its previous rung's, NUL-separated */
} lib_eval;

static void lib_fini(hb_evaluator *ev)
{
    lib_eval *le = (lib_eval *)ev;
    if (le->handle) dlclose(le->handle);
    hb_free(le->names);
    hb_free(le->values);
    hb_free(le->texts);
    hb_free(le->offsets);
    hb_buf_fini(&le->arena);
    hb_buf_fini(&le->config);
    hb_buf_fini(&le->dirs);
    hb_free(le->root);
}

/* The communicator for the objective: only when one was set and MPI is running. */
static void *trial_comm(hb_evaluator *ev, int *nranks)
{
    int up = 0, down = 0, size = 1;
    *nranks = 1;
    if (!ev->has_comm || ev->comm == MPI_COMM_NULL) return NULL;
    if (MPI_Initialized(&up) != MPI_SUCCESS || !up) return NULL;
    if (MPI_Finalized(&down) != MPI_SUCCESS || down) return NULL;
    if (MPI_Comm_size(ev->comm, &size) == MPI_SUCCESS && size > 0) *nranks = size;
    return &ev->comm;
}

static int lib_run(hb_evaluator *ev, const hb_eval_job *job, hb_eval_result *out, hb_error *err)
{
    lib_eval *le = (lib_eval *)ev;
    const hb_space *sp = ev->space;
    hb_buf_reset(&le->arena);
    hb_buf_reset(&le->config);
    for (size_t i = 0; i < ev->dim; i++) {
        double v = job->x[i];
        le->values[i] = hb__eval_value_number(sp, i, v);
        le->offsets[i] = (size_t)-1;
        if (isnan(v)) continue;
        le->offsets[i] = le->arena.len;
        int rc = hb_space_value_text(sp, i, v, &le->arena, err);
        if (rc == HB_OK) rc = hb_buf_append(&le->arena, "", 1); /* keep the NUL */
        if (rc != HB_OK)
            return rc == HB_ENOMEM ? hb_error_set(err, rc, NULL, "out of memory") : rc;
    }
    if (hb_space_config_json(sp, job->x, &le->config) != HB_OK || le->config.failed)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < ev->dim; i++)
        le->texts[i] = le->offsets[i] == (size_t)-1 ? NULL : le->arena.data + le->offsets[i];

    hbmpi_trial t;
    memset(&t, 0, sizeof t);
    t.abi = HBMPI_OBJECTIVE_ABI;
    t.id = job->id;
    t.budget = job->budget;
    t.seed = job->seed;
    t.n_params = ev->dim;
    t.names = le->names;
    t.values = le->values;
    t.texts = le->texts;
    t.config_json = le->config.data;
    t.trial_dir = NULL;
    t.comm = trial_comm(ev, &t.nranks);
    t.config_id = job->config;
    t.config_seed = job->config_seed;
    t.previous_id = job->prev;
    t.previous_budget = job->prev == HB_NO_JOB ? 0 : job->prev_budget;
    t.previous_trial_dir = NULL;
    double spent = NAN;
    t.spent = &spent;
    if (le->root) {
        hb_buf *d = &le->dirs;
        hb_buf_reset(d);
        hb__eval_trial_dir(d, le->root, job->id);
        hb_buf_append(d, "", 1);
        size_t prev_off = d->len;
        if (job->prev != HB_NO_JOB) hb__eval_trial_dir(d, le->root, job->prev);
        hb_buf_append(d, "", 1);
        if (d->failed) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        int e = hb__eval_mkdir_p(d->data);
        if (e != 0)
            return hb_error_set(err, HB_EIO, NULL, "cannot create the trial directory %s: %s", d->data,
                                strerror(e));
        t.trial_dir = d->data;
        if (job->prev != HB_NO_JOB) t.previous_trial_dir = d->data + prev_off;
    }

    char reason[sizeof out->reason];
    memset(reason, 0, sizeof reason);
    double loss = NAN;
    int r = le->fn(&t, &loss, reason, sizeof reason);
    reason[sizeof reason - 1] = '\0';
    if (r != 0) {
        if (reason[0])
            hb__eval_result_fail(out, HB_TRIAL_FAILED, "%s", reason);
        else
            hb__eval_result_fail(out, HB_TRIAL_FAILED, "objective returned %d", r);
    } else {
        hb__eval_result_loss(out, loss);
        if (spent >= 0) out->spent = spent; /* NaN (not set) fails the test */
    }
    return HB_OK;
}

static const hb__eval_ops lib_ops = {"lib", lib_run, lib_fini};

/* Split "PATH:SYMBOL" at the last ':' into 'path' (with "./" in front when it has no '/')
 * and 'sym'; both are NUL-terminated copies inside 'b'. */
static int split_spec(const char *spec, hb_buf *b, size_t *sym_off, hb_error *err)
{
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec || colon[1] == '\0')
        return hb_error_set(err, HB_EINVAL, NULL,
                            "--eval-lib wants PATH:SYMBOL (a shared library and the name of "
                            "its objective function), got '%s'",
                            spec);
    if (memchr(spec, '/', (size_t)(colon - spec)) == NULL) hb_buf_puts(b, "./");
    hb_buf_append(b, spec, (size_t)(colon - spec));
    hb_buf_append(b, "", 1);
    *sym_off = b->len;
    hb_buf_puts(b, colon + 1);
    if (b->failed) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    return HB_OK;
}

int hb_eval_lib_create(const char *spec, const hb_space *sp, const char *trial_root, hb_evaluator **out,
                       hb_error *err)
{
    if (out == NULL) return hb_error_set(err, HB_EINVAL, NULL, "hb_eval_lib_create: out is NULL");
    *out = NULL;
    if (spec == NULL || sp == NULL)
        return hb_error_set(err, HB_EINVAL, NULL, "hb_eval_lib_create: NULL argument");
    hb_buf b = HB_BUF_INIT;
    size_t sym_off = 0;
    lib_eval *le = NULL;
    void *h = NULL;
    int rc = split_spec(spec, &b, &sym_off, err);
    if (rc != HB_OK) goto done;
    const char *path = b.data, *sym = b.data + sym_off;

    dlerror();
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *e = dlerror();
        rc = hb_error_set(err, HB_EINVAL, NULL, "cannot load %s: %s", path,
                          e ? e : "dlopen failed");
        goto done;
    }
    dlerror();
    abi_fn abi = (abi_fn)dlsym(h, "hbmpi_objective_abi");
    if (abi == NULL) {
        rc = hb_error_set(err, HB_EINVAL, NULL,
                          "%s was not built with hbmpi.h's HBMPI_DECLARE_ABI", path);
        goto done;
    }
    int a = abi();
    if (a != HBMPI_OBJECTIVE_ABI) {
        rc = hb_error_set(err, HB_EINVAL, NULL,
                          "%s: objective ABI %d, this hbmpi expects %d (rebuild it against "
                          "this hbmpi.h)",
                          path, a, HBMPI_OBJECTIVE_ABI);
        goto done;
    }
    dlerror();
    hbmpi_objective_fn fn = (hbmpi_objective_fn)dlsym(h, sym);
    if (fn == NULL) {
        rc = hb_error_set(err, HB_EINVAL, NULL, "%s has no function '%s'", path, sym);
        goto done;
    }

    size_t dim = hb_space_dim(sp), n = dim ? dim : 1;
    le = hb_calloc(1, sizeof *le);
    if (le == NULL || (le->names = hb_calloc(n, sizeof *le->names)) == NULL ||
        (le->values = hb_calloc(n, sizeof *le->values)) == NULL ||
        (le->texts = hb_calloc(n, sizeof *le->texts)) == NULL ||
        (le->offsets = hb_calloc(n, sizeof *le->offsets)) == NULL) {
        rc = hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        goto done;
    }
    hb__eval_init(&le->base, &lib_ops, sp);
    le->arena = (hb_buf)HB_BUF_INIT;
    le->config = (hb_buf)HB_BUF_INIT;
    le->dirs = (hb_buf)HB_BUF_INIT;
    if (trial_root && (rc = hb__eval_root(trial_root, &le->root, err)) != HB_OK) goto done;
    for (size_t i = 0; i < dim; i++) le->names[i] = hb_space_name(sp, i);
    le->fn = fn;
    le->handle = h;
    h = NULL;
    *out = &le->base;
    le = NULL;
    rc = HB_OK;
done:
    if (le != NULL) {
        le->base.ops = &lib_ops;
        hb_eval_free(&le->base);
    }
    if (h != NULL) dlclose(h);
    hb_buf_fini(&b);
    return rc;
}
