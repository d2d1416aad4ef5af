"""The architecture's import rules (ARCHITECTURE.md), checked on the source so they cannot drift."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "service"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.py") if "migrations" not in p.parts]


def test_cql_equivalents_import_nothing_from_the_service():
    for path in modules(ROOT / "cql_equivalents"):
        assert not {m for m in imports_of(path) if m.split(".")[0] == "service"}, path


# The clinician's app renders DTR artifacts and submits through PAS, as a client would; the payer's
# reviewer desk works on PAS determinations.
CLIENTS_OF = {("dtr", "smart"), ("pas", "smart"), ("pas", "review")}


@pytest.mark.parametrize("guide", ["crd", "dtr", "pas", "smart", "review"])
def test_only_app_wiring_imports_a_guide_from_outside(guide):
    """A guide's package is imported by itself and by the app factory; shared code lives in fhir/, engine/."""
    allowed = {SERVICE / "app.py"}
    for path in modules(SERVICE):
        if guide in path.relative_to(SERVICE).parts[:1] or path in allowed:
            continue
        offending = {m for m in imports_of(path) if m == f"service.{guide}" or m.startswith(f"service.{guide}.")}
        if (guide, path.relative_to(SERVICE).parts[0]) in CLIENTS_OF:
            continue
        assert not offending, (path, offending)


def test_pure_core_imports_no_web_framework_or_storage():
    for folder in ("engine", "policies"):
        for path in modules(SERVICE / folder):
            bad = {m for m in imports_of(path) if m.split(".")[0] in ("fastapi", "starlette", "httpx", "sqlalchemy")
                   or m.startswith(("service.storage", "service.api", "service.fhir.client"))}
            assert not bad, (path, bad)


def test_httpx_clients_are_created_in_one_module():
    for path in modules(SERVICE):
        text = path.read_text(encoding="utf-8")
        if path != SERVICE / "fhir" / "client.py":
            assert "httpx.AsyncClient(" not in text and "httpx.Client(" not in text and "httpx.get(" not in text, path


def test_the_drug_is_declared_once():
    """The HCPCS system URI and J9229 are written in service/policies/drug.py only."""
    for path in modules(SERVICE):
        if path == SERVICE / "policies" / "drug.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "HCPCSReleaseCodeSets" not in text and '"J9229"' not in text, path
