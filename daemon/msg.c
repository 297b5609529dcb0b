/* msg: refcounted output lines, the queue each connection drains, and the
 * batches that write to other connections' transports directly. */
#include "msg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "locked.h"

/* Most lines one write gathers. */
#define MSG_WRITE_BATCH 64

struct msg *msg_vnew(const char *fmt, va_list ap)
{
        va_list again;
        int n;

        va_copy(again, ap);
        n = vsnprintf(NULL, 0, fmt, ap);
        struct msg *m = n < 0 ? NULL : calloc(1, sizeof(*m) + (size_t)n + 3);
        if (m)
                vsnprintf(m->data, (size_t)n + 1, fmt, again);
        va_end(again);
        if (!m)
                return NULL;
        memcpy(m->data + n, "\r\n", 3);
        m->len = (size_t)n + 2;
        atomic_init(&m->refs, 1);
        return m;
}

struct msg *msg_new(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        struct msg *m = msg_vnew(fmt, ap);
        va_end(ap);
        return m;
}

struct msg *msg_ref(struct msg *m)
{
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
        return m;
}

void msg_unref(struct msg *m)
{
        if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
                return;
        for (size_t i = 0; i < FRAMING_COUNT; i++)
                if (m->wire[i].data != m->data)
                        free((char *)m->wire[i].data);
        free(m);
}

int msg_encode(struct msg *m, const struct framing *f)
{
        struct msg_wire *w = &m->wire[f->index];
        size_t text = m->len - 2;

        if (w->data)
                return 0;
        if (f->line_as_is && f->line_as_is(m->data, text)) {
                w->len = m->len;
                w->data = m->data;
                return 0;
        }
        char *out = malloc(f->encoded_max(text));
        if (!out)
                return -ENOMEM;
        struct iovec part = { .iov_base = m->data, .iov_len = text };
        w->len = f->encode(&part, 1, out);
        w->data = out;
        return 0;
}

/* ---- the queue ---------------------------------------------------------- */

int msg_queue_init(struct msg_queue *q, size_t limit, int wake_fd, const struct framing *fr)
{
        int r;

        memset(q, 0, sizeof(*q));
        q->limit = limit;
        q->wake_fd = wake_fd;
        q->fr = fr;
        r = pthread_mutex_init(&q->lock, NULL);
        if (r == 0 && (r = pthread_cond_init(&q->idle, NULL)) != 0)
                pthread_mutex_destroy(&q->lock);
        return -r;
}

void msg_queue_set_limit(struct msg_queue *q, size_t limit)
{
        pthread_mutex_lock(&q->lock);
        q->limit = limit;
        pthread_mutex_unlock(&q->lock);
}

void msg_queue_set_direct(struct msg_queue *q, struct transport *t)
{
        pthread_mutex_lock(&q->lock);
        q->direct = t;
        pthread_mutex_unlock(&q->lock);
}

void msg_queue_destroy(struct msg_queue *q)
{
        for (size_t i = 0; i < q->count; i++)
                msg_unref(q->ring[(q->head + i) % q->cap]);
        free(q->ring);
        q->ring = NULL;
        q->count = 0;
        pthread_cond_destroy(&q->idle);
        pthread_mutex_destroy(&q->lock);
}

static void msg_queue_wake(struct msg_queue *q)
{
        uint64_t one = 1;

        if (q->wake_fd >= 0) {
                ssize_t w = write(q->wake_fd, &one, sizeof(one));
                (void)w;        /* an eventfd only fails when already signalled */
        }
}

/* What the live lines (all but the replay) cost against the limit. */
static size_t live_cost(const struct msg_queue *q)
{
        return q->bytes - q->replay + (q->count - q->n_replay) * MSG_QUEUE_ENTRY_COST;
}

static size_t replay_cost(const struct msg_queue *q)
{
        return q->replay + q->n_replay * MSG_QUEUE_ENTRY_COST;
}

static unsigned fill_percent(const struct msg_queue *q)
{
        return q->limit ? (unsigned)(live_cost(q) * 100 / q->limit) : 100;
}

