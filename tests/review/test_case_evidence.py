"""The case page shows, beside a prefilled answer, the chart entry it came from (issue 14, with 17)."""
from __future__ import annotations

from service.policies.registry import require_policy
from service.review.case import list_answers


def test_answers_show_their_chart_evidence():
    qr = {"resourceType": "QuestionnaireResponse", "item": [{"linkId": "cd22-status", "answer": [{
        "valueCoding": {"code": "positive"},
        "extension": [
            {"url": "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin",
             "extension": [{"url": "source", "valueCode": "auto"}]},
            {"url": "http://example.org/fhir/StructureDefinition/prefill-evidence",
             "valueReference": {"reference": "Observation/lab-cd22", "display": "CD22 result of 2026-11-25"}}]}]}]}
    rows = {r.concept: r for r in list_answers(require_policy("aetna"), qr, {"cd22-status": "positive", "age-years": 40})}
    assert rows["cd22-status"].origin == "auto"
    assert rows["cd22-status"].evidence == "CD22 result of 2026-11-25 · Observation/lab-cd22"
    assert rows["age-years"].evidence == ""
