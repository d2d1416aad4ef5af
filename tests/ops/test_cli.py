"""besponsa-pa as an operator types it (docs/operations.md "Command line"): clients, reviewers, schema,
status, help text; each refusal one line and exit 1."""
from __future__ import annotations

import io
import json
import stat

import httpx
import pytest

from service.auth.clients import parse_clients
from tests.pas.server import running_server


def test_make_client_refuses_to_overwrite_a_key_unless_forced(cli, tmp_path):
    code, out, err = cli("make-client", "--id", "demo")
    assert code == 0, err
    key = tmp_path / "demo.key.pem"
    first = key.read_bytes()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    entry = json.loads(out)["demo"]
    assert entry["kind"] == "provider" and parse_clients(out)["demo"].scope == entry["scope"]
    code, _, err = cli("make-client", "--id", "demo")
    assert code == 1 and "refusing to overwrite" in err and "--force" in err
    assert key.read_bytes() == first
    code, _, _ = cli("make-client", "--id", "demo", "--force")
    assert code == 0 and key.read_bytes() != first


def test_add_client_registers_kinds_and_refuses_an_id_already_there(cli, tmp_path):
    clients = tmp_path / "clients.json"
    assert cli("add-client", "--file", str(clients), "--id", "clinic", "--organization", "urn:oid:1.2|99")[0] == 0
    code, out, err = cli("add-client", "--file", str(clients), "--id", "um", "--kind", "payer",
                         "--scope", "system/ClaimResponse.rs", "--key", str(tmp_path / "um.pem"))
    assert code == 0, err and "registered um (payer)" in out
    registered = parse_clients(f"@{clients}")
    assert set(registered) == {"clinic", "um"}
    assert registered["um"].kind != registered["clinic"].kind
    assert json.loads(clients.read_text())["um"]["kind"] == "payer"
    before = clients.read_text()
    code, _, err = cli("add-client", "--file", str(clients), "--id", "clinic", "--force")
    assert code == 1 and "already registered" in err
    assert clients.read_text() == before
    code, _, err = cli("add-client", "--file", str(clients), "--id", "bad", "--scope", "nonsense", "--key",
                       str(tmp_path / "bad.pem"))
    assert code == 1 and "scope" in err and clients.read_text() == before


def test_add_key_rotates_and_retires_a_clients_key(cli, tmp_path):
    clients = tmp_path / "clients.json"
    cli("add-client", "--file", str(clients), "--id", "clinic")
    old = json.loads(clients.read_text())["clinic"]["jwks"]["keys"][0]["kid"]
    code, out, err = cli("add-key", "--file", str(clients), "--id", "clinic", "--key", str(tmp_path / "new.pem"))
    assert code == 0, err
    kids = [k["kid"] for k in json.loads(clients.read_text())["clinic"]["jwks"]["keys"]]
    assert len(kids) == 2 and kids[0] == old
    assert cli("add-key", "--file", str(clients), "--id", "clinic", "--retire", old)[0] == 0
    assert [k["kid"] for k in json.loads(clients.read_text())["clinic"]["jwks"]["keys"]] == kids[1:]
    code, _, err = cli("add-key", "--file", str(clients), "--id", "clinic", "--retire", kids[1])
    assert code == 1 and "last key" in err


