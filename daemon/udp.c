/* udp: a thread per UDP socket that answers datagrams, in batches. */
#include "udp.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
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

/* NFS, not a service port but one that answers (OpenBSD's inetd knows). */
#define UDP_NFS_PORT 2049

bool udp_port_ignored(unsigned port)
{
        return port < 1024 || port == UDP_NFS_PORT;
}

bool udp_port_ours(struct udp *u, unsigned port)
{
        unsigned n = atomic_load(&u->n_ports);

        for (unsigned i = 0; i < n; i++)
                if (atomic_load(&u->ports[i]) == port)
                        return true;
        return false;
}

/* Read the interfaces' broadcast addresses again if they are old; under
 * u->rate_lock. A failure keeps the old ones. */
static void udp_broadcasts(struct udp *u, int64_t now)
{
        struct ifaddrs *ifa;

        if (u->bcast_ms && now - u->bcast_ms < UDP_BROADCASTS_MS)
                return;
        u->bcast_ms = now;
        if (getifaddrs(&ifa) < 0)
                return;
        u->n_bcast = 0;
        for (struct ifaddrs *i = ifa; i && u->n_bcast < UDP_BROADCASTS_MAX; i = i->ifa_next)
                if ((i->ifa_flags & IFF_BROADCAST) && i->ifa_broadaddr &&
                    i->ifa_broadaddr->sa_family == AF_INET)
                        u->bcast[u->n_bcast++] = ((struct sockaddr_in *)i->ifa_broadaddr)->sin_addr;
        freeifaddrs(ifa);
}

/* An IPv4 address (network order) no single peer has. */
static bool udp_v4_refused(struct udp *u, struct in_addr a)
{
        uint32_t h = ntohl(a.s_addr);
        bool bcast = false;

        if ((h >> 24) == 0 || (h >> 24) == 255 || IN_MULTICAST(h))
                return true;
        pthread_mutex_lock(&u->rate_lock);
        udp_broadcasts(u, clock_now_ms());
        for (unsigned i = 0; i < u->n_bcast && !bcast; i++)
                bcast = u->bcast[i].s_addr == a.s_addr;
        pthread_mutex_unlock(&u->rate_lock);
        return bcast;
}

static bool udp_one_refused(struct udp *u, const struct sockaddr *sa)
{
        if (sa->sa_family == AF_INET)
                return udp_v4_refused(u, ((const struct sockaddr_in *)sa)->sin_addr);
        if (sa->sa_family != AF_INET6)
                return true;
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
                struct in_addr v4;
                memcpy(&v4, a->s6_addr + 12, 4);
                return udp_v4_refused(u, v4);
        }
        return IN6_IS_ADDR_MULTICAST(a) || IN6_IS_ADDR_UNSPECIFIED(a);
}

