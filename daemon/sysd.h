/* sysd: the service manager's protocols, spoken by pichatd itself rather
 * than through libsystemd: service notification (NOTIFY_SOCKET), the
 * watchdog settings (WATCHDOG_USEC, WATCHDOG_PID), socket activation
 * (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES) and the journal's native
 * datagram protocol. Each is a documented, stable interface
 * (sd_notify(3), sd_watchdog_enabled(3), sd_listen_fds(3),
 * systemd.io/JOURNAL_NATIVE_PROTOCOL); linking libsystemd for them would
 * map it and its compression and crypto libraries into the daemon.
 *
 * Results follow libsystemd's functions of the same purpose, so that
 * pichatd sees the same for the same environment: 0 for "not set" or "not
 * for us", a documented positive result, or -errno for a malformed value. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* The first passed file descriptor; the others follow it. */
#define SYSD_LISTEN_FDS_START 3

/* Send state ("READY=1\nSTATUS=...") to $NOTIFY_SOCKET: an absolute path,
 * or '@' and an abstract socket name. No credentials are attached: the
 * kernel vouches for the sender. Returns 1 when sent, 0 when NOTIFY_SOCKET
 * is not set, -EINVAL for an empty, relative or too long abstract address,
 * -ENAMETOOLONG for a path that does not fit a socket address,
 * -EAFNOSUPPORT for an AF_VSOCK address ("vsock:..."), or -errno from
 * sending (-ENOENT, -ECONNREFUSED when nobody listens). */
int sysd_notify(const char *state);

/* Whether the service manager expects WATCHDOG=1 pings from this process:
 * 1 with the interval in *usec, 0 when WATCHDOG_USEC is not set or
 * WATCHDOG_PID names another process, -EINVAL for a value that is not a
 * decimal number (or is 0 or infinity) or a WATCHDOG_PID that is not a
 * pid, -ERANGE for one too large. The environment is left as it is. */
int sysd_watchdog_usec(uint64_t *usec);

/* File descriptors passed by the service manager: how many, starting at
 * SYSD_LISTEN_FDS_START, each now with FD_CLOEXEC. 0 when LISTEN_PID is
 * not set or names another process, or LISTEN_FDS is not set; -EINVAL for
 * a LISTEN_PID that is not a pid, a LISTEN_FDS that is not a number above
 * 0, or a LISTEN_FDNAMES whose count differs from LISTEN_FDS; -ERANGE for
 * numbers too large; -EBADF when one of the fds is not open; -ENOMEM.
 *
 * When names is not NULL and the result is above 0, *names is one
 * allocation (free(*names) alone frees it) of that many strings: the
 * LISTEN_FDNAMES entries, or "unknown" for each when it is not set.
 * Otherwise *names is NULL.
 *
 * The variables are removed from the environment in every case (as with
 * sd_listen_fds(1)), so that no child takes the fds for its own.
 * LISTEN_PIDFDID, set by newer service managers, is removed but not
 * checked: LISTEN_PID is. */
int sysd_listen_fds(char ***names);

/* Whether fd is a socket of this family (AF_UNSPEC: any), type (0: any)
 * and, for listening >= 0, listening (1) or not (0). 1 or 0, or -errno
 * (-EBADF for a closed fd). As sd_is_socket(3). */
int sysd_is_socket(int fd, int family, int type, int listening);

/* The most fields one journal message may have here. */
#define SYSD_JOURNAL_FIELDS_MAX 16

/* Send one journal entry of n fields ("NAME=value" each; a value may hold
 * any byte, '\n' included: such a field goes in the protocol's binary
 * form) as a datagram to the journal's native socket at path. Returns 0,
 * -EINVAL for a field without a name and '=', or n of 0, -E2BIG for more
 * than SYSD_JOURNAL_FIELDS_MAX fields, -ENAMETOOLONG for a path too long
 * for a socket address, or -errno from sending: -ENOENT or -ECONNREFUSED
 * without journald, -EAGAIN when its queue is full, -EMSGSIZE for an
 * entry larger than one datagram may be.
 *
 * It never waits: a thread serving a client must not stop because
 * journald is slow. The caller keeps a fallback for a refused entry (log.c
 * writes it to stderr, which under systemd is the journal's stream).
 * libsystemd instead blocks on a full queue and passes an oversized entry
 * in a sealed memfd; pichatd's entries are bounded at about 1.5 KiB, so
 * that path is left out. */
int sysd_journal_sendv(const char *path, const struct iovec *iov, size_t n);
