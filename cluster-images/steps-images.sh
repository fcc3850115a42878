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

# build_addon_images: what every cluster runs besides kubeadm's images:
# ckanet (on the Debian base, for iptables and ipset), the local-path
# provisioner, and busybox from Debian's busybox-static (storage helper,
# test workloads).
build_addon_images() {
  local out="$CACHE/out/addons" w="$CACHE/work/busybox"
  rm -rf "$out" "$w" && mkdir -p "$out" "$w/root/bin" "$w/root/tmp" "$w/root/etc"
  "$CACHE/out/imgtool/imgtool" --out "$out/ckanet.tar" --tag "$(addon_image ckanet)" \
    --layer "$CACHE/out/rootfs-base/rootfs.tar" --file "$CACHE/out/ckanet/ckanet:/usr/local/bin/ckanet" \
    --entrypoint /usr/local/bin/ckanet
  static_image "$out/local-path-provisioner.tar" "$(addon_image local-path-provisioner)" \
    "$CACHE/out/tools/local-path-provisioner"
  local bb
  bb=$(tar -tf "$CACHE/out/rootfs-base/rootfs.tar" | grep -E '^\./(usr/)?bin/busybox$' | head -1)
  tar -xOf "$CACHE/out/rootfs-base/rootfs.tar" "$bb" >"$w/root/bin/busybox"
  chmod 0755 "$w/root/bin/busybox"
  for a in $("$w/root/bin/busybox" --list); do [[ $a == busybox ]] || ln -s busybox "$w/root/bin/$a"; done
  chmod 1777 "$w/root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$w/root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$w/root/etc/group"
  mkdir -p "$out/layers"
  tar -C "$w/root" -cf "$out/layers/busybox.tar" .
  "$CACHE/out/imgtool/imgtool" --out "$out/busybox.tar" --tag "$(addon_image busybox)" \
    --layer "$out/layers/busybox.tar" --cmd /bin/sh
  static_image "$out/metrics-server.tar" "$(addon_image metrics-server)" "$CACHE/out/metrics-server/metrics-server"
  rm -rf "$w"
  ls -la "$out"
}

# build_registry_data: the image set every cluster's registry starts with,
# pushed into a registry run here for the build, and kept as its storage.
build_registry_data() {
  local out="$CACHE/out/registry-data" port=$((20000 + RANDOM % 20000))
  rm -rf "$out" && mkdir -p "$out/data"
  OTEL_TRACES_EXPORTER=none REGISTRY_HTTP_ADDR="127.0.0.1:$port" REGISTRY_LOG_LEVEL=error \
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$out/data" \
    "$CACHE/out/registry/registry" serve "$here/node/registry.yml" >"$out/registry.log" 2>&1 &
  local pid=$!
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.2; done
  push() { "$CACHE/out/imgtool/imgtool" --push-to "127.0.0.1:$port" "$@"; }
  tags() { # REPO VERSION [MORE-TAGS...]: REPO:VERSION, REPO:MAJOR.MINOR and the rest
    local repo=$1 v=$2
    shift 2
    echo "--tag $repo:$v --tag $repo:$(echo "$v" | cut -d. -f1,2)"
    for t in "$@"; do echo "--tag $repo:$t"; done
  }
  local bb ng ngn ht
  tar -xOf "$CACHE/out/rootfs-base/rootfs.tar" ./var/lib/dpkg/status >"$out/base-status"
  bb=$(awk '/^Package: busybox-static$/{f=1} f&&/^Version:/{print $2; exit}' "$out/base-status" |
    sed -e 's/^[0-9]*://' -e 's/-[^-]*$//')
  ng=$(tar -xOf "$CACHE/out/rootfs-nginx/rootfs.tar" ./etc/ckalab-version)
  ngn=$(tar -xOf "$CACHE/out/rootfs-nginx-newer/rootfs.tar" ./etc/ckalab-version)
  ht=$(tar -xOf "$CACHE/out/rootfs-httpd/rootfs.tar" ./etc/ckalab-version)
  # shellcheck disable=SC2046 # tags prints flags
  {
    push $(tags docker.io/library/busybox "$bb" latest) --layer "$CACHE/out/addons/layers/busybox.tar" --cmd sh
    push $(tags docker.io/library/nginx "$ng") --layer "$CACHE/out/rootfs-nginx/rootfs.tar" \
      --cmd nginx --cmd -g --cmd 'daemon off;'
    push $(tags docker.io/library/nginx "$ngn" latest) --layer "$CACHE/out/rootfs-nginx-newer/rootfs.tar" \
      --cmd nginx --cmd -g --cmd 'daemon off;'
    push $(tags docker.io/library/httpd "$ht" latest) --layer "$CACHE/out/rootfs-httpd/rootfs.tar" \
      --cmd apache2ctl --cmd -D --cmd FOREGROUND
    push --tag docker.io/ckalab/nettools:bookworm --tag docker.io/ckalab/nettools:latest \
      --layer "$CACHE/out/rootfs-nettools/rootfs.tar" --cmd bash
    push --tag docker.io/ckalab/app:1.0 --file "$CACHE/out/app/app-1.0:/app" --entrypoint /app
    push --tag docker.io/ckalab/app:2.0 --tag docker.io/ckalab/app:latest --file "$CACHE/out/app/app-2.0:/app" --entrypoint /app
    push $(tags docker.io/library/traefik "$TRAEFIK_VERSION" "${TRAEFIK_VERSION%%.*}" latest) \
      --file "$CACHE/out/traefik/traefik:/usr/local/bin/traefik" --entrypoint /usr/local/bin/traefik
  } || { kill "$pid"; return 1; }
  curl -fs "http://127.0.0.1:$port/v2/_catalog"; echo
  local repo
  for repo in library/busybox library/nginx library/httpd library/traefik ckalab/nettools ckalab/app; do
    curl -fs "http://127.0.0.1:$port/v2/$repo/tags/list"; echo
  done | tee "$out/tags.txt"
  kill "$pid"; wait "$pid" || true
  du -sh "$out/data"
}

# addon_image NAME: the reference an add-on image is tagged and deployed as.
addon_image() {
  case $1 in
    ckanet) echo "docker.io/ckalab/ckanet:$(cat "$CACHE/stamps/ckanet")" ;;
    local-path-provisioner) echo "docker.io/ckalab/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION" ;;
    busybox) echo "docker.io/library/busybox:$BUSYBOX_TAG" ;;
    metrics-server) echo "registry.k8s.io/metrics-server/metrics-server:$METRICS_SERVER_VERSION" ;;
    traefik) echo "docker.io/library/traefik:$TRAEFIK_VERSION" ;;
  esac
}
