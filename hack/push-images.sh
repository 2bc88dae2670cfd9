#!/usr/bin/env bash
# `make push REGISTRY=registry.example.com/ml`: push the images `make images` built to your registry.
# The images are built as ghcr.io/clickcast/<name>:<version> (the names the chart and the ClickModel
# defaults use); this retags them as $REGISTRY/<name>:$TAG and pushes with podman (log in first:
# `podman login registry.example.com`). Then point the chart at the operator image
#   helm install clickcast charts/clickcast --set image.repository=$REGISTRY/operator
# and ClickModels at the others (spec.training.image, spec.serving.image; one registry value for all
# three is still to come, see issue 18).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${REGISTRY:?set REGISTRY, e.g. make push REGISTRY=registry.example.com/ml}"
BUILT="${BUILT:-ghcr.io/clickcast}"
TAG="${TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n1)}"
IMAGES="${IMAGES:-operator jobs serving}"

for name in $IMAGES; do
  source_image="$BUILT/$name:$TAG" target="$REGISTRY/$name:$TAG"
  podman image exists "$source_image" || { echo "error: $source_image is not built (make images)" >&2; exit 1; }
  [ "$source_image" = "$target" ] || podman tag "$source_image" "$target"
  podman push "$target"
done
