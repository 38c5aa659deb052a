#!/usr/bin/env bash
# Servers on demand, measured on the real Docker Engine with the official MCP Python SDK
# as the client (tests/mcp/idle_client.py):
#   1. start on first call: an idle (stopped) server's first tools/call through the
#      gateway, against the same call to it running, and against a raw `docker start`
#      of a plain mcp-echo container plus an `initialize` (p50/p90 over RUNS runs);
#   2. memory saved: USERS users x 4 mcp-echo servers, 10% of the users active, with
#      idle shutdown against without (the fleet's memory summed from `docker stats`).
# Usage: scripts/bench-ondemand.sh [RUNS] [USERS]   (default 10 50)
# PROFILE=debug uses the debug build instead of building a release one.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}" users="${2:-50}"
profile="${PROFILE:-release}"

if [ "$profile" = release ]; then cargo build --quiet --release; else cargo build --quiet; fi
ECHO_ONLY=1 scripts/build-images.sh >/dev/null
scripts/mcp-venv.sh
py="$PWD/target/mcp-venv/bin/python"
client="$PWD/tests/mcp/idle_client.py"
bin="$PWD/target/$profile/portalctl"
work="$(mktemp -d)"
export MCP_PORTAL_DATA_DIR="$work/data"
export MCP_PORTAL_INSTANCE="benchod-$$"
export MCP_PORTAL_PORT_RANGE_START=56000 MCP_PORTAL_PORT_RANGE_END=57999
export MCP_PORTAL_PORTS_PER_USER=20
export MCP_PORTAL_USER_NETWORK_SUBNET_BASE=10.245.0.0/16 MCP_PORTAL_STOP_TIMEOUT=1
export MCP_PORTAL_RESYNC_SECS=2 MCP_PORTAL_DEBOUNCE_MS=50
export MCP_PORTAL_SECRETS_TMPFS="/dev/shm/mcp-portal-benchod-$$"
label="io.mcp-portal.instance=$MCP_PORTAL_INSTANCE"
port=18290
daemon="" load=""
stop_daemon() {
  [ -n "$daemon" ] && { kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; } || true
  daemon=""
}
cleanup() {
  [ -n "$load" ] && { kill "$load" 2>/dev/null; wait "$load" 2>/dev/null; } || true
  # Stop the daemon first, or it would make again what is removed below.
  stop_daemon
  docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null
  docker network ls -q --filter "label=$label" | xargs -r docker network rm >/dev/null
  rm -rf "$work" "$MCP_PORTAL_SECRETS_TMPFS"
}
trap cleanup EXIT

