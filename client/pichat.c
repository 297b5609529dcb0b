/* pichat: command line, connecting, and handing over to a session. */
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
        struct session s = { .a = &a };
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
        net_hostport(a.host, a.port, s.where, sizeof(s.where));
        s.fd = net_connect(&a, a.udp ? SOCK_DGRAM : SOCK_STREAM);
        if (s.fd < 0)
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
        /* Signals are caught before the terminal changes, so that no
         * Ctrl-C can leave it changed; a terminal that refuses is still
         * usable the way a script uses it. */
        if (s.interactive && term_raw() == 0)
                sig_init(true);
        else
                s.interactive = false;
        r = a.udp ? udp_run(&s) : tcp_run(&s);
        term_restore();
        ctls_free(s.tls);
        close(s.fd);
        return r;
}
