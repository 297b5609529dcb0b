/* Unit: the chat registry: rooms from the configuration, nicks, joining,
 * keys and limits, fan-out, history replay, topics, leaving, also under
 * threads (meant to run under ThreadSanitizer too). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "room.h"
#include "suite.h"
#include "text.h"

/* A chat client as the tests see it: the registry's member, its queue,
 * and a socketpair the queue is drained through. */
struct client {
        struct member m;
        struct msg_queue q;
        int sv[2];
        struct transport t;     /* on sv[0] */
};

static void client_init(struct client *c)
{
        memset(c, 0, sizeof(*c));
        ck_assert_int_eq(msg_queue_init(&c->q, 4u << 20, -1, &framing_telnet), 0);
        c->m.q = &c->q;
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c->sv), 0);
        transport_plain(&c->t, c->sv[0]);
}

static void client_free(struct client *c)
{
        msg_queue_destroy(&c->q);
        close(c->sv[0]);
        close(c->sv[1]);
}

/* Everything queued for c so far, NUL-terminated, malloc'd. */
static char *received(struct client *c)
{
        size_t size = msg_queue_bytes(&c->q) + 1, got = 0;
        char *buf = malloc(size);

        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(msg_queue_write(&c->q, &c->t), 0);
        ck_assert(!msg_queue_pending(&c->q));
        while (got < size - 1) {
                ssize_t n = recv(c->sv[1], buf + got, size - 1 - got, MSG_DONTWAIT);
                ck_assert_int_gt(n, 0);
                got += (size_t)n;
        }
        buf[got] = '\0';
        return buf;
}

/* c received exactly these lines (NULL-terminated list) since last time. */
static void expect(struct client *c, ...)
{
        char want[4096] = "";
        const char *line;
        va_list ap;

        va_start(ap, c);
        while ((line = va_arg(ap, const char *))) {
                strcat(want, line);
                strcat(want, "\r\n");
        }
        va_end(ap);
        char *got = received(c);
        ck_assert_str_eq(got, want);
        free(got);
}

static void expect_nothing(struct client *c)
{
        expect(c, NULL);
}

static struct msg *note_entered(const struct member *m, const struct room *r)
{
        return msg_new("entered %s %s", m->nick, r->name);
}

static struct msg *note_joined(const struct member *m, const struct room *r)
{
        return msg_new("joined %s %s %zu", m->nick, r->name, r->n_members);
}

static const struct room_notes notes = {
        .entered = note_entered,
        .joined = note_joined,
};

static struct msg *note_renamed(const char *old, const char *nick)
{
        return msg_new("renamed %s %s", old, nick);
}

static struct registry reg;
static struct client cl[6];
/* The test thread's batch, as a sender's connection keeps one. */
static struct msg_batch batch;

/* A [chat] rooms list as the configuration parses it. */
static const struct text_room_list *names(const char *text)
{
        static struct text_room_list l;
        char bad[64];

        ck_assert_int_eq(text_room_list(text, &l, bad, sizeof(bad)), 0);
        return &l;
}

static void setup_limits(size_t history, size_t max_rooms, size_t max_members)
{
        struct room_limits lim = {
                .history = history,
                .max_rooms = max_rooms,
                .max_members = max_members,
        };

        ck_assert_int_eq(room_registry_init(&reg, "lobby", names("music"), &lim), 0);
        for (size_t i = 0; i < sizeof(cl) / sizeof(cl[0]); i++)
                client_init(&cl[i]);
}

static void setup(void)
{
        setup_limits(10, 10, 0);
}

static void teardown(void)
{
        for (size_t i = 0; i < sizeof(cl) / sizeof(cl[0]); i++) {
                room_remove(&reg, &cl[i].m, NULL);
                client_free(&cl[i]);
        }
        room_registry_free(&reg);
}

/* Add clients cl[0] .. cl[n - 1] (guest1 .. guestN) and forget the lines. */
static void add_quietly(int n)
{
        for (int i = 0; i < n; i++) {
                ck_assert_int_eq(room_add(&reg, &cl[i].m, &notes), 0);
                free(received(&cl[i]));
        }
        for (int i = 0; i < n; i++)
                free(received(&cl[i]));
}

static struct msg *line(const char *text)
{
        struct msg *m = msg_new("%s", text);
        ck_assert_ptr_nonnull(m);
        return m;
}

/* Collects room_each_room() / room_each_member() output into a string. */
struct listing {
        char text[1024];
        size_t calls;
};

static void list_room(void *arg, const char *name, size_t members, size_t remote, bool keyed)
{
        (void)remote;
        struct listing *l = arg;
        size_t len = strlen(l->text);

        snprintf(l->text + len, sizeof(l->text) - len, "[%s %zu%s]", name, members,
                 keyed ? " key" : "");
        l->calls++;
}

static void list_member(void *arg, const char *room, const char *nick, const char *node)
{
        (void)node;
        struct listing *l = arg;
        size_t len = strlen(l->text);

        snprintf(l->text + len, sizeof(l->text) - len, "[%s %s]", room, nick);
        l->calls++;
}

static bool listed(const struct listing *l, const char *item)
{
        return strstr(l->text, item) != NULL;
}

START_TEST(registry_init_rooms)
{
        struct room_limits lim = { .history = 5, .max_rooms = 10 };
        struct listing l = { "", 0 };

        ck_assert_int_eq(room_registry_init(&reg, "lobby",
                                            names("lobby, #games,music  LOBBY\tGames"), &lim), 0);
        ck_assert_uint_eq(room_count(&reg), 3);
        ck_assert_uint_eq(room_members_total(&reg), 0);
        room_each_room(&reg, list_room, &l);
        ck_assert_uint_eq(l.calls, 3);
        ck_assert(listed(&l, "[lobby 0]"));
        ck_assert(listed(&l, "[games 0]"));
        ck_assert(listed(&l, "[music 0]"));
        for (struct room *r = reg.rooms; r; r = r->next) {
                ck_assert(r->persistent);
                ck_assert_uint_eq(history_capacity(&r->history), 5);
        }
        room_registry_free(&reg);

        /* No list is fine: the default room is made all the same. */
        ck_assert_int_eq(room_registry_init(&reg, "Main", names(""), &lim), 0);
        ck_assert_str_eq(reg.default_room, "Main");
        ck_assert_uint_eq(room_count(&reg), 1);
        room_registry_free(&reg);
        ck_assert_int_eq(room_registry_init(&reg, "main", names(" , "), &lim), 0);
        ck_assert_uint_eq(room_count(&reg), 1);
        room_registry_free(&reg);
}
END_TEST

