/* liveness.c — one plain TCP connection from every rank to rank 0, used for nothing but its end.
 * When a rank's process dies (SIGKILL, the OOM killer, a host whose processes are all killed),
 * its kernel closes the connection and rank 0 sees end-of-file within milliseconds, while MPI
 * says nothing (measured with Open MPI 4.1: no error ever reaches rank 0) and the launcher ends
 * the whole job 1–2 s later. That is time enough for rank 0 to record which rank on which host
 * died. A host cut off the network closes nothing: the heartbeats (transport_mpi.c) catch that.
 * Best effort: a rank that cannot connect is only watched by the heartbeats. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "hb_liveness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hb_clock.h"
#include "hb_transport.h"

#define MAX_ADDRS 8

typedef struct offer {
    uint32_t addr[MAX_ADDRS]; /* IPv4, network order; loopback last */
    int32_t n;
    int32_t port;             /* network order; 0: rank 0 has no listening socket */
} offer;

/* Rank 0's IPv4 addresses, the others before loopback. */
static int my_addrs(uint32_t *out, int max)
{
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) != 0) return 0;
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (struct ifaddrs *i = ifa; i && n < max; i = i->ifa_next) {
            if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET) continue;
            uint32_t a = ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr;
            int loop = (ntohl(a) >> 24) == 127;
            if (loop == pass) out[n++] = a;
        }
    freeifaddrs(ifa);
    return n;
}

static int set_nonblock(int fd) { return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* Connect to 'a':'port' within 'secs'; the descriptor or -1. */
static int connect_to(uint32_t a, int port, double secs)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    set_nonblock(fd);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = (uint16_t)port;
    sa.sin_addr.s_addr = a;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd p = {fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (poll(&p, 1, (int)(secs * 1000)) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
        close(fd);
        return -1;
    }
    return fd;
}

int hb_liveness_open(MPI_Comm comm, hb_rank_info *ri)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    offer o;
    memset(&o, 0, sizeof o);
    int lfd = -1;
    if (rank == 0) {
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_ANY);
        socklen_t len = sizeof sa;
        if (lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(lfd, size) == 0 &&
            getsockname(lfd, (struct sockaddr *)&sa, &len) == 0) {
            o.port = sa.sin_port;
            o.n = my_addrs(o.addr, MAX_ADDRS);
        }
        if (o.port == 0 || o.n == 0) o.port = 0;
    }
    MPI_Bcast(&o, (int)sizeof o, MPI_BYTE, 0, comm);
    if (rank != 0) {
        /* kept open, never used, closed by exit: that close is the message */
        if (o.port != 0) {
            for (int i = 0; i < o.n; i++) {
                int fd = connect_to(o.addr[i], o.port, 2.0);
                if (fd < 0) continue;
                int32_t me = rank;
                if (write(fd, &me, sizeof me) == (ssize_t)sizeof me) {
                    ri->self_fd = fd;
                    break;
                }
                close(fd);
            }
        }
        return HB_OK;
    }
    if (ri->fd == NULL) {
        if (lfd >= 0) close(lfd);
        return HB_ENOMEM;
    }
    for (int i = 0; i < size; i++) ri->fd[i] = -1;
    if (o.port != 0) {
        /* every other rank connects at most once, within a few seconds */
        set_nonblock(lfd);
        int got = 0;
        double t0 = hb_now();
        while (got < size - 1 && hb_now() - t0 < 5.0) {
            struct pollfd p = {lfd, POLLIN, 0};
            if (poll(&p, 1, 100) <= 0) continue;
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0) continue;
            int32_t who = -1;
            struct pollfd q = {fd, POLLIN, 0};
            if (poll(&q, 1, 2000) == 1 && read(fd, &who, sizeof who) == (ssize_t)sizeof who && who > 0 &&
                who < size && ri->fd[who] < 0) {
                set_nonblock(fd);
                ri->fd[who] = fd;
                got++;
            } else {
                close(fd);
            }
        }
    }
    /* a rank that did not connect in time is watched by the heartbeats only */
    if (lfd >= 0) close(lfd);
    return HB_OK;
}

int hb_liveness_dead(hb_rank_info *ri)
{
    if (ri == NULL || ri->fd == NULL) return -1;
    for (int r = 1; r < ri->n; r++) {
        if (ri->fd[r] < 0) continue;
        struct pollfd p = {ri->fd[r], POLLIN, 0};
        if (poll(&p, 1, 0) != 1) continue;
        char b;
        ssize_t k = recv(ri->fd[r], &b, 1, MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            close(ri->fd[r]); /* reported once */
            ri->fd[r] = -1;
            return r;
        }
    }
    return -1;
}

void hb_liveness_close(hb_rank_info *ri)
{
    if (ri->fd)
        for (int r = 0; r < ri->n; r++)
            if (ri->fd[r] >= 0) close(ri->fd[r]);
    if (ri->self_fd >= 0) close(ri->self_fd);
    ri->self_fd = -1;
}
