/* tls: GnuTLS credentials, the server's handshake, and the TLS transport. */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "clock.h"
#include "gtls.h"

/* Plaintext bytes gathered into one record: lines are short, and one
 * record (one system call, one authentication tag) for many of them is
 * most of what makes TLS fan-out affordable. Below the largest record
 * (16 KiB), on the stack of whichever thread writes. */
#define TLS_CHUNK 4096

/* GnuTLS updates its own keys (TLS 1.3) after 2^24 - 3 records in one
 * epoch; from this many on, every send is made alone (see tls.h). */
#define TLS_REKEY_NEAR ((UINT64_C(1) << 24) - 4096)

/* How long finish() lets the close_notify alert wait for room. */
#define TLS_BYE_MS 200

/* ---- credentials ---------------------------------------------------------- */

struct tls_creds {
        atomic_uint refs;
        gnutls_certificate_credentials_t x509;
        gnutls_priority_t prio;
        char subject[192];
        unsigned chain;                 /* certificates in certfile */
        time_t not_before, not_after;
};

/* All of a file (at most TLS_FILE_MAX bytes), NUL-terminated: 0 or -errno. */
static int read_file(const char *path, gnutls_datum_t *out)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        int r = 0;

        out->data = NULL;
        out->size = 0;
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
        } else if (!S_ISREG(st.st_mode)) {
                r = -EINVAL;
        } else if (st.st_size > TLS_FILE_MAX) {
                r = -EFBIG;
        } else if (!(out->data = malloc((size_t)st.st_size + 1))) {
                r = -ENOMEM;
        } else {
                size_t n = 0;
                while (n < (size_t)st.st_size) {
                        ssize_t k = read(fd, out->data + n, (size_t)st.st_size - n);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0) {
                                r = k < 0 ? -errno : -EIO;
                                break;
                        }
                        n += (size_t)k;
                }
                out->data[n] = '\0';
                out->size = (unsigned)n;
        }
        close(fd);
        if (r < 0) {
                free(out->data);
                out->data = NULL;
        }
        return r;
}

static void forget(gnutls_datum_t *d)
{
        if (d->data) {
                explicit_bzero(d->data, d->size);
                free(d->data);
        }
        d->data = NULL;
}

static const char *file_error(int r)
{
        return r == -EINVAL ? "not a regular file" :
               r == -EFBIG ? "larger than " "256 KiB" : strerror(-r);
}

static void describe_time(time_t t, char *buf, size_t size)
{
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm) == 0)
                snprintf(buf, size, "%lld", (long long)t);
}

/* The chain from cert: its first certificate's subject and validity. */
static int check_chain(struct tls_creds *cr, const gnutls_datum_t *cert, char *err, size_t size,
                       const char *certfile)
{
        gnutls_x509_crt_t *crts = NULL;
        unsigned n = 0;
        int r = gtls.x509_crt_list_import2(&crts, &n, cert, GNUTLS_X509_FMT_PEM, 0);

        if (r < 0 || n == 0) {
                snprintf(err, size, "certfile: %s holds no PEM certificate (%s)", certfile,
                         r < 0 ? gtls.strerror(r) : "empty");
                if (r >= 0)
                        (*gtls.free)(crts);
                return -EINVAL;
        }
        size_t len = sizeof(cr->subject);
        if (gtls.x509_crt_get_dn(crts[0], cr->subject, &len) < 0)
                snprintf(cr->subject, sizeof(cr->subject), "(no subject)");
        cr->not_before = gtls.x509_crt_get_activation_time(crts[0]);
        cr->not_after = gtls.x509_crt_get_expiration_time(crts[0]);
        cr->chain = n;
        for (unsigned i = 0; i < n; i++)
                gtls.x509_crt_deinit(crts[i]);
        (*gtls.free)(crts);
        return 0;
}

