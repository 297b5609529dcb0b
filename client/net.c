/* net: getaddrinfo and non-blocking connect with a timeout. */
#include "net.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

void net_hostport(const char *host, const char *port, char *buf, size_t size)
{
        if (strchr(host, ':'))
                snprintf(buf, size, "[%s]:%s", host, port);
        else
                snprintf(buf, size, "%s:%s", host, port);
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
        struct addrinfo hints, *res = NULL;
        char where[320];
        int r, err = 0, fd = -1;

        memset(&hints, 0, sizeof(hints));
        hints.ai_family = a->family;
        hints.ai_socktype = socktype;
        hints.ai_flags = AI_NUMERICSERV;
        r = getaddrinfo(a->host, a->port, &hints, &res);
        if (r != 0) {
                fprintf(stderr, "pichat: cannot resolve %s: %s\n", a->host,
                        r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
                return -EHOSTUNREACH;
        }
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
