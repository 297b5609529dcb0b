/* Unit: TLS credentials, the server's handshake, and one session read by
 * its thread while another thread writes to it, through key updates
 * both ways (the locking tls.h describes; this suite runs under TSan in
 * tests/run-all tsan). The peer is a GnuTLS client in the test, over a
 * socketpair; the certificates are made by tests/tls/make-certs. */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "framing.h"
#include "harness.h"
#include "msg.h"
#include "suite.h"
#include "tls.h"
#include "transport.h"

static char pki[64];
static char path_buf[8][160];

static const char *file(const char *name)
{
        static int next;
        char *p = path_buf[next++ % 8];

        snprintf(p, sizeof(path_buf[0]), "%s/%s", pki, name);
        return p;
}

static void setup(void)
{
        ck_assert_int_eq(pd_tls_certs(pki, sizeof(pki)), 0);
}

static void teardown(void)
{
        pd_tls_remove(pki);
}

static struct tls_creds *load(const char *cert, const char *key, const char *prio)
{
        struct tls_creds *cr = NULL;
        enum tls_what what;
        char err[512];
        int r = tls_creds_load(file(cert), file(key), prio ? prio : TLS_PRIORITY_DEFAULT, &cr,
                               &what, err, sizeof(err));

        ck_assert_msg(r == 0, "%s + %s: %s", cert, key, err);
        return cr;
}

/* A load that must fail: what it blames, and a piece of its words. */
static void refused(const char *cert, const char *key, const char *prio, enum tls_what want,
                    const char *words)
{
        struct tls_creds *cr = (struct tls_creds *)1;
        enum tls_what what;
        char err[512];
        int r = tls_creds_load(cert[0] == '/' ? cert : file(cert), key[0] == '/' ? key : file(key),
                               prio ? prio : TLS_PRIORITY_DEFAULT, &cr, &what, err, sizeof(err));

        ck_assert_int_lt(r, 0);
        ck_assert_ptr_null(cr);
        ck_assert_int_eq(what, want);
        ck_assert_msg(strstr(err, words), "want '%s' in: %s", words, err);
}

START_TEST(creds_load_and_refuse)
{
        char what[512];
        struct tls_creds *cr = load("fullchain.pem", "privkey.pem", NULL);

        tls_creds_describe(cr, what, sizeof(what));
        ck_assert_msg(strstr(what, "CN=localhost") && strstr(what, "(2 in the chain)") &&
                      strstr(what, "valid until"), "%s", what);
        ck_assert(tls_creds_not_after(cr) > tls_creds_not_before(cr));
        /* Its own reference and the caller's. */
        ck_assert_ptr_eq(tls_creds_ref(cr), cr);
        tls_creds_unref(cr);
        tls_creds_unref(cr);
        tls_creds_unref(load("server-rsa.pem", "server-rsa.key", NULL));
        tls_creds_unref(load("expired.pem", "expired.key", "NORMAL"));

        refused("fullchain.pem", "privkey2.pem", NULL, TLS_WHAT_KEY,
                "is not the key of the certificate in");
        refused("fullchain.pem", "broken.key", NULL, TLS_WHAT_KEY,
                "holds no unencrypted PEM private key");
        refused("fullchain.pem", "missing.key", NULL, TLS_WHAT_KEY,
                "cannot read");
        refused("missing.pem", "privkey.pem", NULL, TLS_WHAT_CERT, "No such file");
        refused("privkey.pem", "privkey.pem", NULL, TLS_WHAT_CERT, "holds no PEM certificate");
        refused("/tmp", "privkey.pem", NULL, TLS_WHAT_CERT, "not a regular file");
        refused("fullchain.pem", "privkey.pem", "NORMAL:+NO-SUCH-THING", TLS_WHAT_PRIORITY,
                "is not a GnuTLS priority string");
}
END_TEST

