#!/usr/bin/env bash
# prepare.sh WORKDIR: lay out a buildable copy of ckanet in WORKDIR/ckanet
# whose kube-network-policies (WORKDIR/kube-network-policies) has its
# nftables dataplane swapped for overlay/iptables.go. Build there with
# `go build -tags ckanet`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work=$1
# go list -m prints an empty Dir for a module not yet in the module cache:
# download it first, and refuse an empty answer.
upstream="$(cd "$here" && go mod download sigs.k8s.io/kube-network-policies &&
  go list -m -f '{{.Dir}}' sigs.k8s.io/kube-network-policies)"
[[ -n "$upstream" && -d "$upstream" ]] || { echo "prepare.sh: sigs.k8s.io/kube-network-policies is not in the module cache" >&2; exit 1; }
rm -rf "$work/ckanet" "$work/kube-network-policies"
mkdir -p "$work"
cp -r "$upstream" "$work/kube-network-policies"
chmod -R u+w "$work/kube-network-policies"
pkg="$work/kube-network-policies/pkg/networkpolicy"
sed -i -e 's/^func (c \*Controller) syncNFTablesRules(/func (c *Controller) syncNFTablesRulesUpstream(/' \
  -e 's/^func (c \*Controller) cleanNFTablesRules(/func (c *Controller) cleanNFTablesRulesUpstream(/' \
  -e 's/nft, err := knftables.New(knftables.InetFamily, config.NFTableName)/nft, err := knftables.Interface(knftables.NewFake(knftables.InetFamily, config.NFTableName)), error(nil)/' \
  "$pkg/controller.go"
for want in syncNFTablesRulesUpstream cleanNFTablesRulesUpstream knftables.NewFake; do
  grep -q "$want" "$pkg/controller.go" || { echo "prepare.sh: upstream controller.go changed; $want not patched" >&2; exit 1; }
done
cp "$here/overlay/iptables.go" "$pkg/zz_ckanet_iptables.go"
mkdir -p "$work/ckanet"
cp "$here"/*.go "$here/go.mod" "$here/go.sum" "$work/ckanet/"
(cd "$work/ckanet" && go mod edit -replace sigs.k8s.io/kube-network-policies=../kube-network-policies)
