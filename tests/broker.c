/* broker: a throwaway mosquitto for the [cluster] tests. */
#include "broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"

const char *pd_broker_binary(void)
{
        const char *p = getenv("PICHAT_MOSQUITTO");
        return p && *p ? p : "/usr/sbin/mosquitto";
}

/* A port nobody listens on now: bound to 0, read back, let go. */
static unsigned free_port(void)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        unsigned port = 0;

        if (fd < 0)
                return 0;
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
            getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
                port = ntohs(sa.sin_port);
        close(fd);
        return port;
}

static bool port_open(unsigned port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

        if (fd >= 0)
                close(fd);
        return ok;
}

static int spawn(struct pd_broker *b)
{
        b->pid = fork();
        if (b->pid < 0)
                return -1;
        if (b->pid == 0) {
                int log = open(b->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
                dup2(log, STDOUT_FILENO);
                dup2(log, STDERR_FILENO);
                for (int fd = 3; fd < 1024; fd++)
                        close(fd);
                execl(pd_broker_binary(), "mosquitto", "-c", b->conf_path, (char *)NULL);
                _exit(127);
        }
        /* Up once it accepts connections. */
        for (int64_t end = clock_now_ms() + 10000; clock_now_ms() < end; usleep(20000)) {
                int st;
                if (waitpid(b->pid, &st, WNOHANG) == b->pid) {
                        fprintf(stderr, "mosquitto exited at start; its log:\n");
                        char cmd[200];
                        snprintf(cmd, sizeof(cmd), "cat %s >&2", b->log_path);
                        if (system(cmd) < 0)
                                perror("system");
                        b->pid = 0;
                        return -1;
                }
                if (port_open(b->port))
                        return 0;
        }
        return -1;
}

const char *pd_broker_file(struct pd_broker *b, const char *name, const char *text)
{
        static char path[8][160];
        static unsigned next;
        char *p = path[next++ % 8];
        FILE *f;

        snprintf(p, 160, "%s/%s", b->dir, name);
        if (!(f = fopen(p, "w")))
                return NULL;
        fputs(text, f);
        fclose(f);
        chmod(p, 0644);
        return p;
}

const char *pd_broker_passwd(struct pd_broker *b, const char *name, const char *user,
                             const char *password)
{
        static char path[160];
        char cmd[512];

        snprintf(path, sizeof(path), "%s/%s", b->dir, name);
        /* mosquitto_passwd -b adds to a file that exists. */
        if (access(path, F_OK) != 0) {
                FILE *f = fopen(path, "w");
                if (!f)
                        return NULL;
                fclose(f);
        }
        snprintf(cmd, sizeof(cmd), "mosquitto_passwd -b '%s' '%s' '%s' >/dev/null 2>&1", path,
                 user, password);
        if (system(cmd) != 0)
                return NULL;
        chmod(path, 0644);
        return path;
}

int pd_broker_start(struct pd_broker *b, const char *extra)
{
        FILE *f;

        memset(b, 0, sizeof(*b));
        snprintf(b->dir, sizeof(b->dir), "/tmp/pichat-broker.XXXXXX");
        if (!mkdtemp(b->dir))
                return -1;
        /* mosquitto started as root reads its files as user mosquitto. */
        chmod(b->dir, 0755);
        snprintf(b->conf_path, sizeof(b->conf_path), "%s/mosquitto.conf", b->dir);
        snprintf(b->log_path, sizeof(b->log_path), "%s/mosquitto.log", b->dir);
        if (!(b->port = free_port()) || !(f = fopen(b->conf_path, "w")))
                return -1;
        fprintf(f, "listener %u 127.0.0.1\n"
                "persistence false\n"
                "log_dest stderr\n"
                "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
                "%s\n", b->port, extra ? extra : "allow_anonymous true\n");
        fclose(f);
        chmod(b->conf_path, 0644);
        return spawn(b);
}

int pd_broker_restart(struct pd_broker *b)
{
        return spawn(b);
}

void pd_broker_stop(struct pd_broker *b, bool cleanup)
{
        int st;

        if (b->pid > 0) {
                bool gone = false;
                kill(b->pid, SIGTERM);
                for (int i = 0; i < 500 && !gone; i++) {
                        gone = waitpid(b->pid, &st, WNOHANG) == b->pid;
                        if (!gone)
                                usleep(10000);
                }
                if (!gone) {
                        kill(b->pid, SIGKILL);
                        waitpid(b->pid, &st, 0);
                }
                b->pid = 0;
        }
        if (cleanup && b->dir[0]) {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
                if (system(cmd) < 0)
                        perror("system");
                b->dir[0] = '\0';
        }
}
