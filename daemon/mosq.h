/* mosq: the libmosquitto library, loaded when [cluster] is first enabled.
 *
 * pichatd opens libmosquitto (dlopen) when a configuration turns the
 * cluster on, not at start: libmosquitto brings OpenSSL, whose libcrypto
 * alone adds some 750 KiB of private memory to every pichatd, more than
 * the whole of an idle one, and a Pi that is no cluster node should not
 * pay for it. Building still needs libmosquitto's headers
 * (libmosquitto-dev), and the package depends on libmosquitto1.
 *
 * The functions are reached through one table, filled once, read-only
 * afterwards and shared by every thread, as gtls.h does for GnuTLS. */
#pragma once

#include <mosquitto.h>
#include <stddef.h>

/* The shared object's name: libmosquitto 2's ABI (1 since 1.x). */
#define MOSQ_SONAME "libmosquitto.so.1"

/* Every function cluster.c calls, as mosquitto_NAME. */
#define MOSQ_FUNCTIONS(X)                                                      \
        X(connect_async) X(connect_bind_v5) X(connect_v5_callback_set)         \
        X(destroy) X(disconnect) X(disconnect_v5_callback_set) X(int_option)   \
        X(lib_init) X(loop) X(loop_start) X(loop_stop) X(socket)               \
        X(message_v5_callback_set) X(new) X(publish_v5)                        \
        X(publish_v5_callback_set) X(reason_string) X(reconnect_delay_set)     \
        X(strerror) X(subscribe_multiple) X(subscribe_v5_callback_set)         \
        X(tls_set) X(username_pw_set) X(want_write) X(will_set_v5)

#define MOSQ_FIELD(name) __typeof__(mosquitto_##name) *name;

struct mosq {
        MOSQ_FUNCTIONS(MOSQ_FIELD)
};

/* The table: filled by mosq_load(), NULL pointers before. */
extern struct mosq mosq_lib;

/* Open libmosquitto, fill the table and call its lib_init(), once per
 * process (later calls return the first one's result at once; safe from
 * any thread). 0, or -ENOENT with why in err ("libmosquitto.so.1: cannot
 * open shared object file"). */
int mosq_load(char *err, size_t size);