static int check_key(const gnutls_datum_t *key, char *err, size_t size, const char *keyfile)
{
        gnutls_x509_privkey_t k;
        int r = gtls.x509_privkey_init(&k);

        if (r < 0) {
                snprintf(err, size, "keyfile: %s", gtls.strerror(r));
                return -ENOMEM;
        }
        r = gtls.x509_privkey_import2(k, key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN);
        gtls.x509_privkey_deinit(k);
        if (r < 0) {
                snprintf(err, size, "keyfile: %s holds no unencrypted PEM private key (%s)",
                         keyfile, gtls.strerror(r));
                return -EINVAL;
        }
        return 0;
}

int tls_creds_load(const char *certfile, const char *keyfile, const char *priority,
                   struct tls_creds **out, enum tls_what *what, char *err, size_t errsize)
{
        struct tls_creds *cr = calloc(1, sizeof(*cr));
        gnutls_datum_t cert = { NULL, 0 }, key = { NULL, 0 };
        const char *pos = NULL;
        int r;

        *out = NULL;
        *what = TLS_WHAT_LIBRARY;
        if (!cr) {
                snprintf(err, errsize, "out of memory");
                return -ENOMEM;
        }
        char why[256];
        if ((r = gtls_load(why, sizeof(why))) < 0) {
                snprintf(err, errsize, "TLS needs GnuTLS: %s", why);
                free(cr);
                return r;
        }
        atomic_init(&cr->refs, 1);
        *what = TLS_WHAT_PRIORITY;
        r = gtls.priority_init2(&cr->prio, priority, &pos, 0);
        if (r < 0) {
                cr->prio = NULL;
                snprintf(err, errsize, "priority: '%s' is not a GnuTLS priority string "
                         "(%s at '%.32s')", priority, gtls.strerror(r), pos ? pos : "");
                r = -EINVAL;
                goto fail;
        }
        *what = TLS_WHAT_CERT;
        if ((r = read_file(certfile, &cert)) < 0) {
                snprintf(err, errsize, "certfile: cannot read %s: %s", certfile, file_error(r));
                goto fail;
        }
        if ((r = check_chain(cr, &cert, err, errsize, certfile)) < 0)
                goto fail;
        *what = TLS_WHAT_KEY;
        if ((r = read_file(keyfile, &key)) < 0) {
                snprintf(err, errsize, "keyfile: cannot read %s: %s", keyfile, file_error(r));
                goto fail;
        }
        if ((r = check_key(&key, err, errsize, keyfile)) < 0)
                goto fail;
        if ((r = gtls.certificate_allocate_credentials(&cr->x509)) < 0) {
                cr->x509 = NULL;
                snprintf(err, errsize, "%s", gtls.strerror(r));
                r = -ENOMEM;
                goto fail;
        }
        r = gtls.certificate_set_x509_key_mem2(cr->x509, &cert, &key, GNUTLS_X509_FMT_PEM,
                                                 NULL, 0);
        if (r < 0) {
                if (r == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
                        snprintf(err, errsize, "keyfile: %s is not the key of the certificate "
                                 "in %s", keyfile, certfile);
                else
                        snprintf(err, errsize, "keyfile: %s with %s: %s", keyfile, certfile,
                                 gtls.strerror(r));
                r = -EINVAL;
                goto fail;
        }
        forget(&key);
        free(cert.data);
        *out = cr;
        return 0;

fail:
        forget(&key);
        free(cert.data);
        tls_creds_unref(cr);
        return r;
}

struct tls_creds *tls_creds_ref(struct tls_creds *cr)
{
        if (cr)
                atomic_fetch_add_explicit(&cr->refs, 1, memory_order_relaxed);
        return cr;
}

void tls_creds_unref(struct tls_creds *cr)
{
        if (!cr || atomic_fetch_sub_explicit(&cr->refs, 1, memory_order_acq_rel) != 1)
                return;
        if (cr->x509)
                gtls.certificate_free_credentials(cr->x509);
        if (cr->prio)
                gtls.priority_deinit(cr->prio);
        free(cr);
}

void tls_creds_describe(const struct tls_creds *cr, char *buf, size_t size)
{
        char until[40];

        describe_time(cr->not_after, until, sizeof(until));
        snprintf(buf, size, "%s (%u in the chain), valid until %s", cr->subject, cr->chain, until);
}

time_t tls_creds_not_before(const struct tls_creds *cr)
{
        return cr->not_before;
}

time_t tls_creds_not_after(const struct tls_creds *cr)
{
        return cr->not_after;
}

/* ---- the session ---------------------------------------------------------- */

struct tls_conn {
        gnutls_session_t s;             /* NULL until the handshake starts */
        struct tls_creds *creds;        /* the session's reference */
        int fd;
        bool ready;                     /* the handshake is done */
        bool pull_wait;                 /* the reading thread's: pull may sleep */

