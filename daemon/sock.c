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
        case SOCK_ROLE_CHAT_TLS: return "chat-tls";
        case SOCK_ROLE_WEB_TLS: return "web-tls";
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

/* The TLS ports a socket may be on (0: that service has none). */
struct tls_ports {
        unsigned chat, web;
};

static enum sock_role role_of(int fd, const char *name, unsigned echo_port, unsigned chat_port,
                              unsigned web_port, const struct tls_ports *tls)
{
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        if (name && strcmp(name, "chat-tls") == 0)
                return SOCK_ROLE_CHAT_TLS;
        if (name && strcmp(name, "web-tls") == 0)
                return SOCK_ROLE_WEB_TLS;

        if (name && strcmp(name, "echo") == 0)
                return SOCK_ROLE_ECHO;
        if (name && strcmp(name, "chat") == 0)
                return SOCK_ROLE_CHAT;
        if (name && strcmp(name, "udp") == 0)
                return SOCK_ROLE_UDP;
        if (name && strcmp(name, "web") == 0)
                return SOCK_ROLE_WEB;
        if (sysd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0)
                return SOCK_ROLE_UDP;
        if (sysd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
                return SOCK_ROLE_NONE;
        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
                return SOCK_ROLE_NONE;
        if (addr_port((struct sockaddr *)&ss) == chat_port)
                return SOCK_ROLE_CHAT;
        if (addr_port((struct sockaddr *)&ss) == web_port)
                return SOCK_ROLE_WEB;
        if (addr_port((struct sockaddr *)&ss) == echo_port)
                return SOCK_ROLE_ECHO;
        if (tls->chat && addr_port((struct sockaddr *)&ss) == tls->chat)
                return SOCK_ROLE_CHAT_TLS;
        if (tls->web && addr_port((struct sockaddr *)&ss) == tls->web)
                return SOCK_ROLE_WEB_TLS;
        return SOCK_ROLE_NONE;
}

int sock_inherit(unsigned echo_port, unsigned chat_port, unsigned web_port,
                 struct sock_inherited *out, size_t max, unsigned chat_tls_port,
                 unsigned web_tls_port)
{
        const struct tls_ports tls = { chat_tls_port, web_tls_port };
        char **names = NULL;
        int n = sysd_listen_fds(&names);
        size_t taken = 0;

        if (n < 0)
                return n;
        for (int i = 0; i < n; i++) {
                int fd = SYSD_LISTEN_FDS_START + i;
                const char *name = names ? names[i] : NULL;
                enum sock_role role = role_of(fd, name, echo_port, chat_port, web_port, &tls);
                char what[ADDR_STR_MAX + 16];

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
                out[taken].fd = fd;
                out[taken].role = role;
                taken++;
        }
        free(names);
        return (int)taken;
}
