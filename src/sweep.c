/* sweep.c — SWEEP.json into a list of studies and their settings, and a study's trials into its
 * regret trajectory (hb_sweep.h). jansson parses; jsonloc places every error at FILE:LINE:COL. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_schedule.h"
#include "hb_sweep.h"
#include "jsonloc.h"

#define MAX_STUDIES 1000000
#define MAX_NAMES 1000 /* kernels, optimizers: each kernel's options build a space (2048 parameters at most) */

struct hb_sweep {
    char **kernels;
    size_t n_kernels;
    char **optimizers;
    size_t n_optimizers;
    uint64_t *seeds;
    size_t n_seeds;
    double budget_multiple;    /* "Nx": N times each kernel's max budget; 0: not that form */
    double max_total_budget;   /* a number; 0: not that form */
    /* "settings": which were given (1 << field), and their values */
    unsigned given;
    hb_opt_settings set;
    int reproducible;
    double eval_delay;
    char *canonical;
};

enum { G_MIN_BUDGET, G_MAX_BUDGET, G_ETA, G_RULE, G_OPEN, G_RF, G_TOPN, G_NS, G_BWF, G_MINBW, G_MINPTS, G_ACQ, G_GRID };

typedef struct parser {
    const char *text;
    size_t len;
    const char *name;
    hb_jsonloc *loc;
    hb_error *err;
    hb_sweep *sw;
    hb_kernel_lookup find;
} parser;

static int fail_at(parser *p, size_t offset, const char *fmt, ...) HB_PRINTF(3, 4);
static int fail_at(parser *p, size_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = hb__jsonloc_fail(p->err, p->text, p->len, p->name, offset, fmt, ap);
    va_end(ap);
    return rc;
}

static size_t at(parser *p, const json_t *n) { return hb__jsonloc_of(p->loc, n); }

static size_t at_member(parser *p, const json_t *obj, const char *key)
{
    return hb__jsonloc_member_or_obj(p->loc, obj, key);
}

static size_t at_elem(parser *p, const json_t *arr, size_t i) { return hb__jsonloc_element_or_arr(p->loc, arr, i); }

static int oom(parser *p) { return hb_error_set(p->err, HB_ENOMEM, NULL, "out of memory"); }

/* Finding repeats in O(n log n), not by comparing every pair: a list of a few hundred thousand
 * names or seeds (a megabyte) must not take minutes to refuse. Entries sort by value, then by
 * position; the first repeat is the earliest second entry of a run of equal values. */
typedef struct entry {
    const char *str;   /* the name, or NULL for a seed */
    uint64_t num;      /* the seed */
    size_t i;          /* position in the list */
} entry;

static int entry_cmp(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    int c = a->str ? strcmp(a->str, b->str) : (a->num > b->num) - (a->num < b->num);
    return c ? c : (a->i > b->i) - (a->i < b->i);
}

/* The position of the first of e[0..n) (in list order) that repeats an earlier one, or n. */
static size_t first_repeat(entry *e, size_t n)
{
    qsort(e, n, sizeof *e, entry_cmp);
    size_t first = n;
    for (size_t k = 1; k < n; k++) {
        int same = e[k].str ? strcmp(e[k - 1].str, e[k].str) == 0 : e[k - 1].num == e[k].num;
        if (same && e[k].i < first) first = e[k].i;
    }
    return first;
}

/* A non-empty array of distinct strings, each accepted by 'check' (given the array and the index,
 * for the position of its error). The first thing wrong in the array's order is the error. */
