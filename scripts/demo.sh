#!/usr/bin/env bash
# The main job: load the sample catalogs into a fresh demo data folder, add demo users,
# a custom server and an overlay, and show what each user gets.
set -euo pipefail
cd "$(dirname "$0")/.."

export MCP_PORTAL_DATA_DIR="${MCP_PORTAL_DATA_DIR:-./demo-data}"
cargo build --quiet --release
portalctl() { ./target/release/portalctl "$@"; }

rm -rf "$MCP_PORTAL_DATA_DIR"
echo "== data folder: $MCP_PORTAL_DATA_DIR"

echo "== users"
portalctl user add u1 --role developer
portalctl user add admin1 --role admin --org acme

echo "== base catalogs (Docker's catalog format, then the native format)"
portalctl catalog upload catalogs/docker-mcp.yaml
portalctl catalog upload catalogs/team.yaml
portalctl catalog ls

echo "== the dev overlay"
portalctl overlay upload catalogs/overlays/dev.yaml --name dev

echo "== u1's own echo server"
portalctl custom add catalogs/custom/my-echo.yaml --user u1

echo "== what u1 sees"
portalctl servers --user u1
echo "== what admin1 sees"
portalctl servers --user admin1
