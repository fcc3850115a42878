#!/bin/sh
# nettools.sh ROOT: a debugging image (curl, wget, dig, nslookup, nc, ip,
# ping, jq) for network tasks; its version is its Debian release.
set -eu
root=$1
. "$(dirname "$0")/lib.sh"
suite >"$root/etc/ckalab-version"