START_TEST(hello_bytes)
{
        static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00 };
        static const uint8_t get[] = "GET / HTTP/1.1";

        ck_assert(tls_looks_like_hello(hello, 5));
        ck_assert(tls_looks_like_hello(hello, 1));
        ck_assert(!tls_looks_like_hello(get, 3));
        ck_assert(!tls_looks_like_hello((const uint8_t *)"\x16\x04", 2));
        ck_assert(!tls_looks_like_hello((const uint8_t *)"\x16\x03\x09", 3));
}
END_TEST

/* ---- a session over a socketpair ------------------------------------------ */

struct pair {
        struct transport t;             /* the server's */
        int cfd;                        /* the client's end */
        struct tls_creds *cr;
        int halt[2];
        int64_t timeout_ms;
        const char *hint;
        int result;
        char why[256];
        pthread_t th;
};

static void *handshake_thread(void *arg)
{
        struct pair *p = arg;

        p->result = tls_handshake(&p->t, p->cr, p->timeout_ms, p->halt[0], p->hint, p->why,
                                  sizeof(p->why));
        return NULL;
}

static void pair_open(struct pair *p, int64_t timeout_ms, const char *hint)
{
        int sv[2];

        memset(p, 0, sizeof(*p));
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        ck_assert_int_eq(pipe(p->halt), 0);
        transport_tls(&p->t, sv[0]);
        ck_assert(transport_is_tls(&p->t));
        p->cfd = sv[1];
        p->cr = load("fullchain.pem", "privkey.pem", NULL);
        p->timeout_ms = timeout_ms;
        p->hint = hint;
        ck_assert_int_eq(pthread_create(&p->th, NULL, handshake_thread, p), 0);
}

static void pair_join(struct pair *p)
{
        pthread_join(p->th, NULL);
}

static void pair_close(struct pair *p)
{
        p->t.ops->close(&p->t);
        tls_creds_unref(p->cr);
        close(p->halt[0]);
        close(p->halt[1]);
}

START_TEST(handshake_then_bytes)
{
        struct pair p;
        struct pd_client c = { .fd = -1 };
        struct iovec iov = { .iov_base = "from the server\r\n", .iov_len = 17 };
        char line[64], buf[64];

        /* Before its handshake a TLS transport moves nothing. */
        pair_open(&p, 5000, NULL);
        c.fd = p.cfd;
        ck_assert_int_eq(pd_tls_start(&c, file("ca.pem"), "localhost", 5000), 0);
        pair_join(&p);
        ck_assert_msg(p.result == 0, "%s", p.why);
        ck_assert_str_eq(pd_tls_version(&c), "TLS1.3");
        tls_describe(&p.t, line, sizeof(line));
        ck_assert_msg(strncmp(line, "TLS1.3 ", 7) == 0, "%s", line);

        ck_assert_int_eq(transport_sendv(&p.t, &iov, 1), 17);
        ck_assert_int_eq(pd_line(&c, line, sizeof(line), 2000), 15);
        ck_assert_str_eq(line, "from the server");
        ck_assert_int_eq(pd_send(&c, "from the client\r\n"), 0);
        struct pollfd pfd = { .fd = p.t.fd, .events = POLLIN };
        ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
        ck_assert_int_eq(transport_recv(&p.t, buf, sizeof(buf), false, false), 17);
        ck_assert_int_eq(memcmp(buf, "from the client\r\n", 17), 0);
        /* Nothing more: a read that would wait says so. */
        ck_assert_int_eq(transport_recv(&p.t, buf, sizeof(buf), false, false), TRANSPORT_NONE);
        /* The end: close_notify, then the client reads its end. */
        p.t.ops->finish(&p.t);
        ck_assert(pd_wait_closed(&c, 2000));
        pd_close(&c);
        pair_close(&p);
}
END_TEST