/* The longest name a list can hold makes a room like any other. */
START_TEST(registry_init_longest_name)
{
        struct room_limits lim = { .history = 5, .max_rooms = 10 };
        char long_name[ROOM_NAME_MAX + 1];

        memset(long_name, 'a', ROOM_NAME_MAX);
        long_name[ROOM_NAME_MAX] = '\0';
        ck_assert_int_eq(room_registry_init(&reg, "lobby", names(long_name), &lim), 0);
        ck_assert_uint_eq(room_count(&reg), 2);
        room_registry_free(&reg);
}
END_TEST

START_TEST(add_guests)
{
        struct client *a = &cl[0], *b = &cl[1], *c = &cl[2];
        struct msg *m;

        ck_assert_int_eq(room_add(&reg, &a->m, &notes), 0);
        ck_assert_str_eq(a->m.nick, "guest1");
        ck_assert_ptr_nonnull(a->m.room);
        ck_assert_str_eq(a->m.room->name, "lobby");
        expect(a, "joined guest1 lobby 1", NULL);

        /* guest2 is taken (in another case): the next guest skips it. */
        ck_assert_int_eq(room_set_nick(&reg, &a->m, "GUEST2", NULL), 0);
        ck_assert_int_eq(room_add(&reg, &b->m, &notes), 0);
        ck_assert_str_eq(b->m.nick, "guest3");
        expect(a, "entered guest3 lobby", NULL);
        expect(b, "joined guest3 lobby 2", NULL);
        ck_assert_uint_eq(room_members_total(&reg), 2);

        /* History comes after the joined line, each line marked. */
        m = line("<GUEST2> hello");
        room_say(&reg, &a->m, m, false, true, &batch);
        msg_unref(m);
        m = line("<guest3> hi there");
        room_say(&reg, &b->m, m, false, true, &batch);
        msg_unref(m);
        free(received(a));
        free(received(b));
        ck_assert_int_eq(room_add(&reg, &c->m, &notes), 0);
        ck_assert_str_eq(c->m.nick, "guest4");
        expect(c, "joined guest4 lobby 3", "[history] <GUEST2> hello",
               "[history] <guest3> hi there", NULL);
        expect(a, "entered guest4 lobby", NULL);
        expect(b, "entered guest4 lobby", NULL);
        ck_assert_uint_eq(room_members_total(&reg), 3);

        /* Without notes, only the history. */
        ck_assert_int_eq(room_add(&reg, &cl[3].m, NULL), 0);
        expect(&cl[3], "[history] <GUEST2> hello", "[history] <guest3> hi there", NULL);
        expect_nothing(a);
        ck_assert_uint_eq(room_members_total(&reg), 4);
        ck_assert_uint_eq(room_count(&reg), 2);
}
END_TEST

START_TEST(set_nick)
{
        struct client *a = &cl[0], *b = &cl[1], *c = &cl[2];
        char to[ROOM_NICK_MAX + 1];

        add_quietly(3);
        ck_assert_int_eq(room_join(&reg, &c->m, "music", NULL, NULL, NULL), 0);
        free(received(c));

        ck_assert_int_eq(room_set_nick(&reg, &a->m, "Alice", note_renamed), 0);
        ck_assert_str_eq(a->m.nick, "Alice");
        expect_nothing(a);
        expect(b, "renamed guest1 Alice", NULL);
        expect_nothing(c);      /* another room */

        /* Taken in any case by someone else. */
        ck_assert_int_eq(room_set_nick(&reg, &b->m, "alice", note_renamed), ROOM_NICK_TAKEN);
        ck_assert_int_eq(room_set_nick(&reg, &c->m, "ALICE", note_renamed), ROOM_NICK_TAKEN);
        ck_assert_str_eq(b->m.nick, "guest2");
        expect_nothing(a);
        expect_nothing(b);

        /* A case variant of one's own nick is fine. */
        ck_assert_int_eq(room_set_nick(&reg, &a->m, "ALICE", note_renamed), 0);
        ck_assert_str_eq(a->m.nick, "ALICE");
        expect(b, "renamed Alice ALICE", NULL);
        ck_assert_int_eq(room_set_nick(&reg, &a->m, "ALICE", NULL), 0);

        /* The old nick is free again, the new one found in any case. */
        ck_assert_int_eq(room_set_nick(&reg, &b->m, "Guest1", NULL), 0);
        ck_assert_str_eq(b->m.nick, "Guest1");
        struct msg *m = line("psst");
        ck_assert_int_eq(room_privmsg(&reg, "guest2", m, to, NULL, 0), ROOM_NO_SUCH_NICK);
        ck_assert_int_eq(room_privmsg(&reg, "alice", m, to, NULL, 0), 0);
        ck_assert_str_eq(to, "ALICE");
        msg_unref(m);
        expect(a, "psst", NULL);
        expect_nothing(b);
        expect_nothing(c);
}
END_TEST

START_TEST(join_create_and_leave)
{
        struct client *a = &cl[0], *b = &cl[1], *c = &cl[2];
        struct msg *left = line("left");
        struct listing l = { "", 0 };

        add_quietly(3);
        ck_assert_uint_eq(room_count(&reg), 2);

        ck_assert_int_eq(room_join(&reg, &a->m, "games", NULL, left, &notes), 0);
        ck_assert_str_eq(a->m.room->name, "games");
        ck_assert_uint_eq(room_count(&reg), 3);
        expect(a, "joined guest1 games 1", NULL);
        expect(b, "left", NULL);
        expect(c, "left", NULL);

        ck_assert_int_eq(room_join(&reg, &a->m, "GAMES", NULL, left, &notes), ROOM_SAME);
        expect_nothing(a);
        expect_nothing(b);

        /* The room keeps the spelling it was created with. */
        ck_assert_int_eq(room_join(&reg, &b->m, "Games", NULL, left, &notes), 0);
        ck_assert_ptr_eq(b->m.room, a->m.room);
        expect(a, "entered guest2 games", NULL);
        expect(b, "joined guest2 games 2", NULL);
        expect(c, "left", NULL);

        room_each_room(&reg, list_room, &l);
        ck_assert_uint_eq(l.calls, 3);
        ck_assert(listed(&l, "[lobby 1]"));
        ck_assert(listed(&l, "[games 2]"));
        ck_assert(listed(&l, "[music 0]"));

        /* The last one out of a created room removes it... */
        ck_assert_int_eq(room_join(&reg, &a->m, "lobby", NULL, left, &notes), 0);
        ck_assert_uint_eq(room_count(&reg), 3);
        expect(b, "left", NULL);
        ck_assert_int_eq(room_join(&reg, &b->m, "lobby", NULL, NULL, NULL), 0);
        ck_assert_uint_eq(room_count(&reg), 2);
        free(received(a));
        free(received(b));
        free(received(c));

        /* ...but not a configured one, nor the default room. */
        ck_assert_int_eq(room_join(&reg, &a->m, "music", NULL, left, &notes), 0);
        ck_assert_int_eq(room_join(&reg, &a->m, "games", NULL, left, &notes), 0);
        ck_assert_uint_eq(room_count(&reg), 3);
        memset(&l, 0, sizeof(l));
        room_each_room(&reg, list_room, &l);
        ck_assert(listed(&l, "[music 0]"));
        ck_assert_int_eq(room_join(&reg, &b->m, "games", NULL, left, &notes), 0);
        ck_assert_int_eq(room_join(&reg, &c->m, "games", NULL, left, &notes), 0);
        memset(&l, 0, sizeof(l));
        room_each_room(&reg, list_room, &l);
        ck_assert(listed(&l, "[lobby 0]"));
        ck_assert_uint_eq(room_members_total(&reg), 3);
        msg_unref(left);
}
END_TEST

