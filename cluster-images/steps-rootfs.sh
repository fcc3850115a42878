# steps-rootfs.sh: Debian root filesystems, from Debian's apt sources only.

# Debian mirrors (override with DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR).
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# Packages every node gets: systemd, the container runtime, networking
# userland and the exam's tooling.
NODE_PACKAGES=(systemd systemd-sysv dbus containerd runc containernetworking-plugins
  iptables ipset conntrack ebtables ethtool socat kmod procps iproute2 iputils-ping util-linux mount
  ca-certificates curl jq vim nano less tmux bash-completion openssh-server openssh-client
  libseccomp2 dnsutils netcat-openbsd gnupg apt-transport-https)

# debian_rootfs OUT PACKAGES [MMDEBSTRAP-ARGS...]: a minbase tree of DEBIAN_SUITE
# with PACKAGES (comma-separated), without docs, man pages or locales, as OUT/rootfs.tar.
debian_rootfs() {
  local out=$1 inc=$2
  shift 2
  rm -rf "$out" && mkdir -p "$out"
  mmdebstrap --variant=minbase --include="$inc" --components=main \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$@" "$DEBIAN_SUITE" "$out/rootfs.tar" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
    "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main"
  ls -la "$out/rootfs.tar"
}

# build_node_rootfs: a bookworm tree with NODE_PACKAGES, as a tarball.
build_node_rootfs() {
  debian_rootfs "$CACHE/out/rootfs-node" "$(IFS=,; echo "${NODE_PACKAGES[*]}")"
}

# Packages of the small Debian base shared by kube-proxy and the network
# daemons (one layer, stored once in every node's containerd).
BASE_PACKAGES=(iptables ipset conntrack kmod iproute2 ca-certificates busybox-static)

# build_base_rootfs: minbase + BASE_PACKAGES, iptables set to legacy
# (NFQUEUE must not become an nft `queue` rule on these kernels).
build_base_rootfs() {
  debian_rootfs "$CACHE/out/rootfs-base" "$(IFS=,; echo "${BASE_PACKAGES[*]}")" \
    --customize-hook='chroot "$1" update-alternatives --set iptables /usr/sbin/iptables-legacy' \
    --customize-hook='chroot "$1" update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*'
}
