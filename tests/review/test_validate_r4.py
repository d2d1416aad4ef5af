"""Reviewed ClaimResponse versions (approve, deny, request-info) validate against base FHIR R4 (medplum)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.storage.accounts import create_reviewer
from tests.pas.bundles import request_bundle
from tests.pas.cases import CD22_NEGATIVE, MISSING_CD22

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "node"
VALIDATOR = ROOT / "tests" / "pas" / "validate_r4.cjs"
pytestmark = pytest.mark.node


def test_reviewed_versions_are_valid_r4(tmp_path):
    if shutil.which("node") is None or not (TOOLS / "node_modules" / "@medplum" / "core").exists():
        pytest.skip("node tools not installed (npm ci --prefix tools/node)")
    settings = Settings(data_dir=tmp_path / "data", public_base_url="http://testserver", auth_disabled=True,
                        deny_requires_review=True)
    bodies = {}
    with TestClient(create_app(settings)) as client:
        create_reviewer(client.app.state.storage, "phil", "physician-reviewer", "a long enough password", "1234567893")
        form = client.get("/review/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        client.post("/review/login", data={"username": "phil", "password": "a long enough password", "csrf_token": token})
        client.headers["x-csrf-token"] = client.get("/review/session").json()["csrfToken"]
        for name, answers, action in (
                ("approve", MISSING_CD22, {"decision": "approve", "note": "CD22 positive on review"}),
                ("deny", CD22_NEGATIVE, {"decision": "deny", "note": "CD22 negative", "concepts": ["cd22-status"]}),
                ("request-info", MISSING_CD22, {"decision": "request-info", "note": "send the report",
                                                "concepts": ["cd22-status", "disease-status"]})):
            pended = client.post("/fhir/Claim/$submit", json=request_bundle("aetna", answers)).json()
            answer = client.post(f"/pas/review/{pended['entry'][0]['resource']['id']}", json=action)
            assert answer.status_code == 200, answer.text
            bodies[name] = answer.json()
    paths = []
    for name, resource in bodies.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                    "entry": [{"fullUrl": "urn:uuid:1", "resource": resource}]}))
        paths.append(str(path))
    out = subprocess.run(["node", str(VALIDATOR), str(TOOLS), *paths], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert sum(r["type"] == "ClaimResponse" for r in rows) == 3
    assert [r for r in rows if r["issues"]] == []
