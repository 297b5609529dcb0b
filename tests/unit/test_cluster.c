/* Unit: the cluster's wire format (cluster_parse) and [cluster] checks. */
#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "conf.h"
#include "suite.h"

static char text[4096];
static struct cluster_msg m;

static enum cluster_drop parse(const char *topic, const char *payload)
{
        return cluster_parse("pichat", "self", topic, payload, strlen(payload), 1024, &m, text,
                             sizeof(text));
}

START_TEST(parse_say)
{
        ck_assert_int_eq(parse("pichat/1/nB/room/lobby", "1 nB 42 7 say\nbob\nhello  there"),
                         CD_OK);
        ck_assert_int_eq(m.kind, CK_SAY);
        ck_assert_str_eq(m.node, "nB");
        ck_assert_uint_eq(m.inc, 42);
        ck_assert_uint_eq(m.seq, 7);
        ck_assert_str_eq(m.room, "lobby");
        ck_assert_str_eq(m.nick, "bob");
        ck_assert_str_eq(m.text, "hello  there");
}
END_TEST

START_TEST(parse_cleans_text)
{
        /* ESC, a newline and a C1 control go; bad UTF-8 becomes U+FFFD. */
        ck_assert_int_eq(parse("pichat/1/nB/room/lobby", "1 nB 1 1 me\nbob\na\x1b[31mb\nc\xc2\x9b\xff"),
                         CD_OK);
        ck_assert_str_eq(m.text, "a[31mbc" "\xEF\xBF\xBD");
}
END_TEST

START_TEST(parse_cuts_long_text)
{
        static char p[3000];
        int n = snprintf(p, sizeof(p), "1 nB 1 1 say\nbob\n");
        memset(p + n, 'x', 2000);
        p[n + 2000] = '\0';
        ck_assert_int_eq(parse("pichat/1/nB/room/lobby", p), CD_OK);
        ck_assert_uint_eq(strlen(m.text), 1024);
}
END_TEST

START_TEST(parse_refuses)
{
        /* The payload's node is not the topic's; or the topic's is this node's own. */
        ck_assert_int_eq(parse("pichat/1/nB/room/lobby", "1 nC 1 1 say\nbob\nhi"), CD_FORGED);
        ck_assert_int_eq(parse("pichat/1/self/room/lobby", "1 self 1 1 say\nbob\nhi"), CD_FORGED);
        ck_assert_int_eq(parse("pichat/1/nB/room/lobby", "2 nB 1 1 say\nbob\nhi"), CD_VERSION);
        ck_assert_int_eq(parse("pichat/2/nB/room/lobby", "2 nB 1 1 say\nbob\nhi"), CD_VERSION);
        ck_assert_int_eq(parse("pichat/1/nB/room/lobby", "1 nB 1 1 yell\nbob\nhi"), CD_MALFORMED);
        ck_assert_int_eq(parse("pichat/1/nB/room/lobby", "1 nB 1 1 say\nb b\nhi"), CD_MALFORMED);
        ck_assert_int_eq(parse("pichat/1/nB/room/lo by", "1 nB 1 1 say\nbob\nhi"), CD_MALFORMED);
        ck_assert_int_eq(parse("pichat/1/nB/room/lobby", "1 nB x 1 say\nbob\nhi"), CD_MALFORMED);
        ck_assert_int_eq(parse("pichat/1/nB/room/lobby", "1 nB 1 0 say\nbob\nhi"), CD_MALFORMED);
        ck_assert_int_eq(parse("pichat/1/nB/room/lobby", "1 nB 1 1 say\nbob\n"), CD_MALFORMED);
        ck_assert_int_eq(parse("pichat/1/nB/room/lobby", "1 nB 1 1 say extra\nbob\nhi"),
                         CD_MALFORMED);
        /* A kind on a topic it does not go on. */
        ck_assert_int_eq(parse("pichat/1/nB/msg", "1 nB 1 1 say\nbob\nhi"), CD_MALFORMED);
        ck_assert_int_eq(parse("other/1/nB/room/lobby", "1 nB 1 1 say\nbob\nhi"), CD_MALFORMED);
        static char big[8192];
        int n = snprintf(big, sizeof(big), "1 nB 1 1 say\nbob\n");
        memset(big + n, 'x', sizeof(big) - (size_t)n - 1);
        ck_assert_int_eq(cluster_parse("pichat", "self", "pichat/1/nB/room/lobby", big,
                                       sizeof(big) - 1, 1024, &m, text, sizeof(text)),
                         CD_OVERSIZE);
        ck_assert_int_eq(cluster_parse("pichat", "self", "pichat/1/nB/room/lobby",
                                       "1 nB 1 1 say\nbob\nh\0i", 20, 1024, &m, text,
                                       sizeof(text)), CD_MALFORMED);
}
END_TEST

