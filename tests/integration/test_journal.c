/* Integration: pichatd's log under the journal, played by the test: the
 * journal's stream (JOURNAL_STREAM), the fields of native entries against
 * a journal socket of the test's own (in a private mount namespace, where
 * journald's would be), and a journal and a stderr that stop reading while
 * clients chat: nobody waits for them, drops are counted and said, and a
 * clean stop writes out what is queued. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "suite.h"

#define WELCOME "Welcome to the server. Type something and hit enter"
#define CHAT_WELCOME "* Welcome to pichat chat. Type /help for commands."

/* Exit status of a scenario that cannot have its namespaces here. */
#define NO_NAMESPACE 77

/* ---- the journal's stream ----------------------------------------------- */

START_TEST(journal_stream_detected)
{
        /* JOURNAL_STREAM names pichatd's stderr: it logs to the journal.
         * With no journald here (the usual case in a build), messages go
         * to stderr with a "<N>" priority, which is how we see that the
         * journal path was taken. */
        struct stat st;
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:chat:udp", .journal_stream = true };
        struct pd_client e;

        if (stat("/run/systemd/journal/socket", &st) == 0) {
                pd_skipped("journald runs here: its fallback cannot be seen");
                return;
        }
        ck_assert_int_eq(pd_start_opts(&d, NULL, &o), 0);
        ck_assert_int_eq(pd_connect(&e, d.echo_port, AF_INET), 0);
        ck_assert(pd_expect_next(&e, WELCOME, 5000));
        ck_assert(pd_log_wait(&d, "<6>echo: connected 127.0.0.1:", 5000));
        ck_assert_int_eq(pd_log_count_when(&d, "<5>pichatd ", 1), 1);
        ck_assert_int_eq(pd_log_count(&d, "info: "), 0);
        pd_close(&e);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

START_TEST(journal_stream_of_another_file)
{
        /* JOURNAL_STREAM inherited, but stderr is somewhere else: plain lines. */
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:chat:udp", .journal_stream_other = true };

        ck_assert_int_eq(pd_start_opts(&d, NULL, &o), 0);
        ck_assert_int_eq(pd_log_count_when(&d, "notice: pichatd ", 1), 1);
        ck_assert_int_eq(pd_stop(&d), 0);
}
END_TEST

/* ---- a journal of the test's own -------------------------------------------- */

#define FAKE_JOURNAL "/run/systemd/journal/socket"

/* A journal socket where journald's is, in a mount namespace of this
 * process's own, and its reader: a process of its own that writes every
 * datagram to path, each followed by a line "--", as journald would read
 * them while pichatd runs. It can be stopped (SIGSTOP) to play a journald
 * that does not read. Its own network namespace too, so that the socket
 * holds the kernel's default of 10 datagrams (net.unix.max_dgram_qlen),
 * whatever this machine's systemd set. */
struct journal {
        int fd;
        pid_t reader;
        struct sockaddr_un sa;
};

static int journal_open(struct journal *j, const char *path)
{
        char why[160];

        j->sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
        if (unshare(CLONE_NEWNS) < 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", "/run/systemd", "tmpfs", 0, "mode=0755,size=1m") < 0 ||
            mkdir("/run/systemd/journal", 0755) < 0)
                return NO_NAMESPACE;
        if (pd_netns_private(NULL, why, sizeof(why)) < 0) {
                fprintf(stderr, "journal: %s\n", why);
                return NO_NAMESPACE;
        }
        snprintf(j->sa.sun_path, sizeof(j->sa.sun_path), "%s", FAKE_JOURNAL);
        j->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (j->fd < 0 || bind(j->fd, (struct sockaddr *)&j->sa, sizeof(j->sa)) < 0)
                return 3;
        j->reader = fork();
        if (j->reader < 0)
                return 3;
        if (j->reader == 0) {
                static char buf[65536];
                FILE *f = fopen(path, "w");

                if (!f)
                        _exit(7);
                for (;;) {
                        ssize_t n = recv(j->fd, buf, sizeof(buf) - 1, 0);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;  /* the empty datagram of journal_close() */
                        buf[n] = '\0';
                        fprintf(f, "%s--\n", buf);
                        fflush(f);
                }
                _exit(fclose(f) == 0 ? 0 : 7);
        }
        return 0;
}

static void journal_pause(struct journal *j, bool pause)
{
        kill(j->reader, pause ? SIGSTOP : SIGCONT);
}

/* After everything pichatd sent: the reader's end. 0, or 7. */
static int journal_close(struct journal *j)
{
        int st = 0;

        kill(j->reader, SIGCONT);
        if (sendto(j->fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&j->sa, sizeof(j->sa)) < 0)
                kill(j->reader, SIGKILL);
        waitpid(j->reader, &st, 0);
        close(j->fd);
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 7;
}

/* Whether the journal written to path so far has needle. */
static bool journal_has(const char *path, const char *needle, int timeout_ms)
{
        int64_t end = clock_now_ms() + timeout_ms;
        static char all[4 << 20];

        for (;;) {
                FILE *f = fopen(path, "r");
                size_t n = f ? fread(all, 1, sizeof(all) - 1, f) : 0;
                if (f)
                        fclose(f);
                all[n] = '\0';
                if (strstr(all, needle))
                        return true;
                if (clock_now_ms() > end)
                        return false;
                usleep(20000);
        }
}

/* Wait until the journal at path has not grown for quiet_ms (at most
 * max_ms): whatever pichatd had queued has been read. */
static void journal_quiet(const char *path, int quiet_ms, int max_ms)
{
        int64_t end = clock_now_ms() + max_ms, since = clock_now_ms();
        off_t last = -1;

        while (clock_now_ms() < end && clock_now_ms() - since < quiet_ms) {
                struct stat st;
                off_t size = stat(path, &st) == 0 ? st.st_size : -1;
                if (size != last) {
                        last = size;
                        since = clock_now_ms();
                }
                usleep(20000);
        }
}

/* Run scenario(path) in a child with the namespaces it makes, bounded in
 * time; the journal it wrote, into a buffer of the caller's (malloc'd, to
 * free). NULL when the case cannot be checked here (skipped). */
static char *in_namespace(int (*scenario)(const char *path), int timeout_s)
{
        char dir[] = "/tmp/pichat-journal.XXXXXX", path[64];
        int status = -1;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/journal", dir);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                _exit(scenario(path));
        for (int i = 0; i < timeout_s * 10 && waitpid(pid, &status, WNOHANG) == 0; i++)
                usleep(100000);
        if (waitpid(pid, &status, WNOHANG) == 0) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
        }
        ck_assert(WIFEXITED(status));
        if (WEXITSTATUS(status) == NO_NAMESPACE) {
                unlink(path);
                rmdir(dir);
                pd_skipped("no mount or network namespace here (not root?)");
                return NULL;
        }
        ck_assert_msg(WEXITSTATUS(status) == 0, "scenario failed with %d",
                      WEXITSTATUS(status));

        FILE *f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        size_t size = 4 << 20, len;
        char *all = malloc(size);
        ck_assert_ptr_nonnull(all);
        len = fread(all, 1, size - 1, f);
        all[len] = '\0';
        fclose(f);
        unlink(path);
        rmdir(dir);
        return all;
}

