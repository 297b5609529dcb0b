/* Unit: the chat command parser and the /help table. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "suite.h"

static char buf[256];
static struct cmd c;

/* Parse a copy of s (the parser writes into its line). */
static enum cmd_type parse(const char *s)
{
        ck_assert_uint_lt(strlen(s), sizeof(buf));
        strcpy(buf, s);
        memset(&c, 0x55, sizeof(c));    /* every field must be set */
        return cmd_parse(buf, &c);
}

/* The arguments point into the line, not to copies. */
static void assert_in_buf(const char *p)
{
        ck_assert_ptr_nonnull(p);
        ck_assert(p >= buf && p < buf + sizeof(buf));
}

static void assert_bad(const char *line, const char *error)
{
        ck_assert_int_eq(parse(line), CMD_BAD);
        ck_assert_int_eq(c.type, CMD_BAD);
        ck_assert_str_eq(c.error, error);
}

START_TEST(none)
{
        ck_assert_int_eq(parse(""), CMD_NONE);
        ck_assert_int_eq(c.type, CMD_NONE);
        ck_assert_ptr_null(c.text);
        ck_assert_ptr_null(c.word);
        ck_assert_int_eq(parse(" "), CMD_NONE);
        ck_assert_int_eq(parse(" \t  \t"), CMD_NONE);
}
END_TEST

START_TEST(say)
{
        ck_assert_int_eq(parse("hello world"), CMD_SAY);
        ck_assert_str_eq(c.text, "hello world");
        assert_in_buf(c.text);
        ck_assert_ptr_null(c.word);
        ck_assert_ptr_null(c.name);
        ck_assert_ptr_null(c.error);

        /* inner and leading spacing is the speaker's; trailing is dropped */
        ck_assert_int_eq(parse("  two  spaces \t "), CMD_SAY);
        ck_assert_str_eq(c.text, "  two  spaces");
        /* a '/' not at the start does not make a command */
        ck_assert_int_eq(parse(" /nick bob"), CMD_SAY);
        ck_assert_str_eq(c.text, " /nick bob");
        ck_assert_int_eq(parse("a/b"), CMD_SAY);
        ck_assert_str_eq(c.text, "a/b");
}
END_TEST

START_TEST(say_double_slash)
{
        ck_assert_int_eq(parse("//nick is a command"), CMD_SAY);
        ck_assert_str_eq(c.text, "/nick is a command");
        assert_in_buf(c.text);
        ck_assert_int_eq(parse("//"), CMD_SAY);
        ck_assert_str_eq(c.text, "/");
        ck_assert_int_eq(parse("///"), CMD_SAY);
        ck_assert_str_eq(c.text, "//");
        ck_assert_int_eq(parse("// x "), CMD_SAY);
        ck_assert_str_eq(c.text, "/ x");
}
END_TEST

START_TEST(nick)
{
        ck_assert_int_eq(parse("/nick bob"), CMD_NICK);
        ck_assert_str_eq(c.name, "bob");
        assert_in_buf(c.name);
        ck_assert_str_eq(c.word, "nick");
        ck_assert_ptr_null(c.key);
        ck_assert_ptr_null(c.text);
        ck_assert_ptr_null(c.error);
        ck_assert_int_eq(parse("/nick \t bob \t"), CMD_NICK);
        ck_assert_str_eq(c.name, "bob");
        /* the parser does not judge the nick itself */
        ck_assert_int_eq(parse("/nick b\xc3\xb6!"), CMD_NICK);
        ck_assert_str_eq(c.name, "b\xc3\xb6!");
}
END_TEST

START_TEST(nick_bad)
{
        assert_bad("/nick", "usage: /nick NAME");
        assert_bad("/nick   ", "usage: /nick NAME");
        assert_bad("/nick bob smith", "/nick: a nick is a single word (usage: /nick NAME)");
}
END_TEST

START_TEST(join)
{
        ck_assert_int_eq(parse("/join #lobby"), CMD_JOIN);
        ck_assert_str_eq(c.name, "#lobby");
        ck_assert_ptr_null(c.key);
        ck_assert_int_eq(parse("/join secret s3cr3t"), CMD_JOIN);
        ck_assert_str_eq(c.name, "secret");
        ck_assert_str_eq(c.key, "s3cr3t");
        assert_in_buf(c.name);
        assert_in_buf(c.key);
        ck_assert_int_eq(parse("/join\troom\t\tkey  "), CMD_JOIN);
        ck_assert_str_eq(c.name, "room");
        ck_assert_str_eq(c.key, "key");
}
END_TEST

