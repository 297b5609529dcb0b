/* Unit: the client's command line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cliargs.h"
#include "suite.h"

static struct args a;
static char err[256];

/* Parse "pichat" plus the given words (NULL-terminated). getopt may
 * reorder argv, so it gets a copy of its own. */
static int parse(const char *first, ...)
{
        static char words[16][128];
        static char *argv[17];
        int argc = 0;
        va_list ap;

        argv[argc++] = strcpy(words[0], "pichat");
        va_start(ap, first);
        for (const char *w = first; w && argc < 16; w = va_arg(ap, const char *)) {
                snprintf(words[argc], sizeof(words[argc]), "%s", w);
                argv[argc] = words[argc];
                argc++;
        }
        va_end(ap);
        argv[argc] = NULL;
        return args_parse(argc, argv, &a, err, sizeof(err));
}

START_TEST(defaults)
{
        ck_assert_int_eq(parse("localhost", NULL), ARGS_RUN);
        ck_assert_str_eq(a.host, "localhost");
        ck_assert_str_eq(a.port, "5000");
        ck_assert(!a.udp);
        ck_assert_int_eq(a.family, AF_UNSPEC);
        ck_assert_ptr_null(a.nick);
        ck_assert_uint_eq(a.timeout_s, 10);

        ck_assert_int_eq(parse("-u", "::1", NULL), ARGS_RUN);
        ck_assert(a.udp);
        ck_assert_str_eq(a.port, "8888");
        ck_assert_str_eq(a.host, "::1");
}
END_TEST

START_TEST(all_options)
{
        ck_assert_int_eq(parse("-6", "-n", "alice", "-t", "3", "pi.local", "6000", NULL), ARGS_RUN);
        ck_assert_int_eq(a.family, AF_INET6);
        ck_assert_str_eq(a.nick, "alice");
        ck_assert_uint_eq(a.timeout_s, 3);
        ck_assert_str_eq(a.host, "pi.local");
        ck_assert_str_eq(a.port, "6000");

        ck_assert_int_eq(parse("--ipv4", "--nick=bob", "--timeout", "3600", "h", "65535", NULL),
                         ARGS_RUN);
        ck_assert_int_eq(a.family, AF_INET);
        ck_assert_str_eq(a.nick, "bob");
        ck_assert_uint_eq(a.timeout_s, 3600);
        ck_assert_str_eq(a.port, "65535");

        /* options may follow the operands */
        ck_assert_int_eq(parse("h", "1", "--udp", "-t1", NULL), ARGS_RUN);
        ck_assert(a.udp);
        ck_assert_str_eq(a.port, "1");
        ck_assert_uint_eq(a.timeout_s, 1);
        /* repeating the same family is harmless */
        ck_assert_int_eq(parse("-4", "-4", "h", NULL), ARGS_RUN);
}
END_TEST

static void usage_error(int r, const char *needle)
{
        ck_assert_int_eq(r, ARGS_USAGE);
        if (!strstr(err, needle))
                ck_abort_msg("error '%s' does not mention '%s'", err, needle);
}

START_TEST(tls_options)
{
        ck_assert_int_eq(parse("localhost", NULL), ARGS_RUN);
        ck_assert(!a.tls && !a.insecure);
        ck_assert_ptr_null(a.cafile);
        /* --tls has its own default port, the documented tls_port. */
        ck_assert_int_eq(parse("--tls", "pi.local", NULL), ARGS_RUN);
        ck_assert(a.tls && !a.insecure);
        ck_assert_ptr_null(a.cafile);
        ck_assert_str_eq(a.port, "5001");
        ck_assert_int_eq(parse("-s", "--cafile", "/etc/ca.pem", "pi.local", "6001", NULL), ARGS_RUN);
        ck_assert(a.tls);
        ck_assert_str_eq(a.cafile, "/etc/ca.pem");
        ck_assert_str_eq(a.port, "6001");
        ck_assert_int_eq(parse("pi.local", "--insecure", "--tls", "-n", "ann", NULL), ARGS_RUN);
        ck_assert(a.tls && a.insecure);
        ck_assert_str_eq(a.nick, "ann");

        usage_error(parse("--cafile", "ca.pem", "h", NULL), "--cafile needs --tls");
        usage_error(parse("--insecure", "h", NULL), "--insecure needs --tls");
        usage_error(parse("--tls", "--insecure", "--cafile", "x", "h", NULL), "exclude");
        usage_error(parse("--tls", "-u", "h", NULL), "--tls has no meaning with -u");
        usage_error(parse("--tls", "--cafile=", "h", NULL), "--cafile needs a file name");
        usage_error(parse("--tls", "h", "--cafile", NULL), "--cafile needs an argument");
}
END_TEST

