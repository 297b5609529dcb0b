/* sock: listening sockets, bound here or inherited through socket activation. */
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "sysd.h"

const char *sock_role_name(enum sock_role role)
{
        switch (role) {
        case SOCK_ROLE_ECHO: return "echo";
        case SOCK_ROLE_CHAT: return "chat";
        case SOCK_ROLE_UDP: return "udp";
        case SOCK_ROLE_WEB: return "web";
        case SOCK_ROLE_DAYTIME: return "daytime";
        case SOCK_ROLE_TIME: return "time";
        case SOCK_ROLE_QOTD: return "qotd";
        default: return "unknown";
        }
}

static void describe_addr(const struct sockaddr *sa, int type, char *buf, size_t size)
{
        char a[ADDR_STR_MAX];

        /* addr_format() would print "::" as IPv4 if it were mapped; listeners
         * are shown as configured. */
        addr_format(sa, a, sizeof(a));
        snprintf(buf, size, "%s/%s", a, type == SOCK_DGRAM ? "udp" : "tcp");
}

void sock_describe(int fd, char *buf, size_t size)
{
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int type = 0;
        socklen_t tl = sizeof(type);

        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0) {
                snprintf(buf, size, "fd %d", fd);
                return;
        }
        describe_addr((struct sockaddr *)&ss, type, buf, size);
}

int sock_open(const char *ip, unsigned port, int type, char *err, size_t errsize)
{
        struct sockaddr_storage ss;
        socklen_t len;
        char where[ADDR_STR_MAX + 8];
        int fd, one = 1, zero = 0, r;

        if (addr_parse(ip, port, &ss, &len) < 0) {
                snprintf(err, errsize, "cannot listen on %s: not an address", ip);
                return -EINVAL;
        }
        describe_addr((struct sockaddr *)&ss, type, where, sizeof(where));
        fd = socket(ss.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                goto fail;
        if (type == SOCK_STREAM &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                goto fail;
        /* "::" serves IPv4 too, whatever net.ipv6.bindv6only says. */
        if (ss.ss_family == AF_INET6 &&
            IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr) &&
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
                goto fail;
        if (bind(fd, (struct sockaddr *)&ss, len) < 0)
                goto fail;
        /* SOMAXCONN, not the classic listen(10): a burst of connects must
         * not overflow the backlog. */
        if (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)
                goto fail;
        return fd;

fail:
        r = -errno;
        snprintf(err, errsize, "cannot listen on %s: %s", where, strerror(errno));
        if (fd >= 0)
                close(fd);
        return r;
}

/* The port fd is bound to, or 0. */
static unsigned bound_port(int fd)
{
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
                return 0;
        return addr_port((struct sockaddr *)&ss);
}

static enum sock_role role_of(int fd, const char *name, const unsigned port[SOCK_ROLE_COUNT])
{
        /* Unnamed, by type and port: in this order where ports agree. */
        static const enum sock_role dgram[] = { SOCK_ROLE_DAYTIME, SOCK_ROLE_TIME,
                                                SOCK_ROLE_QOTD };
        static const enum sock_role stream[] = { SOCK_ROLE_CHAT, SOCK_ROLE_WEB, SOCK_ROLE_ECHO,
                                                 SOCK_ROLE_DAYTIME, SOCK_ROLE_TIME,
                                                 SOCK_ROLE_QOTD };
        unsigned p;

        for (int r = SOCK_ROLE_NONE + 1; name && r < SOCK_ROLE_COUNT; r++)
                if (strcmp(name, sock_role_name((enum sock_role)r)) == 0)
                        return (enum sock_role)r;
        if (sysd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0) {
                p = bound_port(fd);
                for (size_t i = 0; p && i < sizeof(dgram) / sizeof(dgram[0]); i++)
                        if (port[dgram[i]] == p)
                                return dgram[i];
                return SOCK_ROLE_UDP;
        }
        if (sysd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 || !(p = bound_port(fd)))
                return SOCK_ROLE_NONE;
        for (size_t i = 0; i < sizeof(stream) / sizeof(stream[0]); i++)
                if (port[stream[i]] == p)
                        return stream[i];
        return SOCK_ROLE_NONE;
}

int sock_inherit(const unsigned port[SOCK_ROLE_COUNT], struct sock_inherited *out, size_t max)
{
        char **names = NULL;
        int n = sysd_listen_fds(&names);
        size_t taken = 0;

        if (n < 0)
                return n;
        for (int i = 0; i < n; i++) {
                int fd = SYSD_LISTEN_FDS_START + i;
                const char *name = names ? names[i] : NULL;
                enum sock_role role = role_of(fd, name, port);
                char what[ADDR_STR_MAX + 16];
                int type = 0;
                socklen_t tl = sizeof(type);

                sock_describe(fd, what, sizeof(what));
                if (role == SOCK_ROLE_NONE || taken == max) {
                        log_msg(LOG_WARNING, "closing unknown inherited socket %s (name '%s')",
                                what, name ? name : "");
                        close(fd);
                        continue;
                }
                /* Our accept and UDP loops expect non-blocking sockets. */
                int fl = fcntl(fd, F_GETFL);
                if (fl >= 0)
                        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
                log_msg(LOG_INFO, "%s: using socket %s from the service manager",
                        sock_role_name(role), what);
                if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
                        type = 0;
                out[taken].fd = fd;
                out[taken].role = role;
                out[taken].type = type;
                taken++;
        }
        free(names);
        return (int)taken;
}
