/* sock: opening listening sockets, or taking them over from systemd. */
#pragma once

#include <stddef.h>

/* The services a listening socket can belong to. */
enum sock_role {
        SOCK_ROLE_NONE = 0,
        SOCK_ROLE_ECHO,
        SOCK_ROLE_CHAT,
        SOCK_ROLE_UDP,
        SOCK_ROLE_WEB,
        SOCK_ROLE_CHAT_TLS,     /* [chat] tls_port */
        SOCK_ROLE_WEB_TLS,      /* [web] tls_port */
        /* The services that answer once (answer.h): a TCP and a UDP
         * socket each, of the same name. */
        SOCK_ROLE_DAYTIME,
        SOCK_ROLE_TIME,
        SOCK_ROLE_QOTD,
        SOCK_ROLE_COUNT,
};

const char *sock_role_name(enum sock_role role);

/* Bind and listen (TCP) or bind (UDP) on ip:port. "::" is dual-stack.
 * Returns the fd, or -errno with a message in err ("cannot listen on ..."). */
int sock_open(const char *ip, unsigned port, int type, char *err, size_t errsize);

/* "[::]:8888/tcp" for a bound socket. */
void sock_describe(int fd, char *buf, size_t size);

struct sock_inherited {
        int fd;
        enum sock_role role;
        int type;               /* SOCK_STREAM or SOCK_DGRAM */
};

/* Listeners passed by the service manager (sd_listen_fds_with_names()). A
 * socket is given its role by its name (echo, chat, udp, web, chat-tls,
 * web-tls, daytime, time, qotd; the last three name a TCP and a UDP
 * socket each) or, with
 * any other name, by its type and the port each role has in port[] (from
 * the configuration): a datagram socket on the daytime, time or qotd port
 * is that service's, any other udp's; a listening stream on the chat port
 * is chat's, then web, echo, chat-tls, web-tls, daytime, time, qotd
 * (a TLS port of 0: none). A named socket of the
 * wrong kind (a datagram socket named chat, a TCP one named udp, one not
 * listening, not IP) is refused with an error line. Returns how many were
 * taken (at most max), or -errno. Unusable fds are logged and closed. */
int sock_inherit(const unsigned port[SOCK_ROLE_COUNT], struct sock_inherited *out, size_t max);