/* ---- the fields of each entry ---------------------------------------------- */

static int fields_run(const char *path)
{
        struct journal j;
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:chat:udp", .journal_stream = true,
                             .no_wait = true, .notify = true };
        struct pd_client e, c;
        char msg[1024];
        int r = journal_open(&j, path);

        if (r)
                return r;
        if (pd_start_opts(&d, "[log]\nlevel = info\n", &o) < 0) {
                r = 4;
        } else {
                if (!pd_notify_wait(&d, "READY=1", msg, sizeof(msg), 10000) ||
                    pd_connect(&e, d.echo_port, AF_INET) < 0 ||
                    !pd_expect_next(&e, WELCOME, 5000) ||
                    pd_connect(&c, d.chat_port, AF_INET) < 0 ||
                    !pd_expect(&c, CHAT_WELCOME, 5000))
                        r = 5;
                pd_send(&c, "/nick alice\n");
                if (!r && !pd_expect(&c, "* you are now known as alice", 5000))
                        r = 6;
                pd_close(&e);
                pd_close(&c);
                if (!r && !journal_has(path, "MESSAGE=chat: alice left", 5000))
                        r = 8;
                pd_stop(&d);
        }
        int rc = journal_close(&j);
        return r ? r : rc;
}

/* The entry in all (datagrams ended by "--\n") whose MESSAGE= starts with
 * message, copied to out. */
