/* harness: starts the real pichatd for integration tests and talks to it.
 *
 * pichatd gets its listeners the way systemd hands them over: the harness
 * binds [::]:0 (TCP echo, TCP chat, UDP) itself, passes them as fds 3..5
 * with LISTEN_FDS/LISTEN_FDNAMES=echo:chat:udp, and reads the ports back.
 * No fixed port is ever used. pd_start_opts() can also let pichatd bind
 * its own ports, and play the service manager's other parts: a
 * NOTIFY_SOCKET the test reads, WATCHDOG_USEC, JOURNAL_STREAM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct pd {
        pid_t pid;
        char dir[64];           /* temporary directory, removed by pd_stop() */
        char conf_path[128];    /* the pichat.ini the daemon runs with */
        char log_path[128];     /* its stderr */
        unsigned echo_port, chat_port, udp_port, web_port;
        /* The services that answer once: TCP, and UDP ("NAME/udp" in
         * pd_opts.fdnames). */
        unsigned daytime_port, time_port, qotd_port;
        unsigned daytime_udp_port, time_udp_port, qotd_udp_port;
        unsigned chat_tls_port, web_tls_port;   /* "chat-tls", "web-tls" */
        unsigned extra_port;    /* of a listener with another name (pd_opts) */
        int notify_fd;          /* our end of NOTIFY_SOCKET, or -1 */
        int udp_fd;             /* the passed UDP socket, kept (pd_opts.keep_udp), or -1 */
        pid_t relay_pid;        /* copies pichatd's stderr to log_path (pd_opts.stderr_pipe) */
};

/* exec file with args (args[0] is ignored), run by the command in the
 * environment variable wrapper_var when it is set: words separated by
 * spaces, e.g. "qemu-aarch64-static" when a cross build's tests run under
 * qemu-user, or "valgrind --quiet". Returns only on failure. */
void pd_exec_wrapped(const char *wrapper_var, const char *file, const char *const args[]);

/* How pd_start_opts() starts pichatd; zero values are the defaults. */
struct pd_opts {
        /* Listeners the harness binds and passes, as LISTEN_FDNAMES:
         * "echo", "chat", "udp", "web", "chat-tls", "web-tls", "daytime",
         * "time", "qotd", "unix" (an AF_UNIX stream socket), "NAME/udp" a
         * UDP socket named NAME ("daytime/udp": the daytime service's), any
         * other name a TCP listener (its port in extra_port); "NAME/dgram"
         * (a UDP socket) and "NAME/bound" (a TCP socket bound, not
         * listening) pass NAME for a socket of the wrong kind (its port in
         * extra_port). NULL: none,
         * pichatd binds its own ports (give them in ini_extra, 0 = any;
         * pd_ports_from_log() reads them back). */
        const char *fdnames;
        bool no_fdnames;        /* pass the fds without LISTEN_FDNAMES */
        bool ports_in_conf;     /* write the passed ports into the config too */
        bool notify;            /* give pichatd a NOTIFY_SOCKET (pd_notify_*) */
        unsigned long long watchdog_usec;       /* WATCHDOG_USEC (0: unset) */
        bool watchdog_pid_other;        /* WATCHDOG_PID of another process */
        bool journal_stream;    /* JOURNAL_STREAM naming pichatd's stderr */
        bool journal_stream_other;      /* JOURNAL_STREAM naming another file */
        bool no_wait;           /* return at once, not once "started" is logged */
        bool stderr_pipe;       /* pichatd's stderr a pipe, copied to log_path by a
                                 * relay process that pd_relay_pause() can stop */
        bool keep_udp;          /* keep our copy of the passed UDP socket, as
                                 * systemd does (d->udp_fd; pd_stop closes it) */
};

/* Record that the current test case could not check what it is for here
 * (e.g. it needs root): tests/count-results counts it as skipped, never as
 * passed. Call it, then return from the test. */
