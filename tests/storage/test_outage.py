"""Database outages through a loopback TCP proxy in front of PostgreSQL (issue 16): refused or
silent, requests fail fast with 503 + Retry-After (never a 500, never a hang), health stays up,
and a service started while the database is away serves /readyz 503 until it comes back."""
from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE
from tests.pas.server import running_server
from tests.storage.pg import throwaway_database


class Proxy:
    """Forwards loopback TCP to PostgreSQL; `mode` is pass, refuse (reset at once) or stall (silence)."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.mode, self.open = target, "pass", []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.mode == "refuse":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                client.close()
                continue
            self.open.append(client)
            if self.mode == "stall":
                continue  # accepted, never answered
            upstream = socket.create_connection(self.target)
            self.open.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    def pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while (data := source.recv(65536)) and self.mode == "pass":
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.close()
            except OSError:
                pass

    def switch(self, mode: str) -> None:
        """Change mode and cut every connection made so far (the pool must reconnect)."""
        self.mode = mode
        for s in self.open:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.open = []

    def close(self) -> None:
        self.switch("refuse")
        self.server.close()


@pytest.fixture(scope="module")
def database():
    with throwaway_database() as url:
        if not url:
            pytest.skip("TEST_DATABASE_URL not set (no PostgreSQL reachable)")
        yield url


def via(proxy: Proxy, url: str) -> str:
    parsed = make_url(url)
    return parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


DEADLINES = {"DB_CONNECT_TIMEOUT_SECONDS": "2", "DB_STATEMENT_TIMEOUT_SECONDS": "3", "DB_POOL_TIMEOUT_SECONDS": "2"}


def test_refused_and_silent_databases_fail_fast_with_503(database, tmp_path):
    target = make_url(database)
    proxy = Proxy((target.host or "127.0.0.1", target.port or 5432))
    try:
        with running_server(tmp_path / "data", via(proxy, database), **DEADLINES) as server:
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


def test_starting_while_the_database_is_away_serves_readyz_503_then_recovers(database, tmp_path):
    target = make_url(database)
    proxy = Proxy((target.host or "127.0.0.1", target.port or 5432))
    proxy.switch("refuse")
    try:
        from tests.pas.server import Server
        server = Server(tmp_path / "data", via(proxy, database), **DEADLINES)
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
