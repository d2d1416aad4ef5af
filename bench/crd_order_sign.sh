#!/usr/bin/env bash
# CRD order-sign throughput and latency: our service vs a bare FastAPI endpoint parsing the same
# JSON (the framework floor), one uvicorn worker each, wrk at 16 connections. Loopback only.
# Usage: bash bench/crd_order_sign.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-15}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
python3 bench/crd_body.py > "$work/body.json"
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$work/body.json", "r"); wrk.body = f:read("*a"); f:close()
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect + summary.errors.timeout))
end
LUA
run() {  # name app port
  DATA_DIR="$work/data" LOG_LEVEL=WARNING PUBLIC_BASE_URL="http://127.0.0.1:$3" \
    python3 -m uvicorn "$2" --host 127.0.0.1 --port "$3" --workers 1 --log-level warning --no-access-log &
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$3/cds-services" 2>/dev/null && break; sleep 0.1; done
  wrk -t2 -c16 -d2s -s "$work/post.lua" "http://127.0.0.1:$3/cds-services/besponsa-order-sign" >/dev/null  # warm-up
  echo "$1: $(wrk -t2 -c16 -d"${DURATION}s" --latency -s "$work/post.lua" \
    "http://127.0.0.1:$3/cds-services/besponsa-order-sign" | grep RESULT)"
  kill %1; wait %1 2>/dev/null || true
}
run floor bench.floor_app:app 18081
run service service.app:app 18082
