/* loadgen: pichat's load generator (tests/bench, not part of the test suite).
 *
 * One process, one thread, epoll. Every mode is bounded in time (-t, plus a
 * fixed drain) and in count (-n connections, -l lines), talks to 127.0.0.1
 * only, and prints one line of key=value pairs that tests/bench/drive.py
 * reads.
 *
 *   loadgen echo    -p PORT -n N -t SECS [-g] [-x PREFIX]
 *       N clients, each with one request in flight: send a line, wait for
 *       PREFIX + line, repeat. Round trips/s and a latency histogram.
 *       -g: the server greets every client with one line first.
 *   loadgen idle    -p PORT -n N -P PID [-g] [-t HOLD] [-W N -q WEBPORT]
 *       Connect N clients (greeted if -g) and hold them: the server's RSS
 *       and threads (/proc/PID/status), PSS and private memory
 *       (/proc/PID/smaps_rollup) before and while held, and how long it
 *       took until every client was served.
 *   loadgen chat    -p PORT -n N [-k K] -r pichat|irc|ncat -m window|paced|burst
 *                   [-w WINDOW] [-R RATE] [-l LINES] [-t SECS]
 *       A room of N members (K of them send). Every line goes to the N-1
 *       others; deliveries/s, loss, corruption, order and delivery latency.
 *       window: at most WINDOW lines per sender not yet delivered to all;
 *       paced: RATE lines/s per sender; burst: LINES lines at once.
 *   -W M -q WEBPORT (chat, idle; pichat): M of the N clients are browsers:
 *       WebSocket clients of pichatd's web service on WEBPORT, in the same
 *       room; chat then gives deliveries/s and latency for the telnet
 *       (tcp_*) and WebSocket (ws_*) members apart. When M is half the
 *       members who do not send, every other member is a browser (a
 *       room's lines reach its members in the order they joined: the two
 *       kinds must not differ by where they stand); else the last M are.
 *   loadgen udp     -p PORT [-n SOCKETS] [-w INFLIGHT] -t SECS [-x PREFIX]
 *   loadgen startup -p PORT [-N] [-g] -- COMMAND ARGS...
 *       Start COMMAND; the time to READY=1 (-N: it gets a NOTIFY_SOCKET)
 *       and to the first connection answered; then SIGTERM.
 *   -p P1,P2,... (chat, pichat): members dealt out to several servers
 *       (cluster nodes) in turn, the senders first; deliveries and latency
 *       to members on the sender's node (near_*) and on others (far_*).
 *   -P PID[,PID...] (echo, chat, udp): also the servers' CPU time over the timed
 *       window (srv_cpu_ms: user + system of PID, all its threads, the
 *       children it reaped and every living process of its session, from
 *       /proc/PID/stat), beside the
 *       generator's own (gen_cpu_ms) and the window's length (cpu_wall_ms).
 *   -c CONNECTS: connects in flight at once while connecting (default 256).
 *   -T CAFILE (chat, idle; pichat): the clients on PORT speak TLS
 *       (GnuTLS), the server's certificate checked against CAFILE for the
 *       name localhost; the handshake is part of connecting.
 *   loadgen freeport
 *       A port free for TCP and UDP on 127.0.0.1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 20000
#define LINE_MAX_BYTES 4096
#define CONNECT_INFLIGHT 256     /* connects not yet established at once */
#define DRAIN_MS 2000            /* after the run: wait this long for stragglers */

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "loadgen: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        exit(1);
}

/* ---- latency histogram: 64 sub-buckets per power of two (< 1.6 % error) */

#define H_SUB 64
#define H_BUCKETS (H_SUB * 40)

struct hist {
        uint64_t n, max;
        uint64_t b[H_BUCKETS];
};

static unsigned h_index(uint64_t v)
{
        if (v < H_SUB)
                return (unsigned)v;
        unsigned e = 63 - (unsigned)__builtin_clzll(v) - 5;     /* v >> e in [32,64) ... */
        unsigned idx = e * (H_SUB / 2) + (unsigned)(v >> e);
        return idx < H_BUCKETS ? idx : H_BUCKETS - 1;
}

static uint64_t h_value(unsigned idx)
{
        if (idx < H_SUB)
                return idx;
        unsigned e = idx / (H_SUB / 2) - 1;
        uint64_t m = idx - e * (H_SUB / 2);
        return m << e;
}

static void h_add(struct hist *h, uint64_t v)
{
        h->b[h_index(v)]++;
        h->n++;
        if (v > h->max)
                h->max = v;
}

static uint64_t h_pct(const struct hist *h, double p)
{
        if (!h->n)
                return 0;
        uint64_t want = (uint64_t)(p / 100.0 * (double)h->n);
        if (want >= h->n)
                want = h->n - 1;
        uint64_t seen = 0;
        for (unsigned i = 0; i < H_BUCKETS; i++) {
                seen += h->b[i];
                if (seen > want)
                        return h_value(i) > h->max ? h->max : h_value(i);
        }
        return h->max;
}

/* ---- options */

#define MAX_PORTS 8

static struct {
        unsigned port;          /* ports[0] */
        int ports[MAX_PORTS];   /* -p P1,P2,...: one a node */
        unsigned nports;
        int pids[MAX_PORTS];    /* -P: pid is pids[0] */
        unsigned npids;
        unsigned n, k, w;
        double secs, rate;
        unsigned lines;
        bool greet, notify;
        const char *prefix;
        const char *proto, *mode;
        pid_t pid;
        unsigned size;
        unsigned connects;      /* connects in flight at once */
        unsigned ws;            /* the last ws clients are WebSocket ones */
        unsigned web_port;
        const char *cafile;     /* -T: TLS, checked against this CA */
} opt = { .connects = CONNECT_INFLIGHT, .n = 1, .k = 1, .w = 64, .secs = 2, .rate = 500, .lines = 2000,
          .prefix = "OK...", .proto = "pichat", .mode = "window", .size = 32 };

static void raise_nofile(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static struct sockaddr_in server_addr(void)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port) };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sa;
}

/* ---- TCP connections with line buffers */

struct conn {
        int fd;
        unsigned id;
        int state;              /* mode specific */
        bool want_out;          /* EPOLLOUT asked for */
        bool ready;             /* counted by connect_all() */
        unsigned node;          /* the index of the port it is connected to */
        bool ws;                /* a WebSocket client: frames, not lines */
        bool upgraded;          /* ... its handshake answered */
        size_t rlen;
        char rbuf[LINE_MAX_BYTES];
        char *out;              /* pending output (burst sender) */
        size_t olen, ooff, ocap;
        int64_t sent_ns;        /* echo: time of the request in flight */
        uint64_t seq;
        /* chat receivers: next sequence expected from each sender */
        uint64_t *next;
        gnutls_session_t tls;   /* -T: the session, once connected */
        bool tls_sending;       /* a record waits in it (GNUTLS_E_AGAIN) */
};

static struct conn *conns;
static int ep;
static gnutls_certificate_credentials_t tls_cred;

static void ep_mod(int fd, uint32_t events, uint64_t data);

