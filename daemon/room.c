/* room: nick table, rooms and their members, history, and fan-out. */
#include "room.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "locked.h"
#include "text.h"

/* FNV-1a from the registry's own seed: nobody can pick nicks that all
 * land in one chain without knowing it. */
static unsigned nick_hash(const struct registry *reg, const char *nick)
{
        uint32_t h = 2166136261u ^ (uint32_t)reg->seed;
        for (; *nick; nick++) {
                unsigned char c = (unsigned char)*nick;
                if (c >= 'A' && c <= 'Z')
                        c = (unsigned char)(c - 'A' + 'a');
                h = (h ^ c) * 16777619u;
        }
        return h % ROOM_NICK_BUCKETS;
}

static struct member *nick_find(struct registry *reg, const char *nick)
{
        for (struct member *m = reg->nicks[nick_hash(reg, nick)]; m; m = m->nick_next)
                if (text_casecmp(m->nick, nick) == 0)
                        return m;
        return NULL;
}

static void nick_unlink(struct registry *reg, struct member *m)
{
        struct member **p = &reg->nicks[nick_hash(reg, m->nick)];
        for (; *p; p = &(*p)->nick_next) {
                if (*p == m) {
                        *p = m->nick_next;
                        m->nick_next = NULL;
                        return;
                }
        }
}

static void nick_link(struct registry *reg, struct member *m)
{
        unsigned h = nick_hash(reg, m->nick);
        m->nick_next = reg->nicks[h];
        reg->nicks[h] = m;
}

static struct room *room_find(struct registry *reg, const char *name)
{
        for (struct room *r = reg->rooms; r; r = r->next)
                if (text_casecmp(r->name, name) == 0)
                        return r;
        return NULL;
}

static struct room *room_create(struct registry *reg, const char *name, const char *key,
                                bool persistent)
{
        struct room *r = calloc(1, sizeof(*r));

        if (!r)
                return NULL;
        if (history_init(&r->history, reg->history) < 0) {
                free(r);
                return NULL;
        }
        snprintf(r->name, sizeof(r->name), "%s", name);
        snprintf(r->key, sizeof(r->key), "%s", key ? key : "");
        r->persistent = persistent;
        r->next = reg->rooms;
        reg->rooms = r;
        reg->n_rooms++;
        return r;
}

static void room_destroy(struct registry *reg, struct room *r)
{
        for (struct room **p = &reg->rooms; *p; p = &(*p)->next) {
                if (*p == r) {
                        *p = r->next;
                        break;
                }
        }
        reg->n_rooms--;
        history_free(&r->history);
        free(r->members);
        free(r);
}

/* A free slot in r's member array, grown when full; under reg->lock. */
static int room_grow(struct room *r)
{
        size_t cap;
        struct member **mm;

        if (r->n_members < r->cap_members)
                return 0;
        cap = r->cap_members ? r->cap_members * 2 : 8;
        mm = realloc(r->members, cap * sizeof(*mm));
        if (!mm)
                return -ENOMEM;
        r->members = mm;
        r->cap_members = cap;
        return 0;
}

/* room_grow() for a joiner not attached yet: on failure an empty room that
 * was just made for it goes again. */
static int room_make_space(struct registry *reg, struct room *r)
{
        int ret = room_grow(r);

        if (ret < 0 && r->n_members == 0 && !r->persistent)
                room_destroy(reg, r);
        return ret;
}

static int room_attach(struct room *r, struct member *m)
{
        if (room_grow(r) < 0)
                return -ENOMEM;
        m->slot = r->n_members;
        r->members[r->n_members++] = m;
        r->n_remote += !m->q;
        m->room = r;
        return 0;
}

/* Detach m from its room; an empty room not in [chat] rooms goes away. */
static void room_detach(struct registry *reg, struct member *m)
{
        struct room *r = m->room;

        if (!r)
                return;
        r->members[m->slot] = r->members[--r->n_members];
        r->members[m->slot]->slot = m->slot;
        r->n_remote -= !m->q;
        m->room = NULL;
        if (r->n_members == 0 && !r->persistent)
                room_destroy(reg, r);
}

