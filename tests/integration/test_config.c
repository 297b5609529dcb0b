/* Integration: pichatd's command line and its handling of configuration
 * files: --check-config, the FILE:LINE errors, exit statuses, and that a
 * bad file stops the daemon before it opens any socket. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
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

static char tmpdir[64];
static char out[16384];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

/* In the runner, once: a failed test does not get to clean up itself. */
static void setup(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/pichat-config.XXXXXX");
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                abort();
        }
}

static void teardown(void)
{
        nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Write text to NAME in the temporary directory; path gets its path. */
static void write_ini(const char *name, const char *text, char *path, size_t size)
{
        FILE *f;

        snprintf(path, size, "%s/%s", tmpdir, name);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
}

/* pichatd --check-config -c path; returns the exit status, output in out. */
static int check_config(const char *path)
{
        const char *const argv[] = { "pichatd", "--check-config", "-c", path, NULL };
        int r = pd_run(argv, out, sizeof(out), 10000);

        fprintf(stderr, "--- pichatd --check-config -c %s: exit %d\n%s", path, r, out);
        return r;
}

/* Is there an output line that is exactly "pichatd: PATH:LINE: reason..."? */
static bool has_line(const char *path, unsigned line, const char *reason)
{
        char want[512];
        size_t n;

        snprintf(want, sizeof(want), "pichatd: %s:%u: %s", path, line, reason);
        n = strlen(want);
        for (const char *p = out; *p; ) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                if (len >= n && strncmp(p, want, n) == 0)
                        return true;
                if (!nl)
                        break;
                p = nl + 1;
        }
        return false;
}

static unsigned count_lines(void)
{
        unsigned n = 0;

        for (const char *p = out; *p; p++)
                if (*p == '\n')
                        n++;
        return n;
}

START_TEST(check_good)
{
        char path[128];

        write_ini("good.ini",
                  "; a valid file\n"
                  "[server]\n"
                  "bind = 127.0.0.1, ::1\n"
                  "thread_stack_kib = 16\n"
                  "[echo]\n"
                  "port = 0\n"
                  "prefix = \"> \"\n"
                  "[chat]\n"
                  "enabled = no\n"
                  "[log]\n"
                  "level = DEBUG\n", path, sizeof(path));
        ck_assert_int_eq(check_config(path), 0);
        ck_assert_str_eq(out, "configuration OK\n");

        /* short option, and an empty file (all defaults) */
        write_ini("empty.ini", "", path, sizeof(path));
        const char *const argv[] = { "pichatd", "-n", "-c", path, NULL };
        ck_assert_int_eq(pd_run(argv, out, sizeof(out), 10000), 0);
        ck_assert_str_eq(out, "configuration OK\n");
}
END_TEST

START_TEST(check_shipped)
{
        const char *ini = getenv("PICHAT_INI");

        ck_assert_msg(ini && *ini, "PICHAT_INI is not set (run through meson test)");
        ck_assert_int_eq(check_config(ini), 0);
        ck_assert_str_eq(out, "configuration OK\n");
}
END_TEST

START_TEST(check_bad)
{
        static const struct {
                const char *text;
                unsigned line;
                const char *reason;
        } cases[] = {
                { "[echo]\nport = 1\n[bogus]\n", 3, "unknown section [bogus]" },
                { "[echo]\ncolour = red\n", 2, "unknown key 'colour' in section [echo]" },
                { "[udp]\nenabled = perhaps\n", 2, "enabled: 'perhaps' is not a boolean" },
                { "[server]\nmax_clients = 12abc\n", 2, "max_clients: '12abc' is not a number" },
                { "[chat]\n\nport = 65536\n", 3, "port: 65536 is out of range" },
                { "[server]\nidle_timeout_s = -5\n", 2, "idle_timeout_s: must not be negative" },
                { "[server]\nthread_stack_kib = 15\n", 2, "thread_stack_kib: 15 is out of range" },
                { "[server]\nbind = ::1 localhost\n", 2, "bind: 'localhost' is not an IPv4" },
                { "[log]\nlevel = loud\n", 2, "level: 'loud' is not a log level" },
                { "[echo]\nthis is not a key\n", 2, "syntax error" },
                { "[echo\nport = 1\n", 1, "syntax error" },
                { "port = 1\n", 1, "'port' is outside any [section]" },
        };
        char path[128];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                write_ini("bad.ini", cases[i].text, path, sizeof(path));
                ck_assert_int_eq(check_config(path), 1);
                ck_assert_msg(has_line(path, cases[i].line, cases[i].reason),
                              "no 'pichatd: %s:%u: %s' for:\n%s", path, cases[i].line,
                              cases[i].reason, cases[i].text);
                ck_assert_uint_eq(count_lines(), 1);
                ck_assert_ptr_null(strstr(out, "configuration OK"));
        }
}
END_TEST

