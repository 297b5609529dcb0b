/* broker: Debian's mosquitto, started by a test on a free loopback port
 * with a generated config (no system service), for the [cluster] tests. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct pd_broker {
        pid_t pid;
        unsigned port;
        char dir[64];           /* its config, password and ACL files, log */
        char conf_path[128];
        char log_path[128];
};

/* The broker binary ($PICHAT_MOSQUITTO, or /usr/sbin/mosquitto). */
const char *pd_broker_binary(void);
/* Start mosquitto on 127.0.0.1 and a free port, with extra lines of
 * mosquitto.conf (NULL: anonymous clients may do anything). 0 or -1. */
int pd_broker_start(struct pd_broker *b, const char *extra);
/* Start it again on the same port, with the same config (after
 * pd_broker_stop(b, false)). 0 or -1. */
int pd_broker_restart(struct pd_broker *b);
/* SIGTERM and wait; remove its directory too when cleanup. */
void pd_broker_stop(struct pd_broker *b, bool cleanup);
/* A file in the broker's directory (password file, ACL): its path. */
const char *pd_broker_file(struct pd_broker *b, const char *name, const char *text);
/* A mosquitto password file line for user and password (made with
 * mosquitto_passwd -b), into the broker's file name: its path or NULL. */
const char *pd_broker_passwd(struct pd_broker *b, const char *name, const char *user,
                             const char *password);
