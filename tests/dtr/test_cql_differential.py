"""The CQL (real ELM, cql-execution + cql-exec-fhir) and its Python equivalents agree on every chart:
the synthetic corpus (one rule per chart) and the EHR-shaped charts of tests/fixtures/ehr_charts."""
from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date

import pytest

import cql_equivalents
from service.dtr.cql import ARTIFACTS, ROOT, defines_for
from service.policies import canonical
from service.policies.registry import load_policies
from tests.fixtures.corpus import build_corpus, build_medication_corpus, ehr_charts

TODAY = date(2026, 11, 23)
NODE_TOOLS = ROOT / "tools" / "node" / "node_modules"
pytestmark = pytest.mark.skipif(not (shutil.which("node") and NODE_TOOLS.exists()),
                                reason="node and tools/node/node_modules are needed (npm ci --prefix tools/node)")
POLICIES = load_policies()
CORPUS = build_corpus() + build_medication_corpus() + [c.bundle for c in ehr_charts()]


def run_elm(name: str, defines: list[str]) -> dict:
    elm = json.loads((ARTIFACTS / "elm" / f"{name}.json").read_text())
    payload = {"elm": elm, "bundles": CORPUS, "now": f"{TODAY.isoformat()}T12:00:00.000Z", "defines": defines}
    done = subprocess.run(["node", str(ROOT / "tools/node/execute.mjs")], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def test_corpus_is_large_and_varied():
    assert len(CORPUS) >= 80
    assert len({e["resource"]["id"] for b in CORPUS for e in b["entry"] if e["resource"]["resourceType"] == "Patient"}) == len(CORPUS)


def test_every_define_is_answered_and_left_empty_somewhere():
    """The agreement below is not vacuous: each define has values and Nones across the corpus."""
    for define in cql_equivalents.DEFINES:
        values = [cql_equivalents.evaluate_define(define, chart, TODAY) for chart in CORPUS]
        assert None in values and any(v is not None for v in values), define


@pytest.mark.parametrize("payer", sorted(POLICIES))
def test_cql_and_python_agree(payer):
    policy = POLICIES[payer]
    defines = defines_for(policy)
    from_cql = run_elm(canonical.library_name(policy), defines)
    mismatches = []
    for chart in CORPUS:
        pid = chart["entry"][0]["resource"]["id"]
        for define in defines:
            py = cql_equivalents.evaluate_define(define, chart, TODAY)
            if from_cql[pid][define] != py:
                mismatches.append((pid, define, from_cql[pid][define], py))
    assert mismatches == []