START_TEST(join_bad)
{
        assert_bad("/join", "usage: /join ROOM [KEY]");
        assert_bad("/join room key more",
                   "/join: too many arguments (usage: /join ROOM [KEY])");
}
END_TEST

START_TEST(no_arg_commands)
{
        ck_assert_int_eq(parse("/leave"), CMD_LEAVE);
        ck_assert_int_eq(parse("/rooms"), CMD_ROOMS);
        ck_assert_int_eq(parse("/who"), CMD_WHO);
        ck_assert_int_eq(parse("/help"), CMD_HELP);
        ck_assert_int_eq(parse("/help  "), CMD_HELP);
        ck_assert_ptr_null(c.name);
        ck_assert_ptr_null(c.text);
}
END_TEST

START_TEST(no_arg_commands_bad)
{
        assert_bad("/leave now", "/leave takes no arguments");
        assert_bad("/rooms all", "/rooms takes no arguments");
        assert_bad("/who lobby", "/who takes no arguments");
        assert_bad("/help join", "/help takes no arguments");
}
END_TEST

START_TEST(msg_text)
{
        ck_assert_int_eq(parse("/msg alice hi  there, you "), CMD_MSG);
        ck_assert_str_eq(c.name, "alice");
        ck_assert_str_eq(c.text, "hi  there, you");
        assert_in_buf(c.name);
        assert_in_buf(c.text);
        ck_assert_int_eq(parse("/msg alice /not a command"), CMD_MSG);
        ck_assert_str_eq(c.text, "/not a command");
}
END_TEST

START_TEST(msg_bad)
{
        assert_bad("/msg", "/msg needs a nick and a text (usage: /msg NICK TEXT)");
        assert_bad("/msg  ", "/msg needs a nick and a text (usage: /msg NICK TEXT)");
        assert_bad("/msg alice", "/msg needs a text after the nick (usage: /msg NICK TEXT)");
        assert_bad("/msg alice \t ", "/msg needs a text after the nick (usage: /msg NICK TEXT)");
}
END_TEST

START_TEST(me)
{
        ck_assert_int_eq(parse("/me waves  at everyone"), CMD_ME);
        ck_assert_str_eq(c.text, "waves  at everyone");
        assert_in_buf(c.text);
        assert_bad("/me", "/me needs an action (usage: /me ACTION)");
        assert_bad("/me   ", "/me needs an action (usage: /me ACTION)");
}
END_TEST

START_TEST(topic)
{
        ck_assert_int_eq(parse("/topic"), CMD_TOPIC);
        ck_assert_ptr_null(c.text);
        ck_assert_int_eq(parse("/topic  "), CMD_TOPIC);
        ck_assert_ptr_null(c.text);
        ck_assert_int_eq(parse("/topic Friday: release day "), CMD_TOPIC);
        ck_assert_str_eq(c.text, "Friday: release day");
        assert_in_buf(c.text);
}
END_TEST

START_TEST(quit)
{
        ck_assert_int_eq(parse("/quit"), CMD_QUIT);
        ck_assert_ptr_null(c.text);
        ck_assert_int_eq(parse("/quit see you  later"), CMD_QUIT);
        ck_assert_str_eq(c.text, "see you  later");
}
END_TEST

START_TEST(pass)
{
        ck_assert_int_eq(parse("/pass hunter2"), CMD_PASS);
        ck_assert_str_eq(c.text, "hunter2");
        ck_assert_int_eq(parse("/pass correct horse battery"), CMD_PASS);
        ck_assert_str_eq(c.text, "correct horse battery");
        assert_bad("/pass", "usage: /pass SECRET");
}
END_TEST

START_TEST(case_insensitive)
{
        ck_assert_int_eq(parse("/NICK Bob"), CMD_NICK);
        ck_assert_str_eq(c.name, "Bob");        /* arguments keep their case */
        ck_assert_str_eq(c.word, "NICK");
        ck_assert_int_eq(parse("/Join Lobby"), CMD_JOIN);
        ck_assert_int_eq(parse("/lEaVe"), CMD_LEAVE);
        ck_assert_int_eq(parse("/ROOMS"), CMD_ROOMS);
        ck_assert_int_eq(parse("/WHO"), CMD_WHO);
        ck_assert_int_eq(parse("/Msg a b"), CMD_MSG);
        ck_assert_int_eq(parse("/ME x"), CMD_ME);
        ck_assert_int_eq(parse("/TOPIC"), CMD_TOPIC);
        ck_assert_int_eq(parse("/Quit"), CMD_QUIT);
        ck_assert_int_eq(parse("/HELP"), CMD_HELP);
        ck_assert_int_eq(parse("/PASS x"), CMD_PASS);
        assert_bad("/NICK", "usage: /nick NAME");
}
END_TEST

