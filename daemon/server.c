/* server: accept threads, the list of connections, limits and shutdown. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "clock.h"
#include "log.h"

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

int server_init(struct server *srv, struct conf_store *conf)
{
        struct sigaction sa = { .sa_handler = server_wake_handler };

        memset(srv, 0, sizeof(*srv));
        srv->conf = conf;
        srv->halt_pipe[0] = srv->halt_pipe[1] = -1;
        srv->halt.fd = -1;
        slots_init(&srv->slots);
        pthread_mutex_init(&srv->lock, NULL);
        pthread_cond_init(&srv->done, NULL);
        list_init(&srv->conns);
        list_init(&srv->sleepers);
        /* Blocked here, so in every thread started from now on but those
         * that list themselves with server_sleeper_add(). No SA_RESTART:
         * the read must return. */
        sigemptyset(&sa.sa_mask);
        if (sigaction(SERVER_WAKE_SIGNAL, &sa, NULL) < 0)
                return -errno;
        server_wake_mask(SIG_BLOCK);
        if (pipe2(srv->halt_pipe, O_CLOEXEC) < 0)
                return -errno;
        srv->halt.fd = srv->halt_pipe[0];
        return 0;
}

void server_destroy(struct server *srv)
{
        for (int i = 0; i < 2; i++)
                if (srv->halt_pipe[i] >= 0)
                        close(srv->halt_pipe[i]);
        slots_destroy(&srv->slots);
        pthread_cond_destroy(&srv->done);
        pthread_mutex_destroy(&srv->lock);
}

bool server_stopping(const struct server *srv)
{
        return atomic_load(&srv->halt.stopping);
}

unsigned server_clients(struct server *srv)
{
        return slots_total(&srv->slots);
}

/* The table is filled before any thread starts and never changes after. */
static atomic_uint *count_of(struct server *srv, const struct service *svc)
{
        for (unsigned i = 0; i < srv->n_counts; i++)
                if (srv->counts[i].svc == svc)
                        return &srv->counts[i].clients;
        return NULL;
}

unsigned server_clients_of(struct server *srv, const struct service *svc)
{
        atomic_uint *n = count_of(srv, svc);
        return n ? atomic_load(n) : 0;
}

int server_loop_add(struct server *srv)
{
        unsigned i = atomic_load(&srv->n_loops);

        /* Only the main thread adds loops, before the supervisor runs. */
        if (i == SERVER_LOOPS_MAX)
                return -ENOSPC;
        atomic_store(&srv->beats[i], clock_now_ms());
        atomic_store(&srv->n_loops, i + 1);
        return (int)i;
}

void server_beat(struct server *srv, unsigned loop)
{
        atomic_store(&srv->beats[loop], clock_now_ms());
}

int64_t server_oldest_beat_ms(struct server *srv)
{
        unsigned n = atomic_load(&srv->n_loops);
        int64_t oldest = INT64_MAX;

        for (unsigned i = 0; i < n; i++) {
                int64_t b = atomic_load(&srv->beats[i]);
                if (b < oldest)
                        oldest = b;
        }
        return oldest;
}

int server_add_listener(struct server *srv, int fd, const struct service *svc, void *ctx)
{
        struct server_listener *l = &srv->listeners[srv->n_listeners];
        int loop;

        if (srv->n_listeners == SERVER_LISTENERS_MAX || (loop = server_loop_add(srv)) < 0) {
                close(fd);
                return -ENOSPC;
        }
        *l = (struct server_listener){ srv, fd, svc, ctx, (unsigned)loop };
        srv->n_listeners++;
        if (!count_of(srv, svc)) {
                srv->counts[srv->n_counts].svc = svc;
                atomic_init(&srv->counts[srv->n_counts].clients, 0);
                srv->n_counts++;
        }
        return 0;
}

int server_add_tls_listener(struct server *srv, int fd, const struct service *svc, void *ctx,
                            const char *plain_hint)
{
        int r = server_add_listener(srv, fd, svc, ctx);

        if (r == 0) {
                srv->listeners[srv->n_listeners - 1].tls = true;
                srv->listeners[srv->n_listeners - 1].plain_hint = plain_hint;
        }
        return r;
}

