"""The storage handle: one engine per process, created at start-up and shared by requests."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from service.config import Settings


class Storage:
    def __init__(self, engine: Engine, breaker: Breaker | None = None):
        self.engine = engine
        self.breaker = breaker  # PostgreSQL only: fail fast while the database is silent
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
        """True when the database answers a trivial query (readiness probe); it tries even while the breaker
        is open, and closes it on an answer."""
        probing = self.breaker.probing if self.breaker else threading.local()
        probing.on = True
        try:
            with self.engine.connect() as conn:
                conn.execute(text("select 1"))
            self.ping_error = None
            if self.breaker:
                self.breaker.close()
            return True
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported by /readyz
            self.ping_error = exc  # /readyz names the database's reason (service/storage/schema.py)
            return False
        finally:
            probing.on = False

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


def request_deadline(settings: Settings) -> float:
    """The longest a request waits on a silent database before its 503 (docs/operations.md "Diagnostics"):
    a pool slot (DB_POOL_TIMEOUT_SECONDS), then a new connection or an answer, whichever deadline is longer."""
    return settings.db_pool_timeout_seconds + max(settings.db_connect_timeout_seconds, client_deadline(settings))


BREAKER_SECONDS = 5.0  # after a deadline passed, fail at once for this long (or until a probe gets through)


class Breaker:
    """Open once the database let a deadline pass: then requests fail at once instead of each waiting its own
    deadline (60 stuck requests would hold every thread and connection, queueing the rest behind them). It
    closes when a readiness ping gets an answer, or lets requests try again after BREAKER_SECONDS."""

    def __init__(self) -> None:
        self.open_until = 0.0
        self.probing = threading.local()  # the readiness ping goes through an open breaker

    def trip(self) -> None:
        self.open_until = time.monotonic() + BREAKER_SECONDS

    def close(self) -> None:
        self.open_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self.open_until and not getattr(self.probing, "on", False)

    def check(self) -> None:
        if self.is_open():
            raise OperationalError("pool checkout", None, DatabaseSilent(SILENT))


SILENT = "the database did not answer in time just now; not trying again for a few seconds"


class DatabaseSilent(Exception):
    """The database let a deadline pass (connect, answer, or a recent one: the breaker is open)."""


class PoolTimeout(Exception):
    """No pooled connection came free within DB_POOL_TIMEOUT_SECONDS."""


class DeadlinePool(QueuePool):
    """A QueuePool that fails at once while the breaker is open, and whose checkout timeout is a database error
    like any other (DBAPIError, so a request answers 503 + Retry-After): SQLAlchemy raises its own TimeoutError
    there, which is no DBAPIError and became a 500 when every connection was stuck (issue 24)."""

    breaker: Breaker  # set on the per-engine subclass (recreate() keeps the class)

    def _do_get(self):
        self.breaker.check()
        try:
            record = super()._do_get()
        except SQLAlchemyTimeout as exc:
            raise OperationalError("pool checkout", None, PoolTimeout(str(exc).split(",")[0])) from None
        try:  # it may have tripped while we queued for this connection: do not pre-ping a silent server
            self.breaker.check()
        except OperationalError:
            self._do_return_conn(record)
            raise
        return record


def deadline_connection(seconds: float, breaker: Breaker):
    """A psycopg Connection whose every wait on the server gives up after `seconds`, tripping the breaker.
    Why: a database (or a proxy, or a network) that goes silent mid-statement never answers, and
    statement_timeout runs on the server, which never hears us; without this a request thread waits forever."""
    import psycopg
    from psycopg.errors import ConnectionTimeout, _WaitTimeout

    class DeadlineConnection(psycopg.Connection):
        @classmethod
        def connect(cls, *args, **kwargs):
            if breaker.is_open():  # e.g. the pool reconnecting after a failed pre-ping: do not wait again
                raise psycopg.OperationalError(SILENT)
            try:
                return super().connect(*args, **kwargs)
            except ConnectionTimeout:
                breaker.trip()  # connect_timeout passed: the server (or the path to it) is silent
                raise

        def wait(self, gen, *args, **kwargs):
            if kwargs.get("timeout") is None and len(args) < 2:
                kwargs["timeout"] = seconds
            try:
                return super().wait(gen, *args, **kwargs)
            except _WaitTimeout:
                breaker.trip()
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
        breaker = Breaker()
        pool = type("DeadlinePool", (DeadlinePool,), {"breaker": breaker})
        engine = create_engine(url, poolclass=pool, pool_pre_ping=True, pool_size=10, max_overflow=10,
                               pool_timeout=settings.db_pool_timeout_seconds,
                               connect_args=postgres_connect_args(settings))
        connection_class = deadline_connection(client_deadline(settings), breaker)
        event.listen(engine, "do_connect", lambda _dialect, _record, cargs, cparams:
                     connection_class.connect(*cargs, **cparams))
        return Storage(engine, breaker)
    return Storage(engine)
