/* space_parse.c — space files (hbmpi's native JSON and ConfigSpace's JSON, styles 0.4 to 1.x)
 * into hb_space, and configurations given as JSON objects. jansson parses; jsonloc finds where
 * each value sits, so that every error reads FILE:LINE:COL. Reads a buffer, not a FILE*. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hb_buf.h"
#include "jsonloc.h"
#include "space_impl.h"


typedef struct parser {
    const char *text;
    size_t len;
    const char *name;  /* file name for positions */
    json_t *root;
    hb_jsonloc *loc;
    hb_error *err;
    hb_space *sp;
    const json_t **cond_of; /* per parameter: the JSON condition that governs it */
} parser;

/* Fill err with "name:line:col" at byte 'offset' (or at the start if unknown). */
static int fail_at(parser *p, size_t offset, const char *fmt, ...) HB_PRINTF(3, 4);
static int fail_at(parser *p, size_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = hb__jsonloc_fail(p->err, p->text, p->len, p->name, offset, fmt, ap);
    va_end(ap);
    return rc;
}

/* Re-point an error that space.c produced (without a position) at 'offset'. */
static int refail(parser *p, size_t offset, int rc)
{
    if (rc == HB_ENOMEM) return rc;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", p->err ? p->err->msg : "invalid space");
    return fail_at(p, offset, "%s", msg);
}

static size_t at(parser *p, const json_t *n) { return hb__jsonloc_of(p->loc, n); }

static size_t at_member(parser *p, const json_t *obj, const char *key)
{
    return hb__jsonloc_member_or_obj(p->loc, obj, key);
}

static size_t at_elem(parser *p, const json_t *arr, size_t i) { return hb__jsonloc_element_or_arr(p->loc, arr, i); }

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* A required string member. */
static int get_string(parser *p, const json_t *obj, const char *key, const char **out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) return fail_at(p, at(p, obj), "missing \"%s\"", key);
    if (!json_is_string(v))
        return fail_at(p, at_member(p, obj, key), "\"%s\" must be a string, not %s", key, json_kind(v));
    *out = json_string_value(v);
    return HB_OK;
}

/* A required number member. */
static int get_number(parser *p, const json_t *obj, const char *key, double *out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) return fail_at(p, at(p, obj), "missing \"%s\"", key);
    if (!json_is_number(v))
        return fail_at(p, at_member(p, obj, key), "\"%s\" must be a number, not %s", key, json_kind(v));
    *out = json_number_value(v);
    return HB_OK;
}

/* A JSON string or number as an hb_value (strings borrowed from the tree). */
static int get_value(parser *p, const json_t *v, size_t where, hb_value *out)
{
    if (json_is_string(v)) {
        *out = (hb_value){1, 0.0, json_string_value(v)};
        return HB_OK;
    }
    if (json_is_number(v)) {
        *out = (hb_value){0, json_number_value(v), NULL};
        return HB_OK;
    }
    return fail_at(p, where, "expected a string or a number, not %s", json_kind(v));
}

/* Values of a JSON array into a new array of hb_value. */
static int get_values(parser *p, const json_t *arr, hb_value **out, size_t *n)
{
    *out = NULL;
    *n = json_array_size(arr);
    if (*n == 0) return HB_OK;
    hb_value *v = hb_calloc(*n, sizeof *v);
    if (v == NULL) return hb_error_set(p->err, HB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < *n; i++) {
        const json_t *e = json_array_get(arr, i);
        /* where it is only for an error: finding it costs a search of the whole text */
        int ok = json_is_string(e) || json_is_number(e);
        int rc = get_value(p, e, ok ? 0 : at_elem(p, arr, i), &v[i]);
        if (rc != HB_OK) {
            hb_free(v);
            return rc;
        }
    }
    *out = v;
    return HB_OK;
}

static const json_t *default_of(const json_t *obj, const char **key)
{
    const json_t *d = json_object_get(obj, "default_value");
    *key = "default_value";
    if (d == NULL) {
        d = json_object_get(obj, "default");
        *key = "default";
    }
    return json_is_null(d) ? NULL : d;
}

