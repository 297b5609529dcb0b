/* msg: shared output lines, the bounded output queue of each connection,
 * and the direct-write protocol by which one connection's thread writes
 * to another's socket.
 *
 * Lines. A line said to a room is made once (struct msg, reference
 * counted, immutable once pushed) and shared by every member it reaches;
 * its wire form is made once per framing in use (msg_encode) by the
 * thread that pushes it, before any other thread can see it.
 *
 * Queues. Every connection owns a struct msg_queue: other threads push
 * references to it, only its owner's thread takes them off and writes
 * them to its transport. A push past the limit sets a sticky overflow,
 * and the owner drops its client ("too slow"): one slow reader stalls
 * nobody but itself. What counts against the limit is each line's bytes
 * and MSG_QUEUE_ENTRY_COST for its place in the ring, which is halved
 * once it is a quarter full, so the ring never holds more than the
 * limit says. The history replayed to a joiner has a budget of its own,
 * the same size: a client is never dropped for lines it was given before
 * it could read a byte.
 *
 * The direct-write protocol. Waking a thread to write one line costs two
 * context switches per member, most of a busy room's CPU. So a sender
 * with a batch (struct msg_batch: the lines of one read) may write to a
 * member's transport itself:
 *
 *   - It claims the member's queue (q->busy_by = the batch) only when the
 *     queue is empty, allows direct writes, is not held by its owner and
 *     is not closing. While claimed, lines others say queue behind, and
 *     the owner writes nothing (msg_queue_write() returns at once).
 *   - A queue that goes from empty to not empty wakes its owner; inside a
 *     batch that wake-up is owed instead (the queue is pinned, q->pins),
 *     so that a reader gets one wake-up per batch, not one per line.
 *   - At the batch's end (msg_batch_end(), or when it holds
 *     MSG_DIRECT_MAX lines) the sender writes each claimed member its
 *     lines with one non-blocking call, holding no lock; what the
 *     transport does not take goes first in the member's queue, and
 *     what it takes but holds (a TLS record the socket took in part) is
 *     the owner's to finish: the owner is woken. Then it gives up every
 *     claim and pays every owed wake-up.
 *   - Before its connection ends, the owner waits (msg_queue_close())
 *     until no claim or pin on its queue is left; before it writes to its
 *     own transport outside the queue (telnet replies, goodbyes) it holds
 *     the queue (msg_queue_hold()), which waits for a claim under way.
 *
 * Lock order: the room registry's lock, then a queue's lock; no lock is
 * held while a transport is written. The rule that makes waiting safe: a
 * thread ends its own batch before it waits for anything, in particular
 * before msg_queue_hold() and msg_queue_close() on its own queue. A batch
 * itself never waits: its writes do not block, so every claim and pin
 * is given back within one turn of its thread's loop. */
#pragma once

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framing.h"
#include "transport.h"

struct msg {
        atomic_uint refs;
        size_t len;             /* bytes in data, CR LF included */
        bool replay;            /* a room's history, replayed to one joiner */
        /* The wire form for each framing (FRAMING_*), or NULL until
         * msg_encode(); data itself when it is that already. */
        struct msg_wire {
                const char *data;
                size_t len;
        } wire[FRAMING_COUNT];
        char data[];            /* the text, CR LF, NUL */
};