bool udp_addr_refused(struct udp *u, const struct sockaddr *sa, const struct sockaddr *to)
{
        return udp_one_refused(u, sa) || (to && udp_one_refused(u, to));
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
        atomic_init(&u->n_ports, 0);
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

/* Room for the packet info of one datagram, whichever family it is. */
#define UDP_CTL_SIZE (CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo)))

/* One socket's loop, and its buffers. */
struct udp_loop {
        struct udp *u;
        int fd;
        /* What it answers: the echo (svc NULL), or svc's answer. */
        const struct service *svc;
        void *svc_ctx;
        const char *name;               /* for the log and [access] */
        size_t in_size, out_size;       /* of each buffer */
        unsigned loop;                  /* its heartbeat */
        struct server_sleeper sleeper;
        struct conf_cache live;
        char *bufs;                     /* in[] and out[], one block */
        /* Its address (getsockname). A socket bound to one address
         * receives only what is sent to it, and answers from it: no
         * packet info to ask for. */
        struct sockaddr_storage local;
        bool bound;
        char *in[UDP_BATCH];
        char *out[UDP_BATCH];
        struct sockaddr_storage from[UDP_BATCH];
        struct iovec iov_in[UDP_BATCH], iov_out[UDP_BATCH];
        struct mmsghdr msg_in[UDP_BATCH], msg_out[UDP_BATCH];
        /* Where each datagram was sent to, and the same for its reply. */
        union {
                char buf[UDP_CTL_SIZE];
                struct cmsghdr align;
        } ctl_in[UDP_BATCH], ctl_out[UDP_BATCH];
};

/* Whether a datagram from sa is over its source's rate or the budget of
 * all sources (and dropped). The first drop of a run is logged. */
static bool udp_over_rate(struct udp *u, const char *name, const struct conf *cf,
                          const struct sockaddr *sa, int64_t now)
{
        char peer[ADDR_STR_MAX];
        struct addr_key k;
        bool over_total = false, first_total = false;
        int r = RATE_PASS;

        addr_key_prefix(sa, cf->server.ipv6_prefix_len, &k);
        pthread_mutex_lock(&u->rate_lock);
        if (cf->udp.rate_per_source)
                r = rate_check(&u->rates, &k, cf->udp.rate_per_source, now);
        if (r == RATE_PASS && cf->udp.rate_total) {
                if (!u->total.cap)
                        bucket_init(&u->total, cf->udp.rate_total, cf->udp.rate_total, now);
                else if (u->total.rate != (int64_t)cf->udp.rate_total)
                        bucket_set_rate(&u->total, cf->udp.rate_total, cf->udp.rate_total, now);
                if (bucket_full(&u->total, now))
                        u->shedding = false;
                over_total = bucket_take(&u->total, now) != 0;
                first_total = over_total && !u->shedding;
                u->shedding |= over_total;
        }
        pthread_mutex_unlock(&u->rate_lock);
        if (r == RATE_DROP_FIRST) {
                addr_format(sa, peer, sizeof(peer));
                log_msg(LOG_INFO, "%s: %s sends over rate_per_source (%u/s); dropping its "
                        "datagrams over it", name, peer, cf->udp.rate_per_source);
        }
        if (first_total)
                log_msg(LOG_INFO, "%s: over rate_total (%u replies/s); not answering what is "
                        "over it", name, cf->udp.rate_total);
        return r != RATE_PASS || over_total;
}

/* The local address datagram i was sent to (from its packet info) into
 * *to, and a reply header's packet info that sends from it. False when
 * the datagram came without one. */
static bool udp_local(struct udp_loop *l, int i, struct sockaddr_storage *to, struct msghdr *out)
{
        struct msghdr *in = &l->msg_in[i].msg_hdr;

        if (l->bound) {
                *to = l->local;
                return true;
        }
        memset(to, 0, sizeof(*to));
        for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c; c = CMSG_NXTHDR(in, c)) {
                struct cmsghdr *o = (struct cmsghdr *)l->ctl_out[i].buf;

                if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                        struct in_pktinfo pi;
                        memcpy(&pi, CMSG_DATA(c), sizeof(pi));
                        ((struct sockaddr_in *)to)->sin_family = AF_INET;
                        ((struct sockaddr_in *)to)->sin_addr = pi.ipi_addr;
                        /* From the address it was sent to; the route
                         * picks the interface. */
                        pi.ipi_spec_dst = pi.ipi_addr;
                        pi.ipi_ifindex = 0;
                        o->cmsg_level = IPPROTO_IP;
                        o->cmsg_type = IP_PKTINFO;
                        o->cmsg_len = CMSG_LEN(sizeof(pi));
                        memcpy(CMSG_DATA(o), &pi, sizeof(pi));
                        out->msg_controllen = CMSG_SPACE(sizeof(pi));
                } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
                        struct in6_pktinfo pi;
                        memcpy(&pi, CMSG_DATA(c), sizeof(pi));
                        ((struct sockaddr_in6 *)to)->sin6_family = AF_INET6;
                        ((struct sockaddr_in6 *)to)->sin6_addr = pi.ipi6_addr;
                        /* The interface too: a link-local address means
                         * nothing without it. */
                        o->cmsg_level = IPPROTO_IPV6;
                        o->cmsg_type = IPV6_PKTINFO;
                        o->cmsg_len = CMSG_LEN(sizeof(pi));
                        memcpy(CMSG_DATA(o), &pi, sizeof(pi));
                        out->msg_controllen = CMSG_SPACE(sizeof(pi));
                } else {
                        continue;
                }
                out->msg_control = l->ctl_out[i].buf;
                return true;
        }
        return false;
}

