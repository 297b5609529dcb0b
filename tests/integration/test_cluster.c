/* Integration: rooms across pichatd nodes through a real mosquitto, which
 * the test starts itself on a free loopback port. */
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "clock.h"
#include "harness.h"
#include "suite.h"

#define KEEPALIVE_S 5
/* Only the chat service: the others' default ports are nobody's to take. */
#define ONLY_CHAT "[echo]\nenabled = no\n[udp]\nenabled = no\n"

static struct pd_broker broker;

static int start_node(struct pd *d, const char *node, const char *extra)
{
        char ini[2048];

        snprintf(ini, sizeof(ini),
                 ONLY_CHAT "[chat]\nlines_per_sec = 2000\nburst = 2000\n"
                 "[cluster]\nenabled = yes\nbroker = 127.0.0.1:%u\nnode = %s\nkeepalive_s = %d\n%s",
                 broker.port, node, KEEPALIVE_S, extra ? extra : "");
        if (pd_start_with(d, ini, "chat") < 0)
                return -1;
        /* Its link is made in the background: in the cluster once it is up. */
        return pd_log_wait(d, "connected to the broker", 10000) ? 0 : -1;
}

/* Ask /who until it counts n members (other nodes' lists come in their
 * own time): true if it did within timeout_ms. */
static bool wait_members(struct pd_client *c, int n, int timeout_ms)
{
        char want[32], line[2048];
        int64_t end = clock_now_ms() + timeout_ms;

        snprintf(want, sizeof(want), "* %d members", n);
        while (clock_now_ms() < end) {
                pd_send(c, "/who\r\n");
                while (pd_line(c, line, sizeof(line), 1000) >= 0) {
                        if (strcmp(line, want) == 0)
                                return true;
                        if (strncmp(line, "* ", 2) == 0 && strstr(line, " members") &&
                            strspn(line + 2, "0123456789") > 0)
                                break;
                }
                usleep(200 * 1000);
        }
        return false;
}

static void enter_as(struct pd_client *c, struct pd *d, const char *nick)
{
        char line[1024], want[128];

        ck_assert_int_eq(pd_connect(c, d->chat_port, AF_INET), 0);
        for (;;) {
                ck_assert_int_ge(pd_line(c, line, sizeof(line), 5000), 0);
                if (strncmp(line, "* you are ", 10) == 0)
                        break;
        }
        snprintf(want, sizeof(want), "/nick %s\r\n", nick);
        pd_send(c, want);
        snprintf(want, sizeof(want), "* you are now known as %s", nick);
        ck_assert(pd_expect(c, want, 5000));
}

/* Read lines until one holds needle. */
static bool expect_has(struct pd_client *c, const char *needle, int timeout_ms)
{
        char line[2048];
        int64_t end = clock_now_ms() + timeout_ms;

        while (clock_now_ms() < end)
                if (pd_line(c, line, sizeof(line), (int)(end - clock_now_ms())) >= 0 &&
                    strstr(line, needle))
                        return true;
        fprintf(stderr, "no line with '%s'\n", needle);
        return false;
}