START_TEST(check_cross_field)
{
        char path[128], want[256];

        write_ini("same.ini", "[echo]\nport = 7000\n[chat]\nport = 7000\n", path, sizeof(path));
        ck_assert_int_eq(check_config(path), 1);
        /* At the line of the port set last. */
        snprintf(want, sizeof(want), "pichatd: %s:4: [echo] and [chat] cannot share TCP port 7000\n",
                 path);
        ck_assert_str_eq(out, want);

        write_ini("none.ini", "[echo]\nenabled = no\n[udp]\nenabled = no\n[chat]\nenabled = no\n"
                  "[web]\nenabled = no\n", path, sizeof(path));
        ck_assert_int_eq(check_config(path), 1);
        snprintf(want, sizeof(want), "pichatd: %s:8: no service is enabled", path);
        ck_assert_ptr_nonnull(strstr(out, want));
}
END_TEST

/* A line inih would cut at 200 bytes fails as a whole. */
START_TEST(check_long_line)
{
        char path[128], text[512], value[256];

        memset(value, 'x', 195);
        value[195] = '\0';
        snprintf(text, sizeof(text), "[echo]\nport = 1\nwelcome = %s\nprefix = ok\n", value);
        write_ini("long.ini", text, path, sizeof(path));
        ck_assert_int_eq(check_config(path), 1);
        ck_assert(has_line(path, 3, "line too long (max 197 bytes)"));
        ck_assert_uint_eq(count_lines(), 1);

        /* 197 bytes is still fine */
        value[197 - strlen("welcome = ")] = '\0';
        snprintf(text, sizeof(text), "[echo]\nwelcome = %s\n", value);
        write_ini("fits.ini", text, path, sizeof(path));
        ck_assert_int_eq(check_config(path), 0);
        ck_assert_str_eq(out, "configuration OK\n");
}
END_TEST

/* Every error of a file is printed, one line each, in order. */
START_TEST(check_many_errors)
{
        char path[128];

        write_ini("many.ini",
                  "[server]\n"
                  "max_clients = 0\n"
                  "[echo]\n"
                  "enabled = sometimes\n"
                  "junk\n"
                  "[nowhere]\n"
                  "[log]\n"
                  "level = chatty\n", path, sizeof(path));
        ck_assert_int_eq(check_config(path), 1);
        ck_assert_uint_eq(count_lines(), 5);
        ck_assert(has_line(path, 2, "max_clients: 0 is out of range"));
        ck_assert(has_line(path, 4, "enabled: 'sometimes' is not a boolean"));
        ck_assert(has_line(path, 5, "syntax error"));
        ck_assert(has_line(path, 6, "unknown section [nowhere]"));
        ck_assert(has_line(path, 8, "level: 'chatty' is not a log level"));
        ck_assert_ptr_nonnull(strstr(out, ":2: "));
        ck_assert(strstr(out, ":2: ") < strstr(out, ":8: "));
}
END_TEST

