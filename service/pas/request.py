"""A PAS request Bundle read into what scoring needs, or every problem that makes it unusable."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from service.engine.answers import read_answers
from service.engine.prefill import prefill_resources
from service.errors import Issue, invalid, problem
from service.fhir.bundle import BundleIndex
from service.fhir.coverage import unknown_payer_message
from service.fhir.json import listed, obj, objs, reference_of
from service.fhir.npi import NPI_RULE, NPI_SYSTEM, is_valid_npi
from service.fhir.orders import is_besponsa_item
from service.fhir.responses import read_response_answers
from service.pas.bundle import identifier_key, request_digest
from service.policies.canonical import policy_for_questionnaire
from service.policies.drug import BESPONSA
from service.policies.model import Policy
from service.policies.registry import all_policies, find_payer_id, get_policy


@dataclass
class SubmitRequest:
    bundle: dict
    index: BundleIndex
    claim: dict
    claim_entry: dict
    policy: Policy
    questionnaire_response: dict | None  # PAS does not require DTR
    answers: dict
    items: list[dict]
    idempotency_key: str
    digest: str
    prior: str | None = None  # the earlier request's first identifier key (claim-update Claim.related)
    updates: bool = False  # a PAS claim-update: Claim.related names an earlier Claim of the chain
    prior_identifiers: tuple[str, ...] = ()  # identifier keys of the Claim named (by the update or its copy)
    prior_references: tuple[str, ...] = ()  # references to it: as sent, and the included copy's fullUrl/Type/id
    cancelled_items: frozenset[int] = frozenset()  # item sequences the provider cancelled
    cancelled: bool = False  # the whole request is cancelled (Claim.status cancelled)
    member_key: str | None = None
    provider_key: str | None = None
    insurer: dict | None = None


def idempotency_key(bundle: dict, claim: dict) -> str:
    """Bundle.identifier, else Claim.identifier, else the request digest (PAS retries)."""
    key = identifier_key(bundle.get("identifier"))
    if key:
        return f"bundle:{key}"
    for ident in objs(claim.get("identifier")):
        key = identifier_key(ident)
        if key:
            return f"claim:{key}"
    return f"sha256:{request_digest(bundle)}"


def member_key(index: BundleIndex, claim: dict) -> str | None:
    """The patient's member id (identifier typed MB, PAS 2.2 inquiry), else its first identifier."""
    patient = index.resolve(claim.get("patient"), "Patient") or {}
    idents = objs(patient.get("identifier"))
    ref_ident = obj(obj(claim.get("patient")).get("identifier"))
    idents += [ref_ident] if ref_ident else []
    typed = [i for i in idents if any(c.get("code") == "MB" for c in
                                      objs(obj(i.get("type")).get("coding")))]
    for ident in typed + idents:
        if identifier_key(ident):
            return identifier_key(ident)
    return None


def provider_keys(index: BundleIndex, reference: object) -> list[str]:
    """Identifier keys of the provider a Claim names (NPI and any others), for inquiry matching."""
    res = index.resolve(reference) or {}
    if res.get("resourceType") == "PractitionerRole":
        res = index.resolve(res.get("practitioner")) or res
    idents = objs(res.get("identifier"))
    if obj(obj(reference).get("identifier")):
        idents.append(obj(reference)["identifier"])
    return [k for k in (identifier_key(i) for i in idents) if k]


def npi_problems(keys: list[str], path: str) -> list[Issue]:
    """Each NPI (system us-npi) among a provider's identifier keys whose check digit is wrong (CMS NPI rule)."""
    return [problem(f"{path}.identifier", f"NPI {key.split('|', 1)[1][:16]!r} {NPI_RULE}")
            for key in keys if key.startswith(f"{NPI_SYSTEM}|") and not is_valid_npi(key.split("|", 1)[1])]


def read_payer(index: BundleIndex, claim: dict, problems: list[Issue]) -> tuple[str | None, dict | None]:
    """Claim.insurance (focal) -> Coverage -> payor Organization -> payer id (CONTRACT: Payers)."""
    insurance = objs(claim.get("insurance"))
    focal = [i for i in insurance if i.get("focal")] or insurance
    if not focal:
        problems.append(problem("Claim.insurance", "missing; it must reference the patient's Coverage"))
        return None, None
    coverage = index.resolve(focal[0].get("coverage"), "Coverage")
    if coverage is None:
        problems.append(problem("Claim.insurance.coverage", "must reference a Coverage inside the Bundle"))
        return None, None
    payors = objs(coverage.get("payor"))
    if not payors:
        problems.append(problem("Coverage.payor", "missing"))
        return None, None
    org = index.resolve(payors[0], "Organization") or {}
    idents = objs(org.get("identifier"))
    if obj(payors[0].get("identifier")):
        idents.append(payors[0]["identifier"])
    name = org.get("name") or payors[0].get("display")
    payer = find_payer_id(idents, name if isinstance(name, str) else None)
    if payer is None:
        problems.append(problem("Coverage.payor", unknown_payer_message(coverage, {reference_of(payors[0]) or '': org})))
    return payer, {k: v for k, v in payors[0].items() if k in ("reference", "identifier", "display")}


