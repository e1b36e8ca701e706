#!/bin/sh
# Fetches the proxy bench's load generator and C baseline without installing anything: wrk and nginx (the binary
# of Debian's nginx-light), plus the shared libraries they need that this machine lacks (LuaJIT for wrk), as
# Debian packages with `apt-get download`, unpacked with `dpkg -x` into ${WEFT_BENCH_TOOLS:-~/.cache/weft/bench-tools}.
# The bench runs the binaries from there with LD_LIBRARY_PATH pointing at the unpacked libraries.
# Idempotent: a complete tree (the `.complete` marker) returns at once. Prints the tree's path on stdout.
set -eu

DEST="${WEFT_BENCH_TOOLS:-$HOME/.cache/weft/bench-tools}"
ROOT="$DEST/root"
if [ -f "$DEST/.complete" ]; then
  echo "$DEST"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 || { echo "bench-tools: apt-get not found (Debian or Ubuntu needed)" >&2; exit 1; }

# wrk links LuaJIT; Debian ships it as libluajit2-5.1-2 (or libluajit-5.1-2 in older releases). nginx-light is a
# metapackage: the binary is in `nginx`. Our nginx.conf is self-contained, so nginx-common is not needed.
PACKAGES="wrk nginx"
for lib in libluajit2-5.1-2 libluajit-5.1-2; do
  if apt-cache show "$lib" >/dev/null 2>&1; then PACKAGES="$PACKAGES $lib"; break; fi
done

if ! apt-cache show wrk >/dev/null 2>&1; then
  echo "bench-tools: no package index, running apt-get update" >&2
  apt-get update -qq >&2
fi

# apt downloads as the unprivileged _apt user: give it a directory it can write (root's home is private).
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
chmod 777 "$WORK"
rm -rf "$ROOT"
mkdir -p "$ROOT"
echo "bench-tools: downloading $PACKAGES" >&2
(cd "$WORK" && apt-get download -qq $PACKAGES >&2)
for deb in "$WORK"/*.deb; do dpkg -x "$deb" "$ROOT"; done

export LD_LIBRARY_PATH="$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/usr/lib/aarch64-linux-gnu:$ROOT/usr/lib"
for bin in "$ROOT/usr/bin/wrk" "$ROOT/usr/sbin/nginx"; do
  [ -x "$bin" ] || { echo "bench-tools: $bin missing after unpacking" >&2; exit 1; }
  if ldd "$bin" | grep -q 'not found'; then
    echo "bench-tools: $bin still misses libraries:" >&2
    ldd "$bin" | grep 'not found' >&2
    exit 1
  fi
done

touch "$DEST/.complete"
echo "$DEST"