START_TEST(check_missing_and_unreadable)
{
        char path[128], want[256];

        snprintf(path, sizeof(path), "%s/missing.ini", tmpdir);
        ck_assert_int_eq(check_config(path), 1);
        snprintf(want, sizeof(want), "pichatd: %s: cannot open: %s\n", path, strerror(ENOENT));
        ck_assert_str_eq(out, want);

        /* A directory opens but cannot be read (chmod 000 would not stop root). */
        ck_assert_int_eq(check_config(tmpdir), 1);
        snprintf(want, sizeof(want), "pichatd: %s: cannot read: %s\n", tmpdir, strerror(EISDIR));
        ck_assert_str_eq(out, want);

        /* A normal start fails the same way. */
        const char *const argv[] = { "pichatd", "--foreground", "-c", path, NULL };
        ck_assert_int_eq(pd_run(argv, out, sizeof(out), 10000), 1);
        snprintf(want, sizeof(want), "pichatd: %s: cannot open: %s\n", path, strerror(ENOENT));
        ck_assert_str_eq(out, want);
}
END_TEST

START_TEST(options)
{
        const char *const help[] = { "pichatd", "--help", NULL };
        const char *const help_short[] = { "pichatd", "-h", NULL };
        const char *const version[] = { "pichatd", "--version", NULL };
        const char *const unknown[] = { "pichatd", "--no-such-option", NULL };
        const char *const extra[] = { "pichatd", "-n", "stray", NULL };
        const char *const noarg[] = { "pichatd", "-c", NULL };

        ck_assert_int_eq(pd_run(help, out, sizeof(out), 10000), 0);
        ck_assert_ptr_nonnull(strstr(out, "Usage: pichatd"));
        ck_assert_ptr_nonnull(strstr(out, "--check-config"));
        ck_assert_ptr_nonnull(strstr(out, "--config"));
        ck_assert_int_eq(pd_run(help_short, out, sizeof(out), 10000), 0);
        ck_assert_ptr_nonnull(strstr(out, "--check-config"));

        ck_assert_int_eq(pd_run(version, out, sizeof(out), 10000), 0);
        ck_assert_int_eq(strncmp(out, "pichatd ", 8), 0);
        ck_assert_ptr_nonnull(strchr(out, '.'));

        ck_assert_int_eq(pd_run(unknown, out, sizeof(out), 10000), 2);
        ck_assert_ptr_nonnull(strstr(out, "Usage: pichatd"));
        ck_assert_int_eq(pd_run(extra, out, sizeof(out), 10000), 2);
        ck_assert_ptr_nonnull(strstr(out, "unexpected argument 'stray'"));
        ck_assert_int_eq(pd_run(noarg, out, sizeof(out), 10000), 2);
}
END_TEST

/* A TCP listener on 127.0.0.1 without SO_REUSEADDR; its port in *port. */
static int hold_port(unsigned *port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, 1), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        *port = ntohs(sa.sin_port);
        return fd;
}

/* The configuration is checked before any socket is opened: with the echo
 * port taken, a bad file reports the file, not the port. */
START_TEST(bad_config_opens_no_socket)
{
        char path[128], text[512], want[256];
        unsigned port;
        int fd = hold_port(&port);
        const char *const argv[] = { "pichatd", "--foreground", "-c", path, NULL };
        const char *const check[] = { "pichatd", "--check-config", "-c", path, NULL };

        /* Control: with a good file the daemon does reach the port, and
         * fails on it; so the test below would see it if it got that far. */
        snprintf(text, sizeof(text),
                 "[server]\nbind = 127.0.0.1\n[echo]\nport = %u\n"
                 "[udp]\nenabled = no\n[chat]\nenabled = no\n", port);
        write_ini("taken.ini", text, path, sizeof(path));
        ck_assert_int_eq(pd_run(argv, out, sizeof(out), 10000), 1);
        fprintf(stderr, "--- good file, port taken:\n%s", out);
        ck_assert_ptr_nonnull(strstr(out, strerror(EADDRINUSE)));

        /* --check-config opens nothing either: the taken port is no error. */
        ck_assert_int_eq(pd_run(check, out, sizeof(out), 10000), 0);
        ck_assert_str_eq(out, "configuration OK\n");

        snprintf(text, sizeof(text),
                 "[server]\nbind = 127.0.0.1\n[echo]\nport = %u\n"
                 "[udp]\nenabled = no\n[chat]\nenabled = no\nbogus = 1\n", port);
        write_ini("bad.ini", text, path, sizeof(path));
        ck_assert_int_eq(pd_run(argv, out, sizeof(out), 10000), 1);
        fprintf(stderr, "--- bad file, port taken:\n%s", out);
        snprintf(want, sizeof(want), "pichatd: %s:9: unknown key 'bogus' in section [chat]\n",
                 path);
        ck_assert_str_eq(out, want);
        ck_assert_ptr_null(strstr(out, strerror(EADDRINUSE)));

        /* Same without --foreground: no daemon is forked for a bad file. */
        const char *const bg[] = { "pichatd", "-c", path, NULL };
        ck_assert_int_eq(pd_run(bg, out, sizeof(out), 10000), 1);
        ck_assert_str_eq(out, want);
        close(fd);
}
END_TEST

