/* log: the daemon's single logging module.
 *
 * Priorities are syslog's (LOG_ERR .. LOG_DEBUG). Messages below the
 * configured level are dropped before formatting.
 *
 * Once log_start() has run, a message is formatted by the thread that
 * logs it and put in a bounded in-memory queue; one log thread takes it
 * from there to its destination (the journal through libsystemd, stderr
 * or syslog), so that no thread serving a client, and no accept or UDP
 * loop, ever waits for journald or a stuck stderr. A message that finds
 * the queue full is counted, not kept; the first message that gets
 * through afterwards is preceded by one saying how many were dropped, or,
 * when the queue has been written out and none came, that one is said
 * then.
 * Before log_start() and after log_stop() messages are written at once
 * by the caller (start-up, unit tests, threads still closing at exit).
 *
 * Each message records where it was logged (CODE_FILE, CODE_LINE,
 * CODE_FUNC in the journal): log_msg() and log_ctx() are macros for that. */
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
 * as systemd sets it for a service). Returns whether it is. When the
 * journal's socket is missing, or journald refuses a message, it goes to
 * stderr with a "<N>" priority prefix instead. */
bool log_to_journal_if_stream(void);
/* true if journal_stream ("DEVICE:INODE", decimal, as in JOURNAL_STREAM)
 * names the file fd is open on. */
bool log_stream_is_journal(const char *journal_stream, int fd);

/* Start the log thread with a queue of queue_bytes ([log] queue_kib).
 * 0 or -errno (then messages go on being written by their callers). */
int log_start(size_t queue_bytes);
/* Write out what is queued and end the log thread, waiting at most
 * timeout_ms for a destination that does not read. Returns how many
 * messages were left unwritten (0 after a clean flush). Also run at exit. */
unsigned log_stop(int timeout_ms);
/* Wait, at most timeout_ms, until everything queued so far is written:
 * true if it is (or no log thread runs). For the supervisor only, where
 * an order matters (its "started" before READY=1); never on a client's
 * thread. */
bool log_flush(int timeout_ms);
/* Messages dropped so far because the queue was full (all time). */
unsigned long log_dropped_total(void);

/* Optional context of a message; NULL fields are left out. */
struct log_ctx {
        const char *service;    /* "echo", "chat", "udp", "web" */
        const char *peer;       /* "127.0.0.1:54012" */
        const char *nick;
        const char *room;
};

/* One message as the log thread sees it. */
struct log_entry {
        int prio;
        const char *file;       /* where it was logged */
        int line;
        const char *func;
        const char *text;       /* "echo: connected 127.0.0.1:4000" */
        struct log_ctx ctx;
};

/* A message as journal fields: iov[0 .. n-1] point into this struct and
 * into the entry given to log_journal_fields(). */
#define LOG_FIELDS_MAX 12
#define LOG_FIELD_SIZE 112
#define LOG_TEXT_MAX 1024
struct log_fields {
        struct iovec iov[LOG_FIELDS_MAX];
        size_t n;
        char message[LOG_TEXT_MAX + 16];
        char prio[16];
        char facility[24];
        char file[LOG_FIELD_SIZE];
        char line[24];
        char func[LOG_FIELD_SIZE];
        char service[LOG_FIELD_SIZE];
        char peer[LOG_FIELD_SIZE];
        char nick[LOG_FIELD_SIZE];
        char room[LOG_FIELD_SIZE];
};

/* Fill f with MESSAGE=, PRIORITY=, SYSLOG_FACILITY=, SYSLOG_IDENTIFIER=pichatd,
 * CODE_FILE=, CODE_LINE=, CODE_FUNC= (each once, from the entry, when
 * known) and, from its context when set, PICHAT_SERVICE=, PICHAT_PEER=,
 * PICHAT_NICK=, PICHAT_ROOM=. */
void log_journal_fields(struct log_fields *f, const struct log_entry *e);

void log_at(const char *file, int line, const char *func, int prio, const struct log_ctx *ctx,
            const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void log_vat(const char *file, int line, const char *func, int prio, const struct log_ctx *ctx,
             const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

#define log_msg(prio, ...) log_at(__FILE__, __LINE__, __func__, (prio), NULL, __VA_ARGS__)
#define log_ctx(prio, ctx, ...) log_at(__FILE__, __LINE__, __func__, (prio), (ctx), __VA_ARGS__)
