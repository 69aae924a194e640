#!/bin/bash
i=0
while (( i < 3000 )); do
  i=$((i + 1))
done
echo "$i"
