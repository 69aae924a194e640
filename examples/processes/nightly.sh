#!/bin/sh
# A nightly batch job as such scripts are: a few steps, a pipe, a subshell,
# jobs in the background, a command that fails and is tolerated.  Nothing in
# it knows about tracing.
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

seq 1 20000 > "$work/numbers.txt"                                 # extract
sort -rn "$work/numbers.txt" | head -n 100 > "$work/top.txt"      # a pipe
(cd "$work" && gzip -k top.txt && ls top.txt.gz > /dev/null)     # a subshell
for part in a b c; do                                             # three jobs at once
    (sleep 0.2; wc -l < "$work/top.txt" > "$work/count.$part") &
done
wait
if ! grep -q '^999999$' "$work/numbers.txt"; then                 # fails: no outlier
    echo "no outlier"
fi
cat "$work"/count.* | awk '{ rows += $1 } END { print "rows:", rows }'
