"""Shared fixtures: an isolated app per test on SQLite, and the storage backends (issue 27): SQLite always,
PostgreSQL when TEST_DATABASE_URL is set (a throwaway database each), skipped with the reason otherwise."""
from __future__ import annotations

import os

import pytest

from tests.support.databases import NO_POSTGRES, empty_tables, postgres_url, throwaway_database
from tests.support.settings import TEST_ORIGINS, guide_settings, make_settings

# Most tests post unsigned CDS Hooks calls, as an EHR sandbox does; the default (refused, 401) is
# tested with this unset (tests/crd/test_security.py). Subprocess servers inherit it.
os.environ.setdefault("CDS_ALLOW_UNSIGNED", "true")

__all__ = ["TEST_ORIGINS", "postgres_url"]  # still imported from here by tests/ops

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture()
def settings(tmp_path):
    """Authorization off: these tests are about the guides; tests/auth/ turns it on and covers it."""
    return guide_settings(tmp_path)


@pytest.fixture()
def client(settings):
    from fastapi.testclient import TestClient

    from service.app import create_app
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module", params=BACKENDS)
def backend_name(request) -> str:
    """Each storage the service supports, once per module: "sqlite", or "postgresql" when one is reachable."""
    if request.param == "postgresql" and not postgres_url():
        pytest.skip(NO_POSTGRES)
    return request.param


@pytest.fixture(scope="module")
def database_url(backend_name):
    """DATABASE_URL for this module's live server: None (SQLite in its data dir) or a throwaway PostgreSQL."""
    if backend_name == "sqlite":
        yield None
        return
    with throwaway_database() as url:
        yield url


@pytest.fixture(scope="module")
def backend(backend_name, database_url, tmp_path_factory):
    """(name, data_dir, database_url): where this module's live server keeps its data."""
    return backend_name, tmp_path_factory.mktemp(backend_name) / "data", database_url


@pytest.fixture(scope="module")
def postgres_database():
    """A throwaway PostgreSQL database for this module's PostgreSQL-only tests (outages, migrations)."""
    with throwaway_database() as url:
        if not url:
            pytest.skip(NO_POSTGRES)
        yield url


@pytest.fixture(scope="module")
def scratch_database_url(backend_name):
    """A second throwaway database for `migrated_storage`, apart from the live server's (None on SQLite)."""
    if backend_name == "sqlite":
        yield None
        return
    with throwaway_database() as url:
        yield url


@pytest.fixture()
def db_settings(tmp_path, scratch_database_url):
    """Settings on a fresh SQLite file, or on this module's scratch PostgreSQL database."""
    return make_settings(tmp_path, database_url=scratch_database_url)


@pytest.fixture()
def migrated_storage(db_settings):
    """A migrated Storage on each backend, empty at the start of every test."""
    from service.storage import open_storage
    store = open_storage(db_settings)
    store.migrate()
    yield store
    if store.engine.dialect.name == "postgresql":
        empty_tables(store.engine)  # the database lives for the module
    store.close()
