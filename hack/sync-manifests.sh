#!/usr/bin/env bash
# One source for what the Helm chart and the kustomize base carry (as Flagger's `make crd` does):
# manifests/ is the source; charts/clickcast/ and manifests/kustomize/base/ get copies, and the
# kustomize base's operator Deployment + Service are rendered from the chart. tests/chart fails
# when a copy drifts. Usage: hack/sync-manifests.sh HELM
set -euo pipefail
helm="${1:?usage: $0 path/to/helm}"
cd "$(dirname "$0")/.."
chart=charts/clickcast base=manifests/kustomize/base

# The chart: CRDs (installed before the templates), kopf's peering CRDs (without the peering object,
# which the chart templates), and the RBAC and alert rules its templates read with .Files.Get.
rm -f "$chart"/crds/*.yaml
cp manifests/crds/*.yaml "$chart/crds/"
awk 'BEGIN { RS = "\n---\n" } /(^|\n)kind: CustomResourceDefinition\n/ { printf "%s%s\n", sep, $0; sep = "---\n" }' \
  manifests/peering/kopf-peering.yaml > "$chart/crds/kopf.dev_peerings.yaml"
cp manifests/rbac/operator.yaml manifests/rbac/operator-peering.yaml "$chart/files/rbac/"
cp manifests/monitoring/prometheus-rules.yaml "$chart/files/monitoring/"

# The kustomize base: the same CRDs and cluster-wide RBAC, and the chart's Deployment and Service with
# its default values, named to match manifests/rbac/operator.yaml's ServiceAccount.
cp manifests/crds/*.yaml manifests/rbac/namespace.yaml manifests/rbac/operator.yaml "$base/"
{
  echo "# Rendered from charts/clickcast (default values) by hack/sync-manifests.sh: edit the chart, not this file."
  "$helm" template clickcast-operator "$chart" --namespace clickcast-system \
    --show-only templates/deployment.yaml --show-only templates/service.yaml
} > "$base/operator-deployment.yaml"
{
  echo "# Rendered from charts/clickcast (default values) by hack/sync-manifests.sh: edit the chart, not this file."
  "$helm" template clickcast-operator "$chart" --namespace clickcast-system --show-only templates/admission-policy.yaml
} > "$base/admission-policy.yaml"
