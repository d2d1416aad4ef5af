"""Prefill from chart data (CONTRACT: where prefill finds these facts), one row per chart."""
from datetime import date

import pytest

from service.engine.prefill import prefill_bundle
from service.policies.concepts import CONCEPTS
from tests.fixtures.charts import (
    DETECTED,
    DETECTED_LOINC,
    NEG,
    NEG_LOINC,
    NOT_DETECTED,
    NOT_DETECTED_LOINC,
    POS,
    POS_LOINC,
    SNOMED,
    bundle,
    cd22_coded,
    cd22_percent,
    condition,
    medication_statement,
    patient,
    ph,
    practitioner_role,
)

TODAY = date(2026, 11, 23)
ALL = [c for c in CONCEPTS if CONCEPTS[c].cql_define]

CASES = [
    ("empty chart", bundle(), {}),
    ("adult relapsed b-all", bundle(patient("1980-05-17"), condition("C91.02")),
     {"age-years": 46, "diagnosis": "b-all", "disease-status": "relapsed"}),
    ("birthday today", bundle(patient("2008-11-23")), {"age-years": 18}),
    ("day before 18th birthday", bundle(patient("2008-11-24")), {"age-years": 17}),
    ("partial birth date gives no age", bundle(patient("1980")), {}),
    ("icd without dot", bundle(condition("C9100")), {"diagnosis": "b-all"}),
    ("snomed b-all", bundle(condition("277571004", SNOMED)), {"diagnosis": "b-all"}),
    ("lymphoblastic lymphoma", bundle(condition("C83.50")), {"diagnosis": "lbl"}),
    ("dlbcl", bundle(condition("C83.30")), {"diagnosis": "nhl-other"}),
    ("follicular", bundle(condition("C82.09")), {"diagnosis": "nhl-other"}),
    ("c83.2 is not listed", bundle(condition("C83.20")), {}),
    ("b-all wins over lymphoma", bundle(condition("C85.90", cid="a"), condition("C91.00", cid="b")),
     {"diagnosis": "b-all"}),
    ("refuted diagnosis ignored", bundle(condition("C91.02", verification="refuted")), {}),
    ("diagnosis in error ignored", bundle(condition("C91.02", verification="entered-in-error")), {}),
    ("partial birth month gives no age", bundle(patient("1980-07")), {}),
    # CONTRACT: a percent alone is not a CD22 status (no payer's threshold applies in prefill)
    ("cd22 70% is a percent, not a status", bundle(cd22_percent(70.0)), {"cd22-percent": 70.0}),
    ("cd22 4.9% is a percent, not a status", bundle(cd22_percent(4.9)), {"cd22-percent": 4.9}),
    ("latest cd22 wins", bundle(cd22_percent(2.0, "2026-01-01", "a"), cd22_percent(40.0, "2026-06-01", "b")),
     {"cd22-percent": 40.0}),
    ("cd22 in error ignored", bundle(cd22_percent(80.0, status="entered-in-error")), {}),
    ("cd22 preliminary ignored", bundle(cd22_percent(80.0, status="preliminary", interpret=("POS",))), {}),
    ("cd22 registered ignored", bundle(cd22_coded(POS, status="registered")), {}),
    ("cd22 amended and corrected count", bundle(cd22_percent(10.0, "2026-01-01", "a", status="amended"),
                                                cd22_percent(30.0, "2026-02-01", "b", status="corrected", interpret=("POS",))),
     {"cd22-percent": 30.0, "cd22-status": "positive"}),
    ("later preliminary does not hide the final", bundle(cd22_percent(45.0, "2026-01-01", "a", interpret=("POS",)),
                                                         cd22_percent(2.0, "2026-06-01", "b", status="preliminary",
                                                                      interpret=("NEG",))),
     {"cd22-percent": 45.0, "cd22-status": "positive"}),
    ("cd22 percent with the lab's POS", bundle(cd22_percent(64.0, interpret=("POS",))),
     {"cd22-percent": 64.0, "cd22-status": "positive"}),
    ("cd22 interpretation ND only", bundle(cd22_coded(None, interpret=("ND",))), {"cd22-status": "negative"}),
    ("cd22 interpretation DET only", bundle(cd22_coded(None, interpret=("DET",))), {"cd22-status": "positive"}),
    ("interpretation H is no call", bundle(cd22_percent(60.0, interpret=("H",))), {"cd22-percent": 60.0}),
    ("a result contradicting itself is no call", bundle(cd22_coded(POS, interpret=("NEG",))), {}),
    ("cd22 fraction of 1 times 100", bundle(cd22_percent(0.35, unit="1")), {"cd22-percent": 35.0}),
    ("cd22 fraction 0.07 is 7 %", bundle(cd22_percent(0.07, unit="1")), {"cd22-percent": 7.0}),
    ("cd22 without a unit is no percent", bundle(cd22_percent(55.0, unit=None)), {}),
    ("cd22 over 100 % is no percent", bundle(cd22_percent(120.0)), {}),
    ("coded cd22 negative", bundle(cd22_coded(NEG)), {"cd22-status": "negative"}),
    ("cd22 detected (snomed)", bundle(cd22_coded(DETECTED)), {"cd22-status": "positive"}),
    ("cd22 not detected (loinc)", bundle(cd22_coded(NOT_DETECTED_LOINC)), {"cd22-status": "negative"}),
    ("coded cd22 newer than percent", bundle(cd22_percent(50.0, "2026-01-01"), cd22_coded(NEG_LOINC, "2026-05-01")),
     {"cd22-percent": 50.0, "cd22-status": "negative"}),
    ("later negative after positive", bundle(cd22_coded(POS, "2025-01-01", "a"), cd22_coded(NEG, "2026-01-01", "b")),
     {"cd22-status": "negative"}),
    ("times compare as instants", bundle(cd22_coded(POS, "2026-03-01T23:00:00-08:00", "a"),
                                         cd22_coded(NEG, "2026-03-02T05:00:00Z", "b")), {"cd22-status": "positive"}),
    ("an undated result loses to a dated one", bundle(cd22_coded(NEG, "2026-01-01", "a"), cd22_coded(POS, None, "b")),
     {"cd22-status": "negative"}),
    ("ph positive snomed", bundle(ph(POS)), {"ph-status": "positive"}),
    ("ph negative loinc answer", bundle(ph(NEG_LOINC, "46434-7")), {"ph-status": "negative"}),
    ("latest ph wins", bundle(ph(POS_LOINC, when="2025-01-01", oid="a"), ph(NEG, when="2026-01-01", oid="b")),
     {"ph-status": "negative"}),
    ("ph with other loinc ignored", bundle(ph(POS, loinc="1234-5")), {}),
    ("ph detected (loinc)", bundle(ph(DETECTED_LOINC, "21795-0")), {"ph-status": "positive"}),
    ("ph not detected (snomed)", bundle(ph(NOT_DETECTED, "21823-0")), {"ph-status": "negative"}),
    ("ph interpretation only", bundle(ph(None, "21822-2", interpret=("POS",))), {"ph-status": "positive"}),
    ("ph cancelled ignored", bundle(ph(POS, status="cancelled")), {}),
    ("tki by rxnorm", bundle(medication_statement(rxnorm="475342")), {"tki-failed": True}),
    ("tki by name in a request", bundle(medication_statement("Ponatinib 45 mg", kind="MedicationRequest")),
     {"tki-failed": True}),
    ("tki administered", bundle(medication_statement(rxnorm="282388", kind="MedicationAdministration")),
     {"tki-failed": True}),
    ("tki dispensed by brand name", bundle(medication_statement("Sprycel 100 mg", kind="MedicationDispense")),
     {"tki-failed": True}),
    ("tki not taken", bundle(medication_statement("imatinib", status="not-taken")), {}),
    ("tki in error", bundle(medication_statement("imatinib", status="entered-in-error")), {}),
    ("non-tki medication", bundle(medication_statement("Methotrexate")), {}),
    ("oncologist", bundle(practitioner_role("207RH0003X")), {"prescriber-oncologist": True}),
    ("internist is not evidence either way", bundle(practitioner_role("207R00000X")), {}),
]


@pytest.mark.parametrize("name,chart,expected", CASES, ids=[c[0] for c in CASES])
def test_prefill(name, chart, expected):
    assert prefill_bundle(chart, ALL, TODAY) == expected


def test_prefill_answers_only_the_concepts_asked():
    chart = bundle(patient(), condition("C91.02"), practitioner_role())
    assert prefill_bundle(chart, ["diagnosis", "regimen"], TODAY) == {"diagnosis": "b-all"}
