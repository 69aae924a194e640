#!/bin/bash
# exec redirections of the script's own descriptors
echo "started as [$_] [$0]"
log=$(mktemp)
exec 3>"$log"
echo "to three" >&3
exec 3>&-
exec 7>&-
exec 9>/dev/null
exec 2>"$log.err"
echo "to the log" >&2
exec 2>&1
echo "stderr is stdout now" >&2
cat "$log" "$log.err"
rm -f "$log" "$log.err"
