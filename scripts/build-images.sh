#!/usr/bin/env bash
# Builds the demo and test images from scratch with static Rust binaries: works with no
# container registry. Usage: scripts/build-images.sh [TAG]   (default tag: latest)
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-latest}"
target=x86_64-unknown-linux-gnu

RUSTFLAGS='-C target-feature=+crt-static' \
  cargo build --quiet --release -p mcp-echo --target "$target"

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "target/$target/release/mcp-echo" images/mcp-echo/Dockerfile "$ctx/"
docker build --quiet -t "mcp-echo:$tag" "$ctx" >/dev/null 2>"$ctx/build.log" || { cat "$ctx/build.log" >&2; exit 1; }
echo "built mcp-echo:$tag"
