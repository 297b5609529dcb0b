/* gtls: the GnuTLS library, loaded when it is first needed.
 *
 * pichatd opens libgnutls (dlopen) the first time a configuration turns a
 * TLS port on, not at start: GnuTLS and what it brings (p11-kit, gmp,
 * libtasn1, libunistring, libidn2) are about 2 MiB of a daemon's private
 * memory, more than all the rest of an idle pichatd, and a Pi that serves
 * no TLS port should not pay for them. Building still needs GnuTLS's
 * headers (libgnutls28-dev), and the package depends on libgnutls30 (the
 * client links it).
 *
 * The functions are reached through one table, filled once, read-only
 * afterwards and shared by every thread: like the library itself, there
 * is one of it per process. */
#pragma once

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stddef.h>

/* The shared object's name: GnuTLS 3's ABI. */
#define GTLS_SONAME "libgnutls.so.30"

/* Every function tls.c calls, as gnutls_NAME. */
#define GTLS_FUNCTIONS(X)                                                      \
        X(alert_send_appropriate) X(bye) X(certificate_allocate_credentials)  \
        X(certificate_free_credentials) X(certificate_server_set_request)     \
        X(certificate_set_x509_key_mem2) X(cipher_get) X(cipher_get_name)      \
        X(credentials_set) X(deinit) X(error_is_fatal) X(handshake)            \
        X(handshake_set_hook_function) X(handshake_set_timeout) X(init)        \
        X(priority_deinit) X(priority_init2) X(priority_set)                   \
        X(protocol_get_name) X(protocol_get_version) X(record_check_pending)   \
        X(record_get_direction) X(record_get_state) X(record_recv)             \
        X(record_send) X(session_get_ptr) X(session_set_ptr) X(strerror)       \
        X(transport_set_ptr) X(transport_set_pull_function)                    \
        X(transport_set_pull_timeout_function)                                 \
        X(transport_set_vec_push_function) X(x509_crt_deinit)                  \
        X(x509_crt_get_activation_time) X(x509_crt_get_dn)                     \
        X(x509_crt_get_expiration_time) X(x509_crt_list_import2)               \
        X(x509_privkey_deinit) X(x509_privkey_import2) X(x509_privkey_init)

#define GTLS_FIELD(name) __typeof__(gnutls_##name) *name;

struct gtls {
        GTLS_FUNCTIONS(GTLS_FIELD)
        gnutls_free_function *free;     /* what GnuTLS allocated for us */
};

/* The table: filled by gtls_load(), NULL pointers before. */
extern struct gtls gtls;

/* Open GnuTLS and fill the table, once per process (later calls return
 * the first one's result at once; safe from any thread). 0, or -ENOENT
 * with why in err ("libgnutls.so.30: cannot open shared object file"). */
int gtls_load(char *err, size_t size);
