/* pichatd: command line, start-up, the supervisor loop (signals, reload,
 * status, watchdog) and shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "answer.h"
#include "chat.h"
#include "cluster.h"
#include "conf.h"
#include "echo.h"
#include "log.h"
#include "notify.h"
#include "reload.h"
#include "server.h"
#include "sock.h"
#include "tls.h"
#include "udp.h"
#include "web.h"

#define EXIT_USAGE 2
/* Listeners at most: each role on each bound address, those that answer
 * once with a TCP and a UDP socket. */
#define LISTEN_MAX (PICHAT_BIND_MAX * (SOCK_ROLE_COUNT - 1 + ANSWER_ROLES))
/* Signals are waited for this long at most: the supervisor's tick. */
#define SUPERVISOR_TICK_MS 200
/* How long READY=1 waits for the start-up lines to be written. */
#define LOG_READY_WAIT_MS 500

static void usage(FILE *out)
{
        fprintf(out,
                "Usage: pichatd [OPTIONS]\n"
                "Chat and echo daemon with one thread per client.\n\n"
                "  -c, --config FILE   configuration file (default %s)\n"
                "  -n, --check-config  check the configuration, print 'configuration OK', exit\n"
                "  -f, --foreground    stay in the foreground (logs go to stderr)\n"
                "  -h, --help          show this help\n"
                "  -V, --version       show the version\n\n"
                "Exit status: 0 success, 1 configuration or start-up error, 2 usage error.\n",
                PICHAT_DEFAULT_CONFIG);
}

static void print_conf_errors(const struct conf_errors *errs)
{
        for (unsigned i = 0; i < errs->n; i++)
                fprintf(stderr, "pichatd: %s\n", errs->msg[i]);
}

struct listen_plan {
        int fd;
        enum sock_role role;
};

/* The services that answer once (answer.h), each a TCP and a UDP socket;
 * index i is pd->answers[i]. */
#define ANSWER_ROLES 3
static const struct {
        enum sock_role role;
        const struct service *svc;
} answer_roles[ANSWER_ROLES] = {
        { SOCK_ROLE_DAYTIME, &daytime_service },
        { SOCK_ROLE_TIME, &time_service },
        { SOCK_ROLE_QOTD, &qotd_service },
};

/* Its index in answer_roles, or -1. */
static int answer_index(enum sock_role role)
{
        for (int i = 0; i < ANSWER_ROLES; i++)
                if (answer_roles[i].role == role)
                        return i;
        return -1;
}

static bool role_enabled(const struct conf *cf, enum sock_role role)
{
        switch (role) {
        case SOCK_ROLE_ECHO: return cf->echo.enabled;
        case SOCK_ROLE_CHAT: return cf->chat.enabled;
        case SOCK_ROLE_UDP: return cf->udp.enabled;
        case SOCK_ROLE_WEB: return cf->web.enabled;
        case SOCK_ROLE_DAYTIME: return cf->daytime.enabled;
        case SOCK_ROLE_TIME: return cf->time.enabled;
        case SOCK_ROLE_QOTD: return cf->qotd.enabled;
        case SOCK_ROLE_CHAT_TLS: return cf->chat.enabled && cf->chat.tls_port.on;
        case SOCK_ROLE_WEB_TLS: return cf->web.enabled && cf->web.tls_port.on;
        default: return false;
        }
}

/* Whether a service that answers once answers over UDP too. */
static bool role_udp(const struct conf *cf, enum sock_role role)
{
        switch (role) {
        case SOCK_ROLE_DAYTIME: return cf->daytime.udp;
        case SOCK_ROLE_TIME: return cf->time.udp;
        case SOCK_ROLE_QOTD: return cf->qotd.udp;
        default: return role == SOCK_ROLE_UDP;
        }
}

