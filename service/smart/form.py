"""The clinician's form: the payer Questionnaire with chart answers, origins, and the PAS request."""
from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from service.dtr.response import build_draft_response, to_answer
from service.fhir.responses import iter_items
from service.pas.information import PAS_TEMP
from service.policies.drug import BESPONSA
from service.policies.model import Policy
from service.policies.registry import PAYER_ID_SYSTEM

FROM_CHART = "From chart"


def render_questionnaire(questionnaire: dict, prefill: dict[str, object], sources: dict[str, str] | None = None) -> dict:
    """A copy for LHC-Forms: chart answers as `initial`, marked with a visible prefix naming the chart
    entry they came from ("From chart: CD22 result of 2026-11-25"); no CQL."""
    q = copy.deepcopy(questionnaire)
    q["extension"] = [e for e in q.get("extension", []) if not e["url"].endswith("cqf-library")]
    for item in iter_items(q["item"]):
        item["extension"] = [e for e in item.get("extension", []) if not e["url"].endswith("initialExpression")]
        if not item["extension"]:
            del item["extension"]
        code = item.get("linkId")
        if code in prefill:
            answer = to_answer(code, prefill[code])
            answer.pop("extension")
            item["initial"] = [answer]
            source = (sources or {}).get(code)
            item["prefix"] = f"{FROM_CHART}: {source}" if source else FROM_CHART
    return q


def origins_of(answers: dict[str, object], prefill: dict[str, object]) -> dict[str, str]:
    """DTR information-origin: auto (chart, unchanged), override (chart, changed), manual."""
    return {code: ("manual" if code not in prefill else "auto" if prefill[code] == value else "override")
            for code, value in answers.items()}


def build_response(policy: Policy, questionnaire: dict, answers: dict, prefill: dict, *, patient: str,
                   contexts: list[dict], author: str | None, status: str) -> dict:
    origins = origins_of(answers, prefill)
    qr = build_draft_response(policy, questionnaire, answers, subject={"reference": patient},
                              contexts=contexts, origins=origins)
    qr["status"] = status
    if author:
        qr["author"] = {"reference": author}
        for item in iter_items(qr["item"]):  # DTR: who entered or changed a value the chart gave
            for answer in item.get("answer", []):
                ext = answer["extension"][0]
                if ext["extension"][0]["valueCode"] != "auto":
                    ext["extension"].append({"url": "author", "extension": [
                        {"url": "practitioner", "valueReference": {"reference": author}}]})
    return qr


def build_pas_request(policy: Policy, qr: dict, ctx: dict, author: str | None) -> dict:
    """A PAS request Bundle: Claim first, then Patient, Coverage, payer, provider and the response."""
    patient = ctx["patient"]
    coverage = copy.deepcopy(ctx["coverage"])
    payer = {"resourceType": "Organization", "id": "payer", "name": policy.payer_name,
             "identifier": [{"system": PAYER_ID_SYSTEM, "value": policy.payer_id}]}
    coverage["payor"] = [{"reference": "Organization/payer"}]
    provider_ref = author or "Practitioner/unknown"
    provider = {"resourceType": provider_ref.split("/")[0], "id": provider_ref.split("/")[-1]}
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
    resources = [claim, patient, coverage, payer, provider, qr]
    return {"resourceType": "Bundle", "type": "collection",
            "identifier": {"system": "urn:besponsa-pa:smart-app", "value": claim["identifier"][0]["value"]},
            "timestamp": claim["created"],
            "entry": [{"fullUrl": f"http://ehr.invalid/fhir/{r['resourceType']}/{r['id']}", "resource": r}
                      for r in resources]}


def read_determination(bundle: dict) -> dict:
    """What the result page shows, from the PAS response Bundle's ClaimResponse."""
    cr = bundle["entry"][0]["resource"]
    item = (cr.get("item") or [{}])[0]
    adjudication = (item.get("adjudication") or [{}])[0]
    code = next((sub.get("valueCodeableConcept", {}).get("coding", [{}])[0].get("code")
                 for ext in adjudication.get("extension", []) if ext["url"].endswith("extension-reviewAction")
                 for sub in ext.get("extension", []) if sub["url"].endswith("extension-reviewActionCode")), None)
    period = cr.get("preAuthPeriod") or {}
    return {"decision": {"A1": "approved", "A3": "denied", "A4": "pended"}.get(str(code), "unknown"),
            "number": cr.get("preAuthRef"), "start": period.get("start"), "end": period.get("end"),
            "disposition": cr.get("disposition"), "notes": [n.get("text") for n in cr.get("processNote", [])],
            "id": cr.get("id")}
