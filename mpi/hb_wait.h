/* hb_wait.h — waiting without spinning (DESIGN.md contract 6): Open MPI's blocking calls
 * busy-poll, so every MPI wait of hbmpi tests its request and sleeps ever longer in between. */
#ifndef HB_WAIT_H
#define HB_WAIT_H

#include <mpi.h>

/* A wait in progress: spin about 50 us, then sleep 1 us, 2 us, ... up to 1 ms between polls;
 * once it has lasted 100 ms (evaluations that take seconds), up to 5 ms: the wake-up costs at
 * most that much and an idle rank uses well under 1 % of a core (ENVIRONMENT.md §5). */
typedef struct hb_backoff {
    double t0;           /* hb_now() when the wait began */
    long ns;             /* the next sleep */
} hb_backoff;

/* Begin a wait. */
void hb_backoff_start(hb_backoff *b);
/* Pause before the next poll: nothing during the first 50 us, then a sleep that doubles. */
void hb_backoff_wait(hb_backoff *b);

/* Wait for 'req' (and fill '*st' unless NULL) by polling with hb_backoff. HB_OK, or HB_EMPI
 * when MPI_Test fails. */
int hb_mpi_wait(MPI_Request *req, MPI_Status *st);

#endif
