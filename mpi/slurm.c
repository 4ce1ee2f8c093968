/* slurm.c — the Slurm job's end time (hb_slurm.h). */
#define _GNU_SOURCE
#include "hb_slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Run argv (no shell) and read its first line of output into 'out'; 0 on success. */
static int first_line(char *const argv[], char *out, size_t n)
{
    int fd[2];
    if (pipe2(fd, O_CLOEXEC) != 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (rc != 0) {
        close(fd[0]);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got + 1 < n && (r = read(fd[0], out + got, n - 1 - got)) != 0) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        got += (size_t)r;
    }
    out[got] = '\0';
    close(fd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    char *nl = strchr(out, '\n');
    if (nl) *nl = '\0';
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && out[0] ? 0 : -1;
}

static double job_end(void)
{
    const char *id = getenv("SLURM_JOB_ID");
    if (id == NULL || id[0] == '\0') return -1;
    const char *env = getenv("SLURM_JOB_END_TIME");
    char *end = NULL;
    if (env && env[0]) {
        double v = strtod(env, &end);
        if (end && *end == '\0' && v > 0) return v;
    }
    char line[128];
    char *const argv[] = {(char *)"squeue", (char *)"-h", (char *)"-j", (char *)id, (char *)"-o", (char *)"%e", NULL};
    if (first_line(argv, line, sizeof line) != 0) return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(line, "%Y-%m-%dT%H:%M:%S", &tm); /* squeue prints local time */
    if (rest == NULL) return -1;                                   /* N/A, UNLIMITED, ... */
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    return t == (time_t)-1 ? -1 : (double)t;
}

double hb_slurm_job_end(void)
{
    /* asked once per process: the session record and --stop-before-end both want it */
    static int known = 0;
    static double end = -1;
    if (!known) end = job_end();
    known = 1;
    return end;
}
