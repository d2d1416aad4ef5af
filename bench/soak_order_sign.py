"""Soak: N order-sign calls (each a different patient) against one uvicorn worker; RSS before, during
and after, so a leak shows as growth that does not level off (issue 16). Loopback only, bounded.

    python3 bench/soak_order_sign.py [calls=100000] [DATABASE_URL]

Load from wrk (apt-get install wrk) in 3-second rounds; the worker's VmRSS read from /proc after each.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.crd.requests import besponsa_request, hook_request  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("%s", "r"); local base = f:read("*a"); f:close()
local bodies, n = {}, 20000
for i = 1, n do  -- a birth date of its own per patient, so every call runs prefill and the decision
  local t = os.time({year = 1940, month = 1, day = 1, hour = 12}) + (i - 1) * 86400
  bodies[i] = base:gsub('"1980%%-01%%-01"', '"' .. os.date("!%%Y-%%m-%%d", t) .. '"', 1)
end
local i = 0
request = function() i = i %% n + 1; return wrk.format(nil, nil, nil, bodies[i]) end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%%d errors=%%d\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.timeout))
end
"""


def drive(url: str, calls: int, pid: int, workdir: str) -> int:
    """wrk in ten rounds of one second per ~5 000 calls, RSS read between rounds, until `calls` are sent."""
    body = Path(workdir) / "body.json"
    body.write_text(json.dumps(hook_request([besponsa_request()])))
    script = Path(workdir) / "soak.lua"
    script.write_text(WRK_SCRIPT % body)
    sent, errors, started, rounds = 0, 0, time.monotonic(), 0
    while sent < calls and rounds < 200 and time.monotonic() - started < 900:
        rounds += 1
        out = subprocess.run(["wrk", "-t2", "-c16", "-d3s", "-s", str(script), f"{url}/cds-services/besponsa-order-sign"],
                             capture_output=True, text=True, timeout=60).stdout
        line = next(x for x in out.splitlines() if x.startswith("RESULT"))
        fields = dict(kv.split("=") for kv in line.split()[1:])
        sent += int(fields["requests"])
        errors += int(fields["errors"])
        print(f"{sent:>8} calls  rss {rss_mb(pid):7.1f} MB", flush=True)
    print(f"errors {errors}")
    return sent


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    database = sys.argv[2] if len(sys.argv) > 2 else None
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "DATA_DIR": data, "LOG_LEVEL": "WARNING", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
               "CDS_ALLOW_UNSIGNED": "true"}  # the soak posts unsigned hook calls, as a sandbox EHR does
        env.pop("DATABASE_URL", None)
        if database:
            env["DATABASE_URL"] = database
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "service.app:app", "--port", str(port),
                                 "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=env)
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            before = rss_mb(proc.pid)
            print(f"storage {'PostgreSQL' if database else 'SQLite'}; rss before {before:.1f} MB")
            sent = drive(f"http://127.0.0.1:{port}", calls, proc.pid, data)
            time.sleep(2)  # the audit writer drains its queue
            after = rss_mb(proc.pid)
            print(f"rss after {after:.1f} MB (growth {after - before:+.1f} MB over {sent} calls)")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
