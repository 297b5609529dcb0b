/* cliargs: getopt_long over the pichat options, and their checks. */
#include "cliargs.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void args_usage(FILE *out)
{
        fprintf(out,
                "Usage: pichat [-u [--chat]] [-4|-6] [-n NICK] [-t TIMEOUT] HOST [PORT]\n"
                "       pichat --tls [--cafile FILE | --insecure] [-4|-6] [-n NICK] [-t TIMEOUT]\n"
                "              HOST [PORT]\n"
                "       pichat -l [-u] [-4|-6] [-n NICK] [-t TIMEOUT] [ADDRESS] PORT\n"
                "Talk to a pichatd chat or echo server (TCP or TLS), or to its UDP echo service;\n"
                "or chat with one peer, over TCP or UDP, waiting for it with -l.\n\n"
                "  -l, --listen        wait on PORT (of ADDRESS, default all) for one peer\n"
                "  -u, --udp           UDP echo mode (default port " PICHAT_UDP_PORT "); with\n"
                "                      --chat or -l, a chat in datagrams\n"
                "      --chat          with -u: chat with the peer at HOST PORT\n"
                "  -s, --tls           TLS (default port " PICHAT_TLS_PORT "); the server's certificate\n"
                "                      must be valid for HOST and signed by a CA the system trusts\n"
                "      --cafile FILE   trust the CA certificates in FILE (PEM) instead\n"
                "      --insecure      do not check the certificate (a self-signed one on a LAN)\n"
                "  -4, --ipv4          use IPv4 only\n"
                "  -6, --ipv6          use IPv6 only\n"
                "  -n, --nick NICK     send /nick NICK after connecting (a peer shows\n"
                "                      your lines as <NICK> text)\n"
                "                      (a chat password is taken from $PICHAT_PASSWORD)\n"
                "  -t, --timeout SECS  connect and UDP reply timeout (default %d)\n"
                "  -h, --help          show this help\n"
                "  -V, --version       show the version\n\n"
                "PORT defaults to " PICHAT_TCP_PORT " (TCP), " PICHAT_TLS_PORT " (TLS) or "
                PICHAT_UDP_PORT " (UDP); -l needs it.\n"
                "Exit status: 0 clean end, 1 connection error, 2 usage error.\n",
                PICHAT_TIMEOUT_DEFAULT);
}

static int fail(char *err, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, size, fmt, ap);
        va_end(ap);
        return ARGS_USAGE;
}

/* Strict decimal: no sign, no spaces, no trailing junk. */
static bool parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
        char *end;
        unsigned long v;

        if (*s < '0' || *s > '9' || strlen(s) > 10)
                return false;
        v = strtoul(s, &end, 10);
        if (*end != '\0' || v < min || v > max)
                return false;
        *out = v;
        return true;
}

static bool valid_nick(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > PICHAT_NICK_MAX)
                return false;
        /* It goes out as one word of a command line: no spaces, no controls. */
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c <= 0x20 || c == 0x7F || c == 0xFF)
                        return false;
        }
        return true;
}