static bool journal_entry(const char *all, const char *message, char *out, size_t size)
{
        char key[256];

        snprintf(key, sizeof(key), "MESSAGE=%s", message);
        const char *p = strstr(all, key);
        if (!p)
                return false;
        while (p > all && p[-1] != '\n')
                p--;
        while (p > all && !(p - all >= 3 && strncmp(p - 3, "--\n", 3) == 0))
                p--;
        const char *end = strstr(p, "--\n");
        snprintf(out, size, "%.*s", (int)(end ? end - p : (long)strlen(p)), p);
        return true;
}

/* How many of the entry's lines start with field ("CODE_FILE="). */
static int field_count(const char *entry, const char *field)
{
        int n = 0;
        size_t l = strlen(field);

        for (const char *p = entry; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                n += strncmp(p, field, l) == 0;
        return n;
}

/* The value of field in entry ("CODE_FILE" -> "daemon/conn.c"). */
static const char *field_value(const char *entry, const char *field, char *out, size_t size)
{
        char key[64];

        snprintf(key, sizeof(key), "%s=", field);
        out[0] = '\0';
        for (const char *p = entry; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, key, strlen(key)) == 0) {
                        p += strlen(key);
                        snprintf(out, size, "%.*s", (int)strcspn(p, "\n"), p);
                        break;
                }
        return out;
}

/* Line number line of the source file file (relative to the source tree). */
static bool source_line(const char *file, int line, char *out, size_t size)
{
        const char *root = getenv("PICHAT_SOURCE_ROOT");
        char path[512];
        FILE *f;

        if (!root)
                return false;
        snprintf(path, sizeof(path), "%s/%s", root, file);
        if (!(f = fopen(path, "r")))
                return false;
        for (int i = 1; fgets(out, (int)size, f); i++)
                if (i == line) {
                        fclose(f);
                        return true;
                }
        fclose(f);
        return false;
}

/* Each entry has every CODE_ field once, naming the line that logged it
 * (that line holds text), in file and func. */
static void code_fields(const char *entry, const char *file, const char *func,
                        const char *text)
{
        char v[256], src[512];

        ck_assert_msg(field_count(entry, "CODE_FILE=") == 1, "CODE_FILE not once:\n%s", entry);
        ck_assert_msg(field_count(entry, "CODE_LINE=") == 1, "CODE_LINE not once:\n%s", entry);
        ck_assert_msg(field_count(entry, "CODE_FUNC=") == 1, "CODE_FUNC not once:\n%s", entry);
        ck_assert_str_eq(field_value(entry, "CODE_FILE", v, sizeof(v)), file);
        ck_assert_str_eq(field_value(entry, "CODE_FUNC", v, sizeof(v)), func);
        int line = atoi(field_value(entry, "CODE_LINE", v, sizeof(v)));
        ck_assert_int_gt(line, 0);
        ck_assert_msg(source_line(file, line, src, sizeof(src)), "no line %d in %s", line, file);
        ck_assert_msg(strstr(src, text) != NULL, "%s:%d is '%s', not the one saying '%s'", file,
                      line, src, text);
}