def read_questionnaire_response(index: BundleIndex, claim: dict, problems: list[Issue]) -> dict | None:
    """The QuestionnaireResponse Claim.supportingInfo references (valueReference), if any (at most one)."""
    found = []
    for n, info in enumerate(objs(claim.get("supportingInfo"))):
        if "valueReference" in info and not isinstance(info["valueReference"], dict):
            problems.append(problem(f"Claim.supportingInfo[{n}].valueReference", "must be a Reference (an object)"))
        elif isinstance(info.get("valueReference"), dict):
            res = index.resolve(info["valueReference"], "QuestionnaireResponse")
            if res is not None and res not in found:
                found.append(res)
    if not found:  # PAS does not require DTR: decide from what the request carries
        return None
    if len(found) > 1:
        problems.append(problem("Claim.supportingInfo", f"{len(found)} QuestionnaireResponses referenced; "
                        "send exactly one completed response"))
        return None
    if found[0].get("status") == "entered-in-error":
        problems.append(problem("QuestionnaireResponse.status", "entered-in-error cannot support a request"))
    return found[0]


INFO_CANCELLED = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/modifierextension-infoCancelled"
UNDERSTOOD_MODIFIERS = frozenset({INFO_CANCELLED})  # FHIR: a modifier we do not understand is refused


def refuse_unknown_modifiers(claim: dict, index: BundleIndex) -> list[Issue]:
    """Every modifierExtension in the request that this service does not understand (FHR R4 extensibility.html)."""
    problems = []
    places = [("Claim", claim)] + [(f"Claim.item[{n}]", i) for n, i in enumerate(objs(claim.get("item")))] + \
             [(f"Claim.supportingInfo[{n}]", i) for n, i in enumerate(objs(claim.get("supportingInfo")))] + \
             [(f"Bundle.entry[{n}].resource", obj(e.get("resource"))) for n, e in enumerate(index.entries) if n]
    for where, element in places:
        for m, ext in enumerate(listed(element.get("modifierExtension"))):
            url = obj(ext).get("url")
            if url not in UNDERSTOOD_MODIFIERS:
                problems.append(problem(f"{where}.modifierExtension[{m}]",
                                        f"{str(url)[:120]!r} changes the meaning of the request and is not understood here"))
    return problems


KEY_LIMIT = 256  # the longest identifier or reference the store indexes (claims columns hold 256-512)


def storable(value: object) -> bool:
    """Text the database can index: at most KEY_LIMIT characters, no NUL (PostgreSQL refuses it)."""
    return not isinstance(value, str) or (len(value) <= KEY_LIMIT and "\x00" not in value)


def unstorable_keys(bundle: dict, claim: dict) -> list[Issue]:
    """Identifiers and references we index, checked before the database sees them (issue: no 500s)."""
    fields = [("Bundle.identifier.system", obj(bundle.get("identifier")).get("system")),
              ("Bundle.identifier.value", obj(bundle.get("identifier")).get("value")),
              ("Claim.patient.reference", obj(claim.get("patient")).get("reference")),
              ("Claim.id", claim.get("id"))]
    fields += [(f"Claim.identifier[{n}].{k}", i.get(k)) for n, i in enumerate(objs(claim.get("identifier")))
               for k in ("system", "value")]
    fields += [(f"Bundle.entry[{n}].fullUrl", e.get("fullUrl")) for n, e in enumerate(objs(bundle.get("entry")))]
    fields += [(f"Bundle.entry[{n}].resource.identifier", json_text(obj(e.get("resource")).get("identifier")))
               for n, e in enumerate(objs(bundle.get("entry")))]
    return [problem(path, f"must be text of at most {KEY_LIMIT} characters without NUL") for path, value in fields
            if not storable(value)]


def json_text(value: object) -> str:
    """Identifiers as the store keys them ('system|value'), joined: each must be storable."""
    return "".join(f"{obj(i).get('system')}|{obj(i).get('value')}" for i in listed(value))[:KEY_LIMIT + 1] \
        if isinstance(value, list) else ""


CERTIFICATION_TYPE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-certificationType"
X12_1322 = "https://codesystem.x12.org/005010/1322"  # UM02 certification type; 3 = Cancel


