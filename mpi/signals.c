/* signals.c — the stop signals (hb_signals.h). The handler only stores the signal and interrupts
 * running evaluations (both async-signal-safe); the loops poll hb_stop_signal(). */
#define _POSIX_C_SOURCE 200809L
#include "hb_signals.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "hb_eval.h"

static volatile sig_atomic_t stop_sig = 0;

static void on_signal(int sig)
{
    if (stop_sig == 0) stop_sig = sig;
    hb_eval_interrupt();
}

void hb_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int hb_stop_signal(void) { return stop_sig; }

void hb_signals_obey_early(void)
{
    int sig = stop_sig;
    if (sig == 0) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    fflush(NULL);
    raise(sig);
}

void hb_stop_request(int sig)
{
    if (stop_sig == 0) stop_sig = sig;
}

const char *hb_signal_name(int sig, char *buf, int n)
{
    const char *s = sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : sig == SIGUSR1 ? "SIGUSR1" : NULL;
    if (s) snprintf(buf, (size_t)n, "%s", s);
    else snprintf(buf, (size_t)n, "signal %d", sig);
    return buf;
}
