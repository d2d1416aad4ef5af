"""DTR $questionnaire-package and SDC $populate: pure functions from Parameters to resources."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from service.engine.prefill import prefill_bundle
from service.dtr.artifacts import libraries, questionnaires
from service.dtr.response import build_draft_response
from service.fhir.coverage import payer_of_coverage
from service.policies import canonical
from service.policies.model import Policy, concepts_used
from service.policies.registry import all_policies, get_policy

DTR_PACKAGE_BUNDLE = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/DTR-QPackageBundle"


class OperationError(Exception):
    def __init__(self, status: int, problems: list[str]):
        super().__init__("; ".join(problems))
        self.status, self.problems = status, problems


def read_parameters(body: object) -> list[dict]:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise OperationError(422, ["the body must be a FHIR Parameters resource"])
    params = body.get("parameter") or []
    if not isinstance(params, list) or not all(isinstance(p, dict) and p.get("name") for p in params):
        raise OperationError(422, ["Parameters.parameter must be a list of named parameters"])
    return params


def resources_named(params: list[dict], name: str) -> list[dict]:
    return [p["resource"] for p in params if p["name"] == name and isinstance(p.get("resource"), dict)]


def values_named(params: list[dict], name: str, key: str) -> list:
    return [p[key] for p in params if p["name"] == name and key in p]


def chart_bundle(resources: list[dict]) -> dict:
    """One bundle of chart resources (Bundles given are opened up)."""
    entries = []
    for r in resources:
        inner = [e.get("resource") for e in r.get("entry") or ()] if r.get("resourceType") == "Bundle" else [r]
        entries += [{"resource": x} for x in inner if isinstance(x, dict)]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def choose_policy(coverages: list[dict], canonicals: list[str], known: dict[str, dict]) -> Policy:
    """The payer from the Coverage and/or the requested Questionnaire; they must agree."""
    policies = all_policies()
    from_coverage = {payer_of_coverage(c, known) for c in coverages}
    if None in from_coverage:
        raise OperationError(400, ["a Coverage's payer is not one this service serves (CONTRACT: Payers)"])
    from_canonical = set()
    for url in canonicals:
        policy = canonical.policy_for_questionnaire(url, policies)
        if policy is None:
            raise OperationError(422, [f"no Questionnaire {url!r} is served here"])
        from_canonical.add(policy.payer_id)
    chosen = from_coverage | from_canonical
    if not chosen:
        raise OperationError(422, ["give a coverage or a questionnaire canonical to choose a payer"])
    if len(chosen) > 1:
        raise OperationError(422, [f"the coverage and questionnaire name different payers: {sorted(chosen)}"])
    return get_policy(chosen.pop())


def build_package(body: object, today: date) -> dict:
    """DTR $questionnaire-package: Parameters with one PackageBundle (Questionnaire first)."""
    params = read_parameters(body)
    coverages, orders = resources_named(params, "coverage"), resources_named(params, "order")
    referenced = resources_named(params, "referenced")
    known = {f"{r.get('resourceType')}/{r.get('id')}": r for r in referenced + coverages + orders}
    policy = choose_policy(coverages, values_named(params, "questionnaire", "valueCanonical"), known)
    questionnaire = questionnaires()[canonical.questionnaire_id(policy)]
    library = libraries()[canonical.library_id(policy)]
    chart = chart_bundle(referenced)
    answers = prefill_bundle(chart, concepts_used(policy), today) if chart["entry"] else {}
    subject = next(((o.get("subject") or c.get("beneficiary")) for o in orders or [{}] for c in coverages or [{}]
                    if (o.get("subject") or c.get("beneficiary"))), None)
    contexts = [{"reference": f"{o['resourceType']}/{o['id']}"} for o in orders if o.get("id")]
    contexts += [{"reference": f"Coverage/{c['id']}"} for c in coverages if c.get("id")]
    assertion = values_named(params, "context", "valueString")
    if assertion:
        contexts.append({"display": f"coverage-assertion-id {assertion[0]}"})
    entries = [{"fullUrl": f"{canonical.CANONICAL_BASE}/Questionnaire/{questionnaire['id']}",
                "resource": questionnaire},
               {"fullUrl": f"{canonical.CANONICAL_BASE}/Library/{library['id']}", "resource": library}]
    if subject:  # a draft needs its patient (DTR QuestionnaireResponse: subject 1..1)
        draft = build_draft_response(policy, questionnaire, answers, subject=subject, contexts=contexts)
        entries.append({"fullUrl": f"urn:uuid:{draft['id']}", "resource": draft})
    package = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "meta": {"profile": [DTR_PACKAGE_BUNDLE]},
               "type": "collection", "timestamp": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
               "entry": entries}
    return {"resourceType": "Parameters", "parameter": [{"name": "PackageBundle", "resource": package}]}


def populate(qid: str, body: object, today: date, chart: dict | None = None) -> dict:
    """SDC $populate: a QuestionnaireResponse whose chart-derived answers carry origin `auto`."""
    questionnaire = questionnaires().get(qid)
    if questionnaire is None:
        raise OperationError(404, [f"Questionnaire/{qid} is not known"])
    params = read_parameters(body)
    subject = next(iter(values_named(params, "subject", "valueReference")), None)
    if not isinstance(subject, dict) or not str(subject.get("reference", "")).startswith("Patient/"):
        raise OperationError(422, ["subject must be a valueReference to a Patient"])
    if chart is None:
        given = resources_named(params, "content") + [
            part["resource"] for p in params if p["name"] == "context"
            for part in p.get("part") or () if isinstance(part, dict) and isinstance(part.get("resource"), dict)]
        if not given:
            raise OperationError(422, ["give the patient's chart as a context/content Bundle, "
                                       "or fhirServer and fhirAuthorization to fetch it"])
        chart = chart_bundle(given)
    policy = next(p for p in all_policies().values() if canonical.questionnaire_id(p) == qid)
    answers = prefill_bundle(chart, concepts_used(policy), today)
    return build_draft_response(policy, questionnaire, answers, subject=subject,
                                contexts=[{"reference": subject["reference"]}])
