/* hb_liveness.h — rank 0 learns at once that a rank's process has died (liveness.c). */
#ifndef HB_LIVENESS_H
#define HB_LIVENESS_H

#include <mpi.h>

#include "hb_transport.h"

/* Collective over 'comm' (after the ranks were gathered): every rank opens a TCP connection to
 * rank 0 ('ri->self_fd' on the others; 'ri->fd' by rank on rank 0, allocated by the caller, -1
 * where none came). Best effort: HB_OK unless rank 0 has no 'fd' table. */
int hb_liveness_open(MPI_Comm comm, hb_rank_info *ri);
/* On rank 0: a rank whose connection has closed (its process died), reported once; or -1. */
int hb_liveness_dead(hb_rank_info *ri);
/* Close this rank's connections. */
void hb_liveness_close(hb_rank_info *ri);

#endif
