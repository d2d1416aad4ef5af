"""Benchmark Claim/$submit: throughput and latency percentiles on SQLite and PostgreSQL, 1 and 4 workers.

Usage: python3 bench/pas_submit.py [--requests 400] [--concurrency 16] [--pg URL]
Starts the real service (uvicorn subprocess on loopback) per configuration; each request is a
distinct PAS Bundle (no idempotent replays), cycling through every payer and decision.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.pas.bundles import request_bundle  # noqa: E402
from tests.pas.cases import CASES  # noqa: E402
from tests.pas.server import running_server  # noqa: E402
from tests.storage.pg import throwaway_database  # noqa: E402


async def drive(url: str, bundles: list[dict], concurrency: int) -> tuple[float, list[float], int]:
    """Send every bundle with `concurrency` in flight; returns (seconds, latencies ms, errors)."""
    queue: asyncio.Queue = asyncio.Queue()
    for b in bundles:
        queue.put_nowait(b)
    latencies: list[float] = []
    errors = 0

    async def worker(client: httpx.AsyncClient):
        nonlocal errors
        while not queue.empty():
            bundle = queue.get_nowait()
            t0 = time.perf_counter()
            r = await client.post("/fhir/Claim/$submit", json=bundle)
            latencies.append((time.perf_counter() - t0) * 1000)
            errors += r.status_code != 200

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - start, latencies, errors


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(name: str, database_url: str | None, workers: int, args) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        with running_server(Path(tmp) / "data", database_url, workers=workers) as srv:
            make = lambda i: request_bundle(CASES[i % len(CASES)][1], CASES[i % len(CASES)][2])  # noqa: E731
            asyncio.run(drive(srv.url, [make(i) for i in range(40)], args.concurrency))  # warm-up
            bundles = [make(i) for i in range(args.requests)]
            seconds, lat, errors = asyncio.run(drive(srv.url, bundles, args.concurrency))
    return (f"| {name:10} | {workers} | {len(lat)} | {len(lat) / seconds:7.1f} | {pct(lat, 50):6.1f} "
            f"| {pct(lat, 99):6.1f} | {errors} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL")
                        or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    os.environ["TEST_DATABASE_URL"] = args.pg
    print(f"$submit, {args.requests} distinct requests, {args.concurrency} in flight, "
          f"{os.cpu_count()} CPUs")
    print("| storage    | workers | requests | req/s | p50 ms | p99 ms | non-200 |")
    print("|---|---|---|---|---|---|---|")
    for workers in (1, 4):
        print(run("sqlite", None, workers, args), flush=True)
    with throwaway_database() as pg_url:
        for workers in (1, 4):
            try:
                print(run("postgresql", pg_url, workers, args), flush=True)
            except Exception as exc:  # noqa: BLE001 - report and go on; PostgreSQL may be absent
                print(f"| postgresql | {workers} | skipped: {exc} |")


if __name__ == "__main__":
    main()
