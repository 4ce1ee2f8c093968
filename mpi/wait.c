/* wait.c — hb_wait.h: the back-off of every MPI wait of hbmpi. */
#define _POSIX_C_SOURCE 200809L
#include "hb_wait.h"

#include <time.h>

#include "hb_clock.h"
#include "hb_common.h"

void hb_backoff_start(hb_backoff *b)
{
    b->t0 = hb_now();
    b->ns = 1000;
}

void hb_backoff_wait(hb_backoff *b)
{
    double waited = hb_now() - b->t0;
    if (waited < 50e-6) return;
    struct timespec s = {0, b->ns};
    nanosleep(&s, NULL);
    long cap = waited < 0.1 ? 1000000 : 5000000;
    if ((b->ns *= 2) > cap) b->ns = cap;
}

int hb_mpi_wait(MPI_Request *req, MPI_Status *st)
{
    hb_backoff b;
    hb_backoff_start(&b);
    for (;;) {
        int done = 0;
        if (MPI_Test(req, &done, st ? st : MPI_STATUS_IGNORE) != MPI_SUCCESS) return HB_EMPI;
        if (done) return HB_OK;
        hb_backoff_wait(&b);
    }
}
