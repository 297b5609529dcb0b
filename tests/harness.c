/* harness: process and socket plumbing for the integration tests. */
#include "clock.h"
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char pd_defaults[] =
        "[server]\n"
        "bind = ::\n"
        "idle_timeout_s = 60\n"
        /* Off unless a test turns it on (with a port of its own): the
         * default, 8080, is nobody's to take. */
        "[web]\n"
        "enabled = no\n"
        "[log]\n"
        "level = debug\n";

void pd_skipped(const char *fmt, ...)
{
        va_list ap;

        /* One line on stdout, which meson keeps in the test log. */
        printf("SKIPPED: ");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
}

const char *pd_binary(void)
{
        const char *p = getenv("PICHATD");
        return p && *p ? p : "pichatd";
}

void pd_exec_wrapped(const char *wrapper_var, const char *file, const char *const args[])
{
        char wrap[1024], *argv[64], *save = NULL;
        const char *w = getenv(wrapper_var);
        size_t n = 0;

        if (w && *w) {
                snprintf(wrap, sizeof(wrap), "%s", w);
                for (char *t = strtok_r(wrap, " ", &save); t && n < 32; t = strtok_r(NULL, " ", &save))
                        argv[n++] = t;
        }
        argv[n++] = (char *)file;
        for (size_t i = 1; args[i] && n < 63; i++)
                argv[n++] = (char *)args[i];
        argv[n] = NULL;
        execvp(argv[0], argv);
}

/* exec pichatd with args (args[0] is ignored), run by $PICHATD_WRAPPER
 * when it is set (meson's 'valgrind' test setup sets it). Returns only on
 * failure. */
static void exec_pichatd(const char *const args[])
{
        pd_exec_wrapped("PICHATD_WRAPPER", pd_binary(), args);
}

static unsigned bound_port(int fd)
{
        struct sockaddr_in6 sa;
        socklen_t len = sizeof(sa);
        if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
                return 0;
        return ntohs(sa.sin6_port);
}

/* [::]:port (0: any free one), dual-stack; a stream listening if asked. */
static int bind_port(int type, unsigned port, bool listening)
{
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT,
                                   .sin6_port = htons((uint16_t)port) };
        int zero = 0;
        int fd = socket(AF_INET6, type, 0);

        if (fd < 0)
                return -1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            (type == SOCK_STREAM && listening && listen(fd, SOMAXCONN) < 0)) {
                close(fd);
                return -1;
        }
        return fd;
}

static int bind_any(int type, bool listening)
{
        return bind_port(type, 0, listening);
}

void pd_write_conf(struct pd *d, const char *ini_extra)
{
        char tmp[160];
        snprintf(tmp, sizeof(tmp), "%s.tmp", d->conf_path);
        FILE *f = fopen(tmp, "w");
        if (!f)
                return;
        fputs(pd_defaults, f);
        if (ini_extra)
                fputs(ini_extra, f);
        fclose(f);
        rename(tmp, d->conf_path);
}

static int bind_unix_notify(struct pd *d)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int one = 1;
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -1;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", d->dir);
        /* Credentials let a test see which process sent a message. */
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* Where the port of the listener named name goes (NULL: extra_port). */
static unsigned *answer_port(struct pd *d, const char *name, bool udp)
{
        if (strcmp(name, "daytime") == 0)
                return udp ? &d->daytime_udp_port : &d->daytime_port;
        if (strcmp(name, "time") == 0)
                return udp ? &d->time_udp_port : &d->time_port;
        if (strcmp(name, "qotd") == 0)
                return udp ? &d->qotd_udp_port : &d->qotd_port;
        return NULL;
}

