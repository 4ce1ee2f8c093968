/* store_h5.c — HDF5 library queries for the run-file store. */
#include "hb_store_h5.h"

#include <hdf5.h>
#include <stdio.h>

void hb_store_h5_version(char *out, size_t n)
{
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(out, n, "%u.%u.%u", maj, min, rel);
}
