/* Hard bounds on every configurable limit, in one place.
 *
 * The config parser rejects values outside these ranges, so the rest of
 * the daemon may trust any value it finds in struct conf. */
#pragma once

#define PICHAT_STACK_KIB_MIN        16
#define PICHAT_STACK_KIB_MAX        (8 * 1024)
/* Sanitizer runtimes need far deeper stacks than the code itself. */
#define PICHAT_STACK_KIB_SANITIZED  512

#define PICHAT_MAX_CLIENTS_MAX      1000000
#define PICHAT_LINE_BYTES_MIN       16
#define PICHAT_LINE_BYTES_MAX       65536
#define PICHAT_IDLE_TIMEOUT_MAX     (7 * 24 * 3600)
#define PICHAT_TEXT_MAX             512     /* welcome, prefix, motd */
#define PICHAT_BIND_MAX             8       /* addresses in [server] bind */
#define PICHAT_ACL_MAX              256     /* prefixes in [access] allow, and in deny */

/* Largest UDP payload over IPv4; replies are truncated to it. */
#define PICHAT_UDP_MAX              65507
/* [udp] rate_per_source, and the sources tracked at once for it. */
#define PICHAT_UDP_RATE_MAX         1000000
#define PICHAT_UDP_SOURCES          4096

/* The services that answer once (daytime, time, qotd): an answer, over
 * TCP or UDP, is at most this many bytes, so that a datagram nobody can
 * be sure asked for it is never more than 512 bytes (RFC 865: a quote
 * of less than 512 characters). */
#define PICHAT_ANSWER_MAX           511
/* [qotd] file is read whole at start and reload: at most this big. */
#define PICHAT_QOTD_FILE_MAX        (4 * 1024 * 1024)

/* Chat names. A nick is 1 to [chat] max_nick_len characters, which is at
 * most PICHAT_NICK_MAX (the client's -n checks the same bound). Rooms
 * listed in [chat] rooms may have names up to PICHAT_ROOM_NAME_MAX; a
 * client creating one with /join, up to PICHAT_ROOM_NAME_NEW_MAX. */
#define PICHAT_NICK_MAX             64
#define PICHAT_ROOM_NAME_MAX        64
#define PICHAT_ROOM_NAME_NEW_MAX    32
#define PICHAT_ROOM_KEY_MAX         64
#define PICHAT_TOPIC_MAX            400
#define PICHAT_ROOMS_LISTED_MAX     128     /* names in [chat] rooms (a line holds fewer) */

/* [chat] limits. */
#define PICHAT_ROOMS_MAX            100000  /* max_rooms */
#define PICHAT_HISTORY_MAX          1000    /* history, lines kept per room */
#define PICHAT_QUEUE_KIB_MIN        4       /* max_queue_kib */
#define PICHAT_QUEUE_KIB_MAX        65536
#define PICHAT_LINES_PER_SEC_MAX    100000  /* lines_per_sec and burst */

/* The longest line a room sends for one of max_line bytes: each byte
 * cleaned into a 3-byte U+FFFD, behind the longest nick and its marks
 * ("<nick> "), with its line end or frame header and its place in a
 * queue. */
#define PICHAT_ROOM_LINE_MAX(max_line) (3 * (size_t)(max_line) + PICHAT_NICK_MAX + 64)

/* [log] queue_kib: the log's queue, between the threads that log and the
 * one that writes (log.h). Its least must hold a message of the longest. */
#define PICHAT_LOG_QUEUE_KIB_MIN    4
#define PICHAT_LOG_QUEUE_KIB_MAX    65536
/* How long a stop waits for the log's destination to take what is queued. */
#define PICHAT_LOG_FLUSH_MS         2000

/* inih in Debian is built with a fixed line buffer of 200 bytes. */
#define PICHAT_INI_LINE_MAX         200

/* [chat] password: wrong tries before a client is closed, and the pause
 * after each, so that guessing costs time as well as connections. */
#define PICHAT_PASS_TRIES           3
#define PICHAT_PASS_PAUSE_MS        1000

