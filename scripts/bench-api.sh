#!/usr/bin/env bash
# The HTTP API under load: the status endpoint with CLIENTS concurrent clients (p50, p99;
# target p99 < 10 ms), and enable through the API against enable through the local CLI.
# Usage: scripts/bench-api.sh [CLIENTS] [REQUESTS_PER_CLIENT] [PAIRS]   (default 100 50 10)
set -euo pipefail
cd "$(dirname "$0")/.."
clients="${1:-100}" per="${2:-50}" pairs="${3:-10}"

cargo build --quiet --release
ECHO_ONLY=1 scripts/build-images.sh >/dev/null
bin="$PWD/target/release/portalctl"
work="$(mktemp -d)"
export MCP_PORTAL_DATA_DIR="$work/data"
export MCP_PORTAL_INSTANCE="bencha-$$"
export MCP_PORTAL_PORT_RANGE_START=55000 MCP_PORTAL_PORT_RANGE_END=55999
export MCP_PORTAL_USER_NETWORK_SUBNET_BASE=10.244.0.0/16 MCP_PORTAL_STOP_TIMEOUT=1
export MCP_PORTAL_API_RATE_PER_SEC=1000000
label="io.mcp-portal.instance=$MCP_PORTAL_INSTANCE"
port=18280
daemon=""
cleanup() {
  # Stop the daemon first, or it would make again what is removed below.
  [ -n "$daemon" ] && { kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; } || true
  docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null
  docker network ls -q --filter "label=$label" | xargs -r docker network rm >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/c.yaml" <<'YAML'
name: b
servers:
  - {id: web, image: "mcp-echo:latest", transport: streamable-http, port: 8080, resources: {memory: 32m, cpus: 0.1}}
  - {id: cli, image: "mcp-echo:latest", resources: {memory: 32m, cpus: 0.1}}
  - {id: cli2, image: "mcp-echo:latest", resources: {memory: 32m, cpus: 0.1}}
YAML
"$bin" catalog upload "$work/c.yaml" >/dev/null
"$bin" user add u1 >/dev/null
"$bin" user add u2 >/dev/null
token=$("$bin" token create --user u1 2>/dev/null)
"$bin" enable cli --user u1 >/dev/null
"$bin" enable cli2 --user u1 >/dev/null
"$bin" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" &
daemon=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

echo "== status endpoint: $clients clients x $per requests"
python3 - "$port" "$token" "$clients" "$per" <<'PY'
import http.client, sys, threading, time
port, token, clients, per = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lat, errors, lock = [], [0], threading.Lock()
start = threading.Barrier(clients)
def client():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start.wait()
    mine = []
    for _ in range(per):
        t = time.perf_counter()
        try:
            c.request("GET", "/api/v1/users/u1/status", headers={"Authorization": "Bearer " + token})
            r = c.getresponse(); r.read()
            ok = r.status == 200
        except Exception:
            ok = False
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine.append(time.perf_counter() - t)
        if not ok:
            with lock: errors[0] += 1
    with lock: lat.extend(mine)
t0 = time.perf_counter()
threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
wall = time.perf_counter() - t0
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print(f"{len(lat)} requests in {wall:.1f} s ({len(lat)/wall:.0f}/s), {errors[0]} errors; "
      f"p50 {q(0.50):.1f} ms, p90 {q(0.90):.1f} ms, p99 {q(0.99):.1f} ms (target p99 < 10 ms)")
PY

echo "== enable: API against local CLI, $pairs pairs"
api=(); cli=()
for _ in $(seq 1 "$pairs"); do
  t=$(curl -s -o /dev/null -w '%{time_total}' -X POST -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/users/u1/servers/web/enable")
  api+=("$t")
  curl -s -o /dev/null -X POST -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/users/u1/servers/web/disable"
  t0=$(date +%s%N); "$bin" enable web --user u2 >/dev/null; t1=$(date +%s%N)
  cli+=("$(awk -v n=$((t1 - t0)) 'BEGIN {printf "%.3f", n / 1e9}')")
  "$bin" disable web --user u2 >/dev/null
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
a=$(median "${api[@]}"); c=$(median "${cli[@]}")
awk -v a="$a" -v c="$c" 'BEGIN {printf "enable median: API %.0f ms, local CLI %.0f ms, ratio %.2f\n", a*1000, c*1000, a/c}'