static int make_listener(const char *name, struct pd *d)
{
        size_t n = strlen(name);
        bool udp_suffix = n > 4 && strcmp(name + n - 4, "/udp") == 0;
        char base[64];
        const char *kind = strchr(name, '/');
        unsigned *port;
        int fd;

        if (strcmp(name, "unix") == 0)
                return socket(AF_UNIX, SOCK_STREAM, 0);
        if (kind && strcmp(kind, "/udp") != 0) {
                /* "NAME/dgram", "NAME/bound": a socket of the wrong kind for its name. */
                fd = strcmp(kind, "/dgram") == 0 ? bind_any(SOCK_DGRAM, false) :
                     strcmp(kind, "/bound") == 0 ? bind_any(SOCK_STREAM, false) : -1;
                if (fd >= 0)
                        d->extra_port = bound_port(fd);
                return fd;
        }
        snprintf(base, sizeof(base), "%.*s", (int)(udp_suffix ? n - 4 : n), name);
        /* A service's UDP socket on its TCP socket's port when that is
         * free, as a socket unit has them: one port in the config. */
        port = answer_port(d, base, false);
        fd = udp_suffix && port && *port ? bind_port(SOCK_DGRAM, *port, true) : -1;
        if (fd < 0)
                fd = bind_any(strcmp(name, "udp") == 0 || udp_suffix ? SOCK_DGRAM : SOCK_STREAM, true);
        if (fd < 0)
                return -1;
        if ((port = answer_port(d, base, udp_suffix)))
                *port = bound_port(fd);
        else if (strcmp(name, "echo") == 0)
                d->echo_port = bound_port(fd);
        else if (strcmp(name, "chat") == 0)
                d->chat_port = bound_port(fd);
        else if (strcmp(name, "udp") == 0)
                d->udp_port = bound_port(fd);
        else if (strcmp(name, "web") == 0)
                d->web_port = bound_port(fd);
        else if (strcmp(name, "chat-tls") == 0)
                d->chat_tls_port = bound_port(fd);
        else if (strcmp(name, "web-tls") == 0)
                d->web_tls_port = bound_port(fd);
        else
                d->extra_port = bound_port(fd);
        return fd;
}

#define PD_FDS_MAX 16

/* pd_opts.stderr_pipe: a process that copies what pichatd writes to the
 * pipe p into its log file, until the pipe's write end is closed. */
static int start_relay(struct pd *d, int p[2])
{
        if (pipe(p) < 0)
                return -1;
        /* The least a pipe holds: a stuck reader stops pichatd's writes
         * after a few dozen lines rather than a thousand. */
        fcntl(p[1], F_SETPIPE_SZ, 4096);
        d->relay_pid = fork();
        if (d->relay_pid < 0)
                return -1;
        if (d->relay_pid == 0) {
                char buf[4096];
                ssize_t n;

                /* No copy of the test's sockets may stay open here. */
                for (int fd = 3; fd < 1024; fd++)
                        if (fd != p[0])
                                close(fd);
                int log = open(d->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
                while ((n = read(p[0], buf, sizeof(buf))) != 0) {
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0 || write(log, buf, (size_t)n) != n)
                                _exit(1);
                }
                _exit(0);
        }
        close(p[0]);
        /* Made before pichatd's first line, so that log checks find it. */
        for (int i = 0; i < 200 && access(d->log_path, F_OK) < 0; i++)
                usleep(5000);
        return 0;
}

void pd_relay_pause(struct pd *d, bool pause)
{
        if (d->relay_pid > 0)
                kill(d->relay_pid, pause ? SIGSTOP : SIGCONT);
}