/* Why datagram i is not answered, or NULL: it is. */
static const char *udp_refusal(struct udp_loop *l, const struct conf *cf, int i,
                               const struct sockaddr *to)
{
        const struct sockaddr *sa = (struct sockaddr *)&l->from[i];
        size_t plen = strlen(cf->udp.prefix);

        if (udp_port_ignored(addr_port(sa)))
                return "its source port is a service's";
        if (udp_port_ours(l->u, addr_port(sa)))
                return "its source port is one this server answers on";
        if (udp_addr_refused(l->u, sa, to))
                return "no single peer has its source or destination address";
        /* Another echo's answer: answering it would start a loop. */
        if (!l->svc && plen && l->msg_in[i].msg_len >= plen &&
            memcmp(l->in[i], cf->udp.prefix, plen) == 0)
                return "it starts with the prefix, an echo's answer";
        return NULL;
}

static void udp_serve_batch(struct udp_loop *l, int n)
{
        const struct conf *cf = conf_cached(l->u->conf, &l->live);
        int64_t now = clock_now_ms();
        unsigned nout = 0;

        for (int i = 0; i < n; i++) {
                const struct sockaddr *sa = (struct sockaddr *)&l->from[i];
                struct msghdr *out = &l->msg_out[nout].msg_hdr;
                struct sockaddr_storage to;
                const char *why;

                memset(&l->msg_out[nout], 0, sizeof(l->msg_out[nout]));
                bool local = udp_local(l, i, &to, out);
                if ((why = udp_refusal(l, cf, i, local ? (struct sockaddr *)&to : NULL))) {
                        char peer[ADDR_STR_MAX];
                        addr_format(sa, peer, sizeof(peer));
                        log_msg(LOG_DEBUG, "%s: not answering %s: %s", l->name, peer, why);
                        continue;
                }
                /* Datagrams let in are not logged: that would be a line each. */
                if (!server_access(cf, l->name, sa, false))
                        continue;
                if ((cf->udp.rate_per_source || cf->udp.rate_total) &&
                    udp_over_rate(l->u, l->name, cf, sa, now))
                        continue;
                size_t len;
                if (l->svc) {
                        ssize_t k = l->svc->answer(l->svc_ctx, cf, true, l->out[nout],
                                                   l->out_size);
                        if (k <= 0)
                                continue;
                        len = (size_t)k;
                } else {
                        len = udp_format(l->out[nout], cf->udp.prefix, l->in[i],
                                         l->msg_in[i].msg_len);
                }
                l->iov_out[nout].iov_base = l->out[nout];
                l->iov_out[nout].iov_len = len;
                out->msg_name = &l->from[i];
                out->msg_namelen = l->msg_in[i].msg_hdr.msg_namelen;
                out->msg_iov = &l->iov_out[nout];
                out->msg_iovlen = 1;
                nout++;
        }

        for (unsigned sent = 0; sent < nout;) {
                int r = sendmmsg(l->fd, l->msg_out + sent, nout - sent, MSG_DONTWAIT);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        /* A full socket buffer or an unreachable peer costs
                         * this datagram only, never the thread. */
                        sent++;
                        continue;
                }
                sent += (unsigned)r;
                if (!l->svc)
                        atomic_fetch_add(&l->u->answered, (unsigned long)r);
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
        struct server_backoff backoff = { 0 };

        char name[16];

        /* Named for top -H and for the tests that measure one loop. */
        snprintf(name, sizeof(name), l->svc ? "udp-%s" : "udp", l->name);
        pthread_setname_np(pthread_self(), name);
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
                        l->iov_in[i].iov_len = l->in_size;
                        memset(&l->msg_in[i], 0, sizeof(l->msg_in[i]));
                        l->msg_in[i].msg_hdr.msg_name = &l->from[i];
                        l->msg_in[i].msg_hdr.msg_namelen = sizeof(l->from[i]);
                        l->msg_in[i].msg_hdr.msg_iov = &l->iov_in[i];
                        l->msg_in[i].msg_hdr.msg_iovlen = 1;
                        l->msg_in[i].msg_hdr.msg_control = l->ctl_in[i].buf;
                        l->msg_in[i].msg_hdr.msg_controllen = sizeof(l->ctl_in[i].buf);
                }
                /* Waits for the first datagram only, then takes what
                 * else is queued. */
                int n = recvmmsg(l->fd, l->msg_in, UDP_BATCH, MSG_WAITFORONE, NULL);
                if (n > 0 && !server_stopping(srv)) {
                        udp_serve_batch(l, n);
                        server_backoff_clear(&backoff);
                } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                           errno != ECONNREFUSED) {
                        /* Not the heartbeat, nor an ICMP error queued for
                         * one datagram: a socket that keeps failing (not
                         * a datagram socket at all, say) must not spin. */
                        server_backoff(srv, &backoff, "udp: receiving");
                }
        }
        server_sleeper_del(srv, &l->sleeper);
        udp_loop_free(l);
        server_thread_done(srv);
        return NULL;
}

