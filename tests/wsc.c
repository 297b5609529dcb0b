/* wsc: the tests' WebSocket and HTTP client. */
#include "wsc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

int wsc_connect(struct wsc *w, unsigned port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

        w->len = 0;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        w->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (w->fd < 0)
                return -1;
        if (connect(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                close(w->fd);
                w->fd = -1;
                return -1;
        }
        return 0;
}

void wsc_close(struct wsc *w)
{
        if (w->fd >= 0)
                close(w->fd);
        w->fd = -1;
}

int wsc_send_raw(struct wsc *w, const void *data, size_t len)
{
        const char *p = data;

        while (len > 0) {
                ssize_t n = send(w->fd, p, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/* More bytes within end: 1, 0 on timeout, -2 at EOF or error. */
static int wsc_fill(struct wsc *w, long long end)
{
        struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
        long long left = end - clock_now_ms();

        if (w->len == sizeof(w->buf))
                return -2;
        if (poll(&pfd, 1, left > 0 ? (int)left : 0) <= 0)
                return 0;
        ssize_t n = recv(w->fd, w->buf + w->len, sizeof(w->buf) - w->len, 0);
        if (n <= 0)
                return -2;
        w->len += (size_t)n;
        return 1;
}

static void wsc_drop(struct wsc *w, size_t n)
{
        memmove(w->buf, w->buf + n, w->len - n);
        w->len -= n;
}

int wsc_response(struct wsc *w, char *head, size_t hsize, char *body, size_t bsize,
                 size_t *blen, bool head_only, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;
        unsigned char *eoh;
        int status = -1;

        while (!(eoh = memmem(w->buf, w->len, "\r\n\r\n", 4)))
                if (wsc_fill(w, end) <= 0)
                        return -1;
        size_t hl = (size_t)(eoh - w->buf) + 4;
        snprintf(head, hsize, "%.*s", (int)hl, (char *)w->buf);
        sscanf(head, "HTTP/1.1 %d", &status);
        wsc_drop(w, hl);
        size_t want = 0;
        const char *cl = strcasestr(head, "\r\nContent-Length: ");
        if (cl && !head_only && status != 304)
                want = strtoul(cl + 18, NULL, 10);
        while (w->len < want)
                if (wsc_fill(w, end) <= 0)
                        return -1;
        if (body) {
                size_t k = want < bsize - 1 ? want : bsize - 1;
                memcpy(body, w->buf, k);
                body[k] = '\0';
        }
        if (blen)
                *blen = want;
        wsc_drop(w, want);
        return status;
}

int wsc_open(struct wsc *w, unsigned port, const char *origin, const char *extra, char *head,
             size_t size)
{
        char req[2048], o[256] = "";

        if (wsc_connect(w, port) < 0)
                return -1;
        if (origin)
                snprintf(o, sizeof(o), "Origin: %s\r\n", origin);
        int n = snprintf(req, sizeof(req),
                         "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n%s%s\r\n", port, o, extra ? extra : "");
        if (wsc_send_raw(w, req, (size_t)n) < 0)
                return -1;
        return wsc_response(w, head, size, NULL, 0, NULL, true, 5000);
}

int wsc_open_ok(struct wsc *w, unsigned port)
{
        char origin[64], head[2048];

        snprintf(origin, sizeof(origin), "http://127.0.0.1:%u", port);
        return wsc_open(w, port, origin, NULL, head, sizeof(head));
}

int wsc_send(struct wsc *w, bool fin, int opcode, const void *payload, size_t n, bool masked)
{
        unsigned char *f = malloc(n + 14), key[4];
        size_t h = 0;

        if (!f)
                return -1;
        f[h++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
        unsigned char m = masked ? 0x80 : 0;
        if (n < 126) {
                f[h++] = (unsigned char)(m | n);
        } else if (n < 65536) {
                f[h++] = m | 126;
                f[h++] = (unsigned char)(n >> 8);
                f[h++] = (unsigned char)n;
        } else {
                f[h++] = m | 127;
                for (int i = 7; i >= 0; i--)
                        f[h++] = (unsigned char)((uint64_t)n >> (8 * i));
        }
        for (int i = 0; i < 4; i++)
                key[i] = (unsigned char)rand();
        if (masked) {
                memcpy(f + h, key, 4);
                h += 4;
        }
        for (size_t i = 0; i < n; i++)
                f[h + i] = ((const unsigned char *)payload)[i] ^ (masked ? key[i % 4] : 0);
        int r = wsc_send_raw(w, f, h + n);
        free(f);
        return r;
}

int wsc_text(struct wsc *w, const char *text)
{
        return wsc_send(w, true, 0x1, text, strlen(text), true);
}

int wsc_frame(struct wsc *w, int *opcode, char *out, size_t size, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;

        for (;;) {
                if (w->len >= 2) {
                        size_t h = 2, n = w->buf[1] & 0x7F;
                        if (n == 126 && w->len >= 4) {
                                n = (size_t)w->buf[2] << 8 | w->buf[3];
                                h = 4;
                        } else if (n == 127 && w->len >= 10) {
                                n = 0;
                                for (int i = 0; i < 8; i++)
                                        n = n << 8 | w->buf[2 + i];
                                h = 10;
                        }
                        bool have_len = (w->buf[1] & 0x7F) < 126 || h > 2;
                        if (have_len && w->len >= h + n) {
                                *opcode = w->buf[0] & 0x0F;
                                size_t k = n < size - 1 ? n : size - 1;
                                memcpy(out, w->buf + h, k);
                                out[k] = '\0';
                                wsc_drop(w, h + n);
                                return (int)n;
                        }
                }
                int r = wsc_fill(w, end);
                if (r == 0)
                        return -1;
                if (r < 0)
                        return -2;
        }
}

/* The next frame before end (a clock_now_ms() time), as wsc_frame(). */
static int wsc_frame_by(struct wsc *w, int *op, char *buf, size_t size, long long end)
{
        long long left = end - clock_now_ms();

        return wsc_frame(w, op, buf, size, left > 0 ? (int)left : 0);
}

bool wsc_expect(struct wsc *w, const char *text, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;
        char buf[70000];
        int op;

        for (;;) {
                int n = wsc_frame_by(w, &op, buf, sizeof(buf), end);
                if (n < 0) {
                        fprintf(stderr, "expected '%s', got %s\n", text, n == -1 ? "timeout" : "EOF");
                        return false;
                }
                if (op == 0x8) {
                        fprintf(stderr, "expected '%s', got a close\n", text);
                        return false;
                }
                if (op == 0x1 && strcmp(buf, text) == 0)
                        return true;
                if (op == 0x1)
                        fprintf(stderr, "(skipping '%s' while waiting for '%s')\n", buf, text);
        }
}

int wsc_expect_close(struct wsc *w, char *reason, size_t size, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;
        char buf[70000];
        int op;

        for (;;) {
                int n = wsc_frame_by(w, &op, buf, sizeof(buf), end);
                if (n < 0)
                        return -1;
                if (op != 0x8)
                        continue;
                if (reason)
                        snprintf(reason, size, "%s", n >= 2 ? buf + 2 : "");
                return n >= 2 ? ((unsigned char)buf[0] << 8 | (unsigned char)buf[1]) : 1005;
        }
}

bool wsc_wait_eof(struct wsc *w, int timeout_ms)
{
        long long end = clock_now_ms() + timeout_ms;

        for (;;) {
                w->len = 0;
                int r = wsc_fill(w, end);
                if (r < 0)
                        return true;
                if (r == 0)
                        return false;
        }
}

int wsc_http(unsigned port, const char *request, char *out, size_t size, int timeout_ms)
{
        struct wsc *w = malloc(sizeof(*w));
        long long end = clock_now_ms() + timeout_ms;
        int n = -1;

        if (!w)
                return -1;
        if (wsc_connect(w, port) == 0 && wsc_send_raw(w, request, strlen(request)) == 0) {
                while (wsc_fill(w, end) > 0)
                        ;
                n = (int)(w->len < size - 1 ? w->len : size - 1);
                memcpy(out, w->buf, (size_t)n);
                out[n] = '\0';
        }
        wsc_close(w);
        free(w);
        return n;
}