int pd_start_opts(struct pd *d, const char *ini_extra, const struct pd_opts *o)
{
        int fds[PD_FDS_MAX];
        int nfds = 0;
        char names[256], fdnames[256] = "";
        char *save = NULL;

        memset(d, 0, sizeof(*d));
        d->notify_fd = -1;
        d->udp_fd = -1;
        snprintf(d->dir, sizeof(d->dir), "/tmp/pichat-test.XXXXXX");
        if (!mkdtemp(d->dir))
                return -1;
        snprintf(d->conf_path, sizeof(d->conf_path), "%s/pichat.ini", d->dir);
        snprintf(d->log_path, sizeof(d->log_path), "%s/pichatd.log", d->dir);

        snprintf(names, sizeof(names), "%s", o->fdnames ? o->fdnames : "");
        for (char *n = strtok_r(names, ":", &save); n && nfds < PD_FDS_MAX;
             n = strtok_r(NULL, ":", &save)) {
                int fd = make_listener(n, d);
                if (fd < 0)
                        return -1;
                /* "daytime/udp", "chat/dgram" are passed as systemd names
                 * them: "daytime", "chat". */
                size_t len = strcspn(n, "/"), used = strlen(fdnames);
                snprintf(fdnames + used, sizeof(fdnames) - used, "%s%.*s", used ? ":" : "",
                         (int)len, n);
                if (o->keep_udp && strcmp(n, "udp") == 0)
                        d->udp_fd = fd;
                fds[nfds++] = fd;
        }
        if (o->ports_in_conf) {
                size_t size = strlen(ini_extra ? ini_extra : "") + 256;
                char *ini = malloc(size);
                if (!ini)
                        return -1;
                int n = snprintf(ini, size, "%s[echo]\nport = %u\n[chat]\nport = %u\n[udp]\nport = %u\n",
                                 ini_extra ? ini_extra : "", d->echo_port, d->chat_port,
                                 d->udp_port);
                if (d->web_port && n > 0 && (size_t)n < size)
                        n += snprintf(ini + n, size - (size_t)n, "[web]\nport = %u\n",
                                      d->web_port);
                const char *const sections[] = { "daytime", "time", "qotd" };
                const unsigned ports[] = { d->daytime_port, d->time_port, d->qotd_port };
                for (int i = 0; i < 3; i++)
                        if (ports[i] && n > 0 && (size_t)n < size)
                                n += snprintf(ini + n, size - (size_t)n, "[%s]\nport = %u\n",
                                              sections[i], ports[i]);
                if (d->chat_tls_port && n > 0 && (size_t)n < size)
                        n += snprintf(ini + n, size - (size_t)n, "[chat]\ntls_port = %u\n",
                                      d->chat_tls_port);
                if (d->web_tls_port && n > 0 && (size_t)n < size)
                        snprintf(ini + n, size - (size_t)n, "[web]\ntls_port = %u\n", d->web_tls_port);
                pd_write_conf(d, ini);
                free(ini);
        } else {
                pd_write_conf(d, ini_extra);
        }
        if (o->notify && (d->notify_fd = bind_unix_notify(d)) < 0)
                return -1;
        int err_pipe[2] = { -1, -1 };
        if (o->stderr_pipe && start_relay(d, err_pipe) < 0)
                return -1;

        d->pid = fork();
        if (d->pid < 0)
                return -1;
        if (d->pid == 0) {
                char count[16], pid[16], buf[96];
                int log = open(d->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
                int high = 100;

                /* Move the sockets out of the way before placing them at 3.. */
                for (int i = 0; i < nfds; i++)
                        fds[i] = fcntl(fds[i], F_DUPFD, high + i);
                for (int i = 0; i < nfds; i++)
                        dup2(fds[i], 3 + i);
                dup2(err_pipe[1] >= 0 ? err_pipe[1] : log, STDERR_FILENO);
                dup2(log, STDOUT_FILENO);
                for (int fd = 3 + nfds; fd < 1024; fd++)
                        close(fd);
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_PID");
                unsetenv("LISTEN_FDNAMES");
                if (nfds > 0) {
                        snprintf(count, sizeof(count), "%d", nfds);
                        snprintf(pid, sizeof(pid), "%d", (int)getpid());
                        setenv("LISTEN_FDS", count, 1);
                        setenv("LISTEN_PID", pid, 1);
                        if (!o->no_fdnames)
                                setenv("LISTEN_FDNAMES", fdnames, 1);
                }
                unsetenv("NOTIFY_SOCKET");
                if (o->notify) {
                        snprintf(buf, sizeof(buf), "%s/notify", d->dir);
                        setenv("NOTIFY_SOCKET", buf, 1);
                }
                unsetenv("WATCHDOG_USEC");
                unsetenv("WATCHDOG_PID");
                if (o->watchdog_usec) {
                        snprintf(buf, sizeof(buf), "%llu", o->watchdog_usec);
                        setenv("WATCHDOG_USEC", buf, 1);
                        snprintf(buf, sizeof(buf), "%d",
                                 (int)(o->watchdog_pid_other ? getppid() : getpid()));
                        setenv("WATCHDOG_PID", buf, 1);
                }
                unsetenv("JOURNAL_STREAM");
                if (o->journal_stream || o->journal_stream_other) {
                        struct stat st;
                        int r = o->journal_stream ? fstat(STDERR_FILENO, &st) :
                                                    stat(d->conf_path, &st);
                        if (r == 0) {
                                snprintf(buf, sizeof(buf), "%llu:%llu",
                                         (unsigned long long)st.st_dev,
                                         (unsigned long long)st.st_ino);
                                setenv("JOURNAL_STREAM", buf, 1);
                        }
                }
                const char *const args[] = { "pichatd", "--foreground", "-c", d->conf_path, NULL };
                exec_pichatd(args);
                _exit(127);
        }
        for (int i = 0; i < nfds; i++)
                if (fds[i] != d->udp_fd)
                        close(fds[i]);
        if (err_pipe[1] >= 0)
                close(err_pipe[1]);     /* the relay ends when pichatd does */
        if (o->no_wait)
                return 0;
        /* The listeners exist already, so clients may connect at once; wait
         * for the start-up line so log checks see a running daemon. */
        if (!pd_log_wait(d, "started", 10000)) {
                fprintf(stderr, "pichatd did not start\n");
                pd_stop(d);     /* shows the log, removes the directory */
                return -1;
        }
        if (!o->fdnames && pd_ports_from_log(d) == 0) {
                pd_stop(d);
                return -1;
        }
        return 0;
}

int pd_start_with(struct pd *d, const char *ini_extra, const char *fdnames)
{
        struct pd_opts o = { .fdnames = fdnames };
        return pd_start_opts(d, ini_extra, &o);
}

int pd_start(struct pd *d, const char *ini_extra)
{
        return pd_start_with(d, ini_extra, "echo:chat:udp");
}

int pd_ports_from_log(struct pd *d)
{
        static const char *const roles[] = { "echo", "chat", "udp", "web", "chat-tls", "web-tls",
                                             "daytime", "time", "qotd", "daytime", "time",
                                             "qotd" };
        /* For each role, the line's protocol it is read from. */
        static const char *const proto[] = { "/tcp", "/tcp", "/udp", "/tcp", "/tcp", "/tcp",
                                             "/tcp", "/tcp", "/tcp", "/udp", "/udp", "/udp" };
        unsigned *ports[] = { &d->echo_port, &d->chat_port, &d->udp_port, &d->web_port,
                              &d->chat_tls_port, &d->web_tls_port,
                              &d->daytime_port, &d->time_port, &d->qotd_port,
                              &d->daytime_udp_port, &d->time_udp_port, &d->qotd_udp_port };
        FILE *f = fopen(d->log_path, "r");
        char line[4096];
        int found = 0;

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
                        char key[32];
                        snprintf(key, sizeof(key), "%s: listening on ", roles[i]);
                        char *p = strstr(line, key);
                        /* "time: " is also the end of "daytime: ". */
                        while (p && p > line && p[-1] >= 'a' && p[-1] <= 'z')
                                p = strstr(p + 1, key);
                        char *colon = p ? strrchr(p, ':') : NULL;
                        if (colon && strstr(colon, proto[i]) &&
                            sscanf(colon + 1, "%u", ports[i]) == 1)
                                found++;
                }
        }
        fclose(f);
        return found;
}

