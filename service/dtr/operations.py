"""DTR $questionnaire-package and SDC $populate: pure functions from Parameters to resources.

Both read their input defensively (a value of the wrong JSON type is named, never a 500) and
raise ApiError naming the parameter (DTR 2.1 OperationDefinition questionnaire-package; SDC
Questionnaire-populate, whose single output parameter is `response`).
"""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from service.dtr.artifacts import libraries, questionnaires
from service.dtr.response import build_draft_response
from service.engine.prefill import prefill_with_evidence
from service.errors import bad_request, invalid, not_found, problem
from service.fhir.bundle import flatten_all, index_resources
from service.fhir.chart import CHART_QUERIES, ENCOUNTER_QUERY, ChartQuery, prefetch_tokens
from service.fhir.coverage import payer_of_coverage, unknown_payer_message
from service.fhir.json import obj, objs, text_of
from service.fhir.shape import is_fhir_id
from service.policies import canonical
from service.policies.model import Policy, concepts_used
from service.policies.registry import all_policies, get_policy

DTR_PACKAGE_BUNDLE = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/DTR-QPackageBundle"


def read_parameters(body: object) -> list[dict]:
    """Parameters.parameter as a list of named objects, or a 422 naming what is wrong."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise invalid(problem("resourceType", "the body must be a FHIR Parameters resource"))
    params = body.get("parameter", [])
    if not isinstance(params, list) or not all(isinstance(p, dict) and isinstance(p.get("name"), str)
                                               and p["name"] for p in params):
        raise invalid(problem("Parameters.parameter", "must be a list of named parameters"))
    return params


def resources_named(params: list[dict], name: str) -> list[dict]:
    return [p["resource"] for p in params if p["name"] == name and isinstance(p.get("resource"), dict)]


def strings_named(params: list[dict], name: str, key: str) -> list[str]:
    """String values of a parameter (valueCanonical, valueString, valueUrl); others are refused."""
    values = [p[key] for p in params if p["name"] == name and key in p]
    bad = [v for v in values if not isinstance(v, str) or not v]
    if bad:
        raise invalid(problem(f"Parameters.parameter[{name}].{key}", "must be a non-empty string"))
    return values


def choose_policy(coverages: list[dict], canonicals: list[str], known: dict[str, dict]) -> Policy:
    """The payer from the Coverage and/or the requested Questionnaire; they must agree."""
    from_coverage = set()
    for coverage in coverages:
        payer = payer_of_coverage(coverage, known)
        if payer is None:
            raise bad_request(unknown_payer_message(coverage, known), "coverage.payor")
        from_coverage.add(payer)
    from_canonical = set()
    for url in canonicals:
        policy = canonical.policy_for_questionnaire(url, all_policies())
        if policy is None:
            raise invalid(problem("questionnaire", f"no Questionnaire {url!r} is served here"))
        from_canonical.add(policy.payer_id)
    chosen = from_coverage | from_canonical
    if not chosen:
        raise invalid(problem("coverage", "give a coverage (whose payor names the payer) or a questionnaire "
                                          "canonical to choose a payer"))
    if len(chosen) > 1:
        raise invalid(problem("coverage", f"the coverage and questionnaire name different payers: {sorted(chosen)}"))
    policy = get_policy(chosen.pop())
    assert policy is not None  # chosen only from served payers
    return policy


def reference_to(resource: dict) -> dict | None:
    kind, rid = resource.get("resourceType"), resource.get("id")
    return {"reference": f"{kind}/{rid}"} if isinstance(kind, str) and isinstance(rid, str) else None


def check_package_resources(params: list[dict]) -> None:
    """Each coverage, order and referenced resource must name its resourceType, and a Bundle's entry be a
    list of objects (DTR 2.1 questionnaire-package input): a 422 naming each, never a silent skip."""
    problems = []
    for name in ("coverage", "order", "referenced"):
        for n, resource in enumerate(p.get("resource") for p in params if p["name"] == name):
            where = f"Parameters.parameter[{name}][{n}].resource"
            if resource is None:
                continue
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                problems.append(problem(f"{where}.resourceType", "must be a FHIR resource with a resourceType"))
                continue
            entry = resource.get("entry")
            if resource["resourceType"] == "Bundle" and entry is not None and \
                    not (isinstance(entry, list) and all(isinstance(e, dict) for e in entry)):
                problems.append(problem(f"{where}.entry", "must be a list of entries (objects)"))
    if problems:
        raise invalid(problems)


def build_package(body: object, today: date) -> dict:
    """DTR $questionnaire-package: Parameters with one PackageBundle (Questionnaire first)."""
    params = read_parameters(body)
    check_package_resources(params)
    coverages, orders = resources_named(params, "coverage"), resources_named(params, "order")
    chart = flatten_all(resources_named(params, "referenced"))  # Bundles given are opened up
    known = index_resources(chart + coverages + orders)
    policy = choose_policy(coverages, strings_named(params, "questionnaire", "valueCanonical"), known)
    questionnaire = questionnaires()[canonical.questionnaire_id(policy)]
    library = libraries()[canonical.library_id(policy)]
    found = prefill_with_evidence(chart, concepts_used(policy), today)
    answers, evidence = {c: v for c, (v, _) in found.items()}, {c: e for c, (_, e) in found.items()}
    subject = next((ref for r in orders + coverages
                    if isinstance(ref := obj(r.get("subject") or r.get("beneficiary")).get("reference"), str)), None)
    contexts = [ref for r in orders + coverages if (ref := reference_to(r))]
    assertion = strings_named(params, "context", "valueString")
    if assertion:
        contexts.append({"display": f"coverage-assertion-id {assertion[0]}"})
    entries = [{"fullUrl": f"{canonical.CANONICAL_BASE}/Questionnaire/{questionnaire['id']}",
                "resource": questionnaire},
               {"fullUrl": f"{canonical.CANONICAL_BASE}/Library/{library['id']}", "resource": library}]
    if subject:  # a draft needs its patient (DTR QuestionnaireResponse: subject 1..1)
        draft = build_draft_response(policy, questionnaire, answers, subject={"reference": subject},
                                     contexts=contexts, evidence=evidence)
        entries.append({"fullUrl": f"urn:uuid:{draft['id']}", "resource": draft})
    package = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "meta": {"profile": [DTR_PACKAGE_BUNDLE]},
               "type": "collection", "timestamp": datetime.now(UTC).replace(microsecond=0).isoformat(),
               "entry": entries}
    return {"resourceType": "Parameters", "parameter": [{"name": "PackageBundle", "resource": package}]}


def read_subject(params: list[dict]) -> dict:
    """$populate `subject`: a valueReference to a Patient."""
    subject = next((p.get("valueReference") for p in params if p["name"] == "subject"), None)
    ref = obj(subject).get("reference")
    if not isinstance(ref, str) or not ref.startswith("Patient/") or len(ref) <= len("Patient/"):
        raise invalid(problem("Parameters.parameter[subject].valueReference", "must reference a Patient"))
    return {"reference": ref}


def given_chart(params: list[dict]) -> list[dict]:
    """The chart sent in the call: `content`, or `context` parts carrying resources (Bundles opened)."""
    given = resources_named(params, "content") + [
        part["resource"] for p in params if p["name"] == "context"
        for part in objs(p.get("part")) if isinstance(part.get("resource"), dict)]
    return flatten_all(given)


def find_questionnaire(qid: str) -> tuple[Policy, dict]:
    questionnaire = questionnaires().get(qid)
    policy = next((p for p in all_policies().values() if canonical.questionnaire_id(p) == qid), None)
    if questionnaire is None or policy is None:
        raise not_found(f"Questionnaire/{qid}")
    return policy, questionnaire


def populate(qid: str, params: list[dict], chart: list[dict], today: date) -> dict:
    """SDC $populate: Parameters `response`, a QuestionnaireResponse whose chart answers carry origin `auto`."""
    policy, questionnaire = find_questionnaire(qid)
    subject = read_subject(params)
    found = prefill_with_evidence(chart, concepts_used(policy), today)
    response = build_draft_response(policy, questionnaire, {c: v for c, (v, _) in found.items()}, subject=subject,
                                    contexts=[subject], evidence={c: e for c, (_, e) in found.items()})
    return {"resourceType": "Parameters", "parameter": [{"name": "response", "resource": response}]}


def ehr_access(params: list[dict]) -> tuple[str, str] | None:
    """(fhirServer, token) when the call asks us to read the chart from the EHR, else None."""
    servers = strings_named(params, "fhirServer", "valueUrl") + strings_named(params, "fhirServer", "valueUri")
    tokens = strings_named(params, "fhirAuthorization", "valueString")
    if not servers:
        return None
    if not tokens:
        raise invalid(problem("Parameters.parameter[fhirAuthorization]",
                              "fetching the chart from fhirServer needs the bearer token (valueString)"))
    return servers[0], tokens[0]


# The SDC launch contexts $populate reads from the EHR, and the types each may name (SDC "launchContext";
# DTR: the order is a CRD order type). A `user` of another type (a Patient filling in) is no prescriber.
LAUNCH_TYPES = {"user": ("PractitionerRole", "Practitioner", "Patient", "RelatedPerson"),
                "encounter": ("Encounter",),
                "order": ("MedicationRequest", "ServiceRequest", "DeviceRequest", "NutritionOrder",
                          "VisionPrescription", "CommunicationRequest")}


def read_launch_context(params: list[dict]) -> dict[str, list[str]]:
    """SDC $populate `context` parts (`name`, `content` Reference) for user, encounter and order: 'Type/id'
    by name; a reference that is not a relative Type/[id] of an allowed type is a 422 naming it."""
    found: dict[str, list[str]] = {}
    for n, param in enumerate(p for p in params if p["name"] == "context"):
        parts = objs(param.get("part"))
        name = next((text_of(part.get("valueString") or part.get("valueCode")) for part in parts
                     if part.get("name") == "name"), "")
        if name not in LAUNCH_TYPES:
            continue  # other contexts (the chart as resources, a custom name) are not references we read
        for part in parts:
            if part.get("name") != "content" or "valueReference" not in part:
                continue
            ref = obj(part["valueReference"]).get("reference")
            kind, _, rid = ref.partition("/") if isinstance(ref, str) else ("", "", "")
            if kind not in LAUNCH_TYPES[name] or not is_fhir_id(rid):
                raise invalid(problem(f"Parameters.parameter[context][{n}].part[content].valueReference.reference",
                                      f"a {name} context must reference {' or '.join(LAUNCH_TYPES[name])}/[id]"))
            found.setdefault(name, []).append(f"{kind}/{rid}")
    return found


def ehr_chart_reads(params: list[dict]) -> tuple[list[ChartQuery], dict[str, str | None]]:
    """What $populate reads from fhirServer: CRD's chart queries filled from the subject and the launch
    context (the user's PractitionerRole, the Encounter), plus each order named in context."""
    patient_id = read_subject(params)["reference"].split("/", 1)[1]
    if not is_fhir_id(patient_id):
        raise invalid(problem("Parameters.parameter[subject].valueReference", "must reference a Patient by FHIR id"))
    launch = read_launch_context(params)
    user = next(iter(launch.get("user", [])), None)
    encounter = next((r.split("/", 1)[1] for r in launch.get("encounter", [])), None)
    orders = [ChartQuery(ref, ref) for ref in dict.fromkeys(launch.get("order", []))]
    return [*CHART_QUERIES, ENCOUNTER_QUERY, *orders], prefetch_tokens(patient_id, user, encounter)


def unique_resources(resources: list[dict]) -> list[dict]:
    """Each Type/id once (an order named in context is also among the patient's MedicationRequests)."""
    seen: set[str] = set()
    out = []
    for r in resources:
        key = f"{r.get('resourceType')}/{r.get('id')}" if isinstance(r.get("id"), str) else None
        if key is None or key not in seen:
            out.append(r)
            if key:
                seen.add(key)
    return out


__all__ = ["build_package", "ehr_access", "ehr_chart_reads", "given_chart", "populate", "read_launch_context",
           "read_parameters", "read_subject", "unique_resources"]