/* -T: a client session on c's connected socket. */
static void tls_begin(struct conn *c)
{
        if (!tls_cred) {
                if (gnutls_certificate_allocate_credentials(&tls_cred) < 0 ||
                    gnutls_certificate_set_x509_trust_file(tls_cred, opt.cafile,
                                                           GNUTLS_X509_FMT_PEM) <= 0)
                        die("-T %s: no CA certificate", opt.cafile);
        }
        if (gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0)
                die("gnutls_init");
        gnutls_set_default_priority(c->tls);
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, tls_cred);
        gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, "localhost", 9);
        gnutls_session_set_verify_cert(c->tls, "localhost", 0);
        gnutls_transport_set_int(c->tls, c->fd);
}

/* The handshake, one step: 1 done, 0 again later (epoll events set for
 * the direction it waits for), or it dies. */
static int tls_step(struct conn *c)
{
        int r = gnutls_handshake(c->tls);

        if (r == 0)
                return 1;
        if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
                die("client #%u: TLS handshake: %s", c->id, gnutls_strerror(r));
        ep_mod(c->fd, gnutls_record_get_direction(c->tls) ? EPOLLOUT : EPOLLIN, c->id);
        return 0;
}

/* recv() and send() through the session when there is one: bytes, or -1
 * with errno (EAGAIN, or EPIPE for a TLS error); recv 0 at the end. */
static ssize_t c_recv(struct conn *c, void *buf, size_t len)
{
        if (!c->tls)
                return recv(c->fd, buf, len, 0);
        ssize_t n = gnutls_record_recv(c->tls, buf, len);
        if (n >= 0)
                return n;
        errno = n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED ? EAGAIN : EPIPE;
        return -1;
}

static ssize_t c_send(struct conn *c, const void *buf, size_t len)
{
        if (!c->tls)
                return send(c->fd, buf, len, MSG_NOSIGNAL);
        /* A record made before goes first: GnuTLS sends it on a call with
         * no data and returns its length. */
        ssize_t n = c->tls_sending ? gnutls_record_send(c->tls, NULL, 0) :
                                     gnutls_record_send(c->tls, buf, len > 16384 ? 16384 : len);
        if (n >= 0) {
                c->tls_sending = false;
                return n;
        }
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                c->tls_sending = true;
                errno = EAGAIN;
        } else {
                errno = EPIPE;
        }
        return -1;
}

static int tcp_connect_nb(unsigned port)
{
        struct sockaddr_in sa = server_addr();
        sa.sin_port = htons((uint16_t)port);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die("socket: %s", strerror(errno));
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
                die("connect: %s", strerror(errno));
        return fd;
}

static void ep_add(int fd, uint32_t events, uint64_t data)
{
        struct epoll_event ev = { .events = events, .data.u64 = data };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                die("epoll_ctl: %s", strerror(errno));
}

static void ep_mod(int fd, uint32_t events, uint64_t data)
{
        struct epoll_event ev = { .events = events, .data.u64 = data };
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Write all of buf (short lines to a socket with room): 0 or -1. */
static int send_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        struct timespec ts = { 0, 100000 };
                        nanosleep(&ts, NULL);
                        continue;
                }
                if (n <= 0)
                        return -1;
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* A browser's first words: the handshake pichatd's web service takes. */
static void ws_handshake(struct conn *c)
{
        char req[512];
        int n = snprintf(req, sizeof(req),
                         "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:%u\r\n\r\n",
                         opt.web_port, opt.web_port);
        send_all(c->fd, req, (size_t)n);
}

/* A WebSocket client's text frames as lines, once the response to its
 * handshake is read: fn for each text frame's payload. -1 at a close. */
static int ws_frames(struct conn *c, void (*fn)(struct conn *c, char *line, size_t len))
{
        size_t pos = 0;
        char line[LINE_MAX_BYTES];

        if (!c->upgraded) {
                char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
                if (!end)
                        return 0;
                if (strncmp(c->rbuf, "HTTP/1.1 101 ", 13) != 0)
                        die("client #%u: no WebSocket: %.40s", c->id, c->rbuf);
                c->upgraded = true;
                pos = (size_t)(end + 4 - c->rbuf);
        }
        while (c->rlen - pos >= 2) {
                const unsigned char *f = (const unsigned char *)c->rbuf + pos;
                size_t h = 2, n = f[1] & 0x7F;
                if (n == 126) {
                        if (c->rlen - pos < 4)
                                break;
                        n = (size_t)f[2] << 8 | f[3];
                        h = 4;
                } else if (n == 127) {
                        die("client #%u: a frame too long for the benchmark", c->id);
                }
                if (c->rlen - pos < h + n)
                        break;
                if ((f[0] & 0x0F) == 0x8)
                        return -1;
                if ((f[0] & 0x0F) == 0x1 && n < sizeof(line)) {
                        memcpy(line, f + h, n);
                        line[n] = '\0';
                        fn(c, line, n);
                }
                pos += h + n;
        }
        memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
        c->rlen -= pos;
        return 0;
}

/* Read what is there; call fn for every complete line (without CR/LF).
 * Returns -1 on EOF/error, else 0. */
static int read_lines(struct conn *c, void (*fn)(struct conn *c, char *line, size_t len))
{
        for (;;) {
                size_t room = sizeof(c->rbuf) - c->rlen;
                ssize_t n = c_recv(c, c->rbuf + c->rlen, room);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return 0;
                if (n <= 0)
                        return -1;
                c->rlen += (size_t)n;
                if (c->ws) {
                        if (ws_frames(c, fn) < 0)
                                return -1;
                        if (c->rlen == sizeof(c->rbuf))
                                die("client #%u: a frame longer than its buffer", c->id);
                        if ((size_t)n < room)
                                return 0;
                        continue;
                }
                size_t start = 0;
                for (size_t i = c->rlen - (size_t)n; i < c->rlen; i++) {
                        if (c->rbuf[i] != '\n')
                                continue;
                        size_t end = i;
                        if (end > start && c->rbuf[end - 1] == '\r')
                                end--;
                        c->rbuf[end] = '\0';
                        fn(c, c->rbuf + start, end - start);
                        start = i + 1;
                }
                if (start > 0) {
                        memmove(c->rbuf, c->rbuf + start, c->rlen - start);
                        c->rlen -= start;
                } else if (c->rlen == sizeof(c->rbuf)) {
                        c->rlen = 0;    /* a line longer than we ever send: drop it */
                }
                /* A short read empties a socket, not a session: GnuTLS
                 * returns a record at a time, and says EAGAIN at the end. */
                if ((size_t)n < room && !c->tls)
                        return 0;       /* short read: the socket is empty */
        }
}

/* Whether client i is a browser (-W; see the top of this file). */
static bool is_ws(unsigned i)
{
        unsigned members = opt.n - opt.k;

        if (opt.ws && opt.ws * 2 == members)
                return i >= opt.k && (i - opt.k) % 2 == 1;
        return i >= opt.n - opt.ws;
}

/* Connect n clients, at most opt.connects of them not yet ready at once,
 * so that a server's short listen backlog never overflows (a client whose
 * handshake the kernel finished may still wait unseen in the backlog, and
 * one past the backlog waits for TCP retransmits). on_est runs when a
 * connect completes, line_fn for every line; a client is ready once its
 * state reaches ready_state. Bounded by deadline. Returns the number ready. */
