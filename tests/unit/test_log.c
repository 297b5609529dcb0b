/* Unit tests: log's journal detection (JOURNAL_STREAM), the fields a
 * message gets in the journal, and the queue between the threads that log
 * and the one that writes: order, the flush at stop, and a destination
 * that does not read (counted, never waited for). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "clock.h"
#include "log.h"
#include "suite.h"

static char tmp_path[64];
static int tmp_fd = -1;

static void tmp_setup(void)
{
        snprintf(tmp_path, sizeof(tmp_path), "/tmp/pichat-log.XXXXXX");
        tmp_fd = mkstemp(tmp_path);
        ck_assert_int_ge(tmp_fd, 0);
}

static void tmp_teardown(void)
{
        close(tmp_fd);
        unlink(tmp_path);
}

static void dev_ino(int fd, char *buf, size_t size)
{
        struct stat st;

        ck_assert_int_eq(fstat(fd, &st), 0);
        snprintf(buf, size, "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
}

START_TEST(stream_matches_its_file)
{
        char js[64];

        dev_ino(tmp_fd, js, sizeof(js));
        ck_assert(log_stream_is_journal(js, tmp_fd));
}
END_TEST

START_TEST(stream_of_another_file)
{
        char js[64];
        int other = open("/dev/null", O_WRONLY);

        ck_assert_int_ge(other, 0);
        dev_ino(other, js, sizeof(js));
        ck_assert(!log_stream_is_journal(js, tmp_fd));
        close(other);
}
END_TEST

START_TEST(stream_malformed)
{
        /* Each made from the file's own numbers, so only the form is wrong. */
        static const struct {
                const char *before, *between, *after;
        } forms[] = {
                { " ", ":", "" }, { "", ":", " " }, { "+", ":", "" }, { "", ":+", "" },
                { "", ";", "" }, { "", ":", ":0" }, { "", ":", "x" }, { "", ": ", "" },
                { "", " :", "" }, { "-", ":", "" }, { "", "::", "" },
        };
        struct stat st;
        char js[96];

        ck_assert_int_eq(fstat(tmp_fd, &st), 0);
        unsigned long long dev = st.st_dev, ino = st.st_ino;
        for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
                snprintf(js, sizeof(js), "%s%llu%s%llu%s", forms[i].before, dev,
                         forms[i].between, ino, forms[i].after);
                ck_assert_msg(!log_stream_is_journal(js, tmp_fd), "'%s'", js);
        }
        static const char *const bad[] = { "", "12", "12:", ":12", "a:b", "-", ":",
                                           "99999999999999999999999:1" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ck_assert_msg(!log_stream_is_journal(bad[i], tmp_fd), "'%s'", bad[i]);
        ck_assert(!log_stream_is_journal(NULL, tmp_fd));
        /* Right numbers, but a closed fd. */
        snprintf(js, sizeof(js), "%llu:%llu", dev, ino);
        ck_assert(log_stream_is_journal(js, tmp_fd));
        ck_assert(!log_stream_is_journal(js, 999));
}
END_TEST

/* Field i of f as a string. */
static const char *field(const struct log_fields *f, size_t i)
{
        static char buf[1200];

        ck_assert_uint_lt(i, f->n);
        snprintf(buf, sizeof(buf), "%.*s", (int)f->iov[i].iov_len,
                 (const char *)f->iov[i].iov_base);
        return buf;
}

START_TEST(fields_without_context)
{
        struct log_entry e = { .prio = LOG_NOTICE, .text = "pichatd started" };
        struct log_fields f;

        log_journal_fields(&f, &e);
        ck_assert_uint_eq(f.n, 4);
        ck_assert_str_eq(field(&f, 0), "MESSAGE=pichatd started");
        ck_assert_str_eq(field(&f, 1), "PRIORITY=5");
        ck_assert_str_eq(field(&f, 2), "SYSLOG_FACILITY=3");
        ck_assert_str_eq(field(&f, 3), "SYSLOG_IDENTIFIER=pichatd");
}
END_TEST

