/* msg: shared, immutable output lines and the bounded per-client queue.
 *
 * A line fanned out to a room is formatted once into a struct msg and
 * shared by reference between the members' queues. Each chat client has a
 * msg_queue that other threads push to and only its own thread drains, so
 * no lock is ever held while a socket is written.
 *
 * One shortcut: lines said to a room may be written by the sender's
 * thread straight to a member's socket when that member's queue is empty
 * and nobody is writing to it (msg_queue_offer). The sender then owns
 * the socket (q->busy_by, a mark, not a lock) until it has written the
 * lines of its batch with one non-blocking send; what the socket does
 * not take goes to the head of the queue. Waking a thread to write a
 * line costs two context switches per member, which was most of a busy
 * room's CPU. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct msg {
        atomic_uint refs;
        size_t len;             /* bytes in data, CR LF included */
        char data[];
};

/* A line from printf-style arguments, with CR LF appended; NULL on ENOMEM. */
struct msg *msg_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct msg *msg_ref(struct msg *m);
void msg_unref(struct msg *m);

/* Results of msg_queue_push() besides 0 and -errno. */
enum {
        MSG_QUEUE_OVERFLOW = 1, /* the limit was reached: the client is too slow */
        MSG_QUEUE_DIRECT = 2,   /* not queued: the caller must write it (msg_queue_offer) */
        MSG_QUEUE_MINE = 3,     /* not queued: the caller owns a write already */
};

struct msg_queue {
        pthread_mutex_t lock;
        struct msg **ring;
        size_t cap, head, count;
        size_t bytes;           /* queued, not yet written */
        size_t limit;           /* bytes; a push past it overflows */
        size_t offset;          /* bytes of the head message already written */
        bool overflow;          /* sticky: the owner must drop the client */
        int wake_fd;            /* eventfd written when the queue becomes non-empty */
        int fd;                 /* the socket for direct writes (-1: none) */
        const void *busy_by;    /* who owns a direct write to fd (NULL: none) */
        bool closing;           /* msg_queue_close(): no more direct writes */
        pthread_cond_t idle;    /* busy_by went NULL */
};

/* 0 or -errno. wake_fd may be -1 (no wake-ups, for tests). */
int msg_queue_init(struct msg_queue *q, size_t limit, int wake_fd);
void msg_queue_destroy(struct msg_queue *q);

/* Queue a reference to m. 0, MSG_QUEUE_OVERFLOW (m not queued, overflow
 * set, owner woken) or -ENOMEM. */
int msg_queue_push(struct msg_queue *q, struct msg *m);
/* The same, and *percent gets how full the queue is afterwards (0-100). */
int msg_queue_push_fill(struct msg_queue *q, struct msg *m, unsigned *percent);

/* The same without waking the owner: *wake tells whether it must be
 * woken (msg_queue_kick) because the queue was empty or has overflowed.
 * The caller must make sure q outlives that call. */
int msg_queue_push_defer(struct msg_queue *q, struct msg *m, unsigned *percent, bool *wake);
void msg_queue_kick(struct msg_queue *q);

/* Allow direct writes to socket fd (msg_queue_offer). */
void msg_queue_set_direct(struct msg_queue *q, int fd);

/* As msg_queue_push_defer(), or, with m not queued: MSG_QUEUE_DIRECT
 * when the queue is empty, idle and allows direct writes (the caller,
 * known as who, now owns the next write to the socket), or
 * MSG_QUEUE_MINE when who owns it already and nothing has been queued
 * behind it; with who NULL, as msg_queue_push_defer(). The owner must soon call
 * msg_queue_write_direct() with m and the lines that follow, holding no
 * lock, and keep its references to them until then. */
int msg_queue_offer(struct msg_queue *q, struct msg *m, const void *who, unsigned *percent,
                    bool *wake);
/* Send n lines (at most MSG_DIRECT_MAX) with one non-blocking system call
 * and give up the write; what the socket does not take is queued first
 * in line (or overflows the queue), and the owner is woken for it. */
#define MSG_DIRECT_MAX 64
void msg_queue_write_direct(struct msg_queue *q, struct msg *const *lines, size_t n);
/* No more direct writes; waits for one under way. The owner calls it
 * before its socket is closed. */
void msg_queue_close(struct msg_queue *q);
/* The owner is about to write to the socket itself, outside the queue
 * (on: waits for a direct write under way, then keeps others to the
 * queue), or is done (off). Its own bytes then never land inside a line. */
void msg_queue_hold(struct msg_queue *q, bool on);

/* Write queued lines to fd without blocking, from the owner thread only.
 * 0 (queue empty, the socket full, or a direct write under way, whose
 * writer wakes the owner when it is done) or -errno. */
int msg_queue_write(struct msg_queue *q, int fd);

/* Lines wait that the owner may write now (none while a direct write is
 * owned). */
bool msg_queue_pending(struct msg_queue *q);
bool msg_queue_overflowed(struct msg_queue *q);
size_t msg_queue_bytes(struct msg_queue *q);
