/* hb_space.h — search spaces: parameters, conditions, forbidden clauses; sampling; the map to and
 * from the unit hypercube; configurations as JSON. Pure: the parser reads a buffer, not a FILE*
 * (hb_space_load is the one convenience that reads a file).
 *
 * A configuration is a vector of 'dim' doubles in native encoding, one per parameter in
 * declaration order: float and int parameters hold their value, categorical, ordinal and
 * constant parameters hold the index of their choice, and an inactive parameter holds NaN.
 * In the unit hypercube every active coordinate is in [0, 1] and inactive ones are NaN. */
#ifndef HB_SPACE_H
#define HB_SPACE_H

#include "hb_common.h"
#include "hb_rng.h"

typedef struct hb_space hb_space;
typedef struct hb_buf hb_buf;

typedef enum hb_param_type {
    HB_PARAM_FLOAT,
    HB_PARAM_INT,
    HB_PARAM_CATEGORICAL,
    HB_PARAM_ORDINAL,
    HB_PARAM_CONSTANT
} hb_param_type;

typedef enum hb_scale { HB_SCALE_LINEAR = 0, HB_SCALE_LOG = 1 } hb_scale;

/* A choice of a categorical or ordinal parameter, or a constant's value, or a value named in a
 * condition or forbidden clause. 'str' is borrowed by the call that receives it. */
typedef struct hb_value {
    int is_string; /* 1: 'str' is the value; 0: 'num' is */
    double num;
    const char *str;
} hb_value;

typedef enum hb_cond_op {
    HB_COND_EQ,
    HB_COND_NEQ,
    HB_COND_IN,
    HB_COND_GT,
    HB_COND_LT,
    HB_COND_AND,
    HB_COND_OR
} hb_cond_op;

/* A condition tree as the caller describes it: leaves compare a parent's value, AND/OR nodes
 * combine 'children'. Everything is borrowed for the duration of the call. */
typedef struct hb_cond_spec {
    hb_cond_op op;
    const char *parent;                  /* leaves: the parameter compared */
    const hb_value *values;              /* leaves: 1 value, or n for IN */
    size_t n_values;
    const struct hb_cond_spec *children; /* AND / OR: two or more */
    size_t n_children;
} hb_cond_spec;

typedef enum hb_forbid_op { HB_FORBID_EQUALS, HB_FORBID_IN, HB_FORBID_AND } hb_forbid_op;

typedef struct hb_forbid_spec {
    hb_forbid_op op;
    const char *name;                      /* EQUALS / IN */
    const hb_value *values;                /* EQUALS: 1, IN: n */
    size_t n_values;
    const struct hb_forbid_spec *children; /* AND */
    size_t n_children;
} hb_forbid_spec;

/* Create an empty space. '*out' is NULL unless HB_OK. */
HB_API int hb_space_create(hb_space **out);
HB_API void hb_space_free(hb_space *sp);

/* The largest magnitude an integer parameter's bounds may have: 2^53, beyond which a double does
 * not hold every integer. */
#define HB_SPACE_MAX_INT 9007199254740992.0
/* At most this many parameters in a space, and choices (or sequence values) in one parameter:
 * beyond them adding one fails with HB_EINVAL. They bound what every sampler allocates per
 * configuration (the GP one-hot encodes categoricals) and the checks for repeated names and
 * choices, which compare each with those before it. */
#define HB_SPACE_MAX_PARAMS 10000
#define HB_SPACE_MAX_CHOICES 10000

/* Add parameters. Names must be unique and non-empty. 'def' is the default value, or NaN for
 * none (then the middle of the range in the unit cube is used). Log scale needs lower > 0.
 * Each returns HB_EINVAL with a message in 'err' for bad arguments and leaves 'sp' unchanged. */
HB_API int hb_space_add_float(hb_space *sp, const char *name, double lower, double upper,
                              hb_scale scale, double def, hb_error *err);
HB_API int hb_space_add_int(hb_space *sp, const char *name, double lower, double upper,
                            hb_scale scale, double def, hb_error *err);
/* 'weights' may be NULL (uniform); otherwise n non-negative numbers with a positive sum.
 * 'def_index' is -1 for none (the first choice). */
HB_API int hb_space_add_categorical(hb_space *sp, const char *name, const hb_value *choices,
                                    size_t n, const double *weights, int def_index,
                                    hb_error *err);
HB_API int hb_space_add_ordinal(hb_space *sp, const char *name, const hb_value *sequence,
                                size_t n, int def_index, hb_error *err);
HB_API int hb_space_add_constant(hb_space *sp, const char *name, hb_value value, hb_error *err);

/* Make 'child' active only when 'cond' holds. One condition per child (use AND/OR to combine).
 * Values named must be legal values of the parent; GT/LT need a numeric or ordinal parent. */
HB_API int hb_space_add_condition(hb_space *sp, const char *child, const hb_cond_spec *cond,
                                  hb_error *err);
/* Forbid every configuration that matches 'f'. */
HB_API int hb_space_add_forbidden(hb_space *sp, const hb_forbid_spec *f, hb_error *err);

/* Mark parameter 'name' as mutable (on = 1) or fixed (0, the default): a mutable parameter may
 * change between the steps of one model's training (population-based training, pbt and pb2);
 * the others stay fixed for a model's life. Constants cannot be mutable, and a mutable parameter
 * may take no part in a condition (finalize refuses it). Call before hb_space_finalize. */