static int string_list(parser *p, const json_t *root, const char *key, char ***out, size_t *n,
                       int (*check)(parser *, const char *, const json_t *, size_t))
{
    const json_t *a = json_object_get(root, key);
    if (a == NULL) return fail_at(p, at(p, root), "missing \"%s\"", key);
    if (!json_is_array(a) || json_array_size(a) == 0)
        return fail_at(p, at_member(p, root, key), "\"%s\" must be a non-empty array of names", key);
    size_t m = json_array_size(a), strings = 0;
    if (m > MAX_NAMES) return fail_at(p, at_elem(p, a, MAX_NAMES), "\"%s\" names more than %d", key, MAX_NAMES);
    if ((*out = hb_calloc(m, sizeof **out)) == NULL) return oom(p);
    entry *e = hb_malloc(m * sizeof *e);
    if (e == NULL) return oom(p);
    while (strings < m && json_is_string(json_array_get(a, strings))) {
        e[strings] = (entry){json_string_value(json_array_get(a, strings)), 0, strings};
        strings++;
    }
    size_t twice = first_repeat(e, strings), good = twice < strings ? twice : strings;
    hb_free(e);
    for (size_t i = 0; i < good; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        int rc = check(p, s, a, i);
        if (rc != HB_OK) return rc;
        if (((*out)[i] = hb_strdup(s)) == NULL) return oom(p);
        *n = i + 1;
    }
    if (twice < strings)
        return fail_at(p, at_elem(p, a, twice), "\"%s\" names '%s' twice", key,
                       json_string_value(json_array_get(a, twice)));
    if (strings < m) return fail_at(p, at_elem(p, a, strings), "\"%s\" holds names (strings)", key);
    return HB_OK;
}

/* Its position is looked up only for an error: each lookup walks every position of the file. */
static int check_kernel(parser *p, const char *label, const json_t *arr, size_t i)
{
    char name[128];
    const char *colon = strchr(label, ':');
    size_t n = colon ? (size_t)(colon - label) : strlen(label);
    if (n >= sizeof name) return fail_at(p, at_elem(p, arr, i), "unknown kernel '%s'", label);
    memcpy(name, label, n);
    name[n] = '\0';
    const hb_kernel *k = p->find(name);
    if (k == NULL) return fail_at(p, at_elem(p, arr, i), "unknown kernel '%s' (`hbmpi kernels` lists them)", name);
    /* first what costs nothing: a training kernel's space checks its data set (fmnist_mlp reads
     * and checks 30 MB: 13 s under the fuzzer's sanitizers), and it has no known optimum anyway */
    if (isnan(k->optimum))
        return fail_at(p, at_elem(p, arr, i), "kernel '%s' has no known optimum, so its regret is undefined", name);
    hb_space *sp = NULL;
    hb_error e;
    hb_error_clear(&e);
    int rc = k->space(colon ? colon + 1 : NULL, &sp, &e);
    hb_space_free(sp);
    if (rc == HB_ENOMEM) return oom(p);
    if (rc != HB_OK) return fail_at(p, at_elem(p, arr, i), "kernel '%s': %s", label, e.msg);
    return HB_OK;
}

static int check_optimizer(parser *p, const char *name, const json_t *arr, size_t i)
{
    if (hb_opt_known(name, NULL)) return HB_OK;
    return fail_at(p, at_elem(p, arr, i), "unknown optimizer '%s' (known: %s)", name, hb_opt_names_text());
}

