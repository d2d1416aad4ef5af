"""The databases tests run on (issue 27): SQLite always; PostgreSQL when TEST_DATABASE_URL names a server,
as a throwaway database of its own (never the shared `test` database's tables)."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# The one reason a PostgreSQL test is skipped; scripts/test.sh sets TEST_DATABASE_URL when a server answers.
NO_POSTGRES = "TEST_DATABASE_URL not set (no PostgreSQL reachable)"


def postgres_url() -> str | None:
    """The PostgreSQL server the tests may use, or None."""
    return os.environ.get("TEST_DATABASE_URL") or None


@contextmanager
def throwaway_database() -> Iterator[str | None]:
    """Yield the URL of a fresh database on TEST_DATABASE_URL's server and drop it afterwards; None without one."""
    base = postgres_url()
    if not base:
        yield None
        return
    name = f"pa_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_tables(engine) -> None:
    """Delete every row, children first: the next test on this database starts from nothing."""
    from service.storage.tables import Base
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