START_TEST(fields_with_full_context)
{
        struct log_entry e = { .prio = LOG_INFO, .file = "daemon/chat.c", .line = 212,
                               .func = "chat_open", .text = "chat: bob joined",
                               .ctx = { .service = "chat", .peer = "[::1]:5000",
                                        .nick = "bob", .room = "lobby" } };
        struct log_fields f;

        log_journal_fields(&f, &e);
        ck_assert_uint_eq(f.n, 11);
        ck_assert_str_eq(field(&f, 0), "MESSAGE=chat: bob joined");
        ck_assert_str_eq(field(&f, 1), "PRIORITY=6");
        ck_assert_str_eq(field(&f, 4), "CODE_FILE=daemon/chat.c");
        ck_assert_str_eq(field(&f, 5), "CODE_LINE=212");
        ck_assert_str_eq(field(&f, 6), "CODE_FUNC=chat_open");
        ck_assert_str_eq(field(&f, 7), "PICHAT_SERVICE=chat");
        ck_assert_str_eq(field(&f, 8), "PICHAT_PEER=[::1]:5000");
        ck_assert_str_eq(field(&f, 9), "PICHAT_NICK=bob");
        ck_assert_str_eq(field(&f, 10), "PICHAT_ROOM=lobby");
}
END_TEST

START_TEST(fields_partial_context)
{
        struct log_entry e = { .prio = LOG_ERR, .text = "echo: connected",
                               .ctx = { .service = "echo", .peer = "127.0.0.1:4242" } };
        struct log_fields f;

        log_journal_fields(&f, &e);
        ck_assert_uint_eq(f.n, 6);
        ck_assert_str_eq(field(&f, 1), "PRIORITY=3");
        ck_assert_str_eq(field(&f, 4), "PICHAT_SERVICE=echo");
        ck_assert_str_eq(field(&f, 5), "PICHAT_PEER=127.0.0.1:4242");
}
END_TEST

START_TEST(fields_cut_to_size)
{
        char nick[300];
        struct log_entry e = { .prio = LOG_DEBUG, .text = "x", .ctx = { .nick = nick } };
        struct log_fields f;

        memset(nick, 'n', sizeof(nick) - 1);
        nick[sizeof(nick) - 1] = '\0';
        log_journal_fields(&f, &e);
        ck_assert_uint_eq(f.n, 5);
        ck_assert_uint_eq(f.iov[4].iov_len, LOG_FIELD_SIZE - 1);
        ck_assert(strncmp(field(&f, 4), "PICHAT_NICK=nnn", 15) == 0);
        ck_assert_str_eq(field(&f, 1), "PRIORITY=7");
}
END_TEST

/* ---- the queue and its thread ---------------------------------------------- */

/* stderr made the write end of a pipe; the read end, non-blocking. */
static int stderr_to_pipe(int *saved)
{
        int p[2];

        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        *saved = dup(STDERR_FILENO);
        dup2(p[1], STDERR_FILENO);
        close(p[1]);
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        return p[0];
}

/* Fill the pipe that stderr is until not one more byte fits: the log
 * thread's first write waits. */
static void stderr_fill(void)
{
        char fill[4096];

        memset(fill, '#', sizeof(fill));
        fcntl(STDERR_FILENO, F_SETFL, O_NONBLOCK);
        while (write(STDERR_FILENO, fill, sizeof(fill)) > 0)
                ;
        while (write(STDERR_FILENO, fill, 1) > 0)
                ;
        fcntl(STDERR_FILENO, F_SETFL, 0);
}

static void stderr_back(int saved)
{
        dup2(saved, STDERR_FILENO);
        close(saved);
}

/* Read the pipe into buf (appending at *len) until it holds want or
 * timeout_ms pass. */
static bool read_until(int fd, char *buf, size_t size, size_t *len, const char *want,
                       int timeout_ms)
{
        int64_t end = clock_now_ms() + timeout_ms;

        for (;;) {
                ssize_t n = read(fd, buf + *len, size - 1 - *len);
                if (n > 0)
                        *len += (size_t)n;
                buf[*len] = '\0';
                if (strstr(buf, want))
                        return true;
                if (clock_now_ms() > end || *len == size - 1)
                        return false;
                if (n <= 0)
                        usleep(2000);
        }
}

