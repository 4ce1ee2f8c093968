/* hb_cli.h — command-line machinery of hbmpi: one option table per command, which both parses
 * argv and prints --help (Redis's config table); strict option values; usage errors (one line
 * naming the bad option or value, exit 2); the one rule from a status to an exit code; and
 * printing library errors as FILE:LINE:COL: error: ... */
#ifndef HB_CLI_H
#define HB_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hb_common.h"

/* Exit codes (CLI.md). */
/* 4: a worker rank was lost (MPI); the run file is saved and resumable. */
enum { HB_EXIT_OK = 0, HB_EXIT_FAILED = 1, HB_EXIT_USAGE = 2, HB_EXIT_INTERRUPTED = 3, HB_EXIT_LOST = 4 };

/* The exit code of a status (docs/CLI.md): HB_OK 0; HB_EINTR 3 (stopped after saving); HB_ELOST 4;
 * bad input 2 (HB_EINVAL, HB_ESYNTAX, HB_ENOTFOUND, HB_ERANGE, HB_EDAMAGED); any other failure 1
 * (HB_ENOMEM, HB_EIO, HB_EMPI, HB_EKERNEL). */
int hb_cli_exit_code(int status);

/* The variants of that rule, for the places where a status means something else: */
enum {
    /* HB_EIO is bad input (2): the file that could not be read is one the user named (a space
     * file) or the data a kernel's options point at; only HB_ENOMEM is a failure there. */
    HB_CLI_EXIT_INPUT = 1,
    /* Every error is a failure (1): the input was taken, the work itself failed (an evaluation,
     * drawing configurations, a sweep's study, reading back what a run wrote). */
    HB_CLI_EXIT_WORK = 2,
};
int hb_cli_exit_code_as(int status, unsigned variant);

/* Argument cursor over argv for one subcommand. */
typedef struct hb_args {
    int argc;
    char **argv;
    int i;             /* next argument */
    const char *cmd;   /* "run", "space check", ... for messages */
    const char *value; /* value of the last option taken */
    int quiet_errors;  /* 1 on ranks other than 0: do not print */
} hb_args;

/* Print "hbmpi CMD: message (see 'hbmpi CMD --help')" to stderr (unless quiet); return HB_EXIT_USAGE. */
int hb_cli_usage_error(const hb_args *a, const char *fmt, ...) HB_PRINTF(2, 3);

/* ---------------------------------------------------------------- option tables */

typedef enum hb_cli_kind {
    HB_CLI_END = 0, /* the row that ends a table */
    HB_CLI_TEXT,    /* not an option: 'help' is printed as it is (usage, headings, paragraphs) */
    HB_CLI_FLAG,    /* int, set to 1; "--flag=x" is a usage error */
    HB_CLI_STR,     /* const char *: the value, borrowed from argv */
    HB_CLI_DOUBLE,  /* double, finite: above 'min' (at least 'min' with HB_CLI_MIN_INCL), within 'max' */
    HB_CLI_LONG,    /* long, at least 'min'; above 'max' a usage error, or 'max' with HB_CLI_CLAMP */
    HB_CLI_INT,     /* as HB_CLI_LONG, stored in an int (its 'max' must fit one) */
    HB_CLI_U64,     /* uint64_t, decimal, no sign */
    HB_CLI_ENUM,    /* int: the index in 'words' (NULL-terminated) of the value */
    HB_CLI_CALL,    /* fn(a, opts) checks and stores a->value, the option's value */
    HB_CLI_REST,    /* fn(a, opts) with a->i at the option (its exact name): it takes what it needs */
} hb_cli_kind;

/* Bounds of HB_CLI_DOUBLE, HB_CLI_LONG and HB_CLI_INT ('flags'). */
enum {
    HB_CLI_MIN_INCL = 1, /* double: 'min' itself is allowed (else it must be exceeded) */
    HB_CLI_MAX = 2,      /* 'max' applies (inclusive) */
    HB_CLI_MAX_EXCL = 4, /* double: 'max' applies and must not be reached */
    HB_CLI_CLAMP = 8,    /* long, int: a value above 'max' becomes 'max' */
};

/* A callback stores into 'opts', the command's options struct; HB_EXIT_OK or, after printing a
 * usage error, HB_EXIT_USAGE. */
typedef int (*hb_cli_fn)(hb_args *a, void *opts);

/* One row: an option, or help text. Write rows with designated initialisers; HB_CLI_OPT fills
 * the common fields. */
typedef struct hb_cli_opt {
    hb_cli_kind kind;
    const char *name;      /* "--seed" */
    const char *metavar;   /* "S" in the help; NULL for flags */
    size_t off;            /* where the value goes: offsetof into the command's options struct */
    const char *help;      /* lines after the first ('\n') are indented to the table's column */
    double min, max;       /* bounds of numbers (see 'flags') */
    unsigned flags;
    const char *const *words; /* HB_CLI_ENUM */
    hb_cli_fn fn;             /* HB_CLI_CALL, HB_CLI_REST */
    const char *only;         /* NULL, or the one subcommand (hb_args.cmd) that takes the option */
} hb_cli_opt;

#define HB_CLI_OPT(k, nm, mv, type, field, h) \
    .kind = (k), .name = (nm), .metavar = (mv), .off = offsetof(type, field), .help = (h)
#define HB_CLI_TEXT_ROW(t) {.kind = HB_CLI_TEXT, .help = (t)}

typedef struct hb_cli_table {
    const hb_cli_opt *rows; /* ended by a row of kind HB_CLI_END */
    int indent, column;     /* help: an option at 'indent', its text at 'column' */
    /* an argument that is not an option ("-" is not one): take it (a->argv[a->i]) or refuse
     * it with a usage error; NULL: the command takes none ("unknown option") */
    int (*positional)(hb_args *a, void *opts);
} hb_cli_table;

/* Parse a->argv from a->i into 'opts' by table 't'. With --help or -h anywhere, print the help
 * on stdout and return HB_EXIT_OK; after a usage error HB_EXIT_USAGE; HB_CLI_PARSED when every
 * argument was taken. Options not given keep what 'opts' held. */
enum { HB_CLI_PARSED = -1 };
int hb_cli_parse(const hb_cli_table *t, void *opts, hb_args *a);
/* 1 if --help or -h is among a->argv from a->i on. */
int hb_cli_wants_help(const hb_args *a);
/* Print the help of table 't': its text rows as they are, an option per row. */
void hb_cli_print_help(const hb_cli_table *t, FILE *f);

/* Strict conversion of a->value for option 'opt' (in callbacks): a finite number above
 * 'min_exclusive'; on failure print and return HB_EXIT_USAGE. */
int hb_cli_double(hb_args *a, const char *opt, double *out, double min_exclusive);

/* Print a library error: "WHERE: error: MSG" or "hbmpi: error: MSG". */
void hb_cli_print_error(const hb_error *err);

#endif
