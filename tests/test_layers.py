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
    allowed = {SERVICE / "app.py", SERVICE / "cli.py"}  # the app factory and the command line wire guides
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


def module_graph() -> dict[str, set[str]]:
    """service.* module -> the service.* modules it imports (anywhere in the file, lazily too)."""
    def name(path: Path) -> str:
        parts = list(path.with_suffix("").relative_to(ROOT).parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    known = {name(p): p for p in modules(SERVICE)}
    graph: dict[str, set[str]] = {}
    for mod, path in known.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for target in names:
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target not in (mod, "service"):
                    edges.add(target)
        graph[mod] = edges
    return graph


def test_no_import_cycle_in_the_service():
    """Issue 27: settings parsing depends on nothing above it; tables import no repositories."""
    graph, state, cycles = module_graph(), {}, []

    def visit(mod: str, trail: list[str]) -> None:
        state[mod] = "open"
        for dep in sorted(graph[mod]):
            if state.get(dep) == "open":
                cycles.append(trail[trail.index(dep):] + [dep] if dep in trail else [mod, dep])
            elif dep not in state:
                visit(dep, trail + [dep])
        state[mod] = "done"

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [mod])
    assert not cycles, cycles


KINDS = {"nurse-reviewer", "physician-reviewer", "provider-client", "payer-client"}  # "operator" is also a FHIR key


def test_only_the_policy_module_decides_permissions():
    """Issue 27: kinds and roles are named, and scopes are checked for a permission, in service/auth/ only:
    policy.py holds the table; guard.py checks a route's scope; scopes.py parses them."""
    for path in modules(SERVICE):
        rel = path.relative_to(SERVICE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if rel != "auth/policy.py":
            literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
            assert not (literals & KINDS), (rel, literals & KINDS)
        if rel not in ("auth/policy.py", "auth/guard.py", "auth/scopes.py"):
            calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
            assert "permits" not in calls, rel


def test_only_the_web_kit_builds_html():
    """Issue 27: templates, HTML responses and security headers for pages come from service/web/ only."""
    for path in modules(SERVICE):
        if path.relative_to(SERVICE).parts[0] == "web":
            continue
        text = path.read_text(encoding="utf-8")
        for marker in ("Jinja2Templates(", "TemplateResponse(", "HTMLResponse(", "get_swagger_ui_html(",
                       "Content-Security-Policy\": \""):
            assert marker not in text, (path.relative_to(SERVICE), marker)
