#!/bin/sh
# nightly-batch: a batch job whose steps are traced one by one.
#
# cron runs this script under traceexec (see crontab), which puts the run's span
# into our environment as TRACEPARENT; every `traceexec --name STEP --` below
# reads it, so each run is one trace and the steps are spans inside it.
# Run by hand, it works the same: `traceexec --name nightly-batch -- ./batch.sh`.
set -eu

work="$HOME/nightly-batch"
mkdir -p "$work"
cd "$work"

traceexec --name extract -- seq 1 1000 > numbers.txt
traceexec --name transform --attr batch.rows=1000 -- \
    awk '{ total += $1 } END { print total }' numbers.txt > total.txt

# Two independent steps at once: their spans lie side by side.
traceexec --name archive -- gzip -kf numbers.txt &
archive=$!
traceexec --name report -- sh -c 'echo "total: $(cat total.txt)" > report.txt' &
report=$!
wait "$archive"
wait "$report"

traceexec --name cleanup -- rm -f numbers.txt
