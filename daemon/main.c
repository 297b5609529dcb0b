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
#include <unistd.h>

#include "config.h"
#include "chat.h"
#include "cluster.h"
#include "conf.h"
#include "echo.h"
#include "log.h"
#include "notify.h"
#include "reload.h"
#include "server.h"
#include "sock.h"
#include "udp.h"
#include "web.h"

#define EXIT_USAGE 2
/* Listeners at most: each role on each bound address. */
#define LISTEN_MAX (PICHAT_BIND_MAX * (SOCK_ROLE_COUNT - 1))
/* Signals are waited for this long at most: the supervisor's tick. */
#define SUPERVISOR_TICK_MS 200

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

static bool role_enabled(const struct conf *cf, enum sock_role role)
{
        switch (role) {
        case SOCK_ROLE_ECHO: return cf->echo.enabled;
        case SOCK_ROLE_CHAT: return cf->chat.enabled;
        case SOCK_ROLE_UDP: return cf->udp.enabled;
        case SOCK_ROLE_WEB: return cf->web.enabled;
        default: return false;
        }
}

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
        bool have[SOCK_ROLE_COUNT] = { false };
        size_t n = 0;
        int k = sock_inherit(cf->echo.port, cf->chat.port, cf->web.port, inh, LISTEN_MAX);

        if (k < 0) {
                fprintf(stderr, "pichatd: cannot take sockets from the service manager: %s\n",
                        strerror(-k));
                return k;
        }
        for (int i = 0; i < k; i++) {
                plan[n].fd = inh[i].fd;
                plan[n].role = inh[i].role;
                have[inh[i].role] = true;
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
        };
        for (size_t w = 0; w < sizeof(wanted) / sizeof(wanted[0]); w++) {
                enum sock_role role = wanted[w].role;
                bool enabled = role_enabled(cf, role);
                unsigned port = role == SOCK_ROLE_ECHO ? cf->echo.port :
                                role == SOCK_ROLE_UDP ? cf->udp.port :
                                role == SOCK_ROLE_WEB ? cf->web.port : cf->chat.port;

                if (!enabled || have[role])
                        continue;
                for (unsigned b = 0; b < cf->server.n_bind && n < max; b++) {
                        char err[256];
                        int fd = sock_open(cf->server.bind[b], port, wanted[w].type,
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
        bool running[SOCK_ROLE_COUNT];          /* by enum sock_role */
        char problem[CONF_TEXT_SIZE + 160];     /* "reload failed: ...", or "" */
};

/* pd->running[role] is set for every service that got a listener. */
static int start_services(struct pichatd *pd, const struct conf *cf,
                          const struct listen_plan *plan, int n)
{
        for (int i = 0; i < n; i++) {
                char what[96];
                int r = 0;

                sock_describe(plan[i].fd, what, sizeof(what));
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
        bool rooms = pd->running[SOCK_ROLE_CHAT] || pd->running[SOCK_ROLE_WEB];

        *c = (struct notify_counts){
                .echo = pd->running[SOCK_ROLE_ECHO],
                .chat = pd->running[SOCK_ROLE_CHAT],
                .udp = pd->running[SOCK_ROLE_UDP],
                .web = pd->running[SOCK_ROLE_WEB],
                .echo_clients = server_clients_of(&pd->srv, &echo_service),
                .chat_clients = server_clients_of(&pd->srv, &chat_service),
                .web_clients = server_clients_of(&pd->srv, &web_service),
                .chat_rooms = rooms ? chat_rooms(&pd->chat) : 0,
                .udp_datagrams = udp_answered(&pd->udp),
        };
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
                          sizeof(problem)) < 0)
                snprintf(pd->problem, sizeof(pd->problem), "reload failed: %s", problem);
        else
                pd->problem[0] = '\0';
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

        pd.web = (struct web){ .chat = &pd.chat, .counts = status_counts, .counts_arg = &pd };
        if ((r = server_init(&pd.srv, &pd.conf)) < 0 ||
            (cf->udp.enabled && (r = udp_init(&pd.udp, &pd.srv, &pd.conf)) < 0) ||
            (chat_needed(cf) && (r = chat_init(&pd.chat, cf)) < 0) ||
            (cf->cluster.enabled && (r = start_cluster(&pd, cf)) < 0) ||
            (r = start_services(&pd, cf, plan, n)) < 0) {
                log_msg(LOG_ERR, "cannot start: %s", strerror(-r));
                return EXIT_FAILURE;
        }
        log_msg(LOG_NOTICE, "pichatd %s started (config %s)", PICHAT_VERSION, path);
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
                cluster_stop(pd.chat.cluster);
                if (chat_needed(cf))
                        chat_destroy(&pd.chat);
                if (cf->udp.enabled)
                        udp_destroy(&pd.udp);
                server_destroy(&pd.srv);
                conf_store_destroy(&pd.conf);
        }
        log_msg(LOG_NOTICE, "stopped");
        conf_unref(cf);
        return 0;
}
