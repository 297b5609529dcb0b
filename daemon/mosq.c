/* mosq: dlopen of libmosquitto and its function table. */
#include "mosq.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

struct mosq mosq_lib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int result;
static char why[256];

static void load(void)
{
        /* RTLD_LOCAL: its symbols stay out of the global namespace; never
         * closed, as its network thread may outlive anything. */
        void *h = dlopen(MOSQ_SONAME, RTLD_NOW | RTLD_LOCAL);
        const char *missing = NULL;

        if (!h) {
                snprintf(why, sizeof(why), "%s", dlerror());
                result = -ENOENT;
                return;
        }
#define MOSQ_SYM(name)                                                                   \
        if (!missing && !(mosq_lib.name = (__typeof__(mosq_lib.name))dlsym(h, "mosquitto_" #name))) \
                missing = "mosquitto_" #name;
        MOSQ_FUNCTIONS(MOSQ_SYM)
#undef MOSQ_SYM
        if (missing) {
                snprintf(why, sizeof(why), "%s has no %s (libmosquitto 2.0 or later is needed)",
                         MOSQ_SONAME, missing);
                result = -ENOENT;
                return;
        }
        mosq_lib.lib_init();
}

int mosq_load(char *err, size_t size)
{
        pthread_once(&once, load);
        if (result < 0)
                snprintf(err, size, "%s", why);
        return result;
}
