#!/usr/bin/env bash
# Builds what a real Kubernetes node of weft's local cluster runs: kubelet, kube-proxy and kube-scheduler at the
# control plane's pinned release, a small CoreDNS (only the plugins cluster DNS needs), and the kubelet's own
# pause binary; installs containerd, runc, the CNI plugins, conntrack, iptables and a static busybox from Debian.
# Go builds come from the Go module proxy and are cached in $WEFT_CACHE (default ~/.cache/weft), so a second
# run returns in a second.
#
# Usage: hack/build-node.sh            prints the bin directory on the last line
set -euo pipefail
# shellcheck source=hack/lib/k8s-commands.sh
. "$(dirname "$0")/lib/k8s-commands.sh"

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"
PAUSE_VERSION="${PAUSE_VERSION:-3.10}"
CACHE="${WEFT_CACHE:-$HOME/.cache/weft}"
BIN="$CACHE/k8s-$K8S_VERSION/bin"
WORK="$CACHE/build"
APT_PACKAGES="containerd runc containernetworking-plugins conntrack iptables busybox-static"
mkdir -p "$BIN" "$WORK"

log() { printf '[node] %s\n' "$*" >&2; }
go_bins="kubelet kube-proxy kube-scheduler coredns"
have_go() { for b in $go_bins; do [ -x "$BIN/$b" ] || return 1; done; }
have_pause() { [ -x "$BIN/pause" ]; }
have_debs() {
  for c in containerd runc conntrack iptables busybox; do command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || return 1; done
  [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/loopback ]
}

if have_go && have_pause && have_debs; then echo "$BIN"; exit 0; fi

# Debian 12's containerd is 1.6: kubelet 1.36 runs on it (falling back from the RuntimeConfig CRI call, which
# arrived in containerd 1.7), but containerd 1.6 support ends with Kubernetes 1.37.
# --- Debian packages ----------------------------------------------------------------------------------
if ! have_debs; then
  log "installing $APT_PACKAGES from Debian"
  # Installing containerd must not leave a system containerd running: every node runs its own. policy-rc.d
  # stops the package's postinst from starting services; the unit is also disabled for later boots.
  prc=/usr/sbin/policy-rc.d
  own_prc=""
  if [ ! -e "$prc" ]; then printf '#!/bin/sh\nexit 101\n' > "$prc"; chmod +x "$prc"; own_prc=1; fi
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  if ! apt-get install -y -qq --no-install-recommends $APT_PACKAGES >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $APT_PACKAGES >/dev/null
  fi
  [ -n "$own_prc" ] && rm -f "$prc"
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now containerd >/dev/null 2>&1 || true
  fi
  have_debs || { log "Debian packages did not install: $APT_PACKAGES"; exit 1; }
fi

command -v go >/dev/null || { log "go is required (the Go toolchain builds the node binaries)"; exit 1; }
export GOFLAGS="-buildvcs=false -mod=mod"
export CGO_ENABLED=0

# --- kubelet, kube-proxy, kube-scheduler ------------------------------------------------------------
if [ ! -x "$BIN/kubelet" ] || [ ! -x "$BIN/kube-proxy" ] || [ ! -x "$BIN/kube-scheduler" ]; then
  log "building kubelet, kube-proxy, kube-scheduler $K8S_VERSION (first run: ~10-15 min on 2 cores)"
  build_k8s_commands "$WORK/kubernetes-node-$K8S_VERSION" weft.dev/hack/node "$BIN" kubelet kube-proxy kube-scheduler
fi

# --- CoreDNS with only the plugins cluster DNS uses -------------------------------------------------
if [ ! -x "$BIN/coredns" ]; then
  cmod="$WORK/coredns-$COREDNS_VERSION"
  mkdir -p "$cmod"
  log "building CoreDNS $COREDNS_VERSION (cluster-DNS plugins only)"
  (
    cd "$cmod"
    printf 'module weft.dev/hack/coredns\n\ngo 1.26\n\nrequire github.com/coredns/coredns %s\n' "$COREDNS_VERSION" > go.mod
    cat > main.go <<'GO'
// Command coredns is CoreDNS with the plugins a Kubernetes cluster's DNS needs and nothing else, so the
// binary stays small and builds quickly.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/whoami"
)

// The order plugins run in, a subset of CoreDNS's own plugin.cfg order.
var directives = []string{
	"reload", "ready", "health", "errors", "log", "loadbalance", "cache", "hosts", "kubernetes", "loop",
	"forward", "whoami",
}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
GO
    go mod tidy >/dev/null 2>tidy.log || { cat tidy.log >&2; exit 1; }
    go build -trimpath -ldflags "-s -w" -o "$BIN/coredns" .
  )
fi

# --- pause (the sandbox's init process, from the kubelet's own source) ------------------------------
if ! have_pause; then
  src="$(go env GOMODCACHE)/k8s.io/kubernetes@$K8S_VERSION/build/pause/linux/pause.c"
  [ -f "$src" ] || (cd "$WORK" && go mod download "k8s.io/kubernetes@$K8S_VERSION" >/dev/null)
  log "compiling pause $PAUSE_VERSION"
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-weft" -o "$BIN/pause.tmp" "$src"
  strip "$BIN/pause.tmp" && mv "$BIN/pause.tmp" "$BIN/pause"
fi

have_go && have_pause || { log "some binaries are missing in $BIN"; exit 1; }
log "node binaries ready in $BIN"
echo "$BIN"
