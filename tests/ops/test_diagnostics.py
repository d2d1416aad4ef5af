"""What the service says when it is set up wrong (docs/operations.md "Diagnostics"): one line naming the
setting at start-up, never a traceback; the database's own reason on /readyz; token refusals logged with
the client and the reason; the delivery worker's failures throttled while storage is away."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from service.app import SettingsError, create_app
from service.auth.tokens import ASSERTION_TYPE
from service.config import Settings
from service.ops.clients import public_jwk
from tests.pas.server import ROOT, free_port, server_env
from tests.support.databases import postgres_url
from tests.support.settings import TEST_ORIGINS


def start_up(tmp_path: Path, database_url: str | None = None, **env: str) -> subprocess.CompletedProcess:
    """Start the service as an operator does (uvicorn) and wait for it to refuse."""
    port = free_port()
    environment = server_env(tmp_path / "data", database_url, port, **env)
    return subprocess.run([sys.executable, "-m", "uvicorn", "service.app:app", "--host", "127.0.0.1", "--port",
                           str(port)], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("url", "reason"), [
    ("notaurl", "not a SQLAlchemy URL"),
    ("mysql://pa:s3cret-pw@db/pa", "'mysql' is not supported"),
    ("postgresql+psycopg2://pa:s3cret-pw@db/pa", "driver 'psycopg2' is not supported"),
])
def test_a_bad_database_url_is_one_line_at_start_up(tmp_path, url, reason):
    done = start_up(tmp_path, url)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"DATABASE_URL: {reason}" in output
    assert "Traceback" not in output and "s3cret-pw" not in output


def test_a_data_dir_that_is_not_writable_is_named_at_start_up(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    candidates = [(blocker / "data", "cannot be created")]
    if Path("/proc/sys").is_dir():  # exists, and refuses files even to root
        candidates.append((Path("/proc/sys"), "is not writable"))
    for data_dir, reason in candidates:
        with pytest.raises(SettingsError) as refused:
            create_app(Settings(data_dir=data_dir, public_base_url="http://testserver", auth_disabled=True))
        assert f"DATA_DIR: {str(data_dir)!r} {reason}" in str(refused.value)
    done = start_up(tmp_path, DATA_DIR=str(candidates[-1][0]))
    assert done.returncode != 0 and "DATA_DIR:" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr and "DATABASE_URL" not in done.stdout + done.stderr


def ready_reason(settings: Settings, wanted: str) -> str:
    """/readyz's status once it names `wanted` (the schema thread retries every two seconds)."""
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 20
        while True:
            r = client.get("/readyz")
            assert r.status_code == 503
            if wanted in r.json()["status"] or time.monotonic() > deadline:
                return r.json()["status"]
            time.sleep(0.2)


def test_readyz_names_the_database_that_does_not_exist(tmp_path):
    base = postgres_url()
    if not base:
        pytest.skip("TEST_DATABASE_URL not set (no PostgreSQL reachable)")
    missing = make_url(base).set(database="pa_no_such_db").render_as_string(hide_password=False)
    status = ready_reason(Settings(data_dir=tmp_path, database_url=missing, public_base_url="http://testserver",
                                   auth_disabled=True), "does not exist")
    assert 'database "pa_no_such_db" does not exist' in status and "DATABASE_URL" in status


def test_readyz_names_a_refused_connection_without_the_url(tmp_path):
    url = f"postgresql+psycopg://pa:s3cret-pw@127.0.0.1:{free_port()}/pa"  # nothing listens there
    status = ready_reason(Settings(data_dir=tmp_path, database_url=url, public_base_url="http://testserver",
                                   auth_disabled=True, db_connect_timeout_seconds=1), "refused")
    assert "Connection refused" in status
    assert "s3cret-pw" not in status and "127.0.0.1" not in status


def logged(capsys, message: str) -> list[dict]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("msg") == message]


def test_a_refused_token_is_logged_with_the_client_and_the_reason(tmp_path, capsys):
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = public_jwk(key)
    clients = json.dumps({"clinic": {"jwks": {"keys": [jwk]}, "scope": "system/Claim.c"}})
    settings = Settings(data_dir=tmp_path, public_base_url="http://testserver", ehr_allowed_origins=TEST_ORIGINS,
                        smart_clients=clients)
    signed = jwt.encode({"iss": "clinic", "sub": "clinic", "aud": "http://testserver/fhir", "exp": int(time.time()) + 60,
                         "jti": uuid.uuid4().hex}, key, algorithm="ES384", headers={"kid": jwk["kid"]})
    with TestClient(create_app(settings)) as client:
        capsys.readouterr()
        r = client.post("/auth/token", data={"grant_type": "client_credentials", "scope": "system/Claim.c",
                                             "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed})
    assert r.status_code == 401
    assert "http://testserver/auth/token" in r.json()["error_description"]  # the expected aud, named
    refusals = logged(capsys, "token refused")
    assert refusals and refusals[0]["client"] == "clinic" and refusals[0]["error"] == "invalid_client"
    assert "http://testserver/auth/token" in refusals[0]["reason"]
    assert signed not in json.dumps(refusals)


def test_the_delivery_worker_logs_one_line_while_storage_is_away(monkeypatch, capsys):
    from service.logs import configure_logging
    from service.storage import subscriptions as repo
    from service.subscriptions import worker as module
    from service.subscriptions.worker import DeliveryPolicy, DeliveryWorker

    configure_logging("INFO")

    def away(*_args, **_kwargs):
        raise ConnectionError("the database is not answering")

    monkeypatch.setattr(repo, "claim_due", away)
    monkeypatch.setattr(module, "FAILURE_LOG_SECONDS", 0.6)
    worker = DeliveryWorker(None, None, "http://testserver", lambda _rid: None,  # type: ignore[arg-type]
                            DeliveryPolicy(interval=0.01))
    worker.start()
    time.sleep(1.0)  # about a hundred failed passes
    worker.stopping.set()
    worker.thread.join(timeout=5)
    failures = logged(capsys, "subscription delivery pass failed")
    assert 1 <= len(failures) <= 2, len(failures)  # the first, then one per FAILURE_LOG_SECONDS
    assert failures[-1]["failed_passes"] > 10
