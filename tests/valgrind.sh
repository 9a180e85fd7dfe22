#!/bin/sh
# Every headless command of sfnet-explore under valgrind's memcheck, on a tiny
# synthetic survey made in a temporary folder: prints per command its errors and
# the bytes definitely lost, and fails when any command has an error or a definite
# leak. `make valgrind` builds the DEBUG=1 binary first (valgrind does not know the
# AVX-512 instructions -march=native would put into the normal build; the libraries'
# own kernels, OpenBLAS's and oneDNN's, see valgrind's CPU and pick AVX2).
#   sh tests/valgrind.sh build-debug/sfnet-explore
# tests/valgrind.supp lists what is suppressed and why (fontconfig's cache, made
# once per process and kept on purpose). A new command belongs in the list below.
set -u
bin=$(realpath "${1:-build-debug/sfnet-explore}")
supp=$(realpath "$(dirname "$0")/valgrind.supp")
work=$(mktemp -d /tmp/sfnet-valgrind-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
# OMP_WAIT_POLICY set: --train and predict would otherwise start themselves again to
# set it (sf_threads_wait_passively), outside valgrind
export SFNET_QUIET=1 XDG_CACHE_HOME="$work/cache" OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive
# fontconfig builds its cache for the fonts afresh, as on a machine that never ran it
mkdir -p fc-cache
cat >fonts.conf <<EOF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <cachedir>$work/fc-cache</cachedir>
</fontconfig>
EOF
export FONTCONFIG_FILE="$work/fonts.conf"

failed=0
total=0
# vg NAME ARGS...: one command under memcheck; its log in $work/NAME.log
vg() {
    name=$1; shift
    total=$((total + 1))
    valgrind --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
        --num-callers=40 --suppressions="$supp" --log-file="$work/$name.log" \
        "$bin" "$@" >"$work/$name.out" 2>"$work/$name.err"
    rc=$?
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$work/$name.log" | tr -d ,)
    lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$work/$name.log" | tr -d ,)
    supd=$(sed -n 's/.*ERROR SUMMARY: .*(suppressed: \([0-9,]*\) from.*/\1/p' "$work/$name.log" | tr -d ,)
    printf '%-24s exit %3s  errors %s  definitely lost %s bytes  (suppressed %s)\n' \
        "$name" "$rc" "${errors:-?}" "${lost:-0}" "${supd:-0}"
    if [ "${errors:-1}" != 0 ] || [ "${lost:-0}" != 0 ]; then
        failed=$((failed + 1))
        sed -n '/^==[0-9]*== [A-Z]/,/^==[0-9]*== $/p' "$work/$name.log" | head -n 60
    fi
}
# expect NAME STATUS: the command's exit status was STATUS (a refusal is a test too)
expect() {
    if [ "$rc" -ne "$2" ]; then
        echo "  $1: exit $rc, expected $2:"; head -n 5 "$work/$1.err"
        failed=$((failed + 1))
    fi
}

"$bin" synth -n 40 --size 48 -q survey >/dev/null || exit 1
cat=survey/galaxies.csv img=survey/images
small="--resize 48 --crop 40 --width 1 --epochs 1 --batch 8 -q"

vg help --help; expect help 0
vg version --version; expect version 0
vg synth synth -n 6 --size 32 -q survey2; expect synth 0
vg synth-preview synth --preview preview.png -n 4 --size 32; expect synth-preview 0
vg inspect inspect -q --catalog $cat --images $img --resize 48 --crop 40; expect inspect 0
vg inspect-json inspect --json --catalog $cat --images $img --target bpt_lines; expect inspect-json 0
vg bpt bpt --catalog $cat -o bpt.csv; expect bpt 0
mkfifo fifo.csv
vg bpt-refusals bpt --catalog survey -o fifo.csv; expect bpt-refusals 1
vg bpt-to-a-folder bpt --catalog $cat -o survey; expect bpt-to-a-folder 1
vg train-reference --train $small --engine reference --k 2 --catalog $cat --images $img run.db
expect train-reference 0
vg train-onednn --train $small --k 2 --target bpt_lines --catalog $cat --images $img run.db
expect train-onednn 0
vg train-dense --train $small --k 0 --name dense --catalog $cat --images $img run.db
expect train-dense 0
vg train-refused --train $small --name far_too_long_a_name --catalog $cat --images $img run.db
expect train-refused 2
vg runs runs run.db; expect runs 0
vg runs-json runs --json run.db; expect runs-json 0
vg features features run.db Z; expect features 0
vg features-similar features --similar 'Z 1' run.db; expect features-similar 0
vg top top run.db 'Z 1'; expect top 0
objid=$(sed -n '2s/,.*//p' $cat)
vg galaxy galaxy run.db "$objid"; expect galaxy 0
vg galaxy-missing galaxy run.db "$(printf 'no\033[2Jsuch')"; expect galaxy-missing 1
vg equation equation run.db Z; expect equation 0
vg label label --note 'a note' run.db Z 1 'bright bulge'; expect label 0
vg marks-add marks --add 'Z 1' run.db; expect marks-add 0
vg marks marks run.db; expect marks 0
vg export export run.db 'Z 1' --bpt -o feature.png; expect export 0
vg export-pdf export run.db 'Z 1' --top 4 -o feature.pdf; expect export-pdf 0
vg export-activations export-activations run.db Z acts.npy; expect export-activations 0
vg report report run.db Z --figures figures; expect report 0
vg pca pca run.db dense --k 2,4; expect pca 0
vg latents latents run.db Z --matrix; expect latents 0
vg latents-dense latents run.db dense; expect latents-dense 0
vg sweep sweep --no-train --ks 2 --seeds 1 --figure sweep.png run.db; expect sweep 0
python3 - <<'EOF' || exit 1
import sqlite3
db = sqlite3.connect("run.db")
blob = db.execute("SELECT safetensors FROM run_weights JOIN runs ON runs.id = run_id "
                  "WHERE prefix = 'Z'").fetchone()[0]
open("z.safetensors", "wb").write(blob)
EOF
vg predict predict -q --weights z.safetensors --catalog $cat --images $img -o pred.csv
expect predict 0
vg predict-into predict -q --from-run Z --into run.db --name Z_again --catalog $cat --images $img
expect predict-into 0
vg runs-delete runs --delete Z_again run.db; expect runs-delete 0

# Between runs: counterparts, the compare view (text, JSON, PNG), similar galaxies
vg features-in features run.db 'Z 1' --similar --in all; expect features-in 0
vg features-in-json features --json run.db 'Z 1' --similar --in dense; expect features-in-json 0
vg compare compare run.db dense Z; expect compare 0
vg compare-json compare --json run.db dense Z; expect compare-json 0
vg export-compare export run.db --compare dense Z -o compare.png; expect export-compare 0
vg galaxy-similar galaxy --similar run.db "$objid"; expect galaxy-similar 0
# A survey in shards, each into its own database, then merged into one run
vg predict-shard-0 predict -q --from-run run.db:Z --shard 0/2 --into shard0.db \
    --catalog $cat --images $img
expect predict-shard-0 0
vg predict-shard-1 predict -q --from-run run.db:Z --shard 1/2 --into shard1.db \
    --catalog $cat --images $img
expect predict-shard-1 0
vg predict-shard-csv predict -q --from-run run.db:Z --shard 1/2 -o shard1.csv \
    --catalog $cat --images $img
expect predict-shard-csv 0
vg merge merge -q merged.db shard0.db shard1.db; expect merge 0
vg merge-again merge -q merged.db shard0.db shard1.db; expect merge-again 0
vg merge-refused merge -q merged.db run.db; expect merge-refused 1

# FITS (cfitsio): tables out, to a file, through a FIFO and to standard output; a
# FITS table in as a catalogue (the export's PRED_/TRUE_ columns), training from it
vg export-fits export-activations --fits acts.fits run.db Z; expect export-fits 0
vg export-fits-pairs export-activations --pairs --fits pairs.fits run.db Z
expect export-fits-pairs 0
mkfifo fifo.fits
(cat fifo.fits >from-fifo.fits &)
vg export-fits-fifo export-activations --fits fifo.fits run.db Z; expect export-fits-fifo 0
vg export-fits-stdout export-activations --fits - run.db Z; expect export-fits-stdout 0
vg export-fits-folder export-activations --fits survey run.db Z; expect export-fits-folder 1
vg predict-fits predict -q --weights z.safetensors --catalog $cat --images $img -o pred.fits
expect predict-fits 0
vg inspect-fits inspect -q --catalog acts.fits --images $img --target TRUE_OH_P50 \
    --resize 48 --crop 40
expect inspect-fits 0
vg train-fits --train $small --k 2 --name fits --catalog acts.fits --target TRUE_OH_P50 \
    --images $img run.db
expect train-fits 0
vg inspect-fits-fifo inspect -q --catalog fifo.fits --images $img; expect inspect-fits-fifo 1

echo "valgrind: $total commands, $failed with errors, definite leaks or a wrong exit status"
[ "$failed" -eq 0 ]
