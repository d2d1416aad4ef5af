"""Reviewer desk fixtures: a live server per storage backend (each with its own database), accounts
made with the CLI, and the seeded determinations of seed.py."""
from __future__ import annotations

import httpx
import pytest

from tests.pas.server import running_server
from tests.review.desk import NURSE, OPERATOR, PHYSICIAN, make_accounts, signed_in
from tests.review.seed import seed_rows
from tests.storage.pg import empty_tables, throwaway_database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def desk_backend(request, tmp_path_factory):
    """(name, data_dir, database_url): a fresh SQLite directory, or a fresh PostgreSQL database."""
    data_dir = tmp_path_factory.mktemp(f"desk-{request.param}") / "data"
    if request.param == "sqlite":
        yield request.param, data_dir, None
        return
    with throwaway_database() as url:
        if not url:
            pytest.skip("TEST_DATABASE_URL not set (no PostgreSQL reachable)")
        yield request.param, data_dir, url


@pytest.fixture(scope="module")
def desk(desk_backend):
    """The service with DENY_REQUIRES_REVIEW (would-be denials pend), three accounts and the seeded set."""
    _, data_dir, url = desk_backend
    with running_server(data_dir, url, DENY_REQUIRES_REVIEW="true", AUTH_DISABLED="true") as server:
        make_accounts(data_dir, url)
        seed_rows(data_dir, url)
        server.data_dir, server.database_url = data_dir, url
        yield server


@pytest.fixture(scope="module")
def anon(desk):
    """A caller with no session (a provider's system, with authorization off on this server)."""
    with httpx.Client(base_url=desk.url, timeout=30) as http:
        yield http


def signed_in_as(desk, username: str):
    http = signed_in(desk.url, username)
    yield http
    http.close()


@pytest.fixture(scope="module")
def nurse(desk):
    yield from signed_in_as(desk, NURSE)


@pytest.fixture(scope="module")
def physician(desk):
    yield from signed_in_as(desk, PHYSICIAN)


@pytest.fixture(scope="module")
def operator(desk):
    yield from signed_in_as(desk, OPERATOR)


@pytest.fixture()
def storage(desk):
    """The desk server's own database, opened beside it (to look at what a request stored)."""
    from service.config import Settings
    from service.storage import open_storage
    store = open_storage(Settings(data_dir=desk.data_dir, database_url=desk.database_url))
    yield store
    store.close()


@pytest.fixture(scope="module")
def unit_pg_url():
    with throwaway_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, unit_pg_url):
    """A migrated storage: a fresh SQLite file, or the module's PostgreSQL database emptied after each test."""
    from service.config import Settings
    from service.storage import open_storage
    if request.param == "postgresql" and not unit_pg_url:
        pytest.skip("TEST_DATABASE_URL not set (no PostgreSQL reachable)")
    storage = open_storage(Settings(data_dir=tmp_path / "data",
                                    database_url=unit_pg_url if request.param == "postgresql" else None))
    storage.migrate()
    yield storage
    if storage.engine.dialect.name == "postgresql":
        empty_tables(storage.engine)
    storage.close()
