/* Unit: shared output lines (format, refcounts) and the per-client queue
 * (order, byte limit, wake-ups, non-blocking writes), also under threads. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "msg.h"
#include "suite.h"

static unsigned refs(struct msg *m)
{
        return atomic_load(&m->refs);
}

/* The plain transport on fd (each fd has one, so that a queue may keep
 * a pointer to it). */
static struct transport *tp(int fd)
{
        static struct transport tps[1024];
        struct transport *t = &tps[fd < 0 ? 0 : fd];

        ck_assert_int_lt(fd, 1024);
        transport_plain(t, fd);
        return t;
}

/* A connected stream pair: sv[0] for msg_queue_write, sv[1] to read. */
static void pair(int sv[2])
{
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* Write the whole queue to a fresh socketpair and return what arrived,
 * NUL-terminated, in a malloc'd buffer. The queue must fit in the socket
 * buffer (a few KiB). */
static char *drain(struct msg_queue *q, size_t *len)
{
        int sv[2];
        size_t size = msg_queue_bytes(q) + 1;
        char *buf = malloc(size);
        size_t got = 0;

        ck_assert_ptr_nonnull(buf);
        pair(sv);
        ck_assert_int_eq(msg_queue_write(q, tp(sv[0])), 0);
        ck_assert(!msg_queue_pending(q));
        ck_assert_uint_eq(msg_queue_bytes(q), 0);
        close(sv[0]);
        for (;;) {
                ssize_t n = read(sv[1], buf + got, size - got);
                ck_assert_int_ge(n, 0);
                if (n == 0)
                        break;
                got += (size_t)n;
                ck_assert_uint_lt(got, size);
        }
        close(sv[1]);
        buf[got] = '\0';
        if (len)
                *len = got;
        return buf;
}

static void push_new(struct msg_queue *q, const char *text)
{
        struct msg *m = msg_new("%s", text);
        ck_assert_ptr_nonnull(m);
        ck_assert_int_eq(msg_queue_push(q, m, NULL), 0);
        msg_unref(m);
}

START_TEST(msg_format)
{
        struct msg *m = msg_new("hello %s %d", "world", 42);

        ck_assert_ptr_nonnull(m);
        ck_assert_uint_eq(m->len, 16);
        ck_assert_int_eq(memcmp(m->data, "hello world 42\r\n", 16), 0);
        ck_assert_int_eq(m->data[m->len], '\0');
        ck_assert_uint_eq(refs(m), 1);
        msg_unref(m);

        m = msg_new("%s", "");
        ck_assert_ptr_nonnull(m);
        ck_assert_uint_eq(m->len, 2);
        ck_assert_str_eq(m->data, "\r\n");
        msg_unref(m);

        /* Longer than any stack buffer a formatter might use. */
        char *big = malloc(5001);
        ck_assert_ptr_nonnull(big);
        memset(big, 'x', 5000);
        big[5000] = '\0';
        m = msg_new("<%s>", big);
        ck_assert_ptr_nonnull(m);
        ck_assert_uint_eq(m->len, 5004);
        ck_assert_int_eq(m->data[0], '<');
        ck_assert_int_eq(m->data[5000], 'x');
        ck_assert_int_eq(memcmp(m->data + 5001, ">\r\n", 4), 0);
        msg_unref(m);
        free(big);
}
END_TEST

/* A line's wire form is made once per framing; a telnet line without
 * 0xFF is sent as it was made. */
START_TEST(msg_wire_forms)
{
        struct msg *m = msg_new("plain");
        struct msg *iac = msg_new("a\xff" "b");

        ck_assert_ptr_null(m->wire[FRAMING_TELNET].data);
        ck_assert_int_eq(msg_encode(m, &framing_telnet), 0);
        ck_assert_ptr_eq(m->wire[FRAMING_TELNET].data, m->data);
        ck_assert_uint_eq(m->wire[FRAMING_TELNET].len, m->len);
        ck_assert_int_eq(msg_encode(m, &framing_telnet), 0);    /* once */
        ck_assert_ptr_eq(m->wire[FRAMING_TELNET].data, m->data);

        ck_assert_int_eq(msg_encode(iac, &framing_telnet), 0);
        ck_assert_ptr_ne(iac->wire[FRAMING_TELNET].data, iac->data);
        ck_assert_uint_eq(iac->wire[FRAMING_TELNET].len, 6);
        ck_assert_int_eq(memcmp(iac->wire[FRAMING_TELNET].data, "a\xff\xff" "b\r\n", 6), 0);
        msg_unref(m);
        msg_unref(iac);         /* frees the copy too (the leak check sees to it) */
}
END_TEST

START_TEST(msg_refcount)
{
        struct msg *m = msg_new("shared");
        struct msg_queue a, b;

        ck_assert_ptr_eq(msg_ref(m), m);
        ck_assert_uint_eq(refs(m), 2);
        msg_unref(m);
        ck_assert_uint_eq(refs(m), 1);
        msg_unref(NULL);        /* allowed, does nothing */

        /* Every queue holds its own reference. */
        ck_assert_int_eq(msg_queue_init(&a, 1024, -1, &framing_telnet), 0);
        ck_assert_int_eq(msg_queue_init(&b, 1024, -1, &framing_telnet), 0);
        ck_assert_int_eq(msg_queue_push(&a, m, NULL), 0);
        ck_assert_int_eq(msg_queue_push(&b, m, NULL), 0);
        ck_assert_int_eq(msg_queue_push(&b, m, NULL), 0);
        ck_assert_uint_eq(refs(m), 4);

        /* Written lines drop their reference... */
        free(drain(&b, NULL));
        ck_assert_uint_eq(refs(m), 2);
        msg_queue_destroy(&b);
        ck_assert_uint_eq(refs(m), 2);

        /* ...and so does destroying a queue that still holds it. The
         * last reference frees the line (ASan's leak check proves it). */
        msg_unref(m);
        ck_assert_uint_eq(refs(m), 1);
        msg_queue_destroy(&a);
}
END_TEST

START_TEST(queue_order_and_bytes)
{
        struct msg_queue q;
        size_t len;

        ck_assert_int_eq(msg_queue_init(&q, 4096, -1, &framing_telnet), 0);
        ck_assert(!msg_queue_pending(&q));
        ck_assert_uint_eq(msg_queue_bytes(&q), 0);

        /* Nothing queued: writing does nothing, not even touch the fd. */
        ck_assert_int_eq(msg_queue_write(&q, tp(-1)), 0);

        push_new(&q, "one");
        ck_assert(msg_queue_pending(&q));
        ck_assert_uint_eq(msg_queue_bytes(&q), 5);
        push_new(&q, "two two");
        push_new(&q, "");
        push_new(&q, "three");
        ck_assert_uint_eq(msg_queue_bytes(&q), 5 + 9 + 2 + 7);
        ck_assert_uint_eq(q.count, 4);

        char *out = drain(&q, &len);
        ck_assert_uint_eq(len, 23);
        ck_assert_str_eq(out, "one\r\ntwo two\r\n\r\nthree\r\n");
        free(out);
        ck_assert(!msg_queue_overflowed(&q));

        /* The queue is reusable once drained. */
        push_new(&q, "again");
        ck_assert_uint_eq(msg_queue_bytes(&q), 7);
        out = drain(&q, NULL);
        ck_assert_str_eq(out, "again\r\n");
        free(out);
        msg_queue_destroy(&q);
}
END_TEST

START_TEST(queue_limit_overflow)
{
        struct msg_queue q;
        struct msg *ten = msg_new("12345678");          /* 10 bytes with CR LF */
        struct msg *small = msg_new("x");
        /* What a line costs a queue: its bytes and its place in the ring. */
        const size_t e = MSG_QUEUE_ENTRY_COST;

        ck_assert_int_eq(msg_queue_init(&q, 25 + 2 * e, -1, &framing_telnet), 0);
        ck_assert_int_eq(msg_queue_push(&q, ten, NULL), 0);
        ck_assert_int_eq(msg_queue_push(&q, ten, NULL), 0);
        ck_assert_uint_eq(msg_queue_bytes(&q), 20);
        /* 30 > 25 (besides the places): refused, and nothing about the
         * queue changes but the flag. */
        ck_assert_int_eq(msg_queue_push(&q, ten, NULL), MSG_QUEUE_OVERFLOW);
        ck_assert(msg_queue_overflowed(&q));
        ck_assert_uint_eq(msg_queue_bytes(&q), 20);
        ck_assert_uint_eq(q.count, 2);
        ck_assert_uint_eq(refs(ten), 3);

        /* Sticky: even a line that would fit is refused now... */
        ck_assert_int_eq(msg_queue_push(&q, small, NULL), MSG_QUEUE_OVERFLOW);
        ck_assert_uint_eq(q.count, 2);
        ck_assert_uint_eq(refs(small), 1);

        /* ...also once the queue is drained. What was queued still goes out. */
        char *out = drain(&q, NULL);
        ck_assert_str_eq(out, "12345678\r\n12345678\r\n");
        free(out);
        ck_assert(msg_queue_overflowed(&q));
        ck_assert_int_eq(msg_queue_push(&q, small, NULL), MSG_QUEUE_OVERFLOW);
        ck_assert(!msg_queue_pending(&q));
        ck_assert_uint_eq(refs(ten), 1);
        msg_queue_destroy(&q);

        /* Exactly at the limit is still fine. */
        ck_assert_int_eq(msg_queue_init(&q, 23 + 3 * e, -1, &framing_telnet), 0);
        ck_assert_int_eq(msg_queue_push(&q, ten, NULL), 0);
        ck_assert_int_eq(msg_queue_push(&q, ten, NULL), 0);
        ck_assert_int_eq(msg_queue_push(&q, small, NULL), 0);
        ck_assert_uint_eq(msg_queue_bytes(&q), 23);
        ck_assert(!msg_queue_overflowed(&q));
        ck_assert_int_eq(msg_queue_push(&q, small, NULL), MSG_QUEUE_OVERFLOW);
        msg_queue_destroy(&q);

        /* A line larger than the whole limit overflows an empty queue. */
        ck_assert_int_eq(msg_queue_init(&q, 5, -1, &framing_telnet), 0);
        ck_assert_int_eq(msg_queue_push(&q, ten, NULL), MSG_QUEUE_OVERFLOW);
        ck_assert(msg_queue_overflowed(&q));
        msg_queue_destroy(&q);

        ck_assert_uint_eq(refs(ten), 1);
        msg_unref(ten);
        msg_unref(small);
}
END_TEST

START_TEST(queue_push_fill)
{
        struct msg_queue q;
        struct msg *ten = msg_new("12345678");
        unsigned pct = 999;
        const size_t u = 10 + MSG_QUEUE_ENTRY_COST;    /* a line's cost */

        ck_assert_int_eq(msg_queue_init(&q, 4 * u, -1, &framing_telnet), 0);
        ck_assert_int_eq(msg_queue_push(&q, ten, &pct), 0);
        ck_assert_uint_eq(pct, 25);
        ck_assert_int_eq(msg_queue_push(&q, ten, &pct), 0);
        ck_assert_uint_eq(pct, 50);
        ck_assert_int_eq(msg_queue_push(&q, ten, NULL), 0);
        ck_assert_int_eq(msg_queue_push(&q, ten, &pct), 0);
        ck_assert_uint_eq(pct, 100);
        ck_assert_int_eq(msg_queue_push(&q, ten, &pct), MSG_QUEUE_OVERFLOW);
        ck_assert_uint_eq(pct, 100);
        msg_queue_destroy(&q);

        /* Rounded down; what was written no longer counts. */
        ck_assert_int_eq(msg_queue_init(&q, 3 * u, -1, &framing_telnet), 0);
        ck_assert_int_eq(msg_queue_push(&q, ten, &pct), 0);
        ck_assert_uint_eq(pct, 33);
        free(drain(&q, NULL));
        ck_assert_int_eq(msg_queue_push(&q, ten, &pct), 0);
        ck_assert_uint_eq(pct, 33);
        msg_queue_destroy(&q);
        msg_unref(ten);
}
END_TEST

/* The queue holds "n FIRST" .. "n LAST", in order: drain and compare. */
static void assert_numbered(struct msg_queue *q, int first, int last)
{
        char *out = drain(q, NULL), *p = out;
        char want[32];

        for (int i = first; i <= last; i++) {
                int n = snprintf(want, sizeof(want), "n %d\r\n", i);
                ck_assert_msg(strncmp(p, want, (size_t)n) == 0, "line %d: got %.20s", i, p);
                p += n;
        }
        ck_assert_str_eq(p, "");
        free(out);
}

static void push_numbered(struct msg_queue *q, int first, int last)
{
        for (int i = first; i <= last; i++) {
                struct msg *m = msg_new("n %d", i);
                ck_assert_int_eq(msg_queue_push(q, m, NULL), 0);
                msg_unref(m);
        }
}

START_TEST(queue_ring_growth)
{
        struct msg_queue q;

        ck_assert_int_eq(msg_queue_init(&q, 1 << 20, -1, &framing_telnet), 0);

        /* Growth from an unwrapped ring. */
        push_numbered(&q, 0, 99);
        ck_assert_uint_eq(q.count, 100);
        ck_assert_uint_ge(q.cap, 100);
        assert_numbered(&q, 0, 99);

        msg_queue_destroy(&q);
        ck_assert_int_eq(msg_queue_init(&q, 1 << 20, -1, &framing_telnet), 0);

        /* Move the head into the middle of the first 16-slot ring, fill it
         * so that it wraps around, then grow it: order must survive. */
        push_numbered(&q, 0, 11);
        assert_numbered(&q, 0, 11);
        ck_assert_uint_eq(q.cap, 16);
        ck_assert_uint_eq(q.head, 12);
        push_numbered(&q, 100, 115);
        ck_assert_uint_eq(q.cap, 16);
        ck_assert_uint_eq(q.count, 16);
        push_numbered(&q, 116, 160);
        ck_assert_uint_ge(q.cap, 61);
        assert_numbered(&q, 100, 160);

        msg_queue_destroy(&q);
}
END_TEST

static void set_buf(int fd, int opt, int size)
{
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size)), 0);
}

