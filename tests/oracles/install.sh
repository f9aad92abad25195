#!/usr/bin/env bash
# Installs the npm oracles (tests/oracles/package.json) into $1/node_modules.
# Exits 0 without installing when node or npm is missing: the tests that need the
# oracles then skip and say why.
set -euo pipefail
dest="$1"
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "npm oracles: node/npm not found; oracle tests will be skipped"
    exit 0
fi
mkdir -p "$dest"
if [ -f "$dest/.installed" ] && cmp -s "$here/package.json" "$dest/package.json" &&
    cmp -s "$here/llamacpp/package.json" "$dest/llamacpp/package.json"; then
    echo "npm oracles: already installed in $dest"
    exit 0
fi
cp "$here/package.json" "$dest/package.json"
(cd "$dest" && npm install --no-audit --no-fund --loglevel=error)
# llama.cpp's CPU build for x86-64 Linux only (the GPU variants are optional
# dependencies, left out); where it cannot install, its tests skip.
mkdir -p "$dest/llamacpp"
cp "$here/llamacpp/package.json" "$dest/llamacpp/package.json"
if ! (cd "$dest/llamacpp" && npm install --no-audit --no-fund --omit=optional --loglevel=error); then
    echo "npm oracles: node-llama-cpp did not install; llama.cpp comparisons will be skipped"
fi
touch "$dest/.installed"
echo "npm oracles: installed in $dest"
