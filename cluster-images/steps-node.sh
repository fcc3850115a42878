# steps-node.sh: assemble the kind node image from the rootfs, kind's base
# files, the binaries and the preloaded images.

kind_files() {
  local dir
  dir=$(cd "$here/.." && go mod download -json sigs.k8s.io/kind@v0.33.0 | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  echo "$dir/images/base/files"
}

# preload_images ROOT TAR...: import image tarballs into the containerd
# store inside ROOT (namespace k8s.io, pinned), with the host's containerd.
preload_images() {
  local root=$1
  shift
  local state
  state=$(mktemp -d /tmp/ckalab-ctrd.XXXX)
  containerd --root "$root/var/lib/containerd" --state "$state/state" --address "$state/sock" \
    --config /dev/null >"$state/log" 2>&1 &
  local pid=$!
  for _ in $(seq 50); do [[ -S "$state/sock" ]] && break; sleep 0.2; done
  for t in "$@"; do
    ctr --address "$state/sock" -n k8s.io images import --no-unpack "$t"
  done
  # Pinned images survive the kubelet's image garbage collection.
  for ref in $(ctr --address "$state/sock" -n k8s.io images ls -q); do
    ctr --address "$state/sock" -n k8s.io images label "$ref" io.cri-containerd.pinned=pinned >/dev/null
  done
  ctr --address "$state/sock" -n k8s.io images ls -q
  kill "$pid"; wait "$pid" || true
  rm -rf "$state"
}

# build_debs VERSION: kubeadm, kubelet and kubectl as .deb packages,
# versioned as pkgs.k8s.io does (VERSION-1.1).
build_debs() {
  local v=$1 out="$CACHE/out/debs-$1" w="$CACHE/work/debs-$1" bin="$CACHE/out/kubernetes-$1"
  rm -rf "$out" "$w" && mkdir -p "$out"
  local p
  for p in kubeadm kubelet kubectl; do
    mkdir -p "$w/$p/DEBIAN" "$w/$p/usr/bin"
    install -m 0755 "$bin/$p" "$w/$p/usr/bin/$p"
    cat >"$w/$p/DEBIAN/control" <<EOF
Package: $p
Version: $v-1.1
Architecture: amd64
Maintainer: ckalab <ckalab@localhost>
Section: admin
Priority: optional
Installed-Size: $(du -k "$bin/$p" | cut -f1)
Homepage: https://kubernetes.io
Description: Kubernetes $p $v
 Built by ckalab from k8s.io/kubernetes v$v (Go module proxy).
EOF
    dpkg-deb --root-owner-group -Zgzip -z1 --build "$w/$p" "$out/${p}_$v-1.1_amd64.deb"
  done
  rm -rf "$w"
  ls -la "$out"
}

# build_node_image VERSION UPGRADE_VERSION
build_node_image() {
  local v=$1 up=$2 root="$CACHE/work/node-$1" bin="$CACHE/out/kubernetes-$1"
  rm -rf "$root" && mkdir -p "$root"
  tar -xf "$CACHE/out/rootfs-node/rootfs.tar" -C "$root"
  local kf
  kf=$(kind_files)
  cp -r "$kf/usr" "$kf/kind" "$kf/etc" "$root/"
  chmod -R u+w "$root/kind" "$root/etc" "$root/usr/local"
  chmod 755 "$root/usr/local/bin/"* "$root/kind/bin/"*
  # kind's units expect containerd in /usr/local/bin; Debian installs /usr/bin.
  ln -sf /usr/bin/containerd "$root/usr/local/bin/containerd"
  ln -sf /usr/bin/ctr "$root/usr/local/bin/ctr"
  ln -sf /usr/bin/containerd-shim-runc-v2 "$root/usr/local/bin/containerd-shim-runc-v2"
  rm -f "$root/etc/systemd/system/containerd-fuse-overlayfs.service"
  local pause
  pause=$(grep '/pause:' "$bin/images.txt")
  sed "s#@PAUSE_IMAGE@#$pause#" "$here/node/containerd-config.toml" >"$root/etc/containerd/config.toml"
  mkdir -p "$root/opt/cni/bin" "$root/etc/kubernetes/manifests" "$root/etc/containerd/certs.d"
  cp /dev/null "$root/etc/containerd/cri-base.json"
  chroot "$root" ctr oci spec >"$root/etc/containerd/cri-base.json"
  for p in host-local loopback ptp portmap bridge; do ln -sf "/usr/lib/cni/$p" "$root/opt/cni/bin/$p"; done
  # kubeadm, kubelet and kubectl as packages, and a local apt repository
  # holding both versions: the exam's upgrade procedure works offline.
  local apt="$root/opt/ckalab/apt"
  mkdir -p "$apt"
  cp "$CACHE/out/debs-$v/"*.deb "$CACHE/out/debs-$up/"*.deb "$apt/"
  (cd "$apt" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null)
  rm -f "$root/etc/apt/sources.list" "$root/etc/apt/sources.list.d/"*
  echo 'deb [trusted=yes] file:/opt/ckalab/apt ./' >"$root/etc/apt/sources.list.d/kubernetes.list"
  chroot "$root" dpkg -i $(cd "$root" && ls opt/ckalab/apt/*_"$v"-*.deb | sed 's#^#/#')
  # Kubernetes 1.35 refuses cgroup v1 hosts unless told otherwise.
  sed -i '$s/$/ --fail-cgroupv1=false\n/' "$root/etc/default/kubelet"
  mkdir -p "$root/kind/manifests"
  sed -e "s#@CKANET_IMAGE@#$(addon_image ckanet)#" "$here/node/manifests/default-cni.yaml" >"$root/kind/manifests/default-cni.yaml"
  # kind applies default-storage.yaml at creation: metrics-server rides along.
  { sed -e "s#@LOCAL_PATH_IMAGE@#$(addon_image local-path-provisioner)#" -e "s#@HELPER_IMAGE@#$(addon_image busybox)#" \
      "$here/node/manifests/default-storage.yaml"
    echo ---
    sed -e "s#@METRICS_SERVER_IMAGE@#$(addon_image metrics-server)#" "$here/node/manifests/metrics-server.yaml"
  } >"$root/kind/manifests/default-storage.yaml"
  # Add-ons a lab installs when it needs them.
  mkdir -p "$root/etc/ckalab/addons"
  cp "$CACHE/out/traefik/gateway-api-crds.yaml" "$root/etc/ckalab/addons/gateway-api-crds.yaml"
  sed -e "s#@TRAEFIK_IMAGE@#$(addon_image traefik)#" "$here/node/manifests/traefik.yaml" >"$root/etc/ckalab/addons/traefik.yaml"
  # kubeadm patches for the static pods (cluster.Manager points kubeadm at them).
  mkdir -p "$root/etc/ckalab/kubeadm-patches"
  install -m 0644 "$here/node/kubeadm-patches/"*.yaml "$root/etc/ckalab/kubeadm-patches/"
  # The cluster's registry, seeded with the workload images; cluster.Manager
  # starts it on the control plane and points every node's containerd at it.
  install -m 0755 "$CACHE/out/registry/registry" "$root/usr/local/bin/registry"
  install -m 0644 "$here/node/registry.yml" "$root/etc/ckalab/registry.yml"
  install -m 0644 "$here/node/ckalab-registry.service" "$root/etc/systemd/system/ckalab-registry.service"
  # Its storage is outside /var: kind gives every node a fresh volume for
  # /var, filled with a copy of the image's /var; the seed images (300 MB)
  # would be copied to every node, though only the control plane serves them.
  mkdir -p "$root/opt/ckalab/registry"
  cp -a "$CACHE/out/registry-data/data/." "$root/opt/ckalab/registry/"
  install -m 0755 "$CACHE/out/tools/crictl" "$root/usr/local/bin/"
  local etcd
  etcd=$(image_tag etcd "$bin/images.txt")
  install -m 0755 "$CACHE/out/etcd-$etcd/etcdctl" "$CACHE/out/etcd-$etcd/etcdutl" "$root/usr/local/bin/"
  # systemd in a container, as kind's base image sets it up.
  find "$root/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
  rm -f "$root/lib/systemd/system/multi-user.target.wants/"* "$root/etc/systemd/system/"*.wants/* \
    "$root/lib/systemd/system/local-fs.target.wants/"* "$root/lib/systemd/system/sockets.target.wants/"*udev* \
    "$root/lib/systemd/system/sockets.target.wants/"*initctl* "$root/lib/systemd/system/basic.target.wants/"*
  echo "ReadKMsg=no" >>"$root/etc/systemd/journald.conf"
  ln -sf /usr/lib/systemd/systemd "$root/sbin/init"
  chroot "$root" systemctl enable kubelet.service containerd.service undo-mount-hacks.service
  chroot "$root" systemctl mask systemd-binfmt.service
  # sshd for `ssh <node>` inside a cluster. Host keys are made at each node's
  # first boot, never shared between nodes; client keys come with provisioning.
  rm -f "$root"/etc/ssh/ssh_host_*
  mkdir -p "$root/etc/systemd/system/ssh.service.d"
  printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \
    >"$root/etc/systemd/system/ssh.service.d/10-ckalab-hostkeys.conf"
  chroot "$root" systemctl enable ssh.service
  # Policies are enforced through iptables-legacy NFQUEUE (no nft queue here).
  chroot "$root" update-alternatives --set iptables /usr/sbin/iptables-legacy
  chroot "$root" update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy
  install -m 0644 "$here/node/kubectl-shell.sh" "$root/etc/profile.d/ckalab-kubectl.sh"
  # Interactive non-login shells (tmux panes, docker exec bash) get it too.
  echo '. /etc/profile.d/ckalab-kubectl.sh' >>"$root/root/.bashrc"
  echo "v$v" >"$root/kind/version"
  preload_images "$root" "$CACHE/out/images-$v/"*.tar "$CACHE/out/images-$up/"*.tar "$CACHE/out/addons/"*.tar
  tar -C "$root" -c . | docker import --change 'ENV container=docker' \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' - "ckalab/node-rootfs:v$v"
  rm -rf "$root"
  # docker import refuses STOPSIGNAL; a build FROM the local image (nothing pulled) adds it.
  local previous
  previous=$(docker image inspect -f '{{.Id}}' "ckalab/node:v$v" 2>/dev/null || true)
  printf 'FROM ckalab/node-rootfs:v%s\nSTOPSIGNAL SIGRTMIN+3\n' "$v" | docker build -q -t "ckalab/node:v$v" -
  docker rmi "ckalab/node-rootfs:v$v" >/dev/null
  # The image this build replaced, unless a container still uses it.
  [[ -z $previous ]] || docker rmi "$previous" >/dev/null 2>&1 || true
  docker image inspect "ckalab/node:v$v" --format '{{.Id}} {{.Size}}'
}