/* Give msg to every member of r except skip; returns the highest queue
 * fill in percent. With batch and line >= 0 (msg is that line of it),
 * members may be written by the batch (msg_queue_offer). */
static unsigned fan_out(struct room *r, struct member *skip, struct msg *msg,
                        struct msg_batch *batch, int line)
{
        unsigned fullest = 0, pct;

        if (!msg)
                return 0;
        for (size_t i = 0; i < r->n_members; i++) {
                struct member *m = r->members[i];
                /* An overflowing queue does not count (that client is
                 * dropped): its owner was woken to see it. A member of
                 * another node has no queue: its node got the line. */
                if (m != skip && m->q && msg_queue_offer(m->q, msg, batch, line, &pct) == 0 &&
                    pct > fullest)
                        fullest = pct;
        }
        return fullest;
}

int room_registry_init(struct registry *reg, const char *default_room,
                       const struct text_room_list *rooms, const struct room_limits *lim)
{
        memset(reg, 0, sizeof(*reg));
        pthread_mutex_init(&reg->lock, NULL);
        reg->seed = addr_hash_seed();
        reg->history = lim->history;
        reg->max_rooms = lim->max_rooms;
        reg->max_members = lim->max_members;
        if (room_set_rooms(reg, default_room, rooms) < 0) {
                /* Rooms made before ENOMEM would leak otherwise. */
                room_registry_free(reg);
                return -ENOMEM;
        }
        return 0;
}

void room_registry_free(struct registry *reg)
{
        while (reg->rooms)
                room_destroy(reg, reg->rooms);
        pthread_mutex_destroy(&reg->lock);
}

void room_set_limits(struct registry *reg, const struct room_limits *lim)
{
        pthread_mutex_lock(&reg->lock);
        reg->max_rooms = lim->max_rooms;
        reg->max_members = lim->max_members;
        if (reg->history != lim->history) {
                reg->history = lim->history;
                for (struct room *r = reg->rooms; r; r = r->next)
                        history_resize(&r->history, lim->history);
        }
        pthread_mutex_unlock(&reg->lock);
}

int room_set_rooms(struct registry *reg, const char *default_room,
                   const struct text_room_list *rooms)
{
        int r = 0;

        pthread_mutex_lock(&reg->lock);
        snprintf(reg->default_room, sizeof(reg->default_room), "%s", default_room);
        for (struct room *rm = reg->rooms; rm; rm = rm->next)
                rm->persistent = false;
        for (size_t i = 0; i <= rooms->n; i++) {
                const char *name = i < rooms->n ? rooms->name[i] : default_room;
                struct room *rm = room_find(reg, name);

                if (!rm && !(rm = room_create(reg, name, NULL, true)))
                        r = -ENOMEM;
                else
                        rm->persistent = true;
        }
        /* Rooms that left the list live on while someone is in them. */
        for (struct room *rm = reg->rooms, *next; rm; rm = next) {
                next = rm->next;
                if (!rm->persistent && rm->n_members == 0)
                        room_destroy(reg, rm);
        }
        pthread_mutex_unlock(&reg->lock);
        return r;
}

static void replay(struct room *r, struct member *m);

/* m has just entered r: tell the others, tell m, replay the history. */
static void room_entered(struct room *r, struct member *m,
                         const struct room_notes *notes)
{
        struct msg *msg;

        if (notes && notes->entered && (msg = notes->entered(m, r))) {
                fan_out(r, m, msg, NULL, -1);
                msg_unref(msg);
        }
        if (notes && notes->joined && (msg = notes->joined(m, r))) {
                msg_queue_push(m->q, msg, NULL);
                msg_unref(msg);
        }
        replay(r, m);
}

int room_add(struct registry *reg, struct member *m, const struct room_notes *notes)
{
        struct room *r;
        int ret;

        pthread_mutex_lock(&reg->lock);
        do
                snprintf(m->nick, sizeof(m->nick), "guest%lu", ++reg->next_guest);
        while (nick_find(reg, m->nick));
        r = room_find(reg, reg->default_room);
        ret = r ? room_attach(r, m) : -ENOENT;
        if (ret == 0) {
                nick_link(reg, m);
                reg->n_members++;
                room_entered(r, m, notes);
        }
        pthread_mutex_unlock(&reg->lock);
        return ret;
}

