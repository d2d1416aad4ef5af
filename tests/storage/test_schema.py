"""Schema: Alembic head equals the models, upgrades are repeatable and safe under concurrent start."""
from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from service.storage.migrate import current_revision
from service.storage.tables import Base
from tests.support.databases import NO_POSTGRES, throwaway_database


# The newest revision the migration scripts define (the chain must end in exactly one head).
def script_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from service.storage.migrate import MIGRATIONS
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"the migrations end in {len(heads)} heads: {heads}"
    return heads[0]


HEAD = script_head()

TABLES = {"claims", "questionnaire_responses", "claim_responses", "audit_events",
          "hook_call", "hook_feedback", "token_use", "web_sessions", "access_events", "server_secrets",
          "reviewers", "subscriptions", "subscription_outbox"}


def test_head_creates_every_table(storage):
    assert TABLES <= set(inspect(storage.engine).get_table_names())
    assert current_revision(storage.engine) == HEAD


def test_migration_matches_models(storage):
    with storage.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # index naming differences are cosmetic; any column/table difference is a real drift
    real = [d for d in diff if not (isinstance(d, tuple) and d[0] in ("add_index", "remove_index"))]
    assert real == []


def test_migrate_twice_is_a_no_op(storage):
    storage.migrate()
    assert current_revision(storage.engine) == HEAD


MIGRATE = ("from service.config import Settings; from service.storage import open_storage;"
           "import sys; s = Settings(data_dir=sys.argv[1], database_url=sys.argv[2] or None);"
           "open_storage(s).migrate()")


def run_workers(data_dir: str, url: str, n: int = 4) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATE, data_dir, url],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(n)]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=120), *p.communicate())
            for p in procs]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_workers_migrate_once(backend, tmp_path):
    from service.config import Settings
    from service.storage import open_storage
    with throwaway_database() as pg_url:
        if backend == "postgresql" and not pg_url:
            pytest.skip(NO_POSTGRES)
        url = pg_url if backend == "postgresql" else ""
        results = run_workers(str(tmp_path / "data"), url)
        assert [r.returncode for r in results] == [0] * 4, [r.stderr[-800:] for r in results]
        store = open_storage(Settings(data_dir=tmp_path / "data", database_url=url or None))
        try:
            assert current_revision(store.engine) == HEAD
            assert TABLES <= set(inspect(store.engine).get_table_names())
        finally:
            store.close()


def test_downgrade_to_base_and_back(storage):
    from alembic import command

    from service.storage.migrate import alembic_config
    with storage.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert not TABLES & set(inspect(storage.engine).get_table_names())
    storage.migrate()
    assert TABLES <= set(inspect(storage.engine).get_table_names())
    assert current_revision(storage.engine) == HEAD
