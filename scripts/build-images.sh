#!/usr/bin/env bash
# Builds the UMS container images from deploy/Dockerfile.agent and deploy/Dockerfile.coordinator with
# podman (root, idempotent): ums-agent:<version> and ums-coordinator:<version>.
#
# These machines have no Docker engine and no registry access, only Debian's package mirror. When the
# base images the Dockerfiles name (debian:bookworm-slim, debian:testing-slim) are not in podman's
# storage, this script bootstraps a minimal Debian root file system from the mirror (mmdebstrap,
# variant minbase, with the slim images' dpkg excludes) and imports it under the Docker Hub name.
# Those are LOCALLY BOOTSTRAPPED STAND-INS for the Docker Hub images, labelled as such
# (io.ums.base-image.stand-in=true); where a registry is reachable, `docker build` / `podman build`
# pull the real ones and the Dockerfiles are the same.
#
#   scripts/build-images.sh            build what is missing, reuse podman's layer cache
#   UMS_IMAGE_VERSION=0.2.0 scripts/build-images.sh
set -euo pipefail

UMS_HOME=$(cd "$(dirname "$0")/.." && pwd)
VERSION=${UMS_IMAGE_VERSION:-0.1.0}
AGENT_IMAGE=ums-agent:$VERSION
COORDINATOR_IMAGE=ums-coordinator:$VERSION
LOCK=/var/lib/ums/.images.lock

say()  { printf '[images] %s\n' "$*"; }
fail() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/fetch-common.sh
. "$UMS_HOME/scripts/fetch-common.sh"

[ "$(id -u)" = 0 ] || fail "must run as root (podman's root storage, as the agent's DaemonSet needs); try: sudo $0"
command -v podman >/dev/null || fail "podman not found: run ./ums setup first"

# The machine's own Debian mirrors (apt's sources, or UMS_DEBIAN_MIRROR / UMS_DEBIAN_SECURITY_MIRROR).
MIRROR=$(debian_mirror main) || exit 1
SECURITY_MIRROR=$(debian_mirror security) || exit 1

# Reference name of a Docker Hub library image, as podman stores it (FROM debian:x resolves to it offline).
hub_name() { printf 'docker.io/library/%s' "$1"; }

# Bootstraps debian:<tag> from the mirror and imports it, unless podman already has an image of that name
# (a real pull, or an earlier stand-in).
ensure_base_image() {
  local tag=$1 suite=$2; shift 2
  local name
  name=$(hub_name "debian:$tag")
  if podman image exists "$name"; then
    say "base image $name: present"
    return
  fi
  command -v mmdebstrap >/dev/null || fail "mmdebstrap not found (needed to bootstrap $name offline): run ./ums setup"
  say "base image $name: not in podman's storage, bootstrapping a stand-in from $MIRROR ($suite, minbase)"
  local apt_options=(--aptopt='Acquire::Retries "3"') option
  # A mirror that serves frozen snapshots has expired Release files; the host's apt is told to accept
  # them, and the stand-in inherits exactly those settings so `apt-get update` in a Dockerfile works too.
  for option in Check-Valid-Until Check-Date; do
    if apt-config dump 2>/dev/null | grep -qiE "^Acquire::$option \"(false|0)\";"; then
      apt_options+=(--aptopt="Acquire::$option \"false\"")
    fi
  done
  local tarball
  tarball=$(mktemp /var/tmp/ums-base-XXXXXX.tar)
  # shellcheck disable=SC2064
  trap "rm -f '$tarball'" RETURN
  # the dpkg excludes of Docker Hub's -slim images (no man pages, docs, locales)
  retry "mmdebstrap $suite from $MIRROR" mmdebstrap --quiet --variant=minbase --format=tar "${apt_options[@]}" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/groff/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    "$suite" "$tarball" "$@" || fail "mmdebstrap of $suite from $MIRROR failed"
  podman import --quiet \
    --change 'CMD ["bash"]' \
    --change "LABEL io.ums.base-image.stand-in=true io.ums.base-image.source=\"mmdebstrap $suite $MIRROR\"" \
    --message "UMS: locally bootstrapped stand-in for Docker Hub's debian:$tag" \
    "$tarball" "$name" >/dev/null || fail "podman import of $name failed"
  say "base image $name: imported ($(podman image inspect --format '{{.Size}}' "$name" | numfmt --to=iec) )"
}

ensure_jars() {
  if [ -f "$UMS_HOME/agent/target/ums-agent-all.jar" ] && [ -f "$UMS_HOME/coordinator/target/ums-coordinator-all.jar" ]; then
    return
  fi
  say "building jars (mvn -B -q -DskipTests package)"
  (cd "$UMS_HOME" && mvn -B -q -DskipTests package) || fail "maven build failed"
}

podman_build() {
  (cd "$UMS_HOME" && podman build --pull=never --network=host --layers -f "$1" -t "$2" .) >"$3" 2>&1
}

build_image() {
  local dockerfile=$1 image=$2 started
  started=$(date +%s)
  say "building $image from $dockerfile"
  # --pull=never: the base images are in local storage (pulled or bootstrapped above); never reach a registry.
  # --network=host: RUN steps reach the Debian mirror the host reaches, without a bridge and NAT rules.
  local log
  log=$(mktemp /var/tmp/ums-image-build-XXXXXX.log)
  # RUN steps fetch packages from the mirror: a failed build is retried (the layers already built are reused)
  if ! retry "podman build -f $dockerfile" podman_build "$dockerfile" "$image" "$log"; then
    tail -n 40 "$log" >&2
    fail "podman build -f $dockerfile failed (whole log: $log)"
  fi
  rm -f "$log"
  # the image this name pointed at before (older jars) is now untagged: drop it, and only UMS's own
  local title=${image%%:*}
  podman image prune --force --filter "label=org.opencontainers.image.title=$title" >/dev/null || true
  say "built $image in $(( $(date +%s) - started )) s ($(podman image inspect --format '{{.Size}}' "$image" | numfmt --to=iec))"
}

mkdir -p "$(dirname "$LOCK")"
exec 9>"$LOCK"
# two builds at once (a developer and a test) would bootstrap and build the same names twice
flock 9

ensure_base_image bookworm-slim bookworm \
  "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY_MIRROR bookworm-security main"
ensure_base_image testing-slim testing "deb $MIRROR testing main"
ensure_jars
build_image deploy/Dockerfile.agent "$AGENT_IMAGE"
build_image deploy/Dockerfile.coordinator "$COORDINATOR_IMAGE"
say "images ready: $AGENT_IMAGE $COORDINATOR_IMAGE"