/* ---- --check-config and a real start agree -------------------------- */

/* Lines a generated configuration is made of: good values, and bad ones,
 * among them what only a later check could refuse (room names, ports
 * shared, no service left). Ports are 0 or bad, so that a start never depends on
 * which ports this machine has free; addresses are on loopback, so that
 * it never depends on its network either. What --check-config cannot
 * know is the machine, and none of that is varied here. */
static const char *const gen_good[] = {
        "[server]\nmax_clients = 1\n", "[server]\nmax_clients_per_ip = 0\n",
        "[server]\nthread_stack_kib = 16\n", "[server]\nidle_timeout_s = 0\n",
        "[server]\nline_timeout_s = 5\n", "[server]\nmax_line_bytes = 16\n",
        "[server]\nbind = 127.0.0.1, 127.0.0.2\n", "[echo]\nenabled = no\n",
        "[echo]\nprefix = \">> \"\n", "[udp]\nenabled = no\n", "[udp]\nrate_per_source = 0\n",
        "[udp]\nprefix = ok:\n", "[chat]\nenabled = no\n",
        "[chat]\nmotd_file = /nonexistent/motd\n", "[chat]\ndefault_room = #main\n",
        "[chat]\nrooms = lobby games, music\n", "[chat]\nrooms = ,,x,,\n",
        "[chat]\nmax_nick_len = 64\n", "[chat]\nhistory = 1000\n",
        "[chat]\nmax_queue_kib = 4\n", "[chat]\npassword = secret\n",
        "[server]\nmax_line_bytes = 65536\n[chat]\nmax_queue_kib = 193\n",
        "[access]\nallow = 127.0.0.0/8\n", "[log]\nlevel = error\n",
        "[web]\nenabled = no\n", "[web]\ntitle = \"Class 4B & friends\"\n",
        "[web]\nallowed_origins = http://pi.local:8080 https://[::1]:8443\n",
        "[web]\nallowed_origins = *\n", "[web]\nstatus_json = no\n",
        "[echo]\nenabled = no\n[udp]\nenabled = no\n[chat]\nenabled = no\n",
        "[daytime]\nenabled = yes\nport = 0\n", "[daytime]\nformat = ctime\n",
        "[daytime]\nformat = \"%Y-%m-%dT%H:%M:%S%z\"\n", "[time]\nenabled = yes\nport = 0\n",
        "[time]\nenabled = yes\nport = 0\nudp = no\n", "[qotd]\nport = 7791\n",
        "[qotd]\nenabled = yes\nport = 0\nfile = @QUOTES@\n", "[qotd]\nfile = /nonexistent\n",
};

