"""Prefill over EHR-shaped charts (tests/fixtures/ehr_charts): the Python equivalents give exactly
what a careful clinician would accept, each answer points at the resource it came from, and the
corpus exercises every rule of CONTRACT "Where prefill finds these facts in EHR data"."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

import cql_equivalents
from tests.fixtures.corpus import ehr_charts

TODAY = date(2026, 11, 23)
CHARTS = ehr_charts()
IDS = [c.name for c in CHARTS]
DEFINES = list(cql_equivalents.DEFINES)
LABELS = {"AgeInYears": "birth date", "Diagnosis": "Condition", "DiseaseStatus": "Condition",
          "CD22Percent": "CD22 result", "CD22Status": "CD22 result", "PhStatus": "Philadelphia chromosome result",
          "TKIFailed": "medication record", "PrescriberIsOncologist": "practitioner role"}
TOOLS = Path(__file__).resolve().parents[2] / "tools" / "node"


def resources(chart) -> list[dict]:
    return [e["resource"] for e in chart.bundle["entry"]]


@pytest.mark.parametrize("chart", CHARTS, ids=IDS)
def test_prefill_is_what_a_careful_clinician_accepts(chart):
    assert set(chart.expected) == set(DEFINES), "every chart states every define (null: leave empty)"
    view = {"_index": cql_equivalents.index_bundle(chart.bundle)}
    got = cql_equivalents.evaluate(view, DEFINES, TODAY)
    assert got == {d: v for d, v in chart.expected.items() if v is not None}, chart.about
    # the CRD path (a list of resources, not a Bundle) reads the same
    assert cql_equivalents.evaluate({"_index": cql_equivalents.index_chart(resources(chart))}, DEFINES, TODAY) == got


@pytest.mark.parametrize("chart", CHARTS, ids=IDS)
def test_each_answer_names_the_resource_it_came_from(chart):
    view = {"_index": cql_equivalents.index_bundle(chart.bundle)}
    got = cql_equivalents.evaluate_with_evidence(view, DEFINES, TODAY)
    assert {d: v for d, (v, _) in got.items()} == cql_equivalents.evaluate(view, DEFINES, TODAY)
    assert {d: ev["reference"] for d, (_, ev) in got.items()} == chart.evidence
    by_ref = {f"{r['resourceType']}/{r['id']}": r for r in resources(chart)}
    for define, (_, ev) in got.items():
        assert ev["label"] == LABELS[define]
        assert ev["date"] == "" or re.fullmatch(r"\d{4}-\d{2}-\d{2}", ev["date"]), ev
        assert ev["date"] == "" or ev["date"] in json.dumps(by_ref[ev["reference"]]), ev


def test_evidence_dates_are_the_source_dates():
    chart = next(c for c in CHARTS if c.name.startswith("01-"))
    got = cql_equivalents.evaluate_with_evidence({"_index": cql_equivalents.index_bundle(chart.bundle)}, DEFINES, TODAY)
    assert {d: ev["date"] for d, (_, ev) in got.items()} == {
        "AgeInYears": "1971-03-14", "Diagnosis": "2025-09-12", "DiseaseStatus": "2025-09-12",
        "CD22Percent": "2025-09-17", "PhStatus": "2023-02-03", "PrescriberIsOncologist": ""}


def test_evidence_is_none_when_the_source_has_no_id():
    chart = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "birthDate": "1980-01-01"}}]}
    view = {"_index": cql_equivalents.index_bundle(chart)}
    assert cql_equivalents.evaluate_with_evidence(view, ["AgeInYears", "Diagnosis"], TODAY) == {"AgeInYears": (46, None)}


def walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def test_corpus_covers_every_rule():
    """Every status, code, answer, interpretation, unit form and medication kind the contract names."""
    assert len(CHARTS) >= 25
    obs = [r for c in CHARTS for r in resources(c) if r["resourceType"] == "Observation"]
    assert {o["status"] for o in obs} >= {"final", "amended", "corrected", "preliminary", "registered", "cancelled",
                                          "entered-in-error", "unknown"}
    codes = {(cd["system"], cd["code"]) for o in obs for cd in o["code"].get("coding", [])}
    assert {("http://loinc.org", c) for c in ("14017-8", "21821-4", "21822-2", "21823-0", "21795-0", "46434-7")} <= codes
    answers = {cd["code"] for o in obs for cd in o.get("valueCodeableConcept", {}).get("coding", [])}
    assert answers >= {"10828004", "260373001", "260385009", "260415000", "LA6576-8", "LA11882-0", "LA6577-6", "LA11883-8"}
    interpretations = {cd["code"] for o in obs for i in o.get("interpretation", []) for cd in i["coding"]}
    assert interpretations >= {"POS", "NEG", "DET", "ND"}
    assert any("valueCodeableConcept" not in o and o.get("interpretation") for o in obs), "interpretation-only result"
    quantities = [o["valueQuantity"] for o in obs if "valueQuantity" in o]
    assert any(q.get("code") == "%" for q in quantities) and any(q.get("code") == "1" for q in quantities)
    assert any("code" not in q and q.get("unit") == "%" for q in quantities)
    assert any("code" not in q and "unit" not in q for q in quantities)
    assert {k for o in obs for k in ("effectiveDateTime", "effectivePeriod", "effectiveInstant") if k in o} == {
        "effectiveDateTime", "effectivePeriod", "effectiveInstant"}
    assert any("effectiveDateTime" not in o and "effectivePeriod" not in o and "effectiveInstant" not in o
               and "issued" in o for o in obs)
    conds = [r for c in CHARTS for r in resources(c) if r["resourceType"] == "Condition"]
    verification = {cd["code"] for r in conds for cd in r.get("verificationStatus", {}).get("coding", [])}
    assert verification >= {"confirmed", "refuted", "entered-in-error", "provisional"}
    icd = {cd["code"] for r in conds for cd in r["code"]["coding"] if cd["system"].endswith("icd-10-cm")}
    assert any("." in c for c in icd) and any("." not in c for c in icd)
    kinds = {r["resourceType"] for c in CHARTS for r in resources(c)}
    assert kinds >= {"MedicationStatement", "MedicationRequest", "MedicationAdministration", "MedicationDispense",
                     "Medication", "PractitionerRole"}
    meds = [r for c in CHARTS for r in resources(c) if r["resourceType"] in kinds - {"Medication", "PractitionerRole"}
            and r["resourceType"].startswith("Medication")]
    assert any("medicationReference" in m for m in meds) and any("medicationCodeableConcept" in m for m in meds)
    assert any(m["status"] == "entered-in-error" for m in meds)
    births = [r.get("birthDate") for c in CHARTS for r in resources(c) if r["resourceType"] == "Patient"]
    assert any(b and len(b) == 4 for b in births) and any(b and len(b) == 7 for b in births) and None in births
    values = {d: {c.expected[d] for c in CHARTS} for d in DEFINES}
    assert values["CD22Status"] >= {"positive", "negative", None} and values["PhStatus"] >= {"positive", "negative", None}
    assert values["Diagnosis"] >= {"b-all", "lbl", "nhl-other", None} and values["TKIFailed"] == {True, None}


@pytest.mark.skipif(not (shutil.which("node") and (TOOLS / "node_modules" / "@medplum" / "core").exists()),
                    reason="node and tools/node/node_modules are needed (npm ci --prefix tools/node)")
def test_charts_are_valid_fhir_r4():
    """Base R4 validation (medplum) of each chart Bundle and every resource in it."""
    items = [{"resource": c.bundle} for c in CHARTS] + [{"resource": r} for c in CHARTS for r in resources(c)]
    done = subprocess.run(["node", str(TOOLS / "validate.cjs")], input=json.dumps({"profiles": [], "items": items}),
                          cwd=TOOLS, capture_output=True, text=True, timeout=180, check=True)
    problems = [(i["resource"]["resourceType"], i["resource"].get("id"), issue)
                for i, result in zip(items, json.loads(done.stdout), strict=True) for issue in result["issues"]
                if issue["severity"] in ("error", "fatal")]
    assert problems == []
