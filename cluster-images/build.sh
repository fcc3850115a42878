#!/usr/bin/env bash
# build.sh: build ckalab's kind node images offline, from Debian packages
# and the Go module proxy only. Cached: a rebuild with nothing changed takes
# seconds. Usage: cluster-images/build.sh   (or: make images)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CACHE="${CKALAB_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ckalab/images}"
export PATH=/usr/local/go/bin:$PATH
source "$here/versions.env"
source "$here/lib.sh"
source "$here/steps-go.sh"
source "$here/steps-rootfs.sh"
source "$here/steps-images.sh"
source "$here/steps-node.sh"

# Debian root filesystems: mostly downloads and unpacking, so they run
# beside the Go builds, which keep both cores busy.
rootfs_steps() {
  local release w
  release=$(debian_release "$DEBIAN_SUITE")
  step rootfs-node "$(key_of build_node_rootfs "${NODE_PACKAGES[*]}" "$DEBIAN_SUITE" "$release")" build_node_rootfs
  step rootfs-base "$(key_of build_base_rootfs "${BASE_PACKAGES[*]}" "$DEBIAN_SUITE" "$release")" build_base_rootfs
  for w in "${WORKLOADS[@]}"; do
    step "rootfs-$w" "$(key_of build_workload_rootfs debian_rootfs workload_suite workload_packages "$w" \
      "$(workload_suite "$w")" "$(debian_release "$(workload_suite "$w")")" "$(hash_files "$here/workloads")")" build_workload_rootfs "$w"
  done
}

go_steps() {
  local v list etcd dns pause
  for v in "${versions[@]}"; do
    step "kubernetes-$v" "$(key_of build_kubernetes prepare_kubernetes module_dir wrapper_module "$v")" build_kubernetes "$v"
  done
  for v in "${versions[@]}"; do
    list="$CACHE/out/kubernetes-$v/images.txt"
    etcd=$(image_tag etcd "$list"); dns=$(image_tag coredns "$list"); pause=$(image_tag pause "$list")
    step "etcd-$etcd" "$(key_of build_etcd wrapper_module "$etcd")" build_etcd "$etcd"
    step "coredns-$dns" "$(key_of build_coredns wrapper_module "$dns")" build_coredns "$dns"
    step "pause-$pause" "$(key_of build_pause "$pause" "$(hash_files "$CACHE/out/kubernetes-$v/pause.c")")" build_pause "$pause" "$CACHE/out/kubernetes-$v"
  done
  step tools "$(key_of build_tools wrapper_module "$CRI_TOOLS_VERSION" "$LOCAL_PATH_PROVISIONER_VERSION")" build_tools
  step registry "$(key_of build_registry go_binary prepare_go_binary wrapper_module "$REGISTRY_VERSION")" build_registry
  step metrics-server "$(key_of build_metrics_server go_binary prepare_go_binary wrapper_module "$METRICS_SERVER_VERSION")" build_metrics_server
  step traefik "$(key_of build_traefik go_binary prepare_go_binary wrapper_module gateway_api_version module_dir "$TRAEFIK_VERSION")" build_traefik
  step app "$(key_of build_app "$(hash_files "$here/app")")" build_app
  step ckanet "$(key_of build_ckanet "$(hash_files "$here/ckanet")")" build_ckanet
}

image_steps() {
  local v list inputs w
  step imgtool "$(key_of build_imgtool "$(hash_files "$here/imgtool" "$here/../go.sum")")" build_imgtool
  for v in "${versions[@]}"; do
    list="$CACHE/out/kubernetes-$v/images.txt"
    inputs=("kubernetes-$v" "etcd-$(image_tag etcd "$list")" "coredns-$(image_tag coredns "$list")"
      "pause-$(image_tag pause "$list")" imgtool rootfs-base)
    step "images-$v" "$(key_of build_control_plane_images static_image "$v" "$(stamps_of "${inputs[@]}")")" build_control_plane_images "$v"
  done
  step addons "$(key_of build_addon_images addon_image static_image "$BUSYBOX_TAG" "$LOCAL_PATH_PROVISIONER_VERSION" "$(stamps_of ckanet tools rootfs-base imgtool metrics-server)")" build_addon_images
  inputs=(registry imgtool addons traefik app)
  for w in "${WORKLOADS[@]}"; do inputs+=("rootfs-$w"); done
  step registry-data "$(key_of build_registry_data "$TRAEFIK_VERSION" "$(stamps_of "${inputs[@]}")" "$(hash_files "$here/node/registry.yml")")" build_registry_data
}

node_steps() {
  local v inputs
  for v in "${versions[@]}"; do
    step "debs-$v" "$(key_of build_debs "$v" "$(stamps_of "kubernetes-$v")")" build_debs "$v"
  done
  inputs=(rootfs-node tools addons ckanet registry registry-data traefik)
  for v in "${versions[@]}"; do inputs+=("images-$v" "kubernetes-$v" "debs-$v"); done
  step "node-$KUBERNETES_VERSION" "$(key_of build_node_image preload_images addon_image "$KUBERNETES_VERSION" "$KUBERNETES_UPGRADE_VERSION" "$(stamps_of "${inputs[@]}")" "$(hash_files "$here/node")")" \
    build_node_image "$KUBERNETES_VERSION" "$KUBERNETES_UPGRADE_VERSION"
}

# The whole build is one function: bash reads a running script as it goes,
# so editing this file mid-build must not change what the build does.
main() {
  echo "ckalab images: Kubernetes v$KUBERNETES_VERSION (+ upgrade target v$KUBERNETES_UPGRADE_VERSION); cache $CACHE"
  versions=("$KUBERNETES_VERSION" "$KUBERNETES_UPGRADE_VERSION")
  echo "[1/3] binaries from the Go module proxy, and Debian root filesystems beside them"
  rootfs_steps &
  local rootfs=$!
  trap 'kill "$rootfs" 2>/dev/null || true' EXIT
  go_steps
  if ! wait "$rootfs"; then
    echo "a root filesystem step failed (above); fix it and run the build again" >&2
    exit 1
  fi
  trap - EXIT
  echo "[2/3] component images"
  image_steps
  echo "[3/3] node images"
  node_steps
  echo "done in $(fmt_secs $(($(date +%s) - BUILD_START)))"
}

main "$@"
exit