def certifies_cancel(element: dict) -> bool:
    """certificationType 3 (Cancel) in element.extension (PAS 2.2.1 spec-70; on the Claim: cancel it all)."""
    return any(obj(e).get("url") == CERTIFICATION_TYPE and any(
        obj(c).get("code") == "3" for c in listed(obj(obj(e).get("valueCodeableConcept")).get("coding")))
        for e in listed(element.get("extension")))


def is_cancelled(element: dict) -> bool:
    """An item the provider withdrew: infoCancelled true (spec-69), or certificationType 3 (spec-70)."""
    return certifies_cancel(element) or any(
        obj(e).get("url") == INFO_CANCELLED and obj(e).get("valueBoolean") is True
        for e in listed(element.get("modifierExtension")))


def cancels_request(claim: dict) -> bool:
    """The whole request is cancelled: certificationType 3 in Claim.extension (PAS 2.2.1 "Updating
    Authorization Requests"; Claim.status stays active), or Claim.status cancelled as sent before."""
    return claim.get("status") == "cancelled" or certifies_cancel(claim)


def cancelled_items(items: list[dict]) -> frozenset[int]:
    return frozenset(i["sequence"] for i in items if isinstance(i.get("sequence"), int) and is_cancelled(i))


def prior_claim(claim: dict, index: BundleIndex) -> tuple[list[str], list[str]]:
    """Identifier keys and references of the Claim this update names (PAS claim-update: Claim.related.claim
    by identifier or by reference; spec-65 carries that Claim in the Bundle, its identifiers too)."""
    keys: list[str] = []
    refs: list[str] = []
    for related in objs(claim.get("related")):
        ref = obj(related.get("claim"))
        keys += [k for k in [identifier_key(ref.get("identifier"))] if k]
        if isinstance(ref.get("reference"), str) and ref["reference"]:
            refs.append(ref["reference"])
        entry = obj(index.entry_for(ref)) if ref.get("reference") else {}
        earlier = obj(entry.get("resource"))
        if earlier.get("resourceType") == "Claim":
            keys += [k for k in (identifier_key(i) for i in objs(earlier.get("identifier"))) if k]
            refs += [r for r in (entry.get("fullUrl"), f"Claim/{earlier.get('id')}" if earlier.get("id") else None)
                     if isinstance(r, str)]
    return list(dict.fromkeys(keys)), list(dict.fromkeys(refs))


def carried_chart(bundle: dict, claim: dict) -> list[dict]:
    """The request's clinical resources, with each Claim.diagnosis code as a Condition (the prefill reads them)."""
    resources = [r for e in objs(bundle.get("entry"))[1:] if isinstance(r := e.get("resource"), dict)]
    for n, dx in enumerate(objs(claim.get("diagnosis"))):
        concept = dx.get("diagnosisCodeableConcept")
        if isinstance(concept, dict):
            resources.append({"resourceType": "Condition", "id": f"claim-diagnosis-{n}", "code": concept})
    return resources


def check_item_shape(items: object, where: str, problems: list[Issue]) -> None:
    """QuestionnaireResponse.item / .answer are lists of objects at every depth (FHIR R4)."""
    if items is None:
        return
    if not isinstance(items, list) or len(objs(items)) != len(items):
        problems.append(problem(where, "must be a list of objects"))
        return
    for n, item in enumerate(items):
        answers = item.get("answer")
        if answers is not None and (not isinstance(answers, list) or len(objs(answers)) != len(answers)):
            problems.append(problem(f"{where}[{n}].answer", "must be a list of objects"))
            continue
        check_item_shape(item.get("item"), f"{where}[{n}].item", problems)
        for m, answer in enumerate(answers or ()):
            check_item_shape(answer.get("item"), f"{where}[{n}].answer[{m}].item", problems)


def read_items(claim: dict, problems: list[Issue]) -> list[dict]:
    """Claim.item: every item must be Besponsa (HCPCS J9229), quantities in 0.1 mg units; an update that
    cancels the whole request needs none (PAS 2.2.1 "Updating Authorization Requests")."""
    raw = claim.get("item")
    items = objs(raw)
    whole_cancel = raw is None and cancels_request(claim) and bool(objs(claim.get("related")))
    if not whole_cancel and (not items or not isinstance(raw, list) or len(items) != len(raw)):
        problems.append(problem("Claim.item", f"at least one item ({BESPONSA.code.code}) is required"))
    for n, item in enumerate(items):
        if not is_besponsa_item(item):
            codes = [c.get("code") for c in objs(obj(item.get("productOrService")).get("coding"))]
            problems.append(problem(f"Claim.item[{n}].productOrService", f"{codes or 'no code'} is not HCPCS "
                            f"{BESPONSA.code.code} ({BESPONSA.names[0]}); this service decides Besponsa only"))
        seq = item.get("sequence")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            problems.append(problem(f"Claim.item[{n}].sequence", "a positive integer is required"))
        qty = obj(item.get("quantity")).get("value")
        if qty is not None and (isinstance(qty, bool) or not isinstance(qty, (int, float)) or qty <= 0):
            problems.append(problem(f"Claim.item[{n}].quantity.value", "must be a positive number of "
                            "0.1 mg units"))
    return items


