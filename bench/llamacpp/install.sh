#!/usr/bin/env bash
# Installs llama.cpp's Vulkan build (node-llama-cpp and its prebuilt Vulkan binary,
# bench/llamacpp/package.json) into DIR/node_modules, for
# `vkinfer_bench_decode --llamacpp DIR`. The other prebuilt binaries (CUDA, other
# platforms) are optional dependencies of node-llama-cpp and are left out.
#   bench/llamacpp/install.sh DIR
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dest="$1"
here="$(cd "$(dirname "$0")" && pwd)"
for tool in node npm; do
    if ! command -v "$tool" >/dev/null; then
        echo "llama.cpp side-by-side: $tool not found; install Node.js 20 or newer" >&2
        exit 1
    fi
done
mkdir -p "$dest"
if [ -f "$dest/.installed" ] && cmp -s "$here/package.json" "$dest/package.json"; then
    echo "llama.cpp (Vulkan): already installed in $dest"
    exit 0
fi
rm -f "$dest/.installed"
cp "$here/package.json" "$dest/package.json"
(cd "$dest" && npm install --no-audit --no-fund --omit=optional --loglevel=error)
touch "$dest/.installed"
echo "llama.cpp (Vulkan): installed in $dest"