        /* Records the socket did not take, in order: the writing
         * thread's (one at a time, msg.h). held says whether any wait,
         * for the owner's poll. */
        char *out;
        size_t out_len, out_off, out_cap;
        atomic_bool held;

        /* Guards what follows; never held across a GnuTLS call (tls.h). */
        pthread_mutex_t lock;
        pthread_cond_t idle;
        bool receiving;                 /* the owner is in gtls.record_recv() */
        bool sending;                   /* some thread is in a send */
        bool rekeying;                  /* a receive applies the peer's KeyUpdate */
        bool exclusive;                 /* a send makes our key update */
        bool update_owed;               /* the peer asked for our key update */
};

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
        struct tls_conn *tc = p;
        ssize_t n;

        do
                n = recv(tc->fd, buf, len, tc->pull_wait ? 0 : MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        /* errno is the thread's own: GnuTLS reads it (no
         * gnutls_transport_set_errno(), which writes the session). */
        return n;
}

/* Keep bytes the socket did not take: 0 or -ENOMEM. */
static int out_keep(struct tls_conn *tc, const char *p, size_t n)
{
        if (tc->out_off > 0 && tc->out_len + n > tc->out_cap) {
                memmove(tc->out, tc->out + tc->out_off, tc->out_len - tc->out_off);
                tc->out_len -= tc->out_off;
                tc->out_off = 0;
        }
        if (tc->out_len + n > tc->out_cap) {
                size_t cap = tc->out_len + n > 2 * tc->out_cap ? tc->out_len + n : 2 * tc->out_cap;
                char *b = realloc(tc->out, cap);
                if (!b)
                        return -ENOMEM;
                tc->out = b;
                tc->out_cap = cap;
        }
        memcpy(tc->out + tc->out_len, p, n);
        tc->out_len += n;
        atomic_store(&tc->held, true);
        return 0;
}

/* After the handshake a push never fails for a full socket: what it does
 * not take waits in tc->out (at most what one send makes: a record, and
 * a KeyUpdate before it), so GnuTLS never returns GNUTLS_E_AGAIN from a
 * send, and every send takes exactly the bytes it says. */
static ssize_t tls_push(gnutls_transport_ptr_t p, const giovec_t *iov, int n)
{
        struct tls_conn *tc = p;
        struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n };
        size_t total = 0;
        ssize_t w = 0;

