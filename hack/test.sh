#!/usr/bin/env bash
# `make test`: set up, build the tools, lint and run the whole suite, overlapping
# whatever waits on something else, then print how long each phase took.
#
#   tools   the Go builds (control plane, MinIO, helm) start first, in the
#           background: the tests that need them ask the same build scripts,
#           which hold a lock, so they wait for the build instead of racing it
#           (a no-op once ~/.cache/clickcast is warm)
#   prepare .venv from uv.lock, the Debian tools (Chromium, shellcheck, podman), the
#           S3A jars and the Gateway API CRDs, side by side (downloads)
#   lint    ruff, mypy and the import layers, in the background
#   images  the three images (hack/build-images.sh: podman, layers cached), in the background once podman is
#           there: the container test asks the same script, which holds a lock
#   tests   pytest with one worker per CLICKCAST_TEST_WORKERS (pytest-xdist)
#
# Everything runs: a failure of any phase fails the run, after every phase ended.
set -uo pipefail
cd "$(dirname "$0")/.."

UV="${UV:-$(command -v uv || echo "$HOME/.local/bin/uv")}"
RUN=("$UV" run --frozen --no-sync)
WORKERS="${CLICKCAST_TEST_WORKERS:-2}"
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/clickcast-test-XXXXXX")"
START=$SECONDS
EPOCH=$(date +%s)

declare -A PID BEGAN ENDED RC
PHASES=(setup debian-tools spark-jars gateway-api control-plane minio helm images lint tests)
say() { printf '[test %(%H:%M:%S)T] %s\n' -1 "$*"; }

# start NAME CMD...: run CMD in the background, its output in $LOGS/NAME.log.
start() {
  local name=$1; shift
  BEGAN[$name]=$((SECONDS - START))
  # The phase's own end is written when it ends: finish may be called much later.
  ( "$@" >"$LOGS/$name.log" 2>&1; rc=$?; echo $(($(date +%s) - EPOCH)) >"$LOGS/$name.end"; exit $rc ) &
  PID[$name]=$!
}

# finish NAME: wait for it; on failure, show the end of its log.
finish() {
  local name=$1
  wait "${PID[$name]}"; RC[$name]=$?
  ENDED[$name]=$(cat "$LOGS/$name.end" 2>/dev/null || echo $((SECONDS - START)))
  if [ "${RC[$name]}" -ne 0 ]; then
    say "$name failed (exit ${RC[$name]}); the end of $LOGS/$name.log:"
    tail -n 60 "$LOGS/$name.log"
  fi
}

say "logs in $LOGS"
start control-plane bash hack/build-control-plane.sh
start minio bash hack/build-minio.sh
start helm bash hack/build-helm.sh

start setup "$UV" sync --frozen --all-extras
start debian-tools make --no-print-directory chromium shellcheck container-tools
start spark-jars bash hack/fetch-spark-jars.sh
start gateway-api bash hack/fetch-gateway-api-crds.sh
for phase in setup debian-tools spark-jars gateway-api; do finish "$phase"; done
say "prepared in $((SECONDS - START)) s"
if [ "${RC[debian-tools]}" -eq 0 ]; then start images bash hack/build-images.sh; else RC[images]=1; fi

if [ "${RC[setup]}" -eq 0 ]; then
  start lint make --no-print-directory lint
  BEGAN[tests]=$((SECONDS - START))
  "${RUN[@]}" pytest -n "$WORKERS" --dist loadscope "$@"
  RC[tests]=$?
  ENDED[tests]=$((SECONDS - START))
  [ "${RC[tests]}" -eq 5 ] && { say "no tests collected"; RC[tests]=0; }
  finish lint
else
  RC[tests]=1 RC[lint]=1
fi
for phase in control-plane minio helm; do finish "$phase"; done
[ -n "${PID[images]:-}" ] && finish images

echo
say "phases (seconds from the start of make test)"
printf '  %-14s %6s %6s %8s  %s\n' phase start end seconds result
for phase in "${PHASES[@]}"; do
  b="${BEGAN[$phase]:--}" e="${ENDED[$phase]:--}"
  if [ "$b" = - ] || [ "$e" = - ]; then d=-; else d=$((e - b)); fi
  if [ "${RC[$phase]:-1}" -eq 0 ]; then r=ok; else r="FAILED (${RC[$phase]:-not run})"; fi
  printf '  %-14s %6s %6s %8s  %s\n' "$phase" "$b" "$e" "$d" "$r"
done
say "make test took $((SECONDS - START)) s"

for phase in "${PHASES[@]}"; do
  [ "${RC[$phase]:-1}" -eq 0 ] || exit 1
done
