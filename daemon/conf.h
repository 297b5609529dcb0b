/* conf: pichat.ini parsing, validation and the shared configuration.
 *
 * A struct conf is immutable once loaded and reference counted, so a
 * reload can swap in a new one while connection threads keep using the
 * one they hold. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "acl.h"
#include "bounds.h"
#include "text.h"

struct quotes;

#define CONF_TEXT_SIZE  256     /* any INI value fits: lines are < 200 bytes */
#define CONF_ERRORS_MAX 32

struct tls_creds;

/* A service's TLS port ([chat] tls_port, [web] tls_port): off, or a port
 * (0 = any free port) beside the plain one. */
struct conf_tls_port {
        bool on;
        unsigned port;
};

struct conf {
        atomic_uint refs;

        struct {
                char bind[PICHAT_BIND_MAX][CONF_TEXT_SIZE];
                unsigned n_bind;
                unsigned max_clients;
                unsigned max_clients_per_ip;    /* 0 = no per-address limit */
                unsigned ipv6_prefix_len;       /* bits of an IPv6 address a limit counts */
                unsigned thread_stack_kib;
                unsigned idle_timeout_s;        /* 0 = off */
                unsigned line_timeout_s;        /* 0 = off */
                unsigned max_line_bytes;
        } server;

        struct {
                bool enabled;
                unsigned port;
                char prefix[CONF_TEXT_SIZE];
                char welcome[CONF_TEXT_SIZE];
        } echo;

        struct {
                bool enabled;
                unsigned port;
                char prefix[CONF_TEXT_SIZE];
                unsigned rate_per_source;       /* datagrams/s, 0 = off */
                unsigned rate_total;            /* from all sources, 0 = off */
        } udp;

        struct {
                bool enabled;
                unsigned port;
                char motd[CONF_TEXT_SIZE];
                char motd_file[CONF_TEXT_SIZE];
                char default_room[CONF_TEXT_SIZE];      /* checked, without '#' */
                char rooms[CONF_TEXT_SIZE];             /* as written */
                struct text_room_list room_list;        /* rooms, checked */
                unsigned max_nick_len;
                unsigned max_rooms;
                unsigned max_room_members;      /* 0 = unlimited */
                unsigned history;               /* 0 = off */
                unsigned max_queue_kib;
                unsigned lines_per_sec;
                unsigned burst;
                char password[CONF_TEXT_SIZE];  /* "" = none; never logged */
                char password_file[CONF_TEXT_SIZE];     /* where password was read from */
                struct conf_tls_port tls_port;
        } chat;

        struct {
                bool enabled;
                unsigned port;
                char title[CONF_TEXT_SIZE];     /* the page's heading */
                /* Origins a WebSocket may come from besides the page's own
                 * host ("http://pi.local:8080 ...", "*" = any), checked. */
                char allowed_origins[CONF_TEXT_SIZE];
                bool status_json;               /* serve /status.json */
                struct conf_tls_port tls_port;  /* https:// and wss:// */
        } web;

        /* The services that answer once (answer.h), each over TCP and,
         * with udp, over UDP too. */
        struct {
                bool enabled;
                unsigned port;
                bool udp;
                char format[CONF_TEXT_SIZE];    /* strftime(3), or a preset (checked) */
        } daytime;

        struct {
                bool enabled;
                unsigned port;
                bool udp;
        } time;

        struct {
                bool enabled;
                unsigned port;
                bool udp;
                char file[CONF_TEXT_SIZE];      /* "": conf_quotes_path() */
                /* The quotes read from file, when enabled (at least one);
                 * the configuration's own, freed with it. */
                struct quotes *quotes;
        } qotd;

        struct {
                char certfile[CONF_TEXT_SIZE];  /* as written ("credential:NAME" too) */
                char keyfile[CONF_TEXT_SIZE];
                char priority[CONF_TEXT_SIZE];
                /* Loaded from them when a TLS port is on (NULL otherwise):
                 * the config's reference, dropped with it (tls.h). */
                struct tls_creds *creds;
        } tls;

        struct {
                struct acl allow;               /* empty = every address */
                struct acl deny;                /* wins over allow */
        } access;

        struct {
                int level;                      /* LOG_ERR .. LOG_DEBUG */
                unsigned queue_kib;             /* the log's queue (restart to change) */
        } log;

        /* Rooms shared with other pichatd nodes through an MQTT broker
         * (cluster.h). */
        struct {
                bool enabled;
                char broker[CONF_TEXT_SIZE];    /* HOST[:PORT] as written */
                char broker_host[CONF_TEXT_SIZE];       /* checked, without [] */
                unsigned broker_port;
                char node[CONF_TEXT_SIZE];      /* checked; the host name when unset */
                char topic_prefix[CONF_TEXT_SIZE];      /* checked */
                char username[CONF_TEXT_SIZE];
                char password[CONF_TEXT_SIZE];  /* "" = none; never logged */
                char password_file[CONF_TEXT_SIZE];
                char cafile[CONF_TEXT_SIZE];    /* TLS to the broker when set */
                char certfile[CONF_TEXT_SIZE];
                char keyfile[CONF_TEXT_SIZE];
                unsigned keepalive_s;
                unsigned max_queue_kib;         /* lines kept while the broker is away */
                unsigned peer_lines_per_sec;    /* what one other node may send */
        } cluster;
};

/* Errors found while loading, each "FILE:LINE: message" or "FILE: message". */
struct conf_errors {
        unsigned n;
        char msg[CONF_ERRORS_MAX][CONF_TEXT_SIZE + 128];
};

/* Fill *c with the built-in defaults (the values conf/pichat.ini documents). */
void conf_defaults(struct conf *c);

/* Load and validate FILE over the defaults. Returns a new conf with one
 * reference, or NULL with *errs filled in (never a partial config). */
struct conf *conf_load(const char *path, struct conf_errors *errs);

/* Same, from a string; NAME is what error messages call it. */
struct conf *conf_load_string(const char *name, const char *text,
                              struct conf_errors *errs);

/* [qotd] file, or the quotes that come with pichat when it is empty. */
const char *conf_quotes_path(const struct conf *c);

struct conf *conf_ref(struct conf *c);
void conf_unref(struct conf *c);

/* The configuration in force: one per daemon (made in main), swapped by
 * a reload. */
struct conf_store {
        pthread_mutex_t lock;
        struct conf *cur;
        /* Bumped by every conf_set_current(): lets a holder of a reference
         * see that it is stale with one shared read, which costs nothing
         * while no reload happens (no lock, no cache line written). */
        atomic_uint gen;
};

/* A store holding c (its reference is taken over; NULL: none yet). */
void conf_store_init(struct conf_store *s, struct conf *c);
void conf_store_destroy(struct conf_store *s);
/* The configuration in force, as a new reference. */
struct conf *conf_current(struct conf_store *s);
void conf_set_current(struct conf_store *s, struct conf *c);    /* takes c's reference */

/* A thread's own reference to the configuration in force. Threads that
 * look at the config for every line (echo, chat) use this rather than
 * conf_current(), whose lock and shared count every thread would take in
 * turn. */
struct conf_cache {
        struct conf *conf;
        unsigned gen;
};
/* The configuration in force in s, refreshed after a reload; the
 * reference belongs to cc (valid until the next call or
 * conf_cache_drop()). */
struct conf *conf_cached(struct conf_store *s, struct conf_cache *cc);
void conf_cache_drop(struct conf_cache *cc);
