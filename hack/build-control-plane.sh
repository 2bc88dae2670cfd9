#!/usr/bin/env bash
# Build the local control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd, kwok, kwokctl) from Go modules and cache the
# binaries under $CLICKCAST_CACHE/bin/<versions>. Nothing is downloaded but Go
# modules from the module proxy. Re-running with a warm cache is a no-op.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
CACHE="${CLICKCAST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clickcast}"
BIN="${CLICKCAST_BIN_DIR:-$CACHE/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION}"
WORK="$CACHE/build"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--mod=mod}"

log() { printf '[build-control-plane %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

ALL=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok kwokctl)
cached=1; for c in "${ALL[@]}"; do [ -x "$BIN/$c" ] || cached=0; done
if [ "$cached" = 1 ]; then
  # Warm cache: no Go, no network, just the path (callers parse the last line).
  echo "$BIN"
  exit 0
fi
log "building into $BIN (once per version set; later runs are a no-op)"

command -v go >/dev/null || die "Go is not installed (need Go >= 1.24 on PATH; see https://go.dev/doc/install)"
# A test fixture may ask for this build while `make test` runs it in the background: one build at a
# time; whoever waited finds each binary built (every step below skips what is there).
mkdir -p "$CACHE"; exec 9>"$CACHE/.build-control-plane.lock"; flock 9
go env GOPROXY >/dev/null
curl -fsS -o /dev/null --max-time 20 "$(go env GOPROXY | cut -d, -f1)/k8s.io/kubernetes/@v/list" 2>/dev/null \
  || [ "$(go env GOPROXY | cut -d, -f1)" = "off" ] \
  || log "warning: the Go module proxy did not answer; the build needs it unless the module cache is warm"

trap 'die "build step failed at line $LINENO; check the output above and that the Go module proxy ($(go env GOPROXY)) is reachable"' ERR

mkdir -p "$BIN" "$WORK"

# build_scratch DIR MODULE@VERSION PKG... : a throwaway module that requires the
# given packages (their own go.mod replace directives are ignored by Go).
scratch() { rm -rf "$1"; mkdir -p "$1"; (cd "$1" && go mod init "clickcast.local/$(basename "$1")" >/dev/null 2>&1); }

if [ ! -x "$BIN/kwokctl" ] || [ ! -x "$BIN/kwok" ]; then
  log "building kwok + kwokctl $KWOK_VERSION"
  GOBIN="$BIN" go install -trimpath \
    -ldflags "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$K8S_VERSION" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  # -X silently ignores a variable that does not exist: check both took effect,
  # or kwokctl would default to (and try to download) another Kubernetes version.
  # (Captured first: `grep -q` closing the pipe early would fail the pipeline under pipefail.)
  out="$("$BIN/kwokctl" --version)"
  grep -q " $KWOK_VERSION " <<<"$out" || die "kwokctl does not report $KWOK_VERSION (ldflags consts.Version)"
  out="$("$BIN/kwokctl" create cluster --help)"
  grep -q "release/$K8S_VERSION/" <<<"$out" || die "kwokctl does not default to Kubernetes $K8S_VERSION (ldflags consts.KubeVersion)"
fi

if [ ! -x "$BIN/etcd" ]; then
  log "building etcd $ETCD_VERSION"
  d="$WORK/etcd"; scratch "$d"
  (cd "$d" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" \
     && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3 && mv "$BIN/etcd.tmp" "$BIN/etcd")
fi

K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler)
need=0; for c in "${K8S_CMDS[@]}"; do [ -x "$BIN/$c" ] || need=1; done
if [ "$need" = 1 ]; then
  log "resolving k8s.io/kubernetes $K8S_VERSION and its staging modules"
  d="$WORK/kubernetes"; scratch "$d"; cd "$d"
  gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION from the module proxy"
  staging="v0.${K8S_VERSION#v1.}"
  for m in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"); do
    go mod edit "-replace=$m=$m@$staging"
  done
  pkgs=(); for c in "${K8S_CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c@$K8S_VERSION"); done
  log "go get ${K8S_CMDS[*]} (downloads a few hundred modules the first time)"
  go get "${pkgs[@]}"
  minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  # One go build for the three commands: their shared packages compile once, and
  # compiling and linking overlap across both cores.
  log "building ${K8S_CMDS[*]} $K8S_VERSION (the slowest step: 5-10 minutes on 2 cores)"
  out="$(mktemp -d "$BIN/.build-XXXXXX")"
  go build -trimpath -ldflags "$ld" -o "$out/" "${K8S_CMDS[@]/#/k8s.io/kubernetes/cmd/}"
  for c in "${K8S_CMDS[@]}"; do mv "$out/$c" "$BIN/$c"; done
  rmdir "$out"
fi

log "binaries ready in $BIN"
echo "$BIN"
