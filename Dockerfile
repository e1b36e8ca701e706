# One image for the operator (with its admission webhook), weftctl and the sidecar (`weft proxy`).
#   docker build -t weft:0.1.0 .
#   docker run --rm weft:0.1.0 help
# The sidecar container runs `node <SIDECAR_NODE_FLAGS> dist/cli/weft.js proxy ...` (flags: src/proxy/node-flags.ts).
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# The sidecar's SO_ORIGINAL_DST addon (native/original-dst). It uses Node-API only, so it compiles against the
# headers the Node image ships in /usr/local/include/node with the C compiler of the full image (what
# hack/build-addon.sh does through node-gyp, without fetching anything); symbols resolve from node when loaded.
FROM node:24-bookworm AS addon
WORKDIR /src
COPY native/original-dst/src ./native/original-dst/src
RUN mkdir -p native/original-dst/build/Release \
 && cc -shared -fPIC -O2 -Wall -Wextra -DNAPI_VERSION=8 -I/usr/local/include/node \
      -o native/original-dst/build/Release/original_dst.node native/original-dst/src/original_dst.c

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
# iptables: the injected weft-init container runs this image to install the pod's traffic redirection.
RUN apt-get update && apt-get install -y --no-install-recommends iptables && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# dist/proxy/net/original-dst.js loads it from ../../../native/original-dst/build/Release, i.e. /app/native/...
COPY --from=addon /src/native/original-dst/build/Release/original_dst.node ./native/original-dst/build/Release/original_dst.node
# package.json carries the version weftctl prints; crds/ holds the schemas weftctl validates against.
COPY package.json ./
COPY crds ./crds
# Not 1337: that UID is the sidecar's, whose traffic the iptables rules exempt from capture.
USER 65532:65532
ENTRYPOINT ["node", "dist/cli/weft.js"]
CMD ["operator"]