START_TEST(journal_fields_end_to_end)
{
        char e[4096];
        char *all = in_namespace(fields_run, 30);

        if (!all)
                return;
        ck_assert_msg(journal_entry(all, "pichatd 0.1.0 started", e, sizeof(e)), "%s", all);
        ck_assert_int_eq(field_count(e, "PRIORITY=5"), 1);
        ck_assert_int_eq(field_count(e, "SYSLOG_IDENTIFIER=pichatd"), 1);
        ck_assert_int_eq(field_count(e, "SYSLOG_FACILITY=3"), 1);
        ck_assert_int_eq(field_count(e, "MESSAGE="), 1);
        ck_assert(!strstr(e, "PICHAT_"));
        code_fields(e, "daemon/main.c", "main", "started (config %s)");

        ck_assert_msg(journal_entry(all, "echo: connected 127.0.0.1:", e, sizeof(e)), "%s", all);
        ck_assert_int_eq(field_count(e, "PRIORITY=6"), 1);
        ck_assert_int_eq(field_count(e, "PICHAT_SERVICE=echo"), 1);
        ck_assert_int_eq(field_count(e, "PICHAT_PEER=127.0.0.1:"), 1);
        code_fields(e, "daemon/conn.c", "conn_run", "\"connected %s\"");

        ck_assert_msg(journal_entry(all, "chat: guest", e, sizeof(e)), "%s", all);
        ck_assert(strstr(e, "is now known as alice [alice in lobby]\n") != NULL);
        ck_assert_int_eq(field_count(e, "PICHAT_SERVICE=chat"), 1);
        ck_assert_int_eq(field_count(e, "PICHAT_NICK=alice"), 1);
        ck_assert_int_eq(field_count(e, "PICHAT_ROOM=lobby"), 1);
        ck_assert_int_eq(field_count(e, "PICHAT_PEER=127.0.0.1:"), 1);
        code_fields(e, "daemon/chat.c", "do_nick", "is now known as");

        /* Every entry: CODE_FILE once, never the log module's own (only a
         * drop notice, which this case has none of, comes from there). */
        int entries = 0;
        for (const char *p = all; (p = strstr(p, "--\n")); p += 3)
                entries++;
        ck_assert_int_gt(entries, 5);
        ck_assert_int_eq(field_count(all, "CODE_FILE="), entries);
        ck_assert_int_eq(field_count(all, "CODE_LINE="), entries);
        ck_assert_int_eq(field_count(all, "CODE_FUNC="), entries);
        ck_assert_int_eq(field_count(all, "MESSAGE="), entries);
        ck_assert(strstr(all, "CODE_FILE=daemon/log.c") == NULL);
        ck_assert(strstr(all, "messages dropped") == NULL);
        /* [log] level = info: no debug message reached the journal. */
        ck_assert(strstr(all, "\nPRIORITY=7\n") == NULL);
        /* A clean stop writes out what is queued. */
        ck_assert_msg(journal_entry(all, "stopped", e, sizeof(e)), "%s", all);
        free(all);
}
END_TEST

/* ---- a journal and a stderr that do not read -------------------------------- */

#define STUCK_MEMBERS 100       /* chat clients saying lines */
#define STUCK_VISITORS 50       /* chat clients that come and go meanwhile */
#define STUCK_MS 6000           /* longer than the watchdog's stale limit (5 s) */
#define STUCK_ROUND_MS 500      /* each member says a line this often */
#define STUCK_ROUNDS (STUCK_MS / STUCK_ROUND_MS)
#define STUCK_DELIVERY_MS 1000  /* a line reaches every other member within this */
#define STUCK_WATCHDOG_USEC 1000000

struct stuck {
        struct pd d;
        struct pd_client m[STUCK_MEMBERS];
        int64_t sent[STUCK_ROUNDS][STUCK_MEMBERS];
        unsigned char got[STUCK_ROUNDS][STUCK_MEMBERS][STUCK_MEMBERS];
        long deliveries;
        int64_t worst_ms;
        int64_t last_ping, worst_gap;
        int pings;
};

/* Take what has come: chat lines ("<guestN> S sender round") and notify
 * messages, for at most wait_ms. */
