/* server: accept threads, client thread creation, limits and shutdown. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "log.h"

#define SERVER_LISTENERS_MAX 32

struct listener {
        int fd;
        const struct service *svc;
        /* clock_now_ms() of the accept loop's last turn, for the watchdog. */
        _Atomic int64_t beat_ms;
};

/* Clients per service, for the status line. */
struct svc_count {
        const struct service *svc;
        atomic_uint clients;
};

static struct {
        struct slots slots;
        int stop_pipe[2];
        atomic_bool stopping;
        struct listener listeners[SERVER_LISTENERS_MAX];
        unsigned n_listeners;
        struct svc_count counts[SERVER_LISTENERS_MAX];
        unsigned n_counts;
        /* Threads still running (clients, accept, UDP), for the shutdown
         * wait, and the sockets threads sleep reading (server_sleeper_add). */
        pthread_mutex_t lock;
        pthread_cond_t done;
        unsigned running;
        struct server_sleeper *sleepers;
} srv = { .stop_pipe = { -1, -1 } };

/* Only interrupts: SERVER_WAKE_SIGNAL exists to end a blocking read. */
static void server_wake_handler(int sig)
{
        (void)sig;
}

/* Block (SIG_BLOCK) or take (SIG_UNBLOCK) SERVER_WAKE_SIGNAL in the
 * calling thread. */
static void server_wake_mask(int how)
{
        sigset_t wake;

        sigemptyset(&wake);
        sigaddset(&wake, SERVER_WAKE_SIGNAL);
        pthread_sigmask(how, &wake, NULL);
}

int server_init(void)
{
        struct sigaction sa = { .sa_handler = server_wake_handler };

        /* Blocked here, so in every thread started from now on but those
         * that list themselves with server_sleeper_add_self(). No
         * SA_RESTART: the read must return. */
        sigemptyset(&sa.sa_mask);
        if (sigaction(SERVER_WAKE_SIGNAL, &sa, NULL) < 0)
                return -errno;
        server_wake_mask(SIG_BLOCK);
        slots_init(&srv.slots);
        pthread_mutex_init(&srv.lock, NULL);
        pthread_cond_init(&srv.done, NULL);
        if (pipe2(srv.stop_pipe, O_CLOEXEC) < 0)
                return -errno;
        return 0;
}

int server_stop_fd(void)
{
        return srv.stop_pipe[0];
}

bool server_stopping(void)
{
        return atomic_load(&srv.stopping);
}

unsigned server_clients(void)
{
        return slots_total(&srv.slots);
}

/* The table is filled before any thread starts and never changes after. */
static struct svc_count *count_of(const struct service *svc)
{
        for (unsigned i = 0; i < srv.n_counts; i++)
                if (srv.counts[i].svc == svc)
                        return &srv.counts[i];
        return NULL;
}

unsigned server_clients_of(const struct service *svc)
{
        struct svc_count *sc = count_of(svc);
        return sc ? atomic_load(&sc->clients) : 0;
}

int server_add_listener(int fd, const struct service *svc)
{
        if (srv.n_listeners == SERVER_LISTENERS_MAX)
                return -ENOSPC;
        srv.listeners[srv.n_listeners].fd = fd;
        srv.listeners[srv.n_listeners].svc = svc;
        atomic_init(&srv.listeners[srv.n_listeners].beat_ms, clock_now_ms());
        srv.n_listeners++;
        if (!count_of(svc)) {
                srv.counts[srv.n_counts].svc = svc;
                atomic_init(&srv.counts[srv.n_counts].clients, 0);
                srv.n_counts++;
        }
        return 0;
}

int64_t server_oldest_beat_ms(void)
{
        int64_t oldest = INT64_MAX;

        for (unsigned i = 0; i < srv.n_listeners; i++) {
                int64_t b = atomic_load(&srv.listeners[i].beat_ms);
                if (b < oldest)
                        oldest = b;
        }
        return oldest;
}

static size_t server_stack_size(void)
{
        struct conf *c = conf_current();
        size_t size = (c ? c->server.thread_stack_kib : 64) * 1024;
        long min = sysconf(_SC_THREAD_STACK_MIN);
        static atomic_bool told;

        conf_unref(c);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        if (size < PICHAT_STACK_KIB_SANITIZED * 1024)
                size = PICHAT_STACK_KIB_SANITIZED * 1024;
#endif
        /* Some platforms refuse stacks below their minimum (glibc's is
         * 128 KiB on arm64, for kernels with 64 KiB pages): use it rather
         * than refuse every client. Not a warning: the default config
         * asks for 64 on every Pi, and only the pages a thread touches
         * cost memory, not the size reserved. */
        if (min > 0 && size < (size_t)min) {
                if (!atomic_exchange(&told, true))
                        log_msg(LOG_INFO, "thread stacks of %ld KiB, this system's minimum "
                                "(thread_stack_kib = %zu)", min / 1024, size / 1024);
                size = (size_t)min;
        }
        return size;
}

