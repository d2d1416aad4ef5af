"""SDC adaptive $next-question: ask only what can still change the decision, then complete."""
from __future__ import annotations

from service.dtr.artifacts import questionnaires
from service.engine.answers import read_answers
from service.engine.evaluate import open_concepts
from service.errors import invalid, problem
from service.fhir.json import listed, objs, text_of
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


def policy_of(qr: dict):
    """The payer Questionnaire the adaptive session derives from (QR.questionnaire or contained)."""
    names = [text_of(qr.get("questionnaire"))]
    names += [text_of(d) for c in objs(qr.get("contained")) for d in listed(c.get("derivedFrom"))]
    for name in names:
        policy = canonical.policy_for_questionnaire(name, all_policies())
        if policy:
            return policy
    raise invalid(problem("QuestionnaireResponse.questionnaire", "names no Questionnaire served here"))



def next_question(body: object) -> dict:
    """Return the response with the next question added, or completed once decided."""
    qr = unwrap(body)
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
