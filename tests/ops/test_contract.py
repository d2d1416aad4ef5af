"""docs/CONTRACT.md is the contract outside clients rely on: a copy of ../shared/CONTRACT.md, byte for byte."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "CONTRACT.md"


def test_the_contract_in_the_repository_is_the_shared_one():
    ours = ROOT / "docs" / "CONTRACT.md"
    assert ours.is_file(), "docs/CONTRACT.md is what a fresh clone reads"
    if not SHARED.is_file():
        pytest.skip("no ../shared/CONTRACT.md beside this clone to compare with")
    assert ours.read_bytes() == SHARED.read_bytes(), "copy ../shared/CONTRACT.md to docs/CONTRACT.md"
