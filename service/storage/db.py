"""The storage handle: one engine per process, created at start-up and shared by requests."""
from __future__ import annotations

import threading
from contextlib import nullcontext

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from service.config import Settings


class Storage:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer: queue this process's writers on a lock instead of letting them
        # spin in SQLite's busy handler (coarse sleeps that showed up as multi-second p99).
        self.write_lock = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()

    def ping(self) -> bool:
        """True when the database answers a trivial query (readiness probe)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("select 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means "not ready", reported by /readyz
            return False

    def migrate(self) -> None:
        """Create or upgrade the schema (Alembic head); safe when several workers start together."""
        from service.storage.migrate import upgrade_head
        upgrade_head(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers run beside the single writer; busy_timeout waits instead of failing.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


class StartupError(SystemExit):
    """Start-up refused: one line naming the setting to fix (no traceback)."""


def open_storage(settings: Settings) -> Storage:
    """The engine for DATABASE_URL (or SQLite in DATA_DIR), with connect, statement and pool deadlines."""
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StartupError(f"DATA_DIR {str(settings.data_dir)!r} cannot be created: {exc.strerror}") from None
        engine = create_engine(url, connect_args={"check_same_thread": False,
                                                  "timeout": settings.db_statement_timeout_seconds},
                               pool_timeout=settings.db_pool_timeout_seconds)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        try:
            statement_ms = int(settings.db_statement_timeout_seconds * 1000)
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10,
                                   pool_timeout=settings.db_pool_timeout_seconds,
                                   connect_args={"connect_timeout": max(1, int(settings.db_connect_timeout_seconds)),
                                                 "options": f"-c statement_timeout={statement_ms}"})
        except Exception as exc:  # noqa: BLE001 - an unusable URL is a setting to fix, said in one line
            raise StartupError(f"DATABASE_URL is not usable: {type(exc).__name__}") from None
    return Storage(engine)
