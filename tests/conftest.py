"""Shared fixtures: an isolated app per test session on SQLite, or PostgreSQL when asked."""
from __future__ import annotations

import os

import pytest

# Most tests post unsigned CDS Hooks calls, as an EHR sandbox does; the default (refused, 401) is
# tested with this unset (tests/crd/test_security.py). Subprocess servers inherit it.
os.environ.setdefault("CDS_ALLOW_UNSIGNED", "true")


@pytest.fixture()
def settings(tmp_path):
    """Authorization off: these tests are about the guides; tests/auth/ turns it on and covers it."""
    from service.config import Settings
    return Settings(data_dir=tmp_path / "data", public_base_url="http://testserver", auth_disabled=True,
                    ehr_allowed_origins=TEST_ORIGINS)


# The fake EHRs of the tests: an https name (MockTransport) and loopback servers on any port.
TEST_ORIGINS = "https://*,http://127.0.0.1:*,http://localhost:*"


@pytest.fixture()
def client(settings):
    from fastapi.testclient import TestClient

    from service.app import create_app
    with TestClient(create_app(settings)) as c:
        yield c


def postgres_url() -> str | None:
    """The PostgreSQL the tests may use (scripts/test.sh sets it when one answers)."""
    return os.environ.get("TEST_DATABASE_URL")
