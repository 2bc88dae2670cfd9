#!/usr/bin/env bash
# Build helm (the chart tests lint, template and render charts/clickcast with
# it) from its Go module and cache the binary under
# $CLICKCAST_CACHE/bin/helm-<version>/helm. Nothing is downloaded but Go
# modules from the module proxy. Re-running with a warm cache is a no-op that
# prints the binary's path (callers read the last line).
#
# Helm 4 (it needs Go >= 1.26); the chart itself is apiVersion v2, which Helm 3
# installs as well. Helm 4 derives its default Kubernetes version (what
# `helm template`/`helm lint` assume without a cluster) from the client-go it was
# built with, so a module build needs no ldflags for it; only the version string
# is stamped, as helm's own Makefile does.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v4.3.1}"
CACHE="${CLICKCAST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clickcast}"
BIN="${CLICKCAST_HELM_DIR:-$CACHE/bin/helm-$HELM_VERSION}"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--mod=mod}"

log() { printf '[build-helm %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# A test fixture may ask for this build while `make test` runs it in the background:
# one build at a time, and whoever waited finds the cache warm.
mkdir -p "$CACHE"; exec 9>"$CACHE/.build-helm.lock"; flock 9

if [ -x "$BIN/helm" ]; then
  echo "$BIN/helm"
  exit 0
fi
command -v go >/dev/null || die "Go is not installed (need Go >= 1.26 on PATH; see https://go.dev/doc/install)"
major="${HELM_VERSION%%.*}"
trap 'die "go install helm.sh/helm/$major/cmd/helm@$HELM_VERSION failed; check the output above and that the Go module proxy ($(go env GOPROXY)) is reachable"' ERR
log "building helm $HELM_VERSION into $BIN (once; expect 2-5 minutes on 2 cores)"
mkdir -p "$BIN"
tmp="$(mktemp -d "$BIN/.build-XXXXXX")"
GOBIN="$tmp" go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/$major/internal/version.version=$HELM_VERSION -X helm.sh/helm/$major/internal/version.metadata=" \
  "helm.sh/helm/$major/cmd/helm@$HELM_VERSION"
# -X silently ignores a variable that does not exist: check the stamp took.
out="$("$tmp/helm" version --short)"
grep -q "^$HELM_VERSION" <<<"$out" || die "the built helm reports '$out', not $HELM_VERSION"
mv "$tmp/helm" "$BIN/helm"
rm -rf "$tmp"
log "helm ready: $BIN/helm"
echo "$BIN/helm"
