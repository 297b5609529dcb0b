/* Integration: TLS on the chat and web ports of the real pichatd, driven
 * by clients nobody here wrote (gnutls-cli, openssl s_client, socat's
 * OPENSSL address) and by pichat --tls, against a CA and certificates
 * the test makes (tests/tls/make-certs): chat between TLS and plain
 * clients, certificates refused (wrong host, expired, self-signed), plain
 * text to a TLS port and TLS to a plain port, slow handshakes and the
 * per-address limit, renewal by reload while clients stay, a broken key
 * kept out, --check-config agreeing with a start, https and wss, key
 * updates in a busy room, and a slow TLS reader dropped alone. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "suite.h"

static char pki[64];
static struct pd d;

static void setup(void)
{
        ck_assert_int_eq(pd_tls_certs(pki, sizeof(pki)), 0);
}

static void teardown(void)
{
        pd_tls_remove(pki);
}

static const char *pk(const char *name)
{
        static char paths[8][160];
        static int next;
        char *p = paths[next++ % 8];

        snprintf(p, sizeof(paths[0]), "%s/%s", pki, name);
        return p;
}

/* pichatd with chat (plain and TLS) and web (plain and TLS) on ports the
 * harness bound, serving cert and key, plus extra INI text. */
static void start_with(const char *cert, const char *key, const char *extra)
{
        char ini[2048];
        struct pd_opts o = { .fdnames = "chat:chat-tls:web:web-tls" };

        snprintf(ini, sizeof(ini),
                 "[echo]\nenabled = no\n[udp]\nenabled = no\n"
                 "[chat]\ntls_port = 0\nlines_per_sec = 100000\nburst = 100000\n"
                 "[web]\nenabled = yes\ntls_port = 0\n"
                 "[tls]\ncertfile = %s\nkeyfile = %s\n%s",
                 cert[0] == '/' ? cert : pk(cert), key[0] == '/' ? key : pk(key),
                 extra ? extra : "");
        ck_assert_int_eq(pd_start_opts(&d, ini, &o), 0);
        ck_assert_uint_gt(d.chat_tls_port, 0);
        ck_assert_uint_gt(d.web_tls_port, 0);
}

static void start(const char *extra)
{
        start_with("fullchain.pem", "privkey.pem", extra);
}

/* Read lines until "* you are NICK, ...": the client is in the lobby. */
static void entered(struct pd_client *c)
{
        char line[1024];

        for (;;) {
                ck_assert_int_ge(pd_line(c, line, sizeof(line), 5000), 0);
                if (strncmp(line, "* you are ", 10) == 0)
                        return;
        }
}

static void settle(struct pd_client *c)
{
        char line[1024];

        while (pd_line(c, line, sizeof(line), 200) >= 0)
                ;
}

/* A plain chat client in the lobby, nick taken. */
static void watcher(struct pd_client *w, const char *nick)
{
        char cmd[64], want[96];

        ck_assert_int_eq(pd_connect(w, d.chat_port, AF_INET), 0);
        entered(w);
        snprintf(cmd, sizeof(cmd), "/nick %s\r\n", nick);
        pd_send(w, cmd);
        snprintf(want, sizeof(want), "* you are now known as %s", nick);
        ck_assert(pd_expect(w, want, 5000));
        settle(w);
}

/* The same over TLS, checked against the test CA. */
static void tls_member(struct pd_client *c, const char *nick)
{
        char cmd[64], want[96];

        ck_assert_int_eq(pd_tls_connect(c, d.chat_tls_port, pk("ca.pem")), 0);
        entered(c);
        snprintf(cmd, sizeof(cmd), "/nick %s\r\n", nick);
        pd_send(c, cmd);
        snprintf(want, sizeof(want), "* you are now known as %s", nick);
        ck_assert(pd_expect(c, want, 5000));
        settle(c);
}

/* ---- other people's TLS clients --------------------------------------------- */

/* A program with its stdin and stdout on one end of a socketpair (io, for
 * pd_line and pd_send) and its stderr in a file. */
struct tool {
        pid_t pid;
        struct pd_client io;
        char err[160];
};