/* Short lines cannot make the ring outgrow the limit: each place counts,
 * and a ring that empties is given back. */
START_TEST(queue_ring_bounded_and_shrinks)
{
        struct msg_queue q;
        struct msg *x = msg_new("x");           /* 3 bytes with CR LF */
        const size_t limit = 64 * 1024;
        size_t n = 0;

        ck_assert_int_eq(msg_queue_init(&q, limit, -1, &framing_telnet), 0);
        while (msg_queue_push(&q, x, NULL) == 0)
                n++;
        ck_assert(msg_queue_overflowed(&q));
        ck_assert_uint_le(n * (3 + MSG_QUEUE_ENTRY_COST), limit);
        ck_assert_uint_gt((n + 1) * (3 + MSG_QUEUE_ENTRY_COST), limit);
        /* The ring itself holds no more than what was counted. */
        ck_assert_uint_le(q.cap * sizeof(struct msg *), limit);
        ck_assert_uint_le(q.cap, 4 * q.count);
        free(drain(&q, NULL));
        ck_assert_uint_eq(q.cap, 16);
        ck_assert_uint_eq(refs(x), 1);
        msg_queue_destroy(&q);
        msg_unref(x);
}
END_TEST

/* History replayed to a joiner has a budget of its own: it never makes
 * the queue overflow, live lines still get the whole limit, and what the
 * replay does not fit is refused without harm. */