void room_remove(struct registry *reg, struct member *m, struct msg *left)
{
        pthread_mutex_lock(&reg->lock);
        if (m->room) {
                fan_out(m->room, m, left, NULL, -1);
                room_detach(reg, m);
                nick_unlink(reg, m);
                reg->n_members -= !!m->q;
        }
        pthread_mutex_unlock(&reg->lock);
}

int room_set_nick(struct registry *reg, struct member *m, const char *nick,
                  struct msg *(*announce)(const char *old, const char *nick))
{
        struct member *other;
        char old[ROOM_NICK_MAX + 1];

        pthread_mutex_lock(&reg->lock);
        if (!m->room) {         /* not registered: it must not enter the table */
                pthread_mutex_unlock(&reg->lock);
                return -ENOENT;
        }
        other = nick_find(reg, nick);
        if (other && other != m) {
                pthread_mutex_unlock(&reg->lock);
                return ROOM_NICK_TAKEN;
        }
        snprintf(old, sizeof(old), "%s", m->nick);
        nick_unlink(reg, m);
        snprintf(m->nick, sizeof(m->nick), "%s", nick);
        nick_link(reg, m);
        if (m->room && announce) {
                struct msg *msg = announce(old, nick);
                fan_out(m->room, m, msg, NULL, -1);
                msg_unref(msg);
        }
        pthread_mutex_unlock(&reg->lock);
        return 0;
}

#define REPLAY_PREFIX "[history] "

/* The room's history to m, which has just come in: as many of the newest
 * lines as its replay budget holds (msg_queue_push_replay()), after a
 * note of how many older ones were left out. */
static void replay(struct room *r, struct member *m)
{
        size_t n = history_count(&r->history), first = n, room = msg_queue_replay_room(m->q);
        size_t len, cost, note = sizeof(REPLAY_PREFIX) + 64 + MSG_QUEUE_ENTRY_COST;
        struct msg *msg;

        /* Newest first, to find the oldest line that still fits (its
         * wire form is a little longer only with 0xFF, from no client). */
        for (; first > 0; first--) {
                history_get(&r->history, first - 1, &len);
                cost = sizeof(REPLAY_PREFIX) + len + 2 + MSG_QUEUE_ENTRY_COST;
                if (cost + (first > 1 ? note : 0) > room)
                        break;
                room -= cost;
        }
        if (first > 0 && (msg = msg_new(REPLAY_PREFIX "(%zu older line%s left out)", first,
                                        first == 1 ? "" : "s"))) {
                msg_queue_push_replay(m->q, msg);
                msg_unref(msg);
        }
        for (size_t i = first; i < n; i++) {
                const char *line = history_get(&r->history, i, &len);
                if (!(msg = msg_new(REPLAY_PREFIX "%.*s", (int)len, line)))
                        break;
                int ok = msg_queue_push_replay(m->q, msg);
                msg_unref(msg);
                if (ok != 0)
                        break;
        }
}

int room_join(struct registry *reg, struct member *m, const char *name, const char *key,
              struct msg *left, const struct room_notes *notes)
{
        struct room *r, *old;
        int ret = 0;

        pthread_mutex_lock(&reg->lock);
        old = m->room;
        r = room_find(reg, name);
        if (!old) {
                ret = -ENOENT;  /* not registered (or removed already) */
        } else if (r == old) {
                ret = ROOM_SAME;
        } else if (r) {
                if (r->key[0] && !text_secret_equal(key ? key : "", r->key))
                        ret = ROOM_BAD_KEY;
                else if (reg->max_members && r->n_members >= reg->max_members &&
                         text_casecmp(r->name, reg->default_room) != 0)
                        ret = ROOM_FULL;
        } else if (reg->n_rooms >= reg->max_rooms) {
                ret = ROOM_TOO_MANY;
        } else if (!(r = room_create(reg, name, key, false))) {
                ret = -ENOMEM;
        }
        /* Make room first, so that leaving the old room cannot be
         * followed by a failure to enter the new one. */
        if (ret == 0)
                ret = room_make_space(reg, r);
        if (ret == 0) {
                if (old) {
                        fan_out(old, m, left, NULL, -1);
                        room_detach(reg, m);
                }
                room_attach(r, m);
                room_entered(r, m, notes);
        }
        pthread_mutex_unlock(&reg->lock);
        return ret;
}