static void tool_start(struct tool *t, const char *const argv[])
{
        int sv[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        const char *base = strrchr(argv[0], '/');
        snprintf(t->err, sizeof(t->err), "%s/%s.%d.err", pki, base ? base + 1 : argv[0],
                 (int)(clock_now_ms() % 100000));
        t->pid = fork();
        ck_assert_int_ge(t->pid, 0);
        if (t->pid == 0) {
                int err = open(t->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                dup2(sv[1], STDIN_FILENO);
                dup2(sv[1], STDOUT_FILENO);
                if (err >= 0)
                        dup2(err, STDERR_FILENO);
                /* pichat is a cross build's too: run it as the others are. */
                if (getenv("PICHAT") && strcmp(argv[0], getenv("PICHAT")) == 0)
                        pd_exec_wrapped("PICHAT_WRAPPER", argv[0], argv);
                else
                        execvp(argv[0], (char *const *)argv);
                _exit(127);
        }
        close(sv[1]);
        t->io = (struct pd_client){ .fd = sv[0], .tls = NULL };
}

/* Its exit status once it ends by itself (within timeout_ms), or -1. */
static int tool_wait(struct tool *t, int timeout_ms)
{
        int r = pd_wait_pid(t->pid, timeout_ms);

        pd_close(&t->io);
        t->pid = -1;
        return r;
}

static void tool_stop(struct tool *t)
{
        if (t->pid > 0) {
                kill(t->pid, SIGTERM);
                pd_wait_pid(t->pid, 5000);
        }
        t->pid = -1;
        pd_close(&t->io);
}

/* What it wrote to stderr (NUL-terminated in buf). */
static const char *tool_stderr(struct tool *t, char *buf, size_t size)
{
        FILE *f = fopen(t->err, "r");
        size_t n = f ? fread(buf, 1, size - 1, f) : 0;

        if (f)
                fclose(f);
        buf[n] = '\0';
        return buf;
}

static void port_str(unsigned port, char *buf, size_t size)
{
        snprintf(buf, size, "%u", port);
}

/* A tool in the lobby talks with a plain watcher, both ways. */
static void talks(struct tool *t, struct pd_client *w, const char *nick)
{
        char line[256], want[256];

        entered(&t->io);
        snprintf(line, sizeof(line), "/nick %s\n", nick);
        pd_send(&t->io, line);
        snprintf(want, sizeof(want), "* you are now known as %s", nick);
        ck_assert(pd_expect(&t->io, want, 5000));
        snprintf(line, sizeof(line), "hello from %s\n", nick);
        pd_send(&t->io, line);
        snprintf(want, sizeof(want), "<%s> hello from %s", nick, nick);
        ck_assert(pd_expect(w, want, 5000));
        snprintf(line, sizeof(line), "hi %s, from plain\r\n", nick);
        pd_send(w, line);
        snprintf(want, sizeof(want), "<plain> hi %s, from plain", nick);
        ck_assert(pd_expect(&t->io, want, 5000));
}

START_TEST(chat_with_gnutls_openssl_socat_and_pichat)
{
        struct pd_client w;
        struct tool t;
        char port[16], ca[200], addr[300];

        start(NULL);
        watcher(&w, "plain");
        port_str(d.chat_tls_port, port, sizeof(port));
        snprintf(ca, sizeof(ca), "--x509cafile=%s", pk("ca.pem"));

        const char *gnutls[] = { "gnutls-cli", ca, "-p", port, "localhost", NULL };
        tool_start(&t, gnutls);
        talks(&t, &w, "gnutls");
        tool_stop(&t);

        snprintf(addr, sizeof(addr), "127.0.0.1:%u", d.chat_tls_port);
        const char *openssl[] = { "openssl", "s_client", "-quiet", "-verify_return_error",
                                  "-CAfile", pk("ca.pem"), "-servername", "localhost",
                                  "-verify_hostname", "localhost", "-connect", addr, NULL };
        tool_start(&t, openssl);
        talks(&t, &w, "openssl");
        tool_stop(&t);

        snprintf(addr, sizeof(addr), "OPENSSL:localhost:%u,cafile=%s", d.chat_tls_port,
                 pk("ca.pem"));
        const char *socat[] = { "socat", "-", addr, NULL };
        tool_start(&t, socat);
        talks(&t, &w, "socat");
        tool_stop(&t);

        /* pichat --tls from a script: its line reaches the room. */
        char cafile[200];
        snprintf(cafile, sizeof(cafile), "%s", pk("ca.pem"));
        const char *pichat_argv[] = { getenv("PICHAT"), "--tls", "--cafile", cafile, "-t", "3",
                                      "localhost", port, NULL };
        tool_start(&t, pichat_argv);
        pd_send(&t.io, "/nick pichat\nhello from pichat --tls\n");
        shutdown(t.io.fd, SHUT_WR);
        ck_assert(pd_expect(&w, "<pichat> hello from pichat --tls", 5000));
        ck_assert(pd_expect(&t.io, "* you are now known as pichat", 5000));
        tool_stop(&t);

        /* Each came in over TLS 1.3, and none of it was a plain client's. */
        ck_assert_int_ge(pd_log_count(&d, "chat: 127.0.0.1"), 4);
        ck_assert_int_ge(pd_log_count(&d, ": TLS1.3 "), 4);
        pd_close(&w);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* pichat --tls against a certificate it must refuse: exit 1, one line. */
static void pichat_refuses(const char *why)
{
        struct tool t;
        char port[16], err[2048];

        port_str(d.chat_tls_port, port, sizeof(port));
        const char *argv[] = { getenv("PICHAT"), "--tls", "--cafile", pk("ca.pem"), "-t", "3",
                               "localhost", port, NULL };
        tool_start(&t, argv);
        ck_assert_int_eq(tool_wait(&t, 10000), 1);
        tool_stderr(&t, err, sizeof(err));
        ck_assert_msg(strstr(err, "pichat: refusing localhost:") && strstr(err, why),
                      "want '%s' in: %s", why, err);
        ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "not one line: %s", err);
}

START_TEST(certificates_refused)
{
        struct tool t;
        char port[16], ca[200], err[2048];

        /* A certificate for another host: pichat and gnutls-cli refuse. */
        start_with("wronghost.pem", "wronghost.key", NULL);
        pichat_refuses("does not match");
        port_str(d.chat_tls_port, port, sizeof(port));
        snprintf(ca, sizeof(ca), "--x509cafile=%s", pk("ca.pem"));
        const char *gnutls[] = { "gnutls-cli", ca, "-p", port, "localhost", NULL };
        tool_start(&t, gnutls);
        ck_assert_int_ne(tool_wait(&t, 10000), 0);
        ck_assert_int_eq(pd_stop(&d), 0);

        /* Expired: refused, and the daemon said so when it started. */
        start_with("expired.pem", "expired.key", NULL);
        ck_assert(pd_log_wait(&d, "tls: the certificate has expired", 1000));
        pichat_refuses("expired");
        char addr[64];
        snprintf(addr, sizeof(addr), "127.0.0.1:%u", d.chat_tls_port);
        const char *openssl[] = { "openssl", "s_client", "-quiet", "-verify_return_error",
                                  "-CAfile", pk("ca.pem"), "-connect", addr, NULL };
        tool_start(&t, openssl);
        ck_assert_int_ne(tool_wait(&t, 10000), 0);
        ck_assert_int_eq(pd_stop(&d), 0);

        /* Self-signed: refused, unless --insecure, which says so. */
        start_with("selfsigned.pem", "selfsigned.key", NULL);
        pichat_refuses("issuer is unknown");
        port_str(d.chat_tls_port, port, sizeof(port));
        const char *insecure[] = { getenv("PICHAT"), "--tls", "--insecure", "-t", "3", "localhost",
                                   port, NULL };
        tool_start(&t, insecure);
        ck_assert(pd_expect(&t.io, "* Welcome to pichat chat. Type /help for commands.", 5000));
        shutdown(t.io.fd, SHUT_WR);
        ck_assert_int_eq(tool_wait(&t, 10000), 0);
        tool_stderr(&t, err, sizeof(err));
        ck_assert_msg(strstr(err, "--insecure: the certificate of localhost:") &&
                      strstr(err, "is not checked"), "%s", err);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* ---- plain and TLS confused ------------------------------------------------- */

START_TEST(plain_text_to_a_tls_port)
{
        struct pd_client w, c;

        start(NULL);
        watcher(&w, "watch");
        ck_assert_int_eq(pd_connect(&c, d.chat_tls_port, AF_INET), 0);
        pd_send(&c, "/nick sneaky\r\nhello in clear\r\n");
        ck_assert(pd_expect_next(&c, "This port speaks TLS: use pichat --tls HOST PORT, "
                                 "gnutls-cli or openssl s_client.", 5000));
        ck_assert(pd_wait_closed(&c, 5000));
        pd_close(&c);
        ck_assert(pd_log_wait(&d, "plain text on a TLS port (it began \"/nick sn\")", 2000));

        /* A browser's plain request to the https port gets an answer it
         * can show. */
        ck_assert_int_eq(pd_connect(&c, d.web_tls_port, AF_INET), 0);
        pd_send(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        ck_assert(pd_expect_next(&c, "HTTP/1.1 400 Bad Request", 5000));
        ck_assert(pd_expect(&c, "This port speaks HTTPS: use https:// in the address.", 5000));
        ck_assert(pd_wait_closed(&c, 5000));
        pd_close(&c);

        /* Nothing of it reached the room. */
        ck_assert_msg(pd_quiet(&w, 300), "the room heard something");
        pd_send(&w, "/who\r\n");
        ck_assert(pd_expect(&w, "*   watch", 5000));
        ck_assert(pd_expect_next(&w, "* 1 member", 5000));
        pd_close(&w);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* The first bytes of a ClientHello, as any TLS client sends them. */
static const char hello[] = "\x16\x03\x01\x01\x00\x01\x00\x00\xfc\x03\x03";

START_TEST(tls_to_plain_ports)
{
        struct pd_client w, c;

        start("[echo]\nenabled = yes\nport = 0\n");
        watcher(&w, "watch");
        /* A real TLS client on the plain chat port: refused, unseen. */
        ck_assert_int_eq(pd_connect(&c, d.chat_port, AF_INET), 0);
        ck_assert_int_ne(pd_tls_start(&c, pk("ca.pem"), "localhost", 5000), 0);
        pd_close(&c);
        ck_assert(pd_log_wait(&d, "a TLS handshake on a plain port, closing", 2000));
        ck_assert(pd_log_wait(&d, "(TLS on a plain port)", 2000));
        /* And its first bytes alone, on the plain chat and web ports. */
        ck_assert_int_eq(pd_connect(&c, d.chat_port, AF_INET), 0);
        ck_assert_int_eq(pd_send_raw(&c, hello, sizeof(hello) - 1), 0);
        ck_assert(pd_wait_closed(&c, 5000));
        pd_close(&c);
        ck_assert_int_eq(pd_connect(&c, d.web_port, AF_INET), 0);
        ck_assert_int_eq(pd_send_raw(&c, hello, sizeof(hello) - 1), 0);
        ck_assert(pd_closed_silently(&c, 5000));
        pd_close(&c);
        ck_assert(pd_log_wait(&d, "web: 127.0.0.1", 1000));
        ck_assert_int_ge(pd_log_count(&d, "a TLS handshake on a plain port"), 3);

        /* Nobody entered or left the room meanwhile. */
        ck_assert_msg(pd_quiet(&w, 300), "the room heard something");
        pd_send(&w, "/who\r\n");
        ck_assert(pd_expect(&w, "*   watch", 5000));
        ck_assert(pd_expect_next(&w, "* 1 member", 5000));
        pd_close(&w);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(slow_handshakes_time_out_and_count_per_address)
{
        struct pd_client s1, s2, c, other;
        int64_t t0;

        start("[server]\nline_timeout_s = 1\nmax_clients_per_ip = 2\n");
        /* Two clients that never finish a handshake: one silent, one
         * stopped half way through its ClientHello. */
        t0 = clock_now_ms();
        ck_assert_int_eq(pd_connect(&s1, d.chat_tls_port, AF_INET), 0);
        ck_assert_int_eq(pd_connect(&s2, d.web_tls_port, AF_INET), 0);
        ck_assert_int_eq(pd_send_raw(&s2, hello, sizeof(hello) - 1), 0);
        /* They hold this address's two places: a third is refused... */
        for (int i = 0; i < 100 && pd_log_count(&d, ": connected 127.0.0.1") < 2; i++)
                usleep(20000);
        ck_assert_int_eq(pd_log_count(&d, ": connected 127.0.0.1"), 2);
        ck_assert_int_eq(pd_connect(&c, d.chat_port, AF_INET), 0);
        ck_assert(pd_expect_next(&c, "server full, try again later", 5000));
        pd_close(&c);
        ck_assert(pd_log_wait(&d, "max_clients_per_ip reached", 2000));
        /* ...while another address is served at once, over TLS. */
        ck_assert_int_eq(pd_connect_from(&other, "127.0.0.2", d.chat_tls_port), 0);
        ck_assert_int_eq(pd_tls_start(&other, pk("ca.pem"), "localhost", 5000), 0);
        entered(&other);
        /* Then line_timeout_s ends both. */
        ck_assert(pd_wait_closed(&s1, 5000));
        ck_assert(pd_wait_closed(&s2, 5000));
        int64_t took = clock_now_ms() - t0;
        ck_assert_msg(took >= 900 && took < 4000, "handshakes ended after %lld ms", (long long)took);
        ck_assert(pd_log_wait(&d, "TLS handshake timed out (no ClientHello)", 1000));
        ck_assert(pd_log_wait(&d, "TLS handshake timed out\n", 1000) ||
                  pd_log_wait(&d, "(TLS handshake timed out)", 1000));
        pd_close(&s1);
        pd_close(&s2);
        /* The places are free again. */
        ck_assert_int_eq(pd_tls_connect(&c, d.chat_tls_port, pk("ca.pem")), 0);
        entered(&c);
        pd_close(&c);
        pd_close(&other);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* ---- renewal ------------------------------------------------------------------ */

/* Put src in place of dst, as certbot's renewal does (a new file, then a
 * rename). */
static void put(const char *src, const char *dst)
{
        char tmp[200], cmd[512];

        snprintf(tmp, sizeof(tmp), "%s.new", dst);
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, tmp);
        ck_assert_int_eq(system(cmd), 0);
        ck_assert_int_eq(rename(tmp, dst), 0);
}

static void reload_and_wait(const char *needle)
{
        int before = pd_log_count(&d, needle);

        pd_signal(&d, SIGHUP);
        for (int i = 0; i < 100 && pd_log_count(&d, needle) == before; i++)
                usleep(50000);
        ck_assert_msg(pd_log_count(&d, needle) > before, "no '%s' after SIGHUP", needle);
}

START_TEST(renewal_by_reload_while_clients_stay)
{
        struct pd_client a, b, w;
        char cert[200], key[200];

        snprintf(cert, sizeof(cert), "%s/live-fullchain.pem", pki);
        snprintf(key, sizeof(key), "%s/live-privkey.pem", pki);
        put(pk("fullchain.pem"), cert);
        put(pk("privkey.pem"), key);
        start_with(cert, key, NULL);
        ck_assert(pd_log_wait(&d, "tls: serving O=pichat tests,CN=localhost (2 in the chain)", 1000));
        tls_member(&a, "alice");
        ck_assert_int_eq(pd_tls_serial(&a), 10);
        watcher(&w, "walt");

        put(pk("fullchain2.pem"), cert);
        put(pk("privkey2.pem"), key);
        reload_and_wait("reloaded configuration");
        ck_assert(pd_log_wait(&d, "reload: TLS: new connections get O=pichat tests,CN=localhost",
                              1000));
        /* New connections get the new certificate; alice keeps hers. */
        tls_member(&b, "bob");
        ck_assert_int_eq(pd_tls_serial(&b), 11);
        ck_assert_int_eq(pd_tls_serial(&a), 10);
        pd_send(&b, "renewed\r\n");
        ck_assert(pd_expect(&a, "<bob> renewed", 5000));
        ck_assert(pd_expect(&w, "<bob> renewed", 5000));
        pd_send(&a, "still here\r\n");
        ck_assert(pd_expect(&b, "<alice> still here", 5000));
        ck_assert(pd_expect(&w, "<alice> still here", 5000));
        pd_close(&a);
        pd_close(&b);
        pd_close(&w);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(reload_with_a_broken_key_keeps_the_old_one)
{
        struct pd_client a, b;
        char cert[200], key[200], want[800];

        snprintf(cert, sizeof(cert), "%s/live-fullchain.pem", pki);
        snprintf(key, sizeof(key), "%s/live-privkey.pem", pki);
        put(pk("fullchain.pem"), cert);
        put(pk("privkey.pem"), key);
        start_with(cert, key, NULL);
        tls_member(&a, "alice");

        /* A key that is no key: the reload fails at keyfile's line. */
        put(pk("broken.key"), key);
        reload_and_wait("reload failed, keeping the configuration in force");
        snprintf(want, sizeof(want), "reload: %s:21: keyfile: %s holds no unencrypted PEM "
                 "private key", d.conf_path, key);
        ck_assert_msg(pd_log_count(&d, want) == 1, "no '%s'", want);
        tls_member(&b, "bob");
        ck_assert_int_eq(pd_tls_serial(&b), 10);
        pd_close(&b);

        /* A renewed certificate with the old key: mismatched, refused. */
        put(pk("fullchain2.pem"), cert);
        put(pk("privkey.pem"), key);
        reload_and_wait("reload failed, keeping the configuration in force");
        snprintf(want, sizeof(want), "reload: %s:21: keyfile: %s is not the key of the certificate "
                 "in %s", d.conf_path, key, cert);
        ck_assert_msg(pd_log_count(&d, want) == 1, "no '%s'", want);
        tls_member(&b, "bob");
        ck_assert_int_eq(pd_tls_serial(&b), 10);
        pd_close(&b);

        /* Its key in place: taken. Alice never noticed. */
        put(pk("privkey2.pem"), key);
        reload_and_wait("reloaded configuration");
        tls_member(&b, "bob");
        ck_assert_int_eq(pd_tls_serial(&b), 11);
        pd_send(&b, "hello alice\r\n");
        ck_assert(pd_expect(&a, "<bob> hello alice", 5000));
        pd_close(&a);
        pd_close(&b);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* ---- the configuration ---------------------------------------------------------- */

static char out[8192];

/* pichatd --check-config on text, then a start with it: both refuse with
 * want (at FILE:LINE), and neither says more. */
static void refused_both_ways(const char *text, unsigned line, const char *want)
{
        char path[200], where[300];
        FILE *f;

        snprintf(path, sizeof(path), "%s/check.ini", pki);
        ck_assert_ptr_nonnull(f = fopen(path, "w"));
        fputs(text, f);
        fclose(f);
        snprintf(where, sizeof(where), "pichatd: %s:%u: ", path, line);
        const char *check[] = { "pichatd", "--check-config", "-c", path, NULL };
        const char *run[] = { "pichatd", "--foreground", "-c", path, NULL };
        for (int i = 0; i < 2; i++) {
                ck_assert_int_eq(pd_run(i == 0 ? check : run, out, sizeof(out), 10000), 1);
                /* One line, at FILE:LINE, with the reason on it. */
                const char *at = strstr(out, where);
                const char *nl = at ? strchr(at, '\n') : NULL;
                const char *why = at ? strstr(at, want) : NULL;
                ck_assert_msg(at && nl && why && why < nl, "%s: want '%s...%s' in:\n%s",
                              i == 0 ? "--check-config" : "a start", where, want, out);
                ck_assert_ptr_null(strstr(out, "configuration OK"));
                ck_assert_ptr_null(strstr(out, "listening"));
        }
}

START_TEST(check_config_agrees_with_a_start)
{
        char text[2048];
        const char *head = "[echo]\nenabled = no\n[udp]\nenabled = no\n[web]\nenabled = no\n"
                           "[chat]\nport = 0\ntls_port = 0\n";

        snprintf(text, sizeof(text), "%s", head);
        refused_both_ways(text, 9, "a TLS port needs [tls] certfile and keyfile (certfile is not set)");
        snprintf(text, sizeof(text), "%s[tls]\ncertfile = %s\nkeyfile = %s\n", head,
                 pk("missing.pem"), pk("privkey.pem"));
        refused_both_ways(text, 11, "certfile: cannot read ");
        snprintf(text, sizeof(text), "%s[tls]\ncertfile = %s\nkeyfile = %s\n", head,
                 pk("privkey.pem"), pk("privkey.pem"));
        refused_both_ways(text, 11, "holds no PEM certificate");
        snprintf(text, sizeof(text), "%s[tls]\ncertfile = %s\nkeyfile = %s\n", head,
                 pk("fullchain.pem"), pk("broken.key"));
        refused_both_ways(text, 12, "holds no unencrypted PEM private key");
        snprintf(text, sizeof(text), "%s[tls]\ncertfile = %s\nkeyfile = %s\n", head,
                 pk("fullchain.pem"), pk("privkey2.pem"));
        refused_both_ways(text, 12, "is not the key of the certificate in");
        snprintf(text, sizeof(text), "%s[tls]\ncertfile = %s\nkeyfile = %s\npriority = NONE:+FOO\n",
                 head, pk("fullchain.pem"), pk("privkey.pem"));
        refused_both_ways(text, 13, "priority: 'NONE:+FOO' is not a GnuTLS priority string");
        snprintf(text, sizeof(text), "%s[tls]\ncertfile = credential:tls.crt\nkeyfile = %s\n", head,
                 pk("privkey.pem"));
        unsetenv("CREDENTIALS_DIRECTORY");
        refused_both_ways(text, 11, "certfile: credential:tls.crt needs the service manager's "
                          "credentials (LoadCredential=)");
        /* Plain and TLS never share a port. */
        snprintf(text, sizeof(text), "[chat]\nport = 7001\ntls_port = 7001\n[tls]\ncertfile = %s\n"
                 "keyfile = %s\n", pk("fullchain.pem"), pk("privkey.pem"));
        refused_both_ways(text, 3, "[chat] port and [chat] tls_port cannot share TCP port 7001 "
                          "(plain and TLS never share a port)");
        snprintf(text, sizeof(text), "[chat]\ntls_port = 7002\n[web]\ntls_port = 7002\n"
                 "[tls]\ncertfile = %s\nkeyfile = %s\n", pk("fullchain.pem"), pk("privkey.pem"));
        refused_both_ways(text, 4, "[chat] tls_port and [web] tls_port cannot share TCP port 7002");

        /* Given as systemd credentials, and a good pair: OK. */
        char path[200];
        FILE *f;
        setenv("CREDENTIALS_DIRECTORY", pki, 1);
        snprintf(path, sizeof(path), "%s/good.ini", pki);
        ck_assert_ptr_nonnull(f = fopen(path, "w"));
        fprintf(f, "%s[tls]\ncertfile = credential:fullchain.pem\nkeyfile = credential:privkey.pem\n",
                head);
        fclose(f);
        const char *check[] = { "pichatd", "--check-config", "-c", path, NULL };
        ck_assert_int_eq(pd_run(check, out, sizeof(out), 10000), 0);
        ck_assert_str_eq(out, "configuration OK\n");
        unsetenv("CREDENTIALS_DIRECTORY");
}
END_TEST

/* ---- the web page over TLS -------------------------------------------------------- */

START_TEST(https_and_wss)
{
        struct tool t;
        struct pd_client c, w;
        char addr[64], head[256], frame[64];

        start(NULL);
        snprintf(addr, sizeof(addr), "127.0.0.1:%u", d.web_tls_port);
        const char *openssl[] = { "openssl", "s_client", "-quiet", "-verify_return_error",
                                  "-CAfile", pk("ca.pem"), "-servername", "localhost",
                                  "-verify_hostname", "localhost", "-connect", addr, NULL };
        tool_start(&t, openssl);
        pd_send(&t.io, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        ck_assert(pd_expect_next(&t.io, "HTTP/1.1 200 OK", 5000));
        ck_assert(pd_expect(&t.io, "<!DOCTYPE html>", 5000));
        tool_stop(&t);

        /* A WebSocket over it, from the page's own https origin, joins the
         * same room as a telnet user. */
        watcher(&w, "walt");
        ck_assert_int_eq(pd_tls_connect(&c, d.web_tls_port, pk("ca.pem")), 0);
        snprintf(head, sizeof(head), "GET /ws HTTP/1.1\r\nHost: localhost:%u\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\nOrigin: https://localhost:%u\r\n\r\n",
                 d.web_tls_port, d.web_tls_port);
        pd_send(&c, head);
        ck_assert(pd_expect_next(&c, "HTTP/1.1 101 Switching Protocols", 5000));
        ck_assert(pd_expect(&c, "", 5000));
        /* Masked text frames (mask 0: the bytes are as they are). */
        static const char *const said[] = { "/nick wss", "over wss" };
        for (int i = 0; i < 2; i++) {
                size_t n = 0, len = strlen(said[i]);
                frame[n++] = (char)0x81;
                frame[n++] = (char)(0x80 | len);
                memset(frame + n, 0, 4);
                n += 4;
                memcpy(frame + n, said[i], len);
                n += len;
                ck_assert_int_eq(pd_send_raw(&c, frame, n), 0);
        }
        ck_assert(pd_expect(&w, "<wss> over wss", 5000));
        pd_close(&c);
        pd_close(&w);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* ---- a busy room over TLS ---------------------------------------------------------- */

#define MEMBERS 6
#define ROUNDS 4
#define LINES 60

START_TEST(fan_out_through_key_updates)
{
        struct pd_client m[MEMBERS], p1, p2;
        char nick[16], line[512];
        unsigned got[MEMBERS + 2][3] = { { 0 } };

        start(NULL);
        for (int i = 0; i < MEMBERS; i++) {
                snprintf(nick, sizeof(nick), "t%d", i);
                tls_member(&m[i], nick);
        }
        watcher(&p1, "p1");
        watcher(&p2, "p2");
        for (int i = 0; i < MEMBERS; i++)
                settle(&m[i]);

        /* Two TLS senders and a plain one, every member asking for key
         * updates between the rounds (GnuTLS takes about one a second). */
        struct pd_client *senders[3] = { &m[0], &m[1], &p1 };
        for (int r = 0; r < ROUNDS; r++) {
                for (int i = 0; i < LINES; i++)
                        for (int s = 0; s < 3; s++) {
                                snprintf(line, sizeof(line), "s%d %04d\r\n", s, r * LINES + i);
                                ck_assert_int_eq(pd_send(senders[s], line), 0);
                        }
                for (int i = 0; i < MEMBERS; i++)
                        ck_assert_int_eq(pd_tls_key_update(&m[i], true), 0);
                usleep(1100000);
        }
        /* Every member has every line of the others, in each sender's order. */
        struct pd_client *all[MEMBERS + 2];
        for (int i = 0; i < MEMBERS; i++)
                all[i] = &m[i];
        all[MEMBERS] = &p1;
        all[MEMBERS + 1] = &p2;
        for (int i = 0; i < MEMBERS + 2; i++) {
                unsigned want = 0;
                for (int s = 0; s < 3; s++)
                        want += senders[s] == all[i] ? 0 : ROUNDS * LINES;
                unsigned have = 0;
                while (have < want) {
                        int k = pd_line(all[i], line, sizeof(line), 10000);
                        ck_assert_msg(k >= 0, "member %d: %u of %u lines", i, have, want);
                        int s, num;
                        char who[32];
                        if (sscanf(line, "<%31[^>]> s%d %d", who, &s, &num) != 3)
                                continue;
                        ck_assert_msg(s >= 0 && s < 3 && (unsigned)num == got[i][s],
                                      "member %d: '%s' after %u of s%d", i, line, got[i][s], s);
                        got[i][s]++;
                        have++;
                }
        }
        ck_assert_int_eq(pd_log_count(&d, "too slow"), 0);
        for (int i = 0; i < MEMBERS; i++)
                pd_close(&m[i]);
        pd_close(&p1);
        pd_close(&p2);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(a_slow_tls_reader_is_dropped_alone)
{
        struct pd_client slow, fast, plain, sender;
        char line[512], text[300];
        const unsigned n = 2000;

        start(NULL);
        /* A TLS member that stops reading, with a small window. */
        ck_assert_int_eq(pd_connect_rcvbuf(&slow, d.chat_tls_port, AF_INET, 4096), 0);
        ck_assert_int_eq(pd_tls_start(&slow, pk("ca.pem"), "localhost", 5000), 0);
        entered(&slow);
        tls_member(&fast, "fast");
        watcher(&plain, "plain");
        watcher(&sender, "sender");
        settle(&fast);
        memset(text, 'x', 200);
        text[200] = '\0';
        int64_t t0 = clock_now_ms();
        for (unsigned i = 0; i < n; i++) {
                snprintf(line, sizeof(line), "%05u %s\r\n", i, text);
                ck_assert_int_eq(pd_send(&sender, line), 0);
        }
        /* The two that read get every line, in order, read side by side. */
        struct pd_client *readers[2] = { &fast, &plain };
        unsigned next[2] = { 0, 0 };
        int64_t end = clock_now_ms() + 30000;
        while ((next[0] < n || next[1] < n) && clock_now_ms() < end) {
                for (int i = 0; i < 2; i++) {
                        char want[400];
                        int k;
                        if (next[i] == n || (k = pd_line(readers[i], line, sizeof(line), 20)) == -1)
                                continue;
                        ck_assert_msg(k >= 0, "reader %d closed after %u lines", i, next[i]);
                        snprintf(want, sizeof(want), "<sender> %05u %s", next[i], text);
                        if (strncmp(line, "<sender> ", 9) != 0)
                                continue;
                        ck_assert_msg(strcmp(line, want) == 0, "reader %d: '%.20s' for line %u", i,
                                      line, next[i]);
                        next[i]++;
                }
        }
        ck_assert_uint_eq(next[0], n);
        ck_assert_uint_eq(next[1], n);
        int64_t took = clock_now_ms() - t0;
        ck_assert(pd_log_wait(&d, "(too slow)", 5000));
        ck_assert_int_eq(pd_log_count(&d, " left (too slow)"), 1);
        printf("slow TLS reader: %u lines of 200 bytes to the others in %lld ms\n", n,
               (long long)took);
        pd_close(&slow);
        pd_close(&fast);
        pd_close(&plain);
        pd_close(&sender);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* The TLS sockets a service manager passes: by their names (the socket
 * units' FileDescriptorName=), or unnamed, by their ports. */
START_TEST(socket_activation_by_name_and_port)
{
        struct pd_client c;
        char ini[512];

        start(NULL);
        ck_assert_int_eq(pd_log_count(&d, "chat-tls: using socket [::]:"), 1);
        ck_assert_int_eq(pd_log_count(&d, "web-tls: using socket [::]:"), 1);
        ck_assert_int_eq(pd_stop(&d), 0);

        snprintf(ini, sizeof(ini), "[echo]\nenabled = no\n[udp]\nenabled = no\n[web]\nenabled = yes\n"
                 "[tls]\ncertfile = %s\nkeyfile = %s\n", pk("fullchain.pem"), pk("privkey.pem"));
        struct pd_opts o = { .fdnames = "chat-tls:chat:web-tls:web", .no_fdnames = true,
                             .ports_in_conf = true };
        ck_assert_int_eq(pd_start_opts(&d, ini, &o), 0);
        ck_assert_int_eq(pd_log_count(&d, "from the service manager"), 4);
        ck_assert_int_eq(pd_log_count(&d, "chat-tls: listening on [::]:"), 1);
        ck_assert_int_eq(pd_log_count(&d, "web-tls: listening on [::]:"), 1);
        ck_assert_int_eq(pd_tls_connect(&c, d.chat_tls_port, pk("ca.pem")), 0);
        entered(&c);
        pd_close(&c);
        ck_assert_int_eq(pd_tls_connect(&c, d.web_tls_port, pk("ca.pem")), 0);
        pd_send(&c, "GET /status.json HTTP/1.1\r\nHost: localhost\r\n\r\n");
        ck_assert(pd_expect_next(&c, "HTTP/1.1 200 OK", 5000));
        pd_close(&c);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("integration-tls");
        TCase *tc = tcase_create("tls");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, chat_with_gnutls_openssl_socat_and_pichat);
        tcase_add_test(tc, certificates_refused);
        tcase_add_test(tc, plain_text_to_a_tls_port);
        tcase_add_test(tc, tls_to_plain_ports);
        tcase_add_test(tc, slow_handshakes_time_out_and_count_per_address);
        tcase_add_test(tc, renewal_by_reload_while_clients_stay);
        tcase_add_test(tc, reload_with_a_broken_key_keeps_the_old_one);
        tcase_add_test(tc, check_config_agrees_with_a_start);
        tcase_add_test(tc, https_and_wss);
        tcase_add_test(tc, fan_out_through_key_updates);
        tcase_add_test(tc, a_slow_tls_reader_is_dropped_alone);
        tcase_add_test(tc, socket_activation_by_name_and_port);
        suite_add_tcase(s, tc);
        return s;
}