/* Sources the chat service keeps throttles for (guard.h), and how long a
 * source's wrong passwords count against it. */
#define PICHAT_GUARD_SOURCES        256
#define PICHAT_GUARD_FORGET_MS      (10 * 60 * 1000)
/* Wrong passwords from one address, across connections: the pause after
 * one doubles with each in a row up to this; a line in the log at most
 * this often per address. */
#define PICHAT_PASS_BACKOFF_MAX_MS  60000
#define PICHAT_PASS_LOG_MS          60000
/* "entered" and "left" notices one address may cause: this many at once,
 * then one more every PICHAT_NOTICE_REFILL_MS; the others are counted,
 * and said every PICHAT_NOTICE_SUMMARY_MS as "* N guests came and went". */
#define PICHAT_NOTICE_BURST         10
#define PICHAT_NOTICE_REFILL_MS     6000
#define PICHAT_NOTICE_SUMMARY_MS    10000

/* Time allowed to flush goodbyes to clients on SIGTERM/SIGINT. */
#define PICHAT_SHUTDOWN_GRACE_MS    1500

/* Accept back-off when the process runs out of descriptors. */
#define PICHAT_ACCEPT_BACKOFF_MS    100
/* Longest wait of a loop whose call keeps failing (server_backoff()). */
#define PICHAT_BACKOFF_MAX_MS       5000

/* Longest sleep of the accept and UDP loops: how often they show they are
 * alive. A loop silent for PICHAT_HEARTBEAT_STALE_MS is taken as wedged
 * and the watchdog is no longer fed. */
#define PICHAT_HEARTBEAT_MS         500
#define PICHAT_HEARTBEAT_STALE_MS   5000

/* The web service. A request head (request line and header fields) is
 * at most PICHAT_HTTP_HEAD_MAX bytes, in at most PICHAT_HTTP_FIELDS_MAX
 * fields; [web] allowed_origins lists at most PICHAT_ORIGINS_MAX origins. */
#define PICHAT_HTTP_HEAD_MAX        8192
#define PICHAT_HTTP_FIELDS_MAX      100
#define PICHAT_ORIGINS_MAX          16
/* A framing that keeps its connection alive (WebSocket) pings a peer
 * silent this long, or half of [server] idle_timeout_s if that is less;
 * a peer that then sends nothing at all for as long again is gone. */
#define PICHAT_KEEPALIVE_MS         30000
/* After its last words, a connection whose peer may still be sending
 * (HTTP, WebSocket) reads and drops what comes for at most this long, so
 * that they are not lost to a reset. */
#define PICHAT_LINGER_MS            1000
#define PICHAT_LINGER_BYTES         65536

/* A TLS client's handshake must end within [server] line_timeout_s, or
 * idle_timeout_s; with both off, within this. */
#define PICHAT_TLS_HANDSHAKE_MS     60000
/* A chat client on the plain port enters its room once its first bytes
 * show it is no TLS client (whose ClientHello comes with its connection),
 * or after this long without a byte. */
#define PICHAT_TLS_SNIFF_MS         150

/* Least time between two STATUS= updates to the service manager. */
#define PICHAT_STATUS_INTERVAL_MS   1000

/* [cluster] (cluster.h). */
#define PICHAT_CLUSTER_PORT         1883    /* MQTT's, when broker names none */
#define PICHAT_CLUSTER_NODE_MAX     32      /* a node name */
#define PICHAT_CLUSTER_PREFIX_MAX   64      /* topic_prefix */
#define PICHAT_CLUSTER_KEEPALIVE_MIN 5       /* libmosquitto's least */
#define PICHAT_CLUSTER_KEEPALIVE_MAX 3600
/* A message's header, beyond the line it carries (cluster.h's format). */
#define PICHAT_CLUSTER_HEADER_MAX   256
/* Other nodes a node keeps track of; messages from more are dropped. */
#define PICHAT_CLUSTER_NODES_MAX    64
/* A node's member list as published (P/1/N/presence), at most. */
#define PICHAT_CLUSTER_PRESENCE_MAX (512 * 1024)
