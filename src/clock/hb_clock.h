/* hb_clock.h — the one monotonic clock of hbmpi (target hb_clock), for everything that measures
 * time: the run file's checkpoint pacing (src/store), the evaluators' timeouts and sleeps
 * (mpi/eval*.c), the transports' trial times and the MPI waits (mpi/). The core (hb_core) reads
 * no clock (DESIGN.md): it is given times as numbers. */
#ifndef HB_CLOCK_H
#define HB_CLOCK_H

/* Seconds of the monotonic clock (CLOCK_MONOTONIC) since an arbitrary origin: differences are
 * durations, unaffected by changes of the wall-clock time. */
double hb_now(void);

#endif