static void say(struct pd_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct pd_client *c, const char *fmt, ...)
{
        char buf[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        strcat(buf, "\r\n");
        ck_assert_int_eq(pd_send(c, buf), 0);
}

static void broker_up(const char *extra)
{
        ck_assert_int_eq(pd_broker_start(&broker, extra), 0);
}

static void broker_down(void)
{
        pd_broker_stop(&broker, true);
}

/* Three nodes, a member on each: every line reaches every other member
 * once, in its sender's order, with two senders at once. */
START_TEST(cluster_chat_order)
{
        struct pd a, b, cn;
        struct pd_client ca, cb, cc;
        char line[1024];
        int next_a = 0, next_b = 0;

        broker_up(NULL);
        ck_assert_int_eq(start_node(&a, "nA", NULL), 0);
        ck_assert_int_eq(start_node(&b, "nB", NULL), 0);
        ck_assert_int_eq(start_node(&cn, "nC", NULL), 0);
        enter_as(&ca, &a, "alice");
        enter_as(&cb, &b, "bob");
        enter_as(&cc, &cn, "carol");
        ck_assert(expect_has(&ca, "is now known as carol", 5000));
        ck_assert(expect_has(&cb, "is now known as carol", 5000));
        /* carol came last: she knows the others from their nodes' lists. */
        ck_assert(wait_members(&cc, 3, 10000));

        for (int i = 0; i < 200; i++) {
                say(&ca, "a-%d", i);
                say(&cb, "b-%d", i);
        }
        int64_t end = clock_now_ms() + 20000;
        while ((next_a < 200 || next_b < 200) && clock_now_ms() < end) {
                if (pd_line(&cc, line, sizeof(line), 1000) < 0)
                        continue;
                int n;
                if (sscanf(line, "<alice> a-%d", &n) == 1) {
                        ck_assert_int_eq(n, next_a);
                        next_a++;
                } else if (sscanf(line, "<bob> b-%d", &n) == 1) {
                        ck_assert_int_eq(n, next_b);
                        next_b++;
                }
        }
        ck_assert_int_eq(next_a, 200);
        ck_assert_int_eq(next_b, 200);
        /* Nothing comes twice. */
        ck_assert(pd_quiet(&cc, 1000));
        /* And bob got alice's, in order too. */
        for (int i = 0; i < 200; i++) {
                char want[32];
                snprintf(want, sizeof(want), "<alice> a-%d", i);
                ck_assert(pd_expect(&cb, want, 5000));
        }
        pd_close(&ca);
        pd_close(&cb);
        pd_close(&cc);
        ck_assert_int_eq(pd_stop(&a), 0);
        ck_assert_int_eq(pd_stop(&b), 0);
        ck_assert_int_eq(pd_stop(&cn), 0);
        broker_down();
}
END_TEST

/* /who, /rooms, notices, /msg, topic and history across nodes. */
START_TEST(cluster_presence)
{
        struct pd a, b;
        struct pd_client ca, cb, cd;

        broker_up(NULL);
        ck_assert_int_eq(start_node(&a, "nA", NULL), 0);
        ck_assert_int_eq(start_node(&b, "nB", NULL), 0);
        enter_as(&ca, &a, "alice");
        say(&ca, "said before bob came");
        enter_as(&cb, &b, "bob");
        ck_assert(expect_has(&ca, "is now known as bob", 5000));
        pd_line(&ca, (char[64]){ 0 }, 64, 300);

        say(&cb, "/who");
        /* In the order each came into node B's lobby: bob's join and
         * alice's member list race. */
        char who[256];
        ck_assert(pd_expect(&cb, "* members of room lobby:", 5000));
        ck_assert_int_ge(pd_line(&cb, who, sizeof(who), 5000), 0);
        ck_assert_msg(strcmp(who, "*   bob alice@nA") == 0 || strcmp(who, "*   alice@nA bob") == 0,
                      "/who: '%s'", who);
        ck_assert(pd_expect(&cb, "* 2 members", 5000));
        say(&ca, "/rooms");
        ck_assert(pd_expect(&ca, "*   lobby: 2 members (1 on other nodes)", 5000));
        /* A nick held on another node is taken here too. */
        say(&ca, "/nick bob");
        ck_assert(pd_expect(&ca, "nick bob is taken", 5000));

        say(&ca, "/msg bob psst");
        ck_assert(pd_expect(&ca, "-> *bob* psst", 5000));
        ck_assert(pd_expect(&cb, "*alice* psst", 5000));

        say(&cb, "/topic cross-node topic");
        ck_assert(pd_expect(&ca, "* bob set the topic of lobby: cross-node topic", 5000));

        /* A joiner on B gets what alice said on A in its history. */
        say(&ca, "for the history");
        ck_assert(pd_expect(&cb, "<alice> for the history", 5000));
        enter_as(&cd, &b, "dave");
        pd_close(&cd);
        ck_assert_int_eq(pd_connect(&cd, b.chat_port, AF_INET), 0);
        ck_assert(pd_expect(&cd, "[history] <alice> for the history", 5000));
        pd_close(&cd);

        say(&cb, "/join #elsewhere");
        ck_assert(pd_expect(&ca, "* bob left room lobby (changed room)", 5000));
        say(&ca, "/join elsewhere");
        ck_assert(pd_expect(&cb, "* alice entered room elsewhere", 5000));
        say(&cb, "/quit gone fishing");
        ck_assert(pd_expect(&ca, "* bob left room elsewhere (quit: gone fishing)", 5000));
        say(&ca, "/who");
        ck_assert(pd_expect(&ca, "* 1 member", 5000));

        pd_close(&ca);
        pd_close(&cb);
        ck_assert_int_eq(pd_stop(&a), 0);
        ck_assert_int_eq(pd_stop(&b), 0);
        broker_down();
}
END_TEST

/* A node killed with SIGKILL: its members leave the others' rooms within
 * 1.5 x keepalive (the broker's keepalive check and the node's will). */
START_TEST(cluster_node_killed)
{
        struct pd a, b;
        struct pd_client ca, cb;

        broker_up(NULL);
        ck_assert_int_eq(start_node(&a, "nA", NULL), 0);
        ck_assert_int_eq(start_node(&b, "nB", NULL), 0);
        enter_as(&ca, &a, "alice");
        enter_as(&cb, &b, "bob");
        ck_assert(expect_has(&ca, "is now known as bob", 5000));
        int64_t t0 = clock_now_ms();
        pd_signal(&b, SIGKILL);
        ck_assert(pd_expect(&ca, "* bob left room lobby (node nB is gone)", 15000));
        int64_t took = clock_now_ms() - t0;
        printf("node killed: its member left the other node after %lld ms (keepalive %d s)\n",
               (long long)took, KEEPALIVE_S);
        ck_assert_int_le(took, KEEPALIVE_S * 1500 + 500);
        /* Its name is free again at once: the check finds no live node. */
        struct pd b2;
        ck_assert_int_eq(start_node(&b2, "nB", NULL), 0);
        pd_close(&cb);
        enter_as(&cb, &b2, "bob");
        ck_assert(expect_has(&ca, "is now known as bob", 5000));
        pd_close(&ca);
        pd_close(&cb);
        pd_wait_exit(&b, 1000);
        ck_assert_int_eq(pd_stop(&b2), 0);
        ck_assert_int_eq(pd_stop(&a), 0);
        broker_down();
}
END_TEST

struct sender {
        struct pd_client *c;
        int n, gap_ms;
};

static void *send_lines(void *arg)
{
        struct sender *s = arg;
        char buf[64];

        for (int i = 0; i < s->n; i++) {
                snprintf(buf, sizeof(buf), "line-%d\r\n", i);
                if (pd_send(s->c, buf) < 0)
                        break;
                usleep((useconds_t)s->gap_ms * 1000);
        }
        return NULL;
}

/* The broker stopped and started again mid-conversation: both nodes go on
 * serving, their members are told once each way, and every line said
 * meanwhile arrives once, in order. */
START_TEST(cluster_broker_restart)
{
        struct pd a, b;
        struct pd_client ca, cb, ca2;
        struct sender s = { .c = &ca, .n = 300, .gap_ms = 10 };
        char line[1024];
        pthread_t t;
        int next = 0, down = 0, up = 0;

        broker_up(NULL);
        ck_assert_int_eq(start_node(&a, "nA", NULL), 0);
        ck_assert_int_eq(start_node(&b, "nB", NULL), 0);
        enter_as(&ca, &a, "alice");
        enter_as(&ca2, &a, "amy");
        enter_as(&cb, &b, "bob");
        ck_assert(expect_has(&ca, "is now known as bob", 5000));

        ck_assert_int_eq(pthread_create(&t, NULL, send_lines, &s), 0);
        usleep(800 * 1000);
        pd_broker_stop(&broker, false);
        /* Local rooms go on: amy on the same node hears alice meanwhile. */
        ck_assert(pd_expect(&ca2, "* the other nodes are unreachable: this room goes on here, "
                                  "and what is said is kept for them", 5000));
        usleep(1000 * 1000);
        ck_assert_int_eq(pd_broker_restart(&broker), 0);
        pthread_join(t, NULL);

        int64_t end = clock_now_ms() + 20000;
        while (next < s.n && clock_now_ms() < end) {
                if (pd_line(&cb, line, sizeof(line), 1000) < 0)
                        continue;
                int n;
                if (sscanf(line, "<alice> line-%d", &n) == 1) {
                        ck_assert_int_eq(n, next);
                        next++;
                } else if (strstr(line, "unreachable")) {
                        down++;
                } else if (strstr(line, "reachable again")) {
                        up++;
                } else if (strstr(line, "could not")) {
                        ck_abort_msg("lost: %s", line);
                }
        }
        ck_assert_int_eq(next, s.n);
        /* No line twice; notices (the others back) may still come. */
        for (int64_t quiet = clock_now_ms() + 1500; clock_now_ms() < quiet;) {
                if (pd_line(&cb, line, sizeof(line), 300) < 0)
                        continue;
                ck_assert_msg(strncmp(line, "<alice> ", 8) != 0, "twice: %s", line);
                down += strstr(line, "unreachable") != NULL;
                up += strstr(line, "reachable again") != NULL;
        }
        ck_assert_int_eq(down, 1);
        ck_assert_int_eq(up, 1);
        ck_assert(pd_expect(&ca2, "* the other nodes are reachable again", 10000));
        ck_assert_int_eq(pd_log_count(&a, "lines did not fit"), 0);
        pd_close(&ca);
        pd_close(&ca2);
        pd_close(&cb);
        ck_assert_int_eq(pd_stop(&a), 0);
        ck_assert_int_eq(pd_stop(&b), 0);
        broker_down();
}
END_TEST

/* What did not fit in max_queue_kib while the broker was away is counted
 * and announced, and what did fit arrives. */
START_TEST(cluster_outage_overflow)
{
        struct pd a, b;
        struct pd_client ca, cb;
        char text[900];

        broker_up(NULL);
        ck_assert_int_eq(start_node(&a, "nA", "max_queue_kib = 16\n"), 0);
        ck_assert_int_eq(start_node(&b, "nB", NULL), 0);
        enter_as(&ca, &a, "alice");
        enter_as(&cb, &b, "bob");
        ck_assert(expect_has(&ca, "is now known as bob", 5000));
        pd_broker_stop(&broker, false);
        ck_assert(pd_expect(&ca, "* the other nodes are unreachable: this room goes on here, "
                                 "and what is said is kept for them", 5000));
        memset(text, 'x', sizeof(text) - 1);
        text[sizeof(text) - 1] = '\0';
        for (int i = 0; i < 40; i++)
                say(&ca, "%d %s", i, text);
        usleep(300 * 1000);
        ck_assert_int_eq(pd_broker_restart(&broker), 0);
        ck_assert(pd_expect(&ca, "* the other nodes are reachable again", 15000));
        char line[2048];
        int lost = 0;
        for (int64_t end = clock_now_ms() + 5000; clock_now_ms() < end && !lost;)
                if (pd_line(&ca, line, sizeof(line), 500) >= 0)
                        sscanf(line, "* %d lines said here while the other nodes were", &lost);
        ck_assert_int_gt(lost, 0);
        /* bob gets the first 40 - lost, in order. */
        for (int i = 0; i < 40 - lost; i++) {
                char want[16];
                int n = -1;
                snprintf(want, sizeof(want), "%d ", i);
                do
                        ck_assert_int_ge(pd_line(&cb, line, sizeof(line), 5000), 0);
                while (strncmp(line, "<alice> ", 8) != 0);
                sscanf(line + 8, "%d", &n);
                ck_assert_int_eq(n, i);
        }
        printf("outage overflow: %d of 40 lines kept, %d counted lost\n", 40 - lost, lost);
        pd_close(&ca);
        pd_close(&cb);
        ck_assert_int_eq(pd_stop(&a), 0);
        ck_assert_int_eq(pd_stop(&b), 0);
        broker_down();
}
END_TEST

/* Refusals at start, each with a clear error and exit status 1: a wrong
 * broker password, an ACL that does not let the node publish, a node name
 * a live node holds. */
START_TEST(cluster_refused)
{
        struct pd a, x;
        char extra[512], acl[256];
        const struct pd_opts now = { .fdnames = "chat", .no_wait = true };

        ck_assert_int_eq(pd_broker_start(&broker, "allow_anonymous false\n"), 0);
        const char *pw = pd_broker_passwd(&broker, "passwd", "nA", "right");
        ck_assert_ptr_nonnull(pw);
        ck_assert_ptr_nonnull(pd_broker_passwd(&broker, "passwd", "reader", "right"));
        snprintf(acl, sizeof(acl), "pattern readwrite pichat/1/%%u/#\npattern read pichat/#\n");
        const char *aclp = pd_broker_file(&broker, "acl", acl);
        char conf[512];
        snprintf(conf, sizeof(conf), "allow_anonymous false\npassword_file %s\nacl_file %s\n", pw,
                 aclp);
        pd_broker_stop(&broker, false);
        FILE *f = fopen(broker.conf_path, "a");
        fputs(conf, f);
        fclose(f);
        ck_assert_int_eq(pd_broker_restart(&broker), 0);

        /* Wrong password. */
        snprintf(extra, sizeof(extra),
                 ONLY_CHAT "[cluster]\nenabled = yes\nbroker = 127.0.0.1:%u\nnode = nA\nusername = nA\n"
                 "password = wrong\n", broker.port);
        ck_assert_int_eq(pd_start_opts(&x, extra, &now), 0);
        ck_assert_int_eq(pd_wait_exit(&x, 10000), 1);
        ck_assert(pd_log_wait(&x, "the broker 127.0.0.1", 100));
        ck_assert(pd_log_wait(&x, "refused node nA", 100));
        pd_stop(&x);

        /* Right password, but the ACL lets user reader publish only under
         * its own name. */
        snprintf(extra, sizeof(extra),
                 ONLY_CHAT "[cluster]\nenabled = yes\nbroker = 127.0.0.1:%u\nnode = nA\nusername = reader\n"
                 "password = right\n", broker.port);
        ck_assert_int_eq(pd_start_opts(&x, extra, &now), 0);
        ck_assert_int_eq(pd_wait_exit(&x, 10000), 1);
        ck_assert(pd_log_wait(&x, "does not let node nA publish on pichat/1/nA/#", 100));
        pd_stop(&x);

        /* Allowed, and then a second node of the same name. */
        snprintf(extra, sizeof(extra),
                 ONLY_CHAT "[cluster]\nenabled = yes\nbroker = 127.0.0.1:%u\nnode = nA\nusername = nA\n"
                 "password = right\n", broker.port);
        ck_assert_int_eq(pd_start_with(&a, extra, "chat"), 0);
        ck_assert(pd_log_wait(&a, "cluster: node nA connected to the broker", 5000));
        ck_assert_int_eq(pd_start_opts(&x, extra, &now), 0);
        ck_assert_int_eq(pd_wait_exit(&x, 10000), 1);
        ck_assert(pd_log_wait(&x, "node name nA is in use by a live node", 100));
        pd_stop(&x);
        /* The live one was not disturbed. */
        ck_assert(pd_running(&a));
        ck_assert_int_eq(pd_log_count(&a, "lost the broker"), 0);
        ck_assert_int_eq(pd_stop(&a), 0);
        broker_down();
}
END_TEST

/* Publish raw payloads on the cluster's topics as a hostile client. */
static void publish_raw(const char *topic, const void *payload, int len)
{
        struct mosquitto *m = mosquitto_new(NULL, true, NULL);

        ck_assert_ptr_nonnull(m);
        mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
        ck_assert_int_eq(mosquitto_connect(m, "127.0.0.1", (int)broker.port, 10), 0);
        ck_assert_int_eq(mosquitto_publish(m, NULL, topic, len, payload, 1, false), 0);
        for (int i = 0; i < 20; i++)
                mosquitto_loop(m, 20, 1);
        mosquitto_disconnect(m);
        mosquitto_loop(m, 20, 1);
        mosquitto_destroy(m);
}

static void publish_text(const char *topic, const char *payload)
{
        publish_raw(topic, payload, (int)strlen(payload));
}

START_TEST(cluster_hostile)
{
        struct pd a;
        struct pd_client ca;
        char line[2048];

        mosquitto_lib_init();
        broker_up(NULL);
        ck_assert_int_eq(start_node(&a, "nA", "peer_lines_per_sec = 100\n"), 0);
        enter_as(&ca, &a, "alice");
        /* Control characters and invalid UTF-8 are cleaned as telnet input is. */
        publish_text("pichat/1/evil/room/lobby", "1 evil 7 1 say\nmallory\nhi \x1b[2Jthere \xff!");
        ck_assert(pd_expect(&ca, "<mallory> hi [2Jthere \xEF\xBF\xBD!", 5000));
        /* Forged: the payload's node is not the topic's; or it is alice's node's own. */
        publish_text("pichat/1/evil/room/lobby", "1 other 7 2 say\nmallory\nforged");
        publish_text("pichat/1/nA/room/lobby", "1 nA 7 1 say\nmallory\nforged too");
        /* Unknown version, unknown kind, bad nick, oversize, NUL. */
        publish_text("pichat/1/evil/room/lobby", "2 evil 7 3 say\nmallory\nfrom the future");
        publish_text("pichat/1/evil/room/lobby", "1 evil 7 3 shout\nmallory\nwhat");
        publish_text("pichat/1/evil/room/lobby", "1 evil 7 3 say\nmal lory\nbad nick");
        publish_text("pichat/2/evil/room/lobby", "2 evil 7 3 say\nmallory\nv2 topic");
        char *big = malloc(300000);
        memset(big, 'x', 300000);
        memcpy(big, "1 evil 7 3 say\nmallory\n", 23);
        publish_raw("pichat/1/evil/room/lobby", big, 300000);
        free(big);
        publish_raw("pichat/1/evil/room/lobby", "1 evil 7 3 say\nmallory\nnul\0here", 32);
        /* A duplicate of the first, and then the next one in order. */
        publish_text("pichat/1/evil/room/lobby", "1 evil 7 1 say\nmallory\nhi again");
        publish_text("pichat/1/evil/room/lobby", "1 evil 7 2 say\nmallory\nsecond");
        ck_assert(pd_expect_next(&ca, "<mallory> second", 5000));
        /* A flood: far more than peer_lines_per_sec. */
        struct mosquitto *m = mosquitto_new(NULL, true, NULL);
        mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
        ck_assert_int_eq(mosquitto_connect(m, "127.0.0.1", (int)broker.port, 10), 0);
        int64_t t0 = clock_now_ms();
        for (int i = 0; i < 300; i++) {
                char p[128];
                snprintf(p, sizeof(p), "1 flood 9 %d say\nflooder\nline %d", i + 1, i);
                mosquitto_publish(m, NULL, "pichat/1/flood/room/lobby", (int)strlen(p), p, 0, false);
                mosquitto_loop(m, 0, 1);
        }
        /* The rest goes out at once; a fifth of a second is left for it. */
        int64_t took = clock_now_ms() - t0 + 200;
        for (int i = 0; i < 50; i++)
                mosquitto_loop(m, 20, 1);
        mosquitto_disconnect(m);
        mosquitto_destroy(m);
        /* What the bucket lets through: its burst (2 x the rate), then the
         * rate for as long as the flood took to arrive. */
        int allowed = 200 + (int)(took * 100 / 1000) + 1;
        int got = 0;
        while (pd_line(&ca, line, sizeof(line), 1500) >= 0)
                got += strncmp(line, "<flooder> ", 10) == 0;
        printf("hostile: %d of 300 flood lines let through in %lld ms (peer_lines_per_sec = "
               "100, at most %d)\n", got, (long long)took, allowed);
        ck_assert_int_le(got, allowed);
        ck_assert_int_gt(got, 0);
        ck_assert(pd_log_wait(&a, "(forged node)", 12000));
        ck_assert(pd_log_wait(&a, "(unknown version)", 12000));
        ck_assert(pd_log_wait(&a, "(malformed)", 12000));
        ck_assert(pd_log_wait(&a, "(oversize)", 12000));
        ck_assert(pd_log_wait(&a, "(flood)", 12000));
        ck_assert(pd_running(&a));
        say(&ca, "/who");
        ck_assert(pd_expect(&ca, "* members of room lobby:", 5000));
        pd_close(&ca);
        ck_assert_int_eq(pd_stop(&a), 0);
        broker_down();
        mosquitto_lib_cleanup();
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("cluster");
        TCase *tc = tcase_create("cluster");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, cluster_chat_order);
        tcase_add_test(tc, cluster_presence);
        tcase_add_test(tc, cluster_node_killed);
        tcase_add_test(tc, cluster_broker_restart);
        tcase_add_test(tc, cluster_outage_overflow);
        tcase_add_test(tc, cluster_refused);
        tcase_add_test(tc, cluster_hostile);
        suite_add_tcase(s, tc);
        return s;
}
