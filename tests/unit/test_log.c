/* Unit tests: log's journal detection (JOURNAL_STREAM) and the fields a
 * message gets in the journal. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
        static const char msg[] = "MESSAGE=pichatd started";
        struct log_fields f;

        log_journal_fields(&f, LOG_NOTICE, NULL, msg, sizeof(msg) - 1);
        ck_assert_uint_eq(f.n, 4);
        ck_assert_str_eq(field(&f, 0), "MESSAGE=pichatd started");
        ck_assert_str_eq(field(&f, 1), "PRIORITY=5");
        ck_assert_str_eq(field(&f, 2), "SYSLOG_FACILITY=3");
        ck_assert_str_eq(field(&f, 3), "SYSLOG_IDENTIFIER=pichatd");
}
END_TEST

START_TEST(fields_with_full_context)
{
        static const char msg[] = "MESSAGE=chat: bob joined";
        struct log_ctx ctx = { .service = "chat", .peer = "[::1]:5000", .nick = "bob",
                               .room = "lobby" };
        struct log_fields f;

        log_journal_fields(&f, LOG_INFO, &ctx, msg, sizeof(msg) - 1);
        ck_assert_uint_eq(f.n, 8);
        ck_assert_str_eq(field(&f, 1), "PRIORITY=6");
        ck_assert_str_eq(field(&f, 4), "PICHAT_SERVICE=chat");
        ck_assert_str_eq(field(&f, 5), "PICHAT_PEER=[::1]:5000");
        ck_assert_str_eq(field(&f, 6), "PICHAT_NICK=bob");
        ck_assert_str_eq(field(&f, 7), "PICHAT_ROOM=lobby");
}
END_TEST

START_TEST(fields_partial_context)
{
        static const char msg[] = "MESSAGE=echo: connected";
        struct log_ctx ctx = { .service = "echo", .peer = "127.0.0.1:4242" };
        struct log_fields f;

        log_journal_fields(&f, LOG_ERR, &ctx, msg, sizeof(msg) - 1);
        ck_assert_uint_eq(f.n, 6);
        ck_assert_str_eq(field(&f, 1), "PRIORITY=3");
        ck_assert_str_eq(field(&f, 4), "PICHAT_SERVICE=echo");
        ck_assert_str_eq(field(&f, 5), "PICHAT_PEER=127.0.0.1:4242");
}
END_TEST

START_TEST(fields_cut_to_size)
{
        char nick[300];
        struct log_ctx ctx = { .nick = nick };
        struct log_fields f;

        memset(nick, 'n', sizeof(nick) - 1);
        nick[sizeof(nick) - 1] = '\0';
        log_journal_fields(&f, LOG_DEBUG, &ctx, "MESSAGE=x", 9);
        ck_assert_uint_eq(f.n, 5);
        ck_assert_uint_eq(f.iov[4].iov_len, LOG_FIELD_SIZE - 1);
        ck_assert(strncmp(field(&f, 4), "PICHAT_NICK=nnn", 15) == 0);
        ck_assert_str_eq(field(&f, 1), "PRIORITY=7");
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
        return s;
}
