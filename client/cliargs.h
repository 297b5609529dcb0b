/* cliargs: the pichat command line, parsed and checked without side
 * effects (no printing, no exiting) so that the tests can drive it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bounds.h"

#define PICHAT_TCP_PORT         "5000"
#define PICHAT_TLS_PORT         "5001"  /* with --tls: [chat] tls_port, as documented */
#define PICHAT_UDP_PORT         "8888"
#define PICHAT_TIMEOUT_DEFAULT  10
#define PICHAT_TIMEOUT_MAX      3600

enum {
        ARGS_RUN = 0,           /* connect as *a says */
        ARGS_HELP,              /* --help */
        ARGS_VERSION,           /* --version */
        ARGS_USAGE,             /* bad command line, reason in err */
};

struct args {
        bool udp;
        bool listen;            /* -l: wait for one peer on [host] port */
        bool chat;              /* UDP chat (--chat, or -u -l), not the UDP echo */
        int family;             /* AF_UNSPEC, AF_INET or AF_INET6 */
        const char *nick;       /* NULL: send no /nick */
        unsigned timeout_s;     /* connect, TLS handshake, UDP reply and end-of-input wait */
        bool tls;               /* --tls: TLS, the certificate checked */
        const char *cafile;     /* --cafile: trust this CA, not the system's (NULL) */
        bool insecure;          /* --insecure: TLS, the certificate not checked */
        const char *host;       /* with listen: the address to listen on, NULL for all */
        const char *port;       /* decimal, 1-65535 */
};

/* Fill *a from argv (pointers into argv). Returns an ARGS_ value; for
 * ARGS_USAGE err holds one line saying what is wrong. Uses getopt, so it
 * may be called more than once per process (it resets optind). */
int args_parse(int argc, char *argv[], struct args *a, char *err, size_t errsize);

void args_usage(FILE *out);