START_TEST(queue_replay_budget)
{
        struct msg_queue q;
        struct msg *live = msg_new("%0998d", 0);        /* 1000 bytes */
        const size_t u = 1000 + MSG_QUEUE_ENTRY_COST;
        int sv[2], replayed = 0;

        ck_assert_int_eq(msg_queue_init(&q, 3 * u, -1, &framing_telnet), 0);
        for (int i = 0; i < 10; i++) {
                struct msg *h = msg_new("%0998d", i);
                int r = msg_queue_push_replay(&q, h);
                msg_unref(h);
                if (r == MSG_QUEUE_NO_ROOM)
                        break;
                ck_assert_int_eq(r, 0);
                replayed++;
        }
        ck_assert_int_eq(replayed, 3);
        ck_assert(!msg_queue_overflowed(&q));
        ck_assert_uint_lt(msg_queue_replay_room(&q), u);
        /* The live lines' limit is untouched. */
        for (int i = 0; i < 3; i++)
                ck_assert_int_eq(msg_queue_push(&q, live, NULL), 0);
        ck_assert_int_eq(msg_queue_push(&q, live, NULL), MSG_QUEUE_OVERFLOW);
        msg_queue_destroy(&q);

        /* Written, even in part, the replay gives its budget back. */
        pair(sv);
        set_buf(sv[0], SO_SNDBUF, 4096);
        set_buf(sv[1], SO_RCVBUF, 4096);
        ck_assert_int_eq(msg_queue_init(&q, 3 * u, -1, &framing_telnet), 0);
        for (int i = 0; i < 3; i++) {
                struct msg *h = msg_new("%0998d", i);
                ck_assert_int_eq(msg_queue_push_replay(&q, h), 0);
                msg_unref(h);
        }
        size_t before = msg_queue_replay_room(&q);
        ck_assert_int_eq(msg_queue_write(&q, tp(sv[0])), 0);
        ck_assert_uint_gt(msg_queue_replay_room(&q), before);
        ck_assert_uint_eq(q.replay + (3000 - msg_queue_bytes(&q)), 3000);
        char buf[4096];
        while (recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT) > 0 || msg_queue_pending(&q))
                ck_assert_int_eq(msg_queue_write(&q, tp(sv[0])), 0);
        ck_assert_uint_eq(q.replay, 0);
        ck_assert_uint_eq(q.n_replay, 0);
        ck_assert_uint_eq(msg_queue_replay_room(&q), 3 * u);
        msg_queue_destroy(&q);
        msg_unref(live);
        close(sv[0]);
        close(sv[1]);
}
END_TEST

