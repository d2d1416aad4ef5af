"""Answer typing: raw values keyed by concept -> engine values, or the problems that stop scoring."""
from __future__ import annotations

from collections.abc import Mapping

from service.policies.concepts import ANSWER_TYPES, CODING, CONCEPTS


def check_answer(code: str, value: object) -> str | None:
    """The problem with one answer for its concept's declared type, or None if it fits."""
    concept = CONCEPTS.get(code)
    if concept is None:
        return f"unknown pa-criteria concept {code!r}"
    kind = concept.answer_type
    if not ANSWER_TYPES[kind].accepts(value):
        return f"{code}: expected a {kind} answer, got {str(value)[:40]!r}"
    if kind == CODING and value not in dict(concept.options):
        allowed = ", ".join(c for c, _ in concept.options)
        return f"{code}: {str(value)[:40]!r} is not one of {allowed}"
    if concept.minimum is not None and value < concept.minimum:  # type: ignore[operator]
        return f"{code}: {value!r} is below {concept.minimum:g}, which no patient can have"
    if concept.maximum is not None and value > concept.maximum:  # type: ignore[operator]
        return f"{code}: {value!r} is above {concept.maximum:g}, which no patient can have"
    return None


def read_answers(raw: Mapping[str, object]) -> tuple[dict[str, object], list[str]]:
    """Type-check every answer; returns (answers, problems). Nothing is guessed or coerced."""
    problems = [p for code, value in raw.items() if value is not None
                for p in [check_answer(code, value)] if p]
    answers = {code: value for code, value in raw.items() if value is not None}
    return (answers if not problems else {}), problems
