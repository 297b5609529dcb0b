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
};

/* Listeners passed by the service manager (LISTEN_FDS). A socket is given
 * its role by its name (echo, chat, udp, web, chat-tls, web-tls) or,
 * unnamed, by its type and port: datagram = udp, stream on the chat port
 * = chat, on the web port = web, on the echo port = echo, on a TLS port
 * (0: none) = chat-tls or web-tls. Returns how many were taken (at most
 * max), or -errno. Unusable fds are logged and closed. */
int sock_inherit(unsigned echo_port, unsigned chat_port, unsigned web_port,
                 struct sock_inherited *out, size_t max, unsigned chat_tls_port,
                 unsigned web_tls_port);
