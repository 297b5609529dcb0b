/* ctls: the client's side of TLS (pichat --tls), with GnuTLS.
 *
 * The handshake checks the server's certificate: signed by a CA in the
 * system trust store (or in --cafile), valid now, and for the host name
 * or address given on the command line; a certificate that fails is
 * refused with one line saying why. --insecure skips the check and says
 * so on stderr. After the handshake the session moves the dialogue's
 * bytes over the same non-blocking socket, in one thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cliargs.h"

struct ctls;

/* The handshake over connected, non-blocking fd, within a->timeout_s:
 * 0 and *out, or -errno after one line on stderr saying why (where is
 * "HOST:PORT"). */
int ctls_start(struct ctls **out, int fd, const struct args *a, const char *where);
/* "TLS1.3, certificate verified" or "..., certificate NOT checked". */
void ctls_describe(const struct ctls *t, char *buf, size_t size);

/* Bytes read (0: the server closed), -EAGAIN, or -errno. */
ssize_t ctls_recv(struct ctls *t, void *buf, size_t len);
/* Bytes of buf taken, -EAGAIN (call again with at least these bytes: a
 * record may wait in the session), or -errno. */
ssize_t ctls_send(struct ctls *t, const void *buf, size_t len);
/* Received bytes wait in the session: read them before polling. */
bool ctls_pending(struct ctls *t);
/* No more from us: the close_notify alert, without waiting long. */
void ctls_bye(struct ctls *t);
void ctls_free(struct ctls *t);
