/* cli.c — strict option parsing and error printing for the hbmpi command. */
#include "hb_cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int hb_cli_take(hb_args *a, const char *name)
{
    const char *arg = a->argv[a->i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0) return 0;
    if (arg[n] == '=') {
        a->value = arg + n + 1;
        a->i++;
        return 1;
    }
    if (arg[n] != '\0') return 0;
    if (a->i + 1 >= a->argc) {
        hb_cli_usage_error(a, "option %s needs a value", name);
        return -1;
    }
    a->value = a->argv[a->i + 1];
    a->i += 2;
    return 1;
}

int hb_cli_flag(hb_args *a, const char *name)
{
    const char *arg = a->argv[a->i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0) return 0;
    if (arg[n] == '=') {
        hb_cli_usage_error(a, "option %s takes no value", name);
        return -1;
    }
    if (arg[n] != '\0') return 0;
    a->i++;
    return 1;
}

int hb_cli_double(hb_args *a, const char *opt, double *out, double min_exclusive)
{
    char *end;
    errno = 0;
    double v = strtod(a->value, &end);
    if (a->value[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v))
        return hb_cli_usage_error(a, "%s: expected a number, got '%s'", opt, a->value);
    if (!(v > min_exclusive))
        return hb_cli_usage_error(a, "%s: must be greater than %g, got '%s'", opt, min_exclusive,
                                  a->value);
    *out = v;
    return HB_EXIT_OK;
}

int hb_cli_u64(hb_args *a, const char *opt, uint64_t *out)
{
    char *end;
    errno = 0;
    if (a->value[0] == '\0' || a->value[0] == '-' || a->value[0] == '+')
        return hb_cli_usage_error(a, "%s: expected a non-negative integer, got '%s'", opt, a->value);
    unsigned long long v = strtoull(a->value, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return hb_cli_usage_error(a, "%s: expected a non-negative integer, got '%s'", opt, a->value);
    *out = (uint64_t)v;
    return HB_EXIT_OK;
}

int hb_cli_long(hb_args *a, const char *opt, long *out, long min)
{
    char *end;
    errno = 0;
    long v = strtol(a->value, &end, 10);
    if (a->value[0] == '\0' || *end != '\0' || errno == ERANGE)
        return hb_cli_usage_error(a, "%s: expected an integer, got '%s'", opt, a->value);
    if (v < min) return hb_cli_usage_error(a, "%s: must be at least %ld, got '%s'", opt, min, a->value);
    *out = v;
    return HB_EXIT_OK;
}

void hb_cli_print_error(const hb_error *err)
{
    if (err->where[0])
        fprintf(stderr, "%s: error: %s\n", err->where, err->msg);
    else
        fprintf(stderr, "hbmpi: error: %s\n", err->msg[0] ? err->msg : hb_strerror(err->status));
}
