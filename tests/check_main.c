/* Shared main() of every check test program: runs the file's suite. */
#include "suite.h"
#include <stdlib.h>


int main(void)
{
        SRunner *sr = srunner_create(test_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
