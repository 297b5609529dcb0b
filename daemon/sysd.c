/* sysd: notify, watchdog, socket activation and native journal messages,
 * on the service manager's own wire protocols. */
#include "sysd.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A decimal number, digits only and nothing after them: 0, -EINVAL, or
 * -ERANGE past max. Stricter than strtoull, which takes signs and spaces. */
static int parse_number(const char *s, uint64_t max, uint64_t *out)
{
        uint64_t n = 0;

        if (!*s)
                return -EINVAL;
        for (; *s; s++) {
                unsigned d = (unsigned)(*s - '0');

                if (d > 9)
                        return -EINVAL;
                if (n > (max - d) / 10)
                        return -ERANGE;
                n = n * 10 + d;
        }
        *out = n;
        return 0;
}

/* The number in the variable name: 1 when set, 0 when not, or -errno. */
static int env_number(const char *name, uint64_t max, uint64_t *out)
{
        const char *s = getenv(name);
        int r;

        if (!s)
                return 0;
        r = parse_number(s, max, out);
        return r < 0 ? r : 1;
}

/* 1 if the variable holds our pid, 0 if another's, -EINVAL/-ERANGE if no pid. */
static int names_us(const char *var)
{
        uint64_t pid;
        int r = parse_number(var, INT_MAX, &pid);

        if (r < 0)
                return r;
        if (pid == 0)
                return -EINVAL;
        return (pid_t)pid == getpid();
}

/* ---- notify ------------------------------------------------------------- */

/* $NOTIFY_SOCKET as an address: its length, or -errno as sysd_notify(). */
static int notify_address(const char *e, struct sockaddr_un *sa)
{
        size_t l = strlen(e);

        if (strncmp(e, "vsock:", 6) == 0)
                return -EAFNOSUPPORT;
        if (l < 2 || (e[0] != '/' && e[0] != '@'))
                return -EINVAL;
        /* Room for a terminating NUL, for the abstract name too, as
         * libsystemd insists, so that both sides agree on the name. */
        if (l + 1 > sizeof(sa->sun_path))
                return e[0] == '@' ? -EINVAL : -ENAMETOOLONG;
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        memcpy(sa->sun_path, e, l);
        if (e[0] == '@') {
                /* An abstract name is the bytes after a NUL, no terminator. */
                sa->sun_path[0] = '\0';
                return (int)(offsetof(struct sockaddr_un, sun_path) + l);
        }
        return (int)(offsetof(struct sockaddr_un, sun_path) + l + 1);
}

int sysd_notify(const char *state)
{
        const char *e = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa;
        struct iovec iov;
        struct msghdr mh = { .msg_name = &sa, .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t sent;
        int fd, len, r;

        if (!state)
                return -EINVAL;
        if (!e)
                return 0;
        len = notify_address(e, &sa);
        if (len < 0)
                return len;
        mh.msg_namelen = (socklen_t)len;
        iov.iov_base = (void *)state;
        iov.iov_len = strlen(state);

        /* A socket per message: they are few (a status line a second at
         * most), and nothing stays open for a child to inherit. */
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        sent = sendmsg(fd, &mh, MSG_NOSIGNAL);
        r = sent < 0 ? -errno : (size_t)sent < iov.iov_len ? -EIO : 1;
        close(fd);
        return r;
}

/* ---- watchdog ----------------------------------------------------------- */

int sysd_watchdog_usec(uint64_t *usec)
{
        const char *p = getenv("WATCHDOG_PID");
        uint64_t u;
        int r = env_number("WATCHDOG_USEC", UINT64_MAX, &u);

        if (r <= 0)
                return r;
        /* 0 and infinity are not intervals: systemd never sends them. */
        if (u == 0 || u == UINT64_MAX)
                return -EINVAL;
        if (p) {
                r = names_us(p);
                if (r <= 0)
                        return r;
        }
        *usec = u;
        return 1;
}

/* ---- socket activation -------------------------------------------------- */

static void listen_env_clear(void)
{
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_PIDFDID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
}

/* The count in LISTEN_FDS, after checking that they are ours and open. */
static int listen_count(void)
{
        const char *p = getenv("LISTEN_PID");
        uint64_t n;
        int r;

        if (!p)
                return 0;
        r = names_us(p);
        if (r <= 0)
                return r;
        r = env_number("LISTEN_FDS", INT_MAX, &n);
        if (r <= 0)
                return r;
        if (n == 0 || n > INT_MAX - SYSD_LISTEN_FDS_START)
                return -EINVAL;
        for (int fd = SYSD_LISTEN_FDS_START; fd < SYSD_LISTEN_FDS_START + (int)n; fd++) {
                int fl = fcntl(fd, F_GETFD);

                /* Children must not keep the listeners open. */
                if (fl < 0 || (!(fl & FD_CLOEXEC) && fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0))
                        return -errno;
        }
        return (int)n;
}

/* names[0 .. n-1] in one block: n pointers, then the names they point at
 * (LISTEN_FDNAMES split at every ':', empty names kept, or "unknown"). */
static int listen_names(const char *e, int n, char ***out)
{
        const char *text = e ? e : "unknown";
        size_t count = 1, tl = strlen(text);
        char **v, *s;

        if (e) {
                if (!*e)
                        return -EINVAL;         /* no names at all */
                for (const char *c = e; *c; c++)
                        count += *c == ':';
                if (count != (size_t)n)
                        return -EINVAL;
        }
        v = malloc((size_t)n * sizeof(*v) + tl + 1);
        if (!v)
                return -ENOMEM;
        s = memcpy((char *)(v + n), text, tl + 1);
        for (int i = 0; i < n; i++) {
                v[i] = s;
                if (e) {
                        s += strcspn(s, ":");
                        *s++ = '\0';    /* the last name ends at the NUL */
                }
        }
        *out = v;
        return n;
}

int sysd_listen_fds(char ***names)
{
        int n;

        if (names)
                *names = NULL;
        n = listen_count();
        /* The names before the clearing, which may free them. */
        if (n > 0 && names)
                n = listen_names(getenv("LISTEN_FDNAMES"), n, names);
        listen_env_clear();
        return n;
}

int sysd_is_socket(int fd, int family, int type, int listening)
{
        struct stat st;
        struct sockaddr_storage ss;
        socklen_t l;
        int v;

        if (fd < 0)
                return -EBADF;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISSOCK(st.st_mode))
                return 0;
        if (type != 0) {
                l = sizeof(v);
                if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) < 0)
                        return -errno;
                if (v != type)
                        return 0;
        }
        if (listening >= 0) {
                l = sizeof(v);
                if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l) < 0)
                        return -errno;
                if (!v != !listening)
                        return 0;
        }
        if (family != AF_UNSPEC) {
                l = sizeof(ss);
                if (getsockname(fd, (struct sockaddr *)&ss, &l) < 0)
                        return -errno;
                if (l < sizeof(sa_family_t))
                        return -EINVAL;
                return ss.ss_family == family;
        }
        return 1;
}

