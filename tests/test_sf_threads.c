/* Tests of sf_threads: OpenMP's wait policy, which the program sets by starting
 * itself again (sf_threads_wait_passively). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sf_threads.h"

/* Not a check of its own: started again by the test below (through
 * sf_threads_wait_passively, with a filter that runs only this test), it writes the
 * policy it was started with to $SF_TEST_POLICY_OUT. */
Test(threads, report_the_policy) {
    const char *out = getenv("SF_TEST_POLICY_OUT");
    if (!out) return;
    FILE *f = fopen(out, "w");
    cr_assert_not_null(f);
    const char *policy = getenv("OMP_WAIT_POLICY");
    fprintf(f, "%s\n", policy ? policy : "(unset)");
    fclose(f);
}

static char *policy_of_restarted_child(const char *preset) {
    static char out[64], text[64];
    snprintf(out, sizeof out, "/tmp/sfnet-policy-%d", (int)getpid());
    unlink(out);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("SF_TEST_POLICY_OUT", out, 1);
        unsetenv("BXFI_MAP"); /* started again as a test program, not as Criterion's worker */
        if (preset) setenv("OMP_WAIT_POLICY", preset, 1);
        else unsetenv("OMP_WAIT_POLICY");
        char *argv[] = {"test_sf_threads", "--filter", "threads/report_the_policy", "--jobs=1",
                        NULL};
        sf_threads_wait_passively(argv);
        /* not started again: the policy was set already */
        FILE *f = fopen(out, "w");
        if (f) fprintf(f, "kept %s\n", preset ? preset : "(unset)"), fclose(f);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed (status %d)",
              status);
    FILE *f = fopen(out, "r");
    cr_assert_not_null(f, "the child wrote nothing");
    cr_assert_not_null(fgets(text, sizeof text, f));
    fclose(f);
    unlink(out);
    text[strcspn(text, "\n")] = 0;
    return text;
}

Test(threads, unset_the_program_starts_again_with_passive_waiting) {
    cr_assert_str_eq(policy_of_restarted_child(NULL), "passive");
}

Test(threads, a_policy_the_user_set_is_kept_without_starting_again) {
    cr_assert_str_eq(policy_of_restarted_child("active"), "kept active");
}