        for (int i = 0; i < n; i++)
                total += iov[i].iov_len;
        if (!atomic_load(&tc->held)) {
                do
                        w = sendmsg(tc->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                while (w < 0 && errno == EINTR);
                /* The handshake is GnuTLS's alone: it waits and writes the
                 * rest itself. GnuTLS reads errno. */
                if (!tc->ready || (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                        return w;
                if (w < 0)
                        w = 0;
        }
        size_t skip = (size_t)w;
        for (int i = 0; i < n; i++) {
                if (skip >= iov[i].iov_len) {
                        skip -= iov[i].iov_len;
                        continue;
                }
                if (out_keep(tc, (const char *)iov[i].iov_base + skip, iov[i].iov_len - skip) < 0) {
                        errno = ENOMEM;
                        return -1;
                }
                skip = 0;
        }
        return (ssize_t)total;
}

/* Write what the socket did not take before: 0 when all is out, 1 while
 * some is left, or -errno. No GnuTLS call: bytes only. */
static int out_flush(struct tls_conn *tc)
{
        while (tc->out_off < tc->out_len) {
                ssize_t w = send(tc->fd, tc->out + tc->out_off, tc->out_len - tc->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -errno;
                tc->out_off += (size_t)w;
        }
        /* A slow reader's backlog is not kept once it is written. */
        free(tc->out);
        tc->out = NULL;
        tc->out_len = tc->out_off = tc->out_cap = 0;
        atomic_store(&tc->held, false);
        return 0;
}

static int tls_pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
        struct tls_conn *tc = p;
        struct pollfd pfd = { .fd = tc->fd, .events = POLLIN };

        return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

/* A KeyUpdate has come: before GnuTLS applies it, no send may be under
 * way, and none starts until this receive returns (tls_recv()). */
static int tls_key_update_hook(gnutls_session_t s, unsigned htype, unsigned when,
                               unsigned incoming, const gnutls_datum_t *msg)
{
        struct tls_conn *tc = gtls.session_get_ptr(s);

        (void)htype;
        if (!incoming || when != GNUTLS_HOOK_PRE)
                return 0;
        pthread_mutex_lock(&tc->lock);
        tc->rekeying = true;
        while (tc->sending)
                pthread_cond_wait(&tc->idle, &tc->lock);
        /* update_requested: our next send makes our own key update. */
        if (msg->size >= 1 && msg->data[0] == 1)
                tc->update_owed = true;
        pthread_mutex_unlock(&tc->lock);
        return 0;
}

static ssize_t map_error(ssize_t r)
{
        switch (r) {
        case 0:
        case GNUTLS_E_PREMATURE_TERMINATION:
        case GNUTLS_E_PULL_ERROR:
                return -ECONNRESET;
        case GNUTLS_E_PUSH_ERROR:
                return -EPIPE;
        case GNUTLS_E_MEMORY_ERROR:
                return -ENOMEM;
        default:
                return -EPROTO;
        }
}

static ssize_t tls_recv(struct transport *t, void *buf, size_t len, bool wait, bool peek)
{
        struct tls_conn *tc = t->state;
        ssize_t n;

        if (!tc || !tc->ready)
                return -ENOTCONN;
        if (peek) {
                /* Only ever to wait for the first byte (conn_read()): what
                 * GnuTLS holds counts, else the socket's own. */
                char b;
                if (gtls.record_check_pending(tc->s) > 0)
                        return 1;
                do
                        n = recv(tc->fd, &b, 1, MSG_PEEK | (wait ? 0 : MSG_DONTWAIT));
                while (n < 0 && errno == EINTR);
                if (n == 0)
                        return -ECONNRESET;
                if (n < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK ? TRANSPORT_NONE : -errno;
                return 1;
        }
        pthread_mutex_lock(&tc->lock);
        while (tc->exclusive)
                pthread_cond_wait(&tc->idle, &tc->lock);
        tc->receiving = true;
        pthread_mutex_unlock(&tc->lock);

        tc->pull_wait = wait;
        do
                n = gtls.record_recv(tc->s, buf, len);
        while (n == GNUTLS_E_INTERRUPTED);

        pthread_mutex_lock(&tc->lock);
        tc->receiving = false;
        tc->rekeying = false;
        pthread_cond_broadcast(&tc->idle);
        pthread_mutex_unlock(&tc->lock);

        if (n > 0)
                return n;
        if (n == GNUTLS_E_AGAIN)
                return TRANSPORT_NONE;
        /* A renegotiation (TLS 1.2, GNUTLS_E_REHANDSHAKE) is refused with
         * the rest: a second handshake on a session two threads use is
         * not safe, and no chat client needs one. */
        return map_error(n);
}

/* The write epoch's record count: past TLS_REKEY_NEAR, GnuTLS is about
 * to make its own key update inside a send. */
static bool tls_update_near(struct tls_conn *tc)
{
        unsigned char seq[8];
        uint64_t v = 0;

        if (gtls.record_get_state(tc->s, 0, NULL, NULL, NULL, seq) < 0)
                return true;
        for (int i = 0; i < 8; i++)
                v = v << 8 | seq[i];
        return v >= TLS_REKEY_NEAR;
}

/* One record of n bytes from buf: bytes taken (a record may hold fewer
 * than n, when the peer asked for small ones), or -errno. */
static ssize_t tls_send_record(struct tls_conn *tc, const void *buf, size_t n)
{
        ssize_t w;

        do
                w = gtls.record_send(tc->s, buf, n);
        while (w == GNUTLS_E_INTERRUPTED);
        /* GNUTLS_E_AGAIN cannot come (tls_push()); were it to, the bytes
         * would be GnuTLS's and not ours to send again: end it. */
        return w < 0 ? map_error(w) : w;
}

static ssize_t tls_sendv_records(struct tls_conn *tc, const struct iovec *iov, int n)
{
        char chunk[TLS_CHUNK];
        ssize_t taken = 0, w = 0;

        for (int i = 0; i < n && !atomic_load(&tc->held);) {
                const char *p = iov[i].iov_base;
                size_t len = iov[i].iov_len;

                if (len >= TLS_CHUNK) {
                        /* Large enough for records of its own: no copy. */
                        if ((w = tls_send_record(tc, p, len)) <= 0)
                                break;
                        taken += w;
                        if ((size_t)w < len)
                                continue;       /* the next record of it */
                        i++;
                        continue;
                }
                /* Gather short parts into one record. */
                size_t k = 0;
                int j = i;
                while (j < n && k + iov[j].iov_len <= TLS_CHUNK) {
                        memcpy(chunk + k, iov[j].iov_base, iov[j].iov_len);
                        k += iov[j].iov_len;
                        j++;
                }
                if ((w = tls_send_record(tc, chunk, k)) <= 0)
                        break;
                taken += w;
                if ((size_t)w < k)
                        break;          /* the rest on the next call */
                i = j;
        }
        /* An error after some bytes were taken shows on the next call. */
        return taken > 0 ? taken : w < 0 ? w : 0;
}

static ssize_t tls_sendv(struct transport *t, const struct iovec *iov, int n)
{
        struct tls_conn *tc = t->state;
        ssize_t w;
        int r;

        if (!tc || !tc->ready)
                return -ENOTCONN;
        /* Bytes first, which needs no GnuTLS call (and so no flag). */
        if ((r = out_flush(tc)) != 0 || n == 0)
                return r < 0 ? r : 0;
        pthread_mutex_lock(&tc->lock);
        if (tc->rekeying) {
                /* The owner applies the peer's key update: these lines
                 * wait in its queue (tls.h). */
                pthread_mutex_unlock(&tc->lock);
                return 0;
        }
        tc->sending = true;
        pthread_mutex_unlock(&tc->lock);

        bool near = tls_update_near(tc);
        pthread_mutex_lock(&tc->lock);
        bool alone = near || tc->update_owed;
        if (alone && tc->receiving) {
                tc->sending = false;
                pthread_cond_broadcast(&tc->idle);
                pthread_mutex_unlock(&tc->lock);
                return 0;
        }
        tc->exclusive = alone;
        pthread_mutex_unlock(&tc->lock);

        w = tls_sendv_records(tc, iov, n);

        pthread_mutex_lock(&tc->lock);
        tc->sending = false;
        if (alone) {
                /* The owed update went out with the first record. */
                tc->exclusive = false;
                if (w > 0)
                        tc->update_owed = false;
        }
        pthread_cond_broadcast(&tc->idle);
        pthread_mutex_unlock(&tc->lock);
        return w;
}

static bool tls_held(const struct transport *t)
{
        struct tls_conn *tc = t->state;

        return tc && atomic_load(&tc->held);
}

static bool tls_buffered(const struct transport *t)
{
        const struct tls_conn *tc = t->state;

        return tc && tc->ready && gtls.record_check_pending(tc->s) > 0;
}

static int tls_set_timeout(struct transport *t, int64_t ms)
{
        struct timeval tv = {
                .tv_sec = (time_t)(ms / 1000),
                .tv_usec = (suseconds_t)(ms % 1000) * 1000,
        };

        return setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ? -errno : 0;
}

static void tls_wake(struct transport *t)
{
        shutdown(t->fd, SHUT_RD);
}

/* The close_notify alert, then the socket's own end: from the owner once
 * nobody else writes (msg_queue_close()). */
static void tls_finish(struct transport *t)
{
        struct tls_conn *tc = t->state;

        if (tc && tc->ready) {
                int64_t end = clock_now_ms() + TLS_BYE_MS;

                /* The alert goes behind what is held (tls_push()). */
                gtls.bye(tc->s, GNUTLS_SHUT_WR);
                while (out_flush(tc) == 1) {
                        struct pollfd pfd = { .fd = t->fd, .events = POLLOUT };
                        int64_t left = end - clock_now_ms();
                        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
                                break;
                }
        }
        shutdown(t->fd, SHUT_WR);
}

static void tls_close(struct transport *t)
{
        struct tls_conn *tc = t->state;

        if (tc) {
                if (tc->s)
                        gtls.deinit(tc->s);
                free(tc->out);
                tls_creds_unref(tc->creds);
                pthread_cond_destroy(&tc->idle);
                pthread_mutex_destroy(&tc->lock);
                free(tc);
                t->state = NULL;
        }
        if (t->fd >= 0)
                close(t->fd);
        t->fd = -1;
}

static const struct transport_ops tls_ops = {
        .name = "tls", .recv = tls_recv, .sendv = tls_sendv, .held = tls_held,
        .buffered = tls_buffered, .set_timeout = tls_set_timeout, .wake = tls_wake,
        .finish = tls_finish, .close = tls_close,
};

void transport_tls(struct transport *t, int fd)
{
        t->ops = &tls_ops;
        t->fd = fd;
        t->state = NULL;
}

bool transport_is_tls(const struct transport *t)
{
        return t->ops == &tls_ops;
}

bool tls_looks_like_hello(const uint8_t *b, size_t n)
{
        /* A handshake record (22) of TLS 1.0 to 1.3, whose version field
         * says 3.x: no telnet user or HTTP client starts so. */
        return b[0] == 0x16 && (n < 2 || b[1] == 0x03) && (n < 3 || b[2] <= 0x04);
}

/* Wait for fd to be readable (or writable) until end, or stop_fd: 1,
 * -ETIMEDOUT, -ESHUTDOWN or -errno. */
static int wait_fd(int fd, bool out, int64_t end, int stop_fd)
{
        for (;;) {
                int64_t left = end - clock_now_ms();
                struct pollfd pfd[2] = {
                        { .fd = fd, .events = out ? POLLOUT : POLLIN },
                        { .fd = stop_fd, .events = POLLIN },
                };
                if (left <= 0)
                        return -ETIMEDOUT;
                int r = poll(pfd, stop_fd >= 0 ? 2 : 1, left > INT32_MAX ? INT32_MAX : (int)left);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0 && stop_fd >= 0 && pfd[1].revents)
                        return -ESHUTDOWN;
                if (r > 0 && pfd[0].revents)
                        return 1;
        }
}

/* The first bytes, peeked: a client that speaks plain text is told so in
 * clear and closed before GnuTLS sees a byte. 0 (TLS, it seems), or as
 * tls_handshake(). */
static int first_bytes(struct tls_conn *tc, int64_t end, int stop_fd, const char *plain_hint,
                       char *why, size_t size)
{
        uint8_t b[8];
        ssize_t n;
        int r = wait_fd(tc->fd, false, end, stop_fd);

        if (r == -ETIMEDOUT) {
                snprintf(why, size, "TLS handshake timed out (no ClientHello)");
                return r;
        }
        if (r < 0)
                return r;
        do
                n = recv(tc->fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
                snprintf(why, size, "connection closed by client before the TLS handshake");
                return -ECONNRESET;
        }
        if (n < 0)
                return errno == EAGAIN ? 0 : -errno;
        if (tls_looks_like_hello(b, (size_t)n))
                return 0;
        char shown[sizeof(b) * 4 + 1];
        size_t k = 0;
        for (ssize_t i = 0; i < n && b[i] != '\r' && b[i] != '\n'; i++)
                k += (size_t)snprintf(shown + k, sizeof(shown) - k,
                                      b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' ? "%c" : "\\x%02x",
                                      b[i]);
        snprintf(why, size, "plain text on a TLS port (it began \"%s\"), not a TLS handshake",
                 shown);
        if (plain_hint)
                send(tc->fd, plain_hint, strlen(plain_hint), MSG_NOSIGNAL | MSG_DONTWAIT);
        return TLS_NOT_TLS;
}

int tls_handshake(struct transport *t, struct tls_creds *creds, int64_t timeout_ms, int stop_fd,
                  const char *plain_hint, char *why, size_t whysize)
{
        struct tls_conn *tc = calloc(1, sizeof(*tc));
        int64_t end = clock_now_ms() + timeout_ms;
        int r;

        why[0] = '\0';
        if (!tc)
                return -ENOMEM;
        /* From here on tls_close() frees whatever was made. */
        tc->fd = t->fd;
        tc->creds = tls_creds_ref(creds);
        atomic_init(&tc->held, false);
        pthread_mutex_init(&tc->lock, NULL);
        pthread_cond_init(&tc->idle, NULL);
        t->state = tc;

        if ((r = first_bytes(tc, end, stop_fd, plain_hint, why, whysize)) != 0)
                return r;
        /* No session tickets: nothing to rotate, and resuming saves a
         * chat client little. */
        if ((r = gtls.init(&tc->s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL | GNUTLS_NO_TICKETS)) < 0) {
                tc->s = NULL;
                snprintf(why, whysize, "TLS: %s", gtls.strerror(r));
                return -ENOMEM;
        }
        gtls.session_set_ptr(tc->s, tc);
        if ((r = gtls.priority_set(tc->s, creds->prio)) < 0 ||
            (r = gtls.credentials_set(tc->s, GNUTLS_CRD_CERTIFICATE, creds->x509)) < 0) {
                snprintf(why, whysize, "TLS: %s", gtls.strerror(r));
                return -EINVAL;
        }
        gtls.certificate_server_set_request(tc->s, GNUTLS_CERT_IGNORE);
        gtls.transport_set_ptr(tc->s, tc);
        gtls.transport_set_pull_function(tc->s, tls_pull);
        gtls.transport_set_vec_push_function(tc->s, tls_push);
        gtls.transport_set_pull_timeout_function(tc->s, tls_pull_timeout);
        /* Our deadline bounds it, not GnuTLS's. */
        gtls.handshake_set_timeout(tc->s, 0);
        gtls.handshake_set_hook_function(tc->s, GNUTLS_HANDSHAKE_KEY_UPDATE, GNUTLS_HOOK_PRE,
                                           tls_key_update_hook);
        tc->pull_wait = false;
        while ((r = gtls.handshake(tc->s)) < 0) {
                if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED) {
                        if (r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PULL_ERROR ||
                            r == GNUTLS_E_PUSH_ERROR) {
                                snprintf(why, whysize, "connection closed by client during the "
                                         "TLS handshake");
                                return -ECONNRESET;
                        }
                        snprintf(why, whysize, "TLS handshake failed: %s", gtls.strerror(r));
                        /* What the client was told, if the alert fits. */
                        if (gtls.error_is_fatal(r))
                                gtls.alert_send_appropriate(tc->s, r);
                        return TLS_FAILED;
                }
                int w = wait_fd(t->fd, gtls.record_get_direction(tc->s) == 1, end, stop_fd);
                if (w == -ETIMEDOUT) {
                        snprintf(why, whysize, "TLS handshake timed out");
                        return w;
                }
                if (w < 0)
                        return w;
        }
        tc->ready = true;
        return 0;
}

void tls_describe(const struct transport *t, char *buf, size_t size)
{
        const struct tls_conn *tc = transport_is_tls(t) ? t->state : NULL;

        if (!tc || !tc->ready) {
                buf[0] = '\0';
                return;
        }
        const char *v = gtls.protocol_get_name(gtls.protocol_get_version(tc->s));
        const char *c = gtls.cipher_get_name(gtls.cipher_get(tc->s));
        snprintf(buf, size, "%s %s", v ? v : "TLS", c ? c : "");
}
