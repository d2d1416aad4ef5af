"""Reading a QuestionnaireResponse into answers keyed by concept (linkId == pa-criteria code)."""
from __future__ import annotations

from collections.abc import Iterator

from service.fhir.json import objs
from service.policies.concepts import ANSWER_TYPES, CODING, CONCEPTS, SYSTEM

# DTR 2.0.1 information-origin on each answer (auto, override, manual): dtr/response.py writes it,
# the reviewer desk reads it.
INFORMATION_ORIGIN = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin"
# Beside DTR's information-origin on a prefilled answer: the chart entry it came from (our extension,
# since information-origin's `source` takes no sub-extensions). Written by dtr/response.py.
PREFILL_EVIDENCE = "http://example.org/fhir/StructureDefinition/prefill-evidence"


def iter_items(items: object) -> Iterator[dict]:
    """Every item of a response, nested groups and answer children included (SDC nesting).

    Iterative, and junk of the wrong JSON type is skipped: the body reader bounds the depth.
    """
    stack = list(reversed(objs(items)))
    while stack:
        item = stack.pop()
        yield item
        children = objs(item.get("item")) + [c for a in objs(item.get("answer")) for c in objs(a.get("item"))]
        stack.extend(reversed(children))


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
    answer, key = answers[0], ANSWER_TYPES[kind].value_key
    if key not in answer:
        also = next((k for k in ANSWER_TYPES[kind].also_read if k in answer), None)
        if also is not None:
            return answer[also], None
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
        if not isinstance(code, str) or code not in CONCEPTS:
            continue  # signatures, display groups and unrelated items carry no criterion
        value, problem = read_answer(code, item)
        if problem:
            problems.append(problem)
        elif value is not None:
            if code in raw and raw[code] != value:
                problems.append(f"{code}: answered twice with different values")
            raw[code] = value
    return raw, problems
