#!/usr/bin/env bash
# The main job: build the demo image, load the sample catalogs into a fresh demo data
# folder, enable servers for a demo user, and show what runs.
#   scripts/demo.sh          run the demo (leaves the demo containers running)
#   scripts/demo.sh clean    disable the demo servers and remove the demo data folder
set -euo pipefail
cd "$(dirname "$0")/.."

export MCP_PORTAL_DATA_DIR="${MCP_PORTAL_DATA_DIR:-./demo-data}"
export MCP_PORTAL_INSTANCE="${MCP_PORTAL_INSTANCE:-demo}"
# Pools of its own, so a first session on the default pools finds them free.
export MCP_PORTAL_PORT_RANGE_START="${MCP_PORTAL_PORT_RANGE_START:-21000}"
export MCP_PORTAL_PORT_RANGE_END="${MCP_PORTAL_PORT_RANGE_END:-21999}"
export MCP_PORTAL_USER_NETWORK_SUBNET_BASE="${MCP_PORTAL_USER_NETWORK_SUBNET_BASE:-10.202.0.0/16}"
export MCP_PORTAL_EGRESS_SUBNET_BASE="${MCP_PORTAL_EGRESS_SUBNET_BASE:-10.203.0.0/16}"
cargo build --quiet --release
portalctl() { ./target/release/portalctl "$@"; }

if [ -d "$MCP_PORTAL_DATA_DIR" ]; then
  # Leave nothing of an earlier demo behind: its containers go with its data folder.
  for u in $(portalctl user ls --json | sed -n 's/.*"id": "\(.*\)".*/\1/p'); do
    portalctl status --user "$u" --json | sed -n 's/.*"server": "\(.*\)".*/\1/p' |
      while read -r s; do portalctl disable "$s" --user "$u" >/dev/null; done
  done
  rm -rf "$MCP_PORTAL_DATA_DIR"
fi
if [ "${1:-}" = clean ]; then
  echo "demo removed"
  exit 0
fi

echo "== demo image (built from scratch, no registry needed)"
ECHO_ONLY=1 scripts/build-images.sh

echo "== data folder: $MCP_PORTAL_DATA_DIR"
echo "== users"
portalctl user add u1 --role developer
portalctl user add admin1 --role admin --org acme

echo "== base catalogs (Docker's catalog format, then the native format)"
portalctl catalog upload catalogs/docker-mcp.yaml
portalctl catalog upload catalogs/team.yaml
portalctl catalog ls

echo "== the dev overlay, and u1's own echo server"
portalctl overlay upload catalogs/overlays/dev.yaml --name dev
portalctl custom add catalogs/custom/my-echo.yaml --user u1

echo "== what u1 sees"
portalctl servers --user u1

echo "== enable servers for u1 and admin1"
portalctl enable echo-http --user u1
portalctl enable echo --user u1
portalctl enable echo-http --user admin1

echo "== a server that needs a secret: refused until the secret is set"
portalctl enable echo-secret --user u1 || true
printf 'demo-key-123' | portalctl secret set demo.api_key --user u1
portalctl secret ls --user u1
portalctl enable echo-secret --user u1

echo "== status"
portalctl status

port=$(portalctl status --user u1 --json | sed -n 's/.*"port": \([0-9]*\).*/\1/p' | head -1)
echo "== u1's echo-http answers MCP on 127.0.0.1:$port"
curl -s -X POST "http://127.0.0.1:$port/mcp" \
  -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello from mcp-portal"}}}'
echo
echo "== done; remove the demo with: scripts/demo.sh clean"
echo "portalctl is $(pwd)/target/release/portalctl; put it on your PATH with: cargo install --path ."