static void stuck_take(struct stuck *s, int wait_ms)
{
        struct pollfd p[STUCK_MEMBERS + 1];
        char line[512], msg[1024];

        for (int i = 0; i < STUCK_MEMBERS; i++)
                p[i] = (struct pollfd){ .fd = s->m[i].fd, .events = POLLIN };
        p[STUCK_MEMBERS] = (struct pollfd){ .fd = s->d.notify_fd, .events = POLLIN };
        if (poll(p, STUCK_MEMBERS + 1, wait_ms) <= 0)
                return;
        int64_t now = clock_now_ms();
        for (int i = 0; i < STUCK_MEMBERS; i++) {
                if (!(p[i].revents & POLLIN))
                        continue;
                while (pd_line(&s->m[i], line, sizeof(line), 0) >= 0) {
                        const char *t = strstr(line, "> S ");
                        int from, round;

                        if (!t || sscanf(t + 4, "%d %d", &from, &round) != 2 || from < 0 ||
                            from >= STUCK_MEMBERS || round < 0 || round >= STUCK_ROUNDS)
                                continue;
                        if (!s->got[round][from][i]) {
                                s->got[round][from][i] = 1;
                                s->deliveries++;
                        }
                        if (now - s->sent[round][from] > s->worst_ms)
                                s->worst_ms = now - s->sent[round][from];
                }
        }
        if (p[STUCK_MEMBERS].revents & POLLIN)
                while (pd_notify_next(&s->d, msg, sizeof(msg), 0) >= 0) {
                        if (!strstr(msg, "WATCHDOG=1"))
                                continue;
                        if (s->pings++ && now - s->last_ping > s->worst_gap)
                                s->worst_gap = now - s->last_ping;
                        s->last_ping = now;
                }
}

#define FAIL(code, ...) do { fprintf(stderr, "stuck: " __VA_ARGS__); r = (code); goto out; } while (0)

/* The end of the journal at path, for a failure's message. */
static void journal_tail(const char *path)
{
        static char all[4 << 20];
        FILE *f = path ? fopen(path, "r") : NULL;
        size_t n = f ? fread(all, 1, sizeof(all) - 1, f) : 0;

        if (f)
                fclose(f);
        all[n] = '\0';
        fprintf(stderr, "--- the journal's last entries:\n%s\n", n > 3000 ? all + n - 3000 : all);
}

/* The scenario; with journal, under the journal of journal_open(), else
 * with a plain stderr. 0, or a code with its reason on stderr. */