START_TEST(unknown)
{
        char msg[128];

        ck_assert_int_eq(parse("/frobnicate the thing"), CMD_UNKNOWN);
        ck_assert_str_eq(c.word, "frobnicate");
        assert_in_buf(c.word);
        snprintf(msg, sizeof(msg), "unknown command /%s (try /help)", c.word);
        ck_assert_str_eq(msg, "unknown command /frobnicate (try /help)");
        /* no abbreviations, no near misses */
        ck_assert_int_eq(parse("/ni bob"), CMD_UNKNOWN);
        ck_assert_str_eq(c.word, "ni");
        ck_assert_int_eq(parse("/nickname bob"), CMD_UNKNOWN);
        ck_assert_str_eq(c.word, "nickname");
        ck_assert_int_eq(parse("/X"), CMD_UNKNOWN);
        ck_assert_str_eq(c.word, "X");
}
END_TEST

START_TEST(empty_command)
{
        ck_assert_int_eq(parse("/"), CMD_BAD);
        ck_assert_ptr_nonnull(strstr(c.error, "/help"));
        ck_assert_ptr_nonnull(strstr(c.error, "//"));
        ck_assert_int_eq(parse("/ nick bob"), CMD_BAD);
        ck_assert_int_eq(parse("/   "), CMD_BAD);
}
END_TEST

START_TEST(names)
{
        ck_assert_str_eq(cmd_name(CMD_NICK), "nick");
        ck_assert_str_eq(cmd_name(CMD_JOIN), "join");
        ck_assert_str_eq(cmd_name(CMD_PASS), "pass");
        ck_assert_ptr_null(cmd_name(CMD_NONE));
        ck_assert_ptr_null(cmd_name(CMD_SAY));
        ck_assert_ptr_null(cmd_name(CMD_UNKNOWN));
        ck_assert_ptr_null(cmd_name(CMD_BAD));
}
END_TEST

START_TEST(help_table)
{
        static const enum cmd_type listed[] = {
                CMD_NICK, CMD_JOIN, CMD_LEAVE, CMD_ROOMS, CMD_WHO, CMD_MSG,
                CMD_ME, CMD_TOPIC, CMD_QUIT, CMD_HELP,
        };
        size_t n = 0;
        const struct cmd_help *h = cmd_help_table(&n);

        ck_assert_uint_eq(n, sizeof(listed) / sizeof(listed[0]));
        for (size_t i = 0; i < n; i++) {
                char usage[64];
                char *sp;

                ck_assert_int_eq(h[i].type, listed[i]);
                ck_assert_uint_gt(strlen(h[i].desc), 0);
                /* every usage line is the command it documents */
                ck_assert_uint_lt(strlen(h[i].usage), sizeof(usage));
                strcpy(usage, h[i].usage);
                sp = strchr(usage, ' ');
                if (sp)
                        *sp = '\0';
                ck_assert_int_eq(usage[0], '/');
                ck_assert_str_eq(usage + 1, cmd_name(h[i].type));
                ck_assert_int_eq(parse(usage), listed[i] == CMD_NICK || listed[i] == CMD_JOIN ||
                                 listed[i] == CMD_MSG || listed[i] == CMD_ME ? CMD_BAD : listed[i]);
        }
        ck_assert_str_eq(h[1].usage, "/join ROOM [KEY]");
        ck_assert_str_eq(h[1].desc, "join or create a room (KEY makes it private)");
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("cmd");
        TCase *tc = tcase_create("parse");

        tcase_add_test(tc, none);
        tcase_add_test(tc, say);
        tcase_add_test(tc, say_double_slash);
        tcase_add_test(tc, nick);
        tcase_add_test(tc, nick_bad);
        tcase_add_test(tc, join);
        tcase_add_test(tc, join_bad);
        tcase_add_test(tc, no_arg_commands);
        tcase_add_test(tc, no_arg_commands_bad);
        tcase_add_test(tc, msg_text);
        tcase_add_test(tc, msg_bad);
        tcase_add_test(tc, me);
        tcase_add_test(tc, topic);
        tcase_add_test(tc, quit);
        tcase_add_test(tc, pass);
        tcase_add_test(tc, case_insensitive);
        tcase_add_test(tc, unknown);
        tcase_add_test(tc, empty_command);
        suite_add_tcase(s, tc);

        tc = tcase_create("help");
        tcase_add_test(tc, names);
        tcase_add_test(tc, help_table);
        suite_add_tcase(s, tc);
        return s;
}
