/* sf_threads.h: how many threads this process runs.
 *
 * OpenMP (libgomp) starts one thread per CPU of the process's affinity mask. That
 * misses two limits a login node or a cluster sets: a cgroup CPU quota (a container
 * or a Slurm job given 4 CPUs' worth of time on a 64-core machine), and other ranks of
 * an MPI job on the same machine that were not bound to cores of their own (srun
 * without task binding: every rank would start a thread per core). Threads beyond the
 * CPUs really there spin at oneDNN's barriers while one of them waits for a core.
 *
 * sf_threads_init() sets OpenMP's thread count once at start, unless
 * $OMP_NUM_THREADS says otherwise: $SLURM_CPUS_PER_TASK inside a Slurm step that sets
 * it, else the CPUs available (sf_cpus_available) shared among the ranks on this
 * machine when their masks are the whole machine. On a machine without quota or
 * binding this is libgomp's own default: nothing changes.
 */
#ifndef SF_THREADS_H
#define SF_THREADS_H

/* CPUs this process may use: its affinity mask, capped by the cgroup CPU quota
 * (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us) rounded down;
 * at least 1. */
int sf_cpus_available(void);

/* The thread count for a process that shares this machine with ranks_here - 1 other
 * ranks of its MPI job (1: alone), as above; sets it with omp_set_num_threads unless
 * $OMP_NUM_THREADS is set, and returns the count OpenMP will use. why (may be NULL)
 * receives where the count came from, for messages. */
int sf_threads_init(int ranks_here, const char **why);

/* OpenMP's threads wait for work by sleeping, not spinning, unless $OMP_WAIT_POLICY says
 * otherwise. A spinning thread holds a core: on a machine where something else runs,
 * the thread that has work waits for it (bench_nn's loaded table), and between parallel
 * regions it takes the core from OpenBLAS's threads and the image decoding. libgomp
 * reads the policy once, when it is loaded (before main), so with it unset this starts
 * the program again (execv of /proc/self/exe, the same arguments) with
 * OMP_WAIT_POLICY=passive; it returns only when the policy was set already, or when the
 * program cannot be started again (then the threads spin, as libgomp has them by
 * default). Call it first thing in main, before any thread or MPI exists. */
void sf_threads_wait_passively(char **argv);

#endif