static int is_count(const json_t *v, double lo, double hi)
{
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static int parse_seeds(parser *p, const json_t *root)
{
    hb_sweep *sw = p->sw;
    const json_t *s = json_object_get(root, "seeds");
    if (s == NULL) return fail_at(p, at(p, root), "missing \"seeds\"");
    if (json_is_object(s)) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)s, key, v)
        {
            if (strcmp(key, "from") && strcmp(key, "count"))
                return fail_at(p, at_member(p, s, key), "\"seeds\": unknown key \"%s\" (expected \"from\", \"count\")",
                               key);
        }
        const json_t *from = json_object_get(s, "from"), *count = json_object_get(s, "count");
        if (from == NULL || count == NULL) return fail_at(p, at(p, s), "\"seeds\" needs \"from\" and \"count\"");
        if (!is_count(from, 0, 9e15)) return fail_at(p, at_member(p, s, "from"), "\"from\" must be an integer >= 0");
        if (!is_count(count, 1, MAX_STUDIES))
            return fail_at(p, at_member(p, s, "count"), "\"count\" must be an integer from 1 to %d", MAX_STUDIES);
        sw->n_seeds = (size_t)json_integer_value(count);
        if ((sw->seeds = hb_malloc(sw->n_seeds * sizeof *sw->seeds)) == NULL) return oom(p);
        for (size_t i = 0; i < sw->n_seeds; i++) sw->seeds[i] = (uint64_t)json_integer_value(from) + i;
        return HB_OK;
    }
    if (!json_is_array(s) || json_array_size(s) == 0)
        return fail_at(p, at_member(p, root, "seeds"),
                       "\"seeds\" must be a non-empty array of integers or {\"from\": F, \"count\": N}");
    size_t m = json_array_size(s);
    if (m > MAX_STUDIES) return fail_at(p, at_member(p, root, "seeds"), "more than %d seeds", MAX_STUDIES);
    if ((sw->seeds = hb_malloc(m * sizeof *sw->seeds)) == NULL) return oom(p);
    entry *e = hb_malloc(m * sizeof *e);
    if (e == NULL) return oom(p);
    size_t good = 0; /* seeds before the first that is not one */
    while (good < m && is_count(json_array_get(s, good), 0, 9e15)) {
        sw->seeds[good] = (uint64_t)json_integer_value(json_array_get(s, good));
        e[good] = (entry){NULL, sw->seeds[good], good};
        good++;
    }
    size_t twice = first_repeat(e, good);
    hb_free(e);
    if (twice < good)
        return fail_at(p, at_elem(p, s, twice), "seed %llu is given twice", (unsigned long long)sw->seeds[twice]);
    if (good < m) return fail_at(p, at_elem(p, s, good), "a seed is an integer >= 0");
    sw->n_seeds = m;
    return HB_OK;
}

static int parse_total(parser *p, const json_t *root)
{
    const json_t *v = json_object_get(root, "max_total_budget");
    if (v == NULL) return HB_OK; /* each optimizer's default stop rule */
    size_t where = at_member(p, root, "max_total_budget");
    if (json_is_number(v)) {
        double b = json_number_value(v);
        if (!(b > 0) || !isfinite(b)) return fail_at(p, where, "\"max_total_budget\" must be above 0");
        p->sw->max_total_budget = b;
        return HB_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        double m = strtod(s, &end);
        if (end != s && end[0] == 'x' && end[1] == '\0' && m > 0 && isfinite(m)) {
            p->sw->budget_multiple = m;
            return HB_OK;
        }
    }
    return fail_at(p, where, "\"max_total_budget\" is a number or a multiple of each kernel's max budget such as "
                             "\"100x\"");
}

/* "settings": the options of `hbmpi run`, spelled with underscores. */
static int number_setting(parser *p, const json_t *obj, const char *key, double lo, double hi, double *out)
{
    const json_t *v = json_object_get(obj, key);
    size_t where = at_member(p, obj, key);
    if (!json_is_number(v)) return fail_at(p, where, "\"%s\" must be a number", key);
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi)) return fail_at(p, where, "\"%s\" must be in [%g, %g], not %g", key, lo, hi, d);
    *out = d;
    return HB_OK;
}

static int int_setting(parser *p, const json_t *obj, const char *key, long lo, long hi, int *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fail_at(p, at_member(p, obj, key), "\"%s\" must be an integer from %ld to %ld", key, lo, hi);
    *out = (int)json_integer_value(v);
    return HB_OK;
}

static int word_setting(parser *p, const json_t *obj, const char *key, const char *a, const char *b, int *out)
{
    const json_t *v = json_object_get(obj, key);
    const char *s = json_string_value(v);
    if (s == NULL || (strcmp(s, a) && strcmp(s, b)))
        return fail_at(p, at_member(p, obj, key), "\"%s\" must be \"%s\" or \"%s\"", key, a, b);
    *out = strcmp(s, a) == 0 ? 0 : 1;
    return HB_OK;
}

