#!/usr/bin/env bash
# The images weft's examples and e2e suite run, for clusters with a container runtime (kind, k3d, k3s, a cloud):
# weft:0.1.0 from the Dockerfile, and weft-examples/<app>:<tag> from examples/apps/Dockerfile, which runs
# examples/apps/<app>.ts with APP_VERSION=<tag> (the local node's convention, baked into the image).
#   hack/build-images.sh           build them with the docker CLI (then e.g. `kind load docker-image ...`)
#   hack/build-images.sh --list    print their names
set -euo pipefail
cd "$(dirname "$0")/.."

# Literal references in examples/ and the e2e manifests, plus the ones the e2e manifests build from a version.
mapfile -t found < <(grep -rhoE 'weft-examples/[a-z0-9-]+:[a-z0-9.]+' examples test/e2e | sort -u)
templated=(weft-examples/httpbin:a weft-examples/httpbin:b weft-examples/httpbin:tls)
mapfile -t examples < <(printf '%s\n' "${found[@]}" "${templated[@]}" | sort -u)

if [ "${1:-}" = --list ]; then
  printf '%s\n' weft:0.1.0 "${examples[@]}"
  exit 0
fi

docker build -t weft:0.1.0 .
for image in "${examples[@]}"; do
  app=${image#weft-examples/}
  app=${app%%:*}
  tag=${image##*:}
  docker build -f examples/apps/Dockerfile --build-arg "APP=$app" --build-arg "VERSION=$tag" -t "$image" .
done