def read_submit(bundle: dict) -> SubmitRequest:
    """Every check of PAS 2.2 $submit input we rely on; all problems are raised together (422)."""
    problems: list[Issue] = []
    entries = bundle.get("entry")
    first: dict[str, Any] = entries[0] if isinstance(entries, list) and entries and isinstance(entries[0], dict) else {}
    claim: dict[str, Any] = obj(first.get("resource"))
    if claim.get("resourceType") != "Claim":
        raise invalid(problem("Bundle.entry[0]", "the first entry must be the Claim (PAS ClaimFirst)"))
    if bundle.get("type") != "collection":
        problems.append(problem("Bundle.type", f"must be 'collection', got {bundle.get('type')!r}"))
    if claim.get("use") != "preauthorization":
        problems.append(problem("Claim.use", f"must be 'preauthorization', got {claim.get('use')!r}"))
    for name in ("patient", "provider", "insurer", "type", "priority"):
        if name in claim and not isinstance(claim[name], dict):
            problems.append(problem(f"Claim.{name}", "must be a JSON object (a Reference or CodeableConcept)"))
    for name in ("identifier", "supportingInfo", "insurance"):
        if name in claim and (not isinstance(claim[name], list)
                              or len(objs(claim[name])) != len(claim[name])):
            problems.append(problem(f"Claim.{name}", "must be a list of objects"))
    if "identifier" in bundle and not isinstance(bundle["identifier"], dict):
        problems.append(problem("Bundle.identifier", "must be one Identifier object"))
    index = BundleIndex(bundle)
    if index.resolve(claim.get("patient"), "Patient") is None and not obj(claim.get("patient")).get("identifier"):
        problems.append(problem("Claim.patient", "must reference a Patient in the Bundle"))
    problems += refuse_unknown_modifiers(claim, index)
    problems += unstorable_keys(bundle, claim)
    problems += npi_problems(provider_keys(index, claim.get("provider")), "Claim.provider")
    items = read_items(claim, problems)
    payer, payor_ref = read_payer(index, claim, problems)
    qr = read_questionnaire_response(index, claim, problems)
    policy: Policy | None = get_policy(payer) if payer else None
    answers: dict[str, object] = {}
    if qr is not None:
        canonical = qr.get("questionnaire") if isinstance(qr.get("questionnaire"), str) else ""
        policy = policy_for_questionnaire(canonical, all_policies()) if canonical else None
        if policy is None:
            problems.append(problem("QuestionnaireResponse.questionnaire", f"{canonical or 'missing'!s} is not "
                            "one of this service's Questionnaires"))
        elif payer and policy.payer_id != payer:
            problems.append(problem("QuestionnaireResponse.questionnaire", f"answers payer '{policy.payer_id}' "
                                    f"but the Coverage's payer is '{payer}'; they must agree"))
        check_item_shape(qr.get("item"), "QuestionnaireResponse.item", problems)
        raw, read_problems = read_response_answers(qr)
        answers, type_problems = read_answers(raw)
        problems += [problem("QuestionnaireResponse.item", p) for p in read_problems + type_problems]
    if objs(claim.get("related")) and not any(obj(r.get("claim")) for r in objs(claim.get("related"))):
        problems.append(problem("Claim.related.claim", "an update must name the Claim it updates, by identifier "
                                                       "or by reference to it in the Bundle (PAS spec-65)"))
    if problems or policy is None:
        raise invalid(problems)
    # What the request itself shows (Patient, Conditions, Observations, the Claim's diagnoses) fills
    # what the questionnaire leaves open; the clinician's answers win.
    answers = {**prefill_resources(carried_chart(bundle, claim), policy.concepts, date.today()), **answers}
    prior_keys, prior_refs = prior_claim(claim, index)
    return SubmitRequest(
        bundle=bundle, index=index, claim=claim, claim_entry=first, policy=policy,
        questionnaire_response=qr, answers=answers, items=items, prior=next(iter(prior_keys), None),
        updates=bool(objs(claim.get("related"))), prior_identifiers=tuple(prior_keys),
        prior_references=tuple(prior_refs),
        cancelled_items=cancelled_items(items), cancelled=cancels_request(claim),
        idempotency_key=idempotency_key(bundle, claim), digest=request_digest(bundle),
        member_key=member_key(index, claim),
        provider_key=next(iter(provider_keys(index, claim.get("provider"))), None),
        insurer=claim.get("insurer") or payor_ref)
