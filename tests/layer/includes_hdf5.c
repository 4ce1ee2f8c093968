/* A stray include of <hdf5.h> in the core must not compile: hb_core has no hdf5 include path.
 * The test layer_core_without_hdf5 builds this file with hb_core's flags and expects that error. */
#include <hdf5.h>

#include "hb_common.h"

int hb_layer_probe_hdf5(void);
int hb_layer_probe_hdf5(void) { return HB_OK; }
