"""The clinician's form: the payer Questionnaire with chart answers, their provenance, and the PAS request."""
from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from service.dtr.response import build_draft_response, to_answer
from service.fhir.json import objs, text_of
from service.fhir.responses import INFORMATION_ORIGIN, iter_items
from service.pas.information import PAS_TEMP
from service.policies.drug import BESPONSA
from service.policies.model import Policy
from service.policies.registry import PAYER_ID_SYSTEM
from service.smart.context import summarize

FROM_CHART = "From chart"
PRIOR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship", "code": "prior"}]}
MEMBER = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB"}]}


def render_questionnaire(questionnaire: dict, answers: dict[str, object]) -> dict:
    """A copy for LHC-Forms: the answers shown as `initial`, no CQL. The question text stays the question:
    where each answer came from is marked beside it by the page (see provenance)."""
    q = copy.deepcopy(questionnaire)
    q["extension"] = [e for e in q.get("extension", []) if not e["url"].endswith("cqf-library")]
    for item in iter_items(q["item"]):
        item["extension"] = [e for e in item.get("extension", []) if not e["url"].endswith("initialExpression")]
        if not item["extension"]:
            del item["extension"]
        code = item.get("linkId")
        if code in answers:
            answer = to_answer(code, answers[code])
            answer.pop("extension")
            item["initial"] = [answer]
    return q


def chart_mark(evidence: dict | None, known: dict[str, dict]) -> dict[str, str]:
    """'From chart: CD22 result 2026-10-01' and the chart entry it names in one line (DTR prefill evidence)."""
    evidence = evidence or {}
    entry = known.get(evidence.get("reference", ""))
    summary = summarize(entry) if isinstance(entry, dict) else ""
    label = evidence.get("label") or "chart entry"
    if isinstance(entry, dict) and summary and label == entry.get("resourceType"):
        # a bare type says little: name the entry ("Condition C91.02")
        label = summary.split(" · ")[0].replace(": ", " ", 1)
    text = " ".join(p for p in (label, evidence.get("date", "")) if p)
    return {"kind": "chart", "text": f"{FROM_CHART}: {text}", "reference": evidence.get("reference", ""),
            "detail": summary or text}


def provenance(chart: dict[str, object], evidence: dict[str, dict | None], known: dict[str, dict],
               draft: dict[str, object], draft_at: str, draft_kind: str = "draft") -> dict[str, dict[str, str]]:
    """Where each shown answer came from: the saved draft (or the request as sent) wins over the chart."""
    marks = {code: chart_mark(evidence.get(code), known) for code in chart}
    for code in draft:
        marks[code] = {"kind": draft_kind, "at": draft_at,
                       "text": "From your saved draft" if draft_kind == "draft" else "As you sent it"}
    return marks


def origins_of(answers: dict[str, object], prefill: dict[str, object]) -> dict[str, str]:
    """DTR information-origin: auto (chart, unchanged), override (chart, changed), manual."""
    return {code: ("manual" if code not in prefill else "auto" if prefill[code] == value else "override")
            for code, value in answers.items()}


def build_response(policy: Policy, questionnaire: dict, answers: dict, chart: dict, *, patient: str,
                   contexts: list[dict], author: str | None, status: str,
                   evidence: dict[str, dict[str, str] | None] | None = None) -> dict:
    """The response as the clinician left it: each answer auto (the chart's, with its evidence), override
    (the chart's, changed: the override is recorded with who made it) or manual (DTR information-origin)."""
    origins = origins_of(answers, chart)
    qr = build_draft_response(policy, questionnaire, answers, subject={"reference": patient},
                              contexts=contexts, origins=origins, evidence=evidence)
    qr["status"] = status
    if author:
        qr["author"] = {"reference": author}
        for item in iter_items(qr["item"]):  # DTR: who entered or changed a value the chart gave
            for answer in item.get("answer", []):
                ext = next(e for e in answer["extension"] if e["url"] == INFORMATION_ORIGIN)
                if ext["extension"][0]["valueCode"] != "auto":
                    ext["extension"].append({"url": "author", "extension": [
                        {"url": "practitioner", "valueReference": {"reference": author}}]})
    return qr


