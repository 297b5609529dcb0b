/* term: termios handling, the signal self-pipe and plain output. */
#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static bool have_saved;         /* saved holds the settings to go back to */
static bool is_raw;
static int sig_fds[2] = { -1, -1 };

int term_raw(void)
{
        struct termios t;

        if (!have_saved) {
                if (tcgetattr(STDIN_FILENO, &saved) < 0)
                        return -errno;
                have_saved = true;
                atexit(term_restore);
        }
        t = saved;
        /* ISIG stays on: Ctrl-C, Ctrl-\ and Ctrl-Z become signals, which
         * then end or suspend the session the orderly way. OPOST stays on
         * so '\n' still goes out as CR LF. */
        t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) < 0)
                return -errno;
        is_raw = true;
        return 0;
}

void term_restore(void)
{
        if (is_raw && tcsetattr(STDIN_FILENO, TCSADRAIN, &saved) == 0)
                is_raw = false;
}

unsigned term_cols(void)
{
        struct winsize ws;

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                return ws.ws_col;
        return 80;
}

static void on_signal(int sig)
{
        int saved_errno = errno;
        unsigned char b = (unsigned char)sig;
        /* A full pipe means signals are pending already; losing one is fine. */
        ssize_t r = write(sig_fds[1], &b, 1);

        (void)r;
        errno = saved_errno;
}

static int catch_signal(int sig)
{
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        return sigaction(sig, &sa, NULL);
}

int sig_init(bool job_control)
{
        static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

        if (sig_fds[0] < 0 && pipe2(sig_fds, O_NONBLOCK | O_CLOEXEC) < 0)
                return -errno;
        signal(SIGPIPE, SIG_IGN);
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
                if (catch_signal(sigs[i]) < 0)
                        return -errno;
        if (job_control && catch_signal(SIGTSTP) < 0)
                return -errno;
        return sig_fds[0];
}

int sig_next(void)
{
        unsigned char b;

        if (sig_fds[0] >= 0 && read(sig_fds[0], &b, 1) == 1)
                return b;
        return 0;
}

void term_suspend(void)
{
        term_restore();
        signal(SIGTSTP, SIG_DFL);
        raise(SIGTSTP);
        /* Here again after SIGCONT. */
        catch_signal(SIGTSTP);
        term_raw();
}

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}
