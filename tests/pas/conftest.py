"""PAS end-to-end fixtures: one live server per storage backend (SQLite, PostgreSQL)."""
from __future__ import annotations

import pytest

from tests.pas import structure
from tests.pas.server import running_server
from tests.storage.pg import throwaway_database


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


@pytest.fixture(scope="session")
def pas_pg_url():
    with throwaway_database() as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request, tmp_path_factory, pas_pg_url):
    """(name, data_dir, database_url) for each storage the service supports."""
    if request.param == "postgresql" and not pas_pg_url:
        pytest.skip("TEST_DATABASE_URL not set (no PostgreSQL reachable)")
    return (request.param, tmp_path_factory.mktemp(f"pas-{request.param}") / "data",
            pas_pg_url if request.param == "postgresql" else None)


@pytest.fixture(scope="module")
def server(backend):
    _, data_dir, url = backend
    with running_server(data_dir, url) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server):
    import httpx
    with httpx.Client(base_url=server.url, timeout=30) as client:
        structure.install(client)  # every response Bundle of the live server passes the structure check
        yield client