START_TEST(join_keyed)
{
        struct client *a = &cl[0], *b = &cl[1];
        struct listing l = { "", 0 };

        add_quietly(2);
        ck_assert_int_eq(room_join(&reg, &a->m, "vault", "s3cret", NULL, &notes), 0);
        free(received(a));
        room_each_room(&reg, list_room, &l);
        ck_assert(listed(&l, "[vault 1 key]"));
        ck_assert(listed(&l, "[lobby 1]"));

        ck_assert_int_eq(room_join(&reg, &b->m, "vault", NULL, NULL, &notes), ROOM_BAD_KEY);
        ck_assert_int_eq(room_join(&reg, &b->m, "vault", "", NULL, &notes), ROOM_BAD_KEY);
        ck_assert_int_eq(room_join(&reg, &b->m, "vault", "wrong", NULL, &notes), ROOM_BAD_KEY);
        ck_assert_int_eq(room_join(&reg, &b->m, "vault", "s3cre", NULL, &notes), ROOM_BAD_KEY);
        ck_assert_int_eq(room_join(&reg, &b->m, "vault", "s3cret!", NULL, &notes), ROOM_BAD_KEY);
        ck_assert_int_eq(room_join(&reg, &b->m, "vault", "S3CRET", NULL, &notes), ROOM_BAD_KEY);
        ck_assert_str_eq(b->m.room->name, "lobby");
        expect_nothing(a);
        expect_nothing(b);

        ck_assert_int_eq(room_join(&reg, &b->m, "VAULT", "s3cret", NULL, &notes), 0);
        expect(a, "entered guest2 vault", NULL);
        expect(b, "joined guest2 vault 2", NULL);

        /* An open room ignores a key; a created keyed room lasts only as
         * long as its members. */
        ck_assert_int_eq(room_join(&reg, &a->m, "music", "whatever", NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &b->m, "music", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &a->m, "vault", NULL, NULL, NULL), 0);
        memset(&l, 0, sizeof(l));
        room_each_room(&reg, list_room, &l);
        ck_assert(listed(&l, "[vault 1]"));
}
END_TEST

START_TEST(join_limits)
{
        struct client *a = &cl[0], *b = &cl[1], *c = &cl[2], *d = &cl[3];
        struct room_limits lim = { .history = 10, .max_rooms = 3, .max_members = 2 };

        room_set_limits(&reg, &lim);
        /* The default room takes any number of members. */
        add_quietly(4);
        ck_assert_uint_eq(room_members_total(&reg), 4);

        ck_assert_int_eq(room_join(&reg, &a->m, "r1", NULL, NULL, NULL), 0);
        ck_assert_uint_eq(room_count(&reg), 3);
        ck_assert_int_eq(room_join(&reg, &b->m, "r2", NULL, NULL, NULL), ROOM_TOO_MANY);
        ck_assert_str_eq(b->m.room->name, "lobby");
        ck_assert_uint_eq(room_count(&reg), 3);
        ck_assert_int_eq(room_join(&reg, &b->m, "r1", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &c->m, "r1", NULL, NULL, &notes), ROOM_FULL);
        ck_assert_str_eq(c->m.room->name, "lobby");
        expect_nothing(a);
        expect_nothing(c);
        /* Configured rooms are capped too. */
        ck_assert_int_eq(room_join(&reg, &c->m, "music", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &d->m, "music", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &a->m, "music", NULL, NULL, NULL), ROOM_FULL);
        /* ...but not the default room. */
        ck_assert_int_eq(room_join(&reg, &c->m, "lobby", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &d->m, "lobby", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &a->m, "lobby", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &b->m, "lobby", NULL, NULL, NULL), 0);
        ck_assert_uint_eq(room_count(&reg), 2);

        /* New limits apply to later joins; 0 members = no cap. */
        lim.max_members = 0;
        lim.max_rooms = 4;
        room_set_limits(&reg, &lim);
        for (int i = 0; i < 4; i++)
                ck_assert_int_eq(room_join(&reg, &cl[i].m, "music", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &a->m, "r1", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &b->m, "r2", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &c->m, "r3", NULL, NULL, NULL), ROOM_TOO_MANY);
        ck_assert_uint_eq(room_count(&reg), 4);

        /* Lowered below what exists: existing rooms stay, no new ones. */
        lim.max_rooms = 2;
        room_set_limits(&reg, &lim);
        ck_assert_uint_eq(room_count(&reg), 4);
        ck_assert_int_eq(room_join(&reg, &c->m, "r1", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &d->m, "r3", NULL, NULL, NULL), ROOM_TOO_MANY);
}
END_TEST