void pd_signal(struct pd *d, int sig)
{
        if (d->pid > 0)
                kill(d->pid, sig);
}

bool pd_running(struct pd *d)
{
        int status;

        return d->pid > 0 && waitpid(d->pid, &status, WNOHANG) == 0;
}

/* The number after "key:" in /proc/PID/status. */
static long proc_status(pid_t pid, const char *key)
{
        char path[64], line[256];
        size_t n = strlen(key);
        long v = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        if (!(f = fopen(path, "r")))
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, n) == 0 && line[n] == ':') {
                        v = strtol(line + n + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

long pd_proc_threads(pid_t pid)
{
        return proc_status(pid, "Threads");
}

long pd_proc_rss_kib(pid_t pid)
{
        return proc_status(pid, "VmRSS");
}

long pd_proc_fds(pid_t pid)
{
        char path[64];
        struct dirent *e;
        long n = 0;
        DIR *dir;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
        if (!(dir = opendir(path)))
                return -1;
        while ((e = readdir(dir)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(dir);
        return n;
}

long pd_proc_cpu_ticks(pid_t pid)
{
        char path[64], buf[1024], *p;
        unsigned long utime, stime;
        FILE *f;
        size_t n;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (!(f = fopen(path, "r")))
                return -1;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* Fields after the command name, which may hold spaces: state is
         * field 3, utime 14 and stime 15. */
        if (!(p = strrchr(buf, ')')) ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                   &utime, &stime) != 2)
                return -1;
        return (long)(utime + stime);
}

int pd_wait_pid(pid_t pid, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                if (r < 0)
                        return -1;
                if (clock_now_ms() > end) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        return -1;
                }
                usleep(5000);
        }
}

int pd_wait_exit(struct pd *d, int timeout_ms)
{
        int r = -1;

        if (d->pid > 0) {
                r = pd_wait_pid(d->pid, timeout_ms);
                d->pid = 0;
        }
        return r;
}

int pd_stop(struct pd *d)
{
        int r = -1;
        char cmd[320];

        if (d->pid > 0) {
                kill(d->pid, SIGTERM);
                r = pd_wait_pid(d->pid, 5000);
                d->pid = 0;
        }
        if (d->relay_pid > 0) {
                /* pichatd is gone: the relay reads what is left and ends. */
                kill(d->relay_pid, SIGCONT);
                pd_wait_pid(d->relay_pid, 5000);
                d->relay_pid = 0;
        }
        if (d->notify_fd >= 0) {
                close(d->notify_fd);
                d->notify_fd = -1;
        }
        if (d->udp_fd >= 0) {
                close(d->udp_fd);
                d->udp_fd = -1;
        }
        if (r != 0 && d->log_path[0]) {
                snprintf(cmd, sizeof(cmd), "echo '--- pichatd log:' >&2; cat %s >&2", d->log_path);
                if (system(cmd) < 0)
                        perror("system");
        }
        if (d->dir[0]) {
                snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
                if (system(cmd) < 0)
                        perror("system");
                d->dir[0] = '\0';
        }
        return r;
}

int pd_log_count(struct pd *d, const char *needle)
{
        FILE *f = fopen(d->log_path, "r");
        char line[4096];
        int n = 0;

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (strstr(line, needle))
                        n++;
        fclose(f);
        return n;
}

bool pd_log_wait_count(struct pd *d, const char *needle, int n, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;

        do {
                if (pd_log_count(d, needle) >= n)
                        return true;
                usleep(10000);
        } while (clock_now_ms() < end);
        return false;
}

int pd_log_count_when(struct pd *d, const char *needle, int n)
{
        pd_log_wait_count(d, needle, n, 5000);
        return pd_log_count(d, needle);
}

bool pd_log_wait(struct pd *d, const char *needle, int timeout_ms)
{
        return pd_log_wait_count(d, needle, 1, timeout_ms);
}

int pd_run(const char *const argv[], char *out, size_t outsize, int timeout_ms)
{
        int p[2];
        pid_t pid;
        size_t len = 0;
        long long end = clock_now_ms() + timeout_ms;

        if (pipe(p) < 0)
                return -1;
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                dup2(p[1], STDOUT_FILENO);
                dup2(p[1], STDERR_FILENO);
                close(p[0]);
                close(p[1]);
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_PID");
                unsetenv("LISTEN_FDNAMES");
                exec_pichatd(argv);
                _exit(127);
        }
        close(p[1]);
        for (;;) {
                struct pollfd pfd = { .fd = p[0], .events = POLLIN };
                long long left = end - clock_now_ms();
                if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
                        break;
                ssize_t n = read(p[0], out + len, outsize - 1 - len);
                if (n <= 0)
                        break;
                len += (size_t)n;
                if (len == outsize - 1)
                        break;
        }
        out[len] = '\0';
        close(p[0]);
        return pd_wait_pid(pid, (int)(end - clock_now_ms() > 0 ? end - clock_now_ms() : 1));
}

