#!/bin/sh
# check_layers.sh [ROOT]: the layering of ROOT/src and ROOT/include (default: this
# repository), checked by their #include lines. Exits 1, naming each file, line and
# include that breaks a rule; run by `make check` (tests/test_layers.c).
#
# A file's prefix names its layer, and arrows point down:
#   6  main
#   5  cli_*  tui_*                        the commands; the explorer
#   4  analysis_*
#   3  infer_*  train_*  query_*
#   2  data_*  store_*  nn_*
#   1  safetensors  plot  export  synth*   self-contained libraries
#   0  sf_util  sf_output  sf_mpi  sf_threads   what every module shares; MPI
# A file may include the headers of its own group and of lower layers. Two groups of
# one layer do not include each other (store_* does not reach data_*, cli_* does not
# reach tui_*), except the libraries of layer 1 (export draws with plot). Libraries
# of the outside world stay in their layer: curses and chafa only in tui_*, SQLite
# only in store_* (store_internal.h lends it to query_*), oneDNN only in nn_*, MPI
# only in sf_mpi.
# A new prefix is refused until it has a row in layer() below.
set -u
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2

awk '
function layer(name) {
    if (name == "main") return "main 6"
    if (name ~ /^cli(_|$)/) return "cli 5"
    if (name ~ /^tui(_|$)/) return "tui 5"
    if (name ~ /^analysis(_|$)/) return "analysis 4"
    if (name ~ /^infer(_|$)/) return "infer 3"
    if (name ~ /^train(_|$)/) return "train 3"
    if (name ~ /^query(_|$)/) return "query 3"
    if (name ~ /^data_/) return "data 2"
    if (name ~ /^store(_|$)/) return "store 2"
    if (name ~ /^nn(_|$)/) return "nn 2"
    if (name ~ /^(safetensors|plot|export|synth|synth_.*)$/) return "lib 1"
    if (name ~ /^sf_(util|output|mpi|threads)$/) return "util 0"
    return "unknown -1"
}
function base(path,    b) {
    b = path
    sub(/.*\//, "", b)
    sub(/\.[ch]$/, "", b)
    return b
}
function fail(msg) {
    print "layer check: " msg
    bad = 1
}
FNR == 1 {
    split(layer(base(FILENAME)), l, " ")
    group = l[1]; rank = l[2] + 0
    if (rank < 0) fail(FILENAME ": prefix of no known layer (add it to tests/check_layers.sh)")
}
rank >= 0 && /^[ \t]*#[ \t]*include[ \t]*[<"]/ {
    inc = $0
    sub(/^[ \t]*#[ \t]*include[ \t]*/, "", inc)
    sys = substr(inc, 1, 1) == "<"
    sub(/^[<"]/, "", inc)
    sub(/[>"].*/, "", inc)
    where = FILENAME ":" FNR
    if (inc ~ /^(n?curses[a-z]*|term|chafa)\.h$/ && group != "tui")
        fail(where ": " inc " outside tui_* (curses and chafa belong to the explorer)")
    if (inc == "sqlite3.h" && group != "store")
        fail(where ": " inc " outside store_* (SQL belongs to the store)")
    if (inc ~ /^dnnl/ && group != "nn")
        fail(where ": " inc " outside nn_* (oneDNN belongs to the network)")
    if (inc == "mpi.h" && base(FILENAME) != "sf_mpi")
        fail(where ": " inc " outside sf_mpi (the other modules use its collectives)")
    if (sys) next
    split(layer(base(inc)), m, " ")
    igroup = m[1]; irank = m[2] + 0
    if (irank < 0)
        fail(where ": includes " inc ", of no known layer")
    else if (irank > rank)
        fail(where ": " group " (layer " rank ") includes " inc " of " igroup " (layer " irank "), above it")
    else if (irank == rank && igroup != group && rank != 1)
        fail(where ": " group " includes " inc " of " igroup ", a neighbour in layer " rank)
}
END {
    if (bad) { print "layer check: failed (the rules are at the top of tests/check_layers.sh)"; exit 1 }
    print "layer check: " ARGC - 1 " files, every include points down"
}
' src/*.c include/*.h
