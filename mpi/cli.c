/* cli.c — the option tables of the hbmpi commands (parsing and --help from one table), strict
 * option values, usage errors, exit codes and error printing. */
#include "hb_cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- exit codes */

int hb_cli_exit_code_as(int status, unsigned variant)
{
    switch (status) {
    case HB_OK: return HB_EXIT_OK;
    case HB_EINTR: return HB_EXIT_INTERRUPTED;
    case HB_ELOST: return HB_EXIT_LOST;
    default: break;
    }
    if (variant & HB_CLI_EXIT_WORK) return HB_EXIT_FAILED;
    switch (status) {
    case HB_EIO: return variant & HB_CLI_EXIT_INPUT ? HB_EXIT_USAGE : HB_EXIT_FAILED;
    case HB_EINVAL:
    case HB_ESYNTAX:
    case HB_ENOTFOUND:
    case HB_ERANGE:
    case HB_EDAMAGED: return HB_EXIT_USAGE;
    default: return HB_EXIT_FAILED; /* HB_ENOMEM, HB_EMPI, HB_EKERNEL */
    }
}

int hb_cli_exit_code(int status)
{
    return hb_cli_exit_code_as(status, 0);
}

/* ---------------------------------------------------------------- messages */

int hb_cli_usage_error(const hb_args *a, const char *fmt, ...)
{
    if (a->quiet_errors) return HB_EXIT_USAGE;
    fprintf(stderr, "hbmpi %s: ", a->cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'hbmpi %s --help')\n", a->cmd);
    return HB_EXIT_USAGE;
}

void hb_cli_print_error(const hb_error *err)
{
    if (err->where[0])
        fprintf(stderr, "%s: error: %s\n", err->where, err->msg);
    else
        fprintf(stderr, "hbmpi: error: %s\n", err->msg[0] ? err->msg : hb_strerror(err->status));
}

/* ---------------------------------------------------------------- values */

/* Take option 'name' at argv[i] with its value ("--seed 3" or "--seed=3") into a->value. */
static int take_value(hb_args *a, const char *name)
{
    const char *arg = a->argv[a->i];
    size_t n = strlen(name);
    if (arg[n] == '=') {
        a->value = arg + n + 1;
        a->i++;
        return HB_EXIT_OK;
    }
    if (a->i + 1 >= a->argc) return hb_cli_usage_error(a, "option %s needs a value", name);
    a->value = a->argv[a->i + 1];
    a->i += 2;
    return HB_EXIT_OK;
}

static int take_flag(hb_args *a, const char *name)
{
    if (a->argv[a->i][strlen(name)] == '=') return hb_cli_usage_error(a, "option %s takes no value", name);
    a->i++;
    return HB_EXIT_OK;
}

static int double_value(hb_args *a, const hb_cli_opt *o, double *out)
{
    const char *s = a->value, *opt = o->name;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v))
        return hb_cli_usage_error(a, "%s: expected a number, got '%s'", opt, s);
    int incl = (o->flags & HB_CLI_MIN_INCL) != 0;
    if (incl ? !(v >= o->min) : !(v > o->min))
        return hb_cli_usage_error(a, "%s: must be %s %g, got '%s'", opt, incl ? "at least" : "greater than", o->min, s);
    if ((o->flags & HB_CLI_MAX_EXCL) && !(v < o->max))
        return hb_cli_usage_error(a, "%s: must be below %g, got '%s'", opt, o->max, s);
    if ((o->flags & HB_CLI_MAX) && !(v <= o->max))
        return hb_cli_usage_error(a, "%s: must be in %c%g, %g], got '%s'", opt, incl ? '[' : '(', o->min, o->max, s);
    *out = v;
    return HB_EXIT_OK;
}

int hb_cli_double(hb_args *a, const char *opt, double *out, double min_exclusive)
{
    hb_cli_opt o = {.kind = HB_CLI_DOUBLE, .name = opt, .min = min_exclusive};
    return double_value(a, &o, out);
}

static int long_value(hb_args *a, const hb_cli_opt *o, long *out)
{
    const char *s = a->value;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10), min = (long)o->min, max = (long)o->max;
    if (s[0] == '\0' || *end != '\0' || errno == ERANGE)
        return hb_cli_usage_error(a, "%s: expected an integer, got '%s'", o->name, s);
    if (v < min) return hb_cli_usage_error(a, "%s: must be at least %ld, got '%s'", o->name, min, s);
    if ((o->flags & HB_CLI_MAX) && v > max) {
        if (!(o->flags & HB_CLI_CLAMP)) return hb_cli_usage_error(a, "%s: at most %ld", o->name, max);
        v = max;
    }
    *out = v;
    return HB_EXIT_OK;
}

