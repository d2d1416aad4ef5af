"""Reviewer desk fixtures: a live server per storage backend (each with its own database), accounts
made with the CLI, and the seeded determinations of seed.py."""
from __future__ import annotations

import httpx
import pytest

from tests.pas.server import running_server
from tests.review.desk import NURSE, OPERATOR, PHYSICIAN, make_accounts, signed_in
from tests.review.seed import seed_rows


@pytest.fixture(scope="module")
def desk_backend(backend):
    """(name, data_dir, database_url): tests/conftest.py's `backend`, a fresh SQLite directory or PostgreSQL
    database for this module."""
    return backend


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


@pytest.fixture()
def store(migrated_storage):
    """A migrated storage: a fresh SQLite file, or the module's scratch PostgreSQL database emptied after each test."""
    return migrated_storage
