/* nn_cpu.c: which OpenBLAS kernels this process runs.
 *
 * OpenBLAS picks its kernels once, when the library loads, from the CPU model or from
 * $OPENBLAS_CORETYPE. Debian 12's OpenBLAS (0.3.21) does not know recent Xeons and
 * falls back to its Prescott (SSE3) kernels, about a third of the speed. Forcing
 * Haswell, SkylakeX or Cooperlake kernels on such a CPU is faster but gives wrong
 * convolution gradients (0.5% off in tests/test_nn_parity.c's float64 comparison), so
 * the program leaves the choice to OpenBLAS and the environment.
 * Layer: nn. Calls: no other module; OpenBLAS.
 * Called by: the benches and tests (which BLAS kernels ran).
 */
#include "nn.h"

#include <cblas.h>
#include <string.h>

const char *nn_cpu_blas_core(void) {
    const char *core = openblas_get_corename();
    return core ? core : "unknown";
}
