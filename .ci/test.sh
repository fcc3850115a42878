#!/usr/bin/env bash
# test.sh: every test stage of `make test`, in order. A failing stage does
# not stop the others (a stage that needs the node images is not run when
# they failed to build); all failures are listed at the end.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH=/usr/local/go/bin:$PATH

names=() results=() failed=0 passed=0

fmt() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# stage NAME NEEDS COMMAND...: run COMMAND unless the stage NEEDS failed.
stage() {
  local name=$1 needs=$2
  shift 2
  local i
  for i in "${!names[@]}"; do
    if [[ ${names[$i]} == "$needs" && ${results[$i]} != ok* ]]; then
      names+=("$name") results+=("not run: needs $needs")
      failed=$((failed + 1))
      return
    fi
  done
  echo
  echo "=== stage $name: $*"
  local t0=$(date +%s)
  if "$@"; then
    results+=("ok ($(fmt $(($(date +%s) - t0))))")
    passed=$((passed + 1))
  else
    results+=("FAILED after $(fmt $(($(date +%s) - t0)))")
    failed=$((failed + 1))
  fi
  names+=("$name")
}

ckanet_tests() { (cd cluster-images/ckanet && go vet ./... && go test -count=1 ./...); }
# Each fuzz target briefly (its seed corpus also runs in go-tests). The
# budget is a count of runs, not a time: with a time, Go 1.26's fuzz
# coordinator can fail a target at the deadline with a bare "context
# deadline exceeded" (golang/go#75804, fixed in Go 1.27) on a busy machine.
fuzz_briefly() {
  local t pkg
  for t in FuzzLabLoad:./labs FuzzSessionMessages:./terminal FuzzJSONBodies:./server FuzzTerminalMessages:./server; do
    pkg=${t#*:}
    go test -run '^$' -fuzz "^${t%%:*}\$" -fuzztime "${CKALAB_FUZZTIME:-3000x}" "$pkg" || return 1
  done
}
browser_tests() { make --no-print-directory build && (cd web && node e2e/run.mjs); }

t0=$(date +%s)
stage deps - bash .ci/deps.sh
stage fresh-build-check deps bash cluster-images/check-fresh.sh
stage images deps bash cluster-images/build.sh
stage vet deps go vet ./...
stage labs-validate deps go run ./cmd/ckalab labs validate labs
stage ckanet deps ckanet_tests
stage fuzz deps fuzz_briefly
stage go-tests images go test -race -count=1 -p 1 -timeout 75m ./...
stage browser-tests images browser_tests

echo
echo "=== summary ($(fmt $(($(date +%s) - t0))))"
for i in "${!names[@]}"; do printf '  %-20s %s\n' "${names[$i]}" "${results[$i]}"; done
echo "stages: $passed passed, $failed failed"
((failed == 0))
