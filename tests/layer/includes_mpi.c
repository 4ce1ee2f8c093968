/* A stray include of <mpi.h> in the core must not compile: hb_core has no mpi include path.
 * The test layer_core_without_mpi builds this file with hb_core's flags and expects that error. */
#include <mpi.h>

#include "hb_common.h"

int hb_layer_probe_mpi(void);
int hb_layer_probe_mpi(void) { return HB_OK; }