START_TEST(say_fan_out)
{
        struct client *a = &cl[0], *b = &cl[1], *c = &cl[2], *d = &cl[3];
        struct msg *m;

        add_quietly(4);
        ck_assert_int_eq(room_join(&reg, &d->m, "music", NULL, NULL, NULL), 0);
        free(received(d));

        m = line("<guest1> hi");
        ck_assert_uint_eq(room_say(&reg, &a->m, m, false, true, &batch), 0);     /* 13 of 4 MiB */
        ck_assert_uint_eq(atomic_load(&m->refs), 3);    /* shared, not copied */
        msg_unref(m);
        expect_nothing(a);
        expect(b, "<guest1> hi", NULL);
        expect(c, "<guest1> hi", NULL);
        expect_nothing(d);

        m = line("* guest1 waves");
        ck_assert_uint_eq(room_say(&reg, &a->m, m, true, false, &batch), 0);
        msg_unref(m);
        expect(a, "* guest1 waves", NULL);
        expect(b, "* guest1 waves", NULL);
        expect(c, "* guest1 waves", NULL);
        expect_nothing(d);

        /* Only the kept line is replayed, without its CR LF doubled. */
        ck_assert_int_eq(room_join(&reg, &d->m, "lobby", NULL, NULL, &notes), 0);
        expect(d, "joined guest4 lobby 4", "[history] <guest1> hi", NULL);

        /* Order is the same for everyone. */
        for (int i = 0; i < 3; i++)
                expect(&cl[i], "entered guest4 lobby", NULL);
        for (int i = 0; i < 20; i++) {
                char text[16];
                snprintf(text, sizeof(text), "%d", i);
                m = line(text);
                room_say(&reg, &cl[i % 4].m, m, true, false, &batch);
                msg_unref(m);
        }
        char *want = received(a);
        for (int i = 1; i < 4; i++) {
                char *got = received(&cl[i]);
                ck_assert_str_eq(got, want);
                free(got);
        }
        ck_assert_int_eq(strncmp(want, "0\r\n1\r\n2\r\n", 9), 0);
        free(want);
}
END_TEST

/* Reinitialise c's queue with another byte limit (before it is added). */
static void queue_limit(struct client *c, size_t limit)
{
        msg_queue_destroy(&c->q);
        ck_assert_int_eq(msg_queue_init(&c->q, limit, -1, &framing_telnet), 0);
}

START_TEST(say_reports_fill)
{
        struct client *a = &cl[0], *b = &cl[1], *c = &cl[2];
        struct msg *m = line("12345678");      /* 10 bytes with CR LF */
        /* What one such line costs a queue: its bytes and its place. */
        const size_t u = 10 + MSG_QUEUE_ENTRY_COST;

        queue_limit(a, 2 * u);
        queue_limit(b, 10 * u);
        queue_limit(c, 20 * u);
        for (int i = 0; i < 3; i++)     /* no notes: nothing queued yet */
                ck_assert_int_eq(room_add(&reg, &cl[i].m, NULL), 0);

        /* The fullest queue that got the line, the sender's own excluded. */
        ck_assert_uint_eq(room_say(&reg, &a->m, m, false, false, &batch), 10);
        ck_assert_uint_eq(room_say(&reg, &a->m, m, false, false, &batch), 20);
        ck_assert_uint_eq(room_say(&reg, &c->m, m, false, false, &batch), 50);
        ck_assert_uint_eq(room_say(&reg, &c->m, m, true, false, &batch), 100);
        /* An overflowing queue does not count: that client is dropped. */
        ck_assert(!msg_queue_overflowed(&a->q));
        ck_assert_uint_eq(room_say(&reg, &b->m, m, true, false, &batch), 50);
        ck_assert(msg_queue_overflowed(&a->q));
        ck_assert_uint_eq(msg_queue_bytes(&a->q), 20);
        ck_assert_uint_eq(msg_queue_bytes(&c->q), 40);
        free(received(b));
        ck_assert_uint_eq(room_say(&reg, &a->m, m, false, false, &batch), 25);

        /* Nobody else in the room: 0. */
        ck_assert_int_eq(room_join(&reg, &c->m, "alone", NULL, NULL, NULL), 0);
        ck_assert_uint_eq(room_say(&reg, &c->m, m, false, true, &batch), 0);
        msg_unref(m);
}
END_TEST

/* A queue of c that signals an eventfd (returned) when it needs its owner. */
static int queue_with_wake(struct client *c)
{
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

        ck_assert_int_ge(efd, 0);
        msg_queue_destroy(&c->q);
        ck_assert_int_eq(msg_queue_init(&c->q, 1 << 20, efd, &framing_telnet), 0);
        return efd;
}

