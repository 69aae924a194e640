#!/bin/bash
# reads its own options: must see what it sees bare
echo "options: $-"
