"""Coverage answers for Besponsa orders (CRD 2.1 coverage-information extension and cards)."""
from __future__ import annotations

import hashlib
import random
from datetime import date
from functools import lru_cache
from typing import Any

from service.engine.evaluate import APPROVE, DENY, UNKNOWN, Reason
from service.fhir.json import listed
from service.policies import canonical
from service.policies.concepts import SYSTEM
from service.policies.drug import drug_billing_codes
from service.policies.model import Policy

COVERAGE_INFO = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
CRD_TEMP = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"
# What the chart shows: engine.decide's decision with a denial's reasons; None when not assessed.
ChartOutcome = tuple[str, tuple[Reason, ...]] | None


def assertion_id(order: dict, coverage_ref: str, policy: Policy) -> str:
    """Stable for the same order, coverage and policy version (so EHRs can de-duplicate)."""
    identity = f"{order.get('resourceType')}/{order.get('id')}" if order.get("id") else repr(
        (order.get("identifier"), order.get("medicationCodeableConcept"), order.get("code"),
         order.get("subject")))
    version = f"{policy.payer_id}:{policy.version}:{canonical.ARTIFACT_VERSION}"
    return hashlib.sha256(f"{identity}|{coverage_ref}|{version}".encode()).hexdigest()[:32]


def sub(url: str, key: str, value: object) -> dict:
    return {"url": url, key: value}


def build_coverage_info(*, resource: dict, coverage_ref: str, policy: Policy, today: date,
                        primary: bool, base_url: str, outcome: ChartOutcome,
                        inactive: bool) -> dict:
    """One coverage-information extension; honours every crd-ci invariant (q1-q9)."""
    return {"url": COVERAGE_INFO, "extension": [
        sub("coverage", "valueReference", {"reference": coverage_ref}),
        *assertion_parts(policy, outcome, primary, base_url, inactive),
        sub("date", "valueDate", today.isoformat()),
        sub("coverage-assertion-id", "valueString", assertion_id(resource, coverage_ref, policy))]}


@lru_cache(maxsize=1024)
def assertion_parts(policy: Policy, outcome: ChartOutcome, primary: bool, base_url: str,
                    inactive: bool) -> tuple[dict, ...]:
    """The parts that depend only on the policy and the determination (shared, never mutated)."""
    parts: list[dict[str, Any]] = []
    if inactive:  # CRD 2.1 cards.md: "not covered" with a reason of 'No Active Coverage'
        parts += [sub("covered", "valueCode", "not-covered"),
                  sub("reason", "valueCodeableConcept", {"coding": [{
                      "system": CRD_TEMP, "code": "no-active-coverage", "display": "Coverage not active"}],
                      "text": "The patient's coverage is not active."})]
    elif outcome is not None and outcome[0] == DENY:
        parts.append(sub("covered", "valueCode", "not-covered"))
        for r in ruling_out(outcome[1]):
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
    # The policy's billing codes for the drug (CONTRACT: The drug).
    parts += [sub("billingCode", "valueCoding", {"system": c.system, "code": c.code, "display": c.display})
              for c in drug_billing_codes(policy.billing_codes)]
    # CRD 2.1 detail code policy-link; a string value, as CRD 2.0.1 allows no url here.
    parts.append({"url": "detail", "extension": [
        sub("code", "valueCodeableConcept", {"coding": [{"system": CRD_TEMP, "code": "policy-link",
                                                         "display": "Policy Link"}]}),
        sub("value", "valueString", f"{base_url}/policies/{policy.payer_id}")]})
    return tuple(parts)


def ruling_out(reasons: tuple[Reason, ...]) -> tuple[Reason, ...]:
    """The facts that rule the order out; what the chart does not say is no reason for not-covered."""
    return tuple(r for r in reasons if r.status != UNKNOWN) or reasons


def same_assertion(old: dict, new: dict) -> bool:
    """The order already carries this assertion (all but its date): CRD says send nothing new."""
    def parts(ext: dict) -> list:
        return [e for e in listed(ext.get("extension")) if not (isinstance(e, dict) and e.get("url") == "date")]
    return parts(old) == parts(new)


def annotate_resource(resource: dict, info: dict) -> dict:
    """The full order (or Appointment, Encounter) with this coverage-information, replacing one
    from an earlier call."""
    kept = [e for e in listed(resource.get("extension")) if not (isinstance(e, dict) and e.get("url") == COVERAGE_INFO)]
    return {**resource, "extension": kept + [info]}  # a new top level; nested parts are only read