static int parse_settings(parser *p, const json_t *root)
{
    hb_sweep *sw = p->sw;
    const json_t *s = json_object_get(root, "settings");
    if (s == NULL) return HB_OK;
    if (!json_is_object(s)) return fail_at(p, at_member(p, root, "settings"), "\"settings\" must be an object");
    hb_opt_settings *o = &sw->set;
    hb_sampler_opts *so = &o->sampler;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)s, key, v)
    {
        int rc, i = 0;
        double d = 0;
        if (!strcmp(key, "min_budget")) {
            rc = number_setting(p, s, key, 1e-300, 1e300, &o->min_budget);
            sw->given |= 1u << G_MIN_BUDGET;
        } else if (!strcmp(key, "max_budget")) {
            rc = number_setting(p, s, key, 1e-300, 1e300, &o->max_budget);
            sw->given |= 1u << G_MAX_BUDGET;
        } else if (!strcmp(key, "eta")) {
            rc = number_setting(p, s, key, 1, 1e6, &o->eta);
            if (rc == HB_OK && o->eta == 1) rc = fail_at(p, at_member(p, s, key), "\"eta\" must be above 1");
            sw->given |= 1u << G_ETA;
        } else if (!strcmp(key, "bracket_rule")) {
            rc = word_setting(p, s, key, "paper", "hpbandster", &i);
            o->bracket_rule = (hb_bracket_rule)hb_bracket_rule_parse(i ? "hpbandster" : "paper");
            sw->given |= 1u << G_RULE;
        } else if (!strcmp(key, "max_open_brackets")) {
            rc = int_setting(p, s, key, 1, 100000, &o->max_open_brackets);
            sw->given |= 1u << G_OPEN;
        } else if (!strcmp(key, "random_fraction")) {
            rc = number_setting(p, s, key, 0, 1, &so->random_fraction);
            sw->given |= 1u << G_RF;
        } else if (!strcmp(key, "top_n_percent")) {
            rc = number_setting(p, s, key, 1e-9, 99.999999, &so->top_n_percent);
            sw->given |= 1u << G_TOPN;
        } else if (!strcmp(key, "num_samples")) {
            rc = int_setting(p, s, key, 1, 1000000, &so->num_samples);
            sw->given |= 1u << G_NS;
        } else if (!strcmp(key, "bandwidth_factor")) {
            rc = number_setting(p, s, key, 1e-300, 1e300, &so->bandwidth_factor);
            sw->given |= 1u << G_BWF;
        } else if (!strcmp(key, "min_bandwidth")) {
            rc = number_setting(p, s, key, 1e-300, 1e300, &so->min_bandwidth);
            sw->given |= 1u << G_MINBW;
        } else if (!strcmp(key, "min_points_in_model")) {
            rc = int_setting(p, s, key, 1, 1000000, &so->min_points_in_model);
            sw->given |= 1u << G_MINPTS;
        } else if (!strcmp(key, "acquisition")) {
            rc = word_setting(p, s, key, "ei", "pi", &i);
            so->acquisition = i ? HB_ACQ_PI : HB_ACQ_EI;
            sw->given |= 1u << G_ACQ;
        } else if (!strcmp(key, "grid_points")) {
            rc = int_setting(p, s, key, 2, 1000000, &so->grid_points);
            sw->given |= 1u << G_GRID;
        } else if (!strcmp(key, "pbt_population")) {
            rc = int_setting(p, s, key, 2, 100000, &o->pbt_population);
        } else if (!strcmp(key, "pbt_interval")) {
            rc = number_setting(p, s, key, 1e-300, 1e300, &o->pbt_interval);
        } else if (!strcmp(key, "pbt_quantile")) {
            rc = number_setting(p, s, key, 1e-300, 0.5, &o->pbt_quantile);
        } else if (!strcmp(key, "pbt_resample")) {
            rc = number_setting(p, s, key, 0, 1, &o->pbt_resample);
        } else if (!strcmp(key, "reproducible")) {
            rc = int_setting(p, s, key, 1, 1000000, &sw->reproducible);
        } else if (!strcmp(key, "eval_delay")) {
            rc = number_setting(p, s, key, 0, 1e6, &d);
            sw->eval_delay = d;
        } else {
            rc = fail_at(p, at_member(p, s, key),
                         "\"settings\": unknown key \"%s\" (known: min_budget, max_budget, eta, bracket_rule, "
                         "max_open_brackets, random_fraction, top_n_percent, num_samples, bandwidth_factor, "
                         "min_bandwidth, min_points_in_model, acquisition, grid_points, pbt_population, pbt_interval, "
                         "pbt_quantile, pbt_resample, reproducible, eval_delay)",
                         key);
        }
        if (rc != HB_OK) return rc;
    }
    if ((sw->given & (1u << G_MIN_BUDGET)) && (sw->given & (1u << G_MAX_BUDGET)) && o->max_budget < o->min_budget)
        return fail_at(p, at_member(p, s, "max_budget"), "\"max_budget\" %g is below \"min_budget\" %g",
                       o->max_budget, o->min_budget);
    return HB_OK;
}