static size_t fault_offset(parser *p, const json_t *obj, const char *defkey, const char *choices_key,
                           const hb__fault *f)
{
    const json_t *arr = choices_key ? json_object_get(obj, choices_key) : NULL;
    switch (f->field) {
    case HB__FIELD_NAME: return at_member(p, obj, "name");
    case HB__FIELD_LOWER: return at_member(p, obj, "lower");
    case HB__FIELD_UPPER: return at_member(p, obj, "upper");
    case HB__FIELD_DEFAULT: return at_member(p, obj, defkey);
    case HB__FIELD_LOG: return at_member(p, obj, "log");
    case HB__FIELD_CHOICES: return arr ? at_member(p, obj, choices_key) : at(p, obj);
    case HB__FIELD_WEIGHTS: {
        const char *wk = json_object_get(obj, "weights") ? "weights" : "probabilities";
        return at_member(p, obj, wk);
    }
    default:
        if (f->field >= HB__FIELD_VALUE && arr)
            return at_elem(p, arr, (size_t)(f->field - HB__FIELD_VALUE));
        return at(p, obj);
    }
}

static int parse_numeric(parser *p, const json_t *obj, const char *name, hb_param_type type)
{
    double lo, hi, def = NAN;
    int rc;
    if ((rc = get_number(p, obj, "lower", &lo)) != HB_OK) return rc;
    if ((rc = get_number(p, obj, "upper", &hi)) != HB_OK) return rc;
    const json_t *lg = json_object_get(obj, "log");
    if (lg && !json_is_boolean(lg))
        return fail_at(p, at_member(p, obj, "log"), "\"log\" must be true or false, not %s", json_kind(lg));
    const json_t *q = json_object_get(obj, "q");
    if (q && !json_is_null(q))
        return fail_at(p, at_member(p, obj, "q"), "quantized parameters (\"q\") are not supported");
    const char *defkey;
    const json_t *d = default_of(obj, &defkey);
    if (d) {
        if (!json_is_number(d))
            return fail_at(p, at_member(p, obj, defkey), "default of '%s' must be a number, not %s",
                           name, json_kind(d));
        def = json_number_value(d);
    }
    hb__fault f;
    rc = hb__space_add_numeric(p->sp, type, name, lo, hi, json_is_true(lg) ? HB_SCALE_LOG : HB_SCALE_LINEAR,
                               def, p->err, &f);
    if (rc != HB_OK) return refail(p, fault_offset(p, obj, defkey, NULL, &f), rc);
    return HB_OK;
}

