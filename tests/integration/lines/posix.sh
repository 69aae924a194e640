#!/bin/sh
echo "not bash"
exit 3
