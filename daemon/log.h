/* log: the daemon's single logging module.
 *
 * Priorities are syslog's (LOG_ERR .. LOG_DEBUG). Messages below the
 * configured level are dropped before formatting. Every message is written
 * with one write(2) so lines from different threads never interleave. */
#pragma once

#include <stdarg.h>
#include <syslog.h>

int log_level_parse(const char *name);          /* priority or -EINVAL */
const char *log_level_name(int prio);
void log_set_level(int prio);
int log_get_level(void);
/* Send messages to syslog from now on (a daemon with no terminal). */
void log_to_syslog(void);

/* Optional context of a message; NULL fields are left out. */
struct log_ctx {
        const char *service;    /* "echo", "chat", "udp" */
        const char *peer;       /* "127.0.0.1:54012" */
        const char *nick;
        const char *room;
};

void log_msg(int prio, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void log_ctx(int prio, const struct log_ctx *ctx, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void log_vctx(int prio, const struct log_ctx *ctx, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
