#!/usr/bin/env bash
# The daemon at scale: USERS x 4 = 200 managed containers by default.
#   1. a reconcile pass with everything in sync: its time, and the Docker writes it made
#      (container/network events in its window; target <= 300 ms and zero writes);
#   2. the daemon's resident memory while it manages them (target <= 30 MB);
#   3. a base catalog edit reaching every user's merged catalog: `catalog upload` alone,
#      and end to end through a watched catalog folder (target <= 200 ms).
# Usage: scripts/bench-daemon.sh [USERS] [CONCURRENCY]   (default 50 8)
set -euo pipefail
cd "$(dirname "$0")/.."
users="${1:-50}" conc="${2:-8}"

cargo build --quiet --release
scripts/build-images.sh >/dev/null
bin="$PWD/target/release/portalctl"
work="$(mktemp -d)"
export MCP_PORTAL_DATA_DIR="$work/data"
export MCP_PORTAL_INSTANCE="benchd-$$"
export MCP_PORTAL_PORT_RANGE_START=50000 MCP_PORTAL_PORT_RANGE_END=54999 MCP_PORTAL_PORTS_PER_USER=20
export MCP_PORTAL_USER_NETWORK_SUBNET_BASE=10.243.0.0/16 MCP_PORTAL_STOP_TIMEOUT=1
label="io.mcp-portal.instance=$MCP_PORTAL_INSTANCE"
daemon=""

cleanup() {
  # Stop the daemon first, or it would make again what is removed below.
  [ -n "$daemon" ] && { kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; } || true
  docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null
  docker network ls -q --filter "label=$label" | xargs -r docker network rm >/dev/null
  docker volume ls -q --filter "label=$label" | xargs -r docker volume rm >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/watched"
cat > "$work/watched/bench.yaml" <<'YAML'
servers:
  - {id: web, image: "mcp-echo:latest", transport: streamable-http, port: 8080, resources: {memory: 32m, cpus: 0.1}}
  - {id: cli, image: "mcp-echo:latest", resources: {memory: 32m, cpus: 0.1}}
  - {id: cli2, image: "mcp-echo:latest", resources: {memory: 32m, cpus: 0.1}}
  - {id: cli3, image: "mcp-echo:latest", resources: {memory: 32m, cpus: 0.1}, env: {EDIT: "0"}}
YAML
"$bin" catalog upload "$work/watched/bench.yaml" --name bench >/dev/null
for u in $(seq 1 "$users"); do "$bin" user add "b-$u" >/dev/null; done
for u in $(seq 1 "$users"); do for s in web cli cli2 cli3; do echo "$s b-$u"; done; done |
  xargs -P "$conc" -L 1 sh -c '"$0" enable "$1" --user "$2" >/dev/null' "$bin"
n=$(docker ps -q --filter "label=$label" | wc -l)
echo "== $n managed containers running"

echo "== 1. reconcile in sync"
"$bin" serve --once >/dev/null   # warm: the merged catalogs' caches
for i in 1 2 3 4 5; do
  since=$(date +%s.%N)
  ms=$("$bin" serve --once --json | sed -n 's/.*"millis": \([0-9]*\).*/\1/p')
  actions=$("$bin" serve --once --json | tr -d ' \n' | grep -o '"actions":\[\]' | wc -l)
  until=$(date +%s.%N)
  writes=$(timeout 5 docker events --since "$since" --until "$until" --filter "label=$label" \
    --filter type=container --filter type=network --format '{{.Action}}' | grep -cv '^exec_' || true)
  echo "pass $i: ${ms} ms, no actions: $([ "$actions" = 1 ] && echo yes || echo NO), docker writes: $writes"
done

echo "== 2. daemon memory"
MCP_PORTAL_RESYNC_SECS=1 "$bin" serve --watch-catalogs "$work/watched" 2>"$work/serve.log" &
daemon=$!
sleep 8
rss=$(awk '/VmRSS/ {print $2}' "/proc/$daemon/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$daemon/status")
echo "resident: $((rss / 1024)) MB now, $((hwm / 1024)) MB peak, after 8 s with resyncs every second"
kill "$daemon"; wait "$daemon" 2>/dev/null || true; daemon=""

echo "== 3. a base catalog edit reaching every user's merged catalog"
sed -i 's/EDIT: "0"/EDIT: "1"/' "$work/watched/bench.yaml"
t0=$(date +%s%N); "$bin" catalog upload "$work/watched/bench.yaml" --name bench >/dev/null; t1=$(date +%s%N)
grep -l '"EDIT":"1"' "$MCP_PORTAL_DATA_DIR"/cache/merged-*.json | wc -l | xargs printf '%s users of '"$users"' see it; '
echo "catalog upload with regeneration: $(( (t1 - t0) / 1000000 )) ms"
MCP_PORTAL_DEBOUNCE_MS=20 MCP_PORTAL_UPDATE_POLICY=manual "$bin" serve --watch-catalogs "$work/watched" 2>"$work/serve2.log" &
daemon=$!
sleep 3
sed -i 's/EDIT: "1"/EDIT: "2"/' "$work/watched/bench.yaml"
t0=$(date +%s%N)
while [ "$(grep -l '"EDIT":"2"' "$MCP_PORTAL_DATA_DIR"/cache/merged-*.json 2>/dev/null | wc -l)" -lt "$users" ]; do sleep 0.005; done
t1=$(date +%s%N)
echo "watched folder edit to every user's merged catalog: $(( (t1 - t0) / 1000000 )) ms (debounce 20 ms)"
