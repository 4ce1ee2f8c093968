/* libobj_badabi.c — a test objective library that declares an ABI other than this hbmpi.h's
 * (as a library built against another version would): the evaluator must refuse it. */
#include "hbmpi.h"

int hbmpi_objective_abi(void);
int hbmpi_objective_abi(void) { return HBMPI_OBJECTIVE_ABI + 41; }

int hbmpi_test_objective(const hbmpi_trial *t, double *loss, char *reason, size_t reason_len);

int hbmpi_test_objective(const hbmpi_trial *t, double *loss, char *reason, size_t reason_len)
{
    (void)t;
    (void)reason;
    (void)reason_len;
    *loss = 0;
    return 0;
}