int pd_connect(struct pd_client *c, unsigned port, int family)
{
        return pd_connect_rcvbuf(c, port, family, 0);
}

int pd_connect_rcvbuf(struct pd_client *c, unsigned port, int family, int rcvbuf)
{
        struct sockaddr_storage ss;
        socklen_t len;

        memset(&ss, 0, sizeof(ss));
        c->len = 0;
        if (family == AF_INET6) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
                in6->sin6_family = AF_INET6;
                in6->sin6_addr = in6addr_loopback;
                in6->sin6_port = htons((uint16_t)port);
                len = sizeof(*in6);
        } else {
                struct sockaddr_in *in = (struct sockaddr_in *)&ss;
                in->sin_family = AF_INET;
                in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                in->sin_port = htons((uint16_t)port);
                len = sizeof(*in);
        }
        c->tls = NULL;
        c->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return -1;
        if (rcvbuf > 0)
                setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        if (connect(c->fd, (struct sockaddr *)&ss, len) < 0) {
                close(c->fd);
                c->fd = -1;
                return -1;
        }
        return 0;
}

socklen_t pd_sockaddr(const char *ip, unsigned port, struct sockaddr_storage *ss)
{
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

        memset(ss, 0, sizeof(*ss));
        if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t)port);
                return sizeof(*in);
        }
        if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t)port);
                return sizeof(*in6);
        }
        return 0;
}

/* A socket of src's family bound to src:src_port, and the loopback
 * address of that family at port in *to: the fd or -1. */
static int socket_from(const char *src, unsigned src_port, int type, unsigned port,
                       struct sockaddr_storage *to, socklen_t *tolen)
{
        struct sockaddr_storage me;
        socklen_t len = pd_sockaddr(src, src_port, &me);
        int one = 1, fd;