static int parse_root(parser *p, json_t *root)
{
    if (!json_is_object(root))
        return fail_at(p, at(p, root), "a sweep is a JSON object with \"kernels\", \"optimizers\" and \"seeds\"");
    static const char *const known[] = {"kernels", "optimizers", "seeds", "max_total_budget", "settings", NULL};
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        size_t i = 0;
        while (known[i] && strcmp(known[i], key)) i++;
        if (known[i] == NULL)
            return fail_at(p, at_member(p, root, key),
                           "unknown key \"%s\" (known: kernels, optimizers, seeds, max_total_budget, settings)", key);
    }
    hb_sweep *sw = p->sw;
    int rc = string_list(p, root, "kernels", &sw->kernels, &sw->n_kernels, check_kernel);
    if (rc == HB_OK) rc = string_list(p, root, "optimizers", &sw->optimizers, &sw->n_optimizers, check_optimizer);
    if (rc == HB_OK) rc = parse_seeds(p, root);
    if (rc == HB_OK) rc = parse_total(p, root);
    if (rc == HB_OK) rc = parse_settings(p, root);
    if (rc == HB_OK && (double)sw->n_kernels * (double)sw->n_optimizers * (double)sw->n_seeds > MAX_STUDIES)
        return fail_at(p, at(p, root), "more than %d studies", MAX_STUDIES);
    if (rc != HB_OK) return rc;
    char *c = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    if (c != NULL) sw->canonical = hb_strdup(c);
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree);
    if (c != NULL) jfree(c);
    return sw->canonical ? HB_OK : oom(p);
}

int hb_sweep_parse(const char *text, size_t len, const char *name, hb_kernel_lookup find, hb_sweep **out,
                   hb_error *err)
{
    *out = NULL;
    if (text == NULL || name == NULL || find == NULL) return hb_error_set(err, HB_EINVAL, NULL, "bad arguments");
    json_t *root;
    int rc = hb__jsonloc_load(text, len, name, &root, err);
    if (rc != HB_OK) return rc;
    parser p = {text, len, name, NULL, err, hb_calloc(1, sizeof(hb_sweep)), find};
    rc = p.sw ? hb__jsonloc_build(text, len, root, &p.loc) : HB_ENOMEM;
    if (rc == HB_ENOMEM) oom(&p);
    if (rc == HB_OK) {
        hb_opt_settings_init(&p.sw->set);
        rc = parse_root(&p, root);
    }
    hb__jsonloc_free(p.loc);
    json_decref(root);
    if (rc != HB_OK) {
        hb_sweep_free(p.sw);
        return rc;
    }
    *out = p.sw;
    return HB_OK;
}

void hb_sweep_free(hb_sweep *sw)
{
    if (sw == NULL) return;
    for (size_t i = 0; sw->kernels && i < sw->n_kernels; i++) hb_free(sw->kernels[i]);
    for (size_t i = 0; sw->optimizers && i < sw->n_optimizers; i++) hb_free(sw->optimizers[i]);
    hb_free(sw->kernels);
    hb_free(sw->optimizers);
    hb_free(sw->seeds);
    hb_free(sw->canonical);
    hb_free(sw);
}

const char *hb_sweep_canonical(const hb_sweep *sw) { return sw->canonical; }

size_t hb_sweep_count(const hb_sweep *sw) { return sw->n_kernels * sw->n_optimizers * sw->n_seeds; }

