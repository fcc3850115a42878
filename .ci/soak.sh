#!/usr/bin/env bash
# soak.sh [ROUNDS]: runs the packages that create kind clusters ROUNDS times
# (default 3), `cluster` and `provision` side by side in each round so the
# 2-core machine is loaded as a class would load it, and prints the pass
# rate of each. Logs: /tmp/ckalab-soak/. Needs the node images (make images).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH=/usr/local/go/bin:$PATH
rounds=${1:-3}
logs=/tmp/ckalab-soak
mkdir -p "$logs"
declare -A passed=()
for r in $(seq "$rounds"); do
  pids=()
  for pkg in cluster provision; do
    (go test -v -count=1 -timeout 40m "./$pkg" >"$logs/$pkg-$r.log" 2>&1) &
    pids+=("$!:$pkg")
  done
  for p in "${pids[@]}"; do
    pkg=${p#*:}
    if wait "${p%%:*}"; then
      passed[$pkg]=$((${passed[$pkg]:-0} + 1))
      echo "round $r: $pkg ok ($(tail -1 "$logs/$pkg-$r.log"))"
      grep -h 'BENCH' "$logs/$pkg-$r.log" | sed 's/^ */    /'
    else
      echo "round $r: $pkg FAILED (log $logs/$pkg-$r.log):"
      grep -E -- '--- FAIL|_test.go:[0-9]+: ' "$logs/$pkg-$r.log" | grep -v 'level=' | head -8 | sed 's/^/    /'
    fi
  done
done
for pkg in cluster provision; do
  echo "$pkg: ${passed[$pkg]:-0} of $rounds rounds passed"
done
