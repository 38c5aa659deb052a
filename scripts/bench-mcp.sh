#!/usr/bin/env bash
# The MCP gateway measured side by side in one run (issue 10):
#   1. tools/call through /mcp/{server} against the same HTTP server's own port:
#      added p50 and the p99 ratio (rounds alternate, so both see the same machine);
#   2. tools/call on a stdio server through the gateway (one shared attachment);
#   3. SESSIONS concurrent sessions x CALLS calls on the stdio server: errors,
#      throughput, and the gateway's peak RSS;
#   4. the anchor: a `docker run -i --rm` per call, as docker/mcp-gateway does.
# Usage: scripts/bench-mcp.sh [CALLS] [SESSIONS]   (default 2000 100)
set -euo pipefail
cd "$(dirname "$0")/.."
calls="${1:-2000}" sessions="${2:-100}"

cargo build --quiet --release
cargo bench --quiet --no-run --bench mcp_load 2>/dev/null
scripts/build-images.sh >/dev/null
bin="$PWD/target/release/portalctl"
work="$(mktemp -d)"
export MCP_PORTAL_DATA_DIR="$work/data"
export MCP_PORTAL_INSTANCE="bench-mcp-$$"
export MCP_PORTAL_PORT_RANGE_START=46000 MCP_PORTAL_PORT_RANGE_END=46999 MCP_PORTAL_PORTS_PER_USER=20
export MCP_PORTAL_USER_NETWORK_SUBNET_BASE=10.243.0.0/16 MCP_PORTAL_STOP_TIMEOUT=1
export MCP_PORTAL_SECRETS_TMPFS="/dev/shm/mcp-portal-bench-mcp-$$"
# The bench is the only client: the per-token rate limit would measure itself.
export MCP_PORTAL_MCP_RATE_PER_SEC=1000000 MCP_PORTAL_API_RATE_PER_SEC=1000000
serve_pid=""

cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  docker ps -aq --filter "label=io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" | xargs -r docker rm -f >/dev/null
  docker network ls -q --filter "label=io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" | xargs -r docker network rm >/dev/null
  rm -rf "$work" "$MCP_PORTAL_SECRETS_TMPFS"
}
trap cleanup EXIT

cat > "$work/catalog.yaml" <<'YAML'
name: bench
servers:
  - {id: web, image: "mcp-echo:latest", transport: streamable-http, port: 8080, resources: {memory: 64m, cpus: 1, pids: 256}}
  - {id: cli, image: "mcp-echo:latest", resources: {memory: 64m, cpus: 1, pids: 256}}
YAML
"$bin" catalog upload "$work/catalog.yaml" >/dev/null
"$bin" user add bench >/dev/null
"$bin" user limits bench --max-cpu-shares 4096 >/dev/null
"$bin" enable web --user bench >/dev/null
"$bin" enable cli --user bench >/dev/null
"$bin" user add bench-admin --role admin >/dev/null
admin=$("$bin" token create --user bench-admin --role admin 2>/dev/null)
export BENCH_TOKEN
BENCH_TOKEN=$("$bin" token create --user bench --scope mcp 2>/dev/null)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
gateway="http://127.0.0.1:$port/mcp"
direct="http://127.0.0.1:$(docker inspect mcp-bench.web --format '{{index .Config.Labels "io.mcp-portal.port"}}')/mcp"

load() { cargo bench --quiet --bench mcp_load -- "$@"; }
field() { python3 -c "import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
# Medians over the rounds of one measure.
median() { python3 -c "import statistics, sys; print(round(statistics.median(float(x) for x in sys.argv[1:])))" "$@"; }

rounds=4 per=$((calls / rounds))
load "$gateway/web" 1 50 >/dev/null; load "$direct" 1 50 >/dev/null   # warm both paths
echo "== 1. tools/call on an HTTP server: gateway /mcp/web vs its own port ($rounds rounds of $per)"
d50=() d99=() g50=() g99=() errs=0
for r in $(seq 1 "$rounds"); do
  d=$(BENCH_TOKEN="" load "$direct" 1 "$per"); g=$(load "$gateway/web" 1 "$per")
  d50+=("$(field "$d" p50_us)") d99+=("$(field "$d" p99_us)")
  g50+=("$(field "$g" p50_us)") g99+=("$(field "$g" p99_us)")
  errs=$((errs + $(field "$d" errors) + $(field "$g" errors)))
done
dp50=$(median "${d50[@]}") dp99=$(median "${d99[@]}") gp50=$(median "${g50[@]}") gp99=$(median "${g99[@]}")
python3 - "$dp50" "$dp99" "$gp50" "$gp99" "$errs" <<'PY'
import sys
d50, d99, g50, g99, errs = map(int, sys.argv[1:])
print(f"direct   p50 {d50} us  p99 {d99} us")
print(f"gateway  p50 {g50} us  p99 {g99} us")
print(f"added p50 {(g50 - d50) / 1000:.3f} ms (target <= 0.5)   p99 ratio {g99 / max(d99, 1):.2f} (target <= 1.5)   errors {errs}")
PY

echo "== 2. tools/call on a stdio server through the gateway ($calls calls)"
load "$gateway/cli" 1 50 >/dev/null
s=$(load "$gateway/cli" 1 "$calls")
echo "stdio    p50 $(field "$s" p50_us) us  p99 $(field "$s" p99_us) us  errors $(field "$s" errors) (target p50 <= 2 ms)"

echo "== 3. $sessions sessions x 100 calls at once on the stdio server"
c=$(load "$gateway/cli" "$sessions" 100)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$serve_pid/status")
echo "calls $(field "$c" calls)  errors $(field "$c" errors) (target 0)  $(field "$c" per_sec) calls/s  p50 $(field "$c" p50_us) us  p99 $(field "$c" p99_us) us"
[ "$(field "$c" errors)" = 0 ] || echo "first error: $(field "$c" first_error)"
echo "gateway peak RSS $((rss / 1024)) MB (target <= 60)"
echo "gateway after the run: $(curl -s -H "Authorization: Bearer $admin" "http://127.0.0.1:$port/api/v1/admin/gateway") (sessions 0: every client's DELETE ended its own)"

echo "== 4. the anchor: one docker run -i --rm per call (docker/mcp-gateway's way)"
msg='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}'
runs=()
for _ in 1 2 3; do
  t0=$(date +%s%N)
  echo "$msg" | docker run -i --rm --label "io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" mcp-echo:latest >/dev/null
  runs+=($(( ($(date +%s%N) - t0) / 1000 )))
done
anchor=$(median "${runs[@]}")
python3 - "$anchor" "$(field "$s" p50_us)" <<'PY'
import sys
anchor, stdio = map(int, sys.argv[1:])
print(f"docker run per call {anchor / 1000:.0f} ms; through the gateway {stdio / 1000:.2f} ms: {anchor / max(stdio, 1):.0f}x faster")
PY
