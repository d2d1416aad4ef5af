"""Coverage answers for Besponsa orders (CRD 2.1 coverage-information extension and cards)."""
from __future__ import annotations

import hashlib
import uuid
from datetime import date

from service.engine.evaluate import DENY, Determination
from service.policies import canonical
from service.policies.concepts import SYSTEM
from service.policies.model import Policy

COVERAGE_INFO = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
CRD_TEMP = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"
J9229 = {"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J9229",
         "display": "Injection, inotuzumab ozogamicin, 0.1 mg"}


def assertion_id(order: dict, coverage_ref: str, policy: Policy | None) -> str:
    """Stable for the same order, coverage and policy version (so EHRs can de-duplicate)."""
    identity = f"{order.get('resourceType')}/{order.get('id')}" if order.get("id") else repr(
        (order.get("identifier"), order.get("medicationCodeableConcept"), order.get("code"),
         order.get("subject")))
    version = f"{policy.payer_id}:{policy.version}:{canonical.ARTIFACT_VERSION}" if policy else "-"
    return hashlib.sha256(f"{identity}|{coverage_ref}|{version}".encode()).hexdigest()[:32]


def sub(url: str, key: str, value: object) -> dict:
    return {"url": url, key: value}


def build_coverage_info(*, order: dict, coverage_ref: str, policy: Policy | None, today: date,
                        primary: bool, base_url: str, det: Determination | None,
                        inactive: bool) -> dict:
    """One coverage-information extension; honours every crd-ci invariant (q1-q5)."""
    parts = [sub("coverage", "valueReference", {"reference": coverage_ref})]
    if inactive:
        parts += [sub("covered", "valueCode", "not-covered"),
                  sub("reason", "valueCodeableConcept", {"coding": [{
                      "system": SYSTEM, "code": "no-active-coverage", "display": "No active coverage"}],
                      "text": "The patient's coverage is not active."})]
    elif det is not None and det.decision == DENY:
        parts.append(sub("covered", "valueCode", "not-covered"))
        for r in det.reasons:
            parts.append(sub("reason", "valueCodeableConcept", {
                "coding": [{"system": SYSTEM, "code": r.concept}],
                "text": f"{policy.payer_name} policy: “{r.cite}”"}))
    else:
        parts += [sub("covered", "valueCode", "covered"), sub("pa-needed", "valueCode", "auth-needed")]
        if primary:  # CRD: only primary hooks ask for documentation
            parts += [sub("doc-needed", "valueCode", "clinical"),
                      sub("doc-purpose", "valueCode", "withpa"),
                      sub("questionnaire", "valueCanonical", canonical.questionnaire_canonical(policy))]
    parts.append(sub("billingCode", "valueCoding", J9229))
    if policy is not None:
        parts.append({"url": "detail", "extension": [
            sub("code", "valueCodeableConcept", {"coding": [{"system": SYSTEM, "code": "policy-link",
                                                             "display": "Payer medical policy"}]}),
            sub("value", "valueString", f"{base_url}/policies/{policy.payer_id}")]})
    parts += [sub("date", "valueDate", today.isoformat()),
              sub("coverage-assertion-id", "valueString", assertion_id(order, coverage_ref, policy))]
    return {"url": COVERAGE_INFO, "extension": parts}


def annotate_order(order: dict, info: dict) -> dict:
    """The full order with this coverage-information (replacing one from an earlier call)."""
    kept = [e for e in order.get("extension") or () if e.get("url") != COVERAGE_INFO]
    return {**order, "extension": kept + [info]}  # a new top level; nested parts are only read


def card(summary: str, payer: str, topic: str, indicator: str = "info", detail: str | None = None,
         links: list[dict] | None = None) -> dict:
    """A CDS Hooks card: uuid, summary under 140 characters, payer as source (CRD card rules)."""
    out = {"uuid": str(uuid.uuid4()), "summary": summary[:139], "indicator": indicator,
           "source": {"label": payer, "topic": {"system": CRD_TEMP, "code": topic}}}
    if detail:
        out["detail"] = detail
    if links:
        out["links"] = links
    return out


def build_cards(policy: Policy, det: Determination | None, primary: bool, base_url: str,
                inactive: bool) -> list[dict]:
    """External Reference to the policy; Instructions for what to document, or why not covered."""
    name = policy.payer_name
    cards = [card(f"{name} medical policy for Besponsa (inotuzumab ozogamicin)", name, "guideline",
                  links=[{"label": f"{name}: {policy.title}"[:140], "type": "absolute",
                          "url": f"{base_url}/policies/{policy.payer_id}"}])]
    if inactive:
        cards.append(card("Coverage is not active: Besponsa is not covered under it", name,
                          "coverage-info", "warning"))
    elif det is not None and det.decision == DENY:
        why = "\n".join(f"- {r.concept}: “{r.cite}”" for r in det.reasons)
        cards.append(card(f"Not covered by {name} on the chart's facts", name, "coverage-info",
                          "warning", f"The chart shows the policy is not met:\n{why}"))
    elif primary:
        docs = "\n".join(f"- {d}" for d in policy.documentation)
        met = det is not None and det.decision == "approve"
        summary = ("Prior auth needed: the chart meets every criterion; confirm the form" if met
                   else f"Prior authorization needed: complete the {name} Besponsa questionnaire")
        cards.append(card(summary, name, "coverage-info", detail=f"Documentation needed:\n{docs}"))
    return cards