/* The eventfd counter, 0 when it was not written. */
static uint64_t wakes(int efd)
{
        uint64_t v = 0;
        ssize_t n = read(efd, &v, sizeof(v));

        if (n < 0) {
                ck_assert_int_eq(errno, EAGAIN);
                return 0;
        }
        ck_assert_int_eq(n, sizeof(v));
        return v;
}

START_TEST(queue_wake_fd)
{
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct msg_queue q;

        ck_assert_int_ge(efd, 0);
        /* Room for five short lines, not for a long one. */
        ck_assert_int_eq(msg_queue_init(&q, 5 * (3 + MSG_QUEUE_ENTRY_COST) + 50, efd,
                                        &framing_telnet), 0);
        ck_assert_uint_eq(wakes(efd), 0);

        /* Empty to non-empty: one wake-up; further pushes: none. */
        push_new(&q, "a");
        push_new(&q, "b");
        push_new(&q, "c");
        ck_assert_uint_eq(wakes(efd), 1);
        push_new(&q, "d");
        ck_assert_uint_eq(wakes(efd), 0);

        /* Drained, the next push wakes the owner again. */
        free(drain(&q, NULL));
        ck_assert_uint_eq(wakes(efd), 0);
        push_new(&q, "e");
        ck_assert_uint_eq(wakes(efd), 1);

        /* An overflow wakes the owner even though the queue is not empty,
         * so that it drops the client; later refusals do not. */
        struct msg *big = msg_new("%0200d", 0);
        ck_assert_int_eq(msg_queue_push(&q, big, NULL), MSG_QUEUE_OVERFLOW);
        ck_assert_uint_eq(wakes(efd), 1);
        ck_assert_int_eq(msg_queue_push(&q, big, NULL), MSG_QUEUE_OVERFLOW);
        ck_assert_uint_eq(wakes(efd), 0);
        msg_unref(big);

        msg_queue_destroy(&q);
        close(efd);
}
END_TEST

/* Bytes sent to fd but not read yet. */
static size_t unread(int fd)
{
        int n = 0;

        ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
        return (size_t)n;
}

START_TEST(queue_partial_writes)
{
        enum { LINES = 600 };
        struct msg_queue q;
        int sv[2];
        char *want, *got;
        size_t total = 0, have = 0, size = 0;
        unsigned seed = 12345;
        bool partial = false;
        int rounds = 0;

        /* Lines from 2 to 9000 bytes, some larger than the socket buffer. */
        for (int i = 0; i < LINES; i++)
                size += 9000;
        want = malloc(size);
        got = malloc(size);
        ck_assert_ptr_nonnull(want);
        ck_assert_ptr_nonnull(got);

        pair(sv);
        set_buf(sv[0], SO_SNDBUF, 4096);
        set_buf(sv[1], SO_RCVBUF, 4096);
        ck_assert_int_eq(msg_queue_init(&q, size, -1, &framing_telnet), 0);

        for (int i = 0; i < LINES; i++) {
                int pad = i % 7 == 0 ? (int)(rand_r(&seed) % 8900) : (int)(rand_r(&seed) % 300);
                struct msg *m = msg_new("%d:%0*d", i, pad, 0);
                ck_assert_ptr_nonnull(m);
                memcpy(want + total, m->data, m->len);
                total += m->len;
                ck_assert_int_eq(msg_queue_push(&q, m, NULL), 0);
                msg_unref(m);
        }
        ck_assert_uint_eq(msg_queue_bytes(&q), total);

        /* Write what fits, read a little, write again, until all is read.
         * At every step each byte is either still queued, in the socket, or
         * read: nothing is lost or sent twice. */
        while (have < total) {
                ck_assert_int_eq(msg_queue_write(&q, tp(sv[0])), 0);
                if (msg_queue_pending(&q) && q.offset != 0)
                        partial = true;
                ck_assert_uint_eq(msg_queue_bytes(&q) + unread(sv[1]) + have, total);

                size_t chunk = 1 + rand_r(&seed) % 3000;
                if (chunk > total - have)
                        chunk = total - have;
                ssize_t n = recv(sv[1], got + have, chunk, MSG_DONTWAIT);
                if (n < 0)
                        ck_assert_int_eq(errno, EAGAIN);
                else
                        have += (size_t)n;
                ck_assert_int_lt(++rounds, 1000000);
        }
        ck_assert(!msg_queue_pending(&q));
        ck_assert_uint_eq(msg_queue_bytes(&q), 0);
        ck_assert_uint_eq(unread(sv[1]), 0);
        ck_assert_msg(partial, "no partial write happened: the test did not test it");
        ck_assert_int_gt(rounds, LINES / 10);
        ck_assert_int_eq(memcmp(got, want, total), 0);

        /* And line by line: every line, once, whole and in order. */
        char *p = got, *end = got + total;
        for (int i = 0; i < LINES; i++) {
                char *eol = memchr(p, '\r', (size_t)(end - p));
                ck_assert_ptr_nonnull(eol);
                ck_assert_int_eq(eol[1], '\n');
                ck_assert_int_eq(atoi(p), i);
                p = eol + 2;
        }
        ck_assert_ptr_eq(p, end);

        msg_queue_destroy(&q);
        close(sv[0]);
        close(sv[1]);
        free(want);
        free(got);
}
END_TEST

