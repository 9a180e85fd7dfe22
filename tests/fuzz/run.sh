#!/bin/sh
# Runs each fuzz harness given after SECONDS for SECONDS seconds on its seed corpus
# tests/fuzz/corpus/NAME/ (read only: new inputs go to build-fuzz/found/NAME/),
# one harness at a time, and prints per harness the executions, the speed, and the
# coverage libFuzzer reached (cov: edges, ft: features, corp: inputs kept). A crash,
# a leak, a timeout or undefined behaviour fails the run; its input is saved as
# build-fuzz/crashes/NAME-<kind>-<hash>, and its log stays in build-fuzz/logs/
# ($FUZZ_OUT instead of build-fuzz when set).
#   sh tests/fuzz/run.sh 60 build-fuzz/fuzz_catalog build-fuzz/fuzz_png
set -u
[ $# -ge 2 ] || { echo "usage: run.sh SECONDS FUZZER..." >&2; exit 2; }
seconds=$1; shift
out=${FUZZ_OUT:-build-fuzz}
mkdir -p "$out/found" "$out/crashes" "$out/logs"
failed=""
for f in "$@"; do
    name=$(basename "$f" | sed 's/^fuzz_//')
    seeds=tests/fuzz/corpus/$name
    if [ ! -d "$seeds" ]; then
        echo "fuzz $name: no seed corpus $seeds" >&2
        failed="$failed $name"; continue
    fi
    mkdir -p "$out/found/$name"
    log=$out/logs/$name.log
    # tests/fuzz/fuzz_NAME.options: more libFuzzer flags (they override the ones
    # below) and VAR=value words for the environment; '#' starts a comment
    flags="" envs=""
    opts=tests/fuzz/fuzz_$name.options
    if [ -f "$opts" ]; then
        for w in $(sed 's/#.*//' "$opts"); do
            case "$w" in -*) flags="$flags $w" ;; *=*) envs="$envs $w" ;; esac
        done
    fi
    # -timeout: one input may take at most 10 s; -rss_limit_mb: 2 GB in all;
    # -malloc_limit_mb: no single allocation beyond 512 MB (a size taken on trust)
    # shellcheck disable=SC2086
    env $envs "$f" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -print_final_stats=1 -artifact_prefix="$out/crashes/$name-" $flags \
        "$out/found/$name" "$seeds" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
    if [ "$rc" -ne 0 ]; then
        echo "fuzz $name: FAILED (exit $rc) after ${runs:-?} executions; see $log:"
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 8
        failed="$failed $name"
    else
        echo "fuzz $name: ${runs:-?} executions in ${seconds} s (${speed:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: failing harnesses:$failed"
    exit 1
fi
echo "fuzz: $# harnesses ran ${seconds} s each, no crash, leak or undefined behaviour"