static unsigned connect_all(unsigned n, void (*on_est)(struct conn *c),
                            void (*line_fn)(struct conn *c, char *line, size_t len),
                            int ready_state, int64_t deadline, int64_t *done_ns)
{
        unsigned started = 0, ready = 0;
        struct epoll_event evs[256];

        while (ready < n && now_ns() < deadline) {
                while (started < n && started - ready < opt.connects) {
                        struct conn *c = &conns[started];
                        c->ws = is_ws(started);
                        /* Several ports (nodes): dealt out in turn. */
                        c->node = started % opt.nports;
                        c->fd = tcp_connect_nb(c->ws ? opt.web_port : (unsigned)opt.ports[c->node]);
                        c->id = started;
                        c->state = -1;  /* connecting */
                        ep_add(c->fd, EPOLLOUT | EPOLLIN, started);
                        started++;
                }
                int k = epoll_wait(ep, evs, 256, 50);
                for (int i = 0; i < k; i++) {
                        struct conn *c = &conns[evs[i].data.u64];
                        if (c->state == -1 && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                                int err = 0;
                                socklen_t el = sizeof(err);
                                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                                if (err)
                                        die("connect #%u: %s", c->id, strerror(err));
                                c->state = 0;
                                ep_mod(c->fd, EPOLLIN, c->id);
                                if (opt.cafile && !c->ws) {
                                        tls_begin(c);
                                        c->state = -2;  /* handshaking */
                                        if (tls_step(c)) {
                                                c->state = 0;
                                                ep_mod(c->fd, EPOLLIN, c->id);
                                                on_est(c);
                                        }
                                } else {
                                        if (c->ws)
                                                ws_handshake(c);
                                        on_est(c);
                                }
                        } else if (c->state == -2 && tls_step(c)) {
                                c->state = 0;
                                ep_mod(c->fd, EPOLLIN, c->id);
                                on_est(c);
                        }
                        if (c->state >= 0 && (evs[i].events & EPOLLIN))
                                if (read_lines(c, line_fn) < 0)
                                        die("client #%u closed while connecting", c->id);
                        if (c->state >= ready_state && !c->ready) {
                                c->ready = true;
                                ready++;
                        }
                }
        }
        *done_ns = now_ns();
        return ready;
}

/* Echo and idle clients: ready when connected, or once greeted. */
static void on_est_plain(struct conn *c)
{
        if (!opt.greet)
                c->state = 1;
}

static void on_greet_line(struct conn *c, char *line, size_t len)
{
        (void)line;
        (void)len;
        if (c->state == 0)
                c->state = 1;
}

/* ---- CPU over the timed window: the server's (-P PID) and our own */

/* utime + stime + cutime + cstime of /proc/PID/stat (all its threads,
 * living and gone, and the children it reaped), in clock ticks; -1 when
 * it cannot be read. *session: the session it is in. */
static long long stat_ticks(const char *pid, long *session)
{
        char path[64], buf[1024];
        long long ut, st, cut, cst;

        snprintf(path, sizeof(path), "/proc/%s/stat", pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        /* After the name: state ppid pgrp session tty tpgid flags minflt
         * cminflt majflt cmajflt utime stime cutime cstime. */
        if (!p || sscanf(p + 2, "%*c %*d %*d %ld %*d %*d %*u %*u %*u %*u %*u %lld %lld %lld %lld",
                         session, &ut, &st, &cut, &cst) != 5)
                return -1;
        return ut + st + cut + cst;
}

/* The CPU time of pid and of every living process of its session (drive.py
 * starts each server as a session of its own; xinetd serves every client
 * in a child), in clock ticks; -1 when pid cannot be read. A child that
 * ends is reaped into its parent's cutime, which is counted too. */
static long long proc_cpu_ticks(pid_t pid)
{
        char me[16];
        long session;
        long long t;

        snprintf(me, sizeof(me), "%d", (int)pid);
        if ((t = stat_ticks(me, &session)) < 0)
                return -1;
        DIR *d = opendir("/proc");
        if (!d)
                return t;
        for (struct dirent *e; (e = readdir(d));) {
                long s;
                long long c;
                if (e->d_name[0] < '1' || e->d_name[0] > '9' || !strcmp(e->d_name, me))
                        continue;
                if ((c = stat_ticks(e->d_name, &s)) > 0 && s == (long)pid)
                        t += c;
        }
        closedir(d);
        return t;
}

static struct {
        long long srv;          /* server ticks at the start, -1: no -P */
        int64_t gen_ns, wall_ns;
} cpu0;

static int64_t own_cpu_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* All the -P processes together; -1 if one cannot be read. */
static long long servers_cpu_ticks(void)
{
        long long t = 0;

        for (unsigned i = 0; i < opt.npids; i++) {
                long long one = proc_cpu_ticks((pid_t)opt.pids[i]);
                if (one < 0)
                        return -1;
                t += one;
        }
        return opt.npids ? t : -1;
}

static void cpu_begin(void)
{
        cpu0.srv = servers_cpu_ticks();
        cpu0.gen_ns = own_cpu_ns();
        cpu0.wall_ns = now_ns();
}

/* " srv_cpu_ms=... gen_cpu_ms=... cpu_wall_ms=...": the server's CPU time
 * over the window (-1 without -P), ours and the window's length. */
static void cpu_print(void)
{
        long long srv = cpu0.srv >= 0 ? servers_cpu_ticks() : -1;
        double tick_ms = 1000.0 / (double)sysconf(_SC_CLK_TCK);

        printf(" srv_cpu_ms=%.0f gen_cpu_ms=%.0f cpu_wall_ms=%.0f",
               srv >= 0 ? (double)(srv - cpu0.srv) * tick_ms : -1.0,
               (double)(own_cpu_ns() - cpu0.gen_ns) / 1e6,
               (double)(now_ns() - cpu0.wall_ns) / 1e6);
}

/* ---- echo */

static struct hist hist;
static uint64_t rt_done, rt_bad;
static bool echo_sending;
static size_t prefix_len;
static int64_t echo_stop_ns;
static unsigned echo_inflight;

static int echo_payload(struct conn *c, char *buf)
{
        /* "bench <id> <seq> xxxx...", opt.size bytes in all */
        int n = snprintf(buf, 256, "bench %u %" PRIu64 " ", c->id, c->seq);
        while ((unsigned)n < opt.size && n < 255)
                buf[n++] = 'x';
        buf[n] = '\0';
        return n;
}

static void echo_send(struct conn *c)
{
        char buf[260];
        int n = echo_payload(c, buf);
        buf[n++] = '\r';
        buf[n++] = '\n';
        c->sent_ns = now_ns();
        if (send_all(c->fd, buf, (size_t)n) < 0)
                die("echo: send: %s", strerror(errno));
        echo_inflight++;
}

static void echo_line(struct conn *c, char *line, size_t len)
{
        char want[260];
        int n;

        if (c->state == 0) {            /* greeting */
                c->state = 1;
                return;
        }
        if (c->sent_ns == 0) {
                rt_bad++;               /* an answer to nothing */
                return;
        }
        n = echo_payload(c, want);
        if (len != prefix_len + (size_t)n || memcmp(line, opt.prefix, prefix_len) != 0 ||
            memcmp(line + prefix_len, want, (size_t)n) != 0)
                rt_bad++;
        else {
                rt_done++;
                h_add(&hist, (uint64_t)(now_ns() - c->sent_ns) / 1000);
        }
        c->sent_ns = 0;
        c->seq++;
        echo_inflight--;
        if (echo_sending && now_ns() < echo_stop_ns)
                echo_send(c);
}

static int mode_echo(void)
{
        int64_t t0 = now_ns(), done;
        struct epoll_event evs[512];

        prefix_len = strlen(opt.prefix);
        unsigned got = connect_all(opt.n, on_est_plain, on_greet_line, 1, t0 + 30 * 1000000000LL,
                                   &done);
        if (got < opt.n)
                die("echo: only %u of %u clients connected", got, opt.n);
        for (unsigned i = 0; i < opt.n; i++)
                conns[i].state = 1;
        cpu_begin();
        int64_t start = now_ns();
        echo_stop_ns = start + (int64_t)(opt.secs * 1e9);
        echo_sending = true;
        for (unsigned i = 0; i < opt.n; i++)
                echo_send(&conns[i]);
        int64_t end = echo_stop_ns + DRAIN_MS * 1000000LL;
        while (now_ns() < end && (now_ns() < echo_stop_ns || echo_inflight > 0)) {
                int k = epoll_wait(ep, evs, 512, 20);
                for (int i = 0; i < k; i++) {
                        struct conn *c = &conns[evs[i].data.u64];
                        if (read_lines(c, echo_line) < 0)
                                die("echo: client #%u closed by the server", c->id);
                }
        }
        double el = (double)(now_ns() - start) / 1e9;
        printf("mode=echo n=%u secs=%.3f rt=%" PRIu64 " rps=%.0f p50_us=%" PRIu64
               " p99_us=%" PRIu64 " max_us=%" PRIu64 " bad=%" PRIu64 " unanswered=%u",
               opt.n, el, rt_done, (double)rt_done / el, h_pct(&hist, 50), h_pct(&hist, 99),
               hist.max, rt_bad, echo_inflight);
        cpu_print();
        printf("\n");
        return rt_bad || echo_inflight ? 3 : 0;
}

/* ---- idle */

static void proc_status(pid_t pid, long *rss_kib, long *threads)
{
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "re");
        *rss_kib = *threads = -1;
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                sscanf(line, "VmRSS: %ld", rss_kib);
                sscanf(line, "Threads: %ld", threads);
        }
        fclose(f);
}

