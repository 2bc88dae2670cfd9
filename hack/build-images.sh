#!/usr/bin/env bash
# `make images`: build the operator, jobs and serving images daemonless (podman build, i.e. buildah), tagged
# $REGISTRY/<name>:$TAG: the names the chart gives the operator and its ClickModels for
# `--set images.registry=$REGISTRY --set images.tag=$TAG` (defaults ghcr.io/clickcast and the version in
# pyproject.toml, the chart's defaults).
#
#   make images                                  # all three, on a Debian base built here (see below)
#   make images REGISTRY=registry.example.com/team TAG=1.2  # named for your registry (then make push)
#   make images IMAGES=serving                   # one
#   make images BASE=python:3.11.14-slim-bookworm  # on the public Python image, where a registry is reachable
#   make push REGISTRY=registry.example.com/team   # push all three there (hack/push-images.sh)
#   ENGINE=docker BASE=python:3.11.14-slim-bookworm bash hack/build-images.sh  # with Docker (the kind demo)
#
# BASE=debian (the default) builds the base from Debian's packages with mmdebstrap from this machine's apt
# sources (python3 and CA certificates, minbase) and imports it as localhost/clickcast/base:bookworm-<recipe hash> once:
# nothing is pulled from an image registry. Each Dockerfile takes it as its BASE build argument.
#
# Package downloads inside a build (PyPI, Maven Central) trust the CA bundle $CA_BUNDLE (default the host's
# system bundle, which holds a TLS-intercepting proxy's CA where there is one), given as a build secret:
# mounted for the RUN steps that download, never written into a layer.
#
# Layers are cached by podman between runs (a rebuild after a code change reinstalls only the project).
# Prints each image's build time and size.
set -euo pipefail
cd "$(dirname "$0")/.."

REGISTRY="${REGISTRY:-ghcr.io/clickcast}"
TAG="${TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n1)}"
BASE="${BASE:-debian}"
IMAGES="${IMAGES:-operator jobs serving}"
ENGINE="${ENGINE:-podman}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
DEBIAN_BASE=localhost/clickcast/base:bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
# runc, not crun (which refuses hybrid cgroups); limits a container without CAP_SYS_RESOURCE may set.
BUILD_FLAGS=(--runtime runc --network=host --ulimit nofile=1024:4096 --ulimit nproc=4096:4096 --layers)

say() { printf '[images %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { say "error: $*"; exit 1; }

case "$ENGINE" in
  podman) command -v podman >/dev/null || die "podman is not installed (Debian: apt-get install podman buildah runc mmdebstrap)" ;;
  docker)
    command -v docker >/dev/null || die "docker is not installed"
    [ "$BASE" != debian ] || die "ENGINE=docker needs BASE=<an image with python3.11> (the Debian base is imported into podman)"
    BUILD_FLAGS=()
    export DOCKER_BUILDKIT=1 ;; # build secrets need BuildKit
  *) die "ENGINE is podman or docker" ;;
esac

# The Debian base's recipe. mmdebstrap installs usrmerge, which pulls in the full perl (50 MB) that nothing in
# the images runs: with usr-is-merged (what init-system-helpers accepts instead; /usr is merged already) they
# are purged again. perl-base, which dpkg itself needs, stays.
# shellcheck disable=SC2016,SC2054 # $1 is mmdebstrap's (the root); the commas are mmdebstrap's lists
BASE_OPTIONS=(--variant=minbase --include=python3,ca-certificates,usr-is-merged --aptopt='Acquire::Languages "none"'
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --customize-hook='chroot "$1" dpkg --purge usrmerge libfile-find-rule-perl libnumber-compare-perl libtext-glob-perl perl perl-modules-5.36 libperl5.36')
# Tagged by its recipe, so a changed recipe builds a new base (and every image on it) instead of reusing the old.
DEBIAN_BASE="$DEBIAN_BASE-$(printf '%s\n' "${BASE_OPTIONS[@]}" "$MIRROR" "$SECURITY_MIRROR" | sha256sum | cut -c1-12)"

debian_base() {
  if podman image exists "$DEBIAN_BASE"; then return; fi
  command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (Debian: apt-get install mmdebstrap)"
  local scratch; scratch="$(mktemp -d)"
  say "building $DEBIAN_BASE with mmdebstrap from $MIRROR"
  local started=$SECONDS
  mmdebstrap --quiet "${BASE_OPTIONS[@]}" bookworm "$scratch/base.tar" \
    "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY_MIRROR bookworm-security main"
  podman import --change 'CMD ["/bin/bash"]' "$scratch/base.tar" "$DEBIAN_BASE" >/dev/null
  rm -rf "$scratch"
  say "$DEBIAN_BASE built in $((SECONDS - started)) s"
}

# One build at a time (`make test` builds them beside the first tests, and the container test asks again): whoever
# waited finds every layer cached.
CACHE="${CLICKCAST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clickcast}"
mkdir -p "$CACHE"; exec 9>"$CACHE/.build-images.lock"; flock 9

if [ "$BASE" = debian ]; then
  debian_base
  base="$DEBIAN_BASE"
else
  base="$BASE"
fi

secret=()
[ -s "$CA_BUNDLE" ] && secret=(--secret "id=ca-bundle,src=$CA_BUNDLE")

for name in $IMAGES; do
  [ -f "$name/Dockerfile" ] || die "no image named $name (operator, jobs, serving)"
  image="$REGISTRY/$name:$TAG"
  say "building $image on $base"
  started=$SECONDS
  "$ENGINE" build "${BUILD_FLAGS[@]}" --build-arg "BASE=$base" "${secret[@]}" -f "$name/Dockerfile" -t "$image" .
  size="$("$ENGINE" image inspect --format '{{.Size}}' "$image")"
  say "$image: built in $((SECONDS - started)) s, $((size / 1000000)) MB"
done