static int stuck_run(const char *path, bool journal)
{
        static struct stuck s;
        struct journal j;
        struct pd_opts o = { .fdnames = "echo:chat:udp", .journal_stream = journal,
                             .stderr_pipe = true, .no_wait = true, .notify = true,
                             .watchdog_usec = STUCK_WATCHDOG_USEC };
        struct pd_client v;
        char msg[1024];
        int r = journal ? journal_open(&j, path) : 0, n = 0;

        if (r)
                return r;
        if (pd_start_opts(&s.d, "[server]\nmax_clients_per_ip = 0\nidle_timeout_s = 120\n"
                                "[log]\nlevel = info\nqueue_kib = 4\n", &o) < 0 ||
            !pd_notify_wait(&s.d, "READY=1", msg, sizeof(msg), 10000))
                FAIL(20, "pichatd did not start\n");
        for (n = 0; n < STUCK_MEMBERS; n++)
                if (pd_connect(&s.m[n], s.d.chat_port, AF_INET) < 0 ||
                    !pd_expect(&s.m[n], CHAT_WELCOME, 5000))
                        FAIL(21, "member %d not welcomed\n", n);
        /* What the arrivals said, before the journal stops. */
        for (int64_t end = clock_now_ms() + 1000; clock_now_ms() < end;)
                stuck_take(&s, 20);

        if (journal)
                journal_pause(&j, true);
        pd_relay_pause(&s.d, true);
        int64_t t0 = clock_now_ms(), next_round = t0, next_visitor = t0;
        s.last_ping = t0;
        s.pings = 0;
        for (int round = 0, visitors = 0; clock_now_ms() - t0 < STUCK_MS;) {
                int64_t now = clock_now_ms();
                if (round < STUCK_ROUNDS && now >= next_round) {
                        for (int i = 0; i < STUCK_MEMBERS; i++) {
                                char line[64];
                                snprintf(line, sizeof(line), "S %d %d\n", i, round);
                                s.sent[round][i] = clock_now_ms();
                                if (pd_send(&s.m[i], line) < 0)
                                        FAIL(22, "member %d cannot send\n", i);
                        }
                        round++;
                        next_round += STUCK_ROUND_MS;
                }
                if (visitors < STUCK_VISITORS && now >= next_visitor) {
                        /* Welcomed at once, though its arrival cannot be logged. */
                        if (pd_connect(&v, s.d.chat_port, AF_INET) < 0 ||
                            !pd_expect(&v, CHAT_WELCOME, STUCK_DELIVERY_MS))
                                FAIL(23, "visitor %d not welcomed within %d ms\n", visitors,
                                     STUCK_DELIVERY_MS);
                        pd_close(&v);
                        visitors++;
                        next_visitor += STUCK_MS / STUCK_VISITORS;
                }
                stuck_take(&s, 10);
        }
        for (int64_t end = clock_now_ms() + STUCK_DELIVERY_MS; clock_now_ms() < end &&
             s.deliveries < (long)STUCK_ROUNDS * STUCK_MEMBERS * (STUCK_MEMBERS - 1);)
                stuck_take(&s, 20);

        fprintf(stderr, "stuck %s: %ld of %d deliveries, slowest %lld ms; %d watchdog pings, "
                "longest gap %lld ms\n", journal ? "journal and stderr" : "stderr",
                s.deliveries, STUCK_ROUNDS * STUCK_MEMBERS * (STUCK_MEMBERS - 1),
                (long long)s.worst_ms, s.pings, (long long)s.worst_gap);
        if (s.deliveries != (long)STUCK_ROUNDS * STUCK_MEMBERS * (STUCK_MEMBERS - 1))
                FAIL(24, "lines lost\n");
        if (s.worst_ms > STUCK_DELIVERY_MS)
                FAIL(25, "a line took %lld ms\n", (long long)s.worst_ms);
        /* Every half interval, on the supervisor's tick of 200 ms (so up
         * to 700 ms apart), and never a gap the service manager would take
         * for a hang: the whole interval. */
        if (s.pings < STUCK_MS / (STUCK_WATCHDOG_USEC / 2000 + 200) - 1 ||
            s.worst_gap >= STUCK_WATCHDOG_USEC / 1000)
                FAIL(26, "the watchdog was not kept\n");

        /* Reading again: once the queue is written out, how many were
         * dropped is said; later messages get through; a clean stop writes
         * out everything queued. */
        if (journal)
                journal_pause(&j, false);
        pd_relay_pause(&s.d, false);
        if (journal ? !journal_has(path, "messages dropped: the log queue was full", 5000) :
                      !pd_log_wait(&s.d, "messages dropped: the log queue was full", 5000))
                FAIL(28, "no count of the dropped messages\n");
        if (pd_connect(&v, s.d.echo_port, AF_INET) < 0 || !pd_expect_next(&v, WELCOME, 5000))
                FAIL(27, "no echo after the journal came back\n");
        pd_close(&v);
        if (journal ? !journal_has(path, "MESSAGE=echo: disconnected", 5000) :
                      !pd_log_wait(&s.d, "echo: disconnected", 5000))
                FAIL(29, "no message after the count\n");
        for (int i = 0; i < n; i++)
                pd_close(&s.m[i]);
        n = 0;
        /* The goodbyes of 100 members are more than a queue of 4 KiB holds
         * while an emulated reader lags: the stop begins once they are read. */
        if (journal)
                journal_quiet(path, 300, 10000);
        if (pd_stop(&s.d) != 0)
                FAIL(30, "no clean stop\n");
        if (journal && !journal_has(path, "MESSAGE=stopped\n", 1000))
                FAIL(31, "the last message was not written at the stop\n");
out:
        if (r && journal)
                journal_tail(path);
        for (int i = 0; i < n; i++)
                pd_close(&s.m[i]);
        if (s.d.pid > 0 || s.d.dir[0])
                pd_stop(&s.d);
        if (journal) {
                int rc = journal_close(&j);
                if (!r)
                        r = rc;
        }
        return r;
}

