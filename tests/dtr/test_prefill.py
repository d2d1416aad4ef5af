"""Prefill from chart data (CONTRACT: where prefill finds these facts), one row per chart."""
from datetime import date

import pytest

from service.engine.prefill import prefill_bundle
from service.policies.concepts import CONCEPTS
from tests.fixtures.charts import (
    NEG, NEG_LOINC, POS, POS_LOINC, SNOMED, bundle, cd22_coded, cd22_percent, condition,
    medication_statement, patient, ph, practitioner_role,
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
    ("cd22 70%", bundle(cd22_percent(70.0)), {"cd22-percent": 70.0, "cd22-status": "positive"}),
    ("cd22 4.9% negative", bundle(cd22_percent(4.9)), {"cd22-percent": 4.9, "cd22-status": "negative"}),
    ("latest cd22 wins", bundle(cd22_percent(2.0, "2026-01-01", "a"), cd22_percent(40.0, "2026-06-01", "b")),
     {"cd22-percent": 40.0, "cd22-status": "positive"}),
    ("cd22 in error ignored", bundle(cd22_percent(80.0, status="entered-in-error")), {}),
    ("coded cd22 negative", bundle(cd22_coded(NEG)), {"cd22-status": "negative"}),
    ("coded cd22 newer than percent", bundle(cd22_percent(50.0, "2026-01-01"), cd22_coded(NEG_LOINC, "2026-05-01")),
     {"cd22-percent": 50.0, "cd22-status": "negative"}),
    ("ph positive snomed", bundle(ph(POS)), {"ph-status": "positive"}),
    ("ph negative loinc answer", bundle(ph(NEG_LOINC, "46434-7")), {"ph-status": "negative"}),
    ("latest ph wins", bundle(ph(POS_LOINC, when="2025-01-01", oid="a"), ph(NEG, when="2026-01-01", oid="b")),
     {"ph-status": "negative"}),
    ("ph with other loinc ignored", bundle(ph(POS, loinc="1234-5")), {}),
    ("tki by rxnorm", bundle(medication_statement(rxnorm="475342")), {"tki-failed": True}),
    ("tki by name in a request", bundle(medication_statement("Ponatinib 45 mg", kind="MedicationRequest")),
     {"tki-failed": True}),
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
