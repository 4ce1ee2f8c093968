/* space_impl.h — what space.c shares with space_parse.c: the add functions with a report of
 * which field of the caller's description was at fault, so the parser can point at it. */
#ifndef HB_SPACE_IMPL_H
#define HB_SPACE_IMPL_H

#include "hb_space.h"

/* Which part of an add call's input was wrong (for error positions). */
enum {
    HB__FIELD_NONE = 0,
    HB__FIELD_NAME,
    HB__FIELD_LOWER,
    HB__FIELD_UPPER,
    HB__FIELD_DEFAULT,
    HB__FIELD_LOG,
    HB__FIELD_CHOICES,
    HB__FIELD_WEIGHTS,
    HB__FIELD_CHILD,
    HB__FIELD_PARENT,
    HB__FIELD_TYPE,
    HB__FIELD_VALUE = 1000 /* + index of the bad value in 'values' or 'choices' */
};

/* A report of the failing field; 'node' is the failing spec node of a condition or forbidden
 * tree (a const hb_cond_spec * or const hb_forbid_spec *), NULL for parameters. */
typedef struct hb__fault {
    int field;
    const void *node;
} hb__fault;

int hb__space_add_numeric(hb_space *sp, hb_param_type type, const char *name, double lower,
                          double upper, hb_scale scale, double def, hb_error *err, hb__fault *f);
int hb__space_add_choices(hb_space *sp, hb_param_type type, const char *name,
                          const hb_value *choices, size_t n, const double *weights, int def_index,
                          hb_error *err, hb__fault *f);
int hb__space_add_condition(hb_space *sp, const char *child, const hb_cond_spec *cond,
                            hb_error *err, hb__fault *f);
int hb__space_add_forbidden(hb_space *sp, const hb_forbid_spec *fb, hb_error *err, hb__fault *f);

#endif
