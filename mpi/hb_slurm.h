/* hb_slurm.h — what hbmpi learns from Slurm about the job it runs in (rank 0 only). */
#ifndef HB_SLURM_H
#define HB_SLURM_H

/* When this Slurm job's time limit ends, in seconds since the epoch; -1 outside Slurm, without
 * a limit, or if Slurm cannot tell. From $SLURM_JOB_END_TIME when Slurm sets it, else from
 * `squeue -h -j $SLURM_JOB_ID -o %e` (started without a shell), asked once per process. */
double hb_slurm_job_end(void);

#endif