        if (len == 0)
                return -1;
        *tolen = pd_sockaddr(me.ss_family == AF_INET6 ? "::1" : "127.0.0.1", port, to);
        fd = socket(me.ss_family, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&me, len) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

int pd_connect_from(struct pd_client *c, const char *src, unsigned port)
{
        struct sockaddr_storage to;
        socklen_t len;

        c->len = 0;
        c->tls = NULL;
        c->fd = socket_from(src, 0, SOCK_STREAM, port, &to, &len);
        if (c->fd < 0)
                return -1;
        if (connect(c->fd, (struct sockaddr *)&to, len) < 0) {
                close(c->fd);
                c->fd = -1;
                return -1;
        }
        return 0;
}

void pd_close(struct pd_client *c)
{
        if (c->tls)
                gnutls_deinit(c->tls);
        c->tls = NULL;
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
}

int pd_send_raw(struct pd_client *c, const void *data, size_t len)
{
        const char *p = data;
        while (len > 0) {
                ssize_t n = c->tls ? gnutls_record_send(c->tls, p, len) :
                                     send(c->fd, p, len, MSG_NOSIGNAL);
                if (c->tls && n == GNUTLS_E_AGAIN)
                        continue;
                if (c->tls && n < 0)
                        return -1;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int pd_send(struct pd_client *c, const char *s)
{
        return pd_send_raw(c, s, strlen(s));
}

/* Wait for more input: 1 read something, 0 timeout, -2 EOF or error. */
static int fill(struct pd_client *c, long long end)
{
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
        long long left = end - clock_now_ms();

        if (c->len == sizeof(c->buf))
                return -2;
        if (left < 0)
                left = 0;
        if (c->tls && gnutls_record_check_pending(c->tls) > 0)
                left = 0;
        else if (poll(&pfd, 1, (int)left) <= 0)
                return 0;
        ssize_t n;
        if (c->tls) {
                /* A record can end inside a read: what is not a whole
                 * record yet comes with the next poll. */
                n = gnutls_record_recv(c->tls, c->buf + c->len, sizeof(c->buf) - c->len);
                if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
                        return end - clock_now_ms() > 0 ? fill(c, end) : 0;
        } else {
                n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
        }
        if (n <= 0)
                return -2;
        c->len += (size_t)n;
        return 1;
}

int pd_line(struct pd_client *c, char *buf, size_t size, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;

        for (;;) {
                char *nl = memchr(c->buf, '\n', c->len);
                if (nl) {
                        size_t n = (size_t)(nl - c->buf);
                        size_t keep = n > 0 && c->buf[n - 1] == '\r' ? n - 1 : n;
                        if (keep >= size)
                                keep = size - 1;
                        memcpy(buf, c->buf, keep);
                        buf[keep] = '\0';
                        c->len -= n + 1;
                        memmove(c->buf, nl + 1, c->len);
                        return (int)keep;
                }
                int r = fill(c, end);
                if (r == 0)
                        return -1;
                if (r < 0)
                        return -2;
        }
}

bool pd_expect(struct pd_client *c, const char *expected, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;
        char line[8192];

        for (;;) {
                long long left = end - clock_now_ms();
                int r = pd_line(c, line, sizeof(line), left > 0 ? (int)left : 0);
                if (r < 0) {
                        fprintf(stderr, "expected '%s', got %s\n", expected,
                                r == -1 ? "timeout" : "EOF");
                        return false;
                }
                if (strcmp(line, expected) == 0)
                        return true;
                fprintf(stderr, "(skipping '%s' while waiting for '%s')\n", line, expected);
        }
}

bool pd_expect_next(struct pd_client *c, const char *expected, int timeout_ms)
{
        char line[8192];
        int r = pd_line(c, line, sizeof(line), timeout_ms);

        if (r < 0) {
                fprintf(stderr, "expected '%s', got %s\n", expected, r == -1 ? "timeout" : "EOF");
                return false;
        }
        if (strcmp(line, expected) != 0) {
                fprintf(stderr, "expected '%s', got '%s'\n", expected, line);
                return false;
        }
        return true;
}

bool pd_wait_closed(struct pd_client *c, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;

        for (;;) {
                c->len = 0;
                int r = fill(c, end);
                if (r < 0)
                        return true;
                if (r == 0)
                        return false;
        }
}

bool pd_quiet(struct pd_client *c, int timeout_ms)
{
        size_t before = c->len;
        long long end = clock_now_ms() + timeout_ms;

        while (clock_now_ms() < end) {
                int r = fill(c, end);
                if (r != 0 || c->len != before)
                        return false;
        }
        return c->len == before;
}

bool pd_closed_silently(struct pd_client *c, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;
        size_t before = c->len;

        for (;;) {
                int r = fill(c, end);
                if (r < 0)
                        return c->len == before;
                if (r == 0 || c->len != before)
                        return false;
        }
}

/* ---- TLS ------------------------------------------------------------------ */

int pd_tls_certs(char *dir, size_t size)
{
        const char *script = getenv("PICHAT_TLS_CERTS");
        char cmd[512];

        snprintf(dir, size, "/tmp/pichat-pki.XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        snprintf(cmd, sizeof(cmd), "'%s' '%s'", script && *script ? script : "tests/tls/make-certs",
                 dir);
        if (system(cmd) != 0) {
                fprintf(stderr, "%s failed\n", cmd);
                pd_tls_remove(dir);
                return -1;
        }
        return 0;
}

void pd_tls_remove(const char *dir)
{
        char cmd[256];

        if (strncmp(dir, "/tmp/pichat-pki.", 16) != 0)
                return;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", dir);
}

int pd_tls_start(struct pd_client *c, const char *cafile, const char *host, int timeout_ms)
{
        static gnutls_certificate_credentials_t cred[8];
        static char cafiles[8][256];
        gnutls_session_t s;
        int r, slot = -1;

        /* One set of credentials per CA file, for the test's life. */
        for (int i = 0; i < 8 && slot < 0; i++) {
                if (cred[i] && strcmp(cafiles[i], cafile ? cafile : "") == 0)
                        slot = i;
                else if (!cred[i]) {
                        if (gnutls_certificate_allocate_credentials(&cred[i]) < 0)
                                return -1;
                        if (cafile && gnutls_certificate_set_x509_trust_file(cred[i], cafile,
                                                                            GNUTLS_X509_FMT_PEM) <= 0)
                                return -1;
                        snprintf(cafiles[i], sizeof(cafiles[i]), "%s", cafile ? cafile : "");
                        slot = i;
                }
        }
        if (slot < 0 || gnutls_init(&s, GNUTLS_CLIENT) < 0)
                return -1;
        gnutls_set_default_priority(s);
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred[slot]);
        gnutls_server_name_set(s, GNUTLS_NAME_DNS, host, strlen(host));
        if (cafile)
                gnutls_session_set_verify_cert(s, host, 0);
        gnutls_transport_set_int(s, c->fd);
        gnutls_handshake_set_timeout(s, (unsigned)timeout_ms);
        do
                r = gnutls_handshake(s);
        while (r < 0 && !gnutls_error_is_fatal(r));
        if (r < 0) {
                fprintf(stderr, "TLS handshake: %s\n", gnutls_strerror(r));
                gnutls_deinit(s);
                return -1;
        }
        c->tls = s;
        c->len = 0;
        return 0;
}

int pd_tls_connect(struct pd_client *c, unsigned port, const char *cafile)
{
        if (pd_connect(c, port, AF_INET) < 0)
                return -1;
        if (pd_tls_start(c, cafile, "localhost", 10000) < 0) {
                pd_close(c);
                return -1;
        }
        return 0;
}

int pd_tls_serial(struct pd_client *c)
{
        unsigned n = 0;
        const gnutls_datum_t *certs = c->tls ? gnutls_certificate_get_peers(c->tls, &n) : NULL;
        gnutls_x509_crt_t crt;
        unsigned char serial[40];
        size_t len = sizeof(serial);
        int r = -1;

        if (!certs || n == 0 || gnutls_x509_crt_init(&crt) < 0)
                return -1;
        if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
            gnutls_x509_crt_get_serial(crt, serial, &len) == 0 && len > 0)
                r = serial[len - 1];
        gnutls_x509_crt_deinit(crt);
        return r;
}

int pd_tls_key_update(struct pd_client *c, bool ask_peer)
{
        int r;

        do
                r = gnutls_session_key_update(c->tls, ask_peer ? GNUTLS_KU_PEER : 0);
        while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
        return r < 0 ? -1 : 0;
}

const char *pd_tls_version(struct pd_client *c)
{
        const char *v = c->tls ? gnutls_protocol_get_name(gnutls_protocol_get_version(c->tls)) : NULL;

        return v ? v : "";
}

/* Send one datagram on fd to to, and wait for one reply. */
static int udp_exchange_fd(int fd, const struct sockaddr_storage *to, socklen_t tolen,
                           const void *data, size_t len, char *reply, size_t size,
                           int timeout_ms)
{
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int r = -1;

        if (sendto(fd, data, len, 0, (const struct sockaddr *)to, tolen) < 0)
                return -1;
        if (poll(&pfd, 1, timeout_ms) == 1) {
                ssize_t n = recv(fd, reply, size - 1, 0);
                if (n >= 0) {
                        reply[n] = '\0';
                        r = (int)n;
                }
        }
        return r;
}

int pd_udp_exchange_from(const char *src, unsigned src_port, unsigned port, const void *data,
                         size_t len, char *reply, size_t size, int timeout_ms)
{
        struct sockaddr_storage to;
        socklen_t tolen;
        int fd = socket_from(src, src_port, SOCK_DGRAM, port, &to, &tolen);
        int r;

        if (fd < 0)
                return -1;
        r = udp_exchange_fd(fd, &to, tolen, data, len, reply, size, timeout_ms);
        close(fd);
        return r;
}

int pd_udp_exchange(int family, unsigned port, const void *data, size_t len,
                    char *reply, size_t size, int timeout_ms)
{
        struct sockaddr_storage ss;
        socklen_t slen;
        int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -1;
        memset(&ss, 0, sizeof(ss));
        if (family == AF_INET6) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
                in6->sin6_family = AF_INET6;
                in6->sin6_addr = in6addr_loopback;
                in6->sin6_port = htons((uint16_t)port);
                slen = sizeof(*in6);
        } else {
                struct sockaddr_in *in = (struct sockaddr_in *)&ss;
                in->sin_family = AF_INET;
                in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                in->sin_port = htons((uint16_t)port);
                slen = sizeof(*in);
        }
        if (sendto(fd, data, len, 0, (struct sockaddr *)&ss, slen) < 0) {
                close(fd);
                return -1;
        }
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int r = -1;
        if (poll(&pfd, 1, timeout_ms) == 1) {
                ssize_t n = recv(fd, reply, size - 1, 0);
                if (n >= 0) {
                        reply[n] = '\0';
                        r = (int)n;
                }
        }
        close(fd);
        return r;
}