START_TEST(help_and_version)
{
        ck_assert_int_eq(parse("--help", NULL), ARGS_HELP);
        ck_assert_int_eq(parse("-h", "host", NULL), ARGS_HELP);
        ck_assert_int_eq(parse("--version", NULL), ARGS_VERSION);
        ck_assert_int_eq(parse("-V", NULL), ARGS_VERSION);
}
END_TEST

START_TEST(usage_errors)
{
        usage_error(parse(NULL), "no HOST");
        usage_error(parse("", NULL), "empty HOST");
        usage_error(parse("h", "5000", "extra", NULL), "too many");
        usage_error(parse("-x", "h", NULL), "unknown option -x");
        usage_error(parse("--bogus", "h", NULL), "unknown option --bogus");
        usage_error(parse("h", "-n", NULL), "-n needs an argument");
        usage_error(parse("h", "--nick", NULL), "--nick needs an argument");
        usage_error(parse("-4", "-6", "h", NULL), "exclude");
        usage_error(parse("-u", "-n", "bob", "h", NULL), "-n");
}
END_TEST

/* -l [ADDRESS] PORT, and the UDP chat. */
START_TEST(peer_modes)
{
        ck_assert_int_eq(parse("-l", "4000", NULL), ARGS_RUN);
        ck_assert(a.listen && !a.udp && !a.chat);
        ck_assert_ptr_null(a.host);
        ck_assert_str_eq(a.port, "4000");
        ck_assert_int_eq(parse("--listen", "-n", "alice", "192.0.2.1", "31621", NULL), ARGS_RUN);
        ck_assert(a.listen);
        ck_assert_str_eq(a.host, "192.0.2.1");
        ck_assert_str_eq(a.port, "31621");
        ck_assert_str_eq(a.nick, "alice");
        /* Listening over UDP is the chat. */
        ck_assert_int_eq(parse("-u", "-l", "::", "4000", NULL), ARGS_RUN);
        ck_assert(a.listen && a.udp && a.chat);
        ck_assert_str_eq(a.host, "::");
        ck_assert_int_eq(parse("-ul", "4000", "--chat", NULL), ARGS_RUN);
        ck_assert(a.chat);
        /* The chat's other end. */
        ck_assert_int_eq(parse("-u", "pi.local", "4000", "--chat", NULL), ARGS_RUN);
        ck_assert(a.udp && a.chat && !a.listen);
        ck_assert_str_eq(a.host, "pi.local");
        ck_assert_int_eq(parse("-u", "pi.local", NULL), ARGS_RUN);
        ck_assert(!a.chat);

        usage_error(parse("-l", NULL), "-l needs a PORT");
        usage_error(parse("-l", "a", "4000", "b", NULL), "too many");
        usage_error(parse("-l", "", "4000", NULL), "empty ADDRESS");
        ck_assert_int_eq(parse("-l", "0", NULL), ARGS_RUN);      /* any free port */
        ck_assert_str_eq(a.port, "0");
        usage_error(parse("-l", "65536", NULL), "invalid port '65536' (0-65535)");
        usage_error(parse("h", "0", NULL), "invalid port '0' (1-65535)");
        usage_error(parse("-l", "::1", "http", NULL), "invalid port");
        usage_error(parse("--chat", "h", "4000", NULL), "--chat is for UDP");
        usage_error(parse("-l", "--chat", "4000", NULL), "--chat is for UDP");
        usage_error(parse("-u", "-l", "-n", "bob", "4000", NULL), "-n has no meaning with -u");
}
END_TEST

START_TEST(bad_values)
{
        static const char *const ports[] = { "0", "65536", "99999999999", "+80", "80x",
                                             "http", " 80", "" };
        static const char *const timeouts[] = { "0", "3601", "-5", "1.5", "abc", "" };
        static const char *const nicks[] = { "", "two words", "tab\there", "new\nline" };
        char longest[PICHAT_NICK_MAX + 2];

        for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
                usage_error(parse("h", ports[i], NULL), "invalid port");
        for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++)
                usage_error(parse("-t", timeouts[i], "h", NULL), "invalid timeout");
        for (size_t i = 0; i < sizeof(nicks) / sizeof(nicks[0]); i++)
                usage_error(parse("-n", nicks[i], "h", NULL), "invalid nick");
        memset(longest, 'x', PICHAT_NICK_MAX);
        longest[PICHAT_NICK_MAX] = '\0';
        ck_assert_int_eq(parse("-n", longest, "h", NULL), ARGS_RUN);
        strcat(longest, "x");
        usage_error(parse("-n", longest, "h", NULL), "invalid nick");
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("client_args");
        TCase *tc = tcase_create("args");

        tcase_add_test(tc, defaults);
        tcase_add_test(tc, all_options);
        tcase_add_test(tc, tls_options);
        tcase_add_test(tc, help_and_version);
        tcase_add_test(tc, usage_errors);
        tcase_add_test(tc, peer_modes);
        tcase_add_test(tc, bad_values);
        suite_add_tcase(s, tc);
        return s;
}
