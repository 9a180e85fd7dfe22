#!/bin/sh
# make demo: a synthetic survey, an SL run (the four line fluxes), a Z run
# (metallicity) and a dense CNN run (morphology, standing in for Zoobot) trained on
# it with a small model, then the explorer on the resulting database (or its
# feature lists and equations when stdout is not a terminal). Everything lands in
# $SFNET_DEMO_DIR (default ./demo); steps already done are skipped, so running it
# again opens the explorer at once.
set -eu
BIN=${1:-./sfnet-explore}
DIR=${SFNET_DEMO_DIR:-demo}
N=${SFNET_DEMO_N:-5000}
EPOCHS=${SFNET_DEMO_EPOCHS:-15}
ENGINE=${SFNET_DEMO_ENGINE:-onednn}
SURVEY="$DIR/survey"
DB="$DIR/demo.db"
mkdir -p "$DIR"

# a survey (and the runs trained on it) made by another version of the survey's
# physics is made again
VERSION=$("$BIN" synth --physics-version)
if [ -f "$SURVEY/galaxies.csv" ] && [ "$(cat "$SURVEY/synth-version" 2>/dev/null || echo 1)" != "$VERSION" ]; then
    echo "demo: $SURVEY was made by another version of the synthetic survey; making it again"
    rm -rf "$SURVEY" "$DB"
fi
if [ ! -f "$SURVEY/galaxies.csv" ]; then
    echo "demo: making a synthetic survey of $N galaxies in $SURVEY"
    "$BIN" synth -n "$N" --size 144 "$SURVEY"
fi

# A small model (ResNet18 at half width, whole cutouts shrunk to 72 pixels and cropped to
# 64) trains in a couple of minutes on 2 cores.
train() { # prefix target [k [epochs]]
    if [ -f "$DB" ] && "$BIN" runs "$DB" 2>/dev/null | grep -Eq "^[[:space:]]*[0-9]+[[:space:]]+$1[[:space:]]"; then
        echo "demo: run $1 is in $DB already"
        return
    fi
    echo "demo: training run $1 ($2) on $SURVEY"
    "$BIN" --train --catalog "$SURVEY/galaxies.csv" --images "$SURVEY/images" --target "$2" \
        --width 32 --resize 72 --crop 64 --epochs "${4:-$EPOCHS}" --k "${3:-4}" --engine "$ENGINE" --name "$1" "$DB"
}
start=$(date +%s)
train SL bpt_lines
train Z metallicity
# A dense CNN (no top-k) trained on the galaxies' morphology stands in for Zoobot in the
# paper's comparison: `compare demo.db CNN Z` gives the R^2 of each Z feature from it.
train CNN true_bulge_frac,true_axis_ratio,true_arm_strength,true_clump_frac,true_merger 0 $(( (EPOCHS + 1) / 2 ))
echo "demo: training took $(( $(date +%s) - start )) s"
top_z=$("$BIN" features --csv "$DB" Z | sed -n 2p | cut -d, -f1)
echo "demo: between runs: sfnet-explore features $DB '$top_z' --similar --in SL; sfnet-explore compare $DB CNN Z"

if [ -t 1 ] && [ -t 0 ]; then
    exec "$BIN" "$DB"
fi
"$BIN" "$DB" | cat
