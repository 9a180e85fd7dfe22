/* nn_cpu.c: make OpenBLAS use the kernels this CPU can run fastest.
 *
 * OpenBLAS picks its kernels once, when the library loads, from the CPU model or from
 * $OPENBLAS_CORETYPE. Debian 12's OpenBLAS (0.3.21) does not know recent Xeons and
 * falls back to its Prescott (SSE3) kernels, about a third of the speed. */
#include "nn.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char *nn_cpu_blas_core(void) {
    const char *core = openblas_get_corename();
    return core ? core : "unknown";
}

void nn_cpu_setup(char **argv) {
    if (getenv("OPENBLAS_CORETYPE") || strcasecmp(nn_cpu_blas_core(), "Prescott") != 0)
        return;
    __builtin_cpu_init();
    const char *core = NULL;
    if (__builtin_cpu_supports("avx512bf16")) core = "Cooperlake";
    else if (__builtin_cpu_supports("avx512f")) core = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) core = "Haswell";
    if (!core) return;
    /* The kernels are chosen before main(): run this program again with the variable
     * set. The variable set, this returns at once, so there is no loop; if exec fails,
     * the program goes on with the slow kernels. */
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return;
    self[len] = 0;
    setenv("OPENBLAS_CORETYPE", core, 1);
    execv(self, argv);
}
