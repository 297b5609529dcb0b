/* msg: refcounted output lines and the queue each chat client drains. */
#include "msg.h"

/* Most lines one write gathers. */
#define MSG_WRITE_BATCH 64

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

struct msg *msg_new(const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return NULL;
        struct msg *m = malloc(sizeof(*m) + (size_t)n + 3);
        if (!m)
                return NULL;
        va_start(ap, fmt);
        vsnprintf(m->data, (size_t)n + 1, fmt, ap);
        va_end(ap);
        memcpy(m->data + n, "\r\n", 3);
        m->len = (size_t)n + 2;
        atomic_init(&m->refs, 1);
        return m;
}

struct msg *msg_ref(struct msg *m)
{
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
        return m;
}

void msg_unref(struct msg *m)
{
        if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
                free(m);
}

int msg_queue_init(struct msg_queue *q, size_t limit, int wake_fd)
{
        int r;

        memset(q, 0, sizeof(*q));
        q->limit = limit;
        q->wake_fd = wake_fd;
        q->fd = -1;
        r = pthread_mutex_init(&q->lock, NULL);
        if (r == 0 && (r = pthread_cond_init(&q->idle, NULL)) != 0)
                pthread_mutex_destroy(&q->lock);
        return -r;
}

void msg_queue_set_direct(struct msg_queue *q, int fd)
{
        pthread_mutex_lock(&q->lock);
        q->fd = fd;
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

static int msg_queue_grow(struct msg_queue *q)
{
        size_t cap = q->cap ? q->cap * 2 : 16;
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

int msg_queue_push(struct msg_queue *q, struct msg *m)
{
        unsigned percent;
        return msg_queue_push_fill(q, m, &percent);
}

int msg_queue_push_fill(struct msg_queue *q, struct msg *m, unsigned *percent)
{
        bool wake;
        int r = msg_queue_push_defer(q, m, percent, &wake);

        if (wake)
                msg_queue_wake(q);
        return r;
}

void msg_queue_kick(struct msg_queue *q)
{
        msg_queue_wake(q);
}

/* Room for k more entries; the queue's lock is held. 0 or -ENOMEM. */
static int msg_queue_room(struct msg_queue *q, size_t k)
{
        while (q->cap - q->count < k)
                if (msg_queue_grow(q) < 0)
                        return -ENOMEM;
        return 0;
}

int msg_queue_offer(struct msg_queue *q, struct msg *m, const void *who, unsigned *percent,
                    bool *woken)
{
        int r = 0;
        bool wake = false;

        pthread_mutex_lock(&q->lock);
        if (q->overflow) {
                r = MSG_QUEUE_OVERFLOW;
        } else if (who && q->busy_by == who && q->count == 0) {
                /* Once anything has queued up behind the write we own,
                 * our later lines queue behind it too, in order. */
                r = MSG_QUEUE_MINE;
        } else if (who && q->count == 0 && !q->busy_by && !q->closing && q->fd >= 0) {
                q->busy_by = who;
                r = MSG_QUEUE_DIRECT;
        } else if (q->bytes + m->len > q->limit) {
                q->overflow = true;
                wake = true;
                r = MSG_QUEUE_OVERFLOW;
        } else if ((r = msg_queue_room(q, 1)) < 0) {
                /* nothing queued */
        } else {
                q->ring[(q->head + q->count) % q->cap] = msg_ref(m);
                /* A non-empty queue is being drained already; behind a
                 * direct write, its writer wakes the owner when done. */
                wake = q->count == 0 && !q->busy_by;
                q->count++;
                q->bytes += m->len;
        }
        *percent = q->limit ? (unsigned)(q->bytes * 100 / q->limit) : 100;
        pthread_mutex_unlock(&q->lock);
        *woken = wake;
        return r;
}

int msg_queue_push_defer(struct msg_queue *q, struct msg *m, unsigned *percent, bool *woken)
{
        return msg_queue_offer(q, m, NULL, percent, woken);
}

/* Put what a direct write left of lines (done bytes taken) first in
 * line, in order. Under the queue's lock. */
static void msg_queue_unshift(struct msg_queue *q, struct msg *const *lines, size_t n,
                              size_t done)
{
        size_t i = 0, rest = 0;

        while (i < n && done >= lines[i]->len)
                done -= lines[i++]->len;
        for (size_t j = i; j < n; j++)
                rest += lines[j]->len;
        rest -= done;
        if (q->overflow)
                return;         /* the owner drops the client */
        if (q->bytes + rest > q->limit || msg_queue_room(q, n - i) < 0) {
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

void msg_queue_write_direct(struct msg_queue *q, struct msg *const *lines, size_t n)
{
        struct iovec iov[MSG_DIRECT_MAX];
        size_t total = 0;
        ssize_t w;

        if (n > MSG_DIRECT_MAX)
                n = MSG_DIRECT_MAX;
        for (size_t i = 0; i < n; i++) {
                iov[i].iov_base = lines[i]->data;
                iov[i].iov_len = lines[i]->len;
                total += lines[i]->len;
        }
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
        do
                w = sendmsg(q->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (w < 0 && errno == EINTR);
        size_t done = w > 0 ? (size_t)w : 0;

        pthread_mutex_lock(&q->lock);
        /* Lines pushed meanwhile wait for the owner, who was not woken
         * for them (nor allowed to write): wake it now. */
        bool wake = q->count > 0;
        if (done < total) {
                /* A full socket (or a broken one, which the owner will
                 * find out about): the rest goes first in line. */
                msg_queue_unshift(q, lines, n, done);
                wake = true;
        }
        /* Woken before the write is given up: from then on, the owner
         * may close and free everything here. */
        if (wake)
                msg_queue_wake(q);
        q->busy_by = NULL;
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
        while (q->busy_by)
                pthread_cond_wait(&q->idle, &q->lock);
        pthread_mutex_unlock(&q->lock);
}

int msg_queue_write(struct msg_queue *q, int fd)
{
        for (;;) {
                struct iovec iov[MSG_WRITE_BATCH];
                size_t n = 0, total = 0;

                /* Gather what is queued, so that one system call sends
                 * many lines: a reader that fell a few lines behind gets
                 * them in one segment, and wakes once, not once a line. */
                pthread_mutex_lock(&q->lock);
                /* A direct write under way owns the socket; its writer
                 * wakes us when done. */
                for (size_t i = 0; !q->busy_by && i < q->count && n < MSG_WRITE_BATCH; i++) {
                        /* Only this thread removes entries, so the messages
                         * stay valid after the lock is dropped for the write. */
                        struct msg *m = q->ring[(q->head + i) % q->cap];
                        size_t off = i == 0 ? q->offset : 0;
                        iov[n].iov_base = m->data + off;
                        iov[n].iov_len = m->len - off;
                        total += iov[n].iov_len;
                        n++;
                }
                pthread_mutex_unlock(&q->lock);
                if (n == 0)
                        return 0;

                struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
                ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return 0;
                        return -errno;
                }

                /* Drop the messages written whole; note how far into the
                 * next one the socket took. */
                struct msg *done[MSG_WRITE_BATCH];
                size_t ndone = 0, left = (size_t)w;
                pthread_mutex_lock(&q->lock);
                q->bytes -= left;
                while (left > 0) {
                        struct msg *m = q->ring[q->head];
                        size_t rest = m->len - q->offset;
                        if (left < rest) {
                                q->offset += left;
                                break;
                        }
                        left -= rest;
                        done[ndone++] = m;
                        q->head = (q->head + 1) % q->cap;
                        q->count--;
                        q->offset = 0;
                }
                pthread_mutex_unlock(&q->lock);
                for (size_t i = 0; i < ndone; i++)
                        msg_unref(done[i]);
                if ((size_t)w < total)
                        return 0;       /* partial write: the socket is full */
        }
}

bool msg_queue_pending(struct msg_queue *q)
{
        pthread_mutex_lock(&q->lock);
        bool r = q->count > 0 && !q->busy_by;
        pthread_mutex_unlock(&q->lock);
        return r;
}

bool msg_queue_overflowed(struct msg_queue *q)
{
        pthread_mutex_lock(&q->lock);
        bool r = q->overflow;
        pthread_mutex_unlock(&q->lock);
        return r;
}

size_t msg_queue_bytes(struct msg_queue *q)
{
        pthread_mutex_lock(&q->lock);
        size_t r = q->bytes;
        pthread_mutex_unlock(&q->lock);
        return r;
}
