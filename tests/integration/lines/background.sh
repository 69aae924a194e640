#!/bin/bash
# a background job that outlives the script, still tracing
out=$1
( sleep 0.5; echo late > "$out.tmp"; mv "$out.tmp" "$out" ) &
echo started
