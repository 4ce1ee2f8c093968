/* clock.c — hb_clock.h: the monotonic clock. Knows nothing else. */
#define _POSIX_C_SOURCE 200809L
#include "hb_clock.h"

#include <time.h>

double hb_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
