/* sf_mpi.h: the MPI world this process belongs to, and the few collectives that
 * data-parallel training needs (Open MPI underneath, never our own sockets).
 *
 * One binary serves both cases. sf_mpi_init() joins an MPI job only when a launcher
 * started the process (mpirun/mpiexec, or srun with an MPI plugin, set their
 * variables); a process started alone never initialises MPI and is a world of one:
 * rank 0 of size 1, where every collective returns at once (the sum over one rank is
 * the value itself) and costs nothing.
 *
 *   sf_mpi_init(&argc, &argv);          // once, before any other call
 *   if (sf_mpi_rank() == 0) ...         // rank 0 writes files and prints progress
 *   sf_mpi_sum_f32(grads, n);           // every rank gets the sum over the ranks
 *   if (!sf_mpi_all_ok(rc == SF_OK))    // every rank learns that some rank failed
 *   sf_mpi_finalize();                  // once, at exit
 *
 * Collectives are blocking, over MPI_COMM_WORLD, and every rank must call the same
 * ones in the same order. A programming error or an impossible state on one rank
 * stops the whole job through sf_mpi_abort (MPI_Abort), never a rank alone.
 *
 * Timeouts. With sf_mpi_set_timeout(s) > 0, a rank that waits longer than s seconds
 * inside one collective decides that another rank died or hangs, says so, and aborts
 * the job: a launcher that does not notice a dead rank cannot leave the others
 * waiting for ever. Set-up waits (one rank building an image cache while the others
 * wait) run with the timeout off.
 */
#ifndef SF_MPI_H
#define SF_MPI_H

#include <stddef.h>
#include <stdint.h>

/* Joins the MPI job when a launcher started this process, else stays a world of one
 * without touching MPI. SF_ERR with a message when MPI fails to start, or when Slurm
 * started several tasks but MPI sees each as a world of one (srun without a working
 * PMI plugin: each task would train alone and all would write the same files). */
int sf_mpi_init(int *argc, char ***argv);
/* Leaves the job (MPI_Finalize); a no-op in a world of one. */
void sf_mpi_finalize(void);

int sf_mpi_rank(void);       /* 0 when alone */
int sf_mpi_size(void);       /* 1 when alone */
int sf_mpi_local_size(void); /* ranks on this machine, this one included */
/* "rank R of N on HOST" for messages; "" in a world of one. */
const char *sf_mpi_where(void);
/* 1 when a launcher variable says this process is one task of an MPI or Slurm job
 * (what sf_mpi_init looks at); for tests and messages. */
int sf_mpi_launched(void);

/* In place: buf (n) becomes the element-wise sum over the ranks, the same bits on
 * every rank. */
void sf_mpi_sum_f32(float *buf, size_t n);
void sf_mpi_sum_f64(double *buf, size_t n);
/* lo and hi become the minimum and maximum of v over the ranks. */
void sf_mpi_minmax_u64(uint64_t v, uint64_t *lo, uint64_t *hi);
/* buf (bytes) of rank root is copied to every rank. */
void sf_mpi_bcast(void *buf, size_t bytes, int root);
/* 1 when every rank passed ok != 0, else 0 on every rank. */
int sf_mpi_all_ok(int ok);
/* all (size) receives every rank's value, in rank order. */
void sf_mpi_gather_u64(uint64_t v, uint64_t *all);

/* Seconds a rank waits in one collective before it aborts the job (0: for ever).
 * Returns the previous value. */
double sf_mpi_set_timeout(double seconds);
/* The timeout training uses: $SFNET_MPI_TIMEOUT seconds when set (0 turns it off),
 * else 300. */
double sf_mpi_default_timeout(void);
/* Wall seconds spent inside collectives since the start (for benches and logs). */
double sf_mpi_wait_seconds(void);

/* Stops every rank of the job with status code after printing why (one line naming
 * this rank). In a world of one it exits the process. */
void sf_mpi_abort(int code, const char *why) __attribute__((noreturn));

#endif