/* From /proc/PID/smaps_rollup: PSS (each shared page divided among the
 * processes that map it) and private memory (Private_Clean +
 * Private_Dirty: the pages no other process maps, what this process costs
 * the machine on its own), and of it Private_Dirty (written pages: this
 * process's own wherever it runs; a clean page is private only while no
 * other process maps it). RSS counts a shared library's pages in full in
 * every process that maps it. */
static void proc_rollup(pid_t pid, long *pss_kib, long *private_kib, long *dirty_kib)
{
        char path[64], line[256];
        long clean = -1, dirty = -1;

        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
        FILE *f = fopen(path, "re");
        *pss_kib = *private_kib = *dirty_kib = -1;
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                sscanf(line, "Pss: %ld", pss_kib);
                sscanf(line, "Private_Clean: %ld", &clean);
                sscanf(line, "Private_Dirty: %ld", &dirty);
        }
        fclose(f);
        if (clean >= 0 && dirty >= 0)
                *private_kib = clean + dirty;
        *dirty_kib = dirty;
}

static int mode_idle(void)
{
        long rss0, thr0, rss1, thr1, pss0, priv0, pss1, priv1, dirty0, dirty1;
        int64_t done;

        if (opt.pid <= 0)
                die("idle: -P PID is needed");
        proc_status(opt.pid, &rss0, &thr0);
        proc_rollup(opt.pid, &pss0, &priv0, &dirty0);
        int64_t t0 = now_ns();
        unsigned got = connect_all(opt.n, on_est_plain, on_greet_line, 1, t0 + 60 * 1000000000LL,
                                   &done);
        double accept_ms = (double)(done - t0) / 1e6;
        /* Let the server settle (threads finish starting, logs flushed). */
        struct timespec ts = { (time_t)opt.secs, (long)((opt.secs - (time_t)opt.secs) * 1e9) };
        nanosleep(&ts, NULL);
        proc_status(opt.pid, &rss1, &thr1);
        proc_rollup(opt.pid, &pss1, &priv1, &dirty1);
        /* Are they all still there? Nobody must have been closed. */
        unsigned closed = 0;
        for (unsigned i = 0; i < opt.n && i < got; i++) {
                char b[64];
                ssize_t n = recv(conns[i].fd, b, sizeof(b), MSG_DONTWAIT);
                if (n == 0)
                        closed++;
        }
        printf("mode=idle n=%u held=%u closed=%u accept_ms=%.1f rss0_kib=%ld rss_kib=%ld "
               "per_client_kib=%.2f pss0_kib=%ld pss_kib=%ld per_client_pss_kib=%.2f "
               "private0_kib=%ld private_kib=%ld per_client_private_kib=%.2f "
               "private_dirty0_kib=%ld private_dirty_kib=%ld threads0=%ld threads=%ld\n",
               opt.n, got, closed, accept_ms, rss0, rss1,
               got ? (double)(rss1 - rss0) / got : 0.0, pss0, pss1,
               got ? (double)(pss1 - pss0) / got : 0.0, priv0, priv1,
               got ? (double)(priv1 - priv0) / got : 0.0, dirty0, dirty1, thr0, thr1);
        return got == opt.n && closed == 0 ? 0 : 3;
}

/* ---- chat */

enum proto { P_PICHAT, P_IRC, P_NCAT };
static enum proto proto;
static unsigned joined;
static uint64_t delivered, corrupted, disorder, foreign;
static struct hist chat_hist;
/* The same, for the telnet and the WebSocket members apart. */
static uint64_t delivered_by[2];
static struct hist hist_by[2];
/* Several nodes (-p P1,P2,...): members on the sender's node and on others. */
static uint64_t delivered_far[2];
static struct hist hist_far[2];
static uint64_t *sent_count;           /* per sender */
static uint32_t *win_count;            /* per sender x window: receipts of seq */
static uint64_t *win_low;              /* per sender: oldest seq not fully delivered */
static unsigned n_members;

static uint32_t fnv(const char *s, size_t n)
{
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < n; i++)
                h = (h ^ (uint8_t)s[i]) * 16777619u;
        return h;
}

