"""PAS end-to-end fixtures: one live server per storage backend (tests/conftest.py `backend`)."""
from __future__ import annotations

import pytest

from tests.pas import structure
from tests.pas.server import running_server


@pytest.fixture(autouse=True)
def checked_response_bundles(monkeypatch):
    """Every PAS response Bundle an in-process app builds passes the structure check (tests/pas/structure.py)."""
    from service.pas import routes

    def checked(*args, **kwargs):
        bundle = real(*args, **kwargs)
        structure.assert_structure(bundle)
        return bundle
    real = routes.response_bundle
    monkeypatch.setattr(routes, "response_bundle", checked)


@pytest.fixture(scope="module")
def server(backend):
    """The service on loopback over `backend` (tests/conftest.py: SQLite, and PostgreSQL when reachable)."""
    _, data_dir, url = backend
    with running_server(data_dir, url) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server):
    import httpx
    with httpx.Client(base_url=server.url, timeout=30) as client:
        structure.install(client)  # every response Bundle of the live server passes the structure check
        yield client
