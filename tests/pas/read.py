"""Reading what a PAS response says, the way a PAS client would (by extension URL)."""
from __future__ import annotations

from datetime import date

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition"
X12_306 = "https://codesystem.x12.org/005010/306"
CRITERIA = "http://example.org/fhir/CodeSystem/pa-criteria"


def review_action(claim_response: dict, item: int = 0) -> dict:
    """{code, number, reasons} from item.adjudication's extension-reviewAction."""
    adj = claim_response["item"][item]["adjudication"][0]
    assert adj["category"]["coding"][0]["code"] == "submitted"
    action = next(e for e in adj["extension"] if e["url"] == f"{PAS}/extension-reviewAction")
    out = {"code": None, "number": None, "reasons": []}
    for sub in action["extension"]:
        if sub["url"] == f"{PAS}/extension-reviewActionCode":
            coding = sub["valueCodeableConcept"]["coding"][0]
            assert coding["system"] == X12_306
            out["code"] = coding["code"]
        elif sub["url"] == "number":
            out["number"] = sub["valueString"]
        elif sub["url"] == "reasonCode":
            coding = sub["valueCodeableConcept"]["coding"][0]
            assert coding["system"] == CRITERIA
            out["reasons"].append(coding["code"])
    return out


def item_period(claim_response: dict, item: int = 0) -> dict | None:
    ext = claim_response["item"][item].get("extension") or ()
    return next((e["valuePeriod"] for e in ext if e["url"] == f"{PAS}/extension-itemPreAuthPeriod"),
                None)


def months_between(period: dict) -> int:
    start, end = date.fromisoformat(period["start"]), date.fromisoformat(period["end"])
    return (end.year - start.year) * 12 + end.month - start.month


def human_reviewed(claim_response: dict) -> bool:
    ext = next(e for e in claim_response["extension"]
               if e["url"] == f"{PAS}/extension-claimResponseReviewer")
    return next(s["valueBoolean"] for s in ext["extension"] if s["url"] == "wasHumanReviewedFlag")