/* "BENCH <sender> <seq> <t_ns> <pad> <fnv32 of everything before it>" */
static size_t chat_payload(char *buf, size_t size, unsigned sender, uint64_t seq, int64_t t)
{
        int n = snprintf(buf, size, "BENCH %u %" PRIu64 " %" PRId64 " ", sender, seq, t);
        for (unsigned i = 0; n < 56 && (size_t)n < size - 16; i++)
                buf[n++] = (char)('a' + (seq + i) % 26);
        buf[n++] = ' ';
        n += snprintf(buf + n, size - (size_t)n, "%08x", fnv(buf, (size_t)n));
        return (size_t)n;
}

/* The payload a protocol line carries, or NULL. */
static char *chat_extract(char *line)
{
        switch (proto) {
        case P_NCAT:
                /* ncat --chat prefixes what one read() brought, not each
                 * line: the second line of a chunk arrives bare. */
                if (line[0] != '<')
                        return line;
                /* fall through */
        case P_PICHAT: {        /* "<nick> text" */
                if (line[0] != '<')
                        return NULL;
                char *p = strstr(line, "> ");
                return p ? p + 2 : NULL;
        }
        case P_IRC: {   /* ":nick!user@host PRIVMSG #bench :text" */
                char *p = strstr(line, " PRIVMSG ");
                if (!p)
                        return NULL;
                p = strstr(p, " :");
                return p ? p + 2 : NULL;
        }
        }
        return NULL;
}

static void chat_irc_control(struct conn *c, char *line)
{
        if (strncmp(line, "PING ", 5) == 0) {
                char pong[300];
                int n = snprintf(pong, sizeof(pong), "PONG %.250s\r\n", line + 5);
                send_all(c->fd, pong, (size_t)n);
                return;
        }
        char *sp = strchr(line, ' ');
        if (!sp)
                return;
        if (c->state == 1 && strncmp(sp, " 001 ", 5) == 0) {
                send_all(c->fd, "JOIN #bench\r\n", 13);
                c->state = 2;
        } else if (c->state == 2 && strncmp(sp, " 366 ", 5) == 0) {
                c->state = 3;
                joined++;
        }
}

/* IRC clients register as soon as they are connected. */
static void chat_on_est(struct conn *c)
{
        if (proto != P_IRC)
                return;
        /* Nicks unique per run: a server may still hold the last run's. */
        char reg[128];
        int n = snprintf(reg, sizeof(reg), "NICK b%u_%u\r\nUSER b%u 0 * :bench\r\n",
                         (unsigned)getpid() % 10000, c->id, c->id);
        send_all(c->fd, reg, (size_t)n);
        c->state = 1;
}

static void chat_line(struct conn *c, char *line, size_t len)
{
        (void)len;
        if (proto == P_IRC && c->state < 3) {
                chat_irc_control(c, line);
                return;
        }
        if (proto == P_IRC && line[0] == 'P') {
                chat_irc_control(c, line);
                return;
        }
        if (proto == P_NCAT && c->state < 3) {
                c->state = 3;   /* "<announce> ... connected as <userN>." */
                joined++;
                return;
        }
        if (proto == P_PICHAT && c->state < 3) {
                if (c->state == 0)
                        c->state = 1;   /* the greeting */
                if (strncmp(line, "* you are ", 10) == 0) {
                        c->state = 3;
                        joined++;
                }
                return;
        }
        char *p = chat_extract(line);
        if (!p || strncmp(p, "BENCH ", 6) != 0) {
                if (strstr(line, "BENCH")) {
                        if (corrupted++ < 3)
                                fprintf(stderr, "loadgen: corrupted line at #%u: %s\n", c->id, line);
                }
                else
                        foreign++;
                return;
        }
        unsigned sender;
        uint64_t seq;
        int64_t t;
        int off = 0;
        char *sum = strrchr(p, ' ');
        if (sscanf(p, "BENCH %u %" SCNu64 " %" SCNd64 " %n", &sender, &seq, &t, &off) != 3 ||
            !sum || sender >= opt.k || strtoul(sum + 1, NULL, 16) !=
                    fnv(p, (size_t)(sum + 1 - p)) || strlen(sum + 1) != 8) {
                if (corrupted++ < 3)
                        fprintf(stderr, "loadgen: corrupted line at #%u: %s\n", c->id, line);
                return;
        }
        char want[128];
        chat_payload(want, sizeof(want), sender, seq, t);
        if (strcmp(want, p) != 0) {
                if (corrupted++ < 3)
                        fprintf(stderr, "loadgen: corrupted line at #%u: %s\n", c->id, line);
                return;
        }
        if (seq != c->next[sender])
                disorder++;
        if (seq >= c->next[sender])
                c->next[sender] = seq + 1;
        delivered++;
        delivered_by[c->ws]++;
        h_add(&chat_hist, (uint64_t)(now_ns() - t) / 1000);
        h_add(&hist_by[c->ws], (uint64_t)(now_ns() - t) / 1000);
        bool far = c->node != conns[sender].node;
        delivered_far[far]++;
        h_add(&hist_far[far], (uint64_t)(now_ns() - t) / 1000);
        if (seq >= win_low[sender] && seq < win_low[sender] + opt.w) {
                uint32_t *cnt = &win_count[(size_t)sender * opt.w + seq % opt.w];
                (*cnt)++;
                while (win_low[sender] < sent_count[sender] &&
                       win_count[(size_t)sender * opt.w + win_low[sender] % opt.w] >=
                               n_members - 1) {
                        win_count[(size_t)sender * opt.w + win_low[sender] % opt.w] = 0;
                        win_low[sender]++;
                }
        }
}

/* Queue one line for sender s (conns[s]); burst senders buffer, the others
 * write at once. */
static void chat_send(unsigned s)
{
        struct conn *c = &conns[s];
        char line[256];
        size_t n = 0;

        if (proto == P_IRC)
                n = (size_t)snprintf(line, sizeof(line), "PRIVMSG #bench :");
        n += chat_payload(line + n, sizeof(line) - n, s, sent_count[s], now_ns());
        line[n++] = '\r';
        line[n++] = '\n';
        sent_count[s]++;
        if (c->olen + n > c->ocap) {
                c->ocap = c->ocap ? c->ocap * 2 : 65536;
                while (c->ocap < c->olen + n)
                        c->ocap *= 2;
                c->out = realloc(c->out, c->ocap);
                if (!c->out)
                        die("out of memory");
        }
        memcpy(c->out + c->olen, line, n);
        c->olen += n;
}

/* Push pending output of a sender: true when all of it is written. */
static bool chat_flush(struct conn *c)
{
        while (c->ooff < c->olen) {
                ssize_t n = c_send(c, c->out + c->ooff, c->olen - c->ooff);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return false;
                if (n <= 0)
                        die("chat: sender #%u: send: %s", c->id, strerror(errno));
                c->ooff += (size_t)n;
        }
        c->ooff = c->olen = 0;
        return true;
}

/* Ask for EPOLLOUT only while a sender has output the socket did not take. */
static void chat_want_out(struct conn *c, bool want)
{
        if (want == c->want_out)
                return;
        c->want_out = want;
        ep_mod(c->fd, EPOLLIN | (want ? EPOLLOUT : 0), c->id);
}

