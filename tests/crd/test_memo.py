"""The per-process memo of chart assessments: same answer as assessing afresh, bounded, keyed right."""
from __future__ import annotations

from datetime import date

import service.crd.memo as memo_module
from service.crd.hook import assess_chart
from service.crd.memo import AssessmentMemo
from service.fhir.bundle import flatten
from service.policies.registry import get_policy
from tests.crd.requests import chart

TODAY = date(2026, 11, 24)


def resources(**kw) -> list[dict]:
    return [r for value in chart(**kw).values() for r in flatten(value)]


def counting(monkeypatch) -> list:
    calls = []

    def assess(policy, chart_resources, today):
        calls.append(policy.payer_id)
        return assess_chart(policy, chart_resources, today)
    monkeypatch.setattr(memo_module, "assess_chart", assess)
    return calls


def test_a_repeated_chart_is_assessed_once_with_the_same_outcome(monkeypatch):
    calls, memo, aetna = counting(monkeypatch), AssessmentMemo(), get_policy("aetna")
    first = memo.assess(aetna, resources(), TODAY)
    assert memo.assess(aetna, resources(), TODAY) == first == assess_chart(aetna, resources(), TODAY)
    assert calls == ["aetna"]


def test_payer_day_and_chart_each_make_a_new_assessment(monkeypatch):
    calls, memo, aetna = counting(monkeypatch), AssessmentMemo(), get_policy("aetna")
    memo.assess(aetna, resources(), TODAY)
    memo.assess(get_policy("bcbst"), resources(), TODAY)
    memo.assess(aetna, resources(), date(2026, 11, 25))  # an age can change overnight
    child = memo.assess(aetna, resources(age_birth="2015-01-01"), TODAY)
    assert calls == ["aetna", "bcbst", "aetna", "aetna"] and child[0] == "deny"


def test_the_least_recently_used_chart_is_dropped(monkeypatch):
    calls, memo, aetna = counting(monkeypatch), AssessmentMemo(size=2), get_policy("aetna")
    a, b, c = (resources(cd22=pct) for pct in (10.0, 20.0, 30.0))
    memo.assess(aetna, a, TODAY)
    memo.assess(aetna, b, TODAY)
    memo.assess(aetna, a, TODAY)  # a is now the most recent
    memo.assess(aetna, c, TODAY)  # drops b
    memo.assess(aetna, a, TODAY)
    memo.assess(aetna, b, TODAY)
    assert len(calls) == 4 and len(memo.entries) == 2
