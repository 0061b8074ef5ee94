#!/usr/bin/env bash
# Builds the Kubernetes cluster components UMS's real-cluster tests run, from their Go modules, pinned to
# one release each, into a prefix (default /opt/ums/k8s/bin). A stamp file records the pins: the build runs
# again only when they change (or with --force).
#
#   kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl
#                                                            k8s.io/kubernetes (all k8s.io/* staging at v0.x.y)
#   etcd etcdctl                                             go.etcd.io/etcd/{server,etcdctl}/v3
#   containerd containerd-shim-runc-v2 ctr                   github.com/containerd/containerd/v2
#   bridge host-local loopback (under cni/)                  github.com/containernetworking/plugins
#   crictl                                                   sigs.k8s.io/cri-tools
#   runc                                                     github.com/opencontainers/runc (cgo, libseccomp-dev)
#
# `go install` refuses modules whose go.mod has replace directives (k8s.io/kubernetes, etcd), so each group
# is built from a small generated module that requires the component at its pin and, for Kubernetes, pins
# every staging module k8s.io/kubernetes replaces with a local path to the matching v0.x.y.
# Modules come from the machine's `go env GOPROXY`. Builds run under nice -n 19 (shared cores).
set -euo pipefail

K8S_VERSION=${UMS_K8S_VERSION:-v1.34.4}     # 1.34: the last kubelet that runs on cgroup v1 without failCgroupV1
ETCD_VERSION=${UMS_ETCD_VERSION:-v3.6.16}
CONTAINERD_VERSION=${UMS_CONTAINERD_VERSION:-v2.2.9}
CNI_PLUGINS_VERSION=${UMS_CNI_PLUGINS_VERSION:-v1.9.0}
CRI_TOOLS_VERSION=${UMS_CRI_TOOLS_VERSION:-v1.34.0}
# Debian bookworm's runc 1.1.5 cannot start containerd 2.2's pod sandboxes ("runc create failed: unable to
# start container process: can't get final child's PID from pipe: EOF"); the nodes use this one.
RUNC_VERSION=${UMS_RUNC_VERSION:-v1.4.4}
PREFIX=${UMS_K8S_PREFIX:-/opt/ums/k8s}
WORK=${UMS_K8S_BUILD_DIR:-/var/cache/ums/k8s-build}
STAMP=$PREFIX/.built
PINS="k8s=$K8S_VERSION etcd=$ETCD_VERSION containerd=$CONTAINERD_VERSION cni=$CNI_PLUGINS_VERSION cri-tools=$CRI_TOOLS_VERSION runc=$RUNC_VERSION"