START_TEST(refusal_before_handshake_says_nothing)
{
        struct transport t;
        int sv[2];
        char b;
        struct iovec iov = { .iov_base = "server full\r\n", .iov_len = 13 };

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        transport_tls(&t, sv[0]);
        ck_assert_int_eq(transport_sendv(&t, &iov, 1), -ENOTCONN);
        ck_assert_int_eq(transport_recv(&t, &b, 1, false, false), -ENOTCONN);
        t.ops->finish(&t);
        t.ops->close(&t);
        ck_assert_int_eq(recv(sv[1], &b, 1, MSG_DONTWAIT), 0);
        close(sv[1]);
}
END_TEST

START_TEST(plain_text_is_told_in_clear)
{
        struct pair p;
        char got[128];
        ssize_t n, k = 0;

        pair_open(&p, 5000, "speak TLS here\r\n");
        ck_assert_int_eq(send(p.cfd, "hello\r\n", 7, 0), 7);
        pair_join(&p);
        ck_assert_int_eq(p.result, TLS_NOT_TLS);
        ck_assert_msg(strstr(p.why, "plain text on a TLS port") && strstr(p.why, "hello"), "%s",
                      p.why);
        while (k < (ssize_t)sizeof(got) - 1 && (n = recv(p.cfd, got + k, sizeof(got) - 1 - (size_t)k,
                                                        MSG_DONTWAIT)) > 0)
                k += n;
        got[k] = '\0';
        ck_assert_str_eq(got, "speak TLS here\r\n");
        close(p.cfd);
        pair_close(&p);
}
END_TEST

START_TEST(silent_client_times_out)
{
        struct pair p;
        int64_t t0 = clock_now_ms();

        pair_open(&p, 300, NULL);
        pair_join(&p);
        int64_t took = clock_now_ms() - t0;
        ck_assert_int_eq(p.result, -ETIMEDOUT);
        ck_assert_msg(strstr(p.why, "timed out"), "%s", p.why);
        ck_assert_msg(took >= 280 && took < 3000, "took %lld ms", (long long)took);
        close(p.cfd);
        pair_close(&p);
}
END_TEST

START_TEST(half_a_hello_times_out)
{
        struct pair p;

        pair_open(&p, 300, NULL);
        /* A record header that promises a ClientHello that never comes. */
        ck_assert_int_eq(send(p.cfd, "\x16\x03\x01\x02\x00\x01", 6, 0), 6);
        pair_join(&p);
        ck_assert_int_eq(p.result, -ETIMEDOUT);
        close(p.cfd);
        pair_close(&p);
}
END_TEST

START_TEST(shutdown_ends_a_handshake)
{
        struct pair p;

        pair_open(&p, 10000, NULL);
        usleep(50000);
        ck_assert_int_eq(write(p.halt[1], "x", 1), 1);
        pair_join(&p);
        ck_assert_int_eq(p.result, -ESHUTDOWN);
        close(p.cfd);
        pair_close(&p);
}
END_TEST

START_TEST(bad_hello_fails)
{
        struct pair p;
        /* A handshake record whose body is no ClientHello. */
        static const char junk[] = "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00";

        pair_open(&p, 5000, NULL);
        ck_assert_int_eq(send(p.cfd, junk, sizeof(junk) - 1, 0), (ssize_t)sizeof(junk) - 1);
        pair_join(&p);
        ck_assert_int_eq(p.result, TLS_FAILED);
        ck_assert_msg(strstr(p.why, "TLS handshake failed"), "%s", p.why);
        close(p.cfd);
        pair_close(&p);
}
END_TEST

/* ---- one reader, one writer, key updates ---------------------------------- */

#define RUN_MS     3500         /* how long each side sends */
#define KU_EVERY   1100         /* ms between the client's key updates (GnuTLS
                                 * refuses more than a few a second) */

struct duplex {
        struct pair p;
        atomic_bool stop;
        /* The server's writer thread: lines "s000001\n".. then "E\n". */
        unsigned sent;
        unsigned partial, busy, held;   /* what its sends met */
        /* The server's reader thread: what came, in order. */
        unsigned got;
        bool got_end;
        char error[128];
};

