#!/usr/bin/env bash
# make cluster-demo: the whole product on the local control plane, no Docker. The workload runner of
# `clickcast dev cluster up` runs every pod as local processes from this checkout: the operator (installed
# with the chart, acting as the chart's ServiceAccount), the training Job's Spark, the serving pods on
# their own 127.1.x.y addresses. Prints each phase of a sample ClickModel until Serving, then a prediction
# from the stable pod. The cluster stays up: `clickcast dev cluster down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${CLICKCAST_CLUSTER:-clickcast}"
DEMO="${DEMO_DIR:-$PWD/.cluster-demo}"
NAMESPACE="${NAMESPACE:-clickcast-demo}"
TIMEOUT="${TIMEOUT:-600}"
MODEL=offers-minimal
LOG="$DEMO/cluster-demo.log"
clickcast="${CLICKCAST:-$PWD/.venv/bin/clickcast}"

mkdir -p "$DEMO"
: >"$LOG"
say() { printf '[cluster-demo %(%H:%M:%S)T] %s\n' -1 "$*" | tee -a "$LOG" >&2; }
die() { printf 'cluster-demo: %s (log: %s)\n' "$*" "$LOG" >&2; exit 1; }
quiet() { "$@" >>"$LOG" 2>&1; }

say "starting cluster $CLUSTER with its workload runner"
quiet "$clickcast" dev cluster up --name "$CLUSTER" || die "the cluster did not start"
KUBECONFIG="$("$clickcast" dev cluster kubeconfig --name "$CLUSTER")"
export KUBECONFIG
helm="$(bash hack/build-helm.sh 2>>"$LOG" | tail -n1)"
[ -x "$helm" ] || die "no helm (make helm builds it)"

say "installing the chart (the operator pod runs \`clickcast operator\` from .venv as ServiceAccount clickcast)"
quiet "$helm" upgrade --install clickcast charts/clickcast --namespace clickcast-system --create-namespace \
  --wait --timeout 3m || die "helm install failed"
say "helm test: a pod finds ClickModel served by the API server and the operator healthy through its Service"
quiet "$helm" test clickcast --namespace clickcast-system --timeout 2m || die "helm test failed"

say "generating sample clicks into $DEMO/clicks"
if [ ! -d "$DEMO/clicks" ]; then
  quiet "$clickcast" data generate --out "file://$DEMO/clicks" --rows 20000 --days 42 --seed 11 \
    --merchants 300 --categories 60 || die "generating the data failed"
fi

# manifests/samples/clickmodel-minimal.yaml, with this demo's paths and a small, quick training.
cat >"$DEMO/clickmodel.yaml" <<YAML
apiVersion: clickcast.io/v1alpha1
kind: ClickModel
metadata:
  name: $MODEL
spec:
  data:
    url: file://$DEMO/clicks
    window: {trainDays: 35, testDays: 7}
  store:
    url: file://$DEMO/store
  features: {minCategoryCount: 3}
  algorithm:
    xgboost: {numRounds: 30}
  training:
    master: local[2]
    driver: {cpu: "1", memory: 1Gi}
  serving:
    replicas: 2
YAML
quiet "$clickcast" validate "$DEMO/clickmodel.yaml" || die "the sample ClickModel is invalid"
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml 2>>"$LOG" | quiet kubectl apply -f - ||
  die "cannot create namespace $NAMESPACE"
quiet kubectl -n "$NAMESPACE" delete clickmodel "$MODEL" --ignore-not-found --wait
quiet kubectl -n "$NAMESPACE" apply -f "$DEMO/clickmodel.yaml" || die "kubectl apply of the ClickModel failed"

say "following ClickModel $NAMESPACE/$MODEL (kubectl get clickmodel -w, each new phase)"
# Every status change streams in; print each phase once, as it is entered.
# shellcheck disable=SC2094 # both only append to the log
timeout "$TIMEOUT" kubectl -n "$NAMESPACE" get clickmodel "$MODEL" -w -o jsonpath='{.status.phase}{"\n"}' 2>>"$LOG" |
  while read -r phase; do
    if [ -n "$phase" ] && [ "$phase" != "${last:-}" ]; then
      printf '[cluster-demo %(%H:%M:%S)T] phase: %s\n' -1 "$phase" | tee -a "$LOG"
      last="$phase"
    fi
  done &
watcher=$!
trap 'kill "$watcher" 2>/dev/null || true' EXIT
deadline=$((SECONDS + TIMEOUT))
while :; do
  phase="$(kubectl -n "$NAMESPACE" get clickmodel "$MODEL" -o jsonpath='{.status.phase}' 2>>"$LOG" || true)"
  case "$phase" in
    Serving) break ;;
    Failed) kubectl -n "$NAMESPACE" describe clickmodel "$MODEL" >>"$LOG" 2>&1; die "ClickModel $MODEL failed" ;;
  esac
  ((SECONDS < deadline)) || die "ClickModel $MODEL did not reach Serving within ${TIMEOUT}s (last phase: ${phase:-none})"
  sleep 3
done
sleep 1
kill "$watcher" 2>/dev/null || true
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
