"""Settings for tests (issue 27): one factory instead of the same `Settings(...)` spelled out in each file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

# The fake EHRs of the tests: an https name (MockTransport) and loopback servers on any port.
TEST_ORIGINS = "https://*,http://127.0.0.1:*,http://localhost:*"


def make_settings(tmp_path: Path, **overrides: Any):
    """Settings with data under tmp_path/data and TestClient's base URL; `overrides` are Settings fields."""
    from service.config import Settings  # late: importing tests.support must not build settings
    return Settings(**{"data_dir": tmp_path / "data", "public_base_url": "http://testserver", **overrides})


def guide_settings(tmp_path: Path, **overrides: Any):
    """Authorization off and the tests' EHR origins allowed: tests about the guides (tests/auth/ covers auth)."""
    return make_settings(tmp_path, auth_disabled=True, ehr_allowed_origins=TEST_ORIGINS, **overrides)