unsigned room_say(struct registry *reg, struct member *m, struct msg *msg, bool to_self,
                  bool keep, struct msg_batch *batch)
{
        unsigned fullest = 0;

        msg_batch_reserve(batch);
        pthread_mutex_lock(&reg->lock);
        if (m->room) {
                /* Without memory for the batch, every member's copy is
                 * queued; the members it writes get it after what it
                 * writes them, so order holds either way. */
                int line = msg_batch_line(batch, msg, m->room->n_members);
                fullest = fan_out(m->room, to_self ? NULL : m, msg, batch, line);
                if (keep)       /* without the CR LF */
                        history_push(&m->room->history, msg->data, msg->len - 2);
        }
        pthread_mutex_unlock(&reg->lock);
        return fullest;
}

int room_privmsg(struct registry *reg, const char *nick, struct msg *msg,
                 char to[ROOM_NICK_MAX + 1], char *node, size_t node_size)
{
        struct member *t;
        int ret = ROOM_NO_SUCH_NICK;

        pthread_mutex_lock(&reg->lock);
        t = nick_find(reg, nick);
        if (t && !t->q && node) {
                snprintf(to, ROOM_NICK_MAX + 1, "%s", t->nick);
                snprintf(node, node_size, "%s", t->node);
                ret = ROOM_REMOTE;
        } else if (t && t->q) {
                msg_queue_push(t->q, msg, NULL);
                snprintf(to, ROOM_NICK_MAX + 1, "%s", t->nick);
                ret = 0;
        }
        pthread_mutex_unlock(&reg->lock);
        return ret;
}

void room_topic(struct registry *reg, struct member *m, const char *topic, struct msg *announce,
                char name[ROOM_NAME_MAX + 1], char out[ROOM_TOPIC_MAX + 1])
{
        pthread_mutex_lock(&reg->lock);
        name[0] = out[0] = '\0';
        if (m->room) {
                if (topic) {
                        snprintf(m->room->topic, sizeof(m->room->topic), "%s", topic);
                        fan_out(m->room, NULL, announce, NULL, -1);
                }
                snprintf(name, ROOM_NAME_MAX + 1, "%s", m->room->name);
                snprintf(out, ROOM_TOPIC_MAX + 1, "%s", m->room->topic);
        }
        pthread_mutex_unlock(&reg->lock);
}

void room_each_room(struct registry *reg,
                    void (*fn)(void *arg, const char *name, size_t members, size_t remote,
                               bool keyed),
                    void *arg)
{
        pthread_mutex_lock(&reg->lock);
        for (struct room *r = reg->rooms; r; r = r->next)
                fn(arg, r->name, r->n_members, r->n_remote, r->key[0] != '\0');
        pthread_mutex_unlock(&reg->lock);
}

void room_each_member(struct registry *reg, struct member *m,
                      void (*fn)(void *arg, const char *room, const char *nick,
                                 const char *node),
                      void *arg)
{
        pthread_mutex_lock(&reg->lock);
        if (m->room)
                for (size_t i = 0; i < m->room->n_members; i++)
                        fn(arg, m->room->name, m->room->members[i]->nick,
                           m->room->members[i]->node);
        pthread_mutex_unlock(&reg->lock);
}

int room_place(struct registry *reg, struct member *m, const char *name, struct msg *left,
               struct msg *entered)
{
        struct member *other;
        struct room *r;
        int ret = 0;

