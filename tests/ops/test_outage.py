"""A database that goes silent under load (issue 24; docs/operations.md "Diagnostics"): through a loopback
TCP proxy that stops forwarding, 60 concurrent requests that need storage each get 503 + Retry-After within
the documented deadline, and /healthz and /readyz keep answering within two seconds meanwhile."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from service.storage.db import request_deadline
from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE
from tests.pas.server import running_server
from tests.support.proxy import DEADLINES, Proxy
from tests.support.settings import make_settings

CONCURRENT = 60
PROBE_LIMIT = 2.0  # seconds /healthz and /readyz may take while the database is silent


def timed(call) -> tuple[int | str, float]:
    started = time.monotonic()
    try:
        status: int | str = call().status_code
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    return status, time.monotonic() - started


def test_sixty_requests_on_a_silent_database_each_get_503_in_time(postgres_database, tmp_path):
    deadline = request_deadline(make_settings(tmp_path, **{k.lower(): float(v) for k, v in DEADLINES.items()})) + 1.0
    proxy = Proxy.before(postgres_database)
    try:
        with running_server(tmp_path / "data", proxy.url(postgres_database), **DEADLINES) as server:
            ok = httpx.post(f"{server.url}/fhir/Claim/$submit", json=request_bundle("aetna", BASE), timeout=30)
            assert ok.status_code == 200
            rid = ok.json()["entry"][0]["resource"]["id"]
            with ThreadPoolExecutor(CONCURRENT) as warm:  # fill the pool with live connections first
                list(warm.map(lambda _: httpx.get(f"{server.url}/fhir/ClaimResponse/{rid}", timeout=30),
                              range(CONCURRENT)))
            proxy.mode = "stall"  # not switch(): connections stay open, nothing more is forwarded, new ones hang
            limit = deadline + 10  # the client gives up here; a request past `deadline` fails the test anyway

            def read(i: int):
                if i % 3 == 0:
                    return timed(lambda: httpx.post(f"{server.url}/fhir/Claim/$submit",
                                                    json=request_bundle("aetna", BASE), timeout=limit))
                return timed(lambda: httpx.get(f"{server.url}/fhir/ClaimResponse/{rid}", timeout=limit))

            probes: list[tuple[str, int | str, float]] = []
            stop = threading.Event()

            def probe() -> None:
                time.sleep(0.5)  # once the requests hold every thread and connection
                while not stop.is_set():
                    for path in ("/healthz", "/readyz"):
                        status, took = timed(lambda p=path: httpx.get(f"{server.url}{p}", timeout=10))
                        probes.append((path, status, took))
                    time.sleep(0.2)

            prober = threading.Thread(target=probe, daemon=True)
            prober.start()
            with ThreadPoolExecutor(CONCURRENT) as pool:
                results = list(pool.map(read, range(CONCURRENT)))
            stop.set()
            prober.join(timeout=30)
            slowest = max(took for _, took in results)
            late = [(s, round(t, 1)) for s, t in results if t > deadline]
            statuses = sorted({str(s) for s, _ in results})
            print(f"\n{CONCURRENT} requests on a silent database: statuses {statuses}, slowest {slowest:.1f} s "
                  f"(deadline {deadline:g} s); probes slowest {max((t for *_, t in probes), default=0):.2f} s")
            assert all(s == 503 for s, _ in results), statuses
            assert not late, late
            assert probes and all(took < PROBE_LIMIT for *_, took in probes), probes
            assert {(p, s) for p, s, _ in probes} == {("/healthz", 200), ("/readyz", 503)}

            proxy.switch("pass")  # the database comes back: so does the service, without a restart
            back = time.monotonic() + 30
            while httpx.get(f"{server.url}/readyz", timeout=10).status_code != 200:
                assert time.monotonic() < back
                time.sleep(0.5)
            assert httpx.get(f"{server.url}/fhir/ClaimResponse/{rid}", timeout=30).status_code == 200
    finally:
        proxy.close()
