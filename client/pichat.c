/* pichat: command line, connecting or listening, and handing over to a
 * session. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "cliargs.h"
#include "ctls.h"
#include "net.h"
#include "session.h"
#include "term.h"

int main(int argc, char *argv[])
{
        struct args a;
        struct session s = { .a = &a, .fd = -1, .listen_fd = -1 };
        char err[256];
        int r;

        /* Only for character widths at the prompt; messages stay English. */
        setlocale(LC_CTYPE, "");
        switch (args_parse(argc, argv, &a, err, sizeof(err))) {
        case ARGS_HELP:
                args_usage(stdout);
                return EXIT_SUCCESS;
        case ARGS_VERSION:
                printf("pichat %s\n", PICHAT_VERSION);
                return EXIT_SUCCESS;
        case ARGS_USAGE:
                fprintf(stderr, "pichat: %s\n", err);
                fprintf(stderr, "Try 'pichat --help' for more information.\n");
                return EXIT_USAGE;
        }
        /* Nobody sees the prompt of a script, and its input is not typed:
         * only a terminal on both ends gets the line editor. */
        s.interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
        if (a.listen) {
                /* The signals first: waiting for a peer ends on Ctrl-C
                 * like the rest of a session. */
                s.sigfd = sig_init(false);
                if (s.sigfd < 0) {
                        fprintf(stderr, "pichat: cannot catch signals: %s\n", strerror(-s.sigfd));
                        return EXIT_CONNECT;
                }
                int fd = net_listen(&a, a.udp ? SOCK_DGRAM : SOCK_STREAM, s.bound,
                                    sizeof(s.bound));
                if (fd < 0)
                        return EXIT_CONNECT;
                if (strcmp(a.port, "0") == 0)
                        fprintf(stderr, "pichat: listening on %s\n", s.bound);
                if (a.udp) {
                        s.fd = fd;
                } else {
                        s.listen_fd = fd;
                        r = tcp_wait_peer(&s);
                        if (r != 0) {
                                close(fd);
                                return r == SESSION_END ? 0 : EXIT_CONNECT;
                        }
                }
        } else {
                net_hostport(a.host, a.port, s.where, sizeof(s.where));
                if (!a.chat && (s.fd = net_connect(&a, a.udp ? SOCK_DGRAM : SOCK_STREAM)) < 0)
                        return EXIT_CONNECT;
                if (a.tls && ctls_start(&s.tls, s.fd, &a, s.where) < 0) {
                        close(s.fd);
                        return EXIT_CONNECT;
                }
                s.sigfd = sig_init(false);
                if (s.sigfd < 0) {
                        fprintf(stderr, "pichat: cannot catch signals: %s\n", strerror(-s.sigfd));
                        return EXIT_CONNECT;
                }
        }
        /* Signals are caught before the terminal changes, so that no
         * Ctrl-C can leave it changed; a terminal that refuses is still
         * usable the way a script uses it. */
        if (s.interactive && term_raw() == 0)
                sig_init(true);
        else
                s.interactive = false;
        r = a.chat ? udp_chat_run(&s) : a.udp ? udp_run(&s) : tcp_run(&s);
        term_restore();
        ctls_free(s.tls);
        if (s.fd >= 0)
                close(s.fd);
        if (s.listen_fd >= 0)
                close(s.listen_fd);
        return r;
}
