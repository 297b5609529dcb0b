/* locked: reading a value under a mutex, the one pattern of the many
 * small accessors of locked state. Header only. */
#pragma once

#include <pthread.h>

/* expr, evaluated with lock held. */
#define LOCKED_READ(lock, expr)                          \
        ({                                               \
                pthread_mutex_lock(lock);                \
                __typeof__(expr) locked_v_ = (expr);     \
                pthread_mutex_unlock(lock);              \
                locked_v_;                               \
        })
