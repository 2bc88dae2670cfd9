#!/usr/bin/env bash
# make cluster-demo: the whole product on the local control plane, no Docker. The workload runner of
# `clickcast dev cluster up` runs every pod as local processes from this checkout: the operator (installed
# with the chart, acting as the chart's ServiceAccount), the training Job's Spark, the serving pods on
# their own 127.1.x.y addresses, the canary's Service reached by name. Prints each phase of the demo's
# ClickModel through its first release and a shadow canary, then a prediction from a stable pod. The cluster
# stays up: `clickcast dev cluster down` stops it.
#
# RUNTIME=containers runs it as a cluster would: `make images` builds the three images (podman, no registry),
# the workload runner runs every pod as a container from them (podman + runc: the images' non-root users,
# read-only root filesystems, Secrets and emptyDirs as mounts), and a local MinIO holds the lake and the
# model store (s3://), its credentials only in Secrets: the ClickModel's storageOptionsSecret and the
# operator's own (operator.storeCredentialsSecret). Promotions go to a local Git server over smart HTTP (git
# http-backend, basic auth), its credentials only in the ClickModel's GitOps secretRef Secret, which names the
# host they are for; the chart allows `http` among operator.gitSchemes for it (loopback, no TLS). A cluster keeps
# the runtime it was created with.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${CLICKCAST_CLUSTER:-clickcast}"
DEMO="${DEMO_DIR:-$PWD/.cluster-demo}"
NAMESPACE="${NAMESPACE:-clickcast-demo}"
MODEL=offers
LOG="$DEMO/cluster-demo.log"
clickcast="${CLICKCAST:-$PWD/.venv/bin/clickcast}"
RUNTIME="${RUNTIME:-processes}"
case "$RUNTIME" in processes | containers) ;; *) echo "RUNTIME is processes or containers" >&2; exit 2 ;; esac

mkdir -p "$DEMO"
: >"$LOG"
say() { printf '[cluster-demo %(%H:%M:%S)T] %s\n' -1 "$*" | tee -a "$LOG" >&2; }
die() { printf 'cluster-demo: %s (log: %s)\n' "$*" "$LOG" >&2; exit 1; }
quiet() { "$@" >>"$LOG" 2>&1; }
# diagnose NAMESPACE: what the pods of NAMESPACE did, into the log (the end of each container's own log).
diagnose() {
  {
    echo "--- pods and events in $1"
    kubectl -n "$1" get pods -o wide
    kubectl -n "$1" get events --sort-by=.lastTimestamp | tail -n 30
    for pod in $(kubectl -n "$1" get pods -o jsonpath='{.items[*].metadata.name}'); do
      echo "--- the end of pod $pod's log"
      tail -n 40 "$("$clickcast" dev cluster logs --name "$CLUSTER" -n "$1" "$pod" --path)"
    done
  } >>"$LOG" 2>&1 || true
}

store_args=() demo_args=()
if [ "$RUNTIME" = containers ] && [ -z "${IMAGES_BUILT:-}" ]; then  # IMAGES_BUILT=1: `make images` ran already
  say "building the images (make images: podman, layers cached)"
  quiet bash hack/build-images.sh || die "the images did not build"
fi
say "starting cluster $CLUSTER with its workload runner ($RUNTIME)"
quiet "$clickcast" dev cluster up --name "$CLUSTER" --runtime "$RUNTIME" || die "the cluster did not start"
KUBECONFIG="$("$clickcast" dev cluster kubeconfig --name "$CLUSTER")"
export KUBECONFIG
helm="$(bash hack/build-helm.sh 2>>"$LOG" | tail -n1)"
[ -x "$helm" ] || die "no helm (make helm builds it)"

