"""The DTR Questionnaire of a payer, derived from its policy declaration (DTR 2.1 std-questionnaire)."""
from __future__ import annotations

from html import escape

from service.policies import canonical
from service.policies.concepts import ANSWER_TYPES, CODING, CONCEPTS, SYSTEM
from service.policies.drug import drug_billing_codes
from service.policies.model import LEAF_TESTS, AllOf, Fact, Node, Policy, Review, citations, concepts_used

DTR_STD_QUESTIONNAIRE = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-std-questionnaire"
CQF_LIBRARY = "http://hl7.org/fhir/StructureDefinition/cqf-library"
INITIAL_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
SIGNATURE_REQUIRED = "http://hl7.org/fhir/StructureDefinition/questionnaire-signatureRequired"
ATTESTATION_GROUP = "prescriber-attestations"


def gate_codes(fact: Fact) -> tuple[str, ...]:
    """The answer codes a leaf requires, when its test names codes (LEAF_TESTS `codes`)."""
    codes = LEAF_TESTS[fact.test].codes
    return codes(fact.value) if codes else ()


def collect_guards(node: Node, inherited: tuple[Fact, ...] = ()) -> dict[str, list[tuple[Fact, ...]]]:
    """For every occurrence of a concept, the coded IS/IN facts that must hold beside it."""
    found: dict[str, list[tuple[Fact, ...]]] = {}
    if isinstance(node, (Fact, Review)):
        found.setdefault(node.concept, []).append(inherited)
        return found
    here = inherited
    if isinstance(node, AllOf):
        here = inherited + tuple(c for c in node.children if isinstance(c, Fact) and gate_codes(c)
                                 and CONCEPTS[c.concept].answer_type == CODING)
    for child in node.children:
        own = tuple(g for g in here if g is not child)
        for concept, guards in collect_guards(child, own).items():
            found.setdefault(concept, []).extend(guards)
    return found


def derive_enable_when(concept: str, occurrences: list[tuple[Fact, ...]],
                       asked_before: list[str]) -> list[dict]:
    """enableWhen on the nearest earlier coded question every occurrence depends on (SDC enableWhen)."""
    candidates: dict[str, set[str]] = {}
    for code in (c for c in asked_before if CONCEPTS[c].gates_questions):
        values: set[str] = set()
        for guards in occurrences:
            facts = [g for g in guards if g.concept == code and g.concept != concept]
            if not facts:
                break
            allowed = set.intersection(*(set(gate_codes(f)) for f in facts))
            values |= allowed
        else:
            known = {c for c, _ in CONCEPTS[code].options} - CONCEPTS[code].unknown_codes
            if values and not values >= known:  # a gate that only hides "unknown" hides nothing
                candidates[code] = values
    if not candidates:
        return []
    # Renewal questions belong to a continuation; otherwise the nearest condition reads best.
    if candidates.get("request-type") == {"continuation"}:
        code = "request-type"
    else:
        others = [c for c in candidates if c != "request-type"] or list(candidates)
        code = max(others, key=asked_before.index)
    order = [c for c, _ in CONCEPTS[code].options]
    return [{"question": code, "operator": "=",
             "answerCoding": {"system": SYSTEM, "code": v, "display": CONCEPTS[code].option_display(v)}}
            for v in sorted(candidates[code], key=order.index)]


def necessary_concepts(node: Node) -> set[str]:
    """Concepts every approving path needs answered (AND: union, OR: intersection)."""
    if isinstance(node, Fact):
        return {node.concept}
    if isinstance(node, Review):
        return set()
    sets = [necessary_concepts(c) for c in node.children]
    if isinstance(node, AllOf):
        return set().union(*sets)
    return set.intersection(*sets) if sets else set()


def build_item(policy: Policy, code: str, enable_when: list[dict], required: bool) -> dict:
    """One question: linkId == code == the pa-criteria concept (CONTRACT: Criterion concepts)."""
    concept = CONCEPTS[code]
    item: dict = {"linkId": code,
                  "code": [{"system": SYSTEM, "code": code, "display": concept.display}],
                  "text": concept.question, "type": ANSWER_TYPES[concept.answer_type].item_type,
                  "required": required}
    if concept.cql_define:
        item["extension"] = [{"url": INITIAL_EXPRESSION, "valueExpression": {
            "language": "text/cql",
            "expression": f'"{canonical.library_name(policy)}".{concept.cql_define}'}}]
    if enable_when:
        item["enableWhen"] = enable_when
        item["enableBehavior"] = "any"
    if concept.options:
        item["answerOption"] = [{"valueCoding": {"system": SYSTEM, "code": c, "display": d}}
                                for c, d in concept.options]
    cites = citations(policy, code)
    if cites:
        item["item"] = [{"linkId": f"{code}.help", "type": "display",
                         "text": f"{policy.payer_name} policy: " + " … ".join(f"“{c}”" for c in cites),
                         "extension": [{"url": ITEM_CONTROL, "valueCodeableConcept": {"coding": [{
                             "system": "http://hl7.org/fhir/questionnaire-item-control",
                             "code": "help", "display": "Help-Button"}]}}]}]
    return item


def build_items(policy: Policy) -> list[dict]:
    order = concepts_used(policy)
    guards = collect_guards(policy.criteria)
    needed = necessary_concepts(policy.criteria)
    items = [build_item(policy, code, derive_enable_when(code, guards.get(code, []), order[:i]),
                        code in needed) for i, code in enumerate(order)]
    if policy.requires_attestation_signature:
        attest = [i for i in items if i["linkId"].startswith("attest-")]
        group = {"linkId": ATTESTATION_GROUP, "type": "group", "text": "Prescriber attestations",
                 "extension": [{"url": SIGNATURE_REQUIRED, "valueCodeableConcept": {"coding": [{
                     "system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1",
                     "display": "Author's Signature"}]}}],
                 "item": attest}
        first = items.index(attest[0])
        items = [i for i in items if i not in attest]
        items.insert(first, group)
    return items


def build_questionnaire(policy: Policy) -> dict:
    """The payer's Questionnaire; every part derives from the declaration (DTR 2.1 section 4.3)."""
    title = f"{policy.payer_name}: inotuzumab ozogamicin (Besponsa) prior authorization"
    source = f"service/policies/payers/{policy.payer_id}.py"
    q: dict = {
        "resourceType": "Questionnaire",
        "id": canonical.questionnaire_id(policy),
        "meta": {"profile": [DTR_STD_QUESTIONNAIRE]},
        "text": {"status": "generated",
                 "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{escape(title)}</div>'},
        "extension": [{"url": CQF_LIBRARY, "valueCanonical":
                       f"{canonical.library_url(policy)}|{canonical.ARTIFACT_VERSION}"}],
        "url": canonical.questionnaire_url(policy),
        "version": canonical.ARTIFACT_VERSION,
        "name": canonical.library_name(policy).replace("Prefill", "Questionnaire"),
        "title": title,
        "status": "active",
        "subjectType": ["Patient"],
        "publisher": policy.payer_name,
        "description": f"Documentation for {policy.title} (version {policy.version}). "
                       f"Generated from {source} by `python -m service.dtr.generate`; do not edit.",
        "code": [{"system": c.system, "code": c.code, "display": c.display}
                 for c in drug_billing_codes(policy.billing_codes)],
        "item": build_items(policy),
    }
    if policy.effective:
        q["effectivePeriod"] = {"start": policy.effective.isoformat()}
    return q