serve() {
  "$bin" serve --listen "127.0.0.1:$port" 2>>"$work/serve.log" &
  daemon=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
  echo "bench-ondemand: portalctl serve did not answer; its log:" >&2
  cat "$work/serve.log" >&2
  exit 1
}
state() { "$bin" status --user "$1" --json | "$py" -c "import json,sys; print(next(r['state'] for r in json.load(sys.stdin) if r['server']==sys.argv[1]))" "$2"; }
timed() { MCP_TOKEN="$1" "$py" "$client" timed "http://127.0.0.1:$port/mcp" legacy "$2"; }
ms_of() { "$py" -c "import json,sys; r=json.loads(sys.argv[1]); assert 'ms' in r and not r.get('error'), r; print(r['ms'])" "$1"; }
pct() { "$py" -c "
import statistics, sys
xs = sorted(float(x) for x in sys.argv[1:])
p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
print(f'p50 {statistics.median(xs):7.1f} ms   p90 {p(0.9):7.1f} ms')" "$@"; }

cat > "$work/c.yaml" <<'YAML'
name: od
servers:
  - {id: nap, image: "mcp-echo:latest", resources: {memory: 32m, cpus: 0.25}, idle_timeout: 1s}
  - {id: e1, image: "mcp-echo:latest", resources: {memory: 32m, cpus: 0.1}}
  - {id: e2, image: "mcp-echo:latest", resources: {memory: 32m, cpus: 0.1}}
  - {id: e3, image: "mcp-echo:latest", resources: {memory: 32m, cpus: 0.1}}
  - {id: e4, image: "mcp-echo:latest", resources: {memory: 32m, cpus: 0.1}}
YAML
"$bin" catalog upload "$work/c.yaml" >/dev/null

echo "== 1. start on first call ($runs runs)"
"$bin" user add b0 >/dev/null
tok=$("$bin" token create --user b0 --scope mcp 2>/dev/null)
"$bin" enable nap --user b0 >/dev/null
serve
cold=() warm=() raw=()
for _ in $(seq 1 "$runs"); do
  for _ in $(seq 1 100); do [ "$(state b0 nap)" = idle ] && break; sleep 0.1; done
  [ "$(state b0 nap)" = idle ] || { echo "bench-ondemand: nap never went idle" >&2; exit 1; }
  cold+=("$(ms_of "$(timed "$tok" nap__echo)")")
  warm+=("$(ms_of "$(timed "$tok" nap__echo)")")
done
stop_daemon
# The floor: a plain container started by hand, and its answer to initialize.
docker create -i --label "$label" --name "benchod-raw-$$" mcp-echo:latest >/dev/null
for _ in $(seq 1 "$runs"); do
  raw+=("$("$py" - "benchod-raw-$$" <<'PY'
import json, subprocess, sys, time
name = sys.argv[1]
init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
t = time.monotonic()
p = subprocess.Popen(["docker", "start", "-ai", name], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
p.stdin.write((json.dumps(init) + "\n").encode()); p.stdin.flush()
line = p.stdout.readline()
ms = (time.monotonic() - t) * 1000
assert b'"result"' in line, line
p.kill(); p.wait()
subprocess.run(["docker", "stop", "-t", "1", name], capture_output=True)
print(round(ms, 1))
PY
)")
done
printf '%-52s %s\n' "idle server, first tools/call (start + initialize + call)" "$(pct "${cold[@]}")"
printf '%-52s %s\n' "same server running, same tools/call" "$(pct "${warm[@]}")"
printf '%-52s %s\n' "raw docker start -ai + initialize" "$(pct "${raw[@]}")"

"$bin" disable nap --user b0 >/dev/null
echo "== 2. memory saved: $users users x 4 servers, 10% active"
active=$(( (users + 9) / 10 ))
for i in $(seq 1 "$users"); do echo "u$i"; done > "$work/users"
xargs -P 4 -I{} "$bin" user add {} < "$work/users" >/dev/null
for i in $(seq 1 "$users"); do for s in e1 e2 e3 e4; do echo "$s u$i"; done; done \
  | xargs -P 6 -L 1 sh -c '"$0" enable "$1" --user "$2" >/dev/null' "$bin"
: > "$work/tokens"
for i in $(seq 1 "$active"); do "$bin" token create --user "u$i" --scope mcp 2>/dev/null >> "$work/tokens"; done
# The active users call each of their servers every second, in one background process.
"$py" - "$port" "$client" "$work/tokens" <<'PY' &
import asyncio, os, sys
sys.path.insert(0, os.path.dirname(sys.argv[2]))
import gateway_client as g
port, tokens = sys.argv[1], open(sys.argv[3]).read().split()
async def user(token):
    os.environ["MCP_TOKEN"] = token
    c = g.client(f"http://127.0.0.1:{port}/mcp", "legacy")
    async with c:
        while True:
            for s in ("e1", "e2", "e3", "e4"):
                await c.call_tool(f"{s}__echo", {"text": "busy"})
            await asyncio.sleep(1)
async def main():
    while True:
        try:
            await asyncio.gather(*(user(t) for t in tokens))
        except Exception:
            await asyncio.sleep(1)
asyncio.run(main())
PY
load=$!
fleet() {
  local names
  names=$(docker ps -q --filter "label=$label" --filter "label=io.mcp-portal.server")
  local running; running=$(echo "$names" | grep -c . || true)
  local mib=0
  if [ "$running" -gt 0 ]; then
    mib=$(docker stats --no-stream --format '{{.MemUsage}}' $names | "$py" -c "
import sys
units = {'B': 1 / 2**20, 'KiB': 1 / 1024, 'MiB': 1, 'GiB': 1024}
total = 0.0
for line in sys.stdin:
    used = line.split('/')[0].strip()
    for u in sorted(units, key=len, reverse=True):
        if used.endswith(u):
            total += float(used[: -len(u)]) * units[u]
            break
print(f'{total:.1f}')")
  fi
  echo "$running $mib"
}
MCP_PORTAL_IDLE_TIMEOUT=0 serve
sleep 8
read -r run_without mib_without <<<"$(fleet)"
stop_daemon
MCP_PORTAL_IDLE_TIMEOUT=5s serve
want=$(( active * 4 ))
for _ in $(seq 1 120); do
  read -r n _ <<<"$(fleet)"
  [ "$n" -le "$want" ] && break
  sleep 1
done
sleep 3
read -r run_with mib_with <<<"$(fleet)"
printf '%-34s %10s %12s\n' "" "running" "memory MiB"
printf '%-34s %10s %12s\n' "without idle shutdown" "$run_without" "$mib_without"
printf '%-34s %10s %12s\n' "with idle shutdown (5s)" "$run_with" "$mib_with"
