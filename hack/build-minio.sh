#!/usr/bin/env bash
# Build MinIO (the S3-compatible server the object-storage tests run on
# loopback) from its Go module and cache the binary under
# $CLICKCAST_CACHE/bin/minio-<version>/minio. Nothing is downloaded but Go
# modules from the module proxy. Re-running with a warm cache is a no-op that
# prints the binary's path (callers read the last line).
#
# MinIO is a test tool here: it runs as a separate process, is never linked
# into or shipped with clickcast (it is AGPL-3.0; clickcast is Apache-2.0).
set -euo pipefail

MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
CACHE="${CLICKCAST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clickcast}"
BIN="${CLICKCAST_MINIO_DIR:-$CACHE/bin/minio-$MINIO_VERSION}"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--mod=mod}"

log() { printf '[build-minio %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# A test fixture may ask for this build while `make test` runs it in the background:
# one build at a time, and whoever waited finds the cache warm.
mkdir -p "$CACHE"; exec 9>"$CACHE/.build-minio.lock"; flock 9

if [ -x "$BIN/minio" ]; then
  echo "$BIN/minio"
  exit 0
fi
command -v go >/dev/null || die "Go is not installed (need Go >= 1.24 on PATH)"
trap 'die "go install github.com/minio/minio@$MINIO_VERSION failed; check the output above and that the Go module proxy ($(go env GOPROXY)) is reachable"' ERR
log "building minio $MINIO_VERSION into $BIN (once; expect 5-10 minutes on 2 cores)"
mkdir -p "$BIN"
tmp="$(mktemp -d "$BIN/.build-XXXXXX")"
GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "github.com/minio/minio@$MINIO_VERSION"
"$tmp/minio" --version >/dev/null
mv "$tmp/minio" "$BIN/minio"
rm -rf "$tmp"
log "minio ready: $BIN/minio"
echo "$BIN/minio"