/* A line from printf-style arguments, with CR LF appended; NULL on ENOMEM. */
struct msg *msg_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct msg *msg_vnew(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
struct msg *msg_ref(struct msg *m);
void msg_unref(struct msg *m);
/* Make m's wire form for framing f, unless it has one: 0 or -ENOMEM.
 * Only the thread that pushes m, before the push. */
int msg_encode(struct msg *m, const struct framing *f);

/* Results of queue pushes besides 0 and -errno. */
enum {
        MSG_QUEUE_OVERFLOW = 1, /* the limit was reached: the client is too slow */
        MSG_QUEUE_NO_ROOM = 2,  /* the replay budget is spent: m not queued */
};

/* What one queued line costs besides its bytes: the ring slots it may
 * hold, with the ring halved once it is a quarter full. */
#define MSG_QUEUE_ENTRY_COST (4 * sizeof(struct msg *))

struct msg_batch;

struct msg_queue {
        pthread_mutex_t lock;
        struct msg **ring;
        size_t cap, head, count;
        size_t bytes;           /* queued, not yet written (wire bytes) */
        size_t replay, n_replay;        /* of those, history replayed (bytes, lines) */
        size_t limit;           /* bytes; a push past it overflows */
        size_t offset;          /* bytes of the head message already written */
        bool overflow;          /* sticky: the owner must drop the client */
        int wake_fd;            /* eventfd written when the owner must look */
        const struct framing *fr;       /* how its lines go on the wire */
        struct transport *direct;       /* for direct writes (NULL: none) */
        const void *busy_by;    /* the batch that claimed it, or the queue
                                 * itself while held (NULL: none) */
        size_t claim;           /* busy_by's claim on it (its index there) */
        unsigned pins;          /* wake-ups owed to it by batches */
        bool closing;           /* msg_queue_close(): no more claims */
        pthread_cond_t idle;    /* busy_by went NULL, or pins to 0 */
};

/* 0 or -errno. wake_fd may be -1 (no wake-ups, for tests); lines go out
 * in framing fr. */
int msg_queue_init(struct msg_queue *q, size_t limit, int wake_fd, const struct framing *fr);
void msg_queue_destroy(struct msg_queue *q);
/* A new byte limit, before any push (a service sets its own). */
void msg_queue_set_limit(struct msg_queue *q, size_t limit);
/* Allow direct writes to transport t (which must outlive the queue's
 * msg_queue_close()). */
void msg_queue_set_direct(struct msg_queue *q, struct transport *t);

/* Queue a reference to m and wake the owner if it must look: 0,
 * MSG_QUEUE_OVERFLOW (m not queued, overflow set, owner woken) or
 * -ENOMEM. *percent, when not NULL, gets how full the queue is
 * afterwards (0-100). The caller makes sure q outlives the call. */
int msg_queue_push(struct msg_queue *q, struct msg *m, unsigned *percent);

/* Queue m, a line of history replayed to the owner as it joins: not
 * counted against the limit, but against a budget of the same size of
 * its own. 0, MSG_QUEUE_NO_ROOM (not queued, nothing else changes) or
 * -ENOMEM. m must be the owner's alone (msg_new() for this replay). */
int msg_queue_push_replay(struct msg_queue *q, struct msg *m);
/* How much of the replay budget is left, in bytes of lines. */
size_t msg_queue_replay_room(struct msg_queue *q);

/* Write queued lines to t without blocking, from the owner thread only,
 * and what t holds (transport_held()) even when nothing is queued. 0
 * (queue empty, the transport full, or a claim under way, whose batch
 * wakes the owner when it is done) or -errno. */
int msg_queue_write(struct msg_queue *q, struct transport *t);
/* No more claims; waits for those under way and for owed wake-ups. The
 * owner calls it before its transport is closed. */
void msg_queue_close(struct msg_queue *q);
/* The owner is about to write to its transport itself, outside the queue
 * (on: waits for a claim under way, then keeps others to the queue), or
 * is done (off). Its own bytes then never land inside a line. */
void msg_queue_hold(struct msg_queue *q, bool on);

/* Lines wait that the owner may write now (none while claimed). */
bool msg_queue_pending(struct msg_queue *q);
bool msg_queue_overflowed(struct msg_queue *q);
size_t msg_queue_bytes(struct msg_queue *q);

/* ---- batches ------------------------------------------------------------ */

/* Most lines one batch writes directly before it writes them out. */
#define MSG_DIRECT_MAX 64

/* A sender's batch, kept by its connection. Empty and cheap until lines
 * are added: what it holds then lives on the heap while it lasts. */
struct msg_batch {
        bool open;              /* between msg_batch_begin() and _end() */
        struct msg_direct *d;   /* lines and claims, while there are any */
};

void msg_batch_begin(struct msg_batch *b);
/* Write out the lines, give up every claim, pay every owed wake-up, and
 * close the batch. Without a lock held; does nothing without a batch. */
void msg_batch_end(struct msg_batch *b);
/* The same without closing it: the batch goes on, empty. */
void msg_batch_flush(struct msg_batch *b);
/* Make room for one more line: a full batch is written out now. Before
 * any lock is taken (it writes, and takes queue locks). */
void msg_batch_reserve(struct msg_batch *b);
/* Before m goes to a room of up to n members: make it line i of the
 * batch (a reference is kept) with room for a claim on each member, and
 * return i; or -1 when the batch is not open, is full or has no memory
 * (then m is only queued). */
int msg_batch_line(struct msg_batch *b, struct msg *m, size_t n);

/* Give m to q as msg_queue_push() does, but within batch b, in which m
 * is line i (msg_batch_line()): q may be claimed by b for a direct write,
 * or its owner's wake-up owed to b. With b NULL or i < 0, as
 * msg_queue_push(). Returns 0 (queued, or to be written by b),
 * MSG_QUEUE_OVERFLOW or -ENOMEM; *percent, when not NULL, gets how full
 * q is (0 when b writes it). */
int msg_queue_offer(struct msg_queue *q, struct msg *m, struct msg_batch *b, int i,
                    unsigned *percent);