void pd_skipped(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The pichatd under test ($PICHATD, set by meson). It is run under
 * $PICHATD_WRAPPER when that is set (e.g. "valgrind --error-exitcode=99",
 * the 'valgrind' test setup), in the same process, so its pid, fds and
 * environment are the ones the harness set up. */
const char *pd_binary(void);

/* Start pichatd with the test defaults plus ini_extra (INI text with its own
 * [section] headers; later keys override earlier ones). 0 or -1. */
int pd_start(struct pd *d, const char *ini_extra);
/* Same, with only the listeners named in fdnames ("echo:udp", ...). */
int pd_start_with(struct pd *d, const char *ini_extra, const char *fdnames);
/* The general form: pd_start_with(d, ini, names) is
 * pd_start_opts(d, ini, &(struct pd_opts){ .fdnames = names }). */
int pd_start_opts(struct pd *d, const char *ini_extra, const struct pd_opts *o);
/* Fill the ports from the daemon's "listening on ..." log lines: the
 * number found. */
int pd_ports_from_log(struct pd *d);
/* Wait for the daemon to exit by itself (at most timeout_ms, then it is
 * killed): its exit status, or -1. The temporary directory stays. */
int pd_wait_exit(struct pd *d, int timeout_ms);

/* The next datagram on the notify socket, NUL-terminated: its length, or
 * -1 on timeout. */
int pd_notify_next(struct pd *d, char *buf, size_t size, int timeout_ms);
/* Read datagrams until one has the line field (e.g. "READY=1") or, when
 * field ends in '=', a line starting with it; that datagram is left in
 * buf. true if found within timeout_ms. */
bool pd_notify_wait(struct pd *d, const char *field, char *buf, size_t size, int timeout_ms);
/* The value of the line "NAME=value" in a datagram, copied to out: true
 * if present. */
bool pd_notify_field(const char *msg, const char *name, char *out, size_t size);

/* Stop (pause true) or resume the relay of pd_opts.stderr_pipe: a stderr
 * that nobody reads, as a stuck journal stream is. */
void pd_relay_pause(struct pd *d, bool pause);

/* SIGTERM and wait (at most 5 s). Returns the exit status, or -1 if it had
 * to be killed or died of a signal. Removes the temporary directory. */
int pd_stop(struct pd *d);
/* Send a signal to the running daemon. */
void pd_signal(struct pd *d, int sig);
/* true once the daemon's log contains needle, within timeout_ms. */
bool pd_log_wait(struct pd *d, const char *needle, int timeout_ms);
/* true once the daemon's log has n lines containing needle. pichatd's log
 * is written by a thread of its own, a moment after what it tells of:
 * wait for a count, rather than take one at once. */
bool pd_log_wait_count(struct pd *d, const char *needle, int n, int timeout_ms);
/* Count of log lines containing needle, now. */
int pd_log_count(struct pd *d, const char *needle);
/* The same once it has reached n, or after 5 s: for a check that the
 * log says something exactly n times. */
int pd_log_count_when(struct pd *d, const char *needle, int n);
/* Overwrite the daemon's config file with the defaults plus ini_extra. */
void pd_write_conf(struct pd *d, const char *ini_extra);

/* true while the daemon runs: it has neither exited nor been killed. */
bool pd_running(struct pd *d);

/* Move the calling process (the test case, forked by check) into a
 * network namespace of its own whose loopback device is up and also has
 * the addresses addrs (NULL-terminated, e.g. "2001:db8:1::1/64"): a
 * pichatd started afterwards serves there, and the machine's own network
 * is not touched. 0, or -1 with the reason in why (not root, no ip(8)). */
int pd_netns_private(const char *const addrs[], char *why, size_t size);

/* What fd receives, into buf (NUL-terminated), until buf holds want, the
 * peer closes, or timeout_ms pass: buf. For the unit tests that talk to
 * one connection over a socketpair. */
const char *pd_hear(int fd, const char *want, char *buf, size_t size, int timeout_ms);

/* CPU time (clock ticks) used so far by this process's threads named
 * name: what a test of a loop that must not spin measures. */
long pd_thread_ticks(const char *name);

/* Figures of process pid from /proc, or -1 if they cannot be read. */
long pd_proc_threads(pid_t pid);        /* "Threads:" in status */
long pd_proc_fds(pid_t pid);            /* open descriptors (/proc/PID/fd) */
long pd_proc_rss_kib(pid_t pid);        /* "VmRSS:" in status */
long pd_proc_cpu_ticks(pid_t pid);      /* utime + stime (stat), in clock ticks */

/* Wait for child pid to exit (SIGKILL after timeout_ms): its exit status,
 * or -1 if it was killed or died of a signal. */
int pd_wait_pid(pid_t pid, int timeout_ms);

/* Run pichatd with argv (argv[0] is ignored) without sockets, capture its
 * stdout and stderr into out; returns the exit status or -1. */
int pd_run(const char *const argv[], char *out, size_t outsize, int timeout_ms);

/* A test client with a line buffer; over TLS once pd_tls_start() made
 * its handshake (every pd_ call below then reads and writes through it). */
struct pd_client {
        int fd;
        void *tls;              /* gnutls_session_t, or NULL */
        size_t len;
        char buf[16384];
};

/* Connect over TCP to 127.0.0.1 (AF_INET) or ::1 (AF_INET6): 0 or -1. */
int pd_connect(struct pd_client *c, unsigned port, int family);
/* The same with a small receive buffer (set before connecting, so the
 * window stays small): a client that is slow to read. */
int pd_connect_rcvbuf(struct pd_client *c, unsigned port, int family, int rcvbuf);
/* The same from the local address src ("127.0.0.2": all of 127/8 is
 * loopback; "::1"), to the loopback address of src's family. 0 or -1. */
int pd_connect_from(struct pd_client *c, const char *src, unsigned port);
void pd_close(struct pd_client *c);
/* Send all of s (no line end is added): 0 or -1. */
int pd_send(struct pd_client *c, const char *s);
int pd_send_raw(struct pd_client *c, const void *data, size_t len);
/* Next line without its CR LF into buf; returns its length, -1 on timeout,
 * -2 on EOF. */
int pd_line(struct pd_client *c, char *buf, size_t size, int timeout_ms);
/* Read lines until one equals expected (true) or timeout/EOF (false).
 * Lines skipped on the way are printed to stderr. */
bool pd_expect(struct pd_client *c, const char *expected, int timeout_ms);
/* Next line, which must be exactly expected. */
bool pd_expect_next(struct pd_client *c, const char *expected, int timeout_ms);
/* true if the server closes the connection within timeout_ms (lines before
 * the close are discarded). */
bool pd_wait_closed(struct pd_client *c, int timeout_ms);
/* true if nothing at all arrives within timeout_ms. */
bool pd_quiet(struct pd_client *c, int timeout_ms);
/* true if the server closes the connection within timeout_ms without
 * having sent a single byte. */
bool pd_closed_silently(struct pd_client *c, int timeout_ms);

/* ---- TLS ------------------------------------------------------------------ */

/* Make the test PKI (tests/tls/make-certs: a CA, certbot-like
 * fullchain.pem and privkey.pem, a renewal, an expired and a wrong-host
 * certificate...) in a new temporary directory, whose path goes to dir:
 * 0 or -1. pd_tls_remove() takes it away. */
int pd_tls_certs(char *dir, size_t size);
void pd_tls_remove(const char *dir);

/* The client's handshake on c (connected) for host name host: the
 * certificate checked against cafile (NULL: not checked), within
 * timeout_ms. 0, or -1 with GnuTLS's reason on stderr. */
int pd_tls_start(struct pd_client *c, const char *cafile, const char *host, int timeout_ms);
/* Connect to 127.0.0.1:port and make the handshake for "localhost". */
int pd_tls_connect(struct pd_client *c, unsigned port, const char *cafile);
/* The serial number of the server's certificate (its last byte, as the
 * test PKI numbers them), or -1. */
int pd_tls_serial(struct pd_client *c);
/* A TLS 1.3 key update from our side; with ask_peer, asking the server
 * for its own too. 0 or -1. */
int pd_tls_key_update(struct pd_client *c, bool ask_peer);
/* "TLS1.3", "TLS1.2". */
const char *pd_tls_version(struct pd_client *c);

/* UDP: send one datagram from a socket bound to 127.0.0.1/::1 and wait for
 * a reply. Returns the reply length (reply NUL-terminated), -1 on timeout. */
int pd_udp_exchange(int family, unsigned port, const void *data, size_t len,
                    char *reply, size_t size, int timeout_ms);
/* The same from a socket bound to src:src_port (0 = any port), to the
 * loopback address of src's family. */
int pd_udp_exchange_from(const char *src, unsigned src_port, unsigned port, const void *data,
                         size_t len, char *reply, size_t size, int timeout_ms);

/* A socket address for ip:port (numeric): its length, or 0. */
socklen_t pd_sockaddr(const char *ip, unsigned port, struct sockaddr_storage *ss);
