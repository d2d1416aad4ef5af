#!/usr/bin/env bash
# CRD order-sign throughput and latency: our service vs bare FastAPI endpoints parsing the same
# JSON (the framework floor), one uvicorn worker each, wrk at 16 connections. Loopback only.
#
#   floor-json    bare FastAPI, stdlib json (the issue's floor)
#   floor-orjson  bare FastAPI, orjson (the stricter floor: same parser as the service)
#   same-chart    the service, one request body repeated
#   new-charts    the service, 20 000 different patients in rotation (birth date and CD22 %
#                 differ), so nothing a cache could keep would repeat; the service keeps none:
#                 every call runs prefill and the decision
#
# Each on two bodies: `plain` (the test suite's request) and `ehr` (bench/crd_body.py --ehr: an EHR's
# order-sign, 13 KB with meta, narrative, dosage and a fuller chart; issue 25).
#
# Usage: bash bench/crd_order_sign.sh [seconds per run] [rounds]
#   COMPARE_WITH=/path/to/another/checkout adds its same-chart and new-charts runs to every round
#   (before/after a change: git worktree add /tmp/before <commit>).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-15}"
ROUNDS="${2:-3}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
python3 bench/crd_body.py > "$work/body-plain.json"
python3 bench/crd_body.py --ehr > "$work/body-ehr.json"
script() {  # file variants body
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$3", "r"); local base = f:read("*a"); f:close()
local bodies, n = {}, $2
for i = 1, n do  -- a birth date and a CD22 percent of its own; a distinct hookInstance per body
  local t = os.time({year = 1940, month = 1, day = 1, hour = 12}) + (i - 1) * 86400
  local b = base:gsub('"1980%-01%-01"', '"' .. os.date("!%Y-%m-%d", t) .. '"', 1)
  b = b:gsub('"value": 60%.0', string.format('"value": %.2f', 5 + (i * 37 % 9500) / 100), 1)  -- CD22 %
  bodies[i] = b:gsub('"hookInstance": "[^"]*"', '"hookInstance": "bench-' .. i .. '"', 1)
end
local i = 0
request = function()
  i = i % n + 1
  return wrk.format(nil, nil, nil, n == 1 and base or bodies[i])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect + summary.errors.timeout,
    summary.requests))
end
LUA
}
for shape in plain ehr; do
  script "$work/same-$shape.lua" 1 "$work/body-$shape.json"
  script "$work/new-$shape.lua" 20000 "$work/body-$shape.json"
done
cpu_ticks() {  # utime + stime of a process, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}
run() {  # name app port path lua body [app-dir]
  DATA_DIR="$work/data-$3" LOG_LEVEL=WARNING PUBLIC_BASE_URL="http://127.0.0.1:$3" CDS_ALLOW_UNSIGNED=true \
    python3 -m uvicorn "$2" --host 127.0.0.1 --port "$3" --workers 1 --log-level warning --no-access-log \
    --app-dir "${7:-.}" &
  local pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$3/docs" 2>/dev/null && break; sleep 0.1; done
  local url="http://127.0.0.1:$3$4"
  curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary @"$6" "$url" \
    || { echo "$1: $url does not answer 200" >&2; kill "$pid"; return 1; }
  wrk -t2 -c16 -d2s -s "$5" "$url" >/dev/null  # warm-up
  local before result after
  before=$(cpu_ticks "$pid")
  result=$(wrk -t2 -c16 -d"${DURATION}s" --latency -s "$5" "$url" | grep RESULT)
  after=$(cpu_ticks "$pid")
  # The server's own CPU per request (user + system, from /proc): what a shared VM's other load
  # does not change the way it changes req/s and p99.
  echo "$1: $result cpu_us=$(( (after - before) * 1000000 / $(getconf CLK_TCK) / ${result##*requests=} ))"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
# Rounds interleave the four runs, so a slow spell of this shared VM hits them alike; the
# summary gives each run's median and the service's median ratio to each floor.
for round in $(seq "$ROUNDS"); do
  for shape in plain ehr; do
    body="$work/body-$shape.json"
    run "floor-json-$shape" bench.floor_app:app 18081 /json/cds-services/besponsa-order-sign "$work/same-$shape.lua" "$body"
    run "floor-orjson-$shape" bench.floor_app:app 18082 /orjson/cds-services/besponsa-order-sign "$work/same-$shape.lua" "$body"
    run "same-chart-$shape" service.app:app 18083 /cds-services/besponsa-order-sign "$work/same-$shape.lua" "$body"
    run "new-charts-$shape" service.app:app 18084 /cds-services/besponsa-order-sign "$work/new-$shape.lua" "$body"
    if [ -n "${COMPARE_WITH:-}" ]; then
      run "same-chart-$shape-other" service.app:app 18085 /cds-services/besponsa-order-sign "$work/same-$shape.lua" "$body" "$COMPARE_WITH"
      run "new-charts-$shape-other" service.app:app 18086 /cds-services/besponsa-order-sign "$work/new-$shape.lua" "$body" "$COMPARE_WITH"
    fi
  done
done | tee "$work/results"
python3 - "$work/results" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    if m := re.match(r"(\S+): RESULT rps=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+).* cpu_us=(\d+)", line):
        runs.setdefault(m[1], []).append((int(m[2]), float(m[3]), float(m[4]), int(m[5])))
rounds = list(zip(*runs.values()))
print(f"\nmedians over {len(rounds)} rounds:")
for name, rows in runs.items():
    print(f"  {name:22s} {statistics.median(r[0] for r in rows):6.0f} req/s  p50 "
          f"{statistics.median(r[1] for r in rows):.2f} ms  p99 {statistics.median(r[2] for r in rows):.2f} ms "
          f"(rounds: {' '.join(f'{r[2]:.1f}' for r in rows)})  CPU {statistics.median(r[3] for r in rows)} us/req")
for shape in ("plain", "ehr"):
    for name in [f"{k}-{shape}{o}" for k in ("same-chart", "new-charts") for o in ("", "-other")]:
        if name not in runs:
            continue
        for floor in (f"floor-json-{shape}", f"floor-orjson-{shape}"):
            ratios = [a[0] / b[0] for a, b in zip(runs[name], runs[floor])]
            cpu = [b[3] / a[3] for a, b in zip(runs[name], runs[floor])]  # floor CPU / ours: > 1 is cheaper
            print(f"  {name} / {floor}: req/s median {statistics.median(ratios):.2f} "
                  f"(rounds: {' '.join(f'{r:.2f}' for r in ratios)}); CPU per request {statistics.median(cpu):.2f}x "
                  f"(rounds: {' '.join(f'{r:.2f}' for r in cpu)})")
PY
