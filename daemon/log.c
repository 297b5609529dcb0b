/* log: level filtering and formatting of the daemon's messages, the queue
 * that keeps their writing off the threads that log them, the one thread
 * that writes them, and where they go: the journal (with fields, through
 * libsystemd), stderr or syslog. */

/* pichatd passes the CODE_* fields of the line that logged a message
 * itself: without this, sd_journal_sendv() would be a macro adding a
 * second set naming this file. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include "log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "clock.h"

enum log_dest {
        LOG_DEST_STDERR,
        LOG_DEST_SYSLOG,
        LOG_DEST_JOURNAL,       /* native protocol, with fields */
        LOG_DEST_STREAM,        /* the journal's stream: stderr with "<N>" */
};

/* Where journald takes native messages (libsystemd sends there). Without
 * it, sd_journal_sendv() drops messages silently: then pichatd writes to
 * the journal's stream instead. */
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"

static atomic_int log_level = LOG_INFO;
static atomic_int log_dest = LOG_DEST_STDERR;

static const struct {
        const char *name;
        int prio;
} log_levels[] = {
        { "error", LOG_ERR },
        { "warning", LOG_WARNING },
        { "notice", LOG_NOTICE },
        { "info", LOG_INFO },
        { "debug", LOG_DEBUG },
};

int log_level_parse(const char *name)
{
        for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
                if (strcasecmp(name, log_levels[i].name) == 0)
                        return log_levels[i].prio;
        return -EINVAL;
}

const char *log_level_name(int prio)
{
        for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
                if (log_levels[i].prio == prio)
                        return log_levels[i].name;
        return prio < LOG_ERR ? "error" : "debug";
}

void log_set_level(int prio)
{
        atomic_store(&log_level, prio);
}

int log_get_level(void)
{
        return atomic_load(&log_level);
}

void log_to_syslog(void)
{
        openlog("pichatd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        atomic_store(&log_dest, LOG_DEST_SYSLOG);
}

/* A decimal number at *s, digits only, advancing *s: 0 or -EINVAL. */
static int parse_decimal(const char **s, unsigned long long *out)
{
        unsigned long long n = 0;
        const char *p = *s;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (n > (ULLONG_MAX - 9) / 10)
                        return -EINVAL;
                n = n * 10 + (unsigned long long)(*p - '0');
        }
        *s = p;
        *out = n;
        return 0;
}

