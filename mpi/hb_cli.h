/* hb_cli.h — command-line helpers for hbmpi: strict option values, usage errors (one line naming
 * the bad option or value, exit 2), and printing library errors as FILE:LINE:COL: error: ... */
#ifndef HB_CLI_H
#define HB_CLI_H

#include <stdint.h>

#include "hb_common.h"

/* Exit codes (CLI.md). */
/* 4: a worker rank was lost (MPI); the run file is saved and resumable. */
enum { HB_EXIT_OK = 0, HB_EXIT_FAILED = 1, HB_EXIT_USAGE = 2, HB_EXIT_INTERRUPTED = 3, HB_EXIT_LOST = 4 };

/* Argument cursor over argv for one subcommand. */
typedef struct hb_args {
    int argc;
    char **argv;
    int i;             /* next argument */
    const char *cmd;   /* "run", "space check", ... for messages */
    const char *value; /* value of the last option taken */
    int quiet_errors;  /* 1 on ranks other than 0: do not print */
} hb_args;

/* Print "hbmpi CMD: message" to stderr (unless quiet) and return HB_EXIT_USAGE. */
int hb_cli_usage_error(const hb_args *a, const char *fmt, ...) HB_PRINTF(2, 3);

/* If argv[i] is option 'name' ("--seed"), take it with its value ("--seed 3" or "--seed=3"),
 * store the value in a->value and return 1; return -1 (after printing) if the value is missing;
 * 0 if argv[i] is another option. */
int hb_cli_take(hb_args *a, const char *name);
/* If argv[i] is the flag 'name', take it and return 1; "--flag=x" is a usage error (-1). */
int hb_cli_flag(hb_args *a, const char *name);

/* Strict conversions of a->value for option 'opt'; on failure print and return HB_EXIT_USAGE. */
int hb_cli_double(hb_args *a, const char *opt, double *out, double min_exclusive);
int hb_cli_u64(hb_args *a, const char *opt, uint64_t *out);
int hb_cli_long(hb_args *a, const char *opt, long *out, long min);

/* Print a library error: "WHERE: error: MSG" or "hbmpi: error: MSG". */
void hb_cli_print_error(const hb_error *err);

#endif
