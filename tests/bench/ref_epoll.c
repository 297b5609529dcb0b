/* ref_epoll: the bare epoll echo, a reference point for tests/bench. Same
 * protocol as pichatd's echo service (greeting, then "OK..." + line + CR LF
 * for every line), one thread, level-triggered epoll, non-blocking sockets,
 * a small state block per client; nothing else.
 *
 *   ref_epoll PORT
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pending.h"

static const char welcome[] = "Welcome to the server. Type something and hit enter\r\n";

struct client {
        int fd;
        size_t have;
        char in[1024];
        struct pending out;     /* output the socket did not take yet */
};

static int ep;

static void drop(struct client *c)
{
        close(c->fd);
        free(c->out.buf);
        free(c);
}

static int put(struct client *c, const char *buf, size_t len)
{
        return pending_put(&c->out, ep, c->fd, c, buf, len);
}

static int readable(struct client *c)
{
        char out[2048];
        ssize_t n = recv(c->fd, c->in + c->have, sizeof(c->in) - c->have, 0);
        if (n < 0)
                return errno == EAGAIN ? 0 : -1;
        if (n == 0)
                return -1;
        c->have += (size_t)n;
        size_t start = 0, olen = 0;
        for (size_t i = 0; i < c->have; i++) {
                if (c->in[i] != '\n')
                        continue;
                size_t end = i > start && c->in[i - 1] == '\r' ? i - 1 : i;
                if (olen + 5 + (end - start) + 2 > sizeof(out)) {
                        if (put(c, out, olen) < 0)
                                return -1;
                        olen = 0;
                }
                memcpy(out + olen, "OK...", 5);
                memcpy(out + olen + 5, c->in + start, end - start);
                olen += 5 + (end - start);
                out[olen++] = '\r';
                out[olen++] = '\n';
                start = i + 1;
        }
        if (olen && put(c, out, olen) < 0)
                return -1;
        memmove(c->in, c->in + start, c->have - start);
        c->have -= start;
        if (c->have == sizeof(c->in))
                c->have = 0;    /* an overlong line is dropped */
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: ref_epoll PORT\n");
                return 2;
        }
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
        int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct epoll_event evs[256], lev = { .events = EPOLLIN, .data.ptr = NULL };

        signal(SIGPIPE, SIG_IGN);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, SOMAXCONN) < 0) {
                perror("ref_epoll: bind");
                return 1;
        }
        ep = epoll_create1(EPOLL_CLOEXEC);
        epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
        for (;;) {
                int k = epoll_wait(ep, evs, 256, -1);
                for (int i = 0; i < k; i++) {
                        struct client *c = evs[i].data.ptr;
                        if (!c) {
                                int fd;
                                while ((fd = accept4(lfd, NULL, NULL,
                                                     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                                        struct client *nc = calloc(1, sizeof(*nc));
                                        if (!nc) {
                                                close(fd);
                                                continue;
                                        }
                                        nc->fd = fd;
                                        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = nc };
                                        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                                        if (put(nc, welcome, sizeof(welcome) - 1) < 0)
                                                drop(nc);
                                }
                                continue;
                        }
                        if ((evs[i].events & EPOLLOUT) &&
                            pending_flush(&c->out, ep, c->fd, c) < 0) {
                                drop(c);
                                continue;
                        }
                        if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && readable(c) < 0)
                                drop(c);
                }
        }
}
