"""The operator guide's commands (docs/operations.md), run as written: backup and restore round trips on
SQLite and PostgreSQL, secret rotation, retention pruning."""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
import uuid
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text, update

from service.app import create_app
from service.auth.tokens import ASSERTION_TYPE
from service.config import Settings
from service.ops.clients import public_jwk
from service.storage.tables import AccessEvent, Claim, ClaimResponseRow, HookCall, ServerSecret, utcnow
from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE, MISSING_CD22
from tests.support.databases import throwaway_database
from tests.support.settings import TEST_ORIGINS

SUBMIT = "/fhir/Claim/$submit"


def app_on(data_dir, database_url: str | None = None, **extra) -> TestClient:
    settings = Settings(data_dir=data_dir, database_url=database_url, public_base_url="http://testserver",
                        auth_disabled=True, ehr_allowed_origins=TEST_ORIGINS, **extra)
    return TestClient(create_app(settings))


def with_secrets(client: TestClient) -> None:
    """The signing secrets exist once a token or a SMART session was signed: make them now."""
    from service.storage.access import server_secret
    for name in ("access-token", "smart-session"):
        server_secret(client.app.state.storage, name)


def submitted(client: TestClient, answers: dict = BASE) -> str:
    r = client.post(SUBMIT, json=request_bundle("aetna", answers))
    assert r.status_code == 200, r.text
    return r.json()["entry"][0]["resource"]["id"]


def secrets_of(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(ServerSecret.name, ServerSecret.value)).all())


def test_sqlite_backup_and_restore_round_trip(tmp_path):
    """docs/operations.md: `sqlite3 DATA_DIR/pa.sqlite3 ".backup FILE"` while serving; restore = copy it back."""
    live = tmp_path / "live"
    with app_on(live) as client:
        rid = submitted(client)
        with_secrets(client)
        before = client.get(f"/fhir/ClaimResponse/{rid}").json()
        database = live / "pa.sqlite3"
        backup = tmp_path / "pa-backup.sqlite3"
        if shutil.which("sqlite3"):
            subprocess.run(["sqlite3", str(database), f".backup '{backup}'"], check=True)
        else:  # the same online backup API, from Python's standard library
            with sqlite3.connect(database) as source, sqlite3.connect(backup) as target:
                source.backup(target)
        submitted(client)  # written after the backup: not in it
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy(backup, restored / "pa.sqlite3")
    with app_on(restored) as client:
        assert client.get(f"/fhir/ClaimResponse/{rid}").json() == before
        assert client.get("/readyz").status_code == 200
    with sqlite3.connect(restored / "pa.sqlite3") as conn:
        assert conn.execute("select count(*) from claims").fetchone()[0] == 1  # the later one is not in it
    assert secrets_of(create_engine(f"sqlite:///{restored / 'pa.sqlite3'}")) == \
        secrets_of(create_engine(f"sqlite:///{database}")) != {}  # the signing secrets travel with the backup


def test_postgresql_backup_and_restore_round_trip(tmp_path):
    """docs/operations.md: pg_dump -Fc, then pg_restore --no-owner into an empty database."""
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump / pg_restore not installed")
    with throwaway_database() as source, throwaway_database() as target:
        if not source:
            pytest.skip("TEST_DATABASE_URL not set (no PostgreSQL reachable)")
        with app_on(tmp_path / "a", source) as client:
            rid = submitted(client)
            with_secrets(client)
            before = client.get(f"/fhir/ClaimResponse/{rid}").json()
        libpq = source.replace("+psycopg", "")  # pg_dump takes libpq URLs: the driver name goes
        dump = tmp_path / "pa.dump"
        subprocess.run(["pg_dump", "-Fc", "--no-owner", "-d", libpq, "-f", str(dump)], check=True)
        subprocess.run(["pg_restore", "--no-owner", "-d", target.replace("+psycopg", ""), str(dump)], check=True)
        with app_on(tmp_path / "b", target) as client:
            assert client.get(f"/fhir/ClaimResponse/{rid}").json() == before
        source_engine, target_engine = create_engine(source), create_engine(target)
        try:
            assert secrets_of(target_engine) == secrets_of(source_engine) != {}
        finally:
            source_engine.dispose()
            target_engine.dispose()