static int u64_value(hb_args *a, const char *opt, uint64_t *out)
{
    const char *s = a->value;
    char *end;
    errno = 0;
    if (s[0] == '\0' || s[0] == '-' || s[0] == '+')
        return hb_cli_usage_error(a, "%s: expected a non-negative integer, got '%s'", opt, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return hb_cli_usage_error(a, "%s: expected a non-negative integer, got '%s'", opt, s);
    *out = (uint64_t)v;
    return HB_EXIT_OK;
}

/* "expected 'a', 'b' or 'c'" */
static int enum_value(hb_args *a, const hb_cli_opt *o, int *out)
{
    int n = 0;
    while (o->words[n]) n++;
    for (int i = 0; i < n; i++)
        if (!strcmp(a->value, o->words[i])) {
            *out = i;
            return HB_EXIT_OK;
        }
    char list[512];
    size_t len = 0;
    list[0] = '\0';
    for (int i = 0; i < n && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", i == 0 ? "" : i == n - 1 ? " or " : ", ",
                                o->words[i]);
    return hb_cli_usage_error(a, "%s: expected %s, got '%s'", o->name, list, a->value);
}

/* Convert a->value by row 'o' into 'field'. */
static int store_value(hb_args *a, const hb_cli_opt *o, void *opts, void *field)
{
    long lv;
    int rc;
    switch (o->kind) {
    case HB_CLI_STR: *(const char **)field = a->value; return HB_EXIT_OK;
    case HB_CLI_DOUBLE: return double_value(a, o, field);
    case HB_CLI_U64: return u64_value(a, o->name, field);
    case HB_CLI_ENUM: return enum_value(a, o, field);
    case HB_CLI_CALL: return o->fn(a, opts);
    case HB_CLI_LONG: return long_value(a, o, field);
    case HB_CLI_INT:
        if ((rc = long_value(a, o, &lv)) == HB_EXIT_OK) *(int *)field = (int)lv;
        return rc;
    default: return hb_cli_usage_error(a, "%s: not an option with a value", o->name);
    }
}

/* ---------------------------------------------------------------- parsing */

/* The row of the option at argv[i] ("--name", "--name=value"; a REST option by its name alone). */
static const hb_cli_opt *find_row(const hb_cli_table *t, const hb_args *a)
{
    const char *arg = a->argv[a->i];
    for (const hb_cli_opt *o = t->rows; o->kind != HB_CLI_END; o++) {
        if (o->name == NULL || (o->only && strcmp(o->only, a->cmd) != 0)) continue;
        size_t n = strlen(o->name);
        if (strncmp(arg, o->name, n) != 0) continue;
        if (arg[n] == '\0' || (arg[n] == '=' && o->kind != HB_CLI_REST)) return o;
    }
    return NULL;
}

static int take_row(const hb_cli_opt *o, void *opts, hb_args *a)
{
    void *field = (char *)opts + o->off;
    if (o->kind == HB_CLI_REST) return o->fn(a, opts);
    if (o->kind == HB_CLI_FLAG) {
        if (take_flag(a, o->name) != HB_EXIT_OK) return HB_EXIT_USAGE;
        *(int *)field = 1;
        return HB_EXIT_OK;
    }
    if (take_value(a, o->name) != HB_EXIT_OK) return HB_EXIT_USAGE;
    return store_value(a, o, opts, field);
}

int hb_cli_wants_help(const hb_args *a)
{
    for (int i = a->i; i < a->argc; i++)
        if (!strcmp(a->argv[i], "--help") || !strcmp(a->argv[i], "-h")) return 1;
    return 0;
}

int hb_cli_parse(const hb_cli_table *t, void *opts, hb_args *a)
{
    if (hb_cli_wants_help(a)) {
        hb_cli_print_help(t, stdout);
        return HB_EXIT_OK;
    }
    while (a->i < a->argc) {
        const char *arg = a->argv[a->i];
        const hb_cli_opt *o = find_row(t, a);
        int rc;
        if (o)
            rc = take_row(o, opts, a);
        else if (t->positional && !(arg[0] == '-' && arg[1] != '\0'))
            rc = t->positional(a, opts);
        else
            rc = hb_cli_usage_error(a, "unknown option '%s'", arg);
        if (rc != HB_EXIT_OK) return HB_EXIT_USAGE;
    }
    return HB_CLI_PARSED;
}

/* ---------------------------------------------------------------- help */

/* "  --name META" padded to the column (two spaces when it reaches it), then the help, its
 * further lines indented to the column. */
static void print_option(const hb_cli_table *t, const hb_cli_opt *o, FILE *f)
{
    int w = fprintf(f, "%*s%s%s%s", t->indent, "", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
    fprintf(f, "%*s", w < t->column ? t->column - w : 2, "");
    for (const char *s = o->help; *s;) {
        const char *nl = strchr(s, '\n');
        int len = nl ? (int)(nl - s) : (int)strlen(s);
        fprintf(f, "%.*s\n", len, s);
        if (!nl || nl[1] == '\0') break;
        s = nl + 1;
        fprintf(f, "%*s", t->column, "");
    }
}

void hb_cli_print_help(const hb_cli_table *t, FILE *f)
{
    for (const hb_cli_opt *o = t->rows; o->kind != HB_CLI_END; o++) {
        if (o->kind == HB_CLI_TEXT)
            fputs(o->help, f);
        else
            print_option(t, o, f);
    }
}