START_TEST(parse_other_kinds)
{
        ck_assert_int_eq(parse("pichat/1/nB/room/x", "1 nB 1 2 join\nbob\nquiet"), CD_OK);
        ck_assert(m.quiet);
        ck_assert_int_eq(parse("pichat/1/nB/room/x", "1 nB 1 3 leave\nbob\nquit: bye\n"), CD_OK);
        ck_assert_str_eq(m.text, "quit: bye");
        ck_assert(!m.quiet);
        ck_assert_int_eq(parse("pichat/1/nB/room/x", "1 nB 1 4 nick\nbob\nrob"), CD_OK);
        ck_assert_str_eq(m.nick2, "rob");
        ck_assert_int_eq(parse("pichat/1/nB/msg", "1 nB 1 5 msg\nrob\nalice\npsst"), CD_OK);
        ck_assert_str_eq(m.nick2, "alice");
        ck_assert_str_eq(m.text, "psst");
        ck_assert_int_eq(parse("pichat/1/nB/presence", "1 nB 1 9 presence\n5\nlobby rob\n"),
                         CD_OK);
        ck_assert_uint_eq(m.a, 5);
        ck_assert_str_eq(m.members, "lobby rob\n");
        ck_assert_int_eq(parse("pichat/1/nB/nack", "1 nB 1 0 nack\nself 77 12"), CD_OK);
        ck_assert_str_eq(m.nick, "self");
        ck_assert_uint_eq(m.a, 77);
        ck_assert_uint_eq(m.b, 12);
}
END_TEST

static struct conf *load(const char *ini, struct conf_errors *e)
{
        return conf_load_string("t.ini", ini, e);
}

/* What the broker sends next is read ahead only when it is a PUBLISH
 * that is all there: otherwise libmosquitto may wait for the rest. */
START_TEST(publish_whole)
{
        /* PUBLISH QoS 1 (0x32), remaining length 10: 12 bytes in all. */
        const unsigned char p10[] = { 0x32, 10, 0, 3 };
        ck_assert(cluster_publish_whole(p10, sizeof(p10), 12));
        ck_assert(cluster_publish_whole(p10, sizeof(p10), 4000));
        ck_assert(!cluster_publish_whole(p10, sizeof(p10), 11));
        /* Remaining length 200 in two bytes (0xc8 0x01): 203 in all. */
        const unsigned char p200[] = { 0x30, 0xc8, 0x01, 0 };
        ck_assert(cluster_publish_whole(p200, sizeof(p200), 203));
        ck_assert(!cluster_publish_whole(p200, sizeof(p200), 202));
        /* 2,097,152 in four bytes (0x80 0x80 0x80 0x01). */
        const unsigned char p4[] = { 0x30, 0x80, 0x80, 0x80, 0x01 };
        ck_assert(cluster_publish_whole(p4, sizeof(p4), 2097152 + 5));
        ck_assert(!cluster_publish_whole(p4, sizeof(p4), 2097152 + 4));
        /* The length not all there yet, or longer than MQTT allows. */
        ck_assert(!cluster_publish_whole(p200, 2, 1000));
        const unsigned char p5[] = { 0x30, 0x80, 0x80, 0x80, 0x80 };
        ck_assert(!cluster_publish_whole(p5, sizeof(p5), SIZE_MAX));
        /* Not a PUBLISH: a PUBACK (0x40), a PINGRESP (0xd0). */
        const unsigned char ack[] = { 0x40, 2, 0, 1 }, ping[] = { 0xd0, 0 };
        ck_assert(!cluster_publish_whole(ack, sizeof(ack), 4));
        ck_assert(!cluster_publish_whole(ping, sizeof(ping), 2));
        ck_assert(!cluster_publish_whole(p10, 1, 12));
}
END_TEST

