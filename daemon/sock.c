/* sock: listening sockets, bound here or inherited through socket activation. */
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

const char *sock_role_name(enum sock_role role)
{
        switch (role) {
        case SOCK_ROLE_ECHO: return "echo";
        case SOCK_ROLE_CHAT: return "chat";
        case SOCK_ROLE_UDP: return "udp";
        case SOCK_ROLE_WEB: return "web";
        case SOCK_ROLE_CHAT_TLS: return "chat-tls";
        case SOCK_ROLE_WEB_TLS: return "web-tls";
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

static enum sock_role role_by_name(const char *name)
{
        for (int r = SOCK_ROLE_NONE + 1; r < SOCK_ROLE_COUNT; r++)
                if (strcmp(name, sock_role_name((enum sock_role)r)) == 0)
                        return (enum sock_role)r;
        return SOCK_ROLE_NONE;
}

/* An IP datagram socket bound to port (0: any port). */
static bool is_dgram(int fd, unsigned port)
{
        return port <= 65535 && sd_is_socket_inet(fd, AF_UNSPEC, SOCK_DGRAM, -1, (uint16_t)port) > 0;
}

/* A listening IP stream socket bound to port (0: any port). */
static bool is_listener(int fd, unsigned port)
{
        return port <= 65535 && sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, (uint16_t)port) > 0;
}

/* What a service serves: UDP an IP datagram socket, echo, chat and web
 * (plain or TLS) a listening IP stream socket, daytime, time and qotd either (one of each
 * under one name). Anything else would fail at every turn of its loop. */
static bool fits_role(int fd, enum sock_role role)
{
        switch (role) {
        case SOCK_ROLE_UDP:
                return is_dgram(fd, 0);
        case SOCK_ROLE_DAYTIME:
        case SOCK_ROLE_TIME:
        case SOCK_ROLE_QOTD:
                return is_dgram(fd, 0) || is_listener(fd, 0);
        default:
                return is_listener(fd, 0);
        }
}

/* An unnamed socket, by type and port (a configured port of 0 matches
 * none): a datagram socket on the daytime, time or qotd port is that
 * service's, any other the UDP echo's; a stream is tried in this order. */
static enum sock_role role_by_type(int fd, const unsigned port[SOCK_ROLE_COUNT])
{
        static const enum sock_role dgram[] = { SOCK_ROLE_DAYTIME, SOCK_ROLE_TIME,
                                                SOCK_ROLE_QOTD };
        static const enum sock_role stream[] = { SOCK_ROLE_CHAT, SOCK_ROLE_WEB, SOCK_ROLE_ECHO,
                                                 SOCK_ROLE_CHAT_TLS, SOCK_ROLE_WEB_TLS,
                                                 SOCK_ROLE_DAYTIME, SOCK_ROLE_TIME,
                                                 SOCK_ROLE_QOTD };

        if (is_dgram(fd, 0)) {
                for (size_t i = 0; i < sizeof(dgram) / sizeof(dgram[0]); i++)
                        if (port[dgram[i]] != 0 && is_dgram(fd, port[dgram[i]]))
                                return dgram[i];
                return SOCK_ROLE_UDP;
        }
        for (size_t i = 0; i < sizeof(stream) / sizeof(stream[0]); i++)
                if (port[stream[i]] != 0 && is_listener(fd, port[stream[i]]))
                        return stream[i];
        return SOCK_ROLE_NONE;
}

int sock_inherit(const unsigned port[SOCK_ROLE_COUNT], struct sock_inherited *out, size_t max)
{
        char **names = NULL;
        /* The variables go: no child may take the fds for its own. */
        int n = sd_listen_fds_with_names(1, &names);
        size_t taken = 0;

        if (n < 0)
                return n;
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                const char *name = names && names[i] ? names[i] : "unknown";
                enum sock_role role = role_by_name(name);
                char what[ADDR_STR_MAX + 16];
                int type = 0;
                socklen_t tl = sizeof(type);

                sock_describe(fd, what, sizeof(what));
                if (role != SOCK_ROLE_NONE && !fits_role(fd, role)) {
                        log_msg(LOG_ERR, "%s: refusing socket %s from the service manager: "
                                "named '%s' but not %s socket (check its .socket unit)",
                                sock_role_name(role), what, name,
                                role == SOCK_ROLE_UDP ? "an IP datagram" :
                                role >= SOCK_ROLE_DAYTIME ? "an IP datagram or a listening TCP" :
                                "a listening TCP");
                        close(fd);
                        continue;
                }
                if (role == SOCK_ROLE_NONE)
                        role = role_by_type(fd, port);
                if (role == SOCK_ROLE_NONE || taken == max) {
                        log_msg(LOG_WARNING, "closing unknown inherited socket %s (name '%s')",
                                what, name);
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
        for (int i = 0; names && names[i]; i++)
                free(names[i]);
        free(names);
        return (int)taken;
}
