#!/usr/bin/env bash
# The docker-compose deployment (compose/docker-compose.yml) in one command each way.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
usage: scripts/compose.sh up [--no-build]
       scripts/compose.sh down [--purge]

  up            build the images (scripts/build-images.sh: incremental, about a second
                when nothing changed), then start the portal or recreate it on a new image
  up --no-build start with the images as they are
  down          stop and remove the portal; users' containers keep running, and the
                data folder stays
  down --purge  also remove this deployment's users' containers, networks and volumes
                (those labelled with its MCP_PORTAL_INSTANCE); the data folder stays

Settings come from compose/.env if it exists (none is needed), or from the file named
by MCP_PORTAL_ENV_FILE, and from the environment, which wins. COMPOSE_PROJECT_NAME
names the stack (default: compose).
USAGE
}

# docker-compose 1.29+, or the `docker compose` plugin when that is all there is.
if command -v docker-compose >/dev/null; then compose=(docker-compose); else compose=(docker compose); fi
compose+=(-f compose/docker-compose.yml)
[ -z "${MCP_PORTAL_ENV_FILE:-}" ] || compose+=(--env-file "$MCP_PORTAL_ENV_FILE")
shown="${compose[*]}"

# A line of the resolved compose file, e.g. `setting MCP_PORTAL_INSTANCE` (the portal's
# environment) or `setting image`.
setting() {
  "${compose[@]}" config | sed -n "s/^ *$1: *//p" | tr -d "\"'"
}

# This deployment's users' objects: the portal's labels with its instance.
labelled() { # ps|network ls|volume ls
  local instance="$1"
  shift
  docker "$@" -q --filter "label=io.mcp-portal.managed-by=mcp-portal" \
    --filter "label=io.mcp-portal.instance=$instance"
}

up() {
  local image
  image=$(setting image)
  [ "${1:-}" = --no-build ] || scripts/build-images.sh "${image#mcp-portal:}"
  "${compose[@]}" up -d
  echo "portal up; make the first admin token with:"
  echo "  $shown exec -T portal /portalctl user add admin"
  echo "  $shown exec -T portal /portalctl token create --user admin --role admin"
}

down() {
  local instance
  instance=$(setting MCP_PORTAL_INSTANCE)
  [ -n "$instance" ] || { echo "compose.sh: cannot tell the deployment's instance" >&2; exit 1; }
  "${compose[@]}" down
  if [ "${1:-}" = --purge ]; then
    labelled "$instance" ps -a | xargs -r docker rm -f >/dev/null
    labelled "$instance" network ls | xargs -r docker network rm >/dev/null
    labelled "$instance" volume ls | xargs -r docker volume rm >/dev/null
    echo "removed the users' containers, networks and volumes of instance $instance;"
    echo "the data folder $(setting MCP_PORTAL_HOST_DATA_DIR) stays: the next up starts their enabled servers again"
  else
    local running
    running=$(labelled "$instance" ps | wc -l)
    if [ "$running" -gt 0 ]; then
      echo "note: users' containers keep running ($running of instance $instance): they are siblings"
      echo "on the engine, not part of the stack; scripts/compose.sh down --purge removes them"
    fi
  fi
}

[ $# -le 2 ] || { usage >&2; exit 2; }
case "${1:-} ${2:-}" in
  "up "|"up --no-build") up "${2:-}" ;;
  "down "|"down --purge") down "${2:-}" ;;
  "-h "|"--help ") usage ;;
  *) usage >&2; exit 2 ;;
esac