int pd_notify_next(struct pd *d, char *buf, size_t size, int timeout_ms)
{
        struct pollfd pfd = { .fd = d->notify_fd, .events = POLLIN };

        if (d->notify_fd < 0 || poll(&pfd, 1, timeout_ms) != 1)
                return -1;
        ssize_t n = recv(d->notify_fd, buf, size - 1, MSG_DONTWAIT);
        if (n < 0)
                return -1;
        buf[n] = '\0';
        return (int)n;
}

static bool has_line(const char *msg, const char *field)
{
        size_t len = strlen(field);
        bool prefix = len > 0 && field[len - 1] == '=';

        for (const char *p = msg; *p;) {
                const char *nl = strchr(p, '\n');
                size_t l = nl ? (size_t)(nl - p) : strlen(p);
                if ((prefix ? l >= len : l == len) && strncmp(p, field, len) == 0)
                        return true;
                if (!nl)
                        break;
                p = nl + 1;
        }
        return false;
}

bool pd_notify_wait(struct pd *d, const char *field, char *buf, size_t size, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;

        for (;;) {
                long long left = end - clock_now_ms();
                if (left < 0 || pd_notify_next(d, buf, size, (int)left) < 0)
                        return false;
                if (has_line(buf, field))
                        return true;
        }
}

