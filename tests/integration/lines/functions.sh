#!/bin/bash
# functions, traps, set -euo pipefail, subshells, a here-document, source
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
cleanup() { echo "cleanup ran" >&2; }
trap cleanup EXIT
count() {
  local n=0
  while read -r word; do
    n=$((n + 1))
  done <<EOF2
one
two three
EOF2
  echo "$n words"
}
count
( cd /; echo "subshell in $PWD" )
echo "piped" | tr a-z A-Z
total=$(greet world | wc -c)
echo "greeting is $total bytes"
: --password=hunter2
fail_here() {
  echo "about to fail"
  false
  echo never
}
fail_here
