#!/usr/bin/env bash
# The docker-compose deployment end to end: build the images, bring the stack up, create
# an admin token, upload a catalog through the API, enable the demo server for two users
# through the remote CLI, check both containers, tear everything down, and check that
# nothing is left behind. Uses its own project name, instance label, ports and subnets.
set -euo pipefail
cd "$(dirname "$0")/.."

project="mcp-portal-test-$$"
work="$(mktemp -d)"
api_port=18180
instance="compose-test-$$"
compose=(docker-compose -p "$project" -f compose/docker-compose.yml --env-file "$work/.env")

cleanup() {
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  docker ps -aq --filter "label=io.mcp-portal.instance=$instance" | xargs -r docker rm -f >/dev/null
  docker network ls -q --filter "label=io.mcp-portal.instance=$instance" | xargs -r docker network rm >/dev/null
  docker volume ls -q --filter "label=io.mcp-portal.instance=$instance" | xargs -r docker volume rm >/dev/null
  rm -rf "$work" "/dev/shm/mcp-portal-$project"
}
trap cleanup EXIT

scripts/build-images.sh >/dev/null
mkdir -p "$work/data"
cat > "$work/.env" <<ENV
MCP_PORTAL_HOST_DATA_DIR=$work/data
MCP_PORTAL_API_LISTEN=127.0.0.1:$api_port
MCP_PORTAL_INSTANCE=$instance
MCP_PORTAL_PORT_RANGE_START=41000
MCP_PORTAL_PORT_RANGE_END=41999
MCP_PORTAL_USER_NETWORK_SUBNET_BASE=10.228.0.0/16
MCP_PORTAL_SECRETS_TMPFS=/dev/shm/mcp-portal-$project
MCP_PORTAL_ENV_FILE=$work/.env
ENV

"${compose[@]}" up -d
for _ in $(seq 1 60); do
  state=$(docker inspect "$("${compose[@]}" ps -q portal)" --format '{{.State.Health.Status}}' 2>/dev/null || echo none)
  [ "$state" = healthy ] && break
  sleep 1
done
[ "$state" = healthy ] || { "${compose[@]}" logs portal; echo "compose-test: the portal never got healthy" >&2; exit 1; }

in_portal() { "${compose[@]}" exec -T portal /portalctl "$@"; }
in_portal user add admin >/dev/null
token=$(in_portal token create --user admin --role admin 2>/dev/null | tr -d '\r')
remote=(target/release/portalctl --remote "http://127.0.0.1:$api_port" --token "$token")
cargo build --quiet --release

"${remote[@]}" catalog upload catalogs/team.yaml
for u in alice bob; do
  "${remote[@]}" user add "$u"
  "${remote[@]}" enable echo-http --user "$u"
done
"${remote[@]}" status
for u in alice bob; do
  running=$(docker inspect "mcp-$u-echo-http" --format '{{.State.Running}} {{index .Config.Labels "io.mcp-portal.instance"}}')
  [ "$running" = "true $instance" ] || { echo "compose-test: mcp-$u-echo-http is not running: $running" >&2; exit 1; }
  port=$(docker inspect "mcp-$u-echo-http" --format '{{index .Config.Labels "io.mcp-portal.port"}}')
  reply=$(curl -s -X POST "http://127.0.0.1:$port/mcp" -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}')
  case "$reply" in *'"text":"hi"'*) ;; *) echo "compose-test: $u's server did not answer: $reply" >&2; exit 1 ;; esac
  binds=$(docker inspect "mcp-$u-echo-http" --format '{{json .HostConfig.Binds}}')
  case "$binds" in *"$work/data/volumes/$u/data/echo:/data"*) ;; *) echo "compose-test: $u's folder is not a host path: $binds" >&2; exit 1 ;; esac
done
for u in alice bob; do "${remote[@]}" disable echo-http --user "$u"; done

"${compose[@]}" down -v
left=$(docker ps -aq --filter "label=io.mcp-portal.instance=$instance" | wc -l)
nets=$(docker network ls -q --filter "label=io.mcp-portal.instance=$instance" | wc -l)
stack=$(docker ps -aq --filter "label=com.docker.compose.project=$project" | wc -l)
[ "$left$nets$stack" = 000 ] || { echo "compose-test: left behind: $left containers, $nets networks, $stack stack containers" >&2; exit 1; }
echo "compose-test: 1 passed, 0 failed"
