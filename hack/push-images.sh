#!/usr/bin/env bash
# `make push REGISTRY=registry.example.com/team`: push the images `make images` built to your registry as
# $REGISTRY/<name>:$TAG (log in first: `podman login registry.example.com`). Images built under another
# name (`make images` without REGISTRY builds ghcr.io/clickcast/<name>, or set BUILT) are retagged first.
# Then one value points the chart's operator and every ClickModel that names no image at them:
#   helm install clickcast charts/clickcast --set images.registry=$REGISTRY [--set images.tag=$TAG]
set -euo pipefail
cd "$(dirname "$0")/.."

: "${REGISTRY:?set REGISTRY, e.g. make push REGISTRY=registry.example.com/team}"
BUILT="${BUILT:-ghcr.io/clickcast}"
TAG="${TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n1)}"
IMAGES="${IMAGES:-operator jobs serving}"

for name in $IMAGES; do
  target="$REGISTRY/$name:$TAG"
  if ! podman image exists "$target"; then
    source_image="$BUILT/$name:$TAG"
    podman image exists "$source_image" || { echo "error: neither $target nor $source_image is built (make images)" >&2; exit 1; }
    podman tag "$source_image" "$target"
  fi
  podman push "$target"
done
