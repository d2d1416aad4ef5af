"""Storage under test: SQLite in a tmp dir and, when reachable, a throwaway PostgreSQL database."""
from __future__ import annotations

import pytest

from tests.storage.pg import empty_tables, throwaway_database


@pytest.fixture(scope="session")
def pg_database_url():
    with throwaway_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_settings(request, tmp_path, pg_database_url):
    """Settings pointing at a fresh SQLite file, or at the session's PostgreSQL database."""
    from service.config import Settings
    if request.param == "postgresql":
        if not pg_database_url:
            pytest.skip("TEST_DATABASE_URL not set (no PostgreSQL reachable)")
        return Settings(data_dir=tmp_path / "data", database_url=pg_database_url,
                        public_base_url="http://testserver")
    return Settings(data_dir=tmp_path / "data", public_base_url="http://testserver")


@pytest.fixture()
def storage(db_settings):
    from service.storage import open_storage
    store = open_storage(db_settings)
    store.migrate()
    yield store
    if store.engine.dialect.name == "postgresql":
        empty_tables(store.engine)  # the PostgreSQL database lives for the session
    store.close()
