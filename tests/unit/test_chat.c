/* Unit: the chat service (chat.c) with its state, a configuration and
 * shutdown of the test's own, clients over socketpairs served by
 * conn_run() on their own threads: lines between members, commands,
 * history, the password, leaving, and a reconfiguration. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chat.h"
#include "clock.h"
#include "conn.h"
#include "harness.h"
#include "suite.h"

static struct conf_store store;
static struct conn_halt halt;
static int halt_pipe[2];
static struct chat chat;

static struct conf *load(const char *ini)
{
        struct conf_errors errs;
        struct conf *c = conf_load_string("test.ini", ini, &errs);

        ck_assert_ptr_nonnull(c);
        return c;
}

static void up(const char *ini)
{
        struct conf *c = load(ini);

        conf_store_init(&store, c);
        ck_assert_int_eq(chat_init(&chat, c), 0);
        ck_assert_int_eq(pipe2(halt_pipe, O_CLOEXEC), 0);
        atomic_init(&halt.stopping, false);
        halt.fd = halt_pipe[0];
}

static void down(void)
{
        ck_assert_uint_eq(chat_clients(&chat), 0);
        chat_destroy(&chat);
        conf_store_destroy(&store);
        close(halt_pipe[0]);
        close(halt_pipe[1]);
}

struct client {
        struct conn *c;
        pthread_t t;
        int fd;
};

static void *serve(void *arg)
{
        conn_run(arg);
        return NULL;
}

/* What fd receives until it holds want (3 s at most), which it must. */
static const char *hear(int fd, const char *want)
{
        static char buf[8192];

        pd_hear(fd, want, buf, sizeof(buf), 3000);
        ck_assert_msg(strstr(buf, want), "wanted '%s', got '%s'", want, buf);
        return buf;
}

static void join(struct client *cl, const char *greeting_ends)
{
        struct sockaddr_storage ss = { .ss_family = AF_INET };
        int sv[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        cl->fd = sv[1];
        cl->c = conn_new(sv[0], (struct sockaddr *)&ss, &chat_service, &chat, &store, &halt);
        ck_assert_ptr_nonnull(cl->c);
        ck_assert_int_eq(pthread_create(&cl->t, NULL, serve, cl->c), 0);
        hear(cl->fd, greeting_ends);
}

static void type(struct client *cl, const char *line)
{
        size_t n = strlen(line);

        ck_assert_int_eq(send(cl->fd, line, n, MSG_NOSIGNAL), (ssize_t)n);
        ck_assert_int_eq(send(cl->fd, "\r\n", 2, MSG_NOSIGNAL), 2);
}

static void leave(struct client *cl)
{
        pthread_join(cl->t, NULL);
        conn_free(cl->c);
        close(cl->fd);
}

START_TEST(members_talk)
{
        struct client a, b;

        up("");
        join(&a, "* you are guest1, in room lobby (1 member)\r\n");
        join(&b, "* you are guest2, in room lobby (2 members)\r\n");
        hear(a.fd, "* guest2 entered room lobby\r\n");
        type(&a, "hi there");
        hear(b.fd, "<guest1> hi there\r\n");
        type(&b, "/nick bob");
        hear(b.fd, "* you are now known as bob\r\n");
        hear(a.fd, "* guest2 is now known as bob\r\n");
        type(&a, "/msg BOB psst");
        hear(a.fd, "-> *bob* psst\r\n");
        hear(b.fd, "*guest1* psst\r\n");
        type(&a, "/who");
        hear(a.fd, "* 2 members\r\n");
        ck_assert_uint_eq(chat_clients(&chat), 2);
        type(&b, "/quit see you");
        hear(b.fd, "* bye\r\n");
        hear(a.fd, "* bob left room lobby (quit: see you)\r\n");
        leave(&b);
        ck_assert_uint_eq(chat_clients(&chat), 1);
        shutdown(a.fd, SHUT_WR);
        leave(&a);
        down();
}
END_TEST

START_TEST(history_and_rooms)
{
        struct client a, c;

        up("[chat]\nhistory = 2\nrooms = lobby games\n");
        ck_assert_uint_eq(chat_rooms(&chat), 2);
        join(&a, "(1 member)\r\n");
        type(&a, "one");
        type(&a, "two");
        type(&a, "three");
        type(&a, "/join #games");
        hear(a.fd, "* you are guest1, in room games (1 member)\r\n");
        join(&c, "[history] <guest1> three\r\n");
        type(&c, "/rooms");
        hear(c.fd, "*   games: 1 member\r\n");
        /* A reload's rooms: a listed room is made, one left off goes
         * once it is empty. */
        struct conf *next = load("[chat]\nrooms = lobby music\n");
        chat_reconfigure(&chat, next);
        ck_assert_uint_eq(chat_rooms(&chat), 3);
        type(&a, "/leave");
        hear(a.fd, "* you are guest1, in room lobby (2 members)\r\n");
        ck_assert_uint_eq(chat_rooms(&chat), 2);
        conf_unref(next);
        shutdown(a.fd, SHUT_WR);
        shutdown(c.fd, SHUT_WR);
        leave(&a);
        leave(&c);
        down();
}
END_TEST

/* The password of the configuration a client came in under. */
START_TEST(password)
{
        struct client a;

        up("[chat]\npassword = sesame\n");
        join(&a, "* this server needs a password: /pass SECRET\r\n");
        ck_assert_uint_eq(chat_clients(&chat), 0);
        type(&a, "/pass wrong");
        hear(a.fd, "* wrong password (2 more tries)\r\n");
        usleep(1100 * 1000);    /* the pause after a wrong try */
        type(&a, "/pass sesame");
        hear(a.fd, "* you are guest1, in room lobby (1 member)\r\n");
        ck_assert_uint_eq(chat_clients(&chat), 1);
        shutdown(a.fd, SHUT_WR);
        leave(&a);
        down();
}
END_TEST

/* Shutdown: everyone is told, nobody is told of the others leaving. */
START_TEST(shutdown_quietly)
{
        struct client a, b;

        up("");
        join(&a, "(1 member)\r\n");
        join(&b, "(2 members)\r\n");
        hear(a.fd, "entered room lobby\r\n");
        atomic_store(&halt.stopping, true);
        ck_assert_int_eq(write(halt_pipe[1], "x", 1), 1);
        const char *heard = hear(a.fd, "server shutting down\r\n");
        ck_assert_ptr_null(strstr(heard, "left room"));
        hear(b.fd, "server shutting down\r\n");
        leave(&a);
        leave(&b);
        down();
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("chat");
        TCase *tc = tcase_create("chat");

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, members_talk);
        tcase_add_test(tc, history_and_rooms);
        tcase_add_test(tc, password);
        tcase_add_test(tc, shutdown_quietly);
        suite_add_tcase(s, tc);
        return s;
}
