"""Storage under test: each backend of tests/conftest.py (SQLite, and PostgreSQL when reachable)."""
from __future__ import annotations

import pytest


@pytest.fixture()
def storage(migrated_storage):
    """A migrated, empty Storage: a fresh SQLite file, or the module's throwaway PostgreSQL database."""
    return migrated_storage