/* Everything readable on fd now, NUL-terminated, in buf. */
static size_t read_now(int fd, char *buf, size_t size)
{
        size_t got = 0;

        for (;;) {
                ssize_t n = recv(fd, buf + got, size - 1 - got, MSG_DONTWAIT);
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        buf[got] = '\0';
        return got;
}

static struct msg *line(const char *text)
{
        struct msg *m = msg_new("%s", text);
        ck_assert_ptr_nonnull(m);
        return m;
}

/* Give m to q within batch b, as room_say() does for each member. */
static int offer(struct msg_queue *q, struct msg *m, struct msg_batch *b)
{
        return msg_queue_offer(q, m, b, msg_batch_line(b, m, 1), NULL);
}

START_TEST(direct_claim_mine_and_queued_behind)
{
        struct msg_queue q;
        int sv[2], efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct msg *m[4] = { line("a1"), line("a2"), line("b1"), line("a3") };
        struct msg_batch A = { 0 }, B = { 0 };  /* two senders' batches */
        char buf[256];

        pair(sv);
        ck_assert_int_eq(msg_queue_init(&q, 4096, efd, &framing_telnet), 0);
        /* Without a transport to write, nothing is ever written directly;
         * the owner's wake-up waits for the batch's end. */
        msg_batch_begin(&A);
        ck_assert_int_eq(offer(&q, m[0], &A), 0);
        ck_assert_uint_eq(q.count, 1);
        ck_assert_uint_eq(q.pins, 1);
        ck_assert_uint_eq(wakes(efd), 0);
        msg_batch_end(&A);
        ck_assert_uint_eq(wakes(efd), 1);
        ck_assert_uint_eq(q.pins, 0);
        ck_assert_int_eq(msg_queue_write(&q, tp(sv[0])), 0);
        ck_assert_str_eq((read_now(sv[1], buf, sizeof(buf)), buf), "a1\r\n");

        msg_queue_set_direct(&q, tp(sv[0]));
        msg_batch_begin(&A);
        msg_batch_begin(&B);
        ck_assert_int_eq(offer(&q, m[0], &A), 0);
        ck_assert_ptr_eq(q.busy_by, &A);
        ck_assert_uint_eq(q.count, 0);
        ck_assert_int_eq(offer(&q, m[1], &A), 0);       /* A's own, still */
        ck_assert_uint_eq(q.count, 0);
        /* B's line waits behind A's write; the owner is not to write. */
        ck_assert_int_eq(offer(&q, m[2], &B), 0);
        ck_assert_uint_eq(q.count, 1);
        ck_assert_uint_eq(q.pins, 0);
        ck_assert(!msg_queue_pending(&q));
        ck_assert_int_eq(msg_queue_write(&q, tp(sv[0])), 0);
        ck_assert_uint_eq(unread(sv[1]), 0);
        /* With a line queued behind it, A's next line queues too. */
        ck_assert_int_eq(offer(&q, m[3], &A), 0);
        ck_assert_uint_eq(q.count, 2);
        msg_batch_end(&B);
        ck_assert_uint_eq(wakes(efd), 0);
        ck_assert_ptr_eq(q.busy_by, &A);

        msg_batch_end(&A);
        ck_assert_ptr_null(q.busy_by);
        ck_assert_uint_eq(wakes(efd), 1);       /* for what queued behind */
        ck_assert(msg_queue_pending(&q));
        ck_assert_int_eq(msg_queue_write(&q, tp(sv[0])), 0);
        read_now(sv[1], buf, sizeof(buf));
        ck_assert_str_eq(buf, "a1\r\na2\r\nb1\r\na3\r\n");
        ck_assert_uint_eq(msg_queue_bytes(&q), 0);
        for (int i = 0; i < 4; i++) {
                ck_assert_uint_eq(refs(m[i]), 1);       /* none kept */
                msg_unref(m[i]);
        }
        msg_queue_destroy(&q);
        close(sv[0]);
        close(sv[1]);
        close(efd);
}
END_TEST

/* A batch holds at most MSG_DIRECT_MAX lines: the room makes it write
 * them out first (msg_batch_reserve), and a line past it is queued. */
START_TEST(batch_bounded)
{
        struct msg_batch b = { 0 };
        struct msg *m = line("x");

        ck_assert_int_eq(msg_batch_line(&b, m, 1), -1);         /* not open */
        msg_batch_begin(&b);
        for (int i = 0; i < MSG_DIRECT_MAX; i++)
                ck_assert_int_eq(msg_batch_line(&b, m, 1), i);
        ck_assert_int_eq(msg_batch_line(&b, m, 1), -1);
        ck_assert_uint_eq(refs(m), 1 + MSG_DIRECT_MAX);
        msg_batch_reserve(&b);
        ck_assert_uint_eq(refs(m), 1);
        ck_assert_int_eq(msg_batch_line(&b, m, 1), 0);
        msg_batch_end(&b);
        ck_assert(!b.open);
        ck_assert_ptr_null(b.d);
        ck_assert_uint_eq(refs(m), 1);
        msg_batch_end(&b);                      /* without a batch: nothing */
        msg_unref(m);
}
END_TEST

START_TEST(direct_partial_goes_first_in_line)
{
        enum { LINES = MSG_DIRECT_MAX };
        struct msg_queue q;
        struct msg *m[LINES], *later = line("later");
        struct msg_batch b = { 0 };
        int sv[2], efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        size_t total = 0, got = 0, size = LINES * 600 + 64;
        char *want = malloc(size), *buf = malloc(size);

        ck_assert_ptr_nonnull(want);
        ck_assert_ptr_nonnull(buf);
        pair(sv);
        set_buf(sv[0], SO_SNDBUF, 4096);
        set_buf(sv[1], SO_RCVBUF, 4096);
        ck_assert_int_eq(msg_queue_init(&q, size, efd, &framing_telnet), 0);
        msg_queue_set_direct(&q, tp(sv[0]));
        msg_batch_begin(&b);
        for (int i = 0; i < LINES; i++) {
                m[i] = msg_new("%d:%0*d", i, 500 + i, 0);
                ck_assert_ptr_nonnull(m[i]);
                memcpy(want + total, m[i]->data, m[i]->len);
                total += m[i]->len;
                ck_assert_int_eq(offer(&q, m[i], &b), 0);
        }
        memcpy(want + total, later->data, later->len);
        total += later->len;
        ck_assert_ptr_eq(q.busy_by, &b);
        ck_assert_int_eq(msg_queue_push(&q, later, NULL), 0);
        for (int i = 0; i < LINES; i++)
                msg_unref(m[i]);
        msg_unref(later);
        msg_batch_end(&b);
        ck_assert_uint_eq(wakes(efd), 1);
        ck_assert_uint_gt(q.offset + q.count, 1);       /* the socket took only part */
        ck_assert_uint_eq(msg_queue_bytes(&q) + unread(sv[1]), total);

        /* The owner writes the rest as the reader reads: every byte once,
         * in order, the direct lines before the one queued meanwhile. */
        for (int rounds = 0; got < total; rounds++) {
                ck_assert_int_lt(rounds, 100000);
                ck_assert_int_eq(msg_queue_write(&q, tp(sv[0])), 0);
                ssize_t n = recv(sv[1], buf + got, size - got, MSG_DONTWAIT);
                if (n > 0)
                        got += (size_t)n;
        }
        ck_assert_uint_eq(got, total);
        ck_assert_int_eq(memcmp(buf, want, total), 0);
        ck_assert(!msg_queue_pending(&q));
        msg_queue_destroy(&q);
        close(sv[0]);
        close(sv[1]);
        close(efd);
        free(want);
        free(buf);
}
END_TEST

START_TEST(direct_rest_over_limit_overflows)
{
        struct msg_queue q;
        struct msg *m[8];
        struct msg_batch b = { 0 };
        int sv[2];

        pair(sv);
        set_buf(sv[0], SO_SNDBUF, 4096);
        set_buf(sv[1], SO_RCVBUF, 4096);
        ck_assert_int_eq(msg_queue_init(&q, 2000, -1, &framing_telnet), 0);
        msg_queue_set_direct(&q, tp(sv[0]));
        msg_batch_begin(&b);
        for (int i = 0; i < 8; i++) {
                m[i] = msg_new("%0*d", 4000, i);
                ck_assert_ptr_nonnull(m[i]);
                ck_assert_int_eq(offer(&q, m[i], &b), 0);
        }
        ck_assert_ptr_eq(q.busy_by, &b);
        msg_batch_end(&b);
        /* Far more than the socket and max_queue_kib hold: too slow. */
        ck_assert(msg_queue_overflowed(&q));
        ck_assert_uint_le(msg_queue_bytes(&q), 2000);
        msg_batch_begin(&b);
        ck_assert_int_eq(offer(&q, m[0], &b), MSG_QUEUE_OVERFLOW);
        msg_batch_end(&b);
        for (int i = 0; i < 8; i++) {
                ck_assert_uint_eq(refs(m[i]), 1);
                msg_unref(m[i]);
        }
        msg_queue_destroy(&q);
        close(sv[0]);
        close(sv[1]);
}
END_TEST

/* A sender's thread that ends its batch late. */
struct late_ender {
        struct msg_batch *b;
        atomic_bool ended;
};

static void *late_ender(void *arg)
{
        struct late_ender *w = arg;

        usleep(50 * 1000);
        atomic_store(&w->ended, true);
        msg_batch_end(w->b);
        return NULL;
}

START_TEST(direct_close_waits_for_the_write)
{
        struct msg_queue q;
        struct msg_batch b = { 0 }, later = { 0 };
        struct late_ender w = { .b = &b };
        struct msg *last = line("last");
        int sv[2];
        pthread_t t;
        char buf[64];

        pair(sv);
        ck_assert_int_eq(msg_queue_init(&q, 4096, -1, &framing_telnet), 0);
        msg_queue_set_direct(&q, tp(sv[0]));
        msg_batch_begin(&b);
        ck_assert_int_eq(offer(&q, last, &b), 0);
        ck_assert_ptr_eq(q.busy_by, &b);
        ck_assert_int_eq(pthread_create(&t, NULL, late_ender, &w), 0);
        msg_queue_close(&q);
        /* Only once the write is done may the socket be closed. */
        ck_assert(atomic_load(&w.ended));
        read_now(sv[1], buf, sizeof(buf));
        ck_assert_str_eq(buf, "last\r\n");
        /* Closing: no more direct writes. */
        msg_batch_begin(&later);
        ck_assert_int_eq(offer(&q, last, &later), 0);
        ck_assert_ptr_null(q.busy_by);
        ck_assert_uint_eq(q.count, 1);
        pthread_join(t, NULL);
        msg_batch_end(&later);
        msg_queue_destroy(&q);
        msg_unref(last);
        close(sv[0]);
        close(sv[1]);
}
END_TEST

/* A wake-up owed by a batch keeps the queue's owner from closing (and
 * freeing its eventfd) until the batch has paid it. */
START_TEST(batch_wake_owed_holds_close)
{
        struct msg_queue q;
        struct msg_batch b = { 0 };
        struct late_ender w = { .b = &b };
        struct msg *m = line("queued");
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        pthread_t t;

        ck_assert_int_eq(msg_queue_init(&q, 4096, efd, &framing_telnet), 0);
        msg_batch_begin(&b);
        ck_assert_int_eq(offer(&q, m, &b), 0);
        ck_assert_uint_eq(q.pins, 1);
        ck_assert_int_eq(pthread_create(&t, NULL, late_ender, &w), 0);
        msg_queue_close(&q);
        ck_assert(atomic_load(&w.ended));
        ck_assert_uint_eq(q.pins, 0);
        ck_assert_uint_eq(wakes(efd), 1);
        pthread_join(t, NULL);
        msg_queue_destroy(&q);
        msg_unref(m);
        close(efd);
}
END_TEST

START_TEST(direct_hold_keeps_senders_to_the_queue)
{
        struct msg_queue q;
        struct msg_batch b = { 0 }, other = { 0 };
        struct late_ender w = { .b = &b };
        struct msg *direct = line("direct"), *queued = line("queued");
        int sv[2], efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        pthread_t t;
        char buf[128];

        pair(sv);
        ck_assert_int_eq(msg_queue_init(&q, 4096, efd, &framing_telnet), 0);
        msg_queue_set_direct(&q, tp(sv[0]));
        /* The owner waits for a direct write under way before its own. */
        msg_batch_begin(&b);
        ck_assert_int_eq(offer(&q, direct, &b), 0);
        ck_assert_int_eq(pthread_create(&t, NULL, late_ender, &w), 0);
        msg_queue_hold(&q, true);
        ck_assert(atomic_load(&w.ended));
        ck_assert_int_eq(send(sv[0], "\xff\xfc\x01", 3, 0), 3);       /* IAC WONT ECHO */
        /* Held: a sender's line is queued, and nobody is woken for it. */
        msg_batch_begin(&other);
        ck_assert_int_eq(offer(&q, queued, &other), 0);
        ck_assert_uint_eq(q.count, 1);
        ck_assert_uint_eq(q.pins, 0);
        msg_batch_end(&other);
        ck_assert(!msg_queue_pending(&q));
        wakes(efd);
        msg_queue_hold(&q, false);
        ck_assert(msg_queue_pending(&q));
        ck_assert_int_eq(msg_queue_write(&q, tp(sv[0])), 0);
        read_now(sv[1], buf, sizeof(buf));
        ck_assert_str_eq(buf, "direct\r\n\xff\xfc\x01queued\r\n");
        /* Released: direct writes again. */
        msg_batch_begin(&other);
        ck_assert_int_eq(offer(&q, queued, &other), 0);
        ck_assert_ptr_eq(q.busy_by, &other);
        msg_batch_end(&other);
        read_now(sv[1], buf, sizeof(buf));
        ck_assert_str_eq(buf, "queued\r\n");
        pthread_join(t, NULL);
        msg_queue_destroy(&q);
        msg_unref(direct);
        msg_unref(queued);
        close(sv[0]);
        close(sv[1]);
        close(efd);
}
END_TEST

START_TEST(queue_peer_closed)
{
        struct msg_queue q;
        int sv[2];

        /* MSG_NOSIGNAL: an error code, not a SIGPIPE that kills the test. */
        signal(SIGPIPE, SIG_DFL);
        pair(sv);
        close(sv[1]);
        ck_assert_int_eq(msg_queue_init(&q, 1024, -1, &framing_telnet), 0);
        push_new(&q, "into the void");
        int r = msg_queue_write(&q, tp(sv[0]));
        ck_assert_msg(r == -EPIPE || r == -ECONNRESET, "got %d", r);
        /* The line stays queued; destroy releases it. */
        ck_assert(msg_queue_pending(&q));
        msg_queue_destroy(&q);
        close(sv[0]);

        /* Same when the peer goes away with unread data. */
        pair(sv);
        ck_assert_int_eq(msg_queue_init(&q, 1024, -1, &framing_telnet), 0);
        push_new(&q, "first");
        ck_assert_int_eq(msg_queue_write(&q, tp(sv[0])), 0);
        close(sv[1]);
        push_new(&q, "second");
        r = msg_queue_write(&q, tp(sv[0]));
        ck_assert_msg(r == -EPIPE || r == -ECONNRESET, "got %d", r);
        msg_queue_destroy(&q);
        close(sv[0]);
}
END_TEST

/* Threads: producers push numbered lines into one queue, the test thread
 * drains it the way a client thread does (eventfd wake-ups, POLLOUT when
 * the socket is full), and a reader checks what arrives. */
enum { PRODUCERS = 4, PER_PRODUCER = 5000 };

static struct msg_queue shared_q;
static atomic_int producers_done;
static atomic_int push_errors;

static void *producer(void *arg)
{
        int id = (int)(intptr_t)arg;

        for (int i = 0; i < PER_PRODUCER; i++) {
                struct msg *m = msg_new("p%d %d", id, i);
                if (!m || msg_queue_push(&shared_q, m, NULL) != 0)
                        atomic_fetch_add(&push_errors, 1);
                msg_unref(m);
                if (i % 512 == 0)
                        sched_yield();
        }
        atomic_fetch_add(&producers_done, 1);
        return NULL;
}

struct reader {
        int fd;
        int next[PRODUCERS];    /* the sequence number expected next */
        int errors;
        char first_error[128];
};

static void reader_error(struct reader *rd, const char *line)
{
        if (rd->errors++ == 0)
                snprintf(rd->first_error, sizeof(rd->first_error), "%.100s", line);
}

static void reader_line(struct reader *rd, char *line)
{
        int id, seq, end = 0;

        if (sscanf(line, "p%d %d%n", &id, &seq, &end) != 2 || line[end] != '\0' ||
            id < 0 || id >= PRODUCERS || seq != rd->next[id])
                reader_error(rd, line);
        else
                rd->next[id]++;
}

static void *reader(void *arg)
{
        struct reader *rd = arg;
        char buf[4096], line[64];
        size_t len = 0;

        for (;;) {
                ssize_t n = read(rd->fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n') {
                                if (len == 0 || line[len - 1] != '\r') {
                                        reader_error(rd, "LF without CR");
                                } else {
                                        line[len - 1] = '\0';
                                        reader_line(rd, line);
                                }
                                len = 0;
                        } else if (len < sizeof(line) - 1) {
                                line[len++] = buf[i];
                        } else {
                                reader_error(rd, "line too long");
                                len = 0;
                        }
                }
        }
        if (len)
                reader_error(rd, "unterminated last line");
        return NULL;
}

