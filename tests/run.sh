#!/bin/sh
# Runs every Criterion test binary given on the command line, from the source
# tree, and prints the totals as "tests: N passed, N failed".
set -u
passed=0; failed=0; broken=""
for t in "$@"; do
    name=$(basename "$t")
    log=$(mktemp)
    jobs=${CRITERION_JOBS:-2}
    # Criterion 2.4's runner process loses one 48-byte block of its own (LeakSanitizer
    # shows only libcriterion's frames) when this suite's tests run two at a time.
    case "$name" in test_store_merge) jobs=1 ;; esac
    "$t" --jobs="$jobs" >"$log" 2>&1
    rc=$?
    cat "$log"
    line=$(grep -a "Synthesis: Tested:" "$log" | tail -n 1)
    p=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    f=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
    c=$(echo "$line" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
    rm -f "$log"
    if [ -z "$p" ]; then
        echo "$name: no test summary (exit $rc)"
        failed=$((failed + 1)); broken="$broken $name"; continue
    fi
    passed=$((passed + p)); failed=$((failed + f + c))
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ] || [ "$c" -ne 0 ]; then broken="$broken $name"; fi
done
[ -n "$broken" ] && echo "failing suites:$broken"
echo "tests: $passed passed, $failed failed"
[ -z "$broken" ]
