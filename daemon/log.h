/* log: the daemon's single logging module.
 *
 * Priorities are syslog's (LOG_ERR .. LOG_DEBUG). Messages below the
 * configured level are dropped before formatting. Every message is written
 * with one write(2) so lines from different threads never interleave. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>
#include <syslog.h>

int log_level_parse(const char *name);          /* priority or -EINVAL */
const char *log_level_name(int prio);
void log_set_level(int prio);
int log_get_level(void);
/* Send messages to syslog from now on (a daemon with no terminal). */
void log_to_syslog(void);
/* Send messages to the journal from now on, with their priority and
 * context as fields, if stderr is the journal's stream (JOURNAL_STREAM,
 * as systemd sets it for a service). Returns whether it is. A message the
 * journal does not take goes to stderr with a "<N>" priority prefix. */
bool log_to_journal_if_stream(void);
/* true if journal_stream ("DEVICE:INODE", decimal, as in JOURNAL_STREAM)
 * names the file fd is open on. */
bool log_stream_is_journal(const char *journal_stream, int fd);

/* Optional context of a message; NULL fields are left out. */
struct log_ctx {
        const char *service;    /* "echo", "chat", "udp" */
        const char *peer;       /* "127.0.0.1:54012" */
        const char *nick;
        const char *room;
};

/* A message as journal fields: iov[0 .. n-1] point into this struct and at
 * the message given to log_journal_fields(). */
#define LOG_FIELDS_MAX 8
#define LOG_FIELD_SIZE 112
struct log_fields {
        struct iovec iov[LOG_FIELDS_MAX];
        size_t n;
        char prio[16];
        char facility[24];
        char service[LOG_FIELD_SIZE];
        char peer[LOG_FIELD_SIZE];
        char nick[LOG_FIELD_SIZE];
        char room[LOG_FIELD_SIZE];
};

/* Fill f with MESSAGE= (message holds "MESSAGE=text", len bytes, and must
 * outlive f), PRIORITY=, SYSLOG_FACILITY=, SYSLOG_IDENTIFIER=pichatd and,
 * from ctx when set, PICHAT_SERVICE=, PICHAT_PEER=, PICHAT_NICK=, PICHAT_ROOM=. */
void log_journal_fields(struct log_fields *f, int prio, const struct log_ctx *ctx,
                        const char *message, size_t len);

void log_msg(int prio, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void log_ctx(int prio, const struct log_ctx *ctx, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void log_vctx(int prio, const struct log_ctx *ctx, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
