# One image for the operator (with its admission webhook), weftctl and, later, the sidecar.
#   docker build -t weft:0.1.0 .
#   docker run --rm weft:0.1.0 help
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# package.json carries the version weftctl prints; crds/ holds the schemas weftctl validates against.
COPY package.json ./
COPY crds ./crds
# Not 1337: that UID is the sidecar's, whose traffic the iptables rules exempt from capture.
USER 65532:65532
ENTRYPOINT ["node", "dist/cli/weft.js"]
CMD ["operator"]