bool pd_notify_field(const char *msg, const char *name, char *out, size_t size)
{
        size_t len = strlen(name);

        for (const char *p = msg; *p;) {
                const char *nl = strchr(p, '\n');
                size_t l = nl ? (size_t)(nl - p) : strlen(p);
                if (l > len && strncmp(p, name, len) == 0 && p[len] == '=') {
                        snprintf(out, size, "%.*s", (int)(l - len - 1), p + len + 1);
                        return true;
                }
                if (!nl)
                        break;
                p = nl + 1;
        }
        return false;
}

int pd_netns_private(const char *const addrs[], char *why, size_t size)
{
        char cmd[256];

        if (unshare(CLONE_NEWNET) < 0) {
                snprintf(why, size, "cannot make a network namespace: %s", strerror(errno));
                return -1;
        }
        if (system("ip link set lo up") != 0) {
                snprintf(why, size, "ip link set lo up failed (iproute2 missing?)");
                return -1;
        }
        for (size_t i = 0; addrs && addrs[i]; i++) {
                snprintf(cmd, sizeof(cmd), "ip addr add %s dev lo%s", addrs[i],
                         strchr(addrs[i], ':') ? " nodad" : "");
                if (system(cmd) != 0) {
                        snprintf(why, size, "'%s' failed", cmd);
                        return -1;
                }
        }
        return 0;
}

const char *pd_hear(int fd, const char *want, char *buf, size_t size, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;
        size_t n = 0;

        buf[0] = '\0';
        while (!strstr(buf, want) && clock_now_ms() < end) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, 50) <= 0)
                        continue;
                ssize_t k = recv(fd, buf + n, size - 1 - n, MSG_DONTWAIT);
                if (k <= 0)
                        break;
                n += (size_t)k;
                buf[n] = '\0';
        }
        return buf;
}

long pd_thread_ticks(const char *name)
{
        DIR *d = opendir("/proc/self/task");
        struct dirent *e;
        long ticks = 0;

        if (!d)
                return -1;
        while ((e = readdir(d))) {
                char path[300], comm[64] = "", stat[1024];
                FILE *f;

                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
                if ((f = fopen(path, "r"))) {
                        if (fgets(comm, sizeof(comm), f))
                                comm[strcspn(comm, "\n")] = '\0';
                        fclose(f);
                }
                if (strcmp(comm, name) != 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
                if (!(f = fopen(path, "r")))
                        continue;
                if (fgets(stat, sizeof(stat), f)) {
                        /* utime and stime are fields 14 and 15, after ")". */
                        const char *p = strrchr(stat, ')');
                        unsigned long ut = 0, st = 0;
                        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                                        &ut, &st) == 2)
                                ticks += (long)(ut + st);
                }
                fclose(f);
        }
        closedir(d);
        return ticks;
}
