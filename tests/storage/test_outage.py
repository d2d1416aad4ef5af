"""Database outages through a loopback TCP proxy in front of PostgreSQL (issue 16): refused or
silent, requests fail fast with 503 + Retry-After (never a 500, never a hang), health stays up,
and a service started while the database is away serves /readyz 503 until it comes back."""
from __future__ import annotations

import time

import httpx

from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE
from tests.pas.server import running_server
from tests.support.proxy import DEADLINES, Proxy


def test_refused_and_silent_databases_fail_fast_with_503(postgres_database, tmp_path):
    proxy = Proxy.before(postgres_database)
    try:
        with running_server(tmp_path / "data", proxy.url(postgres_database), **DEADLINES) as server:
            ok = httpx.post(f"{server.url}/fhir/Claim/$submit", json=request_bundle("aetna", BASE), timeout=30)
            assert ok.status_code == 200
            rid = ok.json()["entry"][0]["resource"]["id"]
            for mode in ("refuse", "stall"):
                proxy.switch(mode)
                for call in (lambda: httpx.post(f"{server.url}/fhir/Claim/$submit", json=request_bundle("aetna", BASE),
                                                timeout=30),
                             lambda: httpx.get(f"{server.url}/fhir/ClaimResponse/{rid}", timeout=30)):
                    started = time.monotonic()
                    r = call()
                    assert r.status_code == 503, (mode, r.status_code, r.text[:300])
                    assert r.headers["retry-after"] and r.json()["resourceType"] == "OperationOutcome"
                    assert time.monotonic() - started < 15, mode  # deadlines, not a hang
                assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
                assert httpx.get(f"{server.url}/fhir/metadata", timeout=5).status_code == 200
                assert httpx.get(f"{server.url}/readyz", timeout=30).status_code == 503
            proxy.switch("pass")
            deadline = time.monotonic() + 30
            while httpx.get(f"{server.url}/readyz", timeout=30).status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.5)
            assert httpx.get(f"{server.url}/fhir/ClaimResponse/{rid}", timeout=30).status_code == 200
    finally:
        proxy.close()


def test_starting_while_the_database_is_away_serves_readyz_503_then_recovers(postgres_database, tmp_path):
    proxy = Proxy.before(postgres_database)
    proxy.switch("refuse")
    try:
        from tests.pas.server import Server
        server = Server(tmp_path / "data", proxy.url(postgres_database), **DEADLINES)
        try:
            deadline = time.monotonic() + 60
            while True:  # the process comes up and answers, though not ready
                assert server.proc.poll() is None, "the service exited instead of waiting for its database"
                try:
                    r = httpx.get(f"{server.url}/readyz", timeout=5)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            assert r.status_code == 503 and "database" in r.json()["status"]
            assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
            proxy.switch("pass")
            while httpx.get(f"{server.url}/readyz", timeout=10).status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.5)
            assert httpx.post(f"{server.url}/fhir/Claim/$submit", json=request_bundle("aetna", BASE),
                              timeout=30).status_code == 200
        finally:
            server.stop()
    finally:
        proxy.close()