static bool woken(int efd)
{
        uint64_t v;
        return read(efd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

START_TEST(batch_wakes_once_at_its_end)
{
        struct client *a = &cl[0], *b = &cl[1], *c = &cl[2];
        int eb = queue_with_wake(b), ec = queue_with_wake(c);

        for (int i = 0; i < 3; i++)
                ck_assert_int_eq(room_add(&reg, &cl[i].m, NULL), 0);
        /* Outside a batch a line wakes its readers at once. */
        struct msg *m1 = line("<guest1> one");
        room_say(&reg, &a->m, m1, false, false, &batch);
        ck_assert(woken(eb) && woken(ec));
        expect(b, "<guest1> one", NULL);
        expect(c, "<guest1> one", NULL);

        /* In a batch, lines are queued in order at once, and each reader is
         * woken once, when the batch ends. */
        struct msg *m2 = line("<guest1> two"), *m3 = line("<guest1> three");
        msg_batch_begin(&batch);
        room_say(&reg, &a->m, m2, false, false, &batch);
        room_say(&reg, &a->m, m3, false, false, &batch);
        ck_assert(!woken(eb) && !woken(ec));
        ck_assert_uint_eq(msg_queue_bytes(&b->q), strlen("<guest1> two\r\n<guest1> three\r\n"));
        msg_batch_end(&batch);
        ck_assert(woken(eb) && woken(ec));
        ck_assert(!woken(eb) && !woken(ec));
        expect(b, "<guest1> two", "<guest1> three", NULL);
        expect(c, "<guest1> two", "<guest1> three", NULL);
        msg_batch_end(&batch);  /* no batch: nothing happens */

        /* A member leaving stays owed its wake-up: its owner closes its
         * queue only once the batch has paid (msg_queue_close()). */
        msg_batch_begin(&batch);
        room_say(&reg, &a->m, m1, false, false, &batch);
        room_remove(&reg, &c->m, NULL);
        ck_assert(!woken(ec) && !woken(eb));
        ck_assert_uint_eq(c->q.pins, 1);
        msg_batch_end(&batch);
        ck_assert(woken(ec) && woken(eb));
        ck_assert_uint_eq(c->q.pins, 0);
        expect(c, "<guest1> one", NULL);

        msg_unref(m1);
        msg_unref(m2);
        msg_unref(m3);
        close(eb);
        close(ec);
}
END_TEST

/* Bytes sent to fd but not read yet. */
static size_t unread(int fd)
{
        int n = 0;

        ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
        return (size_t)n;
}

/* Everything c's socket holds once its queue is written too. */
static char *arrived(struct client *c)
{
        static char buf[8192];
        size_t got = 0;

        ck_assert_int_eq(msg_queue_write(&c->q, &c->t), 0);
        for (;;) {
                ssize_t n = recv(c->sv[1], buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        buf[got] = '\0';
        return buf;
}

START_TEST(batch_writes_idle_members_directly)
{
        struct client *a = &cl[0], *b = &cl[1], *c = &cl[2];
        char name[ROOM_NAME_MAX + 1], topic[ROOM_TOPIC_MAX + 1];

        add_quietly(3);
        msg_queue_set_direct(&b->q, &b->t);
        msg_queue_set_direct(&c->q, &c->t);
        struct msg *m1 = line("<guest1> one"), *m2 = line("<guest1> two");
        struct msg *m3 = line("<guest1> three"), *t = line("* topic: x");

        /* Outside a batch, lines are queued for the owners to write. */
        room_say(&reg, &a->m, m1, false, false, &batch);
        ck_assert_uint_eq(msg_queue_bytes(&b->q), strlen("<guest1> one\r\n"));
        ck_assert_str_eq(arrived(b), "<guest1> one\r\n");
        ck_assert_str_eq(arrived(c), "<guest1> one\r\n");

        /* In a batch: the sender owns the idle members' sockets until the
         * batch ends, then writes each its lines in one go. What else
         * reaches them meanwhile (a notice, a line that follows it) is
         * queued behind, so order holds. c's queue is not idle (it holds
         * a private line), so c gets everything through its queue. */
        struct msg *p = line("*guest3* private");
        char to[ROOM_NICK_MAX + 1];
        ck_assert_int_eq(room_privmsg(&reg, "guest3", p, to, NULL, 0), 0);
        msg_batch_begin(&batch);
        room_say(&reg, &a->m, m1, false, false, &batch);
        room_say(&reg, &a->m, m2, false, false, &batch);
        ck_assert(!msg_queue_pending(&b->q));   /* owned by the batch */
        ck_assert_uint_eq(msg_queue_bytes(&b->q), 0);
        room_topic(&reg, &a->m, "x", t, name, topic);
        room_say(&reg, &a->m, m3, false, false, &batch);
        ck_assert_uint_eq(unread(b->sv[1]), 0);
        msg_batch_end(&batch);
        ck_assert_str_eq(arrived(b),
                         "<guest1> one\r\n<guest1> two\r\n* topic: x\r\n<guest1> three\r\n");
        ck_assert_str_eq(arrived(c), "*guest3* private\r\n<guest1> one\r\n<guest1> two\r\n"
                                     "* topic: x\r\n<guest1> three\r\n");
        /* The sender gets only the notice, through its own queue. */
        ck_assert_str_eq(arrived(a), "* topic: x\r\n");

        msg_unref(m1);
        msg_unref(m2);
        msg_unref(m3);
        msg_unref(t);
        msg_unref(p);
}
END_TEST

START_TEST(history_capacity_and_resize)
{
        struct client *a = &cl[0], *b = &cl[1];
        struct room_limits lim = { .history = 3, .max_rooms = 10 };
        struct msg *m;

        room_set_limits(&reg, &lim);
        add_quietly(1);
        for (int i = 1; i <= 5; i++) {
                m = msg_new("line %d", i);
                room_say(&reg, &a->m, m, false, true, &batch);
                msg_unref(m);
        }
        ck_assert_int_eq(room_add(&reg, &b->m, NULL), 0);
        expect(b, "[history] line 3", "[history] line 4", "[history] line 5", NULL);

        /* History is per room: a new one starts empty, with the new size. */
        ck_assert_int_eq(room_join(&reg, &a->m, "games", NULL, NULL, NULL), 0);
        expect_nothing(a);
        m = line("in games");
        room_say(&reg, &a->m, m, false, true, &batch);
        msg_unref(m);

        /* Shrinking keeps the newest lines. */
        lim.history = 1;
        room_set_limits(&reg, &lim);
        ck_assert_int_eq(room_join(&reg, &b->m, "music", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &b->m, "lobby", NULL, NULL, NULL), 0);
        expect(b, "[history] line 5", NULL);
        ck_assert_int_eq(room_join(&reg, &b->m, "games", NULL, NULL, NULL), 0);
        expect(b, "[history] in games", NULL);

        /* Off: nothing is kept or replayed. */
        lim.history = 0;
        room_set_limits(&reg, &lim);
        m = line("gone");
        room_say(&reg, &a->m, m, false, true, &batch);
        msg_unref(m);
        expect(b, "gone", NULL);
        ck_assert_int_eq(room_join(&reg, &b->m, "lobby", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &b->m, "games", NULL, NULL, NULL), 0);
        expect_nothing(b);

        /* Growing again starts from empty rings and keeps what is said. */
        lim.history = 10;
        room_set_limits(&reg, &lim);
        for (int i = 0; i < 12; i++) {
                m = msg_new("again %d", i);
                room_say(&reg, &a->m, m, false, true, &batch);
                msg_unref(m);
        }
        free(received(b));
        ck_assert_int_eq(room_join(&reg, &b->m, "lobby", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &b->m, "games", NULL, NULL, NULL), 0);
        char *got = received(b);
        ck_assert_int_eq(strncmp(got, "[history] again 2\r\n", 19), 0);
        ck_assert_ptr_nonnull(strstr(got, "[history] again 11\r\n"));
        free(got);
}
END_TEST

START_TEST(privmsg_by_nick)
{
        struct client *a = &cl[0], *b = &cl[1], *c = &cl[2];
        char to[ROOM_NICK_MAX + 1] = "unchanged";
        struct msg *m = line("*guest1* psst");

        add_quietly(3);
        ck_assert_int_eq(room_join(&reg, &c->m, "elsewhere", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_set_nick(&reg, &b->m, "BoB", NULL), 0);
        ck_assert_int_eq(room_set_nick(&reg, &c->m, "Carol", NULL), 0);
        free(received(c));

        ck_assert_int_eq(room_privmsg(&reg, "bob", m, to, NULL, 0), 0);
        ck_assert_str_eq(to, "BoB");
        expect(b, "*guest1* psst", NULL);
        expect_nothing(a);

        /* Any room; and to oneself. */
        ck_assert_int_eq(room_privmsg(&reg, "CAROL", m, to, NULL, 0), 0);
        ck_assert_str_eq(to, "Carol");
        expect(c, "*guest1* psst", NULL);
        ck_assert_int_eq(room_privmsg(&reg, "guest1", m, to, NULL, 0), 0);
        expect(a, "*guest1* psst", NULL);

        strcpy(to, "unchanged");
        ck_assert_int_eq(room_privmsg(&reg, "nobody", m, to, NULL, 0), ROOM_NO_SUCH_NICK);
        ck_assert_int_eq(room_privmsg(&reg, "bo", m, to, NULL, 0), ROOM_NO_SUCH_NICK);
        ck_assert_int_eq(room_privmsg(&reg, "bobby", m, to, NULL, 0), ROOM_NO_SUCH_NICK);
        ck_assert_int_eq(room_privmsg(&reg, "guest2", m, to, NULL, 0), ROOM_NO_SUCH_NICK);
        ck_assert_str_eq(to, "unchanged");
        expect_nothing(a);
        expect_nothing(b);
        expect_nothing(c);
        ck_assert_uint_eq(atomic_load(&m->refs), 1);
        msg_unref(m);
}
END_TEST

START_TEST(topic_set_get)
{
        struct client *a = &cl[0], *b = &cl[1], *c = &cl[2];
        char name[ROOM_NAME_MAX + 1], topic[ROOM_TOPIC_MAX + 1];
        char big[ROOM_TOPIC_MAX + 50];
        struct msg *m = line("topic is now: news");

        add_quietly(3);
        ck_assert_int_eq(room_join(&reg, &c->m, "music", NULL, NULL, NULL), 0);
        free(received(c));

        room_topic(&reg, &a->m, NULL, NULL, name, topic);
        ck_assert_str_eq(name, "lobby");
        ck_assert_str_eq(topic, "");

        room_topic(&reg, &a->m, "news", m, name, topic);
        msg_unref(m);
        ck_assert_str_eq(name, "lobby");
        ck_assert_str_eq(topic, "news");
        expect(a, "topic is now: news", NULL);  /* the setter too */
        expect(b, "topic is now: news", NULL);
        expect_nothing(c);

        room_topic(&reg, &b->m, NULL, NULL, name, topic);
        ck_assert_str_eq(topic, "news");
        room_topic(&reg, &c->m, NULL, NULL, name, topic);
        ck_assert_str_eq(name, "music");
        ck_assert_str_eq(topic, "");

        /* Too long: cut at ROOM_TOPIC_MAX. A set without announce is quiet. */
        memset(big, 't', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        room_topic(&reg, &c->m, big, NULL, name, topic);
        ck_assert_uint_eq(strlen(topic), ROOM_TOPIC_MAX);
        expect_nothing(c);

        /* A member outside any room gets empty strings. */
        room_remove(&reg, &c->m, NULL);
        room_topic(&reg, &c->m, "ignored", NULL, name, topic);
        ck_assert_str_eq(name, "");
        ck_assert_str_eq(topic, "");

        /* The topic belongs to the room and outlives its members only if
         * the room does. */
        ck_assert_int_eq(room_join(&reg, &a->m, "tmp", NULL, NULL, NULL), 0);
        room_topic(&reg, &a->m, "short-lived", NULL, name, topic);
        ck_assert_int_eq(room_join(&reg, &a->m, "lobby", NULL, NULL, NULL), 0);
        ck_assert_int_eq(room_join(&reg, &a->m, "tmp", NULL, NULL, NULL), 0);
        room_topic(&reg, &a->m, NULL, NULL, name, topic);
        ck_assert_str_eq(topic, "");
}
END_TEST

START_TEST(each_member_lists)
{
        struct client *a = &cl[0], *d = &cl[3];
        struct listing l = { "", 0 };

        add_quietly(4);
        ck_assert_int_eq(room_join(&reg, &d->m, "music", NULL, NULL, NULL), 0);
        room_each_member(&reg, &a->m, list_member, &l);
        ck_assert_uint_eq(l.calls, 3);
        ck_assert(listed(&l, "[lobby guest1]"));
        ck_assert(listed(&l, "[lobby guest2]"));
        ck_assert(listed(&l, "[lobby guest3]"));

        memset(&l, 0, sizeof(l));
        room_each_member(&reg, &d->m, list_member, &l);
        ck_assert_str_eq(l.text, "[music guest4]");

        memset(&l, 0, sizeof(l));
        room_each_member(&reg, &cl[5].m, list_member, &l);      /* never added */
        ck_assert_uint_eq(l.calls, 0);
}
END_TEST

START_TEST(remove_member)
{
        struct client *a = &cl[0], *b = &cl[1], *c = &cl[2];
        struct msg *left = line("guest2 left");
        struct listing l = { "", 0 };

        add_quietly(3);
        room_remove(&reg, &b->m, left);
        ck_assert_ptr_null(b->m.room);
        expect(a, "guest2 left", NULL);
        expect(c, "guest2 left", NULL);
        expect_nothing(b);
        ck_assert_uint_eq(room_members_total(&reg), 2);
        room_each_member(&reg, &a->m, list_member, &l);
        ck_assert_uint_eq(l.calls, 2);
        ck_assert(!listed(&l, "guest2"));

        /* Twice is harmless. */
        room_remove(&reg, &b->m, left);
        ck_assert_uint_eq(room_members_total(&reg), 2);
        expect_nothing(a);

        /* The nick is free again, nobody can message it. */
        char to[ROOM_NICK_MAX + 1];
        ck_assert_int_eq(room_privmsg(&reg, "guest2", left, to, NULL, 0), ROOM_NO_SUCH_NICK);
        ck_assert_int_eq(room_set_nick(&reg, &c->m, "Guest2", NULL), 0);

        /* The last member out of a created room takes it along. */
        ck_assert_int_eq(room_join(&reg, &a->m, "tmp", NULL, NULL, NULL), 0);
        ck_assert_uint_eq(room_count(&reg), 3);
        room_remove(&reg, &a->m, left);
        ck_assert_uint_eq(room_count(&reg), 2);
        ck_assert_uint_eq(room_members_total(&reg), 1);
        expect_nothing(c);

        /* Back in under a fresh guest nick. */
        ck_assert_int_eq(room_add(&reg, &b->m, &notes), 0);
        ck_assert_str_eq(b->m.nick, "guest4");
        expect(b, "joined guest4 lobby 2", NULL);
        ck_assert_uint_eq(room_members_total(&reg), 2);
        room_remove(&reg, &c->m, NULL);
        room_remove(&reg, &b->m, NULL);
        ck_assert_uint_eq(room_members_total(&reg), 0);
        ck_assert_uint_eq(room_count(&reg), 2);
        msg_unref(left);
}
END_TEST

START_TEST(many_members)
{
        enum { N = 300 };
        struct client *many = calloc(N, sizeof(*many));
        struct listing l = { "", 0 };

        ck_assert_ptr_nonnull(many);
        for (int i = 0; i < N; i++) {
                client_init(&many[i]);
                ck_assert_int_eq(room_add(&reg, &many[i].m, NULL), 0);
        }
        ck_assert_uint_eq(room_members_total(&reg), N);
        /* Remove every other one: the rest keep their slots right. */
        for (int i = 0; i < N; i += 2)
                room_remove(&reg, &many[i].m, NULL);
        for (int i = 1; i < N; i += 2) {
                struct room *r = many[i].m.room;
                ck_assert_ptr_eq(r->members[many[i].m.slot], &many[i].m);
        }
        room_each_member(&reg, &many[1].m, list_member, &l);
        ck_assert_uint_eq(l.calls, N / 2);
        for (int i = 1; i < N; i += 2)
                room_remove(&reg, &many[i].m, NULL);
        ck_assert_uint_eq(room_members_total(&reg), 0);
        for (int i = 0; i < N; i++)
                client_free(&many[i]);
        free(many);
}
END_TEST

/* Threads: every thread owns a few clients and does random operations
 * with them, draining their queues as the client threads do. */
enum { THREADS = 8, PER_THREAD = 3, OPS = 3000 };

static struct client tclients[THREADS * PER_THREAD];     /* PER_THREAD a thread */

struct worker {
        int id;
        unsigned seed;
        int errors;
        char first_error[128];
        size_t joined, renamed, said, told;
        struct msg_batch batch;         /* as its connection would have */
};

static void worker_error(struct worker *w, const char *what, int r)
{
        if (w->errors++ == 0)
                snprintf(w->first_error, sizeof(w->first_error), "%s: %d", what, r);
}

static void drain_quietly(struct worker *w, struct client *c)
{
        char buf[8192];
        int r = msg_queue_write(&c->q, &c->t);

        if (r != 0)
                worker_error(w, "write", r);
        if (msg_queue_overflowed(&c->q))
                worker_error(w, "overflow", 0);
        while (recv(c->sv[1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
                ;
}

/* Drain all of c's queue, however long, dropping what arrives. */
static void discard(struct client *c)
{
        char buf[8192];

        do {
                ck_assert_int_eq(msg_queue_write(&c->q, &c->t), 0);
                while (recv(c->sv[1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
                        ;
        } while (msg_queue_pending(&c->q));
}

static const char *const room_pool[] = {
        "lobby", "p1", "P2", "r0", "r1", "R2", "r3", "r4", "r5", "k0", "k1",
};
#define ROOM_POOL (sizeof(room_pool) / sizeof(room_pool[0]))

static void random_nick(struct worker *w, char *nick, size_t size)
{
        unsigned n = (unsigned)rand_r(&w->seed) % 40;

        snprintf(nick, size, rand_r(&w->seed) % 2 ? "Nick%u" : "nick%u", n);
}

static void one_op(struct worker *w, struct client *c)
{
        char nick[ROOM_NICK_MAX + 1], to[ROOM_NICK_MAX + 1];
        char name[ROOM_NAME_MAX + 1], topic[ROOM_TOPIC_MAX + 1];
        struct msg *m;
        unsigned fill;
        int r;

        switch (rand_r(&w->seed) % 10) {
        case 0:
        case 1: {
                const char *room = room_pool[(unsigned)rand_r(&w->seed) % ROOM_POOL];
                const char *key = NULL;
                if (room[0] == 'k')
                        key = rand_r(&w->seed) % 4 ? "key" : "nope";
                else if (rand_r(&w->seed) % 8 == 0)
                        key = "key";
                m = msg_new("%s left", c->m.nick);
                r = room_join(&reg, &c->m, room, key, m, &notes);
                msg_unref(m);
                if (r == 0) {
                        w->joined++;
                        if (text_casecmp(c->m.room->name, room) != 0)
                                worker_error(w, "join: wrong room", r);
                } else if (r != ROOM_SAME && r != ROOM_BAD_KEY && r != ROOM_FULL &&
                           r != ROOM_TOO_MANY) {
                        worker_error(w, "join", r);
                }
                break;
        }
        case 2:
                random_nick(w, nick, sizeof(nick));
                r = room_set_nick(&reg, &c->m, nick, note_renamed);
                if (r == 0) {
                        w->renamed++;
                        if (strcmp(c->m.nick, nick) != 0)
                                worker_error(w, "nick: not set", r);
                } else if (r != ROOM_NICK_TAKEN) {
                        worker_error(w, "nick", r);
                }
                break;
        case 3:
        case 4:
                m = msg_new("<%s> op by thread %d", c->m.nick, w->id);
                /* Half in batches, which write idle members directly. */
                bool in_batch = rand_r(&w->seed) % 2;
                if (in_batch)
                        msg_batch_begin(&w->batch);
                fill = room_say(&reg, &c->m, m, rand_r(&w->seed) % 4 == 0, rand_r(&w->seed) % 2,
                                &w->batch);
                msg_unref(m);
                if (in_batch)
                        msg_batch_end(&w->batch);
                if (fill > 100)
                        worker_error(w, "say: fill", (int)fill);
                w->said++;
                break;
        case 5:
                random_nick(w, nick, sizeof(nick));
                m = msg_new("*%s* private", c->m.nick);
                r = room_privmsg(&reg, nick, m, to, NULL, 0);
                msg_unref(m);
                if (r == 0) {
                        w->told++;
                        if (text_casecmp(to, nick) != 0)
                                worker_error(w, "privmsg: wrong nick", r);
                } else if (r != ROOM_NO_SUCH_NICK) {
                        worker_error(w, "privmsg", r);
                }
                break;
        case 6:
                if (rand_r(&w->seed) % 2) {
                        room_topic(&reg, &c->m, NULL, NULL, name, topic);
                } else {
                        snprintf(topic, sizeof(topic), "set by %d", w->id);
                        m = msg_new("topic: %s", topic);
                        room_topic(&reg, &c->m, topic, m, name, topic);
                        msg_unref(m);
                }
                if (text_casecmp(name, c->m.room->name) != 0)
                        worker_error(w, "topic: wrong room", 0);
                break;
        case 7:
                m = msg_new("%s quit", c->m.nick);
                room_remove(&reg, &c->m, m);
                msg_unref(m);
                drain_quietly(w, c);
                r = room_add(&reg, &c->m, &notes);
                if (r != 0)
                        worker_error(w, "re-add", r);
                break;
        case 8: {
                struct listing l = { "", 0 };
                room_each_member(&reg, &c->m, list_member, &l);
                if (l.calls == 0)
                        worker_error(w, "each_member: none", 0);
                break;
        }
        default: {
                struct listing l = { "", 0 };
                room_each_room(&reg, list_room, &l);
                if (l.calls < 3)
                        worker_error(w, "each_room: too few", (int)l.calls);
                if (w->id == 0) {
                        /* A reload now and then. */
                        struct room_limits lim = {
                                .history = 1 + (unsigned)rand_r(&w->seed) % 5,
                                .max_rooms = 8,
                                .max_members = 5,
                        };
                        room_set_limits(&reg, &lim);
                }
                break;
        }
        }
}

static void *worker(void *arg)
{
        struct worker *w = arg;
        struct client *mine = &tclients[w->id * PER_THREAD];

        for (int i = 0; i < PER_THREAD; i++) {
                int r = room_add(&reg, &mine[i].m, &notes);
                if (r != 0)
                        worker_error(w, "add", r);
        }
        for (int op = 0; op < OPS; op++) {
                one_op(w, &mine[rand_r(&w->seed) % PER_THREAD]);
                for (int i = 0; i < PER_THREAD; i++)
                        drain_quietly(w, &mine[i]);
        }
        return NULL;
}

START_TEST(threads_consistency)
{
        struct room_limits lim = { .history = 3, .max_rooms = 8, .max_members = 5 };
        struct worker w[THREADS];
        pthread_t t[THREADS];
        size_t total = 0, rooms = 0, joined = 0, renamed = 0, said = 0, told = 0;

        ck_assert_int_eq(room_registry_init(&reg, "lobby", names("p1 p2"), &lim), 0);
        for (int i = 0; i < THREADS * PER_THREAD; i++) {
                client_init(&tclients[i]);
                /* Half of them take lines straight to their sockets. */
                if (i % 2)
                        msg_queue_set_direct(&tclients[i].q, &tclients[i].t);
        }
        memset(w, 0, sizeof(w));
        for (int i = 0; i < THREADS; i++) {
                w[i].id = i;
                w[i].seed = 1000u + (unsigned)i;
                ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &w[i]), 0);
        }
        for (int i = 0; i < THREADS; i++) {
                pthread_join(t[i], NULL);
                ck_assert_msg(w[i].errors == 0, "thread %d: %d errors, first: %s", i,
                              w[i].errors, w[i].first_error);
                joined += w[i].joined;
                renamed += w[i].renamed;
                said += w[i].said;
                told += w[i].told;
        }
        /* The run did exercise what it is meant to. */
        ck_assert_uint_gt(joined, 100);
        ck_assert_uint_gt(renamed, 100);
        ck_assert_uint_gt(said, 100);
        ck_assert_uint_gt(told, 10);

        /* The threads are done: the registry can be read directly. */
        ck_assert_uint_eq(room_members_total(&reg), THREADS * PER_THREAD);
        for (struct room *r = reg.rooms; r; r = r->next) {
                rooms++;
                ck_assert_msg(r->n_members > 0 || r->persistent, "empty room %s left", r->name);
                for (size_t i = 0; i < r->n_members; i++) {
                        ck_assert_ptr_eq(r->members[i]->room, r);
                        ck_assert_uint_eq(r->members[i]->slot, i);
                }
                total += r->n_members;
                for (struct room *o = r->next; o; o = o->next)
                        ck_assert_int_ne(text_casecmp(r->name, o->name), 0);
        }
        ck_assert_uint_eq(total, THREADS * PER_THREAD);
        ck_assert_uint_eq(rooms, room_count(&reg));
        ck_assert_uint_le(rooms, 8);

        /* Every nick unique, and each one reaches its owner only. */
        for (int i = 0; i < THREADS * PER_THREAD; i++) {
                struct client *c = &tclients[i];
                char to[ROOM_NICK_MAX + 1];
                struct msg *m = line("ping");

                ck_assert_ptr_nonnull(c->m.room);
                for (int j = i + 1; j < THREADS * PER_THREAD; j++)
                        ck_assert_int_ne(text_casecmp(c->m.nick, tclients[j].m.nick), 0);
                discard(c);
                ck_assert_int_eq(room_privmsg(&reg, c->m.nick, m, to, NULL, 0), 0);
                ck_assert_str_eq(to, c->m.nick);
                msg_unref(m);
                expect(c, "ping", NULL);
        }

        /* Everyone leaves: only the configured rooms remain. */
        for (int i = 0; i < THREADS * PER_THREAD; i++) {
                room_remove(&reg, &tclients[i].m, NULL);
                client_free(&tclients[i]);
        }
        ck_assert_uint_eq(room_members_total(&reg), 0);
        ck_assert_uint_eq(room_count(&reg), 3);
        room_registry_free(&reg);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("room");
        TCase *ti = tcase_create("init");
        TCase *tc = tcase_create("registry");
        TCase *tt = tcase_create("threads");

        tcase_add_test(ti, registry_init_rooms);
        tcase_add_test(ti, registry_init_longest_name);
        suite_add_tcase(s, ti);

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, add_guests);
        tcase_add_test(tc, set_nick);
        tcase_add_test(tc, join_create_and_leave);
        tcase_add_test(tc, join_keyed);
        tcase_add_test(tc, join_limits);
        tcase_add_test(tc, say_fan_out);
        tcase_add_test(tc, say_reports_fill);
        tcase_add_test(tc, batch_wakes_once_at_its_end);
        tcase_add_test(tc, batch_writes_idle_members_directly);
        tcase_add_test(tc, history_capacity_and_resize);
        tcase_add_test(tc, privmsg_by_nick);
        tcase_add_test(tc, topic_set_get);
        tcase_add_test(tc, each_member_lists);
        tcase_add_test(tc, remove_member);
        tcase_add_test(tc, many_members);
        suite_add_tcase(s, tc);

        tcase_add_test(tt, threads_consistency);
        suite_add_tcase(s, tt);
        return s;
}