static int parse_choices(parser *p, const json_t *obj, const char *name, hb_param_type type)
{
    const char *key = type == HB_PARAM_ORDINAL ? "sequence" : "choices";
    hb_value *vals = NULL, one;
    size_t n = 0;
    double *weights = NULL;
    int def_index = -1, rc;
    const char *defkey = "default";
    if (type == HB_PARAM_CONSTANT) {
        const json_t *v = json_object_get(obj, "value");
        if (v == NULL) return fail_at(p, at(p, obj), "constant '%s' needs a \"value\"", name);
        if ((rc = get_value(p, v, at_member(p, obj, "value"), &one)) != HB_OK) return rc;
        hb__fault f;
        rc = hb__space_add_choices(p->sp, type, name, &one, 1, NULL, 0, p->err, &f);
        return rc == HB_OK ? rc : refail(p, fault_offset(p, obj, defkey, NULL, &f), rc);
    }
    const json_t *arr = json_object_get(obj, key);
    if (arr == NULL) return fail_at(p, at(p, obj), "'%s' needs \"%s\"", name, key);
    if (!json_is_array(arr))
        return fail_at(p, at_member(p, obj, key), "\"%s\" must be an array, not %s", key, json_kind(arr));
    if (json_array_size(arr) > HB_SPACE_MAX_CHOICES)
        return fail_at(p, at_member(p, obj, key), "'%s' has %zu %s, at most %d", name, json_array_size(arr),
                       key, HB_SPACE_MAX_CHOICES);
    if ((rc = get_values(p, arr, &vals, &n)) != HB_OK) return rc;
    const char *wkey = json_object_get(obj, "weights") ? "weights" : "probabilities";
    const json_t *w = json_object_get(obj, wkey);
    if (w && !json_is_null(w)) {
        if (!json_is_array(w) || json_array_size(w) != n) {
            rc = fail_at(p, at_member(p, obj, wkey), "\"%s\" of '%s' must be an array of %zu numbers",
                         wkey, name, n);
            goto done;
        }
        if ((weights = hb_malloc((n ? n : 1) * sizeof(double))) == NULL) {
            rc = hb_error_set(p->err, HB_ENOMEM, NULL, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(w, i);
            if (!json_is_number(e)) {
                rc = fail_at(p, at_elem(p, w, i), "weights must be numbers, not %s", json_kind(e));
                goto done;
            }
            weights[i] = json_number_value(e);
        }
    }
    const json_t *d = default_of(obj, &defkey);
    if (d && n > 0) { /* with no choices, the add below says so */
        hb_value dv;
        if ((rc = get_value(p, d, at_member(p, obj, defkey), &dv)) != HB_OK) goto done;
        for (size_t i = 0; i < n && def_index < 0; i++)
            if (vals[i].is_string == dv.is_string &&
                (dv.is_string ? strcmp(vals[i].str, dv.str) == 0 : vals[i].num == dv.num))
                def_index = (int)i;
        if (def_index < 0) {
            rc = fail_at(p, at_member(p, obj, defkey), "default of '%s' is not one of its %s", name,
                         type == HB_PARAM_ORDINAL ? "sequence" : "choices");
            goto done;
        }
    }
    hb__fault f;
    rc = hb__space_add_choices(p->sp, type, name, vals, n, weights, def_index, p->err, &f);
    if (rc != HB_OK) rc = refail(p, fault_offset(p, obj, defkey, key, &f), rc);
done:
    hb_free(vals);
    hb_free(weights);
    return rc;
}

/* "mutable": true (native), or "meta": {"mutable": true} (ConfigSpace keeps user data in a
 * parameter's meta): the parameter may change during training (pbt, pb2). */
static int parse_mutable(parser *p, const json_t *obj, const char *name)
{
    const json_t *m = json_object_get(obj, "mutable"), *owner = obj;
    const json_t *meta = json_object_get(obj, "meta");
    if (m == NULL && json_is_object(meta)) {
        m = json_object_get(meta, "mutable");
        owner = meta;
    }
    if (m == NULL || json_is_null(m)) return HB_OK;
    if (!json_is_boolean(m))
        return fail_at(p, at_member(p, owner, "mutable"), "\"mutable\" must be true or false, not %s",
                       json_kind(m));
    int rc = hb_space_set_mutable(p->sp, name, json_is_true(m), p->err);
    return rc == HB_OK ? rc : refail(p, at_member(p, owner, "mutable"), rc);
}

static int parse_param(parser *p, const json_t *obj, size_t where)
{
    if (!json_is_object(obj)) return fail_at(p, where, "a parameter must be an object, not %s", json_kind(obj));
    const char *name, *type;
    int rc;
    if ((rc = get_string(p, obj, "name", &name)) != HB_OK) return rc;
    if ((rc = get_string(p, obj, "type", &type)) != HB_OK) return rc;
    if (!strcmp(type, "uniform_float") || !strcmp(type, "float"))
        rc = parse_numeric(p, obj, name, HB_PARAM_FLOAT);
    else if (!strcmp(type, "uniform_int") || !strcmp(type, "int") || !strcmp(type, "integer"))
        rc = parse_numeric(p, obj, name, HB_PARAM_INT);
    else if (!strcmp(type, "categorical")) rc = parse_choices(p, obj, name, HB_PARAM_CATEGORICAL);
    else if (!strcmp(type, "ordinal")) rc = parse_choices(p, obj, name, HB_PARAM_ORDINAL);
    else if (!strcmp(type, "constant")) rc = parse_choices(p, obj, name, HB_PARAM_CONSTANT);
    else
        return fail_at(p, at_member(p, obj, "type"),
                       "unsupported parameter type '%s' of '%s' (hbmpi reads float, int, categorical, "
                       "ordinal, constant, and ConfigSpace's uniform_float and uniform_int)",
                       type, name);
    return rc == HB_OK ? parse_mutable(p, obj, name) : rc;
}

/* ---------- condition and forbidden trees ---------- */

/* A pool of spec nodes built from JSON; pool[i] came from json[i]. Children are contiguous. */
typedef struct pool {
    void *nodes;       /* hb_cond_spec[] or hb_forbid_spec[] */
    const json_t **json;
    hb_value **vals;   /* per node: owned values array */
    size_t n, cap;
} pool;

static void pool_fini(pool *pl)
{
    for (size_t i = 0; i < pl->n; i++) hb_free(pl->vals[i]);
    hb_free(pl->vals);
    hb_free(pl->json);
    hb_free(pl->nodes);
}

static size_t count_nodes(const json_t *c, const char *kids)
{
    const json_t *arr = json_object_get(c, kids);
    size_t n = 1;
    if (json_is_array(arr))
        for (size_t i = 0; i < json_array_size(arr); i++) n += count_nodes(json_array_get(arr, i), kids);
    return n;
}

static int pool_init(parser *p, pool *pl, const json_t *c, const char *kids, size_t size)
{
    memset(pl, 0, sizeof *pl);
    pl->cap = count_nodes(c, kids);
    pl->nodes = hb_calloc(pl->cap, size);
    pl->json = hb_calloc(pl->cap, sizeof *pl->json);
    pl->vals = hb_calloc(pl->cap, sizeof *pl->vals);
    if (!pl->nodes || !pl->json || !pl->vals) return hb_error_set(p->err, HB_ENOMEM, NULL, "out of memory");
    return HB_OK;
}

static size_t pool_index(const pool *pl, const void *node, size_t size)
{
    return (size_t)((const char *)node - (const char *)pl->nodes) / size;
}

/* Read the value(s) of a leaf: "value" (one) or "values" (IN). */
static int leaf_values(parser *p, pool *pl, size_t idx, const json_t *c, int many)
{
    const char *key = many ? "values" : "value";
    const json_t *v = json_object_get(c, key);
    if (v == NULL) return fail_at(p, at(p, c), "missing \"%s\"", key);
    size_t n;
    int rc;
    if (many) {
        if (!json_is_array(v))
            return fail_at(p, at_member(p, c, key), "\"values\" must be an array, not %s", json_kind(v));
        rc = get_values(p, v, &pl->vals[idx], &n);
    } else {
        n = 1;
        if ((pl->vals[idx] = hb_malloc(sizeof(hb_value))) == NULL)
            return hb_error_set(p->err, HB_ENOMEM, NULL, "out of memory");
        rc = get_value(p, v, at_member(p, c, key), pl->vals[idx]);
    }
    return rc == HB_OK ? (int)n : rc;
}

static int build_cond(parser *p, pool *pl, size_t idx, const json_t *c, size_t where)
{
    hb_cond_spec *s = (hb_cond_spec *)pl->nodes + idx;
    pl->json[idx] = c;
    if (!json_is_object(c)) return fail_at(p, where, "a condition must be an object, not %s", json_kind(c));
    const char *type;
    int rc;
    if ((rc = get_string(p, c, "type", &type)) != HB_OK) return rc;
    static const char *names[] = {"EQ", "NEQ", "IN", "GT", "LT", "AND", "OR"};
    int op = -1;
    for (int i = 0; i < 7; i++)
        if (!strcmp(type, names[i])) op = i;
    if (op < 0)
        return fail_at(p, at_member(p, c, "type"),
                       "unknown condition type '%s' (expected EQ, NEQ, IN, GT, LT, AND or OR)", type);
    s->op = (hb_cond_op)op;
    if (op == HB_COND_AND || op == HB_COND_OR) {
        const json_t *arr = json_object_get(c, "conditions");
        if (!json_is_array(arr) || json_array_size(arr) == 0)
            return fail_at(p, arr ? at_member(p, c, "conditions") : at(p, c),
                           "%s needs a non-empty \"conditions\" array", type);
        size_t n = json_array_size(arr), first = pl->n;
        pl->n += n;
        s->children = (hb_cond_spec *)pl->nodes + first;
        s->n_children = n;
        for (size_t i = 0; i < n; i++)
            if ((rc = build_cond(p, pl, first + i, json_array_get(arr, i), at_elem(p, arr, i))) != HB_OK)
                return rc;
        return HB_OK;
    }
    if ((rc = get_string(p, c, "parent", &s->parent)) != HB_OK) return rc;
    rc = leaf_values(p, pl, idx, c, op == HB_COND_IN);
    if (rc < 0) return rc;
    s->values = pl->vals[idx];
    s->n_values = (size_t)rc;
    return HB_OK;
}

static const char *cond_child(const json_t *c)
{
    const json_t *ch = json_object_get(c, "child");
    if (json_is_string(ch)) return json_string_value(ch);
    const json_t *arr = json_object_get(c, "conditions");
    return json_is_array(arr) && json_array_size(arr) ? cond_child(json_array_get(arr, 0)) : NULL;
}

static int parse_condition(parser *p, const json_t *c, size_t where)
{
    if (!json_is_object(c)) return fail_at(p, where, "a condition must be an object, not %s", json_kind(c));
    const char *child = cond_child(c);
    if (child == NULL) return fail_at(p, where, "condition has no \"child\"");
    pool pl;
    int rc = pool_init(p, &pl, c, "conditions", sizeof(hb_cond_spec));
    if (rc == HB_OK) {
        pl.n = 1;
        rc = build_cond(p, &pl, 0, c, where);
    }
    if (rc == HB_OK) {
        hb__fault f;
        rc = hb__space_add_condition(p->sp, child, (hb_cond_spec *)pl.nodes, p->err, &f);
        if (rc != HB_OK) {
            size_t i = f.node ? pool_index(&pl, f.node, sizeof(hb_cond_spec)) : 0;
            const json_t *jc = pl.json[i];
            size_t off;
            if (f.field == HB__FIELD_CHILD)
                off = at_member(p, c, "child");
            else if (f.field == HB__FIELD_PARENT)
                off = at_member(p, jc, "parent");
            else if (f.field >= HB__FIELD_VALUE && json_object_get(jc, "values"))
                off = at_elem(p, json_object_get(jc, "values"), (size_t)(f.field - HB__FIELD_VALUE));
            else if (f.field >= HB__FIELD_VALUE)
                off = at_member(p, jc, "value");
            else if (f.field == HB__FIELD_TYPE)
                off = at_member(p, jc, "type");
            else
                off = at(p, jc);
            rc = refail(p, off, rc);
        } else {
            p->cond_of[hb_space_find(p->sp, child)] = c;
        }
    }
    pool_fini(&pl);
    return rc;
}

static int build_forbid(parser *p, pool *pl, size_t idx, const json_t *c, size_t where)
{
    hb_forbid_spec *s = (hb_forbid_spec *)pl->nodes + idx;
    pl->json[idx] = c;
    if (!json_is_object(c))
        return fail_at(p, where, "a forbidden clause must be an object, not %s", json_kind(c));
    const char *type;
    int rc;
    if ((rc = get_string(p, c, "type", &type)) != HB_OK) return rc;
    if (!strcmp(type, "AND")) {
        const json_t *arr = json_object_get(c, "clauses");
        if (!json_is_array(arr) || json_array_size(arr) == 0)
            return fail_at(p, arr ? at_member(p, c, "clauses") : at(p, c),
                           "AND needs a non-empty \"clauses\" array");
        size_t n = json_array_size(arr), first = pl->n;
        pl->n += n;
        s->op = HB_FORBID_AND;
        s->children = (hb_forbid_spec *)pl->nodes + first;
        s->n_children = n;
        for (size_t i = 0; i < n; i++)
            if ((rc = build_forbid(p, pl, first + i, json_array_get(arr, i), at_elem(p, arr, i))) != HB_OK)
                return rc;
        return HB_OK;
    }
    if (strcmp(type, "EQUALS") && strcmp(type, "IN"))
        return fail_at(p, at_member(p, c, "type"),
                       "unsupported forbidden clause type '%s' (expected EQUALS, IN or AND)", type);
    s->op = strcmp(type, "IN") ? HB_FORBID_EQUALS : HB_FORBID_IN;
    if ((rc = get_string(p, c, "name", &s->name)) != HB_OK) return rc;
    rc = leaf_values(p, pl, idx, c, s->op == HB_FORBID_IN);
    if (rc < 0) return rc;
    s->values = pl->vals[idx];
    s->n_values = (size_t)rc;
    return HB_OK;
}

static int parse_forbidden(parser *p, const json_t *c, size_t where)
{
    pool pl;
    int rc = pool_init(p, &pl, c, "clauses", sizeof(hb_forbid_spec));
    if (rc == HB_OK) {
        pl.n = 1;
        rc = build_forbid(p, &pl, 0, c, where);
    }
    if (rc == HB_OK) {
        hb__fault f;
        rc = hb__space_add_forbidden(p->sp, (hb_forbid_spec *)pl.nodes, p->err, &f);
        if (rc != HB_OK) {
            const json_t *jc = pl.json[f.node ? pool_index(&pl, f.node, sizeof(hb_forbid_spec)) : 0];
            size_t off;
            if (f.field == HB__FIELD_NAME)
                off = at_member(p, jc, "name");
            else if (f.field >= HB__FIELD_VALUE && json_object_get(jc, "values"))
                off = at_elem(p, json_object_get(jc, "values"), (size_t)(f.field - HB__FIELD_VALUE));
            else if (f.field >= HB__FIELD_VALUE)
                off = at_member(p, jc, "value");
            else
                off = at(p, jc);
            rc = refail(p, off, rc);
        }
    }
    pool_fini(&pl);
    return rc;
}

/* An optional array member: NULL if absent or null, error if not an array. */
static int opt_array(parser *p, const char *key, const json_t **out)
{
    const json_t *a = json_object_get(p->root, key);
    *out = NULL;
    if (a == NULL || json_is_null(a)) return HB_OK;
    if (!json_is_array(a))
        return fail_at(p, at_member(p, p->root, key), "\"%s\" must be an array, not %s", key, json_kind(a));
    *out = a;
    return HB_OK;
}

static int parse_root(parser *p)
{
    if (!json_is_object(p->root))
        return fail_at(p, at(p, p->root), "a space file holds a JSON object, not %s", json_kind(p->root));
    const char *pkey = json_object_get(p->root, "hyperparameters") ? "hyperparameters" : "parameters";
    const json_t *params = json_object_get(p->root, pkey), *conds, *forbs;
    if (params == NULL)
        return fail_at(p, at(p, p->root),
                       "expected \"parameters\" (hbmpi format) or \"hyperparameters\" (ConfigSpace)");
    if (!json_is_array(params))
        return fail_at(p, at_member(p, p->root, pkey), "\"%s\" must be an array, not %s", pkey,
                       json_kind(params));
    if (json_array_size(params) == 0)
        return fail_at(p, at_member(p, p->root, pkey), "the space has no parameters");
    int rc;
    if ((rc = opt_array(p, "conditions", &conds)) != HB_OK) return rc;
    if ((rc = opt_array(p, "forbiddens", &forbs)) != HB_OK) return rc;
    for (size_t i = 0; i < json_array_size(params); i++)
        if ((rc = parse_param(p, json_array_get(params, i), at_elem(p, params, i))) != HB_OK) return rc;
    p->cond_of = hb_calloc(json_array_size(params), sizeof *p->cond_of);
    if (p->cond_of == NULL) return hb_error_set(p->err, HB_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; conds && i < json_array_size(conds); i++)
        if ((rc = parse_condition(p, json_array_get(conds, i), at_elem(p, conds, i))) != HB_OK) return rc;
    for (size_t i = 0; forbs && i < json_array_size(forbs); i++)
        if ((rc = parse_forbidden(p, json_array_get(forbs, i), at_elem(p, forbs, i))) != HB_OK) return rc;
    int cyc;
    if ((rc = hb_space_finalize(p->sp, &cyc, p->err)) != HB_OK) {
        size_t off = cyc >= 0 && p->cond_of[cyc] ? at_member(p, p->cond_of[cyc], "child") : at(p, p->root);
        return refail(p, off, rc);
    }
    return HB_OK;
}

int hb_space_parse(const char *buf, size_t len, const char *name, hb_space **out, hb_error *err)
{
    *out = NULL;
    if (buf == NULL || name == NULL) return hb_error_set(err, HB_EINVAL, NULL, "bad arguments");
    parser p;
    memset(&p, 0, sizeof p);
    p.text = buf;
    p.len = len;
    p.name = name;
    p.err = err;
    int rc = hb__jsonloc_load(buf, len, name, &p.root, err);
    if (rc != HB_OK) return rc;
    rc = hb__jsonloc_build(buf, len, p.root, &p.loc);
    if (rc == HB_OK) rc = hb_space_create(&p.sp);
    if (rc == HB_ENOMEM) hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    if (rc == HB_OK) rc = parse_root(&p);
    if (rc == HB_OK) {
        *out = p.sp;
        p.sp = NULL;
    }
    hb_space_free(p.sp);
    hb_free(p.cond_of);
    hb__jsonloc_free(p.loc);
    json_decref(p.root);
    return rc;
}

int hb_space_load(const char *path, hb_space **out, hb_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return hb_error_set(err, HB_EIO, path, "cannot open: %s", strerror(errno));
    hb_buf b = HB_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (hb_buf_append(&b, chunk, n) != HB_OK) break;
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (b.failed)
        rc = hb_error_set(err, HB_ENOMEM, path, "out of memory");
    else if (bad)
        rc = hb_error_set(err, HB_EIO, path, "cannot read");
    else
        rc = hb_space_parse(b.data ? b.data : "", b.len, path, out, err);
    hb_buf_fini(&b);
    return rc;
}

/* ---------- configurations ---------- */

static int config_value(const hb_space *sp, size_t i, const json_t *v, double *out, hb_error *err)
{
    const char *name = hb_space_name(sp, i);
    hb_param_type t = hb_space_type(sp, i);
    if (t == HB_PARAM_FLOAT || t == HB_PARAM_INT) {
        if (!json_is_number(v))
            return hb_error_set(err, HB_EINVAL, NULL, "'%s' must be a number, not %s", name, json_kind(v));
        double x = json_number_value(v);
        if (t == HB_PARAM_INT && floor(x) != x)
            return hb_error_set(err, HB_EINVAL, NULL, "'%s' must be an integer, got %g", name, x);
        if (!(x >= hb_space_lower(sp, i) && x <= hb_space_upper(sp, i)))
            return hb_error_set(err, HB_EINVAL, NULL, "%.15g is outside [%.15g, %.15g] of '%s'", x,
                                hb_space_lower(sp, i), hb_space_upper(sp, i), name);
        *out = x;
        return HB_OK;
    }
    for (size_t k = 0; k < hb_space_n_choices(sp, i); k++) {
        hb_value c = hb_space_choice(sp, i, k);
        if ((c.is_string && json_is_string(v) && strcmp(c.str, json_string_value(v)) == 0) ||
            (!c.is_string && json_is_number(v) && c.num == json_number_value(v))) {
            *out = (double)k;
            return HB_OK;
        }
    }
    if (json_is_string(v))
        return hb_error_set(err, HB_EINVAL, NULL, "'%s' is not a choice of '%s'", json_string_value(v), name);
    if (json_is_number(v))
        return hb_error_set(err, HB_EINVAL, NULL, "%g is not a choice of '%s'", json_number_value(v), name);
    hb_error_set(err, HB_EINVAL, NULL, "'%s' must be one of its choices, not %s", name, json_kind(v));
    return HB_EINVAL;
}

int hb_space_config_parse(const hb_space *sp, const char *json, double *x, hb_error *err)
{
    json_error_t je;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL && (json_error_code(&je) == json_error_out_of_memory || je.text[0] == '\0'))
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    if (root == NULL)
        return hb_error_set(err, HB_EINVAL, NULL, "configuration is not valid JSON: %s (column %d)", je.text,
                            je.column);
    int rc = HB_OK;
    size_t n = hb_space_dim(sp);
    unsigned char *given = hb_calloc(n, 1);
    if (given == NULL) {
        json_decref(root);
        return hb_error_set(err, HB_ENOMEM, NULL, "out of memory");
    }
    if (!json_is_object(root)) {
        rc = hb_error_set(err, HB_EINVAL, NULL, "a configuration is a JSON object, not %s", json_kind(root));
        goto done;
    }
    for (size_t i = 0; i < n; i++) x[i] = hb_space_default_value(sp, i);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        int i = hb_space_find(sp, key);
        if (i < 0) {
            rc = hb_error_set(err, HB_EINVAL, NULL, "unknown parameter '%s'", key);
            goto done;
        }
        if ((rc = config_value(sp, (size_t)i, v, &x[i], err)) != HB_OK) goto done;
        given[i] = 1;
    }
    hb_space_activate(sp, x);
    for (size_t i = 0; i < n; i++)
        if (given[i] && isnan(x[i])) {
            rc = hb_error_set(err, HB_EINVAL, NULL, "'%s' is given but inactive under its condition",
                              hb_space_name(sp, i));
            goto done;
        }
    rc = hb_space_validate(sp, x, err);
    if (rc != HB_OK) { /* HB_ERANGE from validate: the configuration, not a range, is wrong */
        rc = HB_EINVAL;
        if (err) err->status = HB_EINVAL;
    }
done:
    hb_free(given);
    json_decref(root);
    return rc;
}
