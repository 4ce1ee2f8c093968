/* hb_store_h5.h — the HDF5 side of libhb: the only code of src/ that sees <hdf5.h>. For now it
 * reports the library version; the run file (event log, trials table) lives here too. */
#ifndef HB_STORE_H5_H
#define HB_STORE_H5_H

#include <stddef.h>

#include "hb_common.h"

/* Write "MAJOR.MINOR.RELEASE" of the HDF5 library in use into 'out'. */
HB_API void hb_store_h5_version(char *out, size_t n);

#endif
