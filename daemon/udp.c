/* udp: a thread per UDP socket that answers datagrams, in batches. */
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

unsigned long udp_answered(struct udp *u)
{
        return atomic_load(&u->answered);
}

int udp_init(struct udp *u, struct server *srv, struct conf_store *conf)
{
        memset(u, 0, sizeof(*u));
        u->srv = srv;
        u->conf = conf;
        atomic_init(&u->answered, 0);
        pthread_mutex_init(&u->rate_lock, NULL);
        if (rate_init(&u->rates, PICHAT_UDP_SOURCES) < 0) {
                pthread_mutex_destroy(&u->rate_lock);
                return -ENOMEM;
        }
        return 0;
}

void udp_destroy(struct udp *u)
{
        rate_free(&u->rates);
        pthread_mutex_destroy(&u->rate_lock);
}

/* One socket's loop, and its buffers. */
struct udp_loop {
        struct udp *u;
        int fd;
        unsigned loop;                  /* its heartbeat */
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
static bool udp_over_rate(struct udp *u, const struct conf *cf, const struct sockaddr *sa,
                          int64_t now)
{
        struct addr_key k;
        int r;

        addr_key_prefix(sa, cf->server.ipv6_prefix_len, &k);
        pthread_mutex_lock(&u->rate_lock);
        r = rate_check(&u->rates, &k, cf->udp.rate_per_source, now);
        pthread_mutex_unlock(&u->rate_lock);
        if (r == RATE_DROP_FIRST) {
                char peer[ADDR_STR_MAX];
                addr_format(sa, peer, sizeof(peer));
                log_msg(LOG_INFO, "udp: %s sends over rate_per_source (%u/s); dropping its "
                        "datagrams over it", peer, cf->udp.rate_per_source);
        }
        return r != RATE_PASS;
}

static void udp_serve_batch(struct udp_loop *u, int n)
{
        const struct conf *cf = conf_cached(u->u->conf, &u->live);
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
                if (limit && udp_over_rate(u->u, cf, sa, now))
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
                atomic_fetch_add(&u->u->answered, (unsigned long)r);
        }
}

static void udp_loop_free(struct udp_loop *l)
{
        free(l->bufs);
        conf_cache_drop(&l->live);
        if (l->fd >= 0)
                close(l->fd);
        free(l);
}

/* The loop sleeps in recvmmsg() itself, two system calls a batch: the
 * socket blocks, SO_RCVTIMEO bounds each wait to the heartbeat, and
 * server_stop() wakes it with a signal (server_sleeper_add). */
static void *udp_thread(void *arg)
{
        struct udp_loop *l = arg;
        struct server *srv = l->u->srv;

        pthread_setname_np(pthread_self(), "udp");
        /* The socket may be systemd's too: wake by signal, never by
         * shutting it (systemd would see it readable forever, and start
         * the service again and again). */
        server_sleeper_add(srv, &l->sleeper);

        for (;;) {
                /* Bounded sleep: an idle loop still shows it is alive. */
                server_beat(srv, l->loop);
                if (server_stopping(srv))
                        break;
                for (int i = 0; i < UDP_BATCH; i++) {
                        l->iov_in[i].iov_base = l->in[i];
                        l->iov_in[i].iov_len = PICHAT_UDP_MAX;
                        memset(&l->msg_in[i], 0, sizeof(l->msg_in[i]));
                        l->msg_in[i].msg_hdr.msg_name = &l->from[i];
                        l->msg_in[i].msg_hdr.msg_namelen = sizeof(l->from[i]);
                        l->msg_in[i].msg_hdr.msg_iov = &l->iov_in[i];
                        l->msg_in[i].msg_hdr.msg_iovlen = 1;
                }
                /* Waits for the first datagram only, then takes what
                 * else is queued. */
                int n = recvmmsg(l->fd, l->msg_in, UDP_BATCH, MSG_WAITFORONE, NULL);
                if (n > 0 && !server_stopping(srv))
                        udp_serve_batch(l, n);
                /* Errors (EAGAIN at the heartbeat, ICMP errors queued on
                 * the socket) cost one turn, never the thread. */
        }
        server_sleeper_del(srv, &l->sleeper);
        udp_loop_free(l);
        server_thread_done(srv);
        return NULL;
}

int udp_start(struct udp *u, int fd)
{
        struct udp_loop *l = calloc(1, sizeof(*l));
        struct timeval beat = {
                .tv_sec = PICHAT_HEARTBEAT_MS / 1000,
                .tv_usec = (PICHAT_HEARTBEAT_MS % 1000) * 1000,
        };
        int fl, r;

        if (!l) {
                close(fd);
                return -ENOMEM;
        }
        l->u = u;
        l->fd = fd;
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &beat, sizeof(beat)) < 0) {
                r = -errno;
                udp_loop_free(l);
                return r;
        }
        /* One block, not a malloc per buffer: a block this large gets a
         * mapping of its own, whose pages stay untouched until datagrams
         * fill them, while 2 * UDP_BATCH heap chunks would each touch the
         * page under its header, 128 KiB of an idle daemon's memory. */
        l->bufs = malloc(2 * UDP_BATCH * (size_t)PICHAT_UDP_MAX);
        if (!l->bufs) {
                udp_loop_free(l);
                return -ENOMEM;
        }
        for (int i = 0; i < UDP_BATCH; i++) {
                l->in[i] = l->bufs + (size_t)i * PICHAT_UDP_MAX;
                l->out[i] = l->bufs + (size_t)(UDP_BATCH + i) * PICHAT_UDP_MAX;
        }
        if ((r = server_loop_add(u->srv)) < 0) {
                udp_loop_free(l);
                return r;
        }
        l->loop = (unsigned)r;
        if ((r = server_spawn_counted(u->srv, udp_thread, l)) < 0) {
                udp_loop_free(l);
                return r;
        }
        return 0;
}
