"""Claim/$submit against its storage floor (issue 25): the floor, this tree and a baseline tree, interleaved.

Usage: python3 bench/pas_floor.py [--baseline /work/base-da5ffdc] [--requests 150] [--rounds 3]
       [--concurrency 16] [--pg URL] [--backends postgresql,sqlite]

The floor (bench/pas_floor_app.py) parses the same request Bundle with orjson and stores it with one INSERT
and one COMMIT. Every request of every round is a distinct Bundle with fresh identifiers. Each system runs
as its own uvicorn (cwd and PYTHONPATH its tree, so the baseline runs its own code) on its own database;
PostgreSQL with two workers, SQLite with one. Rounds rotate the order of the systems; CPU is the server's
process group (master and workers) from /proc, per request.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.pas.bundles import request_bundle  # noqa: E402
from tests.pas.cases import CASES  # noqa: E402
from tests.pas.server import free_port, server_env  # noqa: E402
from tests.support.databases import throwaway_database  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


class Server:
    """One system under test: uvicorn on a loopback port, in its own session (process group)."""

    def __init__(self, name: str, root: Path, app: str, data_dir: Path, database_url: str | None, workers: int):
        self.name, self.port = name, free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {**server_env(data_dir, database_url, self.port), "PYTHONPATH": str(root)}
        self.log = open(data_dir.parent / f"{name}-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "warning", "--workers", str(workers), "--no-access-log"],
            cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become ready; see {self.log.name}")

    def cpu_seconds(self) -> float:
        """User + system CPU of every live process in the server's process group."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid:  # pgrp (start_new_session: the master's pid)
                total += int(fields[11]) + int(fields[12])
        return total / TICK

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


@contextmanager
def serving(*args):
    server = Server(*args)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def bodies(count: int) -> list[bytes]:
    """Distinct PAS request Bundles (fresh Bundle and Claim identifiers), cycling every payer and decision."""
    return [orjson.dumps(request_bundle(CASES[i % len(CASES)][1], CASES[i % len(CASES)][2])) for i in range(count)]


async def post_all(port: int, payloads: list[bytes], concurrency: int) -> tuple[float, list[float], int]:
    """POST every payload with `concurrency` keep-alive connections (a minimal HTTP/1.1 client, so the
    client's own CPU stays small on a 2-core machine); returns (seconds, latencies in ms, non-200 count)."""
    queue = list(reversed(payloads))
    latencies: list[float] = []
    failures = 0

    async def connection() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                body = queue.pop()
                head = (f"POST /fhir/Claim/$submit HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        f"Content-Type: application/fhir+json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                started = time.perf_counter()
                writer.write(head + body)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - started) * 1000)
                failures += status_line.split()[1:2] != [b"200"]
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, failures


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_backend(backend: str, systems: list[tuple[str, Path, str]], args, tmp: Path) -> None:
    workers = 2 if backend == "postgresql" else 1
    totals = {name: {"seconds": 0.0, "latencies": [], "cpu": 0.0, "failures": 0} for name, _, _ in systems}
    with ExitStack() as stack:
        servers = []
        for name, root, app in systems:
            url = stack.enter_context(throwaway_database()) if backend == "postgresql" else None
            if backend == "postgresql" and not url:
                print(f"{backend}: skipped (no PostgreSQL at --pg)")
                return
            servers.append(stack.enter_context(serving(name, root, app, tmp / f"{backend}-{name}" / "data",
                                                       url, workers)))
        for server in servers:  # warm-up: imports, pools, first-use caches
            asyncio.run(post_all(server.port, bodies(40), args.concurrency))
        for round_no in range(args.rounds):
            for server in servers[round_no % len(servers):] + servers[:round_no % len(servers)]:
                payloads = bodies(args.requests)
                cpu = server.cpu_seconds()
                seconds, latencies, failures = asyncio.run(post_all(server.port, payloads, args.concurrency))
                cpu = server.cpu_seconds() - cpu
                total = totals[server.name]
                total["seconds"] += seconds
                total["latencies"] += latencies
                total["cpu"] += cpu
                total["failures"] += failures
                print(f"  {backend} round {round_no + 1} {server.name:8} {len(latencies) / seconds:7.1f} req/s "
                      f"p50 {pct(latencies, 50):6.1f} p99 {pct(latencies, 99):6.1f} ms "
                      f"cpu {cpu / len(latencies) * 1000:5.2f} ms/req", flush=True)
    print(f"\n{backend}, {workers} worker(s), {args.rounds} rounds x {args.requests} distinct requests, "
          f"{args.concurrency} in flight, {os.cpu_count()} CPUs")
    print("| system | req/s | p50 ms | p99 ms | server CPU ms/req | non-200 | req/s vs floor | p99 vs floor |")
    print("|---|---|---|---|---|---|---|---|")
    floor = totals[systems[0][0]]
    floor_rate = len(floor["latencies"]) / floor["seconds"]
    for name, _, _ in systems:
        t = totals[name]
        rate = len(t["latencies"]) / t["seconds"]
        print(f"| {name} | {rate:.1f} | {pct(t['latencies'], 50):.1f} | {pct(t['latencies'], 99):.1f} "
              f"| {t['cpu'] / len(t['latencies']) * 1000:.2f} | {t['failures']} | {rate / floor_rate:.2f}x "
              f"| {pct(t['latencies'], 99) / pct(floor['latencies'], 99):.2f}x |")
    if len(systems) == 3:
        tree, base = totals[systems[1][0]], totals[systems[2][0]]
        ratio = (len(tree["latencies"]) / tree["seconds"]) / (len(base["latencies"]) / base["seconds"])
        print(f"this tree vs baseline: {ratio:.2f}x req/s\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=Path("/work/base-da5ffdc"))
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL")
                        or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args()
    os.environ["TEST_DATABASE_URL"] = args.pg
    systems = [("floor", ROOT, "bench.pas_floor_app:app"), ("tree", ROOT, "service.app:app")]
    if args.baseline and (args.baseline / "service").is_dir():
        systems.append(("baseline", args.baseline.resolve(), "service.app:app"))
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            run_backend(backend, systems, args, Path(tmp))


if __name__ == "__main__":
    main()
