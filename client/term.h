/* term: the terminal mode and the signals that must not leave it broken.
 *
 * The interactive client reads keys one at a time (non-canonical, no
 * echo), and the terminal has to get its own settings back on every way
 * out: normal exit (atexit), Ctrl-C and friends (signals arrive through a
 * self-pipe and end the main loop normally), and Ctrl-Z (settings are
 * restored before stopping and set again on continuing). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Switch stdin to key-at-a-time mode: 0 or -errno. The original
 * settings are put back by term_restore(), which also runs at exit. */
int term_raw(void);
void term_restore(void);

/* Width of the terminal on stdout in columns (80 if unknown). */
unsigned term_cols(void);

/* Catch SIGINT, SIGTERM, SIGHUP, SIGQUIT (and SIGTSTP when job_control)
 * into a self-pipe; ignore SIGPIPE. Returns the pipe's read end to poll,
 * or -errno. */
int sig_init(bool job_control);
/* The next caught signal, or 0 if none is pending. */
int sig_next(void);
/* Stop the process for Ctrl-Z with the terminal restored; returns after
 * SIGCONT with key-at-a-time mode back on. */
void term_suspend(void);

/* write() all of buf, retrying short writes and EINTR: 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);