/* The configured port of each role. */
static void role_ports(const struct conf *cf, unsigned port[SOCK_ROLE_COUNT])
{
        memset(port, 0, SOCK_ROLE_COUNT * sizeof(port[0]));
        port[SOCK_ROLE_ECHO] = cf->echo.port;
        port[SOCK_ROLE_CHAT] = cf->chat.port;
        port[SOCK_ROLE_UDP] = cf->udp.port;
        port[SOCK_ROLE_WEB] = cf->web.port;
        port[SOCK_ROLE_DAYTIME] = cf->daytime.port;
        port[SOCK_ROLE_TIME] = cf->time.port;
        port[SOCK_ROLE_QOTD] = cf->qotd.port;
        port[SOCK_ROLE_CHAT_TLS] = cf->chat.tls_port.on ? cf->chat.tls_port.port : 0;
        port[SOCK_ROLE_WEB_TLS] = cf->web.tls_port.on ? cf->web.tls_port.port : 0;
}

/* Which of a role's sockets one of type is: [1] the UDP one of a service
 * that answers once, [0] any other (a role with one socket has it there,
 * whatever its type: a misnamed socket is its role's all the same). */
static int role_side(enum sock_role role, int type)
{
        return answer_index(role) >= 0 && type == SOCK_DGRAM;
}

/* The UDP state serves the UDP echo and the UDP side of the others. */
static bool udp_needed(const struct conf *cf)
{
        bool any = cf->udp.enabled;

        for (int i = 0; i < ANSWER_ROLES; i++)
                any |= role_enabled(cf, answer_roles[i].role) &&
                       role_udp(cf, answer_roles[i].role);
        return any;
}
/* What a client that speaks plain text to a TLS port is told, in clear:
 * a line for a telnet user, an HTTP answer for a browser. */
#define CHAT_TLS_HINT "This port speaks TLS: use pichat --tls HOST PORT, gnutls-cli or " \
        "openssl s_client.\r\n"
#define WEB_TLS_BODY "This port speaks HTTPS: use https:// in the address.\n"
#define STR_(x) #x
#define STR(x) STR_(x)
#define WEB_TLS_HINT "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" \
        "Connection: close\r\nContent-Length: " STR(WEB_TLS_BODY_LEN) "\r\n\r\n" WEB_TLS_BODY
#define WEB_TLS_BODY_LEN 53
_Static_assert(sizeof(WEB_TLS_BODY) - 1 == WEB_TLS_BODY_LEN, "WEB_TLS_BODY_LEN");

/* The chat registry serves the chat port and the web's WebSocket clients. */
static bool chat_needed(const struct conf *cf)
{
        return cf->chat.enabled || cf->web.enabled;
}

/* Open (or take over) every listener before anything else runs, so a bad
 * port is reported on the terminal and nothing is left running. */
static int open_listeners(const struct conf *cf, struct listen_plan *plan, size_t max)
{
        struct sock_inherited inh[LISTEN_MAX];
        /* What the service manager passed, by role and role_side(). */
        bool have[SOCK_ROLE_COUNT][2] = { { false } };
        unsigned port[SOCK_ROLE_COUNT];
        size_t n = 0;
        int k;

        role_ports(cf, port);
        k = sock_inherit(port, inh, LISTEN_MAX);

        if (k < 0) {
                fprintf(stderr, "pichatd: cannot take sockets from the service manager: %s\n",
                        strerror(-k));
                return k;
        }
        for (int i = 0; i < k; i++) {
                plan[n].fd = inh[i].fd;
                plan[n].role = inh[i].role;
                have[inh[i].role][role_side(inh[i].role, inh[i].type)] = true;
                n++;
        }

        static const struct {
                enum sock_role role;
                int type;
        } wanted[] = {
                { SOCK_ROLE_ECHO, SOCK_STREAM },
                { SOCK_ROLE_CHAT, SOCK_STREAM },
                { SOCK_ROLE_UDP, SOCK_DGRAM },
                { SOCK_ROLE_WEB, SOCK_STREAM },
                { SOCK_ROLE_CHAT_TLS, SOCK_STREAM },
                { SOCK_ROLE_WEB_TLS, SOCK_STREAM },
                { SOCK_ROLE_DAYTIME, SOCK_STREAM },
                { SOCK_ROLE_DAYTIME, SOCK_DGRAM },
                { SOCK_ROLE_TIME, SOCK_STREAM },
                { SOCK_ROLE_TIME, SOCK_DGRAM },
                { SOCK_ROLE_QOTD, SOCK_STREAM },
                { SOCK_ROLE_QOTD, SOCK_DGRAM },
        };
        for (size_t w = 0; w < sizeof(wanted) / sizeof(wanted[0]); w++) {
                enum sock_role role = wanted[w].role;
                bool dgram = wanted[w].type == SOCK_DGRAM;
                bool enabled = role_enabled(cf, role) && (!dgram || role_udp(cf, role));

                if (!enabled || have[role][role_side(role, wanted[w].type)])
                        continue;
                for (unsigned b = 0; b < cf->server.n_bind && n < max; b++) {
                        char err[256];
                        int fd = sock_open(cf->server.bind[b], port[role], wanted[w].type,
                                           err, sizeof(err));
                        if (fd < 0) {
                                fprintf(stderr, "pichatd: %s\n", err);
                                return fd;
                        }
                        plan[n].fd = fd;
                        plan[n].role = role;
                        n++;
                }
        }
        return (int)n;
}