/* Whether ss is a wildcard address (0.0.0.0, ::, ::ffff:0.0.0.0), or
 * one of no family we know: addr_key_from() maps v4-mapped to IPv4. */
static bool udp_wildcard(const struct sockaddr_storage *ss)
{
        static const uint8_t zero[sizeof(((struct addr_key *)0)->bytes)];
        struct addr_key k;

        addr_key_from((const struct sockaddr *)ss, &k);
        return k.family == 0 || memcmp(k.bytes, zero, sizeof(zero)) == 0;
}

/* Learn where each datagram was sent to: IPv4 datagrams, also those on
 * an IPv6 socket (dual stack), come with IP_PKTINFO, IPv6 ones with
 * IPV6_PKTINFO. A socket bound to one address needs none: its address is
 * where they all were sent, and the kernel answers from it (packet info
 * costs a lookup of the source address for every reply). 0 or -errno. */
static int udp_want_pktinfo(struct udp_loop *l)
{
        struct sockaddr_storage *ss = &l->local;
        socklen_t len = sizeof(*ss);
        int one = 1, fd = l->fd;

        if (getsockname(fd, (struct sockaddr *)ss, &len) < 0)
                return -errno;
        if (!udp_wildcard(ss)) {
                l->bound = true;
                return 0;
        }
        if (ss->ss_family == AF_INET6 &&
            setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
                return -errno;
        if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 &&
            ss->ss_family == AF_INET)
                return -errno;
        return 0;
}

int udp_start(struct udp *u, int fd)
{
        return udp_start_service(u, fd, NULL, NULL);
}

int udp_start_service(struct udp *u, int fd, const struct service *svc, void *ctx)
{
        struct udp_loop *l = calloc(1, sizeof(*l));
        struct timeval beat = {
                .tv_sec = PICHAT_HEARTBEAT_MS / 1000,
                .tv_usec = (PICHAT_HEARTBEAT_MS % 1000) * 1000,
        };
        int fl, r = 0;

        if (!l) {
                close(fd);
                return -ENOMEM;
        }
        l->u = u;
        l->fd = fd;
        l->svc = svc;
        l->svc_ctx = ctx;
        l->name = svc ? svc->name : "udp";
        /* What asks for an answer is not read: a small buffer takes
         * it, and the kernel drops the rest. */
        l->in_size = svc ? 64 : PICHAT_UDP_MAX;
        l->out_size = svc ? PICHAT_ANSWER_MAX : PICHAT_UDP_MAX;
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &beat, sizeof(beat)) < 0 ||
            (r = udp_want_pktinfo(l)) < 0) {
                r = r < 0 ? r : -errno;
                udp_loop_free(l);
                return r;
        }
        /* One block, not a malloc per buffer: a block this large gets a
         * mapping of its own, whose pages stay untouched until datagrams
         * fill them, while 2 * UDP_BATCH heap chunks would each touch the
         * page under its header, 128 KiB of an idle daemon's memory. */
        l->bufs = malloc(UDP_BATCH * (l->in_size + l->out_size));
        if (!l->bufs) {
                udp_loop_free(l);
                return -ENOMEM;
        }
        for (int i = 0; i < UDP_BATCH; i++) {
                l->in[i] = l->bufs + (size_t)i * l->in_size;
                l->out[i] = l->bufs + UDP_BATCH * l->in_size + (size_t)i * l->out_size;
        }
        if ((r = server_loop_add(u->srv)) < 0) {
                udp_loop_free(l);
                return r;
        }
        l->loop = (unsigned)r;
        /* Listed before its thread runs, by the one thread that starts
         * them all (main's) before the daemon says it is ready. */
        unsigned np = atomic_load(&u->n_ports), port = addr_port((struct sockaddr *)&l->local);
        if (np < UDP_SOCKETS_MAX && port) {
                atomic_store(&u->ports[np], (unsigned short)port);
                atomic_store(&u->n_ports, np + 1);
        }
        if ((r = server_spawn_counted(u->srv, udp_thread, l)) < 0) {
                udp_loop_free(l);
                return r;
        }
        return 0;
}
