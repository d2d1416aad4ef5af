"""Reading a QuestionnaireResponse into answers keyed by concept (linkId == pa-criteria code)."""
from __future__ import annotations

from service.policies.concepts import BOOLEAN, CODING, CONCEPTS, DECIMAL, INTEGER, SYSTEM

_VALUE_KEYS = {INTEGER: "valueInteger", DECIMAL: "valueDecimal", BOOLEAN: "valueBoolean",
               CODING: "valueCoding"}


def iter_items(items: list[dict] | None):
    """Every item of a response, nested groups and answer children included (SDC nesting)."""
    for item in items or ():
        if not isinstance(item, dict):
            continue
        yield item
        yield from iter_items(item.get("item"))
        for answer in item.get("answer") or ():
            if isinstance(answer, dict):
                yield from iter_items(answer.get("item"))


def read_answer(code: str, item: dict) -> tuple[object, str | None]:
    """One item's answer as an engine value, or the problem with it; (None, None) if unanswered."""
    raw = item.get("answer")
    if raw is None:
        return None, None
    if not isinstance(raw, list) or not all(isinstance(a, dict) for a in raw):
        return None, f"{code}: answer must be an array of answer objects"
    answers = raw
    if not answers:
        return None, None
    if len(answers) > 1:
        return None, f"{code}: expected one answer, got {len(answers)}"
    kind = CONCEPTS[code].answer_type
    answer, key = answers[0], _VALUE_KEYS[kind]
    if key not in answer:
        if kind == DECIMAL and "valueInteger" in answer:  # 5 is a fine answer to "percent"
            return answer["valueInteger"], None
        given = next((k for k in answer if k.startswith("value")), "no value")
        return None, f"{code}: expected {key}, got {given}"
    value = answer[key]
    if kind == CODING:
        if not isinstance(value, dict):
            return None, f"{code}: valueCoding must be an object"
        if value.get("system") not in (None, SYSTEM):
            return None, f"{code}: coding system must be {SYSTEM}"
        return value.get("code"), None
    return value, None


def read_response_answers(response: dict) -> tuple[dict[str, object], list[str]]:
    """Answers by concept code from a QuestionnaireResponse, plus every problem found."""
    raw: dict[str, object] = {}
    problems: list[str] = []
    for item in iter_items(response.get("item")):
        code = item.get("linkId")
        if code not in CONCEPTS:
            continue  # signatures, display groups and unrelated items carry no criterion
        value, problem = read_answer(code, item)
        if problem:
            problems.append(problem)
        elif value is not None:
            if code in raw and raw[code] != value:
                problems.append(f"{code}: answered twice with different values")
            raw[code] = value
    return raw, problems