int server_spawn(void *(*fn)(void *), void *arg)
{
        pthread_attr_t attr;
        pthread_t t;
        int r;

        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        /* No guard page beyond the one glibc adds: the stack is the budget. */
        r = pthread_attr_setstacksize(&attr, server_stack_size());
        if (r == 0)
                r = pthread_create(&t, &attr, fn, arg);
        pthread_attr_destroy(&attr);
        return -r;
}

int server_spawn_counted(void *(*fn)(void *), void *arg)
{
        pthread_mutex_lock(&srv.lock);
        srv.running++;
        pthread_mutex_unlock(&srv.lock);
        int r = server_spawn(fn, arg);
        if (r < 0)
                server_thread_done();
        return r;
}

void server_thread_done(void)
{
        pthread_mutex_lock(&srv.lock);
        srv.running--;
        pthread_cond_broadcast(&srv.done);
        pthread_mutex_unlock(&srv.lock);
}

static void *client_thread(void *arg)
{
        conn_run(arg);
        return NULL;
}

static void sleeper_link(struct server_sleeper *s)
{
        pthread_mutex_lock(&srv.lock);
        s->listed = true;
        s->prev = NULL;
        s->next = srv.sleepers;
        if (srv.sleepers)
                srv.sleepers->prev = s;
        srv.sleepers = s;
        pthread_mutex_unlock(&srv.lock);
}

void server_sleeper_add(struct server_sleeper *s, int fd)
{
        s->fd = fd;
        sleeper_link(s);
}

void server_sleeper_add_self(struct server_sleeper *s)
{
        server_wake_mask(SIG_UNBLOCK);
        s->fd = -1;
        s->thread = pthread_self();
        sleeper_link(s);
}

void server_sleeper_del(struct server_sleeper *s)
{
        pthread_mutex_lock(&srv.lock);
        if (s->listed) {
                if (s->prev)
                        s->prev->next = s->next;
                else
                        srv.sleepers = s->next;
                if (s->next)
                        s->next->prev = s->prev;
                s->prev = s->next = NULL;
                s->listed = false;
        }
        pthread_mutex_unlock(&srv.lock);
}

void server_conn_done(struct conn *c)
{
        struct svc_count *sc = count_of(c->svc);

        if (sc)
                atomic_fetch_sub(&sc->clients, 1);
        slots_release(&srv.slots, &c->key);
        server_thread_done();
}

static void refuse(int fd, const char *peer, const struct service *svc, const char *why)
{
        static const char full[] = "server full, try again later\r\n";
        struct log_ctx ctx = { .service = svc->name, .peer = peer };
        ssize_t w = send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);

        (void)w;
        log_ctx(LOG_NOTICE, &ctx, "refused %s: %s", peer, why);
        close(fd);
}

bool server_access(const struct conf *cf, const char *service, const struct sockaddr *sa,
                   bool log_allowed)
{
        struct addr_key k;
        char peer[ADDR_STR_MAX];
        int r;

        addr_key_from(sa, &k);
        r = acl_check(&cf->access.allow, &cf->access.deny, &k);
        if (log_get_level() < LOG_DEBUG || (r == ACL_ALLOWED && !log_allowed))
                return r == ACL_ALLOWED;
        if (r == ACL_ALLOWED && cf->access.allow.n == 0 && cf->access.deny.n == 0)
                return true;    /* no lists: nothing was decided */
        addr_format(sa, peer, sizeof(peer));
        log_msg(LOG_DEBUG, "%s: access %s for %s%s", service,
                r == ACL_ALLOWED ? "allowed" : "denied", peer,
                r == ACL_DENIED ? " (in [access] deny)" :
                r == ACL_NOT_ALLOWED ? " (not in [access] allow)" : "");
        return r == ACL_ALLOWED;
}

