"""The criterion vocabulary of CONTRACT.md: one table every other part derives from."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

SYSTEM = "http://example.org/fhir/CodeSystem/pa-criteria"

INTEGER, DECIMAL, BOOLEAN, CODING = "integer", "decimal", "boolean", "coding"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class AnswerType:
    """How one kind of answer is asked (Questionnaire.item.type), carried (QuestionnaireResponse
    answer value[x]) and held by the engine (a Python value the check accepts)."""

    item_type: str
    value_key: str
    accepts: Callable[[object], bool]
    also_read: tuple[str, ...] = ()  # other value[x] keys a response may use for it


# The answer-type registry: one row per kind; adding an answer type is one row here.
ANSWER_TYPES: dict[str, AnswerType] = {
    INTEGER: AnswerType("integer", "valueInteger", _is_int),
    DECIMAL: AnswerType("decimal", "valueDecimal", _is_number, ("valueInteger",)),  # 5 answers "percent"
    BOOLEAN: AnswerType("boolean", "valueBoolean", lambda v: isinstance(v, bool)),
    CODING: AnswerType("choice", "valueCoding", lambda v: isinstance(v, str)),  # the engine holds the code
}


@dataclass(frozen=True)
class Concept:
    """One criterion concept: item code, answer key, scoring key and reason code at once."""

    code: str
    display: str
    answer_type: str
    question: str
    options: tuple[tuple[str, str], ...] = ()
    # Answer codes that record "we do not know" rather than a fact (CONTRACT: ph-status
    # `unknown`, cd22-status `not-tested`); the engine scores them as unknown, never as met.
    unknown_codes: frozenset[str] = field(default_factory=frozenset)
    # Name of the CQL define (and Python equivalent) that prefills it, if the chart can.
    cql_define: str | None = None
    # Whether a Questionnaire may hide other questions behind this answer (enableWhen). A CD22
    # result does not: the form should gather everything else while a test is pending.
    gates_questions: bool = True
    # The values that can be true of a patient: outside them an answer is refused, never scored.
    minimum: float | None = None
    maximum: float | None = None

    def option_display(self, code: str) -> str:
        return dict(self.options).get(code, code)


_CONCEPTS = (
    Concept("age-years", "Patient age in years", INTEGER,
            "Patient's age in whole years", cql_define="AgeInYears", minimum=0, maximum=130),
    Concept("diagnosis", "Indication", CODING, "Indication for inotuzumab ozogamicin", (
        ("b-all", "B-cell precursor acute lymphoblastic leukemia (B-ALL)"),
        ("lbl", "B-lymphoblastic lymphoma"),
        ("nhl-other", "Other non-Hodgkin lymphoma (DLBCL, follicular, mantle cell, Burkitt...)"),
        ("other-cancer", "Another cancer"),
        ("non-cancer", "Not a cancer"),
    ), cql_define="Diagnosis"),
    Concept("disease-status", "Disease status", CODING, "Phase of disease", (
        ("relapsed", "Relapsed"),
        ("refractory", "Refractory"),
        ("newly-diagnosed", "Newly diagnosed (frontline)"),
        ("mrd-positive-consolidation",
         "Persistent or rising MRD during frontline consolidation"),
    ), cql_define="DiseaseStatus"),
    Concept("cd22-status", "CD22 status", CODING,
            "CD22 on the blasts, confirmed by testing", (
                ("positive", "Positive"),
                ("negative", "Negative"),
                ("not-tested", "Not tested"),
            ), unknown_codes=frozenset({"not-tested"}), cql_define="CD22Status",
            gates_questions=False),
    Concept("cd22-percent", "CD22-positive blasts (%)", DECIMAL,
            "Percent of blasts that are CD22-positive", cql_define="CD22Percent", minimum=0, maximum=100),
    Concept("ph-status", "Philadelphia chromosome status", CODING,
            "Philadelphia chromosome (BCR-ABL1) status", (
                ("positive", "Positive"),
                ("negative", "Negative"),
                ("unknown", "Unknown"),
            ), unknown_codes=frozenset({"unknown"}), cql_define="PhStatus"),
    Concept("tki-failed", "TKI intolerant or refractory", BOOLEAN,
            "Intolerant of or refractory to at least one tyrosine kinase inhibitor",
            cql_define="TKIFailed"),
    Concept("chemo-failed", "Failed standard chemotherapy", BOOLEAN,
            "Failed standard chemotherapy"),
    Concept("regimen", "Regimen", CODING, "How inotuzumab ozogamicin will be given", (
        ("single-agent", "Single agent"),
        ("with-tki", "In combination with a tyrosine kinase inhibitor"),
        ("mini-hyper-cvd", "With mini-hyper-CVD"),
        ("mini-hyper-cvd-blinatumomab", "With mini-hyper-CVD and blinatumomab"),
        ("all-initial-1", "ALL-INITIAL-1 (inotuzumab ozogamicin, dexamethasone)"),
        ("alliance-a041703", "ALLIANCE A041703"),
        ("other", "Other"),
    )),
    Concept("cycles", "Treatment cycles", INTEGER,
            "Total treatment cycles of inotuzumab ozogamicin requested", minimum=1, maximum=100),
    Concept("prescriber-oncologist", "Oncologist prescriber", BOOLEAN,
            "Prescribed by or in consultation with an oncologist",
            cql_define="PrescriberIsOncologist"),
    Concept("substantial-comorbidities", "Substantial comorbidities", BOOLEAN,
            "Patient has substantial comorbidities"),
    Concept("request-type", "Request type", CODING, "Is this a first authorization or a renewal?", (
        ("initial", "Initial authorization"),
        ("continuation", "Continuation (renewal)"),
    )),
    Concept("disease-progression", "Disease progression", BOOLEAN,
            "Has the disease progressed on the current regimen?"),
    Concept("unacceptable-toxicity", "Unacceptable toxicity", BOOLEAN,
            "Has the patient had unacceptable toxicity on the current regimen?"),
    Concept("attest-liver-tests", "Liver test attestation", BOOLEAN,
            "I will obtain ALT, AST, total bilirubin and alkaline phosphatase before and "
            "after each dose"),
    Concept("attest-vod-monitoring", "VOD monitoring attestation", BOOLEAN,
            "I will monitor for signs and symptoms of hepatic veno-occlusive disease"),
    Concept("attest-no-alkylating-conditioning", "No alkylating conditioning attestation",
            BOOLEAN,
            "I will not add HSCT conditioning regimens containing alkylating agents"),
)

CONCEPTS: dict[str, Concept] = {c.code: c for c in _CONCEPTS}


def get_concept(code: str) -> Concept:
    """Look a concept up by its pa-criteria code; KeyError names the unknown code."""
    try:
        return CONCEPTS[code]
    except KeyError:
        raise KeyError(f"unknown pa-criteria concept {code!r}") from None


def answer_codes() -> dict[str, str]:
    """Every answer code used by a coded concept, with its first display (CodeSystem rows)."""
    codes: dict[str, str] = {}
    for concept in _CONCEPTS:
        for code, display in concept.options:
            codes.setdefault(code, display)
    return codes