static void *server_writer(void *arg)
{
        struct duplex *x = arg;
        struct transport *t = &x->p.t;
        char line[32];
        size_t off = 0, len = 0;
        bool ended = false;

        for (;;) {
                if (off == len) {
                        if (ended)
                                break;
                        if (atomic_load(&x->stop)) {
                                strcpy(line, "E\n");
                                ended = true;
                        } else {
                                snprintf(line, sizeof(line), "s%06u\n", ++x->sent);
                        }
                        len = strlen(line);
                        off = 0;
                }
                struct iovec iov = { .iov_base = line + off, .iov_len = len - off };
                ssize_t w = transport_sendv(t, &iov, 1);
                if (w < 0) {
                        snprintf(x->error, sizeof(x->error), "send: %s", strerror((int)-w));
                        return NULL;
                }
                off += (size_t)w;
                if (w == 0)
                        x->busy++;
                else if (off < len)
                        x->partial++;
                if (transport_held(t))
                        x->held++;
                /* What is held goes when there is room; otherwise a
                 * moment's pause, so that lines come at a pace. */
                while (transport_held(t)) {
                        struct pollfd pfd = { .fd = t->fd, .events = POLLOUT };
                        poll(&pfd, 1, 100);
                        if (transport_flush(t) < 0)
                                return NULL;
                }
                if (w == 0 || (x->sent % 16) == 0)
                        usleep(200);
        }
        return NULL;
}

static void *server_reader(void *arg)
{
        struct duplex *x = arg;
        struct transport *t = &x->p.t;
        char buf[2048], part[32];
        size_t plen = 0;
        int64_t end = clock_now_ms() + RUN_MS + 15000;

        while (!x->got_end && clock_now_ms() < end) {
                struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
                if (!transport_buffered(t) && poll(&pfd, 1, 100) <= 0)
                        continue;
                ssize_t n = transport_recv(t, buf, sizeof(buf), false, false);
                if (n == TRANSPORT_NONE)
                        continue;
                if (n < 0) {
                        snprintf(x->error, sizeof(x->error), "recv: %s", strerror((int)-n));
                        return NULL;
                }
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] != '\n') {
                                if (plen < sizeof(part) - 1)
                                        part[plen++] = buf[i];
                                continue;
                        }
                        part[plen] = '\0';
                        plen = 0;
                        if (strcmp(part, "E") == 0) {
                                x->got_end = true;
                                continue;
                        }
                        char want[16];
                        snprintf(want, sizeof(want), "c%06u", x->got + 1);
                        if (strcmp(part, want) != 0) {
                                snprintf(x->error, sizeof(x->error), "got '%s', want '%s'", part,
                                         want);
                                return NULL;
                        }
                        x->got++;
                }
        }
        return NULL;
}

static atomic_uint server_updates;

static int count_updates(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
                         const gnutls_datum_t *msg)
{
        (void)s;
        (void)htype;
        (void)msg;
        if (incoming && when == GNUTLS_HOOK_POST)
                atomic_fetch_add(&server_updates, 1);
        return 0;
}

