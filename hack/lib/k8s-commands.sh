# Sourced by hack/build-control-plane.sh and hack/build-node.sh: builds commands of k8s.io/kubernetes at
# $K8S_VERSION from the Go module proxy through a small wrapper module (k8s.io/kubernetes is not meant to be
# required, so its staging modules, pinned at v0.0.0 and replaced by local paths a dependent module does not
# inherit, are pointed at their published v0.x releases), with the version stamped as a release build stamps it.
#   build_k8s_commands <module dir> <module path> <bin dir> <command>...   e.g. ... kubelet kube-proxy
# Needs GOFLAGS=-mod=mod (and CGO_ENABLED as the caller wants) in the environment.
build_k8s_commands() {
  local mod=$1 name=$2 bin=$3
  shift 3
  local minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local staging_version="v0.${K8S_VERSION#v1.}"
  local pkgs=()
  for c in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  mkdir -p "$mod"
  (
    cd "$mod"
    printf 'module %s\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n' "$name" "$K8S_VERSION" > go.mod
    {
      printf '//go:build tools\n\n// Package tools pins the commands so `go mod tidy` resolves their dependencies.\npackage tools\n\nimport (\n'
      for p in "${pkgs[@]}"; do printf '\t_ "%s"\n' "$p"; done
      printf ')\n'
    } > tools.go
    curl -fsSL "${GOPROXY_URL:-https://proxy.golang.org}/k8s.io/kubernetes/@v/$K8S_VERSION.mod" -o upstream.mod 2>/dev/null \
      || go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
    [ -s upstream.mod ] || cp "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod" upstream.mod
    for m in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) v0\.0\.0$#\1#p' upstream.mod); do
      go mod edit -replace "$m=$m@$staging_version"
    done
    go mod tidy -e >/dev/null 2>tidy.log || { cat tidy.log >&2; exit 1; }
    local ldflags="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags="$ldflags -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    done
    go build -trimpath -ldflags "$ldflags" -o "$bin/" "${pkgs[@]}"
  )
}
