#!/usr/bin/env bash
# Builds the sidecar's native addon (native/original-dst: SO_ORIGINAL_DST over Node-API) with node-gyp.
# The addon uses Node-API only, so it needs no Node.js source headers or libraries: node-gyp is pointed at a
# small --nodedir made from the node-api-headers package (include/node/*.h and a minimal common.gypi), and never
# downloads anything from nodejs.org. node-gyp and node-api-headers are fetched with npm into
# ~/.cache/weft/addon-tools once; later runs reuse them and skip the build when the .node file is newer than
# every source file. Prints the path of the built module.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ADDON=native/original-dst
OUT=$ADDON/build/Release/original_dst.node
CACHE=${WEFT_CACHE:-$HOME/.cache/weft}/addon-tools
NODE_BIN_DIR=$ROOT/node_modules/.bin
export PATH="$NODE_BIN_DIR:$PATH"

fresh() {
  [ -f "$OUT" ] || return 1
  local newer
  newer=$(find "$ADDON/src" "$ADDON/binding.gyp" -newer "$OUT" -print -quit)
  [ -z "$newer" ]
}
if fresh && [ "${1:-}" != "--force" ]; then
  echo "$OUT"
  exit 0
fi

GYP=$CACHE/node_modules/node-gyp/bin/node-gyp.js
HEADERS=$CACHE/node_modules/node-api-headers/include
if [ ! -f "$GYP" ] || [ ! -f "$HEADERS/node_api.h" ]; then
  echo "[addon] fetching node-gyp@13 and node-api-headers@1 into $CACHE" >&2
  mkdir -p "$CACHE"
  npm install --prefix "$CACHE" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    node-gyp@13 node-api-headers@1 >&2
fi

# The --nodedir node-gyp compiles against: Node-API headers and the build settings addon.gypi expects.
NODEDIR=$CACHE/nodedir
mkdir -p "$NODEDIR/include/node"
cp "$HEADERS"/*.h "$NODEDIR/include/node/"
cat > "$NODEDIR/include/node/common.gypi" <<'GYPI'
{
  'variables': { 'node_shared': 'false', 'node_module_version': '', 'napi_build_version': '8' },
  'target_defaults': {
    'default_configuration': 'Release',
    'cflags': ['-fPIC', '-pthread'],
    'configurations': {
      'Release': { 'cflags': ['-O2'] },
      'Debug': { 'cflags': ['-g', '-O0'] },
    },
  },
}
GYPI
echo "{ 'variables': {} }" > "$NODEDIR/include/node/config.gypi"

echo "[addon] building $ADDON" >&2
# npm_config_nodedir from a user's npmrc must not override ours.
unset npm_config_nodedir NPM_CONFIG_NODEDIR || true
(cd "$ADDON" && node "$GYP" rebuild --nodedir="$NODEDIR" --loglevel=warn >&2)
touch "$OUT"
echo "$OUT"
