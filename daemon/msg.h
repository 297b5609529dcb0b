/* msg: shared, immutable output lines and the bounded per-client queue.
 *
 * A line fanned out to a room is formatted once into a struct msg and
 * shared by reference between the members' queues. Each chat client has a
 * msg_queue that other threads push to and only its own thread drains, so
 * no thread ever writes another client's socket, and no lock is held
 * while a socket is written. */
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

/* Write queued lines to fd without blocking, from the owner thread only.
 * 0 (queue empty or the socket is full) or -errno. */
int msg_queue_write(struct msg_queue *q, int fd);

bool msg_queue_pending(struct msg_queue *q);
bool msg_queue_overflowed(struct msg_queue *q);
size_t msg_queue_bytes(struct msg_queue *q);