def test_get_token_finds_the_kid_without_the_clients_file(cli, tmp_path):
    """make-client registers the key's RFC 7638 thumbprint as its kid, so --clients is optional."""
    clients = tmp_path / "clients.json"
    assert cli("add-client", "--file", str(clients), "--id", "demo")[0] == 0
    with running_server(tmp_path / "srv", None, AUTH_DISABLED="false", SMART_CLIENTS=f"@{clients}") as server:
        code, out, err = cli("get-token", "--client", "demo", "--key", str(tmp_path / "demo.key.pem"),
                             "--token-url", f"{server.url}/auth/token")
        assert code == 0, err
        token = out.strip()
        r = httpx.get(f"{server.url}/fhir/ClaimResponse/none", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 404  # authorized, and simply not there
        code, _, err = cli("get-token", "--client", "nobody", "--key", str(tmp_path / "demo.key.pem"),
                           "--token-url", f"{server.url}/auth/token")
        assert code == 1 and err.startswith("besponsa-pa get-token: no token")


def test_help_shows_the_defaults(cli, capsys):
    for command, default in (("get-token", "http://localhost:8080/auth/token"), ("prune", "2190"),
                             ("make-client", "system/Claim.c")):
        with pytest.raises(SystemExit):
            cli(command, "--help")
        text = " ".join(capsys.readouterr().out.split())
        assert f"(default: {default}" in text, command
        assert "(default: None)" not in text


def test_migrate_then_status(cli):
    code, out, _ = cli("migrate")
    assert code == 0 and out.startswith("schema empty -> ")
    assert cli("migrate")[1].startswith("schema already at")
    code, out, _ = cli("status")
    assert code == 0
    assert "storage: sqlite answering" in out and "reviewers: 0" in out and "claims: 0 (0 pended)" in out
    from service.ops.database import newest_revision
    assert f"schema: {newest_revision()}" in out


def test_reviewer_accounts_from_the_command_line(cli, environment, capsys):
    from datetime import timedelta

    from service.config import get_settings
    from service.review.accounts import MAX_FAILURES, authenticate
    from service.storage import open_storage
    from service.storage.tables import utcnow
    from service.web.sessions import DESK, SessionStore

    def typed(line: str) -> None:
        environment.setattr("sys.stdin", io.StringIO(line + "\n"))

    typed("correct horse battery")
    code, out, err = cli("create-reviewer", "--username", "nurse.a", "--role", "nurse-reviewer", "--password-stdin")
    assert code == 0, err
    with pytest.raises(SystemExit):  # an NPI with a bad check digit is refused before anything is stored
        cli("reviewer", "create", "--username", "md.b", "--role", "physician-reviewer", "--npi", "1234567890")
    assert "check digit" in capsys.readouterr().err
    code, out, _ = cli("reviewer", "list")
    assert code == 0 and "nurse.a" in out and "active" in out and "md.b" not in out

    now = utcnow()
    storage = open_storage(get_settings())
    try:
        account = authenticate(storage, "nurse.a", "correct horse battery", now)
        assert account is not None
        sessions = SessionStore(storage, "secret", DESK)
        cookie = sessions.open(reviewer_id=account.id, now=now)
        assert sessions.get(cookie, now) is not None
        assert cli("reviewer", "disable", "nurse.a")[0] == 0
        assert "disabled" in cli("reviewer", "list")[1]
        assert sessions.get(cookie, now) is None  # its session ended with it
        assert authenticate(storage, "nurse.a", "correct horse battery", now) is None
        assert cli("reviewer", "enable", "nurse.a")[0] == 0
        assert sessions.get(cookie, now) is None  # ended, not suspended: enabling does not bring it back
        typed("another long password")
        assert cli("reviewer", "reset-password", "nurse.a", "--password-stdin")[0] == 0
        assert authenticate(storage, "nurse.a", "correct horse battery", now) is None
        for _ in range(MAX_FAILURES):
            authenticate(storage, "nurse.a", "wrong password!", now)
        assert authenticate(storage, "nurse.a", "another long password", now + timedelta(minutes=1)) is None  # locked
        assert cli("reviewer", "unlock", "nurse.a")[0] == 0
        assert authenticate(storage, "nurse.a", "another long password", now + timedelta(minutes=1)) is not None
    finally:
        storage.close()
    code, _, err = cli("reviewer", "unlock", "nobody")
    assert code == 1 and "nobody" in err
    typed("short")
    code, _, err = cli("reviewer", "reset-password", "nurse.a", "--password-stdin")
    assert code == 1 and "at least" in err
