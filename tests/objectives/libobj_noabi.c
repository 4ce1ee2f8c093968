/* libobj_noabi.c — a test objective library built WITHOUT HBMPI_DECLARE_ABI: the
 * shared-library evaluator must refuse it (tests/eval). */
#include "hbmpi.h"

int hbmpi_test_objective(const hbmpi_trial *t, double *loss, char *reason, size_t reason_len);

int hbmpi_test_objective(const hbmpi_trial *t, double *loss, char *reason, size_t reason_len)
{
    (void)t;
    (void)reason;
    (void)reason_len;
    *loss = 0;
    return 0;
}