int args_parse(int argc, char *argv[], struct args *a, char *err, size_t errsize)
{
        static const struct option longopts[] = {
                { "udp", no_argument, NULL, 'u' },
                { "listen", no_argument, NULL, 'l' },
                { "chat", no_argument, NULL, 'c' },
                { "ipv4", no_argument, NULL, '4' },
                { "ipv6", no_argument, NULL, '6' },
                { "nick", required_argument, NULL, 'n' },
                { "timeout", required_argument, NULL, 't' },
                { "tls", no_argument, NULL, 's' },
                { "cafile", required_argument, NULL, 'C' },
                { "insecure", no_argument, NULL, 'K' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        unsigned long v;
        int c;

        memset(a, 0, sizeof(*a));
        a->family = AF_UNSPEC;
        a->timeout_s = PICHAT_TIMEOUT_DEFAULT;
        err[0] = '\0';
        /* optind 0 makes glibc start over, so tests can parse many times. */
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":ul46n:t:shV", longopts, NULL)) != -1) {
                switch (c) {
                case 's':
                        a->tls = true;
                        break;
                case 'C':
                        if (!*optarg)
                                return fail(err, errsize, "--cafile needs a file name");
                        a->cafile = optarg;
                        break;
                case 'K':
                        a->insecure = true;
                        break;
                case 'u':
                        a->udp = true;
                        break;
                case 'l':
                        a->listen = true;
                        break;
                case 'c':
                        a->chat = true;
                        break;
                case '4':
                case '6':
                        if (a->family != AF_UNSPEC && a->family != (c == '4' ? AF_INET : AF_INET6))
                                return fail(err, errsize, "-4 and -6 exclude each other");
                        a->family = c == '4' ? AF_INET : AF_INET6;
                        break;
                case 'n':
                        if (!valid_nick(optarg))
                                return fail(err, errsize,
                                            "invalid nick '%s' (1-%d characters, no spaces)",
                                            optarg, PICHAT_NICK_MAX);
                        a->nick = optarg;
                        break;
                case 't':
                        if (!parse_uint(optarg, 1, PICHAT_TIMEOUT_MAX, &v))
                                return fail(err, errsize,
                                            "invalid timeout '%s' (1-%d seconds)",
                                            optarg, PICHAT_TIMEOUT_MAX);
                        a->timeout_s = (unsigned)v;
                        break;
                case 'h':
                        return ARGS_HELP;
                case 'V':
                        return ARGS_VERSION;
                case ':':
                        if (strncmp(argv[optind - 1], "--", 2) == 0)
                                return fail(err, errsize, "option %s needs an argument",
                                            argv[optind - 1]);
                        return fail(err, errsize, "option -%c needs an argument", optopt);
                default:
                        /* glibc leaves optopt 0 for an unknown long option */
                        if (optopt)
                                return fail(err, errsize, "unknown option -%c", optopt);
                        return fail(err, errsize, "unknown option %.64s", argv[optind - 1]);
                }
        }
        if (a->chat && !a->udp)
                return fail(err, errsize, "--chat is for UDP (-u): over TCP every session is a chat");
        if (a->listen) {
                /* pichat -l [ADDRESS] PORT, as nc -l has it. */
                if (optind >= argc)
                        return fail(err, errsize, "-l needs a PORT to listen on");
                if (argc - optind > 2)
                        return fail(err, errsize, "too many arguments");
                a->host = argc - optind == 2 ? argv[optind] : NULL;
                a->port = argv[argc - 1];
                a->chat = a->udp;
                if (a->host && a->host[0] == '\0')
                        return fail(err, errsize, "empty ADDRESS");
        } else {
                if (optind >= argc)
                        return fail(err, errsize, "no HOST given");
                if (argc - optind > 2)
                        return fail(err, errsize, "too many arguments");
                a->host = argv[optind];
                if (a->host[0] == '\0')
                        return fail(err, errsize, "empty HOST");
                a->port = optind + 1 < argc ? argv[optind + 1] :
                          a->udp ? PICHAT_UDP_PORT : a->tls ? PICHAT_TLS_PORT : PICHAT_TCP_PORT;
        }
        /* Listening, 0 is any free port (pichat says which). */
        if (!parse_uint(a->port, a->listen ? 0 : 1, 65535, &v))
                return fail(err, errsize, "invalid port '%s' (%d-65535)", a->port,
                            a->listen ? 0 : 1);
        if (a->udp && a->nick)
                return fail(err, errsize, "-n has no meaning with -u");
        if (a->udp && a->tls)
                return fail(err, errsize, "--tls has no meaning with -u (UDP is not encrypted)");
        if (a->listen && a->tls)
                return fail(err, errsize, "--tls has no meaning with -l (the peer chat is in clear)");
        if ((a->cafile || a->insecure) && !a->tls)
                return fail(err, errsize, "%s needs --tls", a->cafile ? "--cafile" : "--insecure");
        if (a->cafile && a->insecure)
                return fail(err, errsize, "--cafile and --insecure exclude each other");
        return ARGS_RUN;
}
