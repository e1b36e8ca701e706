#!/usr/bin/env sh
# Runs before `npm test` and `npm run demo` (npm's pre-scripts) so that a fresh machine needs nothing else:
# installs the npm dependencies (which bring the pinned Node 24) when missing or stale, and builds or
# reuses the cached Kubernetes control-plane binaries.
set -eu
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[deps] installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
bash hack/build-control-plane.sh >/dev/null
bash hack/build-addon.sh >/dev/null || echo "[deps] the SO_ORIGINAL_DST addon did not build: capture mode (--capture iptables) needs it" >&2
# Real nodes of the local cluster (kubelet, kube-proxy, kube-scheduler, CoreDNS, pause; containerd from Debian).
bash hack/build-node.sh >/dev/null || echo "[deps] the node binaries did not build: the local cluster's real nodes cannot start" >&2
