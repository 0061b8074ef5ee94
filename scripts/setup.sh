#!/usr/bin/env bash
# Installs everything UMS needs on a Debian bookworm machine, idempotently, then builds the jars.
# CRIU >= 4.2 comes from Debian testing, unpacked into a private prefix and run through that
# prefix's own dynamic loader, so the host's libc and apt state stay untouched.
set -euo pipefail

UMS_HOME=$(cd "$(dirname "$0")/.." && pwd)
CRIU_PREFIX=${UMS_CRIU_PREFIX:-/opt/ums/criu}
CRIU_WRAPPER=/usr/local/sbin/criu
DISTRO_PACKAGES=(runc iptables iproute2 gcc libc6-dev busybox-static util-linux procps
                 maven openjdk-17-jdk-headless rsync openssh-server openssh-client podman
                 ca-certificates debian-archive-keyring curl skopeo attr
                 fontconfig fonts-dejavu-core redis-server redis-tools python3 openssl mmdebstrap
                 libseccomp-dev postgresql-15 nodejs)
REQUIRED_CRIU=4.2

say()  { printf '[setup] %s\n' "$*"; }
fail() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/fetch-common.sh
. "$UMS_HOME/scripts/fetch-common.sh"

[ "$(id -u)" = 0 ] || fail "must run as root (CRIU, network namespaces and runc need it); try: sudo ./ums setup"
command -v apt-get >/dev/null || fail "apt-get not found: UMS setup supports Debian (bookworm) only"

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

install_distro_packages() {
  local missing=()
  for p in "${DISTRO_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "distro packages: all present"
    return
  fi
  say "installing distro packages: ${missing[*]}"
  retry "apt-get update" apt-get "${APT_RETRIES[@]}" update -qq || fail "apt-get update failed: see apt's messages above"
  retry "apt-get install ${missing[*]}" env DEBIAN_FRONTEND=noninteractive apt-get "${APT_RETRIES[@]}" install -y -qq \
    --no-install-recommends "${missing[@]}" || fail "apt-get install ${missing[*]} failed: see apt's messages above"
  say "installed: ${missing[*]}"
}

installed_criu_version() {
  [ -x "$CRIU_WRAPPER" ] || return 0
  "$CRIU_WRAPPER" --version 2>/dev/null | sed -n 's/^Version: *//p'
}

