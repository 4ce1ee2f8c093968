/* hb_check.h — CHECK for the test programs that run without CUnit (tests/eval, tests/plot): a
 * failed check prints FILE:LINE and the expression, counts in 'failures' and goes on; the program
 * ends with exit 1 if 'failures' is not 0. Include it once, in the program's one file. */
#ifndef HB_CHECK_H
#define HB_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#endif