void hb_sweep_study_at(const hb_sweep *sw, size_t i, hb_sweep_study *out)
{
    size_t s = i % sw->n_seeds, o = i / sw->n_seeds % sw->n_optimizers, k = i / sw->n_seeds / sw->n_optimizers;
    out->kernel = sw->kernels[k];
    out->optimizer = sw->optimizers[o];
    out->seed = sw->seeds[s];
}

int hb_sweep_file_name(const hb_sweep *sw, size_t i, char *out, size_t n)
{
    hb_sweep_study st;
    hb_sweep_study_at(sw, i, &st);
    int m = snprintf(out, n, "%s-%s-%llu.h5", st.kernel, st.optimizer, (unsigned long long)st.seed);
    if (m < 0 || (size_t)m >= n) return HB_ERANGE;
    size_t klen = strlen(st.kernel);
    for (size_t j = 0; j < klen; j++) {
        char c = out[j];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
        if (!ok) out[j] = '_';
    }
    return HB_OK;
}

void hb_sweep_settings(const hb_sweep *sw, size_t i, const hb_kernel *k, hb_opt_settings *out)
{
    hb_sweep_study st;
    hb_sweep_study_at(sw, i, &st);
    *out = sw->set;
    out->optimizer = st.optimizer;
    out->seed = st.seed;
    if (!(sw->given & (1u << G_MIN_BUDGET))) out->min_budget = k->min_budget;
    if (!(sw->given & (1u << G_MAX_BUDGET))) out->max_budget = k->max_budget;
    if (out->max_budget < out->min_budget) out->min_budget = out->max_budget; /* only max_budget given, low */
    out->max_total_budget = sw->budget_multiple > 0 ? sw->budget_multiple * out->max_budget : sw->max_total_budget;
}

int hb_sweep_reproducible(const hb_sweep *sw) { return sw->reproducible; }

double hb_sweep_eval_delay(const hb_sweep *sw) { return sw->eval_delay; }

/* ---- regret ---- */

static int push(hb_study_regret *r, size_t *cap, double cum, hb_error *err)
{
    if (r->n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        hb_regret_point *g = hb_realloc(r->traj, c * sizeof *g);
        if (g == NULL) {
            hb_study_regret_fini(r);
            return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        }
        r->traj = g;
        *cap = c;
    }
    r->traj[r->n++] = (hb_regret_point){cum, r->final};
    return HB_OK;
}

int hb_study_regret_of(const hb_kernel *k, const hb_space *sp, double max_budget, const hb_trial *t, size_t n,
                       hb_study_regret *out, hb_error *err)
{
    memset(out, 0, sizeof *out);
    out->final = NAN;
    out->evaluations = n;
    double cum = 0, inc = INFINITY, at_max = max_budget * (1 - 1e-9);
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        cum += t[i].budget;
        if (t[i].status == HB_TRIAL_OK && t[i].budget >= at_max && t[i].loss < inc && !isnan(k->optimum)) {
            inc = t[i].loss;
            double exact = t[i].loss;
            if (k->exact) {
                int rc = k->exact(sp, t[i].x, &exact, err);
                if (rc != HB_OK) {
                    hb_study_regret_fini(out);
                    return rc;
                }
            }
            out->final = hb_kernel_regret(k, exact);
        }
        if (!isnan(out->final) && (out->n == 0 || out->traj[out->n - 1].regret != out->final) &&
            push(out, &cap, cum, err) != HB_OK)
            return HB_ENOMEM;
    }
    if (out->n > 0 && out->traj[out->n - 1].budget != cum && push(out, &cap, cum, err) != HB_OK) return HB_ENOMEM;
    out->total_budget = cum;
    return HB_OK;
}

void hb_study_regret_fini(hb_study_regret *r)
{
    hb_free(r->traj);
    r->traj = NULL;
    r->n = 0;
}

double hb_quantile_sorted(const double *v, size_t n, double q)
{
    if (n == 0) return NAN;
    double pos = (double)(n - 1) * q;
    size_t lo = (size_t)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
    double f = pos - (double)lo;
    if (f == 0 || v[lo] == v[hi]) return v[lo];
    if (isinf(v[hi])) return INFINITY;
    return v[lo] + (v[hi] - v[lo]) * f;
}