/* ---- the journal -------------------------------------------------------- */

/* One datagram socket for every thread, made on first use (fd + 1, so
 * that 0 means none yet). Not connected: journald may be restarted. */
static atomic_int journal_fd_plus_one;

static int journal_fd(void)
{
        int cur = atomic_load(&journal_fd_plus_one), fd;

        if (cur > 0)
                return cur - 1;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (!atomic_compare_exchange_strong(&journal_fd_plus_one, &cur, fd + 1)) {
                close(fd);      /* another thread was first: use its socket */
                return cur - 1;
        }
        return fd;
}

int sysd_journal_sendv(const char *path, const struct iovec *iov, size_t n)
{
        static char nl[] = "\n";
        struct iovec w[SYSD_JOURNAL_FIELDS_MAX * 5];
        uint64_t le[SYSD_JOURNAL_FIELDS_MAX];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct msghdr mh = { .msg_name = &sa, .msg_iov = w };
        size_t j = 0, total = 0, pl = strlen(path);
        ssize_t sent;
        int fd;

        if (n == 0)
                return -EINVAL;
        if (n > SYSD_JOURNAL_FIELDS_MAX)
                return -E2BIG;
        if (pl >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, pl + 1);
        mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + pl + 1);

        for (size_t i = 0; i < n; i++) {
                char *f = iov[i].iov_base;
                size_t len = iov[i].iov_len;
                char *eq = f && len > 1 ? memchr(f, '=', len) : NULL;
                char *lf = eq ? memchr(f, '\n', len) : NULL;

                if (!eq || eq == f || (lf && lf < eq))
                        return -EINVAL;
                if (lf) {
                        /* NAME '\n', the value's size as 64-bit little
                         * endian, the value, '\n'. */
                        size_t name = (size_t)(eq - f), vlen = len - name - 1;

                        le[i] = htole64((uint64_t)vlen);
                        w[j++] = (struct iovec){ f, name };
                        w[j++] = (struct iovec){ nl, 1 };
                        w[j++] = (struct iovec){ &le[i], sizeof(le[i]) };
                        w[j++] = (struct iovec){ eq + 1, vlen };
                        total += name + 1 + sizeof(le[i]) + vlen;
                } else {
                        w[j++] = iov[i];
                        total += len;
                }
                w[j++] = (struct iovec){ nl, 1 };
                total++;
        }
        mh.msg_iovlen = j;

        fd = journal_fd();
        if (fd < 0)
                return fd;
        sent = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0)
                return -errno;
        return (size_t)sent == total ? 0 : -EIO;
}
