/* wsc: a WebSocket and HTTP client for the integration tests, small and
 * blocking, that can also send what a browser never would (unmasked
 * frames, bad handshakes, fragments cut anywhere). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wsc {
        int fd;
        size_t len;                     /* bytes read, not yet taken */
        unsigned char buf[70000];
};

/* Connect to 127.0.0.1:port and send raw (a request head, say): 0 or -1. */
int wsc_connect(struct wsc *w, unsigned port);
int wsc_send_raw(struct wsc *w, const void *data, size_t len);
/* The handshake for /ws with origin (NULL: no Origin field) and the
 * extra header lines (each with its CR LF, or NULL): the response's
 * status, or -1; the response head goes to head (NUL-terminated). */
int wsc_open(struct wsc *w, unsigned port, const char *origin, const char *extra, char *head,
             size_t size);
/* The same with the right origin for port. */
int wsc_open_ok(struct wsc *w, unsigned port);
void wsc_close(struct wsc *w);

/* One frame: fin, opcode, payload, masked (with a random key) or not. */
int wsc_send(struct wsc *w, bool fin, int opcode, const void *payload, size_t n, bool masked);
int wsc_text(struct wsc *w, const char *text);

/* The next frame: its payload length (payload NUL-terminated in out),
 * -1 on timeout, -2 at EOF; *opcode set. */
int wsc_frame(struct wsc *w, int *opcode, char *out, size_t size, int timeout_ms);
/* Text frames until one equals text (true), or timeout, EOF or a close. */
bool wsc_expect(struct wsc *w, const char *text, int timeout_ms);
/* Frames until a close: its code (1005 when it had none), or -1. Its
 * reason goes to reason when that is not NULL. */
int wsc_expect_close(struct wsc *w, char *reason, size_t size, int timeout_ms);
/* Until the server closes the TCP connection: true, or false on timeout. */
bool wsc_wait_eof(struct wsc *w, int timeout_ms);

/* HTTP: send request on a new connection, read until the server closes it
 * or timeout_ms pass: the bytes read (out NUL-terminated), or -1. */
int wsc_http(unsigned port, const char *request, char *out, size_t size, int timeout_ms);
/* The head of a response read so far on w (up to its blank line), into
 * out, and its body's Content-Length bytes after it into body: the
 * status, or -1 on timeout. */
int wsc_response(struct wsc *w, char *head, size_t hsize, char *body, size_t bsize,
                 size_t *blen, bool head_only, int timeout_ms);
