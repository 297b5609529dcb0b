/* net: getaddrinfo and non-blocking connect with a timeout. */
#include "net.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"

void net_hostport(const char *host, const char *port, char *buf, size_t size)
{
        if (strchr(host, ':'))
                snprintf(buf, size, "[%s]:%s", host, port);
        else
                snprintf(buf, size, "%s:%s", host, port);
}

/* getaddrinfo() for host (NULL: any, with AI_PASSIVE in flags) and a->port:
 * 0 with *res set, or -EHOSTUNREACH after saying why on stderr. */
static int resolve(const struct args *a, const char *host, int socktype, int flags,
                   struct addrinfo **res)
{
        struct addrinfo hints;
        int r;

        memset(&hints, 0, sizeof(hints));
        hints.ai_family = a->family;
        hints.ai_socktype = socktype;
        hints.ai_flags = AI_NUMERICSERV | flags;
        r = getaddrinfo(host, a->port, &hints, res);
        if (r != 0) {
                fprintf(stderr, "pichat: cannot resolve %s: %s\n", host ? host : "*",
                        r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
                return -EHOSTUNREACH;
        }
        return 0;
}

/* Connect fd to one address: 0 or -errno. */
static int connect_one(int fd, const struct addrinfo *ai, int socktype, unsigned timeout_s)
{
        long long end = clock_now_ms() + (long long)timeout_s * 1000;
        int err = 0;
        socklen_t len = sizeof(err);

        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
                return 0;
        if (errno != EINPROGRESS || socktype != SOCK_STREAM)
                return -errno;
        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                long long left = end - clock_now_ms();
                int r;

                if (left <= 0)
                        return -ETIMEDOUT;
                r = poll(&pfd, 1, (int)left);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0)
                        break;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                return -errno;
        return -err;
}

int net_connect(const struct args *a, int socktype)
{
        struct addrinfo *res = NULL;
        char where[320];
        int err = 0, fd = -1;

        if (resolve(a, a->host, socktype, 0, &res) < 0)
                return -EHOSTUNREACH;
        for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                            ai->ai_protocol);
                if (fd < 0) {
                        err = -errno;
                        continue;
                }
                err = connect_one(fd, ai, socktype, a->timeout_s);
                if (err == 0)
                        break;
                close(fd);
                fd = -1;
        }
        freeaddrinfo(res);
        if (fd < 0) {
                /* Several addresses may have failed; the last reason stands
                 * for all of them, to keep this to one line. */
                net_hostport(a->host, a->port, where, sizeof(where));
                if (err == 0)
                        err = -EHOSTUNREACH;
                fprintf(stderr, "pichat: cannot connect to %s: %s\n", where, strerror(-err));
                return err;
        }
        return fd;
}

/* Bind (and listen) one address: the fd, or -errno. */
static int listen_one(const struct addrinfo *ai, bool dual)
{
        int one = 1, zero = 0;
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);

        if (fd < 0)
                return -errno;
        if (ai->ai_socktype == SOCK_STREAM)
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        /* "::" serves IPv4 too, whatever net.ipv6.bindv6only says. */
        if (ai->ai_family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
            (ai->ai_socktype == SOCK_STREAM && listen(fd, 8) < 0)) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int net_listen(const struct args *a, int socktype, char *where, size_t size)
{
        struct addrinfo *res = NULL;
        int fd = -EADDRNOTAVAIL;

        /* Every address: "::" first (IPv4 too), then 0.0.0.0 on a system
         * without IPv6. */
        if (resolve(a, a->host ? a->host : a->family == AF_INET ? "0.0.0.0" :
                    a->family == AF_INET6 ? "::" : NULL, socktype, AI_PASSIVE, &res) < 0)
                return -EHOSTUNREACH;
        /* getaddrinfo() lists 0.0.0.0 before :: for no host: take :: first. */
        const struct addrinfo *order[2] = { NULL, NULL };
        for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                if (ai->ai_family == AF_INET6 && !order[0])
                        order[0] = ai;
                else if (ai->ai_family == AF_INET && !order[1])
                        order[1] = ai;
        }
        snprintf(where, size, "%s:%s", a->host ? a->host : "*", a->port);
        for (int i = 0; i < 2 && fd < 0; i++) {
                if (!order[i])
                        continue;
                addr_format(order[i]->ai_addr, where, size);
                fd = listen_one(order[i], !a->host && a->family == AF_UNSPEC);
                /* With IPv6 turned off, :: fails: 0.0.0.0 is next. */
                if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL)
                        continue;
                break;
        }
        freeaddrinfo(res);
        if (fd < 0) {
                fprintf(stderr, "pichat: cannot listen on %s: %s\n", where, strerror(-fd));
                return fd;
        }
        /* Port 0 is any free one: say which, as bound. */
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
                addr_format((struct sockaddr *)&ss, where, size);
        if (socktype == SOCK_DGRAM)
                net_want_errors(fd);
        return fd;
}

void net_want_errors(int fd)
{
        int one = 1;

        setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
}

int net_udp_error(int fd, int *err, struct sockaddr_storage *about)
{
        char data[64];
        union {
                char buf[512];
                struct cmsghdr align;
        } ctl;
        struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
        struct msghdr mh = { .msg_name = about, .msg_namelen = sizeof(*about), .msg_iov = &iov,
                             .msg_iovlen = 1, .msg_control = ctl.buf,
                             .msg_controllen = sizeof(ctl.buf) };

        memset(about, 0, sizeof(*about));
        if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
                return -EAGAIN;
        *err = EHOSTUNREACH;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
                    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
                        struct sock_extended_err ee;
                        memcpy(&ee, CMSG_DATA(c), sizeof(ee));
                        *err = (int)ee.ee_errno;
                }
        }
        return 0;
}

int net_udp_peer(const struct args *a, struct sockaddr_storage *peer, socklen_t *len)
{
        struct addrinfo *res = NULL;
        char where[320];
        int r, fd;

        if (resolve(a, a->host, SOCK_DGRAM, 0, &res) < 0)
                return -EHOSTUNREACH;
        memcpy(peer, res->ai_addr, res->ai_addrlen);
        *len = res->ai_addrlen;
        fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        freeaddrinfo(res);
        if (fd < 0) {
                r = -errno;
                net_hostport(a->host, a->port, where, sizeof(where));
                fprintf(stderr, "pichat: cannot talk to %s: %s\n", where, strerror(-r));
                return r;
        }
        net_want_errors(fd);
        return fd;
}