static const char *const gen_bad[] = {
        "[server]\nmax_clients = 0\n", "[server]\nmax_clients = 1000001\n",
        "[server]\nmax_clients = 12abc\n", "[server]\nmax_clients_per_ip = -1\n",
        "[server]\nthread_stack_kib = 15\n", "[server]\nthread_stack_kib = 8193\n",
        "[server]\nidle_timeout_s = 604801\n", "[server]\nmax_line_bytes = 15\n",
        "[server]\nmax_line_bytes = 65537\n", "[server]\nbind = not-an-address\n",
        "[server]\nbind =\n", "[echo]\nenabled = maybe\n", "[echo]\nport = 65536\n",
        "[echo]\nport = x\n", "[echo]\nwelcome = \x01\n", "[udp]\nrate_per_source = 1000001\n",
        "[chat]\ndefault_room = bad room\n", "[chat]\ndefault_room = #\n",
        "[chat]\nrooms = lobby b@d\n", "[chat]\nrooms = caf\xc3\xa9\n",
        "[chat]\ndefault_room = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
        "[chat]\nmax_nick_len = 65\n", "[chat]\nmax_rooms = 0\n", "[chat]\nhistory = 1001\n",
        "[chat]\nmax_queue_kib = 3\n", "[chat]\nlines_per_sec = 0\n", "[chat]\nburst = 0\n",
        "[chat]\npassword = \" lead\"\n", "[chat]\npassword = caf\xff\n",
        "[access]\nallow = 10.0.0.1/8\n", "[access]\ndeny = garbage\n", "[log]\nlevel = loud\n",
        "[nosuch]\n", "[chat]\nnosuch = 1\n", "[chat]\nno equals sign\n",
        "[echo]\nport = 7777\n[chat]\nport = 7777\n",
        "[server]\nmax_line_bytes = 65536\n",
        "[chat]\nmax_queue_kib = 4\n[server]\nmax_line_bytes = 2000\n",
        "[echo]\nenabled = no\n[udp]\nenabled = no\n[chat]\nenabled = no\n[web]\nenabled = no\n",
        "[web]\nport = 65536\n", "[web]\nenabled = sometimes\n", "[web]\ntitle = \x02\n",
        "[web]\nallowed_origins = pi.local\n", "[web]\nallowed_origins = http://a/b\n",
        "[web]\nport = 7778\n[chat]\nport = 7778\n", "[web]\nport = 7779\n[echo]\nport = 7779\n",
        "[web]\nnosuch = 1\n",
        "[daytime]\nformat = %H%n\n", "[daytime]\nformat = \"\"\n", "[daytime]\nudp = maybe\n",
        "[time]\nport = 65536\n", "[time]\nenabled = yes\nport = 7792\n[udp]\nport = 7792\n",
        "[qotd]\nenabled = yes\nport = 0\nfile = /nonexistent/quotes\n",
        "[qotd]\nenabled = yes\nport = 0\nfile = /\n", "[qotd]\nnosuch = 1\n",
        "[daytime]\nenabled = yes\nport = 7793\n[web]\nport = 7793\n",
};

/* xorshift32: the same configurations on every run and machine. */
static uint32_t gen_next(uint32_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 17;
        *s ^= *s << 5;
        return *s;
}

/* The first "pichatd: FILE..." line of text, in first (empty if none). */
static void first_error(const char *text, char *first, size_t size)
{
        const char *p = strstr(text, "pichatd: /");

        first[0] = '\0';
        if (p)
                snprintf(first, size, "%.*s", (int)strcspn(p, "\n"), p);
}

#define N_GOOD (sizeof(gen_good) / sizeof(gen_good[0]))
#define N_BAD (sizeof(gen_bad) / sizeof(gen_bad[0]))
#define GEN_PER_CASE 25

/* Each case: GEN_PER_CASE configurations of one to three generated lines
 * after ports 0 on loopback. pichatd --check-config and pichatd started
 * as the service manager would (until READY=1 or its exit) must agree:
 * both accept, or both refuse with the same first FILE:LINE error. */
