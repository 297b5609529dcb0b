/* log: level filtering and formatting of the daemon's messages, and where
 * they go: stderr, the journal (with fields) or syslog. */
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysd.h"

enum log_dest {
        LOG_DEST_STDERR,
        LOG_DEST_SYSLOG,
        LOG_DEST_JOURNAL,       /* native protocol, with fields */
        LOG_DEST_STREAM,        /* the journal's stream: stderr with "<N>" */
};

/* Where journald takes native messages. An entry it does not take (it is
 * gone, or its queue is full) goes to stderr, the journal's stream. */
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

void log_journal_fields(struct log_fields *f, int prio, const struct log_ctx *ctx,
                        const char *message, size_t len)
{
        static const char ident[] = "SYSLOG_IDENTIFIER=pichatd";

        f->n = 0;
        f->iov[f->n].iov_base = (void *)message;
        f->iov[f->n].iov_len = len;
        f->n++;
        snprintf(f->prio, sizeof(f->prio), "PRIORITY=%d", prio & LOG_PRIMASK);
        f->iov[f->n].iov_base = f->prio;
        f->iov[f->n].iov_len = strlen(f->prio);
        f->n++;
        snprintf(f->facility, sizeof(f->facility), "SYSLOG_FACILITY=%d", LOG_DAEMON >> 3);
        f->iov[f->n].iov_base = f->facility;
        f->iov[f->n].iov_len = strlen(f->facility);
        f->n++;
        f->iov[f->n].iov_base = (void *)ident;
        f->iov[f->n].iov_len = sizeof(ident) - 1;
        f->n++;
        if (!ctx)
                return;
        add_field(f, f->service, sizeof(f->service), "PICHAT_SERVICE", ctx->service);
        add_field(f, f->peer, sizeof(f->peer), "PICHAT_PEER", ctx->peer);
        add_field(f, f->nick, sizeof(f->nick), "PICHAT_NICK", ctx->nick);
        add_field(f, f->room, sizeof(f->room), "PICHAT_ROOM", ctx->room);
}

/* Count r more bytes written at *n into a buffer of size, as far as they fit. */
static void put(size_t size, size_t *n, int r)
{
        if (r > 0)
                *n += (size_t)r < size - *n ? (size_t)r : size - *n - 1;
}

/* The journal's fields live in a frame of their own, so that the common
 * path (a client thread logging to stderr) keeps its stack shallow: every
 * stack page a client thread touches stays in memory while it lives. */
__attribute__((noinline))
static int log_send_journal(int prio, const struct log_ctx *ctx, const char *buf, size_t n)
{
        struct log_fields f;

        log_journal_fields(&f, prio, ctx, buf, n);
        return sysd_journal_sendv(LOG_JOURNAL_SOCKET, f.iov, f.n);
}

void log_vctx(int prio, const struct log_ctx *ctx, const char *fmt, va_list ap)
{
        static const char msg_field[] = "MESSAGE=";
        char buf[1024];
        int saved = errno;
        size_t n = 0, start, out = 0;

        if (prio > atomic_load(&log_level))
                return;

        enum log_dest dest = (enum log_dest)atomic_load(&log_dest);
        if (dest == LOG_DEST_JOURNAL || dest == LOG_DEST_STREAM) {
                memcpy(buf, msg_field, sizeof(msg_field) - 1);
                n = sizeof(msg_field) - 1;
        } else if (dest == LOG_DEST_STDERR) {
                put(sizeof(buf), &n, snprintf(buf, sizeof(buf), "%s: ", log_level_name(prio)));
        }
        start = n;
        if (ctx && ctx->service)
                put(sizeof(buf), &n, snprintf(buf + n, sizeof(buf) - n, "%s: ", ctx->service));
        put(sizeof(buf), &n, vsnprintf(buf + n, sizeof(buf) - n, fmt, ap));
        if (ctx && (ctx->nick || ctx->room) && n < sizeof(buf) - 1)
                put(sizeof(buf), &n, snprintf(buf + n, sizeof(buf) - n, " [%s%s%s]",
                                              ctx->nick ? ctx->nick : "",
                                              ctx->nick && ctx->room ? " in " : "",
                                              ctx->room ? ctx->room : ""));
        if (n >= sizeof(buf) - 1)
                n = sizeof(buf) - 2;
        buf[n] = '\0';

        if (dest == LOG_DEST_SYSLOG) {
                syslog(prio, "%s", buf);
                errno = saved;
                return;
        }
        if (dest == LOG_DEST_JOURNAL && log_send_journal(prio, ctx, buf, n) >= 0) {
                errno = saved;
                return;
        }
        if (dest == LOG_DEST_JOURNAL || dest == LOG_DEST_STREAM) {
                /* The journal is not taking native messages: stderr is
                 * still its stream, and "<N>" keeps the priority there. */
                char head[8];
                int h = snprintf(head, sizeof(head), "<%d>", prio & LOG_PRIMASK);
                out = start - (size_t)h;
                memcpy(buf + out, head, (size_t)h);
        }
        buf[n++] = '\n';
        /* A short or failed write to stderr cannot be reported anywhere. */
        ssize_t w = write(STDERR_FILENO, buf + out, n - out);
        (void)w;
        errno = saved;
}

void log_ctx(int prio, const struct log_ctx *ctx, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        log_vctx(prio, ctx, fmt, ap);
        va_end(ap);
}

void log_msg(int prio, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        log_vctx(prio, NULL, fmt, ap);
        va_end(ap);
}