install_criu() {
  local have
  have=$(installed_criu_version)
  if [ -n "$have" ] && version_ge "$have" "$REQUIRED_CRIU"; then
    say "criu $have already installed at $CRIU_WRAPPER"
    return
  fi
  say "installing CRIU >= $REQUIRED_CRIU from Debian testing into $CRIU_PREFIX (bookworm's 3.17 fails on this kernel)"
  local mirror tmp
  mirror=$(debian_mirror main) || exit 1
  tmp=$(mktemp -d /tmp/ums-criu.XXXXXX)
  trap 'rm -rf "$tmp"' RETURN
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror forky main" > "$tmp/sources.list"
  local opts=(-o Dir::Etc::SourceList="$tmp/sources.list" -o Dir::Etc::SourceParts=/nonexistent
              -o Dir::State::Lists="$tmp/lists" -o Dir::Cache="$tmp/cache"
              -o Dir::State::Status=/dev/null -o Debug::NoLocking=1 -o APT::Sandbox::User=root
              -o APT::Install-Recommends=false "${APT_RETRIES[@]}")
  retry "reading Debian testing's package index from $mirror" apt-get "${opts[@]}" update -qq \
    || fail "could not read Debian testing's package index from $mirror"
  # With an empty package status apt resolves criu's whole runtime closure (libc included).
  retry "downloading criu from $mirror (forky)" apt-get "${opts[@]}" install --download-only -y -qq criu \
    || fail "could not download criu from Debian testing ($mirror)"
  rm -rf "$CRIU_PREFIX.new"
  mkdir -p "$CRIU_PREFIX.new"
  for deb in "$tmp"/cache/archives/*.deb; do dpkg -x "$deb" "$CRIU_PREFIX.new"; done
  [ -x "$CRIU_PREFIX.new/usr/sbin/criu" ] || fail "criu binary missing after unpacking"
  rm -rf "$CRIU_PREFIX"
  mv "$CRIU_PREFIX.new" "$CRIU_PREFIX"
  mkdir -p "$(dirname "$CRIU_WRAPPER")"
  cat > "$CRIU_WRAPPER" <<WRAP
#!/bin/sh
exec $CRIU_PREFIX/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path $CRIU_PREFIX/usr/lib/x86_64-linux-gnu $CRIU_PREFIX/usr/sbin/criu "\$@"
WRAP
  chmod 755 "$CRIU_WRAPPER"
  have=$(installed_criu_version)
  version_ge "${have:-0}" "$REQUIRED_CRIU" || fail "installed criu reports version '${have:-none}', need >= $REQUIRED_CRIU"
  say "installed criu $have"
}

configure_podman() {
  # Defaults that work as root in this sandbox: runc (CRIU-capable), cgroupfs, file events,
  # and ulimits the sandbox lets us set.
  local conf=/etc/containers/containers.conf
  if [ -f "$conf" ] && grep -q 'ums-managed' "$conf"; then return; fi
  mkdir -p /etc/containers
  cat > "$conf" <<'CONF'
# ums-managed: written by UMS setup
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  say "configured podman ($conf)"
}

configure_kernel() {
  # Lazy (post-copy) migration across network namespaces needs pipes larger than 1 MiB.
  local want=4194304 have
  have=$(cat /proc/sys/fs/pipe-max-size 2>/dev/null || echo 0)
  if [ "$have" -lt "$want" ]; then
    sysctl -q -w fs.pipe-max-size=$want || say "warning: could not raise fs.pipe-max-size (lazy migration may fail)"
  fi
}

check_criu() {
  local out rc=0
  out=$("$CRIU_WRAPPER" check 2>&1) || rc=$?
  # "rlimit: Can't setup RLIMIT_NOFILE" is logged in this sandbox on every call and is harmless.
  if [ $rc -eq 0 ]; then
    say "criu check: $(printf '%s\n' "$out" | grep -v 'RLIMIT_NOFILE' | tail -n1)"
  else
    printf '%s\n' "$out" >&2
    fail "criu check failed (exit $rc): this kernel cannot checkpoint with CRIU $(installed_criu_version)"
  fi
  local lazy="no"
  "$CRIU_WRAPPER" check --feature uffd-noncoop >/dev/null 2>&1 && lazy="yes"
  say "criu features: lazy-pages(uffd)=$lazy"
}

build_cluster_components() {
  # kube-apiserver, etcd, containerd ... for ./ums cluster and the real-cluster tests: built from their Go
  # modules once, then reused (scripts/k8s-build.sh rebuilds only when its pinned versions change)
  if [ "${UMS_SKIP_K8S:-0}" = 1 ]; then say "cluster components: skipped (UMS_SKIP_K8S=1)"; return; fi
  if ! command -v go >/dev/null; then
    say "warning: go not found, the Kubernetes cluster components are not built (./ums cluster will not work)"
    return
  fi
  "$UMS_HOME/scripts/k8s-build.sh" || fail "building the Kubernetes cluster components failed (scripts/k8s-build.sh)"
}

build_jars() {
  if [ "${UMS_SKIP_BUILD:-0}" = 1 ]; then return; fi
  say "building jars (mvn -B -q -DskipTests package)"
  (cd "$UMS_HOME" && mvn -B -q -DskipTests package) || fail "maven build failed"
  say "built: $(cd "$UMS_HOME" && ls */target/ums-*-all.jar | tr '\n' ' ')"
}

install_distro_packages
install_criu
configure_podman
configure_kernel
check_criu
build_cluster_components
build_jars
mkdir -p /var/lib/ums
touch /var/lib/ums/.setup-done
say "setup complete"
