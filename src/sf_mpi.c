/* sf_mpi.c: the MPI world (or a world of one without MPI), its collectives, and the
 * watchdog that turns a collective waiting for a dead rank into an abort of the job.
 * See include/sf_mpi.h.
 * Layer: util (the bottom). Calls: sf_util; Open MPI, pthreads.
 * Called by: main, train_dist, train_loop, cli_train.
 */
#include "sf_mpi.h"

#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sf_util.h"

static int g_active; /* MPI_Init was called (and MPI_Finalize not yet) */
static int g_rank, g_size = 1, g_local_size = 1;
static int g_thread_multiple; /* the watchdog may call MPI_Abort itself */
static char g_where[320];

/* The watchdog's view of the collective in progress: the time it started (0: none)
 * and its name, written by the calling thread, read by the watchdog. */
static _Atomic double g_wait_since;
static const char *_Atomic g_wait_what;
static _Atomic double g_timeout;
static double g_wait_total;
static pthread_t g_watchdog;
static int g_watchdog_running;
static _Atomic int g_watchdog_stop;

static int env_set(const char *name) {
    const char *v = getenv(name);
    return v && *v;
}

static long env_long(const char *name) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : 0;
}

int sf_mpi_launched(void) {
    /* mpirun/mpiexec of Open MPI, PMIx (Open MPI, srun --mpi=pmix), PMI-1/2 (srun
     * --mpi=pmi2, MPICH's hydra) */
    if (env_set("OMPI_COMM_WORLD_SIZE") || env_set("PMIX_RANK") || env_set("PMI_RANK") ||
        env_set("PMI_FD"))
        return 1;
    /* a task of an srun step of several tasks, whatever its MPI plugin */
    return env_set("SLURM_PROCID") && env_long("SLURM_STEP_NUM_TASKS") > 1;
}

/* ---- the watchdog ---- */

static void *watchdog_main(void *arg) {
    (void)arg;
    while (!atomic_load(&g_watchdog_stop)) {
        usleep(200 * 1000);
        double since = atomic_load(&g_wait_since), limit = atomic_load(&g_timeout);
        if (since <= 0 || limit <= 0 || sf_now() - since < limit) continue;
        const char *what = atomic_load(&g_wait_what);
        fprintf(stderr,
                "sfnet-explore: %s: waited %.0f s for the other ranks in %s: one of them "
                "died or hangs; stopping the whole job ($SFNET_MPI_TIMEOUT sets the wait)\n",
                g_where, sf_now() - since, what ? what : "a collective");
        fflush(stderr);
        if (g_thread_multiple) MPI_Abort(MPI_COMM_WORLD, 1);
        /* Without MPI_THREAD_MULTIPLE only this rank can go: its death ends the job
         * under mpirun, and under srun --kill-on-bad-exit. */
        raise(SIGKILL);
    }
    return NULL;
}

static void wait_begin(const char *what) {
    atomic_store(&g_wait_what, what);
    atomic_store(&g_wait_since, sf_now());
}

static void wait_end(void) {
    double since = atomic_exchange(&g_wait_since, 0.0);
    if (since > 0) g_wait_total += sf_now() - since;
}

/* ---- set-up ---- */

int sf_mpi_init(int *argc, char ***argv) {
    if (g_active || !sf_mpi_launched()) return SF_OK;
    long slurm_tasks = env_long("SLURM_STEP_NUM_TASKS");
    if (slurm_tasks > 1 && !env_set("OMPI_COMM_WORLD_SIZE") && !env_set("PMIX_RANK") &&
        !env_set("PMI_RANK") && !env_set("PMI_FD"))
        /* Open MPI would abort inside MPI_Init with a message about a NULL communicator */
        return sf_fail("srun started %ld tasks without an MPI plugin, so they cannot form one "
                       "MPI job: run srun --mpi=pmix (`srun --mpi=list` shows what this Slurm "
                       "offers), or mpirun inside the allocation",
                       slurm_tasks);
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
        return sf_fail("MPI_Init failed: started by mpirun or srun, but no MPI job to join");
    g_active = 1;
    g_thread_multiple = provided >= MPI_THREAD_MULTIPLE;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &g_local_size);
        MPI_Comm_free(&node);
    }
    char host[MPI_MAX_PROCESSOR_NAME] = "";
    int len = 0;
    MPI_Get_processor_name(host, &len);
    snprintf(g_where, sizeof g_where, "rank %d of %d on %s", g_rank, g_size, host);
    if (g_size == 1 && slurm_tasks > 1) {
        sf_fail("srun started %ld tasks, but MPI sees each one as a world of one: srun's "
                "PMI is not wired to this Open MPI (try srun --mpi=pmix, see `srun "
                "--mpi=list`, or run mpirun inside the allocation)",
                slurm_tasks);
        return SF_ERR;
    }
    /* MPI_ERRORS_ARE_FATAL is the default: a failed collective stops the job. */
    if (g_size > 1 && pthread_create(&g_watchdog, NULL, watchdog_main, NULL) == 0)
        g_watchdog_running = 1;
    return SF_OK;
}