say()  { printf '[k8s-build] %s\n' "$*"; }
fail() { printf '[k8s-build] ERROR: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || fail "go not found: the cluster components are built from Go modules (Go >= 1.24)"
[ -n "$(go env GOPROXY)" ] && [ "$(go env GOPROXY)" != off ] \
  || fail "no Go module proxy configured (go env GOPROXY is '$(go env GOPROXY)')"

if [ "${1:-}" != --force ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PINS" ]; then
  say "up to date in $PREFIX ($PINS)"
  exit 0
fi

export GOFLAGS="-buildvcs=false -mod=mod" GOTOOLCHAIN=local GOWORK=off
mkdir -p "$WORK" "$PREFIX/bin.new/cni"
exec 8>"$WORK/.lock"
flock 8

# Network steps (module downloads) are retried: 3 tries with backoff.
retry() {
  local try
  for try in 1 2 3; do
    "$@" && return 0
    say "attempt $try of 3 failed: $*"
    [ $try -lt 3 ] && sleep $((try * 10))
  done
  fail "giving up after 3 attempts: $* (check the Go module proxy: go env GOPROXY)"
}

# new_module <dir> <module path>: an empty build module.
new_module() {
  rm -rf "$1"
  mkdir -p "$1"
  printf 'module %s\n\ngo 1.24\n' "$2" > "$1/go.mod"
}

# tidy <dir>: resolves and downloads the module graph (the network step).
tidy() {
  (cd "$1" && retry nice -n 19 go mod tidy)
}

# build <dir> <out dir> <ldflags extra> <tags> <package...>
build() {
  local dir=$1 out=$2 extra=$3 tags=$4; shift 4
  (cd "$dir" && nice -n 19 go build -trimpath -tags "$tags" -ldflags "-s -w $extra" -o "$out/" "$@") \
    || fail "go build failed in $dir: $*"
}

build_kubernetes() {
  local dir=$WORK/kubernetes staging=${K8S_VERSION/#v1./v0.}
  new_module "$dir" ums.local/k8s-build
  local gomod
  gomod=$(cd "$dir" && retry go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
  [ -f "$gomod" ] || fail "could not read k8s.io/kubernetes@$K8S_VERSION's go.mod"
  {
    printf '\nrequire k8s.io/kubernetes %s\n\n' "$K8S_VERSION"
    # k8s.io/foo => ./staging/src/k8s.io/foo  becomes  k8s.io/foo => k8s.io/foo v0.x.y
    sed -n 's#^\s*\(replace \)\?\(k8s\.io/[^ ]*\) => \./staging/src/.*#replace \2 => \2 '"$staging"'#p' "$gomod"
  } >> "$dir/go.mod"
  grep -q '^replace k8s.io/api ' "$dir/go.mod" || fail "no staging replaces found in $gomod"
  cat > "$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  tidy "$dir"
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local v
  v="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1"
  v="$v -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  v="$v -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1"
  v="$v -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  say "building kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl $K8S_VERSION (staging $staging)"
  CGO_ENABLED=0 build "$dir" "$PREFIX/bin.new" "$v" "" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kube-proxy \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
  local dir=$WORK/etcd
  new_module "$dir" ums.local/etcd-build
  printf '\nrequire (\n\tgo.etcd.io/etcd/server/v3 %s\n\tgo.etcd.io/etcd/etcdctl/v3 %s\n)\n' "$ETCD_VERSION" "$ETCD_VERSION" >> "$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "go.etcd.io/etcd/server/v3"\n\t_ "go.etcd.io/etcd/etcdctl/v3"\n)\n' > "$dir/tools.go"
  tidy "$dir"
  say "building etcd etcdctl $ETCD_VERSION"
  local v="-X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_VERSION}"
  CGO_ENABLED=0 build "$dir" "$WORK/etcd/out" "$v" "" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3
  # go names a binary after its package path without the major version suffix: server, etcdctl.
  mv "$WORK/etcd/out/server" "$PREFIX/bin.new/etcd"
  mv "$WORK/etcd/out/etcdctl" "$PREFIX/bin.new/etcdctl"
}

build_containerd() {
  local dir=$WORK/containerd m=github.com/containerd/containerd/v2
  new_module "$dir" ums.local/containerd-build
  printf '\nrequire %s %s\n' "$m" "$CONTAINERD_VERSION" >> "$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "%s/cmd/containerd"\n\t_ "%s/cmd/containerd-shim-runc-v2"\n\t_ "%s/cmd/ctr"\n)\n' "$m" "$m" "$m" > "$dir/tools.go"
  tidy "$dir"
  say "building containerd containerd-shim-runc-v2 ctr $CONTAINERD_VERSION"
  local v="-X $m/version.Version=$CONTAINERD_VERSION -X $m/version.Revision=ums-build"
  # btrfs needs C headers; this machine's snapshotter is overlayfs.
  CGO_ENABLED=0 build "$dir" "$PREFIX/bin.new" "$v" "no_btrfs no_devmapper no_zfs" \
    "$m/cmd/containerd" "$m/cmd/containerd-shim-runc-v2" "$m/cmd/ctr"
}

build_cni() {
  local dir=$WORK/cni m=github.com/containernetworking/plugins
  new_module "$dir" ums.local/cni-build
  printf '\nrequire %s %s\n' "$m" "$CNI_PLUGINS_VERSION" >> "$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "%s/plugins/main/bridge"\n\t_ "%s/plugins/main/loopback"\n\t_ "%s/plugins/ipam/host-local"\n\t_ "%s/plugins/meta/portmap"\n)\n' "$m" "$m" "$m" "$m" > "$dir/tools.go"
  tidy "$dir"
  say "building CNI plugins bridge host-local loopback portmap $CNI_PLUGINS_VERSION"
  CGO_ENABLED=0 build "$dir" "$PREFIX/bin.new/cni" "" "" \
    "$m/plugins/main/bridge" "$m/plugins/main/loopback" "$m/plugins/ipam/host-local" "$m/plugins/meta/portmap"
}

build_crictl() {
  local dir=$WORK/cri-tools m=sigs.k8s.io/cri-tools
  new_module "$dir" ums.local/cri-tools-build
  printf '\nrequire %s %s\n' "$m" "$CRI_TOOLS_VERSION" >> "$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s/cmd/crictl"\n' "$m" > "$dir/tools.go"
  tidy "$dir"
  say "building crictl $CRI_TOOLS_VERSION"
  CGO_ENABLED=0 build "$dir" "$PREFIX/bin.new" "-X $m/pkg/version.Version=$CRI_TOOLS_VERSION" "" "$m/cmd/crictl"
}

build_runc() {
  local dir=$WORK/runc m=github.com/opencontainers/runc
  [ -f /usr/include/seccomp.h ] || fail "libseccomp-dev missing (runc is built with seccomp): run ./ums setup"
  new_module "$dir" ums.local/runc-build
  printf '\nrequire %s %s\n' "$m" "$RUNC_VERSION" >> "$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$m" > "$dir/tools.go"
  tidy "$dir"
  say "building runc $RUNC_VERSION"
  CGO_ENABLED=1 build "$dir" "$PREFIX/bin.new" "-X main.version=${RUNC_VERSION#v} -X main.gitCommit=ums-build" \
    "seccomp urfave_cli_no_docs" "$m"
}

started=$(date +%s)
say "building into $PREFIX ($PINS); work dir $WORK"
build_etcd
build_kubernetes
build_cni
build_containerd
build_crictl
build_runc
rm -rf "$PREFIX/bin"
mv "$PREFIX/bin.new" "$PREFIX/bin"
printf '%s\n' "$PINS" > "$STAMP"
say "built in $(( $(date +%s) - started )) s: $(cd "$PREFIX/bin" && ls | tr '\n' ' ')"
