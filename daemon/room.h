/* room: the chat registry: nicks, rooms, membership, history and fan-out.
 *
 * One lock guards the whole registry. Everything that must be atomic for
 * the users (claiming a nick, moving between rooms, a line reaching every
 * member in the same order) happens under it. Under it lines are only
 * given to members' queues (msg_queue_offer): a transport is written by
 * a sender's batch after the lock is dropped (the direct-write protocol,
 * msg.h). Lock order: the registry, then a member's queue.
 *
 * A member is anything with a queue: a local connection today, and the
 * same for what forwards lines elsewhere. Messages are formatted by the
 * caller; the registry decides who gets them. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "history.h"
#include "msg.h"
#include "text.h"

/* Sizes of the registry's names, from bounds.h. */
#define ROOM_NICK_MAX   PICHAT_NICK_MAX
#define ROOM_NAME_MAX   PICHAT_ROOM_NAME_MAX
#define ROOM_KEY_MAX    PICHAT_ROOM_KEY_MAX
#define ROOM_TOPIC_MAX  PICHAT_TOPIC_MAX
#define ROOM_LIST_MAX   PICHAT_ROOMS_LISTED_MAX
#define ROOM_NICK_BUCKETS 4096

/* Results besides 0 and -errno. */
enum {
        ROOM_NICK_TAKEN = 1,
        ROOM_BAD_KEY,           /* the room has a key and it was not given right */
        ROOM_FULL,              /* max_room_members reached */
        ROOM_TOO_MANY,          /* max_rooms reached, cannot create */
        ROOM_SAME,              /* already in that room */
        ROOM_NO_SUCH_NICK,
        ROOM_REMOTE,            /* that nick is on another node (cluster.h) */
};

struct room;

/* A chat client as the registry knows it; embedded in the service's state. */
struct member {
        char nick[ROOM_NICK_MAX + 1];   /* written under the registry lock */
        struct room *room;              /* idem */
        size_t slot;                    /* index in room->members */
        struct member *nick_next;       /* nick hash chain */
        struct msg_queue *q;            /* where lines for this member go;
                                         * NULL for one of another node */
        const char *node;               /* that node's name; NULL here */
};

struct room {
        char name[ROOM_NAME_MAX + 1];
        char key[ROOM_KEY_MAX + 1];     /* "" = open */
        char topic[ROOM_TOPIC_MAX + 1];
        bool persistent;                /* listed in [chat] rooms: never removed */
        size_t quiet;                   /* members gone unannounced, not yet told */
        int64_t quiet_since;            /* clock_now_ms() of the first of them */
        struct member **members;
        size_t n_members, cap_members;
        size_t n_remote;                /* of them, members of other nodes */
        struct history history;
        struct room *next;
};

struct registry {
        pthread_mutex_t lock;
        struct room *rooms;
        size_t n_rooms;
        struct member *nicks[ROOM_NICK_BUCKETS];
        uint64_t seed;                  /* of the nick hash */
        size_t n_members;
        unsigned long next_guest;
        char default_room[ROOM_NAME_MAX + 1];
        size_t history;                 /* lines kept per room */
        size_t max_rooms;
        size_t max_members;             /* per room, 0 = unlimited */
};

struct room_limits {
        size_t history;
        size_t max_rooms;
        size_t max_members;
};

/* The rooms of [chat] rooms and default_room, which is always created;
 * the names are checked already (conf.c). 0 or -ENOMEM (then nothing is
 * left to free). */
int room_registry_init(struct registry *reg, const char *default_room,
                       const struct text_room_list *rooms, const struct room_limits *lim);
void room_registry_free(struct registry *reg);
/* New limits (config reload); rooms already over them are left alone. */
void room_set_limits(struct registry *reg, const struct room_limits *lim);

/* New default room and [chat] rooms list (config reload): listed rooms
 * are created and kept, rooms no longer listed go once they are empty.
 * 0 or -ENOMEM (some room could not be created). */
int room_set_rooms(struct registry *reg, const char *default_room,
                   const struct text_room_list *rooms);

/* Lines made under the lock when m enters room r: entered goes to the
 * room's other members, joined to m itself (before the room's history). */
struct room_notes {
        struct msg *(*entered)(const struct member *m, const struct room *r);
        struct msg *(*joined)(const struct member *m, const struct room *r);
};

/* Give m a free guestN nick and put it in the default room, with notes.
 * 0 or -errno. */
int room_add(struct registry *reg, struct member *m, const struct room_notes *notes);

/* Take m out of its room (others get left, may be NULL) and the registry. */
void room_remove(struct registry *reg, struct member *m, struct msg *left);

/* Claim nick for m atomically: 0 (announce goes to the room's others; it
 * may be NULL), ROOM_NICK_TAKEN, or -ENOENT if m is not registered. The
 * caller validated the name. */