        pthread_mutex_lock(&reg->lock);
        other = nick_find(reg, m->nick);
        r = room_find(reg, name);
        if (other && other != m)
                ret = ROOM_NICK_TAKEN;
        else if (r && r == m->room)
                ret = ROOM_SAME;
        else if (!r && reg->n_rooms >= reg->max_rooms)
                ret = ROOM_TOO_MANY;
        else if (!r && !(r = room_create(reg, name, NULL, false)))
                ret = -ENOMEM;
        if (ret == 0)
                ret = room_make_space(reg, r);
        if (ret == 0) {
                if (m->room) {
                        fan_out(m->room, m, left, NULL, -1);
                        room_detach(reg, m);
                } else {
                        nick_link(reg, m);
                }
                room_attach(r, m);
                fan_out(r, m, entered, NULL, -1);
        }
        pthread_mutex_unlock(&reg->lock);
        return ret;
}

void room_set_guest_base(struct registry *reg, unsigned long n)
{
        pthread_mutex_lock(&reg->lock);
        reg->next_guest = n;
        pthread_mutex_unlock(&reg->lock);
}

bool room_inject(struct registry *reg, const char *name, struct msg *msg, bool keep,
                 struct msg_batch *batch)
{
        struct room *r;

        pthread_mutex_lock(&reg->lock);
        if ((r = room_find(reg, name))) {
                fan_out(r, NULL, msg, batch, msg_batch_line(batch, msg, r->n_members));
                if (keep)
                        history_push(&r->history, msg->data, msg->len - 2);
        }
        pthread_mutex_unlock(&reg->lock);
        return r != NULL;
}

void room_tell_all(struct registry *reg, struct msg *msg)
{
        pthread_mutex_lock(&reg->lock);
        for (struct room *r = reg->rooms; r; r = r->next)
                fan_out(r, NULL, msg, NULL, -1);
        pthread_mutex_unlock(&reg->lock);
}

void room_set_topic_of(struct registry *reg, const char *name, const char *topic,
                       struct msg *announce)
{
        struct room *r;

        pthread_mutex_lock(&reg->lock);
        if ((r = room_find(reg, name))) {
                snprintf(r->topic, sizeof(r->topic), "%s", topic);
                fan_out(r, NULL, announce, NULL, -1);
        }
        pthread_mutex_unlock(&reg->lock);
}

void room_each_local(struct registry *reg,
                     void (*fn)(void *arg, const char *room, const char *nick), void *arg)
{
        pthread_mutex_lock(&reg->lock);
        for (struct room *r = reg->rooms; r; r = r->next)
                for (size_t i = 0; i < r->n_members; i++)
                        if (r->members[i]->q)
                                fn(arg, r->name, r->members[i]->nick);
        pthread_mutex_unlock(&reg->lock);
}

bool room_nick_node(struct registry *reg, const char *nick, char *node, size_t node_size)
{
        struct member *m;

        pthread_mutex_lock(&reg->lock);
        if ((m = nick_find(reg, nick)))
                snprintf(node, node_size, "%s", m->node ? m->node : "");
        pthread_mutex_unlock(&reg->lock);
        return m != NULL;
}

void room_note_quiet(struct registry *reg, struct member *m, int64_t now_ms)
{
        pthread_mutex_lock(&reg->lock);
        if (m->room && m->room->quiet++ == 0)
                m->room->quiet_since = now_ms;
        pthread_mutex_unlock(&reg->lock);
}

void room_summaries(struct registry *reg, int64_t now_ms, int64_t summary_ms,
                    struct msg *(*make)(size_t n))
{
        pthread_mutex_lock(&reg->lock);
        for (struct room *r = reg->rooms; r; r = r->next) {
                if (!r->quiet || now_ms - r->quiet_since < summary_ms)
                        continue;
                struct msg *msg = make(r->quiet);
                fan_out(r, NULL, msg, NULL, -1);
                msg_unref(msg);
                r->quiet = 0;
        }
        pthread_mutex_unlock(&reg->lock);
}

size_t room_count(struct registry *reg)
{
        return LOCKED_READ(&reg->lock, reg->n_rooms);
}

size_t room_members_total(struct registry *reg)
{
        return LOCKED_READ(&reg->lock, reg->n_members);
}
