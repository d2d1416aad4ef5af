"""Draft QuestionnaireResponses: prefilled answers marked auto (DTR 2.1 information-origin)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from service.engine.prefill import describe_evidence
from service.fhir.responses import INFORMATION_ORIGIN, PREFILL_EVIDENCE
from service.policies import canonical
from service.policies.concepts import ANSWER_TYPES, CODING, CONCEPTS, SYSTEM
from service.policies.model import Policy

DTR_QR = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaireresponse"
QR_CONTEXT = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context"
INTENDED_USE = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/intendedUse"


def to_answer(code: str, value: object, origin: str = "auto") -> dict:
    """One answer in its FHIR type, with where it came from (auto | override | manual)."""
    concept = CONCEPTS[code]
    if concept.answer_type == CODING:
        value = {"system": SYSTEM, "code": value, "display": concept.option_display(str(value))}
    return {ANSWER_TYPES[concept.answer_type].value_key: value,
            "extension": [{"url": INFORMATION_ORIGIN, "extension": [{"url": "source", "valueCode": origin}]}]}


def evidence_extension(evidence: dict[str, str]) -> dict:
    """Which chart entry a prefilled answer came from, for the clinician to check at a glance.

    DTR's information-origin `source` takes no sub-extensions, so the reference rides beside it.
    """
    return {"url": PREFILL_EVIDENCE, "valueReference": {"reference": evidence["reference"],
                                                        "display": describe_evidence(evidence)}}


def build_items(q_items: list[dict], answers: dict[str, object], origins: dict[str, str],
                evidence: dict[str, dict[str, str] | None] | None = None) -> list[dict]:
    """Response items mirroring the Questionnaire's nesting; unanswered questions carry no answer."""
    out = []
    for item in q_items:
        if item["type"] == "display":
            continue
        if item["type"] == "group":
            out.append({"linkId": item["linkId"], "text": item.get("text"),
                        "item": build_items(item.get("item", []), answers, origins, evidence)})
        elif item["linkId"] in answers:
            code = item["linkId"]
            answer = to_answer(code, answers[code], origins.get(code, "auto"))
            source = (evidence or {}).get(code)
            if source and origins.get(code, "auto") == "auto":
                answer["extension"].append(evidence_extension(source))
            out.append({"linkId": code, "text": item["text"], "answer": [answer]})
        else:  # every question is present in a draft (DTR QR: item 1..*), unanswered ones bare
            out.append({"linkId": item["linkId"], "text": item["text"]})
    return out


def build_draft_response(policy: Policy, questionnaire: dict, answers: dict[str, object], *,
                         subject: dict | None, contexts: list[dict],
                         origins: dict[str, str] | None = None,
                         evidence: dict[str, dict[str, str] | None] | None = None) -> dict:
    """An in-progress response to the payer's Questionnaire, prefilled where the chart allows."""
    qr = {"resourceType": "QuestionnaireResponse", "id": str(uuid.uuid4()),
          "meta": {"profile": [DTR_QR]},
          "extension": [{"url": QR_CONTEXT, "valueReference": c} for c in contexts] + [
              {"url": INTENDED_USE, "valueCodeableConcept": {"coding": [{
                  "system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp", "code": "withpa"}]}}],
          "questionnaire": canonical.questionnaire_canonical(policy),
          "status": "in-progress",
          "authored": datetime.now(UTC).replace(microsecond=0).isoformat(),
          "item": build_items(questionnaire["item"], answers, origins or {}, evidence)}
    if subject:
        qr["subject"] = subject
    return qr