START_TEST(one_reader_one_writer_through_key_updates)
{
        static struct duplex x;
        struct pd_client c = { .fd = -1 };
        pthread_t wt, rt;

        memset(&x, 0, sizeof(x));
        atomic_init(&server_updates, 0);
        pair_open(&x.p, 5000, NULL);
        /* A small send buffer: records are taken in part, and the rest is
         * held and written later (transport_held()). */
        int small = 4096;
        setsockopt(x.p.t.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
        c.fd = x.p.cfd;
        ck_assert_int_eq(pd_tls_start(&c, file("ca.pem"), "localhost", 5000), 0);
        pair_join(&x.p);
        ck_assert_msg(x.p.result == 0, "%s", x.p.why);
        gnutls_session_t s = c.tls;
        gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_KEY_UPDATE, GNUTLS_HOOK_POST,
                                           count_updates);
        ck_assert_int_eq(pthread_create(&wt, NULL, server_writer, &x), 0);
        ck_assert_int_eq(pthread_create(&rt, NULL, server_reader, &x), 0);

        /* The client: one thread, non-blocking, sending its lines and
         * asking for key updates while it takes the server's. */
        fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
        unsigned csent = 0, cgot = 0, asked = 0;
        int pending = 0;        /* 1: a record, 2: a key update, waits to go */
        bool cend_sent = false, cend_got = false, failed = false;
        char rbuf[4096], part[32], err[160] = "";
        size_t plen = 0;
        int64_t t0 = clock_now_ms(), next_ku = t0 + 200, deadline = t0 + RUN_MS + 20000;

        while ((!cend_got || !cend_sent || pending) && !failed && clock_now_ms() < deadline) {
                int64_t now = clock_now_ms();
                if (now - t0 >= RUN_MS)
                        atomic_store(&x.stop, true);
                struct pollfd pfd = { .fd = c.fd, .events = POLLIN | POLLOUT };
                if (gnutls_record_check_pending(s) == 0)
                        poll(&pfd, 1, 50);
                ssize_t n;
                while ((n = gnutls_record_recv(s, rbuf, sizeof(rbuf))) > 0) {
                        for (ssize_t i = 0; i < n; i++) {
                                if (rbuf[i] != '\n') {
                                        if (plen < sizeof(part) - 1)
                                                part[plen++] = rbuf[i];
                                        continue;
                                }
                                part[plen] = '\0';
                                plen = 0;
                                char want[16];
                                snprintf(want, sizeof(want), "s%06u", cgot + 1);
                                if (strcmp(part, "E") == 0) {
                                        cend_got = true;
                                } else if (strcmp(part, want) == 0) {
                                        cgot++;
                                } else {
                                        snprintf(err, sizeof(err), "client got '%s', want '%s'",
                                                 part, want);
                                        failed = true;
                                }
                        }
                }
                if (n < 0 && n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) {
                        snprintf(err, sizeof(err), "client recv: %s", gnutls_strerror((int)n));
                        break;
                }
                if (!(pfd.revents & POLLOUT) && pending == 0 && cend_sent)
                        continue;
                int r = 0;
                if (pending == 2) {
                        r = gnutls_session_key_update(s, GNUTLS_KU_PEER);
                } else if (pending == 1) {
                        r = (int)gnutls_record_send(s, NULL, 0);
                } else if (!cend_sent && now >= next_ku && now - t0 < RUN_MS) {
                        next_ku = now + KU_EVERY;
                        asked++;
                        pending = 2;
                        r = gnutls_session_key_update(s, GNUTLS_KU_PEER);
                } else if (!cend_sent) {
                        char chunk[16 * 8 + 4];
                        size_t k = 0;
                        bool last = now - t0 >= RUN_MS;
                        for (int i = 0; i < 16 && !last; i++)
                                k += (size_t)snprintf(chunk + k, sizeof(chunk) - k, "c%06u\n",
                                                      ++csent);
                        if (last) {
                                memcpy(chunk, "E\n", 2);
                                k = 2;
                                cend_sent = true;
                        }
                        pending = 1;
                        r = (int)gnutls_record_send(s, chunk, k);
                        usleep(300);
                }
                if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
                        continue;
                pending = 0;
                if (r < 0) {
                        snprintf(err, sizeof(err), "client send: %s", gnutls_strerror(r));
                        failed = true;
                }
        }
        atomic_store(&x.stop, true);
        pthread_join(wt, NULL);
        pthread_join(rt, NULL);
        ck_assert_msg(!err[0], "%s", err);
        ck_assert_msg(!x.error[0], "server: %s", x.error);
        ck_assert_msg(cend_got && x.got_end, "ends: client %d, server %d", cend_got, x.got_end);
        /* Every line, in order, both ways. */
        ck_assert_uint_eq(x.got, csent);
        ck_assert_uint_eq(cgot, x.sent);
        ck_assert_uint_ge(x.sent, 1000);
        ck_assert_uint_ge(csent, 1000);
        /* Each key update asked for was made by the server, in a send. */
        ck_assert_uint_ge(asked, 3);
        ck_assert_uint_eq(atomic_load(&server_updates), asked);
        printf("duplex: %u lines out, %u in, %u key updates each way; sends taken in part %u, "
               "held %u, busy %u\n", x.sent, x.got, asked, x.partial, x.held, x.busy);
        pd_close(&c);
        pair_close(&x.p);
}
END_TEST