START_TEST(queue_threads)
{
        pthread_t prod[PRODUCERS], rd_thread;
        struct reader rd;
        int sv[2];
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        int stalls = 0;

        ck_assert_int_ge(efd, 0);
        pair(sv);
        set_buf(sv[0], SO_SNDBUF, 16384);
        memset(&rd, 0, sizeof(rd));
        rd.fd = sv[1];
        atomic_store(&producers_done, 0);
        atomic_store(&push_errors, 0);
        ck_assert_int_eq(msg_queue_init(&shared_q, 64u << 20, efd, &framing_telnet), 0);

        ck_assert_int_eq(pthread_create(&rd_thread, NULL, reader, &rd), 0);
        for (intptr_t i = 0; i < PRODUCERS; i++)
                ck_assert_int_eq(pthread_create(&prod[i], NULL, producer, (void *)i), 0);

        for (;;) {
                /* Clear the wake-up before draining: a push that finds the
                 * queue empty after this drain will signal again. */
                uint64_t v;
                if (read(efd, &v, sizeof(v)) < 0)
                        ck_assert_int_eq(errno, EAGAIN);
                ck_assert_int_eq(msg_queue_write(&shared_q, tp(sv[0])), 0);
                bool pending = msg_queue_pending(&shared_q);
                if (!pending && atomic_load(&producers_done) == PRODUCERS &&
                    !msg_queue_pending(&shared_q))
                        break;

                struct pollfd pfd[2] = {
                        { .fd = efd, .events = POLLIN },
                        { .fd = sv[0], .events = pending ? POLLOUT : 0 },
                };
                /* Producers finishing do not signal: wait briefly then. */
                int n = poll(pfd, 2, atomic_load(&producers_done) == PRODUCERS ? 10 : 5000);
                ck_assert_int_ge(n, 0);
                if (n == 0 && atomic_load(&producers_done) != PRODUCERS)
                        ck_assert_msg(++stalls < 3, "no wake-up although lines were queued");
        }
        for (int i = 0; i < PRODUCERS; i++)
                pthread_join(prod[i], NULL);
        shutdown(sv[0], SHUT_WR);
        pthread_join(rd_thread, NULL);

        ck_assert_int_eq(atomic_load(&push_errors), 0);
        ck_assert_msg(rd.errors == 0, "%d bad lines, first: %s", rd.errors, rd.first_error);
        for (int i = 0; i < PRODUCERS; i++)
                ck_assert_int_eq(rd.next[i], PER_PRODUCER);
        ck_assert(!msg_queue_overflowed(&shared_q));
        ck_assert_uint_eq(msg_queue_bytes(&shared_q), 0);

        msg_queue_destroy(&shared_q);
        close(sv[0]);
        close(sv[1]);
        close(efd);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("msg");
        TCase *tc = tcase_create("msg");
        TCase *tq = tcase_create("queue");

        tcase_add_test(tc, msg_format);
        tcase_add_test(tc, msg_refcount);
        tcase_add_test(tc, msg_wire_forms);
        suite_add_tcase(s, tc);

        tcase_add_test(tq, queue_order_and_bytes);
        tcase_add_test(tq, queue_limit_overflow);
        tcase_add_test(tq, queue_push_fill);
        tcase_add_test(tq, queue_ring_growth);
        tcase_add_test(tq, queue_ring_bounded_and_shrinks);
        tcase_add_test(tq, queue_replay_budget);
        tcase_add_test(tq, queue_wake_fd);
        tcase_add_test(tq, queue_partial_writes);
        tcase_add_test(tq, queue_peer_closed);
        tcase_add_test(tq, queue_threads);
        tcase_add_test(tq, direct_claim_mine_and_queued_behind);
        tcase_add_test(tq, batch_bounded);
        tcase_add_test(tq, batch_wake_owed_holds_close);
        tcase_add_test(tq, direct_partial_goes_first_in_line);
        tcase_add_test(tq, direct_rest_over_limit_overflows);
        tcase_add_test(tq, direct_close_waits_for_the_write);
        tcase_add_test(tq, direct_hold_keeps_senders_to_the_queue);
        suite_add_tcase(s, tq);
        return s;
}