HB_API int hb_space_set_mutable(hb_space *sp, const char *name, int on, hb_error *err);
/* Check the whole space after the last add: no cyclic conditions, and at least one allowed
 * default. Sampling and encoding need a finalized space. On a cycle 'cycle_child' (may be
 * NULL) receives the index of a parameter on it; for a mutable parameter in a condition, the
 * index of the parameter whose condition it is. */
HB_API int hb_space_finalize(hb_space *sp, int *cycle_child, hb_error *err);

/* Queries. Indices are in declaration order. */
HB_API size_t hb_space_dim(const hb_space *sp);
HB_API int hb_space_find(const hb_space *sp, const char *name); /* index, or -1 */
HB_API const char *hb_space_name(const hb_space *sp, size_t i);
HB_API hb_param_type hb_space_type(const hb_space *sp, size_t i);
HB_API hb_scale hb_space_scale(const hb_space *sp, size_t i);
HB_API double hb_space_lower(const hb_space *sp, size_t i);   /* float/int */
HB_API double hb_space_upper(const hb_space *sp, size_t i);   /* float/int */
HB_API size_t hb_space_n_choices(const hb_space *sp, size_t i); /* cat/ordinal; 1 for constant */
HB_API hb_value hb_space_choice(const hb_space *sp, size_t i, size_t k);
HB_API const double *hb_space_weights(const hb_space *sp, size_t i); /* NULL if uniform */
HB_API int hb_space_has_default(const hb_space *sp, size_t i);
HB_API double hb_space_default_value(const hb_space *sp, size_t i); /* native encoding */
HB_API int hb_space_has_condition(const hb_space *sp, size_t i);
HB_API int hb_space_is_mutable(const hb_space *sp, size_t i);
HB_API size_t hb_space_n_mutable(const hb_space *sp);
HB_API size_t hb_space_n_conditions(const hb_space *sp);
HB_API size_t hb_space_n_forbiddens(const hb_space *sp);

/* Draw a configuration uniformly (categorical weights respected) that satisfies the conditions
 * (inactive parameters are NaN) and no forbidden clause. Returns HB_ERANGE if 10000 draws in a
 * row were all forbidden. */
HB_API int hb_space_sample(const hb_space *sp, hb_rng *rng, double *x, hb_error *err);

/* The default configuration (inactive parameters NaN). */
HB_API void hb_space_default_config(const hb_space *sp, double *x);

/* Map native values to the unit cube and back. from_unit clamps to [0, 1], rounds integers and
 * picks choices, then applies the conditions (inactive -> NaN). It does not check forbiddens. */
HB_API void hb_space_to_unit(const hb_space *sp, const double *x, double *u);
HB_API void hb_space_from_unit(const hb_space *sp, const double *u, double *x);

/* Set to NaN every parameter whose condition does not hold (in dependency order). Values of
 * active parameters must already be set. */
HB_API void hb_space_activate(const hb_space *sp, double *x);
/* 1 if a parameter with a condition is active under 'x' (its parents' values). */
HB_API int hb_space_is_active(const hb_space *sp, const double *x, size_t i);
/* 1 if 'x' matches a forbidden clause. */
HB_API int hb_space_is_forbidden(const hb_space *sp, const double *x);
/* HB_OK if 'x' is a valid configuration: every active value legal, exactly the inactive ones
 * NaN, nothing forbidden. Otherwise HB_ERANGE and a message naming the parameter. */
HB_API int hb_space_validate(const hb_space *sp, const double *x, hb_error *err);

/* Parse a space file held in 'buf' (native or ConfigSpace JSON; see docs/spaces.md). 'name' is
 * used in error positions. Errors are HB_ESYNTAX with err->where = "name:line:col". */
HB_API int hb_space_parse(const char *buf, size_t len, const char *name, hb_space **out,
                          hb_error *err);
/* Read and parse a file. */
HB_API int hb_space_load(const char *path, hb_space **out, hb_error *err);

/* Append the value of parameter 'i' for native value 'v' as JSON (string, integer or number). */
HB_API int hb_space_value_json(const hb_space *sp, size_t i, double v, hb_buf *out);
/* Append the text of parameter 'i' at native value 'v' (not NaN) to 'out': a string choice
 * verbatim, an int as an integer, a number in its shortest round-trip form (as in the
 * configuration JSON). HB_ERANGE with a message if 'v' is not a valid choice index. */
HB_API int hb_space_value_text(const hb_space *sp, size_t i, double v, hb_buf *out, hb_error *err);
/* Append '{"name": value, ...}' with the active parameters of 'x'. */
HB_API int hb_space_config_json(const hb_space *sp, const double *x, hb_buf *out);
/* Parse a configuration given as a JSON object of name -> value into 'x'. Parameters that are
 * missing become their default (if active); unknown names, wrong types, values outside the
 * space, and forbidden configurations are errors (HB_EINVAL, message names the parameter). */
HB_API int hb_space_config_parse(const hb_space *sp, const char *json, double *x, hb_error *err);
/* Append the space in the native JSON format (docs/spaces.md). */
HB_API int hb_space_json(const hb_space *sp, hb_buf *out);

#endif
