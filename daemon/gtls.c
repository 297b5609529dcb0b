/* gtls: dlopen of GnuTLS and its function table. */
#include "gtls.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

struct gtls gtls;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int result;
static char why[256];

static void load(void)
{
        /* RTLD_LOCAL: GnuTLS's symbols stay out of the global namespace;
         * never closed, as sessions and credentials may outlive anything. */
        void *h = dlopen(GTLS_SONAME, RTLD_NOW | RTLD_LOCAL);
        const char *missing = NULL;

        if (!h) {
                snprintf(why, sizeof(why), "%s", dlerror());
                result = -ENOENT;
                return;
        }
#define GTLS_SYM(name)                                                              \
        if (!missing && !(gtls.name = (__typeof__(gtls.name))dlsym(h, "gnutls_" #name))) \
                missing = "gnutls_" #name;
        GTLS_FUNCTIONS(GTLS_SYM)
#undef GTLS_SYM
        if (!missing && !(gtls.free = dlsym(h, "gnutls_free")))
                missing = "gnutls_free";
        if (missing) {
                snprintf(why, sizeof(why), "%s has no %s (GnuTLS 3.6.5 or later is needed)",
                         GTLS_SONAME, missing);
                result = -ENOENT;
        }
}

int gtls_load(char *err, size_t size)
{
        pthread_once(&once, load);
        if (result < 0)
                snprintf(err, size, "%s", why);
        return result;
}
