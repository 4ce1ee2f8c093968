/* space.c — parameters, conditions and forbidden clauses; sampling, activity, validity and the
 * unit-hypercube map. Knows nothing of files or JSON reading (space_parse.c does that). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hb_buf.h"
#include "space_impl.h"

typedef struct cond_node {
    hb_cond_op op;
    int parent;                  /* leaves: index of the parent */
    double *values;              /* leaves: native values of the parent */
    size_t n_values;
    struct cond_node *children;  /* AND / OR */
    size_t n_children;
} cond_node;

typedef struct forbid_node {
    hb_forbid_op op;
    int param;                   /* EQUALS / IN */
    double *values;              /* native values */
    size_t n_values;
    struct forbid_node *children; /* AND */
    size_t n_children;
} forbid_node;

typedef struct param {
    char *name;
    hb_param_type type;
    hb_scale scale;
    double lower, upper;         /* float/int */
    hb_value *choices;           /* cat/ordinal/constant; strings owned */
    size_t n_choices;
    double *cum_weights;         /* cumulative, normalised to 1; NULL if uniform */
    double *weights;             /* as given, NULL if uniform */
    int has_default;
    double def;                  /* native */
    cond_node *cond;             /* NULL: always active */
    int is_mutable;              /* may change during training (pbt, pb2) */
} param;

struct hb_space {
    param *params;
    size_t n, cap;
    size_t *slots;               /* hash index of the names: parameter index + 1, 0 empty */
    size_t n_slots;              /* a power of two above 2 cap, or 0 */
    forbid_node *forbid;
    size_t n_forbid, cap_forbid;
    size_t *order;               /* parents before children; valid once finalized */
    int finalized;
};

#define MAX_SAMPLE_TRIES 10000

/* ---------- lifetime ---------- */

int hb_space_create(hb_space **out)
{
    *out = hb_calloc(1, sizeof(hb_space));
    return *out ? HB_OK : HB_ENOMEM;
}

static void cond_fini(cond_node *c)
{
    hb_free(c->values);
    for (size_t i = 0; i < c->n_children; i++) cond_fini(&c->children[i]);
    hb_free(c->children);
}

static void forbid_fini(forbid_node *f)
{
    hb_free(f->values);
    for (size_t i = 0; i < f->n_children; i++) forbid_fini(&f->children[i]);
    hb_free(f->children);
}

static void free_choices(hb_value *ch, size_t n)
{
    if (ch == NULL) return;
    for (size_t k = 0; k < n; k++) hb_free((char *)ch[k].str);
    hb_free(ch);
}

static void param_fini(param *p)
{
    hb_free(p->name);
    free_choices(p->choices, p->n_choices);
    hb_free(p->cum_weights);
    hb_free(p->weights);
    if (p->cond) {
        cond_fini(p->cond);
        hb_free(p->cond);
    }
}

void hb_space_free(hb_space *sp)
{
    if (sp == NULL) return;
    for (size_t i = 0; i < sp->n; i++) param_fini(&sp->params[i]);
    hb_free(sp->params);
    hb_free(sp->slots);
    for (size_t i = 0; i < sp->n_forbid; i++) forbid_fini(&sp->forbid[i]);
    hb_free(sp->forbid);
    hb_free(sp->order);
    hb_free(sp);
}

/* ---------- adding parameters ---------- */

static int fault(hb__fault *f, int field, const void *node)
{
    if (f) {
        f->field = field;
        f->node = node;
    }
    return 0;
}

static int check_name(hb_space *sp, const char *name, hb_error *err, hb__fault *f)
{
    if (name == NULL || name[0] == '\0') {
        fault(f, HB__FIELD_NAME, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "a parameter needs a non-empty name");
    }
    if (hb_space_find(sp, name) >= 0) {
        fault(f, HB__FIELD_NAME, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "duplicate parameter name '%s'", name);
    }
    if (sp->n >= HB_SPACE_MAX_PARAMS) {
        fault(f, HB__FIELD_NAME, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "too many parameters: '%s' would be number %zu, at most %d",
                            name, sp->n + 1, HB_SPACE_MAX_PARAMS);
    }
    return HB_OK;
}

/* FNV-1a of a name, for the hash index. */
static size_t name_hash(const char *name)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) h = (h ^ *c) * 1099511628211ull;
    return (size_t)h;
}

/* Enter parameter 'i' into the hash index (which has room: grow_params made it). */
static void index_put(hb_space *sp, size_t i)
{
    size_t mask = sp->n_slots - 1, k = name_hash(sp->params[i].name) & mask;
    while (sp->slots[k] != 0) k = (k + 1) & mask;
    sp->slots[k] = i + 1;
}

/* Room for one more parameter, in the array and in the hash index (finding a name by comparing
 * it with every other made a space of n parameters take n^2 / 2 comparisons to build). */
static int grow_params(hb_space *sp)
{
    if (sp->n < sp->cap) return HB_OK;
    size_t cap = sp->cap ? 2 * sp->cap : 16;
    size_t *slots = hb_calloc(4 * cap, sizeof *slots);
    if (slots == NULL) return HB_ENOMEM;
    param *p = hb_realloc(sp->params, cap * sizeof *p);
    if (p == NULL) {
        hb_free(slots);
        return HB_ENOMEM;
    }
    sp->params = p;
    sp->cap = cap;
    hb_free(sp->slots);
    sp->slots = slots;
    sp->n_slots = 4 * cap;
    for (size_t i = 0; i < sp->n; i++) index_put(sp, i);
    return HB_OK;
}

static int is_integral(double v) { return isfinite(v) && floor(v) == v; }

