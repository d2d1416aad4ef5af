"""The operator's commands run in-process against settings from a clean environment (as a shell gives them)."""
from __future__ import annotations

import pytest

SETTINGS = ("DATA_DIR", "DATABASE_URL", "SMART_CLIENTS", "AUTH_DISABLED", "SESSION_SECRET", "PUBLIC_BASE_URL")


@pytest.fixture()
def environment(tmp_path, monkeypatch):
    """DATA_DIR in tmp_path, nothing else set; the cached Settings are rebuilt before and after."""
    from service.config import get_settings
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture()
def cli(environment, capsys):
    """Run `besponsa-pa ARGS...`: (exit code, stdout, stderr)."""
    from service.cli import main
    from service.config import get_settings

    def run(*args: str) -> tuple[int, str, str]:
        get_settings.cache_clear()  # settings changed with `environment.setenv` apply to the next command
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err
    return run
