/* udp: one thread that answers datagrams, in batches. */
#include "udp.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "bounds.h"
#include "log.h"
#include "rate.h"
#include "server.h"

#define UDP_BATCH 16
#define UDP_THREADS_MAX PICHAT_BIND_MAX

static atomic_ulong udp_count;
/* clock_now_ms() of each UDP loop's last turn, for the watchdog. */
static _Atomic int64_t udp_beats[UDP_THREADS_MAX];
static atomic_uint udp_threads;
/* [udp] rate_per_source: one table for all UDP sockets, so a source gets
 * its rate once, not once per bind address. */
static pthread_mutex_t udp_rate_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rate_table udp_rates;

bool udp_port_ignored(unsigned port)
{
        switch (port) {
        case 0:
        case 7:         /* echo */
        case 13:        /* daytime */
        case 17:        /* qotd */
        case 19:        /* chargen */
        case 37:        /* time */
                return true;
        default:
                return false;
        }
}

size_t udp_format(char *out, const char *prefix, const char *data, size_t len)
{
        size_t p = strlen(prefix);

        if (p > PICHAT_UDP_MAX)
                p = PICHAT_UDP_MAX;
        memcpy(out, prefix, p);
        if (len > PICHAT_UDP_MAX - p)
                len = PICHAT_UDP_MAX - p;
        memmove(out + p, data, len);
        return p + len;
}

unsigned long udp_answered(void)
{
        return atomic_load(&udp_count);
}

int64_t udp_oldest_beat_ms(void)
{
        unsigned n = atomic_load(&udp_threads);
        int64_t oldest = INT64_MAX;

        for (unsigned i = 0; i < n; i++) {
                int64_t b = atomic_load(&udp_beats[i]);
                if (b < oldest)
                        oldest = b;
        }
        return oldest;
}

struct udp_state {
        int fd;
        unsigned index;                 /* in udp_beats */
        struct server_sleeper sleeper;
        struct conf_cache live;
        char *bufs;                     /* in[] and out[], one block */
        char *in[UDP_BATCH];
        char *out[UDP_BATCH];
        struct sockaddr_storage from[UDP_BATCH];
        struct iovec iov_in[UDP_BATCH], iov_out[UDP_BATCH];
        struct mmsghdr msg_in[UDP_BATCH], msg_out[UDP_BATCH];
};

/* Whether a datagram from sa is over its source's rate (and dropped). */
static bool udp_over_rate(const struct conf *cf, const struct sockaddr *sa, int64_t now)
{
        struct addr_key k;
        int r;

        addr_key_from(sa, &k);
        pthread_mutex_lock(&udp_rate_lock);
        r = rate_check(&udp_rates, &k, cf->udp.rate_per_source, now);
        pthread_mutex_unlock(&udp_rate_lock);
        if (r == RATE_DROP_FIRST) {
                char peer[ADDR_STR_MAX];
                addr_format(sa, peer, sizeof(peer));
                log_msg(LOG_INFO, "udp: %s sends over rate_per_source (%u/s); dropping its "
                        "datagrams over it", peer, cf->udp.rate_per_source);
        }
        return r != RATE_PASS;
}

static void udp_serve_batch(struct udp_state *u, int n)
{
        const struct conf *cf = conf_cached(&u->live);
        bool limit = cf->udp.rate_per_source > 0;
        int64_t now = clock_now_ms();
        unsigned nout = 0;

        for (int i = 0; i < n; i++) {
                const struct sockaddr *sa = (struct sockaddr *)&u->from[i];
                unsigned port = addr_port(sa);

                if (udp_port_ignored(port)) {
                        char peer[ADDR_STR_MAX];
                        addr_format(sa, peer, sizeof(peer));
                        log_msg(LOG_DEBUG, "udp: ignoring datagram from port %u (%s)", port, peer);
                        continue;
                }
                /* Datagrams let in are not logged: that would be a line each. */
                if (!server_access(cf, "udp", sa, false))
                        continue;
                if (limit && udp_over_rate(cf, sa, now))
                        continue;
                size_t len = udp_format(u->out[nout], cf->udp.prefix, u->in[i],
                                        u->msg_in[i].msg_len);
                u->iov_out[nout].iov_base = u->out[nout];
                u->iov_out[nout].iov_len = len;
                memset(&u->msg_out[nout], 0, sizeof(u->msg_out[nout]));
                u->msg_out[nout].msg_hdr.msg_name = &u->from[i];
                u->msg_out[nout].msg_hdr.msg_namelen = u->msg_in[i].msg_hdr.msg_namelen;
                u->msg_out[nout].msg_hdr.msg_iov = &u->iov_out[nout];
                u->msg_out[nout].msg_hdr.msg_iovlen = 1;
                nout++;
        }

        for (unsigned sent = 0; sent < nout;) {
                int r = sendmmsg(u->fd, u->msg_out + sent, nout - sent, MSG_DONTWAIT);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        /* A full socket buffer or an unreachable peer costs
                         * this datagram only, never the thread. */
                        sent++;
                        continue;
                }
                sent += (unsigned)r;
                atomic_fetch_add(&udp_count, (unsigned long)r);
        }
}

