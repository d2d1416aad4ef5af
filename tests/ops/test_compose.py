"""compose.yaml against the Dockerfile it builds: the same server command (two workers), the port the image
exposes, a readiness health check the image can run, PostgreSQL healthy first, the clients file mounted."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from service.storage.db import url_problem

ROOT = Path(__file__).resolve().parents[2]
yaml = pytest.importorskip("yaml")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dockerfile() -> dict[str, list[str]]:
    """Each instruction's arguments (the last of each kind), exec-form JSON decoded."""
    found: dict[str, list[str]] = {}
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            rest = rest.strip()
            found[word.upper()] = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
    return found


def interpolated(value: str) -> str:
    """Compose's ${NAME:-default} with nothing set: the default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_the_service_runs_the_images_command_with_two_workers(compose, dockerfile):
    service = compose["services"]["service"]
    assert service["build"] in (".", {"context": "."}) and (ROOT / "Dockerfile").is_file()
    command, cmd = service["command"], dockerfile["CMD"]
    assert command[: len(cmd)] == cmd, "the Dockerfile's CMD, with options added after it"
    assert command[command.index("--workers") + 1] == "2"
    from uvicorn.main import main as uvicorn_main
    uvicorn_main.make_context("uvicorn", list(command[1:]))  # uvicorn accepts every option as written
    port = command[command.index("--port") + 1]
    assert port in dockerfile["EXPOSE"]
    assert any(str(p).split(":")[-1] == port for p in service["ports"])


def test_health_checks_use_readyz_and_what_the_image_has(compose, dockerfile):
    service, db = compose["services"]["service"], compose["services"]["db"]
    check = " ".join(service["healthcheck"]["test"])
    port = service["command"][service["command"].index("--port") + 1]
    assert f"127.0.0.1:{port}/readyz" in check
    assert service["healthcheck"]["test"][:2] == ["CMD", "python"]  # python:*-slim has no curl or wget
    assert dockerfile["FROM"][0].startswith("python:")
    assert service["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_the_database_url_names_the_db_service_and_its_credentials(compose):
    service, db = compose["services"]["service"], compose["services"]["db"]
    url = interpolated(service["environment"]["DATABASE_URL"])
    assert url_problem(url) is None
    parsed, env = make_url(url), db["environment"]
    assert parsed.host == "db" and parsed.port == 5432
    assert (parsed.username, parsed.database, parsed.password) == (
        env["POSTGRES_USER"], env["POSTGRES_DB"], interpolated(env["POSTGRES_PASSWORD"]))


def test_the_clients_file_is_mounted_where_smart_clients_reads_it(compose):
    service = compose["services"]["service"]
    path = service["environment"]["SMART_CLIENTS"]
    assert path.startswith("@")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
    assert path[1:] in mounts and mounts[path[1:]].endswith(".json")
    assert all(v.endswith(":ro") for v in service["volumes"] if path[1:] in v)  # the service never writes it


def test_ignore_files_keep_keys_and_virtualenvs_out(compose):
    for name in (".gitignore", ".dockerignore"):
        lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
        assert "*.pem" in lines and ".venv/" in lines, name
