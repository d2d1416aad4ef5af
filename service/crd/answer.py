"""Coverage answers for Besponsa orders (CRD 2.1 coverage-information extension and cards)."""
from __future__ import annotations

import hashlib
import os
from datetime import date
from functools import lru_cache

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
    """One coverage-information extension; honours every crd-ci invariant (q1-q9)."""
    return {"url": COVERAGE_INFO, "extension": [
        sub("coverage", "valueReference", {"reference": coverage_ref}),
        *assertion_parts(policy, outcome_of(det), primary, base_url, inactive),
        sub("date", "valueDate", today.isoformat()),
        sub("coverage-assertion-id", "valueString", assertion_id(order, coverage_ref, policy))]}


def outcome_of(det: Determination | None) -> tuple | None:
    """What the answers show of a determination: its decision, and the reasons of a denial."""
    return None if det is None else (det.decision, det.reasons if det.decision == DENY else ())


@lru_cache(maxsize=1024)
def assertion_parts(policy: Policy | None, outcome: tuple | None, primary: bool, base_url: str,
                    inactive: bool) -> tuple[dict, ...]:
    """The parts that depend only on the policy and the determination (shared, never mutated)."""
    parts = []
    if inactive:  # CRD 2.1 cards.md: "not covered" with a reason of 'No Active Coverage'
        parts += [sub("covered", "valueCode", "not-covered"),
                  sub("reason", "valueCodeableConcept", {"coding": [{
                      "system": CRD_TEMP, "code": "no-active-coverage", "display": "Coverage not active"}],
                      "text": "The patient's coverage is not active."})]
    elif outcome is not None and outcome[0] == DENY:
        parts.append(sub("covered", "valueCode", "not-covered"))
        for r in outcome[1]:
            parts.append(sub("reason", "valueCodeableConcept", {
                "coding": [{"system": SYSTEM, "code": r.concept}],
                "text": f"{policy.payer_name} policy: “{r.cite}”"}))
    else:
        parts += [sub("covered", "valueCode", "covered"), sub("pa-needed", "valueCode", "auth-needed")]
        if primary:  # CRD: only primary hooks ask for documentation
            parts += [sub("doc-needed", "valueCode", "clinical"),
                      sub("doc-purpose", "valueCode", "withpa"),
                      # crd-ci-q8 (CRD 2.2): a documentation purpose comes with its reason.
                      sub("reason", "valueCodeableConcept", {"text": (
                          f"{policy.payer_name} requires prior authorization for Besponsa, "
                          "documented on its questionnaire")}),
                      sub("questionnaire", "valueCanonical", canonical.questionnaire_canonical(policy))]
    parts.append(sub("billingCode", "valueCoding", J9229))
    if policy is not None:
        # CRD 2.1 detail code policy-link; a string value, as CRD 2.0.1 allows no url here.
        parts.append({"url": "detail", "extension": [
            sub("code", "valueCodeableConcept", {"coding": [{"system": CRD_TEMP, "code": "policy-link",
                                                             "display": "Policy Link"}]}),
            sub("value", "valueString", f"{base_url}/policies/{policy.payer_id}")]})
    return tuple(parts)


def same_assertion(old: dict, new: dict) -> bool:
    """The order already carries this assertion (all but its date): CRD says send nothing new."""
    def parts(ext: dict) -> list:
        return [e for e in ext.get("extension") or () if e.get("url") != "date"]
    return parts(old) == parts(new)


def annotate_order(order: dict, info: dict) -> dict:
    """The full order with this coverage-information (replacing one from an earlier call)."""
    kept = [e for e in order.get("extension") or () if e.get("url") != COVERAGE_INFO]
    return {**order, "extension": kept + [info]}  # a new top level; nested parts are only read


def card_ids(count: int) -> list[str]:
    """Fresh version-4 UUIDs for a response's cards, from one read of the OS random source."""
    raw = bytearray(os.urandom(16 * count))
    ids = []
    for i in range(0, len(raw), 16):  # RFC 9562: version 4 and variant bits (uuid.UUID is slower)
        raw[i + 6] = (raw[i + 6] & 0x0F) | 0x40
        raw[i + 8] = (raw[i + 8] & 0x3F) | 0x80
        h = raw[i:i + 16].hex()
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


def card(summary: str, payer: str, topic: str, indicator: str = "info", detail: str | None = None,
         links: list[dict] | None = None) -> dict:
    """A CDS Hooks card without its uuid: summary under 140 characters, payer as source (CRD)."""
    out = {"summary": summary[:139], "indicator": indicator,
           "source": {"label": payer, "topic": {"system": CRD_TEMP, "code": topic}}}
    if detail:
        out["detail"] = detail
    if links:
        out["links"] = links
    return out


def build_cards(policy: Policy, det: Determination | None, primary: bool, base_url: str,
                inactive: bool, *, coverage_cards: bool = True, guideline_cards: bool = True) -> list[dict]:
    """Instructions (what to document, or why not covered) first; then the policy's External Reference.

    Each kind can be switched off by its CRD card-type configuration option.
    """
    templates = [c for c in card_templates(policy, outcome_of(det), primary, base_url, inactive)
                 if (coverage_cards if c["source"]["topic"]["code"] == "coverage-info" else guideline_cards)]
    return [{"uuid": cid, **t} for cid, t in zip(card_ids(len(templates)), templates)]


@lru_cache(maxsize=1024)
def card_templates(policy: Policy, outcome: tuple | None, primary: bool, base_url: str,
                   inactive: bool) -> tuple[dict, ...]:
    name = policy.payer_name
    guideline = card(f"{name} medical policy for Besponsa (inotuzumab ozogamicin)", name, "guideline",
                     links=[{"label": f"{name}: {policy.title}"[:140], "type": "absolute",
                             "url": f"{base_url}/policies/{policy.payer_id}"}])
    return (*build_instruction_cards(policy, outcome, primary, inactive), guideline)


def build_instruction_cards(policy: Policy, outcome: tuple | None, primary: bool,
                            inactive: bool) -> list[dict]:
    name = policy.payer_name
    cards: list[dict] = []
    if inactive:
        cards.append(card("Coverage is not active: Besponsa is not covered under it", name,
                          "coverage-info", "warning"))
    elif outcome is not None and outcome[0] == DENY:
        why = "\n".join(f"- {r.concept}: “{r.cite}”" for r in outcome[1])
        cards.append(card(f"Not covered by {name} on the chart's facts", name, "coverage-info",
                          "warning", f"The chart shows the policy is not met:\n{why}"))
    elif primary:
        docs = "\n".join(f"- {d}" for d in policy.documentation)
        met = outcome is not None and outcome[0] == "approve"
        summary = ("Prior auth needed: the chart meets every criterion; confirm the form" if met
                   else f"Prior authorization needed: complete the {name} Besponsa questionnaire")
        cards.append(card(summary, name, "coverage-info", detail=f"Documentation needed:\n{docs}"))
    return cards