static void udp_free(struct udp_state *u)
{
        free(u->bufs);
        server_sleeper_del(&u->sleeper);
        conf_cache_drop(&u->live);
        close(u->fd);
        free(u);
}

/* The loop sleeps in recvmmsg() itself, two system calls a batch: the
 * socket blocks, SO_RCVTIMEO bounds each wait to the heartbeat, and
 * server_stop() wakes it with a signal (server_sleeper_add_self). */
static void *udp_thread(void *arg)
{
        struct udp_state *u = arg;

        pthread_setname_np(pthread_self(), "udp");
        /* The socket may be systemd's too: wake by signal, never by
         * shutting it (systemd would see it readable forever, and start
         * the service again and again). */
        server_sleeper_add_self(&u->sleeper);

        for (;;) {
                /* Bounded sleep: an idle loop still shows it is alive. */
                atomic_store(&udp_beats[u->index], clock_now_ms());
                if (server_stopping())
                        break;
                for (int i = 0; i < UDP_BATCH; i++) {
                        u->iov_in[i].iov_base = u->in[i];
                        u->iov_in[i].iov_len = PICHAT_UDP_MAX;
                        memset(&u->msg_in[i], 0, sizeof(u->msg_in[i]));
                        u->msg_in[i].msg_hdr.msg_name = &u->from[i];
                        u->msg_in[i].msg_hdr.msg_namelen = sizeof(u->from[i]);
                        u->msg_in[i].msg_hdr.msg_iov = &u->iov_in[i];
                        u->msg_in[i].msg_hdr.msg_iovlen = 1;
                }
                /* Waits for the first datagram only, then takes what
                 * else is queued. */
                int n = recvmmsg(u->fd, u->msg_in, UDP_BATCH, MSG_WAITFORONE, NULL);
                if (n > 0 && !server_stopping())
                        udp_serve_batch(u, n);
                /* Errors (EAGAIN at the heartbeat, ICMP errors queued on
                 * the socket) cost one turn, never the thread. */
        }
        udp_free(u);
        server_thread_done();
        return NULL;
}

int udp_start(int fd)
{
        struct udp_state *u = calloc(1, sizeof(*u));
        int r;

        if (!u)
                return -ENOMEM;
        if (atomic_load(&udp_threads) == UDP_THREADS_MAX) {
                free(u);
                return -ENOSPC;
        }
        if (!udp_rates.e && rate_init(&udp_rates, PICHAT_UDP_SOURCES) < 0) {
                free(u);
                return -ENOMEM;
        }
        u->fd = fd;
        struct timeval beat = {
                .tv_sec = PICHAT_HEARTBEAT_MS / 1000,
                .tv_usec = (PICHAT_HEARTBEAT_MS % 1000) * 1000,
        };
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &beat, sizeof(beat)) < 0) {
                r = -errno;
                udp_free(u);
                return r;
        }
        /* One block, not a malloc per buffer: a block this large gets a
         * mapping of its own, whose pages stay untouched until datagrams
         * fill them, while 2 * UDP_BATCH heap chunks would each touch the
         * page under its header, 128 KiB of an idle daemon's memory. */
        u->bufs = malloc(2 * UDP_BATCH * (size_t)PICHAT_UDP_MAX);
        if (!u->bufs) {
                udp_free(u);
                return -ENOMEM;
        }
        for (int i = 0; i < UDP_BATCH; i++) {
                u->in[i] = u->bufs + (size_t)i * PICHAT_UDP_MAX;
                u->out[i] = u->bufs + (size_t)(UDP_BATCH + i) * PICHAT_UDP_MAX;
        }
        /* Only the main thread starts UDP threads, before the supervisor runs. */
        u->index = atomic_load(&udp_threads);
        atomic_store(&udp_beats[u->index], clock_now_ms());
        r = server_spawn_counted(udp_thread, u);
        if (r < 0) {
                udp_free(u);
                return r;
        }
        atomic_fetch_add(&udp_threads, 1);
        return 0;
}
