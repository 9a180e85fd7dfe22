/* sf_threads.c: the thread count from the CPUs the process may really use, and OpenMP's
 * wait policy. See include/sf_threads.h.
 * Layer: util (the bottom). Calls: no other module; OpenMP.
 * Called by: main, bench_nn.
 */
#include "sf_threads.h"

#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The cgroup CPU quota in CPUs (quota / period), or 0 when there is none. */
static double cgroup_cpu_quota(void) {
    char buf[128];
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r"); /* cgroup v2: "max 100000" or "150000 100000" */
    if (f) {
        double q = 0;
        if (fgets(buf, sizeof buf, f) && strncmp(buf, "max", 3) != 0) {
            long quota, period;
            if (sscanf(buf, "%ld %ld", &quota, &period) == 2 && quota > 0 && period > 0)
                q = (double)quota / (double)period;
        }
        fclose(f);
        return q;
    }
    long quota = -1, period = -1;
    f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r"); /* cgroup v1 */
    if (f) {
        if (fscanf(f, "%ld", &quota) != 1) quota = -1;
        fclose(f);
    }
    f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r");
    if (f) {
        if (fscanf(f, "%ld", &period) != 1) period = -1;
        fclose(f);
    }
    return quota > 0 && period > 0 ? (double)quota / (double)period : 0;
}

static int affinity_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (int)n : 1;
    }
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

int sf_cpus_available(void) {
    int n = affinity_cpus();
    double quota = cgroup_cpu_quota();
    /* a fraction of a CPU more would run a thread that is throttled at each period's
     * end while the others wait for it at a barrier */
    if (quota > 0 && quota < n) n = quota >= 1 ? (int)quota : 1;
    return n;
}

int sf_threads_init(int ranks_here, const char **why) {
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && *env) {
        if (why) *why = "OMP_NUM_THREADS";
        return omp_get_max_threads();
    }
    const char *slurm = getenv("SLURM_CPUS_PER_TASK");
    int n;
    if (slurm && *slurm && getenv("SLURM_STEP_ID") && atoi(slurm) > 0) {
        n = atoi(slurm);
        if (why) *why = "SLURM_CPUS_PER_TASK";
    } else {
        n = sf_cpus_available();
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        /* ranks whose masks are the whole machine share its CPUs; ranks bound to cores
         * of their own (mpirun's default) have their share in their mask already */
        if (ranks_here > 1 && affinity_cpus() >= online) {
            n /= ranks_here;
            if (n < 1) n = 1;
            if (why) *why = "the CPUs shared among the ranks on this machine";
        } else if (why) {
            *why = n < affinity_cpus() ? "the cgroup CPU quota" : "the CPUs of the affinity mask";
        }
    }
    omp_set_num_threads(n);
    return n;
}

void sf_threads_wait_passively(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    /* the program's own path: under valgrind, /proc/self/exe is valgrind's tool, and
     * readlink gives the program */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || n >= (ssize_t)sizeof self - 1) return;
    self[n] = 0;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv(self, argv);
    unsetenv("OMP_WAIT_POLICY"); /* not started again: go on as libgomp is */
}
