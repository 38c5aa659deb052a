#!/usr/bin/env bash
# The docker-compose deployment end to end, through scripts/compose.sh and from no .env:
# the defaults resolve, the stack comes up healthy with the sample catalogs, the README's
# first session (exec -T, then curl) works, the remote CLI enables the demo server for a
# second user, `down` says users' containers keep running, and `down --purge` removes
# this deployment's containers, networks and volumes and nothing else. Uses its own
# project name, instance label, ports, subnets and folders, and cleans up on any exit.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "compose-test: $*" >&2; exit 1; }

work="$(mktemp -d)"
: > "$work/empty.env" # stands for "no .env": a developer's compose/.env is not read
export COMPOSE_PROJECT_NAME="mcp-portal-test-$$"
export MCP_PORTAL_ENV_FILE="$work/empty.env"
export MCP_PORTAL_INSTANCE="compose-test-$$"
export MCP_PORTAL_HOST_DATA_DIR="$work/data" # not made here: Docker makes it
# The first free port from 18180 for the API, and one of sixteen subnet pools (a /20
# each) picked by process id, so that runs from several checkouts do not collide.
api_port=18180
while (exec 3<>"/dev/tcp/127.0.0.1/$api_port") 2>/dev/null; do api_port=$((api_port + 1)); done
export MCP_PORTAL_API_LISTEN="127.0.0.1:$api_port"
export MCP_PORTAL_PORT_RANGE_START=41000 MCP_PORTAL_PORT_RANGE_END=41999
export MCP_PORTAL_USER_NETWORK_SUBNET_BASE="10.228.$(($$ % 16 * 16)).0/20"
export MCP_PORTAL_SECRETS_TMPFS="/dev/shm/mcp-portal-$COMPOSE_PROJECT_NAME"
decoy="mcp-portal-test-decoy-$$"
if command -v docker-compose >/dev/null; then dc=(docker-compose); else dc=(docker compose); fi
compose=("${dc[@]}" -f compose/docker-compose.yml --env-file "$work/empty.env")

cleanup() {
  "${compose[@]}" down --remove-orphans >/dev/null 2>&1 || true
  docker rm -f "$decoy" >/dev/null 2>&1 || true
  docker ps -aq --filter "label=io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" | xargs -r docker rm -f >/dev/null
  docker network ls -q --filter "label=io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" | xargs -r docker network rm >/dev/null
  docker volume ls -q --filter "label=io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" | xargs -r docker volume rm >/dev/null
  rm -rf "$work" "$MCP_PORTAL_SECRETS_TMPFS"
}
trap cleanup EXIT

# 1. With nothing set and no .env, the compose file resolves to its defaults.
defaults=$(env -i PATH="$PATH" "${compose[@]}" config) || fail "the compose file does not resolve without .env"
for want in "/var/lib/mcp-portal:/app/data" "MCP_PORTAL_INSTANCE: compose" "/catalogs:/app/catalogs:ro" "127.0.0.1:8080"; do
  case "$defaults" in *"$want"*) ;; *) fail "the defaults lack $want:"$'\n'"$defaults" ;; esac
done

# 2. Up, healthy, with the sample catalogs from the watched folder.
scripts/compose.sh up >/dev/null
state=none
for _ in $(seq 1 60); do
  state=$(docker inspect "$("${compose[@]}" ps -q portal)" --format '{{.State.Health.Status}}' 2>/dev/null || echo none)
  [ "$state" = healthy ] && break
  sleep 1
done
[ "$state" = healthy ] || { "${compose[@]}" logs portal; fail "the portal never got healthy"; }
in_portal() { "${compose[@]}" exec -T portal /portalctl "$@"; }
catalogs=$(in_portal catalog ls)
overlays=$(in_portal overlay ls)
for want in docker-mcp team; do
  grep -q "^$want " <<<"$catalogs" || fail "no sample catalog $want after up:"$'\n'"$catalogs"
done
grep -q "^dev " <<<"$overlays" || fail "no sample overlay dev after up:"$'\n'"$overlays"

