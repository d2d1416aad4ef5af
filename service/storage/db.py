"""The storage handle: one engine per process, created at start-up and shared by requests."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings


class Storage:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.ping_error: Exception | None = None  # why the last ping failed, for /readyz
        # SQLite has one writer: queue this process's writers on a lock instead of letting them
        # spin in SQLite's busy handler (coarse sleeps that showed up as multi-second p99).
        self.write_lock = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed on leaving, rolled back on an exception; SQLite's writers
        in this process queue on the lock first."""
        with self.write_lock, self.sessions.begin() as session:
            yield session

    def ping(self) -> bool:
        """True when the database answers a trivial query (readiness probe)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("select 1"))
            self.ping_error = None
            return True
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported by /readyz
            self.ping_error = exc  # /readyz names the database's reason (service/storage/schema.py)
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


def changed(result: Result) -> int:
    """Rows an UPDATE or DELETE touched (compare-and-set checks read it)."""
    assert isinstance(result, CursorResult)
    return result.rowcount


class StartupError(SystemExit):
    """Start-up refused: one line naming the setting to fix (no traceback)."""


def url_problem(url: str) -> str | None:
    """Why DATABASE_URL cannot be used, in words that never repeat it (it may hold a password); None if usable."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "not a SQLAlchemy URL; expected e.g. postgresql+psycopg://user@host:5432/db"
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        return f"no database driver {parsed.drivername!r}; use postgresql+psycopg:// or sqlite:///"
    except ImportError as exc:  # e.g. plain postgresql:// picks psycopg2, which is not installed
        return f"the driver for {parsed.drivername!r} is not installed ({exc.name}); use postgresql+psycopg://"
    if parsed.get_backend_name() not in ("postgresql", "sqlite"):
        return f"{parsed.get_backend_name()!r} is not supported; use PostgreSQL or SQLite"
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        return f"driver {parsed.get_driver_name()!r} is not supported; use postgresql+psycopg://"
    return None


def check_database_url(settings: Settings) -> None:
    """Refuse an unusable DATABASE_URL at start-up, in one line saying why."""
    if settings.database_url is not None and (why := url_problem(settings.database_url)):
        raise StartupError(f"invalid settings:\n  DATABASE_URL: {why}")


def client_deadline(settings: Settings) -> float:
    """How long we wait for any answer from PostgreSQL: past the server's own statement deadline, so a
    slow statement gets the server's error first and only a silent server hits this one."""
    return settings.db_statement_timeout_seconds + 1.0


def deadline_connection(seconds: float):
    """A psycopg Connection whose every wait on the server gives up after `seconds`. Why: a database (or
    a proxy, or a network) that goes silent mid-statement never answers, and statement_timeout runs on
    the server, which never hears us; without this a request thread waits forever (issue 24)."""
    import psycopg
    from psycopg.errors import _WaitTimeout

    class DeadlineConnection(psycopg.Connection):
        def wait(self, gen, *args, **kwargs):
            if kwargs.get("timeout") is None and len(args) < 2:
                kwargs["timeout"] = seconds
            try:
                return super().wait(gen, *args, **kwargs)
            except _WaitTimeout:
                self.pgconn.finish()  # its state is unknown now: never reuse it
                raise psycopg.OperationalError(f"the database did not answer within {seconds:g} s") from None

    return DeadlineConnection


def postgres_connect_args(settings: Settings) -> dict:
    """libpq parameters: connect deadline, server statement deadline, and TCP keepalives plus
    tcp_user_timeout so a peer that vanished from the network is noticed in seconds, not hours."""
    statement_ms = int(settings.db_statement_timeout_seconds * 1000)
    return {"connect_timeout": max(1, int(settings.db_connect_timeout_seconds)),
            "options": f"-c statement_timeout={statement_ms}",
            "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
            "tcp_user_timeout": int(client_deadline(settings) * 1000)}


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
        if why := url_problem(url):
            raise StartupError(f"DATABASE_URL is not usable: {why}")
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10,
                               pool_timeout=settings.db_pool_timeout_seconds,
                               connect_args=postgres_connect_args(settings))
        connection_class = deadline_connection(client_deadline(settings))
        event.listen(engine, "do_connect", lambda _dialect, _record, cargs, cparams:
                     connection_class.connect(*cargs, **cparams))
    return Storage(engine)
