#!/bin/sh
# dist_spread.sh: does a run trained on 2 MPI ranks score as a run of one process does?
#
#   sh bench/dist_spread.sh [SEEDS] [OUT_DIR]     (default 10 seeds, /tmp/sfnet-dist-spread)
#
# Trains `--train` on the shared 400 real SDSS galaxies (metallicity; 80/20 split,
# width 16, resize 80, crop 72, k 4, 20 epochs, batch 64) for seeds 0..SEEDS-1, once as
# one process with every core and once as `mpirun -np 2` with one thread a rank (the
# global batch of 64 split 32 + 32, each rank's BatchNorm on its own 32 galaxies), and
# prints each run's validation RMSE, the mean, sd, minimum and maximum of each set, and
# how many 2-rank runs lie within the spread of the first three single-process seeds.
# If the two kinds of run are draws of one distribution, a fourth draw lies within the
# range of three with probability 1/2. About 20 s a seed on 2 cores.
#
# SFNET_BIN (default build/sfnet-explore) and SFNET_DATA (default
# ../shared/data/sdss-metallicity-400) say where the program and the galaxies are.
set -eu
SEEDS=${1:-10}
OUT=${2:-/tmp/sfnet-dist-spread}
BIN=${SFNET_BIN:-build/sfnet-explore}
DATA=${SFNET_DATA:-../shared/data/sdss-metallicity-400}
for need in "$BIN" "$DATA/galaxies.csv"; do
    [ -e "$need" ] || { echo "dist_spread: $need not found (see SFNET_BIN, SFNET_DATA)" >&2; exit 1; }
done
command -v mpirun >/dev/null || { echo "dist_spread: mpirun not found (openmpi-bin)" >&2; exit 1; }
mkdir -p "$OUT"
rm -f "$OUT"/one.db* "$OUT"/two.db*
OPTS="--catalog $DATA/galaxies.csv --images $DATA/images --target metallicity --width 16
      --resize 80 --crop 72 --epochs 20 --batch 64 --quiet"
s=0
while [ "$s" -lt "$SEEDS" ]; do
    # shellcheck disable=SC2086
    "$BIN" --train $OPTS --seed "$s" --name "one$s" "$OUT/one.db" >/dev/null
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe -np 2 -x OMP_NUM_THREADS \
        "$BIN" --train $OPTS --seed "$s" --name "two$s" "$OUT/two.db" >/dev/null
    s=$((s + 1))
done
# the runs table: prefix is column 2, valid_rmse column 10
"$BIN" runs "$OUT/one.db" | awk 'NR > 1 { print "one", $2, $10 }' > "$OUT/rmse.txt"
"$BIN" runs "$OUT/two.db" | awk 'NR > 1 { print "two", $2, $10 }' >> "$OUT/rmse.txt"
awk '
    { v[$1, ++n[$1]] = $3 }
    END {
        printf "seed   one process   2 ranks x 1 thread\n"
        for (i = 1; i <= n["one"]; i++) printf "%4d %13.4f %20.4f\n", i - 1, v["one", i], v["two", i]
        lo = v["one", 1]; hi = lo
        for (i = 2; i <= 3 && i <= n["one"]; i++) {
            if (v["one", i] < lo) lo = v["one", i]
            if (v["one", i] > hi) hi = v["one", i]
        }
        split("one two", kinds, " ")
        for (k = 1; k <= 2; k++) {
            K = kinds[k]; s = 0; q = 0; mn = v[K, 1]; mx = mn
            for (i = 1; i <= n[K]; i++) {
                s += v[K, i]; q += v[K, i] ^ 2
                if (v[K, i] < mn) mn = v[K, i]
                if (v[K, i] > mx) mx = v[K, i]
            }
            m = s / n[K]; sd = n[K] > 1 ? sqrt((q - n[K] * m * m) / (n[K] - 1)) : 0
            printf "%-20s mean %.4f  sd %.4f  min %.4f  max %.4f  (%d runs)\n", \
                   K == "one" ? "one process" : "2 ranks x 1 thread", m, sd, mn, mx, n[K]
        }
        inside = 0
        for (i = 1; i <= n["two"]; i++) inside += v["two", i] >= lo && v["two", i] <= hi
        printf "2-rank runs within the spread of seeds 0-2 of one process (%.4f-%.4f): %d of %d\n", \
               lo, hi, inside, n["two"]
    }' "$OUT/rmse.txt"
