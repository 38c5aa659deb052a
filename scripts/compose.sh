#!/usr/bin/env bash
# The docker-compose deployment in one command each way:
#   scripts/compose.sh up     build the images if missing, make compose/.env from the
#                             example if missing, create the host data folder, start
#   scripts/compose.sh down   stop and remove the portal (its data folder stays)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f compose/.env ] || cp compose/.env.example compose/.env
compose=(docker-compose -f compose/docker-compose.yml --env-file compose/.env)
case "${1:-}" in
  up)
    docker image inspect mcp-portal:latest >/dev/null 2>&1 && docker image inspect mcp-echo:latest >/dev/null 2>&1 ||
      scripts/build-images.sh
    host_dir=$(sed -n 's/^MCP_PORTAL_HOST_DATA_DIR=//p' compose/.env)
    mkdir -p "${host_dir:?set MCP_PORTAL_HOST_DATA_DIR in compose/.env}"
    "${compose[@]}" up -d
    echo "portal up; make the first admin token with:"
    echo "  ${compose[*]} exec portal /portalctl user add admin"
    echo "  ${compose[*]} exec portal /portalctl token create --user admin --role admin"
    ;;
  down) "${compose[@]}" down ;;
  *) echo "usage: scripts/compose.sh up|down" >&2; exit 2 ;;
esac