START_TEST(check_agrees_with_start)
{
        uint32_t seed = 0x9e3779b9u ^ (uint32_t)(_i + 1) * 2654435761u;
        unsigned accepted = 0, refused = 0;

        for (int k = 0; k < GEN_PER_CASE; k++) {
                char ini[1024], status[64], start_err[512], check_err[512];
                char *log = NULL;
                size_t n = (size_t)snprintf(ini, sizeof(ini),
                                            "[server]\nbind = 127.0.0.1\n[echo]\nport = 0\n"
                                            "[chat]\nport = 0\n[udp]\nport = 0\n"
                                            "[web]\nenabled = yes\nport = 0\n");
                unsigned lines = 1 + gen_next(&seed) % 3;
                struct pd d;
                struct pd_opts o = { .notify = true, .no_wait = true };

                /* A bad line one time in four: about half the files are good. */
                for (unsigned j = 0; j < lines; j++) {
                        uint32_t r = gen_next(&seed);
                        const char *line = r % 4 ? gen_good[(r >> 2) % N_GOOD] :
                                                   gen_bad[(r >> 2) % N_BAD];
                        const char *at = strstr(line, "@QUOTES@");
                        /* The shipped quotes, wherever the tree is. */
                        if (at)
                                n += (size_t)snprintf(ini + n, sizeof(ini) - n, "%.*s%s%s",
                                                      (int)(at - line), line,
                                                      getenv("PICHAT_QUOTES"), at + 8);
                        else
                                n += (size_t)snprintf(ini + n, sizeof(ini) - n, "%s", line);
                }
                ck_assert_int_eq(pd_start_opts(&d, ini, &o), 0);

                /* The start: READY=1, or an exit. */
                bool ready = false;
                int st = -1;
                long long end = clock_now_ms() + 20000;
                while (clock_now_ms() < end) {
                        int wst;
                        if (pd_notify_next(&d, status, sizeof(status), 50) > 0 &&
                            strstr(status, "READY=1")) {
                                ready = true;
                                break;
                        }
                        if (waitpid(d.pid, &wst, WNOHANG) == d.pid) {
                                st = WIFEXITED(wst) ? WEXITSTATUS(wst) : -1;
                                d.pid = 0;
                                break;
                        }
                }
                ck_assert_msg(ready || d.pid == 0, "pichatd neither ready nor gone:\n%s", ini);
                FILE *f = fopen(d.log_path, "r");
                if (f) {
                        size_t cap = 0;
                        if (getdelim(&log, &cap, '\0', f) < 0) {
                                free(log);
                                log = NULL;
                        }
                        fclose(f);
                }
                first_error(log ? log : "", start_err, sizeof(start_err));
                free(log);

                int chk = check_config(d.conf_path);
                first_error(out, check_err, sizeof(check_err));
                if (ready) {
                        ck_assert_msg(chk == 0, "started, but --check-config says %d:\n%s%s", chk,
                                      ini, out);
                        ck_assert_int_eq(pd_stop(&d), 0);
                        accepted++;
                        continue;
                }
                ck_assert_msg(chk == 1 && st == 1,
                              "--check-config %d, start %d, for:\n%s\ncheck: %s\nstart: %s", chk,
                              st, ini, check_err, start_err);
                ck_assert_msg(check_err[0] && strcmp(check_err, start_err) == 0,
                              "different first errors for:\n%s\ncheck: %s\nstart: %s", ini,
                              check_err, start_err);
                d.log_path[0] = '\0';   /* its log was read above */
                pd_stop(&d);
                refused++;
        }
        printf("agreement %d: %u accepted, %u refused by both\n", _i, accepted, refused);
        ck_assert_uint_gt(refused, 0);
        ck_assert_uint_gt(accepted, 0);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("integration-config");
        TCase *tc = tcase_create("config");

        tcase_add_unchecked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, check_good);
        tcase_add_test(tc, check_shipped);
        tcase_add_test(tc, check_bad);
        tcase_add_test(tc, check_cross_field);
        tcase_add_test(tc, check_long_line);
        tcase_add_test(tc, check_many_errors);
        tcase_add_test(tc, check_missing_and_unreadable);
        tcase_add_test(tc, options);
        tcase_add_test(tc, bad_config_opens_no_socket);
        suite_add_tcase(s, tc);

        TCase *ta = tcase_create("agreement");
        tcase_set_timeout(ta, 120);
        tcase_add_loop_test(ta, check_agrees_with_start, 0, 4);
        suite_add_tcase(s, ta);
        return s;
}
