/* The one function every check test program defines; check_main.c runs it. */
#pragma once

#include <check.h>

Suite *test_suite(void);
