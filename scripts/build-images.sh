#!/usr/bin/env bash
# Builds the images from scratch with static Rust binaries: works with no container
# registry. Usage: scripts/build-images.sh [TAG]   (default tag: latest)
#   mcp-echo:TAG     the demo and test MCP server (images/mcp-echo)
#   mcp-egress-proxy:TAG  the egress proxy of servers with allow_hosts (images/egress-proxy)
#   mcp-portal:TAG   the portal itself, for compose/ (images/portal); skipped with ECHO_ONLY=1
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-latest}"
target=x86_64-unknown-linux-gnu
out="${CARGO_TARGET_DIR:-target}/$target/release"
# Name every binary: `--bin` narrows the build to the binaries it names, in every package
# selected, so `-p mcp-echo -p mcp-portal --bin portalctl` alone would build no mcp-echo.
packages=(-p mcp-echo --bin mcp-echo -p egress-proxy --bin egress-proxy)
[ "${ECHO_ONLY:-}" = 1 ] || packages+=(-p mcp-portal --bin portalctl)

RUSTFLAGS='-C target-feature=+crt-static' \
  cargo build --quiet --release "${packages[@]}" --target "$target"

build() { # image binary dockerfile
  local ctx
  ctx="$(mktemp -d)"
  cp "$out/$2" "$3" "$ctx/"
  docker build --quiet -t "$1:$tag" "$ctx" >/dev/null 2>"$ctx/build.log" || { cat "$ctx/build.log" >&2; rm -rf "$ctx"; exit 1; }
  rm -rf "$ctx"
  echo "built $1:$tag"
}
build mcp-echo mcp-echo images/mcp-echo/Dockerfile
build mcp-egress-proxy egress-proxy images/egress-proxy/Dockerfile
[ "${ECHO_ONLY:-}" = 1 ] || build mcp-portal portalctl images/portal/Dockerfile