static int mode_chat(void)
{
        struct epoll_event evs[512];
        int64_t t0 = now_ns(), done;

        if (!strcmp(opt.proto, "pichat"))
                proto = P_PICHAT;
        else if (!strcmp(opt.proto, "irc"))
                proto = P_IRC;
        else if (!strcmp(opt.proto, "ncat"))
                proto = P_NCAT;
        else
                die("chat: unknown protocol %s", opt.proto);
        if (opt.k < 1 || opt.k >= opt.n)
                die("chat: need 1 <= K < N");
        n_members = opt.n;
        sent_count = calloc(opt.k, sizeof(*sent_count));
        win_low = calloc(opt.k, sizeof(*win_low));
        win_count = calloc((size_t)opt.k * opt.w, sizeof(*win_count));
        for (unsigned i = 0; i < opt.n; i++)
                conns[i].next = calloc(opt.k, sizeof(uint64_t));

        /* Join: connect everyone (each greeted, or registered on IRC). */
        unsigned got = connect_all(opt.n, chat_on_est, chat_line, proto == P_IRC ? 2 : 1,
                                   t0 + 30 * 1000000000LL, &done);
        if (got < opt.n)
                die("chat: only %u of %u clients connected", got, opt.n);
        int64_t join_deadline = now_ns() + 30 * 1000000000LL;
        while (joined < opt.n && now_ns() < join_deadline) {
                int k = epoll_wait(ep, evs, 512, 20);
                for (int i = 0; i < k; i++) {
                        struct conn *c = &conns[evs[i].data.u64];
                        if (read_lines(c, chat_line) < 0)
                                die("chat: client #%u closed while joining", c->id);
                }
        }
        if (joined < opt.n)
                die("chat: only %u of %u joined", joined, opt.n);
        /* Let join notices settle: drain for 300 ms. */
        int64_t settle = now_ns() + 300 * 1000000LL;
        while (now_ns() < settle) {
                int k = epoll_wait(ep, evs, 512, 20);
                for (int i = 0; i < k; i++)
                        if (read_lines(&conns[evs[i].data.u64], chat_line) < 0)
                                die("chat: client closed while settling");
        }
        /* Lines so far (a room's history, join notices) are not the test's. */
        uint64_t foreign0 = foreign;
        delivered = corrupted = disorder = 0;
        memset(&chat_hist, 0, sizeof(chat_hist));
        memset(delivered_by, 0, sizeof(delivered_by));
        memset(hist_by, 0, sizeof(hist_by));
        memset(delivered_far, 0, sizeof(delivered_far));
        memset(hist_far, 0, sizeof(hist_far));
        for (unsigned i = 0; i < opt.n; i++)
                memset(conns[i].next, 0, opt.k * sizeof(uint64_t));

        enum { M_WINDOW, M_PACED, M_BURST } mode =
                !strcmp(opt.mode, "paced") ? M_PACED : !strcmp(opt.mode, "burst") ? M_BURST :
                M_WINDOW;
        if (mode == M_WINDOW && opt.w > 100000)
                die("chat: window too large");
        cpu_begin();
        int64_t start = now_ns(), stop = start + (int64_t)(opt.secs * 1e9);
        int64_t period = mode == M_PACED ? (int64_t)(1e9 / opt.rate) : 0;
        int64_t next_send = start, last_delivery = start;
        uint64_t total_lines = mode == M_BURST ? opt.lines : UINT64_MAX;
        uint64_t expected_done = 0;

        if (mode == M_BURST) {
                for (unsigned s = 0; s < opt.k; s++)
                        for (unsigned i = 0; i < opt.lines; i++)
                                chat_send(s);
                stop = start + 20 * 1000000000LL;     /* bound: 20 s at most */
        }

        int64_t end = stop + DRAIN_MS * 1000000LL;
        for (;;) {
                int64_t now = now_ns();
                bool sending = now < stop;
                uint64_t total_sent = 0;
                for (unsigned s = 0; s < opt.k; s++)
                        total_sent += sent_count[s];
                expected_done = total_sent * (opt.n - 1);
                if (mode == M_BURST && delivered + corrupted >= expected_done)
                        break;
                if (!sending && mode != M_BURST && delivered >= expected_done)
                        break;
                if (now >= end)
                        break;
                if (sending && mode == M_WINDOW) {
                        for (unsigned s = 0; s < opt.k; s++)
                                while (sent_count[s] < win_low[s] + opt.w && sent_count[s] < total_lines)
                                        chat_send(s);
                } else if (sending && mode == M_PACED) {
                        while (now >= next_send) {
                                for (unsigned s = 0; s < opt.k; s++)
                                        chat_send(s);
                                next_send += period;
                        }
                }
                for (unsigned s = 0; s < opt.k; s++)
                        chat_want_out(&conns[s], !chat_flush(&conns[s]));
                int timeout = 10;
                if (mode == M_PACED && sending) {
                        int64_t d = (next_send - now_ns()) / 1000000;
                        timeout = d < 0 ? 0 : d > 10 ? 10 : (int)d;
                }
                int k = epoll_wait(ep, evs, 512, timeout);
                for (int i = 0; i < k; i++) {
                        struct conn *c = &conns[evs[i].data.u64];
                        if ((evs[i].events & EPOLLOUT) && c->id < opt.k)
                                chat_want_out(c, !chat_flush(c));
                        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                                uint64_t before = delivered;
                                if (read_lines(c, chat_line) < 0)
                                        die("chat: client #%u closed by the server "
                                            "(delivered %" PRIu64 ")", c->id, delivered);
                                if (delivered != before)
                                        last_delivery = now_ns();
                        }
                }
        }
        uint64_t total_sent = 0;
        for (unsigned s = 0; s < opt.k; s++)
                total_sent += sent_count[s];
        expected_done = total_sent * (opt.n - 1);
        double el = (double)(last_delivery - start) / 1e9;
        if (el <= 0)
                el = 1e-9;
        printf("mode=chat proto=%s how=%s n=%u k=%u sent=%" PRIu64 " expected=%" PRIu64
               " delivered=%" PRIu64 " lost=%" PRIu64 " corrupted=%" PRIu64 " disorder=%" PRIu64
               " other=%" PRIu64 " secs=%.3f dps=%.0f p50_us=%" PRIu64 " p99_us=%" PRIu64
               " max_us=%" PRIu64,
               opt.proto, opt.mode, opt.n, opt.k, total_sent, expected_done, delivered,
               expected_done > delivered ? expected_done - delivered : 0, corrupted, disorder,
               foreign - foreign0, el, (double)delivered / el, h_pct(&chat_hist, 50),
               h_pct(&chat_hist, 99), chat_hist.max);
        if (opt.ws) {
                /* The members of each kind, in the same room, apart. */
                printf(" tcp_n=%u ws_n=%u tcp_delivered=%" PRIu64
                       " ws_delivered=%" PRIu64 " tcp_dps=%.0f ws_dps=%.0f tcp_p50_us=%" PRIu64
                       " ws_p50_us=%" PRIu64 " tcp_p99_us=%" PRIu64 " ws_p99_us=%" PRIu64,
                       opt.n - opt.ws, opt.ws, delivered_by[0], delivered_by[1],
                       (double)delivered_by[0] / el, (double)delivered_by[1] / el,
                       h_pct(&hist_by[0], 50), h_pct(&hist_by[1], 50), h_pct(&hist_by[0], 99),
                       h_pct(&hist_by[1], 99));
        }
        if (opt.nports > 1)
                printf(" nodes=%u near_delivered=%" PRIu64 " far_delivered=%" PRIu64
                       " near_p50_us=%" PRIu64 " near_p99_us=%" PRIu64 " far_p50_us=%" PRIu64
                       " far_p99_us=%" PRIu64, opt.nports, delivered_far[0], delivered_far[1],
                       h_pct(&hist_far[0], 50), h_pct(&hist_far[0], 99), h_pct(&hist_far[1], 50),
                       h_pct(&hist_far[1], 99));
        cpu_print();
        printf("\n");
        return 0;
}

