"""Prefill over malformed charts: a value of the wrong JSON type shows no fact; it never raises.

CRD runs prefill on whatever an EHR prefetches, so an exception here would be a 500 at order
signing instead of an answer (guide: bad input never becomes a 500).
"""
from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

import cql_equivalents
from service.engine.prefill import prefill_bundle
from service.policies.concepts import BOOLEAN, CODING, CONCEPTS, DECIMAL, INTEGER
from tests.fixtures.corpus import build_corpus, build_medication_corpus, ehr_charts
from tests.support.json_tree import JUNK, paths, replace

TODAY = date(2026, 11, 23)
CORPUS = build_corpus() + build_medication_corpus() + [c.bundle for c in ehr_charts()]
ALL = [c for c in CONCEPTS if CONCEPTS[c].cql_define]


def well_typed(code: str, value: object) -> bool:
    kind = CONCEPTS[code].answer_type
    if kind == CODING:
        return value in {c for c, _ in CONCEPTS[code].options}
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if kind == INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    return kind == DECIMAL and isinstance(value, float)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(CORPUS), st.data(), JUNK)
def test_any_one_malformed_value_shows_no_fact_and_never_raises(chart, data, junk):
    spots = list(paths(chart))
    broken = replace(chart, data.draw(st.sampled_from(spots)), junk) if spots else chart
    answers = prefill_bundle(broken, ALL, TODAY)
    assert all(well_typed(code, value) for code, value in answers.items()), answers


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CORPUS), st.data(), JUNK)
def test_evidence_over_a_malformed_chart_never_raises_and_matches_evaluate(chart, data, junk):
    spots = list(paths(chart))
    broken = replace(chart, data.draw(st.sampled_from(spots)), junk) if spots else chart
    view = {"_index": cql_equivalents.index_bundle(broken)}
    defines = list(cql_equivalents.DEFINES)
    with_evidence = cql_equivalents.evaluate_with_evidence(view, defines, TODAY)
    assert {d: v for d, (v, _) in with_evidence.items()} == cql_equivalents.evaluate(view, defines, TODAY)
    for _, evidence in with_evidence.values():
        assert evidence is None or (isinstance(evidence["reference"], str) and isinstance(evidence["date"], str))


def test_odd_times_and_quantities_show_no_fact_and_never_raise():
    odd = ["2026-13-01", "2026-02-30T10:00:00Z", "2026-01-01T25:00:00Z", "2026-01-01T10:00:00+99:99", "0000",
           "2026-01-01T10:00:00.123456789Z", "", "yesterday", 2026, ["2026-01-01"], {"start": 1}]
    for when in odd:
        obs = {"resourceType": "Observation", "id": "o", "status": "final", "effectiveDateTime": when,
               "code": {"coding": [{"system": "http://loinc.org", "code": "14017-8"}]},
               "valueQuantity": {"value": 0.5, "code": "1"}, "interpretation": [{"coding": [
                   {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "POS"}]}]}
        chart = {"resourceType": "Bundle", "entry": [{"resource": obs}, {"resource": {**obs, "id": "p"}}]}
        assert prefill_bundle(chart, ["cd22-percent", "cd22-status"], TODAY) == {
            "cd22-percent": 50.0, "cd22-status": "positive"}, when
    for quantity in ({"value": 1e308, "code": "1"}, {"value": -3, "code": "%"}, {"value": True, "code": "%"},
                     {"value": 50, "code": ["%"]}, {"value": 50, "code": "%", "system": 7}, {"value": "50", "code": "%"}):
        chart = {"resourceType": "Bundle", "entry": [{"resource": {
            "resourceType": "Observation", "status": "final", "valueQuantity": quantity,
            "code": {"coding": [{"system": "http://loinc.org", "code": "14017-8"}]}}}]}
        assert prefill_bundle(chart, ["cd22-percent"], TODAY) == {}, quantity


def test_impossible_and_partial_birth_dates_show_no_age():
    for born in ("2020-02-30", "2020-13-01", "2020", "2020-05", 19800101, ["1980-01-01"]):
        chart = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "birthDate": born}}]}
        assert prefill_bundle(chart, ["age-years"], TODAY) == {}, born