void sf_mpi_finalize(void) {
    if (!g_active) return;
    if (g_watchdog_running) {
        atomic_store(&g_watchdog_stop, 1);
        pthread_join(g_watchdog, NULL);
        g_watchdog_running = 0;
    }
    if (g_size > 1) {
        /* A rank that is done while rank 0 still stores the run waits here asleep;
         * MPI_Finalize's own wait would poll the whole time. */
        MPI_Request req;
        int done = 0;
        MPI_Ibarrier(MPI_COMM_WORLD, &req);
        while (MPI_Test(&req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done) usleep(20000);
    }
    MPI_Finalize();
    g_active = 0;
}

int sf_mpi_rank(void) { return g_rank; }
int sf_mpi_size(void) { return g_size; }
int sf_mpi_local_size(void) { return g_local_size; }
const char *sf_mpi_where(void) { return g_where; }

double sf_mpi_set_timeout(double seconds) {
    return atomic_exchange(&g_timeout, seconds > 0 ? seconds : 0.0);
}

double sf_mpi_default_timeout(void) {
    const char *v = getenv("SFNET_MPI_TIMEOUT");
    if (!v || !*v) return 300;
    char *end;
    double s = strtod(v, &end);
    return end != v && s >= 0 ? s : 300;
}

double sf_mpi_wait_seconds(void) { return g_wait_total; }

/* ---- collectives ---- */

/* MPI counts are ints: big buffers go in pieces. */
#define CHUNK ((size_t)1 << 28)

void sf_mpi_sum_f32(float *buf, size_t n) {
    if (g_size == 1) return;
    wait_begin("the sum of the gradients");
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t c = n - i < CHUNK ? n - i : CHUNK;
        MPI_Allreduce(MPI_IN_PLACE, buf + i, (int)c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    wait_end();
}

void sf_mpi_sum_f64(double *buf, size_t n) {
    if (g_size == 1) return;
    wait_begin("a sum over the ranks");
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t c = n - i < CHUNK ? n - i : CHUNK;
        MPI_Allreduce(MPI_IN_PLACE, buf + i, (int)c, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    }
    wait_end();
}

void sf_mpi_minmax_u64(uint64_t v, uint64_t *lo, uint64_t *hi) {
    *lo = *hi = v;
    if (g_size == 1) return;
    wait_begin("a comparison between the ranks");
    MPI_Allreduce(MPI_IN_PLACE, lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    wait_end();
}

void sf_mpi_bcast(void *buf, size_t bytes, int root) {
    if (g_size == 1) return;
    wait_begin("rank 0's data");
    for (size_t i = 0; i < bytes; i += CHUNK) {
        size_t c = bytes - i < CHUNK ? bytes - i : CHUNK;
        MPI_Bcast((char *)buf + i, (int)c, MPI_BYTE, root, MPI_COMM_WORLD);
    }
    wait_end();
}

int sf_mpi_all_ok(int ok) {
    if (g_size == 1) return ok != 0;
    int v = ok != 0;
    wait_begin("the other ranks' status");
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    wait_end();
    return v;
}

void sf_mpi_gather_u64(uint64_t v, uint64_t *all) {
    if (g_size == 1) {
        all[0] = v;
        return;
    }
    wait_begin("the other ranks' values");
    MPI_Allgather(&v, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
    wait_end();
}

void sf_mpi_abort(int code, const char *why) {
    if (g_size == 1 || !g_active) {
        if (why) fprintf(stderr, "sfnet-explore: %s\n", why);
        exit(code);
    }
    if (why) fprintf(stderr, "sfnet-explore: %s: %s; stopping every rank\n", g_where, why);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    abort(); /* not reached */
}
