/* null_server: the least a server can do for each of loadgen's modes, to
 * show the load generator's own limit (tests/bench). Whatever rate or
 * latency loadgen measures against it is loadgen's bound on this machine:
 * a real server's figure close to it says more about the generator than
 * about the server.
 *
 *   null_server echo PORT   greets, then answers every read with "OK..."
 *                           and the bytes read, in one send (no line
 *                           framing: loadgen keeps one line in flight)
 *   null_server chat PORT   pichat's greeting and "* you are bN"; every
 *                           complete line read goes to every other client
 *                           as "<bN> line" (what loadgen -r pichat reads)
 *   null_server udp PORT    answers every datagram with "OK..." and the
 *                           datagram, many at once (recvmmsg/sendmmsg)
 *
 * One thread, level-triggered epoll, 127.0.0.1 only; stopped by a signal.
 * Output a socket does not take is kept, without limit (pending.h): the
 * generator reads everything it is sent. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pending.h"

#define MAX_FD 65536
#define UDP_BATCH 64

static const char welcome[] = "Welcome to the server. Type something and hit enter\r\n";

struct client {
        int fd;
        unsigned id;
        size_t slot;            /* in members[] */
        size_t have;
        char in[4096];
        struct pending out;
        struct client *next_dead;
};

static int ep;
static struct client *by_fd[MAX_FD];
static struct client **members;         /* chat: everyone connected */
static size_t n_members, cap_members;
static unsigned next_id;
static struct client *dead;             /* dropped, freed after the batch */

static void die(const char *what)
{
        perror(what);
        exit(1);
}

static void drop(struct client *c)
{
        if (members) {
                members[c->slot] = members[--n_members];
                members[c->slot]->slot = c->slot;
        }
        by_fd[c->fd] = NULL;
        close(c->fd);
        c->fd = -1;
        free(c->out.buf);
        c->next_dead = dead;    /* events of this batch may still name it */
        dead = c;
}

static int put(struct client *c, const char *buf, size_t len)
{
        return pending_put(&c->out, ep, c->fd, c, buf, len);
}

static void accept_all(int lfd, int chat)
{
        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                        return;
                struct client *c = calloc(1, sizeof(*c));
                if (!c || fd >= MAX_FD) {
                        close(fd);
                        free(c);
                        continue;
                }
                c->fd = fd;
                c->id = next_id++;
                by_fd[fd] = c;
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                if (chat) {
                        if (n_members == cap_members) {
                                cap_members = cap_members ? 2 * cap_members : 256;
                                members = realloc(members, cap_members * sizeof(*members));
                                if (!members)
                                        die("realloc");
                        }
                        c->slot = n_members;
                        members[n_members++] = c;
                        char hello[128];
                        int n = snprintf(hello, sizeof(hello), "%s* you are b%u\r\n", welcome,
                                         c->id);
                        if (put(c, hello, (size_t)n) < 0)
                                drop(c);
                } else if (put(c, welcome, sizeof(welcome) - 1) < 0) {
                        drop(c);
                }
        }
}

/* Echo: "OK..." and what one read brought. */
static int on_echo(struct client *c)
{
        char buf[4096 + 5] = "OK...";
        ssize_t n = recv(c->fd, buf + 5, sizeof(buf) - 5, 0);
        if (n <= 0)
                return n < 0 && errno == EAGAIN ? 0 : -1;
        return put(c, buf, (size_t)n + 5);
}

/* Chat: every complete line to every other member, as "<bN> line". */
static int on_chat(struct client *c)
{
        ssize_t n = recv(c->fd, c->in + c->have, sizeof(c->in) - c->have, 0);
        if (n <= 0)
                return n < 0 && errno == EAGAIN ? 0 : -1;
        c->have += (size_t)n;
        char out[2 * sizeof(c->in)];
        size_t olen = 0, start = 0;
        char tag[16];
        int tlen = snprintf(tag, sizeof(tag), "<b%u> ", c->id);
        for (size_t i = 0; i < c->have; i++) {
                if (c->in[i] != '\n')
                        continue;
                memcpy(out + olen, tag, (size_t)tlen);
                olen += (size_t)tlen;
                memcpy(out + olen, c->in + start, i + 1 - start);
                olen += i + 1 - start;
                start = i + 1;
        }
        memmove(c->in, c->in + start, c->have - start);
        c->have -= start;
        if (c->have == sizeof(c->in))
                return -1;      /* a line longer than the buffer */
        for (size_t m = 0; olen && m < n_members; m++) {
                struct client *o = members[m];
                if (o != c && put(o, out, olen) < 0) {
                        drop(o);
                        m--;    /* the last member took its slot */
                }
        }
        return 0;
}

static void serve_udp(int fd)
{
        static char buf[UDP_BATCH][2048];
        struct mmsghdr m[UDP_BATCH];
        struct iovec iov[UDP_BATCH][2];
        struct sockaddr_in from[UDP_BATCH];
        static char ok[] = "OK...";

        for (;;) {
                for (int i = 0; i < UDP_BATCH; i++) {
                        iov[i][1] = (struct iovec){ buf[i], sizeof(buf[i]) };
                        m[i].msg_hdr = (struct msghdr){ .msg_name = &from[i],
                                                        .msg_namelen = sizeof(from[i]),
                                                        .msg_iov = &iov[i][1], .msg_iovlen = 1 };
                }
                int n = recvmmsg(fd, m, UDP_BATCH, MSG_WAITFORONE, NULL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        die("recvmmsg");
                }
                for (int i = 0; i < n; i++) {
                        iov[i][0] = (struct iovec){ ok, 5 };
                        iov[i][1].iov_len = m[i].msg_len;
                        m[i].msg_hdr.msg_iov = iov[i];
                        m[i].msg_hdr.msg_iovlen = 2;
                }
                sendmmsg(fd, m, (unsigned)n, 0);
        }
}

int main(int argc, char **argv)
{
        if (argc != 3)
                return fprintf(stderr, "usage: null_server echo|chat|udp PORT\n"), 2;
        int udp = !strcmp(argv[1], "udp"), chat = !strcmp(argv[1], "chat");
        if (!udp && !chat && strcmp(argv[1], "echo"))
                return fprintf(stderr, "null_server: unknown mode %s\n", argv[1]), 2;
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)atoi(argv[2])) };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int one = 1;
        int lfd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM | SOCK_NONBLOCK) | SOCK_CLOEXEC,
                         0);
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                die("bind");
        if (udp)
                serve_udp(lfd);
        if (listen(lfd, 4096) < 0 || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
                die("listen");
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
        for (;;) {
                struct epoll_event evs[512];
                int k = epoll_wait(ep, evs, 512, -1);
                for (int i = 0; i < k; i++) {
                        struct client *c = evs[i].data.ptr;
                        if (!c) {
                                accept_all(lfd, chat);
                                continue;
                        }
                        if (c->fd < 0)
                                continue;       /* dropped earlier in this batch */
                        int r = 0;
                        if (evs[i].events & EPOLLOUT)
                                r = pending_flush(&c->out, ep, c->fd, c);
                        if (r == 0 && evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                                r = chat ? on_chat(c) : on_echo(c);
                        if (r < 0)
                                drop(c);
                }
                while (dead) {
                        struct client *next = dead->next_dead;
                        free(dead);
                        dead = next;
                }
        }
}
