# steps-images.sh: container images for the node's containerd, written
# by imgtool (go-containerregistry) with no Docker build.

# build_imgtool: the image writer, from this repository.
build_imgtool() {
  (cd "$here/.." && go build -o "$CACHE/out/imgtool/imgtool" ./cluster-images/imgtool)
}

# static_image OUT TAG BIN...: an image holding static binaries in
# /usr/local/bin, with the first as entrypoint.
static_image() {
  local out=$1 tag=$2
  shift 2
  local args=(--out "$out" --tag "$tag" --entrypoint "/usr/local/bin/$(basename "$1")")
  for b in "$@"; do args+=(--file "$b:/usr/local/bin/$(basename "$b")"); done
  "$CACHE/out/imgtool/imgtool" "${args[@]}"
}

# build_control_plane_images VERSION: every image kubeadm lists for
# VERSION; kube-proxy sits on the Debian base (iptables userland).
build_control_plane_images() {
  local v=$1 out="$CACHE/out/images-$1" bin="$CACHE/out/kubernetes-$1"
  local list="$bin/images.txt"
  rm -rf "$out" && mkdir -p "$out"
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    static_image "$out/$c.tar" "$(grep "/$c:" "$list")" "$bin/$c"
  done
  "$CACHE/out/imgtool/imgtool" --out "$out/kube-proxy.tar" --tag "$(grep '/kube-proxy:' "$list")" \
    --layer "$CACHE/out/rootfs-base/rootfs.tar" --file "$bin/kube-proxy:/usr/local/bin/kube-proxy" \
    --entrypoint /usr/local/bin/kube-proxy
  local etcd dns pause
  etcd=$(image_tag etcd "$list"); dns=$(image_tag coredns "$list"); pause=$(image_tag pause "$list")
  static_image "$out/etcd.tar" "$(grep '/etcd:' "$list")" "$CACHE/out/etcd-$etcd/etcd" \
    "$CACHE/out/etcd-$etcd/etcdctl" "$CACHE/out/etcd-$etcd/etcdutl"
  "$CACHE/out/imgtool/imgtool" --out "$out/coredns.tar" --tag "$(grep '/coredns:' "$list")" \
    --file "$CACHE/out/coredns-$dns/coredns:/coredns" --entrypoint /coredns
  "$CACHE/out/imgtool/imgtool" --out "$out/pause.tar" --tag "$(grep '/pause:' "$list")" \
    --file "$CACHE/out/pause-$pause/pause:/pause" --entrypoint /pause
  ls -la "$out"
}
