/* tls: TLS with GnuTLS, as a transport under the framings (transport.h):
 * the credentials a TLS port serves with, the server's handshake, and a
 * session that one thread reads while another writes.
 *
 * Credentials (struct tls_creds): a certificate chain, its key and a
 * priority string, loaded and checked together (tls_creds_load()), then
 * immutable and reference counted. The configuration holds them (conf.h:
 * loaded with pichat.ini, so --check-config and a start agree, and a
 * reload that cannot load them keeps the old ones); each session takes a
 * reference at its handshake, so a reload gives new connections the new
 * certificate while established ones keep theirs.
 *
 * Threads, and why no lock is held while a socket is written. GnuTLS lets
 * one thread receive on a session while another sends, as long as no
 * other call overlaps, and as long as key updates (TLS 1.3) and
 * re-handshakes are handled by one thread alone. pichat meets that so:
 *
 *   - Receiving is the connection's own thread alone (its read loop).
 *   - Sending is one thread at a time, by the queue's protocol (msg.h):
 *     a direct write owns the transport while it holds its claim, and
 *     the owner writes only while the queue is held or non-empty, when
 *     no claim can start. So sends never overlap each other, and never
 *     need a lock of ours to keep them apart.
 *   - A key update is the one thing that must not overlap the other
 *     direction: applying the peer's KeyUpdate copies our write state,
 *     and making our own (asked for by the peer, or GnuTLS's own after
 *     2^24 records) copies the read state. A small mutex guards four
 *     flags, never a GnuTLS call: "receiving", "sending", "rekeying" (a
 *     receive is applying the peer's KeyUpdate: it waited for any send
 *     under way to end, and no send starts until the receive returns) and
 *     "exclusive" (a send is making our key update: it started only while
 *     nothing was received, and no receive starts until it ends).
 *   - Nobody waits long for another: every send is non-blocking, and a
 *     receive that a key update can meet is non-blocking too (only a
 *     connection with no other writer, the web service's HTTP requests,
 *     sleeps in its read). A direct write that finds the session busy
 *     takes nothing (0, "the transport is full"): its lines wait in the
 *     owner's queue and the owner is woken to write them itself.
 *
 * A record GnuTLS could not finish writing (the socket was full) is
 * still the session's to send: its bytes count as taken, and the
 * transport holds the rest (transport_held()) until a later send or
 * transport_flush() writes it; its owner polls for it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "transport.h"

/* Default [tls] priority: GnuTLS's "SECURE" set, TLS 1.2 and 1.3 only. */
#define TLS_PRIORITY_DEFAULT "SECURE:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Largest certificate chain or key file read. */
#define TLS_FILE_MAX (256 * 1024)

struct tls_creds;

/* Which of the three settings tls_creds_load() found wrong. */
enum tls_what {
        TLS_WHAT_LIBRARY,       /* GnuTLS itself could not be loaded (gtls.h) */
        TLS_WHAT_CERT,
        TLS_WHAT_KEY,
        TLS_WHAT_PRIORITY,
};

/* Load certfile (PEM: the server's certificate first, then the chain, as
 * certbot's fullchain.pem), keyfile (PEM: PKCS#8 as certbot's privkey.pem,
 * PKCS#1 or SEC1) and check priority (a GnuTLS priority string). 0 and
 * *out with one reference; or -errno with one line in err and *what
 * naming the setting to blame (a key that does not match the certificate
 * is the key's). */
int tls_creds_load(const char *certfile, const char *keyfile, const char *priority,
                   struct tls_creds **out, enum tls_what *what, char *err, size_t errsize);
struct tls_creds *tls_creds_ref(struct tls_creds *cr);
void tls_creds_unref(struct tls_creds *cr);
/* What the certificate says, for the log: "CN=pi.example.org (2 in the
 * chain), valid until 2026-05-01 12:00 UTC". */
void tls_creds_describe(const struct tls_creds *cr, char *buf, size_t size);
/* Its validity (the server's certificate, not the chain). */
time_t tls_creds_not_before(const struct tls_creds *cr);
time_t tls_creds_not_after(const struct tls_creds *cr);

/* A socket accepted on a TLS port (connected, blocking), before its
 * handshake: it moves no bytes (a refusal says nothing in clear to a TLS
 * client). Takes fd. */
void transport_tls(struct transport *t, int fd);
/* The transport is one of transport_tls()'s. */
bool transport_is_tls(const struct transport *t);

/* Results of tls_handshake() besides 0 and -errno. */
enum {
        TLS_NOT_TLS = 1,        /* the client's first bytes were not TLS: it
                                 * was told so in clear (plain_hint) */
        TLS_FAILED = 2,         /* GnuTLS refused the handshake (why says why) */
};

/* The server's side of the handshake on t (from transport_tls()) with
 * creds, within timeout_ms and not past the moment stop_fd becomes
 * readable. 0 (t now moves bytes, encrypted), TLS_NOT_TLS, TLS_FAILED,
 * -ETIMEDOUT, -ESHUTDOWN (stop_fd), -ECONNRESET (the peer left), or
 * another -errno; why says what happened, for the log. plain_hint (NULL:
 * none) is what a client speaking plain text gets, in clear. */
int tls_handshake(struct transport *t, struct tls_creds *creds, int64_t timeout_ms, int stop_fd,
                  const char *plain_hint, char *why, size_t whysize);
/* "TLS1.3 AES-256-GCM", for the log (empty before the handshake). */
void tls_describe(const struct transport *t, char *buf, size_t size);

/* Whether bytes look like the start of a TLS handshake record (a client
 * speaking TLS to a plain port): n of them, n >= 1. */
bool tls_looks_like_hello(const uint8_t *bytes, size_t n);
