/* hb_signals.h — SIGTERM, SIGINT and SIGUSR1 (what Slurm sends before a time limit with
 * --signal) ask a run to stop: rank 0 stops issuing jobs, records the running ones as
 * interrupted, saves the run file and exits 3; a worker's running evaluation is interrupted. */
#ifndef HB_SIGNALS_H
#define HB_SIGNALS_H

/* Install the handlers (once per process). */
void hb_signals_install(void);
/* The signal that asked to stop (SIGTERM, ...), or 0. */
int hb_stop_signal(void);
/* Before a command has taken anything over (its run file, its sweep directory) there is nothing
 * to save: if a stop signal came, end the process by that signal now, as if no handler had
 * been installed (the default action, so the shell sees 128 + the signal's number). Else
 * return. Long parsing (a big space or sweep file) ends this way within moments. */
void hb_signals_obey_early(void);
/* Ask to stop as if signal 'sig' had come (the master does this when a worker reports that a
 * signal interrupted its evaluation). */
void hb_stop_request(int sig);
/* "SIGTERM", "SIGINT", "SIGUSR1", or "signal N". */
const char *hb_signal_name(int sig, char *buf, int n);

#endif
