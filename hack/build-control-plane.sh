#!/usr/bin/env bash
# Builds the real Kubernetes control plane that weft's tests and demo run against:
# kube-apiserver, kube-controller-manager and kubectl at a pinned release, kwok, and etcd.
# Everything comes from the Go module proxy (or Debian for etcd when its version is recent enough)
# and is cached in $WEFT_CACHE (default ~/.cache/weft) so a second run returns in a second.
#
# Usage: hack/build-control-plane.sh            prints the bin directory on the last line
set -euo pipefail
# shellcheck source=hack/lib/k8s-commands.sh
. "$(dirname "$0")/lib/k8s-commands.sh"

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

# --- kube-apiserver, kube-controller-manager, kubectl --------------------------------------------
if [ ! -x "$BIN/kube-apiserver" ] || [ ! -x "$BIN/kube-controller-manager" ] || [ ! -x "$BIN/kubectl" ]; then
  log "building kube-apiserver, kube-controller-manager, kubectl $K8S_VERSION (first run: ~15-25 min on 2 cores)"
  build_k8s_commands "$WORK/kubernetes-$K8S_VERSION" weft.dev/hack/controlplane "$BIN" kube-apiserver kube-controller-manager kubectl
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