# 3. The README's first session, as it is written, on this stack's compose and port.
session=$(awk '/<!-- compose-session/ {f = 1; next} f && /^```sh/ {g = 1; next} g && /^```/ {exit} g' README.md)
[ -n "$session" ] || fail "README has no compose-session block"
session=${session//"docker-compose -f compose/docker-compose.yml"/"${compose[*]}"}
session=${session//"127.0.0.1:8080"/"127.0.0.1:$api_port"}
out=$(bash -euo pipefail -c "$session" 2>&1) || fail "the README's session failed:"$'\n'"$out"
for want in '"id":"carol","roles":["developer"],"organization":"acme"' \
  '"name":"my-team","revision":1' '"changed":true' '"user":"carol","role":"user","scope":"api","token":"mcpp_' \
  '"container":"mcp-carol.echo-http","outcome":"created"'; do
  case "$out" in *"$want"*) ;; *) fail "the README's session did not answer $want:"$'\n'"$out" ;; esac
done

# 4. The remote CLI (the static build the image was made from) for a second user.
token=$(in_portal token create --user admin --role admin 2>/dev/null)
remote=("${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release/portalctl" --remote "http://127.0.0.1:$api_port" --token "$token")
"${remote[@]}" user add bob >/dev/null
"${remote[@]}" enable echo-http --user bob >/dev/null
for u in carol bob; do
  running=$(docker inspect "mcp-$u.echo-http" --format '{{.State.Running}} {{index .Config.Labels "io.mcp-portal.instance"}}')
  [ "$running" = "true $MCP_PORTAL_INSTANCE" ] || fail "mcp-$u.echo-http is not running: $running"
  port=$(docker inspect "mcp-$u.echo-http" --format '{{index .Config.Labels "io.mcp-portal.port"}}')
  reply=$(curl -s -X POST "http://127.0.0.1:$port/mcp" -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}')
  case "$reply" in *'"text":"hi"'*) ;; *) fail "$u's server did not answer: $reply" ;; esac
  binds=$(docker inspect "mcp-$u.echo-http" --format '{{json .HostConfig.Binds}}')
  case "$binds" in *"$work/data/volumes/$u/data/echo:/data"*) ;; *) fail "$u's folder is not a host path: $binds" ;; esac
done

# 4b. The MCP gateway of the compose portal: bob's server through /mcp with an mcp token.
mcp_token=$(in_portal token create --user bob --scope mcp 2>/dev/null)
mcp=(curl -s -H "Authorization: Bearer $mcp_token" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
sid=$("${mcp[@]}" -D - -o /dev/null "http://127.0.0.1:$api_port/mcp" \
  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"compose-test","version":"1"}}}' |
  tr -d '\r' | awk -F': ' 'tolower($1) == "mcp-session-id" {print $2}')
[ -n "$sid" ] || fail "the gateway of the compose portal started no MCP session"
reply=$("${mcp[@]}" -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25' "http://127.0.0.1:$api_port/mcp" \
  -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo-http__echo","arguments":{"text":"via the gateway"}}}')
case "$reply" in *'"text":"via the gateway"'*) ;; *) fail "bob's server did not answer through /mcp: $reply" ;; esac

# 5. down says what keeps running, and leaves it running.
out=$(scripts/compose.sh down 2>&1)
case "$out" in *"users' containers keep running (2 of instance $MCP_PORTAL_INSTANCE)"*"down --purge"*) ;; *) fail "down did not say what keeps running:"$'\n'"$out" ;; esac
[ -z "$("${compose[@]}" ps -q)" ] || fail "the portal still runs after down"
left=$(docker ps -q --filter "label=io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" | wc -l)
[ "$left" = 2 ] || fail "down stopped users' containers: $left of 2 left running"

# 6. down --purge removes this deployment's objects only: a container of another
# instance of the portal stays.
docker create --name "$decoy" --label io.mcp-portal.managed-by=mcp-portal \
  --label "io.mcp-portal.instance=$MCP_PORTAL_INSTANCE-other" mcp-echo:latest >/dev/null
scripts/compose.sh down --purge >/dev/null
by_label() { docker "$@" -q --filter "label=io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" | wc -l; }
left="$(by_label ps -a) $(by_label network ls) $(by_label volume ls)"
stack=$(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" | wc -l)
[ "$left $stack" = "0 0 0 0" ] || fail "left behind (containers, networks, volumes, stack containers): $left $stack"
docker inspect "$decoy" >/dev/null 2>&1 || fail "down --purge removed another instance's container"
echo "compose-test: 1 passed, 0 failed"