static size_t server_stack_size(struct server *srv)
{
        struct conf *c = conf_current(srv->conf);
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

int server_spawn(struct server *srv, void *(*fn)(void *), void *arg)
{
        pthread_attr_t attr;
        pthread_t t;
        int r;

        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        /* No guard page beyond the one glibc adds: the stack is the budget. */
        r = pthread_attr_setstacksize(&attr, server_stack_size(srv));
        if (r == 0)
                r = pthread_create(&t, &attr, fn, arg);
        pthread_attr_destroy(&attr);
        return -r;
}

int server_spawn_counted(struct server *srv, void *(*fn)(void *), void *arg)
{
        pthread_mutex_lock(&srv->lock);
        srv->running++;
        pthread_mutex_unlock(&srv->lock);
        int r = server_spawn(srv, fn, arg);
        if (r < 0)
                server_thread_done(srv);
        return r;
}

void server_thread_done(struct server *srv)
{
        pthread_mutex_lock(&srv->lock);
        srv->running--;
        pthread_cond_broadcast(&srv->done);
        pthread_mutex_unlock(&srv->lock);
}

void server_sleeper_add(struct server *srv, struct server_sleeper *s)
{
        server_wake_mask(SIG_UNBLOCK);
        pthread_mutex_lock(&srv->lock);
        s->thread = pthread_self();
        list_add(&srv->sleepers, &s->link);
        pthread_mutex_unlock(&srv->lock);
}

void server_sleeper_del(struct server *srv, struct server_sleeper *s)
{
        pthread_mutex_lock(&srv->lock);
        if (list_linked(&s->link))
                list_del(&s->link);
        pthread_mutex_unlock(&srv->lock);
}

void server_backoff(struct server *srv, struct server_backoff *b, const char *what)
{
        int err = errno;
        struct pollfd halt = { .fd = srv->halt.fd, .events = POLLIN };

        /* A failure or two is news of the moment (an ICMP error, a peer
         * gone before its accept); a run of them is a broken socket. */
        if (++b->failures < 3)
                return;
        if (b->failures == 3)
                log_msg(LOG_WARNING, "%s: %s; backing off", what, strerror(err));
        unsigned shift = b->failures - 3 < 6 ? b->failures - 3 : 6;
        int wait = PICHAT_ACCEPT_BACKOFF_MS << shift;
        poll(&halt, 1, wait < PICHAT_BACKOFF_MAX_MS ? wait : PICHAT_BACKOFF_MAX_MS);
}

/* The one end of every connection, whatever stage it reached: refused
 * (why says why, for the client and the log), never started, or served.
 * Off the list before its descriptor number can be reused. */
static void server_close_conn(struct server *srv, struct conn *c, const char *why)
{
        if (why)
                conn_refuse(c, why);
        /* The links are written by neighbours coming and going too:
         * read under the lock. */
        pthread_mutex_lock(&srv->lock);
        bool listed = list_linked(&c->link);
        if (listed)
                list_del(&c->link);
        pthread_mutex_unlock(&srv->lock);
        /* Counted under the service it came in for, whichever serves it now. */
        if (listed)
                atomic_fetch_sub(count_of(srv, c->entry), 1);
        if (c->slot_held)
                slots_release(&srv->slots, &c->key);
        conn_free(c);
}

static void *client_thread(void *arg)
{
        struct conn *c = arg;
        struct server *srv = c->owner;

        conn_run(c);
        server_close_conn(srv, c, NULL);
        server_thread_done(srv);
        return NULL;
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

/* A service that answers once (service.h): its answer is written now,
 * from the accepting thread, without waiting. It is far smaller than any
 * socket's buffer, so a client that never reads holds up nobody; then
 * the connection ends. It never takes a slot or a thread. */
static void server_answer(struct server *srv, struct conn *c)
{
        struct log_ctx ctx = { .service = c->entry->name, .peer = c->peer };
        char buf[PICHAT_ANSWER_MAX], sink[512];
        ssize_t n = c->svc->answer(c->svc_ctx, c->conf, false, buf, sizeof(buf)), w = n;

        if (n > 0) {
                struct iovec iov = { .iov_base = buf, .iov_len = (size_t)n };
                w = transport_sendv(&c->t, &iov, 1);
        }
        if (n > 0 && w == n)
                log_ctx(LOG_INFO, &ctx, "answered %s", c->peer);
        else
                log_ctx(LOG_NOTICE, &ctx, "could not answer %s: %s", c->peer,
                        n < 0 ? strerror((int)-n) : w < 0 ? strerror((int)-w) :
                        "its socket took only part of it");
        c->t.ops->finish(&c->t);
        /* What the client sent is dropped unread (RFC 865, 867 and 868
         * say nothing is to be read); left unread, it would make the
         * close a reset, which can destroy the answer before the client
         * reads it. */
        for (int i = 0; i < 4 && transport_recv(&c->t, sink, sizeof(sink), false, false) > 0; i++)
                ;
        server_close_conn(srv, c, NULL);
}

static void accept_one(struct server_listener *l, int fd, const struct sockaddr *sa)
{
        struct server *srv = l->srv;
        struct conn *c = conn_new(fd, sa, l->svc, l->svc_ctx, srv->conf, &srv->halt);
        int r;

        if (!c) {
                log_msg(LOG_WARNING, "%s: out of memory for a client", l->svc->name);
                return;
        }
        c->owner = srv;
        if (l->tls)
                conn_use_tls(c, l->plain_hint);
        /* Before anything is spent on it: no thread, no slot, no reply. */
        if (!server_access(c->conf, l->svc->name, sa, true)) {
                server_close_conn(srv, c, NULL);
                return;
        }
        if (l->svc->answer) {
                server_answer(srv, c);
                return;
        }
        r = slots_acquire(&srv->slots, &c->key, c->conf->server.max_clients,
                          c->conf->server.max_clients_per_ip);
        if (r != SLOTS_OK) {
                server_close_conn(srv, c, r == SLOTS_FULL ? "max_clients reached" :
                                  r == SLOTS_ADDR_FULL ? "max_clients_per_ip reached" :
                                  "out of memory");
                return;
        }
        c->slot_held = true;
        /* Listed before its thread runs: server_stop() sets stopping
         * before it walks the list, so a client either is on it or sees
         * stopping when its thread starts. */
        pthread_mutex_lock(&srv->lock);
        list_add(&srv->conns, &c->link);
        pthread_mutex_unlock(&srv->lock);
        atomic_fetch_add(count_of(srv, l->svc), 1);
        if ((r = server_spawn_counted(srv, client_thread, c)) < 0)
                server_close_conn(srv, c, strerror(-r));
}

static void *accept_thread(void *arg)
{
        struct server_listener *l = arg;
        struct server *srv = l->srv;
        struct server_backoff backoff = { 0 };
        int64_t last_warn = 0;
        char name[16], what[64];

        /* Named for top -H and for the tests that stop one loop. */
        snprintf(name, sizeof(name), "accept-%s", l->svc->name);
        pthread_setname_np(pthread_self(), name);

        while (!server_stopping(srv)) {
                struct pollfd pfd[2] = {
                        { .fd = l->fd, .events = POLLIN },
                        { .fd = srv->halt.fd, .events = POLLIN },
                };
                /* Wake up now and then even when idle, so the supervisor
                 * can tell a quiet loop from a stuck one. */
                server_beat(srv, l->loop);
                int k = poll(pfd, 2, PICHAT_HEARTBEAT_MS);
                if (k <= 0)
                        continue;
                if (pfd[1].revents)
                        break;

                struct sockaddr_storage ss;
                socklen_t len = sizeof(ss);
                /* A blocking socket: every write and the poll-driven
                 * reads are non-blocking anyway, and blocking clients
                 * sleep in recv() itself, one system call a line fewer. */
                int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
                if (fd >= 0) {
                        server_backoff_clear(&backoff);
                        accept_one(l, fd, (struct sockaddr *)&ss);
                        continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                    errno == ECONNABORTED)
                        continue;       /* a peer gone before its accept */
                if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM) {
                        /* Not a listening socket, say: not to be spun on. */
                        snprintf(what, sizeof(what), "%s: accept", l->svc->name);
                        server_backoff(srv, &backoff, what);
                        continue;
                }
                /* Out of descriptors: the pending connection stays
                 * readable, so back off rather than spin on it. */
                int64_t now = clock_now_ms();
                if (now - last_warn > 10000) {
                        log_msg(LOG_WARNING, "%s: accept: %s; backing off", l->svc->name,
                                strerror(errno));
                        last_warn = now;
                }
                poll(&pfd[1], 1, PICHAT_ACCEPT_BACKOFF_MS);
        }
        close(l->fd);
        server_thread_done(srv);
        return NULL;
}

int server_start(struct server *srv)
{
        for (unsigned i = 0; i < srv->n_listeners; i++) {
                int r = server_spawn_counted(srv, accept_thread, &srv->listeners[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int server_stop(struct server *srv)
{
        struct timespec deadline;
        char b = 1;

        atomic_store(&srv->halt.stopping, true);
        if (write(srv->halt_pipe[1], &b, 1) < 0)
                log_msg(LOG_ERR, "cannot signal shutdown: %s", strerror(errno));
        /* Wakes a thread sleeping in a read, which then sees stopping;
         * writes still work, so a client can be told goodbye. Never
         * blocks. A listed connection or sleeper is not freed yet: each
         * is unlisted under this lock first. */
        pthread_mutex_lock(&srv->lock);
        list_each(l, &srv->conns)
                conn_wake(list_entry(l, struct conn, link));
        list_each(l, &srv->sleepers)
                pthread_kill(list_entry(l, struct server_sleeper, link)->thread, SERVER_WAKE_SIGNAL);
        pthread_mutex_unlock(&srv->lock);

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
        pthread_mutex_lock(&srv->lock);
        while (srv->running > 0)
                if (pthread_cond_timedwait(&srv->done, &srv->lock, &deadline) != 0)
                        break;
        unsigned left = srv->running;
        pthread_mutex_unlock(&srv->lock);
        if (left > 0)
                log_msg(LOG_WARNING, "%u threads still closing at exit", left);
        return left > 0 ? -EBUSY : 0;
}
