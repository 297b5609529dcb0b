/* reload: reading the configuration again (SIGHUP) and swapping it in
 * without dropping a client. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "chat.h"
#include "conf.h"

/* Keep in next what only a restart can change (listen addresses, ports,
 * enabled services, thread stacks), copied from cur; each setting that
 * differed is logged as a warning. Returns how many differed. */
unsigned reload_keep_restart_only(const struct conf *cur, struct conf *next);

/* Load path, validate it, and make it the configuration in force in
 * store: texts, prefixes, limits, MOTD, rooms and the log level apply at
 * once. chat, when the chat service runs, gets its rooms reconfigured.
 * 0, or -errno with the reason in problem (the first error, as
 * "FILE:LINE: reason"); then the configuration in force is unchanged and
 * every error has been logged. */
int reload_config(struct conf_store *store, const char *path, struct chat *chat, char *problem,
                  size_t size);