if [ "$RUNTIME" = containers ]; then
  say "starting MinIO (the lake and the model store); its credentials go into Secrets only"
  quiet "$clickcast" dev objectstore up --dir "$DEMO/objectstore" || die "MinIO did not start"
  kubectl create namespace clickcast-system --dry-run=client -o yaml 2>>"$LOG" | quiet kubectl apply -f - ||
    die "cannot create namespace clickcast-system"
  kubectl -n clickcast-system create secret generic clickcast-store --from-file="$DEMO/objectstore/credentials" \
    --dry-run=client -o yaml 2>>"$LOG" | quiet kubectl apply -f - || die "cannot create the operator's store Secret"
  say "starting a Git server (GitOps promotions over HTTP); its credentials go into a Secret only"
  quiet "$clickcast" dev gitserver up --dir "$DEMO/git" || die "the Git server did not start"
  store_args=(--set operator.storeCredentialsSecret=clickcast-store --set 'operator.gitSchemes={https,ssh,http}')
  demo_args=(--object-store "$DEMO/objectstore" --git-remote "$DEMO/git")
fi

if [ "$RUNTIME" = containers ]; then from="the operator image"; else from=".venv"; fi
say "installing the chart (the operator pod runs \`clickcast operator\` from $from as ServiceAccount clickcast)"
quiet "$helm" upgrade --install clickcast charts/clickcast --namespace clickcast-system --create-namespace \
  "${store_args[@]}" --wait --timeout 3m || { diagnose clickcast-system; die "helm install failed"; }
say "helm test: a pod finds ClickModel served by the API server and the operator healthy through its Service"
quiet "$helm" test clickcast --namespace clickcast-system --timeout 2m || { diagnose clickcast-system; die "helm test failed"; }

kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml 2>>"$LOG" | quiet kubectl apply -f - ||
  die "cannot create namespace $NAMESPACE"
# The chart's admission policy lets a ClickModel name only the Secrets its namespace lists (a platform team's
# annotation, which tenants cannot edit): here the object store's credentials the demo creates.
quiet kubectl annotate namespace "$NAMESPACE" --overwrite clickcast.io/secrets=clickcast-demo-storage,clickcast-gitops ||
  die "cannot annotate namespace $NAMESPACE"
# The story (clickcast.demo.cluster): a first version trained by a Job's Spark and served by two pods, then
# the moved market's clicks, a retrain, a shadow canary (the stable pods mirror to the canary's Service)
# judged on each next day's real clicks, and the operator's promotion. Each phase prints as it is entered.
# shellcheck disable=SC2094 # both only append to the log
"$clickcast" demo --cluster --namespace "$NAMESPACE" --dir "$DEMO" --rows "${ROWS:-60000}" "${demo_args[@]}" 2>>"$LOG" |
  tee -a "$LOG" || { diagnose "$NAMESPACE"; diagnose clickcast-system; die "the demo on the cluster failed"; }
kubectl -n "$NAMESPACE" get clickmodel "$MODEL"
kubectl -n "$NAMESPACE" get pods -o wide | tee -a "$LOG"
ip="$(kubectl -n "$NAMESPACE" get pods -l "clickcast.io/model=$MODEL,clickcast.io/role=stable" \
  -o jsonpath='{.items[0].status.podIP}')"
[ -n "$ip" ] || die "no stable pod"
offer='{"date":"2026-01-05","categoryId":"3","merchantId":"101","category":"shoes","device":"mobile","price":10.5}'
echo "curl -s http://$ip:3000/predict -H 'content-type: application/json' -d '$offer'"
answer="$(curl -sS --max-time 10 "http://$ip:3000/predict" -H 'content-type: application/json' -d "$offer" 2>>"$LOG")" \
  || die "the stable pod at $ip did not answer"
echo "$answer"
case "$answer" in *predictedClicks*) ;; *) die "no prediction from the stable pod: $answer" ;; esac

pod="$(kubectl -n clickcast-system get pods -l app.kubernetes.io/name=clickcast -o jsonpath='{.items[0].metadata.name}')"
oplog="$("$clickcast" dev cluster logs --name "$CLUSTER" -n clickcast-system "$pod" --path)"
if grep -qi forbidden "$oplog"; then
  die "the operator was refused something by its RBAC: $(grep -i -m1 forbidden "$oplog")"
fi
say "done: the cluster keeps running (operator log: $oplog); stop it with: $clickcast dev cluster down --name $CLUSTER"