def test_rotating_the_access_token_secret_ends_old_tokens(cli, environment, tmp_path):
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = public_jwk(key)
    clients = json.dumps({"clinic": {"jwks": {"keys": [jwk]}, "scope": "system/Claim.c system/ClaimResponse.rs"}})

    def token(client: TestClient) -> str:
        url = "http://testserver/auth/token"
        signed = jwt.encode({"iss": "clinic", "sub": "clinic", "aud": url, "exp": int(time.time()) + 120,
                             "jti": uuid.uuid4().hex}, key, algorithm="ES384", headers={"kid": jwk["kid"]})
        r = client.post("/auth/token", data={"grant_type": "client_credentials", "scope": "system/ClaimResponse.rs",
                                             "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def app() -> TestClient:  # authorization on: the clinic's tokens are checked
        return TestClient(create_app(Settings(data_dir=tmp_path / "data", public_base_url="http://testserver",
                                              ehr_allowed_origins=TEST_ORIGINS, smart_clients=clients)))

    def read(client: TestClient, bearer: str) -> int:
        return client.get("/fhir/ClaimResponse/none", headers={"Authorization": f"Bearer {bearer}"}).status_code

    with app() as client:
        old = token(client)
        assert read(client, old) == 404
        client.get("/readyz")
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'pa.sqlite3'}")
    before = secrets_of(engine)
    code, out, err = cli("rotate-secrets", "--secret", "access-token")
    assert code == 0, err
    assert "restart every worker" in out
    after = secrets_of(engine)
    assert after["access-token"] != before["access-token"]
    assert after.get("smart-session") == before.get("smart-session")  # only the one named
    with app() as client:  # a restarted worker
        assert read(client, old) == 401
        assert read(client, token(client)) == 404
    assert cli("rotate-secrets")[0] == 0
    assert set(secrets_of(engine)) >= {"access-token", "smart-session"}
    assert secrets_of(engine)["access-token"] != after["access-token"]
    with pytest.raises(SystemExit):
        cli("rotate-secrets", "--secret", "nonsense")
    engine.dispose()


def test_prune_deletes_only_what_is_past_its_retention(cli, environment, tmp_path):
    with app_on(tmp_path / "data") as client:
        old_decided = submitted(client)
        old_pended = submitted(client, MISSING_CD22)
        recent = submitted(client)
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'pa.sqlite3'}")
    long_ago = utcnow() - timedelta(days=4000)
    with engine.begin() as conn:
        for rid in (old_decided, old_pended):
            claim_id = conn.scalar(select(ClaimResponseRow.claim_id).where(ClaimResponseRow.response_id == rid))
            conn.execute(update(Claim).where(Claim.id == claim_id).values(created_at=long_ago))
            conn.execute(update(ClaimResponseRow).where(ClaimResponseRow.claim_id == claim_id).values(created_at=long_ago))
        conn.execute(AccessEvent.__table__.insert(), [
            {"recorded_at": long_ago, "agent": "a", "action": "R", "resource_type": "Claim", "outcome": "0", "route": "r"},
            {"recorded_at": utcnow(), "agent": "a", "action": "R", "resource_type": "Claim", "outcome": "0", "route": "r"}])
        conn.execute(HookCall.__table__.insert(), [{"created_at": utcnow() - timedelta(days=91), "service_id": "s"},
                                                   {"created_at": utcnow() - timedelta(days=89), "service_id": "s"}])

    def count(table) -> int:
        with engine.connect() as conn:
            return conn.scalar(text(f"select count(*) from {table.__tablename__}"))

    claims, responses, accesses = count(Claim), count(ClaimResponseRow), count(AccessEvent)
    code, out, _ = cli("prune", "--dry-run")
    out = out.splitlines()[-1]  # the app's JSON logs above it (configured by create_app in this process)
    assert code == 0 and out.startswith("would delete: ")
    assert "access_events 1" in out and "hook_call 1" in out and "claims 1" in out
    assert count(Claim) == claims and count(AccessEvent) == accesses  # a dry run deletes nothing
    code, out, _ = cli("prune")
    assert code == 0 and "claims 1" in out and "claim_responses 1" in out
    assert count(Claim) == claims - 1 and count(ClaimResponseRow) == responses - 1
    assert count(AccessEvent) == accesses - 1 and count(HookCall) == 1
    with app_on(tmp_path / "data") as client:
        assert client.get(f"/fhir/ClaimResponse/{old_decided}").status_code == 404
        assert client.get(f"/fhir/ClaimResponse/{old_pended}").status_code == 200  # still open: kept
        assert client.get(f"/fhir/ClaimResponse/{recent}").status_code == 200
    with pytest.raises(SystemExit):
        cli("prune", "--claim-days", "0")
    engine.dispose()


def test_a_sub_path_public_base_url_is_refused_at_start_up(tmp_path, monkeypatch):
    from service.app import SettingsError, load_settings
    from service.config import get_settings
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://payer.example/pa")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match="PUBLIC_BASE_URL.*no path"):
            load_settings()
    finally:
        get_settings.cache_clear()


def test_every_command_the_guide_lists_exists():
    import re
    from pathlib import Path

    from service.cli import build_parser
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    table = guide.split("## Command line", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z-]+)", table, re.M))
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert listed and listed <= commands
    assert commands <= listed | {"add-key"}  # add-key shares a row with add-client
