#!/usr/bin/env bash
# The images weft's examples and e2e suite run: weft:0.1.0 from the Dockerfile, and weft-examples/<app>:<tag> from
# examples/apps/Dockerfile, which runs examples/apps/<app>.ts with APP_VERSION=<tag> (baked into the image).
#   hack/build-images.sh           build them without a registry or a Docker engine (buildah, on node:24-bookworm*
#                                  base images made locally; hack/images/index.ts) into OCI archives under
#                                  ~/.cache/weft/images, rebuilding only what changed, and print the archives' paths;
#                                  then e.g. `ctr -n k8s.io images import <archive>` or `kind load image-archive`
#   hack/build-images.sh --list    print their names
# With a Docker engine, `docker build` of the same Dockerfiles works as well (see their headers).
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

export PATH="$PWD/node_modules/.bin:$PATH"
exec node hack/images/index.ts