/* A number for a message: whole numbers without a fraction, others in their shortest form. */
typedef struct numtext {
    char s[40];
} numtext;

static numtext num(double v)
{
    numtext t;
    if (is_integral(v) && fabs(v) < 1e15)
        snprintf(t.s, sizeof t.s, "%.0f", v);
    else
        hb_format_double(t.s, sizeof t.s, v);
    return t;
}

int hb__space_add_numeric(hb_space *sp, hb_param_type type, const char *name, double lower,
                          double upper, hb_scale scale, double def, hb_error *err, hb__fault *f)
{
    int rc;
    fault(f, HB__FIELD_NONE, NULL);
    if (sp == NULL || (type != HB_PARAM_FLOAT && type != HB_PARAM_INT))
        return hb_error_set(err, HB_EINVAL, NULL, "bad arguments to add a numeric parameter");
    if ((rc = check_name(sp, name, err, f)) != HB_OK) return rc;
    const char *kind = type == HB_PARAM_INT ? "integer" : "float";
    if (!isfinite(lower)) {
        fault(f, HB__FIELD_LOWER, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "%s '%s' needs a finite lower bound", kind, name);
    }
    if (!isfinite(upper)) {
        fault(f, HB__FIELD_UPPER, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "%s '%s' needs a finite upper bound", kind, name);
    }
    if (type == HB_PARAM_INT && !is_integral(lower)) {
        fault(f, HB__FIELD_LOWER, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "integer '%s' needs an integer lower bound, got %s",
                            name, num(lower).s);
    }
    if (type == HB_PARAM_INT && !is_integral(upper)) {
        fault(f, HB__FIELD_UPPER, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "integer '%s' needs an integer upper bound, got %s",
                            name, num(upper).s);
    }
    /* Beyond 2^53 a double no longer holds every integer, and the configuration JSON would carry
     * integers that no JSON reader (jansson's included) takes back. */
    if (type == HB_PARAM_INT && fabs(lower) > HB_SPACE_MAX_INT) {
        fault(f, HB__FIELD_LOWER, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "integer '%s' needs a lower bound within +-2^53, got %s",
                            name, num(lower).s);
    }
    if (type == HB_PARAM_INT && fabs(upper) > HB_SPACE_MAX_INT) {
        fault(f, HB__FIELD_UPPER, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "integer '%s' needs an upper bound within +-2^53, got %s",
                            name, num(upper).s);
    }
    if (scale == HB_SCALE_LOG && lower <= 0.0) {
        fault(f, HB__FIELD_LOWER, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "log-scaled '%s' needs lower > 0, got %s", name,
                            num(lower).s);
    }
    if (!(lower < upper)) {
        fault(f, HB__FIELD_UPPER, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "'%s' needs lower < upper, got lower %s, upper %s",
                            name, num(lower).s, num(upper).s);
    }
    int has_def = !isnan(def);
    if (has_def && !(def >= lower && def <= upper)) {
        fault(f, HB__FIELD_DEFAULT, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "default %s of '%s' is outside [%s, %s]", num(def).s,
                            name, num(lower).s, num(upper).s);
    }
    if (has_def && type == HB_PARAM_INT && !is_integral(def)) {
        fault(f, HB__FIELD_DEFAULT, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "default %s of integer '%s' is not an integer", num(def).s,
                            name);
    }
    if (grow_params(sp) != HB_OK) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    param p;
    memset(&p, 0, sizeof p);
    if ((p.name = hb_strdup(name)) == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    p.type = type;
    p.scale = scale;
    p.lower = lower;
    p.upper = upper;
    p.has_default = has_def;
    p.def = def;
    sp->params[sp->n++] = p;
    index_put(sp, sp->n - 1);
    sp->finalized = 0;
    return HB_OK;
}

int hb_space_add_float(hb_space *sp, const char *name, double lower, double upper, hb_scale scale,
                       double def, hb_error *err)
{
    return hb__space_add_numeric(sp, HB_PARAM_FLOAT, name, lower, upper, scale, def, err, NULL);
}

int hb_space_add_int(hb_space *sp, const char *name, double lower, double upper, hb_scale scale,
                     double def, hb_error *err)
{
    return hb__space_add_numeric(sp, HB_PARAM_INT, name, lower, upper, scale, def, err, NULL);
}

static int value_equal(hb_value a, hb_value b)
{
    if (a.is_string != b.is_string) return 0;
    return a.is_string ? strcmp(a.str, b.str) == 0 : a.num == b.num;
}

static void value_text(hb_value v, char *out, size_t n)
{
    if (v.is_string)
        snprintf(out, n, "'%s'", v.str);
    else
        snprintf(out, n, "%s", num(v.num).s);
}

int hb__space_add_choices(hb_space *sp, hb_param_type type, const char *name,
                          const hb_value *choices, size_t n, const double *weights, int def_index,
                          hb_error *err, hb__fault *f)
{
    int rc;
    fault(f, HB__FIELD_NONE, NULL);
    if (sp == NULL || (type != HB_PARAM_CATEGORICAL && type != HB_PARAM_ORDINAL &&
                       type != HB_PARAM_CONSTANT))
        return hb_error_set(err, HB_EINVAL, NULL, "bad arguments to add a parameter with choices");
    if ((rc = check_name(sp, name, err, f)) != HB_OK) return rc;
    const char *kind = type == HB_PARAM_ORDINAL ? "ordinal" : "categorical";
    if (n == 0 || choices == NULL) {
        fault(f, HB__FIELD_CHOICES, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "%s '%s' has no choices", kind, name);
    }
    if (n > HB_SPACE_MAX_CHOICES) {
        fault(f, HB__FIELD_CHOICES, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "%s '%s' has %zu choices, at most %d", kind, name, n,
                            HB_SPACE_MAX_CHOICES);
    }
    for (size_t k = 0; k < n; k++) {
        if (choices[k].is_string ? choices[k].str == NULL : !isfinite(choices[k].num)) {
            fault(f, HB__FIELD_VALUE + (int)k, NULL);
            return hb_error_set(err, HB_EINVAL, NULL, "choice %zu of '%s' is not a finite number or a string",
                                k, name);
        }
        for (size_t j = 0; j < k; j++)
            if (value_equal(choices[j], choices[k])) {
                char t[300];
                value_text(choices[k], t, sizeof t);
                fault(f, HB__FIELD_VALUE + (int)k, NULL);
                return hb_error_set(err, HB_EINVAL, NULL, "duplicate choice %s in '%s'", t, name);
            }
    }
    double wsum = 0;
    if (weights) {
        for (size_t k = 0; k < n; k++) {
            if (!(weights[k] >= 0) || !isfinite(weights[k])) {
                fault(f, HB__FIELD_WEIGHTS, NULL);
                return hb_error_set(err, HB_EINVAL, NULL, "weights of '%s' must be finite and >= 0", name);
            }
            wsum += weights[k];
        }
        if (!(wsum > 0)) {
            fault(f, HB__FIELD_WEIGHTS, NULL);
            return hb_error_set(err, HB_EINVAL, NULL, "weights of '%s' sum to zero", name);
        }
    }
    if (def_index >= (int)n) {
        fault(f, HB__FIELD_DEFAULT, NULL);
        return hb_error_set(err, HB_EINVAL, NULL, "default of '%s' is not one of its choices", name);
    }
    if (grow_params(sp) != HB_OK) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    param p;
    memset(&p, 0, sizeof p);
    p.type = type;
    p.n_choices = n;
    p.has_default = def_index >= 0;
    p.def = def_index >= 0 ? def_index : 0;
    if ((p.name = hb_strdup(name)) == NULL) goto nomem;
    if ((p.choices = hb_calloc(n, sizeof *p.choices)) == NULL) goto nomem;
    for (size_t k = 0; k < n; k++) {
        p.choices[k].is_string = choices[k].is_string;
        p.choices[k].num = choices[k].is_string ? 0.0 : choices[k].num;
        if (choices[k].is_string && (p.choices[k].str = hb_strdup(choices[k].str)) == NULL)
            goto nomem;
    }
    if (weights) {
        if ((p.cum_weights = hb_malloc(n * sizeof(double))) == NULL) goto nomem;
        if ((p.weights = hb_malloc(n * sizeof(double))) == NULL) goto nomem;
        double c = 0;
        for (size_t k = 0; k < n; k++) {
            p.weights[k] = weights[k];
            c += weights[k] / wsum;
            p.cum_weights[k] = c;
        }
        p.cum_weights[n - 1] = 1.0;
    }
    sp->params[sp->n++] = p;
    index_put(sp, sp->n - 1);
    sp->finalized = 0;
    return HB_OK;
nomem:
    param_fini(&p);
    return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
}

int hb_space_add_categorical(hb_space *sp, const char *name, const hb_value *choices, size_t n,
                             const double *weights, int def_index, hb_error *err)
{
    return hb__space_add_choices(sp, HB_PARAM_CATEGORICAL, name, choices, n, weights, def_index,
                                 err, NULL);
}

int hb_space_add_ordinal(hb_space *sp, const char *name, const hb_value *sequence, size_t n,
                         int def_index, hb_error *err)
{
    return hb__space_add_choices(sp, HB_PARAM_ORDINAL, name, sequence, n, NULL, def_index, err,
                                 NULL);
}

int hb_space_add_constant(hb_space *sp, const char *name, hb_value value, hb_error *err)
{
    return hb__space_add_choices(sp, HB_PARAM_CONSTANT, name, &value, 1, NULL, 0, err, NULL);
}

/* ---------- values of a parameter ---------- */

/* Native encoding of value 'v' for parameter 'p'; HB_ERANGE with a message if not a legal value. */
static int native_of(const param *p, hb_value v, double *out, hb_error *err)
{
    char t[300];
    value_text(v, t, sizeof t);
    switch (p->type) {
    case HB_PARAM_FLOAT:
    case HB_PARAM_INT:
        if (v.is_string || !(v.num >= p->lower && v.num <= p->upper) ||
            (p->type == HB_PARAM_INT && !is_integral(v.num)))
            return hb_error_set(err, HB_ERANGE, NULL, "%s is not a value of '%s'", t, p->name);
        *out = v.num;
        return HB_OK;
    default:
        for (size_t k = 0; k < p->n_choices; k++)
            if (value_equal(p->choices[k], v)) {
                *out = (double)k;
                return HB_OK;
            }
        return hb_error_set(err, HB_ERANGE, NULL, "%s is not a value of '%s'", t, p->name);
    }
}

/* ---------- conditions ---------- */

static int cond_build(hb_space *sp, const hb_cond_spec *s, cond_node *c, hb_error *err,
                      hb__fault *f)
{
    memset(c, 0, sizeof *c);
    c->op = s->op;
    if (s->op == HB_COND_AND || s->op == HB_COND_OR) {
        if (s->n_children < 1 || s->children == NULL) {
            fault(f, HB__FIELD_TYPE, s);
            return hb_error_set(err, HB_EINVAL, NULL, "a conjunction needs at least one condition");
        }
        if ((c->children = hb_calloc(s->n_children, sizeof *c->children)) == NULL)
            return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        for (size_t i = 0; i < s->n_children; i++) {
            c->n_children = i + 1;
            int rc = cond_build(sp, &s->children[i], &c->children[i], err, f);
            if (rc != HB_OK) return rc;
        }
        return HB_OK;
    }
    if (s->op > HB_COND_LT) {
        fault(f, HB__FIELD_TYPE, s);
        return hb_error_set(err, HB_EINVAL, NULL, "unknown condition type");
    }
    int pi = s->parent ? hb_space_find(sp, s->parent) : -1;
    if (pi < 0) {
        fault(f, HB__FIELD_PARENT, s);
        return hb_error_set(err, HB_EINVAL, NULL, "condition names unknown parameter '%s'",
                            s->parent ? s->parent : "");
    }
    const param *p = &sp->params[pi];
    c->parent = pi;
    if ((s->op == HB_COND_GT || s->op == HB_COND_LT) && p->type == HB_PARAM_CATEGORICAL) {
        fault(f, HB__FIELD_TYPE, s);
        return hb_error_set(err, HB_EINVAL, NULL,
                            "%s needs an ordered parent, but '%s' is categorical",
                            s->op == HB_COND_GT ? "GT" : "LT", p->name);
    }
    size_t want = s->op == HB_COND_IN ? s->n_values : 1;
    if (s->n_values < 1 || (s->op != HB_COND_IN && s->n_values != 1)) {
        fault(f, HB__FIELD_VALUE, s);
        return hb_error_set(err, HB_EINVAL, NULL, "condition on '%s' needs %s", p->name,
                            s->op == HB_COND_IN ? "at least one value" : "one value");
    }
    if ((c->values = hb_malloc(want * sizeof(double))) == NULL)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    for (size_t k = 0; k < want; k++) {
        int rc = native_of(p, s->values[k], &c->values[k], err);
        if (rc != HB_OK) {
            fault(f, HB__FIELD_VALUE + (int)k, s);
            char t[300];
            value_text(s->values[k], t, sizeof t);
            return hb_error_set(err, HB_EINVAL, NULL, "condition names %s, which is not a value of '%s'",
                                t, p->name);
        }
        c->n_values = k + 1;
    }
    return HB_OK;
}

int hb__space_add_condition(hb_space *sp, const char *child, const hb_cond_spec *cond,
                            hb_error *err, hb__fault *f)
{
    fault(f, HB__FIELD_NONE, NULL);
    if (sp == NULL || cond == NULL) return hb_error_set(err, HB_EINVAL, NULL, "bad arguments");
    int ci = child ? hb_space_find(sp, child) : -1;
    if (ci < 0) {
        fault(f, HB__FIELD_CHILD, cond);
        return hb_error_set(err, HB_EINVAL, NULL, "condition names unknown parameter '%s'",
                            child ? child : "");
    }
    if (sp->params[ci].cond) {
        fault(f, HB__FIELD_CHILD, cond);
        return hb_error_set(err, HB_EINVAL, NULL,
                            "'%s' already has a condition; combine them with AND or OR", child);
    }
    cond_node *c = hb_calloc(1, sizeof *c);
    if (c == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    int rc = cond_build(sp, cond, c, err, f);
    if (rc != HB_OK) {
        cond_fini(c);
        hb_free(c);
        return rc;
    }
    sp->params[ci].cond = c;
    sp->finalized = 0;
    return HB_OK;
}

int hb_space_add_condition(hb_space *sp, const char *child, const hb_cond_spec *cond,
                           hb_error *err)
{
    return hb__space_add_condition(sp, child, cond, err, NULL);
}

/* ---------- forbidden clauses ---------- */

static int forbid_build(hb_space *sp, const hb_forbid_spec *s, forbid_node *fn, hb_error *err,
                        hb__fault *f)
{
    memset(fn, 0, sizeof *fn);
    fn->op = s->op;
    if (s->op == HB_FORBID_AND) {
        if (s->n_children < 1 || s->children == NULL) {
            fault(f, HB__FIELD_TYPE, s);
            return hb_error_set(err, HB_EINVAL, NULL, "a forbidden AND needs at least one clause");
        }
        if ((fn->children = hb_calloc(s->n_children, sizeof *fn->children)) == NULL)
            return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        for (size_t i = 0; i < s->n_children; i++) {
            fn->n_children = i + 1;
            int rc = forbid_build(sp, &s->children[i], &fn->children[i], err, f);
            if (rc != HB_OK) return rc;
        }
        return HB_OK;
    }
    if (s->op != HB_FORBID_EQUALS && s->op != HB_FORBID_IN) {
        fault(f, HB__FIELD_TYPE, s);
        return hb_error_set(err, HB_EINVAL, NULL, "unknown forbidden clause type");
    }
    int pi = s->name ? hb_space_find(sp, s->name) : -1;
    if (pi < 0) {
        fault(f, HB__FIELD_NAME, s);
        return hb_error_set(err, HB_EINVAL, NULL, "forbidden clause names unknown parameter '%s'",
                            s->name ? s->name : "");
    }
    fn->param = pi;
    if (s->n_values < 1 || (s->op == HB_FORBID_EQUALS && s->n_values != 1)) {
        fault(f, HB__FIELD_VALUE, s);
        return hb_error_set(err, HB_EINVAL, NULL, "forbidden clause on '%s' needs %s", s->name,
                            s->op == HB_FORBID_IN ? "at least one value" : "one value");
    }
    if ((fn->values = hb_malloc(s->n_values * sizeof(double))) == NULL)
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    for (size_t k = 0; k < s->n_values; k++) {
        if (native_of(&sp->params[pi], s->values[k], &fn->values[k], err) != HB_OK) {
            char t[300];
            value_text(s->values[k], t, sizeof t);
            fault(f, HB__FIELD_VALUE + (int)k, s);
            return hb_error_set(err, HB_EINVAL, NULL,
                                "forbidden clause names %s, which is not a value of '%s'", t,
                                s->name);
        }
        fn->n_values = k + 1;
    }
    return HB_OK;
}

int hb__space_add_forbidden(hb_space *sp, const hb_forbid_spec *fb, hb_error *err, hb__fault *f)
{
    fault(f, HB__FIELD_NONE, NULL);
    if (sp == NULL || fb == NULL) return hb_error_set(err, HB_EINVAL, NULL, "bad arguments");
    if (sp->n_forbid == sp->cap_forbid) {
        size_t cap = sp->cap_forbid ? 2 * sp->cap_forbid : 8;
        forbid_node *nf = hb_realloc(sp->forbid, cap * sizeof *nf);
        if (nf == NULL) return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
        sp->forbid = nf;
        sp->cap_forbid = cap;
    }
    forbid_node node;
    int rc = forbid_build(sp, fb, &node, err, f);
    if (rc != HB_OK) {
        forbid_fini(&node);
        return rc;
    }
    sp->forbid[sp->n_forbid++] = node;
    sp->finalized = 0;
    return HB_OK;
}

int hb_space_add_forbidden(hb_space *sp, const hb_forbid_spec *f, hb_error *err)
{
    return hb__space_add_forbidden(sp, f, err, NULL);
}

/* ---------- finalize: dependency order ---------- */

static int cond_uses(const cond_node *c, size_t j)
{
    if (c->op == HB_COND_AND || c->op == HB_COND_OR) {
        for (size_t i = 0; i < c->n_children; i++)
            if (cond_uses(&c->children[i], j)) return 1;
        return 0;
    }
    return c->parent == (int)j;
}

int hb_space_finalize(hb_space *sp, int *cycle_child, hb_error *err)
{
    if (cycle_child) *cycle_child = -1;
    if (sp == NULL) return hb_error_set(err, HB_EINVAL, NULL, "space is NULL");
    if (sp->n == 0) return hb_error_set(err, HB_EINVAL, NULL, "the space has no parameters");
    size_t n = sp->n;
    size_t *order = hb_malloc(n * sizeof *order);
    unsigned char *done = hb_calloc(n, 1);
    if (order == NULL || done == NULL) {
        hb_free(order);
        hb_free(done);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    /* Repeatedly take, in declaration order, every parameter whose parents are all placed. */
    size_t placed = 0;
    while (placed < n) {
        size_t before = placed;
        for (size_t i = 0; i < n; i++) {
            if (done[i]) continue;
            int ready = 1;
            if (sp->params[i].cond)
                for (size_t j = 0; j < n && ready; j++)
                    if (!done[j] && cond_uses(sp->params[i].cond, j)) ready = 0;
            if (ready) {
                done[i] = 1;
                order[placed++] = i;
            }
        }
        if (placed == before) break;
    }
    /* A mutable parameter changes between steps of one model: it may not decide, or depend on,
     * which parameters are active (the active set of a model would change mid-training). */
    for (size_t i = 0; i < n && placed == n; i++) {
        if (!sp->params[i].is_mutable) continue;
        const char *why = sp->params[i].cond ? "has a condition" : NULL;
        size_t where = i; /* the parameter whose condition is at fault */
        for (size_t j = 0; j < n && why == NULL; j++)
            if (sp->params[j].cond && cond_uses(sp->params[j].cond, i)) {
                why = "is the parent of a condition";
                where = j;
            }
        if (why) {
            if (cycle_child) *cycle_child = (int)where;
            hb_free(order);
            hb_free(done);
            return hb_error_set(err, HB_EINVAL, NULL,
                                "parameter '%s' is mutable and %s: a parameter that may change "
                                "during training cannot take part in conditions",
                                sp->params[i].name, why);
        }
    }
    if (placed < n) {
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            if (!done[i]) {
                bad = i;
                break;
            }
        hb_free(order);
        hb_free(done);
        if (cycle_child) *cycle_child = (int)bad;
        return hb_error_set(err, HB_EINVAL, NULL, "conditions form a cycle through '%s'",
                            sp->params[bad].name);
    }
    hb_free(done);
    hb_free(sp->order);
    sp->order = order;
    sp->finalized = 1;
    return HB_OK;
}

/* ---------- queries ---------- */

size_t hb_space_dim(const hb_space *sp) { return sp->n; }

int hb_space_find(const hb_space *sp, const char *name)
{
    if (sp->n_slots == 0) return -1;
    size_t mask = sp->n_slots - 1;
    for (size_t k = name_hash(name) & mask; sp->slots[k] != 0; k = (k + 1) & mask)
        if (strcmp(sp->params[sp->slots[k] - 1].name, name) == 0) return (int)(sp->slots[k] - 1);
    return -1;
}

const char *hb_space_name(const hb_space *sp, size_t i) { return sp->params[i].name; }
hb_param_type hb_space_type(const hb_space *sp, size_t i) { return sp->params[i].type; }
hb_scale hb_space_scale(const hb_space *sp, size_t i) { return sp->params[i].scale; }
double hb_space_lower(const hb_space *sp, size_t i) { return sp->params[i].lower; }
double hb_space_upper(const hb_space *sp, size_t i) { return sp->params[i].upper; }
size_t hb_space_n_choices(const hb_space *sp, size_t i) { return sp->params[i].n_choices; }
hb_value hb_space_choice(const hb_space *sp, size_t i, size_t k) { return sp->params[i].choices[k]; }
const double *hb_space_weights(const hb_space *sp, size_t i) { return sp->params[i].weights; }
int hb_space_has_default(const hb_space *sp, size_t i) { return sp->params[i].has_default; }
int hb_space_has_condition(const hb_space *sp, size_t i) { return sp->params[i].cond != NULL; }
int hb_space_is_mutable(const hb_space *sp, size_t i) { return sp->params[i].is_mutable; }

size_t hb_space_n_mutable(const hb_space *sp)
{
    size_t c = 0;
    for (size_t i = 0; i < sp->n; i++) c += sp->params[i].is_mutable != 0;
    return c;
}

int hb_space_set_mutable(hb_space *sp, const char *name, int on, hb_error *err)
{
    int i = hb_space_find(sp, name);
    if (i < 0) return hb_error_set(err, HB_EINVAL, NULL, "mutable: no parameter named '%s'", name);
    if (on && sp->params[i].type == HB_PARAM_CONSTANT)
        return hb_error_set(err, HB_EINVAL, NULL, "parameter '%s' is a constant: it cannot be mutable",
                            name);
    sp->params[i].is_mutable = on != 0;
    sp->finalized = 0;
    return HB_OK;
}
size_t hb_space_n_forbiddens(const hb_space *sp) { return sp->n_forbid; }

size_t hb_space_n_conditions(const hb_space *sp)
{
    size_t c = 0;
    for (size_t i = 0; i < sp->n; i++) c += sp->params[i].cond != NULL;
    return c;
}

/* ---------- unit cube ---------- */

static double to_unit1(const param *p, double v)
{
    if (isnan(v)) return NAN;
    switch (p->type) {
    case HB_PARAM_FLOAT:
        if (p->scale == HB_SCALE_LOG) return (log(v) - log(p->lower)) / (log(p->upper) - log(p->lower));
        return (v - p->lower) / (p->upper - p->lower);
    case HB_PARAM_INT: {
        /* Each integer owns an equal slice of [lower - 0.5, upper + 0.5] (log: of its logs). */
        double lo = p->lower - 0.5, hi = p->upper + 0.5;
        if (p->scale == HB_SCALE_LOG) return (log(v) - log(lo)) / (log(hi) - log(lo));
        return (v - lo) / (hi - lo);
    }
    default: return (v + 0.5) / (double)p->n_choices;
    }
}

static double clamp01(double u) { return u < 0 ? 0 : (u > 1 ? 1 : u); }

static double from_unit1(const param *p, double u)
{
    u = clamp01(u);
    double v;
    switch (p->type) {
    case HB_PARAM_FLOAT:
        if (p->scale == HB_SCALE_LOG)
            v = exp(log(p->lower) + u * (log(p->upper) - log(p->lower)));
        else
            v = p->lower + u * (p->upper - p->lower);
        return v < p->lower ? p->lower : (v > p->upper ? p->upper : v);
    case HB_PARAM_INT: {
        double lo = p->lower - 0.5, hi = p->upper + 0.5;
        if (p->scale == HB_SCALE_LOG)
            v = exp(log(lo) + u * (log(hi) - log(lo)));
        else
            v = lo + u * (hi - lo);
        v = floor(v + 0.5);
        return v < p->lower ? p->lower : (v > p->upper ? p->upper : v);
    }
    default: {
        double k = floor(u * (double)p->n_choices);
        return k >= (double)p->n_choices ? (double)(p->n_choices - 1) : k;
    }
    }
}

static int cond_holds(const cond_node *c, const double *x)
{
    switch (c->op) {
    case HB_COND_AND:
        for (size_t i = 0; i < c->n_children; i++)
            if (!cond_holds(&c->children[i], x)) return 0;
        return 1;
    case HB_COND_OR:
        for (size_t i = 0; i < c->n_children; i++)
            if (cond_holds(&c->children[i], x)) return 1;
        return 0;
    default: break;
    }
    double v = x[c->parent];
    if (isnan(v)) return 0; /* an inactive parent makes every comparison false */
    switch (c->op) {
    case HB_COND_EQ: return v == c->values[0];
    case HB_COND_NEQ: return v != c->values[0];
    case HB_COND_GT: return v > c->values[0];
    case HB_COND_LT: return v < c->values[0];
    case HB_COND_IN:
        for (size_t k = 0; k < c->n_values; k++)
            if (v == c->values[k]) return 1;
        return 0;
    default: return 0;
    }
}

int hb_space_is_active(const hb_space *sp, const double *x, size_t i)
{
    const param *p = &sp->params[i];
    return p->cond == NULL || cond_holds(p->cond, x);
}

void hb_space_activate(const hb_space *sp, double *x)
{
    HB_ASSERT(sp->finalized);
    for (size_t k = 0; k < sp->n; k++) {
        size_t i = sp->order[k];
        if (!hb_space_is_active(sp, x, i)) x[i] = NAN;
    }
}

static int forbid_matches(const forbid_node *f, const double *x)
{
    if (f->op == HB_FORBID_AND) {
        for (size_t i = 0; i < f->n_children; i++)
            if (!forbid_matches(&f->children[i], x)) return 0;
        return 1;
    }
    double v = x[f->param];
    if (isnan(v)) return 0;
    for (size_t k = 0; k < f->n_values; k++)
        if (v == f->values[k]) return 1;
    return 0;
}

int hb_space_is_forbidden(const hb_space *sp, const double *x)
{
    for (size_t i = 0; i < sp->n_forbid; i++)
        if (forbid_matches(&sp->forbid[i], x)) return 1;
    return 0;
}

void hb_space_to_unit(const hb_space *sp, const double *x, double *u)
{
    for (size_t i = 0; i < sp->n; i++) u[i] = to_unit1(&sp->params[i], x[i]);
}

void hb_space_from_unit(const hb_space *sp, const double *u, double *x)
{
    /* A NaN coordinate (inactive) decodes to the middle; activate() then clears it again. */
    for (size_t i = 0; i < sp->n; i++) x[i] = from_unit1(&sp->params[i], isnan(u[i]) ? 0.5 : u[i]);
    hb_space_activate(sp, x);
}

double hb_space_default_value(const hb_space *sp, size_t i)
{
    const param *p = &sp->params[i];
    return p->has_default ? p->def : from_unit1(p, p->type >= HB_PARAM_CATEGORICAL ? 0.0 : 0.5);
}

void hb_space_default_config(const hb_space *sp, double *x)
{
    for (size_t i = 0; i < sp->n; i++) x[i] = hb_space_default_value(sp, i);
    hb_space_activate(sp, x);
}

int hb_space_sample(const hb_space *sp, hb_rng *rng, double *x, hb_error *err)
{
    HB_ASSERT(sp->finalized);
    for (int t = 0; t < MAX_SAMPLE_TRIES; t++) {
        for (size_t i = 0; i < sp->n; i++) {
            const param *p = &sp->params[i];
            double u = hb_rng_uniform(rng);
            if (p->cum_weights) {
                size_t k = 0;
                while (k + 1 < p->n_choices && u >= p->cum_weights[k]) k++;
                x[i] = (double)k;
            } else {
                x[i] = from_unit1(p, u);
            }
        }
        hb_space_activate(sp, x);
        if (!hb_space_is_forbidden(sp, x)) return HB_OK;
    }
    return hb_error_set(err, HB_ERANGE, NULL,
                        "%d random configurations in a row were all forbidden", MAX_SAMPLE_TRIES);
}

int hb_space_validate(const hb_space *sp, const double *x, hb_error *err)
{
    for (size_t k = 0; k < sp->n; k++) {
        size_t i = sp->order[k];
        const param *p = &sp->params[i];
        int active = hb_space_is_active(sp, x, i);
        if (!active) {
            if (!isnan(x[i]))
                return hb_error_set(err, HB_ERANGE, NULL, "'%s' is inactive but has a value",
                                    p->name);
            continue;
        }
        double v = x[i];
        if (isnan(v)) return hb_error_set(err, HB_ERANGE, NULL, "'%s' is active but has no value", p->name);
        int ok;
        switch (p->type) {
        case HB_PARAM_FLOAT: ok = v >= p->lower && v <= p->upper; break;
        case HB_PARAM_INT: ok = is_integral(v) && v >= p->lower && v <= p->upper; break;
        default: ok = is_integral(v) && v >= 0 && v < (double)p->n_choices; break;
        }
        if (!ok) return hb_error_set(err, HB_ERANGE, NULL, "value %s of '%s' is outside the space", num(v).s, p->name);
    }
    if (hb_space_is_forbidden(sp, x))
        return hb_error_set(err, HB_ERANGE, NULL, "the configuration matches a forbidden clause");
    return HB_OK;
}

/* ---------- JSON writing ---------- */

/* Numbers that are whole print as JSON integers, as ConfigSpace writes them; but -0.0 as itself:
 * "-0" reads back as the integer 0 (fuzz_space found it). */
static int value_json(hb_value v, hb_buf *out)
{
    if (v.is_string) return hb_buf_json_string(out, v.str);
    if (is_integral(v.num) && fabs(v.num) < 9e15 && !(v.num == 0 && signbit(v.num)))
        return hb_buf_printf(out, "%.0f", v.num);
    return hb_buf_json_number(out, v.num);
}

int hb_space_value_json(const hb_space *sp, size_t i, double v, hb_buf *out)
{
    const param *p = &sp->params[i];
    if (isnan(v)) return hb_buf_puts(out, "null");
    switch (p->type) {
    case HB_PARAM_FLOAT: return hb_buf_json_number(out, v);
    case HB_PARAM_INT: return hb_buf_printf(out, "%.0f", v);
    default: return value_json(p->choices[(size_t)v], out);
    }
}

int hb_space_value_text(const hb_space *sp, size_t i, double v, hb_buf *out, hb_error *err)
{
    hb_param_type t = hb_space_type(sp, i);
    if (t == HB_PARAM_FLOAT || t == HB_PARAM_INT) {
        int rc = hb_space_value_json(sp, i, v, out);
        return rc == HB_OK ? HB_OK : hb_error_set(err, rc, NULL, "out of memory");
    }
    if (!(v >= 0) || floor(v) != v || v >= (double)hb_space_n_choices(sp, i))
        return hb_error_set(err, HB_ERANGE, NULL, "parameter '%s': %g is not a choice index",
                            hb_space_name(sp, i), v);
    hb_value c = hb_space_choice(sp, i, (size_t)v);
    int rc = c.is_string ? hb_buf_puts(out, c.str) : hb_space_value_json(sp, i, v, out);
    return rc == HB_OK ? HB_OK : hb_error_set(err, rc, NULL, "out of memory");
}

int hb_space_config_json(const hb_space *sp, const double *x, hb_buf *out)
{
    hb_buf_puts(out, "{");
    int first = 1;
    for (size_t i = 0; i < sp->n; i++) {
        if (isnan(x[i])) continue;
        if (!first) hb_buf_puts(out, ", ");
        first = 0;
        hb_buf_json_string(out, sp->params[i].name);
        hb_buf_puts(out, ": ");
        hb_space_value_json(sp, i, x[i], out);
    }
    return hb_buf_puts(out, "}");
}

static int values_json(const param *p, const double *vals, size_t n, hb_buf *out)
{
    for (size_t k = 0; k < n; k++) {
        if (k) hb_buf_puts(out, ", ");
        if (p->type == HB_PARAM_FLOAT || p->type == HB_PARAM_INT)
            hb_buf_json_number(out, vals[k]);
        else
            value_json(p->choices[(size_t)vals[k]], out);
    }
    return HB_OK;
}

static const char *cond_type_name(hb_cond_op op)
{
    static const char *names[] = {"EQ", "NEQ", "IN", "GT", "LT", "AND", "OR"};
    return names[op];
}

static void cond_json(const hb_space *sp, const char *child, const cond_node *c, hb_buf *out)
{
    hb_buf_printf(out, "{\"type\": \"%s\", \"child\": ", cond_type_name(c->op));
    hb_buf_json_string(out, child);
    if (c->op == HB_COND_AND || c->op == HB_COND_OR) {
        hb_buf_puts(out, ", \"conditions\": [");
        for (size_t i = 0; i < c->n_children; i++) {
            if (i) hb_buf_puts(out, ", ");
            cond_json(sp, child, &c->children[i], out);
        }
        hb_buf_puts(out, "]}");
        return;
    }
    const param *p = &sp->params[c->parent];
    hb_buf_puts(out, ", \"parent\": ");
    hb_buf_json_string(out, p->name);
    hb_buf_puts(out, c->op == HB_COND_IN ? ", \"values\": [" : ", \"value\": ");
    values_json(p, c->values, c->n_values, out);
    hb_buf_puts(out, c->op == HB_COND_IN ? "]}" : "}");
}

static void forbid_json(const hb_space *sp, const forbid_node *f, hb_buf *out)
{
    if (f->op == HB_FORBID_AND) {
        hb_buf_puts(out, "{\"type\": \"AND\", \"clauses\": [");
        for (size_t i = 0; i < f->n_children; i++) {
            if (i) hb_buf_puts(out, ", ");
            forbid_json(sp, &f->children[i], out);
        }
        hb_buf_puts(out, "]}");
        return;
    }
    const param *p = &sp->params[f->param];
    hb_buf_printf(out, "{\"type\": \"%s\", \"name\": ", f->op == HB_FORBID_IN ? "IN" : "EQUALS");
    hb_buf_json_string(out, p->name);
    hb_buf_puts(out, f->op == HB_FORBID_IN ? ", \"values\": [" : ", \"value\": ");
    values_json(p, f->values, f->n_values, out);
    hb_buf_puts(out, f->op == HB_FORBID_IN ? "]}" : "}");
}

int hb_space_json(const hb_space *sp, hb_buf *out)
{
    static const char *tnames[] = {"float", "int", "categorical", "ordinal", "constant"};
    hb_buf_puts(out, "{\"parameters\": [");
    for (size_t i = 0; i < sp->n; i++) {
        const param *p = &sp->params[i];
        hb_buf_puts(out, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
        hb_buf_json_string(out, p->name);
        hb_buf_printf(out, ", \"type\": \"%s\"", tnames[p->type]);
        if (p->type == HB_PARAM_FLOAT || p->type == HB_PARAM_INT) {
            hb_buf_puts(out, ", \"lower\": ");
            hb_buf_json_number(out, p->lower);
            hb_buf_puts(out, ", \"upper\": ");
            hb_buf_json_number(out, p->upper);
            hb_buf_printf(out, ", \"log\": %s", p->scale == HB_SCALE_LOG ? "true" : "false");
        } else if (p->type == HB_PARAM_CONSTANT) {
            hb_buf_puts(out, ", \"value\": ");
            value_json(p->choices[0], out);
        } else {
            hb_buf_puts(out, p->type == HB_PARAM_ORDINAL ? ", \"sequence\": [" : ", \"choices\": [");
            for (size_t k = 0; k < p->n_choices; k++) {
                if (k) hb_buf_puts(out, ", ");
                value_json(p->choices[k], out);
            }
            hb_buf_puts(out, "]");
            if (p->weights) {
                hb_buf_puts(out, ", \"weights\": [");
                for (size_t k = 0; k < p->n_choices; k++) {
                    if (k) hb_buf_puts(out, ", ");
                    hb_buf_json_number(out, p->weights[k]);
                }
                hb_buf_puts(out, "]");
            }
        }
        if (p->has_default && p->type != HB_PARAM_CONSTANT) {
            hb_buf_puts(out, ", \"default\": ");
            hb_space_value_json(sp, i, p->def, out);
        }
        if (p->is_mutable) hb_buf_puts(out, ", \"mutable\": true");
        hb_buf_puts(out, "}");
    }
    hb_buf_puts(out, "],\n \"conditions\": [");
    int first = 1;
    for (size_t i = 0; i < sp->n; i++) {
        if (!sp->params[i].cond) continue;
        hb_buf_puts(out, first ? "\n  " : ",\n  ");
        first = 0;
        cond_json(sp, sp->params[i].name, sp->params[i].cond, out);
    }
    hb_buf_puts(out, "],\n \"forbiddens\": [");
    for (size_t i = 0; i < sp->n_forbid; i++) {
        hb_buf_puts(out, i ? ",\n  " : "\n  ");
        forbid_json(sp, &sp->forbid[i], out);
    }
    return hb_buf_puts(out, "]}");
}
