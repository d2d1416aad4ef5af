"""SDC adaptive $next-question: ask only what can still change the decision, then complete."""
from __future__ import annotations

from service.dtr.artifacts import questionnaires
from service.engine.answers import read_answers
from service.engine.evaluate import open_concepts
from service.errors import invalid, problem
from service.fhir.json import objs, text_of
from service.fhir.responses import iter_items, read_response_answers
from service.policies import canonical
from service.policies.registry import all_policies

ADAPTIVE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-adapt"


def unwrap(body: object) -> dict:
    """A bare QuestionnaireResponse, or Parameters with `questionnaire-response` (SDC)."""
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        body = next((p.get("resource") for p in objs(body.get("parameter"))
                     if p.get("name") == "questionnaire-response"), None)
    if not isinstance(body, dict) or body.get("resourceType") != "QuestionnaireResponse":
        raise invalid(problem("resourceType", "give a QuestionnaireResponse, bare or as Parameters "
                                              "questionnaire-response"))
    return body


def item_problems(items: object, path: str) -> list:
    """Each item list that is not a list of objects, and each linkId that is not a string, by path."""
    problems, stack = [], [(items, path)]
    while stack:
        value, where = stack.pop()
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
            problems.append(problem(where, "must be a list of items (objects)"))
            continue
        for n, item in enumerate(value):
            at = f"{where}[{n}]"
            if not isinstance(item.get("linkId"), str):
                problems.append(problem(f"{at}.linkId", "must be a string"))
            stack.append((item.get("item"), f"{at}.item"))
            answers = item.get("answer")
            if answers is not None and not isinstance(answers, list):
                problems.append(problem(f"{at}.answer", "must be a list"))
            stack.extend((a.get("item"), f"{at}.answer[{k}].item") for k, a in enumerate(objs(answers)))
    return problems


def check_shape(qr: dict) -> None:
    """The elements $next-question reads must have their FHIR JSON types (SDC next-question input):
    a 422 naming each one, never an answer built from half a response."""
    problems = item_problems(qr.get("item"), "QuestionnaireResponse.item")
    contained = qr.get("contained")
    if contained is not None and not (isinstance(contained, list) and all(isinstance(c, dict) for c in contained)):
        problems.append(problem("QuestionnaireResponse.contained", "must be a list of resources"))
    for n, resource in enumerate(objs(contained)):
        derived = resource.get("derivedFrom")
        if derived is not None and not (isinstance(derived, list) and all(isinstance(d, str) for d in derived)):
            problems.append(problem(f"QuestionnaireResponse.contained[{n}].derivedFrom", "must be a list of canonicals"))
    questionnaire = qr.get("questionnaire")
    if questionnaire is not None and not isinstance(questionnaire, str):
        problems.append(problem("QuestionnaireResponse.questionnaire", "must be a canonical (string)"))
    if problems:
        raise invalid(problems)


def policy_of(qr: dict):
    """The payer Questionnaire the adaptive session derives from (QR.questionnaire or contained)."""
    names = [text_of(qr.get("questionnaire"))]
    names += [text_of(d) for c in objs(qr.get("contained")) for d in c.get("derivedFrom") or ()]
    for name in names:
        policy = canonical.policy_for_questionnaire(name, all_policies())
        if policy:
            return policy
    raise invalid(problem("QuestionnaireResponse.questionnaire", "names no Questionnaire served here"))


def next_question(body: object) -> dict:
    """Return the response with the next question added, or completed once decided."""
    qr = unwrap(body)
    check_shape(qr)
    policy = policy_of(qr)
    raw, problems = read_response_answers(qr)
    answers, type_problems = read_answers(raw)
    if problems or type_problems:
        raise invalid(problems + type_problems)
    full = {i["linkId"]: i for i in iter_items(questionnaires()[canonical.questionnaire_id(policy)]["item"])}
    asked = {text_of(i.get("linkId")) for i in iter_items(qr.get("item"))}
    pending = [c for c in open_concepts(policy, answers) if c not in asked]
    shown = [full[c] for c in full if c in asked or c in pending[:1]]  # in the form's order
    contained = {"resourceType": "Questionnaire", "id": "adaptive", "meta": {"profile": [ADAPTIVE]},
                 "url": f"{canonical.questionnaire_url(policy)}/adaptive", "status": "active",
                 "subjectType": ["Patient"], "derivedFrom": [canonical.questionnaire_canonical(policy)],
                 "item": [{k: v for k, v in i.items() if k not in ("enableWhen", "enableBehavior")} for i in shown
                          if i.get("type") not in ("group", "display")]}
    return {**qr, "contained": [contained], "questionnaire": "#adaptive",
            "status": "in-progress" if pending else "completed"}
