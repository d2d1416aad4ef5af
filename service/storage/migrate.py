"""`alembic upgrade head` under a cross-process lock, so several workers may start at once."""
from __future__ import annotations

import fcntl
import logging
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")
# Alembic announces each plugin at INFO on every start; keep only the upgrades themselves.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
# Any constant works; it only has to be the same in every worker (pg_advisory_xact_lock key).
PG_LOCK_KEY = 0x5A5_0001


def alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@contextmanager
def file_lock(path: Path):
    """Exclusive flock on a file beside the SQLite database (released when the process dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade_head(engine: Engine) -> None:
    """Bring the schema to the newest revision; waits while another process is doing it."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            # Transaction-scoped lock: released at commit, or by the server if we die.
            conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
            command.upgrade(alembic_config(conn), "head")
        return
    database = engine.url.database
    if not database or database == ":memory:":
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        return
    with file_lock(Path(database + ".migrate.lock")):
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
