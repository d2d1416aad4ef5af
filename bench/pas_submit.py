"""Benchmark Claim/$submit: throughput and latency percentiles on SQLite and PostgreSQL, 1 and 4 workers.

Usage: python3 bench/pas_submit.py [--requests 400] [--concurrency 16] [--pg URL]
       python3 bench/pas_submit.py --in-process 300 [--baseline /work/base-da5ffdc] [--rounds 3]
Starts the real service (uvicorn subprocess on loopback) per configuration; each request is a
distinct PAS Bundle (no idempotent replays), cycling through every payer and decision.

--in-process: the route's own work, sequential, on SQLite, no HTTP (parse, validate, decide, store,
build the response Bundle and render it), as ms of wall and CPU per request; with --baseline the same
code runs against that tree too (its own imports), rounds interleaved (issue 25).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.environ.get("BENCH_TREE", str(ROOT)))  # --in-process runs a tree's own code
from tests.pas.bundles import request_bundle  # noqa: E402
from tests.pas.cases import CASES  # noqa: E402
from tests.pas.server import running_server  # noqa: E402
from tests.support.databases import throwaway_database  # noqa: E402


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


def measure_in_process(count: int) -> str:
    """ms per request of the $submit route's work in this process (SQLite in a temporary DATA_DIR)."""
    os.environ.update(DATA_DIR=tempfile.mkdtemp(), AUTH_DISABLED="true", LOG_LEVEL="WARNING",
                      PUBLIC_BASE_URL="http://127.0.0.1")
    os.environ.pop("DATABASE_URL", None)
    import orjson

    from service.api.body import parse_json
    from service.config import get_settings
    from service.fhir.outcome import fhir_response
    from service.pas.bundle import unwrap_resource
    from service.pas.request import read_submit
    from service.pas.submit import response_bundle, submit
    from service.storage.db import open_storage
    settings = get_settings()
    storage = open_storage(settings)
    storage.migrate()

    def one(body: bytes) -> None:
        stored = submit(storage, settings, read_submit(unwrap_resource(parse_json(body))), None)
        fhir_response(response_bundle(settings.public_base_url, stored))

    make = lambda i: orjson.dumps(request_bundle(CASES[i % len(CASES)][1], CASES[i % len(CASES)][2]))  # noqa: E731
    for i in range(30):  # warm-up
        one(make(i))
    bodies = [make(i) for i in range(count)]
    wall, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        one(body)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return f"{wall / count * 1000:.2f} {cpu / count * 1000:.2f}"


def compare_in_process(args) -> None:
    """This tree against --baseline, each in its own interpreter, rounds interleaved."""
    trees = [("tree", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in trees}
    for _ in range(args.rounds):
        for name, tree in trees:
            out = subprocess.run([sys.executable, __file__, "--measure-in-process", str(args.in_process)],
                                 cwd=tree, env={**os.environ, "BENCH_TREE": str(tree), "PYTHONPATH": str(tree)},
                                 capture_output=True, text=True, check=True).stdout.split()
            results[name].append((float(out[-2]), float(out[-1])))
            print(f"  {name:8} {out[-2]} ms wall, {out[-1]} ms CPU per request", flush=True)
    print(f"\nin process, SQLite, {args.in_process} distinct requests, sequential, {args.rounds} rounds (median)")
    print("| tree | wall ms/req | CPU ms/req |\n|---|---|---|")
    for name, rows in results.items():
        walls, cpus = sorted(r[0] for r in rows), sorted(r[1] for r in rows)
        print(f"| {name} | {walls[len(walls) // 2]:.2f} | {cpus[len(cpus) // 2]:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-process", type=int, default=0, help="requests per in-process round (0: off)")
    parser.add_argument("--measure-in-process", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL")
                        or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    if args.measure_in_process:
        print(measure_in_process(args.measure_in_process))
        return
    if args.in_process:
        compare_in_process(args)
        return
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
