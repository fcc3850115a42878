# steps-go.sh: steps that build binaries from the Go module proxy.
# Each writes into $CACHE/out/<step>/ and nothing else.

# sum.golang.org answers only for some modules through this machine's proxy,
# so the throwaway wrapper modules below trust the proxy alone (GOSUMDB=off);
# ckalab's own go.mod keeps full checksum verification.
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local GOSUMDB=off

# wrapper_module DIR MODULE REQUIRES...: a throwaway module that requires
# the given module versions, so `go build` can build their main packages.
wrapper_module() {
  local dir=$1 mod=$2
  shift 2
  rm -rf "$dir" && mkdir -p "$dir"
  {
    echo "module $mod"
    echo "go 1.24"
    for r in "$@"; do echo "require $r"; done
  } >"$dir/go.mod"
}

# module_dir MODULE@VERSION: the module's source in the module cache,
# downloaded first: never rely on what an earlier build left there.
module_dir() {
  local dir
  dir=$(cd "$CACHE" && go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  [[ -n $dir && -d $dir ]] || { echo "module_dir: $1: no source directory after download" >&2; return 1; }
  echo "$dir"
}

# prepare_kubernetes VERSION: the wrapper module that builds Kubernetes'
# commands; published staging modules replace the repository-relative ones.
prepare_kubernetes() {
  local v=$1 w="$CACHE/work/kubernetes-$1" pkg=k8s.io/kubernetes/cmd
  local minor=${v#*.}; minor=${minor%%.*}
  wrapper_module "$w" ckalab.local/kubernetes-build "k8s.io/kubernetes v$v"
  local src
  src=$(module_dir "k8s.io/kubernetes@v$v")
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$src/go.mod" | while read -r m; do
    echo "replace $m => $m v0.$minor.${v##*.}" >>"$w/go.mod"
  done
  grep -q '^replace k8s.io/api ' "$w/go.mod"
  cat >"$w/tools.go" <<EOF
//go:build tools

package tools

import (
	_ "$pkg/kube-apiserver"
	_ "$pkg/kube-controller-manager"
	_ "$pkg/kube-proxy"
	_ "$pkg/kube-scheduler"
	_ "$pkg/kubeadm"
	_ "$pkg/kubectl"
	_ "$pkg/kubelet"
)
EOF
}

# build_kubernetes VERSION: kubeadm, kubelet, kubectl and the control-plane
# binaries, with the version ldflags kubeadm relies on.
build_kubernetes() {
  local v=$1 out="$CACHE/out/kubernetes-$1" w="$CACHE/work/kubernetes-$1" pkg=k8s.io/kubernetes/cmd
  local minor=${v#*.}; minor=${minor%%.*}
  prepare_kubernetes "$v"
  local src
  src=$(module_dir "k8s.io/kubernetes@v$v")
  local date
  date=$(date -u -d "@$(stat -c %Y "$src/go.mod")" +%Y-%m-%dT%H:%M:%SZ)
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=v$v -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld+=" -X $p.gitCommit=ckalab-module-v$v -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  (cd "$w" && go mod tidy -e 2>&1 | tail -5
  mkdir -p "$out"
  go build -trimpath -ldflags "$ld" -o "$out/" \
    $pkg/kube-apiserver $pkg/kube-controller-manager $pkg/kube-proxy $pkg/kube-scheduler \
    $pkg/kubeadm $pkg/kubectl $pkg/kubelet)
  "$out/kubeadm" version -o short | grep -qx "v$v"
  "$out/kubeadm" config images list --kubernetes-version "v$v" >"$out/images.txt"
  # The pause source ships in the module; kubeadm's pause image is built from it.
  cp "$src/build/pause/linux/pause.c" "$out/pause.c"
  cat "$out/images.txt"
}

# image_tag REPO VERSION-FILE: the tag kubeadm expects for repo (etcd, coredns, pause).
image_tag() { sed -n "s#.*/$1:\(.*\)#\1#p" "$2" | head -1; }

# build_etcd TAG: etcd, etcdctl and etcdutl (TAG like 3.6.5-0).
build_etcd() {
  local tag=$1 v="v${1%-*}" out="$CACHE/out/etcd-$1" w="$CACHE/work/etcd-$1"
  wrapper_module "$w" ckalab.local/etcd-build "go.etcd.io/etcd/server/v3 $v" \
    "go.etcd.io/etcd/etcdctl/v3 $v" "go.etcd.io/etcd/etcdutl/v3 $v"
  (cd "$w" && cat >tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/etcdutl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
EOF
  go mod tidy -e 2>&1 | tail -5
  mkdir -p "$out"
  go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
  go build -trimpath -ldflags "-s -w" -o "$out/etcdctl" go.etcd.io/etcd/etcdctl/v3
  go build -trimpath -ldflags "-s -w" -o "$out/etcdutl" go.etcd.io/etcd/etcdutl/v3)
  "$out/etcd" --version
}

# build_coredns TAG (like v1.12.1).
build_coredns() {
  local v=$1 out="$CACHE/out/coredns-$1" w="$CACHE/work/coredns-$1"
  wrapper_module "$w" ckalab.local/coredns-build "github.com/coredns/coredns $v"
  (cd "$w" && printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/coredns/coredns"\n' >tools.go &&
    go mod tidy -e 2>&1 | tail -5 && mkdir -p "$out" &&
    go build -trimpath -ldflags "-s -w" -o "$out/coredns" github.com/coredns/coredns)
  "$out/coredns" -version
}

# build_pause TAG VERSION-DIR: kubeadm's pause container, from Kubernetes' own C source.
build_pause() {
  local out="$CACHE/out/pause-$1"
  mkdir -p "$out"
  gcc -Os -Wall -static -DVERSION="\"$1-ckalab\"" -o "$out/pause" "$2/pause.c"
  strip "$out/pause"
  "$out/pause" -v
}

# build_tools: crictl, the local-path provisioner and the network-policy engine.
build_tools() {
  local out="$CACHE/out/tools" w="$CACHE/work/tools"
  wrapper_module "$w" ckalab.local/tools-build "sigs.k8s.io/cri-tools $CRI_TOOLS_VERSION" \
    "github.com/rancher/local-path-provisioner $LOCAL_PATH_PROVISIONER_VERSION"
  (cd "$w" && cat >tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "github.com/rancher/local-path-provisioner"
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
)
EOF
  go mod tidy -e 2>&1 | tail -5
  mkdir -p "$out"
  go build -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRI_TOOLS_VERSION" \
    -o "$out/crictl" sigs.k8s.io/cri-tools/cmd/crictl
  go build -trimpath -ldflags "-s -w" -o "$out/local-path-provisioner" github.com/rancher/local-path-provisioner)
  "$out/crictl" --version
}

# build_ckanet: the node network daemon (routes, masquerade, NetworkPolicy),
# with kube-network-policies' nftables dataplane swapped for iptables NFQUEUE.
build_ckanet() {
  local w="$CACHE/work/ckanet" out="$CACHE/out/ckanet"
  "$here/ckanet/prepare.sh" "$w"
  mkdir -p "$out"
  (cd "$w/ckanet" && go vet -tags ckanet ./... && CGO_ENABLED=0 go build -tags ckanet -trimpath -ldflags "-s -w" -o "$out/ckanet" .)
  grep -q CKANET-NETPOL "$out/ckanet"
}

# prepare_go_binary NAME MODULE VERSION PACKAGE: the wrapper module that
# builds one main package of a module from the proxy. The module's own
# replace directives (forks it builds with) are carried over; local ones cannot be.
prepare_go_binary() {
  local name=$1 mod=$2 v=$3 pkg=$4 w="$CACHE/work/$1"
  wrapper_module "$w" "ckalab.local/$name-build" "$mod $v"
  local gomod
  gomod=$(cd "$w" && go mod download -json "$mod@$v" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  [[ -f $gomod ]] || { echo "prepare_go_binary: no go.mod for $mod@$v" >&2; return 1; }
  awk '/^replace \($/{b=1; next} b&&/^\)/{b=0; next} b&&/=>/{print "replace " $0; next} /^replace .*=>/{print}' "$gomod" |
    grep -v '=> *\.\.\?/' >>"$w/go.mod" || true
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$w/tools.go"
}

# go_binary OUT-DIR NAME MODULE VERSION PACKAGE [LDFLAGS]: build the package
# prepared by prepare_go_binary into OUT-DIR.
go_binary() {
  local out=$1 name=$2 mod=$3 v=$4 pkg=$5 ld="-s -w ${6:-}" w="$CACHE/work/$2"
  prepare_go_binary "$name" "$mod" "$v" "$pkg"
  (cd "$w" && go mod tidy -e 2>&1 | tail -5 && mkdir -p "$out" &&
    go build -trimpath -ldflags "$ld" -o "$out/" "$pkg")
}

# build_registry: the clusters' registry (CNCF distribution).
build_registry() {
  go_binary "$CACHE/out/registry" registry github.com/distribution/distribution/v3 "$REGISTRY_VERSION" \
    github.com/distribution/distribution/v3/cmd/registry
  "$CACHE/out/registry/registry" --version
}

# build_metrics_server: `kubectl top` and HPAs in every cluster.
build_metrics_server() {
  go_binary "$CACHE/out/metrics-server" metrics-server sigs.k8s.io/metrics-server "$METRICS_SERVER_VERSION" \
    sigs.k8s.io/metrics-server/cmd/metrics-server "-X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION"
  "$CACHE/out/metrics-server/metrics-server" --version
}

# build_traefik: the Ingress and Gateway API controller, and the Gateway
# API CRDs of the version it is built against.
build_traefik() {
  local out="$CACHE/out/traefik"
  go_binary "$out" traefik github.com/traefik/traefik/v3 "$TRAEFIK_VERSION" github.com/traefik/traefik/v3/cmd/traefik \
    "-X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION"
  local gw f
  gw=$(gateway_api_version)
  echo "$gw" >"$out/gateway-api-version"
  gw=$(module_dir "sigs.k8s.io/gateway-api@$gw")
  for f in "$gw"/config/crd/standard/*.yaml; do echo ---; cat "$f"; done >"$out/gateway-api-crds.yaml"
  "$out/traefik" version
  echo "Gateway API $(cat "$out/gateway-api-version")"
}

# gateway_api_version: the Gateway API version the traefik wrapper module
# selects (its CRDs must match the controller).
gateway_api_version() {
  (cd "$CACHE/work/traefik" && go list -m -f '{{.Version}}' sigs.k8s.io/gateway-api)
}

# build_app: ckalab's practice workload (cluster-images/app), once per tag.
build_app() {
  local out="$CACHE/out/app"
  mkdir -p "$out"
  for v in 1.0 2.0; do
    (cd "$here/.." && go build -trimpath -ldflags "-s -w -X main.version=$v" -o "$out/app-$v" ./cluster-images/app)
  done
  ls -la "$out"
}
