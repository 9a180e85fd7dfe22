#!/bin/sh
# The synthetic survey as a test bed for the paper's claims: the numbers of
# data/README.md, from a fresh clone after `make`:
#   sh data/synth_report.sh [OUT_DIR]          (default ./synth-report)
# Makes the survey of the demo (5000 galaxies, seed 256), then at the demo's settings
# (width 32, whole cutouts shrunk to 72 pixels and cropped to 64, 15 epochs):
#   - Table 2: SFNets for k = 2, 3, 4, 6, 8, three seeds each, against the PCA
#     baseline of one dense run (sfnet-explore sweep; resumable);
#   - an SL run (the four line fluxes) and its AGN SVM, without and with balanced
#     class weights (sfnet-explore report);
#   - which true_* latents the most frequent features of the k = 4 runs and the
#     leading principal components of the dense run track (sfnet-explore latents).
# Steps already done are skipped, so an interrupted report continues.
# A smaller report (the numbers then differ from data/README.md's): SFNET_REPORT_N
# galaxies (5000), SFNET_REPORT_EPOCHS (15), SFNET_REPORT_SEEDS (3), SFNET_REPORT_WIDTH
# (32).
set -eu
BIN=${SFNET_BIN:-./sfnet-explore}
OUT=${1:-synth-report}
N=${SFNET_REPORT_N:-5000}
EPOCHS=${SFNET_REPORT_EPOCHS:-15}
SEEDS=${SFNET_REPORT_SEEDS:-3}
WIDTH=${SFNET_REPORT_WIDTH:-32}
SURVEY="$OUT/survey"
TRAIN="--width $WIDTH --resize 72 --crop 64 --epochs $EPOCHS --quiet"
mkdir -p "$OUT"
VERSION=$("$BIN" synth --physics-version)
if [ -f "$SURVEY/galaxies.csv" ] && [ "$(cat "$SURVEY/synth-version" 2>/dev/null || echo 1)" != "$VERSION" ]; then
    echo "synth_report: $SURVEY was made by another version of the synthetic survey;" \
         "remove $OUT (or choose another OUT_DIR) to make the report again" >&2
    exit 1
fi
if [ ! -f "$SURVEY/galaxies.csv" ]; then
    "$BIN" synth -n "$N" --seed 256 --size 144 --quiet "$SURVEY"
fi
DATA="--catalog $SURVEY/galaxies.csv --images $SURVEY/images"

# shellcheck disable=SC2086
"$BIN" sweep --seeds "$SEEDS" --figure "$OUT/figure4-metallicity.png" "$OUT/sweep-z.db" -- \
    $DATA --target metallicity $TRAIN > "$OUT/table2-metallicity.txt"

if ! "$BIN" runs "$OUT/sl.db" 2>/dev/null | grep -Eq "^[[:space:]]*[0-9]+[[:space:]]+SL[[:space:]]"; then
    # shellcheck disable=SC2086
    "$BIN" --train $DATA --target bpt_lines $TRAIN --k 4 --seed 1 --name SL "$OUT/sl.db" >/dev/null
fi
"$BIN" report "$OUT/sl.db" SL > "$OUT/report-sl.txt"

: > "$OUT/latents.txt"
for run in $(seq -f k4s%g 1 "$SEEDS") dense; do
    "$BIN" latents "$OUT/sweep-z.db" "$run" --top 6 --best 3 >> "$OUT/latents.txt"
    echo >> "$OUT/latents.txt"
done
"$BIN" latents "$OUT/sl.db" SL --top 6 --best 3 >> "$OUT/latents.txt"

cat "$OUT/table2-metallicity.txt"
echo
sed -n '/^AGN classification/,$p' "$OUT/report-sl.txt"
echo
cat "$OUT/latents.txt"
