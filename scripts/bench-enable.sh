#!/usr/bin/env bash
# Enable against raw `docker run -d` of the same image, with the same network, limits,
# hardening and port, measured side by side in one run:
#   1. latency: paired runs (portal enable, then docker run), median of the ratios;
#   2. throughput: USERS x 4 servers enabled at CONCURRENCY, against the same number of
#      raw `docker run -d` at the same concurrency; failures and leftovers counted.
# Usage: scripts/bench-enable.sh [PAIRS] [USERS] [CONCURRENCY]   (default 15 50 8)
set -euo pipefail
cd "$(dirname "$0")/.."
pairs="${1:-15}" users="${2:-50}" conc="${3:-8}"

cargo build --quiet --release
scripts/build-images.sh >/dev/null
bin="$PWD/target/release/portalctl"
work="$(mktemp -d)"
export MCP_PORTAL_DATA_DIR="$work/data"
export MCP_PORTAL_INSTANCE="bench-$$"
export MCP_PORTAL_PORT_RANGE_START=40000 MCP_PORTAL_PORT_RANGE_END=44999 MCP_PORTAL_PORTS_PER_USER=20
export MCP_PORTAL_USER_NETWORK_SUBNET_BASE=10.240.0.0/16 MCP_PORTAL_STOP_TIMEOUT=1
raw_label="io.mcp-portal.bench-raw=$$"

cleanup() {
  docker ps -aq --filter "label=io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" | xargs -r docker rm -f >/dev/null
  docker ps -aq --filter "label=$raw_label" | xargs -r docker rm -f >/dev/null
  docker network ls -q --filter "label=io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" | xargs -r docker network rm >/dev/null
  docker network ls -q --filter "label=$raw_label" | xargs -r docker network rm >/dev/null
  docker volume ls -q --filter "label=io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" | xargs -r docker volume rm >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/catalog.yaml" <<'YAML'
name: bench
servers:
  - {id: web, image: "mcp-echo:latest", transport: streamable-http, port: 8080, resources: {memory: 64m, cpus: 0.25, pids: 32}}
  - {id: web2, image: "mcp-echo:latest", transport: streamable-http, port: 8080, resources: {memory: 64m, cpus: 0.25, pids: 32}}
  - {id: cli, image: "mcp-echo:latest", resources: {memory: 64m, cpus: 0.25, pids: 32}}
  - {id: cli2, image: "mcp-echo:latest", resources: {memory: 64m, cpus: 0.25, pids: 32}}
YAML
"$bin" catalog upload "$work/catalog.yaml" >/dev/null

now() { date +%s%N; }
# The same container `portalctl enable web` makes, by hand.
raw_run() { # name network port
  docker run -d --name "$1" --label "$raw_label" --network "$2" --network-alias web \
    --memory 64m --memory-swap 64m --cpus 0.25 --cpu-shares 256 --pids-limit 32 \
    --cap-drop ALL --security-opt no-new-privileges:true --read-only \
    --tmpfs /tmp:rw,noexec,nosuid,size=64m --log-driver json-file --log-opt max-size=10m --log-opt max-file=3 \
    --user 65534:65534 -e MCP_TRANSPORT=streamable-http -e MCP_SERVER_PORT=8080 \
    -p "127.0.0.1:$3:8080" mcp-echo:latest >/dev/null
}

echo "== latency: $pairs paired runs"
"$bin" user add lat >/dev/null
"$bin" enable cli --user lat >/dev/null          # keeps the user's network in place
docker network create --label "$raw_label" --subnet 10.241.0.0/24 bench-raw-lat >/dev/null
ratios=()
for i in $(seq 1 "$pairs"); do
  t0=$(now); "$bin" enable web --user lat >/dev/null; t1=$(now)
  raw_run "raw-lat-$i" bench-raw-lat 45500; t2=$(now)
  ratios+=("$(( (t1 - t0) * 1000 / (t2 - t1) ))")
  portal_ms+=("$(( (t1 - t0) / 1000000 ))"); raw_ms+=("$(( (t2 - t1) / 1000000 ))")
  "$bin" disable web --user lat >/dev/null; docker rm -f "raw-lat-$i" >/dev/null
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m=$(median "${ratios[@]}")
printf 'enable median %s ms, docker run median %s ms, median ratio %d.%03d (target <= 1.15)\n' \
  "$(median "${portal_ms[@]}")" "$(median "${raw_ms[@]}")" $((m / 1000)) $((m % 1000))

echo "== throughput: $users users x 4 servers at concurrency $conc"
for u in $(seq 1 "$users"); do "$bin" user add "tp-$u" >/dev/null; done
jobs_file="$work/jobs"
for u in $(seq 1 "$users"); do for s in web web2 cli cli2; do echo "$s tp-$u"; done; done > "$jobs_file"
t0=$(now)
portal_fail=$(xargs -P "$conc" -L 1 sh -c '"$0" enable "$1" --user "$2" >/dev/null 2>&1 || echo fail' "$bin" < "$jobs_file" | wc -l)
t1=$(now)
for u in $(seq 1 "$users"); do
  docker network create --label "$raw_label" --subnet "10.242.$u.0/24" "bench-raw-$u" >/dev/null
done
port=46000
: > "$work/raw-jobs"
for u in $(seq 1 "$users"); do for s in 1 2 3 4; do port=$((port + 1)); echo "raw-$u-$s bench-raw-$u $port" >> "$work/raw-jobs"; done; done
export -f raw_run; export raw_label
t2=$(now)
raw_fail=$(xargs -P "$conc" -L 1 bash -c 'raw_run "$0" "$1" "$2" 2>/dev/null || echo fail' < "$work/raw-jobs" | wc -l)
t3=$(now)
n=$((users * 4))
portal_rate=$(( n * 1000000000000 / (t1 - t0) ))   # milli-containers per second
raw_rate=$(( n * 1000000000000 / (t3 - t2) ))
ratio=$(( portal_rate * 1000 / raw_rate ))
running=$(docker ps -q --filter "label=io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" | wc -l)
printf 'portal: %d containers in %d ms (%d.%03d/s), %d failed, %d running\n' "$n" $(( (t1 - t0) / 1000000 )) \
  $((portal_rate / 1000)) $((portal_rate % 1000)) "$portal_fail" "$running"
printf 'docker run: %d containers in %d ms (%d.%03d/s), %d failed\n' "$n" $(( (t3 - t2) / 1000000 )) \
  $((raw_rate / 1000)) $((raw_rate % 1000)) "$raw_fail"
printf 'throughput ratio %d.%03d (target >= 0.9)\n' $((ratio / 1000)) $((ratio % 1000))

echo "== leftovers after disabling everything"
xargs -P "$conc" -L 1 sh -c '"$0" disable "$1" --user "$2" >/dev/null 2>&1 || echo fail' "$bin" < "$jobs_file" | wc -l | xargs printf '%s disable failures\n'
"$bin" disable cli --user lat >/dev/null
left=$(docker ps -aq --filter "label=io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" | wc -l)
nets=$(docker network ls -q --filter "label=io.mcp-portal.instance=$MCP_PORTAL_INSTANCE" | wc -l)
echo "$left containers and $nets networks left behind"
