/* badobj.c — a misbehaving objective program for the command evaluator's tests (tests/eval).
 * What it does depends on --mode=MODE (see the table in main); every mode first writes its pid
 * to $HB_TRIAL_DIR/pid so that a test can look for its process group afterwards. It reads
 * --x=, --n= and --budget=; other arguments are ignored. */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static const char *trial_dir;

/* Write 'n' bytes to $HB_TRIAL_DIR/name atomically (temporary file, then rename). */
static void put_file(const char *name, const char *data, size_t n)
{
    char tmp[4096], path[4096];
    if (trial_dir == NULL) return;
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", trial_dir, name);
    snprintf(path, sizeof path, "%s/%s", trial_dir, name);
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) return;
    fwrite(data, 1, n, f);
    if (fclose(f) == 0) rename(tmp, path);
}

static void put_pid(const char *name, long pid)
{
    char s[32];
    int n = snprintf(s, sizeof s, "%ld\n", pid);
    put_file(name, s, (size_t)n);
}

static void nap(double s)
{
    struct timespec t = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&t, NULL);
}

static void forever(void)
{
    for (;;) pause();
}

static int exists(const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", trial_dir ? trial_dir : ".", name);
    return stat(path, &st) == 0;
}

/* Descriptors open besides 0, 1, 2 (and the one that reads the directory). */
static int extra_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd > 2 && fd != dirfd(d)) n++;
    }
    closedir(d);
    return n;
}

static int is_default(int sig)
{
    struct sigaction sa;
    return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL;
}

/* env: check the variables and the process state, write them to env.txt, loss = HB_BUDGET. */
static int mode_env(void)
{
    static const char *const need[] = {"HB_CONFIG", "HB_BUDGET", "HB_TRIAL_ID", "HB_SEED",
                                       "HB_TRIAL_DIR"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (getenv(need[i]) == NULL) {
            fprintf(stderr, "%s is not set\n", need[i]);
            return 4;
        }
    }
    char in;
    ssize_t r = read(0, &in, 1);
    sigset_t mask;
    sigprocmask(SIG_SETMASK, NULL, &mask);
    int blocked = 0;
    for (int s = 1; s < 32; s++) blocked += sigismember(&mask, s) == 1;
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == NULL) cwd[0] = '\0';
    const char *hosts = getenv("HB_HOSTS"), *nranks = getenv("HB_NRANKS");
    char buf[16384];
    int n = snprintf(buf, sizeof buf,
                     "HB_CONFIG=%s\nHB_BUDGET=%s\nHB_TRIAL_ID=%s\nHB_SEED=%s\nHB_TRIAL_DIR=%s\n"
                     "HB_HOSTS=%s\nHB_NRANKS=%s\nstdin_eof=%d\npgid_is_pid=%d\nextra_fds=%d\n"
                     "blocked=%d\ndefaults=%d\ncwd=%s\n",
                     getenv("HB_CONFIG"), getenv("HB_BUDGET"), getenv("HB_TRIAL_ID"),
                     getenv("HB_SEED"), getenv("HB_TRIAL_DIR"), hosts ? hosts : "<unset>",
                     nranks ? nranks : "<unset>", r == 0, getpgrp() == getpid(), extra_fds(),
                     blocked,
                     is_default(SIGTERM) && is_default(SIGINT) && is_default(SIGPIPE) &&
                         is_default(SIGUSR1) && is_default(SIGUSR2) && is_default(SIGHUP),
                     cwd);
    put_file("env.txt", buf, (size_t)n);
    printf("%s\n", getenv("HB_BUDGET"));
    return 0;
}

/* argv-echo: the arguments exactly as received, NUL-separated, in argv.bin. */
static int mode_argv_echo(int argc, char **argv)
{
    size_t total = 0;
    for (int i = 0; i < argc; i++) total += strlen(argv[i]) + 1;
    char *buf = malloc(total ? total : 1);
    if (buf == NULL) return 5;
    size_t w = 0;
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]) + 1;
        memcpy(buf + w, argv[i], n);
        w += n;
    }
    put_file("argv.bin", buf, w);
    free(buf);
    printf("0\n");
    return 0;
}

/* orphan: leave a grandchild sleeping in the process group, then succeed. */
static int mode_orphan(void)
{
    pid_t g = fork();
    if (g < 0) return 6;
    if (g == 0) {
        put_pid("grandchild.pid", (long)getpid());
        forever();
    }
    for (int i = 0; i < 5000 && !exists("grandchild.pid"); i++) nap(0.001);
    printf("1\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = "ok";
    double x = 0, n = 1;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--mode=", 7) == 0) mode = argv[i] + 7;
        if (strncmp(argv[i], "--x=", 4) == 0) x = strtod(argv[i] + 4, NULL);
        if (strncmp(argv[i], "--n=", 4) == 0) n = strtod(argv[i] + 4, NULL);
    }
    trial_dir = getenv("HB_TRIAL_DIR");
    put_pid("pid", (long)getpid());
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);

    if (strcmp(mode, "ok") == 0) { /* a log line, then the loss x * n */
        printf("some log line\n%.17g\n", x * n);
        return 0;
    }
    if (strcmp(mode, "crash") == 0) { /* SIGABRT */
        fprintf(stderr, "about to abort\n");
        fflush(stderr);
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    if (strcmp(mode, "segv") == 0) { /* SIGSEGV */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
        return 0;
    }
    if (strcmp(mode, "hang") == 0) forever();
    if (strcmp(mode, "hang_ignoring_sigterm") == 0) {
        signal(SIGTERM, SIG_IGN);
        forever();
    }
    if (strcmp(mode, "garbage") == 0) {
        printf("hello\n");
        return 0;
    }
    if (strcmp(mode, "empty") == 0) return 0;
    if (strcmp(mode, "long") == 0) { /* one 1000-byte line that is not a number */
        for (int i = 0; i < 1000; i++) putchar('a' + i % 26);
        putchar('\n');
        return 0;
    }
    if (strcmp(mode, "nan") == 0) {
        printf("nan\n");
        return 0;
    }
    if (strcmp(mode, "nonzero") == 0) {
        printf("partial output\n");
        fprintf(stderr, "first line\nsomething went wrong\n\n");
        return 3;
    }
    if (strcmp(mode, "json") == 0) {
        printf("{\"loss\": 0.5, \"acc\": 0.9}\n");
        return 0;
    }
    if (strcmp(mode, "json_noloss") == 0) {
        printf("{\"acc\": 0.9}\n");
        return 0;
    }
    if (strcmp(mode, "json_big") == 0) { /* more extras than fit in 512 bytes */
        printf("{\"loss\": 2, \"tag\": \"a \\\"quoted\\\" word\", "
               "\"nested\": {\"a\": [1, 2.5, true]}");
        for (int i = 0; i < 40; i++) printf(", \"metric_%02d\": %d.125", i, i);
        printf("}\n");
        return 0;
    }
    if (strcmp(mode, "orphan") == 0) return mode_orphan();
    if (strcmp(mode, "env") == 0) return mode_env();
    if (strcmp(mode, "argv-echo") == 0) return mode_argv_echo(argc, argv);
    if (strcmp(mode, "affinity") == 0) { /* loss = CPUs this process may run on */
        cpu_set_t s;
        CPU_ZERO(&s);
        if (sched_getaffinity(0, sizeof s, &s) != 0) return 7;
        printf("%d\n", CPU_COUNT(&s));
        return 0;
    }
    fprintf(stderr, "badobj: unknown mode '%s'\n", mode);
    return 2;
}
