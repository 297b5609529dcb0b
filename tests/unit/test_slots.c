/* Unit: client slots (max_clients, max_clients_per_ip), also under threads. */
#include <pthread.h>
#include <string.h>

#include "slots.h"
#include "suite.h"

static struct addr_key key(unsigned char last)
{
        struct addr_key k;
        memset(&k, 0, sizeof(k));
        k.family = 2;
        k.bytes[0] = 10;
        k.bytes[3] = last;
        return k;
}

START_TEST(slots_limits)
{
        struct slots s;
        struct addr_key a = key(1), b = key(2);

        slots_init(&s);
        ck_assert_int_eq(slots_acquire(&s, &a, 3, 2), SLOTS_OK);
        ck_assert_int_eq(slots_acquire(&s, &a, 3, 2), SLOTS_OK);
        ck_assert_int_eq(slots_acquire(&s, &a, 3, 2), SLOTS_ADDR_FULL);
        ck_assert_int_eq(slots_acquire(&s, &b, 3, 2), SLOTS_OK);
        ck_assert_int_eq(slots_acquire(&s, &b, 3, 2), SLOTS_FULL);
        ck_assert_uint_eq(slots_total(&s), 3);
        ck_assert_uint_eq(slots_of(&s, &a), 2);
        slots_release(&s, &a);
        ck_assert_int_eq(slots_acquire(&s, &b, 3, 2), SLOTS_OK);
        ck_assert_uint_eq(slots_of(&s, &b), 2);
        /* per-address limit 0 = none */
        slots_release(&s, &b);
        ck_assert_int_eq(slots_acquire(&s, &b, 10, 0), SLOTS_OK);
        ck_assert_int_eq(slots_acquire(&s, &b, 10, 0), SLOTS_OK);
        ck_assert_uint_eq(slots_of(&s, &b), 3);
        slots_destroy(&s);
}
END_TEST

START_TEST(slots_release_frees_entry)
{
        struct slots s;
        struct addr_key a = key(7);

        slots_init(&s);
        ck_assert_int_eq(slots_acquire(&s, &a, 5, 5), SLOTS_OK);
        slots_release(&s, &a);
        ck_assert_uint_eq(slots_of(&s, &a), 0);
        ck_assert_uint_eq(slots_total(&s), 0);
        /* releasing an unknown address changes nothing */
        slots_release(&s, &a);
        ck_assert_uint_eq(slots_total(&s), 0);
        slots_destroy(&s);
}
END_TEST

static struct slots shared;

static void *churn(void *arg)
{
        struct addr_key k = key((unsigned char)(uintptr_t)arg);
        for (int i = 0; i < 2000; i++) {
                if (slots_acquire(&shared, &k, 1000, 4) == SLOTS_OK)
                        slots_release(&shared, &k);
        }
        return NULL;
}

START_TEST(slots_threads)
{
        pthread_t t[8];

        slots_init(&shared);
        for (uintptr_t i = 0; i < 8; i++)
                pthread_create(&t[i], NULL, churn, (void *)(i % 3));
        for (int i = 0; i < 8; i++)
                pthread_join(t[i], NULL);
        ck_assert_uint_eq(slots_total(&shared), 0);
        slots_destroy(&shared);
}
END_TEST

Suite *test_suite(void)
{
        Suite *s = suite_create("slots");
        TCase *tc = tcase_create("slots");

        tcase_add_test(tc, slots_limits);
        tcase_add_test(tc, slots_release_frees_entry);
        tcase_add_test(tc, slots_threads);
        suite_add_tcase(s, tc);
        return s;
}