static int count_of(const char *all, const char *needle)
{
        int n = 0;

        for (const char *p = all; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

START_TEST(queue_writes_in_order_and_flushes_at_stop)
{
        static char all[65536];
        size_t len = 0;
        int saved, rd = stderr_to_pipe(&saved);

        log_set_level(LOG_INFO);
        ck_assert_int_eq(log_start(64 * 1024), 0);
        ck_assert_int_eq(log_start(64 * 1024), -EALREADY);
        for (int i = 0; i < 200; i++)
                log_msg(LOG_INFO, "line %03d", i);
        /* Written by the log thread meanwhile, or at the latest by the stop. */
        ck_assert_uint_eq(log_stop(2000), 0);
        log_msg(LOG_NOTICE, "after the stop");
        ck_assert(read_until(rd, all, sizeof(all), &len, "after the stop\n", 2000));
        stderr_back(saved);
        close(rd);

        const char *p = all;
        for (int i = 0; i < 200; i++) {
                char want[32];
                snprintf(want, sizeof(want), "info: line %03d\n", i);
                ck_assert_msg(strncmp(p, want, strlen(want)) == 0, "line %d: %.40s", i, p);
                p += strlen(want);
        }
        ck_assert_str_eq(p, "notice: after the stop\n");
        ck_assert_uint_eq(log_dropped_total(), 0);
}
END_TEST

START_TEST(queue_full_counts_then_says_how_many)
{
        static char all[1 << 20];
        size_t len = 0;
        int saved, rd = stderr_to_pipe(&saved);

        /* A stderr nobody reads: the pipe full before the first message. */
        stderr_fill();

        log_set_level(LOG_INFO);
        ck_assert_int_eq(log_start(PICHAT_LOG_QUEUE_KIB_MIN * 1024), 0);
        int64_t t0 = clock_now_ms();
        for (int i = 0; i < 1000; i++)
                log_msg(LOG_INFO, "stuck %04d", i);
        /* None of them waited for the pipe. */
        ck_assert_int_lt(clock_now_ms() - t0, 1000);
        unsigned long dropped = log_dropped_total();
        ck_assert_uint_gt(dropped, 900);

        /* The reader is back: what was queued comes; the next message to
         * get in is preceded by the count. */
        ck_assert(read_until(rd, all, sizeof(all), &len, "info: stuck 0000\n", 5000));
        log_msg(LOG_INFO, "unstuck");
        ck_assert(read_until(rd, all, sizeof(all), &len, "info: unstuck\n", 5000));
        ck_assert_uint_eq(log_stop(2000), 0);
        stderr_back(saved);
        close(rd);

        /* One count per run of drops (a run ends when the log thread took
         * a message out and made room for one more): together, every one. */
        unsigned long said = 0;
        int notes = 0;
        for (const char *p = all; (p = strstr(p, "warning: log: ")); p++) {
                unsigned long k;
                ck_assert_int_eq(sscanf(p, "warning: log: %lu messages dropped: the log queue "
                                        "was full ([log] queue_kib)\n", &k), 1);
                said += k;
                notes++;
        }
        ck_assert_int_ge(notes, 1);
        ck_assert_uint_eq(said, dropped);
        /* All said before the message logged after them. */
        const char *last = all, *p;
        while ((p = strstr(last + 1, "warning: log: ")))
                last = p;
        const char *unstuck = strstr(all, "info: unstuck\n");
        ck_assert(unstuck && last < unstuck);
        /* Every message is either written or counted, none twice. */
        ck_assert_int_eq(count_of(all, "info: stuck "), 1000 - (int)dropped);
        ck_assert_int_eq(count_of(all, "info: stuck 0000\n"), 1);
}
END_TEST

START_TEST(queue_flush_waits_for_what_is_queued)
{
        static char all[1 << 20];
        size_t len = 0;
        int saved, rd = stderr_to_pipe(&saved);

        ck_assert_int_eq(log_start(64 * 1024), 0);
        for (int i = 0; i < 50; i++)
                log_msg(LOG_WARNING, "flushed %02d", i);
        ck_assert(log_flush(2000));
        /* Written, all of them, before log_flush() returned. */
        ssize_t n = read(rd, all, sizeof(all) - 1);
        ck_assert_int_gt(n, 0);
        all[n] = '\0';
        ck_assert_int_eq(count_of(all, "warning: flushed "), 50);
        ck_assert(strstr(all, "warning: flushed 49\n") != NULL);
        len = 0;

        /* A stderr that does not read: it gives up in time. */
        stderr_fill();
        log_msg(LOG_WARNING, "never read");
        int64_t t0 = clock_now_ms();
        ck_assert(!log_flush(200));
        ck_assert_int_lt(clock_now_ms() - t0, 1500);
        ck_assert_int_ge(clock_now_ms() - t0, 150);
        ck_assert(read_until(rd, all, sizeof(all), &len, "warning: never read\n", 5000));
        ck_assert_uint_eq(log_stop(2000), 0);
        stderr_back(saved);
        close(rd);
}
END_TEST

START_TEST(queue_drops_reported_at_stop)
{
        /* Drops with no message after them are still said, at the stop. */
        static char all[1 << 20];
        size_t len = 0;
        int saved, rd = stderr_to_pipe(&saved);

        stderr_fill();
        ck_assert_int_eq(log_start(PICHAT_LOG_QUEUE_KIB_MIN * 1024), 0);
        for (int i = 0; i < 500; i++)
                log_msg(LOG_WARNING, "stuck %d", i);
        unsigned long dropped = log_dropped_total();
        ck_assert_uint_gt(dropped, 0);
        /* A stop with the pipe still full gives up in time... */
        int64_t t0 = clock_now_ms();
        ck_assert_uint_gt(log_stop(300), 0);
        ck_assert_int_lt(clock_now_ms() - t0, 2000);
        /* ... and messages after it are still queued, not waited for. */
        t0 = clock_now_ms();
        for (int i = 0; i < 100; i++)
                log_msg(LOG_WARNING, "late %d", i);
        ck_assert_int_lt(clock_now_ms() - t0, 1000);
        ck_assert(read_until(rd, all, sizeof(all), &len, "messages dropped", 5000));
        stderr_back(saved);
        close(rd);
}
END_TEST

/* Last: it switches the module to the journal for good. */
START_TEST(journal_stream_fallback_keeps_priority)
{
        /* stderr is a file that JOURNAL_STREAM names. Without journald here
         * lines go to it with a <N> prefix; with journald, to the journal. */
        char js[64], buf[256];
        int saved = dup(STDERR_FILENO);

        dup2(tmp_fd, STDERR_FILENO);
        dev_ino(STDERR_FILENO, js, sizeof(js));
        setenv("JOURNAL_STREAM", js, 1);
        log_set_level(LOG_INFO);
        bool journal = log_to_journal_if_stream();
        struct log_ctx ctx = { .service = "echo", .peer = "127.0.0.1:1" };
        log_ctx(LOG_WARNING, &ctx, "careful %d", 42);
        log_msg(LOG_DEBUG, "filtered out");
        dup2(saved, STDERR_FILENO);
        close(saved);
        unsetenv("JOURNAL_STREAM");

        ck_assert(journal);
        ssize_t n = pread(tmp_fd, buf, sizeof(buf) - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        if (access("/run/systemd/journal/socket", W_OK) == 0)
                ck_assert_str_eq(buf, "");
        else
                ck_assert_str_eq(buf, "<4>echo: careful 42\n");
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("log");
        TCase *tc = tcase_create("journal");

        tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, stream_matches_its_file);
        tcase_add_test(tc, stream_of_another_file);
        tcase_add_test(tc, stream_malformed);
        tcase_add_test(tc, fields_without_context);
        tcase_add_test(tc, fields_with_full_context);
        tcase_add_test(tc, fields_partial_context);
        tcase_add_test(tc, fields_cut_to_size);
        tcase_add_test(tc, journal_stream_fallback_keeps_priority);
        suite_add_tcase(s, tc);

        tc = tcase_create("queue");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, queue_writes_in_order_and_flushes_at_stop);
        tcase_add_test(tc, queue_full_counts_then_says_how_many);
        tcase_add_test(tc, queue_flush_waits_for_what_is_queued);
        tcase_add_test(tc, queue_drops_reported_at_stop);
        suite_add_tcase(s, tc);
        return s;
}
