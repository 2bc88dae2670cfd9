#!/usr/bin/env bash
# The operator in a real cluster with real kubelets, for a machine with Docker and kind:
# build the three images, load them into a kind cluster, install the Helm chart with values pointing
# at them, check the install (`helm test`), apply manifests/samples/clickmodel-minimal.yaml and follow
# its phases. Re-running reuses the cluster and upgrades the release.
#
#   make kind-demo                       # or: KIND_CLUSTER=demo TAG=dev bash hack/kind-demo.sh
#   kind delete cluster --name clickcast # when done
#
# The images are tagged $REGISTRY/<name>:$TAG (defaults as `make images`) and the chart is given the same
# two values (images.registry, images.tag), so the operator and the ClickModels' training Jobs and serving
# Deployments use the loaded images without a registry.
# The minimal sample reads file:///var/lib/clickcast/data/clicks: point spec.data.url at data the pods
# can reach (an s3:// bucket, say) to take it past Training.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${KIND_CLUSTER:-clickcast}"
REGISTRY="${REGISTRY:-ghcr.io/clickcast}"
TAG="${TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n1)}"
NAMESPACE="${NAMESPACE:-clickcast-system}"
SAMPLE="${SAMPLE:-manifests/samples/clickmodel-minimal.yaml}"
TIMEOUT="${TIMEOUT:-900}"
IMAGES=(operator jobs serving)
BASE="${BASE:-python:3.11.14-slim-bookworm}"

log() { printf '[kind-demo %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || die "$tool is not installed (this demo needs Docker, kind and kubectl)"
done
helm="$(bash hack/build-helm.sh | tail -n1)"
uv="$(command -v uv || echo "$HOME/.local/bin/uv")"
"$uv" run --frozen clickcast validate "$SAMPLE"

if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  log "creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --wait 120s
fi
context="kind-$CLUSTER"

# make images, with Docker on the public Python base (kind loads from Docker's image store).
log "building the images (make images with ENGINE=docker BASE=$BASE)"
ENGINE=docker BASE="$BASE" REGISTRY="$REGISTRY" TAG="$TAG" IMAGES="${IMAGES[*]}" bash hack/build-images.sh
for image in "${IMAGES[@]}"; do
  kind load docker-image --name "$CLUSTER" "$REGISTRY/$image:$TAG"
done

log "installing the chart (release clickcast in $NAMESPACE)"
"$helm" upgrade --install clickcast charts/clickcast --kube-context "$context" \
  --namespace "$NAMESPACE" --create-namespace --wait --timeout 5m \
  --set images.registry="$REGISTRY" \
  --set images.tag="$TAG" \
  --set image.pullPolicy=IfNotPresent
"$helm" test clickcast --kube-context "$context" --namespace "$NAMESPACE" --logs

kubectl --context "$context" apply -f "$SAMPLE"
name="$(kubectl --context "$context" create --dry-run=client -o jsonpath='{.metadata.name}' -f "$SAMPLE")"
log "following ClickModel $name (Pending -> Training -> Validating -> ... -> Serving)"
deadline=$((SECONDS + TIMEOUT)) last=""
while ((SECONDS < deadline)); do
  phase="$(kubectl --context "$context" get clickmodel "$name" -o jsonpath='{.status.phase}')"
  if [ "$phase" != "$last" ]; then
    log "phase: ${phase:-<none yet>}"
    last="$phase"
  fi
  case "$phase" in
    Serving) kubectl --context "$context" get clickmodel "$name"; exit 0 ;;
    Failed)
      kubectl --context "$context" describe clickmodel "$name"
      die "ClickModel $name failed (see its conditions above)"
      ;;
  esac
  sleep 5
done
kubectl --context "$context" describe clickmodel "$name"
die "ClickModel $name did not reach Serving within ${TIMEOUT}s (last phase: ${last:-none})"