static int stuck_journal_run(const char *path)
{
        return stuck_run(path, true);
}

START_TEST(stuck_journal_and_stderr)
{
        char *all = in_namespace(stuck_journal_run, 90);

        if (!all)
                return;
        /* Said once per run of drops, and by the log module itself. */
        char e[4096];
        ck_assert(journal_entry(all, "log: ", e, sizeof(e)));
        ck_assert_int_eq(field_count(e, "PRIORITY=4"), 1);
        ck_assert_int_eq(field_count(e, "CODE_FILE=daemon/log.c"), 1);
        free(all);
}
END_TEST

START_TEST(stuck_stderr)
{
        /* No journal: a plain stderr that nobody reads. */
        ck_assert_int_eq(stuck_run(NULL, false), 0);
}
END_TEST

/* ---- a clean stop with the journal behind -------------------------------------- */

#define FLUSH_CLIENTS 40

static int flush_run(const char *path)
{
        struct journal j;
        struct pd d;
        struct pd_opts o = { .fdnames = "echo:chat:udp", .journal_stream = true,
                             .no_wait = true, .notify = true };
        struct pd_client c;
        char msg[1024];
        int r = journal_open(&j, path);

        if (r)
                return r;
        if (pd_start_opts(&d, "[server]\nmax_clients_per_ip = 0\n[log]\nlevel = info\n", &o) < 0 ||
            !pd_notify_wait(&d, "READY=1", msg, sizeof(msg), 10000)) {
                r = 40;
                goto out;
        }
        /* The journal stops reading; clients come and go, and the stop
         * begins with their lines still queued. */
        journal_pause(&j, true);
        for (int i = 0; i < FLUSH_CLIENTS && !r; i++) {
                if (pd_connect(&c, d.echo_port, AF_INET) < 0 || !pd_expect_next(&c, WELCOME, 5000))
                        r = 41;
                pd_close(&c);
        }
        usleep(200000);         /* for the disconnects to be queued */
        pd_signal(&d, SIGTERM);
        usleep(300000);
        journal_pause(&j, false);
        if (!r && pd_wait_exit(&d, 5000) != 0)
                r = 42;
out:
        pd_stop(&d);
        int rc = journal_close(&j);
        return r ? r : rc;
}

START_TEST(clean_stop_flushes_the_queue)
{
        char *all = in_namespace(flush_run, 60);
        int connected = 0, disconnected = 0;

        if (!all)
                return;
        for (const char *p = all; (p = strstr(p, "MESSAGE=echo: connected ")); p++)
                connected++;
        for (const char *p = all; (p = strstr(p, "MESSAGE=echo: disconnected ")); p++)
                disconnected++;
        ck_assert_int_eq(connected, FLUSH_CLIENTS);
        ck_assert_int_eq(disconnected, FLUSH_CLIENTS);
        ck_assert(strstr(all, "messages dropped") == NULL);
        /* The last entry is the last message. */
        const char *stopped = strstr(all, "MESSAGE=stopped\n");
        ck_assert_ptr_nonnull(stopped);
        ck_assert(strstr(stopped + 1, "MESSAGE=") == NULL);
        free(all);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("journal");
        TCase *tc = tcase_create("stream");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, journal_stream_detected);
        tcase_add_test(tc, journal_stream_of_another_file);
        suite_add_tcase(s, tc);

        tc = tcase_create("native");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, journal_fields_end_to_end);
        tcase_add_test(tc, clean_stop_flushes_the_queue);
        suite_add_tcase(s, tc);

        tc = tcase_create("stuck");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, stuck_journal_and_stderr);
        tcase_add_test(tc, stuck_stderr);
        suite_add_tcase(s, tc);
        return s;
}
