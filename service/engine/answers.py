"""Answer typing: raw values keyed by concept -> engine values, or the problems that stop scoring."""
from __future__ import annotations

from collections.abc import Mapping

from service.policies.concepts import BOOLEAN, CODING, DECIMAL, INTEGER, CONCEPTS


def check_answer(code: str, value: object) -> str | None:
    """The problem with one answer for its concept's declared type, or None if it fits."""
    concept = CONCEPTS.get(code)
    if concept is None:
        return f"unknown pa-criteria concept {code!r}"
    kind = concept.answer_type
    ok = {
        INTEGER: isinstance(value, int) and not isinstance(value, bool),
        DECIMAL: isinstance(value, (int, float)) and not isinstance(value, bool),
        BOOLEAN: isinstance(value, bool),
        CODING: isinstance(value, str) and value in dict(concept.options),
    }[kind]
    if ok:
        return None
    if kind == CODING:
        allowed = ", ".join(c for c, _ in concept.options)
        return f"{code}: {value!r} is not one of {allowed}"
    return f"{code}: expected a {kind} answer, got {value!r}"


def read_answers(raw: Mapping[str, object]) -> tuple[dict[str, object], list[str]]:
    """Type-check every answer; returns (answers, problems). Nothing is guessed or coerced."""
    problems = [p for code, value in raw.items() if value is not None
                for p in [check_answer(code, value)] if p]
    answers = {code: value for code, value in raw.items() if value is not None}
    return (answers if not problems else {}), problems