/* ---- udp */

#define UDP_SOCKS_MAX 64
#define UDP_WIN_MAX 64
#define UDP_LOST_MS 200

struct usock {
        int fd;
        uint64_t seq[UDP_WIN_MAX];
        int64_t t[UDP_WIN_MAX];         /* 0: slot free */
};

static int mode_udp(void)
{
        struct usock us[UDP_SOCKS_MAX];
        struct sockaddr_in sa = server_addr();
        struct epoll_event evs[64];
        uint64_t sent = 0, got = 0, bad = 0, lost = 0, next_seq = 0;
        size_t plen = strlen(opt.prefix);
        struct hist uh = { 0 };

        if (opt.n > UDP_SOCKS_MAX || opt.w > UDP_WIN_MAX)
                die("udp: at most %d sockets x %d in flight", UDP_SOCKS_MAX, UDP_WIN_MAX);
        for (unsigned i = 0; i < opt.n; i++) {
                us[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (us[i].fd < 0 || connect(us[i].fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                        die("udp: socket: %s", strerror(errno));
                memset(us[i].t, 0, sizeof(us[i].t));
                ep_add(us[i].fd, EPOLLIN, i);
        }
        /* Batched both ways, as a client under load would be: one
         * sendmmsg() refills a socket's free slots, one recvmmsg() takes
         * every reply queued on it. The generator must not be what limits
         * the rate it measures. */
        static char obuf[UDP_WIN_MAX][128], ibuf[UDP_WIN_MAX][256];
        struct mmsghdr om[UDP_WIN_MAX], im[UDP_WIN_MAX];
        struct iovec oiov[UDP_WIN_MAX], iiov[UDP_WIN_MAX];
        unsigned oslot[UDP_WIN_MAX];
        cpu_begin();
        int64_t start = now_ns(), stop = start + (int64_t)(opt.secs * 1e9);
        int64_t end = stop + 500 * 1000000LL;
        for (;;) {
                int64_t now = now_ns();
                bool sending = now < stop;
                unsigned inflight = 0;
                for (unsigned i = 0; i < opt.n; i++) {
                        unsigned no = 0;
                        for (unsigned j = 0; j < opt.w; j++) {
                                if (us[i].t[j] && now - us[i].t[j] > UDP_LOST_MS * 1000000LL) {
                                        us[i].t[j] = 0;
                                        lost++;
                                }
                                if (!us[i].t[j] && sending) {
                                        int n = snprintf(obuf[no], sizeof(obuf[no]), "udp %u %" PRIu64
                                                         " payload-of-a-datagram", i, next_seq);
                                        oiov[no] = (struct iovec){ obuf[no], (size_t)n };
                                        memset(&om[no], 0, sizeof(om[no]));
                                        om[no].msg_hdr.msg_iov = &oiov[no];
                                        om[no].msg_hdr.msg_iovlen = 1;
                                        us[i].seq[j] = next_seq++;
                                        oslot[no++] = j;
                                }
                                if (us[i].t[j])
                                        inflight++;
                        }
                        if (no == 0)
                                continue;
                        int k = sendmmsg(us[i].fd, om, no, 0);
                        int64_t sent_at = now_ns();
                        for (int m = 0; m < k; m++) {
                                us[i].t[oslot[m]] = sent_at;
                                sent++;
                                inflight++;
                        }
                }
                if ((!sending && inflight == 0) || now >= end)
                        break;
                int k = epoll_wait(ep, evs, 64, 10);
                for (int e = 0; e < k; e++) {
                        struct usock *u = &us[evs[e].data.u64];
                        for (unsigned m = 0; m < opt.w; m++) {
                                iiov[m] = (struct iovec){ ibuf[m], sizeof(ibuf[m]) - 1 };
                                memset(&im[m], 0, sizeof(im[m]));
                                im[m].msg_hdr.msg_iov = &iiov[m];
                                im[m].msg_hdr.msg_iovlen = 1;
                        }
                        int got_n = recvmmsg(u->fd, im, opt.w, MSG_DONTWAIT, NULL);
                        int64_t got_at = now_ns();
                        for (int m = 0; m < got_n; m++) {
                                char *buf = ibuf[m];
                                buf[im[m].msg_len] = '\0';
                                unsigned sid;
                                uint64_t seq;
                                if (im[m].msg_len < plen || memcmp(buf, opt.prefix, plen) != 0 ||
                                    sscanf(buf + plen, "udp %u %" SCNu64, &sid, &seq) != 2) {
                                        bad++;
                                        continue;
                                }
                                bool found = false;
                                for (unsigned j = 0; j < opt.w; j++) {
                                        if (u->t[j] && u->seq[j] == seq) {
                                                h_add(&uh, (uint64_t)(got_at - u->t[j]) / 1000);
                                                u->t[j] = 0;
                                                found = true;
                                                got++;
                                                break;
                                        }
                                }
                                if (!found)
                                        bad++;  /* late (counted lost) or never sent */
                        }
                }
        }
        for (unsigned i = 0; i < opt.n; i++)
                for (unsigned j = 0; j < opt.w; j++)
                        if (us[i].t[j])
                                lost++;
        double el = (double)(now_ns() - start) / 1e9;
        printf("mode=udp socks=%u inflight=%u secs=%.3f sent=%" PRIu64 " replies=%" PRIu64
               " rps=%.0f lost=%" PRIu64 " bad=%" PRIu64 " p50_us=%" PRIu64 " p99_us=%" PRIu64,
               opt.n, opt.w, el, sent, got, (double)got / el, lost, bad, h_pct(&uh, 50),
               h_pct(&uh, 99));
        cpu_print();
        printf("\n");
        return 0;
}

/* ---- startup */

static int mode_startup(char **cmd)
{
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        int nfd = -1;

        if (opt.notify) {
                snprintf(un.sun_path, sizeof(un.sun_path), "/tmp/loadgen-notify-%d", (int)getpid());
                unlink(un.sun_path);
                nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (nfd < 0 || bind(nfd, (struct sockaddr *)&un, sizeof(un)) < 0)
                        die("notify socket: %s", strerror(errno));
        }
        int64_t t0 = now_ns(), ready = 0, served = 0;
        pid_t pid = fork();
        if (pid < 0)
                die("fork: %s", strerror(errno));
        if (pid == 0) {
                if (opt.notify)
                        setenv("NOTIFY_SOCKET", un.sun_path, 1);
                int null = open("/dev/null", O_WRONLY);
                if (null >= 0) {
                        dup2(null, STDOUT_FILENO);
                        dup2(null, STDERR_FILENO);
                }
                execvp(cmd[0], cmd);
                _exit(127);
        }
        int64_t deadline = t0 + 10 * 1000000000LL;
        int fd = -1;
        size_t got = 0;
        while ((!served || (opt.notify && !ready)) && now_ns() < deadline) {
                if (opt.notify && !ready) {
                        char buf[512];
                        ssize_t n;
                        while ((n = recv(nfd, buf, sizeof(buf) - 1, 0)) > 0) {
                                buf[n] = '\0';
                                if (strstr(buf, "READY=1") && !ready)
                                        ready = now_ns();
                        }
                }
                if (!served) {
                        if (fd < 0) {
                                struct sockaddr_in sa = server_addr();
                                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                                if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                                        close(fd);
                                        fd = -1;
                                } else {
                                        fcntl(fd, F_SETFL, O_NONBLOCK);
                                        /* A line every server here answers: echoed, or IRC registration. */
                                        static const char probe[] = "NICK probe\r\nUSER probe 0 * :probe\r\n";
                                        send(fd, probe, sizeof(probe) - 1, MSG_NOSIGNAL);
                                        got = 0;
                                }
                        }
                        if (fd >= 0) {
                                char b[256];
                                ssize_t n = recv(fd, b, sizeof(b), 0);
                                if (n > 0 && memchr(b, '\n', (size_t)n))
                                        served = now_ns();
                                else if (n > 0)
                                        got += (size_t)n;
                                else if (n == 0) {
                                        close(fd);
                                        fd = -1;
                                }
                        }
                }
                struct timespec ts = { 0, 200000 };
                nanosleep(&ts, NULL);
        }
        (void)got;
        if (fd >= 0)
                close(fd);
        kill(pid, SIGTERM);
        int st;
        int64_t kill_deadline = now_ns() + 5 * 1000000000LL;
        while (waitpid(pid, &st, WNOHANG) == 0) {
                if (now_ns() > kill_deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &st, 0);
                        break;
                }
                struct timespec ts = { 0, 1000000 };
                nanosleep(&ts, NULL);
        }
        if (opt.notify)
                unlink(un.sun_path);
        printf("mode=startup ready_ms=%.2f served_ms=%.2f\n",
               ready ? (double)(ready - t0) / 1e6 : -1.0,
               served ? (double)(served - t0) / 1e6 : -1.0);
        return served ? 0 : 3;
}

static int mode_freeport(void)
{
        for (int tries = 0; tries < 100; tries++) {
                struct sockaddr_in sa = { .sin_family = AF_INET };
                socklen_t len = sizeof(sa);
                sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                int t = socket(AF_INET, SOCK_STREAM, 0);
                if (bind(t, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
                    getsockname(t, (struct sockaddr *)&sa, &len) < 0)
                        die("freeport: %s", strerror(errno));
                int u = socket(AF_INET, SOCK_DGRAM, 0);
                int ok = bind(u, (struct sockaddr *)&sa, sizeof(sa)) == 0;
                close(u);
                close(t);
                if (ok) {
                        printf("%u\n", ntohs(sa.sin_port));
                        return 0;
                }
        }
        die("freeport: none found");
}

/* "A,B,C" into out (at most MAX_PORTS numbers): how many. */
static unsigned parse_list(char *arg, int out[MAX_PORTS])
{
        unsigned n = 0;

        for (char *tok = strtok(arg, ","); tok && n < MAX_PORTS; tok = strtok(NULL, ","))
                out[n++] = atoi(tok);
        return n;
}

int main(int argc, char **argv)
{
        if (argc < 2)
                die("usage: loadgen echo|idle|chat|udp|startup|freeport [options]");
        const char *mode = argv[1];
        int c;

        optind = 2;
        while ((c = getopt(argc, argv, "p:n:k:w:t:R:l:gNx:r:m:P:s:c:W:q:T:")) != -1) {
                switch (c) {
                case 'p':
                        opt.nports = parse_list(optarg, opt.ports);
                        opt.port = (unsigned)opt.ports[0];
                        break;
                case 'n': opt.n = (unsigned)atoi(optarg); break;
                case 'k': opt.k = (unsigned)atoi(optarg); break;
                case 'w': opt.w = (unsigned)atoi(optarg); break;
                case 't': opt.secs = atof(optarg); break;
                case 'R': opt.rate = atof(optarg); break;
                case 'l': opt.lines = (unsigned)atoi(optarg); break;
                case 'g': opt.greet = true; break;
                case 'N': opt.notify = true; break;
                case 'x': opt.prefix = optarg; break;
                case 'r': opt.proto = optarg; break;
                case 'm': opt.mode = optarg; break;
                case 'P':
                        opt.npids = parse_list(optarg, opt.pids);
                        opt.pid = (pid_t)opt.pids[0];
                        break;
                case 'W': opt.ws = (unsigned)atoi(optarg); break;
                case 'q': opt.web_port = (unsigned)atoi(optarg); break;
                case 's': opt.size = (unsigned)atoi(optarg); break;
                case 'c': opt.connects = (unsigned)atoi(optarg); break;
                case 'T': opt.cafile = optarg; break;
                default: die("bad option");
                }
        }
        if (!strcmp(mode, "freeport"))
                return mode_freeport();
        if (!opt.port)
                die("-p PORT is needed");
        if (opt.n == 0 || opt.n > MAX_CONNS)
                die("-n must be 1..%d", MAX_CONNS);
        if (opt.secs <= 0 || opt.secs > 120)
                die("-t must be in (0, 120] seconds");
        if (opt.lines > 100000 || opt.w == 0 || opt.rate <= 0 || opt.rate > 100000)
                die("-l at most 100000, -w at least 1, -R in (0, 100000]");
        if (opt.connects < 1)
                die("-c must be at least 1");
        if (opt.size < 16 || opt.size > 200)
                die("-s must be 16..200");
        if (opt.ws > opt.n || (opt.ws && !opt.web_port))
                die("-W at most -n, and with -q WEBPORT");
        if (opt.cafile && (strcmp(opt.proto, "pichat") != 0 ||
                           (strcmp(mode, "chat") != 0 && strcmp(mode, "idle") != 0)))
                die("-T: chat and idle, with pichat's protocol only");
        signal(SIGPIPE, SIG_IGN);
        raise_nofile();
        ep = epoll_create1(EPOLL_CLOEXEC);
        conns = calloc(MAX_CONNS, sizeof(*conns));
        if (ep < 0 || !conns)
                die("setup: %s", strerror(errno));
        if (!strcmp(mode, "echo"))
                return mode_echo();
        if (!strcmp(mode, "idle"))
                return mode_idle();
        if (!strcmp(mode, "chat"))
                return mode_chat();
        if (!strcmp(mode, "udp"))
                return mode_udp();
        if (!strcmp(mode, "startup")) {
                if (optind >= argc)
                        die("startup: a command is needed after --");
                return mode_startup(argv + optind);
        }
        die("unknown mode %s", mode);
}