def card_ids(count: int) -> list[str]:
    """Fresh version-4 UUIDs for a response's cards (CDS Hooks 2.0: card.uuid).

    A card uuid only has to be unique, for feedback: the process's Mersenne Twister (seeded from
    the OS, re-seeded in forked workers) gives 122 random bits without a getrandom() system call,
    which cost ~14 µs per call on this service's virtual machines.
    """
    ids = []
    for _ in range(count):
        h = f"{random.getrandbits(128) & UUID4_KEEP | UUID4_SET:032x}"
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


# RFC 9562 section 5.4: the version (4) and variant (10) bits of a random 128-bit number.
UUID4_KEEP = ((1 << 128) - 1) ^ (0xF000 << 64) ^ (0xC000 << 48)
UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def card(summary: str, payer: str, topic: str, indicator: str = "info", detail: str | None = None,
         links: list[dict] | None = None) -> dict:
    """A CDS Hooks card without its uuid: summary under 140 characters, payer as source (CRD)."""
    out: dict[str, Any] = {"summary": summary[:139], "indicator": indicator,
           "source": {"label": payer, "topic": {"system": CRD_TEMP, "code": topic}}}
    if detail:
        out["detail"] = detail
    if links:
        out["links"] = links
    return out


def build_cards(policy: Policy, outcome: ChartOutcome, primary: bool, base_url: str,
                inactive: bool, *, coverage_cards: bool = True, guideline_cards: bool = True) -> list[dict]:
    """Instructions (what to document, or why not covered) first; then the policy's External Reference.

    Each kind can be switched off by its CRD card-type configuration option.
    """
    templates = card_templates(policy, outcome, primary, base_url, inactive, coverage_cards, guideline_cards)
    return [{"uuid": cid, **t} for cid, t in zip(card_ids(len(templates)), templates, strict=True)]


@lru_cache(maxsize=1024)
def card_templates(policy: Policy, outcome: ChartOutcome, primary: bool, base_url: str, inactive: bool,
                   coverage_cards: bool = True, guideline_cards: bool = True) -> tuple[dict, ...]:
    """The response's cards without their uuids (shared, never mutated), as configured."""
    return tuple(c for c in draft_cards(policy, outcome, primary, base_url, inactive)
                 if (coverage_cards if c["source"]["topic"]["code"] == "coverage-info" else guideline_cards))


def draft_cards(policy: Policy, outcome: ChartOutcome, primary: bool, base_url: str,
                inactive: bool) -> tuple[dict, ...]:
    name = policy.payer_name
    guideline = card(f"{name} medical policy for Besponsa (inotuzumab ozogamicin)", name, "guideline",
                     links=[{"label": f"{name}: {policy.title}"[:140], "type": "absolute",
                             "url": f"{base_url}/policies/{policy.payer_id}"}])
    return (*build_instruction_cards(policy, outcome, primary, inactive), guideline)


def build_instruction_cards(policy: Policy, outcome: ChartOutcome, primary: bool,
                            inactive: bool) -> list[dict]:
    name = policy.payer_name
    cards: list[dict] = []
    if inactive:
        cards.append(card("Coverage is not active: Besponsa is not covered under it", name,
                          "coverage-info", "warning"))
    elif outcome is not None and outcome[0] == DENY:
        why = "\n".join(f"- {r.concept}: “{r.cite}”" for r in ruling_out(outcome[1]))
        cards.append(card(f"Not covered by {name} on the chart's facts", name, "coverage-info",
                          "warning", f"The chart shows the policy is not met:\n{why}"))
    elif primary:
        docs = "\n".join(f"- {d}" for d in policy.documentation)
        met = outcome is not None and outcome[0] == APPROVE
        summary = ("Prior auth needed: the chart meets every criterion; confirm the form" if met
                   else f"Prior authorization needed: complete the {name} Besponsa questionnaire")
        cards.append(card(summary, name, "coverage-info", detail=f"Documentation needed:\n{docs}"))
    else:  # secondary hooks say what the payer requires and ask for nothing (CRD 2.1)
        cards.append(card(f"Besponsa needs prior authorization from {name}", name, "coverage-info"))
    return cards
