#!/bin/bash
# the author's own set -x, on and off (only xtrace writes to stderr here)
echo quiet
set -x
x=$(echo inner)
echo "$x"
set +x
echo quiet again
set -x
echo loud again
