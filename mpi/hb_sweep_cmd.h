/* hb_sweep_cmd.h — the `hbmpi sweep` and `hbmpi sweep report` subcommands (sweep.c). */
#ifndef HB_SWEEP_CMD_H
#define HB_SWEEP_CMD_H

#include <mpi.h>

/* `hbmpi sweep SWEEP.json --out DIR`: collective over 'comm' (MPI_COMM_NULL when alone). */
int hb_cmd_sweep(int argc, char **argv, int rank, MPI_Comm comm);
/* `hbmpi sweep report DIR`: one process. */
int hb_cmd_sweep_report(int argc, char **argv);

#endif