/* ---- the queue's direct writes over TLS ----------------------------------- */

START_TEST(queue_writes_what_tls_holds)
{
        struct pair p;
        struct pd_client c = { .fd = -1 };
        struct msg_queue q;
        struct msg_batch b = { 0 };
        char line[64];
        uint64_t v;
        int efd[2];

        pair_open(&p, 5000, NULL);
        int small = 4096;
        setsockopt(p.t.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
        c.fd = p.cfd;
        ck_assert_int_eq(pd_tls_start(&c, file("ca.pem"), "localhost", 5000), 0);
        pair_join(&p);
        ck_assert_int_eq(p.result, 0);
        ck_assert_int_eq(pipe2(efd, O_NONBLOCK), 0);
        ck_assert_int_eq(msg_queue_init(&q, 1 << 20, efd[1], &framing_telnet), 0);
        msg_queue_set_direct(&q, &p.t);

        /* A batch's direct write of more than the socket takes: some is
         * queued, some held by TLS; the owner is woken either way. */
        unsigned n = 0, rounds = 0;
        while (!transport_held(&p.t) && rounds++ < 50) {
                msg_batch_begin(&b);
                for (int i = 0; i < 60; i++) {
                        struct msg *m = msg_new("line %05u %0200d", ++n, 0);
                        msg_batch_reserve(&b);
                        int k = msg_batch_line(&b, m, 1);
                        ck_assert_int_eq(msg_queue_offer(&q, m, &b, k, NULL), 0);
                        msg_unref(m);
                }
                msg_batch_end(&b);
        }
        ck_assert_msg(transport_held(&p.t), "the socket took %u lines whole", n);
        ck_assert_int_gt(read(efd[0], &v, sizeof(v)), 0);
        /* The owner writes the rest while the client reads. */
        for (unsigned got = 0; got < n;) {
                struct pollfd pfd = { .fd = p.t.fd, .events = POLLOUT };
                if (msg_queue_pending(&q) || transport_held(&p.t)) {
                        poll(&pfd, 1, 10);
                        ck_assert_int_eq(msg_queue_write(&q, &p.t), 0);
                }
                int r = pd_line(&c, line, sizeof(line), 50);
                if (r == -1)
                        continue;
                ck_assert_int_gt(r, 0);
                char want[16];
                snprintf(want, sizeof(want), "line %05u", ++got);
                ck_assert_msg(strncmp(line, want, 10) == 0, "got '%.20s', want '%s'", line, want);
        }
        ck_assert(!transport_held(&p.t));
        ck_assert(!msg_queue_pending(&q));
        msg_queue_close(&q);
        msg_queue_destroy(&q);
        close(efd[0]);
        close(efd[1]);
        pd_close(&c);
        pair_close(&p);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("tls");
        TCase *tc = tcase_create("tls");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, creds_load_and_refuse);
        tcase_add_test(tc, hello_bytes);
        tcase_add_test(tc, handshake_then_bytes);
        tcase_add_test(tc, refusal_before_handshake_says_nothing);
        tcase_add_test(tc, plain_text_is_told_in_clear);
        tcase_add_test(tc, silent_client_times_out);
        tcase_add_test(tc, half_a_hello_times_out);
        tcase_add_test(tc, shutdown_ends_a_handshake);
        tcase_add_test(tc, bad_hello_fails);
        tcase_add_test(tc, one_reader_one_writer_through_key_updates);
        tcase_add_test(tc, queue_writes_what_tls_holds);
        suite_add_tcase(s, tc);
        return s;
}
