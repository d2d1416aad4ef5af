"""The result page's facts, read from the PAS response: decision, what a pend still needs, when it is due."""
from __future__ import annotations

from datetime import UTC, datetime

from service.fhir.json import obj, objs, text_of
from service.pas.claimresponse import DECISION_DUE, REVIEW_ACTION, REVIEW_ACTION_CODE
from service.pas.information import requested_concepts
from service.policies.concepts import CONCEPTS
from service.policies.model import INITIAL, Fact, Policy, Review, walk

DECISIONS = {"A1": "approved", "A3": "denied", "A4": "pended"}


def action_code(claim_response: dict) -> str:
    """The X12 306 review action of the first reviewed item (PAS 2.2 reviewAction)."""
    for item in objs(claim_response.get("item")):
        for adjudication in objs(item.get("adjudication")):
            for ext in objs(adjudication.get("extension")):
                if ext.get("url") == REVIEW_ACTION:
                    for part in objs(ext.get("extension")):
                        if part.get("url") == REVIEW_ACTION_CODE:
                            return text_of(objs(obj(part.get("valueCodeableConcept")).get("coding"))[0].get("code"))
    return ""


def due_words(stamp: str) -> str:
    """'2026-12-09 19:06 UTC' for the decision-due instant (CMS-0057-F timeframe), '' when absent."""
    try:
        return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return ""


def read_determination(bundle: dict) -> dict:
    """What the result page shows, from the PAS response Bundle's ClaimResponse (first entry)."""
    cr = bundle["entry"][0]["resource"]
    period = cr.get("preAuthPeriod") or {}
    due = next((text_of(e.get("valueDateTime")) for e in objs(cr.get("extension")) if e.get("url") == DECISION_DUE), "")
    reference = next((text_of(i.get("value")) for i in objs(cr.get("identifier")) if text_of(i.get("value"))), "")
    return {"decision": DECISIONS.get(action_code(cr), "unknown"), "number": cr.get("preAuthRef"),
            "reference": reference or text_of(cr.get("preAuthRef")),
            "start": period.get("start"), "end": period.get("end"), "disposition": cr.get("disposition"),
            "concepts": requested_concepts(cr), "due": due_words(due) if due else "", "id": cr.get("id"),
            "notes": [text_of(n.get("text")) for n in objs(cr.get("processNote")) if text_of(n.get("text"))],
            "version": text_of((cr.get("meta") or {}).get("versionId"))}


def applicable_cites(policy: Policy, request_type: object) -> dict[str, list[str]]:
    """The policy's words per concept on the branch this request is judged on (its request type, a first
    request while unanswered), exclusions included: a renewal's words never on an initial request."""
    tree = policy.criteria_for(request_type if request_type else INITIAL)
    cites: dict[str, dict[str, str]] = {}
    said = [(n.concept, n.cite) for n in walk(tree) if isinstance(n, (Fact, Review)) and n.cite]
    for concept, cite in said + [(e.when.concept, e.cite) for e in policy.exclusions]:
        # The same sentence quoted twice in a policy (a comma apart, under two headings) is said once.
        cites.setdefault(concept, {}).setdefault(sentence_key(cite), cite)
    return {concept: list(words.values()) for concept, words in cites.items()}


def sentence_key(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def needed_facts(policy: Policy, concepts: list[str], answers: dict[str, object]) -> list[dict]:
    """The facts a determination names, in plain words: the concept's display and question and the policy's
    sentences, once each, only those that apply to this request type (no codes, no tree paths)."""
    cites = applicable_cites(policy, answers.get("request-type"))
    out = []
    for code in dict.fromkeys(concepts):
        if code not in cites and code != "request-type":
            continue  # asked only on the other request type's branch
        concept = CONCEPTS[code]
        words = cites.get(code, []) if code != "request-type" else []
        out.append({"code": code, "display": concept.display, "question": concept.question,
                    "answered": code in answers, "policy": words})
    return out
