#!/usr/bin/env bash
# check-fresh.sh: the image build's preparations, run as on a new machine:
# empty Go module cache, GOPATH, Go build cache and image cache. Everything
# that resolves a module's files, and the step runner's cache check, must
# work from nothing; a cold `make images` takes most of an hour, this takes
# about a minute. Run by `make test`. Usage: cluster-images/check-fresh.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PATH=/usr/local/go/bin:$PATH
scratch=$(mktemp -d /tmp/ckalab-fresh.XXXX)
trap 'chmod -R u+w "$scratch" 2>/dev/null; rm -rf "$scratch"' EXIT
export GOMODCACHE="$scratch/gomodcache" GOPATH="$scratch/gopath" GOCACHE="$scratch/gocache"
export CACHE="$scratch/images"
source "$here/versions.env"
source "$here/lib.sh"
source "$here/steps-go.sh"
source "$here/steps-images.sh"
source "$here/steps-node.sh"

t0=$(date +%s)
fail=0
check() {
  local what=$1
  shift
  local log="$scratch/check.log" rc=0
  # Not an if-condition: errexit must stay on inside the check.
  set +e
  ( set -euo pipefail; "$@" ) >"$log" 2>&1
  rc=$?
  set -e
  if ((rc == 0)); then
    printf '  ok   %s\n' "$what"
  else
    printf '  FAIL %s\n' "$what"
    tail -n 15 "$log" | sed 's/^/       /'
    fail=1
  fi
}

kubernetes_prepared() {
  prepare_kubernetes "$1"
  grep -q "^replace k8s.io/client-go => k8s.io/client-go v0\." "$CACHE/work/kubernetes-$1/go.mod"
  test -f "$(module_dir "k8s.io/kubernetes@v$1")/build/pause/linux/pause.c"
}
traefik_prepared() {
  prepare_go_binary traefik github.com/traefik/traefik/v3 "$TRAEFIK_VERSION" github.com/traefik/traefik/v3/cmd/traefik
  local v
  v=$(gateway_api_version)
  compgen -G "$(module_dir "sigs.k8s.io/gateway-api@$v")/config/crd/standard/*.yaml" >/dev/null
}
ckanet_prepared() {
  "$here/ckanet/prepare.sh" "$CACHE/work/ckanet"
  grep -q syncNFTablesRulesUpstream "$CACHE/work/ckanet/kube-network-policies/pkg/networkpolicy/controller.go"
  test -f "$CACHE/work/ckanet/ckanet/go.mod"
}
kind_files_present() { test -f "$(kind_files)/usr/local/bin/entrypoint"; }

# The step runner: a stamp whose outputs are gone must not count as built.
demo_step() { mkdir -p "$CACHE/out/demo" && date +%s%N >"$CACHE/out/demo/made"; }
runner_rebuilds_missing_outputs() {
  step demo k1 demo_step >/dev/null
  local first
  first=$(cat "$CACHE/out/demo/made")
  step demo k1 demo_step | grep -q cached
  rm -rf "$CACHE/out/demo"
  step demo k1 demo_step >/dev/null
  [[ -f "$CACHE/out/demo/made" && "$(cat "$CACHE/out/demo/made")" != "$first" ]]
}

echo "check-fresh: build preparations against empty caches ($scratch)"
for v in "$KUBERNETES_VERSION" "$KUBERNETES_UPGRADE_VERSION"; do
  check "kubernetes-$v: wrapper module and pause source" kubernetes_prepared "$v"
done
check "registry: wrapper module" prepare_go_binary registry github.com/distribution/distribution/v3 "$REGISTRY_VERSION" github.com/distribution/distribution/v3/cmd/registry
check "metrics-server: wrapper module" prepare_go_binary metrics-server sigs.k8s.io/metrics-server "$METRICS_SERVER_VERSION" sigs.k8s.io/metrics-server/cmd/metrics-server
check "traefik: wrapper module and Gateway API CRDs" traefik_prepared
check "ckanet: patched kube-network-policies" ckanet_prepared
check "node: kind's base files" kind_files_present
check "step runner: rebuilds a step whose outputs are gone" runner_rebuilds_missing_outputs
echo "check-fresh: $( ((fail)) && echo FAILED || echo ok ) in $(fmt_secs $(($(date +%s) - t0)))"
exit "$fail"