bool log_stream_is_journal(const char *journal_stream, int fd)
{
        unsigned long long dev, ino;
        const char *p = journal_stream;
        struct stat st;

        if (!p || parse_decimal(&p, &dev) < 0 || *p++ != ':' ||
            parse_decimal(&p, &ino) < 0 || *p != '\0')
                return false;
        if (fstat(fd, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

bool log_to_journal_if_stream(void)
{
        /* Compared with stderr itself: a child whose stderr was redirected
         * inherits JOURNAL_STREAM but does not write to the journal. */
        if (!log_stream_is_journal(getenv("JOURNAL_STREAM"), STDERR_FILENO))
                return false;
        atomic_store(&log_dest, access(LOG_JOURNAL_SOCKET, W_OK) == 0 ?
                                LOG_DEST_JOURNAL : LOG_DEST_STREAM);
        return true;
}

static void add_field(struct log_fields *f, char *buf, size_t size, const char *name,
                      const char *value)
{
        int r;

        if (!value || f->n == LOG_FIELDS_MAX)
                return;
        r = snprintf(buf, size, "%s=%s", name, value);
        if (r < 0)
                return;
        f->iov[f->n].iov_base = buf;
        f->iov[f->n].iov_len = (size_t)r < size ? (size_t)r : size - 1;
        f->n++;
}

static void add_static(struct log_fields *f, const char *field)
{
        f->iov[f->n].iov_base = (void *)field;
        f->iov[f->n].iov_len = strlen(field);
        f->n++;
}

void log_journal_fields(struct log_fields *f, const struct log_entry *e)
{
        f->n = 0;
        add_field(f, f->message, sizeof(f->message), "MESSAGE", e->text);
        snprintf(f->prio, sizeof(f->prio), "PRIORITY=%d", e->prio & LOG_PRIMASK);
        add_static(f, f->prio);
        snprintf(f->facility, sizeof(f->facility), "SYSLOG_FACILITY=%d", LOG_DAEMON >> 3);
        add_static(f, f->facility);
        add_static(f, "SYSLOG_IDENTIFIER=pichatd");
        if (e->file) {
                add_field(f, f->file, sizeof(f->file), "CODE_FILE", e->file);
                snprintf(f->line, sizeof(f->line), "CODE_LINE=%d", e->line);
                add_static(f, f->line);
                add_field(f, f->func, sizeof(f->func), "CODE_FUNC", e->func);
        }
        add_field(f, f->service, sizeof(f->service), "PICHAT_SERVICE", e->ctx.service);
        add_field(f, f->peer, sizeof(f->peer), "PICHAT_PEER", e->ctx.peer);
        add_field(f, f->nick, sizeof(f->nick), "PICHAT_NICK", e->ctx.nick);
        add_field(f, f->room, sizeof(f->room), "PICHAT_ROOM", e->ctx.room);
}

/* ---- writing a message to its destination -------------------------------- */

static int send_journal(const struct log_entry *e)
{
        struct log_fields f;

        log_journal_fields(&f, e);
        return sd_journal_sendv(f.iov, (int)f.n);
}

/* Write one message where it goes now. Once the log thread runs, only it
 * calls this: the destination may block here, on that thread alone. */
__attribute__((noinline))
static void emit(const struct log_entry *e)
{
        char out[LOG_TEXT_MAX + 32];
        enum log_dest dest = (enum log_dest)atomic_load(&log_dest);
        int n;

        if (dest == LOG_DEST_SYSLOG) {
                syslog(e->prio, "%s", e->text);
                return;
        }
        /* A message journald refuses (it is gone) still goes to its
         * stream, with "<N>" keeping the priority there. */
        if (dest == LOG_DEST_JOURNAL && send_journal(e) >= 0)
                return;
        if (dest == LOG_DEST_STDERR)
                n = snprintf(out, sizeof(out), "%s: %s\n", log_level_name(e->prio), e->text);
        else
                n = snprintf(out, sizeof(out), "<%d>%s\n", e->prio & LOG_PRIMASK, e->text);
        if (n < 0)
                return;
        if ((size_t)n >= sizeof(out)) {
                n = (int)sizeof(out) - 1;
                out[n - 1] = '\n';
        }
        /* One write, so that lines never interleave; a short or failed
         * write to stderr cannot be reported anywhere. */
        while (write(STDERR_FILENO, out, (size_t)n) < 0 && errno == EINTR)
                ;
}

static void emit_dropped(unsigned dropped)
{
        char text[160];
        struct log_entry e = { .prio = LOG_WARNING, .file = __FILE__, .line = __LINE__,
                               .func = __func__, .text = text };

        snprintf(text, sizeof(text), "log: %u message%s dropped: the log queue was full "
                 "([log] queue_kib)", dropped, dropped == 1 ? "" : "s");
        emit(&e);
}

/* ---- the queue -------------------------------------------------------- */

/* The texts of a record, in this order, each NUL-terminated. */
enum { T_TEXT, T_SERVICE, T_PEER, T_NICK, T_ROOM, T_COUNT };
/* Longest context value kept (a nick, a room, an address). */
#define LOG_CTX_MAX 100

/* A message in the queue: this header, then its texts. */
struct rec {
        uint32_t size;          /* the whole record, a multiple of 8; 0: go back to the start */
        int prio;
        int line;
        unsigned dropped;       /* messages dropped just before this one got in */
        const char *file, *func;
        uint16_t len[T_COUNT];
        uint8_t present;        /* bit i: text i was given */
        char text[];
};

#define REC_ALIGN 8
#define REC_MAX ((offsetof(struct rec, text) + LOG_TEXT_MAX + (T_COUNT - 1) * (LOG_CTX_MAX + 1) + \
                  REC_ALIGN) & ~(size_t)(REC_ALIGN - 1))
enum q_state { Q_OFF, Q_RUNNING, Q_STOPPING };

/* A ring of records between head and tail, count of them. Every field
 * under lock. When the ring empties, head and tail go back to its start:
 * while the log thread keeps up, only its first page is ever touched. */
static struct {
        pthread_mutex_t lock;
        pthread_cond_t more;    /* a record came, or stop */
        pthread_cond_t done;    /* the log thread finished, or is idle (CLOCK_MONOTONIC) */
        enum q_state state;
        bool waiting;           /* the log thread sleeps on more */
        bool writing;           /* the log thread writes a message out */
        bool finished;
        char *buf;
        size_t size, map_size, head, tail, high;
        unsigned count;
        unsigned dropped;       /* since the last record that got in */
        unsigned long dropped_total;
        pthread_t thread;
} q = { .lock = PTHREAD_MUTEX_INITIALIZER, .more = PTHREAD_COND_INITIALIZER };

/* Room for need bytes: the offset, or -1 when the ring is full. */
static long reserve(size_t need)
{
        size_t at;

        if (q.count > 0 && q.head == q.tail)
                return -1;
        if (q.head >= q.tail) {
                /* Free: [head, size) and [0, tail). */
                if (q.size - q.head >= need) {
                        at = q.head;
                } else if (q.tail >= need) {
                        if (q.size - q.head >= sizeof(uint32_t))
                                ((struct rec *)(void *)(q.buf + q.head))->size = 0;
                        at = 0;
                } else {
                        return -1;
                }
        } else if (q.tail - q.head >= need) {
                at = q.head;
        } else {
                return -1;
        }
        q.head = at + need;
        if (q.head > q.high)
                q.high = q.head;
        return (long)at;
}

/* Queue e. false when no log thread runs (the caller writes it itself). */
static bool enqueue(const struct log_entry *e)
{
        const char *s[T_COUNT] = { e->text, e->ctx.service, e->ctx.peer, e->ctx.nick,
                                   e->ctx.room };
        size_t len[T_COUNT], need = offsetof(struct rec, text);
        uint8_t present = 0;
        long at;

        for (int i = 0; i < T_COUNT; i++) {
                len[i] = s[i] ? strnlen(s[i], i == T_TEXT ? LOG_TEXT_MAX - 1 : LOG_CTX_MAX) : 0;
                if (s[i])
                        present |= (uint8_t)(1u << i);
                need += len[i] + 1;
        }
        need = (need + REC_ALIGN - 1) & ~(size_t)(REC_ALIGN - 1);

        pthread_mutex_lock(&q.lock);
        if (q.state == Q_OFF) {
                pthread_mutex_unlock(&q.lock);
                return false;
        }
        at = reserve(need);
        if (at < 0) {
                q.dropped++;
                q.dropped_total++;
                pthread_mutex_unlock(&q.lock);
                return true;
        }
        struct rec *r = (struct rec *)(void *)(q.buf + at);
        char *p = r->text;
        *r = (struct rec){ .size = (uint32_t)need, .prio = e->prio, .line = e->line,
                           .dropped = q.dropped, .file = e->file, .func = e->func,
                           .present = present };
        for (int i = 0; i < T_COUNT; i++) {
                r->len[i] = (uint16_t)len[i];
                if (len[i])
                        memcpy(p, s[i], len[i]);
                p[len[i]] = '\0';
                p += len[i] + 1;
        }
        q.dropped = 0;
        q.count++;
        if (q.waiting)
                pthread_cond_signal(&q.more);
        pthread_mutex_unlock(&q.lock);
        return true;
}

/* The queue is empty: after a backlog, give its pages but the first back. */
static void trim(void)
{
        size_t page = (size_t)sysconf(_SC_PAGESIZE);

        q.head = q.tail = 0;
        if (q.high > page && q.map_size > page)
                madvise(q.buf + page, q.map_size - page, MADV_DONTNEED);
        q.high = 0;
}

static void emit_rec(const struct rec *r)
{
        const char *s[T_COUNT];
        const char *p = r->text;

        for (int i = 0; i < T_COUNT; i++) {
                s[i] = r->present & (1u << i) ? p : NULL;
                p += r->len[i] + 1;
        }
        struct log_entry e = { .prio = r->prio, .file = r->file, .line = r->line,
                               .func = r->func, .text = s[T_TEXT],
                               .ctx = { s[T_SERVICE], s[T_PEER], s[T_NICK], s[T_ROOM] } };
        if (r->dropped)
                emit_dropped(r->dropped);
        emit(&e);
}

static void *log_main(void *arg)
{
        static _Alignas(REC_ALIGN) char copy[REC_MAX];
        unsigned dropped;

        (void)arg;
        pthread_mutex_lock(&q.lock);
        for (;;) {
                while (q.count == 0 && q.state == Q_RUNNING) {
                        q.waiting = true;
                        pthread_cond_broadcast(&q.done);        /* for log_flush() */
                        pthread_cond_wait(&q.more, &q.lock);
                        q.waiting = false;
                }
                if (q.count == 0)
                        break;
                if (q.size - q.tail < sizeof(uint32_t) ||
                    ((struct rec *)(void *)(q.buf + q.tail))->size == 0)
                        q.tail = 0;
                const struct rec *r = (const struct rec *)(void *)(q.buf + q.tail);
                /* A copy, so that no lock is held while the destination
                 * is written. */
                memcpy(copy, r, r->size);
                q.tail += r->size;
                if (--q.count == 0)
                        trim();
                q.writing = true;
                pthread_mutex_unlock(&q.lock);
                emit_rec((const struct rec *)(void *)copy);
                pthread_mutex_lock(&q.lock);
                /* All written, and drops since: said now, not only with
                 * whatever message comes next (it may be long). */
                if (q.count == 0 && q.dropped) {
                        dropped = q.dropped;
                        q.dropped = 0;
                        pthread_mutex_unlock(&q.lock);
                        emit_dropped(dropped);
                        pthread_mutex_lock(&q.lock);
                }
                q.writing = false;
        }
        /* Stopping, and all written: from now on callers write their own. */
        dropped = q.dropped;
        q.dropped = 0;
        q.state = Q_OFF;
        pthread_mutex_unlock(&q.lock);
        if (dropped)
                emit_dropped(dropped);
        pthread_mutex_lock(&q.lock);
        q.finished = true;
        pthread_cond_broadcast(&q.done);
        pthread_mutex_unlock(&q.lock);
        return NULL;
}

static void log_stop_at_exit(void)
{
        log_stop(PICHAT_LOG_FLUSH_MS);
}

int log_start(size_t queue_bytes)
{
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t size = queue_bytes < REC_MAX ? REC_MAX : queue_bytes & ~(size_t)(REC_ALIGN - 1);
        size_t stack = 128 * 1024;
        pthread_condattr_t ca;
        pthread_attr_t attr;
        sigset_t all, old;
        void *buf;
        int r;

        pthread_mutex_lock(&q.lock);
        r = q.buf ? -EALREADY : 0;
        pthread_mutex_unlock(&q.lock);
        if (r < 0)
                return r;
        q.map_size = (size + page - 1) & ~(page - 1);
        /* A mapping of its own: pages are only taken as the ring reaches
         * them, and can be given back (trim()). */
        buf = mmap(NULL, q.map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (buf == MAP_FAILED)
                return -errno;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&q.done, &ca);
        pthread_condattr_destroy(&ca);

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        stack = PICHAT_STACK_KIB_SANITIZED * 1024;
#endif
        long min = sysconf(_SC_THREAD_STACK_MIN);
        if (min > 0 && stack < (size_t)min)
                stack = (size_t)min;

        pthread_mutex_lock(&q.lock);
        q.buf = buf;
        q.size = size;
        q.head = q.tail = q.high = 0;
        q.count = 0;
        q.finished = false;
        q.state = Q_RUNNING;
        pthread_mutex_unlock(&q.lock);

        /* No signal is for the log thread: the supervisor takes them. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_attr_init(&attr);
        r = -pthread_attr_setstacksize(&attr, stack);
        if (r == 0)
                r = -pthread_create(&q.thread, &attr, log_main, NULL);
        pthread_attr_destroy(&attr);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                pthread_mutex_lock(&q.lock);
                q.state = Q_OFF;
                pthread_mutex_unlock(&q.lock);
                return r;
        }
        pthread_setname_np(q.thread, "log");
        atexit(log_stop_at_exit);
        return 0;
}

/* The absolute CLOCK_MONOTONIC time timeout_ms from now. */
static struct timespec deadline(int timeout_ms)
{
        int64_t end = clock_now_us() + (int64_t)timeout_ms * 1000;

        return (struct timespec){ .tv_sec = (time_t)(end / 1000000),
                                  .tv_nsec = (long)(end % 1000000) * 1000 };
}

bool log_flush(int timeout_ms)
{
        struct timespec until = deadline(timeout_ms);
        bool empty;

        pthread_mutex_lock(&q.lock);
        while (q.state == Q_RUNNING && (q.count > 0 || q.writing) &&
               pthread_cond_timedwait(&q.done, &q.lock, &until) != ETIMEDOUT)
                ;
        empty = q.state != Q_RUNNING || (q.count == 0 && !q.writing);
        pthread_mutex_unlock(&q.lock);
        return empty;
}

unsigned log_stop(int timeout_ms)
{
        struct timespec until = deadline(timeout_ms);
        unsigned left;
        bool finished;

        pthread_mutex_lock(&q.lock);
        if (q.state != Q_RUNNING) {
                pthread_mutex_unlock(&q.lock);
                return 0;
        }
        q.state = Q_STOPPING;
        pthread_cond_signal(&q.more);
        while (!q.finished && pthread_cond_timedwait(&q.done, &q.lock, &until) != ETIMEDOUT)
                ;
        finished = q.finished;
        left = finished ? 0 : q.count;
        pthread_mutex_unlock(&q.lock);
        /* A thread still stuck in a write is left to the exit; messages
         * meanwhile go on being queued or counted, never waited for. */
        if (finished)
                pthread_join(q.thread, NULL);
        else
                pthread_detach(q.thread);
        return left;
}

unsigned long log_dropped_total(void)
{
        pthread_mutex_lock(&q.lock);
        unsigned long n = q.dropped_total;
        pthread_mutex_unlock(&q.lock);
        return n;
}

/* ---- logging ----------------------------------------------------------- */

/* Count r more bytes written at *n into a buffer of size, as far as they fit. */
static void put(size_t size, size_t *n, int r)
{
        if (r > 0)
                *n += (size_t)r < size - *n ? (size_t)r : size - *n - 1;
}

void log_vat(const char *file, int line, const char *func, int prio, const struct log_ctx *ctx,
             const char *fmt, va_list ap)
{
        char buf[LOG_TEXT_MAX];
        int saved = errno;
        size_t n = 0;

        if (prio > atomic_load(&log_level))
                return;
        buf[0] = '\0';
        if (ctx && ctx->service)
                put(sizeof(buf), &n, snprintf(buf, sizeof(buf), "%s: ", ctx->service));
        put(sizeof(buf), &n, vsnprintf(buf + n, sizeof(buf) - n, fmt, ap));
        if (ctx && (ctx->nick || ctx->room) && n < sizeof(buf) - 1)
                put(sizeof(buf), &n, snprintf(buf + n, sizeof(buf) - n, " [%s%s%s]",
                                              ctx->nick ? ctx->nick : "",
                                              ctx->nick && ctx->room ? " in " : "",
                                              ctx->room ? ctx->room : ""));
        buf[n] = '\0';

        struct log_entry e = { .prio = prio, .file = file, .line = line, .func = func,
                               .text = buf };
        if (ctx)
                e.ctx = *ctx;
        if (!enqueue(&e))
                emit(&e);
        errno = saved;
}

void log_at(const char *file, int line, const char *func, int prio, const struct log_ctx *ctx,
            const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        log_vat(file, line, func, prio, ctx, fmt, ap);
        va_end(ap);
}
