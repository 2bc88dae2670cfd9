#!/usr/bin/env bash
# The main job, end to end on this machine (what `make demo` runs):
#   validate the sample ClickModels -> generate click data -> train on Spark (XGBoost vs the GLM
#   baseline, time-based holdout) -> batch-score -> serve the version over HTTP and predict ->
#   evaluate the logged predictions against the real clicks.
# Everything lands in $DEMO_DIR (default .demo/); nothing needs a cluster or a network.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO_DIR="$(realpath -m "${DEMO_DIR:-.demo}")"
ROWS="${DEMO_ROWS:-200000}"
CC=".venv/bin/clickcast"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -rf "$DEMO_DIR" && mkdir -p "$DEMO_DIR"
step "validate the sample ClickModels (same rules as the CRD)"
$CC validate manifests/samples/*.yaml

step "generate $ROWS rows of click data (60 days, long-tailed offers, weekly seasonality)"
$CC data generate --rows "$ROWS" --days 60 --seed 1 --out "file://$DEMO_DIR/clicks"

step "train: learn on the past, test on the newest 7 days; publish an immutable, checksummed version"
$CC train --data "file://$DEMO_DIR/clicks" --store "file://$DEMO_DIR/store" --name offers \
  --master 'local[2]' --output "$DEMO_DIR/train.json" 2> "$DEMO_DIR/train.log"
URI="$(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["uri"])' "$DEMO_DIR/train.json")"

step "batch-score the dataset with that version"
$CC score --model "$URI" --data "file://$DEMO_DIR/clicks" --out "file://$DEMO_DIR/scored" --master 'local[2]' \
  2> "$DEMO_DIR/score.log"
.venv/bin/python - "$DEMO_DIR/scored" <<'PY'
import sys, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print(f"{t.num_rows} rows scored; predicted {sum(t.column('predicted').to_pylist()):,.0f} clicks "
      f"vs {sum(t.column('clicks').to_pylist()):,} real")
PY

step "serve the version over HTTP (BentoML) and predict"
PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
$CC serve --model "$URI" --port "$PORT" --prediction-log "file://$DEMO_DIR/predictions" --flush-interval 1s \
  > "$DEMO_DIR/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 120); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.5; done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "service did not become ready:"; tail -5 "$DEMO_DIR/serve.log"; exit 1; }
.venv/bin/python - "$PORT" "$DEMO_DIR/clicks" <<'PY'
import sys, httpx, pyarrow.parquet as pq
port, data = sys.argv[1], sys.argv[2]
rows = pq.read_table(data).to_pylist()[-2000:]
offers = [{k: (str(r[k]) if k != "price" else r[k]) for k in ("date", "categoryId", "merchantId", "category", "device", "price")} for r in rows]
one = httpx.post(f"http://127.0.0.1:{port}/predict", json=offers[0]).json()
print("POST /predict ->", one)
batch = httpx.post(f"http://127.0.0.1:{port}/predict/batch", json={"offers": offers}, timeout=30).json()
print(f"POST /predict/batch -> {len(batch['predictedClicks'])} predictions from {batch['modelVersion']}")
bad = httpx.post(f"http://127.0.0.1:{port}/predict", json={**offers[0], "device": "fridge"})
print("a bad request ->", bad.status_code, bad.text[:160])
PY
kill -TERM $SERVER && wait $SERVER || true
trap - EXIT

step "evaluate the logged predictions against the real clicks"
$CC evaluate --predictions "file://$DEMO_DIR/predictions" --actuals "file://$DEMO_DIR/clicks" \
  --out "file://$DEMO_DIR/evaluation" --master 'local[2]' 2> "$DEMO_DIR/evaluate.log"
.venv/bin/python -c "import sys; print(''.join(open(sys.argv[1]).readlines()[:30]), end='')" "$DEMO_DIR/evaluation/metrics.json"  # no pipe: head would make it fail under pipefail
printf '\nAll outputs are in %s\n' "$DEMO_DIR"
