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

# debian_release SUITE: the checksums of SUITE's package indexes (with its
# updates and security updates), which change only when packages do. Part
# of every root filesystem's key: packages change under a fixed suite name
# (busybox 1.35.0-4+deb12u1 dropped `nc -k`), and a machine with a warm
# cache must build what a new machine would. Unreachable mirrors give "".
debian_release() {
  local s out=
  for s in "$DEBIAN_MIRROR/dists/$1" "$DEBIAN_MIRROR/dists/$1-updates" "$DEBIAN_SECURITY_MIRROR/dists/$1-security"; do
    out+="$(curl -fsS -m 20 "$s/InRelease" 2>/dev/null | awk '$3 ~ /^main\/binary-amd64\/Packages(\.xz)?$/ {print $1}' | tail -1);"
  done
  echo "$out"
}

# debian_rootfs OUT PACKAGES [MMDEBSTRAP-ARGS...]: a minbase tree of SUITE
# (default DEBIAN_SUITE) with PACKAGES (comma-separated), without docs, man
# pages or locales, as OUT/rootfs.tar.
debian_rootfs() {
  local out=$1 inc=$2 suite=${SUITE:-$DEBIAN_SUITE}
  shift 2
  rm -rf "$out" && mkdir -p "$out"
  mmdebstrap --variant=minbase --include="$inc" --components=main \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$@" "$suite" "$out/rootfs.tar" \
    "deb $DEBIAN_MIRROR $suite main" "deb $DEBIAN_MIRROR $suite-updates main" \
    "deb $DEBIAN_SECURITY_MIRROR $suite-security main"
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

# Workload images students run by their plain names; each holds Debian's
# own package of that program, set up like the official image (see
# workloads/*.sh), and says which version it is in /etc/ckalab-version.
WORKLOADS=(nginx nginx-newer httpd nettools)
workload_suite() { [[ $1 == nginx-newer ]] && echo "$NGINX_NEWER_SUITE" || echo "$DEBIAN_SUITE"; }
workload_packages() {
  case $1 in
    nginx | nginx-newer) echo nginx ;;
    httpd) echo apache2 ;;
    nettools) echo curl,wget,dnsutils,netcat-openbsd,iproute2,iputils-ping,procps,jq,ca-certificates ;;
  esac
}

# build_workload_rootfs NAME: the root filesystem of one workload image.
build_workload_rootfs() {
  local hook=${1%-newer}
  SUITE=$(workload_suite "$1") debian_rootfs "$CACHE/out/rootfs-$1" "$(workload_packages "$1")" \
    --customize-hook="'$here/workloads/$hook.sh' \"\$1\"" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*'
  tar -xOf "$CACHE/out/rootfs-$1/rootfs.tar" ./etc/ckalab-version
}