def patient_with_member_id(patient: dict, coverage: dict) -> dict:
    """The Patient with the Coverage's member id as an MB identifier (PAS Beneficiary; $inquire matches on it)."""
    member = text_of(coverage.get("subscriberId"))
    found = copy.deepcopy(patient)
    if member and not any(text_of(i.get("value")) == member for i in objs(found.get("identifier"))):
        found.setdefault("identifier", []).append({"type": MEMBER, "system": "urn:besponsa-pa:member-id",
                                                   "value": member})
    return found


def provider_of(author: str | None, practitioner: dict | None, iss: str) -> dict:
    """The requesting provider: the EHR's Practitioner (its NPI) when read, else the EHR user named by a URI
    identifier, so a later $inquire can name the same provider."""
    ref = author or "Practitioner/unknown"
    if practitioner and objs(practitioner.get("identifier")):
        return copy.deepcopy(practitioner)
    return {"resourceType": ref.split("/")[0], "id": ref.split("/")[-1],
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"{iss.rstrip('/')}/{ref}"}]}


def build_pas_request(policy: Policy, qr: dict, ctx: dict, author: str | None, *,
                      prior: dict | None = None, iss: str = "urn:ehr") -> dict:
    """A PAS request Bundle: Claim first, then Patient, Coverage, payer, provider and the response; with
    `prior` (the first Claim's identifier) a claim update of that request (PAS: Claim.related.claim)."""
    coverage = copy.deepcopy(ctx["coverage"])
    patient = patient_with_member_id(ctx["patient"], coverage)
    payer = {"resourceType": "Organization", "id": "payer", "name": policy.payer_name,
             "identifier": [{"system": PAYER_ID_SYSTEM, "value": policy.payer_id}]}
    coverage["payor"] = [{"reference": "Organization/payer"}]
    provider = ctx.get("provider") or provider_of(author, ctx.get("practitioner"), iss)
    provider_ref = f"{provider['resourceType']}/{provider['id']}"
    order = ctx.get("order") or {}
    quantity = (order.get("dispenseRequest") or {}).get("quantity") or {"value": 1, "unit": "0.1 mg"}
    claim: dict[str, Any] = {"resourceType": "Claim", "id": "claim", "status": "active", "use": "preauthorization",
             "identifier": [{"system": "urn:besponsa-pa:smart-app", "value": uuid.uuid4().hex}],
             "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
             "patient": {"reference": f"Patient/{patient['id']}"},
             "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
             "insurer": {"reference": "Organization/payer"}, "provider": {"reference": provider_ref},
             "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
             "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{coverage['id']}"}}],
             "supportingInfo": [{"sequence": 1, "category": {"coding": [{
                 "system": PAS_TEMP, "code": "freeFormMessage"}]},
                 "valueReference": {"reference": f"QuestionnaireResponse/{qr['id']}"}}],
             "item": [{"sequence": 1, "productOrService": {"coding": [BESPONSA.as_coding()]},
                       "quantity": {"value": quantity.get("value", 1), "unit": BESPONSA.unit}}]}
    if prior:
        claim["related"] = [{"claim": {"identifier": prior}, "relationship": PRIOR}]
    resources = [claim, patient, coverage, payer, provider, qr]
    return {"resourceType": "Bundle", "type": "collection",
            "identifier": {"system": "urn:besponsa-pa:smart-app", "value": claim["identifier"][0]["value"]},
            "timestamp": claim["created"],
            "entry": [{"fullUrl": f"http://ehr.invalid/fhir/{r['resourceType']}/{r['id']}", "resource": r}
                      for r in resources]}


def inquiry_bundle(sent: dict) -> dict:
    """A PAS inquiry for the request sent (Claim/$inquire): the same member, provider and Claim identifier."""
    patient, provider = sent["patient"], sent["provider"]
    claim = {"resourceType": "Claim", "id": "inquiry", "status": "active", "use": "preauthorization",
             "identifier": [sent["claim_identifier"]], "patient": {"reference": f"Patient/{patient['id']}"},
             "provider": {"reference": f"{provider['resourceType']}/{provider['id']}"},
             "created": datetime.now(UTC).replace(microsecond=0).isoformat()}
    return {"resourceType": "Bundle", "type": "collection", "timestamp": claim["created"],
            "entry": [{"fullUrl": f"http://ehr.invalid/fhir/{r['resourceType']}/{r['id']}", "resource": r}
                      for r in (claim, patient, provider)]}
