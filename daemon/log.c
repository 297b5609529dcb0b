/* log: level filtering and formatting of the daemon's messages (stderr). */
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static atomic_int log_level = LOG_INFO;
static atomic_bool log_syslog;

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
        atomic_store(&log_syslog, true);
}

void log_vctx(int prio, const struct log_ctx *ctx, const char *fmt, va_list ap)
{
        char buf[1024];
        int saved = errno;
        size_t n = 0;

        if (prio > atomic_load(&log_level))
                return;

        bool to_syslog = atomic_load(&log_syslog);
        int r = to_syslog ? 0 : snprintf(buf, sizeof(buf), "%s: ", log_level_name(prio));
        n = (size_t)r;
        if (ctx && ctx->service) {
                r = snprintf(buf + n, sizeof(buf) - n, "%s: ", ctx->service);
                n += (size_t)r < sizeof(buf) - n ? (size_t)r : sizeof(buf) - n - 1;
        }
        r = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
        if (r > 0)
                n += (size_t)r < sizeof(buf) - n ? (size_t)r : sizeof(buf) - n - 1;
        if (ctx && (ctx->nick || ctx->room) && n < sizeof(buf) - 1) {
                r = snprintf(buf + n, sizeof(buf) - n, " [%s%s%s]",
                             ctx->nick ? ctx->nick : "",
                             ctx->nick && ctx->room ? " in " : "",
                             ctx->room ? ctx->room : "");
                n += (size_t)r < sizeof(buf) - n ? (size_t)r : sizeof(buf) - n - 1;
        }
        if (n >= sizeof(buf) - 1)
                n = sizeof(buf) - 2;
        if (to_syslog) {
                buf[n] = '\0';
                syslog(prio, "%s", buf);
                errno = saved;
                return;
        }
        buf[n++] = '\n';
        /* A short or failed write to stderr cannot be reported anywhere. */
        ssize_t w = write(STDERR_FILENO, buf, n);
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
