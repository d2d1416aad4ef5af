"""PAS response Bundles validate against base FHIR R4 with an independent validator (medplum)."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from tests.pas.bundles import request_bundle
from tests.pas.cases import BASE, CD22_NEGATIVE, MISSING_CD22

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "node"

pytestmark = pytest.mark.node


def test_responses_are_valid_r4(tmp_path):
    if shutil.which("node") is None or not (TOOLS / "node_modules" / "@medplum" / "core").exists():
        pytest.skip("node tools not installed (npm ci --prefix tools/node)")
    settings = Settings(data_dir=tmp_path / "data", public_base_url="http://testserver", auth_disabled=True)
    files = []
    with TestClient(create_app(settings)) as client:
        for name, answers in (("approve", BASE), ("deny", CD22_NEGATIVE), ("pend", MISSING_CD22)):
            body = client.post("/fhir/Claim/$submit", json=request_bundle("aetna", answers)).json()
            files.append((name, body))
        # Reviewed versions are validated in tests/review/test_validate_r4.py (they need a signed-in reviewer).
    paths = []
    for name, body in files:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(body))
        paths.append(str(path))
    out = subprocess.run(["node", str(Path(__file__).with_name("validate_r4.cjs")), str(TOOLS),
                          *paths], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert {r["file"] for r in rows} == {f"{n}.json" for n, _ in files}
    assert "ClaimResponse" in {r["type"] for r in rows}
    assert [r for r in rows if r["issues"]] == []