/* The daemon: one of it, made in main() and handed down; every module's
 * state hangs off it. */
struct pichatd {
        const char *config_path;
        struct conf_store conf;
        struct server srv;
        struct chat chat;
        struct udp udp;
        struct web web;
        struct answer answers[ANSWER_ROLES];    /* as answer_roles[] */
        bool running[SOCK_ROLE_COUNT];          /* by enum sock_role */
        char problem[CONF_TEXT_SIZE + 160];     /* "reload failed: ...", or "" */
};

/* The certificate the TLS ports serve, and whether it is in its time. */
static void log_tls_creds(const struct tls_creds *cr)
{
        char what[CONF_TEXT_SIZE + 128];
        time_t now = time(NULL);

        if (!cr)
                return;
        tls_creds_describe(cr, what, sizeof(what));
        if (now > tls_creds_not_after(cr))
                log_msg(LOG_WARNING, "tls: the certificate has expired: %s", what);
        else if (now < tls_creds_not_before(cr))
                log_msg(LOG_WARNING, "tls: the certificate is not valid yet: %s", what);
        else
                log_msg(LOG_INFO, "tls: serving %s", what);
}

/* pd->running[role] is set for every service that got a listener. */
static int start_services(struct pichatd *pd, const struct conf *cf,
                          const struct listen_plan *plan, int n)
{
        for (int i = 0; i < n; i++) {
                char what[96];
                int r = 0, a = answer_index(plan[i].role), type = 0;
                socklen_t tl = sizeof(type);

                sock_describe(plan[i].fd, what, sizeof(what));
                if (getsockopt(plan[i].fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
                        type = 0;
                if (a >= 0 && type == SOCK_DGRAM && role_enabled(cf, plan[i].role) &&
                    !role_udp(cf, plan[i].role)) {
                        log_msg(LOG_WARNING, "%s: udp = no in the configuration, closing %s "
                                "from the service manager", sock_role_name(plan[i].role), what);
                        close(plan[i].fd);
                        continue;
                }
                if (plan[i].role != SOCK_ROLE_NONE && !role_enabled(cf, plan[i].role)) {
                        /* Only inherited sockets get here: none is bound
                         * for a service that is off. */
                        log_msg(LOG_WARNING, "%s: disabled in the configuration, closing %s "
                                "from the service manager (disable its socket unit too)",
                                sock_role_name(plan[i].role), what);
                        close(plan[i].fd);
                        continue;
                }
                switch (plan[i].role) {
                case SOCK_ROLE_ECHO:
                        r = server_add_listener(&pd->srv, plan[i].fd, &echo_service, NULL);
                        break;
                case SOCK_ROLE_CHAT:
                        r = server_add_listener(&pd->srv, plan[i].fd, &chat_service, &pd->chat);
                        break;
                case SOCK_ROLE_UDP:
                        r = udp_start(&pd->udp, plan[i].fd);
                        break;
                case SOCK_ROLE_WEB:
                        r = server_add_listener(&pd->srv, plan[i].fd, &web_service, &pd->web);
                        break;
                case SOCK_ROLE_DAYTIME:
                case SOCK_ROLE_TIME:
                case SOCK_ROLE_QOTD:
                        if (type == SOCK_DGRAM)
                                r = udp_start_service(&pd->udp, plan[i].fd, answer_roles[a].svc,
                                                      &pd->answers[a]);
                        else
                                r = server_add_listener(&pd->srv, plan[i].fd, answer_roles[a].svc,
                                                        &pd->answers[a]);
                        break;
                case SOCK_ROLE_CHAT_TLS:
                        r = server_add_tls_listener(&pd->srv, plan[i].fd, &chat_service,
                                                    &pd->chat, CHAT_TLS_HINT);
                        break;
                case SOCK_ROLE_WEB_TLS:
                        r = server_add_tls_listener(&pd->srv, plan[i].fd, &web_service, &pd->web,
                                                    WEB_TLS_HINT);
                        break;
                default:
                        log_msg(LOG_NOTICE, "%s: no such service in this build, closing %s",
                                sock_role_name(plan[i].role), what);
                        close(plan[i].fd);
                        continue;
                }
                if (r < 0) {
                        log_msg(LOG_ERR, "%s: cannot start on %s: %s",
                                sock_role_name(plan[i].role), what, strerror(-r));
                        return r;
                }
                pd->running[plan[i].role] = true;
                log_msg(LOG_INFO, "%s: listening on %s", sock_role_name(plan[i].role), what);
        }
        if (pd->running[SOCK_ROLE_CHAT_TLS] || pd->running[SOCK_ROLE_WEB_TLS])
                log_tls_creds(cf->tls.creds);
        return server_start(&pd->srv);
}

/* [cluster]: refused by the broker or a node of the same name, pichatd
 * does not start; with the broker away, it starts and keeps trying. */
static int start_cluster(struct pichatd *pd, const struct conf *cf)
{
        char err[CONF_TEXT_SIZE * 2];
        int r = cluster_start(&pd->chat.cluster, cf, &pd->chat.reg, err, sizeof(err));

        if (r < 0) {
                log_msg(LOG_ERR, "%s", err);
                return r;
        }
        if (r == CLUSTER_UNREACHABLE)
                log_msg(LOG_WARNING, "%s; serving local rooms and trying again (the node name "
                        "is checked once the broker is there only by the broker itself)", err);
        log_msg(LOG_INFO, "cluster: node %s, broker %s:%u, topics %s/1/", cf->cluster.node,
                cf->cluster.broker_host, cf->cluster.broker_port, cf->cluster.topic_prefix);
        return 0;
}

/* Each chat client holds a socket and an eventfd: make room for
 * max_clients of them if the hard limit allows, else say what will fail. */
static void raise_fd_limit(const struct conf *cf)
{
        rlim_t need = (rlim_t)cf->server.max_clients * 2 + 64;
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
                return;
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need)
                log_msg(LOG_WARNING, "open files limited to %llu; max_clients = %u needs %llu "
                        "(raise LimitNOFILE=)", (unsigned long long)rl.rlim_cur,
                        cf->server.max_clients, (unsigned long long)need);
}

/* The counters of the status line; also /status.json's, from client
 * threads: every one is an atomic or taken under its module's lock, and
 * running[] is set before any thread starts. */
static void status_counts(void *arg, struct notify_counts *c)
{
        struct pichatd *pd = arg;
        bool chat = pd->running[SOCK_ROLE_CHAT] || pd->running[SOCK_ROLE_CHAT_TLS];
        bool web = pd->running[SOCK_ROLE_WEB] || pd->running[SOCK_ROLE_WEB_TLS];

        *c = (struct notify_counts){
                .echo = pd->running[SOCK_ROLE_ECHO],
                .chat = chat,
                .udp = pd->running[SOCK_ROLE_UDP],
                .web = web,
                .echo_clients = server_clients_of(&pd->srv, &echo_service),
                .chat_clients = server_clients_of(&pd->srv, &chat_service),
                .web_clients = server_clients_of(&pd->srv, &web_service),
                .chat_rooms = chat || web ? chat_rooms(&pd->chat) : 0,
                .udp_datagrams = pd->running[SOCK_ROLE_UDP] ? udp_answered(&pd->udp) : 0,
                .daytime = pd->running[SOCK_ROLE_DAYTIME],
                .time = pd->running[SOCK_ROLE_TIME],
                .qotd = pd->running[SOCK_ROLE_QOTD],
                .daytime_requests = answer_requests(&pd->answers[0]),
                .time_requests = answer_requests(&pd->answers[1]),
                .qotd_requests = answer_requests(&pd->answers[2]),
        };
}

/* What answered once has answered, in the journal now and then. */
static void answers_report(struct pichatd *pd, int64_t now, bool final)
{
        for (int i = 0; i < ANSWER_ROLES; i++)
                if (pd->running[answer_roles[i].role])
                        answer_report(&pd->answers[i], answer_roles[i].svc, now, final);
}

static void status_line(struct pichatd *pd, char *buf, size_t size)
{
        struct notify_counts c;

        status_counts(pd, &c);
        notify_status_format(buf, size, &c, pd->problem);
}

static void supervisor_tick(struct pichatd *pd)
{
        char status[NOTIFY_STATUS_MAX];
        int64_t now = clock_now_ms(), oldest = server_oldest_beat_ms(&pd->srv);
        /* The service loops are alive if each went round recently. */
        bool alive = oldest == INT64_MAX || now - oldest < PICHAT_HEARTBEAT_STALE_MS;

        if (pd->running[SOCK_ROLE_CHAT])
                chat_tick(&pd->chat, now);
        answers_report(pd, now, false);
        cluster_tick(pd->chat.cluster, now);
        status_line(pd, status, sizeof(status));
        notify_tick(now, alive, status);
}

static void supervisor_reload(struct pichatd *pd)
{
        char problem[CONF_TEXT_SIZE + 128], status[NOTIFY_STATUS_MAX];

        log_msg(LOG_NOTICE, "SIGHUP: reloading %s", pd->config_path);
        notify_reloading();
        if (reload_config(&pd->conf, pd->config_path,
                          pd->running[SOCK_ROLE_CHAT] || pd->running[SOCK_ROLE_WEB] ?
                          &pd->chat : NULL, problem,
                          sizeof(problem)) < 0) {
                snprintf(pd->problem, sizeof(pd->problem), "reload failed: %s", problem);
        } else {
                pd->problem[0] = '\0';
                if (pd->running[SOCK_ROLE_QOTD]) {
                        struct conf *cf = conf_current(&pd->conf);
                        answer_quotes_log(cf);
                        conf_unref(cf);
                }
        }
        status_line(pd, status, sizeof(status));
        /* After a failed reload the old configuration still serves. */
        notify_ready(clock_now_ms(), status);
}

/* Wait for signals, reloading on SIGHUP, until one says stop. The timeout
 * is the supervisor's tick: status updates and the watchdog. */
static void supervise(struct pichatd *pd, const sigset_t *set)
{
        const struct timespec tick = { 0, SUPERVISOR_TICK_MS * 1000000L };

        for (;;) {
                int sig = sigtimedwait(set, NULL, &tick);

                if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
                        log_msg(LOG_NOTICE, "received %s, shutting down", strsignal(sig));
                        notify_stopping();
                        return;
                }
                if (sig == SIGHUP)
                        supervisor_reload(pd);
                supervisor_tick(pd);
        }
}