int room_set_nick(struct registry *reg, struct member *m, const char *nick,
                  struct msg *(*announce)(const char *old, const char *nick));

/* Move m to room name (normalised), creating it with key when it does not
 * exist. left goes to the old room's others, then notes apply in the new
 * one and its history is replayed to m. 0, ROOM_SAME, ROOM_BAD_KEY,
 * ROOM_FULL, ROOM_TOO_MANY, -ENOENT (m is not registered) or -ENOMEM. */
int room_join(struct registry *reg, struct member *m, const char *name, const char *key,
              struct msg *left, const struct room_notes *notes);

/* msg to every member of m's room but m (or including m when to_self);
 * kept in the room's history when keep. With batch (the sender's, open),
 * members are reached as the direct-write protocol allows (msg.h):
 * written by the batch when it ends, or queued with their wake-up owed
 * to it; without, queued and woken now. Returns how full (percent) the
 * fullest receiving queue now is, so a fast sender can let readers catch
 * up. */
unsigned room_say(struct registry *reg, struct member *m, struct msg *msg, bool to_self,
                  bool keep, struct msg_batch *batch);

/* msg to the member called nick. 0, ROOM_NO_SUCH_NICK or ROOM_REMOTE
 * (on another node, named in node: msg is not queued); *to gets the nick
 * as its owner spells it. node may be NULL when only local members
 * count. */
int room_privmsg(struct registry *reg, const char *nick, struct msg *msg,
                 char to[ROOM_NICK_MAX + 1], char *node, size_t node_size);

/* Set (topic not NULL) or read m's room topic; a set is announced with
 * announce to every member. The room name and topic are copied out. */
void room_topic(struct registry *reg, struct member *m, const char *topic, struct msg *announce,
                char name[ROOM_NAME_MAX + 1], char out[ROOM_TOPIC_MAX + 1]);

/* Call fn for every room (name, members, of them on other nodes, keyed)
 * or every member of m's room (nick, its node or NULL), under the lock:
 * fn must only queue. */
void room_each_room(struct registry *reg,
                    void (*fn)(void *arg, const char *name, size_t members, size_t remote,
                               bool keyed),
                    void *arg);
void room_each_member(struct registry *reg, struct member *m,
                      void (*fn)(void *arg, const char *room, const char *nick,
                                 const char *node),
                      void *arg);

/* ---- members of other nodes (cluster.c) ------------------------------- */

/* Put m (q NULL, nick and node set) in room name, creating the room when
 * it does not exist; in the registry if it was not. left goes to the old
 * room, entered to the new one (either may be NULL), local members only.
 * 0, ROOM_SAME, ROOM_NICK_TAKEN (by another member: m stays where it
 * was), ROOM_TOO_MANY or -ENOMEM. Room keys and sizes are the other
 * node's to check. room_remove() takes m out again; room_set_nick()
 * renames it. */
int room_place(struct registry *reg, struct member *m, const char *name, struct msg *left,
               struct msg *entered);
/* Guests are numbered from n + 1 on (a node of a cluster starts
 * somewhere else than the others, so that their guests rarely meet). */
void room_set_guest_base(struct registry *reg, unsigned long n);
/* msg to the local members of room name, kept in its history when keep;
 * false when there is no such room. With batch (open, its thread's), the
 * members with empty queues are written at the batch's end instead of
 * woken; it is never written out here, so a caller may hold a lock of
 * its own as long as the batch holds fewer than MSG_DIRECT_MAX lines. */
bool room_inject(struct registry *reg, const char *name, struct msg *msg, bool keep,
                 struct msg_batch *batch);
/* msg to every local member of every room. */
void room_tell_all(struct registry *reg, struct msg *msg);
/* Set the topic of room name (announce to its local members). */
void room_set_topic_of(struct registry *reg, const char *name, const char *topic,
                       struct msg *announce);
/* Call fn for every local member (room, nick) under the lock; fn must
 * neither block nor take the lock. */
void room_each_local(struct registry *reg,
                     void (*fn)(void *arg, const char *room, const char *nick), void *arg);
/* The member called nick, as it is now: true if there is one, with its
 * node (NULL: local) copied to node ("" for local). */
bool room_nick_node(struct registry *reg, const char *nick, char *node, size_t node_size);

/* m leaves, or has left, its room without a notice (its source caused
 * too many): counted, to be said in a summary (room_summaries()). */
void room_note_quiet(struct registry *reg, struct member *m, int64_t now_ms);
/* Every room whose unannounced departures are at least summary_ms old
 * gets make(n) for them, n set back to 0. */
void room_summaries(struct registry *reg, int64_t now_ms, int64_t summary_ms,
                    struct msg *(*make)(size_t n));

/* Counts for status lines. */
size_t room_count(struct registry *reg);
size_t room_members_total(struct registry *reg);
