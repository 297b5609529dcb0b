/* ref_thread: the bare thread-per-connection echo, a reference point for
 * tests/bench. Same protocol as pichatd's echo service (greeting, then
 * "OK..." + line + CR LF for every line), nothing else: blocking I/O, one
 * detached thread per client with a 64 KiB stack, no limits, no telnet,
 * no timeouts, no logging.
 *
 *   ref_thread PORT [STACK_KIB]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char welcome[] = "Welcome to the server. Type something and hit enter\r\n";

static void *client(void *arg)
{
        int fd = (int)(intptr_t)arg;
        char in[1024], out[2048];
        size_t have = 0;

        if (send(fd, welcome, sizeof(welcome) - 1, MSG_NOSIGNAL) < 0)
                goto out;
        for (;;) {
                ssize_t n = recv(fd, in + have, sizeof(in) - have, 0);
                if (n <= 0)
                        break;
                have += (size_t)n;
                size_t start = 0, olen = 0;
                for (size_t i = 0; i < have; i++) {
                        if (in[i] != '\n')
                                continue;
                        size_t end = i > start && in[i - 1] == '\r' ? i - 1 : i;
                        if (olen + 5 + (end - start) + 2 > sizeof(out)) {
                                if (send(fd, out, olen, MSG_NOSIGNAL) < 0)
                                        goto out;
                                olen = 0;
                        }
                        memcpy(out + olen, "OK...", 5);
                        memcpy(out + olen + 5, in + start, end - start);
                        olen += 5 + (end - start);
                        out[olen++] = '\r';
                        out[olen++] = '\n';
                        start = i + 1;
                }
                if (olen && send(fd, out, olen, MSG_NOSIGNAL) < 0)
                        break;
                memmove(in, in + start, have - start);
                have -= start;
                if (have == sizeof(in))
                        have = 0;       /* an overlong line is dropped */
        }
out:
        close(fd);
        return NULL;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: ref_thread PORT [STACK_KIB]\n");
                return 2;
        }
        size_t stack = (size_t)(argc > 2 ? atoi(argv[2]) : 64) * 1024;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
        int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        pthread_attr_t attr;

        signal(SIGPIPE, SIG_IGN);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, SOMAXCONN) < 0) {
                perror("ref_thread: bind");
                return 1;
        }
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, stack);
        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                pthread_t t;
                if (fd < 0)
                        continue;
                if (pthread_create(&t, &attr, client, (void *)(intptr_t)fd) != 0)
                        close(fd);
        }
}