static void accept_one(struct listener *l, int fd, const struct sockaddr *sa)
{
        struct conf *cf = conf_current();
        struct conn *c;
        int r;

        /* Before anything is spent on it: no thread, no slot, no reply. */
        if (!server_access(cf, l->svc->name, sa, true)) {
                conf_unref(cf);
                close(fd);
                return;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                conf_unref(cf);
                close(fd);
                return;
        }
        c->fd = fd;
        c->wake_fd = -1;
        c->svc = l->svc;
        c->conf = cf;
        addr_key_from(sa, &c->key);
        addr_format(sa, c->peer, sizeof(c->peer));
        telnet_init(&c->tn);

        r = slots_acquire(&srv.slots, &c->key, cf->server.max_clients,
                          cf->server.max_clients_per_ip);
        if (r != SLOTS_OK) {
                refuse(fd, c->peer, l->svc,
                       r == SLOTS_FULL ? "max_clients reached" :
                       r == SLOTS_ADDR_FULL ? "max_clients_per_ip reached" : "out of memory");
                conf_unref(cf);
                free(c);
                return;
        }
        if (line_init(&c->ls, cf->server.max_line_bytes) < 0) {
                slots_release(&srv.slots, &c->key);
                refuse(fd, c->peer, l->svc, "out of memory");
                conf_unref(cf);
                free(c);
                return;
        }
        /* Every write is whole lines, often a single one: Nagle's
         * algorithm would hold one back behind an unacknowledged one,
         * for up to the peer's delayed-ACK time (40 ms). */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct svc_count *sc = count_of(l->svc);
        if (sc)
                atomic_fetch_add(&sc->clients, 1);
        /* Listed before its thread runs: server_stop() sets stopping
         * before it walks the list, so a client either is on it or sees
         * stopping when its thread starts. */
        c->blocking = conn_can_block(l->svc);
        if (c->blocking)
                server_sleeper_add(&c->sleeper, fd);
        r = server_spawn_counted(client_thread, c);
        if (r < 0) {
                server_sleeper_del(&c->sleeper);
                if (sc)
                        atomic_fetch_sub(&sc->clients, 1);
                slots_release(&srv.slots, &c->key);
                refuse(fd, c->peer, l->svc, strerror(-r));
                line_free(&c->ls);
                conf_unref(cf);
                free(c);
        }
}

static void *accept_thread(void *arg)
{
        struct listener *l = arg;
        int64_t last_warn = 0;
        char name[16];

        /* Named for top -H and for the tests that stop one loop. */
        snprintf(name, sizeof(name), "accept-%s", l->svc->name);
        pthread_setname_np(pthread_self(), name);

        while (!server_stopping()) {
                struct pollfd pfd[2] = {
                        { .fd = l->fd, .events = POLLIN },
                        { .fd = srv.stop_pipe[0], .events = POLLIN },
                };
                /* Wake up now and then even when idle, so the supervisor
                 * can tell a quiet loop from a stuck one. */
                atomic_store(&l->beat_ms, clock_now_ms());
                int k = poll(pfd, 2, PICHAT_HEARTBEAT_MS);
                if (k <= 0)
                        continue;
                if (pfd[1].revents)
                        break;

                struct sockaddr_storage ss;
                socklen_t len = sizeof(ss);
                /* A blocking socket: every write and the poll-driven
                 * reads pass MSG_DONTWAIT, and blocking clients sleep in
                 * recv() itself, one system call a line fewer. */
                int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
                if (fd >= 0) {
                        accept_one(l, fd, (struct sockaddr *)&ss);
                        continue;
                }
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                        /* Out of descriptors: the pending connection stays
                         * readable, so back off rather than spin on it. */
                        int64_t now = clock_now_ms();
                        if (now - last_warn > 10000) {
                                log_msg(LOG_WARNING, "%s: accept: %s; backing off",
                                        l->svc->name, strerror(errno));
                                last_warn = now;
                        }
                        poll(&pfd[1], 1, PICHAT_ACCEPT_BACKOFF_MS);
                }
                /* EAGAIN, ECONNABORTED, EINTR, ...: try again */
        }
        close(l->fd);
        server_thread_done();
        return NULL;
}

int server_start(void)
{
        for (unsigned i = 0; i < srv.n_listeners; i++) {
                int r = server_spawn_counted(accept_thread, &srv.listeners[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

void server_stop(void)
{
        struct timespec deadline;
        char b = 1;

        atomic_store(&srv.stopping, true);
        if (write(srv.stop_pipe[1], &b, 1) < 0)
                log_msg(LOG_ERR, "cannot signal shutdown: %s", strerror(errno));
        /* Wakes a thread sleeping in a read, which then sees stopping;
         * writes still work, so a client can be told goodbye. Never
         * blocks. */
        pthread_mutex_lock(&srv.lock);
        for (struct server_sleeper *s = srv.sleepers; s; s = s->next) {
                /* A listed thread is alive: it unlists itself (under
                 * this lock) before it ends. */
                if (s->fd >= 0)
                        shutdown(s->fd, SHUT_RD);
                else
                        pthread_kill(s->thread, SERVER_WAKE_SIGNAL);
        }
        pthread_mutex_unlock(&srv.lock);

        /* Seconds and nanoseconds apart: with a 32-bit long (armhf),
         * tv_nsec plus the grace in nanoseconds would overflow, and the
         * wait would fail with EINVAL at once, forever. */
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += PICHAT_SHUTDOWN_GRACE_MS / 1000;
        deadline.tv_nsec += (long)(PICHAT_SHUTDOWN_GRACE_MS % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&srv.lock);
        while (srv.running > 0)
                if (pthread_cond_timedwait(&srv.done, &srv.lock, &deadline) != 0)
                        break;
        if (srv.running > 0)
                log_msg(LOG_WARNING, "%u threads still closing at exit", srv.running);
        pthread_mutex_unlock(&srv.lock);
}
