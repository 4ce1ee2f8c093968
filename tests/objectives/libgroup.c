/* libgroup.c — a test objective for --ranks-per-eval: every rank of the trial's group runs it,
 * and together they sum 1 over the group's communicator, so the loss is the group size. It
 * fails when it gets no communicator. Linked with MPI (the header hbmpi.h itself needs none). */
#include <mpi.h>
#include <stdio.h>

#include "hbmpi.h"

HBMPI_DECLARE_ABI

HBMPI_EXPORT int hbmpi_group_objective(const hbmpi_trial *t, double *loss, char *reason,
                                       size_t reason_len);

int hbmpi_group_objective(const hbmpi_trial *t, double *loss, char *reason, size_t reason_len)
{
    if (t->comm == NULL) {
        snprintf(reason, reason_len, "no communicator");
        return 1;
    }
    MPI_Comm comm = *(MPI_Comm *)t->comm;
    int one = 1, sum = 0, size = 0;
    MPI_Comm_size(comm, &size);
    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, comm);
    if (size != t->nranks) {
        snprintf(reason, reason_len, "nranks %d but the communicator has %d ranks", t->nranks, size);
        return 1;
    }
    *loss = (double)sum + t->values[0];
    return 0;
}
