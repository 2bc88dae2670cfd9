#!/usr/bin/env bash
# Copy the Gateway API's standard CRDs (HTTPRoute and friends) out of the
# sigs.k8s.io/gateway-api Go module, which ships them under config/crd/standard,
# into $CLICKCAST_CACHE/gateway-api/<version>/. The Go module proxy verifies the
# module against go.sum's checksum database. Re-running with a warm cache is a
# no-op that prints the directory (callers read the last line).
set -euo pipefail

VERSION="${GATEWAY_API_VERSION:-v1.6.3}"
CACHE="${CLICKCAST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clickcast}"
DIR="$CACHE/gateway-api/$VERSION"

log() { printf '[fetch-gateway-api-crds %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

if [ ! -f "$DIR/gateway.networking.k8s.io_httproutes.yaml" ]; then
  command -v go >/dev/null || { log "error: go is needed to fetch sigs.k8s.io/gateway-api"; exit 1; }
  log "downloading sigs.k8s.io/gateway-api@$VERSION"
  module_dir="$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/gateway-api@$VERSION" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
  mkdir -p "$DIR.tmp"
  cp "$module_dir"/config/crd/standard/*.yaml "$DIR.tmp/"
  rm -rf "$DIR" && mv "$DIR.tmp" "$DIR"
fi
echo "$DIR"
