/* ctls: GnuTLS for pichat --tls: trust, the handshake, and the record I/O. */
#include "ctls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"

struct ctls {
        gnutls_session_t s;
        gnutls_certificate_credentials_t cred;
        bool insecure;
        bool sending;           /* a record waits in the session (GNUTLS_E_AGAIN) */
};

static bool is_address(const char *host)
{
        unsigned char buf[16];

        return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Why the certificate was refused, in GnuTLS's words, on one line. */
static void say_refused(struct ctls *t, const char *where)
{
        gnutls_datum_t text = { NULL, 0 };
        unsigned status = gnutls_session_get_verify_cert_status(t->s);

        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) < 0)
                text.data = NULL;
        size_t n = text.data ? strlen((const char *)text.data) : 0;
        while (n > 0 && text.data[n - 1] == ' ')
                text.data[--n] = '\0';
        fprintf(stderr, "pichat: refusing %s: its certificate is not trusted: %s\n", where,
                text.data ? (const char *)text.data : "verification failed");
        gnutls_free(text.data);
}

int ctls_start(struct ctls **out, int fd, const struct args *a, const char *where)
{
        struct ctls *t = calloc(1, sizeof(*t));
        int64_t end = clock_now_ms() + (int64_t)a->timeout_s * 1000;
        int r;

        *out = NULL;
        if (!t) {
                fprintf(stderr, "pichat: out of memory\n");
                return -ENOMEM;
        }
        t->insecure = a->insecure;
        if ((r = gnutls_certificate_allocate_credentials(&t->cred)) < 0) {
                t->cred = NULL;
                fprintf(stderr, "pichat: TLS: %s\n", gnutls_strerror(r));
                ctls_free(t);
                return -ENOMEM;
        }
        if (a->cafile) {
                r = gnutls_certificate_set_x509_trust_file(t->cred, a->cafile, GNUTLS_X509_FMT_PEM);
                if (r <= 0) {
                        fprintf(stderr, "pichat: --cafile %s: %s\n", a->cafile,
                                r < 0 ? gnutls_strerror(r) : "no CA certificate in it");
                        ctls_free(t);
                        return -EINVAL;
                }
        } else if (!a->insecure && (r = gnutls_certificate_set_x509_system_trust(t->cred)) <= 0) {
                fprintf(stderr, "pichat: the system trust store is empty or unreadable (%s); "
                        "give the server's CA with --cafile\n",
                        r < 0 ? gnutls_strerror(r) : "no certificates");
                ctls_free(t);
                return -EINVAL;
        }
        if ((r = gnutls_init(&t->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK)) < 0) {
                t->s = NULL;
                fprintf(stderr, "pichat: TLS: %s\n", gnutls_strerror(r));
                ctls_free(t);
                return -ENOMEM;
        }
        gnutls_set_default_priority(t->s);
        gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, t->cred);
        /* SNI names hosts, never addresses (RFC 6066). */
        if (!is_address(a->host))
                gnutls_server_name_set(t->s, GNUTLS_NAME_DNS, a->host, strlen(a->host));
        if (a->insecure)
                fprintf(stderr, "pichat: --insecure: the certificate of %s is not checked; "
                        "anyone on the way could read and change this chat\n", where);
        else
                gnutls_session_set_verify_cert(t->s, a->host, 0);
        gnutls_transport_set_int(t->s, fd);
        gnutls_handshake_set_timeout(t->s, 0);

        while ((r = gnutls_handshake(t->s)) < 0) {
                if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
                        say_refused(t, where);
                        ctls_free(t);
                        return -EPERM;
                }
                if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED) {
                        /* Plain text where a record should be: the
                         * likely cause has a name. */
                        bool plain = r == GNUTLS_E_UNEXPECTED_PACKET_LENGTH ||
                                     r == GNUTLS_E_UNEXPECTED_PACKET ||
                                     r == GNUTLS_E_UNSUPPORTED_VERSION_PACKET;
                        fprintf(stderr, "pichat: TLS handshake with %s failed: %s%s\n", where,
                                gnutls_strerror(r), plain ? " (is it a plain port?)" : "");
                        ctls_free(t);
                        return -EPROTO;
                }
                struct pollfd pfd = {
                        .fd = fd,
                        .events = gnutls_record_get_direction(t->s) ? POLLOUT : POLLIN,
                };
                int64_t left = end - clock_now_ms();
                if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
                        fprintf(stderr, "pichat: TLS handshake with %s timed out (%u s); is it "
                                "a TLS port?\n", where, a->timeout_s);
                        ctls_free(t);
                        return -ETIMEDOUT;
                }
        }
        *out = t;
        return 0;
}

void ctls_describe(const struct ctls *t, char *buf, size_t size)
{
        const char *v = gnutls_protocol_get_name(gnutls_protocol_get_version(t->s));

        snprintf(buf, size, "%s, certificate %s", v ? v : "TLS",
                 t->insecure ? "NOT checked (--insecure)" : "verified");
}

static ssize_t map_error(ssize_t r)
{
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
                return -EAGAIN;
        if (r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PULL_ERROR)
                return -ECONNRESET;
        if (r == GNUTLS_E_PUSH_ERROR)
                return -EPIPE;
        return -EPROTO;
}

ssize_t ctls_recv(struct ctls *t, void *buf, size_t len)
{
        ssize_t n = gnutls_record_recv(t->s, buf, len);

        return n >= 0 ? n : map_error(n);
}

ssize_t ctls_send(struct ctls *t, const void *buf, size_t len)
{
        /* A record made before goes first: GnuTLS sends it on a call with
         * no data and says how long it was. */
        ssize_t n = t->sending ? gnutls_record_send(t->s, NULL, 0) :
                                 gnutls_record_send(t->s, buf, len);

        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                t->sending = true;
                return -EAGAIN;
        }
        if (n < 0)
                return map_error(n);
        t->sending = false;
        return n;
}

bool ctls_pending(struct ctls *t)
{
        return gnutls_record_check_pending(t->s) > 0;
}

void ctls_bye(struct ctls *t)
{
        int64_t end = clock_now_ms() + 1000;
        int r;

        while ((r = gnutls_bye(t->s, GNUTLS_SHUT_WR)) == GNUTLS_E_AGAIN ||
               r == GNUTLS_E_INTERRUPTED) {
                struct pollfd pfd = { .fd = gnutls_transport_get_int(t->s), .events = POLLOUT };
                int64_t left = end - clock_now_ms();
                if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
                        break;
        }
}

void ctls_free(struct ctls *t)
{
        if (!t)
                return;
        if (t->s)
                gnutls_deinit(t->s);
        if (t->cred)
                gnutls_certificate_free_credentials(t->cred);
        free(t);
}