/* Classic daemon start: the parent returns only once the child is serving,
 * with the child's verdict as its exit status. */
static int daemonize(int *ready_fd)
{
        int p[2];
        char status = 1;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0) {
                close(p[1]);
                if (read(p[0], &status, 1) != 1)
                        status = 1;
                _exit(status);
        }
        close(p[0]);
        setsid();
        if (chdir("/") < 0)
                return -errno;
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                dup2(null, STDIN_FILENO);
                dup2(null, STDOUT_FILENO);
                close(null);
        }
        *ready_fd = p[1];
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, 'n' },
                { "foreground", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        const char *path = PICHAT_DEFAULT_CONFIG;
        char abspath[PATH_MAX];
        static struct pichatd pd;
        bool check_only = false, foreground = false;
        struct conf_errors errs;
        struct listen_plan plan[LISTEN_MAX * 2];
        int c, n, r, ready_fd = -1;

        while ((c = getopt_long(argc, argv, "c:nfhV", opts, NULL)) != -1) {
                switch (c) {
                case 'c': path = optarg; break;
                case 'n': check_only = true; break;
                case 'f': foreground = true; break;
                case 'h': usage(stdout); return 0;
                case 'V': printf("pichatd %s\n", PICHAT_VERSION); return 0;
                default: usage(stderr); return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "pichatd: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return EXIT_USAGE;
        }

        struct conf *cf = conf_load(path, &errs);
        if (!cf) {
                print_conf_errors(&errs);
                return EXIT_FAILURE;
        }
        if (check_only) {
                printf("configuration OK\n");
                conf_unref(cf);
                return 0;
        }
        /* A reload reads the file again after a daemon changed to "/". */
        pd.config_path = realpath(path, abspath) ? abspath : path;
        log_set_level(cf->log.level);
        if (foreground)
                log_to_journal_if_stream();
        /* main keeps its own reference: cf stays valid after a reload
         * swaps another configuration in. */
        conf_store_init(&pd.conf, conf_ref(cf));
        notify_init();
        raise_fd_limit(cf);

        /* Many client threads each touching malloc would each get an arena. */
        mallopt(M_ARENA_MAX, 2);
        signal(SIGPIPE, SIG_IGN);

        n = open_listeners(cf, plan, sizeof(plan) / sizeof(plan[0]));
        if (n < 0)
                return EXIT_FAILURE;
        if (n == 0) {
                fprintf(stderr, "pichatd: no service to run\n");
                return EXIT_FAILURE;
        }
        if (!foreground && (r = daemonize(&ready_fd)) < 0) {
                fprintf(stderr, "pichatd: cannot become a daemon: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        /* Every thread inherits this mask; only supervise() sees signals. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGQUIT);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGUSR2);
        pthread_sigmask(SIG_BLOCK, &set, NULL);

        /* From here on no thread waits for the log's destination. After
         * the fork: a thread would not survive it. */
        if ((r = log_start((size_t)cf->log.queue_kib * 1024)) < 0)
                log_msg(LOG_WARNING, "no log thread (%s): messages are written as they come",
                        strerror(-r));
        pd.web = (struct web){ .chat = &pd.chat, .counts = status_counts, .counts_arg = &pd };
        /* The daytime service's local time, read once before any thread. */
        tzset();
        for (int i = 0; i < ANSWER_ROLES; i++)
                answer_init(&pd.answers[i]);
        if ((r = server_init(&pd.srv, &pd.conf)) < 0 ||
            (udp_needed(cf) && (r = udp_init(&pd.udp, &pd.srv, &pd.conf)) < 0) ||
            (chat_needed(cf) && (r = chat_init(&pd.chat, cf)) < 0) ||
            (cf->cluster.enabled && (r = start_cluster(&pd, cf)) < 0) ||
            (r = start_services(&pd, cf, plan, n)) < 0) {
                log_msg(LOG_ERR, "cannot start: %s", strerror(-r));
                return EXIT_FAILURE;
        }
        if (pd.running[SOCK_ROLE_QOTD])
                answer_quotes_log(cf);
        log_msg(LOG_NOTICE, "pichatd %s started (config %s)", PICHAT_VERSION, path);
        /* The start-up lines in the journal before the service manager's
         * "Started", unless the journal does not read: then READY=1 waits
         * no longer than this. */
        log_flush(LOG_READY_WAIT_MS);
        /* Every listener is bound and listening: clients can connect now. */
        char status[NOTIFY_STATUS_MAX];
        status_line(&pd, status, sizeof(status));
        notify_ready(clock_now_ms(), status);
        if (ready_fd >= 0) {
                char ok = 0;
                if (write(ready_fd, &ok, 1) < 0)
                        return EXIT_FAILURE;
                close(ready_fd);
                /* Detached from the terminal: stderr would go nowhere. */
                log_to_syslog();
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0) {
                        dup2(null, STDERR_FILENO);
                        close(null);
                }
        }

        supervise(&pd, &set);
        /* What a thread still closing uses is left to the exit. */
        if (server_stop(&pd.srv) == 0) {
                answers_report(&pd, clock_now_ms(), true);
                cluster_stop(pd.chat.cluster);
                if (chat_needed(cf))
                        chat_destroy(&pd.chat);
                if (udp_needed(cf))
                        udp_destroy(&pd.udp);
                server_destroy(&pd.srv);
                conf_store_destroy(&pd.conf);
        }
        log_msg(LOG_NOTICE, "stopped");
        /* What the log does not take within the bound is lost with the
         * process: saying so would wait on the same stuck destination. */
        log_stop(PICHAT_LOG_FLUSH_MS);
        conf_unref(cf);
        return 0;
}