/* Move the entries to a ring of cap slots; under the queue's lock. */
static int msg_queue_resize(struct msg_queue *q, size_t cap)
{
        struct msg **ring = malloc(cap * sizeof(*ring));

        if (!ring)
                return -ENOMEM;
        for (size_t i = 0; i < q->count; i++)
                ring[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = ring;
        q->cap = cap;
        q->head = 0;
        return 0;
}

/* Room for k more entries; under the queue's lock. 0 or -ENOMEM. */
static int msg_queue_room(struct msg_queue *q, size_t k)
{
        while (q->cap - q->count < k)
                if (msg_queue_resize(q, q->cap ? q->cap * 2 : 16) < 0)
                        return -ENOMEM;
        return 0;
}

/* What one batch holds: its lines in order, and a claim per queue it
 * writes directly (lines: bit i for line i) or owes a wake-up (wake). */
struct msg_direct {
        struct msg *lines[MSG_DIRECT_MAX];
        size_t n_lines;
        struct msg_claim {
                struct msg_queue *q;
                uint64_t lines;
                bool wake;
        } *claims;
        size_t n_claims, cap_claims;
};

/* Under q's lock: q becomes b's to write, or is owed b's wake-up. The
 * room for the claim was made by msg_batch_line(). */
static void claim(struct msg_batch *b, struct msg_queue *q, int line, bool wake)
{
        struct msg_direct *d = b->d;
        struct msg_claim *c = &d->claims[d->n_claims];

        c->q = q;
        c->wake = wake;
        c->lines = wake ? 0 : UINT64_C(1) << line;
        if (wake) {
                q->pins++;
        } else {
                q->busy_by = b;
                q->claim = d->n_claims;
        }
        d->n_claims++;
}

int msg_queue_offer(struct msg_queue *q, struct msg *m, struct msg_batch *b, int i,
                    unsigned *percent)
{
        bool in_batch = b && i >= 0, wake = false, direct = false;
        int r;

        /* The wire form first, while only this thread knows m. */
        if ((r = msg_encode(m, q->fr)) < 0)
                return r;
        /* Counted as written: the bytes its framing puts on the wire. */
        size_t wire = m->wire[q->fr->index].len;
        pthread_mutex_lock(&q->lock);
        if (q->overflow) {
                r = MSG_QUEUE_OVERFLOW;
        } else if (in_batch && q->busy_by == b && q->count == 0) {
                /* Once anything has queued up behind the claim, the
                 * batch's later lines queue behind it too, in order. */
                b->d->claims[q->claim].lines |= UINT64_C(1) << i;
                direct = true;
        } else if (in_batch && q->count == 0 && !q->busy_by && !q->closing && q->direct) {
                claim(b, q, i, false);
                direct = true;
        } else if (live_cost(q) + wire + MSG_QUEUE_ENTRY_COST > q->limit) {
                q->overflow = true;
                wake = true;
                r = MSG_QUEUE_OVERFLOW;
        } else if ((r = msg_queue_room(q, 1)) == 0) {
                q->ring[(q->head + q->count) % q->cap] = msg_ref(m);
                /* A non-empty queue is being drained already; behind a
                 * claim, its batch wakes the owner when done. */
                wake = q->count == 0 && !q->busy_by;
                q->count++;
                q->bytes += wire;
        }
        if (percent)
                *percent = direct ? 0 : fill_percent(q);
        if (wake && in_batch)
                claim(b, q, i, true);
        pthread_mutex_unlock(&q->lock);
        if (wake && !in_batch)
                msg_queue_wake(q);
        return r;
}

int msg_queue_push(struct msg_queue *q, struct msg *m, unsigned *percent)
{
        return msg_queue_offer(q, m, NULL, -1, percent);
}

int msg_queue_push_replay(struct msg_queue *q, struct msg *m)
{
        int r = msg_encode(m, q->fr);
        bool wake;

        if (r < 0)
                return r;
        m->replay = true;
        pthread_mutex_lock(&q->lock);
        size_t len = m->wire[q->fr->index].len;
        if (replay_cost(q) + len + MSG_QUEUE_ENTRY_COST > q->limit) {
                r = MSG_QUEUE_NO_ROOM;
        } else if ((r = msg_queue_room(q, 1)) == 0) {
                q->ring[(q->head + q->count) % q->cap] = msg_ref(m);
                wake = q->count == 0 && !q->busy_by;
                q->count++;
                q->bytes += len;
                q->replay += len;
                q->n_replay++;
                if (wake)
                        msg_queue_wake(q);
        }
        pthread_mutex_unlock(&q->lock);
        return r;
}

size_t msg_queue_replay_room(struct msg_queue *q)
{
        size_t used = LOCKED_READ(&q->lock, replay_cost(q));

        return used < q->limit ? q->limit - used : 0;
}

/* Put what a direct write left of lines (done bytes taken) first in
 * line, in order. Under the queue's lock. */
static void msg_queue_unshift(struct msg_queue *q, struct msg *const *lines, size_t n,
                              size_t done)
{
        size_t idx = q->fr->index, i = 0, rest = 0;

        while (i < n && done >= lines[i]->wire[idx].len)
                done -= lines[i++]->wire[idx].len;
        for (size_t j = i; j < n; j++)
                rest += lines[j]->wire[idx].len;
        rest -= done;
        if (q->overflow)
                return;         /* the owner drops the client */
        if (live_cost(q) + rest + (n - i) * MSG_QUEUE_ENTRY_COST > q->limit ||
            msg_queue_room(q, n - i) < 0) {
                q->overflow = true;
                return;
        }
        q->head = (q->head + q->cap - (n - i)) % q->cap;
        for (size_t j = i; j < n; j++)
                q->ring[(q->head + j - i) % q->cap] = msg_ref(lines[j]);
        q->count += n - i;
        q->offset = done;
        q->bytes += rest;
}

/* The claimed write: n lines with one non-blocking call, holding no lock;
 * then the claim is given up. */
static void msg_queue_write_claimed(struct msg_queue *q, struct msg *const *lines, size_t n)
{
        struct iovec iov[MSG_DIRECT_MAX];
        size_t total = 0, idx = q->fr->index;

        for (size_t i = 0; i < n; i++) {
                iov[i].iov_base = (void *)lines[i]->wire[idx].data;
                iov[i].iov_len = lines[i]->wire[idx].len;
                total += iov[i].iov_len;
        }
        ssize_t w = transport_sendv(q->direct, iov, (int)n);
        size_t done = w > 0 ? (size_t)w : 0;

        pthread_mutex_lock(&q->lock);
        /* Lines pushed meanwhile wait for the owner, who was not woken
         * for them (nor allowed to write): wake it now; so do bytes the
         * transport took and holds (TLS), which the owner writes. */
        bool wake = q->count > 0 || transport_held(q->direct);
        if (done < total) {
                /* A full transport (or a broken one, which the owner will
                 * find out about): the rest goes first in line. */
                msg_queue_unshift(q, lines, n, done);
                wake = true;
        }
        /* Woken before the claim is given up: from then on, the owner
         * may close and free everything here. */
        if (wake)
                msg_queue_wake(q);
        q->busy_by = NULL;
        pthread_cond_broadcast(&q->idle);
        pthread_mutex_unlock(&q->lock);
}

/* An owed wake-up, paid, and the pin that kept q alive for it let go. */
static void msg_queue_pay(struct msg_queue *q)
{
        pthread_mutex_lock(&q->lock);
        msg_queue_wake(q);
        if (--q->pins == 0)
                pthread_cond_broadcast(&q->idle);
        pthread_mutex_unlock(&q->lock);
}

void msg_queue_hold(struct msg_queue *q, bool on)
{
        pthread_mutex_lock(&q->lock);
        if (on) {
                while (q->busy_by)
                        pthread_cond_wait(&q->idle, &q->lock);
                q->busy_by = q;         /* the owner itself */
        } else if (q->busy_by == q) {
                /* What was queued meanwhile waits for the owner's next
                 * turn round its loop, which looks for it anyway. */
                q->busy_by = NULL;
                pthread_cond_broadcast(&q->idle);
        }
        pthread_mutex_unlock(&q->lock);
}

void msg_queue_close(struct msg_queue *q)
{
        pthread_mutex_lock(&q->lock);
        q->closing = true;
        while (q->busy_by || q->pins)
                pthread_cond_wait(&q->idle, &q->lock);
        pthread_mutex_unlock(&q->lock);
}

int msg_queue_write(struct msg_queue *q, struct transport *t)
{
        size_t idx = q->fr->index;

        for (;;) {
                struct iovec iov[MSG_WRITE_BATCH];
                size_t n = 0, total = 0;

                /* Gather what is queued, so that one system call sends
                 * many lines: a reader that fell a few lines behind gets
                 * them in one segment, and wakes once, not once a line. */
                pthread_mutex_lock(&q->lock);
                /* A claim under way owns the transport; its batch wakes
                 * us when done. */
                for (size_t i = 0; !q->busy_by && i < q->count && n < MSG_WRITE_BATCH; i++) {
                        /* Only this thread removes entries, so the messages
                         * stay valid after the lock is dropped for the write. */
                        struct msg *m = q->ring[(q->head + i) % q->cap];
                        size_t off = i == 0 ? q->offset : 0;
                        iov[n].iov_base = (char *)m->wire[idx].data + off;
                        iov[n].iov_len = m->wire[idx].len - off;
                        total += iov[n].iov_len;
                        n++;
                }
                /* Nothing queued, but bytes the transport holds (TLS):
                 * written with the queue held, as no claim may write
                 * beside them. */
                bool flush = n == 0 && !q->busy_by && transport_held(t);
                if (flush)
                        q->busy_by = q;
                pthread_mutex_unlock(&q->lock);
                if (flush) {
                        int r = transport_flush(t);
                        pthread_mutex_lock(&q->lock);
                        q->busy_by = NULL;
                        pthread_cond_broadcast(&q->idle);
                        bool more = q->count > 0;
                        pthread_mutex_unlock(&q->lock);
                        if (r < 0)
                                return r;
                        if (!more || transport_held(t))
                                return 0;
                        continue;       /* lines came meanwhile */
                }
                if (n == 0)
                        return 0;

                ssize_t w = transport_sendv(t, iov, (int)n);
                if (w < 0)
                        return (int)w;
                if (w == 0)
                        return 0;       /* the transport is full */

                /* Drop the messages written whole; note how far into the
                 * next one the transport took. */
                struct msg *done[MSG_WRITE_BATCH];
                size_t ndone = 0, left = (size_t)w;
                pthread_mutex_lock(&q->lock);
                q->bytes -= left;
                while (left > 0) {
                        struct msg *m = q->ring[q->head];
                        size_t rest = m->wire[idx].len - q->offset;
                        size_t took = left < rest ? left : rest;

                        if (m->replay)
                                q->replay -= took;
                        if (left < rest) {
                                q->offset += left;
                                break;
                        }
                        left -= rest;
                        done[ndone++] = m;
                        q->head = (q->head + 1) % q->cap;
                        q->count--;
                        q->n_replay -= m->replay;
                        q->offset = 0;
                }
                /* A ring a quarter full is halved: what a burst grew is
                 * given back once it is written. */
                while (q->cap > 16 && q->count <= q->cap / 4 && msg_queue_resize(q, q->cap / 2) == 0)
                        ;
                pthread_mutex_unlock(&q->lock);
                for (size_t i = 0; i < ndone; i++)
                        msg_unref(done[i]);
                if ((size_t)w < total)
                        return 0;       /* partial write: the transport is full */
        }
}

bool msg_queue_pending(struct msg_queue *q)
{
        return LOCKED_READ(&q->lock, q->count > 0 && !q->busy_by);
}

bool msg_queue_overflowed(struct msg_queue *q)
{
        return LOCKED_READ(&q->lock, q->overflow);
}

size_t msg_queue_bytes(struct msg_queue *q)
{
        return LOCKED_READ(&q->lock, q->bytes);
}

/* ---- batches ------------------------------------------------------------ */

void msg_batch_begin(struct msg_batch *b)
{
        b->open = true;
}

void msg_batch_flush(struct msg_batch *b)
{
        struct msg_direct *d = b->d;
        struct msg *mine[MSG_DIRECT_MAX];

        if (!d)
                return;
        /* Owed wake-ups first: those readers run on other cores while
         * this thread writes. */
        for (size_t i = 0; i < d->n_claims; i++)
                if (d->claims[i].wake)
                        msg_queue_pay(d->claims[i].q);
        for (size_t i = 0; i < d->n_claims; i++) {
                struct msg_claim *c = &d->claims[i];
                size_t n = 0;

                if (c->wake)
                        continue;
                for (size_t j = 0; j < d->n_lines; j++)
                        if (c->lines & (UINT64_C(1) << j))
                                mine[n++] = d->lines[j];
                msg_queue_write_claimed(c->q, mine, n);
        }
        for (size_t j = 0; j < d->n_lines; j++)
                msg_unref(d->lines[j]);
        free(d->claims);
        free(d);
        b->d = NULL;
}

void msg_batch_end(struct msg_batch *b)
{
        msg_batch_flush(b);
        b->open = false;
}

void msg_batch_reserve(struct msg_batch *b)
{
        if (b && b->open && b->d && b->d->n_lines == MSG_DIRECT_MAX)
                msg_batch_flush(b);
}

int msg_batch_line(struct msg_batch *b, struct msg *m, size_t n)
{
        struct msg_direct *d;

        if (!b || !b->open || (b->d && b->d->n_lines == MSG_DIRECT_MAX))
                return -1;
        if (!b->d && !(b->d = calloc(1, sizeof(*b->d))))
                return -1;
        d = b->d;
        if (d->cap_claims - d->n_claims < n) {
                size_t cap = d->n_claims + n;
                struct msg_claim *c = realloc(d->claims, cap * sizeof(*c));
                if (!c)
                        return -1;
                d->claims = c;
                d->cap_claims = cap;
        }
        d->lines[d->n_lines] = msg_ref(m);
        return (int)d->n_lines++;
}