START_TEST(conf_cluster_defaults)
{
        struct conf_errors e;
        struct conf *c = load("[cluster]\nenabled = yes\nbroker = mq.lan\nnode = hall\n", &e);

        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(c->cluster.broker_host, "mq.lan");
        ck_assert_uint_eq(c->cluster.broker_port, 1883);
        ck_assert_str_eq(c->cluster.topic_prefix, "pichat");
        ck_assert_uint_eq(c->cluster.keepalive_s, 30);
        conf_unref(c);
        c = load("[cluster]\nenabled = yes\nbroker = [::1]:1884\nnode = hall\n", &e);
        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(c->cluster.broker_host, "::1");
        ck_assert_uint_eq(c->cluster.broker_port, 1884);
        conf_unref(c);
}
END_TEST

static void refused(const char *ini, const char *want)
{
        struct conf_errors e;
        struct conf *c = load(ini, &e);

        ck_assert_ptr_null(c);
        ck_assert_uint_ge(e.n, 1);
        ck_assert_msg(strstr(e.msg[0], want), "'%s' does not say '%s'", e.msg[0], want);
}

START_TEST(conf_cluster_refused)
{
        refused("[cluster]\nenabled = yes\nbroker = mq:99999\nnode = a\n", "t.ini:3: broker:");
        refused("[cluster]\nenabled = yes\nbroker = ::1\nnode = a\n", "in brackets");
        refused("[cluster]\nenabled = yes\nnode = a.b\n", "t.ini:3: node:");
        refused("[cluster]\nenabled = yes\nnode = a\ntopic_prefix = a/#\n", "t.ini:4: topic_prefix");
        refused("[cluster]\nenabled = yes\nnode = a\ntopic_prefix = $SYS\n", "topic_prefix");
        refused("[cluster]\nenabled = yes\nnode = a\npassword = x\n", "needs a username");
        refused("[cluster]\nenabled = yes\nnode = a\ncafile = /nonexistent/ca\n",
                "t.ini:4: cafile: cannot read /nonexistent/ca");
        refused("[cluster]\nenabled = yes\nnode = a\ncafile = /etc/hostname\ncertfile = /etc/hostname\n",
                "certfile and keyfile go together");
        refused("[cluster]\nenabled = yes\nnode = a\nkeepalive_s = 2\n", "t.ini:4: keepalive_s");
        refused("[cluster]\npassword = a\npassword_file = /etc/hostname\n",
                "[cluster] password and password_file are both set");
        refused("[chat]\nenabled = no\n[web]\nenabled = no\n[cluster]\nenabled = yes\nnode = a\n",
                "[chat] and [web] are both off");
        refused("[cluster]\nenabled = yes\nnode = a\nmax_queue_kib = 4\n[server]\nmax_line_bytes = 4096\n",
                "max_queue_kib = 4 cannot hold");
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("cluster");
        TCase *tc = tcase_create("cluster");

        tcase_add_test(tc, parse_say);
        tcase_add_test(tc, parse_cleans_text);
        tcase_add_test(tc, parse_cuts_long_text);
        tcase_add_test(tc, parse_refuses);
        tcase_add_test(tc, parse_other_kinds);
        tcase_add_test(tc, publish_whole);
        tcase_add_test(tc, conf_cluster_defaults);
        tcase_add_test(tc, conf_cluster_refused);
        suite_add_tcase(s, tc);
        return s;
}
