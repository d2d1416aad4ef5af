"""Before a submit: the required questions still open, and whether the payer reviews an incomplete request."""
from __future__ import annotations

from service.fhir.json import obj, objs, text_of
from service.policies.model import Policy

# Payers whose policy says they take a request with answers missing and ask for the rest (the policy's own
# sentence): only there does the form offer "submit anyway for review". Each sentence is checked against
# the declaration's documentation (tests/smart/test_pages.py), so a policy change cannot leave it stale.
REVIEWS_INCOMPLETE = {
    "bcbsnc": "BCBSNC may request medical records for determination of medical necessity.",
}


def condition_met(condition: dict, answers: dict[str, object]) -> bool:
    """One SDC enableWhen condition as our Questionnaires write it: '=' (or '!=', 'exists') on a coded or
    boolean answer."""
    operator = condition.get("operator", "=")
    given = answers.get(text_of(condition.get("question")))
    if operator == "exists":
        return (given is not None) == (condition.get("answerBoolean") is True)
    expected = condition["answerBoolean"] if "answerBoolean" in condition else \
        text_of(obj(condition.get("answerCoding")).get("code"))
    if operator == "=":
        return given is not None and given == expected
    return operator == "!=" and given is not None and given != expected


def is_enabled(item: dict, answers: dict[str, object]) -> bool:
    """SDC enableWhen with enableBehavior (all when absent); no condition means always shown."""
    conditions = objs(item.get("enableWhen"))
    if not conditions:
        return True
    hits = [condition_met(c, answers) for c in conditions]
    return any(hits) if item.get("enableBehavior") == "any" else all(hits)


def shown_questions(items: list[dict], answers: dict[str, object]) -> list[dict]:
    """The questions a person sees with these answers: enabled ones, inside enabled groups."""
    out: list[dict] = []
    for item in objs(items):
        if item.get("type") == "display" or not is_enabled(item, answers):
            continue
        if item.get("type") == "group":
            out += shown_questions(objs(item.get("item")), answers)
        else:
            out.append(item)
    return out


def missing_required(questionnaire: dict, answers: dict[str, object]) -> list[dict[str, str]]:
    """The required questions shown and still unanswered (FHIR Questionnaire.item.required), in form order."""
    return [{"linkId": item["linkId"], "text": text_of(item.get("text"))}
            for item in shown_questions(objs(questionnaire.get("item")), answers)
            if item.get("required") and item["linkId"] not in answers]


def required_count(questionnaire: dict, answers: dict[str, object]) -> tuple[int, int]:
    """(answered, total) of the required questions shown: the form's "n of m answered"."""
    required = [i for i in shown_questions(objs(questionnaire.get("item")), answers) if i.get("required")]
    return sum(1 for i in required if i["linkId"] in answers), len(required)


def incomplete_rule(policy: Policy) -> dict[str, object]:
    """Whether the payer reviews a request with required answers missing, and the words that say so."""
    name = policy.payer_name
    if policy.payer_id in REVIEWS_INCOMPLETE:
        return {"allowed": True, "words": f"{name} reviews a request with answers missing and asks you for the "
                f"rest (its policy: “{REVIEWS_INCOMPLETE[policy.payer_id]}”). The decision waits until you "
                "answer; you will see what it asks for on the next page."}
    return {"allowed": False, "words": f"The {name} policy describes no review of a request with required "
            "answers missing. Answer them to submit."}
