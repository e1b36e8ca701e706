#!/usr/bin/env bash
# Builds the real Kubernetes control plane that weft's tests and demo run against:
# kube-apiserver, kube-controller-manager and kubectl at a pinned release, kwok, and etcd.
# Everything comes from the Go module proxy (or Debian for etcd when its version is recent enough)
# and is cached in $WEFT_CACHE (default ~/.cache/weft) so a second run returns in a second.
#
# Usage: hack/build-control-plane.sh            prints the bin directory on the last line
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"     # the etcd client version that K8S_VERSION itself pins
ETCD_MIN_DEBIAN="3.5.0"                    # Kubernetes >= 1.31 needs etcd 3.5+; older Debian builds are skipped
CACHE="${WEFT_CACHE:-$HOME/.cache/weft}"
BIN="$CACHE/k8s-$K8S_VERSION/bin"
WORK="$CACHE/build"
mkdir -p "$BIN" "$WORK"

log() { printf '[control-plane] %s\n' "$*" >&2; }
have_all() { for b in kube-apiserver kube-controller-manager kubectl kwok etcd; do [ -x "$BIN/$b" ] || return 1; done; }

if have_all; then echo "$BIN"; exit 0; fi
command -v go >/dev/null || { log "go is required (the Go toolchain builds the control plane)"; exit 1; }

export GOFLAGS="-buildvcs=false -mod=mod"
export CGO_ENABLED=0
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
staging_version="v0.${K8S_VERSION#v1.}"

# --- kube-apiserver, kube-controller-manager, kubectl --------------------------------------------
if [ ! -x "$BIN/kube-apiserver" ] || [ ! -x "$BIN/kube-controller-manager" ] || [ ! -x "$BIN/kubectl" ]; then
  mod="$WORK/kubernetes-$K8S_VERSION"
  mkdir -p "$mod"
  log "building kube-apiserver, kube-controller-manager, kubectl $K8S_VERSION (first run: ~15-25 min on 2 cores)"
  (
    cd "$mod"
    cat > go.mod <<GOMOD
module weft.dev/hack/controlplane

go 1.26

require k8s.io/kubernetes $K8S_VERSION
GOMOD
    cat > tools.go <<'GO'
//go:build tools

// Package tools pins the control-plane commands so `go mod tidy` resolves their dependencies.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local paths, which a
    # dependent module does not inherit; point each at its published v0.x release instead.
    curl -fsSL "${GOPROXY_URL:-https://proxy.golang.org}/k8s.io/kubernetes/@v/$K8S_VERSION.mod" -o upstream.mod 2>/dev/null \
      || go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
    [ -s upstream.mod ] || cp "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod" upstream.mod
    for m in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) v0\.0\.0$#\1#p' upstream.mod); do
      go mod edit -replace "$m=$m@$staging_version"
    done
    go mod tidy -e >/dev/null 2>tidy.log || { cat tidy.log >&2; exit 1; }
    ldflags="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags="$ldflags -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    done
    go build -trimpath -ldflags "$ldflags" -o "$BIN/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl
  )
fi

# --- kwok (simulated nodes for scale tests) ---------------------------------------------------------
if [ ! -x "$BIN/kwok" ]; then
  log "building kwok $KWOK_VERSION"
  GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
fi

# --- etcd -------------------------------------------------------------------------------------------
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
if [ ! -x "$BIN/etcd" ]; then
  debian=""
  if command -v apt-cache >/dev/null; then
    debian=$(apt-cache policy etcd-server 2>/dev/null | sed -n 's/^\s*Candidate: \([0-9.]*\).*/\1/p')
  fi
  if [ -n "$debian" ] && version_ge "$debian" "$ETCD_MIN_DEBIAN"; then
    log "installing etcd $debian from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
    ln -sf "$(command -v etcd)" "$BIN/etcd"
  else
    log "Debian's etcd (${debian:-none}) is older than $ETCD_MIN_DEBIAN: building etcd $ETCD_VERSION"
    emod="$WORK/etcd-$ETCD_VERSION"
    mkdir -p "$emod"
    (
      cd "$emod"
      printf 'module weft.dev/hack/etcd\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > go.mod
      cat > main.go <<'GO'
// Command etcd is etcd's own entry point, built from its published server module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
      go mod tidy >/dev/null 2>tidy.log || { cat tidy.log >&2; exit 1; }
      go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" .
    )
  fi
fi

have_all || { log "some binaries are missing in $BIN"; exit 1; }
log "control plane ready in $BIN"
echo "$BIN"
